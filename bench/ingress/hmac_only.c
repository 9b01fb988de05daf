/* The ceiling for bench/ingress: the same HTTP server and signature check as
 * envgate-ingress, and nothing else (no parsing, no Kafka): answers 202 when
 * the signature verifies, 401 otherwise. */
#include "eg/error.h"
#include "eg/http_server.h"
#include "eg/process.h"
#include "eg/signature.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void on_webhook(eg_http_req_t *req, void *ud) {
  const eg_signature_verifier_t *sv = ud;
  const char *sig = eg_http_req_header(req, "X-Hub-Signature-256");
  size_t len;
  const char *body = eg_http_req_body(req, &len);

  if (sig != NULL && eg_signature_verify(sv, sig, body, len, NULL) == EG_OK)
    eg_http_respond(req, 202, NULL, NULL, 0);
  else
    eg_http_respond_error(req, 401, "invalid_signature", "bad signature");
}

int main(void) {
  const char *secret = getenv("ENVGATE_WEBHOOK_SECRET");
  const char *listen = getenv("BENCH_LISTEN");
  eg_signature_verifier_t *sv = NULL;
  eg_http_server_t *srv = NULL;
  eg_http_options_t opts = {.threads = 2, .connection_limit = 4096};
  char err[EG_ERRBUF_LEN];

  if (secret == NULL || listen == NULL) {
    fprintf(stderr, "bench-hmac-only: error: set ENVGATE_WEBHOOK_SECRET and "
                    "BENCH_LISTEN\n");
    return EG_EXIT_USAGE;
  }
  if (eg_signature_verifier_new(&secret, 1, &sv, err, sizeof(err)) != EG_OK ||
      eg_http_server_new(listen, &opts, &srv, err, sizeof(err)) != EG_OK ||
      eg_http_server_route(srv, "POST", "/webhook", on_webhook, sv) != EG_OK ||
      eg_http_server_start(srv, err, sizeof(err)) != EG_OK) {
    fprintf(stderr, "bench-hmac-only: error: %s\n", err);
    return EG_EXIT_FAILURE;
  }
  eg_process_install_signals();
  printf("listening %s\n", listen);
  fflush(stdout);
  while (!eg_process_stop_requested()) {
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
  }
  eg_http_server_free(srv);
  eg_signature_verifier_free(sv);
  return EG_EXIT_OK;
}

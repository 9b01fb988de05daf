/* envgate-ingress over real processes: the contract's HTTP answers, exact
 * bytes and headers in Kafka, secret rotation, Kafka outages, slow clients
 * and SIGTERM under load. */
#include "harness/harness.h"
#include "harness/stack.h"

#include "eg/error.h"
#include "eg/signature.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define SECRET     "it-ingress-secret-0123456789abcdef"
#define OLD_SECRET "it-ingress-old-secret-fedcba9876543210"
#define DELIVERY   "72d3162e-cc78-11e3-81ab-4c9367dc0958"
#define EVENT      "deployment_protection_rule"

struct stack {
  eg_it_devbroker_t db;
  eg_it_proc_t *ingress;
  char base[64]; /* http://127.0.0.1:port */
  char *body;    /* realistic payload */
  size_t body_len;
};

static void start_stack(eg_it_t *it,
                        struct stack *st,
                        const char *secrets,
                        const char *extra_env) {
  const char *secret_path = NULL;
  char brokers[512], secret_env[512];
  const char *argv[] = {"envgate-ingress", NULL};
  const char *env[] = {brokers,
                       secret_env,
                       "ENVGATE_LISTEN=127.0.0.1:0",
                       "ENVGATE_LOG_LEVEL=debug",
                       extra_env,
                       NULL};
  eg_it_spawn_opts_t o = {.name = "ingress",
                          .argv = argv,
                          .env = env,
                          .ready_log = "\"msg\":\"listening\""};
  char *path = NULL;
  int port;

  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &st->db));
  EG_IT_MUST(it, eg_it_write_file(it, "webhook-secret", secrets,
                                  strlen(secrets), &secret_path));
  snprintf(brokers, sizeof(brokers), "ENVGATE_KAFKA_BROKERS=%s",
           st->db.bootstrap);
  snprintf(secret_env, sizeof(secret_env), "ENVGATE_WEBHOOK_SECRET_FILE=%s",
           secret_path);
  EG_IT_MUST(it, eg_it_spawn(it, &o, &st->ingress));
  port = eg_it_proc_log_port(st->ingress, "listening");
  assert_true(port > 0);
  snprintf(st->base, sizeof(st->base), "http://127.0.0.1:%d", port);
  if (asprintf(&path,
               "%s/tests/data/"
               "deployment_protection_rule.requested.realistic.json",
               EG_SOURCE_DIR) < 0)
    fail();
  EG_IT_MUST(it, eg_it_read_file(it, path, &st->body, &st->body_len));
  free(path);
}

static void stop_stack(eg_it_t *it, struct stack *st) {
  int status = -1;

  EG_IT_MUST(it, eg_it_proc_stop(st->ingress, 20000, &status));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  free(st->body);
}

/* POSTs body to /webhook signed with secret (NULL: no signature header). */
static long post(eg_it_t *it,
                 const char *base,
                 const char *secret,
                 const char *event,
                 const char *delivery,
                 const void *body,
                 size_t len,
                 char *resp_body,
                 size_t resp_len) {
  char url[128], sig[EG_SIGNATURE_HEADER_SIZE], sig_h[128], ev_h[128],
      dl_h[128];
  const char *headers[6];
  size_t n = 0;
  eg_it_http_resp_t r;

  snprintf(url, sizeof(url), "%s/webhook", base);
  headers[n++] = "Content-Type: application/json";
  if (secret != NULL) {
    assert_int_equal(eg_signature_compute(secret, body, len, sig, sizeof(sig)),
                     EG_OK);
    snprintf(sig_h, sizeof(sig_h), "X-Hub-Signature-256: %s", sig);
    headers[n++] = sig_h;
  }
  if (event != NULL) {
    snprintf(ev_h, sizeof(ev_h), "X-GitHub-Event: %s", event);
    headers[n++] = ev_h;
  }
  if (delivery != NULL) {
    snprintf(dl_h, sizeof(dl_h), "X-GitHub-Delivery: %s", delivery);
    headers[n++] = dl_h;
  }
  headers[n++] = "X-GitHub-Hook-ID: 42";
  headers[n] = NULL;
  EG_IT_MUST(it, eg_it_http(it, "POST", url, headers, body, len, 15000, &r));
  if (resp_body != NULL)
    snprintf(resp_body, resp_len, "%s", r.body != NULL ? r.body : "");
  long status = r.status;
  eg_it_http_resp_cleanup(&r);
  return status;
}

static const char *header_value(const eg_it_kafka_msg_t *m, const char *name) {
  const eg_it_kafka_header_t *h = eg_it_kafka_msg_header(m, name);
  return h != NULL && h->value != NULL ? h->value : "";
}

static void test_accepts_and_stores_exact_bytes(void **state) {
  eg_it_t *it = *state;
  struct stack st;
  eg_it_kafka_msgs_t msgs;
  const eg_it_kafka_msg_t *m;
  char sig[EG_SIGNATURE_HEADER_SIZE];

  start_stack(it, &st, SECRET "\n", NULL);
  assert_int_equal(
      post(it, st.base, SECRET, EVENT, DELIVERY, st.body, st.body_len, NULL, 0),
      202);
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.events",
                                        1, 10000, &msgs));
  assert_int_equal(msgs.n, 1);
  m = &msgs.v[0];
  assert_int_equal(m->value_len, st.body_len);
  assert_memory_equal(m->value, st.body, st.body_len);
  assert_string_equal(m->key, "1192056896/23625057533/release");
  eg_signature_compute(SECRET, st.body, st.body_len, sig, sizeof(sig));
  assert_string_equal(header_value(m, "hub-signature-256"), sig);
  assert_string_equal(header_value(m, "github-event"), EVENT);
  assert_string_equal(header_value(m, "github-delivery"), DELIVERY);
  assert_string_equal(header_value(m, "github-hook-id"), "42");
  /* RFC 3339 UTC with milliseconds. */
  assert_int_equal(strlen(header_value(m, "received-at")), 24);
  assert_int_equal(header_value(m, "received-at")[23], 'Z');
  eg_it_kafka_msgs_cleanup(&msgs);
  stop_stack(it, &st);
  eg_it_pass(it);
}

static void
test_bad_input_gets_its_status_and_nothing_is_enqueued(void **state) {
  eg_it_t *it = *state;
  struct stack st;
  eg_it_kafka_msgs_t msgs;
  char body[512];
  static const char ping[] = "{\"zen\":\"Keep it logically awesome.\"}";
  static const char other_action[] =
      "{\"action\":\"completed\",\"environment\":\"release\"}";
  static const char malformed[] = "{\"action\":\"requested\",";
  char *big;

  start_stack(it, &st, SECRET "\n", NULL);
  /* Signature: missing, wrong secret, tampered body. */
  assert_int_equal(post(it, st.base, NULL, EVENT, DELIVERY, st.body,
                        st.body_len, body, sizeof(body)),
                   401);
  assert_non_null(strstr(body, "\"code\":\"missing_signature\""));
  assert_int_equal(post(it, st.base, "not-the-secret-at-all!!", EVENT, DELIVERY,
                        st.body, st.body_len, body, sizeof(body)),
                   401);
  /* Error bodies never echo the secret or the body. */
  assert_null(strstr(body, SECRET));
  assert_null(strstr(body, "zaniebot"));
  /* Headers. */
  assert_int_equal(
      post(it, st.base, SECRET, NULL, DELIVERY, st.body, st.body_len, NULL, 0),
      400);
  assert_int_equal(
      post(it, st.base, SECRET, EVENT, NULL, st.body, st.body_len, NULL, 0),
      400);
  assert_int_equal(post(it, st.base, SECRET, EVENT, "not-a-uuid", st.body,
                        st.body_len, body, sizeof(body)),
                   400);
  assert_non_null(strstr(body, "invalid_delivery"));
  /* Body. */
  assert_int_equal(post(it, st.base, SECRET, EVENT, DELIVERY, malformed,
                        strlen(malformed), body, sizeof(body)),
                   400);
  assert_non_null(strstr(body, "malformed_json"));
  {
    /* A callback URL on another host is refused (never posted to). */
    char *evil = strdup(st.body);
    char *at = strstr(evil, "https://api.github.com/repos/");
    assert_non_null(at);
    memcpy(at, "https://api.evilhub.com/repos/", 30);
    assert_int_equal(post(it, st.base, SECRET, EVENT, DELIVERY, evil,
                          strlen(evil), body, sizeof(body)),
                     400);
    assert_non_null(strstr(body, "invalid_payload"));
    free(evil);
  }
  /* Verified but not ours: 204. */
  assert_int_equal(
      post(it, st.base, SECRET, "ping", DELIVERY, ping, strlen(ping), NULL, 0),
      204);
  assert_int_equal(
      post(it, st.base, SECRET, "push", DELIVERY, ping, strlen(ping), NULL, 0),
      204);
  assert_int_equal(post(it, st.base, SECRET, EVENT, DELIVERY, other_action,
                        strlen(other_action), NULL, 0),
                   204);
  /* Over the default 1 MiB limit. */
  big = malloc(1048577);
  memset(big, ' ', 1048577);
  assert_int_equal(post(it, st.base, SECRET, EVENT, DELIVERY, big, 1048577,
                        body, sizeof(body)),
                   413);
  free(big);
  /* Nothing was enqueued. */
  EG_IT_MUST(it, eg_it_kafka_consume_all(it, st.db.bootstrap, "envgate.events",
                                         10000, &msgs));
  assert_int_equal(msgs.n, 0);
  eg_it_kafka_msgs_cleanup(&msgs);
  /* Every answer was counted. */
  {
    eg_it_http_resp_t r;
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", st.base);
    EG_IT_MUST(it, eg_it_http(it, "GET", url, NULL, NULL, 0, 5000, &r));
    assert_int_equal(r.status, 200);
    assert_non_null(
        strstr(r.body, "envgate_ingress_requests_total{status=\"401\"} 2"));
    assert_non_null(
        strstr(r.body, "envgate_ingress_requests_total{status=\"204\"} 3"));
    assert_non_null(
        strstr(r.body, "envgate_ingress_requests_total{status=\"413\"} 1"));
    eg_it_http_resp_cleanup(&r);
  }
  /* The secret never reached the logs. */
  assert_int_equal(eg_it_proc_log_count(st.ingress, SECRET), 0);
  stop_stack(it, &st);
  eg_it_pass(it);
}

static void test_secret_rotation(void **state) {
  eg_it_t *it = *state;
  struct stack st;
  eg_it_kafka_msgs_t msgs;

  start_stack(it, &st, SECRET "\n" OLD_SECRET "\n", NULL);
  assert_int_equal(post(it, st.base, OLD_SECRET, EVENT, DELIVERY, st.body,
                        st.body_len, NULL, 0),
                   202);
  assert_int_equal(
      post(it, st.base, SECRET, EVENT, DELIVERY, st.body, st.body_len, NULL, 0),
      202);
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.events",
                                        2, 10000, &msgs));
  assert_int_equal(msgs.n, 2);
  eg_it_kafka_msgs_cleanup(&msgs);
  stop_stack(it, &st);
  eg_it_pass(it);
}

static void test_kafka_down_gives_503_then_recovers(void **state) {
  eg_it_t *it = *state;
  struct stack st;
  long long t0, took;
  eg_it_http_resp_t r;
  char url[128];

  start_stack(it, &st, SECRET "\n", "ENVGATE_ENQUEUE_TIMEOUT_MS=1500");
  assert_int_equal(
      post(it, st.base, SECRET, EVENT, DELIVERY, st.body, st.body_len, NULL, 0),
      202);
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &st.db, "all-down", NULL, 0));
  t0 = eg_it_now_ms();
  assert_int_equal(
      post(it, st.base, SECRET, EVENT, DELIVERY, st.body, st.body_len, NULL, 0),
      503);
  took = eg_it_now_ms() - t0;
  /* Answered by the deadline, well under GitHub's 10 s. */
  assert_true(took >= 1000 && took < 5000);
  snprintf(url, sizeof(url), "%s/readyz", st.base);
  for (int i = 0; i < 50; i++) {
    EG_IT_MUST(it, eg_it_http(it, "GET", url, NULL, NULL, 0, 5000, &r));
    long status = r.status;
    eg_it_http_resp_cleanup(&r);
    if (status == 503)
      break;
    assert_true(i < 49);
    eg_it_sleep_ms(200);
  }
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &st.db, "all-up", NULL, 0));
  {
    long status = 0;
    for (int i = 0; i < 20 && status != 202; i++)
      status = post(it, st.base, SECRET, EVENT, DELIVERY, st.body, st.body_len,
                    NULL, 0);
    assert_int_equal(status, 202);
  }
  stop_stack(it, &st);
  eg_it_pass(it);
}

/* Opens n connections that send a request head and then trickle the body
 * one byte at a time, never finishing. */
static int open_tricklers(int port, int *fds, int n) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  static const char head[] = "POST /webhook HTTP/1.1\r\nHost: x\r\n"
                             "Content-Length: 100000\r\n\r\n";
  int opened = 0;

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < n; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0 ||
        write(fds[i], head, sizeof(head) - 1) != (ssize_t)sizeof(head) - 1) {
      close(fds[i]);
      fds[i] = -1;
      continue;
    }
    opened++;
  }
  return opened;
}

static void test_slow_clients_cannot_exhaust(void **state) {
  eg_it_t *it = *state;
  struct stack st;
  enum { N = 300 };
  int fds[N];
  int port;
  long long t0;

  start_stack(it, &st, SECRET "\n", NULL);
  port = (int)strtol(strrchr(st.base, ':') + 1, NULL, 10);
  assert_int_equal(open_tricklers(port, fds, N), N);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i++)
      if (fds[i] >= 0 && write(fds[i], "x", 1) != 1) {
        close(fds[i]);
        fds[i] = -1;
      }
    t0 = eg_it_now_ms();
    assert_int_equal(post(it, st.base, SECRET, EVENT, DELIVERY, st.body,
                          st.body_len, NULL, 0),
                     202);
    assert_true(eg_it_now_ms() - t0 < 2000);
  }
  for (int i = 0; i < N; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  stop_stack(it, &st);
  eg_it_pass(it);
}

struct loader {
  eg_it_t *it;
  const char *base;
  const char *body;
  size_t len;
  int accepted;
  int refused;
  char deliveries[64][40];
};

static void *load(void *arg) {
  struct loader *l = arg;
  char url[128], sig[EG_SIGNATURE_HEADER_SIZE], sig_h[128], dl_h[128];
  eg_it_http_resp_t r;

  snprintf(url, sizeof(url), "%s/webhook", l->base);
  eg_signature_compute(SECRET, l->body, l->len, sig, sizeof(sig));
  snprintf(sig_h, sizeof(sig_h), "X-Hub-Signature-256: %s", sig);
  for (int i = 0; i < 64; i++) {
    const char *headers[] = {sig_h, "X-GitHub-Event: " EVENT, dl_h, NULL};
    snprintf(l->deliveries[i], sizeof(l->deliveries[i]),
             "%08x-0000-4000-8000-%012x", (unsigned)(uintptr_t)l & 0xffffff,
             (unsigned)i + 1);
    snprintf(dl_h, sizeof(dl_h), "X-GitHub-Delivery: %s", l->deliveries[i]);
    if (eg_it_http(l->it, "POST", url, headers, l->body, l->len, 15000, &r) !=
        EG_OK) {
      l->refused++;
      l->deliveries[i][0] = '\0';
      continue;
    }
    if (r.status == 202) {
      l->accepted++;
    } else {
      l->refused++;
      l->deliveries[i][0] = '\0';
    }
    eg_it_http_resp_cleanup(&r);
  }
  return NULL;
}

static void test_sigterm_under_load_loses_nothing(void **state) {
  eg_it_t *it = *state;
  struct stack st;
  enum { T = 4 };
  pthread_t t[T];
  struct loader l[T];
  eg_it_kafka_msgs_t msgs;
  int accepted = 0;

  start_stack(it, &st, SECRET "\n", NULL);
  for (int i = 0; i < T; i++) {
    l[i] = (struct loader){
        .it = it, .base = st.base, .body = st.body, .len = st.body_len};
    pthread_create(&t[i], NULL, load, &l[i]);
  }
  eg_it_sleep_ms(150);
  EG_IT_MUST(it, eg_it_proc_signal(st.ingress, SIGTERM));
  for (int i = 0; i < T; i++) {
    pthread_join(t[i], NULL);
    accepted += l[i].accepted;
  }
  {
    int status = -1;
    EG_IT_MUST(it, eg_it_proc_wait(st.ingress, 20000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  assert_true(accepted > 0);
  /* Every acknowledged delivery is in Kafka. */
  EG_IT_MUST(it, eg_it_kafka_consume_all(it, st.db.bootstrap, "envgate.events",
                                         10000, &msgs));
  for (int i = 0; i < T; i++) {
    for (int j = 0; j < 64; j++) {
      bool found = false;
      if (l[i].deliveries[j][0] == '\0')
        continue;
      for (size_t k = 0; k < msgs.n && !found; k++)
        found = strcmp(header_value(&msgs.v[k], "github-delivery"),
                       l[i].deliveries[j]) == 0;
      if (!found)
        fail_msg("acknowledged delivery %s is missing", l[i].deliveries[j]);
    }
  }
  assert_true(msgs.n >= (size_t)accepted);
  eg_it_kafka_msgs_cleanup(&msgs);
  free(st.body);
  eg_it_pass(it);
}

static void test_usage_and_config_errors(void **state) {
  eg_it_t *it = *state;
  int status = -1;
  const char *help[] = {"envgate-ingress", "--help", NULL};
  const char *bad[] = {"envgate-ingress", "--bogus", NULL};
  const char *noenv[] = {"envgate-ingress", NULL};
  const char *badenv[] = {"ENVGATE_MAX_BODY_BYTES=12", NULL};
  eg_it_spawn_opts_t o = {.name = "help", .argv = help};
  eg_it_proc_t *p = NULL;

  EG_IT_MUST(it, eg_it_run(it, &o, 5000, &status, NULL));
  assert_int_equal(WEXITSTATUS(status), 0);
  o = (eg_it_spawn_opts_t){.name = "bad", .argv = bad};
  EG_IT_MUST(it, eg_it_run(it, &o, 5000, &status, NULL));
  assert_int_equal(WEXITSTATUS(status), 2);
  /* Missing secret and an out-of-range number: both reported, exit 2. */
  o = (eg_it_spawn_opts_t){.name = "cfg", .argv = noenv, .env = badenv};
  EG_IT_MUST(it, eg_it_run(it, &o, 5000, &status, &p));
  assert_int_equal(WEXITSTATUS(status), 2);
  assert_int_equal(
      eg_it_proc_log_count(
          p,
          "ENVGATE_WEBHOOK_SECRET (or ENVGATE_WEBHOOK_SECRET_FILE): required"),
      1);
  assert_int_equal(eg_it_proc_log_count(p, "ENVGATE_MAX_BODY_BYTES=12"), 1);
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_accepts_and_stores_exact_bytes,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(
          test_bad_input_gets_its_status_and_nothing_is_enqueued, eg_it_setup,
          eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_secret_rotation, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_kafka_down_gives_503_then_recovers,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_slow_clients_cannot_exhaust,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_sigterm_under_load_loses_nothing,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_usage_and_config_errors, eg_it_setup,
                                      eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

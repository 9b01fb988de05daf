/* POST /webhook: verify, filter, validate, then hand to Kafka. Answers per
 * the contract: 202 once Kafka has the event, 204 for verified deliveries
 * that are not gate requests, 400/401 for bad input, 503 if Kafka fails. */
#include "ingress.h"

#include "eg/error.h"
#include "eg/event.h"
#include "eg/log.h"

#include <string.h>

#define DPR_EVENT "deployment_protection_rule"

/* Events we name in metrics; anything else is counted as "other" so that
 * the label set stays bounded. */
static const char *event_label(const char *event) {
  static const char *const known[] = {"ping", "installation",
                                      "installation_repositories",
                                      "github_app_authorization", DPR_EVENT};

  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (strcmp(event, known[i]) == 0)
      return known[i];
  return "other";
}

static void reject(eg_http_req_t *req,
                   int status,
                   const char *code,
                   const char *error,
                   const char *delivery) {
  eg_log(EG_LOG_WARN, "webhook rejected", EG_LSTR("delivery", delivery),
         EG_LINT("status", status), EG_LSTR("code", code),
         EG_LSTR("error", error));
  eg_http_respond_error(req, status, code, error);
}

static void ignore(ing_ctx_t *ctx,
                   eg_http_req_t *req,
                   const char *event,
                   const char *delivery,
                   const char *why) {
  eg_metric_inc(ctx->m.ignored, (const char *const[]){event_label(event)});
  eg_log(EG_LOG_INFO, "webhook ignored", EG_LSTR("delivery", delivery),
         EG_LSTR("event", event_label(event)), EG_LSTR("why", why));
  eg_http_respond(req, 204, NULL, NULL, 0);
}

void ing_webhook_handle(eg_http_req_t *req, void *ud) {
  ing_ctx_t *ctx = ud;
  const char *signature = eg_http_req_header(req, "X-Hub-Signature-256");
  const char *event = eg_http_req_header(req, "X-GitHub-Event");
  const char *delivery = eg_http_req_header(req, "X-GitHub-Delivery");
  const char *body;
  const char *logged_delivery = "-";
  size_t body_len;
  char errbuf[EG_ERRBUF_LEN];
  char key[EG_EVENT_KEY_LEN];
  eg_event_t ev;
  int rc;

  body = eg_http_req_body(req, &body_len);
  /* Only a well-formed delivery id goes into logs. */
  if (delivery != NULL &&
      eg_event_check_delivery_id(delivery, strlen(delivery), NULL, 0) == EG_OK)
    logged_delivery = delivery;

  /* Authenticate first: an unsigned caller learns nothing else. */
  if (signature == NULL) {
    eg_metric_inc(ctx->m.signature_fail, (const char *const[]){"missing"});
    reject(req, 401, "missing_signature",
           "X-Hub-Signature-256 header is required", logged_delivery);
    return;
  }
  rc = eg_signature_verify(ctx->verifier, signature, body, body_len, NULL);
  if (rc != EG_OK) {
    eg_metric_inc(
        ctx->m.signature_fail,
        (const char *const[]){rc == EG_EAUTH ? "mismatch" : "malformed"});
    reject(req, 401, "invalid_signature",
           "X-Hub-Signature-256 does not match the body", logged_delivery);
    return;
  }
  if (event == NULL || event[0] == '\0') {
    reject(req, 400, "missing_event", "X-GitHub-Event header is required",
           logged_delivery);
    return;
  }
  if (delivery == NULL) {
    reject(req, 400, "missing_delivery", "X-GitHub-Delivery header is required",
           logged_delivery);
    return;
  }
  if (logged_delivery != delivery) {
    reject(req, 400, "invalid_delivery",
           "X-GitHub-Delivery must be a lowercase UUID", logged_delivery);
    return;
  }
  if (strcmp(event, DPR_EVENT) != 0) {
    ignore(ctx, req, event, delivery, "event");
    return;
  }
  rc =
      eg_event_parse(body, body_len, ctx->cfg->github_api_url,
                     EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, errbuf, sizeof(errbuf));
  if (rc == EG_EPARSE) {
    reject(req, 400, "malformed_json", errbuf, delivery);
    return;
  }
  if (rc != EG_OK) {
    reject(req, 400, "invalid_payload", errbuf, delivery);
    return;
  }
  if (ev.kind != EG_EVENT_GATE_REQUEST) {
    ignore(ctx, req, event, delivery, "action");
    return;
  }
  if (eg_event_build_key(&ev, key, sizeof(key), NULL) != EG_OK) {
    reject(req, 400, "invalid_payload", "environment too long", delivery);
    return;
  }
  rc = ing_enqueue(ctx, req, key, delivery, event, signature);
  if (rc != EG_OK)
    eg_http_respond_error(req, 503, "kafka_unavailable",
                          "the event could not be stored; retry later");
  /* On success the delivery report answers 202 or 503. */
}

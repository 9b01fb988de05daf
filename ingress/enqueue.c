/* The Kafka side of the ingress: an idempotent acks=all producer whose
 * delivery reports answer the suspended HTTP requests. */
#include "ingress.h"

#include "eg/error.h"
#include "eg/kafka.h"
#include "eg/log.h"
#include "eg/process.h"
#include "eg/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One request waiting for Kafka's acknowledgement. */
struct pending {
  ing_ctx_t *ctx;
  eg_http_req_t *req;
  struct timespec produced;
  char delivery[40];
};

static double seconds_since(const struct timespec *t0) {
  struct timespec now;

  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0->tv_sec) +
         (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Runs on the thread that polls the producer. */
static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  struct pending *p = msg->_private;
  ing_ctx_t *ctx = opaque;
  double secs;

  (void)rk;
  if (p == NULL)
    return;
  secs = seconds_since(&p->produced);
  eg_metric_dec(ctx->m.inflight, NULL);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    eg_metric_inc(ctx->m.enqueued, NULL);
    eg_metric_observe(ctx->m.enqueue_latency, NULL, secs);
    /* Debug: an info line per request costs 3-6 us of a ~100 us budget
     * (bench/ingress); the metrics count every enqueued event. */
    eg_log(EG_LOG_DEBUG, "enqueued", EG_LSTR("delivery", p->delivery),
           EG_LINT("partition", msg->partition), EG_LINT("offset", msg->offset),
           EG_LDBL("kafka_ms", secs * 1e3));
    eg_http_respond(p->req, 202, NULL, NULL, 0);
  } else {
    const char *name = rd_kafka_err2name(msg->err);

    eg_metric_inc(ctx->m.kafka_errors, (const char *const[]){name});
    eg_log(EG_LOG_WARN, "enqueue failed", EG_LSTR("delivery", p->delivery),
           EG_LSTR("error", name), EG_LDBL("kafka_ms", secs * 1e3));
    eg_http_respond_error(p->req, 503, "kafka_unavailable",
                          "the event could not be stored; retry later");
  }
  free(p);
}

int ing_enqueue_init(ing_ctx_t *ctx, char *errbuf, size_t errbuf_len) {
  rd_kafka_conf_t *conf = NULL;
  char timeout[32];
  int rc;

  rc = eg_kafka_conf_new(ctx->cfg, EG_KAFKA_PRODUCER, NULL, &conf, errbuf,
                         errbuf_len);
  if (rc != EG_OK)
    return rc;
  /* Kafka gives up (and we answer 503) before GitHub's 10 s deadline. */
  snprintf(timeout, sizeof(timeout), "%llu",
           (unsigned long long)ctx->cfg->enqueue_timeout_ms);
  if (rd_kafka_conf_set(conf, "message.timeout.ms", timeout, errbuf,
                        errbuf_len) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return EG_EINVAL;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, ctx);
  rc = eg_kafka_new(RD_KAFKA_PRODUCER, conf, &ctx->rk, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  return eg_config_topic(ctx->cfg, "events", ctx->topic, sizeof(ctx->topic));
}

int ing_enqueue(ing_ctx_t *ctx,
                eg_http_req_t *req,
                const char *key,
                const char *delivery,
                const char *event,
                const char *signature) {
  rd_kafka_headers_t *hdrs;
  rd_kafka_resp_err_t err;
  struct pending *p;
  const char *hook_id = eg_http_req_header(req, "X-GitHub-Hook-ID");
  const char *body;
  size_t body_len;
  char received[64];

  body = eg_http_req_body(req, &body_len);
  p = calloc(1, sizeof(*p));
  hdrs = rd_kafka_headers_new(5);
  if (p == NULL || hdrs == NULL) {
    free(p);
    if (hdrs != NULL)
      rd_kafka_headers_destroy(hdrs);
    return EG_ENOMEM;
  }
  p->ctx = ctx;
  p->req = req;
  snprintf(p->delivery, sizeof(p->delivery), "%s", delivery);
  eg_time_rfc3339(eg_time_epoch_ms(), received, sizeof(received));
  rd_kafka_header_add(hdrs, "github-event", -1, event, -1);
  rd_kafka_header_add(hdrs, "github-delivery", -1, delivery, -1);
  rd_kafka_header_add(hdrs, "hub-signature-256", -1, signature, -1);
  if (hook_id != NULL)
    rd_kafka_header_add(hdrs, "github-hook-id", -1, hook_id, -1);
  rd_kafka_header_add(hdrs, "received-at", -1, received, -1);
  clock_gettime(CLOCK_MONOTONIC, &p->produced);
  eg_metric_inc(ctx->m.inflight, NULL);
  /* The body is copied: the HTTP request may be gone before Kafka acks. */
  err = rd_kafka_producev(
      ctx->rk, RD_KAFKA_V_TOPIC(ctx->topic), RD_KAFKA_V_KEY(key, strlen(key)),
      RD_KAFKA_V_VALUE((void *)body, body_len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    eg_metric_dec(ctx->m.inflight, NULL);
    eg_metric_inc(ctx->m.kafka_errors,
                  (const char *const[]){rd_kafka_err2name(err)});
    eg_log(EG_LOG_WARN, "enqueue refused", EG_LSTR("delivery", delivery),
           EG_LSTR("error", rd_kafka_err2name(err)));
    rd_kafka_headers_destroy(hdrs);
    free(p);
    return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? EG_EAGAIN : EG_EUNAVAIL;
  }
  return EG_OK;
}

void *ing_enqueue_poll_thread(void *arg) {
  ing_ctx_t *ctx = arg;

  /* Delivery reports keep flowing during shutdown until the main thread has
   * flushed the producer. */
  while (!atomic_load(&ctx->poll_stop))
    rd_kafka_poll(ctx->rk, 50);
  return NULL;
}

void *ing_readiness_thread(void *arg) {
  ing_ctx_t *ctx = arg;

  while (!atomic_load(&ctx->poll_stop)) {
    bool up = eg_kafka_ping(ctx->rk, 1000) == EG_OK;

    if (up != atomic_load(&ctx->kafka_ready))
      eg_log(up ? EG_LOG_INFO : EG_LOG_WARN,
             up ? "kafka reachable" : "kafka unreachable");
    atomic_store(&ctx->kafka_ready, up);
    eg_metric_set(ctx->m.kafka_up, NULL, up ? 1 : 0);
    for (int i = 0; i < 20 && !atomic_load(&ctx->poll_stop); i++) {
      struct timespec ts = {0, 100 * 1000000};
      nanosleep(&ts, NULL);
    }
  }
  return NULL;
}

int ing_enqueue_flush(ing_ctx_t *ctx, int timeout_ms) {
  int left;

  if (ctx->rk == NULL)
    return 0;
  rd_kafka_flush(ctx->rk, timeout_ms);
  left = rd_kafka_outq_len(ctx->rk);
  if (left > 0) {
    eg_log(EG_LOG_ERROR, "kafka flush incomplete", EG_LINT("left", left));
    /* Their delivery reports (purged) answer the requests with 503. */
    rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(ctx->rk, 0);
  }
  return left;
}

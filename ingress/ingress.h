/* envgate-ingress: shared state of the HTTP handlers and the Kafka side. */
#ifndef ING_INGRESS_H
#define ING_INGRESS_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "eg/config.h"
#include "eg/http_server.h"
#include "eg/metrics.h"
#include "eg/signature.h"

struct ing_metrics {
  eg_metric_t *requests;        /* by status */
  eg_metric_t *duration;        /* request duration, seconds */
  eg_metric_t *signature_fail;  /* by reason */
  eg_metric_t *ignored;         /* verified but not enqueued, by event */
  eg_metric_t *enqueued;        /* acknowledged by Kafka */
  eg_metric_t *enqueue_latency; /* produce to acknowledgement, seconds */
  eg_metric_t *kafka_errors;    /* by error name */
  eg_metric_t *inflight;        /* waiting for Kafka */
  eg_metric_t *kafka_up;        /* 1 when the cluster answers */
};

typedef struct ing_ctx_s {
  const eg_config_t *cfg;
  eg_signature_verifier_t *verifier;
  rd_kafka_t *rk;
  char topic[256];
  eg_metrics_t *metrics;
  struct ing_metrics m;
  atomic_bool kafka_ready;
  atomic_bool poll_stop; /* set after the final flush */
} ing_ctx_t;

/* POST /webhook and /github/webhook. */
void ing_webhook_handle(eg_http_req_t *req, void *ud);

/* Creates the idempotent producer (delivery reports answer the HTTP
 * requests). @returns EG_OK or an EG_E* code with errbuf. */
int ing_enqueue_init(ing_ctx_t *ctx, char *errbuf, size_t errbuf_len);

/* Produces one verified event; the HTTP answer (202 or 503) is sent when
 * Kafka acknowledges it or gives up. On error nothing was produced and the
 * caller answers. */
int ing_enqueue(ing_ctx_t *ctx,
                eg_http_req_t *req,
                const char *key,
                const char *delivery,
                const char *event,
                const char *signature);

/* Serves delivery reports until ctx->poll_stop; runs on its own thread. */
void *ing_enqueue_poll_thread(void *arg);

/* Checks every 2 s that the cluster answers (for /readyz). */
void *ing_readiness_thread(void *arg);

/* Flushes what is still queued (bounded by timeout_ms); what is left is
 * purged, which answers its requests with 503. The producer itself is
 * destroyed by the caller once the polling threads have stopped.
 * @returns the number of messages that were not delivered. */
int ing_enqueue_flush(ing_ctx_t *ctx, int timeout_ms);

#endif /* ING_INGRESS_H */

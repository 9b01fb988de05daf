/* envgate-worker: shared state of the consumer loop and the worker threads. */
#ifndef WRK_WORKER_H
#define WRK_WORKER_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "eg/config.h"
#include "eg/metrics.h"
#include "eg/offsets.h"
#include "jobs.h"
#include "outcome.h"

struct wrk_metrics {
  eg_metric_t *events;    /* consumed, by topic */
  eg_metric_t *decisions; /* by state and reason */
  eg_metric_t *outcomes;  /* by outcome: reviewed, duplicate, retry, dlq */
  eg_metric_t *tokens;    /* token cache: hit, miss, mint, error */
  eg_metric_t *inflight;  /* events being processed */
  eg_metric_t *queued;    /* events queued, delayed or parked */
  eg_metric_t *lag;       /* consumer lag, by topic and partition */
  eg_metric_t *redis_errors;
  eg_metric_t *decide_seconds; /* event start to durable outcome */
};

typedef struct wrk_ctx_s {
  const eg_config_t *cfg;
  rd_kafka_t *consumer;
  wrk_outcome_t *outcome;
  wrk_jobs_t *jobs;
  eg_offsets_t *offsets;
  eg_metrics_t *metrics;
  struct wrk_metrics m;
  struct wrk_deps_s *deps; /* GitHub, Redis, policy: see deps.h */
  struct wrk_done_s *done; /* idempotency records: see done.h */
  struct wrk_hold_s *hold; /* installations' rate budgets: see hold.h */
  char topic_events[256];
  char topic_retry[256];
  char worker_id[96]; /* host/pid, in decision records */
  atomic_bool kafka_ready;
  atomic_bool paused;
} wrk_ctx_t;

/* librdkafka rebalance callback (opaque = the wrk_ctx_t). */
void wrk_rebalance_cb(rd_kafka_t *rk,
                      rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts,
                      void *opaque);

/* Stores the committable positions and commits them synchronously. */
void wrk_commit_now(wrk_ctx_t *ctx);

/* Registers the worker's metric families. @returns EG_OK or a code. */
int wrk_metrics_init(wrk_ctx_t *ctx, char *errbuf, size_t errbuf_len);

/* Runs the consumer until the stop flag, then hands back or finishes what
 * is in flight. @returns an exit code. */
int wrk_consume(wrk_ctx_t *ctx);

/* Worker thread body: takes jobs until the queue is closed. */
void *wrk_thread(void *arg);

/* Processes one job to a durable outcome, or re-queues it for later when no
 * outcome could be made durable (Kafka or Redis hiccup). Finishes the job's
 * offset when its outcome is durable. */
void wrk_process(wrk_ctx_t *ctx, wrk_job_t *job);

#endif /* WRK_WORKER_H */

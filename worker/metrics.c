/* The worker's metric families. */
#include "worker.h"

#include "eg/error.h"

static const double seconds_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

int wrk_metrics_init(wrk_ctx_t *ctx, char *errbuf, size_t len) {
  static const char *const topic[] = {"topic"};
  static const char *const decision[] = {"state", "reason"};
  static const char *const outcome[] = {"outcome"};
  static const char *const token[] = {"result"};
  static const char *const lag[] = {"topic", "partition"};
  const size_t nb = sizeof(seconds_buckets) / sizeof(seconds_buckets[0]);
  struct wrk_metrics *m = &ctx->m;
  eg_metrics_t *reg = NULL;
  int rc;

  rc = eg_metrics_new(EG_METRICS_PROCESS, &ctx->metrics);
  reg = ctx->metrics;
  if (rc == EG_OK)
    rc = eg_metrics_counter(reg, "envgate_worker_events_total",
                            "Events consumed, by topic", topic, 1, &m->events,
                            errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_counter(
        reg, "envgate_worker_decisions_total",
        "Reviews posted, by state and the first failed check (or passed)",
        decision, 2, &m->decisions, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_counter(
        reg, "envgate_worker_outcomes_total",
        "Events finished, by outcome: reviewed, duplicate, retry, "
        "dead_letter",
        outcome, 1, &m->outcomes, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_counter(reg, "envgate_worker_token_cache_total",
                            "Installation token lookups, by result "
                            "(hit_local, hit_redis, mint, error)",
                            token, 1, &m->tokens, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_gauge(reg, "envgate_worker_inflight",
                          "Events being processed now", NULL, 0, &m->inflight,
                          errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_gauge(reg, "envgate_worker_queued",
                          "Events queued, waiting for a retry time or "
                          "parked behind the same gate",
                          NULL, 0, &m->queued, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_gauge(reg, "envgate_worker_consumer_lag",
                          "Messages behind the end of each assigned "
                          "partition",
                          lag, 2, &m->lag, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_counter(reg, "envgate_worker_redis_errors_total",
                            "Redis operations that failed (the worker goes "
                            "on with its local cache)",
                            NULL, 0, &m->redis_errors, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_histogram(reg, "envgate_worker_event_seconds",
                              "Time from taking an event to its durable "
                              "outcome",
                              NULL, 0, seconds_buckets, nb, &m->decide_seconds,
                              errbuf, len);
  return rc;
}

/* envgate-worker: a member of the envgate-workers consumer group that turns
 * each verified gate request into exactly one review on GitHub. */
#include "deps.h"
#include "done.h"
#include "hold.h"
#include "worker.h"

#include "eg/timeutil.h"
#include "eg/error.h"
#include "eg/kafka.h"
#include "eg/log.h"
#include "eg/probes.h"
#include "eg/process.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: envgate-worker [--help | --version]\n"
    "\n"
    "Consumes gate requests from Kafka (group envgate-workers), decides them\n"
    "against the policy with the GitHub REST API and posts the reviews.\n"
    "Serves /healthz, /readyz and /metrics on ENVGATE_METRICS_LISTEN.\n"
    "\n"
    "Configuration comes from the environment (see README.md):\n"
    "  ENVGATE_APP_ID, ENVGATE_APP_PRIVATE_KEY_FILE, ENVGATE_POLICY_FILE,\n"
    "  ENVGATE_WEBHOOK_SECRET[_FILE], ENVGATE_KAFKA_BROKERS,\n"
    "  ENVGATE_KAFKA_CONFIG_FILE, ENVGATE_TOPIC_PREFIX, ENVGATE_REDIS_URL,\n"
    "  ENVGATE_GITHUB_API_URL, ENVGATE_TOKEN_KEY_FILE,\n"
    "  ENVGATE_WORKER_INFLIGHT, ENVGATE_GITHUB_CONCURRENCY,\n"
    "  ENVGATE_MAX_ATTEMPTS, ENVGATE_METRICS_LISTEN,\n"
    "  ENVGATE_SHUTDOWN_TIMEOUT_MS, ENVGATE_LOG_LEVEL.\n";

static bool is_ready(void *ud, char *why, size_t why_len) {
  wrk_ctx_t *ctx = ud;

  if (eg_kafka_ping(ctx->consumer, 500) != EG_OK) {
    snprintf(why, why_len, "kafka is not reachable");
    return false;
  }
  return true;
}

static int open_consumer(wrk_ctx_t *ctx, char *errbuf, size_t len) {
  rd_kafka_conf_t *conf = NULL;
  int rc;

  rc = eg_kafka_conf_new(ctx->cfg, EG_KAFKA_CONSUMER, NULL, &conf, errbuf, len);
  if (rc != EG_OK)
    return rc;
  rd_kafka_conf_set_rebalance_cb(conf, wrk_rebalance_cb);
  rd_kafka_conf_set_opaque(conf, ctx);
  rc = eg_kafka_new(RD_KAFKA_CONSUMER, conf, &ctx->consumer, errbuf, len);
  if (rc != EG_OK)
    return rc;
  rd_kafka_poll_set_consumer(ctx->consumer);
  return EG_OK;
}

static int start_metrics_server(wrk_ctx_t *ctx,
                                eg_probes_t *probes,
                                eg_http_server_t **srv,
                                char *errbuf,
                                size_t len) {
  eg_http_options_t opts = {.threads = 1, .max_body = 4096};
  int rc;

  rc = eg_http_server_new(ctx->cfg->metrics_listen, &opts, srv, errbuf, len);
  if (rc == EG_OK)
    rc = eg_probes_route(*srv, probes);
  if (rc == EG_OK)
    rc = eg_http_server_start(*srv, errbuf, len);
  if (rc == EG_OK)
    eg_log(EG_LOG_INFO, "metrics listening",
           EG_LSTR("listen", ctx->cfg->metrics_listen),
           EG_LINT("port", eg_http_server_port(*srv)));
  return rc;
}

/* Hands back what is queued, lets running events finish (bounded), commits
 * and leaves the group. @returns true when nothing was left running. */
static bool drain(wrk_ctx_t *ctx, pthread_t *threads, size_t nthreads) {
  uint64_t deadline = eg_time_mono_ms() + ctx->cfg->shutdown_timeout_ms;
  wrk_job_t *queued = wrk_jobs_remove_all(ctx->jobs);
  size_t handed_back = 0;
  bool clean;

  while (queued != NULL) {
    wrk_job_t *next = queued->next_waiter;
    wrk_job_free(queued);
    handed_back++;
    queued = next;
  }
  while (wrk_jobs_count(ctx->jobs) > 0 && eg_time_mono_ms() < deadline) {
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
  }
  clean = wrk_jobs_count(ctx->jobs) == 0;
  eg_log(clean ? EG_LOG_INFO : EG_LOG_ERROR, "drained",
         EG_LINT("handed_back", handed_back),
         EG_LINT("still_running", wrk_jobs_count(ctx->jobs)));
  wrk_jobs_close(ctx->jobs);
  if (!clean)
    /* Committing or leaving the group could block on a broker that is
     * away: leave that to the session timeout. */
    return false;
  for (size_t i = 0; i < nthreads; i++)
    pthread_join(threads[i], NULL);
  wrk_commit_now(ctx);
  rd_kafka_consumer_close(ctx->consumer);
  return true;
}

int main(int argc, char **argv) {
  eg_config_t cfg;
  wrk_ctx_t ctx;
  eg_probes_t probes;
  eg_http_server_t *srv = NULL;
  pthread_t *threads = NULL;
  size_t nthreads = 0;
  char errbuf[EG_ERRBUF_LEN] = "";
  char host[64] = "worker";
  int rc;

  rc = eg_process_std_args(argc, argv, "envgate-worker", usage, false);
  if (rc >= 0)
    return rc;
  if (eg_process_load_config(&cfg, EG_ROLE_WORKER, "worker") != EG_OK)
    return EG_EXIT_USAGE;
  memset(&ctx, 0, sizeof(ctx));
  curl_global_init(CURL_GLOBAL_DEFAULT);
  ctx.cfg = &cfg;
  gethostname(host, sizeof(host) - 1);
  snprintf(ctx.worker_id, sizeof(ctx.worker_id), "%s/%d", host, (int)getpid());
  rc = eg_config_topic(&cfg, "events", ctx.topic_events,
                       sizeof(ctx.topic_events));
  if (rc == EG_OK)
    rc = eg_config_topic(&cfg, "retry", ctx.topic_retry,
                         sizeof(ctx.topic_retry));
  if (rc == EG_OK)
    rc = wrk_metrics_init(&ctx, errbuf, sizeof(errbuf));
  if (rc == EG_OK)
    rc = wrk_deps_new(&cfg, ctx.metrics, &ctx.deps, errbuf, sizeof(errbuf));
  if (rc == EG_OK &&
      (wrk_done_new(ctx.deps->redis, &ctx.done) != 0 ||
       wrk_hold_new(ctx.deps->redis, (unsigned)cfg.github_concurrency,
                    &ctx.hold) != 0))
    rc = EG_ENOMEM;
  if (rc == EG_OK)
    rc = eg_offsets_new(&ctx.offsets);
  if (rc == EG_OK && wrk_jobs_new(cfg.worker_inflight * 4, &ctx.jobs) != 0)
    rc = EG_ENOMEM;
  if (rc == EG_OK)
    rc = wrk_outcome_new(&cfg, &ctx.outcome, errbuf, sizeof(errbuf));
  if (rc == EG_OK)
    rc = open_consumer(&ctx, errbuf, sizeof(errbuf));
  if (rc != EG_OK) {
    eg_log(EG_LOG_ERROR, "cannot start", EG_LSTR("error", errbuf),
           EG_LSTR("code", eg_strerror(rc)));
    rc = EG_EXIT_USAGE;
    goto out;
  }
  probes = (eg_probes_t){
      .metrics = ctx.metrics, .ready = is_ready, .ready_ud = &ctx};
  if (eg_process_install_signals() != EG_OK ||
      start_metrics_server(&ctx, &probes, &srv, errbuf, sizeof(errbuf)) !=
          EG_OK) {
    eg_log(EG_LOG_ERROR, "cannot serve metrics", EG_LSTR("error", errbuf));
    rc = EG_EXIT_FAILURE;
    goto out;
  }
  threads = calloc(cfg.worker_inflight, sizeof(*threads));
  for (; threads != NULL && nthreads < cfg.worker_inflight; nthreads++)
    if (pthread_create(&threads[nthreads], NULL, wrk_thread, &ctx) != 0)
      break;
  eg_log(EG_LOG_INFO, "started", EG_LSTR("worker", ctx.worker_id),
         EG_LINT("threads", nthreads));
  rc = wrk_consume(&ctx);
  if (!drain(&ctx, threads, nthreads)) {
    /* Threads still inside GitHub calls: their events stay uncommitted and
     * are re-delivered; the idempotency record prevents a second review. */
    eg_log(EG_LOG_WARN, "exiting with events in flight");
    fflush(NULL);
    _exit(rc);
  }
out:
  eg_http_server_free(srv);
  if (ctx.consumer != NULL)
    rd_kafka_destroy(ctx.consumer);
  wrk_outcome_free(ctx.outcome, (int)cfg.shutdown_timeout_ms);
  wrk_jobs_free(ctx.jobs);
  eg_offsets_free(ctx.offsets);
  wrk_done_free(ctx.done);
  wrk_hold_free(ctx.hold);
  wrk_deps_free(ctx.deps);
  eg_metrics_free(ctx.metrics);
  free(threads);
  eg_log(EG_LOG_INFO, "stopped");
  eg_log_clear_secrets();
  eg_config_cleanup(&cfg);
  curl_global_cleanup();
  return rc;
}

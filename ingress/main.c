/* envgate-ingress: the only internet-facing part. Receives GitHub webhooks,
 * verifies them and answers 202 only once Kafka has the event. */
#include "ingress.h"

#include "eg/error.h"
#include "eg/log.h"
#include "eg/probes.h"
#include "eg/process.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: envgate-ingress [--help | --version]\n"
    "\n"
    "Receives GitHub webhooks on POST /webhook (and /github/webhook), "
    "verifies\n"
    "X-Hub-Signature-256 and enqueues deployment_protection_rule requests to\n"
    "Kafka. Also serves /healthz, /readyz and /metrics.\n"
    "\n"
    "Configuration comes from the environment (see README.md):\n"
    "  ENVGATE_LISTEN, ENVGATE_WEBHOOK_SECRET[_FILE], ENVGATE_KAFKA_BROKERS,\n"
    "  ENVGATE_KAFKA_CONFIG_FILE, ENVGATE_TOPIC_PREFIX, "
    "ENVGATE_GITHUB_API_URL,\n"
    "  ENVGATE_MAX_BODY_BYTES, ENVGATE_ENQUEUE_TIMEOUT_MS,\n"
    "  ENVGATE_SHUTDOWN_TIMEOUT_MS, ENVGATE_LOG_LEVEL.\n";

static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025,  0.05,  0.1,    0.25,  0.5,
                                         1,      2.5,   5,      10};

static int metrics_init(ing_ctx_t *ctx, char *errbuf, size_t len) {
  static const char *const status[] = {"status"};
  static const char *const reason[] = {"reason"};
  static const char *const event[] = {"event"};
  static const char *const error[] = {"error"};
  const size_t nb = sizeof(latency_buckets) / sizeof(latency_buckets[0]);
  struct ing_metrics *m = &ctx->m;
  int rc;

  rc = eg_metrics_new(EG_METRICS_PROCESS, &ctx->metrics);
  if (rc == EG_OK)
    rc = eg_metrics_counter(ctx->metrics, "envgate_ingress_requests_total",
                            "HTTP requests answered, by status", status, 1,
                            &m->requests, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_histogram(ctx->metrics,
                              "envgate_ingress_request_duration_seconds",
                              "Time from request headers to answer", NULL, 0,
                              latency_buckets, nb, &m->duration, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_counter(ctx->metrics,
                            "envgate_ingress_signature_failures_total",
                            "Deliveries refused with 401, by reason", reason, 1,
                            &m->signature_fail, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_counter(
        ctx->metrics, "envgate_ingress_ignored_total",
        "Verified deliveries answered 204 without enqueueing, by event", event,
        1, &m->ignored, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_counter(ctx->metrics, "envgate_ingress_enqueued_total",
                            "Gate requests acknowledged by Kafka", NULL, 0,
                            &m->enqueued, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_histogram(
        ctx->metrics, "envgate_ingress_enqueue_latency_seconds",
        "Time from produce to Kafka acknowledgement", NULL, 0, latency_buckets,
        nb, &m->enqueue_latency, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_counter(ctx->metrics, "envgate_ingress_kafka_errors_total",
                            "Produce failures, by librdkafka error", error, 1,
                            &m->kafka_errors, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_gauge(ctx->metrics, "envgate_ingress_inflight",
                          "Gate requests waiting for Kafka", NULL, 0,
                          &m->inflight, errbuf, len);
  if (rc == EG_OK)
    rc = eg_metrics_gauge(ctx->metrics, "envgate_ingress_kafka_up",
                          "1 when the Kafka cluster answers metadata requests",
                          NULL, 0, &m->kafka_up, errbuf, len);
  return rc;
}

/* Counts every answer, including those the server gives itself (404, 413). */
static void on_answer(int status, uint64_t elapsed_ns, void *ud) {
  ing_ctx_t *ctx = ud;
  char code[8];

  snprintf(code, sizeof(code), "%d", status);
  eg_metric_inc(ctx->m.requests, (const char *const[]){code});
  eg_metric_observe(ctx->m.duration, NULL, (double)elapsed_ns / 1e9);
}

static bool is_ready(void *ud, char *why, size_t why_len) {
  ing_ctx_t *ctx = ud;

  if (atomic_load(&ctx->kafka_ready))
    return true;
  snprintf(why, why_len, "kafka is not reachable");
  return false;
}

static int start_server(ing_ctx_t *ctx,
                        eg_probes_t *probes,
                        eg_http_server_t **srv,
                        char *errbuf,
                        size_t len) {
  eg_http_options_t opts = {.threads = 2,
                            .connection_limit = 4096,
                            .timeout_s = 10,
                            .max_body = (size_t)ctx->cfg->max_body_bytes,
                            .on_answer = on_answer,
                            .on_answer_ud = ctx};
  int rc;

  rc = eg_http_server_new(ctx->cfg->listen, &opts, srv, errbuf, len);
  if (rc == EG_OK)
    rc =
        eg_http_server_route(*srv, "POST", "/webhook", ing_webhook_handle, ctx);
  if (rc == EG_OK)
    rc = eg_http_server_route(*srv, "POST", "/github/webhook",
                              ing_webhook_handle, ctx);
  if (rc == EG_OK)
    rc = eg_probes_route(*srv, probes);
  if (rc == EG_OK)
    rc = eg_http_server_start(*srv, errbuf, len);
  return rc;
}

/* SIGTERM: stop accepting, let every request already received get its true
 * answer, flush Kafka, exit 0. */
static int shut_down(ing_ctx_t *ctx,
                     eg_http_server_t *srv,
                     pthread_t poller,
                     pthread_t ready) {
  unsigned timeout_ms = (unsigned)ctx->cfg->shutdown_timeout_ms;
  unsigned left_http;
  int left_kafka;

  eg_log(EG_LOG_INFO, "stopping",
         EG_LINT("inflight", eg_http_server_inflight(srv)));
  left_http = eg_http_server_quiesce(srv, timeout_ms);
  left_kafka = ing_enqueue_flush(ctx, (int)timeout_ms / 2 + 1);
  atomic_store(&ctx->poll_stop, true);
  pthread_join(poller, NULL);
  pthread_join(ready, NULL);
  eg_http_server_free(srv);
  eg_log(EG_LOG_INFO, "stopped", EG_LINT("unanswered", left_http),
         EG_LINT("undelivered", left_kafka));
  return left_kafka == 0 ? EG_EXIT_OK : EG_EXIT_FAILURE;
}

int main(int argc, char **argv) {
  eg_config_t cfg;
  ing_ctx_t ctx;
  eg_probes_t probes;
  eg_http_server_t *srv = NULL;
  pthread_t poller, ready;
  char errbuf[EG_ERRBUF_LEN];
  int rc;

  rc = eg_process_std_args(argc, argv, "envgate-ingress", usage, false);
  if (rc >= 0)
    return rc;
  if (eg_process_load_config(&cfg, EG_ROLE_INGRESS, "ingress") != EG_OK)
    return EG_EXIT_USAGE;
  memset(&ctx, 0, sizeof(ctx));
  ctx.cfg = &cfg;
  atomic_init(&ctx.kafka_ready, false);
  atomic_init(&ctx.poll_stop, false);
  rc = eg_signature_verifier_new((const char *const *)cfg.webhook_secrets,
                                 cfg.nwebhook_secrets, &ctx.verifier, errbuf,
                                 sizeof(errbuf));
  if (rc == EG_OK)
    rc = metrics_init(&ctx, errbuf, sizeof(errbuf));
  if (rc == EG_OK)
    rc = ing_enqueue_init(&ctx, errbuf, sizeof(errbuf));
  if (rc != EG_OK) {
    eg_log(EG_LOG_ERROR, "cannot start", EG_LSTR("error", errbuf));
    rc = EG_EXIT_USAGE;
    goto out;
  }
  if (eg_process_install_signals() != EG_OK ||
      pthread_create(&poller, NULL, ing_enqueue_poll_thread, &ctx) != 0) {
    rc = EG_EXIT_FAILURE;
    goto out;
  }
  if (pthread_create(&ready, NULL, ing_readiness_thread, &ctx) != 0) {
    atomic_store(&ctx.poll_stop, true);
    pthread_join(poller, NULL);
    rc = EG_EXIT_FAILURE;
    goto out;
  }
  probes = (eg_probes_t){
      .metrics = ctx.metrics, .ready = is_ready, .ready_ud = &ctx};
  if (start_server(&ctx, &probes, &srv, errbuf, sizeof(errbuf)) != EG_OK) {
    eg_log(EG_LOG_ERROR, "cannot listen", EG_LSTR("listen", cfg.listen),
           EG_LSTR("error", errbuf));
    eg_process_request_stop();
  } else {
    eg_log(EG_LOG_INFO, "listening", EG_LSTR("listen", cfg.listen),
           EG_LINT("port", eg_http_server_port(srv)));
  }
  while (!eg_process_stop_requested()) {
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
  }
  if (srv == NULL) {
    ing_enqueue_flush(&ctx, 1000);
    atomic_store(&ctx.poll_stop, true);
    pthread_join(poller, NULL);
    pthread_join(ready, NULL);
    rc = EG_EXIT_FAILURE;
  } else {
    rc = shut_down(&ctx, srv, poller, ready);
  }
out:
  if (ctx.rk != NULL)
    rd_kafka_destroy(ctx.rk);
  eg_signature_verifier_free(ctx.verifier);
  eg_metrics_free(ctx.metrics);
  eg_log_clear_secrets();
  eg_config_cleanup(&cfg);
  return rc;
}

/* envgate-bench-worker: the worker benchmarks of docs/BENCHMARKS.md
 * ("Worker"), run against a real stack started by the integration
 * harness: devbroker, redis-server, envgate-ghsim with a generated
 * scenario and a latency on every call, the workers (and the ingress). */
#include "bench_worker.h"

#include "eg/error.h"
#include "eg/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: envgate-bench-worker throughput|latency [options]\n"
    "\n"
    "throughput  produce --events gate requests once the workers hold every\n"
    "            partition; decisions/s against the ideal bound, GitHub\n"
    "            calls per decision and token mints as ghsim counted them\n"
    "latency     POST signed webhooks to envgate-ingress at --rate for\n"
    "            --duration s after --warmup s; webhook to review at ghsim\n"
    "\n"
    "  --workers N          worker processes (default 1, at most 8)\n"
    "  --inflight N         ENVGATE_WORKER_INFLIGHT (default 64)\n"
    "  --github-concurrency N  ENVGATE_GITHUB_CONCURRENCY: calls in flight\n"
    "                       per installation and worker (default 24)\n"
    "  --installations N    installations of the scenario (default 20)\n"
    "  --repos N            repositories, dealt round-robin (default 100)\n"
    "  --latency-ms N       ghsim latency of every GitHub call (default 50)\n"
    "  --events N           throughput: gate requests (default 10000)\n"
    "  --reject-percent N   throughput: runs ghsim makes fail a check\n"
    "                       (default 0: every decision is an approval)\n"
    "  --rate N             latency: webhooks per second (default 200)\n"
    "  --duration S         latency: measured seconds (default 30)\n"
    "  --warmup S           latency: seconds sent first (default 5)\n"
    "  --senders N          latency: HTTP client threads (default 8)\n"
    "  --timeout S          for every event to be decided (default 300)\n"
    "  --log-level LEVEL    the services' ENVGATE_LOG_LEVEL (default info)\n"
    "  --fetch-wait-ms N    the workers' fetch.wait.max.ms (default 10; 0:\n"
    "                       librdkafka's 500): the devbroker answers an\n"
    "                       empty fetch only after all of it, a real broker\n"
    "                       as soon as data arrives\n"
    "  --worker-env N=V     extra environment for the workers, for\n"
    "                       experiments (up to 8; e.g.\n"
    "                       ENVGATE_KAFKA_CONFIG_FILE=FILE; not the\n"
    "                       variables of --inflight, --github-concurrency\n"
    "                       or --log-level)\n"
    "  --keep               keep the scratch directory (logs)\n"
    "\n"
    "Prints Markdown tables and a last line \"summary key=value ...\".\n"
    "Exit status: 0 the run was sound (goals met or not), 1 the run was\n"
    "broken (not every event decided once, a wrong review, a process died\n"
    "or did not stop cleanly), 2 bad usage.\n";

static int bad_usage(const char *what, const char *detail) {
  fprintf(stderr, "envgate-bench-worker: error: %s%s%s\n%s", what,
          detail != NULL ? " " : "", detail != NULL ? detail : "", usage);
  return 2;
}

/* The option that sets entry's variable ("NAME=value"), for the variables
 * the bench sets itself and computes its ideal from; NULL for others. */
static const char *own_option(const char *entry) {
  static const struct {
    const char *prefix, *option;
  } own[] = {{"ENVGATE_WORKER_INFLIGHT=", "--inflight"},
             {"ENVGATE_GITHUB_CONCURRENCY=", "--github-concurrency"},
             {"ENVGATE_LOG_LEVEL=", "--log-level"}};

  for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
    if (strncmp(entry, own[i].prefix, strlen(own[i].prefix)) == 0)
      return own[i].option;
  return NULL;
}

static int number(const char *v, uint64_t min, uint64_t max, unsigned *out) {
  uint64_t n;

  if (v == NULL || eg_parse_u64(v, min, max, &n) != EG_OK)
    return -1;
  *out = (unsigned)n;
  return 0;
}

int main(int argc, char **argv) {
  struct bw_opts o = {.workers = 1,
                      .inflight = 64,
                      .github_concurrency = 24,
                      .installations = 20,
                      .repos = 100,
                      .latency_ms = 50,
                      .events = 10000,
                      .rate = 200,
                      .duration_s = 30,
                      .warmup_s = 5,
                      .senders = 8,
                      .timeout_s = 300,
                      .log_level = "info",
                      .fetch_wait_ms = 10};
  struct bw_run r = {.o = &o};
  unsigned reject_percent = 0;

  if (argc >= 2 &&
      (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc < 2 ||
      (strcmp(argv[1], "throughput") != 0 && strcmp(argv[1], "latency") != 0))
    return bad_usage("the first argument must be throughput or latency", NULL);
  o.mode = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0;

    if (strcmp(a, "--keep") == 0) {
      o.keep = true;
      continue;
    }
    if (strcmp(a, "--log-level") == 0 && v != NULL)
      o.log_level = v;
    else if (strcmp(a, "--worker-env") == 0 && v != NULL &&
             own_option(v) != NULL)
      return bad_usage("--worker-env: set this one with", own_option(v));
    else if (strcmp(a, "--worker-env") == 0 && v != NULL &&
             strchr(v, '=') != NULL &&
             o.nworker_env < sizeof(o.worker_env) / sizeof(o.worker_env[0]))
      o.worker_env[o.nworker_env++] = v;
    else if (strcmp(a, "--workers") == 0)
      rc = number(v, 1, BW_MAX_WORKERS, &o.workers);
    else if (strcmp(a, "--inflight") == 0)
      rc = number(v, 1, 4096, &o.inflight);
    else if (strcmp(a, "--github-concurrency") == 0)
      rc = number(v, 1, 100, &o.github_concurrency);
    else if (strcmp(a, "--installations") == 0)
      rc = number(v, 1, 1000, &o.installations);
    else if (strcmp(a, "--repos") == 0)
      rc = number(v, 1, 100000, &o.repos);
    else if (strcmp(a, "--latency-ms") == 0)
      rc = number(v, 1, 10000, &o.latency_ms);
    else if (strcmp(a, "--events") == 0)
      rc = number(v, 10, 1000000, &o.events);
    else if (strcmp(a, "--reject-percent") == 0)
      rc = number(v, 0, 100, &reject_percent);
    else if (strcmp(a, "--rate") == 0)
      rc = number(v, 1, 10000, &o.rate);
    else if (strcmp(a, "--duration") == 0)
      rc = number(v, 1, 3600, &o.duration_s);
    else if (strcmp(a, "--warmup") == 0)
      rc = number(v, 0, 3600, &o.warmup_s);
    else if (strcmp(a, "--senders") == 0)
      rc = number(v, 1, 64, &o.senders);
    else if (strcmp(a, "--fetch-wait-ms") == 0)
      rc = number(v, 0, 10000, &o.fetch_wait_ms);
    else if (strcmp(a, "--timeout") == 0)
      rc = number(v, 1, 86400, &o.timeout_s);
    else
      return bad_usage("unknown option or missing value:", a);
    if (rc != 0) {
      fprintf(stderr,
              "envgate-bench-worker: error: %s %s: not a number in range\n%s",
              a, v != NULL ? v : "(missing)", usage);
      return 2;
    }
    i++;
  }
  if (o.installations > o.repos)
    return bad_usage("--installations must be at most --repos", NULL);
  o.reject_fraction = reject_percent / 100.0;
  if (eg_it_begin("bench-worker", &r.it) != EG_OK)
    return 1;
  return strcmp(o.mode, "throughput") == 0 ? bw_throughput(&r) : bw_latency(&r);
}

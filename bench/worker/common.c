/* The worker benchmarks' shared steps: the generated scenario and its
 * gates, workers that share every partition, progress from the workers'
 * metrics, ghsim's reviews, CPU accounting and ghsim's own latency. */
#include "bench_worker.h"

#include "eg/error.h"
#include "eg/timeutil.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void bw_broken(struct bw_run *r, const char *fmt, ...) {
  va_list ap;

  r->broken = true;
  fprintf(stderr, "envgate-bench-worker: BROKEN: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
}

/* ---- scenario and gates ---- */

static int write_scenario(struct bw_run *r, size_t n, const char **path) {
  const struct bw_opts *o = r->o;
  size_t per_repo = (n + o->repos - 1) / o->repos;
  json_t *doc = json_pack(
      "{s:s,s:{s:I},s:{s:I,s:I,s:I,s:f}}", "description",
      "envgate-bench-worker", "rate_limit", "limit", (json_int_t)100000000,
      "generate", "repos", (json_int_t)o->repos, "runs_per_repo",
      (json_int_t)per_repo, "installations", (json_int_t)o->installations,
      "reject_fraction", o->reject_fraction);
  char *text;
  int rc;

  /* The rate budget is generous: ghsim would otherwise report
   * remaining=0 after 5,000 calls an hour and the workers would hold the
   * installation, which is a test of holds, not of throughput. */
  if (doc == NULL)
    return EG_ENOMEM;
  if (o->latency_ms > 0)
    json_object_set_new(
        doc, "faults",
        json_pack("{s:{s:I}}", "*", "latency_ms", (json_int_t)o->latency_ms));
  text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (text == NULL)
    return EG_ENOMEM;
  rc = eg_it_write_file(r->it, "scenario-bench.json", text, strlen(text), path);
  free(text);
  return rc;
}

static void copy_str(char *dst, size_t len, json_t *v) {
  const char *s = json_string_value(v);

  snprintf(dst, len, "%s", s != NULL ? s : "");
}

/* Reads /_sim/gates and orders n of them round-robin over repositories
 * (round j takes the j-th run of every repository), so the load spreads
 * over installations and partitions from the first event on. */
static int read_gates(struct bw_run *r, size_t n) {
  char url[256];
  eg_it_http_resp_t resp;
  json_t *arr, *g;
  size_t i, nrepos = r->o->repos, per_repo, k = 0;
  size_t *seen;

  snprintf(url, sizeof(url), "%s/_sim/gates", r->st.ghsim_url);
  if (eg_it_http(r->it, "GET", url, NULL, NULL, 0, 30000, &resp) != EG_OK) {
    bw_broken(r, "GET /_sim/gates: %s", eg_it_errmsg(r->it));
    return -1;
  }
  arr = json_loadb(resp.body, resp.body_len, 0, NULL);
  eg_it_http_resp_cleanup(&resp);
  if (!json_is_array(arr) || json_array_size(arr) < n) {
    bw_broken(r, "ghsim has %zu gates, need %zu", json_array_size(arr), n);
    json_decref(arr);
    return -1;
  }
  per_repo = (n + nrepos - 1) / nrepos;
  r->gates = calloc(n, sizeof(*r->gates));
  seen = calloc(nrepos, sizeof(*seen));
  if (r->gates == NULL || seen == NULL) {
    free(seen);
    json_decref(arr);
    bw_broken(r, "out of memory");
    return -1;
  }
  /* Generated repositories have consecutive ids from the first one. */
  json_int_t repo0 = INT64_MAX;
  json_array_foreach(arr, i, g) {
    json_int_t id = json_integer_value(json_object_get(g, "repository_id"));
    if (id < repo0)
      repo0 = id;
  }
  json_array_foreach(arr, i, g) {
    json_int_t id = json_integer_value(json_object_get(g, "repository_id"));
    size_t ri = (size_t)(id - repo0), slot;
    struct bw_gate *b;
    const char *expect;

    if (ri >= nrepos || seen[ri] >= per_repo)
      continue;
    slot = seen[ri]++ * nrepos + ri;
    if (slot >= n)
      continue;
    b = &r->gates[slot];
    copy_str(b->owner, sizeof(b->owner), json_object_get(g, "owner"));
    copy_str(b->repo, sizeof(b->repo), json_object_get(g, "name"));
    copy_str(b->environment, sizeof(b->environment),
             json_object_get(g, "environment"));
    copy_str(b->ref, sizeof(b->ref), json_object_get(g, "ref"));
    expect = json_string_value(json_object_get(g, "expect"));
    b->approve = expect != NULL && strcmp(expect, "approved") == 0;
    snprintf(b->delivery, sizeof(b->delivery), "%08x-0000-4000-8000-%012zx",
             0xbe000000u, slot % 1000000000000u);
    b->g = (eg_it_gate_t){
        .owner = b->owner,
        .repo = b->repo,
        .repository_id = (uint64_t)id,
        .installation_id =
            (uint64_t)json_integer_value(json_object_get(g, "installation_id")),
        .run_id = (uint64_t)json_integer_value(json_object_get(g, "run_id")),
        .deployment_id = 1000000000u + slot,
        .environment = b->environment,
        .ref = b->ref,
        .delivery = b->delivery};
    copy_str(b->g.sha, sizeof(b->g.sha), json_object_get(g, "sha"));
    k++;
  }
  free(seen);
  json_decref(arr);
  if (k != n) {
    bw_broken(r, "could not order the gates (%zu of %zu)", k, n);
    return -1;
  }
  r->ngates = n;
  return 0;
}

int bw_setup(struct bw_run *r, size_t n) {
  const char *scenario = NULL;
  int rc;

  rc = write_scenario(r, n, &scenario);
  if (rc == EG_OK)
    rc = eg_it_stack_start(r->it, scenario, &r->st);
  if (rc != EG_OK) {
    bw_broken(r, "stack: %s", eg_it_errmsg(r->it));
    return -1;
  }
  return read_gates(r, n);
}

/* ---- workers ---- */

/* Partitions a worker holds now, from its log: what it was assigned less
 * what it gave back (eager rebalances revoke all, cooperative ones some). */
static long held_partitions(eg_it_proc_t *p, bool *any) {
  char *text = NULL;
  long held = 0;

  *any = false;
  if (eg_it_proc_read_log(p, &text, NULL) != EG_OK)
    return 0;
  for (char *line = text; line != NULL && *line != '\0';) {
    char *end = strchr(line, '\n');
    bool assigned, revoked;
    char *count;

    if (end != NULL)
      *end = '\0';
    assigned = strstr(line, "\"msg\":\"partitions assigned\"") != NULL;
    revoked = strstr(line, "\"msg\":\"partitions revoked\"") != NULL;
    count = strstr(line, "\"count\":");
    if ((assigned || revoked) && count != NULL) {
      long c = strtol(count + 8, NULL, 10);
      held += assigned ? c : -c;
      *any = *any || assigned;
    }
    line = end != NULL ? end + 1 : NULL;
  }
  free(text);
  return held;
}

/* The stack's Kafka settings for the workers plus fetch.wait.max.ms: the
 * devbroker (librdkafka's mock cluster) answers a fetch that found no data
 * only after the whole fetch.wait.max.ms (500 ms by default), even when
 * data arrives meanwhile, where a real broker answers at once. Left as is,
 * that wait would be measured as the workers' latency. Writes
 * "ENVGATE_KAFKA_CONFIG_FILE=<file>" into buf. */
static int worker_kafka_conf(struct bw_run *r, char *buf, size_t len) {
  char *base = NULL, *text = NULL;
  const char *path;
  int rc, n;

  rc = eg_it_read_file(r->it, r->st.kafka_conf, &base, NULL);
  if (rc != EG_OK)
    return rc;
  n = asprintf(&text, "%sfetch.wait.max.ms=%u\n", base, r->o->fetch_wait_ms);
  free(base);
  if (n < 0)
    return EG_ENOMEM;
  rc = eg_it_write_file(r->it, "worker-kafka.conf", text, (size_t)n, &path);
  free(text);
  if (rc == EG_OK)
    snprintf(buf, len, "ENVGATE_KAFKA_CONFIG_FILE=%s", path);
  return rc;
}

int bw_start_workers(struct bw_run *r) {
  char inflight[64], concurrency[64], level[64], kconf[600];
  const char *env[5 + sizeof(r->o->worker_env) / sizeof(char *)] = {
      inflight, concurrency, level};
  size_t nenv = 3;
  long long deadline;

  snprintf(inflight, sizeof(inflight), "ENVGATE_WORKER_INFLIGHT=%u",
           r->o->inflight);
  snprintf(concurrency, sizeof(concurrency), "ENVGATE_GITHUB_CONCURRENCY=%u",
           r->o->github_concurrency);
  snprintf(level, sizeof(level), "ENVGATE_LOG_LEVEL=%s", r->o->log_level);
  if (r->o->fetch_wait_ms > 0) {
    if (worker_kafka_conf(r, kconf, sizeof(kconf)) != EG_OK) {
      bw_broken(r, "worker Kafka settings: %s", eg_it_errmsg(r->it));
      return -1;
    }
    env[nenv++] = kconf;
  }
  for (size_t i = 0; i < r->o->nworker_env; i++)
    env[nenv++] = r->o->worker_env[i];
  env[nenv] = NULL;
  for (unsigned i = 0; i < r->o->workers; i++) {
    eg_it_proc_t *p = NULL;
    if (eg_it_stack_worker(r->it, &r->st, env, &p) != EG_OK) {
      bw_broken(r, "worker %u: %s", i + 1, eg_it_errmsg(r->it));
      return -1;
    }
    r->metrics_port[i] = eg_it_proc_log_port(p, "metrics listening");
    if (r->metrics_port[i] == 0) {
      bw_broken(r, "worker %u logged no metrics port", i + 1);
      return -1;
    }
  }
  /* Measured from a settled group: a rebalance in the middle of the run
   * would pause partitions and be measured as slowness. */
  deadline = eg_it_now_ms() + eg_it_timeout_ms(60000);
  for (;;) {
    long total = 0;
    bool all = true;

    for (size_t i = 0; i < r->st.nworkers; i++) {
      bool any;
      long held = held_partitions(r->st.workers[i], &any);
      all = all && any && held > 0;
      total += held;
      if (!eg_it_proc_is_running(r->st.workers[i])) {
        bw_broken(r, "worker %zu exited while joining", i + 1);
        return -1;
      }
    }
    if (all && total == BW_PARTITIONS)
      return 0;
    if (eg_it_now_ms() > deadline) {
      bw_broken(r, "workers hold %ld of %d partitions after 60 s", total,
                BW_PARTITIONS);
      return -1;
    }
    eg_it_sleep_ms(100);
  }
}

/* ---- worker metrics ---- */

/* The value of series in a Prometheus text page, 0 when absent. */
static double series_value(const char *text, const char *series) {
  size_t len = strlen(series);

  for (const char *p = text; p != NULL && *p != '\0';) {
    if (strncmp(p, series, len) == 0 && p[len] == ' ')
      return strtod(p + len + 1, NULL);
    p = strchr(p, '\n');
    if (p != NULL)
      p++;
  }
  return 0;
}

double bw_worker_metric(struct bw_run *r, size_t i, const char *series) {
  char url[96];
  eg_it_http_resp_t resp;
  double v = -1;

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", r->metrics_port[i]);
  if (eg_it_http(r->it, "GET", url, NULL, NULL, 0, 5000, &resp) != EG_OK)
    return -1;
  if (resp.status == 200)
    v = series_value(resp.body, series);
  eg_it_http_resp_cleanup(&resp);
  return v;
}

double bw_workers_metric(struct bw_run *r, const char *series) {
  double sum = 0;

  for (size_t i = 0; i < r->st.nworkers; i++) {
    double v = bw_worker_metric(r, i, series);
    if (v < 0)
      return -1;
    sum += v;
  }
  return sum;
}

long bw_ncpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}

/* Every process of the stack is still running. */
static bool all_alive(struct bw_run *r, const char **who) {
  eg_it_stack_t *st = &r->st;

  for (size_t i = 0; i < st->nworkers; i++)
    if (!eg_it_proc_is_running(st->workers[i])) {
      *who = "a worker";
      return false;
    }
  *who = !eg_it_proc_is_running(st->ghsim)        ? "ghsim"
         : !eg_it_proc_is_running(st->db.proc)    ? "the devbroker"
         : !eg_it_proc_is_running(st->redis.proc) ? "redis-server"
         : st->ingress != NULL && !eg_it_proc_is_running(st->ingress)
             ? "the ingress"
             : NULL;
  return *who == NULL;
}

int bw_wait_decided(struct bw_run *r, size_t n) {
  long long start = eg_it_now_ms(), last_print = start;
  long long deadline = start + (long long)r->o->timeout_s * 1000;
  const char *who = NULL;

  for (;;) {
    double done = bw_workers_metric(
        r, "envgate_worker_outcomes_total{outcome=\"reviewed\"}");
    long long now = eg_it_now_ms();

    if (!all_alive(r, &who)) {
      bw_broken(r, "%s died during the run", who);
      return -1;
    }
    if (done >= (double)n)
      return 0;
    if (done >= (double)(n / 10) && done < (double)(n - n / 10)) {
      double busy = bw_workers_metric(r, "envgate_worker_inflight");
      if (busy >= 0) {
        r->busy_sum += busy;
        r->busy_samples++;
      }
    }
    if (now > deadline) {
      bw_broken(r, "only %.0f of %zu events reviewed after %u s", done, n,
                r->o->timeout_s);
      return -1;
    }
    if (now - last_print >= 5000) {
      fprintf(stderr, "  ... %.0f of %zu reviewed (%.0f s)\n", done, n,
              (double)(now - start) / 1000);
      last_print = now;
    }
    eg_it_sleep_ms(200);
  }
}

/* ---- ghsim's reviews ---- */

struct review {
  uint64_t run;
  int64_t at;
  bool approved;
};

struct bw_review_index_s {
  struct review *v; /* accepted reviews, sorted by run */
  size_t n;
};

static int cmp_review(const void *a, const void *b) {
  const struct review *x = a, *y = b;
  return x->run < y->run ? -1 : x->run > y->run;
}

bw_review_index_t *bw_review_index_new(json_t *state) {
  json_t *reviews = json_object_get(state, "reviews"), *v;
  size_t i, n = json_array_size(reviews);
  bw_review_index_t *ix = calloc(1, sizeof(*ix));

  if (ix == NULL)
    return NULL;
  ix->v = calloc(n > 0 ? n : 1, sizeof(*ix->v));
  if (ix->v == NULL) {
    free(ix);
    return NULL;
  }
  json_array_foreach(reviews, i, v) {
    struct review *rv = &ix->v[ix->n];
    const char *st = json_string_value(json_object_get(v, "state"));
    if (json_integer_value(json_object_get(v, "status")) / 100 != 2 ||
        eg_time_parse_rfc3339(json_string_value(json_object_get(v, "at")),
                              &rv->at) != EG_OK)
      continue;
    rv->run = (uint64_t)json_integer_value(json_object_get(v, "run_id"));
    rv->approved = st != NULL && strcmp(st, "approved") == 0;
    ix->n++;
  }
  qsort(ix->v, ix->n, sizeof(*ix->v), cmp_review);
  return ix;
}

/* The first accepted review of run_id, or NULL. */
static const struct review *find(const bw_review_index_t *ix, uint64_t run_id) {
  size_t lo = 0, hi = ix->n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ix->v[mid].run < run_id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < ix->n && ix->v[lo].run == run_id ? &ix->v[lo] : NULL;
}

int64_t bw_review_at(const bw_review_index_t *ix, uint64_t run_id) {
  const struct review *rv = find(ix, run_id);
  return rv != NULL ? rv->at : -1;
}

void bw_review_index_free(bw_review_index_t *ix) {
  if (ix == NULL)
    return;
  free(ix->v);
  free(ix);
}

int bw_check_reviews(struct bw_run *r,
                     json_t *state,
                     int64_t *first_ms,
                     int64_t *last_ms) {
  size_t refused = json_array_size(json_object_get(state, "reviews"));
  size_t i, twice = 0, missing = 0, wrong = 0;
  bw_review_index_t *ix = bw_review_index_new(state);

  *first_ms = INT64_MAX;
  *last_ms = 0;
  if (ix == NULL) {
    bw_broken(r, "out of memory");
    return -1;
  }
  refused -= ix->n;
  for (i = 0; i < ix->n; i++) {
    if (ix->v[i].at < *first_ms)
      *first_ms = ix->v[i].at;
    if (ix->v[i].at > *last_ms)
      *last_ms = ix->v[i].at;
    if (i + 1 < ix->n && ix->v[i].run == ix->v[i + 1].run)
      twice++;
  }
  for (i = 0; i < r->ngates; i++) {
    const struct review *rv = find(ix, r->gates[i].g.run_id);
    if (rv == NULL)
      missing++;
    else if (rv->approved != r->gates[i].approve)
      wrong++;
  }
  if (refused > 0)
    fprintf(stderr, "note: ghsim refused %zu reviews (already reviewed)\n",
            refused);
  if (ix->n != r->ngates || twice > 0 || missing > 0 || wrong > 0) {
    bw_broken(r,
              "ghsim accepted %zu reviews for %zu gates (%zu runs twice, "
              "%zu missing, %zu with the wrong state)",
              ix->n, r->ngates, twice, missing, wrong);
    bw_review_index_free(ix);
    return -1;
  }
  bw_review_index_free(ix);
  return 0;
}

/* ---- CPU ---- */

/* utime + stime of a process, all its threads, in clock ticks; -1 once it
 * is gone. */
static long long proc_ticks(pid_t pid) {
  char path[64], buf[1024];
  FILE *f;
  size_t n;
  const char *p;
  unsigned long long ut, st;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  f = fopen(path, "r");
  if (f == NULL)
    return -1;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: fields count from
   * the last ')'. utime and stime are fields 14 and 15. */
  p = strrchr(buf, ')');
  if (p == NULL ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
             &ut, &st) != 2)
    return -1;
  return (long long)(ut + st);
}

static void machine_ticks(long long *busy, long long *all) {
  unsigned long long v[8] = {0};
  FILE *f = fopen("/proc/stat", "r");

  *busy = *all = 0;
  if (f == NULL)
    return;
  if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
             &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
    /* user nice system idle iowait irq softirq steal */
    *busy = (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
    *all = *busy + (long long)(v[3] + v[4]);
  }
  fclose(f);
}

/* The processes of the CPU table, in its order. */
static size_t
cpu_procs(struct bw_run *r, pid_t *pids, const char **names, size_t cap) {
  static const char *const worker_names[BW_MAX_WORKERS] = {
      "worker 1", "worker 2", "worker 3", "worker 4",
      "worker 5", "worker 6", "worker 7", "worker 8"};
  size_t n = 0;

  for (size_t i = 0; i < r->st.nworkers && n < cap; i++) {
    pids[n] = eg_it_proc_pid(r->st.workers[i]);
    names[n++] = worker_names[i];
  }
  if (r->st.ingress != NULL && n < cap) {
    pids[n] = eg_it_proc_pid(r->st.ingress);
    names[n++] = "ingress";
  }
  if (n + 4 <= cap) {
    pids[n] = eg_it_proc_pid(r->st.ghsim);
    names[n++] = "ghsim";
    pids[n] = eg_it_proc_pid(r->st.db.proc);
    names[n++] = "devbroker";
    pids[n] = eg_it_proc_pid(r->st.redis.proc);
    names[n++] = "redis-server";
    pids[n] = getpid();
    names[n++] = "this bench (producer, client)";
  }
  return n;
}

void bw_cpu_sample(struct bw_run *r, struct bw_cpu *out) {
  pid_t pids[BW_MAX_WORKERS + 5];
  const char *names[BW_MAX_WORKERS + 5];
  size_t n = cpu_procs(r, pids, names, BW_MAX_WORKERS + 5);

  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < n; i++)
    out->proc[i] = proc_ticks(pids[i]);
  machine_ticks(&out->busy, &out->all);
}

void bw_cpu_report(struct bw_run *r,
                   const struct bw_cpu *a,
                   const struct bw_cpu *b,
                   double units,
                   double wall_s,
                   double *total_us_per_unit,
                   double *other_pct) {
  pid_t pids[BW_MAX_WORKERS + 5];
  const char *names[BW_MAX_WORKERS + 5];
  size_t n = cpu_procs(r, pids, names, BW_MAX_WORKERS + 5);
  double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
  double ours = 0, machine = (double)(b->busy - a->busy) * tick_us;

  printf("\n| process | CPU s | %% of one CPU | CPU µs per decision |\n"
         "|---|---:|---:|---:|\n");
  for (size_t i = 0; i < n; i++) {
    double us = a->proc[i] >= 0 && b->proc[i] >= 0
                    ? (double)(b->proc[i] - a->proc[i]) * tick_us
                    : 0;
    ours += us;
    printf("| %s | %.2f | %.0f | %.1f |\n", names[i], us / 1e6,
           100 * us / 1e6 / wall_s, us / units);
  }
  printf("| **envgate stack, all of the above** | %.2f | %.0f | %.1f |\n",
         ours / 1e6, 100 * ours / 1e6 / wall_s, ours / units);
  printf("| other processes on the machine | %.2f | %.0f | |\n",
         (machine - ours) / 1e6, 100 * (machine - ours) / 1e6 / wall_s);
  *total_us_per_unit = ours / units;
  *other_pct = 100 * (machine - ours) / 1e6 / wall_s;
  if (*other_pct < 0)
    *other_pct = 0;
}

/* ---- ghsim's latency ---- */

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

double bw_probe_ghsim_ms(struct bw_run *r, int n) {
  char url[512];
  const struct bw_gate *b = &r->gates[0];
  CURL *h = curl_easy_init();
  struct curl_slist *hdrs = curl_slist_append(NULL, "User-Agent: bench");
  double sum = 0;

  /* Unauthenticated: ghsim answers 401 after the endpoint's latency, and
   * the workers never call approvals, so the cost figures stay clean. */
  snprintf(url, sizeof(url), "%s/repos/%s/%s/actions/runs/%llu/approvals",
           r->st.ghsim_url, b->owner, b->repo, (unsigned long long)b->g.run_id);
  if (h == NULL || hdrs == NULL) {
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    bw_broken(r, "out of memory");
    return -1;
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  /* One call first to open the connection, as the workers' pooled
   * connections are open. */
  for (int i = 0; i <= n; i++) {
    curl_off_t us = 0;
    long status = 0;
    if (curl_easy_perform(h) != CURLE_OK ||
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
        status != 401 ||
        curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &us) != CURLE_OK) {
      curl_slist_free_all(hdrs);
      curl_easy_cleanup(h);
      bw_broken(r, "ghsim latency probe failed (status %ld)", status);
      return -1;
    }
    if (i > 0)
      sum += (double)us / 1e3;
  }
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);
  return sum / n;
}

/* ---- end ---- */

int bw_finish(struct bw_run *r) {
  int status;

  for (size_t i = 0; i < r->st.nworkers; i++) {
    status = -1;
    if (eg_it_proc_stop(r->st.workers[i], 30000, &status) != EG_OK ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      bw_broken(r, "worker %zu did not stop cleanly (status %#x)", i + 1,
                (unsigned)status);
  }
  if (r->st.ingress != NULL) {
    status = -1;
    if (eg_it_proc_stop(r->st.ingress, 20000, &status) != EG_OK ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      bw_broken(r, "the ingress did not stop cleanly (status %#x)",
                (unsigned)status);
  }
  /* A passed context removes its scratch directory if every process
   * exited cleanly, and keeps it (printing each log's tail) otherwise; so
   * --keep cannot tell an unclean exit apart and does not check it. */
  if (r->broken || r->o->keep)
    fprintf(stderr, "scratch directory kept: %s\n", eg_it_dir(r->it));
  else
    eg_it_pass(r->it);
  if (eg_it_end(r->it) != 0 && !r->broken && !r->o->keep)
    bw_broken(r, "a process of the stack did not exit cleanly");
  free(r->gates);
  return r->broken ? 1 : 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bw_percentile(double *v, size_t n, double q) {
  size_t k;

  if (n == 0)
    return 0;
  qsort(v, n, sizeof(*v), cmp_double);
  k = (size_t)(q * (double)n + 0.999999);
  if (k == 0)
    k = 1;
  if (k > n)
    k = n;
  return v[k - 1];
}

/* Throughput and cost: N gate requests produced to envgate.events as fast
 * as possible once the workers hold every partition; decisions per second
 * from ghsim's review timestamps, against the ideal bound of the same run;
 * GitHub calls per decision by endpoint and token mints, as ghsim counted
 * them. */
#include "bench_worker.h"

#include "eg/error.h"
#include "eg/timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Accepted review times (epoch ms), sorted; *n gets their count. */
static double *review_times(json_t *state, size_t *n) {
  json_t *reviews = json_object_get(state, "reviews"), *v;
  double *t = calloc(json_array_size(reviews) + 1, sizeof(*t));
  size_t i;

  *n = 0;
  if (t == NULL)
    return NULL;
  json_array_foreach(reviews, i, v) {
    int64_t at;
    if (json_integer_value(json_object_get(v, "status")) / 100 == 2 &&
        eg_time_parse_rfc3339(json_string_value(json_object_get(v, "at")),
                              &at) == EG_OK)
      t[(*n)++] = (double)at;
  }
  bw_percentile(t, *n, 0.5); /* sorts */
  return t;
}

/* Calls ghsim answered with 2xx for one endpoint, and all others. */
static void
endpoint_calls(json_t *calls, const char *ep, double *ok, double *other) {
  json_t *by = json_object_get(calls, ep), *v;
  const char *status;

  *ok = *other = 0;
  json_object_foreach(by, status, v) {
    if (status[0] == '2')
      *ok += (double)json_integer_value(v);
    else
      *other += (double)json_integer_value(v);
  }
}

struct cost {
  double warm_calls; /* 2xx reads and reviews, per decision */
  size_t mints, pairs, insts;
  long long pair_max, inst_min, inst_max;
};

/* Prints GitHub calls per decision by endpoint and the token mints. */
static void report_cost(json_t *state, size_t n, struct cost *c) {
  static const char *const reads[] = {
      "run",  "deployments", "statuses",           "job",
      "jobs", "approvals",   "pending_deployments"};
  json_t *calls = json_object_get(state, "calls");
  json_t *counts = json_object_get(state, "mint_counts"), *v;
  double ok, other, total = 0;
  size_t i;
  long long per_inst[4096];
  long long inst_ids[4096];
  size_t ninst = 0;

  memset(c, 0, sizeof(*c));
  printf("\n| GitHub endpoint (at ghsim) | 2xx calls | per decision | "
         "other statuses |\n|---|---:|---:|---:|\n");
  for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
    endpoint_calls(calls, reads[i], &ok, &other);
    /* approvals: only the latency probe (unauthenticated, 401) */
    if (ok == 0 && other == 0)
      continue;
    printf("| %s | %.0f | %.3f | %.0f%s |\n", reads[i], ok, ok / (double)n,
           other,
           strcmp(reads[i], "approvals") == 0 ? " (the latency probe)" : "");
    total += ok;
  }
  endpoint_calls(calls, "review", &ok, &other);
  printf("| review | %.0f | %.3f | %.0f |\n", ok, ok / (double)n, other);
  total += ok;
  printf("| **reads + review (warm token cache)** | **%.0f** | **%.3f** | |\n",
         total, total / (double)n);
  endpoint_calls(calls, "mint", &ok, &other);
  printf("| token mint | %.0f | %.4f | %.0f |\n", ok, ok / (double)n, other);
  c->warm_calls = total / (double)n;
  c->mints = (size_t)ok;

  c->inst_min = -1;
  json_array_foreach(counts, i, v) {
    long long k = json_integer_value(json_object_get(v, "count"));
    long long inst = json_integer_value(json_object_get(v, "installation_id"));
    size_t j;
    c->pairs++;
    if (k > c->pair_max)
      c->pair_max = k;
    for (j = 0; j < ninst && inst_ids[j] != inst; j++)
      ;
    if (j == ninst && ninst < sizeof(inst_ids) / sizeof(inst_ids[0])) {
      inst_ids[ninst] = inst;
      per_inst[ninst++] = 0;
    }
    if (j < ninst)
      per_inst[j] += k;
  }
  for (i = 0; i < ninst; i++) {
    if (c->inst_min < 0 || per_inst[i] < c->inst_min)
      c->inst_min = per_inst[i];
    if (per_inst[i] > c->inst_max)
      c->inst_max = per_inst[i];
  }
  c->insts = ninst;
  printf("\nToken mints across the fleet: %zu, for %zu (installation, "
         "repository) pairs in %zu installations; at most %lld per pair, "
         "%lld to %lld per installation (the run is shorter than the tokens' "
         "hour).\n",
         c->mints, c->pairs, c->insts, c->pair_max,
         c->inst_min < 0 ? 0 : c->inst_min, c->inst_max);
}

/* Mean of a worker histogram (ms): sum / count over the workers and over
 * the label sets given (NULL-terminated; {""} for none). */
static double
worker_mean_ms(struct bw_run *r, const char *name, const char *const *labels) {
  double sum = 0, count = 0;

  for (size_t i = 0; labels[i] != NULL; i++) {
    char s[256], k[256];
    snprintf(s, sizeof(s), "%s_sum%s", name, labels[i]);
    snprintf(k, sizeof(k), "%s_count%s", name, labels[i]);
    sum += bw_workers_metric(r, s);
    count += bw_workers_metric(r, k);
  }
  return count > 0 ? 1e3 * sum / count : 0;
}

/* Mean GitHub call latency the workers saw, for one endpoint label or
 * (NULL) all of them. */
static double call_ms(struct bw_run *r, const char *endpoint) {
  static const char *const all[] = {"{endpoint=\"run\"}",
                                    "{endpoint=\"deployments\"}",
                                    "{endpoint=\"deployment_statuses\"}",
                                    "{endpoint=\"job\"}",
                                    "{endpoint=\"jobs\"}",
                                    "{endpoint=\"review\"}",
                                    "{endpoint=\"access_tokens\"}",
                                    NULL};
  char one[96];
  const char *just[] = {one, NULL};

  if (endpoint == NULL)
    return worker_mean_ms(r, "envgate_worker_github_call_seconds", all);
  snprintf(one, sizeof(one), "{endpoint=\"%s\"}", endpoint);
  return worker_mean_ms(r, "envgate_worker_github_call_seconds", just);
}

int bw_throughput(struct bw_run *r) {
  const struct bw_opts *o = r->o;
  size_t n = o->events, nt = 0;
  struct bw_cpu c0, c1;
  int64_t t_start, t_produced, t_done, first, last;
  json_t *state = NULL;
  eg_it_gate_t *gates = NULL;
  double *times = NULL;
  double ghsim_ms, rate, steady, ideal_inflight, ideal_slots, ideal,
      cpu_us = 0, other_pct = 0, busy, busy_pct;
  double slots_per_worker;
  struct cost cost;

  printf("## envgate-bench-worker throughput: %u worker%s x "
         "ENVGATE_WORKER_INFLIGHT %u, %zu events, %u installations, %u "
         "repositories, ghsim latency %u ms, reject fraction %.2f, workers' "
         "fetch.wait.max.ms %u\n",
         o->workers, o->workers > 1 ? "s" : "", o->inflight, n,
         o->installations, o->repos, o->latency_ms, o->reject_fraction,
         o->fetch_wait_ms);
  fflush(stdout);
  if (bw_setup(r, n) != 0 || bw_start_workers(r) != 0)
    return bw_finish(r);
  gates = calloc(n, sizeof(*gates));
  if (gates == NULL) {
    bw_broken(r, "out of memory");
    return bw_finish(r);
  }
  for (size_t i = 0; i < n; i++)
    gates[i] = r->gates[i].g;
  bw_cpu_sample(r, &c0);
  t_start = eg_time_epoch_ms();
  if (eg_it_stack_produce_many(r->it, &r->st, gates, n) != EG_OK) {
    bw_broken(r, "produce: %s", eg_it_errmsg(r->it));
    goto out;
  }
  t_produced = eg_time_epoch_ms();
  if (bw_wait_decided(r, n) != 0)
    goto out;
  t_done = eg_time_epoch_ms();
  bw_cpu_sample(r, &c1);
  state = eg_it_ghsim_state(r->it, &r->st);
  if (state == NULL) {
    bw_broken(r, "GET /_sim/state failed: %s", eg_it_errmsg(r->it));
    goto out;
  }
  if (bw_check_reviews(r, state, &first, &last) != 0)
    goto out;
  times = review_times(state, &nt);
  if (times == NULL || nt != n) {
    bw_broken(r, "review times: %zu of %zu", nt, n);
    goto out;
  }
  ghsim_ms = bw_probe_ghsim_ms(r, 20);
  if (ghsim_ms < 0)
    goto out;

  rate = (double)n * 1e3 / (double)(last - t_start);
  {
    size_t a = n / 10, b = n - n / 10 - 1;
    steady =
        times[b] > times[a] ? (double)(b - a) * 1e3 / (times[b] - times[a]) : 0;
  }
  ideal_inflight =
      (double)o->workers * o->inflight / (BW_ROUNDS * ghsim_ms / 1e3);
  /* Each decision in flight holds 5/4 call slots on average (4 rounds, 5
   * calls); a worker has ENVGATE_GITHUB_CONCURRENCY slots per installation. */
  slots_per_worker = (double)o->github_concurrency * o->installations *
                     BW_ROUNDS / BW_CALLS_PER_APPROVE;
  ideal_slots =
      (double)o->workers * slots_per_worker / (BW_ROUNDS * ghsim_ms / 1e3);
  ideal = fmin(ideal_inflight, ideal_slots);

  printf("\nProduced %zu events in %.2f s; the first review reached ghsim "
         "%.2f s after the produce started, the last %.2f s after.\n",
         n, (double)(t_produced - t_start) / 1e3,
         (double)(first - t_start) / 1e3, (double)(last - t_start) / 1e3);
  printf("ghsim latency, measured after the run (20 sequential calls): "
         "%.1f ms per call.\n",
         ghsim_ms);
  printf("\n| workers | inflight | decisions/s | steady 10-90 %% | ideal/s | "
         "achieved / ideal |\n|---:|---:|---:|---:|---:|---:|\n");
  printf("| %u | %u | %.0f | %.0f | %.0f | %.2f |\n", o->workers, o->inflight,
         rate, steady, ideal, rate / ideal);
  printf("\nideal = workers x min(INFLIGHT, call slots) / (%d rounds x %.1f "
         "ms): INFLIGHT bound %.0f/s, call-slot bound %.0f/s (%u per "
         "installation and worker x %u installations x 4/5).\n",
         BW_ROUNDS, ghsim_ms, ideal_inflight, ideal_slots,
         o->github_concurrency, o->installations);

  printf("\nSeen by the workers (means over the run): GitHub call %.1f ms "
         "(run %.1f, deployments %.1f, statuses %.1f, job %.1f, review %.1f, "
         "mint %.1f); event taken to outcome %.1f ms, the ideal being %d x "
         "%.1f = %.1f ms.\n",
         call_ms(r, NULL), call_ms(r, "run"), call_ms(r, "deployments"),
         call_ms(r, "deployment_statuses"), call_ms(r, "job"),
         call_ms(r, "review"), call_ms(r, "access_tokens"),
         worker_mean_ms(r, "envgate_worker_event_seconds",
                        (const char *const[]){"", NULL}),
         BW_ROUNDS, ghsim_ms, BW_ROUNDS * ghsim_ms);
  busy = r->busy_samples > 0 ? r->busy_sum / r->busy_samples : 0;
  busy_pct = 100 * busy / (o->workers * o->inflight);
  printf("Events in flight while 10-90 %% were reviewed: %.0f of %u on "
         "average (%.0f %%, %u samples); below 100 %% the workers waited "
         "for events, not for GitHub.\n",
         busy, o->workers * o->inflight, busy_pct, r->busy_samples);
  printf(
      "Worker outcomes: retry %.0f, dead letter %.0f, duplicate %.0f; "
      "token cache: local hit %.0f, Redis hit %.0f, mint %.0f, error "
      "%.0f.\n",
      bw_workers_metric(r, "envgate_worker_outcomes_total{outcome=\"retry\"}"),
      bw_workers_metric(
          r, "envgate_worker_outcomes_total{outcome=\"dead_letter\"}"),
      bw_workers_metric(r,
                        "envgate_worker_outcomes_total{outcome=\"duplicate\"}"),
      bw_workers_metric(
          r, "envgate_worker_token_cache_total{result=\"hit_local\"}"),
      bw_workers_metric(
          r, "envgate_worker_token_cache_total{result=\"hit_redis\"}"),
      bw_workers_metric(r, "envgate_worker_token_cache_total{result=\"mint\"}"),
      bw_workers_metric(r,
                        "envgate_worker_token_cache_total{result=\"error\"}"));
  for (size_t i = 0; i < r->st.nworkers && o->workers > 1; i++)
    printf("%sworker %zu took %.0f", i == 0 ? "Events per worker: " : ", ",
           i + 1,
           bw_worker_metric(
               r, i, "envgate_worker_events_total{topic=\"envgate.events\"}"));
  if (o->workers > 1)
    printf(".\n");

  bw_cpu_report(r, &c0, &c1, (double)n, (double)(t_done - t_start) / 1e3,
                &cpu_us, &other_pct);
  printf("\nCPU bound of this machine (%.0f CPUs / CPU per decision of the "
         "stack): %.0f decisions/s.\n",
         (double)bw_ncpus(), (double)bw_ncpus() * 1e6 / cpu_us);
  report_cost(state, n, &cost);
  printf("\nsummary mode=throughput workers=%u inflight=%u events=%zu "
         "fetch_wait=%u "
         "rate=%.0f steady=%.0f ideal=%.0f ratio=%.2f ghsim_ms=%.1f "
         "calls_warm=%.3f mints=%zu mint_pairs=%zu mint_pair_max=%lld "
         "mint_inst_max=%lld cpu_us=%.0f cpu_bound=%.0f other_pct=%.0f "
         "busy_pct=%.0f\n",
         o->workers, o->inflight, n, o->fetch_wait_ms, rate, steady, ideal,
         rate / ideal, ghsim_ms, cost.warm_calls, cost.mints, cost.pairs,
         cost.pair_max, cost.inst_max, cpu_us,
         (double)bw_ncpus() * 1e6 / cpu_us, other_pct, busy_pct);
out:
  free(times);
  free(gates);
  json_decref(state);
  return bw_finish(r);
}

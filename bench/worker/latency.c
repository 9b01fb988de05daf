/* End-to-end latency: signed webhooks POSTed to envgate-ingress at a
 * steady rate, each timed from the moment it is sent to the moment its
 * review reaches ghsim (ghsim stamps a review when it arrives, before the
 * call's own latency). The first warm-up seconds fill the token cache and
 * are not measured. */
#include "bench_worker.h"

#include "eg/error.h"
#include "eg/timeutil.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A send more than this behind its slot is late (the schedule slipped). */
#define LATE_MS 2.0

struct senders {
  char url[128];
  size_t n;
  char **bodies;
  eg_it_webhook_headers_t *hdrs;
  uint64_t t0_ns;     /* CLOCK_MONOTONIC of slot 0 */
  double interval_ns; /* between slots */
  double *send_ms;    /* epoch ms when sent */
  double *answer_ms;  /* the ingress's answer time */
  double *lag_ms;     /* behind the slot */
  long *status;       /* HTTP status, 0 when the request failed */
  atomic_size_t next;
};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

/* Claims the next slot of the shared schedule, waits for it, sends. */
static void *sender(void *arg) {
  struct senders *s = arg;
  CURL *h = curl_easy_init();
  size_t k;

  if (h == NULL)
    return NULL;
  curl_easy_setopt(h, CURLOPT_URL, s->url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  while ((k = atomic_fetch_add(&s->next, 1)) < s->n) {
    uint64_t slot = s->t0_ns + (uint64_t)(s->interval_ns * (double)k);
    struct timespec ts = {(time_t)(slot / 1000000000u),
                          (long)(slot % 1000000000u)};
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    uint64_t started;
    curl_off_t us = 0;

    for (size_t i = 0; list != NULL && s->hdrs[k].list[i] != NULL; i++)
      list = curl_slist_append(list, s->hdrs[k].list[i]);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
      ;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->bodies[k]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(s->bodies[k]));
    started = mono_ns();
    s->lag_ms[k] = started > slot ? (double)(started - slot) / 1e6 : 0;
    s->send_ms[k] = wall_ms();
    if (list != NULL && curl_easy_perform(h) == CURLE_OK) {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &s->status[k]);
      curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &us);
    }
    s->answer_ms[k] = (double)us / 1e3;
    curl_slist_free_all(list);
  }
  curl_easy_cleanup(h);
  return NULL;
}

static void senders_free(struct senders *s) {
  for (size_t i = 0; s->bodies != NULL && i < s->n; i++)
    free(s->bodies[i]);
  free(s->bodies);
  free(s->hdrs);
  free(s->send_ms);
  free(s->answer_ms);
  free(s->lag_ms);
  free(s->status);
}

static int senders_init(struct bw_run *r, struct senders *s, size_t n) {
  memset(s, 0, sizeof(*s));
  s->n = n;
  snprintf(s->url, sizeof(s->url), "%s/webhook", r->st.ingress_url);
  s->bodies = calloc(n, sizeof(*s->bodies));
  s->hdrs = calloc(n, sizeof(*s->hdrs));
  s->send_ms = calloc(n, sizeof(double));
  s->answer_ms = calloc(n, sizeof(double));
  s->lag_ms = calloc(n, sizeof(double));
  s->status = calloc(n, sizeof(long));
  if (s->bodies == NULL || s->hdrs == NULL || s->send_ms == NULL ||
      s->answer_ms == NULL || s->lag_ms == NULL || s->status == NULL)
    return -1;
  /* Bodies and signatures are made before the clock starts. */
  for (size_t i = 0; i < n; i++) {
    s->bodies[i] = eg_it_gate_body(&r->st, &r->gates[i].g);
    if (s->bodies[i] == NULL)
      return -1;
    eg_it_webhook_headers(s->bodies[i], r->gates[i].delivery, &s->hdrs[i]);
  }
  atomic_init(&s->next, 0);
  s->interval_ns = 1e9 / (double)r->o->rate;
  return 0;
}

int bw_latency(struct bw_run *r) {
  const struct bw_opts *o = r->o;
  size_t n = (size_t)o->rate * (o->warmup_s + o->duration_s);
  size_t warm = (size_t)o->rate * o->warmup_s, m = n - warm, bad = 0, late = 0;
  struct senders s;
  pthread_t th[64];
  size_t nth = 0;
  struct bw_cpu c0, c1;
  json_t *state = NULL;
  bw_review_index_t *ix = NULL;
  double *lat = NULL, *ans = NULL;
  double t_start, t_done, max_lag = 0, ghsim_ms, floor_ms, cpu_us = 0,
                          other_pct = 0, sent_rate;
  double p50, p90, p99, pmax, mean = 0, a50, a99;
  int64_t first, last;
  char level[64];
  const char *env[] = {level, NULL};

  printf("## envgate-bench-worker latency: %u webhooks/s to envgate-ingress "
         "for %u s after a %u s warm-up, %u worker%s x "
         "ENVGATE_WORKER_INFLIGHT %u, %u installations, %u repositories, "
         "ghsim latency %u ms, workers' fetch.wait.max.ms %u\n",
         o->rate, o->duration_s, o->warmup_s, o->workers,
         o->workers > 1 ? "s" : "", o->inflight, o->installations, o->repos,
         o->latency_ms, o->fetch_wait_ms);
  fflush(stdout);
  memset(&s, 0, sizeof(s));
  if (bw_setup(r, n) != 0)
    goto out;
  snprintf(level, sizeof(level), "ENVGATE_LOG_LEVEL=%s", o->log_level);
  if (eg_it_stack_ingress(r->it, &r->st, env) != EG_OK) {
    bw_broken(r, "ingress: %s", eg_it_errmsg(r->it));
    goto out;
  }
  if (bw_start_workers(r) != 0)
    goto out;
  if (senders_init(r, &s, n) != 0) {
    bw_broken(r, "out of memory");
    goto out;
  }
  bw_cpu_sample(r, &c0);
  t_start = wall_ms();
  s.t0_ns = mono_ns() + 100000000u;
  for (; nth < o->senders && nth < sizeof(th) / sizeof(th[0]); nth++)
    if (pthread_create(&th[nth], NULL, sender, &s) != 0)
      break;
  for (size_t i = 0; i < nth; i++)
    pthread_join(th[i], NULL);
  if (nth == 0) {
    bw_broken(r, "no sender thread");
    goto out;
  }
  for (size_t k = 0; k < n; k++) {
    if (s.status[k] != 202)
      bad++;
    if (s.lag_ms[k] > LATE_MS)
      late++;
    if (s.lag_ms[k] > max_lag)
      max_lag = s.lag_ms[k];
  }
  if (bad > 0) {
    bw_broken(r, "%zu of %zu webhooks were not answered 202", bad, n);
    goto out;
  }
  if (bw_wait_decided(r, n) != 0)
    goto out;
  t_done = wall_ms();
  bw_cpu_sample(r, &c1);
  state = eg_it_ghsim_state(r->it, &r->st);
  if (state == NULL) {
    bw_broken(r, "GET /_sim/state failed: %s", eg_it_errmsg(r->it));
    goto out;
  }
  if (bw_check_reviews(r, state, &first, &last) != 0)
    goto out;
  ix = bw_review_index_new(state);
  lat = calloc(m, sizeof(*lat));
  ans = calloc(m, sizeof(*ans));
  if (ix == NULL || lat == NULL || ans == NULL) {
    bw_broken(r, "out of memory");
    goto out;
  }
  for (size_t k = warm; k < n; k++) {
    int64_t at = bw_review_at(ix, r->gates[k].g.run_id);
    lat[k - warm] = (double)at - s.send_ms[k];
    ans[k - warm] = s.answer_ms[k];
    mean += lat[k - warm] / (double)m;
  }
  ghsim_ms = bw_probe_ghsim_ms(r, 20);
  if (ghsim_ms < 0)
    goto out;
  floor_ms = BW_READ_ROUNDS * ghsim_ms;
  p50 = bw_percentile(lat, m, 0.50);
  p90 = bw_percentile(lat, m, 0.90);
  p99 = bw_percentile(lat, m, 0.99);
  pmax = bw_percentile(lat, m, 1.0);
  a50 = bw_percentile(ans, m, 0.50);
  a99 = bw_percentile(ans, m, 0.99);
  sent_rate = (double)(n - 1) * 1e3 / (s.send_ms[n - 1] - s.send_ms[0]);

  printf("\nSent %zu webhooks at %.1f/s (target %u/s); %zu sends more than "
         "%.0f ms behind their slot, the worst %.1f ms behind. All answered "
         "202: p50 %.2f ms, p99 %.2f ms (measured part).\n",
         n, sent_rate, o->rate, late, LATE_MS, max_lag, a50, a99);
  printf("ghsim latency, measured after the run (20 sequential calls): "
         "%.1f ms per call; floor = %d read rounds x %.1f ms = %.1f ms (the "
         "review is stamped when it arrives).\n",
         ghsim_ms, BW_READ_ROUNDS, ghsim_ms, floor_ms);
  printf("\n| webhooks/s | measured | p50 ms | p90 ms | p99 ms | max ms | "
         "mean ms | floor ms | p50 / floor | p99 / floor |\n"
         "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  printf("| %u | %zu | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | "
         "%.2f |\n",
         o->rate, m, p50, p90, p99, pmax, mean, floor_ms, p50 / floor_ms,
         p99 / floor_ms);
  bw_cpu_report(r, &c0, &c1, (double)n, (t_done - t_start) / 1e3, &cpu_us,
                &other_pct);
  printf("\nsummary mode=latency rate=%u workers=%u inflight=%u fetch_wait=%u "
         "sent_rate=%.1f measured=%zu "
         "p50=%.1f p90=%.1f p99=%.1f max=%.1f floor=%.1f ghsim_ms=%.1f "
         "ingress_p50=%.2f ingress_p99=%.2f late=%zu cpu_us=%.0f "
         "other_pct=%.0f\n",
         o->rate, o->workers, o->inflight, o->fetch_wait_ms, sent_rate, m, p50,
         p90, p99, pmax, floor_ms, ghsim_ms, a50, a99, late, cpu_us, other_pct);
out:
  bw_review_index_free(ix);
  free(lat);
  free(ans);
  json_decref(state);
  senders_free(&s);
  return bw_finish(r);
}

/* Unit tests for the Prometheus registry: exact exposition text, escaping,
 * bucket bounds, limits, argument checks and concurrent observation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/error.h"
#include "eg/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oom_inject.h"

static char *render(eg_metrics_t *reg) {
  char *text = NULL;
  size_t len = 0;

  assert_int_equal(eg_metrics_render(reg, &text, &len), EG_OK);
  assert_non_null(text);
  assert_int_equal(len, strlen(text));
  return text;
}

static void assert_render(eg_metrics_t *reg, const char *want) {
  char *text = render(reg);

  assert_string_equal(text, want);
  free(text);
}

/* The value on the line that starts with "series " exactly. */
static double series_value(const char *text, const char *series) {
  size_t n = strlen(series);
  const char *p = text;

  while (p != NULL && *p != '\0') {
    if (strncmp(p, series, n) == 0 && p[n] == ' ')
      return strtod(p + n + 1, NULL);
    p = strchr(p, '\n');
    if (p != NULL)
      p++;
  }
  fail_msg("series %s not rendered", series);
  return 0;
}

static void test_empty_registry(void **state) {
  eg_metrics_t *reg;

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_render(reg, "");
  eg_metrics_free(reg);
}

static void test_counter_without_labels(void **state) {
  eg_metrics_t *reg;
  eg_metric_t *c;
  eg_series_t *s;

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_int_equal(eg_metrics_counter(reg, "envgate_events_total",
                                      "Events seen.", NULL, 0, &c, NULL, 0),
                   EG_OK);
  assert_render(reg, "# HELP envgate_events_total Events seen.\n"
                     "# TYPE envgate_events_total counter\n"
                     "envgate_events_total 0\n");
  assert_int_equal(eg_metric_inc(c, NULL), EG_OK);
  assert_int_equal(eg_metric_series(c, NULL, &s), EG_OK);
  assert_int_equal(eg_series_inc(s), EG_OK);
  assert_int_equal(eg_series_add(s, 40), EG_OK);
  assert_render(reg, "# HELP envgate_events_total Events seen.\n"
                     "# TYPE envgate_events_total counter\n"
                     "envgate_events_total 42\n");
  /* Fractions join the integer part. */
  assert_int_equal(eg_metric_add(c, NULL, 0.5), EG_OK);
  assert_render(reg, "# HELP envgate_events_total Events seen.\n"
                     "# TYPE envgate_events_total counter\n"
                     "envgate_events_total 42.5\n");
  eg_metrics_free(reg);
}

static void test_counter_with_labels(void **state) {
  static const char *const labels[] = {"endpoint", "status"};
  eg_metrics_t *reg;
  eg_metric_t *c;
  eg_series_t *s1, *s2;

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_int_equal(eg_metrics_counter(reg, "envgate_github_calls_total",
                                      "GitHub API calls.", labels, 2, &c, NULL,
                                      0),
                   EG_OK);
  /* Labelled families show no series before the first observation. */
  assert_render(reg, "# HELP envgate_github_calls_total GitHub API calls.\n"
                     "# TYPE envgate_github_calls_total counter\n");
  assert_int_equal(eg_metric_inc(c, (const char *const[]){"runs", "200"}),
                   EG_OK);
  assert_int_equal(eg_metric_inc(c, (const char *const[]){"jobs", "404"}),
                   EG_OK);
  assert_int_equal(eg_metric_add(c, (const char *const[]){"runs", "200"}, 2),
                   EG_OK);
  /* The same values find the same series; a handle is stable. */
  assert_int_equal(
      eg_metric_series(c, (const char *const[]){"runs", "200"}, &s1), EG_OK);
  assert_int_equal(
      eg_metric_series(c, (const char *const[]){"runs", "200"}, &s2), EG_OK);
  assert_ptr_equal(s1, s2);
  assert_int_equal(eg_series_inc(s1), EG_OK);
  /* Values that concatenate alike are still different series. */
  assert_int_equal(eg_metric_inc(c, (const char *const[]){"run", "s200"}),
                   EG_OK);
  assert_int_equal(eg_metric_inc(c, (const char *const[]){"", ""}), EG_OK);
  assert_render(
      reg, "# HELP envgate_github_calls_total GitHub API calls.\n"
           "# TYPE envgate_github_calls_total counter\n"
           "envgate_github_calls_total{endpoint=\"runs\",status=\"200\"} 4\n"
           "envgate_github_calls_total{endpoint=\"jobs\",status=\"404\"} 1\n"
           "envgate_github_calls_total{endpoint=\"run\",status=\"s200\"} 1\n"
           "envgate_github_calls_total{endpoint=\"\",status=\"\"} 1\n");
  eg_metrics_free(reg);
}

static void test_gauge(void **state) {
  static const char *const labels[] = {"topic"};
  eg_metrics_t *reg;
  eg_metric_t *g, *lg;
  eg_series_t *s;

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_int_equal(eg_metrics_gauge(reg, "envgate_inflight", "In flight.", NULL,
                                    0, &g, NULL, 0),
                   EG_OK);
  assert_int_equal(eg_metrics_gauge(reg, "envgate_lag", "Consumer lag.", labels,
                                    1, &lg, NULL, 0),
                   EG_OK);
  assert_int_equal(eg_metric_series(g, NULL, &s), EG_OK);
  assert_int_equal(eg_series_inc(s), EG_OK);
  assert_int_equal(eg_series_inc(s), EG_OK);
  assert_int_equal(eg_series_inc(s), EG_OK);
  assert_int_equal(eg_series_dec(s), EG_OK);
  assert_int_equal(eg_series_add(s, -2.25), EG_OK);
  assert_int_equal(eg_metric_set(lg, (const char *const[]){"events"}, 0.1),
                   EG_OK);
  assert_int_equal(eg_metric_set(lg, (const char *const[]){"retry"}, 1e21),
                   EG_OK);
  assert_int_equal(eg_metric_set(lg, (const char *const[]){"dlq"}, 1e-9),
                   EG_OK);
  assert_int_equal(eg_metric_inc(lg, (const char *const[]){"decisions"}),
                   EG_OK);
  assert_int_equal(eg_metric_dec(lg, (const char *const[]){"decisions"}),
                   EG_OK);
  assert_int_equal(eg_metric_dec(lg, (const char *const[]){"decisions"}),
                   EG_OK);
  assert_render(reg, "# HELP envgate_inflight In flight.\n"
                     "# TYPE envgate_inflight gauge\n"
                     "envgate_inflight -0.25\n"
                     "# HELP envgate_lag Consumer lag.\n"
                     "# TYPE envgate_lag gauge\n"
                     "envgate_lag{topic=\"events\"} 0.1\n"
                     "envgate_lag{topic=\"retry\"} 1e+21\n"
                     "envgate_lag{topic=\"dlq\"} 1e-09\n"
                     "envgate_lag{topic=\"decisions\"} -1\n");
  /* Gauges take any value through set, and say so in Prometheus' words. */
  assert_int_equal(eg_series_set(s, NAN), EG_OK);
  assert_int_equal(eg_metric_set(lg, (const char *const[]){"events"}, INFINITY),
                   EG_OK);
  assert_int_equal(eg_metric_set(lg, (const char *const[]){"retry"}, -INFINITY),
                   EG_OK);
  assert_int_equal(
      eg_metric_set(lg, (const char *const[]){"dlq"}, 0.30000000000000004),
      EG_OK);
  assert_render(reg, "# HELP envgate_inflight In flight.\n"
                     "# TYPE envgate_inflight gauge\n"
                     "envgate_inflight NaN\n"
                     "# HELP envgate_lag Consumer lag.\n"
                     "# TYPE envgate_lag gauge\n"
                     "envgate_lag{topic=\"events\"} +Inf\n"
                     "envgate_lag{topic=\"retry\"} -Inf\n"
                     "envgate_lag{topic=\"dlq\"} 0.30000000000000004\n"
                     "envgate_lag{topic=\"decisions\"} -1\n");
  eg_metrics_free(reg);
}

static void test_histogram(void **state) {
  static const double bounds[] = {0.005, 0.1, 1, 2.5};
  static const char *const labels[] = {"status"};
  eg_metrics_t *reg;
  eg_metric_t *h, *lh;
  eg_series_t *s;

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_int_equal(eg_metrics_histogram(reg, "envgate_latency_seconds",
                                        "Latency.", NULL, 0, bounds, 4, &h,
                                        NULL, 0),
                   EG_OK);
  assert_int_equal(eg_metrics_histogram(reg, "envgate_req_seconds", "Requests.",
                                        labels, 1, bounds, 2, &lh, NULL, 0),
                   EG_OK);
  assert_render(reg, "# HELP envgate_latency_seconds Latency.\n"
                     "# TYPE envgate_latency_seconds histogram\n"
                     "envgate_latency_seconds_bucket{le=\"0.005\"} 0\n"
                     "envgate_latency_seconds_bucket{le=\"0.1\"} 0\n"
                     "envgate_latency_seconds_bucket{le=\"1\"} 0\n"
                     "envgate_latency_seconds_bucket{le=\"2.5\"} 0\n"
                     "envgate_latency_seconds_bucket{le=\"+Inf\"} 0\n"
                     "envgate_latency_seconds_sum 0\n"
                     "envgate_latency_seconds_count 0\n"
                     "# HELP envgate_req_seconds Requests.\n"
                     "# TYPE envgate_req_seconds histogram\n");
  assert_int_equal(eg_metric_series(h, NULL, &s), EG_OK);
  assert_int_equal(eg_series_observe(s, 0.05), EG_OK);
  assert_int_equal(eg_series_observe(s, 0.5), EG_OK);
  assert_int_equal(eg_series_observe(s, 0.75), EG_OK);
  assert_int_equal(eg_metric_observe(h, NULL, 10), EG_OK);
  assert_int_equal(eg_metric_observe(lh, (const char *const[]){"202"}, 0.001),
                   EG_OK);
  assert_int_equal(eg_metric_observe(lh, (const char *const[]){"202"}, 3),
                   EG_OK);
  assert_int_equal(eg_metric_observe(lh, (const char *const[]){"503"}, 0.05),
                   EG_OK);
  assert_render(reg,
                "# HELP envgate_latency_seconds Latency.\n"
                "# TYPE envgate_latency_seconds histogram\n"
                "envgate_latency_seconds_bucket{le=\"0.005\"} 0\n"
                "envgate_latency_seconds_bucket{le=\"0.1\"} 1\n"
                "envgate_latency_seconds_bucket{le=\"1\"} 3\n"
                "envgate_latency_seconds_bucket{le=\"2.5\"} 3\n"
                "envgate_latency_seconds_bucket{le=\"+Inf\"} 4\n"
                "envgate_latency_seconds_sum 11.3\n"
                "envgate_latency_seconds_count 4\n"
                "# HELP envgate_req_seconds Requests.\n"
                "# TYPE envgate_req_seconds histogram\n"
                "envgate_req_seconds_bucket{status=\"202\",le=\"0.005\"} 1\n"
                "envgate_req_seconds_bucket{status=\"202\",le=\"0.1\"} 1\n"
                "envgate_req_seconds_bucket{status=\"202\",le=\"+Inf\"} 2\n"
                "envgate_req_seconds_sum{status=\"202\"} 3.001\n"
                "envgate_req_seconds_count{status=\"202\"} 2\n"
                "envgate_req_seconds_bucket{status=\"503\",le=\"0.005\"} 0\n"
                "envgate_req_seconds_bucket{status=\"503\",le=\"0.1\"} 1\n"
                "envgate_req_seconds_bucket{status=\"503\",le=\"+Inf\"} 1\n"
                "envgate_req_seconds_sum{status=\"503\"} 0.05\n"
                "envgate_req_seconds_count{status=\"503\"} 1\n");
  eg_metrics_free(reg);
}

/* le is inclusive: a value equal to a bound counts in that bucket; the next
 * double above it does not. */
static void test_bucket_boundaries(void **state) {
  static const double bounds[] = {-1, 0, 1, 10};
  static const struct {
    double v;
    size_t bucket; /* index of the first bucket it counts in; 4 = +Inf */
  } cases[] = {
      {-INFINITY, 0},
      {-2, 0},
      {-1, 0},
      {-0.999999, 1},
      {-0.0, 1},
      {0, 1},
      {4.9406564584124654e-324, 2},
      {1, 2},
      {1.0000000000000002, 3},
      {10, 3},
      {10.000000000000002, 4},
      {1e300, 4},
      {INFINITY, 4},
  };
  static const char *const les[] = {"-1", "0", "1", "10", "+Inf"};

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    eg_metrics_t *reg;
    eg_metric_t *h;
    char *text;

    assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
    assert_int_equal(
        eg_metrics_histogram(reg, "h", "b", NULL, 0, bounds, 4, &h, NULL, 0),
        EG_OK);
    assert_int_equal(eg_metric_observe(h, NULL, cases[i].v), EG_OK);
    text = render(reg);
    for (size_t b = 0; b < 5; b++) {
      char series[64];
      snprintf(series, sizeof(series), "h_bucket{le=\"%s\"}", les[b]);
      assert_true(series_value(text, series) ==
                  (b >= cases[i].bucket ? 1.0 : 0.0));
    }
    assert_true(series_value(text, "h_count") == 1.0);
    free(text);
    eg_metrics_free(reg);
  }
}

static void test_escaping(void **state) {
  static const char *const labels[] = {"path", "why"};
  eg_metrics_t *reg;
  eg_metric_t *c;

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  /* HELP escapes backslash and newline but leaves quotes alone. */
  assert_int_equal(eg_metrics_counter(reg, "c_total",
                                      "A \"quoted\" C:\\path\nnext line",
                                      labels, 2, &c, NULL, 0),
                   EG_OK);
  assert_int_equal(
      eg_metric_inc(c, (const char *const[]){"C:\\dir\\", "say \"hi\"\n"}),
      EG_OK);
  assert_int_equal(
      eg_metric_inc(c,
                    (const char *const[]){"caf\xc3\xa9 \xe2\x82\xac", "{}=,"}),
      EG_OK);
  assert_render(reg,
                "# HELP c_total A \"quoted\" C:\\\\path\\nnext line\n"
                "# TYPE c_total counter\n"
                "c_total{path=\"C:\\\\dir\\\\\",why=\"say \\\"hi\\\"\\n\"} 1\n"
                "c_total{path=\"caf\xc3\xa9 \xe2\x82\xac\",why=\"{}=,\"} 1\n");
  eg_metrics_free(reg);
}

static void test_counter_rules(void **state) {
  eg_metrics_t *reg;
  eg_metric_t *c;
  eg_series_t *s;

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_int_equal(
      eg_metrics_counter(reg, "c_total", "c", NULL, 0, &c, NULL, 0), EG_OK);
  assert_int_equal(eg_metric_series(c, NULL, &s), EG_OK);
  /* Counters only go up, by finite amounts; refused calls change nothing. */
  assert_int_equal(eg_series_add(s, -1), EG_EINVAL);
  assert_int_equal(eg_series_add(s, NAN), EG_EINVAL);
  assert_int_equal(eg_series_add(s, INFINITY), EG_EINVAL);
  assert_int_equal(eg_series_dec(s), EG_EINVAL);
  assert_int_equal(eg_series_set(s, 5), EG_EINVAL);
  assert_int_equal(eg_series_observe(s, 5), EG_EINVAL);
  assert_int_equal(eg_metric_set(c, NULL, 5), EG_EINVAL);
  assert_int_equal(eg_metric_dec(c, NULL), EG_EINVAL);
  assert_int_equal(eg_metric_observe(c, NULL, 5), EG_EINVAL);
  assert_int_equal(eg_series_add(s, 0), EG_OK);
  assert_int_equal(eg_series_add(s, 3), EG_OK);
  assert_int_equal(eg_series_add(s, 0.25), EG_OK);
  assert_render(reg, "# HELP c_total c\n"
                     "# TYPE c_total counter\n"
                     "c_total 3.25\n");
  /* 2^53 and above go through the floating-point part. */
  assert_int_equal(eg_series_add(s, 1e20), EG_OK);
  assert_render(reg, "# HELP c_total c\n"
                     "# TYPE c_total counter\n"
                     "c_total 1e+20\n");
  eg_metrics_free(reg);
}

static void test_gauge_and_histogram_rules(void **state) {
  static const double bounds[] = {1};
  eg_metrics_t *reg;
  eg_metric_t *g, *h;
  eg_series_t *gs, *hs;

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_int_equal(eg_metrics_gauge(reg, "g", "g", NULL, 0, &g, NULL, 0),
                   EG_OK);
  assert_int_equal(
      eg_metrics_histogram(reg, "h", "h", NULL, 0, bounds, 1, &h, NULL, 0),
      EG_OK);
  assert_int_equal(eg_metric_series(g, NULL, &gs), EG_OK);
  assert_int_equal(eg_metric_series(h, NULL, &hs), EG_OK);
  assert_int_equal(eg_series_add(gs, NAN), EG_EINVAL);
  assert_int_equal(eg_series_add(gs, INFINITY), EG_EINVAL);
  assert_int_equal(eg_series_observe(gs, 1), EG_EINVAL);
  assert_int_equal(eg_series_observe(hs, NAN), EG_EINVAL);
  assert_int_equal(eg_series_inc(hs), EG_EINVAL);
  assert_int_equal(eg_series_dec(hs), EG_EINVAL);
  assert_int_equal(eg_series_add(hs, 1), EG_EINVAL);
  assert_int_equal(eg_series_set(hs, 1), EG_EINVAL);
  assert_int_equal(eg_metric_inc(h, NULL), EG_EINVAL);
  assert_int_equal(eg_metric_add(h, NULL, 1), EG_EINVAL);
  assert_render(reg, "# HELP g g\n"
                     "# TYPE g gauge\n"
                     "g 0\n"
                     "# HELP h h\n"
                     "# TYPE h histogram\n"
                     "h_bucket{le=\"1\"} 0\n"
                     "h_bucket{le=\"+Inf\"} 0\n"
                     "h_sum 0\n"
                     "h_count 0\n");
  eg_metrics_free(reg);
}

static void test_invalid_names(void **state) {
  static const struct {
    const char *name;
    const char *label; /* NULL: no label */
    int histogram;
    const char *err; /* substring of errbuf */
  } cases[] = {
      {"", NULL, 0, "must match"},
      {"1abc", NULL, 0, "must match"},
      {"a-b", NULL, 0, "must match"},
      {"a b", NULL, 0, "must match"},
      {"caf\xc3\xa9", NULL, 0, "must match"},
      {"ok", "", 0, "label name"},
      {"ok", "1x", 0, "label name"},
      {"ok", "a:b", 0, "label name"},
      {"ok", "__name__", 0, "label name"},
      {"ok", "__x", 0, "label name"},
      {"ok", "a-b", 0, "label name"},
      {"ok", "le", 1, "reserved for histogram"},
  };
  static const char *const good[] = {"a", "_a", ":a", "a:b_c9", "A_Z"};
  static const double bounds[] = {1};
  char longname[EG_METRICS_MAX_NAME_LEN + 2];
  eg_metrics_t *reg;
  eg_metric_t *m;
  char errbuf[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *labels[1] = {cases[i].label};
    size_t nl = cases[i].label != NULL ? 1 : 0;
    int rc;

    errbuf[0] = '\0';
    m = (eg_metric_t *)&errbuf;
    if (cases[i].histogram)
      rc = eg_metrics_histogram(reg, cases[i].name, "h", labels, nl, bounds, 1,
                                &m, errbuf, sizeof(errbuf));
    else
      rc = eg_metrics_counter(reg, cases[i].name, "h", labels, nl, &m, errbuf,
                              sizeof(errbuf));
    assert_int_equal(rc, EG_EINVAL);
    assert_null(m);
    if (strstr(errbuf, cases[i].err) == NULL)
      fail_msg("case %zu: errbuf \"%s\" lacks \"%s\"", i, errbuf, cases[i].err);
    assert_null(strchr(errbuf, '\n'));
  }
  /* "le" is an ordinary label outside histograms. */
  assert_int_equal(eg_metrics_counter(reg, "le_ok", "h",
                                      (const char *const[]){"le"}, 1, &m, NULL,
                                      0),
                   EG_OK);
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_int_equal(eg_metrics_gauge(reg, good[i], "h", NULL, 0, &m, errbuf,
                                      sizeof(errbuf)),
                     EG_OK);
  /* Lengths: names up to the limit, not beyond. */
  memset(longname, 'n', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(
      eg_metrics_gauge(reg, longname, "h", NULL, 0, &m, errbuf, sizeof(errbuf)),
      EG_EINVAL);
  longname[EG_METRICS_MAX_NAME_LEN] = '\0';
  assert_int_equal(
      eg_metrics_gauge(reg, longname, "h", NULL, 0, &m, errbuf, sizeof(errbuf)),
      EG_OK);
  /* Duplicate labels, too many labels. */
  assert_int_equal(eg_metrics_counter(reg, "dup", "h",
                                      (const char *const[]){"a", "b", "a"}, 3,
                                      &m, errbuf, sizeof(errbuf)),
                   EG_EINVAL);
  assert_non_null(strstr(errbuf, "appears twice"));
  {
    const char *many[EG_METRICS_MAX_LABELS + 1];
    char names[EG_METRICS_MAX_LABELS + 1][8];
    for (size_t i = 0; i <= EG_METRICS_MAX_LABELS; i++) {
      snprintf(names[i], sizeof(names[i]), "l%zu", i);
      many[i] = names[i];
    }
    assert_int_equal(eg_metrics_counter(reg, "many", "h", many,
                                        EG_METRICS_MAX_LABELS + 1, &m, errbuf,
                                        sizeof(errbuf)),
                     EG_EINVAL);
    assert_int_equal(eg_metrics_counter(reg, "many", "h", many,
                                        EG_METRICS_MAX_LABELS, &m, errbuf,
                                        sizeof(errbuf)),
                     EG_OK);
  }
  /* Help must be UTF-8 and bounded. */
  assert_int_equal(eg_metrics_counter(reg, "badhelp", "\xff", NULL, 0, &m,
                                      errbuf, sizeof(errbuf)),
                   EG_EINVAL);
  assert_non_null(strstr(errbuf, "help"));
  {
    char help[EG_METRICS_MAX_HELP_LEN + 2];
    memset(help, 'h', sizeof(help) - 1);
    help[sizeof(help) - 1] = '\0';
    assert_int_equal(eg_metrics_counter(reg, "longhelp", help, NULL, 0, &m,
                                        errbuf, sizeof(errbuf)),
                     EG_EINVAL);
  }
  /* Same name twice, any type; names the registry renders itself. */
  assert_int_equal(
      eg_metrics_counter(reg, "a", "h", NULL, 0, &m, errbuf, sizeof(errbuf)),
      EG_EEXIST);
  assert_null(m);
  assert_non_null(strstr(errbuf, "already registered"));
  assert_int_equal(eg_metrics_gauge(reg, "process_open_fds", "h", NULL, 0, &m,
                                    errbuf, sizeof(errbuf)),
                   EG_EEXIST);
  assert_int_equal(eg_metrics_counter(reg,
                                      "envgate_metrics_series_dropped_total",
                                      "h", NULL, 0, &m, errbuf, sizeof(errbuf)),
                   EG_EEXIST);
  eg_metrics_free(reg);
}

static void test_invalid_buckets(void **state) {
  static const struct {
    double b[3];
    size_t n;
  } cases[] = {
      {{1, 1, 2}, 3},   {{2, 1, 3}, 3},         {{1, 2, INFINITY}, 3},
      {{NAN, 1, 2}, 3}, {{-INFINITY, 0, 1}, 3}, {{1, 2, 3}, 0},
  };
  eg_metrics_t *reg;
  eg_metric_t *m;
  char errbuf[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    errbuf[0] = '\0';
    assert_int_equal(eg_metrics_histogram(reg, "h", "h", NULL, 0, cases[i].b,
                                          cases[i].n, &m, errbuf,
                                          sizeof(errbuf)),
                     EG_EINVAL);
    assert_non_null(strstr(errbuf, "bucket"));
  }
  assert_int_equal(eg_metrics_histogram(reg, "h", "h", NULL, 0, NULL, 1, &m,
                                        errbuf, sizeof(errbuf)),
                   EG_EINVAL);
  {
    double many[EG_METRICS_MAX_BUCKETS + 1];
    for (size_t i = 0; i <= EG_METRICS_MAX_BUCKETS; i++)
      many[i] = (double)i;
    assert_int_equal(eg_metrics_histogram(reg, "h", "h", NULL, 0, many,
                                          EG_METRICS_MAX_BUCKETS + 1, &m,
                                          errbuf, sizeof(errbuf)),
                     EG_EINVAL);
    assert_int_equal(eg_metrics_histogram(reg, "h", "h", NULL, 0, many,
                                          EG_METRICS_MAX_BUCKETS, &m, errbuf,
                                          sizeof(errbuf)),
                     EG_OK);
  }
  eg_metrics_free(reg);
}

static void test_null_args(void **state) {
  static const char *const labels[] = {"a"};
  static const double bounds[] = {1};
  eg_metrics_t *reg;
  eg_metric_t *m, *lm;
  eg_series_t *s;
  char *text;
  size_t len;
  char errbuf[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(eg_metrics_new(0, NULL), EG_EINVAL);
  reg = (eg_metrics_t *)&len;
  assert_int_equal(eg_metrics_new(0x80, &reg), EG_EINVAL);
  assert_null(reg);
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);

  assert_int_equal(
      eg_metrics_counter(NULL, "c", "h", NULL, 0, &m, errbuf, sizeof(errbuf)),
      EG_EINVAL);
  assert_int_equal(eg_metrics_counter(reg, NULL, "h", NULL, 0, &m, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_metrics_counter(reg, "c", NULL, NULL, 0, &m, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_metrics_counter(reg, "c", "h", NULL, 0, NULL, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_metrics_counter(reg, "c", "h", NULL, 1, &m, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_metrics_gauge(reg, "c", "h", (const char *const[]){NULL},
                                    1, &m, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_metrics_gauge(NULL, "g", "h", NULL, 0, &m, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(
      eg_metrics_histogram(NULL, "h", "h", NULL, 0, bounds, 1, &m, NULL, 0),
      EG_EINVAL);

  assert_int_equal(eg_metrics_counter(reg, "c", "h", NULL, 0, &m, NULL, 0),
                   EG_OK);
  assert_int_equal(eg_metrics_counter(reg, "lc", "h", labels, 1, &lm, NULL, 0),
                   EG_OK);
  assert_int_equal(eg_metric_series(NULL, NULL, &s), EG_EINVAL);
  assert_null(s);
  assert_int_equal(eg_metric_series(m, NULL, NULL), EG_EINVAL);
  assert_int_equal(eg_metric_series(lm, NULL, &s), EG_EINVAL);
  assert_int_equal(eg_metric_series(lm, (const char *const[]){NULL}, &s),
                   EG_EINVAL);
  assert_int_equal(eg_metric_inc(lm, NULL), EG_EINVAL);
  assert_int_equal(eg_metric_inc(NULL, NULL), EG_EINVAL);
  assert_int_equal(eg_metric_dec(NULL, NULL), EG_EINVAL);
  assert_int_equal(eg_metric_add(NULL, NULL, 1), EG_EINVAL);
  assert_int_equal(eg_metric_set(NULL, NULL, 1), EG_EINVAL);
  assert_int_equal(eg_metric_observe(NULL, NULL, 1), EG_EINVAL);
  assert_int_equal(eg_series_inc(NULL), EG_EINVAL);
  assert_int_equal(eg_series_dec(NULL), EG_EINVAL);
  assert_int_equal(eg_series_add(NULL, 1), EG_EINVAL);
  assert_int_equal(eg_series_set(NULL, 1), EG_EINVAL);
  assert_int_equal(eg_series_observe(NULL, 1), EG_EINVAL);

  assert_int_equal(eg_metrics_render(NULL, &text, &len), EG_EINVAL);
  assert_null(text);
  assert_int_equal(len, 0);
  assert_int_equal(eg_metrics_render(reg, NULL, &len), EG_EINVAL);
  assert_int_equal(eg_metrics_render(reg, &text, NULL), EG_EINVAL);
  assert_null(text);
  /* Nothing above left a trace. */
  assert_render(reg, "# HELP c h\n# TYPE c counter\nc 0\n"
                     "# HELP lc h\n# TYPE lc counter\n");
  eg_metrics_free(reg);
  eg_metrics_free(NULL);
}

static void test_label_values(void **state) {
  static const char *const labels[] = {"v"};
  char value[EG_METRICS_MAX_VALUE_LEN + 2];
  eg_metrics_t *reg;
  eg_metric_t *c;
  eg_series_t *s;
  static const char *const bad_utf8[] = {"\xff",         "\xc3",
                                         "\xc0\xaf",     "\xe0\x80\xaf",
                                         "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                         "a\x80"};

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_int_equal(eg_metrics_counter(reg, "c", "h", labels, 1, &c, NULL, 0),
                   EG_OK);
  for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++)
    assert_int_equal(eg_metric_inc(c, (const char *const[]){bad_utf8[i]}),
                     EG_EINVAL);
  memset(value, 'v', sizeof(value) - 1);
  value[sizeof(value) - 1] = '\0';
  assert_int_equal(eg_metric_series(c, (const char *const[]){value}, &s),
                   EG_ETOOBIG);
  assert_null(s);
  value[EG_METRICS_MAX_VALUE_LEN] = '\0';
  assert_int_equal(eg_metric_series(c, (const char *const[]){value}, &s),
                   EG_OK);
  /* Largest code points of each length are fine. */
  assert_int_equal(
      eg_metric_inc(c, (const char *const[]){"\x7f\xdf\xbf\xef\xbf\xbf"
                                             "\xf4\x8f\xbf\xbf"}),
      EG_OK);
  eg_metrics_free(reg);
}

/* Past EG_METRICS_MAX_SERIES, new values are refused and counted while the
 * existing series keep working; the table has grown several times and still
 * finds every series. */
static void test_series_limit(void **state) {
  static const char *const labels[] = {"id"};
  eg_series_t *first[EG_METRICS_MAX_SERIES];
  eg_metrics_t *reg;
  eg_metric_t *c, *other;
  eg_series_t *s;
  char id[16];
  char *text;

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_int_equal(eg_metrics_counter(reg, "c", "h", labels, 1, &c, NULL, 0),
                   EG_OK);
  assert_int_equal(
      eg_metrics_gauge(reg, "other", "h", labels, 1, &other, NULL, 0), EG_OK);
  for (int i = 0; i < EG_METRICS_MAX_SERIES; i++) {
    snprintf(id, sizeof(id), "%d", i);
    assert_int_equal(eg_metric_series(c, (const char *const[]){id}, &first[i]),
                     EG_OK);
  }
  for (int i = 0; i < EG_METRICS_MAX_SERIES; i++) {
    snprintf(id, sizeof(id), "%d", i);
    assert_int_equal(eg_metric_series(c, (const char *const[]){id}, &s), EG_OK);
    assert_ptr_equal(s, first[i]);
    assert_int_equal(eg_metric_inc(c, (const char *const[]){id}), EG_OK);
  }
  assert_int_equal(eg_metric_series(c, (const char *const[]){"new"}, &s),
                   EG_ERANGE);
  assert_null(s);
  assert_int_equal(eg_metric_inc(c, (const char *const[]){"new"}), EG_ERANGE);
  assert_int_equal(eg_metric_inc(c, (const char *const[]){"newer"}), EG_ERANGE);
  assert_int_equal(eg_metric_inc(c, (const char *const[]){"999"}), EG_OK);
  /* The limit is per family. */
  assert_int_equal(eg_metric_set(other, (const char *const[]){"new"}, 1),
                   EG_OK);
  text = render(reg);
  assert_true(series_value(text, "c{id=\"0\"}") == 1.0);
  assert_true(series_value(text, "c{id=\"999\"}") == 2.0);
  assert_null(strstr(text, "c{id=\"new\"}"));
  assert_non_null(
      strstr(text, "# TYPE envgate_metrics_series_dropped_total counter\n"
                   "envgate_metrics_series_dropped_total{family=\"c\"} 3\n"));
  assert_null(strstr(text, "{family=\"other\"}"));
  free(text);
  eg_metrics_free(reg);
}

static void test_process_metrics(void **state) {
  eg_metrics_t *reg;
  eg_metric_t *c;
  char *text;
  double start;
  static const char *const families[] = {
      "# TYPE process_start_time_seconds gauge\n",
      "# TYPE process_cpu_seconds_total counter\n",
      "# TYPE process_resident_memory_bytes gauge\n",
      "# TYPE process_virtual_memory_bytes gauge\n",
      "# TYPE process_open_fds gauge\n",
  };

  (void)state;
  assert_int_equal(eg_metrics_new(EG_METRICS_PROCESS, &reg), EG_OK);
  assert_int_equal(eg_metrics_counter(reg, "c", "h", NULL, 0, &c, NULL, 0),
                   EG_OK);
  text = render(reg);
  {
    static const char head[] = "# HELP c h\n# TYPE c counter\nc 0\n";
    assert_true(strncmp(text, head, strlen(head)) == 0);
  }
  for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
    assert_non_null(strstr(text, families[i]));
  start = series_value(text, "process_start_time_seconds");
  /* Started after 2020 and not in the future. */
  assert_true(start > 1577836800.0);
  assert_true(start <= (double)time(NULL) + 1);
  assert_true(series_value(text, "process_cpu_seconds_total") >= 0);
  assert_true(series_value(text, "process_resident_memory_bytes") > 4096);
  assert_true(series_value(text, "process_virtual_memory_bytes") >=
              series_value(text, "process_resident_memory_bytes"));
  /* stdin, stdout and stderr at least. */
  assert_true(series_value(text, "process_open_fds") >= 3);
  assert_int_equal(text[strlen(text) - 1], '\n');
  free(text);
  eg_metrics_free(reg);
}

/* Concurrency: threads observe through kept handles and through label
 * lookups, creating the same new series at the same time; every update must
 * be counted exactly once. */
#define THREADS    4
#define ITERATIONS 20000

struct shared {
  eg_series_t *hot;
  eg_metric_t *by_status;
  eg_metric_t *inflight;
  eg_metric_t *latency;
  eg_metric_t *fraction;
};

static void *worker(void *arg) {
  struct shared *sh = arg;
  static const char *const statuses[] = {"202", "204", "400",
                                         "401", "413", "503"};
  char key[16];

  for (int i = 0; i < ITERATIONS; i++) {
    const char *status = statuses[i % 6];

    eg_series_inc(sh->hot);
    eg_metric_inc(sh->by_status, (const char *const[]){status});
    /* A fresh series every 100 iterations, the same for every thread. */
    snprintf(key, sizeof(key), "k%d", i / 100);
    eg_metric_inc(sh->by_status, (const char *const[]){key});
    eg_metric_inc(sh->inflight, NULL);
    eg_metric_observe(sh->latency, (const char *const[]){status},
                      (double)(i % 4));
    eg_metric_add(sh->fraction, NULL, 0.5);
    eg_metric_dec(sh->inflight, NULL);
  }
  return NULL;
}

static void test_concurrency(void **state) {
  static const double bounds[] = {0, 1, 2};
  static const char *const labels[] = {"status"};
  pthread_t threads[THREADS];
  struct shared sh;
  eg_metrics_t *reg;
  eg_metric_t *hot;
  char *text;
  char series[64];

  (void)state;
  assert_int_equal(eg_metrics_new(0, &reg), EG_OK);
  assert_int_equal(eg_metrics_counter(reg, "hot", "h", NULL, 0, &hot, NULL, 0),
                   EG_OK);
  assert_int_equal(eg_metric_series(hot, NULL, &sh.hot), EG_OK);
  assert_int_equal(eg_metrics_counter(reg, "by_status", "h", labels, 1,
                                      &sh.by_status, NULL, 0),
                   EG_OK);
  assert_int_equal(
      eg_metrics_gauge(reg, "inflight", "h", NULL, 0, &sh.inflight, NULL, 0),
      EG_OK);
  assert_int_equal(eg_metrics_histogram(reg, "latency", "h", labels, 1, bounds,
                                        3, &sh.latency, NULL, 0),
                   EG_OK);
  assert_int_equal(
      eg_metrics_counter(reg, "fraction", "h", NULL, 0, &sh.fraction, NULL, 0),
      EG_OK);
  for (int t = 0; t < THREADS; t++)
    assert_int_equal(pthread_create(&threads[t], NULL, worker, &sh), 0);
  /* Render while the threads run: it must not disturb them. */
  for (int r = 0; r < 5; r++) {
    text = render(reg);
    free(text);
  }
  for (int t = 0; t < THREADS; t++)
    assert_int_equal(pthread_join(threads[t], NULL), 0);

  text = render(reg);
  assert_true(series_value(text, "hot") == (double)THREADS * ITERATIONS);
  assert_true(series_value(text, "by_status{status=\"202\"}") ==
              (double)THREADS * (ITERATIONS / 6 + 1));
  assert_true(series_value(text, "by_status{status=\"503\"}") ==
              (double)THREADS * (ITERATIONS / 6));
  for (int k = 0; k < ITERATIONS / 100; k++) {
    snprintf(series, sizeof(series), "by_status{status=\"k%d\"}", k);
    assert_true(series_value(text, series) == (double)THREADS * 100);
  }
  assert_true(series_value(text, "inflight") == 0);
  assert_true(series_value(text, "fraction") ==
              (double)THREADS * ITERATIONS * 0.5);
  assert_true(series_value(text, "latency_count{status=\"202\"}") ==
              (double)THREADS * (ITERATIONS / 6 + 1));
  /* Status "202" is i % 6 == 0, so i % 4 is 0 or 2 alternately. */
  assert_true(series_value(text, "latency_bucket{status=\"202\",le=\"0\"}") ==
              (double)THREADS * ((ITERATIONS / 6 + 1) / 2));
  assert_true(series_value(text, "latency_bucket{status=\"202\",le=\"1\"}") ==
              (double)THREADS * ((ITERATIONS / 6 + 1) / 2));
  assert_true(series_value(text, "latency_bucket{status=\"202\",le=\"2\"}") ==
              (double)THREADS * (ITERATIONS / 6 + 1));
  free(text);
  eg_metrics_free(reg);
}

#if OOM_INJECTION
/* Builds a small registry, growing a series table twice, and renders it. */
static int oom_scenario(void) {
  static const char *const labels[] = {"v"};
  static const double bounds[] = {1, 2};
  eg_metrics_t *reg;
  eg_metric_t *c, *h;
  char *text;
  size_t len;
  char value[8];
  int rc;

  rc = eg_metrics_new(EG_METRICS_PROCESS, &reg);
  if (rc != EG_OK)
    return rc;
  rc = eg_metrics_counter(reg, "c", "h", labels, 1, &c, NULL, 0);
  if (rc == EG_OK)
    rc = eg_metrics_histogram(reg, "h", "h", NULL, 0, bounds, 2, &h, NULL, 0);
  for (int i = 0; rc == EG_OK && i < 20; i++) {
    snprintf(value, sizeof(value), "%d", i);
    rc = eg_metric_inc(c, (const char *const[]){value});
  }
  if (rc == EG_OK)
    rc = eg_metric_observe(h, NULL, 1.5);
  if (rc == EG_OK) {
    rc = eg_metrics_render(reg, &text, &len);
    if (rc == EG_OK) {
      assert_non_null(strstr(text, "c{v=\"19\"} 1\n"));
      free(text);
    }
  }
  eg_metrics_free(reg);
  return rc;
}
#endif

/* Every allocation in turn fails: each call reports EG_ENOMEM and frees
 * what it built (valgrind checks the frees). */
static void test_out_of_memory(void **state) {
  (void)state;
#if OOM_INJECTION
  if (!oom_works())
    skip();
  for (long n = 0;; n++) {
    int rc;
    bool hit;

    oom_arm(n);
    rc = oom_scenario();
    hit = oom_disarm();
    /* A failed fopen() in render only leaves out a process metric. */
    if (rc != EG_OK)
      assert_true(hit && rc == EG_ENOMEM);
    if (!hit)
      break;
    assert_true(n < 10000);
  }
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_registry),
      cmocka_unit_test(test_counter_without_labels),
      cmocka_unit_test(test_counter_with_labels),
      cmocka_unit_test(test_gauge),
      cmocka_unit_test(test_histogram),
      cmocka_unit_test(test_bucket_boundaries),
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_counter_rules),
      cmocka_unit_test(test_gauge_and_histogram_rules),
      cmocka_unit_test(test_invalid_names),
      cmocka_unit_test(test_invalid_buckets),
      cmocka_unit_test(test_null_args),
      cmocka_unit_test(test_label_values),
      cmocka_unit_test(test_series_limit),
      cmocka_unit_test(test_process_metrics),
      cmocka_unit_test(test_concurrency),
      cmocka_unit_test(test_out_of_memory),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}

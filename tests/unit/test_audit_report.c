/* Tests for the audit's table, JSON and CSV output. */
#include "eg/audit_report.h"
#include "eg/error.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW 1714566896789LL /* 2024-05-01T12:34:56.789Z */
#define MIN 60000LL

#define D1 "11111111-0000-4000-8000-000000000001"
#define D2 "22222222-0000-4000-8000-000000000002"
#define D3 "33333333-0000-4000-8000-000000000003"
#define D4 "44444444-0000-4000-8000-000000000004"

static void add_event(eg_audit_t *a,
                      const char *delivery,
                      const char *repo,
                      uint64_t run,
                      const char *env_name,
                      const char *received_at,
                      bool sig_ok) {
  eg_envelope_t *env = malloc(sizeof(*env));
  eg_audit_copy_t c;
  char ref[64], ts[32];
  int64_t kafka_ts;

  eg_envelope_init(env);
  snprintf(env->delivery, sizeof(env->delivery), "%s", delivery);
  snprintf(env->signature, sizeof(env->signature), "sha256=x");
  snprintf(env->received_at, sizeof(env->received_at), "%s", received_at);
  if (eg_time_parse_rfc3339(received_at, &env->received_at_ms) != EG_OK)
    env->received_at_ms = -1;
  env->body_ok = true;
  snprintf(env->key, sizeof(env->key), "9/%llu/%s", (unsigned long long)run,
           env_name);
  snprintf(env->repository, sizeof(env->repository), "%s", repo);
  env->run_id = run;
  snprintf(env->environment, sizeof(env->environment), "%s", env_name);
  snprintf(ref, sizeof(ref), "envgate.events/0/%llu", (unsigned long long)run);
  /* The Kafka timestamp: the time in received_at, even when the header
   * carries more. */
  snprintf(ts, sizeof(ts), "%.24s", received_at);
  assert_int_equal(eg_time_parse_rfc3339(ts, &kafka_ts), EG_OK);
  c = (eg_audit_copy_t){.source = EG_AUDIT_EVENTS,
                        .ref = ref,
                        .timestamp_ms = kafka_ts,
                        .kafka_key = env->key,
                        .env = env,
                        .signature_ok = sig_ok};
  assert_int_equal(eg_audit_add_copy(a, &c), EG_OK);
  free(env);
}

static void add_decision(eg_audit_t *a, const char *json) {
  assert_int_equal(eg_audit_add_decision(a, "envgate.decisions/0/0", 0, NULL,
                                         json, strlen(json)),
                   EG_OK);
}

/* Four requests: approved after 2 s, rejected after 500 ms (comment with a
 * comma and quotes, control characters), pending (bad signature, invalid
 * UTF-8 in its received-at), and a duplicate of the approved one. */
static eg_audit_t *build(void) {
  eg_audit_t *a = NULL;
  eg_audit_opts_t opts = {.now_ms = NOW, .grace_ms = 1000000 * MIN};

  assert_int_equal(eg_audit_new(&a), EG_OK);
  add_event(a, D1, "o/r", 100, "release", "2024-05-01T12:00:00.000Z", true);
  add_decision(a, "{\"delivery\":\"" D1 "\",\"state\":\"approved\","
                  "\"comment\":\"ok\",\"attempts\":1,"
                  "\"decided_at\":\"2024-05-01T12:00:02.000Z\","
                  "\"github_status\":204}");
  add_event(a, D2, "o/other", 200, "Prodüction", "2024-05-01T12:01:00.000Z",
            true);
  add_decision(a, "{\"delivery\":\"" D2 "\",\"state\":\"rejected\","
                  "\"comment\":\"no, \\\"fork\\\"\\nline\",\"checks\":[{"
                  "\"name\":\"run\",\"passed\":false,\"detail\":\"from a "
                  "fork\\u0007\"}],\"attempts\":2,"
                  "\"decided_at\":\"2024-05-01T12:01:00.500Z\","
                  "\"github_status\":200}");
  add_event(a, D3, "o/r", 300, "release", "2024-05-01T12:02:00.000Z\xff",
            false);
  add_event(a, D4, "o/r", 100, "release", "2024-05-01T12:03:00.000Z", true);
  assert_int_equal(eg_audit_finish(a, &opts), EG_OK);
  return a;
}

/* Renders a into a string (free it). */
static char *render(const eg_audit_t *a,
                    const eg_audit_filter_t *f,
                    eg_audit_format_t format) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);

  assert_non_null(out);
  assert_int_equal(eg_audit_report_write(out, a, f, format), EG_OK);
  fclose(out);
  return buf;
}

static void test_json(void **state) {
  eg_audit_t *a = build();
  eg_audit_filter_t f = {.repository = "O/R"};
  char *got;

  (void)state;
  got = render(a, NULL, EG_AUDIT_FORMAT_JSON);
  assert_string_equal(
      got,
      "{\"key\":\"9/100/release\",\"delivery\":\"" D1 "\","
      "\"repository\":\"o/r\",\"run_id\":100,\"environment\":\"release\","
      "\"fate\":\"approved\",\"comment\":\"ok\",\"reason\":null,"
      "\"attempts\":1,\"received_at\":\"2024-05-01T12:00:00.000Z\","
      "\"decided_at\":\"2024-05-01T12:00:02.000Z\",\"signature\":\"ok\"}\n"
      "{\"key\":\"9/200/Prodüction\",\"delivery\":\"" D2 "\","
      "\"repository\":\"o/other\",\"run_id\":200,"
      "\"environment\":\"Prodüction\",\"fate\":\"rejected\","
      "\"comment\":\"no, \\\"fork\\\"\\nline\","
      "\"reason\":\"run: from a fork\\u0007\",\"attempts\":2,"
      "\"received_at\":\"2024-05-01T12:01:00.000Z\","
      "\"decided_at\":\"2024-05-01T12:01:00.500Z\",\"signature\":\"ok\"}\n"
      "{\"key\":\"9/300/release\",\"delivery\":\"" D3 "\","
      "\"repository\":\"o/r\",\"run_id\":300,\"environment\":\"release\","
      "\"fate\":\"pending\",\"comment\":null,\"reason\":null,\"attempts\":0,"
      "\"received_at\":\"2024-05-01T12:02:00.000Z\xEF\xBF\xBD\","
      "\"decided_at\":null,\"signature\":\"bad\"}\n"
      "{\"key\":\"9/100/release\",\"delivery\":\"" D4 "\","
      "\"repository\":\"o/r\",\"run_id\":100,\"environment\":\"release\","
      "\"fate\":\"approved\",\"comment\":\"ok\","
      "\"reason\":\"duplicate of " D1 "\",\"attempts\":1,"
      "\"received_at\":\"2024-05-01T12:03:00.000Z\","
      "\"decided_at\":\"2024-05-01T12:00:02.000Z\",\"signature\":\"ok\"}\n"
      "{\"summary\":{\"requests\":4,\"approved\":2,\"rejected\":1,"
      "\"retrying\":0,\"dead_lettered\":0,\"pending\":1,\"anomalies\":["
      "{\"kind\":\"bad-signature\",\"key\":\"9/300/release\","
      "\"detail\":\"envgate.events/0/300: hub-signature-256 does not "
      "verify\"}]}}\n");
  free(got);

  /* Filters apply to the lines, the counts and the anomalies. */
  f.fates = 1u << EG_AUDIT_APPROVED;
  got = render(a, &f, EG_AUDIT_FORMAT_JSON);
  assert_non_null(strstr(got, "\"delivery\":\"" D1 "\""));
  assert_null(strstr(got, "\"delivery\":\"" D2 "\""));
  assert_null(strstr(got, "\"delivery\":\"" D3 "\""));
  assert_non_null(strstr(got, "{\"summary\":{\"requests\":2,\"approved\":2,"
                              "\"rejected\":0,\"retrying\":0,"
                              "\"dead_lettered\":0,\"pending\":0,"
                              "\"anomalies\":[]}}\n"));
  free(got);
  eg_audit_free(a);
}

static void test_csv(void **state) {
  eg_audit_t *a = build();
  eg_audit_filter_t f = {.delivery = D2};
  char *got;

  (void)state;
  got = render(a, &f, EG_AUDIT_FORMAT_CSV);
  assert_string_equal(got, "key,delivery,repository,run_id,environment,fate,"
                           "comment,reason,attempts,received_at,decided_at,"
                           "signature\n"
                           "9/200/Prodüction," D2 ",o/other,200,Prodüction,"
                           "rejected,\"no, \"\"fork\"\"\nline\","
                           "run: from a fork\a,2,2024-05-01T12:01:00.000Z,"
                           "2024-05-01T12:01:00.500Z,ok\n");
  free(got);
  f.delivery = D3;
  got = render(a, &f, EG_AUDIT_FORMAT_CSV);
  assert_non_null(strstr(got, "\n9/300/release," D3 ",o/r,300,release,"
                              "pending,,,0,2024-05-01T12:02:00.000Z\xEF\xBF\xBD"
                              ",,bad\n"));
  free(got);
  eg_audit_free(a);
}

static void test_table(void **state) {
  eg_audit_t *a = build();
  char *got;

  (void)state;
  got = render(a, NULL, EG_AUDIT_FORMAT_TABLE);
  assert_string_equal(
      got,
      "DELIVERY                              REPOSITORY  RUN  ENVIRONMENT  "
      "FATE      ATTEMPTS  RECEIVED                   "
      "DECIDED                   SIG  REASON\n" D1
      "  o/r         100  release      approved  1         "
      "2024-05-01T12:00:00.000Z   2024-05-01T12:00:02.000Z  ok   ok\n" D2
      "  o/other     200  Prodüction   rejected  2         "
      "2024-05-01T12:01:00.000Z   2024-05-01T12:01:00.500Z  ok   "
      "run: from a fork?\n" D3
      "  o/r         300  release      pending   0         "
      "2024-05-01T12:02:00.000Z\xEF\xBF\xBD  -                         BAD  "
      "-\n" D4 "  o/r         100  release      approved  1         "
      "2024-05-01T12:03:00.000Z   2024-05-01T12:00:02.000Z  ok   "
      "duplicate of " D1 "\n"
      "\n"
      "requests: 4  approved: 2  rejected: 1  retrying: 0  dead-lettered: 0  "
      "pending: 1\n"
      "\n"
      "by repository:\n"
      "REPOSITORY  REQUESTS  APPROVED  REJECTED  RETRYING  DEAD-LETTERED  "
      "PENDING\n"
      "o/other     1         0         1         0         0              0\n"
      "o/r         3         2         0         0         0              1\n"
      "\n"
      "review latency (received to decided, 2 reviews): p50 500ms  p90 2.0s  "
      "p99 2.0s  max 2.0s\n"
      "\n"
      "anomalies: 1\n"
      "  bad-signature 9/300/release: envgate.events/0/300: "
      "hub-signature-256 does not verify\n");
  free(got);
  eg_audit_free(a);
}

static void test_table_empty_and_skipped(void **state) {
  eg_audit_t *a = NULL;
  eg_audit_opts_t opts = {.now_ms = NOW, .grace_ms = MIN, .partial = true};
  const char *dec = "{\"delivery\":\"x\",\"state\":\"approved\"}";
  char *got;

  (void)state;
  assert_int_equal(eg_audit_new(&a), EG_OK);
  assert_int_equal(eg_audit_add_decision(a, "d/0/0", 0, NULL, dec, strlen(dec)),
                   EG_OK);
  assert_int_equal(eg_audit_finish(a, &opts), EG_OK);
  got = render(a, NULL, EG_AUDIT_FORMAT_TABLE);
  assert_string_equal(got, "DELIVERY  REPOSITORY  RUN  ENVIRONMENT  FATE  "
                           "ATTEMPTS  RECEIVED  DECIDED  SIG  REASON\n"
                           "\n"
                           "requests: 0  approved: 0  rejected: 0  "
                           "retrying: 0  dead-lettered: 0  pending: 0\n"
                           "not checked: 1 decisions for events older than "
                           "the start time\n"
                           "\n"
                           "anomalies: none\n");
  free(got);
  got = render(a, NULL, EG_AUDIT_FORMAT_JSON);
  assert_string_equal(got, "{\"summary\":{\"requests\":0,\"approved\":0,"
                           "\"rejected\":0,\"retrying\":0,"
                           "\"dead_lettered\":0,\"pending\":0,"
                           "\"anomalies\":[]}}\n");
  free(got);
  eg_audit_free(a);
}

static void test_summary(void **state) {
  eg_audit_t *a = NULL;
  eg_audit_opts_t opts = {.now_ms = NOW, .grace_ms = MIN};
  eg_audit_summary_t sum;

  (void)state;
  /* 100 reviews taking 1..100 seconds. */
  assert_int_equal(eg_audit_new(&a), EG_OK);
  for (int i = 1; i <= 100; i++) {
    char d[64], json[256], at[EG_RFC3339_SIZE];

    snprintf(d, sizeof(d), "d-%03d", i);
    add_event(a, d, "o/r", (uint64_t)i, "release", "2024-05-01T12:00:00.000Z",
              true);
    eg_time_rfc3339(1714564800000LL + i * 1000LL, at, sizeof(at));
    snprintf(json, sizeof(json),
             "{\"delivery\":\"%s\",\"state\":\"approved\","
             "\"decided_at\":\"%s\",\"github_status\":204}",
             d, at);
    add_decision(a, json);
  }
  assert_int_equal(eg_audit_finish(a, &opts), EG_OK);
  assert_int_equal(eg_audit_summarize(a, NULL, &sum), EG_OK);
  assert_int_equal(sum.requests, 100);
  assert_int_equal(sum.fates[EG_AUDIT_APPROVED], 100);
  assert_int_equal(sum.anomalies, 0);
  assert_int_equal(sum.reviews, 100);
  assert_int_equal(sum.p50_ms, 50000);
  assert_int_equal(sum.p90_ms, 90000);
  assert_int_equal(sum.p99_ms, 99000);
  assert_int_equal(sum.max_ms, 100000);
  {
    char *got = render(a, &(eg_audit_filter_t){.delivery = "d-100"},
                       EG_AUDIT_FORMAT_TABLE);
    assert_non_null(strstr(got, "(received to decided, 1 reviews): p50 1m40s "
                                " p90 1m40s  p99 1m40s  max 1m40s\n"));
    free(got);
  }
  assert_int_equal(eg_audit_summarize(NULL, NULL, &sum), EG_EINVAL);
  assert_int_equal(eg_audit_summarize(a, NULL, NULL), EG_EINVAL);
  eg_audit_free(a);
}

static void test_errors(void **state) {
  eg_audit_t *a = build();
  eg_audit_format_t fmt;
  FILE *full;

  (void)state;
  assert_int_equal(eg_audit_format_parse("table", &fmt), EG_OK);
  assert_int_equal(fmt, EG_AUDIT_FORMAT_TABLE);
  assert_int_equal(eg_audit_format_parse("json", &fmt), EG_OK);
  assert_int_equal(fmt, EG_AUDIT_FORMAT_JSON);
  assert_int_equal(eg_audit_format_parse("csv", &fmt), EG_OK);
  assert_int_equal(fmt, EG_AUDIT_FORMAT_CSV);
  assert_int_equal(eg_audit_format_parse("xml", &fmt), EG_EINVAL);
  assert_int_equal(eg_audit_format_parse(NULL, &fmt), EG_EINVAL);
  assert_int_equal(eg_audit_format_parse("csv", NULL), EG_EINVAL);

  full = fopen("/dev/full", "w");
  assert_non_null(full);
  assert_int_equal(eg_audit_report_write(full, a, NULL, EG_AUDIT_FORMAT_JSON),
                   EG_EIO);
  fclose(full);
  assert_int_equal(eg_audit_report_write(NULL, a, NULL, EG_AUDIT_FORMAT_JSON),
                   EG_EINVAL);
  assert_int_equal(
      eg_audit_report_write(stdout, NULL, NULL, EG_AUDIT_FORMAT_JSON),
      EG_EINVAL);
  assert_int_equal(eg_audit_report_write(stdout, a, NULL, (eg_audit_format_t)3),
                   EG_EINVAL);
  assert_int_equal(eg_audit_report_anomalies(NULL, a, NULL), EG_EINVAL);
  {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    assert_int_equal(eg_audit_report_anomalies(out, a, NULL), EG_OK);
    fclose(out);
    assert_string_equal(buf, "  bad-signature 9/300/release: "
                             "envgate.events/0/300: hub-signature-256 does "
                             "not verify\n");
    free(buf);
  }
  eg_audit_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_csv),
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_table_empty_and_skipped),
      cmocka_unit_test(test_summary),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

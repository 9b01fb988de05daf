/* envgate-audit end to end: a scripted history written straight to the
 * development broker (approve, reject, retry then approve, dead letter, a
 * forged event, a duplicate review, a duplicate delivery, pending requests
 * young and old) gives exactly the expected JSON lines, table and CSV, and
 * the right exit codes; plus usage errors, an unreachable cluster and a
 * SIGTERM during a replay. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "eg/error.h"
#include "eg/signature.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"
#include "harness.h"

#define SECRET      "it-audit-secret-0123456789"
#define OLD_SECRET  "it-audit-old-secret-9876543210"
#define WRONG       "not-the-secret-at-all-0000"
#define MAX_RECORDS 32

#define DA "aaaaaaaa-0000-4000-8000-000000000001" /* approved */
#define DB "bbbbbbbb-0000-4000-8000-000000000002" /* rejected */
#define DC "cccccccc-0000-4000-8000-000000000003" /* retried, approved */
#define DD "dddddddd-0000-4000-8000-000000000004" /* dead letter */
#define DE "eeeeeeee-0000-4000-8000-000000000005" /* forged */
#define DF "ffffffff-0000-4000-8000-000000000006" /* reviewed twice ... */
#define DG "99999999-0000-4000-8000-000000000007" /* ... with this one */
#define DH "88888888-0000-4000-8000-000000000008" /* pending, old */
#define DI "77777777-0000-4000-8000-000000000009" /* pending, young */
#define DJ "66666666-0000-4000-8000-00000000000a" /* duplicate of DA */

/* Records to produce, one batch per topic; strings live in the arena. */
struct batch {
  eg_it_kafka_rec_t recs[MAX_RECORDS];
  const char *headers[MAX_RECORDS][24];
  char text[MAX_RECORDS][3][2048];
  size_t n;
};

static struct batch events, retry, dlq, decisions;

static char received[10][EG_RFC3339_SIZE]; /* received-at per scenario */

/* The webhook body of a gate request for run in o/r, environment env. */
static void body_for(char *out, size_t len, uint64_t run, const char *env) {
  snprintf(out, len,
           "{\"action\":\"requested\",\"environment\":\"%s\","
           "\"sha\":\"47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54\","
           "\"ref\":\"main\",\"event\":\"workflow_dispatch\","
           "\"deployment_callback_url\":\"https://api.github.com/repos/o/r/"
           "actions/runs/%llu/deployment_protection_rule\","
           "\"repository\":{\"id\":4242,\"name\":\"r\",\"full_name\":\"o/r\","
           "\"owner\":{\"login\":\"o\"}},\"installation\":{\"id\":99}}",
           env, (unsigned long long)run);
}

/* Adds a copy of the event of delivery (run, env) to b, signed with secret,
 * with extra header pairs (NULL-terminated). */
static void add_copy(struct batch *b,
                     const char *delivery,
                     uint64_t run,
                     const char *env,
                     const char *secret,
                     const char *received_at,
                     ...) {
  size_t i = b->n++;
  char *body = b->text[i][0], *sig = b->text[i][1], *key = b->text[i][2];
  size_t h = 0;
  va_list ap;
  const char *name;

  assert_true(i < MAX_RECORDS);
  body_for(body, sizeof(b->text[i][0]), run, env);
  assert_int_equal(eg_signature_compute(secret, body, strlen(body), sig, 128),
                   EG_OK);
  snprintf(key, 128, "4242/%llu/%s", (unsigned long long)run, env);
  for (char *p = key; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  b->headers[i][h++] = "github-event";
  b->headers[i][h++] = "deployment_protection_rule";
  b->headers[i][h++] = "github-delivery";
  b->headers[i][h++] = delivery;
  b->headers[i][h++] = "hub-signature-256";
  b->headers[i][h++] = sig;
  b->headers[i][h++] = "github-hook-id";
  b->headers[i][h++] = "12345";
  b->headers[i][h++] = "received-at";
  b->headers[i][h++] = received_at;
  va_start(ap, received_at);
  while ((name = va_arg(ap, const char *)) != NULL) {
    b->headers[i][h++] = name;
    b->headers[i][h++] = va_arg(ap, const char *);
  }
  va_end(ap);
  b->headers[i][h] = NULL;
  b->recs[i] = (eg_it_kafka_rec_t){.key = key,
                                   .value = body,
                                   .value_len = strlen(body),
                                   .headers = b->headers[i]};
}

static void add_decision(const char *delivery,
                         uint64_t run,
                         const char *state,
                         int status,
                         const char *decided_at) {
  size_t i = decisions.n++;
  char *json = decisions.text[i][0], *key = decisions.text[i][2];

  assert_true(i < MAX_RECORDS);
  snprintf(key, 128, "4242/%llu/release", (unsigned long long)run);
  snprintf(json, 2048,
           "{\"delivery\":\"%s\",\"repository\":\"o/r\",\"run_id\":%llu,"
           "\"environment\":\"release\","
           "\"sha\":\"47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54\","
           "\"state\":\"%s\",\"comment\":\"%s\",\"checks\":["
           "{\"name\":\"environment\",\"passed\":true,\"detail\":\"release\"},"
           "{\"name\":\"workflow\",\"passed\":%s,\"detail\":\"%s\"}],"
           "\"attempts\":%d,\"worker\":\"w-1\",\"decided_at\":\"%s\","
           "\"github_status\":%d}",
           delivery, (unsigned long long)run, state,
           strcmp(state, "approved") == 0
               ? "envgate: all checks passed"
               : "envgate: workflow .github/workflows/other.yml is not the "
                 "release workflow",
           strcmp(state, "approved") == 0 ? "true" : "false",
           strcmp(state, "approved") == 0
               ? "release.yml"
               : ".github/workflows/other.yml is not the release workflow",
           run == 300 ? 2 : 1, decided_at, status);
  decisions.recs[i] =
      (eg_it_kafka_rec_t){.key = key, .value = json, .value_len = strlen(json)};
}

/* Writes the whole history and fills received[]. */
static void script_history(eg_it_t *it, const eg_it_devbroker_t *db) {
  int64_t now = eg_time_epoch_ms();

  memset(&events, 0, sizeof(events));
  memset(&retry, 0, sizeof(retry));
  memset(&dlq, 0, sizeof(dlq));
  memset(&decisions, 0, sizeof(decisions));
  for (int i = 0; i < 6; i++)
    snprintf(received[i], sizeof(received[i]), "2024-05-01T10:00:0%d.000Z",
             i + 1);
  eg_time_rfc3339(now - 3600000, received[6], sizeof(received[6]));
  eg_time_rfc3339(now - 2000, received[7], sizeof(received[7]));
  eg_time_rfc3339(now - 1000, received[8], sizeof(received[8]));
  snprintf(received[9], sizeof(received[9]), "2024-05-01T10:00:07.000Z");

  /* Approved; signed with the older of two configured secrets. */
  add_copy(&events, DA, 100, "release", OLD_SECRET, received[0], NULL);
  add_decision(DA, 100, "approved", 204, "2024-05-01T10:00:03.000Z");
  /* Rejected. */
  add_copy(&events, DB, 200, "Release", SECRET, received[1], NULL);
  add_decision(DB, 200, "rejected", 200, "2024-05-01T10:00:02.500Z");
  /* Retried once, then approved. */
  add_copy(&events, DC, 300, "release", SECRET, received[2], NULL);
  add_copy(&retry, DC, 300, "release", SECRET, received[2], "envgate-attempt",
           "1", "envgate-not-before", "1714557604000", "envgate-last-error",
           "GitHub answered 502", NULL);
  add_decision(DC, 300, "approved", 204, "2024-05-01T10:00:13.000Z");
  /* Dead letter after 8 attempts. */
  add_copy(&events, DD, 400, "release", SECRET, received[3], NULL);
  add_copy(&dlq, DD, 400, "release", SECRET, received[3], "envgate-error-class",
           "exhausted", "envgate-error", "GitHub answered 503 8 times",
           "envgate-attempts", "8", "envgate-first-seen", received[3],
           "envgate-last-status", "503", NULL);
  /* Two deliveries for one gate, both reviewed. */
  add_copy(&events, DF, 600, "release", SECRET, received[4], NULL);
  add_copy(&events, DG, 600, "release", SECRET, received[5], NULL);
  add_decision(DF, 600, "approved", 204, "2024-05-01T10:00:06.000Z");
  add_decision(DG, 600, "approved", 204, "2024-05-01T10:00:07.000Z");
  /* Another delivery for DA's gate, skipped by the worker. */
  add_copy(&events, DJ, 100, "release", SECRET, received[9], NULL);
  /* Pending for an hour. */
  add_copy(&events, DH, 700, "release", SECRET, received[6], NULL);
  /* Forged: written straight to Kafka with a wrong secret. */
  add_copy(&events, DE, 500, "release", WRONG, received[7], NULL);
  /* Pending, just received. */
  add_copy(&events, DI, 800, "release", SECRET, received[8], NULL);

  EG_IT_MUST(it, eg_it_kafka_produce(it, db->bootstrap, "envgate.events",
                                     events.recs, events.n, NULL, 15000));
  EG_IT_MUST(it, eg_it_kafka_produce(it, db->bootstrap, "envgate.retry",
                                     retry.recs, retry.n, NULL, 15000));
  EG_IT_MUST(it, eg_it_kafka_produce(it, db->bootstrap, "envgate.dlq", dlq.recs,
                                     dlq.n, NULL, 15000));
  EG_IT_MUST(it, eg_it_kafka_produce(it, db->bootstrap, "envgate.decisions",
                                     decisions.recs, decisions.n, NULL, 15000));
}

/* Runs envgate-audit with args; returns its exit code, stdout and stderr
 * (free both). */
static int run_audit(eg_it_t *it,
                     const char *bootstrap,
                     const char *const *args,
                     char **out,
                     char **err) {
  const char *argv[16] = {"envgate-audit"};
  char brokers[512];
  const char *env[] = {brokers, "ENVGATE_WEBHOOK_SECRET_FILE=", NULL};
  const char *secrets_path;
  eg_it_proc_t *p;
  int status, n = 1;
  size_t len;
  static const char secrets[] = SECRET "\n" OLD_SECRET "\n";

  EG_IT_MUST(it, eg_it_write_file(it, "secrets", secrets, strlen(secrets),
                                  &secrets_path));
  {
    static char secret_env[1024];
    snprintf(secret_env, sizeof(secret_env), "ENVGATE_WEBHOOK_SECRET_FILE=%s",
             secrets_path);
    env[1] = secret_env;
  }
  snprintf(brokers, sizeof(brokers), "ENVGATE_KAFKA_BROKERS=%s", bootstrap);
  for (; args != NULL && *args != NULL; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  {
    eg_it_spawn_opts_t o = {.name = "audit", .argv = argv, .env = env};
    EG_IT_MUST(it, eg_it_run(it, &o, 60000, &status, &p));
  }
  EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), out, &len));
  EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_log_path(p), err, &len));
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* Appends s to the string in buf (len bytes). */
static void append(char *buf, size_t len, const char *s) {
  size_t used = strlen(buf);

  assert_true(used + strlen(s) < len);
  memcpy(buf + used, s, strlen(s) + 1);
}

/* The expected JSON line of one request. */
static void line(char *out,
                 size_t len,
                 const char *delivery,
                 uint64_t run,
                 const char *env,
                 const char *fate,
                 const char *comment,
                 const char *reason,
                 int attempts,
                 const char *received_at,
                 const char *decided_at,
                 const char *sig) {
  char c[256], r[256], d[64], key[64];

  snprintf(key, sizeof(key), "4242/%llu/release", (unsigned long long)run);
  snprintf(c, sizeof(c), comment != NULL ? "\"%s\"" : "null", comment);
  snprintf(r, sizeof(r), reason != NULL ? "\"%s\"" : "null", reason);
  snprintf(d, sizeof(d), decided_at != NULL ? "\"%s\"" : "null", decided_at);
  snprintf(out, len,
           "{\"key\":\"%s\",\"delivery\":\"%s\",\"repository\":\"o/r\","
           "\"run_id\":%llu,\"environment\":\"%s\",\"fate\":\"%s\","
           "\"comment\":%s,\"reason\":%s,\"attempts\":%d,"
           "\"received_at\":\"%s\",\"decided_at\":%s,\"signature\":\"%s\"}\n",
           key, delivery, (unsigned long long)run, env, fate, c, r, attempts,
           received_at, d, sig);
}

#define OK_COMMENT "envgate: all checks passed"
#define REJ_COMMENT                                                            \
  "envgate: workflow .github/workflows/other.yml is not the release workflow"
#define REJ_REASON                                                             \
  "workflow: .github/workflows/other.yml is not the release workflow"

static void test_history(void **state) {
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  char want[16384], l[1024], detail[512];
  char *out = NULL, *err = NULL;
  int rc;

  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
  script_history(it, &db);

  /* JSON: every line exactly, in receipt order. */
  rc = run_audit(it, db.bootstrap, (const char *[]){"--format", "json", NULL},
                 &out, &err);
  want[0] = '\0';
  line(l, sizeof(l), DA, 100, "release", "approved", OK_COMMENT, NULL, 1,
       received[0], "2024-05-01T10:00:03.000Z", "ok");
  append(want, sizeof(want), l);
  line(l, sizeof(l), DB, 200, "Release", "rejected", REJ_COMMENT, REJ_REASON, 1,
       received[1], "2024-05-01T10:00:02.500Z", "ok");
  append(want, sizeof(want), l);
  line(l, sizeof(l), DC, 300, "release", "approved", OK_COMMENT, NULL, 2,
       received[2], "2024-05-01T10:00:13.000Z", "ok");
  append(want, sizeof(want), l);
  line(l, sizeof(l), DD, 400, "release", "dead-lettered", NULL,
       "exhausted: GitHub answered 503 8 times", 8, received[3], NULL, "ok");
  append(want, sizeof(want), l);
  line(l, sizeof(l), DF, 600, "release", "approved", OK_COMMENT, NULL, 1,
       received[4], "2024-05-01T10:00:06.000Z", "ok");
  append(want, sizeof(want), l);
  line(l, sizeof(l), DG, 600, "release", "approved", OK_COMMENT, NULL, 1,
       received[5], "2024-05-01T10:00:07.000Z", "ok");
  append(want, sizeof(want), l);
  line(l, sizeof(l), DJ, 100, "release", "approved", OK_COMMENT,
       "duplicate of " DA, 1, received[9], "2024-05-01T10:00:03.000Z", "ok");
  append(want, sizeof(want), l);
  line(l, sizeof(l), DH, 700, "release", "pending", NULL, NULL, 0, received[6],
       NULL, "ok");
  append(want, sizeof(want), l);
  line(l, sizeof(l), DE, 500, "release", "pending", NULL, NULL, 0, received[7],
       NULL, "bad");
  append(want, sizeof(want), l);
  line(l, sizeof(l), DI, 800, "release", "pending", NULL, NULL, 0, received[8],
       NULL, "ok");
  append(want, sizeof(want), l);
  append(want, sizeof(want),
         "{\"summary\":{\"requests\":10,\"approved\":5,\"rejected\":1,"
         "\"retrying\":0,\"dead_lettered\":1,\"pending\":3,"
         "\"anomalies\":[{\"kind\":\"double-review\","
         "\"key\":\"4242/600/release\",\"detail\":\"2 reviews posted "
         "for one gate: envgate.decisions/");
  /* Partition and offset of the decision records depend on the
   * partitioner: compare the rest piecewise. */
  assert_int_equal(rc, 1);
  assert_memory_equal(out, want, strlen(want));
  assert_non_null(strstr(out, "(delivery " DF ", approved, 204) and "
                              "envgate.decisions/"));
  assert_non_null(strstr(out, "(delivery " DG ", approved, 204)\"},"));
  snprintf(detail, sizeof(detail),
           "{\"kind\":\"no-outcome\",\"key\":\"4242/700/release\","
           "\"detail\":\"delivery " DH ": received at %s, no outcome since "
           "(grace 15m)\"},",
           received[6]);
  assert_non_null(strstr(out, detail));
  assert_non_null(strstr(out, "{\"kind\":\"bad-signature\","
                              "\"key\":\"4242/500/release\","
                              "\"detail\":\"envgate.events/"));
  assert_non_null(strstr(out, ": hub-signature-256 does not verify\"}]}}\n"));
  /* Exactly 11 lines, and one line of explanation on stderr. */
  {
    int lines = 0;
    for (char *p = out; *p; p++)
      lines += *p == '\n';
    assert_int_equal(lines, 11);
  }
  assert_string_equal(err, "envgate-audit: error: 3 anomalies in 10 requests "
                           "(see the report)\n");
  free(out);
  free(err);

  /* A filter that leaves out every anomaly: exit 0. */
  rc = run_audit(it, db.bootstrap,
                 (const char *[]){"--format", "json", "--delivery", DB, NULL},
                 &out, &err);
  assert_int_equal(rc, 0);
  line(want, sizeof(want), DB, 200, "Release", "rejected", REJ_COMMENT,
       REJ_REASON, 1, received[1], "2024-05-01T10:00:02.500Z", "ok");
  append(want, sizeof(want),
         "{\"summary\":{\"requests\":1,\"approved\":0,\"rejected\":1,"
         "\"retrying\":0,\"dead_lettered\":0,\"pending\":0,"
         "\"anomalies\":[]}}\n");
  assert_string_equal(out, want);
  assert_string_equal(err, "");
  free(out);
  free(err);

  /* --state, --repo and --environment (any case). */
  rc = run_audit(it, db.bootstrap,
                 (const char *[]){"--format", "json", "--state",
                                  "dead-lettered,rejected", "--repo", "O/R",
                                  "--environment", "RELEASE", NULL},
                 &out, &err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "\"delivery\":\"" DB "\""));
  assert_non_null(strstr(out, "\"delivery\":\"" DD "\""));
  assert_non_null(strstr(out, "{\"summary\":{\"requests\":2,\"approved\":0,"
                              "\"rejected\":1,\"retrying\":0,"
                              "\"dead_lettered\":1,\"pending\":0,"
                              "\"anomalies\":[]}}\n"));
  free(out);
  free(err);

  /* The table: header, one row per request, the summary. */
  rc = run_audit(it, db.bootstrap, NULL, &out, &err);
  assert_int_equal(rc, 1);
#define ROW "%-38s%-12s%-5s%-13s%-15s%-10s%-26s%-26s%-5s%s\n"
  snprintf(want, sizeof(want), ROW ROW ROW, "DELIVERY", "REPOSITORY", "RUN",
           "ENVIRONMENT", "FATE", "ATTEMPTS", "RECEIVED", "DECIDED", "SIG",
           "REASON", DA, "o/r", "100", "release", "approved", "1", received[0],
           "2024-05-01T10:00:03.000Z", "ok", OK_COMMENT, DB, "o/r", "200",
           "Release", "rejected", "1", received[1], "2024-05-01T10:00:02.500Z",
           "ok", REJ_REASON);
  assert_memory_equal(out, want, strlen(want));
  snprintf(want, sizeof(want), ROW, DE, "o/r", "500", "release", "pending", "0",
           received[7], "-", "BAD", "-");
  assert_non_null(strstr(out, want));
  snprintf(want, sizeof(want), ROW, DD, "o/r", "400", "release",
           "dead-lettered", "8", received[3], "-", "ok",
           "exhausted: GitHub answered 503 8 times");
  assert_non_null(strstr(out, want));
#undef ROW
  assert_non_null(strstr(out, "\nrequests: 10  approved: 5  rejected: 1  "
                              "retrying: 0  dead-lettered: 1  pending: 3\n"));
  assert_non_null(strstr(out, "\nby repository:\nREPOSITORY  REQUESTS  "
                              "APPROVED  REJECTED  RETRYING  DEAD-LETTERED  "
                              "PENDING\no/r         10        5         1    "
                              "     0         1              3\n"));
  /* Own reviews: 2 s, 0.5 s, 10 s, 1 s and 1 s after receipt. */
  assert_non_null(strstr(out, "\nreview latency (received to decided, 5 "
                              "reviews): p50 1.0s  p90 10.0s  p99 10.0s  max "
                              "10.0s\n"));
  assert_non_null(strstr(out, "\nanomalies: 3\n  double-review "
                              "4242/600/release: 2 reviews posted"));
  free(out);
  free(err);

  /* CSV: a header and ten rows; the anomalies go to stderr. */
  rc = run_audit(it, db.bootstrap, (const char *[]){"--format", "csv", NULL},
                 &out, &err);
  assert_int_equal(rc, 1);
  assert_memory_equal(
      out,
      "key,delivery,repository,run_id,environment,fate,"
      "comment,reason,attempts,received_at,decided_at,"
      "signature\n"
      "4242/100/release," DA ",o/r,100,release,approved," OK_COMMENT
      ",,1,2024-05-01T10:00:01.000Z,2024-05-01T10:00:03.000Z,"
      "ok\n",
      strlen("key,delivery,repository,run_id,environment,"
             "fate,comment,reason,attempts,received_at,"
             "decided_at,signature\n"
             "4242/100/release," DA ",o/r,100,release,"
             "approved," OK_COMMENT ",,1,2024-05-01T10:00:01.000Z,"
             "2024-05-01T10:00:03.000Z,ok\n"));
  {
    int lines = 0;
    for (char *p = out; *p; p++)
      lines += *p == '\n';
    assert_int_equal(lines, 11);
  }
  assert_non_null(strstr(err, "envgate-audit: error: 3 anomalies in 10 "
                              "requests:\n  double-review 4242/600/release: "));
  assert_non_null(strstr(err, "\n  no-outcome 4242/700/release: delivery " DH
                              ": received at "));
  assert_non_null(strstr(err, "\n  bad-signature 4242/500/release: "
                              "envgate.events/"));
  free(out);
  free(err);

  /* --since: a start after everything reads nothing; one before
   * everything reads it all. */
  rc = run_audit(
      it, db.bootstrap,
      (const char *[]){"--format", "json", "--since", "2099-01-01", NULL}, &out,
      &err);
  assert_int_equal(rc, 0);
  assert_string_equal(out, "{\"summary\":{\"requests\":0,\"approved\":0,"
                           "\"rejected\":0,\"retrying\":0,"
                           "\"dead_lettered\":0,\"pending\":0,"
                           "\"anomalies\":[]}}\n");
  free(out);
  free(err);
  rc = run_audit(
      it, db.bootstrap,
      (const char *[]){"--format", "json", "--since", "1h", "-v", NULL}, &out,
      &err);
  assert_int_equal(rc, 1);
  assert_non_null(strstr(out, "{\"summary\":{\"requests\":10,"));
  assert_non_null(
      strstr(err, "envgate-audit: read 5 records from envgate.decisions\n"));
  assert_non_null(
      strstr(err, "envgate-audit: read 10 records from envgate.events\n"));
  assert_non_null(strstr(err, "envgate-audit: reading envgate.events: "));
  free(out);
  free(err);

  /* A longer grace: the hour-old request is no longer an anomaly. */
  rc = run_audit(it, db.bootstrap,
                 (const char *[]){"--format", "json", "--grace", "2h", NULL},
                 &out, &err);
  assert_int_equal(rc, 1);
  assert_null(strstr(out, "no-outcome"));
  free(out);
  free(err);
  eg_it_pass(it);
}

static void test_usage(void **state) {
  static const eg_it_usage_case_t cases[] = {
      {{"--format", "xml", NULL},
       "envgate-audit: error: --format xml: must be table, json or csv (see "
       "--help)\n"},
      {{"--grace", "soon", NULL},
       "envgate-audit: error: --grace soon: expected a duration such as 15m "
       "(see --help)\n"},
      {{"--since", "yesterday", NULL},
       "envgate-audit: error: --since yesterday: expected an RFC 3339 time, "
       "YYYY-MM-DD or a duration such as 24h (see --help)\n"},
      {{"--state", "done", NULL},
       "envgate-audit: error: --state done: expected approved, rejected, "
       "retrying, dead-lettered or pending (comma-separated) (see --help)\n"},
      {{"--state", "pending,", NULL},
       "envgate-audit: error: --state pending,: expected approved, rejected, "
       "retrying, dead-lettered or pending (comma-separated) (see --help)\n"},
      {{"--repo", "justname", NULL},
       "envgate-audit: error: --repo justname: expected OWNER/NAME (see "
       "--help)\n"},
      {{"--timeout", "1ms", NULL},
       "envgate-audit: error: --timeout 1ms: expected a duration between "
       "100ms and 1h (see --help)\n"},
      {{"extra", NULL},
       "envgate-audit: error: unexpected argument 'extra' (see --help)\n"},
      {{"--format", NULL},
       "envgate-audit: error: unknown or incomplete option '--format' (see "
       "--help)\n"},
  };
  eg_it_t *it = *state;

  eg_it_check_usage(it, "envgate-audit", cases,
                    sizeof(cases) / sizeof(cases[0]),
                    (const char *const[]){"usage: envgate-audit [options]\n",
                                          "--format FORMAT", NULL});
  /* No secret configured. */
  {
    const char *argv[] = {"envgate-audit", NULL};
    eg_it_spawn_opts_t o = {.name = "audit", .argv = argv};
    eg_it_proc_t *p;
    char *log;
    size_t len;
    int status;

    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &status, &p));
    assert_int_equal(WEXITSTATUS(status), 2);
    EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_log_path(p), &log, &len));
    assert_string_equal(log, "envgate-audit: error: ENVGATE_WEBHOOK_SECRET "
                             "(or ENVGATE_WEBHOOK_SECRET_FILE): required\n");
    free(log);
  }
  eg_it_pass(it);
}

static void test_unreachable_and_sigterm(void **state) {
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  char *out, *err;
  int rc, status;
  long long t0;

  /* Nothing listens: exit 2 after --timeout, one clear line. */
  rc = run_audit(it, "127.0.0.1:1", (const char *[]){"--timeout", "1s", NULL},
                 &out, &err);
  assert_int_equal(rc, 2);
  assert_string_equal(out, "");
  assert_memory_equal(err,
                      "envgate-audit: error: topic envgate.decisions: no "
                      "metadata within 1000 ms (",
                      strlen("envgate-audit: error: topic envgate.decisions: "
                             "no metadata within 1000 ms ("));
  assert_non_null(strchr(err, '\n'));
  assert_int_equal(strchr(err, '\n')[1], '\0');
  free(out);
  free(err);

  /* Every broker down: the replay waits; SIGTERM ends it promptly. */
  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "all-down", NULL, 0));
  {
    char brokers[512];
    const char *env[] = {brokers, "ENVGATE_WEBHOOK_SECRET=" SECRET, NULL};
    const char *argv[] = {"envgate-audit", "--timeout", "1h", NULL};
    eg_it_spawn_opts_t o = {.name = "audit-term", .argv = argv, .env = env};
    eg_it_proc_t *p;

    snprintf(brokers, sizeof(brokers), "ENVGATE_KAFKA_BROKERS=%s",
             db.bootstrap);
    EG_IT_MUST(it, eg_it_spawn(it, &o, &p));
    eg_it_sleep_ms(1500);
    assert_true(eg_it_proc_is_running(p));
    t0 = eg_it_now_ms();
    EG_IT_MUST(it, eg_it_proc_stop(p, 5000, &status));
    assert_true(eg_it_now_ms() - t0 < eg_it_timeout_ms(3000));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_int_equal(eg_it_proc_log_count(p, "envgate-audit: error: stopped "
                                             "by a signal before the replay "
                                             "ended\n"),
                     1);
  }
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "all-up", NULL, 0));
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_history, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_usage, eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_unreachable_and_sigterm, eg_it_setup,
                                      eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* envgate-redrive end to end against the development broker: dry runs move
 * nothing, --apply moves exactly the filtered letters with their original
 * bytes and headers, a second --apply moves nothing, a failed produce is
 * exit 1, and the audit sees a moved letter as a pending request again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "eg/error.h"
#include "eg/signature.h"
#include "eg/timeutil.h"
#include "harness.h"

#define SECRET "it-redrive-secret-0123456789"

#define D1 "aaaaaaaa-0000-4000-8000-000000000001" /* exhausted, o/r */
#define D2 "bbbbbbbb-0000-4000-8000-000000000002" /* permanent, o/r */
#define D3 "cccccccc-0000-4000-8000-000000000003" /* exhausted, o/other */

struct rec {
  char body[2048];
  char sig[128];
  char key[128];
  const char *headers[32];
};

static struct rec recs[6];

/* The original event of delivery; as a dead letter when error_class is not
 * NULL (with the pipeline's headers, and a binary one in the middle). */
static eg_it_kafka_rec_t make(struct rec *r,
                              const char *delivery,
                              const char *repo,
                              uint64_t run,
                              const char *error_class) {
  size_t h = 0;

  snprintf(r->body, sizeof(r->body),
           "{\"action\":\"requested\",\"environment\":\"release\","
           "\"sha\":\"47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54\","
           "\"ref\":\"main\",\"deployment_callback_url\":"
           "\"https://api.github.com/repos/%s/actions/runs/%llu/"
           "deployment_protection_rule\",\"repository\":{\"id\":77,"
           "\"full_name\":\"%s\"},\"installation\":{\"id\":5}}",
           repo, (unsigned long long)run, repo);
  assert_int_equal(eg_signature_compute(SECRET, r->body, strlen(r->body),
                                        r->sig, sizeof(r->sig)),
                   EG_OK);
  snprintf(r->key, sizeof(r->key), "77/%llu/release", (unsigned long long)run);
  r->headers[h++] = "github-event";
  r->headers[h++] = "deployment_protection_rule";
  r->headers[h++] = "github-delivery";
  r->headers[h++] = delivery;
  r->headers[h++] = "hub-signature-256";
  r->headers[h++] = r->sig;
  if (error_class != NULL) {
    r->headers[h++] = "envgate-attempt";
    r->headers[h++] = "8";
  }
  r->headers[h++] = "github-hook-id";
  r->headers[h++] = "12345";
  r->headers[h++] = "received-at";
  r->headers[h++] = "2024-05-01T10:00:00.000Z";
  if (error_class != NULL) {
    r->headers[h++] = "envgate-error-class";
    r->headers[h++] = error_class;
    r->headers[h++] = "envgate-error";
    r->headers[h++] = "GitHub answered 503";
    r->headers[h++] = "envgate-attempts";
    r->headers[h++] = "8";
    r->headers[h++] = "envgate-first-seen";
    r->headers[h++] = "2024-05-01T10:00:00.000Z";
    r->headers[h++] = "envgate-last-status";
    r->headers[h++] = "503";
  }
  r->headers[h] = NULL;
  return (eg_it_kafka_rec_t){.key = r->key,
                             .value = r->body,
                             .value_len = strlen(r->body),
                             .headers = r->headers};
}

/* Runs envgate-redrive (or another tool) with args; returns its exit code
 * and its stdout and stderr (free both). */
static int run_tool(eg_it_t *it,
                    const char *tool,
                    const char *bootstrap,
                    const char *const *args,
                    char **out,
                    char **err) {
  const char *argv[16] = {tool};
  char brokers[512];
  const char *env[] = {brokers, "ENVGATE_WEBHOOK_SECRET=" SECRET, NULL};
  eg_it_proc_t *p;
  int status, n = 1;
  size_t len;

  snprintf(brokers, sizeof(brokers), "ENVGATE_KAFKA_BROKERS=%s", bootstrap);
  for (; args != NULL && *args != NULL; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  {
    eg_it_spawn_opts_t o = {.name = tool, .argv = argv, .env = env};
    EG_IT_MUST(it, eg_it_run(it, &o, 60000, &status, &p));
  }
  EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), out, &len));
  EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_log_path(p), err, &len));
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static int redrive(eg_it_t *it,
                   const char *bootstrap,
                   const char *const *args,
                   char **out,
                   char **err) {
  return run_tool(it, "envgate-redrive", bootstrap, args, out, err);
}

static size_t count_events(eg_it_t *it, const char *bootstrap) {
  eg_it_kafka_msgs_t msgs;
  size_t n;

  EG_IT_MUST(it, eg_it_kafka_consume_all(it, bootstrap, "envgate.events", 15000,
                                         &msgs));
  n = msgs.n;
  eg_it_kafka_msgs_cleanup(&msgs);
  return n;
}

/* "envgate.dlq/<p>/<o>" of the letter of delivery. */
static void letter_ref(const eg_it_kafka_msgs_t *dlq,
                       const char *delivery,
                       char *out,
                       size_t len,
                       const eg_it_kafka_msg_t **letter) {
  for (size_t i = 0; i < dlq->n; i++) {
    const eg_it_kafka_header_t *h =
        eg_it_kafka_msg_header(&dlq->v[i], "github-delivery");

    if (h != NULL && strcmp(h->value, delivery) == 0) {
      snprintf(out, len, "envgate.dlq/%d/%lld", (int)dlq->v[i].partition,
               (long long)dlq->v[i].offset);
      *letter = &dlq->v[i];
      return;
    }
  }
  fail_msg("no letter for %s", delivery);
}

static void test_redrive(void **state) {
  eg_it_t *it = *state;
  eg_it_devbroker_t db;
  eg_it_kafka_rec_t events[3], letters[3];
  eg_it_kafka_msgs_t dlq, after;
  const eg_it_kafka_msg_t *l1, *l2, *l3, *moved = NULL;
  char ref1[64], ref2[64], ref3[64], want[1024];
  char *out, *err;
  int rc;

  EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
  events[0] = make(&recs[0], D1, "o/r", 1, NULL);
  events[1] = make(&recs[1], D2, "o/r", 2, NULL);
  events[2] = make(&recs[2], D3, "o/other", 3, NULL);
  letters[0] = make(&recs[3], D1, "o/r", 1, "exhausted");
  letters[1] = make(&recs[4], D2, "o/r", 2, "permanent");
  letters[2] = make(&recs[5], D3, "o/other", 3, "exhausted");
  EG_IT_MUST(it, eg_it_kafka_produce(it, db.bootstrap, "envgate.events", events,
                                     3, NULL, 15000));
  EG_IT_MUST(it, eg_it_kafka_produce(it, db.bootstrap, "envgate.dlq", letters,
                                     3, NULL, 15000));
  EG_IT_MUST(it, eg_it_kafka_consume_all(it, db.bootstrap, "envgate.dlq", 15000,
                                         &dlq));
  assert_int_equal(dlq.n, 3);
  letter_ref(&dlq, D1, ref1, sizeof(ref1), &l1);
  letter_ref(&dlq, D2, ref2, sizeof(ref2), &l2);
  letter_ref(&dlq, D3, ref3, sizeof(ref3), &l3);

  /* Dry run: prints what it would move, moves nothing. */
  rc =
      redrive(it, db.bootstrap,
              (const char *[]){"--error-class", "exhausted", NULL}, &out, &err);
  assert_int_equal(rc, 0);
  assert_string_equal(err, "");
  snprintf(want, sizeof(want), "%-12s%-17s%-38s%-12s%-11s%s\n", "ACTION",
           "LETTER", "DELIVERY", "REPOSITORY", "CLASS", "ERROR");
  assert_memory_equal(out, want, strlen(want));
  snprintf(want, sizeof(want), "%-12s%-17s%-38s%-12s%-11s%s\n", "would move",
           ref1, D1, "o/r", "exhausted", "GitHub answered 503");
  assert_non_null(strstr(out, want));
  snprintf(want, sizeof(want), "%-12s%-17s%-38s%-12s%-11s%s\n", "would move",
           ref3, D3, "o/other", "exhausted", "GitHub answered 503");
  assert_non_null(strstr(out, want));
  assert_null(strstr(out, D2));
  assert_non_null(strstr(out, "\ndry run: 2 of 2 matching dead letters would "
                              "be moved to envgate.events (0 already "
                              "moved); use --apply to move them\n"));
  free(out);
  free(err);
  assert_int_equal(count_events(it, db.bootstrap), 3);

  /* --apply with two filters: exactly D1 moves. */
  rc = redrive(it, db.bootstrap,
               (const char *[]){"--error-class", "exhausted", "--repo", "O/R",
                                "--apply", NULL},
               &out, &err);
  assert_int_equal(rc, 0);
  snprintf(want, sizeof(want),
           "%-8s%-17s%-38s%-12s%-11s%s\n%-8s%-17s%-38s%-12s%-11s%s\n"
           "moved 1 of 1 matching dead letters to envgate.events (0 already "
           "moved, 0 failed)\n",
           "ACTION", "LETTER", "DELIVERY", "REPOSITORY", "CLASS", "ERROR",
           "moved", ref1, D1, "o/r", "exhausted", "GitHub answered 503");
  assert_string_equal(out, want);
  free(out);
  free(err);

  /* The moved event: the letter's key and body byte for byte, its original
   * headers in order, then the redrive headers. */
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, db.bootstrap, "envgate.events", 4,
                                        15000, &after));
  assert_int_equal(after.n, 4);
  for (size_t i = 0; i < after.n; i++)
    if (eg_it_kafka_msg_header(&after.v[i], "envgate-redrive-source") != NULL)
      moved = &after.v[i];
  assert_non_null(moved);
  assert_string_equal(moved->key, l1->key);
  assert_int_equal(moved->value_len, l1->value_len);
  assert_memory_equal(moved->value, l1->value, l1->value_len);
  {
    static const char *const names[] = {
        "github-event",       "github-delivery",    "hub-signature-256",
        "github-hook-id",     "received-at",        "envgate-redrive-source",
        "envgate-redrive-id", "envgate-redriven-at"};
    int64_t at;

    assert_int_equal(moved->nheaders, 8);
    for (size_t i = 0; i < 8; i++)
      assert_string_equal(moved->headers[i].name, names[i]);
    for (size_t i = 0; i < 5; i++)
      assert_string_equal(
          moved->headers[i].value,
          eg_it_kafka_msg_header(l1, moved->headers[i].name)->value);
    assert_string_equal(moved->headers[5].value, ref1);
    assert_int_equal(strlen(moved->headers[6].value), 36);
    assert_int_equal(eg_time_parse_rfc3339(moved->headers[7].value, &at),
                     EG_OK);
    assert_true(at > eg_time_epoch_ms() - 600000);
  }
  eg_it_kafka_msgs_cleanup(&after);

  /* Again: nothing moves. */
  rc = redrive(it, db.bootstrap,
               (const char *[]){"--error-class", "exhausted", "--repo", "o/r",
                                "--apply", NULL},
               &out, &err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "already moved: envgate.events/"));
  assert_non_null(strstr(out, "\nmoved 0 of 1 matching dead letters to "
                              "envgate.events (1 already moved, 0 failed)\n"));
  free(out);
  free(err);
  assert_int_equal(count_events(it, db.bootstrap), 4);

  /* The other exhausted letter fails to move while the broker refuses
   * writes: exit 1, and nothing is recorded as moved. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db,
                                     "push-errors Produce 50 "
                                     "TOPIC_AUTHORIZATION_FAILED",
                                     NULL, 0));
  rc = redrive(it, db.bootstrap,
               (const char *[]){"--error-class", "exhausted", "--apply",
                                "--timeout", "10s", NULL},
               &out, &err);
  assert_int_equal(rc, 1);
  snprintf(want, sizeof(want), "%-15s%-17s%-38s", "failed", ref3, D3);
  assert_non_null(strstr(out, want));
  assert_non_null(strstr(out, "(1 already moved, 1 failed)\n"));
  assert_non_null(strstr(err, "envgate-redrive: error: some dead letters "
                              "were not moved (see the report)\n"));
  free(out);
  free(err);
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "clear-errors", NULL, 0));
  assert_int_equal(count_events(it, db.bootstrap), 4);

  /* Now it moves. */
  rc = redrive(
      it, db.bootstrap,
      (const char *[]){"--error-class", "exhausted,poison", "--apply", NULL},
      &out, &err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "\nmoved 1 of 2 matching dead letters to "
                              "envgate.events (1 already moved, 0 failed)\n"));
  free(out);
  free(err);
  assert_int_equal(count_events(it, db.bootstrap), 5);

  /* --delivery and time filters. */
  rc = redrive(it, db.bootstrap, (const char *[]){"--delivery", D2, NULL}, &out,
               &err);
  assert_int_equal(rc, 0);
  snprintf(want, sizeof(want), "%-12s%-17s%-38s%-12s%-11s%s\n", "would move",
           ref2, D2, "o/r", "permanent", "GitHub answered 503");
  assert_non_null(strstr(out, want));
  assert_non_null(strstr(out, "\ndry run: 1 of 1 matching"));
  free(out);
  free(err);
  rc = redrive(it, db.bootstrap,
               (const char *[]){"--since", "2099-01-01", NULL}, &out, &err);
  assert_int_equal(rc, 0);
  assert_string_equal(out, "no dead letters match\n");
  free(out);
  free(err);
  rc = redrive(it, db.bootstrap,
               (const char *[]){"--until", "2000-01-01", "-v", NULL}, &out,
               &err);
  assert_int_equal(rc, 0);
  assert_string_equal(out, "no dead letters match\n");
  assert_non_null(strstr(err, "envgate-redrive: 0 of 3 dead letters match\n"));
  free(out);
  free(err);

  /* The audit sees D1 and D3 as pending again (their dead letters were
   * moved), D2 still dead-lettered. */
  rc =
      run_tool(it, "envgate-audit", db.bootstrap,
               (const char *[]){"--format", "json", "--grace", "100000d", NULL},
               &out, &err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "\"delivery\":\"" D1 "\",\"repository\":\"o/r\","
                              "\"run_id\":1,\"environment\":\"release\","
                              "\"fate\":\"pending\""));
  assert_non_null(strstr(out, "\"delivery\":\"" D2 "\",\"repository\":\"o/r\","
                              "\"run_id\":2,\"environment\":\"release\","
                              "\"fate\":\"dead-lettered\",\"comment\":null,"
                              "\"reason\":\"permanent: GitHub answered 503\""));
  assert_non_null(strstr(out, "\"delivery\":\"" D3 "\",\"repository\":"
                              "\"o/other\",\"run_id\":3,\"environment\":"
                              "\"release\",\"fate\":\"pending\""));
  assert_non_null(strstr(out, "{\"summary\":{\"requests\":3,\"approved\":0,"
                              "\"rejected\":0,\"retrying\":0,"
                              "\"dead_lettered\":1,\"pending\":2,"
                              "\"anomalies\":[]}}\n"));
  free(out);
  free(err);
  eg_it_kafka_msgs_cleanup(&dlq);
  eg_it_pass(it);
}

static void test_usage(void **state) {
  static const eg_it_usage_case_t cases[] = {
      {{"--error-class", "bogus", NULL},
       "envgate-redrive: error: --error-class bogus: expected permanent, "
       "exhausted, invalid or poison (see --help)\n"},
      {{"--error-class", "exhausted,", NULL},
       "envgate-redrive: error: --error-class exhausted,: expected permanent, "
       "exhausted, invalid or poison (see --help)\n"},
      {{"--since", "2024-05-02", "--until", "2024-05-01", NULL},
       "envgate-redrive: error: --until must be later than --since (see "
       "--help)\n"},
      {{"--repo", "x", NULL},
       "envgate-redrive: error: --repo x: expected OWNER/NAME (see --help)\n"},
      {{"--until", "later", NULL},
       "envgate-redrive: error: --until later: expected an RFC 3339 time, "
       "YYYY-MM-DD or a duration such as 24h (see --help)\n"},
      {{"move", NULL},
       "envgate-redrive: error: unexpected argument 'move' (see --help)\n"},
  };
  eg_it_t *it = *state;

  eg_it_check_usage(
      it, "envgate-redrive", cases, sizeof(cases) / sizeof(cases[0]),
      (const char *const[]){"usage: envgate-redrive [options]\n", NULL});
  /* Every broker down: the read waits; SIGTERM ends it promptly, with
   * nothing moved. */
  {
    eg_it_devbroker_t db;
    char brokers[512];
    const char *env[] = {brokers, NULL};
    const char *argv[] = {"envgate-redrive", "--apply", "--timeout", "1h",
                          NULL};
    eg_it_spawn_opts_t o = {.name = "redrive-term", .argv = argv, .env = env};
    eg_it_proc_t *p;
    long long t0;
    int status;

    EG_IT_MUST(it, eg_it_devbroker_start(it, NULL, &db));
    EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "all-down", NULL, 0));
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
    assert_int_equal(eg_it_proc_log_count(p, "envgate-redrive: error: stopped "
                                             "by a signal before anything was "
                                             "moved\n"),
                     1);
    EG_IT_MUST(it, eg_it_devbroker_ctl(it, &db, "all-up", NULL, 0));
  }
  /* Kafka unreachable: exit 2. */
  {
    char *out, *err;
    int rc = redrive(it, "127.0.0.1:1",
                     (const char *[]){"--timeout", "1s", NULL}, &out, &err);

    assert_int_equal(rc, 2);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "envgate-redrive: error: topic envgate.dlq: "
                                "no metadata within 1000 ms"));
    free(out);
    free(err);
  }
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_redrive, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_usage, eg_it_setup, eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

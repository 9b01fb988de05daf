/* Tests for the audit's join: scripted histories of event copies and
 * decision records, and the fates and anomalies they must give. */
#include "eg/audit.h"
#include "eg/error.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "oom_inject.h"
#include "jansson_fail.h"

#define NOW   1714566896789LL /* 2024-05-01T12:34:56.789Z */
#define MIN   60000LL
#define GRACE (15 * MIN)

#define D1 "11111111-0000-4000-8000-000000000001"
#define D2 "22222222-0000-4000-8000-000000000002"
#define D3 "33333333-0000-4000-8000-000000000003"
#define D4 "44444444-0000-4000-8000-000000000004"

/* A copy of delivery for gate run_id (repository 7, "o/r", "Release"),
 * received minutes_ago before NOW. */
static eg_envelope_t *
envelope(const char *delivery, uint64_t run_id, int64_t minutes_ago) {
  static eg_envelope_t env;
  char ts[EG_RFC3339_SIZE];

  eg_envelope_init(&env);
  snprintf(env.delivery, sizeof(env.delivery), "%s", delivery);
  snprintf(env.signature, sizeof(env.signature), "sha256=%064d", 0);
  eg_time_rfc3339(NOW - minutes_ago * MIN, ts, sizeof(ts));
  snprintf(env.received_at, sizeof(env.received_at), "%s", ts);
  env.received_at_ms = NOW - minutes_ago * MIN;
  env.body_ok = true;
  snprintf(env.key, sizeof(env.key), "7/%llu/release",
           (unsigned long long)run_id);
  snprintf(env.repository, sizeof(env.repository), "o/r");
  env.repository_id = 7;
  env.run_id = run_id;
  snprintf(env.environment, sizeof(env.environment), "Release");
  return &env;
}

static int add(eg_audit_t *a,
               eg_audit_source_t src,
               const char *ref,
               int64_t ts,
               const eg_envelope_t *env,
               bool sig_ok) {
  eg_audit_copy_t c = {.source = src,
                       .ref = ref,
                       .timestamp_ms = ts,
                       .kafka_key = env->body_ok ? env->key : "k",
                       .env = env,
                       .signature_ok = sig_ok};
  return eg_audit_add_copy(a, &c);
}

static void add_event(eg_audit_t *a,
                      const char *ref,
                      const char *delivery,
                      uint64_t run,
                      int64_t minutes_ago) {
  assert_int_equal(add(a, EG_AUDIT_EVENTS, ref, NOW - minutes_ago * MIN,
                       envelope(delivery, run, minutes_ago), true),
                   EG_OK);
}

static void add_decision(eg_audit_t *a,
                         const char *ref,
                         const char *delivery,
                         uint64_t run,
                         const char *state,
                         int status,
                         int64_t minutes_ago) {
  char json[1024], key[64], ts[EG_RFC3339_SIZE];

  eg_time_rfc3339(NOW - minutes_ago * MIN, ts, sizeof(ts));
  snprintf(key, sizeof(key), "7/%llu/release", (unsigned long long)run);
  snprintf(
      json, sizeof(json),
      "{\"delivery\":\"%s\",\"repository\":\"o/r\",\"run_id\":%llu,"
      "\"environment\":\"Release\",\"sha\":\"%040d\",\"state\":\"%s\","
      "\"comment\":\"%s by envgate\",\"checks\":[{\"name\":\"environment\","
      "\"passed\":true,\"detail\":\"\"},{\"name\":\"ref\",\"passed\":%s,"
      "\"detail\":\"ref is feature, not main\"}],\"attempts\":2,"
      "\"worker\":\"w1\",\"decided_at\":\"%s\",\"github_status\":%d}",
      delivery, (unsigned long long)run, 0, state, state,
      strcmp(state, "approved") == 0 ? "true" : "false", ts, status);
  assert_int_equal(eg_audit_add_decision(a, ref, NOW - minutes_ago * MIN, key,
                                         json, strlen(json)),
                   EG_OK);
}

static eg_audit_t *finish(eg_audit_t *a, bool partial) {
  eg_audit_opts_t opts = {.now_ms = NOW, .grace_ms = GRACE, .partial = partial};
  assert_int_equal(eg_audit_finish(a, &opts), EG_OK);
  return a;
}

static const eg_audit_result_t *find(const eg_audit_t *a, const char *d) {
  for (size_t i = 0; i < eg_audit_count(a); i++)
    if (strcmp(eg_audit_result(a, i)->delivery, d) == 0)
      return eg_audit_result(a, i);
  fail_msg("no result for %s", d);
  return NULL;
}

static eg_audit_t *new_audit(void) {
  eg_audit_t *a = NULL;

  assert_int_equal(eg_audit_new(&a), EG_OK);
  return a;
}

static void test_names(void **state) {
  eg_audit_fate_t f;

  (void)state;
  assert_string_equal(eg_audit_fate_name(EG_AUDIT_APPROVED), "approved");
  assert_string_equal(eg_audit_fate_name(EG_AUDIT_DEAD_LETTERED),
                      "dead-lettered");
  assert_string_equal(eg_audit_fate_name((eg_audit_fate_t)9), "?");
  assert_int_equal(eg_audit_fate_parse("pending", &f), EG_OK);
  assert_int_equal(f, EG_AUDIT_PENDING);
  assert_int_equal(eg_audit_fate_parse("retrying", &f), EG_OK);
  assert_int_equal(f, EG_AUDIT_RETRYING);
  assert_int_equal(eg_audit_fate_parse("Pending", &f), EG_EINVAL);
  assert_int_equal(eg_audit_fate_parse(NULL, &f), EG_EINVAL);
  assert_int_equal(eg_audit_fate_parse("pending", NULL), EG_EINVAL);
  assert_string_equal(eg_audit_kind_name(EG_AUDIT_NO_OUTCOME), "no-outcome");
  assert_string_equal(eg_audit_kind_name(EG_AUDIT_UNVERIFIED_DECISION),
                      "unverified-decision");
  assert_string_equal(eg_audit_kind_name(EG_AUDIT_DOUBLE_REVIEW),
                      "double-review");
  assert_string_equal(eg_audit_kind_name(EG_AUDIT_BAD_SIGNATURE),
                      "bad-signature");
  assert_string_equal(eg_audit_kind_name(EG_AUDIT_BAD_RECORD), "bad-record");
  assert_string_equal(eg_audit_kind_name((eg_audit_kind_t)99), "?");
}

static void test_decided(void **state) {
  eg_audit_t *a = new_audit();
  const eg_audit_result_t *r;

  (void)state;
  /* Approved, rejected, and retried then approved. */
  add_event(a, "envgate.events/0/0", D1, 100, 30);
  add_decision(a, "envgate.decisions/0/0", D1, 100, "approved", 204, 29);
  add_event(a, "envgate.events/1/0", D2, 200, 20);
  add_decision(a, "envgate.decisions/1/0", D2, 200, "rejected", 200, 19);
  add_event(a, "envgate.events/2/0", D3, 300, 10);
  assert_int_equal(add(a, EG_AUDIT_RETRY, "envgate.retry/0/0", NOW - 9 * MIN,
                       envelope(D3, 300, 10), true),
                   EG_OK);
  add_decision(a, "envgate.decisions/2/0", D3, 300, "approved", 204, 5);
  finish(a, false);

  assert_int_equal(eg_audit_count(a), 3);
  assert_int_equal(eg_audit_anomaly_count(a), 0);
  /* Sorted by receipt. */
  assert_string_equal(eg_audit_result(a, 0)->delivery, D1);
  assert_string_equal(eg_audit_result(a, 1)->delivery, D2);
  assert_string_equal(eg_audit_result(a, 2)->delivery, D3);

  r = find(a, D1);
  assert_int_equal(r->fate, EG_AUDIT_APPROVED);
  assert_string_equal(r->key, "7/100/release");
  assert_string_equal(r->repository, "o/r");
  assert_int_equal(r->run_id, 100);
  assert_string_equal(r->environment, "Release");
  assert_string_equal(r->comment, "approved by envgate");
  assert_null(r->reason);
  assert_int_equal(r->attempts, 2);
  assert_string_equal(r->received_at, "2024-05-01T12:04:56.789Z");
  assert_int_equal(r->received_at_ms, NOW - 30 * MIN);
  assert_string_equal(r->decided_at, "2024-05-01T12:05:56.789Z");
  assert_int_equal(r->decided_at_ms, NOW - 29 * MIN);
  assert_true(r->signature_ok);
  assert_null(r->duplicate_of);
  assert_int_equal(r->github_status, 204);

  r = find(a, D2);
  assert_int_equal(r->fate, EG_AUDIT_REJECTED);
  assert_string_equal(r->comment, "rejected by envgate");
  assert_string_equal(r->reason, "ref: ref is feature, not main");

  r = find(a, D3);
  assert_int_equal(r->fate, EG_AUDIT_APPROVED);
  assert_true(r->signature_ok);
  eg_audit_free(a);
}

static void test_retrying_and_dead_letters(void **state) {
  eg_audit_t *a = new_audit();
  const eg_audit_result_t *r;
  const eg_audit_anomaly_t *an;
  eg_envelope_t *env;

  (void)state;
  /* Retrying, next attempt due in a minute. */
  add_event(a, "envgate.events/0/0", D1, 100, 30);
  env = envelope(D1, 100, 30);
  env->attempt = 3;
  env->not_before_ms = NOW + MIN;
  snprintf(env->last_error, sizeof(env->last_error), "GitHub answered 502");
  assert_int_equal(
      add(a, EG_AUDIT_RETRY, "envgate.retry/0/0", NOW - 29 * MIN, env, true),
      EG_OK);
  /* Retrying, but the attempt was due an hour ago: stuck. */
  add_event(a, "envgate.events/0/1", D2, 200, 90);
  env = envelope(D2, 200, 90);
  env->attempt = 1;
  env->not_before_ms = NOW - 60 * MIN;
  assert_int_equal(
      add(a, EG_AUDIT_RETRY, "envgate.retry/0/1", NOW - 61 * MIN, env, true),
      EG_OK);
  /* Dead-lettered after two retries. */
  add_event(a, "envgate.events/0/2", D3, 300, 80);
  assert_int_equal(add(a, EG_AUDIT_RETRY, "envgate.retry/1/0", NOW - 79 * MIN,
                       envelope(D3, 300, 80), true),
                   EG_OK);
  env = envelope(D3, 300, 80);
  snprintf(env->error_class, sizeof(env->error_class), "exhausted");
  snprintf(env->error, sizeof(env->error), "GitHub answered 502 8 times");
  env->attempts = 8;
  assert_int_equal(
      add(a, EG_AUDIT_DLQ, "envgate.dlq/0/0", NOW - 70 * MIN, env, true),
      EG_OK);
  finish(a, false);

  r = find(a, D1);
  assert_int_equal(r->fate, EG_AUDIT_RETRYING);
  assert_string_equal(r->reason, "GitHub answered 502");
  assert_int_equal(r->attempts, 3);
  assert_null(r->decided_at);
  assert_null(r->comment);
  r = find(a, D2);
  assert_int_equal(r->fate, EG_AUDIT_RETRYING);
  assert_null(r->reason);
  r = find(a, D3);
  assert_int_equal(r->fate, EG_AUDIT_DEAD_LETTERED);
  assert_string_equal(r->reason, "exhausted: GitHub answered 502 8 times");
  assert_int_equal(r->attempts, 8);

  /* Only the stuck retry is an anomaly. */
  assert_int_equal(eg_audit_anomaly_count(a), 1);
  an = eg_audit_anomaly(a, 0);
  assert_int_equal(an->kind, EG_AUDIT_NO_OUTCOME);
  assert_string_equal(an->key, "7/200/release");
  assert_string_equal(an->detail,
                      "delivery " D2 ": retry due at 2024-05-01T11:34:56.789Z, "
                      "no outcome since (grace 15m)");
  assert_string_equal(eg_audit_result(a, an->result)->delivery, D2);
  eg_audit_free(a);
}

static void test_redrive(void **state) {
  eg_audit_t *a = new_audit();
  eg_envelope_t *env;

  (void)state;
  /* D1: dead-lettered, then redriven a minute ago: pending again. */
  add_event(a, "envgate.events/0/0", D1, 100, 120);
  env = envelope(D1, 100, 120);
  snprintf(env->error_class, sizeof(env->error_class), "permanent");
  assert_int_equal(
      add(a, EG_AUDIT_DLQ, "envgate.dlq/1/4", NOW - 110 * MIN, env, true),
      EG_OK);
  env = envelope(D1, 100, 120);
  snprintf(env->redrive_source, sizeof(env->redrive_source), "envgate.dlq/1/4");
  env->redriven_at_ms = NOW - MIN;
  assert_int_equal(
      add(a, EG_AUDIT_EVENTS, "envgate.events/5/9", NOW - MIN, env, true),
      EG_OK);
  /* D2: dead-lettered, redriven, retried after the redrive. The retry
   * before the redrive does not count. */
  add_event(a, "envgate.events/0/1", D2, 200, 120);
  assert_int_equal(add(a, EG_AUDIT_RETRY, "envgate.retry/0/0", NOW - 115 * MIN,
                       envelope(D2, 200, 120), true),
                   EG_OK);
  assert_int_equal(add(a, EG_AUDIT_DLQ, "envgate.dlq/1/5", NOW - 110 * MIN,
                       envelope(D2, 200, 120), true),
                   EG_OK);
  env = envelope(D2, 200, 120);
  snprintf(env->redrive_source, sizeof(env->redrive_source), "envgate.dlq/1/5");
  env->redriven_at_ms = NOW - 10 * MIN;
  assert_int_equal(
      add(a, EG_AUDIT_EVENTS, "envgate.events/5/10", NOW - 10 * MIN, env, true),
      EG_OK);
  env = envelope(D2, 200, 120);
  env->not_before_ms = NOW + MIN;
  assert_int_equal(
      add(a, EG_AUDIT_RETRY, "envgate.retry/0/9", NOW - 9 * MIN, env, true),
      EG_OK);
  /* D3: redriven, then dead-lettered again (a new dead letter). */
  add_event(a, "envgate.events/0/2", D3, 300, 120);
  assert_int_equal(add(a, EG_AUDIT_DLQ, "envgate.dlq/2/0", NOW - 110 * MIN,
                       envelope(D3, 300, 120), true),
                   EG_OK);
  env = envelope(D3, 300, 120);
  snprintf(env->redrive_source, sizeof(env->redrive_source), "envgate.dlq/2/0");
  env->redriven_at_ms = NOW - 50 * MIN;
  assert_int_equal(
      add(a, EG_AUDIT_EVENTS, "envgate.events/5/11", NOW - 50 * MIN, env, true),
      EG_OK);
  env = envelope(D3, 300, 120);
  snprintf(env->error_class, sizeof(env->error_class), "invalid");
  snprintf(env->error, sizeof(env->error), "callback URL");
  assert_int_equal(
      add(a, EG_AUDIT_DLQ, "envgate.dlq/2/1", NOW - 40 * MIN, env, true),
      EG_OK);
  /* D4: redriven 20 minutes ago and nothing since: past the grace. */
  add_event(a, "envgate.events/0/3", D4, 400, 120);
  assert_int_equal(add(a, EG_AUDIT_DLQ, "envgate.dlq/2/2", NOW - 110 * MIN,
                       envelope(D4, 400, 120), true),
                   EG_OK);
  env = envelope(D4, 400, 120);
  snprintf(env->redrive_source, sizeof(env->redrive_source), "envgate.dlq/2/2");
  env->redriven_at_ms = NOW - 20 * MIN;
  assert_int_equal(
      add(a, EG_AUDIT_EVENTS, "envgate.events/5/12", NOW - 20 * MIN, env, true),
      EG_OK);
  finish(a, false);

  assert_int_equal(find(a, D1)->fate, EG_AUDIT_PENDING);
  assert_int_equal(find(a, D2)->fate, EG_AUDIT_RETRYING);
  assert_int_equal(find(a, D3)->fate, EG_AUDIT_DEAD_LETTERED);
  assert_string_equal(find(a, D3)->reason, "invalid: callback URL");
  assert_int_equal(find(a, D4)->fate, EG_AUDIT_PENDING);
  /* The received-at of the first copy is kept. */
  assert_int_equal(find(a, D1)->received_at_ms, NOW - 120 * MIN);
  assert_int_equal(eg_audit_anomaly_count(a), 1);
  assert_int_equal(eg_audit_anomaly(a, 0)->kind, EG_AUDIT_NO_OUTCOME);
  assert_string_equal(eg_audit_anomaly(a, 0)->detail,
                      "delivery " D4 ": redriven at 2024-05-01T12:14:56.789Z, "
                      "no outcome since (grace 15m)");
  eg_audit_free(a);
}

static void test_pending_grace(void **state) {
  eg_audit_t *a = new_audit();
  eg_audit_opts_t opts = {.now_ms = NOW, .grace_ms = 30 * MIN};

  (void)state;
  add_event(a, "envgate.events/0/0", D1, 100, 29);
  add_event(a, "envgate.events/0/1", D2, 200, 31);
  assert_int_equal(eg_audit_finish(a, &opts), EG_OK);
  assert_int_equal(find(a, D1)->fate, EG_AUDIT_PENDING);
  assert_int_equal(find(a, D1)->attempts, 0);
  assert_int_equal(find(a, D2)->fate, EG_AUDIT_PENDING);
  assert_int_equal(eg_audit_anomaly_count(a), 1);
  assert_string_equal(eg_audit_anomaly(a, 0)->detail,
                      "delivery " D2 ": received at 2024-05-01T12:03:56.789Z, "
                      "no outcome since (grace 30m)");
  assert_string_equal(eg_audit_anomaly(a, 0)->key, "7/200/release");
  /* A second finish is refused, and so are more records. */
  assert_int_equal(eg_audit_finish(a, &opts), EG_EINVAL);
  assert_int_equal(add(a, EG_AUDIT_EVENTS, "x", 0, envelope(D3, 1, 1), true),
                   EG_EINVAL);
  assert_int_equal(eg_audit_add_decision(a, "x", 0, NULL, "{}", 2), EG_EINVAL);
  eg_audit_free(a);
}

static void test_forged_and_unverified(void **state) {
  eg_audit_t *a = new_audit();
  const eg_audit_result_t *r;
  eg_envelope_t *env;

  (void)state;
  /* D1: forged straight into Kafka, and the worker approved it. */
  assert_int_equal(add(a, EG_AUDIT_EVENTS, "envgate.events/3/0", NOW - MIN,
                       envelope(D1, 100, 1), false),
                   EG_OK);
  add_decision(a, "envgate.decisions/0/0", D1, 100, "approved", 204, 0);
  /* D2: a decision whose event never existed. */
  add_decision(a, "envgate.decisions/0/1", D2, 200, "approved", 204, 0);
  /* D3: one good copy, one forged copy with no signature at all. */
  add_event(a, "envgate.events/0/0", D3, 300, 1);
  env = envelope(D3, 300, 1);
  env->signature[0] = '\0';
  assert_int_equal(add(a, EG_AUDIT_RETRY, "envgate.retry/0/0", NOW, env, false),
                   EG_OK);
  finish(a, false);

  r = find(a, D1);
  assert_int_equal(r->fate, EG_AUDIT_APPROVED);
  assert_false(r->signature_ok);
  r = find(a, D2);
  assert_int_equal(r->fate, EG_AUDIT_APPROVED);
  assert_false(r->signature_ok);
  assert_null(r->received_at);
  assert_string_equal(r->key, "7/200/release");
  assert_string_equal(r->repository, "o/r");
  assert_int_equal(r->run_id, 200);
  r = find(a, D3);
  assert_false(r->signature_ok);
  assert_int_equal(r->fate, EG_AUDIT_RETRYING);

  assert_int_equal(eg_audit_anomaly_count(a), 4);
  /* Sorted by result (D1 and D3 received a minute ago, D2 by its decision
   * time), then kind. */
  assert_string_equal(eg_audit_result(a, 0)->delivery, D1);
  assert_string_equal(eg_audit_result(a, 1)->delivery, D3);
  assert_string_equal(eg_audit_result(a, 2)->delivery, D2);
  assert_int_equal(eg_audit_anomaly(a, 0)->kind, EG_AUDIT_UNVERIFIED_DECISION);
  assert_string_equal(eg_audit_anomaly(a, 0)->detail,
                      "envgate.decisions/0/0: decision for delivery " D1
                      ", whose event does not verify");
  assert_int_equal(eg_audit_anomaly(a, 1)->kind, EG_AUDIT_BAD_SIGNATURE);
  assert_string_equal(eg_audit_anomaly(a, 1)->detail,
                      "envgate.events/3/0: hub-signature-256 does not verify");
  assert_string_equal(eg_audit_anomaly(a, 1)->key, "7/100/release");
  assert_int_equal(eg_audit_anomaly(a, 2)->kind, EG_AUDIT_BAD_SIGNATURE);
  assert_string_equal(eg_audit_anomaly(a, 2)->detail,
                      "envgate.retry/0/0: no hub-signature-256 header");
  assert_int_equal(eg_audit_anomaly(a, 3)->kind, EG_AUDIT_UNVERIFIED_DECISION);
  assert_string_equal(eg_audit_anomaly(a, 3)->detail,
                      "envgate.decisions/0/1: decision for delivery " D2
                      ", which no event carries");
  eg_audit_free(a);
}

static void test_duplicates(void **state) {
  eg_audit_t *a = new_audit();
  const eg_audit_result_t *r;

  (void)state;
  /* D1 and D2 ask for the same gate; D1 is decided, D2 skipped. */
  add_event(a, "envgate.events/0/0", D1, 100, 40);
  add_decision(a, "envgate.decisions/0/0", D1, 100, "approved", 204, 39);
  add_event(a, "envgate.events/0/1", D2, 100, 30);
  /* D1 delivered again (a GitHub redelivery): still one request. */
  add_event(a, "envgate.events/0/2", D1, 100, 20);
  /* D3 and D4: the same gate reviewed twice; a 422 would not count. */
  add_event(a, "envgate.events/1/0", D3, 300, 10);
  add_event(a, "envgate.events/1/1", D4, 300, 10);
  add_decision(a, "envgate.decisions/1/0", D3, 300, "approved", 204, 9);
  add_decision(a, "envgate.decisions/1/1", D4, 300, "rejected", 200, 8);
  add_decision(a, "envgate.decisions/1/2", D4, 300, "rejected", 422, 7);
  finish(a, false);

  assert_int_equal(eg_audit_count(a), 4);
  r = find(a, D1);
  assert_int_equal(r->fate, EG_AUDIT_APPROVED);
  assert_int_equal(r->received_at_ms, NOW - 40 * MIN);
  r = find(a, D2);
  assert_int_equal(r->fate, EG_AUDIT_APPROVED);
  assert_string_equal(r->duplicate_of, D1);
  assert_string_equal(r->reason, "duplicate of " D1);
  assert_string_equal(r->comment, "approved by envgate");
  assert_string_equal(r->decided_at, "2024-05-01T11:55:56.789Z");
  r = find(a, D4);
  assert_int_equal(r->fate, EG_AUDIT_REJECTED);
  assert_int_equal(r->github_status, 200);

  assert_int_equal(eg_audit_anomaly_count(a), 1);
  assert_int_equal(eg_audit_anomaly(a, 0)->kind, EG_AUDIT_DOUBLE_REVIEW);
  assert_string_equal(eg_audit_anomaly(a, 0)->key, "7/300/release");
  assert_string_equal(eg_audit_anomaly(a, 0)->detail,
                      "2 reviews posted for one gate: envgate.decisions/1/0 "
                      "(delivery " D3 ", approved, 204) and "
                      "envgate.decisions/1/1 (delivery " D4 ", rejected, 200)");
  assert_string_equal(
      eg_audit_result(a, eg_audit_anomaly(a, 0)->result)->delivery, D4);
  eg_audit_free(a);
}

/* A decision record with a deployment id, as the worker writes it. */
static void add_deployment_decision(eg_audit_t *a,
                                    const char *ref,
                                    const char *delivery,
                                    uint64_t run,
                                    uint64_t deployment,
                                    int64_t minutes_ago) {
  char json[512], key[64], ts[EG_RFC3339_SIZE];

  eg_time_rfc3339(NOW - minutes_ago * MIN, ts, sizeof(ts));
  snprintf(key, sizeof(key), "7/%llu/release", (unsigned long long)run);
  snprintf(json, sizeof(json),
           "{\"delivery\":\"%s\",\"repository\":\"o/r\",\"run_id\":%llu,"
           "\"deployment_id\":%llu,\"environment\":\"release\","
           "\"state\":\"approved\",\"comment\":\"ok\",\"checks\":[],"
           "\"attempts\":1,\"worker\":\"w1\",\"decided_at\":\"%s\","
           "\"github_status\":204}",
           delivery, (unsigned long long)run, (unsigned long long)deployment,
           ts);
  assert_int_equal(eg_audit_add_decision(a, ref, NOW - minutes_ago * MIN, key,
                                         json, strlen(json)),
                   EG_OK);
}

/* A re-run asks again for the same gate key with a new deployment: two
 * reviews of one key are fine when their deployments differ, and a double
 * review when they are the same. */
static void test_rerun_is_not_a_double_review(void **state) {
  eg_audit_t *a = new_audit();

  (void)state;
  add_event(a, "envgate.events/0/0", D1, 500, 40);
  add_event(a, "envgate.events/0/1", D2, 500, 30);
  add_deployment_decision(a, "envgate.decisions/0/0", D1, 500, 11, 39);
  add_deployment_decision(a, "envgate.decisions/0/1", D2, 500, 12, 29);
  finish(a, false);
  assert_int_equal(eg_audit_anomaly_count(a), 0);
  assert_int_equal(find(a, D1)->fate, EG_AUDIT_APPROVED);
  assert_int_equal(find(a, D2)->fate, EG_AUDIT_APPROVED);
  eg_audit_free(a);

  a = new_audit();
  add_event(a, "envgate.events/0/0", D1, 500, 40);
  add_event(a, "envgate.events/0/1", D2, 500, 30);
  add_deployment_decision(a, "envgate.decisions/0/0", D1, 500, 11, 39);
  add_deployment_decision(a, "envgate.decisions/0/1", D2, 500, 11, 29);
  finish(a, false);
  assert_int_equal(eg_audit_anomaly_count(a), 1);
  assert_int_equal(eg_audit_anomaly(a, 0)->kind, EG_AUDIT_DOUBLE_REVIEW);
  eg_audit_free(a);
}

static void test_partial(void **state) {
  eg_audit_t *a = new_audit();

  (void)state;
  /* Read --since: D1's event is older than the window. */
  add_decision(a, "envgate.decisions/0/0", D1, 100, "approved", 204, 5);
  add_event(a, "envgate.events/0/0", D2, 200, 4);
  add_decision(a, "envgate.decisions/0/1", D2, 200, "approved", 204, 3);
  finish(a, true);
  assert_int_equal(eg_audit_count(a), 1);
  assert_int_equal(find(a, D2)->fate, EG_AUDIT_APPROVED);
  assert_int_equal(eg_audit_skipped(a), 1);
  assert_int_equal(eg_audit_anomaly_count(a), 0);
  eg_audit_free(a);
}

static void test_bad_records(void **state) {
  static const char *const bad[] = {
      "",
      "not json",
      "[1]",
      "{\"state\":\"approved\"}",
      "{\"delivery\":\"x\",\"state\":\"maybe\"}",
      "{\"delivery\":\"\",\"state\":\"approved\"}",
      "{\"delivery\":\"x\",\"delivery\":\"y\",\"state\":\"approved\"}",
  };
  eg_audit_t *a = new_audit();
  eg_envelope_t *env;

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(eg_audit_add_decision(a, "envgate.decisions/0/0", 0, NULL,
                                           bad[i], strlen(bad[i])),
                     EG_OK);
  env = envelope("", 100, 1);
  assert_int_equal(
      add(a, EG_AUDIT_EVENTS, "envgate.events/0/7", NOW, env, true), EG_OK);
  /* A body that does not parse: identity from the Kafka key. */
  env = envelope(D1, 100, 1);
  env->body_ok = false;
  assert_int_equal(
      add(a, EG_AUDIT_EVENTS, "envgate.events/0/8", NOW, env, true), EG_OK);
  /* Decision fields that are missing or malformed are tolerated. */
  assert_int_equal(eg_audit_add_decision(
                       a, "envgate.decisions/0/9", 0, NULL,
                       "{\"delivery\":\"" D1 "\",\"state\":\"rejected\","
                       "\"decided_at\":\"soon\",\"checks\":[{\"passed\":"
                       "false}]}",
                       strlen("{\"delivery\":\"" D1 "\",\"state\":\"rejected\","
                              "\"decided_at\":\"soon\",\"checks\":[{"
                              "\"passed\":false}]}")),
                   EG_OK);
  finish(a, false);
  assert_int_equal(eg_audit_count(a), 1);
  assert_string_equal(find(a, D1)->key, "k");
  assert_string_equal(find(a, D1)->repository, "");
  assert_int_equal(find(a, D1)->fate, EG_AUDIT_REJECTED);
  assert_string_equal(find(a, D1)->reason, "check");
  assert_string_equal(find(a, D1)->decided_at, "soon");
  assert_int_equal(find(a, D1)->decided_at_ms, -1);
  assert_int_equal(eg_audit_anomaly_count(a), sizeof(bad) / sizeof(bad[0]) + 1);
  for (size_t i = 0; i < eg_audit_anomaly_count(a); i++) {
    assert_int_equal(eg_audit_anomaly(a, i)->kind, EG_AUDIT_BAD_RECORD);
    assert_int_equal(eg_audit_anomaly(a, i)->result, EG_AUDIT_NONE);
    assert_true(eg_audit_anomaly_matches(
        a, eg_audit_anomaly(a, i),
        &(eg_audit_filter_t){.repository = "someone/else"}));
  }
  eg_audit_free(a);
}

static void test_filters(void **state) {
  eg_audit_t *a = new_audit();
  const eg_audit_result_t *r;
  eg_audit_filter_t f = {0};

  (void)state;
  add_event(a, "envgate.events/0/0", D1, 100, 60);
  finish(a, false);
  r = find(a, D1);
  assert_true(eg_audit_matches(r, NULL));
  assert_true(eg_audit_matches(r, &f));
  f.repository = "O/R";
  f.environment = "RELEASE";
  f.delivery = D1;
  f.fates = 1u << EG_AUDIT_PENDING;
  assert_true(eg_audit_matches(r, &f));
  f.fates = (1u << EG_AUDIT_APPROVED) | (1u << EG_AUDIT_REJECTED);
  assert_false(eg_audit_matches(r, &f));
  f.fates = 0;
  f.repository = "o/other";
  assert_false(eg_audit_matches(r, &f));
  f.repository = NULL;
  f.environment = "staging";
  assert_false(eg_audit_matches(r, &f));
  f.environment = NULL;
  f.delivery = D2;
  assert_false(eg_audit_matches(r, &f));
  /* The no-outcome anomaly follows its request. */
  assert_int_equal(eg_audit_anomaly_count(a), 1);
  assert_false(eg_audit_anomaly_matches(a, eg_audit_anomaly(a, 0), &f));
  f.delivery = D1;
  assert_true(eg_audit_anomaly_matches(a, eg_audit_anomaly(a, 0), &f));
  assert_false(eg_audit_matches(NULL, &f));
  assert_false(eg_audit_anomaly_matches(NULL, eg_audit_anomaly(a, 0), &f));
  assert_null(eg_audit_result(a, 1));
  assert_null(eg_audit_anomaly(a, 1));
  eg_audit_free(a);
}

/* jansson's first allocation failing leaves its error code unset: that is
 * out of memory, not a bad record (found by valgrind in gh_parse and
 * policy; audit read the code the same way). */
static void test_jansson_first_allocation(void **state) {
  eg_audit_t *a;
  int rc;

  (void)state;
  assert_int_equal(eg_audit_new(&a), EG_OK);
  json_set_alloc_funcs(fail_once_malloc, free);
  dirty_stack();
  jansson_fail_next = true;
  rc = eg_audit_add_decision(a, "d/0/0", 0, "7/1/release", "{}", 2);
  json_set_alloc_funcs(malloc, free);
  assert_false(jansson_fail_next); /* the allocation was made, and failed */
  assert_int_equal(rc, EG_ENOMEM);
  eg_audit_free(a);
}

static void test_args(void **state) {
  eg_audit_t *a = new_audit();
  eg_audit_copy_t c = {.ref = "r", .env = envelope(D1, 1, 1)};
  eg_audit_opts_t opts = {.now_ms = NOW, .grace_ms = -1};

  (void)state;
  assert_int_equal(eg_audit_new(NULL), EG_EINVAL);
  assert_int_equal(eg_audit_add_copy(NULL, &c), EG_EINVAL);
  assert_int_equal(eg_audit_add_copy(a, NULL), EG_EINVAL);
  c.ref = NULL;
  assert_int_equal(eg_audit_add_copy(a, &c), EG_EINVAL);
  c.ref = "r";
  c.env = NULL;
  assert_int_equal(eg_audit_add_copy(a, &c), EG_EINVAL);
  c.env = envelope(D1, 1, 1);
  c.source = (eg_audit_source_t)7;
  assert_int_equal(eg_audit_add_copy(a, &c), EG_EINVAL);
  assert_int_equal(eg_audit_add_decision(NULL, "r", 0, NULL, "{}", 2),
                   EG_EINVAL);
  assert_int_equal(eg_audit_add_decision(a, NULL, 0, NULL, "{}", 2), EG_EINVAL);
  assert_int_equal(eg_audit_add_decision(a, "r", 0, NULL, NULL, 2), EG_EINVAL);
  assert_int_equal(eg_audit_finish(NULL, &opts), EG_EINVAL);
  assert_int_equal(eg_audit_finish(a, NULL), EG_EINVAL);
  assert_int_equal(eg_audit_finish(a, &opts), EG_EINVAL);
  /* Nothing is available before a successful finish. */
  assert_int_equal(eg_audit_count(a), 0);
  assert_int_equal(eg_audit_anomaly_count(a), 0);
  assert_int_equal(eg_audit_count(NULL), 0);
  assert_int_equal(eg_audit_skipped(NULL), 0);
  eg_audit_free(a);
  eg_audit_free(NULL);

  /* Nothing at all: no results. */
  a = new_audit();
  finish(a, false);
  assert_int_equal(eg_audit_count(a), 0);
  assert_int_equal(eg_audit_anomaly_count(a), 0);
  eg_audit_free(a);
}

/* A history touching every path, for the allocation-failure sweep. */
static int build_all(eg_audit_t *a) {
  eg_envelope_t *env;
  int rc;
  char json[] = "{\"delivery\":\"" D1 "\",\"state\":\"rejected\","
                "\"checks\":[{\"name\":\"ref\",\"passed\":false}],"
                "\"github_status\":204}";

  rc = add(a, EG_AUDIT_EVENTS, "e/0/0", NOW - 40 * MIN, envelope(D1, 1, 40),
           true);
  if (rc == EG_OK)
    rc = add(a, EG_AUDIT_EVENTS, "e/0/1", NOW - 40 * MIN, envelope(D2, 1, 40),
             false);
  if (rc == EG_OK)
    rc = add(a, EG_AUDIT_RETRY, "r/0/0", NOW, envelope(D3, 3, 40), true);
  env = envelope(D3, 3, 40);
  snprintf(env->error_class, sizeof(env->error_class), "poison");
  if (rc == EG_OK)
    rc = add(a, EG_AUDIT_DLQ, "q/0/0", NOW, env, true);
  env = envelope(D3, 3, 40);
  snprintf(env->redrive_source, sizeof(env->redrive_source), "q/0/0");
  if (rc == EG_OK)
    rc = add(a, EG_AUDIT_EVENTS, "e/0/3", NOW, env, true);
  if (rc == EG_OK)
    rc = add(a, EG_AUDIT_EVENTS, "e/0/4", NOW, envelope("", 1, 1), true);
  if (rc == EG_OK)
    rc =
        eg_audit_add_decision(a, "d/0/0", 0, "7/1/release", json, strlen(json));
  if (rc == EG_OK)
    rc =
        eg_audit_add_decision(a, "d/0/1", 0, "7/1/release", json, strlen(json));
  if (rc == EG_OK)
    rc = eg_audit_add_decision(a, "d/0/2", 0, NULL, "{", 1);
  if (rc == EG_OK) {
    eg_audit_opts_t opts = {.now_ms = NOW, .grace_ms = MIN};
    rc = eg_audit_finish(a, &opts);
  }
  return rc;
}

/* A summary of an audit's output, to compare runs. */
static void digest(const eg_audit_t *a, char *out, size_t len) {
  size_t used = 0;

  for (size_t i = 0; i < eg_audit_count(a); i++) {
    const eg_audit_result_t *r = eg_audit_result(a, i);
    used += (size_t)snprintf(out + used, len - used, "%s %s %s|", r->delivery,
                             eg_audit_fate_name(r->fate),
                             r->reason != NULL ? r->reason : "-");
  }
  for (size_t i = 0; i < eg_audit_anomaly_count(a); i++)
    used += (size_t)snprintf(out + used, len - used, "%s|",
                             eg_audit_anomaly(a, i)->detail);
}

#if OOM_INJECTION
/* jansson is not safe against failed allocations (its lexer drops bytes of
 * strings it cannot grow), so its allocations stay out of the sweep. */
static void *jansson_malloc(size_t n) {
  return __libc_malloc(n);
}

static void jansson_free(void *p) {
  __libc_free(p);
}
#endif

/* Every allocation of the audit made to fail in turn: each run either
 * fails with EG_ENOMEM or gives the same output as a run without failures;
 * nothing leaks or crashes. */
static void test_oom(void **state) {
  char want[8192], got[8192];
  eg_audit_t *a = NULL;
  bool hit = true;
  long steps;

  (void)state;
  assert_int_equal(eg_audit_new(&a), EG_OK);
  assert_int_equal(build_all(a), EG_OK);
  digest(a, want, sizeof(want));
  eg_audit_free(a);
#if !OOM_INJECTION
  (void)got;
  (void)hit;
  (void)steps;
  skip();
#else
  if (!oom_works())
    skip();
  json_set_alloc_funcs(jansson_malloc, jansson_free);
  for (steps = 0; hit && steps < 10000; steps++) {
    int rc;

    a = NULL;
    oom_arm(steps);
    rc = eg_audit_new(&a);
    if (rc == EG_OK)
      rc = build_all(a);
    hit = oom_disarm();
    if (!hit || rc == EG_OK) {
      assert_int_equal(rc, EG_OK);
      digest(a, got, sizeof(got));
      assert_string_equal(got, want);
    } else {
      assert_int_equal(rc, EG_ENOMEM);
    }
    eg_audit_free(a);
  }
  json_set_alloc_funcs(malloc, free);
  assert_false(hit);
  assert_true(steps > 50);
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_decided),
      cmocka_unit_test(test_retrying_and_dead_letters),
      cmocka_unit_test(test_redrive),
      cmocka_unit_test(test_pending_grace),
      cmocka_unit_test(test_forged_and_unverified),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_rerun_is_not_a_double_review),
      cmocka_unit_test(test_partial),
      cmocka_unit_test(test_bad_records),
      cmocka_unit_test(test_filters),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_jansson_first_allocation),
      cmocka_unit_test(test_oom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

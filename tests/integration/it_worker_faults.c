/* envgate-worker under faults, asserting on what ghsim saw: GitHub errors
 * retried in place or through envgate.retry, Retry-After honoured,
 * permanent errors dead-lettered (once) without holding up other events, and
 * kill -9, Redis and broker outages and rebalances ending with exactly one
 * review per gate request. */
#include "harness/harness.h"
#include "harness/stack.h"

#include "eg/error.h"
#include "eg/timeutil.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

static const char *header(const eg_it_kafka_msg_t *m, const char *name) {
  const eg_it_kafka_header_t *h = eg_it_kafka_msg_header(m, name);
  return h != NULL && h->value != NULL ? h->value : "";
}

/* Produces gate requests for runs [from, to) of the generated scenario. */
static void produce_range(
    eg_it_t *it, eg_it_stack_t *st, size_t from, size_t to, unsigned salt) {
  size_t n = to - from;
  eg_it_gate_t *gates = calloc(n, sizeof(*gates));
  char(*deliveries)[40] = calloc(n, sizeof(*deliveries));

  for (size_t k = 0; k < n; k++)
    gates[k] = eg_it_many_gate(from + k, salt, deliveries[k]);
  EG_IT_MUST(it, eg_it_stack_produce_many(it, st, gates, n));
  free(gates);
  free(deliveries);
}

/* Every run got exactly one accepted review, and nothing else was
 * reviewed. */
static void assert_one_review_each(eg_it_t *it, eg_it_stack_t *st, size_t n) {
  unsigned *counts = calloc(n, sizeof(*counts));
  size_t others = 0;

  EG_IT_MUST(it, eg_it_ghsim_review_counts(it, st, n, counts, &others));
  for (size_t i = 0; i < n; i++)
    if (counts[i] != 1)
      fail_msg("run %zu has %u accepted reviews", i, counts[i]);
  assert_int_equal(others, 0);
  free(counts);
}

static void stop_all_workers(eg_it_t *it, eg_it_stack_t *st) {
  for (size_t i = 0; i < st->nworkers; i++) {
    int status = -1;
    if (!eg_it_proc_is_running(st->workers[i]))
      continue;
    EG_IT_MUST(it, eg_it_proc_stop(st->workers[i], 30000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
}

static void test_500s_then_success_gives_one_review(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;

  EG_IT_MUST(it, eg_it_scenario_many(it, 4, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  /* The first two run reads and the first review fail with 500. */
  EG_IT_MUST(it,
             eg_it_ghsim_faults(it, &st,
                                "{\"run\":{\"error_500\":1.0,\"limit\":2},"
                                "\"review\":{\"error_502\":1.0,\"limit\":1}}"));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  produce_range(it, &st, 0, 4, 1);
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 4, 30000));
  eg_it_sleep_ms(1000);
  assert_one_review_each(it, &st, 4);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

static void test_429_retry_after_is_honoured(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;
  long long t0;
  json_t *sim;
  int64_t at_ms = 0;

  EG_IT_MUST(it, eg_it_scenario_many(it, 1, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it, eg_it_ghsim_faults(it, &st,
                                    "{\"run\":{\"rate_429\":1.0,\"limit\":1,"
                                    "\"retry_after_s\":4}}"));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  t0 = (long long)eg_time_epoch_ms();
  produce_range(it, &st, 0, 1, 2);
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 1, 40000));
  sim = eg_it_ghsim_state(it, &st);
  {
    json_t *rev = json_array_get(json_object_get(sim, "reviews"), 0);
    const char *at = json_string_value(json_object_get(rev, "at"));
    assert_non_null(at);
    assert_int_equal(eg_time_parse_rfc3339(at, &at_ms), EG_OK);
  }
  json_decref(sim);
  /* The second run read waited for Retry-After (4 s) before going on. */
  assert_true(at_ms - t0 >= 4000);
  /* The long wait went through the retry topic, not a blocked thread. */
  {
    eg_it_kafka_msgs_t msgs;
    EG_IT_MUST(it, eg_it_kafka_consume_all(it, st.db.bootstrap, "envgate.retry",
                                           10000, &msgs));
    assert_int_equal(msgs.n, 1);
    assert_string_equal(header(&msgs.v[0], "envgate-attempt"), "1");
    assert_true(strlen(header(&msgs.v[0], "envgate-not-before")) >= 13);
    eg_it_kafka_msgs_cleanup(&msgs);
  }
  assert_one_review_each(it, &st, 1);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

static void test_permanent_404_is_dead_lettered_alone(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;
  char d[40];
  eg_it_gate_t missing;
  eg_it_kafka_msgs_t msgs;

  EG_IT_MUST(it, eg_it_scenario_many(it, 3, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  /* A run GitHub does not know: 404, retrying cannot help. */
  missing = eg_it_many_gate(500, 3, d);
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &missing, NULL, NULL));
  produce_range(it, &st, 0, 3, 3);
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.dlq", 1,
                                        30000, &msgs));
  assert_int_equal(msgs.n, 1);
  assert_string_equal(header(&msgs.v[0], "github-delivery"), d);
  assert_string_equal(header(&msgs.v[0], "envgate-error-class"), "permanent");
  assert_string_equal(header(&msgs.v[0], "envgate-last-status"), "404");
  assert_string_equal(header(&msgs.v[0], "envgate-attempts"), "1");
  eg_it_kafka_msgs_cleanup(&msgs);
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 3, 30000));
  assert_one_review_each(it, &st, 3);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

static void test_kill9_rebalance_and_outages_lose_nothing(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;
  enum { N = 240 };
  eg_it_proc_t *w1 = NULL;
  int status;

  EG_IT_MUST(it, eg_it_scenario_many(it, N, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  /* Slow GitHub keeps many events in flight. */
  EG_IT_MUST(it,
             eg_it_ghsim_faults(it, &st, "{\"*\":{\"latency_ms\":[20,80]}}"));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, &w1));
  produce_range(it, &st, 0, 80, 4);
  eg_it_sleep_ms(1500);
  /* kill -9 with events in flight. */
  EG_IT_MUST(it, eg_it_proc_signal(w1, SIGKILL));
  EG_IT_MUST(it, eg_it_proc_wait(w1, 10000, &status));
  /* A new worker takes over; a third joins under load (rebalance). */
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  produce_range(it, &st, 80, 160, 4);
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  /* Redis down for 10 s: decisions go on with local caches. */
  EG_IT_MUST(it, eg_it_proc_signal(st.redis.proc, SIGSTOP));
  produce_range(it, &st, 160, 200, 4);
  eg_it_sleep_ms(10000);
  EG_IT_MUST(it, eg_it_proc_signal(st.redis.proc, SIGCONT));
  /* The whole broker down for 10 s. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &st.db, "all-down", NULL, 0));
  eg_it_sleep_ms(10000);
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &st.db, "all-up", NULL, 0));
  produce_range(it, &st, 200, N, 4);
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, N, 120000));
  eg_it_sleep_ms(2000);
  assert_one_review_each(it, &st, N);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

/* Calls ghsim counted for endpoint, all statuses together. */
static json_int_t calls_to(eg_it_t *it, eg_it_stack_t *st, const char *ep) {
  json_t *sim = eg_it_ghsim_state(it, st);
  json_t *by = json_object_get(json_object_get(sim, "calls"), ep);
  const char *k;
  json_t *v;
  json_int_t n = 0;

  json_object_foreach(by, k, v) n += json_integer_value(v);
  json_decref(sim);
  return n;
}

static void test_secondary_limit_holds_the_fleet(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;
  json_int_t before, after;

  EG_IT_MUST(it, eg_it_scenario_many(it, 20, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it, eg_it_ghsim_faults(it, &st,
                                    "{\"run\":{\"secondary_403\":1.0,"
                                    "\"limit\":1,\"retry_after_s\":8}}"));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  produce_range(it, &st, 0, 1, 5);
  for (int i = 0; i < 200 && calls_to(it, &st, "run") < 1; i++)
    eg_it_sleep_ms(50);
  assert_int_equal(calls_to(it, &st, "run"), 1);
  /* Let the first worker store the hold in Redis; from then on both
   * workers hold the installation and new events make no call. */
  eg_it_sleep_ms(500);
  produce_range(it, &st, 1, 20, 5);
  eg_it_sleep_ms(1500);
  before = calls_to(it, &st, "run");
  eg_it_sleep_ms(3000);
  after = calls_to(it, &st, "run");
  assert_int_equal(before, 1);
  assert_int_equal(after, 1);
  /* After the hold everything is decided, once. */
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 20, 60000));
  eg_it_sleep_ms(1000);
  assert_one_review_each(it, &st, 20);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

/* The yardstick: GitHub failing 5% of calls with 500, 2% with 429
 * and holding 1% past the client's timeout; not one event may end in the
 * dead-letter topic, and each gets exactly one review. */
static void test_flaky_github_dead_letters_nothing(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;
  enum { N = 1000 };
  static const char *const env[] = {"ENVGATE_WORKER_INFLIGHT=128", NULL};
  eg_it_kafka_msgs_t msgs;

  EG_IT_MUST(it, eg_it_scenario_many(it, N, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it,
             eg_it_ghsim_faults(it, &st,
                                "{\"*\":{\"error_500\":0.05,\"rate_429\":0.02,"
                                "\"retry_after_s\":1,\"timeout\":0.01,"
                                "\"timeout_ms\":12000}}"));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, env, NULL));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, env, NULL));
  produce_range(it, &st, 0, N, 6);
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, N, 240000));
  eg_it_sleep_ms(1000);
  assert_one_review_each(it, &st, N);
  EG_IT_MUST(it, eg_it_kafka_consume_all(it, st.db.bootstrap, "envgate.dlq",
                                         10000, &msgs));
  assert_int_equal(msgs.n, 0);
  eg_it_kafka_msgs_cleanup(&msgs);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

/* Waits until worker w has finished another copy of the one dead-lettered
 * delivery, and checks that the copy added no second letter. */
static void
assert_no_second_letter(eg_it_t *it, eg_it_stack_t *st, eg_it_proc_t *w) {
  long long deadline = eg_it_now_ms() + eg_it_timeout_ms(30000);
  eg_it_kafka_msgs_t msgs;

  for (;;) {
    bool skipped =
        eg_it_proc_log_count(w, "\"msg\":\"dead letter already written\"") > 0;
    EG_IT_MUST(it, eg_it_kafka_consume_all(it, st->db.bootstrap, "envgate.dlq",
                                           10000, &msgs));
    if (skipped || msgs.n > 1)
      break;
    eg_it_kafka_msgs_cleanup(&msgs);
    if (eg_it_now_ms() > deadline)
      fail_msg("the copy was not finished");
    eg_it_sleep_ms(200);
  }
  assert_int_equal(msgs.n, 1);
  eg_it_kafka_msgs_cleanup(&msgs);
}

/* A verified event is dead-lettered once: another copy of its delivery
 * (GitHub's redelivery, or Kafka's after a crash) adds no second letter,
 * even on another worker; a redriven copy that fails again gets its own. */
static void test_dead_letter_written_once(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;
  char d[40], brokers[512];
  eg_it_gate_t missing;
  eg_it_kafka_msgs_t msgs;
  eg_it_proc_t *w1 = NULL, *w2 = NULL;
  const char *argv[] = {"envgate-redrive", "--apply", NULL};
  const char *renv[] = {brokers, NULL};
  eg_it_spawn_opts_t o = {.name = "redrive", .argv = argv, .env = renv};
  int status = -1;

  EG_IT_MUST(it, eg_it_scenario_many(it, 1, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, &w1));
  missing = eg_it_many_gate(500, 9, d);
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &missing, NULL, NULL));
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.dlq", 1,
                                        30000, &msgs));
  eg_it_kafka_msgs_cleanup(&msgs);
  /* The same delivery again, to a worker that never saw it: the record in
   * Redis stops the second letter. */
  EG_IT_MUST(it, eg_it_proc_stop(w1, 30000, &status));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, &w2));
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &missing, NULL, NULL));
  assert_no_second_letter(it, &st, w2);
  /* Redriven, the run is still unknown: a new letter for the new attempt. */
  snprintf(brokers, sizeof(brokers), "ENVGATE_KAFKA_BROKERS=%s",
           st.db.bootstrap);
  EG_IT_MUST(it, eg_it_run(it, &o, 60000, &status, NULL));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.dlq", 2,
                                        30000, &msgs));
  assert_int_equal(msgs.n, 2);
  for (size_t i = 0; i < msgs.n; i++) {
    assert_string_equal(header(&msgs.v[i], "github-delivery"), d);
    assert_string_equal(header(&msgs.v[i], "envgate-error-class"), "permanent");
  }
  eg_it_kafka_msgs_cleanup(&msgs);
  assert_int_equal(eg_it_ghsim_reviews_ok(it, &st), 0);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

/* True when Redis holds key. */
static bool redis_has(const eg_it_stack_t *st, const char *key) {
  redisContext *rc = redisConnect("127.0.0.1", st->redis.port);
  redisReply *reply = NULL;
  bool found = false;

  if (rc != NULL && rc->err == 0)
    reply = redisCommand(rc, "EXISTS %s", key);
  if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
    found = reply->integer == 1;
  freeReplyObject(reply);
  redisFree(rc);
  return found;
}

/* A copy of a dead-lettered delivery that cannot look up the letter's
 * record waits for Redis instead of writing a second letter (the chaos
 * run: a killed worker's finished events redelivered while Redis is
 * down). */
static void test_letter_waits_for_redis(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;
  char d[40];
  eg_it_gate_t missing;
  eg_it_kafka_msgs_t msgs;
  eg_it_proc_t *w1 = NULL, *w2 = NULL;
  int status = -1;

  EG_IT_MUST(it, eg_it_scenario_many(it, 1, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, &w1));
  missing = eg_it_many_gate(500, 11, d);
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &missing, NULL, NULL));
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.dlq", 1,
                                        30000, &msgs));
  eg_it_kafka_msgs_cleanup(&msgs);
  EG_IT_MUST(it, eg_it_proc_stop(w1, 30000, &status));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  EG_IT_MUST(it, eg_it_proc_signal(st.redis.proc, SIGSTOP));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, &w2));
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &missing, NULL, NULL));
  EG_IT_MUST(it, eg_it_proc_wait_log(
                     w2, "\"msg\":\"dead letter waits for Redis\"", 30000));
  EG_IT_MUST(it, eg_it_proc_signal(st.redis.proc, SIGCONT));
  assert_no_second_letter(it, &st, w2);
  assert_int_equal(eg_it_proc_log_count(
                       w2, "\"msg\":\"dead letter written without its Redis "
                           "check\""),
                   0);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

/* A letter written while Redis was down (after waiting for it in vain) has
 * its record written once Redis is back, so a worker that never saw the
 * letter still adds no second one. */
static void test_letter_record_written_after_redis_outage(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;
  char d[40], key[128];
  eg_it_gate_t missing;
  eg_it_kafka_msgs_t msgs;
  eg_it_proc_t *w1 = NULL, *w2 = NULL;
  int status = -1;
  size_t run = 0;

  EG_IT_MUST(it, eg_it_scenario_many(it, 10, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, &w1));
  missing = eg_it_many_gate(500, 10, d);
  snprintf(key, sizeof(key), "envgate:done:v1:letter/%s/-", d);
  EG_IT_MUST(it, eg_it_proc_signal(st.redis.proc, SIGSTOP));
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &missing, NULL, NULL));
  /* The letter waits 30 s for Redis, then is written anyway. */
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.dlq", 1,
                                        90000, &msgs));
  eg_it_kafka_msgs_cleanup(&msgs);
  assert_int_equal(eg_it_proc_log_count(
                       w1, "\"msg\":\"dead letter written without its Redis "
                           "check\""),
                   1);
  EG_IT_MUST(it, eg_it_proc_signal(st.redis.proc, SIGCONT));
  /* The next events reach Redis again, and the missed record with them. */
  while (!redis_has(&st, key)) {
    if (run == 10)
      fail_msg("%s not in Redis after %zu more events", key, run);
    produce_range(it, &st, run, run + 1, 10);
    run++;
    EG_IT_MUST(it, eg_it_wait_reviews(it, &st, run, 30000));
  }
  EG_IT_MUST(it, eg_it_proc_stop(w1, 30000, &status));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, &w2));
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &missing, NULL, NULL));
  assert_no_second_letter(it, &st, w2);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

/* A dead letter, once the cause is gone, is redriven and reviewed once. */
static void test_redriven_dead_letter_gets_reviewed(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  const char *scenario = NULL;
  static const char *const env[] = {"ENVGATE_MAX_ATTEMPTS=1", NULL};
  eg_it_kafka_msgs_t msgs;
  char brokers[512];
  const char *argv[] = {"envgate-redrive", "--apply", "--error-class",
                        "exhausted", NULL};
  const char *renv[] = {brokers, NULL};
  eg_it_spawn_opts_t o = {.name = "redrive", .argv = argv, .env = renv};
  int status = -1;

  EG_IT_MUST(it, eg_it_scenario_many(it, 2, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  /* Every in-place try of the first run read fails: with one attempt
   * allowed the event is dead-lettered as exhausted. */
  EG_IT_MUST(it, eg_it_ghsim_faults(it, &st,
                                    "{\"run\":{\"error_500\":1.0,"
                                    "\"limit\":3}}"));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, env, NULL));
  produce_range(it, &st, 0, 1, 7);
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.dlq", 1,
                                        30000, &msgs));
  assert_string_equal(header(&msgs.v[0], "envgate-error-class"), "exhausted");
  eg_it_kafka_msgs_cleanup(&msgs);
  assert_int_equal(eg_it_ghsim_reviews_ok(it, &st), 0);
  /* GitHub is healthy again (the fault's limit is spent): redrive. */
  snprintf(brokers, sizeof(brokers), "ENVGATE_KAFKA_BROKERS=%s",
           st.db.bootstrap);
  EG_IT_MUST(it, eg_it_run(it, &o, 60000, &status, NULL));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 1, 30000));
  eg_it_sleep_ms(1000);
  assert_one_review_each(it, &st, 1);
  stop_all_workers(it, &st);
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_500s_then_success_gives_one_review,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_429_retry_after_is_honoured,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_permanent_404_is_dead_lettered_alone,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_secondary_limit_holds_the_fleet,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_flaky_github_dead_letters_nothing,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_dead_letter_written_once,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_letter_waits_for_redis, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(
          test_letter_record_written_after_redis_outage, eg_it_setup,
          eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_redriven_dead_letter_gets_reviewed,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(
          test_kill9_rebalance_and_outages_lose_nothing, eg_it_setup,
          eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

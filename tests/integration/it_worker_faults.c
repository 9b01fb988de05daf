/* envgate-worker under faults, asserting on what ghsim saw: GitHub errors
 * retried in place or through envgate.retry, Retry-After honoured,
 * permanent errors dead-lettered without holding up other events, and
 * kill -9, Redis and broker outages and rebalances ending with exactly one
 * review per gate request. Dead letters written once: it_worker_letters. */
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
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 0, 4, 1));
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 4, 30000));
  eg_it_sleep_ms(1000);
  EG_IT_MUST(it, eg_it_check_one_review_each(it, &st, 4));
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
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
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 0, 1, 2));
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
    assert_string_equal(eg_it_kafka_header_str(&msgs.v[0], "envgate-attempt"),
                        "1");
    assert_true(
        strlen(eg_it_kafka_header_str(&msgs.v[0], "envgate-not-before")) >= 13);
    eg_it_kafka_msgs_cleanup(&msgs);
  }
  EG_IT_MUST(it, eg_it_check_one_review_each(it, &st, 1));
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
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
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 0, 3, 3));
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.dlq", 1,
                                        30000, &msgs));
  assert_int_equal(msgs.n, 1);
  assert_string_equal(eg_it_kafka_header_str(&msgs.v[0], "github-delivery"), d);
  assert_string_equal(eg_it_kafka_header_str(&msgs.v[0], "envgate-error-class"),
                      "permanent");
  assert_string_equal(eg_it_kafka_header_str(&msgs.v[0], "envgate-last-status"),
                      "404");
  assert_string_equal(eg_it_kafka_header_str(&msgs.v[0], "envgate-attempts"),
                      "1");
  eg_it_kafka_msgs_cleanup(&msgs);
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 3, 30000));
  EG_IT_MUST(it, eg_it_check_one_review_each(it, &st, 3));
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
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
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 0, 80, 4));
  eg_it_sleep_ms(1500);
  /* kill -9 with events in flight. */
  EG_IT_MUST(it, eg_it_proc_signal(w1, SIGKILL));
  EG_IT_MUST(it, eg_it_proc_wait(w1, 10000, &status));
  /* A new worker takes over; a third joins under load (rebalance). */
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 80, 160, 4));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  /* Redis down for 10 s: decisions go on with local caches. */
  EG_IT_MUST(it, eg_it_proc_signal(st.redis.proc, SIGSTOP));
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 160, 200, 4));
  eg_it_sleep_ms(10000);
  EG_IT_MUST(it, eg_it_proc_signal(st.redis.proc, SIGCONT));
  /* The whole broker down for 10 s. */
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &st.db, "all-down", NULL, 0));
  eg_it_sleep_ms(10000);
  EG_IT_MUST(it, eg_it_devbroker_ctl(it, &st.db, "all-up", NULL, 0));
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 200, N, 4));
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, N, 120000));
  eg_it_sleep_ms(2000);
  EG_IT_MUST(it, eg_it_check_one_review_each(it, &st, N));
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
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
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 0, 1, 5));
  for (int i = 0; i < 200 && calls_to(it, &st, "run") < 1; i++)
    eg_it_sleep_ms(50);
  assert_int_equal(calls_to(it, &st, "run"), 1);
  /* Let the first worker store the hold in Redis; from then on both
   * workers hold the installation and new events make no call. */
  eg_it_sleep_ms(500);
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 1, 20, 5));
  eg_it_sleep_ms(1500);
  before = calls_to(it, &st, "run");
  eg_it_sleep_ms(3000);
  after = calls_to(it, &st, "run");
  assert_int_equal(before, 1);
  assert_int_equal(after, 1);
  /* After the hold everything is decided, once. */
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 20, 60000));
  eg_it_sleep_ms(1000);
  EG_IT_MUST(it, eg_it_check_one_review_each(it, &st, 20));
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
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
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 0, N, 6));
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, N, 240000));
  eg_it_sleep_ms(1000);
  EG_IT_MUST(it, eg_it_check_one_review_each(it, &st, N));
  EG_IT_MUST(it, eg_it_kafka_consume_all(it, st.db.bootstrap, "envgate.dlq",
                                         10000, &msgs));
  assert_int_equal(msgs.n, 0);
  eg_it_kafka_msgs_cleanup(&msgs);
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
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
      cmocka_unit_test_setup_teardown(
          test_kill9_rebalance_and_outages_lose_nothing, eg_it_setup,
          eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

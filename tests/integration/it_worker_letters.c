/* envgate-worker's dead letters: one per delivery, whatever copies of it
 * Kafka or GitHub deliver again, also when Redis is down for a while; a
 * redriven letter gets its own attempt. */
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

/* Waits until worker w has finished another copy of the one dead-lettered
 * delivery, and checks that the copy added no second letter. */
static void
assert_no_second_letter(eg_it_t *it, eg_it_stack_t *st, eg_it_proc_t *w) {
  eg_it_kafka_msgs_t msgs;
  /* Waiting on the log, not by re-reading the topic: a second letter
   * means the line never comes, and the count below says so. */
  int finished =
      eg_it_proc_wait_log(w, "\"msg\":\"dead letter already written\"", 30000);

  EG_IT_MUST(it, eg_it_kafka_consume_all(it, st->db.bootstrap, "envgate.dlq",
                                         10000, &msgs));
  assert_int_equal(msgs.n, 1);
  eg_it_kafka_msgs_cleanup(&msgs);
  if (finished != EG_OK)
    fail_msg("the copy was not finished");
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
    assert_string_equal(eg_it_kafka_header_str(&msgs.v[i], "github-delivery"),
                        d);
    assert_string_equal(
        eg_it_kafka_header_str(&msgs.v[i], "envgate-error-class"), "permanent");
  }
  eg_it_kafka_msgs_cleanup(&msgs);
  assert_int_equal(eg_it_ghsim_reviews_ok(it, &st), 0);
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
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
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
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
    EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, run, run + 1, 10));
    run++;
    EG_IT_MUST(it, eg_it_wait_reviews(it, &st, run, 30000));
  }
  EG_IT_MUST(it, eg_it_proc_stop(w1, 30000, &status));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, &w2));
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &missing, NULL, NULL));
  assert_no_second_letter(it, &st, w2);
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
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
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 0, 1, 7));
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.dlq", 1,
                                        30000, &msgs));
  assert_string_equal(eg_it_kafka_header_str(&msgs.v[0], "envgate-error-class"),
                      "exhausted");
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
  EG_IT_MUST(it, eg_it_check_one_review_each(it, &st, 1));
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_dead_letter_written_once,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_letter_waits_for_redis, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(
          test_letter_record_written_after_redis_outage, eg_it_setup,
          eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_redriven_dead_letter_gets_reviewed,
                                      eg_it_setup, eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

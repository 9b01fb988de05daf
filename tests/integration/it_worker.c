/* envgate-worker over real processes (devbroker, redis-server, ghsim):
 * approve and reject, one review per gate request whatever the duplicates,
 * forged and poison events dead-lettered, no secret in logs or Kafka, the
 * cap on an installation's calls in flight, and a full queue. */
#include "harness/harness.h"
#include "harness/stack.h"

#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#define D1 "11111111-1111-4111-8111-111111111111"
#define D2 "22222222-2222-4222-8222-222222222222"
#define D3 "33333333-3333-4333-8333-333333333333"
#define D4 "44444444-4444-4444-8444-444444444444"
#define D5 "55555555-5555-4555-8555-555555555555"
#define D6 "66666666-6666-4666-8666-666666666666"

static const char *review_state(json_t *state, uint64_t run_id) {
  json_t *reviews = json_object_get(state, "reviews");
  size_t i;
  json_t *v;

  json_array_foreach(reviews, i, v) {
    if ((uint64_t)json_integer_value(json_object_get(v, "run_id")) == run_id &&
        json_integer_value(json_object_get(v, "status")) / 100 == 2)
      return json_string_value(json_object_get(v, "state"));
  }
  return NULL;
}

static void stop_workers(eg_it_t *it, eg_it_stack_t *st) {
  for (size_t i = 0; i < st->nworkers; i++) {
    int status = -1;
    EG_IT_MUST(it, eg_it_proc_stop(st->workers[i], 30000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
}

static void test_approve_reject_and_duplicates(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  eg_it_gate_t ok = eg_it_demo_gate(true, D1);
  eg_it_gate_t bad = eg_it_demo_gate(false, D2);
  eg_it_gate_t again = eg_it_demo_gate(true, D3);
  eg_it_kafka_msgs_t msgs;
  json_t *sim;

  EG_IT_MUST(it, eg_it_stack_start(it, NULL, &st));
  /* Enqueued before any worker runs: still decided (earliest offset). */
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &ok, NULL, NULL));
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &bad, NULL, NULL));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 2, 30000));
  sim = eg_it_ghsim_state(it, &st);
  assert_string_equal(review_state(sim, ok.run_id), "approved");
  assert_string_equal(review_state(sim, bad.run_id), "rejected");
  json_decref(sim);

  /* A redelivery (same delivery id) and another delivery for the same
   * deployment: no second review, no further GitHub call for them. */
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &ok, NULL, NULL));
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &again, NULL, NULL));
  EG_IT_MUST(it, eg_it_proc_wait_log(st.workers[0], D3, 20000));
  for (int i = 0;
       i < 100 && eg_it_proc_log_count(st.workers[0], "duplicate skipped") < 2;
       i++)
    eg_it_sleep_ms(100);
  assert_int_equal(eg_it_proc_log_count(st.workers[0], "duplicate skipped"), 2);
  sim = eg_it_ghsim_state(it, &st);
  assert_int_equal(json_array_size(json_object_get(sim, "reviews")), 2);
  json_decref(sim);

  /* One decision record per review, with its checks. */
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap,
                                        "envgate.decisions", 2, 10000, &msgs));
  assert_int_equal(msgs.n, 2);
  for (size_t i = 0; i < msgs.n; i++) {
    json_t *rec = json_loadb(msgs.v[i].value, msgs.v[i].value_len, 0, NULL);
    const char *delivery = json_string_value(json_object_get(rec, "delivery"));
    const char *st_name = json_string_value(json_object_get(rec, "state"));

    assert_non_null(rec);
    assert_true(strcmp(delivery, D1) == 0 || strcmp(delivery, D2) == 0);
    assert_string_equal(st_name,
                        strcmp(delivery, D1) == 0 ? "approved" : "rejected");
    assert_string_equal(json_string_value(json_object_get(rec, "repository")),
                        "octo-org/octo-repo");
    assert_string_equal(json_string_value(json_object_get(rec, "environment")),
                        "release");
    assert_true(json_array_size(json_object_get(rec, "checks")) > 0);
    assert_int_equal(json_integer_value(json_object_get(rec, "github_status")),
                     204);
    json_decref(rec);
  }
  eg_it_kafka_msgs_cleanup(&msgs);
  stop_workers(it, &st);
  eg_it_pass(it);
}

static void test_forged_and_poison_are_dead_lettered(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  eg_it_gate_t forged = eg_it_demo_gate(true, D4);
  eg_it_gate_t poison = eg_it_demo_gate(true, D5);
  eg_it_gate_t fine = eg_it_demo_gate(false, D6);
  eg_it_kafka_msgs_t msgs;
  bool saw_invalid = false, saw_poison = false;

  EG_IT_MUST(it, eg_it_stack_start(it, NULL, &st));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  /* Signed with another secret: write access to Kafka is not enough. */
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &forged,
                                     "an-attacker-guessed-this-secret", NULL));
  /* Correctly signed, but not JSON. */
  EG_IT_MUST(it,
             eg_it_stack_produce(it, &st, &poison, NULL, "{not json at all"));
  EG_IT_MUST(it, eg_it_stack_produce(it, &st, &fine, NULL, NULL));
  EG_IT_MUST(it, eg_it_kafka_wait_count(it, st.db.bootstrap, "envgate.dlq", 2,
                                        30000, &msgs));
  assert_int_equal(msgs.n, 2);
  for (size_t i = 0; i < msgs.n; i++) {
    const char *cls = eg_it_kafka_header_str(&msgs.v[i], "envgate-error-class");
    if (strcmp(eg_it_kafka_header_str(&msgs.v[i], "github-delivery"), D4) ==
        0) {
      assert_string_equal(cls, "invalid");
      saw_invalid = true;
    } else {
      assert_string_equal(eg_it_kafka_header_str(&msgs.v[i], "github-delivery"),
                          D5);
      assert_string_equal(cls, "poison");
      saw_poison = true;
    }
    /* Original bytes and headers are kept, with the contract's extras. */
    assert_non_null(eg_it_kafka_msg_header(&msgs.v[i], "hub-signature-256"));
    assert_non_null(eg_it_kafka_msg_header(&msgs.v[i], "envgate-error"));
    assert_string_equal(eg_it_kafka_header_str(&msgs.v[i], "envgate-attempts"),
                        "1");
    assert_non_null(eg_it_kafka_msg_header(&msgs.v[i], "envgate-first-seen"));
    assert_non_null(eg_it_kafka_msg_header(&msgs.v[i], "envgate-last-status"));
  }
  assert_true(saw_invalid && saw_poison);
  eg_it_kafka_msgs_cleanup(&msgs);
  /* The other event was not held up, and the forged one got no review. */
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 1, 20000));
  {
    json_t *sim = eg_it_ghsim_state(it, &st);
    assert_int_equal(json_array_size(json_object_get(sim, "reviews")), 1);
    assert_string_equal(review_state(sim, fine.run_id), "rejected");
    json_decref(sim);
  }
  stop_workers(it, &st);
  eg_it_pass(it);
}

/* The whole pipeline: a signed webhook posted to the ingress is enqueued
 * (202), and the worker reviews it at ghsim. */
static void test_webhook_through_ingress_is_reviewed(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  eg_it_gate_t ok = eg_it_demo_gate(true, D1);
  eg_it_webhook_headers_t h;
  eg_it_http_resp_t r;
  char url[128];
  char *body;
  json_t *sim;
  int status = -1;

  EG_IT_MUST(it, eg_it_stack_start(it, NULL, &st));
  EG_IT_MUST(it, eg_it_stack_ingress(it, &st, NULL));
  assert_true(strncmp(st.ingress_url, "http://127.0.0.1:", 17) == 0);
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  body = eg_it_gate_body(&st, &ok);
  assert_non_null(body);
  eg_it_webhook_headers(body, D1, &h);
  snprintf(url, sizeof(url), "%s/webhook", st.ingress_url);
  EG_IT_MUST(
      it, eg_it_http(it, "POST", url, h.list, body, strlen(body), 10000, &r));
  assert_int_equal(r.status, 202);
  eg_it_http_resp_cleanup(&r);
  free(body);
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 1, 30000));
  sim = eg_it_ghsim_state(it, &st);
  assert_string_equal(review_state(sim, ok.run_id), "approved");
  json_decref(sim);
  EG_IT_MUST(it, eg_it_proc_stop(st.ingress, 20000, &status));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  stop_workers(it, &st);
  eg_it_pass(it);
}

/* The mint count ghsim recorded for the demo installation and repository. */
static json_int_t mints_for_repo(json_t *sim) {
  size_t i;
  json_t *v;

  json_array_foreach(json_object_get(sim, "mint_counts"), i, v) {
    if (json_integer_value(json_object_get(v, "installation_id")) == 4242 &&
        json_integer_value(json_object_get(v, "repository_id")) == 1296269)
      return json_integer_value(json_object_get(v, "count"));
  }
  return 0;
}

static void test_two_workers_one_mint_and_no_secret_anywhere(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  enum { N = 200 };
  eg_it_gate_t gates[N];
  char deliveries[N][40];
  const char *scenario = NULL;
  json_t *sim;
  size_t approved = 0, rejected = 0, i;
  json_t *v;

  EG_IT_MUST(it, eg_it_scenario_many(it, N, 10, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, NULL, NULL));
  for (size_t k = 0; k < N; k++)
    gates[k] = eg_it_many_gate(k, 1, deliveries[k]);
  EG_IT_MUST(it, eg_it_stack_produce_many(it, &st, gates, N));
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, N, 60000));
  sim = eg_it_ghsim_state(it, &st);
  /* Exactly one review per gate request, each as the scenario expects. */
  assert_int_equal(json_array_size(json_object_get(sim, "reviews")), N);
  json_array_foreach(json_object_get(sim, "reviews"), i, v) {
    uint64_t run = (uint64_t)json_integer_value(json_object_get(v, "run_id"));
    const char *s = json_string_value(json_object_get(v, "state"));
    bool reject = (run - EG_IT_MANY_RUN0) % 10 == 9;
    assert_string_equal(s, reject ? "rejected" : "approved");
    reject ? rejected++ : approved++;
  }
  assert_int_equal(rejected, N / 10);
  assert_int_equal(approved, N - N / 10);
  /* One installation token for the repository, fleet-wide. */
  assert_int_equal(mints_for_repo(sim), 1);
  json_decref(sim);
  stop_workers(it, &st);
  /* No secret, key or token in any log or any Kafka record. */
  assert_int_equal(eg_it_scan_secrets(it, &st), 0);
  eg_it_pass(it);
}

/* Calls in flight at ghsim, the most at once so far (every call waits its
 * latency there). */
static json_int_t most_in_flight(eg_it_t *it, eg_it_stack_t *st) {
  json_t *sim = eg_it_ghsim_state(it, st);
  json_int_t n = json_integer_value(json_object_get(sim, "timer_pending_max"));

  json_decref(sim);
  return n;
}

/* ENVGATE_GITHUB_CONCURRENCY caps one installation's calls in flight, also
 * below the two calls of a decision's first round (they go in turns); a
 * worker with the default sends them together. */
static void test_call_cap_per_installation(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  enum { N = 8 };
  static const char *const capped[] = {"ENVGATE_GITHUB_CONCURRENCY=1",
                                       "ENVGATE_WORKER_INFLIGHT=8", NULL};
  static const char *const uncapped[] = {"ENVGATE_WORKER_INFLIGHT=8", NULL};
  const char *scenario = NULL;

  EG_IT_MUST(it, eg_it_scenario_many(it, 2 * N, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it, eg_it_ghsim_faults(it, &st, "{\"*\":{\"latency_ms\":30}}"));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, capped, NULL));
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 0, N, 1));
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, N, 60000));
  assert_int_equal(most_in_flight(it, &st), 1);
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, uncapped, NULL));
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, N, 2 * N, 1));
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, 2 * N, 60000));
  assert_true(most_in_flight(it, &st) > 1);
  EG_IT_MUST(it, eg_it_check_one_review_each(it, &st, 2 * N));
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
  eg_it_pass(it);
}

/* A full queue stops the worker taking events but does not pause fetching
 * (a pause drops librdkafka's prefetched events, and the fetch after a
 * resume waits for a broker thread's next wake-up); only a queue where
 * nothing finishes for a second pauses, and resumes once there is room. */
static void test_full_queue(void **state) {
  eg_it_t *it = *state;
  eg_it_stack_t st;
  enum { FAST = 40, SLOW = 10 };
  /* INFLIGHT 2: the queue holds 8 events. */
  static const char *const env[] = {"ENVGATE_WORKER_INFLIGHT=2",
                                    "ENVGATE_LOG_LEVEL=debug", NULL};
  const char *scenario = NULL;

  EG_IT_MUST(it, eg_it_scenario_many(it, FAST + SLOW, 0, &scenario));
  EG_IT_MUST(it, eg_it_stack_start(it, scenario, &st));
  EG_IT_MUST(it, eg_it_stack_worker(it, &st, env, NULL));
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, 0, FAST, 1));
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, FAST, 60000));
  assert_int_equal(eg_it_proc_log_count(st.workers[0], "fetching paused"), 0);
  /* 4 rounds of 400 ms: the queue stays full for over a second. */
  EG_IT_MUST(it, eg_it_ghsim_faults(it, &st, "{\"*\":{\"latency_ms\":400}}"));
  EG_IT_MUST(it, eg_it_stack_produce_range(it, &st, FAST, FAST + SLOW, 1));
  EG_IT_MUST(it, eg_it_wait_reviews(it, &st, FAST + SLOW, 90000));
  assert_true(eg_it_proc_log_count(st.workers[0], "fetching paused") >= 1);
  assert_true(eg_it_proc_log_count(st.workers[0], "fetching resumed") >= 1);
  EG_IT_MUST(it, eg_it_check_one_review_each(it, &st, FAST + SLOW));
  EG_IT_MUST(it, eg_it_stack_stop_workers(it, &st));
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_approve_reject_and_duplicates,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_forged_and_poison_are_dead_lettered,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(
          test_two_workers_one_mint_and_no_secret_anywhere, eg_it_setup,
          eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_webhook_through_ingress_is_reviewed,
                                      eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_full_queue, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_call_cap_per_installation,
                                      eg_it_setup, eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* worker/jobs.c: order by due time, one job per key at a time, and no lost
 * wake-up: takers are woken one at a time, so every due job must still
 * find a thread, also with many threads and delayed jobs. The consumer's
 * wait for room ends as soon as enough jobs are done. */
#include "jobs.h"

#include "eg/timeutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static void sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static wrk_job_t *job(const char *key, uint64_t due_ms, unsigned tag) {
  wrk_job_t *j = calloc(1, sizeof(*j));
  assert_non_null(j);
  snprintf(j->key, sizeof(j->key), "%s", key);
  j->due_ms = due_ms;
  j->attempt = tag;
  return j;
}

static void test_due_then_arrival_order(void **state) {
  wrk_jobs_t *q;
  uint64_t now = eg_time_mono_ms();
  (void)state;

  assert_int_equal(wrk_jobs_new(8, &q), 0);
  wrk_jobs_push(q, job("a", now + 150, 3));
  wrk_jobs_push(q, job("b", 0, 1));
  wrk_jobs_push(q, job("c", 0, 2));
  assert_int_equal(wrk_jobs_count(q), 3);
  /* The delayed job takes no room: 8 - 2. */
  assert_true(wrk_jobs_wait_room(q, 6, 0));
  assert_false(wrk_jobs_wait_room(q, 7, 0));
  for (unsigned want = 1; want <= 3; want++) {
    wrk_job_t *j = wrk_jobs_take(q);
    assert_non_null(j);
    assert_int_equal(j->attempt, want);
    if (want == 3)
      assert_true(eg_time_mono_ms() >= now + 150);
    wrk_jobs_done(q, j);
    wrk_job_free(j);
  }
  assert_int_equal(wrk_jobs_count(q), 0);
  wrk_jobs_free(q);
}

struct taker {
  wrk_jobs_t *q;
  wrk_job_t *got;
};

static void *take_one(void *arg) {
  struct taker *t = arg;
  t->got = wrk_jobs_take(t->q);
  return NULL;
}

static void test_same_key_waits_for_done(void **state) {
  wrk_jobs_t *q;
  struct taker t;
  pthread_t th;
  wrk_job_t *first;
  (void)state;

  assert_int_equal(wrk_jobs_new(8, &q), 0);
  wrk_jobs_push(q, job("gate", 0, 1));
  wrk_jobs_push(q, job("gate", 0, 2));
  first = wrk_jobs_take(q);
  assert_int_equal(first->attempt, 1);
  t = (struct taker){q, NULL};
  assert_int_equal(pthread_create(&th, NULL, take_one, &t), 0);
  sleep_ms(100);
  /* The second event of the gate is parked behind the first. */
  assert_null(t.got);
  wrk_jobs_done(q, first);
  wrk_job_free(first);
  pthread_join(th, NULL);
  assert_non_null(t.got);
  assert_int_equal(t.got->attempt, 2);
  wrk_jobs_done(q, t.got);
  wrk_job_free(t.got);
  wrk_jobs_free(q);
}

/* ---- many threads ---- */

#define KEYS    64
#define THREADS 16
#define SLOW    999999u /* a job that takes its thread for 600 ms */

struct pool {
  wrk_jobs_t *q;
  pthread_mutex_t lock;
  unsigned running[KEYS]; /* takers inside one key now */
  unsigned overlaps;      /* a key run twice at once */
  unsigned done;
  uint64_t late_ms; /* worst delay past a job's due time */
};

static void *worker_loop(void *arg) {
  struct pool *p = arg;
  wrk_job_t *j;

  while ((j = wrk_jobs_take(p->q)) != NULL) {
    unsigned k = (unsigned)atoi(j->key);
    uint64_t now = eg_time_mono_ms();

    pthread_mutex_lock(&p->lock);
    if (p->running[k]++ > 0)
      p->overlaps++;
    if (j->due_ms > 0 && now > j->due_ms && now - j->due_ms > p->late_ms)
      p->late_ms = now - j->due_ms;
    pthread_mutex_unlock(&p->lock);
    if (j->attempt == SLOW)
      sleep_ms(600);
    else if (j->attempt % 7 == 0)
      sleep_ms(1);
    pthread_mutex_lock(&p->lock);
    p->running[k]--;
    p->done++;
    pthread_mutex_unlock(&p->lock);
    wrk_jobs_done(p->q, j);
    wrk_job_free(j);
  }
  return NULL;
}

static unsigned done_count(struct pool *p) {
  pthread_mutex_lock(&p->lock);
  unsigned n = p->done;
  pthread_mutex_unlock(&p->lock);
  return n;
}

/* Waits up to 10 s for n jobs to be done. */
static void wait_done(struct pool *p, unsigned n) {
  uint64_t deadline = eg_time_mono_ms() + 10000;
  while (done_count(p) < n && eg_time_mono_ms() < deadline)
    sleep_ms(5);
  assert_int_equal(done_count(p), n);
}

static void test_every_job_finds_a_thread(void **state) {
  static struct pool p;
  pthread_t th[THREADS];
  unsigned n = 0;
  (void)state;

  memset(&p, 0, sizeof(p));
  pthread_mutex_init(&p.lock, NULL);
  assert_int_equal(wrk_jobs_new(4096, &p.q), 0);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, worker_loop, &p), 0);
  /* Bursts of due jobs over few keys (parking), with delayed ones among
   * them, and pauses that leave every thread idle in between. */
  for (unsigned round = 0; round < 20; round++) {
    uint64_t now = eg_time_mono_ms();
    for (unsigned i = 0; i < 200; i++, n++) {
      char key[16];
      uint64_t due = i % 10 == 0 ? now + 1 + (i % 50) : 0;
      snprintf(key, sizeof(key), "%u", (n * 7) % KEYS);
      wrk_jobs_push(p.q, job(key, due, n));
    }
    if (round % 4 == 3)
      wait_done(&p, n);
  }
  wait_done(&p, n);
  /* Delayed jobs pushed while every thread waits must still be taken when
   * due: nothing else would wake a thread for them. */
  for (unsigned i = 0; i < 8; i++, n++) {
    char key[16];
    snprintf(key, sizeof(key), "%u", i);
    wrk_jobs_push(p.q, job(key, eg_time_mono_ms() + 50 + 40 * (8 - i), n));
  }
  wait_done(&p, n);
  assert_int_equal(p.overlaps, 0);
  assert_true(p.late_ms < 1000);
  assert_int_equal(wrk_jobs_count(p.q), 0);
  wrk_jobs_close(p.q);
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  wrk_jobs_free(p.q);
  pthread_mutex_destroy(&p.lock);
}

/* Two idle threads; a job due in 100 ms, then one due now that keeps its
 * thread busy. Whichever thread takes the busy one, the other must be left
 * watching the delayed job (a lost wake-up makes it wait for the busy one's
 * end, 600 ms). Repeated, as the condition variable picks the thread;
 * glibc tends to wake the longest waiter, so this guards the rule rather
 * than reproducing every order POSIX allows. */
static void test_delayed_job_on_time_while_other_is_busy(void **state) {
  static struct pool p;
  pthread_t th[2];
  unsigned n = 0;
  (void)state;

  memset(&p, 0, sizeof(p));
  pthread_mutex_init(&p.lock, NULL);
  assert_int_equal(wrk_jobs_new(16, &p.q), 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, worker_loop, &p), 0);
  for (unsigned round = 0; round < 6; round++) {
    sleep_ms(20);
    wrk_jobs_push(p.q, job("1", eg_time_mono_ms() + 100, 1));
    sleep_ms(20);
    wrk_jobs_push(p.q, job("2", 0, SLOW));
    n += 2;
    wait_done(&p, n - 1);
    assert_true(p.late_ms < 300);
    wait_done(&p, n);
  }
  wrk_jobs_close(p.q);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  wrk_jobs_free(p.q);
  pthread_mutex_destroy(&p.lock);
}

static void test_close_wakes_every_taker(void **state) {
  wrk_jobs_t *q;
  struct taker t[4];
  pthread_t th[4];
  (void)state;

  assert_int_equal(wrk_jobs_new(8, &q), 0);
  for (int i = 0; i < 4; i++) {
    t[i] = (struct taker){q, NULL};
    assert_int_equal(pthread_create(&th[i], NULL, take_one, &t[i]), 0);
  }
  sleep_ms(50);
  wrk_jobs_close(q);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_null(t[i].got);
  }
  wrk_jobs_free(q);
}

/* Finishes n jobs after a delay, as worker threads would. */
struct finisher {
  wrk_jobs_t *q;
  unsigned delay_ms, n;
};

static void *finish_later(void *arg) {
  struct finisher *f = arg;

  sleep_ms(f->delay_ms);
  for (unsigned i = 0; i < f->n; i++) {
    wrk_job_t *j = wrk_jobs_take(f->q);
    assert_non_null(j);
    wrk_jobs_done(f->q, j);
    wrk_job_free(j);
  }
  return NULL;
}

static void fill(wrk_jobs_t *q, unsigned n) {
  char key[16];

  for (unsigned i = 0; i < n; i++) {
    snprintf(key, sizeof(key), "k%u", i);
    wrk_jobs_push(q, job(key, 0, i));
  }
}

static void test_wait_room_returns_once_enough_is_done(void **state) {
  wrk_jobs_t *q;
  struct finisher f;
  pthread_t th;
  uint64_t t0;
  (void)state;

  assert_int_equal(wrk_jobs_new(4, &q), 0);
  /* Room at once; a request over the capacity is capped to it. */
  assert_true(wrk_jobs_wait_room(q, 2, 0));
  assert_true(wrk_jobs_wait_room(q, 100, 0));
  fill(q, 4);
  assert_true(wrk_jobs_is_full(q));
  /* Full, nothing finishes: the wait times out. */
  t0 = eg_time_mono_ms();
  assert_false(wrk_jobs_wait_room(q, 1, 60));
  assert_true(eg_time_mono_ms() - t0 >= 60);
  /* One job done is not room for two; the second one is. */
  f = (struct finisher){q, 30, 1};
  assert_int_equal(pthread_create(&th, NULL, finish_later, &f), 0);
  assert_false(wrk_jobs_wait_room(q, 2, 300));
  pthread_join(th, NULL);
  f = (struct finisher){q, 30, 1};
  t0 = eg_time_mono_ms();
  assert_int_equal(pthread_create(&th, NULL, finish_later, &f), 0);
  assert_true(wrk_jobs_wait_room(q, 2, 10000));
  assert_true(eg_time_mono_ms() - t0 < 5000);
  pthread_join(th, NULL);
  assert_false(wrk_jobs_is_full(q));
  assert_int_equal(wrk_jobs_count(q), 2);
  wrk_jobs_free(q);
}

static void *close_later(void *arg) {
  sleep_ms(30);
  wrk_jobs_close(arg);
  return NULL;
}

static void test_close_ends_wait_room(void **state) {
  wrk_jobs_t *q;
  pthread_t th;
  uint64_t t0;
  (void)state;

  assert_int_equal(wrk_jobs_new(2, &q), 0);
  fill(q, 2);
  t0 = eg_time_mono_ms();
  assert_int_equal(pthread_create(&th, NULL, close_later, q), 0);
  assert_false(wrk_jobs_wait_room(q, 1, 10000));
  assert_true(eg_time_mono_ms() - t0 < 5000);
  pthread_join(th, NULL);
  wrk_jobs_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_due_then_arrival_order),
      cmocka_unit_test(test_same_key_waits_for_done),
      cmocka_unit_test(test_every_job_finds_a_thread),
      cmocka_unit_test(test_delayed_job_on_time_while_other_is_busy),
      cmocka_unit_test(test_close_wakes_every_taker),
      cmocka_unit_test(test_wait_room_returns_once_enough_is_done),
      cmocka_unit_test(test_close_ends_wait_room),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* worker/hold.c without Redis: the per-installation cap on calls in flight
 * (waits while full, wakes on release, installations sharing a lock bucket
 * do not limit each other) and local holds. */
#include "hold.h"

#include "eg/timeutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

static void sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

struct acquirer {
  wrk_hold_t *h;
  uint64_t installation;
  unsigned n;
  atomic_bool got;
};

static void *acquire_thread(void *arg) {
  struct acquirer *a = arg;

  wrk_hold_acquire(a->h, a->installation, a->n);
  atomic_store(&a->got, true);
  return NULL;
}

static void test_new_refuses_zero_cap(void **state) {
  wrk_hold_t *h = (wrk_hold_t *)1;
  (void)state;

  assert_int_equal(wrk_hold_new(NULL, 0, &h), -1);
  assert_null(h);
}

static void test_full_installation_waits_for_release(void **state) {
  wrk_hold_t *h;
  pthread_t t;
  struct acquirer a;
  (void)state;

  assert_int_equal(wrk_hold_new(NULL, 3, &h), 0);
  wrk_hold_acquire(h, 7, 2);
  wrk_hold_acquire(h, 7, 1);
  a = (struct acquirer){.h = h, .installation = 7, .n = 1};
  assert_int_equal(pthread_create(&t, NULL, acquire_thread, &a), 0);
  sleep_ms(100);
  assert_false(atomic_load(&a.got)); /* 3 of 3 in use */
  wrk_hold_release(h, 7, 2);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(atomic_load(&a.got));
  /* 2 in use now: one more fits without waiting. */
  wrk_hold_acquire(h, 7, 1);
  wrk_hold_release(h, 7, 3);
  wrk_hold_free(h);
}

static void test_request_over_cap_is_capped(void **state) {
  wrk_hold_t *h;
  pthread_t t;
  struct acquirer a;
  (void)state;

  assert_int_equal(wrk_hold_new(NULL, 4, &h), 0);
  assert_int_equal(wrk_hold_max(h), 4);
  wrk_hold_acquire(h, 9, 10); /* takes all 4, does not wait forever */
  a = (struct acquirer){.h = h, .installation = 9, .n = 1};
  assert_int_equal(pthread_create(&t, NULL, acquire_thread, &a), 0);
  sleep_ms(100);
  assert_false(atomic_load(&a.got));
  wrk_hold_release(h, 9, 10);
  assert_int_equal(pthread_join(t, NULL), 0);
  wrk_hold_release(h, 9, 1);
  wrk_hold_free(h);
}

static void test_installations_do_not_limit_each_other(void **state) {
  wrk_hold_t *h;
  (void)state;

  assert_int_equal(wrk_hold_new(NULL, 2, &h), 0);
  wrk_hold_acquire(h, 5, 2);
  /* Same lock bucket (ids BUCKETS = 256 apart in hold.c), another
   * installation: no wait. */
  wrk_hold_acquire(h, 5 + 256, 2);
  wrk_hold_acquire(h, 6, 2);
  wrk_hold_release(h, 5, 2);
  wrk_hold_release(h, 5 + 256, 2);
  wrk_hold_release(h, 6, 2);
  wrk_hold_free(h);
}

static void test_local_holds(void **state) {
  wrk_hold_t *h;
  int64_t now = eg_time_epoch_ms();
  (void)state;

  assert_int_equal(wrk_hold_new(NULL, 24, &h), 0);
  assert_int_equal(wrk_hold_until(h, 11), 0);
  wrk_hold_set(h, 11, now + 5000);
  assert_int_equal(wrk_hold_until(h, 11), now + 5000);
  assert_int_equal(wrk_hold_until(h, 11 + 256), 0);
  /* An earlier end does not shorten the hold; a past one is ignored. */
  wrk_hold_set(h, 11, now + 1000);
  assert_int_equal(wrk_hold_until(h, 11), now + 5000);
  wrk_hold_set(h, 12, now - 1);
  assert_int_equal(wrk_hold_until(h, 12), 0);
  wrk_hold_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_refuses_zero_cap),
      cmocka_unit_test(test_full_installation_waits_for_release),
      cmocka_unit_test(test_request_over_cap_is_capped),
      cmocka_unit_test(test_installations_do_not_limit_each_other),
      cmocka_unit_test(test_local_holds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for the offset tracker: commit only below the lowest unfinished. */
#include "eg/offsets.h"
#include "eg/error.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int64_t collect_one(eg_offsets_t *ot, const char *topic, int32_t part) {
  eg_offsets_pos_t pos[8];
  size_t n = eg_offsets_collect(ot, pos, 8);

  for (size_t i = 0; i < n; i++)
    if (pos[i].partition == part && strcmp(pos[i].topic, topic) == 0)
      return pos[i].next;
  return -1; /* unchanged */
}

static void test_out_of_order_finish(void **state) {
  eg_offsets_t *ot = NULL;

  (void)state;
  assert_int_equal(eg_offsets_new(&ot), EG_OK);
  for (int64_t o = 10; o < 15; o++)
    assert_int_equal(eg_offsets_start(ot, "ev", 0, o), EG_OK);
  assert_int_equal(collect_one(ot, "ev", 0), 10);
  /* Finishing 11..14 leaves 10 unfinished: nothing moves. */
  for (int64_t o = 11; o < 15; o++)
    assert_int_equal(eg_offsets_finish(ot, "ev", 0, o), EG_OK);
  assert_int_equal(collect_one(ot, "ev", 0), -1);
  assert_int_equal(eg_offsets_unfinished(ot, "ev", 0), 1);
  assert_int_equal(eg_offsets_finish(ot, "ev", 0, 10), EG_OK);
  assert_int_equal(collect_one(ot, "ev", 0), 15);
  assert_int_equal(eg_offsets_unfinished(ot, NULL, 0), 0);
  eg_offsets_free(ot);
}

static void test_gaps_and_refusals(void **state) {
  eg_offsets_t *ot = NULL;

  (void)state;
  assert_int_equal(eg_offsets_new(&ot), EG_OK);
  /* Compacted topics and transactions leave gaps between offsets. */
  assert_int_equal(eg_offsets_start(ot, "ev", 3, 5), EG_OK);
  assert_int_equal(eg_offsets_start(ot, "ev", 3, 9), EG_OK);
  assert_int_equal(eg_offsets_start(ot, "ev", 3, 9), EG_EEXIST);
  assert_int_equal(eg_offsets_start(ot, "ev", 3, 7), EG_EEXIST);
  assert_int_equal(eg_offsets_finish(ot, "ev", 3, 6), EG_ENOENT);
  assert_int_equal(eg_offsets_finish(ot, "ev", 3, 9), EG_OK);
  assert_int_equal(eg_offsets_finish(ot, "ev", 3, 9), EG_ENOENT);
  assert_int_equal(collect_one(ot, "ev", 3), 5);
  assert_int_equal(eg_offsets_finish(ot, "ev", 3, 5), EG_OK);
  assert_int_equal(collect_one(ot, "ev", 3), 10);
  assert_int_equal(eg_offsets_start(ot, "ev", 3, -1), EG_EINVAL);
  assert_int_equal(eg_offsets_start(NULL, "ev", 3, 1), EG_EINVAL);
  eg_offsets_free(ot);
  eg_offsets_free(NULL);
}

static void test_partitions_are_independent_and_drop(void **state) {
  eg_offsets_t *ot = NULL;
  eg_offsets_pos_t pos[8];

  (void)state;
  assert_int_equal(eg_offsets_new(&ot), EG_OK);
  assert_int_equal(eg_offsets_start(ot, "ev", 0, 1), EG_OK);
  assert_int_equal(eg_offsets_start(ot, "ev", 1, 1), EG_OK);
  assert_int_equal(eg_offsets_start(ot, "retry", 0, 1), EG_OK);
  assert_int_equal(eg_offsets_collect(ot, pos, 8), 3);
  assert_int_equal(eg_offsets_finish(ot, "retry", 0, 1), EG_OK);
  assert_int_equal(eg_offsets_collect(ot, pos, 8), 1);
  assert_string_equal(pos[0].topic, "retry");
  assert_int_equal(pos[0].next, 2);
  eg_offsets_drop(ot, "ev", 1);
  assert_int_equal(eg_offsets_finish(ot, "ev", 1, 1), EG_ENOENT);
  assert_int_equal(eg_offsets_unfinished(ot, NULL, 0), 1);
  eg_offsets_free(ot);
}

static void test_many_grow(void **state) {
  eg_offsets_t *ot = NULL;

  (void)state;
  assert_int_equal(eg_offsets_new(&ot), EG_OK);
  /* Interleave starts and finishes so the ring wraps and grows. */
  for (int64_t o = 0; o < 10000; o++) {
    assert_int_equal(eg_offsets_start(ot, "ev", 0, o), EG_OK);
    if (o >= 100 && o % 2 == 0)
      assert_int_equal(eg_offsets_finish(ot, "ev", 0, o - 100), EG_OK);
  }
  assert_int_equal(collect_one(ot, "ev", 0), 1);
  for (int64_t o = 1; o < 10000; o += 2)
    assert_int_equal(eg_offsets_finish(ot, "ev", 0, o), EG_OK);
  assert_int_equal(collect_one(ot, "ev", 0), 9900);
  eg_offsets_free(ot);
}

struct finisher {
  eg_offsets_t *ot;
  int64_t first;
};

static void *finish_every_fourth(void *arg) {
  struct finisher *f = arg;
  for (int64_t o = f->first; o < 40000; o += 4)
    eg_offsets_finish(f->ot, "ev", 0, o);
  return NULL;
}

static void test_threads(void **state) {
  eg_offsets_t *ot = NULL;
  pthread_t t[4];
  struct finisher f[4];

  (void)state;
  assert_int_equal(eg_offsets_new(&ot), EG_OK);
  for (int64_t o = 0; o < 40000; o++)
    assert_int_equal(eg_offsets_start(ot, "ev", 0, o), EG_OK);
  for (int i = 0; i < 4; i++) {
    f[i] = (struct finisher){ot, i};
    pthread_create(&t[i], NULL, finish_every_fourth, &f[i]);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(eg_offsets_unfinished(ot, NULL, 0), 0);
  assert_int_equal(collect_one(ot, "ev", 0), 40000);
  eg_offsets_free(ot);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_out_of_order_finish),
      cmocka_unit_test(test_gaps_and_refusals),
      cmocka_unit_test(test_partitions_are_independent_and_drop),
      cmocka_unit_test(test_many_grow),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

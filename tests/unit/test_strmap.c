/* Tests for the string-to-index map. */
#include "eg/strmap.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oom_inject.h"

static void test_put_get(void **state) {
  eg_strmap_t *m = NULL;
  size_t v = 0;
  char key[32];

  (void)state;
  assert_int_equal(eg_strmap_new(&m), EG_OK);
  assert_false(eg_strmap_get(m, "a", &v));
  assert_int_equal(eg_strmap_count(m), 0);
  /* Enough keys to grow several times. */
  for (size_t i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "key-%zu", i);
    assert_int_equal(eg_strmap_put(m, key, i * 3), EG_OK);
  }
  assert_int_equal(eg_strmap_count(m), 5000);
  for (size_t i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "key-%zu", i);
    assert_true(eg_strmap_get(m, key, &v));
    assert_int_equal(v, i * 3);
  }
  assert_false(eg_strmap_get(m, "key-5000", &v));
  assert_false(eg_strmap_get(m, "", NULL));
  /* Replacing keeps the count; the empty string is a key like any other;
   * keys are copied. */
  assert_int_equal(eg_strmap_put(m, "key-7", 99), EG_OK);
  assert_true(eg_strmap_get(m, "key-7", &v));
  assert_int_equal(v, 99);
  key[0] = '\0';
  assert_int_equal(eg_strmap_put(m, key, 1), EG_OK);
  snprintf(key, sizeof(key), "changed");
  assert_true(eg_strmap_get(m, "", NULL));
  assert_false(eg_strmap_get(m, "changed", NULL));
  assert_int_equal(eg_strmap_count(m), 5001);
  eg_strmap_free(m);
}

static void test_args(void **state) {
  eg_strmap_t *m = NULL;

  (void)state;
  assert_int_equal(eg_strmap_new(NULL), EG_EINVAL);
  assert_int_equal(eg_strmap_put(NULL, "a", 1), EG_EINVAL);
  assert_int_equal(eg_strmap_new(&m), EG_OK);
  assert_int_equal(eg_strmap_put(m, NULL, 1), EG_EINVAL);
  assert_false(eg_strmap_get(NULL, "a", NULL));
  assert_false(eg_strmap_get(m, NULL, NULL));
  assert_int_equal(eg_strmap_count(NULL), 0);
  eg_strmap_free(m);
  eg_strmap_free(NULL);
}

static void test_oom(void **state) {
  (void)state;
#if !OOM_INJECTION
  skip();
#else
  bool hit = true;

  if (!oom_works())
    skip();
  for (long steps = 0; hit; steps++) {
    eg_strmap_t *m = NULL;
    size_t added = 0;
    int rc;
    char key[32];

    oom_arm(steps);
    rc = eg_strmap_new(&m);
    for (size_t i = 0; rc == EG_OK && i < 200; i++) {
      snprintf(key, sizeof(key), "k%zu", i);
      rc = eg_strmap_put(m, key, i);
      if (rc == EG_OK)
        added++;
    }
    hit = oom_disarm();
    if (hit) {
      assert_int_equal(rc, EG_ENOMEM);
      /* What was added before the failure is all there. */
      assert_int_equal(eg_strmap_count(m), added);
      for (size_t i = 0; i < added; i++) {
        snprintf(key, sizeof(key), "k%zu", i);
        assert_true(eg_strmap_get(m, key, NULL));
      }
    } else {
      assert_int_equal(rc, EG_OK);
    }
    eg_strmap_free(m);
  }
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_oom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

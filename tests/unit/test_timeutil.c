/* Tests for RFC 3339 timestamps. */
#include "eg/timeutil.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_format(void **state) {
  static const struct {
    int64_t ms;
    const char *text;
  } cases[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {1468275250000, "2016-07-11T22:14:10.000Z"},
      {1795624259123, "2026-11-25T16:30:59.123Z"},
      {-1, "1969-12-31T23:59:59.999Z"},
  };
  char out[EG_RFC3339_SIZE];

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t back;
    assert_int_equal(eg_time_rfc3339(cases[i].ms, out, sizeof(out)), EG_OK);
    assert_string_equal(out, cases[i].text);
    assert_int_equal(eg_time_parse_rfc3339(out, &back), EG_OK);
    assert_int_equal(back, cases[i].ms);
  }
  assert_int_equal(eg_time_rfc3339(0, out, 10), EG_EINVAL);
  assert_int_equal(eg_time_rfc3339(0, NULL, 32), EG_EINVAL);
}

static void test_parse(void **state) {
  static const struct {
    const char *text;
    int rc;
    int64_t ms;
  } cases[] = {
      {"2016-07-11T22:14:10Z", EG_OK, 1468275250000},
      {"2016-07-11T22:14:10.5Z", EG_OK, 1468275250500},
      {"2016-07-11T22:14:10.123456Z", EG_OK, 1468275250123},
      {"2016-07-11T22:14:10", EG_EINVAL, 0},
      {"2016-07-11T22:14:10+01:00", EG_EINVAL, 0},
      {"2016-07-11T22:14:10.Z", EG_EINVAL, 0},
      {"yesterday", EG_EINVAL, 0},
      {"", EG_EINVAL, 0},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t ms = -7;
    assert_int_equal(eg_time_parse_rfc3339(cases[i].text, &ms), cases[i].rc);
    if (cases[i].rc == EG_OK)
      assert_int_equal(ms, cases[i].ms);
  }
  assert_int_equal(eg_time_parse_rfc3339(NULL, NULL), EG_EINVAL);
}

static void test_clocks(void **state) {
  uint64_t a = eg_time_mono_ms(), b = eg_time_mono_ms();

  (void)state;
  assert_true(b >= a);
  /* After 2020 and before 2100. */
  assert_true(eg_time_epoch_ms() > 1577836800000);
  assert_true(eg_time_epoch_ms() < 4102444800000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_clocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

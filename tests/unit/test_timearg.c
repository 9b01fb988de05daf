/* Tests for command-line durations and points in time. */
#include "eg/timearg.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_duration(void **state) {
  static const struct {
    const char *s;
    int rc;
    int64_t want;
  } cases[] = {
      {"15m", EG_OK, 900000},
      {"90s", EG_OK, 90000},
      {"250ms", EG_OK, 250},
      {"1h30m", EG_OK, 5400000},
      {"2d", EG_OK, 172800000},
      {"0s", EG_OK, 0},
      {"1d1h1m1s1ms", EG_OK, 90061001},
      {"", EG_EINVAL, 0},
      {"15", EG_EINVAL, 0},
      {"m", EG_EINVAL, 0},
      {"1x", EG_EINVAL, 0},
      {"-1s", EG_EINVAL, 0},
      {"1.5h", EG_EINVAL, 0},
      {"1h ", EG_EINVAL, 0},
      {"99999999999999999999s", EG_ERANGE, 0},
      {"3000000d", EG_ERANGE, 0},
  };
  int64_t ms;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ms = 42;
    assert_int_equal(eg_timearg_parse_duration(cases[i].s, &ms), cases[i].rc);
    assert_int_equal(ms, cases[i].want);
  }
  assert_int_equal(eg_timearg_parse_duration(NULL, &ms), EG_EINVAL);
  assert_int_equal(eg_timearg_parse_duration("1s", NULL), EG_EINVAL);
}

static void test_format_duration(void **state) {
  static const struct {
    int64_t ms;
    const char *want;
  } cases[] = {
      {0, "0s"},         {250, "250ms"},
      {900000, "15m"},   {5400000, "1h30m"},
      {172800000, "2d"}, {90061001, "1d1h1m1s1ms"},
      {61000, "1m1s"},   {EG_TIMEARG_MAX_MS, "2932896d23h59m59s999ms"},
  };
  char out[32];
  int64_t back;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(eg_timearg_format_duration(cases[i].ms, out, sizeof(out)),
                     EG_OK);
    assert_string_equal(out, cases[i].want);
    assert_int_equal(eg_timearg_parse_duration(out, &back), EG_OK);
    assert_int_equal(back, cases[i].ms);
  }
  assert_int_equal(eg_timearg_format_duration(-1, out, sizeof(out)), EG_EINVAL);
  assert_int_equal(eg_timearg_format_duration(90061001, out, 6), EG_ERANGE);
  assert_string_equal(out, "");
  assert_int_equal(eg_timearg_format_duration(0, out, 2), EG_ERANGE);
  assert_int_equal(eg_timearg_format_duration(0, NULL, 2), EG_EINVAL);
}

static void test_arg(void **state) {
  const int64_t now = 1714566896789LL;
  int64_t ms;

  (void)state;
  assert_int_equal(eg_timearg_parse_time("2024-05-01T00:00:00Z", now, &ms),
                   EG_OK);
  assert_int_equal(ms, 1714521600000LL);
  assert_int_equal(eg_timearg_parse_time("2024-05-01", now, &ms), EG_OK);
  assert_int_equal(ms, 1714521600000LL);
  assert_int_equal(eg_timearg_parse_time("2h", now, &ms), EG_OK);
  assert_int_equal(ms, now - 7200000);
  assert_int_equal(eg_timearg_parse_time("100000d", now, &ms), EG_OK);
  assert_int_equal(ms, 0);
  assert_int_equal(eg_timearg_parse_time("yesterday", now, &ms), EG_EINVAL);
  assert_int_equal(eg_timearg_parse_time("2024-05-01x", now, &ms), EG_EINVAL);
  assert_int_equal(eg_timearg_parse_time("2024-02-30", now, &ms), EG_EINVAL);
  assert_int_equal(eg_timearg_parse_time(NULL, now, &ms), EG_EINVAL);
  assert_int_equal(eg_timearg_parse_time("2h", now, NULL), EG_EINVAL);
  assert_int_equal(eg_timearg_parse_time("2024-05-01T10:00:00.5Z", now, &ms),
                   EG_OK);
  assert_int_equal(ms, 1714557600500LL);
  assert_int_equal(eg_timearg_parse_time("2024-05-01T10:00:00+02:00", now, &ms),
                   EG_EINVAL);
  assert_int_equal(eg_timearg_parse_time("1969-12-31", now, &ms), EG_EINVAL);
  assert_int_equal(eg_timearg_parse_time("2023-02-29", now, &ms), EG_EINVAL);
  assert_int_equal(eg_timearg_parse_time("2024-02-29", now, &ms), EG_OK);
  assert_int_equal(ms, 1709164800000LL);
  assert_int_equal(eg_timearg_parse_time("2024-13-01", now, &ms), EG_EINVAL);
  assert_int_equal(eg_timearg_parse_time("2024-1-01", now, &ms), EG_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_duration),
      cmocka_unit_test(test_format_duration),
      cmocka_unit_test(test_arg),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for RFC 3339 timestamps and command-line durations. */
#include "eg/timestamp.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_format(void **state) {
  static const struct {
    int64_t ms;
    const char *want;
  } cases[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {1714566896789LL, "2024-05-01T12:34:56.789Z"},
      {951782400000LL, "2000-02-29T00:00:00.000Z"},
      {1709251199999LL, "2024-02-29T23:59:59.999Z"},
      {EG_TIMESTAMP_MAX_MS, "9999-12-31T23:59:59.999Z"},
  };
  char out[EG_TIMESTAMP_SIZE];

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(eg_timestamp_format(cases[i].ms, out, sizeof(out)), EG_OK);
    assert_string_equal(out, cases[i].want);
  }
  assert_int_equal(eg_timestamp_format(-1, out, sizeof(out)), EG_EINVAL);
  assert_string_equal(out, "");
  assert_int_equal(
      eg_timestamp_format(EG_TIMESTAMP_MAX_MS + 1, out, sizeof(out)),
      EG_EINVAL);
  assert_int_equal(eg_timestamp_format(0, out, sizeof(out) - 1), EG_ERANGE);
  assert_string_equal(out, "");
  assert_int_equal(eg_timestamp_format(0, NULL, 30), EG_EINVAL);
}

static void test_parse_ok(void **state) {
  static const struct {
    const char *s;
    int64_t want;
  } cases[] = {
      {"2024-05-01T12:34:56.789Z", 1714566896789LL},
      {"2024-05-01t12:34:56.789z", 1714566896789LL},
      {"2024-05-01 12:34:56Z", 1714566896000LL},
      {"2024-05-01T12:34:56.7Z", 1714566896700LL},
      {"2024-05-01T12:34:56.78Z", 1714566896780LL},
      {"2024-05-01T12:34:56.789999999Z", 1714566896789LL},
      {"2024-05-01T14:34:56.789+02:00", 1714566896789LL},
      {"2024-05-01T07:04:56.789-05:30", 1714566896789LL},
      {"1970-01-01T00:00:00Z", 0},
      {"2000-02-29T00:00:00Z", 951782400000LL},
      {"9999-12-31T23:59:59.999Z", EG_TIMESTAMP_MAX_MS},
  };
  int64_t ms;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(eg_timestamp_parse(cases[i].s, &ms), EG_OK);
    assert_int_equal(ms, cases[i].want);
  }
}

static void test_parse_bad(void **state) {
  static const char *const bad[] = {
      "",
      "2024-05-01",
      "2024-05-01T12:34:56",
      "2024-05-01T12:34:56.Z",
      "2024-05-01T12:34:56.1234567890Z",
      "2024-05-01T24:00:00Z",
      "2024-05-01T12:60:00Z",
      "2024-05-01T12:34:60Z",
      "2023-02-29T00:00:00Z",
      "2024-13-01T00:00:00Z",
      "2024-00-01T00:00:00Z",
      "2024-04-31T00:00:00Z",
      "1969-12-31T23:59:59Z",
      "1970-01-01T00:00:00+00:01",
      "2024-05-01T12:34:56Zx",
      "2024-05-01T12:34:56+0200",
      "2024-05-01T12:34:56+24:00",
      "2024-5-01T12:34:56Z",
      "2024-05-01X12:34:56Z",
      "+2024-05-01T12:34:56Z",
  };
  int64_t ms = 42;

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ms = 42;
    assert_int_equal(eg_timestamp_parse(bad[i], &ms), EG_EINVAL);
    assert_int_equal(ms, 0);
  }
  assert_int_equal(eg_timestamp_parse(NULL, &ms), EG_EINVAL);
  assert_int_equal(eg_timestamp_parse("1970-01-01T00:00:00Z", NULL), EG_EINVAL);
}

static void test_roundtrip(void **state) {
  char out[EG_TIMESTAMP_SIZE];
  int64_t ms;

  (void)state;
  /* Every day boundary of a few leap cycles, plus odd milliseconds. */
  for (int64_t v = 0; v < 4000LL * 86400000LL; v += 86400000LL * 7 + 12345) {
    assert_int_equal(eg_timestamp_format(v, out, sizeof(out)), EG_OK);
    assert_int_equal(eg_timestamp_parse(out, &ms), EG_OK);
    assert_int_equal(ms, v);
  }
}

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
    assert_int_equal(eg_timestamp_parse_duration(cases[i].s, &ms), cases[i].rc);
    assert_int_equal(ms, cases[i].want);
  }
  assert_int_equal(eg_timestamp_parse_duration(NULL, &ms), EG_EINVAL);
  assert_int_equal(eg_timestamp_parse_duration("1s", NULL), EG_EINVAL);
}

static void test_format_duration(void **state) {
  static const struct {
    int64_t ms;
    const char *want;
  } cases[] = {
      {0, "0s"},         {250, "250ms"},
      {900000, "15m"},   {5400000, "1h30m"},
      {172800000, "2d"}, {90061001, "1d1h1m1s1ms"},
      {61000, "1m1s"},   {EG_TIMESTAMP_MAX_MS, "2932896d23h59m59s999ms"},
  };
  char out[32];
  int64_t back;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(
        eg_timestamp_format_duration(cases[i].ms, out, sizeof(out)), EG_OK);
    assert_string_equal(out, cases[i].want);
    assert_int_equal(eg_timestamp_parse_duration(out, &back), EG_OK);
    assert_int_equal(back, cases[i].ms);
  }
  assert_int_equal(eg_timestamp_format_duration(-1, out, sizeof(out)),
                   EG_EINVAL);
  assert_int_equal(eg_timestamp_format_duration(90061001, out, 6), EG_ERANGE);
  assert_string_equal(out, "");
  assert_int_equal(eg_timestamp_format_duration(0, out, 2), EG_ERANGE);
  assert_int_equal(eg_timestamp_format_duration(0, NULL, 2), EG_EINVAL);
}

static void test_arg(void **state) {
  const int64_t now = 1714566896789LL;
  int64_t ms;

  (void)state;
  assert_int_equal(eg_timestamp_parse_arg("2024-05-01T00:00:00Z", now, &ms),
                   EG_OK);
  assert_int_equal(ms, 1714521600000LL);
  assert_int_equal(eg_timestamp_parse_arg("2024-05-01", now, &ms), EG_OK);
  assert_int_equal(ms, 1714521600000LL);
  assert_int_equal(eg_timestamp_parse_arg("2h", now, &ms), EG_OK);
  assert_int_equal(ms, now - 7200000);
  assert_int_equal(eg_timestamp_parse_arg("100000d", now, &ms), EG_OK);
  assert_int_equal(ms, 0);
  assert_int_equal(eg_timestamp_parse_arg("yesterday", now, &ms), EG_EINVAL);
  assert_int_equal(eg_timestamp_parse_arg("2024-05-01x", now, &ms), EG_EINVAL);
  assert_int_equal(eg_timestamp_parse_arg("2024-02-30", now, &ms), EG_EINVAL);
  assert_int_equal(eg_timestamp_parse_arg(NULL, now, &ms), EG_EINVAL);
  assert_int_equal(eg_timestamp_parse_arg("2h", now, NULL), EG_EINVAL);
}

static void test_now(void **state) {
  int64_t a = eg_timestamp_now_ms();

  (void)state;
  /* After 2024-01-01 and before 2100. */
  assert_true(a > 1704067200000LL);
  assert_true(a < 4102444800000LL);
  assert_true(eg_timestamp_now_ms() >= a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format),    cmocka_unit_test(test_parse_ok),
      cmocka_unit_test(test_parse_bad), cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_duration),  cmocka_unit_test(test_format_duration),
      cmocka_unit_test(test_arg),       cmocka_unit_test(test_now),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

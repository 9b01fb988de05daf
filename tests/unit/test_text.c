/* Tests for writing untrusted text as JSON strings, CSV fields and table
 * cells. */
#include "eg/text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef void (*writer_fn)(FILE *out, const char *s);

static char *render(writer_fn fn, const char *s) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);

  assert_non_null(out);
  fn(out, s);
  fclose(out);
  return buf;
}

static void check(writer_fn fn, const char *in, const char *want) {
  char *got = render(fn, in);

  assert_string_equal(got, want);
  free(got);
}

static void test_utf8_len(void **state) {
  static const struct {
    const char *s;
    size_t n;
  } cases[] = {
      {"a", 1},
      {"\xC3\xA9", 2},         /* é */
      {"\xE2\x82\xAC", 3},     /* € */
      {"\xF0\x9F\x98\x80", 4}, /* emoji */
      {"\xC0\xAF", 0},         /* overlong '/' */
      {"\xE0\x80\xAF", 0},     /* overlong */
      {"\xED\xA0\x80", 0},     /* surrogate */
      {"\xF4\x90\x80\x80", 0}, /* past U+10FFFF */
      {"\xF5\x80\x80\x80", 0},
      {"\x80", 0}, /* lone continuation */
      {"\xC3", 0}, /* truncated */
      {"\xE2\x82", 0},
      {"\xC3\x28", 0}, /* bad continuation */
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_int_equal(eg_text_utf8_len(cases[i].s, strlen(cases[i].s)),
                     cases[i].n);
  /* n limits the bytes looked at. */
  assert_int_equal(eg_text_utf8_len("\xE2\x82\xAC", 2), 0);
  assert_int_equal(eg_text_utf8_len("a", 0), 0);
  assert_int_equal(eg_text_utf8_len(NULL, 1), 0);
}

static void test_json(void **state) {
  (void)state;
  check(eg_text_json, "plain", "\"plain\"");
  check(eg_text_json, "", "\"\"");
  check(eg_text_json, NULL, "\"\"");
  check(eg_text_json, "q\"b\\s/", "\"q\\\"b\\\\s/\"");
  check(eg_text_json, "a\nb\rc\td\x01\x1f\x7f",
        "\"a\\nb\\rc\\td\\u0001\\u001f"
        "\\u007f\"");
  check(eg_text_json, "Prod\xC3\xBC\xE2\x82\xAC",
        "\"Prod\xC3\xBC\xE2\x82\xAC\"");
  check(eg_text_json, "bad\xFF\xC3(", "\"bad\xEF\xBF\xBD\xEF\xBF\xBD(\"");
}

static void test_csv(void **state) {
  (void)state;
  check(eg_text_csv, "plain", "plain");
  check(eg_text_csv, "", "");
  check(eg_text_csv, NULL, "");
  check(eg_text_csv, "a,b", "\"a,b\"");
  check(eg_text_csv, "say \"hi\"", "\"say \"\"hi\"\"\"");
  check(eg_text_csv, "two\nlines", "\"two\nlines\"");
  check(eg_text_csv, "cr\r", "\"cr\r\"");
  check(eg_text_csv, " lead", "\" lead\"");
  check(eg_text_csv, "trail ", "\"trail \"");
  check(eg_text_csv, "in side", "in side");
  check(eg_text_csv, "x\xFF", "x\xEF\xBF\xBD");
  check(eg_text_csv, "x\xFF,", "\"x\xEF\xBF\xBD,\"");
}

static void cell10(FILE *out, const char *s) {
  eg_text_cell(out, s, 10);
}

static void cell0(FILE *out, const char *s) {
  eg_text_cell(out, s, 0);
}

static void test_cells(void **state) {
  (void)state;
  assert_int_equal(eg_text_width("abc"), 3);
  assert_int_equal(eg_text_width("Prod\xC3\xBC"), 5);
  assert_int_equal(eg_text_width("\xFF\xFE"), 2);
  assert_int_equal(eg_text_width(""), 0);
  assert_int_equal(eg_text_width(NULL), 0);
  check(cell10, "abc", "abc       ");
  check(cell10, "Prod\xC3\xBC", "Prod\xC3\xBC     ");
  check(cell10, "longer than ten", "longer than ten");
  check(cell0, "a\nb\x1b[31m\x7f", "a?b?[31m?");
  check(cell0, "c1\xC2\x85|\xC2\xA0", "c1?|\xC2\xA0");
  check(cell0, "bad\xFF", "bad\xEF\xBF\xBD");
  check(cell10, NULL, "          ");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_utf8_len),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_csv),
      cmocka_unit_test(test_cells),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

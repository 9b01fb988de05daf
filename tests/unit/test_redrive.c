/* Tests for dead-letter selection and the headers of a redriven event. */
#include "eg/redrive.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static eg_envelope_t *
letter(const char *delivery, const char *repo, const char *error_class) {
  static eg_envelope_t env;

  eg_envelope_init(&env);
  snprintf(env.delivery, sizeof(env.delivery), "%s", delivery);
  if (repo != NULL) {
    env.body_ok = true;
    snprintf(env.repository, sizeof(env.repository), "%s", repo);
  }
  snprintf(env.error_class, sizeof(env.error_class), "%s", error_class);
  return &env;
}

static void test_matches(void **state) {
  const char *const deliveries[] = {"d1", "d2"};
  const char *const classes[] = {"exhausted", "permanent"};
  eg_redrive_filter_t f = {0};

  (void)state;
  assert_true(eg_redrive_matches(NULL, letter("d1", "o/r", "poison"), -1));
  assert_true(eg_redrive_matches(&f, letter("d1", "o/r", "poison"), -1));
  assert_false(eg_redrive_matches(&f, NULL, 0));

  f.deliveries = deliveries;
  f.ndeliveries = 2;
  assert_true(eg_redrive_matches(&f, letter("d2", "o/r", "poison"), 5));
  assert_false(eg_redrive_matches(&f, letter("d3", "o/r", "poison"), 5));
  f.ndeliveries = 0;

  f.repository = "O/R";
  assert_true(eg_redrive_matches(&f, letter("d1", "o/r", "poison"), 5));
  assert_false(eg_redrive_matches(&f, letter("d1", "o/other", "poison"), 5));
  /* No parsed body, no repository. */
  assert_false(eg_redrive_matches(&f, letter("d1", NULL, "poison"), 5));
  f.repository = NULL;

  f.classes = classes;
  f.nclasses = 2;
  assert_true(eg_redrive_matches(&f, letter("d1", "o/r", "permanent"), 5));
  assert_false(eg_redrive_matches(&f, letter("d1", "o/r", "invalid"), 5));
  assert_false(eg_redrive_matches(&f, letter("d1", "o/r", ""), 5));
  f.nclasses = 0;

  f.since_ms = 100;
  f.until_ms = 200;
  assert_true(eg_redrive_matches(&f, letter("d1", "o/r", "x"), 100));
  assert_true(eg_redrive_matches(&f, letter("d1", "o/r", "x"), 199));
  assert_false(eg_redrive_matches(&f, letter("d1", "o/r", "x"), 99));
  assert_false(eg_redrive_matches(&f, letter("d1", "o/r", "x"), 200));
  assert_false(eg_redrive_matches(&f, letter("d1", "o/r", "x"), -1));
  f.since_ms = 0;
  assert_true(eg_redrive_matches(&f, letter("d1", "o/r", "x"), 0));
  assert_false(eg_redrive_matches(&f, letter("d1", "o/r", "x"), -1));
}

static void test_headers(void **state) {
  rd_kafka_headers_t *in = rd_kafka_headers_new(8), *out = NULL;
  static const struct {
    const char *name;
    const char *value;
    size_t len;
  } want[] = {
      {"github-event", "deployment_protection_rule", 26},
      {"github-delivery", "d1", 2},
      {"hub-signature-256", "sha256=00", 9},
      {"x-binary", "a\0b", 3},
      {"x-null", NULL, 0},
      {"received-at", "2024-05-01T10:00:00.000Z", 24},
      {EG_HDR_REDRIVE_SOURCE, "envgate.dlq/2/15", 16},
      {EG_HDR_REDRIVE_ID, "run-2", 5},
      {EG_HDR_REDRIVEN_AT, "2024-05-02T00:00:00.000Z", 24},
  };
  const char *name;
  const void *val;
  size_t len, i;

  (void)state;
  rd_kafka_header_add(in, "github-event", -1, "deployment_protection_rule", -1);
  rd_kafka_header_add(in, "github-delivery", -1, "d1", -1);
  rd_kafka_header_add(in, "hub-signature-256", -1, "sha256=00", -1);
  rd_kafka_header_add(in, "x-binary", -1, "a\0b", 3);
  rd_kafka_header_add(in, "envgate-attempt", -1, "3", -1);
  rd_kafka_header_add(in, "x-null", -1, NULL, 0);
  rd_kafka_header_add(in, "received-at", -1, "2024-05-01T10:00:00.000Z", -1);
  rd_kafka_header_add(in, "envgate-error-class", -1, "exhausted", -1);
  /* A letter that was redriven before: its old redrive headers go. */
  rd_kafka_header_add(in, EG_HDR_REDRIVE_SOURCE, -1, "envgate.dlq/0/1", -1);
  rd_kafka_header_add(in, EG_HDR_REDRIVE_ID, -1, "run-1", -1);

  assert_int_equal(eg_redrive_headers(in, "envgate.dlq/2/15", "run-2",
                                      "2024-05-02T00:00:00.000Z", &out),
                   EG_OK);
  assert_int_equal(rd_kafka_header_cnt(out), sizeof(want) / sizeof(want[0]));
  for (i = 0; rd_kafka_header_get_all(out, i, &name, &val, &len) ==
              RD_KAFKA_RESP_ERR_NO_ERROR;
       i++) {
    assert_string_equal(name, want[i].name);
    if (want[i].value == NULL) {
      assert_null(val);
    } else {
      assert_int_equal(len, want[i].len);
      assert_memory_equal(val, want[i].value, len);
    }
  }
  assert_int_equal(i, sizeof(want) / sizeof(want[0]));
  rd_kafka_headers_destroy(out);

  /* No headers at all: only the redrive ones. */
  assert_int_equal(eg_redrive_headers(NULL, "s", "i", "a", &out), EG_OK);
  assert_int_equal(rd_kafka_header_cnt(out), 3);
  rd_kafka_headers_destroy(out);
  assert_int_equal(eg_redrive_headers(in, NULL, "i", "a", &out), EG_EINVAL);
  assert_null(out);
  assert_int_equal(eg_redrive_headers(in, "s", NULL, "a", &out), EG_EINVAL);
  assert_int_equal(eg_redrive_headers(in, "s", "i", NULL, &out), EG_EINVAL);
  assert_int_equal(eg_redrive_headers(in, "s", "i", "a", NULL), EG_EINVAL);
  rd_kafka_headers_destroy(in);
}

static void test_new_id(void **state) {
  char a[EG_REDRIVE_ID_SIZE], b[EG_REDRIVE_ID_SIZE];

  (void)state;
  assert_int_equal(eg_redrive_new_id(a), EG_OK);
  assert_int_equal(eg_redrive_new_id(b), EG_OK);
  assert_int_equal(strlen(a), 36);
  assert_string_not_equal(a, b);
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23)
      assert_int_equal(a[i], '-');
    else
      assert_non_null(strchr("0123456789abcdef", a[i]));
  }
  assert_int_equal(a[14], '4');
  assert_non_null(strchr("89ab", a[19]));
  assert_int_equal(eg_redrive_new_id(NULL), EG_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches),
      cmocka_unit_test(test_headers),
      cmocka_unit_test(test_new_id),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for reading the pipeline's records back (headers and stored body). */
#include "eg/envelope.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CALLBACK(base, repo, run)                                              \
  base "/repos/" repo "/actions/runs/" run "/deployment_protection_rule"

/* A minimal valid body for repository owner/name on the given API base. */
static char *body_for(const char *base,
                      const char *owner,
                      const char *name,
                      const char *env) {
  static char buf[2048];

  snprintf(buf, sizeof(buf),
           "{\"action\":\"requested\",\"environment\":\"%s\","
           "\"sha\":\"47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54\","
           "\"ref\":\"main\",\"event\":\"workflow_dispatch\","
           "\"deployment_callback_url\":\"%s/repos/%s/%s/actions/runs/"
           "23625057533/deployment_protection_rule\","
           "\"repository\":{\"id\":1192056896,\"name\":\"%s\","
           "\"full_name\":\"%s/%s\",\"owner\":{\"login\":\"%s\"}},"
           "\"installation\":{\"id\":119022551}}",
           env, base, owner, name, name, owner, name, owner);
  return buf;
}

static void test_body_realistic(void **state) {
  eg_envelope_t env;
  char *body = NULL;
  size_t len = 0;
  FILE *f;

  (void)state;
  f = fopen(EG_TEST_DATA_DIR
            "/deployment_protection_rule.requested.realistic.json",
            "rb");
  assert_non_null(f);
  body = malloc(65536);
  len = fread(body, 1, 65536, f);
  fclose(f);
  eg_envelope_init(&env);
  assert_int_equal(eg_envelope_parse_body(&env, body, len), EG_OK);
  assert_true(env.body_ok);
  assert_string_equal(env.key, "1192056896/23625057533/release");
  assert_string_equal(env.repository, "zaniebot/release-authenticator-example");
  assert_int_equal(env.repository_id, 1192056896);
  assert_int_equal(env.run_id, 23625057533ULL);
  assert_string_equal(env.environment, "release");
  assert_string_equal(env.sha, "47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54");
  free(body);
}

static void test_body_bases(void **state) {
  static const struct {
    const char *base, *owner, *name, *env;
    int rc;
    const char *key;
  } cases[] = {
      {"https://api.github.com", "o", "r", "Release", EG_OK,
       "1192056896/23625057533/release"},
      {"https://ghe.example.com/api/v3", "o", "r", "prod", EG_OK,
       "1192056896/23625057533/prod"},
      /* Names that look like path words do not confuse the base. */
      {"https://api.github.com", "repos", "repos", "release", EG_OK,
       "1192056896/23625057533/release"},
      {"http://127.0.0.1:8081", "o", "actions", "release", EG_OK,
       "1192056896/23625057533/release"},
      /* Plain http to a remote host is refused by eg_event_parse(). */
      {"http://ghe.example.com", "o", "r", "release", EG_EINVAL, ""},
  };
  eg_envelope_t env;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *b =
        body_for(cases[i].base, cases[i].owner, cases[i].name, cases[i].env);

    eg_envelope_init(&env);
    assert_int_equal(eg_envelope_parse_body(&env, b, strlen(b)), cases[i].rc);
    assert_string_equal(env.key, cases[i].key);
    assert_int_equal(env.body_ok, cases[i].rc == EG_OK);
    if (cases[i].rc != EG_OK)
      assert_true(env.body_error[0] != '\0');
  }
}

static void test_body_bad(void **state) {
  static const char *const bad[] = {
      "",
      "not json",
      "[]",
      "{}",
      "{\"deployment_callback_url\":null}",
      "{\"deployment_callback_url\":\"https://x/deployment_protection_rule\"}",
      "{\"deployment_callback_url\":\"" CALLBACK("https://api.github.com",
                                                 "o/r", "1") "\"}",
      "{\"deployment_callback_url\":\"https://api.github.com/nope/o/r/"
      "actions/runs/1/deployment_protection_rule\"}",
  };
  eg_envelope_t env;

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    eg_envelope_init(&env);
    /* Earlier results are cleared. */
    snprintf(env.key, sizeof(env.key), "stale");
    assert_int_not_equal(eg_envelope_parse_body(&env, bad[i], strlen(bad[i])),
                         EG_OK);
    assert_false(env.body_ok);
    assert_string_equal(env.key, "");
    assert_true(env.body_error[0] != '\0');
  }
  assert_int_equal(eg_envelope_parse_body(NULL, "{}", 2), EG_EINVAL);
  eg_envelope_init(&env);
  assert_int_equal(eg_envelope_parse_body(&env, NULL, 3), EG_EINVAL);
  assert_int_equal(eg_envelope_parse_body(&env, "{}", EG_EVENT_BODY_MAX + 1),
                   EG_ETOOBIG);
  assert_non_null(strstr(env.body_error, "body: over"));
}

static void test_headers(void **state) {
  rd_kafka_headers_t *h = rd_kafka_headers_new(16);
  char longtext[2000];
  eg_envelope_t env;

  (void)state;
  memset(longtext, 'e', sizeof(longtext));
  rd_kafka_header_add(h, EG_HDR_EVENT, -1, "deployment_protection_rule", -1);
  rd_kafka_header_add(h, EG_HDR_DELIVERY, -1, "old", -1);
  rd_kafka_header_add(h, EG_HDR_DELIVERY, -1,
                      "5f3c1a2e-0000-4000-8000-000000000001", -1);
  rd_kafka_header_add(h, EG_HDR_SIGNATURE, -1, "sha256=abc", -1);
  rd_kafka_header_add(h, EG_HDR_HOOK_ID, -1, "42", -1);
  rd_kafka_header_add(h, EG_HDR_RECEIVED_AT, -1, "2024-05-01T12:34:56.789Z",
                      -1);
  rd_kafka_header_add(h, EG_HDR_ATTEMPT, -1, "3", -1);
  rd_kafka_header_add(h, EG_HDR_NOT_BEFORE, -1, "1714566896789", -1);
  rd_kafka_header_add(h, EG_HDR_LAST_ERROR, -1, longtext, sizeof(longtext));
  rd_kafka_header_add(h, EG_HDR_ERROR_CLASS, -1, "exhausted", -1);
  rd_kafka_header_add(h, EG_HDR_ERROR, -1, "GitHub 502", -1);
  rd_kafka_header_add(h, EG_HDR_ATTEMPTS, -1, "8", -1);
  rd_kafka_header_add(h, EG_HDR_FIRST_SEEN, -1, "2024-05-01T12:00:00.000Z", -1);
  rd_kafka_header_add(h, EG_HDR_LAST_STATUS, -1, "502", -1);
  rd_kafka_header_add(h, EG_HDR_REDRIVE_SOURCE, -1, "envgate.dlq/2/15", -1);
  rd_kafka_header_add(h, EG_HDR_REDRIVE_ID, -1, "run-1", -1);
  rd_kafka_header_add(h, EG_HDR_REDRIVEN_AT, -1, "2024-05-02T00:00:00Z", -1);

  eg_envelope_init(&env);
  eg_envelope_set_headers(&env, h);
  assert_string_equal(env.event, "deployment_protection_rule");
  assert_string_equal(env.delivery, "5f3c1a2e-0000-4000-8000-000000000001");
  assert_string_equal(env.signature, "sha256=abc");
  assert_string_equal(env.hook_id, "42");
  assert_string_equal(env.received_at, "2024-05-01T12:34:56.789Z");
  assert_int_equal(env.received_at_ms, 1714566896789LL);
  assert_int_equal(env.attempt, 3);
  assert_int_equal(env.not_before_ms, 1714566896789LL);
  assert_int_equal(strlen(env.last_error), EG_ENVELOPE_TEXT_LEN - 1);
  assert_string_equal(env.error_class, "exhausted");
  assert_string_equal(env.error, "GitHub 502");
  assert_int_equal(env.attempts, 8);
  assert_string_equal(env.first_seen, "2024-05-01T12:00:00.000Z");
  assert_string_equal(env.last_status, "502");
  assert_string_equal(env.redrive_source, "envgate.dlq/2/15");
  assert_string_equal(env.redrive_id, "run-1");
  assert_int_equal(env.redriven_at_ms, 1714608000000LL);
  rd_kafka_headers_destroy(h);

  /* Malformed numbers and times, ids too long to be real: absent. */
  h = rd_kafka_headers_new(8);
  rd_kafka_header_add(h, EG_HDR_DELIVERY, -1, longtext, 100);
  rd_kafka_header_add(h, EG_HDR_RECEIVED_AT, -1, "yesterday", -1);
  rd_kafka_header_add(h, EG_HDR_ATTEMPT, -1, "-1", -1);
  rd_kafka_header_add(h, EG_HDR_NOT_BEFORE, -1, "99999999999999999", -1);
  rd_kafka_header_add(h, EG_HDR_ATTEMPTS, -1,
                      "8\0"
                      "0",
                      3);
  rd_kafka_header_add(h, EG_HDR_SIGNATURE, -1, NULL, 0);
  eg_envelope_init(&env);
  eg_envelope_set_headers(&env, h);
  assert_string_equal(env.delivery, "");
  assert_string_equal(env.received_at, "yesterday");
  assert_int_equal(env.received_at_ms, -1);
  assert_int_equal(env.attempt, 0);
  assert_int_equal(env.not_before_ms, -1);
  assert_int_equal(env.attempts, 0);
  assert_string_equal(env.signature, "");
  rd_kafka_headers_destroy(h);

  /* No headers at all. */
  eg_envelope_init(&env);
  eg_envelope_set_headers(&env, NULL);
  assert_string_equal(env.delivery, "");
  assert_int_equal(env.redriven_at_ms, -1);
  eg_envelope_set_headers(NULL, NULL);
  eg_envelope_init(NULL);
  assert_int_equal(eg_envelope_read(NULL, NULL), EG_EINVAL);
  assert_int_equal(eg_envelope_read(&env, NULL), EG_EINVAL);
}

static void test_source_and_pipeline_headers(void **state) {
  char out[EG_ENVELOPE_REF_LEN];

  (void)state;
  assert_int_equal(
      eg_envelope_format_source("envgate.dlq", 2, 15, out, sizeof(out)), EG_OK);
  assert_string_equal(out, "envgate.dlq/2/15");
  assert_int_equal(eg_envelope_format_source("envgate.dlq", 2, 15, out, 10),
                   EG_ERANGE);
  assert_string_equal(out, "");
  assert_int_equal(
      eg_envelope_format_source("envgate.dlq", -1, 15, out, sizeof(out)),
      EG_EINVAL);
  assert_int_equal(
      eg_envelope_format_source("envgate.dlq", 1, -15, out, sizeof(out)),
      EG_EINVAL);
  assert_int_equal(eg_envelope_format_source("", 1, 1, out, sizeof(out)),
                   EG_EINVAL);
  assert_int_equal(eg_envelope_format_source("t", 1, 1, NULL, 5), EG_EINVAL);

  assert_true(eg_envelope_is_pipeline_header(EG_HDR_ATTEMPT));
  assert_true(eg_envelope_is_pipeline_header(EG_HDR_ERROR_CLASS));
  assert_true(eg_envelope_is_pipeline_header(EG_HDR_REDRIVE_SOURCE));
  assert_false(eg_envelope_is_pipeline_header(EG_HDR_DELIVERY));
  assert_false(eg_envelope_is_pipeline_header(EG_HDR_SIGNATURE));
  assert_false(eg_envelope_is_pipeline_header(EG_HDR_RECEIVED_AT));
  assert_false(eg_envelope_is_pipeline_header("envgate"));
  assert_false(eg_envelope_is_pipeline_header(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_body_realistic),
      cmocka_unit_test(test_body_bases),
      cmocka_unit_test(test_body_bad),
      cmocka_unit_test(test_headers),
      cmocka_unit_test(test_source_and_pipeline_headers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

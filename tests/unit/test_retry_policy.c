/* Tests for the GitHub retry policy: the classification table and the
 * waits it computes (Retry-After, rate-limit reset, secondary limits,
 * full-jitter backoff). */
#include "eg/retry_policy.h"
#include "eg/error.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW INT64_C(1736848800) /* Tue, 14 Jan 2025 10:00:00 GMT */

/* Header shorthands for the table. */
enum {
  H_NONE = 0,
  H_RETRY_AFTER = 1, /* retry_after_s = arg */
  H_EXHAUSTED = 2,   /* remaining 0, reset = NOW + arg */
  H_DATE = 4,        /* server Date = NOW - 500 (our clock is ahead) */
  H_REMAINING = 8    /* remaining 10 */
};

struct row {
  int err;
  eg_gh_net_t net;
  int status;
  unsigned hdrs;
  int64_t arg;
  const char *body;
  unsigned attempt;
  uint64_t rnd;
  eg_retry_class_t cls;
  const char *reason;
  uint64_t delay_ms;
};

static const char *const RL_PRIMARY =
    "{\"message\":\"API rate limit exceeded for installation ID 12345.\","
    "\"documentation_url\":\"https://docs.github.com/rest/overview/"
    "rate-limits-for-the-rest-api\",\"status\":\"403\"}";
static const char *const RL_SECONDARY =
    "{\"message\":\"You have exceeded a secondary rate limit. Please wait a "
    "few minutes before you try again. If you reach out to GitHub Support "
    "for help, please include the request ID ABCD:1234.\","
    "\"documentation_url\":\"https://docs.github.com/free-pro-team@latest/"
    "rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-"
    "limits\",\"status\":\"403\"}";
static const char *const NO_ACCESS =
    "{\"message\":\"Resource not accessible by integration\","
    "\"documentation_url\":\"https://docs.github.com/rest/actions/"
    "workflow-runs#get-a-workflow-run\",\"status\":\"403\"}";

#define T         EG_RETRY_TRANSIENT
#define P         EG_RETRY_PERMANENT
#define OK        EG_RETRY_OK
#define HTTP(st)  EG_OK, EG_GH_NET_NONE, st
#define NET(e, n) e, n, 0

static const struct row rows[] = {
    /* Successes. */
    {HTTP(200), H_NONE, 0, "{}", 1, 7, OK, "ok", 0},
    {HTTP(201), H_NONE, 0, NULL, 1, 7, OK, "ok", 0},
    {HTTP(204), H_NONE, 0, "", 1, 7, OK, "ok", 0},
    {HTTP(304), H_NONE, 0, "", 1, 7, OK, "ok", 0},
    {HTTP(200), H_EXHAUSTED, 100, "{}", 1, 7, OK, "ok", 0},
    /* Permanent client errors, whatever the headers say. */
    {HTTP(301), H_NONE, 0, "", 1, 7, P, "redirect", 0},
    {HTTP(400), H_NONE, 0, "{}", 1, 7, P, "client_error", 0},
    {HTTP(401), H_NONE, 0, "{}", 1, 7, P, "unauthorized", 0},
    {HTTP(404), H_NONE, 0, "{}", 1, 7, P, "not_found", 0},
    {HTTP(404), H_RETRY_AFTER, 5, "{}", 1, 7, P, "not_found", 0},
    {HTTP(410), H_NONE, 0, "{}", 1, 7, P, "client_error", 0},
    {HTTP(422), H_NONE, 0, "{\"message\":\"Validation Failed\"}", 1, 7, P,
     "client_error", 0},
    {HTTP(403), H_NONE, 0, NO_ACCESS, 1, 7, P, "forbidden", 0},
    {HTTP(403), H_REMAINING, 0, NO_ACCESS, 1, 7, P, "forbidden", 0},
    /* Primary rate limit: wait until reset + 1 s. */
    {HTTP(403), H_EXHAUSTED, 100, RL_PRIMARY, 1, 7, T, "rate_limited", 101000},
    {HTTP(429), H_EXHAUSTED, 100, RL_PRIMARY, 1, 7, T, "rate_limited", 101000},
    {HTTP(403), H_EXHAUSTED, 100, "", 1, 7, T, "rate_limited", 101000},
    /* ... measured against the server's Date: reset is NOW+100, Date is
     * NOW-500, so 600 s remain on the server's clock. */
    {HTTP(403), H_EXHAUSTED | H_DATE, 100, RL_PRIMARY, 1, 7, T, "rate_limited",
     601000},
    {HTTP(403), H_EXHAUSTED, -30, RL_PRIMARY, 1, 7, T, "rate_limited", 1000},
    {HTTP(403), H_EXHAUSTED, 86400, RL_PRIMARY, 1, 7, T, "rate_limited",
     EG_RETRY_MAX_DELAY_MS},
    /* Rate-limit message without headers: backoff. */
    {HTTP(403), H_NONE, 0, RL_PRIMARY, 3, 2500, T, "rate_limited", 2500},
    {HTTP(403), H_NONE, 0, RL_PRIMARY, 3, 4001, T, "rate_limited", 0},
    /* Retry-After comes first. */
    {HTTP(403), H_RETRY_AFTER, 30, RL_SECONDARY, 1, 7, T,
     "secondary_rate_limit", 30000},
    {HTTP(403), H_RETRY_AFTER | H_EXHAUSTED, 30, RL_PRIMARY, 1, 7, T,
     "rate_limited", 30000},
    {HTTP(403), H_RETRY_AFTER, 45, NO_ACCESS, 1, 7, T, "rate_limited", 45000},
    {HTTP(429), H_RETRY_AFTER, 2, "", 1, 7, T, "secondary_rate_limit", 2000},
    {HTTP(503), H_RETRY_AFTER, 7, "", 1, 7, T, "server_error", 7000},
    {HTTP(503), H_RETRY_AFTER, 4294967295, "", 1, 7, T, "server_error",
     EG_RETRY_MAX_DELAY_MS},
    {HTTP(429), H_RETRY_AFTER, 0, "", 1, 7, T, "secondary_rate_limit", 0},
    /* Secondary limit without Retry-After: at least 60 s. */
    {HTTP(403), H_REMAINING, 0, RL_SECONDARY, 1, 7, T, "secondary_rate_limit",
     60000},
    {HTTP(429), H_NONE, 0, "", 1, 7, T, "secondary_rate_limit", 60000},
    {HTTP(429), H_NONE, 0, "", 10, 250000, T, "secondary_rate_limit", 250000},
    {HTTP(429), H_NONE, 0, "", 10, 300001, T, "secondary_rate_limit", 60000},
    /* Server errors and 408: backoff (attempt 2: ceiling 2 s). */
    {HTTP(500), H_NONE, 0, "", 2, 1234, T, "server_error", 1234},
    {HTTP(502), H_NONE, 0, "", 2, 2001, T, "server_error", 2001 % 2001},
    {HTTP(503), H_REMAINING, 0, "", 2, 5000, T, "server_error", 5000 % 2001},
    {HTTP(504), H_NONE, 0, "", 1, 999, T, "server_error", 999},
    {HTTP(408), H_NONE, 0, "", 1, 999, T, "request_timeout", 999},
    {HTTP(500), H_EXHAUSTED, 10, "", 1, 7, T, "server_error", 11000},
    {HTTP(600), H_NONE, 0, "", 1, 5, T, "protocol", 5},
    {HTTP(199), H_NONE, 0, "", 1, 5, T, "protocol", 5},
    /* Transport failures. */
    {NET(EG_ETIMEDOUT, EG_GH_NET_TIMEOUT), H_NONE, 0, NULL, 1, 500, T,
     "timeout", 500},
    {NET(EG_EUNAVAIL, EG_GH_NET_CONNECT), H_NONE, 0, NULL, 4, 7999, T,
     "connect", 7999},
    {NET(EG_EUNAVAIL, EG_GH_NET_RESET), H_NONE, 0, NULL, 1, 3, T, "reset", 3},
    {NET(EG_EUNAVAIL, EG_GH_NET_TLS), H_NONE, 0, NULL, 1, 3, T, "tls", 3},
    {NET(EG_EUNAVAIL, EG_GH_NET_PROTOCOL), H_NONE, 0, NULL, 1, 3, T, "protocol",
     3},
    {NET(EG_ENOMEM, EG_GH_NET_INTERNAL), H_NONE, 0, NULL, 1, 3, T, "internal",
     3},
    {NET(EG_EIO, EG_GH_NET_NONE), H_NONE, 0, NULL, 1, 3, T, "internal", 3},
    {NET(EG_ETOOBIG, EG_GH_NET_TOO_BIG), H_NONE, 0, NULL, 1, 3, P, "too_big",
     0},
    {NET(EG_EINVAL, EG_GH_NET_REFUSED), H_NONE, 0, NULL, 1, 3, P, "refused", 0},
    /* A transport failure ignores stale headers. */
    {NET(EG_ETIMEDOUT, EG_GH_NET_TIMEOUT), H_RETRY_AFTER, 99, NULL, 1, 500, T,
     "timeout", 500},
};

static void build(const struct row *r, eg_gh_response_t *resp) {
  memset(resp, 0, sizeof(*resp));
  resp->err = r->err;
  resp->net = r->net;
  resp->status = r->status;
  resp->body = (char *)r->body;
  resp->body_len = r->body != NULL ? strlen(r->body) : 0;
  if (r->hdrs & H_RETRY_AFTER) {
    resp->hdr.has_retry_after = true;
    resp->hdr.retry_after_s = r->arg;
  }
  if (r->hdrs & H_EXHAUSTED) {
    resp->hdr.has_remaining = true;
    resp->hdr.remaining = 0;
    resp->hdr.has_reset = true;
    resp->hdr.reset = (uint64_t)(NOW + r->arg);
  }
  if (r->hdrs & H_REMAINING) {
    resp->hdr.has_remaining = true;
    resp->hdr.remaining = 10;
  }
  if (r->hdrs & H_DATE) {
    resp->hdr.has_date = true;
    resp->hdr.date = NOW - 500;
  }
}

static void test_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    eg_gh_response_t resp;
    eg_retry_t out;

    build(&rows[i], &resp);
    assert_int_equal(
        eg_retry_classify(&resp, rows[i].attempt, NOW, rows[i].rnd, &out),
        EG_OK);
    if (out.cls != rows[i].cls || strcmp(out.reason, rows[i].reason) != 0 ||
        out.delay_ms != rows[i].delay_ms)
      fail_msg("row %zu (status %d): got cls %d %s %llu, want %d %s %llu", i,
               rows[i].status, out.cls, out.reason,
               (unsigned long long)out.delay_ms, rows[i].cls, rows[i].reason,
               (unsigned long long)rows[i].delay_ms);
  }
}

static void test_rate_limit_text_far_in_body(void **state) {
  size_t n = (64u << 10) + 100;
  char *body = malloc(n + 1);
  eg_gh_response_t resp;
  eg_retry_t out;

  (void)state;
  assert_non_null(body);
  memset(body, ' ', n);
  memcpy(body + n - 10, "rate limit", 10);
  body[n] = '\0';
  memset(&resp, 0, sizeof(resp));
  resp.status = 403;
  resp.body = body;
  resp.body_len = n;
  /* Only the first 64 KiB are scanned: this 403 is a plain refusal. */
  assert_int_equal(eg_retry_classify(&resp, 1, NOW, 0, &out), EG_OK);
  assert_int_equal(out.cls, EG_RETRY_PERMANENT);
  memcpy(body + 100, "Rate Limit", 10);
  assert_int_equal(eg_retry_classify(&resp, 1, NOW, 0, &out), EG_OK);
  assert_int_equal(out.cls, EG_RETRY_TRANSIENT);
  assert_string_equal(out.reason, "rate_limited");
  free(body);
}

static void test_backoff(void **state) {
  static const struct {
    unsigned attempt;
    uint64_t ceiling;
  } c[] = {{0, 1000},    {1, 1000},         {2, 2000},    {3, 4000},
           {9, 256000},  {10, 300000},      {19, 300000}, {20, 300000},
           {64, 300000}, {UINT_MAX, 300000}};

  (void)state;
  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    uint64_t sum = 0;
    uint64_t x = 88172645463325252u;

    /* rnd == ceiling gives the ceiling itself, one more wraps to 0. */
    assert_int_equal(eg_retry_backoff_ms(c[i].attempt, c[i].ceiling),
                     c[i].ceiling);
    assert_int_equal(eg_retry_backoff_ms(c[i].attempt, c[i].ceiling + 1), 0);
    assert_true(eg_retry_backoff_ms(c[i].attempt, UINT64_MAX) <= c[i].ceiling);
    /* Full jitter: uniform over [0, ceiling], so the mean is near half. */
    for (int k = 0; k < 20000; k++) {
      uint64_t d;
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      d = eg_retry_backoff_ms(c[i].attempt, x);
      assert_true(d <= c[i].ceiling);
      sum += d;
    }
    assert_true(sum / 20000 > c[i].ceiling * 45 / 100);
    assert_true(sum / 20000 < c[i].ceiling * 55 / 100);
  }
}

static void test_bad_arguments(void **state) {
  eg_gh_response_t resp;
  eg_retry_t out = {EG_RETRY_OK, "x", 5};

  (void)state;
  memset(&resp, 0, sizeof(resp));
  assert_int_equal(eg_retry_classify(NULL, 1, NOW, 0, &out), EG_EINVAL);
  assert_int_equal(out.cls, EG_RETRY_PERMANENT);
  assert_string_equal(out.reason, "refused");
  assert_int_equal(out.delay_ms, 0);
  assert_int_equal(eg_retry_classify(&resp, 1, NOW, 0, NULL), EG_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_rate_limit_text_far_in_body),
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_bad_arguments),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for GitHub response-header parsing and request-path checks:
 * table-driven cases, then random input for crashes and overreads. */
#include "eg/gh_headers.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define API  "https://api.github.com"
#define GHES "https://ghe.example.com/api/v3"

static void test_path_is_valid(void **state) {
  static const struct {
    const char *path;
    bool ok;
  } cases[] = {
      {"/", true},
      {"/?x=1", true},
      {"/repos/octo/hello-world/actions/runs/42", true},
      {"/repos/octo/hello.world/deployments?environment=prod&sha=abc", true},
      {"/repos/o/r/deployments?environment=a%20b&per_page=100&page=2", true},
      {"/repos/o/.../x", true},
      {"/app/installations/1/access_tokens", true},
      {"/x?next=http://evil/../..", true}, /* dots in the query are data */
      {"", false},
      {"repos/o/r", false},
      {"//evil.example.com/x", false},
      {"https://api.github.com/repos/o/r", false},
      {"http://127.0.0.1/x", false},
      {"/repos/o/r/../../admin", false},
      {"/repos/o/r/..", false},
      {"/repos/o/r/.", false},
      {"/./repos", false},
      {"/repos/%2e%2e/x", false},
      {"/repos/%2E./x", false},
      {"/repos/.%2e", false},
      {"/repos/o%2f..%2fx", false},
      {"/repos/o%5c..", false},
      {"/repos/o%00", false},
      {"/repos/o%2", false},
      {"/repos/o%zz", false},
      {"/repos//r", false},
      {"/repos/o/r/", false},
      {"/repos/o/r#frag", false},
      {"/repos/o r", false},
      {"/repos/o\\r", false},
      {"/repos/o\r\nX-Evil: 1", false},
      {"/repos/o\tr", false},
      {"/repos/\xc3\xa9", false},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if (eg_gh_path_is_valid(cases[i].path) != cases[i].ok)
      fail_msg("path %zu \"%s\": expected %d", i, cases[i].path, cases[i].ok);
  }
  assert_false(eg_gh_path_is_valid(NULL));
}

static void test_path_length(void **state) {
  char *p = malloc(EG_GH_PATH_MAX + 1);

  (void)state;
  assert_non_null(p);
  p[0] = '/';
  memset(p + 1, 'a', EG_GH_PATH_MAX);
  p[EG_GH_PATH_MAX - 1] = '\0'; /* 2047 bytes: the longest accepted */
  assert_true(eg_gh_path_is_valid(p));
  p[EG_GH_PATH_MAX - 1] = 'a';
  p[EG_GH_PATH_MAX] = '\0'; /* 2048 bytes */
  assert_false(eg_gh_path_is_valid(p));
  free(p);
}

static void test_http_date(void **state) {
  static const struct {
    const char *s;
    int rc;
    int64_t epoch;
  } cases[] = {
      {"Sun, 06 Nov 1994 08:49:37 GMT", EG_OK, 784111777},
      {"Thu, 01 Jan 1970 00:00:00 GMT", EG_OK, 0},
      {"Tue, 14 Jan 2025 10:00:00 GMT", EG_OK, 1736848800},
      {"Thu, 29 Feb 2024 23:59:59 GMT", EG_OK, 1709251199},
      {"Wed, 01 Mar 2000 00:00:00 GMT", EG_OK, 951868800},
      {"Fri, 31 Dec 9999 23:59:59 GMT", EG_OK, 253402300799},
      {"Sat, 31 Dec 2016 23:59:60 GMT", EG_OK, 1483228800},
      {"Thu, 29 Feb 2023 00:00:00 GMT", EG_EINVAL, 0},
      {"Mon, 29 Feb 1900 00:00:00 GMT", EG_EINVAL, 0},
      {"Wed, 31 Dec 1969 23:59:59 GMT", EG_EINVAL, 0},
      {"Sun, 31 Apr 2024 00:00:00 GMT", EG_EINVAL, 0},
      {"Sun, 00 Nov 1994 08:49:37 GMT", EG_EINVAL, 0},
      {"Sun, 06 Nov 1994 24:00:00 GMT", EG_EINVAL, 0},
      {"Sun, 06 Nov 1994 08:60:00 GMT", EG_EINVAL, 0},
      {"Sun, 06 Nov 1994 08:49:61 GMT", EG_EINVAL, 0},
      {"Sun, 06 Nov 1994 08:49:37 UTC", EG_EINVAL, 0},
      {"Sun, 06 Nov 1994 08:49:37 gmt", EG_EINVAL, 0},
      {"Xyz, 06 Nov 1994 08:49:37 GMT", EG_EINVAL, 0},
      {"Sun, 06 Foo 1994 08:49:37 GMT", EG_EINVAL, 0},
      {"Sun, 6 Nov 1994 08:49:37 GMT", EG_EINVAL, 0},
      {"Sun, 06 Nov 1994 08:49:37 GMT ", EG_EINVAL, 0},
      {"Sunday, 06-Nov-94 08:49:37 GMT", EG_EINVAL, 0},
      {"Sun Nov  6 08:49:37 1994", EG_EINVAL, 0},
      {"Sun, 06 Nov 19a4 08:49:37 GMT", EG_EINVAL, 0},
      {"Sun, 06 Nov 1994 0-:49:37 GMT", EG_EINVAL, 0},
      {"", EG_EINVAL, 0},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t t = -1;
    int rc = eg_gh_http_date(cases[i].s, strlen(cases[i].s), &t);
    if (rc != cases[i].rc)
      fail_msg("date %zu \"%s\": rc %d", i, cases[i].s, rc);
    if (rc == EG_OK && t != cases[i].epoch)
      fail_msg("date %zu \"%s\": %lld", i, cases[i].s, (long long)t);
  }
  assert_int_equal(eg_gh_http_date(NULL, 0, NULL), EG_EINVAL);
}

static void test_link_next(void **state) {
  static const struct {
    const char *base;
    const char *value;
    int rc;
    const char *path;
  } cases[] = {
      /* GitHub's own shape. */
      {API,
       "<https://api.github.com/repositories/1300192/issues?page=2>; "
       "rel=\"next\", "
       "<https://api.github.com/repositories/1300192/issues?page=515>; "
       "rel=\"last\"",
       EG_OK, "/repositories/1300192/issues?page=2"},
      {API,
       "<https://api.github.com/repositories/1/deployments?page=1>; "
       "rel=\"prev\", "
       "<https://api.github.com/repositories/1/deployments?page=3>; "
       "rel=\"next\", "
       "<https://api.github.com/repositories/1/deployments?page=5>; "
       "rel=\"last\", "
       "<https://api.github.com/repositories/1/deployments?page=1>; "
       "rel=\"first\"",
       EG_OK, "/repositories/1/deployments?page=3"},
      /* Last page: no next. */
      {API,
       "<https://api.github.com/r?page=1>; rel=\"prev\", "
       "<https://api.github.com/r?page=1>; rel=\"first\"",
       EG_ENOENT, ""},
      /* Several relation types, odd spacing and case, unquoted values. */
      {API, "<https://api.github.com/r?page=2>; rel=\"prev next\"", EG_OK,
       "/r?page=2"},
      {API, "<https://api.github.com/r?page=2>;rel=next", EG_OK, "/r?page=2"},
      {API, "  <https://api.github.com/r?page=2> ;\trel = \"NEXT\" ", EG_OK,
       "/r?page=2"},
      {API, "<https://api.github.com/r?page=2>; REL=\" next \"", EG_OK,
       "/r?page=2"},
      {API,
       "<https://api.github.com/r?page=2>; title=\"a, b; rel=next\"; "
       "rel=\"last\"",
       EG_ENOENT, ""},
      {API,
       "<https://api.github.com/a>; title=\"x\\\"y\"; rel=\"next\"; "
       "anchor=z",
       EG_OK, "/a"},
      {API, ",, <https://api.github.com/r?page=2>; rel=\"next\",,", EG_OK,
       "/r?page=2"},
      {API, "<https://api.github.com/r?page=2>; rel=\"nextpage\"", EG_ENOENT,
       ""},
      {API, "<https://api.github.com/r?page=2>; rev=\"next\"", EG_ENOENT, ""},
      /* Host and scheme compare case-insensitively. */
      {API, "<HTTPS://API.GitHub.com/r?page=2>; rel=\"next\"", EG_OK,
       "/r?page=2"},
      /* GHES base keeps its path prefix. */
      {GHES, "<https://ghe.example.com/api/v3/repos/o/r?page=2>; rel=\"next\"",
       EG_OK, "/repos/o/r?page=2"},
      {GHES, "<https://ghe.example.com/api/v4/repos/o/r?page=2>; rel=\"next\"",
       EG_EPERM, ""},
      {GHES, "<https://ghe.example.com/API/v3/repos?page=2>; rel=\"next\"",
       EG_EPERM, ""},
      /* Off the base URL: ignored. */
      {API, "<https://evil.example.com/r?page=2>; rel=\"next\"", EG_EPERM, ""},
      {API, "<https://api.github.com.evil.example/r>; rel=\"next\"", EG_EPERM,
       ""},
      {API, "<https://api.github.com@evil.example/r>; rel=\"next\"", EG_EPERM,
       ""},
      {API, "<https://api.github.com:8443/r>; rel=\"next\"", EG_EPERM, ""},
      {API, "<http://api.github.com/r?page=2>; rel=\"next\"", EG_EPERM, ""},
      {API, "</r?page=2>; rel=\"next\"", EG_EPERM, ""},
      {API, "<https://api.github.com>; rel=\"next\"", EG_EPERM, ""},
      {API, "<https://api.github.com?page=2>; rel=\"next\"", EG_EPERM, ""},
      /* On the base URL, but not a path we would send. */
      {API, "<https://api.github.com/r/../admin>; rel=\"next\"", EG_EPERM, ""},
      {API, "<https://api.github.com//evil/r>; rel=\"next\"", EG_EPERM, ""},
      {API, "<https://api.github.com/r x>; rel=\"next\"", EG_EPERM, ""},
      {API, "<https://api.github.com/r#f>; rel=\"next\"", EG_EPERM, ""},
      /* The first next wins. */
      {API,
       "<https://api.github.com/one>; rel=\"next\", "
       "<https://api.github.com/two>; rel=\"next\"",
       EG_OK, "/one"},
      /* Malformed: what parsed before the damage still counts. */
      {API, "<https://api.github.com/r?page=2; rel=\"next\"", EG_ENOENT, ""},
      {API, "https://api.github.com/r?page=2; rel=\"next\"", EG_ENOENT, ""},
      {API, "<https://api.github.com/r>; rel=\"next", EG_ENOENT, ""},
      {API, "<https://api.github.com/r>; =next", EG_ENOENT, ""},
      {API, "<https://api.github.com/r>; rel=\"next\"; =x", EG_OK, "/r"},
      {API, "<https://api.github.com/a>; rel=\"last\" junk, <x>; rel=next",
       EG_ENOENT, ""},
      {API, "", EG_ENOENT, ""},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char path[EG_GH_PATH_MAX] = "junk";
    int rc = eg_gh_link_next(cases[i].value, strlen(cases[i].value),
                             cases[i].base, path, sizeof(path));
    if (rc != cases[i].rc)
      fail_msg("link %zu: rc %d, want %d", i, rc, cases[i].rc);
    if (strcmp(path, cases[i].path) != 0)
      fail_msg("link %zu: path \"%s\", want \"%s\"", i, path, cases[i].path);
  }
}

static void test_link_next_bounds(void **state) {
  char small[8];
  char *big = malloc(EG_GH_PATH_MAX + 100);
  char *v = malloc(EG_GH_PATH_MAX + 200);

  (void)state;
  assert_non_null(big);
  assert_non_null(v);
  /* Path longer than the caller's buffer: ignored, never truncated. */
  assert_int_equal(eg_gh_link_next("<https://api.github.com/abcdefgh>; "
                                   "rel=next",
                                   strlen("<https://api.github.com/abcdefgh>; "
                                          "rel=next"),
                                   API, small, sizeof(small)),
                   EG_EPERM);
  assert_string_equal(small, "");
  assert_int_equal(eg_gh_link_next("<https://api.github.com/abcdef>; rel=next",
                                   strlen("<https://api.github.com/abcdef>; "
                                          "rel=next"),
                                   API, small, sizeof(small)),
                   EG_OK);
  assert_string_equal(small, "/abcdef");
  /* Relation values past the internal bound cannot match. */
  memset(big, 'x', EG_GH_PATH_MAX + 99);
  big[EG_GH_PATH_MAX + 99] = '\0';
  snprintf(v, EG_GH_PATH_MAX + 200, "<" API "/a>; rel=\"%.300s next\"", big);
  assert_int_equal(eg_gh_link_next(v, strlen(v), API, small, sizeof(small)),
                   EG_ENOENT);
  /* Only n bytes are read: the value need not be NUL-terminated. */
  memcpy(v, "<" API "/a>; rel=next", sizeof("<" API "/a>; rel=next") - 1);
  assert_int_equal(eg_gh_link_next(v, sizeof("<" API "/a>; rel=nex") - 1, API,
                                   small, sizeof(small)),
                   EG_ENOENT);
  assert_int_equal(eg_gh_link_next(NULL, 0, API, small, sizeof(small)),
                   EG_EINVAL);
  assert_int_equal(eg_gh_link_next("", 0, API, small, 0), EG_EINVAL);
  assert_int_equal(eg_gh_link_next("", 0, NULL, small, 1), EG_EINVAL);
  free(big);
  free(v);
}

static void feed(eg_gh_headers_t *h, const char *line) {
  eg_gh_headers_feed(h, line, strlen(line), API);
}

static void test_feed_github_response(void **state) {
  eg_gh_headers_t h;

  (void)state;
  eg_gh_headers_init(&h);
  feed(&h, "HTTP/2 200\r\n");
  feed(&h, "date: Tue, 14 Jan 2025 10:00:00 GMT\r\n");
  feed(&h, "content-type: application/json; charset=utf-8\r\n");
  feed(&h, "X-RateLimit-Limit: 5000\r\n");
  feed(&h, "x-ratelimit-remaining: 4987\r\n");
  feed(&h, "x-ratelimit-reset: 1736852400\r\n");
  feed(&h, "x-ratelimit-used: 13\r\n");
  feed(&h, "x-ratelimit-resource: core\r\n");
  feed(&h, "link: <https://api.github.com/repositories/1/deployments?"
           "page=2>; rel=\"next\", <https://api.github.com/repositories/1/"
           "deployments?page=4>; rel=\"last\"\r\n");
  feed(&h, "x-github-request-id: CB2C:2F3B:1A2B3C:1B2C3D:65A1B2C3\r\n");
  feed(&h, "\r\n");
  eg_gh_headers_finish(&h, 0);

  assert_true(h.has_date);
  assert_int_equal(h.date, 1736848800);
  assert_true(h.has_limit && h.has_remaining && h.has_reset && h.has_used);
  assert_int_equal(h.limit, 5000);
  assert_int_equal(h.remaining, 4987);
  assert_int_equal(h.reset, 1736852400);
  assert_int_equal(h.used, 13);
  assert_string_equal(h.resource, "core");
  assert_true(h.has_next);
  assert_false(h.next_ignored);
  assert_string_equal(h.next, "/repositories/1/deployments?page=2");
  assert_string_equal(h.request_id, "CB2C:2F3B:1A2B3C:1B2C3D:65A1B2C3");
  assert_false(h.has_retry_after);
}

static void test_feed_status_line_resets(void **state) {
  eg_gh_headers_t h;

  (void)state;
  eg_gh_headers_init(&h);
  feed(&h, "HTTP/1.1 100 Continue\r\n");
  feed(&h, "x-ratelimit-remaining: 7\r\n");
  feed(&h, "retry-after: 5\r\n");
  feed(&h, "HTTP/1.1 204 No Content\r\n");
  feed(&h, "x-github-request-id: AB:CD\r\n");
  assert_false(h.has_remaining);
  assert_false(h.has_retry_after);
  assert_string_equal(h.request_id, "AB:CD");
}

static void test_feed_retry_after(void **state) {
  eg_gh_headers_t h;

  (void)state;
  /* Seconds. */
  eg_gh_headers_init(&h);
  feed(&h, "Retry-After: 120\r\n");
  eg_gh_headers_finish(&h, 1000);
  assert_true(h.has_retry_after);
  assert_false(h.retry_after_is_date);
  assert_int_equal(h.retry_after_s, 120);

  /* HTTP-date, measured against the server's Date (our clock is off). */
  eg_gh_headers_init(&h);
  feed(&h, "Retry-After: Tue, 14 Jan 2025 10:01:30 GMT\r\n");
  feed(&h, "Date: Tue, 14 Jan 2025 10:00:00 GMT\r\n");
  eg_gh_headers_finish(&h, 1736848800 + 3600);
  assert_true(h.has_retry_after);
  assert_true(h.retry_after_is_date);
  assert_int_equal(h.retry_after_at, 1736848890);
  assert_int_equal(h.retry_after_s, 90);

  /* HTTP-date without Date: measured against now. */
  eg_gh_headers_init(&h);
  feed(&h, "retry-after: Tue, 14 Jan 2025 10:01:30 GMT");
  eg_gh_headers_finish(&h, 1736848800 + 30);
  assert_int_equal(h.retry_after_s, 60);

  /* A date in the past means now. */
  eg_gh_headers_init(&h);
  feed(&h, "retry-after: Tue, 14 Jan 2025 09:00:00 GMT");
  eg_gh_headers_finish(&h, 1736848800);
  assert_int_equal(h.retry_after_s, 0);

  /* Garbage is ignored; a later valid value still counts. */
  static const char *const bad[] = {
      "retry-after: -5",
      "retry-after: 1.5",
      "retry-after: 12a",
      "retry-after: 0x10",
      "retry-after: ",
      "retry-after: 99999999999999999999",
      "retry-after: +5",
      "retry-after: 4294967296",
      "retry-after: Tue, 14 Jan 2025 10:01:30 UTC"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    eg_gh_headers_init(&h);
    feed(&h, bad[i]);
    eg_gh_headers_finish(&h, 0);
    if (h.has_retry_after)
      fail_msg("accepted \"%s\"", bad[i]);
  }
  feed(&h, "retry-after:\t 0 \t");
  assert_true(h.has_retry_after);
  assert_int_equal(h.retry_after_s, 0);
  eg_gh_headers_init(&h);
  feed(&h, "retry-after: 4294967295");
  assert_int_equal(h.retry_after_s, 4294967295);
}

#define LINK_PREFIX "link: <" API "/a>; rel=next, "

static void test_feed_rejects_malformed(void **state) {
  eg_gh_headers_t h;
  char *huge;
  size_t n = EG_GH_HEADER_VALUE_MAX + 64;

  (void)state;
  eg_gh_headers_init(&h);
  feed(&h, "x-ratelimit-remaining: -1");
  feed(&h, "x-ratelimit-limit: 5e3");
  feed(&h, "x-ratelimit-used: 18446744073709551616");
  feed(&h, "x-ratelimit-reset: 253402300800"); /* after year 9999 */
  feed(&h, "date: yesterday");
  feed(&h, "x-ratelimit remaining: 0"); /* space in the name */
  feed(&h, ": 0");
  feed(&h, "no colon here");
  feed(&h, "x-ratelimit-resource: core search"); /* not a token */
  feed(&h, "x-github-request-id: abc\"def");
  feed(&h, "x-github-request-id: "
           "0123456789012345678901234567890123456789012345678901234567890123");
  eg_gh_headers_feed(&h, "x-ratelimit-remaining: 0", 0, API);
  assert_false(h.has_remaining || h.has_limit || h.has_used || h.has_reset);
  assert_false(h.has_date);
  assert_string_equal(h.resource, "");
  assert_string_equal(h.request_id, "");

  /* Values over EG_GH_HEADER_VALUE_MAX are ignored outright. */
  huge = malloc(n + 1);
  assert_non_null(huge);
  memcpy(huge, LINK_PREFIX, strlen(LINK_PREFIX));
  memset(huge + strlen(LINK_PREFIX), 'x', n - strlen(LINK_PREFIX));
  huge[n] = '\0';
  eg_gh_headers_feed(&h, huge, n, API);
  assert_false(h.has_next);
  /* Only len bytes are read. */
  eg_gh_headers_feed(&h, "x-ratelimit-remaining: 12", 24, API);
  assert_true(h.has_remaining);
  assert_int_equal(h.remaining, 1);
  /* NULLs are no-ops. */
  eg_gh_headers_feed(NULL, "a: b", 4, API);
  eg_gh_headers_feed(&h, NULL, 4, API);
  eg_gh_headers_finish(NULL, 0);
  eg_gh_headers_init(NULL);
  free(huge);
}

static void test_feed_link_variants(void **state) {
  eg_gh_headers_t h;

  (void)state;
  /* Off-base next: ignored, and said so. */
  eg_gh_headers_init(&h);
  feed(&h, "Link: <https://evil.example.com/r?page=2>; rel=\"next\"");
  assert_false(h.has_next);
  assert_true(h.next_ignored);
  assert_string_equal(h.next, "");
  /* No next at all. */
  eg_gh_headers_init(&h);
  feed(&h, "Link: <https://api.github.com/r?page=1>; rel=\"prev\"");
  assert_false(h.has_next);
  assert_false(h.next_ignored);
  /* Split over two Link lines: the one with next counts. */
  feed(&h, "Link: <https://api.github.com/r?page=3>; rel=\"next\"");
  assert_true(h.has_next);
  assert_string_equal(h.next, "/r?page=3");
  /* Without a base URL, Link is not interpreted. */
  eg_gh_headers_init(&h);
  eg_gh_headers_feed(&h, "Link: </r>; rel=next", 20, NULL);
  assert_false(h.has_next || h.next_ignored);
}

/* Random and mutated input: no crash, no overread (ASan), outputs always
 * NUL-terminated and valid. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_random_input(void **state) {
  static const char *const seeds[] = {
      "link: <https://api.github.com/r?page=2>; rel=\"next\", "
      "<https://api.github.com/r?page=9>; rel=\"last\"",
      "retry-after: Tue, 14 Jan 2025 10:01:30 GMT",
      "date: Tue, 14 Jan 2025 10:01:30 GMT",
      "x-ratelimit-reset: 1736852400",
      "x-github-request-id: CB2C:2F3B:1A2B3C",
      "/repos/o/r/actions/runs/1?per_page=100"};
  static const char alphabet[] = "<>;,\"\\= \t/.%2eE:?#nextrelHTTP/0123456789";

  (void)state;
  for (int iter = 0; iter < 200000; iter++) {
    const char *seed = seeds[rng() % (sizeof(seeds) / sizeof(seeds[0]))];
    size_t n = strlen(seed);
    size_t len = rng() % 2 ? n : rng() % 120;
    char *buf = malloc(len + 1);
    eg_gh_headers_t h;
    char path[64];
    int64_t t;

    assert_non_null(buf);
    for (size_t i = 0; i < len; i++) {
      uint64_t r = rng();
      if (i < n && r % 8 != 0)
        buf[i] = seed[i];
      else if (r % 3 == 0)
        buf[i] = (char)(r >> 8);
      else
        buf[i] = alphabet[(r >> 8) % (sizeof(alphabet) - 1)];
    }
    /* Exact-size heap copy without a terminator for the n-byte APIs. */
    {
      char *exact = malloc(len ? len : 1);
      assert_non_null(exact);
      memcpy(exact, buf, len);
      eg_gh_headers_init(&h);
      eg_gh_headers_feed(&h, exact, len, API);
      eg_gh_headers_finish(&h, (int64_t)(rng() % 2000000000));
      assert_true(memchr(h.next, '\0', sizeof(h.next)) != NULL);
      assert_true(memchr(h.resource, '\0', sizeof(h.resource)) != NULL);
      assert_true(memchr(h.request_id, '\0', sizeof(h.request_id)) != NULL);
      if (h.has_next)
        assert_true(eg_gh_path_is_valid(h.next));
      assert_true(!h.has_retry_after || h.retry_after_s >= 0);
      if (eg_gh_link_next(exact, len, API, path, sizeof(path)) == EG_OK)
        assert_true(eg_gh_path_is_valid(path));
      else
        assert_string_equal(path, "");
      (void)eg_gh_http_date(exact, len, &t);
      free(exact);
    }
    buf[len] = '\0';
    (void)eg_gh_path_is_valid(buf);
    free(buf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_is_valid),
      cmocka_unit_test(test_path_length),
      cmocka_unit_test(test_http_date),
      cmocka_unit_test(test_link_next),
      cmocka_unit_test(test_link_next_bounds),
      cmocka_unit_test(test_feed_github_response),
      cmocka_unit_test(test_feed_status_line_resets),
      cmocka_unit_test(test_feed_retry_after),
      cmocka_unit_test(test_feed_rejects_malformed),
      cmocka_unit_test(test_feed_link_variants),
      cmocka_unit_test(test_random_input),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}

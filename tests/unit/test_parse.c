/* Unit tests for the checked parsers: numbers, host:port, loopback hosts and
 * base URLs, each table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/error.h"
#include "eg/parse.h"

#include <stdio.h>
#include <string.h>

#define U64_MAX_STR "18446744073709551615"

static void test_u64(void **state) {
  static const struct {
    const char *s;
    uint64_t min, max;
    int rc;
    uint64_t want;
  } cases[] = {
      {"0", 0, UINT64_MAX, EG_OK, 0},
      {"1", 0, UINT64_MAX, EG_OK, 1},
      {"42", 0, UINT64_MAX, EG_OK, 42},
      {"00012", 0, UINT64_MAX, EG_OK, 12},
      {"0000", 0, UINT64_MAX, EG_OK, 0},
      {U64_MAX_STR, 0, UINT64_MAX, EG_OK, UINT64_MAX},
      {"000000000000000000000000" U64_MAX_STR, 0, UINT64_MAX, EG_OK,
       UINT64_MAX},
      {"18446744073709551614", 0, UINT64_MAX, EG_OK, UINT64_MAX - 1},
      /* 2^64 and beyond. */
      {"18446744073709551616", 0, UINT64_MAX, EG_ERANGE, 0},
      {"18446744073709551620", 0, UINT64_MAX, EG_ERANGE, 0},
      {"99999999999999999999", 0, UINT64_MAX, EG_ERANGE, 0},
      {"184467440737095516150", 0, UINT64_MAX, EG_ERANGE, 0},
      /* Range. */
      {"0", 1, 100, EG_ERANGE, 0},
      {"1", 1, 100, EG_OK, 1},
      {"100", 1, 100, EG_OK, 100},
      {"101", 1, 100, EG_ERANGE, 0},
      {"0100", 1, 100, EG_OK, 100},
      {"7", 7, 7, EG_OK, 7},
      /* Not numbers. */
      {"", 0, UINT64_MAX, EG_EINVAL, 0},
      {"-1", 0, UINT64_MAX, EG_EINVAL, 0},
      {"-0", 0, UINT64_MAX, EG_EINVAL, 0},
      {"+1", 0, UINT64_MAX, EG_EINVAL, 0},
      {" 1", 0, UINT64_MAX, EG_EINVAL, 0},
      {"1 ", 0, UINT64_MAX, EG_EINVAL, 0},
      {"1\n", 0, UINT64_MAX, EG_EINVAL, 0},
      {"\t1", 0, UINT64_MAX, EG_EINVAL, 0},
      {"1a", 0, UINT64_MAX, EG_EINVAL, 0},
      {"a1", 0, UINT64_MAX, EG_EINVAL, 0},
      {"0x10", 0, UINT64_MAX, EG_EINVAL, 0},
      {"1e3", 0, UINT64_MAX, EG_EINVAL, 0},
      {"1.0", 0, UINT64_MAX, EG_EINVAL, 0},
      {"1,000", 0, UINT64_MAX, EG_EINVAL, 0},
      {"1_000", 0, UINT64_MAX, EG_EINVAL, 0},
      {"\xef\xbc\x91", 0, UINT64_MAX, EG_EINVAL, 0}, /* fullwidth 1 */
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint64_t out = 12345;
    int rc = eg_parse_u64(cases[i].s, cases[i].min, cases[i].max, &out);

    if (rc != cases[i].rc)
      fail_msg("case %zu \"%s\": rc %d, want %d", i, cases[i].s, rc,
               cases[i].rc);
    /* On failure the output is untouched. */
    assert_true(out == (rc == EG_OK ? cases[i].want : 12345));
  }
}

static void test_u64n(void **state) {
  uint64_t out = 9;

  (void)state;
  /* Only the first n bytes count; no NUL needed. */
  assert_int_equal(eg_parse_u64n("123abc", 3, 0, 1000, &out), EG_OK);
  assert_int_equal(out, 123);
  assert_int_equal(eg_parse_u64n("123abc", 4, 0, 1000, &out), EG_EINVAL);
  assert_int_equal(eg_parse_u64n("80", 1, 0, 1000, &out), EG_OK);
  assert_int_equal(out, 8);
  assert_int_equal(eg_parse_u64n("12\0"
                                 "3",
                                 4, 0, 1000, &out),
                   EG_EINVAL);
  assert_int_equal(eg_parse_u64n("123", 0, 0, 1000, &out), EG_EINVAL);
  assert_int_equal(eg_parse_u64n(U64_MAX_STR "9", 20, 0, UINT64_MAX, &out),
                   EG_OK);
  assert_true(out == UINT64_MAX);
  assert_int_equal(eg_parse_u64n(U64_MAX_STR "9", 21, 0, UINT64_MAX, &out),
                   EG_ERANGE);
  assert_int_equal(eg_parse_u64n(NULL, 3, 0, 1000, &out), EG_EINVAL);
  assert_int_equal(eg_parse_u64n("1", 1, 0, 1000, NULL), EG_EINVAL);
  assert_int_equal(eg_parse_u64(NULL, 0, 1000, &out), EG_EINVAL);
  assert_int_equal(eg_parse_u64("1", 0, 1000, NULL), EG_EINVAL);
  assert_true(out == UINT64_MAX);
}

static void test_hostport(void **state) {
  static const struct {
    const char *s;
    int rc;
    const char *host;
    uint16_t port;
  } cases[] = {
      {"127.0.0.1:8080", EG_OK, "127.0.0.1", 8080},
      {"0.0.0.0:1", EG_OK, "0.0.0.0", 1},
      {"localhost:65535", EG_OK, "localhost", 65535},
      {"example.com:080", EG_OK, "example.com", 80},
      {"[::1]:443", EG_OK, "::1", 443},
      {"[::]:9090", EG_OK, "::", 9090},
      {"[2001:db8::1]:8443", EG_OK, "2001:db8::1", 8443},
      {"[fe80::1%eth0]:80", EG_OK, "fe80::1%eth0", 80},
      /* Missing or bad port. */
      {"localhost", EG_EINVAL, NULL, 0},
      {"localhost:", EG_EINVAL, NULL, 0},
      {"localhost:0", EG_ERANGE, NULL, 0},
      {"localhost:65536", EG_ERANGE, NULL, 0},
      {"localhost:99999999999999999999", EG_ERANGE, NULL, 0},
      {"localhost:-1", EG_EINVAL, NULL, 0},
      {"localhost:+80", EG_EINVAL, NULL, 0},
      {"localhost: 80", EG_EINVAL, NULL, 0},
      {"localhost:80 ", EG_EINVAL, NULL, 0},
      {"localhost:http", EG_EINVAL, NULL, 0},
      /* Missing host, unbracketed or broken IPv6. */
      {"", EG_EINVAL, NULL, 0},
      {":80", EG_EINVAL, NULL, 0},
      {"[]:80", EG_EINVAL, NULL, 0},
      {"::1:80", EG_EINVAL, NULL, 0},
      {"a:b:80", EG_EINVAL, NULL, 0},
      {"[::1]", EG_EINVAL, NULL, 0},
      {"[::1]80", EG_EINVAL, NULL, 0},
      {"[::1]:", EG_EINVAL, NULL, 0},
      {"[::1:80", EG_EINVAL, NULL, 0},
      {"[::1]:0", EG_ERANGE, NULL, 0},
      {"[::1]:65536", EG_ERANGE, NULL, 0},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char host[64] = "untouched";
    uint16_t port = 7;
    int rc = eg_parse_hostport(cases[i].s, host, sizeof(host), &port);

    if (rc != cases[i].rc)
      fail_msg("case %zu \"%s\": rc %d, want %d", i, cases[i].s, rc,
               cases[i].rc);
    if (rc == EG_OK) {
      assert_string_equal(host, cases[i].host);
      assert_int_equal(port, cases[i].port);
    } else {
      assert_string_equal(host, "untouched");
      assert_int_equal(port, 7);
    }
  }
}

/* Listen addresses: the same rules, but port 0 (any free port) is fine. */
static void test_listen(void **state) {
  static const struct {
    const char *s;
    int rc;
    const char *host;
    uint16_t port;
  } cases[] = {
      {"127.0.0.1:0", EG_OK, "127.0.0.1", 0},
      {"[::1]:0", EG_OK, "::1", 0},
      {"0.0.0.0:00", EG_OK, "0.0.0.0", 0},
      {"0.0.0.0:8080", EG_OK, "0.0.0.0", 8080},
      {"[::]:65535", EG_OK, "::", 65535},
      {"host:65536", EG_ERANGE, NULL, 0},
      {"host:", EG_EINVAL, NULL, 0},
      {"host:-0", EG_EINVAL, NULL, 0},
      {":0", EG_EINVAL, NULL, 0},
      {"0", EG_EINVAL, NULL, 0},
      {"[::1]0", EG_EINVAL, NULL, 0},
  };
  char host[64];
  uint16_t port;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc;

    port = 7;
    rc = eg_parse_listen(cases[i].s, host, sizeof(host), &port);
    if (rc != cases[i].rc)
      fail_msg("case %zu \"%s\": rc %d, want %d", i, cases[i].s, rc,
               cases[i].rc);
    if (rc == EG_OK) {
      assert_string_equal(host, cases[i].host);
      assert_int_equal(port, cases[i].port);
    } else {
      assert_int_equal(port, 7);
    }
  }
  assert_int_equal(eg_parse_listen("abcdefgh:1", host, 8, &port), EG_ERANGE);
  assert_int_equal(eg_parse_listen(NULL, host, 8, &port), EG_EINVAL);
  assert_int_equal(eg_parse_listen("a:1", NULL, 8, &port), EG_EINVAL);
  assert_int_equal(eg_parse_listen("a:1", host, 0, &port), EG_EINVAL);
  assert_int_equal(eg_parse_listen("a:1", host, 8, NULL), EG_EINVAL);
}

static void test_hostport_limits(void **state) {
  char host[8];
  uint16_t port = 0;

  (void)state;
  /* The host and its NUL must fit in host_len. */
  assert_int_equal(eg_parse_hostport("abcdefg:1", host, 8, &port), EG_OK);
  assert_string_equal(host, "abcdefg");
  assert_int_equal(port, 1);
  assert_int_equal(eg_parse_hostport("abcdefgh:1", host, 8, &port), EG_ERANGE);
  assert_int_equal(eg_parse_hostport("[::1]:2", host, 4, &port), EG_OK);
  assert_string_equal(host, "::1");
  assert_int_equal(eg_parse_hostport("[::1]:2", host, 3, &port), EG_ERANGE);
  assert_int_equal(eg_parse_hostport(NULL, host, 8, &port), EG_EINVAL);
  assert_int_equal(eg_parse_hostport("a:1", NULL, 8, &port), EG_EINVAL);
  assert_int_equal(eg_parse_hostport("a:1", host, 0, &port), EG_EINVAL);
  assert_int_equal(eg_parse_hostport("a:1", host, 8, NULL), EG_EINVAL);
}

static void test_loopback(void **state) {
  static const struct {
    const char *host;
    bool loopback;
  } cases[] = {
      {"localhost", true},
      {"LocalHost", true},
      {"127.0.0.1", true},
      {"127.0.0.0", true},
      {"127.1.2.3", true},
      {"127.255.255.255", true},
      {"::1", true},
      {"0:0:0:0:0:0:0:1", true},
      {"0000::0001", true},
      {"128.0.0.1", false},
      {"126.255.255.255", false},
      {"10.0.0.1", false},
      {"0.0.0.0", false},
      {"::", false},
      {"::2", false},
      {"::ffff:10.0.0.1", false},
      {"[::1]", false},
      {"127.1", false},
      {"127.0.0.1.nip.io", false},
      {"localhost.", false},
      {"localhost.example.com", false},
      {"mylocalhost", false},
      {"example.com", false},
      {"", false},
      {" 127.0.0.1", false},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (eg_is_loopback_host(cases[i].host) != cases[i].loopback)
      fail_msg("case %zu \"%s\": want %d", i, cases[i].host, cases[i].loopback);
  assert_false(eg_is_loopback_host(NULL));
}

static void test_base_url(void **state) {
  static const struct {
    const char *url;
    int rc;
    const char *err; /* substring of errbuf on failure */
  } cases[] = {
      {"https://api.github.com", EG_OK, NULL},
      {"https://api.github.com/", EG_OK, NULL},
      {"https://ghe.example.com/api/v3", EG_OK, NULL},
      {"https://ghe.example.com:8443/api/v3/", EG_OK, NULL},
      {"https://10.1.2.3", EG_OK, NULL},
      {"https://[2001:db8::1]:443/api", EG_OK, NULL},
      {"https://[2001:db8::1]", EG_OK, NULL},
      {"http://127.0.0.1:8080", EG_OK, NULL},
      {"http://127.0.0.1", EG_OK, NULL},
      {"http://127.9.8.7:9/x", EG_OK, NULL},
      {"http://localhost:1234/api/v3", EG_OK, NULL},
      {"http://LOCALHOST", EG_OK, NULL},
      {"http://[::1]:8080/", EG_OK, NULL},
      {"http://[::1]", EG_OK, NULL},
      /* Scheme. */
      {"ftp://api.github.com", EG_EINVAL, "must start with https://"},
      {"api.github.com", EG_EINVAL, "must start with https://"},
      {"https:/api.github.com", EG_EINVAL, "must start with https://"},
      {"", EG_EINVAL, "must start with https://"},
      /* Plain http only to loopback. */
      {"http://api.github.com", EG_EINVAL, "only allowed to loopback"},
      {"http://10.0.0.1:8080", EG_EINVAL, "only allowed to loopback"},
      {"http://127.0.0.1.nip.io", EG_EINVAL, "only allowed to loopback"},
      {"http://localhost.evil.com/", EG_EINVAL, "only allowed to loopback"},
      {"http://[::2]:80", EG_EINVAL, "only allowed to loopback"},
      {"http://0.0.0.0", EG_EINVAL, "only allowed to loopback"},
      /* No query, fragment, user info or spaces. */
      {"https://api.github.com?per_page=1", EG_EINVAL, "query"},
      {"https://api.github.com/api/v3?x", EG_EINVAL, "query"},
      {"https://api.github.com/#frag", EG_EINVAL, "fragment"},
      {"https://user@api.github.com", EG_EINVAL, "user info"},
      {"https://user:pw@api.github.com", EG_EINVAL, "user info"},
      {"http://evil.com@127.0.0.1", EG_EINVAL, "user info"},
      {"https://api.github.com/a b", EG_EINVAL, "spaces"},
      {"https://api.github.com\n", EG_EINVAL, "spaces"},
      /* Host and port. */
      {"https://", EG_EINVAL, "no valid host"},
      {"https:///api", EG_EINVAL, "no valid host"},
      {"https://:443", EG_EINVAL, "no valid host"},
      {"https://host:0", EG_EINVAL, "invalid port"},
      {"https://host:65536", EG_EINVAL, "invalid port"},
      {"https://host:", EG_EINVAL, "invalid port"},
      {"https://host:abc/", EG_EINVAL, "invalid port"},
      {"https://[::1", EG_EINVAL, "unterminated"},
      /* Regression: what follows "]" was not checked. */
      {"https://[::1]:0", EG_EINVAL, "invalid port"},
      {"https://[::1]:", EG_EINVAL, "invalid port"},
      {"https://[::1]:65536/api", EG_EINVAL, "invalid port"},
      {"https://[::1]junk", EG_EINVAL, "invalid port"},
      {"http://[::1]x.evil.com/", EG_EINVAL, "invalid port"},
  };
  char errbuf[EG_ERRBUF_LEN];
  char longurl[400];

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc;

    errbuf[0] = '\0';
    rc = eg_parse_base_url(cases[i].url, errbuf, sizeof(errbuf));
    if (rc != cases[i].rc)
      fail_msg("case %zu \"%s\": rc %d, want %d", i, cases[i].url, rc,
               cases[i].rc);
    if (rc != EG_OK) {
      if (strstr(errbuf, cases[i].err) == NULL)
        fail_msg("case %zu \"%s\": errbuf \"%s\" lacks \"%s\"", i, cases[i].url,
                 errbuf, cases[i].err);
      assert_null(strchr(errbuf, '\n'));
    }
    /* errbuf may be NULL. */
    assert_int_equal(eg_parse_base_url(cases[i].url, NULL, 0), cases[i].rc);
  }
  /* A host too long for any DNS name. */
  snprintf(longurl, sizeof(longurl), "https://%0300d/api", 7);
  assert_int_equal(eg_parse_base_url(longurl, errbuf, sizeof(errbuf)),
                   EG_EINVAL);
  assert_non_null(strstr(errbuf, "no valid host"));
  /* A short errbuf is cut, never overrun. */
  memset(errbuf, 'x', sizeof(errbuf));
  assert_int_equal(eg_parse_base_url("ftp://x", errbuf, 8), EG_EINVAL);
  assert_int_equal(strlen(errbuf), 7);
  assert_int_equal(errbuf[8], 'x');
  assert_int_equal(eg_parse_base_url(NULL, errbuf, sizeof(errbuf)), EG_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_u64),      cmocka_unit_test(test_u64n),
      cmocka_unit_test(test_hostport), cmocka_unit_test(test_hostport_limits),
      cmocka_unit_test(test_listen),   cmocka_unit_test(test_loopback),
      cmocka_unit_test(test_base_url),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}

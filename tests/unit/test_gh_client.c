/* Tests for the GitHub REST client against an in-process server (the
 * project's libmicrohttpd wrapper, answering scripted statuses, headers and
 * delays) and a raw TCP server for broken answers. */
#include "eg/gh_client.h"
#include "eg/error.h"
#include "eg/http_server.h"
#include "eg/retry_policy.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define TOKEN    "ghs_TESTtoken0123456789abcdefABCDEF012345"
#define UA       "envgate-test/1.0 (+https://example.invalid/envgate)"
#define BIG_BODY 1024 /* max_response of the test client */

/* ---- scripted server ---- */

struct delayed {
  eg_http_req_t *req;
  unsigned ms;
};

struct server {
  eg_http_server_t *srv;
  uint16_t port;
  char base[64];
  atomic_uint requests;
  atomic_uint bad_headers;
  pthread_mutex_t lock;
  pthread_t threads[256];
  size_t nthreads;
};

static struct server S;

static unsigned multiplier(void) {
  const char *m = getenv("EG_TEST_TIMEOUT_MULTIPLIER");
  unsigned v = m != NULL ? (unsigned)strtoul(m, NULL, 10) : 1;
  return v > 0 ? v : 1;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void http_date(time_t t, char *out, size_t len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Every request must carry GitHub's headers; a 400 names the one missing. */
static bool headers_ok(eg_http_req_t *req) {
  static const struct {
    const char *name;
    const char *value;
  } want[] = {{"Accept", "application/vnd.github+json"},
              {"X-GitHub-Api-Version", "2022-11-28"},
              {"User-Agent", UA},
              {"Authorization", "Bearer " TOKEN}};

  atomic_fetch_add(&S.requests, 1);
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    const char *v = eg_http_req_header(req, want[i].name);
    if (v == NULL || strcmp(v, want[i].value) != 0) {
      atomic_fetch_add(&S.bad_headers, 1);
      eg_http_respond_error(req, 400, "bad_header", want[i].name);
      return false;
    }
  }
  if (eg_http_req_header(req, "Expect") != NULL) {
    atomic_fetch_add(&S.bad_headers, 1);
    eg_http_respond_error(req, 400, "bad_header", "Expect");
    return false;
  }
  return true;
}

static void h_ok(eg_http_req_t *req, void *ud) {
  char link[512];

  (void)ud;
  if (!headers_ok(req))
    return;
  snprintf(link, sizeof(link),
           "<%s/ok?page=1>; rel=\"prev\", <%s/ok?page=3>; rel=\"next\", "
           "<%s/ok?page=9>; rel=\"last\"",
           S.base, S.base, S.base);
  eg_http_req_add_header(req, "Link", link);
  eg_http_req_add_header(req, "X-RateLimit-Limit", "5000");
  eg_http_req_add_header(req, "X-RateLimit-Remaining", "4999");
  eg_http_req_add_header(req, "X-RateLimit-Used", "1");
  eg_http_req_add_header(req, "X-RateLimit-Reset", "1736852400");
  eg_http_req_add_header(req, "X-RateLimit-Resource", "core");
  eg_http_req_add_header(req, "X-GitHub-Request-Id", "CB2C:2F3B:1A2B3C:01");
  eg_http_respond(req, 200, "application/json", "{\"ok\":true}", 11);
}

static void h_offbase(eg_http_req_t *req, void *ud) {
  (void)ud;
  if (!headers_ok(req))
    return;
  eg_http_req_add_header(req, "Link",
                         "<https://evil.example.com/ok?page=2>; rel=\"next\"");
  eg_http_respond(req, 200, "application/json", "[]", 2);
}

static void h_echo(eg_http_req_t *req, void *ud) {
  char out[4096];
  size_t len;
  const char *body = eg_http_req_body(req, &len);
  const char *ct = eg_http_req_header(req, "Content-Type");
  int n;

  (void)ud;
  if (!headers_ok(req))
    return;
  n = snprintf(out, sizeof(out), "%s ct=%s len=%zu body=%.*s",
               eg_http_req_method(req), ct != NULL ? ct : "-", len,
               (int)(len > 64 ? 64 : len), body != NULL ? body : "");
  eg_http_respond(req, 200, "text/plain", out, (size_t)n);
}

static void h_status(eg_http_req_t *req, void *ud) {
  const char *path = eg_http_req_path(req);
  char date[64];

  (void)ud;
  if (!headers_ok(req))
    return;
  if (strcmp(path, "/s/404") == 0) {
    static const char b[] =
        "{\"message\":\"Not Found\",\"documentation_url\":"
        "\"https://docs.github.com/rest\",\"status\":\"404\"}";
    eg_http_respond(req, 404, "application/json", b, sizeof(b) - 1);
  } else if (strcmp(path, "/s/500") == 0) {
    eg_http_respond(req, 500, "application/json", "{}", 2);
  } else if (strcmp(path, "/s/429") == 0) {
    eg_http_req_add_header(req, "Retry-After", "3");
    eg_http_respond(req, 429, "application/json", "{}", 2);
  } else if (strcmp(path, "/s/403") == 0) {
    static const char b[] =
        "{\"message\":\"API rate limit exceeded for installation ID 1.\"}";
    char reset[32];
    snprintf(reset, sizeof(reset), "%lld", (long long)time(NULL) + 120);
    eg_http_req_add_header(req, "X-RateLimit-Remaining", "0");
    eg_http_req_add_header(req, "X-RateLimit-Reset", reset);
    eg_http_respond(req, 403, "application/json", b, sizeof(b) - 1);
  } else if (strcmp(path, "/s/503date") == 0) {
    /* The server's clock is an hour behind ours: Retry-After is measured
     * against its Date, not our clock. */
    time_t server_now = time(NULL) - 3600;
    http_date(server_now, date, sizeof(date));
    eg_http_req_add_header(req, "Date", date);
    http_date(server_now + 90, date, sizeof(date));
    eg_http_req_add_header(req, "Retry-After", date);
    eg_http_respond(req, 503, "application/json", "{}", 2);
  } else if (strcmp(path, "/s/exact") == 0 || strcmp(path, "/s/big") == 0) {
    size_t n = strcmp(path, "/s/big") == 0 ? BIG_BODY + 1 : BIG_BODY;
    char *b = malloc(n);
    memset(b, 'x', n);
    eg_http_respond(req, 200, "application/json", b, n);
    free(b);
  } else {
    eg_http_respond(req, 418, NULL, NULL, 0);
  }
}

static void *answer_later(void *arg) {
  struct delayed *d = arg;
  sleep_ms(d->ms);
  eg_http_respond(d->req, 200, "application/json", "{\"late\":true}", 13);
  free(d);
  return NULL;
}

/* Answers from another thread after a delay: /delay 100 ms, /slow 1500 ms.
 * The threads are joined before the server is freed. */
static void h_delay(eg_http_req_t *req, void *ud) {
  struct delayed *d;

  (void)ud;
  if (!headers_ok(req))
    return;
  d = malloc(sizeof(*d));
  d->req = req;
  d->ms = strcmp(eg_http_req_path(req), "/slow") == 0 ? 1500 : 100;
  pthread_mutex_lock(&S.lock);
  if (S.nthreads < sizeof(S.threads) / sizeof(S.threads[0]) &&
      pthread_create(&S.threads[S.nthreads], NULL, answer_later, d) == 0) {
    S.nthreads++;
    d = NULL;
  }
  pthread_mutex_unlock(&S.lock);
  if (d != NULL) {
    free(d);
    eg_http_respond(req, 500, NULL, NULL, 0);
  }
}

static int server_setup(void **state) {
  char err[EG_ERRBUF_LEN];
  static const char *const status_paths[] = {"/s/404", "/s/500",     "/s/429",
                                             "/s/403", "/s/503date", "/s/exact",
                                             "/s/big"};

  (void)state;
  memset(&S, 0, sizeof(S));
  pthread_mutex_init(&S.lock, NULL);
  if (eg_http_server_new("127.0.0.1:0", NULL, &S.srv, err, sizeof(err)) !=
      EG_OK)
    return -1;
  eg_http_server_route(S.srv, "GET", "/ok", h_ok, NULL);
  eg_http_server_route(S.srv, "GET", "/offbase", h_offbase, NULL);
  eg_http_server_route(S.srv, NULL, "/echo", h_echo, NULL);
  eg_http_server_route(S.srv, "GET", "/delay", h_delay, NULL);
  eg_http_server_route(S.srv, "GET", "/slow", h_delay, NULL);
  for (size_t i = 0; i < sizeof(status_paths) / sizeof(status_paths[0]); i++)
    eg_http_server_route(S.srv, NULL, status_paths[i], h_status, NULL);
  if (eg_http_server_start(S.srv, err, sizeof(err)) != EG_OK)
    return -1;
  S.port = eg_http_server_port(S.srv);
  snprintf(S.base, sizeof(S.base), "http://127.0.0.1:%u", S.port);
  return 0;
}

static int server_teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < S.nthreads; i++)
    pthread_join(S.threads[i], NULL);
  eg_http_server_free(S.srv);
  pthread_mutex_destroy(&S.lock);
  return 0;
}

static eg_gh_client_t *client(unsigned timeout_ms, size_t max_response) {
  eg_gh_client_options_t o = {0};
  eg_gh_client_t *cl = NULL;
  char err[EG_ERRBUF_LEN];

  o.base_url = S.base;
  o.user_agent = UA;
  o.timeout_ms = timeout_ms;
  o.max_response = max_response;
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_OK);
  return cl;
}

static eg_gh_call_t get(const char *path) {
  eg_gh_call_t c = {.method = EG_GH_GET, .path = path, .token = TOKEN};
  return c;
}

static void assert_no_token(const char *s) {
  assert_null(strstr(s, TOKEN));
  assert_null(strstr(s, "ghs_"));
}

/* ---- raw server for broken answers ---- */

enum raw_mode {
  RAW_CLOSE,   /* read the request, close without answering */
  RAW_GARBAGE, /* answer something that is not HTTP */
  RAW_CHUNKED, /* 200, chunked, more than BIG_BODY bytes */
  RAW_TLS      /* read the ClientHello, answer plain HTTP */
};

struct raw {
  int fd;
  uint16_t port;
  enum raw_mode mode;
  atomic_bool stop;
  pthread_t th;
};

static void raw_serve(struct raw *r, int c) {
  char buf[8192];
  size_t len = 0;

  /* Read the request head (or, for TLS, whatever arrives first). */
  for (;;) {
    struct pollfd p = {.fd = c, .events = POLLIN};
    ssize_t n;
    if (poll(&p, 1, 2000) <= 0)
      break;
    n = read(c, buf + len, sizeof(buf) - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
    if (r->mode == RAW_TLS || strstr(buf, "\r\n\r\n") != NULL ||
        len == sizeof(buf) - 1)
      break;
  }
  if (r->mode == RAW_GARBAGE || r->mode == RAW_TLS) {
    static const char g[] = "SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n";
    if (write(c, g, sizeof(g) - 1) < 0)
      return;
  } else if (r->mode == RAW_CHUNKED) {
    static const char head[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    char chunk[256 + 9];

    memcpy(chunk, "100\r\n", 5);
    memset(chunk + 5, 'x', 256);
    memcpy(chunk + 261, "\r\n", 2);
    chunk[263] = '\0';
    if (write(c, head, sizeof(head) - 1) < 0)
      return;
    /* 64 chunks of 256 bytes: 16 KiB, far over the limit. */
    for (int i = 0; i < 64; i++) {
      if (write(c, chunk, 263) < 0)
        return;
    }
    if (write(c, "0\r\n\r\n", 5) < 0)
      return;
  }
}

static void *raw_main(void *arg) {
  struct raw *r = arg;

  while (!atomic_load(&r->stop)) {
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    int c;
    if (poll(&p, 1, 50) <= 0)
      continue;
    c = accept(r->fd, NULL, NULL);
    if (c < 0)
      continue;
    raw_serve(r, c);
    close(c);
  }
  return NULL;
}

static void raw_start(struct raw *r, enum raw_mode mode) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t alen = sizeof(a);

  memset(r, 0, sizeof(*r));
  r->mode = mode;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  r->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(r->fd >= 0);
  assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(r->fd, 16), 0);
  assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &alen), 0);
  r->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&r->th, NULL, raw_main, r), 0);
}

static void raw_stop(struct raw *r) {
  atomic_store(&r->stop, true);
  pthread_join(r->th, NULL);
  close(r->fd);
}

/* A loopback port with nothing listening. */
static uint16_t closed_port(void) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t alen = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  close(fd);
  return ntohs(a.sin_port);
}

/* ---- tests ---- */

static void test_get_headers_link_and_reuse(void **state) {
  eg_gh_client_t *cl = client(0, 0);
  eg_gh_call_t c = get("/ok?per_page=100");
  eg_gh_response_t r;
  char err[EG_ERRBUF_LEN] = "";

  (void)state;
  assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), EG_OK);
  assert_int_equal(r.err, EG_OK);
  assert_int_equal(r.net, EG_GH_NET_NONE);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "{\"ok\":true}");
  assert_int_equal(r.body_len, 11);
  assert_string_equal(r.errmsg, "");
  assert_true(r.hdr.has_limit && r.hdr.has_remaining && r.hdr.has_used &&
              r.hdr.has_reset);
  assert_int_equal(r.hdr.limit, 5000);
  assert_int_equal(r.hdr.remaining, 4999);
  assert_int_equal(r.hdr.used, 1);
  assert_int_equal(r.hdr.reset, 1736852400);
  assert_string_equal(r.hdr.resource, "core");
  assert_string_equal(r.hdr.request_id, "CB2C:2F3B:1A2B3C:01");
  assert_true(r.hdr.has_next);
  assert_false(r.hdr.next_ignored);
  assert_string_equal(r.hdr.next, "/ok?page=3");
  /* libmicrohttpd sends Date: within a few seconds of ours. */
  assert_true(r.hdr.has_date);
  assert_true(llabs((long long)(r.hdr.date - time(NULL))) <= 5);
  assert_int_equal(r.new_connections, 1);
  assert_true(r.elapsed_us > 0);
  eg_gh_response_cleanup(&r);

  /* Follow the next page: the same connection is reused. */
  c = get("/ok?page=3");
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.new_connections, 0);
  eg_gh_response_cleanup(&r);
  assert_int_equal(atomic_load(&S.bad_headers), 0);
  eg_gh_client_free(cl);
}

static void test_offbase_link_ignored(void **state) {
  eg_gh_client_t *cl = client(0, 0);
  eg_gh_call_t c = get("/offbase");
  eg_gh_response_t r;

  (void)state;
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_int_equal(r.status, 200);
  assert_false(r.hdr.has_next);
  assert_true(r.hdr.next_ignored);
  assert_string_equal(r.hdr.next, "");
  eg_gh_response_cleanup(&r);
  eg_gh_client_free(cl);
}

static void test_post_json(void **state) {
  eg_gh_client_t *cl = client(0, 0);
  static const char review[] =
      "{\"environment_name\":\"prod\",\"state\":\"approved\","
      "\"comment\":\"ok\"}";
  eg_gh_call_t c = {
      .method = EG_GH_POST, .path = "/echo", .token = TOKEN, .body = review};
  eg_gh_response_t r;
  char want[256];
  char *large;
  uint64_t t0;

  (void)state;
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_int_equal(r.status, 200);
  snprintf(want, sizeof(want), "POST ct=application/json len=%zu body=%.64s",
           sizeof(review) - 1, review);
  assert_string_equal(r.body, want);
  eg_gh_response_cleanup(&r);

  /* body_len limits what is sent. */
  c.body_len = 5;
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_string_equal(r.body, "POST ct=application/json len=5 body={\"env");
  eg_gh_response_cleanup(&r);

  /* No body: no Content-Type, empty POST. */
  c.body = NULL;
  c.body_len = 0;
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_string_equal(r.body, "POST ct=- len=0 body=");
  eg_gh_response_cleanup(&r);

  /* A body over 1 KiB goes without an Expect: 100-continue pause (the
   * server refuses Expect, and 1 s of waiting would show). */
  large = malloc(8192);
  assert_non_null(large);
  memset(large, ' ', 8191);
  large[0] = '[';
  large[8190] = ']';
  large[8191] = '\0';
  c.body = large;
  t0 = now_ms();
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_int_equal(r.status, 200);
  assert_true(strncmp(r.body, "POST ct=application/json len=8191", 33) == 0);
  assert_true(now_ms() - t0 < 500 * multiplier());
  eg_gh_response_cleanup(&r);
  free(large);

  /* A GET ignores any body. */
  c.method = EG_GH_GET;
  c.body = "{}";
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_string_equal(r.body, "GET ct=- len=0 body=");
  eg_gh_response_cleanup(&r);
  assert_int_equal(atomic_load(&S.bad_headers), 0);
  eg_gh_client_free(cl);
}

static void test_statuses_and_retry_policy(void **state) {
  eg_gh_client_t *cl = client(0, 0);
  eg_gh_call_t c;
  eg_gh_response_t r;
  eg_retry_t rt;
  int64_t now = (int64_t)time(NULL);

  (void)state;
  c = get("/s/404");
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_int_equal(r.status, 404);
  assert_non_null(strstr(r.body, "Not Found"));
  assert_int_equal(eg_retry_classify(&r, 1, now, 0, &rt), EG_OK);
  assert_int_equal(rt.cls, EG_RETRY_PERMANENT);
  assert_string_equal(rt.reason, "not_found");
  eg_gh_response_cleanup(&r);

  c = get("/s/500");
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_int_equal(r.status, 500);
  assert_int_equal(eg_retry_classify(&r, 2, now, 1500, &rt), EG_OK);
  assert_int_equal(rt.cls, EG_RETRY_TRANSIENT);
  assert_string_equal(rt.reason, "server_error");
  assert_int_equal(rt.delay_ms, 1500);
  eg_gh_response_cleanup(&r);

  c = get("/s/429");
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_int_equal(r.status, 429);
  assert_true(r.hdr.has_retry_after);
  assert_false(r.hdr.retry_after_is_date);
  assert_int_equal(r.hdr.retry_after_s, 3);
  assert_int_equal(eg_retry_classify(&r, 1, now, 0, &rt), EG_OK);
  assert_int_equal(rt.cls, EG_RETRY_TRANSIENT);
  assert_string_equal(rt.reason, "secondary_rate_limit");
  assert_int_equal(rt.delay_ms, 3000);
  eg_gh_response_cleanup(&r);

  c = get("/s/403");
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_int_equal(r.status, 403);
  assert_true(r.hdr.has_remaining);
  assert_int_equal(r.hdr.remaining, 0);
  assert_true(r.hdr.has_reset);
  assert_int_equal(eg_retry_classify(&r, 1, now, 0, &rt), EG_OK);
  assert_int_equal(rt.cls, EG_RETRY_TRANSIENT);
  assert_string_equal(rt.reason, "rate_limited");
  /* reset = now + 120 on the server, measured against its Date. */
  assert_true(rt.delay_ms >= 118000 && rt.delay_ms <= 124000);
  eg_gh_response_cleanup(&r);

  c = get("/s/503date");
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_OK);
  assert_int_equal(r.status, 503);
  assert_true(r.hdr.has_retry_after);
  assert_true(r.hdr.retry_after_is_date);
  assert_true(r.hdr.has_date);
  assert_int_equal(r.hdr.retry_after_s, 90);
  assert_int_equal(eg_retry_classify(&r, 1, now, 0, &rt), EG_OK);
  assert_int_equal(rt.delay_ms, 90000);
  eg_gh_response_cleanup(&r);
  eg_gh_client_free(cl);
}

static void test_size_limit(void **state) {
  eg_gh_client_t *cl = client(0, BIG_BODY);
  eg_gh_call_t c = get("/s/exact");
  eg_gh_response_t r;
  eg_retry_t rt;
  char err[EG_ERRBUF_LEN] = "";
  struct raw raw;
  char base[64];
  eg_gh_client_options_t o = {.user_agent = UA, .max_response = BIG_BODY};
  eg_gh_client_t *rcl;

  (void)state;
  assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), EG_OK);
  assert_int_equal(r.body_len, BIG_BODY);
  eg_gh_response_cleanup(&r);

  /* Content-Length over the limit: refused before reading. */
  c = get("/s/big");
  assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), EG_ETOOBIG);
  assert_int_equal(r.err, EG_ETOOBIG);
  assert_int_equal(r.net, EG_GH_NET_TOO_BIG);
  assert_int_equal(r.status, 0);
  assert_null(r.body);
  assert_non_null(strstr(err, "GET /s/big: too_big"));
  assert_string_equal(err, r.errmsg);
  assert_no_token(err);
  assert_int_equal(eg_retry_classify(&r, 1, 0, 0, &rt), EG_OK);
  assert_int_equal(rt.cls, EG_RETRY_PERMANENT);
  eg_gh_response_cleanup(&r);
  eg_gh_client_free(cl);

  /* Chunked, no length: cut off while reading. */
  raw_start(&raw, RAW_CHUNKED);
  snprintf(base, sizeof(base), "http://127.0.0.1:%u", raw.port);
  o.base_url = base;
  assert_int_equal(eg_gh_client_new(&o, &rcl, NULL, 0), EG_OK);
  c = get("/x");
  assert_int_equal(eg_gh_request(rcl, &c, &r, err, sizeof(err)), EG_ETOOBIG);
  assert_int_equal(r.net, EG_GH_NET_TOO_BIG);
  assert_null(r.body);
  assert_no_token(err);
  eg_gh_response_cleanup(&r);
  eg_gh_client_free(rcl);
  raw_stop(&raw);
}

static void test_timeout(void **state) {
  eg_gh_client_t *cl = client(500, 0);
  eg_gh_call_t c = get("/slow");
  eg_gh_response_t r;
  eg_retry_t rt;
  char err[EG_ERRBUF_LEN] = "";
  uint64_t t0 = now_ms();
  uint64_t took;

  (void)state;
  assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), EG_ETIMEDOUT);
  took = now_ms() - t0;
  assert_int_equal(r.net, EG_GH_NET_TIMEOUT);
  assert_int_equal(r.status, 0);
  assert_null(r.body);
  assert_true(took >= 450 && took < 1000 * multiplier());
  assert_non_null(strstr(err, "GET /slow: timeout"));
  assert_no_token(err);
  assert_int_equal(eg_retry_classify(&r, 1, 0, 7, &rt), EG_OK);
  assert_int_equal(rt.cls, EG_RETRY_TRANSIENT);
  assert_string_equal(rt.reason, "timeout");
  eg_gh_response_cleanup(&r);
  print_message("timeout 500 ms: returned after %llu ms\n",
                (unsigned long long)took);

  /* A per-call timeout overrides the client's. */
  c.timeout_ms = 200;
  t0 = now_ms();
  assert_int_equal(eg_gh_request(cl, &c, &r, NULL, 0), EG_ETIMEDOUT);
  took = now_ms() - t0;
  assert_true(took >= 180 && took < 500 * multiplier());
  eg_gh_response_cleanup(&r);
  eg_gh_client_free(cl);
}

static void test_request_many_concurrent(void **state) {
  eg_gh_client_t *cl = client(0, 0);
  eg_gh_call_t calls[10];
  eg_gh_response_t resps[10];
  uint64_t t0, took;

  (void)state;
  for (size_t i = 0; i < 8; i++)
    calls[i] = get("/delay");
  t0 = now_ms();
  assert_int_equal(eg_gh_request_many(cl, calls, 8, resps), EG_OK);
  took = now_ms() - t0;
  for (size_t i = 0; i < 8; i++) {
    assert_int_equal(resps[i].err, EG_OK);
    assert_int_equal(resps[i].status, 200);
    assert_string_equal(resps[i].body, "{\"late\":true}");
    eg_gh_response_cleanup(&resps[i]);
  }
  print_message("8 calls of 100 ms each with request_many: %llu ms\n",
                (unsigned long long)took);
  assert_true(took >= 95);
  assert_true(took < 400 * multiplier());

  /* Again: the lane comes back with its 8 connections. */
  t0 = now_ms();
  assert_int_equal(eg_gh_request_many(cl, calls, 8, resps), EG_OK);
  took = now_ms() - t0;
  for (size_t i = 0; i < 8; i++) {
    assert_int_equal(resps[i].status, 200);
    assert_int_equal(resps[i].new_connections, 0);
    eg_gh_response_cleanup(&resps[i]);
  }
  print_message("again, reusing connections: %llu ms\n",
                (unsigned long long)took);

  /* Mixed: refused and failing calls have their own answers. */
  calls[0] = get("/ok");
  calls[1] = get("https://evil.example.com/x");
  calls[2] = get("/s/404");
  calls[3] = get("/slow");
  calls[3].timeout_ms = 200;
  calls[4] = get("/echo");
  calls[4].method = EG_GH_POST;
  calls[4].body = "{\"a\":1}";
  assert_int_equal(eg_gh_request_many(cl, calls, 5, resps), EG_EINVAL);
  assert_int_equal(resps[0].status, 200);
  assert_true(resps[0].hdr.has_next);
  assert_int_equal(resps[1].err, EG_EINVAL);
  assert_int_equal(resps[1].net, EG_GH_NET_REFUSED);
  assert_int_equal(resps[2].status, 404);
  assert_int_equal(resps[3].err, EG_ETIMEDOUT);
  assert_int_equal(resps[3].net, EG_GH_NET_TIMEOUT);
  assert_string_equal(resps[4].body,
                      "POST ct=application/json len=7 body={\"a\":1}");
  for (size_t i = 0; i < 5; i++) {
    assert_no_token(resps[i].errmsg);
    eg_gh_response_cleanup(&resps[i]);
  }

  /* Argument checks leave resps alone. */
  assert_int_equal(eg_gh_request_many(cl, calls, 0, resps), EG_EINVAL);
  assert_int_equal(eg_gh_request_many(cl, calls, EG_GH_MANY_MAX + 1, resps),
                   EG_EINVAL);
  assert_int_equal(eg_gh_request_many(NULL, calls, 1, resps), EG_EINVAL);
  assert_int_equal(eg_gh_request_many(cl, NULL, 1, resps), EG_EINVAL);
  assert_int_equal(eg_gh_request_many(cl, calls, 1, NULL), EG_EINVAL);
  assert_int_equal(atomic_load(&S.bad_headers), 0);
  eg_gh_client_free(cl);
}

static void test_refused_calls(void **state) {
  static const char *const bad_paths[] = {"https://api.github.com/repos/o/r",
                                          "http://127.0.0.1:1/x",
                                          "//evil.example.com/x",
                                          "",
                                          "repos/o/r",
                                          "/repos/o/r/../../admin",
                                          "/repos/%2e%2e/x",
                                          "/repos/o/r#x",
                                          "/repos/o r",
                                          "/repos/o\r\nX-Injected: 1"};
  static const char *const bad_tokens[] = {
      "", "ghs_with space", "ghs_crlf\r\nX-Injected: 1", "ghs_\x7f", NULL};
  eg_gh_client_t *cl = client(0, 0);
  unsigned before = atomic_load(&S.requests);
  eg_gh_response_t r;
  char err[EG_ERRBUF_LEN];
  char *long_token = malloc(EG_GH_TOKEN_MAX + 2);

  (void)state;
  for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
    eg_gh_call_t c = get(bad_paths[i]);
    err[0] = '\0';
    assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), EG_EINVAL);
    assert_int_equal(r.net, EG_GH_NET_REFUSED);
    assert_int_equal(r.status, 0);
    assert_null(r.body);
    assert_non_null(strstr(err, "path:"));
    /* The refused path is not echoed (it might carry anything). */
    assert_null(strstr(err, "evil"));
    assert_no_token(err);
    eg_gh_response_cleanup(&r);
  }
  {
    eg_gh_call_t c = get(NULL);
    assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), EG_EINVAL);
    eg_gh_response_cleanup(&r);
  }
  for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
    eg_gh_call_t c = get("/ok");
    c.token = bad_tokens[i];
    assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), EG_EINVAL);
    assert_non_null(strstr(err, "token:"));
    assert_no_token(err);
    eg_gh_response_cleanup(&r);
  }
  assert_non_null(long_token);
  memset(long_token, 'a', EG_GH_TOKEN_MAX + 1);
  long_token[EG_GH_TOKEN_MAX + 1] = '\0';
  {
    eg_gh_call_t c = get("/ok");
    c.token = long_token;
    assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), EG_EINVAL);
    eg_gh_response_cleanup(&r);
    c.token = TOKEN;
    c.method = (eg_gh_method_t)7;
    assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), EG_EINVAL);
    assert_non_null(strstr(err, "method"));
    eg_gh_response_cleanup(&r);
  }
  free(long_token);
  assert_int_equal(eg_gh_request(cl, NULL, &r, err, sizeof(err)), EG_EINVAL);
  eg_gh_response_cleanup(&r);
  {
    eg_gh_call_t c = get("/ok");
    assert_int_equal(eg_gh_request(NULL, &c, &r, err, sizeof(err)), EG_EINVAL);
    assert_int_equal(eg_gh_request(cl, &c, NULL, err, sizeof(err)), EG_EINVAL);
  }
  /* Nothing reached the server. */
  assert_int_equal(atomic_load(&S.requests), before);
  eg_gh_response_cleanup(NULL);
  eg_gh_client_free(NULL);
  eg_gh_client_free(cl);
}

static void expect_transport(const char *base,
                             eg_gh_net_t net,
                             int err_code,
                             const char *what) {
  /* Scaled: a TLS handshake alone takes seconds under valgrind. */
  eg_gh_client_options_t o = {.base_url = base,
                              .user_agent = UA,
                              .timeout_ms = 3000 * multiplier(),
                              .connect_timeout_ms = 1000 * multiplier()};
  eg_gh_client_t *cl;
  eg_gh_call_t c = get("/repos/o/r");
  eg_gh_response_t r;
  eg_retry_t rt;
  char err[EG_ERRBUF_LEN] = "";

  assert_int_equal(eg_gh_client_new(&o, &cl, NULL, 0), EG_OK);
  assert_int_equal(eg_gh_request(cl, &c, &r, err, sizeof(err)), err_code);
  if (r.net != net)
    fail_msg("%s: net %s, want %s (%s)", what, eg_gh_net_name(r.net),
             eg_gh_net_name(net), err);
  assert_int_equal(r.status, 0);
  assert_null(r.body);
  assert_no_token(err);
  assert_no_token(r.errmsg);
  assert_int_equal(eg_retry_classify(&r, 1, 0, 5, &rt), EG_OK);
  assert_int_equal(rt.cls, EG_RETRY_TRANSIENT);
  print_message("%s: %s\n", what, err);
  eg_gh_response_cleanup(&r);
  eg_gh_client_free(cl);
}

static void test_transport_errors(void **state) {
  struct raw raw;
  char base[64];

  (void)state;
  snprintf(base, sizeof(base), "http://127.0.0.1:%u", closed_port());
  expect_transport(base, EG_GH_NET_CONNECT, EG_EUNAVAIL, "connect refused");

  raw_start(&raw, RAW_CLOSE);
  snprintf(base, sizeof(base), "http://127.0.0.1:%u", raw.port);
  expect_transport(base, EG_GH_NET_RESET, EG_EUNAVAIL, "closed, no answer");
  raw_stop(&raw);

  raw_start(&raw, RAW_GARBAGE);
  snprintf(base, sizeof(base), "http://127.0.0.1:%u", raw.port);
  expect_transport(base, EG_GH_NET_PROTOCOL, EG_EUNAVAIL, "not HTTP");
  raw_stop(&raw);

  raw_start(&raw, RAW_TLS);
  snprintf(base, sizeof(base), "https://127.0.0.1:%u", raw.port);
  expect_transport(base, EG_GH_NET_TLS, EG_EUNAVAIL, "TLS to a plain server");
  raw_stop(&raw);
}

struct worker {
  eg_gh_client_t *cl;
  unsigned ok;
  unsigned connections;
};

static void *hammer(void *arg) {
  struct worker *w = arg;

  for (int i = 0; i < 25; i++) {
    eg_gh_call_t c = get("/ok");
    eg_gh_response_t r;
    if (eg_gh_request(w->cl, &c, &r, NULL, 0) == EG_OK && r.status == 200 &&
        r.hdr.has_next)
      w->ok++;
    w->connections += r.new_connections;
    eg_gh_response_cleanup(&r);
  }
  return NULL;
}

static void test_threads_share_connections(void **state) {
  eg_gh_client_t *cl = client(0, 0);
  pthread_t th[8];
  struct worker w[8];
  unsigned ok = 0, conns = 0;

  (void)state;
  for (int i = 0; i < 8; i++) {
    w[i] = (struct worker){.cl = cl};
    assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    ok += w[i].ok;
    conns += w[i].connections;
  }
  print_message("8 threads x 25 calls: %u ok, %u connections opened\n", ok,
                conns);
  assert_int_equal(ok, 200);
  /* One lane (and connection) per thread in flight, reused afterwards. */
  assert_true(conns >= 1 && conns <= 8);
  assert_int_equal(atomic_load(&S.bad_headers), 0);
  eg_gh_client_free(cl);
}

static void *one_call(void *arg) {
  struct worker *w = arg;
  eg_gh_call_t c = get("/ok");
  eg_gh_response_t r;

  if (eg_gh_request(w->cl, &c, &r, NULL, 0) == EG_OK && r.status == 200)
    w->ok++;
  w->connections += r.new_connections;
  eg_gh_response_cleanup(&r);
  return NULL;
}

/* A connection opened by one thread serves the next thread's call. */
static void test_reuse_across_threads(void **state) {
  eg_gh_client_t *cl = client(0, 0);
  struct worker w[3];
  pthread_t th;

  (void)state;
  for (int i = 0; i < 3; i++) {
    w[i] = (struct worker){.cl = cl};
    assert_int_equal(pthread_create(&th, NULL, one_call, &w[i]), 0);
    pthread_join(th, NULL);
    assert_int_equal(w[i].ok, 1);
  }
  assert_int_equal(w[0].connections, 1);
  assert_int_equal(w[1].connections, 0);
  assert_int_equal(w[2].connections, 0);
  eg_gh_client_free(cl);
}

static void test_client_options(void **state) {
  static const char *const bad_bases[] = {
      "ftp://api.github.com",
      "http://api.github.com",
      "https://api.github.com?x=1",
      "https://user@api.github.com",
      "https://",
      "api.github.com",
  };
  eg_gh_client_options_t o = {0};
  eg_gh_client_t *cl = (eg_gh_client_t *)1;
  char err[EG_ERRBUF_LEN];
  char longbase[600];

  (void)state;
  /* Defaults. */
  assert_int_equal(eg_gh_client_new(NULL, &cl, err, sizeof(err)), EG_OK);
  assert_string_equal(eg_gh_client_base_url(cl), "https://api.github.com");
  eg_gh_client_free(cl);
  /* GHES, with the trailing slash dropped. */
  o.base_url = "https://ghe.example.com/api/v3/";
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_OK);
  assert_string_equal(eg_gh_client_base_url(cl),
                      "https://ghe.example.com/api/v3");
  eg_gh_client_free(cl);
  assert_null(eg_gh_client_base_url(NULL));

  for (size_t i = 0; i < sizeof(bad_bases) / sizeof(bad_bases[0]); i++) {
    o.base_url = bad_bases[i];
    cl = (eg_gh_client_t *)1;
    err[0] = '\0';
    assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
    assert_null(cl);
    assert_non_null(strstr(err, "base_url"));
  }
  memset(longbase, 'a', sizeof(longbase));
  memcpy(longbase, "https://", 8);
  longbase[sizeof(longbase) - 1] = '\0';
  o.base_url = longbase;
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
  o.base_url = NULL;

  o.user_agent = "bad\nagent";
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
  assert_non_null(strstr(err, "user_agent"));
  o.user_agent = "";
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
  o.user_agent = NULL;
  o.timeout_ms = 600001;
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
  o.timeout_ms = 0;
  o.connect_timeout_ms = 600001;
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
  o.connect_timeout_ms = 0;
  o.max_response = ((size_t)1 << 30) + 1;
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
  o.max_response = 0;
  o.pool_size = 1025;
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
  o.pool_size = 0;
  o.max_connections = 4097;
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
  o.max_connections = 0;
  o.ca_file = "/nonexistent/ca.pem";
  assert_int_equal(eg_gh_client_new(&o, &cl, err, sizeof(err)), EG_EINVAL);
  assert_non_null(strstr(err, "ca_file"));
  o.ca_file = NULL;
  assert_int_equal(eg_gh_client_new(&o, NULL, err, sizeof(err)), EG_EINVAL);
  assert_string_equal(eg_gh_net_name(EG_GH_NET_TOO_BIG), "too_big");
  assert_string_equal(eg_gh_net_name((eg_gh_net_t)99), "unknown");
}

/* A pool of one handle: calls beyond it create and free extra handles. */
static void test_small_pool(void **state) {
  eg_gh_client_options_t o = {.user_agent = UA, .pool_size = 1};
  eg_gh_client_t *cl;
  eg_gh_call_t calls[4];
  eg_gh_response_t resps[4];

  (void)state;
  o.base_url = S.base;
  assert_int_equal(eg_gh_client_new(&o, &cl, NULL, 0), EG_OK);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 4; i++)
      calls[i] = get("/ok");
    assert_int_equal(eg_gh_request_many(cl, calls, 4, resps), EG_OK);
    for (int i = 0; i < 4; i++) {
      assert_int_equal(resps[i].status, 200);
      eg_gh_response_cleanup(&resps[i]);
    }
  }
  eg_gh_client_free(cl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_headers_link_and_reuse),
      cmocka_unit_test(test_offbase_link_ignored),
      cmocka_unit_test(test_post_json),
      cmocka_unit_test(test_statuses_and_retry_policy),
      cmocka_unit_test(test_size_limit),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_request_many_concurrent),
      cmocka_unit_test(test_refused_calls),
      cmocka_unit_test(test_transport_errors),
      cmocka_unit_test(test_threads_share_connections),
      cmocka_unit_test(test_reuse_across_threads),
      cmocka_unit_test(test_client_options),
      cmocka_unit_test(test_small_pool),
  };
  int rc;

  /* The client uses CURLOPT_NOSIGNAL and the test server writes to
   * sockets clients may close: the binaries ignore SIGPIPE, and so must
   * this test. */
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc = cmocka_run_group_tests(tests, server_setup, server_teardown);
  curl_global_cleanup();
  return rc;
}

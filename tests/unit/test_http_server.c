/* Tests for the libmicrohttpd wrapper: routing, limits, deferred answers. */
#include "eg/http_server.h"
#include "eg/error.h"

#include <curl/curl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmocka.h>

struct reply {
  long status;
  char body[4096];
  size_t len;
  char headers[4096];
  size_t hlen;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  struct reply *r = ud;
  size_t len = sz * n;
  size_t room = sizeof(r->body) - 1 - r->len;
  memcpy(r->body + r->len, p, len < room ? len : room);
  r->len += len < room ? len : room;
  r->body[r->len] = '\0';
  return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  struct reply *r = ud;
  size_t len = sz * n;
  size_t room = sizeof(r->headers) - 1 - r->hlen;
  memcpy(r->headers + r->hlen, p, len < room ? len : room);
  r->hlen += len < room ? len : room;
  r->headers[r->hlen] = '\0';
  return len;
}

/* Sends head, body_len bytes of body and tail over a raw socket, and
 * returns the status of the answer (0 if none). */
static int
raw_status(uint16_t port, const char *head, size_t body_len, const char *tail) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  struct timeval tv = {5, 0};
  char buf[512] = {0};
  char *body = malloc(body_len);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int status = 0;
  ssize_t n;

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  memset(body, 'x', body_len);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      write(fd, head, strlen(head)) == (ssize_t)strlen(head) &&
      write(fd, body, body_len) == (ssize_t)body_len &&
      write(fd, tail, strlen(tail)) == (ssize_t)strlen(tail)) {
    n = read(fd, buf, sizeof(buf) - 1);
    if (n > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0)
      status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  }
  close(fd);
  free(body);
  return status;
}

static struct reply call(uint16_t port,
                         const char *method,
                         const char *path,
                         const char *body,
                         size_t len,
                         struct curl_slist *hdrs) {
  struct reply r = {0};
  char url[256];
  CURL *c = curl_easy_init();

  snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body != NULL) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
  }
  if (hdrs != NULL)
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(c);
  return r;
}

/* Echo handler: answers with method, path, a header, a query arg and body. */
static void echo(eg_http_req_t *req, void *ud) {
  char out[2048];
  size_t blen;
  const char *body = eg_http_req_body(req, &blen);
  const char *h = eg_http_req_header(req, "x-test");
  const char *q = eg_http_req_query(req, "q");
  int n;

  (void)ud;
  n = snprintf(out, sizeof(out), "%s %s h=%s q=%s len=%zu body=%.*s",
               eg_http_req_method(req), eg_http_req_path(req), h ? h : "-",
               q ? q : "-", blen, (int)(blen > 100 ? 100 : blen), body);
  eg_http_req_add_header(req, "X-Echo", "yes");
  assert_int_equal(eg_http_respond(req, 200, "text/plain", out, (size_t)n),
                   EG_OK);
  /* A second answer is refused. */
  assert_int_equal(eg_http_respond(req, 500, NULL, NULL, 0), EG_EEXIST);
}

struct deferred {
  eg_http_req_t *req;
  unsigned delay_ms;
};

static void *answer_later(void *arg) {
  struct deferred *d = arg;
  struct timespec ts = {0, (long)d->delay_ms * 1000000L};

  nanosleep(&ts, NULL);
  eg_http_respond(d->req, 202, "application/json", "{}", 2);
  free(d);
  return NULL;
}

/* Deferred handler: answers 202 from another thread after a delay. */
static void later(eg_http_req_t *req, void *ud) {
  pthread_t t;
  struct deferred *d = malloc(sizeof(*d));

  d->req = req;
  d->delay_ms = (unsigned)(uintptr_t)ud;
  pthread_create(&t, NULL, answer_later, d);
  pthread_detach(t);
}

static eg_http_server_t *start(size_t max_body) {
  eg_http_server_t *srv = NULL;
  eg_http_options_t opts = {.threads = 2, .max_body = max_body};
  char err[EG_ERRBUF_LEN];

  assert_int_equal(
      eg_http_server_new("127.0.0.1:0", &opts, &srv, err, sizeof(err)), EG_OK);
  assert_int_equal(eg_http_server_route(srv, "POST", "/echo", echo, NULL),
                   EG_OK);
  assert_int_equal(eg_http_server_route(srv, "GET", "/echo", echo, NULL),
                   EG_OK);
  assert_int_equal(
      eg_http_server_route(srv, NULL, "/later", later, (void *)(uintptr_t)50),
      EG_OK);
  assert_int_equal(eg_http_server_start(srv, err, sizeof(err)), EG_OK);
  assert_true(eg_http_server_port(srv) > 0);
  return srv;
}

static void test_routes_and_echo(void **state) {
  eg_http_server_t *srv = start(1024);
  struct curl_slist *h = curl_slist_append(NULL, "X-Test: hello");
  struct reply r;

  (void)state;
  r = call(eg_http_server_port(srv), "POST", "/echo?q=1", "abc", 3, h);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "POST /echo h=hello q=1 len=3 body=abc");
  assert_non_null(strstr(r.headers, "X-Echo: yes"));

  r = call(eg_http_server_port(srv), "GET", "/echo", NULL, 0, NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "GET /echo h=- q=- len=0 body=");

  r = call(eg_http_server_port(srv), "GET", "/nope", NULL, 0, NULL);
  assert_int_equal(r.status, 404);
  assert_string_equal(
      r.body, "{\"code\":\"not_found\",\"error\":\"no such endpoint\"}");
  assert_non_null(strstr(r.headers, "Cache-Control: no-store"));

  r = call(eg_http_server_port(srv), "DELETE", "/echo", NULL, 0, NULL);
  assert_int_equal(r.status, 405);
  curl_slist_free_all(h);
  eg_http_server_free(srv);
}

static void test_body_limit(void **state) {
  eg_http_server_t *srv = start(1024);
  char big[4096];
  struct curl_slist *chunked =
      curl_slist_append(NULL, "Transfer-Encoding: chunked");
  struct reply r;

  (void)state;
  memset(big, 'x', sizeof(big));
  /* Exactly at the limit is fine; one byte more is 413. */
  r = call(eg_http_server_port(srv), "POST", "/echo", big, 1024, NULL);
  assert_int_equal(r.status, 200);
  r = call(eg_http_server_port(srv), "POST", "/echo", big, 1025, NULL);
  assert_int_equal(r.status, 413);
  assert_non_null(strstr(r.body, "payload_too_large"));
  /* Without Content-Length the limit applies while streaming. */
  assert_int_equal(raw_status(eg_http_server_port(srv),
                              "POST /echo HTTP/1.1\r\nHost: x\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "800\r\n",
                              2048, "\r\n0\r\n\r\n"),
                   413);
  curl_slist_free_all(chunked);
  eg_http_server_free(srv);
}

static void test_deferred_answer(void **state) {
  eg_http_server_t *srv = start(1024);
  struct reply r;

  (void)state;
  r = call(eg_http_server_port(srv), "POST", "/later", "x", 1, NULL);
  assert_int_equal(r.status, 202);
  assert_string_equal(r.body, "{}");
  eg_http_server_free(srv);
}

static double multiplier(void) {
  const char *m = getenv("EG_TEST_TIMEOUT_MULTIPLIER");
  double v = m != NULL ? strtod(m, NULL) : 1;
  return v >= 1 ? v : 1;
}

struct client_arg {
  uint16_t port;
  long status;
};

static void *client(void *arg) {
  struct client_arg *c = arg;
  c->status = call(c->port, "POST", "/later", "x", 1, NULL).status;
  return NULL;
}

/* More deferred requests than server threads: none blocks the others, and
 * quiesce waits for them all to be answered. */
static void test_many_deferred_and_quiesce(void **state) {
  eg_http_server_t *srv = start(1024);
  enum { N = 16 };
  pthread_t t[N];
  struct client_arg args[N];
  struct timespec t0, t1;
  double secs;

  (void)state;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < N; i++) {
    args[i].port = eg_http_server_port(srv);
    pthread_create(&t[i], NULL, client, &args[i]);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(args[i].status, 202);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  /* 16 x 50 ms serialised on 2 threads would take 400 ms (scaled for slow
   * runs such as valgrind's, as every timing bound is). */
  assert_true(secs < 0.4 * multiplier());
  assert_int_equal(eg_http_server_quiesce(srv, 1000), 0);
  eg_http_server_free(srv);
}

static void test_bad_arguments(void **state) {
  eg_http_server_t *srv = NULL;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(eg_http_server_new("nonsense", NULL, &srv, err, sizeof(err)),
                   EG_EINVAL);
  assert_null(srv);
  assert_int_equal(
      eg_http_server_new("example.com:80", NULL, &srv, err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(eg_http_server_new(NULL, NULL, &srv, err, sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(eg_http_server_new("[::1]:0", NULL, &srv, err, sizeof(err)),
                   EG_OK);
  assert_int_equal(eg_http_server_route(srv, "GET", NULL, echo, NULL),
                   EG_EINVAL);
  eg_http_server_free(srv);
  eg_http_server_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_routes_and_echo),
      cmocka_unit_test(test_body_limit),
      cmocka_unit_test(test_deferred_answer),
      cmocka_unit_test(test_many_deferred_and_quiesce),
      cmocka_unit_test(test_bad_arguments),
  };
  int rc;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}

/* Unit tests for the Redis pool against a real redis-server started here:
 * URL parsing, AUTH/SELECT, secrets kept out of errors, backoff after
 * failures, reconnect after a restart, timeouts and concurrent use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/error.h"
#include "eg/redis.h"
#include "oom_inject.h"
#include "redis_harness.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SECRET "hunter2-S3cret-pw"

static void test_url_parse_valid(void **state) {
  static const struct {
    const char *url;
    const char *host;
    unsigned port;
    long db;
    const char *user;
    const char *password;
  } cases[] = {
      {"redis://127.0.0.1:6379/0", "127.0.0.1", 6379, 0, "", ""},
      {"redis://localhost", "localhost", 6379, 0, "", ""},
      {"redis://localhost/", "localhost", 6379, 0, "", ""},
      {"REDIS://h:1/15", "h", 1, 15, "", ""},
      {"redis://:pw@h:7000/2", "h", 7000, 2, "", "pw"},
      {"redis://app:pw@h", "h", 6379, 0, "app", "pw"},
      {"redis://:p%40ss%3Aw%2Fd@h:1", "h", 1, 0, "", "p@ss:w/d"},
      {"redis://:%2f%3a%7e@h:1", "h", 1, 0, "", "/:~"},
      {"redis://:a@b@h:2", "h", 2, 0, "", "a@b"},
      {"redis://[::1]:6380/1", "::1", 6380, 1, "", ""},
      {"redis://[::1]", "::1", 6379, 0, "", ""},
      {"redis://h:65535/2147483647", "h", 65535, 2147483647L, "", ""},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    eg_redis_url_t u;
    char err[EG_ERRBUF_LEN] = "";

    assert_int_equal(eg_redis_url_parse(cases[i].url, &u, err, sizeof(err)),
                     EG_OK);
    assert_string_equal(u.host, cases[i].host);
    assert_int_equal(u.port, cases[i].port);
    assert_int_equal(u.db, cases[i].db);
    assert_string_equal(u.user, cases[i].user);
    assert_string_equal(u.password, cases[i].password);
  }
}

static void test_url_parse_invalid(void **state) {
  static const struct {
    const char *url;
    const char *expect; /* substring of the error */
  } cases[] = {
      {"http://h:1", "must start with redis://"},
      {"rediss://:" SECRET "@h:1", "TLS"},
      {"redis://", "missing or bad host"},
      {"redis://:" SECRET "@", "missing or bad host"},
      {"redis://:" SECRET "@:6379", "missing or bad host"},
      {"redis://" SECRET "@h:1", "user info must be"},
      {"redis://:@h:1", "empty password"},
      {"redis://:" SECRET "%zz@h:1", "bad escape"},
      {"redis://:" SECRET "%4@h:1", "bad escape"},
      {"redis://:" SECRET "%00@h:1", "bad escape"},
      {"redis://:" SECRET "@h:0", "port must be"},
      {"redis://:" SECRET "@h:65536", "port must be"},
      {"redis://:" SECRET "@h:", "port must be"},
      {"redis://:" SECRET "@h:12x", "port must be"},
      {"redis://:" SECRET "@h:1/x", "database must be"},
      {"redis://:" SECRET "@h:1/-1", "database must be"},
      {"redis://:" SECRET "@h:1/2147483648", "database must be"},
      {"redis://:" SECRET "@h:1/0?ssl=1", "query strings"},
      {"redis://:" SECRET "@h:1#frag", "query strings"},
      {"redis://:" SECRET "@[::1", "missing or bad host"},
      {"redis://:" SECRET "@[::1]x", "missing or bad host"},
      {"redis://:" SECRET "@h h:1", "spaces or control"},
      /* A '/' in a raw password cuts the address short. */
      {"redis://:" SECRET "/x@h:1", "missing or bad host"},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    eg_redis_url_t u;
    char err[EG_ERRBUF_LEN] = "";

    assert_int_equal(eg_redis_url_parse(cases[i].url, &u, err, sizeof(err)),
                     EG_EINVAL);
    if (strstr(err, cases[i].expect) == NULL)
      fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].expect);
    assert_null(strstr(err, SECRET));
    assert_null(strstr(err, "hunter2"));
    /* Nothing of the password stays in the output either. */
    assert_null(memmem(&u, sizeof(u), "hunter2", 7));
  }
  {
    /* Too long parts. */
    char url[3000];
    char err[EG_ERRBUF_LEN] = "";
    eg_redis_url_t u;

    memset(url, 0, sizeof(url));
    strcpy(url, "redis://:");
    memset(url + 9, 'p', EG_REDIS_MAX_PASSWORD + 1);
    strcat(url, "@h:1");
    assert_int_equal(eg_redis_url_parse(url, &u, err, sizeof(err)), EG_EINVAL);
    assert_non_null(strstr(err, "too long"));
    assert_null(strstr(err, "pppp"));
    memset(url, 0, sizeof(url));
    strcpy(url, "redis://");
    memset(url + 8, 'h', EG_REDIS_MAX_HOST + 1);
    assert_int_equal(eg_redis_url_parse(url, &u, err, sizeof(err)), EG_EINVAL);
    assert_non_null(strstr(err, "host name too long"));
  }
  assert_int_equal(eg_redis_url_parse(NULL, NULL, NULL, 0), EG_EINVAL);
}

static void test_new_args(void **state) {
  eg_redis_t *r = (eg_redis_t *)1;
  eg_redis_opts_t bad[] = {{.connect_timeout_ms = -1},
                           {.command_timeout_ms = 600001},
                           {.retry_interval_ms = -5},
                           {.pool_size = 1025}};
  char err[EG_ERRBUF_LEN] = "";
  redisReply *rep = (redisReply *)1;
  const char *argv[1] = {"PING"};
  size_t argvlen[1] = {4};
  eg_redis_stats_t st;

  (void)state;
  assert_int_equal(eg_redis_new("redis://h", NULL, NULL, err, sizeof(err)),
                   EG_EINVAL);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(eg_redis_new("redis://h", &bad[i], &r, err, sizeof(err)),
                     EG_EINVAL);
    assert_null(r);
  }
  assert_int_equal(
      eg_redis_new("redis://:" SECRET "@h:x", NULL, &r, err, sizeof(err)),
      EG_EINVAL);
  assert_null(r);
  assert_null(strstr(err, SECRET));
  assert_int_equal(eg_redis_command(NULL, 1, argv, argvlen, &rep, NULL, 0),
                   EG_EINVAL);
  assert_null(rep);

  assert_int_equal(eg_redis_new("redis://127.0.0.1:1", NULL, &r, NULL, 0),
                   EG_OK);
  assert_int_equal(eg_redis_command(r, 0, argv, argvlen, &rep, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_redis_command(r, 1, NULL, argvlen, &rep, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_redis_command(r, 1, argv, argvlen, NULL, NULL, 0),
                   EG_EINVAL);
  {
    const char *nargv[2] = {"GET", NULL};
    size_t nlen[2] = {3, 0};

    assert_int_equal(eg_redis_command(r, 2, nargv, nlen, &rep, NULL, 0),
                     EG_EINVAL);
  }
  /* Creating does not connect. */
  eg_redis_stats(r, &st);
  assert_int_equal(st.connects + st.connect_failures, 0);
  assert_true(st.up);
  eg_redis_stats(NULL, &st);
  assert_int_equal(st.connects, 0);
  eg_redis_stats(r, NULL);
  eg_redis_free(r);
  eg_redis_free(NULL);
}

static redisReply *cmd(eg_redis_t *r, int argc, const char **argv) {
  size_t argvlen[8];
  redisReply *rep = NULL;
  char err[EG_ERRBUF_LEN] = "";

  for (int i = 0; i < argc; i++)
    argvlen[i] = strlen(argv[i]);
  if (eg_redis_command(r, argc, argv, argvlen, &rep, err, sizeof(err)) != EG_OK)
    fail_msg("command %s failed: %s", argv[0], err);
  return rep;
}

static void test_commands_and_db(void **state) {
  struct test_redis srv;
  char url[128];
  eg_redis_t *r0;
  eg_redis_t *r3;
  redisReply *rep;
  char err[EG_ERRBUF_LEN] = "";
  const char bin[] = "a\0b\r\nc";
  const char *argv[3] = {"SET", "bin", bin};
  size_t argvlen[3] = {3, 3, sizeof(bin)};

  (void)state;
  test_redis_start(&srv, 0, NULL);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", srv.port);
  assert_int_equal(eg_redis_new(url, NULL, &r3, err, sizeof(err)), EG_OK);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
  assert_int_equal(eg_redis_new(url, NULL, &r0, err, sizeof(err)), EG_OK);

  /* Binary-safe arguments and replies. */
  assert_int_equal(
      eg_redis_command(r3, 3, argv, argvlen, &rep, err, sizeof(err)), EG_OK);
  freeReplyObject(rep);
  rep = cmd(r3, 2, (const char *[]){"GET", "bin"});
  assert_int_equal(rep->type, REDIS_REPLY_STRING);
  assert_int_equal(rep->len, sizeof(bin));
  assert_memory_equal(rep->str, bin, sizeof(bin));
  freeReplyObject(rep);

  /* SELECT took effect: db 0 does not see db 3's key. */
  rep = cmd(r0, 2, (const char *[]){"GET", "bin"});
  assert_int_equal(rep->type, REDIS_REPLY_NIL);
  freeReplyObject(rep);

  /* A server error is EG_EIO with its text; the connection stays usable. */
  {
    const char *bad[2] = {"INCR", "bin"};
    size_t badlen[2] = {4, 3};

    rep = (redisReply *)1;
    assert_int_equal(
        eg_redis_command(r3, 2, bad, badlen, &rep, err, sizeof(err)), EG_EIO);
    assert_null(rep);
    assert_non_null(strstr(err, "INCR"));
    assert_non_null(strstr(err, "not an integer"));
  }
  assert_int_equal(eg_redis_ping(r3, err, sizeof(err)), EG_OK);
  {
    /* A database the server does not have: SELECT's error. */
    eg_redis_t *r99;

    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/99", srv.port);
    assert_int_equal(eg_redis_new(url, NULL, &r99, err, sizeof(err)), EG_OK);
    assert_int_equal(eg_redis_ping(r99, err, sizeof(err)), EG_EIO);
    assert_non_null(strstr(err, "SELECT"));
    assert_non_null(strstr(err, "out of range"));
    eg_redis_free(r99);
  }
  {
    eg_redis_stats_t st;

    eg_redis_stats(r3, &st);
    assert_int_equal(st.connects, 1); /* one connection reused */
    assert_int_equal(st.connect_failures, 0);
    assert_true(st.up);
  }
  eg_redis_free(r0);
  eg_redis_free(r3);
  test_redis_kill(&srv);
}

static void test_password(void **state) {
  struct test_redis srv;
  char url[256];
  eg_redis_t *r;
  char err[EG_ERRBUF_LEN];
  eg_redis_opts_t opts = {.retry_interval_ms = 1};

  (void)state;
  test_redis_start(&srv, 0, SECRET);

  snprintf(url, sizeof(url), "redis://:%s@127.0.0.1:%d/1", SECRET, srv.port);
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_OK);
  eg_redis_free(r);

  /* Redis 6 ACL form with the default user. */
  snprintf(url, sizeof(url), "redis://default:%s@127.0.0.1:%d", SECRET,
           srv.port);
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_OK);
  eg_redis_free(r);

  /* Wrong password: EG_EAUTH, and neither password shows. */
  snprintf(url, sizeof(url), "redis://:wrong-%s@127.0.0.1:%d", SECRET,
           srv.port);
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  err[0] = '\0';
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_EAUTH);
  assert_non_null(strstr(err, "AUTH refused"));
  assert_null(strstr(err, SECRET));
  assert_null(strstr(err, "wrong-"));
  eg_redis_free(r);

  /* No password for a server that needs one. */
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_EAUTH);
  assert_non_null(strstr(err, "NOAUTH"));
  eg_redis_free(r);

  /* A password sent to a server without one (Redis 7 answers an error). */
  test_redis_kill(&srv);
  test_redis_start(&srv, 0, NULL);
  snprintf(url, sizeof(url), "redis://:%s@127.0.0.1:%d", SECRET, srv.port);
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_EAUTH);
  assert_null(strstr(err, SECRET));

  /* Nor does it show when the server is gone. */
  test_redis_kill(&srv);
  test_sleep_ms(5);
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_EUNAVAIL);
  assert_non_null(strstr(err, "127.0.0.1"));
  assert_null(strstr(err, SECRET));
  eg_redis_free(r);
}

static void test_unreachable_backoff(void **state) {
  char url[128];
  eg_redis_t *r;
  char err[EG_ERRBUF_LEN];
  eg_redis_opts_t opts = {.retry_interval_ms = 300};
  eg_redis_stats_t st;
  int64_t t0;

  (void)state;
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", test_free_port());
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_EUNAVAIL);
  assert_non_null(strstr(err, "connect"));
  eg_redis_stats(r, &st);
  assert_int_equal(st.connect_failures, 1);
  assert_false(st.up);

  /* Within the interval, calls fail at once without a connect. */
  t0 = test_now_ms();
  for (int i = 0; i < 50; i++)
    assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_EUNAVAIL);
  assert_true(test_now_ms() - t0 < 250);
  assert_non_null(strstr(err, "next connect in"));
  eg_redis_stats(r, &st);
  assert_int_equal(st.connect_failures, 1);
  assert_int_equal(st.skipped, 50);

  /* After it, one new attempt. */
  test_sleep_ms(350);
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_EUNAVAIL);
  eg_redis_stats(r, &st);
  assert_int_equal(st.connect_failures, 2);
  eg_redis_free(r);
}

static void test_restart_reconnects(void **state) {
  struct test_redis srv;
  char url[128];
  eg_redis_t *r;
  char err[EG_ERRBUF_LEN];
  eg_redis_opts_t opts = {.retry_interval_ms = 1000, .pool_size = 3};
  eg_redis_stats_t st;
  redisReply *rep;
  int64_t t_fail;

  (void)state;
  test_redis_start(&srv, 0, NULL);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  rep = cmd(r, 3, (const char *[]){"SET", "k", "v1"});
  freeReplyObject(rep);

  /* Restarted while idle: the stale pooled connection is replaced within
   * the same call. */
  test_redis_kill(&srv);
  test_redis_start(&srv, srv.port, NULL);
  rep = cmd(r, 2, (const char *[]){"GET", "k"});
  assert_int_equal(rep->type, REDIS_REPLY_NIL); /* no persistence */
  freeReplyObject(rep);
  eg_redis_stats(r, &st);
  assert_int_equal(st.connects, 2);
  assert_int_equal(st.command_failures, 1);
  assert_true(st.up);

  /* Down: calls fail, marked down; back up: a call after the interval
   * reconnects. */
  test_redis_kill(&srv);
  t_fail = test_now_ms();
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_EUNAVAIL);
  eg_redis_stats(r, &st);
  assert_false(st.up);
  test_redis_start(&srv, srv.port, NULL);
  if (test_now_ms() - t_fail < 900)
    assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_EUNAVAIL);
  test_sleep_ms(t_fail + 1100 - test_now_ms());
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_OK);
  eg_redis_stats(r, &st);
  assert_true(st.up);
  eg_redis_free(r);
  test_redis_kill(&srv);
}

static void test_command_timeout(void **state) {
  struct test_redis srv;
  char url[128];
  eg_redis_t *r;
  char err[EG_ERRBUF_LEN];
  eg_redis_opts_t opts = {.command_timeout_ms = 200, .retry_interval_ms = 100};
  const char *argv[3] = {"BLPOP", "nothing", "5"};
  size_t argvlen[3] = {5, 7, 1};
  redisReply *rep = NULL;
  int64_t t0;

  (void)state;
  test_redis_start(&srv, 0, NULL);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_OK);
  t0 = test_now_ms();
  assert_int_equal(
      eg_redis_command(r, 3, argv, argvlen, &rep, err, sizeof(err)),
      EG_ETIMEDOUT);
  assert_true(test_now_ms() - t0 < 2000);
  assert_non_null(strstr(err, "timed out"));
  assert_null(rep);
  test_sleep_ms(150);
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_OK);
  eg_redis_free(r);
  test_redis_kill(&srv);
}

/* A server that accepts (the kernel does, from the backlog) and never
 * answers: the setup PING must time out, not hang. */
static void test_hung_server(void **state) {
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  char url[128];
  eg_redis_t *r;
  char err[EG_ERRBUF_LEN];
  eg_redis_opts_t opts = {.command_timeout_ms = 200};
  int64_t t0;

  (void)state;
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(fd, 8), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(sa.sin_port));
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  t0 = test_now_ms();
  assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_ETIMEDOUT);
  assert_true(test_now_ms() - t0 < 2000);
  assert_non_null(strstr(err, "PING: timed out"));
  eg_redis_free(r);
  close(fd);
}

struct incr_arg {
  eg_redis_t *r;
  int n;
  int failures;
};

static void *incr_thread(void *p) {
  struct incr_arg *a = p;
  const char *argv[2] = {"INCR", "counter"};
  size_t argvlen[2] = {4, 7};

  for (int i = 0; i < a->n; i++) {
    redisReply *rep = NULL;

    if (eg_redis_command(a->r, 2, argv, argvlen, &rep, NULL, 0) != EG_OK)
      a->failures++;
    freeReplyObject(rep);
  }
  return NULL;
}

static void test_pool_concurrency(void **state) {
  struct test_redis srv;
  char url[128];
  eg_redis_t *r;
  char err[EG_ERRBUF_LEN];
  eg_redis_opts_t opts = {.pool_size = 2};
  pthread_t th[8];
  struct incr_arg args[8];
  eg_redis_stats_t st;
  redisReply *rep;

  (void)state;
  test_redis_start(&srv, 0, NULL);
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
  assert_int_equal(eg_redis_new(url, &opts, &r, err, sizeof(err)), EG_OK);
  for (int i = 0; i < 8; i++) {
    args[i] = (struct incr_arg){.r = r, .n = 200};
    assert_int_equal(pthread_create(&th[i], NULL, incr_thread, &args[i]), 0);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failures, 0);
  }
  rep = cmd(r, 2, (const char *[]){"GET", "counter"});
  assert_string_equal(rep->str, "1600");
  freeReplyObject(rep);
  eg_redis_stats(r, &st);
  assert_true(st.connects >= 1 && st.connects <= 2);

  /* A restart drops every idle connection at the first failure: one
   * reconnect, not one per stale connection. */
  {
    uint64_t before = st.connects;

    test_redis_kill(&srv);
    test_redis_start(&srv, srv.port, NULL);
    for (int i = 0; i < 4; i++)
      assert_int_equal(eg_redis_ping(r, err, sizeof(err)), EG_OK);
    eg_redis_stats(r, &st);
    assert_int_equal(st.connects, before + 1);
    assert_int_equal(st.command_failures, 1);
  }
  eg_redis_free(r);
  test_redis_kill(&srv);
}

#if OOM_INJECTION
static int new_scenario(void) {
  eg_redis_t *r = NULL;
  int rc = eg_redis_new("redis://:" SECRET "@h:1/2", NULL, &r, NULL, 0);

  eg_redis_free(r);
  return rc;
}
#endif

static void test_out_of_memory(void **state) {
  (void)state;
#if OOM_INJECTION
  static const int codes[] = {EG_ENOMEM};

  oom_run(new_scenario, codes, 1);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_parse_valid),
      cmocka_unit_test(test_url_parse_invalid),
      cmocka_unit_test(test_new_args),
      cmocka_unit_test(test_commands_and_db),
      cmocka_unit_test(test_password),
      cmocka_unit_test(test_unreachable_backoff),
      cmocka_unit_test(test_restart_reconnects),
      cmocka_unit_test(test_command_timeout),
      cmocka_unit_test(test_hung_server),
      cmocka_unit_test(test_pool_concurrency),
      cmocka_unit_test(test_out_of_memory),
  };

  /* hiredis writes with write(2); the binaries ignore SIGPIPE too. */
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}

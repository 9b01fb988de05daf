/* Test helper: runs a private redis-server on a free loopback port (no
 * persistence), waits until it answers PING, kills it on request. A missing
 * redis-server binary fails the test with a clear message. Include after
 * cmocka.h. */
#ifndef EG_TEST_REDIS_HARNESS_H
#define EG_TEST_REDIS_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

struct test_redis {
  pid_t pid;
  int port;
  char password[64]; /* "" for none */
};

/* EG_TEST_TIMEOUT_MULTIPLIER scales waits on slow machines (valgrind). */
static inline double test_time_mult(void) {
  const char *s = getenv("EG_TEST_TIMEOUT_MULTIPLIER");
  double m = s != NULL ? strtod(s, NULL) : 1.0;

  return m >= 1.0 ? m : 1.0;
}

static inline int64_t test_now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void test_sleep_ms(int64_t ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* A port nobody listens on right now (the kernel's pick for port 0). */
static inline int test_free_port(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port;

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

static inline void test_redis_require_binary(void) {
  const char *path = getenv("PATH");
  char buf[4096];

  if (path == NULL)
    path = "/usr/bin:/bin";
  while (*path != '\0') {
    size_t n = strcspn(path, ":");

    snprintf(buf, sizeof(buf), "%.*s/redis-server", (int)n, path);
    if (access(buf, X_OK) == 0)
      return;
    path += n;
    if (*path == ':')
      path++;
  }
  fail_msg("redis-server not found in PATH: these tests need a real Redis "
           "(install the redis-server package, see tools/setup-deps.sh)");
}

static inline bool test_redis_pings(int port, const char *password) {
  struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
  redisReply *r = NULL;
  bool ok = false;

  if (c == NULL || c->err != 0)
    goto done;
  redisSetTimeout(c, tv);
  if (password != NULL && password[0] != '\0') {
    r = redisCommand(c, "AUTH %s", password);
    freeReplyObject(r);
  }
  r = redisCommand(c, "PING");
  ok =
      r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
  freeReplyObject(r);
done:
  if (c != NULL)
    redisFree(c);
  return ok;
}

/* Starts redis-server on port (0: a free one), with extra arguments (a
 * NULL-terminated list, or NULL). */
static inline void test_redis_start_ex(struct test_redis *s,
                                       int port,
                                       const char *password,
                                       const char *const *extra) {
  int64_t deadline;

  test_redis_require_binary();
  s->port = port != 0 ? port : test_free_port();
  snprintf(s->password, sizeof(s->password), "%s",
           password != NULL ? password : "");
  s->pid = fork();
  assert_true(s->pid >= 0);
  if (s->pid == 0) {
    char portbuf[16];
    const char *argv[32];
    int argc = 0;
    int devnull = open("/dev/null", O_RDWR);

    /* The server dies with the test, even when the test crashes. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    snprintf(portbuf, sizeof(portbuf), "%d", s->port);
    argv[argc++] = "redis-server";
    argv[argc++] = "--port";
    argv[argc++] = portbuf;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--save";
    argv[argc++] = "";
    argv[argc++] = "--appendonly";
    argv[argc++] = "no";
    argv[argc++] = "--dir";
    argv[argc++] = "/tmp";
    if (s->password[0] != '\0') {
      argv[argc++] = "--requirepass";
      argv[argc++] = s->password;
    }
    for (int i = 0; extra != NULL && extra[i] != NULL && argc < 31; i++)
      argv[argc++] = extra[i];
    argv[argc] = NULL;
    execvp("redis-server", (char *const *)argv);
    _exit(127);
  }
  deadline = test_now_ms() + (int64_t)(10000 * test_time_mult());
  while (!test_redis_pings(s->port, s->password)) {
    int status;

    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
      s->pid = 0;
      fail_msg("redis-server exited at start on port %d (status %d)", s->port,
               status);
    }
    if (test_now_ms() > deadline) {
      kill(s->pid, SIGKILL);
      waitpid(s->pid, NULL, 0);
      s->pid = 0;
      fail_msg("redis-server on port %d did not answer PING", s->port);
    }
    test_sleep_ms(20);
  }
}

static inline void
test_redis_start(struct test_redis *s, int port, const char *password) {
  test_redis_start_ex(s, port, password, NULL);
}

/* Kills the server (SIGKILL: as abrupt as a crash) and reaps it. */
static inline void test_redis_kill(struct test_redis *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
}

/* A plain hiredis connection for the test's own checks. */
static inline redisContext *test_redis_connect(const struct test_redis *s) {
  struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);

  assert_non_null(c);
  assert_int_equal(c->err, 0);
  redisSetTimeout(c, tv);
  if (s->password[0] != '\0') {
    redisReply *r = redisCommand(c, "AUTH %s", s->password);

    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
  }
  return c;
}

#endif /* EG_TEST_REDIS_HARNESS_H */

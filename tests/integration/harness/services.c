/* The servers tests depend on: envgate-devbroker (with its control socket)
 * and redis-server. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "eg/error.h"

#define MAX_EXTRA_ARGS 64
#define SUN_PATH_MAX   107
#define REDIS_ATTEMPTS 5

/* A name not yet used by a child of it: stem, stem-2, ... */
static const char *unique_stem(eg_it_t *it, const char *stem) {
  const char *name = stem;

  for (int i = 2;; i++) {
    bool taken = false;
    for (eg_it_proc_t *p = it->procs; p != NULL; p = p->next)
      if (strcmp(p->name, name) == 0)
        taken = true;
    if (!taken)
      return name;
    name = it_printf(it, "%s-%d", stem, i);
    if (name == NULL)
      return NULL;
  }
}

int eg_it_devbroker_start(eg_it_t *it,
                          const char *const *extra_args,
                          eg_it_devbroker_t *out) {
  const char *argv[6 + MAX_EXTRA_ARGS + 1];
  const char *stem;
  const char *bootstrap_file;
  const char *control;
  eg_it_spawn_opts_t opts;
  size_t n = 0;
  int rc;

  if (it == NULL || out == NULL)
    return it_fail(it, EG_EINVAL, "eg_it_devbroker_start: bad arguments");
  memset(out, 0, sizeof(*out));
  stem = unique_stem(it, "devbroker");
  if (stem == NULL)
    return it_fail(it, EG_ENOMEM, "out of memory");
  bootstrap_file = it_printf(it, "%s/%s.bootstrap", it->dir, stem);
  control = it_printf(it, "%s/%s.sock", it->dir, stem);
  if (bootstrap_file == NULL || control == NULL)
    return it_fail(it, EG_ENOMEM, "out of memory");
  if (strlen(control) > SUN_PATH_MAX)
    return it_fail(it, EG_EINVAL,
                   "control socket path %s is over %d bytes (a Unix socket "
                   "limit): use a shorter TMPDIR",
                   control, SUN_PATH_MAX);
  argv[n++] = "envgate-devbroker";
  argv[n++] = "--bootstrap-file";
  argv[n++] = bootstrap_file;
  argv[n++] = "--control";
  argv[n++] = control;
  for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
    if (i == MAX_EXTRA_ARGS)
      return it_fail(it, EG_EINVAL, "more than %d extra devbroker arguments",
                     MAX_EXTRA_ARGS);
    argv[n++] = extra_args[i];
  }
  argv[n] = NULL;

  memset(&opts, 0, sizeof(opts));
  opts.name = stem;
  opts.argv = argv;
  opts.ready_file = bootstrap_file;
  rc = eg_it_spawn(it, &opts, &out->proc);
  if (rc != EG_OK)
    return rc;
  out->bootstrap = eg_it_proc_addr(out->proc);
  out->control = control;
  return EG_OK;
}

int eg_it_devbroker_ctl(eg_it_t *it,
                        const eg_it_devbroker_t *db,
                        const char *command,
                        char *reply,
                        size_t reply_len) {
  struct sockaddr_un sa;
  char buf[4096];
  char etext[128];
  size_t len = 0;
  long long deadline;
  int timeout = eg_it_timeout_ms(5000);
  int fd;

  if (reply != NULL && reply_len > 0)
    reply[0] = '\0';
  if (it == NULL || db == NULL || db->control == NULL || command == NULL ||
      strchr(command, '\n') != NULL)
    return it_fail(it, EG_EINVAL, "eg_it_devbroker_ctl: bad arguments");
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return it_fail(it, EG_EIO, "socket: %s",
                   it_errno_str(errno, etext, sizeof(etext)));
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", db->control);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    it_errno_str(errno, etext, sizeof(etext));
    close(fd);
    return it_fail(it, EG_EIO, "devbroker control %s: %s", db->control, etext);
  }
  len = (size_t)snprintf(buf, sizeof(buf), "%s\n", command);
  if (len >= sizeof(buf) || send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
    close(fd);
    return it_fail(it, EG_EIO, "devbroker control: sending '%s' failed",
                   command);
  }
  len = 0;
  deadline = eg_it_now_ms() + timeout;
  while (memchr(buf, '\n', len) == NULL && len < sizeof(buf) - 1) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    long long left = deadline - eg_it_now_ms();
    ssize_t r;

    if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
      close(fd);
      return it_fail(it, EG_EIO,
                     "devbroker control: no reply to '%s' in %d "
                     "ms",
                     command, timeout);
    }
    r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      close(fd);
      return it_fail(it, EG_EIO,
                     "devbroker control: connection closed before a reply "
                     "to '%s'",
                     command);
    }
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  if (reply != NULL && reply_len > 0)
    snprintf(reply, reply_len, "%s", buf);
  if (strcmp(buf, "ok") == 0 || strncmp(buf, "ok ", 3) == 0)
    return EG_OK;
  return it_fail(it, EG_EINVAL, "devbroker '%s': %s", command, buf);
}

/* Asks the redis on port for PING and its pid.
 * @returns EG_OK when it is ours, EG_EAGAIN when not ready, EG_EEXIST when
 * another server answered. */
static int probe_redis(int port, pid_t pid) {
  struct timeval tv = {.tv_sec = 0, .tv_usec = 300 * 1000};
  redisContext *rc = redisConnectWithTimeout("127.0.0.1", port, tv);
  redisReply *r;
  int result = EG_EAGAIN;

  if (rc == NULL)
    return EG_EAGAIN;
  if (rc->err != 0) {
    redisFree(rc);
    return EG_EAGAIN;
  }
  redisSetTimeout(rc, tv);
  r = redisCommand(rc, "PING");
  if (r != NULL && r->type == REDIS_REPLY_STATUS &&
      strcmp(r->str, "PONG") == 0) {
    freeReplyObject(r);
    r = redisCommand(rc, "INFO server");
    if (r != NULL && r->type == REDIS_REPLY_STRING) {
      char want[64];
      snprintf(want, sizeof(want), "process_id:%ld\r", (long)pid);
      result = strstr(r->str, want) != NULL ? EG_OK : EG_EEXIST;
    }
  }
  if (r != NULL)
    freeReplyObject(r);
  redisFree(rc);
  return result;
}

int eg_it_redis_start(eg_it_t *it, eg_it_redis_t *out) {
  int timeout = eg_it_timeout_ms(10000);

  if (it == NULL || out == NULL)
    return it_fail(it, EG_EINVAL, "eg_it_redis_start: bad arguments");
  memset(out, 0, sizeof(*out));
  for (int attempt = 1; attempt <= REDIS_ATTEMPTS; attempt++) {
    char portstr[16];
    const char *stem = unique_stem(it, "redis");
    const char *argv[] = {
        "redis-server", "--port", portstr,        "--bind", "127.0.0.1",
        "--save",       "",       "--appendonly", "no",     "--daemonize",
        "no",           "--dir",  it->dir,        NULL};
    eg_it_spawn_opts_t opts;
    eg_it_proc_t *p;
    long long deadline;
    int port;
    int rc;

    if (stem == NULL)
      return it_fail(it, EG_ENOMEM, "out of memory");
    rc = eg_it_free_port(it, &port);
    if (rc != EG_OK)
      return rc;
    snprintf(portstr, sizeof(portstr), "%d", port);
    memset(&opts, 0, sizeof(opts));
    opts.name = stem;
    opts.argv = argv;
    opts.merge_stdout = true; /* redis logs on stdout */
    rc = eg_it_spawn(it, &opts, &p);
    if (rc == EG_ENOENT)
      return it_fail(it, EG_ENOENT,
                     "redis-server not found in $PATH: install it "
                     "(apt-get install redis-server)");
    if (rc != EG_OK)
      return rc;

    deadline = eg_it_now_ms() + timeout;
    for (;;) {
      rc = probe_redis(port, eg_it_proc_pid(p));
      if (rc == EG_OK) {
        out->proc = p;
        out->port = port;
        out->url = it_printf(it, "redis://127.0.0.1:%d/0", port);
        return out->url != NULL ? EG_OK
                                : it_fail(it, EG_ENOMEM, "out of memory");
      }
      if (!eg_it_proc_is_running(p) || rc == EG_EEXIST)
        break;
      if (eg_it_now_ms() >= deadline) {
        it_proc_print_tail(p, 20);
        return it_fail(it, EG_ETIMEDOUT,
                       "redis-server on port %d did not answer PING in %d ms "
                       "(log: %s)",
                       port, timeout, eg_it_proc_log_path(p));
      }
      eg_it_sleep_ms(20);
    }
    /* Lost the race for the port? Then try another one. */
    eg_it_proc_stop(p, 5000, NULL);
    if (rc != EG_EEXIST &&
        eg_it_proc_log_count(p, "Address already in use") == 0) {
      it_proc_print_tail(p, 20);
      return it_fail(it, EG_EUNAVAIL, "redis-server exited (log: %s)",
                     eg_it_proc_log_path(p));
    }
  }
  return it_fail(it, EG_EUNAVAIL,
                 "redis-server: no free port after %d attempts",
                 REDIS_ATTEMPTS);
}

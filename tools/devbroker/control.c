/* Control socket server. Clients are few and commands are tiny, so one
 * poll() loop on the main thread serves them; replies are sent without
 * blocking and a client that does not read its replies is dropped, so a
 * stuck client can never stall the devbroker. */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "command.h"
#include "eg/error.h"
#include "eg/log.h"
#include "util.h"

struct client {
  int fd; /* -1 when the slot is free */
  size_t len;
  char buf[DBK_COMMAND_MAX_LEN + 2];
};

struct dbk_control_s {
  int lfd;
  char path[DBK_CONTROL_PATH_MAX + 1];
  dev_t dev; /* identity of our socket file, checked before unlinking it */
  ino_t ino;
  dbk_control_cmd_fn fn;
  void *ud;
  struct client clients[DBK_CONTROL_MAX_CLIENTS];
};

/* Handles a file already at path: a socket nobody listens on is a leftover
 * of a killed devbroker and is removed; anything else is refused. */
static int clear_stale(const char *path, char *errbuf, size_t errbuf_len) {
  struct sockaddr_un sa;
  struct stat st;
  char etext[128];
  int fd;
  int rc;

  if (lstat(path, &st) != 0) {
    if (errno == ENOENT)
      return EG_OK;
    dbk_errno_str(errno, etext, sizeof(etext));
    return dbk_seterr(EG_EIO, errbuf, errbuf_len, "control socket %s: %s", path,
                      etext);
  }
  if (!S_ISSOCK(st.st_mode))
    return dbk_seterr(EG_EEXIST, errbuf, errbuf_len,
                      "control socket %s: exists and is not a socket", path);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return dbk_seterr(EG_EIO, errbuf, errbuf_len, "socket: failed");
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  close(fd);
  if (rc == 0)
    return dbk_seterr(EG_EEXIST, errbuf, errbuf_len,
                      "control socket %s: another process is listening on it",
                      path);
  if (unlink(path) != 0 && errno != ENOENT) {
    dbk_errno_str(errno, etext, sizeof(etext));
    return dbk_seterr(EG_EIO, errbuf, errbuf_len,
                      "control socket %s: removing stale socket: %s", path,
                      etext);
  }
  return EG_OK;
}

int dbk_control_open(const char *path,
                     dbk_control_cmd_fn fn,
                     void *ud,
                     dbk_control_t **out,
                     char *errbuf,
                     size_t errbuf_len) {
  struct sockaddr_un sa;
  struct stat st;
  dbk_control_t *ctl;
  char etext[128];
  int rc;

  if (out == NULL || path == NULL || fn == NULL)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "bad arguments");
  *out = NULL;
  if (path[0] == '\0' || strlen(path) > DBK_CONTROL_PATH_MAX)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len,
                      "control socket path: need 1..%d bytes",
                      DBK_CONTROL_PATH_MAX);
  rc = clear_stale(path, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;

  ctl = calloc(1, sizeof(*ctl));
  if (ctl == NULL)
    return dbk_seterr(EG_ENOMEM, errbuf, errbuf_len, "out of memory");
  for (int i = 0; i < DBK_CONTROL_MAX_CLIENTS; i++)
    ctl->clients[i].fd = -1;
  ctl->fn = fn;
  ctl->ud = ud;
  memcpy(ctl->path, path, strlen(path) + 1);
  ctl->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (ctl->lfd < 0) {
    dbk_errno_str(errno, etext, sizeof(etext));
    free(ctl);
    return dbk_seterr(EG_EIO, errbuf, errbuf_len, "socket: %s", etext);
  }
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  if (bind(ctl->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      chmod(path, 0600) != 0 || listen(ctl->lfd, 16) != 0 ||
      lstat(path, &st) != 0) {
    dbk_errno_str(errno, etext, sizeof(etext));
    close(ctl->lfd);
    free(ctl);
    return dbk_seterr(EG_EIO, errbuf, errbuf_len, "control socket %s: %s", path,
                      etext);
  }
  ctl->dev = st.st_dev;
  ctl->ino = st.st_ino;
  *out = ctl;
  return EG_OK;
}

static void drop(struct client *cl) {
  close(cl->fd);
  cl->fd = -1;
  cl->len = 0;
}

/* Sends one reply line without blocking. @returns false if the client must
 * be dropped. */
static bool send_reply(struct client *cl, const char *reply) {
  char line[DBK_REPLY_MAX_LEN + 1];
  int n = snprintf(line, sizeof(line), "%s\n", reply);
  ssize_t sent;

  if (n < 0)
    return false;
  if ((size_t)n >= sizeof(line)) {
    n = (int)sizeof(line) - 1;
    line[n - 1] = '\n';
  }
  sent = send(cl->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent != n) {
    eg_log(EG_LOG_WARN, "control client dropped: not reading replies");
    return false;
  }
  return true;
}

static bool run_line(dbk_control_t *ctl, struct client *cl, char *line) {
  char reply[DBK_REPLY_MAX_LEN];
  size_t n = strlen(line);

  if (n > 0 && line[n - 1] == '\r')
    line[n - 1] = '\0';
  /* Blank lines are ignored so `printf 'status\n\n'` answers once. */
  if (strspn(line, " \t") == strlen(line))
    return true;
  reply[0] = '\0';
  ctl->fn(line, reply, sizeof(reply), ctl->ud);
  eg_log(EG_LOG_INFO, "control command", EG_LSTR("command", line),
         EG_LSTR("reply", reply));
  return send_reply(cl, reply);
}

/* Reads what the client sent and runs every complete line. */
static void serve(dbk_control_t *ctl, struct client *cl) {
  ssize_t n;
  char *nl;

  n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len,
           MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (n <= 0) {
    /* A last line without a newline still counts (printf 'status' | nc). */
    if (n == 0 && cl->len > 0) {
      cl->buf[cl->len] = '\0';
      run_line(ctl, cl, cl->buf);
    }
    drop(cl);
    return;
  }
  cl->len += (size_t)n;
  cl->buf[cl->len] = '\0';
  while ((nl = memchr(cl->buf, '\n', cl->len)) != NULL) {
    size_t used = (size_t)(nl - cl->buf) + 1;
    *nl = '\0';
    if (!run_line(ctl, cl, cl->buf)) {
      drop(cl);
      return;
    }
    memmove(cl->buf, cl->buf + used, cl->len - used);
    cl->len -= used;
    cl->buf[cl->len] = '\0';
  }
  if (cl->len >= sizeof(cl->buf) - 1) {
    send_reply(cl, "error: command line too long");
    drop(cl);
  }
}

static void accept_clients(dbk_control_t *ctl) {
  for (int i = 0; i < DBK_CONTROL_MAX_CLIENTS; i++) {
    int fd;

    if (ctl->clients[i].fd != -1)
      continue;
    fd = accept4(ctl->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;
    ctl->clients[i].fd = fd;
    ctl->clients[i].len = 0;
  }
}

void dbk_control_poll(dbk_control_t *ctl, int timeout_ms) {
  struct pollfd pfd[DBK_CONTROL_MAX_CLIENTS + 1];
  struct client *who[DBK_CONTROL_MAX_CLIENTS + 1];
  nfds_t n = 0;
  bool full = true;

  if (ctl == NULL)
    return;
  for (int i = 0; i < DBK_CONTROL_MAX_CLIENTS; i++) {
    if (ctl->clients[i].fd == -1) {
      full = false;
      continue;
    }
    pfd[n].fd = ctl->clients[i].fd;
    pfd[n].events = POLLIN;
    who[n++] = &ctl->clients[i];
  }
  /* When every slot is taken, new clients wait in the backlog. */
  if (!full) {
    pfd[n].fd = ctl->lfd;
    pfd[n].events = POLLIN;
    who[n++] = NULL;
  }
  if (poll(pfd, n, timeout_ms) <= 0)
    return;
  for (nfds_t i = 0; i < n; i++) {
    if (pfd[i].revents == 0)
      continue;
    if (who[i] == NULL)
      accept_clients(ctl);
    else
      serve(ctl, who[i]);
  }
}

void dbk_control_close(dbk_control_t *ctl) {
  struct stat st;

  if (ctl == NULL)
    return;
  for (int i = 0; i < DBK_CONTROL_MAX_CLIENTS; i++)
    if (ctl->clients[i].fd != -1)
      drop(&ctl->clients[i]);
  close(ctl->lfd);
  /* Remove the file only if it is still ours, not a successor's. */
  if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
      st.st_ino == ctl->ino)
    unlink(ctl->path);
  free(ctl);
}

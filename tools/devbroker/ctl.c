/* The ctl subcommand: connect, send the words joined by spaces as one line,
 * print the one-line reply. */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "control.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "util.h"

#define PROG "envgate-devbroker ctl"

static void ctl_usage(FILE *f) {
  fprintf(f,
          "usage: envgate-devbroker ctl --control PATH [--timeout-ms N] "
          "COMMAND [ARG...]\n"
          "Sends COMMAND to a running envgate-devbroker and prints its reply.\n"
          "Exit status: 0 reply ok, 1 reply error or no devbroker, 2 usage.\n"
          "Commands: %s\n",
          DBK_COMMAND_SUMMARY);
}

static int usage_error(const char *what) {
  fprintf(stderr, PROG ": error: %s (see --help)\n", what);
  return 2;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends line and reads the reply into reply. @returns 0 or an exit code. */
static int exchange(const char *path,
                    const char *line,
                    int timeout_ms,
                    char *reply,
                    size_t reply_len) {
  struct sockaddr_un sa;
  long long deadline = now_ms() + timeout_ms;
  size_t len = 0;
  size_t line_len = strlen(line);
  char etext[128];
  int fd;

  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, PROG ": error: socket: %s\n",
            dbk_errno_str(errno, etext, sizeof(etext)));
    return 1;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    fprintf(stderr, PROG ": error: cannot connect to %s: %s\n", path,
            dbk_errno_str(errno, etext, sizeof(etext)));
    close(fd);
    return 1;
  }
  if (send(fd, line, line_len, MSG_NOSIGNAL) != (ssize_t)line_len ||
      send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
    fprintf(stderr, PROG ": error: sending to %s: %s\n", path,
            dbk_errno_str(errno, etext, sizeof(etext)));
    close(fd);
    return 1;
  }
  for (;;) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    long long left = deadline - now_ms();
    ssize_t n;

    if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
      fprintf(stderr, PROG ": error: no reply from %s within %d ms\n", path,
              timeout_ms);
      close(fd);
      return 1;
    }
    n = recv(fd, reply + len, reply_len - 1 - len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      fprintf(stderr,
              PROG ": error: %s closed the connection without a "
                   "reply\n",
              path);
      close(fd);
      return 1;
    }
    len += (size_t)n;
    reply[len] = '\0';
    if (memchr(reply, '\n', len) != NULL || len == reply_len - 1)
      break;
  }
  close(fd);
  reply[strcspn(reply, "\n")] = '\0';
  return 0;
}

int dbk_ctl_main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"control", required_argument, NULL, 'c'},
      {"timeout-ms", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  char line[DBK_COMMAND_MAX_LEN + 1];
  char reply[DBK_REPLY_MAX_LEN + 2];
  const char *path = NULL;
  uint64_t timeout_ms = 5000;
  size_t len = 0;
  int opt;
  int rc;

  /* '+' stops at the first command word: its arguments are not options. */
  optind = 1;
  while ((opt = getopt_long(argc, argv, "+c:t:h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      path = optarg;
      break;
    case 't':
      if (eg_parse_u64(optarg, 1, 600000, &timeout_ms) != EG_OK)
        return usage_error("--timeout-ms: must be between 1 and 600000");
      break;
    case 'h':
      ctl_usage(stdout);
      return 0;
    default:
      return usage_error("unknown option");
    }
  }
  if (path == NULL)
    return usage_error("--control PATH is required");
  if (path[0] == '\0' || strlen(path) > DBK_CONTROL_PATH_MAX)
    return usage_error("--control: path must be 1..107 bytes");
  if (optind >= argc)
    return usage_error("no command given");
  line[0] = '\0';
  for (int i = optind; i < argc; i++) {
    int n = snprintf(line + len, sizeof(line) - len, "%s%s",
                     i > optind ? " " : "", argv[i]);
    if (n < 0 || (size_t)n >= sizeof(line) - len)
      return usage_error("command longer than 1024 bytes");
    if (strchr(argv[i], '\n') != NULL)
      return usage_error("command words must not contain newlines");
    len += (size_t)n;
  }
  rc = exchange(path, line, (int)timeout_ms, reply, sizeof(reply));
  if (rc != 0)
    return rc;
  printf("%s\n", reply);
  return strncmp(reply, "ok", 2) == 0 && (reply[2] == '\0' || reply[2] == ' ')
             ? 0
             : 1;
}

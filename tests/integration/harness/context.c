/* Test context: scratch directory, owned strings, timeouts, and the atexit
 * safety net that kills children a test left behind. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "eg/error.h"

/* Contexts not yet ended, for the atexit handler. Test code is single-
 * threaded where it touches this. */
static eg_it_t *live_contexts = NULL;
static bool atexit_registered = false;
static double timeout_multiplier = 0; /* 0 until read */

const char *it_errno_str(int err, char *buf, size_t len) {
  /* GNU strerror_r returns the text, which may not be in buf. */
  const char *s = strerror_r(err, buf, len);

  if (s != buf)
    snprintf(buf, len, "%s", s);
  return buf;
}

int it_fail(eg_it_t *it, int rc, const char *fmt, ...) {
  va_list ap;

  if (it == NULL)
    return rc;
  va_start(ap, fmt);
  vsnprintf(it->err, sizeof(it->err), fmt, ap);
  va_end(ap);
  return rc;
}

char *it_printf(eg_it_t *it, const char *fmt, ...) {
  struct it_string *node;
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  node = malloc(sizeof(*node) + (size_t)n + 1);
  if (node == NULL)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(node->s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  node->next = it->strings;
  it->strings = node;
  return node->s;
}

/* Parses $EG_TEST_TIMEOUT_MULTIPLIER. @returns EG_OK or EG_EINVAL. */
static int read_multiplier(double *out) {
  const char *s = getenv("EG_TEST_TIMEOUT_MULTIPLIER");
  char *end;
  double v;

  *out = 1.0;
  if (s == NULL || s[0] == '\0')
    return EG_OK;
  errno = 0;
  v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || end == s || !isfinite(v) || v < 0.1 ||
      v > 100)
    return EG_EINVAL;
  *out = v;
  return EG_OK;
}

int eg_it_timeout_ms(int base_ms) {
  double v;

  if (timeout_multiplier == 0) {
    if (read_multiplier(&v) != EG_OK)
      v = 1.0; /* eg_it_begin() reports the bad value */
    timeout_multiplier = v;
  }
  v = base_ms * timeout_multiplier;
  return v > 24.0 * 3600 * 1000 ? 24 * 3600 * 1000 : (int)v;
}

long long eg_it_now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void eg_it_sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000,
                        .tv_nsec = (long)(ms % 1000) * 1000000};

  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Kills every child of every live context: the last resort when a test
 * process exits without eg_it_end() (exit() in a test, a failed assert in
 * setup). Children also have PR_SET_PDEATHSIG for the cases where no
 * handler runs at all (SIGKILL, crash). */
static void kill_leftovers(void) {
  for (eg_it_t *it = live_contexts; it != NULL; it = it->next_live) {
    for (eg_it_proc_t *p = it->procs; p != NULL; p = p->next) {
      if (!p->exited) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->exited = true;
      }
    }
    fprintf(stderr, "harness: test '%s' did not finish; scratch kept: %s\n",
            it->name, it->dir);
  }
}

static void at_exit(void) {
  kill_leftovers();
  curl_global_cleanup();
}

int eg_it_begin(const char *name, eg_it_t **out) {
  const char *tmp = getenv("TMPDIR");
  char etext[128];
  eg_it_t *it;

  if (out == NULL || name == NULL || name[0] == '\0' ||
      strchr(name, '/') != NULL) {
    fprintf(stderr, "harness: error: eg_it_begin needs a name without '/'\n");
    return EG_EINVAL;
  }
  *out = NULL;
  if (read_multiplier(&timeout_multiplier) != EG_OK) {
    fprintf(stderr,
            "harness: error: EG_TEST_TIMEOUT_MULTIPLIER=%s: must be a "
            "number between 0.1 and 100\n",
            getenv("EG_TEST_TIMEOUT_MULTIPLIER"));
    timeout_multiplier = 0;
    return EG_EINVAL;
  }
  if (!atexit_registered) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      fprintf(stderr, "harness: error: curl_global_init failed\n");
      return EG_EIO;
    }
    atexit(at_exit);
    atexit_registered = true;
  }
  it = calloc(1, sizeof(*it));
  if (it == NULL)
    return EG_ENOMEM;
  if (tmp == NULL || tmp[0] == '\0')
    tmp = "/tmp";
  it->name = it_printf(it, "%s", name);
  it->dir = it_printf(it, "%s/eg-it-%s-XXXXXX", tmp, name);
  if (it->name == NULL || it->dir == NULL) {
    eg_it_end(it);
    return EG_ENOMEM;
  }
  if (mkdtemp(it->dir) == NULL) {
    fprintf(stderr, "harness: error: mkdtemp %s: %s\n", it->dir,
            it_errno_str(errno, etext, sizeof(etext)));
    it->dir = NULL;
    it->passed = true; /* nothing to keep */
    eg_it_end(it);
    return EG_EIO;
  }
  it->next_live = live_contexts;
  live_contexts = it;
  *out = it;
  return EG_OK;
}

void eg_it_pass(eg_it_t *it) {
  if (it != NULL)
    it->passed = true;
}

static int remove_entry(const char *path,
                        const struct stat *st,
                        int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path) == 0 ? 0 : -1;
}

/* Stops every running child of it at once (SIGTERM to all, one shared
 * deadline, then SIGKILL), so teardown takes as long as the slowest child,
 * not the sum. @returns true when every child ended cleanly. */
static bool stop_children(eg_it_t *it) {
  int timeout = eg_it_timeout_ms(10000);
  long long deadline = eg_it_now_ms() + timeout;
  bool clean = true;
  const char *report;
  eg_it_proc_t *p;

  for (p = it->procs; p != NULL; p = p->next)
    if (!it_proc_poll_exit(p))
      kill(p->pid, SIGTERM);
  for (p = it->procs; p != NULL; p = p->next) {
    while (!it_proc_poll_exit(p) && eg_it_now_ms() < deadline)
      eg_it_sleep_ms(10);
    if (!p->exited) {
      fprintf(stderr,
              "harness: %s (pid %ld) ignored SIGTERM for %d ms; "
              "killed\n",
              p->name, (long)p->pid, timeout);
      kill(-p->pid, SIGKILL);
      kill(p->pid, SIGKILL);
      while (waitpid(p->pid, &p->wstatus, 0) < 0 && errno == EINTR)
        ;
      p->exited = true;
      clean = false;
      continue;
    }
    /* Also end whatever it left in its process group. */
    kill(-p->pid, SIGKILL);
    /* A sanitizer or valgrind report fails the test whatever the exit
     * status was, even one the test expected. */
    report = it_proc_find_report(p);
    if (report != NULL) {
      fprintf(stderr, "harness: %s (pid %ld) reported: %s (log: %s)\n", p->name,
              (long)p->pid, report,
              p->vg_path != NULL && strstr(report, "ERROR SUMMARY") != NULL
                  ? p->vg_path
                  : p->log_path);
      clean = false;
      continue;
    }
    if (p->status_seen)
      continue; /* the test checked this status itself */
    if (WIFEXITED(p->wstatus) && WEXITSTATUS(p->wstatus) == 0)
      continue;
    clean = false;
    if (WIFEXITED(p->wstatus))
      fprintf(stderr, "harness: %s (pid %ld) exited with status %d\n", p->name,
              (long)p->pid, WEXITSTATUS(p->wstatus));
    else if (WIFSIGNALED(p->wstatus))
      fprintf(stderr, "harness: %s (pid %ld) was killed by signal %d\n",
              p->name, (long)p->pid, WTERMSIG(p->wstatus));
  }
  return clean;
}

int eg_it_end(eg_it_t *it) {
  bool clean = true;
  eg_it_proc_t *p;
  struct it_string *s;

  if (it == NULL)
    return 0;
  for (eg_it_t **pp = &live_contexts; *pp != NULL; pp = &(*pp)->next_live) {
    if (*pp == it) {
      *pp = it->next_live;
      break;
    }
  }
  clean = stop_children(it);
  if (it->dir != NULL) {
    if (it->passed && clean) {
      nftw(it->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
      for (p = it->procs; p != NULL; p = p->next)
        it_proc_print_tail(p, 15);
      fprintf(stderr, "harness: test '%s' %s; scratch kept: %s\n", it->name,
              it->passed ? "passed but a child did not end cleanly" : "failed",
              it->dir);
    }
  }
  while ((p = it->procs) != NULL) {
    it->procs = p->next;
    free(p);
  }
  while ((s = it->strings) != NULL) {
    it->strings = s->next;
    free(s);
  }
  free(it);
  return clean ? 0 : -1;
}

int eg_it_setup(void **state) {
  eg_it_t *it;
  const char *prog = program_invocation_short_name;

  if (eg_it_begin(prog != NULL && prog[0] != '\0' ? prog : "test", &it) !=
      EG_OK)
    return -1;
  *state = it;
  return 0;
}

int eg_it_teardown(void **state) {
  int rc = eg_it_end(*state);

  *state = NULL;
  return rc;
}

const char *eg_it_errmsg(const eg_it_t *it) {
  return it != NULL ? it->err : "no harness context";
}

const char *eg_it_dir(const eg_it_t *it) {
  return it->dir;
}

const char *eg_it_path(eg_it_t *it, const char *name) {
  return it_printf(it, "%s/%s", it->dir, name);
}

int eg_it_write_file(eg_it_t *it,
                     const char *name,
                     const void *data,
                     size_t len,
                     const char **path) {
  const char *p = eg_it_path(it, name);
  const char *c = data;
  char etext[128];
  int fd;

  if (path != NULL)
    *path = NULL;
  if (p == NULL)
    return it_fail(it, EG_ENOMEM, "out of memory");
  fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return it_fail(it, EG_EIO, "open %s: %s", p,
                   it_errno_str(errno, etext, sizeof(etext)));
  while (len > 0) {
    ssize_t n = write(fd, c, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      close(fd);
      return it_fail(it, EG_EIO, "write %s: %s", p,
                     it_errno_str(errno, etext, sizeof(etext)));
    }
    c += n;
    len -= (size_t)n;
  }
  if (close(fd) != 0)
    return it_fail(it, EG_EIO, "close %s: %s", p,
                   it_errno_str(errno, etext, sizeof(etext)));
  if (path != NULL)
    *path = p;
  return EG_OK;
}

int eg_it_read_file(eg_it_t *it, const char *path, char **data, size_t *len) {
  char etext[128];
  char *buf = NULL;
  size_t cap = 0;
  size_t n = 0;
  int fd;

  if (data == NULL || path == NULL)
    return it_fail(it, EG_EINVAL, "eg_it_read_file: no path or output");
  *data = NULL;
  if (len != NULL)
    *len = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return it_fail(it, errno == ENOENT ? EG_ENOENT : EG_EIO, "open %s: %s",
                   path, it_errno_str(errno, etext, sizeof(etext)));
  for (;;) {
    ssize_t r;

    if (cap - n < 4096) {
      char *nb;
      if (cap >= IT_MAX_READ) {
        free(buf);
        close(fd);
        return it_fail(it, EG_ETOOBIG, "%s: larger than %u bytes", path,
                       IT_MAX_READ);
      }
      cap = cap == 0 ? 16384 : cap * 2;
      nb = realloc(buf, cap + 1);
      if (nb == NULL) {
        free(buf);
        close(fd);
        return it_fail(it, EG_ENOMEM, "out of memory");
      }
      buf = nb;
    }
    r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      free(buf);
      close(fd);
      return it_fail(it, EG_EIO, "read %s: %s", path,
                     it_errno_str(errno, etext, sizeof(etext)));
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  *data = buf;
  if (len != NULL)
    *len = n;
  return EG_OK;
}

int eg_it_free_port(eg_it_t *it, int *port) {
  struct sockaddr_in sa;
  socklen_t salen = sizeof(sa);
  char etext[128];
  int fd;

  *port = 0;
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return it_fail(it, EG_EIO, "socket: %s",
                   it_errno_str(errno, etext, sizeof(etext)));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
    it_errno_str(errno, etext, sizeof(etext));
    close(fd);
    return it_fail(it, EG_EIO, "picking a free port: %s", etext);
  }
  close(fd);
  *port = ntohs(sa.sin_port);
  return EG_OK;
}

const char *it_kafka_log_path(eg_it_t *it) {
  return eg_it_path(it, "kafka-clients.log");
}

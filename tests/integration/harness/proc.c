/* Child processes. Everything the child needs is prepared before fork():
 * the test process runs librdkafka and curl threads, so between fork() and
 * execve() the child only makes async-signal-safe calls. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eg/error.h"

extern char **environ;

#define READY_POLL_MS    20
#define DEFAULT_READY_MS 10000
#define MAX_ARGS         256
#define MAX_ENV          4096
#define VG_ARGS          10 /* valgrind and its options, see start() */

/* Finds an executable: a path as given, else EG_IT_BIN_DIR/name, else
 * $PATH. @returns a path owned by it, or NULL. */
static const char *resolve(eg_it_t *it, const char *name) {
  const char *path;
  const char *p;

  if (strchr(name, '/') != NULL)
    return access(name, X_OK) == 0 ? it_printf(it, "%s", name) : NULL;
  p = it_printf(it, "%s/%s", EG_IT_BIN_DIR, name);
  if (p != NULL && access(p, X_OK) == 0)
    return p;
  path = getenv("PATH");
  if (path == NULL || path[0] == '\0')
    path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  while (*path != '\0') {
    size_t n = strcspn(path, ":");
    p = it_printf(it, "%.*s/%s", (int)n, path, name);
    if (n > 0 && p != NULL && access(p, X_OK) == 0)
      return p;
    path += n;
    if (*path == ':')
      path++;
  }
  return NULL;
}

static bool name_taken(const eg_it_t *it, const char *name) {
  for (const eg_it_proc_t *p = it->procs; p != NULL; p = p->next)
    if (strcmp(p->name, name) == 0)
      return true;
  return false;
}

/* True when entry ("NAME=value" or "NAME") names the variable of var. */
static bool same_var(const char *entry, const char *var) {
  size_t n = strcspn(entry, "=");
  return strncmp(entry, var, n) == 0 && (var[n] == '=' || var[n] == '\0');
}

/* Builds the child's environment: ours without ENVGATE_*, then opts->env
 * (the last entry for a variable wins).
 * @returns a malloc'd NULL-terminated array of borrowed strings, or NULL. */
static char **build_env(const char *const *extra) {
  size_t n = 0;
  size_t cap = 0;
  char **envp;

  for (char **e = environ; *e != NULL; e++)
    cap++;
  for (const char *const *x = extra; x != NULL && *x != NULL; x++)
    cap++;
  envp = calloc(cap + 1, sizeof(*envp));
  if (envp == NULL)
    return NULL;
  for (char **e = environ; *e != NULL; e++) {
    bool overridden = false;
    if (strncmp(*e, "ENVGATE_", 8) == 0)
      continue;
    for (const char *const *x = extra; x != NULL && *x != NULL; x++)
      if (same_var(*x, *e))
        overridden = true;
    if (!overridden)
      envp[n++] = *e;
  }
  for (const char *const *x = extra; x != NULL && *x != NULL; x++) {
    /* A later entry for the same variable wins (getenv() would find the
     * first of two). */
    bool overridden = false;
    for (const char *const *y = x + 1; *y != NULL; y++)
      if (same_var(*y, *x))
        overridden = true;
    if (!overridden && strchr(*x, '=') != NULL)
      envp[n++] = (char *)*x;
  }
  envp[n] = NULL;
  return envp;
}

/* The child side of fork(): async-signal-safe calls only. */
static void child_exec(pid_t parent,
                       const char *path,
                       char **argv,
                       char **envp,
                       int in_fd,
                       int out_fd,
                       int err_fd) {
  static const char msg[] = "harness: execve failed\n";
  struct sigaction sa;
  sigset_t all;

  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* The parent may have died before prctl() took effect. */
  if (getppid() != parent)
    _exit(127);
  /* Signal dispositions other than "ignore" reset on exec; the mask and
   * ignored signals do not. Give the child a clean slate. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    sigaction(sig, &sa, NULL);
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
    _exit(127);
  syscall(SYS_close_range, 3u, ~0u, 0u);
  execve(path, argv, envp);
  if (write(2, msg, sizeof(msg) - 1) < 0)
    _exit(127);
  _exit(127);
}

bool it_proc_poll_exit(eg_it_proc_t *p) {
  int wstatus;
  pid_t r;

  if (p->exited)
    return true;
  do {
    r = waitpid(p->pid, &wstatus, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == p->pid || (r < 0 && errno == ECHILD)) {
    p->exited = true;
    p->wstatus = r == p->pid ? wstatus : 0;
  }
  return p->exited;
}

static void describe_status(int wstatus, char *buf, size_t len) {
  if (WIFEXITED(wstatus))
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(wstatus));
  else if (WIFSIGNALED(wstatus))
    snprintf(buf, len, "was killed by signal %d", WTERMSIG(wstatus));
  else
    snprintf(buf, len, "ended (wait status %d)", wstatus);
}

void it_proc_print_tail(eg_it_proc_t *p, int max_lines) {
  char *text = NULL;
  size_t len = 0;
  size_t start;
  int lines = 0;

  if (eg_it_read_file(NULL, p->log_path, &text, &len) != EG_OK)
    return;
  start = len;
  while (start > 0) {
    if (text[start - 1] == '\n' && start != len && ++lines >= max_lines)
      break;
    start--;
  }
  fprintf(stderr, "harness: --- last lines of %s ---\n", p->log_path);
  for (char *line = text + start; *line != '\0';) {
    size_t n = strcspn(line, "\n");
    fprintf(stderr, "  %s| %.*s\n", p->name, (int)(n > 1000 ? 1000 : n), line);
    line += n;
    if (*line == '\n')
      line++;
  }
  free(text);
}

/* Finds the first line of path holding one of the needles; @returns it
 * (owned by it) or NULL. */
static const char *
find_line(eg_it_t *it, const char *path, const char *const *needles) {
  char *text = NULL;
  const char *found = NULL;

  if (path == NULL || eg_it_read_file(NULL, path, &text, NULL) != EG_OK)
    return NULL;
  for (size_t i = 0; needles[i] != NULL && found == NULL; i++) {
    const char *at = strstr(text, needles[i]);
    const char *start, *end;

    if (at == NULL)
      continue;
    start = at;
    while (start > text && start[-1] != '\n')
      start--;
    end = strchr(at, '\n');
    found =
        it_printf(it, "%.*s",
                  (int)((end != NULL ? end : at + strlen(at)) - start), start);
  }
  free(text);
  return found;
}

const char *it_proc_find_report(eg_it_proc_t *p) {
  /* Sanitized builds (EG_SANITIZE) write their reports to the child's
   * stderr, which is its log; exit codes alone would miss them where a test
   * expects a failure status, and UBSan exits with 1 as our tools do. */
  static const char *const sanitizers[] = {
      "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
      "AddressSanitizer:DEADLYSIGNAL", "runtime error: ", NULL};
  static const char *const valgrind[] = {"ERROR SUMMARY: ", NULL};
  const char *line = find_line(p->it, p->log_path, sanitizers);
  const char *vg;

  if (line != NULL)
    return line;
  vg = find_line(p->it, p->vg_path, valgrind);
  /* "ERROR SUMMARY: 0 errors from 0 contexts" is the clean answer. */
  if (vg != NULL && strstr(vg, "ERROR SUMMARY: 0 errors") == NULL)
    return vg;
  return NULL;
}

/* Reads the first line of path into p->addr. @returns true once present. */
static bool read_ready_file(eg_it_proc_t *p, const char *path) {
  char *text = NULL;
  size_t len = 0;
  size_t n;

  if (eg_it_read_file(NULL, path, &text, &len) != EG_OK)
    return false;
  n = strcspn(text, "\r\n");
  if (n == 0) {
    free(text);
    return false;
  }
  p->addr = it_printf(p->it, "%.*s", (int)n, text);
  free(text);
  return p->addr != NULL;
}

static bool url_ready(eg_it_t *it, const char *url) {
  eg_it_http_resp_t resp;
  bool ok;

  if (eg_it_http(it, "GET", url, NULL, NULL, 0, 1000, &resp) != EG_OK)
    return false;
  ok = resp.status == 200;
  eg_it_http_resp_cleanup(&resp);
  return ok;
}

static int
wait_ready(eg_it_t *it, eg_it_proc_t *p, const eg_it_spawn_opts_t *opts) {
  int timeout = eg_it_timeout_ms(
      opts->ready_timeout_ms > 0 ? opts->ready_timeout_ms : DEFAULT_READY_MS);
  long long deadline = eg_it_now_ms() + timeout;
  bool file_ok = opts->ready_file == NULL;
  bool url_ok = opts->ready_url == NULL;
  bool log_ok = opts->ready_log == NULL;
  char how[64];

  for (;;) {
    if (!file_ok)
      file_ok = read_ready_file(p, opts->ready_file);
    if (file_ok && !url_ok)
      url_ok = url_ready(it, opts->ready_url);
    if (file_ok && url_ok && !log_ok)
      log_ok = eg_it_proc_log_count(p, opts->ready_log) > 0;
    if (file_ok && url_ok && log_ok)
      return EG_OK;
    if (it_proc_poll_exit(p)) {
      /* Reported to the caller here, so teardown does not report it again. */
      p->status_seen = true;
      describe_status(p->wstatus, how, sizeof(how));
      it_proc_print_tail(p, 20);
      return it_fail(it, EG_EUNAVAIL, "%s %s before it was ready (log: %s)",
                     p->name, how, p->log_path);
    }
    if (eg_it_now_ms() >= deadline) {
      it_proc_print_tail(p, 20);
      return it_fail(it, EG_ETIMEDOUT,
                     "%s not ready after %d ms: waiting for %s (log: %s)",
                     p->name, timeout,
                     !file_ok  ? opts->ready_file
                     : !url_ok ? opts->ready_url
                               : opts->ready_log,
                     p->log_path);
    }
    eg_it_sleep_ms(READY_POLL_MS);
  }
}

/* True when $EG_IT_VALGRIND asks for our binaries to run under valgrind
 * (docs/integration-tests.md). */
static bool want_valgrind(const char *path) {
  const char *v = getenv("EG_IT_VALGRIND");
  size_t n = strlen(EG_IT_BIN_DIR);

  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0 &&
         strncmp(path, EG_IT_BIN_DIR, n) == 0 && path[n] == '/';
}

/* Starts the child. @returns EG_OK with *out registered in it. */
static int
start(eg_it_t *it, const eg_it_spawn_opts_t *opts, eg_it_proc_t **out) {
  char *argv[MAX_ARGS + VG_ARGS + 1];
  char **envp = NULL;
  char etext[128];
  const char *path;
  const char *exe;
  eg_it_proc_t *p;
  int in_fd = -1, out_fd = -1, err_fd = -1;
  size_t argc = 0;
  int rc = EG_OK;
  pid_t parent = getpid();
  pid_t pid;

  path = resolve(it, opts->argv[0]);
  if (path == NULL)
    return it_fail(it, EG_ENOENT,
                   "%s: not found or not executable (looked in %s and $PATH; "
                   "build it with `cmake --build build` or install it)",
                   opts->argv[0], EG_IT_BIN_DIR);
  exe = path;
  for (size_t i = 0; opts->argv[i] != NULL; i++)
    if (i == MAX_ARGS)
      return it_fail(it, EG_EINVAL, "%s: more than %d arguments", opts->argv[0],
                     MAX_ARGS);

  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return it_fail(it, EG_ENOMEM, "out of memory");
  p->it = it;
  p->name = it_printf(it, "%s", opts->name);
  for (int i = 2; p->name != NULL && name_taken(it, p->name); i++)
    p->name = it_printf(it, "%s-%d", opts->name, i);
  if (p->name != NULL) {
    p->log_path = it_printf(it, "%s/%s.log", it->dir, p->name);
    p->out_path = it_printf(it, "%s/%s.out", it->dir, p->name);
  }
  if (p->name != NULL && want_valgrind(path)) {
    /* Memcheck for our own binaries; its report goes to a file of its own,
     * so the child's log stays what the test reads. A definite leak is an
     * error; the suppressions cover third-party libraries only. */
    const char *vg = resolve(it, "valgrind");
    const char *log_opt;
    const char *supp =
        it_printf(it, "--suppressions=%s/tools/valgrind.supp", EG_SOURCE_DIR);

    if (vg == NULL) {
      rc = it_fail(it, EG_ENOENT,
                   "EG_IT_VALGRIND is set but valgrind is not installed");
      goto fail;
    }
#ifdef __SANITIZE_ADDRESS__
    /* The harness is built as the binaries are: sanitized binaries do not
     * run under valgrind. */
    rc = it_fail(it, EG_EINVAL,
                 "EG_IT_VALGRIND needs a build without EG_SANITIZE");
    goto fail;
#endif
    p->vg_path = it_printf(it, "%s/%s.valgrind", it->dir, p->name);
    log_opt = it_printf(it, "--log-file=%s", p->vg_path);
    if (supp == NULL || p->vg_path == NULL || log_opt == NULL) {
      rc = it_fail(it, EG_ENOMEM, "out of memory");
      goto fail;
    }
    argv[argc++] = "valgrind";
    argv[argc++] = "--error-exitcode=99";
    argv[argc++] = "--leak-check=full";
    argv[argc++] = "--errors-for-leak-kinds=definite";
    argv[argc++] = "--show-leak-kinds=definite";
    argv[argc++] = (char *)supp;
    argv[argc++] = (char *)log_opt;
    argv[argc++] = (char *)path;
    exe = vg;
  } else {
    argv[argc++] = (char *)opts->argv[0];
  }
  for (size_t i = 1; opts->argv[i] != NULL; i++)
    argv[argc++] = (char *)opts->argv[i];
  argv[argc] = NULL;
  envp = build_env(opts->env);
  if (p->name == NULL || p->log_path == NULL || p->out_path == NULL ||
      envp == NULL) {
    rc = it_fail(it, EG_ENOMEM, "out of memory");
    goto fail;
  }

  in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  err_fd = open(p->log_path,
                O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  out_fd =
      opts->merge_stdout
          ? dup(err_fd)
          : open(p->out_path,
                 O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (in_fd < 0 || err_fd < 0 || out_fd < 0) {
    rc = it_fail(it, EG_EIO, "opening logs of %s: %s", p->name,
                 it_errno_str(errno, etext, sizeof(etext)));
    goto fail;
  }
  if (opts->merge_stdout)
    p->out_path = p->log_path;
  /* A stale address must not pass for the new child's. */
  if (opts->ready_file != NULL)
    unlink(opts->ready_file);

  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    rc = it_fail(it, EG_EIO, "fork: %s",
                 it_errno_str(errno, etext, sizeof(etext)));
    goto fail;
  }
  if (pid == 0)
    child_exec(parent, exe, argv, envp, in_fd, out_fd, err_fd);
  /* Both sides set the group so that kill(-pid) works whoever runs first. */
  setpgid(pid, pid);
  p->pid = pid;
  p->next = it->procs;
  it->procs = p;
  close(in_fd);
  close(out_fd);
  close(err_fd);
  free(envp);
  *out = p;
  return EG_OK;

fail:
  if (in_fd >= 0)
    close(in_fd);
  if (out_fd >= 0)
    close(out_fd);
  if (err_fd >= 0)
    close(err_fd);
  free(envp);
  free(p);
  return rc;
}

int eg_it_spawn(eg_it_t *it,
                const eg_it_spawn_opts_t *opts,
                eg_it_proc_t **out) {
  eg_it_proc_t *p;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (it == NULL || opts == NULL || opts->name == NULL ||
      opts->name[0] == '\0' || strchr(opts->name, '/') != NULL ||
      opts->argv == NULL || opts->argv[0] == NULL)
    return it_fail(it, EG_EINVAL,
                   "eg_it_spawn: need a context, a name without '/' and "
                   "argv[0]");
  rc = start(it, opts, &p);
  if (rc != EG_OK)
    return rc;
  if (out != NULL)
    *out = p;
  return wait_ready(it, p, opts);
}

int eg_it_run(eg_it_t *it,
              const eg_it_spawn_opts_t *opts,
              int timeout_ms,
              int *wstatus,
              eg_it_proc_t **out) {
  eg_it_spawn_opts_t o;
  eg_it_proc_t *p;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (opts == NULL)
    return it_fail(it, EG_EINVAL, "eg_it_run: no options");
  o = *opts;
  o.ready_file = NULL;
  o.ready_url = NULL;
  o.ready_log = NULL;
  rc = eg_it_spawn(it, &o, &p);
  if (rc != EG_OK)
    return rc;
  if (out != NULL)
    *out = p;
  rc = eg_it_proc_wait(p, timeout_ms, wstatus);
  if (rc != EG_OK)
    return rc;
  return EG_OK;
}

pid_t eg_it_proc_pid(const eg_it_proc_t *p) {
  return p->pid;
}

const char *eg_it_proc_addr(const eg_it_proc_t *p) {
  return p->addr;
}

const char *eg_it_proc_log_path(const eg_it_proc_t *p) {
  return p->log_path;
}

const char *eg_it_proc_out_path(const eg_it_proc_t *p) {
  return p->out_path;
}

int eg_it_proc_signal(eg_it_proc_t *p, int sig) {
  if (p == NULL || it_proc_poll_exit(p))
    return it_fail(p != NULL ? p->it : NULL, EG_EINVAL,
                   "cannot signal: process has exited");
  if (kill(p->pid, sig) != 0)
    return it_fail(p->it, EG_EINVAL, "kill %ld: failed", (long)p->pid);
  return EG_OK;
}

int eg_it_proc_wait(eg_it_proc_t *p, int timeout_ms, int *wstatus) {
  long long deadline;
  int timeout;

  if (p == NULL)
    return EG_EINVAL;
  timeout = eg_it_timeout_ms(timeout_ms);
  deadline = eg_it_now_ms() + timeout;
  while (!it_proc_poll_exit(p)) {
    if (eg_it_now_ms() >= deadline)
      return it_fail(p->it, EG_ETIMEDOUT,
                     "%s (pid %ld) still running after %d ms", p->name,
                     (long)p->pid, timeout);
    eg_it_sleep_ms(10);
  }
  p->status_seen = true;
  if (wstatus != NULL)
    *wstatus = p->wstatus;
  return EG_OK;
}

int eg_it_proc_stop(eg_it_proc_t *p, int timeout_ms, int *wstatus) {
  int rc;

  if (p == NULL)
    return EG_EINVAL;
  if (!it_proc_poll_exit(p))
    kill(p->pid, SIGTERM);
  rc = eg_it_proc_wait(p, timeout_ms, wstatus);
  if (rc == EG_OK)
    return EG_OK;
  kill(-p->pid, SIGKILL);
  kill(p->pid, SIGKILL);
  while (waitpid(p->pid, &p->wstatus, 0) < 0 && errno == EINTR)
    ;
  p->exited = true;
  p->status_seen = true;
  if (wstatus != NULL)
    *wstatus = p->wstatus;
  return it_fail(p->it, EG_ETIMEDOUT,
                 "%s (pid %ld) did not stop on SIGTERM within %d ms; killed",
                 p->name, (long)p->pid, eg_it_timeout_ms(timeout_ms));
}

bool eg_it_proc_is_running(eg_it_proc_t *p) {
  return p != NULL && !it_proc_poll_exit(p);
}

int eg_it_proc_read_log(eg_it_proc_t *p, char **text, size_t *len) {
  if (p == NULL)
    return EG_EINVAL;
  return eg_it_read_file(p->it, p->log_path, text, len);
}

size_t eg_it_proc_log_count(eg_it_proc_t *p, const char *needle) {
  char *text = NULL;
  size_t count = 0;
  size_t nlen;

  if (p == NULL || needle == NULL || needle[0] == '\0')
    return 0;
  if (eg_it_read_file(NULL, p->log_path, &text, NULL) != EG_OK)
    return 0;
  nlen = strlen(needle);
  for (const char *s = strstr(text, needle); s != NULL;
       s = strstr(s + nlen, needle))
    count++;
  free(text);
  return count;
}

int eg_it_proc_log_port(eg_it_proc_t *p, const char *msg) {
  char *text = NULL, needle[160];
  const char *line, *end, *at;
  long port = 0;

  if (p == NULL || msg == NULL)
    return 0;
  snprintf(needle, sizeof(needle), "\"msg\":\"%s\"", msg);
  if (eg_it_read_file(NULL, p->log_path, &text, NULL) != EG_OK)
    return 0;
  line = strstr(text, needle);
  end = line != NULL ? strchr(line, '\n') : NULL;
  at = line != NULL ? strstr(line, "\"port\":") : NULL;
  if (at != NULL && (end == NULL || at < end))
    port = strtol(at + 7, NULL, 10);
  free(text);
  return port > 0 && port < 65536 ? (int)port : 0;
}

int eg_it_proc_wait_log(eg_it_proc_t *p, const char *needle, int timeout_ms) {
  long long deadline;
  int timeout;

  if (p == NULL || needle == NULL)
    return EG_EINVAL;
  timeout = eg_it_timeout_ms(timeout_ms);
  deadline = eg_it_now_ms() + timeout;
  for (;;) {
    /* Check exit first, then the log once more, so that a line written
     * just before exiting is never missed. */
    bool exited = it_proc_poll_exit(p);
    if (eg_it_proc_log_count(p, needle) > 0)
      return EG_OK;
    if (exited)
      return it_fail(p->it, EG_EUNAVAIL, "%s exited without logging '%s'",
                     p->name, needle);
    if (eg_it_now_ms() >= deadline)
      return it_fail(p->it, EG_ETIMEDOUT, "%s did not log '%s' within %d ms",
                     p->name, needle, timeout);
    eg_it_sleep_ms(READY_POLL_MS);
  }
}

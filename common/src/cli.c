/* Plain-text messages for the command-line tools. The state is set once at
 * start (like the logger's) and only read afterwards, so librdkafka's
 * threads may write messages too. */
#include "eg/cli.h"
#include "eg/error.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"
#include "eg/process.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROG_MAX 64

static struct {
  char prog[PROG_MAX];
  int verbosity;
  int fd;
  bool tty;
  /* Progress state: written by the progress calls only (one thread). */
  long long progress_last_ms;
} cli = {"envgate", 0, 2, false, 0};

/* Read by messages from any thread: a drawn progress line is cleared first. */
static atomic_bool progress_drawn;

void eg_cli_init(const char *prog, int verbosity, int fd, bool progress_tty) {
  if (prog != NULL)
    snprintf(cli.prog, sizeof(cli.prog), "%s", prog);
  cli.verbosity = verbosity < 0 ? 0 : verbosity;
  cli.fd = fd;
  cli.tty = progress_tty;
  atomic_store(&progress_drawn, false);
  cli.progress_last_ms = 0;
}

int eg_cli_verbosity(void) {
  return cli.verbosity;
}

static void write_all(const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(cli.fd, buf, len);
    if (n <= 0)
      return;
    buf += n;
    len -= (size_t)n;
  }
}

/* Formats "<prog>: <tag><text>\n" and writes it with one write(2). */
static void emit(const char *tag, const char *fmt, va_list ap) {
  char line[EG_CLI_LINE_MAX];
  size_t len, start;
  int n;

  n = snprintf(line, sizeof(line), "%s%s: %s",
               atomic_load(&progress_drawn) ? "\r\033[K" : "", cli.prog, tag);
  if (n < 0)
    return;
  start = (size_t)n;
  n = vsnprintf(line + start, sizeof(line) - start - 1, fmt, ap);
  if (n < 0)
    return;
  len = start + (size_t)n;
  if (len > sizeof(line) - 2)
    len = sizeof(line) - 2;
  /* Messages carry values from the topics: keep each one a single line. */
  for (size_t i = start; i < len; i++)
    if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F)
      line[i] = '?';
  line[len++] = '\n';
  write_all(line, len);
}

void eg_cli_error(const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  emit("error: ", fmt, ap);
  va_end(ap);
}

void eg_cli_warn(const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  emit("warning: ", fmt, ap);
  va_end(ap);
}

void eg_cli_info(const char *fmt, ...) {
  va_list ap;

  if (cli.verbosity < 1)
    return;
  va_start(ap, fmt);
  emit("", fmt, ap);
  va_end(ap);
}

void eg_cli_debug(const char *fmt, ...) {
  va_list ap;

  if (cli.verbosity < 2)
    return;
  va_start(ap, fmt);
  emit("debug: ", fmt, ap);
  va_end(ap);
}

int eg_cli_usage_error(const char *fmt, ...) {
  char text[EG_CLI_LINE_MAX - 128];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  eg_cli_error("%s (see --help)", text);
  return EG_EXIT_USAGE;
}

int eg_cli_common_option(
    int c, char **argv, const char *prog, const char *usage, int *verbosity) {
  switch (c) {
  case 'v':
    (*verbosity)++;
    return -1;
  case 'h':
    fputs(usage, stdout);
    return EG_EXIT_OK;
  case 'V':
    printf("%s %s\n", prog, EG_VERSION);
    return EG_EXIT_OK;
  default:
    return eg_cli_usage_error("unknown or incomplete option '%s'",
                              argv[optind - 1]);
  }
}

int eg_cli_timeout_option(const char *arg,
                          int64_t max_ms,
                          const char *max_text,
                          int64_t *out) {
  if (eg_timearg_parse_duration(arg, out) != EG_OK || *out < 100 ||
      *out > max_ms)
    return eg_cli_usage_error(
        "--timeout %s: expected a duration between 100ms and %s", arg,
        max_text);
  return EG_OK;
}

int eg_cli_start(const char *prog,
                 int verbosity,
                 eg_role_t role,
                 eg_config_t *cfg) {
  eg_cli_init(prog, verbosity, 2, isatty(2) == 1);
  if (eg_process_install_signals() != EG_OK) {
    eg_cli_error("cannot install signal handlers");
    return EG_EXIT_USAGE;
  }
  return eg_cli_load_config(cfg, role) == EG_OK ? EG_OK : EG_EXIT_USAGE;
}

static void report_problem(const char *line, void *ud) {
  (void)ud;
  eg_cli_error("%s", line);
}

int eg_cli_load_config(eg_config_t *cfg, eg_role_t role) {
  int rc = eg_config_load(cfg, role, NULL, NULL, report_problem, NULL);

  if (rc == EG_ENOMEM)
    eg_cli_error("configuration: out of memory");
  if (rc != EG_OK)
    return EG_EXIT_USAGE;
  if (cfg->log_level == EG_LOG_DEBUG && cli.verbosity < 2)
    cli.verbosity = 2;
  return EG_OK;
}

static void on_kafka_log(const rd_kafka_t *rk,
                         int level,
                         const char *fac,
                         const char *buf) {
  (void)rk;
  (void)level;
  eg_cli_debug("kafka: %s: %s", fac, buf);
}

static void
on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)rk;
  (void)opaque;
  if (err == RD_KAFKA_RESP_ERR__FATAL)
    eg_cli_error("kafka: %s", reason);
  else
    eg_cli_info("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
                reason);
}

void eg_cli_kafka_conf(rd_kafka_conf_t *conf) {
  if (conf == NULL)
    return;
  rd_kafka_conf_set_log_cb(conf, on_kafka_log);
  rd_kafka_conf_set_error_cb(conf, on_kafka_error);
}

bool eg_cli_progress_enabled(void) {
  return cli.tty || cli.verbosity >= 1;
}

void eg_cli_progress(const char *what, uint64_t done, uint64_t total) {
  char line[512];
  long long now;
  int n;

  if (!eg_cli_progress_enabled() || what == NULL)
    return;
  now = (long long)eg_time_mono_ms();
  if (cli.progress_last_ms != 0 &&
      now - cli.progress_last_ms < (cli.tty ? 200 : 5000))
    return;
  cli.progress_last_ms = now;
  if (total > 0)
    n = snprintf(line, sizeof(line), "%s%s: %s: %llu/%llu (%llu%%)%s",
                 cli.tty ? "\r\033[K" : "", cli.prog, what,
                 (unsigned long long)done, (unsigned long long)total,
                 (unsigned long long)(done >= total ? 100 : done * 100 / total),
                 cli.tty ? "" : "\n");
  else
    n = snprintf(line, sizeof(line), "%s%s: %s: %llu%s",
                 cli.tty ? "\r\033[K" : "", cli.prog, what,
                 (unsigned long long)done, cli.tty ? "" : "\n");
  if (n < 0)
    return;
  if ((size_t)n >= sizeof(line))
    n = (int)sizeof(line) - 1;
  write_all(line, (size_t)n);
  atomic_store(&progress_drawn, cli.tty);
}

void eg_cli_progress_end(void) {
  if (atomic_exchange(&progress_drawn, false))
    write_all("\r\033[K", 4);
  cli.progress_last_ms = 0;
}

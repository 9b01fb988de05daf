/* Messages of the command-line tools (envgate-audit, -redrive, -redeliver):
 * plain text on stderr, "<prog>: error: ..." (STYLE.md section 5), more
 * detail with -v, a progress indicator for long runs, and configuration
 * loading that reports each problem on its own line. Each message is one
 * write(2), so lines from librdkafka's threads never interleave. */
#ifndef EG_CLI_H
#define EG_CLI_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "eg/config.h"

/* Longest message line written, newline included; longer text is cut. */
#define EG_CLI_LINE_MAX 4096

/* Sets the program name (copied, at most 63 bytes), the verbosity (0:
 * errors and warnings; 1 (-v): also info and progress lines; 2 (-vv): also
 * debug, librdkafka's own logs included) and the fd messages go to (2 for
 * stderr; tests pass a pipe or file). progress_tty says whether the
 * progress indicator may redraw one line in place (pass isatty(fd)). Call
 * once at start, before other threads run. */
void eg_cli_init(const char *prog, int verbosity, int fd, bool progress_tty);

/* Current verbosity. */
int eg_cli_verbosity(void);

/* "<prog>: error: <text>", "<prog>: warning: <text>", "<prog>: <text>"
 * (info, verbosity >= 1) and "<prog>: debug: <text>" (verbosity >= 2).
 * printf-style; control characters in the result become '?'. Thread-safe. */
void eg_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void eg_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void eg_cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void eg_cli_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes "<prog>: error: <text> (see --help)".
 * @returns EG_EXIT_USAGE, for "return eg_cli_usage_error(...)". */
int eg_cli_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Handles the getopt cases every tool shares: 'v' (-v, more output), 'h'
 * (--help: prints usage), 'V' (--version) and anything else (unknown or
 * incomplete option: a usage error naming argv[optind - 1]).
 * @returns -1 when parsing goes on (after -v), else the exit code. */
int eg_cli_common_option(
    int c, char **argv, const char *prog, const char *usage, int *verbosity);

/* Parses a --timeout value: a duration (eg_timearg) from 100 ms to max_ms
 * (max_text says it to the user, e.g. "1h").
 * @returns EG_OK, or EG_EXIT_USAGE after writing the usage error. */
int eg_cli_timeout_option(const char *arg,
                          int64_t max_ms,
                          const char *max_text,
                          int64_t *out);

/* What every tool does once its arguments are parsed: sets the verbosity,
 * installs the stop-flag signal handlers and loads the configuration for
 * role (see eg_cli_load_config()).
 * @returns EG_OK (free cfg with eg_config_cleanup()) or EG_EXIT_USAGE after
 * writing what is wrong. */
int eg_cli_start(const char *prog,
                 int verbosity,
                 eg_role_t role,
                 eg_config_t *cfg);

/* Loads the configuration for role from the environment (see
 * eg_config_load()), writing each problem as "<prog>: error: <problem>".
 * ENVGATE_LOG_LEVEL=debug raises the verbosity to 2.
 * @returns EG_OK (free cfg with eg_config_cleanup()) or EG_EXIT_USAGE. */
int eg_cli_load_config(eg_config_t *cfg, eg_role_t role);

/* Installs eg_cli's plain-text log and error callbacks on a librdkafka
 * configuration (replacing the JSON-lines ones of eg_kafka_conf_new()):
 * librdkafka's logs are shown at verbosity 2, its errors at verbosity 1,
 * fatal errors always. NULL is a no-op. */
void eg_cli_kafka_conf(rd_kafka_conf_t *conf);

/* True when progress is shown: on a terminal (progress_tty) or with -v. */
bool eg_cli_progress_enabled(void);

/* Reports progress of a long step ("reading envgate.events"): done out of
 * total (total 0: unknown). On a terminal the line is redrawn in place at
 * most every 200 ms; otherwise, with -v, one line every 5 s. Does nothing
 * when progress is disabled. Call from one thread only. */
void eg_cli_progress(const char *what, uint64_t done, uint64_t total);

/* Ends the progress line: clears it on a terminal. Safe to call when no
 * progress was shown. */
void eg_cli_progress_end(void);

#endif /* EG_CLI_H */

/* What every envgate binary does at start and stop: standard arguments,
 * configuration with every problem reported, and a stop flag set by
 * SIGTERM/SIGINT. */
#ifndef EG_PROCESS_H
#define EG_PROCESS_H

#include <stdbool.h>

#include "eg/config.h"

/* Exit codes shared by every binary. */
#define EG_EXIT_OK      0
#define EG_EXIT_FAILURE 1
#define EG_EXIT_USAGE   2

/* Installs SIGTERM and SIGINT handlers that only set the stop flag, and
 * ignores SIGPIPE (a peer that hangs up must not kill the process).
 * @returns EG_OK or EG_EIO. */
int eg_process_install_signals(void);

/* True once SIGTERM/SIGINT arrived or eg_process_request_stop() was called.
 * Async-signal-safe to read; loops poll it every 100 ms or less. */
bool eg_process_stop_requested(void);

/* Sets the stop flag from inside the program. */
void eg_process_request_stop(void);

/* Handles "--help" and "--version" when they are the only argument. usage is
 * the full help text. @returns -1 when the program should go on, else the
 * exit code (0 after help/version, EG_EXIT_USAGE for other arguments when
 * allow_args is false, with one line on stderr). */
int eg_process_std_args(int argc,
                        char **argv,
                        const char *name,
                        const char *usage,
                        bool allow_args);

/* Loads the configuration for role, logging each problem as one error line
 * ("invalid configuration", field "problem"), then sets the log level from
 * it and logs the effective configuration (secrets redacted). Webhook
 * secrets are registered with the logger's redaction.
 * @returns EG_OK, or EG_EXIT_USAGE when the caller should exit 2. */
int eg_process_load_config(eg_config_t *cfg, eg_role_t role, const char *svc);

#endif /* EG_PROCESS_H */

/* Process start-up and stop helpers shared by the binaries. */
#include "eg/process.h"
#include "eg/error.h"
#include "eg/log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* The one mutable global the style allows: written by signal handlers. */
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

int eg_process_install_signals(void) {
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
    return EG_EIO;
  sa.sa_handler = SIG_IGN;
  if (sigaction(SIGPIPE, &sa, NULL) != 0)
    return EG_EIO;
  return EG_OK;
}

bool eg_process_stop_requested(void) {
  return stop_flag != 0;
}

void eg_process_request_stop(void) {
  stop_flag = 1;
}

int eg_process_std_args(int argc,
                        char **argv,
                        const char *name,
                        const char *usage,
                        bool allow_args) {
  if (argc == 2 && strcmp(argv[1], "--help") == 0) {
    fputs(usage, stdout);
    return EG_EXIT_OK;
  }
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("%s %s\n", name, EG_VERSION);
    return EG_EXIT_OK;
  }
  if (argc > 1 && !allow_args) {
    fprintf(stderr, "%s: error: unexpected argument '%s' (see --help)\n", name,
            argv[1]);
    return EG_EXIT_USAGE;
  }
  return -1;
}

static void report_problem(const char *line, void *ud) {
  (void)ud;
  eg_log(EG_LOG_ERROR, "invalid configuration", EG_LSTR("problem", line));
}

int eg_process_load_config(eg_config_t *cfg, eg_role_t role, const char *svc) {
  int rc;

  eg_log_init(svc, EG_LOG_INFO, 2);
  rc = eg_config_load(cfg, role, NULL, NULL, report_problem, NULL);
  if (rc == EG_ENOMEM)
    eg_log(EG_LOG_ERROR, "invalid configuration",
           EG_LSTR("problem", "out of memory"));
  if (rc != EG_OK)
    return EG_EXIT_USAGE;
  eg_log_init(NULL, cfg->log_level, -1);
  for (size_t i = 0; i < cfg->nwebhook_secrets; i++)
    eg_log_add_secret(cfg->webhook_secrets[i]);
  eg_config_log(cfg, role);
  return EG_OK;
}

/* Configuration: every binary reads its environment once, through one table
 * that mirrors the contract, into a typed struct that is then passed down as
 * a const pointer. Every problem is reported, one line each. */
#ifndef EG_CONFIG_H
#define EG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "eg/log.h"

/* Which binary is loading: decides which variables are read and required. */
typedef enum eg_role {
  EG_ROLE_INGRESS = 1 << 0,
  EG_ROLE_WORKER = 1 << 1,
  EG_ROLE_AUDIT = 1 << 2,
  EG_ROLE_REDRIVE = 1 << 3,
  EG_ROLE_REDELIVER = 1 << 4
} eg_role_t;

typedef struct eg_config_s {
  char *listen;           /* ENVGATE_LISTEN */
  char *metrics_listen;   /* ENVGATE_METRICS_LISTEN */
  char **webhook_secrets; /* ENVGATE_WEBHOOK_SECRET[_FILE], one per line */
  size_t nwebhook_secrets;
  char *kafka_brokers;     /* ENVGATE_KAFKA_BROKERS */
  char *kafka_config_file; /* ENVGATE_KAFKA_CONFIG_FILE, NULL if unset */
  char *topic_prefix;      /* ENVGATE_TOPIC_PREFIX */
  char *redis_url;         /* ENVGATE_REDIS_URL[_FILE] (may hold a password) */
  char *github_api_url;    /* ENVGATE_GITHUB_API_URL, no trailing '/' */
  char *app_id;            /* ENVGATE_APP_ID */
  char *app_private_key_file;   /* ENVGATE_APP_PRIVATE_KEY_FILE */
  char *policy_file;            /* ENVGATE_POLICY_FILE */
  char *token_key_file;         /* ENVGATE_TOKEN_KEY_FILE, NULL if unset */
  uint64_t worker_inflight;     /* ENVGATE_WORKER_INFLIGHT */
  uint64_t github_concurrency;  /* ENVGATE_GITHUB_CONCURRENCY */
  uint64_t max_attempts;        /* ENVGATE_MAX_ATTEMPTS */
  uint64_t max_body_bytes;      /* ENVGATE_MAX_BODY_BYTES */
  uint64_t enqueue_timeout_ms;  /* ENVGATE_ENQUEUE_TIMEOUT_MS */
  uint64_t shutdown_timeout_ms; /* ENVGATE_SHUTDOWN_TIMEOUT_MS */
  eg_log_level_t log_level;     /* ENVGATE_LOG_LEVEL */
} eg_config_t;

/* Looks a variable up; NULL or "" means unset. ud is passed through. */
typedef const char *(*eg_config_getenv_fn)(const char *name, void *ud);

/* Receives one problem line, e.g. "ENVGATE_MAX_ATTEMPTS=0: must be between
 * 1 and 100". Called once per problem, before eg_config_load returns. */
typedef void (*eg_config_report_fn)(const char *line, void *ud);

/* Fills cfg (caller-allocated) for role. getenv_fn NULL uses getenv(3).
 * Secrets come from NAME, or from the file named by NAME_FILE (not both).
 * On failure every problem has been reported and cfg holds nothing to free.
 * @returns EG_OK; EG_EINVAL when any problem was found; EG_ENOMEM.
 * Free with eg_config_cleanup(). */
int eg_config_load(eg_config_t *cfg,
                   eg_role_t role,
                   eg_config_getenv_fn getenv_fn,
                   void *getenv_ud,
                   eg_config_report_fn report,
                   void *report_ud);

/* Logs the effective configuration once, secrets redacted. */
void eg_config_log(const eg_config_t *cfg, eg_role_t role);

/* Frees every string, wiping secrets first. NULL is a no-op. */
void eg_config_cleanup(eg_config_t *cfg);

/* Builds "<prefix><name>" (e.g. "envgate.events") into out.
 * @returns EG_OK or EG_ERANGE when out_len is too small. */
int eg_config_topic(const eg_config_t *cfg,
                    const char *name,
                    char *out,
                    size_t out_len);

#endif /* EG_CONFIG_H */

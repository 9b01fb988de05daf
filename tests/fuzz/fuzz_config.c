/* libFuzzer target for configuration values: eg_config_load() over a fuzzed
 * environment, and each value through the checked parsers behind it (and
 * the operator tools' time arguments). Input: one byte choosing the roles,
 * then the values of the variables below in order, separated by NUL bytes
 * (an empty value is unset). The *_FILE values are file contents, handed
 * to the loader as /proc/self/fd paths of memory files.
 * Invariants: an accepted configuration holds only what the contract
 * allows (every value re-checked here with the parser the service uses it
 * with, e.g. the Redis URL with eg_redis_url_parse()); a refused one was
 * reported in lines without control characters that never echo a secret's
 * value, and holds nothing; every parser's answer is consistent with its
 * documentation. Build and run: tools/fuzz.sh fuzz_config. */
#include "eg/config.h"
#include "eg/error.h"
#include "eg/log.h"
#include "eg/parse.h"
#include "eg/redis.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

static const char *const names[] = {"ENVGATE_LISTEN",
                                    "ENVGATE_METRICS_LISTEN",
                                    "ENVGATE_WEBHOOK_SECRET",
                                    "ENVGATE_WEBHOOK_SECRET_FILE",
                                    "ENVGATE_KAFKA_BROKERS",
                                    "ENVGATE_KAFKA_CONFIG_FILE",
                                    "ENVGATE_TOPIC_PREFIX",
                                    "ENVGATE_REDIS_URL",
                                    "ENVGATE_REDIS_URL_FILE",
                                    "ENVGATE_GITHUB_API_URL",
                                    "ENVGATE_APP_ID",
                                    "ENVGATE_APP_PRIVATE_KEY_FILE",
                                    "ENVGATE_POLICY_FILE",
                                    "ENVGATE_TOKEN_KEY_FILE",
                                    "ENVGATE_WORKER_INFLIGHT",
                                    "ENVGATE_GITHUB_CONCURRENCY",
                                    "ENVGATE_MAX_ATTEMPTS",
                                    "ENVGATE_MAX_BODY_BYTES",
                                    "ENVGATE_ENQUEUE_TIMEOUT_MS",
                                    "ENVGATE_SHUTDOWN_TIMEOUT_MS",
                                    "ENVGATE_LOG_LEVEL"};
#define NNAMES      (sizeof(names) / sizeof(names[0]))
#define SECRET_FILE 3
#define REDIS_FILE  8

struct env {
  char *value[NNAMES];
  char path[2][64]; /* of the secret files */
};

static const char *fuzz_getenv(const char *name, void *ud) {
  struct env *env = ud;

  for (size_t i = 0; i < NNAMES; i++) {
    if (strcmp(names[i], name) != 0)
      continue;
    if (env->value[i] == NULL)
      return NULL;
    if (i == SECRET_FILE)
      return env->path[0];
    if (i == REDIS_FILE)
      return env->path[1];
    return env->value[i];
  }
  return NULL;
}

static void on_report(const char *line, void *ud) {
  size_t *n = ud;

  (*n)++;
  for (const char *p = line; *p != '\0'; p++)
    CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
  /* "NAME=value: ..." is the form that echoes a value: never for secrets. */
  CHECK(strncmp(line, "ENVGATE_WEBHOOK_SECRET=", 23) != 0);
  CHECK(strncmp(line, "ENVGATE_REDIS_URL=", 18) != 0);
}

/* Writes text into a memory file; @returns its fd (kept open) or -1. */
static int memfile(int *fd, const char *text) {
  size_t n = strlen(text);

  if (*fd < 0)
    *fd = memfd_create("fuzz_config", 0);
  if (*fd < 0 || ftruncate(*fd, 0) != 0 ||
      pwrite(*fd, text, n, 0) != (ssize_t)n)
    return -1;
  return *fd;
}

static void check_listen(const char *v) {
  char host[256];
  uint16_t port;

  CHECK(v != NULL && eg_parse_listen(v, host, sizeof(host), &port) == EG_OK);
}

static void check_ok(const eg_config_t *cfg, unsigned role) {
  char err[EG_ERRBUF_LEN];
  char topic[256];

  if (role & EG_ROLE_INGRESS) {
    check_listen(cfg->listen);
    CHECK(cfg->max_body_bytes >= 1024 && cfg->max_body_bytes <= 26214400);
    CHECK(cfg->enqueue_timeout_ms >= 100 && cfg->enqueue_timeout_ms <= 9000);
  }
  if (role & EG_ROLE_WORKER) {
    check_listen(cfg->metrics_listen);
    CHECK(cfg->policy_file != NULL);
    CHECK(cfg->worker_inflight >= 1 && cfg->worker_inflight <= 4096);
    CHECK(cfg->max_attempts >= 1 && cfg->max_attempts <= 100);
  }
  if (role & (EG_ROLE_INGRESS | EG_ROLE_AUDIT | EG_ROLE_WORKER)) {
    CHECK(cfg->nwebhook_secrets >= 1);
    for (size_t i = 0; i < cfg->nwebhook_secrets; i++) {
      const char *s = cfg->webhook_secrets[i];
      size_t n = strlen(s);

      CHECK(n >= 16 && strchr(s, '\n') == NULL);
      CHECK(s[n - 1] != '\r' && s[n - 1] != ' ' && s[n - 1] != '\t');
    }
  }
  if (role &
      (EG_ROLE_INGRESS | EG_ROLE_WORKER | EG_ROLE_AUDIT | EG_ROLE_REDRIVE)) {
    CHECK(cfg->kafka_brokers != NULL && cfg->topic_prefix != NULL);
    /* Every topic name is one Kafka accepts: [A-Za-z0-9._-], <= 249. */
    CHECK(eg_config_topic(cfg, "decisions", topic, sizeof(topic)) == EG_OK);
    CHECK(strlen(topic) <= 249);
    CHECK(strspn(topic, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-") == strlen(topic));
  }
  if (role & (EG_ROLE_WORKER | EG_ROLE_REDELIVER)) {
    eg_redis_url_t url;

    CHECK(cfg->redis_url != NULL);
    /* Accepted at start means usable by the worker's Redis pool. */
    CHECK(eg_redis_url_parse(cfg->redis_url, &url, err, sizeof(err)) == EG_OK);
    CHECK(cfg->app_id != NULL && cfg->app_private_key_file != NULL);
  }
  if (role & (EG_ROLE_INGRESS | EG_ROLE_WORKER | EG_ROLE_REDELIVER)) {
    size_t n;

    CHECK(cfg->github_api_url != NULL);
    n = strlen(cfg->github_api_url);
    CHECK(n > 0 && cfg->github_api_url[n - 1] != '/');
    CHECK(eg_parse_base_url(cfg->github_api_url, err, sizeof(err)) == EG_OK);
  }
  CHECK(cfg->shutdown_timeout_ms >= 100 && cfg->shutdown_timeout_ms <= 600000);
  CHECK(cfg->log_level >= EG_LOG_DEBUG && cfg->log_level <= EG_LOG_ERROR);
}

static void check_refused(const eg_config_t *cfg) {
  const char *const *strs[] = {(const char *const *)&cfg->listen,
                               (const char *const *)&cfg->metrics_listen,
                               (const char *const *)&cfg->kafka_brokers,
                               (const char *const *)&cfg->kafka_config_file,
                               (const char *const *)&cfg->topic_prefix,
                               (const char *const *)&cfg->redis_url,
                               (const char *const *)&cfg->github_api_url,
                               (const char *const *)&cfg->app_id,
                               (const char *const *)&cfg->app_private_key_file,
                               (const char *const *)&cfg->policy_file,
                               (const char *const *)&cfg->token_key_file};

  CHECK(cfg->webhook_secrets == NULL && cfg->nwebhook_secrets == 0);
  for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
    CHECK(*strs[i] == NULL);
}

/* Each value through the parsers, with their documented answers. */
static void parse_value(const char *v) {
  char host[64];
  char err[EG_ERRBUF_LEN];
  char buf[64];
  uint16_t port;
  uint64_t u;
  int64_t ms, again;
  eg_log_level_t level = EG_LOG_INFO;
  eg_redis_url_t url;
  int rc;

  rc = eg_parse_u64(v, 0, UINT64_MAX, &u);
  CHECK(rc == EG_OK || rc == EG_EINVAL || rc == EG_ERANGE);
  if (rc == EG_OK) {
    /* The digits, leading zeros aside, are the value. */
    const char *d = v + strspn(v, "0");

    snprintf(buf, sizeof(buf), "%" PRIu64, u);
    CHECK(strcmp(d[0] != '\0' ? d : "0", buf) == 0);
    CHECK(eg_parse_u64(v, u + (u < UINT64_MAX), UINT64_MAX, &u) ==
          (u < UINT64_MAX ? EG_ERANGE : EG_OK));
  }
  rc = eg_parse_hostport(v, host, sizeof(host), &port);
  if (rc == EG_OK)
    CHECK(host[0] != '\0' && strlen(host) < sizeof(host) && port >= 1);
  rc = eg_parse_listen(v, host, sizeof(host), &port);
  if (rc == EG_OK)
    CHECK(host[0] != '\0');
  (void)eg_is_loopback_host(v);
  err[0] = '\0';
  rc = eg_parse_base_url(v, err, sizeof(err));
  if (rc == EG_OK) {
    CHECK(strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0);
    CHECK(strpbrk(v, "?#@ \t\r\n") == NULL);
  } else {
    CHECK(rc == EG_EINVAL && err[0] != '\0');
  }
  rc = eg_redis_url_parse(v, &url, err, sizeof(err));
  if (rc == EG_OK)
    CHECK(url.host[0] != '\0' && url.port >= 1 && url.db >= 0);
  else
    CHECK(rc == EG_EINVAL);
  if (eg_log_parse_level(v, &level) == EG_OK)
    CHECK(level >= EG_LOG_DEBUG && level <= EG_LOG_ERROR);

  /* Durations and times: what is accepted formats back to the same. */
  rc = eg_timearg_parse_duration(v, &ms);
  if (rc == EG_OK) {
    CHECK(ms >= 0 && ms <= EG_TIMEARG_MAX_MS);
    CHECK(eg_timearg_format_duration(ms, buf, sizeof(buf)) == EG_OK);
    CHECK(eg_timearg_parse_duration(buf, &again) == EG_OK && again == ms);
  } else {
    CHECK(ms == 0);
  }
  rc = eg_timearg_parse_time(v, 1700000000000LL, &ms);
  if (rc == EG_OK)
    CHECK(ms >= 0 && ms <= EG_TIMEARG_MAX_MS);
  else
    CHECK(ms == 0);
  if (eg_time_parse_rfc3339(v, &ms) == EG_OK &&
      eg_time_rfc3339(ms, buf, sizeof(buf)) == EG_OK) {
    CHECK(eg_time_parse_rfc3339(buf, &again) == EG_OK);
    CHECK(again == ms);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int fds[2] = {-1, -1};
  struct env env;
  eg_config_t cfg;
  unsigned role;
  size_t nreports = 0;
  size_t off = 1;
  char *copy;
  int rc;

  if (size == 0)
    return 0;
  role = (unsigned)(data[0] % 31) + 1; /* any non-empty set of roles */
  /* A NUL-terminated copy; the fields point into it. */
  copy = malloc(size);
  if (copy == NULL)
    return 0;
  memcpy(copy, data + 1, size - 1);
  copy[size - 1] = '\0';
  memset(&env, 0, sizeof(env));
  for (size_t i = 0; i < NNAMES && off <= size - 1; i++) {
    char *v = copy + (off - 1);
    size_t n = strlen(v);

    env.value[i] = n > 0 ? v : NULL;
    off += n + 1;
  }
  for (size_t i = 0; i < NNAMES; i++)
    if (env.value[i] != NULL)
      parse_value(env.value[i]);
  if (env.value[SECRET_FILE] != NULL) {
    if (memfile(&fds[0], env.value[SECRET_FILE]) < 0)
      abort();
    snprintf(env.path[0], sizeof(env.path[0]), "/proc/self/fd/%d", fds[0]);
  }
  if (env.value[REDIS_FILE] != NULL) {
    if (memfile(&fds[1], env.value[REDIS_FILE]) < 0)
      abort();
    snprintf(env.path[1], sizeof(env.path[1]), "/proc/self/fd/%d", fds[1]);
  }

  rc = eg_config_load(&cfg, (eg_role_t)role, fuzz_getenv, &env, on_report,
                      &nreports);
  if (rc == EG_OK) {
    CHECK(nreports == 0);
    check_ok(&cfg, role);
    eg_config_cleanup(&cfg);
  } else {
    CHECK(rc == EG_EINVAL || rc == EG_ENOMEM);
    CHECK(rc != EG_EINVAL || nreports > 0);
    check_refused(&cfg);
  }
  free(copy);
  return 0;
}

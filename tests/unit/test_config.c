/* Unit tests for the configuration loader, driven by an injected getenv
 * (a table of name/value pairs) and temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/config.h"
#include "eg/error.h"
#include "eg/log.h"

#include "oom_inject.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_A  "whsec-aaaaaaaaaaaaaaaa-0001"
#define SECRET_B  "whsec-bbbbbbbbbbbbbbbb-0002"
#define REDIS_PW  "hunter2-redis-password"
#define MAX_ENV   32
#define MAX_LINES 32

/* Temporary files shared by the tests. */
static char dir[64];
static char key_file[128];    /* stands for the App private key */
static char policy_file[128]; /* stands for the policy */
static char path_buf[8][128];

struct env {
  const char *name[MAX_ENV];
  const char *value[MAX_ENV];
  size_t n;
};

struct report {
  char lines[MAX_LINES][512];
  size_t n;
};

static const char *env_get(const char *name, void *ud) {
  const struct env *env = ud;

  for (size_t i = 0; i < env->n; i++)
    if (strcmp(env->name[i], name) == 0)
      return env->value[i];
  return NULL;
}

static void env_set(struct env *env, const char *name, const char *value) {
  for (size_t i = 0; i < env->n; i++) {
    if (strcmp(env->name[i], name) == 0) {
      env->value[i] = value;
      return;
    }
  }
  assert_true(env->n < MAX_ENV);
  env->name[env->n] = name;
  env->value[env->n] = value;
  env->n++;
}

static void collect(const char *line, void *ud) {
  struct report *rep = ud;

  assert_non_null(line);
  assert_null(strchr(line, '\n'));
  assert_true(rep->n < MAX_LINES);
  snprintf(rep->lines[rep->n], sizeof(rep->lines[0]), "%s", line);
  rep->n++;
}

/* Index of the report line holding both substrings, or fails. */
static size_t
find_line(const struct report *rep, const char *a, const char *b) {
  for (size_t i = 0; i < rep->n; i++)
    if (strstr(rep->lines[i], a) != NULL && strstr(rep->lines[i], b) != NULL)
      return i;
  for (size_t i = 0; i < rep->n; i++)
    print_error("report line %zu: %s\n", i, rep->lines[i]);
  fail_msg("no report line holds \"%s\" and \"%s\"", a, b);
  return 0;
}

static void assert_no_secret(const struct report *rep) {
  for (size_t i = 0; i < rep->n; i++) {
    assert_null(strstr(rep->lines[i], REDIS_PW));
    assert_null(strstr(rep->lines[i], "whsec-"));
  }
}

static void write_file(const char *path, const char *text, size_t len) {
  FILE *fp = fopen(path, "wb");

  assert_non_null(fp);
  assert_int_equal(fwrite(text, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

/* Writes text to a new temporary file; the path stays valid for the test. */
static const char *temp_file(int slot, const char *text) {
  snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/f%d", dir, slot);
  write_file(path_buf[slot], text, strlen(text));
  return path_buf[slot];
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/eg-test-config-XXXXXX");
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(key_file, sizeof(key_file), "%s/app.pem", dir);
  snprintf(policy_file, sizeof(policy_file), "%s/policy.json", dir);
  write_file(key_file, "-----BEGIN PRIVATE KEY-----\n", 28);
  write_file(policy_file, "{}\n", 3);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(key_file);
  unlink(policy_file);
  for (int i = 0; i < 8; i++) {
    char path[160];
    snprintf(path, sizeof(path), "%s/f%d", dir, i);
    unlink(path);
  }
  rmdir(dir);
  return 0;
}

/* The smallest environment each role accepts. */
static void base_env(struct env *env, eg_role_t role) {
  memset(env, 0, sizeof(*env));
  if (role & (EG_ROLE_INGRESS | EG_ROLE_WORKER | EG_ROLE_AUDIT))
    env_set(env, "ENVGATE_WEBHOOK_SECRET", SECRET_A);
  if (role & (EG_ROLE_WORKER | EG_ROLE_REDELIVER)) {
    env_set(env, "ENVGATE_APP_ID", "123456");
    env_set(env, "ENVGATE_APP_PRIVATE_KEY_FILE", key_file);
  }
  if (role & EG_ROLE_WORKER)
    env_set(env, "ENVGATE_POLICY_FILE", policy_file);
}

static int
load(eg_config_t *cfg, eg_role_t role, struct env *env, struct report *rep) {
  memset(rep, 0, sizeof(*rep));
  return eg_config_load(cfg, role, env_get, env, collect, rep);
}

static void assert_empty(const eg_config_t *cfg) {
  assert_null(cfg->listen);
  assert_null(cfg->metrics_listen);
  assert_null(cfg->webhook_secrets);
  assert_int_equal(cfg->nwebhook_secrets, 0);
  assert_null(cfg->kafka_brokers);
  assert_null(cfg->kafka_config_file);
  assert_null(cfg->topic_prefix);
  assert_null(cfg->redis_url);
  assert_null(cfg->github_api_url);
  assert_null(cfg->app_id);
  assert_null(cfg->app_private_key_file);
  assert_null(cfg->policy_file);
  assert_null(cfg->token_key_file);
}

static void assert_str_or_null(const char *got, const char *want) {
  if (want == NULL)
    assert_null(got);
  else {
    assert_non_null(got);
    assert_string_equal(got, want);
  }
}

static void test_defaults(void **state) {
  static const struct {
    eg_role_t role;
    const char *listen, *metrics_listen, *kafka, *prefix, *redis, *github;
    uint64_t inflight, concurrency, attempts, body, enqueue;
    size_t nsecrets;
  } cases[] = {
      {EG_ROLE_INGRESS, "0.0.0.0:8080", NULL, "127.0.0.1:9092", "envgate.",
       NULL, "https://api.github.com", 0, 0, 0, 1048576, 5000, 1},
      {EG_ROLE_WORKER, NULL, "0.0.0.0:9090", "127.0.0.1:9092", "envgate.",
       "redis://127.0.0.1:6379/0", "https://api.github.com", 64, 24, 8, 0, 0,
       1},
      {EG_ROLE_AUDIT, NULL, NULL, "127.0.0.1:9092", "envgate.", NULL, NULL, 0,
       0, 0, 0, 0, 1},
      {EG_ROLE_REDRIVE, NULL, NULL, "127.0.0.1:9092", "envgate.", NULL, NULL, 0,
       0, 0, 0, 0, 0},
      {EG_ROLE_REDELIVER, NULL, NULL, NULL, NULL, "redis://127.0.0.1:6379/0",
       "https://api.github.com", 0, 0, 0, 0, 0, 0},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    eg_role_t role = cases[i].role;
    struct env env;
    struct report rep;
    eg_config_t cfg;

    base_env(&env, role);
    assert_int_equal(load(&cfg, role, &env, &rep), EG_OK);
    assert_int_equal(rep.n, 0);
    assert_str_or_null(cfg.listen, cases[i].listen);
    assert_str_or_null(cfg.metrics_listen, cases[i].metrics_listen);
    assert_str_or_null(cfg.kafka_brokers, cases[i].kafka);
    assert_str_or_null(cfg.topic_prefix, cases[i].prefix);
    assert_str_or_null(cfg.redis_url, cases[i].redis);
    assert_str_or_null(cfg.github_api_url, cases[i].github);
    assert_int_equal(cfg.worker_inflight, cases[i].inflight);
    assert_int_equal(cfg.github_concurrency, cases[i].concurrency);
    assert_int_equal(cfg.max_attempts, cases[i].attempts);
    assert_int_equal(cfg.max_body_bytes, cases[i].body);
    assert_int_equal(cfg.enqueue_timeout_ms, cases[i].enqueue);
    assert_int_equal(cfg.shutdown_timeout_ms, 20000);
    assert_int_equal(cfg.log_level, EG_LOG_INFO);
    assert_null(cfg.kafka_config_file);
    assert_null(cfg.token_key_file);
    assert_int_equal(cfg.nwebhook_secrets, cases[i].nsecrets);
    if (cases[i].nsecrets > 0)
      assert_string_equal(cfg.webhook_secrets[0], SECRET_A);
    else
      assert_null(cfg.webhook_secrets);
    if (role & (EG_ROLE_WORKER | EG_ROLE_REDELIVER)) {
      assert_string_equal(cfg.app_id, "123456");
      assert_string_equal(cfg.app_private_key_file, key_file);
    } else {
      assert_null(cfg.app_id);
      assert_null(cfg.app_private_key_file);
    }
    assert_str_or_null(cfg.policy_file,
                       role == EG_ROLE_WORKER ? policy_file : NULL);
    eg_config_cleanup(&cfg);
    assert_empty(&cfg);
    /* A second cleanup is harmless. */
    eg_config_cleanup(&cfg);
  }
}

static void test_required(void **state) {
  static const struct {
    eg_role_t role;
    const char *lines[5];
  } cases[] = {
      {EG_ROLE_INGRESS,
       {"ENVGATE_WEBHOOK_SECRET (or ENVGATE_WEBHOOK_SECRET_FILE): required"}},
      {EG_ROLE_WORKER,
       {"ENVGATE_WEBHOOK_SECRET (or ENVGATE_WEBHOOK_SECRET_FILE): required",
        "ENVGATE_APP_ID: required", "ENVGATE_APP_PRIVATE_KEY_FILE: required",
        "ENVGATE_POLICY_FILE: required"}},
      {EG_ROLE_AUDIT,
       {"ENVGATE_WEBHOOK_SECRET (or ENVGATE_WEBHOOK_SECRET_FILE): required"}},
      {EG_ROLE_REDRIVE, {NULL}},
      {EG_ROLE_REDELIVER,
       {"ENVGATE_APP_ID: required", "ENVGATE_APP_PRIVATE_KEY_FILE: required"}},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct env env = {{NULL}, {NULL}, 0};
    struct report rep;
    eg_config_t cfg;
    size_t want = 0;
    int rc;

    /* Empty values count as unset. */
    env_set(&env, "ENVGATE_APP_ID", "");
    rc = load(&cfg, cases[i].role, &env, &rep);
    while (want < 5 && cases[i].lines[want] != NULL)
      want++;
    assert_int_equal(rep.n, want);
    for (size_t l = 0; l < want; l++)
      assert_string_equal(rep.lines[l], cases[i].lines[l]);
    if (want == 0) {
      assert_int_equal(rc, EG_OK);
      eg_config_cleanup(&cfg);
    } else {
      /* On failure cfg holds nothing to free. */
      assert_int_equal(rc, EG_EINVAL);
      assert_empty(&cfg);
    }
  }
}

static void test_many_problems(void **state) {
  static const struct {
    const char *name;
    const char *value;
    const char *rule;
  } bad[] = {
      {"ENVGATE_WORKER_INFLIGHT", "0", "between 1 and 4096"},
      {"ENVGATE_MAX_ATTEMPTS", "abc", "between 1 and 100"},
      {"ENVGATE_METRICS_LISTEN", "nohost", "must be host:port"},
      {"ENVGATE_LOG_LEVEL", "loud", "must be debug, info, warn or error"},
      {"ENVGATE_POLICY_FILE", "/nonexistent/policy.json",
       "not a readable file"},
      {"ENVGATE_TOKEN_KEY_FILE", "/tmp", "not a readable file"},
      {"ENVGATE_GITHUB_API_URL", "http://example.com",
       "only allowed to loopback"},
      {"ENVGATE_REDIS_URL", "redis://:" REDIS_PW "@host/0", "must be redis://"},
      {"ENVGATE_SHUTDOWN_TIMEOUT_MS", "99", "between 100 and 600000"},
  };
  struct env env;
  struct report rep;
  eg_config_t cfg;

  (void)state;
  base_env(&env, EG_ROLE_WORKER);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    env_set(&env, bad[i].name, bad[i].value);
  assert_int_equal(load(&cfg, EG_ROLE_WORKER, &env, &rep), EG_EINVAL);
  /* One line per problem, each naming the variable and the rule. */
  assert_int_equal(rep.n, sizeof(bad) / sizeof(bad[0]));
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    size_t l = find_line(&rep, bad[i].name, bad[i].rule);
    /* Non-secret values are shown. */
    if (strcmp(bad[i].name, "ENVGATE_REDIS_URL") != 0)
      assert_non_null(strstr(rep.lines[l], bad[i].value));
  }
  assert_no_secret(&rep);
  assert_empty(&cfg);
  /* Without a report callback the problems still fail the load. */
  assert_int_equal(
      eg_config_load(&cfg, EG_ROLE_WORKER, env_get, &env, NULL, NULL),
      EG_EINVAL);
  assert_empty(&cfg);
}

static void test_numbers(void **state) {
  static const struct {
    const char *name;
    const char *value;
    eg_role_t role;
    int ok;
    const char *rule;
  } cases[] = {
      {"ENVGATE_WORKER_INFLIGHT", "1", EG_ROLE_WORKER, 1, NULL},
      {"ENVGATE_GITHUB_CONCURRENCY", "1", EG_ROLE_WORKER, 1, NULL},
      {"ENVGATE_GITHUB_CONCURRENCY", "100", EG_ROLE_WORKER, 1, NULL},
      {"ENVGATE_GITHUB_CONCURRENCY", "101", EG_ROLE_WORKER, 0,
       "between 1 and 100"},
      {"ENVGATE_GITHUB_CONCURRENCY", "0", EG_ROLE_WORKER, 0,
       "between 1 and 100"},
      {"ENVGATE_WORKER_INFLIGHT", "4096", EG_ROLE_WORKER, 1, NULL},
      {"ENVGATE_WORKER_INFLIGHT", "0064", EG_ROLE_WORKER, 1, NULL},
      {"ENVGATE_WORKER_INFLIGHT", "4097", EG_ROLE_WORKER, 0,
       "must be a whole number between 1 and 4096"},
      {"ENVGATE_WORKER_INFLIGHT", "0", EG_ROLE_WORKER, 0, "between 1 and 4096"},
      {"ENVGATE_WORKER_INFLIGHT", "-1", EG_ROLE_WORKER, 0,
       "between 1 and 4096"},
      {"ENVGATE_WORKER_INFLIGHT", "1e3", EG_ROLE_WORKER, 0,
       "between 1 and 4096"},
      {"ENVGATE_WORKER_INFLIGHT", " 5", EG_ROLE_WORKER, 0,
       "between 1 and 4096"},
      {"ENVGATE_WORKER_INFLIGHT", "18446744073709551616", EG_ROLE_WORKER, 0,
       "between 1 and 4096"},
      {"ENVGATE_MAX_ATTEMPTS", "100", EG_ROLE_WORKER, 1, NULL},
      {"ENVGATE_MAX_ATTEMPTS", "101", EG_ROLE_WORKER, 0, "between 1 and 100"},
      {"ENVGATE_MAX_BODY_BYTES", "1024", EG_ROLE_INGRESS, 1, NULL},
      {"ENVGATE_MAX_BODY_BYTES", "26214400", EG_ROLE_INGRESS, 1, NULL},
      {"ENVGATE_MAX_BODY_BYTES", "1023", EG_ROLE_INGRESS, 0,
       "between 1024 and 26214400"},
      {"ENVGATE_MAX_BODY_BYTES", "26214401", EG_ROLE_INGRESS, 0,
       "between 1024 and 26214400"},
      {"ENVGATE_ENQUEUE_TIMEOUT_MS", "100", EG_ROLE_INGRESS, 1, NULL},
      {"ENVGATE_ENQUEUE_TIMEOUT_MS", "9000", EG_ROLE_INGRESS, 1, NULL},
      {"ENVGATE_ENQUEUE_TIMEOUT_MS", "99", EG_ROLE_INGRESS, 0,
       "between 100 and 9000"},
      {"ENVGATE_ENQUEUE_TIMEOUT_MS", "9001", EG_ROLE_INGRESS, 0,
       "between 100 and 9000"},
      {"ENVGATE_SHUTDOWN_TIMEOUT_MS", "600000", EG_ROLE_AUDIT, 1, NULL},
      {"ENVGATE_SHUTDOWN_TIMEOUT_MS", "600001", EG_ROLE_REDRIVE, 0,
       "between 100 and 600000"},
      {"ENVGATE_LOG_LEVEL", "DEBUG", EG_ROLE_REDRIVE, 1, NULL},
      {"ENVGATE_LOG_LEVEL", "warning", EG_ROLE_REDELIVER, 1, NULL},
      {"ENVGATE_LOG_LEVEL", "verbose", EG_ROLE_REDRIVE, 0,
       "must be debug, info, warn or error"},
      {"ENVGATE_TOPIC_PREFIX", "Acme-prod_2.", EG_ROLE_INGRESS, 1, NULL},
      /* Kafka refuses these topic names at run time (found by
       * tests/fuzz/fuzz_config.c): refused at start instead. */
      {"ENVGATE_TOPIC_PREFIX", "my prefix.", EG_ROLE_WORKER, 0,
       "must be at most 240 characters of [A-Za-z0-9._-]"},
      {"ENVGATE_TOPIC_PREFIX", "acme/prod.", EG_ROLE_AUDIT, 0,
       "[A-Za-z0-9._-] (Kafka topic names)"},
      {"ENVGATE_TOPIC_PREFIX", "env]gate.", EG_ROLE_REDRIVE, 0,
       "[A-Za-z0-9._-] (Kafka topic names)"},
      {"ENVGATE_TOPIC_PREFIX",
       "pr\xc3\xbc"
       "f.",
       EG_ROLE_INGRESS, 0, "[A-Za-z0-9._-] (Kafka topic names)"},
      /* A variable the role does not use is not even read. */
      {"ENVGATE_MAX_BODY_BYTES", "junk", EG_ROLE_WORKER, 1, NULL},
      {"ENVGATE_WORKER_INFLIGHT", "junk", EG_ROLE_INGRESS, 1, NULL},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct env env;
    struct report rep;
    eg_config_t cfg;
    int rc;
    char want[128];

    base_env(&env, cases[i].role);
    env_set(&env, cases[i].name, cases[i].value);
    rc = load(&cfg, cases[i].role, &env, &rep);
    if (cases[i].ok) {
      if (rc != EG_OK)
        fail_msg("case %zu: %s", i, rep.n > 0 ? rep.lines[0] : "?");
      assert_int_equal(rep.n, 0);
      eg_config_cleanup(&cfg);
      continue;
    }
    assert_int_equal(rc, EG_EINVAL);
    assert_int_equal(rep.n, 1);
    snprintf(want, sizeof(want), "%s=%s: ", cases[i].name, cases[i].value);
    assert_true(strncmp(rep.lines[0], want, strlen(want)) == 0);
    assert_non_null(strstr(rep.lines[0], cases[i].rule));
  }
  /* The longest prefix leaves room for "decisions" in Kafka's 249. */
  {
    struct env env;
    struct report rep;
    eg_config_t cfg;
    char prefix[242];
    char topic[300];

    memset(prefix, 'p', sizeof(prefix) - 1);
    prefix[240] = '\0';
    base_env(&env, EG_ROLE_REDRIVE);
    env_set(&env, "ENVGATE_TOPIC_PREFIX", prefix);
    assert_int_equal(load(&cfg, EG_ROLE_REDRIVE, &env, &rep), EG_OK);
    assert_int_equal(eg_config_topic(&cfg, "decisions", topic, sizeof(topic)),
                     EG_OK);
    assert_int_equal(strlen(topic), 249);
    eg_config_cleanup(&cfg);
    prefix[240] = 'p';
    prefix[241] = '\0';
    assert_int_equal(load(&cfg, EG_ROLE_REDRIVE, &env, &rep), EG_EINVAL);
    assert_int_equal(rep.n, 1);
    assert_non_null(strstr(rep.lines[0], "must be at most 240 characters"));
  }
  /* Values land in their fields. */
  {
    struct env env;
    struct report rep;
    eg_config_t cfg;

    base_env(&env, EG_ROLE_WORKER | EG_ROLE_INGRESS);
    env_set(&env, "ENVGATE_WORKER_INFLIGHT", "7");
    env_set(&env, "ENVGATE_MAX_ATTEMPTS", "3");
    env_set(&env, "ENVGATE_MAX_BODY_BYTES", "2048");
    env_set(&env, "ENVGATE_ENQUEUE_TIMEOUT_MS", "250");
    env_set(&env, "ENVGATE_SHUTDOWN_TIMEOUT_MS", "1000");
    env_set(&env, "ENVGATE_LOG_LEVEL", "Error");
    env_set(&env, "ENVGATE_KAFKA_BROKERS", "k1:9092,k2:9092");
    env_set(&env, "ENVGATE_TOPIC_PREFIX", "prod.");
    env_set(&env, "ENVGATE_KAFKA_CONFIG_FILE", policy_file);
    env_set(&env, "ENVGATE_TOKEN_KEY_FILE", key_file);
    assert_int_equal(load(&cfg, EG_ROLE_WORKER | EG_ROLE_INGRESS, &env, &rep),
                     EG_OK);
    assert_int_equal(cfg.worker_inflight, 7);
    assert_int_equal(cfg.max_attempts, 3);
    assert_int_equal(cfg.max_body_bytes, 2048);
    assert_int_equal(cfg.enqueue_timeout_ms, 250);
    assert_int_equal(cfg.shutdown_timeout_ms, 1000);
    assert_int_equal(cfg.log_level, EG_LOG_ERROR);
    assert_string_equal(cfg.kafka_brokers, "k1:9092,k2:9092");
    assert_string_equal(cfg.topic_prefix, "prod.");
    assert_string_equal(cfg.kafka_config_file, policy_file);
    assert_string_equal(cfg.token_key_file, key_file);
    /* Both roles' listeners. */
    assert_string_equal(cfg.listen, "0.0.0.0:8080");
    assert_string_equal(cfg.metrics_listen, "0.0.0.0:9090");
    eg_config_cleanup(&cfg);
  }
}

static void test_listen(void **state) {
  static const struct {
    const char *value;
    int ok;
  } cases[] = {
      {"127.0.0.1:8080", 1}, {"0.0.0.0:1", 1},    {"[::]:8080", 1},
      {"[::1]:65535", 1},    {"localhost:80", 1}, {":8080", 0},
      {"8080", 0},           {"host:0", 1},       {"[::1]:0", 1},
      {"host:65536", 0},     {"host:-1", 0},      {"::1:8080", 0},
      {"host:80x", 0},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct env env;
    struct report rep;
    eg_config_t cfg;
    int rc;

    base_env(&env, EG_ROLE_INGRESS);
    env_set(&env, "ENVGATE_LISTEN", cases[i].value);
    rc = load(&cfg, EG_ROLE_INGRESS, &env, &rep);
    if (cases[i].ok) {
      assert_int_equal(rc, EG_OK);
      assert_string_equal(cfg.listen, cases[i].value);
      eg_config_cleanup(&cfg);
    } else {
      char want[128];

      assert_int_equal(rc, EG_EINVAL);
      assert_int_equal(rep.n, 1);
      snprintf(want, sizeof(want),
               "ENVGATE_LISTEN=%s: must be host:port with port 0..65535 (0: "
               "any free)",
               cases[i].value);
      assert_string_equal(rep.lines[0], want);
    }
  }
}

/* Regression: a value holding control bytes made a multi-line report. */
static void test_report_one_line(void **state) {
  struct env env;
  struct report rep;
  eg_config_t cfg;

  (void)state;
  base_env(&env, EG_ROLE_INGRESS);
  env_set(&env, "ENVGATE_LISTEN", "bad\nENVGATE_FAKE: forged line\r\x1b[0m");
  env_set(&env, "ENVGATE_MAX_BODY_BYTES", "12\t\x7f");
  assert_int_equal(load(&cfg, EG_ROLE_INGRESS, &env, &rep), EG_EINVAL);
  assert_int_equal(rep.n, 2);
  assert_string_equal(rep.lines[0],
                      "ENVGATE_LISTEN=bad?ENVGATE_FAKE: forged line??[0m: "
                      "must be host:port with port 0..65535 (0: any free)");
  assert_string_equal(rep.lines[1], "ENVGATE_MAX_BODY_BYTES=12??: must be a "
                                    "whole number between 1024 and 26214400");
}

static void test_github_url(void **state) {
  static const struct {
    const char *value;
    const char *want; /* stored value; NULL: refused */
    const char *rule;
  } cases[] = {
      {"https://api.github.com", "https://api.github.com", NULL},
      {"https://ghe.example.com/api/v3/", "https://ghe.example.com/api/v3",
       NULL},
      {"https://ghe.example.com:8443/api/v3///",
       "https://ghe.example.com:8443/api/v3", NULL},
      {"https://api.github.com/", "https://api.github.com", NULL},
      {"http://127.0.0.1:9999", "http://127.0.0.1:9999", NULL},
      {"http://localhost:9999/", "http://localhost:9999", NULL},
      {"http://[::1]:8080/api", "http://[::1]:8080/api", NULL},
      {"http://example.com", NULL, "only allowed to loopback"},
      {"http://10.0.0.1:8080/", NULL, "only allowed to loopback"},
      {"https://api.github.com/?page=2", NULL, "query"},
      {"https://api.github.com#x", NULL, "fragment"},
      {"https://tok@api.github.com", NULL, "user info"},
      {"api.github.com", NULL, "must start with https://"},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct env env;
    struct report rep;
    eg_config_t cfg;
    int rc;

    base_env(&env, EG_ROLE_REDELIVER);
    env_set(&env, "ENVGATE_GITHUB_API_URL", cases[i].value);
    rc = load(&cfg, EG_ROLE_REDELIVER, &env, &rep);
    if (cases[i].want != NULL) {
      assert_int_equal(rc, EG_OK);
      assert_string_equal(cfg.github_api_url, cases[i].want);
      eg_config_cleanup(&cfg);
    } else {
      assert_int_equal(rc, EG_EINVAL);
      assert_int_equal(rep.n, 1);
      find_line(&rep, "ENVGATE_GITHUB_API_URL=", cases[i].rule);
      assert_non_null(strstr(rep.lines[0], cases[i].value));
    }
  }
}

static void test_secret_files(void **state) {
  static const struct {
    const char *text;
    size_t n;
    const char *secrets[3];
    const char *rule; /* problem, or NULL */
  } cases[] = {
      {SECRET_A "\n", 1, {SECRET_A}, NULL},
      {SECRET_A, 1, {SECRET_A}, NULL},
      /* Rotation: several lines, CRLF, blank lines, trailing blanks. */
      {SECRET_A "\r\n" SECRET_B "\r\n", 2, {SECRET_A, SECRET_B}, NULL},
      {"\n\n" SECRET_A "\n\r\n   \n" SECRET_B " \t\n\n",
       2,
       {SECRET_A, SECRET_B},
       NULL},
      {SECRET_A "\n" SECRET_B "\n" SECRET_A "x\n",
       3,
       {SECRET_A, SECRET_B, SECRET_A "x"},
       NULL},
      /* Problems. */
      {"", 0, {NULL}, "ENVGATE_WEBHOOK_SECRET: holds no secret"},
      {"\r\n\n \n", 0, {NULL}, "ENVGATE_WEBHOOK_SECRET: holds no secret"},
      {SECRET_A "\nwhsec-short\n",
       0,
       {NULL},
       "ENVGATE_WEBHOOK_SECRET: secret 2 is shorter than 16 characters"},
      {"whsec-15-chars!",
       0,
       {NULL},
       "ENVGATE_WEBHOOK_SECRET: secret 1 is shorter than 16 characters"},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct env env;
    struct report rep;
    eg_config_t cfg;
    int rc;

    base_env(&env, EG_ROLE_AUDIT);
    env.n = 0; /* drop ENVGATE_WEBHOOK_SECRET */
    env_set(&env, "ENVGATE_WEBHOOK_SECRET_FILE", temp_file(0, cases[i].text));
    rc = load(&cfg, EG_ROLE_AUDIT, &env, &rep);
    assert_no_secret(&rep);
    if (cases[i].rule != NULL) {
      assert_int_equal(rc, EG_EINVAL);
      assert_int_equal(rep.n, 1);
      assert_string_equal(rep.lines[0], cases[i].rule);
      assert_empty(&cfg);
      continue;
    }
    assert_int_equal(rc, EG_OK);
    assert_int_equal(cfg.nwebhook_secrets, cases[i].n);
    for (size_t s = 0; s < cases[i].n; s++)
      assert_string_equal(cfg.webhook_secrets[s], cases[i].secrets[s]);
    eg_config_cleanup(&cfg);
  }
}

static void test_secret_problems(void **state) {
  char *huge = malloc(64 * 1024 + 2);
  struct env env;
  struct report rep;
  eg_config_t cfg;
  char want[256];

  (void)state;
  assert_non_null(huge);
  /* The variable itself may hold several lines too. */
  base_env(&env, EG_ROLE_INGRESS);
  env_set(&env, "ENVGATE_WEBHOOK_SECRET", SECRET_A "\n" SECRET_B);
  assert_int_equal(load(&cfg, EG_ROLE_INGRESS, &env, &rep), EG_OK);
  assert_int_equal(cfg.nwebhook_secrets, 2);
  assert_string_equal(cfg.webhook_secrets[1], SECRET_B);
  eg_config_cleanup(&cfg);

  /* NAME and NAME_FILE both set. */
  env_set(&env, "ENVGATE_WEBHOOK_SECRET_FILE", temp_file(1, SECRET_B));
  assert_int_equal(load(&cfg, EG_ROLE_INGRESS, &env, &rep), EG_EINVAL);
  assert_int_equal(rep.n, 1);
  assert_string_equal(
      rep.lines[0],
      "ENVGATE_WEBHOOK_SECRET and ENVGATE_WEBHOOK_SECRET_FILE: set only one");
  assert_empty(&cfg);

  base_env(&env, EG_ROLE_WORKER);
  env_set(&env, "ENVGATE_REDIS_URL", "redis://:" REDIS_PW "@h:6379/0");
  env_set(&env, "ENVGATE_REDIS_URL_FILE", temp_file(2, "redis://h:1/0\n"));
  assert_int_equal(load(&cfg, EG_ROLE_WORKER, &env, &rep), EG_EINVAL);
  assert_int_equal(rep.n, 1);
  assert_string_equal(
      rep.lines[0],
      "ENVGATE_REDIS_URL and ENVGATE_REDIS_URL_FILE: set only one");
  assert_no_secret(&rep);

  /* Missing, unreadable and oversized files. */
  base_env(&env, EG_ROLE_INGRESS);
  env.n = 0;
  snprintf(want, sizeof(want), "%s/missing", dir);
  env_set(&env, "ENVGATE_WEBHOOK_SECRET_FILE", want);
  assert_int_equal(load(&cfg, EG_ROLE_INGRESS, &env, &rep), EG_EINVAL);
  assert_int_equal(rep.n, 1);
  find_line(&rep, "ENVGATE_WEBHOOK_SECRET_FILE=", "/missing: cannot read");
  memset(huge, 'h', 64 * 1024 + 1);
  huge[64 * 1024 + 1] = '\0';
  env_set(&env, "ENVGATE_WEBHOOK_SECRET_FILE", temp_file(3, huge));
  assert_int_equal(load(&cfg, EG_ROLE_INGRESS, &env, &rep), EG_EINVAL);
  find_line(&rep, "ENVGATE_WEBHOOK_SECRET_FILE=", "larger than 64 KiB");
  /* Exactly 64 KiB is accepted. */
  huge[64 * 1024] = '\0';
  env_set(&env, "ENVGATE_WEBHOOK_SECRET_FILE", temp_file(3, huge));
  assert_int_equal(load(&cfg, EG_ROLE_INGRESS, &env, &rep), EG_OK);
  assert_int_equal(strlen(cfg.webhook_secrets[0]), 64 * 1024);
  eg_config_cleanup(&cfg);
  free(huge);
}

static void test_redis_url(void **state) {
  static const struct {
    const char *url;
    int ok;
  } cases[] = {
      {"redis://127.0.0.1:6379/0", 1},
      {"redis://:" REDIS_PW "@redis.internal:6379/0", 1},
      {"redis://default:" REDIS_PW "@redis.internal:6379/15", 1},
      {"redis://:p@ss@w0rd-" REDIS_PW "@host:6379/1", 1},
      {"redis://host:6379", 1},
      {"redis://host:6379/", 1},
      {"redis://[::1]:6379/2", 1},
      {"redis://:" REDIS_PW "@host", 0},
      {"redis://:" REDIS_PW "@host:6379/16", 0},
      {"redis://:" REDIS_PW "@host:6379/x", 0},
      {"redis://:" REDIS_PW "@host:0/0", 0},
      {"redis://:" REDIS_PW "@:6379/0", 0},
      {"rediss://:" REDIS_PW "@host:6379/0", 0},
      {"http://host:6379/0", 0},
      {"redis://", 0},
      {"redis://host:6379/0/1", 0},
      /* Forms the worker's Redis client refuses (eg_redis_url_parse) are
       * refused at start, not when the worker connects (found by
       * tests/fuzz/fuzz_config.c). */
      {"redis://:pass word@host:6379/0", 0},
      {"redis://user@host:6379/0", 0},
      {"redis://:@host:6379/0", 0},
      {"redis://:p%zz@host:6379/0", 0},
      {"redis://:" REDIS_PW "@host:6379/0?x=1", 0},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    for (int from_file = 0; from_file < 2; from_file++) {
      struct env env;
      struct report rep;
      eg_config_t cfg;
      char text[256];
      int rc;

      base_env(&env, EG_ROLE_REDELIVER);
      if (from_file) {
        /* A file usually ends with a newline (or CRLF). */
        snprintf(text, sizeof(text), "%s\r\n", cases[i].url);
        env_set(&env, "ENVGATE_REDIS_URL_FILE", temp_file(4, text));
      } else {
        env_set(&env, "ENVGATE_REDIS_URL", cases[i].url);
      }
      rc = load(&cfg, EG_ROLE_REDELIVER, &env, &rep);
      assert_no_secret(&rep);
      if (cases[i].ok) {
        if (rc != EG_OK)
          fail_msg("case %zu (%s): %s", i, from_file ? "file" : "env",
                   rep.n > 0 ? rep.lines[0] : "?");
        assert_string_equal(cfg.redis_url, cases[i].url);
        eg_config_cleanup(&cfg);
      } else {
        assert_int_equal(rc, EG_EINVAL);
        assert_int_equal(rep.n, 1);
        assert_string_equal(
            rep.lines[0],
            "ENVGATE_REDIS_URL: must be redis://[:password@]host:port[/db]");
      }
    }
  }
}

/* eg_config_log writes one line per variable of the role, secrets
 * redacted: capture the logger's output through a pipe. */
static void test_config_log(void **state) {
  struct env env;
  struct report rep;
  eg_config_t cfg;
  int fds[2];
  static char out[64 * 1024];
  size_t len = 0;
  size_t lines = 0;
  ssize_t n;

  (void)state;
  base_env(&env, EG_ROLE_WORKER);
  env_set(&env, "ENVGATE_WEBHOOK_SECRET", SECRET_A "\n" SECRET_B);
  env_set(&env, "ENVGATE_REDIS_URL", "redis://:" REDIS_PW "@h:6379/3");
  env_set(&env, "ENVGATE_LOG_LEVEL", "warn");
  assert_int_equal(load(&cfg, EG_ROLE_WORKER, &env, &rep), EG_OK);
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
  eg_log_init("test-config", EG_LOG_INFO, fds[1]);
  eg_config_log(&cfg, EG_ROLE_WORKER);
  eg_config_log(NULL, EG_ROLE_WORKER);
  eg_log_init("envgate", EG_LOG_INFO, 2);
  while ((n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
    len += (size_t)n;
  out[len] = '\0';
  close(fds[0]);
  close(fds[1]);
  for (size_t i = 0; i < len; i++)
    if (out[i] == '\n')
      lines++;
  /* The worker reads 16 of the 19 variables: not ENVGATE_LISTEN,
   * ENVGATE_MAX_BODY_BYTES or ENVGATE_ENQUEUE_TIMEOUT_MS. */
  assert_int_equal(lines, 16);
  assert_null(strstr(out, REDIS_PW));
  assert_null(strstr(out, "whsec-"));
  assert_non_null(strstr(out, "\"name\":\"ENVGATE_REDIS_URL\","
                              "\"value\":\"[redacted]\""));
  assert_non_null(strstr(out, "\"name\":\"ENVGATE_WEBHOOK_SECRET\","
                              "\"value\":\"[2 redacted]\""));
  assert_non_null(strstr(out, "\"name\":\"ENVGATE_MAX_ATTEMPTS\","
                              "\"value\":\"8\""));
  assert_non_null(strstr(out, "\"name\":\"ENVGATE_GITHUB_CONCURRENCY\","
                              "\"value\":\"24\""));
  assert_non_null(strstr(out, "\"name\":\"ENVGATE_LOG_LEVEL\","
                              "\"value\":\"warn\""));
  assert_non_null(strstr(out, "\"name\":\"ENVGATE_TOKEN_KEY_FILE\","
                              "\"value\":null"));
  assert_null(strstr(out, "ENVGATE_LISTEN\""));
  eg_config_cleanup(&cfg);
}

static void test_topic(void **state) {
  struct env env;
  struct report rep;
  eg_config_t cfg;
  char out[32];

  (void)state;
  base_env(&env, EG_ROLE_REDRIVE);
  assert_int_equal(load(&cfg, EG_ROLE_REDRIVE, &env, &rep), EG_OK);
  assert_int_equal(eg_config_topic(&cfg, "events", out, sizeof(out)), EG_OK);
  assert_string_equal(out, "envgate.events");
  /* "envgate.events" is 14 bytes: 15 fit, 14 do not. */
  assert_int_equal(eg_config_topic(&cfg, "events", out, 15), EG_OK);
  assert_int_equal(eg_config_topic(&cfg, "events", out, 14), EG_ERANGE);
  assert_int_equal(eg_config_topic(&cfg, "", out, sizeof(out)), EG_OK);
  assert_string_equal(out, "envgate.");
  assert_int_equal(eg_config_topic(NULL, "dlq", out, sizeof(out)), EG_EINVAL);
  assert_int_equal(eg_config_topic(&cfg, NULL, out, sizeof(out)), EG_EINVAL);
  assert_int_equal(eg_config_topic(&cfg, "dlq", NULL, sizeof(out)), EG_EINVAL);
  assert_int_equal(eg_config_topic(&cfg, "dlq", out, 0), EG_EINVAL);
  eg_config_cleanup(&cfg);

  env_set(&env, "ENVGATE_TOPIC_PREFIX", "acme-prod.");
  assert_int_equal(load(&cfg, EG_ROLE_REDRIVE, &env, &rep), EG_OK);
  assert_int_equal(eg_config_topic(&cfg, "decisions", out, sizeof(out)), EG_OK);
  assert_string_equal(out, "acme-prod.decisions");
  eg_config_cleanup(&cfg);
  /* A config without a prefix (say, zeroed) uses the default. */
  memset(&cfg, 0, sizeof(cfg));
  assert_int_equal(eg_config_topic(&cfg, "retry", out, sizeof(out)), EG_OK);
  assert_string_equal(out, "envgate.retry");
}

static void test_arguments(void **state) {
  struct env env;
  struct report rep;
  eg_config_t cfg;

  (void)state;
  base_env(&env, EG_ROLE_INGRESS);
  memset(&rep, 0, sizeof(rep));
  assert_int_equal(
      eg_config_load(NULL, EG_ROLE_INGRESS, env_get, &env, collect, &rep),
      EG_EINVAL);
  assert_int_equal(eg_config_load(&cfg, 0, env_get, &env, collect, &rep),
                   EG_EINVAL);
  assert_int_equal(rep.n, 0);
  eg_config_cleanup(NULL);
  /* Without getenv_fn the process environment is read. */
  assert_int_equal(setenv("ENVGATE_TOPIC_PREFIX", "fromenv.", 1), 0);
  assert_int_equal(setenv("ENVGATE_SHUTDOWN_TIMEOUT_MS", "", 1), 0);
  assert_int_equal(
      eg_config_load(&cfg, EG_ROLE_REDRIVE, NULL, NULL, collect, &rep), EG_OK);
  assert_string_equal(cfg.topic_prefix, "fromenv.");
  assert_int_equal(cfg.shutdown_timeout_ms, 20000);
  eg_config_cleanup(&cfg);
  unsetenv("ENVGATE_TOPIC_PREFIX");
  unsetenv("ENVGATE_SHUTDOWN_TIMEOUT_MS");
}

/* Every allocation in turn fails: the load reports EG_ENOMEM and leaves
 * nothing allocated (valgrind checks). */
static void test_out_of_memory(void **state) {
  (void)state;
#if OOM_INJECTION
  struct env env;
  struct report rep;
  eg_config_t cfg;
  long steps = 0;

  if (!oom_works())
    skip();
  base_env(&env, EG_ROLE_WORKER | EG_ROLE_INGRESS);
  env.n = 0;
  env_set(&env, "ENVGATE_WEBHOOK_SECRET_FILE",
          temp_file(5, SECRET_A "\n" SECRET_B "\n" SECRET_A "y\n" SECRET_B
                                "z\n" SECRET_A "w\n"));
  env_set(&env, "ENVGATE_REDIS_URL_FILE",
          temp_file(6, "redis://:" REDIS_PW "@h:6379/0\n"));
  env_set(&env, "ENVGATE_APP_ID", "1");
  env_set(&env, "ENVGATE_APP_PRIVATE_KEY_FILE", key_file);
  env_set(&env, "ENVGATE_POLICY_FILE", policy_file);
  for (;; steps++) {
    int rc;
    bool hit;

    memset(&rep, 0, sizeof(rep));
    oom_arm(steps);
    rc = eg_config_load(&cfg, EG_ROLE_WORKER | EG_ROLE_INGRESS, env_get, &env,
                        collect, &rep);
    hit = oom_disarm();
    /* stdio survives a failed buffer allocation by going unbuffered. */
    if (rc == EG_OK) {
      assert_int_equal(cfg.nwebhook_secrets, 5);
      assert_string_equal(cfg.webhook_secrets[4], SECRET_A "w");
      assert_string_equal(cfg.redis_url, "redis://:" REDIS_PW "@h:6379/0");
      eg_config_cleanup(&cfg);
      if (!hit)
        break;
      continue;
    }
    assert_true(hit);
    if (rc != EG_ENOMEM)
      fail_msg("step %ld: rc %d, %zu lines: %s", steps, rc, rep.n,
               rep.n ? rep.lines[0] : "");
    assert_int_equal(rep.n, 0);
    assert_empty(&cfg);
    assert_true(steps < 1000);
  }
  /* Files, five secrets and their list growing twice, the strings. */
  assert_true(steps > 15);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_required),
      cmocka_unit_test(test_many_problems),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_listen),
      cmocka_unit_test(test_report_one_line),
      cmocka_unit_test(test_github_url),
      cmocka_unit_test(test_secret_files),
      cmocka_unit_test(test_secret_problems),
      cmocka_unit_test(test_redis_url),
      cmocka_unit_test(test_config_log),
      cmocka_unit_test(test_topic),
      cmocka_unit_test(test_arguments),
      cmocka_unit_test(test_out_of_memory),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}

/* The contract's configuration table and its loader. */
#include "eg/config.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "eg/redis.h"

#include <errno.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALL_ROLES                                                              \
  (EG_ROLE_INGRESS | EG_ROLE_WORKER | EG_ROLE_AUDIT | EG_ROLE_REDRIVE |        \
   EG_ROLE_REDELIVER)
#define KAFKA_ROLES                                                            \
  (EG_ROLE_INGRESS | EG_ROLE_WORKER | EG_ROLE_AUDIT | EG_ROLE_REDRIVE)
#define SECRET_FILE_MAX (64 * 1024)
/* Kafka refuses topic names over 249 characters; the longest suffix is
 * "decisions". */
#define TOPIC_PREFIX_MAX (249 - 9)

enum kind {
  K_STRING,      /* free text, non-empty */
  K_PREFIX,      /* Kafka topic name prefix */
  K_LISTEN,      /* host:port */
  K_URL,         /* https base URL, http only to loopback */
  K_REDIS_URL,   /* redis://[:password@]host:port/db, secret */
  K_SECRET_LIST, /* one secret per line, secret */
  K_FILE,        /* path of a readable regular file */
  K_U64,         /* number in [min, max] */
  K_LEVEL        /* log level */
};

struct entry {
  const char *name;
  enum kind kind;
  const char *def; /* NULL: no default */
  uint64_t min, max;
  unsigned used_by;  /* eg_role_t bits */
  unsigned required; /* eg_role_t bits */
  size_t offset;     /* of the field in eg_config_t */
};

#define F(field) offsetof(eg_config_t, field)

static const struct entry table[] = {
    {"ENVGATE_LISTEN", K_LISTEN, "0.0.0.0:8080", 0, 0, EG_ROLE_INGRESS, 0,
     F(listen)},
    {"ENVGATE_METRICS_LISTEN", K_LISTEN, "0.0.0.0:9090", 0, 0, EG_ROLE_WORKER,
     0, F(metrics_listen)},
    {"ENVGATE_WEBHOOK_SECRET", K_SECRET_LIST, NULL, 0, 0,
     EG_ROLE_INGRESS | EG_ROLE_AUDIT | EG_ROLE_WORKER,
     EG_ROLE_INGRESS | EG_ROLE_AUDIT | EG_ROLE_WORKER, F(webhook_secrets)},
    {"ENVGATE_KAFKA_BROKERS", K_STRING, "127.0.0.1:9092", 0, 0, KAFKA_ROLES, 0,
     F(kafka_brokers)},
    {"ENVGATE_KAFKA_CONFIG_FILE", K_FILE, NULL, 0, 0, KAFKA_ROLES, 0,
     F(kafka_config_file)},
    {"ENVGATE_TOPIC_PREFIX", K_PREFIX, "envgate.", 0, 0, KAFKA_ROLES, 0,
     F(topic_prefix)},
    {"ENVGATE_REDIS_URL", K_REDIS_URL, "redis://127.0.0.1:6379/0", 0, 0,
     EG_ROLE_WORKER | EG_ROLE_REDELIVER, 0, F(redis_url)},
    {"ENVGATE_GITHUB_API_URL", K_URL, "https://api.github.com", 0, 0,
     EG_ROLE_INGRESS | EG_ROLE_WORKER | EG_ROLE_REDELIVER, 0,
     F(github_api_url)},
    {"ENVGATE_APP_ID", K_STRING, NULL, 0, 0, EG_ROLE_WORKER | EG_ROLE_REDELIVER,
     EG_ROLE_WORKER | EG_ROLE_REDELIVER, F(app_id)},
    {"ENVGATE_APP_PRIVATE_KEY_FILE", K_FILE, NULL, 0, 0,
     EG_ROLE_WORKER | EG_ROLE_REDELIVER, EG_ROLE_WORKER | EG_ROLE_REDELIVER,
     F(app_private_key_file)},
    {"ENVGATE_POLICY_FILE", K_FILE, NULL, 0, 0, EG_ROLE_WORKER, EG_ROLE_WORKER,
     F(policy_file)},
    {"ENVGATE_TOKEN_KEY_FILE", K_FILE, NULL, 0, 0, EG_ROLE_WORKER, 0,
     F(token_key_file)},
    {"ENVGATE_WORKER_INFLIGHT", K_U64, "64", 1, 4096, EG_ROLE_WORKER, 0,
     F(worker_inflight)},
    {"ENVGATE_GITHUB_CONCURRENCY", K_U64, "24", 1, 100, EG_ROLE_WORKER, 0,
     F(github_concurrency)},
    {"ENVGATE_MAX_ATTEMPTS", K_U64, "8", 1, 100, EG_ROLE_WORKER, 0,
     F(max_attempts)},
    {"ENVGATE_MAX_BODY_BYTES", K_U64, "1048576", 1024, 26214400,
     EG_ROLE_INGRESS, 0, F(max_body_bytes)},
    {"ENVGATE_ENQUEUE_TIMEOUT_MS", K_U64, "5000", 100, 9000, EG_ROLE_INGRESS, 0,
     F(enqueue_timeout_ms)},
    {"ENVGATE_SHUTDOWN_TIMEOUT_MS", K_U64, "20000", 100, 600000, ALL_ROLES, 0,
     F(shutdown_timeout_ms)},
    {"ENVGATE_LOG_LEVEL", K_LEVEL, "info", 0, 0, ALL_ROLES, 0, F(log_level)},
};

#undef F

struct loader {
  eg_config_getenv_fn getenv_fn;
  void *getenv_ud;
  eg_config_report_fn report;
  void *report_ud;
  int problems;
  bool oom;
};

static const char *default_getenv(const char *name, void *ud) {
  (void)ud;
  return getenv(name);
}

static void problem(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct loader *ld, const char *fmt, ...) {
  char line[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  /* Values are echoed: keep the report one line whatever they hold. */
  for (char *p = line; *p != '\0'; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7F)
      *p = '?';
  ld->problems++;
  if (ld->report != NULL)
    ld->report(line, ld->report_ud);
}

static const char *lookup(struct loader *ld, const char *name) {
  const char *v = ld->getenv_fn(name, ld->getenv_ud);
  return (v != NULL && v[0] != '\0') ? v : NULL;
}

static bool is_secret(enum kind k) {
  return k == K_SECRET_LIST || k == K_REDIS_URL;
}

/* Reads a whole small file; the caller frees (and wipes) it. */
static char *read_small_file(const char *path, int *err) {
  FILE *fp = fopen(path, "rb");
  char *buf;
  size_t n;

  *err = 0;
  if (fp == NULL) {
    *err = errno;
    return NULL;
  }
  buf = malloc(SECRET_FILE_MAX + 1);
  if (buf == NULL) {
    fclose(fp);
    *err = ENOMEM;
    return NULL;
  }
  n = fread(buf, 1, SECRET_FILE_MAX + 1, fp);
  fclose(fp);
  if (n > SECRET_FILE_MAX) {
    OPENSSL_cleanse(buf, SECRET_FILE_MAX + 1);
    free(buf);
    *err = EFBIG;
    return NULL;
  }
  buf[n] = '\0';
  return buf;
}

static void wipe_free(char *s) {
  if (s == NULL)
    return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}

/* Splits text into non-empty lines (CR stripped) as the secret list. */
static int split_secrets(struct loader *ld,
                         const struct entry *e,
                         const char *text,
                         char ***out,
                         size_t *nout) {
  size_t cap = 0, n = 0;
  char **list = NULL;
  const char *p = text;

  while (*p != '\0') {
    const char *eol = strchr(p, '\n');
    size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
    size_t use = len;

    while (use > 0 &&
           (p[use - 1] == '\r' || p[use - 1] == ' ' || p[use - 1] == '\t'))
      use--;
    if (use > 0) {
      if (n == cap) {
        size_t ncap = cap == 0 ? 4 : cap * 2;
        char **nl = realloc(list, ncap * sizeof(*nl));
        if (nl == NULL)
          goto oom;
        list = nl;
        cap = ncap;
      }
      list[n] = strndup(p, use);
      if (list[n] == NULL)
        goto oom;
      n++;
    }
    p += len;
    if (*p == '\n')
      p++;
  }
  if (n == 0) {
    problem(ld, "%s: holds no secret", e->name);
    free(list);
    return EG_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    if (strlen(list[i]) < 16) {
      problem(ld, "%s: secret %zu is shorter than 16 characters", e->name,
              i + 1);
      for (size_t j = 0; j < n; j++)
        wipe_free(list[j]);
      free(list);
      return EG_EINVAL;
    }
  }
  *out = list;
  *nout = n;
  return EG_OK;
oom:
  for (size_t j = 0; j < n; j++)
    wipe_free(list[j]);
  free(list);
  ld->oom = true;
  return EG_ENOMEM;
}

/* Kafka's legal topic characters. */
static bool valid_topic_prefix(const char *s) {
  size_t n = strlen(s);

  return n <= TOPIC_PREFIX_MAX &&
         strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789._-") == n;
}

/* What the worker's Redis pool accepts (eg_redis_url_parse), and on top of
 * it the contract's form: an explicit port, a database 0..15. */
static bool valid_redis_url(const char *url) {
  eg_redis_url_t parsed;
  const char *rest;
  const char *at;
  const char *slash;
  char hostport[300];
  char host[256];
  uint16_t port;
  uint64_t db;
  size_t len;
  int rc;

  if (strncmp(url, "redis://", 8) != 0)
    return false;
  rc = eg_redis_url_parse(url, &parsed, NULL, 0);
  OPENSSL_cleanse(&parsed, sizeof(parsed));
  if (rc != EG_OK)
    return false;
  rest = url + 8;
  slash = strchr(rest, '/');
  at = strrchr(rest, '@');
  if (at != NULL && (slash == NULL || at < slash))
    rest = at + 1;
  len = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
  if (len == 0 || len >= sizeof(hostport))
    return false;
  memcpy(hostport, rest, len);
  hostport[len] = '\0';
  if (eg_parse_hostport(hostport, host, sizeof(host), &port) != EG_OK)
    return false;
  if (slash != NULL && slash[1] != '\0' &&
      eg_parse_u64(slash + 1, 0, 15, &db) != EG_OK)
    return false;
  return true;
}

/* Checks one plain (non-secret) value and stores it. */
static void load_value(struct loader *ld,
                       const struct entry *e,
                       const char *v,
                       eg_config_t *cfg) {
  char *base = (char *)cfg + e->offset;
  char errbuf[EG_ERRBUF_LEN];
  char host[256];
  uint16_t port;
  struct stat st;
  int rc;

  switch (e->kind) {
  case K_STRING:
  case K_PREFIX:
  case K_LISTEN:
  case K_URL:
  case K_FILE:
    if (e->kind == K_LISTEN &&
        eg_parse_listen(v, host, sizeof(host), &port) != EG_OK) {
      problem(ld, "%s=%s: must be host:port with port 0..65535 (0: any free)",
              e->name, v);
      return;
    }
    if (e->kind == K_PREFIX && !valid_topic_prefix(v)) {
      problem(ld,
              "%s=%s: must be at most %d characters of [A-Za-z0-9._-] "
              "(Kafka topic names)",
              e->name, v, TOPIC_PREFIX_MAX);
      return;
    }
    if (e->kind == K_URL &&
        eg_parse_base_url(v, errbuf, sizeof(errbuf)) != EG_OK) {
      problem(ld, "%s=%s: %s", e->name, v, errbuf);
      return;
    }
    if (e->kind == K_FILE &&
        (stat(v, &st) != 0 || !S_ISREG(st.st_mode) || access(v, R_OK) != 0)) {
      problem(ld, "%s=%s: not a readable file", e->name, v);
      return;
    }
    *(char **)base = strdup(v);
    if (*(char **)base == NULL) {
      ld->oom = true;
      return;
    }
    if (e->kind == K_URL) {
      char *s = *(char **)base;
      size_t n = strlen(s);
      while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    }
    return;
  case K_U64:
    rc = eg_parse_u64(v, e->min, e->max, (uint64_t *)base);
    if (rc != EG_OK)
      problem(ld, "%s=%s: must be a whole number between %llu and %llu",
              e->name, v, (unsigned long long)e->min,
              (unsigned long long)e->max);
    return;
  case K_LEVEL:
    if (eg_log_parse_level(v, (eg_log_level_t *)base) != EG_OK)
      problem(ld, "%s=%s: must be debug, info, warn or error", e->name, v);
    return;
  case K_REDIS_URL:
  case K_SECRET_LIST:
    break;
  }
}

/* Reads a secret from NAME or NAME_FILE and stores it. */
static void load_secret(struct loader *ld,
                        const struct entry *e,
                        const char *direct,
                        const char *file,
                        eg_config_t *cfg) {
  char *base = (char *)cfg + e->offset;
  char *text = NULL;
  int err;

  if (file != NULL) {
    text = read_small_file(file, &err);
    if (text == NULL) {
      if (err == ENOMEM)
        ld->oom = true;
      else
        problem(ld, "%s_FILE=%s: cannot read: %s", e->name, file,
                err == EFBIG ? "larger than 64 KiB" : "no such readable file");
      return;
    }
  } else {
    text = strdup(direct);
    if (text == NULL) {
      ld->oom = true;
      return;
    }
  }
  if (e->kind == K_SECRET_LIST) {
    split_secrets(ld, e, text, (char ***)base, &cfg->nwebhook_secrets);
  } else {
    /* A URL in a file usually ends with a newline. */
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
      text[--n] = '\0';
    if (!valid_redis_url(text)) {
      problem(ld, "%s: must be redis://[:password@]host:port[/db]", e->name);
    } else {
      *(char **)base = strdup(text);
      if (*(char **)base == NULL)
        ld->oom = true;
    }
  }
  wipe_free(text);
}

int eg_config_load(eg_config_t *cfg,
                   eg_role_t role,
                   eg_config_getenv_fn getenv_fn,
                   void *getenv_ud,
                   eg_config_report_fn report,
                   void *report_ud) {
  struct loader ld = {getenv_fn != NULL ? getenv_fn : default_getenv,
                      getenv_ud,
                      report,
                      report_ud,
                      0,
                      false};

  if (cfg == NULL || role == 0)
    return EG_EINVAL;
  memset(cfg, 0, sizeof(*cfg));
  cfg->log_level = EG_LOG_INFO;
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    const struct entry *e = &table[i];
    const char *v;

    if ((e->used_by & role) == 0)
      continue;
    v = lookup(&ld, e->name);
    if (is_secret(e->kind)) {
      char fname[96];
      const char *file;

      snprintf(fname, sizeof(fname), "%s_FILE", e->name);
      file = lookup(&ld, fname);
      if (v != NULL && file != NULL) {
        problem(&ld, "%s and %s_FILE: set only one", e->name, e->name);
        continue;
      }
      if (v == NULL && file == NULL) {
        if (e->required & role)
          problem(&ld, "%s (or %s_FILE): required", e->name, e->name);
        else if (e->def != NULL)
          load_secret(&ld, e, e->def, NULL, cfg);
        continue;
      }
      load_secret(&ld, e, v, file, cfg);
      continue;
    }
    if (v == NULL) {
      if (e->required & role) {
        problem(&ld, "%s: required", e->name);
        continue;
      }
      v = e->def;
      if (v == NULL)
        continue;
    }
    load_value(&ld, e, v, cfg);
  }
  if (ld.oom || ld.problems > 0) {
    eg_config_cleanup(cfg);
    return ld.oom ? EG_ENOMEM : EG_EINVAL;
  }
  return EG_OK;
}

void eg_config_log(const eg_config_t *cfg, eg_role_t role) {
  if (cfg == NULL)
    return;
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    const struct entry *e = &table[i];
    const char *base = (const char *)cfg + e->offset;
    char num[32];
    const char *shown;

    if ((e->used_by & role) == 0)
      continue;
    switch (e->kind) {
    case K_SECRET_LIST:
      snprintf(num, sizeof(num), "[%zu redacted]", cfg->nwebhook_secrets);
      shown = num;
      break;
    case K_REDIS_URL:
      shown = *(char *const *)base != NULL ? "[redacted]" : NULL;
      break;
    case K_U64:
      snprintf(num, sizeof(num), "%llu",
               (unsigned long long)*(const uint64_t *)base);
      shown = num;
      break;
    case K_LEVEL: {
      static const char *const names[] = {"debug", "info", "warn", "error"};
      shown = names[*(const eg_log_level_t *)base];
      break;
    }
    default:
      shown = *(char *const *)base;
      break;
    }
    eg_log(EG_LOG_INFO, "config", EG_LSTR("name", e->name),
           EG_LSTR("value", shown));
  }
}

void eg_config_cleanup(eg_config_t *cfg) {
  if (cfg == NULL)
    return;
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    const struct entry *e = &table[i];
    char *base = (char *)cfg + e->offset;

    if (e->kind == K_SECRET_LIST) {
      char **list = *(char ***)base;
      for (size_t j = 0; list != NULL && j < cfg->nwebhook_secrets; j++)
        wipe_free(list[j]);
      free(list);
      *(char ***)base = NULL;
    } else if (e->kind != K_U64 && e->kind != K_LEVEL) {
      if (is_secret(e->kind))
        wipe_free(*(char **)base);
      else
        free(*(char **)base);
      *(char **)base = NULL;
    }
  }
  cfg->nwebhook_secrets = 0;
}

int eg_config_topic(const eg_config_t *cfg,
                    const char *name,
                    char *out,
                    size_t out_len) {
  int n;

  if (cfg == NULL || name == NULL || out == NULL || out_len == 0)
    return EG_EINVAL;
  n = snprintf(out, out_len, "%s%s",
               cfg->topic_prefix != NULL ? cfg->topic_prefix : "envgate.",
               name);
  if (n < 0 || (size_t)n >= out_len)
    return EG_ERANGE;
  return EG_OK;
}

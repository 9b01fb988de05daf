/* librdkafka configuration and small helpers shared by every Kafka user. */
#include "eg/kafka.h"
#include "eg/error.h"
#include "eg/log.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 4096

struct setting {
  const char *key;
  const char *value;
};

static const struct setting producer_defaults[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"max.in.flight.requests.per.connection", "5"},
    /* Send at once: the ingress answers GitHub only when Kafka acknowledges,
     * so a linger is added latency (bench/ingress: p99 at 4,000 req/s 11.4
     * -> 5.3 ms with 0 instead of 2). Raise it in ENVGATE_KAFKA_CONFIG_FILE
     * to trade latency for CPU. The worker's outcomes linger (below). */
    {"linger.ms", "0"},
    /* A webhook body may be up to ENVGATE_MAX_BODY_BYTES (1 MiB by default)
     * plus headers; the topics allow 2 MiB (docker-compose.yml). */
    {"message.max.bytes", "2097152"},
    {"message.timeout.ms", "30000"},
    {"socket.keepalive.enable", "true"},
};

/* On top of producer_defaults. Measured with bench/worker (1 x 256): worker
 * CPU per decision 1,228 -> 1,084 and 1,102 us, fewer produce requests and
 * wake-ups. */
static const struct setting batch_producer_defaults[] = {
    {"linger.ms", "5"},
};

static const struct setting consumer_defaults[] = {
    {"auto.offset.reset", "earliest"},
    /* Offsets are stored by the worker only once an outcome is durable;
     * librdkafka commits what was stored. */
    {"enable.auto.offset.store", "false"},
    {"enable.auto.commit", "true"},
    {"auto.commit.interval.ms", "1000"},
    {"partition.assignment.strategy", "cooperative-sticky"},
    {"enable.partition.eof", "false"},
    {"socket.keepalive.enable", "true"},
};

static const struct setting reader_defaults[] = {
    {"enable.auto.commit", "false"},
    {"enable.partition.eof", "true"},
    {"auto.offset.reset", "earliest"},
};

/* Keys the extra configuration may not change: they carry our guarantees. */
static const char *const guarded_keys[] = {
    "enable.idempotence",       "acks",     "request.required.acks",
    "enable.auto.offset.store", "group.id", "enable.auto.commit",
    "transactional.id"};

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  eg_log_level_t lvl = level <= 3   ? EG_LOG_ERROR
                       : level <= 4 ? EG_LOG_WARN
                       : level <= 6 ? EG_LOG_INFO
                                    : EG_LOG_DEBUG;
  eg_log(lvl, "kafka", EG_LSTR("client", rd_kafka_name(rk)),
         EG_LSTR("facility", fac), EG_LSTR("detail", buf));
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)opaque;
  eg_log(err == RD_KAFKA_RESP_ERR__FATAL ? EG_LOG_ERROR : EG_LOG_WARN,
         "kafka error", EG_LSTR("client", rd_kafka_name(rk)),
         EG_LSTR("error", rd_kafka_err2name((rd_kafka_resp_err_t)err)),
         EG_LSTR("detail", reason));
}

static int set(rd_kafka_conf_t *conf,
               const char *key,
               const char *value,
               char *errbuf,
               size_t errbuf_len) {
  char rderr[256];

  if (rd_kafka_conf_set(conf, key, value, rderr, sizeof(rderr)) !=
      RD_KAFKA_CONF_OK) {
    eg__seterr(errbuf, errbuf_len, "kafka setting %s: %s", key, rderr);
    return EG_EINVAL;
  }
  return EG_OK;
}

static int apply(rd_kafka_conf_t *conf,
                 const struct setting *s,
                 size_t n,
                 char *errbuf,
                 size_t errbuf_len) {
  for (size_t i = 0; i < n; i++) {
    int rc = set(conf, s[i].key, s[i].value, errbuf, errbuf_len);
    if (rc != EG_OK)
      return rc;
  }
  return EG_OK;
}

static char *trim(char *s) {
  char *end;

  while (*s == ' ' || *s == '\t')
    s++;
  end = s + strlen(s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
                     end[-1] == '\n'))
    *--end = '\0';
  return s;
}

static int apply_file(rd_kafka_conf_t *conf,
                      const char *path,
                      char *errbuf,
                      size_t errbuf_len) {
  FILE *fp = fopen(path, "r");
  char line[LINE_MAX_LEN];
  unsigned lineno = 0;
  int rc = EG_OK;

  if (fp == NULL) {
    eg__seterr(errbuf, errbuf_len, "ENVGATE_KAFKA_CONFIG_FILE=%s: cannot open",
               path);
    return EG_EIO;
  }
  while (rc == EG_OK && fgets(line, sizeof(line), fp) != NULL) {
    char *key, *value, *eq;
    char rderr[256];

    lineno++;
    key = trim(line);
    if (*key == '\0' || *key == '#')
      continue;
    eq = strchr(key, '=');
    if (eq == NULL) {
      eg__seterr(errbuf, errbuf_len, "%s:%u: expected key=value", path, lineno);
      rc = EG_EINVAL;
      break;
    }
    *eq = '\0';
    value = trim(eq + 1);
    key = trim(key);
    for (size_t i = 0; i < sizeof(guarded_keys) / sizeof(guarded_keys[0]);
         i++) {
      if (strcmp(key, guarded_keys[i]) == 0) {
        eg__seterr(errbuf, errbuf_len,
                   "%s:%u: %s is set by envgate and cannot be changed", path,
                   lineno, key);
        rc = EG_EINVAL;
        break;
      }
    }
    if (rc != EG_OK)
      break;
    /* librdkafka's message may quote the value (a password, say): keep
     * only the key in our error. */
    if (rd_kafka_conf_set(conf, key, value, rderr, sizeof(rderr)) !=
        RD_KAFKA_CONF_OK) {
      eg__seterr(errbuf, errbuf_len, "%s:%u: invalid setting for %s", path,
                 lineno, key);
      rc = EG_EINVAL;
    }
  }
  fclose(fp);
  return rc;
}

int eg_kafka_conf_new(const eg_config_t *cfg,
                      eg_kafka_kind_t kind,
                      const char *group_id,
                      rd_kafka_conf_t **out,
                      char *errbuf,
                      size_t errbuf_len) {
  rd_kafka_conf_t *conf;
  int rc;

  if (out == NULL)
    return EG_EINVAL;
  *out = NULL;
  if (cfg == NULL || cfg->kafka_brokers == NULL)
    return EG_EINVAL;
  conf = rd_kafka_conf_new();
  if (conf == NULL)
    return EG_ENOMEM;
  rd_kafka_conf_set_log_cb(conf, on_log);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rc = set(conf, "bootstrap.servers", cfg->kafka_brokers, errbuf, errbuf_len);
  if (rc == EG_OK)
    rc = set(conf, "client.id", "envgate", errbuf, errbuf_len);
  switch (kind) {
  case EG_KAFKA_PRODUCER:
  case EG_KAFKA_BATCH_PRODUCER:
    if (rc == EG_OK)
      rc = apply(conf, producer_defaults,
                 sizeof(producer_defaults) / sizeof(producer_defaults[0]),
                 errbuf, errbuf_len);
    if (rc == EG_OK && kind == EG_KAFKA_BATCH_PRODUCER)
      rc = apply(conf, batch_producer_defaults,
                 sizeof(batch_producer_defaults) /
                     sizeof(batch_producer_defaults[0]),
                 errbuf, errbuf_len);
    break;
  case EG_KAFKA_CONSUMER:
    if (rc == EG_OK)
      rc = apply(conf, consumer_defaults,
                 sizeof(consumer_defaults) / sizeof(consumer_defaults[0]),
                 errbuf, errbuf_len);
    if (rc == EG_OK)
      rc = set(conf, "group.id",
               group_id != NULL ? group_id : EG_KAFKA_WORKER_GROUP, errbuf,
               errbuf_len);
    break;
  case EG_KAFKA_READER:
    if (rc == EG_OK)
      rc = apply(conf, reader_defaults,
                 sizeof(reader_defaults) / sizeof(reader_defaults[0]), errbuf,
                 errbuf_len);
    break;
  default:
    rc = EG_EINVAL;
  }
  if (rc == EG_OK && cfg->kafka_config_file != NULL)
    rc = apply_file(conf, cfg->kafka_config_file, errbuf, errbuf_len);
  if (rc != EG_OK) {
    rd_kafka_conf_destroy(conf);
    return rc;
  }
  *out = conf;
  return EG_OK;
}

int eg_kafka_new(rd_kafka_type_t type,
                 rd_kafka_conf_t *conf,
                 rd_kafka_t **out,
                 char *errbuf,
                 size_t errbuf_len) {
  char rderr[512];
  rd_kafka_t *rk;

  if (out == NULL || conf == NULL) {
    if (conf != NULL)
      rd_kafka_conf_destroy(conf);
    return EG_EINVAL;
  }
  *out = NULL;
  rk = rd_kafka_new(type, conf, rderr, sizeof(rderr));
  if (rk == NULL) {
    rd_kafka_conf_destroy(conf);
    eg__seterr(errbuf, errbuf_len, "kafka client: %s", rderr);
    return EG_EINVAL;
  }
  *out = rk;
  return EG_OK;
}

int eg_kafka_header(const rd_kafka_message_t *msg,
                    const char *name,
                    char *out,
                    size_t out_len) {
  rd_kafka_headers_t *hdrs = NULL;
  const void *val;
  size_t len;

  if (msg == NULL || name == NULL || out == NULL || out_len == 0)
    return EG_EINVAL;
  out[0] = '\0';
  if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return EG_ENOENT;
  if (rd_kafka_header_get_last(hdrs, name, &val, &len) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      val == NULL)
    return EG_ENOENT;
  if (len >= out_len)
    return EG_ERANGE;
  memcpy(out, val, len);
  out[len] = '\0';
  return EG_OK;
}

int eg_kafka_ping(rd_kafka_t *rk, int timeout_ms) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t err;

  if (rk == NULL)
    return EG_EINVAL;
  err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return EG_EUNAVAIL;
  rd_kafka_metadata_destroy(md);
  return EG_OK;
}

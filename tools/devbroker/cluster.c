/* The mock cluster. The librdkafka mock API is fire-and-forget for most
 * fault injection and has no getters, so the devbroker remembers what it set
 * in order to answer `status` and to undo it on `clear-errors`. Only the
 * control loop's thread calls in here; librdkafka runs the brokers on its own
 * thread. */
#include "cluster.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka_mock.h>

#include "eg/error.h"
#include "names.h"
#include "util.h"

struct topic {
  char *name;
  int partitions;
  rd_kafka_resp_err_t err; /* set by dbk_cluster_topic_error() */
};

struct dbk_cluster_s {
  rd_kafka_t *rk; /* hosts the mock cluster; never produces anything */
  rd_kafka_mock_cluster_t *mcluster;
  int nbrokers;
  bool down[DBK_MAX_BROKERS + 1]; /* indexed by broker id (1-based) */
  int rtt_ms[DBK_MAX_BROKERS + 1];
  struct topic topics[DBK_MAX_TOPICS];
  size_t ntopics;
  long long last_op_ms; /* when the last request to the mock thread ended */
};

/* Spacing between two requests to the mock cluster's thread. In librdkafka
 * 2.0.2 that thread serves its request queue and only then drains its
 * wake-up pipe, so a request queued in between loses its wake-up and waits
 * for the thread's 1 s poll timeout. Requests sent back to back hit that
 * window often (measured: "rtt all" taking 1 s); a short pause after each
 * one lets the thread drain the pipe first. */
#define OP_SPACING_MS 5

static long long mono_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until OP_SPACING_MS have passed since the previous request. */
static void pace(dbk_cluster_t *c) {
  long long wait = c->last_op_ms + OP_SPACING_MS - mono_ms();

  if (wait > 0) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = wait * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
      ;
  }
}

static void op_done(dbk_cluster_t *c) {
  c->last_op_ms = mono_ms();
}

/* Forwards librdkafka's logs into our JSON lines. Runs on librdkafka's
 * threads, so it only formats and writes (eg_log is one write(2)). */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  eg_log_level_t lvl;

  (void)rk;
  if (level <= 3)
    lvl = EG_LOG_ERROR;
  else if (level == 4)
    lvl = EG_LOG_WARN;
  else if (level <= 6)
    lvl = EG_LOG_INFO;
  else
    lvl = EG_LOG_DEBUG;
  eg_log(lvl, "librdkafka", EG_LSTR("fac", fac), EG_LSTR("text", buf));
}

int dbk_cluster_new(int nbrokers,
                    eg_log_level_t log_level,
                    dbk_cluster_t **out,
                    char *errbuf,
                    size_t errbuf_len) {
  dbk_cluster_t *c = NULL;
  rd_kafka_conf_t *conf = NULL;
  char rderr[512];
  int rc;

  if (out == NULL)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "no output handle");
  *out = NULL;
  if (nbrokers < 1 || nbrokers > DBK_MAX_BROKERS)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len,
                      "brokers=%d: must be between 1 and %d", nbrokers,
                      DBK_MAX_BROKERS);

  c = calloc(1, sizeof(*c));
  conf = rd_kafka_conf_new();
  if (c == NULL || conf == NULL) {
    rc = dbk_seterr(EG_ENOMEM, errbuf, errbuf_len, "out of memory");
    goto fail;
  }
  rd_kafka_conf_set_log_cb(conf, log_cb);
  /* The hosting handle talks to no broker: it exists because the mock API
   * needs one for its threads and bookkeeping. */
  if (rd_kafka_conf_set(conf, "client.id", "envgate-devbroker", rderr,
                        sizeof(rderr)) != RD_KAFKA_CONF_OK ||
      (log_level == EG_LOG_DEBUG &&
       rd_kafka_conf_set(conf, "debug", "mock", rderr, sizeof(rderr)) !=
           RD_KAFKA_CONF_OK)) {
    rc = dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "librdkafka config: %s",
                    rderr);
    goto fail;
  }
  c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
  if (c->rk == NULL) {
    rc = dbk_seterr(EG_EUNAVAIL, errbuf, errbuf_len, "rd_kafka_new: %s", rderr);
    goto fail;
  }
  conf = NULL; /* owned by c->rk now */
  c->mcluster = rd_kafka_mock_cluster_new(c->rk, nbrokers);
  if (c->mcluster == NULL) {
    rc = dbk_seterr(EG_EUNAVAIL, errbuf, errbuf_len,
                    "rd_kafka_mock_cluster_new failed (no free ports?)");
    goto fail;
  }
  c->nbrokers = nbrokers;
  *out = c;
  return EG_OK;

fail:
  if (conf != NULL)
    rd_kafka_conf_destroy(conf);
  dbk_cluster_free(c);
  return rc;
}

void dbk_cluster_free(dbk_cluster_t *c) {
  if (c == NULL)
    return;
  /* This takes up to 1 s: librdkafka 2.0.2 joins an internal broker thread
   * that notices the shutdown on its next 1 s queue timeout. */
  if (c->mcluster != NULL) {
    pace(c);
    rd_kafka_mock_cluster_destroy(c->mcluster);
  }
  if (c->rk != NULL)
    rd_kafka_destroy(c->rk);
  for (size_t i = 0; i < c->ntopics; i++)
    free(c->topics[i].name);
  free(c);
}

const char *dbk_cluster_bootstraps(const dbk_cluster_t *c) {
  return rd_kafka_mock_cluster_bootstraps(c->mcluster);
}

int dbk_cluster_nbrokers(const dbk_cluster_t *c) {
  return c->nbrokers;
}

static struct topic *find_topic(const dbk_cluster_t *c, const char *name) {
  for (size_t i = 0; i < c->ntopics; i++)
    if (strcmp(c->topics[i].name, name) == 0)
      return (struct topic *)&c->topics[i];
  return NULL;
}

bool dbk_cluster_has_topic(const dbk_cluster_t *c, const char *topic) {
  return c != NULL && topic != NULL && find_topic(c, topic) != NULL;
}

int dbk_cluster_create_topic(dbk_cluster_t *c,
                             const char *topic,
                             int partitions,
                             char *errbuf,
                             size_t errbuf_len) {
  struct topic *t;
  rd_kafka_resp_err_t err;
  int rf;

  if (c == NULL || topic == NULL || !dbk_is_topic_name(topic))
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len,
                      "topic name '%s': need 1..249 of [A-Za-z0-9._-]",
                      topic != NULL ? topic : "");
  if (partitions < 1 || partitions > DBK_MAX_PARTITIONS)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len,
                      "partitions=%d: must be between 1 and %d", partitions,
                      DBK_MAX_PARTITIONS);
  if (find_topic(c, topic) != NULL)
    return dbk_seterr(EG_EEXIST, errbuf, errbuf_len, "topic %s exists", topic);
  if (c->ntopics == DBK_MAX_TOPICS)
    return dbk_seterr(EG_ERANGE, errbuf, errbuf_len, "at most %d topics",
                      DBK_MAX_TOPICS);

  t = &c->topics[c->ntopics];
  t->name = strdup(topic);
  if (t->name == NULL)
    return dbk_seterr(EG_ENOMEM, errbuf, errbuf_len, "out of memory");
  rf = c->nbrokers < 3 ? c->nbrokers : 3;
  pace(c);
  err = rd_kafka_mock_topic_create(c->mcluster, topic, partitions, rf);
  op_done(c);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    /* The mock may have auto-created it when a client asked for it first. */
    free(t->name);
    t->name = NULL;
    return dbk_seterr(EG_EUNAVAIL, errbuf, errbuf_len, "creating topic %s: %s",
                      topic, rd_kafka_err2str(err));
  }
  t->partitions = partitions;
  t->err = RD_KAFKA_RESP_ERR_NO_ERROR;
  c->ntopics++;
  eg_log(EG_LOG_INFO, "topic created", EG_LSTR("topic", topic),
         EG_LINT("partitions", partitions), EG_LINT("replication_factor", rf));
  return EG_OK;
}

static int check_broker(const dbk_cluster_t *c,
                        int32_t id,
                        char *errbuf,
                        size_t errbuf_len) {
  if (id < 1 || id > c->nbrokers)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "broker %d: ids are 1..%d",
                      (int)id, c->nbrokers);
  return EG_OK;
}

int dbk_cluster_broker_set_up(
    dbk_cluster_t *c, int32_t id, bool up, char *errbuf, size_t errbuf_len) {
  rd_kafka_resp_err_t err;
  int rc;

  if (c == NULL)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "no cluster");
  rc = check_broker(c, id, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  pace(c);
  err = up ? rd_kafka_mock_broker_set_up(c->mcluster, id)
           : rd_kafka_mock_broker_set_down(c->mcluster, id);
  op_done(c);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "broker %d: %s", (int)id,
                      rd_kafka_err2str(err));
  c->down[id] = !up;
  eg_log(EG_LOG_INFO, up ? "broker up" : "broker down", EG_LINT("broker", id));
  return EG_OK;
}

int dbk_cluster_set_rtt(
    dbk_cluster_t *c, int32_t id, int rtt_ms, char *errbuf, size_t errbuf_len) {
  int32_t first = id;
  int32_t last = id;
  int rc;

  if (c == NULL)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "no cluster");
  if (rtt_ms < 0 || rtt_ms > DBK_MAX_RTT_MS)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len,
                      "rtt %d ms: must be between 0 and %d", rtt_ms,
                      DBK_MAX_RTT_MS);
  if (id == -1) {
    first = 1;
    last = c->nbrokers;
  } else {
    rc = check_broker(c, id, errbuf, errbuf_len);
    if (rc != EG_OK)
      return rc;
  }
  for (int32_t b = first; b <= last; b++) {
    rd_kafka_resp_err_t err;

    pace(c);
    err = rd_kafka_mock_broker_set_rtt(c->mcluster, b, rtt_ms);
    op_done(c);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "broker %d: %s", (int)b,
                        rd_kafka_err2str(err));
    c->rtt_ms[b] = rtt_ms;
  }
  eg_log(EG_LOG_INFO, "rtt set", EG_LINT("broker", id),
         EG_LINT("rtt_ms", rtt_ms));
  return EG_OK;
}

void dbk_cluster_push_errors(dbk_cluster_t *c,
                             int16_t apikey,
                             const rd_kafka_resp_err_t *errs,
                             size_t n) {
  if (c == NULL || errs == NULL || n == 0)
    return;
  rd_kafka_mock_push_request_errors_array(c->mcluster, apikey, n, errs);
  eg_log(EG_LOG_INFO, "request errors pushed",
         EG_LSTR("api", dbk_names_apikey_str(apikey)), EG_LINT("count", n),
         EG_LSTR("first", rd_kafka_err2name(errs[0])));
}

void dbk_cluster_clear_errors(dbk_cluster_t *c) {
  if (c == NULL)
    return;
  for (int16_t k = 0; k <= DBK_APIKEY_MAX; k++)
    rd_kafka_mock_clear_request_errors(c->mcluster, k);
  for (size_t i = 0; i < c->ntopics; i++) {
    if (c->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      pace(c);
      rd_kafka_mock_topic_set_error(c->mcluster, c->topics[i].name,
                                    RD_KAFKA_RESP_ERR_NO_ERROR);
      op_done(c);
      c->topics[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
  }
  eg_log(EG_LOG_INFO, "errors cleared");
}

int dbk_cluster_topic_error(dbk_cluster_t *c,
                            const char *topic,
                            rd_kafka_resp_err_t err,
                            char *errbuf,
                            size_t errbuf_len) {
  struct topic *t;

  if (c == NULL || topic == NULL)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "no topic");
  /* The mock would silently auto-create an unknown topic here. */
  t = find_topic(c, topic);
  if (t == NULL)
    return dbk_seterr(EG_ENOENT, errbuf, errbuf_len, "unknown topic %s", topic);
  pace(c);
  rd_kafka_mock_topic_set_error(c->mcluster, topic, err);
  op_done(c);
  t->err = err;
  eg_log(EG_LOG_INFO, "topic error set", EG_LSTR("topic", topic),
         EG_LSTR("error", rd_kafka_err2name(err)));
  return EG_OK;
}

int dbk_cluster_set_leader(dbk_cluster_t *c,
                           const char *topic,
                           int32_t partition,
                           int32_t id,
                           char *errbuf,
                           size_t errbuf_len) {
  struct topic *t;
  rd_kafka_resp_err_t err;
  int rc;

  if (c == NULL || topic == NULL)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "no topic");
  t = find_topic(c, topic);
  if (t == NULL)
    return dbk_seterr(EG_ENOENT, errbuf, errbuf_len, "unknown topic %s", topic);
  if (partition < 0 || partition >= t->partitions)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len,
                      "partition %d: %s has partitions 0..%d", (int)partition,
                      topic, t->partitions - 1);
  rc = check_broker(c, id, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  pace(c);
  err = rd_kafka_mock_partition_set_leader(c->mcluster, topic, partition, id);
  op_done(c);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return dbk_seterr(EG_EINVAL, errbuf, errbuf_len, "set leader: %s",
                      rd_kafka_err2str(err));
  eg_log(EG_LOG_INFO, "leader set", EG_LSTR("topic", topic),
         EG_LINT("partition", partition), EG_LINT("broker", id));
  return EG_OK;
}

/* Appends formatted text to buf, never past buf_len. */
static void append(char *buf, size_t buf_len, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
append(char *buf, size_t buf_len, size_t *len, const char *fmt, ...) {
  va_list ap;
  int n;

  if (*len >= buf_len - 1)
    return;
  va_start(ap, fmt);
  n = vsnprintf(buf + *len, buf_len - *len, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  *len += (size_t)n < buf_len - *len ? (size_t)n : buf_len - *len - 1;
}

void dbk_cluster_status(const dbk_cluster_t *c, char *buf, size_t buf_len) {
  size_t len = 0;
  const char *sep = "";

  if (buf == NULL || buf_len == 0)
    return;
  buf[0] = '\0';
  if (c == NULL)
    return;
  append(buf, buf_len, &len,
         "bootstrap=%s brokers=%d down=", dbk_cluster_bootstraps(c),
         c->nbrokers);
  for (int b = 1; b <= c->nbrokers; b++) {
    if (c->down[b]) {
      append(buf, buf_len, &len, "%s%d", sep, b);
      sep = ",";
    }
  }
  if (*sep == '\0')
    append(buf, buf_len, &len, "-");
  append(buf, buf_len, &len, " rtt=");
  sep = "";
  for (int b = 1; b <= c->nbrokers; b++) {
    if (c->rtt_ms[b] > 0) {
      append(buf, buf_len, &len, "%s%d:%d", sep, b, c->rtt_ms[b]);
      sep = ",";
    }
  }
  if (*sep == '\0')
    append(buf, buf_len, &len, "-");
  append(buf, buf_len, &len, " topics=");
  for (size_t i = 0; i < c->ntopics; i++)
    append(buf, buf_len, &len, "%s%s:%d", i > 0 ? "," : "", c->topics[i].name,
           c->topics[i].partitions);
  append(buf, buf_len, &len, " topic_errors=");
  sep = "";
  for (size_t i = 0; i < c->ntopics; i++) {
    if (c->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      append(buf, buf_len, &len, "%s%s:%s", sep, c->topics[i].name,
             rd_kafka_err2name(c->topics[i].err));
      sep = ",";
    }
  }
  if (*sep == '\0')
    append(buf, buf_len, &len, "-");
}

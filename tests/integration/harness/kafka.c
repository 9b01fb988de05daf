/* Kafka helpers for tests: read a whole topic without a consumer group, and
 * produce with the same guarantees as envgate's producers (idempotent,
 * acks=all). librdkafka's own logs go to <scratch>/kafka-clients.log. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "eg/error.h"

/* Appends librdkafka log lines to the test's client log. Runs on
 * librdkafka's threads; stdio serialises the writes. */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  FILE *f = rd_kafka_opaque(rk);

  if (f != NULL) {
    fprintf(f, "%d %s %s: %s\n", level, rd_kafka_name(rk), fac, buf);
    fflush(f);
  }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *ud) {
  FILE *f = ud;

  if (f != NULL) {
    fprintf(f, "error %s %s: %s\n", rd_kafka_name(rk),
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    fflush(f);
  }
}

/* Creates a client with the common settings, then conf's "key=value"
 * entries. *logf receives the log file to close after rd_kafka_destroy. */
static int new_client(eg_it_t *it,
                      rd_kafka_type_t type,
                      const char *bootstrap,
                      const char *const *settings,
                      rd_kafka_conf_t *conf,
                      FILE **logf,
                      rd_kafka_t **out) {
  char rderr[512];
  rd_kafka_t *rk;

  *out = NULL;
  *logf = fopen(it_kafka_log_path(it), "ae");
  rd_kafka_conf_set_opaque(conf, *logf);
  rd_kafka_conf_set_log_cb(conf, log_cb);
  rd_kafka_conf_set_error_cb(conf, error_cb);
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, rderr,
                        sizeof(rderr)) != RD_KAFKA_CONF_OK)
    goto bad_conf;
  for (size_t i = 0; settings != NULL && settings[i] != NULL; i++) {
    char key[256];
    const char *eq = strchr(settings[i], '=');

    if (eq == NULL || eq == settings[i] ||
        (size_t)(eq - settings[i]) >= sizeof(key)) {
      snprintf(rderr, sizeof(rderr), "'%s' is not key=value", settings[i]);
      goto bad_conf;
    }
    memcpy(key, settings[i], (size_t)(eq - settings[i]));
    key[eq - settings[i]] = '\0';
    if (rd_kafka_conf_set(conf, key, eq + 1, rderr, sizeof(rderr)) !=
        RD_KAFKA_CONF_OK)
      goto bad_conf;
  }
  rk = rd_kafka_new(type, conf, rderr, sizeof(rderr));
  if (rk == NULL)
    goto bad_conf;
  *out = rk;
  return EG_OK;

bad_conf:
  rd_kafka_conf_destroy(conf);
  if (*logf != NULL)
    fclose(*logf);
  *logf = NULL;
  return it_fail(it, EG_EINVAL, "kafka client config: %s", rderr);
}

static void close_log(FILE *f) {
  if (f != NULL)
    fclose(f);
}

/* ---- consume ---- */

void eg_it_kafka_msgs_cleanup(eg_it_kafka_msgs_t *msgs) {
  if (msgs == NULL)
    return;
  for (size_t i = 0; i < msgs->n; i++) {
    eg_it_kafka_msg_t *m = &msgs->v[i];
    free(m->key);
    free(m->value);
    for (size_t h = 0; h < m->nheaders; h++) {
      free(m->headers[h].name);
      free(m->headers[h].value);
    }
    free(m->headers);
  }
  free(msgs->v);
  msgs->v = NULL;
  msgs->n = 0;
}

/* Copies n bytes and a NUL; NULL data stays NULL. @returns false on OOM. */
static bool dup_bytes(const void *data, size_t n, char **out) {
  *out = NULL;
  if (data == NULL)
    return true;
  *out = malloc(n + 1);
  if (*out == NULL)
    return false;
  memcpy(*out, data, n);
  (*out)[n] = '\0';
  return true;
}

static bool copy_message(const rd_kafka_message_t *rkm, eg_it_kafka_msg_t *m) {
  rd_kafka_headers_t *hdrs = NULL;
  rd_kafka_timestamp_type_t tstype;

  memset(m, 0, sizeof(*m));
  m->partition = rkm->partition;
  m->offset = rkm->offset;
  m->timestamp_ms = rd_kafka_message_timestamp(rkm, &tstype);
  m->key_len = rkm->key != NULL ? rkm->key_len : 0;
  m->value_len = rkm->payload != NULL ? rkm->len : 0;
  if (!dup_bytes(rkm->key, rkm->key_len, &m->key) ||
      !dup_bytes(rkm->payload, rkm->len, &m->value))
    return false;
  if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    size_t cnt = rd_kafka_header_cnt(hdrs);
    m->headers = calloc(cnt > 0 ? cnt : 1, sizeof(*m->headers));
    if (m->headers == NULL)
      return false;
    for (size_t i = 0; i < cnt; i++) {
      const char *name;
      const void *val;
      size_t size;

      if (rd_kafka_header_get_all(hdrs, i, &name, &val, &size) !=
          RD_KAFKA_RESP_ERR_NO_ERROR)
        break;
      m->headers[i].name = strdup(name);
      m->headers[i].value_len = val != NULL ? size : 0;
      m->nheaders = i + 1;
      if (m->headers[i].name == NULL ||
          !dup_bytes(val, size, &m->headers[i].value))
        return false;
    }
  }
  return true;
}

static int cmp_msg(const void *a, const void *b) {
  const eg_it_kafka_msg_t *x = a;
  const eg_it_kafka_msg_t *y = b;

  if (x->partition != y->partition)
    return x->partition < y->partition ? -1 : 1;
  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  return 0;
}

/* Partition count of topic from cluster metadata, retried until deadline.
 * @returns EG_OK, EG_ENOENT or EG_ETIMEDOUT. */
static int partition_count(eg_it_t *it,
                           rd_kafka_t *rk,
                           const char *topic,
                           long long deadline,
                           int *count) {
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;

  for (;;) {
    const struct rd_kafka_metadata *md = NULL;
    long long left = deadline - eg_it_now_ms();
    rd_kafka_resp_err_t err;

    if (left <= 0)
      return it_fail(it, EG_ETIMEDOUT, "metadata for %s: %s", topic,
                     rd_kafka_err2str(last));
    err = rd_kafka_metadata(rk, 1, NULL, &md, (int)(left < 2000 ? left : 2000));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      int found = -1;
      for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0 &&
            md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
          found = md->topics[i].partition_cnt;
      rd_kafka_metadata_destroy(md);
      if (found > 0) {
        *count = found;
        return EG_OK;
      }
      return it_fail(it, EG_ENOENT, "topic %s does not exist", topic);
    }
    last = err;
    eg_it_sleep_ms(100);
  }
}

/* Polls rk until every partition reported end-of-partition since its last
 * message and at least min messages were read. */
static int read_to_end(eg_it_t *it,
                       rd_kafka_t *rk,
                       const char *topic,
                       int npart,
                       size_t min,
                       long long deadline,
                       eg_it_kafka_msgs_t *out) {
  bool *at_end = calloc((size_t)npart, sizeof(*at_end));
  size_t cap = 0;
  int ended = 0;
  int rc = EG_OK;

  if (at_end == NULL)
    return it_fail(it, EG_ENOMEM, "out of memory");
  while (ended < npart || out->n < min) {
    rd_kafka_message_t *rkm;

    if (eg_it_now_ms() >= deadline) {
      if (out->n < min)
        rc = it_fail(it, EG_ETIMEDOUT,
                     "%s holds %zu messages, expected at least %zu", topic,
                     out->n, min);
      else
        rc = it_fail(it, EG_ETIMEDOUT,
                     "reading %s: %d of %d partitions read to the end, %zu "
                     "messages so far",
                     topic, ended, npart, out->n);
      break;
    }
    rkm = rd_kafka_consumer_poll(rk, 100);
    if (rkm == NULL)
      continue;
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (rkm->partition >= 0 && rkm->partition < npart &&
          !at_end[rkm->partition]) {
        at_end[rkm->partition] = true;
        ended++;
      }
    } else if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (rkm->partition >= 0 && rkm->partition < npart &&
          at_end[rkm->partition]) {
        at_end[rkm->partition] = false;
        ended--;
      }
      if (out->n == cap) {
        size_t ncap = cap == 0 ? 64 : cap * 2;
        eg_it_kafka_msg_t *nv = realloc(out->v, ncap * sizeof(*nv));
        if (nv == NULL) {
          rd_kafka_message_destroy(rkm);
          rc = it_fail(it, EG_ENOMEM, "out of memory");
          break;
        }
        out->v = nv;
        cap = ncap;
      }
      /* Counted first so that cleanup frees a partial copy. */
      out->n++;
      if (!copy_message(rkm, &out->v[out->n - 1])) {
        rd_kafka_message_destroy(rkm);
        rc = it_fail(it, EG_ENOMEM, "out of memory");
        break;
      }
    } else if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
      rc = it_fail(it, EG_EUNAVAIL, "reading %s: %s", topic,
                   rd_kafka_message_errstr(rkm));
      rd_kafka_message_destroy(rkm);
      break;
    }
    /* Other errors are transient (broker down, leader change): retried. */
    rd_kafka_message_destroy(rkm);
  }
  free(at_end);
  return rc;
}

/* Reads topic from the beginning with one consumer until every partition is
 * read to its end and at least min messages were seen, or deadline. With
 * wait_topic a topic that does not exist yet is waited for. One consumer per
 * call: librdkafka 2.0.2 can abort when short-lived consumers are destroyed
 * in quick succession (librdkafka #3608), so waits do not open one per try. */
static int consume_until(eg_it_t *it,
                         const char *bootstrap,
                         const char *topic,
                         size_t min,
                         bool wait_topic,
                         long long deadline,
                         eg_it_kafka_msgs_t *out) {
  static const char *const settings[] = {
      "enable.partition.eof=true",      "enable.auto.commit=false",
      "enable.auto.offset.store=false", "fetch.wait.max.ms=50",
      "reconnect.backoff.max.ms=1000",  NULL};
  rd_kafka_topic_partition_list_t *parts = NULL;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk = NULL;
  rd_kafka_resp_err_t err;
  FILE *logf = NULL;
  char group[96];
  char rderr[256];
  int npart = 0;
  int rc;

  if (out == NULL)
    return it_fail(it, EG_EINVAL, "eg_it_kafka_consume_all: no output");
  memset(out, 0, sizeof(*out));
  if (it == NULL || bootstrap == NULL || topic == NULL)
    return it_fail(it, EG_EINVAL, "eg_it_kafka_consume_all: bad arguments");
  conf = rd_kafka_conf_new();
  /* assign() needs a group id; nothing is committed to it and it never
   * joins, so no real group is touched. */
  snprintf(group, sizeof(group), "eg-it-reader-%ld-%u", (long)getpid(),
           it->reader_seq++);
  if (rd_kafka_conf_set(conf, "group.id", group, rderr, sizeof(rderr)) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return it_fail(it, EG_EINVAL, "kafka client config: %s", rderr);
  }
  rc = new_client(it, RD_KAFKA_CONSUMER, bootstrap, settings, conf, &logf, &rk);
  if (rc != EG_OK)
    return rc;
  while ((rc = partition_count(it, rk, topic, deadline, &npart)) == EG_ENOENT &&
         wait_topic && eg_it_now_ms() < deadline)
    eg_it_sleep_ms(200);
  if (rc == EG_OK) {
    parts = rd_kafka_topic_partition_list_new(npart);
    for (int p = 0; p < npart; p++)
      rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(rk, parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      rc = it_fail(it, EG_EUNAVAIL, "assign %s: %s", topic,
                   rd_kafka_err2str(err));
  }
  if (rc == EG_OK)
    rc = read_to_end(it, rk, topic, npart, min, deadline, out);
  if (parts != NULL)
    rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  close_log(logf);
  if (rc != EG_OK) {
    eg_it_kafka_msgs_cleanup(out);
    return rc;
  }
  if (out->n > 1)
    qsort(out->v, out->n, sizeof(*out->v), cmp_msg);
  return EG_OK;
}

int eg_it_kafka_consume_all(eg_it_t *it,
                            const char *bootstrap,
                            const char *topic,
                            int timeout_ms,
                            eg_it_kafka_msgs_t *out) {
  return consume_until(it, bootstrap, topic, 0, false,
                       eg_it_now_ms() + eg_it_timeout_ms(timeout_ms), out);
}

int eg_it_kafka_wait_count(eg_it_t *it,
                           const char *bootstrap,
                           const char *topic,
                           size_t min,
                           int timeout_ms,
                           eg_it_kafka_msgs_t *out) {
  if (out == NULL)
    return it_fail(it, EG_EINVAL, "eg_it_kafka_wait_count: no output");
  return consume_until(it, bootstrap, topic, min, true,
                       eg_it_now_ms() + eg_it_timeout_ms(timeout_ms), out);
}

const eg_it_kafka_header_t *eg_it_kafka_msg_header(const eg_it_kafka_msg_t *m,
                                                   const char *name) {
  const eg_it_kafka_header_t *found = NULL;

  if (m == NULL || name == NULL)
    return NULL;
  for (size_t i = 0; i < m->nheaders; i++)
    if (strcmp(m->headers[i].name, name) == 0)
      found = &m->headers[i];
  return found;
}

const char *eg_it_kafka_header_str(const eg_it_kafka_msg_t *m,
                                   const char *name) {
  const eg_it_kafka_header_t *h = eg_it_kafka_msg_header(m, name);
  return h != NULL && h->value != NULL ? h->value : "";
}

/* ---- produce ---- */

struct delivery {
  size_t ok;
  size_t failed;
  rd_kafka_resp_err_t first_err;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *ud) {
  struct delivery *d = rkm->_private;

  (void)rk;
  (void)ud;
  if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    d->ok++;
  } else {
    if (d->failed == 0)
      d->first_err = rkm->err;
    d->failed++;
  }
}

/* Builds the headers of rec; the caller owns the result until producev
 * takes it. */
static rd_kafka_headers_t *make_headers(const eg_it_kafka_rec_t *rec) {
  size_t n = 0;
  rd_kafka_headers_t *hdrs;

  while (rec->headers != NULL && rec->headers[n] != NULL)
    n++;
  hdrs = rd_kafka_headers_new(n / 2 + 1);
  for (size_t i = 0; i + 1 < n; i += 2)
    rd_kafka_header_add(hdrs, rec->headers[i], -1, rec->headers[i + 1], -1);
  return hdrs;
}

static rd_kafka_resp_err_t produce_one(rd_kafka_t *rk,
                                       const char *topic,
                                       const eg_it_kafka_rec_t *rec,
                                       struct delivery *d) {
  rd_kafka_headers_t *hdrs = make_headers(rec);
  int32_t partition =
      rec->use_partition ? rec->partition : RD_KAFKA_PARTITION_UA;
  size_t key_len = rec->key != NULL ? strlen(rec->key) : 0;
  size_t value_len = rec->value != NULL ? rec->value_len : 0;
  rd_kafka_resp_err_t err;

  err = rd_kafka_producev(
      rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_KEY(rec->key, key_len),
      RD_KAFKA_V_VALUE((void *)rec->value, value_len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
  /* On failure the headers are still ours. */
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    rd_kafka_headers_destroy(hdrs);
  return err;
}

int eg_it_kafka_produce(eg_it_t *it,
                        const char *bootstrap,
                        const char *topic,
                        const eg_it_kafka_rec_t *recs,
                        size_t n,
                        const char *const *conf_extra,
                        int timeout_ms) {
  static const char *const settings[] = {"enable.idempotence=true", "acks=all",
                                         "linger.ms=5",
                                         "reconnect.backoff.max.ms=1000", NULL};
  int timeout = eg_it_timeout_ms(timeout_ms);
  struct delivery d = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk = NULL;
  FILE *logf = NULL;
  char rderr[256];
  char tmo[32];
  size_t queued = 0;
  int rc;

  if (it == NULL || bootstrap == NULL || topic == NULL ||
      (recs == NULL && n > 0))
    return it_fail(it, EG_EINVAL, "eg_it_kafka_produce: bad arguments");
  conf = rd_kafka_conf_new();
  snprintf(tmo, sizeof(tmo), "%d", timeout);
  rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  if (rd_kafka_conf_set(conf, "message.timeout.ms", tmo, rderr,
                        sizeof(rderr)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return it_fail(it, EG_EINVAL, "kafka client config: %s", rderr);
  }
  /* The fixed settings first, then the caller's, which may override. */
  for (size_t i = 0; settings[i] != NULL; i++) {
    char key[64];
    const char *eq = strchr(settings[i], '=');
    snprintf(key, sizeof(key), "%.*s", (int)(eq - settings[i]), settings[i]);
    rd_kafka_conf_set(conf, key, eq + 1, rderr, sizeof(rderr));
  }
  rc = new_client(it, RD_KAFKA_PRODUCER, bootstrap, conf_extra, conf, &logf,
                  &rk);
  if (rc != EG_OK)
    return rc;

  for (size_t i = 0; i < n; i++) {
    rd_kafka_resp_err_t err;
    long long deadline = eg_it_now_ms() + timeout;

    while ((err = produce_one(rk, topic, &recs[i], &d)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL &&
           eg_it_now_ms() < deadline)
      rd_kafka_poll(rk, 50);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rc = it_fail(it, EG_EUNAVAIL, "produce to %s: %s", topic,
                   rd_kafka_err2str(err));
      break;
    }
    queued++;
  }
  /* Delivery reports arrive within message.timeout.ms; the extra second
   * covers the report itself. */
  rd_kafka_flush(rk, timeout + 1000);
  if (rd_kafka_outq_len(rk) > 0)
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk, 0);
  if (rc == EG_OK && d.ok != queued) {
    size_t failed = queued - d.ok;
    rd_kafka_resp_err_t err =
        d.failed > 0 ? d.first_err : RD_KAFKA_RESP_ERR__TIMED_OUT;
    rc = it_fail(it,
                 err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ||
                         err == RD_KAFKA_RESP_ERR__TIMED_OUT
                     ? EG_ETIMEDOUT
                     : EG_EUNAVAIL,
                 "%zu of %zu messages to %s not delivered: %s", failed, queued,
                 topic, rd_kafka_err2str(err));
  }
  rd_kafka_destroy(rk);
  close_log(logf);
  return rc;
}

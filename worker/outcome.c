/* Producer of the retry, dead-letter and decision topics. Each produce waits
 * for its delivery report: an event is only finished once its outcome is in
 * Kafka. */
#include "outcome.h"

#include "eg/error.h"
#include "eg/kafka.h"
#include "eg/log.h"
#include "eg/timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct wrk_outcome_s {
  rd_kafka_t *rk;
  pthread_t poller;
  atomic_bool stop;
  char retry[256], dlq[256], decisions[256];
};

/* One produce waiting for its delivery report. */
struct waiter {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
  rd_kafka_resp_err_t err;
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  struct waiter *w = msg->_private;

  (void)rk;
  (void)opaque;
  if (w == NULL)
    return;
  pthread_mutex_lock(&w->lock);
  w->done = true;
  w->err = msg->err;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

static void *poll_loop(void *arg) {
  wrk_outcome_t *oc = arg;
  while (!atomic_load(&oc->stop))
    rd_kafka_poll(oc->rk, 50);
  return NULL;
}

int wrk_outcome_new(const eg_config_t *cfg,
                    wrk_outcome_t **out,
                    char *errbuf,
                    size_t errbuf_len) {
  rd_kafka_conf_t *conf = NULL;
  wrk_outcome_t *oc;
  int rc;

  *out = NULL;
  oc = calloc(1, sizeof(*oc));
  if (oc == NULL)
    return EG_ENOMEM;
  rc = eg_kafka_conf_new(cfg, EG_KAFKA_BATCH_PRODUCER, NULL, &conf, errbuf,
                         errbuf_len);
  if (rc == EG_OK) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rc = eg_kafka_new(RD_KAFKA_PRODUCER, conf, &oc->rk, errbuf, errbuf_len);
  }
  if (rc == EG_OK)
    rc = eg_config_topic(cfg, "retry", oc->retry, sizeof(oc->retry));
  if (rc == EG_OK)
    rc = eg_config_topic(cfg, "dlq", oc->dlq, sizeof(oc->dlq));
  if (rc == EG_OK)
    rc =
        eg_config_topic(cfg, "decisions", oc->decisions, sizeof(oc->decisions));
  if (rc == EG_OK) {
    atomic_init(&oc->stop, false);
    if (pthread_create(&oc->poller, NULL, poll_loop, oc) != 0)
      rc = EG_EIO;
  }
  if (rc != EG_OK) {
    if (oc->rk != NULL)
      rd_kafka_destroy(oc->rk);
    free(oc);
    return rc;
  }
  *out = oc;
  return EG_OK;
}

void wrk_outcome_free(wrk_outcome_t *oc, int timeout_ms) {
  if (oc == NULL)
    return;
  rd_kafka_flush(oc->rk, timeout_ms);
  atomic_store(&oc->stop, true);
  pthread_join(oc->poller, NULL);
  if (rd_kafka_outq_len(oc->rk) > 0)
    eg_log(EG_LOG_ERROR, "outcomes not flushed",
           EG_LINT("left", rd_kafka_outq_len(oc->rk)));
  rd_kafka_destroy(oc->rk);
  free(oc);
}

/* Produces and waits for the delivery report; hdrs is consumed. */
static int produce_wait(wrk_outcome_t *oc,
                        const char *topic,
                        const void *key,
                        size_t key_len,
                        const void *value,
                        size_t len,
                        rd_kafka_headers_t *hdrs) {
  struct waiter w = {.done = false};
  rd_kafka_resp_err_t err;

  pthread_mutex_init(&w.lock, NULL);
  pthread_cond_init(&w.cond, NULL);
  err = rd_kafka_producev(
      oc->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
      RD_KAFKA_V_VALUE((void *)value, len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(&w), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(hdrs);
  } else {
    /* The report always comes: message.timeout.ms bounds the wait. */
    pthread_mutex_lock(&w.lock);
    while (!w.done)
      pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    err = w.err;
  }
  pthread_cond_destroy(&w.cond);
  pthread_mutex_destroy(&w.lock);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    eg_log(EG_LOG_WARN, "outcome produce failed", EG_LSTR("topic", topic),
           EG_LSTR("error", rd_kafka_err2name(err)));
    return EG_EUNAVAIL;
  }
  return EG_OK;
}

/* The original headers without our own (a retried retry must not carry two
 * envgate-attempt headers). */
static rd_kafka_headers_t *copy_headers(const rd_kafka_message_t *msg) {
  rd_kafka_headers_t *src = NULL;
  rd_kafka_headers_t *dst;

  if (rd_kafka_message_headers(msg, &src) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      src == NULL)
    return rd_kafka_headers_new(8);
  dst = rd_kafka_headers_copy(src);
  if (dst == NULL)
    return NULL;
  static const char *const ours[] = {
      "envgate-attempt",    "envgate-not-before",  "envgate-last-error",
      "envgate-first-seen", "envgate-error-class", "envgate-error",
      "envgate-attempts",   "envgate-last-status"};
  for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
    rd_kafka_header_remove(dst, ours[i]);
  return dst;
}

static void add_num(rd_kafka_headers_t *h, const char *name, long long v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%lld", v);
  rd_kafka_header_add(h, name, -1, buf, -1);
}

int wrk_outcome_retry(wrk_outcome_t *oc,
                      const rd_kafka_message_t *msg,
                      unsigned attempt,
                      int64_t not_before_ms,
                      const char *error) {
  rd_kafka_headers_t *h = copy_headers(msg);

  if (h == NULL)
    return EG_ENOMEM;
  add_num(h, "envgate-attempt", attempt);
  add_num(h, "envgate-not-before", not_before_ms);
  rd_kafka_header_add(h, "envgate-last-error", -1, error, -1);
  return produce_wait(oc, oc->retry, msg->key, msg->key_len, msg->payload,
                      msg->len, h);
}

int wrk_outcome_dead_letter(wrk_outcome_t *oc,
                            const rd_kafka_message_t *msg,
                            const char *error_class,
                            const char *error,
                            unsigned attempts,
                            int last_status) {
  rd_kafka_headers_t *h = copy_headers(msg);
  char first_seen[64] = "";
  rd_kafka_headers_t *src = NULL;
  const void *v;
  size_t vlen;

  if (h == NULL)
    return EG_ENOMEM;
  /* First seen: when the ingress received it, else now. */
  if (rd_kafka_message_headers(msg, &src) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      rd_kafka_header_get_last(src, "received-at", &v, &vlen) ==
          RD_KAFKA_RESP_ERR_NO_ERROR &&
      vlen < sizeof(first_seen)) {
    memcpy(first_seen, v, vlen);
    first_seen[vlen] = '\0';
  } else {
    eg_time_rfc3339(eg_time_epoch_ms(), first_seen, sizeof(first_seen));
  }
  rd_kafka_header_add(h, "envgate-error-class", -1, error_class, -1);
  rd_kafka_header_add(h, "envgate-error", -1, error, -1);
  add_num(h, "envgate-attempts", attempts);
  rd_kafka_header_add(h, "envgate-first-seen", -1, first_seen, -1);
  add_num(h, "envgate-last-status", last_status);
  return produce_wait(oc, oc->dlq, msg->key, msg->key_len, msg->payload,
                      msg->len, h);
}

int wrk_outcome_decision(wrk_outcome_t *oc,
                         const char *key,
                         const char *json,
                         size_t len) {
  rd_kafka_headers_t *h = rd_kafka_headers_new(1);

  if (h == NULL)
    return EG_ENOMEM;
  return produce_wait(oc, oc->decisions, key, strlen(key), json, len, h);
}

/* Topic replay with librdkafka's simple consumer: per-partition start and
 * end offsets are fixed before reading, so the read is bounded and needs no
 * group coordinator (no group ACLs, no offsets committed anywhere). */
#include "eg/topic_reader.h"
#include "eg/error.h"
#include "eg/timeutil.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 30000
#define POLL_MS            100
#define PROGRESS_EVERY     256

struct eg_topic_reader_s {
  rd_kafka_t *rk;
};

struct part {
  int64_t low;   /* low watermark when the read began */
  int64_t start; /* first offset to read */
  int64_t end;   /* high watermark when the read began */
  bool probe;    /* the time lookup said "nothing": check the last message */
  bool started;  /* consume_start succeeded: must be stopped */
  bool done;
};

struct read {
  eg_topic_reader_t *tr;
  const char *topic;
  const eg_topic_reader_opts_t *opts;
  rd_kafka_topic_t *rkt;
  rd_kafka_queue_t *queue;
  struct part *parts;
  int nparts;
  long long deadline; /* moves forward whenever something progresses */
  int timeout_ms;
};

static void touch(struct read *rd) {
  rd->deadline = (long long)eg_time_mono_ms() + rd->timeout_ms;
}

/* Time left before the deadline, capped so that stop is polled often. */
static int slice_ms(const struct read *rd) {
  long long left = rd->deadline - (long long)eg_time_mono_ms();

  if (left <= 0)
    return 0;
  return left < 1000 ? (int)left : 1000;
}

static bool stopped(const struct read *rd) {
  return rd->opts->stop != NULL && rd->opts->stop(rd->opts->stop_ud);
}

int eg_topic_reader_new(rd_kafka_conf_t *conf,
                        eg_topic_reader_t **out,
                        char *errbuf,
                        size_t errbuf_len) {
  eg_topic_reader_t *tr;
  char rderr[512];

  if (out == NULL || conf == NULL) {
    if (conf != NULL)
      rd_kafka_conf_destroy(conf);
    if (out != NULL)
      *out = NULL;
    return EG_EINVAL;
  }
  *out = NULL;
  tr = calloc(1, sizeof(*tr));
  if (tr == NULL) {
    rd_kafka_conf_destroy(conf);
    return EG_ENOMEM;
  }
  tr->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
  if (tr->rk == NULL) {
    rd_kafka_conf_destroy(conf);
    free(tr);
    eg__seterr(errbuf, errbuf_len, "kafka client: %s", rderr);
    return EG_EINVAL;
  }
  *out = tr;
  return EG_OK;
}

rd_kafka_t *eg_topic_reader_handle(eg_topic_reader_t *tr) {
  return tr != NULL ? tr->rk : NULL;
}

void eg_topic_reader_free(eg_topic_reader_t *tr) {
  if (tr == NULL)
    return;
  rd_kafka_destroy(tr->rk);
  free(tr);
}

/* Learns the partition count; retries transient errors until the deadline. */
static int load_metadata(struct read *rd, char *errbuf, size_t errbuf_len) {
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;

  for (;;) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;
    int slice;

    if (stopped(rd))
      return EG_EAGAIN;
    slice = slice_ms(rd);
    if (slice == 0)
      break;
    err = rd_kafka_metadata(rd->tr->rk, 0, rd->rkt, &md, slice);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1)
        err = md->topics[0].err;
      else
        err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          md->topics[0].partition_cnt > 0) {
        rd->nparts = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return EG_OK;
      }
      rd_kafka_metadata_destroy(md);
      if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
        eg__seterr(errbuf, errbuf_len, "topic %s does not exist", rd->topic);
        return EG_ENOENT;
      }
      if (err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
        eg__seterr(errbuf, errbuf_len, "topic %s: %s", rd->topic,
                   rd_kafka_err2str(err));
        return EG_EUNAVAIL;
      }
    }
    last = err;
    /* Leader elections and a cluster still starting answer with errors
     * that go away: wait a little and ask again. */
    if (err != RD_KAFKA_RESP_ERR__TIMED_OUT) {
      struct timespec ts = {0, POLL_MS * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
  eg__seterr(errbuf, errbuf_len, "topic %s: no metadata within %d ms (%s)",
             rd->topic, rd->timeout_ms,
             last == RD_KAFKA_RESP_ERR_NO_ERROR ? "no answer"
                                                : rd_kafka_err2str(last));
  return EG_ETIMEDOUT;
}

/* Fixes the end of every partition and where to start. */
static int load_offsets(struct read *rd, char *errbuf, size_t errbuf_len) {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_topic_partition_list_t *times;

  for (int p = 0; p < rd->nparts; p++) {
    int64_t lo = 0, hi = 0;

    for (;;) {
      int slice;

      if (stopped(rd))
        return EG_EAGAIN;
      slice = slice_ms(rd);
      if (slice == 0) {
        eg__seterr(errbuf, errbuf_len,
                   "topic %s partition %d: no offsets within %d ms (%s)",
                   rd->topic, p, rd->timeout_ms, rd_kafka_err2str(err));
        return EG_ETIMEDOUT;
      }
      err = rd_kafka_query_watermark_offsets(rd->tr->rk, rd->topic, p, &lo, &hi,
                                             slice);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        break;
      if (err != RD_KAFKA_RESP_ERR__TIMED_OUT) {
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
      }
    }
    rd->parts[p].low = lo;
    rd->parts[p].start = lo;
    rd->parts[p].end = hi;
    touch(rd);
  }
  if (rd->opts->since_ms <= 0)
    return EG_OK;

  times = rd_kafka_topic_partition_list_new(rd->nparts);
  if (times == NULL)
    return EG_ENOMEM;
  for (int p = 0; p < rd->nparts; p++)
    rd_kafka_topic_partition_list_add(times, rd->topic, p)->offset =
        rd->opts->since_ms;
  for (;;) {
    int slice;

    if (stopped(rd)) {
      rd_kafka_topic_partition_list_destroy(times);
      return EG_EAGAIN;
    }
    slice = slice_ms(rd);
    if (slice == 0) {
      rd_kafka_topic_partition_list_destroy(times);
      eg__seterr(errbuf, errbuf_len,
                 "topic %s: no offsets for the start time within %d ms (%s)",
                 rd->topic, rd->timeout_ms, rd_kafka_err2str(err));
      return EG_ETIMEDOUT;
    }
    err = rd_kafka_offsets_for_times(rd->tr->rk, times, slice);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < times->cnt && err == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
        err = times->elems[i].err;
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
      break;
    /* Ask again with the timestamps: a failed lookup overwrote them. */
    for (int i = 0; i < times->cnt; i++) {
      times->elems[i].offset = rd->opts->since_ms;
      times->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (err != RD_KAFKA_RESP_ERR__TIMED_OUT) {
      struct timespec ts = {0, POLL_MS * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
  for (int i = 0; i < times->cnt; i++) {
    struct part *pt = &rd->parts[times->elems[i].partition];
    int64_t off = times->elems[i].offset;

    if (off < 0) {
      /* -1 (end) means no message at or after the time, or a broker that
       * cannot look times up (librdkafka's mock cluster answers -1 to
       * every lookup): probe_partitions() tells which. */
      pt->probe = pt->end > pt->start;
      continue;
    }
    if (off > pt->end)
      off = pt->end;
    if (off > pt->start)
      pt->start = off;
  }
  rd_kafka_topic_partition_list_destroy(times);
  touch(rd);
  return EG_OK;
}

/* Reads the last message of each partition whose time lookup said "none":
 * older than the start time means there is nothing to read; otherwise the
 * lookup cannot be trusted and the whole partition is read and filtered. */
static int probe_partitions(struct read *rd, char *errbuf, size_t errbuf_len) {
  rd_kafka_queue_t *queue;
  int pending = 0, rc = EG_OK;

  for (int p = 0; p < rd->nparts; p++)
    pending += rd->parts[p].probe;
  if (pending == 0)
    return EG_OK;
  queue = rd_kafka_queue_new(rd->tr->rk);
  if (queue == NULL)
    return EG_ENOMEM;
  for (int p = 0; p < rd->nparts && rc == EG_OK; p++) {
    struct part *pt = &rd->parts[p];

    if (!pt->probe)
      continue;
    if (rd_kafka_consume_start_queue(rd->rkt, p, pt->end - 1, queue) != 0) {
      eg__seterr(errbuf, errbuf_len, "topic %s partition %d: cannot start: %s",
                 rd->topic, p, rd_kafka_err2str(rd_kafka_last_error()));
      rc = EG_EUNAVAIL;
      break;
    }
    pt->started = true;
  }
  touch(rd);
  while (rc == EG_OK && pending > 0) {
    rd_kafka_message_t *msg;
    struct part *pt;

    if (stopped(rd)) {
      rc = EG_EAGAIN;
      break;
    }
    if ((long long)eg_time_mono_ms() >= rd->deadline) {
      eg__seterr(errbuf, errbuf_len, "topic %s: no last message within %d ms",
                 rd->topic, rd->timeout_ms);
      rc = EG_ETIMEDOUT;
      break;
    }
    msg = rd_kafka_consume_queue(queue, POLL_MS);
    if (msg == NULL)
      continue;
    if (msg->partition >= 0 && msg->partition < rd->nparts &&
        rd->parts[msg->partition].probe) {
      pt = &rd->parts[msg->partition];
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR ||
          msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR
                         ? rd_kafka_message_timestamp(msg, &tstype)
                         : -1;

        if (ts >= 0 && ts < rd->opts->since_ms)
          pt->start = pt->end;
        else
          pt->start = pt->low;
        pt->probe = false;
        pending--;
        touch(rd);
      }
    }
    rd_kafka_message_destroy(msg);
  }
  for (int p = 0; p < rd->nparts; p++) {
    if (rd->parts[p].started)
      rd_kafka_consume_stop(rd->rkt, p);
    rd->parts[p].started = false;
  }
  rd_kafka_queue_destroy(queue);
  return rc;
}

static int start_partitions(struct read *rd, char *errbuf, size_t errbuf_len) {
  for (int p = 0; p < rd->nparts; p++) {
    struct part *pt = &rd->parts[p];

    if (pt->start >= pt->end) {
      pt->done = true;
      continue;
    }
    if (rd_kafka_consume_start_queue(rd->rkt, p, pt->start, rd->queue) != 0) {
      eg__seterr(errbuf, errbuf_len, "topic %s partition %d: cannot start: %s",
                 rd->topic, p, rd_kafka_err2str(rd_kafka_last_error()));
      return EG_EUNAVAIL;
    }
    pt->started = true;
  }
  return EG_OK;
}

static bool all_done(const struct read *rd) {
  for (int p = 0; p < rd->nparts; p++)
    if (!rd->parts[p].done)
      return false;
  return true;
}

static void progress(const struct read *rd, uint64_t done, uint64_t total) {
  if (rd->opts->progress != NULL)
    rd->opts->progress(rd->topic, done, total, rd->opts->progress_ud);
}

static int consume(struct read *rd,
                   eg_topic_reader_msg_fn fn,
                   void *ud,
                   char *errbuf,
                   size_t errbuf_len) {
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;
  uint64_t total = 0, done = 0;

  for (int p = 0; p < rd->nparts; p++)
    if (rd->parts[p].end > rd->parts[p].start)
      total += (uint64_t)(rd->parts[p].end - rd->parts[p].start);
  progress(rd, 0, total);
  touch(rd);
  while (!all_done(rd)) {
    rd_kafka_message_t *msg;
    struct part *pt;
    int rc = EG_OK;

    if (stopped(rd))
      return EG_EAGAIN;
    if ((long long)eg_time_mono_ms() >= rd->deadline) {
      eg__seterr(errbuf, errbuf_len,
                 "topic %s: no progress within %d ms (%llu of %llu read; %s)",
                 rd->topic, rd->timeout_ms, (unsigned long long)done,
                 (unsigned long long)total,
                 last == RD_KAFKA_RESP_ERR_NO_ERROR ? "no answer"
                                                    : rd_kafka_err2str(last));
      return EG_ETIMEDOUT;
    }
    msg = rd_kafka_consume_queue(rd->queue, POLL_MS);
    if (msg == NULL)
      continue;
    if (msg->partition < 0 || msg->partition >= rd->nparts) {
      rd_kafka_message_destroy(msg);
      continue;
    }
    pt = &rd->parts[msg->partition];
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      /* Also covers ends that are not message offsets (transaction
       * markers, compacted tails). */
      if (msg->offset >= pt->end)
        pt->done = true;
      touch(rd);
    } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last = msg->err;
      if (msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
          msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
          msg->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
        eg__seterr(errbuf, errbuf_len, "topic %s partition %d: %s", rd->topic,
                   (int)msg->partition, rd_kafka_err2str(msg->err));
        rd_kafka_message_destroy(msg);
        return EG_EUNAVAIL;
      }
    } else if (!pt->done && msg->offset < pt->end) {
      rd_kafka_timestamp_type_t tstype;
      int64_t ts = rd_kafka_message_timestamp(msg, &tstype);

      /* Times are also checked here: a partition read in full after a
       * failed lookup holds older messages. */
      if (rd->opts->since_ms <= 0 || ts < 0 || ts >= rd->opts->since_ms)
        rc = fn(msg, ud);
      done++;
      if (msg->offset + 1 >= pt->end)
        pt->done = true;
      if (done % PROGRESS_EVERY == 0)
        progress(rd, done, total);
      touch(rd);
    } else {
      /* Written after the read began. */
      pt->done = true;
    }
    rd_kafka_message_destroy(msg);
    if (rc != EG_OK)
      return rc;
  }
  progress(rd, total, total);
  return EG_OK;
}

int eg_topic_reader_read(eg_topic_reader_t *tr,
                         const char *topic,
                         const eg_topic_reader_opts_t *opts,
                         eg_topic_reader_msg_fn fn,
                         void *ud,
                         char *errbuf,
                         size_t errbuf_len) {
  static const eg_topic_reader_opts_t defaults = {0};
  rd_kafka_topic_conf_t *tconf;
  struct read rd;
  char rderr[256];
  int rc;

  if (tr == NULL || topic == NULL || topic[0] == '\0' || fn == NULL)
    return EG_EINVAL;
  memset(&rd, 0, sizeof(rd));
  rd.tr = tr;
  rd.topic = topic;
  rd.opts = opts != NULL ? opts : &defaults;
  rd.timeout_ms =
      rd.opts->timeout_ms > 0 ? rd.opts->timeout_ms : DEFAULT_TIMEOUT_MS;
  touch(&rd);

  tconf = rd_kafka_topic_conf_new();
  if (tconf == NULL)
    return EG_ENOMEM;
  /* The simple consumer would otherwise store offsets for the topic. */
  if (rd_kafka_topic_conf_set(tconf, "auto.commit.enable", "false", rderr,
                              sizeof(rderr)) != RD_KAFKA_CONF_OK) {
    rd_kafka_topic_conf_destroy(tconf);
    eg__seterr(errbuf, errbuf_len, "topic %s: %s", topic, rderr);
    return EG_EINVAL;
  }
  rd.rkt = rd_kafka_topic_new(tr->rk, topic, tconf);
  if (rd.rkt == NULL) {
    rd_kafka_topic_conf_destroy(tconf);
    eg__seterr(errbuf, errbuf_len, "topic %s: %s", topic,
               rd_kafka_err2str(rd_kafka_last_error()));
    return EG_EINVAL;
  }
  rc = load_metadata(&rd, errbuf, errbuf_len);
  if (rc == EG_OK) {
    rd.parts = calloc((size_t)rd.nparts, sizeof(*rd.parts));
    if (rd.parts == NULL)
      rc = EG_ENOMEM;
  }
  if (rc == EG_OK)
    rc = load_offsets(&rd, errbuf, errbuf_len);
  if (rc == EG_OK)
    rc = probe_partitions(&rd, errbuf, errbuf_len);
  if (rc == EG_OK) {
    rd.queue = rd_kafka_queue_new(tr->rk);
    if (rd.queue == NULL)
      rc = EG_ENOMEM;
  }
  if (rc == EG_OK)
    rc = start_partitions(&rd, errbuf, errbuf_len);
  if (rc == EG_OK)
    rc = consume(&rd, fn, ud, errbuf, errbuf_len);

  for (int p = 0; rd.parts != NULL && p < rd.nparts; p++)
    if (rd.parts[p].started)
      rd_kafka_consume_stop(rd.rkt, p);
  if (rd.queue != NULL)
    rd_kafka_queue_destroy(rd.queue);
  free(rd.parts);
  rd_kafka_topic_destroy(rd.rkt);
  return rc;
}

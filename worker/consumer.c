/* The consumer loop: fetches events and retries, hands them to the worker
 * threads through the job queue, stops taking them while the queue is full,
 * and commits each partition only up to its lowest unfinished event. */
#include "worker.h"

#include "eg/timeutil.h"
#include "eg/error.h"
#include "eg/kafka.h"
#include "eg/log.h"
#include "eg/parse.h"
#include "eg/process.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLLECT_MAX 256
/* A full queue is waited on in steps this long (shutdown, offset stores). */
#define ROOM_WAIT_MS 100
/* A queue full for this long pauses fetching, so that polling goes on and
 * rebalances are served while no event finishes. */
#define FULL_PAUSE_MS 1000

/* Stores the committable positions; librdkafka commits them (auto-commit
 * of stored offsets), or commit_now forces a synchronous commit. */
static void store_positions(wrk_ctx_t *ctx, bool commit_now) {
  eg_offsets_pos_t pos[COLLECT_MAX];
  size_t n = eg_offsets_collect(ctx->offsets, pos, COLLECT_MAX);
  rd_kafka_topic_partition_list_t *list;

  if (n > 0) {
    list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
      rd_kafka_topic_partition_list_add(list, pos[i].topic, pos[i].partition)
          ->offset = pos[i].next;
    rd_kafka_offsets_store(ctx->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
  }
  if (commit_now) {
    rd_kafka_resp_err_t err = rd_kafka_commit(ctx->consumer, NULL, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
        err != RD_KAFKA_RESP_ERR__NO_OFFSET)
      eg_log(EG_LOG_WARN, "commit failed",
             EG_LSTR("error", rd_kafka_err2name(err)));
  }
}

static void free_list(wrk_job_t *list) {
  while (list != NULL) {
    wrk_job_t *next = list->next_waiter;
    wrk_job_free(list);
    list = next;
  }
}

/* Waits until nothing of parts is running, so that its final position can
 * be committed before another worker takes it over. Queued jobs of parts
 * are dropped: their events stay uncommitted and go to the new owner. */
static void hand_back(wrk_ctx_t *ctx,
                      rd_kafka_topic_partition_list_t *parts,
                      int timeout_ms) {
  size_t *dropped = calloc((size_t)parts->cnt + 1, sizeof(*dropped));
  uint64_t deadline = eg_time_mono_ms() + (uint64_t)timeout_ms;

  for (int i = 0; i < parts->cnt; i++) {
    wrk_job_t *list = wrk_jobs_remove_partition(
        ctx->jobs, parts->elems[i].topic, parts->elems[i].partition);
    for (wrk_job_t *j = list; j != NULL; j = j->next_waiter)
      if (dropped != NULL)
        dropped[i]++;
    free_list(list);
  }
  for (int i = 0; i < parts->cnt; i++) {
    const char *t = parts->elems[i].topic;
    int32_t p = parts->elems[i].partition;
    size_t keep = dropped != NULL ? dropped[i] : 0;

    while (eg_offsets_unfinished(ctx->offsets, t, p) > keep &&
           eg_time_mono_ms() < deadline) {
      struct timespec ts = {0, 20 * 1000000};
      /* SIGTERM meanwhile: the drain bounds the rest of the wait. */
      if (eg_process_stop_requested() && deadline > eg_time_mono_ms() + 1000)
        deadline = eg_time_mono_ms() + 1000;
      nanosleep(&ts, NULL);
    }
  }
  store_positions(ctx, true);
  for (int i = 0; i < parts->cnt; i++)
    eg_offsets_drop(ctx->offsets, parts->elems[i].topic,
                    parts->elems[i].partition);
  free(dropped);
}

void wrk_commit_now(wrk_ctx_t *ctx) {
  store_positions(ctx, true);
}

void wrk_rebalance_cb(rd_kafka_t *rk,
                      rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts,
                      void *opaque) {
  wrk_ctx_t *ctx = opaque;
  bool cooperative =
      strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  int timeout = (int)ctx->cfg->shutdown_timeout_ms;

  eg_log(EG_LOG_INFO,
         err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "partitions assigned"
                                                     : "partitions revoked",
         EG_LINT("count", parts->cnt), EG_LBOOL("cooperative", cooperative));
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative)
      rd_kafka_incremental_assign(rk, parts);
    else
      rd_kafka_assign(rk, parts);
    if (atomic_load(&ctx->paused))
      rd_kafka_pause_partitions(rk, parts);
    return;
  }
  /* While stopping, the drain itself bounds the wait for running events. */
  hand_back(ctx, parts, eg_process_stop_requested() ? 1000 : timeout);
  if (cooperative)
    rd_kafka_incremental_unassign(rk, parts);
  else
    rd_kafka_assign(rk, NULL);
}

static void set_paused(wrk_ctx_t *ctx, bool pause) {
  rd_kafka_topic_partition_list_t *parts = NULL;

  if (atomic_load(&ctx->paused) == pause)
    return;
  if (rd_kafka_assignment(ctx->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return;
  if (pause)
    rd_kafka_pause_partitions(ctx->consumer, parts);
  else
    rd_kafka_resume_partitions(ctx->consumer, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  atomic_store(&ctx->paused, pause);
  eg_log(EG_LOG_DEBUG, pause ? "fetching paused" : "fetching resumed");
}

/* Reads a numeric header of ours, or def. */
static uint64_t
header_u64(const rd_kafka_message_t *msg, const char *name, uint64_t def) {
  char buf[32];
  uint64_t v;

  if (eg_kafka_header(msg, name, buf, sizeof(buf)) != EG_OK ||
      eg_parse_u64(buf, 0, UINT64_MAX / 2, &v) != EG_OK)
    return def;
  return v;
}

static void dispatch(wrk_ctx_t *ctx, rd_kafka_message_t *msg) {
  const char *topic = rd_kafka_topic_name(msg->rkt);
  wrk_job_t *job;
  int rc;

  rc = eg_offsets_start(ctx->offsets, topic, msg->partition, msg->offset);
  if (rc != EG_OK) {
    /* Already handed out (a re-fetch after resume): nothing to do. */
    rd_kafka_message_destroy(msg);
    return;
  }
  eg_metric_inc(ctx->m.events, (const char *const[]){topic});
  job = calloc(1, sizeof(*job));
  if (job == NULL) {
    /* Leave it unfinished: re-delivered after a restart, never lost. */
    rd_kafka_message_destroy(msg);
    return;
  }
  job->msg = msg;
  if (msg->key != NULL && msg->key_len < sizeof(job->key)) {
    memcpy(job->key, msg->key, msg->key_len);
    job->key[msg->key_len] = '\0';
  } else {
    /* A keyless or oversized key is invalid; run it alone under a name that
     * no real gate has. */
    snprintf(job->key, sizeof(job->key), "!invalid/%s/%d/%lld", topic,
             msg->partition, (long long)msg->offset);
  }
  job->attempt = 1;
  if (strcmp(topic, ctx->topic_retry) == 0) {
    int64_t not_before = (int64_t)header_u64(msg, "envgate-not-before", 0);
    int64_t wait = not_before - eg_time_epoch_ms();

    job->attempt = (unsigned)header_u64(msg, "envgate-attempt", 1) + 1;
    if (wait > 0)
      job->due_ms = eg_time_mono_ms() + (uint64_t)wait;
  }
  wrk_jobs_push(ctx->jobs, job);
}

static void update_lag(wrk_ctx_t *ctx) {
  rd_kafka_topic_partition_list_t *parts = NULL;

  if (rd_kafka_assignment(ctx->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return;
  rd_kafka_position(ctx->consumer, parts);
  for (int i = 0; i < parts->cnt; i++) {
    int64_t lo, hi;
    char part[16];

    if (rd_kafka_get_watermark_offsets(ctx->consumer, parts->elems[i].topic,
                                       parts->elems[i].partition, &lo,
                                       &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        parts->elems[i].offset < 0 || hi < 0)
      continue;
    snprintf(part, sizeof(part), "%d", parts->elems[i].partition);
    eg_metric_set(ctx->m.lag,
                  (const char *const[]){parts->elems[i].topic, part},
                  (double)(hi - parts->elems[i].offset));
  }
  rd_kafka_topic_partition_list_destroy(parts);
}

int wrk_consume(wrk_ctx_t *ctx) {
  rd_kafka_topic_partition_list_t *topics;
  rd_kafka_resp_err_t err;
  uint64_t last_lag = 0;
  uint64_t full_since = 0; /* when the queue was last found full */
  /* Room for this many events wakes the loop: one wake-up per batch. */
  size_t refill = ctx->cfg->worker_inflight / 2;

  topics = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(topics, ctx->topic_events,
                                    RD_KAFKA_PARTITION_UA);
  rd_kafka_topic_partition_list_add(topics, ctx->topic_retry,
                                    RD_KAFKA_PARTITION_UA);
  err = rd_kafka_subscribe(ctx->consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    eg_log(EG_LOG_ERROR, "subscribe failed",
           EG_LSTR("error", rd_kafka_err2name(err)));
    return EG_EXIT_FAILURE;
  }
  while (!eg_process_stop_requested()) {
    rd_kafka_message_t *msg;
    size_t queued = wrk_jobs_count(ctx->jobs);

    eg_metric_set(ctx->m.queued, NULL, (double)queued);
    if (!wrk_jobs_is_full(ctx->jobs)) {
      full_since = 0;
      set_paused(ctx, false);
    } else if (!atomic_load(&ctx->paused)) {
      /* Full: leave the next events in librdkafka's prefetch queue until
       * there is room for a batch. A pause would drop them, and the
       * fetch after a resume waits for the broker thread's next wake-up:
       * bench/worker saw events arrive 0.3 to 0.75 s after a resume. */
      if (full_since == 0)
        full_since = eg_time_mono_ms();
      if (eg_time_mono_ms() - full_since < FULL_PAUSE_MS) {
        wrk_jobs_wait_room(ctx->jobs, refill, ROOM_WAIT_MS);
        store_positions(ctx, false);
        continue;
      }
      set_paused(ctx, true);
    }
    msg = rd_kafka_consumer_poll(ctx->consumer, 100);
    if (msg != NULL) {
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        dispatch(ctx, msg);
      } else {
        if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
          eg_log(EG_LOG_ERROR, "kafka fatal error",
                 EG_LSTR("error", rd_kafka_message_errstr(msg)));
          eg_process_request_stop();
        } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          eg_log(EG_LOG_WARN, "consumer error",
                 EG_LSTR("error", rd_kafka_err2name(msg->err)));
        }
        rd_kafka_message_destroy(msg);
      }
    }
    store_positions(ctx, false);
    if (eg_time_mono_ms() - last_lag > 5000) {
      update_lag(ctx);
      last_lag = eg_time_mono_ms();
    }
  }
  return EG_EXIT_OK;
}

/* Per-installation holds (Redis, cached locally) and call slots. */
#include "hold.h"

#include "eg/error.h"
#include "eg/log.h"
#include "eg/timeutil.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256
/* How stale a worker's view of a hold set by another worker may be. */
#define RECHECK_MS 250

/* Waits are per installation: a release or a lookup wakes only the
 * threads of its own installation, not every waiting thread of the
 * process. */
struct inst {
  uint64_t id;
  int64_t until_ms;       /* held until (epoch ms), 0 if not */
  uint64_t checked_ms;    /* monotonic ms of the last Redis look, 0: none */
  unsigned in_use;        /* call slots taken */
  unsigned waiting;       /* threads waiting for call slots */
  bool checking;          /* a thread is asking Redis now */
  pthread_cond_t freed;   /* call slots were released */
  pthread_cond_t checked; /* a Redis lookup finished */
  struct inst *next;
};

/* A lock per bucket: every event takes and gives back call slots each
 * round, and with one lock for all installations those threads queued on
 * it (measured: the largest source of futex calls in the worker). */
struct bucket {
  pthread_mutex_t lock;
  struct inst *head;
};

struct wrk_hold_s {
  eg_redis_t *redis;
  unsigned max_concurrent;
  struct bucket buckets[BUCKETS];
};

int wrk_hold_new(eg_redis_t *redis, unsigned max_concurrent, wrk_hold_t **out) {
  wrk_hold_t *h;

  *out = NULL;
  if (max_concurrent == 0)
    return -1;
  h = calloc(1, sizeof(*h));
  if (h == NULL)
    return -1;
  h->redis = redis;
  h->max_concurrent = max_concurrent;
  for (size_t i = 0; i < BUCKETS; i++)
    pthread_mutex_init(&h->buckets[i].lock, NULL);
  *out = h;
  return 0;
}

void wrk_hold_free(wrk_hold_t *h) {
  if (h == NULL)
    return;
  for (size_t i = 0; i < BUCKETS; i++) {
    struct inst *p = h->buckets[i].head;
    while (p != NULL) {
      struct inst *next = p->next;
      pthread_cond_destroy(&p->freed);
      pthread_cond_destroy(&p->checked);
      free(p);
      p = next;
    }
    pthread_mutex_destroy(&h->buckets[i].lock);
  }
  free(h);
}

static struct bucket *bucket_of(wrk_hold_t *h, uint64_t id) {
  return &h->buckets[id % BUCKETS];
}

/* Finds or creates the entry; called with b's lock held. NULL if out of
 * memory (the caller then simply does not limit). */
static struct inst *get(struct bucket *b, uint64_t id) {
  struct inst **pp = &b->head;

  struct inst *in;

  for (; *pp != NULL; pp = &(*pp)->next)
    if ((*pp)->id == id)
      return *pp;
  in = calloc(1, sizeof(*in));
  if (in == NULL)
    return NULL;
  if (pthread_cond_init(&in->freed, NULL) != 0) {
    free(in);
    return NULL;
  }
  if (pthread_cond_init(&in->checked, NULL) != 0) {
    pthread_cond_destroy(&in->freed);
    free(in);
    return NULL;
  }
  in->id = id;
  *pp = in;
  return in;
}

static void redis_key(uint64_t id, char *out, size_t len) {
  snprintf(out, len, "envgate:hold:v1:%llu", (unsigned long long)id);
}

static int64_t redis_get(wrk_hold_t *h, uint64_t id) {
  char key[64];
  const char *argv[2] = {"GET", key};
  size_t lens[2];
  redisReply *reply = NULL;
  int64_t until = 0;

  redis_key(id, key, sizeof(key));
  lens[0] = 3;
  lens[1] = strlen(key);
  int rc = eg_redis_command(h->redis, 2, argv, lens, &reply, NULL, 0);
  if (rc != EG_OK) {
    eg_log(EG_LOG_DEBUG, "hold lookup failed",
           EG_LSTR("error", eg_strerror(rc)));
    return 0;
  }
  if (reply->type == REDIS_REPLY_STRING)
    until = strtoll(reply->str, NULL, 10);
  freeReplyObject(reply);
  eg_log(EG_LOG_DEBUG, "hold looked up", EG_LINT("installation", id),
         EG_LINT("until", until));
  return until;
}

int64_t wrk_hold_until(wrk_hold_t *h, uint64_t installation_id) {
  int64_t now = eg_time_epoch_ms(), until;
  uint64_t mono = eg_time_mono_ms();
  struct bucket *b = bucket_of(h, installation_id);
  struct inst *in;

  pthread_mutex_lock(&b->lock);
  in = get(b, installation_id);
  /* One thread asks Redis. Before this worker's first answer for the
   * installation the others wait for it, so that a hold another worker
   * stored stops even the first call. After that they go on with the view
   * they have, at most RECHECK_MS and one Redis round trip old: waiting
   * would park every thread of the installation behind that round trip
   * (behind the Redis pool when it is busy) and wake them all at once. */
  while (in != NULL && in->checking && in->checked_ms == 0)
    pthread_cond_wait(&in->checked, &b->lock);
  if (in != NULL && h->redis != NULL && !in->checking &&
      (in->checked_ms == 0 || mono - in->checked_ms >= RECHECK_MS)) {
    int64_t shared;

    in->checking = true;
    pthread_mutex_unlock(&b->lock);
    shared = redis_get(h, installation_id); /* outside the lock: may be slow */
    pthread_mutex_lock(&b->lock);
    in->checking = false;
    in->checked_ms = eg_time_mono_ms();
    if (shared > in->until_ms)
      in->until_ms = shared;
    pthread_cond_broadcast(&in->checked);
  }
  until = in != NULL ? in->until_ms : 0;
  pthread_mutex_unlock(&b->lock);
  return until > now ? until : 0;
}

void wrk_hold_set(wrk_hold_t *h, uint64_t installation_id, int64_t until_ms) {
  char key[64], val[32], px[32];
  const char *argv[5] = {"SET", key, val, "PX", px};
  size_t lens[5];
  redisReply *reply = NULL;
  int64_t ttl = until_ms - eg_time_epoch_ms();
  struct bucket *b = bucket_of(h, installation_id);
  struct inst *in;

  if (ttl <= 0)
    return;
  pthread_mutex_lock(&b->lock);
  in = get(b, installation_id);
  if (in != NULL && until_ms > in->until_ms)
    in->until_ms = until_ms;
  pthread_mutex_unlock(&b->lock);
  if (h->redis == NULL)
    return;
  redis_key(installation_id, key, sizeof(key));
  snprintf(val, sizeof(val), "%lld", (long long)until_ms);
  snprintf(px, sizeof(px), "%lld", (long long)ttl);
  for (int i = 0; i < 5; i++)
    lens[i] = strlen(argv[i]);
  /* A later hold wins; an earlier one must not shorten it, but holds are
   * short and a race costs at most one early call, which GitHub answers
   * with another limit. */
  if (eg_redis_command(h->redis, 5, argv, lens, &reply, NULL, 0) == EG_OK)
    freeReplyObject(reply);
}

unsigned wrk_hold_max(const wrk_hold_t *h) {
  return h->max_concurrent;
}

void wrk_hold_acquire(wrk_hold_t *h, uint64_t installation_id, unsigned n) {
  struct bucket *b = bucket_of(h, installation_id);
  struct inst *in;

  if (n > h->max_concurrent)
    n = h->max_concurrent;
  pthread_mutex_lock(&b->lock);
  in = get(b, installation_id);
  while (in != NULL && in->in_use + n > h->max_concurrent) {
    in->waiting++;
    pthread_cond_wait(&in->freed, &b->lock);
    in->waiting--;
  }
  if (in != NULL)
    in->in_use += n;
  pthread_mutex_unlock(&b->lock);
}

void wrk_hold_release(wrk_hold_t *h, uint64_t installation_id, unsigned n) {
  struct bucket *b = bucket_of(h, installation_id);
  struct inst *in;

  if (n > h->max_concurrent)
    n = h->max_concurrent;
  pthread_mutex_lock(&b->lock);
  in = get(b, installation_id);
  if (in != NULL) {
    in->in_use = in->in_use >= n ? in->in_use - n : 0;
    /* Broadcast: a waiter for one slot may fit where one for two does
     * not. */
    if (in->waiting > 0)
      pthread_cond_broadcast(&in->freed);
  }
  pthread_mutex_unlock(&b->lock);
}

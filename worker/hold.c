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

struct inst {
  uint64_t id;
  int64_t until_ms;    /* held until (epoch ms), 0 if not */
  uint64_t checked_ms; /* monotonic ms of the last Redis look */
  unsigned in_use;     /* call slots taken */
  bool checking;       /* a thread is asking Redis now */
  struct inst *next;
};

struct wrk_hold_s {
  eg_redis_t *redis;
  pthread_mutex_t lock;
  pthread_cond_t freed;   /* call slots were released */
  pthread_cond_t checked; /* a Redis lookup finished */
  struct inst *buckets[BUCKETS];
};

int wrk_hold_new(eg_redis_t *redis, wrk_hold_t **out) {
  wrk_hold_t *h = calloc(1, sizeof(*h));

  *out = NULL;
  if (h == NULL)
    return -1;
  h->redis = redis;
  pthread_mutex_init(&h->lock, NULL);
  pthread_cond_init(&h->freed, NULL);
  pthread_cond_init(&h->checked, NULL);
  *out = h;
  return 0;
}

void wrk_hold_free(wrk_hold_t *h) {
  if (h == NULL)
    return;
  for (size_t i = 0; i < BUCKETS; i++) {
    struct inst *p = h->buckets[i];
    while (p != NULL) {
      struct inst *next = p->next;
      free(p);
      p = next;
    }
  }
  pthread_cond_destroy(&h->freed);
  pthread_cond_destroy(&h->checked);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

/* Finds or creates the entry; called with the lock held. NULL if out of
 * memory (the caller then simply does not limit). */
static struct inst *get(wrk_hold_t *h, uint64_t id) {
  struct inst **pp = &h->buckets[id % BUCKETS];

  for (; *pp != NULL; pp = &(*pp)->next)
    if ((*pp)->id == id)
      return *pp;
  *pp = calloc(1, sizeof(**pp));
  if (*pp != NULL)
    (*pp)->id = id;
  return *pp;
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
  struct inst *in;

  pthread_mutex_lock(&h->lock);
  in = get(h, installation_id);
  /* One thread asks Redis; the others wait for its answer rather than act
   * on a view older than RECHECK_MS. */
  while (in != NULL && in->checking)
    pthread_cond_wait(&h->checked, &h->lock);
  if (in != NULL && h->redis != NULL && mono - in->checked_ms >= RECHECK_MS) {
    int64_t shared;

    in->checking = true;
    pthread_mutex_unlock(&h->lock);
    shared = redis_get(h, installation_id); /* outside the lock: may be slow */
    pthread_mutex_lock(&h->lock);
    in->checking = false;
    in->checked_ms = eg_time_mono_ms();
    if (shared > in->until_ms)
      in->until_ms = shared;
    pthread_cond_broadcast(&h->checked);
  }
  until = in != NULL ? in->until_ms : 0;
  pthread_mutex_unlock(&h->lock);
  return until > now ? until : 0;
}

void wrk_hold_set(wrk_hold_t *h, uint64_t installation_id, int64_t until_ms) {
  char key[64], val[32], px[32];
  const char *argv[5] = {"SET", key, val, "PX", px};
  size_t lens[5];
  redisReply *reply = NULL;
  int64_t ttl = until_ms - eg_time_epoch_ms();
  struct inst *in;

  if (ttl <= 0)
    return;
  pthread_mutex_lock(&h->lock);
  in = get(h, installation_id);
  if (in != NULL && until_ms > in->until_ms)
    in->until_ms = until_ms;
  pthread_mutex_unlock(&h->lock);
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

void wrk_hold_acquire(wrk_hold_t *h, uint64_t installation_id, unsigned n) {
  struct inst *in;

  if (n > WRK_HOLD_MAX_CONCURRENT)
    n = WRK_HOLD_MAX_CONCURRENT;
  pthread_mutex_lock(&h->lock);
  in = get(h, installation_id);
  while (in != NULL && in->in_use + n > WRK_HOLD_MAX_CONCURRENT)
    pthread_cond_wait(&h->freed, &h->lock);
  if (in != NULL)
    in->in_use += n;
  pthread_mutex_unlock(&h->lock);
}

void wrk_hold_release(wrk_hold_t *h, uint64_t installation_id, unsigned n) {
  struct inst *in;

  if (n > WRK_HOLD_MAX_CONCURRENT)
    n = WRK_HOLD_MAX_CONCURRENT;
  pthread_mutex_lock(&h->lock);
  in = get(h, installation_id);
  if (in != NULL)
    in->in_use = in->in_use >= n ? in->in_use - n : 0;
  pthread_cond_broadcast(&h->freed);
  pthread_mutex_unlock(&h->lock);
}

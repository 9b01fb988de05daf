/* Idempotency records in Redis with an in-process front. */
#include "done.h"

#include "eg/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL_SLOTS 8192
#define PENDING_MAX 4096      /* records Redis missed, kept to write later */
#define TTL_SECONDS "2592000" /* 30 days */
#define ID_MAX      1200

struct slot {
  char *id;
  const char *state;
};

struct wrk_done_s {
  eg_redis_t *redis;
  pthread_mutex_t lock;
  struct slot slots[LOCAL_SLOTS]; /* direct-mapped by hash */
  /* Records whose SET failed, oldest first, written as soon as Redis
   * answers again: the local table dies with the process, and another
   * worker must find the record (a dead letter has no other guard). */
  struct slot pending[PENDING_MAX];
  size_t npending;
};

static const char *canonical_state(const char *s) {
  return strcmp(s, "approved") == 0        ? "approved"
         : strcmp(s, "dead-lettered") == 0 ? "dead-lettered"
                                           : "rejected";
}

int wrk_done_new(eg_redis_t *redis, wrk_done_t **out) {
  wrk_done_t *dn = calloc(1, sizeof(*dn));

  *out = NULL;
  if (dn == NULL)
    return -1;
  dn->redis = redis;
  pthread_mutex_init(&dn->lock, NULL);
  *out = dn;
  return 0;
}

void wrk_done_free(wrk_done_t *dn) {
  if (dn == NULL)
    return;
  for (size_t i = 0; i < LOCAL_SLOTS; i++)
    free(dn->slots[i].id);
  for (size_t i = 0; i < dn->npending; i++)
    free(dn->pending[i].id);
  pthread_mutex_destroy(&dn->lock);
  free(dn);
}

static size_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (size_t)(h % LOCAL_SLOTS);
}

/* Direct-mapped: a newer id evicts an older one in the same slot; Redis
 * holds the full record. */
static const char *local_get(wrk_done_t *dn, const char *id) {
  const char *state = NULL;
  struct slot *s;

  pthread_mutex_lock(&dn->lock);
  s = &dn->slots[hash(id)];
  if (s->id != NULL && strcmp(s->id, id) == 0)
    state = s->state;
  pthread_mutex_unlock(&dn->lock);
  return state;
}

static void local_put(wrk_done_t *dn, const char *id, const char *state) {
  struct slot *s;
  char *copy = strdup(id);

  if (copy == NULL)
    return;
  pthread_mutex_lock(&dn->lock);
  s = &dn->slots[hash(id)];
  free(s->id);
  s->id = copy;
  s->state = state;
  pthread_mutex_unlock(&dn->lock);
}

static int
command(wrk_done_t *dn, int argc, const char **argv, redisReply **reply) {
  size_t lens[8];

  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  return eg_redis_command(dn->redis, argc, argv, lens, reply, NULL, 0);
}

static void redis_key(const char *id, char *out, size_t len) {
  snprintf(out, len, "envgate:done:v1:%s", id);
}

static int set_record(wrk_done_t *dn, const char *id, const char *state) {
  char key[ID_MAX + 32];
  const char *argv[5];
  redisReply *reply = NULL;

  redis_key(id, key, sizeof(key));
  argv[0] = "SET";
  argv[1] = key;
  argv[2] = state;
  argv[3] = "EX";
  argv[4] = TTL_SECONDS;
  if (command(dn, 5, argv, &reply) != EG_OK)
    return EG_EUNAVAIL;
  freeReplyObject(reply);
  return EG_OK;
}

/* Keeps a record Redis missed; when full, the oldest is dropped. Takes
 * ownership of id. */
static void pending_push(wrk_done_t *dn, char *id, const char *state) {
  pthread_mutex_lock(&dn->lock);
  if (dn->npending == PENDING_MAX) {
    free(dn->pending[0].id);
    memmove(&dn->pending[0], &dn->pending[1],
            (PENDING_MAX - 1) * sizeof(dn->pending[0]));
    dn->npending--;
  }
  dn->pending[dn->npending].id = id;
  dn->pending[dn->npending].state = state;
  dn->npending++;
  pthread_mutex_unlock(&dn->lock);
}

/* Redis answered: writes the records it missed, oldest first. Each is taken
 * off the list by one thread only; on a failure the rest go back. */
static void pending_flush(wrk_done_t *dn) {
  for (;;) {
    struct slot one = {NULL, NULL};

    pthread_mutex_lock(&dn->lock);
    if (dn->npending > 0) {
      one = dn->pending[0];
      memmove(&dn->pending[0], &dn->pending[1],
              (dn->npending - 1) * sizeof(dn->pending[0]));
      dn->npending--;
    }
    pthread_mutex_unlock(&dn->lock);
    if (one.id == NULL)
      return;
    if (set_record(dn, one.id, one.state) != EG_OK) {
      pending_push(dn, one.id, one.state);
      return;
    }
    free(one.id);
  }
}

bool wrk_done_check(wrk_done_t *dn,
                    const char *id,
                    const char **state,
                    bool *redis_failed) {
  const char *local = local_get(dn, id);
  char key[ID_MAX + 32];
  const char *argv[2];
  redisReply *reply = NULL;
  bool found = false;

  *redis_failed = false;
  if (local != NULL) {
    if (state != NULL)
      *state = local;
    return true;
  }
  if (dn->redis == NULL)
    return false;
  redis_key(id, key, sizeof(key));
  argv[0] = "GET";
  argv[1] = key;
  if (command(dn, 2, argv, &reply) != EG_OK) {
    *redis_failed = true;
    return false;
  }
  pending_flush(dn);
  if (reply->type == REDIS_REPLY_STRING) {
    const char *s = canonical_state(reply->str);
    found = true;
    if (state != NULL)
      *state = s;
    local_put(dn, id, s);
  }
  freeReplyObject(reply);
  return found;
}

bool wrk_done_record(wrk_done_t *dn, const char *id, const char *state) {
  const char *s = canonical_state(state);
  char *copy;

  local_put(dn, id, s);
  if (dn->redis == NULL)
    return true;
  if (set_record(dn, id, s) != EG_OK) {
    copy = strdup(id);
    if (copy != NULL)
      pending_push(dn, copy, s);
    return false;
  }
  pending_flush(dn);
  return true;
}

/* Offset tracker. Each partition keeps its unfinished offsets in a ring
 * buffer in the order they were started; finishing marks an entry, and the
 * committable position is the first unfinished entry (or one past the last
 * started offset when none is left). */
#include "eg/offsets.h"
#include "eg/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
  int64_t offset;
  bool done;
};

struct partition {
  char topic[128];
  int32_t id;
  struct entry *ring; /* entries [head, head + count) modulo cap */
  size_t cap, head, count, unfinished;
  int64_t last_started;   /* -1 before the first */
  int64_t last_collected; /* -1 before the first collect */
  struct partition *next;
};

struct eg_offsets_s {
  pthread_mutex_t lock;
  struct partition *parts;
};

int eg_offsets_new(eg_offsets_t **out) {
  eg_offsets_t *ot;

  if (out == NULL)
    return EG_EINVAL;
  *out = NULL;
  ot = calloc(1, sizeof(*ot));
  if (ot == NULL)
    return EG_ENOMEM;
  pthread_mutex_init(&ot->lock, NULL);
  *out = ot;
  return EG_OK;
}

void eg_offsets_free(eg_offsets_t *ot) {
  struct partition *p, *next;

  if (ot == NULL)
    return;
  for (p = ot->parts; p != NULL; p = next) {
    next = p->next;
    free(p->ring);
    free(p);
  }
  pthread_mutex_destroy(&ot->lock);
  free(ot);
}

static struct partition *find(eg_offsets_t *ot, const char *topic, int32_t id) {
  for (struct partition *p = ot->parts; p != NULL; p = p->next)
    if (p->id == id && strcmp(p->topic, topic) == 0)
      return p;
  return NULL;
}

static struct entry *at(struct partition *p, size_t i) {
  return &p->ring[(p->head + i) % p->cap];
}

/* Drops finished entries from the front: they are below the position. */
static void trim(struct partition *p) {
  while (p->count > 0 && at(p, 0)->done) {
    p->head = (p->head + 1) % p->cap;
    p->count--;
  }
}

static int grow(struct partition *p) {
  size_t ncap = p->cap == 0 ? 64 : p->cap * 2;
  struct entry *ring = malloc(ncap * sizeof(*ring));

  if (ring == NULL)
    return EG_ENOMEM;
  for (size_t i = 0; i < p->count; i++)
    ring[i] = *at(p, i);
  free(p->ring);
  p->ring = ring;
  p->cap = ncap;
  p->head = 0;
  return EG_OK;
}

int eg_offsets_start(eg_offsets_t *ot,
                     const char *topic,
                     int32_t partition,
                     int64_t offset) {
  struct partition *p;
  int rc = EG_OK;

  if (ot == NULL || topic == NULL || offset < 0 ||
      strlen(topic) >= sizeof(p->topic))
    return EG_EINVAL;
  pthread_mutex_lock(&ot->lock);
  p = find(ot, topic, partition);
  if (p == NULL) {
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
      rc = EG_ENOMEM;
      goto out;
    }
    strcpy(p->topic, topic);
    p->id = partition;
    p->last_started = -1;
    p->last_collected = -1;
    p->next = ot->parts;
    ot->parts = p;
  }
  if (offset <= p->last_started) {
    rc = EG_EEXIST;
    goto out;
  }
  if (p->count == p->cap && (rc = grow(p)) != EG_OK)
    goto out;
  *at(p, p->count) = (struct entry){offset, false};
  p->count++;
  p->unfinished++;
  p->last_started = offset;
out:
  pthread_mutex_unlock(&ot->lock);
  return rc;
}

int eg_offsets_finish(eg_offsets_t *ot,
                      const char *topic,
                      int32_t partition,
                      int64_t offset) {
  struct partition *p;
  int rc = EG_ENOENT;

  if (ot == NULL || topic == NULL)
    return EG_EINVAL;
  pthread_mutex_lock(&ot->lock);
  p = find(ot, topic, partition);
  if (p != NULL) {
    /* Entries are sorted: binary search. */
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (at(p, mid)->offset < offset)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < p->count && at(p, lo)->offset == offset && !at(p, lo)->done) {
      at(p, lo)->done = true;
      p->unfinished--;
      trim(p);
      rc = EG_OK;
    }
  }
  pthread_mutex_unlock(&ot->lock);
  return rc;
}

size_t
eg_offsets_unfinished(eg_offsets_t *ot, const char *topic, int32_t partition) {
  size_t n = 0;

  if (ot == NULL)
    return 0;
  pthread_mutex_lock(&ot->lock);
  for (struct partition *p = ot->parts; p != NULL; p = p->next)
    if (topic == NULL || (p->id == partition && strcmp(p->topic, topic) == 0))
      n += p->unfinished;
  pthread_mutex_unlock(&ot->lock);
  return n;
}

size_t eg_offsets_collect(eg_offsets_t *ot, eg_offsets_pos_t *out, size_t max) {
  size_t n = 0;

  if (ot == NULL || out == NULL)
    return 0;
  pthread_mutex_lock(&ot->lock);
  for (struct partition *p = ot->parts; p != NULL && n < max; p = p->next) {
    int64_t pos;

    if (p->last_started < 0)
      continue;
    pos = p->count > 0 ? at(p, 0)->offset : p->last_started + 1;
    if (pos == p->last_collected)
      continue;
    p->last_collected = pos;
    strcpy(out[n].topic, p->topic);
    out[n].partition = p->id;
    out[n].next = pos;
    n++;
  }
  pthread_mutex_unlock(&ot->lock);
  return n;
}

void eg_offsets_drop(eg_offsets_t *ot, const char *topic, int32_t partition) {
  struct partition **pp;

  if (ot == NULL || topic == NULL)
    return;
  pthread_mutex_lock(&ot->lock);
  for (pp = &ot->parts; *pp != NULL; pp = &(*pp)->next) {
    struct partition *p = *pp;
    if (p->id == partition && strcmp(p->topic, topic) == 0) {
      *pp = p->next;
      free(p->ring);
      free(p);
      break;
    }
  }
  pthread_mutex_unlock(&ot->lock);
}

/* Job queue: a binary min-heap on (due time, arrival) plus a small table of
 * busy keys. A job whose key is busy is parked behind the running job and
 * re-queued when it finishes, so one gate's events run one at a time and
 * the later ones can see the earlier one's decision. */
#include "jobs.h"

#include "eg/timeutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_BUCKETS   1024
#define DELAYED_FACTOR 16

struct busy {
  wrk_job_t *running;
  wrk_job_t *waiters_head, *waiters_tail;
  struct busy *next;
};

struct wrk_jobs_s {
  pthread_mutex_t lock;
  pthread_cond_t cond; /* takers wait here */
  pthread_cond_t room; /* wrk_jobs_wait_room() waits here */
  size_t room_wanted;  /* what that waiter asks for; 0 = none waits */
  wrk_job_t **heap;
  size_t nheap, capacity; /* heap slots (grow as needed) */
  size_t limit;           /* the configured capacity */
  size_t total;           /* queued + parked + running */
  size_t ndelayed;        /* of those, pushed with a due time in the future */
  uint64_t seq;
  bool closed;
  struct busy *busy[BUSY_BUCKETS];
};

void wrk_job_free(wrk_job_t *job) {
  if (job == NULL)
    return;
  if (job->msg != NULL)
    rd_kafka_message_destroy(job->msg);
  free(job);
}

int wrk_jobs_new(size_t capacity, wrk_jobs_t **out) {
  wrk_jobs_t *q = calloc(1, sizeof(*q));

  *out = NULL;
  if (q == NULL)
    return -1;
  q->heap = calloc(capacity, sizeof(*q->heap));
  if (q->heap == NULL) {
    free(q);
    return -1;
  }
  q->capacity = capacity;
  q->limit = capacity;
  pthread_mutex_init(&q->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&q->cond, &ca);
  pthread_cond_init(&q->room, &ca);
  pthread_condattr_destroy(&ca);
  *out = q;
  return 0;
}

void wrk_jobs_free(wrk_jobs_t *q) {
  if (q == NULL)
    return;
  wrk_job_t *left = wrk_jobs_remove_all(q);
  while (left != NULL) {
    wrk_job_t *next = left->next_waiter;
    wrk_job_free(left);
    left = next;
  }
  for (size_t i = 0; i < BUSY_BUCKETS; i++) {
    struct busy *b = q->busy[i];
    while (b != NULL) {
      struct busy *next = b->next;
      free(b);
      b = next;
    }
  }
  pthread_cond_destroy(&q->cond);
  pthread_cond_destroy(&q->room);
  pthread_mutex_destroy(&q->lock);
  free(q->heap);
  free(q);
}

static bool before(const wrk_job_t *a, const wrk_job_t *b) {
  return a->due_ms != b->due_ms ? a->due_ms < b->due_ms : a->seq < b->seq;
}

static void swap(wrk_jobs_t *q, size_t a, size_t b) {
  wrk_job_t *t = q->heap[a];
  q->heap[a] = q->heap[b];
  q->heap[b] = t;
}

static void sift_up(wrk_jobs_t *q, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(q->heap[i], q->heap[parent]))
      break;
    swap(q, i, parent);
    i = parent;
  }
}

static void heap_push(wrk_jobs_t *q, wrk_job_t *job) {
  /* The heap has room: total never exceeds capacity by more than what the
   * consumer pushed after seeing "full", which grows the array. */
  q->heap[q->nheap] = job;
  q->nheap++;
  sift_up(q, q->nheap - 1);
}

static void heap_remove_at(wrk_jobs_t *q, size_t i) {
  q->heap[i] = q->heap[--q->nheap];
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < q->nheap && before(q->heap[l], q->heap[m]))
      m = l;
    if (r < q->nheap && before(q->heap[r], q->heap[m]))
      m = r;
    if (m == i)
      break;
    swap(q, i, m);
    i = m;
  }
  /* The moved element may be smaller than its new parent too. */
  if (i < q->nheap)
    sift_up(q, i);
}

static bool ensure_room(wrk_jobs_t *q) {
  if (q->nheap < q->capacity)
    return true;
  size_t ncap = q->capacity * 2;
  wrk_job_t **nh = realloc(q->heap, ncap * sizeof(*nh));
  if (nh == NULL)
    return false;
  q->heap = nh;
  q->capacity = ncap;
  return true;
}

static size_t bucket(const char *key) {
  /* FNV-1a */
  uint64_t h = 1469598103934665603ULL;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  return (size_t)(h % BUSY_BUCKETS);
}

static struct busy *
find_busy(wrk_jobs_t *q, const char *key, struct busy ***link) {
  struct busy **pp = &q->busy[bucket(key)];
  for (; *pp != NULL; pp = &(*pp)->next) {
    if (strcmp((*pp)->running->key, key) == 0) {
      if (link != NULL)
        *link = pp;
      return *pp;
    }
  }
  if (link != NULL)
    *link = pp;
  return NULL;
}

void wrk_jobs_push(wrk_jobs_t *q, wrk_job_t *job) {
  pthread_mutex_lock(&q->lock);
  job->seq = q->seq++;
  job->next_waiter = NULL;
  if (!ensure_room(q)) {
    /* Out of memory: drop the job; its offset stays unfinished, so the
     * event is re-delivered after a restart rather than lost. */
    pthread_mutex_unlock(&q->lock);
    wrk_job_free(job);
    return;
  }
  job->delayed = job->due_ms > eg_time_mono_ms();
  if (job->delayed)
    q->ndelayed++;
  heap_push(q, job);
  q->total++;
  /* One waiter is enough: a taker that leaves work behind wakes the next
   * (wrk_jobs_take), so hundreds of idle threads are not all woken for one
   * job. */
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

/* Jobs that can still be pushed before the queue is full. */
static size_t room_locked(const wrk_jobs_t *q) {
  size_t ready = q->total - q->ndelayed;

  if (ready >= q->limit || q->ndelayed >= DELAYED_FACTOR * q->limit)
    return 0;
  return q->limit - ready;
}

/* Called with the lock held whenever jobs leave the queue. */
static void signal_room(wrk_jobs_t *q) {
  if (q->room_wanted != 0 && room_locked(q) >= q->room_wanted)
    pthread_cond_signal(&q->room);
}

bool wrk_jobs_is_full(wrk_jobs_t *q) {
  pthread_mutex_lock(&q->lock);
  bool full = room_locked(q) == 0;
  pthread_mutex_unlock(&q->lock);
  return full;
}

bool wrk_jobs_wait_room(wrk_jobs_t *q, size_t wanted, unsigned timeout_ms) {
  uint64_t deadline = eg_time_mono_ms() + timeout_ms;
  struct timespec ts = {(time_t)(deadline / 1000),
                        (long)(deadline % 1000) * 1000000L};
  bool enough;

  if (wanted == 0)
    wanted = 1;
  if (wanted > q->limit)
    wanted = q->limit;
  pthread_mutex_lock(&q->lock);
  q->room_wanted = wanted;
  while (!q->closed && room_locked(q) < wanted &&
         pthread_cond_timedwait(&q->room, &q->lock, &ts) == 0)
    ;
  q->room_wanted = 0;
  enough = room_locked(q) >= wanted;
  pthread_mutex_unlock(&q->lock);
  return enough;
}

size_t wrk_jobs_count(wrk_jobs_t *q) {
  pthread_mutex_lock(&q->lock);
  size_t n = q->total;
  pthread_mutex_unlock(&q->lock);
  return n;
}

wrk_job_t *wrk_jobs_take(wrk_jobs_t *q) {
  pthread_mutex_lock(&q->lock);
  for (;;) {
    uint64_t now = eg_time_mono_ms();

    if (q->closed) {
      pthread_mutex_unlock(&q->lock);
      return NULL;
    }
    if (q->nheap > 0 && q->heap[0]->due_ms <= now) {
      wrk_job_t *job = q->heap[0];
      struct busy **link;
      struct busy *b;

      heap_remove_at(q, 0);
      if (job->delayed) {
        job->delayed = false;
        q->ndelayed--;
      }
      b = find_busy(q, job->key, &link);
      if (b != NULL) {
        /* Same gate in progress: wait behind it. */
        if (b->waiters_tail != NULL)
          b->waiters_tail->next_waiter = job;
        else
          b->waiters_head = job;
        b->waiters_tail = job;
        continue;
      }
      b = calloc(1, sizeof(*b));
      if (b == NULL) {
        heap_push(q, job); /* try again later */
        pthread_mutex_unlock(&q->lock);
        return NULL;
      }
      b->running = job;
      *link = b;
      /* Pass the turn on: another thread takes or watches what is left
       * (which waiter a signal wakes is unspecified, so the one that
       * watched the next due job may be this one). */
      if (q->nheap > 0)
        pthread_cond_signal(&q->cond);
      pthread_mutex_unlock(&q->lock);
      return job;
    }
    if (q->nheap > 0) {
      uint64_t due = q->heap[0]->due_ms;
      struct timespec ts = {(time_t)(due / 1000),
                            (long)(due % 1000) * 1000000L};
      pthread_cond_timedwait(&q->cond, &q->lock, &ts);
    } else {
      pthread_cond_wait(&q->cond, &q->lock);
    }
  }
}

void wrk_jobs_done(wrk_jobs_t *q, wrk_job_t *job) {
  struct busy **link;
  struct busy *b;

  pthread_mutex_lock(&q->lock);
  b = find_busy(q, job->key, &link);
  if (b != NULL && b->running == job) {
    wrk_job_t *w = b->waiters_head;
    *link = b->next;
    free(b);
    /* Parked jobs go back in arrival order, due now. */
    if (w != NULL)
      pthread_cond_signal(&q->cond);
    while (w != NULL) {
      wrk_job_t *next = w->next_waiter;
      w->next_waiter = NULL;
      heap_push(q, w);
      w = next;
    }
  }
  q->total--;
  signal_room(q);
  pthread_mutex_unlock(&q->lock);
}

static bool
in_partition(const wrk_job_t *job, const char *topic, int32_t partition) {
  return topic == NULL ||
         (job->msg->partition == partition &&
          strcmp(rd_kafka_topic_name(job->msg->rkt), topic) == 0);
}

static wrk_job_t *
remove_matching(wrk_jobs_t *q, const char *topic, int32_t partition) {
  wrk_job_t *out = NULL;

  pthread_mutex_lock(&q->lock);
  for (size_t i = 0; i < q->nheap;) {
    if (in_partition(q->heap[i], topic, partition)) {
      wrk_job_t *job = q->heap[i];
      heap_remove_at(q, i);
      if (job->delayed)
        q->ndelayed--;
      job->next_waiter = out;
      out = job;
      q->total--;
    } else {
      i++;
    }
  }
  /* Parked jobs too. */
  for (size_t i = 0; i < BUSY_BUCKETS; i++) {
    for (struct busy *b = q->busy[i]; b != NULL; b = b->next) {
      wrk_job_t **pp = &b->waiters_head;
      b->waiters_tail = NULL;
      while (*pp != NULL) {
        wrk_job_t *job = *pp;
        if (in_partition(job, topic, partition)) {
          *pp = job->next_waiter;
          job->next_waiter = out;
          out = job;
          q->total--;
        } else {
          b->waiters_tail = job;
          pp = &job->next_waiter;
        }
      }
    }
  }
  pthread_cond_broadcast(&q->cond);
  signal_room(q);
  pthread_mutex_unlock(&q->lock);
  return out;
}

wrk_job_t *
wrk_jobs_remove_partition(wrk_jobs_t *q, const char *topic, int32_t partition) {
  return remove_matching(q, topic, partition);
}

wrk_job_t *wrk_jobs_remove_all(wrk_jobs_t *q) {
  return remove_matching(q, NULL, 0);
}

void wrk_jobs_close(wrk_jobs_t *q) {
  pthread_mutex_lock(&q->lock);
  q->closed = true;
  pthread_cond_broadcast(&q->cond);
  pthread_cond_broadcast(&q->room);
  pthread_mutex_unlock(&q->lock);
}

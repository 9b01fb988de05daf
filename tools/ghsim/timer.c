/* Deferred answers: one thread with a min-heap of due times answers requests
 * later (latency, held "timeouts", resets), so slow answers cost no server
 * thread while they wait. */
#include "ghsim.h"

#include <errno.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <time.h>

#define TIMER_SLACK_NS 1000000ul /* 1 ms */

struct item {
  uint64_t due_ns;
  uint64_t seq; /* FIFO among equal due times */
  eg_http_req_t *req;
  int status;
  char *body;
  size_t len;
  bool abort_conn;
};

struct gs_timer {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_t thread;
  struct item *heap;
  size_t n, cap;
  size_t max_n; /* most answers deferred at once since start or reset */
  uint64_t seq;
  bool flushing; /* answer everything now */
  bool stop;
};

static bool before(const struct item *a, const struct item *b) {
  return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void sift_up(struct item *h, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    struct item t;
    if (!before(&h[i], &h[p]))
      break;
    t = h[i];
    h[i] = h[p];
    h[p] = t;
    i = p;
  }
}

static void sift_down(struct item *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    struct item t;
    if (l < n && before(&h[l], &h[m]))
      m = l;
    if (r < n && before(&h[r], &h[m]))
      m = r;
    if (m == i)
      break;
    t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static void fire(struct item *it) {
  if (it->abort_conn)
    eg_http_req_abort(it->req);
  else
    eg_http_respond(it->req, it->status, "application/json; charset=utf-8",
                    it->body, it->len);
  free(it->body);
}

static void *run(void *arg) {
  struct gs_timer *t = arg;

  /* Let the kernel wake this thread up to TIMER_SLACK_NS late, so that
   * answers due close together go out on one wake-up instead of one each
   * (the latency is measured, not assumed: bench/worker probes it). */
  prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0);
  pthread_mutex_lock(&t->lock);
  while (!t->stop || t->n > 0) {
    uint64_t now = gs_now_ns();
    if (t->n > 0 && (t->flushing || t->stop || t->heap[0].due_ns <= now)) {
      struct item it = t->heap[0];
      t->heap[0] = t->heap[--t->n];
      sift_down(t->heap, t->n, 0);
      /* Answer outside the lock: eg_http_respond takes the request's own
       * lock and may resume the connection. */
      pthread_mutex_unlock(&t->lock);
      fire(&it);
      pthread_mutex_lock(&t->lock);
      continue;
    }
    if (t->n == 0) {
      pthread_cond_wait(&t->cond, &t->lock);
    } else {
      uint64_t due = t->heap[0].due_ns;
      struct timespec ts = {(time_t)(due / 1000000000u),
                            (long)(due % 1000000000u)};
      pthread_cond_timedwait(&t->cond, &t->lock, &ts);
    }
  }
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

struct gs_timer *gs_timer_new(void) {
  struct gs_timer *t = calloc(1, sizeof(*t));
  pthread_condattr_t ca;

  if (t == NULL)
    return NULL;
  pthread_mutex_init(&t->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->cond, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&t->thread, NULL, run, t) != 0) {
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return NULL;
  }
  return t;
}

int gs_timer_add(struct gs_timer *t,
                 uint64_t due_ns,
                 eg_http_req_t *req,
                 int status,
                 char *body,
                 size_t len,
                 bool abort_conn) {
  struct item it = {due_ns, 0, req, status, body, len, abort_conn};

  pthread_mutex_lock(&t->lock);
  if (t->n == t->cap) {
    size_t nc = t->cap == 0 ? 256 : t->cap * 2;
    struct item *nh = realloc(t->heap, nc * sizeof(*nh));
    if (nh == NULL) {
      pthread_mutex_unlock(&t->lock);
      return -1;
    }
    t->heap = nh;
    t->cap = nc;
  }
  it.seq = t->seq++;
  t->heap[t->n] = it;
  sift_up(t->heap, t->n);
  t->n++;
  if (t->n > t->max_n)
    t->max_n = t->n;
  /* The thread sleeps until the earliest answer: wake it only when this one
   * comes earlier (with one latency for all, only the first of a burst). */
  if (t->heap[0].seq == it.seq)
    pthread_cond_signal(&t->cond);
  pthread_mutex_unlock(&t->lock);
  return 0;
}

void gs_timer_flush(struct gs_timer *t) {
  pthread_mutex_lock(&t->lock);
  t->flushing = true;
  pthread_cond_signal(&t->cond);
  pthread_mutex_unlock(&t->lock);
}

size_t gs_timer_pending_max(struct gs_timer *t, bool reset) {
  size_t n;

  pthread_mutex_lock(&t->lock);
  n = t->max_n;
  if (reset)
    t->max_n = t->n;
  pthread_mutex_unlock(&t->lock);
  return n;
}

size_t gs_timer_pending(struct gs_timer *t) {
  size_t n;

  pthread_mutex_lock(&t->lock);
  n = t->n;
  pthread_mutex_unlock(&t->lock);
  return n;
}

void gs_timer_free(struct gs_timer *t) {
  if (t == NULL)
    return;
  pthread_mutex_lock(&t->lock);
  t->stop = true;
  pthread_cond_signal(&t->cond);
  pthread_mutex_unlock(&t->lock);
  pthread_join(t->thread, NULL);
  free(t->heap);
  pthread_cond_destroy(&t->cond);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

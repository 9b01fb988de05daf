/* The chaos run's load and faults: sender threads post signed gate
 * requests to the ingress at a steady rate and retry what GitHub would see
 * as failed; the main thread kills workers, stops Redis and the broker and
 * restarts the ingress on schedule. */
#include "chaos.h"

#include "eg/error.h"
#include "eg/signature.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

void ch_delivery_of(size_t origin, char out[40]) {
  snprintf(out, 40, "c4a05000-0000-4000-8000-%012zx", origin);
}

static void note_failure(struct chaos *c, const char *fmt, ...) {
  va_list ap;

  if (c->failure[0] != '\0')
    return;
  va_start(ap, fmt);
  vsnprintf(c->failure, sizeof(c->failure), fmt, ap);
  va_end(ap);
  atomic_store(&c->stop, true);
}

/* ---- Senders ---- */

static void count_answer(struct chaos *c, int rc, long status) {
  pthread_mutex_lock(&c->lock);
  c->ans.attempts++;
  if (rc == EG_OK && status == 202)
    c->ans.s202++;
  else if (rc == EG_OK && status == 503)
    c->ans.s503++;
  else if (rc == EG_OK)
    c->ans.s_other++;
  else if (rc == EG_EUNAVAIL)
    c->ans.refused++;
  else if (rc == EG_ETIMEDOUT)
    c->ans.timeouts++;
  else
    c->ans.io_errors++;
  pthread_mutex_unlock(&c->lock);
}

/* Sends slot i until the ingress acknowledges it, retrying what GitHub
 * would show as failed (503, refused or broken connections) as a
 * redelivery would; any other answer is a failure of the run. */
static void send_slot(struct chaos *c, size_t i) {
  struct slot *s = &c->slots[i];
  const struct gate *g = &c->gates[s->gate];
  char delivery[40], sig[EG_SIGNATURE_HEADER_SIZE], sig_h[128], dl_h[80],
      url[96];
  eg_it_gate_t eg = {.owner = g->owner,
                     .repo = g->name,
                     .repository_id = g->repository_id,
                     .installation_id = INSTALLATION,
                     .run_id = g->run_id,
                     .deployment_id = g->run_id - 200000000u,
                     .environment = "release",
                     .ref = "main",
                     .delivery = delivery};
  const char *headers[] = {"Content-Type: application/json",
                           "X-GitHub-Event: deployment_protection_rule",
                           "X-GitHub-Hook-ID: 4242",
                           "User-Agent: GitHub-Hookshot/chaos",
                           sig_h,
                           dl_h,
                           NULL};
  long long give_up = eg_it_now_ms() + eg_it_timeout_ms(GIVE_UP_MS);
  char *body;
  size_t len;

  ch_delivery_of(s->origin, delivery);
  snprintf(eg.sha, sizeof(eg.sha), "%s", g->sha);
  body = eg_it_gate_body(&c->st, &eg);
  if (body == NULL) {
    atomic_store(&c->stop, true);
    return;
  }
  len = strlen(body);
  eg_signature_compute(EG_IT_SECRET, body, len, sig, sizeof(sig));
  snprintf(sig_h, sizeof(sig_h), "X-Hub-Signature-256: %s", sig);
  snprintf(dl_h, sizeof(dl_h), "X-GitHub-Delivery: %s", delivery);
  for (unsigned attempt = 1;; attempt++) {
    eg_it_http_resp_t r;
    long status = 0;
    int rc, backoff;

    pthread_mutex_lock(&c->lock);
    snprintf(url, sizeof(url), "%s/webhook", c->base);
    pthread_mutex_unlock(&c->lock);
    /* NULL context: the harness's error text is not thread-safe. */
    rc = eg_it_http(NULL, "POST", url, headers, body, len, SEND_TIMEOUT_MS, &r);
    if (rc == EG_OK) {
      status = r.status;
      eg_it_http_resp_cleanup(&r);
    }
    count_answer(c, rc, status);
    s->attempts = attempt;
    if (rc == EG_OK && status == 202) {
      s->acked = true;
      if (attempt > 1) {
        pthread_mutex_lock(&c->lock);
        c->ans.retried++;
        pthread_mutex_unlock(&c->lock);
      }
      break;
    }
    if (rc == EG_OK && status != 503) {
      pthread_mutex_lock(&c->lock);
      if (c->unexpected[0] == '\0')
        snprintf(c->unexpected, sizeof(c->unexpected),
                 "delivery %s answered %ld", delivery, status);
      pthread_mutex_unlock(&c->lock);
      break;
    }
    if (eg_it_now_ms() >= give_up || atomic_load(&c->stop)) {
      pthread_mutex_lock(&c->lock);
      c->ans.gave_up++;
      pthread_mutex_unlock(&c->lock);
      break;
    }
    backoff = 250 << (attempt < 4 ? attempt - 1 : 3);
    eg_it_sleep_ms(backoff);
  }
  free(body);
}

static void *sender(void *arg) {
  struct chaos *c = arg;

  for (;;) {
    size_t i = SIZE_MAX;
    long long due, now;

    pthread_mutex_lock(&c->lock);
    if (c->next < c->nreq && !atomic_load(&c->stop))
      i = c->next++;
    pthread_mutex_unlock(&c->lock);
    if (i == SIZE_MAX)
      break;
    due = c->t0 + (long long)(i * c->seconds * 1000u / c->nreq);
    now = eg_it_now_ms();
    if (due > now)
      eg_it_sleep_ms((int)(due - now));
    send_slot(c, i);
  }
  return NULL;
}

/* ---- Faults, from the main thread (it spawns) ---- */

enum action {
  A_KILL_WORKER,
  A_REDIS_DOWN,
  A_REDIS_UP,
  A_BROKER_DOWN,
  A_BROKER_UP,
  A_INGRESS_RESTART
};

struct step {
  long long at_ms; /* from the start of sending */
  enum action a;
};

static int step_cmp(const void *a, const void *b) {
  const struct step *x = a, *y = b;
  return x->at_ms < y->at_ms ? -1 : x->at_ms > y->at_ms;
}

/* Each cycle: kill -9 a worker at 10%, Redis down at 20%, a worker at 35%,
 * the broker down at 45%, the ingress restarted at 65%, a worker at 80%. */
static size_t schedule(const struct chaos *c, struct step *steps) {
  long long period = (long long)c->seconds * 1000 / c->cycles;
  size_t n = 0;

  for (unsigned k = 0; k < c->cycles; k++) {
    long long base = period * k;
    steps[n++] = (struct step){base + period / 10, A_KILL_WORKER};
    steps[n++] = (struct step){base + period / 5, A_REDIS_DOWN};
    steps[n++] = (struct step){base + period / 5 + OUTAGE_MS, A_REDIS_UP};
    steps[n++] = (struct step){base + period * 35 / 100, A_KILL_WORKER};
    steps[n++] = (struct step){base + period * 45 / 100, A_BROKER_DOWN};
    steps[n++] =
        (struct step){base + period * 45 / 100 + OUTAGE_MS, A_BROKER_UP};
    steps[n++] = (struct step){base + period * 65 / 100, A_INGRESS_RESTART};
    steps[n++] = (struct step){base + period * 80 / 100, A_KILL_WORKER};
  }
  qsort(steps, n, sizeof(*steps), step_cmp);
  return n;
}

/* kill -9 the longest-running worker and start another in its place. */
static void kill_worker(struct chaos *c) {
  eg_it_proc_t *victim = c->st.workers[0];
  int status = -1;

  if (eg_it_proc_signal(victim, SIGKILL) != EG_OK ||
      eg_it_proc_wait(victim, 10000, &status) != EG_OK ||
      !WIFSIGNALED(status)) {
    note_failure(c, "kill -9 of a worker did not end it");
    return;
  }
  /* Forget it: the stack holds the running workers only. */
  memmove(&c->st.workers[0], &c->st.workers[1],
          (c->st.nworkers - 1) * sizeof(c->st.workers[0]));
  c->st.nworkers--;
  if (eg_it_stack_worker(c->it, &c->st, c->worker_env, NULL) != EG_OK) {
    note_failure(c, "replacement worker: %s", eg_it_errmsg(c->it));
    return;
  }
  c->kills++;
}

/* SIGTERM: the ingress answers what it holds and exits 0; then a new one
 * starts on another port, where the senders go next. Requests in the gap
 * are refused and retried. */
static void restart_ingress(struct chaos *c) {
  int status = -1;
  char base[64];

  if (eg_it_proc_signal(c->ingress, SIGTERM) != EG_OK ||
      eg_it_proc_wait(c->ingress, 30000, &status) != EG_OK ||
      !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    note_failure(c, "ingress did not exit 0 on SIGTERM (status %d)", status);
    return;
  }
  if (eg_it_stack_ingress(c->it, &c->st, ch_ingress_env) != EG_OK) {
    note_failure(c, "ingress restart: %s", eg_it_errmsg(c->it));
    return;
  }
  c->ingress = c->st.ingress;
  snprintf(base, sizeof(base), "%s", c->st.ingress_url);
  pthread_mutex_lock(&c->lock);
  snprintf(c->base, sizeof(c->base), "%s", base);
  pthread_mutex_unlock(&c->lock);
  c->ingress_restarts++;
}

static void act(struct chaos *c, enum action a) {
  switch (a) {
  case A_KILL_WORKER:
    kill_worker(c);
    break;
  case A_REDIS_DOWN:
    /* Stopped, not killed: connections hang, as with a lost host. */
    if (eg_it_proc_signal(c->st.redis.proc, SIGSTOP) != EG_OK)
      note_failure(c, "SIGSTOP to redis-server failed");
    break;
  case A_REDIS_UP:
    if (eg_it_proc_signal(c->st.redis.proc, SIGCONT) != EG_OK)
      note_failure(c, "SIGCONT to redis-server failed");
    c->redis_outages++;
    break;
  case A_BROKER_DOWN:
    if (eg_it_devbroker_ctl(c->it, &c->st.db, "all-down", NULL, 0) != EG_OK)
      note_failure(c, "devbroker all-down: %s", eg_it_errmsg(c->it));
    break;
  case A_BROKER_UP:
    if (eg_it_devbroker_ctl(c->it, &c->st.db, "all-up", NULL, 0) != EG_OK)
      note_failure(c, "devbroker all-up: %s", eg_it_errmsg(c->it));
    c->broker_outages++;
    break;
  case A_INGRESS_RESTART:
    restart_ingress(c);
    break;
  }
}

/* Sends every slot while the faults run on schedule. */
void ch_run_load(struct chaos *c) {
  pthread_t t[SENDERS];
  struct step *steps = calloc(8 * (size_t)c->cycles, sizeof(*steps));
  size_t nsteps, k = 0;

  assert_non_null(steps);
  nsteps = schedule(c, steps);
  c->t0 = eg_it_now_ms() + 200;
  for (int i = 0; i < SENDERS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, sender, c), 0);
  while (k < nsteps && !atomic_load(&c->stop)) {
    long long now = eg_it_now_ms() - c->t0;
    if (now >= steps[k].at_ms) {
      act(c, steps[k++].a);
      continue;
    }
    eg_it_sleep_ms(steps[k].at_ms - now < 50 ? (int)(steps[k].at_ms - now)
                                             : 50);
  }
  /* A failed step must not leave Redis stopped or the broker down. */
  eg_it_proc_signal(c->st.redis.proc, SIGCONT);
  if (c->failure[0] != '\0')
    eg_it_devbroker_ctl(c->it, &c->st.db, "all-up", NULL, 0);
  for (int i = 0; i < SENDERS; i++)
    pthread_join(t[i], NULL);
  free(steps);
  if (c->failure[0] != '\0')
    fail_msg("fault injection: %s", c->failure);
}

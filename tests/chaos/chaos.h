/* The chaos run's shared state: the gates of the scenario, the planned
 * request slots and what the senders saw; load.c sends the requests and
 * injects the faults, chaos.c plans, waits and checks. */
#ifndef EG_CHAOS_H
#define EG_CHAOS_H

#include "harness.h"
#include "stack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUN0            800000000u /* ghsim generate's first run id */
#define MISSING_RUN0    890000000u /* runs GitHub does not know: 404 */
#define REPO0           700000000u /* generate's first repository id */
#define INSTALLATION    1000u      /* generate's installation */
#define SENDERS         16
#define OUTAGE_MS       10000
#define SEND_TIMEOUT_MS 15000  /* longer than the ingress's 5 s enqueue wait */
#define GIVE_UP_MS      120000 /* a request unacknowledged this long */

enum expect { X_APPROVED, X_REJECTED, X_DEAD };

/* What a request slot sends: a new delivery for a new gate of the scenario,
 * for a run GitHub does not know, the same delivery again (as GitHub's
 * redelivery), or a second delivery for an earlier gate. */
enum kind { K_NEW, K_MISSING, K_REDELIVERY, K_SECOND };

struct gate {
  char owner[40], name[40], sha[41];
  uint64_t repository_id, run_id;
  enum expect expect;
  char reason[32];
  /* Filled from ghsim's records at the end. */
  unsigned reviews; /* accepted (2xx) */
  unsigned refused; /* answered 4xx: a second review */
  char state[16];   /* of the accepted review */
  bool wanted;      /* an acknowledged delivery is for this gate */
};

struct slot {
  enum kind kind;
  size_t gate;
  size_t origin; /* the slot whose delivery id this is (itself if new) */
  /* Written by the slot's sender only. */
  unsigned attempts;
  bool acked;
  /* Per delivery (on the origin slot), filled at the end. */
  bool delivery_acked;
  bool in_events;
  unsigned letters;
  char letter_class[16];
  bool letter_ok;
  char audit_fate[16];
};

struct answers {
  size_t attempts, s202, s503, s_other, refused, timeouts, io_errors;
  size_t retried, gave_up;
};

struct chaos {
  eg_it_t *it;
  eg_it_stack_t st;
  eg_it_proc_t *ingress;
  size_t nreq;
  unsigned seconds, cycles;
  struct gate *gates;
  size_t ngates, ngenerated, nmissing;
  struct slot *slots;
  /* The workers' extra environment (NULL-terminated). */
  char kafka_conf_env[600];
  const char *worker_env[3];

  pthread_mutex_t lock; /* guards everything below */
  char base[64];        /* the ingress's current URL */
  size_t next;          /* next slot to send */
  long long t0;         /* when slot 0 is due */
  struct answers ans;
  char unexpected[256]; /* the first unexpected answer */

  atomic_bool stop; /* senders give up at once */
  unsigned kills, redis_outages, broker_outages, ingress_restarts;
  char failure[512]; /* the first failure of the fault injection */
};

/* Writes slot origin's delivery id (a UUID) into out. */
void ch_delivery_of(size_t origin, char out[40]);

/* Sends every slot at the planned rate from SENDERS threads while the
 * calling (main) thread injects the faults on schedule; fails the cmocka
 * test if a fault could not be injected. */
void ch_run_load(struct chaos *c);

/* The ingress's extra environment: info, not the harness's debug, so that
 * 10,000 requests don't log a line each. */
extern const char *const ch_ingress_env[];

#endif /* EG_CHAOS_H */

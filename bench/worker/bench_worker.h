/* envgate-bench-worker: shared state of the worker benchmarks (throughput
 * and cost, end-to-end latency) on top of the integration harness. */
#ifndef BW_BENCH_WORKER_H
#define BW_BENCH_WORKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "stack.h"

/* The approve path: 3 sequential read rounds (run + gate deployments, the
 * latest status, the gate job; eg/decision.h), then the review. */
#define BW_READ_ROUNDS 3
#define BW_ROUNDS      (BW_READ_ROUNDS + 1)
/* GitHub calls of one approve, mint aside: 4 reads and the review. */
#define BW_CALLS_PER_APPROVE 5
/* Partitions of envgate.events plus envgate.retry that the devbroker
 * creates (harness.h), which the workers' group shares out. */
#define BW_PARTITIONS  24
#define BW_MAX_WORKERS 8

struct bw_opts {
  const char *mode; /* "throughput" or "latency" */
  unsigned workers;
  unsigned inflight;
  unsigned github_concurrency; /* ENVGATE_GITHUB_CONCURRENCY */
  unsigned installations;
  unsigned repos;
  unsigned latency_ms; /* ghsim latency of every GitHub call */
  unsigned events;     /* throughput: events produced */
  double reject_fraction;
  unsigned rate;       /* latency: webhooks per second */
  unsigned duration_s; /* latency: measured seconds */
  unsigned warmup_s;   /* latency: seconds sent first, not measured */
  unsigned senders;    /* latency: HTTP client threads */
  unsigned timeout_s;  /* for all events to be decided */
  const char *log_level;
  unsigned fetch_wait_ms;    /* workers' fetch.wait.max.ms; 0: librdkafka's */
  const char *worker_env[8]; /* extra NAME=value for the workers */
  size_t nworker_env;
  bool keep;
};

/* One gate request of the generated scenario. */
struct bw_gate {
  eg_it_gate_t g; /* points into the strings below */
  char owner[64];
  char repo[64];
  char environment[64];
  char ref[64];
  char delivery[48];
  bool approve; /* what ghsim expects */
};

/* CPU time (clock ticks) of each process of the run, and of the machine. */
struct bw_cpu {
  long long proc[BW_MAX_WORKERS + 5];
  long long busy, all; /* /proc/stat: every CPU */
};

struct bw_run {
  const struct bw_opts *o;
  eg_it_t *it;
  eg_it_stack_t st;
  struct bw_gate *gates; /* in send order: round-robin over repositories */
  size_t ngates;
  int metrics_port[BW_MAX_WORKERS];
  /* envgate_worker_inflight summed over the workers, sampled while 10 to
   * 90 % of the events were reviewed (bw_wait_decided) */
  double busy_sum;
  unsigned busy_samples;
  bool broken;
};

/* Marks the run broken and prints why (printf-style) to stderr. */
void bw_broken(struct bw_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes the scenario for n gate requests, starts the stack on it and
 * reads the gates. @returns 0, or -1 with the run marked broken. */
int bw_setup(struct bw_run *r, size_t n);

/* Starts the workers and waits until they share every partition.
 * @returns 0 or -1 (broken). */
int bw_start_workers(struct bw_run *r);

/* One series of worker i's /metrics ("name" or "name{label=\"v\"}"), 0
 * when absent; -1 when the worker did not answer. */
double bw_worker_metric(struct bw_run *r, size_t i, const char *series);

/* The sum over the workers; -1 when one did not answer. */
double bw_workers_metric(struct bw_run *r, const char *series);

/* CPUs online. */
long bw_ncpus(void);

/* Waits until the workers reviewed n events (their outcome metrics),
 * checking every process is still alive, and samples their events in
 * flight into busy_sum. @returns 0 or -1 (broken). */
int bw_wait_decided(struct bw_run *r, size_t n);

/* Checks ghsim's reviews: exactly one accepted review per gate, with the
 * expected state. Sets *first_ms and *last_ms (epoch ms of the first and last
 * accepted review). @returns 0 or -1 (broken). */
int bw_check_reviews(struct bw_run *r,
                     json_t *state,
                     int64_t *first_ms,
                     int64_t *last_ms);

/* The epoch ms at which run_id's accepted review reached ghsim, from a
 * state document; -1 if none. Builds an index on first use. */
typedef struct bw_review_index_s bw_review_index_t;
bw_review_index_t *bw_review_index_new(json_t *state);
int64_t bw_review_at(const bw_review_index_t *ix, uint64_t run_id);
void bw_review_index_free(bw_review_index_t *ix);

/* Samples CPU ticks of the stack's processes (workers, ghsim, devbroker,
 * redis, ingress if any, this process) and of the machine. */
void bw_cpu_sample(struct bw_run *r, struct bw_cpu *out);

/* Prints a CPU table: microseconds of CPU per unit (decision) for each
 * process between two samples, and the machine's other load. */
void bw_cpu_report(struct bw_run *r,
                   const struct bw_cpu *a,
                   const struct bw_cpu *b,
                   double units,
                   double wall_s,
                   double *total_us_per_unit,
                   double *other_pct);

/* Mean latency (ms) of n sequential calls to ghsim on an endpoint the
 * worker never calls (approvals), with the scenario's latency fault.
 * @returns the mean, or -1 (broken). */
double bw_probe_ghsim_ms(struct bw_run *r, int n);

/* Stops the workers (and the ingress), each must exit 0; then ends the
 * harness context. @returns the process exit code: 0 sound, 1 broken. */
int bw_finish(struct bw_run *r);

/* Percentile (nearest rank) of v[0..n-1], sorted in place. */
double bw_percentile(double *v, size_t n, double q);

int bw_throughput(struct bw_run *r);
int bw_latency(struct bw_run *r);

#endif /* BW_BENCH_WORKER_H */

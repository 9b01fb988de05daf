/* The envgate stack for integration tests, on top of the harness: a
 * devbroker, redis-server, envgate-ghsim with a scenario and a fresh App key,
 * and any number of workers (and an ingress) configured against them; plus
 * helpers to build signed gate requests and read what ghsim saw. */
#ifndef EG_IT_STACK_H
#define EG_IT_STACK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define EG_IT_SECRET "integration-webhook-secret-0123456789"
#define EG_IT_APP_ID "123456"

typedef struct eg_it_stack_s {
  eg_it_devbroker_t db;
  eg_it_redis_t redis;
  eg_it_proc_t *ghsim;
  char ghsim_url[128];  /* http://127.0.0.1:PORT */
  const char *key_file; /* App private key (PEM) */
  const char *pub_file; /* its public key, given to ghsim */
  const char *policy_file;
  const char *secret_file;
  const char *kafka_conf;   /* test-friendly librdkafka settings */
  eg_it_proc_t *workers[8]; /* the test may drop ended ones */
  size_t nworkers;
  eg_it_proc_t *ingress;
  char ingress_url[64]; /* http://127.0.0.1:PORT */
  size_t nstarted; /* workers started in all: names worker1, worker2, ... */
} eg_it_stack_t;

/* Starts devbroker, redis and ghsim with scenario (a path; NULL: the demo
 * scenario tools/ghsim/scenarios/demo.json), a new RSA key and the
 * contract's default policy. @returns EG_OK or as eg_it_spawn(). */
int eg_it_stack_start(eg_it_t *it, const char *scenario, eg_it_stack_t *st);

/* Starts one more worker; extra_env (NULL-terminated, may be NULL) adds or
 * overrides variables. *out (may be NULL) gets the process. */
int eg_it_stack_worker(eg_it_t *it,
                       eg_it_stack_t *st,
                       const char *const *extra_env,
                       eg_it_proc_t **out);

/* Starts envgate-ingress against the stack (its devbroker, its webhook
 * secret, ghsim as the API of the callback URLs) on a port it picks, and
 * sets st->ingress and st->ingress_url (a restart replaces them); it logs
 * at debug and uses the stack's test-friendly Kafka settings. extra_env
 * (NULL-terminated, may be NULL) adds or overrides variables. */
int eg_it_stack_ingress(eg_it_t *it,
                        eg_it_stack_t *st,
                        const char *const *extra_env);

/* The headers GitHub sends with body as a deployment_protection_rule
 * delivery: Content-Type, X-GitHub-Event, X-GitHub-Delivery and
 * X-Hub-Signature-256 signed with EG_IT_SECRET, as "Name: value" lines
 * for eg_it_http(). */
typedef struct eg_it_webhook_headers_s {
  char lines[4][160];
  const char *list[5]; /* NULL-terminated, pointing into lines */
} eg_it_webhook_headers_t;
void eg_it_webhook_headers(const char *body,
                           const char *delivery,
                           eg_it_webhook_headers_t *out);

/* A gate request for a run of the scenario, as GitHub would send it. */
typedef struct eg_it_gate_s {
  const char *owner, *repo;
  uint64_t repository_id, installation_id, run_id, deployment_id;
  const char *environment; /* "release" */
  char sha[65];
  const char *ref; /* "main" */
  const char *delivery;
} eg_it_gate_t;

/* The demo scenario's approvable and rejectable runs. */
eg_it_gate_t eg_it_demo_gate(bool approvable, const char *delivery);

/* Builds the webhook body for g against the stack's ghsim URL; the caller
 * frees it with free(). */
char *eg_it_gate_body(const eg_it_stack_t *st, const eg_it_gate_t *g);

/* Produces g's body to envgate.events with the ingress's key and headers,
 * signed with secret (NULL: EG_IT_SECRET). body may be given to override the
 * one built from g (NULL: built). */
int eg_it_stack_produce(eg_it_t *it,
                        eg_it_stack_t *st,
                        const eg_it_gate_t *g,
                        const char *secret,
                        const char *body);

/* Produces n gate requests in one batch (signed with EG_IT_SECRET). */
int eg_it_stack_produce_many(eg_it_t *it,
                             eg_it_stack_t *st,
                             const eg_it_gate_t *gates,
                             size_t n);

/* GET <ghsim>/_sim/state, parsed; the caller json_decref()s it. */
json_t *eg_it_ghsim_state(eg_it_t *it, const eg_it_stack_t *st);

/* Number of reviews ghsim accepted (2xx) so far. */
size_t eg_it_ghsim_reviews_ok(eg_it_t *it, const eg_it_stack_t *st);

/* Waits until ghsim accepted at least n reviews. @returns EG_OK or
 * EG_ETIMEDOUT. */
int eg_it_wait_reviews(eg_it_t *it,
                       const eg_it_stack_t *st,
                       size_t n,
                       int timeout_ms);

/* Writes a scenario with the demo's installation and repository and nruns
 * runs (ids EG_IT_MANY_RUN0 + i); every reject_every-th run (0: none) was
 * started by a push and is to be rejected, the others approved. *path gets
 * the file (owned by it). */
#define EG_IT_MANY_RUN0 40000000u
int eg_it_scenario_many(eg_it_t *it,
                        size_t nruns,
                        size_t reject_every,
                        const char **path);

/* The gate request for run i of eg_it_scenario_many(); delivery is written
 * into the caller's buffer (at least 37 bytes) as a UUID made from i and
 * salt, so each (i, salt) is a distinct delivery. */
eg_it_gate_t eg_it_many_gate(size_t i, unsigned salt, char *delivery);

/* POSTs a fault table (JSON, see tools/ghsim/README.md) to ghsim. */
int eg_it_ghsim_faults(eg_it_t *it, const eg_it_stack_t *st, const char *json);

/* Per run id: how many reviews ghsim accepted (2xx). counts has nruns
 * entries for runs EG_IT_MANY_RUN0..+nruns-1; *others gets accepted reviews
 * of other runs (may be NULL). */
int eg_it_ghsim_review_counts(eg_it_t *it,
                              const eg_it_stack_t *st,
                              size_t nruns,
                              unsigned *counts,
                              size_t *others);

/* Produces the gate requests for runs [from, to) of eg_it_scenario_many()
 * with the given delivery salt. */
int eg_it_stack_produce_range(
    eg_it_t *it, eg_it_stack_t *st, size_t from, size_t to, unsigned salt);

/* EG_OK when each of runs 0..nruns-1 of eg_it_scenario_many() got exactly
 * one accepted review and no other run got any; otherwise an error naming
 * the first run that did not. */
int eg_it_check_one_review_each(eg_it_t *it,
                                const eg_it_stack_t *st,
                                size_t nruns);

/* SIGTERMs every worker still running and waits for it. @returns EG_OK when
 * each exited 0. Workers that already ended (a test's kill -9) are
 * skipped. */
int eg_it_stack_stop_workers(eg_it_t *it, eg_it_stack_t *st);

/* Counts occurrences of the webhook secret, the App private key and every
 * token ghsim issued in every log file of the scratch directory and in every
 * record (key, value, headers) of the four topics. */
size_t eg_it_scan_secrets(eg_it_t *it, eg_it_stack_t *st);

#endif /* EG_IT_STACK_H */

/* envgate-ghsim internals: the scenario model, tokens, records, faults and
 * the deferred-answer timer shared by the simulator's modules. */
#ifndef GS_GHSIM_H
#define GS_GHSIM_H

#include "eg/http_server.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GS_ERRBUF_LEN 256

/* ---- small utilities (util.c) ---- */

/* Growable byte buffer; on allocation failure it sets oom and stops
 * growing, so callers check once at the end. */
struct gs_buf {
  char *p;
  size_t len;
  size_t cap;
  bool oom;
};

void gs_buf_add(struct gs_buf *b, const char *s, size_t n);
void gs_buf_adds(struct gs_buf *b, const char *s);
void gs_buf_addf(struct gs_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (with quotes). */
void gs_buf_add_jstr(struct gs_buf *b, const char *s);
/* Appends s percent-encoded for a URL query value. */
void gs_buf_add_urlenc(struct gs_buf *b, const char *s);
void gs_buf_free(struct gs_buf *b);

/* Open-addressing hash map from a 64-bit key (and optional string key,
 * compared when present) to a pointer. Not thread-safe by itself. */
struct gs_map_ent {
  uint64_t key;
  const char *skey;
  void *val;
};
struct gs_map {
  struct gs_map_ent *ents;
  size_t cap; /* power of two */
  size_t n;
};

uint64_t gs_hash_str(const char *s);
uint64_t gs_hash_u64(uint64_t k);
/* @returns 0, or -1 on allocation failure. The string key is borrowed and
 * must outlive the map. */
int gs_map_put(struct gs_map *m, uint64_t key, const char *skey, void *val);
void *gs_map_get(const struct gs_map *m, uint64_t key, const char *skey);
void gs_map_free(struct gs_map *m);

/* Deterministic PRNG step (splitmix64). */
uint64_t gs_splitmix64(uint64_t x);
/* Uniform double in [0, 1) from a 64-bit value. */
double gs_unit(uint64_t x);

uint64_t gs_now_ns(void); /* CLOCK_MONOTONIC */
int64_t gs_wall_ms(void); /* CLOCK_REALTIME, ms since the epoch */
/* Formats epoch seconds as 2006-01-02T15:04:05Z into out (>= 21 bytes). */
void gs_fmt_iso(int64_t epoch_s, char *out, size_t cap);
/* Same with milliseconds: 2006-01-02T15:04:05.000Z (>= 25 bytes). */
void gs_fmt_iso_ms(int64_t epoch_ms, char *out, size_t cap);
/* Lower-case hex SHA-256 of s (65 bytes with the NUL). */
void gs_sha256_hex(const char *s, char out[65]);
/* Fills out with n random characters from [A-Za-z0-9] (getrandom).
 * @returns 0 or -1. */
int gs_random_alnum(char *out, size_t n);
char *gs_read_file(const char *path, size_t max, size_t *len_out);

/* ---- permissions ---- */

enum { GS_PERM_NONE = 0, GS_PERM_READ = 1, GS_PERM_WRITE = 2 };
#define GS_MAX_PERMS 24
struct gs_perm {
  char name[48];
  int level;
};
struct gs_perms {
  size_t n;
  struct gs_perm p[GS_MAX_PERMS];
};

int gs_perms_level(const struct gs_perms *ps, const char *name);
/* Parses {"name":"read"|"write"} into out. @returns 0 or -1 (err says). */
int gs_perms_parse(json_t *obj, struct gs_perms *out, char *err, size_t len);
json_t *gs_perms_json(const struct gs_perms *ps);

/* ---- the scenario model (scenario.c, render.c) ---- */

struct gs_installation;

struct gs_repo {
  uint64_t id;
  char *owner;
  char *name;
  char *full_name;
  bool private_repo;
  struct gs_installation *inst; /* NULL: the app is not installed there */
  json_t *json;                 /* minimal-repository object (render.c) */
  json_t *json_full;            /* full repository object for tokens */
  char *text;                   /* json, serialized */
  struct gs_deployment **deps;  /* newest (highest id) first */
  size_t ndeps;
};

struct gs_installation {
  uint64_t id;
  char *account;
  bool all_repos; /* repository_selection "all" */
  struct gs_repo **repos;
  size_t nrepos;
  struct gs_perms perms;
  atomic_uint_fast64_t rl_used;   /* primary rate limit, current window */
  atomic_uint_fast64_t rl_window; /* window index of rl_used */
};

struct gs_job {
  uint64_t id;
  struct gs_run *run;
  char *name;
  char *status;
  char *conclusion; /* NULL: null */
  char *head_sha;
  unsigned run_attempt;
  char *body; /* cached JSON */
  size_t len;
};

/* A pending deployment of a run; `reviewed` changes at run time (under
 * gs_sim.state_lock). */
struct gs_pending {
  char *environment;
  uint64_t env_id;
  char *body; /* cached JSON element */
  size_t len;
  int reviewed; /* 0, or 1 = approved, 2 = rejected */
};

struct gs_approval {
  char *state;
  char *comment;
  char *user;
  char **environments;
  size_t nenvironments;
};

struct gs_run {
  uint64_t id;
  struct gs_repo *repo;
  char *name;
  char *path;
  char *event;
  char *head_sha;
  char *head_branch;
  char *head_repository; /* full name */
  char *actor;
  char *triggering_actor;
  char *status;
  char *conclusion; /* NULL: null */
  unsigned run_attempt;
  char *expect;        /* "approved"/"rejected"/NULL: for load tools */
  char *expect_reason; /* why a generated run should be rejected */
  struct gs_job **jobs;
  size_t njobs;
  struct gs_pending *pending;
  size_t npending;
  struct gs_approval *approvals;
  size_t napprovals;
  char *body; /* cached JSON */
  size_t len;
  char *approvals_body; /* cached JSON array */
  size_t approvals_len;
};

struct gs_status {
  char *state;
  char *description;
  char *log_url;
  char *target_url;
  char *body; /* cached JSON */
  size_t len;
};

struct gs_deployment {
  uint64_t id;
  struct gs_repo *repo;
  char *environment;
  char *sha;
  char *ref;
  char *task;
  char *creator;
  int64_t created_s;
  struct gs_status *statuses; /* oldest first, as in the scenario */
  size_t nstatuses;
  char *body; /* cached JSON */
  size_t len;
};

struct gs_delivery {
  uint64_t id;
  char *guid;
  char *event;
  char *action;
  int status_code;
  char *delivered_at;
  bool redelivery;
  double duration;
  uint64_t installation_id;
  uint64_t repository_id;
};

struct gs_app {
  uint64_t id;
  char *client_id;
  char *slug;
  char *public_key_pem;
  struct gs_perms perms;
};

struct gs_scenario {
  struct gs_app app;
  int64_t token_ttl_ms;
  uint64_t rate_limit;
  bool rate_limit_enforce;
  int foreign_repo_status; /* 404 (default) or 403 */
  bool require_user_agent;
  int redelivery_status_code;
  struct gs_installation **insts;
  size_t ninsts;
  struct gs_repo **repos;
  size_t nrepos;
  struct gs_run **runs;
  size_t nruns;
  struct gs_job **jobs;
  size_t njobs;
  struct gs_deployment **deps; /* sorted by id, newest (highest) last */
  size_t ndeps;
  struct gs_delivery *deliveries; /* scenario deliveries (reset copies) */
  size_t ndeliveries;
  json_t *faults;   /* the scenario's "faults" object, or NULL */
  char *gates_body; /* GET /_sim/gates */
  size_t gates_len;
  struct gs_map by_inst, by_repo_id, by_repo_name, by_run, by_job, by_dep;
};

/* Loads and validates a scenario file (path may be NULL for an empty
 * scenario). public_key_path overrides app.public_key_file; app_id and
 * client_id (may be NULL/0) override the app's. @returns 0, or -1 with err
 * set to one line naming the problem. Free with gs_scenario_free(). */
struct gs_scenario_opts {
  const char *path;
  const char *public_key_path;
  uint64_t app_id;
  const char *client_id;
  int64_t token_ttl_s; /* < 0: scenario's or 3600 */
  uint64_t seed;
};
int gs_scenario_load(const struct gs_scenario_opts *o,
                     struct gs_scenario **out,
                     char *err,
                     size_t errlen);
void gs_scenario_free(struct gs_scenario *sc);

/* Builds every cached JSON body from the fixture templates, with API URLs
 * under base_url. @returns 0, or -1 (err says why). */
int gs_render_all(struct gs_scenario *sc,
                  const char *base_url,
                  char *err,
                  size_t errlen);
/* The JSON of one hook delivery list item (caller frees with free()). */
char *gs_render_delivery(const struct gs_delivery *d, bool full);
/* Template accessors (render.c): embedded fixture text. */
const char *gs_template(const char *name, size_t *len);

/* ---- endpoints ---- */

enum gs_ep {
  GS_EP_MINT,
  GS_EP_RUN,
  GS_EP_JOBS,
  GS_EP_JOB,
  GS_EP_DEPLOYMENTS,
  GS_EP_STATUSES,
  GS_EP_APPROVALS,
  GS_EP_PENDING,
  GS_EP_REVIEW,
  GS_EP_DELIVERIES,
  GS_EP_DELIVERY,
  GS_EP_REDELIVER,
  GS_EP_OTHER,
  GS_EP_COUNT
};
const char *gs_ep_name(enum gs_ep ep);
/* @returns the endpoint named name, or -1. */
int gs_ep_parse(const char *name);

/* ---- faults (faults.c) ---- */

struct gs_fault {
  bool set;
  uint32_t latency_min_ms;
  uint32_t latency_max_ms;
  double p500, p502, p429, p403_primary, p403_secondary, ptimeout, preset;
  uint32_t retry_after_s;
  uint32_t timeout_ms; /* how long a "timeout" holds the request */
  int64_t limit;       /* faults apply to at most this many calls; -1 = all */
  atomic_int_fast64_t applied;
};
struct gs_faults {
  struct gs_fault ep[GS_EP_COUNT];
  json_t *src; /* the JSON it was parsed from (for GET /_sim/faults) */
  struct gs_faults *retired_next;
};

enum gs_fault_kind {
  GS_FAULT_NONE,
  GS_FAULT_500,
  GS_FAULT_502,
  GS_FAULT_429,
  GS_FAULT_403_PRIMARY,
  GS_FAULT_403_SECONDARY,
  GS_FAULT_TIMEOUT,
  GS_FAULT_RESET
};

struct gs_fault_decision {
  enum gs_fault_kind kind;
  uint32_t latency_ms;
  uint32_t retry_after_s;
  uint32_t hold_ms;
};

/* Parses a faults object {"<endpoint>|*": {...}}. @returns a new table or
 * NULL with err set. Free with gs_faults_free(). */
struct gs_faults *gs_faults_parse(json_t *obj, char *err, size_t errlen);
void gs_faults_free(struct gs_faults *f);
/* Draws a decision for one call of ep with the PRNG value r. */
void gs_faults_decide(struct gs_faults *f,
                      enum gs_ep ep,
                      uint64_t r,
                      struct gs_fault_decision *out);

/* ---- deferred answers (timer.c) ---- */

struct gs_timer;
/* @returns a started timer thread, or NULL. */
struct gs_timer *gs_timer_new(void);
/* Answers req at due_ns (CLOCK_MONOTONIC): with status/body (body is taken
 * over, freed with free(); NULL allowed) or, when abort_conn, by closing the
 * connection without an answer. When the timer is stopping, answers at once.
 * @returns 0, or -1 (then the caller still owns body and req). */
int gs_timer_add(struct gs_timer *t,
                 uint64_t due_ns,
                 eg_http_req_t *req,
                 int status,
                 char *body,
                 size_t len,
                 bool abort_conn);
/* Answers everything queued now; later additions are answered at once. */
void gs_timer_flush(struct gs_timer *t);
size_t gs_timer_pending(struct gs_timer *t);
/* The most answers deferred at once (with a latency on every call: the most
 * calls in flight), since the start or the last reset (reset: from now). */
size_t gs_timer_pending_max(struct gs_timer *t, bool reset);
void gs_timer_free(struct gs_timer *t);

/* ---- records (record.c) ---- */

/* Record fields are borrowed on input and owned copies once stored. */
struct gs_review_rec {
  uint64_t run_id;
  const char *repo;
  const char *environment;
  const char *state; /* NULL: comment only */
  const char *comment;
  const char *token_sha256;
  int status;
  int64_t at_ms;
};

struct gs_mint_rec {
  uint64_t installation_id;
  const uint64_t *repo_ids;
  size_t nrepo_ids;
  const char *permissions; /* JSON text */
  const char *token_sha256;
  int64_t at_ms;
};

struct gs_redeliver_rec {
  uint64_t delivery_id;
  uint64_t new_id;
  int64_t at_ms;
};

#define GS_NSTATUS 16
struct gs_records {
  pthread_mutex_t lock;
  struct gs_review_rec *reviews;
  size_t nreviews, capreviews;
  struct gs_mint_rec *mints;
  size_t nmints, capmints;
  struct gs_redeliver_rec *redeliveries;
  size_t nredeliveries, capredeliveries;
  struct gs_map mint_counts; /* (installation, repo) -> count (uintptr_t) */
  uint64_t *mint_keys;       /* keys in mint_counts, for listing */
  size_t nmint_keys, capmint_keys;
  atomic_uint_fast64_t calls[GS_EP_COUNT][GS_NSTATUS];
  atomic_uint_fast64_t faults_fired[GS_EP_COUNT];
};

int gs_records_init(struct gs_records *r);
void gs_records_cleanup(struct gs_records *r);
void gs_records_clear(struct gs_records *r);
void gs_records_count(struct gs_records *r, enum gs_ep ep, int status);
/* Each takes copies of its strings. @returns 0 or -1 (out of memory). */
int gs_records_review(struct gs_records *r, const struct gs_review_rec *rec);
int gs_records_mint(struct gs_records *r, const struct gs_mint_rec *rec);
int gs_records_redeliver(struct gs_records *r, uint64_t id, uint64_t new_id);
/* Adds calls/reviews/mints/... to obj. @returns 0 or -1. */
int gs_records_json(struct gs_records *r, json_t *obj);

/* ---- tokens (auth.c) ---- */

struct gs_token {
  char *token;
  char sha256[65];
  struct gs_installation *inst;
  uint64_t *repo_ids; /* NULL: every repository of the installation */
  size_t nrepo_ids;
  struct gs_perms perms;
  int64_t created_ms;
  atomic_int_fast64_t expires_ms;
};

struct gs_tokens {
  pthread_rwlock_t lock;
  struct gs_map map;
  struct gs_token **all;
  size_t n, cap;
};

int gs_tokens_init(struct gs_tokens *t);
void gs_tokens_cleanup(struct gs_tokens *t);
/* Adds tok (taken over on success). @returns 0 or -1. */
int gs_tokens_add(struct gs_tokens *t, struct gs_token *tok);
/* Looks a token up; the result stays valid until gs_tokens_cleanup(). */
struct gs_token *gs_tokens_find(struct gs_tokens *t, const char *token);
bool gs_token_has_repo(const struct gs_token *tok, uint64_t repo_id);
void gs_tokens_expire_all(struct gs_tokens *t);
json_t *gs_tokens_json(struct gs_tokens *t);

/* The outcome of checking an App JWT. */
struct gs_jwt_result {
  int status;          /* 0 = ok, else the HTTP status to answer */
  const char *message; /* GitHub-style message when status != 0 */
};
void gs_auth_check_jwt(const struct gs_scenario *sc,
                       const char *authz,
                       int64_t now_s,
                       struct gs_jwt_result *out);

/* ---- the simulator (routes.c) ---- */

struct gs_sim {
  struct gs_scenario *sc;
  char base_url[320];
  uint64_t seed;
  atomic_uint_fast64_t rng_counter;
  atomic_uint_fast64_t req_counter;
  atomic_int ready;
  atomic_int stopping;
  int64_t start_s;
  _Atomic(struct gs_faults *) faults;
  pthread_mutex_t faults_lock; /* writers only */
  struct gs_faults *retired;   /* old tables, freed at exit */
  pthread_mutex_t state_lock;  /* pending reviews, deliveries */
  struct gs_delivery *deliveries;
  size_t ndeliveries, capdeliveries;
  uint64_t next_delivery_id;
  struct gs_installation app_rl; /* the App's own (JWT) rate limit */
  struct gs_tokens tokens;
  struct gs_records rec;
  struct gs_timer *timer;
};

int gs_sim_init(struct gs_sim *sim,
                struct gs_scenario *sc,
                uint64_t seed,
                char *err,
                size_t errlen);
void gs_sim_cleanup(struct gs_sim *sim);
/* Renders the cached JSON for base_url and starts answering. */
int gs_sim_ready(struct gs_sim *sim,
                 const char *base_url,
                 char *err,
                 size_t errlen);
/* The single HTTP handler for every path. */
void gs_sim_handle(eg_http_req_t *req, void *ud);

/* Control endpoints (control.c). @returns true when path was one. */
bool gs_control_handle(struct gs_sim *sim,
                       eg_http_req_t *req,
                       const char *method,
                       const char *path);
/* Resets run-time state to the scenario's and clears the records. */
void gs_sim_reset(struct gs_sim *sim);
/* Replaces the fault table (taken over). */
void gs_sim_set_faults(struct gs_sim *sim, struct gs_faults *f);

#endif /* GS_GHSIM_H */

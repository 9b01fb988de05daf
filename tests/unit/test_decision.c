/* Unit tests for the decision engine: table-driven scenarios over a fake
 * GitHub built from the REST examples in fixtures/github (modified in
 * memory with jansson), each run with responses fed in order and in
 * reverse; call and round counts; misuse; review body and path; checks
 * JSON; allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/decision.h"
#include "eg/error.h"
#include "eg/event.h"
#include "eg/gh_parse.h"
#include "eg/policy.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allocation failure injection (as in test_metrics.c). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OOM_INJECTION 0
#else
#define OOM_INJECTION 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static long oom_countdown = -1;
static bool oom_hit;

static bool oom_now(void) {
  if (oom_countdown < 0)
    return false;
  if (oom_countdown-- == 0) {
    oom_hit = true;
    return true;
  }
  return false;
}

void *malloc(size_t n) {
  return oom_now() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
  return oom_now() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
  return oom_now() ? NULL : __libc_realloc(p, n);
}

void free(void *p) {
  __libc_free(p);
}
#endif

/* The ost-environment-gate payload fixture's identity. */
#define OWNER   "zaniebot"
#define REPO    "release-authenticator-example"
#define FULL    OWNER "/" REPO
#define REPO_ID 1192056896ULL
#define RUN     23625057533ULL
#define SHA     "47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54"
#define JOB     69582278191ULL
#define DEP     4189570001ULL
#define PFX     "/repos/" FULL
#define JOB_URL                                                                \
  "https://github.com/" FULL "/actions/runs/23625057533/job/69582278191"

#define P_RUN  PFX "/actions/runs/23625057533"
#define P_DEPS "/deployments?environment=release-gate&sha=" SHA "&per_page=100"
#define P_DEP1 PFX P_DEPS "&page=1"
#define P_ST1  PFX "/deployments/4189570001/statuses?per_page=1"
#define P_JOB  PFX "/actions/jobs/69582278191"
#define P_JOBS PFX "/actions/runs/23625057533/jobs?filter=latest&per_page=100"
#define P_APPR PFX "/actions/runs/23625057533/approvals"

static const char ost_policy[] =
    "{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
    "[\"workflow_dispatch\"], \"release_environment_name\": \"release\", "
    "\"release_gate_environment_name\": \"release-gate\", "
    "\"release_gate_job_name\": \"release-gate\", "
    "\"release_workflow_path\": \".github/workflows/release.yml\"%s}";

static eg_event_t base_event;

static json_t *fixture(const char *name) {
  char path[1024];
  json_error_t e;
  json_t *j;

  snprintf(path, sizeof(path), "%s/%s", EG_FIXTURES_DIR, name);
  j = json_load_file(path, 0, &e);
  if (j == NULL)
    fail_msg("fixture %s: %s", path, e.text);
  return j;
}

static int group_setup(void **state) {
  char path[1024];
  char err[EG_ERRBUF_LEN];
  char *body;
  FILE *f;
  long n;

  (void)state;
  snprintf(path, sizeof(path), "%s/%s", EG_FIXTURES_DIR,
           "webhook-deployment_protection_rule.requested.ost-environment-gate."
           "json");
  f = fopen(path, "rb");
  if (f == NULL)
    return -1;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  rewind(f);
  body = malloc((size_t)n);
  if (body == NULL || fread(body, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(body);
    return -1;
  }
  fclose(f);
  if (eg_event_parse(body, (size_t)n, "https://api.github.com", 0, &base_event,
                     err, sizeof(err)) != EG_OK) {
    print_error("event fixture: %s\n", err);
    free(body);
    return -1;
  }
  free(body);
  return 0;
}

/* ---- the fake GitHub ---- */

#define MAXR 2048

struct route {
  char *path;
  int status;
  char *body;
  unsigned flags;
  int hits;
};

struct fx {
  eg_event_t ev;
  char policy_ext[1024];  /* appended to the ost policy's top level */
  char policy_full[4096]; /* or a whole policy */
  struct route r[MAXR];
  size_t nr;
  size_t max_per_round;
  bool reverse;
  /* What the decision asked for, in order. */
  char *asked[MAXR];
  size_t nasked;
};

static struct route *find(struct fx *fx, const char *path) {
  for (size_t i = 0; i < fx->nr; i++)
    if (strcmp(fx->r[i].path, path) == 0)
      return &fx->r[i];
  return NULL;
}

/* Sets the answer for path; body is stolen (NULL: empty body). */
static void
put(struct fx *fx, const char *path, int status, json_t *body, unsigned flags) {
  struct route *r = find(fx, path);

  if (r == NULL) {
    assert_true(fx->nr < MAXR);
    r = &fx->r[fx->nr++];
    r->path = strdup(path);
  } else {
    free(r->body);
  }
  r->status = status;
  r->body = body != NULL ? json_dumps(body, JSON_COMPACT) : strdup("");
  r->flags = flags;
  json_decref(body);
}

static void put_raw(struct fx *fx,
                    const char *path,
                    int status,
                    const char *raw,
                    unsigned flags) {
  struct route *r = find(fx, path);

  assert_non_null(r);
  free(r->body);
  r->status = status;
  r->body = strdup(raw);
  r->flags = flags;
}

/* Edits the JSON at path in place through fn. */
static void edit(struct fx *fx, const char *path, void (*fn)(json_t *)) {
  struct route *r = find(fx, path);
  json_t *j;

  assert_non_null(r);
  j = json_loads(r->body, 0, NULL);
  assert_non_null(j);
  fn(j);
  free(r->body);
  r->body = json_dumps(j, JSON_COMPACT);
  json_decref(j);
}

static void fx_free(struct fx *fx) {
  for (size_t i = 0; i < fx->nr; i++) {
    free(fx->r[i].path);
    free(fx->r[i].body);
  }
  for (size_t i = 0; i < fx->nasked; i++)
    free(fx->asked[i]);
  memset(fx, 0, sizeof(*fx));
}

/* ---- fixture-based bodies ---- */

static json_t *run_body(void) {
  json_t *run = fixture("rest-get-workflow-run.200.json");
  json_t *head = json_object_get(run, "head_repository");

  json_object_set_new(run, "id", json_integer((json_int_t)RUN));
  json_object_set_new(run, "path",
                      json_string(".github/workflows/release.yml"));
  json_object_set_new(run, "event", json_string("workflow_dispatch"));
  json_object_set_new(run, "head_sha", json_string(SHA));
  json_object_set_new(head, "full_name", json_string(FULL));
  json_object_set_new(head, "id", json_integer((json_int_t)REPO_ID));
  json_object_set_new(json_object_get(run, "triggering_actor"), "login",
                      json_string("zaniebot"));
  return run;
}

static json_t *deployment(uint64_t id) {
  json_t *list = fixture("rest-list-deployments.200.json");
  json_t *d = json_incref(json_array_get(list, 0));

  json_decref(list);
  json_object_set_new(d, "id", json_integer((json_int_t)id));
  json_object_set_new(d, "sha", json_string(SHA));
  json_object_set_new(d, "environment", json_string("release-gate"));
  return d;
}

static json_t *
statuses(const char *state, const char *log, const char *target) {
  json_t *list = fixture("rest-list-deployment-statuses.200.json");
  json_t *s = json_array_get(list, 0);

  json_object_set_new(s, "state", json_string(state));
  json_object_set_new(s, "environment", json_string("release-gate"));
  json_object_set_new(s, "log_url", log ? json_string(log) : json_null());
  json_object_set_new(s, "target_url",
                      target ? json_string(target) : json_null());
  return list;
}

static json_t *job_body(uint64_t id, const char *name, const char *concl) {
  json_t *job = fixture("rest-get-job-for-workflow-run.200.json");

  json_object_set_new(job, "id", json_integer((json_int_t)id));
  json_object_set_new(job, "run_id", json_integer((json_int_t)RUN));
  json_object_set_new(job, "head_sha", json_string(SHA));
  json_object_set_new(job, "name", json_string(name));
  json_object_set_new(job, "conclusion",
                      concl ? json_string(concl) : json_null());
  return job;
}

/* A jobs page of n jobs named job-<k> from k = first; gate_at >= 0 puts the
 * gate job at that index. */
static json_t *jobs_page(size_t n, size_t first, int gate_at, long total) {
  json_t *page = fixture("rest-list-jobs-for-workflow-run.200.json");
  json_t *tmpl = json_incref(json_array_get(json_object_get(page, "jobs"), 0));
  json_t *jobs = json_array();

  json_object_del(tmpl, "steps"); /* keep 100-job pages small */
  for (size_t i = 0; i < n; i++) {
    json_t *j = json_deep_copy(tmpl);
    char name[32];

    snprintf(name, sizeof(name), "job-%zu", first + i);
    json_object_set_new(j, "id", json_integer((json_int_t)(1000 + first + i)));
    json_object_set_new(j, "run_id", json_integer((json_int_t)RUN));
    json_object_set_new(j, "head_sha", json_string(SHA));
    json_object_set_new(j, "name",
                        json_string((int)i == gate_at ? "release-gate" : name));
    json_array_append_new(jobs, j);
  }
  json_decref(tmpl);
  json_object_set_new(page, "jobs", jobs);
  if (total >= 0)
    json_object_set_new(page, "total_count", json_integer(total));
  else
    json_object_del(page, "total_count");
  return page;
}

static json_t *
approvals(const char *login, const char *env, const char *state) {
  json_t *list = fixture("rest-get-reviews-for-run-approvals.200.json");
  json_t *a = json_array_get(list, 0);

  json_object_set_new(a, "state", json_string(state));
  json_object_set_new(json_object_get(a, "user"), "login", json_string(login));
  json_object_set_new(json_array_get(json_object_get(a, "environments"), 0),
                      "name", json_string(env));
  return list;
}

/* The baseline: every read answered for an approve in either mode. */
static void fx_init(struct fx *fx) {
  json_t *deps = json_array();

  memset(fx, 0, sizeof(*fx));
  fx->ev = base_event;
  fx->max_per_round = 64;
  put(fx, P_RUN, 200, run_body(), 0);
  json_array_append_new(deps, deployment(DEP));
  put(fx, P_DEP1, 200, deps, 0);
  put(fx, P_ST1, 200, statuses("success", JOB_URL, JOB_URL), 0);
  put(fx, P_JOB, 200, job_body(JOB, "release-gate", "success"), 0);
  put(fx, P_JOBS "&page=1", 200, jobs_page(3, 0, 1, 3), 0);
  put(fx, P_APPR, 200, approvals("reviewer", "release-gate", "approved"), 0);
}

static eg_policy_t *fx_policy(struct fx *fx) {
  char doc[8192];
  char err[EG_ERRBUF_LEN];
  eg_policy_t *p;

  if (fx->policy_full[0] != '\0')
    snprintf(doc, sizeof(doc), "%s", fx->policy_full);
  else
    snprintf(doc, sizeof(doc), ost_policy, fx->policy_ext);
  if (eg_policy_load_string(doc, strlen(doc), "test", &p, NULL, NULL, err,
                            sizeof(err)) != EG_OK)
    fail_msg("policy: %s", err);
  return p;
}

/* Runs a decision against the fake GitHub until it is done. */
static eg_decision_t *drive(struct fx *fx, const eg_policy_rules_t *rules) {
  eg_decision_t *d;
  eg_decision_result_t res;
  eg_decision_call_t calls[MAXR];

  assert_int_equal(eg_decision_new(rules, &fx->ev, NULL, &d), EG_OK);
  for (int round = 0; round < 100; round++) {
    size_t n;

    eg_decision_result(d, &res);
    if (res.done)
      break;
    n = eg_decision_next(d, calls, fx->max_per_round);
    if (n == 0)
      fail_msg("pending decision handed out no call");
    for (size_t k = 0; k < n; k++) {
      size_t i = fx->reverse ? n - 1 - k : k;
      struct route *r = find(fx, calls[i].path);

      assert_string_equal(calls[i].method, "GET");
      if (r == NULL)
        fail_msg("unexpected call %s", calls[i].path);
      r->hits++;
      fx->asked[fx->nasked++] = strdup(calls[i].path);
      assert_int_equal(eg_decision_feed(d, calls[i].id, r->status, r->body,
                                        strlen(r->body), r->flags),
                       EG_OK);
    }
  }
  eg_decision_result(d, &res);
  assert_true(res.done);
  /* Done means nothing more to do. */
  assert_int_equal(eg_decision_next(d, calls, 8), 0);
  return d;
}

/* ---- scenarios ---- */

static void set_ref_dev(struct fx *fx) {
  strcpy(fx->ev.ref, "dev");
}
static void set_ref_missing(struct fx *fx) {
  fx->ev.ref[0] = '\0';
}
static void set_ref_full(struct fx *fx) {
  strcpy(fx->ev.ref, "refs/heads/main");
}
static void set_ref_tag_main(struct fx *fx) {
  strcpy(fx->ev.ref, "refs/tags/main");
}
static void set_env_staging(struct fx *fx) {
  strcpy(fx->ev.environment, "staging");
}
static void set_env_upper(struct fx *fx) {
  strcpy(fx->ev.environment, "RELEASE");
}

static void e_fork(json_t *run) {
  json_object_set_new(json_object_get(run, "head_repository"), "full_name",
                      json_string("attacker/" REPO));
}
static void set_fork(struct fx *fx) {
  edit(fx, P_RUN, e_fork);
}
static void e_fork_id(json_t *run) {
  json_object_set_new(json_object_get(run, "head_repository"), "id",
                      json_integer(42));
}
static void set_fork_same_name(struct fx *fx) {
  edit(fx, P_RUN, e_fork_id);
}
static void e_head_case(json_t *run) {
  json_object_set_new(json_object_get(run, "head_repository"), "full_name",
                      json_string("ZanieBot/Release-Authenticator-Example"));
}
static void set_head_case(struct fx *fx) {
  edit(fx, P_RUN, e_head_case);
}
static void e_no_head(json_t *run) {
  json_object_set_new(run, "head_repository", json_null());
}
static void set_no_head(struct fx *fx) {
  edit(fx, P_RUN, e_no_head);
}
static void e_event_push(json_t *run) {
  json_object_set_new(run, "event", json_string("push"));
}
static void set_event_push(struct fx *fx) {
  edit(fx, P_RUN, e_event_push);
}
static void e_no_event(json_t *run) {
  json_object_del(run, "event");
}
static void set_no_event(struct fx *fx) {
  edit(fx, P_RUN, e_no_event);
}
static void e_path_evil(json_t *run) {
  json_object_set_new(run, "path", json_string(".github/workflows/evil.yml"));
}
static void set_path_evil(struct fx *fx) {
  edit(fx, P_RUN, e_path_evil);
}
static void e_path_at(json_t *run) {
  json_object_set_new(run, "path",
                      json_string(".github/workflows/release.yml@main"));
}
static void set_path_at(struct fx *fx) {
  edit(fx, P_RUN, e_path_at);
}
static void e_path_at_full(json_t *run) {
  json_object_set_new(
      run, "path",
      json_string(".github/workflows/release.yml@refs/heads/main"));
}
static void set_path_at_full(struct fx *fx) {
  edit(fx, P_RUN, e_path_at_full);
}
static void e_path_longer(json_t *run) {
  json_object_set_new(run, "path",
                      json_string(".github/workflows/release.yml.bak"));
}
static void set_path_longer(struct fx *fx) {
  edit(fx, P_RUN, e_path_longer);
}
static void e_no_path(json_t *run) {
  json_object_set_new(run, "path", json_null());
}
static void set_no_path(struct fx *fx) {
  edit(fx, P_RUN, e_no_path);
}
static void set_all_run_wrong(struct fx *fx) {
  edit(fx, P_RUN, e_path_evil);
  edit(fx, P_RUN, e_event_push);
  edit(fx, P_RUN, e_fork);
}
static void set_status_failure(struct fx *fx) {
  put(fx, P_ST1, 200, statuses("failure", JOB_URL, JOB_URL), 0);
}
static void set_status_odd(struct fx *fx) {
  put(fx, P_ST1, 200, statuses("exploded", JOB_URL, JOB_URL), 0);
}
static void set_statuses_newest_first(struct fx *fx) {
  json_t *list = statuses("failure", JOB_URL, JOB_URL);
  json_t *older = statuses("success", JOB_URL, JOB_URL);

  json_array_extend(list, older);
  json_decref(older);
  put(fx, P_ST1, 200, list, 0);
}
static void set_no_deployments(struct fx *fx) {
  put(fx, P_DEP1, 200, json_array(), 0);
}
static void set_no_statuses(struct fx *fx) {
  put(fx, P_ST1, 200, json_array(), 0);
}
static void e_other_sha(json_t *deps) {
  json_object_set_new(json_array_get(deps, 0), "sha",
                      json_string("0000000000000000000000000000000000000000"));
}
static void set_deployment_other_sha(struct fx *fx) {
  edit(fx, P_DEP1, e_other_sha);
}
static void set_urls_inconsistent(struct fx *fx) {
  put(fx, P_ST1, 200,
      statuses("success", JOB_URL,
               "https://github.com/" FULL "/actions/runs/23625057533/job/1"),
      0);
}
static void set_url_not_actions(struct fx *fx) {
  put(fx, P_ST1, 200,
      statuses("success", "https://example.com/deployment/42/output", JOB_URL),
      0);
}
static void set_url_none(struct fx *fx) {
  put(fx, P_ST1, 200, statuses("success", NULL, NULL), 0);
}
static void set_url_empty(struct fx *fx) {
  put(fx, P_ST1, 200, statuses("success", "", ""), 0);
}
static void set_url_target_only(struct fx *fx) {
  put(fx, P_ST1, 200, statuses("success", NULL, JOB_URL), 0);
}
static void set_url_other_host(struct fx *fx) {
  put(fx, P_ST1, 200,
      statuses("success",
               "https://github.example/" FULL
               "/actions/runs/23625057533/job/69582278191",
               NULL),
      0);
}
static void set_url_other_repo(struct fx *fx) {
  put(fx, P_ST1, 200,
      statuses("success",
               "https://github.com/other/repo/actions/runs/23625057533/job/"
               "69582278191",
               NULL),
      0);
}
static void set_url_other_run(struct fx *fx) {
  put(fx, P_ST1, 200,
      statuses("success",
               "https://github.com/" FULL "/actions/runs/1/job/69582278191",
               NULL),
      0);
}
static void set_url_repo_case(struct fx *fx) {
  put(fx, P_ST1, 200,
      statuses("success",
               "https://github.com/ZANIEBOT/" REPO
               "/actions/runs/23625057533/job/69582278191",
               NULL),
      0);
}
static void set_job_404(struct fx *fx) {
  put(fx, P_JOB, 404, NULL, 0);
}
static void e_job_other_run(json_t *job) {
  json_object_set_new(job, "run_id", json_integer(1));
}
static void set_job_other_run(struct fx *fx) {
  edit(fx, P_JOB, e_job_other_run);
}
static void e_job_other_sha(json_t *job) {
  json_object_set_new(job, "head_sha",
                      json_string("1111111111111111111111111111111111111111"));
}
static void set_job_other_sha(struct fx *fx) {
  edit(fx, P_JOB, e_job_other_sha);
}
static void set_job_failed(struct fx *fx) {
  put(fx, P_JOB, 200, job_body(JOB, "release-gate", "failure"), 0);
}
static void set_job_running(struct fx *fx) {
  put(fx, P_JOB, 200, job_body(JOB, "release-gate", NULL), 0);
}
static void set_job_odd_conclusion(struct fx *fx) {
  put(fx, P_JOB, 200, job_body(JOB, "release-gate", "stale"), 0);
}
static void set_job_name_build(struct fx *fx) {
  put(fx, P_JOB, 200, job_body(JOB, "build", "success"), 0);
}
static void set_job_name_build_no_policy_name(struct fx *fx) {
  put(fx, P_JOB, 200, job_body(JOB, "build", "success"), 0);
  snprintf(fx->policy_full, sizeof(fx->policy_full),
           "{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
           "[\"workflow_dispatch\"], \"release_environment_name\": "
           "\"release\", \"release_gate_environment_name\": \"release-gate\", "
           "\"release_workflow_path\": \".github/workflows/release.yml\"}");
}

/* Two gate deployments (newest first): the first's status failed, the
 * second's succeeded: any match approves. */
static void set_two_first_fails(struct fx *fx) {
  json_t *deps = json_array();

  json_array_append_new(deps, deployment(DEP + 1));
  json_array_append_new(deps, deployment(DEP));
  put(fx, P_DEP1, 200, deps, 0);
  put(fx, PFX "/deployments/4189570002/statuses?per_page=1", 200,
      statuses("error", JOB_URL, JOB_URL), 0);
}
/* Both fail, for different reasons: the first deployment's comment wins
 * (ost's rejection_comment.get_or_insert). */
static void set_two_both_fail(struct fx *fx) {
  set_two_first_fails(fx);
  set_job_failed(fx);
}
static void set_two_same_job(struct fx *fx) {
  set_two_first_fails(fx);
  put(fx, PFX "/deployments/4189570002/statuses?per_page=1", 200,
      statuses("success", JOB_URL, JOB_URL), 0);
}

static void set_job_mode(struct fx *fx) {
  snprintf(fx->policy_ext, sizeof(fx->policy_ext),
           ", \"gate_evidence\": \"job\"");
}
static void set_job_mode_missing(struct fx *fx) {
  set_job_mode(fx);
  put(fx, P_JOBS "&page=1", 200, jobs_page(3, 0, -1, 3), 0);
}
static void e_gate_failed(json_t *page) {
  json_object_set_new(json_array_get(json_object_get(page, "jobs"), 1),
                      "conclusion", json_string("failure"));
}
static void set_job_mode_failed(struct fx *fx) {
  set_job_mode(fx);
  edit(fx, P_JOBS "&page=1", e_gate_failed);
}
static void e_gate_null(json_t *page) {
  json_object_set_new(json_array_get(json_object_get(page, "jobs"), 1),
                      "conclusion", json_null());
}
static void set_job_mode_running(struct fx *fx) {
  set_job_mode(fx);
  edit(fx, P_JOBS "&page=1", e_gate_null);
}
static void e_gate_other_run(json_t *page) {
  json_object_set_new(json_array_get(json_object_get(page, "jobs"), 1),
                      "run_id", json_integer(5));
}
static void set_job_mode_other_run(struct fx *fx) {
  set_job_mode(fx);
  edit(fx, P_JOBS "&page=1", e_gate_other_run);
}
/* 250 jobs over 3 pages, the gate job on page 3; total_count known. */
static void set_job_mode_3_pages(struct fx *fx) {
  set_job_mode(fx);
  put(fx, P_JOBS "&page=1", 200, jobs_page(100, 0, -1, 250), 0);
  put(fx, P_JOBS "&page=2", 200, jobs_page(100, 100, -1, 250), 0);
  put(fx, P_JOBS "&page=3", 200, jobs_page(50, 200, 17, 250), 0);
}
/* The same without total_count: pages follow one another. */
static void set_job_mode_3_pages_seq(struct fx *fx) {
  set_job_mode(fx);
  put(fx, P_JOBS "&page=1", 200, jobs_page(100, 0, -1, -1),
      EG_DECISION_RESP_LINK_NEXT);
  put(fx, P_JOBS "&page=2", 200, jobs_page(100, 100, -1, -1),
      EG_DECISION_RESP_LINK_NEXT);
  put(fx, P_JOBS "&page=3", 200, jobs_page(50, 200, 17, -1),
      EG_DECISION_RESP_LAST_PAGE);
}
/* The first job of the name counts, even when another follows it. */
static void e_second_gate_failed(json_t *page) {
  json_t *j = json_array_get(json_object_get(page, "jobs"), 7);

  json_object_set_new(j, "name", json_string("release-gate"));
  json_object_set_new(j, "conclusion", json_string("failure"));
}
static void set_job_mode_first_wins(struct fx *fx) {
  set_job_mode(fx);
  put(fx, P_JOBS "&page=1", 200, jobs_page(100, 0, -1, 150), 0);
  put(fx, P_JOBS "&page=2", 200, jobs_page(50, 100, 5, 150), 0);
  edit(fx, P_JOBS "&page=2", e_second_gate_failed);
}
static void e_gate99_failed(json_t *page) {
  json_object_set_new(json_array_get(json_object_get(page, "jobs"), 99),
                      "conclusion", json_string("cancelled"));
}
static void set_job_mode_found_page1(struct fx *fx) {
  set_job_mode(fx);
  /* Found on page 1: pages 2.. are never asked for. */
  put(fx, P_JOBS "&page=1", 200, jobs_page(100, 0, 99, 150), 0);
  edit(fx, P_JOBS "&page=1", e_gate99_failed);
}
/* Full pages all the way: the 10-page cap (1000 jobs) ends it. */
static void set_job_mode_cap(struct fx *fx) {
  set_job_mode(fx);
  for (int p = 1; p <= 10; p++) {
    char path[512];

    snprintf(path, sizeof(path), P_JOBS "&page=%d", p);
    put(fx, path, 200, jobs_page(100, (size_t)(p - 1) * 100, -1, 5000), 0);
  }
}
static void set_job_mode_page2_500(struct fx *fx) {
  set_job_mode_3_pages(fx);
  put(fx, P_JOBS "&page=2", 500, NULL, 0);
}

static void set_distinct(struct fx *fx) {
  snprintf(fx->policy_ext, sizeof(fx->policy_ext),
           ", \"require_distinct_approver\": true");
}
static void set_distinct_self(struct fx *fx) {
  set_distinct(fx);
  put(fx, P_APPR, 200, approvals("ZanieBot", "release-gate", "approved"), 0);
}
static void set_distinct_other_env(struct fx *fx) {
  set_distinct(fx);
  put(fx, P_APPR, 200, approvals("reviewer", "release", "approved"), 0);
}
static void set_distinct_rejected(struct fx *fx) {
  set_distinct(fx);
  put(fx, P_APPR, 200, approvals("reviewer", "release-gate", "rejected"), 0);
}
static void set_distinct_none(struct fx *fx) {
  set_distinct(fx);
  put(fx, P_APPR, 200, json_array(), 0);
}
static void e_no_actor(json_t *run) {
  json_object_del(run, "triggering_actor");
}
static void set_distinct_no_actor(struct fx *fx) {
  set_distinct(fx);
  edit(fx, P_RUN, e_no_actor);
}
static void set_distinct_env_case(struct fx *fx) {
  set_distinct(fx);
  put(fx, P_APPR, 200, approvals("reviewer", "Release-Gate", "approved"), 0);
}
static void set_distinct_500(struct fx *fx) {
  set_distinct(fx);
  put(fx, P_APPR, 502, NULL, 0);
}
/* The gate fails first: its comment, not the approver's. */
static void set_distinct_gate_fails(struct fx *fx) {
  set_distinct_self(fx);
  set_job_failed(fx);
}
static void set_distinct_job_mode(struct fx *fx) {
  snprintf(fx->policy_ext, sizeof(fx->policy_ext),
           ", \"require_distinct_approver\": true, \"gate_evidence\": "
           "\"job\"");
}

static void set_run_404(struct fx *fx) {
  put(fx, P_RUN, 404, NULL, 0);
}
static void set_run_500(struct fx *fx) {
  put(fx, P_RUN, 500, NULL, 0);
}
static void set_run_429(struct fx *fx) {
  put(fx, P_RUN, 429, NULL, 0);
}
static void set_run_401(struct fx *fx) {
  put(fx, P_RUN, 401, NULL, 0);
}
static void set_run_0(struct fx *fx) {
  put(fx, P_RUN, 0, NULL, 0);
}
static void set_run_403(struct fx *fx) {
  put_raw(fx, P_RUN, 403,
          "{\"message\": \"Resource not accessible by integration\"}", 0);
}
static void set_run_403_flag(struct fx *fx) {
  put_raw(fx, P_RUN, 403, "{}", EG_DECISION_RESP_RATE_LIMITED);
}
static void set_run_403_body(struct fx *fx) {
  put_raw(fx, P_RUN, 403,
          "{\"message\": \"API rate limit exceeded for installation ID 1.\"}",
          0);
}
static void set_run_301(struct fx *fx) {
  put(fx, P_RUN, 301, NULL, 0);
}
static void set_run_204(struct fx *fx) {
  put(fx, P_RUN, 204, NULL, 0);
}
static void set_run_malformed(struct fx *fx) {
  put_raw(fx, P_RUN, 200, "{\"path\": \".github/work", 0);
}
static void set_run_html(struct fx *fx) {
  put_raw(fx, P_RUN, 200, "<html><body>upstream error</body></html>", 0);
}
static void set_run_shape(struct fx *fx) {
  put_raw(fx, P_RUN, 200, "[]", 0);
}
static void set_run_ok_deps_500(struct fx *fx) {
  put(fx, P_DEP1, 500, NULL, 0);
}
static void set_fork_deps_500(struct fx *fx) {
  set_fork(fx);
  put(fx, P_DEP1, 500, NULL, 0);
}
static void set_deps_404(struct fx *fx) {
  put(fx, P_DEP1, 404, NULL, 0);
}
static void set_statuses_404(struct fx *fx) {
  put(fx, P_ST1, 404, NULL, 0);
}
static void set_statuses_malformed(struct fx *fx) {
  put_raw(fx, P_ST1, 200, "[{\"state\": ", 0);
}
static void set_statuses_shape(struct fx *fx) {
  put_raw(fx, P_ST1, 200, "[{\"state\": 7}]", 0);
}
static void set_job_500(struct fx *fx) {
  put(fx, P_JOB, 503, NULL, 0);
}
static void set_job_shape(struct fx *fx) {
  put_raw(fx, P_JOB, 200, "{\"id\": 69582278191, \"name\": \"release-gate\"}",
          0);
}
static void set_deps_shape(struct fx *fx) {
  put_raw(fx, P_DEP1, 200, "{\"deployments\": []}", 0);
}
static void set_approvals_shape(struct fx *fx) {
  set_distinct(fx);
  put_raw(fx, P_APPR, 200, "{}", 0);
}
/* An error on a later candidate does not matter once an earlier one
 * matched (ost never fetched it). */
static void set_second_candidate_500(struct fx *fx) {
  json_t *deps = json_array();

  json_array_append_new(deps, deployment(DEP));
  json_array_append_new(deps, deployment(DEP + 1));
  put(fx, P_DEP1, 200, deps, 0);
  put(fx, PFX "/deployments/4189570002/statuses?per_page=1", 500, NULL, 0);
}
/* ... but an error on an earlier one that did not match does. */
static void set_first_candidate_500(struct fx *fx) {
  json_t *deps = json_array();

  json_array_append_new(deps, deployment(DEP + 1));
  json_array_append_new(deps, deployment(DEP));
  put(fx, P_DEP1, 200, deps, 0);
  put(fx, PFX "/deployments/4189570002/statuses?per_page=1", 500, NULL, 0);
}

/* 100 deployments on page 1 (all in_progress), the good one on page 2. */
static void set_deployments_2_pages(struct fx *fx) {
  json_t *deps = json_array();
  json_t *deps2 = json_array();

  for (uint64_t i = 0; i < 100; i++) {
    char path[512];

    json_array_append_new(deps, deployment(5000 + i));
    snprintf(path, sizeof(path), PFX "/deployments/%llu/statuses?per_page=1",
             (unsigned long long)(5000 + i));
    put(fx, path, 200, statuses("in_progress", JOB_URL, JOB_URL), 0);
  }
  put(fx, P_DEP1, 200, deps, 0);
  /* The list moved: a deployment of page 1 shows again on page 2. */
  json_array_append_new(deps2, deployment(5099));
  json_array_append_new(deps2, deployment(DEP));
  put(fx, PFX P_DEPS "&page=2", 200, deps2, 0);
}
/* The same, but page 1's Link header says it is the last. */
static void set_deployments_full_last(struct fx *fx) {
  set_deployments_2_pages(fx);
  find(fx, P_DEP1)->flags = EG_DECISION_RESP_LAST_PAGE;
}

static void set_override_env(struct fx *fx) {
  snprintf(fx->policy_ext, sizeof(fx->policy_ext),
           ", \"repositories\": {\"ZANIEBOT/release-authenticator-example\": "
           "{\"release_environment_name\": \"prod\"}}");
}
static void set_override_env_prod(struct fx *fx) {
  set_override_env(fx);
  strcpy(fx->ev.environment, "prod");
}
static void set_override_other_repo(struct fx *fx) {
  snprintf(fx->policy_ext, sizeof(fx->policy_ext),
           ", \"repositories\": {\"someone/else\": "
           "{\"release_environment_name\": \"prod\"}}");
}
static void set_override_job_mode(struct fx *fx) {
  snprintf(fx->policy_ext, sizeof(fx->policy_ext),
           ", \"repositories\": {\"" FULL "\": {\"gate_evidence\": \"job\", "
           "\"release_gate_job_name\": \"job-2\"}}");
}

static void set_long_path(struct fx *fx) {
  char path[3100];
  json_t *run;
  struct route *r = find(fx, P_RUN);

  memcpy(path, ".github/workflows/", 18);
  /* Two-byte characters so the cut must land on a boundary. */
  for (size_t i = 18; i + 2 < 3000; i += 2)
    memcpy(path + i, "\xc3\xa9", 2);
  path[2998] = '\0';
  run = json_loads(r->body, 0, NULL);
  json_object_set_new(run, "path", json_string(path));
  put(fx, P_RUN, 200, run, 0);
}

struct scenario {
  const char *name;
  void (*setup)(struct fx *fx);
  eg_decision_state_t state;
  const char *comment; /* verdicts: exact; failures: failure_detail */
  eg_decision_failure_t failure;
  int calls;  /* -1: not checked */
  int rounds; /* -1: not checked */
};

#define GATE "release-gate"
#define A    EG_DECISION_APPROVED
#define R    EG_DECISION_REJECTED
#define F    EG_DECISION_FAILED
#define TR   EG_DECISION_FAIL_TRANSIENT
#define PE   EG_DECISION_FAIL_PERMANENT
#define OK_  EG_DECISION_FAIL_NONE

static const struct scenario scenarios[] = {
    /* Approve, deployment mode: run + deployments, statuses, job. */
    {"approve", NULL, A, GATE " deployment succeeded", OK_, 4, 3},
    {"approve, job mode", set_job_mode, A, GATE " passed", OK_, 2, 1},
    /* Rule 2, no call at all. */
    {"environment", set_env_staging, R, "environment staging is not allowed",
     OK_, 0, 0},
    {"environment case-insensitive", set_env_upper, A,
     GATE " deployment succeeded", OK_, 4, 3},
    {"ref", set_ref_dev, R, "ref dev is not allowed", OK_, 0, 0},
    {"ref missing", set_ref_missing, R, "ref <missing> is not allowed", OK_, 0,
     0},
    {"ref full", set_ref_full, A, GATE " deployment succeeded", OK_, 4, 3},
    {"ref tag of the same name", set_ref_tag_main, R,
     "ref refs/tags/main is not allowed", OK_, 0, 0},
    /* Rule 3, in ost's precedence. */
    {"fork", set_fork, R,
     "workflow run head repository attacker/" REPO " is not allowed", OK_, 2,
     1},
    {"fork with the same name (other id)", set_fork_same_name, R,
     "workflow run head repository " FULL " is not allowed", OK_, 2, 1},
    {"head repository case", set_head_case, A, GATE " deployment succeeded",
     OK_, 4, 3},
    {"no head repository", set_no_head, R,
     "workflow run head repository <missing> is not allowed", OK_, 2, 1},
    {"event", set_event_push, R, "workflow run event push is not allowed", OK_,
     2, 1},
    {"no event", set_no_event, R, "workflow run event <missing> is not allowed",
     OK_, 2, 1},
    {"path", set_path_evil, R,
     "workflow path .github/workflows/evil.yml is not allowed", OK_, 2, 1},
    {"path @ref", set_path_at, A, GATE " deployment succeeded", OK_, 4, 3},
    {"path @full ref", set_path_at_full, A, GATE " deployment succeeded", OK_,
     4, 3},
    {"path prefix only", set_path_longer, R,
     "workflow path .github/workflows/release.yml.bak is not allowed", OK_, 2,
     1},
    {"no path", set_no_path, R, "workflow path <missing> is not allowed", OK_,
     2, 1},
    {"precedence", set_all_run_wrong, R,
     "workflow run head repository attacker/" REPO " is not allowed", OK_, 2,
     1},
    /* Rule 4, deployment evidence. */
    {"status failure", set_status_failure, R,
     GATE " deployment status is failure", OK_, 3, 2},
    {"status unknown state", set_status_odd, R,
     GATE " deployment status is unknown", OK_, 3, 2},
    {"statuses newest first", set_statuses_newest_first, R,
     GATE " deployment status is failure", OK_, 3, 2},
    {"no deployments", set_no_deployments, R,
     "no successful deployment to " GATE " was found", OK_, 2, 1},
    {"no statuses", set_no_statuses, R,
     "no successful deployment to " GATE " was found", OK_, 3, 2},
    {"deployment of another sha", set_deployment_other_sha, R,
     "no successful deployment to " GATE " was found", OK_, 2, 1},
    {"urls inconsistent", set_urls_inconsistent, R,
     GATE " deployment status URLs are inconsistent", OK_, 3, 2},
    {"url not actions", set_url_not_actions, R,
     GATE " deployment status is missing a valid actions job url", OK_, 3, 2},
    {"no urls", set_url_none, R,
     GATE " deployment status is missing a valid actions job url", OK_, 3, 2},
    {"empty urls", set_url_empty, R,
     GATE " deployment status is missing a valid actions job url", OK_, 3, 2},
    {"target url only", set_url_target_only, A, GATE " deployment succeeded",
     OK_, 4, 3},
    {"url on another host", set_url_other_host, R,
     GATE " deployment status is missing a valid actions job url", OK_, 3, 2},
    {"url of another repo", set_url_other_repo, R,
     GATE " deployment status references repository other/repo, expected " FULL,
     OK_, 3, 2},
    {"url of another run", set_url_other_run, R,
     GATE " deployment status references workflow run 1, expected "
          "23625057533",
     OK_, 3, 2},
    {"url repo case", set_url_repo_case, A, GATE " deployment succeeded", OK_,
     4, 3},
    {"job 404", set_job_404, R,
     GATE " deployment status references missing workflow job 69582278191", OK_,
     4, 3},
    {"job in another run", set_job_other_run, R,
     GATE " deployment job belongs to workflow run 1, expected 23625057533",
     OK_, 4, 3},
    {"job with another sha", set_job_other_sha, R,
     GATE " deployment job sha 1111111111111111111111111111111111111111 does "
          "not match " SHA,
     OK_, 4, 3},
    {"job failed", set_job_failed, R,
     GATE " deployment job release-gate concluded with failure", OK_, 4, 3},
    {"job running", set_job_running, R,
     GATE " deployment job release-gate concluded with no conclusion", OK_, 4,
     3},
    {"job unknown conclusion", set_job_odd_conclusion, R,
     GATE " deployment job release-gate concluded with unknown", OK_, 4, 3},
    {"job name mismatch", set_job_name_build, R,
     GATE " deployment job build does not match expected release-gate", OK_, 4,
     3},
    {"job name unchecked", set_job_name_build_no_policy_name, A,
     GATE " deployment succeeded", OK_, 4, 3},
    {"two deployments, second matches", set_two_first_fails, A,
     GATE " deployment succeeded", OK_, 5, 3},
    {"two deployments, both fail", set_two_both_fail, R,
     GATE " deployment status is error", OK_, 5, 3},
    {"two deployments, one job", set_two_same_job, A,
     GATE " deployment succeeded", OK_, 5, 3},
    {"later candidate error ignored", set_second_candidate_500, A,
     GATE " deployment succeeded", OK_, 5, 3},
    {"earlier candidate error", set_first_candidate_500, F,
     "deployment 4189570002 statuses: HTTP 500", TR, 4, 2},
    /* 101 calls of round 2 go out 64 at a time (fx->max_per_round). */
    {"deployments over 2 pages", set_deployments_2_pages, A,
     GATE " deployment succeeded", OK_, 1 + 1 + 100 + 1 + 1 + 1, 5},
    {"full page marked last", set_deployments_full_last, R,
     GATE " deployment status is in_progress", OK_, 1 + 1 + 100, 3},
    /* Rule 4, job evidence. */
    {"job mode, missing", set_job_mode_missing, R,
     "workflow run is missing " GATE, OK_, 2, 1},
    {"job mode, failed", set_job_mode_failed, R, GATE " concluded with failure",
     OK_, 2, 1},
    {"job mode, running", set_job_mode_running, R,
     GATE " concluded with no conclusion", OK_, 2, 1},
    {"job mode, gate job of another run", set_job_mode_other_run, R,
     "workflow run is missing " GATE, OK_, 2, 1},
    {"job mode, 3 pages (total_count)", set_job_mode_3_pages, A, GATE " passed",
     OK_, 4, 2},
    {"job mode, 3 pages (Link)", set_job_mode_3_pages_seq, A, GATE " passed",
     OK_, 4, 3},
    {"job mode, first of the name wins", set_job_mode_first_wins, A,
     GATE " passed", OK_, 3, 2},
    {"job mode, found on page 1", set_job_mode_found_page1, R,
     GATE " concluded with cancelled", OK_, 2, 1},
    {"job mode, 10 page cap", set_job_mode_cap, R,
     "workflow run is missing " GATE, OK_, 11, 2},
    {"job mode, page 2 fails", set_job_mode_page2_500, F,
     "workflow jobs page 2: HTTP 500", TR, 4, 2},
    /* require_distinct_approver. */
    {"distinct approver", set_distinct, A, GATE " deployment succeeded", OK_, 5,
     3},
    {"distinct approver, self", set_distinct_self, R,
     GATE " was not approved by someone other than zaniebot", OK_, 5, 3},
    {"distinct approver, other env", set_distinct_other_env, R,
     GATE " was not approved by someone other than zaniebot", OK_, 5, 3},
    {"distinct approver, rejected", set_distinct_rejected, R,
     GATE " was not approved by someone other than zaniebot", OK_, 5, 3},
    {"distinct approver, none", set_distinct_none, R,
     GATE " was not approved by someone other than zaniebot", OK_, 5, 3},
    {"distinct approver, no actor", set_distinct_no_actor, R,
     GATE " approval cannot be checked: the workflow run has no triggering "
          "actor",
     OK_, 5, 3},
    {"distinct approver, env case", set_distinct_env_case, A,
     GATE " deployment succeeded", OK_, 5, 3},
    {"distinct approver, 502", set_distinct_500, F, "approvals: HTTP 502", TR,
     5, 3},
    {"distinct approver after the gate", set_distinct_gate_fails, R,
     GATE " deployment job release-gate concluded with failure", OK_, 5, 3},
    {"distinct approver, job mode", set_distinct_job_mode, A, GATE " passed",
     OK_, 3, 1},
    /* Failures. */
    {"run 404", set_run_404, F, "workflow run: HTTP 404", PE, 2, 1},
    {"run 500", set_run_500, F, "workflow run: HTTP 500", TR, 2, 1},
    {"run 429", set_run_429, F, "workflow run: HTTP 429", TR, 2, 1},
    {"run 401", set_run_401, F, "workflow run: HTTP 401", TR, 2, 1},
    {"run transport", set_run_0, F, "workflow run: no response", TR, 2, 1},
    {"run 403", set_run_403, F, "workflow run: HTTP 403", PE, 2, 1},
    {"run 403 rate limited", set_run_403_flag, F,
     "workflow run: HTTP 403 (rate limited)", TR, 2, 1},
    {"run 403 rate limit body", set_run_403_body, F,
     "workflow run: HTTP 403 (rate limited)", TR, 2, 1},
    {"run 301", set_run_301, F, "workflow run: HTTP 301", PE, 2, 1},
    {"run 204", set_run_204, F, "workflow run: HTTP 204", PE, 2, 1},
    {"run malformed JSON", set_run_malformed, F,
     "workflow run: not well-formed JSON: unclosed string", TR, 2, 1},
    {"run HTML", set_run_html, F,
     "workflow run: not well-formed JSON: malformed (a missing or extra "
     "comma, colon, bracket or value, or text after the value)",
     TR, 2, 1},
    {"run wrong shape", set_run_shape, F, "workflow run: not a JSON object", PE,
     2, 1},
    {"deployments 500", set_run_ok_deps_500, F, "deployments page 1: HTTP 500",
     TR, 2, 1},
    {"fork beats deployments 500", set_fork_deps_500, R,
     "workflow run head repository attacker/" REPO " is not allowed", OK_, 2,
     1},
    {"deployments 404", set_deps_404, F, "deployments page 1: HTTP 404", PE, 2,
     1},
    {"deployments wrong shape", set_deps_shape, F,
     "deployments: not a JSON array", PE, 2, 1},
    {"statuses 404", set_statuses_404, F,
     "deployment 4189570001 statuses: HTTP 404", TR, 3, 2},
    {"statuses malformed", set_statuses_malformed, F,
     "deployment statuses: not well-formed JSON: malformed (a missing or "
     "extra comma, colon, bracket or value, or text after the value)",
     TR, 3, 2},
    {"statuses wrong shape", set_statuses_shape, F,
     "deployment status: state is not a string", PE, 3, 2},
    {"job 503", set_job_500, F, "workflow job 69582278191: HTTP 503", TR, 4, 3},
    {"job wrong shape", set_job_shape, F, "workflow job: run_id is missing", PE,
     4, 3},
    {"approvals wrong shape", set_approvals_shape, F,
     "approvals: not a JSON array", PE, 5, 3},
    /* Per-repository policy. */
    {"override env", set_override_env, R, "environment release is not allowed",
     OK_, 0, 0},
    {"override env matches", set_override_env_prod, A,
     GATE " deployment succeeded", OK_, 4, 3},
    {"override of another repo", set_override_other_repo, A,
     GATE " deployment succeeded", OK_, 4, 3},
    {"override job mode", set_override_job_mode, A, "job-2 passed", OK_, 2, 1},
};

static void check_scenario(const struct scenario *sc, bool reverse) {
  struct fx *fx = malloc(sizeof(*fx));
  eg_policy_t *pol;
  eg_decision_t *d;
  eg_decision_result_t res;

  assert_non_null(fx);
  fx_init(fx);
  fx->reverse = reverse;
  if (sc->setup != NULL)
    sc->setup(fx);
  pol = fx_policy(fx);
  d = drive(fx, eg_policy_for_repo(pol, fx->ev.full_name));
  eg_decision_result(d, &res);
  if (res.state != sc->state || res.failure != sc->failure ||
      strcmp(sc->state == F ? res.failure_detail : res.comment, sc->comment) !=
          0 ||
      (sc->calls >= 0 && res.calls != (unsigned)sc->calls) ||
      (sc->rounds >= 0 && res.rounds != (unsigned)sc->rounds)) {
    for (size_t i = 0; i < fx->nasked; i++)
      print_message("  asked %s\n", fx->asked[i]);
    fail_msg("%s%s: got %s/%s \"%s\" \"%s\" calls %u rounds %u", sc->name,
             reverse ? " (reversed)" : "", eg_decision_state_name(res.state),
             eg_decision_failure_name(res.failure), res.comment,
             res.failure_detail, res.calls, res.rounds);
  }
  assert_int_equal(res.calls, fx->nasked);
  assert_true(strlen(res.comment) <= EG_DECISION_COMMENT_MAX);
  /* A verdict's last check is the one that decided. */
  if (sc->state == R) {
    assert_true(res.nchecks > 0);
    assert_false(res.checks[res.nchecks - 1].passed);
    assert_string_equal(res.checks[res.nchecks - 1].detail, res.comment);
    for (size_t i = 0; i + 1 < res.nchecks; i++)
      assert_true(res.checks[i].passed);
  } else if (sc->state == A) {
    for (size_t i = 0; i < res.nchecks; i++)
      assert_true(res.checks[i].passed);
  }
  eg_decision_free(d);
  eg_policy_free(pol);
  fx_free(fx);
  free(fx);
}

static void test_scenarios(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
    check_scenario(&scenarios[i], false);
    check_scenario(&scenarios[i], true);
  }
}

/* The common approve case, call by call: what is asked, in which round. */
static void test_approve_calls(void **state) {
  struct fx *fx = malloc(sizeof(*fx));
  eg_policy_t *pol;
  eg_decision_t *d;
  eg_decision_result_t res;
  eg_decision_call_t calls[8];
  const eg_decision_call_t *c;
  struct route *r;
  json_t *checks;
  char *text;

  (void)state;
  fx_init(fx);
  pol = fx_policy(fx);
  assert_int_equal(eg_decision_new(eg_policy_for_repo(pol, FULL), &fx->ev,
                                   "https://github.com", &d),
                   EG_OK);
  /* Round 1: the run and the gate deployments, together. */
  assert_int_equal(eg_decision_next(d, calls, 8), 2);
  assert_int_equal(calls[0].kind, EG_DECISION_CALL_RUN);
  assert_string_equal(calls[0].path, P_RUN);
  assert_int_equal(calls[1].kind, EG_DECISION_CALL_DEPLOYMENTS);
  assert_string_equal(calls[1].path, P_DEP1);
  /* Nothing more until they are answered. */
  assert_int_equal(eg_decision_next(d, calls + 2, 8), 0);
  for (int i = 1; i >= 0; i--) {
    r = find(fx, calls[i].path);
    assert_int_equal(eg_decision_feed(d, calls[i].id, r->status, r->body,
                                      strlen(r->body), 0),
                     EG_OK);
  }
  eg_decision_result(d, &res);
  assert_false(res.done);
  assert_int_equal(res.state, EG_DECISION_PENDING);
  assert_string_equal(res.comment, "");
  /* Round 2: the candidate's latest status. */
  assert_int_equal(eg_decision_next(d, calls, 8), 1);
  c = &calls[0];
  assert_int_equal(c->kind, EG_DECISION_CALL_STATUSES);
  assert_string_equal(c->path, P_ST1);
  r = find(fx, c->path);
  assert_int_equal(eg_decision_feed(d, c->id, 200, r->body, strlen(r->body), 0),
                   EG_OK);
  /* Round 3: the job its URL names, by id, on the event's repository. */
  assert_int_equal(eg_decision_next(d, calls, 8), 1);
  assert_int_equal(c->kind, EG_DECISION_CALL_JOB);
  assert_string_equal(c->path, P_JOB);
  r = find(fx, c->path);
  assert_int_equal(eg_decision_feed(d, c->id, 200, r->body, strlen(r->body), 0),
                   EG_OK);
  eg_decision_result(d, &res);
  assert_true(res.done);
  assert_int_equal(res.state, EG_DECISION_APPROVED);
  assert_string_equal(res.comment, "release-gate deployment succeeded");
  assert_int_equal(res.calls, 4);
  assert_int_equal(res.rounds, 3);
  assert_int_equal(res.failure, EG_DECISION_FAIL_NONE);
  assert_string_equal(res.failure_detail, "");
  assert_int_equal(res.nchecks, 6);
  assert_string_equal(res.checks[0].name, "environment");
  assert_string_equal(res.checks[0].detail, "release");
  assert_string_equal(res.checks[1].name, "ref");
  assert_string_equal(res.checks[1].detail, "main");
  assert_string_equal(res.checks[2].name, "head_repository");
  assert_string_equal(res.checks[3].name, "event");
  assert_string_equal(res.checks[3].detail, "workflow_dispatch");
  assert_string_equal(res.checks[4].name, "workflow_path");
  assert_string_equal(res.checks[5].name, "gate_deployment");
  assert_string_equal(res.checks[5].detail,
                      "deployment 4189570001 status success; job 69582278191 "
                      "(release-gate) in run 23625057533 at " SHA
                      " concluded success");

  assert_int_equal(eg_decision_checks_json(d, &checks), EG_OK);
  text = json_dumps(checks, JSON_COMPACT);
  assert_non_null(text);
  assert_non_null(strstr(text, "{\"name\":\"environment\",\"passed\":true,"
                               "\"detail\":\"release\"}"));
  assert_int_equal(json_array_size(checks), 6);
  free(text);
  json_decref(checks);
  assert_int_equal(eg_decision_checks_json(NULL, &checks), EG_EINVAL);
  assert_null(checks);
  assert_int_equal(eg_decision_checks_json(d, NULL), EG_EINVAL);

  /* Misuse after the end: feeding twice, unknown ids. */
  assert_int_equal(eg_decision_feed(d, c->id, 200, "{}", 2, 0), EG_EINVAL);
  assert_int_equal(eg_decision_feed(d, 0, 200, "{}", 2, 0), EG_EINVAL);
  assert_int_equal(eg_decision_feed(d, 99, 200, "{}", 2, 0), EG_EINVAL);
  assert_int_equal(eg_decision_feed(NULL, 1, 200, "{}", 2, 0), EG_EINVAL);
  eg_decision_free(d);
  eg_policy_free(pol);
  fx_free(fx);
  free(fx);
}

static void test_misuse(void **state) {
  struct fx *fx = malloc(sizeof(*fx));
  eg_policy_t *pol;
  const eg_policy_rules_t *rules;
  eg_decision_t *d = (eg_decision_t *)1;
  eg_decision_result_t res;
  eg_decision_call_t calls[8];
  eg_event_t ev;
  eg_policy_rules_t broken;
  char origin[600];

  (void)state;
  fx_init(fx);
  pol = fx_policy(fx);
  rules = eg_policy_for_repo(pol, FULL);
  ev = fx->ev;
  assert_int_equal(eg_decision_new(NULL, &ev, NULL, &d), EG_EINVAL);
  assert_null(d);
  assert_int_equal(eg_decision_new(rules, NULL, NULL, &d), EG_EINVAL);
  assert_int_equal(eg_decision_new(rules, &ev, NULL, NULL), EG_EINVAL);
  ev.kind = EG_EVENT_OTHER_ACTION;
  assert_int_equal(eg_decision_new(rules, &ev, NULL, &d), EG_EINVAL);
  ev = fx->ev;
  strcpy(ev.owner, "a/b");
  assert_int_equal(eg_decision_new(rules, &ev, NULL, &d), EG_EINVAL);
  ev = fx->ev;
  strcpy(ev.repo, "..");
  assert_int_equal(eg_decision_new(rules, &ev, NULL, &d), EG_EINVAL);
  ev = fx->ev;
  strcpy(ev.sha, "ABC");
  assert_int_equal(eg_decision_new(rules, &ev, NULL, &d), EG_EINVAL);
  ev = fx->ev;
  ev.run_id = 0;
  assert_int_equal(eg_decision_new(rules, &ev, NULL, &d), EG_EINVAL);
  memset(origin, 'a', sizeof(origin) - 1);
  origin[sizeof(origin) - 1] = '\0';
  assert_int_equal(eg_decision_new(rules, &fx->ev, origin, &d), EG_EINVAL);
  /* Rules a policy would never produce. */
  broken = *rules;
  broken.release_gate_environment_name = NULL;
  assert_int_equal(eg_decision_new(&broken, &fx->ev, NULL, &d), EG_EINVAL);
  broken = *rules;
  broken.gate_evidence = EG_GATE_EVIDENCE_JOB;
  broken.release_gate_job_name = NULL;
  assert_int_equal(eg_decision_new(&broken, &fx->ev, NULL, &d), EG_EINVAL);
  {
    char longenv[EG_POLICY_STRING_MAX + 2];

    memset(longenv, '%', sizeof(longenv) - 1);
    longenv[sizeof(longenv) - 1] = '\0';
    broken = *rules;
    broken.release_gate_environment_name = longenv;
    assert_int_equal(eg_decision_new(&broken, &fx->ev, NULL, &d), EG_EINVAL);
    /* At the limit, every byte encoded: the path still fits. */
    longenv[EG_POLICY_STRING_MAX] = '\0';
    assert_int_equal(eg_decision_new(&broken, &fx->ev, NULL, &d), EG_OK);
    assert_int_equal(eg_decision_next(d, calls, 8), 2);
    assert_int_equal(strlen(calls[1].path),
                     strlen(PFX "/deployments?environment=&sha=" SHA
                                "&per_page=100&page=1") +
                         3 * EG_POLICY_STRING_MAX);
    eg_decision_free(d);
  }
  broken = *rules;
  broken.nallowed_events = 0;
  assert_int_equal(eg_decision_new(&broken, &fx->ev, NULL, &d), EG_EINVAL);

  /* Feeding a call not handed out yet; a body NULL with a length. */
  assert_int_equal(eg_decision_new(rules, &fx->ev, NULL, &d), EG_OK);
  assert_int_equal(eg_decision_feed(d, 1, 200, "{}", 2, 0), EG_EINVAL);
  assert_int_equal(eg_decision_next(d, calls, 1), 1);
  assert_int_equal(eg_decision_feed(d, 1, 200, NULL, 3, 0), EG_EINVAL);
  /* max limits each batch; the rest comes next time. */
  assert_int_equal(eg_decision_next(d, calls + 1, 1), 1);
  assert_int_equal(calls[1].id, 2);
  assert_int_equal(eg_decision_next(d, calls, 0), 0);
  assert_int_equal(eg_decision_next(d, NULL, 4), 0);
  assert_int_equal(eg_decision_next(NULL, calls, 4), 0);
  /* A transport failure with no body. */
  assert_int_equal(eg_decision_feed(d, 1, 0, NULL, 0, 0), EG_OK);
  eg_decision_result(d, &res);
  assert_int_equal(res.state, EG_DECISION_FAILED);
  assert_int_equal(res.failure_call, EG_DECISION_CALL_RUN);
  assert_int_equal(res.failure_status, 0);
  /* The outstanding call may still be fed; it is ignored. */
  assert_int_equal(eg_decision_feed(d, 2, 200, "[]", 2, 0), EG_OK);
  eg_decision_result(d, &res);
  assert_int_equal(res.state, EG_DECISION_FAILED);
  assert_int_equal(res.rounds, 2);
  eg_decision_free(d);
  eg_decision_free(NULL);
  eg_decision_result(NULL, &res);
  assert_false(res.done);
  assert_string_equal(res.comment, "");
  eg_decision_result(NULL, NULL);

  assert_string_equal(eg_decision_state_name(EG_DECISION_PENDING), "pending");
  assert_string_equal(eg_decision_state_name(EG_DECISION_APPROVED), "approved");
  assert_string_equal(eg_decision_state_name(EG_DECISION_REJECTED), "rejected");
  assert_string_equal(eg_decision_state_name(EG_DECISION_FAILED), "failed");
  assert_string_equal(eg_decision_state_name((eg_decision_state_t)9),
                      "unknown");
  assert_string_equal(eg_decision_failure_name(EG_DECISION_FAIL_NONE), "none");
  assert_string_equal(eg_decision_failure_name(EG_DECISION_FAIL_TRANSIENT),
                      "transient");
  assert_string_equal(eg_decision_failure_name(EG_DECISION_FAIL_PERMANENT),
                      "permanent");
  assert_string_equal(eg_decision_failure_name((eg_decision_failure_t)9),
                      "unknown");
  eg_policy_free(pol);
  fx_free(fx);
  free(fx);
}

/* Paths are built from validated names only; the gate environment is
 * percent-encoded. */
static void test_paths_encoded(void **state) {
  struct fx *fx = malloc(sizeof(*fx));
  eg_policy_t *pol;
  eg_decision_t *d;
  eg_decision_call_t calls[8];

  (void)state;
  fx_init(fx);
  snprintf(fx->policy_full, sizeof(fx->policy_full),
           "{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
           "[\"workflow_dispatch\"], \"release_environment_name\": "
           "\"release\", \"release_gate_environment_name\": \"gate & "
           "r\xc3\xa9sum\xc3\xa9/?#=\", \"release_workflow_path\": "
           "\".github/workflows/release.yml\", "
           "\"require_distinct_approver\": true}");
  pol = fx_policy(fx);
  assert_int_equal(
      eg_decision_new(eg_policy_for_repo(pol, FULL), &fx->ev, NULL, &d), EG_OK);
  assert_int_equal(eg_decision_next(d, calls, 8), 3);
  assert_string_equal(calls[1].path,
                      PFX "/deployments?environment=gate%20%26%20r%C3%A9sum%C3"
                          "%A9%2F%3F%23%3D&sha=" SHA "&per_page=100&page=1");
  assert_int_equal(calls[2].kind, EG_DECISION_CALL_APPROVALS);
  assert_string_equal(calls[2].path, P_APPR);
  eg_decision_free(d);
  eg_policy_free(pol);
  fx_free(fx);
  free(fx);
}

static void test_long_comment(void **state) {
  struct fx *fx = malloc(sizeof(*fx));
  eg_policy_t *pol;
  eg_decision_t *d;
  eg_decision_result_t res;
  char *body;
  json_t *j;

  (void)state;
  fx_init(fx);
  set_long_path(fx);
  pol = fx_policy(fx);
  d = drive(fx, eg_policy_for_repo(pol, FULL));
  eg_decision_result(d, &res);
  assert_int_equal(res.state, EG_DECISION_REJECTED);
  assert_true(strlen(res.comment) <= EG_DECISION_COMMENT_MAX);
  assert_true(strlen(res.comment) >= EG_DECISION_COMMENT_MAX - 1);
  assert_memory_equal(res.comment, "workflow path .github/workflows/\xc3\xa9",
                      34);
  /* Cut on a character boundary: the review body is valid JSON text. */
  assert_int_equal(
      eg_decision_review_body("release", res.state, res.comment, &body, NULL),
      EG_OK);
  j = json_loads(body, 0, NULL);
  assert_non_null(j);
  json_decref(j);
  free(body);
  eg_decision_free(d);
  eg_policy_free(pol);
  fx_free(fx);
  free(fx);
}

static void test_review(void **state) {
  char path[512];
  char *body;
  size_t len;
  char big[2100];
  json_t *j;
  eg_event_t ev = base_event;

  (void)state;
  assert_int_equal(eg_decision_review_path(&ev, path, sizeof(path)), EG_OK);
  assert_string_equal(path, PFX "/actions/runs/23625057533/"
                                "deployment_protection_rule");
  /* It is the event's callback URL without the API base. */
  assert_string_equal(ev.callback_url + strlen("https://api.github.com"), path);
  assert_int_equal(eg_decision_review_path(&ev, path, 20), EG_ERANGE);
  assert_string_equal(path, "");
  assert_int_equal(eg_decision_review_path(NULL, path, sizeof(path)),
                   EG_EINVAL);
  assert_int_equal(eg_decision_review_path(&ev, NULL, 4), EG_EINVAL);
  ev.run_id = 0;
  assert_int_equal(eg_decision_review_path(&ev, path, sizeof(path)), EG_EINVAL);

  assert_int_equal(eg_decision_review_body("release", EG_DECISION_APPROVED,
                                           "release-gate deployment succeeded",
                                           &body, &len),
                   EG_OK);
  assert_string_equal(body, "{\"environment_name\":\"release\",\"state\":"
                            "\"approved\",\"comment\":\"release-gate "
                            "deployment succeeded\"}");
  assert_int_equal(len, strlen(body));
  free(body);
  assert_int_equal(
      eg_decision_review_body("Release \"x\"", EG_DECISION_REJECTED,
                              "ref dev is not allowed\n", &body, NULL),
      EG_OK);
  assert_string_equal(body, "{\"environment_name\":\"Release \\\"x\\\"\","
                            "\"state\":\"rejected\",\"comment\":\"ref dev is "
                            "not allowed\\n\"}");
  free(body);
  /* Over the limit: cut to 1024 bytes without splitting a character. */
  memset(big, 'x', 1023);
  memcpy(big + 1023, "\xc3\xa9\xc3\xa9", 4);
  big[1027] = '\0';
  assert_int_equal(eg_decision_review_body("release", EG_DECISION_REJECTED, big,
                                           &body, NULL),
                   EG_OK);
  j = json_loads(body, 0, NULL);
  assert_non_null(j);
  assert_int_equal(strlen(json_string_value(json_object_get(j, "comment"))),
                   1023);
  json_decref(j);
  free(body);
  memset(big, 'y', 2000);
  big[2000] = '\0';
  assert_int_equal(eg_decision_review_body("release", EG_DECISION_REJECTED, big,
                                           &body, NULL),
                   EG_OK);
  j = json_loads(body, 0, NULL);
  assert_int_equal(strlen(json_string_value(json_object_get(j, "comment"))),
                   1024);
  json_decref(j);
  free(body);
  /* Refused. */
  assert_int_equal(
      eg_decision_review_body("release", EG_DECISION_FAILED, "x", &body, &len),
      EG_EINVAL);
  assert_null(body);
  assert_int_equal(len, 0);
  assert_int_equal(
      eg_decision_review_body("release", EG_DECISION_PENDING, "x", &body, NULL),
      EG_EINVAL);
  assert_int_equal(
      eg_decision_review_body(NULL, EG_DECISION_APPROVED, "x", &body, NULL),
      EG_EINVAL);
  assert_int_equal(
      eg_decision_review_body("r", EG_DECISION_APPROVED, NULL, &body, NULL),
      EG_EINVAL);
  assert_int_equal(
      eg_decision_review_body("r", EG_DECISION_APPROVED, "x", NULL, NULL),
      EG_EINVAL);
  {
    static const char *const invalid[] = {"\xff",         "\xc0\xaf",
                                          "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                          "\xe2\x82",     "a\x80"};

    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
      assert_int_equal(eg_decision_review_body(invalid[i], EG_DECISION_APPROVED,
                                               "x", &body, NULL),
                       EG_EINVAL);
      assert_int_equal(eg_decision_review_body("r", EG_DECISION_APPROVED,
                                               invalid[i], &body, NULL),
                       EG_EINVAL);
    }
    assert_int_equal(eg_decision_review_body("\xf0\x9f\x9a\x80 \xe2\x82\xac",
                                             EG_DECISION_APPROVED, "ok", &body,
                                             NULL),
                     EG_OK);
    free(body);
  }
}

/* Every allocation of a whole decision failing in turn: EG_ENOMEM from
 * new, or a transient failure from a feed; never a crash or a leak. */
static void test_out_of_memory(void **state) {
  (void)state;
#if OOM_INJECTION
  static const struct scenario *const which[] = {&scenarios[0], &scenarios[1]};

  for (size_t w = 0; w < 2; w++) {
    struct fx *fx = malloc(sizeof(*fx));
    eg_policy_t *pol;
    bool done = false;

    assert_non_null(fx);
    fx_init(fx);
    if (which[w]->setup != NULL)
      which[w]->setup(fx);
    pol = fx_policy(fx);
    for (long n = 0; n < 100000 && !done; n++) {
      eg_decision_t *d;
      eg_decision_result_t res;
      eg_decision_call_t calls[16];
      int rc;

      oom_hit = false;
      oom_countdown = n;
      rc = eg_decision_new(eg_policy_for_repo(pol, FULL), &fx->ev, NULL, &d);
      if (rc == EG_OK) {
        for (int round = 0; round < 10; round++) {
          size_t k = eg_decision_next(d, calls, 16);

          if (k == 0)
            break;
          for (size_t i = 0; i < k; i++) {
            struct route *r = find(fx, calls[i].path);

            rc = eg_decision_feed(d, calls[i].id, r->status, r->body,
                                  strlen(r->body), r->flags);
            assert_true(rc == EG_OK || rc == EG_ENOMEM);
          }
        }
      }
      oom_countdown = -1;
      if (d == NULL) {
        assert_int_equal(rc, EG_ENOMEM);
        continue;
      }
      eg_decision_result(d, &res);
      assert_true(res.done);
      if (!oom_hit) {
        assert_int_equal(res.state, which[w]->state);
        done = true;
      } else if (res.state == EG_DECISION_FAILED) {
        /* Out of memory inside a parser shows as not-JSON or OOM:
         * transient either way. */
        if (res.failure != EG_DECISION_FAIL_TRANSIENT)
          fail_msg("allocation %ld: %s", n, res.failure_detail);
      } else if (res.state != which[w]->state) {
        /* jansson may survive a failure on its own; the verdict must then
         * be the same. */
        fail_msg("allocation %ld: %s \"%s\"", n,
                 eg_decision_state_name(res.state), res.comment);
      }
      eg_decision_free(d);
    }
    assert_true(done);
    eg_policy_free(pol);
    fx_free(fx);
    free(fx);
  }
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scenarios),
      cmocka_unit_test(test_approve_calls),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_paths_encoded),
      cmocka_unit_test(test_long_comment),
      cmocka_unit_test(test_review),
      cmocka_unit_test(test_out_of_memory),
  };

  return cmocka_run_group_tests(tests, group_setup, NULL);
}

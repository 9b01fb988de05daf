/* The decision engine: hands out GitHub reads, takes their responses and
 * re-evaluates contract rules 3-5 in ost-environment-gate's order after
 * each one, so the verdict and its comment do not depend on the order in
 * which parallel responses arrive. */
#include "eg/decision.h"
#include "eg/error.h"
#include "eg/gh_parse.h"
#include "internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CHECKS 8
#define TEXT_MAX   (EG_DECISION_COMMENT_MAX + 1)

enum slot { S_NONE = 0, S_WAIT, S_OK, S_ERR };

struct err {
  eg_decision_failure_t cls;
  int status;
  char detail[192];
};

struct call {
  eg_gh_call_kind_t kind;
  char *path;
  bool issued;
  bool answered;
  unsigned page; /* DEPLOYMENTS, JOBS: 1-based */
  size_t index;  /* STATUSES: candidate; JOB: job slot */
};

/* A gate deployment, in list order (GitHub lists newest first). */
struct cand {
  uint64_t id;
  enum slot st;
  struct err err;
  bool has_status; /* false: no status yet, skipped (as ost does) */
  eg_gh_status_t status;
  /* For a success status, set on arrival: either why its job URL is
   * refused, or the job slot it points at. */
  char *url_comment;
  size_t job_slot;
};

struct jobslot {
  uint64_t job_id;
  enum slot st;
  struct err err;
  bool missing; /* 404 */
  eg_gh_job_t job;
};

struct page {
  enum slot st;
  struct err err;
  bool more;    /* a next page exists and is (or will be) asked for */
  size_t first; /* deployments: this page's range in cands */
  size_t count;
  /* Jobs: the first job of this page named like the gate job. */
  bool found;
  uint64_t found_job_id;
  char *conclusion; /* NULL: no conclusion */
};

struct check {
  const char *name;
  bool passed;
  char detail[TEXT_MAX];
};

struct eg_decision_s {
  const eg_policy_rules_t *rules;
  eg_event_t ev;
  char web_origin[EG_GH_ORIGIN_LEN];
  char *gate_env_enc; /* percent-encoded, NULL in job mode without it */

  eg_decision_state_t state;
  struct err fail;
  eg_gh_call_kind_t fail_call;
  char comment[TEXT_MAX];

  struct call *calls;
  size_t ncalls, capcalls;
  unsigned handed_out, rounds;

  enum slot run_st;
  struct err run_err;
  eg_gh_run_t run;
  bool run_checked;

  enum slot appr_st;
  struct err appr_err;
  eg_gh_approvals_t approvals;

  struct page dpages[EG_DECISION_MAX_PAGES];
  struct cand *cands;
  size_t ncands, capcands;
  struct jobslot *jobs;
  size_t njobs, capjobs;

  struct page jpages[EG_DECISION_MAX_PAGES];
  unsigned jobs_planned; /* pages asked for from total_count */

  bool gate_checked;
  struct check checks[MAX_CHECKS];
  eg_decision_check_t views[MAX_CHECKS]; /* what eg_decision_result shows */
  size_t nchecks;
};

/* ---- text ---- */

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_cut(char *s, size_t max) {
  size_t n = strlen(s);

  if (n <= max)
    return;
  n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
    n--;
  s[n] = '\0';
}

/* Formats into out (TEXT_MAX bytes): control characters become '?', the
 * result is cut to EG_DECISION_COMMENT_MAX bytes on a character boundary. */
static void format_text(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void format_text(char *out, const char *fmt, ...) {
  char buf[4 * TEXT_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  for (char *p = buf; *p != '\0'; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  utf8_cut(buf, EG_DECISION_COMMENT_MAX);
  memcpy(out, buf, strlen(buf) + 1);
}

static const char *or_missing(const char *s) {
  return s != NULL ? s : "<missing>";
}

/* ost prints conclusions and states through enums: unknown values show as
 * "unknown". */
static const char *conclusion_label(const char *c) {
  static const char *const known[] = {"success", "failure",   "cancelled",
                                      "skipped", "timed_out", "action_required",
                                      "neutral"};

  if (c == NULL)
    return "no conclusion";
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (strcmp(c, known[i]) == 0)
      return known[i];
  return "unknown";
}

static const char *state_label(const char *s) {
  static const char *const known[] = {"error",       "failure", "inactive",
                                      "in_progress", "queued",  "pending",
                                      "success"};

  for (size_t i = 0; s != NULL && i < sizeof(known) / sizeof(known[0]); i++)
    if (strcmp(s, known[i]) == 0)
      return known[i];
  return "unknown";
}

/* Strict UTF-8 (no overlongs, surrogates or code points over U+10FFFF),
 * as jansson requires of strings. */
static bool utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;

  while (*p != '\0') {
    unsigned c = *p;
    size_t n;
    unsigned cp;

    if (c < 0x80) {
      p++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t i = 1; i <= n; i++) {
      if ((p[i] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return false;
    p += n + 1;
  }
  return true;
}

/* ---- outcome ---- */

static void
add_check(eg_decision_t *d, const char *name, bool passed, const char *detail) {
  struct check *c;

  assert(d->nchecks < MAX_CHECKS);
  c = &d->checks[d->nchecks];
  c->name = name;
  c->passed = passed;
  format_text(c->detail, "%s", detail);
  d->views[d->nchecks].name = c->name;
  d->views[d->nchecks].passed = c->passed;
  d->views[d->nchecks].detail = c->detail;
  d->nchecks++;
}

static void
finish(eg_decision_t *d, eg_decision_state_t state, const char *comment) {
  d->state = state;
  format_text(d->comment, "%s", comment);
}

static void reject(eg_decision_t *d, const char *check, const char *comment) {
  add_check(d, check, false, comment);
  finish(d, EG_DECISION_REJECTED, comment);
}

static void
fail(eg_decision_t *d, const struct err *e, eg_gh_call_kind_t kind) {
  d->state = EG_DECISION_FAILED;
  d->fail = *e;
  d->fail_call = kind;
  d->comment[0] = '\0';
}

static void set_err(struct err *e,
                    eg_decision_failure_t cls,
                    int status,
                    const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void set_err(struct err *e,
                    eg_decision_failure_t cls,
                    int status,
                    const char *fmt,
                    ...) {
  va_list ap;

  e->cls = cls;
  e->status = status;
  va_start(ap, fmt);
  vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
  va_end(ap);
}

static void oom(eg_decision_t *d, eg_gh_call_kind_t kind) {
  struct err e;

  set_err(&e, EG_DECISION_FAIL_TRANSIENT, 0, "out of memory");
  fail(d, &e, kind);
}

/* ---- classification ---- */

static bool says_rate_limit(const char *body, size_t len) {
  static const char needle[] = "rate limit";
  size_t n = sizeof(needle) - 1;

  if (body == NULL)
    return false;
  /* GitHub's message is near the start; a bound keeps this cheap. */
  if (len > 8192)
    len = 8192;
  for (size_t i = 0; i + n <= len; i++)
    if (strncasecmp(body + i, needle, n) == 0)
      return true;
  return false;
}

/* Records why a non-200 answer makes the read unusable. */
static void status_err(struct err *e,
                       const char *what,
                       int status,
                       unsigned flags,
                       const char *body,
                       size_t len) {
  eg_decision_failure_t cls = EG_DECISION_FAIL_PERMANENT;

  if (status == 0 || status >= 500 || status == 429 || status == 408 ||
      status == 401)
    cls = EG_DECISION_FAIL_TRANSIENT;
  else if (status == 403 &&
           ((flags & EG_GH_RESP_RATE_LIMITED) || says_rate_limit(body, len)))
    cls = EG_DECISION_FAIL_TRANSIENT;
  if (status == 0)
    set_err(e, cls, 0, "%s: no response", what);
  else if (status == 403 && cls == EG_DECISION_FAIL_TRANSIENT)
    set_err(e, cls, status, "%s: HTTP 403 (rate limited)", what);
  else
    set_err(e, cls, status, "%s: HTTP %d", what, status);
}

/* Records why a 200 body could not be parsed (rc from gh_parse). */
static void parse_err(struct err *e, int rc, const char *errbuf) {
  set_err(e,
          rc == EG_EINVAL ? EG_DECISION_FAIL_PERMANENT
                          : EG_DECISION_FAIL_TRANSIENT,
          200, "%s", errbuf);
}

/* ---- calls ---- */

static const char hexdig[] = "0123456789ABCDEF";

/* Percent-encodes s for a query value (RFC 3986 unreserved kept). */
static char *percent_encode(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(3 * n + 1);
  char *o = out;

  if (out == NULL)
    return NULL;
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
        (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
        *p == '~') {
      *o++ = (char)*p;
    } else {
      *o++ = '%';
      *o++ = hexdig[*p >> 4];
      *o++ = hexdig[*p & 15];
    }
  }
  *o = '\0';
  return out;
}

static int add_call(eg_decision_t *d,
                    eg_gh_call_kind_t kind,
                    unsigned page,
                    size_t index,
                    const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

/* Queues a call whose path is "/repos/{owner}/{repo}" + fmt. */
static int add_call(eg_decision_t *d,
                    eg_gh_call_kind_t kind,
                    unsigned page,
                    size_t index,
                    const char *fmt,
                    ...) {
  char tail[4096];
  struct call *c;
  size_t need;
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(tail, sizeof(tail), fmt, ap);
  va_end(ap);
  /* Everything in a path is bounded (names of 100 bytes, ids, a gate
   * environment of at most EG_POLICY_STRING_MAX bytes, encoded three
   * bytes for one), so this cannot be reached. */
  assert(n > 0 && (size_t)n < sizeof(tail));
  if (d->ncalls == d->capcalls) {
    size_t cap = d->capcalls ? 2 * d->capcalls : 8;
    struct call *grown = realloc(d->calls, cap * sizeof(*grown));

    if (grown == NULL)
      return EG_ENOMEM;
    d->calls = grown;
    d->capcalls = cap;
  }
  c = &d->calls[d->ncalls];
  memset(c, 0, sizeof(*c));
  need = strlen("/repos///") + strlen(d->ev.owner) + strlen(d->ev.repo) +
         (size_t)n + 1;
  c->path = malloc(need);
  if (c->path == NULL)
    return EG_ENOMEM;
  snprintf(c->path, need, "/repos/%s/%s%s", d->ev.owner, d->ev.repo, tail);
  c->kind = kind;
  c->page = page;
  c->index = index;
  d->ncalls++;
  return EG_OK;
}

static int ask_deployments(eg_decision_t *d, unsigned page) {
  d->dpages[page - 1].st = S_WAIT;
  return add_call(d, EG_GH_CALL_DEPLOYMENTS, page, 0,
                  "/deployments?environment=%s&sha=%s&per_page=%d&page=%u",
                  d->gate_env_enc, d->ev.sha, EG_DECISION_PER_PAGE, page);
}

static int ask_jobs(eg_decision_t *d, unsigned page) {
  d->jpages[page - 1].st = S_WAIT;
  return add_call(d, EG_GH_CALL_JOBS, page, 0,
                  "/actions/runs/%llu/jobs?filter=latest&per_page=%d&page=%u",
                  (unsigned long long)d->ev.run_id, EG_DECISION_PER_PAGE, page);
}

/* ---- creation ---- */

static bool valid_name(const char *s) {
  size_t n = strlen(s);

  if (n == 0 || n > 100 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
    return false;
  return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789._-") == n;
}

static bool valid_sha(const char *s) {
  size_t n = strlen(s);

  return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

/* ost's RefName::matches_allowed_ref: the full ref or its short name. */
static bool ref_allowed(const char *ref, const char *allowed) {
  const char *short_name = allowed;

  if (strncmp(allowed, "refs/heads/", 11) == 0)
    short_name = allowed + 11;
  else if (strncmp(allowed, "refs/tags/", 10) == 0)
    short_name = allowed + 10;
  return strcmp(ref, allowed) == 0 || strcmp(ref, short_name) == 0;
}

/* Rule 2, before any call. @returns true when both checks pass. */
static bool check_request(eg_decision_t *d) {
  char text[TEXT_MAX];
  const eg_event_t *ev = &d->ev;

  if (strcasecmp(ev->environment, d->rules->release_environment_name) != 0) {
    format_text(text, "environment %s is not allowed", ev->environment);
    reject(d, "environment", text);
    return false;
  }
  add_check(d, "environment", true, ev->environment);
  if (ev->ref[0] == '\0' || !ref_allowed(ev->ref, d->rules->allowed_ref)) {
    format_text(text, "ref %s is not allowed",
                ev->ref[0] != '\0' ? ev->ref : "<missing>");
    reject(d, "ref", text);
    return false;
  }
  add_check(d, "ref", true, ev->ref);
  return true;
}

void eg_decision_free(eg_decision_t *d) {
  if (d == NULL)
    return;
  for (size_t i = 0; i < d->ncalls; i++)
    free(d->calls[i].path);
  free(d->calls);
  eg_gh_run_cleanup(&d->run);
  eg_gh_approvals_cleanup(&d->approvals);
  for (size_t i = 0; i < d->ncands; i++) {
    eg_gh_status_cleanup(&d->cands[i].status);
    free(d->cands[i].url_comment);
  }
  free(d->cands);
  for (size_t i = 0; i < d->njobs; i++)
    eg_gh_job_cleanup(&d->jobs[i].job);
  free(d->jobs);
  for (size_t i = 0; i < EG_DECISION_MAX_PAGES; i++)
    free(d->jpages[i].conclusion);
  free(d->gate_env_enc);
  free(d);
}

int eg_decision_new(const eg_policy_rules_t *rules,
                    const eg_event_t *ev,
                    const char *web_origin,
                    eg_decision_t **out) {
  eg_decision_t *d;
  bool job_mode;
  int rc = EG_OK;

  if (out != NULL)
    *out = NULL;
  if (rules == NULL || ev == NULL || out == NULL ||
      ev->kind != EG_EVENT_GATE_REQUEST || !valid_name(ev->owner) ||
      !valid_name(ev->repo) || !valid_sha(ev->sha) || ev->run_id == 0 ||
      rules->allowed_ref == NULL || rules->release_environment_name == NULL ||
      rules->release_workflow_path == NULL || rules->nallowed_events == 0)
    return EG_EINVAL;
  job_mode = rules->gate_evidence == EG_GATE_EVIDENCE_JOB;
  if ((job_mode && rules->release_gate_job_name == NULL) ||
      ((!job_mode || rules->require_distinct_approver) &&
       rules->release_gate_environment_name == NULL))
    return EG_EINVAL;
  /* Bounds every path (see add_call()); a policy never exceeds it. */
  if (rules->release_gate_environment_name != NULL &&
      strlen(rules->release_gate_environment_name) > EG_POLICY_STRING_MAX)
    return EG_EINVAL;
  if (web_origin == NULL)
    web_origin = "https://github.com";
  if (strlen(web_origin) >= EG_GH_ORIGIN_LEN)
    return EG_EINVAL;
  d = calloc(1, sizeof(*d));
  if (d == NULL)
    return EG_ENOMEM;
  d->rules = rules;
  d->ev = *ev;
  memcpy(d->web_origin, web_origin, strlen(web_origin) + 1);
  d->state = EG_DECISION_PENDING;
  if (rules->release_gate_environment_name != NULL) {
    d->gate_env_enc = percent_encode(rules->release_gate_environment_name);
    if (d->gate_env_enc == NULL) {
      eg_decision_free(d);
      return EG_ENOMEM;
    }
  }
  if (check_request(d)) {
    /* Round 1: every read that does not depend on another. The gate reads
     * are speculative: if the run fails rule 3 they are ignored. */
    d->run_st = S_WAIT;
    rc = add_call(d, EG_GH_CALL_RUN, 0, 0, "/actions/runs/%llu",
                  (unsigned long long)ev->run_id);
    if (rc == EG_OK)
      rc = job_mode ? ask_jobs(d, 1) : ask_deployments(d, 1);
    if (rc == EG_OK && rules->require_distinct_approver) {
      d->appr_st = S_WAIT;
      rc = add_call(d, EG_GH_CALL_APPROVALS, 0, 0,
                    "/actions/runs/%llu/approvals",
                    (unsigned long long)ev->run_id);
    }
  }
  if (rc != EG_OK) {
    eg_decision_free(d);
    return rc;
  }
  *out = d;
  return EG_OK;
}

/* ---- evaluation ---- */

enum eval { EV_PENDING, EV_PASS, EV_FAIL, EV_ERROR };

struct verdict {
  char comment[TEXT_MAX]; /* FAIL: the comment; PASS: the approve comment */
  char detail[TEXT_MAX];  /* PASS: the check's detail */
  bool have;              /* FAIL: a comment was remembered */
  const struct err *err;  /* ERROR */
  eg_gh_call_kind_t kind; /* ERROR */
};

/* Rule 3 in ost's precedence (evaluate_release_protection): head
 * repository, event, path. @returns true when all pass. */
static bool check_run(eg_decision_t *d) {
  const eg_gh_run_t *run = &d->run;
  const char *path = run->path;
  const char *want = d->rules->release_workflow_path;
  size_t wlen = strlen(want);
  char text[TEXT_MAX];

  /* GitHub names are case-insensitive; the id (when GitHub sends it) must
   * match too, which a fork's never does. */
  if (run->head_repository_full_name == NULL ||
      strcasecmp(run->head_repository_full_name, d->ev.full_name) != 0 ||
      (run->head_repository_id != 0 &&
       run->head_repository_id != d->ev.repository_id)) {
    format_text(text, "workflow run head repository %s is not allowed",
                or_missing(run->head_repository_full_name));
    reject(d, "head_repository", text);
    return false;
  }
  add_check(d, "head_repository", true, run->head_repository_full_name);
  if (run->event == NULL ||
      !eg_policy_rules_allow_event(d->rules, run->event)) {
    format_text(text, "workflow run event %s is not allowed",
                or_missing(run->event));
    reject(d, "event", text);
    return false;
  }
  add_check(d, "event", true, run->event);
  /* The run's path may carry "@<ref>"; only the part before it counts. */
  if (path == NULL || strncmp(path, want, wlen) != 0 ||
      (path[wlen] != '\0' && path[wlen] != '@')) {
    format_text(text, "workflow path %s is not allowed", or_missing(path));
    reject(d, "workflow_path", text);
    return false;
  }
  add_check(d, "workflow_path", true, path);
  return true;
}

static void remember(struct verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keeps the first rejection comment (ost: rejection_comment.get_or_insert). */
static void remember(struct verdict *v, const char *fmt, ...) {
  char buf[4 * TEXT_MAX];
  va_list ap;

  if (v->have)
    return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  format_text(v->comment, "%s", buf);
  v->have = true;
}

/* Rule 4, deployment evidence: ost's evaluate_gate_deployment_candidates
 * and validate_successful_gate_deployment_job, candidate by candidate in
 * list order. */
static enum eval eval_deployments(eg_decision_t *d, struct verdict *v) {
  const char *gate = d->rules->release_gate_environment_name;
  const char *want_name = d->rules->release_gate_job_name;

  for (size_t p = 0; p < EG_DECISION_MAX_PAGES; p++) {
    const struct page *pg = &d->dpages[p];

    if (pg->st == S_NONE)
      break;
    if (pg->st == S_WAIT)
      return EV_PENDING;
    if (pg->st == S_ERR) {
      v->err = &pg->err;
      v->kind = EG_GH_CALL_DEPLOYMENTS;
      return EV_ERROR;
    }
    for (size_t i = pg->first; i < pg->first + pg->count; i++) {
      const struct cand *c = &d->cands[i];
      const struct jobslot *js;
      const eg_gh_job_t *job;

      if (c->st == S_WAIT)
        return EV_PENDING;
      if (c->st == S_ERR) {
        v->err = &c->err;
        v->kind = EG_GH_CALL_STATUSES;
        return EV_ERROR;
      }
      if (!c->has_status)
        continue;
      if (strcmp(c->status.state, "success") != 0) {
        remember(v, "%s deployment status is %s", gate,
                 state_label(c->status.state));
        continue;
      }
      if (c->url_comment != NULL) {
        remember(v, "%s", c->url_comment);
        continue;
      }
      js = &d->jobs[c->job_slot];
      if (js->st == S_WAIT)
        return EV_PENDING;
      if (js->st == S_ERR) {
        v->err = &js->err;
        v->kind = EG_GH_CALL_JOB;
        return EV_ERROR;
      }
      if (js->missing) {
        remember(v, "%s deployment status references missing workflow job %llu",
                 gate, (unsigned long long)js->job_id);
        continue;
      }
      job = &js->job;
      if (job->run_id != d->ev.run_id) {
        remember(
            v, "%s deployment job belongs to workflow run %llu, expected %llu",
            gate, (unsigned long long)job->run_id,
            (unsigned long long)d->ev.run_id);
        continue;
      }
      if (strcasecmp(job->head_sha, d->ev.sha) != 0) {
        remember(v, "%s deployment job sha %s does not match %s", gate,
                 job->head_sha, d->ev.sha);
        continue;
      }
      if (job->conclusion == NULL || strcmp(job->conclusion, "success") != 0) {
        remember(v, "%s deployment job %s concluded with %s", gate, job->name,
                 conclusion_label(job->conclusion));
        continue;
      }
      if (want_name != NULL && strcmp(job->name, want_name) != 0) {
        remember(v, "%s deployment job %s does not match expected %s", gate,
                 job->name, want_name);
        continue;
      }
      format_text(v->comment, "%s deployment succeeded", gate);
      format_text(v->detail,
                  "deployment %llu status success; job %llu (%s) in run %llu "
                  "at %s concluded success",
                  (unsigned long long)c->id, (unsigned long long)job->id,
                  job->name, (unsigned long long)job->run_id, job->head_sha);
      return EV_PASS;
    }
    if (!pg->more)
      break;
  }
  if (!v->have)
    remember(v, "no successful deployment to %s was found", gate);
  return EV_FAIL;
}

/* Rule 4, job evidence: ost before 84c5a79 (the first job with the gate
 * job's name, across all pages in order). */
static enum eval eval_jobs(eg_decision_t *d, struct verdict *v) {
  const char *name = d->rules->release_gate_job_name;

  for (size_t p = 0; p < EG_DECISION_MAX_PAGES; p++) {
    const struct page *pg = &d->jpages[p];

    if (pg->st == S_NONE)
      break;
    if (pg->st == S_WAIT)
      return EV_PENDING;
    if (pg->st == S_ERR) {
      v->err = &pg->err;
      v->kind = EG_GH_CALL_JOBS;
      return EV_ERROR;
    }
    if (pg->found) {
      if (pg->conclusion != NULL && strcmp(pg->conclusion, "success") == 0) {
        format_text(v->comment, "%s passed", name);
        format_text(v->detail, "%s passed (job %llu)", name,
                    (unsigned long long)pg->found_job_id);
        return EV_PASS;
      }
      remember(v, "%s concluded with %s", name,
               conclusion_label(pg->conclusion));
      return EV_FAIL;
    }
    if (!pg->more)
      break;
  }
  remember(v, "workflow run is missing %s", name);
  return EV_FAIL;
}

/* require_distinct_approver: an approval of the gate environment by a
 * user other than the run's triggering actor. */
static enum eval eval_approver(eg_decision_t *d, struct verdict *v) {
  const char *gate = d->rules->release_gate_environment_name;
  const char *actor = d->run.triggering_actor_login;

  if (d->appr_st == S_WAIT)
    return EV_PENDING;
  if (d->appr_st == S_ERR) {
    v->err = &d->appr_err;
    v->kind = EG_GH_CALL_APPROVALS;
    return EV_ERROR;
  }
  if (actor == NULL) {
    remember(v,
             "%s approval cannot be checked: the workflow run has no "
             "triggering actor",
             gate);
    return EV_FAIL;
  }
  for (size_t i = 0; i < d->approvals.n; i++) {
    const eg_gh_approval_t *a = &d->approvals.items[i];

    if (strcmp(a->state, "approved") != 0 || a->login == NULL ||
        strcasecmp(a->login, actor) == 0)
      continue;
    for (size_t j = 0; j < a->nenvironments; j++)
      if (strcasecmp(a->environments[j], gate) == 0) {
        format_text(v->detail, "%s approved by %s (run triggered by %s)", gate,
                    a->login, actor);
        return EV_PASS;
      }
  }
  remember(v, "%s was not approved by someone other than %s", gate, actor);
  return EV_FAIL;
}

static void advance(eg_decision_t *d) {
  struct verdict v = {0};
  enum eval r;
  bool job_mode = d->rules->gate_evidence == EG_GATE_EVIDENCE_JOB;
  const char *gate_check = job_mode ? "gate_job" : "gate_deployment";

  if (d->state != EG_DECISION_PENDING || d->run_st == S_WAIT)
    return;
  if (d->run_st == S_ERR) {
    fail(d, &d->run_err, EG_GH_CALL_RUN);
    return;
  }
  if (!d->run_checked) {
    d->run_checked = true;
    if (!check_run(d))
      return;
  }
  if (!d->gate_checked) {
    r = job_mode ? eval_jobs(d, &v) : eval_deployments(d, &v);
    if (r == EV_PENDING)
      return;
    if (r == EV_ERROR) {
      fail(d, v.err, v.kind);
      return;
    }
    if (r == EV_FAIL) {
      reject(d, gate_check, v.comment);
      return;
    }
    d->gate_checked = true;
    add_check(d, gate_check, true, v.detail);
    /* The approve comment is the gate's (ost's wording). */
    memcpy(d->comment, v.comment, sizeof(d->comment));
  }
  if (d->rules->require_distinct_approver) {
    struct verdict a = {0};

    r = eval_approver(d, &a);
    if (r == EV_PENDING)
      return;
    if (r == EV_ERROR) {
      fail(d, a.err, a.kind);
      return;
    }
    if (r == EV_FAIL) {
      reject(d, "distinct_approver", a.comment);
      return;
    }
    add_check(d, "distinct_approver", true, a.detail);
  }
  d->state = EG_DECISION_APPROVED;
}

/* ---- responses ---- */

/* Whether another page follows a page of n items. */
static bool more_pages(unsigned page, size_t n, unsigned flags) {
  if (page >= EG_DECISION_MAX_PAGES)
    return false;
  if (flags & EG_GH_RESP_LINK_NEXT)
    return true;
  return !(flags & EG_GH_RESP_LAST_PAGE) && n >= EG_DECISION_PER_PAGE;
}

static int take_run(eg_decision_t *d,
                    int status,
                    const char *body,
                    size_t len,
                    unsigned flags) {
  char eb[EG_ERRBUF_LEN];
  int rc;

  if (status != 200) {
    status_err(&d->run_err, "workflow run", status, flags, body, len);
    d->run_st = S_ERR;
    return EG_OK;
  }
  rc = eg_gh_parse_run(body, len, &d->run, eb, sizeof(eb));
  if (rc == EG_ENOMEM)
    return rc;
  if (rc != EG_OK) {
    parse_err(&d->run_err, rc, eb);
    d->run_st = S_ERR;
    return EG_OK;
  }
  d->run_st = S_OK;
  return EG_OK;
}

static int take_approvals(eg_decision_t *d,
                          int status,
                          const char *body,
                          size_t len,
                          unsigned flags) {
  char eb[EG_ERRBUF_LEN];
  int rc;

  if (status != 200) {
    status_err(&d->appr_err, "approvals", status, flags, body, len);
    d->appr_st = S_ERR;
    return EG_OK;
  }
  rc = eg_gh_parse_approvals(body, len, &d->approvals, eb, sizeof(eb));
  if (rc == EG_ENOMEM)
    return rc;
  if (rc != EG_OK) {
    parse_err(&d->appr_err, rc, eb);
    d->appr_st = S_ERR;
    return EG_OK;
  }
  d->appr_st = S_OK;
  return EG_OK;
}

static bool seen_deployment(const eg_decision_t *d, uint64_t id) {
  for (size_t i = 0; i < d->ncands; i++)
    if (d->cands[i].id == id)
      return true;
  return false;
}

static int take_deployments(eg_decision_t *d,
                            unsigned page,
                            int status,
                            const char *body,
                            size_t len,
                            unsigned flags) {
  struct page *pg = &d->dpages[page - 1];
  const char *gate = d->rules->release_gate_environment_name;
  eg_gh_deployments_t list;
  char eb[EG_ERRBUF_LEN];
  char what[48];
  int rc = EG_OK;

  snprintf(what, sizeof(what), "deployments page %u", page);
  if (status != 200) {
    status_err(&pg->err, what, status, flags, body, len);
    pg->st = S_ERR;
    return EG_OK;
  }
  rc = eg_gh_parse_deployments(body, len, &list, eb, sizeof(eb));
  if (rc == EG_ENOMEM)
    return rc;
  if (rc != EG_OK) {
    parse_err(&pg->err, rc, eb);
    pg->st = S_ERR;
    return EG_OK;
  }
  if (d->ncands + list.n > d->capcands) {
    size_t cap = d->ncands + list.n;
    struct cand *grown = realloc(d->cands, cap * sizeof(*grown));

    if (grown == NULL) {
      eg_gh_deployments_cleanup(&list);
      return EG_ENOMEM;
    }
    d->cands = grown;
    d->capcands = cap;
  }
  pg->first = d->ncands;
  for (size_t i = 0; i < list.n && rc == EG_OK; i++) {
    const eg_gh_deployment_t *dep = &list.items[i];
    struct cand *c;

    /* The query already filters on both; a deployment of another sha or
     * environment, or one seen on an earlier page (the list moved between
     * pages), is not evidence. */
    if ((dep->sha != NULL && strcasecmp(dep->sha, d->ev.sha) != 0) ||
        (dep->environment != NULL && strcasecmp(dep->environment, gate) != 0) ||
        seen_deployment(d, dep->id))
      continue;
    c = &d->cands[d->ncands];
    memset(c, 0, sizeof(*c));
    c->id = dep->id;
    c->st = S_WAIT;
    rc = add_call(d, EG_GH_CALL_STATUSES, 0, d->ncands,
                  "/deployments/%llu/statuses?per_page=1",
                  (unsigned long long)dep->id);
    if (rc == EG_OK)
      d->ncands++;
  }
  pg->count = d->ncands - pg->first;
  pg->more = more_pages(page, list.n, flags);
  eg_gh_deployments_cleanup(&list);
  if (rc != EG_OK)
    return rc;
  pg->st = S_OK;
  if (pg->more)
    return ask_deployments(d, page + 1);
  return EG_OK;
}

static bool same_ref(const eg_gh_job_ref_t *a, const eg_gh_job_ref_t *b) {
  return strcasecmp(a->owner, b->owner) == 0 &&
         strcasecmp(a->repo, b->repo) == 0 && a->run_id == b->run_id &&
         a->job_id == b->job_id;
}

/* ost's validate_successful_gate_deployment_job up to the job lookup:
 * decides which job a success status points at, or why it points at none.
 * An empty URL counts as absent. */
static int resolve_job(eg_decision_t *d, struct cand *c) {
  const char *gate = d->rules->release_gate_environment_name;
  const char *urls[2] = {c->status.log_url, c->status.target_url};
  eg_gh_job_ref_t refs[2];
  const eg_gh_job_ref_t *ref = NULL;
  char text[TEXT_MAX];
  bool bad = false;

  text[0] = '\0';
  for (int i = 0; i < 2; i++) {
    if (urls[i] == NULL || urls[i][0] == '\0')
      continue;
    if (eg_gh_parse_job_url(urls[i], d->web_origin, &refs[i]) != EG_OK) {
      bad = true;
      break;
    }
    if (ref != NULL && !same_ref(ref, &refs[i])) {
      format_text(text, "%s deployment status URLs are inconsistent", gate);
      break;
    }
    ref = &refs[i];
  }
  if (text[0] == '\0' && (bad || ref == NULL))
    format_text(text, "%s deployment status is missing a valid actions job url",
                gate);
  if (text[0] == '\0' && (strcasecmp(ref->owner, d->ev.owner) != 0 ||
                          strcasecmp(ref->repo, d->ev.repo) != 0))
    format_text(text,
                "%s deployment status references repository %s/%s, expected %s",
                gate, ref->owner, ref->repo, d->ev.full_name);
  if (text[0] == '\0' && ref->run_id != d->ev.run_id)
    format_text(text,
                "%s deployment status references workflow run %llu, expected "
                "%llu",
                gate, (unsigned long long)ref->run_id,
                (unsigned long long)d->ev.run_id);
  if (text[0] != '\0') {
    c->url_comment = strdup(text);
    return c->url_comment != NULL ? EG_OK : EG_ENOMEM;
  }
  /* Several deployments may point at one job: look it up once. */
  for (size_t j = 0; j < d->njobs; j++)
    if (d->jobs[j].job_id == ref->job_id) {
      c->job_slot = j;
      return EG_OK;
    }
  if (d->njobs == d->capjobs) {
    size_t cap = d->capjobs ? 2 * d->capjobs : 4;
    struct jobslot *grown = realloc(d->jobs, cap * sizeof(*grown));

    if (grown == NULL)
      return EG_ENOMEM;
    d->jobs = grown;
    d->capjobs = cap;
  }
  memset(&d->jobs[d->njobs], 0, sizeof(d->jobs[0]));
  d->jobs[d->njobs].job_id = ref->job_id;
  d->jobs[d->njobs].st = S_WAIT;
  if (add_call(d, EG_GH_CALL_JOB, 0, d->njobs, "/actions/jobs/%llu",
               (unsigned long long)ref->job_id) != EG_OK)
    return EG_ENOMEM;
  c->job_slot = d->njobs++;
  return EG_OK;
}

static int take_statuses(eg_decision_t *d,
                         size_t index,
                         int status,
                         const char *body,
                         size_t len,
                         unsigned flags) {
  struct cand *c = &d->cands[index];
  char eb[EG_ERRBUF_LEN];
  char what[64];
  int rc;

  snprintf(what, sizeof(what), "deployment %llu statuses",
           (unsigned long long)c->id);
  if (status != 200) {
    status_err(&c->err, what, status, flags, body, len);
    /* The deployment was listed a moment ago: a 404 means it went away in
     * between, and a fresh attempt will not list it. */
    if (status == 404)
      c->err.cls = EG_DECISION_FAIL_TRANSIENT;
    c->st = S_ERR;
    return EG_OK;
  }
  rc = eg_gh_parse_latest_status(body, len, &c->status, &c->has_status, eb,
                                 sizeof(eb));
  if (rc == EG_ENOMEM)
    return rc;
  if (rc != EG_OK) {
    parse_err(&c->err, rc, eb);
    c->st = S_ERR;
    return EG_OK;
  }
  c->st = S_OK;
  if (c->has_status && strcmp(c->status.state, "success") == 0)
    return resolve_job(d, c);
  return EG_OK;
}

static int take_job(eg_decision_t *d,
                    size_t slot,
                    int status,
                    const char *body,
                    size_t len,
                    unsigned flags) {
  struct jobslot *js = &d->jobs[slot];
  char eb[EG_ERRBUF_LEN];
  char what[64];
  int rc;

  if (status == 404) {
    js->missing = true;
    js->st = S_OK;
    return EG_OK;
  }
  snprintf(what, sizeof(what), "workflow job %llu",
           (unsigned long long)js->job_id);
  if (status != 200) {
    status_err(&js->err, what, status, flags, body, len);
    js->st = S_ERR;
    return EG_OK;
  }
  rc = eg_gh_parse_job(body, len, &js->job, eb, sizeof(eb));
  if (rc == EG_ENOMEM)
    return rc;
  if (rc != EG_OK) {
    parse_err(&js->err, rc, eb);
    js->st = S_ERR;
    return EG_OK;
  }
  js->st = S_OK;
  return EG_OK;
}

static int take_jobs(eg_decision_t *d,
                     unsigned page,
                     int status,
                     const char *body,
                     size_t len,
                     unsigned flags) {
  struct page *pg = &d->jpages[page - 1];
  const char *name = d->rules->release_gate_job_name;
  eg_gh_jobs_page_t jp;
  char eb[EG_ERRBUF_LEN];
  char what[48];
  int rc;

  snprintf(what, sizeof(what), "workflow jobs page %u", page);
  if (status != 200) {
    status_err(&pg->err, what, status, flags, body, len);
    pg->st = S_ERR;
    return EG_OK;
  }
  rc = eg_gh_parse_jobs_page(body, len, &jp, eb, sizeof(eb));
  if (rc == EG_ENOMEM)
    return rc;
  if (rc != EG_OK) {
    parse_err(&pg->err, rc, eb);
    pg->st = S_ERR;
    return EG_OK;
  }
  for (size_t i = 0; i < jp.njobs && !pg->found; i++) {
    const eg_gh_job_t *job = &jp.jobs[i];

    /* The listing is of this run; a job of another run is not evidence. */
    if (job->run_id != d->ev.run_id || strcmp(job->name, name) != 0)
      continue;
    pg->found = true;
    pg->found_job_id = job->id;
    if (job->conclusion != NULL) {
      pg->conclusion = strdup(job->conclusion);
      if (pg->conclusion == NULL) {
        eg_gh_jobs_page_cleanup(&jp);
        return EG_ENOMEM;
      }
    }
  }
  pg->st = S_OK;
  rc = EG_OK;
  /* With total_count the remaining pages are known: ask for them all at
   * once (unless page 1 already settled it). */
  if (page == 1 && !pg->found && jp.has_total_count) {
    uint64_t pages =
        (jp.total_count + EG_DECISION_PER_PAGE - 1) / EG_DECISION_PER_PAGE;

    d->jobs_planned = pages > EG_DECISION_MAX_PAGES ? EG_DECISION_MAX_PAGES
                      : pages < 1                   ? 1
                                                    : (unsigned)pages;
    for (unsigned p = 2; p <= d->jobs_planned && rc == EG_OK; p++)
      rc = ask_jobs(d, p);
  }
  pg->more = page < d->jobs_planned || more_pages(page, jp.njobs, flags);
  if (rc == EG_OK && pg->more && !pg->found && page < EG_DECISION_MAX_PAGES &&
      d->jpages[page].st == S_NONE)
    rc = ask_jobs(d, page + 1);
  eg_gh_jobs_page_cleanup(&jp);
  return rc;
}

int eg_decision_feed(eg_decision_t *d,
                     unsigned call_id,
                     int http_status,
                     const char *body,
                     size_t len,
                     unsigned flags) {
  struct call *c;
  int rc = EG_OK;

  if (d == NULL || call_id == 0 || call_id > d->ncalls ||
      (body == NULL && len > 0))
    return EG_EINVAL;
  c = &d->calls[call_id - 1];
  if (!c->issued || c->answered)
    return EG_EINVAL;
  c->answered = true;
  if (d->state != EG_DECISION_PENDING)
    return EG_OK;
  switch (c->kind) {
  case EG_GH_CALL_RUN:
    rc = take_run(d, http_status, body, len, flags);
    break;
  case EG_GH_CALL_DEPLOYMENTS:
    rc = take_deployments(d, c->page, http_status, body, len, flags);
    break;
  case EG_GH_CALL_STATUSES:
    rc = take_statuses(d, c->index, http_status, body, len, flags);
    break;
  case EG_GH_CALL_JOB:
    rc = take_job(d, c->index, http_status, body, len, flags);
    break;
  case EG_GH_CALL_JOBS:
    rc = take_jobs(d, c->page, http_status, body, len, flags);
    break;
  case EG_GH_CALL_APPROVALS:
    rc = take_approvals(d, http_status, body, len, flags);
    break;
  }
  if (rc != EG_OK) {
    /* add_call() and the parsers fail only for memory. */
    oom(d, d->calls[call_id - 1].kind);
    return EG_ENOMEM;
  }
  advance(d);
  return EG_OK;
}

size_t eg_decision_next(eg_decision_t *d, eg_gh_call_t *calls, size_t max) {
  size_t n = 0;

  if (d == NULL || calls == NULL || d->state != EG_DECISION_PENDING)
    return 0;
  for (size_t i = 0; i < d->ncalls && n < max; i++) {
    struct call *c = &d->calls[i];

    if (c->issued)
      continue;
    c->issued = true;
    calls[n].id = (unsigned)(i + 1);
    calls[n].kind = c->kind;
    calls[n].method = "GET";
    calls[n].path = c->path;
    n++;
  }
  if (n > 0) {
    d->handed_out += (unsigned)n;
    d->rounds++;
  }
  return n;
}

void eg_decision_result(const eg_decision_t *d, eg_decision_result_t *res) {
  if (res == NULL)
    return;
  memset(res, 0, sizeof(*res));
  if (d == NULL) {
    res->comment = "";
    res->failure_detail = "";
    return;
  }
  res->state = d->state;
  res->done = d->state != EG_DECISION_PENDING;
  res->comment =
      d->state == EG_DECISION_APPROVED || d->state == EG_DECISION_REJECTED
          ? d->comment
          : "";
  if (d->state == EG_DECISION_FAILED) {
    res->failure = d->fail.cls;
    res->failure_status = d->fail.status;
    res->failure_call = d->fail_call;
    res->failure_detail = d->fail.detail;
  } else {
    res->failure_detail = "";
  }
  res->checks = d->views;
  res->nchecks = d->nchecks;
  res->calls = d->handed_out;
  res->rounds = d->rounds;
}

int eg_decision_checks_json(const eg_decision_t *d, json_t **out) {
  json_t *arr;

  if (out != NULL)
    *out = NULL;
  if (d == NULL || out == NULL)
    return EG_EINVAL;
  arr = json_array();
  if (arr == NULL)
    return EG_ENOMEM;
  for (size_t i = 0; i < d->nchecks; i++) {
    const struct check *c = &d->checks[i];
    json_t *o = json_pack("{s:s, s:b, s:s}", "name", c->name, "passed",
                          (int)c->passed, "detail", c->detail);

    if (o == NULL || json_array_append_new(arr, o) != 0) {
      json_decref(arr);
      return EG_ENOMEM;
    }
  }
  *out = arr;
  return EG_OK;
}

const char *eg_decision_state_name(eg_decision_state_t state) {
  switch (state) {
  case EG_DECISION_PENDING:
    return "pending";
  case EG_DECISION_APPROVED:
    return "approved";
  case EG_DECISION_REJECTED:
    return "rejected";
  case EG_DECISION_FAILED:
    return "failed";
  }
  return "unknown";
}

const char *eg_decision_failure_name(eg_decision_failure_t failure) {
  switch (failure) {
  case EG_DECISION_FAIL_NONE:
    return "none";
  case EG_DECISION_FAIL_TRANSIENT:
    return "transient";
  case EG_DECISION_FAIL_PERMANENT:
    return "permanent";
  }
  return "unknown";
}

int eg_decision_review_path(const eg_event_t *ev, char *out, size_t out_len) {
  int n;

  if (out != NULL && out_len > 0)
    out[0] = '\0';
  if (ev == NULL || out == NULL || !valid_name(ev->owner) ||
      !valid_name(ev->repo) || ev->run_id == 0)
    return EG_EINVAL;
  n = snprintf(out, out_len,
               "/repos/%s/%s/actions/runs/%llu/deployment_protection_rule",
               ev->owner, ev->repo, (unsigned long long)ev->run_id);
  if (n < 0 || (size_t)n >= out_len) {
    if (out_len > 0)
      out[0] = '\0';
    return EG_ERANGE;
  }
  return EG_OK;
}

int eg_decision_review_body(const char *environment_name,
                            eg_decision_state_t state,
                            const char *comment,
                            char **body,
                            size_t *len) {
  char text[TEXT_MAX];
  json_t *o;
  size_t n;

  if (body != NULL)
    *body = NULL;
  if (len != NULL)
    *len = 0;
  if (environment_name == NULL || comment == NULL || body == NULL ||
      (state != EG_DECISION_APPROVED && state != EG_DECISION_REJECTED))
    return EG_EINVAL;
  if (!utf8_valid(environment_name) || !utf8_valid(comment))
    return EG_EINVAL;
  n = strlen(comment);
  if (n > EG_DECISION_COMMENT_MAX) {
    /* Cut where a character starts. */
    n = EG_DECISION_COMMENT_MAX;
    while (n > 0 && ((unsigned char)comment[n] & 0xc0) == 0x80)
      n--;
  }
  memcpy(text, comment, n);
  text[n] = '\0';
  o = json_pack(
      "{s:s, s:s, s:s}", "environment_name", environment_name, "state",
      state == EG_DECISION_APPROVED ? "approved" : "rejected", "comment", text);
  if (o == NULL)
    return EG_ENOMEM;
  *body = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (*body == NULL)
    return EG_ENOMEM;
  if (len != NULL)
    *len = strlen(*body);
  return EG_OK;
}

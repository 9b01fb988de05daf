/* The decision engine: contract decision rules 2-5 as an I/O-free state
 * machine. It hands out the GitHub reads it needs (several at once when
 * they are independent), is fed their responses, and ends with a verdict
 * (approve or reject, with ost-environment-gate's comments) or a failure
 * classification (transient: start over later; permanent: dead-letter).
 *
 * Typical use, one decision per attempt (a retry simply starts over):
 *
 *   eg_decision_new(rules, &ev, web_origin, &d);
 *   while (!(eg_decision_result(d, &res), res.done)) {
 *     n = eg_decision_next(d, calls, 16);
 *     ... run the n GET requests in parallel ...
 *     for each: eg_decision_feed(d, calls[i].id, status, body, len, flags);
 *   }
 *   ... POST eg_decision_review_body() to eg_decision_review_path() ...
 *
 * Critical path, deployment mode: round 1 = the run and the first page of
 * gate deployments (and the approvals when configured); round 2 = the
 * latest status of every candidate deployment; round 3 = the jobs those
 * statuses point at. The common approve case is 4 calls in 3 rounds. Job
 * mode: round 1 = the run and jobs page 1, round 2 = the other pages (all
 * at once when total_count is known). */
#ifndef EG_DECISION_H
#define EG_DECISION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eg/event.h"
#include "eg/policy.h"

/* GitHub's limit on a review comment (characters); comments built here are
 * at most this many bytes. */
#define EG_DECISION_COMMENT_MAX 1024
/* Page size and page cap for deployments and jobs (ost: 10 x 100). */
#define EG_DECISION_PER_PAGE  100
#define EG_DECISION_MAX_PAGES 10

typedef enum eg_gh_call_kind {
  EG_GH_CALL_RUN = 1,     /* GET .../actions/runs/{run_id} */
  EG_GH_CALL_DEPLOYMENTS, /* GET .../deployments?environment=&sha=&... */
  EG_GH_CALL_STATUSES,    /* GET .../deployments/{id}/statuses?per_page=1 */
  EG_GH_CALL_JOB,         /* GET .../actions/jobs/{job_id} */
  EG_GH_CALL_JOBS,        /* GET .../actions/runs/{run_id}/jobs?filter=... */
  EG_GH_CALL_APPROVALS    /* GET .../actions/runs/{run_id}/approvals */
} eg_gh_call_kind_t;

/* One GitHub request to make. */
typedef struct eg_gh_call_s {
  unsigned id;            /* hand back to eg_decision_feed() */
  eg_gh_call_kind_t kind; /* for logs and metrics */
  const char *method;     /* "GET" */
  /* Path and query relative to the API base, e.g.
   * "/repos/octo/app/actions/runs/42". Built only from the validated event
   * (owner, repo, run id, sha), the policy's gate environment
   * (percent-encoded) and numeric ids; never from a URL in a response.
   * Owned by the decision, valid until eg_decision_free(). */
  const char *path;
} eg_gh_call_t;

/* eg_decision_feed() flags, from the response headers. */
#define EG_GH_RESP_LINK_NEXT 0x1u /* Link has rel="next" */
/* The Link header was looked at and has no rel="next" (or there is none):
 * a full page is then the last one. Without either LINK flag, a full page
 * means "maybe more" and the next page is asked for. */
#define EG_GH_RESP_LAST_PAGE 0x2u
/* A 403/429 carried rate-limit signs (x-ratelimit-remaining: 0 or
 * Retry-After). A 403 whose body says "rate limit" counts too. */
#define EG_GH_RESP_RATE_LIMITED 0x4u

typedef enum eg_decision_state {
  EG_DECISION_PENDING = 0, /* needs more responses */
  EG_DECISION_APPROVED,
  EG_DECISION_REJECTED,
  EG_DECISION_FAILED /* no verdict possible now: see failure */
} eg_decision_state_t;

typedef enum eg_decision_failure {
  EG_DECISION_FAIL_NONE = 0,
  /* 5xx, 429, 408, 401, a rate-limited 403, a transport error (status 0),
   * a body that is not well-formed JSON, out of memory: retry from the
   * start later. */
  EG_DECISION_FAIL_TRANSIENT,
  /* 404 on the run, the deployments or the approvals, 403 without rate
   * limit, other 4xx and 3xx, a non-200 2xx, or well-formed JSON of the
   * wrong shape: retrying gives the same answer, dead-letter. */
  EG_DECISION_FAIL_PERMANENT
} eg_decision_failure_t;

/* One evaluated check, in evaluation order, for the decision record. */
typedef struct eg_decision_check_s {
  const char *name; /* environment, ref, head_repository, event,
                       workflow_path, gate_deployment | gate_job,
                       distinct_approver */
  bool passed;
  const char *detail; /* what was seen; for a failed check, the comment */
} eg_decision_check_t;

typedef struct eg_decision_result_s {
  eg_decision_state_t state;
  bool done; /* state != EG_DECISION_PENDING */
  /* APPROVED/REJECTED: the review comment (<= EG_DECISION_COMMENT_MAX
   * bytes, UTF-8). Otherwise "". */
  const char *comment;
  /* FAILED only. */
  eg_decision_failure_t failure;
  int failure_status;             /* HTTP status fed, 0 if none */
  eg_gh_call_kind_t failure_call; /* which read failed */
  const char *failure_detail;     /* one line, e.g. "workflow run: HTTP 404" */
  const eg_decision_check_t *checks; /* the checks evaluated so far */
  size_t nchecks;
  unsigned calls;  /* calls handed out by eg_decision_next() */
  unsigned rounds; /* eg_decision_next() calls that handed out >= 1 */
} eg_decision_result_t;

typedef struct eg_decision_s eg_decision_t;

/* Starts a decision for ev (a gate request from eg_event_parse(); copied)
 * under rules (from eg_policy_for_repo(); borrowed: must outlive d).
 * web_origin is where job URLs in deployment statuses must point (see
 * eg_gh_web_origin(); NULL means "https://github.com"; copied). Rule 2 is
 * evaluated here: a wrong environment or ref is rejected before any call.
 * @returns EG_OK (*out set; free with eg_decision_free()), EG_EINVAL (NULL
 * argument, ev not a gate request or with invalid owner/repo/sha/run id,
 * rules incomplete for its mode, web_origin too long) or EG_ENOMEM. */
int eg_decision_new(const eg_policy_rules_t *rules,
                    const eg_event_t *ev,
                    const char *web_origin,
                    eg_decision_t **out);

/* Fills calls[0..n) with up to max calls that can be made now, in the
 * order they should be started, and marks them handed out. Returns 0 when
 * the decision is done, or when every call handed out still awaits its
 * response. If every handed-out call is fed before calling again, a
 * pending decision always returns at least one call. */
size_t eg_decision_next(eg_decision_t *d, eg_gh_call_t *calls, size_t max);

/* Feeds the response to call call_id: http_status (0 for a transport
 * failure), the body (len bytes, need not be NUL-terminated; may be NULL
 * when len is 0) and EG_GH_RESP_* flags. Responses may come in any order;
 * a response that is no longer needed is accepted and ignored.
 * @returns EG_OK (see eg_decision_result()); EG_EINVAL (NULL d, unknown id,
 * a call not handed out or already fed); EG_ENOMEM (the decision is then
 * FAILED, transient). */
int eg_decision_feed(eg_decision_t *d,
                     unsigned call_id,
                     int http_status,
                     const char *body,
                     size_t len,
                     unsigned flags);

/* Fills *res; its strings and checks are owned by d and valid until the
 * next eg_decision_feed() or eg_decision_free(). */
void eg_decision_result(const eg_decision_t *d, eg_decision_result_t *res);

/* The evaluated checks as a new JSON array of {"name", "passed", "detail"}
 * for the decision record. @returns EG_OK (*out: caller json_decref()s),
 * EG_EINVAL or EG_ENOMEM. */
int eg_decision_checks_json(const eg_decision_t *d, json_t **out);

/* Frees d. NULL is a no-op. */
void eg_decision_free(eg_decision_t *d);

/* "approved", "rejected", "pending", "failed". */
const char *eg_decision_state_name(eg_decision_state_t state);
/* "none", "transient", "permanent". */
const char *eg_decision_failure_name(eg_decision_failure_t failure);

/* Writes the review path
 * "/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule"
 * (relative to the API base; equal to the event's validated callback URL
 * without the base) into out. @returns EG_OK, EG_EINVAL or EG_ERANGE. */
int eg_decision_review_path(const eg_event_t *ev, char *out, size_t out_len);

/* Builds the review request body
 * {"environment_name": ..., "state": "approved"|"rejected", "comment": ...}
 * as compact JSON. environment_name is the payload's environment (as
 * sent); state must be APPROVED or REJECTED; comment (UTF-8) is cut at a
 * character boundary to at most EG_DECISION_COMMENT_MAX bytes.
 * @returns EG_OK (*body: NUL-terminated, caller free()s; *len may be NULL),
 * EG_EINVAL (NULL argument, other state, invalid UTF-8) or EG_ENOMEM. */
int eg_decision_review_body(const char *environment_name,
                            eg_decision_state_t state,
                            const char *comment,
                            char **body,
                            size_t *len);

#endif /* EG_DECISION_H */

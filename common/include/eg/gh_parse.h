/* Parsers for the GitHub REST responses a decision reads (one per response
 * type) and for Actions job URLs. Pure functions over bytes: no I/O, safe
 * for any input (fuzzed), thread-safe.
 *
 * Every body parser returns:
 * - EG_OK: the out struct is filled (free it with its cleanup function);
 * - EG_EPARSE: the bytes are not well-formed JSON (empty, truncated, not
 *   UTF-8, garbage): most likely damage in transit, so worth a retry;
 * - EG_EINVAL: well-formed JSON that does not have the documented shape (a
 *   required field missing, a field of the wrong type, an id out of range,
 *   a NUL inside a string): GitHub answered something we cannot use, and
 *   asking again would give the same answer;
 * - EG_ENOMEM.
 * On failure the out struct holds nothing to free. errbuf (may be NULL)
 * says what was wrong; it never quotes the body. Fields not listed are
 * ignored. Strings are NUL-terminated heap copies, NULL when the field is
 * absent or null. Ids are JSON integers >= 1 unless said otherwise. */
#ifndef EG_GH_PARSE_H
#define EG_GH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* GET /repos/{owner}/{repo}/actions/runs/{run_id} */
typedef struct eg_gh_run_s {
  uint64_t id;                     /* 0 when absent */
  char *path;                      /* ".github/workflows/x.yml[@ref]" */
  char *event;                     /* "workflow_dispatch", ... */
  char *head_sha;                  /* optional */
  char *head_repository_full_name; /* head_repository.full_name */
  uint64_t head_repository_id;     /* head_repository.id, 0 when absent */
  char *triggering_actor_login;    /* triggering_actor.login */
} eg_gh_run_t;

/* The body must be an object; every field above is optional (a decision
 * rejects what is missing), but present ones must have their JSON type
 * (head_repository and triggering_actor objects or null). */
int eg_gh_parse_run(const char *body,
                    size_t len,
                    eg_gh_run_t *run,
                    char *errbuf,
                    size_t errbuf_len);
void eg_gh_run_cleanup(eg_gh_run_t *run);

/* GET /repos/{owner}/{repo}/actions/jobs/{job_id}, and each element of a
 * jobs page. id, run_id, name and head_sha are required (status and
 * conclusion optional: conclusion is null until the job completes). */
typedef struct eg_gh_job_s {
  uint64_t id;
  uint64_t run_id;
  char *name;
  char *head_sha;
  char *status;     /* queued, in_progress, completed, ... */
  char *conclusion; /* success, failure, ... NULL when null */
} eg_gh_job_t;

int eg_gh_parse_job(const char *body,
                    size_t len,
                    eg_gh_job_t *job,
                    char *errbuf,
                    size_t errbuf_len);
void eg_gh_job_cleanup(eg_gh_job_t *job);

/* GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs: an object with a
 * "jobs" array (required) and "total_count" (optional, >= 0). */
typedef struct eg_gh_jobs_page_s {
  eg_gh_job_t *jobs; /* njobs entries, in the response's order */
  size_t njobs;
  uint64_t total_count;
  bool has_total_count;
} eg_gh_jobs_page_t;

int eg_gh_parse_jobs_page(const char *body,
                          size_t len,
                          eg_gh_jobs_page_t *page,
                          char *errbuf,
                          size_t errbuf_len);
void eg_gh_jobs_page_cleanup(eg_gh_jobs_page_t *page);

/* GET /repos/{owner}/{repo}/deployments: an array of objects, each with id
 * (required), sha and environment (optional strings). */
typedef struct eg_gh_deployment_s {
  uint64_t id;
  char *sha;
  char *environment;
} eg_gh_deployment_t;

typedef struct eg_gh_deployments_s {
  eg_gh_deployment_t *items; /* n entries, in the response's order */
  size_t n;
} eg_gh_deployments_t;

int eg_gh_parse_deployments(const char *body,
                            size_t len,
                            eg_gh_deployments_t *list,
                            char *errbuf,
                            size_t errbuf_len);
void eg_gh_deployments_cleanup(eg_gh_deployments_t *list);

/* GET /repos/{owner}/{repo}/deployments/{id}/statuses (newest first): an
 * array; only its first element is read. state is required; log_url and
 * target_url are optional strings. */
typedef struct eg_gh_status_s {
  uint64_t id; /* 0 when absent */
  char *state; /* error, failure, inactive, in_progress, queued, pending,
                  success */
  char *log_url;
  char *target_url;
} eg_gh_status_t;

/* *found is false (and st empty) for an empty array. */
int eg_gh_parse_latest_status(const char *body,
                              size_t len,
                              eg_gh_status_t *st,
                              bool *found,
                              char *errbuf,
                              size_t errbuf_len);
void eg_gh_status_cleanup(eg_gh_status_t *st);

/* GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals: an array of
 * {state, user: {login}, environments: [{name}]}. state is required; a
 * null user gives login NULL; environments without a name are skipped. */
typedef struct eg_gh_approval_s {
  char *state; /* approved, rejected, pending */
  char *login;
  char **environments; /* nenvironments names */
  size_t nenvironments;
} eg_gh_approval_t;

typedef struct eg_gh_approvals_s {
  eg_gh_approval_t *items;
  size_t n;
} eg_gh_approvals_t;

int eg_gh_parse_approvals(const char *body,
                          size_t len,
                          eg_gh_approvals_t *list,
                          char *errbuf,
                          size_t errbuf_len);
void eg_gh_approvals_cleanup(eg_gh_approvals_t *list);

/* POST /app/installations/{id}/access_tokens (201): an object with token
 * and expires_at, both required. token must be 1..EG_GH_INSTALLATION_TOKEN_MAX
 * printable ASCII characters without spaces (it goes into an Authorization
 * header); expires_at is RFC 3339 UTC ("2016-07-11T22:14:10Z"). Other
 * fields (permissions, repositories, ...) are ignored. errbuf never holds
 * the token. */
#define EG_GH_INSTALLATION_TOKEN_MAX 4096

typedef struct eg_gh_token_s {
  char *token;        /* secret: eg_gh_token_cleanup() overwrites it */
  int64_t expires_at; /* epoch seconds */
} eg_gh_token_t;

int eg_gh_parse_token(const char *body,
                      size_t len,
                      eg_gh_token_t *tok,
                      char *errbuf,
                      size_t errbuf_len);
void eg_gh_token_cleanup(eg_gh_token_t *tok);

/* Longest owner or repository name, NUL included. */
#define EG_GH_NAME_LEN 101
/* Longest web origin, NUL included. */
#define EG_GH_ORIGIN_LEN 512

/* An Actions job URL:
 * <web_origin>/{owner}/{repo}/actions/runs/{run_id}/job/{job_id}. */
typedef struct eg_gh_job_ref_s {
  char owner[EG_GH_NAME_LEN];
  char repo[EG_GH_NAME_LEN];
  uint64_t run_id;
  uint64_t job_id;
} eg_gh_job_ref_t;

/* Parses url against web_origin ("https://github.com" or a GHES
 * "https://host[:port]"; scheme and host compared case-insensitively, an
 * explicit default port equals none). The path must be exactly the seven
 * segments above (owner and repo [A-Za-z0-9._-]{1,100}, not "." or "..";
 * ids decimal, 1..UINT64_MAX); a query or fragment is ignored; user info,
 * percent-escapes, empty segments and a trailing slash are refused.
 * @returns EG_OK (*ref filled) or EG_EINVAL (*ref zeroed). */
int eg_gh_parse_job_url(const char *url,
                        const char *web_origin,
                        eg_gh_job_ref_t *ref);

/* The web origin whose job URLs a GitHub API base serves: a GHES base
 * "https://host[:port]/api/v3" gives "https://host[:port]"; any other base
 * (https://api.github.com, or a loopback simulator) gives
 * "https://github.com". Writes a NUL-terminated string into out.
 * @returns EG_OK, EG_EINVAL (NULL argument, not an http(s) URL) or
 * EG_ERANGE (out_len too small). */
int eg_gh_web_origin(const char *api_base, char *out, size_t out_len);

#endif /* EG_GH_PARSE_H */

/* The policy file (contract "Policy file"): a superset of
 * ost-environment-gate's policy JSON, read once at start, validated in full
 * (every problem reported), then looked up per repository. Pure logic. */
#ifndef EG_POLICY_H
#define EG_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* Policy files over this size are refused. */
#define EG_POLICY_FILE_MAX (1024u * 1024u)
/* Longest string value accepted, in bytes after trimming. */
#define EG_POLICY_STRING_MAX 1024
/* Longest environment name, in characters (GitHub's limit). */
#define EG_POLICY_ENV_CHARS_MAX 255
/* Most entries under "repositories". */
#define EG_POLICY_REPOS_MAX 10000

/* Where the gate evidence comes from (contract decision rule 4). */
typedef enum eg_gate_evidence {
  /* A successful deployment to the gate environment whose job is in the
   * run (ost-environment-gate since 84c5a79). The default. */
  EG_GATE_EVIDENCE_DEPLOYMENT = 0,
  /* The run's jobs contain the gate job, concluded success (ost before
   * 84c5a79). Needs release_gate_job_name. */
  EG_GATE_EVIDENCE_JOB = 1
} eg_gate_evidence_t;

/* The effective rules for one repository: the top level merged with the
 * repository's overrides. Strings are trimmed, non-empty and NUL-free. */
typedef struct eg_policy_rules_s {
  /* "owner/repo" as written under "repositories", NULL for the top level. */
  const char *repository;
  const char *allowed_ref;           /* "refs/heads/<x>" or "refs/tags/<x>" */
  const char *const *allowed_events; /* nallowed_events names, see below */
  size_t nallowed_events;            /* >= 1 */
  const char *release_environment_name;
  /* NULL when not set, which is allowed only where it is unused:
   * gate_evidence "job" and require_distinct_approver false. */
  const char *release_gate_environment_name;
  /* NULL when not set (optional in deployment mode, required in job mode). */
  const char *release_gate_job_name;
  /* ".github/workflows/<x>.yml" or ".yaml" */
  const char *release_workflow_path;
  eg_gate_evidence_t gate_evidence;
  bool require_distinct_approver;
} eg_policy_rules_t;

typedef struct eg_policy_s eg_policy_t;

/* Receives one problem line, e.g.
 * `policy.json: repositories["octo/app"].allowed_ref="main": must start with
 * refs/heads/ or refs/tags/`. Called once per problem, before the load
 * returns. */
typedef void (*eg_policy_report_fn)(const char *line, void *ud);

/* Parses and validates len bytes of JSON at json (need not be
 * NUL-terminated). name prefixes every problem line (e.g. the file path;
 * NULL means "policy").
 *
 * Keys (all optional unless marked):
 * - allowed_ref (required): string, "refs/heads/<x>" or "refs/tags/<x>".
 * - allowed_events (required): non-empty array of strings, each one of
 *   workflow_dispatch, workflow_call, workflow_run, push, pull_request,
 *   pull_request_target, repository_dispatch, release, schedule,
 *   merge_group, create, delete.
 * - release_environment_name (required): string.
 * - release_gate_environment_name: string; required unless gate_evidence is
 *   "job" and require_distinct_approver is false.
 * - release_gate_job_name: string or null; required when gate_evidence is
 *   "job".
 * - release_workflow_path (required): string starting ".github/workflows/",
 *   ending ".yml" or ".yaml".
 * - gate_evidence: "deployment" (default) or "job".
 * - require_distinct_approver: boolean, default false.
 * - repositories: object whose keys are "owner/repo" (each name
 *   [A-Za-z0-9._-]{1,100}, not "." or "..", unique case-insensitively) and
 *   whose values are objects of overrides: any key above except
 *   repositories; release_gate_job_name null there clears the inherited
 *   name. The merged rules of each repository are validated on their own.
 * Strings are trimmed of ASCII white space first and must then be
 * non-empty, at most EG_POLICY_STRING_MAX bytes, without control
 * characters; environment names at most EG_POLICY_ENV_CHARS_MAX
 * characters. Any other key, a repeated key or a value of the wrong type is
 * a problem: a typo in a security policy must not pass silently.
 *
 * On failure every problem has been passed to report (may be NULL), errbuf
 * (may be NULL) holds the first one, and *policy is NULL.
 * @returns EG_OK (*policy set; free with eg_policy_free()); EG_EINVAL (a
 * problem, or a NULL json/policy); EG_ETOOBIG (len > EG_POLICY_FILE_MAX);
 * EG_ENOMEM. */
int eg_policy_load_string(const char *json,
                          size_t len,
                          const char *name,
                          eg_policy_t **policy,
                          eg_policy_report_fn report,
                          void *report_ud,
                          char *errbuf,
                          size_t errbuf_len);

/* Reads the file at path (at most EG_POLICY_FILE_MAX bytes) and loads it as
 * eg_policy_load_string() does, with path as the name.
 * @returns as eg_policy_load_string(), plus EG_EIO when the file cannot be
 * read (reported too). */
int eg_policy_load_file(const char *path,
                        eg_policy_t **policy,
                        eg_policy_report_fn report,
                        void *report_ud,
                        char *errbuf,
                        size_t errbuf_len);

/* The effective rules for full_name ("owner/repo", matched ASCII
 * case-insensitively against the "repositories" keys), or the top-level
 * rules when the repository has no entry or full_name is NULL. Never NULL
 * for a non-NULL policy (NULL policy gives NULL). The rules are owned by
 * policy and valid until eg_policy_free(). Thread-safe (read-only). */
const eg_policy_rules_t *eg_policy_for_repo(const eg_policy_t *policy,
                                            const char *full_name);

/* Number of "repositories" entries. */
size_t eg_policy_repo_count(const eg_policy_t *policy);

/* Whether event is one of rules->allowed_events (exact match). */
bool eg_policy_rules_allow_event(const eg_policy_rules_t *rules,
                                 const char *event);

/* Frees policy and every rules struct it handed out. NULL is a no-op. */
void eg_policy_free(eg_policy_t *policy);

#endif /* EG_POLICY_H */

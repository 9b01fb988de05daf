/* libFuzzer target for the policy file, eg_policy_load_string(): any input
 * must be answered without a crash, leak or read out of bounds. A refused
 * file has reported one-line problems, the first one also in errbuf; an
 * accepted one reported nothing, and every rule set it hands out (the top
 * level and each "repositories" entry, looked up in any letter case) holds
 * the invariants policy.h documents. Build and run: tools/fuzz.sh
 * fuzz_policy. */
#include "eg/error.h"
#include "eg/policy.h"

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

#define NAME "fuzz.json"

struct reports {
  size_t n;
  char first[EG_ERRBUF_LEN];
};

static void on_report(const char *line, void *ud) {
  struct reports *r = ud;

  /* One line each, naming the file. */
  CHECK(strncmp(line, NAME ": ", sizeof(NAME ": ") - 1) == 0);
  for (const char *c = line; *c != '\0'; c++)
    CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
  if (r->n++ == 0)
    snprintf(r->first, sizeof(r->first), "%s", line);
}

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A string value as policy.h promises it: trimmed, non-empty, bounded, no
 * control characters. */
static void check_string(const char *s) {
  size_t n;

  CHECK(s != NULL);
  n = strlen(s);
  CHECK(n >= 1 && n <= EG_POLICY_STRING_MAX);
  CHECK(!isspace((unsigned char)s[0]) && !isspace((unsigned char)s[n - 1]));
  for (size_t i = 0; i < n; i++)
    CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void check_rules(const eg_policy_rules_t *r) {
  static const char *const events[] = {"workflow_dispatch",
                                       "workflow_call",
                                       "workflow_run",
                                       "push",
                                       "pull_request",
                                       "pull_request_target",
                                       "repository_dispatch",
                                       "release",
                                       "schedule",
                                       "merge_group",
                                       "create",
                                       "delete"};
  bool job_mode = r->gate_evidence == EG_GATE_EVIDENCE_JOB;

  CHECK(r != NULL);
  check_string(r->allowed_ref);
  CHECK((starts_with(r->allowed_ref, "refs/heads/") &&
         strlen(r->allowed_ref) > 11) ||
        (starts_with(r->allowed_ref, "refs/tags/") &&
         strlen(r->allowed_ref) > 10));
  CHECK(r->nallowed_events >= 1);
  for (size_t i = 0; i < r->nallowed_events; i++) {
    bool known = false;

    for (size_t k = 0; k < sizeof(events) / sizeof(events[0]); k++)
      known = known || strcmp(r->allowed_events[i], events[k]) == 0;
    CHECK(known);
    CHECK(eg_policy_rules_allow_event(r, r->allowed_events[i]));
  }
  check_string(r->release_environment_name);
  check_string(r->release_workflow_path);
  CHECK(starts_with(r->release_workflow_path, ".github/workflows/"));
  CHECK(ends_with(r->release_workflow_path, ".yml") ||
        ends_with(r->release_workflow_path, ".yaml"));
  CHECK(r->gate_evidence == EG_GATE_EVIDENCE_DEPLOYMENT || job_mode);
  if (!job_mode || r->require_distinct_approver)
    check_string(r->release_gate_environment_name);
  else if (r->release_gate_environment_name != NULL)
    check_string(r->release_gate_environment_name);
  if (job_mode)
    check_string(r->release_gate_job_name);
  else if (r->release_gate_job_name != NULL)
    check_string(r->release_gate_job_name);
  CHECK(!eg_policy_rules_allow_event(r, "not_an_event"));
}

/* Every "repositories" key of an accepted file resolves, in any case, to
 * its own rules. */
static void
check_repos(const eg_policy_t *policy, const uint8_t *data, size_t size) {
  json_t *root = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
  json_t *repos = json_object_get(root, "repositories");
  const eg_policy_rules_t *top = eg_policy_for_repo(policy, NULL);
  const char *key;
  json_t *v;

  CHECK(root != NULL);
  CHECK(eg_policy_repo_count(policy) ==
        (repos != NULL ? json_object_size(repos) : 0));
  json_object_foreach(repos, key, v) {
    const eg_policy_rules_t *r = eg_policy_for_repo(policy, key);
    char *upper = strdup(key);

    CHECK(r != top && r->repository != NULL);
    CHECK(strcmp(r->repository, key) == 0);
    check_rules(r);
    if (upper != NULL) {
      for (char *c = upper; *c != '\0'; c++)
        *c = (char)toupper((unsigned char)*c);
      CHECK(eg_policy_for_repo(policy, upper) == r);
      free(upper);
    }
  }
  /* '!' is in no valid name: this never matches an entry. */
  CHECK(eg_policy_for_repo(policy, "!/!") == top);
  json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct reports rep = {0};
  char err[EG_ERRBUF_LEN];
  eg_policy_t *policy = (eg_policy_t *)&rep; /* must be reset */
  int rc;

  rc = eg_policy_load_string((const char *)data, size, NAME, &policy, on_report,
                             &rep, err, sizeof(err));
  if (rc != EG_OK) {
    CHECK(policy == NULL);
    CHECK(rc == EG_EINVAL || rc == EG_ENOMEM);
    if (rc == EG_EINVAL) {
      CHECK(rep.n >= 1);
      CHECK(strcmp(err, rep.first) == 0);
    }
    return 0;
  }
  CHECK(policy != NULL && rep.n == 0 && err[0] == '\0');
  CHECK(eg_policy_for_repo(policy, NULL)->repository == NULL);
  check_rules(eg_policy_for_repo(policy, NULL));
  check_repos(policy, data, size);
  eg_policy_free(policy);
  return 0;
}

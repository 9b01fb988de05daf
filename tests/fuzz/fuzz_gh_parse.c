/* libFuzzer target: every GitHub response parser, the job URL parser, and
 * a decision fed fuzzed responses. The first byte picks the target; for
 * the decision, the rest is split on NUL bytes into successive bodies
 * (each prefixed by a status selector byte).
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I common/include
 *   tests/fuzz/fuzz_gh_parse.c common/src/{gh_parse,decision,policy,parse,
 *   internal,error}.c -ljansson */
#include "eg/decision.h"
#include "eg/error.h"
#include "eg/gh_parse.h"
#include "eg/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char policy_json[] =
    "{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
    "[\"workflow_dispatch\"], \"release_environment_name\": \"release\", "
    "\"release_gate_environment_name\": \"release-gate\", "
    "\"release_gate_job_name\": \"release-gate\", "
    "\"release_workflow_path\": \".github/workflows/release.yml\", "
    "\"require_distinct_approver\": true, \"repositories\": {\"o/j\": "
    "{\"gate_evidence\": \"job\"}}}";

static void parse_one(uint8_t which, const char *p, size_t n) {
  char err[EG_ERRBUF_LEN];

  switch (which % 7) {
  case 0: {
    eg_gh_run_t v;
    if (eg_gh_parse_run(p, n, &v, err, sizeof(err)) == EG_OK)
      eg_gh_run_cleanup(&v);
    break;
  }
  case 1: {
    eg_gh_job_t v;
    if (eg_gh_parse_job(p, n, &v, err, sizeof(err)) == EG_OK)
      eg_gh_job_cleanup(&v);
    break;
  }
  case 2: {
    eg_gh_jobs_page_t v;
    if (eg_gh_parse_jobs_page(p, n, &v, err, sizeof(err)) == EG_OK)
      eg_gh_jobs_page_cleanup(&v);
    break;
  }
  case 3: {
    eg_gh_deployments_t v;
    if (eg_gh_parse_deployments(p, n, &v, err, sizeof(err)) == EG_OK)
      eg_gh_deployments_cleanup(&v);
    break;
  }
  case 4: {
    eg_gh_status_t v;
    bool found;
    if (eg_gh_parse_latest_status(p, n, &v, &found, err, sizeof(err)) == EG_OK)
      eg_gh_status_cleanup(&v);
    break;
  }
  case 5: {
    eg_gh_approvals_t v;
    if (eg_gh_parse_approvals(p, n, &v, err, sizeof(err)) == EG_OK)
      eg_gh_approvals_cleanup(&v);
    break;
  }
  case 6: {
    char *s = malloc(n + 1);
    eg_gh_job_ref_t ref;
    char origin[EG_GH_ORIGIN_LEN];

    if (s == NULL)
      return;
    memcpy(s, p, n);
    s[n] = '\0';
    eg_gh_parse_job_url(s, "https://github.com", &ref);
    eg_gh_web_origin(s, origin, sizeof(origin));
    free(s);
    break;
  }
  }
}

static void drive(const uint8_t *data, size_t size, bool job_repo) {
  static eg_policy_t *policy;
  eg_event_t ev;
  eg_decision_t *d;
  eg_decision_result_t res;
  eg_gh_call_t calls[32];
  size_t off = 0;

  if (policy == NULL &&
      eg_policy_load_string(policy_json, strlen(policy_json), NULL, &policy,
                            NULL, NULL, NULL, 0) != EG_OK)
    abort();
  memset(&ev, 0, sizeof(ev));
  ev.kind = EG_EVENT_GATE_REQUEST;
  strcpy(ev.environment, "release");
  strcpy(ev.ref, "main");
  strcpy(ev.sha, "47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54");
  strcpy(ev.owner, "o");
  strcpy(ev.repo, job_repo ? "j" : "r");
  strcpy(ev.full_name, job_repo ? "o/j" : "o/r");
  ev.repository_id = 7;
  ev.installation_id = 8;
  ev.run_id = 9;
  if (eg_decision_new(eg_policy_for_repo(policy, ev.full_name), &ev, NULL,
                      &d) != EG_OK)
    return;
  for (int round = 0; round < 50; round++) {
    size_t n = eg_decision_next(d, calls, 32);

    if (n == 0)
      break;
    for (size_t i = 0; i < n; i++) {
      static const int statuses[] = {200, 200, 200, 200, 404,
                                     500, 403, 429, 0,   301};
      const char *body = "";
      size_t len = 0;
      int status = 200;
      unsigned flags = 0;

      if (off < size) {
        status = statuses[data[off] % 10];
        flags = (data[off] >> 4) & 7u;
        off++;
        body = (const char *)data + off;
        while (off < size && data[off] != 0)
          off++;
        len = (size_t)((const char *)data + off - body);
        if (off < size)
          off++;
      }
      if (eg_decision_feed(d, calls[i].id, status, body, len, flags) != EG_OK)
        abort();
    }
  }
  eg_decision_result(d, &res);
  if (res.done && strlen(res.comment) > EG_DECISION_COMMENT_MAX)
    abort();
  eg_decision_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  if (data[0] < 200)
    parse_one(data[0], (const char *)data + 1, size - 1);
  else
    drive(data + 1, size - 1, data[0] >= 228);
  return 0;
}

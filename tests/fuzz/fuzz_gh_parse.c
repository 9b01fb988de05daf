/* libFuzzer target: every GitHub response parser (run, job, jobs page,
 * deployments, statuses, approvals, installation token), the job URL
 * parser, and a decision fed fuzzed responses. Whatever a parser accepts
 * must hold its documented invariants. The first byte picks the target
 * (tools/fuzz.sh seeds each parser with its fixture behind its byte); for
 * the decision, the rest is split on NUL bytes into successive bodies
 * (each prefixed by a status selector byte).
 * Build and run: tools/fuzz.sh fuzz_gh_parse. */
#include "eg/decision.h"
#include "eg/error.h"
#include "eg/gh_parse.h"
#include "eg/policy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A parser accepted something its header says it refuses. */
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

static void check_job(const eg_gh_job_t *j) {
  CHECK(j->id >= 1 && j->run_id >= 1 && j->name != NULL && j->head_sha != NULL);
}

static bool is_name(const char *s) {
  size_t n = strlen(s);

  if (n == 0 || n > 100 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
    return false;
  return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789._-") == n;
}

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
  int rc = EG_OK;

  err[0] = '\0';
  switch (which % 8) {
  case 0: {
    eg_gh_run_t v;
    rc = eg_gh_parse_run(p, n, &v, err, sizeof(err));
    if (rc == EG_OK)
      eg_gh_run_cleanup(&v);
    else
      CHECK(v.path == NULL && v.event == NULL && v.head_sha == NULL);
    break;
  }
  case 1: {
    eg_gh_job_t v;
    rc = eg_gh_parse_job(p, n, &v, err, sizeof(err));
    if (rc == EG_OK) {
      check_job(&v);
      eg_gh_job_cleanup(&v);
    }
    break;
  }
  case 2: {
    eg_gh_jobs_page_t v;
    rc = eg_gh_parse_jobs_page(p, n, &v, err, sizeof(err));
    if (rc == EG_OK) {
      CHECK(v.has_total_count || v.total_count == 0);
      for (size_t i = 0; i < v.njobs; i++)
        check_job(&v.jobs[i]);
      eg_gh_jobs_page_cleanup(&v);
    } else {
      CHECK(v.jobs == NULL && v.njobs == 0);
    }
    break;
  }
  case 3: {
    eg_gh_deployments_t v;
    rc = eg_gh_parse_deployments(p, n, &v, err, sizeof(err));
    if (rc == EG_OK) {
      for (size_t i = 0; i < v.n; i++)
        CHECK(v.items[i].id >= 1);
      eg_gh_deployments_cleanup(&v);
    } else {
      CHECK(v.items == NULL && v.n == 0);
    }
    break;
  }
  case 4: {
    eg_gh_status_t v;
    bool found;
    rc = eg_gh_parse_latest_status(p, n, &v, &found, err, sizeof(err));
    if (rc == EG_OK) {
      CHECK(found ? v.state != NULL : v.state == NULL);
      eg_gh_status_cleanup(&v);
    }
    break;
  }
  case 5: {
    eg_gh_approvals_t v;
    rc = eg_gh_parse_approvals(p, n, &v, err, sizeof(err));
    if (rc == EG_OK) {
      for (size_t i = 0; i < v.n; i++) {
        CHECK(v.items[i].state != NULL);
        for (size_t j = 0; j < v.items[i].nenvironments; j++)
          CHECK(v.items[i].environments[j] != NULL);
      }
      eg_gh_approvals_cleanup(&v);
    } else {
      CHECK(v.items == NULL && v.n == 0);
    }
    break;
  }
  case 6: {
    char *s = malloc(n + 1);
    eg_gh_job_ref_t ref;
    char origin[EG_GH_ORIGIN_LEN];
    char url[2 * EG_GH_ORIGIN_LEN];

    if (s == NULL)
      return;
    memcpy(s, p, n);
    s[n] = '\0';
    if (eg_gh_parse_job_url(s, "https://github.com", &ref) == EG_OK) {
      eg_gh_job_ref_t again;

      /* Accepted: valid names and ids, and the canonical URL built from
       * them parses to the same reference. */
      CHECK(is_name(ref.owner) && is_name(ref.repo));
      CHECK(ref.run_id >= 1 && ref.job_id >= 1);
      snprintf(url, sizeof(url),
               "https://github.com/%s/%s/actions/runs/%llu/job/%llu", ref.owner,
               ref.repo, (unsigned long long)ref.run_id,
               (unsigned long long)ref.job_id);
      CHECK(eg_gh_parse_job_url(url, "https://github.com", &again) == EG_OK);
      CHECK(memcmp(&ref, &again, sizeof(ref)) == 0);
    }
    if (eg_gh_web_origin(s, origin, sizeof(origin)) == EG_OK)
      CHECK(strncasecmp(origin, "http://", 7) == 0 ||
            strncasecmp(origin, "https://", 8) == 0);
    free(s);
    break;
  }
  case 7: {
    eg_gh_token_t v;
    rc = eg_gh_parse_token(p, n, &v, err, sizeof(err));
    if (rc == EG_OK) {
      size_t len = strlen(v.token);

      CHECK(len >= 1 && len <= EG_GH_INSTALLATION_TOKEN_MAX);
      for (size_t i = 0; i < len; i++)
        CHECK(v.token[i] > ' ' && v.token[i] < 0x7f);
      eg_gh_token_cleanup(&v);
    } else {
      CHECK(v.token == NULL);
    }
    break;
  }
  }
  /* Failures say why in one line; success codes are the documented ones. */
  CHECK(rc == EG_OK || rc == EG_EPARSE || rc == EG_EINVAL || rc == EG_ENOMEM);
  CHECK(rc == EG_OK || which % 8 == 6 || err[0] != '\0');
  CHECK(strchr(err, '\n') == NULL);
}

static void drive(const uint8_t *data, size_t size, bool job_repo) {
  static eg_policy_t *policy;
  eg_event_t ev;
  eg_decision_t *d;
  eg_decision_result_t res;
  eg_decision_call_t calls[32];
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

/* Unit tests for the policy file: ost-environment-gate's policies load
 * unchanged, every rule on every key, repository overrides, lookups,
 * reporting of every problem, files and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/error.h"
#include "eg/policy.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Allocation failure injection (as in test_metrics.c): glibc lets a program
 * replace malloc; sanitizer builds bring their own allocator and skip it. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OOM_INJECTION 0
#else
#define OOM_INJECTION 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static long oom_countdown = -1; /* fail when it reaches 0 */
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

/* ost-environment-gate's README policy at HEAD f53810a, verbatim. */
static const char ost_policy[] =
    "{\n"
    "  \"allowed_ref\": \"refs/heads/main\",\n"
    "  \"allowed_events\": [\"workflow_dispatch\"],\n"
    "  \"release_environment_name\": \"release\",\n"
    "  \"release_gate_environment_name\": \"release-gate\",\n"
    "  \"release_gate_job_name\": \"release-gate\",\n"
    "  \"release_workflow_path\": \".github/workflows/release.yml\"\n"
    "}\n";

struct lines {
  char *line[32];
  size_t n;
};

static void collect(const char *line, void *ud) {
  struct lines *l = ud;

  /* One line of printable text, whatever the file holds. */
  for (const char *c = line; *c != '\0'; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      fail_msg("control character 0x%02x in problem line: %s",
               (unsigned char)*c, line);
  if (l->n < 32)
    l->line[l->n] = strdup(line);
  l->n++;
}

static void lines_free(struct lines *l) {
  for (size_t i = 0; i < l->n && i < 32; i++)
    free(l->line[i]);
  l->n = 0;
}

static bool lines_have(const struct lines *l, const char *needle) {
  for (size_t i = 0; i < l->n && i < 32; i++)
    if (strstr(l->line[i], needle) != NULL)
      return true;
  return false;
}

static eg_policy_t *load_ok(const char *json) {
  eg_policy_t *p = (eg_policy_t *)1;
  char err[EG_ERRBUF_LEN] = "x";
  struct lines l = {0};
  int rc = eg_policy_load_string(json, strlen(json), "p.json", &p, collect, &l,
                                 err, sizeof(err));

  if (rc != EG_OK)
    fail_msg("load failed (%d): %s", rc, err);
  assert_int_equal(l.n, 0);
  assert_string_equal(err, "");
  assert_non_null(p);
  return p;
}

/* Loads json expecting EG_EINVAL; checks that errbuf holds the first
 * reported line and that some line contains want. Returns the count. */
static size_t load_bad(const char *json, const char *want) {
  eg_policy_t *p = (eg_policy_t *)1;
  char err[EG_ERRBUF_LEN] = "";
  struct lines l = {0};
  size_t n;
  int rc = eg_policy_load_string(json, strlen(json), "p.json", &p, collect, &l,
                                 err, sizeof(err));

  assert_int_equal(rc, EG_EINVAL);
  assert_null(p);
  assert_true(l.n > 0);
  assert_string_equal(err, l.line[0]);
  if (!lines_have(&l, want)) {
    for (size_t i = 0; i < l.n && i < 32; i++)
      print_message("  got: %s\n", l.line[i]);
    fail_msg("no problem line contains: %s", want);
  }
  for (size_t i = 0; i < l.n && i < 32; i++)
    assert_memory_equal(l.line[i], "p.json: ", 8);
  n = l.n;
  lines_free(&l);
  return n;
}

static void test_ost_policy_verbatim(void **state) {
  eg_policy_t *p;
  const eg_policy_rules_t *r;

  (void)state;
  p = load_ok(ost_policy);
  r = eg_policy_for_repo(p, "octo/app");
  assert_ptr_equal(r, eg_policy_for_repo(p, NULL));
  assert_null(r->repository);
  assert_string_equal(r->allowed_ref, "refs/heads/main");
  assert_int_equal(r->nallowed_events, 1);
  assert_string_equal(r->allowed_events[0], "workflow_dispatch");
  assert_string_equal(r->release_environment_name, "release");
  assert_string_equal(r->release_gate_environment_name, "release-gate");
  assert_string_equal(r->release_gate_job_name, "release-gate");
  assert_string_equal(r->release_workflow_path,
                      ".github/workflows/release.yml");
  assert_int_equal(r->gate_evidence, EG_GATE_EVIDENCE_DEPLOYMENT);
  assert_false(r->require_distinct_approver);
  assert_true(eg_policy_rules_allow_event(r, "workflow_dispatch"));
  assert_false(eg_policy_rules_allow_event(r, "push"));
  assert_false(eg_policy_rules_allow_event(r, "Workflow_dispatch"));
  assert_false(eg_policy_rules_allow_event(r, NULL));
  assert_false(eg_policy_rules_allow_event(NULL, "push"));
  assert_int_equal(eg_policy_repo_count(p), 0);
  eg_policy_free(p);
}

static void test_ost_optional_job_name(void **state) {
  /* ost's test_policy_without_gate_job_name, and null for Option<String>. */
  static const char *const docs[] = {
      "{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
      "[\"workflow_dispatch\"], \"release_environment_name\": \"release\", "
      "\"release_gate_environment_name\": \"release-gate\", "
      "\"release_workflow_path\": \".github/workflows/release.yml\"}",
      "{\"allowed_ref\": \"refs/tags/v1\", \"allowed_events\": "
      "[\"push\", \"workflow_dispatch\"], \"release_environment_name\": "
      "\"release\", \"release_gate_environment_name\": \"release-gate\", "
      "\"release_gate_job_name\": null, "
      "\"release_workflow_path\": \".github/workflows/release.yaml\"}"};

  (void)state;
  for (size_t i = 0; i < 2; i++) {
    eg_policy_t *p = load_ok(docs[i]);
    const eg_policy_rules_t *r = eg_policy_for_repo(p, "o/r");

    assert_null(r->release_gate_job_name);
    assert_string_equal(r->release_gate_environment_name, "release-gate");
    eg_policy_free(p);
  }
}

static void test_every_ost_event_accepted(void **state) {
  eg_policy_t *p;
  const eg_policy_rules_t *r;

  (void)state;
  p = load_ok(
      "{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
      "[\"workflow_dispatch\", \"workflow_call\", \"workflow_run\", \"push\", "
      "\"pull_request\", \"pull_request_target\", \"repository_dispatch\", "
      "\"release\", \"schedule\", \"merge_group\", \"create\", \"delete\"], "
      "\"release_environment_name\": \"release\", "
      "\"release_gate_environment_name\": \"release-gate\", "
      "\"release_workflow_path\": \".github/workflows/release.yml\"}");
  r = eg_policy_for_repo(p, NULL);
  assert_int_equal(r->nallowed_events, 12);
  assert_true(eg_policy_rules_allow_event(r, "merge_group"));
  assert_true(eg_policy_rules_allow_event(r, "delete"));
  eg_policy_free(p);
}

static void test_whitespace_trimmed(void **state) {
  eg_policy_t *p;
  const eg_policy_rules_t *r;

  (void)state;
  p = load_ok("{\"allowed_ref\": \"  refs/heads/main\\n\", "
              "\"allowed_events\": [\"\\tpush \"], "
              "\"release_environment_name\": \" release \", "
              "\"release_gate_environment_name\": \"\\r\\nrelease-gate\", "
              "\"release_gate_job_name\": \" gate job \", "
              "\"release_workflow_path\": \" .github/workflows/r.yml \", "
              "\"gate_evidence\": \" job \"}");
  r = eg_policy_for_repo(p, NULL);
  assert_string_equal(r->allowed_ref, "refs/heads/main");
  assert_string_equal(r->allowed_events[0], "push");
  assert_string_equal(r->release_environment_name, "release");
  assert_string_equal(r->release_gate_environment_name, "release-gate");
  /* Inner spaces stay: only the ends are trimmed. */
  assert_string_equal(r->release_gate_job_name, "gate job");
  assert_string_equal(r->release_workflow_path, ".github/workflows/r.yml");
  assert_int_equal(r->gate_evidence, EG_GATE_EVIDENCE_JOB);
  eg_policy_free(p);
}

/* Replaces "<KEY>": <value> in the ost policy. */
static char *with(const char *key, const char *value) {
  char *out = malloc(4096);
  const char *k = strstr(ost_policy, key);
  const char *colon, *end;

  assert_non_null(out);
  assert_non_null(k);
  colon = strchr(k, ':');
  end = strchr(colon, '\n');
  if (end[-1] == ',')
    end--;
  snprintf(out, 4096, "%.*s: %s%s", (int)(colon - ost_policy), ost_policy,
           value, end);
  return out;
}

static char *without(const char *key) {
  char *out = malloc(4096);
  const char *k = strstr(ost_policy, key);
  const char *line = k, *end;

  assert_non_null(out);
  while (line > ost_policy && line[-1] != '\n')
    line--;
  end = strchr(k, '\n') + 1;
  snprintf(out, 4096, "%.*s%s", (int)(line - ost_policy), ost_policy, end);
  /* Dropping the last key leaves a trailing comma. */
  if (strstr(out, ",\n}") != NULL) {
    char *c = strstr(out, ",\n}");
    memmove(c, c + 1, strlen(c + 1) + 1);
  }
  return out;
}

static void test_invalid_values(void **state) {
  static const struct {
    const char *key;
    const char *value;
    const char *want;
  } cases[] = {
      {"allowed_ref", "\"main\"",
       "allowed_ref=\"main\": must be a full ref, refs/heads/<branch> or "
       "refs/tags/<tag>"},
      {"allowed_ref", "\"refs/heads/\"", "allowed_ref=\"refs/heads/\": must"},
      {"allowed_ref", "\"refs/tags/\"", "allowed_ref=\"refs/tags/\": must"},
      {"allowed_ref", "\"refs/pull/1/merge\"", "must be a full ref"},
      {"allowed_ref", "\"\"", "allowed_ref: must not be empty"},
      {"allowed_ref", "\"   \"", "allowed_ref: must not be empty"},
      {"allowed_ref", "7", "allowed_ref: must be a string"},
      {"allowed_ref", "null", "allowed_ref: must be a string"},
      {"allowed_ref", "[\"refs/heads/main\"]", "allowed_ref: must be a string"},
      {"allowed_ref", "\"refs/heads/ma\\u0001in\"",
       "allowed_ref=\"refs/heads/ma\\x01in\": must not contain control "
       "characters"},
      {"allowed_events", "[]", "allowed_events: must not be empty"},
      {"allowed_events", "\"push\"",
       "allowed_events: must be an array of strings"},
      {"allowed_events", "null", "allowed_events: must be an array"},
      {"allowed_events", "[\"push\", \"pushh\"]",
       "allowed_events[1]=\"pushh\": not a workflow event"},
      {"allowed_events", "[\"Push\"]", "allowed_events[0]=\"Push\": not a"},
      {"allowed_events", "[\"\"]", "allowed_events[0]: must not be empty"},
      {"allowed_events", "[1]", "allowed_events[0]: must be a string"},
      {"allowed_events", "[\"deployment\"]", "not a workflow event"},
      {"release_environment_name", "\"\"",
       "release_environment_name: must not be empty"},
      {"release_environment_name", "false",
       "release_environment_name: must be a string"},
      {"release_environment_name", "\"a\\u0085b\"",
       "must not contain control characters"},
      {"release_gate_environment_name", "\" \"",
       "release_gate_environment_name: must not be empty"},
      {"release_gate_environment_name", "null",
       "release_gate_environment_name: must be a string"},
      {"release_gate_job_name", "\"\"",
       "release_gate_job_name: must not be empty"},
      {"release_gate_job_name", "{}",
       "release_gate_job_name: must be a string"},
      {"release_workflow_path", "\"release.yml\"",
       "release_workflow_path=\"release.yml\": must start with "
       ".github/workflows/ and end with .yml or .yaml"},
      {"release_workflow_path", "\".github/workflows/\"",
       "must start with .github/workflows/"},
      {"release_workflow_path", "\".github/workflows/release.json\"",
       "must start with .github/workflows/"},
      {"release_workflow_path", "\".github/workflows/release.YML\"",
       "must start with .github/workflows/"},
      {"release_workflow_path", "\"\"",
       "release_workflow_path: must not be empty"},
      {"release_workflow_path", "1.5", "release_workflow_path: must be a"},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *doc = with(cases[i].key, cases[i].value);
    size_t n = load_bad(doc, cases[i].want);

    /* One bad value is one problem: no "required" echo. */
    if (n != 1)
      fail_msg("case %zu: %zu problems", i, n);
    free(doc);
  }
}

static void test_extension_values(void **state) {
  char doc[4096];
  eg_policy_t *p;
  const eg_policy_rules_t *r;

  (void)state;
  snprintf(doc, sizeof(doc),
           "{\"gate_evidence\": \"deployment\", "
           "\"require_distinct_approver\": true, %s",
           strchr(ost_policy, '"'));
  p = load_ok(doc);
  r = eg_policy_for_repo(p, NULL);
  assert_int_equal(r->gate_evidence, EG_GATE_EVIDENCE_DEPLOYMENT);
  assert_true(r->require_distinct_approver);
  eg_policy_free(p);

  snprintf(doc, sizeof(doc), "{\"gate_evidence\": \"jobs\", %s",
           strchr(ost_policy, '"'));
  assert_int_equal(
      load_bad(doc,
               "gate_evidence=\"jobs\": must be \"deployment\" or \"job\""),
      1);
  snprintf(doc, sizeof(doc), "{\"gate_evidence\": 1, %s",
           strchr(ost_policy, '"'));
  assert_int_equal(load_bad(doc, "gate_evidence: must be a string"), 1);
  snprintf(doc, sizeof(doc), "{\"require_distinct_approver\": \"yes\", %s",
           strchr(ost_policy, '"'));
  assert_int_equal(
      load_bad(doc, "require_distinct_approver: must be true or false"), 1);
  snprintf(doc, sizeof(doc), "{\"require_distinct_approver\": 1, %s",
           strchr(ost_policy, '"'));
  assert_int_equal(
      load_bad(doc, "require_distinct_approver: must be true or false"), 1);
}

static void test_required_keys(void **state) {
  static const char *const keys[] = {"allowed_ref", "allowed_events",
                                     "release_environment_name",
                                     "release_workflow_path"};
  char want[128];

  (void)state;
  for (size_t i = 0; i < 4; i++) {
    char *doc = without(keys[i]);

    snprintf(want, sizeof(want), "p.json: %s: required", keys[i]);
    assert_int_equal(load_bad(doc, want), 1);
    free(doc);
  }
  /* Deployment mode (the default) needs the gate environment; the message
   * points a pre-84c5a79 ost policy at gate_evidence. */
  {
    char *doc = without("release_gate_environment_name");

    load_bad(doc, "release_gate_environment_name: required when "
                  "gate_evidence is \"deployment\"");
    load_bad(doc, "\"gate_evidence\": \"job\"");
    free(doc);
  }
  load_bad("{}", "allowed_ref: required");
  assert_int_equal(load_bad("{}", "release_workflow_path: required"), 5);
}

static void test_job_mode(void **state) {
  eg_policy_t *p;
  const eg_policy_rules_t *r;

  (void)state;
  /* ost's policy before 84c5a79 (job-based) plus gate_evidence "job": no
   * gate environment needed. */
  p = load_ok("{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
              "[\"workflow_dispatch\"], \"release_environment_name\": "
              "\"release\", \"release_gate_job_name\": \"release-gate\", "
              "\"release_workflow_path\": \".github/workflows/release.yml\", "
              "\"gate_evidence\": \"job\"}");
  r = eg_policy_for_repo(p, NULL);
  assert_int_equal(r->gate_evidence, EG_GATE_EVIDENCE_JOB);
  assert_null(r->release_gate_environment_name);
  assert_string_equal(r->release_gate_job_name, "release-gate");
  eg_policy_free(p);

  /* Job mode needs the job name. */
  assert_int_equal(
      load_bad("{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
               "[\"push\"], \"release_environment_name\": \"release\", "
               "\"release_gate_environment_name\": \"g\", "
               "\"release_workflow_path\": \".github/workflows/r.yml\", "
               "\"gate_evidence\": \"job\"}",
               "release_gate_job_name: required when gate_evidence is "
               "\"job\""),
      1);
  /* ... and the distinct approver check in job mode needs the gate
   * environment (the approvals name environments). */
  assert_int_equal(
      load_bad("{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
               "[\"push\"], \"release_environment_name\": \"release\", "
               "\"release_gate_job_name\": \"g\", "
               "\"release_workflow_path\": \".github/workflows/r.yml\", "
               "\"gate_evidence\": \"job\", "
               "\"require_distinct_approver\": true}",
               "release_gate_environment_name: required when "
               "require_distinct_approver is true"),
      1);
}

static void test_unknown_keys(void **state) {
  char doc[4096];

  (void)state;
  snprintf(doc, sizeof(doc), "{\"alowed_ref\": \"refs/heads/main\", %s",
           strchr(ost_policy, '"'));
  assert_int_equal(load_bad(doc,
                            "p.json: \"alowed_ref\": unknown key (did you mean "
                            "\"allowed_ref\"?)"),
                   1);
  snprintf(doc, sizeof(doc), "{\"comment\": \"hello\", %s",
           strchr(ost_policy, '"'));
  assert_int_equal(load_bad(doc, "p.json: \"comment\": unknown key"), 1);
  snprintf(doc, sizeof(doc), "{\"require_distinct_aprover\": true, %s",
           strchr(ost_policy, '"'));
  load_bad(doc, "did you mean \"require_distinct_approver\"?");
  snprintf(doc, sizeof(doc),
           "{\"repositories\": {\"o/r\": {\"allowed_evnts\": [\"push\"], "
           "\"repositories\": {}}}, %s",
           strchr(ost_policy, '"'));
  assert_int_equal(
      load_bad(doc, "repositories[\"o/r\"].\"allowed_evnts\": unknown key "
                    "(did you mean \"allowed_events\"?)"),
      2);
  load_bad(doc, "repositories[\"o/r\"].\"repositories\": not allowed inside "
                "a repository entry");
}

static void test_json_errors(void **state) {
  eg_policy_t *p = (eg_policy_t *)1;
  char err[EG_ERRBUF_LEN];

  (void)state;
  load_bad("{\"allowed_ref\": ", "p.json: line 1 column");
  load_bad("{\"allowed_ref\": \"refs/heads/a\", \"allowed_ref\": "
           "\"refs/heads/b\"}",
           "invalid JSON: duplicate object key");
  load_bad("[]", "p.json: must be a JSON object");
  load_bad("\"x\"", "must be a JSON object");
  load_bad("{} {}", "invalid JSON");
  load_bad("{\"allowed_ref\": \"a\\u0000b\"}", "invalid JSON");
  load_bad("", "invalid JSON");
  /* jansson quotes the bytes near a syntax error, which may be control
   * characters (found by tests/fuzz/fuzz_policy.c): the line stays one
   * line. */
  load_bad("{\"allowed_ref\": \"\\u00\n}\n", "invalid JSON: invalid escape");
  load_bad("{\"allowed_ref\": \"a\tb\x01\"}", "invalid JSON");
  /* Arguments. */
  assert_int_equal(
      eg_policy_load_string(NULL, 0, NULL, &p, NULL, NULL, err, sizeof(err)),
      EG_EINVAL);
  assert_null(p);
  assert_string_equal(err, "policy: invalid argument");
  assert_int_equal(
      eg_policy_load_string("{}", 2, NULL, NULL, NULL, NULL, NULL, 0),
      EG_EINVAL);
  /* No report callback and no errbuf: still refused. */
  assert_int_equal(
      eg_policy_load_string("{}", 2, NULL, &p, NULL, NULL, NULL, 0), EG_EINVAL);
  /* Name defaults to "policy". */
  assert_int_equal(
      eg_policy_load_string("[]", 2, NULL, &p, NULL, NULL, err, sizeof(err)),
      EG_EINVAL);
  assert_string_equal(err, "policy: must be a JSON object");
  /* Not NUL-terminated input: only len bytes are read. */
  {
    char buf[sizeof(ost_policy) + 8];

    memcpy(buf, ost_policy, strlen(ost_policy));
    memcpy(buf + strlen(ost_policy), "garbage", 7);
    assert_int_equal(eg_policy_load_string(buf, strlen(ost_policy), NULL, &p,
                                           NULL, NULL, err, sizeof(err)),
                     EG_OK);
  }
  eg_policy_free(p);
  assert_null(eg_policy_for_repo(NULL, "o/r"));
  assert_int_equal(eg_policy_repo_count(NULL), 0);
  eg_policy_free(NULL);
}

static void test_limits(void **state) {
  char env[1100];
  char *big;
  eg_policy_t *p = (eg_policy_t *)1;
  char err[EG_ERRBUF_LEN];

  (void)state;
  /* 255 characters (multi-byte ones count once) pass, 256 do not. */
  memset(env, 'e', 255);
  env[255] = '\0';
  {
    char *d = malloc(8192);
    snprintf(d, 8192,
             "{\"allowed_ref\": \"refs/heads/main\", "
             "\"allowed_events\": [\"push\"], "
             "\"release_gate_environment_name\": \"g\", "
             "\"release_workflow_path\": \".github/workflows/r.yml\", "
             "\"release_environment_name\": \"%s\"}",
             env);
    p = load_ok(d);
    eg_policy_free(p);
    /* 255 two-byte characters: 510 bytes, still 255 characters. */
    {
      char u[600];
      for (int i = 0; i < 255; i++)
        memcpy(u + 2 * i, "\xc3\xa9", 2);
      u[510] = '\0';
      snprintf(d, 8192,
               "{\"allowed_ref\": \"refs/heads/main\", "
               "\"allowed_events\": [\"push\"], "
               "\"release_gate_environment_name\": \"%s\", "
               "\"release_workflow_path\": \".github/workflows/r.yml\", "
               "\"release_environment_name\": \"r\"}",
               u);
      p = load_ok(d);
      eg_policy_free(p);
    }
    snprintf(d, 8192,
             "{\"allowed_ref\": \"refs/heads/main\", "
             "\"allowed_events\": [\"push\"], "
             "\"release_gate_environment_name\": \"g\", "
             "\"release_workflow_path\": \".github/workflows/r.yml\", "
             "\"release_environment_name\": \"%se\"}",
             env);
    assert_int_equal(load_bad(d, "release_environment_name=\"eeee"), 1);
    load_bad(d, "...\": must be at most 255 characters");
    free(d);
  }
  /* Any string over EG_POLICY_STRING_MAX bytes. */
  memset(env, 'j', 1025);
  env[1025] = '\0';
  {
    char *d = malloc(8192);
    snprintf(d, 8192, "\"%s\"", env);
    big = with("release_gate_job_name", d);
    assert_int_equal(load_bad(big, "release_gate_job_name: must be at most "
                                   "1024 bytes"),
                     1);
    free(big);
    free(d);
  }
  /* Over the size limit. */
  big = malloc(EG_POLICY_FILE_MAX + 2);
  assert_non_null(big);
  memset(big, ' ', EG_POLICY_FILE_MAX + 1);
  big[0] = '{';
  big[EG_POLICY_FILE_MAX] = '}';
  assert_int_equal(eg_policy_load_string(big, EG_POLICY_FILE_MAX + 1, "b", &p,
                                         NULL, NULL, err, sizeof(err)),
                   EG_ETOOBIG);
  assert_null(p);
  assert_string_equal(err, "b: larger than 1048576 bytes");
  free(big);
}

static const char repo_policy[] =
    "{\"allowed_ref\": \"refs/heads/main\",\n"
    " \"allowed_events\": [\"workflow_dispatch\"],\n"
    " \"release_environment_name\": \"release\",\n"
    " \"release_gate_environment_name\": \"release-gate\",\n"
    " \"release_gate_job_name\": \"release-gate\",\n"
    " \"release_workflow_path\": \".github/workflows/release.yml\",\n"
    " \"repositories\": {\n"
    "   \"Octo-Org/Tools\": {\"allowed_ref\": \"refs/tags/v1\",\n"
    "                        \"allowed_events\": [\"push\", \"release\"],\n"
    "                        \"release_gate_job_name\": null},\n"
    "   \"octo-org/app\": {\"gate_evidence\": \"job\",\n"
    "                     \"release_gate_job_name\": \"approve\",\n"
    "                     \"require_distinct_approver\": true,\n"
    "                     \"release_environment_name\": \"prod\",\n"
    "                     \"release_gate_environment_name\": \"prod-gate\",\n"
    "                     \"release_workflow_path\": "
    "\".github/workflows/deploy.yaml\"},\n"
    "   \"a/b\": {}\n"
    " }}\n";

static void test_repository_overrides(void **state) {
  eg_policy_t *p;
  const eg_policy_rules_t *top, *r;

  (void)state;
  p = load_ok(repo_policy);
  assert_int_equal(eg_policy_repo_count(p), 3);
  top = eg_policy_for_repo(p, "other/repo");
  assert_null(top->repository);
  assert_string_equal(top->allowed_ref, "refs/heads/main");

  /* Case-insensitive match, overrides applied, the rest inherited. */
  r = eg_policy_for_repo(p, "octo-org/tools");
  assert_ptr_not_equal(r, top);
  assert_ptr_equal(r, eg_policy_for_repo(p, "OCTO-ORG/TOOLS"));
  assert_string_equal(r->repository, "Octo-Org/Tools");
  assert_string_equal(r->allowed_ref, "refs/tags/v1");
  assert_int_equal(r->nallowed_events, 2);
  assert_true(eg_policy_rules_allow_event(r, "release"));
  assert_false(eg_policy_rules_allow_event(r, "workflow_dispatch"));
  assert_null(r->release_gate_job_name); /* cleared by null */
  assert_string_equal(r->release_environment_name, "release");
  assert_string_equal(r->release_gate_environment_name, "release-gate");
  assert_int_equal(r->gate_evidence, EG_GATE_EVIDENCE_DEPLOYMENT);

  r = eg_policy_for_repo(p, "Octo-Org/App");
  assert_string_equal(r->repository, "octo-org/app");
  assert_int_equal(r->gate_evidence, EG_GATE_EVIDENCE_JOB);
  assert_true(r->require_distinct_approver);
  assert_string_equal(r->release_gate_job_name, "approve");
  assert_string_equal(r->release_environment_name, "prod");
  assert_string_equal(r->release_gate_environment_name, "prod-gate");
  assert_string_equal(r->release_workflow_path,
                      ".github/workflows/deploy.yaml");
  assert_string_equal(r->allowed_ref, "refs/heads/main");

  /* An empty override is the top level's rules under its own name. */
  r = eg_policy_for_repo(p, "A/B");
  assert_string_equal(r->repository, "a/b");
  assert_string_equal(r->release_gate_job_name, "release-gate");
  /* Prefixes and near misses do not match. */
  assert_ptr_equal(eg_policy_for_repo(p, "octo-org/app2"), top);
  assert_ptr_equal(eg_policy_for_repo(p, "octo-org/ap"), top);
  assert_ptr_equal(eg_policy_for_repo(p, "octo-org"), top);
  assert_ptr_equal(eg_policy_for_repo(p, ""), top);
  assert_ptr_equal(eg_policy_for_repo(p, NULL), top);
  eg_policy_free(p);
}

static void test_repository_problems(void **state) {
  char doc[4096];
  const char *rest = strchr(ost_policy, '"');

  (void)state;
  snprintf(doc, sizeof(doc), "{\"repositories\": [], %s", rest);
  assert_int_equal(load_bad(doc, "repositories: must be an object"), 1);
  snprintf(doc, sizeof(doc), "{\"repositories\": {\"octo\": {}}, %s", rest);
  assert_int_equal(load_bad(doc, "repositories: key \"octo\": must be "
                                 "\"owner/repo\""),
                   1);
  snprintf(doc, sizeof(doc),
           "{\"repositories\": {\"o/r/x\": {}, \"o/..\": {}, \"/r\": {}, "
           "\"o r/x\": {}}, %s",
           rest);
  assert_int_equal(load_bad(doc, "key \"o/..\": must be"), 4);
  snprintf(doc, sizeof(doc),
           "{\"repositories\": {\"Octo/App\": {}, \"octo/app\": {}}, %s", rest);
  assert_int_equal(load_bad(doc, "repositories: keys \"Octo/App\" and "
                                 "\"octo/app\" name the same repository"),
                   1);
  snprintf(doc, sizeof(doc), "{\"repositories\": {\"o/r\": true}, %s", rest);
  assert_int_equal(load_bad(doc, "repositories[\"o/r\"]: must be an object of "
                                 "overrides"),
                   1);
  /* A bad override value names the repository. */
  snprintf(doc, sizeof(doc),
           "{\"repositories\": {\"o/r\": {\"allowed_ref\": \"main\"}}, %s",
           rest);
  assert_int_equal(load_bad(doc, "repositories[\"o/r\"].allowed_ref=\"main\": "
                                 "must be a full ref"),
                   1);
  /* The merge is validated per repository: job mode there needs a job
   * name, which a null override took away. */
  snprintf(doc, sizeof(doc),
           "{\"repositories\": {\"o/r\": {\"gate_evidence\": \"job\", "
           "\"release_gate_job_name\": null}}, %s",
           rest);
  assert_int_equal(load_bad(doc, "repositories[\"o/r\"].release_gate_job_name: "
                                 "required when gate_evidence is \"job\""),
                   1);
  /* A top level gap is reported once, not again for each repository that
   * inherits it; a repository that fills the gap is fine. */
  snprintf(doc, sizeof(doc),
           "{\"allowed_ref\": \"refs/heads/main\", \"allowed_events\": "
           "[\"push\"], \"release_environment_name\": \"r\", "
           "\"release_gate_environment_name\": \"g\", \"repositories\": "
           "{\"a/b\": {}, \"c/d\": {\"release_workflow_path\": "
           "\".github/workflows/x.yml\"}}}");
  assert_int_equal(load_bad(doc, "p.json: release_workflow_path: required"), 1);
}

static void test_every_problem_reported(void **state) {
  (void)state;
  /* Five independent problems, five lines; errbuf has the first. */
  assert_int_equal(
      load_bad("{\"allowed_ref\": \"main\", \"allowed_events\": [\"x\", "
               "\"y\"], \"release_environment_name\": \"\", "
               "\"release_workflow_path\": \"a.yml\", \"extra\": 1, "
               "\"release_gate_environment_name\": \"g\"}",
               "allowed_events[1]=\"y\""),
      6);
}

static void test_files(void **state) {
  char path[] = "/tmp/eg_policy_test_XXXXXX";
  char err[EG_ERRBUF_LEN];
  eg_policy_t *p = (eg_policy_t *)1;
  struct lines l = {0};
  int fd;
  FILE *f;

  (void)state;
  fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, ost_policy, strlen(ost_policy)),
                   (ssize_t)strlen(ost_policy));
  close(fd);
  assert_int_equal(eg_policy_load_file(path, &p, collect, &l, err, sizeof(err)),
                   EG_OK);
  assert_non_null(p);
  assert_string_equal(eg_policy_for_repo(p, NULL)->release_environment_name,
                      "release");
  eg_policy_free(p);

  /* Problems name the file. */
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"allowed_ref\": 1}", f);
  fclose(f);
  assert_int_equal(eg_policy_load_file(path, &p, collect, &l, err, sizeof(err)),
                   EG_EINVAL);
  assert_null(p);
  assert_memory_equal(err, path, strlen(path));
  assert_non_null(strstr(err, ": allowed_ref: must be a string"));
  lines_free(&l);

  /* Over the limit by one byte. */
  f = fopen(path, "w");
  assert_non_null(f);
  for (unsigned i = 0; i <= EG_POLICY_FILE_MAX; i++)
    fputc(' ', f);
  fclose(f);
  assert_int_equal(eg_policy_load_file(path, &p, NULL, NULL, err, sizeof(err)),
                   EG_ETOOBIG);
  assert_non_null(strstr(err, "larger than 1048576 bytes"));

  unlink(path);
  assert_int_equal(eg_policy_load_file(path, &p, collect, &l, err, sizeof(err)),
                   EG_EIO);
  assert_null(p);
  assert_int_equal(l.n, 1);
  assert_non_null(strstr(err, ": cannot open: No such file or directory"));
  lines_free(&l);
  /* A directory opens but cannot be read. */
  assert_int_equal(
      eg_policy_load_file("/tmp", &p, NULL, NULL, err, sizeof(err)), EG_EIO);
  assert_non_null(strstr(err, "/tmp: cannot read"));
  assert_int_equal(eg_policy_load_file(NULL, &p, NULL, NULL, err, sizeof(err)),
                   EG_EINVAL);
}

static void test_out_of_memory(void **state) {
  (void)state;
#if OOM_INJECTION
  int ok = 0;

  /* Fail each allocation in turn until a load needs no more of them: each
   * failed load returns EG_ENOMEM and leaks nothing (valgrind/LSan). */
  for (long n = 0; n < 100000; n++) {
    eg_policy_t *p = (eg_policy_t *)1;
    char err[EG_ERRBUF_LEN];
    int rc;

    oom_hit = false;
    oom_countdown = n;
    rc = eg_policy_load_string(repo_policy, strlen(repo_policy), NULL, &p, NULL,
                               NULL, err, sizeof(err));
    oom_countdown = -1;
    if (!oom_hit) {
      assert_int_equal(rc, EG_OK);
      eg_policy_free(p);
      ok = 1;
      break;
    }
    /* jansson survives some allocation failures on its own; the result
     * must then be complete. */
    if (rc == EG_OK) {
      assert_int_equal(eg_policy_repo_count(p), 3);
      assert_string_equal(
          eg_policy_for_repo(p, "octo-org/app")->release_gate_job_name,
          "approve");
      eg_policy_free(p);
      continue;
    }
    /* jansson reports some allocation failures while lexing as syntax
     * errors; nothing else may turn into a refusal. */
    if (rc != EG_ENOMEM &&
        !(rc == EG_EINVAL && strstr(err, "invalid JSON") != NULL))
      fail_msg("allocation %ld: rc %d: %s", n, rc, err);
    assert_null(p);
  }
  assert_true(ok);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ost_policy_verbatim),
      cmocka_unit_test(test_ost_optional_job_name),
      cmocka_unit_test(test_every_ost_event_accepted),
      cmocka_unit_test(test_whitespace_trimmed),
      cmocka_unit_test(test_invalid_values),
      cmocka_unit_test(test_extension_values),
      cmocka_unit_test(test_required_keys),
      cmocka_unit_test(test_job_mode),
      cmocka_unit_test(test_unknown_keys),
      cmocka_unit_test(test_json_errors),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_repository_overrides),
      cmocka_unit_test(test_repository_problems),
      cmocka_unit_test(test_every_problem_reported),
      cmocka_unit_test(test_files),
      cmocka_unit_test(test_out_of_memory),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}

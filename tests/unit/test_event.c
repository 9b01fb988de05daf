/* Unit tests for eg/event.h: payload parsing and validation (decision rule
 * 1), delivery ids and Kafka keys. */
#include "eg/event.h"
#include "eg/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define API     "https://api.github.com"
#define GHES    "https://ghe.example/api/v3"
#define RUN     "23625057533"
#define CB_PATH "/repos/octo-org/gate-demo/actions/runs/" RUN
#define CB      API CB_PATH "/deployment_protection_rule"
#define SHA     "47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54"

/* A compact real-shape body (after ost-environment-gate's fixture); the
 * cases below edit it with string replacements. */
static const char base[] =
    "{\"action\":\"requested\",\"environment\":\"release\","
    "\"event\":\"workflow_dispatch\","
    "\"deployment_callback_url\":\"" CB "\","
    "\"deployment\":{\"id\":4189575565,\"environment\":\"release\"},"
    "\"pull_requests\":[],"
    "\"sha\":\"" SHA "\",\"ref\":\"main\","
    "\"repository\":{\"id\":1192056896,\"name\":\"gate-demo\","
    "\"full_name\":\"octo-org/gate-demo\","
    "\"owner\":{\"login\":\"octo-org\",\"id\":5}},"
    "\"sender\":{\"login\":\"octocat\",\"id\":242828183},"
    "\"installation\":{\"id\":119022551},"
    "\"workflow_run\":{\"id\":" RUN "}}";

/* Replaces the single occurrence of `from` in s with `to`; fails the test
 * when `from` is missing or repeated. Returns a malloc()ed string. */
static char *subst(const char *s, const char *from, const char *to) {
  const char *at = strstr(s, from);
  size_t flen = strlen(from);
  size_t tlen = strlen(to);
  size_t slen = strlen(s);
  char *r;

  if (at == NULL || strstr(at + 1, from) != NULL)
    fail_msg("replacement target not found exactly once: %s", from);
  r = malloc(slen - flen + tlen + 1);
  assert_non_null(r);
  memcpy(r, s, (size_t)(at - s));
  memcpy(r + (at - s), to, tlen);
  memcpy(r + (at - s) + tlen, at + flen, slen - (size_t)(at - s) - flen + 1);
  return r;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;

  if (f == NULL)
    fail_msg("cannot open %s", path);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  assert_true(n > 0);
  rewind(f);
  buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* The error text must be one printable line that fits the buffer. */
static void assert_clean_errbuf(const char *err) {
  assert_true(strlen(err) < EG_ERRBUF_LEN);
  for (const char *p = err; *p != '\0'; p++) {
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
      fail_msg("errbuf has byte 0x%02x: %s", (unsigned char)*p, err);
  }
}

static int parse(const char *body,
                 const char *api,
                 unsigned flags,
                 eg_event_t *ev,
                 char *err) {
  err[0] = '\0';
  return eg_event_parse(body, strlen(body), api, flags, ev, err, EG_ERRBUF_LEN);
}

static void test_base_is_valid(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(parse(base, API, 0, &ev, err), EG_OK);
  assert_int_equal(ev.kind, EG_EVENT_GATE_REQUEST);
  assert_string_equal(ev.action, "requested");
  assert_string_equal(ev.environment, "release");
  assert_string_equal(ev.event, "workflow_dispatch");
  assert_string_equal(ev.ref, "main");
  assert_string_equal(ev.sha, SHA);
  assert_string_equal(ev.callback_url, CB);
  assert_string_equal(ev.owner, "octo-org");
  assert_string_equal(ev.repo, "gate-demo");
  assert_string_equal(ev.full_name, "octo-org/gate-demo");
  assert_string_equal(ev.sender_login, "octocat");
  assert_true(ev.repository_id == UINT64_C(1192056896));
  assert_true(ev.installation_id == UINT64_C(119022551));
  assert_true(ev.run_id == UINT64_C(23625057533));
  assert_true(ev.has_deployment_id);
  assert_true(ev.deployment_id == UINT64_C(4189575565));
  assert_true(ev.has_workflow_run_id);
  assert_true(ev.workflow_run_id == ev.run_id);
}

static void test_ost_fixture(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  size_t len;
  char *body = read_file(EG_FIXTURES_DIR "/webhook-deployment_protection_rule"
                                         ".requested.ost-environment-gate.json",
                         &len);

  (void)state;
  assert_int_equal(eg_event_parse(body, len, API, 0, &ev, err, sizeof(err)),
                   EG_OK);
  assert_int_equal(ev.kind, EG_EVENT_GATE_REQUEST);
  assert_string_equal(ev.environment, "release");
  assert_string_equal(ev.owner, "zaniebot");
  assert_string_equal(ev.repo, "release-authenticator-example");
  assert_string_equal(ev.full_name, "zaniebot/release-authenticator-example");
  assert_true(ev.run_id == UINT64_C(23625057533));
  assert_true(ev.repository_id == UINT64_C(1192056896));
  assert_true(ev.installation_id == UINT64_C(119022551));
  assert_true(ev.deployment_id == UINT64_C(4189575565));
  assert_string_equal(ev.sha, "47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54");
  assert_string_equal(ev.ref, "main");
  assert_string_equal(ev.sender_login, "zaniebot");
  /* The same body is not a request to a GHES API. */
  assert_int_equal(eg_event_parse(body, len, GHES, 0, &ev, err, sizeof(err)),
                   EG_EINVAL);
  assert_non_null(strstr(err, "deployment_callback_url: does not match " GHES
                              "/repos/zaniebot/"));
  free(body);
}

static void test_realistic_payload(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  size_t len;
  char *body = read_file(EG_TEST_DATA_DIR
                         "/deployment_protection_rule.requested.realistic.json",
                         &len);

  (void)state;
  assert_int_equal(eg_event_parse(body, len, API, 0, &ev, err, sizeof(err)),
                   EG_OK);
  assert_string_equal(ev.full_name, "zaniebot/release-authenticator-example");
  assert_true(ev.run_id == UINT64_C(23625057533));
  assert_true(ev.deployment_id == UINT64_C(4189575565));
  assert_string_equal(ev.sender_login, "zaniebot");
  free(body);
}

/* The synthetic octokit-webhooks.net payload fails on each missing piece in
 * turn: no sha, no installation, and a callback URL on another host. */
static void test_octokit_fixture(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  size_t len;
  char *body =
      read_file(EG_FIXTURES_DIR "/webhook-deployment_protection_rule.requested"
                                ".octokit-webhooks-net.payload.json",
                &len);
  char *with_sha;
  char *with_inst;

  (void)state;
  assert_int_equal(eg_event_parse(body, len, API, 0, &ev, err, sizeof(err)),
                   EG_EINVAL);
  assert_string_equal(err, "sha: missing");
  assert_int_equal(ev.kind, EG_EVENT_NONE);
  assert_string_equal(ev.environment, "");

  with_sha = subst(body, "\"action\": \"requested\",",
                   "\"action\": \"requested\", \"sha\": \"" SHA "\",");
  assert_int_equal(parse(with_sha, API, 0, &ev, err), EG_EINVAL);
  assert_string_equal(err, "installation.id: missing");

  with_inst = subst(with_sha, "\"action\": \"requested\",",
                    "\"action\": \"requested\", \"installation\": "
                    "{\"id\": 1},");
  assert_int_equal(parse(with_inst, API, 0, &ev, err), EG_EINVAL);
  assert_string_equal(err, "deployment_callback_url: does not match "
                           "https://api.github.com/repos/Codertocat/"
                           "Hello-World/actions/runs/<run_id>/"
                           "deployment_protection_rule");
  free(with_inst);
  free(with_sha);
  free(body);
}

static void test_ghes_base(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  char *body = subst(base, CB, GHES CB_PATH "/deployment_protection_rule");
  char *loop = subst(
      base, CB, "http://127.0.0.1:8081" CB_PATH "/deployment_protection_rule");

  (void)state;
  assert_int_equal(parse(body, GHES, 0, &ev, err), EG_OK);
  assert_true(ev.run_id == UINT64_C(23625057533));
  assert_string_equal(ev.callback_url,
                      GHES CB_PATH "/deployment_protection_rule");
  /* The GHES callback is refused against api.github.com and vice versa. */
  assert_int_equal(parse(body, API, 0, &ev, err), EG_EINVAL);
  assert_int_equal(parse(base, GHES, 0, &ev, err), EG_EINVAL);
  /* A loopback simulator over plain http is a valid base. */
  assert_int_equal(parse(loop, "http://127.0.0.1:8081", 0, &ev, err), EG_OK);
  free(loop);
  free(body);
}

struct api_case {
  const char *api;
  const char *err; /* expected substring */
};

static void test_bad_api_base(void **state) {
  static const struct api_case cases[] = {
      {"", "api_base: must be 1..512 bytes"},
      {API "/", "api_base: must be visible ASCII without a trailing slash"},
      {"https://api.github.com /x", "api_base: must be visible ASCII"},
      {"ftp://api.github.com", "api_base: must start with https://"},
      {"http://api.github.com", "api_base: plain http is only allowed"},
      {"https://api.github.com?x=1", "api_base: must not contain"},
      {"https://u@api.github.com", "api_base: must not contain"},
  };
  char longer[EG_EVENT_API_BASE_MAX + 16];
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if (parse(base, cases[i].api, 0, &ev, err) != EG_EINVAL ||
        strstr(err, cases[i].err) == NULL)
      fail_msg("api %s: got \"%s\"", cases[i].api, err);
    assert_clean_errbuf(err);
  }
  memset(longer, 'a', sizeof(longer));
  memcpy(longer, "https://", 8);
  longer[sizeof(longer) - 1] = '\0';
  assert_int_equal(parse(base, longer, 0, &ev, err), EG_EINVAL);
  assert_string_equal(err, "api_base: must be 1..512 bytes");
}

/* One edit of the base body and its expected outcome. A second edit is
 * applied when from2 is set. */
struct edit_case {
  const char *name;
  const char *from;
  const char *to;
  const char *from2;
  const char *to2;
  int rc;
  const char *err; /* expected errbuf prefix, or NULL when rc is EG_OK */
};

#define CBQ    "\"" CB "\""
#define URL(u) "\"" u "\""
#define MISMATCH                                                               \
  "deployment_callback_url: does not match " API                               \
  "/repos/octo-org/gate-demo/actions/runs/<run_id>/deployment_protection_rule"
#define RUNID_ERR                                                              \
  "deployment_callback_url: run id must be 1..18446744073709551615"
#define WR "\"workflow_run\":{\"id\":" RUN "}"

static const struct edit_case url_cases[] = {
    {"other host", CBQ,
     URL("https://evil.example" CB_PATH "/deployment_protection_rule"), NULL,
     NULL, EG_EINVAL, MISMATCH},
    {"host suffix", CBQ,
     URL("https://api.github.com.evil.example" CB_PATH
         "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"user info", CBQ,
     URL("https://api.github.com@evil.example" CB_PATH
         "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"plain http", CBQ,
     URL("http://api.github.com" CB_PATH "/deployment_protection_rule"), NULL,
     NULL, EG_EINVAL, MISMATCH},
    {"host case", CBQ,
     URL("https://API.github.com" CB_PATH "/deployment_protection_rule"), NULL,
     NULL, EG_EINVAL, MISMATCH},
    {"port", CBQ,
     URL("https://api.github.com:443" CB_PATH "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"another repo", CBQ,
     URL(API "/repos/octo-org/other/actions/runs/" RUN
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"another owner", CBQ,
     URL(API "/repos/evil/gate-demo/actions/runs/" RUN
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"owner case", CBQ,
     URL(API "/repos/Octo-Org/gate-demo/actions/runs/" RUN
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"traversal to another repo", CBQ,
     URL(API "/repos/octo-org/gate-demo/../other/actions/runs/" RUN
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"traversal in run id", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/../runs/" RUN
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"encoded dots", CBQ,
     URL(API "/repos/octo-org/%2e%2e/actions/runs/" RUN
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"encoded run id", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/%32%33"
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"encoded slash", CBQ,
     URL(API "/repos/octo-org%2Fgate-demo/actions/runs/" RUN
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"extra segment before", CBQ,
     URL(API CB_PATH "/x/deployment_protection_rule"), NULL, NULL, EG_EINVAL,
     MISMATCH},
    {"extra segment after", CBQ, URL(CB "/x"), NULL, NULL, EG_EINVAL, MISMATCH},
    {"double slash", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs//" RUN
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"query string", CBQ, URL(CB "?x=1"), NULL, NULL, EG_EINVAL, MISMATCH},
    {"fragment", CBQ, URL(CB "#x"), NULL, NULL, EG_EINVAL, MISMATCH},
    {"trailing slash", CBQ, URL(CB "/"), NULL, NULL, EG_EINVAL, MISMATCH},
    {"trailing space", CBQ, URL(CB " "), NULL, NULL, EG_EINVAL, MISMATCH},
    {"backslash", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/" RUN
             "\\\\deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"empty run id", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/"
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"non-digit run id", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/12a"
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"signed run id", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/+1"
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"negative run id", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/-1"
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, MISMATCH},
    {"zero run id", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/0"
             "/deployment_protection_rule"),
     WR, "\"workflow_run\":null", EG_EINVAL, RUNID_ERR},
    {"leading zero run id", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/0" RUN
             "/deployment_protection_rule"),
     NULL, NULL, EG_EINVAL, RUNID_ERR},
    {"run id overflow", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/18446744073709551616"
             "/deployment_protection_rule"),
     WR, "\"workflow_run\":null", EG_EINVAL, RUNID_ERR},
    {"run id far overflow", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/"
             "99999999999999999999999999999999999999"
             "/deployment_protection_rule"),
     WR, "\"workflow_run\":null", EG_EINVAL, RUNID_ERR},
    {"run id max", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/18446744073709551615"
             "/deployment_protection_rule"),
     WR, "\"workflow_run\":{\"id\":18446744073709551615}", EG_OK, NULL},
    {"run id 1", CBQ,
     URL(API "/repos/octo-org/gate-demo/actions/runs/1"
             "/deployment_protection_rule"),
     WR, "\"workflow_run\":{}", EG_OK, NULL},
    {"wrong tail", CBQ, URL(API CB_PATH "/deployment_protection_rules"), NULL,
     NULL, EG_EINVAL, MISMATCH},
    {"jobs endpoint", CBQ, URL(API CB_PATH "/jobs"), NULL, NULL, EG_EINVAL,
     MISMATCH},
    {"NUL escape", CBQ, URL(CB "\\u0000"), NULL, NULL, EG_EINVAL,
     "deployment_callback_url: contains a NUL character"},
    {"control escape", CBQ, URL(CB "\\u0001"), NULL, NULL, EG_EINVAL, MISMATCH},
    {"empty", CBQ, "\"\"", NULL, NULL, EG_EINVAL, MISMATCH},
    {"null", CBQ, "null", NULL, NULL, EG_EINVAL,
     "deployment_callback_url: expected a string, got null"},
    {"number", CBQ, "1", NULL, NULL, EG_EINVAL,
     "deployment_callback_url: expected a string, got a number"},
    {"object", CBQ, "{\"url\":" CBQ "}", NULL, NULL, EG_EINVAL,
     "deployment_callback_url: expected a string, got an object"},
    {"missing", "\"deployment_callback_url\"", "\"callback_url\"", NULL, NULL,
     EG_EINVAL, "deployment_callback_url: missing"},
    {"escaped slashes are the same URL", CBQ,
     URL("https:\\/\\/api.github.com\\/repos\\/octo-org\\/gate-demo\\/actions"
         "\\/runs\\/" RUN "\\/deployment_protection_rule"),
     NULL, NULL, EG_OK, NULL},
};

static const struct edit_case field_cases[] = {
    /* action */
    {"other action", "\"requested\"", "\"created\"", NULL, NULL, EG_EINVAL,
     "action: is \"created\", not \"requested\""},
    {"action case", "\"requested\"", "\"Requested\"", NULL, NULL, EG_EINVAL,
     "action: is \"Requested\""},
    {"action missing", "\"action\"", "\"verb\"", NULL, NULL, EG_EINVAL,
     "action: missing"},
    {"action null", "\"requested\"", "null", NULL, NULL, EG_EINVAL,
     "action: expected a string, got null"},
    {"action number", "\"requested\"", "1", NULL, NULL, EG_EINVAL,
     "action: expected a string, got a number"},
    {"action array", "\"requested\"", "[\"requested\"]", NULL, NULL, EG_EINVAL,
     "action: expected a string, got an array"},
    {"action bool", "\"requested\"", "true", NULL, NULL, EG_EINVAL,
     "action: expected a string, got a boolean"},
    {"action with space", "\"requested\"", "\"re quested\"", NULL, NULL,
     EG_EINVAL, "action: must be visible ASCII"},
    {"action too long", "\"requested\"",
     "\"requestedrequestedrequestedrequested\"", NULL, NULL, EG_EINVAL,
     "action: longer than 31 bytes"},
    {"duplicate action", "{\"action\":\"requested\"",
     "{\"action\":\"requested\",\"action\":\"requested\"", NULL, NULL,
     EG_EINVAL, "action: duplicate key"},
    {"duplicate action, other first", "{\"action\":\"requested\"",
     "{\"action\":\"created\",\"action\":\"requested\"", NULL, NULL, EG_EINVAL,
     "action: duplicate key"},
    {"escaped action key", "{\"action\"", "{\"\\u0061ction\"", NULL, NULL,
     EG_OK, NULL},
    {"action key with NUL", "{\"action\"", "{\"action\\u0000\"", NULL, NULL,
     EG_EINVAL, "action: missing"},
    /* environment */
    {"environment missing", "\"environment\":\"release\",\"event\"",
     "\"event\"", NULL, NULL, EG_EINVAL, "environment: missing"},
    {"environment empty", "\"environment\":\"release\",\"event\"",
     "\"environment\":\"\",\"event\"", NULL, NULL, EG_EINVAL,
     "environment: empty"},
    {"environment number", "\"environment\":\"release\",\"event\"",
     "\"environment\":7,\"event\"", NULL, NULL, EG_EINVAL,
     "environment: expected a string, got a number"},
    {"environment null", "\"environment\":\"release\",\"event\"",
     "\"environment\":null,\"event\"", NULL, NULL, EG_EINVAL,
     "environment: expected a string, got null"},
    {"environment BEL", "\"environment\":\"release\",\"event\"",
     "\"environment\":\"rel\\u0007ease\",\"event\"", NULL, NULL, EG_EINVAL,
     "environment: must be UTF-8 without control characters"},
    {"environment newline", "\"environment\":\"release\",\"event\"",
     "\"environment\":\"release\\n\",\"event\"", NULL, NULL, EG_EINVAL,
     "environment: must be UTF-8 without control characters"},
    {"environment DEL", "\"environment\":\"release\",\"event\"",
     "\"environment\":\"release\\u007f\",\"event\"", NULL, NULL, EG_EINVAL,
     "environment: must be UTF-8 without control characters"},
    {"environment C1", "\"environment\":\"release\",\"event\"",
     "\"environment\":\"release\\u0085\",\"event\"", NULL, NULL, EG_EINVAL,
     "environment: must be UTF-8 without control characters"},
    {"environment NUL", "\"environment\":\"release\",\"event\"",
     "\"environment\":\"rel\\u0000ease\",\"event\"", NULL, NULL, EG_EINVAL,
     "environment: contains a NUL character"},
    {"environment non-ASCII", "\"environment\":\"release\",\"event\"",
     "\"environment\":\"Produktion-\xc3\x9c\xe2\x82\xac\",\"event\"", NULL,
     NULL, EG_OK, NULL},
    {"environment escaped pair", "\"environment\":\"release\",\"event\"",
     "\"environment\":\"r\\ud83d\\ude80\",\"event\"", NULL, NULL, EG_OK, NULL},
    {"duplicate environment", "\"environment\":\"release\",\"event\"",
     "\"environment\":\"release\",\"environment\":\"staging\",\"event\"", NULL,
     NULL, EG_EINVAL, "environment: duplicate key"},
    /* sha */
    {"sha missing", "\"sha\"", "\"shaa\"", NULL, NULL, EG_EINVAL,
     "sha: missing"},
    {"sha short", SHA, "47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d5", NULL, NULL,
     EG_EINVAL, "sha: must be 40 or 64 lowercase hex digits"},
    {"sha long", SHA, SHA "0", NULL, NULL, EG_EINVAL,
     "sha: must be 40 or 64 lowercase hex digits"},
    {"sha upper", SHA, "47EFB7196C2A1A2FD3F52F2C59F0E2DD3D0E4D54", NULL, NULL,
     EG_EINVAL, "sha: must be 40 or 64 lowercase hex digits"},
    {"sha non-hex", SHA, "g7efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54", NULL, NULL,
     EG_EINVAL, "sha: must be 40 or 64 lowercase hex digits"},
    {"sha256", SHA, SHA "47efb7196c2a1a2fd3f52f2c", NULL, NULL, EG_OK, NULL},
    {"sha number", "\"" SHA "\"", "12", NULL, NULL, EG_EINVAL,
     "sha: expected a string, got a number"},
    /* ref and event */
    {"ref absent", "\"ref\":\"main\",", "", NULL, NULL, EG_OK, NULL},
    {"ref null", "\"ref\":\"main\"", "\"ref\":null", NULL, NULL, EG_OK, NULL},
    {"ref empty", "\"ref\":\"main\"", "\"ref\":\"\"", NULL, NULL, EG_OK, NULL},
    {"ref full", "\"ref\":\"main\"", "\"ref\":\"refs/heads/main\"", NULL, NULL,
     EG_OK, NULL},
    {"ref number", "\"ref\":\"main\"", "\"ref\":1", NULL, NULL, EG_EINVAL,
     "ref: expected a string, got a number"},
    {"ref control", "\"ref\":\"main\"", "\"ref\":\"ma\\tin\"", NULL, NULL,
     EG_EINVAL, "ref: must be UTF-8 without control characters"},
    {"event null", "\"workflow_dispatch\"", "null", NULL, NULL, EG_OK, NULL},
    {"event with space", "\"workflow_dispatch\"", "\"workflow dispatch\"", NULL,
     NULL, EG_EINVAL, "event: must be visible ASCII"},
    {"event array", "\"workflow_dispatch\"", "[]", NULL, NULL, EG_EINVAL,
     "event: expected a string, got an array"},
    /* installation */
    {"installation missing", "\"installation\":{\"id\":119022551},", "", NULL,
     NULL, EG_EINVAL, "installation.id: missing"},
    {"installation empty", "{\"id\":119022551}", "{}", NULL, NULL, EG_EINVAL,
     "installation.id: missing"},
    {"installation null", "{\"id\":119022551}", "null", NULL, NULL, EG_EINVAL,
     "installation: expected an object, got null"},
    {"installation array", "{\"id\":119022551}", "[{\"id\":119022551}]", NULL,
     NULL, EG_EINVAL, "installation: expected an object, got an array"},
    {"installation id zero", "119022551", "0", NULL, NULL, EG_EINVAL,
     "installation.id: must not be 0"},
    {"installation id float", "119022551", "119022551.0", NULL, NULL, EG_EINVAL,
     "installation.id: expected an unsigned integer without sign, fraction"},
    {"installation id exponent", "119022551", "1e5", NULL, NULL, EG_EINVAL,
     "installation.id: expected an unsigned integer without sign, fraction"},
    {"installation id negative", "119022551", "-119022551", NULL, NULL,
     EG_EINVAL,
     "installation.id: expected an unsigned integer without sign, fraction"},
    /* simdjson reads -0 as the integer 0, which no id may be. */
    {"installation id minus zero", "119022551", "-0", NULL, NULL, EG_EINVAL,
     "installation.id: must not be 0"},
    {"installation id overflow", "119022551", "18446744073709551616", NULL,
     NULL, EG_EPARSE, "json: malformed number, or one out of range"},
    {"installation id max", "119022551", "18446744073709551615", NULL, NULL,
     EG_OK, NULL},
    {"installation id string", "119022551", "\"119022551\"", NULL, NULL,
     EG_EINVAL, "installation.id: expected an unsigned integer, got a string"},
    {"installation id null", "119022551", "null", NULL, NULL, EG_EINVAL,
     "installation.id: expected an unsigned integer, got null"},
    {"duplicate installation id", "{\"id\":119022551}",
     "{\"id\":119022551,\"id\":7}", NULL, NULL, EG_EINVAL,
     "installation.id: duplicate key"},
    {"duplicate installation", "\"installation\":{\"id\":119022551}",
     "\"installation\":{\"id\":119022551},\"installation\":{\"id\":7}", NULL,
     NULL, EG_EINVAL, "installation: duplicate key"},
    /* repository */
    {"repository missing",
     "\"repository\":{\"id\":1192056896,\"name\":\"gate-demo\","
     "\"full_name\":\"octo-org/gate-demo\","
     "\"owner\":{\"login\":\"octo-org\",\"id\":5}},",
     "", NULL, NULL, EG_EINVAL, "repository.id: missing"},
    {"repository string", "\"repository\":{\"id\":1192056896,",
     "\"repository\":\"octo-org/gate-demo\",\"x\":{\"id\":1192056896,", NULL,
     NULL, EG_EINVAL, "repository: expected an object, got a string"},
    {"repository id zero", "1192056896", "0", NULL, NULL, EG_EINVAL,
     "repository.id: must not be 0"},
    {"repository id float", "1192056896", "1192056896.5", NULL, NULL, EG_EINVAL,
     "repository.id: expected an unsigned integer without sign"},
    {"repository id negative", "1192056896", "-1", NULL, NULL, EG_EINVAL,
     "repository.id: expected an unsigned integer without sign"},
    {"repository id exponent", "1192056896", "1192056896E0", NULL, NULL,
     EG_EINVAL, "repository.id: expected an unsigned integer without sign"},
    {"repository id overflow", "1192056896", "99999999999999999999", NULL, NULL,
     EG_EPARSE, "json: malformed number, or one out of range"},
    {"repository id bool", "1192056896", "true", NULL, NULL, EG_EINVAL,
     "repository.id: expected an unsigned integer, got a boolean"},
    {"repository id duplicate", "{\"id\":1192056896,",
     "{\"id\":1192056896,\"id\":1,", NULL, NULL, EG_EINVAL,
     "repository.id: duplicate key"},
    {"duplicate repository",
     "\"sender\":", "\"repository\":{\"id\":1},\"sender\":", NULL, NULL,
     EG_EINVAL, "repository: duplicate key"},
    {"owner login dotdot", "\"login\":\"octo-org\"", "\"login\":\"..\"", NULL,
     NULL, EG_EINVAL, "repository.owner.login: must be 1..100 of"},
    {"owner login dot", "\"login\":\"octo-org\"", "\"login\":\".\"", NULL, NULL,
     EG_EINVAL, "repository.owner.login: must be 1..100 of"},
    {"owner login slash", "\"login\":\"octo-org\"", "\"login\":\"octo/org\"",
     NULL, NULL, EG_EINVAL, "repository.owner.login: must be 1..100 of"},
    {"owner login empty", "\"login\":\"octo-org\"", "\"login\":\"\"", NULL,
     NULL, EG_EINVAL, "repository.owner.login: must be 1..100 of"},
    {"owner login percent", "\"login\":\"octo-org\"",
     "\"login\":\"octo%2forg\"", NULL, NULL, EG_EINVAL,
     "repository.owner.login: must be 1..100 of"},
    {"owner login non-ASCII", "\"login\":\"octo-org\"",
     "\"login\":\"octo-\xc3\xb6rg\"", NULL, NULL, EG_EINVAL,
     "repository.owner.login: must be 1..100 of"},
    {"owner login number", "\"login\":\"octo-org\"", "\"login\":5", NULL, NULL,
     EG_EINVAL, "repository.owner.login: expected a string, got a number"},
    {"owner array", "\"owner\":{\"login\":\"octo-org\",\"id\":5}",
     "\"owner\":[]", NULL, NULL, EG_EINVAL,
     "repository.owner: expected an object, got an array"},
    {"name dotdot", "\"name\":\"gate-demo\"", "\"name\":\"..\"", NULL, NULL,
     EG_EINVAL, "repository.name: must be 1..100 of"},
    {"name too long", "\"name\":\"gate-demo\"",
     "\"name\":"
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
     NULL, NULL, EG_EINVAL, "repository.name: longer than 100 bytes"},
    {"full_name differs in name", "\"full_name\":\"octo-org/gate-demo\"",
     "\"full_name\":\"octo-org/other\"", NULL, NULL, EG_EINVAL,
     "repository.full_name: name differs from repository.name"},
    {"full_name differs in owner", "\"full_name\":\"octo-org/gate-demo\"",
     "\"full_name\":\"evil/gate-demo\"", NULL, NULL, EG_EINVAL,
     "repository.full_name: owner differs from repository.owner.login"},
    {"full_name differs in case", "\"full_name\":\"octo-org/gate-demo\"",
     "\"full_name\":\"Octo-Org/gate-demo\"", NULL, NULL, EG_EINVAL,
     "repository.full_name: owner differs"},
    {"full_name three parts", "\"full_name\":\"octo-org/gate-demo\"",
     "\"full_name\":\"octo-org/gate-demo/x\"", NULL, NULL, EG_EINVAL,
     "repository.full_name: must be <owner>/<name>, each"},
    {"full_name no slash", "\"full_name\":\"octo-org/gate-demo\"",
     "\"full_name\":\"octo-org\"", NULL, NULL, EG_EINVAL,
     "repository.full_name: must be <owner>/<name>"},
    {"full_name dotdot repo", "\"full_name\":\"octo-org/gate-demo\"",
     "\"full_name\":\"octo-org/..\"", NULL, NULL, EG_EINVAL,
     "repository.full_name: must be <owner>/<name>, each"},
    {"only full_name", "\"name\":\"gate-demo\",", "",
     ",\"owner\":{\"login\":\"octo-org\",\"id\":5}", "", EG_OK, NULL},
    {"full_name and name", ",\"owner\":{\"login\":\"octo-org\",\"id\":5}", "",
     NULL, NULL, EG_OK, NULL},
    {"only owner and name", "\"full_name\":\"octo-org/gate-demo\",", "", NULL,
     NULL, EG_OK, NULL},
    {"owner without name or full_name", "\"name\":\"gate-demo\",", "",
     "\"full_name\":\"octo-org/gate-demo\",", "", EG_EINVAL,
     "repository: needs owner.login and name, or full_name"},
    {"full_name null", "\"full_name\":\"octo-org/gate-demo\"",
     "\"full_name\":null", NULL, NULL, EG_EINVAL,
     "repository.full_name: expected a string, got null"},
    /* workflow_run, deployment, sender */
    {"workflow_run id mismatch", WR, "\"workflow_run\":{\"id\":23625057534}",
     NULL, NULL, EG_EINVAL,
     "workflow_run.id: 23625057534 differs from the run id 23625057533"},
    {"workflow_run id zero", WR, "\"workflow_run\":{\"id\":0}", NULL, NULL,
     EG_EINVAL, "workflow_run.id: 0 differs"},
    {"deployment id zero", "{\"id\":4189575565,", "{\"id\":0,", NULL, NULL,
     EG_EINVAL, "deployment.id: must not be 0"},
    {"deployment id minus zero", "{\"id\":4189575565,", "{\"id\":-0,", NULL,
     NULL, EG_EINVAL, "deployment.id: must not be 0"},
    {"workflow_run id string", WR, "\"workflow_run\":{\"id\":\"" RUN "\"}",
     NULL, NULL, EG_EINVAL,
     "workflow_run.id: expected an unsigned integer, got a string"},
    {"workflow_run id float", WR, "\"workflow_run\":{\"id\":" RUN ".0}", NULL,
     NULL, EG_EINVAL, "workflow_run.id: expected an unsigned integer without"},
    {"workflow_run absent", "," WR, "", NULL, NULL, EG_OK, NULL},
    {"workflow_run null", WR, "\"workflow_run\":null", NULL, NULL, EG_OK, NULL},
    {"workflow_run id null", WR, "\"workflow_run\":{\"id\":null}", NULL, NULL,
     EG_OK, NULL},
    {"workflow_run string", WR, "\"workflow_run\":\"x\"", NULL, NULL, EG_EINVAL,
     "workflow_run: expected an object, got a string"},
    {"deployment null", "{\"id\":4189575565,\"environment\":\"release\"}",
     "null", NULL, NULL, EG_OK, NULL},
    {"deployment id float", "4189575565", "4189575565.0", NULL, NULL, EG_EINVAL,
     "deployment.id: expected an unsigned integer without"},
    {"deployment id negative", "4189575565", "-4189575565", NULL, NULL,
     EG_EINVAL, "deployment.id: expected an unsigned integer without"},
    {"deployment number", "{\"id\":4189575565,\"environment\":\"release\"}",
     "4189575565", NULL, NULL, EG_EINVAL,
     "deployment: expected an object, got a number"},
    {"sender null", "{\"login\":\"octocat\",\"id\":242828183}", "null", NULL,
     NULL, EG_OK, NULL},
    {"sender absent", "\"sender\":{\"login\":\"octocat\",\"id\":242828183},",
     "", NULL, NULL, EG_OK, NULL},
    {"sender bot", "\"login\":\"octocat\"", "\"login\":\"dependabot[bot]\"",
     NULL, NULL, EG_OK, NULL},
    {"sender login number", "\"login\":\"octocat\"", "\"login\":1", NULL, NULL,
     EG_EINVAL, "sender.login: expected a string, got a number"},
    {"sender login control", "\"login\":\"octocat\"",
     "\"login\":\"octo\\rcat\"", NULL, NULL, EG_EINVAL,
     "sender.login: must be visible ASCII"},
    /* keys that are not read: anything goes, including duplicates */
    {"unread duplicate keys", "\"pull_requests\":[],",
     "\"pull_requests\":[],\"pull_requests\":{\"a\":1,\"a\":2},", NULL, NULL,
     EG_OK, NULL},
    {"unread nested id keys", "\"pull_requests\":[]",
     "\"pull_requests\":[{\"id\":-1.5e3,\"repository\":{\"id\":\"x\"}}]", NULL,
     NULL, EG_OK, NULL},
    {"listed names deeper are not read", "\"owner\":{\"login\":\"octo-org\",",
     "\"owner\":{\"x\":{\"login\":1},\"login\":\"octo-org\",", NULL, NULL,
     EG_OK, NULL},
    /* an error elsewhere is still reported under "requested" */
    {"first error wins", "\"installation\":{\"id\":119022551}",
     "\"installation\":{\"id\":\"x\"},\"sender\":{\"login\":2}", NULL, NULL,
     EG_EINVAL, "installation.id: expected an unsigned integer, got a string"},
};

static void run_edits(const struct edit_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const struct edit_case *c = &cases[i];
    char *body = subst(base, c->from, c->to);
    eg_event_t ev;
    char err[EG_ERRBUF_LEN];
    int rc;

    if (c->from2 != NULL) {
      char *b2 = subst(body, c->from2, c->to2);
      free(body);
      body = b2;
    }
    memset(&ev, 0xa5, sizeof(ev));
    rc = parse(body, API, 0, &ev, err);
    if (rc != c->rc)
      fail_msg("%s: rc %d, want %d (%s)", c->name, rc, c->rc, err);
    if (rc == EG_OK) {
      assert_int_equal(ev.kind, EG_EVENT_GATE_REQUEST);
    } else {
      if (strncmp(err, c->err, strlen(c->err)) != 0)
        fail_msg("%s: error \"%s\", want prefix \"%s\"", c->name, err, c->err);
      assert_clean_errbuf(err);
      /* A failed parse leaves nothing half-validated behind. */
      assert_int_equal(ev.kind, EG_EVENT_NONE);
      assert_string_equal(ev.callback_url, "");
      assert_true(ev.run_id == 0);
    }
    free(body);
  }
}

static void test_callback_url_rules(void **state) {
  (void)state;
  run_edits(url_cases, sizeof(url_cases) / sizeof(url_cases[0]));
}

static void test_field_rules(void **state) {
  (void)state;
  run_edits(field_cases, sizeof(field_cases) / sizeof(field_cases[0]));
}

/* Values kept when a case above passes: spot checks of what was parsed. */
static void test_parsed_values(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  char *body;

  (void)state;
  body = subst(base, "\"environment\":\"release\",\"event\"",
               "\"environment\":\"r\\ud83d\\ude80\",\"event\"");
  assert_int_equal(parse(body, API, 0, &ev, err), EG_OK);
  assert_string_equal(ev.environment, "r\xf0\x9f\x9a\x80");
  free(body);

  body = subst(base, "\"ref\":\"main\",", "");
  assert_int_equal(parse(body, API, 0, &ev, err), EG_OK);
  assert_string_equal(ev.ref, "");
  free(body);

  body = subst(base, "{\"id\":4189575565,\"environment\":\"release\"}", "null");
  assert_int_equal(parse(body, API, 0, &ev, err), EG_OK);
  assert_false(ev.has_deployment_id);
  free(body);

  body = subst(base, "," WR, "");
  assert_int_equal(parse(body, API, 0, &ev, err), EG_OK);
  assert_false(ev.has_workflow_run_id);
  assert_true(ev.run_id == UINT64_C(23625057533));
  free(body);

  body = subst(base, "\"name\":\"gate-demo\",", "");
  {
    char *b2 = subst(body, ",\"owner\":{\"login\":\"octo-org\",\"id\":5}", "");
    assert_int_equal(parse(b2, API, 0, &ev, err), EG_OK);
    assert_string_equal(ev.owner, "octo-org");
    assert_string_equal(ev.repo, "gate-demo");
    assert_string_equal(ev.full_name, "octo-org/gate-demo");
    free(b2);
  }
  free(body);

  body =
      subst(base, "\"sender\":{\"login\":\"octocat\",\"id\":242828183},", "");
  assert_int_equal(parse(body, API, 0, &ev, err), EG_OK);
  assert_string_equal(ev.sender_login, "");
  free(body);

  body = subst(base, "\"workflow_dispatch\"", "null");
  assert_int_equal(parse(body, API, 0, &ev, err), EG_OK);
  assert_string_equal(ev.event, "");
  free(body);
}

static void test_environment_length(void **state) {
  char env[4 * 300 + 1];
  char *field;
  char *body;
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  size_t n;

  (void)state;
  field = malloc(sizeof(env) + 64);
  assert_non_null(field);
  /* 255 four-byte characters (1020 bytes) fit; 256 do not. */
  for (n = 0; n < 255; n++)
    memcpy(env + 4 * n, "\xf0\x9f\x9a\x80", 4);
  env[4 * n] = '\0';
  snprintf(field, sizeof(env) + 64, "\"environment\":\"%s\",\"event\"", env);
  body = subst(base, "\"environment\":\"release\",\"event\"", field);
  assert_int_equal(parse(body, API, 0, &ev, err), EG_OK);
  assert_int_equal(strlen(ev.environment), 1020);
  free(body);

  /* 256 ASCII characters: within the buffer, over GitHub's 255. */
  memset(env, 'e', 256);
  env[256] = '\0';
  snprintf(field, sizeof(env) + 64, "\"environment\":\"%s\",\"event\"", env);
  body = subst(base, "\"environment\":\"release\",\"event\"", field);
  assert_int_equal(parse(body, API, 0, &ev, err), EG_EINVAL);
  assert_string_equal(err, "environment: longer than 255 characters");
  free(body);

  /* 1024 bytes: over the buffer. */
  memset(env, 'e', 1024);
  env[1024] = '\0';
  snprintf(field, sizeof(env) + 64, "\"environment\":\"%s\",\"event\"", env);
  body = subst(base, "\"environment\":\"release\",\"event\"", field);
  assert_int_equal(parse(body, API, 0, &ev, err), EG_EINVAL);
  assert_string_equal(err, "environment: longer than 1023 bytes");
  free(body);
  free(field);
}

static void test_other_actions(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  char *body = subst(base, "\"requested\"", "\"created\"");
  char *broken = subst(body, "1192056896", "\"x\"");
  char *dup = subst(base, "{\"action\":\"requested\"",
                    "{\"action\":\"created\",\"action\":\"created\"");
  char *spaced = subst(base, "\"requested\"", "\"cre ated\"");

  (void)state;
  assert_int_equal(parse(body, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_OK);
  assert_int_equal(ev.kind, EG_EVENT_OTHER_ACTION);
  assert_string_equal(ev.action, "created");
  /* Nothing else is reported for another action. */
  assert_string_equal(ev.environment, "");
  assert_string_equal(ev.callback_url, "");
  assert_true(ev.repository_id == 0 && ev.run_id == 0);
  /* Field errors do not matter for another action... */
  assert_int_equal(parse(broken, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_OK);
  assert_int_equal(ev.kind, EG_EVENT_OTHER_ACTION);
  /* ...but a body that is not JSON, or an unclear action, does. */
  assert_int_equal(parse("{\"action\":\"created\"", API,
                         EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_EPARSE);
  assert_int_equal(parse(dup, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_EINVAL);
  assert_string_equal(err, "action: duplicate key");
  assert_int_equal(parse(spaced, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_EINVAL);
  assert_int_equal(parse("{}", API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_EINVAL);
  assert_string_equal(err, "action: missing");
  /* A gate request is still fully validated with the flag. */
  assert_int_equal(parse(base, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_OK);
  assert_int_equal(ev.kind, EG_EVENT_GATE_REQUEST);
  free(spaced);
  free(dup);
  free(broken);
  free(body);
}

#define MALFORMED                                                              \
  "json: malformed (a missing or extra comma, colon, bracket or value, or "    \
  "text after the value)"

struct json_case {
  const char *name;
  const char *body; /* NULL: use base */
  size_t len;       /* 0: strlen(body) */
  const char *err;  /* expected errbuf prefix */
};

static void test_malformed_json(void **state) {
  static const struct json_case cases[] = {
      {"empty", "", 0, "json: empty document"},
      {"spaces", "   ", 0, "json: empty document"},
      {"top-level array", "[]", 0, "json: top-level value is not an object"},
      {"top-level string", "\"requested\"", 0,
       "json: top-level value is not an object"},
      {"top-level number", "1", 0, "json: top-level value is not an object"},
      {"top-level null", "null", 0, "json: top-level value is not an object"},
      {"top-level true", "true", 0, "json: top-level value is not an object"},
      {"unclosed", "{\"action\":\"requested\"", 0, MALFORMED},
      {"unclosed string", "{\"action\":\"requ", 0, "json: "},
      {"trailing garbage", "{\"action\":\"created\"}x", 0, MALFORMED},
      {"second value", "{\"action\":\"created\"}{}", 0, MALFORMED},
      {"trailing comma", "{\"action\":\"created\",}", 0, "json: "},
      {"comment", "{/* c */\"action\":\"created\"}", 0, "json: "},
      {"single quotes", "{'action':'created'}", 0, "json: "},
      {"bare word", "{\"action\":requested}", 0, "json: "},
      {"NaN", "{\"action\":\"created\",\"x\":NaN}", 0, "json: "},
      {"leading zero", "{\"action\":\"created\",\"x\":01}", 0, "json: "},
      {"raw control in string", "{\"action\":\"cre\tated\"}", 0, "json: "},
      {"raw NUL", "{\"action\":\"created\"}\0", 21, "json: "},
      {"NUL inside", "{\"action\"\0:\"created\"}", 21, "json: "},
      {"bad escape", "{\"action\":\"\\x41\"}", 0, "json: "},
      {"BOM", "\xef\xbb\xbf{\"action\":\"created\"}", 0, "json: "},
      {"invalid UTF-8 byte", "{\"action\":\"created\",\"x\":\"\xff\"}", 0,
       "json: invalid UTF-8 near byte 25"},
      {"truncated UTF-8", "{\"action\":\"created\",\"x\":\"\xc3\"}", 0,
       "json: invalid UTF-8"},
      {"bad third byte", "{\"action\":\"created\",\"x\":\"\xe2\x82\x41\"}", 0,
       "json: invalid UTF-8"},
      {"bad fourth byte", "{\"action\":\"created\",\"x\":\"\xf0\x9f\x9a\x41\"}",
       0, "json: invalid UTF-8"},
      {"UTF-8 cut at end", "{\"action\":\"created\",\"x\":\"\xe2\x82", 0,
       "json: unclosed string"},
      {"overlong slash", "{\"action\":\"created\",\"x\":\"\xc0\xaf\"}", 0,
       "json: invalid UTF-8"},
      {"overlong 3-byte", "{\"action\":\"created\",\"x\":\"\xe0\x80\xaf\"}", 0,
       "json: invalid UTF-8"},
      {"UTF-8 surrogate", "{\"action\":\"created\",\"x\":\"\xed\xa0\x80\"}", 0,
       "json: invalid UTF-8"},
      {"past U+10FFFF", "{\"action\":\"created\",\"x\":\"\xf4\x90\x80\x80\"}",
       0, "json: invalid UTF-8"},
      {"F5 lead", "{\"action\":\"created\",\"x\":\"\xf5\x80\x80\x80\"}", 0,
       "json: invalid UTF-8"},
      {"invalid UTF-8 in key", "{\"act\xfe\":\"created\"}", 0,
       "json: invalid UTF-8"},
      {"lone high surrogate", "{\"action\":\"created\",\"x\":\"\\ud800\"}", 0,
       "json: unpaired UTF-16 surrogate escape"},
      {"high then letter", "{\"action\":\"created\",\"x\":\"\\ud800\\u0041\"}",
       0, "json: unpaired UTF-16 surrogate escape"},
      {"lone low surrogate", "{\"action\":\"created\",\"x\":\"\\uDC00\"}", 0,
       "json: unpaired UTF-16 surrogate escape"},
      {"high at end", "{\"action\":\"created\",\"x\":\"\\ud800", 0,
       "json: unclosed string"},
      {"backslash at end", "{\"action\":\"created\",\"x\":\"\\", 0, "json: "},
  };
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct json_case *c = &cases[i];
    size_t len = c->len != 0 ? c->len : strlen(c->body);
    int rc = eg_event_parse(c->body, len, API, EG_EVENT_ALLOW_OTHER_ACTIONS,
                            &ev, err, sizeof(err));

    if (rc != EG_EPARSE || strncmp(err, c->err, strlen(c->err)) != 0)
      fail_msg("%s: rc %d, error \"%s\", want EG_EPARSE \"%s\"", c->name, rc,
               err, c->err);
    assert_clean_errbuf(err);
    assert_int_equal(ev.kind, EG_EVENT_NONE);
  }
}

/* Well-formed corner cases that must still parse. */
static void test_wellformed_corners(void **state) {
  static const char *const ok[] = {
      "{\"action\":\"created\"}",
      " \t\r\n{\"action\":\"created\"} \t\r\n",
      "{\"action\":\"created\",\"x\":\"\\ud83d\\ude80 \xf0\x9f\x9a\x80\"}",
      "{\"action\":\"created\",\"x\":\"\\\\ud800\"}", /* an escaped backslash */
      "{\"action\":\"created\",\"x\":[1,-2.5e+3,true,false,null,{},[]]}",
  };
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];

  (void)state;
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    int rc = parse(ok[i], API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err);
    if (rc != EG_OK)
      fail_msg("case %zu: rc %d (%s)", i, rc, err);
    assert_int_equal(ev.kind, EG_EVENT_OTHER_ACTION);
  }
}

/* Builds {"action":"created","x":<depth containers>} with the given opener
 * and closer, e.g. "[" "]" or "{\"a\":" "}". */
static char *
nested(size_t depth, const char *open, const char *close, bool closed) {
  size_t olen = strlen(open);
  size_t clen = strlen(close);
  size_t cap = 64 + depth * (olen + clen);
  char *s = malloc(cap);
  size_t n;

  assert_non_null(s);
  n = (size_t)snprintf(s, cap, "{\"action\":\"created\",\"x\":");
  for (size_t i = 0; i < depth; i++) {
    memcpy(s + n, open, olen);
    n += olen;
  }
  if (closed) {
    memcpy(s + n, "1", 1);
    n++;
    for (size_t i = 0; i < depth; i++) {
      memcpy(s + n, close, clen);
      n += clen;
    }
    s[n++] = '}';
  }
  s[n] = '\0';
  return s;
}

static void test_depth_limit(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  char *s;

  (void)state;
  /* The root object is level 1: 63 more levels are accepted. */
  s = nested(EG_EVENT_DEPTH_MAX - 1, "[", "]", true);
  assert_int_equal(parse(s, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_OK);
  free(s);
  s = nested(EG_EVENT_DEPTH_MAX, "[", "]", true);
  assert_int_equal(parse(s, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_EPARSE);
  assert_string_equal(err, "json: nesting deeper than 64 levels");
  free(s);
  s = nested(EG_EVENT_DEPTH_MAX, "{\"a\":", "}", true);
  assert_int_equal(parse(s, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_EPARSE);
  assert_string_equal(err, "json: nesting deeper than 64 levels");
  free(s);
  /* 10000 unclosed '[': refused without recursion or blowup (simdjson's
   * first pass finds the unbalanced brackets before the depth). */
  s = nested(10000, "[", "]", false);
  assert_int_equal(parse(s, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                   EG_EPARSE);
  assert_string_equal(err, MALFORMED);
  free(s);
  s = nested(100000, "{\"a\":", "}", true);
  assert_int_equal(parse(s, API, 0, &ev, err), EG_EPARSE);
  assert_string_equal(err, "json: nesting deeper than 64 levels");
  free(s);
  /* Depth inside a listed object counts the same way. */
  s = subst(
      base, "\"installation\":{\"id\":119022551}",
      "\"installation\":{\"id\":119022551,\"x\":"
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
      "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}");
  assert_int_equal(parse(s, API, 0, &ev, err), EG_EPARSE);
  free(s);
}

/* Every proper prefix of a valid body is truncated JSON; every single-byte
 * corruption must be handled without a crash (ASan/valgrind check the
 * memory side). */
static void test_truncation_and_corruption(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  size_t len;
  char *body = read_file(EG_TEST_DATA_DIR
                         "/deployment_protection_rule.requested.realistic.json",
                         &len);
  char *copy = malloc(len);
  uint32_t seed = 12345;
  static const unsigned char bytes[] = {'"',  '\\', '{', '}', '[',  ']',
                                        ':',  ',',  '0', '-', 0x00, 0x80,
                                        0xc3, 0xff, 'u', ' '};

  (void)state;
  assert_non_null(copy);
  for (size_t n = 0; n < len; n++) {
    /* Exact-size heap copies so that ASan sees any read past the end. */
    char *prefix = malloc(n > 0 ? n : 1);
    int rc;

    assert_non_null(prefix);
    memcpy(prefix, body, n);
    rc = eg_event_parse(prefix, n, API, 0, &ev, err, sizeof(err));
    if (rc != EG_EPARSE)
      fail_msg("prefix of %zu bytes: rc %d (%s)", n, rc, err);
    free(prefix);
  }
  for (int i = 0; i < 20000; i++) {
    int rc;

    memcpy(copy, body, len);
    seed = seed * 1103515245u + 12345u;
    copy[(seed >> 8) % len] = (char)bytes[(seed >> 20) % sizeof(bytes)];
    rc = eg_event_parse(copy, len, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err,
                        sizeof(err));
    assert_true(rc == EG_OK || rc == EG_EPARSE || rc == EG_EINVAL);
    if (rc != EG_OK)
      assert_clean_errbuf(err);
  }
  free(copy);
  free(body);
}

/* Hostile values are never echoed: the error names the field and rule. */
static void test_errbuf_never_echoes_input(void **state) {
  char url[4096];
  char *field;
  char *body;
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  char tiny[8];

  (void)state;
  memset(url, 'A', sizeof(url));
  memcpy(url, "\"https://evil\\u0001\\u001b[31m", 29);
  memcpy(url + 900, "\"", 2);
  field = url;
  body = subst(base, CBQ, field);
  assert_int_equal(parse(body, API, 0, &ev, err), EG_EINVAL);
  assert_null(strstr(err, "evil"));
  assert_clean_errbuf(err);
  free(body);

  memcpy(url + 900, "AA", 2);
  memcpy(url + 2000, "\"", 2);
  body = subst(base, CBQ, url);
  assert_int_equal(parse(body, API, 0, &ev, err), EG_EINVAL);
  assert_string_equal(err, "deployment_callback_url: longer than 1023 bytes");
  free(body);

  /* A tiny errbuf is truncated, NUL-terminated; NULL errbuf is fine. */
  body = subst(base, "119022551", "0");
  assert_int_equal(
      eg_event_parse(body, strlen(body), API, 0, &ev, tiny, sizeof(tiny)),
      EG_EINVAL);
  assert_string_equal(tiny, "install");
  assert_int_equal(eg_event_parse(body, strlen(body), API, 0, &ev, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_event_parse("[", 1, API, 0, &ev, NULL, 0), EG_EPARSE);
  free(body);
}

static void test_parse_arguments(void **state) {
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(eg_event_parse(NULL, 0, API, 0, &ev, err, sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(
      eg_event_parse(base, strlen(base), NULL, 0, &ev, err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(
      eg_event_parse(base, strlen(base), API, 0, NULL, err, sizeof(err)),
      EG_EINVAL);
  /* The size cap is checked before the body is read. */
  assert_int_equal(eg_event_parse(base, (size_t)EG_EVENT_BODY_MAX + 1, API, 0,
                                  &ev, err, sizeof(err)),
                   EG_ETOOBIG);
  assert_string_equal(err, "body: over 33554432 bytes");
  /* The body need not be NUL-terminated: len is what counts. */
  {
    size_t n = strlen(base);
    char *exact = malloc(n);
    assert_non_null(exact);
    memcpy(exact, base, n);
    assert_int_equal(eg_event_parse(exact, n, API, 0, &ev, err, sizeof(err)),
                     EG_OK);
    assert_int_equal(
        eg_event_parse(exact, n - 1, API, 0, &ev, err, sizeof(err)), EG_EPARSE);
    free(exact);
  }
}

struct key_case {
  const char *env_json; /* the environment as a JSON string body */
  const char *key;
};

static void test_build_key(void **state) {
  static const struct key_case cases[] = {
      {"release", "1192056896/" RUN "/release"},
      {"Release", "1192056896/" RUN "/release"},
      {"RELEASE-Gate_2", "1192056896/" RUN "/release-gate_2"},
      /* Non-ASCII bytes are copied as they are: only A-Z are lowered. */
      {"PROD-\xc3\x89t\xc3\xa9", "1192056896/" RUN "/prod-\xc3\x89t\xc3\xa9"},
      {"A/B", "1192056896/" RUN "/a/b"},
  };
  char key[EG_EVENT_KEY_LEN];
  char err[EG_ERRBUF_LEN];
  eg_event_t ev;
  size_t n;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char field[128];
    char *body;

    snprintf(field, sizeof(field), "\"environment\":\"%s\",\"event\"",
             cases[i].env_json);
    body = subst(base, "\"environment\":\"release\",\"event\"", field);
    assert_int_equal(parse(body, API, 0, &ev, err), EG_OK);
    assert_int_equal(eg_event_build_key(&ev, key, sizeof(key), &n), EG_OK);
    assert_string_equal(key, cases[i].key);
    assert_int_equal(n, strlen(cases[i].key));
    free(body);
  }

  assert_int_equal(parse(base, API, 0, &ev, err), EG_OK);
  n = strlen("1192056896/" RUN "/release");
  /* Exactly enough room, then one byte short. */
  assert_int_equal(eg_event_build_key(&ev, key, n + 1, NULL), EG_OK);
  assert_string_equal(key, "1192056896/" RUN "/release");
  assert_int_equal(eg_event_build_key(&ev, key, n, &n), EG_ERANGE);
  assert_string_equal(key, "");
  assert_int_equal(n, 0);
  assert_int_equal(eg_event_build_key(&ev, key, 5, NULL), EG_ERANGE);
  assert_string_equal(key, "");
  assert_int_equal(eg_event_build_key(&ev, key, 0, NULL), EG_ERANGE);
  assert_int_equal(eg_event_build_key(NULL, key, sizeof(key), NULL), EG_EINVAL);
  assert_int_equal(eg_event_build_key(&ev, NULL, sizeof(key), NULL), EG_EINVAL);

  /* The largest key fits EG_EVENT_KEY_LEN. */
  ev.repository_id = UINT64_MAX;
  ev.run_id = UINT64_MAX;
  memset(ev.environment, 'E', sizeof(ev.environment) - 1);
  ev.environment[sizeof(ev.environment) - 1] = '\0';
  assert_int_equal(eg_event_build_key(&ev, key, sizeof(key), &n), EG_OK);
  assert_int_equal(n, sizeof(key) - 1);
  assert_int_equal(key[n - 1], 'e');

  /* Only gate requests have a key. */
  {
    char *other = subst(base, "\"requested\"", "\"created\"");
    assert_int_equal(parse(other, API, EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err),
                     EG_OK);
    assert_int_equal(eg_event_build_key(&ev, key, sizeof(key), &n), EG_EINVAL);
    free(other);
  }
}

struct delivery_case {
  const char *id;
  int rc;
  const char *err;
};

static void test_delivery_id(void **state) {
  static const struct delivery_case cases[] = {
      {"0b989ba4-242f-11e5-81e1-c7b6966d2516", EG_OK, NULL},
      {"72d3162e-cc78-11e3-81ab-4c9367dc0958", EG_OK, NULL},
      {"00000000-0000-0000-0000-000000000001", EG_OK, NULL},
      {"ffffffff-ffff-ffff-ffff-ffffffffffff", EG_OK, NULL},
      {"00000000-0000-0000-0000-000000000000", EG_EINVAL,
       "delivery id: must not be the nil UUID"},
      {"0B989BA4-242F-11E5-81E1-C7B6966D2516", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"0b989ba4-242f-11e5-81e1-C7b6966d2516", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"", EG_EINVAL, "delivery id: must be a canonical UUID"},
      {"0b989ba4242f11e581e1c7b6966d2516", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"{0b989ba4-242f-11e5-81e1-c7b6966d2516}", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"urn:uuid:0b989ba4-242f-11e5-81e1-c7b6966d2516", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"0b989ba4-242f-11e5-81e1-c7b6966d251", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"0b989ba4-242f-11e5-81e1-c7b6966d25167", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"0b989ba4-242f-11e5-81e1-c7b6966d251g", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"0b989ba4_242f_11e5_81e1_c7b6966d2516", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"0b989ba42-42f-11e5-81e1-c7b6966d2516", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {" b989ba4-242f-11e5-81e1-c7b6966d2516", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
      {"0b989ba4-242f-11e5-81e1-c7b6966d251\n", EG_EINVAL,
       "delivery id: must be a canonical UUID"},
  };
  char err[EG_ERRBUF_LEN];

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct delivery_case *c = &cases[i];
    int rc;

    err[0] = '\0';
    rc = eg_event_check_delivery_id(c->id, strlen(c->id), err, sizeof(err));
    if (rc != c->rc)
      fail_msg("%s: rc %d, want %d", c->id, rc, c->rc);
    if (c->err != NULL && strncmp(err, c->err, strlen(c->err)) != 0)
      fail_msg("%s: error \"%s\"", c->id, err);
  }
  /* len, not the NUL, bounds the value; NULL is invalid, errbuf optional. */
  assert_int_equal(eg_event_check_delivery_id(
                       "0b989ba4-242f-11e5-81e1-c7b6966d2516XYZ", 36, NULL, 0),
                   EG_OK);
  assert_int_equal(eg_event_check_delivery_id(
                       "0b989ba4-242f-11e5-81e1-c7b6966d2516", 35, NULL, 0),
                   EG_EINVAL);
  {
    char with_nul[37];
    memcpy(with_nul, "0b989ba4-242f-11e5-81e1-c7b6966d2516", 37);
    with_nul[10] = '\0';
    assert_int_equal(eg_event_check_delivery_id(with_nul, 36, NULL, 0),
                     EG_EINVAL);
  }
  assert_int_equal(eg_event_check_delivery_id(NULL, 36, err, sizeof(err)),
                   EG_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_base_is_valid),
      cmocka_unit_test(test_ost_fixture),
      cmocka_unit_test(test_realistic_payload),
      cmocka_unit_test(test_octokit_fixture),
      cmocka_unit_test(test_ghes_base),
      cmocka_unit_test(test_bad_api_base),
      cmocka_unit_test(test_callback_url_rules),
      cmocka_unit_test(test_field_rules),
      cmocka_unit_test(test_parsed_values),
      cmocka_unit_test(test_environment_length),
      cmocka_unit_test(test_other_actions),
      cmocka_unit_test(test_malformed_json),
      cmocka_unit_test(test_wellformed_corners),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_truncation_and_corruption),
      cmocka_unit_test(test_errbuf_never_echoes_input),
      cmocka_unit_test(test_parse_arguments),
      cmocka_unit_test(test_build_key),
      cmocka_unit_test(test_delivery_id),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}

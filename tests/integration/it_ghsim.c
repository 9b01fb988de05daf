/* envgate-ghsim end to end: App JWT -> installation token (signed with a key
 * made here, verified by the simulator), token scope and expiry, pagination
 * through Link headers, deployment protection rule reviews, hook deliveries,
 * fault injection (statuses, Retry-After, latency that does not block other
 * requests, dropped connections, reproducible draws), generated load
 * scenarios, the inspection API and usage errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "eg/error.h"
#include "eg/jwt.h"
#include "harness.h"

#define APP_ID    "123456"
#define CLIENT_ID "Iv23liGhsimTest00001"
#define INST      "4242"
#define REPO      "octo-org/octo-repo"
#define RUN       "30433642"
#define TIMEOUT   10000

/* The scenario most tests use: two repositories in one installation, one
 * run with a pending "release" gate, 75 jobs (3 pages of 30), a gate
 * deployment with two statuses and three hook deliveries. */
static const char scenario_head[] =
    "{\"app\":{\"id\":" APP_ID ",\"client_id\":\"" CLIENT_ID "\"},"
    "\"installations\":[{\"id\":" INST ",\"account\":\"octo-org\"}],"
    "\"repositories\":[{\"id\":1296269,\"owner\":\"octo-org\","
    "\"name\":\"octo-repo\",\"private\":true},"
    "{\"id\":1296270,\"owner\":\"octo-org\",\"name\":\"other-repo\"}],"
    "\"runs\":[{\"id\":" RUN ",\"repository\":\"" REPO "\","
    "\"event\":\"workflow_dispatch\",\"head_sha\":"
    "\"acb5820ced9479c074f688cc328bf03f341a511d\","
    "\"triggering_actor\":\"octocat\",\"pending_deployments\":[\"release\"],"
    "\"approvals\":[{\"state\":\"approved\",\"user\":\"hubot\","
    "\"environments\":[\"release-gate\"],\"comment\":\"ok\"}]}],"
    "\"deployments\":[{\"id\":1001,\"run_id\":" RUN ","
    "\"environment\":\"release-gate\",\"statuses\":[{\"state\":\"in_progress\","
    "\"job_id\":500000},{\"state\":\"success\",\"job_id\":500000}]}],"
    "\"hook_deliveries\":["
    "{\"id\":11,\"status_code\":200,\"delivered_at\":\"2026-01-01T00:00:00Z\"},"
    "{\"id\":12,\"status_code\":502,\"delivered_at\":\"2026-01-01T00:01:00Z\"},"
    "{\"id\":13,\"status_code\":200,\"delivered_at\":\"2026-01-01T00:02:00Z\"}"
    "],\"jobs\":[";

struct sim {
  eg_jwt_signer_t *signer;
  eg_jwt_signer_t *other; /* a key the simulator does not know */
  eg_it_proc_t *proc;
  const char *url;
  char token[256];
};

/* Writes an RSA key pair: <name>.pem (private) and <name>.pub.pem. */
static void make_key(eg_it_t *it, const char *name, eg_jwt_signer_t **js) {
  EVP_PKEY *pk = EVP_RSA_gen(2048);
  BIO *priv = BIO_new(BIO_s_mem());
  BIO *pub = BIO_new(BIO_s_mem());
  char *p;
  long n;
  char file[64];
  char errbuf[EG_ERRBUF_LEN];

  assert_non_null(pk);
  assert_int_equal(
      PEM_write_bio_PrivateKey(priv, pk, NULL, NULL, 0, NULL, NULL), 1);
  assert_int_equal(PEM_write_bio_PUBKEY(pub, pk), 1);
  n = BIO_get_mem_data(priv, &p);
  assert_int_equal(
      eg_jwt_signer_new_pem(p, (size_t)n, js, errbuf, sizeof(errbuf)), EG_OK);
  n = BIO_get_mem_data(pub, &p);
  snprintf(file, sizeof(file), "%s.pub.pem", name);
  EG_IT_MUST(it, eg_it_write_file(it, file, p, (size_t)n, NULL));
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(pk);
}

static void jwt_at(struct sim *s,
                   eg_jwt_signer_t *js,
                   const char *iss,
                   int64_t now,
                   char *out,
                   size_t len) {
  (void)s;
  assert_int_equal(eg_jwt_mint(js, iss, now, out, len, NULL, 0), EG_OK);
}

/* Starts the simulator with the common scenario (or scenario when not
 * NULL) and extra arguments. */
static void start(eg_it_t *it,
                  struct sim *s,
                  const char *scenario,
                  const char *const *extra) {
  const char *path;
  const char *argv[32];
  size_t n = 0;
  const char *addr = eg_it_path(it, "ghsim.addr");
  eg_it_spawn_opts_t o = {0};

  memset(s, 0, sizeof(*s));
  make_key(it, "app", &s->signer);
  make_key(it, "other", &s->other);
  if (scenario == NULL) {
    /* 75 jobs, ids 500000.., the first the gate job. */
    size_t cap = 75 * 160 + sizeof(scenario_head) + 16;
    char *text = malloc(cap);
    size_t len;
    assert_non_null(text);
    len = (size_t)snprintf(text, cap, "%s", scenario_head);
    for (int i = 0; i < 75; i++)
      len += (size_t)snprintf(
          text + len, cap - len,
          "%s{\"id\":%d,\"run_id\":" RUN ",\"name\":\"%s\"}", i > 0 ? "," : "",
          500000 + i, i == 0 ? "release-gate" : "build");
    len += (size_t)snprintf(text + len, cap - len, "]}");
    EG_IT_MUST(it, eg_it_write_file(it, "scenario.json", text, len, &path));
    free(text);
  } else {
    EG_IT_MUST(it, eg_it_write_file(it, "scenario.json", scenario,
                                    strlen(scenario), &path));
  }
  argv[n++] = "envgate-ghsim";
  argv[n++] = "--listen";
  argv[n++] = "127.0.0.1:0";
  argv[n++] = "--addr-file";
  argv[n++] = addr;
  argv[n++] = "--scenario";
  argv[n++] = path;
  argv[n++] = "--app-public-key";
  argv[n++] = eg_it_path(it, "app.pub.pem");
  for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  o.name = "ghsim";
  o.argv = argv;
  o.ready_file = addr;
  EG_IT_MUST(it, eg_it_spawn(it, &o, &s->proc));
  s->url = eg_it_proc_addr(s->proc);
  assert_non_null(s->url);
  assert_true(strncmp(s->url, "http://127.0.0.1:", 17) == 0);
}

static void stop(eg_it_t *it, struct sim *s) {
  int ws = 0;

  EG_IT_MUST(it, eg_it_proc_stop(s->proc, TIMEOUT, &ws));
  assert_true(WIFEXITED(ws));
  assert_int_equal(WEXITSTATUS(ws), 0);
  eg_jwt_signer_free(s->signer);
  eg_jwt_signer_free(s->other);
}

/* One request; path is appended to the simulator's URL unless it starts
 * with "http". auth is a raw token/JWT (NULL: none). */
static void call(eg_it_t *it,
                 struct sim *s,
                 const char *method,
                 const char *path,
                 const char *auth,
                 const char *body,
                 eg_it_http_resp_t *resp) {
  char url[2048];
  char authz[2200];
  const char *headers[4] = {"User-Agent: it-ghsim",
                            "Accept: application/vnd.github+json", NULL, NULL};

  if (strncmp(path, "http", 4) == 0)
    snprintf(url, sizeof(url), "%s", path);
  else
    snprintf(url, sizeof(url), "%s%s", s->url, path);
  if (auth != NULL) {
    snprintf(authz, sizeof(authz), "Authorization: Bearer %s", auth);
    headers[2] = authz;
  }
  EG_IT_MUST(it, eg_it_http(it, method, url, headers, body,
                            body != NULL ? strlen(body) : 0,
                            eg_it_timeout_ms(TIMEOUT), resp));
}

static json_t *body_json(const eg_it_http_resp_t *r) {
  json_t *v = json_loadb(r->body, r->body_len, 0, NULL);

  if (v == NULL)
    fail_msg("not JSON (status %ld): %.200s", r->status, r->body);
  return v;
}

static void assert_message(const eg_it_http_resp_t *r, const char *msg) {
  json_t *v = body_json(r);
  const char *m = json_string_value(json_object_get(v, "message"));

  if (m == NULL || strcmp(m, msg) != 0)
    fail_msg("message %s, want %s", m != NULL ? m : "(none)", msg);
  json_decref(v);
}

/* Mints a token (body may be NULL) and stores it in s->token. */
static void mint(eg_it_t *it, struct sim *s, const char *body, long want) {
  char jwt[EG_JWT_SIZE];
  eg_it_http_resp_t r;

  jwt_at(s, s->signer, APP_ID, (int64_t)time(NULL), jwt, sizeof(jwt));
  call(it, s, "POST", "/app/installations/" INST "/access_tokens", jwt, body,
       &r);
  if (r.status != want)
    fail_msg("mint: status %ld, want %ld: %s", r.status, want, r.body);
  if (want == 201) {
    json_t *v = body_json(&r);
    snprintf(s->token, sizeof(s->token), "%s",
             json_string_value(json_object_get(v, "token")));
    json_decref(v);
  }
  eg_it_http_resp_cleanup(&r);
}

static const char scoped[] =
    "{\"repository_ids\":[1296269],\"permissions\":{\"actions\":\"read\","
    "\"deployments\":\"write\"}}";

static void test_mint_and_use(void **state) {
  eg_it_t *it = *state;
  struct sim s;
  eg_it_http_resp_t r;
  json_t *v;
  time_t exp;
  struct tm tm = {0};
  static const char *const need[] = {
      "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used",
      "x-ratelimit-reset", "x-ratelimit-resource",  "x-github-request-id"};

  start(it, &s, NULL, NULL);
  mint(it, &s, scoped, 201);
  /* GitHub's new tokens are longer than 40 characters. */
  assert_true(strncmp(s.token, "ghs_", 4) == 0);
  assert_true(strlen(s.token) > 40);

  /* The client ID works as iss too; the answer has the real shape. */
  {
    char jwt[EG_JWT_SIZE];
    jwt_at(&s, s.signer, CLIENT_ID, (int64_t)time(NULL), jwt, sizeof(jwt));
    call(it, &s, "POST", "/app/installations/" INST "/access_tokens", jwt,
         scoped, &r);
    assert_int_equal(r.status, 201);
    v = body_json(&r);
    assert_string_equal(
        json_string_value(json_object_get(v, "repository_selection")),
        "selected");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_array_get(json_object_get(v, "repositories"), 0), "id")),
        1296269);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(v, "permissions"), "deployments")),
                        "write");
    assert_non_null(
        strptime(json_string_value(json_object_get(v, "expires_at")),
                 "%Y-%m-%dT%H:%M:%SZ", &tm));
    exp = timegm(&tm);
    assert_true(exp > time(NULL) + 3500 && exp <= time(NULL) + 3601);
    json_decref(v);
    eg_it_http_resp_cleanup(&r);
  }

  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN, s.token, NULL, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(eg_it_http_header(&r, "content-type"),
                      "application/json; charset=utf-8");
  for (size_t i = 0; i < sizeof(need) / sizeof(*need); i++)
    if (eg_it_http_header(&r, need[i]) == NULL)
      fail_msg("header %s missing", need[i]);
  v = body_json(&r);
  assert_int_equal(json_integer_value(json_object_get(v, "id")), 30433642);
  assert_string_equal(json_string_value(json_object_get(v, "path")),
                      ".github/workflows/release.yml");
  assert_string_equal(json_string_value(json_object_get(v, "event")),
                      "workflow_dispatch");
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(v, "head_repository"), "full_name")),
                      REPO);
  assert_string_equal(json_string_value(json_object_get(
                          json_object_get(v, "triggering_actor"), "login")),
                      "octocat");
  json_decref(v);
  eg_it_http_resp_cleanup(&r);

  /* The same token on the single job, the deployments and their statuses
   * (newest first). */
  call(it, &s, "GET", "/repos/" REPO "/actions/jobs/500000", s.token, NULL, &r);
  assert_int_equal(r.status, 200);
  v = body_json(&r);
  assert_string_equal(json_string_value(json_object_get(v, "name")),
                      "release-gate");
  assert_string_equal(json_string_value(json_object_get(v, "conclusion")),
                      "success");
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET",
       "/repos/" REPO "/deployments?environment=release-gate&sha="
       "acb5820ced9479c074f688cc328bf03f341a511d&per_page=100",
       s.token, NULL, &r);
  assert_int_equal(r.status, 200);
  v = body_json(&r);
  assert_int_equal(json_array_size(v), 1);
  assert_int_equal(
      json_integer_value(json_object_get(json_array_get(v, 0), "id")), 1001);
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/deployments?environment=release",
       s.token, NULL, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "[]");
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/deployments/1001/statuses?per_page=1",
       s.token, NULL, &r);
  assert_int_equal(r.status, 200);
  v = body_json(&r);
  assert_int_equal(json_array_size(v), 1);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(v, 0), "state")),
      "success");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(v, 0), "log_url")),
      "https://github.com/" REPO "/actions/runs/" RUN "/job/500000");
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN "/approvals", s.token,
       NULL, &r);
  assert_int_equal(r.status, 200);
  v = body_json(&r);
  assert_string_equal(
      json_string_value(json_object_get(
          json_object_get(json_array_get(v, 0), "user"), "login")),
      "hubot");
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  stop(it, &s);
  eg_it_pass(it);
}

static void test_jwt_rejected(void **state) {
  eg_it_t *it = *state;
  struct sim s;
  eg_it_http_resp_t r;
  char jwt[EG_JWT_SIZE];
  int64_t now = (int64_t)time(NULL);
  const char *path = "/app/installations/" INST "/access_tokens";

  start(it, &s, NULL, NULL);
  /* Expired: minted 20 minutes ago. */
  jwt_at(&s, s.signer, APP_ID, now - 1200, jwt, sizeof(jwt));
  call(it, &s, "POST", path, jwt, NULL, &r);
  assert_int_equal(r.status, 401);
  assert_message(&r, "'Expiration time' claim ('exp') must be a numeric "
                     "value representing the future time at which the "
                     "assertion expires");
  eg_it_http_resp_cleanup(&r);
  /* Issued in the future. */
  jwt_at(&s, s.signer, APP_ID, now + 600, jwt, sizeof(jwt));
  call(it, &s, "POST", path, jwt, NULL, &r);
  assert_int_equal(r.status, 401);
  assert_message(&r, "'Issued at' claim ('iat') must be an Integer "
                     "representing the time that the assertion was issued");
  eg_it_http_resp_cleanup(&r);
  /* Forged: signed with another key. */
  jwt_at(&s, s.other, APP_ID, now, jwt, sizeof(jwt));
  call(it, &s, "POST", path, jwt, NULL, &r);
  assert_int_equal(r.status, 401);
  assert_message(&r, "A JSON web token could not be decoded");
  eg_it_http_resp_cleanup(&r);
  /* Another App's iss. */
  jwt_at(&s, s.signer, "999", now, jwt, sizeof(jwt));
  call(it, &s, "POST", path, jwt, NULL, &r);
  assert_int_equal(r.status, 401);
  eg_it_http_resp_cleanup(&r);
  /* No credentials at all, and an installation token instead of a JWT. */
  call(it, &s, "POST", path, NULL, NULL, &r);
  assert_int_equal(r.status, 401);
  eg_it_http_resp_cleanup(&r);
  mint(it, &s, NULL, 201);
  call(it, &s, "POST", path, s.token, NULL, &r);
  assert_int_equal(r.status, 401);
  eg_it_http_resp_cleanup(&r);

  /* Valid JWT, bad requests. */
  jwt_at(&s, s.signer, APP_ID, now, jwt, sizeof(jwt));
  call(it, &s, "POST", "/app/installations/1/access_tokens", jwt, NULL, &r);
  assert_int_equal(r.status, 404);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", path, jwt, "{\"permissions\":{\"actions\":\"write\"}}",
       &r);
  assert_int_equal(r.status, 422);
  assert_message(&r, "The permissions requested are not granted to this "
                     "installation.");
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", path, jwt, "{\"permissions\":{\"contents\":\"read\"}}",
       &r);
  assert_int_equal(r.status, 422);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", path, jwt, "{\"repository_ids\":[77]}", &r);
  assert_int_equal(r.status, 422);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", path, jwt, "{\"repository_ids\":", &r);
  assert_int_equal(r.status, 400);
  eg_it_http_resp_cleanup(&r);
  stop(it, &s);
  eg_it_pass(it);
}

static void test_token_scope(void **state) {
  eg_it_t *it = *state;
  struct sim s;
  eg_it_http_resp_t r;
  static const char *const extra[] = {"--token-ttl", "2", NULL};
  const char *review =
      "/repos/" REPO "/actions/runs/" RUN "/deployment_protection_rule";
  const char *body =
      "{\"environment_name\":\"release\",\"state\":\"approved\"}";
  char t1[256];

  start(it, &s, NULL, extra);
  mint(it, &s, scoped, 201);
  snprintf(t1, sizeof(t1), "%s", s.token);
  /* Another repository of the installation: invisible, as on GitHub. */
  call(it, &s, "GET", "/repos/octo-org/other-repo/actions/runs/" RUN, t1, NULL,
       &r);
  assert_int_equal(r.status, 404);
  assert_message(&r, "Not Found");
  eg_it_http_resp_cleanup(&r);
  /* No token, and an unknown one. */
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN, NULL, NULL, &r);
  assert_int_equal(r.status, 401);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN,
       "ghs_unknownunknownunknownunknownunknownunknown", NULL, &r);
  assert_int_equal(r.status, 401);
  assert_message(&r, "Bad credentials");
  eg_it_http_resp_cleanup(&r);
  /* A read-only token cannot review. */
  mint(it, &s,
       "{\"permissions\":{\"actions\":\"read\",\"deployments\":"
       "\"read\"}}",
       201);
  call(it, &s, "POST", review, s.token, body, &r);
  assert_int_equal(r.status, 403);
  assert_message(&r, "Resource not accessible by integration");
  eg_it_http_resp_cleanup(&r);
  /* A token without deployments cannot list them. */
  mint(it, &s, "{\"permissions\":{\"actions\":\"read\"}}", 201);
  call(it, &s, "GET", "/repos/" REPO "/deployments", s.token, NULL, &r);
  assert_int_equal(r.status, 403);
  eg_it_http_resp_cleanup(&r);
  /* Tokens expire (--token-ttl 2). */
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN, t1, NULL, &r);
  assert_int_equal(r.status, 200);
  eg_it_http_resp_cleanup(&r);
  eg_it_sleep_ms(2100);
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN, t1, NULL, &r);
  assert_int_equal(r.status, 401);
  assert_message(&r, "Bad credentials");
  eg_it_http_resp_cleanup(&r);
  /* And can be expired on demand. */
  mint(it, &s, NULL, 201);
  call(it, &s, "POST", "/_sim/tokens/expire", NULL, NULL, &r);
  assert_int_equal(r.status, 204);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN, s.token, NULL, &r);
  assert_int_equal(r.status, 401);
  eg_it_http_resp_cleanup(&r);
  /* Requests without a User-Agent are refused, as on GitHub. */
  {
    char url[512];
    snprintf(url, sizeof(url), "%s/repos/" REPO "/actions/runs/" RUN, s.url);
    EG_IT_MUST(it, eg_it_http(it, "GET", url, NULL, NULL, 0,
                              eg_it_timeout_ms(TIMEOUT), &r));
    assert_int_equal(r.status, 403);
    eg_it_http_resp_cleanup(&r);
  }
  stop(it, &s);
  eg_it_pass(it);
}

/* The value of rel in a Link header, copied into out. */
static bool link_rel(const char *link, const char *rel, char *out, size_t len) {
  char want[32];
  const char *p;

  if (link == NULL)
    return false;
  snprintf(want, sizeof(want), "rel=\"%s\"", rel);
  p = strstr(link, want);
  if (p == NULL)
    return false;
  while (p > link && *p != '<')
    p--;
  snprintf(out, len, "%.*s", (int)(strchr(p, '>') - p - 1), p + 1);
  return true;
}

static void test_jobs_pagination(void **state) {
  eg_it_t *it = *state;
  struct sim s;
  eg_it_http_resp_t r;
  char next[1024], last[1024];
  int seen[75] = {0};
  int pages = 0, total = 0;

  start(it, &s, NULL, NULL);
  mint(it, &s, scoped, 201);
  snprintf(next, sizeof(next),
           "%s/repos/" REPO "/actions/runs/" RUN "/jobs?per_page=20", s.url);
  for (;;) {
    json_t *v;
    json_t *jobs;
    size_t i;
    json_t *j;
    const char *link;

    call(it, &s, "GET", next, s.token, NULL, &r);
    assert_int_equal(r.status, 200);
    v = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(v, "total_count")), 75);
    jobs = json_object_get(v, "jobs");
    json_array_foreach(jobs, i, j) {
      int id = (int)json_integer_value(json_object_get(j, "id")) - 500000;
      assert_true(id >= 0 && id < 75);
      assert_int_equal(seen[id], 0);
      seen[id] = 1;
      total++;
    }
    json_decref(v);
    pages++;
    link = eg_it_http_header(&r, "link");
    if (pages == 1) {
      assert_true(link_rel(link, "last", last, sizeof(last)));
      assert_non_null(strstr(last, "page=4"));
    }
    if (!link_rel(link, "next", next, sizeof(next))) {
      assert_true(link_rel(link, "prev", last, sizeof(last)));
      eg_it_http_resp_cleanup(&r);
      break;
    }
    eg_it_http_resp_cleanup(&r);
    assert_true(pages < 10);
  }
  assert_int_equal(pages, 4);
  assert_int_equal(total, 75);
  /* Default page size 30, maximum 100. */
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN "/jobs", s.token,
       NULL, &r);
  {
    json_t *v = body_json(&r);
    assert_int_equal(json_array_size(json_object_get(v, "jobs")), 30);
    json_decref(v);
  }
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET",
       "/repos/" REPO "/actions/runs/" RUN "/jobs?per_page=500&filter=all",
       s.token, NULL, &r);
  {
    json_t *v = body_json(&r);
    assert_int_equal(json_array_size(json_object_get(v, "jobs")), 75);
    json_decref(v);
  }
  assert_null(eg_it_http_header(&r, "link"));
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN "/jobs?filter=x",
       s.token, NULL, &r);
  assert_int_equal(r.status, 422);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/1/jobs", s.token, NULL, &r);
  assert_int_equal(r.status, 404);
  eg_it_http_resp_cleanup(&r);
  stop(it, &s);
  eg_it_pass(it);
}

static void test_review_twice(void **state) {
  eg_it_t *it = *state;
  struct sim s;
  eg_it_http_resp_t r;
  json_t *v, *errs, *rev;
  const char *review =
      "/repos/" REPO "/actions/runs/" RUN "/deployment_protection_rule";
  const char *approve = "{\"environment_name\":\"release\",\"state\":"
                        "\"approved\",\"comment\":\"release-gate deployment "
                        "succeeded\"}";
  char *state_text;

  start(it, &s, NULL, NULL);
  mint(it, &s, scoped, 201);
  call(it, &s, "GET",
       "/repos/" REPO "/actions/runs/" RUN "/pending_deployments", s.token,
       NULL, &r);
  v = body_json(&r);
  assert_string_equal(
      json_string_value(json_object_get(
          json_object_get(json_array_get(v, 0), "environment"), "name")),
      "release");
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  /* Body validation per the schema. */
  call(it, &s, "POST", review, s.token, "{\"state\":\"approved\"}", &r);
  assert_int_equal(r.status, 422);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", review, s.token,
       "{\"environment_name\":\"release\",\"state\":\"maybe\"}", &r);
  assert_int_equal(r.status, 422);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", review, s.token, "{\"environment_name\":\"release\"}",
       &r);
  assert_int_equal(r.status, 422);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", review, s.token, "not json", &r);
  assert_int_equal(r.status, 400);
  eg_it_http_resp_cleanup(&r);

  call(it, &s, "POST", review, s.token, approve, &r);
  assert_int_equal(r.status, 204);
  assert_int_equal(r.body_len, 0);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", review, s.token, approve, &r);
  assert_int_equal(r.status, 422);
  v = body_json(&r);
  assert_string_equal(json_string_value(json_object_get(v, "message")),
                      "Validation Failed");
  errs = json_array_get(json_object_get(v, "errors"), 0);
  assert_string_equal(json_string_value(json_object_get(errs, "resource")),
                      "DeploymentProtectionRule");
  assert_string_equal(json_string_value(json_object_get(errs, "code")),
                      "custom");
  assert_string_equal(json_string_value(json_object_get(errs, "message")),
                      "Deployment protection rule has already been reviewed");
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", review, s.token,
       "{\"environment_name\":\"production\",\"state\":\"rejected\","
       "\"comment\":\"no\"}",
       &r);
  assert_int_equal(r.status, 422);
  assert_message(&r, "No pending deployment requests to approve or reject");
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET",
       "/repos/" REPO "/actions/runs/" RUN "/pending_deployments", s.token,
       NULL, &r);
  assert_string_equal(r.body, "[]");
  eg_it_http_resp_cleanup(&r);

  /* Inspection: every review with its time and the token hashed, counts
   * by endpoint and status, the mint. */
  call(it, &s, "GET", "/_sim/state", NULL, NULL, &r);
  assert_int_equal(r.status, 200);
  state_text = strdup(r.body);
  assert_non_null(state_text);
  assert_null(strstr(state_text, s.token)); /* never the raw token */
  v = body_json(&r);
  rev = json_object_get(v, "reviews");
  /* 3 invalid bodies, the approval, the repeat, the unknown environment
   * (the unparsable body is not a review). */
  assert_int_equal(json_array_size(rev), 6);
  assert_int_equal(
      json_integer_value(json_object_get(json_array_get(rev, 3), "status")),
      204);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(rev, 3), "state")),
      "approved");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(rev, 3), "comment")),
      "release-gate deployment succeeded");
  assert_int_equal(strlen(json_string_value(json_object_get(
                       json_array_get(rev, 3), "token_sha256"))),
                   64);
  assert_non_null(json_object_get(json_array_get(rev, 3), "at"));
  assert_int_equal(
      json_integer_value(json_object_get(
          json_object_get(json_object_get(v, "calls"), "review"), "204")),
      1);
  assert_int_equal(
      json_integer_value(json_object_get(
          json_object_get(json_object_get(v, "calls"), "review"), "422")),
      5);
  assert_int_equal(json_array_size(json_object_get(v, "mints")), 1);
  assert_int_equal(
      json_integer_value(json_object_get(
          json_array_get(json_object_get(v, "mint_counts"), 0), "count")),
      1);
  json_decref(v);
  free(state_text);
  eg_it_http_resp_cleanup(&r);
  /* The raw tokens are only in /_sim/tokens. */
  call(it, &s, "GET", "/_sim/tokens", NULL, NULL, &r);
  assert_non_null(strstr(r.body, s.token));
  eg_it_http_resp_cleanup(&r);
  /* Reset: the gate is pending again and the records are empty. */
  call(it, &s, "POST", "/_sim/reset", NULL, NULL, &r);
  assert_int_equal(r.status, 204);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", review, s.token, approve, &r);
  assert_int_equal(r.status, 204);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/_sim/state", NULL, NULL, &r);
  v = body_json(&r);
  assert_int_equal(json_array_size(json_object_get(v, "reviews")), 1);
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  stop(it, &s);
  eg_it_pass(it);
}

struct slow_call {
  char url[512];
  char authz[300];
  long status;
  long long ms;
};

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

/* Runs on its own thread with its own curl handle. */
static void *slow_get(void *arg) {
  struct slow_call *sc = arg;
  CURL *h = curl_easy_init();
  struct curl_slist *hs = NULL;
  long long t0 = eg_it_now_ms();

  hs = curl_slist_append(hs, sc->authz);
  hs = curl_slist_append(hs, "User-Agent: it-ghsim");
  curl_easy_setopt(h, CURLOPT_URL, sc->url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
  if (curl_easy_perform(h) == CURLE_OK)
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &sc->status);
  sc->ms = eg_it_now_ms() - t0;
  curl_slist_free_all(hs);
  curl_easy_cleanup(h);
  return NULL;
}

static void set_faults(eg_it_t *it, struct sim *s, const char *json) {
  eg_it_http_resp_t r;

  call(it, s, "POST", "/_sim/faults", NULL, json, &r);
  if (r.status != 200)
    fail_msg("faults %s: %ld %s", json, r.status, r.body);
  eg_it_http_resp_cleanup(&r);
}

static void test_faults(void **state) {
  eg_it_t *it = *state;
  struct sim s;
  eg_it_http_resp_t r;
  const char *run = "/repos/" REPO "/actions/runs/" RUN;
  struct slow_call sc = {0};
  pthread_t th;
  long long t0, fast_ms;
  char url[512];
  int rc;

  start(it, &s, NULL, NULL);
  mint(it, &s, scoped, 201);
  set_faults(it, &s,
             "{\"run\":{\"error_500\":1},\"jobs\":{\"rate_429\":1,"
             "\"retry_after_s\":7},\"job\":{\"rate_limit_403\":1},"
             "\"approvals\":{\"secondary_403\":1,\"retry_after_s\":3},"
             "\"deployments\":{\"reset\":1},\"statuses\":{\"timeout\":1,"
             "\"timeout_ms\":600},\"pending_deployments\":{\"error_502\":1,"
             "\"limit\":2}}");
  call(it, &s, "GET", run, s.token, NULL, &r);
  assert_int_equal(r.status, 500);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN "/jobs", s.token,
       NULL, &r);
  assert_int_equal(r.status, 429);
  assert_string_equal(eg_it_http_header(&r, "retry-after"), "7");
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/actions/jobs/500000", s.token, NULL, &r);
  assert_int_equal(r.status, 403);
  assert_string_equal(eg_it_http_header(&r, "x-ratelimit-remaining"), "0");
  assert_non_null(eg_it_http_header(&r, "x-ratelimit-reset"));
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/repos/" REPO "/actions/runs/" RUN "/approvals", s.token,
       NULL, &r);
  assert_int_equal(r.status, 403);
  assert_string_equal(eg_it_http_header(&r, "retry-after"), "3");
  eg_it_http_resp_cleanup(&r);
  /* "limit": the first two calls fail, then the endpoint recovers. */
  for (int i = 0; i < 3; i++) {
    call(it, &s, "GET",
         "/repos/" REPO "/actions/runs/" RUN "/pending_deployments", s.token,
         NULL, &r);
    assert_int_equal(r.status, i < 2 ? 502 : 200);
    eg_it_http_resp_cleanup(&r);
  }
  /* A reset connection: no answer at all. */
  snprintf(url, sizeof(url), "%s/repos/" REPO "/deployments", s.url);
  {
    char authz[300];
    const char *hdr[] = {"User-Agent: it-ghsim", authz, NULL};
    snprintf(authz, sizeof(authz), "Authorization: Bearer %s", s.token);
    rc =
        eg_it_http(it, "GET", url, hdr, NULL, 0, eg_it_timeout_ms(TIMEOUT), &r);
    assert_int_not_equal(rc, EG_OK);
    /* A held request is dropped after timeout_ms, unanswered. */
    snprintf(url, sizeof(url), "%s/repos/" REPO "/deployments/1001/statuses",
             s.url);
    t0 = eg_it_now_ms();
    rc =
        eg_it_http(it, "GET", url, hdr, NULL, 0, eg_it_timeout_ms(TIMEOUT), &r);
    assert_int_not_equal(rc, EG_OK);
    assert_true(eg_it_now_ms() - t0 >= 550);
  }

  /* Latency is honoured without blocking a concurrent fast request. */
  set_faults(it, &s, "{\"run\":{\"latency_ms\":1500}}");
  snprintf(sc.url, sizeof(sc.url), "%s%s", s.url, run);
  snprintf(sc.authz, sizeof(sc.authz), "Authorization: Bearer %s", s.token);
  assert_int_equal(pthread_create(&th, NULL, slow_get, &sc), 0);
  eg_it_sleep_ms(200);
  t0 = eg_it_now_ms();
  call(it, &s, "GET", "/repos/" REPO "/actions/jobs/500000", s.token, NULL, &r);
  fast_ms = eg_it_now_ms() - t0;
  assert_int_equal(r.status, 200);
  eg_it_http_resp_cleanup(&r);
  pthread_join(th, NULL);
  assert_int_equal(sc.status, 200);
  assert_true(sc.ms >= 1450);
  assert_true(fast_ms < 1000);

  /* Bad fault tables are refused and leave the current one. */
  call(it, &s, "POST", "/_sim/faults", NULL, "{\"run\":{\"error_500\":2}}", &r);
  assert_int_equal(r.status, 422);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", "/_sim/faults", NULL, "{\"nope\":{}}", &r);
  assert_int_equal(r.status, 422);
  eg_it_http_resp_cleanup(&r);

  /* Counts by status and fired faults. */
  call(it, &s, "GET", "/_sim/state", NULL, NULL, &r);
  {
    json_t *v = body_json(&r);
    json_t *calls = json_object_get(v, "calls");
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(calls, "run"), "500")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(calls, "jobs"), "429")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(calls, "deployments"), "dropped")),
                     1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(v, "faults_fired"),
                                           "pending_deployments")),
        2);
    json_decref(v);
  }
  eg_it_http_resp_cleanup(&r);
  stop(it, &s);
  eg_it_pass(it);
}

/* Statuses of n calls to the run under a 50% fault table. */
static void fault_sequence(eg_it_t *it, struct sim *s, int n, char *out) {
  eg_it_http_resp_t r;

  set_faults(it, s, "{\"run\":{\"error_500\":0.25,\"error_502\":0.25}}");
  for (int i = 0; i < n; i++) {
    call(it, s, "GET", "/repos/" REPO "/actions/runs/" RUN, s->token, NULL, &r);
    out[i] = r.status == 200 ? '.' : r.status == 500 ? '5' : '2';
    eg_it_http_resp_cleanup(&r);
  }
  out[n] = '\0';
}

static void test_seeded_faults(void **state) {
  eg_it_t *it = *state;
  struct sim a, b;
  static const char *const seed[] = {"--seed", "42", NULL};
  char sa[41], sb[41];

  start(it, &a, NULL, seed);
  mint(it, &a, scoped, 201);
  fault_sequence(it, &a, 40, sa);
  stop(it, &a);
  start(it, &b, NULL, seed);
  mint(it, &b, scoped, 201);
  fault_sequence(it, &b, 40, sb);
  stop(it, &b);
  assert_string_equal(sa, sb);
  assert_non_null(strchr(sa, '.'));
  assert_non_null(strchr(sa, '5'));
  assert_non_null(strchr(sa, '2'));
  eg_it_pass(it);
}

static void test_deliveries(void **state) {
  eg_it_t *it = *state;
  struct sim s;
  eg_it_http_resp_t r;
  char jwt[EG_JWT_SIZE];
  char next[1024];
  json_t *v;
  int ids[3], n = 0;

  start(it, &s, NULL, NULL);
  jwt_at(&s, s.signer, APP_ID, (int64_t)time(NULL), jwt, sizeof(jwt));
  /* Newest first, one per page, following the cursor in Link. */
  snprintf(next, sizeof(next), "%s/app/hook/deliveries?per_page=1", s.url);
  for (;;) {
    call(it, &s, "GET", next, jwt, NULL, &r);
    assert_int_equal(r.status, 200);
    v = body_json(&r);
    assert_int_equal(json_array_size(v), 1);
    assert_true(n < 3);
    ids[n++] =
        (int)json_integer_value(json_object_get(json_array_get(v, 0), "id"));
    json_decref(v);
    if (!link_rel(eg_it_http_header(&r, "link"), "next", next, sizeof(next))) {
      eg_it_http_resp_cleanup(&r);
      break;
    }
    assert_non_null(strstr(next, "cursor="));
    eg_it_http_resp_cleanup(&r);
  }
  assert_int_equal(n, 3);
  assert_int_equal(ids[0], 13);
  assert_int_equal(ids[1], 12);
  assert_int_equal(ids[2], 11);
  call(it, &s, "GET", "/app/hook/deliveries?status=failure", jwt, NULL, &r);
  v = body_json(&r);
  assert_int_equal(json_array_size(v), 1);
  assert_int_equal(
      json_integer_value(json_object_get(json_array_get(v, 0), "status_code")),
      502);
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  /* Redelivery: 202, recorded, and a new delivery with the same guid. */
  call(it, &s, "POST", "/app/hook/deliveries/12/attempts", jwt, NULL, &r);
  assert_int_equal(r.status, 202);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", "/app/hook/deliveries/99/attempts", jwt, NULL, &r);
  assert_int_equal(r.status, 404);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/app/hook/deliveries?per_page=1", jwt, NULL, &r);
  v = body_json(&r);
  assert_true(
      json_is_true(json_object_get(json_array_get(v, 0), "redelivery")));
  assert_int_equal(
      json_integer_value(json_object_get(json_array_get(v, 0), "status_code")),
      200);
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/app/hook/deliveries", NULL, NULL, &r);
  assert_int_equal(r.status, 401);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "GET", "/_sim/state", NULL, NULL, &r);
  v = body_json(&r);
  assert_int_equal(json_integer_value(json_object_get(
                       json_array_get(json_object_get(v, "redeliveries"), 0),
                       "delivery_id")),
                   12);
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
  stop(it, &s);
  eg_it_pass(it);
}

static void test_generate(void **state) {
  eg_it_t *it = *state;
  struct sim s;
  eg_it_http_resp_t r;
  json_t *gates, *g;
  size_t i;
  int approved = 0, rejected = 0;
  char path[512];

  start(it, &s,
        "{\"app\":{\"id\":" APP_ID "},\"generate\":{\"repos\":3,"
        "\"runs_per_repo\":40,\"reject_fraction\":0.5,"
        "\"installation_id\":" INST "}}",
        NULL);
  mint(it, &s, NULL, 201);
  call(it, &s, "GET", "/_sim/gates", NULL, NULL, &r);
  gates = body_json(&r);
  eg_it_http_resp_cleanup(&r);
  assert_int_equal(json_array_size(gates), 120);
  json_array_foreach(gates, i, g) {
    const char *expect = json_string_value(json_object_get(g, "expect"));
    if (strcmp(expect, "approved") == 0)
      approved++;
    else
      rejected++;
  }
  assert_true(approved > 20 && rejected > 20);
  /* An approvable gate has its evidence: the run and a successful gate
   * deployment for its sha. */
  json_array_foreach(gates, i, g) {
    json_t *v;
    if (strcmp(json_string_value(json_object_get(g, "expect")), "approved"))
      continue;
    snprintf(path, sizeof(path), "/repos/%s/%s/actions/runs/%lld",
             json_string_value(json_object_get(g, "owner")),
             json_string_value(json_object_get(g, "name")),
             (long long)json_integer_value(json_object_get(g, "run_id")));
    call(it, &s, "GET", path, s.token, NULL, &r);
    assert_int_equal(r.status, 200);
    eg_it_http_resp_cleanup(&r);
    snprintf(path, sizeof(path),
             "/repos/%s/%s/deployments?environment=release-gate&sha=%s",
             json_string_value(json_object_get(g, "owner")),
             json_string_value(json_object_get(g, "name")),
             json_string_value(json_object_get(g, "sha")));
    call(it, &s, "GET", path, s.token, NULL, &r);
    v = body_json(&r);
    assert_int_equal(json_array_size(v), 1);
    json_decref(v);
    eg_it_http_resp_cleanup(&r);
    break;
  }
  json_decref(gates);
  stop(it, &s);
  eg_it_pass(it);
}

/* Repositories dealt round-robin to consecutive installations: each
 * gate names its repository's installation, and a token of one
 * installation cannot cover another's repository. */
static void test_generate_installations(void **state) {
  eg_it_t *it = *state;
  struct sim s;
  eg_it_http_resp_t r;
  json_t *gates, *g;
  size_t i;
  char jwt[EG_JWT_SIZE];
  int ws;
  eg_it_proc_t *p;
  char *log;
  size_t len;
  const char *path;
  const char *bad[] = {"envgate-ghsim", "--scenario", NULL, NULL};
  eg_it_spawn_opts_t o = {.name = "bad-generate", .argv = bad};
  static const char *const bad_scenarios[][2] = {
      {"{\"generate\":{\"repos\":2,\"installations\":3}}",
       "generate.installations: must be 1..1000 and at most repos"},
      {"{\"generate\":{\"repos\":2000,\"installations\":1001}}",
       "generate.installations: must be 1..1000 and at most repos"},
      {"{\"generate\":{\"repos\":2,\"installations\":0}}",
       "generate.installations: must be a positive integer"},
  };

  start(it, &s,
        "{\"app\":{\"id\":" APP_ID "},\"generate\":{\"repos\":5,"
        "\"runs_per_repo\":2,\"installations\":2,"
        "\"installation_id\":" INST "}}",
        NULL);
  call(it, &s, "GET", "/_sim/gates", NULL, NULL, &r);
  gates = body_json(&r);
  eg_it_http_resp_cleanup(&r);
  assert_int_equal(json_array_size(gates), 10);
  json_array_foreach(gates, i, g) {
    json_int_t repo = json_integer_value(json_object_get(g, "repository_id"));
    json_int_t inst = json_integer_value(json_object_get(g, "installation_id"));
    assert_true(repo >= 700000000 && repo < 700000005);
    assert_int_equal(inst, 4242 + (repo - 700000000) % 2);
  }
  json_decref(gates);
  /* repo-1 (700000001) is in 4243, repo-2 in 4242. */
  jwt_at(&s, s.signer, APP_ID, (int64_t)time(NULL), jwt, sizeof(jwt));
  call(it, &s, "POST", "/app/installations/4243/access_tokens", jwt,
       "{\"repository_ids\":[700000001]}", &r);
  assert_int_equal(r.status, 201);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", "/app/installations/4243/access_tokens", jwt,
       "{\"repository_ids\":[700000002]}", &r);
  assert_int_equal(r.status, 422);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", "/app/installations/" INST "/access_tokens", jwt,
       "{\"repository_ids\":[700000002]}", &r);
  assert_int_equal(r.status, 201);
  eg_it_http_resp_cleanup(&r);
  call(it, &s, "POST", "/app/installations/4244/access_tokens", jwt, NULL, &r);
  assert_int_equal(r.status, 404);
  eg_it_http_resp_cleanup(&r);
  stop(it, &s);

  for (i = 0; i < sizeof(bad_scenarios) / sizeof(bad_scenarios[0]); i++) {
    EG_IT_MUST(it,
               eg_it_write_file(it, "bad-generate.json", bad_scenarios[i][0],
                                strlen(bad_scenarios[i][0]), &path));
    bad[2] = path;
    EG_IT_MUST(it, eg_it_run(it, &o, TIMEOUT, &ws, &p));
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 2);
    EG_IT_MUST(it, eg_it_proc_read_log(p, &log, &len));
    if (strstr(log, bad_scenarios[i][1]) == NULL)
      fail_msg("want \"%s\" in: %s", bad_scenarios[i][1], log);
    free(log);
  }
  eg_it_pass(it);
}

static void test_usage(void **state) {
  eg_it_t *it = *state;
  int ws;
  char *log;
  size_t len;
  eg_it_proc_t *p;
  const char *bad_scenario;
  static const char *const help[] = {"envgate-ghsim", "--help", NULL};
  static const char *const version[] = {"envgate-ghsim", "--version", NULL};
  static const char *const bad_opt[] = {"envgate-ghsim", "--bogus", "1", NULL};
  static const char *const bad_seed[] = {"envgate-ghsim", "--seed", "x", NULL};
  static const char *const bad_listen[] = {"envgate-ghsim", "--listen",
                                           "nohost", NULL};
  static const char *const missing[] = {"envgate-ghsim", "--scenario",
                                        "/nonexistent/s.json", NULL};
  const char *bad[] = {"envgate-ghsim", "--scenario", NULL, NULL};
  eg_it_spawn_opts_t o = {.name = "usage"};

  o.argv = help;
  EG_IT_MUST(it, eg_it_run(it, &o, TIMEOUT, &ws, NULL));
  assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  o.argv = version;
  EG_IT_MUST(it, eg_it_run(it, &o, TIMEOUT, &ws, NULL));
  assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  o.argv = bad_opt;
  EG_IT_MUST(it, eg_it_run(it, &o, TIMEOUT, &ws, &p));
  assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 2);
  EG_IT_MUST(it, eg_it_proc_read_log(p, &log, &len));
  assert_non_null(strstr(log, "envgate-ghsim: error: unknown option"));
  assert_int_equal(strchr(log, '\n') - log, (long)len - 1); /* one line */
  free(log);
  o.argv = bad_seed;
  EG_IT_MUST(it, eg_it_run(it, &o, TIMEOUT, &ws, NULL));
  assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 2);
  o.argv = bad_listen;
  EG_IT_MUST(it, eg_it_run(it, &o, TIMEOUT, &ws, NULL));
  assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 2);
  o.argv = missing;
  EG_IT_MUST(it, eg_it_run(it, &o, TIMEOUT, &ws, NULL));
  assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 2);
  EG_IT_MUST(it, eg_it_write_file(it, "bad.json", "{\"runs\":[{\"id\":1}]}",
                                  strlen("{\"runs\":[{\"id\":1}]}"),
                                  &bad_scenario));
  bad[2] = bad_scenario;
  o.argv = bad;
  EG_IT_MUST(it, eg_it_run(it, &o, TIMEOUT, &ws, &p));
  assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 2);
  EG_IT_MUST(it, eg_it_proc_read_log(p, &log, &len));
  assert_non_null(strstr(log, "runs[]"));
  free(log);
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_usage, eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_mint_and_use, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_jwt_rejected, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_token_scope, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_jobs_pagination, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_review_twice, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_faults, eg_it_setup, eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_seeded_faults, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_deliveries, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_generate, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_generate_installations, eg_it_setup,
                                      eg_it_teardown),
  };

  curl_global_init(CURL_GLOBAL_DEFAULT);
  return cmocka_run_group_tests(tests, NULL, NULL);
}

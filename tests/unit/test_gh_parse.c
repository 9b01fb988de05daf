/* Unit tests for the GitHub response parsers (on the saved REST examples in
 * fixtures/github, then on every malformed shape) and the job URL and web
 * origin helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/error.h"
#include "eg/gh_parse.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *name, size_t *len) {
  char path[1024];
  FILE *f;
  char *buf;
  long n;

  snprintf(path, sizeof(path), "%s/%s", EG_FIXTURES_DIR, name);
  f = fopen(path, "rb");
  if (f == NULL)
    fail_msg("cannot open fixture %s", path);
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

static void test_run_fixture(void **state) {
  size_t len;
  char *body = slurp("rest-get-workflow-run.200.json", &len);
  eg_gh_run_t run;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(eg_gh_parse_run(body, len, &run, err, sizeof(err)), EG_OK);
  assert_int_equal(run.id, 30433642);
  assert_string_equal(run.path, ".github/workflows/build.yml@main");
  assert_string_equal(run.event, "push");
  assert_string_equal(run.head_sha, "acb5820ced9479c074f688cc328bf03f341a511d");
  assert_string_equal(run.head_repository_full_name, "octo-org/octo-repo");
  assert_int_equal(run.head_repository_id, 217723378);
  assert_string_equal(run.triggering_actor_login, "octocat");
  eg_gh_run_cleanup(&run);
  eg_gh_run_cleanup(&run); /* idempotent */
  eg_gh_run_cleanup(NULL);
  free(body);
}

struct bad {
  const char *body;
  int rc;
  const char *err; /* substring */
};

static void expect_run(const struct bad *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    eg_gh_run_t run;
    char err[EG_ERRBUF_LEN] = "";
    int rc = eg_gh_parse_run(cases[i].body, strlen(cases[i].body), &run, err,
                             sizeof(err));

    if (rc != cases[i].rc || strstr(err, cases[i].err) == NULL)
      fail_msg("run case %zu (%s): rc %d err \"%s\"", i, cases[i].body, rc,
               err);
    if (rc == EG_OK)
      eg_gh_run_cleanup(&run);
    else
      assert_null(run.path);
  }
}

static void test_run_shapes(void **state) {
  static const struct bad cases[] = {
      /* Everything optional: missing and null fields are NULL/0. */
      {"{}", EG_OK, ""},
      {"{\"path\": null, \"event\": null, \"head_repository\": null, "
       "\"triggering_actor\": null}",
       EG_OK, ""},
      {"{\"head_repository\": {}, \"triggering_actor\": {}}", EG_OK, ""},
      {"{\"id\": 18446744073709551615}", EG_OK, ""},
      /* Not JSON: transient. */
      {"", EG_EPARSE, "workflow run: not well-formed JSON"},
      {"{\"path\": ", EG_EPARSE, "not well-formed JSON: malformed"},
      {"{\"path\": \"x", EG_EPARSE, "not well-formed JSON: unclosed string"},
      {"<html>502 Bad Gateway</html>", EG_EPARSE, "not well-formed"},
      {"{\"path\": \"\xff\"}", EG_EPARSE, "not well-formed"},
      {"{} x", EG_EPARSE, "not well-formed"},
      /* Wrong shape: permanent. */
      {"[]", EG_EINVAL, "workflow run: not a JSON object"},
      {"null", EG_EINVAL, "not a JSON object"},
      {"\"x\"", EG_EINVAL, "not a JSON object"},
      {"{\"path\": 1}", EG_EINVAL, "workflow run: path is not a string"},
      {"{\"event\": []}", EG_EINVAL, "event is not a string"},
      {"{\"head_sha\": true}", EG_EINVAL, "head_sha is not a string"},
      {"{\"id\": \"1\"}", EG_EINVAL, "id is not an integer >= 1"},
      {"{\"id\": 0}", EG_EINVAL, "id is not an integer >= 1"},
      {"{\"id\": -5}", EG_EINVAL, "id is not an integer"},
      {"{\"id\": 1.5}", EG_EINVAL, "id is not an integer"},
      /* Past 2^64 - 1: simdjson refuses the document, like event.c. */
      {"{\"id\": 99999999999999999999999}", EG_EPARSE, "out of range"},
      {"{\"id\": 1, \"path\": \"a\", \"id\": 2}", EG_EINVAL,
       "workflow run: id occurs twice"},
      {"{\"path\": \"a\\u0000b\"}", EG_EINVAL, "NUL character"},
      {"{\"head_repository\": \"o/r\"}", EG_EINVAL,
       "head_repository is not an object"},
      {"{\"head_repository\": {\"full_name\": 7}}", EG_EINVAL,
       "workflow run head_repository: full_name is not a string"},
      {"{\"head_repository\": {\"id\": \"7\"}}", EG_EINVAL,
       "head_repository: id is not an integer"},
      {"{\"triggering_actor\": []}", EG_EINVAL,
       "triggering_actor is not an object"},
      {"{\"triggering_actor\": {\"login\": 1}}", EG_EINVAL,
       "triggering_actor: login is not a string"},
  };
  eg_gh_run_t run;

  (void)state;
  expect_run(cases, sizeof(cases) / sizeof(cases[0]));
  assert_int_equal(eg_gh_parse_run("{}", 2, NULL, NULL, 0), EG_EINVAL);
  assert_int_equal(eg_gh_parse_run(NULL, 3, &run, NULL, 0), EG_EINVAL);
  assert_int_equal(eg_gh_parse_run(NULL, 0, &run, NULL, 0), EG_EPARSE);
  /* Only len bytes count. */
  assert_int_equal(eg_gh_parse_run("{}garbage", 2, &run, NULL, 0), EG_OK);
  eg_gh_run_cleanup(&run);
}

static void test_job_fixture(void **state) {
  size_t len;
  char *body = slurp("rest-get-job-for-workflow-run.200.json", &len);
  eg_gh_job_t job;

  (void)state;
  assert_int_equal(eg_gh_parse_job(body, len, &job, NULL, 0), EG_OK);
  assert_int_equal(job.id, 399444496);
  assert_int_equal(job.run_id, 29679449);
  assert_string_equal(job.name, "build");
  assert_string_equal(job.head_sha, "f83a356604ae3c5d03e1b46ef4d1ca77d64a90b0");
  assert_string_equal(job.status, "completed");
  assert_string_equal(job.conclusion, "success");
  eg_gh_job_cleanup(&job);
  eg_gh_job_cleanup(NULL);
  free(body);
}

static void test_job_shapes(void **state) {
  static const struct bad cases[] = {
      {"{\"id\": 1, \"run_id\": 2, \"name\": \"n\", \"head_sha\": \"s\"}",
       EG_OK, ""},
      {"{\"id\": 1, \"run_id\": 2, \"name\": \"n\", \"head_sha\": \"s\", "
       "\"conclusion\": null, \"status\": null}",
       EG_OK, ""},
      {"{\"run_id\": 2, \"name\": \"n\", \"head_sha\": \"s\"}", EG_EINVAL,
       "workflow job: id is missing"},
      {"{\"id\": 1, \"name\": \"n\", \"head_sha\": \"s\"}", EG_EINVAL,
       "run_id is missing"},
      {"{\"id\": 1, \"run_id\": 2, \"head_sha\": \"s\"}", EG_EINVAL,
       "name is missing"},
      {"{\"id\": 1, \"run_id\": 2, \"name\": \"n\"}", EG_EINVAL,
       "head_sha is missing"},
      {"{\"id\": 1, \"run_id\": 2, \"name\": null, \"head_sha\": \"s\"}",
       EG_EINVAL, "name is missing"},
      {"{\"id\": 1, \"run_id\": 2, \"name\": \"n\", \"head_sha\": \"s\", "
       "\"conclusion\": 3}",
       EG_EINVAL, "conclusion is not a string"},
      {"{\"id\": 1, \"run_id\": 2, \"name\": \"n\", \"head_sha\": \"s\", "
       "\"status\": {}}",
       EG_EINVAL, "status is not a string"},
      {"{\"id\": 1, \"run_id\": 0, \"name\": \"n\", \"head_sha\": \"s\"}",
       EG_EINVAL, "run_id is not an integer >= 1"},
      {"[1]", EG_EINVAL, "not a JSON object"},
      {"{\"id\": 1", EG_EPARSE, "not well-formed"},
  };
  eg_gh_job_t job;

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char err[EG_ERRBUF_LEN] = "";
    int rc = eg_gh_parse_job(cases[i].body, strlen(cases[i].body), &job, err,
                             sizeof(err));

    if (rc != cases[i].rc || strstr(err, cases[i].err) == NULL)
      fail_msg("job case %zu: rc %d err \"%s\"", i, rc, err);
    if (rc == EG_OK)
      eg_gh_job_cleanup(&job);
    else
      assert_null(job.name);
  }
  assert_int_equal(eg_gh_parse_job("{}", 2, NULL, NULL, 0), EG_EINVAL);
}

static void test_jobs_page(void **state) {
  size_t len;
  char *body = slurp("rest-list-jobs-for-workflow-run.200.json", &len);
  eg_gh_jobs_page_t page;
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(eg_gh_parse_jobs_page(body, len, &page, err, sizeof(err)),
                   EG_OK);
  assert_true(page.has_total_count);
  assert_int_equal(page.total_count, 1);
  assert_int_equal(page.njobs, 1);
  assert_string_equal(page.jobs[0].name, "build");
  assert_int_equal(page.jobs[0].run_id, 29679449);
  eg_gh_jobs_page_cleanup(&page);
  eg_gh_jobs_page_cleanup(NULL);
  free(body);

  assert_int_equal(
      eg_gh_parse_jobs_page("{\"jobs\": []}", 12, &page, err, sizeof(err)),
      EG_OK);
  assert_false(page.has_total_count);
  assert_int_equal(page.njobs, 0);
  assert_null(page.jobs);
  eg_gh_jobs_page_cleanup(&page);

  {
    static const struct bad cases[] = {
        {"{}", EG_EINVAL, "workflow jobs page: jobs is missing"},
        {"{\"jobs\": {}}", EG_EINVAL, "jobs is not an array"},
        {"{\"jobs\": [], \"total_count\": -1}", EG_EINVAL,
         "total_count is not an integer >= 0"},
        {"{\"jobs\": [], \"total_count\": null}", EG_EINVAL,
         "total_count is missing"},
        {"{\"jobs\": [{\"id\": 1, \"run_id\": 2, \"name\": \"a\", "
         "\"head_sha\": \"s\"}, {\"id\": 2}]}",
         EG_EINVAL, "workflow jobs page: job: run_id is missing"},
        {"{\"jobs\": [7]}", EG_EINVAL, "job: not a JSON object"},
        {"[]", EG_EINVAL, "not a JSON object"},
        {"{\"jobs\": [", EG_EPARSE, "not well-formed"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      int rc = eg_gh_parse_jobs_page(cases[i].body, strlen(cases[i].body),
                                     &page, err, sizeof(err));

      if (rc != cases[i].rc || strstr(err, cases[i].err) == NULL)
        fail_msg("jobs case %zu: rc %d err \"%s\"", i, rc, err);
      assert_int_equal(page.njobs, 0);
      assert_null(page.jobs);
    }
  }
  assert_int_equal(eg_gh_parse_jobs_page("{}", 2, NULL, NULL, 0), EG_EINVAL);
}

static void test_deployments(void **state) {
  size_t len;
  char *body = slurp("rest-list-deployments.200.json", &len);
  eg_gh_deployments_t list;
  char err[EG_ERRBUF_LEN];
  static const struct bad cases[] = {
      {"{}", EG_EINVAL, "deployments: not a JSON array"},
      {"[{\"sha\": \"a\"}]", EG_EINVAL, "deployment: id is missing"},
      {"[{\"id\": 1}, {\"id\": 2, \"sha\": 5}]", EG_EINVAL,
       "deployment: sha is not a string"},
      {"[{\"id\": 1, \"environment\": false}]", EG_EINVAL,
       "environment is not a string"},
      {"[1]", EG_EINVAL, "deployment: not a JSON object"},
      {"[{\"id\": 1},", EG_EPARSE, "not well-formed"},
  };

  (void)state;
  assert_int_equal(eg_gh_parse_deployments(body, len, &list, err, sizeof(err)),
                   EG_OK);
  assert_int_equal(list.n, 1);
  assert_int_equal(list.items[0].id, 1);
  assert_string_equal(list.items[0].sha,
                      "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d");
  assert_string_equal(list.items[0].environment, "production");
  eg_gh_deployments_cleanup(&list);
  eg_gh_deployments_cleanup(NULL);
  free(body);

  assert_int_equal(eg_gh_parse_deployments("[]", 2, &list, err, sizeof(err)),
                   EG_OK);
  assert_int_equal(list.n, 0);
  eg_gh_deployments_cleanup(&list);
  assert_int_equal(eg_gh_parse_deployments("[{\"id\": 3, \"sha\": null}]", 24,
                                           &list, err, sizeof(err)),
                   EG_OK);
  assert_null(list.items[0].sha);
  assert_null(list.items[0].environment);
  eg_gh_deployments_cleanup(&list);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = eg_gh_parse_deployments(cases[i].body, strlen(cases[i].body),
                                     &list, err, sizeof(err));

    if (rc != cases[i].rc || strstr(err, cases[i].err) == NULL)
      fail_msg("deployments case %zu: rc %d err \"%s\"", i, rc, err);
    assert_int_equal(list.n, 0);
  }
  assert_int_equal(eg_gh_parse_deployments("[]", 2, NULL, NULL, 0), EG_EINVAL);
}

static void test_statuses(void **state) {
  size_t len;
  char *body = slurp("rest-list-deployment-statuses.200.json", &len);
  eg_gh_status_t st;
  bool found = true;
  char err[EG_ERRBUF_LEN];
  static const struct bad cases[] = {
      {"{}", EG_EINVAL, "deployment statuses: not a JSON array"},
      {"[{}]", EG_EINVAL, "deployment status: state is missing"},
      {"[{\"state\": 1}]", EG_EINVAL, "state is not a string"},
      {"[{\"state\": \"success\", \"log_url\": 1}]", EG_EINVAL,
       "log_url is not a string"},
      {"[{\"state\": \"success\", \"target_url\": []}]", EG_EINVAL,
       "target_url is not a string"},
      {"[\"success\"]", EG_EINVAL, "deployment status: not a JSON object"},
      {"[{\"state\": \"success\"", EG_EPARSE, "not well-formed"},
  };

  (void)state;
  assert_int_equal(
      eg_gh_parse_latest_status(body, len, &st, &found, err, sizeof(err)),
      EG_OK);
  assert_true(found);
  assert_int_equal(st.id, 1);
  assert_string_equal(st.state, "success");
  assert_string_equal(st.log_url, "https://example.com/deployment/42/output");
  assert_string_equal(st.target_url,
                      "https://example.com/deployment/42/output");
  eg_gh_status_cleanup(&st);
  eg_gh_status_cleanup(NULL);
  free(body);

  /* Newest first: only the first element counts. */
  body = "[{\"state\": \"failure\"}, {\"state\": \"success\"}]";
  assert_int_equal(eg_gh_parse_latest_status(body, strlen(body), &st, &found,
                                             err, sizeof(err)),
                   EG_OK);
  assert_true(found);
  assert_string_equal(st.state, "failure");
  assert_null(st.log_url);
  assert_null(st.target_url);
  eg_gh_status_cleanup(&st);
  /* A later malformed element is not read either. */
  body = "[{\"state\": \"queued\"}, {\"state\": 5}]";
  assert_int_equal(eg_gh_parse_latest_status(body, strlen(body), &st, &found,
                                             err, sizeof(err)),
                   EG_OK);
  eg_gh_status_cleanup(&st);

  assert_int_equal(
      eg_gh_parse_latest_status("[]", 2, &st, &found, err, sizeof(err)), EG_OK);
  assert_false(found);
  assert_null(st.state);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = eg_gh_parse_latest_status(cases[i].body, strlen(cases[i].body),
                                       &st, &found, err, sizeof(err));

    if (rc != cases[i].rc || strstr(err, cases[i].err) == NULL)
      fail_msg("statuses case %zu: rc %d err \"%s\"", i, rc, err);
    assert_false(found);
    assert_null(st.state);
  }
  assert_int_equal(eg_gh_parse_latest_status("[]", 2, NULL, &found, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_gh_parse_latest_status("[]", 2, &st, NULL, NULL, 0),
                   EG_EINVAL);
}

static void test_approvals(void **state) {
  size_t len;
  char *body = slurp("rest-get-reviews-for-run-approvals.200.json", &len);
  eg_gh_approvals_t list;
  char err[EG_ERRBUF_LEN];
  static const struct bad cases[] = {
      {"{}", EG_EINVAL, "approvals: not a JSON array"},
      {"[{}]", EG_EINVAL, "approval: state is missing"},
      {"[{\"state\": \"approved\", \"user\": 1}]", EG_EINVAL,
       "approval: user is not an object"},
      {"[{\"state\": \"approved\", \"user\": {\"login\": 1}}]", EG_EINVAL,
       "approval user: login is not a string"},
      {"[{\"state\": \"approved\", \"environments\": {}}]", EG_EINVAL,
       "environments is not an array"},
      {"[{\"state\": \"approved\", \"environments\": [\"x\"]}]", EG_EINVAL,
       "approval environment: not a JSON object"},
      {"[{\"state\": \"approved\", \"environments\": [{\"name\": \"a\"}, "
       "{\"name\": 2}]}]",
       EG_EINVAL, "approval environment: name is not a string"},
      {"[{\"state\": \"approved\"}, 3]", EG_EINVAL,
       "approval: not a JSON object"},
      {"[", EG_EPARSE, "not well-formed"},
  };

  (void)state;
  assert_int_equal(eg_gh_parse_approvals(body, len, &list, err, sizeof(err)),
                   EG_OK);
  assert_int_equal(list.n, 1);
  assert_string_equal(list.items[0].state, "approved");
  assert_string_equal(list.items[0].login, "octocat");
  assert_int_equal(list.items[0].nenvironments, 1);
  assert_string_equal(list.items[0].environments[0], "staging");
  eg_gh_approvals_cleanup(&list);
  eg_gh_approvals_cleanup(NULL);
  free(body);

  body = "[{\"state\": \"rejected\", \"user\": null, \"environments\": "
         "[{\"id\": 1}, {\"name\": \"prod\"}]}, {\"state\": \"approved\", "
         "\"environments\": null}]";
  assert_int_equal(
      eg_gh_parse_approvals(body, strlen(body), &list, err, sizeof(err)),
      EG_OK);
  assert_int_equal(list.n, 2);
  assert_null(list.items[0].login);
  assert_int_equal(list.items[0].nenvironments, 1);
  assert_string_equal(list.items[0].environments[0], "prod");
  assert_int_equal(list.items[1].nenvironments, 0);
  eg_gh_approvals_cleanup(&list);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = eg_gh_parse_approvals(cases[i].body, strlen(cases[i].body), &list,
                                   err, sizeof(err));

    if (rc != cases[i].rc || strstr(err, cases[i].err) == NULL)
      fail_msg("approvals case %zu: rc %d err \"%s\"", i, rc, err);
    assert_int_equal(list.n, 0);
  }
  assert_int_equal(eg_gh_parse_approvals("[]", 2, NULL, NULL, 0), EG_EINVAL);
}

static void test_token(void **state) {
  size_t len;
  char *body = slurp("rest-create-installation-access-token.201.json", &len);
  eg_gh_token_t tok;
  char err[EG_ERRBUF_LEN];
  char long_token[EG_GH_INSTALLATION_TOKEN_MAX + 40];
  char *big;
  static const struct bad cases[] = {
      {"[]", EG_EINVAL, "installation token: not a JSON object"},
      {"{\"expires_at\": \"2016-07-11T22:14:10Z\"}", EG_EINVAL,
       "token is missing"},
      {"{\"token\": null, \"expires_at\": \"2016-07-11T22:14:10Z\"}", EG_EINVAL,
       "token is missing"},
      {"{\"token\": 7, \"expires_at\": \"2016-07-11T22:14:10Z\"}", EG_EINVAL,
       "token is not a string"},
      {"{\"token\": \"\", \"expires_at\": \"2016-07-11T22:14:10Z\"}", EG_EINVAL,
       "token is not 1..4096 bytes"},
      {"{\"token\": \"ghs_a b\", \"expires_at\": \"2016-07-11T22:14:10Z\"}",
       EG_EINVAL, "token has a space or a non-printable byte"},
      {"{\"token\": \"ghs_a\\r\\nX-Evil: 1\", \"expires_at\": "
       "\"2016-07-11T22:14:10Z\"}",
       EG_EINVAL, "token has a space or a non-printable byte"},
      {"{\"token\": \"ghs_\u00e9\", \"expires_at\": \"2016-07-11T22:14:10Z\"}",
       EG_EINVAL, "token has a space or a non-printable byte"},
      {"{\"token\": \"ghs_a\"}", EG_EINVAL, "expires_at is not an RFC 3339"},
      {"{\"token\": \"ghs_a\", \"expires_at\": 1468275250}", EG_EINVAL,
       "expires_at is not an RFC 3339"},
      {"{\"token\": \"ghs_a\", \"expires_at\": \"2016-07-11 22:14:10\"}",
       EG_EINVAL, "expires_at is not an RFC 3339"},
      {"{\"token\": \"ghs_a\", \"expires_at\": \"2016-07-11T22:14:10+02:00\"}",
       EG_EINVAL, "expires_at is not an RFC 3339"},
      {"{\"token\": \"ghs_a\", \"expires_at\": \"2016-07-11T22:14:10Z \"}",
       EG_EINVAL, "expires_at is not an RFC 3339"},
      {"{\"token\": \"ghs_a\\u0000b\", \"expires_at\": "
       "\"2016-07-11T22:14:10Z\"}",
       EG_EINVAL, "token has a space or a non-printable byte"},
      {"{\"token\": \"ghs_a\", \"expires_at\": "
       "\"2016-07-11T22:14:10Z\\u0000x\"}",
       EG_EINVAL, "expires_at is not an RFC 3339"},
      {"{\"token\": \"ghs_a\"", EG_EPARSE, "not well-formed"},
      {"", EG_EPARSE, "not well-formed"},
  };

  (void)state;
  assert_int_equal(eg_gh_parse_token(body, len, &tok, err, sizeof(err)), EG_OK);
  assert_string_equal(tok.token, "ghs_16C7e42F292c6912E7710c838347Ae178B4a");
  assert_int_equal(tok.expires_at, 1468275250); /* 2016-07-11T22:14:10Z */
  eg_gh_token_cleanup(&tok);
  assert_null(tok.token);
  eg_gh_token_cleanup(&tok); /* idempotent */
  eg_gh_token_cleanup(NULL);
  free(body);

  /* Milliseconds are accepted and dropped. */
  body = "{\"token\": \"t\", \"expires_at\": \"2016-07-11T22:14:10.999Z\"}";
  assert_int_equal(
      eg_gh_parse_token(body, strlen(body), &tok, err, sizeof(err)), EG_OK);
  assert_string_equal(tok.token, "t");
  assert_int_equal(tok.expires_at, 1468275250);
  eg_gh_token_cleanup(&tok);

  /* The longest token passes, one byte more does not. */
  big = malloc(EG_GH_INSTALLATION_TOKEN_MAX + 128);
  assert_non_null(big);
  memset(long_token, 'a', sizeof(long_token));
  for (size_t n = EG_GH_INSTALLATION_TOKEN_MAX;
       n <= EG_GH_INSTALLATION_TOKEN_MAX + 1; n++) {
    int blen = snprintf(big, EG_GH_INSTALLATION_TOKEN_MAX + 128,
                        "{\"token\": \"%.*s\", \"expires_at\": "
                        "\"2016-07-11T22:14:10Z\"}",
                        (int)n, long_token);
    int rc = eg_gh_parse_token(big, (size_t)blen, &tok, err, sizeof(err));

    if (n == EG_GH_INSTALLATION_TOKEN_MAX) {
      assert_int_equal(rc, EG_OK);
      assert_int_equal(strlen(tok.token), n);
      eg_gh_token_cleanup(&tok);
    } else {
      assert_int_equal(rc, EG_EINVAL);
      assert_null(tok.token);
    }
  }
  free(big);

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = eg_gh_parse_token(cases[i].body, strlen(cases[i].body), &tok, err,
                               sizeof(err));

    if (rc != cases[i].rc || strstr(err, cases[i].err) == NULL)
      fail_msg("token case %zu: rc %d err \"%s\"", i, rc, err);
    /* The message never quotes the token. */
    assert_null(strstr(err, "ghs_"));
    assert_null(tok.token);
  }
  assert_int_equal(eg_gh_parse_token("{}", 2, NULL, NULL, 0), EG_EINVAL);
  assert_int_equal(eg_gh_parse_token(NULL, 3, &tok, err, sizeof(err)),
                   EG_EINVAL);
}

static void test_job_url(void **state) {
  static const char *const good[] = {
      /* ost's test URL. */
      "https://github.com/zaniebot/release-authenticator-example/actions/"
      "runs/23625057533/job/69582278191",
      "HTTPS://GitHub.COM/zaniebot/release-authenticator-example/actions/"
      "runs/23625057533/job/69582278191",
      "https://github.com:443/zaniebot/release-authenticator-example/actions/"
      "runs/23625057533/job/69582278191",
      "https://github.com/zaniebot/release-authenticator-example/actions/"
      "runs/23625057533/job/69582278191?pr=12",
      "https://github.com/zaniebot/release-authenticator-example/actions/"
      "runs/23625057533/job/69582278191#step:2:1",
  };
  static const char *const bad[] = {
      "",
      "github.com/o/r/actions/runs/1/job/2",
      "ftp://github.com/o/r/actions/runs/1/job/2",
      "https://attacker.invalid/o/r/actions/runs/1/job/2",
      "https://github.com.attacker.invalid/o/r/actions/runs/1/job/2",
      "https://github.com@attacker.invalid/o/r/actions/runs/1/job/2",
      "https://user@github.com/o/r/actions/runs/1/job/2",
      "http://github.com/o/r/actions/runs/1/job/2",
      "https://github.com:8443/o/r/actions/runs/1/job/2",
      "https://github.com:/o/r/actions/runs/1/job/2",
      "https://github.com:99999/o/r/actions/runs/1/job/2",
      "https:///o/r/actions/runs/1/job/2",
      "https://github.com/o/r/actions/runs/1/job/2/",
      "https://github.com/o/r/actions/runs/1/job/2/x",
      "https://github.com/x/o/r/actions/runs/1/job/2",
      "https://github.com//r/actions/runs/1/job/2",
      "https://github.com/o//actions/runs/1/job/2",
      "https://github.com/o/r/actions/runs/1/jobs/2",
      "https://github.com/o/r/actions/run/1/job/2",
      "https://github.com/o/r/action/runs/1/job/2",
      "https://github.com/o/r/actions/runs/0/job/2",
      "https://github.com/o/r/actions/runs/1/job/0",
      "https://github.com/o/r/actions/runs/-1/job/2",
      "https://github.com/o/r/actions/runs/1/job/2x",
      "https://github.com/o/r/actions/runs/18446744073709551616/job/2",
      "https://github.com/o%2Fx/r/actions/runs/1/job/2",
      "https://github.com/./r/actions/runs/1/job/2",
      "https://github.com/o/../actions/runs/1/job/2",
      "https://github.com/o/r/actions/runs/1/job",
      "https://github.com/o/r/runs/1/job/2",
      "https://github.com",
      "https://example.com/deployment/42/output",
  };
  eg_gh_job_ref_t ref;

  (void)state;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    if (eg_gh_parse_job_url(good[i], "https://github.com", &ref) != EG_OK)
      fail_msg("refused %s", good[i]);
    assert_string_equal(ref.owner, "zaniebot");
    assert_string_equal(ref.repo, "release-authenticator-example");
    assert_int_equal(ref.run_id, 23625057533ULL);
    assert_int_equal(ref.job_id, 69582278191ULL);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (eg_gh_parse_job_url(bad[i], "https://github.com", &ref) != EG_EINVAL)
      fail_msg("accepted %s", bad[i]);
    assert_int_equal(ref.job_id, 0);
    assert_string_equal(ref.owner, "");
  }
  /* Limits of ids and names. */
  assert_int_equal(eg_gh_parse_job_url("https://github.com/o/r/actions/runs/"
                                       "18446744073709551615/job/007",
                                       "https://github.com", &ref),
                   EG_OK);
  assert_int_equal(ref.run_id, UINT64_MAX);
  assert_int_equal(ref.job_id, 7);
  {
    char url[512], name[102];

    memset(name, 'n', 100);
    name[100] = '\0';
    snprintf(url, sizeof(url), "https://github.com/%s/r/actions/runs/1/job/2",
             name);
    assert_int_equal(eg_gh_parse_job_url(url, "https://github.com", &ref),
                     EG_OK);
    assert_string_equal(ref.owner, name);
    name[100] = 'n';
    name[101] = '\0';
    snprintf(url, sizeof(url), "https://github.com/%s/r/actions/runs/1/job/2",
             name);
    assert_int_equal(eg_gh_parse_job_url(url, "https://github.com", &ref),
                     EG_EINVAL);
  }
  /* GHES origins, with a port. */
  assert_int_equal(eg_gh_parse_job_url("https://ghe.corp:8443/o/r/actions/"
                                       "runs/1/job/2",
                                       "https://ghe.corp:8443", &ref),
                   EG_OK);
  assert_int_equal(eg_gh_parse_job_url("https://ghe.corp/o/r/actions/runs/1/"
                                       "job/2",
                                       "https://ghe.corp:8443", &ref),
                   EG_EINVAL);
  assert_int_equal(eg_gh_parse_job_url("http://127.0.0.1:9000/o/r/actions/"
                                       "runs/1/job/2",
                                       "http://127.0.0.1:9000", &ref),
                   EG_OK);
  /* Arguments and a bad origin. */
  assert_int_equal(eg_gh_parse_job_url(NULL, "https://github.com", &ref),
                   EG_EINVAL);
  assert_int_equal(eg_gh_parse_job_url(good[0], NULL, &ref), EG_EINVAL);
  assert_int_equal(eg_gh_parse_job_url(good[0], "https://github.com", NULL),
                   EG_EINVAL);
  assert_int_equal(eg_gh_parse_job_url(good[0], "github.com", &ref), EG_EINVAL);
}

static void test_web_origin(void **state) {
  static const struct {
    const char *api;
    const char *origin;
  } cases[] = {
      {"https://api.github.com", "https://github.com"},
      {"https://api.github.com/", "https://github.com"},
      {"https://ghe.corp/api/v3", "https://ghe.corp"},
      {"https://ghe.corp:8443/api/v3/", "https://ghe.corp:8443"},
      {"http://127.0.0.1:8081", "https://github.com"},
      {"http://localhost:8081/api/v3", "http://localhost:8081"},
  };
  char out[EG_GH_ORIGIN_LEN];

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(eg_gh_web_origin(cases[i].api, out, sizeof(out)), EG_OK);
    assert_string_equal(out, cases[i].origin);
  }
  assert_int_equal(eg_gh_web_origin("api.github.com", out, sizeof(out)),
                   EG_EINVAL);
  assert_string_equal(out, "");
  assert_int_equal(eg_gh_web_origin(NULL, out, sizeof(out)), EG_EINVAL);
  assert_int_equal(eg_gh_web_origin("https://x", NULL, 4), EG_EINVAL);
  assert_int_equal(eg_gh_web_origin("https://api.github.com", out, 18),
                   EG_ERANGE);
  assert_int_equal(eg_gh_web_origin("https://api.github.com", out, 19), EG_OK);
  assert_string_equal(out, "https://github.com");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_fixture), cmocka_unit_test(test_run_shapes),
      cmocka_unit_test(test_job_fixture), cmocka_unit_test(test_job_shapes),
      cmocka_unit_test(test_jobs_page),   cmocka_unit_test(test_deployments),
      cmocka_unit_test(test_statuses),    cmocka_unit_test(test_approvals),
      cmocka_unit_test(test_token),       cmocka_unit_test(test_job_url),
      cmocka_unit_test(test_web_origin),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}

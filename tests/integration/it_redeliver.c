/* envgate-redeliver end to end against the GitHub simulator and a private
 * redis-server: it asks ghsim for exactly the failed
 * deployment_protection_rule guids (once each, the newest attempt) and
 * nothing else, pages through the list, keeps its place in Redis, reports
 * refused redeliveries and a refused JWT with exit 1, and a dry run changes
 * nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "eg/error.h"
#include "eg/timeutil.h"
#include "harness.h"

#define APP_ID    "123456"
#define STATE_KEY "envgate:redeliver:v1:last_delivered_at"
#define DPR       "deployment_protection_rule"
#define BULK      130 /* successful deliveries: two pages of 100 in all */

struct env {
  eg_it_redis_t redis;
  eg_it_proc_t *ghsim;
  const char *url;
  int64_t now;           /* seconds, the scenario's reference */
  char since[32];        /* --since: 3 h before now */
  char newest[32];       /* the newest scenario delivery, as stored */
  uint64_t g1_id, g5_id; /* the two deliveries to redeliver */
};

/* Writes an RSA key pair: <name>.pem and <name>.pub.pem. */
static void make_key(eg_it_t *it, const char *name) {
  EVP_PKEY *pk = EVP_RSA_gen(2048);
  BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
  char file[64];
  char *p;
  long n;

  assert_non_null(pk);
  assert_int_equal(
      PEM_write_bio_PrivateKey(priv, pk, NULL, NULL, 0, NULL, NULL), 1);
  assert_int_equal(PEM_write_bio_PUBKEY(pub, pk), 1);
  n = BIO_get_mem_data(priv, &p);
  snprintf(file, sizeof(file), "%s.pem", name);
  EG_IT_MUST(it, eg_it_write_file(it, file, p, (size_t)n, NULL));
  n = BIO_get_mem_data(pub, &p);
  snprintf(file, sizeof(file), "%s.pub.pem", name);
  EG_IT_MUST(it, eg_it_write_file(it, file, p, (size_t)n, NULL));
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(pk);
}

/* "YYYY-MM-DDTHH:MM:SSZ" of now_s + offset_s. */
static void at(int64_t now_s, int64_t offset_s, char *out, size_t len) {
  char full[EG_RFC3339_SIZE];

  assert_int_equal(
      eg_time_rfc3339((now_s + offset_s) * 1000, full, sizeof(full)), EG_OK);
  snprintf(out, len, "%.19sZ", full);
}

static size_t delivery(char *out,
                       size_t len,
                       uint64_t id,
                       const char *guid,
                       int code,
                       const char *event,
                       const char *when) {
  return (size_t)snprintf(out, len,
                          "{\"id\":%llu,\"guid\":\"%s\",\"status_code\":%d,"
                          "\"event\":\"%s\",\"delivered_at\":\"%s\"},",
                          (unsigned long long)id, guid, code, event, when);
}

/* Starts redis-server and ghsim with the scenario, oldest delivery first
 * (the simulator lists them newest first):
 *   g6  dpr 502, 4 h ago: before the window
 *   g1  dpr 502: redeliver
 *   g2  dpr 503, then 200 (a redelivery that worked): nothing
 *   g3  dpr 200: nothing
 *   g4  "issues" 502: not ours
 *   g5  dpr 500, then 502: redeliver its newest attempt
 *   BULK successful dpr deliveries, so that the list takes two pages. */
static void start(eg_it_t *it, struct env *e) {
  size_t cap = 64 * 1024, len = 0;
  char *text = malloc(cap), when[32], guid[48];
  const char *path, *addr = eg_it_path(it, "ghsim.addr");
  uint64_t id = 1;
  eg_it_spawn_opts_t o = {0};
  const char *argv[16];

  memset(e, 0, sizeof(*e));
  assert_non_null(text);
  make_key(it, "app");
  make_key(it, "other");
  EG_IT_MUST(it, eg_it_redis_start(it, &e->redis));
  e->now = eg_time_epoch_ms() / 1000;
  at(e->now, -3 * 3600, e->since, sizeof(e->since));

  len += (size_t)snprintf(text + len, cap - len,
                          "{\"app\":{\"id\":" APP_ID "},\"hook_deliveries\":[");
  at(e->now, -4 * 3600, when, sizeof(when));
  len += delivery(text + len, cap - len, id++, "g6", 502, DPR, when);
  at(e->now, -2 * 3600, when, sizeof(when));
  e->g1_id = id;
  len += delivery(text + len, cap - len, id++, "g1", 502, DPR, when);
  len += delivery(text + len, cap - len, id++, "g2", 503, DPR, when);
  len += delivery(text + len, cap - len, id++, "g2", 200, DPR, when);
  len += delivery(text + len, cap - len, id++, "g3", 200, DPR, when);
  len += delivery(text + len, cap - len, id++, "g4", 502, "issues", when);
  len += delivery(text + len, cap - len, id++, "g5", 500, DPR, when);
  e->g5_id = id;
  len += delivery(text + len, cap - len, id++, "g5", 502, DPR, when);
  for (int i = 0; i < BULK; i++) {
    at(e->now, -3600 + i, when, sizeof(when));
    snprintf(guid, sizeof(guid), "bulk-%03d", i);
    len += delivery(text + len, cap - len, id++, guid, 200, DPR, when);
  }
  snprintf(e->newest, sizeof(e->newest), "%.19s.000Z", when);
  len--; /* the last comma */
  len += (size_t)snprintf(text + len, cap - len, "]}");
  assert_true(len < cap);
  EG_IT_MUST(it, eg_it_write_file(it, "scenario.json", text, len, &path));
  free(text);

  argv[0] = "envgate-ghsim";
  argv[1] = "--listen";
  argv[2] = "127.0.0.1:0";
  argv[3] = "--addr-file";
  argv[4] = addr;
  argv[5] = "--scenario";
  argv[6] = path;
  argv[7] = "--app-public-key";
  argv[8] = eg_it_path(it, "app.pub.pem");
  argv[9] = NULL;
  o.name = "ghsim";
  o.argv = argv;
  o.ready_file = addr;
  EG_IT_MUST(it, eg_it_spawn(it, &o, &e->ghsim));
  e->url = eg_it_proc_addr(e->ghsim);
  assert_non_null(e->url);
}

/* Runs envgate-redeliver; returns its exit code, stdout and stderr. */
static int run(eg_it_t *it,
               const struct env *e,
               const char *key,
               const char *redis_url,
               const char *const *args,
               char **out,
               char **err) {
  char api[256], redis[256], keyfile[1024];
  const char *env[] = {"ENVGATE_APP_ID=" APP_ID, api, redis, keyfile, NULL};
  const char *argv[16] = {"envgate-redeliver"};
  eg_it_spawn_opts_t o = {.name = "redeliver", .argv = argv, .env = env};
  eg_it_proc_t *p;
  size_t len;
  int status, n = 1;

  snprintf(api, sizeof(api), "ENVGATE_GITHUB_API_URL=%s", e->url);
  snprintf(redis, sizeof(redis), "ENVGATE_REDIS_URL=%s",
           redis_url != NULL ? redis_url : e->redis.url);
  snprintf(keyfile, sizeof(keyfile), "ENVGATE_APP_PRIVATE_KEY_FILE=%s",
           eg_it_path(it, key));
  for (; args != NULL && *args != NULL; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  EG_IT_MUST(it, eg_it_run(it, &o, 60000, &status, &p));
  EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_out_path(p), out, &len));
  EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_log_path(p), err, &len));
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* The delivery ids ghsim was asked to redeliver, in order, as "1,7". */
static void
redeliveries(eg_it_t *it, const struct env *e, char *out, size_t len) {
  char url[512];
  eg_it_http_resp_t r;
  json_t *v, *arr, *x;
  size_t i, used = 0;

  snprintf(url, sizeof(url), "%s/_sim/state", e->url);
  EG_IT_MUST(it, eg_it_http(it, "GET", url, NULL, NULL, 0, 10000, &r));
  assert_int_equal(r.status, 200);
  v = json_loadb(r.body, r.body_len, 0, NULL);
  assert_non_null(v);
  arr = json_object_get(v, "redeliveries");
  assert_true(json_is_array(arr));
  out[0] = '\0';
  json_array_foreach(arr, i, x) {
    used += (size_t)snprintf(
        out + used, len - used, "%s%lld", i > 0 ? "," : "",
        (long long)json_integer_value(json_object_get(x, "delivery_id")));
  }
  json_decref(v);
  eg_it_http_resp_cleanup(&r);
}

/* The value of the state key ("" when unset). */
static void state(const struct env *e, char *out, size_t len) {
  redisContext *rc = redisConnect("127.0.0.1", e->redis.port);
  redisReply *reply;

  assert_non_null(rc);
  assert_int_equal(rc->err, 0);
  reply = redisCommand(rc, "GET %s", STATE_KEY);
  assert_non_null(reply);
  snprintf(out, len, "%s", reply->type == REDIS_REPLY_STRING ? reply->str : "");
  freeReplyObject(reply);
  redisFree(rc);
}

static void
sim_post(eg_it_t *it, const struct env *e, const char *path, const char *body) {
  char url[512];
  eg_it_http_resp_t r;

  snprintf(url, sizeof(url), "%s%s", e->url, path);
  EG_IT_MUST(it, eg_it_http(it, "POST", url, NULL, body,
                            body != NULL ? strlen(body) : 0, 10000, &r));
  assert_true(r.status >= 200 && r.status < 300);
  eg_it_http_resp_cleanup(&r);
}

static void test_redeliver(void **state_) {
  eg_it_t *it = *state_;
  struct env e;
  char *out, *err, got[256], want[2048], row[512];
  int rc;

  start(it, &e);

  /* Dry run: lists exactly g1 and g5's newest attempt; asks for nothing,
   * records nothing. */
  rc = run(it, &e, "app.pem", NULL,
           (const char *[]){"--dry-run", "--since", e.since, "-v", NULL}, &out,
           &err);
  assert_int_equal(rc, 0);
  snprintf(want, sizeof(want), "%-17s%-6s%-10s%-8s%-10s%-22s%s\n", "ACTION",
           "GUID", "DELIVERY", "STATUS", "ATTEMPTS", "LAST ATTEMPT", "DETAIL");
  assert_memory_equal(out, want, strlen(want));
  snprintf(row, sizeof(row), "%-17s%-6s%-10llu%-8s%-10s", "would redeliver",
           "g1", (unsigned long long)e.g1_id, "502", "1");
  assert_non_null(strstr(out, row));
  assert_non_null(strstr(out, "Invalid HTTP Response: 502\n"));
  snprintf(row, sizeof(row), "%-17s%-6s%-10llu%-8s%-10s", "would redeliver",
           "g5", (unsigned long long)e.g5_id, "502", "2");
  assert_non_null(strstr(out, row));
  snprintf(row, sizeof(row),
           "\ndry run: 2 failed " DPR " deliveries since %.19s.000Z would be "
           "redelivered\n",
           e.since);
  assert_non_null(strstr(out, row));
  assert_null(strstr(out, "g6"));
  assert_null(strstr(out, "g4"));
  /* Two pages were read. */
  assert_non_null(strstr(err, "envgate-redeliver: page 2: 137 deliveries in "
                              "the window so far\n"));
  free(out);
  free(err);
  redeliveries(it, &e, got, sizeof(got));
  assert_string_equal(got, "");
  state(&e, got, sizeof(got));
  assert_string_equal(got, "");

  /* For real: exactly those two, once each; the newest delivery seen is
   * recorded. */
  rc = run(it, &e, "app.pem", NULL, (const char *[]){"--since", e.since, NULL},
           &out, &err);
  assert_int_equal(rc, 0);
  assert_string_equal(err, "");
  snprintf(row, sizeof(row), "%-13s%-6s%-10llu", "redelivered", "g1",
           (unsigned long long)e.g1_id);
  assert_non_null(strstr(out, row));
  snprintf(row, sizeof(row),
           "\nredelivered 2 of 2 failed " DPR " deliveries since %.19s.000Z\n",
           e.since);
  assert_non_null(strstr(out, row));
  free(out);
  free(err);
  redeliveries(it, &e, got, sizeof(got));
  snprintf(want, sizeof(want), "%llu,%llu", (unsigned long long)e.g1_id,
           (unsigned long long)e.g5_id);
  assert_string_equal(got, want);
  state(&e, got, sizeof(got));
  assert_string_equal(got, e.newest);

  /* The next scheduled run starts from Redis: the redeliveries worked, so
   * nothing is asked again. */
  rc = run(it, &e, "app.pem", NULL, NULL, &out, &err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "nothing to redeliver: 3 deliveries since "));
  free(out);
  free(err);
  redeliveries(it, &e, got, sizeof(got));
  assert_string_equal(got, want);
  state(&e, got, sizeof(got));
  assert_string_not_equal(got, e.newest); /* now the redeliveries' time */

  /* GitHub refuses the redeliveries: exit 1, the state stays. */
  sim_post(it, &e, "/_sim/reset", NULL);
  sim_post(it, &e, "/_sim/faults", "{\"redeliver\":{\"error_500\":1}}");
  {
    char before[64];

    state(&e, before, sizeof(before));
    rc = run(it, &e, "app.pem", NULL,
             (const char *[]){"--since", e.since, NULL}, &out, &err);
    assert_int_equal(rc, 1);
    snprintf(row, sizeof(row), "%-8s%-6s%-10llu", "failed", "g1",
             (unsigned long long)e.g1_id);
    assert_non_null(strstr(out, row));
    snprintf(row, sizeof(row),
             "POST /app/hook/deliveries/%llu/attempts: HTTP "
             "500 (server_error)\n",
             (unsigned long long)e.g5_id);
    assert_non_null(strstr(out, row));
    assert_non_null(strstr(out, "\nredelivered 0 of 2 failed "));
    assert_string_equal(err, "envgate-redeliver: error: 2 redeliveries failed "
                             "(see the report)\n");
    free(out);
    free(err);
    state(&e, got, sizeof(got));
    assert_string_equal(got, before);
  }
  sim_post(it, &e, "/_sim/faults", "{}");

  /* A key GitHub does not know: exit 1 with a clear line. */
  rc = run(it, &e, "other.pem", NULL,
           (const char *[]){"--since", e.since, NULL}, &out, &err);
  assert_int_equal(rc, 1);
  assert_string_equal(out, "");
  assert_non_null(strstr(err, "envgate-redeliver: error: GET "
                              "/app/hook/deliveries?per_page=100: HTTP 401 "));
  assert_non_null(strstr(err, "GitHub refused the App's JWT; check "
                              "ENVGATE_APP_ID and "
                              "ENVGATE_APP_PRIVATE_KEY_FILE\n"));
  free(out);
  free(err);

  /* Redis down: without --since there is no start point (exit 1); a dry
   * run with --since needs no Redis. */
  rc = run(it, &e, "app.pem", "redis://127.0.0.1:1/0", NULL, &out, &err);
  assert_int_equal(rc, 1);
  assert_non_null(
      strstr(err, "envgate-redeliver: error: cannot read the last run from "
                  "Redis: "));
  free(out);
  free(err);
  rc = run(it, &e, "app.pem", "redis://127.0.0.1:1/0",
           (const char *[]){"--dry-run", "--since", e.since, NULL}, &out, &err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "\ndry run: 2 failed "));
  free(out);
  free(err);
  redeliveries(it, &e, got, sizeof(got));
  assert_string_equal(got, "");

  /* SIGTERM while GitHub is slow: the call in flight ends, nothing more is
   * asked, exit 1. */
  sim_post(it, &e, "/_sim/faults", "{\"deliveries\":{\"latency_ms\":2000}}");
  {
    char api[256], redis[256], keyfile[1024];
    const char *env[] = {"ENVGATE_APP_ID=" APP_ID, api, redis, keyfile, NULL};
    const char *argv[] = {"envgate-redeliver", "--since", e.since, NULL};
    eg_it_spawn_opts_t o = {.name = "redeliver-term", .argv = argv, .env = env};
    eg_it_proc_t *p;
    int status;

    snprintf(api, sizeof(api), "ENVGATE_GITHUB_API_URL=%s", e.url);
    snprintf(redis, sizeof(redis), "ENVGATE_REDIS_URL=%s", e.redis.url);
    snprintf(keyfile, sizeof(keyfile), "ENVGATE_APP_PRIVATE_KEY_FILE=%s",
             eg_it_path(it, "app.pem"));
    EG_IT_MUST(it, eg_it_spawn(it, &o, &p));
    eg_it_sleep_ms(1000);
    assert_true(eg_it_proc_is_running(p));
    EG_IT_MUST(it, eg_it_proc_stop(p, 10000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_int_equal(
        eg_it_proc_log_count(p, "envgate-redeliver: error: stopped by a "
                                "signal\n"),
        1);
  }
  redeliveries(it, &e, got, sizeof(got));
  assert_string_equal(got, "");
  eg_it_pass(it);
}

static void test_usage(void **state_) {
  static const eg_it_usage_case_t cases[] = {
      {{"--since", "soon", NULL},
       "envgate-redeliver: error: --since soon: expected an RFC 3339 time, "
       "YYYY-MM-DD or a duration such as 24h (see --help)\n"},
      {{"--max-pages", "0", NULL},
       "envgate-redeliver: error: --max-pages 0: must be between 1 and 100000 "
       "(see --help)\n"},
      {{"--timeout", "1h", NULL},
       "envgate-redeliver: error: --timeout 1h: expected a duration between "
       "100ms and 10m (see --help)\n"},
      {{"--apply", NULL},
       "envgate-redeliver: error: unknown or incomplete option '--apply' (see "
       "--help)\n"},
      {{NULL},
       "envgate-redeliver: error: ENVGATE_APP_ID: required\n"
       "envgate-redeliver: error: ENVGATE_APP_PRIVATE_KEY_FILE: required\n"},
  };
  eg_it_t *it = *state_;

  eg_it_check_usage(
      it, "envgate-redeliver", cases, sizeof(cases) / sizeof(cases[0]),
      (const char *const[]){"usage: envgate-redeliver [options]\n", NULL});
  /* A key file that is not a key. */
  {
    const char *argv[] = {"envgate-redeliver", NULL};
    char keyfile[1024];
    const char *env[] = {"ENVGATE_APP_ID=1", keyfile, NULL};
    eg_it_spawn_opts_t o = {.name = "redeliver", .argv = argv, .env = env};
    const char *path;
    eg_it_proc_t *p;
    char *log;
    size_t len;
    int status;

    EG_IT_MUST(it, eg_it_write_file(it, "bad.pem", "not a key\n", 10, &path));
    snprintf(keyfile, sizeof(keyfile), "ENVGATE_APP_PRIVATE_KEY_FILE=%s", path);
    EG_IT_MUST(it, eg_it_run(it, &o, 10000, &status, &p));
    assert_int_equal(WEXITSTATUS(status), 2);
    EG_IT_MUST(it, eg_it_read_file(it, eg_it_proc_log_path(p), &log, &len));
    assert_memory_equal(log,
                        "envgate-redeliver: error: "
                        "ENVGATE_APP_PRIVATE_KEY_FILE: ",
                        strlen("envgate-redeliver: error: "
                               "ENVGATE_APP_PRIVATE_KEY_FILE: "));
    assert_non_null(strchr(log, '\n'));
    assert_int_equal(strchr(log, '\n')[1], '\0');
    free(log);
  }
  eg_it_pass(it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_redeliver, eg_it_setup,
                                      eg_it_teardown),
      cmocka_unit_test_setup_teardown(test_usage, eg_it_setup, eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The envgate stack for integration tests. */
#include "stack.h"
#include "internal.h"

#include "eg/error.h"
#include "eg/signature.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char default_policy[] =
    "{\"allowed_ref\": \"refs/heads/main\",\n"
    " \"allowed_events\": [\"workflow_dispatch\"],\n"
    " \"release_environment_name\": \"release\",\n"
    " \"release_gate_environment_name\": \"release-gate\",\n"
    " \"release_gate_job_name\": \"release-gate\",\n"
    " \"release_workflow_path\": \".github/workflows/release.yml\"}\n";

/* Fast group joins and reconnects on the mock cluster (docs/devbroker.md). */
static const char kafka_conf[] = "session.timeout.ms=6000\n"
                                 "heartbeat.interval.ms=500\n"
                                 "reconnect.backoff.max.ms=1000\n"
                                 "topic.metadata.refresh.interval.ms=5000\n";

static int write_keys(eg_it_t *it, eg_it_stack_t *st) {
  EVP_PKEY *pkey = EVP_RSA_gen(2048);
  BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
  char *data;
  long len;
  int rc = EG_EIO;

  if (pkey != NULL && priv != NULL && pub != NULL &&
      PEM_write_bio_PrivateKey(priv, pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
      PEM_write_bio_PUBKEY(pub, pkey) == 1) {
    len = BIO_get_mem_data(priv, &data);
    rc = eg_it_write_file(it, "app-key.pem", data, (size_t)len, &st->key_file);
    if (rc == EG_OK) {
      len = BIO_get_mem_data(pub, &data);
      rc =
          eg_it_write_file(it, "app-pub.pem", data, (size_t)len, &st->pub_file);
    }
  }
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(pkey);
  return rc;
}

int eg_it_stack_start(eg_it_t *it, const char *scenario, eg_it_stack_t *st) {
  char demo[512];
  const char *addr = eg_it_path(it, "ghsim.addr");
  int rc;

  memset(st, 0, sizeof(*st));
  snprintf(demo, sizeof(demo), "%s/tools/ghsim/scenarios/demo.json",
           EG_SOURCE_DIR);
  rc = write_keys(it, st);
  if (rc == EG_OK)
    rc = eg_it_write_file(it, "policy.json", default_policy,
                          sizeof(default_policy) - 1, &st->policy_file);
  if (rc == EG_OK)
    rc = eg_it_write_file(it, "webhook-secret", EG_IT_SECRET "\n",
                          sizeof(EG_IT_SECRET), &st->secret_file);
  if (rc == EG_OK)
    rc = eg_it_write_file(it, "kafka.conf", kafka_conf, sizeof(kafka_conf) - 1,
                          &st->kafka_conf);
  if (rc == EG_OK)
    rc = eg_it_devbroker_start(it, NULL, &st->db);
  if (rc == EG_OK)
    rc = eg_it_redis_start(it, &st->redis);
  if (rc == EG_OK) {
    const char *argv[] = {"envgate-ghsim",
                          "--listen",
                          "127.0.0.1:0",
                          "--addr-file",
                          addr,
                          "--scenario",
                          scenario != NULL ? scenario : demo,
                          "--app-public-key",
                          st->pub_file,
                          "--app-id",
                          EG_IT_APP_ID,
                          NULL};
    eg_it_spawn_opts_t o = {.name = "ghsim", .argv = argv, .ready_file = addr};
    rc = eg_it_spawn(it, &o, &st->ghsim);
  }
  if (rc == EG_OK)
    snprintf(st->ghsim_url, sizeof(st->ghsim_url), "%s",
             eg_it_proc_addr(st->ghsim));
  return rc;
}

/* Sets entry ("NAME=value") in env (n used of cap, one kept for the NULL):
 * it replaces an entry for the same name, so that a test's variable wins
 * over a default (the child would see the first of two). */
static void
set_env(const char **env, size_t *n, size_t cap, const char *entry) {
  size_t len = strcspn(entry, "=");

  for (size_t i = 0; i < *n; i++) {
    if (strncmp(env[i], entry, len) == 0 && env[i][len] == '=') {
      env[i] = entry;
      return;
    }
  }
  if (*n + 1 < cap)
    env[(*n)++] = entry;
}

/* The entries every service of the stack gets (Kafka, GitHub, the webhook
 * secret), and the buffers they point into. */
struct stack_env {
  char brokers[512], api[200], secret[600], kconf[600];
  const char *env[32];
  size_t n;
};

static void stack_env_init(const eg_it_stack_t *st, struct stack_env *se) {
  snprintf(se->brokers, sizeof(se->brokers), "ENVGATE_KAFKA_BROKERS=%s",
           st->db.bootstrap);
  snprintf(se->api, sizeof(se->api), "ENVGATE_GITHUB_API_URL=%s",
           st->ghsim_url);
  snprintf(se->secret, sizeof(se->secret), "ENVGATE_WEBHOOK_SECRET_FILE=%s",
           st->secret_file);
  snprintf(se->kconf, sizeof(se->kconf), "ENVGATE_KAFKA_CONFIG_FILE=%s",
           st->kafka_conf);
  se->env[0] = se->brokers;
  se->env[1] = se->api;
  se->env[2] = se->secret;
  se->env[3] = se->kconf;
  se->n = 4;
}

/* Adds entries (NULL-terminated, may be NULL); a later entry for a name
 * replaces the earlier one. */
static void stack_env_add(struct stack_env *se, const char *const *entries) {
  for (size_t i = 0; entries != NULL && entries[i] != NULL; i++)
    set_env(se->env, &se->n, sizeof(se->env) / sizeof(se->env[0]), entries[i]);
  se->env[se->n] = NULL;
}

int eg_it_stack_worker(eg_it_t *it,
                       eg_it_stack_t *st,
                       const char *const *extra_env,
                       eg_it_proc_t **out) {
  char redis[160], key[600], policy[600], name[32];
  const char *argv[] = {"envgate-worker", NULL};
  const char *own[] = {redis,
                       key,
                       policy,
                       "ENVGATE_APP_ID=" EG_IT_APP_ID,
                       "ENVGATE_METRICS_LISTEN=127.0.0.1:0",
                       "ENVGATE_LOG_LEVEL=debug",
                       "ENVGATE_SHUTDOWN_TIMEOUT_MS=15000",
                       NULL};
  struct stack_env se;
  eg_it_spawn_opts_t o = {0};
  eg_it_proc_t *p = NULL;
  int rc;

  if (st->nworkers == sizeof(st->workers) / sizeof(st->workers[0]))
    return EG_ERANGE;
  snprintf(redis, sizeof(redis), "ENVGATE_REDIS_URL=%s", st->redis.url);
  snprintf(key, sizeof(key), "ENVGATE_APP_PRIVATE_KEY_FILE=%s", st->key_file);
  snprintf(policy, sizeof(policy), "ENVGATE_POLICY_FILE=%s", st->policy_file);
  stack_env_init(st, &se);
  stack_env_add(&se, own);
  stack_env_add(&se, extra_env);
  snprintf(name, sizeof(name), "worker%zu", st->nstarted + 1);
  o.name = name;
  o.argv = argv;
  o.env = se.env;
  o.ready_log = "\"msg\":\"started\"";
  rc = eg_it_spawn(it, &o, &p);
  if (rc != EG_OK)
    return rc;
  st->workers[st->nworkers++] = p;
  st->nstarted++;
  if (out != NULL)
    *out = p;
  return EG_OK;
}

int eg_it_stack_ingress(eg_it_t *it,
                        eg_it_stack_t *st,
                        const char *const *extra_env) {
  const char *argv[] = {"envgate-ingress", NULL};
  static const char *const own[] = {"ENVGATE_LISTEN=127.0.0.1:0",
                                    "ENVGATE_LOG_LEVEL=debug", NULL};
  struct stack_env se;
  eg_it_spawn_opts_t o = {
      .name = "ingress", .argv = argv, .ready_log = "\"msg\":\"listening\""};
  int rc, port;

  stack_env_init(st, &se);
  stack_env_add(&se, own);
  stack_env_add(&se, extra_env);
  o.env = se.env;
  rc = eg_it_spawn(it, &o, &st->ingress);
  if (rc != EG_OK)
    return rc;
  port = eg_it_proc_log_port(st->ingress, "listening");
  if (port == 0)
    return EG_EIO;
  snprintf(st->ingress_url, sizeof(st->ingress_url), "http://127.0.0.1:%d",
           port);
  return EG_OK;
}

void eg_it_webhook_headers(const char *body,
                           const char *delivery,
                           eg_it_webhook_headers_t *out) {
  char sig[EG_SIGNATURE_HEADER_SIZE];

  eg_signature_compute(EG_IT_SECRET, body, strlen(body), sig, sizeof(sig));
  snprintf(out->lines[0], sizeof(out->lines[0]),
           "Content-Type: application/json");
  snprintf(out->lines[1], sizeof(out->lines[1]),
           "X-GitHub-Event: deployment_protection_rule");
  snprintf(out->lines[2], sizeof(out->lines[2]), "X-GitHub-Delivery: %s",
           delivery);
  snprintf(out->lines[3], sizeof(out->lines[3]), "X-Hub-Signature-256: %s",
           sig);
  for (size_t i = 0; i < 4; i++)
    out->list[i] = out->lines[i];
  out->list[4] = NULL;
}

eg_it_gate_t eg_it_demo_gate(bool approvable, const char *delivery) {
  eg_it_gate_t g = {.owner = "octo-org",
                    .repo = "octo-repo",
                    .repository_id = 1296269,
                    .installation_id = 4242,
                    .environment = "release",
                    .ref = "main",
                    .delivery = delivery};

  if (approvable) {
    g.run_id = 30433642;
    g.deployment_id = 5001;
    snprintf(g.sha, sizeof(g.sha), "acb5820ced9479c074f688cc328bf03f341a511d");
  } else {
    g.run_id = 30433643;
    g.deployment_id = 5002;
    snprintf(g.sha, sizeof(g.sha), "f83a356604ae3c5d03e1b46ef4d1ca77d64a90b0");
  }
  return g;
}

char *eg_it_gate_body(const eg_it_stack_t *st, const eg_it_gate_t *g) {
  char url[512], full[256];
  json_t *doc;
  char *text;

  snprintf(url, sizeof(url),
           "%s/repos/%s/%s/actions/runs/%llu/deployment_protection_rule",
           st->ghsim_url, g->owner, g->repo, (unsigned long long)g->run_id);
  snprintf(full, sizeof(full), "%s/%s", g->owner, g->repo);
  doc = json_pack(
      "{s:s,s:s,s:s,s:s,s:{s:I,s:s},s:[],s:s,s:s,s:{s:I,s:s,s:s,s:{s:s}},"
      "s:{s:s,s:I},s:{s:I},s:{s:I}}",
      "action", "requested", "environment", g->environment, "event",
      "workflow_dispatch", "deployment_callback_url", url, "deployment", "id",
      (json_int_t)g->deployment_id, "environment", g->environment,
      "pull_requests", "sha", g->sha, "ref", g->ref, "repository", "id",
      (json_int_t)g->repository_id, "name", g->repo, "full_name", full, "owner",
      "login", g->owner, "sender", "login", "octocat", "id", (json_int_t)583231,
      "installation", "id", (json_int_t)g->installation_id, "workflow_run",
      "id", (json_int_t)g->run_id);
  if (doc == NULL)
    return NULL;
  text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return text;
}

int eg_it_stack_produce(eg_it_t *it,
                        eg_it_stack_t *st,
                        const eg_it_gate_t *g,
                        const char *secret,
                        const char *body) {
  char *built = body == NULL ? eg_it_gate_body(st, g) : NULL;
  const char *value = body != NULL ? body : built;
  char sig[EG_SIGNATURE_HEADER_SIZE], key[256];
  int rc;

  if (value == NULL)
    return EG_ENOMEM;
  eg_signature_compute(secret != NULL ? secret : EG_IT_SECRET, value,
                       strlen(value), sig, sizeof(sig));
  snprintf(key, sizeof(key), "%llu/%llu/%s",
           (unsigned long long)g->repository_id, (unsigned long long)g->run_id,
           g->environment);
  {
    const char *headers[] = {
        "github-event", "deployment_protection_rule", "github-delivery",
        g->delivery,    "hub-signature-256",          sig,
        "received-at",  "2026-11-25T18:00:00.000Z",   NULL};
    eg_it_kafka_rec_t rec = {.key = key,
                             .value = value,
                             .value_len = strlen(value),
                             .headers = headers};
    rc = eg_it_kafka_produce(it, st->db.bootstrap, "envgate.events", &rec, 1,
                             NULL, 10000);
  }
  free(built);
  return rc;
}

int eg_it_stack_produce_many(eg_it_t *it,
                             eg_it_stack_t *st,
                             const eg_it_gate_t *gates,
                             size_t n) {
  struct one {
    char *body;
    char sig[EG_SIGNATURE_HEADER_SIZE];
    char key[256];
    const char *headers[9];
  } *all = calloc(n, sizeof(*all));
  eg_it_kafka_rec_t *recs = calloc(n, sizeof(*recs));
  int rc = EG_OK;

  if (all == NULL || recs == NULL) {
    free(all);
    free(recs);
    return EG_ENOMEM;
  }
  for (size_t i = 0; i < n && rc == EG_OK; i++) {
    struct one *o = &all[i];
    o->body = eg_it_gate_body(st, &gates[i]);
    if (o->body == NULL) {
      rc = EG_ENOMEM;
      break;
    }
    eg_signature_compute(EG_IT_SECRET, o->body, strlen(o->body), o->sig,
                         sizeof(o->sig));
    snprintf(o->key, sizeof(o->key), "%llu/%llu/%s",
             (unsigned long long)gates[i].repository_id,
             (unsigned long long)gates[i].run_id, gates[i].environment);
    o->headers[0] = "github-event";
    o->headers[1] = "deployment_protection_rule";
    o->headers[2] = "github-delivery";
    o->headers[3] = gates[i].delivery;
    o->headers[4] = "hub-signature-256";
    o->headers[5] = o->sig;
    o->headers[6] = "received-at";
    o->headers[7] = "2026-11-25T18:00:00.000Z";
    o->headers[8] = NULL;
    recs[i] = (eg_it_kafka_rec_t){.key = o->key,
                                  .value = o->body,
                                  .value_len = strlen(o->body),
                                  .headers = o->headers};
  }
  if (rc == EG_OK)
    rc = eg_it_kafka_produce(it, st->db.bootstrap, "envgate.events", recs, n,
                             NULL, 20000);
  for (size_t i = 0; i < n; i++)
    free(all[i].body);
  free(all);
  free(recs);
  return rc;
}

json_t *eg_it_ghsim_state(eg_it_t *it, const eg_it_stack_t *st) {
  char url[256];
  eg_it_http_resp_t r;
  json_t *doc = NULL;

  snprintf(url, sizeof(url), "%s/_sim/state", st->ghsim_url);
  if (eg_it_http(it, "GET", url, NULL, NULL, 0, 5000, &r) != EG_OK)
    return NULL;
  if (r.status == 200)
    doc = json_loadb(r.body, r.body_len, 0, NULL);
  eg_it_http_resp_cleanup(&r);
  return doc;
}

size_t eg_it_ghsim_reviews_ok(eg_it_t *it, const eg_it_stack_t *st) {
  json_t *state = eg_it_ghsim_state(it, st);
  json_t *reviews = json_object_get(state, "reviews");
  size_t i, n = 0;
  json_t *v;

  json_array_foreach(reviews, i, v) {
    json_int_t status = json_integer_value(json_object_get(v, "status"));
    if (status >= 200 && status < 300)
      n++;
  }
  json_decref(state);
  return n;
}

int eg_it_wait_reviews(eg_it_t *it,
                       const eg_it_stack_t *st,
                       size_t n,
                       int timeout_ms) {
  long long deadline = eg_it_now_ms() + eg_it_timeout_ms(timeout_ms);

  while (eg_it_ghsim_reviews_ok(it, st) < n) {
    if (eg_it_now_ms() > deadline)
      return EG_ETIMEDOUT;
    eg_it_sleep_ms(100);
  }
  return EG_OK;
}

/* 40 hex digits: the run index, then a fixed tail. */
static void many_sha(size_t i, char out[41]) {
  snprintf(out, 41, "%08x%s", (unsigned)(i & 0xffffffffu),
           "00000000000000000000000000abcdef");
}

int eg_it_scenario_many(eg_it_t *it,
                        size_t nruns,
                        size_t reject_every,
                        const char **path) {
  /* A generous rate budget: the tests' load is not limited by it (an
   * installation's real budget is 5,000 to 15,000 calls an hour). */
  json_t *doc = json_pack(
      "{s:s,s:{s:I},s:{s:I,s:s},s:[{s:I,s:s,s:s}],s:[{s:I,s:s,s:s,s:b}]}",
      "description", "generated by the integration tests", "rate_limit",
      "limit", (json_int_t)100000000, "app", "id", (json_int_t)123456,
      "client_id", "Iv23liGhsimTests0001", "installations", "id",
      (json_int_t)4242, "account", "octo-org", "repositories", "all",
      "repositories", "id", (json_int_t)1296269, "owner", "octo-org", "name",
      "octo-repo", "private", 1);
  json_t *runs = json_array(), *jobs = json_array(), *deps = json_array();
  char *text;
  int rc;

  for (size_t i = 0; i < nruns; i++) {
    bool reject = reject_every != 0 && i % reject_every == reject_every - 1;
    uint64_t run = EG_IT_MANY_RUN0 + i, job = 50000000u + 2 * i;
    char sha[41];

    many_sha(i, sha);
    json_array_append_new(
        runs, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:s}", "id",
                        (json_int_t)run, "repository", "octo-org/octo-repo",
                        "path", ".github/workflows/release.yml", "event",
                        reject ? "push" : "workflow_dispatch", "head_sha", sha,
                        "head_branch", "main", "actor", "octocat", "status",
                        "waiting", "pending_deployments", "release", "expect",
                        reject ? "rejected" : "approved"));
    json_array_append_new(
        jobs, json_pack("{s:I,s:I,s:s,s:s,s:s}", "id", (json_int_t)job,
                        "run_id", (json_int_t)run, "name", "release-gate",
                        "status", "completed", "conclusion", "success"));
    json_array_append_new(jobs, json_pack("{s:I,s:I,s:s,s:s}", "id",
                                          (json_int_t)job + 1, "run_id",
                                          (json_int_t)run, "name", "release",
                                          "status", "waiting"));
    json_array_append_new(
        deps, json_pack("{s:I,s:I,s:s,s:[{s:s,s:I}]}", "id",
                        (json_int_t)(70000000u + i), "run_id", (json_int_t)run,
                        "environment", "release-gate", "statuses", "state",
                        "success", "job_id", (json_int_t)job));
  }
  json_object_set_new(doc, "runs", runs);
  json_object_set_new(doc, "jobs", jobs);
  json_object_set_new(doc, "deployments", deps);
  text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (text == NULL)
    return EG_ENOMEM;
  rc = eg_it_write_file(it, "scenario-many.json", text, strlen(text), path);
  free(text);
  return rc;
}

eg_it_gate_t eg_it_many_gate(size_t i, unsigned salt, char *delivery) {
  eg_it_gate_t g = eg_it_demo_gate(true, delivery);

  snprintf(delivery, 37, "%08x-%04x-4000-8000-%012zx", 0xe9000000u + salt,
           salt & 0xffffu, i);
  many_sha(i, g.sha);
  g.run_id = EG_IT_MANY_RUN0 + i;
  g.deployment_id = 90000000u + i;
  return g;
}

static size_t count_in(const char *hay, size_t len, const char *needle) {
  size_t n = 0, nl = strlen(needle);
  const char *p = hay, *end = hay + len;

  if (nl == 0)
    return 0;
  while (p < end && (p = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
    n++;
    p += nl;
  }
  return n;
}

size_t eg_it_scan_secrets(eg_it_t *it, eg_it_stack_t *st) {
  static const char *const topics[] = {"envgate.events", "envgate.retry",
                                       "envgate.dlq", "envgate.decisions"};
  char *needles[4096];
  size_t nneedles = 0, hits = 0;
  char url[256];
  eg_it_http_resp_t r;
  char *key = NULL;
  size_t klen;

  needles[nneedles++] = strdup(EG_IT_SECRET);
  /* A line from the middle of the private key: its base64 body. */
  if (eg_it_read_file(it, st->key_file, &key, &klen) == EG_OK) {
    char *line = strchr(key, '\n');
    if (line != NULL && strlen(line) > 66)
      needles[nneedles++] = strndup(line + 1, 64);
    free(key);
  }
  snprintf(url, sizeof(url), "%s/_sim/tokens", st->ghsim_url);
  if (eg_it_http(it, "GET", url, NULL, NULL, 0, 5000, &r) == EG_OK) {
    json_t *arr = json_loadb(r.body, r.body_len, 0, NULL);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
      const char *tok = json_string_value(json_object_get(v, "token"));
      if (tok != NULL && nneedles < sizeof(needles) / sizeof(needles[0]))
        needles[nneedles++] = strdup(tok);
    }
    json_decref(arr);
    eg_it_http_resp_cleanup(&r);
  }
  /* Every log and output file of the test's processes. */
  {
    char cmd[600];
    FILE *fp;
    char path[1024];

    snprintf(cmd, sizeof(cmd), "ls %s/*.log %s/*.out 2>/dev/null",
             eg_it_dir(it), eg_it_dir(it));
    fp = popen(cmd, "r");
    while (fp != NULL && fgets(path, sizeof(path), fp) != NULL) {
      char *text = NULL;
      size_t len;
      path[strcspn(path, "\n")] = '\0';
      if (eg_it_read_file(it, path, &text, &len) != EG_OK)
        continue;
      for (size_t k = 0; k < nneedles; k++) {
        size_t c = count_in(text, len, needles[k]);
        if (c > 0)
          fprintf(stderr, "secret scan: %zu hit(s) of needle %zu in %s\n", c, k,
                  path);
        hits += c;
      }
      free(text);
    }
    if (fp != NULL)
      pclose(fp);
  }
  for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++) {
    eg_it_kafka_msgs_t msgs;
    if (eg_it_kafka_consume_all(it, st->db.bootstrap, topics[t], 10000,
                                &msgs) != EG_OK)
      continue;
    for (size_t m = 0; m < msgs.n; m++) {
      const eg_it_kafka_msg_t *msg = &msgs.v[m];
      for (size_t k = 0; k < nneedles; k++) {
        size_t c = 0;
        if (msg->value != NULL)
          c += count_in(msg->value, msg->value_len, needles[k]);
        if (msg->key != NULL)
          c += count_in(msg->key, msg->key_len, needles[k]);
        for (size_t h = 0; h < msg->nheaders; h++)
          if (msg->headers[h].value != NULL)
            c += count_in(msg->headers[h].value, msg->headers[h].value_len,
                          needles[k]);
        if (c > 0)
          fprintf(stderr, "secret scan: %zu hit(s) of needle %zu in %s\n", c, k,
                  topics[t]);
        hits += c;
      }
    }
    eg_it_kafka_msgs_cleanup(&msgs);
  }
  for (size_t k = 0; k < nneedles; k++)
    free(needles[k]);
  return hits;
}

int eg_it_ghsim_faults(eg_it_t *it, const eg_it_stack_t *st, const char *json) {
  char url[256];
  const char *headers[] = {"Content-Type: application/json", NULL};
  eg_it_http_resp_t r;
  int rc;

  snprintf(url, sizeof(url), "%s/_sim/faults", st->ghsim_url);
  rc = eg_it_http(it, "POST", url, headers, json, strlen(json), 5000, &r);
  if (rc != EG_OK)
    return rc;
  rc = r.status / 100 == 2 ? EG_OK : EG_EINVAL;
  if (rc != EG_OK)
    fprintf(stderr, "ghsim faults refused (%ld): %s\n", r.status, r.body);
  eg_it_http_resp_cleanup(&r);
  return rc;
}

int eg_it_ghsim_review_counts(eg_it_t *it,
                              const eg_it_stack_t *st,
                              size_t nruns,
                              unsigned *counts,
                              size_t *others) {
  json_t *sim = eg_it_ghsim_state(it, st);
  size_t i;
  json_t *v;

  if (sim == NULL)
    return EG_EIO;
  memset(counts, 0, nruns * sizeof(*counts));
  if (others != NULL)
    *others = 0;
  json_array_foreach(json_object_get(sim, "reviews"), i, v) {
    uint64_t run = (uint64_t)json_integer_value(json_object_get(v, "run_id"));
    if (json_integer_value(json_object_get(v, "status")) / 100 != 2)
      continue;
    if (run >= EG_IT_MANY_RUN0 && run - EG_IT_MANY_RUN0 < nruns)
      counts[run - EG_IT_MANY_RUN0]++;
    else if (others != NULL)
      (*others)++;
  }
  json_decref(sim);
  return EG_OK;
}

int eg_it_stack_produce_range(
    eg_it_t *it, eg_it_stack_t *st, size_t from, size_t to, unsigned salt) {
  size_t n = to > from ? to - from : 0;
  eg_it_gate_t *gates = calloc(n > 0 ? n : 1, sizeof(*gates));
  char(*deliveries)[40] = calloc(n > 0 ? n : 1, sizeof(*deliveries));
  int rc;

  if (gates == NULL || deliveries == NULL) {
    rc = it_fail(it, EG_ENOMEM, "out of memory");
  } else {
    for (size_t k = 0; k < n; k++)
      gates[k] = eg_it_many_gate(from + k, salt, deliveries[k]);
    rc = eg_it_stack_produce_many(it, st, gates, n);
  }
  free(gates);
  free(deliveries);
  return rc;
}

int eg_it_check_one_review_each(eg_it_t *it,
                                const eg_it_stack_t *st,
                                size_t nruns) {
  unsigned *counts = calloc(nruns > 0 ? nruns : 1, sizeof(*counts));
  size_t others = 0;
  int rc;

  if (counts == NULL)
    return it_fail(it, EG_ENOMEM, "out of memory");
  rc = eg_it_ghsim_review_counts(it, st, nruns, counts, &others);
  for (size_t i = 0; rc == EG_OK && i < nruns; i++)
    if (counts[i] != 1)
      rc = it_fail(it, EG_EINVAL, "run %zu has %u accepted reviews", i,
                   counts[i]);
  if (rc == EG_OK && others != 0)
    rc = it_fail(it, EG_EINVAL, "%zu accepted reviews of other runs", others);
  free(counts);
  return rc;
}

int eg_it_stack_stop_workers(eg_it_t *it, eg_it_stack_t *st) {
  for (size_t i = 0; i < st->nworkers; i++) {
    int status = -1;
    int rc;

    if (!eg_it_proc_is_running(st->workers[i]))
      continue;
    rc = eg_it_proc_stop(st->workers[i], 30000, &status);
    if (rc != EG_OK)
      return rc;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return it_fail(it, EG_EIO, "worker %zu ended with wait status %d", i,
                     status);
  }
  return EG_OK;
}

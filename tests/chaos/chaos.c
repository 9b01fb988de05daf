/* The chaos run: signed gate requests through envgate-ingress at a steady
 * rate, with mixed outcomes, while workers are killed with -9, Redis and the
 * whole broker are down for 10 s, GitHub fails (5% 500s, 2% 429 with
 * Retry-After, 1% timeouts) and the ingress restarts. Afterwards every
 * delivery the ingress acknowledged must be in envgate.events and end with
 * exactly one review at ghsim or exactly one dead letter with a reason, and
 * envgate-audit must agree. Prints the counts.
 *
 * EG_CHAOS_REQUESTS requests (default 2000) over EG_CHAOS_SECONDS (default
 * 90): about two and a half minutes in all on two cores. The faults repeat
 * every ~100 s (EG_CHAOS_CYCLES overrides); EG_CHAOS_GITHUB_FAULTS replaces
 * ghsim's fault table (JSON). By hand, for ten minutes:
 *   EG_CHAOS_REQUESTS=10000 EG_CHAOS_SECONDS=600 build/bin/chaos
 * More than 10,000 requests would overflow the development broker, which
 * keeps about 5 MiB per partition (envgate.decisions has 3) and silently
 * drops older records. */
#include "chaos.h"

#include "eg/error.h"
#include "eg/parse.h"

#include <librdkafka/rdkafka.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

/* GitHub's behaviour for the whole run (tools/ghsim/README.md): a timeout
 * holds the call past the worker's 10 s client timeout. */
const char *const ch_ingress_env[] = {"ENVGATE_LOG_LEVEL=info", NULL};

static const char github_faults[] =
    "{\"*\":{\"error_500\":0.05,\"rate_429\":0.02,\"retry_after_s\":1,"
    "\"timeout\":0.01,\"timeout_ms\":12000}}";

/* A number from the environment, def when unset; why says where the
 * bounds come from. */
static uint64_t env_u64(const char *name,
                        uint64_t def,
                        uint64_t min,
                        uint64_t max,
                        const char *why) {
  const char *v = getenv(name);
  uint64_t out;

  if (v == NULL || *v == '\0')
    return def;
  if (eg_parse_u64(v, min, max, &out) != EG_OK)
    fail_msg("%s=%s: must be a number in %llu..%llu (%s)", name, v,
             (unsigned long long)min, (unsigned long long)max, why);
  return out;
}

/* The origin slot a delivery id names, or SIZE_MAX if it is not ours. */
static size_t origin_of(const struct chaos *c, const char *delivery) {
  char want[40];
  size_t i;

  if (delivery == NULL || strlen(delivery) != 36 ||
      strncmp(delivery, "c4a05000-0000-4000-8000-", 24) != 0)
    return SIZE_MAX;
  i = (size_t)strtoull(delivery + 24, NULL, 16);
  ch_delivery_of(i, want);
  if (i >= c->nreq || strcmp(want, delivery) != 0 || c->slots[i].origin != i)
    return SIZE_MAX;
  return i;
}

/* The gate of a run id, or NULL. */
static struct gate *gate_of(struct chaos *c, uint64_t run) {
  if (run >= RUN0 && run - RUN0 < c->ngenerated)
    return &c->gates[run - RUN0];
  if (run >= MISSING_RUN0 && run - MISSING_RUN0 < c->nmissing)
    return &c->gates[c->ngenerated + (run - MISSING_RUN0)];
  return NULL;
}

static const char *expect_name(enum expect x) {
  return x == X_APPROVED   ? "approved"
         : x == X_REJECTED ? "rejected"
                           : "dead-lettered";
}

/* ---- Scenario and plan ---- */

static void write_scenario(struct chaos *c, const char **path) {
  size_t per_repo = (c->nreq + 9) / 10;
  char text[512];
  int n;

  /* A generous rate budget: the run is not about GitHub's hourly limit. */
  n = snprintf(text, sizeof(text),
               "{\"rate_limit\":{\"limit\":100000000},"
               "\"generate\":{\"repos\":10,\"runs_per_repo\":%zu,"
               "\"reject_fraction\":0.2}}",
               per_repo);
  assert_true(n > 0 && (size_t)n < sizeof(text));
  EG_IT_MUST(c->it, eg_it_write_file(c->it, "scenario-chaos.json", text,
                                     (size_t)n, path));
}

/* Reads the generated gates from ghsim and adds the runs it does not
 * know. */
static void load_gates(struct chaos *c) {
  char url[256];
  eg_it_http_resp_t r;
  json_t *arr, *v;
  size_t i;

  snprintf(url, sizeof(url), "%s/_sim/gates", c->st.ghsim_url);
  EG_IT_MUST(c->it, eg_it_http(c->it, "GET", url, NULL, NULL, 0, 30000, &r));
  assert_int_equal(r.status, 200);
  arr = json_loadb(r.body, r.body_len, 0, NULL);
  eg_it_http_resp_cleanup(&r);
  assert_true(json_is_array(arr));
  c->ngenerated = json_array_size(arr);
  c->nmissing = c->nreq / 50 + 1;
  c->ngates = c->ngenerated + c->nmissing;
  c->gates = calloc(c->ngates, sizeof(*c->gates));
  assert_non_null(c->gates);
  json_array_foreach(arr, i, v) {
    uint64_t run = (uint64_t)json_integer_value(json_object_get(v, "run_id"));
    const char *expect = json_string_value(json_object_get(v, "expect"));
    const char *reason = json_string_value(json_object_get(v, "expect_reason"));
    struct gate *g;

    /* Generated runs are numbered in order from RUN0. */
    assert_int_equal(run, RUN0 + i);
    assert_int_equal(json_integer_value(json_object_get(v, "installation_id")),
                     INSTALLATION);
    g = &c->gates[i];
    g->run_id = run;
    g->repository_id =
        (uint64_t)json_integer_value(json_object_get(v, "repository_id"));
    snprintf(g->owner, sizeof(g->owner), "%s",
             json_string_value(json_object_get(v, "owner")));
    snprintf(g->name, sizeof(g->name), "%s",
             json_string_value(json_object_get(v, "name")));
    snprintf(g->sha, sizeof(g->sha), "%s",
             json_string_value(json_object_get(v, "sha")));
    assert_string_equal(json_string_value(json_object_get(v, "environment")),
                        "release");
    assert_non_null(expect);
    g->expect = strcmp(expect, "approved") == 0 ? X_APPROVED : X_REJECTED;
    snprintf(g->reason, sizeof(g->reason), "%s", reason != NULL ? reason : "");
  }
  json_decref(arr);
  for (i = 0; i < c->nmissing; i++) {
    struct gate *g = &c->gates[c->ngenerated + i];
    g->run_id = MISSING_RUN0 + i;
    g->repository_id = REPO0;
    snprintf(g->owner, sizeof(g->owner), "load-org");
    snprintf(g->name, sizeof(g->name), "repo-0");
    snprintf(g->sha, sizeof(g->sha), "%08x%s", (unsigned)(i & 0xffffffffu),
             "0000000000000000000000000000dead");
    g->expect = X_DEAD;
    snprintf(g->reason, sizeof(g->reason), "run not found");
  }
}

/* 2% runs GitHub does not know, 1% redeliveries of a delivery sent 50
 * requests earlier, 1% second deliveries for such a gate, the rest new
 * gates (a fifth of them to be rejected for one of six reasons). */
static void plan(struct chaos *c) {
  size_t next_gen = 0, next_missing = 0;

  c->slots = calloc(c->nreq, sizeof(*c->slots));
  assert_non_null(c->slots);
  for (size_t i = 0; i < c->nreq; i++) {
    struct slot *s = &c->slots[i];

    s->origin = i;
    if (i >= 100 && i % 100 == 37) {
      s->kind = K_REDELIVERY;
      s->origin = c->slots[i - 50].origin;
      s->gate = c->slots[i - 50].gate;
    } else if (i >= 100 && i % 100 == 71) {
      s->kind = K_SECOND;
      s->gate = c->slots[i - 50].gate;
    } else if (i % 50 == 13) {
      s->kind = K_MISSING;
      assert_true(next_missing < c->nmissing);
      s->gate = c->ngenerated + next_missing++;
    } else {
      s->kind = K_NEW;
      assert_true(next_gen < c->ngenerated);
      s->gate = next_gen++;
    }
  }
}

/* The workers log at info (debug would write gigabytes), and their group
 * session outlasts the 10 s broker outage: a real cluster's coordinator
 * does not expire members for an outage of its own, while the mock cluster
 * does, and the storm of rejoins that follows can wedge its group
 * (librdkafka 2.0.2: new members never assigned, then the devbroker aborts
 * in rd_kafka_mock_cgrp_member_add). A killed worker is noticed after 15 s
 * instead of 6. */
static void set_worker_env(struct chaos *c) {
  static const char conf[] = "session.timeout.ms=15000\n"
                             "heartbeat.interval.ms=1000\n"
                             "reconnect.backoff.max.ms=1000\n"
                             "topic.metadata.refresh.interval.ms=5000\n";
  const char *path = NULL;

  EG_IT_MUST(c->it, eg_it_write_file(c->it, "chaos-kafka.conf", conf,
                                     sizeof(conf) - 1, &path));
  snprintf(c->kafka_conf_env, sizeof(c->kafka_conf_env),
           "ENVGATE_KAFKA_CONFIG_FILE=%s", path);
  c->worker_env[0] = "ENVGATE_LOG_LEVEL=info";
  c->worker_env[1] = c->kafka_conf_env;
  c->worker_env[2] = NULL;
}

/* ---- Waiting for the outcome ---- */

/* Distinct deliveries with a dead letter so far. */
static size_t dead_lettered_now(struct chaos *c) {
  eg_it_kafka_msgs_t msgs;
  size_t n = 0;
  unsigned char *seen;

  if (eg_it_kafka_consume_all(c->it, c->st.db.bootstrap, "envgate.dlq", 10000,
                              &msgs) != EG_OK)
    return 0;
  seen = calloc(c->nreq, 1);
  assert_non_null(seen);
  for (size_t i = 0; i < msgs.n; i++) {
    size_t o =
        origin_of(c, eg_it_kafka_header_str(&msgs.v[i], "github-delivery"));
    if (o != SIZE_MAX && !seen[o]) {
      seen[o] = 1;
      n++;
    }
  }
  free(seen);
  eg_it_kafka_msgs_cleanup(&msgs);
  return n;
}

/* Events of the workers' group not yet committed on events and retry: 0
 * once every copy of every event, duplicates included, is finished.
 * @returns EG_OK with *lag set, or EG_EUNAVAIL. */
static int group_lag(struct chaos *c, int64_t *lag) {
  static const char *const topics[] = {"envgate.events", "envgate.retry"};
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_t *rk;
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_topic_partition_list_t *parts;
  int rc = EG_EUNAVAIL;

  *lag = 0;
  if (rd_kafka_conf_set(conf, "bootstrap.servers", c->st.db.bootstrap, errstr,
                        sizeof(errstr)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "group.id", "envgate-workers", errstr,
                        sizeof(errstr)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) !=
          RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return EG_EUNAVAIL;
  }
  /* Never subscribes: only reads the group's committed offsets. */
  rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (rk == NULL) {
    rd_kafka_conf_destroy(conf);
    return EG_EUNAVAIL;
  }
  parts = rd_kafka_topic_partition_list_new(32);
  if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    goto out;
  for (int t = 0; t < md->topic_cnt; t++)
    for (size_t k = 0; k < 2; k++)
      if (strcmp(md->topics[t].topic, topics[k]) == 0)
        for (int p = 0; p < md->topics[t].partition_cnt; p++)
          rd_kafka_topic_partition_list_add(parts, topics[k],
                                            md->topics[t].partitions[p].id);
  if (parts->cnt == 0 ||
      rd_kafka_committed(rk, parts, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    goto out;
  for (int i = 0; i < parts->cnt; i++) {
    int64_t lo, hi;
    const rd_kafka_topic_partition_t *p = &parts->elems[i];
    if (rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi,
                                         10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
      goto out;
    *lag += hi - (p->offset >= 0 ? p->offset : lo);
  }
  rc = EG_OK;
out:
  if (md != NULL)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_destroy(rk);
  return rc;
}

/* Waits until ghsim has as many reviews, and the dead-letter topic as many
 * dead-lettered deliveries, as the acknowledged deliveries call for; then
 * until the workers have committed everything. */
static void
wait_outcomes(struct chaos *c, size_t want_reviews, size_t want_dead) {
  long long limit = eg_it_timeout_ms(
      (int)(c->seconds * 1000u > 300000u ? c->seconds * 1000u : 300000u));
  long long t0 = eg_it_now_ms(), deadline = t0 + limit, next_note = t0 + 10000;
  size_t reviews = 0, dead = 0;
  int64_t lag = -1;

  for (;;) {
    reviews = eg_it_ghsim_reviews_ok(c->it, &c->st);
    dead = dead_lettered_now(c);
    if (reviews >= want_reviews && dead >= want_dead)
      break;
    if (eg_it_now_ms() >= next_note) {
      printf("chaos: +%lld s: %zu of %zu reviews, %zu of %zu dead letters\n",
             (eg_it_now_ms() - t0) / 1000, reviews, want_reviews, dead,
             want_dead);
      fflush(stdout);
      next_note += 10000;
    }
    if (eg_it_now_ms() > deadline)
      fail_msg("after %lld s: %zu of %zu reviews, %zu of %zu dead letters",
               limit / 1000, reviews, want_reviews, dead, want_dead);
    eg_it_sleep_ms(2000);
  }
  printf("chaos: outcomes complete %.1f s after the last request\n",
         (double)(eg_it_now_ms() - t0) / 1000.0);
  deadline = eg_it_now_ms() + eg_it_timeout_ms(180000);
  for (;;) {
    if (group_lag(c, &lag) == EG_OK && lag == 0)
      break;
    if (eg_it_now_ms() > deadline)
      fail_msg("the workers left %lld events uncommitted", (long long)lag);
    eg_it_sleep_ms(1000);
  }
  printf("chaos: every event committed %.1f s after the last request\n",
         (double)(eg_it_now_ms() - t0) / 1000.0);
  fflush(stdout);
}

/* ---- The checks ---- */

/* The checks ghsim's generate breaks for a run to be rejected. */
static const char *const reasons[6] = {
    "gate_job_failed",   "gate_status", "event", "path", "fork",
    "no_gate_deployment"};

struct tally {
  size_t deliveries, acked_deliveries;
  size_t by_kind[4];
  size_t approved, rejected, dead; /* acknowledged deliveries by fate */
  size_t rejected_gates[6];        /* by the check ghsim broke: reasons[] */
  size_t reviews_ok, reviews_refused, reviews_other_runs;
  size_t gates_reviewed, gates_twice, wrong_state, unreviewed, unwanted;
  size_t letters, letters_permanent, letters_other_class, letters_bad;
  size_t letters_twice, letters_unexpected, letters_foreign;
  size_t in_events_total, missing;
  size_t audit_requests, audit_approved, audit_rejected, audit_retrying,
      audit_dead, audit_pending, audit_anomalies, audit_mismatch, audit_unknown;
  int audit_exit;
  json_int_t faults_fired;
  size_t secrets;
};

static void read_events(struct chaos *c, struct tally *t) {
  eg_it_kafka_msgs_t msgs;

  EG_IT_MUST(c->it, eg_it_kafka_consume_all(c->it, c->st.db.bootstrap,
                                            "envgate.events", 60000, &msgs));
  t->in_events_total = msgs.n;
  for (size_t i = 0; i < msgs.n; i++) {
    size_t o =
        origin_of(c, eg_it_kafka_header_str(&msgs.v[i], "github-delivery"));
    if (o != SIZE_MAX)
      c->slots[o].in_events = true;
  }
  eg_it_kafka_msgs_cleanup(&msgs);
}

static void read_letters(struct chaos *c, struct tally *t) {
  eg_it_kafka_msgs_t msgs;

  EG_IT_MUST(c->it, eg_it_kafka_consume_all(c->it, c->st.db.bootstrap,
                                            "envgate.dlq", 60000, &msgs));
  t->letters = msgs.n;
  for (size_t i = 0; i < msgs.n; i++) {
    const eg_it_kafka_msg_t *m = &msgs.v[i];
    size_t o = origin_of(c, eg_it_kafka_header_str(m, "github-delivery"));
    const char *cls = eg_it_kafka_header_str(m, "envgate-error-class");
    struct slot *s;

    if (strcmp(cls, "permanent") == 0)
      t->letters_permanent++;
    else
      t->letters_other_class++;
    if (o == SIZE_MAX) {
      t->letters_foreign++;
      continue;
    }
    s = &c->slots[o];
    s->letters++;
    snprintf(s->letter_class, sizeof(s->letter_class), "%s", cls);
    /* A reason: the class, the error and GitHub's last status. */
    s->letter_ok =
        strcmp(cls, "permanent") == 0 &&
        eg_it_kafka_header_str(m, "envgate-error")[0] != '\0' &&
        strcmp(eg_it_kafka_header_str(m, "envgate-last-status"), "404") == 0;
  }
  eg_it_kafka_msgs_cleanup(&msgs);
}

static json_int_t sum_ints(json_t *obj) {
  const char *k;
  json_t *v;
  json_int_t n = 0;

  json_object_foreach(obj, k, v) n += json_integer_value(v);
  return n;
}

static void read_reviews(struct chaos *c, struct tally *t) {
  json_t *sim = eg_it_ghsim_state(c->it, &c->st);
  json_t *v;
  size_t i;

  assert_non_null(sim);
  t->faults_fired = sum_ints(json_object_get(sim, "faults_fired"));
  json_array_foreach(json_object_get(sim, "reviews"), i, v) {
    uint64_t run = (uint64_t)json_integer_value(json_object_get(v, "run_id"));
    json_int_t status = json_integer_value(json_object_get(v, "status"));
    const char *state = json_string_value(json_object_get(v, "state"));
    struct gate *g = gate_of(c, run);

    if (status / 100 != 2) {
      t->reviews_refused++;
      if (g != NULL)
        g->refused++;
      continue;
    }
    t->reviews_ok++;
    if (g == NULL) {
      t->reviews_other_runs++;
      continue;
    }
    g->reviews++;
    snprintf(g->state, sizeof(g->state), "%s", state != NULL ? state : "");
  }
  json_decref(sim);
}

/* Runs envgate-audit --format json over the topics; records each
 * delivery's fate and the summary. */
static void run_audit(struct chaos *c, struct tally *t) {
  char brokers[512], secret[600];
  const char *argv[] = {"envgate-audit", "--format", "json", NULL};
  const char *env[] = {brokers, secret, NULL};
  eg_it_spawn_opts_t o = {.name = "audit", .argv = argv, .env = env};
  eg_it_proc_t *p = NULL;
  int status = -1;
  char *out = NULL, *line, *save = NULL;
  size_t len;

  snprintf(brokers, sizeof(brokers), "ENVGATE_KAFKA_BROKERS=%s",
           c->st.db.bootstrap);
  snprintf(secret, sizeof(secret), "ENVGATE_WEBHOOK_SECRET_FILE=%s",
           c->st.secret_file);
  EG_IT_MUST(c->it, eg_it_run(c->it, &o, 300000, &status, &p));
  assert_true(WIFEXITED(status));
  t->audit_exit = WEXITSTATUS(status);
  EG_IT_MUST(c->it, eg_it_read_file(c->it, eg_it_proc_out_path(p), &out, &len));
  for (line = strtok_r(out, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    json_t *doc = json_loads(line, 0, NULL);
    json_t *sum = json_object_get(doc, "summary");

    if (sum != NULL) {
      t->audit_requests =
          (size_t)json_integer_value(json_object_get(sum, "requests"));
      t->audit_approved =
          (size_t)json_integer_value(json_object_get(sum, "approved"));
      t->audit_rejected =
          (size_t)json_integer_value(json_object_get(sum, "rejected"));
      t->audit_retrying =
          (size_t)json_integer_value(json_object_get(sum, "retrying"));
      t->audit_dead =
          (size_t)json_integer_value(json_object_get(sum, "dead_lettered"));
      t->audit_pending =
          (size_t)json_integer_value(json_object_get(sum, "pending"));
      t->audit_anomalies = json_array_size(json_object_get(sum, "anomalies"));
      if (t->audit_anomalies > 0) {
        char *text = json_dumps(json_object_get(sum, "anomalies"), 0);
        fprintf(stderr, "chaos: audit anomalies: %.2000s\n", text);
        free(text);
      }
    } else {
      size_t o2 =
          origin_of(c, json_string_value(json_object_get(doc, "delivery")));
      const char *fate = json_string_value(json_object_get(doc, "fate"));
      if (o2 == SIZE_MAX || fate == NULL)
        t->audit_unknown++;
      else
        snprintf(c->slots[o2].audit_fate, sizeof(c->slots[o2].audit_fate), "%s",
                 fate);
    }
    json_decref(doc);
  }
  free(out);
}

/* Joins what was sent with what happened. */
static void tally(struct chaos *c, struct tally *t) {
  for (size_t i = 0; i < c->nreq; i++) {
    struct slot *s = &c->slots[i];
    t->by_kind[s->kind]++;
    if (s->acked)
      c->slots[s->origin].delivery_acked = true;
  }
  for (size_t i = 0; i < c->nreq; i++)
    if (c->slots[i].delivery_acked)
      c->gates[c->slots[i].gate].wanted = true;
  read_events(c, t);
  read_letters(c, t);
  read_reviews(c, t);
  run_audit(c, t);
  for (size_t i = 0; i < c->nreq; i++) {
    struct slot *s = &c->slots[i];
    const struct gate *g = &c->gates[s->gate];

    if (s->origin != i)
      continue;
    t->deliveries++;
    if (s->letters > 1)
      t->letters_twice++;
    if (!s->delivery_acked) {
      /* Never acknowledged (the sender gave up): no promise was made. */
      continue;
    }
    t->acked_deliveries++;
    if (!s->in_events)
      t->missing++;
    if (g->expect == X_DEAD) {
      t->dead++;
      if (s->letters != 1 || !s->letter_ok)
        t->letters_bad++;
    } else {
      if (g->expect == X_APPROVED)
        t->approved++;
      else
        t->rejected++;
      if (s->letters != 0)
        t->letters_unexpected++;
    }
    if (strcmp(s->audit_fate, expect_name(g->expect)) != 0)
      t->audit_mismatch++;
  }
  for (size_t k = 0; k < c->ngates; k++) {
    const struct gate *g = &c->gates[k];
    if (g->reviews > 0)
      t->gates_reviewed++;
    for (size_t r = 0; r < 6 && g->wanted && g->expect == X_REJECTED; r++)
      if (strcmp(g->reason, reasons[r]) == 0)
        t->rejected_gates[r]++;
    if (g->reviews > 1)
      t->gates_twice++;
    if (!g->wanted) {
      t->unwanted += g->reviews > 0;
      continue;
    }
    if (g->expect == X_DEAD) {
      t->unwanted += g->reviews > 0;
    } else if (g->reviews == 0) {
      t->unreviewed++;
    } else if (strcmp(g->state, expect_name(g->expect)) != 0) {
      t->wrong_state++;
    }
  }
  t->secrets = eg_it_scan_secrets(c->it, &c->st);
}

static void print_table(const struct chaos *c, const struct tally *t) {
  const struct answers *a = &c->ans;

#define ROW(label, value) printf("  %-44s %10zu\n", label, (size_t)(value))
  printf("\n== chaos run: %zu requests over %u s, %u fault cycle(s)\n", c->nreq,
         c->seconds, c->cycles);
  printf("requests\n");
  ROW("sent (distinct requests)", c->nreq);
  ROW("  new gate", t->by_kind[K_NEW]);
  ROW("  run GitHub does not know (404)", t->by_kind[K_MISSING]);
  ROW("  redelivery of an earlier delivery", t->by_kind[K_REDELIVERY]);
  ROW("  second delivery for an earlier gate", t->by_kind[K_SECOND]);
  printf("HTTP answers of the ingress\n");
  ROW("attempts", a->attempts);
  ROW("202 acknowledged", a->s202);
  ROW("503 (Kafka did not acknowledge)", a->s503);
  ROW("connection refused (ingress restart)", a->refused);
  ROW("timed out", a->timeouts);
  ROW("other transport errors", a->io_errors);
  ROW("other statuses (must be 0)", a->s_other);
  ROW("requests retried until 202", a->retried);
  ROW("requests given up (must be 0)", a->gave_up);
  printf("acknowledged deliveries and their expected fate\n");
  ROW("distinct deliveries acknowledged", t->acked_deliveries);
  ROW("  approved", t->approved);
  ROW("  rejected", t->rejected);
  for (size_t k = 0; k < 6; k++) {
    char label[64];
    snprintf(label, sizeof(label), "    gates rejected: %s", reasons[k]);
    ROW(label, t->rejected_gates[k]);
  }
  ROW("  dead-lettered", t->dead);
  ROW("missing from envgate.events (must be 0)", t->missing);
  printf("reviews at ghsim\n");
  ROW("accepted (2xx)", t->reviews_ok);
  ROW("gates reviewed", t->gates_reviewed);
  ROW("gates reviewed twice (must be 0)", t->gates_twice);
  ROW("second reviews refused by GitHub (422)", t->reviews_refused);
  ROW("wrong state (must be 0)", t->wrong_state);
  ROW("gates left unreviewed (must be 0)", t->unreviewed);
  ROW("reviews nobody asked for (must be 0)",
      t->unwanted + t->reviews_other_runs);
  printf("dead letters (envgate.dlq)\n");
  ROW("letters", t->letters);
  ROW("  permanent", t->letters_permanent);
  ROW("  other classes", t->letters_other_class);
  ROW("deliveries with two letters (must be 0)", t->letters_twice);
  ROW("404 deliveries without one good letter", t->letters_bad);
  ROW("letters for reviewable deliveries", t->letters_unexpected);
  printf("envgate-audit (exit %d)\n", t->audit_exit);
  ROW("requests", t->audit_requests);
  ROW("approved", t->audit_approved);
  ROW("rejected", t->audit_rejected);
  ROW("dead-lettered", t->audit_dead);
  ROW("retrying", t->audit_retrying);
  ROW("pending", t->audit_pending);
  ROW("anomalies", t->audit_anomalies);
  ROW("deliveries whose fate differs (must be 0)", t->audit_mismatch);
  printf("faults\n");
  ROW("worker kill -9", c->kills);
  ROW("Redis down 10 s", c->redis_outages);
  ROW("broker down 10 s", c->broker_outages);
  ROW("ingress restarts", c->ingress_restarts);
  ROW("GitHub faults fired (500, 429, timeouts)", t->faults_fired);
  ROW("events in envgate.events (copies)", t->in_events_total);
  ROW("secrets in logs and topics (must be 0)", t->secrets);
#undef ROW
  fflush(stdout);
}

static void stop_services(struct chaos *c) {
  int status = -1;

  for (size_t i = 0; i < c->st.nworkers; i++) {
    EG_IT_MUST(c->it, eg_it_proc_stop(c->st.workers[i], 30000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  EG_IT_MUST(c->it, eg_it_proc_stop(c->ingress, 30000, &status));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_chaos(void **state) {
  static struct chaos c;
  struct tally t = {0};
  const char *scenario = NULL, *faults;
  size_t want_reviews = 0, want_dead = 0;

  memset(&c, 0, sizeof(c));
  c.it = *state;
  c.nreq = (size_t)env_u64("EG_CHAOS_REQUESTS", 2000, 100, 10000,
                           "the development broker keeps about 5 MiB per "
                           "partition, and more decisions would not fit");
  c.seconds = (unsigned)env_u64("EG_CHAOS_SECONDS", 90, 60, 86400,
                                "the faults need a minute");
  c.cycles = (unsigned)env_u64(
      "EG_CHAOS_CYCLES", c.seconds >= 150 ? (c.seconds + 50) / 100 : 1, 1,
      c.seconds / 60, "one cycle of faults takes at least a minute");
  pthread_mutex_init(&c.lock, NULL);
  atomic_init(&c.stop, false);

  write_scenario(&c, &scenario);
  EG_IT_MUST(c.it, eg_it_stack_start(c.it, scenario, &c.st));
  load_gates(&c);
  plan(&c);
  set_worker_env(&c);
  EG_IT_MUST(c.it, eg_it_stack_worker(c.it, &c.st, c.worker_env, NULL));
  EG_IT_MUST(c.it, eg_it_stack_worker(c.it, &c.st, c.worker_env, NULL));
  EG_IT_MUST(c.it, eg_it_stack_ingress(c.it, &c.st, ch_ingress_env));
  c.ingress = c.st.ingress;
  snprintf(c.base, sizeof(c.base), "%s", c.st.ingress_url);
  faults = getenv("EG_CHAOS_GITHUB_FAULTS");
  EG_IT_MUST(c.it, eg_it_ghsim_faults(c.it, &c.st,
                                      faults != NULL && *faults != '\0'
                                          ? faults
                                          : github_faults));
  printf("chaos: %zu requests over %u s, %u fault cycle(s), scratch %s\n",
         c.nreq, c.seconds, c.cycles, eg_it_dir(c.it));
  fflush(stdout);

  ch_run_load(&c);
  printf("chaos: sent in %.1f s\n", (double)(eg_it_now_ms() - c.t0) / 1000.0);
  fflush(stdout);
  if (c.unexpected[0] != '\0')
    fail_msg("unexpected answer: %s", c.unexpected);
  assert_int_equal(c.ans.gave_up, 0);

  /* What the acknowledged deliveries call for. */
  for (size_t i = 0; i < c.nreq; i++)
    if (c.slots[i].acked)
      c.slots[c.slots[i].origin].delivery_acked = true;
  for (size_t i = 0; i < c.nreq; i++) {
    struct gate *g = &c.gates[c.slots[i].gate];
    if (!c.slots[c.slots[i].origin].delivery_acked)
      continue;
    if (g->expect == X_DEAD && c.slots[i].origin == i)
      want_dead++;
    if (g->expect != X_DEAD && !g->wanted) {
      g->wanted = true;
      want_reviews++;
    }
  }
  wait_outcomes(&c, want_reviews, want_dead);
  stop_services(&c);

  tally(&c, &t);
  print_table(&c, &t);

  assert_int_equal(c.ans.s_other, 0);
  assert_int_equal(t.acked_deliveries, t.deliveries);
  assert_int_equal(t.missing, 0);
  assert_int_equal(t.gates_twice, 0);
  assert_int_equal(t.wrong_state, 0);
  assert_int_equal(t.unreviewed, 0);
  assert_int_equal(t.unwanted + t.reviews_other_runs, 0);
  assert_int_equal(t.reviews_ok, want_reviews);
  assert_int_equal(t.letters_twice, 0);
  assert_int_equal(t.letters_bad, 0);
  assert_int_equal(t.letters_unexpected, 0);
  assert_int_equal(t.letters_foreign, 0);
  assert_int_equal(t.letters, t.dead);
  assert_int_equal(t.audit_exit, 0);
  assert_int_equal(t.audit_unknown, 0);
  assert_int_equal(t.audit_requests, t.acked_deliveries);
  assert_int_equal(t.audit_approved, t.approved);
  assert_int_equal(t.audit_rejected, t.rejected);
  assert_int_equal(t.audit_dead, t.dead);
  assert_int_equal(t.audit_retrying, 0);
  assert_int_equal(t.audit_pending, 0);
  assert_int_equal(t.audit_anomalies, 0);
  assert_int_equal(t.audit_mismatch, 0);
  assert_int_equal(t.secrets, 0);
  assert_int_equal(c.kills, 3 * c.cycles);
  assert_int_equal(c.redis_outages, c.cycles);
  assert_int_equal(c.broker_outages, c.cycles);
  assert_int_equal(c.ingress_restarts, c.cycles);
  free(c.gates);
  free(c.slots);
  pthread_mutex_destroy(&c.lock);
  eg_it_pass(c.it);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_chaos, eg_it_setup, eg_it_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

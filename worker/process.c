/* One event, end to end, on a worker thread: re-verify, parse, skip if the
 * gate request was already reviewed, get a token, decide with the GitHub
 * API, post the review, record the decision; or send the event to the retry
 * or dead-letter topic. Its offset is finished only once one of those
 * outcomes is durable. */
#include "deps.h"
#include "done.h"
#include "hold.h"
#include "worker.h"

#include "eg/decision.h"
#include "eg/error.h"
#include "eg/event.h"
#include "eg/kafka.h"
#include "eg/log.h"
#include "eg/retry_policy.h"
#include "eg/timeutil.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_CALLS     16
#define INPLACE_TRIES 3 /* one call, retried where it failed */
#define INPLACE_MAX_DELAY_MS                                                   \
  2000                         /* longer waits go through the retry topic      \
                                */
#define REQUEUE_DELAY_MS 2000  /* Kafka could not take an outcome */
#define LETTER_WAIT_MS   30000 /* a dead letter waits this long for Redis */

enum fate { F_REVIEWED, F_DUPLICATE, F_RETRY, F_DEAD, F_REQUEUE };

struct outcome {
  enum fate fate;
  const char *dlq_class; /* F_DEAD */
  char error[2 * EG_ERRBUF_LEN];
  int last_status;
  uint64_t delay_ms; /* F_RETRY */
};

/* The state of one event while it is processed. */
struct ev_run {
  wrk_ctx_t *ctx;
  wrk_deps_t *d;
  wrk_job_t *job;
  char delivery[64];
  eg_event_t ev;
  const eg_policy_rules_t *rules;
  char done_id[1200];
  char *token;
  eg_token_info_t tinfo;
  bool token_refreshed;
  uint64_t retry_delay_ms; /* longest wait a failed call asked for */
  int last_status;
};

static uint64_t random_u64(void) {
  uint64_t v = 0;
  RAND_bytes((unsigned char *)&v, sizeof(v));
  return v;
}

static void sleep_ms(uint64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void set_dead(struct outcome *out,
                     const char *cls,
                     int status,
                     const char *fmt,
                     const char *detail) {
  out->fate = F_DEAD;
  out->dlq_class = cls;
  out->last_status = status;
  snprintf(out->error, sizeof(out->error), fmt, detail);
}

static void set_retry(struct outcome *out,
                      uint64_t delay_ms,
                      int status,
                      const char *error) {
  out->fate = F_RETRY;
  out->delay_ms = delay_ms;
  out->last_status = status;
  snprintf(out->error, sizeof(out->error), "%s", error);
}

/* Step 1: the stored event must be one the ingress verified, for a real
 * gate, under its own key. Write access to Kafka alone must never get a
 * deployment reviewed. */
static bool check_event(struct ev_run *r, struct outcome *out) {
  const rd_kafka_message_t *msg = r->job->msg;
  char sig[128], key[EG_EVENT_KEY_LEN], errbuf[EG_ERRBUF_LEN];
  int rc;

  if (eg_kafka_header(msg, "github-delivery", r->delivery,
                      sizeof(r->delivery)) != EG_OK ||
      eg_event_check_delivery_id(r->delivery, strlen(r->delivery), NULL, 0) !=
          EG_OK) {
    snprintf(r->delivery, sizeof(r->delivery), "-");
    set_dead(out, WRK_DLQ_INVALID, 0, "%s",
             "github-delivery header missing or not a UUID");
    return false;
  }
  if (eg_kafka_header(msg, "hub-signature-256", sig, sizeof(sig)) != EG_OK ||
      eg_signature_verify(r->d->verifier, sig, msg->payload, msg->len, NULL) !=
          EG_OK) {
    set_dead(out, WRK_DLQ_INVALID, 0, "%s",
             "hub-signature-256 does not verify the stored body");
    return false;
  }
  rc = eg_event_parse(msg->payload, msg->len, r->ctx->cfg->github_api_url, 0,
                      &r->ev, errbuf, sizeof(errbuf));
  if (rc == EG_EPARSE) {
    set_dead(out, WRK_DLQ_POISON, 0, "body is not JSON: %s", errbuf);
    return false;
  }
  if (rc != EG_OK) {
    set_dead(out, WRK_DLQ_INVALID, 0, "invalid payload: %s", errbuf);
    return false;
  }
  if (eg_event_build_key(&r->ev, key, sizeof(key), NULL) != EG_OK ||
      strcmp(key, r->job->key) != 0) {
    set_dead(out, WRK_DLQ_INVALID, 0, "%s",
             "the Kafka key does not match the payload");
    return false;
  }
  r->rules = eg_policy_for_repo(r->d->policy, r->ev.full_name);
  /* One review per deployment: a re-run asks again with a new deployment,
   * a redelivery or a burst for the same deployment does not. */
  if (r->ev.has_deployment_id)
    snprintf(r->done_id, sizeof(r->done_id), "%s/d%llu", key,
             (unsigned long long)r->ev.deployment_id);
  else
    snprintf(r->done_id, sizeof(r->done_id), "%s/%s", key, r->delivery);
  return true;
}

static int get_token(struct ev_run *r, struct outcome *out) {
  char errbuf[EG_ERRBUF_LEN] = "";
  const char *result;
  int rc;

  eg_token_cache_free_token(r->token);
  r->token = NULL;
  rc = eg_token_cache_get(r->d->tokens, r->ev.installation_id,
                          r->ev.repository_id, &r->token, &r->tinfo, errbuf,
                          sizeof(errbuf));
  if (rc == EG_OK) {
    result = r->tinfo.source == EG_TOKEN_LOCAL   ? "hit_local"
             : r->tinfo.source == EG_TOKEN_REDIS ? "hit_redis"
                                                 : "mint";
    eg_metric_inc(r->ctx->m.tokens, (const char *const[]){result});
    if (r->tinfo.redis_failed)
      eg_metric_inc(r->ctx->m.redis_errors, NULL);
    return EG_OK;
  }
  eg_metric_inc(r->ctx->m.tokens, (const char *const[]){"error"});
  if (rc == EG_EPERM)
    set_dead(out, WRK_DLQ_PERMANENT, 0, "installation token refused: %s",
             errbuf);
  else
    set_retry(out, eg_retry_backoff_ms(r->job->attempt, random_u64()), 0,
              "installation token unavailable");
  return rc;
}

/* While GitHub holds the installation's budget (fleet-wide), calls are not
 * made: short holds are waited out here, longer ones answer every call as
 * unavailable so the event goes to the retry topic until the hold ends.
 * @returns true when the calls were answered that way. */
static bool held(struct ev_run *r, size_t n, eg_gh_response_t *resps) {
  int64_t until = wrk_hold_until(r->ctx->hold, r->ev.installation_id);
  int64_t wait = until - eg_time_epoch_ms();

  if (until == 0 || wait <= 0)
    return false;
  if (wait <= INPLACE_MAX_DELAY_MS) {
    sleep_ms((uint64_t)wait);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    memset(&resps[i], 0, sizeof(resps[i]));
    resps[i].err = EG_EUNAVAIL;
    resps[i].net = EG_GH_NET_CONNECT;
    snprintf(resps[i].errmsg, sizeof(resps[i].errmsg),
             "installation held by a GitHub rate limit");
  }
  if ((uint64_t)wait > r->retry_delay_ms)
    r->retry_delay_ms = (uint64_t)wait;
  return true;
}

/* Performs calls, retrying in place those that failed transiently with a
 * short wait; a longer wait is remembered for the retry topic. */
static void call_github(struct ev_run *r,
                        const eg_gh_call_t *calls,
                        const char *const *endpoints,
                        size_t n,
                        eg_gh_response_t *resps) {
  bool pending[MAX_CALLS];
  size_t todo = n;

  for (size_t i = 0; i < n; i++)
    pending[i] = true;
  for (unsigned try = 1; todo > 0; try++) {
    eg_gh_call_t batch[MAX_CALLS];
    const char *labels[MAX_CALLS];
    eg_gh_response_t got[MAX_CALLS];
    size_t idx[MAX_CALLS], m = 0;
    uint64_t wait = 0;

    for (size_t i = 0; i < n; i++) {
      if (!pending[i])
        continue;
      batch[m] = calls[i];
      labels[m] = endpoints[i];
      idx[m++] = i;
    }
    if (held(r, m, got)) {
      /* Not retried in place: the event waits in the retry topic. */
      for (size_t k = 0; k < m; k++) {
        if (try > 1)
          eg_gh_response_cleanup(&resps[idx[k]]);
        resps[idx[k]] = got[k];
      }
      break;
    }
    /* In turns of at most the installation's call slots, when the cap
     * (ENVGATE_GITHUB_CONCURRENCY) is lower than the calls of one round. */
    for (size_t off = 0, turn = wrk_hold_max(r->ctx->hold); off < m;
         off += turn) {
      size_t c = m - off < turn ? m - off : turn;

      wrk_hold_acquire(r->ctx->hold, r->ev.installation_id, (unsigned)c);
      wrk_gh_many(r->d, batch + off, labels + off, c, got + off);
      wrk_hold_release(r->ctx->hold, r->ev.installation_id, (unsigned)c);
    }
    todo = 0;
    for (size_t k = 0; k < m; k++) {
      size_t i = idx[k];
      eg_retry_t rt;

      eg_retry_classify(&got[k], try, (int64_t)time(NULL), random_u64(), &rt);
      if (try > 1)
        eg_gh_response_cleanup(&resps[i]);
      resps[i] = got[k];
      if (got[k].status != 0)
        r->last_status = got[k].status;
      if (rt.cls != EG_RETRY_TRANSIENT || got[k].status == 401) {
        pending[i] = false;
        continue;
      }
      eg_log(EG_LOG_INFO, "github call failed",
             EG_LSTR("delivery", r->delivery),
             EG_LSTR("endpoint", endpoints[i]),
             EG_LINT("status", got[k].status), EG_LSTR("reason", rt.reason),
             EG_LINT("try", try), EG_LINT("retry_ms", rt.delay_ms));
      if (rt.delay_ms > r->retry_delay_ms)
        r->retry_delay_ms = rt.delay_ms;
      if (got[k].status != 0 &&
          (strcmp(rt.reason, "rate_limited") == 0 ||
           strcmp(rt.reason, "secondary_rate_limit") == 0))
        wrk_hold_set(r->ctx->hold, r->ev.installation_id,
                     eg_time_epoch_ms() + (int64_t)rt.delay_ms);
      if (try >= INPLACE_TRIES || rt.delay_ms > INPLACE_MAX_DELAY_MS) {
        pending[i] = false;
        continue;
      }
      if (rt.delay_ms > wait)
        wait = rt.delay_ms;
      todo++;
    }
    if (todo > 0)
      sleep_ms(wait);
  }
}

static const char *endpoint_name(eg_decision_call_kind_t kind) {
  switch (kind) {
  case EG_DECISION_CALL_RUN:
    return "run";
  case EG_DECISION_CALL_DEPLOYMENTS:
    return "deployments";
  case EG_DECISION_CALL_STATUSES:
    return "deployment_statuses";
  case EG_DECISION_CALL_JOB:
    return "job";
  case EG_DECISION_CALL_JOBS:
    return "jobs";
  case EG_DECISION_CALL_APPROVALS:
    return "approvals";
  }
  return "other";
}

/* A 401 with a token we did not just mint: drop it and get a fresh one,
 * once per event. A 401 right after a mint is GitHub's replication delay:
 * wait a moment and use the same token again. */
static bool refresh_token(struct ev_run *r, struct outcome *out) {
  char errbuf[EG_ERRBUF_LEN];

  if (r->token_refreshed)
    return false;
  r->token_refreshed = true;
  if (r->tinfo.source == EG_TOKEN_MINTED &&
      time(NULL) - r->tinfo.minted_at < 5) {
    sleep_ms(1000);
    return true;
  }
  eg_token_cache_invalidate(r->d->tokens, r->ev.installation_id,
                            r->ev.repository_id, r->token, errbuf,
                            sizeof(errbuf));
  return get_token(r, out) == EG_OK;
}

/* Step 3: run the decision engine to a verdict. */
static eg_decision_t *decide(struct ev_run *r, struct outcome *out) {
  for (;;) {
    eg_decision_t *dec = NULL;
    eg_decision_result_t res;
    bool unauthorized = false;

    if (eg_decision_new(r->rules, &r->ev, r->d->web_origin, &dec) != EG_OK) {
      set_retry(out, eg_retry_backoff_ms(r->job->attempt, random_u64()), 0,
                "out of memory");
      return NULL;
    }
    eg_decision_result(dec, &res);
    while (!res.done && !unauthorized) {
      eg_decision_call_t dcalls[MAX_CALLS];
      eg_gh_call_t calls[MAX_CALLS];
      const char *labels[MAX_CALLS];
      eg_gh_response_t resps[MAX_CALLS];
      size_t n = eg_decision_next(dec, dcalls, MAX_CALLS);

      if (n == 0)
        break;
      for (size_t i = 0; i < n; i++) {
        calls[i] = (eg_gh_call_t){
            .method = EG_GH_GET, .path = dcalls[i].path, .token = r->token};
        labels[i] = endpoint_name(dcalls[i].kind);
      }
      call_github(r, calls, labels, n, resps);
      for (size_t i = 0; i < n; i++) {
        unsigned flags = resps[i].hdr.has_next ? EG_DECISION_RESP_LINK_NEXT : 0;

        if (resps[i].status == 401)
          unauthorized = true;
        eg_decision_feed(dec, dcalls[i].id, resps[i].status, resps[i].body,
                         resps[i].body_len, flags);
        eg_gh_response_cleanup(&resps[i]);
      }
      eg_decision_result(dec, &res);
    }
    if (unauthorized) {
      eg_decision_free(dec);
      if (refresh_token(r, out))
        continue;
      if (out->fate == F_REVIEWED) /* refresh_token left no outcome */
        set_dead(out, WRK_DLQ_PERMANENT, 401, "%s",
                 "GitHub answered 401 even with a fresh token");
      return NULL;
    }
    if (res.state == EG_DECISION_APPROVED || res.state == EG_DECISION_REJECTED)
      return dec;
    if (res.failure == EG_DECISION_FAIL_PERMANENT) {
      set_dead(out, WRK_DLQ_PERMANENT, res.failure_status, "%s",
               res.failure_detail != NULL ? res.failure_detail
                                          : "GitHub refused a read");
    } else {
      uint64_t backoff = eg_retry_backoff_ms(r->job->attempt, random_u64());
      set_retry(out, r->retry_delay_ms > backoff ? r->retry_delay_ms : backoff,
                res.failure_status,
                res.failure_detail != NULL ? res.failure_detail
                                           : "GitHub read failed");
    }
    eg_decision_free(dec);
    return NULL;
  }
}

/* GitHub's answer when the rule was already reviewed or nothing is pending
 * (observed wording, matched case-insensitively): the review is done. */
static bool already_reviewed(const char *body) {
  return body != NULL &&
         (strcasestr(body, "already been reviewed") != NULL ||
          strcasestr(body, "No pending deployment requests") != NULL);
}

/* Step 4: post the review. @returns the HTTP status GitHub answered when
 * the review is done, else 0 with out set. */
static int post_review(struct ev_run *r,
                       const eg_decision_result_t *res,
                       struct outcome *out) {
  char path[1024];
  char *body = NULL;
  size_t len = 0;
  const char *label = "review";

  if (eg_decision_review_path(&r->ev, path, sizeof(path)) != EG_OK ||
      eg_decision_review_body(r->ev.environment, res->state, res->comment,
                              &body, &len) != EG_OK) {
    set_retry(out, eg_retry_backoff_ms(r->job->attempt, random_u64()), 0,
              "out of memory");
    return 0;
  }
  for (;;) {
    eg_gh_call_t call = {.method = EG_GH_POST,
                         .path = path,
                         .token = r->token,
                         .body = body,
                         .body_len = len};
    eg_gh_response_t resp;
    int status;

    call_github(r, &call, &label, 1, &resp);
    status = resp.status;
    if (status == 401) {
      eg_gh_response_cleanup(&resp);
      if (refresh_token(r, out))
        continue;
      if (out->fate == F_REVIEWED)
        set_dead(out, WRK_DLQ_PERMANENT, 401, "%s",
                 "review answered 401 even with a fresh token");
      status = 0;
    } else if ((status >= 200 && status < 300) ||
               (status == 422 && already_reviewed(resp.body))) {
      eg_gh_response_cleanup(&resp);
    } else {
      eg_retry_t rt;

      eg_retry_classify(&resp, r->job->attempt, (int64_t)time(NULL),
                        random_u64(), &rt);
      if (rt.cls == EG_RETRY_TRANSIENT || status == 422) {
        /* 422 with other wording ("problem approving one of the gates")
         * is ambiguous: try again later. */
        uint64_t backoff = eg_retry_backoff_ms(r->job->attempt, random_u64());
        set_retry(out, rt.delay_ms > backoff ? rt.delay_ms : backoff, status,
                  status == 0 ? "review: no answer" : "review: GitHub failed");
      } else {
        set_dead(out, WRK_DLQ_PERMANENT, status, "review refused: %s",
                 rt.reason);
      }
      eg_gh_response_cleanup(&resp);
      status = 0;
    }
    free(body);
    return status;
  }
}

/* The first failed check names the reason; an approval's reason is
 * "passed". */
static const char *reason_of(const eg_decision_result_t *res) {
  for (size_t i = 0; i < res->nchecks; i++)
    if (!res->checks[i].passed)
      return res->checks[i].name;
  return "passed";
}

/* Step 5: the decision record, in envgate.decisions. */
static int record_decision(struct ev_run *r,
                           const eg_decision_t *dec,
                           const eg_decision_result_t *res,
                           int status) {
  json_t *doc = json_object();
  json_t *checks = NULL;
  char decided_at[EG_RFC3339_SIZE];
  char *text;
  int rc;

  if (doc == NULL || eg_decision_checks_json(dec, &checks) != EG_OK) {
    json_decref(doc);
    return EG_ENOMEM;
  }
  eg_time_rfc3339(eg_time_epoch_ms(), decided_at, sizeof(decided_at));
  json_object_set_new(doc, "delivery", json_string(r->delivery));
  json_object_set_new(doc, "key", json_string(r->job->key));
  json_object_set_new(doc, "repository", json_string(r->ev.full_name));
  json_object_set_new(doc, "repository_id",
                      json_integer((json_int_t)r->ev.repository_id));
  json_object_set_new(doc, "installation_id",
                      json_integer((json_int_t)r->ev.installation_id));
  json_object_set_new(doc, "run_id", json_integer((json_int_t)r->ev.run_id));
  if (r->ev.has_deployment_id)
    json_object_set_new(doc, "deployment_id",
                        json_integer((json_int_t)r->ev.deployment_id));
  json_object_set_new(doc, "environment", json_string(r->ev.environment));
  json_object_set_new(doc, "sha", json_string(r->ev.sha));
  json_object_set_new(doc, "state",
                      json_string(eg_decision_state_name(res->state)));
  json_object_set_new(doc, "reason", json_string(reason_of(res)));
  json_object_set_new(doc, "comment", json_string(res->comment));
  json_object_set_new(doc, "checks", checks);
  json_object_set_new(doc, "attempts", json_integer(r->job->attempt));
  json_object_set_new(doc, "worker", json_string(r->ctx->worker_id));
  json_object_set_new(doc, "decided_at", json_string(decided_at));
  json_object_set_new(doc, "github_status", json_integer(status));
  text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (text == NULL)
    return EG_ENOMEM;
  rc = wrk_outcome_decision(r->ctx->outcome, r->job->key, text, strlen(text));
  free(text);
  return rc;
}

static void run_event(struct ev_run *r, struct outcome *out) {
  eg_decision_t *dec;
  eg_decision_result_t res;
  const char *state = NULL;
  bool redis_failed = false;
  int status;

  if (!check_event(r, out))
    return;
  if (wrk_done_check(r->ctx->done, r->done_id, &state, &redis_failed)) {
    out->fate = F_DUPLICATE;
    snprintf(out->error, sizeof(out->error), "%s", state);
    return;
  }
  if (redis_failed)
    eg_metric_inc(r->ctx->m.redis_errors, NULL);
  if (get_token(r, out) != EG_OK)
    return;
  dec = decide(r, out);
  if (dec == NULL)
    return;
  eg_decision_result(dec, &res);
  status = post_review(r, &res, out);
  if (status != 0) {
    eg_metric_inc(r->ctx->m.decisions,
                  (const char *const[]){eg_decision_state_name(res.state),
                                        reason_of(&res)});
    eg_log(EG_LOG_INFO, "reviewed", EG_LSTR("delivery", r->delivery),
           EG_LSTR("repository", r->ev.full_name),
           EG_LINT("run_id", r->ev.run_id),
           EG_LSTR("environment", r->ev.environment),
           EG_LSTR("state", eg_decision_state_name(res.state)),
           EG_LSTR("comment", res.comment), EG_LINT("github_status", status),
           EG_LINT("calls", res.calls), EG_LINT("attempt", r->job->attempt));
    if (record_decision(r, dec, &res, status) != EG_OK) {
      /* The review is posted; the next attempt gets GitHub's "already
       * reviewed" and records the decision then. */
      out->fate = F_REQUEUE;
      snprintf(out->error, sizeof(out->error), "decision record not stored");
    } else {
      if (!wrk_done_record(r->ctx->done, r->done_id,
                           eg_decision_state_name(res.state)))
        eg_metric_inc(r->ctx->m.redis_errors, NULL);
      out->fate = F_REVIEWED;
    }
  }
  eg_decision_free(dec);
}

/* The idempotency id of a dead letter: one per delivery and redrive, so
 * that another copy of an event that was already dead-lettered adds no
 * second letter. Copies come from GitHub's redeliveries and from Kafka,
 * which after a crash delivers again the finished events above a
 * partition's committed offset. Only events that passed check_event() have
 * an id: a delivery id in an unverified event could be anyone's.
 * @returns false when there is none. */
static bool letter_id(const struct ev_run *r, char *out, size_t len) {
  char source[256];

  if (r->done_id[0] == '\0')
    return false;
  if (eg_kafka_header(r->job->msg, "envgate-redrive-source", source,
                      sizeof(source)) != EG_OK)
    snprintf(source, sizeof(source), "-");
  snprintf(out, len, "letter/%s/%s", r->delivery, source);
  return true;
}

/* A letter whose record cannot be looked up waits for Redis (its event is
 * tried again shortly) so that a copy another worker dead-lettered before
 * adds no second letter; after LETTER_WAIT_MS it is written anyway: a lost
 * letter would be worse than a second one. @returns true to wait. */
static bool letter_waits(wrk_job_t *job) {
  uint64_t now = eg_time_mono_ms();

  if (job->letter_wait_ms == 0)
    job->letter_wait_ms = now;
  return now - job->letter_wait_ms < LETTER_WAIT_MS;
}

/* Makes the outcome durable. @returns true when the offset may be
 * finished. */
static bool settle(struct ev_run *r, struct outcome *out) {
  wrk_ctx_t *ctx = r->ctx;
  const rd_kafka_message_t *msg = r->job->msg;
  const char *what = "reviewed";
  char letter[sizeof(r->done_id) + 300];
  bool has_letter_id, redis_failed = false;
  int rc = EG_OK;

  switch (out->fate) {
  case F_REVIEWED:
    break;
  case F_DUPLICATE:
    what = "duplicate";
    eg_log(EG_LOG_INFO, "duplicate skipped", EG_LSTR("delivery", r->delivery),
           EG_LSTR("gate", r->done_id), EG_LSTR("state", out->error));
    break;
  case F_RETRY:
    if (r->job->attempt >= ctx->cfg->max_attempts) {
      out->fate = F_DEAD;
      out->dlq_class = WRK_DLQ_EXHAUSTED;
      return settle(r, out);
    }
    what = "retry";
    rc = wrk_outcome_retry(ctx->outcome, msg, r->job->attempt,
                           eg_time_epoch_ms() + (int64_t)out->delay_ms,
                           out->error);
    eg_log(EG_LOG_WARN, "retry scheduled", EG_LSTR("delivery", r->delivery),
           EG_LINT("attempt", r->job->attempt),
           EG_LINT("delay_ms", out->delay_ms), EG_LSTR("error", out->error),
           EG_LINT("last_status", out->last_status));
    break;
  case F_DEAD:
    what = "dead_letter";
    has_letter_id = letter_id(r, letter, sizeof(letter));
    if (has_letter_id &&
        wrk_done_check(ctx->done, letter, NULL, &redis_failed)) {
      what = "duplicate";
      eg_log(EG_LOG_INFO, "dead letter already written",
             EG_LSTR("delivery", r->delivery), EG_LSTR("class", out->dlq_class),
             EG_LSTR("error", out->error));
      break;
    }
    if (redis_failed) {
      eg_metric_inc(ctx->m.redis_errors, NULL);
      if (letter_waits(r->job)) {
        eg_log(EG_LOG_WARN, "dead letter waits for Redis",
               EG_LSTR("delivery", r->delivery),
               EG_LSTR("class", out->dlq_class));
        return false;
      }
      eg_log(EG_LOG_WARN, "dead letter written without its Redis check",
             EG_LSTR("delivery", r->delivery),
             EG_LSTR("class", out->dlq_class));
    }
    rc = wrk_outcome_dead_letter(ctx->outcome, msg, out->dlq_class, out->error,
                                 r->job->attempt, out->last_status);
    eg_log(EG_LOG_ERROR, "dead-lettered", EG_LSTR("delivery", r->delivery),
           EG_LSTR("class", out->dlq_class), EG_LSTR("error", out->error),
           EG_LINT("attempts", r->job->attempt),
           EG_LINT("last_status", out->last_status));
    if (rc == EG_OK && has_letter_id &&
        !wrk_done_record(ctx->done, letter, "dead-lettered"))
      eg_metric_inc(ctx->m.redis_errors, NULL);
    break;
  case F_REQUEUE:
    return false;
  }
  if (rc != EG_OK)
    return false;
  eg_metric_inc(ctx->m.outcomes, (const char *const[]){what});
  return true;
}

void wrk_process(wrk_ctx_t *ctx, wrk_job_t *job) {
  struct ev_run r = {.ctx = ctx, .d = ctx->deps, .job = job};
  struct outcome out = {.fate = F_REVIEWED};
  uint64_t t0 = eg_time_mono_ms();
  const rd_kafka_message_t *msg = job->msg;

  snprintf(r.delivery, sizeof(r.delivery), "-");
  run_event(&r, &out);
  eg_token_cache_free_token(r.token);
  if (settle(&r, &out)) {
    eg_offsets_finish(ctx->offsets, rd_kafka_topic_name(msg->rkt),
                      msg->partition, msg->offset);
    eg_metric_observe(ctx->m.decide_seconds, NULL,
                      (double)(eg_time_mono_ms() - t0) / 1e3);
    wrk_jobs_done(ctx->jobs, job);
    wrk_job_free(job);
    return;
  }
  /* Nothing durable (Kafka refused the outcome, or a dead letter waits for
   * Redis): keep the offset open and try the event again shortly; it is
   * never lost. */
  eg_log(EG_LOG_WARN, "event requeued", EG_LSTR("delivery", r.delivery),
         EG_LSTR("error", out.error));
  wrk_jobs_done(ctx->jobs, job);
  job->due_ms = eg_time_mono_ms() + REQUEUE_DELAY_MS;
  wrk_jobs_push(ctx->jobs, job);
}

void *wrk_thread(void *arg) {
  wrk_ctx_t *ctx = arg;
  wrk_job_t *job;

  while ((job = wrk_jobs_take(ctx->jobs)) != NULL) {
    eg_metric_inc(ctx->m.inflight, NULL);
    wrk_process(ctx, job);
    eg_metric_dec(ctx->m.inflight, NULL);
  }
  return NULL;
}

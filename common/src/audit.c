/* The audit's join of event copies and decision records into one outcome
 * per delivery. Everything is kept in growable arrays with string-keyed
 * hash indexes; eg_audit_finish() does the join in a few linear passes
 * plus sorts, so a replay of millions of records stays fast. */
#include "eg/audit.h"
#include "eg/error.h"
#include "eg/strmap.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DETAIL_MAX 512

/* Grows an array of elem-sized items to hold at least want of them. */
static int grow(void **arr, size_t *cap, size_t want, size_t elem) {
  size_t ncap;
  void *p;

  if (want <= *cap)
    return EG_OK;
  ncap = *cap == 0 ? 16 : *cap;
  while (ncap < want) {
    if (ncap > SIZE_MAX / 2 / elem)
      return EG_ENOMEM;
    ncap *= 2;
  }
  p = realloc(*arr, ncap * elem);
  if (p == NULL)
    return EG_ENOMEM;
  *arr = p;
  *cap = ncap;
  return EG_OK;
}

#define GROW(arr, cap, want)                                                   \
  grow((void **)&(arr), &(cap), (want), sizeof(*(arr)))

/* ---- records ---- */

struct dead_letter {
  char *ref;
  int64_t ts;
  char *reason; /* "<class>: <error>" */
  uint64_t attempts;
};

/* How trustworthy a request's identity (key, repository, ...) is. */
enum ident {
  IDENT_NONE,     /* nothing known */
  IDENT_DECISION, /* from a decision whose delivery has no copy */
  IDENT_KAFKA,    /* only the Kafka key of some record */
  IDENT_BODY,     /* a body that parsed, signature failed */
  IDENT_VERIFIED  /* a body that parsed and verified */
};

struct request {
  char *delivery;
  char *key;
  char *repository;
  uint64_t run_id;
  char *environment;
  enum ident ident;
  char *received_at;
  int64_t received_ms;
  int64_t first_ts;
  size_t sig_ok, sig_bad;
  int64_t redrive_ms; /* when it was last redriven; -1 never */
  bool has_retry;
  int64_t retry_ts;
  uint64_t retry_attempt;
  int64_t retry_not_before;
  char *retry_error;
  struct dead_letter *dlq;
  size_t ndlq, capdlq;
  size_t *decs; /* indexes into eg_audit_s.decs, in decision order */
  size_t ndecs, capdecs;
  char *dup_reason; /* "duplicate of <delivery>" */
  size_t result;    /* position in the sorted results */
};

struct decision {
  size_t seq; /* order of arrival */
  char *ref;
  int64_t ts;
  char *kafka_key;
  char *delivery;
  char *repository;
  uint64_t run_id;
  uint64_t deployment_id; /* 0 when the record has none */
  char *environment;
  bool approved;
  char *comment;
  char *failed_check;
  uint64_t attempts;
  char *decided_at;
  int64_t decided_ms;
  int status;
  size_t request; /* EG_AUDIT_NONE when skipped */
  bool verified;
};

struct anomaly {
  eg_audit_kind_t kind;
  char *key;
  char *detail;
  size_t request; /* index into reqs, or EG_AUDIT_NONE */
};

struct eg_audit_s {
  struct request *reqs;
  size_t nreqs, capreqs;
  struct decision *decs;
  size_t ndecs, capdecs;
  struct anomaly *anoms;
  size_t nanoms, capanoms;
  eg_strmap_t *by_delivery; /* delivery -> reqs index */
  eg_strmap_t *redriven;    /* dead-letter refs named by redriven events */
  bool finished;
  eg_audit_result_t *results;
  eg_audit_anomaly_t *out_anoms;
  size_t skipped;
};

static const char *const fate_names[EG_AUDIT_NFATES] = {
    "approved", "rejected", "retrying", "dead-lettered", "pending"};

static const char *const kind_names[] = {"no-outcome", "unverified-decision",
                                         "double-review", "bad-signature",
                                         "bad-record"};

const char *eg_audit_fate_name(eg_audit_fate_t fate) {
  if ((unsigned)fate >= EG_AUDIT_NFATES)
    return "?";
  return fate_names[fate];
}

int eg_audit_fate_parse(const char *name, eg_audit_fate_t *out) {
  if (name == NULL || out == NULL)
    return EG_EINVAL;
  for (int i = 0; i < EG_AUDIT_NFATES; i++) {
    if (strcmp(name, fate_names[i]) == 0) {
      *out = (eg_audit_fate_t)i;
      return EG_OK;
    }
  }
  return EG_EINVAL;
}

const char *eg_audit_kind_name(eg_audit_kind_t kind) {
  if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
    return "?";
  return kind_names[kind];
}

int eg_audit_new(eg_audit_t **out) {
  eg_audit_t *a;

  if (out == NULL)
    return EG_EINVAL;
  *out = NULL;
  a = calloc(1, sizeof(*a));
  if (a == NULL)
    return EG_ENOMEM;
  if (eg_strmap_new(&a->by_delivery) != EG_OK ||
      eg_strmap_new(&a->redriven) != EG_OK) {
    eg_audit_free(a);
    return EG_ENOMEM;
  }
  *out = a;
  return EG_OK;
}

static void free_request(struct request *r) {
  free(r->delivery);
  free(r->key);
  free(r->repository);
  free(r->environment);
  free(r->received_at);
  free(r->retry_error);
  free(r->dup_reason);
  for (size_t i = 0; i < r->ndlq; i++) {
    free(r->dlq[i].ref);
    free(r->dlq[i].reason);
  }
  free(r->dlq);
  free(r->decs);
}

static void free_decision(struct decision *d) {
  free(d->ref);
  free(d->kafka_key);
  free(d->delivery);
  free(d->repository);
  free(d->environment);
  free(d->comment);
  free(d->failed_check);
  free(d->decided_at);
}

void eg_audit_free(eg_audit_t *a) {
  if (a == NULL)
    return;
  for (size_t i = 0; i < a->nreqs; i++)
    free_request(&a->reqs[i]);
  free(a->reqs);
  for (size_t i = 0; i < a->ndecs; i++)
    free_decision(&a->decs[i]);
  free(a->decs);
  for (size_t i = 0; i < a->nanoms; i++) {
    free(a->anoms[i].key);
    free(a->anoms[i].detail);
  }
  free(a->anoms);
  eg_strmap_free(a->by_delivery);
  eg_strmap_free(a->redriven);
  free(a->results);
  free(a->out_anoms);
  free(a);
}

/* strdup that keeps NULL as NULL. @returns false only on OOM. */
static bool dup_opt(const char *s, char **out) {
  *out = NULL;
  if (s == NULL)
    return true;
  *out = strdup(s);
  return *out != NULL;
}

/* Replaces *slot with a copy of s. @returns false on OOM (slot untouched). */
static bool set_str(char **slot, const char *s) {
  char *c = strdup(s != NULL ? s : "");

  if (c == NULL)
    return false;
  free(*slot);
  *slot = c;
  return true;
}

static int add_anomaly(eg_audit_t *a,
                       eg_audit_kind_t kind,
                       const char *key,
                       size_t request,
                       const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));

static int add_anomaly(eg_audit_t *a,
                       eg_audit_kind_t kind,
                       const char *key,
                       size_t request,
                       const char *fmt,
                       ...) {
  char detail[DETAIL_MAX];
  struct anomaly *an;
  va_list ap;

  if (GROW(a->anoms, a->capanoms, a->nanoms + 1) != EG_OK)
    return EG_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  an = &a->anoms[a->nanoms];
  an->kind = kind;
  an->request = request;
  an->key = strdup(key != NULL ? key : "");
  an->detail = strdup(detail);
  if (an->key == NULL || an->detail == NULL) {
    free(an->key);
    free(an->detail);
    return EG_ENOMEM;
  }
  a->nanoms++;
  return EG_OK;
}

/* Finds or creates the request of delivery. */
static int
get_request(eg_audit_t *a, const char *delivery, size_t *idx, bool *created) {
  struct request *r;

  *created = false;
  if (eg_strmap_get(a->by_delivery, delivery, idx))
    return EG_OK;
  if (GROW(a->reqs, a->capreqs, a->nreqs + 1) != EG_OK)
    return EG_ENOMEM;
  r = &a->reqs[a->nreqs];
  memset(r, 0, sizeof(*r));
  r->delivery = strdup(delivery);
  r->key = strdup("");
  r->repository = strdup("");
  r->environment = strdup("");
  if (r->delivery == NULL || r->key == NULL || r->repository == NULL ||
      r->environment == NULL)
    goto fail;
  r->received_ms = -1;
  r->first_ts = -1;
  r->redrive_ms = -1;
  r->retry_ts = -1;
  r->retry_not_before = -1;
  if (eg_strmap_put(a->by_delivery, r->delivery, a->nreqs) != EG_OK)
    goto fail;
  *idx = a->nreqs++;
  *created = true;
  return EG_OK;

fail:
  free_request(r);
  return EG_ENOMEM;
}

/* Takes the identity from a better source than the one the request has. */
static int set_identity(struct request *r,
                        enum ident rank,
                        const char *key,
                        const char *repository,
                        uint64_t run_id,
                        const char *environment) {
  if (rank <= r->ident)
    return EG_OK;
  if (!set_str(&r->key, key) || !set_str(&r->repository, repository) ||
      !set_str(&r->environment, environment))
    return EG_ENOMEM;
  r->run_id = run_id;
  r->ident = rank;
  return EG_OK;
}

static int add_dead_letter(struct request *r,
                           const eg_audit_copy_t *c,
                           const eg_envelope_t *env) {
  char reason[EG_ENVELOPE_WORD_LEN + EG_ENVELOPE_TEXT_LEN + 4];
  struct dead_letter *dl;

  if (GROW(r->dlq, r->capdlq, r->ndlq + 1) != EG_OK)
    return EG_ENOMEM;
  if (env->error_class[0] != '\0' && env->error[0] != '\0')
    snprintf(reason, sizeof(reason), "%s: %s", env->error_class, env->error);
  else if (env->error_class[0] != '\0')
    snprintf(reason, sizeof(reason), "%s", env->error_class);
  else
    snprintf(reason, sizeof(reason), "%s",
             env->error[0] != '\0' ? env->error : "dead-lettered");
  dl = &r->dlq[r->ndlq];
  dl->ts = c->timestamp_ms;
  dl->attempts = env->attempts;
  dl->ref = strdup(c->ref);
  dl->reason = strdup(reason);
  if (dl->ref == NULL || dl->reason == NULL) {
    free(dl->ref);
    free(dl->reason);
    return EG_ENOMEM;
  }
  r->ndlq++;
  return EG_OK;
}

int eg_audit_add_copy(eg_audit_t *a, const eg_audit_copy_t *c) {
  const eg_envelope_t *env;
  const char *key;
  struct request *r;
  bool created;
  size_t idx;
  int rc;

  if (a == NULL || c == NULL || c->env == NULL || c->ref == NULL ||
      a->finished || (unsigned)c->source > EG_AUDIT_DLQ)
    return EG_EINVAL;
  env = c->env;
  key = env->body_ok ? env->key : c->kafka_key;
  if (!c->signature_ok) {
    rc = add_anomaly(a, EG_AUDIT_BAD_SIGNATURE, key, EG_AUDIT_NONE,
                     env->signature[0] == '\0'
                         ? "%s: no hub-signature-256 header"
                         : "%s: hub-signature-256 does not verify",
                     c->ref);
    if (rc != EG_OK)
      return rc;
  }
  if (env->delivery[0] == '\0')
    return add_anomaly(a, EG_AUDIT_BAD_RECORD, key, EG_AUDIT_NONE,
                       "%s: no github-delivery header", c->ref);
  rc = get_request(a, env->delivery, &idx, &created);
  if (rc != EG_OK)
    return rc;
  if (!c->signature_ok)
    a->anoms[a->nanoms - 1].request = idx;
  r = &a->reqs[idx];
  if (c->signature_ok)
    r->sig_ok++;
  else
    r->sig_bad++;
  if (env->body_ok)
    rc = set_identity(r, c->signature_ok ? IDENT_VERIFIED : IDENT_BODY,
                      env->key, env->repository, env->run_id, env->environment);
  else if (c->kafka_key != NULL && c->kafka_key[0] != '\0')
    rc = set_identity(r, IDENT_KAFKA, c->kafka_key, "", 0, "");
  if (rc != EG_OK)
    return rc;
  if (env->received_at[0] != '\0' &&
      (r->received_at == NULL ||
       (env->received_at_ms >= 0 &&
        (r->received_ms < 0 || env->received_at_ms < r->received_ms)))) {
    if (!set_str(&r->received_at, env->received_at))
      return EG_ENOMEM;
    r->received_ms = env->received_at_ms;
  }
  if (c->timestamp_ms >= 0 &&
      (r->first_ts < 0 || c->timestamp_ms < r->first_ts))
    r->first_ts = c->timestamp_ms;

  switch (c->source) {
  case EG_AUDIT_EVENTS:
    if (env->redrive_source[0] != '\0') {
      int64_t at =
          env->redriven_at_ms >= 0 ? env->redriven_at_ms : c->timestamp_ms;
      if (at > r->redrive_ms)
        r->redrive_ms = at;
      rc = eg_strmap_put(a->redriven, env->redrive_source, 0);
    }
    break;
  case EG_AUDIT_RETRY:
    if (!r->has_retry || c->timestamp_ms >= r->retry_ts) {
      if (!set_str(&r->retry_error, env->last_error))
        return EG_ENOMEM;
      r->has_retry = true;
      r->retry_ts = c->timestamp_ms;
      r->retry_attempt = env->attempt;
      r->retry_not_before = env->not_before_ms;
    }
    break;
  case EG_AUDIT_DLQ:
    rc = add_dead_letter(r, c, env);
    break;
  }
  return rc;
}

/* ---- decisions ---- */

static const char *json_str(const json_t *obj, const char *name) {
  return json_string_value(json_object_get(obj, name));
}

static uint64_t json_u64(const json_t *obj, const char *name) {
  json_int_t v = json_integer_value(json_object_get(obj, name));
  return v > 0 ? (uint64_t)v : 0;
}

/* Sets *out to "<name>: <detail>" of the first check that did not pass, or
 * NULL. @returns false on OOM. */
static bool first_failed_check(const json_t *checks, char **out) {
  size_t i;
  json_t *c;

  json_array_foreach(checks, i, c) {
    const char *name = json_str(c, "name");
    const char *detail = json_str(c, "detail");
    json_t *passed = json_object_get(c, "passed");
    char buf[DETAIL_MAX];

    if (!json_is_false(passed))
      continue;
    if (name == NULL)
      name = "check";
    if (detail != NULL && detail[0] != '\0')
      snprintf(buf, sizeof(buf), "%s: %s", name, detail);
    else
      snprintf(buf, sizeof(buf), "%s", name);
    return dup_opt(buf, out);
  }
  *out = NULL;
  return true;
}

int eg_audit_add_decision(eg_audit_t *a,
                          const char *ref,
                          int64_t timestamp_ms,
                          const char *kafka_key,
                          const void *value,
                          size_t len) {
  struct decision *d;
  json_error_t jerr;
  const char *delivery, *state, *decided_at;
  json_t *root;

  if (a == NULL || ref == NULL || a->finished || (value == NULL && len > 0))
    return EG_EINVAL;
  /* jansson leaves the error unset when its first allocation fails: the
   * empty text tells that apart from a record that does not parse. */
  memset(&jerr, 0, sizeof(jerr));
  root = json_loadb(value != NULL ? value : "", len, JSON_REJECT_DUPLICATES,
                    &jerr);
  if (root == NULL && (json_error_code(&jerr) == json_error_out_of_memory ||
                       jerr.text[0] == '\0'))
    return EG_ENOMEM;
  if (root == NULL || !json_is_object(root)) {
    json_decref(root);
    return add_anomaly(a, EG_AUDIT_BAD_RECORD, kafka_key, EG_AUDIT_NONE,
                       "%s: decision record is not a JSON object", ref);
  }
  delivery = json_str(root, "delivery");
  state = json_str(root, "state");
  if (delivery == NULL || delivery[0] == '\0' || state == NULL ||
      (strcmp(state, "approved") != 0 && strcmp(state, "rejected") != 0)) {
    json_decref(root);
    return add_anomaly(a, EG_AUDIT_BAD_RECORD, kafka_key, EG_AUDIT_NONE,
                       "%s: decision record without a delivery or with a "
                       "state other than approved/rejected",
                       ref);
  }
  if (GROW(a->decs, a->capdecs, a->ndecs + 1) != EG_OK) {
    json_decref(root);
    return EG_ENOMEM;
  }
  d = &a->decs[a->ndecs];
  memset(d, 0, sizeof(*d));
  d->seq = a->ndecs;
  d->ts = timestamp_ms;
  d->approved = strcmp(state, "approved") == 0;
  d->run_id = json_u64(root, "run_id");
  d->deployment_id = json_u64(root, "deployment_id");
  d->attempts = json_u64(root, "attempts");
  d->status = (int)json_integer_value(json_object_get(root, "github_status"));
  d->request = EG_AUDIT_NONE;
  decided_at = json_str(root, "decided_at");
  if (decided_at == NULL ||
      eg_time_parse_rfc3339(decided_at, &d->decided_ms) != EG_OK)
    d->decided_ms = -1;
  if (!dup_opt(ref, &d->ref) || !dup_opt(kafka_key, &d->kafka_key) ||
      !dup_opt(delivery, &d->delivery) ||
      !dup_opt(json_str(root, "repository"), &d->repository) ||
      !dup_opt(json_str(root, "environment"), &d->environment) ||
      !dup_opt(json_str(root, "comment"), &d->comment) ||
      !dup_opt(decided_at, &d->decided_at) ||
      (!d->approved &&
       !first_failed_check(json_object_get(root, "checks"), &d->failed_check)))
    goto fail;
  json_decref(root);
  a->ndecs++;
  return EG_OK;

fail:
  json_decref(root);
  free_decision(d);
  return EG_ENOMEM;
}

/* ---- the join ---- */

static bool is_review(const struct decision *d) {
  return d->status >= 200 && d->status < 300;
}

/* Decisions in time order: decided_at, then arrival. */
static int cmp_decision_time(const struct decision *x,
                             const struct decision *y) {
  if (x->decided_ms != y->decided_ms)
    return x->decided_ms < y->decided_ms ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the decision indexes of a request (few: insertion sort). */
static void sort_decs(const eg_audit_t *a, size_t *v, size_t n) {
  for (size_t i = 1; i < n; i++) {
    size_t x = v[i], j = i;

    while (j > 0 && cmp_decision_time(&a->decs[v[j - 1]], &a->decs[x]) > 0) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

/* Links each decision to its delivery's request; creates requests for
 * decisions whose delivery was never seen. */
static int link_decisions(eg_audit_t *a, const eg_audit_opts_t *opts) {
  for (size_t i = 0; i < a->ndecs; i++) {
    struct decision *d = &a->decs[i];
    struct request *r;
    bool created;
    size_t idx;
    int rc;

    if (!eg_strmap_get(a->by_delivery, d->delivery, &idx) && opts->partial) {
      a->skipped++;
      continue;
    }
    rc = get_request(a, d->delivery, &idx, &created);
    if (rc != EG_OK)
      return rc;
    r = &a->reqs[idx];
    if (created)
      rc = set_identity(r, IDENT_DECISION,
                        d->kafka_key != NULL ? d->kafka_key : "", d->repository,
                        d->run_id, d->environment);
    if (rc == EG_OK && GROW(r->decs, r->capdecs, r->ndecs + 1) != EG_OK)
      rc = EG_ENOMEM;
    if (rc != EG_OK)
      return rc;
    r->decs[r->ndecs++] = i;
    d->request = idx;
    d->verified = r->sig_ok > 0 && r->sig_bad == 0;
    if (created)
      rc = add_anomaly(a, EG_AUDIT_UNVERIFIED_DECISION, r->key, idx,
                       "%s: decision for delivery %s, which no event carries",
                       d->ref, d->delivery);
    else if (!d->verified)
      rc = add_anomaly(a, EG_AUDIT_UNVERIFIED_DECISION, r->key, idx,
                       "%s: decision for delivery %s, whose event does not "
                       "verify",
                       d->ref, d->delivery);
    if (rc != EG_OK)
      return rc;
  }
  for (size_t i = 0; i < a->nreqs; i++)
    sort_decs(a, a->reqs[i].decs, a->reqs[i].ndecs);
  return EG_OK;
}

/* The gate key a decision counts for: its Kafka key, else its request's. */
static const char *decision_key(const eg_audit_t *a, const struct decision *d) {
  if (d->kafka_key != NULL && d->kafka_key[0] != '\0')
    return d->kafka_key;
  return a->reqs[d->request].key;
}

static int cmp_linked(const void *x, const void *y, void *ctx) {
  const eg_audit_t *a = ctx;
  const struct decision *dx = &a->decs[*(const size_t *)x];
  const struct decision *dy = &a->decs[*(const size_t *)y];
  int c = strcmp(decision_key(a, dx), decision_key(a, dy));

  return c != 0 ? c : cmp_decision_time(dx, dy);
}

/* Groups linked decisions by gate key (sorted index runs): flags gates
 * reviewed more than once, and records for each request of a decided gate
 * the verified review it inherits. */
static int join_gates(eg_audit_t *a, size_t **order_out, size_t *n_out) {
  size_t *order, n = 0;

  *order_out = NULL;
  *n_out = 0;
  order = malloc((a->ndecs > 0 ? a->ndecs : 1) * sizeof(*order));
  if (order == NULL)
    return EG_ENOMEM;
  for (size_t i = 0; i < a->ndecs; i++)
    if (a->decs[i].request != EG_AUDIT_NONE)
      order[n++] = i;
  qsort_r(order, n, sizeof(*order), cmp_linked, (void *)a);

  for (size_t s = 0; s < n;) {
    const char *key = decision_key(a, &a->decs[order[s]]);
    size_t e = s, reviews = 0, first = EG_AUDIT_NONE, second = EG_AUDIT_NONE;

    while (e < n && strcmp(decision_key(a, &a->decs[order[e]]), key) == 0)
      e++;
    /* A re-run of a workflow asks again for the same gate key with a new
     * deployment and gets a review of its own: only two reviews of one
     * deployment (or of records without one) are a double review. */
    for (size_t x = s; x < e && reviews == 0; x++) {
      const struct decision *dx = &a->decs[order[x]];

      if (!is_review(dx))
        continue;
      for (size_t y = x + 1; y < e; y++) {
        const struct decision *dy = &a->decs[order[y]];

        if (!is_review(dy) || dy->deployment_id != dx->deployment_id)
          continue;
        if (reviews == 0) {
          first = order[x];
          second = order[y];
          reviews = 1;
        }
        reviews++;
      }
    }
    if (reviews >= 2 && key[0] != '\0') {
      const struct decision *d1 = &a->decs[first], *d2 = &a->decs[second];
      int rc = add_anomaly(
          a, EG_AUDIT_DOUBLE_REVIEW, key, d2->request,
          "%zu reviews posted for one gate: %s (delivery %s, %s, %d) and %s "
          "(delivery %s, %s, %d)",
          reviews, d1->ref, d1->delivery,
          d1->approved ? "approved" : "rejected", d1->status, d2->ref,
          d2->delivery, d2->approved ? "approved" : "rejected", d2->status);
      if (rc != EG_OK) {
        free(order);
        return rc;
      }
    }
    s = e;
  }
  *order_out = order;
  *n_out = n;
  return EG_OK;
}

/* The first verified review (else the first verified decision) of key, by
 * binary search in the sorted runs; EG_AUDIT_NONE if none. */
static size_t gate_decision(const eg_audit_t *a,
                            const size_t *order,
                            size_t n,
                            const char *key) {
  size_t lo = 0, hi = n, found = EG_AUDIT_NONE;

  if (key[0] == '\0')
    return EG_AUDIT_NONE;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (strcmp(decision_key(a, &a->decs[order[mid]]), key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo;
       i < n && strcmp(decision_key(a, &a->decs[order[i]]), key) == 0; i++) {
    const struct decision *d = &a->decs[order[i]];

    if (!d->verified)
      continue;
    if (is_review(d))
      return order[i];
    if (found == EG_AUDIT_NONE)
      found = order[i];
  }
  return found;
}

static void from_decision(eg_audit_result_t *res, const struct decision *d) {
  res->fate = d->approved ? EG_AUDIT_APPROVED : EG_AUDIT_REJECTED;
  res->comment = d->comment;
  res->reason = d->failed_check;
  res->attempts = d->attempts;
  res->decided_at = d->decided_at;
  res->decided_at_ms = d->decided_ms;
  res->github_status = d->status;
}

/* Works out one request's fate, and its no-outcome anomaly. */
static int decide_fate(eg_audit_t *a,
                       size_t idx,
                       const size_t *order,
                       size_t n,
                       const eg_audit_opts_t *opts,
                       eg_audit_result_t *res) {
  struct request *r = &a->reqs[idx];
  const struct dead_letter *dl = NULL;
  char grace[32], when[EG_RFC3339_SIZE];
  size_t own = EG_AUDIT_NONE, g;
  int64_t since;

  memset(res, 0, sizeof(*res));
  res->key = r->key;
  res->delivery = r->delivery;
  res->repository = r->repository;
  res->run_id = r->run_id;
  res->environment = r->environment;
  res->received_at = r->received_at;
  res->received_at_ms = r->received_ms;
  res->decided_at_ms = -1;
  res->signature_ok = r->sig_ok > 0 && r->sig_bad == 0;

  for (size_t i = 0; i < r->ndecs; i++) {
    if (own == EG_AUDIT_NONE ||
        (is_review(&a->decs[r->decs[i]]) && !is_review(&a->decs[own])))
      own = r->decs[i];
  }
  if (own != EG_AUDIT_NONE) {
    from_decision(res, &a->decs[own]);
    return EG_OK;
  }
  g = gate_decision(a, order, n, r->key);
  if (g != EG_AUDIT_NONE) {
    char buf[EG_ENVELOPE_ID_LEN + 16];

    from_decision(res, &a->decs[g]);
    res->duplicate_of = a->decs[g].delivery;
    snprintf(buf, sizeof(buf), "duplicate of %s", a->decs[g].delivery);
    if (!set_str(&r->dup_reason, buf))
      return EG_ENOMEM;
    res->reason = r->dup_reason;
    return EG_OK;
  }
  for (size_t i = 0; i < r->ndlq; i++) {
    if (eg_strmap_get(a->redriven, r->dlq[i].ref, NULL))
      continue;
    if (dl == NULL || r->dlq[i].ts >= dl->ts)
      dl = &r->dlq[i];
  }
  if (dl != NULL) {
    res->fate = EG_AUDIT_DEAD_LETTERED;
    res->reason = dl->reason;
    res->attempts = dl->attempts;
    return EG_OK;
  }
  eg_timearg_format_duration(opts->grace_ms, grace, sizeof(grace));
  if (r->has_retry &&
      (r->redrive_ms < 0 || r->retry_ts < 0 || r->retry_ts >= r->redrive_ms)) {
    res->fate = EG_AUDIT_RETRYING;
    res->reason = r->retry_error != NULL && r->retry_error[0] != '\0'
                      ? r->retry_error
                      : NULL;
    res->attempts = r->retry_attempt;
    since = r->retry_not_before >= 0 ? r->retry_not_before : r->retry_ts;
    if (since >= 0 && opts->now_ms - since > opts->grace_ms) {
      eg_time_rfc3339(since, when, sizeof(when));
      return add_anomaly(a, EG_AUDIT_NO_OUTCOME, r->key, idx,
                         "delivery %s: retry due at %s, no outcome since "
                         "(grace %s)",
                         r->delivery, when, grace);
    }
    return EG_OK;
  }
  res->fate = EG_AUDIT_PENDING;
  since = r->received_ms >= 0 ? r->received_ms : r->first_ts;
  if (r->redrive_ms > since)
    since = r->redrive_ms;
  if (since >= 0 && opts->now_ms - since > opts->grace_ms) {
    eg_time_rfc3339(since, when, sizeof(when));
    return add_anomaly(
        a, EG_AUDIT_NO_OUTCOME, r->key, idx,
        "delivery %s: %s %s, no outcome since (grace %s)", r->delivery,
        since == r->redrive_ms ? "redriven at" : "received at", when, grace);
  }
  return EG_OK;
}

/* Sort key of a request: when it was received, else first seen, else
 * decided. */
static int64_t request_time(const eg_audit_t *a, const struct request *r) {
  if (r->received_ms >= 0)
    return r->received_ms;
  if (r->first_ts >= 0)
    return r->first_ts;
  if (r->ndecs > 0)
    return a->decs[r->decs[0]].decided_ms;
  return -1;
}

static int cmp_request(const void *x, const void *y, void *ctx) {
  const eg_audit_t *a = ctx;
  const struct request *rx = &a->reqs[*(const size_t *)x];
  const struct request *ry = &a->reqs[*(const size_t *)y];
  int64_t tx = request_time(a, rx), ty = request_time(a, ry);

  if (tx != ty)
    return tx < ty ? -1 : 1;
  return strcmp(rx->delivery, ry->delivery);
}

static int cmp_anomaly(const void *x, const void *y) {
  const eg_audit_anomaly_t *ax = x, *ay = y;
  int c;

  if (ax->result != ay->result)
    return ax->result < ay->result ? -1 : 1;
  if (ax->kind != ay->kind)
    return ax->kind < ay->kind ? -1 : 1;
  c = strcmp(ax->key, ay->key);
  return c != 0 ? c : strcmp(ax->detail, ay->detail);
}

int eg_audit_finish(eg_audit_t *a, const eg_audit_opts_t *opts) {
  eg_audit_result_t *res;
  size_t *order = NULL, norder = 0, *by_time = NULL;
  int rc;

  if (a == NULL || opts == NULL || a->finished || opts->grace_ms < 0)
    return EG_EINVAL;
  a->finished = true;
  rc = link_decisions(a, opts);
  if (rc == EG_OK)
    rc = join_gates(a, &order, &norder);
  if (rc != EG_OK)
    return rc;
  res = calloc(a->nreqs > 0 ? a->nreqs : 1, sizeof(*res));
  by_time = malloc((a->nreqs > 0 ? a->nreqs : 1) * sizeof(*by_time));
  if (res == NULL || by_time == NULL) {
    free(res);
    free(by_time);
    free(order);
    return EG_ENOMEM;
  }
  for (size_t i = 0; i < a->nreqs; i++)
    by_time[i] = i;
  qsort_r(by_time, a->nreqs, sizeof(*by_time), cmp_request, a);
  for (size_t i = 0; i < a->nreqs && rc == EG_OK; i++) {
    a->reqs[by_time[i]].result = i;
    rc = decide_fate(a, by_time[i], order, norder, opts, &res[i]);
  }
  free(by_time);
  free(order);
  a->results = res;
  if (rc != EG_OK)
    return rc;

  a->out_anoms = calloc(a->nanoms > 0 ? a->nanoms : 1, sizeof(*a->out_anoms));
  if (a->out_anoms == NULL)
    return EG_ENOMEM;
  for (size_t i = 0; i < a->nanoms; i++) {
    a->out_anoms[i].kind = a->anoms[i].kind;
    a->out_anoms[i].key = a->anoms[i].key;
    a->out_anoms[i].detail = a->anoms[i].detail;
    a->out_anoms[i].result = a->anoms[i].request == EG_AUDIT_NONE
                                 ? EG_AUDIT_NONE
                                 : a->reqs[a->anoms[i].request].result;
  }
  qsort(a->out_anoms, a->nanoms, sizeof(*a->out_anoms), cmp_anomaly);
  return EG_OK;
}

size_t eg_audit_count(const eg_audit_t *a) {
  return a != NULL && a->results != NULL ? a->nreqs : 0;
}

const eg_audit_result_t *eg_audit_result(const eg_audit_t *a, size_t i) {
  if (a == NULL || a->results == NULL || i >= a->nreqs)
    return NULL;
  return &a->results[i];
}

size_t eg_audit_anomaly_count(const eg_audit_t *a) {
  return a != NULL && a->out_anoms != NULL ? a->nanoms : 0;
}

const eg_audit_anomaly_t *eg_audit_anomaly(const eg_audit_t *a, size_t i) {
  if (a == NULL || a->out_anoms == NULL || i >= a->nanoms)
    return NULL;
  return &a->out_anoms[i];
}

size_t eg_audit_skipped(const eg_audit_t *a) {
  return a != NULL ? a->skipped : 0;
}

bool eg_audit_matches(const eg_audit_result_t *r, const eg_audit_filter_t *f) {
  if (r == NULL)
    return false;
  if (f == NULL)
    return true;
  if (f->repository != NULL && strcasecmp(f->repository, r->repository) != 0)
    return false;
  if (f->environment != NULL && strcasecmp(f->environment, r->environment) != 0)
    return false;
  if (f->fates != 0 && (f->fates & (1u << r->fate)) == 0)
    return false;
  if (f->delivery != NULL && strcmp(f->delivery, r->delivery) != 0)
    return false;
  return true;
}

bool eg_audit_anomaly_matches(const eg_audit_t *a,
                              const eg_audit_anomaly_t *an,
                              const eg_audit_filter_t *f) {
  if (a == NULL || an == NULL)
    return false;
  if (an->result == EG_AUDIT_NONE)
    return true;
  return eg_audit_matches(eg_audit_result(a, an->result), f);
}

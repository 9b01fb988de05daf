/* The audit's join: fed every copy of every event (envgate.events, .retry,
 * .dlq) and every decision record (envgate.decisions), it works out each
 * gate request's fate and the anomalies an operator must look at. Pure
 * logic: reading Kafka and verifying signatures is the caller's (see
 * tools/audit), rendering is eg/audit_report.h's.
 *
 * A gate request is one webhook delivery (github-delivery). Deliveries that
 * share a gate key (<repository_id>/<run_id>/<environment>) are requests for
 * the same gate: once one of them is decided, the worker skips the others,
 * and they take the fate of the decided one ("duplicate of <delivery>"). */
#ifndef EG_AUDIT_H
#define EG_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eg/envelope.h"

typedef enum eg_audit_fate {
  EG_AUDIT_APPROVED = 0,
  EG_AUDIT_REJECTED = 1,
  EG_AUDIT_RETRYING = 2,
  EG_AUDIT_DEAD_LETTERED = 3,
  EG_AUDIT_PENDING = 4
} eg_audit_fate_t;
#define EG_AUDIT_NFATES 5

typedef enum eg_audit_kind {
  EG_AUDIT_NO_OUTCOME = 0,          /* pending or stuck retry past --grace */
  EG_AUDIT_UNVERIFIED_DECISION = 1, /* a decision without a verified event */
  EG_AUDIT_DOUBLE_REVIEW = 2,       /* two reviews posted for one gate */
  EG_AUDIT_BAD_SIGNATURE = 3,       /* a copy whose signature fails */
  EG_AUDIT_BAD_RECORD = 4           /* a record that cannot be understood */
} eg_audit_kind_t;

typedef enum eg_audit_source {
  EG_AUDIT_EVENTS = 0,
  EG_AUDIT_RETRY = 1,
  EG_AUDIT_DLQ = 2
} eg_audit_source_t;

/* No result: an anomaly that concerns no gate request. */
#define EG_AUDIT_NONE ((size_t)-1)

typedef struct eg_audit_s eg_audit_t;

/* One copy of an event: a record of envgate.events, .retry or .dlq. */
typedef struct eg_audit_copy_s {
  eg_audit_source_t source;
  /* "<topic>/<partition>/<offset>" (eg_envelope_format_source()): names the
   * record in anomalies; for dead letters, what a redriven event's
   * envgate-redrive-source points at. Required. */
  const char *ref;
  int64_t timestamp_ms;     /* the Kafka timestamp; -1 unknown */
  const char *kafka_key;    /* NULL: none */
  const eg_envelope_t *env; /* headers and body, required */
  bool signature_ok;        /* hub-signature-256 verified */
} eg_audit_copy_t;

typedef struct eg_audit_opts_s {
  int64_t now_ms;   /* the time the audit runs at */
  int64_t grace_ms; /* how long a request may wait for an outcome */
  /* The topics were read from a start time (--since): a decision whose
   * delivery was not seen may belong to an older event, so it is skipped
   * (counted in eg_audit_skipped()) instead of being an anomaly. */
  bool partial;
} eg_audit_opts_t;

/* One gate request's outcome. Strings are owned by the audit and valid
 * until eg_audit_free(); optional ones are NULL when unknown. */
typedef struct eg_audit_result_s {
  const char *key;         /* gate key; "" when no copy had a valid body */
  const char *delivery;    /* github-delivery */
  const char *repository;  /* "owner/name"; "" unknown */
  uint64_t run_id;         /* 0 unknown */
  const char *environment; /* as sent; "" unknown */
  eg_audit_fate_t fate;
  const char *comment; /* the review's comment */
  /* rejected: the first failed check ("<name>: <detail>"); duplicates:
   * "duplicate of <delivery>"; retrying: the last error; dead-lettered:
   * "<class>: <error>". */
  const char *reason;
  uint64_t attempts;
  const char *received_at;  /* the earliest received-at, as stored */
  int64_t received_at_ms;   /* -1 unknown */
  const char *decided_at;   /* the decision's decided_at, as stored */
  int64_t decided_at_ms;    /* -1 unknown */
  bool signature_ok;        /* some copy verified and none failed */
  const char *duplicate_of; /* the delivery whose decision this took */
  int github_status;        /* of the decision; 0 none */
} eg_audit_result_t;

typedef struct eg_audit_anomaly_s {
  eg_audit_kind_t kind;
  const char *key;    /* gate key; "" unknown */
  const char *detail; /* one line: which record, what is wrong */
  size_t result;      /* index of the request concerned, or EG_AUDIT_NONE */
} eg_audit_anomaly_t;

/* Which results a report shows. Zero-initialised: all. */
typedef struct eg_audit_filter_s {
  const char *repository;  /* "owner/name", any case; NULL: any */
  const char *environment; /* any case; NULL: any */
  unsigned fates;          /* bits (1u << fate); 0: any */
  const char *delivery;    /* exact; NULL: any */
} eg_audit_filter_t;

/* "approved", "rejected", "retrying", "dead-lettered", "pending"; "?" for
 * anything else. */
const char *eg_audit_fate_name(eg_audit_fate_t fate);

/* Parses one fate name (exact, lower case).
 * @returns EG_OK or EG_EINVAL. */
int eg_audit_fate_parse(const char *name, eg_audit_fate_t *out);

/* "no-outcome", "unverified-decision", "double-review", "bad-signature",
 * "bad-record"; "?" for anything else. */
const char *eg_audit_kind_name(eg_audit_kind_t kind);

/* @returns EG_OK with *out (free with eg_audit_free()), EG_EINVAL, or
 * EG_ENOMEM. */
int eg_audit_new(eg_audit_t **out);

/* NULL is a no-op. */
void eg_audit_free(eg_audit_t *a);

/* Adds one copy of an event; what is kept is copied. A copy without a
 * github-delivery header is recorded as a bad-record anomaly, and a copy
 * whose signature failed as a bad-signature anomaly.
 * @returns EG_OK, EG_EINVAL (NULL argument, no ref, or called after
 * eg_audit_finish()) or EG_ENOMEM. */
int eg_audit_add_copy(eg_audit_t *a, const eg_audit_copy_t *copy);

/* Adds one decision record (the len bytes of JSON at value). A record that
 * is not a decision (not JSON, no delivery, state neither approved nor
 * rejected) becomes a bad-record anomaly.
 * @returns EG_OK, EG_EINVAL (NULL a or ref, or after eg_audit_finish()) or
 * EG_ENOMEM. */
int eg_audit_add_decision(eg_audit_t *a,
                          const char *ref,
                          int64_t timestamp_ms,
                          const char *kafka_key,
                          const void *value,
                          size_t len);

/* Joins everything added: one result per delivery, sorted by receipt time
 * (then delivery), and the anomalies sorted by the result they concern.
 * Call once. @returns EG_OK, EG_EINVAL or EG_ENOMEM (the audit is then only
 * fit for eg_audit_free()). */
int eg_audit_finish(eg_audit_t *a, const eg_audit_opts_t *opts);

/* Results and anomalies, valid after eg_audit_finish(). */
size_t eg_audit_count(const eg_audit_t *a);
const eg_audit_result_t *eg_audit_result(const eg_audit_t *a, size_t i);
size_t eg_audit_anomaly_count(const eg_audit_t *a);
const eg_audit_anomaly_t *eg_audit_anomaly(const eg_audit_t *a, size_t i);

/* Decisions skipped because of opts->partial. */
size_t eg_audit_skipped(const eg_audit_t *a);

/* True when r passes f (NULL f: everything passes). */
bool eg_audit_matches(const eg_audit_result_t *r, const eg_audit_filter_t *f);

/* True when an anomaly is shown under f: when it concerns no request, or
 * its request passes f. */
bool eg_audit_anomaly_matches(const eg_audit_t *a,
                              const eg_audit_anomaly_t *an,
                              const eg_audit_filter_t *f);

#endif /* EG_AUDIT_H */

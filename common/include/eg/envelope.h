/* What envgate's tools read from a record of envgate.events, envgate.retry
 * or envgate.dlq: the headers the pipeline writes (contract, "Kafka
 * topics"), the redrive headers, and the gate request the stored body
 * describes. Readers only: nothing here produces records. */
#ifndef EG_ENVELOPE_H
#define EG_ENVELOPE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eg/event.h"

/* Header names (contract). */
#define EG_HDR_EVENT       "github-event"
#define EG_HDR_DELIVERY    "github-delivery"
#define EG_HDR_SIGNATURE   "hub-signature-256"
#define EG_HDR_HOOK_ID     "github-hook-id"
#define EG_HDR_RECEIVED_AT "received-at"
/* Added on envgate.retry. */
#define EG_HDR_ATTEMPT    "envgate-attempt"
#define EG_HDR_NOT_BEFORE "envgate-not-before"
#define EG_HDR_LAST_ERROR "envgate-last-error"
/* Added on envgate.dlq. */
#define EG_HDR_ERROR_CLASS "envgate-error-class"
#define EG_HDR_ERROR       "envgate-error"
#define EG_HDR_ATTEMPTS    "envgate-attempts"
#define EG_HDR_FIRST_SEEN  "envgate-first-seen"
#define EG_HDR_LAST_STATUS "envgate-last-status"
/* Added by envgate-redrive on the events it moves back. */
#define EG_HDR_REDRIVE_SOURCE "envgate-redrive-source"
#define EG_HDR_REDRIVE_ID     "envgate-redrive-id"
#define EG_HDR_REDRIVEN_AT    "envgate-redriven-at"

/* Buffer sizes, NUL included. Longer header values are cut to fit (texts)
 * or treated as absent (numbers, times, ids). */
#define EG_ENVELOPE_ID_LEN   72  /* delivery, hook id, redrive id */
#define EG_ENVELOPE_TIME_LEN 40  /* times as stored */
#define EG_ENVELOPE_TEXT_LEN 512 /* error texts */
#define EG_ENVELOPE_WORD_LEN 32  /* error class, last status */
#define EG_ENVELOPE_REF_LEN  256 /* redrive source "<topic>/<p>/<offset>" */

/* A record's envelope: a value type with fixed buffers, no heap memory, no
 * cleanup (about 8 KB: allocate once and reuse). Absent strings are "",
 * absent numbers 0 and absent times -1. */
typedef struct eg_envelope_s {
  /* Headers of every copy of an event. */
  char delivery[EG_ENVELOPE_ID_LEN];
  char event[EG_EVENT_EVENT_LEN];
  char signature[EG_ENVELOPE_ID_LEN + 8]; /* hub-signature-256 as stored */
  char hook_id[EG_ENVELOPE_ID_LEN];
  char received_at[EG_ENVELOPE_TIME_LEN];
  int64_t received_at_ms; /* received-at parsed; -1 absent or malformed */
  /* envgate.retry */
  uint64_t attempt;
  int64_t not_before_ms;
  char last_error[EG_ENVELOPE_TEXT_LEN];
  /* envgate.dlq */
  char error_class[EG_ENVELOPE_WORD_LEN];
  char error[EG_ENVELOPE_TEXT_LEN];
  uint64_t attempts;
  char first_seen[EG_ENVELOPE_TIME_LEN];
  char last_status[EG_ENVELOPE_WORD_LEN];
  /* envgate-redrive */
  char redrive_source[EG_ENVELOPE_REF_LEN];
  char redrive_id[EG_ENVELOPE_ID_LEN];
  int64_t redriven_at_ms;
  /* The body: valid when body_ok, else body_error says why. */
  bool body_ok;
  char body_error[160];
  char key[EG_EVENT_KEY_LEN]; /* the gate key built from the body */
  char repository[EG_EVENT_FULL_NAME_LEN];
  uint64_t repository_id;
  uint64_t run_id;
  char environment[EG_EVENT_ENV_LEN];
  char sha[EG_EVENT_SHA_LEN];
} eg_envelope_t;

/* Clears env: every field absent. */
void eg_envelope_init(eg_envelope_t *env);

/* Fills the header fields of env from hdrs (NULL: none); the body fields
 * are left alone. A header given twice counts with its last value, as
 * eg_kafka_header() reads it. */
void eg_envelope_set_headers(eg_envelope_t *env,
                             const rd_kafka_headers_t *hdrs);

/* Parses the len bytes at body as a stored gate request: eg_event_parse()
 * with the API base taken from the payload's own deployment_callback_url
 * (the ingress checked it against the configured one before enqueuing), so
 * the tools need no GitHub configuration. Sets body_ok and the body fields,
 * or body_error.
 * @returns EG_OK, or what eg_event_parse() returns (EG_EINVAL when the
 * callback URL is missing or has no API base). */
int eg_envelope_parse_body(eg_envelope_t *env, const void *body, size_t len);

/* eg_envelope_init(), eg_envelope_set_headers() with msg's headers and
 * eg_envelope_parse_body() with its value.
 * @returns what eg_envelope_parse_body() returns, or EG_EINVAL for NULL. */
int eg_envelope_read(eg_envelope_t *env, const rd_kafka_message_t *msg);

/* Formats a redrive source "<topic>/<partition>/<offset>" into out.
 * @returns EG_OK, EG_EINVAL or EG_ERANGE (out too small). */
int eg_envelope_format_source(const char *topic,
                              int32_t partition,
                              int64_t offset,
                              char *out,
                              size_t out_len);

/* True for the headers the pipeline adds after the ingress (retry, dead
 * letter and redrive headers, "envgate-*"): what a redrive strips to get
 * back the event as received. */
bool eg_envelope_is_pipeline_header(const char *name);

#endif /* EG_ENVELOPE_H */

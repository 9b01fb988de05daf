/* envgate-redrive's rules: which dead letters an operator's filters select,
 * and the event a dead letter becomes when it is moved back to
 * envgate.events: the original body and headers, without the pipeline's
 * envgate-* headers, plus envgate-redrive-source (the letter's
 * "<topic>/<partition>/<offset>", which later runs look for so that no
 * letter is moved twice), envgate-redrive-id (one per run) and
 * envgate-redriven-at. */
#ifndef EG_REDRIVE_H
#define EG_REDRIVE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eg/envelope.h"

/* Buffer for a redrive id: a UUID and its NUL. */
#define EG_REDRIVE_ID_SIZE 37

/* Zero-initialised: every letter matches. */
typedef struct eg_redrive_filter_s {
  const char *const *deliveries; /* github-delivery is one of these */
  size_t ndeliveries;            /* 0: any */
  const char *repository;        /* "owner/name", any case; NULL: any */
  const char *const *classes;    /* envgate-error-class is one of these */
  size_t nclasses;               /* 0: any */
  int64_t since_ms; /* dead-lettered at or after (Kafka time); 0: no bound */
  int64_t until_ms; /* dead-lettered before; 0: no bound */
} eg_redrive_filter_t;

/* True when the letter (its envelope and Kafka timestamp, -1 unknown)
 * passes f (NULL: all pass). A letter whose body did not parse has no
 * repository, and one without a timestamp fails a time bound. */
bool eg_redrive_matches(const eg_redrive_filter_t *f,
                        const eg_envelope_t *env,
                        int64_t timestamp_ms);

/* Builds the headers of the event a letter becomes: every header of letter
 * (NULL: none) in order except the pipeline's
 * (eg_envelope_is_pipeline_header()), then envgate-redrive-source = source,
 * envgate-redrive-id = id and envgate-redriven-at = at.
 * @returns EG_OK with *out (the caller owns it: rd_kafka_headers_destroy(),
 * or hand it to rd_kafka_producev()), EG_EINVAL (NULL out, source, id or at)
 * or EG_ENOMEM. */
int eg_redrive_headers(const rd_kafka_headers_t *letter,
                       const char *source,
                       const char *id,
                       const char *at,
                       rd_kafka_headers_t **out);

/* Writes a random (version 4) UUID, lower case, to out.
 * @returns EG_OK, EG_EINVAL (NULL) or EG_ECRYPTO (no randomness). */
int eg_redrive_new_id(char out[EG_REDRIVE_ID_SIZE]);

#endif /* EG_REDRIVE_H */

/* Durable outcomes of an event, produced to Kafka and acknowledged before
 * the event's offset may be committed: a later attempt (retry topic), a
 * dead letter (dlq topic) or a decision record (decisions topic). */
#ifndef WRK_OUTCOME_H
#define WRK_OUTCOME_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "eg/config.h"

typedef struct wrk_outcome_s wrk_outcome_t;

/* Dead-letter classes (contract). */
#define WRK_DLQ_PERMANENT "permanent"
#define WRK_DLQ_EXHAUSTED "exhausted"
#define WRK_DLQ_INVALID   "invalid"
#define WRK_DLQ_POISON    "poison"

/* Creates the idempotent producer and its delivery-report thread.
 * @returns EG_OK or an EG_E* code with errbuf. */
int wrk_outcome_new(const eg_config_t *cfg,
                    wrk_outcome_t **out,
                    char *errbuf,
                    size_t errbuf_len);

/* Flushes (bounded by timeout_ms) and frees. NULL is a no-op. */
void wrk_outcome_free(wrk_outcome_t *oc, int timeout_ms);

/* Sends msg (value, key and headers kept) to the retry topic with
 * envgate-attempt = attempt, envgate-not-before = not_before_ms (epoch ms)
 * and envgate-last-error = error, and waits for the acknowledgement.
 * @returns EG_OK or EG_EUNAVAIL. */
int wrk_outcome_retry(wrk_outcome_t *oc,
                      const rd_kafka_message_t *msg,
                      unsigned attempt,
                      int64_t not_before_ms,
                      const char *error);

/* Sends msg to the dead-letter topic with the contract's headers and waits
 * for the acknowledgement. last_status is the last GitHub HTTP status (0 if
 * none). @returns EG_OK or EG_EUNAVAIL. */
int wrk_outcome_dead_letter(wrk_outcome_t *oc,
                            const rd_kafka_message_t *msg,
                            const char *error_class,
                            const char *error,
                            unsigned attempts,
                            int last_status);

/* Produces one decision record (JSON, key = the gate key) and waits for the
 * acknowledgement. @returns EG_OK or EG_EUNAVAIL. */
int wrk_outcome_decision(wrk_outcome_t *oc,
                         const char *key,
                         const char *json,
                         size_t len);

#endif /* WRK_OUTCOME_H */

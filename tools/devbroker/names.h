/* Name lookups for devbroker commands: Kafka protocol ApiKeys and
 * librdkafka error codes, each given by name or by number. */
#ifndef DBK_NAMES_H
#define DBK_NAMES_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Highest ApiKey the devbroker accepts (OffsetDelete); the mock cluster
 * implements a subset of keys below it. */
#define DBK_APIKEY_MAX 47

/* Parses an ApiKey: a protocol name ("Produce", "JoinGroup", any case, an
 * optional "Request" suffix) or a number 0..DBK_APIKEY_MAX.
 * @returns EG_OK or EG_EINVAL. */
int dbk_names_apikey(const char *s, int16_t *out);

/* Returns the protocol name of an ApiKey, or "?" when out of range. */
const char *dbk_names_apikey_str(int16_t key);

/* Parses an error code: a librdkafka name such as "NOT_LEADER_FOR_PARTITION"
 * or "_TRANSPORT" (any case, an optional "RD_KAFKA_RESP_ERR_" prefix), or a
 * number (negative for librdkafka's local errors) that librdkafka knows.
 * @returns EG_OK or EG_EINVAL. */
int dbk_names_error(const char *s, rd_kafka_resp_err_t *out);

#endif /* DBK_NAMES_H */

/* librdkafka configuration for envgate's producers and consumers: brokers
 * and extra settings from the environment, delivery guarantees that cannot
 * be weakened by the extra settings, and librdkafka logs routed into our
 * logger. */
#ifndef EG_KAFKA_H
#define EG_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "eg/config.h"

typedef enum eg_kafka_kind {
  EG_KAFKA_PRODUCER, /* idempotent, acks=all, sends at once */
  /* The same guarantees, lingering 5 ms to batch: for the worker's outcomes,
   * whose event already waited on several GitHub round trips. */
  EG_KAFKA_BATCH_PRODUCER,
  EG_KAFKA_CONSUMER, /* group member, offsets stored after processing */
  EG_KAFKA_READER    /* no group: assigned reads (audit, tests) */
} eg_kafka_kind_t;

/* The workers' consumer group (contract). */
#define EG_KAFKA_WORKER_GROUP "envgate-workers"

/* Builds a configuration for kind. For EG_KAFKA_CONSUMER group_id names the
 * group (NULL means EG_KAFKA_WORKER_GROUP). Lines of
 * cfg->kafka_config_file ("key=value", '#' comments) are applied on top of
 * our defaults, except the keys that carry our delivery guarantees, which
 * are refused. Error text names the file, line and key, never a value.
 * @returns EG_OK and *out (free with rd_kafka_conf_destroy(), or hand it to
 * rd_kafka_new() which takes ownership on success); EG_EINVAL; EG_EIO;
 * EG_ENOMEM. */
int eg_kafka_conf_new(const eg_config_t *cfg,
                      eg_kafka_kind_t kind,
                      const char *group_id,
                      rd_kafka_conf_t **out,
                      char *errbuf,
                      size_t errbuf_len);

/* Creates the client with a configuration from eg_kafka_conf_new(); takes
 * ownership of conf in all cases. @returns EG_OK, or EG_EINVAL with errbuf. */
int eg_kafka_new(rd_kafka_type_t type,
                 rd_kafka_conf_t *conf,
                 rd_kafka_t **out,
                 char *errbuf,
                 size_t errbuf_len);

/* Copies the value of the last header called name into out (NUL-terminated).
 * @returns EG_OK, EG_ENOENT (no such header), EG_ERANGE (too long). */
int eg_kafka_header(const rd_kafka_message_t *msg,
                    const char *name,
                    char *out,
                    size_t out_len);

/* True when the cluster answered a metadata request within timeout_ms. */
int eg_kafka_ping(rd_kafka_t *rk, int timeout_ms);

#endif /* EG_KAFKA_H */

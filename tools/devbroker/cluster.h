/* The mock Kafka cluster hosted by envgate-devbroker: librdkafka's mock
 * brokers plus the state the mock API does not report back (which brokers are
 * down, their added RTT, the topics and topic errors set). */
#ifndef DBK_CLUSTER_H
#define DBK_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "eg/log.h"

#define DBK_MAX_BROKERS    16
#define DBK_MAX_TOPICS     64
#define DBK_MAX_PARTITIONS 1000
#define DBK_MAX_RTT_MS     600000

typedef struct dbk_cluster_s dbk_cluster_t;

/* Starts a mock cluster of nbrokers (1..DBK_MAX_BROKERS) brokers listening on
 * 127.0.0.1 ephemeral ports. log_level decides what librdkafka logs are
 * forwarded (debug also turns on librdkafka's "mock" debug context).
 * @returns EG_OK, EG_EINVAL, EG_ENOMEM or EG_EUNAVAIL with errbuf set.
 * Free *out with dbk_cluster_free(). */
int dbk_cluster_new(int nbrokers,
                    eg_log_level_t log_level,
                    dbk_cluster_t **out,
                    char *errbuf,
                    size_t errbuf_len);

/* Stops the brokers (clients see their connections drop). NULL is a no-op. */
void dbk_cluster_free(dbk_cluster_t *c);

/* Returns "127.0.0.1:port,..." owned by c. */
const char *dbk_cluster_bootstraps(const dbk_cluster_t *c);

/* Creates topic (a legal Kafka name) with partitions partitions and
 * replication factor min(3, brokers).
 * @returns EG_OK, EG_EINVAL (bad name or count), EG_EEXIST, EG_ERANGE (too
 * many topics) or EG_EUNAVAIL (the mock refused), with errbuf set. */
int dbk_cluster_create_topic(dbk_cluster_t *c,
                             const char *topic,
                             int partitions,
                             char *errbuf,
                             size_t errbuf_len);

/* True when topic was created through dbk_cluster_create_topic(). */
bool dbk_cluster_has_topic(const dbk_cluster_t *c, const char *topic);

/* Takes broker id (1..brokers) down or brings it back up. Down closes its
 * listener and connections; partitions it leads become unavailable.
 * @returns EG_OK or EG_EINVAL (unknown broker) with errbuf set. */
int dbk_cluster_broker_set_up(
    dbk_cluster_t *c, int32_t id, bool up, char *errbuf, size_t errbuf_len);

/* Adds rtt_ms (0..DBK_MAX_RTT_MS) of latency to every response of broker id,
 * or of every broker when id is -1.
 * @returns EG_OK or EG_EINVAL with errbuf set. */
int dbk_cluster_set_rtt(
    dbk_cluster_t *c, int32_t id, int rtt_ms, char *errbuf, size_t errbuf_len);

/* Makes the next n requests with apikey fail with errs[0..n-1] in order. */
void dbk_cluster_push_errors(dbk_cluster_t *c,
                             int16_t apikey,
                             const rd_kafka_resp_err_t *errs,
                             size_t n);

/* Drops every pushed request error and resets every topic error. */
void dbk_cluster_clear_errors(dbk_cluster_t *c);

/* Makes Metadata (and AddPartitionsToTxn) requests report err for topic,
 * which must be a created topic; RD_KAFKA_RESP_ERR_NO_ERROR resets it.
 * @returns EG_OK or EG_ENOENT with errbuf set. */
int dbk_cluster_topic_error(dbk_cluster_t *c,
                            const char *topic,
                            rd_kafka_resp_err_t err,
                            char *errbuf,
                            size_t errbuf_len);

/* Moves the leadership of topic/partition to broker id.
 * @returns EG_OK, EG_ENOENT or EG_EINVAL with errbuf set. */
int dbk_cluster_set_leader(dbk_cluster_t *c,
                           const char *topic,
                           int32_t partition,
                           int32_t id,
                           char *errbuf,
                           size_t errbuf_len);

/* Writes one line describing the cluster, e.g. "bootstrap=... brokers=3
 * down=2 rtt=3:100 topics=envgate.events:12,...", truncated to buf_len. */
void dbk_cluster_status(const dbk_cluster_t *c, char *buf, size_t buf_len);

/* Number of brokers. */
int dbk_cluster_nbrokers(const dbk_cluster_t *c);

#endif /* DBK_CLUSTER_H */

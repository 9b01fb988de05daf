/* Reads a whole topic, or the part written since a point in time, up to the
 * end each partition had when the read began: the replay that envgate's
 * tools do. Partitions are assigned directly (librdkafka's simple consumer):
 * no consumer group is joined, nothing is committed, and the workers' group
 * envgate-workers is never touched. */
#ifndef EG_TOPIC_READER_H
#define EG_TOPIC_READER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct eg_topic_reader_s eg_topic_reader_t;

/* Receives one message (never an error event), in offset order within each
 * partition; partitions interleave. msg is valid for the call only.
 * @returns EG_OK to go on; any other value stops the read, which returns
 * that value. */
typedef int (*eg_topic_reader_msg_fn)(const rd_kafka_message_t *msg, void *ud);

/* Reports done of total messages of topic read so far: called after the
 * ends are known (done 0), every few hundred messages and once at the end.
 * It should rate-limit what it shows itself. */
typedef void (*eg_topic_reader_progress_fn)(const char *topic,
                                            uint64_t done,
                                            uint64_t total,
                                            void *ud);

/* Polled at least every 100 ms; true stops the read with EG_EAGAIN. */
typedef bool (*eg_topic_reader_stop_fn)(void *ud);

typedef struct eg_topic_reader_opts_s {
  /* > 0: start each partition at its first message with a timestamp at or
   * after since_ms (Kafka's offsets-for-times); <= 0: at the beginning. */
  int64_t since_ms;
  /* Longest time without any progress (metadata, offsets, messages) before
   * the read fails with EG_ETIMEDOUT; 0 means 30000. */
  int timeout_ms;
  eg_topic_reader_stop_fn stop; /* may be NULL */
  void *stop_ud;
  eg_topic_reader_progress_fn progress; /* may be NULL */
  void *progress_ud;
} eg_topic_reader_opts_t;

/* Creates a reader from a configuration made by eg_kafka_conf_new(cfg,
 * EG_KAFKA_READER, ...); takes ownership of conf in all cases.
 * @returns EG_OK with *out (free with eg_topic_reader_free()), EG_EINVAL
 * (bad arguments, or librdkafka refused the configuration: errbuf says why)
 * or EG_ENOMEM. */
int eg_topic_reader_new(rd_kafka_conf_t *conf,
                        eg_topic_reader_t **out,
                        char *errbuf,
                        size_t errbuf_len);

/* Reads topic from the start point (see opts; NULL for defaults) to the end
 * offsets its partitions had when the read began, passing each message to
 * fn. Messages written during the read are not delivered, so a replay ends
 * even while producers keep writing.
 * @returns EG_OK; EG_ENOENT (no such topic); EG_ETIMEDOUT (the cluster did
 * not answer or made no progress for opts->timeout_ms); EG_EUNAVAIL (the
 * cluster refused a request); EG_EAGAIN (stopped by opts->stop); EG_ENOMEM;
 * EG_EINVAL (bad arguments); or what fn returned. errbuf names the topic and
 * the reason. Not thread-safe: one read at a time per reader. */
int eg_topic_reader_read(eg_topic_reader_t *tr,
                         const char *topic,
                         const eg_topic_reader_opts_t *opts,
                         eg_topic_reader_msg_fn fn,
                         void *ud,
                         char *errbuf,
                         size_t errbuf_len);

/* The librdkafka handle, e.g. for eg_kafka_ping(). Owned by the reader. */
rd_kafka_t *eg_topic_reader_handle(eg_topic_reader_t *tr);

/* Destroys the reader. NULL is a no-op. */
void eg_topic_reader_free(eg_topic_reader_t *tr);

#endif /* EG_TOPIC_READER_H */

/* The worker's job queue: events waiting to be processed, each due at a time
 * (now for new events, later for retries), handed to worker threads so that
 * two events of one gate (same Kafka key) never run at once. */
#ifndef WRK_JOBS_H
#define WRK_JOBS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wrk_job_s {
  rd_kafka_message_t *msg; /* owned by the job */
  uint64_t due_ms;         /* CLOCK_MONOTONIC ms; 0 = now */
  char key[1100];          /* the Kafka key (gate) */
  unsigned attempt;        /* 1 for a first delivery */
  uint64_t letter_wait_ms; /* CLOCK_MONOTONIC ms its dead letter began to
                              wait for Redis; 0 = not waiting */
  /* queue internals */
  uint64_t seq;
  bool delayed; /* counted in the queue's delayed jobs */
  struct wrk_job_s *next_waiter;
} wrk_job_t;

typedef struct wrk_jobs_s wrk_jobs_t;

/* A queue holding at most capacity jobs (queued, delayed and parked).
 * @returns 0 or -1 (out of memory). */
int wrk_jobs_new(size_t capacity, wrk_jobs_t **out);
void wrk_jobs_free(wrk_jobs_t *q);

/* Adds a job; the queue takes ownership. Never blocks: the consumer stops
 * taking events while wrk_jobs_is_full(). */
void wrk_jobs_push(wrk_jobs_t *q, wrk_job_t *job);

/* Full when the jobs that are due, parked or running reach the capacity, or
 * when jobs waiting for a later time (retries) reach 16 times it: so events
 * keep flowing while many retries wait. */
bool wrk_jobs_is_full(wrk_jobs_t *q);
/* Waits until at least wanted more jobs (capped at the capacity) can be
 * pushed before the queue is full, at most timeout_ms, or until
 * wrk_jobs_close(). One thread (the consumer) waits at a time.
 * @returns true when there is that much room. */
bool wrk_jobs_wait_room(wrk_jobs_t *q, size_t wanted, unsigned timeout_ms);
/* Jobs in the queue, delayed, parked or running. */
size_t wrk_jobs_count(wrk_jobs_t *q);

/* Blocks until a job is due and its key is free, then marks the key busy
 * and returns the job. Returns NULL once wrk_jobs_close() was called and,
 * with drain, nothing due is left (or at once without drain). */
wrk_job_t *wrk_jobs_take(wrk_jobs_t *q);

/* Marks job's key free again (re-queueing jobs parked behind it); call
 * when the job is finished, before freeing it. */
void wrk_jobs_done(wrk_jobs_t *q, wrk_job_t *job);

/* Removes queued (not running) jobs of one partition and returns them as a
 * list through next_waiter, for the caller to free: a rebalance revoked the
 * partition and their events will be re-delivered to its new owner. */
wrk_job_t *
wrk_jobs_remove_partition(wrk_jobs_t *q, const char *topic, int32_t partition);

/* Removes every job that is not running (shutdown), as a list. */
wrk_job_t *wrk_jobs_remove_all(wrk_jobs_t *q);

/* Wakes every taker: takes return NULL from now on. */
void wrk_jobs_close(wrk_jobs_t *q);

/* Frees a job and its message. NULL is a no-op. */
void wrk_job_free(wrk_job_t *job);

#endif /* WRK_JOBS_H */

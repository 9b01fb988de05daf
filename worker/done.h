/* The idempotency record: which gate requests already got their review,
 * and which deliveries already have their dead letter.
 * Kept in Redis (shared by every worker, 30 days: GitHub's longest wait for
 * a gate) and in a small in-process table that also covers a Redis outage. */
#ifndef WRK_DONE_H
#define WRK_DONE_H

#include <stdbool.h>

#include "eg/redis.h"

typedef struct wrk_done_s wrk_done_t;

/* @returns 0 or -1 (out of memory). redis is borrowed (may be NULL). */
int wrk_done_new(eg_redis_t *redis, wrk_done_t **out);
void wrk_done_free(wrk_done_t *dn);

/* True when id was recorded; *state (may be NULL) gets the recorded state
 * (static string). *redis_failed is set when Redis could not be asked. */
bool wrk_done_check(wrk_done_t *dn,
                    const char *id,
                    const char **state,
                    bool *redis_failed);

/* Records id with state ("approved" or "rejected" for a gate's review,
 * "dead-lettered" for a letter). @returns false when Redis failed: the
 * local record is kept anyway, and the Redis one is written as soon as
 * Redis answers again (up to 4096 such records, oldest dropped first). */
bool wrk_done_record(wrk_done_t *dn, const char *id, const char *state);

#endif /* WRK_DONE_H */

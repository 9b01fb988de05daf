/* The GitHub rate budget of each installation, shared by the fleet: when
 * GitHub says an installation's budget is spent (or a secondary limit was
 * hit), every worker holds that installation's calls until it may resume
 * (the resume time is kept in Redis), and each worker keeps its concurrent
 * calls per installation under a cap (ENVGATE_GITHUB_CONCURRENCY), so that
 * the fleet stays under GitHub's limit of 100. */
#ifndef WRK_HOLD_H
#define WRK_HOLD_H

#include <stdint.h>

#include "eg/redis.h"

typedef struct wrk_hold_s wrk_hold_t;

/* redis is borrowed (NULL: this process only); max_concurrent (>= 1) is
 * the cap on one installation's calls in flight. @returns 0 or -1. */
int wrk_hold_new(eg_redis_t *redis, unsigned max_concurrent, wrk_hold_t **out);
void wrk_hold_free(wrk_hold_t *h);

/* Epoch ms until which installation's calls are held, or 0 when they may
 * go now. Redis is asked at most every 250 ms per installation, by one
 * thread; the others wait for that answer only before the first one. */
int64_t wrk_hold_until(wrk_hold_t *h, uint64_t installation_id);

/* Holds installation's calls until until_ms (epoch ms), fleet-wide. */
void wrk_hold_set(wrk_hold_t *h, uint64_t installation_id, int64_t until_ms);

/* The cap: calls of one installation in flight at once. */
unsigned wrk_hold_max(const wrk_hold_t *h);

/* Takes n call slots of installation, waiting while all are in use;
 * release them with wrk_hold_release(). n is capped at the maximum. */
void wrk_hold_acquire(wrk_hold_t *h, uint64_t installation_id, unsigned n);
void wrk_hold_release(wrk_hold_t *h, uint64_t installation_id, unsigned n);

#endif /* WRK_HOLD_H */

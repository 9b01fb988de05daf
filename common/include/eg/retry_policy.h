/* Retry policy for GitHub REST calls (GITHUB-FACTS.md 3.6): classifies a
 * response as ok, transient or permanent and says how long to wait before
 * the next attempt. Pure functions: the caller supplies the clock and the
 * random bits, so the worker's in-place retries and its envgate-not-before
 * come out of the same rules. */
#ifndef EG_RETRY_POLICY_H
#define EG_RETRY_POLICY_H

#include "eg/gh_client.h"

#include <stdint.h>

#define EG_RETRY_BASE_MS      UINT64_C(1000)    /* backoff base */
#define EG_RETRY_CAP_MS       UINT64_C(300000)  /* backoff ceiling, 5 min */
#define EG_RETRY_SECONDARY_MS UINT64_C(60000)   /* secondary limit minimum */
#define EG_RETRY_MAX_DELAY_MS UINT64_C(3600000) /* no wait beyond 1 hour */

typedef enum eg_retry_class_e {
  EG_RETRY_OK = 0,    /* success (2xx, 304): nothing to retry */
  EG_RETRY_TRANSIENT, /* try again after delay_ms */
  EG_RETRY_PERMANENT  /* retrying cannot help */
} eg_retry_class_t;

typedef struct eg_retry_s {
  eg_retry_class_t cls;
  /* Static, for logs and envgate-last-error: "ok", "server_error",
   * "rate_limited", "secondary_rate_limit", "forbidden", "unauthorized",
   * "not_found", "client_error", "redirect", or a transport class name
   * ("timeout", "connect", "reset", "tls", "protocol", "internal",
   * "too_big", "refused"). */
  const char *reason;
  /* Earliest retry, in ms from now; 0 unless cls is EG_RETRY_TRANSIENT. */
  uint64_t delay_ms;
} eg_retry_t;

/* Full-jitter exponential backoff: a delay drawn from rnd in
 * [0, min(EG_RETRY_CAP_MS, EG_RETRY_BASE_MS * 2^(attempt - 1))].
 * attempt counts failed attempts so far (0 is treated as 1). */
uint64_t eg_retry_backoff_ms(unsigned attempt, uint64_t rnd);

/* Classifies resp, the answer to a call that has now been tried attempt
 * times (1 after the first try), and computes the wait, in this order:
 * Retry-After when present; else, when x-ratelimit-remaining is 0, until
 * x-ratelimit-reset + 1 s (measured against the response's Date when
 * present, else now_s, epoch seconds); else, for a secondary rate limit,
 * at least 60 s; else eg_retry_backoff_ms(attempt, rnd). Delays are capped
 * at EG_RETRY_MAX_DELAY_MS. rnd is any random 64-bit value.
 * Transient: 5xx, 408, 429, 403 with rate-limit signals (remaining 0,
 * Retry-After, or a body mentioning "rate limit"), statuses outside
 * 1xx-5xx, and transport failures other than too_big and refused.
 * Permanent: other 3xx and 4xx, too_big, refused. OK: 2xx and 304.
 * @returns EG_OK, or EG_EINVAL when resp or out is NULL (out, if given,
 * then says permanent, "refused"). */
int eg_retry_classify(const eg_gh_response_t *resp,
                      unsigned attempt,
                      int64_t now_s,
                      uint64_t rnd,
                      eg_retry_t *out);

#endif /* EG_RETRY_POLICY_H */

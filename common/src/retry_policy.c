/* Retry policy for GitHub REST calls, after GitHub's rate-limit guidance
 * (GITHUB-FACTS.md 3.6). */
#include "eg/retry_policy.h"
#include "eg/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

/* Rate-limit messages sit at the start of small JSON bodies; a large body
 * is not an error message. */
#define BODY_SCAN_MAX ((size_t)64 << 10)

uint64_t eg_retry_backoff_ms(unsigned attempt, uint64_t rnd) {
  uint64_t ceiling = EG_RETRY_CAP_MS;

  if (attempt == 0)
    attempt = 1;
  /* 1 s << 19 is far past the cap; avoid shifting further. */
  if (attempt - 1 < 19 && (EG_RETRY_BASE_MS << (attempt - 1)) < ceiling)
    ceiling = EG_RETRY_BASE_MS << (attempt - 1);
  return rnd % (ceiling + 1);
}

/* Case-insensitive search for needle in the first n bytes of hay. */
static bool body_has(const char *hay, size_t n, const char *needle) {
  size_t m = 0;

  while (needle[m] != '\0')
    m++;
  if (hay == NULL)
    return false;
  if (n > BODY_SCAN_MAX)
    n = BODY_SCAN_MAX;
  for (size_t i = 0; i + m <= n; i++) {
    if (strncasecmp(hay + i, needle, m) == 0)
      return true;
  }
  return false;
}

static void set(eg_retry_t *out,
                eg_retry_class_t cls,
                const char *reason,
                uint64_t delay_ms) {
  out->cls = cls;
  out->reason = reason;
  out->delay_ms =
      delay_ms > EG_RETRY_MAX_DELAY_MS ? EG_RETRY_MAX_DELAY_MS : delay_ms;
}

int eg_retry_classify(const eg_gh_response_t *resp,
                      unsigned attempt,
                      int64_t now_s,
                      uint64_t rnd,
                      eg_retry_t *out) {
  const eg_gh_headers_t *h;
  bool exhausted, secondary, limited;
  uint64_t delay;
  int st;

  if (out == NULL)
    return EG_EINVAL;
  set(out, EG_RETRY_PERMANENT, "refused", 0);
  if (resp == NULL)
    return EG_EINVAL;
  h = &resp->hdr;
  st = resp->status;

  if (resp->err != EG_OK || resp->net != EG_GH_NET_NONE) {
    if (resp->net == EG_GH_NET_TOO_BIG || resp->net == EG_GH_NET_REFUSED)
      set(out, EG_RETRY_PERMANENT, eg_gh_net_name(resp->net), 0);
    else
      set(out, EG_RETRY_TRANSIENT,
          resp->net == EG_GH_NET_NONE ? "internal" : eg_gh_net_name(resp->net),
          eg_retry_backoff_ms(attempt, rnd));
    return EG_OK;
  }
  if ((st >= 200 && st <= 299) || st == 304) {
    set(out, EG_RETRY_OK, "ok", 0);
    return EG_OK;
  }

  exhausted = h->has_remaining && h->remaining == 0;
  secondary = body_has(resp->body, resp->body_len, "secondary rate limit") ||
              (st == 429 && !exhausted);
  limited = exhausted || secondary || h->has_retry_after ||
            body_has(resp->body, resp->body_len, "rate limit");

  if (st == 403 && !limited) {
    set(out, EG_RETRY_PERMANENT, "forbidden", 0);
    return EG_OK;
  }
  if (st >= 300 && st <= 499 && st != 403 && st != 408 && st != 429) {
    set(out, EG_RETRY_PERMANENT,
        st < 400    ? "redirect"
        : st == 401 ? "unauthorized"
        : st == 404 ? "not_found"
                    : "client_error",
        0);
    return EG_OK;
  }

  /* Transient: 403/429 rate limits, 408, 5xx and statuses outside the
   * classes GitHub uses. The wait follows GitHub's documented order. */
  if (h->has_retry_after) {
    delay = (uint64_t)h->retry_after_s * 1000u;
  } else if (exhausted && h->has_reset) {
    /* Measure against the server's clock when it sent its Date; +1 s
     * because reset has whole-second granularity. */
    int64_t from = h->has_date ? h->date : now_s;
    int64_t wait = (int64_t)h->reset - from;
    delay = wait > 0 ? (uint64_t)(wait + 1) * 1000u : 1000u;
  } else if (secondary) {
    delay = eg_retry_backoff_ms(attempt, rnd);
    if (delay < EG_RETRY_SECONDARY_MS)
      delay = EG_RETRY_SECONDARY_MS;
  } else {
    delay = eg_retry_backoff_ms(attempt, rnd);
  }
  set(out, EG_RETRY_TRANSIENT,
      st >= 500 && st <= 599 ? "server_error"
      : secondary            ? "secondary_rate_limit"
      : limited              ? "rate_limited"
      : st == 408            ? "request_timeout"
                             : "protocol",
      delay);
  return EG_OK;
}

/* Parsing of GitHub REST response headers (Link, Retry-After, Date,
 * x-ratelimit-*, x-github-request-id) and of request paths. Pure functions
 * with bounded lengths: headers may come from a proxy or a MITM, so every
 * value is checked and anything malformed is treated as absent. */
#ifndef EG_GH_HEADERS_H
#define EG_GH_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest path+query accepted for a call or a Link "next", NUL included. */
#define EG_GH_PATH_MAX 2048
/* Longest header value looked at; longer values are ignored. */
#define EG_GH_HEADER_VALUE_MAX 8192
/* Longest kept x-github-request-id / x-ratelimit-resource, NUL included. */
#define EG_GH_REQUEST_ID_MAX 64
#define EG_GH_RESOURCE_MAX   32

/* What the response headers said. Fields are valid only when their has_
 * flag is set. A status line ("HTTP/...") resets everything, so only the
 * final response's headers count (not a 100 Continue's). */
typedef struct eg_gh_headers_s {
  bool has_retry_after;
  int64_t retry_after_s; /* seconds to wait, >= 0 (dates: by _finish) */
  bool retry_after_is_date;
  int64_t retry_after_at; /* epoch seconds, when given as an HTTP-date */

  bool has_date;
  int64_t date; /* the server's Date (epoch seconds): clock-skew hints */

  bool has_limit, has_remaining, has_used, has_reset;
  uint64_t limit;                    /* x-ratelimit-limit */
  uint64_t remaining;                /* x-ratelimit-remaining */
  uint64_t used;                     /* x-ratelimit-used */
  uint64_t reset;                    /* x-ratelimit-reset, epoch seconds */
  char resource[EG_GH_RESOURCE_MAX]; /* x-ratelimit-resource or "" */

  bool has_next;             /* Link has rel="next" on our base URL */
  bool next_ignored;         /* Link had rel="next" elsewhere: not followed */
  char next[EG_GH_PATH_MAX]; /* its path+query, relative to the base URL */

  char request_id[EG_GH_REQUEST_ID_MAX]; /* x-github-request-id or "" */
} eg_gh_headers_t;

/* Clears h. */
void eg_gh_headers_init(eg_gh_headers_t *h);

/* Feeds one raw header line as received ("Name: value", with or without the
 * trailing CRLF). base_url (without trailing '/') decides which Link targets
 * may be followed. Unknown, malformed or oversized lines are ignored.
 * Never fails. */
void eg_gh_headers_feed(eg_gh_headers_t *h,
                        const char *line,
                        size_t len,
                        const char *base_url);

/* Call once all headers are in: turns an HTTP-date Retry-After into
 * seconds from the server's Date (from now_s, the local epoch seconds,
 * when there is no Date), clamped at 0. */
void eg_gh_headers_finish(eg_gh_headers_t *h, int64_t now_s);

/* Looks for rel="next" in a Link header value (n bytes at value). When its
 * target is base_url followed by '/' and a valid path (eg_gh_path_is_valid),
 * copies that path+query into path.
 * @returns EG_OK (found), EG_ENOENT (no rel="next"), EG_EPERM (a next target
 * that is off the base URL, invalid or longer than path_len - 1),
 * EG_EINVAL (bad arguments). */
int eg_gh_link_next(const char *value,
                    size_t n,
                    const char *base_url,
                    char *path,
                    size_t path_len);

/* Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 5.6.7),
 * the form GitHub sends. The obsolete RFC 850 and asctime forms are
 * refused. @returns EG_OK or EG_EINVAL. */
int eg_gh_http_date(const char *s, size_t n, int64_t *epoch);

/* True when path is a request target this client may send: starts with a
 * single '/', at most EG_GH_PATH_MAX - 1 bytes of printable ASCII, no '#',
 * no '\\', no empty segment, no "." or ".." segment (also percent-encoded)
 * before the query. "/" alone is valid. */
bool eg_gh_path_is_valid(const char *path);

#endif /* EG_GH_HEADERS_H */

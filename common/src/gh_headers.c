/* GitHub REST response headers and request paths: strict, bounded parsers
 * that treat anything malformed as absent. */
#include "eg/gh_headers.h"
#include "eg/error.h"
#include "eg/parse.h"

#include <string.h>
#include <strings.h>

/* Largest counter we believe in (x-ratelimit-limit/remaining/used) and the
 * latest reset or Retry-After we accept (year 9999, and ~136 years). */
#define COUNTER_MAX     UINT64_C(4294967295)
#define EPOCH_MAX       UINT64_C(253402300799)
#define RETRY_AFTER_MAX UINT64_C(4294967295)
/* A rel="..." value longer than this cannot usefully be "next". */
#define REL_MAX 256

void eg_gh_headers_init(eg_gh_headers_t *h) {
  if (h != NULL)
    memset(h, 0, sizeof(*h));
}

static bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

static bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return true;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* True when the n bytes at s spell word, ignoring ASCII case. */
static bool word_eq(const char *s, size_t n, const char *word) {
  return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* ---- paths ---- */

/* A segment that a server or proxy could read as "." or "..", once
 * percent-decoded. */
static bool is_dot_segment(const char *s, size_t n) {
  size_t dots = 0;
  size_t i = 0;

  while (i < n) {
    if (s[i] == '.') {
      dots++;
      i++;
    } else if (i + 3 <= n && s[i] == '%' && s[i + 1] == '2' &&
               (s[i + 2] == 'e' || s[i + 2] == 'E')) {
      dots++;
      i += 3;
    } else {
      return false;
    }
  }
  return dots == 1 || dots == 2;
}

bool eg_gh_path_is_valid(const char *path) {
  size_t len;
  size_t plen;
  const char *q;
  const char *seg;

  if (path == NULL || path[0] != '/')
    return false;
  len = strnlen(path, EG_GH_PATH_MAX);
  if (len >= EG_GH_PATH_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)path[i];
    if (c < 0x21 || c > 0x7e || c == '#' || c == '\\')
      return false;
    if (c == '%' &&
        (i + 2 >= len || !is_hex(path[i + 1]) || !is_hex(path[i + 2])))
      return false;
  }
  q = memchr(path, '?', len);
  plen = q != NULL ? (size_t)(q - path) : len;
  if (plen == 1)
    return true; /* "/" or "/?query" */
  /* Encoded '/', '\' or NUL in the path could become separators or
   * terminators after a proxy decodes them; ids never need them. */
  for (size_t i = 0; i + 2 < plen; i++) {
    if (path[i] == '%' &&
        ((path[i + 1] == '2' && (path[i + 2] == 'f' || path[i + 2] == 'F')) ||
         (path[i + 1] == '5' && (path[i + 2] == 'c' || path[i + 2] == 'C')) ||
         (path[i + 1] == '0' && path[i + 2] == '0')))
      return false;
  }
  seg = path + 1;
  while (seg <= path + plen) {
    const char *end = memchr(seg, '/', (size_t)(path + plen - seg));
    size_t n;

    if (end == NULL)
      end = path + plen;
    n = (size_t)(end - seg);
    if (n == 0 || is_dot_segment(seg, n))
      return false;
    seg = end + 1;
  }
  return true;
}

/* ---- HTTP-date ---- */

static int two_digits(const char *s, int *out) {
  if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
    return EG_EINVAL;
  *out = (s[0] - '0') * 10 + (s[1] - '0');
  return EG_OK;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no timegm() and no TZ lookups. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  int64_t era;
  unsigned yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned)(y - era * 400);
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

int eg_gh_http_date(const char *s, size_t n, int64_t *epoch) {
  static const char *const wdays[] = {"Mon", "Tue", "Wed", "Thu",
                                      "Fri", "Sat", "Sun"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
  static const unsigned mdays[] = {31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
  int day, hh, mm, ss, yhi, ylo;
  unsigned mon = 0;
  bool wday_ok = false;
  int64_t year;
  unsigned dim;

  if (s == NULL || epoch == NULL)
    return EG_EINVAL;
  /* "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 bytes. */
  if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
      s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
      memcmp(s + 26, "GMT", 3) != 0)
    return EG_EINVAL;
  for (size_t i = 0; i < 7; i++)
    wday_ok = wday_ok || memcmp(s, wdays[i], 3) == 0;
  for (unsigned i = 0; i < 12; i++) {
    if (memcmp(s + 8, months[i], 3) == 0)
      mon = i + 1;
  }
  if (!wday_ok || mon == 0)
    return EG_EINVAL;
  if (two_digits(s + 5, &day) != EG_OK || two_digits(s + 12, &yhi) != EG_OK ||
      two_digits(s + 14, &ylo) != EG_OK || two_digits(s + 17, &hh) != EG_OK ||
      two_digits(s + 20, &mm) != EG_OK || two_digits(s + 23, &ss) != EG_OK)
    return EG_EINVAL;
  year = yhi * 100 + ylo;
  dim = mdays[mon - 1];
  if (mon == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
    dim = 29;
  if (year < 1970 || day < 1 || (unsigned)day > dim || hh > 23 || mm > 59 ||
      ss > 60)
    return EG_EINVAL;
  *epoch = days_from_civil(year, mon, (unsigned)day) * 86400 + hh * 3600 +
           mm * 60 + ss;
  return EG_OK;
}

/* ---- Link ---- */

/* Checks that uri (n bytes) is base_url + "/" + a valid path, and copies
 * the path into out. Scheme and host compare case-insensitively, the rest
 * exactly. */
static int link_target(
    const char *uri, size_t n, const char *base, char *out, size_t cap) {
  size_t blen = strlen(base);
  const char *sep = strstr(base, "://");
  size_t auth_end = blen;
  size_t plen;

  if (sep != NULL) {
    const char *slash = strchr(sep + 3, '/');
    if (slash != NULL)
      auth_end = (size_t)(slash - base);
  } else {
    auth_end = 0;
  }
  if (n <= blen || uri[blen] != '/')
    return EG_EPERM;
  if (strncasecmp(uri, base, auth_end) != 0 ||
      memcmp(uri + auth_end, base + auth_end, blen - auth_end) != 0)
    return EG_EPERM;
  plen = n - blen;
  if (plen >= cap)
    return EG_EPERM;
  memcpy(out, uri + blen, plen);
  out[plen] = '\0';
  if (!eg_gh_path_is_valid(out)) {
    out[0] = '\0';
    return EG_EPERM;
  }
  return EG_OK;
}

/* True when a rel value (space-separated relation types) holds "next". */
static bool rel_has_next(const char *v, size_t n) {
  size_t i = 0;

  while (i < n) {
    size_t start;

    while (i < n && (v[i] == ' ' || v[i] == '\t'))
      i++;
    start = i;
    while (i < n && v[i] != ' ' && v[i] != '\t')
      i++;
    if (word_eq(v + start, i - start, "next"))
      return true;
  }
  return false;
}

int eg_gh_link_next(const char *value,
                    size_t n,
                    const char *base_url,
                    char *path,
                    size_t path_len) {
  const char *p = value;
  const char *end = value + n;

  if (value == NULL || base_url == NULL || path == NULL || path_len == 0)
    return EG_EINVAL;
  path[0] = '\0';
  /* link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ), the
   * values separated by commas (RFC 8288 section 3). Parsing stops at the
   * first malformed byte: what came before still counts. */
  while (p < end) {
    const char *uri;
    size_t ulen;
    bool next = false;

    while (p < end && (is_ows(*p) || *p == ','))
      p++;
    if (p == end || *p != '<')
      break;
    uri = ++p;
    while (p < end && *p != '>')
      p++;
    if (p == end)
      break;
    ulen = (size_t)(p - uri);
    p++;
    for (;;) {
      const char *name;
      size_t nlen;
      char val[REL_MAX];
      size_t vlen = 0;
      bool fits = true;

      while (p < end && is_ows(*p))
        p++;
      if (p == end || *p != ';')
        break;
      p++;
      while (p < end && is_ows(*p))
        p++;
      name = p;
      while (p < end && is_tchar(*p))
        p++;
      nlen = (size_t)(p - name);
      if (nlen == 0)
        return next ? link_target(uri, ulen, base_url, path, path_len)
                    : EG_ENOENT;
      while (p < end && is_ows(*p))
        p++;
      if (p < end && *p == '=') {
        p++;
        while (p < end && is_ows(*p))
          p++;
        if (p < end && *p == '"') {
          p++;
          while (p < end && *p != '"') {
            if (*p == '\\' && p + 1 < end)
              p++;
            if (vlen < sizeof(val))
              val[vlen++] = *p;
            else
              fits = false;
            p++;
          }
          if (p == end)
            break; /* unterminated quoted-string */
          p++;
        } else {
          const char *v = p;
          while (p < end && is_tchar(*p))
            p++;
          vlen = (size_t)(p - v);
          if (vlen > sizeof(val))
            fits = false;
          else
            memcpy(val, v, vlen);
        }
      }
      if (fits && word_eq(name, nlen, "rel") && rel_has_next(val, vlen))
        next = true;
    }
    if (next)
      return link_target(uri, ulen, base_url, path, path_len);
    while (p < end && is_ows(*p))
      p++;
    if (p < end && *p != ',')
      break;
  }
  return EG_ENOENT;
}

/* ---- header lines ---- */

/* Copies a short token made of [A-Za-z0-9] and extra, or leaves out
 * empty when the value has anything else or does not fit. */
static void
copy_token(char *out, size_t cap, const char *v, size_t n, const char *extra) {
  out[0] = '\0';
  if (n == 0 || n >= cap)
    return;
  for (size_t i = 0; i < n; i++) {
    char c = v[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || strchr(extra, c) != NULL) ||
        c == '\0')
      return;
  }
  memcpy(out, v, n);
  out[n] = '\0';
}

void eg_gh_headers_feed(eg_gh_headers_t *h,
                        const char *line,
                        size_t len,
                        const char *base_url) {
  const char *colon;
  const char *v;
  size_t nlen, vlen;
  uint64_t num;

  if (h == NULL || line == NULL)
    return;
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    eg_gh_headers_init(h);
    return;
  }
  colon = memchr(line, ':', len);
  if (colon == NULL || colon == line)
    return;
  nlen = (size_t)(colon - line);
  for (size_t i = 0; i < nlen; i++) {
    if (!is_tchar(line[i]))
      return;
  }
  v = colon + 1;
  vlen = len - nlen - 1;
  while (vlen > 0 && is_ows(*v)) {
    v++;
    vlen--;
  }
  while (vlen > 0 && is_ows(v[vlen - 1]))
    vlen--;
  if (vlen == 0 || vlen > EG_GH_HEADER_VALUE_MAX)
    return;

  if (word_eq(line, nlen, "link")) {
    char path[EG_GH_PATH_MAX];
    int rc;

    if (base_url == NULL || h->has_next)
      return;
    rc = eg_gh_link_next(v, vlen, base_url, path, sizeof(path));
    if (rc == EG_OK) {
      memcpy(h->next, path, strlen(path) + 1);
      h->has_next = true;
      h->next_ignored = false;
    } else if (rc == EG_EPERM) {
      h->next_ignored = true;
    }
  } else if (word_eq(line, nlen, "retry-after")) {
    int64_t at;

    if (eg_parse_u64n(v, vlen, 0, RETRY_AFTER_MAX, &num) == EG_OK) {
      h->has_retry_after = true;
      h->retry_after_is_date = false;
      h->retry_after_s = (int64_t)num;
      h->retry_after_at = 0;
    } else if (eg_gh_http_date(v, vlen, &at) == EG_OK) {
      h->has_retry_after = true;
      h->retry_after_is_date = true;
      h->retry_after_at = at;
      h->retry_after_s = 0;
    }
  } else if (word_eq(line, nlen, "date")) {
    int64_t at;

    if (eg_gh_http_date(v, vlen, &at) == EG_OK) {
      h->has_date = true;
      h->date = at;
    }
  } else if (word_eq(line, nlen, "x-ratelimit-limit")) {
    if (eg_parse_u64n(v, vlen, 0, COUNTER_MAX, &num) == EG_OK) {
      h->has_limit = true;
      h->limit = num;
    }
  } else if (word_eq(line, nlen, "x-ratelimit-remaining")) {
    if (eg_parse_u64n(v, vlen, 0, COUNTER_MAX, &num) == EG_OK) {
      h->has_remaining = true;
      h->remaining = num;
    }
  } else if (word_eq(line, nlen, "x-ratelimit-used")) {
    if (eg_parse_u64n(v, vlen, 0, COUNTER_MAX, &num) == EG_OK) {
      h->has_used = true;
      h->used = num;
    }
  } else if (word_eq(line, nlen, "x-ratelimit-reset")) {
    if (eg_parse_u64n(v, vlen, 0, EPOCH_MAX, &num) == EG_OK) {
      h->has_reset = true;
      h->reset = num;
    }
  } else if (word_eq(line, nlen, "x-ratelimit-resource")) {
    copy_token(h->resource, sizeof(h->resource), v, vlen, "_-");
  } else if (word_eq(line, nlen, "x-github-request-id")) {
    copy_token(h->request_id, sizeof(h->request_id), v, vlen, ":._-");
  }
}

void eg_gh_headers_finish(eg_gh_headers_t *h, int64_t now_s) {
  int64_t from;

  if (h == NULL || !h->has_retry_after || !h->retry_after_is_date)
    return;
  /* Measure against the server's own clock when it sent one: our clock may
   * be skewed, the server's two values are not. */
  from = h->has_date ? h->date : now_s;
  h->retry_after_s = h->retry_after_at > from ? h->retry_after_at - from : 0;
}

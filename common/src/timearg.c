/* Command-line durations and points in time. */
#include "eg/timearg.h"
#include "eg/error.h"
#include "eg/timeutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MS_PER_DAY 86400000LL

int eg_timearg_parse_duration(const char *s, int64_t *ms) {
  const char *p = s;
  int64_t total = 0;

  if (ms == NULL)
    return EG_EINVAL;
  *ms = 0;
  if (s == NULL || *s == '\0')
    return EG_EINVAL;
  while (*p != '\0') {
    int64_t n = 0, unit;

    if (*p < '0' || *p > '9')
      return EG_EINVAL;
    while (*p >= '0' && *p <= '9') {
      if (n > EG_TIMEARG_MAX_MS / 10)
        return EG_ERANGE;
      n = n * 10 + (*p - '0');
      p++;
    }
    if (p[0] == 'm' && p[1] == 's') {
      unit = 1;
      p += 2;
    } else if (*p == 's') {
      unit = 1000;
      p++;
    } else if (*p == 'm') {
      unit = 60000;
      p++;
    } else if (*p == 'h') {
      unit = 3600000;
      p++;
    } else if (*p == 'd') {
      unit = MS_PER_DAY;
      p++;
    } else {
      return EG_EINVAL;
    }
    if (n > (EG_TIMEARG_MAX_MS - total) / unit)
      return EG_ERANGE;
    total += n * unit;
  }
  *ms = total;
  return EG_OK;
}

int eg_timearg_format_duration(int64_t ms, char *out, size_t out_len) {
  static const struct {
    const char *unit;
    int64_t ms;
  } units[] = {
      {"d", MS_PER_DAY}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
  size_t used = 0;

  if (out == NULL || out_len == 0)
    return EG_EINVAL;
  out[0] = '\0';
  if (ms < 0)
    return EG_EINVAL;
  if (ms == 0)
    return snprintf(out, out_len, "0s") < (int)out_len ? EG_OK : EG_ERANGE;
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    int64_t n = ms / units[i].ms;
    int w;

    if (n == 0)
      continue;
    ms -= n * units[i].ms;
    w = snprintf(out + used, out_len - used, "%lld%s", (long long)n,
                 units[i].unit);
    if (w < 0 || (size_t)w >= out_len - used) {
      out[0] = '\0';
      return EG_ERANGE;
    }
    used += (size_t)w;
  }
  return EG_OK;
}

static bool is_leap(unsigned y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* True for exactly "YYYY-MM-DD" naming a real day of 1970..9999. */
static bool is_date(const char *s) {
  static const unsigned dim[] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
  unsigned y = 0, m = 0, d = 0;

  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
    return false;
  for (int i = 0; i < 10; i++) {
    if (i == 4 || i == 7)
      continue;
    if (s[i] < '0' || s[i] > '9')
      return false;
  }
  for (int i = 0; i < 4; i++)
    y = y * 10 + (unsigned)(s[i] - '0');
  m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
  d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
  if (y < 1970 || m < 1 || m > 12 || d < 1)
    return false;
  return d <= (m == 2 && is_leap(y) ? 29 : dim[m - 1]);
}

int eg_timearg_parse_time(const char *s, int64_t now_ms, int64_t *ms) {
  int64_t v;

  if (ms == NULL)
    return EG_EINVAL;
  *ms = 0;
  if (s == NULL)
    return EG_EINVAL;
  if (is_date(s)) {
    char full[32];

    snprintf(full, sizeof(full), "%sT00:00:00Z", s);
    if (eg_time_parse_rfc3339(full, &v) != EG_OK)
      return EG_EINVAL;
    *ms = v;
    return EG_OK;
  }
  if (strchr(s, 'T') != NULL) {
    if (eg_time_parse_rfc3339(s, &v) != EG_OK || v < 0 || v > EG_TIMEARG_MAX_MS)
      return EG_EINVAL;
    *ms = v;
    return EG_OK;
  }
  if (eg_timearg_parse_duration(s, &v) != EG_OK)
    return EG_EINVAL;
  *ms = now_ms > v ? now_ms - v : 0;
  return EG_OK;
}

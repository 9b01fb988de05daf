/* RFC 3339 timestamps and command-line durations, without timegm() or the
 * TZ database: calendar arithmetic on the proleptic Gregorian calendar. */
#include "eg/timestamp.h"
#include "eg/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY 86400000LL

/* Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  int64_t era;
  unsigned yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned)(y - era * 400);
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse: civil date of a day count (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  int64_t era;
  unsigned doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = (unsigned)(z - era * 146097);
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned dim[] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int eg_timestamp_format(int64_t ms, char *out, size_t out_len) {
  int64_t days, y;
  unsigned m, d, sod;
  int n;

  if (out == NULL)
    return EG_EINVAL;
  if (out_len > 0)
    out[0] = '\0';
  if (ms < 0 || ms > EG_TIMESTAMP_MAX_MS)
    return EG_EINVAL;
  if (out_len < EG_TIMESTAMP_SIZE)
    return EG_ERANGE;
  days = ms / MS_PER_DAY;
  sod = (unsigned)(ms % MS_PER_DAY / 1000);
  civil_from_days(days, &y, &m, &d);
  n = snprintf(out, out_len, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", (int)y, m,
               d, sod / 3600, sod / 60 % 60, sod % 60, (unsigned)(ms % 1000));
  return n == EG_TIMESTAMP_SIZE - 1 ? EG_OK : EG_EINVAL;
}

/* Reads exactly n decimal digits at *p into *out and advances *p. */
static bool digits(const char **p, int n, unsigned *out) {
  unsigned v = 0;

  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (unsigned)(c - '0');
  }
  *p += n;
  *out = v;
  return true;
}

/* Parses "YYYY-MM-DD" at *p into days since the epoch. */
static bool parse_date(const char **p, int64_t *days) {
  unsigned y, m, d;

  if (!digits(p, 4, &y) || *(*p)++ != '-' || !digits(p, 2, &m) ||
      *(*p)++ != '-' || !digits(p, 2, &d))
    return false;
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
    return false;
  *days = days_from_civil(y, m, d);
  return true;
}

int eg_timestamp_parse(const char *s, int64_t *ms) {
  const char *p = s;
  unsigned hh, mi, ss, frac = 0, oh, om;
  int64_t days, v;
  int scale = 100;

  if (ms == NULL)
    return EG_EINVAL;
  *ms = 0;
  if (s == NULL || !parse_date(&p, &days))
    return EG_EINVAL;
  if (*p != 'T' && *p != 't' && *p != ' ')
    return EG_EINVAL;
  p++;
  if (!digits(&p, 2, &hh) || *p++ != ':' || !digits(&p, 2, &mi) ||
      *p++ != ':' || !digits(&p, 2, &ss))
    return EG_EINVAL;
  if (hh > 23 || mi > 59 || ss > 59)
    return EG_EINVAL;
  if (*p == '.') {
    int n = 0;

    p++;
    while (*p >= '0' && *p <= '9') {
      if (++n > 9)
        return EG_EINVAL;
      frac += (unsigned)(*p - '0') * (unsigned)scale;
      scale /= 10;
      p++;
    }
    if (n == 0)
      return EG_EINVAL;
  }
  v = days * MS_PER_DAY + (int64_t)(hh * 3600 + mi * 60 + ss) * 1000 + frac;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '+' ? 1 : -1;

    p++;
    if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 ||
        om > 59)
      return EG_EINVAL;
    /* Local time = UTC + offset, so UTC = local - offset. */
    v -= sign * (int64_t)(oh * 60 + om) * 60000;
  } else {
    return EG_EINVAL;
  }
  if (*p != '\0' || v < 0 || v > EG_TIMESTAMP_MAX_MS)
    return EG_EINVAL;
  *ms = v;
  return EG_OK;
}

int eg_timestamp_parse_duration(const char *s, int64_t *ms) {
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
      if (n > EG_TIMESTAMP_MAX_MS / 10)
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
    if (n > (EG_TIMESTAMP_MAX_MS - total) / unit)
      return EG_ERANGE;
    total += n * unit;
  }
  *ms = total;
  return EG_OK;
}

int eg_timestamp_format_duration(int64_t ms, char *out, size_t out_len) {
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

int eg_timestamp_parse_arg(const char *s, int64_t now_ms, int64_t *ms) {
  const char *p = s;
  int64_t days, d;

  if (ms == NULL)
    return EG_EINVAL;
  *ms = 0;
  if (s == NULL)
    return EG_EINVAL;
  if (eg_timestamp_parse(s, ms) == EG_OK)
    return EG_OK;
  if (parse_date(&p, &days) && *p == '\0') {
    *ms = days * MS_PER_DAY;
    return *ms <= EG_TIMESTAMP_MAX_MS ? EG_OK : EG_EINVAL;
  }
  if (eg_timestamp_parse_duration(s, &d) != EG_OK)
    return EG_EINVAL;
  *ms = now_ms > d ? now_ms - d : 0;
  return EG_OK;
}

int64_t eg_timestamp_now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

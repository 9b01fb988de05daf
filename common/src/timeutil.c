/* Clocks and RFC 3339 timestamps. */
#include "eg/timeutil.h"
#include "eg/error.h"
#include "eg/parse.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t eg_time_epoch_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t eg_time_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int eg_time_rfc3339(int64_t epoch_ms, char *out, size_t out_len) {
  time_t secs;
  struct tm tm;
  unsigned year, mon, day, hour, min, sec, ms;

  if (out == NULL || out_len < EG_RFC3339_SIZE)
    return EG_EINVAL;
  secs = (time_t)(epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000);
  if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 < 0 ||
      tm.tm_year + 1900 > 9999)
    return EG_EINVAL;
  /* Unsigned and range-checked so the compiler can see the width. */
  year = (unsigned)(tm.tm_year + 1900) % 10000u;
  mon = (unsigned)(tm.tm_mon + 1) % 100u;
  day = (unsigned)tm.tm_mday % 100u;
  hour = (unsigned)tm.tm_hour % 100u;
  min = (unsigned)tm.tm_min % 100u;
  sec = (unsigned)tm.tm_sec % 100u;
  ms = (unsigned)(((epoch_ms % 1000) + 1000) % 1000);
  snprintf(out, out_len, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", year, mon, day,
           hour, min, sec, ms);
  return EG_OK;
}

int eg_time_parse_rfc3339(const char *s, int64_t *epoch_ms) {
  struct tm tm;
  const char *end;
  uint64_t ms = 0;

  if (s == NULL || epoch_ms == NULL)
    return EG_EINVAL;
  memset(&tm, 0, sizeof(tm));
  end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == NULL)
    return EG_EINVAL;
  if (*end == '.') {
    const char *digits = end + 1;
    size_t n = strspn(digits, "0123456789");
    if (n == 0 || n > 9 ||
        eg_parse_u64n(digits, n > 3 ? 3 : n, 0, 999, &ms) != EG_OK)
      return EG_EINVAL;
    for (size_t i = n; i < 3; i++)
      ms *= 10;
    end = digits + n;
  }
  if (strcmp(end, "Z") != 0)
    return EG_EINVAL;
  *epoch_ms = (int64_t)timegm(&tm) * 1000 + (int64_t)ms;
  return EG_OK;
}

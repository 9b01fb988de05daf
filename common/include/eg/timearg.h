/* Durations and points in time as operators type them on command lines
 * ("15m", "1h30m", "2024-05-01", "24h" ago). Timestamps themselves (RFC 3339
 * with milliseconds, clocks) are eg/timeutil.h's. */
#ifndef EG_TIMEARG_H
#define EG_TIMEARG_H

#include <stddef.h>
#include <stdint.h>

/* Longest duration, and latest instant, accepted: 9999-12-31T23:59:59.999Z
 * in milliseconds since the epoch. */
#define EG_TIMEARG_MAX_MS 253402300799999LL

/* Parses a duration: one or more "<digits><unit>" groups, units "ms", "s",
 * "m", "h", "d" ("90s", "15m", "1h30m"); at most EG_TIMEARG_MAX_MS in total.
 * A bare number has no unit and is refused.
 * @returns EG_OK with *ms set, EG_EINVAL or EG_ERANGE (*ms is then 0). */
int eg_timearg_parse_duration(const char *s, int64_t *ms);

/* Writes a duration as eg_timearg_parse_duration() reads it, largest units
 * first and zero parts left out ("15m", "1h30m", "2d", "250ms"; 0 is "0s")
 * into out (32 bytes always suffice).
 * @returns EG_OK, EG_EINVAL (NULL out, ms < 0) or EG_ERANGE (out too small;
 * out is then ""). */
int eg_timearg_format_duration(int64_t ms, char *out, size_t out_len);

/* Parses a point in time: an RFC 3339 UTC timestamp as eg_time_parse_rfc3339()
 * reads it ("2024-05-01T10:00:00Z", ".123" allowed), a date "YYYY-MM-DD"
 * (midnight UTC, 1970..9999, checked against the calendar), or a duration
 * (see eg_timearg_parse_duration()) meaning that long before now_ms
 * (clamped at the epoch).
 * @returns EG_OK with *ms set, or EG_EINVAL (*ms is then 0). */
int eg_timearg_parse_time(const char *s, int64_t now_ms, int64_t *ms);

#endif /* EG_TIMEARG_H */

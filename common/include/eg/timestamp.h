/* Timestamps as the topics carry them: RFC 3339 text with milliseconds in
 * UTC (received-at, decided_at) and epoch milliseconds (envgate-not-before,
 * Kafka timestamps); plus the durations and points in time that operators
 * type on command lines ("15m", "2024-05-01", "2h" ago). */
#ifndef EG_TIMESTAMP_H
#define EG_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

/* Buffer size of eg_timestamp_format()'s output, NUL included:
 * "2024-05-01T12:34:56.789Z". */
#define EG_TIMESTAMP_SIZE 25

/* Latest instant accepted anywhere: 9999-12-31T23:59:59.999Z. */
#define EG_TIMESTAMP_MAX_MS 253402300799999LL

/* Writes ms (milliseconds since the epoch, 0..EG_TIMESTAMP_MAX_MS) as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (out_len >= EG_TIMESTAMP_SIZE).
 * @returns EG_OK, EG_EINVAL (NULL out or ms out of range; out is then "" when
 * out_len > 0) or EG_ERANGE (out too small). */
int eg_timestamp_format(int64_t ms, char *out, size_t out_len);

/* Parses an RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS", 'T' also 't' or a
 * space, an optional fraction of 1..9 digits (truncated to milliseconds),
 * then 'Z', 'z' or a "+HH:MM"/"-HH:MM" offset. Years 1970..9999; a leap
 * second (:60) is refused. The whole string must match.
 * @returns EG_OK with *ms set, or EG_EINVAL (*ms is then 0). */
int eg_timestamp_parse(const char *s, int64_t *ms);

/* Parses a duration: one or more "<digits><unit>" groups, units "ms", "s",
 * "m", "h", "d" ("90s", "15m", "1h30m"); at most EG_TIMESTAMP_MAX_MS in
 * total. A bare number has no unit and is refused.
 * @returns EG_OK with *ms set, EG_EINVAL or EG_ERANGE (*ms is then 0). */
int eg_timestamp_parse_duration(const char *s, int64_t *ms);

/* Writes a duration as eg_timestamp_parse_duration() reads it, largest
 * units first and zero parts left out ("15m", "1h30m", "2d", "250ms"; 0 is
 * "0s") into out (32 bytes always suffice).
 * @returns EG_OK, EG_EINVAL (NULL out, ms < 0) or EG_ERANGE (out too small;
 * out is then ""). */
int eg_timestamp_format_duration(int64_t ms, char *out, size_t out_len);

/* Parses a point in time given on a command line: an RFC 3339 date-time
 * (see eg_timestamp_parse), a date "YYYY-MM-DD" (midnight UTC), or a
 * duration (see eg_timestamp_parse_duration) meaning that long before
 * now_ms (clamped at the epoch).
 * @returns EG_OK with *ms set, or EG_EINVAL (*ms is then 0). */
int eg_timestamp_parse_arg(const char *s, int64_t now_ms, int64_t *ms);

/* The current time (CLOCK_REALTIME) in milliseconds since the epoch. */
int64_t eg_timestamp_now_ms(void);

#endif /* EG_TIMESTAMP_H */

/* Clocks and the one timestamp format envgate writes: RFC 3339 in UTC with
 * milliseconds, e.g. "2026-11-25T18:30:59.123Z". */
#ifndef EG_TIMEUTIL_H
#define EG_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Bytes for a timestamp and its NUL ("YYYY-MM-DDTHH:MM:SS.mmmZ" = 24). */
#define EG_RFC3339_SIZE 32

/* Wall clock, milliseconds since the epoch. */
int64_t eg_time_epoch_ms(void);

/* CLOCK_MONOTONIC in milliseconds, for durations and deadlines. */
uint64_t eg_time_mono_ms(void);

/* Writes epoch_ms as RFC 3339 UTC with milliseconds into out (at least
 * EG_RFC3339_SIZE bytes). @returns EG_OK, or EG_EINVAL (NULL, too small,
 * or a year outside 0..9999). */
int eg_time_rfc3339(int64_t epoch_ms, char *out, size_t out_len);

/* Parses what eg_time_rfc3339 writes (also without milliseconds, and GitHub's
 * "2016-07-11T22:14:10Z"). @returns EG_OK or EG_EINVAL. */
int eg_time_parse_rfc3339(const char *s, int64_t *epoch_ms);

#endif /* EG_TIMEUTIL_H */

/* Renders an audit (eg/audit.h) for people and programs: an aligned table
 * with a summary (counts by fate and by repository, review latency
 * percentiles, anomalies), JSON lines in the contract's shape ("envgate-audit
 * output"), or CSV. */
#ifndef EG_AUDIT_REPORT_H
#define EG_AUDIT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "eg/audit.h"

typedef enum eg_audit_format {
  EG_AUDIT_FORMAT_TABLE = 0,
  EG_AUDIT_FORMAT_JSON = 1,
  EG_AUDIT_FORMAT_CSV = 2
} eg_audit_format_t;

/* Parses "table", "json" or "csv". @returns EG_OK or EG_EINVAL. */
int eg_audit_format_parse(const char *name, eg_audit_format_t *out);

/* Counts over the results that pass a filter. */
typedef struct eg_audit_summary_s {
  size_t requests;
  size_t fates[EG_AUDIT_NFATES];
  size_t anomalies;
  /* Review latency, received-at to decided_at, of the requests decided by
   * their own decision (duplicates left out); valid when reviews > 0. */
  size_t reviews;
  int64_t p50_ms, p90_ms, p99_ms, max_ms;
} eg_audit_summary_t;

/* Fills sum for the results and anomalies of a that pass f (NULL: all).
 * @returns EG_OK, EG_EINVAL or EG_ENOMEM. */
int eg_audit_summarize(const eg_audit_t *a,
                       const eg_audit_filter_t *f,
                       eg_audit_summary_t *sum);

/* Writes the report of a's results that pass f to out:
 * - table: a header, one aligned row per request (control characters shown
 *   as '?'), then the summary: counts by fate, a table by repository, the
 *   latency percentiles, and every anomaly; skipped (eg_audit_skipped()) is
 *   mentioned when not zero.
 * - json: one object per request, then {"summary": {...}} (contract).
 * - csv: a header line, then one line per request (RFC 4180 quoting, "\n"
 *   line ends, empty for null); no summary.
 * Text that is not valid UTF-8 is written with U+FFFD for the bad bytes.
 * @returns EG_OK, EG_EINVAL, EG_ENOMEM or EG_EIO (a write failed). */
int eg_audit_report_write(FILE *out,
                          const eg_audit_t *a,
                          const eg_audit_filter_t *f,
                          eg_audit_format_t format);

/* Writes the anomalies of a that pass f as plain lines
 * "<kind> <key>: <detail>" (for stderr when the report itself has no room
 * for them, as with csv). @returns EG_OK, EG_EINVAL or EG_EIO. */
int eg_audit_report_anomalies(FILE *out,
                              const eg_audit_t *a,
                              const eg_audit_filter_t *f);

#endif /* EG_AUDIT_REPORT_H */

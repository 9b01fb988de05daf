/* Audit rendering: table, JSON lines and CSV. Text from the topics is
 * untrusted: every string goes through eg/text.h for its format. */
#include "eg/audit_report.h"
#include "eg/error.h"
#include "eg/text.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NCOLS 10

static const char *const col_names[NCOLS] = {
    "DELIVERY", "REPOSITORY", "RUN",     "ENVIRONMENT", "FATE",
    "ATTEMPTS", "RECEIVED",   "DECIDED", "SIG",         "REASON"};

int eg_audit_format_parse(const char *name, eg_audit_format_t *out) {
  if (name == NULL || out == NULL)
    return EG_EINVAL;
  if (strcmp(name, "table") == 0)
    *out = EG_AUDIT_FORMAT_TABLE;
  else if (strcmp(name, "json") == 0)
    *out = EG_AUDIT_FORMAT_JSON;
  else if (strcmp(name, "csv") == 0)
    *out = EG_AUDIT_FORMAT_CSV;
  else
    return EG_EINVAL;
  return EG_OK;
}

/* ---- JSON ---- */

static void json_opt(FILE *out, const char *s) {
  if (s == NULL)
    fputs("null", out);
  else
    eg_text_json(out, s);
}

static void json_result(FILE *out, const eg_audit_result_t *r) {
  fputs("{\"key\":", out);
  eg_text_json(out, r->key);
  fputs(",\"delivery\":", out);
  eg_text_json(out, r->delivery);
  fputs(",\"repository\":", out);
  eg_text_json(out, r->repository);
  fprintf(out, ",\"run_id\":%" PRIu64 ",\"environment\":", r->run_id);
  eg_text_json(out, r->environment);
  fputs(",\"fate\":", out);
  eg_text_json(out, eg_audit_fate_name(r->fate));
  fputs(",\"comment\":", out);
  json_opt(out, r->comment);
  fputs(",\"reason\":", out);
  json_opt(out, r->reason);
  fprintf(out, ",\"attempts\":%" PRIu64 ",\"received_at\":", r->attempts);
  json_opt(out, r->received_at);
  fputs(",\"decided_at\":", out);
  json_opt(out, r->decided_at);
  fprintf(out, ",\"signature\":\"%s\"}\n", r->signature_ok ? "ok" : "bad");
}

static void json_summary(FILE *out,
                         const eg_audit_t *a,
                         const eg_audit_filter_t *f,
                         const eg_audit_summary_t *sum) {
  bool first = true;

  fprintf(out,
          "{\"summary\":{\"requests\":%zu,\"approved\":%zu,\"rejected\":%zu,"
          "\"retrying\":%zu,\"dead_lettered\":%zu,\"pending\":%zu,"
          "\"anomalies\":[",
          sum->requests, sum->fates[EG_AUDIT_APPROVED],
          sum->fates[EG_AUDIT_REJECTED], sum->fates[EG_AUDIT_RETRYING],
          sum->fates[EG_AUDIT_DEAD_LETTERED], sum->fates[EG_AUDIT_PENDING]);
  for (size_t i = 0; i < eg_audit_anomaly_count(a); i++) {
    const eg_audit_anomaly_t *an = eg_audit_anomaly(a, i);

    if (!eg_audit_anomaly_matches(a, an, f))
      continue;
    fputs(first ? "{\"kind\":" : ",{\"kind\":", out);
    first = false;
    eg_text_json(out, eg_audit_kind_name(an->kind));
    fputs(",\"key\":", out);
    eg_text_json(out, an->key);
    fputs(",\"detail\":", out);
    eg_text_json(out, an->detail);
    fputc('}', out);
  }
  fputs("]}}\n", out);
}

/* ---- CSV ---- */

static void csv_result(FILE *out, const eg_audit_result_t *r) {
  eg_text_csv(out, r->key);
  fputc(',', out);
  eg_text_csv(out, r->delivery);
  fputc(',', out);
  eg_text_csv(out, r->repository);
  fprintf(out, ",%" PRIu64 ",", r->run_id);
  eg_text_csv(out, r->environment);
  fputc(',', out);
  eg_text_csv(out, eg_audit_fate_name(r->fate));
  fputc(',', out);
  eg_text_csv(out, r->comment);
  fputc(',', out);
  eg_text_csv(out, r->reason);
  fprintf(out, ",%" PRIu64 ",", r->attempts);
  eg_text_csv(out, r->received_at);
  fputc(',', out);
  eg_text_csv(out, r->decided_at);
  fprintf(out, ",%s\n", r->signature_ok ? "ok" : "bad");
}

/* ---- table ---- */

/* The text of column col for r; numbers are formatted into buf. */
static const char *
cell_text(const eg_audit_result_t *r, int col, char *buf, size_t len) {
  const char *s = NULL;

  switch (col) {
  case 0:
    s = r->delivery;
    break;
  case 1:
    s = r->repository;
    break;
  case 2:
    if (r->run_id != 0) {
      snprintf(buf, len, "%" PRIu64, r->run_id);
      s = buf;
    }
    break;
  case 3:
    s = r->environment;
    break;
  case 4:
    s = eg_audit_fate_name(r->fate);
    break;
  case 5:
    snprintf(buf, len, "%" PRIu64, r->attempts);
    s = buf;
    break;
  case 6:
    s = r->received_at;
    break;
  case 7:
    s = r->decided_at;
    break;
  case 8:
    s = r->signature_ok ? "ok" : "BAD";
    break;
  default:
    s = r->reason != NULL ? r->reason : r->comment;
    break;
  }
  return s != NULL && s[0] != '\0' ? s : "-";
}

/* Latency for people: "850ms", "1.2s", "3m4s". */
static void fmt_latency(int64_t ms, char *buf, size_t len) {
  if (ms < 1000)
    snprintf(buf, len, "%" PRId64 "ms", ms);
  else if (ms < 60000)
    snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
  else if (eg_timearg_format_duration((ms + 500) / 1000 * 1000, buf, len) !=
           EG_OK)
    snprintf(buf, len, "%" PRId64 "ms", ms);
}

struct repo_row {
  const char *name;
  size_t total;
  size_t fates[EG_AUDIT_NFATES];
};

static int cmp_str_ptr(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Finds the row of name in rows sorted by name (it is there). */
static struct repo_row *
find_row(struct repo_row *rows, size_t nrows, const char *name) {
  size_t lo = 0, hi = nrows;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (strcmp(rows[mid].name, name) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return &rows[lo];
}

/* Counts the matching results by repository; rows come sorted by name. */
static int repo_rows(const eg_audit_t *a,
                     const eg_audit_filter_t *f,
                     struct repo_row **rows_out,
                     size_t *nrows_out) {
  size_t n = eg_audit_count(a), m = 0, nrows = 0;
  struct repo_row *rows;
  const char **names;

  *rows_out = NULL;
  *nrows_out = 0;
  names = malloc((n > 0 ? n : 1) * sizeof(*names));
  rows = calloc(n > 0 ? n : 1, sizeof(*rows));
  if (names == NULL || rows == NULL) {
    free(names);
    free(rows);
    return EG_ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    if (eg_audit_matches(eg_audit_result(a, i), f))
      names[m++] = eg_audit_result(a, i)->repository;
  qsort(names, m, sizeof(*names), cmp_str_ptr);
  for (size_t i = 0; i < m; i++)
    if (nrows == 0 || strcmp(rows[nrows - 1].name, names[i]) != 0)
      rows[nrows++].name = names[i];
  free(names);
  for (size_t i = 0; i < n; i++) {
    const eg_audit_result_t *r = eg_audit_result(a, i);
    struct repo_row *row;

    if (!eg_audit_matches(r, f))
      continue;
    row = find_row(rows, nrows, r->repository);
    row->total++;
    row->fates[r->fate]++;
  }
  *rows_out = rows;
  *nrows_out = nrows;
  return EG_OK;
}

static int table_summary(FILE *out,
                         const eg_audit_t *a,
                         const eg_audit_filter_t *f,
                         const eg_audit_summary_t *sum) {
  static const char *const heads[] = {"REPOSITORY", "REQUESTS", "APPROVED",
                                      "REJECTED",   "RETRYING", "DEAD-LETTERED",
                                      "PENDING"};
  size_t widths[7], nrows;
  struct repo_row *rows;
  int rc;

  fprintf(out,
          "\nrequests: %zu  approved: %zu  rejected: %zu  retrying: %zu  "
          "dead-lettered: %zu  pending: %zu\n",
          sum->requests, sum->fates[EG_AUDIT_APPROVED],
          sum->fates[EG_AUDIT_REJECTED], sum->fates[EG_AUDIT_RETRYING],
          sum->fates[EG_AUDIT_DEAD_LETTERED], sum->fates[EG_AUDIT_PENDING]);
  if (eg_audit_skipped(a) > 0)
    fprintf(out,
            "not checked: %zu decisions for events older than the start "
            "time\n",
            eg_audit_skipped(a));

  rc = repo_rows(a, f, &rows, &nrows);
  if (rc != EG_OK)
    return rc;
  if (nrows > 0) {
    for (int c = 0; c < 7; c++)
      widths[c] = strlen(heads[c]);
    for (size_t i = 0; i < nrows; i++) {
      size_t w = eg_text_width(rows[i].name[0] != '\0' ? rows[i].name : "-");
      if (w > widths[0])
        widths[0] = w;
    }
    fputs("\nby repository:\n", out);
    for (int c = 0; c < 7; c++) {
      eg_text_cell(out, heads[c], c < 6 ? widths[c] + 2 : 0);
    }
    fputc('\n', out);
    for (size_t i = 0; i < nrows; i++) {
      char num[24];

      eg_text_cell(out, rows[i].name[0] != '\0' ? rows[i].name : "-",
                   widths[0] + 2);
      snprintf(num, sizeof(num), "%zu", rows[i].total);
      eg_text_cell(out, num, widths[1] + 2);
      for (int fate = 0; fate < EG_AUDIT_NFATES; fate++) {
        snprintf(num, sizeof(num), "%zu", rows[i].fates[fate]);
        eg_text_cell(out, num,
                     fate < EG_AUDIT_NFATES - 1 ? widths[2 + fate] + 2 : 0);
      }
      fputc('\n', out);
    }
  }
  free(rows);

  if (sum->reviews > 0) {
    char p50[32], p90[32], p99[32], max[32];

    fmt_latency(sum->p50_ms, p50, sizeof(p50));
    fmt_latency(sum->p90_ms, p90, sizeof(p90));
    fmt_latency(sum->p99_ms, p99, sizeof(p99));
    fmt_latency(sum->max_ms, max, sizeof(max));
    fprintf(out,
            "\nreview latency (received to decided, %zu reviews): p50 %s  "
            "p90 %s  p99 %s  max %s\n",
            sum->reviews, p50, p90, p99, max);
  }
  if (sum->anomalies == 0) {
    fputs("\nanomalies: none\n", out);
    return EG_OK;
  }
  fprintf(out, "\nanomalies: %zu\n", sum->anomalies);
  return eg_audit_report_anomalies(out, a, f);
}

static int write_table(FILE *out,
                       const eg_audit_t *a,
                       const eg_audit_filter_t *f,
                       const eg_audit_summary_t *sum) {
  size_t widths[NCOLS];
  char buf[32];

  for (int c = 0; c < NCOLS; c++)
    widths[c] = strlen(col_names[c]);
  for (size_t i = 0; i < eg_audit_count(a); i++) {
    const eg_audit_result_t *r = eg_audit_result(a, i);

    if (!eg_audit_matches(r, f))
      continue;
    for (int c = 0; c < NCOLS - 1; c++) {
      size_t w = eg_text_width(cell_text(r, c, buf, sizeof(buf)));
      if (w > widths[c])
        widths[c] = w;
    }
  }
  for (int c = 0; c < NCOLS; c++)
    eg_text_cell(out, col_names[c], c < NCOLS - 1 ? widths[c] + 2 : 0);
  fputc('\n', out);
  for (size_t i = 0; i < eg_audit_count(a); i++) {
    const eg_audit_result_t *r = eg_audit_result(a, i);

    if (!eg_audit_matches(r, f))
      continue;
    for (int c = 0; c < NCOLS; c++)
      eg_text_cell(out, cell_text(r, c, buf, sizeof(buf)),
                   c < NCOLS - 1 ? widths[c] + 2 : 0);
    fputc('\n', out);
  }
  return table_summary(out, a, f, sum);
}

/* ---- summary ---- */

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return a < b ? -1 : a > b;
}

/* Nearest-rank percentile of n sorted values. */
static int64_t percentile(const int64_t *v, size_t n, unsigned p) {
  size_t rank = (n * p + 99) / 100;

  return v[rank > 0 ? rank - 1 : 0];
}

int eg_audit_summarize(const eg_audit_t *a,
                       const eg_audit_filter_t *f,
                       eg_audit_summary_t *sum) {
  size_t n = eg_audit_count(a);
  int64_t *lat;

  if (a == NULL || sum == NULL)
    return EG_EINVAL;
  memset(sum, 0, sizeof(*sum));
  lat = malloc((n > 0 ? n : 1) * sizeof(*lat));
  if (lat == NULL)
    return EG_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const eg_audit_result_t *r = eg_audit_result(a, i);

    if (!eg_audit_matches(r, f))
      continue;
    sum->requests++;
    sum->fates[r->fate]++;
    if ((r->fate == EG_AUDIT_APPROVED || r->fate == EG_AUDIT_REJECTED) &&
        r->duplicate_of == NULL && r->received_at_ms >= 0 &&
        r->decided_at_ms >= r->received_at_ms)
      lat[sum->reviews++] = r->decided_at_ms - r->received_at_ms;
  }
  for (size_t i = 0; i < eg_audit_anomaly_count(a); i++)
    if (eg_audit_anomaly_matches(a, eg_audit_anomaly(a, i), f))
      sum->anomalies++;
  if (sum->reviews > 0) {
    qsort(lat, sum->reviews, sizeof(*lat), cmp_i64);
    sum->p50_ms = percentile(lat, sum->reviews, 50);
    sum->p90_ms = percentile(lat, sum->reviews, 90);
    sum->p99_ms = percentile(lat, sum->reviews, 99);
    sum->max_ms = lat[sum->reviews - 1];
  }
  free(lat);
  return EG_OK;
}

int eg_audit_report_anomalies(FILE *out,
                              const eg_audit_t *a,
                              const eg_audit_filter_t *f) {
  if (out == NULL || a == NULL)
    return EG_EINVAL;
  for (size_t i = 0; i < eg_audit_anomaly_count(a); i++) {
    const eg_audit_anomaly_t *an = eg_audit_anomaly(a, i);

    if (!eg_audit_anomaly_matches(a, an, f))
      continue;
    fprintf(out, "  %s ", eg_audit_kind_name(an->kind));
    eg_text_cell(out, an->key[0] != '\0' ? an->key : "-", 0);
    fputs(": ", out);
    eg_text_cell(out, an->detail, 0);
    fputc('\n', out);
  }
  return ferror(out) ? EG_EIO : EG_OK;
}

int eg_audit_report_write(FILE *out,
                          const eg_audit_t *a,
                          const eg_audit_filter_t *f,
                          eg_audit_format_t format) {
  eg_audit_summary_t sum;
  int rc;

  if (out == NULL || a == NULL || (unsigned)format > EG_AUDIT_FORMAT_CSV)
    return EG_EINVAL;
  rc = eg_audit_summarize(a, f, &sum);
  if (rc != EG_OK)
    return rc;
  switch (format) {
  case EG_AUDIT_FORMAT_JSON:
    for (size_t i = 0; i < eg_audit_count(a); i++)
      if (eg_audit_matches(eg_audit_result(a, i), f))
        json_result(out, eg_audit_result(a, i));
    json_summary(out, a, f, &sum);
    break;
  case EG_AUDIT_FORMAT_CSV:
    fputs("key,delivery,repository,run_id,environment,fate,comment,reason,"
          "attempts,received_at,decided_at,signature\n",
          out);
    for (size_t i = 0; i < eg_audit_count(a); i++)
      if (eg_audit_matches(eg_audit_result(a, i), f))
        csv_result(out, eg_audit_result(a, i));
    break;
  default:
    rc = write_table(out, a, f, &sum);
    break;
  }
  if (rc == EG_OK && (fflush(out) != 0 || ferror(out)))
    rc = EG_EIO;
  return rc;
}

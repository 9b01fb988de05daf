/* Prometheus metrics shared by every binary: a registry of counter, gauge and
 * histogram families with optional labels, rendered in the text exposition
 * format 0.0.4. Observing an existing series is lock-free. */
#ifndef EG_METRICS_H
#define EG_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* The Content-Type to serve eg_metrics_render() output with. */
#define EG_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#define EG_METRICS_MAX_LABELS    8    /* label names per family */
#define EG_METRICS_MAX_SERIES    1000 /* label value sets per family */
#define EG_METRICS_MAX_BUCKETS   64   /* histogram bounds, +Inf excluded */
#define EG_METRICS_MAX_VALUE_LEN 256  /* bytes per label value */
#define EG_METRICS_MAX_NAME_LEN  128  /* bytes per metric or label name */
#define EG_METRICS_MAX_HELP_LEN  1024 /* bytes of help text */

/* eg_metrics_new() flags. */
#define EG_METRICS_PROCESS 1u /* also render the process_* families */

typedef struct eg_metrics_s eg_metrics_t; /* registry */
typedef struct eg_metric_s eg_metric_t;   /* family: one name, fixed labels */
typedef struct eg_series_s eg_series_t;   /* one set of label values */

/* Creates an empty registry. With EG_METRICS_PROCESS, render also writes
 * process_start_time_seconds, process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds and process_max_fds (read from getrusage, getrlimit and
 * /proc at render time; a source that cannot be read is left out).
 * @returns EG_OK, EG_EINVAL (unknown flag, out NULL), EG_ENOMEM.
 * Free with eg_metrics_free(). */
int eg_metrics_new(unsigned flags, eg_metrics_t **out);

/* Frees the registry with all its families and series: every eg_metric_t and
 * eg_series_t handle from it becomes invalid. No other thread may use the
 * registry or its handles meanwhile. NULL is a no-op. */
void eg_metrics_free(eg_metrics_t *reg);

/* Adds a family to reg. name must match [a-zA-Z_:][a-zA-Z0-9_:]*; each label
 * name [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", no duplicates (and not
 * "le" for a histogram). help is copied; label_names (nlabels entries, may be
 * NULL when nlabels is 0) are copied. A family without labels has its one
 * series from the start and renders 0 before any observation; a labelled
 * family renders only the series observed so far.
 * Histogram bounds are nbuckets (1..EG_METRICS_MAX_BUCKETS) finite, strictly
 * increasing upper bounds; the +Inf bucket is implicit. A value v falls in
 * the first bucket whose bound satisfies v <= bound.
 * Thread-safe. *out stays valid until eg_metrics_free(reg).
 * @returns EG_OK, EG_EINVAL (a bad name, label or bound; errbuf says which),
 * EG_EEXIST (name already in reg, or one the registry writes itself:
 * process_* above and envgate_metrics_series_dropped_total), EG_ENOMEM. */
int eg_metrics_counter(eg_metrics_t *reg,
                       const char *name,
                       const char *help,
                       const char *const *label_names,
                       size_t nlabels,
                       eg_metric_t **out,
                       char *errbuf,
                       size_t errbuf_len);
int eg_metrics_gauge(eg_metrics_t *reg,
                     const char *name,
                     const char *help,
                     const char *const *label_names,
                     size_t nlabels,
                     eg_metric_t **out,
                     char *errbuf,
                     size_t errbuf_len);
int eg_metrics_histogram(eg_metrics_t *reg,
                         const char *name,
                         const char *help,
                         const char *const *label_names,
                         size_t nlabels,
                         const double *buckets,
                         size_t nbuckets,
                         eg_metric_t **out,
                         char *errbuf,
                         size_t errbuf_len);

/* Finds or creates the series of family m for values: an array of exactly
 * the family's nlabels strings (copied; valid UTF-8, at most
 * EG_METRICS_MAX_VALUE_LEN bytes each, "" allowed), or NULL for a family
 * without labels. Finding an existing series is lock-free; creating one takes
 * the family's lock. Keep the handle to observe without any lookup.
 * When the family already holds EG_METRICS_MAX_SERIES series a new value set
 * is refused and counted in envgate_metrics_series_dropped_total{family=...}.
 * Thread-safe. *out stays valid until eg_metrics_free().
 * @returns EG_OK, EG_EINVAL (NULL argument, invalid UTF-8), EG_ETOOBIG (a
 * value too long), EG_ERANGE (series limit reached), EG_ENOMEM. */
int eg_metric_series(eg_metric_t *m,
                     const char *const *values,
                     eg_series_t **out);

/* Observations on one series: lock-free and safe from any thread.
 * inc/add: counters (add needs a finite v >= 0) and gauges (any finite v).
 * dec/set: gauges (set takes any v, NaN and infinities included).
 * observe: histograms (any v but NaN).
 * @returns EG_OK, or EG_EINVAL (NULL series, wrong family type, refused v);
 * a refused call changes nothing. */
int eg_series_inc(eg_series_t *s);
int eg_series_dec(eg_series_t *s);
int eg_series_add(eg_series_t *s, double v);
int eg_series_set(eg_series_t *s, double v);
int eg_series_observe(eg_series_t *s, double v);

/* The same, looking the series up (or creating it) by label values first, as
 * eg_metric_series() does. Example, a family with labels {"endpoint",
 * "status"}:
 *   eg_metric_inc(calls, (const char *const[]){"runs", "200"});
 * @returns what eg_metric_series() or the observation returns. */
int eg_metric_inc(eg_metric_t *m, const char *const *values);
int eg_metric_dec(eg_metric_t *m, const char *const *values);
int eg_metric_add(eg_metric_t *m, const char *const *values, double v);
int eg_metric_set(eg_metric_t *m, const char *const *values, double v);
int eg_metric_observe(eg_metric_t *m, const char *const *values, double v);

/* Renders every family of reg, in creation order (series in creation order),
 * as Prometheus text format 0.0.4 into a NUL-terminated buffer that the
 * caller frees with free(). Values are read atomically one by one while
 * other threads keep observing; a histogram's _count always equals its +Inf
 * bucket. Thread-safe. @returns EG_OK, EG_EINVAL, EG_ENOMEM, EG_ETOOBIG (over
 * 64 MiB). */
int eg_metrics_render(eg_metrics_t *reg, char **out, size_t *len);

#endif /* EG_METRICS_H */

/* Prometheus registry: families keep their series in an open-addressing
 * table that readers probe without locks; only creating a series (or a
 * family) and rendering take a mutex. */
#include "eg/metrics.h"
#include "eg/error.h"
#include "internal.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RENDER_MAX      (64u * 1024 * 1024)
#define TABLE_MIN_SLOTS 8
#define DROPPED_NAME    "envgate_metrics_series_dropped_total"

enum type { T_COUNTER, T_GAUGE, T_HISTOGRAM };

static const char *const type_names[] = {"counter", "gauge", "histogram"};

/* Names render() writes itself; a family may not take them. */
static const char *const reserved_names[] = {DROPPED_NAME,
                                             "process_start_time_seconds",
                                             "process_cpu_seconds_total",
                                             "process_resident_memory_bytes",
                                             "process_virtual_memory_bytes",
                                             "process_open_fds",
                                             "process_max_fds"};

/* Values live in 64-bit atomics. Counters split integer increments (n, one
 * fetch_add) from fractional adds (bits, a double updated by CAS), as the Go
 * client does, so that the common inc() never loops. Gauges keep their value
 * and histograms their sum in bits; histogram buckets are per bucket (not
 * cumulative) so that one observation touches one bucket. */
struct eg_series_s {
  eg_metric_t *m;
  eg_series_t *next; /* creation order; guarded by m->lock */
  uint64_t hash;
  const char *values[EG_METRICS_MAX_LABELS]; /* point after buckets[] */
  _Atomic uint64_t n;
  _Atomic uint64_t bits;
  _Atomic uint64_t buckets[]; /* histograms: nbounds + 1 (+Inf) */
};

/* A table is never modified once replaced: a reader still probing an old one
 * may miss a newer series and then takes the locked path, which looks in
 * the current table. Replaced tables are kept until the family is freed, so
 * readers never touch freed memory; their total size stays below the live
 * table's. */
struct table {
  struct table *retired;
  size_t mask;
  _Atomic(eg_series_t *) slots[];
};

struct eg_metric_s {
  eg_metrics_t *reg;
  eg_metric_t *next;
  enum type type;
  char *name;
  char *help;
  char *label_names[EG_METRICS_MAX_LABELS];
  size_t nlabels;
  double *bounds;
  size_t nbounds;
  pthread_mutex_t lock;
  _Atomic(struct table *) table;
  eg_series_t *first; /* creation order; guarded by lock */
  eg_series_t *last;
  size_t nseries;
  _Atomic uint64_t dropped;
};

struct eg_metrics_s {
  pthread_mutex_t lock; /* guards the family list */
  eg_metric_t *first;
  eg_metric_t *last;
  unsigned flags;
  double start_time;
};

static uint64_t dbl_bits(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof(b));
  return b;
}

static double bits_dbl(uint64_t b) {
  double v;
  memcpy(&v, &b, sizeof(v));
  return v;
}

/* Relaxed ordering is enough: each value is independent and render only
 * needs each one to be read whole. */
static void atomic_add_double(_Atomic uint64_t *bits, double v) {
  uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);

  while (!atomic_compare_exchange_weak_explicit(
      bits, &old, dbl_bits(bits_dbl(old) + v), memory_order_relaxed,
      memory_order_relaxed))
    ;
}

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
static bool utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;

  while (i < n) {
    unsigned char c = s[i];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4;
    else
      return false;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
    else if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
    if (len > n - i || s[i + 1] < lo || s[i + 1] > hi)
      return false;
    for (size_t k = 2; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
    i += len;
  }
  return true;
}

static bool valid_name(const char *s, bool colon) {
  size_t n = strlen(s);

  if (n == 0 || n > EG_METRICS_MAX_NAME_LEN)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

/* FNV-1a over the values, each followed by a 0xFF byte (never in UTF-8) so
 * that {"ab","c"} and {"a","bc"} hash apart. */
static uint64_t hash_values(const char *const *values, size_t n) {
  uint64_t h = 1469598103934665603ull;

  for (size_t i = 0; i < n; i++) {
    for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++) {
      h ^= *p;
      h *= 1099511628211ull;
    }
    h ^= 0xFF;
    h *= 1099511628211ull;
  }
  return h;
}

static bool
same_values(const eg_series_t *s, const char *const *values, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s->values[i], values[i]) != 0)
      return false;
  return true;
}

static eg_series_t *table_find(const struct table *t,
                               uint64_t h,
                               const char *const *values,
                               size_t n) {
  for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
    eg_series_t *s = atomic_load_explicit(&t->slots[i], memory_order_acquire);
    if (s == NULL)
      return NULL;
    if (s->hash == h && same_values(s, values, n))
      return s;
  }
}

/* Called with the family lock held; the load factor stays <= 1/2, so a free
 * slot always exists. */
static void table_put(struct table *t, eg_series_t *s) {
  size_t i = (size_t)s->hash & t->mask;

  while (atomic_load_explicit(&t->slots[i], memory_order_relaxed) != NULL)
    i = (i + 1) & t->mask;
  atomic_store_explicit(&t->slots[i], s, memory_order_release);
}

static struct table *table_new(size_t nslots) {
  struct table *t =
      malloc(sizeof(*t) + nslots * sizeof(_Atomic(eg_series_t *)));

  if (t == NULL)
    return NULL;
  t->retired = NULL;
  t->mask = nslots - 1;
  for (size_t i = 0; i < nslots; i++)
    atomic_init(&t->slots[i], NULL);
  return t;
}

/* Allocates a series with its bucket array and copies of the values, all in
 * one block. */
static eg_series_t *
series_new(eg_metric_t *m, const char *const *values, uint64_t h) {
  size_t nb = m->type == T_HISTOGRAM ? m->nbounds + 1 : 0;
  size_t size = sizeof(eg_series_t) + nb * sizeof(_Atomic uint64_t);
  size_t lens[EG_METRICS_MAX_LABELS];
  eg_series_t *s;
  char *p;

  for (size_t i = 0; i < m->nlabels; i++) {
    lens[i] = strlen(values[i]);
    size += lens[i] + 1;
  }
  s = malloc(size);
  if (s == NULL)
    return NULL;
  s->m = m;
  s->next = NULL;
  s->hash = h;
  atomic_init(&s->n, 0);
  atomic_init(&s->bits, dbl_bits(0.0));
  for (size_t i = 0; i < nb; i++)
    atomic_init(&s->buckets[i], 0);
  p = (char *)&s->buckets[nb];
  for (size_t i = 0; i < m->nlabels; i++) {
    memcpy(p, values[i], lens[i] + 1);
    s->values[i] = p;
    p += lens[i] + 1;
  }
  return s;
}

static void series_append(eg_metric_t *m, eg_series_t *s) {
  if (m->last != NULL)
    m->last->next = s;
  else
    m->first = s;
  m->last = s;
  m->nseries++;
}

/* The locked path: looks again in the current table, then creates. */
static int series_create(eg_metric_t *m,
                         const char *const *values,
                         uint64_t h,
                         eg_series_t **out) {
  struct table *t;
  eg_series_t *s;
  int rc = EG_OK;

  pthread_mutex_lock(&m->lock);
  t = atomic_load_explicit(&m->table, memory_order_relaxed);
  s = table_find(t, h, values, m->nlabels);
  if (s != NULL)
    goto done;
  if (m->nseries >= EG_METRICS_MAX_SERIES) {
    atomic_fetch_add_explicit(&m->dropped, 1, memory_order_relaxed);
    rc = EG_ERANGE;
    goto done;
  }
  if ((m->nseries + 1) * 2 > t->mask + 1) {
    struct table *bigger = table_new((t->mask + 1) * 2);
    if (bigger == NULL) {
      rc = EG_ENOMEM;
      goto done;
    }
    for (eg_series_t *it = m->first; it != NULL; it = it->next)
      table_put(bigger, it);
    bigger->retired = t;
    atomic_store_explicit(&m->table, bigger, memory_order_release);
    t = bigger;
  }
  s = series_new(m, values, h);
  if (s == NULL) {
    rc = EG_ENOMEM;
    goto done;
  }
  table_put(t, s);
  series_append(m, s);
done:
  pthread_mutex_unlock(&m->lock);
  if (rc == EG_OK)
    *out = s;
  return rc;
}

int eg_metric_series(eg_metric_t *m,
                     const char *const *values,
                     eg_series_t **out) {
  struct table *t;
  eg_series_t *s;
  uint64_t h;

  if (out != NULL)
    *out = NULL;
  if (m == NULL || out == NULL)
    return EG_EINVAL;
  if (m->nlabels == 0) {
    /* Created with the family, never changes: no lock needed. */
    *out = m->first;
    return EG_OK;
  }
  if (values == NULL)
    return EG_EINVAL;
  for (size_t i = 0; i < m->nlabels; i++)
    if (values[i] == NULL)
      return EG_EINVAL;
  h = hash_values(values, m->nlabels);
  t = atomic_load_explicit(&m->table, memory_order_acquire);
  s = table_find(t, h, values, m->nlabels);
  if (s != NULL) {
    *out = s;
    return EG_OK;
  }
  /* Only new values are checked, so the hot path stays cheap. */
  for (size_t i = 0; i < m->nlabels; i++) {
    size_t len = strlen(values[i]);
    if (len > EG_METRICS_MAX_VALUE_LEN)
      return EG_ETOOBIG;
    if (!utf8_valid(values[i], len))
      return EG_EINVAL;
  }
  return series_create(m, values, h, out);
}

int eg_series_inc(eg_series_t *s) {
  if (s == NULL)
    return EG_EINVAL;
  switch (s->m->type) {
  case T_COUNTER:
    atomic_fetch_add_explicit(&s->n, 1, memory_order_relaxed);
    return EG_OK;
  case T_GAUGE:
    atomic_add_double(&s->bits, 1.0);
    return EG_OK;
  case T_HISTOGRAM:
    break;
  }
  return EG_EINVAL;
}

int eg_series_dec(eg_series_t *s) {
  if (s == NULL || s->m->type != T_GAUGE)
    return EG_EINVAL;
  atomic_add_double(&s->bits, -1.0);
  return EG_OK;
}

int eg_series_add(eg_series_t *s, double v) {
  if (s == NULL || !isfinite(v))
    return EG_EINVAL;
  switch (s->m->type) {
  case T_COUNTER:
    if (v < 0)
      return EG_EINVAL;
    /* Whole numbers below 2^53 are exact as integers: keep them there. */
    if (v < 9007199254740992.0 && v == floor(v))
      atomic_fetch_add_explicit(&s->n, (uint64_t)v, memory_order_relaxed);
    else
      atomic_add_double(&s->bits, v);
    return EG_OK;
  case T_GAUGE:
    atomic_add_double(&s->bits, v);
    return EG_OK;
  case T_HISTOGRAM:
    break;
  }
  return EG_EINVAL;
}

int eg_series_set(eg_series_t *s, double v) {
  if (s == NULL || s->m->type != T_GAUGE)
    return EG_EINVAL;
  atomic_store_explicit(&s->bits, dbl_bits(v), memory_order_relaxed);
  return EG_OK;
}

int eg_series_observe(eg_series_t *s, double v) {
  const eg_metric_t *m;
  size_t lo = 0, hi;

  if (s == NULL || s->m->type != T_HISTOGRAM || isnan(v))
    return EG_EINVAL;
  m = s->m;
  /* Binary search for the first bound >= v (le is inclusive); nbounds when
   * v is above them all, which is the +Inf bucket. */
  hi = m->nbounds;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v <= m->bounds[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  atomic_fetch_add_explicit(&s->buckets[lo], 1, memory_order_relaxed);
  atomic_add_double(&s->bits, v);
  return EG_OK;
}

int eg_metric_inc(eg_metric_t *m, const char *const *values) {
  eg_series_t *s;
  int rc = eg_metric_series(m, values, &s);

  return rc != EG_OK ? rc : eg_series_inc(s);
}

int eg_metric_dec(eg_metric_t *m, const char *const *values) {
  eg_series_t *s;
  int rc = eg_metric_series(m, values, &s);

  return rc != EG_OK ? rc : eg_series_dec(s);
}

int eg_metric_add(eg_metric_t *m, const char *const *values, double v) {
  eg_series_t *s;
  int rc = eg_metric_series(m, values, &s);

  return rc != EG_OK ? rc : eg_series_add(s, v);
}

int eg_metric_set(eg_metric_t *m, const char *const *values, double v) {
  eg_series_t *s;
  int rc = eg_metric_series(m, values, &s);

  return rc != EG_OK ? rc : eg_series_set(s, v);
}

int eg_metric_observe(eg_metric_t *m, const char *const *values, double v) {
  eg_series_t *s;
  int rc = eg_metric_series(m, values, &s);

  return rc != EG_OK ? rc : eg_series_observe(s, v);
}

static void family_free(eg_metric_t *m) {
  struct table *t;
  eg_series_t *s;

  if (m == NULL)
    return;
  s = m->first;
  while (s != NULL) {
    eg_series_t *next = s->next;
    free(s);
    s = next;
  }
  t = atomic_load_explicit(&m->table, memory_order_relaxed);
  while (t != NULL) {
    struct table *older = t->retired;
    free(t);
    t = older;
  }
  for (size_t i = 0; i < m->nlabels; i++)
    free(m->label_names[i]);
  pthread_mutex_destroy(&m->lock);
  free(m->bounds);
  free(m->help);
  free(m->name);
  free(m);
}

static int check_family(const char *name,
                        const char *help,
                        const char *const *label_names,
                        size_t nlabels,
                        enum type type,
                        char *errbuf,
                        size_t errbuf_len) {
  size_t help_len;

  if (!valid_name(name, true)) {
    eg__seterr(errbuf, errbuf_len,
               "metric name \"%.*s\": must match [a-zA-Z_:][a-zA-Z0-9_:]* "
               "(at most %d bytes)",
               EG_METRICS_MAX_NAME_LEN, name, EG_METRICS_MAX_NAME_LEN);
    return EG_EINVAL;
  }
  help_len = strlen(help);
  if (help_len > EG_METRICS_MAX_HELP_LEN || !utf8_valid(help, help_len)) {
    eg__seterr(errbuf, errbuf_len, "%s: help must be UTF-8 of at most %d bytes",
               name, EG_METRICS_MAX_HELP_LEN);
    return EG_EINVAL;
  }
  if (nlabels > EG_METRICS_MAX_LABELS || (nlabels > 0 && label_names == NULL)) {
    eg__seterr(errbuf, errbuf_len, "%s: at most %d label names, not NULL", name,
               EG_METRICS_MAX_LABELS);
    return EG_EINVAL;
  }
  for (size_t i = 0; i < nlabels; i++) {
    const char *l = label_names[i];

    if (l == NULL || !valid_name(l, false) || strncmp(l, "__", 2) == 0) {
      eg__seterr(errbuf, errbuf_len,
                 "%s: label name \"%.*s\": must match [a-zA-Z_][a-zA-Z0-9_]* "
                 "and not start with __",
                 name, EG_METRICS_MAX_NAME_LEN, l != NULL ? l : "(null)");
      return EG_EINVAL;
    }
    if (type == T_HISTOGRAM && strcmp(l, "le") == 0) {
      eg__seterr(errbuf, errbuf_len,
                 "%s: label name \"le\" is reserved for histogram buckets",
                 name);
      return EG_EINVAL;
    }
    for (size_t j = 0; j < i; j++) {
      if (strcmp(label_names[j], l) == 0) {
        eg__seterr(errbuf, errbuf_len, "%s: label name \"%s\" appears twice",
                   name, l);
        return EG_EINVAL;
      }
    }
  }
  return EG_OK;
}

static int check_buckets(const char *name,
                         const double *buckets,
                         size_t nbuckets,
                         char *errbuf,
                         size_t errbuf_len) {
  if (buckets == NULL || nbuckets == 0 || nbuckets > EG_METRICS_MAX_BUCKETS) {
    eg__seterr(errbuf, errbuf_len, "%s: needs 1 to %d bucket bounds", name,
               EG_METRICS_MAX_BUCKETS);
    return EG_EINVAL;
  }
  for (size_t i = 0; i < nbuckets; i++) {
    if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
      eg__seterr(errbuf, errbuf_len,
                 "%s: bucket bounds must be finite and strictly increasing "
                 "(+Inf is implicit)",
                 name);
      return EG_EINVAL;
    }
  }
  return EG_OK;
}

/* Builds a family with its table (and its only series when unlabelled). */
static int family_new(enum type type,
                      const char *name,
                      const char *help,
                      const char *const *label_names,
                      size_t nlabels,
                      const double *buckets,
                      size_t nbuckets,
                      eg_metric_t **out) {
  eg_metric_t *m = calloc(1, sizeof(*m));

  if (m == NULL)
    return EG_ENOMEM;
  if (pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m);
    return EG_ENOMEM;
  }
  m->type = type;
  atomic_init(&m->dropped, 0);
  atomic_init(&m->table, table_new(TABLE_MIN_SLOTS));
  m->name = strdup(name);
  m->help = strdup(help);
  if (atomic_load_explicit(&m->table, memory_order_relaxed) == NULL ||
      m->name == NULL || m->help == NULL)
    goto fail;
  for (size_t i = 0; i < nlabels; i++) {
    m->label_names[i] = strdup(label_names[i]);
    if (m->label_names[i] == NULL)
      goto fail;
    m->nlabels++;
  }
  if (type == T_HISTOGRAM) {
    m->bounds = malloc(nbuckets * sizeof(*m->bounds));
    if (m->bounds == NULL)
      goto fail;
    memcpy(m->bounds, buckets, nbuckets * sizeof(*m->bounds));
    m->nbounds = nbuckets;
  }
  if (nlabels == 0) {
    eg_series_t *s = series_new(m, NULL, 0);
    if (s == NULL)
      goto fail;
    series_append(m, s);
  }
  *out = m;
  return EG_OK;
fail:
  family_free(m);
  return EG_ENOMEM;
}

static int add_family(eg_metrics_t *reg,
                      enum type type,
                      const char *name,
                      const char *help,
                      const char *const *label_names,
                      size_t nlabels,
                      const double *buckets,
                      size_t nbuckets,
                      eg_metric_t **out,
                      char *errbuf,
                      size_t errbuf_len) {
  eg_metric_t *m;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (reg == NULL || name == NULL || help == NULL || out == NULL) {
    eg__seterr(errbuf, errbuf_len, "metrics: NULL argument");
    return EG_EINVAL;
  }
  rc = check_family(name, help, label_names, nlabels, type, errbuf, errbuf_len);
  if (rc == EG_OK && type == T_HISTOGRAM)
    rc = check_buckets(name, buckets, nbuckets, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  for (size_t i = 0; i < sizeof(reserved_names) / sizeof(reserved_names[0]);
       i++) {
    if (strcmp(name, reserved_names[i]) == 0) {
      eg__seterr(errbuf, errbuf_len, "%s: name is reserved by the registry",
                 name);
      return EG_EEXIST;
    }
  }
  rc =
      family_new(type, name, help, label_names, nlabels, buckets, nbuckets, &m);
  if (rc != EG_OK) {
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", name);
    return rc;
  }
  m->reg = reg;
  pthread_mutex_lock(&reg->lock);
  for (eg_metric_t *it = reg->first; it != NULL; it = it->next) {
    if (strcmp(it->name, name) == 0) {
      pthread_mutex_unlock(&reg->lock);
      family_free(m);
      eg__seterr(errbuf, errbuf_len, "%s: already registered", name);
      return EG_EEXIST;
    }
  }
  if (reg->last != NULL)
    reg->last->next = m;
  else
    reg->first = m;
  reg->last = m;
  pthread_mutex_unlock(&reg->lock);
  *out = m;
  return EG_OK;
}

int eg_metrics_counter(eg_metrics_t *reg,
                       const char *name,
                       const char *help,
                       const char *const *label_names,
                       size_t nlabels,
                       eg_metric_t **out,
                       char *errbuf,
                       size_t errbuf_len) {
  return add_family(reg, T_COUNTER, name, help, label_names, nlabels, NULL, 0,
                    out, errbuf, errbuf_len);
}

int eg_metrics_gauge(eg_metrics_t *reg,
                     const char *name,
                     const char *help,
                     const char *const *label_names,
                     size_t nlabels,
                     eg_metric_t **out,
                     char *errbuf,
                     size_t errbuf_len) {
  return add_family(reg, T_GAUGE, name, help, label_names, nlabels, NULL, 0,
                    out, errbuf, errbuf_len);
}

int eg_metrics_histogram(eg_metrics_t *reg,
                         const char *name,
                         const char *help,
                         const char *const *label_names,
                         size_t nlabels,
                         const double *buckets,
                         size_t nbuckets,
                         eg_metric_t **out,
                         char *errbuf,
                         size_t errbuf_len) {
  return add_family(reg, T_HISTOGRAM, name, help, label_names, nlabels, buckets,
                    nbuckets, out, errbuf, errbuf_len);
}

/* Process start from /proc: field 22 of /proc/self/stat (clock ticks after
 * boot) plus btime from /proc/stat. Returns false if either is unreadable. */
static bool proc_start_time(double *out) {
  char buf[1024];
  const char *p;
  unsigned long long ticks = 0, btime = 0;
  long hz = sysconf(_SC_CLK_TCK);
  FILE *fp;
  size_t n;
  bool found = false;

  fp = fopen("/proc/self/stat", "r");
  if (fp == NULL)
    return false;
  n = fread(buf, 1, sizeof(buf) - 1, fp);
  fclose(fp);
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: skip to the last ')'.
   * Fields from 3 (state) on follow; starttime is the 20th of them. */
  p = strrchr(buf, ')');
  if (p == NULL || hz <= 0)
    return false;
  p++;
  for (int field = 3; field <= 22; field++) {
    while (*p == ' ')
      p++;
    if (*p == '\0')
      return false;
    if (field == 22) {
      if (sscanf(p, "%llu", &ticks) != 1)
        return false;
      break;
    }
    while (*p != ' ' && *p != '\0')
      p++;
  }
  fp = fopen("/proc/stat", "r");
  if (fp == NULL)
    return false;
  while (fgets(buf, sizeof(buf), fp) != NULL) {
    if (sscanf(buf, "btime %llu", &btime) == 1) {
      found = true;
      break;
    }
  }
  fclose(fp);
  if (!found)
    return false;
  *out = (double)btime + (double)ticks / (double)hz;
  return true;
}

int eg_metrics_new(unsigned flags, eg_metrics_t **out) {
  eg_metrics_t *reg;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || (flags & ~EG_METRICS_PROCESS) != 0)
    return EG_EINVAL;
  reg = calloc(1, sizeof(*reg));
  if (reg == NULL)
    return EG_ENOMEM;
  if (pthread_mutex_init(&reg->lock, NULL) != 0) {
    free(reg);
    return EG_ENOMEM;
  }
  reg->flags = flags;
  if ((flags & EG_METRICS_PROCESS) && !proc_start_time(&reg->start_time)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    reg->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  }
  *out = reg;
  return EG_OK;
}

void eg_metrics_free(eg_metrics_t *reg) {
  eg_metric_t *m;

  if (reg == NULL)
    return;
  m = reg->first;
  while (m != NULL) {
    eg_metric_t *next = m->next;
    family_free(m);
    m = next;
  }
  pthread_mutex_destroy(&reg->lock);
  free(reg);
}

/* Rendering: a growing buffer that remembers its first failure. */
struct buf {
  char *p;
  size_t len;
  size_t cap;
  int err;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->err != EG_OK)
    return;
  if (n > RENDER_MAX - b->len) {
    b->err = EG_ETOOBIG;
    return;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap == 0 ? 4096 : b->cap;
    char *p;

    while (cap < b->len + n + 1)
      cap *= 2;
    if (cap > RENDER_MAX + 1)
      cap = RENDER_MAX + 1;
    p = realloc(b->p, cap);
    if (p == NULL) {
      b->err = EG_ENOMEM;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) {
  put(b, s, strlen(s));
}

/* Escapes backslash and newline (help text), and '"' too (label values). */
static void put_escaped(struct buf *b, const char *s, bool quote) {
  const char *run = s;

  for (; *s != '\0'; s++) {
    const char *esc = NULL;

    if (*s == '\\')
      esc = "\\\\";
    else if (*s == '\n')
      esc = "\\n";
    else if (quote && *s == '"')
      esc = "\\\"";
    if (esc != NULL) {
      put(b, run, (size_t)(s - run));
      put(b, esc, 2);
      run = s + 1;
    }
  }
  put(b, run, (size_t)(s - run));
}

/* Shortest of %.15g, %.16g, %.17g that reads back as v, so 0.1 renders as
 * "0.1" and every double still round-trips. */
static void put_double(struct buf *b, double v) {
  char num[40];

  if (isnan(v)) {
    puts_(b, "NaN");
    return;
  }
  if (isinf(v)) {
    puts_(b, v > 0 ? "+Inf" : "-Inf");
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(num, sizeof(num), "%.*g", prec, v);
    if (strtod(num, NULL) == v)
      break;
  }
  puts_(b, num);
}

static void put_u64(struct buf *b, uint64_t v) {
  char num[24];

  snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
  puts_(b, num);
}

static void put_header(struct buf *b,
                       const char *name,
                       const char *help,
                       const char *type) {
  puts_(b, "# HELP ");
  puts_(b, name);
  put(b, " ", 1);
  put_escaped(b, help, false);
  puts_(b, "\n# TYPE ");
  puts_(b, name);
  put(b, " ", 1);
  puts_(b, type);
  put(b, "\n", 1);
}

/* Writes name[suffix]{labels[,le="..."]} followed by a space. */
static void put_series_name(struct buf *b,
                            const eg_series_t *s,
                            const char *suffix,
                            const double *le) {
  const eg_metric_t *m = s->m;

  puts_(b, m->name);
  puts_(b, suffix);
  if (m->nlabels == 0 && le == NULL) {
    put(b, " ", 1);
    return;
  }
  put(b, "{", 1);
  for (size_t i = 0; i < m->nlabels; i++) {
    if (i > 0)
      put(b, ",", 1);
    puts_(b, m->label_names[i]);
    put(b, "=\"", 2);
    put_escaped(b, s->values[i], true);
    put(b, "\"", 1);
  }
  if (le != NULL) {
    if (m->nlabels > 0)
      put(b, ",", 1);
    put(b, "le=\"", 4);
    put_double(b, *le);
    put(b, "\"", 1);
  }
  put(b, "} ", 2);
}

static void render_series(struct buf *b, const eg_series_t *s) {
  const eg_metric_t *m = s->m;
  uint64_t n = atomic_load_explicit(&s->n, memory_order_relaxed);
  double v = bits_dbl(atomic_load_explicit(&s->bits, memory_order_relaxed));
  uint64_t cum = 0;
  double inf = INFINITY;

  switch (m->type) {
  case T_COUNTER:
    put_series_name(b, s, "", NULL);
    if (v == 0.0)
      put_u64(b, n);
    else
      put_double(b, (double)n + v);
    put(b, "\n", 1);
    return;
  case T_GAUGE:
    put_series_name(b, s, "", NULL);
    put_double(b, v);
    put(b, "\n", 1);
    return;
  case T_HISTOGRAM:
    for (size_t i = 0; i <= m->nbounds; i++) {
      cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
      put_series_name(b, s, "_bucket", i < m->nbounds ? &m->bounds[i] : &inf);
      put_u64(b, cum);
      put(b, "\n", 1);
    }
    put_series_name(b, s, "_sum", NULL);
    put_double(b, v);
    put(b, "\n", 1);
    put_series_name(b, s, "_count", NULL);
    put_u64(b, cum);
    put(b, "\n", 1);
    return;
  }
}

static void render_family(struct buf *b, eg_metric_t *m) {
  put_header(b, m->name, m->help, type_names[m->type]);
  pthread_mutex_lock(&m->lock);
  for (const eg_series_t *s = m->first; s != NULL; s = s->next)
    render_series(b, s);
  pthread_mutex_unlock(&m->lock);
}

static void render_dropped(struct buf *b, const eg_metrics_t *reg) {
  bool any = false;

  for (const eg_metric_t *m = reg->first; m != NULL; m = m->next) {
    uint64_t d = atomic_load_explicit(&m->dropped, memory_order_relaxed);

    if (d == 0)
      continue;
    if (!any)
      put_header(b, DROPPED_NAME,
                 "Observations refused because their family already held "
                 "the maximum number of series.",
                 "counter");
    any = true;
    puts_(b, DROPPED_NAME "{family=\"");
    puts_(b, m->name);
    puts_(b, "\"} ");
    put_u64(b, d);
    put(b, "\n", 1);
  }
}

static void put_process_value(struct buf *b,
                              const char *name,
                              const char *help,
                              const char *type,
                              double v) {
  put_header(b, name, help, type);
  puts_(b, name);
  put(b, " ", 1);
  put_double(b, v);
  put(b, "\n", 1);
}

static void render_process(struct buf *b, const eg_metrics_t *reg) {
  struct rusage ru;
  struct rlimit rl;
  unsigned long long vsize, rss;
  long page = sysconf(_SC_PAGESIZE);
  FILE *fp;
  DIR *dir;

  put_process_value(b, "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    "gauge", reg->start_time);
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    put_process_value(
        b, "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.", "counter",
        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
  fp = fopen("/proc/self/statm", "r");
  if (fp != NULL) {
    if (page > 0 && fscanf(fp, "%llu %llu", &vsize, &rss) == 2) {
      put_process_value(b, "process_resident_memory_bytes",
                        "Resident memory size in bytes.", "gauge",
                        (double)rss * (double)page);
      put_process_value(b, "process_virtual_memory_bytes",
                        "Virtual memory size in bytes.", "gauge",
                        (double)vsize * (double)page);
    }
    fclose(fp);
  }
  dir = opendir("/proc/self/fd");
  if (dir != NULL) {
    struct dirent *de;
    double nfds = 0;

    while ((de = readdir(dir)) != NULL)
      if (de->d_name[0] != '.')
        nfds++;
    closedir(dir);
    /* Not counting the descriptor opendir() used for the listing. */
    put_process_value(b, "process_open_fds", "Number of open file descriptors.",
                      "gauge", nfds > 0 ? nfds - 1 : 0);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    put_process_value(b, "process_max_fds",
                      "Maximum number of open file descriptors.", "gauge",
                      (double)rl.rlim_cur);
}

int eg_metrics_render(eg_metrics_t *reg, char **out, size_t *len) {
  struct buf b = {NULL, 0, 0, EG_OK};

  if (out != NULL)
    *out = NULL;
  if (len != NULL)
    *len = 0;
  if (reg == NULL || out == NULL || len == NULL)
    return EG_EINVAL;
  put(&b, "", 0);
  pthread_mutex_lock(&reg->lock);
  for (eg_metric_t *m = reg->first; m != NULL; m = m->next)
    render_family(&b, m);
  render_dropped(&b, reg);
  pthread_mutex_unlock(&reg->lock);
  if (reg->flags & EG_METRICS_PROCESS)
    render_process(&b, reg);
  if (b.err != EG_OK) {
    free(b.p);
    return b.err;
  }
  *out = b.p;
  *len = b.len;
  return EG_OK;
}

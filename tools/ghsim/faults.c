/* Fault tables: per-endpoint latency and error injection, parsed from the
 * scenario or POST /_sim/faults, decided per call from a seeded PRNG value. */
#include "ghsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ep_names[GS_EP_COUNT] = {
    "mint",        "run",        "jobs",      "job",
    "deployments", "statuses",   "approvals", "pending_deployments",
    "review",      "deliveries", "delivery",  "redeliver",
    "other"};

const char *gs_ep_name(enum gs_ep ep) {
  return (unsigned)ep < GS_EP_COUNT ? ep_names[ep] : "?";
}

int gs_ep_parse(const char *name) {
  for (int i = 0; i < GS_EP_COUNT; i++)
    if (strcmp(ep_names[i], name) == 0)
      return i;
  return -1;
}

static int get_frac(json_t *o,
                    const char *key,
                    double *out,
                    const char *ep,
                    char *err,
                    size_t errlen) {
  json_t *v = json_object_get(o, key);

  *out = 0;
  if (v == NULL)
    return 0;
  if (!json_is_number(v) || json_number_value(v) < 0 ||
      json_number_value(v) > 1) {
    snprintf(err, errlen, "faults.%s.%s: must be a fraction in [0, 1]", ep,
             key);
    return -1;
  }
  *out = json_number_value(v);
  return 0;
}

static int get_ms(json_t *o,
                  const char *key,
                  uint32_t def,
                  uint32_t *out,
                  const char *ep,
                  char *err,
                  size_t errlen) {
  json_t *v = json_object_get(o, key);

  *out = def;
  if (v == NULL)
    return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      json_integer_value(v) > 3600000) {
    snprintf(err, errlen, "faults.%s.%s: must be an integer in [0, 3600000]",
             ep, key);
    return -1;
  }
  *out = (uint32_t)json_integer_value(v);
  return 0;
}

static int parse_one(
    json_t *o, const char *ep, struct gs_fault *f, char *err, size_t errlen) {
  static const char *const known[] = {
      "latency_ms",    "error_500",      "error_502",     "rate_429",
      "retry_after_s", "rate_limit_403", "secondary_403", "timeout",
      "timeout_ms",    "reset",          "limit"};
  json_t *lat = json_object_get(o, "latency_ms");
  json_t *lim = json_object_get(o, "limit");
  const char *key;
  json_t *val;
  double sum;

  memset(f, 0, sizeof(*f));
  if (!json_is_object(o)) {
    snprintf(err, errlen, "faults.%s: must be an object", ep);
    return -1;
  }
  json_object_foreach(o, key, val) {
    bool ok = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
      ok = ok || strcmp(key, known[i]) == 0;
    if (!ok) {
      snprintf(err, errlen, "faults.%s: unknown member \"%s\"", ep, key);
      return -1;
    }
  }
  f->set = true;
  if (json_is_array(lat)) {
    json_t *a = json_array_get(lat, 0), *b = json_array_get(lat, 1);
    if (json_array_size(lat) != 2 || !json_is_integer(a) ||
        !json_is_integer(b) || json_integer_value(a) < 0 ||
        json_integer_value(b) < json_integer_value(a) ||
        json_integer_value(b) > 3600000) {
      snprintf(err, errlen,
               "faults.%s.latency_ms: must be ms or [min, max] with "
               "0 <= min <= max <= 3600000",
               ep);
      return -1;
    }
    f->latency_min_ms = (uint32_t)json_integer_value(a);
    f->latency_max_ms = (uint32_t)json_integer_value(b);
  } else if (get_ms(o, "latency_ms", 0, &f->latency_min_ms, ep, err, errlen) !=
             0) {
    return -1;
  } else {
    f->latency_max_ms = f->latency_min_ms;
  }
  if (get_frac(o, "error_500", &f->p500, ep, err, errlen) != 0 ||
      get_frac(o, "error_502", &f->p502, ep, err, errlen) != 0 ||
      get_frac(o, "rate_429", &f->p429, ep, err, errlen) != 0 ||
      get_frac(o, "rate_limit_403", &f->p403_primary, ep, err, errlen) != 0 ||
      get_frac(o, "secondary_403", &f->p403_secondary, ep, err, errlen) != 0 ||
      get_frac(o, "timeout", &f->ptimeout, ep, err, errlen) != 0 ||
      get_frac(o, "reset", &f->preset, ep, err, errlen) != 0 ||
      get_ms(o, "retry_after_s", 1, &f->retry_after_s, ep, err, errlen) != 0 ||
      get_ms(o, "timeout_ms", 30000, &f->timeout_ms, ep, err, errlen) != 0)
    return -1;
  sum = f->p500 + f->p502 + f->p429 + f->p403_primary + f->p403_secondary +
        f->ptimeout + f->preset;
  if (sum > 1.0 + 1e-9) {
    snprintf(err, errlen, "faults.%s: the fractions add up to more than 1", ep);
    return -1;
  }
  f->limit = -1;
  if (lim != NULL) {
    if (!json_is_integer(lim) || json_integer_value(lim) < 0) {
      snprintf(err, errlen, "faults.%s.limit: must be a count >= 0", ep);
      return -1;
    }
    f->limit = (int64_t)json_integer_value(lim);
  }
  atomic_init(&f->applied, 0);
  return 0;
}

struct gs_faults *gs_faults_parse(json_t *obj, char *err, size_t errlen) {
  struct gs_faults *f;
  json_t *star;
  const char *key;
  json_t *val;

  if (!json_is_object(obj)) {
    snprintf(err, errlen, "faults: must be an object keyed by endpoint");
    return NULL;
  }
  f = calloc(1, sizeof(*f));
  if (f == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  star = json_object_get(obj, "*");
  json_object_foreach(obj, key, val) {
    if (strcmp(key, "*") != 0 && gs_ep_parse(key) < 0) {
      snprintf(err, errlen,
               "faults: unknown endpoint \"%s\" (mint, run, jobs, job, "
               "deployments, statuses, approvals, pending_deployments, "
               "review, deliveries, delivery, redeliver, other or *)",
               key);
      goto fail;
    }
  }
  for (int i = 0; i < GS_EP_COUNT; i++) {
    json_t *o = json_object_get(obj, ep_names[i]);
    if (o == NULL)
      o = star;
    if (o != NULL && parse_one(o, o == star ? "*" : ep_names[i], &f->ep[i], err,
                               errlen) != 0)
      goto fail;
  }
  f->src = json_deep_copy(obj);
  if (f->src == NULL) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  return f;
fail:
  free(f);
  return NULL;
}

void gs_faults_free(struct gs_faults *f) {
  if (f == NULL)
    return;
  json_decref(f->src);
  free(f);
}

void gs_faults_decide(struct gs_faults *f,
                      enum gs_ep ep,
                      uint64_t r,
                      struct gs_fault_decision *out) {
  static const enum gs_fault_kind kinds[] = {
      GS_FAULT_500,         GS_FAULT_502,           GS_FAULT_429,
      GS_FAULT_403_PRIMARY, GS_FAULT_403_SECONDARY, GS_FAULT_TIMEOUT,
      GS_FAULT_RESET};
  struct gs_fault *ft;
  double ps[7];
  double u, acc = 0;

  memset(out, 0, sizeof(*out));
  if (f == NULL || (unsigned)ep >= GS_EP_COUNT || !f->ep[ep].set)
    return;
  ft = &f->ep[ep];
  out->retry_after_s = ft->retry_after_s;
  out->hold_ms = ft->timeout_ms;
  /* Latency from a second mix of r, the fault from r itself, so the two
   * draws are independent. */
  if (ft->latency_max_ms > ft->latency_min_ms)
    out->latency_ms =
        ft->latency_min_ms +
        (uint32_t)(gs_splitmix64(r) %
                   ((uint64_t)ft->latency_max_ms - ft->latency_min_ms + 1));
  else
    out->latency_ms = ft->latency_min_ms;
  ps[0] = ft->p500;
  ps[1] = ft->p502;
  ps[2] = ft->p429;
  ps[3] = ft->p403_primary;
  ps[4] = ft->p403_secondary;
  ps[5] = ft->ptimeout;
  ps[6] = ft->preset;
  u = gs_unit(r);
  for (size_t i = 0; i < 7; i++) {
    acc += ps[i];
    if (ps[i] <= 0 || u >= acc)
      continue;
    /* With a limit, count the fault first and give up the slot when over:
     * concurrent calls never fire more than limit faults. */
    if (atomic_fetch_add(&ft->applied, 1) >= ft->limit && ft->limit >= 0) {
      atomic_fetch_sub(&ft->applied, 1);
      return;
    }
    out->kind = kinds[i];
    return;
  }
}

/* Grouping hook deliveries by guid to find the ones GitHub never managed to
 * deliver. Deliveries are kept compactly; the plan is rebuilt on demand. */
#include "eg/redeliver.h"
#include "eg/error.h"
#include "eg/strmap.h"
#include "eg/timeutil.h"
#include "internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct delivery {
  uint64_t id;
  char *guid;
  char *action;
  char *status;
  int status_code;
  char *delivered_at;
  int64_t at_ms;
  bool dpr;     /* a deployment_protection_rule delivery */
  bool success; /* 2xx or "OK" */
};

struct eg_redeliver_s {
  int64_t since_ms;
  struct delivery *v;
  size_t n, cap;
  int64_t newest_ms;
  eg_redeliver_item_t *plan;
  size_t nplan;
};

int eg_redeliver_new(int64_t since_ms, eg_redeliver_t **out) {
  if (out == NULL)
    return EG_EINVAL;
  *out = calloc(1, sizeof(**out));
  if (*out == NULL)
    return EG_ENOMEM;
  (*out)->since_ms = since_ms;
  (*out)->newest_ms = -1;
  return EG_OK;
}

static void free_delivery(struct delivery *d) {
  free(d->guid);
  free(d->action);
  free(d->status);
  free(d->delivered_at);
}

void eg_redeliver_free(eg_redeliver_t *r) {
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->n; i++)
    free_delivery(&r->v[i]);
  free(r->v);
  free(r->plan);
  free(r);
}

static char *dup_or_empty(const char *s) {
  return strdup(s != NULL ? s : "");
}

/* Reads one element of a page into d. @returns EG_OK, EG_EPARSE, EG_ENOMEM. */
static int read_delivery(
    json_t *o, size_t i, struct delivery *d, char *errbuf, size_t errbuf_len) {
  json_t *id = json_object_get(o, "id");
  const char *guid = json_string_value(json_object_get(o, "guid"));
  const char *at = json_string_value(json_object_get(o, "delivered_at"));
  const char *event = json_string_value(json_object_get(o, "event"));
  json_t *code = json_object_get(o, "status_code");

  memset(d, 0, sizeof(*d));
  if (!json_is_object(o) || !json_is_integer(id) ||
      json_integer_value(id) <= 0 || guid == NULL || guid[0] == '\0' ||
      at == NULL || eg_time_parse_rfc3339(at, &d->at_ms) != EG_OK) {
    eg__seterr(errbuf, errbuf_len,
               "hook deliveries[%zu]: needs an integer id, a guid and an RFC "
               "3339 delivered_at",
               i);
    return EG_EPARSE;
  }
  d->id = (uint64_t)json_integer_value(id);
  d->status_code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
  d->dpr = event != NULL && strcmp(event, EG_REDELIVER_EVENT) == 0;
  d->guid = strdup(guid);
  d->action = dup_or_empty(json_string_value(json_object_get(o, "action")));
  d->status = dup_or_empty(json_string_value(json_object_get(o, "status")));
  d->delivered_at = strdup(at);
  if (d->guid == NULL || d->action == NULL || d->status == NULL ||
      d->delivered_at == NULL) {
    free_delivery(d);
    return EG_ENOMEM;
  }
  d->success = (d->status_code >= 200 && d->status_code < 300) ||
               strcmp(d->status, "OK") == 0;
  return EG_OK;
}

int eg_redeliver_add_page(eg_redeliver_t *r,
                          const char *json,
                          size_t len,
                          bool *more,
                          char *errbuf,
                          size_t errbuf_len) {
  json_error_t jerr;
  json_t *arr, *o;
  size_t i, first = r != NULL ? r->n : 0;
  bool older = false;
  int rc = EG_OK;

  if (more != NULL)
    *more = false;
  if (r == NULL || more == NULL || (json == NULL && len > 0))
    return EG_EINVAL;
  /* jansson leaves the error unset when its first allocation fails: the
   * empty text tells that apart from a page that does not parse. */
  memset(&jerr, 0, sizeof(jerr));
  arr = json_loadb(json != NULL ? json : "", len, 0, &jerr);
  if (arr == NULL && (json_error_code(&jerr) == json_error_out_of_memory ||
                      jerr.text[0] == '\0'))
    return EG_ENOMEM;
  if (!json_is_array(arr)) {
    json_decref(arr);
    eg__seterr(errbuf, errbuf_len, "hook deliveries: not a JSON array");
    return EG_EPARSE;
  }
  json_array_foreach(arr, i, o) {
    struct delivery d;

    rc = read_delivery(o, i, &d, errbuf, errbuf_len);
    if (rc != EG_OK)
      break;
    if (d.at_ms < r->since_ms) {
      older = true;
      free_delivery(&d);
      continue;
    }
    if (r->n == r->cap) {
      size_t ncap = r->cap == 0 ? 64 : r->cap * 2;
      struct delivery *v = realloc(r->v, ncap * sizeof(*v));

      if (v == NULL) {
        free_delivery(&d);
        rc = EG_ENOMEM;
        break;
      }
      r->v = v;
      r->cap = ncap;
    }
    r->v[r->n++] = d;
  }
  if (rc != EG_OK) {
    /* Nothing of a failed page is kept. */
    while (r->n > first)
      free_delivery(&r->v[--r->n]);
  } else {
    for (size_t k = first; k < r->n; k++)
      if (r->v[k].at_ms > r->newest_ms)
        r->newest_ms = r->v[k].at_ms;
    *more = json_array_size(arr) > 0 && !older;
  }
  json_decref(arr);
  return rc;
}

/* Per guid: its newest attempt, how many, and whether any succeeded. */
struct group {
  size_t newest; /* index into r->v */
  size_t attempts;
  bool dpr;
  bool success;
};

static int cmp_item(const void *x, const void *y) {
  const eg_redeliver_item_t *a = x, *b = y;

  return a->id < b->id ? -1 : a->id > b->id;
}

int eg_redeliver_plan(eg_redeliver_t *r) {
  struct group *groups = NULL;
  eg_strmap_t *by_guid = NULL;
  eg_redeliver_item_t *plan = NULL;
  size_t ngroups = 0, nplan = 0;
  int rc = EG_ENOMEM;

  if (r == NULL)
    return EG_EINVAL;
  groups = calloc(r->n > 0 ? r->n : 1, sizeof(*groups));
  if (groups == NULL || eg_strmap_new(&by_guid) != EG_OK)
    goto done;
  for (size_t i = 0; i < r->n; i++) {
    const struct delivery *d = &r->v[i];
    struct group *g;
    size_t gi;

    if (!eg_strmap_get(by_guid, d->guid, &gi)) {
      gi = ngroups++;
      if (eg_strmap_put(by_guid, d->guid, gi) != EG_OK)
        goto done;
      groups[gi].newest = i;
    }
    g = &groups[gi];
    g->attempts++;
    g->dpr = g->dpr || d->dpr;
    g->success = g->success || d->success;
    if (d->at_ms > r->v[g->newest].at_ms ||
        (d->at_ms == r->v[g->newest].at_ms && d->id > r->v[g->newest].id))
      g->newest = i;
  }
  plan = calloc(ngroups > 0 ? ngroups : 1, sizeof(*plan));
  if (plan == NULL)
    goto done;
  for (size_t gi = 0; gi < ngroups; gi++) {
    const struct group *g = &groups[gi];
    const struct delivery *d = &r->v[g->newest];

    if (!g->dpr || g->success)
      continue;
    plan[nplan++] = (eg_redeliver_item_t){.guid = d->guid,
                                          .id = d->id,
                                          .action = d->action,
                                          .status = d->status,
                                          .status_code = d->status_code,
                                          .delivered_at = d->delivered_at,
                                          .attempts = g->attempts};
  }
  /* Delivery ids grow with time: oldest failure first. */
  qsort(plan, nplan, sizeof(*plan), cmp_item);
  free(r->plan);
  r->plan = plan;
  r->nplan = nplan;
  plan = NULL;
  rc = EG_OK;

done:
  free(plan);
  free(groups);
  eg_strmap_free(by_guid);
  return rc;
}

size_t eg_redeliver_count(const eg_redeliver_t *r) {
  return r != NULL ? r->nplan : 0;
}

const eg_redeliver_item_t *eg_redeliver_item(const eg_redeliver_t *r,
                                             size_t i) {
  if (r == NULL || i >= r->nplan)
    return NULL;
  return &r->plan[i];
}

size_t eg_redeliver_seen(const eg_redeliver_t *r) {
  return r != NULL ? r->n : 0;
}

int64_t eg_redeliver_newest_ms(const eg_redeliver_t *r) {
  return r != NULL ? r->newest_ms : -1;
}

/* What the simulator saw, for GET /_sim/state: reviews, mints, redelivery
 * requests and per-endpoint call counts by status. */
#include "ghsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Statuses counted individually; 0 is a dropped connection (no answer),
 * and anything else lands in the last slot, "other". */
static const int counted[GS_NSTATUS] = {200, 201, 202, 204, 400, 401, 403, 404,
                                        405, 413, 422, 429, 500, 502, 0,   -1};

static size_t status_slot(int status) {
  for (size_t i = 0; i + 1 < GS_NSTATUS; i++)
    if (counted[i] == status)
      return i;
  return GS_NSTATUS - 1;
}

int gs_records_init(struct gs_records *r) {
  memset(r, 0, sizeof(*r));
  if (pthread_mutex_init(&r->lock, NULL) != 0)
    return -1;
  for (int e = 0; e < GS_EP_COUNT; e++) {
    for (int s = 0; s < GS_NSTATUS; s++)
      atomic_init(&r->calls[e][s], 0);
    atomic_init(&r->faults_fired[e], 0);
  }
  return 0;
}

static void free_contents(struct gs_records *r) {
  for (size_t i = 0; i < r->nreviews; i++) {
    free((void *)r->reviews[i].repo);
    free((void *)r->reviews[i].environment);
    free((void *)r->reviews[i].state);
    free((void *)r->reviews[i].comment);
    free((void *)r->reviews[i].token_sha256);
  }
  for (size_t i = 0; i < r->nmints; i++) {
    free((void *)r->mints[i].repo_ids);
    free((void *)r->mints[i].permissions);
    free((void *)r->mints[i].token_sha256);
  }
  r->nreviews = r->nmints = r->nredeliveries = 0;
}

void gs_records_cleanup(struct gs_records *r) {
  free_contents(r);
  free(r->reviews);
  free(r->mints);
  free(r->redeliveries);
  free(r->mint_keys);
  gs_map_free(&r->mint_counts);
  pthread_mutex_destroy(&r->lock);
}

void gs_records_clear(struct gs_records *r) {
  pthread_mutex_lock(&r->lock);
  free_contents(r);
  gs_map_free(&r->mint_counts);
  r->nmint_keys = 0;
  for (int e = 0; e < GS_EP_COUNT; e++) {
    for (int s = 0; s < GS_NSTATUS; s++)
      atomic_store(&r->calls[e][s], 0);
    atomic_store(&r->faults_fired[e], 0);
  }
  pthread_mutex_unlock(&r->lock);
}

void gs_records_count(struct gs_records *r, enum gs_ep ep, int status) {
  size_t slot = status_slot(status);

  atomic_fetch_add_explicit(&r->calls[ep][slot], 1, memory_order_relaxed);
}

static int grow(void **arr, size_t *cap, size_t n, size_t size) {
  if (n < *cap)
    return 0;
  size_t nc = *cap == 0 ? 64 : *cap * 2;
  void *na = realloc(*arr, nc * size);
  if (na == NULL)
    return -1;
  *arr = na;
  *cap = nc;
  return 0;
}

static char *dup_or_null(const char *s, bool *oom) {
  char *p;

  if (s == NULL)
    return NULL;
  p = strdup(s);
  if (p == NULL)
    *oom = true;
  return p;
}

int gs_records_review(struct gs_records *r, const struct gs_review_rec *rec) {
  struct gs_review_rec c = *rec;
  bool oom = false;

  c.repo = dup_or_null(rec->repo, &oom);
  c.environment = dup_or_null(rec->environment, &oom);
  c.state = dup_or_null(rec->state, &oom);
  c.comment = dup_or_null(rec->comment, &oom);
  c.token_sha256 = dup_or_null(rec->token_sha256, &oom);
  pthread_mutex_lock(&r->lock);
  if (!oom && grow((void **)&r->reviews, &r->capreviews, r->nreviews,
                   sizeof(*r->reviews)) == 0) {
    r->reviews[r->nreviews++] = c;
    pthread_mutex_unlock(&r->lock);
    return 0;
  }
  pthread_mutex_unlock(&r->lock);
  free((void *)c.repo);
  free((void *)c.environment);
  free((void *)c.state);
  free((void *)c.comment);
  free((void *)c.token_sha256);
  return -1;
}

static uint64_t mint_key(uint64_t inst, uint64_t repo) {
  return gs_splitmix64(inst) ^ repo;
}

int gs_records_mint(struct gs_records *r, const struct gs_mint_rec *rec) {
  struct gs_mint_rec c = *rec;
  bool oom = false;

  c.permissions = dup_or_null(rec->permissions, &oom);
  c.token_sha256 = dup_or_null(rec->token_sha256, &oom);
  c.repo_ids = NULL;
  if (rec->nrepo_ids > 0) {
    uint64_t *ids = malloc(rec->nrepo_ids * sizeof(uint64_t));
    if (ids == NULL)
      oom = true;
    else
      memcpy(ids, rec->repo_ids, rec->nrepo_ids * sizeof(uint64_t));
    c.repo_ids = ids;
  }
  pthread_mutex_lock(&r->lock);
  if (oom ||
      grow((void **)&r->mints, &r->capmints, r->nmints, sizeof(*r->mints)) != 0)
    goto fail;
  /* Count per (installation, repository); key 0 = all repositories. */
  for (size_t i = 0; i < (c.nrepo_ids > 0 ? c.nrepo_ids : 1); i++) {
    uint64_t repo = c.nrepo_ids > 0 ? c.repo_ids[i] : 0;
    uint64_t k = mint_key(c.installation_id, repo);
    uintptr_t n = (uintptr_t)gs_map_get(&r->mint_counts, k, NULL);
    if (n == 0) {
      if (grow((void **)&r->mint_keys, &r->capmint_keys, r->nmint_keys * 2,
               sizeof(uint64_t)) != 0)
        goto fail;
      r->mint_keys[r->nmint_keys * 2] = c.installation_id;
      r->mint_keys[r->nmint_keys * 2 + 1] = repo;
      r->nmint_keys++;
    }
    if (gs_map_put(&r->mint_counts, k, NULL, (void *)(n + 1)) != 0)
      goto fail;
  }
  r->mints[r->nmints++] = c;
  pthread_mutex_unlock(&r->lock);
  return 0;
fail:
  pthread_mutex_unlock(&r->lock);
  free((void *)c.permissions);
  free((void *)c.token_sha256);
  free((void *)c.repo_ids);
  return -1;
}

int gs_records_redeliver(struct gs_records *r, uint64_t id, uint64_t new_id) {
  pthread_mutex_lock(&r->lock);
  if (grow((void **)&r->redeliveries, &r->capredeliveries, r->nredeliveries,
           sizeof(*r->redeliveries)) != 0) {
    pthread_mutex_unlock(&r->lock);
    return -1;
  }
  r->redeliveries[r->nredeliveries].delivery_id = id;
  r->redeliveries[r->nredeliveries].new_id = new_id;
  r->redeliveries[r->nredeliveries].at_ms = gs_wall_ms();
  r->nredeliveries++;
  pthread_mutex_unlock(&r->lock);
  return 0;
}

static json_t *str_or_null(const char *s) {
  return s != NULL ? json_string(s) : json_null();
}

static json_t *time_json(int64_t ms) {
  char ts[40];

  gs_fmt_iso_ms(ms, ts, sizeof(ts));
  return json_string(ts);
}

int gs_records_json(struct gs_records *r, json_t *obj) {
  json_t *calls = json_object();
  json_t *reviews = json_array();
  json_t *mints = json_array();
  json_t *counts = json_array();
  json_t *redel = json_array();
  json_t *faults = json_object();

  if (calls == NULL || reviews == NULL || mints == NULL || counts == NULL ||
      redel == NULL || faults == NULL)
    goto fail;
  for (int e = 0; e < GS_EP_COUNT; e++) {
    json_t *by = json_object();
    uint64_t fired = atomic_load(&r->faults_fired[e]);
    if (by == NULL)
      goto fail;
    for (int s = 0; s < GS_NSTATUS; s++) {
      uint64_t n = atomic_load(&r->calls[e][s]);
      char key[16];
      if (n == 0)
        continue;
      if (counted[s] > 0)
        snprintf(key, sizeof(key), "%d", counted[s]);
      else
        snprintf(key, sizeof(key), "%s", counted[s] == 0 ? "dropped" : "other");
      json_object_set_new(by, key, json_integer((json_int_t)n));
    }
    if (json_object_size(by) > 0)
      json_object_set_new(calls, gs_ep_name((enum gs_ep)e), by);
    else
      json_decref(by);
    if (fired > 0)
      json_object_set_new(faults, gs_ep_name((enum gs_ep)e),
                          json_integer((json_int_t)fired));
  }
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->nreviews; i++) {
    const struct gs_review_rec *v = &r->reviews[i];
    json_array_append_new(
        reviews,
        json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:i,s:o}", "run_id",
                  (json_int_t)v->run_id, "repository", str_or_null(v->repo),
                  "environment", str_or_null(v->environment), "state",
                  str_or_null(v->state), "comment", str_or_null(v->comment),
                  "token_sha256", str_or_null(v->token_sha256), "status",
                  v->status, "at", time_json(v->at_ms)));
  }
  for (size_t i = 0; i < r->nmints; i++) {
    const struct gs_mint_rec *m = &r->mints[i];
    json_t *ids = json_array();
    json_t *perms =
        json_loads(m->permissions != NULL ? m->permissions : "{}", 0, NULL);
    for (size_t k = 0; ids != NULL && k < m->nrepo_ids; k++)
      json_array_append_new(ids, json_integer((json_int_t)m->repo_ids[k]));
    json_array_append_new(
        mints,
        json_pack("{s:I,s:o,s:o,s:o,s:o}", "installation_id",
                  (json_int_t)m->installation_id, "repository_ids",
                  m->nrepo_ids > 0 ? ids : json_null(), "permissions",
                  perms != NULL ? perms : json_object(), "token_sha256",
                  str_or_null(m->token_sha256), "at", time_json(m->at_ms)));
    if (m->nrepo_ids == 0)
      json_decref(ids);
  }
  for (size_t i = 0; i < r->nmint_keys; i++) {
    uint64_t inst = r->mint_keys[2 * i], repo = r->mint_keys[2 * i + 1];
    uintptr_t n =
        (uintptr_t)gs_map_get(&r->mint_counts, mint_key(inst, repo), NULL);
    json_array_append_new(
        counts,
        json_pack("{s:I,s:o,s:I}", "installation_id", (json_int_t)inst,
                  "repository_id",
                  repo != 0 ? json_integer((json_int_t)repo) : json_null(),
                  "count", (json_int_t)n));
  }
  for (size_t i = 0; i < r->nredeliveries; i++)
    json_array_append_new(
        redel, json_pack("{s:I,s:I,s:o}", "delivery_id",
                         (json_int_t)r->redeliveries[i].delivery_id, "new_id",
                         (json_int_t)r->redeliveries[i].new_id, "at",
                         time_json(r->redeliveries[i].at_ms)));
  pthread_mutex_unlock(&r->lock);
  json_object_set_new(obj, "calls", calls);
  json_object_set_new(obj, "faults_fired", faults);
  json_object_set_new(obj, "reviews", reviews);
  json_object_set_new(obj, "mints", mints);
  json_object_set_new(obj, "mint_counts", counts);
  json_object_set_new(obj, "redeliveries", redel);
  return 0;
fail:
  json_decref(calls);
  json_decref(reviews);
  json_decref(mints);
  json_decref(counts);
  json_decref(redel);
  json_decref(faults);
  return -1;
}

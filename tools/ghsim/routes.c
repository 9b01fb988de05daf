/* The simulated GitHub REST endpoints: path matching, token checks, faults,
 * GitHub's headers, and the handlers that answer from the cached JSON. */
#include "routes.h"

#include "eg/error.h"
#include "eg/log.h"
#include "eg/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CT_JSON "application/json; charset=utf-8"
#define DOCS    "https://docs.github.com/rest"

void gs_call_body(struct gs_call *c, int status, const char *body, size_t len) {
  c->status = status;
  c->body = body;
  c->len = len;
}

void gs_call_owned(struct gs_call *c, int status, struct gs_buf *b) {
  if (b->oom) {
    gs_buf_free(b);
    c->status = 500;
    c->body = "{\"message\":\"Server Error\"}";
    c->len = strlen(c->body);
    return;
  }
  c->status = status;
  c->owned = b->p;
  c->body = b->p;
  c->len = b->len;
  b->p = NULL;
}

/* A GitHub error body: {"message", "documentation_url", "status"}. */
void gs_call_error(struct gs_call *c, int status, const char *message) {
  struct gs_buf b = {0};

  gs_buf_adds(&b, "{\"message\":");
  gs_buf_add_jstr(&b, message);
  gs_buf_addf(&b, ",\"documentation_url\":\"%s\",\"status\":\"%d\"}", DOCS,
              status);
  gs_call_owned(c, status, &b);
}

static void set_validation_failed(struct gs_call *c,
                                  const char *resource,
                                  const char *message) {
  struct gs_buf b = {0};

  gs_buf_adds(&b, "{\"message\":\"Validation Failed\",\"errors\":[{"
                  "\"resource\":");
  gs_buf_add_jstr(&b, resource);
  gs_buf_adds(&b, ",\"code\":\"custom\",\"message\":");
  gs_buf_add_jstr(&b, message);
  gs_buf_addf(&b, "}],\"documentation_url\":\"%s\",\"status\":\"422\"}", DOCS);
  gs_call_owned(c, 422, &b);
}

static bool seg_is(const struct gs_call *c, size_t i, const char *s) {
  return i < c->nseg && c->seglen[i] == strlen(s) &&
         memcmp(c->seg[i], s, c->seglen[i]) == 0;
}

bool gs_call_seg_u64(const struct gs_call *c, size_t i, uint64_t *out) {
  return i < c->nseg &&
         eg_parse_u64n(c->seg[i], c->seglen[i], 1, UINT64_MAX, out) == EG_OK;
}

/* ---- headers and answering ---- */

static void add_headers(struct gs_call *c) {
  struct gs_sim *sim = c->sim;
  char v[64];
  uint64_t n = atomic_fetch_add(&sim->req_counter, 1) + 1;
  int64_t now_s = gs_wall_ms() / 1000;
  uint64_t limit = sim->sc->rate_limit, used;
  int64_t window = (now_s - sim->start_s) / 3600;
  int64_t reset = sim->start_s + (window + 1) * 3600;
  uint64_t w = atomic_load(&c->rl->rl_window);

  /* Each installation (and the App itself) has an hourly window counted
   * from the simulator's start. */
  if (w != (uint64_t)window &&
      atomic_compare_exchange_strong(&c->rl->rl_window, &w, (uint64_t)window))
    atomic_store(&c->rl->rl_used, 0);
  used = atomic_fetch_add(&c->rl->rl_used, 1) + 1;
  if (c->rl_exhausted)
    used = limit;
  snprintf(v, sizeof(v), "%llu", (unsigned long long)limit);
  eg_http_req_add_header(c->req, "x-ratelimit-limit", v);
  snprintf(v, sizeof(v), "%llu",
           (unsigned long long)(used >= limit ? 0 : limit - used));
  eg_http_req_add_header(c->req, "x-ratelimit-remaining", v);
  snprintf(v, sizeof(v), "%llu",
           (unsigned long long)(used > limit ? limit : used));
  eg_http_req_add_header(c->req, "x-ratelimit-used", v);
  snprintf(v, sizeof(v), "%lld", (long long)reset);
  eg_http_req_add_header(c->req, "x-ratelimit-reset", v);
  eg_http_req_add_header(c->req, "x-ratelimit-resource", "core");
  snprintf(v, sizeof(v), "%04X:%04X:%06llX:%06llX:%08llX",
           (unsigned)(sim->seed & 0xffff), (unsigned)(n >> 40 & 0xffff),
           (unsigned long long)(n >> 24 & 0xffffff),
           (unsigned long long)(gs_splitmix64(n) & 0xffffff),
           (unsigned long long)(n & 0xffffffff));
  eg_http_req_add_header(c->req, "x-github-request-id", v);
  eg_http_req_add_header(c->req, "x-github-api-version-selected", "2022-11-28");
  eg_http_req_add_header(c->req, "x-github-media-type",
                         "github.v3; format=json");
  if (c->accepted_perm != NULL)
    eg_http_req_add_header(c->req, "x-accepted-github-permissions",
                           c->accepted_perm);
  if (c->link != NULL)
    eg_http_req_add_header(c->req, "link", c->link);
  if (c->retry_after_s > 0) {
    snprintf(v, sizeof(v), "%u", c->retry_after_s);
    eg_http_req_add_header(c->req, "retry-after", v);
  }
}

static void finish(struct gs_call *c) {
  struct gs_sim *sim = c->sim;

  gs_records_count(&sim->rec, c->ep, c->abort_conn ? 0 : c->status);
  eg_log(EG_LOG_DEBUG, "answer", EG_LSTR("method", c->method),
         EG_LSTR("endpoint", gs_ep_name(c->ep)),
         EG_LINT("status", c->abort_conn ? 0 : c->status),
         EG_LINT("delay_ms", c->delay_ms), EG_LBOOL("dropped", c->abort_conn));
  if (!c->abort_conn)
    add_headers(c);
  if ((c->delay_ms > 0 || c->abort_conn) && !atomic_load(&sim->stopping)) {
    char *copy = NULL;
    uint64_t due = gs_now_ns() + (uint64_t)c->delay_ms * 1000000u;
    if (!c->abort_conn && c->len > 0) {
      copy = malloc(c->len);
      if (copy != NULL)
        memcpy(copy, c->body, c->len);
    }
    if ((c->abort_conn || c->len == 0 || copy != NULL) &&
        gs_timer_add(sim->timer, due, c->req, c->status, copy, c->len,
                     c->abort_conn) == 0)
      goto done;
    free(copy);
  }
  if (c->abort_conn)
    eg_http_req_abort(c->req);
  else
    eg_http_respond(c->req, c->status, c->len > 0 ? CT_JSON : NULL, c->body,
                    c->len);
done:
  free(c->owned);
  free(c->link);
}

/* ---- authentication ---- */

static const char *bearer(const char *authz) {
  if (authz == NULL)
    return NULL;
  if (strncasecmp(authz, "Bearer ", 7) == 0)
    return authz + 7;
  if (strncasecmp(authz, "token ", 6) == 0)
    return authz + 6;
  return NULL;
}

/* Checks the installation token for a /repos/{o}/{r}/... call needing
 * perm at level. @returns true when the call may proceed. */
static bool check_repo_auth(struct gs_call *c, const char *perm, int level) {
  struct gs_sim *sim = c->sim;
  const char *authz = eg_http_req_header(c->req, "Authorization");
  const char *tok = bearer(authz);
  struct gs_token *t;
  char full[512];

  snprintf(full, sizeof(full), "%.*s/%.*s", (int)c->seglen[1], c->seg[1],
           (int)c->seglen[2], c->seg[2]);
  if (strcmp(perm, "actions") == 0)
    c->accepted_perm =
        level == GS_PERM_WRITE ? "actions=write" : "actions=read";
  else
    c->accepted_perm =
        level == GS_PERM_WRITE ? "deployments=write" : "deployments=read";
  if (authz == NULL) {
    gs_call_error(c, 401, "Requires authentication");
    return false;
  }
  t = tok != NULL ? gs_tokens_find(&sim->tokens, tok) : NULL;
  if (t == NULL || atomic_load(&t->expires_ms) <= gs_wall_ms()) {
    gs_call_error(c, 401, "Bad credentials");
    return false;
  }
  c->tok = t;
  c->rl = t->inst;
  c->repo = gs_map_get(&sim->sc->by_repo_name, gs_hash_str(full), full);
  if (c->repo == NULL) {
    gs_call_error(c, 404, "Not Found");
    return false;
  }
  if (c->repo->inst != t->inst || !gs_token_has_repo(t, c->repo->id)) {
    if (sim->sc->foreign_repo_status == 403)
      gs_call_error(c, 403, "Resource not accessible by integration");
    else
      gs_call_error(c, 404, "Not Found");
    return false;
  }
  if (gs_perms_level(&t->perms, perm) < level) {
    gs_call_error(c, 403, "Resource not accessible by integration");
    return false;
  }
  if (sim->sc->rate_limit_enforce &&
      atomic_load(&t->inst->rl_used) >= sim->sc->rate_limit) {
    c->rl_exhausted = true;
    gs_call_error(
        c, 403,
        "API rate limit exceeded for installation. If you reach out to "
        "GitHub Support for help, please include the request ID.");
    return false;
  }
  return true;
}

bool gs_call_check_jwt(struct gs_call *c) {
  struct gs_jwt_result r;

  gs_auth_check_jwt(c->sim->sc, eg_http_req_header(c->req, "Authorization"),
                    gs_wall_ms() / 1000, &r);
  if (r.status != 0) {
    gs_call_error(c, r.status, r.message);
    return false;
  }
  return true;
}

/* ---- pagination ---- */

unsigned gs_call_query_uint(struct gs_call *c,
                            const char *name,
                            unsigned def,
                            unsigned max) {
  const char *v = eg_http_req_query(c->req, name);
  uint64_t n;

  if (v == NULL || eg_parse_u64(v, 0, UINT64_MAX, &n) != EG_OK)
    return def;
  if (n == 0)
    return def;
  return n > max ? max : (unsigned)n;
}

/* Builds a Link header for page/last over the call's path with the given
 * extra query (already encoded, may be empty). */
static void set_link(struct gs_call *c,
                     const char *extra,
                     unsigned per_page,
                     unsigned page,
                     unsigned last) {
  struct gs_buf b = {0};
  const char *path = eg_http_req_path(c->req);
  struct {
    const char *rel;
    unsigned page;
    bool on;
  } rels[] = {{"prev", page - 1, page > 1},
              {"next", page + 1, page < last},
              {"last", last, page < last},
              {"first", 1, page > 1}};

  for (size_t i = 0; i < 4; i++) {
    if (!rels[i].on)
      continue;
    if (b.len > 0)
      gs_buf_adds(&b, ", ");
    gs_buf_addf(&b, "<%s%s?%sper_page=%u&page=%u>; rel=\"%s\"",
                c->sim->base_url, path, extra, per_page, rels[i].page,
                rels[i].rel);
  }
  if (b.len == 0 || b.oom) {
    gs_buf_free(&b);
    return;
  }
  c->link = b.p;
}

/* ---- handlers ---- */

static struct gs_run *find_run(struct gs_call *c, size_t idx) {
  uint64_t id;
  struct gs_run *run;

  if (!gs_call_seg_u64(c, idx, &id)) {
    gs_call_error(c, 404, "Not Found");
    return NULL;
  }
  run = gs_map_get(&c->sim->sc->by_run, gs_hash_u64(id), NULL);
  if (run == NULL || run->repo != c->repo) {
    gs_call_error(c, 404, "Not Found");
    return NULL;
  }
  return run;
}

static void h_run(struct gs_call *c) {
  struct gs_run *run;

  if (!check_repo_auth(c, "actions", GS_PERM_READ))
    return;
  run = find_run(c, 5);
  if (run != NULL)
    gs_call_body(c, 200, run->body, run->len);
}

static void h_jobs(struct gs_call *c) {
  struct gs_run *run;
  const char *filter = eg_http_req_query(c->req, "filter");
  bool all;
  unsigned per_page, page, total = 0, last, skip, taken = 0;
  struct gs_buf b = {0};
  char extra[32] = "";

  if (!check_repo_auth(c, "actions", GS_PERM_READ))
    return;
  run = find_run(c, 5);
  if (run == NULL)
    return;
  if (filter != NULL && strcmp(filter, "latest") != 0 &&
      strcmp(filter, "all") != 0) {
    gs_call_error(c, 422,
                  "Invalid request.\n\nFor 'filter', \"value\" is not one of "
                  "[\"latest\", \"all\"].");
    return;
  }
  all = filter != NULL && strcmp(filter, "all") == 0;
  if (filter != NULL)
    snprintf(extra, sizeof(extra), "filter=%s&", filter);
  per_page = gs_call_query_uint(c, "per_page", 30, 100);
  page = gs_call_query_uint(c, "page", 1, 1000000);
  for (size_t i = 0; i < run->njobs; i++)
    if (all || run->jobs[i]->run_attempt == run->run_attempt)
      total++;
  last = total == 0 ? 1 : (total + per_page - 1) / per_page;
  skip = (page - 1) * per_page;
  gs_buf_addf(&b, "{\"total_count\":%u,\"jobs\":[", total);
  for (size_t i = 0, k = 0; i < run->njobs && taken < per_page; i++) {
    const struct gs_job *j = run->jobs[i];
    if (!all && j->run_attempt != run->run_attempt)
      continue;
    if (k++ < skip)
      continue;
    if (taken++ > 0)
      gs_buf_adds(&b, ",");
    gs_buf_add(&b, j->body, j->len);
  }
  gs_buf_adds(&b, "]}");
  set_link(c, extra, per_page, page, last);
  gs_call_owned(c, 200, &b);
}

static void h_job(struct gs_call *c) {
  uint64_t id;
  struct gs_job *job;

  if (!check_repo_auth(c, "actions", GS_PERM_READ))
    return;
  job = gs_call_seg_u64(c, 5, &id)
            ? gs_map_get(&c->sim->sc->by_job, gs_hash_u64(id), NULL)
            : NULL;
  if (job == NULL || job->run->repo != c->repo) {
    gs_call_error(c, 404, "Not Found");
    return;
  }
  gs_call_body(c, 200, job->body, job->len);
}

static void h_deployments(struct gs_call *c) {
  const char *env = eg_http_req_query(c->req, "environment");
  const char *sha = eg_http_req_query(c->req, "sha");
  const char *ref = eg_http_req_query(c->req, "ref");
  const char *task = eg_http_req_query(c->req, "task");
  unsigned per_page, page, total = 0, last, skip, taken = 0;
  struct gs_buf b = {0}, extra = {0};
  struct gs_repo *repo;

  if (!check_repo_auth(c, "deployments", GS_PERM_READ))
    return;
  repo = c->repo;
  per_page = gs_call_query_uint(c, "per_page", 30, 100);
  page = gs_call_query_uint(c, "page", 1, 1000000);
  for (size_t i = 0; i < 4; i++) {
    const char *names[] = {"environment", "sha", "ref", "task"};
    const char *vals[] = {env, sha, ref, task};
    if (vals[i] == NULL)
      continue;
    gs_buf_addf(&extra, "%s=", names[i]);
    gs_buf_add_urlenc(&extra, vals[i]);
    gs_buf_adds(&extra, "&");
  }
#define DEP_MATCH(d)                                                           \
  ((env == NULL || strcmp((d)->environment, env) == 0) &&                      \
   (sha == NULL || strcmp((d)->sha, sha) == 0) &&                              \
   (ref == NULL || strcmp((d)->ref, ref) == 0) &&                              \
   (task == NULL || strcmp((d)->task, task) == 0))
  for (size_t i = 0; i < repo->ndeps; i++)
    if (DEP_MATCH(repo->deps[i]))
      total++;
  last = total == 0 ? 1 : (total + per_page - 1) / per_page;
  skip = (page - 1) * per_page;
  gs_buf_adds(&b, "[");
  for (size_t i = 0, k = 0; i < repo->ndeps && taken < per_page; i++) {
    const struct gs_deployment *d = repo->deps[i];
    if (!DEP_MATCH(d) || k++ < skip)
      continue;
    if (taken++ > 0)
      gs_buf_adds(&b, ",");
    gs_buf_add(&b, d->body, d->len);
  }
#undef DEP_MATCH
  gs_buf_adds(&b, "]");
  set_link(c, extra.p != NULL ? extra.p : "", per_page, page, last);
  gs_buf_free(&extra);
  gs_call_owned(c, 200, &b);
}

static void h_statuses(struct gs_call *c) {
  uint64_t id;
  struct gs_deployment *d;
  unsigned per_page, page, last, skip, taken = 0;
  struct gs_buf b = {0};

  if (!check_repo_auth(c, "deployments", GS_PERM_READ))
    return;
  d = gs_call_seg_u64(c, 4, &id)
          ? gs_map_get(&c->sim->sc->by_dep, gs_hash_u64(id), NULL)
          : NULL;
  if (d == NULL || d->repo != c->repo) {
    gs_call_error(c, 404, "Not Found");
    return;
  }
  per_page = gs_call_query_uint(c, "per_page", 30, 100);
  page = gs_call_query_uint(c, "page", 1, 1000000);
  last = d->nstatuses == 0
             ? 1
             : (unsigned)((d->nstatuses + per_page - 1) / per_page);
  skip = (page - 1) * per_page;
  gs_buf_adds(&b, "[");
  /* Newest first: the scenario lists them oldest first. */
  for (size_t k = 0; k < d->nstatuses && taken < per_page; k++) {
    const struct gs_status *st = &d->statuses[d->nstatuses - 1 - k];
    if (k < skip)
      continue;
    if (taken++ > 0)
      gs_buf_adds(&b, ",");
    gs_buf_add(&b, st->body, st->len);
  }
  gs_buf_adds(&b, "]");
  set_link(c, "", per_page, page, last);
  gs_call_owned(c, 200, &b);
}

static void h_approvals(struct gs_call *c) {
  struct gs_run *run;

  if (!check_repo_auth(c, "actions", GS_PERM_READ))
    return;
  run = find_run(c, 5);
  if (run != NULL)
    gs_call_body(c, 200, run->approvals_body, run->approvals_len);
}

static void h_pending(struct gs_call *c) {
  struct gs_run *run;
  struct gs_buf b = {0};
  size_t n = 0;

  if (!check_repo_auth(c, "actions", GS_PERM_READ))
    return;
  run = find_run(c, 5);
  if (run == NULL)
    return;
  gs_buf_adds(&b, "[");
  pthread_mutex_lock(&c->sim->state_lock);
  for (size_t k = 0; k < run->npending; k++) {
    if (run->pending[k].reviewed != 0)
      continue;
    if (n++ > 0)
      gs_buf_adds(&b, ",");
    gs_buf_add(&b, run->pending[k].body, run->pending[k].len);
  }
  pthread_mutex_unlock(&c->sim->state_lock);
  gs_buf_adds(&b, "]");
  gs_call_owned(c, 200, &b);
}

static void h_review(struct gs_call *c) {
  struct gs_sim *sim = c->sim;
  struct gs_run *run;
  size_t len;
  const char *body = eg_http_req_body(c->req, &len);
  json_t *o;
  const char *env, *state, *comment;
  struct gs_pending *p = NULL;
  struct gs_review_rec rec = {0};

  if (!check_repo_auth(c, "deployments", GS_PERM_WRITE))
    return;
  run = find_run(c, 5);
  if (run == NULL)
    return;
  o = json_loadb(body, len, 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    gs_call_error(c, 400, "Problems parsing JSON");
    return;
  }
  env = json_string_value(json_object_get(o, "environment_name"));
  state = json_string_value(json_object_get(o, "state"));
  comment = json_string_value(json_object_get(o, "comment"));
  if (env == NULL) {
    gs_call_error(c, 422,
                  "Invalid request.\n\n\"environment_name\" wasn't supplied.");
    goto out;
  }
  if (json_object_get(o, "state") != NULL &&
      (state == NULL ||
       (strcmp(state, "approved") != 0 && strcmp(state, "rejected") != 0))) {
    gs_call_error(
        c, 422,
        "Invalid request.\n\nFor 'properties/state', the value is not "
        "one of [\"approved\", \"rejected\"].");
    goto out;
  }
  if ((json_object_get(o, "comment") != NULL && comment == NULL) ||
      (state == NULL && comment == NULL)) {
    gs_call_error(c, 422,
                  "Invalid request.\n\n\"comment\" wasn't supplied or is not a "
                  "string (required when \"state\" is not provided).");
    goto out;
  }
  if (comment != NULL && strlen(comment) > 1024) {
    gs_call_error(c, 422,
                  "Invalid request.\n\n\"comment\" is longer than 1024 "
                  "characters.");
    goto out;
  }
  pthread_mutex_lock(&sim->state_lock);
  for (size_t k = 0; k < run->npending; k++)
    if (strcasecmp(run->pending[k].environment, env) == 0)
      p = &run->pending[k];
  if (p == NULL) {
    gs_call_error(c, 422,
                  "No pending deployment requests to approve or reject");
  } else if (p->reviewed != 0) {
    set_validation_failed(
        c, "DeploymentProtectionRule",
        "Deployment protection rule has already been reviewed");
  } else {
    if (state != NULL)
      p->reviewed = strcmp(state, "approved") == 0 ? 1 : 2;
    gs_call_body(c, 204, NULL, 0);
  }
  pthread_mutex_unlock(&sim->state_lock);
out:
  rec.run_id = run->id;
  rec.repo = run->repo->full_name;
  rec.environment = env;
  rec.state = state;
  rec.comment = comment;
  rec.token_sha256 = c->tok->sha256;
  rec.status = c->status;
  rec.at_ms = gs_wall_ms();
  if (gs_records_review(&sim->rec, &rec) != 0)
    eg_log(EG_LOG_WARN, "review not recorded (out of memory)");
  json_decref(o);
}

/* ---- App (JWT) endpoints ---- */

/* ---- dispatch ---- */

static void split(struct gs_call *c, const char *path) {
  const char *p = path;

  c->nseg = 0;
  while (*p == '/')
    p++;
  while (*p != '\0' && c->nseg < GS_MAX_SEGS) {
    const char *e = strchr(p, '/');
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
    c->seg[c->nseg] = p;
    c->seglen[c->nseg] = n;
    c->nseg++;
    p += n;
    while (*p == '/')
      p++;
  }
  if (*p != '\0')
    c->nseg = GS_MAX_SEGS + 1; /* too deep: matches nothing */
}

typedef void (*handler_fn)(struct gs_call *c);

/* Maps the path (after an optional GHES /api/v3 prefix) to an endpoint. */
static handler_fn route(struct gs_call *c) {
  bool get = strcmp(c->method, "GET") == 0;
  bool post = strcmp(c->method, "POST") == 0;

  if (seg_is(c, 0, "app")) {
    if (c->nseg == 4 && seg_is(c, 1, "installations") &&
        seg_is(c, 3, "access_tokens")) {
      c->ep = GS_EP_MINT;
      return post ? gs_app_mint : NULL;
    }
    if (seg_is(c, 1, "hook") && seg_is(c, 2, "deliveries")) {
      if (c->nseg == 3) {
        c->ep = GS_EP_DELIVERIES;
        return get ? gs_app_deliveries : NULL;
      }
      if (c->nseg == 4) {
        c->ep = GS_EP_DELIVERY;
        return get ? gs_app_delivery : NULL;
      }
      if (c->nseg == 5 && seg_is(c, 4, "attempts")) {
        c->ep = GS_EP_REDELIVER;
        return post ? gs_app_redeliver : NULL;
      }
    }
    return NULL;
  }
  if (!seg_is(c, 0, "repos") || c->nseg < 4)
    return NULL;
  if (seg_is(c, 3, "actions") && seg_is(c, 4, "runs") && c->nseg >= 6) {
    if (c->nseg == 6) {
      c->ep = GS_EP_RUN;
      return get ? h_run : NULL;
    }
    if (c->nseg == 7 && seg_is(c, 6, "jobs")) {
      c->ep = GS_EP_JOBS;
      return get ? h_jobs : NULL;
    }
    if (c->nseg == 7 && seg_is(c, 6, "approvals")) {
      c->ep = GS_EP_APPROVALS;
      return get ? h_approvals : NULL;
    }
    if (c->nseg == 7 && seg_is(c, 6, "pending_deployments")) {
      c->ep = GS_EP_PENDING;
      return get ? h_pending : NULL;
    }
    if (c->nseg == 7 && seg_is(c, 6, "deployment_protection_rule")) {
      c->ep = GS_EP_REVIEW;
      return post ? h_review : NULL;
    }
    return NULL;
  }
  if (c->nseg == 6 && seg_is(c, 3, "actions") && seg_is(c, 4, "jobs")) {
    c->ep = GS_EP_JOB;
    return get ? h_job : NULL;
  }
  if (c->nseg == 4 && seg_is(c, 3, "deployments")) {
    c->ep = GS_EP_DEPLOYMENTS;
    return get ? h_deployments : NULL;
  }
  if (c->nseg == 6 && seg_is(c, 3, "deployments") && seg_is(c, 5, "statuses")) {
    c->ep = GS_EP_STATUSES;
    return get ? h_statuses : NULL;
  }
  return NULL;
}

static uint64_t next_random(struct gs_sim *sim) {
  uint64_t n = atomic_fetch_add(&sim->rng_counter, 1);

  return gs_splitmix64(sim->seed ^ gs_splitmix64(n));
}

static void apply_fault(struct gs_call *c, const struct gs_fault_decision *d) {
  switch (d->kind) {
  case GS_FAULT_NONE:
    return;
  case GS_FAULT_500:
    gs_call_error(c, 500, "Server Error");
    break;
  case GS_FAULT_502:
    gs_call_body(c, 502, "{\"message\":\"Server Error\"}",
                 strlen("{\"message\":\"Server Error\"}"));
    break;
  case GS_FAULT_429:
    c->retry_after_s = d->retry_after_s;
    gs_call_error(c, 429, "API rate limit exceeded (simulated).");
    break;
  case GS_FAULT_403_PRIMARY:
    c->rl_exhausted = true;
    gs_call_error(
        c, 403,
        "API rate limit exceeded for installation. If you reach out to "
        "GitHub Support for help, please include the request ID.");
    break;
  case GS_FAULT_403_SECONDARY:
    c->retry_after_s = d->retry_after_s;
    gs_call_error(c, 403,
                  "You have exceeded a secondary rate limit. Please wait a few "
                  "minutes before you try again. If you reach out to GitHub "
                  "Support for help, please include the request ID.");
    break;
  case GS_FAULT_TIMEOUT:
    c->abort_conn = true;
    c->delay_ms = d->hold_ms;
    break;
  case GS_FAULT_RESET:
    c->abort_conn = true;
    break;
  }
  atomic_fetch_add(&c->sim->rec.faults_fired[c->ep], 1);
}

void gs_sim_handle(eg_http_req_t *req, void *ud) {
  struct gs_sim *sim = ud;
  struct gs_call c = {
      .sim = sim, .req = req, .ep = GS_EP_OTHER, .rl = &sim->app_rl};
  const char *path = eg_http_req_path(req);
  handler_fn fn;
  struct gs_fault_decision fd;
  struct gs_faults *faults;

  c.method = eg_http_req_method(req);
  if (!atomic_load(&sim->ready)) {
    eg_http_respond(req, 503, CT_JSON, "{\"message\":\"starting\"}",
                    strlen("{\"message\":\"starting\"}"));
    return;
  }
  if (strncmp(path, "/_sim/", 6) == 0 &&
      gs_control_handle(sim, req, c.method, path))
    return;
  if (strncmp(path, "/api/v3/", 8) == 0)
    path += 7;
  split(&c, path);
  fn = route(&c);
  if (c.ep != GS_EP_MINT && c.ep < GS_EP_DELIVERIES) {
    /* Rate-limit headers of injected faults name the token's
     * installation, as GitHub's would. */
    const char *tok = bearer(eg_http_req_header(req, "Authorization"));
    struct gs_token *t = tok != NULL ? gs_tokens_find(&sim->tokens, tok) : NULL;
    if (t != NULL)
      c.rl = t->inst;
  }
  faults = atomic_load(&sim->faults);
  gs_faults_decide(faults, c.ep, next_random(sim), &fd);
  c.delay_ms = fd.latency_ms;
  if (c.ep == GS_EP_OTHER) {
    gs_call_error(&c, 404, "Not Found");
  } else if (sim->sc->require_user_agent &&
             eg_http_req_header(req, "User-Agent") == NULL) {
    gs_call_error(&c, 403,
                  "Request forbidden by administrative rules. Please make sure "
                  "your request has a User-Agent header "
                  "(https://docs.github.com/en/rest/overview/resources-in-the-"
                  "rest-api#user-agent-required). Check "
                  "https://developer.github.com for other possible causes.");
  } else if (fd.kind != GS_FAULT_NONE) {
    apply_fault(&c, &fd);
  } else if (fn == NULL) {
    gs_call_error(&c, 404, "Not Found");
  } else {
    fn(&c);
  }
  if (c.abort_conn && fd.kind == GS_FAULT_TIMEOUT)
    c.delay_ms = fd.hold_ms + fd.latency_ms;
  finish(&c);
}

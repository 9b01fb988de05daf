/* The scenario model's building blocks: adding repositories, installations,
 * runs, jobs and deployments with their indexes, final ordering, and
 * freeing. scenario.c reads the file and the generate block with these. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *gs_ld_strdup(struct gs_ld *l, const char *s) {
  char *p;

  if (s == NULL)
    return NULL;
  p = strdup(s);
  if (p == NULL)
    l->oom = true;
  return p;
}

int gs_ld_fail(struct gs_ld *l, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(l->err, l->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* Appends p to a growable array of pointers. */
int gs_ld_push(struct gs_ld *l, void ***arr, size_t *n, size_t *cap, void *p) {
  if (*n == *cap) {
    size_t nc = *cap == 0 ? 16 : *cap * 2;
    void **na = realloc(*arr, nc * sizeof(*na));
    if (na == NULL) {
      l->oom = true;
      return -1;
    }
    *arr = na;
    *cap = nc;
  }
  (*arr)[(*n)++] = p;
  return 0;
}

void gs_ld_fake_sha(uint64_t seed, uint64_t id, char out[41]) {
  uint64_t x = gs_splitmix64(seed ^ gs_splitmix64(id));

  for (int i = 0; i < 40; i += 16) {
    char part[17];
    x = gs_splitmix64(x);
    snprintf(part, sizeof(part), "%016llx", (unsigned long long)x);
    memcpy(out + i, part, (size_t)(40 - i < 16 ? 40 - i : 16));
  }
  out[40] = '\0';
}

int gs_ld_add_repo(struct gs_ld *l,
                   uint64_t id,
                   const char *owner,
                   const char *name,
                   bool priv,
                   struct gs_repo **out) {
  struct gs_scenario *sc = l->sc;
  struct gs_repo *r;
  char idbuf[32];

  *out = NULL;
  snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)id);
  if (gs_map_get(&sc->by_repo_id, gs_hash_u64(id), NULL) != NULL)
    return gs_ld_fail(l, "repositories: duplicate id %s", idbuf);
  r = calloc(1, sizeof(*r));
  if (r == NULL) {
    l->oom = true;
    return -1;
  }
  r->id = id;
  r->owner = gs_ld_strdup(l, owner);
  r->name = gs_ld_strdup(l, name);
  r->private_repo = priv;
  r->full_name = malloc(strlen(owner) + strlen(name) + 2);
  if (r->full_name != NULL)
    snprintf(r->full_name, strlen(owner) + strlen(name) + 2, "%s/%s", owner,
             name);
  if (gs_ld_push(l, (void ***)&sc->repos, &sc->nrepos, &l->caprepos, r) != 0) {
    free(r->owner);
    free(r->name);
    free(r->full_name);
    free(r);
    return -1;
  }
  if (r->full_name == NULL || r->owner == NULL || r->name == NULL) {
    l->oom = true;
    return -1;
  }
  if (gs_map_get(&sc->by_repo_name, gs_hash_str(r->full_name), r->full_name) !=
      NULL)
    return gs_ld_fail(l, "repositories: duplicate name %s", r->full_name);
  if (gs_map_put(&sc->by_repo_id, gs_hash_u64(id), NULL, r) != 0 ||
      gs_map_put(&sc->by_repo_name, gs_hash_str(r->full_name), r->full_name,
                 r) != 0) {
    l->oom = true;
    return -1;
  }
  *out = r;
  return 0;
}

bool gs_ld_valid_name(const char *s) {
  if (s == NULL || *s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
    return false;
  for (; *s != '\0'; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
      return false;
  return true;
}

struct gs_installation *
gs_ld_add_inst(struct gs_ld *l, uint64_t id, const char *account) {
  struct gs_scenario *sc = l->sc;
  struct gs_installation *in = calloc(1, sizeof(*in));

  if (in == NULL) {
    l->oom = true;
    return NULL;
  }
  in->id = id;
  in->account = gs_ld_strdup(l, account);
  in->perms = sc->app.perms;
  if (gs_ld_push(l, (void ***)&sc->insts, &sc->ninsts, &l->capinsts, in) != 0) {
    free(in->account);
    free(in);
    return NULL;
  }
  if (gs_map_put(&sc->by_inst, gs_hash_u64(id), NULL, in) != 0) {
    l->oom = true;
    return NULL;
  }
  return in;
}

int gs_ld_inst_add_repo(struct gs_ld *l,
                        struct gs_installation *in,
                        struct gs_repo *r) {
  size_t cap = in->nrepos;
  struct gs_repo **nr;

  if (r->inst != NULL && r->inst != in)
    return gs_ld_fail(l,
                      "installations: repository %s is in two installations%s",
                      r->full_name, "");
  if (r->inst == in)
    return 0;
  /* Grow by doubling: the array's capacity is implied by powers of two. */
  if ((cap & (cap - 1)) == 0) {
    nr = realloc(in->repos, (cap == 0 ? 1 : cap * 2) * sizeof(*nr));
    if (nr == NULL) {
      l->oom = true;
      return -1;
    }
    in->repos = nr;
  }
  in->repos[in->nrepos++] = r;
  r->inst = in;
  return 0;
}

int gs_ld_set_pending(struct gs_ld *l,
                      struct gs_run *run,
                      const char **envs,
                      size_t n) {
  run->pending = calloc(n + 1, sizeof(*run->pending));
  if (run->pending == NULL) {
    l->oom = true;
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    run->pending[i].environment = gs_ld_strdup(l, envs[i]);
    run->pending[i].env_id = 160000000 + (gs_hash_str(envs[i]) % 1000000);
  }
  run->npending = n;
  return 0;
}

static int
run_add_job(struct gs_ld *l, struct gs_run *run, struct gs_job *job) {
  size_t cap = run->njobs;

  if ((cap & (cap - 1)) == 0) {
    struct gs_job **nj =
        realloc(run->jobs, (cap == 0 ? 1 : cap * 2) * sizeof(*nj));
    if (nj == NULL) {
      l->oom = true;
      return -1;
    }
    run->jobs = nj;
  }
  run->jobs[run->njobs++] = job;
  return 0;
}

struct gs_run *
gs_ld_new_run(struct gs_ld *l, uint64_t id, struct gs_repo *repo) {
  struct gs_scenario *sc = l->sc;
  struct gs_run *run;

  if (gs_map_get(&sc->by_run, gs_hash_u64(id), NULL) != NULL) {
    gs_ld_fail(l, "runs: duplicate id");
    return NULL;
  }
  run = calloc(1, sizeof(*run));
  if (run == NULL) {
    l->oom = true;
    return NULL;
  }
  run->id = id;
  run->repo = repo;
  if (gs_ld_push(l, (void ***)&sc->runs, &sc->nruns, &l->capruns, run) != 0) {
    free(run);
    return NULL;
  }
  if (gs_map_put(&sc->by_run, gs_hash_u64(id), NULL, run) != 0) {
    l->oom = true;
    return NULL;
  }
  return run;
}

struct gs_job *gs_ld_new_job(struct gs_ld *l, uint64_t id, struct gs_run *run) {
  struct gs_scenario *sc = l->sc;
  struct gs_job *job;

  if (gs_map_get(&sc->by_job, gs_hash_u64(id), NULL) != NULL) {
    gs_ld_fail(l, "jobs: duplicate id");
    return NULL;
  }
  job = calloc(1, sizeof(*job));
  if (job == NULL) {
    l->oom = true;
    return NULL;
  }
  job->id = id;
  job->run = run;
  job->run_attempt = run->run_attempt;
  if (gs_ld_push(l, (void ***)&sc->jobs, &sc->njobs, &l->capjobs, job) != 0) {
    free(job);
    return NULL;
  }
  if (gs_map_put(&sc->by_job, gs_hash_u64(id), NULL, job) != 0 ||
      run_add_job(l, run, job) != 0) {
    l->oom = true;
    return NULL;
  }
  return job;
}

struct gs_deployment *
gs_ld_new_dep(struct gs_ld *l, uint64_t id, struct gs_repo *repo) {
  struct gs_scenario *sc = l->sc;
  struct gs_deployment *d;

  if (gs_map_get(&sc->by_dep, gs_hash_u64(id), NULL) != NULL) {
    gs_ld_fail(l, "deployments: duplicate id");
    return NULL;
  }
  d = calloc(1, sizeof(*d));
  if (d == NULL) {
    l->oom = true;
    return NULL;
  }
  d->id = id;
  d->repo = repo;
  if (gs_ld_push(l, (void ***)&sc->deps, &sc->ndeps, &l->capdeps, d) != 0) {
    free(d);
    return NULL;
  }
  if (gs_map_put(&sc->by_dep, gs_hash_u64(id), NULL, d) != 0) {
    l->oom = true;
    return NULL;
  }
  return d;
}

char *gs_ld_job_url(struct gs_ld *l, const struct gs_job *job) {
  struct gs_buf b = {0};

  gs_buf_addf(&b, "https://github.com/%s/actions/runs/%llu/job/%llu",
              job->run->repo->full_name, (unsigned long long)job->run->id,
              (unsigned long long)job->id);
  if (b.oom) {
    gs_buf_free(&b);
    l->oom = true;
    return NULL;
  }
  return b.p;
}

static int cmp_job(const void *a, const void *b) {
  const struct gs_job *x = *(struct gs_job *const *)a;
  const struct gs_job *y = *(struct gs_job *const *)b;

  return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_dep_desc(const void *a, const void *b) {
  const struct gs_deployment *x = *(struct gs_deployment *const *)a;
  const struct gs_deployment *y = *(struct gs_deployment *const *)b;

  return x->id > y->id ? -1 : x->id < y->id;
}

/* Per-run jobs in id order and per-repository deployments newest first, so
 * list endpoints never scan the whole scenario. */
int gs_ld_finalize(struct gs_ld *l) {
  struct gs_scenario *sc = l->sc;

  for (size_t i = 0; i < sc->nruns; i++)
    if (sc->runs[i]->njobs > 1)
      qsort(sc->runs[i]->jobs, sc->runs[i]->njobs, sizeof(struct gs_job *),
            cmp_job);
  for (size_t i = 0; i < sc->ndeps; i++)
    sc->deps[i]->repo->ndeps++;
  for (size_t i = 0; i < sc->nrepos; i++) {
    struct gs_repo *r = sc->repos[i];
    if (r->ndeps == 0)
      continue;
    r->deps = calloc(r->ndeps, sizeof(*r->deps));
    if (r->deps == NULL) {
      l->oom = true;
      return -1;
    }
    r->ndeps = 0;
  }
  for (size_t i = 0; i < sc->ndeps; i++) {
    struct gs_repo *r = sc->deps[i]->repo;
    r->deps[r->ndeps++] = sc->deps[i];
  }
  for (size_t i = 0; i < sc->nrepos; i++)
    if (sc->repos[i]->ndeps > 1)
      qsort(sc->repos[i]->deps, sc->repos[i]->ndeps,
            sizeof(struct gs_deployment *), cmp_dep_desc);
  return 0;
}

static void free_run(struct gs_run *run) {
  free(run->name);
  free(run->path);
  free(run->event);
  free(run->head_sha);
  free(run->head_branch);
  free(run->head_repository);
  free(run->actor);
  free(run->triggering_actor);
  free(run->status);
  free(run->conclusion);
  free(run->expect);
  free(run->expect_reason);
  free(run->jobs);
  for (size_t i = 0; i < run->npending; i++) {
    free(run->pending[i].environment);
    free(run->pending[i].body);
  }
  free(run->pending);
  for (size_t i = 0; i < run->napprovals; i++) {
    struct gs_approval *a = &run->approvals[i];
    free(a->state);
    free(a->comment);
    free(a->user);
    for (size_t j = 0; j < a->nenvironments; j++)
      free(a->environments[j]);
    free(a->environments);
  }
  free(run->approvals);
  free(run->body);
  free(run->approvals_body);
  free(run);
}

void gs_scenario_free(struct gs_scenario *sc) {
  if (sc == NULL)
    return;
  free(sc->app.client_id);
  free(sc->app.slug);
  if (sc->app.public_key_pem != NULL) {
    free(sc->app.public_key_pem);
  }
  for (size_t i = 0; i < sc->ninsts; i++) {
    free(sc->insts[i]->account);
    free(sc->insts[i]->repos);
    free(sc->insts[i]);
  }
  free(sc->insts);
  for (size_t i = 0; i < sc->nrepos; i++) {
    struct gs_repo *r = sc->repos[i];
    free(r->owner);
    free(r->name);
    free(r->full_name);
    json_decref(r->json);
    json_decref(r->json_full);
    free(r->text);
    free(r->deps);
    free(r);
  }
  free(sc->repos);
  for (size_t i = 0; i < sc->nruns; i++)
    free_run(sc->runs[i]);
  free(sc->runs);
  for (size_t i = 0; i < sc->njobs; i++) {
    struct gs_job *j = sc->jobs[i];
    free(j->name);
    free(j->status);
    free(j->conclusion);
    free(j->head_sha);
    free(j->body);
    free(j);
  }
  free(sc->jobs);
  for (size_t i = 0; i < sc->ndeps; i++) {
    struct gs_deployment *d = sc->deps[i];
    for (size_t k = 0; k < d->nstatuses; k++) {
      free(d->statuses[k].state);
      free(d->statuses[k].description);
      free(d->statuses[k].log_url);
      free(d->statuses[k].target_url);
      free(d->statuses[k].body);
    }
    free(d->statuses);
    free(d->environment);
    free(d->sha);
    free(d->ref);
    free(d->task);
    free(d->creator);
    free(d->body);
    free(d);
  }
  free(sc->deps);
  for (size_t i = 0; i < sc->ndeliveries; i++) {
    free(sc->deliveries[i].guid);
    free(sc->deliveries[i].event);
    free(sc->deliveries[i].action);
    free(sc->deliveries[i].delivered_at);
  }
  free(sc->deliveries);
  json_decref(sc->faults);
  free(sc->gates_body);
  gs_map_free(&sc->by_inst);
  gs_map_free(&sc->by_repo_id);
  gs_map_free(&sc->by_repo_name);
  gs_map_free(&sc->by_run);
  gs_map_free(&sc->by_job);
  gs_map_free(&sc->by_dep);
  free(sc);
}

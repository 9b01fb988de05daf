/* Loads a scenario file into the simulator's model: the App, installations,
 * repositories, runs, jobs, deployments and hook deliveries, plus runs
 * generated in bulk for load tests. Validation errors name the field. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCENARIO_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define KEY_MAX_BYTES      ((size_t)64 * 1024)
#define GENERATE_MAX_RUNS  1000000u
#define GENERATE_MAX_INSTS 1000u

/* Optional string member: the default when absent; NULL for JSON null when
 * nullable. @returns 0, or -1 when present with the wrong type. */
static int get_str(struct gs_ld *l,
                   json_t *o,
                   const char *key,
                   const char *def,
                   bool nullable,
                   char **out,
                   const char *ctx) {
  json_t *v = json_object_get(o, key);

  *out = NULL;
  if (v == NULL) {
    *out = gs_ld_strdup(l, def);
    return 0;
  }
  if (json_is_null(v) && nullable)
    return 0;
  if (!json_is_string(v) || json_string_length(v) == 0) {
    snprintf(l->err, l->errlen, "%s.%s: must be a non-empty string", ctx, key);
    return -1;
  }
  *out = gs_ld_strdup(l, json_string_value(v));
  return 0;
}

static int get_u64(struct gs_ld *l,
                   json_t *o,
                   const char *key,
                   uint64_t def,
                   bool required,
                   uint64_t *out,
                   const char *ctx) {
  json_t *v = json_object_get(o, key);

  *out = def;
  if (v == NULL) {
    if (!required)
      return 0;
    snprintf(l->err, l->errlen, "%s.%s: required", ctx, key);
    return -1;
  }
  if (!json_is_integer(v) || json_integer_value(v) <= 0) {
    snprintf(l->err, l->errlen, "%s.%s: must be a positive integer", ctx, key);
    return -1;
  }
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

static int get_double(struct gs_ld *l,
                      json_t *o,
                      const char *key,
                      double def,
                      double min,
                      double max,
                      double *out,
                      const char *ctx) {
  json_t *v = json_object_get(o, key);

  *out = def;
  if (v == NULL)
    return 0;
  if (!json_is_number(v) || json_number_value(v) < min ||
      json_number_value(v) > max) {
    snprintf(l->err, l->errlen, "%s.%s: must be a number in [%g, %g]", ctx, key,
             min, max);
    return -1;
  }
  *out = json_number_value(v);
  return 0;
}

static struct gs_repo *repo_ref(struct gs_ld *l, json_t *o, const char *ctx) {
  json_t *v = json_object_get(o, "repository");
  json_t *vid = json_object_get(o, "repository_id");
  struct gs_repo *repo = NULL;

  if (json_is_string(v))
    repo = gs_map_get(&l->sc->by_repo_name, gs_hash_str(json_string_value(v)),
                      json_string_value(v));
  else if (json_is_integer(vid))
    repo = gs_map_get(&l->sc->by_repo_id,
                      gs_hash_u64((uint64_t)json_integer_value(vid)), NULL);
  else {
    gs_ld_fail(l, "%s: needs \"repository\" (owner/name) or \"repository_id\"",
               ctx);
    return NULL;
  }
  if (repo == NULL)
    gs_ld_fail(l, "%s: unknown repository", ctx);
  return repo;
}

static int load_repos(struct gs_ld *l, json_t *arr) {
  size_t i;
  json_t *o;

  if (arr == NULL)
    return 0;
  if (!json_is_array(arr))
    return gs_ld_fail(l, "repositories: must be an array");
  json_array_foreach(arr, i, o) {
    uint64_t id;
    const char *owner = json_string_value(json_object_get(o, "owner"));
    const char *name = json_string_value(json_object_get(o, "name"));
    struct gs_repo *r;
    if (get_u64(l, o, "id", 0, true, &id, "repositories[]") != 0)
      return -1;
    if (!gs_ld_valid_name(owner) || !gs_ld_valid_name(name))
      return gs_ld_fail(
          l, "repositories[]: owner and name must be [A-Za-z0-9._-]+");
    if (gs_ld_add_repo(l, id, owner, name,
                       json_is_true(json_object_get(o, "private")), &r) != 0)
      return -1;
  }
  return 0;
}

static int load_insts(struct gs_ld *l, json_t *arr) {
  size_t i;
  json_t *o;

  if (arr == NULL)
    return 0;
  if (!json_is_array(arr))
    return gs_ld_fail(l, "installations: must be an array");
  json_array_foreach(arr, i, o) {
    uint64_t id;
    const char *account = json_string_value(json_object_get(o, "account"));
    json_t *repos = json_object_get(o, "repositories");
    json_t *perms = json_object_get(o, "permissions");
    struct gs_installation *in;
    size_t j;
    json_t *rv;

    if (get_u64(l, o, "id", 0, true, &id, "installations[]") != 0)
      return -1;
    if (gs_map_get(&l->sc->by_inst, gs_hash_u64(id), NULL) != NULL)
      return gs_ld_fail(l, "installations: duplicate id");
    in = gs_ld_add_inst(l, id, account != NULL ? account : "octo-org");
    if (in == NULL)
      return -1;
    if (perms != NULL &&
        gs_perms_parse(perms, &in->perms, l->err, l->errlen) != 0)
      return -1;
    if (repos == NULL || (json_is_string(repos) &&
                          strcmp(json_string_value(repos), "all") == 0)) {
      in->all_repos = true;
      for (j = 0; j < l->sc->nrepos; j++) {
        struct gs_repo *r = l->sc->repos[j];
        if (r->inst == NULL &&
            (account == NULL || strcmp(r->owner, account) == 0) &&
            gs_ld_inst_add_repo(l, in, r) != 0)
          return -1;
      }
      continue;
    }
    if (!json_is_array(repos))
      return gs_ld_fail(
          l, "installations[].repositories: must be \"all\" or an array "
             "of ids or owner/name");
    json_array_foreach(repos, j, rv) {
      struct gs_repo *r = NULL;
      if (json_is_integer(rv))
        r = gs_map_get(&l->sc->by_repo_id,
                       gs_hash_u64((uint64_t)json_integer_value(rv)), NULL);
      else if (json_is_string(rv))
        r = gs_map_get(&l->sc->by_repo_name, gs_hash_str(json_string_value(rv)),
                       json_string_value(rv));
      if (r == NULL)
        return gs_ld_fail(l,
                          "installations[].repositories: unknown repository");
      if (gs_ld_inst_add_repo(l, in, r) != 0)
        return -1;
    }
  }
  return 0;
}

static int load_approvals(struct gs_ld *l, struct gs_run *run, json_t *arr) {
  size_t i;
  json_t *o;

  if (arr == NULL)
    return 0;
  if (!json_is_array(arr))
    return gs_ld_fail(l, "runs[].approvals: must be an array");
  run->approvals = calloc(json_array_size(arr) + 1, sizeof(*run->approvals));
  if (run->approvals == NULL) {
    l->oom = true;
    return -1;
  }
  json_array_foreach(arr, i, o) {
    struct gs_approval *a = &run->approvals[run->napprovals++];
    json_t *envs = json_object_get(o, "environments");
    size_t j;
    json_t *e;

    if (get_str(l, o, "state", "approved", false, &a->state,
                "runs[].approvals[]") != 0 ||
        get_str(l, o, "comment", "", false, &a->comment,
                "runs[].approvals[]") != 0 ||
        get_str(l, o, "user", "octocat", false, &a->user,
                "runs[].approvals[]") != 0)
      return -1;
    if (a->state != NULL && strcmp(a->state, "approved") != 0 &&
        strcmp(a->state, "rejected") != 0 && strcmp(a->state, "pending") != 0)
      return gs_ld_fail(
          l, "runs[].approvals[].state: must be approved, rejected or "
             "pending");
    if (!json_is_array(envs) || json_array_size(envs) == 0)
      return gs_ld_fail(l,
                        "runs[].approvals[].environments: must be a non-empty "
                        "array of names");
    a->environments = calloc(json_array_size(envs), sizeof(char *));
    if (a->environments == NULL) {
      l->oom = true;
      return -1;
    }
    json_array_foreach(envs, j, e) {
      if (!json_is_string(e))
        return gs_ld_fail(l, "runs[].approvals[].environments: names");
      a->environments[a->nenvironments++] =
          gs_ld_strdup(l, json_string_value(e));
    }
  }
  return 0;
}

static int load_runs(struct gs_ld *l, json_t *arr) {
  size_t i;
  json_t *o;

  if (arr == NULL)
    return 0;
  if (!json_is_array(arr))
    return gs_ld_fail(l, "runs: must be an array");
  json_array_foreach(arr, i, o) {
    uint64_t id;
    struct gs_repo *repo;
    struct gs_run *run;
    char sha[41];
    json_t *pend = json_object_get(o, "pending_deployments");
    const char *envs[16];
    size_t nenvs = 0;
    json_t *attempt = json_object_get(o, "run_attempt");

    if (get_u64(l, o, "id", 0, true, &id, "runs[]") != 0)
      return -1;
    repo = repo_ref(l, o, "runs[]");
    if (repo == NULL)
      return -1;
    run = gs_ld_new_run(l, id, repo);
    if (run == NULL)
      return -1;
    gs_ld_fake_sha(l->seed, id, sha);
    if (get_str(l, o, "name", "Release", false, &run->name, "runs[]") != 0 ||
        get_str(l, o, "path", ".github/workflows/release.yml", false,
                &run->path, "runs[]") != 0 ||
        get_str(l, o, "event", "workflow_dispatch", false, &run->event,
                "runs[]") != 0 ||
        get_str(l, o, "head_sha", sha, false, &run->head_sha, "runs[]") != 0 ||
        get_str(l, o, "head_branch", "main", false, &run->head_branch,
                "runs[]") != 0 ||
        get_str(l, o, "head_repository", repo->full_name, false,
                &run->head_repository, "runs[]") != 0 ||
        get_str(l, o, "actor", "octocat", false, &run->actor, "runs[]") != 0 ||
        get_str(l, o, "triggering_actor", run->actor, false,
                &run->triggering_actor, "runs[]") != 0 ||
        get_str(l, o, "status", "waiting", false, &run->status, "runs[]") !=
            0 ||
        get_str(l, o, "conclusion", NULL, true, &run->conclusion, "runs[]") !=
            0 ||
        get_str(l, o, "expect", NULL, true, &run->expect, "runs[]") != 0)
      return -1;
    if (strchr(run->head_repository, '/') == NULL)
      return gs_ld_fail(l, "runs[].head_repository: must be owner/name");
    run->run_attempt = 1;
    if (attempt != NULL) {
      if (!json_is_integer(attempt) || json_integer_value(attempt) < 1 ||
          json_integer_value(attempt) > 100)
        return gs_ld_fail(l, "runs[].run_attempt: must be 1..100");
      run->run_attempt = (unsigned)json_integer_value(attempt);
    }
    if (pend != NULL) {
      size_t j;
      json_t *e;
      if (!json_is_array(pend) || json_array_size(pend) > 16)
        return gs_ld_fail(
            l, "runs[].pending_deployments: must be an array of at most "
               "16 environment names");
      json_array_foreach(pend, j, e) {
        if (!json_is_string(e))
          return gs_ld_fail(l, "runs[].pending_deployments: names");
        envs[nenvs++] = json_string_value(e);
      }
    }
    if (gs_ld_set_pending(l, run, envs, nenvs) != 0 ||
        load_approvals(l, run, json_object_get(o, "approvals")) != 0)
      return -1;
    if (l->oom)
      return -1;
  }
  return 0;
}

static int load_jobs(struct gs_ld *l, json_t *arr) {
  size_t i;
  json_t *o;

  if (arr == NULL)
    return 0;
  if (!json_is_array(arr))
    return gs_ld_fail(l, "jobs: must be an array");
  json_array_foreach(arr, i, o) {
    uint64_t id, run_id;
    struct gs_run *run;
    struct gs_job *job;
    json_t *attempt = json_object_get(o, "run_attempt");

    if (get_u64(l, o, "id", 0, true, &id, "jobs[]") != 0 ||
        get_u64(l, o, "run_id", 0, true, &run_id, "jobs[]") != 0)
      return -1;
    run = gs_map_get(&l->sc->by_run, gs_hash_u64(run_id), NULL);
    if (run == NULL)
      return gs_ld_fail(l, "jobs[].run_id: unknown run");
    job = gs_ld_new_job(l, id, run);
    if (job == NULL)
      return -1;
    if (get_str(l, o, "name", "build", false, &job->name, "jobs[]") != 0 ||
        get_str(l, o, "status", "completed", false, &job->status, "jobs[]") !=
            0 ||
        get_str(l, o, "conclusion",
                strcmp(job->status, "completed") == 0 ? "success" : NULL, true,
                &job->conclusion, "jobs[]") != 0 ||
        get_str(l, o, "head_sha", run->head_sha, false, &job->head_sha,
                "jobs[]") != 0)
      return -1;
    if (attempt != NULL) {
      if (!json_is_integer(attempt) || json_integer_value(attempt) < 1 ||
          json_integer_value(attempt) > 100)
        return gs_ld_fail(l, "jobs[].run_attempt: must be 1..100");
      job->run_attempt = (unsigned)json_integer_value(attempt);
    }
    if (l->oom)
      return -1;
  }
  return 0;
}

static int
load_statuses(struct gs_ld *l, struct gs_deployment *d, json_t *arr) {
  size_t i;
  json_t *o;

  if (arr == NULL)
    return 0;
  if (!json_is_array(arr))
    return gs_ld_fail(l, "deployments[].statuses: must be an array");
  d->statuses = calloc(json_array_size(arr) + 1, sizeof(*d->statuses));
  if (d->statuses == NULL) {
    l->oom = true;
    return -1;
  }
  json_array_foreach(arr, i, o) {
    struct gs_status *st = &d->statuses[d->nstatuses++];
    json_t *jid = json_object_get(o, "job_id");
    static const char *const states[] = {"error",       "failure", "inactive",
                                         "in_progress", "queued",  "pending",
                                         "success"};
    bool ok = false;

    if (get_str(l, o, "state", "success", false, &st->state,
                "deployments[].statuses[]") != 0 ||
        get_str(l, o, "description", "", false, &st->description,
                "deployments[].statuses[]") != 0 ||
        get_str(l, o, "log_url", NULL, true, &st->log_url,
                "deployments[].statuses[]") != 0 ||
        get_str(l, o, "target_url", NULL, true, &st->target_url,
                "deployments[].statuses[]") != 0)
      return -1;
    for (size_t k = 0;
         st->state != NULL && k < sizeof(states) / sizeof(*states); k++)
      ok = ok || strcmp(st->state, states[k]) == 0;
    if (!ok)
      return gs_ld_fail(
          l, "deployments[].statuses[].state: must be error, failure, "
             "inactive, in_progress, queued, pending or success");
    if (jid != NULL) {
      struct gs_job *job;
      if (!json_is_integer(jid))
        return gs_ld_fail(l, "deployments[].statuses[].job_id: integer");
      job = gs_map_get(&l->sc->by_job,
                       gs_hash_u64((uint64_t)json_integer_value(jid)), NULL);
      if (job == NULL)
        return gs_ld_fail(l, "deployments[].statuses[].job_id: unknown job");
      if (st->log_url == NULL)
        st->log_url = gs_ld_job_url(l, job);
      if (st->target_url == NULL)
        st->target_url = gs_ld_job_url(l, job);
    }
  }
  return 0;
}

static int load_deps(struct gs_ld *l, json_t *arr) {
  size_t i;
  json_t *o;

  if (arr == NULL)
    return 0;
  if (!json_is_array(arr))
    return gs_ld_fail(l, "deployments: must be an array");
  json_array_foreach(arr, i, o) {
    uint64_t id, run_id;
    struct gs_repo *repo;
    struct gs_run *run = NULL;
    struct gs_deployment *d;

    if (get_u64(l, o, "id", 0, true, &id, "deployments[]") != 0 ||
        get_u64(l, o, "run_id", 0, false, &run_id, "deployments[]") != 0)
      return -1;
    if (run_id != 0) {
      run = gs_map_get(&l->sc->by_run, gs_hash_u64(run_id), NULL);
      if (run == NULL)
        return gs_ld_fail(l, "deployments[].run_id: unknown run");
      repo = run->repo;
    } else {
      repo = repo_ref(l, o, "deployments[]");
      if (repo == NULL)
        return -1;
    }
    d = gs_ld_new_dep(l, id, repo);
    if (d == NULL)
      return -1;
    if (get_str(l, o, "environment", NULL, false, &d->environment,
                "deployments[]") != 0 ||
        get_str(l, o, "sha", run != NULL ? run->head_sha : NULL, false, &d->sha,
                "deployments[]") != 0 ||
        get_str(l, o, "ref", run != NULL ? run->head_branch : "main", false,
                &d->ref, "deployments[]") != 0 ||
        get_str(l, o, "task", "deploy", false, &d->task, "deployments[]") !=
            0 ||
        get_str(l, o, "creator", "github-actions[bot]", false, &d->creator,
                "deployments[]") != 0)
      return -1;
    if (d->environment == NULL || d->sha == NULL)
      return gs_ld_fail(l, "deployments[]: environment and sha (or run_id) are "
                           "required");
    if (load_statuses(l, d, json_object_get(o, "statuses")) != 0)
      return -1;
    if (l->oom)
      return -1;
  }
  return 0;
}

static int load_deliveries(struct gs_ld *l, json_t *arr) {
  struct gs_scenario *sc = l->sc;
  size_t i;
  json_t *o;

  if (arr == NULL)
    return 0;
  if (!json_is_array(arr))
    return gs_ld_fail(l, "hook_deliveries: must be an array");
  sc->deliveries = calloc(json_array_size(arr) + 1, sizeof(*sc->deliveries));
  if (sc->deliveries == NULL) {
    l->oom = true;
    return -1;
  }
  json_array_foreach(arr, i, o) {
    struct gs_delivery *d = &sc->deliveries[sc->ndeliveries++];
    uint64_t code;
    char guid[48];
    uint64_t x;

    if (get_u64(l, o, "id", 0, true, &d->id, "hook_deliveries[]") != 0 ||
        get_u64(l, o, "status_code", 200, false, &code, "hook_deliveries[]") !=
            0 ||
        get_u64(l, o, "installation_id", 0, false, &d->installation_id,
                "hook_deliveries[]") != 0 ||
        get_u64(l, o, "repository_id", 0, false, &d->repository_id,
                "hook_deliveries[]") != 0 ||
        get_double(l, o, "duration", 0.27, 0, 1e6, &d->duration,
                   "hook_deliveries[]") != 0)
      return -1;
    for (size_t k = 0; k + 1 < sc->ndeliveries; k++)
      if (sc->deliveries[k].id == d->id)
        return gs_ld_fail(l, "hook_deliveries: duplicate id");
    if (code > 599)
      return gs_ld_fail(l, "hook_deliveries[].status_code: must be <= 599");
    d->status_code = (int)code;
    x = gs_splitmix64(l->seed ^ d->id);
    snprintf(guid, sizeof(guid), "%08x-%04x-11e5-81e1-%012llx",
             (unsigned)(x >> 32), (unsigned)(x & 0xffff),
             (unsigned long long)(gs_splitmix64(x) & 0xffffffffffffull));
    if (get_str(l, o, "guid", guid, false, &d->guid, "hook_deliveries[]") !=
            0 ||
        get_str(l, o, "event", "deployment_protection_rule", false, &d->event,
                "hook_deliveries[]") != 0 ||
        get_str(l, o, "action", "requested", true, &d->action,
                "hook_deliveries[]") != 0 ||
        get_str(l, o, "delivered_at", "2024-01-01T00:00:00Z", false,
                &d->delivered_at, "hook_deliveries[]") != 0)
      return -1;
    d->redelivery = json_is_true(json_object_get(o, "redelivery"));
    if (l->oom)
      return -1;
  }
  return 0;
}

/* Bulk runs for load tests: N repositories x M runs, each with a gate job, a
 * gate deployment whose latest status is success and a pending deployment to
 * the release environment; a seeded fraction is made to fail one check. The
 * repositories are dealt round-robin to K installations with consecutive
 * ids, so that load spreads over installations as it does on GitHub. */
static int generate(struct gs_ld *l, json_t *g) {
  static const char *const reasons[] = {
      "gate_job_failed",   "gate_status", "event", "path", "fork",
      "no_gate_deployment"};
  uint64_t nrepos, nruns, inst_id, ninst, repo_id, run_id, job_id, dep_id,
      jobs_per;
  double reject;
  char *owner = NULL, *rel = NULL, *gate = NULL, *gate_job = NULL,
       *wpath = NULL, *event = NULL, *branch = NULL;
  struct gs_installation *in;
  uint64_t rng;
  int rc = -1;

  if (!json_is_object(g))
    return gs_ld_fail(l, "generate: must be an object");
  if (get_u64(l, g, "repos", 1, false, &nrepos, "generate") != 0 ||
      get_u64(l, g, "runs_per_repo", 1, false, &nruns, "generate") != 0 ||
      get_u64(l, g, "installation_id", 1000, false, &inst_id, "generate") !=
          0 ||
      get_u64(l, g, "installations", 1, false, &ninst, "generate") != 0 ||
      get_u64(l, g, "first_repository_id", 700000000, false, &repo_id,
              "generate") != 0 ||
      get_u64(l, g, "first_run_id", 800000000, false, &run_id, "generate") !=
          0 ||
      get_u64(l, g, "first_job_id", 900000000, false, &job_id, "generate") !=
          0 ||
      get_u64(l, g, "first_deployment_id", 600000000, false, &dep_id,
              "generate") != 0 ||
      get_u64(l, g, "jobs_per_run", 2, false, &jobs_per, "generate") != 0 ||
      get_double(l, g, "reject_fraction", 0.0, 0.0, 1.0, &reject, "generate") !=
          0)
    return -1;
  if (nrepos * nruns > GENERATE_MAX_RUNS || nrepos > GENERATE_MAX_RUNS ||
      nruns > GENERATE_MAX_RUNS)
    return gs_ld_fail(l, "generate: at most 1000000 runs in all");
  if (jobs_per < 2 || jobs_per > 1000)
    return gs_ld_fail(l, "generate.jobs_per_run: must be 2..1000");
  if (ninst > GENERATE_MAX_INSTS || ninst > nrepos)
    return gs_ld_fail(l, "generate.installations: must be 1..1000 and at "
                         "most repos");
  if (get_str(l, g, "owner", "load-org", false, &owner, "generate") != 0 ||
      get_str(l, g, "release_environment", "release", false, &rel,
              "generate") != 0 ||
      get_str(l, g, "gate_environment", "release-gate", false, &gate,
              "generate") != 0 ||
      get_str(l, g, "gate_job", "release-gate", false, &gate_job, "generate") !=
          0 ||
      get_str(l, g, "workflow_path", ".github/workflows/release.yml", false,
              &wpath, "generate") != 0 ||
      get_str(l, g, "event", "workflow_dispatch", false, &event, "generate") !=
          0 ||
      get_str(l, g, "branch", "main", false, &branch, "generate") != 0 ||
      l->oom)
    goto out;
  if (!gs_ld_valid_name(owner)) {
    gs_ld_fail(l, "generate.owner: must be [A-Za-z0-9._-]+");
    goto out;
  }
  rng = gs_splitmix64(l->seed ^ 0x67656e6572617465ull);
  for (uint64_t ri = 0; ri < nrepos; ri++) {
    char name[64];
    struct gs_repo *repo;
    uint64_t id = inst_id + ri % ninst;

    in = gs_map_get(&l->sc->by_inst, gs_hash_u64(id), NULL);
    if (in == NULL && (in = gs_ld_add_inst(l, id, owner)) == NULL)
      goto out;
    snprintf(name, sizeof(name), "repo-%llu", (unsigned long long)ri);
    if (gs_ld_add_repo(l, repo_id + ri, owner, name, true, &repo) != 0 ||
        gs_ld_inst_add_repo(l, in, repo) != 0)
      goto out;
    for (uint64_t k = 0; k < nruns; k++) {
      struct gs_run *run = gs_ld_new_run(l, run_id++, repo);
      struct gs_job *gj = NULL;
      const char *reason = NULL;
      char sha[41];
      const char *envs[1];

      if (run == NULL)
        goto out;
      rng = gs_splitmix64(rng);
      if (gs_unit(rng) < reject) {
        rng = gs_splitmix64(rng);
        reason = reasons[rng % (sizeof(reasons) / sizeof(*reasons))];
      }
      gs_ld_fake_sha(l->seed, run->id, sha);
      run->name = gs_ld_strdup(l, "Release");
      run->path = gs_ld_strdup(l, reason != NULL && strcmp(reason, "path") == 0
                                      ? ".github/workflows/other.yml"
                                      : wpath);
      run->event = gs_ld_strdup(
          l, reason != NULL && strcmp(reason, "event") == 0 ? "push" : event);
      run->head_sha = gs_ld_strdup(l, sha);
      run->head_branch = gs_ld_strdup(l, branch);
      if (reason != NULL && strcmp(reason, "fork") == 0) {
        char fork[160];
        snprintf(fork, sizeof(fork), "fork-of-%s/%s", owner, name);
        run->head_repository = gs_ld_strdup(l, fork);
      } else {
        run->head_repository = gs_ld_strdup(l, repo->full_name);
      }
      run->actor = gs_ld_strdup(l, "octocat");
      run->triggering_actor = gs_ld_strdup(l, "octocat");
      run->status = gs_ld_strdup(l, "waiting");
      run->run_attempt = 1;
      run->expect = gs_ld_strdup(l, reason != NULL ? "rejected" : "approved");
      run->expect_reason = gs_ld_strdup(l, reason);
      envs[0] = rel;
      if (gs_ld_set_pending(l, run, envs, 1) != 0)
        goto out;
      for (uint64_t j = 0; j < jobs_per; j++) {
        struct gs_job *job = gs_ld_new_job(l, job_id++, run);
        char jname[64];
        if (job == NULL)
          goto out;
        if (j == 0) {
          gj = job;
          job->name = gs_ld_strdup(l, gate_job);
          job->status = gs_ld_strdup(l, "completed");
          job->conclusion = gs_ld_strdup(
              l, reason != NULL && strcmp(reason, "gate_job_failed") == 0
                     ? "failure"
                     : "success");
        } else if (j + 1 == jobs_per) {
          job->name = gs_ld_strdup(l, "release");
          job->status = gs_ld_strdup(l, "waiting");
        } else {
          snprintf(jname, sizeof(jname), "build-%llu", (unsigned long long)j);
          job->name = gs_ld_strdup(l, jname);
          job->status = gs_ld_strdup(l, "completed");
          job->conclusion = gs_ld_strdup(l, "success");
        }
        job->head_sha = gs_ld_strdup(l, sha);
      }
      if (reason == NULL || strcmp(reason, "no_gate_deployment") != 0) {
        struct gs_deployment *d = gs_ld_new_dep(l, dep_id++, repo);
        struct gs_status *st;
        if (d == NULL)
          goto out;
        d->environment = gs_ld_strdup(l, gate);
        d->sha = gs_ld_strdup(l, sha);
        d->ref = gs_ld_strdup(l, branch);
        d->task = gs_ld_strdup(l, "deploy");
        d->creator = gs_ld_strdup(l, "github-actions[bot]");
        d->statuses = calloc(1, sizeof(*d->statuses));
        if (d->statuses == NULL) {
          l->oom = true;
          goto out;
        }
        d->nstatuses = 1;
        st = &d->statuses[0];
        st->state =
            gs_ld_strdup(l, reason != NULL && strcmp(reason, "gate_status") == 0
                                ? "failure"
                                : "success");
        st->description = gs_ld_strdup(l, "");
        st->log_url = gs_ld_job_url(l, gj);
        st->target_url = gs_ld_job_url(l, gj);
      }
      if (l->oom)
        goto out;
    }
  }
  rc = 0;
out:
  free(owner);
  free(rel);
  free(gate);
  free(gate_job);
  free(wpath);
  free(event);
  free(branch);
  return rc;
}

static int
load_app(struct gs_ld *l, json_t *app, const struct gs_scenario_opts *o) {
  struct gs_app *a = &l->sc->app;
  const char *keyfile = o->public_key_path;
  json_t *perms = json_object_get(app, "permissions");

  if (app != NULL && !json_is_object(app))
    return gs_ld_fail(l, "app: must be an object");
  if (get_u64(l, app, "id", 1, false, &a->id, "app") != 0 ||
      get_str(l, app, "client_id", "Iv1.ghsim0000000000", false, &a->client_id,
              "app") != 0 ||
      get_str(l, app, "slug", "envgate", false, &a->slug, "app") != 0)
    return -1;
  if (o->app_id != 0)
    a->id = o->app_id;
  if (o->client_id != NULL) {
    free(a->client_id);
    a->client_id = gs_ld_strdup(l, o->client_id);
  }
  if (perms != NULL) {
    if (gs_perms_parse(perms, &a->perms, l->err, l->errlen) != 0)
      return -1;
  } else {
    a->perms.n = 3;
    snprintf(a->perms.p[0].name, sizeof(a->perms.p[0].name), "actions");
    a->perms.p[0].level = GS_PERM_READ;
    snprintf(a->perms.p[1].name, sizeof(a->perms.p[1].name), "deployments");
    a->perms.p[1].level = GS_PERM_WRITE;
    snprintf(a->perms.p[2].name, sizeof(a->perms.p[2].name), "metadata");
    a->perms.p[2].level = GS_PERM_READ;
  }
  if (keyfile == NULL)
    keyfile = json_string_value(json_object_get(app, "public_key_file"));
  if (keyfile != NULL) {
    char *key = gs_read_file(keyfile, KEY_MAX_BYTES, NULL);
    char path[4096];

    /* A relative key path in the scenario is relative to the scenario. */
    if (key == NULL && o->public_key_path == NULL && keyfile[0] != '/' &&
        o->path != NULL && strrchr(o->path, '/') != NULL) {
      snprintf(path, sizeof(path), "%.*s/%s",
               (int)(strrchr(o->path, '/') - o->path), o->path, keyfile);
      key = gs_read_file(path, KEY_MAX_BYTES, NULL);
    }
    if (key == NULL)
      return gs_ld_fail(l, "%s: cannot read the App public key%s", keyfile, "");
    if (strstr(key, "-----BEGIN PUBLIC KEY-----") == NULL &&
        strstr(key, "-----BEGIN RSA PUBLIC KEY-----") == NULL) {
      free(key);
      return gs_ld_fail(l, "%s: not a PEM public key%s", keyfile, "");
    }
    a->public_key_pem = key;
  }
  return 0;
}

static int
load_settings(struct gs_ld *l, json_t *root, const struct gs_scenario_opts *o) {
  struct gs_scenario *sc = l->sc;
  uint64_t ttl, code, fstatus;
  json_t *rl = json_object_get(root, "rate_limit");
  json_t *ua = json_object_get(root, "require_user_agent");

  if (get_u64(l, root, "token_ttl_s", 3600, false, &ttl, "scenario") != 0 ||
      get_u64(l, root, "redelivery_status_code", 200, false, &code,
              "scenario") != 0 ||
      get_u64(l, root, "foreign_repo_status", 404, false, &fstatus,
              "scenario") != 0 ||
      get_u64(l, rl, "limit", 5000, false, &sc->rate_limit, "rate_limit") != 0)
    return -1;
  if (o->token_ttl_s >= 0)
    ttl = (uint64_t)o->token_ttl_s;
  sc->token_ttl_ms = (int64_t)ttl * 1000;
  if (code < 100 || code > 599)
    return gs_ld_fail(l, "redelivery_status_code: must be 100..599");
  sc->redelivery_status_code = (int)code;
  if (fstatus != 403 && fstatus != 404)
    return gs_ld_fail(l, "foreign_repo_status: must be 403 or 404");
  sc->foreign_repo_status = (int)fstatus;
  sc->rate_limit_enforce = json_is_true(json_object_get(rl, "enforce"));
  sc->require_user_agent = ua == NULL || json_is_true(ua);
  return 0;
}

int gs_scenario_load(const struct gs_scenario_opts *o,
                     struct gs_scenario **out,
                     char *err,
                     size_t errlen) {
  struct gs_ld l = {0};
  json_t *root = NULL;
  json_error_t jerr;
  int rc = -1;
  static const char *const known[] = {"app",
                                      "installations",
                                      "repositories",
                                      "runs",
                                      "jobs",
                                      "deployments",
                                      "hook_deliveries",
                                      "faults",
                                      "generate",
                                      "token_ttl_s",
                                      "rate_limit",
                                      "foreign_repo_status",
                                      "require_user_agent",
                                      "redelivery_status_code",
                                      "description"};
  const char *key;
  json_t *val;

  *out = NULL;
  l.err = err;
  l.errlen = errlen;
  l.seed = o->seed;
  l.sc = calloc(1, sizeof(*l.sc));
  if (l.sc == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (o->path != NULL) {
    size_t len;
    char *text = gs_read_file(o->path, SCENARIO_MAX_BYTES, &len);
    if (text == NULL) {
      snprintf(err, errlen, "%s: cannot read (missing or over 64 MiB)",
               o->path);
      goto done;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (root == NULL) {
      snprintf(err, errlen, "%s:%d: %s", o->path, jerr.line, jerr.text);
      goto done;
    }
    if (!json_is_object(root)) {
      snprintf(err, errlen, "%s: must be a JSON object", o->path);
      goto done;
    }
  } else {
    root = json_object();
    if (root == NULL)
      goto done;
  }
  json_object_foreach(root, key, val) {
    bool ok = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
      ok = ok || strcmp(key, known[i]) == 0;
    if (!ok) {
      snprintf(err, errlen, "scenario: unknown member \"%s\"", key);
      goto done;
    }
  }
  if (load_app(&l, json_object_get(root, "app"), o) != 0 ||
      load_settings(&l, root, o) != 0 ||
      load_repos(&l, json_object_get(root, "repositories")) != 0 ||
      load_insts(&l, json_object_get(root, "installations")) != 0 ||
      load_runs(&l, json_object_get(root, "runs")) != 0 ||
      load_jobs(&l, json_object_get(root, "jobs")) != 0 ||
      load_deps(&l, json_object_get(root, "deployments")) != 0 ||
      load_deliveries(&l, json_object_get(root, "hook_deliveries")) != 0)
    goto done;
  if (json_object_get(root, "generate") != NULL &&
      generate(&l, json_object_get(root, "generate")) != 0)
    goto done;
  if (l.oom || gs_ld_finalize(&l) != 0)
    goto done;
  if (json_object_get(root, "faults") != NULL) {
    struct gs_faults *f =
        gs_faults_parse(json_object_get(root, "faults"), err, errlen);
    if (f == NULL)
      goto done;
    gs_faults_free(f);
    l.sc->faults = json_incref(json_object_get(root, "faults"));
  }
  rc = 0;
done:
  if (l.oom)
    snprintf(err, errlen, "out of memory loading the scenario");
  json_decref(root);
  if (rc != 0) {
    gs_scenario_free(l.sc);
    return -1;
  }
  *out = l.sc;
  return 0;
}

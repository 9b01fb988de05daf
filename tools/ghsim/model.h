/* envgate-ghsim: building the scenario model (model.c), shared by the
 * scenario reader. Failures go through the loader: out of memory sets
 * l->oom, other problems write one line to l->err. */
#ifndef GS_MODEL_H
#define GS_MODEL_H

#include "ghsim.h"

struct gs_ld {
  struct gs_scenario *sc;
  char *err;
  size_t errlen;
  bool oom;
  uint64_t seed;
  size_t capinsts, caprepos, capruns, capjobs, capdeps;
};

/* strdup that sets l->oom on failure; NULL stays NULL. */
char *gs_ld_strdup(struct gs_ld *l, const char *s);
/* Writes the error line; always returns -1. */
int gs_ld_fail(struct gs_ld *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends p to a growable array of pointers. @returns 0 or -1. */
int gs_ld_push(struct gs_ld *l, void ***arr, size_t *n, size_t *cap, void *p);
/* A stable fake 40-hex sha for id. */
void gs_ld_fake_sha(uint64_t seed, uint64_t id, char out[41]);
/* True for GitHub owner/repository names: [A-Za-z0-9._-]+, not . or .. */
bool gs_ld_valid_name(const char *s);
int gs_ld_add_repo(struct gs_ld *l,
                   uint64_t id,
                   const char *owner,
                   const char *name,
                   bool priv,
                   struct gs_repo **out);
struct gs_installation *
gs_ld_add_inst(struct gs_ld *l, uint64_t id, const char *account);
int gs_ld_inst_add_repo(struct gs_ld *l,
                        struct gs_installation *in,
                        struct gs_repo *r);
int gs_ld_set_pending(struct gs_ld *l,
                      struct gs_run *run,
                      const char **envs,
                      size_t n);
struct gs_run *
gs_ld_new_run(struct gs_ld *l, uint64_t id, struct gs_repo *repo);
struct gs_job *gs_ld_new_job(struct gs_ld *l, uint64_t id, struct gs_run *run);
struct gs_deployment *
gs_ld_new_dep(struct gs_ld *l, uint64_t id, struct gs_repo *repo);
/* https://github.com/{o}/{r}/actions/runs/{run}/job/{job}; free() it. */
char *gs_ld_job_url(struct gs_ld *l, const struct gs_job *job);
/* Sorts per-run jobs and builds per-repository deployment lists. */
int gs_ld_finalize(struct gs_ld *l);

#endif /* GS_MODEL_H */

/* GitHub REST response parsers (simdjson, through json_dom) and the Actions
 * job URL parser. */
#include "eg/gh_parse.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "eg/timeutil.h"
#include "internal.h"
#include "json_dom.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What one parser extracts from the document's root into out. */
typedef int (*extract_fn)(eg__jv_t root,
                          void *out,
                          const char *what,
                          char *errbuf,
                          size_t errbuf_len);

struct extraction {
  extract_fn fn;
  void *out;
  const char *what;
  char *errbuf;
  size_t errbuf_len;
};

static int run_extraction(eg__jv_t root, void *ctx) {
  struct extraction *x = ctx;
  return x->fn(root, x->out, x->what, x->errbuf, x->errbuf_len);
}

/* Parses body and runs fn on it. Malformed bytes are EG_EPARSE (damage in
 * transit, worth a retry); fn's EG_EINVAL means well-formed but unusable. */
static int load(const char *body,
                size_t len,
                const char *what,
                extract_fn fn,
                void *out,
                char *errbuf,
                size_t errbuf_len) {
  struct extraction x = {fn, out, what, errbuf, errbuf_len};
  char why[EG_ERRBUF_LEN] = "";
  const char *reason = why;
  int rc;

  if (body == NULL && len > 0) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  rc = eg__json_dom(body, len, run_extraction, &x, why, sizeof(why));
  if (rc == EG_EPARSE) {
    if (strncmp(reason, "json: ", 6) == 0)
      reason += 6;
    eg__seterr(errbuf, errbuf_len, "%s: not well-formed JSON: %s", what,
               reason);
  } else if (rc == EG_ENOMEM) {
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
  }
  return rc;
}

/* obj[key], with *present false when absent or null. A key given twice is
 * an error: which of the two GitHub meant is unknowable. */
static int lookup(eg__jv_t obj,
                  const char *key,
                  eg__jv_t *v,
                  bool *present,
                  const char *what,
                  char *errbuf,
                  size_t errbuf_len) {
  int found = eg__jv_get(obj, key, v);

  if (found < 0) {
    eg__seterr(errbuf, errbuf_len, "%s: %s occurs twice", what, key);
    return EG_EINVAL;
  }
  *present = found > 0 && eg__jv_type(*v) != EG__J_NULL;
  return EG_OK;
}

static int no_memory(const char *what, char *errbuf, size_t errbuf_len) {
  eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
  return EG_ENOMEM;
}

/* Copies the string at obj[key] into *out (NULL when absent or null).
 * @returns EG_OK, EG_EINVAL (wrong type, a NUL inside, or required and
 * missing) or EG_ENOMEM. */
static int get_str(eg__jv_t obj,
                   const char *key,
                   bool required,
                   char **out,
                   const char *what,
                   char *errbuf,
                   size_t errbuf_len) {
  eg__jv_t v;
  bool present;
  const char *s;
  size_t n;
  int rc = lookup(obj, key, &v, &present, what, errbuf, errbuf_len);

  *out = NULL;
  if (rc != EG_OK)
    return rc;
  if (!present) {
    if (!required)
      return EG_OK;
    eg__seterr(errbuf, errbuf_len, "%s: %s is missing", what, key);
    return EG_EINVAL;
  }
  if (!eg__jv_string(v, &s, &n)) {
    eg__seterr(errbuf, errbuf_len, "%s: %s is not a string", what, key);
    return EG_EINVAL;
  }
  /* "\u0000" decodes to a NUL byte, which C strings cannot carry. */
  if (memchr(s, '\0', n) != NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: %s holds a NUL character", what, key);
    return EG_EINVAL;
  }
  *out = strndup(s, n);
  return *out != NULL ? EG_OK : no_memory(what, errbuf, errbuf_len);
}

/* Reads obj[key] as an id >= min into *out (0 when absent and optional). */
static int get_id(eg__jv_t obj,
                  const char *key,
                  bool required,
                  uint64_t min,
                  uint64_t *out,
                  const char *what,
                  char *errbuf,
                  size_t errbuf_len) {
  eg__jv_t v;
  bool present;
  int rc = lookup(obj, key, &v, &present, what, errbuf, errbuf_len);

  *out = 0;
  if (rc != EG_OK)
    return rc;
  if (!present) {
    if (!required)
      return EG_OK;
    eg__seterr(errbuf, errbuf_len, "%s: %s is missing", what, key);
    return EG_EINVAL;
  }
  if (!eg__jv_u64(v, out) || *out < min) {
    *out = 0;
    eg__seterr(errbuf, errbuf_len, "%s: %s is not an integer >= %llu", what,
               key, (unsigned long long)min);
    return EG_EINVAL;
  }
  return EG_OK;
}

/* obj[key] as an object; *present false when absent or null. */
static int get_obj(eg__jv_t obj,
                   const char *key,
                   eg__jv_t *out,
                   bool *present,
                   const char *what,
                   char *errbuf,
                   size_t errbuf_len) {
  int rc = lookup(obj, key, out, present, what, errbuf, errbuf_len);

  if (rc != EG_OK)
    return rc;
  if (*present && eg__jv_type(*out) != EG__J_OBJECT) {
    eg__seterr(errbuf, errbuf_len, "%s: %s is not an object", what, key);
    return EG_EINVAL;
  }
  return EG_OK;
}

static int need(eg__jv_t v,
                enum eg__jtype type,
                const char *what,
                char *errbuf,
                size_t errbuf_len) {
  if (eg__jv_type(v) == type)
    return EG_OK;
  eg__seterr(errbuf, errbuf_len, "%s: not a JSON %s", what,
             type == EG__J_ARRAY ? "array" : "object");
  return EG_EINVAL;
}

/* calloc for n items of size, NULL (and no error) for none. */
static int alloc_items(size_t n,
                       size_t size,
                       void **out,
                       const char *what,
                       char *errbuf,
                       size_t errbuf_len) {
  *out = NULL;
  if (n == 0)
    return EG_OK;
  *out = calloc(n, size);
  return *out != NULL ? EG_OK : no_memory(what, errbuf, errbuf_len);
}

void eg_gh_run_cleanup(eg_gh_run_t *run) {
  if (run == NULL)
    return;
  free(run->path);
  free(run->event);
  free(run->head_sha);
  free(run->head_repository_full_name);
  free(run->triggering_actor_login);
  memset(run, 0, sizeof(*run));
}

static int run_from(eg__jv_t root,
                    void *out,
                    const char *what,
                    char *errbuf,
                    size_t errbuf_len) {
  static const char head_what[] = "workflow run head_repository";
  eg_gh_run_t *run = out;
  eg__jv_t head, actor;
  bool has_head, has_actor;
  int rc;

  if ((rc = need(root, EG__J_OBJECT, what, errbuf, errbuf_len)) != EG_OK ||
      (rc = get_id(root, "id", false, 1, &run->id, what, errbuf, errbuf_len)) !=
          EG_OK ||
      (rc = get_str(root, "path", false, &run->path, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_str(root, "event", false, &run->event, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_str(root, "head_sha", false, &run->head_sha, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_obj(root, "head_repository", &head, &has_head, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_obj(root, "triggering_actor", &actor, &has_actor, what, errbuf,
                    errbuf_len)) != EG_OK)
    return rc;
  if (has_head &&
      ((rc = get_str(head, "full_name", false, &run->head_repository_full_name,
                     head_what, errbuf, errbuf_len)) != EG_OK ||
       (rc = get_id(head, "id", false, 1, &run->head_repository_id, head_what,
                    errbuf, errbuf_len)) != EG_OK))
    return rc;
  if (has_actor)
    return get_str(actor, "login", false, &run->triggering_actor_login,
                   "workflow run triggering_actor", errbuf, errbuf_len);
  return EG_OK;
}

int eg_gh_parse_run(const char *body,
                    size_t len,
                    eg_gh_run_t *run,
                    char *errbuf,
                    size_t errbuf_len) {
  static const char what[] = "workflow run";
  int rc;

  if (run == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(run, 0, sizeof(*run));
  rc = load(body, len, what, run_from, run, errbuf, errbuf_len);
  if (rc != EG_OK)
    eg_gh_run_cleanup(run);
  return rc;
}

void eg_gh_job_cleanup(eg_gh_job_t *job) {
  if (job == NULL)
    return;
  free(job->name);
  free(job->head_sha);
  free(job->status);
  free(job->conclusion);
  memset(job, 0, sizeof(*job));
}

static int job_from(
    eg__jv_t o, void *out, const char *what, char *errbuf, size_t errbuf_len) {
  eg_gh_job_t *job = out;
  int rc;

  memset(job, 0, sizeof(*job));
  if ((rc = need(o, EG__J_OBJECT, what, errbuf, errbuf_len)) != EG_OK ||
      (rc = get_id(o, "id", true, 1, &job->id, what, errbuf, errbuf_len)) !=
          EG_OK ||
      (rc = get_id(o, "run_id", true, 1, &job->run_id, what, errbuf,
                   errbuf_len)) != EG_OK ||
      (rc = get_str(o, "name", true, &job->name, what, errbuf, errbuf_len)) !=
          EG_OK ||
      (rc = get_str(o, "head_sha", true, &job->head_sha, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_str(o, "status", false, &job->status, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_str(o, "conclusion", false, &job->conclusion, what, errbuf,
                    errbuf_len)) != EG_OK) {
    eg_gh_job_cleanup(job);
    return rc;
  }
  return EG_OK;
}

int eg_gh_parse_job(const char *body,
                    size_t len,
                    eg_gh_job_t *job,
                    char *errbuf,
                    size_t errbuf_len) {
  static const char what[] = "workflow job";
  int rc;

  if (job == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(job, 0, sizeof(*job));
  rc = load(body, len, what, job_from, job, errbuf, errbuf_len);
  if (rc != EG_OK)
    eg_gh_job_cleanup(job);
  return rc;
}

void eg_gh_jobs_page_cleanup(eg_gh_jobs_page_t *page) {
  if (page == NULL)
    return;
  for (size_t i = 0; i < page->njobs; i++)
    eg_gh_job_cleanup(&page->jobs[i]);
  free(page->jobs);
  memset(page, 0, sizeof(*page));
}

static int jobs_page_from(eg__jv_t root,
                          void *out,
                          const char *what,
                          char *errbuf,
                          size_t errbuf_len) {
  eg_gh_jobs_page_t *page = out;
  eg__jv_t jobs, o, total;
  eg__jiter_t it;
  bool present;
  int rc;

  if ((rc = need(root, EG__J_OBJECT, what, errbuf, errbuf_len)) != EG_OK)
    return rc;
  /* total_count may be left out, but not null. */
  if (eg__jv_get(root, "total_count", &total) != 0) {
    if ((rc = get_id(root, "total_count", true, 0, &page->total_count, what,
                     errbuf, errbuf_len)) != EG_OK)
      return rc;
    page->has_total_count = true;
  }
  if ((rc = lookup(root, "jobs", &jobs, &present, what, errbuf, errbuf_len)) !=
      EG_OK)
    return rc;
  if (!present || !eg__jv_array_iter(jobs, &it)) {
    eg__seterr(errbuf, errbuf_len, "%s: jobs is %s", what,
               eg__jv_get(root, "jobs", &o) == 0 ? "missing" : "not an array");
    return EG_EINVAL;
  }
  if ((rc = alloc_items(eg__jv_array_size(jobs), sizeof(*page->jobs),
                        (void **)&page->jobs, what, errbuf, errbuf_len)) !=
      EG_OK)
    return rc;
  while (eg__jiter_next(&it, &o)) {
    rc = job_from(o, &page->jobs[page->njobs], "workflow jobs page: job",
                  errbuf, errbuf_len);
    if (rc != EG_OK)
      return rc;
    page->njobs++;
  }
  return EG_OK;
}

int eg_gh_parse_jobs_page(const char *body,
                          size_t len,
                          eg_gh_jobs_page_t *page,
                          char *errbuf,
                          size_t errbuf_len) {
  static const char what[] = "workflow jobs page";
  int rc;

  if (page == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(page, 0, sizeof(*page));
  rc = load(body, len, what, jobs_page_from, page, errbuf, errbuf_len);
  if (rc != EG_OK)
    eg_gh_jobs_page_cleanup(page);
  return rc;
}

void eg_gh_deployments_cleanup(eg_gh_deployments_t *list) {
  if (list == NULL)
    return;
  for (size_t i = 0; i < list->n; i++) {
    free(list->items[i].sha);
    free(list->items[i].environment);
  }
  free(list->items);
  memset(list, 0, sizeof(*list));
}

static int deployments_from(eg__jv_t root,
                            void *out,
                            const char *what,
                            char *errbuf,
                            size_t errbuf_len) {
  eg_gh_deployments_t *list = out;
  eg__jiter_t it;
  eg__jv_t o;
  int rc;

  if ((rc = need(root, EG__J_ARRAY, what, errbuf, errbuf_len)) != EG_OK ||
      (rc = alloc_items(eg__jv_array_size(root), sizeof(*list->items),
                        (void **)&list->items, what, errbuf, errbuf_len)) !=
          EG_OK)
    return rc;
  eg__jv_array_iter(root, &it);
  while (eg__jiter_next(&it, &o)) {
    eg_gh_deployment_t *d = &list->items[list->n];

    /* Counted first so that a failure below frees what was copied. */
    list->n++;
    if ((rc = need(o, EG__J_OBJECT, "deployment", errbuf, errbuf_len)) !=
            EG_OK ||
        (rc = get_id(o, "id", true, 1, &d->id, "deployment", errbuf,
                     errbuf_len)) != EG_OK ||
        (rc = get_str(o, "sha", false, &d->sha, "deployment", errbuf,
                      errbuf_len)) != EG_OK ||
        (rc = get_str(o, "environment", false, &d->environment, "deployment",
                      errbuf, errbuf_len)) != EG_OK)
      return rc;
  }
  return EG_OK;
}

int eg_gh_parse_deployments(const char *body,
                            size_t len,
                            eg_gh_deployments_t *list,
                            char *errbuf,
                            size_t errbuf_len) {
  static const char what[] = "deployments";
  int rc;

  if (list == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(list, 0, sizeof(*list));
  rc = load(body, len, what, deployments_from, list, errbuf, errbuf_len);
  if (rc != EG_OK)
    eg_gh_deployments_cleanup(list);
  return rc;
}

void eg_gh_status_cleanup(eg_gh_status_t *st) {
  if (st == NULL)
    return;
  free(st->state);
  free(st->log_url);
  free(st->target_url);
  memset(st, 0, sizeof(*st));
}

struct latest_status {
  eg_gh_status_t *st;
  bool *found;
};

static int latest_status_from(eg__jv_t root,
                              void *out,
                              const char *what,
                              char *errbuf,
                              size_t errbuf_len) {
  static const char swhat[] = "deployment status";
  struct latest_status *ls = out;
  eg_gh_status_t *st = ls->st;
  eg__jiter_t it;
  eg__jv_t o;
  int rc;

  if ((rc = need(root, EG__J_ARRAY, what, errbuf, errbuf_len)) != EG_OK)
    return rc;
  eg__jv_array_iter(root, &it);
  if (!eg__jiter_next(&it, &o))
    return EG_OK;
  if ((rc = need(o, EG__J_OBJECT, swhat, errbuf, errbuf_len)) != EG_OK ||
      (rc = get_id(o, "id", false, 1, &st->id, swhat, errbuf, errbuf_len)) !=
          EG_OK ||
      (rc = get_str(o, "state", true, &st->state, swhat, errbuf, errbuf_len)) !=
          EG_OK ||
      (rc = get_str(o, "log_url", false, &st->log_url, swhat, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_str(o, "target_url", false, &st->target_url, swhat, errbuf,
                    errbuf_len)) != EG_OK)
    return rc;
  *ls->found = true;
  return EG_OK;
}

int eg_gh_parse_latest_status(const char *body,
                              size_t len,
                              eg_gh_status_t *st,
                              bool *found,
                              char *errbuf,
                              size_t errbuf_len) {
  static const char what[] = "deployment statuses";
  struct latest_status ls = {st, found};
  int rc;

  if (st == NULL || found == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(st, 0, sizeof(*st));
  *found = false;
  rc = load(body, len, what, latest_status_from, &ls, errbuf, errbuf_len);
  if (rc != EG_OK) {
    eg_gh_status_cleanup(st);
    *found = false;
  }
  return rc;
}

static void approval_cleanup(eg_gh_approval_t *a) {
  free(a->state);
  free(a->login);
  for (size_t i = 0; i < a->nenvironments; i++)
    free(a->environments[i]);
  free(a->environments);
  memset(a, 0, sizeof(*a));
}

void eg_gh_approvals_cleanup(eg_gh_approvals_t *list) {
  if (list == NULL)
    return;
  for (size_t i = 0; i < list->n; i++)
    approval_cleanup(&list->items[i]);
  free(list->items);
  memset(list, 0, sizeof(*list));
}

static int approval_from(eg__jv_t o,
                         eg_gh_approval_t *a,
                         char *errbuf,
                         size_t errbuf_len) {
  static const char what[] = "approval";
  static const char ewhat[] = "approval environment";
  eg__jv_t user, envs, e;
  eg__jiter_t it;
  bool has_user, has_envs;
  int rc;

  if ((rc = need(o, EG__J_OBJECT, what, errbuf, errbuf_len)) != EG_OK ||
      (rc = get_str(o, "state", true, &a->state, what, errbuf, errbuf_len)) !=
          EG_OK ||
      (rc = get_obj(o, "user", &user, &has_user, what, errbuf, errbuf_len)) !=
          EG_OK)
    return rc;
  if (has_user && (rc = get_str(user, "login", false, &a->login,
                                "approval user", errbuf, errbuf_len)) != EG_OK)
    return rc;
  if ((rc = lookup(o, "environments", &envs, &has_envs, what, errbuf,
                   errbuf_len)) != EG_OK)
    return rc;
  if (!has_envs)
    return EG_OK;
  if (!eg__jv_array_iter(envs, &it)) {
    eg__seterr(errbuf, errbuf_len, "%s: environments is not an array", what);
    return EG_EINVAL;
  }
  if ((rc = alloc_items(eg__jv_array_size(envs), sizeof(*a->environments),
                        (void **)&a->environments, what, errbuf, errbuf_len)) !=
      EG_OK)
    return rc;
  while (eg__jiter_next(&it, &e)) {
    char *name;

    if ((rc = need(e, EG__J_OBJECT, ewhat, errbuf, errbuf_len)) != EG_OK ||
        (rc = get_str(e, "name", false, &name, ewhat, errbuf, errbuf_len)) !=
            EG_OK)
      return rc;
    if (name != NULL)
      a->environments[a->nenvironments++] = name;
  }
  return EG_OK;
}

static int approvals_from(eg__jv_t root,
                          void *out,
                          const char *what,
                          char *errbuf,
                          size_t errbuf_len) {
  eg_gh_approvals_t *list = out;
  eg__jiter_t it;
  eg__jv_t o;
  int rc;

  if ((rc = need(root, EG__J_ARRAY, what, errbuf, errbuf_len)) != EG_OK ||
      (rc = alloc_items(eg__jv_array_size(root), sizeof(*list->items),
                        (void **)&list->items, what, errbuf, errbuf_len)) !=
          EG_OK)
    return rc;
  eg__jv_array_iter(root, &it);
  while (eg__jiter_next(&it, &o)) {
    list->n++;
    if ((rc = approval_from(o, &list->items[list->n - 1], errbuf,
                            errbuf_len)) != EG_OK)
      return rc;
  }
  return EG_OK;
}

int eg_gh_parse_approvals(const char *body,
                          size_t len,
                          eg_gh_approvals_t *list,
                          char *errbuf,
                          size_t errbuf_len) {
  static const char what[] = "approvals";
  int rc;

  if (list == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(list, 0, sizeof(*list));
  rc = load(body, len, what, approvals_from, list, errbuf, errbuf_len);
  if (rc != EG_OK)
    eg_gh_approvals_cleanup(list);
  return rc;
}

void eg_gh_token_cleanup(eg_gh_token_t *tok) {
  if (tok == NULL)
    return;
  if (tok->token != NULL) {
    OPENSSL_cleanse(tok->token, strlen(tok->token));
    free(tok->token);
  }
  memset(tok, 0, sizeof(*tok));
}

static int token_from(eg__jv_t root,
                      void *out,
                      const char *what,
                      char *errbuf,
                      size_t errbuf_len) {
  eg_gh_token_t *tok = out;
  eg__jv_t v;
  bool present;
  const char *t, *at;
  size_t tlen, atlen;
  char when[64];
  int64_t ms;
  int rc;

  if ((rc = need(root, EG__J_OBJECT, what, errbuf, errbuf_len)) != EG_OK ||
      (rc = lookup(root, "token", &v, &present, what, errbuf, errbuf_len)) !=
          EG_OK)
    return rc;
  /* The token is checked in place, so that no message can quote it. */
  if (!present || !eg__jv_string(v, &t, &tlen)) {
    eg__seterr(errbuf, errbuf_len, "%s: token is %s", what,
               !present ? "missing" : "not a string");
    return EG_EINVAL;
  }
  if (tlen == 0 || tlen > EG_GH_INSTALLATION_TOKEN_MAX) {
    eg__seterr(errbuf, errbuf_len, "%s: token is not 1..%d bytes", what,
               EG_GH_INSTALLATION_TOKEN_MAX);
    return EG_EINVAL;
  }
  for (size_t i = 0; i < tlen; i++) {
    if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f) {
      eg__seterr(errbuf, errbuf_len,
                 "%s: token has a space or a non-printable byte", what);
      return EG_EINVAL;
    }
  }
  if ((rc = lookup(root, "expires_at", &v, &present, what, errbuf,
                   errbuf_len)) != EG_OK)
    return rc;
  /* Copied out to be parsed as a C string; a NUL inside is refused. */
  if (!present || !eg__jv_string(v, &at, &atlen) || atlen >= sizeof(when) ||
      memchr(at, '\0', atlen) != NULL) {
    when[0] = '\0';
  } else {
    memcpy(when, at, atlen);
    when[atlen] = '\0';
  }
  if (eg_time_parse_rfc3339(when, &ms) != EG_OK) {
    eg__seterr(errbuf, errbuf_len, "%s: expires_at is not an RFC 3339 UTC time",
               what);
    return EG_EINVAL;
  }
  tok->token = strndup(t, tlen);
  if (tok->token == NULL)
    return no_memory(what, errbuf, errbuf_len);
  tok->expires_at = ms / 1000;
  return EG_OK;
}

int eg_gh_parse_token(const char *body,
                      size_t len,
                      eg_gh_token_t *tok,
                      char *errbuf,
                      size_t errbuf_len) {
  static const char what[] = "installation token";
  int rc;

  if (tok == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(tok, 0, sizeof(*tok));
  rc = load(body, len, what, token_from, tok, errbuf, errbuf_len);
  if (rc != EG_OK)
    eg_gh_token_cleanup(tok);
  return rc;
}

/* ---- URLs ---- */

struct origin {
  const char *scheme; /* "https" or "http" */
  const char *host;   /* not NUL-terminated */
  size_t host_len;
  unsigned port;    /* explicit or the scheme's default */
  const char *rest; /* from the first '/', '?' or '#' after the authority */
};

/* Splits "scheme://host[:port]..." (no user info, no IPv6 literal needed:
 * GitHub hosts are names). @returns true when well-formed. */
static bool split_origin(const char *url, struct origin *o) {
  const char *p, *a, *colon = NULL;
  uint64_t port;

  if (strncasecmp(url, "https://", 8) == 0) {
    o->scheme = "https";
    o->port = 443;
    a = url + 8;
  } else if (strncasecmp(url, "http://", 7) == 0) {
    o->scheme = "http";
    o->port = 80;
    a = url + 7;
  } else {
    return false;
  }
  for (p = a; *p != '\0' && *p != '/' && *p != '?' && *p != '#'; p++) {
    unsigned char c = (unsigned char)*p;

    if (c == ':' && colon == NULL) {
      colon = p;
      continue;
    }
    /* Host names and port digits only: no user info ('@'), no escapes, no
     * brackets, no spaces or controls. */
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '-'))
      return false;
    if (colon != NULL && !(c >= '0' && c <= '9'))
      return false;
  }
  o->host = a;
  o->host_len = (size_t)((colon != NULL ? colon : p) - a);
  if (o->host_len == 0)
    return false;
  if (colon != NULL) {
    if (eg_parse_u64n(colon + 1, (size_t)(p - colon - 1), 1, 65535, &port) !=
        EG_OK)
      return false;
    o->port = (unsigned)port;
  }
  o->rest = p;
  return true;
}

static bool valid_name(const char *s, size_t len) {
  if (len == 0 || len >= EG_GH_NAME_LEN)
    return false;
  if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];

    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

int eg_gh_parse_job_url(const char *url,
                        const char *web_origin,
                        eg_gh_job_ref_t *ref) {
  struct origin want, got;
  const char *seg[8];
  size_t seglen[8];
  size_t nseg = 0;
  const char *p, *end;

  if (ref != NULL)
    memset(ref, 0, sizeof(*ref));
  if (url == NULL || web_origin == NULL || ref == NULL)
    return EG_EINVAL;
  if (!split_origin(web_origin, &want) || !split_origin(url, &got))
    return EG_EINVAL;
  if (strcmp(want.scheme, got.scheme) != 0 || want.port != got.port ||
      want.host_len != got.host_len ||
      strncasecmp(want.host, got.host, want.host_len) != 0)
    return EG_EINVAL;
  /* The path ends at a query or fragment. */
  end = got.rest + strcspn(got.rest, "?#");
  p = got.rest;
  while (p < end) {
    const char *s;

    if (*p != '/' || nseg == 8)
      return EG_EINVAL;
    s = ++p;
    while (p < end && *p != '/')
      p++;
    seg[nseg] = s;
    seglen[nseg] = (size_t)(p - s);
    nseg++;
  }
  if (nseg != 7)
    return EG_EINVAL;
  if (!valid_name(seg[0], seglen[0]) || !valid_name(seg[1], seglen[1]) ||
      seglen[2] != 7 || memcmp(seg[2], "actions", 7) != 0 || seglen[3] != 4 ||
      memcmp(seg[3], "runs", 4) != 0 || seglen[5] != 3 ||
      memcmp(seg[5], "job", 3) != 0 ||
      eg_parse_u64n(seg[4], seglen[4], 1, UINT64_MAX, &ref->run_id) != EG_OK ||
      eg_parse_u64n(seg[6], seglen[6], 1, UINT64_MAX, &ref->job_id) != EG_OK) {
    memset(ref, 0, sizeof(*ref));
    return EG_EINVAL;
  }
  memcpy(ref->owner, seg[0], seglen[0]);
  memcpy(ref->repo, seg[1], seglen[1]);
  return EG_OK;
}

int eg_gh_web_origin(const char *api_base, char *out, size_t out_len) {
  static const char github[] = "https://github.com";
  struct origin o;
  const char *src = github;
  size_t n = sizeof(github) - 1;

  if (out != NULL && out_len > 0)
    out[0] = '\0';
  if (api_base == NULL || out == NULL || !split_origin(api_base, &o))
    return EG_EINVAL;
  /* GHES serves the API under /api/v3 of the web host. */
  if (strcmp(o.rest, "/api/v3") == 0 || strcmp(o.rest, "/api/v3/") == 0) {
    src = api_base;
    n = (size_t)(o.rest - api_base);
  }
  if (n + 1 > out_len)
    return EG_ERANGE;
  memcpy(out, src, n);
  out[n] = '\0';
  return EG_OK;
}

/* GitHub REST response parsers (jansson) and the Actions job URL parser. */
#include "eg/gh_parse.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "eg/timeutil.h"
#include "internal.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Parses body; maps jansson's failures onto EG_EPARSE (damaged bytes) and
 * EG_EINVAL (well-formed but unusable). */
static int load(const char *body,
                size_t len,
                const char *what,
                json_t **root,
                char *errbuf,
                size_t errbuf_len) {
  json_error_t e;

  *root = NULL;
  if (body == NULL && len > 0) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  /* jansson leaves the error code unset when its first allocation fails
   * (lex_init), which then reads as whatever the stack held. */
  memset(&e, 0, sizeof(e));
  *root = json_loadb(body != NULL ? body : "", len, JSON_DECODE_ANY, &e);
  if (*root != NULL)
    return EG_OK;
  /* jansson can report a failed allocation as a number out of range or a
   * NUL in a string. Those two answers turn into permanent failures, so
   * they are confirmed by a second parse, which a real one repeats. */
  if (json_error_code(&e) == json_error_numeric_overflow ||
      json_error_code(&e) == json_error_null_character) {
    memset(&e, 0, sizeof(e));
    *root = json_loadb(body != NULL ? body : "", len, JSON_DECODE_ANY, &e);
    if (*root != NULL)
      return EG_OK;
  }
  switch (json_error_code(&e)) {
  case json_error_out_of_memory:
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
    return EG_ENOMEM;
  case json_error_numeric_overflow:
    eg__seterr(errbuf, errbuf_len, "%s: a number is out of range", what);
    return EG_EINVAL;
  case json_error_null_character:
    eg__seterr(errbuf, errbuf_len, "%s: a string holds a NUL character", what);
    return EG_EINVAL;
  default:
    /* jansson leaves the text empty when its first allocation fails. */
    if (e.text[0] == '\0') {
      eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
      return EG_ENOMEM;
    }
    /* e.text may quote the body ("near ..."): only the position is kept. */
    eg__seterr(errbuf, errbuf_len,
               "%s: not well-formed JSON (line %d, column %d)", what, e.line,
               e.column);
    return EG_EPARSE;
  }
}

/* Copies the string at obj[key] into *out (NULL when absent or null).
 * @returns EG_OK, EG_EINVAL (wrong type, or required and missing) or
 * EG_ENOMEM. */
static int get_str(json_t *obj,
                   const char *key,
                   bool required,
                   char **out,
                   const char *what,
                   char *errbuf,
                   size_t errbuf_len) {
  json_t *v = json_object_get(obj, key);

  *out = NULL;
  if (v == NULL || json_is_null(v)) {
    if (!required)
      return EG_OK;
    eg__seterr(errbuf, errbuf_len, "%s: %s is missing", what, key);
    return EG_EINVAL;
  }
  if (!json_is_string(v)) {
    eg__seterr(errbuf, errbuf_len, "%s: %s is not a string", what, key);
    return EG_EINVAL;
  }
  *out = strdup(json_string_value(v));
  if (*out == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
    return EG_ENOMEM;
  }
  return EG_OK;
}

/* Reads obj[key] as an id >= min into *out (0 when absent and optional). */
static int get_id(json_t *obj,
                  const char *key,
                  bool required,
                  uint64_t min,
                  uint64_t *out,
                  const char *what,
                  char *errbuf,
                  size_t errbuf_len) {
  json_t *v = json_object_get(obj, key);

  *out = 0;
  if (v == NULL || json_is_null(v)) {
    if (!required)
      return EG_OK;
    eg__seterr(errbuf, errbuf_len, "%s: %s is missing", what, key);
    return EG_EINVAL;
  }
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      (uint64_t)json_integer_value(v) < min) {
    eg__seterr(errbuf, errbuf_len, "%s: %s is not an integer >= %llu", what,
               key, (unsigned long long)min);
    return EG_EINVAL;
  }
  *out = (uint64_t)json_integer_value(v);
  return EG_OK;
}

/* obj[key] as an object, or NULL when absent or null. */
static int get_obj(json_t *obj,
                   const char *key,
                   json_t **out,
                   const char *what,
                   char *errbuf,
                   size_t errbuf_len) {
  json_t *v = json_object_get(obj, key);

  *out = NULL;
  if (v == NULL || json_is_null(v))
    return EG_OK;
  if (!json_is_object(v)) {
    eg__seterr(errbuf, errbuf_len, "%s: %s is not an object", what, key);
    return EG_EINVAL;
  }
  *out = v;
  return EG_OK;
}

static int need(json_t *root,
                bool array,
                const char *what,
                char *errbuf,
                size_t errbuf_len) {
  if (array ? json_is_array(root) : json_is_object(root))
    return EG_OK;
  eg__seterr(errbuf, errbuf_len, "%s: not a JSON %s", what,
             array ? "array" : "object");
  return EG_EINVAL;
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

int eg_gh_parse_run(const char *body,
                    size_t len,
                    eg_gh_run_t *run,
                    char *errbuf,
                    size_t errbuf_len) {
  static const char what[] = "workflow run";
  json_t *root, *head, *actor;
  int rc;

  if (run == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(run, 0, sizeof(*run));
  rc = load(body, len, what, &root, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  if ((rc = need(root, false, what, errbuf, errbuf_len)) != EG_OK ||
      (rc = get_id(root, "id", false, 1, &run->id, what, errbuf, errbuf_len)) !=
          EG_OK ||
      (rc = get_str(root, "path", false, &run->path, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_str(root, "event", false, &run->event, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_str(root, "head_sha", false, &run->head_sha, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_obj(root, "head_repository", &head, what, errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_obj(root, "triggering_actor", &actor, what, errbuf,
                    errbuf_len)) != EG_OK)
    goto fail;
  if (head != NULL &&
      ((rc = get_str(head, "full_name", false, &run->head_repository_full_name,
                     "workflow run head_repository", errbuf, errbuf_len)) !=
           EG_OK ||
       (rc = get_id(head, "id", false, 1, &run->head_repository_id,
                    "workflow run head_repository", errbuf, errbuf_len)) !=
           EG_OK))
    goto fail;
  if (actor != NULL &&
      (rc = get_str(actor, "login", false, &run->triggering_actor_login,
                    "workflow run triggering_actor", errbuf, errbuf_len)) !=
          EG_OK)
    goto fail;
  json_decref(root);
  return EG_OK;

fail:
  eg_gh_run_cleanup(run);
  json_decref(root);
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

static int job_from(json_t *o,
                    eg_gh_job_t *job,
                    const char *what,
                    char *errbuf,
                    size_t errbuf_len) {
  int rc;

  memset(job, 0, sizeof(*job));
  if ((rc = need(o, false, what, errbuf, errbuf_len)) != EG_OK ||
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
  json_t *root;
  int rc;

  if (job == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(job, 0, sizeof(*job));
  rc = load(body, len, what, &root, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  rc = job_from(root, job, what, errbuf, errbuf_len);
  json_decref(root);
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

int eg_gh_parse_jobs_page(const char *body,
                          size_t len,
                          eg_gh_jobs_page_t *page,
                          char *errbuf,
                          size_t errbuf_len) {
  static const char what[] = "workflow jobs page";
  json_t *root, *jobs, *o;
  size_t i;
  int rc;

  if (page == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(page, 0, sizeof(*page));
  rc = load(body, len, what, &root, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  if ((rc = need(root, false, what, errbuf, errbuf_len)) != EG_OK)
    goto fail;
  if (json_object_get(root, "total_count") != NULL) {
    if ((rc = get_id(root, "total_count", true, 0, &page->total_count, what,
                     errbuf, errbuf_len)) != EG_OK)
      goto fail;
    page->has_total_count = true;
  }
  jobs = json_object_get(root, "jobs");
  if (!json_is_array(jobs)) {
    eg__seterr(errbuf, errbuf_len, "%s: jobs is %s", what,
               jobs == NULL ? "missing" : "not an array");
    rc = EG_EINVAL;
    goto fail;
  }
  if (json_array_size(jobs) > 0) {
    page->jobs = calloc(json_array_size(jobs), sizeof(*page->jobs));
    if (page->jobs == NULL) {
      eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
      rc = EG_ENOMEM;
      goto fail;
    }
  }
  json_array_foreach(jobs, i, o) {
    rc = job_from(o, &page->jobs[i], "workflow jobs page: job", errbuf,
                  errbuf_len);
    if (rc != EG_OK)
      goto fail;
    page->njobs++;
  }
  json_decref(root);
  return EG_OK;

fail:
  eg_gh_jobs_page_cleanup(page);
  json_decref(root);
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

int eg_gh_parse_deployments(const char *body,
                            size_t len,
                            eg_gh_deployments_t *list,
                            char *errbuf,
                            size_t errbuf_len) {
  static const char what[] = "deployments";
  json_t *root, *o;
  size_t i;
  int rc;

  if (list == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(list, 0, sizeof(*list));
  rc = load(body, len, what, &root, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  if ((rc = need(root, true, what, errbuf, errbuf_len)) != EG_OK)
    goto fail;
  if (json_array_size(root) > 0) {
    list->items = calloc(json_array_size(root), sizeof(*list->items));
    if (list->items == NULL) {
      eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
      rc = EG_ENOMEM;
      goto fail;
    }
  }
  json_array_foreach(root, i, o) {
    eg_gh_deployment_t *d = &list->items[i];

    /* Counted first so that a failure below frees what was copied. */
    list->n++;
    if ((rc = need(o, false, "deployment", errbuf, errbuf_len)) != EG_OK ||
        (rc = get_id(o, "id", true, 1, &d->id, "deployment", errbuf,
                     errbuf_len)) != EG_OK ||
        (rc = get_str(o, "sha", false, &d->sha, "deployment", errbuf,
                      errbuf_len)) != EG_OK ||
        (rc = get_str(o, "environment", false, &d->environment, "deployment",
                      errbuf, errbuf_len)) != EG_OK)
      goto fail;
  }
  json_decref(root);
  return EG_OK;

fail:
  eg_gh_deployments_cleanup(list);
  json_decref(root);
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

int eg_gh_parse_latest_status(const char *body,
                              size_t len,
                              eg_gh_status_t *st,
                              bool *found,
                              char *errbuf,
                              size_t errbuf_len) {
  static const char what[] = "deployment statuses";
  json_t *root, *o;
  int rc;

  if (st == NULL || found == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(st, 0, sizeof(*st));
  *found = false;
  rc = load(body, len, what, &root, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  if ((rc = need(root, true, what, errbuf, errbuf_len)) != EG_OK)
    goto fail;
  if (json_array_size(root) == 0) {
    json_decref(root);
    return EG_OK;
  }
  o = json_array_get(root, 0);
  if ((rc = need(o, false, "deployment status", errbuf, errbuf_len)) != EG_OK ||
      (rc = get_id(o, "id", false, 1, &st->id, "deployment status", errbuf,
                   errbuf_len)) != EG_OK ||
      (rc = get_str(o, "state", true, &st->state, "deployment status", errbuf,
                    errbuf_len)) != EG_OK ||
      (rc = get_str(o, "log_url", false, &st->log_url, "deployment status",
                    errbuf, errbuf_len)) != EG_OK ||
      (rc = get_str(o, "target_url", false, &st->target_url,
                    "deployment status", errbuf, errbuf_len)) != EG_OK)
    goto fail;
  *found = true;
  json_decref(root);
  return EG_OK;

fail:
  eg_gh_status_cleanup(st);
  json_decref(root);
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

static int
approval_from(json_t *o, eg_gh_approval_t *a, char *errbuf, size_t errbuf_len) {
  static const char what[] = "approval";
  json_t *user, *envs, *e;
  size_t i;
  int rc;

  if ((rc = need(o, false, what, errbuf, errbuf_len)) != EG_OK ||
      (rc = get_str(o, "state", true, &a->state, what, errbuf, errbuf_len)) !=
          EG_OK ||
      (rc = get_obj(o, "user", &user, what, errbuf, errbuf_len)) != EG_OK)
    return rc;
  if (user != NULL &&
      (rc = get_str(user, "login", false, &a->login, "approval user", errbuf,
                    errbuf_len)) != EG_OK)
    return rc;
  envs = json_object_get(o, "environments");
  if (envs == NULL || json_is_null(envs))
    return EG_OK;
  if (!json_is_array(envs)) {
    eg__seterr(errbuf, errbuf_len, "%s: environments is not an array", what);
    return EG_EINVAL;
  }
  if (json_array_size(envs) == 0)
    return EG_OK;
  a->environments = calloc(json_array_size(envs), sizeof(*a->environments));
  if (a->environments == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
    return EG_ENOMEM;
  }
  json_array_foreach(envs, i, e) {
    char *name;

    if ((rc = need(e, false, "approval environment", errbuf, errbuf_len)) !=
            EG_OK ||
        (rc = get_str(e, "name", false, &name, "approval environment", errbuf,
                      errbuf_len)) != EG_OK)
      return rc;
    if (name != NULL)
      a->environments[a->nenvironments++] = name;
  }
  return EG_OK;
}

int eg_gh_parse_approvals(const char *body,
                          size_t len,
                          eg_gh_approvals_t *list,
                          char *errbuf,
                          size_t errbuf_len) {
  static const char what[] = "approvals";
  json_t *root, *o;
  size_t i;
  int rc;

  if (list == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(list, 0, sizeof(*list));
  rc = load(body, len, what, &root, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  if ((rc = need(root, true, what, errbuf, errbuf_len)) != EG_OK)
    goto fail;
  if (json_array_size(root) > 0) {
    list->items = calloc(json_array_size(root), sizeof(*list->items));
    if (list->items == NULL) {
      eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
      rc = EG_ENOMEM;
      goto fail;
    }
  }
  json_array_foreach(root, i, o) {
    list->n++;
    if ((rc = approval_from(o, &list->items[i], errbuf, errbuf_len)) != EG_OK)
      goto fail;
  }
  json_decref(root);
  return EG_OK;

fail:
  eg_gh_approvals_cleanup(list);
  json_decref(root);
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

int eg_gh_parse_token(const char *body,
                      size_t len,
                      eg_gh_token_t *tok,
                      char *errbuf,
                      size_t errbuf_len) {
  static const char what[] = "installation token";
  json_t *root, *v;
  const char *t;
  size_t tlen;
  int64_t ms;
  int rc;

  if (tok == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: invalid argument", what);
    return EG_EINVAL;
  }
  memset(tok, 0, sizeof(*tok));
  rc = load(body, len, what, &root, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;
  if ((rc = need(root, false, what, errbuf, errbuf_len)) != EG_OK)
    goto out;
  /* The token is checked in place, so that no message can quote it. */
  v = json_object_get(root, "token");
  if (!json_is_string(v)) {
    eg__seterr(errbuf, errbuf_len, "%s: token is %s", what,
               v == NULL || json_is_null(v) ? "missing" : "not a string");
    rc = EG_EINVAL;
    goto out;
  }
  t = json_string_value(v);
  tlen = json_string_length(v);
  if (tlen == 0 || tlen > EG_GH_INSTALLATION_TOKEN_MAX) {
    eg__seterr(errbuf, errbuf_len, "%s: token is not 1..%d bytes", what,
               EG_GH_INSTALLATION_TOKEN_MAX);
    rc = EG_EINVAL;
    goto out;
  }
  for (size_t i = 0; i < tlen; i++) {
    if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f) {
      eg__seterr(errbuf, errbuf_len,
                 "%s: token has a space or a non-printable byte", what);
      rc = EG_EINVAL;
      goto out;
    }
  }
  v = json_object_get(root, "expires_at");
  if (!json_is_string(v) ||
      eg_time_parse_rfc3339(json_string_value(v), &ms) != EG_OK) {
    eg__seterr(errbuf, errbuf_len, "%s: expires_at is not an RFC 3339 UTC time",
               what);
    rc = EG_EINVAL;
    goto out;
  }
  tok->token = strdup(t);
  if (tok->token == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
    rc = EG_ENOMEM;
    goto out;
  }
  tok->expires_at = ms / 1000;

out:
  json_decref(root);
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

/* The policy file: jansson parse, per-key validation with every problem
 * reported, per-repository merge, case-insensitive repository lookup. */
#include "eg/policy.h"
#include "eg/error.h"
#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ost-environment-gate's WorkflowEventName list (src/config.rs). */
static const char *const known_events[] = {"workflow_dispatch",
                                           "workflow_call",
                                           "workflow_run",
                                           "push",
                                           "pull_request",
                                           "pull_request_target",
                                           "repository_dispatch",
                                           "release",
                                           "schedule",
                                           "merge_group",
                                           "create",
                                           "delete"};
#define NKNOWN_EVENTS (sizeof(known_events) / sizeof(known_events[0]))

enum key {
  K_ALLOWED_REF,
  K_ALLOWED_EVENTS,
  K_RELEASE_ENV,
  K_GATE_ENV,
  K_GATE_JOB,
  K_WORKFLOW_PATH,
  K_GATE_EVIDENCE,
  K_DISTINCT_APPROVER,
  K_REPOSITORIES,
  NKEYS
};

static const char *const key_names[NKEYS] = {"allowed_ref",
                                             "allowed_events",
                                             "release_environment_name",
                                             "release_gate_environment_name",
                                             "release_gate_job_name",
                                             "release_workflow_path",
                                             "gate_evidence",
                                             "require_distinct_approver",
                                             "repositories"};

/* One level of the file (the top, or one repository's overrides) as
 * written: set[k] says the key was present, bad[k] that its value was
 * refused (already reported). */
struct raw {
  bool set[NKEYS];
  bool bad[NKEYS];
  char *allowed_ref;
  char **events;
  size_t nevents;
  char *release_env;
  char *gate_env;
  char *gate_job; /* NULL: absent or null */
  char *workflow_path;
  eg_gate_evidence_t evidence;
  bool distinct;
};

/* Owning storage behind one eg_policy_rules_t. */
struct rules {
  eg_policy_rules_t pub;
  char *repository;
  char *allowed_ref;
  char **events;
  size_t nevents;
  char *release_env;
  char *gate_env;
  char *gate_job;
  char *workflow_path;
};

struct eg_policy_s {
  struct rules top;
  struct rules *repos; /* sorted by repository, ASCII case-insensitively */
  size_t nrepos;
};

struct loader {
  const char *name;
  eg_policy_report_fn report;
  void *report_ud;
  char *errbuf;
  size_t errbuf_len;
  int problems;
  bool oom;
};

static void problem(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct loader *ld, const char *fmt, ...) {
  char msg[512];
  char line[768];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(line, sizeof(line), "%s: %s", ld->name, msg);
  /* Values are quoted with escapes, but jansson's syntax errors quote the
   * bytes near the error as they are: keep the report one printable line
   * whatever the file holds. */
  for (char *c = line; *c != '\0'; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = '?';
  if (ld->problems == 0)
    eg__seterr(ld->errbuf, ld->errbuf_len, "%s", line);
  ld->problems++;
  if (ld->report != NULL)
    ld->report(line, ld->report_ud);
}

/* Writes s (len bytes) as a short, quoted, printable rendering for problem
 * lines: control bytes and quotes escaped, cut after 80 bytes. */
static void quote(const char *s, size_t len, char *out, size_t out_len) {
  size_t o = 0;
  size_t i;

  assert(out_len >= 16);
  out[o++] = '"';
  for (i = 0; i < len && o + 8 < out_len; i++) {
    unsigned char c = (unsigned char)s[i];

    if (i == 80) {
      memcpy(out + o, "...", 3);
      o += 3;
      break;
    }
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      o += (size_t)snprintf(out + o, out_len - o, "\\x%02x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o++] = '"';
  out[o] = '\0';
}

/* "" at the top level, `repositories["o/r"].` below it. */
struct where {
  char prefix[160];
};

static void where_top(struct where *w) {
  w->prefix[0] = '\0';
}

static void where_repo(struct where *w, const char *repo) {
  char q[128];

  quote(repo, strlen(repo), q, sizeof(q));
  snprintf(w->prefix, sizeof(w->prefix), "repositories[%s].", q);
}

static bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

/* True when s has a C0 control, DEL or a C1 control (UTF-8 C2 80..9F). */
static bool has_control(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];

    if (c < 0x20 || c == 0x7f)
      return true;
    if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
        (unsigned char)s[i + 1] <= 0x9f)
      return true;
  }
  return false;
}

static size_t utf8_chars(const char *s, size_t len) {
  size_t n = 0;

  for (size_t i = 0; i < len; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80)
      n++;
  return n;
}

enum str_kind { S_PLAIN, S_ENV, S_REF, S_PATH, S_EVENT };

static bool ends_with(const char *s, size_t len, const char *suffix) {
  size_t n = strlen(suffix);
  return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Validates and copies one string value (trimmed) into *out.
 * @returns true when *out was set; false after reporting (or on OOM). */
static bool take_string(struct loader *ld,
                        const struct where *w,
                        const char *label,
                        json_t *v,
                        enum str_kind kind,
                        char **out) {
  const char *s;
  size_t len;
  char q[200];

  *out = NULL;
  if (!json_is_string(v)) {
    problem(ld, "%s%s: must be a string", w->prefix, label);
    return false;
  }
  s = json_string_value(v);
  len = json_string_length(v);
  while (len > 0 && is_space((unsigned char)s[0])) {
    s++;
    len--;
  }
  while (len > 0 && is_space((unsigned char)s[len - 1]))
    len--;
  if (len == 0) {
    problem(ld, "%s%s: must not be empty", w->prefix, label);
    return false;
  }
  quote(s, len, q, sizeof(q));
  if (memchr(s, '\0', len) != NULL || has_control(s, len)) {
    problem(ld, "%s%s=%s: must not contain control characters", w->prefix,
            label, q);
    return false;
  }
  if (len > EG_POLICY_STRING_MAX) {
    problem(ld, "%s%s: must be at most %d bytes", w->prefix, label,
            EG_POLICY_STRING_MAX);
    return false;
  }
  if (kind == S_ENV && utf8_chars(s, len) > EG_POLICY_ENV_CHARS_MAX) {
    problem(ld, "%s%s=%s: must be at most %d characters", w->prefix, label, q,
            EG_POLICY_ENV_CHARS_MAX);
    return false;
  }
  if (kind == S_REF) {
    bool ok = (len > 11 && memcmp(s, "refs/heads/", 11) == 0) ||
              (len > 10 && memcmp(s, "refs/tags/", 10) == 0);
    if (!ok) {
      problem(ld,
              "%s%s=%s: must be a full ref, refs/heads/<branch> or "
              "refs/tags/<tag>",
              w->prefix, label, q);
      return false;
    }
  }
  if (kind == S_PATH) {
    bool ok = len > 18 && memcmp(s, ".github/workflows/", 18) == 0 &&
              (ends_with(s, len, ".yml") || ends_with(s, len, ".yaml"));
    if (!ok) {
      problem(ld,
              "%s%s=%s: must start with .github/workflows/ and end with .yml "
              "or .yaml",
              w->prefix, label, q);
      return false;
    }
  }
  if (kind == S_EVENT) {
    bool ok = false;

    for (size_t i = 0; i < NKNOWN_EVENTS && !ok; i++)
      ok = strlen(known_events[i]) == len &&
           memcmp(known_events[i], s, len) == 0;
    if (!ok) {
      problem(ld,
              "%s%s=%s: not a workflow event (workflow_dispatch, "
              "workflow_call, workflow_run, push, pull_request, "
              "pull_request_target, repository_dispatch, release, schedule, "
              "merge_group, create, delete)",
              w->prefix, label, q);
      return false;
    }
  }
  *out = strndup(s, len);
  if (*out == NULL) {
    ld->oom = true;
    return false;
  }
  return true;
}

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t row[64];

  if (la >= 63 || lb >= 63)
    return SIZE_MAX;
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];

    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);

      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

static void unknown_key(struct loader *ld,
                        const struct where *w,
                        const char *key,
                        bool top) {
  char q[200];
  const char *best = NULL;
  size_t best_d = SIZE_MAX;

  for (int k = 0; k < NKEYS; k++) {
    size_t d;

    if (k == K_REPOSITORIES && !top)
      continue;
    d = edit_distance(key, key_names[k]);
    if (d < best_d) {
      best_d = d;
      best = key_names[k];
    }
  }
  quote(key, strlen(key), q, sizeof(q));
  if (!top && strcmp(key, "repositories") == 0)
    problem(ld, "%s%s: not allowed inside a repository entry", w->prefix, q);
  else if (best != NULL && best_d <= 3)
    problem(ld, "%s%s: unknown key (did you mean \"%s\"?)", w->prefix, q, best);
  else
    problem(ld, "%s%s: unknown key", w->prefix, q);
}

static void raw_free(struct raw *r) {
  free(r->allowed_ref);
  for (size_t i = 0; i < r->nevents; i++)
    free(r->events[i]);
  free(r->events);
  free(r->release_env);
  free(r->gate_env);
  free(r->gate_job);
  free(r->workflow_path);
  memset(r, 0, sizeof(*r));
}

static void take_events(struct loader *ld,
                        const struct where *w,
                        json_t *v,
                        struct raw *r) {
  size_t i, n;
  json_t *e;
  bool ok = true;

  if (!json_is_array(v)) {
    problem(ld, "%sallowed_events: must be an array of strings", w->prefix);
    r->bad[K_ALLOWED_EVENTS] = true;
    return;
  }
  n = json_array_size(v);
  if (n == 0) {
    problem(ld, "%sallowed_events: must not be empty", w->prefix);
    r->bad[K_ALLOWED_EVENTS] = true;
    return;
  }
  r->events = calloc(n, sizeof(*r->events));
  if (r->events == NULL) {
    ld->oom = true;
    return;
  }
  json_array_foreach(v, i, e) {
    char label[48];

    snprintf(label, sizeof(label), "allowed_events[%zu]", i);
    if (take_string(ld, w, label, e, S_EVENT, &r->events[r->nevents]))
      r->nevents++;
    else
      ok = false;
  }
  if (!ok)
    r->bad[K_ALLOWED_EVENTS] = true;
}

/* Reads one level into r; top says whether "repositories" is allowed. */
static void read_level(struct loader *ld,
                       const struct where *w,
                       json_t *obj,
                       bool top,
                       struct raw *r) {
  const char *key;
  json_t *v;

  json_object_foreach(obj, key, v) {
    int k;

    for (k = 0; k < NKEYS; k++)
      if (strcmp(key, key_names[k]) == 0)
        break;
    if (k == NKEYS || (k == K_REPOSITORIES && !top)) {
      unknown_key(ld, w, key, top);
      continue;
    }
    r->set[k] = true;
    switch ((enum key)k) {
    case K_ALLOWED_REF:
      r->bad[k] = !take_string(ld, w, key, v, S_REF, &r->allowed_ref);
      break;
    case K_ALLOWED_EVENTS:
      take_events(ld, w, v, r);
      break;
    case K_RELEASE_ENV:
      r->bad[k] = !take_string(ld, w, key, v, S_ENV, &r->release_env);
      break;
    case K_GATE_ENV:
      r->bad[k] = !take_string(ld, w, key, v, S_ENV, &r->gate_env);
      break;
    case K_GATE_JOB:
      /* ost reads this as Option<String>: null means not set. */
      if (!json_is_null(v))
        r->bad[k] = !take_string(ld, w, key, v, S_PLAIN, &r->gate_job);
      break;
    case K_WORKFLOW_PATH:
      r->bad[k] = !take_string(ld, w, key, v, S_PATH, &r->workflow_path);
      break;
    case K_GATE_EVIDENCE: {
      char *s = NULL;

      if (!take_string(ld, w, key, v, S_PLAIN, &s)) {
        r->bad[k] = true;
      } else if (strcmp(s, "deployment") == 0) {
        r->evidence = EG_GATE_EVIDENCE_DEPLOYMENT;
      } else if (strcmp(s, "job") == 0) {
        r->evidence = EG_GATE_EVIDENCE_JOB;
      } else {
        char q[200];

        quote(s, strlen(s), q, sizeof(q));
        problem(ld, "%sgate_evidence=%s: must be \"deployment\" or \"job\"",
                w->prefix, q);
        r->bad[k] = true;
      }
      free(s);
      break;
    }
    case K_DISTINCT_APPROVER:
      if (json_is_boolean(v)) {
        r->distinct = json_is_true(v);
      } else {
        problem(ld, "%srequire_distinct_approver: must be true or false",
                w->prefix);
        r->bad[k] = true;
      }
      break;
    case K_REPOSITORIES:
    case NKEYS:
      break; /* handled by the caller */
    }
  }
}

/* Problems of a complete rule set, as bits, so a repository does not
 * repeat what the top level already reported. */
enum gap {
  G_REF = 1 << 0,
  G_EVENTS = 1 << 1,
  G_ENV = 1 << 2,
  G_GATE_ENV = 1 << 3,
  G_PATH = 1 << 4,
  G_JOB_FOR_JOB_MODE = 1 << 5
};

/* The value of key k seen through the merge: the override if it set k,
 * else the top level. */
static const struct raw *
pick(const struct raw *top, const struct raw *over, enum key k) {
  return (over != NULL && over->set[k]) ? over : top;
}

static unsigned check_complete(struct loader *ld,
                               const struct where *w,
                               const struct raw *top,
                               const struct raw *over,
                               unsigned suppress) {
  static const struct {
    enum key k;
    unsigned gap;
  } required[] = {{K_ALLOWED_REF, G_REF},
                  {K_ALLOWED_EVENTS, G_EVENTS},
                  {K_RELEASE_ENV, G_ENV},
                  {K_WORKFLOW_PATH, G_PATH}};
  unsigned gaps = 0;
  const struct raw *ev = pick(top, over, K_GATE_EVIDENCE);
  const struct raw *da = pick(top, over, K_DISTINCT_APPROVER);
  const struct raw *ge = pick(top, over, K_GATE_ENV);
  const struct raw *gj = pick(top, over, K_GATE_JOB);
  bool job_mode = ev->set[K_GATE_EVIDENCE] && !ev->bad[K_GATE_EVIDENCE] &&
                  ev->evidence == EG_GATE_EVIDENCE_JOB;
  bool distinct = da->set[K_DISTINCT_APPROVER] && da->distinct;
  /* A refused gate_evidence or require_distinct_approver was reported;
   * guessing the mode would only add noise. */
  bool mode_known = !ev->bad[K_GATE_EVIDENCE] && !da->bad[K_DISTINCT_APPROVER];

  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
    const struct raw *r = pick(top, over, required[i].k);

    if (!r->set[required[i].k]) {
      gaps |= required[i].gap;
      if (!(suppress & required[i].gap))
        problem(ld, "%s%s: required", w->prefix, key_names[required[i].k]);
    }
  }
  if (!mode_known)
    return gaps;
  if ((!job_mode || distinct) && !ge->set[K_GATE_ENV]) {
    gaps |= G_GATE_ENV;
    if (!(suppress & G_GATE_ENV))
      problem(ld, "%srelease_gate_environment_name: required%s", w->prefix,
              job_mode
                  ? " when require_distinct_approver is true"
                  : " when gate_evidence is \"deployment\" (the "
                    "default; a policy written for ost-environment-gate "
                    "before it gated on deployments needs \"gate_evidence\": "
                    "\"job\")");
  }
  if (job_mode && gj->gate_job == NULL && !gj->bad[K_GATE_JOB]) {
    gaps |= G_JOB_FOR_JOB_MODE;
    if (!(suppress & G_JOB_FOR_JOB_MODE))
      problem(ld,
              "%srelease_gate_job_name: required when gate_evidence is "
              "\"job\"",
              w->prefix);
  }
  return gaps;
}

static char *dup_or_null(struct loader *ld, const char *s) {
  char *d;

  if (s == NULL)
    return NULL;
  d = strdup(s);
  if (d == NULL)
    ld->oom = true;
  return d;
}

static void rules_free(struct rules *r) {
  free(r->repository);
  free(r->allowed_ref);
  for (size_t i = 0; i < r->nevents; i++)
    free(r->events[i]);
  free(r->events);
  free(r->release_env);
  free(r->gate_env);
  free(r->gate_job);
  free(r->workflow_path);
  memset(r, 0, sizeof(*r));
}

/* Builds the effective rules (copies) from a valid merge. */
static void build_rules(struct loader *ld,
                        const struct raw *top,
                        const struct raw *over,
                        const char *repository,
                        struct rules *out) {
  const struct raw *r;

  memset(out, 0, sizeof(*out));
  out->repository = dup_or_null(ld, repository);
  out->allowed_ref =
      dup_or_null(ld, pick(top, over, K_ALLOWED_REF)->allowed_ref);
  out->release_env =
      dup_or_null(ld, pick(top, over, K_RELEASE_ENV)->release_env);
  out->workflow_path =
      dup_or_null(ld, pick(top, over, K_WORKFLOW_PATH)->workflow_path);
  out->gate_job = dup_or_null(ld, pick(top, over, K_GATE_JOB)->gate_job);
  r = pick(top, over, K_ALLOWED_EVENTS);
  out->events = calloc(r->nevents, sizeof(*out->events));
  if (out->events == NULL) {
    ld->oom = true;
  } else {
    /* Every slot is freed, including those a failed copy left NULL: counting
     * only the copies made would leave the ones after a hole unfreed. */
    out->nevents = r->nevents;
    for (size_t i = 0; i < r->nevents; i++)
      out->events[i] = dup_or_null(ld, r->events[i]);
  }
  out->pub.gate_evidence = pick(top, over, K_GATE_EVIDENCE)->evidence;
  out->pub.require_distinct_approver =
      pick(top, over, K_DISTINCT_APPROVER)->distinct;
  out->gate_env = dup_or_null(ld, pick(top, over, K_GATE_ENV)->gate_env);
  out->pub.repository = out->repository;
  out->pub.allowed_ref = out->allowed_ref;
  out->pub.allowed_events = (const char *const *)out->events;
  out->pub.nallowed_events = out->nevents;
  out->pub.release_environment_name = out->release_env;
  out->pub.release_gate_environment_name = out->gate_env;
  out->pub.release_gate_job_name = out->gate_job;
  out->pub.release_workflow_path = out->workflow_path;
}

static bool valid_name(const char *s, size_t len) {
  if (len == 0 || len > 100)
    return false;
  if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

/* "owner/repo" with both names valid. */
static bool valid_full_name(const char *s) {
  const char *slash = strchr(s, '/');

  if (slash == NULL)
    return false;
  return valid_name(s, (size_t)(slash - s)) &&
         valid_name(slash + 1, strlen(slash + 1));
}

static int cmp_rules(const void *a, const void *b) {
  const struct rules *x = a, *y = b;
  return strcasecmp(x->repository, y->repository);
}

struct entry {
  const char *key;
  json_t *value;
};

static int cmp_entry(const void *a, const void *b) {
  const struct entry *x = a, *y = b;
  int c = strcasecmp(x->key, y->key);
  return c != 0 ? c : strcmp(x->key, y->key);
}

void eg_policy_free(eg_policy_t *policy) {
  if (policy == NULL)
    return;
  rules_free(&policy->top);
  for (size_t i = 0; i < policy->nrepos; i++)
    rules_free(&policy->repos[i]);
  free(policy->repos);
  free(policy);
}

/* Validates the repositories object; builds every entry's rules into
 * policy->repos when nothing is wrong so far. */
static void load_repos(struct loader *ld,
                       json_t *repos,
                       const struct raw *top,
                       unsigned top_gaps,
                       eg_policy_t *policy) {
  struct entry *ents;
  struct raw *raws;
  size_t n = 0, i;
  const char *key;
  json_t *v;

  if (!json_is_object(repos)) {
    problem(ld, "repositories: must be an object of \"owner/repo\": {...}");
    return;
  }
  if (json_object_size(repos) == 0)
    return;
  if (json_object_size(repos) > EG_POLICY_REPOS_MAX) {
    problem(ld, "repositories: at most %d entries", EG_POLICY_REPOS_MAX);
    return;
  }
  ents = calloc(json_object_size(repos), sizeof(*ents));
  raws = calloc(json_object_size(repos), sizeof(*raws));
  if (ents == NULL || raws == NULL) {
    free(ents);
    free(raws);
    ld->oom = true;
    return;
  }
  json_object_foreach(repos, key, v) {
    ents[n].key = key;
    ents[n].value = v;
    n++;
  }
  /* Sorted so that names equal but for case sit next to each other and the
   * report order does not depend on jansson's hash order. */
  qsort(ents, n, sizeof(*ents), cmp_entry);
  for (i = 0; i < n; i++) {
    struct where w;
    char q[128];

    where_repo(&w, ents[i].key);
    quote(ents[i].key, strlen(ents[i].key), q, sizeof(q));
    if (!valid_full_name(ents[i].key)) {
      problem(ld,
              "repositories: key %s: must be \"owner/repo\" (names of "
              "[A-Za-z0-9._-], 1 to 100 characters)",
              q);
      continue;
    }
    if (i > 0 && strcasecmp(ents[i - 1].key, ents[i].key) == 0) {
      char q0[128];

      quote(ents[i - 1].key, strlen(ents[i - 1].key), q0, sizeof(q0));
      problem(ld, "repositories: keys %s and %s name the same repository", q0,
              q);
      continue;
    }
    if (!json_is_object(ents[i].value)) {
      problem(ld, "repositories[%s]: must be an object of overrides", q);
      continue;
    }
    read_level(ld, &w, ents[i].value, false, &raws[i]);
    check_complete(ld, &w, top, &raws[i], top_gaps);
  }
  if (ld->problems == 0 && !ld->oom) {
    policy->repos = calloc(n, sizeof(*policy->repos));
    if (policy->repos == NULL) {
      ld->oom = true;
    } else {
      /* ents is sorted case-insensitively and holds no two names equal
       * but for case, so repos comes out in eg_policy_for_repo()'s bsearch
       * order. */
      for (i = 0; i < n; i++)
        build_rules(ld, top, &raws[i], ents[i].key, &policy->repos[i]);
      policy->nrepos = n;
    }
  }
  for (i = 0; i < n; i++)
    raw_free(&raws[i]);
  free(raws);
  free(ents);
}

int eg_policy_load_string(const char *json,
                          size_t len,
                          const char *name,
                          eg_policy_t **policy,
                          eg_policy_report_fn report,
                          void *report_ud,
                          char *errbuf,
                          size_t errbuf_len) {
  struct loader ld = {.name = name != NULL ? name : "policy",
                      .report = report,
                      .report_ud = report_ud,
                      .errbuf = errbuf,
                      .errbuf_len = errbuf_len};
  struct raw top = {0};
  struct where w;
  json_error_t jerr;
  json_t *root;
  json_t *repos;
  eg_policy_t *p = NULL;
  unsigned gaps;

  if (policy != NULL)
    *policy = NULL;
  eg__seterr(errbuf, errbuf_len, "%s", "");
  if (json == NULL || policy == NULL) {
    eg__seterr(errbuf, errbuf_len, "policy: invalid argument");
    return EG_EINVAL;
  }
  if (len > EG_POLICY_FILE_MAX) {
    problem(&ld, "larger than %u bytes", EG_POLICY_FILE_MAX);
    return EG_ETOOBIG;
  }
  /* jansson leaves the error code unset when its first allocation fails
   * (lex_init), which then reads as whatever the stack held. */
  memset(&jerr, 0, sizeof(jerr));
  root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (root == NULL) {
    /* jansson leaves the error empty when its first allocation fails (and
     * reports some later ones as syntax errors, which cannot be told
     * apart). */
    if (json_error_code(&jerr) == json_error_out_of_memory ||
        jerr.text[0] == '\0') {
      eg__seterr(errbuf, errbuf_len, "%s: out of memory", ld.name);
      return EG_ENOMEM;
    }
    problem(&ld, "line %d column %d: invalid JSON: %s", jerr.line, jerr.column,
            jerr.text);
    return EG_EINVAL;
  }
  if (!json_is_object(root)) {
    problem(&ld, "must be a JSON object");
    json_decref(root);
    return EG_EINVAL;
  }
  where_top(&w);
  read_level(&ld, &w, root, true, &top);
  gaps = check_complete(&ld, &w, &top, NULL, 0);
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    ld.oom = true;
  } else {
    repos = json_object_get(root, "repositories");
    if (repos != NULL)
      load_repos(&ld, repos, &top, gaps, p);
    if (ld.problems == 0 && !ld.oom)
      build_rules(&ld, &top, NULL, NULL, &p->top);
  }
  raw_free(&top);
  json_decref(root);
  if (ld.oom) {
    eg_policy_free(p);
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", ld.name);
    return EG_ENOMEM;
  }
  if (ld.problems > 0) {
    eg_policy_free(p);
    return EG_EINVAL;
  }
  *policy = p;
  return EG_OK;
}

int eg_policy_load_file(const char *path,
                        eg_policy_t **policy,
                        eg_policy_report_fn report,
                        void *report_ud,
                        char *errbuf,
                        size_t errbuf_len) {
  struct loader ld = {.name = path,
                      .report = report,
                      .report_ud = report_ud,
                      .errbuf = errbuf,
                      .errbuf_len = errbuf_len};
  char ebuf[128];
  char *buf;
  size_t len = 0;
  FILE *f;
  int rc;

  if (policy != NULL)
    *policy = NULL;
  if (path == NULL || policy == NULL) {
    eg__seterr(errbuf, errbuf_len, "policy: invalid argument");
    return EG_EINVAL;
  }
  f = fopen(path, "rb");
  if (f == NULL) {
    problem(&ld, "cannot open: %s", strerror_r(errno, ebuf, sizeof(ebuf)));
    return EG_EIO;
  }
  /* One byte more than the limit tells "too big" from "exactly at it". */
  buf = malloc(EG_POLICY_FILE_MAX + 1);
  if (buf == NULL) {
    fclose(f);
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", path);
    return EG_ENOMEM;
  }
  len = fread(buf, 1, EG_POLICY_FILE_MAX + 1, f);
  if (ferror(f)) {
    problem(&ld, "cannot read: %s", strerror_r(errno, ebuf, sizeof(ebuf)));
    free(buf);
    fclose(f);
    return EG_EIO;
  }
  fclose(f);
  if (len > EG_POLICY_FILE_MAX) {
    problem(&ld, "larger than %u bytes", EG_POLICY_FILE_MAX);
    free(buf);
    return EG_ETOOBIG;
  }
  rc = eg_policy_load_string(buf, len, path, policy, report, report_ud, errbuf,
                             errbuf_len);
  free(buf);
  return rc;
}

const eg_policy_rules_t *eg_policy_for_repo(const eg_policy_t *policy,
                                            const char *full_name) {
  struct rules key;
  const struct rules *hit;

  if (policy == NULL)
    return NULL;
  if (full_name == NULL || policy->nrepos == 0)
    return &policy->top.pub;
  key.repository = (char *)full_name;
  hit = bsearch(&key, policy->repos, policy->nrepos, sizeof(*policy->repos),
                cmp_rules);
  return hit != NULL ? &hit->pub : &policy->top.pub;
}

size_t eg_policy_repo_count(const eg_policy_t *policy) {
  return policy != NULL ? policy->nrepos : 0;
}

bool eg_policy_rules_allow_event(const eg_policy_rules_t *rules,
                                 const char *event) {
  if (rules == NULL || event == NULL)
    return false;
  for (size_t i = 0; i < rules->nallowed_events; i++)
    if (strcmp(rules->allowed_events[i], event) == 0)
      return true;
  return false;
}

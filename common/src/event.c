/* deployment_protection_rule payloads: one streaming pass (json_scan) pulls
 * the fields, then each is checked; see eg/event.h for the rules. */
#include "eg/event.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "internal.h"
#include "json_scan.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum field_id {
  F_ACTION,
  F_ENVIRONMENT,
  F_EVENT,
  F_REF,
  F_SHA,
  F_CALLBACK_URL,
  F_DEPLOYMENT,
  F_DEPLOYMENT_ID,
  F_INSTALLATION,
  F_INSTALLATION_ID,
  F_REPOSITORY,
  F_REPOSITORY_ID,
  F_REPOSITORY_NAME,
  F_REPOSITORY_FULL_NAME,
  F_OWNER,
  F_OWNER_LOGIN,
  F_WORKFLOW_RUN,
  F_WORKFLOW_RUN_ID,
  F_SENDER,
  F_SENDER_LOGIN,
  F_COUNT
};

#define BIT(f) (UINT64_C(1) << (f))

#define MEMBER_SIZE(m) sizeof(((eg_event_t *)0)->m)
#define OBJ(name, parent, flags)                                               \
  { name, parent, EG__JSON_OBJECT, flags, 0, 0 }
#define STR(name, parent, flags, m)                                            \
  {                                                                            \
    name, parent, EG__JSON_STRING, flags, offsetof(eg_event_t, m),             \
        MEMBER_SIZE(m)                                                         \
  }
#define U64(name, parent, flags, m)                                            \
  { name, parent, EG__JSON_U64, flags, offsetof(eg_event_t, m), 0 }
#define NUL_OK EG__JSON_NULLABLE

/* Strings land straight in eg_event_t; repository.full_name is split into
 * owner/repo afterwards and then rewritten canonically. Optional fields may
 * be null; required ones may not. */
static const struct eg__json_field fields[F_COUNT] = {
    [F_ACTION] = STR("action", -1, 0, action),
    [F_ENVIRONMENT] = STR("environment", -1, 0, environment),
    [F_EVENT] = STR("event", -1, NUL_OK, event),
    [F_REF] = STR("ref", -1, NUL_OK, ref),
    [F_SHA] = STR("sha", -1, 0, sha),
    [F_CALLBACK_URL] = STR("deployment_callback_url", -1, 0, callback_url),
    [F_DEPLOYMENT] = OBJ("deployment", -1, NUL_OK),
    [F_DEPLOYMENT_ID] = U64("id", F_DEPLOYMENT, NUL_OK, deployment_id),
    [F_INSTALLATION] = OBJ("installation", -1, 0),
    [F_INSTALLATION_ID] = U64("id", F_INSTALLATION, 0, installation_id),
    [F_REPOSITORY] = OBJ("repository", -1, 0),
    [F_REPOSITORY_ID] = U64("id", F_REPOSITORY, 0, repository_id),
    [F_REPOSITORY_NAME] = STR("name", F_REPOSITORY, 0, repo),
    [F_REPOSITORY_FULL_NAME] = STR("full_name", F_REPOSITORY, 0, full_name),
    [F_OWNER] = OBJ("owner", F_REPOSITORY, 0),
    [F_OWNER_LOGIN] = STR("login", F_OWNER, 0, owner),
    [F_WORKFLOW_RUN] = OBJ("workflow_run", -1, NUL_OK),
    [F_WORKFLOW_RUN_ID] = U64("id", F_WORKFLOW_RUN, NUL_OK, workflow_run_id),
    [F_SENDER] = OBJ("sender", -1, NUL_OK),
    [F_SENDER_LOGIN] = STR("login", F_SENDER, NUL_OK, sender_login),
};

static const char callback_suffix[] = "/deployment_protection_rule";

static int
invalid(eg_event_t *ev, char *errbuf, size_t errbuf_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fails a parse: the caller's event never holds half-validated data. */
static int
invalid(eg_event_t *ev, char *errbuf, size_t errbuf_len, const char *fmt, ...) {
  va_list ap;

  memset(ev, 0, sizeof(*ev));
  if (errbuf != NULL && errbuf_len > 0) {
    va_start(ap, fmt);
    vsnprintf(errbuf, errbuf_len, fmt, ap);
    va_end(ap);
  }
  return EG_EINVAL;
}

/* Visible ASCII, no space: action, event and login values. */
static bool is_token(const char *s) {
  for (; *s != '\0'; s++) {
    if (*s < 0x21 || *s > 0x7e)
      return false;
  }
  return true;
}

/* Strict UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) without control characters (C0, DEL, C1). json_scan already
 * guarantees valid UTF-8 for the decoded value; checking it again here is
 * cheap, keeps this function self-contained, and counts the characters into
 * *chars. */
static bool is_clean_utf8(const char *str, size_t *chars) {
  const unsigned char *s = (const unsigned char *)str;
  size_t n = 0;

  while (*s != '\0') {
    uint32_t cp;
    int extra;

    if (s[0] < 0x80) {
      cp = s[0];
      extra = 0;
    } else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
      cp = s[0] & 0x1fu;
      extra = 1;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
      cp = s[0] & 0x0fu;
      extra = 2;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
      cp = s[0] & 0x07u;
      extra = 3;
    } else {
      return false;
    }
    for (int i = 1; i <= extra; i++) {
      if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
        return false;
      cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
      return false;
    s += extra + 1;
    n++;
  }
  *chars = n;
  return true;
}

static bool is_sha(const char *s) {
  size_t n = strlen(s);

  if (n != 40 && n != 64)
    return false;
  for (size_t i = 0; i < n; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  }
  return true;
}

/* A GitHub owner or repository name as used in API paths: no escaping is
 * ever needed, and "." / ".." cannot walk the path. */
static bool is_name(const char *s, size_t n) {
  if (n == 0 || n > EG_EVENT_NAME_LEN - 1)
    return false;
  if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static int
check_api_base(const char *api_base, char *errbuf, size_t errbuf_len) {
  char why[EG_ERRBUF_LEN];
  size_t n = strnlen(api_base, EG_EVENT_API_BASE_MAX + 1);

  if (n == 0 || n > EG_EVENT_API_BASE_MAX) {
    eg__seterr(errbuf, errbuf_len, "api_base: must be 1..%d bytes",
               EG_EVENT_API_BASE_MAX);
    return EG_EINVAL;
  }
  if (!is_token(api_base) || api_base[n - 1] == '/') {
    eg__seterr(errbuf, errbuf_len,
               "api_base: must be visible ASCII without a trailing slash");
    return EG_EINVAL;
  }
  if (eg_parse_base_url(api_base, why, sizeof(why)) != EG_OK) {
    eg__seterr(errbuf, errbuf_len, "api_base: %s", why);
    return EG_EINVAL;
  }
  return EG_OK;
}

/* Appends n bytes at dst + at; callers size dst from the bounded inputs
 * (api_base <= EG_EVENT_API_BASE_MAX, names < EG_EVENT_NAME_LEN). On the hot
 * path this replaces snprintf, whose format parsing is a measurable cost. */
static size_t put(char *dst, size_t at, const char *src, size_t n) {
  memcpy(dst + at, src, n);
  return at + n;
}

/* Settles owner and repo from repository.owner.login, repository.name and
 * repository.full_name: every form present must agree. */
static int resolve_repository(eg_event_t *ev,
                              uint64_t present,
                              char *errbuf,
                              size_t errbuf_len) {
  bool have_login = (present & BIT(F_OWNER_LOGIN)) != 0;
  bool have_name = (present & BIT(F_REPOSITORY_NAME)) != 0;

  if (have_login && !is_name(ev->owner, strlen(ev->owner)))
    return invalid(ev, errbuf, errbuf_len,
                   "repository.owner.login: must be 1..100 of "
                   "[A-Za-z0-9._-], not . or ..");
  if (have_name && !is_name(ev->repo, strlen(ev->repo)))
    return invalid(ev, errbuf, errbuf_len,
                   "repository.name: must be 1..100 of [A-Za-z0-9._-], not "
                   ". or ..");
  if ((present & BIT(F_REPOSITORY_FULL_NAME)) != 0) {
    const char *full = ev->full_name;
    const char *slash = strchr(full, '/');
    size_t olen;
    size_t rlen;

    if (slash == NULL)
      return invalid(ev, errbuf, errbuf_len,
                     "repository.full_name: must be <owner>/<name>");
    olen = (size_t)(slash - full);
    rlen = strlen(slash + 1);
    if (!is_name(full, olen) || !is_name(slash + 1, rlen))
      return invalid(ev, errbuf, errbuf_len,
                     "repository.full_name: must be <owner>/<name>, each "
                     "1..100 of [A-Za-z0-9._-], not . or ..");
    if (have_login &&
        (strlen(ev->owner) != olen || memcmp(ev->owner, full, olen) != 0))
      return invalid(ev, errbuf, errbuf_len,
                     "repository.full_name: owner differs from "
                     "repository.owner.login");
    if (have_name && strcmp(ev->repo, slash + 1) != 0)
      return invalid(ev, errbuf, errbuf_len,
                     "repository.full_name: name differs from "
                     "repository.name");
    if (!have_login) {
      memcpy(ev->owner, full, olen);
      ev->owner[olen] = '\0';
    }
    if (!have_name)
      memcpy(ev->repo, slash + 1, rlen + 1);
  } else if (!have_login || !have_name) {
    return invalid(ev, errbuf, errbuf_len,
                   "repository: needs owner.login and name, or full_name");
  }
  {
    /* Both names are under EG_EVENT_NAME_LEN: this always fits. */
    size_t n = put(ev->full_name, 0, ev->owner, strlen(ev->owner));

    n = put(ev->full_name, n, "/", 1);
    put(ev->full_name, n, ev->repo, strlen(ev->repo) + 1);
  }
  return EG_OK;
}

/* Rule 1: the callback URL must be exactly the review endpoint of this
 * repository's run on our API; the run id is the only free part. The URL is
 * compared with <prefix><digits><suffix> and the digits must be the
 * canonical decimal form of a non-zero u64 (no sign, no leading zero), so
 * the URL equals the one rebuilt from the run id byte for byte. */
static int check_callback_url(eg_event_t *ev,
                              const char *api_base,
                              char *errbuf,
                              size_t errbuf_len) {
  static const char repos[] = "/repos/";
  static const char runs[] = "/actions/runs/";
  char prefix[EG_EVENT_API_BASE_MAX + 2 * EG_EVENT_NAME_LEN + sizeof(repos) +
              sizeof(runs)];
  const char *url = ev->callback_url;
  const char *digits;
  size_t plen = 0;
  size_t ulen = strlen(url);
  size_t slen = sizeof(callback_suffix) - 1;
  size_t dlen;
  uint64_t run_id;

  plen = put(prefix, plen, api_base, strlen(api_base));
  plen = put(prefix, plen, repos, sizeof(repos) - 1);
  plen = put(prefix, plen, ev->owner, strlen(ev->owner));
  plen = put(prefix, plen, "/", 1);
  plen = put(prefix, plen, ev->repo, strlen(ev->repo));
  plen = put(prefix, plen, runs, sizeof(runs) - 1);
  prefix[plen] = '\0';
  if (ulen <= plen + slen || memcmp(url, prefix, plen) != 0 ||
      memcmp(url + ulen - slen, callback_suffix, slen) != 0)
    goto mismatch;
  digits = url + plen;
  dlen = ulen - plen - slen;
  for (size_t i = 0; i < dlen; i++) {
    if (digits[i] < '0' || digits[i] > '9')
      goto mismatch;
  }
  if ((dlen > 1 && digits[0] == '0') ||
      eg_parse_u64n(digits, dlen, 1, UINT64_MAX, &run_id) != EG_OK)
    return invalid(ev, errbuf, errbuf_len,
                   "deployment_callback_url: run id must be 1..%" PRIu64
                   " without leading zeros",
                   UINT64_MAX);
  ev->run_id = run_id;
  return EG_OK;

mismatch:
  return invalid(ev, errbuf, errbuf_len,
                 "deployment_callback_url: does not match "
                 "%s<run_id>%s",
                 prefix, callback_suffix);
}

int eg_event_parse(const char *body,
                   size_t len,
                   const char *api_base,
                   unsigned flags,
                   eg_event_t *ev,
                   char *errbuf,
                   size_t errbuf_len) {
  char msg[EG_ERRBUF_LEN];
  uint64_t present = 0;
  size_t env_chars;
  int rc;

  if (ev != NULL)
    memset(ev, 0, sizeof(*ev));
  if (body == NULL || api_base == NULL || ev == NULL) {
    eg__seterr(errbuf, errbuf_len, "event: NULL argument");
    return EG_EINVAL;
  }
  if (len > EG_EVENT_BODY_MAX) {
    eg__seterr(errbuf, errbuf_len, "body: over %u bytes", EG_EVENT_BODY_MAX);
    return EG_ETOOBIG;
  }
  rc = check_api_base(api_base, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;

  msg[0] = '\0';
  rc = eg__json_scan(fields, F_COUNT, EG_EVENT_DEPTH_MAX, body, len, ev,
                     &present, msg, sizeof(msg));
  if (rc != EG_OK && rc != EG_EINVAL) {
    memset(ev, 0, sizeof(*ev));
    eg__seterr(errbuf, errbuf_len, "%s", msg);
    return rc;
  }

  /* The action decides whether the rest matters, so it goes first; a
   * field error elsewhere does not hide another action. */
  if ((present & BIT(F_ACTION)) == 0) {
    if (rc != EG_OK)
      return invalid(ev, errbuf, errbuf_len, "%s", msg);
    return invalid(ev, errbuf, errbuf_len, "action: missing");
  }
  if (!is_token(ev->action))
    return invalid(ev, errbuf, errbuf_len, "action: must be visible ASCII");
  if (strcmp(ev->action, "requested") != 0) {
    char action[EG_EVENT_ACTION_LEN];

    /* invalid() zeroes ev, so the action is copied out first. */
    memcpy(action, ev->action, sizeof(action));
    if ((flags & EG_EVENT_ALLOW_OTHER_ACTIONS) == 0)
      return invalid(ev, errbuf, errbuf_len,
                     "action: is \"%s\", not \"requested\"", action);
    memset(ev, 0, sizeof(*ev));
    memcpy(ev->action, action, sizeof(action));
    ev->kind = EG_EVENT_OTHER_ACTION;
    return EG_OK;
  }
  if (rc != EG_OK)
    return invalid(ev, errbuf, errbuf_len, "%s", msg);

  if ((present & BIT(F_ENVIRONMENT)) == 0)
    return invalid(ev, errbuf, errbuf_len, "environment: missing");
  if (ev->environment[0] == '\0')
    return invalid(ev, errbuf, errbuf_len, "environment: empty");
  if (!is_clean_utf8(ev->environment, &env_chars))
    return invalid(ev, errbuf, errbuf_len,
                   "environment: must be UTF-8 without control characters");
  if (env_chars > EG_EVENT_ENV_CHARS_MAX)
    return invalid(ev, errbuf, errbuf_len,
                   "environment: longer than %d characters",
                   EG_EVENT_ENV_CHARS_MAX);

  if ((present & BIT(F_SHA)) == 0)
    return invalid(ev, errbuf, errbuf_len, "sha: missing");
  if (!is_sha(ev->sha))
    return invalid(ev, errbuf, errbuf_len,
                   "sha: must be 40 or 64 lowercase hex digits");

  if (!is_clean_utf8(ev->ref, &env_chars))
    return invalid(ev, errbuf, errbuf_len,
                   "ref: must be UTF-8 without control characters");
  if (!is_token(ev->event))
    return invalid(ev, errbuf, errbuf_len, "event: must be visible ASCII");

  if ((present & BIT(F_INSTALLATION_ID)) == 0)
    return invalid(ev, errbuf, errbuf_len, "installation.id: missing");
  if (ev->installation_id == 0)
    return invalid(ev, errbuf, errbuf_len, "installation.id: must not be 0");
  if ((present & BIT(F_REPOSITORY_ID)) == 0)
    return invalid(ev, errbuf, errbuf_len, "repository.id: missing");
  if (ev->repository_id == 0)
    return invalid(ev, errbuf, errbuf_len, "repository.id: must not be 0");
  rc = resolve_repository(ev, present, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;

  if ((present & BIT(F_CALLBACK_URL)) == 0)
    return invalid(ev, errbuf, errbuf_len, "deployment_callback_url: missing");
  rc = check_callback_url(ev, api_base, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;

  ev->has_workflow_run_id = (present & BIT(F_WORKFLOW_RUN_ID)) != 0;
  if (ev->has_workflow_run_id && ev->workflow_run_id != ev->run_id)
    return invalid(ev, errbuf, errbuf_len,
                   "workflow_run.id: %" PRIu64
                   " differs from the run id %" PRIu64
                   " in deployment_callback_url",
                   ev->workflow_run_id, ev->run_id);
  ev->has_deployment_id = (present & BIT(F_DEPLOYMENT_ID)) != 0;
  if (ev->has_deployment_id && ev->deployment_id == 0)
    return invalid(ev, errbuf, errbuf_len, "deployment.id: must not be 0");
  if (!is_token(ev->sender_login))
    return invalid(ev, errbuf, errbuf_len,
                   "sender.login: must be visible ASCII");

  ev->kind = EG_EVENT_GATE_REQUEST;
  return EG_OK;
}

int eg_event_build_key(const eg_event_t *ev,
                       char *key,
                       size_t key_len,
                       size_t *out_len) {
  size_t n;
  size_t env_len;
  int w;

  if (out_len != NULL)
    *out_len = 0;
  if (key != NULL && key_len > 0)
    key[0] = '\0';
  if (ev == NULL || key == NULL || ev->kind != EG_EVENT_GATE_REQUEST)
    return EG_EINVAL;
  w = snprintf(key, key_len, "%" PRIu64 "/%" PRIu64 "/", ev->repository_id,
               ev->run_id);
  env_len = strnlen(ev->environment, sizeof(ev->environment));
  if (w < 0 || (size_t)w + env_len >= key_len) {
    if (key_len > 0)
      key[0] = '\0';
    return EG_ERANGE;
  }
  n = (size_t)w;
  /* ASCII-only lowering: bytes >= 0x80 (UTF-8) pass through unchanged, so
   * the key never depends on the locale. */
  for (size_t i = 0; i < env_len; i++) {
    char c = ev->environment[i];
    key[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  key[n] = '\0';
  if (out_len != NULL)
    *out_len = n;
  return EG_OK;
}

int eg_event_check_delivery_id(const char *id,
                               size_t len,
                               char *errbuf,
                               size_t errbuf_len) {
  bool nil = true;

  if (id == NULL || len != EG_EVENT_DELIVERY_ID_LEN)
    goto bad;
  for (size_t i = 0; i < len; i++) {
    char c = id[i];

    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        goto bad;
    } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
      if (c != '0')
        nil = false;
    } else {
      goto bad;
    }
  }
  if (nil) {
    eg__seterr(errbuf, errbuf_len, "delivery id: must not be the nil UUID");
    return EG_EINVAL;
  }
  return EG_OK;

bad:
  eg__seterr(errbuf, errbuf_len,
             "delivery id: must be a canonical UUID (8-4-4-4-12 lowercase "
             "hex)");
  return EG_EINVAL;
}

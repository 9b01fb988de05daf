/* GitHub deployment_protection_rule webhook payloads: parse and validate a
 * body (contract decision rule 1), check X-GitHub-Delivery, build the Kafka
 * key. Independent of HTTP: the ingress checks deliveries with it and the
 * worker re-parses stored bodies with it. */
#ifndef EG_EVENT_H
#define EG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bodies over this are refused before parsing (GitHub caps payloads at
 * 25 MB); callers normally enforce a much smaller limit themselves. */
#define EG_EVENT_BODY_MAX (32u * 1024u * 1024u)
/* Deepest nesting of arrays/objects accepted in a body. */
#define EG_EVENT_DEPTH_MAX 64
/* Longest API base URL accepted by eg_event_parse(), in bytes. */
#define EG_EVENT_API_BASE_MAX 512

/* Buffer sizes of eg_event_t, NUL included. */
#define EG_EVENT_ACTION_LEN    32   /* visible ASCII */
#define EG_EVENT_ENV_LEN       1024 /* UTF-8, also <= 255 characters */
#define EG_EVENT_ENV_CHARS_MAX 255  /* GitHub's limit on environment names */
#define EG_EVENT_EVENT_LEN     64   /* visible ASCII */
#define EG_EVENT_REF_LEN       1024 /* UTF-8 */
#define EG_EVENT_SHA_LEN       65   /* 40 or 64 lowercase hex digits */
#define EG_EVENT_URL_LEN       1024
#define EG_EVENT_NAME_LEN      101 /* owner or repository: [A-Za-z0-9._-] */
#define EG_EVENT_FULL_NAME_LEN (2 * EG_EVENT_NAME_LEN)
#define EG_EVENT_LOGIN_LEN     101 /* sender login: visible ASCII */
/* Kafka key buffer: "<u64>/<u64>/<environment>" and a NUL. */
#define EG_EVENT_KEY_LEN (20 + 1 + 20 + 1 + EG_EVENT_ENV_LEN)

/* Length of a delivery id: a canonical UUID. */
#define EG_EVENT_DELIVERY_ID_LEN 36

/* eg_event_parse() flag: an action other than "requested" is not an error
 * but EG_OK with kind EG_EVENT_OTHER_ACTION (the ingress answers 204).
 * Without it such a body is EG_EINVAL (the worker's re-parse). */
#define EG_EVENT_ALLOW_OTHER_ACTIONS 1u

typedef enum eg_event_kind {
  EG_EVENT_NONE = 0,         /* not parsed, or the parse failed */
  EG_EVENT_GATE_REQUEST = 1, /* action "requested": every field valid */
  EG_EVENT_OTHER_ACTION = 2  /* another action: only kind and action set */
} eg_event_kind_t;

/* A parsed payload: a value type with fixed buffers, no heap memory, no
 * cleanup. Strings are NUL-terminated; optional ones are "" when absent. */
typedef struct eg_event_s {
  eg_event_kind_t kind;
  char action[EG_EVENT_ACTION_LEN];
  char environment[EG_EVENT_ENV_LEN];     /* as sent (case preserved) */
  char event[EG_EVENT_EVENT_LEN];         /* optional, e.g. workflow_dispatch */
  char ref[EG_EVENT_REF_LEN];             /* optional: "main" or "refs/..." */
  char sha[EG_EVENT_SHA_LEN];             /* 40 or 64 lowercase hex */
  char callback_url[EG_EVENT_URL_LEN];    /* deployment_callback_url */
  char owner[EG_EVENT_NAME_LEN];          /* repository owner login */
  char repo[EG_EVENT_NAME_LEN];           /* repository name */
  char full_name[EG_EVENT_FULL_NAME_LEN]; /* "<owner>/<repo>" */
  char sender_login[EG_EVENT_LOGIN_LEN];  /* optional, for logs/audit */
  uint64_t repository_id;                 /* non-zero */
  uint64_t installation_id;               /* non-zero */
  uint64_t run_id;                        /* non-zero, from the callback URL */
  uint64_t deployment_id;                 /* valid when has_deployment_id */
  uint64_t workflow_run_id; /* valid when has_workflow_run_id (== run_id) */
  bool has_deployment_id;
  bool has_workflow_run_id;
} eg_event_t;

/* Parses and validates the len bytes at body (need not be NUL-terminated)
 * as a deployment_protection_rule payload, against api_base, the GitHub API
 * base URL (https://api.github.com, or https://<host>/api/v3 for GHES; no
 * trailing slash).
 *
 * The body must be one well-formed JSON object (strict UTF-8, paired
 * \u surrogate escapes, nesting at most EG_EVENT_DEPTH_MAX, nothing after
 * it; see docs/parsing.md). Fields read, by path:
 * - action: string, required. Anything but "requested" is EG_EINVAL, or
 *   EG_OK/EG_EVENT_OTHER_ACTION with EG_EVENT_ALLOW_OTHER_ACTIONS (then no
 *   other field is validated).
 * - environment: string, required, non-empty, valid UTF-8, no control
 *   characters (C0, DEL, C1), at most EG_EVENT_ENV_CHARS_MAX characters.
 * - sha: string, required, 40 or 64 lowercase hex digits.
 * - ref, event: strings, optional (null or "" count as absent); ref is UTF-8
 *   without control characters, event visible ASCII (0x21-0x7e).
 * - installation.id, repository.id: required non-zero integers.
 * - repository.owner.login + repository.name, or repository.full_name
 *   "<owner>/<name>": each name [A-Za-z0-9._-]{1,100}, not "." or "..";
 *   every form present must agree exactly.
 * - deployment_callback_url: string, required; must EQUAL
 *   <api_base>/repos/<owner>/<repo>/actions/runs/<run_id>/deployment_protection_rule
 *   byte for byte, run_id a non-zero decimal u64 without sign or leading
 *   zeros. GitHub treats names case-insensitively, but a case difference
 *   from the payload's repository (or the host from api_base) is refused.
 * - deployment.id: optional integer; workflow_run.id: optional integer that
 *   must equal run_id; sender.login: optional visible ASCII.
 * - deployment, workflow_run, sender (objects) may be null.
 * Ids are JSON integers 0..UINT64_MAX: a sign, fraction, exponent or
 * overflow is invalid. Any field above with the wrong JSON type, or any of
 * these keys repeated in its object, is invalid; keys not listed here are
 * syntax-checked only (their duplicates are not detected).
 *
 * @returns EG_OK (*ev filled, kind set); EG_EPARSE (not well-formed JSON,
 * too deep, or not an object); EG_EINVAL (a rule above failed, or a NULL
 * argument, or a bad api_base); EG_ETOOBIG (len > EG_EVENT_BODY_MAX);
 * EG_ENOMEM. On failure *ev is zeroed (kind EG_EVENT_NONE). errbuf (may be
 * NULL) names the field and the rule; it never quotes the body, except an
 * action that passed the visible-ASCII and 31-byte checks.
 * Thread-safe; ev is caller-allocated (about 4 KB) and borrowed. */
int eg_event_parse(const char *body,
                   size_t len,
                   const char *api_base,
                   unsigned flags,
                   eg_event_t *ev,
                   char *errbuf,
                   size_t errbuf_len);

/* Writes the Kafka key "<repository_id>/<run_id>/<environment>" with the
 * environment lowercased in ASCII only (A-Z -> a-z; other bytes, including
 * UTF-8 sequences, are copied unchanged) into key (key_len bytes, at most
 * EG_EVENT_KEY_LEN needed), NUL-terminated; *out_len (may be NULL) gets the
 * length without the NUL.
 * @returns EG_OK, EG_EINVAL (NULL argument, or ev not a gate request) or
 * EG_ERANGE (key_len too small; key is then ""). */
int eg_event_build_key(const eg_event_t *ev,
                       char *key,
                       size_t key_len,
                       size_t *out_len);

/* Checks an X-GitHub-Delivery value (len bytes at id, need not be
 * NUL-terminated): a canonical UUID, 8-4-4-4-12 LOWERCASE hex digits (as
 * GitHub sends them), not the nil UUID. Version and variant bits are not
 * checked. errbuf never quotes the value.
 * @returns EG_OK or EG_EINVAL. */
int eg_event_check_delivery_id(const char *id,
                               size_t len,
                               char *errbuf,
                               size_t errbuf_len);

#endif /* EG_EVENT_H */

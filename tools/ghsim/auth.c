/* Credentials: App JWT checks (signature by eg_jwt_verify, GitHub's
 * messages for each failed rule) and the store of installation tokens. */
#include "ghsim.h"

#include "eg/base64url.h"
#include "eg/error.h"
#include "eg/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages GitHub answers for App JWT problems (octokit/auth-app matches
 * them to correct clock skew). */
#define MSG_DECODE  "A JSON web token could not be decoded"
#define MSG_EXP_FAR "'Expiration time' claim ('exp') is too far in the future"
#define MSG_EXPIRED                                                            \
  "'Expiration time' claim ('exp') must be a numeric value representing the "  \
  "future time at which the assertion expires"
#define MSG_IAT                                                                \
  "'Issued at' claim ('iat') must be an Integer representing the time that "   \
  "the assertion was issued"
#define MSG_ISS "Integration not found"

/* Decodes the claims segment without checking anything, to tell which rule
 * a token broke. @returns 0 when iat and exp are integers. */
static int peek_claims(const char *jwt, int64_t *iat, int64_t *exp) {
  const char *d1 = strchr(jwt, '.');
  const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
  char buf[2048];
  size_t n;
  json_t *o;
  json_t *ji, *je;
  int rc = -1;

  if (d2 == NULL || (size_t)(d2 - d1 - 1) > 2700)
    return -1;
  if (eg_base64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf, sizeof(buf),
                          &n) != EG_OK)
    return -1;
  o = json_loadb(buf, n, 0, NULL);
  ji = json_object_get(o, "iat");
  je = json_object_get(o, "exp");
  if (json_is_integer(ji) && json_is_integer(je)) {
    *iat = (int64_t)json_integer_value(ji);
    *exp = (int64_t)json_integer_value(je);
    rc = 0;
  }
  json_decref(o);
  return rc;
}

void gs_auth_check_jwt(const struct gs_scenario *sc,
                       const char *authz,
                       int64_t now_s,
                       struct gs_jwt_result *out) {
  const char *pem = sc->app.public_key_pem;
  eg_jwt_claims_t claims;
  char id[32];
  const char *jwt;
  int64_t iat, exp;
  int rc;

  out->status = 401;
  out->message = MSG_DECODE;
  if (authz == NULL)
    return; /* GitHub answers a missing JWT like an undecodable one. */
  if (strncasecmp(authz, "Bearer ", 7) != 0)
    return;
  jwt = authz + 7;
  if (pem == NULL) {
    /* No key configured: nothing can verify, as with a revoked App key. */
    return;
  }
  rc = eg_jwt_verify(jwt, pem, strlen(pem), now_s, &claims, NULL, 0);
  if (rc == EG_OK) {
    snprintf(id, sizeof(id), "%llu", (unsigned long long)sc->app.id);
    if (strcmp(claims.iss, id) != 0 &&
        strcmp(claims.iss, sc->app.client_id) != 0) {
      out->message = MSG_ISS;
      return;
    }
    out->status = 0;
    out->message = NULL;
    return;
  }
  if (rc != EG_EAUTH || peek_claims(jwt, &iat, &exp) != 0)
    return;
  if (exp - iat > EG_JWT_MAX_LIFETIME) {
    out->message = MSG_EXP_FAR;
    return;
  }
  /* Tell a timing failure from a forgery: verify again at a moment inside
   * the token's window; only a good signature passes then. */
  if (iat < exp &&
      eg_jwt_verify(jwt, pem, strlen(pem), iat, &claims, NULL, 0) == EG_OK) {
    if (iat > now_s)
      out->message = MSG_IAT;
    else
      out->message = MSG_EXPIRED;
  }
}

int gs_tokens_init(struct gs_tokens *t) {
  memset(t, 0, sizeof(*t));
  return pthread_rwlock_init(&t->lock, NULL) == 0 ? 0 : -1;
}

static void token_free(struct gs_token *tok) {
  if (tok == NULL)
    return;
  if (tok->token != NULL) {
    memset(tok->token, 0, strlen(tok->token));
    free(tok->token);
  }
  free(tok->repo_ids);
  free(tok);
}

void gs_tokens_cleanup(struct gs_tokens *t) {
  for (size_t i = 0; i < t->n; i++)
    token_free(t->all[i]);
  free(t->all);
  gs_map_free(&t->map);
  pthread_rwlock_destroy(&t->lock);
}

int gs_tokens_add(struct gs_tokens *t, struct gs_token *tok) {
  int rc = -1;

  pthread_rwlock_wrlock(&t->lock);
  if (t->n == t->cap) {
    size_t nc = t->cap == 0 ? 64 : t->cap * 2;
    struct gs_token **na = realloc(t->all, nc * sizeof(*na));
    if (na == NULL)
      goto out;
    t->all = na;
    t->cap = nc;
  }
  if (gs_map_put(&t->map, gs_hash_str(tok->token), tok->token, tok) != 0)
    goto out;
  t->all[t->n++] = tok;
  rc = 0;
out:
  pthread_rwlock_unlock(&t->lock);
  return rc;
}

struct gs_token *gs_tokens_find(struct gs_tokens *t, const char *token) {
  struct gs_token *tok;

  pthread_rwlock_rdlock(&t->lock);
  tok = gs_map_get(&t->map, gs_hash_str(token), token);
  pthread_rwlock_unlock(&t->lock);
  return tok;
}

bool gs_token_has_repo(const struct gs_token *tok, uint64_t repo_id) {
  if (tok->repo_ids == NULL)
    return true;
  for (size_t i = 0; i < tok->nrepo_ids; i++)
    if (tok->repo_ids[i] == repo_id)
      return true;
  return false;
}

void gs_tokens_expire_all(struct gs_tokens *t) {
  int64_t now = gs_wall_ms();

  pthread_rwlock_rdlock(&t->lock);
  for (size_t i = 0; i < t->n; i++)
    atomic_store(&t->all[i]->expires_ms, now);
  pthread_rwlock_unlock(&t->lock);
}

json_t *gs_tokens_json(struct gs_tokens *t) {
  json_t *arr = json_array();

  if (arr == NULL)
    return NULL;
  pthread_rwlock_rdlock(&t->lock);
  for (size_t i = 0; i < t->n; i++) {
    const struct gs_token *tok = t->all[i];
    json_t *ids = json_null();
    char exp[40];
    if (tok->repo_ids != NULL) {
      ids = json_array();
      for (size_t k = 0; ids != NULL && k < tok->nrepo_ids; k++)
        json_array_append_new(ids, json_integer((json_int_t)tok->repo_ids[k]));
    }
    gs_fmt_iso_ms(atomic_load(&tok->expires_ms), exp, sizeof(exp));
    json_array_append_new(
        arr, json_pack("{s:s,s:s,s:I,s:o,s:o,s:s}", "token", tok->token,
                       "token_sha256", tok->sha256, "installation_id",
                       (json_int_t)tok->inst->id, "repository_ids", ids,
                       "permissions", gs_perms_json(&tok->perms), "expires_at",
                       exp));
  }
  pthread_rwlock_unlock(&t->lock);
  return arr;
}

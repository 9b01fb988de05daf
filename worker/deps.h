/* What the worker needs besides Kafka: the webhook secrets (to re-verify),
 * the policy, the App key, the GitHub client, Redis and the token cache. */
#ifndef WRK_DEPS_H
#define WRK_DEPS_H

#include "eg/config.h"
#include "eg/gh_client.h"
#include "eg/jwt.h"
#include "eg/metrics.h"
#include "eg/policy.h"
#include "eg/redis.h"
#include "eg/signature.h"
#include "eg/token_cache.h"
#include "eg/token_crypt.h"

typedef struct wrk_deps_s {
  const eg_config_t *cfg;
  eg_signature_verifier_t *verifier;
  eg_policy_t *policy;
  eg_jwt_signer_t *jwt;
  eg_gh_client_t *gh;
  eg_redis_t *redis;
  eg_token_crypt_t *keys; /* NULL without ENVGATE_TOKEN_KEY_FILE */
  eg_token_cache_t *tokens;
  char web_origin[512]; /* https://github.com, or the GHES host */
  eg_metric_t *gh_calls;
  eg_metric_t *gh_latency;
  eg_metric_t *rate_remaining;
} wrk_deps_t;

/* Builds every dependency from cfg (read once at start); a bad policy or
 * key file is reported here and the worker exits 2.
 * @returns EG_OK or an EG_E* code with errbuf. Free with wrk_deps_free(). */
int wrk_deps_new(const eg_config_t *cfg,
                 eg_metrics_t *metrics,
                 wrk_deps_t **out,
                 char *errbuf,
                 size_t errbuf_len);

void wrk_deps_free(wrk_deps_t *deps);

/* Mints an installation token for one repository with least privilege
 * (eg_token_mint_fn for the token cache; ud is the wrk_deps_t).
 * @returns EG_OK, EG_EAGAIN (transient), EG_EPERM (permanent: installation
 * or App refused) or EG_ENOMEM. */
int wrk_mint_token(void *ud,
                   uint64_t installation_id,
                   uint64_t repository_id,
                   char **token,
                   time_t *expires_at,
                   char *errbuf,
                   size_t errbuf_len);

/* Performs n GitHub calls in parallel and records metrics (endpoint is a
 * fixed label such as "run" or "review"). */
void wrk_gh_many(wrk_deps_t *deps,
                 const eg_gh_call_t *calls,
                 const char *const *endpoints,
                 size_t n,
                 eg_gh_response_t *resps);

#endif /* WRK_DEPS_H */

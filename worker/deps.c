/* Construction of the worker's dependencies, the token mint and metered
 * GitHub calls. */
#include "deps.h"

#include "eg/error.h"
#include "eg/gh_parse.h"
#include "eg/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The permissions every installation token is scoped to (least privilege). */
#define TOKEN_PERMISSIONS "actions:read,deployments:write"

static void report_policy(const char *line, void *ud) {
  (void)ud;
  eg_log(EG_LOG_ERROR, "invalid policy", EG_LSTR("problem", line));
}

int wrk_deps_new(const eg_config_t *cfg,
                 eg_metrics_t *metrics,
                 wrk_deps_t **out,
                 char *errbuf,
                 size_t errbuf_len) {
  static const char *const call_labels[] = {"endpoint", "status"};
  static const char *const endpoint_label[] = {"endpoint"};
  static const double buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5,  1,     2.5,  5,   10};
  wrk_deps_t *d;
  eg_gh_client_options_t gho = {0};
  eg_redis_opts_t ro = {0};
  eg_token_cache_opts_t tco = {0};
  char ua[64];
  int rc;

  *out = NULL;
  d = calloc(1, sizeof(*d));
  if (d == NULL)
    return EG_ENOMEM;
  d->cfg = cfg;
  rc = eg_gh_web_origin(cfg->github_api_url, d->web_origin,
                        sizeof(d->web_origin));
  if (rc == EG_OK)
    rc = eg_signature_verifier_new((const char *const *)cfg->webhook_secrets,
                                   cfg->nwebhook_secrets, &d->verifier, errbuf,
                                   errbuf_len);
  if (rc == EG_OK)
    rc = eg_policy_load_file(cfg->policy_file, &d->policy, report_policy, NULL,
                             errbuf, errbuf_len);
  if (rc == EG_OK)
    rc = eg_jwt_signer_new_file(cfg->app_private_key_file, &d->jwt, errbuf,
                                errbuf_len);
  if (rc == EG_OK) {
    snprintf(ua, sizeof(ua), "envgate/%s", EG_VERSION);
    gho.base_url = cfg->github_api_url;
    gho.user_agent = ua;
    gho.pool_size = (unsigned)cfg->worker_inflight;
    rc = eg_gh_client_new(&gho, &d->gh, errbuf, errbuf_len);
  }
  if (rc == EG_OK)
    rc = eg_redis_new(cfg->redis_url, &ro, &d->redis, errbuf, errbuf_len);
  if (rc == EG_OK && cfg->token_key_file != NULL)
    rc = eg_token_crypt_new_file(cfg->token_key_file, &d->keys, errbuf,
                                 errbuf_len);
  if (rc == EG_OK) {
    tco.app_id = cfg->app_id;
    tco.api_base = cfg->github_api_url;
    tco.permissions = TOKEN_PERMISSIONS;
    tco.mint = wrk_mint_token;
    tco.mint_ud = d;
    tco.redis = d->redis;
    tco.keys = d->keys;
    rc = eg_token_cache_new(&tco, &d->tokens, errbuf, errbuf_len);
  }
  if (rc == EG_OK)
    rc = eg_metrics_counter(metrics, "envgate_worker_github_calls_total",
                            "GitHub API calls, by endpoint and HTTP status "
                            "(0: no answer)",
                            call_labels, 2, &d->gh_calls, errbuf, errbuf_len);
  if (rc == EG_OK)
    rc = eg_metrics_histogram(metrics, "envgate_worker_github_call_seconds",
                              "GitHub API call latency, by endpoint",
                              endpoint_label, 1, buckets,
                              sizeof(buckets) / sizeof(buckets[0]),
                              &d->gh_latency, errbuf, errbuf_len);
  if (rc == EG_OK)
    rc = eg_metrics_gauge(metrics, "envgate_worker_github_ratelimit_remaining",
                          "x-ratelimit-remaining of the last GitHub answer",
                          NULL, 0, &d->rate_remaining, errbuf, errbuf_len);
  if (rc != EG_OK) {
    wrk_deps_free(d);
    return rc;
  }
  *out = d;
  return EG_OK;
}

void wrk_deps_free(wrk_deps_t *d) {
  if (d == NULL)
    return;
  eg_token_cache_free(d->tokens);
  eg_token_crypt_free(d->keys);
  eg_redis_free(d->redis);
  eg_gh_client_free(d->gh);
  eg_jwt_signer_free(d->jwt);
  eg_policy_free(d->policy);
  eg_signature_verifier_free(d->verifier);
  free(d);
}

void wrk_gh_many(wrk_deps_t *d,
                 const eg_gh_call_t *calls,
                 const char *const *endpoints,
                 size_t n,
                 eg_gh_response_t *resps) {
  eg_gh_request_many(d->gh, calls, n, resps);
  for (size_t i = 0; i < n; i++) {
    char status[8];

    snprintf(status, sizeof(status), "%d", resps[i].status);
    eg_metric_inc(d->gh_calls, (const char *const[]){endpoints[i], status});
    eg_metric_observe(d->gh_latency, (const char *const[]){endpoints[i]},
                      (double)resps[i].elapsed_us / 1e6);
    eg_log(EG_LOG_DEBUG, "github call", EG_LSTR("endpoint", endpoints[i]),
           EG_LINT("status", resps[i].status),
           EG_LDBL("ms", (double)resps[i].elapsed_us / 1e3),
           EG_LSTR("request_id", resps[i].hdr.request_id));
    if (resps[i].hdr.has_remaining)
      eg_metric_set(d->rate_remaining, NULL, (double)resps[i].hdr.remaining);
  }
}

/* The parser and the cache agree on the longest token. */
_Static_assert(EG_GH_INSTALLATION_TOKEN_MAX == EG_TOKEN_MAX_LEN,
               "token limits differ");

int wrk_mint_token(void *ud,
                   uint64_t installation_id,
                   uint64_t repository_id,
                   char **token,
                   time_t *expires_at,
                   char *errbuf,
                   size_t errbuf_len) {
  wrk_deps_t *d = ud;
  char jwt[EG_JWT_SIZE];
  char path[96];
  char body[160];
  eg_gh_call_t call = {0};
  eg_gh_response_t resp;
  const char *endpoint = "access_tokens";
  int rc;

  *token = NULL;
  rc = eg_jwt_mint(d->jwt, d->cfg->app_id, (int64_t)time(NULL), jwt,
                   sizeof(jwt), errbuf, errbuf_len);
  if (rc != EG_OK)
    return EG_EPERM;
  snprintf(path, sizeof(path), "/app/installations/%llu/access_tokens",
           (unsigned long long)installation_id);
  snprintf(body, sizeof(body),
           "{\"repository_ids\":[%llu],\"permissions\":{\"actions\":\"read\","
           "\"deployments\":\"write\"}}",
           (unsigned long long)repository_id);
  call.method = EG_GH_POST;
  call.path = path;
  call.token = jwt;
  call.body = body;
  wrk_gh_many(d, &call, &endpoint, 1, &resp);
  memset(jwt, 0, sizeof(jwt));
  if (resp.err != EG_OK || resp.status == 429 || resp.status >= 500) {
    snprintf(errbuf, errbuf_len, "token request: %s",
             resp.err != EG_OK ? resp.errmsg : "GitHub unavailable");
    rc = EG_EAGAIN;
  } else if (resp.status != 201) {
    /* 401: the App key or id is wrong; 403/404/422: the installation does
     * not grant what we ask. Retrying cannot help. */
    snprintf(errbuf, errbuf_len, "token request: HTTP %d", resp.status);
    rc = resp.status == 403 && resp.hdr.has_remaining && resp.hdr.remaining == 0
             ? EG_EAGAIN
             : EG_EPERM;
  } else {
    eg_gh_token_t parsed;
    char why[EG_ERRBUF_LEN];

    rc = eg_gh_parse_token(resp.body, resp.body_len, &parsed, why, sizeof(why));
    if (rc == EG_OK) {
      /* Ownership of the string passes to the cache. */
      *token = parsed.token;
      *expires_at = (time_t)parsed.expires_at;
    } else if (rc != EG_ENOMEM) {
      snprintf(errbuf, errbuf_len, "token request: unexpected response (%s)",
               why);
      rc = EG_EAGAIN;
    } else {
      snprintf(errbuf, errbuf_len, "token request: %s", why);
    }
  }
  if (resp.body != NULL)
    memset(resp.body, 0, resp.body_len);
  eg_gh_response_cleanup(&resp);
  return rc;
}

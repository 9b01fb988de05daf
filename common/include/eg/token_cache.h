/* Installation tokens shared by the worker's threads and by the fleet: an
 * in-process cache in front of Redis, single-flight minting (one mint per
 * installation, repository and permissions at a time, fleet-wide), optional
 * AES-256-GCM encryption at rest, and invalidation after a 401.
 *
 * Lookup order for eg_token_cache_get():
 * 1. In-process table: a token whose expires_at - margin is in the future is
 *    returned without touching Redis. When another thread of this process
 *    is already fetching the same key, the caller waits for its result
 *    (condition variable), so 64 threads cost one fetch.
 * 2. Redis GET of the key. A value that does not parse or open (unknown key
 *    id, tampered, other key name, plaintext while a key is set) is a miss
 *    and gets overwritten.
 * 3. Redis lock: SET <key>:lock <random owner> NX PX lock_ttl_ms. The owner
 *    reads the key again (a peer may just have stored it), mints through
 *    the callback, stores the value with a TTL of expires_at - margin, and
 *    deletes the lock only if it still holds it (compare-and-delete in Lua).
 *    Others poll the key every 10..100 ms and retry the lock, so that when
 *    the holder dies its lock expires and a waiter mints; after
 *    lock_wait_ms they mint without the lock.
 * 4. Redis failing (down, timeout, error): the fetch mints directly and the
 *    in-process cache still serves the result; the failure is counted and
 *    reported in eg_token_info_t.redis_failed. eg_redis's backoff keeps a
 *    dead Redis from adding a connect timeout to every call.
 *
 * Redis key: "envgate:token:v1:<installation>:<repository>:<scope>" where
 * scope is 16 hex characters of SHA-256(app_id "\n" api_base "\n"
 * permissions), so two Apps, GitHub hosts or permission sets never share a
 * token; the lock is the same key plus ":lock".
 * Value, without a token key: "p1:<expires_at>:<minted_at>:<token>"
 * (plaintext: anyone who can read Redis can use the token until it expires,
 * at most an hour; acceptable when Redis is private to the workers). With a
 * key (eg/token_crypt.h): the "e1:" sealed form of
 * "<expires_at>:<minted_at>:<token>", bound to the Redis key.
 *
 * Threads: one eg_token_cache_t serves every worker thread. Redis access
 * goes through the caller's eg_redis_t pool: misses are rare (about one per
 * installation and repository per hour, plus invalidations), so a few
 * pooled connections suffice, where a connection per thread would hold 64
 * idle sockets per worker and make 64 reconnects after a Redis restart.
 * The cache never logs, and never puts a token in errbuf. */
#ifndef EG_TOKEN_CACHE_H
#define EG_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "eg/redis.h"
#include "eg/token_crypt.h"

#define EG_TOKEN_MAX_LEN 4096 /* bytes of one token */

/* Mints a token for installation_id, restricted to repository_id (0: no
 * restriction), with the permissions the cache was created with. Called
 * from the thread that called eg_token_cache_get(), without any cache lock
 * held; may run concurrently for different keys. On EG_OK, *token is a
 * NUL-terminated string from malloc() (1..EG_TOKEN_MAX_LEN printable ASCII
 * characters, no spaces) whose ownership passes to the cache, and
 * *expires_at is GitHub's expires_at. Return a negative EG_E* code with a
 * line in errbuf otherwise; it is handed back to the caller as is. */
typedef int (*eg_token_mint_fn)(void *ud,
                                uint64_t installation_id,
                                uint64_t repository_id,
                                char **token,
                                time_t *expires_at,
                                char *errbuf,
                                size_t errbuf_len);

typedef struct eg_token_cache_opts_s {
  const char *app_id;      /* required: App ID or Client ID */
  const char *api_base;    /* required: e.g. https://api.github.com */
  const char *permissions; /* required: canonical text of the requested
                              permissions, e.g. "actions:read,deployments:
                              write"; part of the key */
  eg_token_mint_fn mint;   /* required */
  void *mint_ud;
  eg_redis_t *redis;            /* borrowed; NULL: in-process cache only */
  const eg_token_crypt_t *keys; /* borrowed; NULL: plaintext in Redis */
  int margin_s;       /* a token is used until expires_at - margin; one with
                         less life left is not cached; default 300 */
  int lock_ttl_ms;    /* Redis lock expiry: longer than a mint takes;
                         default 15000 */
  int lock_wait_ms;   /* how long a waiter waits for another worker's mint
                         before minting itself; default 20000 */
  size_t max_entries; /* in-process entries; default 10000 */
} eg_token_cache_opts_t;

/* Where a token came from. */
typedef enum eg_token_source {
  EG_TOKEN_LOCAL = 1,  /* in-process cache (also: another thread's fetch) */
  EG_TOKEN_REDIS = 2,  /* Redis, stored by this or another worker */
  EG_TOKEN_MINTED = 3, /* minted by this call */
} eg_token_source_t;

typedef struct eg_token_info_s {
  eg_token_source_t source;
  time_t expires_at; /* GitHub's expiry */
  time_t minted_at;  /* when the minting worker got it (its clock): a 401
                        within seconds of this is GitHub's replication
                        delay, not a revoked token */
  bool redis_failed; /* Redis was needed and failed (down, timeout) */
} eg_token_info_t;

/* Counters since eg_token_cache_new(), for metrics. */
typedef struct eg_token_cache_stats_s {
  uint64_t hits_local;    /* served from the in-process table */
  uint64_t hits_redis;    /* served from a value in Redis */
  uint64_t misses;        /* neither: went on to lock and mint */
  uint64_t mints;         /* mint callbacks that succeeded */
  uint64_t mint_failures; /* mint callbacks that failed */
  uint64_t lock_waits;    /* fetches that waited for another's lock */
  uint64_t local_waits;   /* gets that waited for another thread */
  uint64_t redis_errors;  /* Redis commands that failed */
  uint64_t bad_values;    /* Redis values that did not parse or open */
  uint64_t invalidations; /* tokens dropped by eg_token_cache_invalidate */
  uint64_t not_cached;    /* minted tokens with less life than margin */
} eg_token_cache_stats_t;

typedef struct eg_token_cache_s eg_token_cache_t;

/* Creates a cache. opts and its strings are copied; redis and keys are
 * borrowed and must outlive the cache.
 * @returns EG_OK, EG_EINVAL (errbuf says which option), EG_ENOMEM.
 * Free with eg_token_cache_free(). */
int eg_token_cache_new(const eg_token_cache_opts_t *opts,
                       eg_token_cache_t **out,
                       char *errbuf,
                       size_t errbuf_len);

/* Frees the cache, overwriting its tokens. No call may be running on it.
 * NULL is a no-op. */
void eg_token_cache_free(eg_token_cache_t *tc);

/* Returns a token for installation_id (> 0) and repository_id (0: the whole
 * installation), minting one when no valid token is cached (see the top of
 * this file). *token is a copy from malloc(); release it with
 * eg_token_cache_free_token(). info may be NULL. Thread-safe; blocks for
 * at most about lock_wait_ms plus the mint's own duration.
 * @returns EG_OK, EG_EINVAL, EG_ENOMEM, or the mint callback's code (its
 * errbuf text is passed on; threads that waited for that mint get the same
 * code and text). */
int eg_token_cache_get(eg_token_cache_t *tc,
                       uint64_t installation_id,
                       uint64_t repository_id,
                       char **token,
                       eg_token_info_t *info,
                       char *errbuf,
                       size_t errbuf_len);

/* Drops a token GitHub refused (401): from the in-process table and from
 * Redis, so the next get mints. With token non-NULL, only that token is
 * dropped: when many threads saw the same 401, the first drops it and the
 * rest leave the fresh token minted since alone (a compare-and-delete in
 * Redis). token NULL drops whatever is cached. Thread-safe.
 * @returns EG_OK (also when nothing was cached), EG_EINVAL, EG_EUNAVAIL /
 * EG_ETIMEDOUT / EG_EIO when Redis failed (the local copy is dropped all
 * the same). */
int eg_token_cache_invalidate(eg_token_cache_t *tc,
                              uint64_t installation_id,
                              uint64_t repository_id,
                              const char *token,
                              char *errbuf,
                              size_t errbuf_len);

/* Overwrites and frees a token from eg_token_cache_get(). NULL is a no-op. */
void eg_token_cache_free_token(char *token);

/* Writes the Redis key for installation_id and repository_id into buf
 * (NUL-terminated). The lock key is the same plus ":lock".
 * @returns EG_OK, EG_EINVAL, EG_ERANGE (buf too small; 96 bytes suffice). */
int eg_token_cache_key(const eg_token_cache_t *tc,
                       uint64_t installation_id,
                       uint64_t repository_id,
                       char *buf,
                       size_t buf_len);

/* Fills *out with the counters. Thread-safe. */
void eg_token_cache_stats(const eg_token_cache_t *tc,
                          eg_token_cache_stats_t *out);

#endif /* EG_TOKEN_CACHE_H */

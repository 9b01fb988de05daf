/* Installation token cache: in-process table with per-key single-flight,
 * Redis values and locks shared by the fleet, optional encryption (the
 * design is described in eg/token_cache.h). */
#include "eg/token_cache.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "internal.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define DEFAULT_MARGIN_S     300
#define DEFAULT_LOCK_TTL_MS  15000
#define DEFAULT_LOCK_WAIT_MS 20000
#define DEFAULT_MAX_ENTRIES  10000
#define MAX_ENTRIES_LIMIT    (1u << 24)
#define MAX_MS               (10 * 60 * 1000)
#define KEY_PREFIX           "envgate:token:v1:"
#define KEY_MAX              96
#define SCOPE_HEX            16
#define POLL_MIN_MS          10
#define POLL_MAX_MS          100
#define MAX_TIME             ((uint64_t)1 << 40) /* far beyond any expiry */

/* Deletes KEYS[1] only while it still holds ARGV[1]: releases our lock, and
 * drops exactly the value an invalidation saw. */
static const char del_if_equal_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) end return 0";

/* Takes the lock, or reports that we hold it already: eg_redis may send a
 * command twice after a dead connection, and the first may have set it. */
static const char lock_lua[] =
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
    "return 1 end "
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end return 0";

struct entry {
  struct entry *next; /* bucket chain */
  uint64_t inst;
  uint64_t repo;
  char *token; /* NULL when none */
  size_t token_len;
  time_t expires_at;
  time_t minted_at;
  int source;   /* of the current token */
  bool pending; /* a thread is fetching this key */
  uint64_t gen; /* completed fetches */
  int err;      /* result of the last fetch */
  char errmsg[EG_ERRBUF_LEN];
  bool redis_failed;
  int waiters;   /* threads waiting on this entry: keeps it alive */
  uint64_t used; /* tc->tick at the last use, for eviction */
};

/* What a fetch produced. */
struct result {
  char *token;
  size_t token_len;
  time_t expires_at;
  time_t minted_at;
  int source;
  bool redis_failed;
  bool bad_value; /* Redis held a value that did not decode */
  int err;
  char errmsg[EG_ERRBUF_LEN];
};

struct eg_token_cache_s {
  char scope[SCOPE_HEX + 1];
  eg_token_mint_fn mint;
  void *mint_ud;
  eg_redis_t *redis;
  const eg_token_crypt_t *keys;
  time_t margin;
  int lock_ttl_ms;
  int lock_wait_ms;
  size_t max_entries;

  pthread_mutex_t mu;
  pthread_cond_t cv; /* broadcast when a fetch completes */
  struct entry **buckets;
  size_t mask;
  size_t count;
  uint64_t tick; /* use counter for eviction */

  _Atomic uint64_t hits_local;
  _Atomic uint64_t hits_redis;
  _Atomic uint64_t misses;
  _Atomic uint64_t mints;
  _Atomic uint64_t mint_failures;
  _Atomic uint64_t lock_waits;
  _Atomic uint64_t local_waits;
  _Atomic uint64_t redis_errors;
  _Atomic uint64_t bad_values;
  _Atomic uint64_t invalidations;
  _Atomic uint64_t not_cached;
};

static const char hexdigits[] = "0123456789abcdef";

static void hex_encode(const unsigned char *in, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexdigits[in[i] >> 4];
    out[2 * i + 1] = hexdigits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static int64_t mono_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

  while (nanosleep(&ts, &ts) != 0)
    ;
}

static void free_secret(char *s, size_t len) {
  if (s == NULL)
    return;
  OPENSSL_cleanse(s, len);
  free(s);
}

void eg_token_cache_free_token(char *token) {
  if (token != NULL)
    free_secret(token, strlen(token));
}

/* A token goes into HTTP headers and into our value format: printable
 * ASCII without spaces, bounded. */
static bool token_ok(const char *t, size_t len) {
  if (len == 0 || len > EG_TOKEN_MAX_LEN)
    return false;
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
      return false;
  }
  return true;
}

static char *dup_bytes(const char *s, size_t len) {
  char *d = malloc(len + 1);

  if (d == NULL)
    return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

/* ---- lifecycle ---- */

static int check_str(const char *s, const char *name, char *eb, size_t el) {
  if (s == NULL || s[0] == '\0') {
    eg__seterr(eb, el, "token cache: %s is required", name);
    return EG_EINVAL;
  }
  if (strlen(s) > 1024) {
    eg__seterr(eb, el, "token cache: %s longer than 1024 bytes", name);
    return EG_EINVAL;
  }
  return EG_OK;
}

int eg_token_cache_new(const eg_token_cache_opts_t *opts,
                       eg_token_cache_t **out,
                       char *errbuf,
                       size_t errbuf_len) {
  eg_token_cache_t *tc;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  pthread_condattr_t ca;
  char *scope_text;
  int n;
  size_t nb = 16;
  int rc;

  if (out == NULL || opts == NULL) {
    eg__seterr(errbuf, errbuf_len, "token cache: opts and out are required");
    return EG_EINVAL;
  }
  *out = NULL;
  if ((rc = check_str(opts->app_id, "app_id", errbuf, errbuf_len)) != EG_OK ||
      (rc = check_str(opts->api_base, "api_base", errbuf, errbuf_len)) !=
          EG_OK ||
      (rc = check_str(opts->permissions, "permissions", errbuf, errbuf_len)) !=
          EG_OK)
    return rc;
  if (opts->mint == NULL) {
    eg__seterr(errbuf, errbuf_len, "token cache: mint is required");
    return EG_EINVAL;
  }
  if (opts->margin_s < 0 || opts->margin_s > 3600 || opts->lock_ttl_ms < 0 ||
      opts->lock_ttl_ms > MAX_MS || opts->lock_wait_ms < 0 ||
      opts->lock_wait_ms > MAX_MS || opts->max_entries > MAX_ENTRIES_LIMIT) {
    eg__seterr(errbuf, errbuf_len,
               "token cache: margin_s must be 0..3600, lock times 0..%d ms, "
               "max_entries at most %u",
               MAX_MS, MAX_ENTRIES_LIMIT);
    return EG_EINVAL;
  }

  tc = calloc(1, sizeof(*tc));
  if (tc == NULL)
    goto nomem;
  tc->mint = opts->mint;
  tc->mint_ud = opts->mint_ud;
  tc->redis = opts->redis;
  tc->keys = opts->keys;
  tc->margin = opts->margin_s > 0 ? opts->margin_s : DEFAULT_MARGIN_S;
  tc->lock_ttl_ms =
      opts->lock_ttl_ms > 0 ? opts->lock_ttl_ms : DEFAULT_LOCK_TTL_MS;
  tc->lock_wait_ms =
      opts->lock_wait_ms > 0 ? opts->lock_wait_ms : DEFAULT_LOCK_WAIT_MS;
  tc->max_entries =
      opts->max_entries > 0 ? opts->max_entries : DEFAULT_MAX_ENTRIES;

  /* The scope names the App, the GitHub host and the permissions: tokens
   * of one never serve another. */
  n = snprintf(NULL, 0, "%s\n%s\n%s", opts->app_id, opts->api_base,
               opts->permissions);
  scope_text = malloc((size_t)n + 1);
  if (scope_text == NULL)
    goto fail_scope;
  snprintf(scope_text, (size_t)n + 1, "%s\n%s\n%s", opts->app_id,
           opts->api_base, opts->permissions);
  if (SHA256((const unsigned char *)scope_text, (size_t)n, digest) == NULL) {
    free(scope_text);
    free(tc);
    eg__seterr(errbuf, errbuf_len, "token cache: SHA-256 failed");
    return EG_ECRYPTO;
  }
  free(scope_text);
  hex_encode(digest, SCOPE_HEX / 2, tc->scope);

  while (nb < tc->max_entries)
    nb *= 2;
  tc->buckets = calloc(nb, sizeof(*tc->buckets));
  if (tc->buckets == NULL)
    goto fail_buckets;
  tc->mask = nb - 1;
  if (pthread_mutex_init(&tc->mu, NULL) != 0)
    goto fail_mutex;
  /* Timed waits use the monotonic clock: a wall-clock step must not cut
   * or stretch them. */
  if (pthread_condattr_init(&ca) != 0)
    goto fail_cond;
  if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
      pthread_cond_init(&tc->cv, &ca) != 0) {
    pthread_condattr_destroy(&ca);
    goto fail_cond;
  }
  pthread_condattr_destroy(&ca);
  *out = tc;
  return EG_OK;

fail_cond:
  pthread_mutex_destroy(&tc->mu);
fail_mutex:
  free(tc->buckets);
fail_buckets:
fail_scope:
  free(tc);
nomem:
  eg__seterr(errbuf, errbuf_len, "token cache: out of memory");
  return EG_ENOMEM;
}

static void entry_free(struct entry *e) {
  free_secret(e->token, e->token_len);
  free(e);
}

void eg_token_cache_free(eg_token_cache_t *tc) {
  if (tc == NULL)
    return;
  for (size_t i = 0; i <= tc->mask; i++) {
    struct entry *e = tc->buckets[i];

    while (e != NULL) {
      struct entry *next = e->next;

      entry_free(e);
      e = next;
    }
  }
  free(tc->buckets);
  pthread_cond_destroy(&tc->cv);
  pthread_mutex_destroy(&tc->mu);
  free(tc);
}

void eg_token_cache_stats(const eg_token_cache_t *tc,
                          eg_token_cache_stats_t *out) {
  eg_token_cache_t *m = (eg_token_cache_t *)tc; /* atomics: loads only */

  if (out == NULL)
    return;
  memset(out, 0, sizeof(*out));
  if (m == NULL)
    return;
  out->hits_local = atomic_load(&m->hits_local);
  out->hits_redis = atomic_load(&m->hits_redis);
  out->misses = atomic_load(&m->misses);
  out->mints = atomic_load(&m->mints);
  out->mint_failures = atomic_load(&m->mint_failures);
  out->lock_waits = atomic_load(&m->lock_waits);
  out->local_waits = atomic_load(&m->local_waits);
  out->redis_errors = atomic_load(&m->redis_errors);
  out->bad_values = atomic_load(&m->bad_values);
  out->invalidations = atomic_load(&m->invalidations);
  out->not_cached = atomic_load(&m->not_cached);
}

int eg_token_cache_key(const eg_token_cache_t *tc,
                       uint64_t installation_id,
                       uint64_t repository_id,
                       char *buf,
                       size_t buf_len) {
  int n;

  if (tc == NULL || buf == NULL || installation_id == 0)
    return EG_EINVAL;
  n = snprintf(buf, buf_len, KEY_PREFIX "%" PRIu64 ":%" PRIu64 ":%s",
               installation_id, repository_id, tc->scope);
  if (n < 0 || (size_t)n >= buf_len)
    return EG_ERANGE;
  return EG_OK;
}

/* ---- in-process table (tc->mu held) ---- */

static size_t
bucket_of(const eg_token_cache_t *tc, uint64_t inst, uint64_t repo) {
  uint64_t h = inst * 0x9e3779b97f4a7c15u ^ repo;

  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9u;
  h ^= h >> 29;
  return (size_t)h & tc->mask;
}

static struct entry *
find_locked(eg_token_cache_t *tc, uint64_t inst, uint64_t repo) {
  for (struct entry *e = tc->buckets[bucket_of(tc, inst, repo)]; e != NULL;
       e = e->next) {
    if (e->inst == inst && e->repo == repo)
      return e;
  }
  return NULL;
}

static void remove_locked(eg_token_cache_t *tc, struct entry *victim) {
  struct entry **pp = &tc->buckets[bucket_of(tc, victim->inst, victim->repo)];

  while (*pp != victim)
    pp = &(*pp)->next;
  *pp = victim->next;
  tc->count--;
  entry_free(victim);
}

static bool
usable(const eg_token_cache_t *tc, const struct entry *e, time_t now) {
  return e->token != NULL && e->expires_at - tc->margin > now;
}

static bool idle(const struct entry *e) {
  return !e->pending && e->waiters == 0;
}

/* Makes room for one more entry: drops entries without a usable token,
 * then, if still full, the least recently used idle entry. Entries in use
 * are kept, so the table can exceed max_entries by the number of fetches in
 * flight. A full table costs a scan per insert, and every insert is
 * followed by a Redis read or a mint, which cost far more. */
static void evict_locked(eg_token_cache_t *tc, time_t now) {
  struct entry *lru = NULL;

  for (size_t i = 0; i <= tc->mask && tc->count >= tc->max_entries; i++) {
    struct entry *e = tc->buckets[i];

    while (e != NULL) {
      struct entry *next = e->next;

      if (idle(e) && !usable(tc, e, now))
        remove_locked(tc, e);
      e = next;
    }
  }
  if (tc->count < tc->max_entries)
    return;
  for (size_t i = 0; i <= tc->mask; i++) {
    for (struct entry *e = tc->buckets[i]; e != NULL; e = e->next) {
      if (idle(e) && (lru == NULL || e->used < lru->used))
        lru = e;
    }
  }
  if (lru != NULL)
    remove_locked(tc, lru);
}

static struct entry *
insert_locked(eg_token_cache_t *tc, uint64_t inst, uint64_t repo, time_t now) {
  struct entry *e;
  size_t b;

  if (tc->count >= tc->max_entries)
    evict_locked(tc, now);
  e = calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  e->inst = inst;
  e->repo = repo;
  e->used = ++tc->tick;
  b = bucket_of(tc, inst, repo);
  e->next = tc->buckets[b];
  tc->buckets[b] = e;
  tc->count++;
  return e;
}

/* Copies e's token for the caller. */
static int hand_out(eg_token_cache_t *tc,
                    struct entry *e,
                    int source,
                    char **token,
                    eg_token_info_t *info,
                    char *errbuf,
                    size_t errbuf_len) {
  e->used = ++tc->tick;
  *token = dup_bytes(e->token, e->token_len);
  if (*token == NULL) {
    eg__seterr(errbuf, errbuf_len, "token cache: out of memory");
    return EG_ENOMEM;
  }
  if (info != NULL) {
    info->source = source;
    info->expires_at = e->expires_at;
    info->minted_at = e->minted_at;
    info->redis_failed = e->redis_failed && source != EG_TOKEN_LOCAL;
  }
  return EG_OK;
}

/* ---- Redis values ---- */

static void count_redis_error(eg_token_cache_t *tc, struct result *res) {
  atomic_fetch_add(&tc->redis_errors, 1);
  res->redis_failed = true;
}

/* Parses "<expires_at>:<minted_at>:<token>" into res (token copied). */
static bool parse_payload(const char *p, size_t len, struct result *res) {
  const char *c1 = memchr(p, ':', len);
  const char *c2;
  uint64_t exp;
  uint64_t minted;

  if (c1 == NULL)
    return false;
  c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - p));
  if (c2 == NULL)
    return false;
  if (eg_parse_u64n(p, (size_t)(c1 - p), 1, MAX_TIME, &exp) != EG_OK ||
      eg_parse_u64n(c1 + 1, (size_t)(c2 - c1 - 1), 0, MAX_TIME, &minted) !=
          EG_OK)
    return false;
  len -= (size_t)(c2 + 1 - p);
  if (!token_ok(c2 + 1, len))
    return false;
  res->token = dup_bytes(c2 + 1, len);
  if (res->token == NULL)
    return false;
  res->token_len = len;
  res->expires_at = (time_t)exp;
  res->minted_at = (time_t)minted;
  return true;
}

/* Decodes a raw Redis value stored under key. A plaintext value is refused
 * when a key ring is set (and a sealed one when none is), so switching
 * encryption on replaces old values instead of trusting them. */
static bool decode_value(eg_token_cache_t *tc,
                         const char *key,
                         const char *v,
                         size_t len,
                         struct result *res) {
  char *plain = NULL;
  size_t plain_len = 0;
  bool ok;

  if (tc->keys == NULL) {
    if (len < 3 || memcmp(v, "p1:", 3) != 0)
      return false;
    return parse_payload(v + 3, len - 3, res);
  }
  if (eg_token_crypt_open(tc->keys, key, strlen(key), v, len, &plain,
                          &plain_len, NULL, 0) != EG_OK)
    return false;
  ok = parse_payload(plain, plain_len, res);
  eg_token_crypt_free_plain(plain, plain_len);
  return ok;
}

/* Encodes the value to store for res under key. *out is freed with
 * free_secret(*out, *out_len). */
static int encode_value(eg_token_cache_t *tc,
                        const char *key,
                        const struct result *res,
                        char **out,
                        size_t *out_len) {
  size_t cap = res->token_len + 64;
  char *plain = malloc(cap);
  int n;
  int rc;

  *out = NULL;
  if (plain == NULL)
    return EG_ENOMEM;
  /* "p1:" and two 64-bit numbers with their colons fit in 64 bytes. */
  n = snprintf(plain, cap, "%s%lld:%lld:%s", tc->keys == NULL ? "p1:" : "",
               (long long)res->expires_at, (long long)res->minted_at,
               res->token);
  assert(n > 0 && (size_t)n < cap);
  if (tc->keys == NULL) {
    *out = plain;
    *out_len = (size_t)n;
    return EG_OK;
  }
  rc = eg_token_crypt_seal(tc->keys, key, strlen(key), plain, (size_t)n, out,
                           out_len, NULL, 0);
  free_secret(plain, cap);
  return rc;
}

enum lookup { L_HIT, L_MISS, L_ERR };

/* GETs key. A value that decodes to a token with more than margin left is a
 * hit (res filled); a bad value is counted and is a miss. */
static enum lookup
lookup(eg_token_cache_t *tc, const char *key, struct result *res) {
  const char *argv[2] = {"GET", key};
  size_t argvlen[2] = {3, strlen(key)};
  redisReply *rep = NULL;
  enum lookup l = L_MISS;

  if (eg_redis_command(tc->redis, 2, argv, argvlen, &rep, NULL, 0) != EG_OK) {
    count_redis_error(tc, res);
    return L_ERR;
  }
  if (rep->type == REDIS_REPLY_STRING) {
    if (!decode_value(tc, key, rep->str, rep->len, res)) {
      res->bad_value = true;
    } else if (res->expires_at - tc->margin > time(NULL)) {
      res->source = EG_TOKEN_REDIS;
      l = L_HIT;
    } else {
      free_secret(res->token, res->token_len);
      res->token = NULL;
    }
  }
  freeReplyObject(rep); /* else nil: no value */
  return l;
}

/* Runs a small script over one key. *ret gets an integer reply. */
static int eval1(eg_token_cache_t *tc,
                 const char *script,
                 const char *key,
                 const char *arg1,
                 size_t arg1_len,
                 const char *arg2,
                 long long *ret) {
  const char *argv[6] = {"EVAL", script, "1", key, arg1, arg2};
  size_t argvlen[6] = {4,        strlen(script),
                       1,        strlen(key),
                       arg1_len, arg2 != NULL ? strlen(arg2) : 0};
  redisReply *rep = NULL;
  int rc = eg_redis_command(tc->redis, arg2 != NULL ? 6 : 5, argv, argvlen,
                            &rep, NULL, 0);

  if (rc != EG_OK)
    return rc;
  if (rep->type != REDIS_REPLY_INTEGER) {
    freeReplyObject(rep);
    return EG_EIO;
  }
  *ret = rep->integer;
  freeReplyObject(rep);
  return EG_OK;
}

enum lock_state { LOCK_ACQUIRED, LOCK_HELD, LOCK_ERR };

static enum lock_state try_lock(eg_token_cache_t *tc,
                                const char *lock_key,
                                const char *owner,
                                struct result *res) {
  char ttl[16];
  long long got = 0;

  snprintf(ttl, sizeof(ttl), "%d", tc->lock_ttl_ms);
  if (eval1(tc, lock_lua, lock_key, owner, strlen(owner), ttl, &got) != EG_OK) {
    count_redis_error(tc, res);
    return LOCK_ERR;
  }
  return got == 1 ? LOCK_ACQUIRED : LOCK_HELD;
}

static void unlock(eg_token_cache_t *tc,
                   const char *lock_key,
                   const char *owner,
                   struct result *res) {
  long long got = 0;

  if (eval1(tc, del_if_equal_lua, lock_key, owner, strlen(owner), NULL, &got) !=
      EG_OK)
    count_redis_error(tc, res);
}

/* Stores res under key with a TTL that ends margin before expires_at. */
static void store(eg_token_cache_t *tc, const char *key, struct result *res) {
  char *value = NULL;
  size_t value_len = 0;
  char ttl[24];
  long long secs = (long long)(res->expires_at - tc->margin - time(NULL));
  const char *argv[5] = {"SET", key, NULL, "EX", ttl};
  size_t argvlen[5] = {3, strlen(key), 0, 2, 0};
  redisReply *rep = NULL;

  if (secs < 1)
    return;
  if (encode_value(tc, key, res, &value, &value_len) != EG_OK)
    return;
  argv[2] = value;
  argvlen[2] = value_len;
  argvlen[4] = (size_t)snprintf(ttl, sizeof(ttl), "%lld", secs);
  if (eg_redis_command(tc->redis, 5, argv, argvlen, &rep, NULL, 0) != EG_OK)
    count_redis_error(tc, res);
  freeReplyObject(rep);
  free_secret(value, value_len);
}

/* ---- fetch (no lock held) ---- */

static void
mint(eg_token_cache_t *tc, uint64_t inst, uint64_t repo, struct result *res) {
  char *token = NULL;
  time_t expires_at = 0;
  int rc;

  res->errmsg[0] = '\0';
  rc = tc->mint(tc->mint_ud, inst, repo, &token, &expires_at, res->errmsg,
                sizeof(res->errmsg));
  if (rc == EG_OK) {
    size_t len = token != NULL ? strnlen(token, EG_TOKEN_MAX_LEN + 1) : 0;

    if (token == NULL || !token_ok(token, len) || expires_at <= 0) {
      rc = EG_EINVAL;
      eg__seterr(res->errmsg, sizeof(res->errmsg),
                 "token cache: the mint callback returned no valid token "
                 "(1..%d printable characters) or no expiry",
                 EG_TOKEN_MAX_LEN);
    } else {
      res->token = token;
      res->token_len = len;
      res->expires_at = expires_at;
      res->minted_at = time(NULL);
      res->source = EG_TOKEN_MINTED;
      res->err = EG_OK;
      atomic_fetch_add(&tc->mints, 1);
      return;
    }
  } else if (rc > 0) {
    rc = EG_EIO; /* a callback that broke the contract */
  }
  if (token != NULL)
    free_secret(token, strlen(token));
  if (res->errmsg[0] == '\0')
    eg__seterr(res->errmsg, sizeof(res->errmsg), "token mint failed: %s",
               eg_strerror(rc));
  res->err = rc;
  atomic_fetch_add(&tc->mint_failures, 1);
}

/* Mints, then stores in Redis unless Redis already failed in this fetch. */
static void mint_and_store(eg_token_cache_t *tc,
                           uint64_t inst,
                           uint64_t repo,
                           const char *key,
                           struct result *res) {
  mint(tc, inst, repo, res);
  if (res->err == EG_OK && tc->redis != NULL && !res->redis_failed)
    store(tc, key, res);
}

static void
fetch(eg_token_cache_t *tc, uint64_t inst, uint64_t repo, struct result *res) {
  char key[KEY_MAX];
  char lock_key[KEY_MAX + 8];
  unsigned char rnd[16];
  char owner[33];
  int64_t deadline;
  int64_t poll = POLL_MIN_MS;
  bool waited = false;
  enum lookup l;

  eg_token_cache_key(tc, inst, repo, key, sizeof(key));
  if (tc->redis == NULL) {
    atomic_fetch_add(&tc->misses, 1);
    mint(tc, inst, repo, res);
    return;
  }
  l = lookup(tc, key, res);
  if (l == L_HIT)
    return;
  atomic_fetch_add(&tc->misses, 1);
  if (l == L_ERR || RAND_bytes(rnd, sizeof(rnd)) != 1) {
    mint(tc, inst, repo, res);
    return;
  }
  hex_encode(rnd, sizeof(rnd), owner);
  snprintf(lock_key, sizeof(lock_key), "%s:lock", key);
  deadline = mono_ms() + tc->lock_wait_ms;
  for (;;) {
    int64_t left;

    switch (try_lock(tc, lock_key, owner, res)) {
    case LOCK_ERR:
      mint(tc, inst, repo, res);
      return;
    case LOCK_ACQUIRED:
      /* A peer may have stored the token between our GET and our lock,
       * also after we waited: the holder stores, then unlocks, and both
       * can fall between our last look and this lock. */
      l = lookup(tc, key, res);
      if (l != L_HIT)
        mint_and_store(tc, inst, repo, key, res);
      unlock(tc, lock_key, owner, res);
      return;
    case LOCK_HELD:
      break;
    }
    if (!waited) {
      waited = true;
      atomic_fetch_add(&tc->lock_waits, 1);
    }
    left = deadline - mono_ms();
    if (left <= 0) {
      /* The holder is alive but slow, or locks keep changing hands: stop
       * waiting; a second mint beats a stuck event. */
      mint_and_store(tc, inst, repo, key, res);
      return;
    }
    sleep_ms(poll < left ? poll : left);
    if (poll < POLL_MAX_MS)
      poll = poll * 2 < POLL_MAX_MS ? poll * 2 : POLL_MAX_MS;
    l = lookup(tc, key, res);
    if (l == L_HIT)
      return;
    if (l == L_ERR) {
      mint(tc, inst, repo, res);
      return;
    }
  }
}

/* ---- public entry points ---- */

/* Stores a fetch result in the entry for (inst, repo), ending its flight.
 * Called with tc->mu held. */
static void
complete_locked(eg_token_cache_t *tc, struct entry *e, struct result *res) {
  e->pending = false;
  e->gen++;
  e->err = res->err;
  e->redis_failed = res->redis_failed;
  memcpy(e->errmsg, res->errmsg, sizeof(e->errmsg));
  if (res->err == EG_OK) {
    free_secret(e->token, e->token_len);
    e->token = res->token;
    e->token_len = res->token_len;
    e->expires_at = res->expires_at;
    e->minted_at = res->minted_at;
    e->source = res->source;
    res->token = NULL;
  }
  pthread_cond_broadcast(&tc->cv);
}

int eg_token_cache_get(eg_token_cache_t *tc,
                       uint64_t installation_id,
                       uint64_t repository_id,
                       char **token,
                       eg_token_info_t *info,
                       char *errbuf,
                       size_t errbuf_len) {
  struct result res;
  struct entry *e;
  int64_t wait_deadline = 0;
  bool stuck = false;
  int rc;

  if (token != NULL)
    *token = NULL;
  if (info != NULL)
    memset(info, 0, sizeof(*info));
  if (tc == NULL || token == NULL || installation_id == 0) {
    eg__seterr(errbuf, errbuf_len,
               "token cache: cache, token and installation id are required");
    return EG_EINVAL;
  }

  pthread_mutex_lock(&tc->mu);
  for (;;) {
    time_t now = time(NULL);
    uint64_t gen;
    struct timespec ts;

    e = find_locked(tc, installation_id, repository_id);
    if (e != NULL && usable(tc, e, now)) {
      rc = hand_out(tc, e, EG_TOKEN_LOCAL, token, info, errbuf, errbuf_len);
      pthread_mutex_unlock(&tc->mu);
      if (rc == EG_OK)
        atomic_fetch_add(&tc->hits_local, 1);
      return rc;
    }
    if (e == NULL || !e->pending)
      break;

    /* Another thread fetches this key: wait for its result, bounded in case
     * its mint callback hangs. */
    if (wait_deadline == 0) {
      wait_deadline = mono_ms() + tc->lock_wait_ms + 2 * tc->lock_ttl_ms;
      atomic_fetch_add(&tc->local_waits, 1);
    }
    ts.tv_sec = wait_deadline / 1000;
    ts.tv_nsec = (wait_deadline % 1000) * 1000000;
    gen = e->gen;
    e->waiters++;
    while (e->pending && e->gen == gen &&
           pthread_cond_timedwait(&tc->cv, &tc->mu, &ts) == 0)
      ;
    e->waiters--;
    if (e->gen != gen) {
      /* Its result is ours too, even a token too short-lived to cache. */
      if (e->err == EG_OK && e->token != NULL && e->expires_at > time(NULL)) {
        rc = hand_out(tc, e, EG_TOKEN_LOCAL, token, info, errbuf, errbuf_len);
        pthread_mutex_unlock(&tc->mu);
        if (rc == EG_OK)
          atomic_fetch_add(&tc->hits_local, 1);
        return rc;
      }
      if (e->err != EG_OK) {
        rc = e->err;
        eg__seterr(errbuf, errbuf_len, "%s", e->errmsg);
        if (idle(e) && e->token == NULL)
          remove_locked(tc, e);
        pthread_mutex_unlock(&tc->mu);
        return rc;
      }
      continue; /* invalidated meanwhile: look again */
    }
    if (e->pending && mono_ms() >= wait_deadline) {
      stuck = true; /* fetch on our own, leaving that flight alone */
      break;
    }
  }
  if (!stuck) {
    if (e == NULL)
      e = insert_locked(tc, installation_id, repository_id, time(NULL));
    if (e == NULL) {
      pthread_mutex_unlock(&tc->mu);
      eg__seterr(errbuf, errbuf_len, "token cache: out of memory");
      return EG_ENOMEM;
    }
    e->pending = true;
  }
  pthread_mutex_unlock(&tc->mu);

  memset(&res, 0, sizeof(res));
  fetch(tc, installation_id, repository_id, &res);
  if (res.bad_value)
    atomic_fetch_add(&tc->bad_values, 1);
  if (res.err == EG_OK && res.expires_at - tc->margin <= time(NULL))
    atomic_fetch_add(&tc->not_cached, 1);
  if (res.err == EG_OK && res.source == EG_TOKEN_REDIS)
    atomic_fetch_add(&tc->hits_redis, 1);

  if (info != NULL && res.err == EG_OK) {
    info->source = res.source;
    info->expires_at = res.expires_at;
    info->minted_at = res.minted_at;
    info->redis_failed = res.redis_failed;
  }
  if (res.err == EG_OK) {
    *token = dup_bytes(res.token, res.token_len);
    if (*token == NULL) {
      res.err = EG_ENOMEM;
      eg__seterr(res.errmsg, sizeof(res.errmsg), "token cache: out of memory");
    }
  }
  rc = res.err;
  if (rc != EG_OK) {
    eg__seterr(errbuf, errbuf_len, "%s", res.errmsg);
    if (info != NULL)
      memset(info, 0, sizeof(*info));
  }

  pthread_mutex_lock(&tc->mu);
  if (!stuck) {
    e = find_locked(tc, installation_id, repository_id);
    complete_locked(tc, e, &res);
    if (idle(e) && e->token == NULL)
      remove_locked(tc, e);
  }
  pthread_mutex_unlock(&tc->mu);
  free_secret(res.token, res.token_len);
  return rc;
}

int eg_token_cache_invalidate(eg_token_cache_t *tc,
                              uint64_t installation_id,
                              uint64_t repository_id,
                              const char *token,
                              char *errbuf,
                              size_t errbuf_len) {
  char key[KEY_MAX];
  struct entry *e;
  bool dropped = false;
  const char *argv[2] = {"GET", key};
  size_t argvlen[2] = {3, 0};
  redisReply *rep = NULL;
  int rc;

  if (tc == NULL || installation_id == 0) {
    eg__seterr(errbuf, errbuf_len,
               "token cache: cache and installation id are required");
    return EG_EINVAL;
  }
  pthread_mutex_lock(&tc->mu);
  e = find_locked(tc, installation_id, repository_id);
  if (e != NULL && e->token != NULL &&
      (token == NULL || strcmp(e->token, token) == 0)) {
    free_secret(e->token, e->token_len);
    e->token = NULL;
    e->token_len = 0;
    dropped = true;
    if (idle(e))
      remove_locked(tc, e);
  }
  pthread_mutex_unlock(&tc->mu);
  if (tc->redis == NULL) {
    rc = EG_OK;
    goto done;
  }

  eg_token_cache_key(tc, installation_id, repository_id, key, sizeof(key));
  argvlen[1] = strlen(key);
  rc = eg_redis_command(tc->redis, 2, argv, argvlen, &rep, errbuf, errbuf_len);
  if (rc == EG_OK && rep->type == REDIS_REPLY_STRING) {
    struct result res;
    bool match = true;
    long long got = 0;

    /* Only the token that failed goes: a value that does not decode goes
     * too, it is useless anyway. */
    memset(&res, 0, sizeof(res));
    if (token != NULL && decode_value(tc, key, rep->str, rep->len, &res))
      match = strcmp(res.token, token) == 0;
    free_secret(res.token, res.token_len);
    if (match) {
      rc = eval1(tc, del_if_equal_lua, key, rep->str, rep->len, NULL, &got);
      if (rc != EG_OK)
        eg__seterr(errbuf, errbuf_len, "token cache: Redis delete failed");
      else if (got == 1)
        dropped = true;
    }
  }
  freeReplyObject(rep);
  if (rc != EG_OK)
    atomic_fetch_add(&tc->redis_errors, 1);

done:
  if (dropped)
    atomic_fetch_add(&tc->invalidations, 1);
  return rc;
}

/* Unit tests for the installation token cache against a real redis-server
 * started here: hits, fleet-wide single-flight, expiry margin, encryption
 * at rest, rotation, invalidation, Redis outages and dead lock holders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/error.h"
#include "eg/redis.h"
#include "eg/token_cache.h"
#include "eg/token_crypt.h"
#include "oom_inject.h"
#include "redis_harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_A  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B  "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f"
#define SECRET "pa55-Secret-word"

/* ---- a mint callback that counts ---- */

struct minter {
  _Atomic int calls;
  int delay_ms;
  int delay_first_ms; /* the first call only */
  time_t life;        /* expires_at = now + life; default 3600 */
  int fail_rc;        /* non-zero: fail with it */
  bool silent;        /* fail without a message */
  bool bad;           /* return bad_token instead of a generated one */
  const char *bad_token;
  size_t token_len;     /* generated length; default 300 */
  void (*hook)(void *); /* runs inside the mint (e.g. steals the lock) */
  void *hook_arg;
};

static int mint_cb(void *ud,
                   uint64_t inst,
                   uint64_t repo,
                   char **token,
                   time_t *expires_at,
                   char *errbuf,
                   size_t errbuf_len) {
  struct minter *m = ud;
  int n = atomic_fetch_add(&m->calls, 1) + 1;
  size_t len = m->token_len > 0 ? m->token_len : 300;
  char *t;
  int k;

  if (m->delay_ms > 0)
    test_sleep_ms(m->delay_ms);
  if (n == 1 && m->delay_first_ms > 0)
    test_sleep_ms(m->delay_first_ms);
  if (m->hook != NULL)
    m->hook(m->hook_arg);
  if (m->fail_rc != 0) {
    if (!m->silent)
      snprintf(errbuf, errbuf_len, "github said no (call %d)", n);
    return m->fail_rc;
  }
  *expires_at = time(NULL) + (m->life != 0 ? m->life : 3600);
  if (m->bad) {
    *token = m->bad_token != NULL ? strdup(m->bad_token) : NULL;
    return EG_OK;
  }
  /* GitHub's newer tokens are long: ghs_APPID_JWT. */
  t = malloc(len + 1);
  assert_non_null(t);
  k = snprintf(t, len + 1, "ghs_%llu_%llu_%d_", (unsigned long long)inst,
               (unsigned long long)repo, n);
  memset(t + k, 'x', len - (size_t)k);
  t[len] = '\0';
  *token = t;
  return EG_OK;
}

/* ---- fixtures ---- */

struct world {
  struct test_redis srv;
  char url[256];
  redisContext *raw; /* the test's own connection */
};

static void world_start(struct world *w, const char *password) {
  memset(w, 0, sizeof(*w));
  test_redis_start(&w->srv, 0, password);
  if (password != NULL)
    snprintf(w->url, sizeof(w->url), "redis://:%s@127.0.0.1:%d/0", password,
             w->srv.port);
  else
    snprintf(w->url, sizeof(w->url), "redis://127.0.0.1:%d/0", w->srv.port);
  w->raw = test_redis_connect(&w->srv);
}

static void world_stop(struct world *w) {
  if (w->raw != NULL)
    redisFree(w->raw);
  w->raw = NULL;
  test_redis_kill(&w->srv);
}

static eg_redis_t *pool(const char *url, int retry_ms) {
  eg_redis_opts_t o = {.retry_interval_ms = retry_ms,
                       .connect_timeout_ms = 500,
                       .command_timeout_ms = 2000};
  eg_redis_t *r = NULL;
  char err[EG_ERRBUF_LEN] = "";

  if (eg_redis_new(url, &o, &r, err, sizeof(err)) != EG_OK)
    fail_msg("eg_redis_new: %s", err);
  return r;
}

static eg_token_crypt_t *ring(const char *text) {
  eg_token_crypt_t *k = NULL;

  assert_int_equal(eg_token_crypt_new_mem(text, strlen(text), &k, NULL, 0),
                   EG_OK);
  return k;
}

static eg_token_cache_t *cache(eg_redis_t *r,
                               const eg_token_crypt_t *keys,
                               struct minter *m,
                               const eg_token_cache_opts_t *extra) {
  eg_token_cache_opts_t o = {0};
  eg_token_cache_t *tc = NULL;
  char err[EG_ERRBUF_LEN] = "";

  if (extra != NULL)
    o = *extra;
  if (o.app_id == NULL)
    o.app_id = "12345";
  if (o.api_base == NULL)
    o.api_base = "https://api.github.com";
  if (o.permissions == NULL)
    o.permissions = "actions:read,deployments:write";
  o.mint = mint_cb;
  o.mint_ud = m;
  o.redis = r;
  o.keys = keys;
  if (eg_token_cache_new(&o, &tc, err, sizeof(err)) != EG_OK)
    fail_msg("eg_token_cache_new: %s", err);
  return tc;
}

static char *
get(eg_token_cache_t *tc, uint64_t inst, uint64_t repo, eg_token_info_t *info) {
  char *t = NULL;
  char err[EG_ERRBUF_LEN] = "";
  int rc = eg_token_cache_get(tc, inst, repo, &t, info, err, sizeof(err));

  if (rc != EG_OK)
    fail_msg("get %llu/%llu: %s (%s)", (unsigned long long)inst,
             (unsigned long long)repo, eg_strerror(rc), err);
  assert_non_null(t);
  return t;
}

static char *key_of(eg_token_cache_t *tc, uint64_t inst, uint64_t repo) {
  static char key[128];

  assert_int_equal(eg_token_cache_key(tc, inst, repo, key, sizeof(key)), EG_OK);
  return key;
}

/* The raw value at key, or NULL; freed by the caller. */
static char *raw_get(struct world *w, const char *key, size_t *len) {
  redisReply *r = redisCommand(w->raw, "GET %s", key);
  char *v = NULL;

  assert_non_null(r);
  if (r->type == REDIS_REPLY_STRING) {
    v = malloc(r->len + 1);
    memcpy(v, r->str, r->len);
    v[r->len] = '\0';
    if (len != NULL)
      *len = r->len;
  } else {
    assert_int_equal(r->type, REDIS_REPLY_NIL);
  }
  freeReplyObject(r);
  return v;
}

static void raw_cmd(struct world *w, const char *fmt, ...) {
  va_list ap;
  redisReply *r;

  va_start(ap, fmt);
  r = redisvCommand(w->raw, fmt, ap);
  va_end(ap);
  assert_non_null(r);
  assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
  freeReplyObject(r);
}

static long long raw_ttl(struct world *w, const char *key) {
  redisReply *r = redisCommand(w->raw, "TTL %s", key);
  long long v;

  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_INTEGER);
  v = r->integer;
  freeReplyObject(r);
  return v;
}

static eg_token_cache_stats_t stats(eg_token_cache_t *tc) {
  eg_token_cache_stats_t s;

  eg_token_cache_stats(tc, &s);
  return s;
}

/* ---- tests ---- */

static void test_mint_once_then_hits(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r1;
  eg_redis_t *r2;
  eg_token_cache_t *a;
  eg_token_cache_t *b;
  eg_token_info_t info;
  char *t1;
  char *t2;
  char *v;
  time_t now = time(NULL);

  (void)state;
  world_start(&w, NULL);
  r1 = pool(w.url, 0);
  r2 = pool(w.url, 0);
  a = cache(r1, NULL, &m, NULL);
  b = cache(r2, NULL, &m, NULL); /* another worker */

  t1 = get(a, 7, 9, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_false(info.redis_failed);
  assert_true(info.expires_at >= now + 3600 && info.expires_at <= now + 3602);
  assert_true(info.minted_at >= now && info.minted_at <= now + 2);
  assert_int_equal(strlen(t1), 300);
  assert_int_equal(strncmp(t1, "ghs_7_9_1_", 10), 0);

  /* Same process: the in-process table, Redis untouched. */
  raw_cmd(&w, "CONFIG RESETSTAT");
  for (int i = 0; i < 10; i++) {
    t2 = get(a, 7, 9, &info);
    assert_string_equal(t1, t2);
    assert_int_equal(info.source, EG_TOKEN_LOCAL);
    eg_token_cache_free_token(t2);
  }
  {
    redisReply *rep = redisCommand(w.raw, "INFO commandstats");

    assert_non_null(rep);
    assert_null(strstr(rep->str, "cmdstat_get"));
    freeReplyObject(rep);
  }

  /* Another worker: from Redis, then from its own table. */
  t2 = get(b, 7, 9, &info);
  assert_string_equal(t1, t2);
  assert_int_equal(info.source, EG_TOKEN_REDIS);
  assert_true(info.expires_at >= now + 3600);
  eg_token_cache_free_token(t2);
  t2 = get(b, 7, 9, &info);
  assert_int_equal(info.source, EG_TOKEN_LOCAL);
  eg_token_cache_free_token(t2);
  assert_int_equal(atomic_load(&m.calls), 1);

  /* Stored as documented, with TTL expires_at - margin (300 s). */
  v = raw_get(&w, key_of(a, 7, 9), NULL);
  assert_non_null(v);
  assert_int_equal(strncmp(v, "p1:", 3), 0);
  assert_non_null(strstr(v, t1));
  {
    long long ttl = raw_ttl(&w, key_of(a, 7, 9));

    assert_true(ttl > 3290 && ttl <= 3300);
  }
  free(v);
  /* The lock is gone. */
  {
    char lk[160];

    snprintf(lk, sizeof(lk), "%s:lock", key_of(a, 7, 9));
    assert_null(raw_get(&w, lk, NULL));
  }
  {
    eg_token_cache_stats_t sa = stats(a);
    eg_token_cache_stats_t sb = stats(b);

    assert_int_equal(sa.mints, 1);
    assert_int_equal(sa.misses, 1);
    assert_int_equal(sa.hits_local, 10);
    assert_int_equal(sa.hits_redis, 0);
    assert_int_equal(sa.redis_errors, 0);
    assert_int_equal(sb.mints, 0);
    assert_int_equal(sb.hits_redis, 1);
    assert_int_equal(sb.hits_local, 1);
    assert_int_equal(sb.misses, 0);
  }
  eg_token_cache_free_token(t1);
  eg_token_cache_free(a);
  eg_token_cache_free(b);
  eg_redis_free(r1);
  eg_redis_free(r2);
  world_stop(&w);
}

struct storm {
  eg_token_cache_t *tc;
  pthread_barrier_t *barrier;
  int n;
  int errors;
  char first[400];
  bool mismatch;
};

static void *storm_thread(void *p) {
  struct storm *s = p;

  pthread_barrier_wait(s->barrier);
  for (int i = 0; i < s->n; i++) {
    char *t = NULL;

    if (eg_token_cache_get(s->tc, 42, 4242, &t, NULL, NULL, 0) != EG_OK) {
      s->errors++;
      continue;
    }
    if (s->first[0] == '\0')
      snprintf(s->first, sizeof(s->first), "%s", t);
    else if (strcmp(s->first, t) != 0)
      s->mismatch = true;
    eg_token_cache_free_token(t);
  }
  return NULL;
}

/* Two workers x 16 threads x 200 gets for one installation and repository:
 * exactly one mint. */
static void test_storm_single_mint(void **state) {
  enum { WORKERS = 2, THREADS = 16, GETS = 200 };
  struct world w;
  struct minter m = {.delay_ms = 200};
  eg_redis_t *r[WORKERS];
  eg_token_cache_t *tc[WORKERS];
  pthread_t th[WORKERS * THREADS];
  struct storm args[WORKERS * THREADS];
  pthread_barrier_t barrier;
  uint64_t served = 0;
  uint64_t redis_hits = 0;

  (void)state;
  world_start(&w, NULL);
  for (int i = 0; i < WORKERS; i++) {
    r[i] = pool(w.url, 0);
    tc[i] = cache(r[i], NULL, &m, NULL);
  }
  pthread_barrier_init(&barrier, NULL, WORKERS * THREADS);
  for (int i = 0; i < WORKERS * THREADS; i++) {
    memset(&args[i], 0, sizeof(args[i]));
    args[i].tc = tc[i % WORKERS];
    args[i].barrier = &barrier;
    args[i].n = GETS;
    assert_int_equal(pthread_create(&th[i], NULL, storm_thread, &args[i]), 0);
  }
  for (int i = 0; i < WORKERS * THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].errors, 0);
    assert_false(args[i].mismatch);
    assert_string_equal(args[i].first, args[0].first);
  }
  pthread_barrier_destroy(&barrier);
  assert_int_equal(atomic_load(&m.calls), 1);
  for (int i = 0; i < WORKERS; i++) {
    eg_token_cache_stats_t s = stats(tc[i]);

    served += s.hits_local + s.hits_redis + s.mints;
    redis_hits += s.hits_redis;
    assert_int_equal(s.redis_errors, 0);
    assert_int_equal(s.mint_failures, 0);
    /* One fetch per worker: the other threads waited in-process. */
    assert_true(s.local_waits >= 1);
    eg_token_cache_free(tc[i]);
    eg_redis_free(r[i]);
  }
  assert_int_equal(served, WORKERS * THREADS * GETS);
  assert_int_equal(redis_hits, 1); /* the second worker's one fetch */
  world_stop(&w);
}

static void test_keys_separate(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_cache_t *a;
  eg_token_cache_t *other_app;
  eg_token_cache_t *other_host;
  eg_token_cache_t *other_perms;
  char *t[4];
  char k1[128];
  char k2[128];
  char small[20];

  (void)state;
  world_start(&w, NULL);
  r = pool(w.url, 0);
  a = cache(r, NULL, &m, NULL);
  other_app = cache(r, NULL, &m, &(eg_token_cache_opts_t){.app_id = "999"});
  other_host = cache(
      r, NULL, &m, &(eg_token_cache_opts_t){.api_base = "https://ghe/api/v3"});
  other_perms = cache(r, NULL, &m,
                      &(eg_token_cache_opts_t){.permissions = "deployments:"
                                                              "write"});

  t[0] = get(a, 1, 1, NULL);
  t[1] = get(a, 1, 2, NULL);
  t[2] = get(a, 2, 1, NULL);
  t[3] = get(a, 1, 0, NULL); /* the whole installation */
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      assert_true(strcmp(t[i], t[j]) != 0);
  for (int i = 0; i < 4; i++)
    eg_token_cache_free_token(t[i]);
  assert_int_equal(atomic_load(&m.calls), 4);

  /* Another App, GitHub host or permission set never shares a token. */
  eg_token_cache_free_token(get(other_app, 1, 1, NULL));
  eg_token_cache_free_token(get(other_host, 1, 1, NULL));
  eg_token_cache_free_token(get(other_perms, 1, 1, NULL));
  assert_int_equal(atomic_load(&m.calls), 7);

  snprintf(k1, sizeof(k1), "%s", key_of(a, 7, 9));
  assert_int_equal(strncmp(k1, "envgate:token:v1:7:9:", 21), 0);
  assert_int_equal(strlen(k1), 21 + 16);
  snprintf(k2, sizeof(k2), "%s", key_of(other_app, 7, 9));
  assert_true(strcmp(k1, k2) != 0);
  snprintf(k2, sizeof(k2), "%s", key_of(other_host, 7, 9));
  assert_true(strcmp(k1, k2) != 0);
  snprintf(k2, sizeof(k2), "%s", key_of(other_perms, 7, 9));
  assert_true(strcmp(k1, k2) != 0);
  assert_int_equal(eg_token_cache_key(a, 7, 9, small, sizeof(small)),
                   EG_ERANGE);
  assert_int_equal(eg_token_cache_key(a, 0, 9, k1, sizeof(k1)), EG_EINVAL);
  assert_int_equal(eg_token_cache_key(NULL, 1, 9, k1, sizeof(k1)), EG_EINVAL);
  {
    /* The longest key fits in 96 bytes. */
    char big[96];

    assert_int_equal(
        eg_token_cache_key(a, UINT64_MAX, UINT64_MAX, big, sizeof(big)), EG_OK);
  }

  eg_token_cache_free(a);
  eg_token_cache_free(other_app);
  eg_token_cache_free(other_host);
  eg_token_cache_free(other_perms);
  eg_redis_free(r);
  world_stop(&w);
}

static void test_expiry_margin(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_cache_t *a;
  eg_token_cache_t *b;
  eg_token_info_t info;
  char *t1;
  char *t2;
  char value[128];
  eg_token_cache_opts_t o = {.margin_s = 60};

  (void)state;
  world_start(&w, NULL);
  r = pool(w.url, 0);
  a = cache(r, NULL, &m, &o);
  b = cache(r, NULL, &m, &o);

  /* Less life than the margin: handed out, never cached. */
  m.life = 30;
  t1 = get(a, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  t2 = get(a, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(strcmp(t1, t2) != 0);
  assert_int_equal(atomic_load(&m.calls), 2);
  assert_null(raw_get(&w, key_of(a, 1, 1), NULL));
  assert_int_equal(stats(a).not_cached, 2);
  eg_token_cache_free_token(t1);
  eg_token_cache_free_token(t2);

  /* Two seconds more than the margin: cached for two seconds. */
  m.life = 62;
  t1 = get(a, 1, 2, NULL);
  t2 = get(a, 1, 2, &info);
  assert_int_equal(info.source, EG_TOKEN_LOCAL);
  assert_string_equal(t1, t2);
  eg_token_cache_free_token(t2);
  {
    long long ttl = raw_ttl(&w, key_of(a, 1, 2));

    assert_true(ttl >= 1 && ttl <= 2);
  }
  assert_int_equal(atomic_load(&m.calls), 3);
  test_sleep_ms(2300);
  t2 = get(a, 1, 2, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(strcmp(t1, t2) != 0);
  eg_token_cache_free_token(t2);
  eg_token_cache_free_token(t1);
  assert_int_equal(atomic_load(&m.calls), 4);

  /* A value in Redis too close to its expiry is a miss, not a bad value. */
  snprintf(value, sizeof(value), "p1:%lld:%lld:ghs_nearly_expired",
           (long long)time(NULL) + 30, (long long)time(NULL) - 3570);
  raw_cmd(&w, "SET %s %s", key_of(b, 5, 5), value);
  m.life = 3600;
  t1 = get(b, 5, 5, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(strcmp(t1, "ghs_nearly_expired") != 0);
  eg_token_cache_free_token(t1);
  assert_int_equal(stats(b).bad_values, 0);

  /* A valid value written by hand (the documented format) is used. */
  snprintf(value, sizeof(value), "p1:%lld:%lld:ghs_by_hand",
           (long long)time(NULL) + 3000, (long long)time(NULL) - 600);
  raw_cmd(&w, "SET %s %s", key_of(b, 6, 6), value);
  t1 = get(b, 6, 6, &info);
  assert_string_equal(t1, "ghs_by_hand");
  assert_int_equal(info.source, EG_TOKEN_REDIS);
  assert_int_equal(info.minted_at, time(NULL) - 600);
  eg_token_cache_free_token(t1);

  eg_token_cache_free(a);
  eg_token_cache_free(b);
  eg_redis_free(r);
  world_stop(&w);
}

static void test_bad_plain_values(void **state) {
  static const char *bad[] = {
      "garbage",
      "p1:",
      "p1:x:1:ghs_a",
      "p1:99999999999999:1:ghs_a",
      "p1:2000000000",
      "p1:2000000000:1",
      "p1:2000000000:1:",
      "p1:2000000000:1:has space",
      ("e1:00000000:000000000000000000000000:00:"
       "00000000000000000000000000000000"),
  };
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_cache_t *a;
  eg_token_info_t info;

  (void)state;
  world_start(&w, NULL);
  r = pool(w.url, 0);
  a = cache(r, NULL, &m, NULL);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *t;
    char *v;

    raw_cmd(&w, "SET %s %s", key_of(a, 1, 100 + i), bad[i]);
    t = get(a, 1, 100 + i, &info);
    assert_int_equal(info.source, EG_TOKEN_MINTED);
    /* Overwritten with the new token. */
    v = raw_get(&w, key_of(a, 1, 100 + i), NULL);
    assert_non_null(strstr(v, t));
    free(v);
    eg_token_cache_free_token(t);
  }
  assert_int_equal(stats(a).bad_values, sizeof(bad) / sizeof(bad[0]));
  {
    /* A key of another type: GET answers WRONGTYPE, a Redis error. */
    char *t;

    raw_cmd(&w, "RPUSH %s x", key_of(a, 1, 99));
    t = get(a, 1, 99, &info);
    assert_int_equal(info.source, EG_TOKEN_MINTED);
    eg_token_cache_free_token(t);
    assert_true(info.redis_failed);
    assert_true(stats(a).redis_errors >= 1);
  }
  eg_token_cache_free(a);
  eg_redis_free(r);
  world_stop(&w);
}

static void test_encryption(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_crypt_t *ka = ring(KEY_A);
  eg_token_crypt_t *kb = ring(KEY_B);
  eg_token_cache_t *a;
  eg_token_cache_t *a2;
  eg_token_cache_t *b;
  eg_token_cache_t *plain;
  eg_token_info_t info;
  char *t1;
  char *t2;
  char *v;
  size_t vlen = 0;
  char head[16];
  char key11[128];

  (void)state;
  world_start(&w, NULL);
  r = pool(w.url, 0);
  a = cache(r, ka, &m, NULL);
  a2 = cache(r, ka, &m, NULL);
  b = cache(r, kb, &m, NULL);
  plain = cache(r, NULL, &m, NULL);
  snprintf(key11, sizeof(key11), "%s", key_of(a, 1, 1));

  t1 = get(a, 1, 1, NULL);
  v = raw_get(&w, key11, &vlen);
  assert_non_null(v);
  snprintf(head, sizeof(head), "e1:%s:", eg_token_crypt_key_id(ka, 0));
  assert_int_equal(strncmp(v, head, 12), 0);
  assert_null(strstr(v, t1));
  assert_null(strstr(v, "ghs_"));
  {
    /* It opens with the key, bound to its Redis key name. */
    char *pt = NULL;
    size_t ptlen = 0;
    size_t tl = strlen(t1);

    assert_int_equal(eg_token_crypt_open(ka, key11, strlen(key11), v, vlen, &pt,
                                         &ptlen, NULL, 0),
                     EG_OK);
    assert_true(ptlen > tl && strcmp(pt + ptlen - tl, t1) == 0);
    eg_token_crypt_free_plain(pt, ptlen);
  }

  /* A worker with the same key reads it. */
  t2 = get(a2, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_REDIS);
  assert_string_equal(t1, t2);
  eg_token_cache_free_token(t2);
  assert_int_equal(atomic_load(&m.calls), 1);

  /* A worker with another key: a miss; it mints and overwrites. */
  t2 = get(b, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(strcmp(t1, t2) != 0);
  assert_int_equal(stats(b).bad_values, 1);
  free(v);
  v = raw_get(&w, key11, NULL);
  snprintf(head, sizeof(head), "e1:%s:", eg_token_crypt_key_id(kb, 0));
  assert_int_equal(strncmp(v, head, 12), 0);
  eg_token_cache_free_token(t2);

  /* A worker without a key does not take a sealed value, and one with a
   * key does not take plaintext. */
  t2 = get(plain, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_int_equal(stats(plain).bad_values, 1);
  eg_token_cache_free_token(t2);
  free(v);
  v = raw_get(&w, key11, NULL);
  assert_int_equal(strncmp(v, "p1:", 3), 0);
  free(v);
  {
    eg_token_cache_t *a3 = cache(r, ka, &m, NULL);

    t2 = get(a3, 1, 1, &info);
    assert_int_equal(info.source, EG_TOKEN_MINTED);
    assert_int_equal(stats(a3).bad_values, 1);
    eg_token_cache_free_token(t2);
    eg_token_cache_free(a3);
  }

  /* AAD: a sealed value copied under another key does not open. */
  v = raw_get(&w, key11, &vlen);
  raw_cmd(&w, "SET %s %b", key_of(a, 1, 2), v, vlen);
  {
    eg_token_cache_t *a4 = cache(r, ka, &m, NULL);
    int before = atomic_load(&m.calls);

    t2 = get(a4, 1, 2, &info);
    assert_int_equal(info.source, EG_TOKEN_MINTED);
    assert_int_equal(atomic_load(&m.calls), before + 1);
    assert_int_equal(stats(a4).bad_values, 1);
    eg_token_cache_free_token(t2);
    /* The original still opens where it belongs. */
    t2 = get(a4, 1, 1, &info);
    assert_int_equal(info.source, EG_TOKEN_REDIS);
    eg_token_cache_free_token(t2);
    eg_token_cache_free(a4);
  }
  free(v);

  eg_token_cache_free_token(t1);
  eg_token_cache_free(a);
  eg_token_cache_free(a2);
  eg_token_cache_free(b);
  eg_token_cache_free(plain);
  eg_token_crypt_free(ka);
  eg_token_crypt_free(kb);
  eg_redis_free(r);
  world_stop(&w);
}

static void test_key_rotation(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_crypt_t *old_ring = ring(KEY_A);
  eg_token_crypt_t *new_ring = ring(KEY_B "\n" KEY_A "\n");
  eg_token_cache_t *old_w;
  eg_token_cache_t *new_w;
  eg_token_info_t info;
  char *t1;
  char *t2;
  char *v;
  char head[16];

  (void)state;
  world_start(&w, NULL);
  r = pool(w.url, 0);
  old_w = cache(r, old_ring, &m, NULL);
  new_w = cache(r, new_ring, &m, NULL);

  /* Sealed with the old key; a worker with the new ring still reads it. */
  t1 = get(old_w, 3, 3, NULL);
  t2 = get(new_w, 3, 3, &info);
  assert_int_equal(info.source, EG_TOKEN_REDIS);
  assert_string_equal(t1, t2);
  assert_int_equal(atomic_load(&m.calls), 1);
  eg_token_cache_free_token(t2);

  /* What the new ring stores is sealed with the new key. */
  t2 = get(new_w, 3, 4, NULL);
  v = raw_get(&w, key_of(new_w, 3, 4), NULL);
  snprintf(head, sizeof(head), "e1:%s:", eg_token_crypt_key_id(new_ring, 0));
  assert_int_equal(strncmp(v, head, 12), 0);
  {
    eg_token_crypt_t *kb = ring(KEY_B);

    assert_string_equal(eg_token_crypt_key_id(new_ring, 0),
                        eg_token_crypt_key_id(kb, 0));
    eg_token_crypt_free(kb);
  }
  free(v);
  eg_token_cache_free_token(t2);

  eg_token_cache_free_token(t1);
  eg_token_cache_free(old_w);
  eg_token_cache_free(new_w);
  eg_token_crypt_free(old_ring);
  eg_token_crypt_free(new_ring);
  eg_redis_free(r);
  world_stop(&w);
}

static void test_invalidate(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *ra;
  eg_redis_t *rb;
  eg_token_cache_t *a;
  eg_token_cache_t *b;
  eg_token_info_t info;
  char *t1;
  char *t2;
  char *t;
  char *v;
  char err[EG_ERRBUF_LEN];

  (void)state;
  world_start(&w, NULL);
  ra = pool(w.url, 0);
  rb = pool(w.url, 0);
  a = cache(ra, NULL, &m, NULL);
  b = cache(rb, NULL, &m, NULL);

  t1 = get(a, 1, 1, NULL);
  t = get(b, 1, 1, NULL);
  assert_string_equal(t, t1);
  eg_token_cache_free_token(t);

  /* A's request got a 401: the token goes, locally and in Redis. */
  assert_int_equal(eg_token_cache_invalidate(a, 1, 1, t1, err, sizeof(err)),
                   EG_OK);
  assert_null(raw_get(&w, key_of(a, 1, 1), NULL));
  assert_int_equal(stats(a).invalidations, 1);
  t2 = get(a, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(strcmp(t1, t2) != 0);
  assert_int_equal(atomic_load(&m.calls), 2);

  /* B still holds the old token; its 401 drops only that, not the fresh
   * one in Redis, and B picks the fresh one up without a mint. */
  t = get(b, 1, 1, &info);
  assert_string_equal(t, t1);
  eg_token_cache_free_token(t);
  assert_int_equal(eg_token_cache_invalidate(b, 1, 1, t1, err, sizeof(err)),
                   EG_OK);
  v = raw_get(&w, key_of(a, 1, 1), NULL);
  assert_non_null(v);
  assert_non_null(strstr(v, t2));
  free(v);
  t = get(b, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_REDIS);
  assert_string_equal(t, t2);
  eg_token_cache_free_token(t);
  assert_int_equal(atomic_load(&m.calls), 2);

  /* A late thread of A with the old token: nothing happens. */
  assert_int_equal(eg_token_cache_invalidate(a, 1, 1, t1, err, sizeof(err)),
                   EG_OK);
  t = get(a, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_LOCAL);
  assert_string_equal(t, t2);
  eg_token_cache_free_token(t);
  assert_int_equal(stats(a).invalidations, 1);

  /* NULL drops whatever is cached. */
  assert_int_equal(eg_token_cache_invalidate(a, 1, 1, NULL, err, sizeof(err)),
                   EG_OK);
  assert_null(raw_get(&w, key_of(a, 1, 1), NULL));
  assert_int_equal(stats(a).invalidations, 2);
  /* Nothing cached: fine. */
  assert_int_equal(eg_token_cache_invalidate(a, 8, 8, NULL, err, sizeof(err)),
                   EG_OK);
  /* An undecodable value goes too. */
  raw_cmd(&w, "SET %s garbage", key_of(a, 1, 1));
  assert_int_equal(eg_token_cache_invalidate(a, 1, 1, t2, err, sizeof(err)),
                   EG_OK);
  assert_null(raw_get(&w, key_of(a, 1, 1), NULL));
  t = get(a, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  eg_token_cache_free_token(t);

  assert_int_equal(eg_token_cache_invalidate(a, 0, 1, NULL, err, sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(
      eg_token_cache_invalidate(NULL, 1, 1, NULL, err, sizeof(err)), EG_EINVAL);

  eg_token_cache_free_token(t1);
  eg_token_cache_free_token(t2);
  eg_token_cache_free(a);
  eg_token_cache_free(b);
  eg_redis_free(ra);
  eg_redis_free(rb);
  world_stop(&w);
}

static void test_redis_outage(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_cache_t *a;
  eg_token_info_t info;
  char *t1;
  char *t;
  char *v;
  int port;
  int64_t t0;
  int64_t t_down;
  char err[EG_ERRBUF_LEN];

  (void)state;
  world_start(&w, NULL);
  port = w.srv.port;
  r = pool(w.url, 1000);
  a = cache(r, NULL, &m, NULL);
  t1 = get(a, 1, 1, NULL);

  redisFree(w.raw);
  w.raw = NULL;
  test_redis_kill(&w.srv);
  t_down = test_now_ms();

  /* Cached tokens: served locally. */
  t = get(a, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_LOCAL);
  assert_string_equal(t, t1);
  eg_token_cache_free_token(t);

  /* New keys: minted directly, reported, then served locally; during the
   * backoff no call waits for a connect. */
  t = get(a, 1, 2, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(info.redis_failed);
  eg_token_cache_free_token(t);
  t = get(a, 1, 2, &info);
  assert_int_equal(info.source, EG_TOKEN_LOCAL);
  eg_token_cache_free_token(t);
  t0 = test_now_ms();
  for (uint64_t repo = 3; repo < 13; repo++) {
    t = get(a, 1, repo, &info);
    assert_int_equal(info.source, EG_TOKEN_MINTED);
    assert_true(info.redis_failed);
    eg_token_cache_free_token(t);
  }
  if (test_now_ms() - t_down < 900)
    assert_true(test_now_ms() - t0 < 500);
  assert_int_equal(atomic_load(&m.calls), 12);
  assert_true(stats(a).redis_errors >= 11);
  /* Invalidation still drops the local copy, and says Redis failed. */
  assert_int_equal(eg_token_cache_invalidate(a, 1, 2, NULL, err, sizeof(err)),
                   EG_EUNAVAIL);

  /* Redis back: after the retry interval the cache uses it again. */
  test_redis_start(&w.srv, port, NULL);
  w.raw = test_redis_connect(&w.srv);
  test_sleep_ms(t_down + 2200 - test_now_ms());
  t = get(a, 1, 20, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_false(info.redis_failed);
  v = raw_get(&w, key_of(a, 1, 20), NULL);
  assert_non_null(v);
  assert_non_null(strstr(v, t));
  free(v);
  eg_token_cache_free_token(t);
  t = get(a, 1, 2, &info); /* invalidated locally during the outage */
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  eg_token_cache_free_token(t);

  eg_token_cache_free_token(t1);
  eg_token_cache_free(a);
  eg_redis_free(r);
  world_stop(&w);
}

static void test_lock_holder_dies(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_cache_t *a;
  eg_token_info_t info;
  char lock[160];
  char *t;
  char *v;
  int64_t t0;
  int64_t took;

  (void)state;
  world_start(&w, NULL);
  r = pool(w.url, 0);
  a = cache(
      r, NULL, &m,
      &(eg_token_cache_opts_t){.lock_ttl_ms = 1000, .lock_wait_ms = 8000});
  snprintf(lock, sizeof(lock), "%s:lock", key_of(a, 1, 1));

  /* A worker took the lock and died: it expires, then we mint. */
  raw_cmd(&w, "SET %s dead-worker PX 1500", lock);
  t0 = test_now_ms();
  t = get(a, 1, 1, &info);
  took = test_now_ms() - t0;
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(took >= 1300);
  assert_true(took < 6000);
  assert_int_equal(atomic_load(&m.calls), 1);
  assert_int_equal(stats(a).lock_waits, 1);
  v = raw_get(&w, key_of(a, 1, 1), NULL);
  assert_non_null(strstr(v, t));
  free(v);
  assert_null(raw_get(&w, lock, NULL)); /* ours, released */
  eg_token_cache_free_token(t);
  eg_token_cache_free(a);

  /* A lock that outlives the wait: mint without it, leave it alone. */
  a = cache(r, NULL, &m,
            &(eg_token_cache_opts_t){.lock_ttl_ms = 1000, .lock_wait_ms = 400});
  snprintf(lock, sizeof(lock), "%s:lock", key_of(a, 1, 2));
  raw_cmd(&w, "SET %s stuck-worker PX 60000", lock);
  t0 = test_now_ms();
  t = get(a, 1, 2, &info);
  took = test_now_ms() - t0;
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(took >= 380);
  assert_true(took < 5000);
  v = raw_get(&w, key_of(a, 1, 2), NULL);
  assert_non_null(strstr(v, t));
  free(v);
  v = raw_get(&w, lock, NULL);
  assert_string_equal(v, "stuck-worker");
  free(v);
  eg_token_cache_free_token(t);
  assert_int_equal(atomic_load(&m.calls), 2);

  eg_token_cache_free(a);
  eg_redis_free(r);
  world_stop(&w);
}

struct steal {
  struct world *w;
  const char *lock;
};

static void steal_lock(void *p) {
  struct steal *s = p;

  /* Our lock expired mid-mint and another worker took it. */
  raw_cmd(s->w, "SET %s other-worker PX 60000", s->lock);
}

static void test_lock_released_only_by_owner(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_cache_t *a;
  char lock[160];
  struct steal st = {.w = &w, .lock = lock};
  char *v;

  (void)state;
  world_start(&w, NULL);
  r = pool(w.url, 0);
  a = cache(r, NULL, &m, NULL);
  snprintf(lock, sizeof(lock), "%s:lock", key_of(a, 1, 1));
  m.hook = steal_lock;
  m.hook_arg = &st;
  eg_token_cache_free_token(get(a, 1, 1, NULL));
  v = raw_get(&w, lock, NULL);
  assert_non_null(v);
  assert_string_equal(v, "other-worker");
  free(v);
  eg_token_cache_free(a);
  eg_redis_free(r);
  world_stop(&w);
}

/* A mint hook that holds the mint until a counter of another cache reaches
 * a value, so that tests need no guesses about thread scheduling. */
struct until {
  eg_token_cache_t *tc;
  bool lock_waits; /* else local_waits */
  uint64_t at_least;
};

static void wait_until(void *p) {
  struct until *u = p;
  int64_t deadline = test_now_ms() + (int64_t)(10000 * test_time_mult());

  for (;;) {
    eg_token_cache_stats_t s;

    eg_token_cache_stats(u->tc, &s);
    if ((u->lock_waits ? s.lock_waits : s.local_waits) >= u->at_least)
      return;
    if (test_now_ms() > deadline)
      fail_msg("the other callers never started waiting");
    test_sleep_ms(5);
  }
}

struct waiter {
  eg_token_cache_t *tc;
  eg_token_info_t info;
  char *token;
};

static void *get_thread(void *p) {
  struct waiter *wt = p;

  assert_int_equal(
      eg_token_cache_get(wt->tc, 1, 1, &wt->token, &wt->info, NULL, 0), EG_OK);
  return NULL;
}

static void *get_thread2(void *p) {
  struct waiter *wt = p;

  assert_int_equal(
      eg_token_cache_get(wt->tc, 1, 2, &wt->token, &wt->info, NULL, 0), EG_OK);
  return NULL;
}

/* Calls of a Redis command so far (INFO commandstats). */
static long long command_calls(struct world *w, const char *cmd) {
  redisReply *r = redisCommand(w->raw, "INFO commandstats");
  char needle[64];
  const char *at;
  long long n = 0;

  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_STRING);
  snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", cmd);
  at = strstr(r->str, needle);
  if (at != NULL)
    n = strtoll(at + strlen(needle), NULL, 10);
  freeReplyObject(r);
  return n;
}

struct late_store {
  struct world *w;
  const char *key;
  const char *value;
};

/* Stores the value on a connection of its own: the SET waits out a write
 * pause, then runs before the commands that arrive after it. */
static void *late_store_thread(void *p) {
  struct late_store *ls = p;
  redisContext *c = test_redis_connect(&ls->w->srv);
  redisReply *r = redisCommand(c, "SET %s %s", ls->key, ls->value);

  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_STATUS);
  freeReplyObject(r);
  redisFree(c);
  return NULL;
}

/* The holder stores its token and releases the lock between a waiter's
 * last look at the key and its next try for the lock: the waiter gets the
 * lock, and must look again instead of minting a second token (the
 * it_worker "one mint fleet-wide" failure). Redis's write pause puts the
 * commands in that order: the waiter's GET runs during the pause and
 * misses, the stored value lands at the pause's end just before the
 * waiter's SET NX, and the lock has expired by then. */
static void test_waiter_that_gets_the_lock_looks_again(void **state) {
  struct world w;
  struct minter ma = {0}, mb = {0};
  eg_redis_t *ra, *rb;
  eg_token_cache_t *a;
  struct waiter wb;
  struct late_store ls;
  pthread_t th, store;
  eg_token_info_t info;
  char lock[160], key[128];
  char *value, *ta;
  long long sets;
  int64_t deadline;

  (void)state;
  world_start(&w, NULL);
  ra = pool(w.url, 0);
  rb = pool(w.url, 0);
  a = cache(ra, NULL, &ma, NULL);
  wb = (struct waiter){.tc = cache(rb, NULL, &mb, NULL)};
  snprintf(key, sizeof(key), "%s", key_of(a, 1, 1));
  snprintf(lock, sizeof(lock), "%s:lock", key);
  /* The value the holder will store: A's, taken out of Redis for now. */
  ta = get(a, 1, 1, &info);
  value = raw_get(&w, key, NULL);
  assert_non_null(value);
  raw_cmd(&w, "DEL %s", key);
  raw_cmd(&w, "SET %s other-worker PX 60000", lock);

  assert_int_equal(pthread_create(&th, NULL, get_thread, &wb), 0);
  deadline = test_now_ms() + (int64_t)(10000 * test_time_mult());
  while (stats(wb.tc).lock_waits == 0 && test_now_ms() < deadline)
    test_sleep_ms(5);
  assert_int_equal(stats(wb.tc).lock_waits, 1);
  /* Polls back off to 100 ms; then catch the waiter just after a try for
   * the lock, at the start of a 100 ms sleep. */
  test_sleep_ms(300);
  sets = command_calls(&w, "set");
  while (command_calls(&w, "set") == sets && test_now_ms() < deadline)
    ;
  raw_cmd(&w, "PEXPIRE %s 30", lock);
  raw_cmd(&w, "CLIENT PAUSE 400 WRITE");
  ls = (struct late_store){.w = &w, .key = key, .value = value};
  assert_int_equal(pthread_create(&store, NULL, late_store_thread, &ls), 0);
  pthread_join(store, NULL);
  pthread_join(th, NULL);

  assert_int_equal(atomic_load(&mb.calls), 0);
  assert_int_equal(wb.info.source, EG_TOKEN_REDIS);
  assert_string_equal(wb.token, ta);
  eg_token_cache_free_token(wb.token);
  eg_token_cache_free_token(ta);
  free(value);
  eg_token_cache_free(wb.tc);
  eg_token_cache_free(a);
  eg_redis_free(ra);
  eg_redis_free(rb);
  world_stop(&w);
}

/* A worker that misses while another mints waits for that mint. */
static void test_waiter_gets_holders_token(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *ra;
  eg_redis_t *rb;
  struct waiter wa;
  pthread_t th;
  eg_token_cache_t *b;
  eg_token_info_t info;
  char *t;
  struct until u = {.lock_waits = true, .at_least = 1};
  char lock[160];

  (void)state;
  world_start(&w, NULL);
  ra = pool(w.url, 0);
  rb = pool(w.url, 0);
  wa.tc = cache(ra, NULL, &m, NULL);
  b = cache(rb, NULL, &m, NULL);
  /* A's mint lasts until B waits for A's lock. */
  u.tc = b;
  m.hook = wait_until;
  m.hook_arg = &u;
  assert_int_equal(pthread_create(&th, NULL, get_thread, &wa), 0);
  snprintf(lock, sizeof(lock), "%s:lock", key_of(b, 1, 1));
  for (;;) { /* until A holds the lock */
    char *v = raw_get(&w, lock, NULL);

    if (v != NULL) {
      free(v);
      break;
    }
    test_sleep_ms(5);
  }
  t = get(b, 1, 1, &info);
  pthread_join(th, NULL);
  assert_int_equal(wa.info.source, EG_TOKEN_MINTED);
  assert_int_equal(info.source, EG_TOKEN_REDIS);
  assert_string_equal(t, wa.token);
  assert_int_equal(atomic_load(&m.calls), 1);
  assert_int_equal(stats(b).lock_waits, 1);
  eg_token_cache_free_token(t);
  eg_token_cache_free_token(wa.token);
  eg_token_cache_free(wa.tc);
  eg_token_cache_free(b);
  eg_redis_free(ra);
  eg_redis_free(rb);
  world_stop(&w);
}

struct fail_arg {
  eg_token_cache_t *tc;
  pthread_barrier_t *barrier;
  int rc;
  char err[EG_ERRBUF_LEN];
};

static void *fail_thread(void *p) {
  struct fail_arg *a = p;
  char *t = NULL;

  pthread_barrier_wait(a->barrier);
  a->rc = eg_token_cache_get(a->tc, 1, 1, &t, NULL, a->err, sizeof(a->err));
  assert_null(t);
  return NULL;
}

static void test_mint_failures(void **state) {
  enum { N = 8 };
  struct minter m = {.fail_rc = EG_EUNAVAIL};
  eg_token_cache_t *tc = cache(NULL, NULL, &m, NULL);
  struct until u = {.tc = tc, .at_least = N - 1};
  pthread_t th[N];
  struct fail_arg args[N];
  pthread_barrier_t barrier;
  eg_token_info_t info;
  char *t;
  char err[EG_ERRBUF_LEN];
  char big[EG_TOKEN_MAX_LEN + 2];
  static const char *bad[] = {"", "has space", "ctl\x01", "tab\t", "\x80x"};

  (void)state;
  /* Concurrent callers share one failed mint and its message: the mint
   * lasts until the other N - 1 wait for it. */
  m.hook = wait_until;
  m.hook_arg = &u;
  pthread_barrier_init(&barrier, NULL, N);
  for (int i = 0; i < N; i++) {
    args[i] = (struct fail_arg){.tc = tc, .barrier = &barrier};
    assert_int_equal(pthread_create(&th[i], NULL, fail_thread, &args[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].rc, EG_EUNAVAIL);
    assert_string_equal(args[i].err, "github said no (call 1)");
  }
  pthread_barrier_destroy(&barrier);
  assert_int_equal(atomic_load(&m.calls), 1);
  assert_int_equal(stats(tc).mint_failures, 1);

  /* The failure is not cached: the next call mints again. */
  m.hook = NULL;
  m.fail_rc = 0;
  t = get(tc, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  eg_token_cache_free_token(t);
  assert_int_equal(atomic_load(&m.calls), 2);

  /* A callback that breaks its contract. */
  m.bad = true;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    m.bad_token = bad[i];
    t = (char *)1;
    assert_int_equal(eg_token_cache_get(tc, 2, i, &t, &info, err, sizeof(err)),
                     EG_EINVAL);
    assert_null(t);
    assert_int_equal(info.source, 0);
    assert_non_null(strstr(err, "no valid token"));
  }
  m.bad_token = NULL;
  assert_int_equal(eg_token_cache_get(tc, 2, 50, &t, &info, err, sizeof(err)),
                   EG_EINVAL);
  memset(big, 'a', sizeof(big));
  big[sizeof(big) - 1] = '\0'; /* 4097 characters */
  m.bad_token = big;
  assert_int_equal(eg_token_cache_get(tc, 2, 51, &t, &info, err, sizeof(err)),
                   EG_EINVAL);
  big[sizeof(big) - 2] = '\0'; /* 4096: the limit */
  t = get(tc, 2, 52, NULL);
  assert_int_equal(strlen(t), EG_TOKEN_MAX_LEN);
  eg_token_cache_free_token(t);
  m.bad = false;
  m.fail_rc = 7; /* positive: not an EG_ code */
  assert_int_equal(eg_token_cache_get(tc, 2, 53, &t, &info, err, sizeof(err)),
                   EG_EIO);
  m.silent = true; /* no message: the cache writes one */
  m.fail_rc = EG_ETIMEDOUT;
  assert_int_equal(eg_token_cache_get(tc, 2, 53, &t, &info, err, sizeof(err)),
                   EG_ETIMEDOUT);
  assert_string_equal(err, "token mint failed: timed out");
  m.silent = false;
  m.fail_rc = 0;
  m.life = -10; /* already expired by GitHub's clock: still handed out */
  t = get(tc, 2, 54, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  eg_token_cache_free_token(t);
  eg_token_cache_free(tc);
}

static void test_no_redis_and_eviction(void **state) {
  struct minter m = {0};
  eg_token_cache_t *tc =
      cache(NULL, NULL, &m, &(eg_token_cache_opts_t){.max_entries = 16});
  eg_token_info_t info;
  char *t;

  (void)state;
  for (uint64_t repo = 1; repo <= 40; repo++)
    eg_token_cache_free_token(get(tc, 1, repo, NULL));
  assert_int_equal(atomic_load(&m.calls), 40);
  t = get(tc, 1, 40, &info);
  assert_int_equal(info.source, EG_TOKEN_LOCAL);
  eg_token_cache_free_token(t);
  t = get(tc, 1, 1, &info); /* evicted */
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  eg_token_cache_free_token(t);
  assert_int_equal(atomic_load(&m.calls), 41);
  assert_int_equal(eg_token_cache_invalidate(tc, 1, 40, NULL, NULL, 0), EG_OK);
  t = get(tc, 1, 40, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  eg_token_cache_free_token(t);
  eg_token_cache_free(tc);

  /* Entries without a usable token go first, before any good one. */
  tc = cache(NULL, NULL, &m, &(eg_token_cache_opts_t){.max_entries = 16});
  atomic_store(&m.calls, 0);
  for (uint64_t repo = 1; repo <= 8; repo++) /* good for an hour */
    eg_token_cache_free_token(get(tc, 2, repo, NULL));
  m.life = 30; /* within the margin: kept, but unusable */
  for (uint64_t repo = 9; repo <= 16; repo++)
    eg_token_cache_free_token(get(tc, 2, repo, NULL));
  m.life = 0;
  for (uint64_t repo = 17; repo <= 24; repo++)
    eg_token_cache_free_token(get(tc, 2, repo, NULL));
  assert_int_equal(atomic_load(&m.calls), 24);
  for (uint64_t repo = 1; repo <= 8; repo++) {
    t = get(tc, 2, repo, &info);
    assert_int_equal(info.source, EG_TOKEN_LOCAL);
    eg_token_cache_free_token(t);
  }
  eg_token_cache_free(tc);
}

/* A mint that hangs holds up the other threads only for a bounded time;
 * and a token that expired before the waiters saw it is fetched anew. */
static void test_local_wait_bounds(void **state) {
  struct minter m = {0};
  eg_token_cache_t *tc =
      cache(NULL, NULL, &m,
            &(eg_token_cache_opts_t){.lock_ttl_ms = 100, .lock_wait_ms = 100});
  struct until u = {.tc = tc, .at_least = 1};
  struct waiter wa = {.tc = tc};
  pthread_t th;
  eg_token_info_t info;
  char *t;
  int64_t t0;

  (void)state;
  m.delay_first_ms = 1500; /* stuck, as far as the others can tell */
  assert_int_equal(pthread_create(&th, NULL, get_thread, &wa), 0);
  while (atomic_load(&m.calls) == 0)
    test_sleep_ms(5);
  t0 = test_now_ms();
  t = get(tc, 1, 1, &info); /* waits 300 ms, then mints on its own */
  assert_true(test_now_ms() - t0 >= 290);
  assert_true(test_now_ms() - t0 < 1400);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_int_equal(atomic_load(&m.calls), 2);
  eg_token_cache_free_token(t);
  pthread_join(th, NULL);
  assert_int_equal(wa.info.source, EG_TOKEN_MINTED);
  eg_token_cache_free_token(wa.token);
  assert_int_equal(stats(tc).local_waits, 1);

  /* Already expired when minted: the waiter does not take it and fetches
   * again. */
  atomic_store(&m.calls, 0);
  m.delay_first_ms = 0;
  m.life = -10;
  m.hook = wait_until;
  m.hook_arg = &u;
  u.at_least = 2;
  wa.token = NULL;
  assert_int_equal(pthread_create(&th, NULL, get_thread2, &wa), 0);
  while (atomic_load(&m.calls) == 0)
    test_sleep_ms(5);
  t = get(tc, 1, 2, &info); /* its own mint passes the hook at once */
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  eg_token_cache_free_token(t);
  pthread_join(th, NULL);
  eg_token_cache_free_token(wa.token);
  assert_int_equal(atomic_load(&m.calls), 2);
  eg_token_cache_free(tc);
}

/* Redis refuses EVAL (renamed away): no lock, so mint directly; and an
 * invalidation reports that the delete failed. */
static void test_redis_without_eval(void **state) {
  static const char *const extra[] = {"--rename-command", "EVAL", "", NULL};
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_cache_t *tc;
  eg_token_info_t info;
  char err[EG_ERRBUF_LEN] = "";
  char *t;

  (void)state;
  memset(&w, 0, sizeof(w));
  test_redis_start_ex(&w.srv, 0, NULL, extra);
  snprintf(w.url, sizeof(w.url), "redis://127.0.0.1:%d", w.srv.port);
  w.raw = test_redis_connect(&w.srv);
  r = pool(w.url, 0);
  tc = cache(r, NULL, &m, NULL);
  t = get(tc, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(info.redis_failed);
  assert_int_equal(stats(tc).redis_errors, 1);
  assert_null(raw_get(&w, key_of(tc, 1, 1), NULL));
  eg_token_cache_free_token(t);

  raw_cmd(&w, "SET %s p1:2000000000:1:ghs_x", key_of(tc, 1, 1));
  assert_int_equal(eg_token_cache_invalidate(tc, 1, 1, NULL, err, sizeof(err)),
                   EG_EIO);
  assert_string_equal(err, "token cache: Redis delete failed");
  eg_token_cache_free(tc);
  eg_redis_free(r);
  world_stop(&w);
}

static void kill_redis(void *p) {
  struct world *w = p;

  redisFree(w->raw);
  w->raw = NULL;
  test_redis_kill(&w->srv);
}

/* Redis dies while we mint (store and unlock fail) or while we wait for
 * another worker's lock (the wait ends at once): tokens still come. */
static void test_redis_dies_mid_fetch(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_cache_t *tc;
  eg_token_info_t info;
  char *t;

  (void)state;
  world_start(&w, NULL);
  r = pool(w.url, 0);
  tc = cache(r, NULL, &m, NULL);
  m.hook = kill_redis;
  m.hook_arg = &w;
  t = get(tc, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_MINTED);
  assert_true(info.redis_failed);
  assert_int_equal(stats(tc).redis_errors, 2); /* SET, then the unlock */
  eg_token_cache_free_token(t);
  t = get(tc, 1, 1, &info);
  assert_int_equal(info.source, EG_TOKEN_LOCAL);
  eg_token_cache_free_token(t);
  eg_token_cache_free(tc);
  eg_redis_free(r);

  /* Waiting for a lock held elsewhere, then Redis goes. */
  test_redis_start(&w.srv, w.srv.port, NULL);
  w.raw = test_redis_connect(&w.srv);
  m.hook = NULL;
  r = pool(w.url, 0);
  tc = cache(
      r, NULL, &m,
      &(eg_token_cache_opts_t){.lock_wait_ms = 20000, .lock_ttl_ms = 20000});
  {
    char lock[160];
    struct waiter wa = {.tc = tc};
    pthread_t th;
    int64_t deadline = test_now_ms() + 10000;

    snprintf(lock, sizeof(lock), "%s:lock", key_of(tc, 1, 1));
    raw_cmd(&w, "SET %s other-worker PX 60000", lock);
    assert_int_equal(pthread_create(&th, NULL, get_thread, &wa), 0);
    while (stats(tc).lock_waits == 0 && test_now_ms() < deadline)
      test_sleep_ms(5);
    assert_int_equal(stats(tc).lock_waits, 1);
    kill_redis(&w);
    pthread_join(th, NULL);
    assert_int_equal(wa.info.source, EG_TOKEN_MINTED);
    assert_true(wa.info.redis_failed);
    eg_token_cache_free_token(wa.token);
  }
  eg_token_cache_free(tc);
  eg_redis_free(r);
  world_stop(&w);
}

static void test_password_not_in_errors(void **state) {
  struct world w;
  struct minter m = {0};
  eg_redis_t *r;
  eg_token_cache_t *tc;
  eg_token_info_t info;
  char url[256];
  char err[EG_ERRBUF_LEN] = "";
  char *t;

  (void)state;
  world_start(&w, SECRET);
  /* Right password: works. */
  r = pool(w.url, 0);
  tc = cache(r, NULL, &m, NULL);
  t = get(tc, 1, 1, &info);
  assert_false(info.redis_failed);
  eg_token_cache_free_token(t);
  eg_token_cache_free(tc);
  eg_redis_free(r);

  /* Wrong password: tokens still come (direct mints); errors never carry
   * either password. */
  snprintf(url, sizeof(url), "redis://:wrong-%s@127.0.0.1:%d", SECRET,
           w.srv.port);
  r = pool(url, 0);
  tc = cache(r, NULL, &m, NULL);
  t = get(tc, 1, 1, &info);
  assert_true(info.redis_failed);
  eg_token_cache_free_token(t);
  test_sleep_ms(1100);
  assert_int_equal(eg_token_cache_invalidate(tc, 1, 1, NULL, err, sizeof(err)),
                   EG_EAUTH);
  assert_non_null(strstr(err, "AUTH refused"));
  assert_null(strstr(err, SECRET));
  assert_null(strstr(err, "wrong-"));
  eg_token_cache_free(tc);
  eg_redis_free(r);
  world_stop(&w);
}

static void test_args(void **state) {
  struct minter m = {0};
  eg_token_cache_t *tc = (eg_token_cache_t *)1;
  eg_token_cache_opts_t good = {.app_id = "1",
                                .api_base = "https://api.github.com",
                                .permissions = "p",
                                .mint = mint_cb,
                                .mint_ud = &m};
  eg_token_cache_opts_t bad[8];
  char err[EG_ERRBUF_LEN];
  char *t = (char *)1;
  char longs[1100];

  (void)state;
  memset(longs, 'a', sizeof(longs));
  longs[sizeof(longs) - 1] = '\0';
  for (int i = 0; i < 8; i++)
    bad[i] = good;
  bad[0].app_id = NULL;
  bad[1].api_base = "";
  bad[2].permissions = NULL;
  bad[3].mint = NULL;
  bad[4].margin_s = -1;
  bad[5].lock_ttl_ms = 600001;
  bad[6].lock_wait_ms = -1;
  bad[7].app_id = longs;
  for (int i = 0; i < 8; i++) {
    tc = (eg_token_cache_t *)1;
    assert_int_equal(eg_token_cache_new(&bad[i], &tc, err, sizeof(err)),
                     EG_EINVAL);
    assert_null(tc);
  }
  assert_int_equal(eg_token_cache_new(NULL, &tc, err, sizeof(err)), EG_EINVAL);
  assert_int_equal(eg_token_cache_new(&good, NULL, err, sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(eg_token_cache_new(&good, &tc, err, sizeof(err)), EG_OK);
  assert_int_equal(eg_token_cache_get(tc, 0, 1, &t, NULL, err, sizeof(err)),
                   EG_EINVAL);
  assert_null(t);
  assert_int_equal(eg_token_cache_get(tc, 1, 1, NULL, NULL, err, sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(eg_token_cache_get(NULL, 1, 1, &t, NULL, err, sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(atomic_load(&m.calls), 0);
  {
    eg_token_cache_stats_t s;

    eg_token_cache_stats(NULL, &s);
    assert_int_equal(s.mints, 0);
    eg_token_cache_stats(tc, NULL);
  }
  eg_token_cache_free(tc);
  eg_token_cache_free(NULL);
  eg_token_cache_free_token(NULL);
}

#if OOM_INJECTION
static int oom_mint(void *ud,
                    uint64_t inst,
                    uint64_t repo,
                    char **token,
                    time_t *expires_at,
                    char *errbuf,
                    size_t errbuf_len) {
  (void)ud;
  (void)inst;
  (void)repo;
  *token = strdup("ghs_oom_token");
  if (*token == NULL) {
    snprintf(errbuf, errbuf_len, "out of memory");
    return EG_ENOMEM;
  }
  *expires_at = time(NULL) + 3600;
  return EG_OK;
}

static int cache_scenario(void) {
  eg_token_cache_opts_t o = {.app_id = "1",
                             .api_base = "https://api.github.com",
                             .permissions = "p",
                             .mint = oom_mint,
                             .max_entries = 2};
  eg_token_cache_t *tc = NULL;
  char *t = NULL;
  int rc = eg_token_cache_new(&o, &tc, NULL, 0);

  if (rc != EG_OK)
    return rc;
  for (uint64_t repo = 1; rc == EG_OK && repo <= 4; repo++) {
    rc = eg_token_cache_get(tc, 1, repo % 3, &t, NULL, NULL, 0);
    if (rc == EG_OK) {
      assert_string_equal(t, "ghs_oom_token");
      eg_token_cache_free_token(t);
    }
  }
  if (rc == EG_OK)
    rc = eg_token_cache_invalidate(tc, 1, 1, NULL, NULL, 0);
  eg_token_cache_free(tc);
  return rc;
}
#endif

/* Every allocation in turn fails: each call reports EG_ENOMEM (or
 * EG_ECRYPTO when it was OpenSSL's) and frees what it built (valgrind
 * checks the frees). */
static void test_out_of_memory(void **state) {
  (void)state;
#if OOM_INJECTION
  static const int codes[] = {EG_ENOMEM, EG_ECRYPTO};

  oom_run(cache_scenario, codes, 2);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mint_once_then_hits),
      cmocka_unit_test(test_storm_single_mint),
      cmocka_unit_test(test_keys_separate),
      cmocka_unit_test(test_expiry_margin),
      cmocka_unit_test(test_bad_plain_values),
      cmocka_unit_test(test_encryption),
      cmocka_unit_test(test_key_rotation),
      cmocka_unit_test(test_invalidate),
      cmocka_unit_test(test_redis_outage),
      cmocka_unit_test(test_lock_holder_dies),
      cmocka_unit_test(test_lock_released_only_by_owner),
      cmocka_unit_test(test_waiter_gets_holders_token),
      cmocka_unit_test(test_waiter_that_gets_the_lock_looks_again),
      cmocka_unit_test(test_mint_failures),
      cmocka_unit_test(test_no_redis_and_eviction),
      cmocka_unit_test(test_local_wait_bounds),
      cmocka_unit_test(test_redis_without_eval),
      cmocka_unit_test(test_redis_dies_mid_fetch),
      cmocka_unit_test(test_password_not_in_errors),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_out_of_memory),
  };

  /* hiredis writes with write(2); the binaries ignore SIGPIPE too. */
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}

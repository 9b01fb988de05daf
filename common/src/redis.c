/* Redis connection pool over synchronous hiredis: URL parsing, lazy connect
 * with AUTH and SELECT, and a backoff shared by the pool after failures. */
#include "eg/redis.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_POOL_SIZE  4
#define MAX_POOL_SIZE      1024
#define MAX_TIMEOUT_MS     (10 * 60 * 1000)

struct eg_redis_s {
  eg_redis_url_t url;
  struct timeval connect_tv;
  struct timeval command_tv;
  int64_t retry_interval_ms;
  int pool_size;

  pthread_mutex_t mu;
  pthread_cond_t cv;
  redisContext **idle; /* pool_size slots, n_idle used */
  int n_idle;
  int n_busy;       /* borrowed or being connected */
  bool down;        /* the last connect or command failed */
  int64_t retry_at; /* monotonic ms; no new connect before, while down */

  _Atomic uint64_t connects;
  _Atomic uint64_t connect_failures;
  _Atomic uint64_t command_failures;
  _Atomic uint64_t skipped;
};

static int64_t now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_to_tv(int ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

  return tv;
}

/* ---- URL ---- */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decodes n bytes at s into out (cap bytes with the NUL). */
static int pct_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;

  for (size_t i = 0; i < n; i++) {
    char c = s[i];

    if (c == '%') {
      int hi;
      int lo;

      if (i + 2 >= n)
        return EG_EINVAL;
      hi = hexval(s[i + 1]);
      lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0)
        return EG_EINVAL;
      c = (char)(hi * 16 + lo);
      i += 2;
      if (c == '\0')
        return EG_EINVAL;
    }
    if (o + 1 >= cap)
      return EG_ERANGE;
    out[o++] = c;
  }
  out[o] = '\0';
  return EG_OK;
}

int eg_redis_url_parse(const char *url,
                       eg_redis_url_t *out,
                       char *errbuf,
                       size_t errbuf_len) {
  static const char scheme[] = "redis://";
  const char *auth;
  const char *end;
  const char *at = NULL;
  const char *host;
  const char *host_end;
  const char *port_str = NULL;
  size_t host_len;
  uint64_t v;
  int rc;

  if (url == NULL || out == NULL) {
    eg__seterr(errbuf, errbuf_len, "redis URL: missing");
    return EG_EINVAL;
  }
  memset(out, 0, sizeof(*out));
  out->port = 6379;
  if (strncasecmp(url, "rediss://", 9) == 0) {
    eg__seterr(errbuf, errbuf_len,
               "redis URL: rediss:// (TLS) is not supported");
    return EG_EINVAL;
  }
  if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) {
    eg__seterr(errbuf, errbuf_len, "redis URL: must start with redis://");
    return EG_EINVAL;
  }
  auth = url + sizeof(scheme) - 1;
  end = auth + strcspn(auth, "/?#");
  if (strpbrk(auth, "?#") != NULL) {
    eg__seterr(errbuf, errbuf_len,
               "redis URL: query strings and fragments are not supported");
    return EG_EINVAL;
  }
  for (const char *p = auth; p < end; p++) {
    if (*p == '@')
      at = p;
    if ((unsigned char)*p <= ' ' || *p == 0x7f) {
      eg__seterr(errbuf, errbuf_len,
                 "redis URL: spaces or control characters in the address");
      return EG_EINVAL;
    }
  }

  /* User info: ":password", "user:password" (Redis 6 ACL). Its text is never
   * quoted in errors: it is a secret. */
  if (at != NULL) {
    const char *colon = memchr(auth, ':', (size_t)(at - auth));

    if (colon == NULL) {
      eg__seterr(errbuf, errbuf_len,
                 "redis URL: user info must be :password or user:password");
      return EG_EINVAL;
    }
    rc = pct_decode(auth, (size_t)(colon - auth), out->user, sizeof(out->user));
    if (rc == EG_OK)
      rc = pct_decode(colon + 1, (size_t)(at - colon - 1), out->password,
                      sizeof(out->password));
    if (rc != EG_OK) {
      OPENSSL_cleanse(out, sizeof(*out));
      eg__seterr(errbuf, errbuf_len,
                 "redis URL: bad user info (%s; at most %d bytes user, %d "
                 "password, %%XX escapes)",
                 rc == EG_ERANGE ? "too long" : "bad escape", EG_REDIS_MAX_USER,
                 EG_REDIS_MAX_PASSWORD);
      return EG_EINVAL;
    }
    if (out->password[0] == '\0') {
      OPENSSL_cleanse(out, sizeof(*out));
      eg__seterr(errbuf, errbuf_len, "redis URL: empty password");
      return EG_EINVAL;
    }
    host = at + 1;
  } else {
    host = auth;
  }

  if (*host == '[') {
    const char *close = memchr(host, ']', (size_t)(end - host));

    if (close == NULL) {
      rc = EG_EINVAL;
      goto bad_host;
    }
    host_end = close;
    host++;
    if (close + 1 < end) {
      if (close[1] != ':') {
        rc = EG_EINVAL;
        goto bad_host;
      }
      port_str = close + 2;
    }
  } else {
    const char *colon = memchr(host, ':', (size_t)(end - host));

    host_end = colon != NULL ? colon : end;
    if (colon != NULL)
      port_str = colon + 1;
  }
  host_len = (size_t)(host_end - host);
  if (host_len == 0 || host_len > EG_REDIS_MAX_HOST) {
    rc = host_len == 0 ? EG_EINVAL : EG_ERANGE;
    goto bad_host;
  }
  memcpy(out->host, host, host_len);
  out->host[host_len] = '\0';
  if (port_str != NULL) {
    if (eg_parse_u64n(port_str, (size_t)(end - port_str), 1, 65535, &v) !=
        EG_OK) {
      OPENSSL_cleanse(out, sizeof(*out));
      eg__seterr(errbuf, errbuf_len,
                 "redis URL: port must be a number 1..65535");
      return EG_EINVAL;
    }
    out->port = (uint16_t)v;
  }
  if (*end == '/' && end[1] != '\0') {
    if (eg_parse_u64(end + 1, 0, 2147483647, &v) != EG_OK) {
      OPENSSL_cleanse(out, sizeof(*out));
      eg__seterr(errbuf, errbuf_len,
                 "redis URL: database must be a number 0..2147483647");
      return EG_EINVAL;
    }
    out->db = (long)v;
  }
  return EG_OK;

bad_host:
  OPENSSL_cleanse(out, sizeof(*out));
  eg__seterr(errbuf, errbuf_len, "redis URL: %s",
             rc == EG_ERANGE ? "host name too long" : "missing or bad host");
  return EG_EINVAL;
}

/* ---- pool ---- */

int eg_redis_new(const char *url,
                 const eg_redis_opts_t *opts,
                 eg_redis_t **out,
                 char *errbuf,
                 size_t errbuf_len) {
  eg_redis_opts_t o = {0};
  eg_redis_t *r;
  int rc;

  if (out == NULL) {
    eg__seterr(errbuf, errbuf_len, "redis: out is NULL");
    return EG_EINVAL;
  }
  *out = NULL;
  if (opts != NULL)
    o = *opts;
  if (o.connect_timeout_ms < 0 || o.connect_timeout_ms > MAX_TIMEOUT_MS ||
      o.command_timeout_ms < 0 || o.command_timeout_ms > MAX_TIMEOUT_MS ||
      o.retry_interval_ms < 0 || o.retry_interval_ms > MAX_TIMEOUT_MS ||
      o.pool_size < 0 || o.pool_size > MAX_POOL_SIZE) {
    eg__seterr(errbuf, errbuf_len,
               "redis: timeouts must be 0..%d ms, pool size 0..%d",
               MAX_TIMEOUT_MS, MAX_POOL_SIZE);
    return EG_EINVAL;
  }
  if (o.connect_timeout_ms == 0)
    o.connect_timeout_ms = DEFAULT_TIMEOUT_MS;
  if (o.command_timeout_ms == 0)
    o.command_timeout_ms = DEFAULT_TIMEOUT_MS;
  if (o.retry_interval_ms == 0)
    o.retry_interval_ms = DEFAULT_TIMEOUT_MS;
  if (o.pool_size == 0)
    o.pool_size = DEFAULT_POOL_SIZE;

  r = calloc(1, sizeof(*r));
  if (r == NULL)
    goto nomem;
  rc = eg_redis_url_parse(url, &r->url, errbuf, errbuf_len);
  if (rc != EG_OK) {
    free(r);
    return rc;
  }
  r->idle = calloc((size_t)o.pool_size, sizeof(*r->idle));
  if (r->idle == NULL)
    goto fail_idle;
  if (pthread_mutex_init(&r->mu, NULL) != 0)
    goto fail_mutex;
  if (pthread_cond_init(&r->cv, NULL) != 0)
    goto fail_cond;
  r->connect_tv = ms_to_tv(o.connect_timeout_ms);
  r->command_tv = ms_to_tv(o.command_timeout_ms);
  r->retry_interval_ms = o.retry_interval_ms;
  r->pool_size = o.pool_size;
  *out = r;
  return EG_OK;

fail_cond:
  pthread_mutex_destroy(&r->mu);
fail_mutex:
  free(r->idle);
fail_idle:
  OPENSSL_cleanse(&r->url, sizeof(r->url));
  free(r);
nomem:
  eg__seterr(errbuf, errbuf_len, "redis: out of memory");
  return EG_ENOMEM;
}

void eg_redis_free(eg_redis_t *r) {
  if (r == NULL)
    return;
  for (int i = 0; i < r->n_idle; i++)
    redisFree(r->idle[i]);
  free(r->idle);
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
  OPENSSL_cleanse(&r->url, sizeof(r->url));
  free(r);
}

void eg_redis_stats(eg_redis_t *r, eg_redis_stats_t *out) {
  if (out == NULL)
    return;
  memset(out, 0, sizeof(*out));
  if (r == NULL)
    return;
  out->connects = atomic_load(&r->connects);
  out->connect_failures = atomic_load(&r->connect_failures);
  out->command_failures = atomic_load(&r->command_failures);
  out->skipped = atomic_load(&r->skipped);
  pthread_mutex_lock(&r->mu);
  out->up = !r->down;
  pthread_mutex_unlock(&r->mu);
}

/* Maps a failed context to a code and one line (host and port only). */
static int conn_error(eg_redis_t *r,
                      redisContext *c,
                      int saved_errno,
                      const char *what,
                      char *errbuf,
                      size_t errbuf_len) {
  bool timeout = c->err == REDIS_ERR_IO &&
                 (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ||
                  saved_errno == ETIMEDOUT || saved_errno == EINPROGRESS);

  if (c->err == REDIS_ERR_OOM) {
    eg__seterr(errbuf, errbuf_len, "redis %s:%u: out of memory", r->url.host,
               (unsigned)r->url.port);
    return EG_ENOMEM;
  }
  eg__seterr(errbuf, errbuf_len, "redis %s:%u: %s: %s", r->url.host,
             (unsigned)r->url.port, what,
             timeout                   ? "timed out"
             : c->err == REDIS_ERR_EOF ? "connection closed by server"
                                       : c->errstr);
  return timeout ? EG_ETIMEDOUT : EG_EUNAVAIL;
}

/* Sends one setup command on a fresh connection. The reply text of a failed
 * AUTH is not copied: only what we say about it. */
static int setup_command(eg_redis_t *r,
                         redisContext *c,
                         int argc,
                         const char **argv,
                         const size_t *argvlen,
                         char *errbuf,
                         size_t errbuf_len) {
  redisReply *rep;
  int rc = EG_OK;
  int saved_errno;

  errno = 0;
  rep = redisCommandArgv(c, argc, argv, argvlen);
  saved_errno = errno;
  if (rep == NULL)
    return conn_error(r, c, saved_errno, argv[0], errbuf, errbuf_len);
  if (rep->type == REDIS_REPLY_ERROR) {
    bool noauth = rep->str != NULL && strncmp(rep->str, "NOAUTH", 6) == 0;
    bool auth = strcmp(argv[0], "AUTH") == 0;

    if (auth || noauth) {
      eg__seterr(errbuf, errbuf_len, "redis %s:%u: %s", r->url.host,
                 (unsigned)r->url.port,
                 noauth ? "the server requires a password (NOAUTH)"
                        : "AUTH refused (wrong user or password)");
      rc = EG_EAUTH;
    } else {
      eg__seterr(errbuf, errbuf_len, "redis %s:%u: %s: %.160s", r->url.host,
                 (unsigned)r->url.port, argv[0],
                 rep->str != NULL ? rep->str : "error");
      rc = EG_EIO;
    }
  }
  freeReplyObject(rep);
  return rc;
}

/* Opens and prepares one connection (AUTH, then SELECT or PING so that a
 * server that needs a password, or does not answer, is found here). */
static int connect_one(eg_redis_t *r,
                       redisContext **out,
                       char *errbuf,
                       size_t errbuf_len) {
  redisContext *c;
  int rc;
  int saved_errno;
  char dbbuf[24];

  errno = 0;
  c = redisConnectWithTimeout(r->url.host, r->url.port, r->connect_tv);
  saved_errno = errno;
  if (c == NULL) {
    eg__seterr(errbuf, errbuf_len, "redis: out of memory");
    return EG_ENOMEM;
  }
  if (c->err != 0) {
    rc = conn_error(r, c, saved_errno, "connect", errbuf, errbuf_len);
    goto fail;
  }
  if (redisSetTimeout(c, r->command_tv) != REDIS_OK) {
    rc = conn_error(r, c, errno, "set timeout", errbuf, errbuf_len);
    goto fail;
  }
  /* Keepalive only helps find dead peers sooner; its failure is harmless. */
  (void)redisEnableKeepAlive(c);
  if (r->url.password[0] != '\0') {
    const char *argv[3];
    size_t argvlen[3];
    int argc = 0;

    argv[argc] = "AUTH";
    argvlen[argc++] = 4;
    if (r->url.user[0] != '\0') {
      argv[argc] = r->url.user;
      argvlen[argc++] = strlen(r->url.user);
    }
    argv[argc] = r->url.password;
    argvlen[argc++] = strlen(r->url.password);
    rc = setup_command(r, c, argc, argv, argvlen, errbuf, errbuf_len);
    if (rc != EG_OK)
      goto fail;
  }
  if (r->url.db != 0) {
    const char *argv[2] = {"SELECT", dbbuf};
    size_t argvlen[2] = {6, 0};

    argvlen[1] = (size_t)snprintf(dbbuf, sizeof(dbbuf), "%ld", r->url.db);
    rc = setup_command(r, c, 2, argv, argvlen, errbuf, errbuf_len);
  } else {
    const char *argv[1] = {"PING"};
    size_t argvlen[1] = {4};

    rc = setup_command(r, c, 1, argv, argvlen, errbuf, errbuf_len);
  }
  if (rc != EG_OK)
    goto fail;
  *out = c;
  return EG_OK;

fail:
  redisFree(c);
  return rc;
}

/* Marks Redis down: no new connection before retry_interval_ms. */
static void mark_down_locked(eg_redis_t *r) {
  r->down = true;
  r->retry_at = now_ms() + r->retry_interval_ms;
}

/* Closes every idle connection: after one died the others most likely did
 * too (a restarted server). */
static void drop_idle(eg_redis_t *r) {
  redisContext *drop[MAX_POOL_SIZE];
  int n;

  pthread_mutex_lock(&r->mu);
  n = r->n_idle;
  memcpy(drop, r->idle, (size_t)n * sizeof(*drop));
  r->n_idle = 0;
  pthread_mutex_unlock(&r->mu);
  for (int i = 0; i < n; i++)
    redisFree(drop[i]);
}

/* Borrows a connection: an idle one (*reused = true) or a new one, unless
 * Redis is down and its retry time has not come. Invariant: n_idle + n_busy
 * <= pool_size, so idle[] never overflows. */
static int borrow(eg_redis_t *r,
                  redisContext **out,
                  bool *reused,
                  char *errbuf,
                  size_t errbuf_len) {
  int64_t now;
  int rc;

  *out = NULL;
  *reused = false;
  pthread_mutex_lock(&r->mu);
  while (r->n_idle == 0 && r->n_busy >= r->pool_size)
    pthread_cond_wait(&r->cv, &r->mu);
  if (r->n_idle > 0) {
    *out = r->idle[--r->n_idle];
    *reused = true;
    r->n_busy++;
    pthread_mutex_unlock(&r->mu);
    return EG_OK;
  }
  now = now_ms();
  if (r->down && now < r->retry_at) {
    int64_t wait = r->retry_at - now;

    pthread_mutex_unlock(&r->mu);
    atomic_fetch_add(&r->skipped, 1);
    eg__seterr(errbuf, errbuf_len,
               "redis %s:%u: unavailable, next connect in %lld ms", r->url.host,
               (unsigned)r->url.port, (long long)wait);
    return EG_EUNAVAIL;
  }
  if (r->down) /* we try; others keep skipping until we know */
    r->retry_at = now + r->retry_interval_ms;
  r->n_busy++;
  pthread_mutex_unlock(&r->mu);

  rc = connect_one(r, out, errbuf, errbuf_len);
  pthread_mutex_lock(&r->mu);
  if (rc == EG_OK) {
    r->down = false;
  } else {
    r->n_busy--;
    mark_down_locked(r);
    pthread_cond_signal(&r->cv);
  }
  pthread_mutex_unlock(&r->mu);
  atomic_fetch_add(rc == EG_OK ? &r->connects : &r->connect_failures, 1);
  return rc;
}

/* Gives a connection back (c NULL: it was closed). */
static void give_back(eg_redis_t *r, redisContext *c, bool failed) {
  pthread_mutex_lock(&r->mu);
  r->n_busy--;
  if (c != NULL)
    r->idle[r->n_idle++] = c;
  if (failed)
    mark_down_locked(r);
  else
    r->down = false;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

int eg_redis_command(eg_redis_t *r,
                     int argc,
                     const char **argv,
                     const size_t *argvlen,
                     redisReply **reply,
                     char *errbuf,
                     size_t errbuf_len) {
  int rc;

  if (reply != NULL)
    *reply = NULL;
  if (r == NULL || argc < 1 || argv == NULL || argvlen == NULL ||
      reply == NULL) {
    eg__seterr(errbuf, errbuf_len, "redis: invalid command arguments");
    return EG_EINVAL;
  }
  for (int i = 0; i < argc; i++) {
    if (argv[i] == NULL) {
      eg__seterr(errbuf, errbuf_len, "redis: argument %d is NULL", i);
      return EG_EINVAL;
    }
  }

  for (int attempt = 0;; attempt++) {
    redisContext *c;
    redisReply *rep;
    bool reused;
    int saved_errno;

    rc = borrow(r, &c, &reused, errbuf, errbuf_len);
    if (rc != EG_OK)
      break;
    errno = 0;
    rep = redisCommandArgv(c, argc, argv, argvlen);
    saved_errno = errno;
    if (rep == NULL) {
      /* A pooled connection the server closed (restart, idle timeout)
       * gets one more try on a new connection; anything else marks Redis
       * down so that callers stop paying timeouts. */
      bool stale = reused && attempt == 0 &&
                   (c->err == REDIS_ERR_EOF ||
                    (c->err == REDIS_ERR_IO &&
                     (saved_errno == ECONNRESET || saved_errno == EPIPE)));

      rc = conn_error(r, c, saved_errno, argv[0], errbuf, errbuf_len);
      redisFree(c);
      atomic_fetch_add(&r->command_failures, 1);
      drop_idle(r);
      give_back(r, NULL, !stale);
      if (stale)
        continue;
      break;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
      eg__seterr(errbuf, errbuf_len, "redis %s: %.200s", argv[0],
                 rep->str != NULL ? rep->str : "error");
      freeReplyObject(rep);
      give_back(r, c, false);
      rc = EG_EIO;
      break;
    }
    give_back(r, c, false);
    *reply = rep;
    rc = EG_OK;
    break;
  }
  return rc;
}

int eg_redis_ping(eg_redis_t *r, char *errbuf, size_t errbuf_len) {
  const char *argv[1] = {"PING"};
  size_t argvlen[1] = {4};
  redisReply *rep = NULL;
  int rc = eg_redis_command(r, 1, argv, argvlen, &rep, errbuf, errbuf_len);

  freeReplyObject(rep);
  return rc;
}

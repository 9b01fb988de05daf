/* A small, thread-safe pool of synchronous hiredis connections to one Redis
 * server named by a redis:// URL: lazy connect with timeouts, AUTH, SELECT,
 * reconnect after errors with a backoff. */
#ifndef EG_REDIS_H
#define EG_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

/* Limits of the URL parts. */
#define EG_REDIS_MAX_HOST     255
#define EG_REDIS_MAX_USER     256
#define EG_REDIS_MAX_PASSWORD 1024

/* eg_redis_new() options. Zero means the default given with each field. */
typedef struct eg_redis_opts_s {
  int connect_timeout_ms; /* TCP connect; default 1000 */
  int command_timeout_ms; /* each command's send and reply; default 1000 */
  int retry_interval_ms;  /* after a failed connect (or a dead server), no new
                             connect is tried for this long; calls meanwhile
                             fail at once with EG_EUNAVAIL; default 1000 */
  int pool_size;          /* connections kept at most; default 4 */
} eg_redis_opts_t;

/* Counters since eg_redis_new(), and whether the last attempt worked. */
typedef struct eg_redis_stats_s {
  uint64_t connects;         /* connections opened (AUTH/SELECT passed) */
  uint64_t connect_failures; /* connect, AUTH or SELECT failed */
  uint64_t command_failures; /* I/O errors and timeouts on a command */
  uint64_t skipped;          /* calls refused during the retry interval */
  bool up;                   /* false after a failure, until a success */
} eg_redis_stats_t;

typedef struct eg_redis_s eg_redis_t;

/* Parsed form of a redis:// URL. password is secret: never log it. */
typedef struct eg_redis_url_s {
  char host[EG_REDIS_MAX_HOST + 1]; /* brackets of an IPv6 literal removed */
  uint16_t port;                    /* default 6379 */
  long db;                          /* default 0 */
  char user[EG_REDIS_MAX_USER + 1]; /* "" for the default user */
  char password[EG_REDIS_MAX_PASSWORD + 1]; /* "" for none */
} eg_redis_url_t;

/* Parses redis://[[user]:password@]host[:port][/db]. user and password are
 * percent-decoded; host may be a name, an IPv4 address or [IPv6]; db is a
 * decimal 0..2147483647. rediss:// (TLS), unix sockets, query strings and
 * fragments are refused. Error text never contains the user info.
 * The caller should OPENSSL_cleanse(out) when done with a password.
 * @returns EG_OK or EG_EINVAL. */
int eg_redis_url_parse(const char *url,
                       eg_redis_url_t *out,
                       char *errbuf,
                       size_t errbuf_len);

/* Creates a pool for url (see eg_redis_url_parse). Does not connect: the
 * first command does, so a Redis that is down at start does not stop the
 * caller. opts may be NULL for the defaults.
 * @returns EG_OK, EG_EINVAL (bad URL or option; errbuf says which, never
 * with the password), EG_ENOMEM. Free with eg_redis_free(). */
int eg_redis_new(const char *url,
                 const eg_redis_opts_t *opts,
                 eg_redis_t **out,
                 char *errbuf,
                 size_t errbuf_len);

/* Closes every connection and frees r; the password is overwritten. No
 * other thread may use r meanwhile. NULL is a no-op. */
void eg_redis_free(eg_redis_t *r);

/* Runs one command (argc strings argv[i] of argvlen[i] bytes, binary safe)
 * on a connection borrowed from the pool, connecting first if needed. When
 * all pool_size connections are busy, waits for one.
 * A connection that fails is closed. When the failure came from a pooled
 * connection the server had closed (e.g. Redis restarted), the command is
 * sent once more on a new connection, so a command may run twice: use it
 * for commands whose repetition is harmless. Otherwise Redis is marked down
 * and, for retry_interval_ms, calls fail at once with EG_EUNAVAIL.
 * hiredis writes with write(2): the program must ignore SIGPIPE (as
 * eg_process_install_signals() does), or a write to a socket the server
 * reset could raise it.
 * On EG_OK *reply is the reply (never REDIS_REPLY_ERROR), freed by the
 * caller with freeReplyObject(). Thread-safe.
 * @returns EG_OK, EG_EINVAL, EG_EIO (the server answered with an error;
 * errbuf has its text), EG_EUNAVAIL (connect failed or Redis marked down),
 * EG_ETIMEDOUT (no answer within command_timeout_ms), EG_EAUTH (AUTH
 * refused, or a password is required), EG_ENOMEM. */
int eg_redis_command(eg_redis_t *r,
                     int argc,
                     const char **argv,
                     const size_t *argvlen,
                     redisReply **reply,
                     char *errbuf,
                     size_t errbuf_len);

/* Sends PING (e.g. for a readiness probe). @returns as eg_redis_command. */
int eg_redis_ping(eg_redis_t *r, char *errbuf, size_t errbuf_len);

/* Fills *out with the counters. Thread-safe. */
void eg_redis_stats(eg_redis_t *r, eg_redis_stats_t *out);

#endif /* EG_REDIS_H */

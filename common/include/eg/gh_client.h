/* GitHub REST client over libcurl: one client per process, shared by every
 * worker thread. Each call runs in a "lane" (a pooled curl multi handle
 * with its own keep-alive connections, HTTP/2 where the server offers it)
 * that one thread uses at a time; threads reuse connections by taking the
 * lane another thread just returned, and share DNS answers and TLS sessions.
 * eg_gh_request_many() runs several independent calls at once in one lane.
 *
 * The process calls curl_global_init(CURL_GLOBAL_DEFAULT) once before the
 * first eg_gh_client_new() and curl_global_cleanup() after the last
 * eg_gh_client_free(), and ignores SIGPIPE (calls run with
 * CURLOPT_NOSIGNAL, see libcurl-thread(3)). Proxies follow libcurl's
 * environment variables. */
#ifndef EG_GH_CLIENT_H
#define EG_GH_CLIENT_H

#include "eg/error.h"
#include "eg/gh_headers.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct eg_gh_client_s eg_gh_client_t;

#define EG_GH_DEFAULT_BASE_URL "https://api.github.com"
/* Calls one eg_gh_request_many() may carry. */
#define EG_GH_MANY_MAX 64
/* Longest bearer token (installation token or App JWT), NUL excluded. */
#define EG_GH_TOKEN_MAX 8192

typedef struct eg_gh_client_options_s {
  /* https://api.github.com, https://HOST/api/v3 (GHES), or http:// to a
   * loopback host (tests); checked by eg_parse_base_url(). NULL = default.
   * A trailing '/' is dropped. */
  const char *base_url;
  /* Printable ASCII, <= 256 bytes. NULL = "envgate/<version>". */
  const char *user_agent;
  unsigned connect_timeout_ms; /* 0 = 2000 */
  unsigned timeout_ms;         /* whole request; 0 = 10000 */
  size_t max_response;         /* body limit (decoded); 0 = 8 MiB */
  /* Idle lanes kept with their connections: about the number of calling
   * threads (ENVGATE_WORKER_INFLIGHT); more lanes are created on demand and
   * closed when returned to a full pool. 0 = 64. */
  unsigned pool_size;
  unsigned max_connections; /* idle connections kept per lane; 0 = 16 */
  const char *ca_file; /* CA bundle (GHES with a private CA); NULL = system */
} eg_gh_client_options_t;

typedef enum eg_gh_method_e { EG_GH_GET = 0, EG_GH_POST = 1 } eg_gh_method_t;

/* One request. Everything is borrowed for the duration of the call. */
typedef struct eg_gh_call_s {
  eg_gh_method_t method;
  /* Path and query relative to the base URL, built by the caller from
   * validated ids: must pass eg_gh_path_is_valid() (starts with '/', no
   * scheme or host, no ".." segment), else the call is refused. */
  const char *path;
  /* Bearer credential: installation token or App JWT. Required; printable
   * ASCII without spaces, <= EG_GH_TOKEN_MAX bytes. Sent only in the
   * Authorization header; never copied into URLs, errbuf or errmsg. */
  const char *token;
  /* JSON for POST, sent with Content-Type: application/json; NULL sends an
   * empty POST. Ignored for GET. */
  const char *body;
  size_t body_len;     /* bytes of body; 0 with body != NULL means strlen */
  unsigned timeout_ms; /* this call's total timeout; 0 = the client's */
} eg_gh_call_t;

/* How a call failed below HTTP. */
typedef enum eg_gh_net_e {
  EG_GH_NET_NONE = 0, /* an HTTP answer arrived (see status) */
  EG_GH_NET_CONNECT,  /* DNS or TCP connect failed */
  EG_GH_NET_TIMEOUT,  /* connect or total timeout */
  EG_GH_NET_TLS,      /* TLS handshake or certificate */
  EG_GH_NET_RESET,    /* connection reset or closed mid-answer */
  EG_GH_NET_TOO_BIG,  /* body over max_response */
  EG_GH_NET_PROTOCOL, /* malformed HTTP answer */
  EG_GH_NET_REFUSED,  /* the call was refused before sending (bad input) */
  EG_GH_NET_INTERNAL  /* out of memory or a libcurl setup failure */
} eg_gh_net_t;

/* The result of one call. Filled by eg_gh_request*(); release with
 * eg_gh_response_cleanup() after every call, whatever it returned. */
typedef struct eg_gh_response_s {
  int err;         /* EG_OK when an HTTP answer arrived, whatever its status */
  eg_gh_net_t net; /* EG_GH_NET_NONE when err == EG_OK */
  int status;      /* HTTP status; 0 when no complete answer arrived */
  char *body;      /* heap, NUL-terminated ("" when empty); NULL on failure */
  size_t body_len;
  eg_gh_headers_t hdr;        /* parsed headers (also kept on failure) */
  unsigned new_connections;   /* connections opened for this call (0 = reuse) */
  uint64_t elapsed_us;        /* wall time of the call */
  char errmsg[EG_ERRBUF_LEN]; /* one line when err != EG_OK, else "" */
} eg_gh_response_t;

/* Creates a client. opts may be NULL (all defaults).
 * @returns EG_OK, EG_EINVAL (bad option; errbuf names it), EG_ENOMEM or
 * EG_EIO (libcurl refused the setup). Free with eg_gh_client_free(). */
int eg_gh_client_new(const eg_gh_client_options_t *opts,
                     eg_gh_client_t **out,
                     char *errbuf,
                     size_t errbuf_len);

/* Frees the client and its connections. No call may be running. NULL is a
 * no-op. */
void eg_gh_client_free(eg_gh_client_t *cl);

/* The base URL in use (no trailing '/'); valid while cl lives. */
const char *eg_gh_client_base_url(const eg_gh_client_t *cl);

/* Performs one call, blocking the calling thread for at most its timeout.
 * Thread-safe: any number of threads may call at once. resp is overwritten.
 * Redirects are not followed: a 3xx comes back as the status.
 * @returns resp->err: EG_OK (an HTTP answer, any status), EG_EINVAL (call
 * refused), EG_ETIMEDOUT, EG_ETOOBIG, EG_EUNAVAIL (connect, TLS, reset,
 * protocol), EG_ENOMEM or EG_EIO; errbuf (may be NULL) gets resp->errmsg. */
int eg_gh_request(eg_gh_client_t *cl,
                  const eg_gh_call_t *call,
                  eg_gh_response_t *resp,
                  char *errbuf,
                  size_t errbuf_len);

/* Performs n (1..EG_GH_MANY_MAX) calls concurrently from the calling thread
 * and waits for all of them; resps[i] answers calls[i]. Thread-safe.
 * @returns EG_OK when every call got an HTTP answer, else the err of the
 * first that did not (each response holds its own); EG_EINVAL when cl,
 * calls or resps is NULL or n is out of range (resps then untouched). */
int eg_gh_request_many(eg_gh_client_t *cl,
                       const eg_gh_call_t *calls,
                       size_t n,
                       eg_gh_response_t *resps);

/* Frees resp's body and clears it. NULL is a no-op. */
void eg_gh_response_cleanup(eg_gh_response_t *resp);

/* A static name for a transport class ("none", "connect", "timeout", ...). */
const char *eg_gh_net_name(eg_gh_net_t net);

#endif /* EG_GH_CLIENT_H */

/* GitHub REST client over libcurl. Every call runs in a "lane": a pooled
 * curl multi handle that owns its connection cache, used by one thread at a
 * time. libcurl 7.88 does not support one connection cache used by
 * concurrent threads (CURLSHOPT_SHARE(3), CURL_LOCK_DATA_CONNECT), so
 * threads share DNS answers and TLS sessions through a CURLSH, and reuse
 * connections by taking the lane another thread just returned (LIFO, so the
 * warmest connections go first). Easy handles are pooled too. */
#include "eg/gh_client.h"
#include "eg/error.h"
#include "eg/gh_headers.h"
#include "eg/parse.h"
#include "internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef EG_VERSION
#define EG_VERSION "0"
#endif

#define DEFAULT_USER_AGENT   "envgate/" EG_VERSION
#define DEFAULT_CONNECT_MS   2000u
#define DEFAULT_TIMEOUT_MS   10000u
#define DEFAULT_MAX_RESPONSE ((size_t)8 << 20)
#define DEFAULT_POOL_SIZE    64u
#define DEFAULT_CONNECTIONS  16u
#define BASE_URL_MAX         512
#define USER_AGENT_MAX       256
#define TIMEOUT_MAX_MS       600000u
#define MAX_RESPONSE_MAX     ((size_t)1 << 30)
#define POOL_SIZE_MAX        1024u
#define CONNECTIONS_MAX      4096u
_Static_assert(EG_GH_TOKEN_MAX == 8192, "update the token error message");
/* Idle easy handles kept per idle lane. */
#define EASY_PER_LANE 4u
/* First body allocation; it doubles up to max_response + 1. */
#define BODY_CHUNK ((size_t)16 << 10)

struct eg_gh_client_s {
  char *base_url; /* no trailing '/' */
  char *user_agent;
  char *ca_file;
  bool tls;              /* https base URL (else http to a loopback host) */
  const char *protocols; /* "https" or "http": the only scheme allowed */
  long connect_timeout_ms;
  long timeout_ms;
  size_t max_response;
  long max_connections; /* per lane */
  CURLSH *share;        /* DNS and TLS sessions, never connections */
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
  bool share_locks_ready;
  pthread_mutex_t pool_lock; /* guards both pools */
  bool pool_lock_ready;
  CURLM **lanes; /* idle lanes (a stack), lanes_n of lanes_cap used */
  unsigned lanes_n, lanes_cap;
  CURL **easies; /* idle easy handles (a stack) */
  unsigned easies_n, easies_cap;
};

/* One call in flight. */
struct xfer {
  eg_gh_client_t *cl;
  const eg_gh_call_t *call;
  eg_gh_response_t *resp;
  CURL *easy;
  struct curl_slist *hdrs;
  char *url;
  char *buf;
  size_t len;
  size_t cap;
  bool too_big;
  bool no_memory;
  bool active; /* set up and handed to curl */
  bool done;   /* curl reported the transfer finished, with rc */
  CURLcode rc;
  uint64_t t0_us;
  char curl_err[CURL_ERROR_SIZE];
};

static uint64_t now_us(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *eg_gh_net_name(eg_gh_net_t net) {
  switch (net) {
  case EG_GH_NET_NONE:
    return "none";
  case EG_GH_NET_CONNECT:
    return "connect";
  case EG_GH_NET_TIMEOUT:
    return "timeout";
  case EG_GH_NET_TLS:
    return "tls";
  case EG_GH_NET_RESET:
    return "reset";
  case EG_GH_NET_TOO_BIG:
    return "too_big";
  case EG_GH_NET_PROTOCOL:
    return "protocol";
  case EG_GH_NET_REFUSED:
    return "refused";
  case EG_GH_NET_INTERNAL:
    return "internal";
  }
  return "unknown";
}

/* ---- share locks ---- */

static void
share_lock(CURL *easy, curl_lock_data data, curl_lock_access access, void *ud) {
  eg_gh_client_t *cl = ud;

  (void)easy;
  (void)access;
  if ((unsigned)data < CURL_LOCK_DATA_LAST)
    pthread_mutex_lock(&cl->share_locks[data]);
}

static void share_unlock(CURL *easy, curl_lock_data data, void *ud) {
  eg_gh_client_t *cl = ud;

  (void)easy;
  if ((unsigned)data < CURL_LOCK_DATA_LAST)
    pthread_mutex_unlock(&cl->share_locks[data]);
}

/* ---- client ---- */

static bool is_printable(const char *s, size_t max, bool allow_space) {
  size_t n = strnlen(s, max + 1);

  if (n == 0 || n > max)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c > 0x7e || c < (allow_space ? 0x20 : 0x21))
      return false;
  }
  return true;
}

void eg_gh_client_free(eg_gh_client_t *cl) {
  if (cl == NULL)
    return;
  /* Closing a lane closes its connections; easy handles hold references
   * to the share, which goes last. */
  for (unsigned i = 0; i < cl->lanes_n; i++)
    curl_multi_cleanup(cl->lanes[i]);
  for (unsigned i = 0; i < cl->easies_n; i++)
    curl_easy_cleanup(cl->easies[i]);
  if (cl->share != NULL)
    curl_share_cleanup(cl->share);
  if (cl->share_locks_ready) {
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
      pthread_mutex_destroy(&cl->share_locks[i]);
  }
  if (cl->pool_lock_ready)
    pthread_mutex_destroy(&cl->pool_lock);
  free(cl->lanes);
  free(cl->easies);
  free(cl->ca_file);
  free(cl->user_agent);
  free(cl->base_url);
  free(cl);
}

static int check_options(const eg_gh_client_options_t *o,
                         char *errbuf,
                         size_t errbuf_len) {
  if (o->user_agent != NULL &&
      !is_printable(o->user_agent, USER_AGENT_MAX, true)) {
    eg__seterr(errbuf, errbuf_len,
               "user_agent: need 1..%d bytes of printable ASCII",
               USER_AGENT_MAX);
    return EG_EINVAL;
  }
  if (o->connect_timeout_ms > TIMEOUT_MAX_MS ||
      o->timeout_ms > TIMEOUT_MAX_MS) {
    eg__seterr(errbuf, errbuf_len, "timeouts: must be at most %u ms",
               TIMEOUT_MAX_MS);
    return EG_EINVAL;
  }
  if (o->max_response > MAX_RESPONSE_MAX) {
    eg__seterr(errbuf, errbuf_len, "max_response: must be at most %zu bytes",
               MAX_RESPONSE_MAX);
    return EG_EINVAL;
  }
  if (o->pool_size > POOL_SIZE_MAX) {
    eg__seterr(errbuf, errbuf_len, "pool_size: must be at most %u",
               POOL_SIZE_MAX);
    return EG_EINVAL;
  }
  if (o->max_connections > CONNECTIONS_MAX) {
    eg__seterr(errbuf, errbuf_len, "max_connections: must be at most %u",
               CONNECTIONS_MAX);
    return EG_EINVAL;
  }
  if (o->ca_file != NULL && access(o->ca_file, R_OK) != 0) {
    eg__seterr(errbuf, errbuf_len, "ca_file %s: not readable", o->ca_file);
    return EG_EINVAL;
  }
  return EG_OK;
}

int eg_gh_client_new(const eg_gh_client_options_t *opts,
                     eg_gh_client_t **out,
                     char *errbuf,
                     size_t errbuf_len) {
  static const eg_gh_client_options_t defaults;
  const eg_gh_client_options_t *o = opts != NULL ? opts : &defaults;
  const char *base = o->base_url != NULL ? o->base_url : EG_GH_DEFAULT_BASE_URL;
  char why[EG_ERRBUF_LEN] = "";
  eg_gh_client_t *cl;
  size_t blen;
  int rc;

  if (out == NULL)
    return EG_EINVAL;
  *out = NULL;
  blen = strnlen(base, BASE_URL_MAX + 1);
  if (blen > BASE_URL_MAX) {
    eg__seterr(errbuf, errbuf_len, "base_url: longer than %d bytes",
               BASE_URL_MAX);
    return EG_EINVAL;
  }
  rc = check_options(o, errbuf, errbuf_len);
  if (rc != EG_OK)
    return rc;

  cl = calloc(1, sizeof(*cl));
  if (cl == NULL)
    goto nomem;
  cl->base_url = strndup(base, blen);
  if (cl->base_url == NULL)
    goto nomem;
  while (blen > 0 && cl->base_url[blen - 1] == '/')
    cl->base_url[--blen] = '\0';
  if (eg_parse_base_url(cl->base_url, why, sizeof(why)) != EG_OK) {
    /* The URL itself is not echoed: it could hold user info. */
    eg__seterr(errbuf, errbuf_len, "base_url: %s", why);
    eg_gh_client_free(cl);
    return EG_EINVAL;
  }
  cl->tls = strncmp(cl->base_url, "https://", 8) == 0;
  cl->protocols = cl->tls ? "https" : "http";
  cl->user_agent =
      strdup(o->user_agent != NULL ? o->user_agent : DEFAULT_USER_AGENT);
  if (cl->user_agent == NULL)
    goto nomem;
  if (o->ca_file != NULL) {
    cl->ca_file = strdup(o->ca_file);
    if (cl->ca_file == NULL)
      goto nomem;
  }
  cl->connect_timeout_ms =
      o->connect_timeout_ms != 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_MS;
  cl->timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
  cl->max_response =
      o->max_response != 0 ? o->max_response : DEFAULT_MAX_RESPONSE;
  cl->max_connections =
      o->max_connections != 0 ? o->max_connections : DEFAULT_CONNECTIONS;
  cl->lanes_cap = o->pool_size != 0 ? o->pool_size : DEFAULT_POOL_SIZE;
  cl->easies_cap = cl->lanes_cap * EASY_PER_LANE;
  cl->lanes = calloc(cl->lanes_cap, sizeof(*cl->lanes));
  cl->easies = calloc(cl->easies_cap, sizeof(*cl->easies));
  if (cl->lanes == NULL || cl->easies == NULL)
    goto nomem;

  if (pthread_mutex_init(&cl->pool_lock, NULL) != 0)
    goto nomem;
  cl->pool_lock_ready = true;
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) {
    if (pthread_mutex_init(&cl->share_locks[i], NULL) != 0) {
      while (i-- > 0)
        pthread_mutex_destroy(&cl->share_locks[i]);
      goto nomem;
    }
  }
  cl->share_locks_ready = true;

  cl->share = curl_share_init();
  if (cl->share == NULL)
    goto nomem;
  if (curl_share_setopt(cl->share, CURLSHOPT_LOCKFUNC, share_lock) !=
          CURLSHE_OK ||
      curl_share_setopt(cl->share, CURLSHOPT_UNLOCKFUNC, share_unlock) !=
          CURLSHE_OK ||
      curl_share_setopt(cl->share, CURLSHOPT_USERDATA, cl) != CURLSHE_OK ||
      curl_share_setopt(cl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
          CURLSHE_OK ||
      curl_share_setopt(cl->share, CURLSHOPT_SHARE,
                        CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
    eg__seterr(errbuf, errbuf_len, "libcurl: cannot share DNS and TLS caches");
    eg_gh_client_free(cl);
    return EG_EIO;
  }
  *out = cl;
  return EG_OK;

nomem:
  eg__seterr(errbuf, errbuf_len, "out of memory");
  eg_gh_client_free(cl);
  return EG_ENOMEM;
}

const char *eg_gh_client_base_url(const eg_gh_client_t *cl) {
  return cl != NULL ? cl->base_url : NULL;
}

/* ---- pools ---- */

static CURL *easy_get(eg_gh_client_t *cl) {
  CURL *easy = NULL;

  pthread_mutex_lock(&cl->pool_lock);
  if (cl->easies_n > 0)
    easy = cl->easies[--cl->easies_n];
  pthread_mutex_unlock(&cl->pool_lock);
  return easy != NULL ? easy : curl_easy_init();
}

static void easy_put(eg_gh_client_t *cl, CURL *easy) {
  bool kept = false;

  if (easy == NULL)
    return;
  /* Reset drops every option (URL, headers, body pointers) but keeps the
   * handle's internal buffers. */
  curl_easy_reset(easy);
  pthread_mutex_lock(&cl->pool_lock);
  if (cl->easies_n < cl->easies_cap) {
    cl->easies[cl->easies_n++] = easy;
    kept = true;
  }
  pthread_mutex_unlock(&cl->pool_lock);
  if (!kept)
    curl_easy_cleanup(easy);
}

static CURLM *lane_get(eg_gh_client_t *cl) {
  CURLM *multi = NULL;

  pthread_mutex_lock(&cl->pool_lock);
  if (cl->lanes_n > 0)
    multi = cl->lanes[--cl->lanes_n];
  pthread_mutex_unlock(&cl->pool_lock);
  if (multi != NULL)
    return multi;
  multi = curl_multi_init();
  if (multi == NULL)
    return NULL;
  /* Without this libcurl keeps 4 idle connections per transfer added; a
   * lane outlives its transfers. Multiplexing is libcurl's default. */
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, cl->max_connections);
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  return multi;
}

/* Returns an idle lane (no transfers attached) with its connections. */
static void lane_put(eg_gh_client_t *cl, CURLM *multi) {
  bool kept = false;

  pthread_mutex_lock(&cl->pool_lock);
  if (cl->lanes_n < cl->lanes_cap) {
    cl->lanes[cl->lanes_n++] = multi;
    kept = true;
  }
  pthread_mutex_unlock(&cl->pool_lock);
  if (!kept)
    curl_multi_cleanup(multi);
}

/* ---- callbacks ---- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
  struct xfer *x = ud;
  size_t n = size * nmemb;
  size_t max = x->cl->max_response;

  if (n > max - x->len) {
    x->too_big = true;
    return 0; /* CURLE_WRITE_ERROR */
  }
  if (x->len + n + 1 > x->cap) {
    size_t cap = x->cap != 0 ? x->cap : BODY_CHUNK;
    char *nb;

    while (cap < x->len + n + 1)
      cap *= 2;
    if (cap > max + 1)
      cap = max + 1;
    nb = realloc(x->buf, cap);
    if (nb == NULL) {
      x->no_memory = true;
      return 0;
    }
    x->buf = nb;
    x->cap = cap;
  }
  memcpy(x->buf + x->len, p, n);
  x->len += n;
  x->buf[x->len] = '\0';
  return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
  struct xfer *x = ud;
  size_t n = size * nmemb;

  eg_gh_headers_feed(&x->resp->hdr, p, n, x->cl->base_url);
  return n;
}

/* ---- one transfer ---- */

/* Overwrites the header buffers that carried the token, then frees them:
 * the list owns copies of every string we appended. */
static void free_headers(struct curl_slist *hdrs) {
  for (struct curl_slist *h = hdrs; h != NULL; h = h->next) {
    if (strncmp(h->data, "Authorization:", 14) == 0)
      explicit_bzero(h->data, strlen(h->data));
  }
  curl_slist_free_all(hdrs);
}

static void
fail_resp(eg_gh_response_t *resp, int err, eg_gh_net_t net, const char *msg) {
  resp->err = err;
  resp->net = net;
  resp->status = 0;
  snprintf(resp->errmsg, sizeof(resp->errmsg), "%s", msg);
}

static bool append(struct curl_slist **list, const char *line) {
  struct curl_slist *l = curl_slist_append(*list, line);

  if (l == NULL)
    return false;
  *list = l;
  return true;
}

/* Builds the request headers; the Authorization line is assembled in a
 * local buffer that is wiped before returning. */
static bool build_headers(struct xfer *x) {
  const eg_gh_call_t *call = x->call;
  size_t tlen = strlen(call->token);
  size_t alen = sizeof("Authorization: Bearer ") + tlen;
  char *auth = malloc(alen);
  bool ok;

  if (auth == NULL)
    return false;
  memcpy(auth, "Authorization: Bearer ", 22);
  memcpy(auth + 22, call->token, tlen + 1);
  ok = append(&x->hdrs, "Accept: application/vnd.github+json") &&
       append(&x->hdrs, "X-GitHub-Api-Version: 2022-11-28") &&
       append(&x->hdrs, auth);
  explicit_bzero(auth, alen);
  free(auth);
  if (ok && call->method == EG_GH_POST) {
    /* No "Expect: 100-continue" round trip for bodies over 1 KiB, and no
     * form Content-Type from libcurl: ours, or none without a body. */
    ok = append(&x->hdrs, "Expect:") &&
         append(&x->hdrs, call->body != NULL ? "Content-Type: application/json"
                                             : "Content-Type:");
  }
  return ok;
}

static CURLcode set_options(struct xfer *x) {
  eg_gh_client_t *cl = x->cl;
  const eg_gh_call_t *call = x->call;
  CURL *e = x->easy;
  long timeout =
      call->timeout_ms != 0 ? (long)call->timeout_ms : cl->timeout_ms;
  CURLcode rc;

  /* Options that carry our guarantees: any failure aborts the call. */
  rc = curl_easy_setopt(e, CURLOPT_URL, x->url);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, cl->protocols);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_SHARE, cl->share);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_USERAGENT, cl->user_agent);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cl->connect_timeout_ms);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                          (curl_off_t)cl->max_response);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  if (rc == CURLE_OK && cl->ca_file != NULL)
    rc = curl_easy_setopt(e, CURLOPT_CAINFO, cl->ca_file);
  if (rc == CURLE_OK && call->method == EG_GH_POST) {
    const char *body = call->body != NULL ? call->body : "";
    size_t len = call->body == NULL   ? 0
                 : call->body_len > 0 ? call->body_len
                                      : strlen(call->body);

    rc = curl_easy_setopt(e, CURLOPT_POST, 1L);
    if (rc == CURLE_OK)
      rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (rc == CURLE_OK)
      rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  } else if (rc == CURLE_OK) {
    rc = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
  if (rc != CURLE_OK)
    return rc;
  /* Performance options: a libcurl without HTTP/2 or keepalive tuning still
   * works, so their failures are ignored. HTTP/2 is negotiated over TLS
   * only; PIPEWAIT lets concurrent calls of one multi wait for the TLS
   * handshake (ALPN) to learn whether they can share one connection. Over
   * plain http libcurl would wait for a whole first answer instead, so it
   * is off there. */
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  if (cl->tls)
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  return CURLE_OK;
}

/* Checks the call and prepares x; on failure resp says why and x holds
 * nothing. Never puts the token or an unchecked path in errmsg. */
static int xfer_setup(struct xfer *x,
                      eg_gh_client_t *cl,
                      const eg_gh_call_t *call,
                      eg_gh_response_t *resp) {
  size_t blen, plen;

  memset(x, 0, sizeof(*x));
  memset(resp, 0, sizeof(*resp));
  x->cl = cl;
  x->call = call;
  x->resp = resp;
  x->t0_us = now_us();
  if (call->method != EG_GH_GET && call->method != EG_GH_POST) {
    fail_resp(resp, EG_EINVAL, EG_GH_NET_REFUSED,
              "method: must be GET or POST");
    return EG_EINVAL;
  }
  if (!eg_gh_path_is_valid(call->path)) {
    fail_resp(resp, EG_EINVAL, EG_GH_NET_REFUSED,
              "path: must be a path+query starting with one '/', without "
              "scheme, host, '#' or dot segments");
    return EG_EINVAL;
  }
  if (call->token == NULL ||
      !is_printable(call->token, EG_GH_TOKEN_MAX, false)) {
    fail_resp(resp, EG_EINVAL, EG_GH_NET_REFUSED,
              "token: need 1..8192 bytes of printable ASCII without spaces");
    return EG_EINVAL;
  }
  blen = strlen(cl->base_url);
  plen = strlen(call->path);
  x->url = malloc(blen + plen + 1);
  if (x->url == NULL)
    goto nomem;
  memcpy(x->url, cl->base_url, blen);
  memcpy(x->url + blen, call->path, plen + 1);
  if (!build_headers(x))
    goto nomem;
  x->easy = easy_get(cl);
  if (x->easy == NULL)
    goto nomem;
  if (set_options(x) != CURLE_OK) {
    easy_put(cl, x->easy);
    free_headers(x->hdrs);
    free(x->url);
    x->easy = NULL;
    x->hdrs = NULL;
    x->url = NULL;
    fail_resp(resp, EG_EIO, EG_GH_NET_INTERNAL, "");
    eg__seterr(resp->errmsg, sizeof(resp->errmsg),
               "%s %.120s: libcurl setup failed",
               call->method == EG_GH_POST ? "POST" : "GET", call->path);
    return EG_EIO;
  }
  x->active = true;
  return EG_OK;

nomem:
  free_headers(x->hdrs);
  free(x->url);
  x->hdrs = NULL;
  x->url = NULL;
  fail_resp(resp, EG_ENOMEM, EG_GH_NET_INTERNAL, "out of memory");
  return EG_ENOMEM;
}

static eg_gh_net_t classify_curl(const struct xfer *x, CURLcode rc) {
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT:
    return EG_GH_NET_TIMEOUT;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
    return EG_GH_NET_CONNECT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_USE_SSL_FAILED:
    return EG_GH_NET_TLS;
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_HTTP3:
    return EG_GH_NET_RESET;
  case CURLE_FILESIZE_EXCEEDED:
    return EG_GH_NET_TOO_BIG;
  case CURLE_WRITE_ERROR:
    if (x->too_big)
      return EG_GH_NET_TOO_BIG;
    return EG_GH_NET_INTERNAL;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_TOO_MANY_REDIRECTS:
    return EG_GH_NET_PROTOCOL;
  default:
    return EG_GH_NET_INTERNAL;
  }
}

static int net_err(eg_gh_net_t net, bool no_memory) {
  switch (net) {
  case EG_GH_NET_NONE:
    return EG_OK;
  case EG_GH_NET_TIMEOUT:
    return EG_ETIMEDOUT;
  case EG_GH_NET_TOO_BIG:
    return EG_ETOOBIG;
  case EG_GH_NET_REFUSED:
    return EG_EINVAL;
  case EG_GH_NET_INTERNAL:
    return no_memory ? EG_ENOMEM : EG_EIO;
  default:
    return EG_EUNAVAIL;
  }
}

/* Fills x->resp from the finished transfer and releases x. */
static void xfer_finish(struct xfer *x, CURLcode rc) {
  eg_gh_response_t *resp = x->resp;
  long status = 0;
  long conns = 0;

  curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &conns);
  resp->new_connections = conns > 0 ? (unsigned)conns : 0;
  if (rc == CURLE_OK)
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  eg_gh_headers_finish(&resp->hdr, (int64_t)time(NULL));
  if (rc == CURLE_OK && status >= 100 && status <= 999) {
    if (x->buf == NULL) {
      x->buf = calloc(1, 1);
      x->no_memory = x->buf == NULL;
    }
    if (!x->no_memory) {
      resp->err = EG_OK;
      resp->net = EG_GH_NET_NONE;
      resp->status = (int)status;
      resp->body = x->buf;
      resp->body_len = x->len;
      x->buf = NULL;
    } else {
      fail_resp(resp, EG_ENOMEM, EG_GH_NET_INTERNAL, "out of memory");
    }
  } else {
    eg_gh_net_t net = rc == CURLE_OK ? EG_GH_NET_PROTOCOL
                      : x->no_memory ? EG_GH_NET_INTERNAL
                                     : classify_curl(x, rc);
    const char *detail = x->curl_err[0] != '\0' ? x->curl_err
                         : rc == CURLE_OK       ? "no HTTP status"
                                                : curl_easy_strerror(rc);

    if (net == EG_GH_NET_TOO_BIG)
      detail = "response body over the size limit";
    fail_resp(resp, net_err(net, x->no_memory), net, "");
    /* The path was checked and carries ids only; curl's messages name
     * hosts and ports, never request headers. */
    eg__seterr(resp->errmsg, sizeof(resp->errmsg), "%s %.120s: %s: %s",
               x->call->method == EG_GH_POST ? "POST" : "GET", x->call->path,
               eg_gh_net_name(net), detail);
  }
  resp->elapsed_us = now_us() - x->t0_us;
  easy_put(x->cl, x->easy);
  free_headers(x->hdrs);
  free(x->url);
  free(x->buf);
  x->easy = NULL;
  x->hdrs = NULL;
  x->url = NULL;
  x->buf = NULL;
  x->active = false;
}

/* Runs n calls in one lane from the calling thread; each response gets
 * its own outcome. */
static void run(eg_gh_client_t *cl,
                const eg_gh_call_t *calls,
                size_t n,
                eg_gh_response_t *resps) {
  struct xfer *xs = calloc(n, sizeof(*xs));
  CURLM *multi = lane_get(cl);
  int running = 0;

  if (xs == NULL || multi == NULL) {
    for (size_t i = 0; i < n; i++) {
      memset(&resps[i], 0, sizeof(resps[i]));
      fail_resp(&resps[i], EG_ENOMEM, EG_GH_NET_INTERNAL, "out of memory");
    }
    free(xs);
    if (multi != NULL)
      lane_put(cl, multi);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (xfer_setup(&xs[i], cl, &calls[i], &resps[i]) != EG_OK)
      continue;
    if (curl_multi_add_handle(multi, xs[i].easy) != CURLM_OK)
      xfer_finish(&xs[i], CURLE_OUT_OF_MEMORY);
  }
  /* Every easy handle carries its own timeout, so the loop ends. */
  for (;;) {
    int left;
    CURLMcode mc = curl_multi_perform(multi, &running);

    for (CURLMsg *msg = curl_multi_info_read(multi, &left); msg != NULL;
         msg = curl_multi_info_read(multi, &left)) {
      char *priv = NULL;

      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      if (priv != NULL) {
        struct xfer *x = (struct xfer *)priv;
        x->rc = msg->data.result;
        x->done = true;
      }
    }
    if (mc != CURLM_OK || running == 0)
      break;
    if (curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
      break;
  }
  for (size_t i = 0; i < n; i++) {
    if (!xs[i].active)
      continue;
    curl_multi_remove_handle(multi, xs[i].easy);
    /* A transfer curl never finished (the multi failed) counts as an
     * internal failure. */
    xfer_finish(&xs[i], xs[i].done ? xs[i].rc : CURLE_FAILED_INIT);
  }
  lane_put(cl, multi);
  free(xs);
}

int eg_gh_request(eg_gh_client_t *cl,
                  const eg_gh_call_t *call,
                  eg_gh_response_t *resp,
                  char *errbuf,
                  size_t errbuf_len) {
  if (cl == NULL || resp == NULL) {
    eg__seterr(errbuf, errbuf_len, "client and response are required");
    return EG_EINVAL;
  }
  if (call == NULL) {
    memset(resp, 0, sizeof(*resp));
    fail_resp(resp, EG_EINVAL, EG_GH_NET_REFUSED, "call: missing");
  } else {
    run(cl, call, 1, resp);
  }
  if (resp->err != EG_OK)
    eg__seterr(errbuf, errbuf_len, "%s", resp->errmsg);
  return resp->err;
}

int eg_gh_request_many(eg_gh_client_t *cl,
                       const eg_gh_call_t *calls,
                       size_t n,
                       eg_gh_response_t *resps) {
  if (cl == NULL || calls == NULL || resps == NULL || n == 0 ||
      n > EG_GH_MANY_MAX)
    return EG_EINVAL;
  run(cl, calls, n, resps);
  for (size_t i = 0; i < n; i++) {
    if (resps[i].err != EG_OK)
      return resps[i].err;
  }
  return EG_OK;
}

void eg_gh_response_cleanup(eg_gh_response_t *resp) {
  if (resp == NULL)
    return;
  free(resp->body);
  memset(resp, 0, sizeof(*resp));
}

/* libmicrohttpd wrapper: epoll with a thread pool, whole-body reads within a
 * limit, and answers that may come later from any thread (the connection is
 * suspended meanwhile so no server thread waits). */
#include "eg/http_server.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "internal.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUTES  32
#define MAX_HEADERS 16

struct route {
  char *method; /* NULL: any */
  char *path;
  eg_http_handler_fn fn;
  void *ud;
};

enum req_state {
  REQ_READING,   /* body still arriving */
  REQ_HANDLING,  /* handler running, no answer yet */
  REQ_SUSPENDED, /* waiting for eg_http_respond() from elsewhere */
  REQ_ANSWERED,  /* answer stored, not yet queued */
  REQ_QUEUED     /* answer queued to MHD */
};

struct eg_http_req_s {
  eg_http_server_t *srv;
  struct MHD_Connection *conn;
  const struct route *route;
  char *method;
  char *path;
  char *body;
  size_t body_len;
  size_t body_cap;
  bool too_big;
  uint64_t dropped; /* body bytes read past the limit */
  uint64_t start_ns;
  pthread_mutex_t lock;
  enum req_state state;
  struct MHD_Response *answer;
  int answer_status;
  char *hdr_names[MAX_HEADERS];
  char *hdr_values[MAX_HEADERS];
  size_t nhdrs;
  struct eg_http_req_s *prev, *next; /* server's list of unanswered */
};

struct eg_http_server_s {
  struct MHD_Daemon *daemon;
  struct sockaddr_storage addr;
  eg_http_options_t opts;
  struct route routes[MAX_ROUTES];
  size_t nroutes;
  uint16_t port;
  atomic_uint inflight;
  pthread_mutex_t list_lock;
  eg_http_req_t *pending; /* unanswered requests */
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int eg_http_server_new(const char *listen,
                       const eg_http_options_t *opts,
                       eg_http_server_t **out,
                       char *errbuf,
                       size_t errbuf_len) {
  eg_http_server_t *srv;
  char host[256];
  uint16_t port;
  struct sockaddr_in *a4;
  struct sockaddr_in6 *a6;

  if (out == NULL)
    return EG_EINVAL;
  *out = NULL;
  if (listen == NULL) {
    eg__seterr(errbuf, errbuf_len, "listen address missing");
    return EG_EINVAL;
  }
  if (eg_parse_listen(listen, host, sizeof(host), &port) != EG_OK) {
    eg__seterr(errbuf, errbuf_len, "%s: must be host:port", listen);
    return EG_EINVAL;
  }
  srv = calloc(1, sizeof(*srv));
  if (srv == NULL)
    return EG_ENOMEM;
  a4 = (struct sockaddr_in *)&srv->addr;
  a6 = (struct sockaddr_in6 *)&srv->addr;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
  } else if (strcmp(host, "localhost") == 0) {
    a4->sin_family = AF_INET;
    a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a4->sin_port = htons(port);
  } else {
    eg__seterr(errbuf, errbuf_len, "%s: host must be an IP address", listen);
    free(srv);
    return EG_EINVAL;
  }
  if (opts != NULL)
    srv->opts = *opts;
  if (srv->opts.threads == 0)
    srv->opts.threads = 2;
  if (srv->opts.connection_limit == 0)
    srv->opts.connection_limit = 1024;
  if (srv->opts.timeout_s == 0)
    srv->opts.timeout_s = 10;
  if (srv->opts.max_body == 0)
    srv->opts.max_body = 1024 * 1024;
  pthread_mutex_init(&srv->list_lock, NULL);
  atomic_init(&srv->inflight, 0);
  *out = srv;
  return EG_OK;
}

int eg_http_server_route(eg_http_server_t *srv,
                         const char *method,
                         const char *path,
                         eg_http_handler_fn fn,
                         void *ud) {
  struct route *r;

  if (srv == NULL || path == NULL || fn == NULL || srv->daemon != NULL)
    return EG_EINVAL;
  if (srv->nroutes == MAX_ROUTES)
    return EG_ERANGE;
  r = &srv->routes[srv->nroutes];
  r->method = method != NULL ? strdup(method) : NULL;
  r->path = strdup(path);
  if ((method != NULL && r->method == NULL) || r->path == NULL) {
    free(r->method);
    free(r->path);
    return EG_ENOMEM;
  }
  r->fn = fn;
  r->ud = ud;
  srv->nroutes++;
  return EG_OK;
}

static struct MHD_Response *
make_response(const char *content_type, const char *body, size_t len) {
  struct MHD_Response *resp;

  resp = MHD_create_response_from_buffer(len, (void *)(body ? body : ""),
                                         MHD_RESPMEM_MUST_COPY);
  if (resp == NULL)
    return NULL;
  if (content_type != NULL)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  return resp;
}

static void list_remove(eg_http_server_t *srv, eg_http_req_t *req) {
  pthread_mutex_lock(&srv->list_lock);
  if (req->prev != NULL)
    req->prev->next = req->next;
  else if (srv->pending == req)
    srv->pending = req->next;
  if (req->next != NULL)
    req->next->prev = req->prev;
  req->prev = req->next = NULL;
  pthread_mutex_unlock(&srv->list_lock);
}

/* Queues the stored answer on the server thread that owns the connection. */
static enum MHD_Result queue_answer(eg_http_req_t *req) {
  enum MHD_Result rc;

  if (req->answer == NULL)
    return MHD_NO; /* out of memory earlier: close the connection */
  rc = MHD_queue_response(req->conn, (unsigned)req->answer_status, req->answer);
  MHD_destroy_response(req->answer);
  req->answer = NULL;
  req->state = REQ_QUEUED;
  return rc;
}

static void free_req(eg_http_req_t *req) {
  if (req == NULL)
    return;
  for (size_t i = 0; i < req->nhdrs; i++) {
    free(req->hdr_names[i]);
    free(req->hdr_values[i]);
  }
  if (req->answer != NULL)
    MHD_destroy_response(req->answer);
  pthread_mutex_destroy(&req->lock);
  free(req->method);
  free(req->path);
  free(req->body);
  free(req);
}

static const struct route *find_route(eg_http_server_t *srv,
                                      const char *method,
                                      const char *path,
                                      bool *path_known) {
  *path_known = false;
  for (size_t i = 0; i < srv->nroutes; i++) {
    const struct route *r = &srv->routes[i];
    size_t plen = strlen(r->path);
    /* A route ending in '*' matches every path with that prefix. */
    if (plen > 0 && r->path[plen - 1] == '*') {
      if (strncmp(r->path, path, plen - 1) != 0)
        continue;
    } else if (strcmp(r->path, path) != 0) {
      continue;
    }
    *path_known = true;
    if (r->method == NULL || strcmp(r->method, method) == 0)
      return r;
  }
  return NULL;
}

/* Answers on the server thread, during the access callback. */
static enum MHD_Result answer_now(eg_http_req_t *req,
                                  int status,
                                  const char *code,
                                  const char *error) {
  eg_http_respond_error(req, status, code, error);
  return queue_answer(req);
}

static enum MHD_Result on_request(void *cls,
                                  struct MHD_Connection *conn,
                                  const char *url,
                                  const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size,
                                  void **con_cls) {
  eg_http_server_t *srv = cls;
  eg_http_req_t *req = *con_cls;
  enum MHD_Result rc;

  (void)version;
  if (req == NULL) {
    bool known;
    const char *clen;

    req = calloc(1, sizeof(*req));
    if (req == NULL)
      return MHD_NO;
    pthread_mutex_init(&req->lock, NULL);
    req->srv = srv;
    req->conn = conn;
    req->start_ns = now_ns();
    req->method = strdup(method);
    req->path = strdup(url);
    *con_cls = req;
    atomic_fetch_add(&srv->inflight, 1);
    pthread_mutex_lock(&srv->list_lock);
    req->next = srv->pending;
    if (srv->pending != NULL)
      srv->pending->prev = req;
    srv->pending = req;
    pthread_mutex_unlock(&srv->list_lock);
    if (req->method == NULL || req->path == NULL)
      return MHD_NO;
    req->state = REQ_READING;
    req->route = find_route(srv, method, url, &known);
    if (req->route == NULL)
      return answer_now(req, known ? 405 : 404,
                        known ? "method_not_allowed" : "not_found",
                        known ? "method not allowed" : "no such endpoint");
    clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen != NULL) {
      uint64_t n;
      if (eg_parse_u64(clen, 0, UINT64_MAX, &n) != EG_OK)
        return answer_now(req, 400, "bad_request", "invalid Content-Length");
      if (n > srv->opts.max_body)
        return answer_now(req, 413, "payload_too_large",
                          "request body over the limit");
      /* One allocation of the announced size (a webhook is ~8.5 KB: the
       * default 8 KB start would always grow once). */
      if (n > 0) {
        req->body = malloc((size_t)n + 1);
        if (req->body == NULL)
          return MHD_NO;
        req->body_cap = (size_t)n;
      }
    }
    return MHD_YES;
  }

  if (req->state == REQ_QUEUED) {
    /* Answered early (e.g. 413): drop whatever body still arrives. */
    *upload_data_size = 0;
    return MHD_YES;
  }

  if (req->state == REQ_READING && *upload_data_size > 0) {
    size_t n = *upload_data_size;

    *upload_data_size = 0;
    if (req->too_big || n > srv->opts.max_body - req->body_len) {
      /* MHD can only answer once the upload is complete, so the rest is
       * read and dropped; a client that goes on far past the limit is cut
       * off instead. */
      req->too_big = true;
      req->dropped += n;
      if (req->dropped > 4 * (uint64_t)srv->opts.max_body)
        return MHD_NO;
      return MHD_YES;
    }
    if (req->body_len + n > req->body_cap) {
      size_t cap = req->body_cap == 0 ? 8192 : req->body_cap;
      char *nb;
      while (cap < req->body_len + n)
        cap *= 2;
      if (cap > srv->opts.max_body)
        cap = srv->opts.max_body;
      nb = realloc(req->body, cap + 1);
      if (nb == NULL)
        return MHD_NO;
      req->body = nb;
      req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, upload_data, n);
    req->body_len += n;
    return MHD_YES;
  }

  if (req->state == REQ_READING && req->too_big)
    return answer_now(req, 413, "payload_too_large",
                      "request body over the limit");

  if (req->state == REQ_READING) {
    /* The whole body is here: NUL-terminate it for convenience. */
    if (req->body == NULL) {
      req->body = malloc(1);
      if (req->body == NULL)
        return MHD_NO;
    }
    req->body[req->body_len] = '\0';
    req->state = REQ_HANDLING;
    req->route->fn(req, req->route->ud);
    pthread_mutex_lock(&req->lock);
    if (req->state == REQ_ANSWERED) {
      rc = queue_answer(req);
      pthread_mutex_unlock(&req->lock);
      return rc;
    }
    /* No answer yet: park the connection until eg_http_respond(). */
    req->state = REQ_SUSPENDED;
    MHD_suspend_connection(conn);
    pthread_mutex_unlock(&req->lock);
    return MHD_YES;
  }

  /* Resumed after a deferred answer. */
  pthread_mutex_lock(&req->lock);
  if (req->state == REQ_ANSWERED) {
    rc = queue_answer(req);
    pthread_mutex_unlock(&req->lock);
    return rc;
  }
  pthread_mutex_unlock(&req->lock);
  return MHD_YES;
}

static void on_completed(void *cls,
                         struct MHD_Connection *conn,
                         void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  eg_http_server_t *srv = cls;
  eg_http_req_t *req = *con_cls;

  (void)conn;
  (void)toe;
  if (req == NULL)
    return;
  list_remove(srv, req);
  atomic_fetch_sub(&srv->inflight, 1);
  free_req(req);
  *con_cls = NULL;
}

int eg_http_server_start(eg_http_server_t *srv,
                         char *errbuf,
                         size_t errbuf_len) {
  const union MHD_DaemonInfo *info;
  unsigned flags =
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;

  if (srv == NULL || srv->daemon != NULL)
    return EG_EINVAL;
  if (srv->addr.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  srv->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&srv->addr, MHD_OPTION_THREAD_POOL_SIZE,
      srv->opts.threads, MHD_OPTION_CONNECTION_LIMIT,
      srv->opts.connection_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      srv->opts.per_ip_limit, MHD_OPTION_CONNECTION_TIMEOUT,
      srv->opts.timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, MHD_OPTION_END);
  if (srv->daemon == NULL) {
    eg__seterr(errbuf, errbuf_len,
               "cannot listen (address in use or not permitted)");
    return EG_EIO;
  }
  info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  srv->port = info != NULL ? info->port : 0;
  return EG_OK;
}

uint16_t eg_http_server_port(const eg_http_server_t *srv) {
  return srv != NULL ? srv->port : 0;
}

unsigned eg_http_server_inflight(const eg_http_server_t *srv) {
  return srv != NULL ? atomic_load(&srv->inflight) : 0;
}

unsigned eg_http_server_quiesce(eg_http_server_t *srv, unsigned timeout_ms) {
  uint64_t deadline;
  MHD_socket fd;

  if (srv == NULL || srv->daemon == NULL)
    return 0;
  fd = MHD_quiesce_daemon(srv->daemon);
  if (fd != MHD_INVALID_SOCKET)
    close(fd);
  deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
  while (atomic_load(&srv->inflight) > 0 && now_ns() < deadline) {
    struct timespec ts = {0, 5 * 1000000};
    nanosleep(&ts, NULL);
  }
  return atomic_load(&srv->inflight);
}

void eg_http_server_free(eg_http_server_t *srv) {
  if (srv == NULL)
    return;
  if (srv->daemon != NULL) {
    /* MHD must not be stopped with suspended connections: answer any that
     * are left with 503 and give MHD a moment to send and close them. */
    for (int tries = 0; tries < 200; tries++) {
      eg_http_req_t *left = NULL;

      pthread_mutex_lock(&srv->list_lock);
      for (eg_http_req_t *r = srv->pending; r != NULL; r = r->next) {
        pthread_mutex_lock(&r->lock);
        if (r->state == REQ_SUSPENDED)
          left = r;
        pthread_mutex_unlock(&r->lock);
        if (left != NULL)
          break;
      }
      if (left != NULL)
        eg_http_respond_error(left, 503, "shutting_down",
                              "server is shutting down");
      pthread_mutex_unlock(&srv->list_lock);
      if (left == NULL && atomic_load(&srv->inflight) == 0)
        break;
      if (left == NULL) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
      }
    }
    MHD_stop_daemon(srv->daemon);
  }
  for (size_t i = 0; i < srv->nroutes; i++) {
    free(srv->routes[i].method);
    free(srv->routes[i].path);
  }
  pthread_mutex_destroy(&srv->list_lock);
  free(srv);
}

const char *eg_http_req_method(const eg_http_req_t *req) {
  return req != NULL ? req->method : NULL;
}

const char *eg_http_req_path(const eg_http_req_t *req) {
  return req != NULL ? req->path : NULL;
}

const char *eg_http_req_header(const eg_http_req_t *req, const char *name) {
  if (req == NULL || name == NULL)
    return NULL;
  return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *eg_http_req_query(const eg_http_req_t *req, const char *name) {
  if (req == NULL || name == NULL)
    return NULL;
  return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *eg_http_req_body(const eg_http_req_t *req, size_t *len) {
  if (req == NULL) {
    if (len != NULL)
      *len = 0;
    return NULL;
  }
  if (len != NULL)
    *len = req->body_len;
  return req->body != NULL ? req->body : "";
}

uint64_t eg_http_req_start_ns(const eg_http_req_t *req) {
  return req != NULL ? req->start_ns : 0;
}

int eg_http_req_add_header(eg_http_req_t *req,
                           const char *name,
                           const char *value) {
  if (req == NULL || name == NULL || value == NULL)
    return EG_EINVAL;
  if (req->nhdrs == MAX_HEADERS)
    return EG_ERANGE;
  req->hdr_names[req->nhdrs] = strdup(name);
  req->hdr_values[req->nhdrs] = strdup(value);
  if (req->hdr_names[req->nhdrs] == NULL ||
      req->hdr_values[req->nhdrs] == NULL) {
    free(req->hdr_names[req->nhdrs]);
    free(req->hdr_values[req->nhdrs]);
    return EG_ENOMEM;
  }
  req->nhdrs++;
  return EG_OK;
}

int eg_http_respond(eg_http_req_t *req,
                    int status,
                    const char *content_type,
                    const char *body,
                    size_t len) {
  struct MHD_Response *resp;
  struct MHD_Connection *conn;
  bool resume;

  if (req == NULL)
    return EG_EINVAL;
  resp = make_response(content_type, body, len);
  for (size_t i = 0; resp != NULL && i < req->nhdrs; i++)
    MHD_add_response_header(resp, req->hdr_names[i], req->hdr_values[i]);
  pthread_mutex_lock(&req->lock);
  if (req->state == REQ_ANSWERED || req->state == REQ_QUEUED) {
    /* A second answer is a caller bug; keep the first. */
    pthread_mutex_unlock(&req->lock);
    if (resp != NULL)
      MHD_destroy_response(resp);
    return EG_EEXIST;
  }
  if (req->srv->opts.on_answer != NULL)
    req->srv->opts.on_answer(status, now_ns() - req->start_ns,
                             req->srv->opts.on_answer_ud);
  req->answer = resp;
  req->answer_status = status;
  resume = req->state == REQ_SUSPENDED;
  req->state = REQ_ANSWERED;
  conn = req->conn;
  pthread_mutex_unlock(&req->lock);
  /* Resume only after unlocking: once resumed, a server thread may send
   * the answer and free req (and its lock) at any moment. While suspended
   * the connection cannot complete, so req is still alive until here. */
  if (resume)
    MHD_resume_connection(conn);
  return resp != NULL ? EG_OK : EG_ENOMEM;
}

int eg_http_req_abort(eg_http_req_t *req) {
  const union MHD_ConnectionInfo *ci;
  struct MHD_Connection *conn;
  bool resume;

  if (req == NULL)
    return EG_EINVAL;
  pthread_mutex_lock(&req->lock);
  if (req->state == REQ_ANSWERED || req->state == REQ_QUEUED) {
    pthread_mutex_unlock(&req->lock);
    return EG_EEXIST;
  }
  /* Linger 0 makes the close send an RST, as a dropped connection would. */
  ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (ci != NULL) {
    struct linger lg = {1, 0};
    setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  /* No stored answer: queue_answer() then tells MHD to close. */
  req->answer = NULL;
  resume = req->state == REQ_SUSPENDED;
  req->state = REQ_ANSWERED;
  conn = req->conn;
  pthread_mutex_unlock(&req->lock);
  if (resume)
    MHD_resume_connection(conn); /* as in eg_http_respond: after unlock */
  return EG_OK;
}

/* Copies s into out as JSON string content, escaping what JSON requires. */
static size_t json_escape(char *out, size_t cap, const char *s) {
  size_t n = 0;

  for (; *s != '\0' && n + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[n++] = '\\';
      out[n++] = (char)c;
    } else if (c < 0x20) {
      n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
    } else {
      out[n++] = (char)c;
    }
  }
  out[n] = '\0';
  return n;
}

int eg_http_respond_error(eg_http_req_t *req,
                          int status,
                          const char *code,
                          const char *error) {
  char ecode[128], emsg[512], body[700];
  int n;

  if (req == NULL || code == NULL || error == NULL)
    return EG_EINVAL;
  json_escape(ecode, sizeof(ecode), code);
  json_escape(emsg, sizeof(emsg), error);
  n = snprintf(body, sizeof(body), "{\"code\":\"%s\",\"error\":\"%s\"}", ecode,
               emsg);
  eg_http_req_add_header(req, "Cache-Control", "no-store");
  eg_http_req_add_header(req, "X-Content-Type-Options", "nosniff");
  return eg_http_respond(req, status, "application/json; charset=utf-8", body,
                         (size_t)n);
}

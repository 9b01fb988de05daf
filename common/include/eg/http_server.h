/* A thin HTTP server over libmicrohttpd, shared by the ingress, the worker's
 * metrics endpoint and the development tools. It reads the whole request body
 * (within a limit), calls the route's handler, and lets the handler answer at
 * once or later from any thread: the connection is suspended meanwhile, so no
 * server thread blocks while, say, Kafka acknowledges an event. */
#ifndef EG_HTTP_SERVER_H
#define EG_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct eg_http_server_s eg_http_server_t;
typedef struct eg_http_req_s eg_http_req_t;

/* Called once the whole body has arrived. It must call eg_http_respond()
 * exactly once for req, either before returning or later from any thread.
 * req stays valid until then. Runs on a server thread: don't block. */
typedef void (*eg_http_handler_fn)(eg_http_req_t *req, void *ud);

typedef struct eg_http_options_s {
  unsigned threads;          /* server threads (epoll, thread pool); 0 = 2 */
  unsigned connection_limit; /* 0 = 1024 */
  unsigned per_ip_limit;     /* concurrent connections per client; 0 = off */
  unsigned timeout_s;        /* idle connection timeout; 0 = 10 */
  size_t max_body;           /* larger bodies get 413; 0 = 1 MiB */
  /* Called with every answer's status and the time since the request's
   * headers arrived, from the answering thread (metrics). May be NULL. */
  void (*on_answer)(int status, uint64_t elapsed_ns, void *ud);
  void *on_answer_ud;
} eg_http_options_t;

/* Creates a server that will listen on "host:port" (port 0 picks a free one,
 * see eg_http_server_port()). Routes are added before eg_http_server_start().
 * @returns EG_OK, EG_EINVAL (bad address), EG_ENOMEM. Free with
 * eg_http_server_free(). */
int eg_http_server_new(const char *listen,
                       const eg_http_options_t *opts,
                       eg_http_server_t **out,
                       char *errbuf,
                       size_t errbuf_len);

/* Routes method+path (exact match, query ignored) to fn. A path whose
 * last character is an asterisk matches every path that starts with the
 * text before it, e.g. "/api/" plus the asterisk. Routes are tried in the
 * order added. method NULL matches any method. Unknown paths answer 404,
 * known paths with another method 405. At most 32 routes.
 * @returns EG_OK, EG_EINVAL, EG_ERANGE. */
int eg_http_server_route(eg_http_server_t *srv,
                         const char *method,
                         const char *path,
                         eg_http_handler_fn fn,
                         void *ud);

/* Binds and starts serving. @returns EG_OK or EG_EIO (errbuf says why). */
int eg_http_server_start(eg_http_server_t *srv,
                         char *errbuf,
                         size_t errbuf_len);

/* The bound port (useful when started with port 0); 0 before start. */
uint16_t eg_http_server_port(const eg_http_server_t *srv);

/* Stops accepting new connections; requests already received still get
 * their answers. Waits up to timeout_ms for in-flight requests to be
 * answered. @returns the number of requests still unanswered (0 = clean). */
unsigned eg_http_server_quiesce(eg_http_server_t *srv, unsigned timeout_ms);

/* Requests received but not yet answered. */
unsigned eg_http_server_inflight(const eg_http_server_t *srv);

/* Stops the server and frees it. Requests still unanswered are dropped
 * (their connections closed). NULL is a no-op. */
void eg_http_server_free(eg_http_server_t *srv);

/* Request accessors: borrowed pointers, valid until eg_http_respond(). */
const char *eg_http_req_method(const eg_http_req_t *req);
const char *eg_http_req_path(const eg_http_req_t *req);
/* Header value by name (case-insensitive), or NULL. */
const char *eg_http_req_header(const eg_http_req_t *req, const char *name);
/* Query argument value, or NULL. */
const char *eg_http_req_query(const eg_http_req_t *req, const char *name);
const char *eg_http_req_body(const eg_http_req_t *req, size_t *len);
/* Nanoseconds (CLOCK_MONOTONIC) when the request's headers arrived. */
uint64_t eg_http_req_start_ns(const eg_http_req_t *req);

/* Adds a response header (both copied) to the answer being prepared; call
 * before eg_http_respond(). At most 16. @returns EG_OK, EG_ERANGE, EG_ENOMEM.
 */
int eg_http_req_add_header(eg_http_req_t *req,
                           const char *name,
                           const char *value);

/* Answers req with status and body (copied; body may be NULL when len is 0;
 * content_type NULL omits the header). Safe from any thread, exactly once per
 * request; after it returns req must not be touched.
 * @returns EG_OK, or EG_ENOMEM (the connection is then closed). */
int eg_http_respond(eg_http_req_t *req,
                    int status,
                    const char *content_type,
                    const char *body,
                    size_t len);

/* Closes req's connection without an answer (the peer sees a reset), in
 * place of eg_http_respond(): same rules, any thread, once per request.
 * For fault injection in test tools. @returns EG_OK, EG_EINVAL, EG_EEXIST
 * (already answered). */
int eg_http_req_abort(eg_http_req_t *req);

/* Answers with the contract's error body {"code":"...","error":"..."}. */
int eg_http_respond_error(eg_http_req_t *req,
                          int status,
                          const char *code,
                          const char *error);

#endif /* EG_HTTP_SERVER_H */

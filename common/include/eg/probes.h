/* The operational endpoints every long-running binary serves: GET /healthz
 * (the process is alive), GET /readyz (its dependencies answer) and
 * GET /metrics (Prometheus text). */
#ifndef EG_PROBES_H
#define EG_PROBES_H

#include <stdbool.h>
#include <stddef.h>

#include "eg/http_server.h"
#include "eg/metrics.h"

/* Tells whether the process can do its work now; on false, writes a short
 * reason (no secrets) into why. Called on a server thread: must not block. */
typedef bool (*eg_probes_ready_fn)(void *ud, char *why, size_t why_len);

/* Caller-allocated; must outlive the server it is routed on. */
typedef struct eg_probes_s {
  eg_metrics_t *metrics; /* rendered by /metrics */
  eg_probes_ready_fn ready;
  void *ready_ud;
} eg_probes_t;

/* Routes GET /healthz, /readyz and /metrics on srv (before it starts).
 * @returns EG_OK, EG_EINVAL, or what eg_http_server_route() returns. */
int eg_probes_route(eg_http_server_t *srv, eg_probes_t *probes);

#endif /* EG_PROBES_H */

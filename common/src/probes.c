/* /healthz, /readyz and /metrics handlers. */
#include "eg/probes.h"
#include "eg/error.h"

#include <stdlib.h>
#include <string.h>

static void on_healthz(eg_http_req_t *req, void *ud) {
  static const char body[] = "{\"status\":\"ok\"}";

  (void)ud;
  eg_http_respond(req, 200, "application/json", body, sizeof(body) - 1);
}

static void on_readyz(eg_http_req_t *req, void *ud) {
  static const char body[] = "{\"status\":\"ready\"}";
  eg_probes_t *probes = ud;
  char why[200] = "not ready";

  if (probes->ready == NULL ||
      probes->ready(probes->ready_ud, why, sizeof(why)))
    eg_http_respond(req, 200, "application/json", body, sizeof(body) - 1);
  else
    eg_http_respond_error(req, 503, "not_ready", why);
}

static void on_metrics(eg_http_req_t *req, void *ud) {
  eg_probes_t *probes = ud;
  char *text = NULL;
  size_t len = 0;

  if (probes->metrics == NULL ||
      eg_metrics_render(probes->metrics, &text, &len) != EG_OK) {
    eg_http_respond_error(req, 500, "metrics_failed",
                          "metrics could not be rendered");
    return;
  }
  eg_http_respond(req, 200, EG_METRICS_CONTENT_TYPE, text, len);
  free(text);
}

int eg_probes_route(eg_http_server_t *srv, eg_probes_t *probes) {
  int rc;

  if (srv == NULL || probes == NULL)
    return EG_EINVAL;
  rc = eg_http_server_route(srv, "GET", "/healthz", on_healthz, probes);
  if (rc == EG_OK)
    rc = eg_http_server_route(srv, "GET", "/readyz", on_readyz, probes);
  if (rc == EG_OK)
    rc = eg_http_server_route(srv, "GET", "/metrics", on_metrics, probes);
  return rc;
}

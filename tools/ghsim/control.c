/* The simulator's lifecycle and its control/inspection API under /_sim/:
 * health, state, tokens, faults, gates and reset. */
#include "ghsim.h"

#include "eg/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_JSON "application/json; charset=utf-8"

static void respond_json(eg_http_req_t *req, int status, json_t *v) {
  char *s =
      v != NULL ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

  if (s == NULL) {
    eg_http_respond(req, 500, CT_JSON, "{\"message\":\"out of memory\"}",
                    strlen("{\"message\":\"out of memory\"}"));
  } else {
    eg_http_respond(req, status, CT_JSON, s, strlen(s));
    free(s);
  }
  json_decref(v);
}

static void respond_msg(eg_http_req_t *req, int status, const char *msg) {
  respond_json(req, status, json_pack("{s:s}", "message", msg));
}

static int copy_deliveries(struct gs_sim *sim) {
  const struct gs_scenario *sc = sim->sc;
  struct gs_delivery *d;
  size_t cap = sc->ndeliveries < 16 ? 16 : sc->ndeliveries * 2;

  d = calloc(cap, sizeof(*d));
  if (d == NULL)
    return -1;
  sim->next_delivery_id = 1;
  for (size_t i = 0; i < sc->ndeliveries; i++) {
    const struct gs_delivery *s = &sc->deliveries[i];
    d[i] = *s;
    d[i].guid = strdup(s->guid);
    d[i].event = strdup(s->event);
    d[i].action = s->action != NULL ? strdup(s->action) : NULL;
    d[i].delivered_at = strdup(s->delivered_at);
    if (s->id >= sim->next_delivery_id)
      sim->next_delivery_id = s->id + 1;
    if (d[i].guid == NULL || d[i].event == NULL || d[i].delivered_at == NULL ||
        (s->action != NULL && d[i].action == NULL)) {
      for (size_t k = 0; k <= i; k++) {
        free(d[k].guid);
        free(d[k].event);
        free(d[k].action);
        free(d[k].delivered_at);
      }
      free(d);
      return -1;
    }
  }
  sim->deliveries = d;
  sim->ndeliveries = sc->ndeliveries;
  sim->capdeliveries = cap;
  return 0;
}

static void free_deliveries(struct gs_sim *sim) {
  for (size_t i = 0; i < sim->ndeliveries; i++) {
    free(sim->deliveries[i].guid);
    free(sim->deliveries[i].event);
    free(sim->deliveries[i].action);
    free(sim->deliveries[i].delivered_at);
  }
  free(sim->deliveries);
  sim->deliveries = NULL;
  sim->ndeliveries = sim->capdeliveries = 0;
}

int gs_sim_init(struct gs_sim *sim,
                struct gs_scenario *sc,
                uint64_t seed,
                char *err,
                size_t errlen) {
  struct gs_faults *f = NULL;

  memset(sim, 0, sizeof(*sim));
  sim->sc = sc;
  sim->seed = seed;
  sim->start_s = gs_wall_ms() / 1000;
  atomic_init(&sim->rng_counter, 0);
  atomic_init(&sim->req_counter, 0);
  atomic_init(&sim->ready, 0);
  atomic_init(&sim->stopping, 0);
  pthread_mutex_init(&sim->faults_lock, NULL);
  pthread_mutex_init(&sim->state_lock, NULL);
  if (sc->faults != NULL) {
    f = gs_faults_parse(sc->faults, err, errlen);
    if (f == NULL)
      goto fail_locks;
  }
  atomic_init(&sim->faults, f);
  if (gs_tokens_init(&sim->tokens) != 0)
    goto fail_faults;
  if (gs_records_init(&sim->rec) != 0)
    goto fail_tokens;
  if (copy_deliveries(sim) != 0)
    goto fail_rec;
  sim->timer = gs_timer_new();
  if (sim->timer == NULL)
    goto fail_deliveries;
  return 0;
fail_deliveries:
  free_deliveries(sim);
fail_rec:
  gs_records_cleanup(&sim->rec);
fail_tokens:
  gs_tokens_cleanup(&sim->tokens);
fail_faults:
  gs_faults_free(f);
  snprintf(err, errlen, "out of memory or no threads starting the simulator");
fail_locks:
  pthread_mutex_destroy(&sim->faults_lock);
  pthread_mutex_destroy(&sim->state_lock);
  return -1;
}

void gs_sim_cleanup(struct gs_sim *sim) {
  struct gs_faults *f;

  gs_timer_free(sim->timer);
  sim->timer = NULL;
  gs_faults_free(atomic_load(&sim->faults));
  f = sim->retired;
  while (f != NULL) {
    struct gs_faults *next = f->retired_next;
    gs_faults_free(f);
    f = next;
  }
  free_deliveries(sim);
  gs_records_cleanup(&sim->rec);
  gs_tokens_cleanup(&sim->tokens);
  pthread_mutex_destroy(&sim->faults_lock);
  pthread_mutex_destroy(&sim->state_lock);
}

int gs_sim_ready(struct gs_sim *sim,
                 const char *base_url,
                 char *err,
                 size_t errlen) {
  snprintf(sim->base_url, sizeof(sim->base_url), "%s", base_url);
  if (gs_render_all(sim->sc, sim->base_url, err, errlen) != 0)
    return -1;
  atomic_store(&sim->ready, 1);
  return 0;
}

void gs_sim_set_faults(struct gs_sim *sim, struct gs_faults *f) {
  struct gs_faults *old;

  /* Readers load the pointer without a lock, so an old table may still be
   * in use: keep it until exit (tables are small and changes rare). */
  pthread_mutex_lock(&sim->faults_lock);
  old = atomic_exchange(&sim->faults, f);
  if (old != NULL) {
    old->retired_next = sim->retired;
    sim->retired = old;
  }
  pthread_mutex_unlock(&sim->faults_lock);
}

void gs_sim_reset(struct gs_sim *sim) {
  struct gs_scenario *sc = sim->sc;

  pthread_mutex_lock(&sim->state_lock);
  for (size_t i = 0; i < sc->nruns; i++)
    for (size_t k = 0; k < sc->runs[i]->npending; k++)
      sc->runs[i]->pending[k].reviewed = 0;
  /* Drop redeliveries: back to the scenario's deliveries. */
  for (size_t i = sc->ndeliveries; i < sim->ndeliveries; i++) {
    free(sim->deliveries[i].guid);
    free(sim->deliveries[i].event);
    free(sim->deliveries[i].action);
    free(sim->deliveries[i].delivered_at);
  }
  sim->ndeliveries = sc->ndeliveries;
  sim->next_delivery_id = 1;
  for (size_t i = 0; i < sc->ndeliveries; i++)
    if (sc->deliveries[i].id >= sim->next_delivery_id)
      sim->next_delivery_id = sc->deliveries[i].id + 1;
  pthread_mutex_unlock(&sim->state_lock);
  gs_records_clear(&sim->rec);
  gs_timer_pending_max(sim->timer, true);
}

static json_t *state_json(struct gs_sim *sim) {
  json_t *o = json_object();
  json_t *pending = json_array();

  if (o == NULL || pending == NULL || gs_records_json(&sim->rec, o) != 0) {
    json_decref(o);
    json_decref(pending);
    return NULL;
  }
  /* Gates already decided through the review endpoint. */
  pthread_mutex_lock(&sim->state_lock);
  for (size_t i = 0; i < sim->sc->nruns; i++) {
    const struct gs_run *run = sim->sc->runs[i];
    for (size_t k = 0; k < run->npending; k++)
      if (run->pending[k].reviewed != 0)
        json_array_append_new(
            pending,
            json_pack("{s:I,s:s,s:s,s:s}", "run_id", (json_int_t)run->id,
                      "repository", run->repo->full_name, "environment",
                      run->pending[k].environment, "state",
                      run->pending[k].reviewed == 1 ? "approved" : "rejected"));
  }
  pthread_mutex_unlock(&sim->state_lock);
  json_object_set_new(o, "decided", pending);
  pthread_rwlock_rdlock(&sim->tokens.lock);
  json_object_set_new(o, "tokens_issued",
                      json_integer((json_int_t)sim->tokens.n));
  pthread_rwlock_unlock(&sim->tokens.lock);
  json_object_set_new(o, "timer_pending",
                      json_integer((json_int_t)gs_timer_pending(sim->timer)));
  json_object_set_new(
      o, "timer_pending_max",
      json_integer((json_int_t)gs_timer_pending_max(sim->timer, false)));
  return o;
}

static void post_faults(struct gs_sim *sim, eg_http_req_t *req) {
  size_t len;
  const char *body = eg_http_req_body(req, &len);
  json_error_t jerr;
  json_t *o = json_loadb(body, len, 0, &jerr);
  char err[GS_ERRBUF_LEN];
  struct gs_faults *f;

  if (o == NULL) {
    respond_msg(req, 400, "body must be a JSON object of endpoint faults");
    return;
  }
  f = gs_faults_parse(o, err, sizeof(err));
  json_decref(o);
  if (f == NULL) {
    respond_msg(req, 422, err);
    return;
  }
  gs_sim_set_faults(sim, f);
  eg_log(EG_LOG_INFO, "faults replaced");
  respond_json(req, 200, json_incref(f->src));
}

bool gs_control_handle(struct gs_sim *sim,
                       eg_http_req_t *req,
                       const char *method,
                       const char *path) {
  bool get = strcmp(method, "GET") == 0;
  bool post = strcmp(method, "POST") == 0;

  if (strcmp(path, "/_sim/healthz") == 0 && get) {
    eg_http_respond(req, 200, CT_JSON, "{\"ok\":true}", 11);
  } else if (strcmp(path, "/_sim/state") == 0 && get) {
    respond_json(req, 200, state_json(sim));
  } else if (strcmp(path, "/_sim/tokens") == 0 && get) {
    respond_json(req, 200, gs_tokens_json(&sim->tokens));
  } else if (strcmp(path, "/_sim/tokens/expire") == 0 && post) {
    gs_tokens_expire_all(&sim->tokens);
    eg_http_respond(req, 204, NULL, NULL, 0);
  } else if (strcmp(path, "/_sim/reset") == 0 && post) {
    gs_sim_reset(sim);
    eg_log(EG_LOG_INFO, "state reset");
    eg_http_respond(req, 204, NULL, NULL, 0);
  } else if (strcmp(path, "/_sim/faults") == 0 && get) {
    struct gs_faults *f;
    pthread_mutex_lock(&sim->faults_lock);
    f = atomic_load(&sim->faults);
    respond_json(req, 200, f != NULL ? json_incref(f->src) : json_object());
    pthread_mutex_unlock(&sim->faults_lock);
  } else if (strcmp(path, "/_sim/faults") == 0 && post) {
    post_faults(sim, req);
  } else if (strcmp(path, "/_sim/gates") == 0 && get) {
    eg_http_respond(req, 200, CT_JSON, sim->sc->gates_body, sim->sc->gates_len);
  } else {
    respond_msg(req, 404, "no such control endpoint");
  }
  return true;
}

/* The App endpoints, authenticated with the App JWT: installation token
 * minting and the webhook deliveries API (list, get, redeliver). */
#include "routes.h"

#include "eg/error.h"
#include "eg/log.h"
#include "eg/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gs_app_mint(struct gs_call *c) {
  struct gs_sim *sim = c->sim;
  struct gs_scenario *sc = sim->sc;
  uint64_t inst_id;
  struct gs_installation *in;
  size_t len;
  const char *body;
  json_t *o = NULL, *ids, *names, *perms, *resp = NULL, *repos;
  struct gs_token *tok = NULL;
  uint64_t *sel = NULL;
  size_t nsel = 0;
  char exp[32];
  char *out;
  char *perm_text = NULL;
  struct gs_mint_rec rec = {0};

  if (!gs_call_check_jwt(c))
    return;
  if (!gs_call_seg_u64(c, 2, &inst_id) ||
      (in = gs_map_get(&sc->by_inst, gs_hash_u64(inst_id), NULL)) == NULL) {
    gs_call_error(c, 404, "Not Found");
    return;
  }
  body = eg_http_req_body(c->req, &len);
  if (len > 0) {
    o = json_loadb(body, len, 0, NULL);
    if (!json_is_object(o)) {
      gs_call_error(c, 400, "Problems parsing JSON");
      goto out;
    }
  }
  ids = json_object_get(o, "repository_ids");
  names = json_object_get(o, "repositories");
  perms = json_object_get(o, "permissions");
  tok = calloc(1, sizeof(*tok));
  if (tok == NULL)
    goto oom;
  tok->inst = in;
  tok->perms = in->perms;
  if ((ids != NULL && !json_is_array(ids)) ||
      (names != NULL && !json_is_array(names))) {
    gs_call_error(c, 422,
                  "Invalid request.\n\n\"repository_ids\" and \"repositories\" "
                  "must be arrays.");
    goto out;
  }
  if (json_array_size(ids) + json_array_size(names) > 500) {
    gs_call_error(c, 422,
                  "Invalid request.\n\nAt most 500 repositories may be "
                  "requested.");
    goto out;
  }
  if (json_array_size(ids) + json_array_size(names) > 0) {
    size_t i;
    json_t *v;
    sel = calloc(json_array_size(ids) + json_array_size(names), sizeof(*sel));
    if (sel == NULL)
      goto oom;
    json_array_foreach(ids, i, v) {
      struct gs_repo *r =
          json_is_integer(v)
              ? gs_map_get(&sc->by_repo_id,
                           gs_hash_u64((uint64_t)json_integer_value(v)), NULL)
              : NULL;
      if (r == NULL || r->inst != in)
        goto no_repo;
      sel[nsel++] = r->id;
    }
    json_array_foreach(names, i, v) {
      struct gs_repo *r = NULL;
      for (size_t k = 0; json_is_string(v) && k < in->nrepos; k++)
        if (strcmp(in->repos[k]->name, json_string_value(v)) == 0)
          r = in->repos[k];
      if (r == NULL)
        goto no_repo;
      sel[nsel++] = r->id;
    }
    tok->repo_ids = sel;
    tok->nrepo_ids = nsel;
    sel = NULL;
  }
  if (perms != NULL) {
    struct gs_perms want;
    char err[GS_ERRBUF_LEN];
    if (gs_perms_parse(perms, &want, err, sizeof(err)) != 0) {
      gs_call_error(c, 422,
                    "The permissions requested are not granted to this "
                    "installation.");
      goto out;
    }
    for (size_t i = 0; i < want.n; i++)
      if (gs_perms_level(&in->perms, want.p[i].name) < want.p[i].level) {
        gs_call_error(c, 422,
                      "The permissions requested are not granted to this "
                      "installation.");
        goto out;
      }
    tok->perms = want;
  }
  tok->token = malloc(4 + 60 + 1);
  if (tok->token == NULL)
    goto oom;
  memcpy(tok->token, "ghs_", 4);
  if (gs_random_alnum(tok->token + 4, 60) != 0)
    goto oom;
  tok->token[64] = '\0';
  gs_sha256_hex(tok->token, tok->sha256);
  tok->created_ms = gs_wall_ms();
  atomic_init(&tok->expires_ms, tok->created_ms + sc->token_ttl_ms);
  gs_fmt_iso((tok->created_ms + sc->token_ttl_ms) / 1000, exp, sizeof(exp));
  resp = json_object();
  repos = json_array();
  if (resp == NULL || repos == NULL) {
    json_decref(repos);
    goto oom;
  }
  json_object_set_new(resp, "token", json_string(tok->token));
  json_object_set_new(resp, "expires_at", json_string(exp));
  json_object_set_new(resp, "permissions", gs_perms_json(&tok->perms));
  json_object_set_new(
      resp, "repository_selection",
      json_string(tok->repo_ids == NULL && in->all_repos ? "all" : "selected"));
  if (tok->repo_ids != NULL) {
    for (size_t i = 0; i < tok->nrepo_ids; i++)
      json_array_append(
          repos, ((struct gs_repo *)gs_map_get(
                      &sc->by_repo_id, gs_hash_u64(tok->repo_ids[i]), NULL))
                     ->json_full);
  } else if (!in->all_repos) {
    for (size_t i = 0; i < in->nrepos; i++)
      json_array_append(repos, in->repos[i]->json_full);
  }
  if (json_array_size(repos) > 0)
    json_object_set_new(resp, "repositories", repos);
  else
    json_decref(repos);
  out = json_dumps(resp, JSON_COMPACT | JSON_PRESERVE_ORDER);
  perm_text = json_dumps(json_object_get(resp, "permissions"), JSON_COMPACT);
  if (out == NULL || perm_text == NULL) {
    free(out);
    goto oom;
  }
  rec.installation_id = in->id;
  rec.repo_ids = tok->repo_ids;
  rec.nrepo_ids = tok->nrepo_ids;
  rec.permissions = perm_text;
  rec.token_sha256 = tok->sha256;
  rec.at_ms = tok->created_ms;
  if (gs_tokens_add(&sim->tokens, tok) != 0) {
    free(out);
    goto oom;
  }
  tok = NULL;
  if (gs_records_mint(&sim->rec, &rec) != 0)
    eg_log(EG_LOG_WARN, "mint not recorded (out of memory)");
  c->owned = out;
  gs_call_body(c, 201, out, strlen(out));
  goto out;
no_repo:
  gs_call_error(
      c, 422,
      "There is at least one repository that does not exist or is not "
      "accessible to the parent installation.");
  goto out;
oom:
  gs_call_error(c, 500, "Server Error");
out:
  if (tok != NULL) {
    free(tok->token);
    free(tok->repo_ids);
    free(tok);
  }
  free(sel);
  free(perm_text);
  json_decref(resp);
  json_decref(o);
}

static bool delivery_matches(const struct gs_delivery *d, const char *status) {
  if (status == NULL)
    return true;
  if (strcmp(status, "success") == 0)
    return d->status_code >= 200 && d->status_code < 400;
  return d->status_code >= 400;
}

void gs_app_deliveries(struct gs_call *c) {
  struct gs_sim *sim = c->sim;
  const char *status = eg_http_req_query(c->req, "status");
  const char *cursor = eg_http_req_query(c->req, "cursor");
  unsigned per_page = gs_call_query_uint(c, "per_page", 30, 100);
  uint64_t from = UINT64_MAX;
  struct gs_buf b = {0}, link = {0};
  size_t taken = 0;
  size_t i;

  if (!gs_call_check_jwt(c))
    return;
  if (status != NULL && strcmp(status, "success") != 0 &&
      strcmp(status, "failure") != 0) {
    gs_call_error(c, 422,
                  "Invalid request.\n\nFor 'status', the value is not one of "
                  "[\"success\", \"failure\"].");
    return;
  }
  if (cursor != NULL &&
      (strncmp(cursor, "v1_", 3) != 0 ||
       eg_parse_u64(cursor + 3, 1, UINT64_MAX, &from) != EG_OK)) {
    gs_call_error(c, 422, "Invalid cursor");
    return;
  }
  gs_buf_adds(&b, "[");
  pthread_mutex_lock(&sim->state_lock);
  /* Newest first; the cursor names the first id of the next page. */
  for (i = sim->ndeliveries; i > 0; i--) {
    const struct gs_delivery *d = &sim->deliveries[i - 1];
    char *item;
    if (d->id > from || !delivery_matches(d, status))
      continue;
    if (taken == per_page) {
      gs_buf_addf(&link, "<%s/app/hook/deliveries?per_page=%u", sim->base_url,
                  per_page);
      if (status != NULL)
        gs_buf_addf(&link, "&status=%s", status);
      gs_buf_addf(&link, "&cursor=v1_%llu>; rel=\"next\"",
                  (unsigned long long)d->id);
      break;
    }
    item = gs_render_delivery(d, false);
    if (item == NULL) {
      b.oom = true;
      break;
    }
    if (taken++ > 0)
      gs_buf_adds(&b, ",");
    gs_buf_adds(&b, item);
    free(item);
  }
  pthread_mutex_unlock(&sim->state_lock);
  gs_buf_adds(&b, "]");
  if (!link.oom && link.p != NULL) {
    c->link = link.p;
    link.p = NULL;
  }
  gs_buf_free(&link);
  gs_call_owned(c, 200, &b);
}

static struct gs_delivery *find_delivery(struct gs_sim *sim, uint64_t id) {
  for (size_t i = 0; i < sim->ndeliveries; i++)
    if (sim->deliveries[i].id == id)
      return &sim->deliveries[i];
  return NULL;
}

void gs_app_delivery(struct gs_call *c) {
  uint64_t id;
  struct gs_delivery *d;
  char *item = NULL;

  if (!gs_call_check_jwt(c))
    return;
  if (!gs_call_seg_u64(c, 3, &id)) {
    gs_call_error(c, 404, "Not Found");
    return;
  }
  pthread_mutex_lock(&c->sim->state_lock);
  d = find_delivery(c->sim, id);
  if (d != NULL)
    item = gs_render_delivery(d, true);
  pthread_mutex_unlock(&c->sim->state_lock);
  if (d == NULL) {
    gs_call_error(c, 404, "Not Found");
    return;
  }
  if (item == NULL) {
    gs_call_error(c, 500, "Server Error");
    return;
  }
  c->owned = item;
  gs_call_body(c, 200, item, strlen(item));
}

void gs_app_redeliver(struct gs_call *c) {
  struct gs_sim *sim = c->sim;
  uint64_t id, new_id = 0;
  struct gs_delivery *d;
  bool found = false, oom = false;

  if (!gs_call_check_jwt(c))
    return;
  if (!gs_call_seg_u64(c, 3, &id)) {
    gs_call_error(c, 404, "Not Found");
    return;
  }
  pthread_mutex_lock(&sim->state_lock);
  d = find_delivery(sim, id);
  if (d != NULL) {
    found = true;
    if (sim->ndeliveries == sim->capdeliveries) {
      size_t nc = sim->capdeliveries == 0 ? 16 : sim->capdeliveries * 2;
      struct gs_delivery *nd = realloc(sim->deliveries, nc * sizeof(*nd));
      if (nd == NULL)
        oom = true;
      else {
        sim->deliveries = nd;
        sim->capdeliveries = nc;
        d = find_delivery(sim, id);
      }
    }
    if (!oom) {
      struct gs_delivery *n = &sim->deliveries[sim->ndeliveries];
      char ts[32];
      gs_fmt_iso(gs_wall_ms() / 1000, ts, sizeof(ts));
      *n = *d;
      n->id = new_id = sim->next_delivery_id++;
      n->redelivery = true;
      n->status_code = sim->sc->redelivery_status_code;
      n->duration = 0.12;
      n->guid = strdup(d->guid);
      n->event = strdup(d->event);
      n->action = d->action != NULL ? strdup(d->action) : NULL;
      n->delivered_at = strdup(ts);
      if (n->guid == NULL || n->event == NULL || n->delivered_at == NULL ||
          (d->action != NULL && n->action == NULL)) {
        free(n->guid);
        free(n->event);
        free(n->action);
        free(n->delivered_at);
        oom = true;
      } else {
        sim->ndeliveries++;
      }
    }
  }
  pthread_mutex_unlock(&sim->state_lock);
  if (!found) {
    gs_call_error(c, 404, "Not Found");
    return;
  }
  if (oom || gs_records_redeliver(&sim->rec, id, new_id) != 0) {
    gs_call_error(c, 500, "Server Error");
    return;
  }
  gs_call_body(c, 202, "{}", 2);
}

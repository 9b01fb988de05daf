/* Reading the pipeline's records back: headers into fixed buffers, and the
 * stored body re-parsed without knowing which GitHub it came from. */
#include "eg/envelope.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "eg/timearg.h"
#include "eg/timeutil.h"
#include "internal.h"
#include "json_scan.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void eg_envelope_init(eg_envelope_t *env) {
  if (env == NULL)
    return;
  memset(env, 0, sizeof(*env));
  env->received_at_ms = -1;
  env->not_before_ms = -1;
  env->redriven_at_ms = -1;
}

/* Copies the last value of name, cut to fit out. @returns false if absent. */
static bool get_text(const rd_kafka_headers_t *hdrs,
                     const char *name,
                     char *out,
                     size_t out_len) {
  const void *val;
  size_t len;

  out[0] = '\0';
  if (hdrs == NULL ||
      rd_kafka_header_get_last(hdrs, name, &val, &len) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      val == NULL)
    return false;
  if (len >= out_len)
    len = out_len - 1;
  memcpy(out, val, len);
  /* A NUL inside the value just ends the text early. */
  out[len] = '\0';
  return true;
}

/* Copies the last value of name only if it fits whole. */
static bool get_exact(const rd_kafka_headers_t *hdrs,
                      const char *name,
                      char *out,
                      size_t out_len) {
  const void *val;
  size_t len;

  out[0] = '\0';
  if (hdrs == NULL ||
      rd_kafka_header_get_last(hdrs, name, &val, &len) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      val == NULL || len >= out_len || memchr(val, '\0', len) != NULL)
    return false;
  memcpy(out, val, len);
  out[len] = '\0';
  return true;
}

static uint64_t get_u64(const rd_kafka_headers_t *hdrs, const char *name) {
  char buf[24];
  uint64_t v;

  if (!get_exact(hdrs, name, buf, sizeof(buf)) ||
      eg_parse_u64(buf, 0, UINT64_MAX, &v) != EG_OK)
    return 0;
  return v;
}

static int64_t get_epoch_ms(const rd_kafka_headers_t *hdrs, const char *name) {
  char buf[24];
  uint64_t v;

  if (!get_exact(hdrs, name, buf, sizeof(buf)) ||
      eg_parse_u64(buf, 0, EG_TIMEARG_MAX_MS, &v) != EG_OK)
    return -1;
  return (int64_t)v;
}

static int64_t get_time_ms(const rd_kafka_headers_t *hdrs, const char *name) {
  char buf[EG_ENVELOPE_TIME_LEN];
  int64_t ms;

  if (!get_exact(hdrs, name, buf, sizeof(buf)) ||
      eg_time_parse_rfc3339(buf, &ms) != EG_OK)
    return -1;
  return ms;
}

void eg_envelope_set_headers(eg_envelope_t *env,
                             const rd_kafka_headers_t *hdrs) {
  if (env == NULL)
    return;
  get_exact(hdrs, EG_HDR_DELIVERY, env->delivery, sizeof(env->delivery));
  get_exact(hdrs, EG_HDR_EVENT, env->event, sizeof(env->event));
  get_exact(hdrs, EG_HDR_SIGNATURE, env->signature, sizeof(env->signature));
  get_exact(hdrs, EG_HDR_HOOK_ID, env->hook_id, sizeof(env->hook_id));
  get_exact(hdrs, EG_HDR_RECEIVED_AT, env->received_at,
            sizeof(env->received_at));
  env->received_at_ms = get_time_ms(hdrs, EG_HDR_RECEIVED_AT);
  env->attempt = get_u64(hdrs, EG_HDR_ATTEMPT);
  env->not_before_ms = get_epoch_ms(hdrs, EG_HDR_NOT_BEFORE);
  get_text(hdrs, EG_HDR_LAST_ERROR, env->last_error, sizeof(env->last_error));
  get_text(hdrs, EG_HDR_ERROR_CLASS, env->error_class,
           sizeof(env->error_class));
  get_text(hdrs, EG_HDR_ERROR, env->error, sizeof(env->error));
  env->attempts = get_u64(hdrs, EG_HDR_ATTEMPTS);
  get_exact(hdrs, EG_HDR_FIRST_SEEN, env->first_seen, sizeof(env->first_seen));
  get_text(hdrs, EG_HDR_LAST_STATUS, env->last_status,
           sizeof(env->last_status));
  get_exact(hdrs, EG_HDR_REDRIVE_SOURCE, env->redrive_source,
            sizeof(env->redrive_source));
  get_exact(hdrs, EG_HDR_REDRIVE_ID, env->redrive_id, sizeof(env->redrive_id));
  env->redriven_at_ms = get_time_ms(hdrs, EG_HDR_REDRIVEN_AT);
}

struct callback {
  char url[EG_EVENT_URL_LEN];
};

/* Finds the API base in a callback URL
 * "<base>/repos/<owner>/<repo>/actions/runs/<id>/deployment_protection_rule":
 * what is left after its last seven path segments. eg_event_parse() then
 * checks the rest of the URL against the payload. */
static bool api_base_of(char *url) {
  char *cut = NULL;

  for (int i = 0; i < 7; i++) {
    cut = strrchr(url, '/');
    if (cut == NULL)
      return false;
    if (i < 6)
      *cut = '\0';
  }
  if (strcmp(cut, "/repos") != 0)
    return false;
  *cut = '\0';
  return true;
}

int eg_envelope_parse_body(eg_envelope_t *env, const void *body, size_t len) {
  static const struct eg__json_field fields[] = {
      {"deployment_callback_url", -1, EG__JSON_STRING, EG__JSON_NULLABLE,
       offsetof(struct callback, url), EG_EVENT_URL_LEN},
  };
  struct callback cb;
  eg_event_t ev;
  uint64_t present = 0;
  int rc;

  if (env == NULL)
    return EG_EINVAL;
  env->body_ok = false;
  env->body_error[0] = '\0';
  env->key[0] = '\0';
  env->repository[0] = '\0';
  env->repository_id = 0;
  env->run_id = 0;
  env->environment[0] = '\0';
  env->sha[0] = '\0';
  if (body == NULL && len > 0)
    return EG_EINVAL;
  if (len > EG_EVENT_BODY_MAX) {
    eg__seterr(env->body_error, sizeof(env->body_error), "body: over %u bytes",
               EG_EVENT_BODY_MAX);
    return EG_ETOOBIG;
  }
  memset(&cb, 0, sizeof(cb));
  rc = eg__json_scan(fields, 1, EG_EVENT_DEPTH_MAX, body != NULL ? body : "",
                     len, &cb, &present, env->body_error,
                     sizeof(env->body_error));
  if (rc != EG_OK)
    return rc;
  if ((present & 1) == 0 || !api_base_of(cb.url)) {
    eg__seterr(env->body_error, sizeof(env->body_error),
               "deployment_callback_url: missing or not a callback URL");
    return EG_EINVAL;
  }
  rc = eg_event_parse(body, len, cb.url, 0, &ev, env->body_error,
                      sizeof(env->body_error));
  if (rc != EG_OK)
    return rc;
  rc = eg_event_build_key(&ev, env->key, sizeof(env->key), NULL);
  if (rc != EG_OK)
    return rc;
  memcpy(env->repository, ev.full_name, sizeof(env->repository));
  memcpy(env->environment, ev.environment, sizeof(env->environment));
  memcpy(env->sha, ev.sha, sizeof(env->sha));
  env->repository_id = ev.repository_id;
  env->run_id = ev.run_id;
  env->body_ok = true;
  return EG_OK;
}

int eg_envelope_read(eg_envelope_t *env, const rd_kafka_message_t *msg) {
  rd_kafka_headers_t *hdrs = NULL;

  if (env == NULL || msg == NULL)
    return EG_EINVAL;
  eg_envelope_init(env);
  if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
    eg_envelope_set_headers(env, hdrs);
  return eg_envelope_parse_body(env, msg->payload, msg->len);
}

int eg_envelope_format_source(const char *topic,
                              int32_t partition,
                              int64_t offset,
                              char *out,
                              size_t out_len) {
  int n;

  if (out == NULL || out_len == 0)
    return EG_EINVAL;
  out[0] = '\0';
  if (topic == NULL || topic[0] == '\0' || partition < 0 || offset < 0)
    return EG_EINVAL;
  n = snprintf(out, out_len, "%s/%" PRId32 "/%" PRId64, topic, partition,
               offset);
  if (n < 0 || (size_t)n >= out_len) {
    out[0] = '\0';
    return EG_ERANGE;
  }
  return EG_OK;
}

bool eg_envelope_is_pipeline_header(const char *name) {
  return name != NULL && strncmp(name, "envgate-", 8) == 0;
}

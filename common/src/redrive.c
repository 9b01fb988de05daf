/* Dead-letter selection and the headers of a redriven event. */
#include "eg/redrive.h"
#include "eg/error.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool one_of(const char *s, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (list[i] != NULL && strcmp(s, list[i]) == 0)
      return true;
  return false;
}

bool eg_redrive_matches(const eg_redrive_filter_t *f,
                        const eg_envelope_t *env,
                        int64_t timestamp_ms) {
  if (env == NULL)
    return false;
  if (f == NULL)
    return true;
  if (f->ndeliveries > 0 &&
      !one_of(env->delivery, f->deliveries, f->ndeliveries))
    return false;
  if (f->repository != NULL &&
      (!env->body_ok || strcasecmp(f->repository, env->repository) != 0))
    return false;
  if (f->nclasses > 0 && !one_of(env->error_class, f->classes, f->nclasses))
    return false;
  if (f->since_ms > 0 && (timestamp_ms < 0 || timestamp_ms < f->since_ms))
    return false;
  if (f->until_ms > 0 && (timestamp_ms < 0 || timestamp_ms >= f->until_ms))
    return false;
  return true;
}

int eg_redrive_headers(const rd_kafka_headers_t *letter,
                       const char *source,
                       const char *id,
                       const char *at,
                       rd_kafka_headers_t **out) {
  rd_kafka_headers_t *hdrs;
  size_t n = 0;
  const char *name;
  const void *val;
  size_t len;

  if (out == NULL)
    return EG_EINVAL;
  *out = NULL;
  if (source == NULL || id == NULL || at == NULL)
    return EG_EINVAL;
  if (letter != NULL)
    n = rd_kafka_header_cnt(letter);
  hdrs = rd_kafka_headers_new(n + 3);
  if (hdrs == NULL)
    return EG_ENOMEM;
  for (size_t i = 0; letter != NULL &&
                     rd_kafka_header_get_all(letter, i, &name, &val, &len) ==
                         RD_KAFKA_RESP_ERR_NO_ERROR;
       i++) {
    if (eg_envelope_is_pipeline_header(name))
      continue;
    rd_kafka_header_add(hdrs, name, -1, val, val != NULL ? (ssize_t)len : 0);
  }
  rd_kafka_header_add(hdrs, EG_HDR_REDRIVE_SOURCE, -1, source, -1);
  rd_kafka_header_add(hdrs, EG_HDR_REDRIVE_ID, -1, id, -1);
  rd_kafka_header_add(hdrs, EG_HDR_REDRIVEN_AT, -1, at, -1);
  *out = hdrs;
  return EG_OK;
}

int eg_redrive_new_id(char out[EG_REDRIVE_ID_SIZE]) {
  unsigned char b[16];

  if (out == NULL)
    return EG_EINVAL;
  out[0] = '\0';
  if (RAND_bytes(b, sizeof(b)) != 1)
    return EG_ECRYPTO;
  b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
  snprintf(out, EG_REDRIVE_ID_SIZE,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x"
           "%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
  return EG_OK;
}

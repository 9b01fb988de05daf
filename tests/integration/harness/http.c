/* HTTP client for tests, over libcurl. One easy handle per request: tests
 * value isolation over connection reuse. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "eg/error.h"

struct sink {
  eg_it_http_resp_t *resp;
  size_t cap;
  bool too_big;
  bool oom;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  struct sink *s = ud;
  eg_it_http_resp_t *r = s->resp;
  size_t n = size * nmemb;

  if (n > IT_MAX_READ - r->body_len) {
    s->too_big = true;
    return 0;
  }
  if (r->body_len + n + 1 > s->cap) {
    size_t cap = s->cap == 0 ? 4096 : s->cap;
    char *nb;
    while (cap < r->body_len + n + 1)
      cap *= 2;
    nb = realloc(r->body, cap);
    if (nb == NULL) {
      s->oom = true;
      return 0;
    }
    r->body = nb;
    s->cap = cap;
  }
  memcpy(r->body + r->body_len, data, n);
  r->body_len += n;
  r->body[r->body_len] = '\0';
  return n;
}

static void free_headers(eg_it_http_resp_t *r) {
  for (size_t i = 0; i < r->nheaders; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  free(r->headers);
  r->headers = NULL;
  r->nheaders = 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  struct sink *s = ud;
  eg_it_http_resp_t *r = s->resp;
  size_t n = size * nmemb;
  size_t len = n;
  const char *colon;
  eg_it_http_header_t *nh;
  size_t vstart;

  while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
    len--;
  /* A new status line (after 100 Continue or a redirect) starts over. */
  if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
    free_headers(r);
    return n;
  }
  colon = memchr(data, ':', len);
  if (colon == NULL)
    return n;
  nh = realloc(r->headers, sizeof(*nh) * (r->nheaders + 1));
  if (nh == NULL) {
    s->oom = true;
    return 0;
  }
  r->headers = nh;
  vstart = (size_t)(colon - data) + 1;
  while (vstart < len && (data[vstart] == ' ' || data[vstart] == '\t'))
    vstart++;
  nh[r->nheaders].name = strndup(data, (size_t)(colon - data));
  nh[r->nheaders].value = strndup(data + vstart, len - vstart);
  if (nh[r->nheaders].name == NULL || nh[r->nheaders].value == NULL) {
    free(nh[r->nheaders].name);
    free(nh[r->nheaders].value);
    s->oom = true;
    return 0;
  }
  r->nheaders++;
  return n;
}

/* Appends line to *list, which stays intact on failure. */
static bool append_header(struct curl_slist **list, const char *line) {
  struct curl_slist *nl = curl_slist_append(*list, line);

  if (nl == NULL)
    return false;
  *list = nl;
  return true;
}

static bool has_header(const char *const *headers, const char *name) {
  size_t n = strlen(name);

  for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
    if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':')
      return true;
  return false;
}

int eg_it_http(eg_it_t *it,
               const char *method,
               const char *url,
               const char *const *headers,
               const void *body,
               size_t body_len,
               int timeout_ms,
               eg_it_http_resp_t *resp) {
  struct curl_slist *list = NULL;
  struct sink sink;
  char cerr[CURL_ERROR_SIZE] = "";
  CURLcode res;
  CURL *h;
  bool ok = true;
  int rc = EG_OK;

  if (resp == NULL || method == NULL || url == NULL)
    return it_fail(it, EG_EINVAL, "eg_it_http: bad arguments");
  memset(resp, 0, sizeof(*resp));
  memset(&sink, 0, sizeof(sink));
  sink.resp = resp;
  h = curl_easy_init();
  if (h == NULL)
    return it_fail(it, EG_ENOMEM, "curl_easy_init failed");
  for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
    ok = ok && append_header(&list, headers[i]);
  /* curl would otherwise add headers the test did not ask for. */
  if (!has_header(headers, "Expect"))
    ok = ok && append_header(&list, "Expect:");
  if (!has_header(headers, "Content-Type"))
    ok = ok && append_header(&list, "Content-Type:");
  if (!ok) {
    rc = it_fail(it, EG_ENOMEM, "out of memory");
    goto done;
  }

  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)eg_it_timeout_ms(timeout_ms));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET") != 0 || body != NULL) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)(body != NULL ? body_len : 0));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  }

  res = curl_easy_perform(h);
  if (sink.too_big)
    rc = it_fail(it, EG_ETOOBIG, "%s %s: body over %u bytes", method, url,
                 IT_MAX_READ);
  else if (sink.oom)
    rc = it_fail(it, EG_ENOMEM, "out of memory");
  else if (res == CURLE_COULDNT_CONNECT)
    rc = it_fail(it, EG_EUNAVAIL, "%s %s: %s", method, url,
                 cerr[0] != '\0' ? cerr : curl_easy_strerror(res));
  else if (res == CURLE_OPERATION_TIMEDOUT)
    rc = it_fail(it, EG_ETIMEDOUT, "%s %s: %s", method, url,
                 cerr[0] != '\0' ? cerr : curl_easy_strerror(res));
  else if (res != CURLE_OK)
    rc = it_fail(it, EG_EIO, "%s %s: %s", method, url,
                 cerr[0] != '\0' ? cerr : curl_easy_strerror(res));
  else
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);

done:
  curl_easy_cleanup(h);
  curl_slist_free_all(list);
  if (rc != EG_OK) {
    eg_it_http_resp_cleanup(resp);
    return rc;
  }
  /* An empty body is still a NUL-terminated string. */
  if (resp->body == NULL) {
    resp->body = calloc(1, 1);
    if (resp->body == NULL) {
      eg_it_http_resp_cleanup(resp);
      return it_fail(it, EG_ENOMEM, "out of memory");
    }
  }
  return EG_OK;
}

const char *eg_it_http_header(const eg_it_http_resp_t *resp, const char *name) {
  const char *found = NULL;

  if (resp == NULL || name == NULL)
    return NULL;
  for (size_t i = 0; i < resp->nheaders; i++)
    if (strcasecmp(resp->headers[i].name, name) == 0)
      found = resp->headers[i].value;
  return found;
}

void eg_it_http_resp_cleanup(eg_it_http_resp_t *resp) {
  if (resp == NULL)
    return;
  free_headers(resp);
  free(resp->body);
  memset(resp, 0, sizeof(*resp));
}

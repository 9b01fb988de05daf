/* Checked parsers: whole-string, range-checked, never atoi. */
#include "eg/parse.h"
#include "eg/error.h"
#include "internal.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

int eg_parse_u64n(
    const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *out) {
  uint64_t v = 0;

  if (s == NULL || out == NULL || n == 0)
    return EG_EINVAL;
  for (size_t i = 0; i < n; i++) {
    unsigned d;

    if (s[i] < '0' || s[i] > '9')
      return EG_EINVAL;
    d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return EG_ERANGE;
    v = v * 10 + d;
  }
  if (v < min || v > max)
    return EG_ERANGE;
  *out = v;
  return EG_OK;
}

int eg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (s == NULL)
    return EG_EINVAL;
  return eg_parse_u64n(s, strlen(s), min, max, out);
}

static int parse_hostport(const char *s,
                          char *host,
                          size_t host_len,
                          uint16_t *port,
                          uint64_t min_port) {
  const char *colon;
  const char *hstart;
  size_t hlen;
  uint64_t p;
  int rc;

  if (s == NULL || host == NULL || host_len == 0 || port == NULL)
    return EG_EINVAL;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':')
      return EG_EINVAL;
    hstart = s + 1;
    hlen = (size_t)(close - hstart);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
      return EG_EINVAL;
    hstart = s;
    hlen = (size_t)(colon - s);
  }
  if (hlen == 0)
    return EG_EINVAL;
  if (hlen >= host_len)
    return EG_ERANGE;
  rc = eg_parse_u64(colon + 1, min_port, 65535, &p);
  if (rc != EG_OK)
    return rc;
  memcpy(host, hstart, hlen);
  host[hlen] = '\0';
  *port = (uint16_t)p;
  return EG_OK;
}

int eg_parse_hostport(const char *s,
                      char *host,
                      size_t host_len,
                      uint16_t *port) {
  return parse_hostport(s, host, host_len, port, 1);
}

int eg_parse_listen(const char *s,
                    char *host,
                    size_t host_len,
                    uint16_t *port) {
  return parse_hostport(s, host, host_len, port, 0);
}

bool eg_is_loopback_host(const char *host) {
  struct in_addr a4;
  struct in6_addr a6;

  if (host == NULL)
    return false;
  if (strcasecmp(host, "localhost") == 0)
    return true;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1)
    return memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
  return false;
}

int eg_parse_base_url(const char *url, char *errbuf, size_t errbuf_len) {
  const char *rest;
  const char *host_end;
  char host[256];
  size_t hlen;
  bool tls;

  if (url == NULL)
    return EG_EINVAL;
  if (strncmp(url, "https://", 8) == 0) {
    tls = true;
    rest = url + 8;
  } else if (strncmp(url, "http://", 7) == 0) {
    tls = false;
    rest = url + 7;
  } else {
    eg__seterr(errbuf, errbuf_len,
               "must start with https:// (or http:// to "
               "loopback)");
    return EG_EINVAL;
  }
  if (strpbrk(url, "?#@ \t\r\n") != NULL) {
    eg__seterr(errbuf, errbuf_len,
               "must not contain user info, query, fragment or spaces");
    return EG_EINVAL;
  }
  host_end = strchr(rest, '/');
  hlen = host_end != NULL ? (size_t)(host_end - rest) : strlen(rest);
  if (hlen == 0 || hlen >= sizeof(host)) {
    eg__seterr(errbuf, errbuf_len, "has no valid host");
    return EG_EINVAL;
  }
  memcpy(host, rest, hlen);
  host[hlen] = '\0';
  /* Strip a port and IPv6 brackets to look at the host itself. */
  if (host[0] == '[') {
    char *close = strchr(host, ']');
    uint64_t port;
    if (close == NULL) {
      eg__seterr(errbuf, errbuf_len, "has an unterminated IPv6 host");
      return EG_EINVAL;
    }
    if (close[1] != '\0' &&
        (close[1] != ':' ||
         eg_parse_u64(close + 2, 1, 65535, &port) != EG_OK)) {
      eg__seterr(errbuf, errbuf_len, "has an invalid port");
      return EG_EINVAL;
    }
    *close = '\0';
    memmove(host, host + 1, strlen(host + 1) + 1);
  } else {
    char *colon = strchr(host, ':');
    if (colon != NULL) {
      uint64_t port;
      if (eg_parse_u64(colon + 1, 1, 65535, &port) != EG_OK) {
        eg__seterr(errbuf, errbuf_len, "has an invalid port");
        return EG_EINVAL;
      }
      *colon = '\0';
    }
  }
  if (host[0] == '\0') {
    eg__seterr(errbuf, errbuf_len, "has no valid host");
    return EG_EINVAL;
  }
  if (!tls && !eg_is_loopback_host(host)) {
    eg__seterr(errbuf, errbuf_len, "plain http is only allowed to loopback");
    return EG_EINVAL;
  }
  return EG_OK;
}

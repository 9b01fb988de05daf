/* Checked parsers for numbers, addresses and URLs taken from configuration
 * and from the wire. Each accepts the whole string or fails. */
#ifndef EG_PARSE_H
#define EG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses a decimal unsigned integer in [min, max]: digits only, no sign, no
 * spaces, no leading '+'. Leading zeros are accepted.
 * @returns EG_OK, EG_EINVAL (not a number) or EG_ERANGE. */
int eg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Same as eg_parse_u64 over the n bytes at s (not NUL-terminated). */
int eg_parse_u64n(
    const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *out);

/* Parses "host:port" or "[v6]:port" into host (brackets removed) and port
 * (1..65535). host_len must be > 0.
 * @returns EG_OK, EG_EINVAL or EG_ERANGE (host longer than host_len - 1). */
int eg_parse_hostport(const char *s,
                      char *host,
                      size_t host_len,
                      uint16_t *port);

/* Like eg_parse_hostport, for addresses to listen on: port 0 is allowed too
 * and means "pick a free port". */
int eg_parse_listen(const char *s, char *host, size_t host_len, uint16_t *port);

/* True when host names the loopback: "localhost", 127.0.0.0/8 or ::1. */
bool eg_is_loopback_host(const char *host);

/* Checks a base URL such as https://api.github.com or https://ghe/api/v3:
 * https, or http only to a loopback host; no query, fragment or user info.
 * @returns EG_OK or EG_EINVAL with a reason in errbuf. */
int eg_parse_base_url(const char *url, char *errbuf, size_t errbuf_len);

#endif /* EG_PARSE_H */

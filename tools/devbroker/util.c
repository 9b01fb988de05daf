/* Small helpers shared by the devbroker's modules. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int dbk_seterr(int err, char *errbuf, size_t errbuf_len, const char *fmt, ...) {
  va_list ap;

  if (errbuf == NULL || errbuf_len == 0)
    return err;
  va_start(ap, fmt);
  vsnprintf(errbuf, errbuf_len, fmt, ap);
  va_end(ap);
  return err;
}

const char *dbk_errno_str(int err, char *buf, size_t buf_len) {
  /* GNU strerror_r returns the text, which may not be in buf. */
  const char *s = strerror_r(err, buf, buf_len);

  if (s != buf)
    snprintf(buf, buf_len, "%s", s);
  return buf;
}

bool dbk_is_topic_name(const char *name) {
  size_t n = strlen(name);

  /* Kafka's own limit (Topic.MAX_NAME_LENGTH). */
  if (n == 0 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return false;
  for (size_t i = 0; i < n; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
      return false;
  }
  return true;
}

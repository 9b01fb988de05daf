/* Helpers shared inside common/. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

void eg__seterr(char *errbuf, size_t errbuf_len, const char *fmt, ...) {
  va_list ap;

  if (errbuf == NULL || errbuf_len == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(errbuf, errbuf_len, fmt, ap);
  va_end(ap);
}

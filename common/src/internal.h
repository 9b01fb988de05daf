/* Helpers shared inside common/ only (eg__ prefix); binaries never include
 * this. */
#ifndef EG_INTERNAL_H
#define EG_INTERNAL_H

#include <stddef.h>

/* Writes one formatted line into errbuf (which may be NULL). */
void eg__seterr(char *errbuf, size_t errbuf_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* EG_INTERNAL_H */

/* Small helpers shared by the devbroker's modules. */
#ifndef DBK_UTIL_H
#define DBK_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Formats one line into errbuf (may be NULL) and returns err, so that
 * failures read `return dbk_seterr(EG_EINVAL, errbuf, len, "...", ...);`. */
int dbk_seterr(int err, char *errbuf, size_t errbuf_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes the text of errno value err into buf and returns buf. */
const char *dbk_errno_str(int err, char *buf, size_t buf_len);

/* True when name is a legal Kafka topic name: 1..249 bytes of
 * [A-Za-z0-9._-], and neither "." nor "..". */
bool dbk_is_topic_name(const char *name);

#endif /* DBK_UTIL_H */

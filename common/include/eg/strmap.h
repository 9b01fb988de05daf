/* A map from strings to indexes (open addressing, linear probing), for the
 * tools' joins over millions of records: deliveries to requests, redrive
 * sources already moved. Not thread-safe. */
#ifndef EG_STRMAP_H
#define EG_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct eg_strmap_s eg_strmap_t;

/* @returns EG_OK with *out (free with eg_strmap_free()), EG_EINVAL or
 * EG_ENOMEM. */
int eg_strmap_new(eg_strmap_t **out);

/* NULL is a no-op. */
void eg_strmap_free(eg_strmap_t *m);

/* Maps key (copied) to value, replacing the value of a key already there.
 * @returns EG_OK, EG_EINVAL (NULL argument) or EG_ENOMEM (the map is then
 * unchanged). */
int eg_strmap_put(eg_strmap_t *m, const char *key, size_t value);

/* True when key is present; its value goes to *value (may be NULL). */
bool eg_strmap_get(const eg_strmap_t *m, const char *key, size_t *value);

/* Number of keys. */
size_t eg_strmap_count(const eg_strmap_t *m);

#endif /* EG_STRMAP_H */

/* String-keyed hash map: FNV-1a, open addressing with linear probing, kept
 * at most 70% full; keys are copied and owned by the map. */
#include "eg/strmap.h"
#include "eg/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
  char *key; /* NULL: empty */
  size_t value;
};

struct eg_strmap_s {
  struct slot *slots;
  size_t cap; /* a power of two, or 0 */
  size_t n;
};

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL;

  for (; *s != '\0'; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

int eg_strmap_new(eg_strmap_t **out) {
  if (out == NULL)
    return EG_EINVAL;
  *out = calloc(1, sizeof(**out));
  return *out != NULL ? EG_OK : EG_ENOMEM;
}

void eg_strmap_free(eg_strmap_t *m) {
  if (m == NULL)
    return;
  for (size_t i = 0; i < m->cap; i++)
    free(m->slots[i].key);
  free(m->slots);
  free(m);
}

/* The slot holding key, or the empty slot where it would go. */
static struct slot *find(const eg_strmap_t *m, const char *key) {
  size_t i = hash_str(key) & (m->cap - 1);

  while (m->slots[i].key != NULL && strcmp(m->slots[i].key, key) != 0)
    i = (i + 1) & (m->cap - 1);
  return &m->slots[i];
}

static int grow(eg_strmap_t *m) {
  size_t ncap = m->cap == 0 ? 64 : m->cap * 2;
  eg_strmap_t bigger = {NULL, ncap, m->n};

  if (ncap > SIZE_MAX / sizeof(struct slot))
    return EG_ENOMEM;
  bigger.slots = calloc(ncap, sizeof(struct slot));
  if (bigger.slots == NULL)
    return EG_ENOMEM;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key != NULL)
      *find(&bigger, m->slots[i].key) = m->slots[i];
  free(m->slots);
  m->slots = bigger.slots;
  m->cap = ncap;
  return EG_OK;
}

int eg_strmap_put(eg_strmap_t *m, const char *key, size_t value) {
  struct slot *s;
  char *copy;

  if (m == NULL || key == NULL)
    return EG_EINVAL;
  if (m->cap > 0) {
    s = find(m, key);
    if (s->key != NULL) {
      s->value = value;
      return EG_OK;
    }
  }
  if ((m->n + 1) * 10 > m->cap * 7 && grow(m) != EG_OK)
    return EG_ENOMEM;
  copy = strdup(key);
  if (copy == NULL)
    return EG_ENOMEM;
  s = find(m, key);
  s->key = copy;
  s->value = value;
  m->n++;
  return EG_OK;
}

bool eg_strmap_get(const eg_strmap_t *m, const char *key, size_t *value) {
  const struct slot *s;

  if (m == NULL || key == NULL || m->cap == 0)
    return false;
  s = find(m, key);
  if (s->key == NULL)
    return false;
  if (value != NULL)
    *value = s->value;
  return true;
}

size_t eg_strmap_count(const eg_strmap_t *m) {
  return m != NULL ? m->n : 0;
}

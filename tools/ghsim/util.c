/* Small helpers for the simulator: growable buffers, a hash map, a
 * deterministic PRNG, time formatting and permissions. */
#include "ghsim.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Buffers over this size are refused: no response the simulator builds
 * comes near it, so hitting it means a bug, not a big answer. */
#define GS_BUF_MAX ((size_t)256 * 1024 * 1024)

static bool buf_reserve(struct gs_buf *b, size_t extra) {
  size_t need;
  size_t cap;
  char *np;

  if (b->oom)
    return false;
  if (extra > GS_BUF_MAX - b->len - 1) {
    b->oom = true;
    return false;
  }
  need = b->len + extra + 1;
  if (need <= b->cap)
    return true;
  cap = b->cap == 0 ? 256 : b->cap;
  while (cap < need)
    cap *= 2;
  np = realloc(b->p, cap);
  if (np == NULL) {
    b->oom = true;
    return false;
  }
  b->p = np;
  b->cap = cap;
  return true;
}

void gs_buf_add(struct gs_buf *b, const char *s, size_t n) {
  if (!buf_reserve(b, n))
    return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void gs_buf_adds(struct gs_buf *b, const char *s) {
  gs_buf_add(b, s, strlen(s));
}

void gs_buf_addf(struct gs_buf *b, const char *fmt, ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !buf_reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void gs_buf_add_jstr(struct gs_buf *b, const char *s) {
  const char *run = s;

  gs_buf_add(b, "\"", 1);
  /* Copy runs of plain characters at once; escape the rest. */
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c != '"' && c != '\\' && c >= 0x20)
      continue;
    gs_buf_add(b, run, (size_t)(s - run));
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      gs_buf_add(b, esc, 2);
    } else {
      gs_buf_addf(b, "\\u%04x", c);
    }
    run = s + 1;
  }
  gs_buf_add(b, run, (size_t)(s - run));
  gs_buf_add(b, "\"", 1);
}

void gs_buf_add_urlenc(struct gs_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";

  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      gs_buf_add(b, (const char *)&c, 1);
    } else {
      char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
      gs_buf_add(b, enc, 3);
    }
  }
}

void gs_buf_free(struct gs_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  b->oom = false;
}

uint64_t gs_hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */

  for (; *s != '\0'; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return gs_splitmix64(h);
}

uint64_t gs_hash_u64(uint64_t k) {
  return gs_splitmix64(k);
}

static int map_grow(struct gs_map *m) {
  size_t cap = m->cap == 0 ? 64 : m->cap * 2;
  struct gs_map_ent *ents = calloc(cap, sizeof(*ents));

  if (ents == NULL)
    return -1;
  for (size_t i = 0; i < m->cap; i++) {
    size_t j;
    if (m->ents[i].val == NULL)
      continue;
    j = (size_t)gs_splitmix64(m->ents[i].key) & (cap - 1);
    while (ents[j].val != NULL)
      j = (j + 1) & (cap - 1);
    ents[j] = m->ents[i];
  }
  free(m->ents);
  m->ents = ents;
  m->cap = cap;
  return 0;
}

int gs_map_put(struct gs_map *m, uint64_t key, const char *skey, void *val) {
  size_t j;

  if ((m->n + 1) * 2 > m->cap && map_grow(m) != 0)
    return -1;
  j = (size_t)gs_splitmix64(key) & (m->cap - 1);
  while (m->ents[j].val != NULL) {
    if (m->ents[j].key == key &&
        (skey == NULL || strcmp(m->ents[j].skey, skey) == 0)) {
      m->ents[j].val = val;
      return 0;
    }
    j = (j + 1) & (m->cap - 1);
  }
  m->ents[j].key = key;
  m->ents[j].skey = skey;
  m->ents[j].val = val;
  m->n++;
  return 0;
}

void *gs_map_get(const struct gs_map *m, uint64_t key, const char *skey) {
  size_t j;

  if (m->cap == 0)
    return NULL;
  j = (size_t)gs_splitmix64(key) & (m->cap - 1);
  while (m->ents[j].val != NULL) {
    if (m->ents[j].key == key &&
        (skey == NULL || strcmp(m->ents[j].skey, skey) == 0))
      return m->ents[j].val;
    j = (j + 1) & (m->cap - 1);
  }
  return NULL;
}

void gs_map_free(struct gs_map *m) {
  free(m->ents);
  m->ents = NULL;
  m->cap = m->n = 0;
}

uint64_t gs_splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double gs_unit(uint64_t x) {
  return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t gs_now_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t gs_wall_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gs_fmt_iso(int64_t epoch_s, char *out, size_t cap) {
  struct tm tm;
  time_t t = (time_t)epoch_s;

  gmtime_r(&t, &tm);
  strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void gs_fmt_iso_ms(int64_t epoch_ms, char *out, size_t cap) {
  struct tm tm;
  time_t t = (time_t)(epoch_ms / 1000);
  char base[32];

  gmtime_r(&t, &tm);
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, cap, "%s.%03dZ", base, (int)(epoch_ms % 1000));
}

void gs_sha256_hex(const char *s, char out[65]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char md[SHA256_DIGEST_LENGTH];

  SHA256((const unsigned char *)s, strlen(s), md);
  for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = '\0';
}

int gs_random_alnum(char *out, size_t n) {
  static const char set[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char rnd[256];

  while (n > 0) {
    size_t chunk = n < sizeof(rnd) ? n : sizeof(rnd);
    size_t got = 0;
    while (got < chunk) {
      ssize_t r = getrandom(rnd + got, chunk - got, 0);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return -1;
      got += (size_t)r;
    }
    /* 248 = 4 * 62: reject the tail so every character is equally likely. */
    for (size_t i = 0; i < chunk && n > 0; i++) {
      if (rnd[i] >= 248)
        continue;
      *out++ = set[rnd[i] % 62];
      n--;
    }
  }
  return 0;
}

char *gs_read_file(const char *path, size_t max, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  struct gs_buf b = {0};
  char chunk[8192];
  size_t n;

  if (len_out != NULL)
    *len_out = 0;
  if (f == NULL)
    return NULL;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (b.len + n > max) {
      b.oom = true;
      break;
    }
    gs_buf_add(&b, chunk, n);
  }
  if (ferror(f) || b.oom) {
    fclose(f);
    gs_buf_free(&b);
    return NULL;
  }
  fclose(f);
  if (b.p == NULL) {
    b.p = calloc(1, 1);
    if (b.p == NULL)
      return NULL;
  }
  if (len_out != NULL)
    *len_out = b.len;
  return b.p;
}

int gs_perms_level(const struct gs_perms *ps, const char *name) {
  for (size_t i = 0; i < ps->n; i++)
    if (strcmp(ps->p[i].name, name) == 0)
      return ps->p[i].level;
  return GS_PERM_NONE;
}

int gs_perms_parse(json_t *obj, struct gs_perms *out, char *err, size_t len) {
  const char *key;
  json_t *val;

  out->n = 0;
  if (!json_is_object(obj)) {
    snprintf(err, len, "permissions: must be an object");
    return -1;
  }
  json_object_foreach(obj, key, val) {
    const char *lv = json_string_value(val);
    int level;
    if (lv != NULL && strcmp(lv, "read") == 0)
      level = GS_PERM_READ;
    else if (lv != NULL && strcmp(lv, "write") == 0)
      level = GS_PERM_WRITE;
    else {
      snprintf(err, len, "permissions.%s: must be \"read\" or \"write\"", key);
      return -1;
    }
    if (out->n == GS_MAX_PERMS || strlen(key) >= sizeof(out->p[0].name)) {
      snprintf(err, len, "permissions: too many or too long names");
      return -1;
    }
    snprintf(out->p[out->n].name, sizeof(out->p[0].name), "%s", key);
    out->p[out->n].level = level;
    out->n++;
  }
  return 0;
}

json_t *gs_perms_json(const struct gs_perms *ps) {
  json_t *o = json_object();

  for (size_t i = 0; o != NULL && i < ps->n; i++)
    json_object_set_new(
        o, ps->p[i].name,
        json_string(ps->p[i].level == GS_PERM_WRITE ? "write" : "read"));
  return o;
}

/* Streaming JSON field extraction: yajl callbacks walk the document once,
 * track which listed object they are in, and copy only listed values. */
#include "json_scan.h"
#include "eg/error.h"
#include "eg/parse.h"
#include "internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

/* Context of an open container: a listed object (its field index, or -1 for
 * the root object) or UNKNOWN for anything we only syntax-check. */
#define UNKNOWN (-2)
/* No listed key is waiting for its value. */
#define NONE (-1)
/* A callback already stopped the parse. */
#define STOP (-3)

struct scan {
  const struct eg__json_field *fields;
  size_t n;
  unsigned max_depth;
  char *out;
  uint64_t seen;    /* listed keys met so far (duplicate detection) */
  uint64_t present; /* listed fields stored with a valid value */
  unsigned depth;   /* open containers */
  int pending;      /* field whose key was just read, or NONE */
  int ctx[EG__JSON_MAX_DEPTH + 1];
  /* Children of each listed object, as linked lists indexed by parent + 1,
   * so a key is compared only with its siblings. */
  int first[EG__JSON_MAX_FIELDS + 1];
  int next[EG__JSON_MAX_FIELDS];
  size_t name_len[EG__JSON_MAX_FIELDS];
  int err;        /* EG_OK or the first error */
  bool cancelled; /* err is EG_EPARSE raised by us: yajl was stopped */
  char msg[EG_ERRBUF_LEN];
};

/* Writes "a.b.c" for field f; the table's names are trusted constants. */
static void path_of(const struct scan *s, int f, char *buf, size_t len) {
  int chain[EG__JSON_MAX_FIELDS];
  int n = 0;
  size_t used = 0;

  for (int i = f; i >= 0 && n < EG__JSON_MAX_FIELDS; i = s->fields[i].parent)
    chain[n++] = i;
  buf[0] = '\0';
  while (n-- > 0 && used < len) {
    int w = snprintf(buf + used, len - used, "%s%s", used > 0 ? "." : "",
                     s->fields[chain[n]].name);
    if (w < 0)
      break;
    used += (size_t)w;
  }
}

static void field_error(struct scan *s, int f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first field-level error; scanning goes on so that the whole
 * document's syntax is still checked. */
static void field_error(struct scan *s, int f, const char *fmt, ...) {
  char path[96];
  char rule[128];
  va_list ap;

  if (s->err != EG_OK)
    return;
  va_start(ap, fmt);
  vsnprintf(rule, sizeof(rule), fmt, ap);
  va_end(ap);
  path_of(s, f, path, sizeof(path));
  s->err = EG_EINVAL;
  snprintf(s->msg, sizeof(s->msg), "%s: %s", path, rule);
}

/* Stops the parse: the document is rejected as a whole. */
static int fatal(struct scan *s, const char *rule) {
  s->err = EG_EPARSE;
  s->cancelled = true;
  snprintf(s->msg, sizeof(s->msg), "json: %s", rule);
  return 0;
}

static int take(struct scan *s) {
  int f = s->pending;

  s->pending = NONE;
  return f;
}

/* Marks field f as met; false (and an error) when its key is repeated. */
static bool claim(struct scan *s, int f) {
  uint64_t bit = UINT64_C(1) << f;

  if ((s->seen & bit) != 0) {
    s->present &= ~bit;
    field_error(s, f, "duplicate key");
    return false;
  }
  s->seen |= bit;
  return true;
}

static void type_error(struct scan *s, int f, const char *got) {
  static const char *const want[] = {
      [EG__JSON_OBJECT] = "an object",
      [EG__JSON_STRING] = "a string",
      [EG__JSON_U64] = "an unsigned integer",
  };

  field_error(s, f, "expected %s, got %s", want[s->fields[f].kind], got);
}

/* Common head of every scalar callback: the top-level value must be an
 * object, and only a listed key's value is of interest. */
static int scalar_field(struct scan *s) {
  int f;

  if (s->depth == 0) {
    fatal(s, "top-level value is not an object");
    return STOP;
  }
  f = take(s);
  if (f < 0 || !claim(s, f))
    return NONE;
  return f;
}

static int on_null(void *ctx) {
  struct scan *s = ctx;
  int f = scalar_field(s);

  if (f == STOP)
    return 0;
  if (f >= 0 && (s->fields[f].flags & EG__JSON_NULLABLE) == 0)
    type_error(s, f, "null");
  return 1;
}

static int on_boolean(void *ctx, int value) {
  struct scan *s = ctx;
  int f = scalar_field(s);

  (void)value;
  if (f == STOP)
    return 0;
  if (f >= 0)
    type_error(s, f, "a boolean");
  return 1;
}

/* yajl hands over the number's text as lexed (already valid JSON number
 * syntax), so ids are checked digit by digit instead of going through
 * long long or double. */
static int on_number(void *ctx, const char *num, size_t len) {
  struct scan *s = ctx;
  int f = scalar_field(s);
  uint64_t v;

  if (f == STOP)
    return 0;
  if (f < 0)
    return 1;
  if (s->fields[f].kind != EG__JSON_U64) {
    type_error(s, f, "a number");
    return 1;
  }
  switch (eg_parse_u64n(num, len, 0, UINT64_MAX, &v)) {
  case EG_OK:
    memcpy(s->out + s->fields[f].offset, &v, sizeof(v));
    s->present |= UINT64_C(1) << f;
    break;
  case EG_ERANGE:
    field_error(s, f, "integer over %llu", (unsigned long long)UINT64_MAX);
    break;
  default:
    field_error(s, f,
                "expected an unsigned integer without sign, fraction "
                "or exponent");
    break;
  }
  return 1;
}

static int on_string(void *ctx, const unsigned char *str, size_t len) {
  struct scan *s = ctx;
  int f = scalar_field(s);
  const struct eg__json_field *fd;

  if (f == STOP)
    return 0;
  if (f < 0)
    return 1;
  fd = &s->fields[f];
  if (fd->kind != EG__JSON_STRING) {
    type_error(s, f, "a string");
    return 1;
  }
  if (len >= fd->size) {
    field_error(s, f, "longer than %zu bytes", fd->size - 1);
    return 1;
  }
  /* "\u0000" decodes to a NUL byte, which C strings cannot carry. */
  if (memchr(str, '\0', len) != NULL) {
    field_error(s, f, "contains a NUL character");
    return 1;
  }
  memcpy(s->out + fd->offset, str, len);
  s->out[fd->offset + len] = '\0';
  s->present |= UINT64_C(1) << f;
  return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len) {
  struct scan *s = ctx;
  int obj = s->ctx[s->depth];

  s->pending = NONE;
  if (obj == UNKNOWN)
    return 1;
  for (int i = s->first[obj + 1]; i >= 0; i = s->next[i]) {
    if (s->name_len[i] == len && memcmp(s->fields[i].name, key, len) == 0) {
      s->pending = i;
      break;
    }
  }
  return 1;
}

static int push(struct scan *s, int what) {
  char rule[64];

  if (s->depth >= s->max_depth) {
    snprintf(rule, sizeof(rule), "nesting deeper than %u levels", s->max_depth);
    return fatal(s, rule);
  }
  s->ctx[++s->depth] = what;
  return 1;
}

static int on_start_map(void *ctx) {
  struct scan *s = ctx;
  int what = UNKNOWN;
  int f;

  if (s->depth == 0)
    return push(s, -1);
  f = take(s);
  if (f >= 0 && claim(s, f)) {
    if (s->fields[f].kind == EG__JSON_OBJECT) {
      what = f;
      s->present |= UINT64_C(1) << f;
    } else {
      type_error(s, f, "an object");
    }
  }
  return push(s, what);
}

static int on_start_array(void *ctx) {
  struct scan *s = ctx;
  int f;

  if (s->depth == 0)
    return fatal(s, "top-level value is not an object");
  f = take(s);
  if (f >= 0 && claim(s, f))
    type_error(s, f, "an array");
  return push(s, UNKNOWN);
}

static int on_end(void *ctx) {
  struct scan *s = ctx;

  assert(s->depth > 0);
  s->depth--;
  s->pending = NONE;
  return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* Checks the table and links each listed object's children. */
static int setup(struct scan *s) {
  for (size_t i = 0; i <= s->n; i++)
    s->first[i] = NONE;
  for (size_t i = s->n; i-- > 0;) {
    const struct eg__json_field *fd = &s->fields[i];

    if (fd->name == NULL || fd->parent < -1 || fd->parent >= (int)i ||
        (fd->parent >= 0 && s->fields[fd->parent].kind != EG__JSON_OBJECT) ||
        (fd->kind == EG__JSON_STRING && fd->size == 0) ||
        fd->kind > EG__JSON_U64)
      return EG_EINVAL;
    s->name_len[i] = strlen(fd->name);
    s->next[i] = s->first[fd->parent + 1];
    s->first[fd->parent + 1] = (int)i;
  }
  return EG_OK;
}

/* Copies yajl's error ("lexical error: invalid char in json text.\n") into
 * the scan message without its line end; yajl's short form never quotes the
 * input. */
static void yajl_error(struct scan *s, yajl_handle h, size_t offset) {
  unsigned char *e = yajl_get_error(h, 0, NULL, 0);
  size_t n;

  s->err = EG_EPARSE;
  if (e == NULL) {
    snprintf(s->msg, sizeof(s->msg), "json: malformed near byte %zu", offset);
    return;
  }
  n = strlen((char *)e);
  while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == '.' || e[n - 1] == ' '))
    n--;
  snprintf(s->msg, sizeof(s->msg), "json: %.*s near byte %zu", (int)n,
           (char *)e, offset);
  yajl_free_error(h, e);
}

/* yajl's UTF-8 check only looks at the shape of multi-byte sequences: it
 * lets overlong forms, surrogates (ED A0..BF xx) and code points past
 * U+10FFFF through. This is the strict check (Unicode table 3-7), with a
 * 32-bytes-at-a-time skip over ASCII, the common case. Non-ASCII outside
 * strings is a syntax error anyway, so checking the whole text is the same
 * as checking every string. Returns the offset of the first bad byte, or
 * len. */
static size_t utf8_check(const unsigned char *s, size_t len) {
  const uint64_t high = UINT64_C(0x8080808080808080);
  size_t i = 0;

  while (i < len) {
    unsigned char c;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    size_t need;

    while (len - i >= 32) {
      uint64_t w[4];

      memcpy(w, s + i, sizeof(w));
      if (((w[0] | w[1] | w[2] | w[3]) & high) != 0)
        break;
      i += 32;
    }
    if (i >= len)
      break;
    c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c == 0xe0)
        lo = 0xa0;
      else if (c == 0xed)
        hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c == 0xf0)
        lo = 0x90;
      else if (c == 0xf4)
        hi = 0x8f;
    } else {
      return i;
    }
    if (len - i <= need || s[i + 1] < lo || s[i + 1] > hi)
      return i;
    for (size_t k = 2; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return i;
    }
    i += need + 1;
  }
  return len;
}

static bool is_hex4(const unsigned char *p, unsigned *v) {
  *v = 0;
  for (int k = 0; k < 4; k++) {
    unsigned char c = p[k];
    unsigned d;

    if (c >= '0' && c <= '9')
      d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = (unsigned)(c - 'A' + 10);
    else
      return false;
    *v = (*v << 4) | d;
  }
  return true;
}

/* yajl decodes a lone "\ud800" to "?" and a high surrogate followed by a
 * non-surrogate escape to an unrelated code point, silently. Escapes only
 * occur inside strings (a backslash elsewhere is a syntax error yajl
 * reports), so walking the backslashes finds every \u escape: a high
 * surrogate must be followed by a low one, and a low one must follow a
 * high one. Returns the offset of the first bad escape, or len. */
static size_t surrogate_check(const unsigned char *s, size_t len) {
  const unsigned char *p = s;
  const unsigned char *end = s + len;

  while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
    unsigned v;
    unsigned w;

    if (end - p < 2)
      return len; /* truncated: yajl reports it */
    if (p[1] != 'u' || end - p < 6 || !is_hex4(p + 2, &v)) {
      p += 2;
      continue;
    }
    if (v >= 0xdc00 && v <= 0xdfff)
      return (size_t)(p - s);
    if (v >= 0xd800 && v <= 0xdbff) {
      if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !is_hex4(p + 8, &w) ||
          w < 0xdc00 || w > 0xdfff)
        return (size_t)(p - s);
      p += 12;
      continue;
    }
    p += 6;
  }
  return len;
}

int eg__json_scan(const struct eg__json_field *fields,
                  size_t n_fields,
                  unsigned max_depth,
                  const char *json,
                  size_t len,
                  void *out,
                  uint64_t *present,
                  char *errbuf,
                  size_t errbuf_len) {
  struct scan s;
  yajl_handle h;
  yajl_status st;
  size_t bad;
  int rc;

  if (present != NULL)
    *present = 0;
  if (fields == NULL || n_fields == 0 || n_fields > EG__JSON_MAX_FIELDS ||
      max_depth == 0 || max_depth > EG__JSON_MAX_DEPTH || json == NULL ||
      out == NULL || present == NULL)
    return EG_EINVAL;
  memset(&s, 0, sizeof(s));
  s.fields = fields;
  s.n = n_fields;
  s.max_depth = max_depth;
  s.out = out;
  s.pending = NONE;
  s.err = EG_OK;
  if (setup(&s) != EG_OK)
    return EG_EINVAL;

  bad = utf8_check((const unsigned char *)json, len);
  if (bad != len) {
    eg__seterr(errbuf, errbuf_len, "json: invalid UTF-8 near byte %zu", bad);
    return EG_EPARSE;
  }
  bad = surrogate_check((const unsigned char *)json, len);
  if (bad != len) {
    eg__seterr(errbuf, errbuf_len,
               "json: unpaired UTF-16 surrogate escape near byte %zu", bad);
    return EG_EPARSE;
  }

  h = yajl_alloc(&callbacks, NULL, &s);
  if (h == NULL)
    return EG_ENOMEM;
  /* These are yajl's defaults; set them anyway since they are the
   * contract: strict UTF-8, no comments, exactly one complete value. */
  yajl_config(h, yajl_allow_comments, 0);
  yajl_config(h, yajl_dont_validate_strings, 0);
  yajl_config(h, yajl_allow_trailing_garbage, 0);
  yajl_config(h, yajl_allow_multiple_values, 0);
  yajl_config(h, yajl_allow_partial_values, 0);

  st = yajl_parse(h, (const unsigned char *)json, len);
  if (st == yajl_status_ok) {
    st = yajl_complete_parse(h);
    if (st == yajl_status_error)
      yajl_error(&s, h, len);
  } else if (st == yajl_status_error) {
    yajl_error(&s, h, yajl_get_bytes_consumed(h));
  }
  /* yajl_status_client_canceled: s.err and s.msg are already set. */
  yajl_free(h);

  rc = s.err;
  if (rc != EG_OK)
    eg__seterr(errbuf, errbuf_len, "%s", s.msg);
  if (rc == EG_OK || rc == EG_EINVAL)
    *present = s.present;
  return rc;
}

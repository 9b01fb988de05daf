/* A read-only view of a parsed JSON document, for the GitHub response
 * parsers (gh_parse.c): simdjson's DOM seen from C. Values are small
 * handles into the document and live only inside the eg__json_dom()
 * callback. Internal to common/ (eg__ prefix). */
#ifndef EG_JSON_DOM_H
#define EG_JSON_DOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deep enough for any REST answer GitHub documents (a jobs page nests 4). */
#define EG__JSON_DOM_DEPTH 64

/* A value in the document (opaque: simdjson's tape reference). */
typedef struct eg__jv_s {
  const void *doc;
  size_t index;
} eg__jv_t;

/* Walks an array's elements in order. */
typedef struct eg__jiter_s {
  eg__jv_t at;
  eg__jv_t end;
} eg__jiter_t;

enum eg__jtype {
  EG__J_NULL,
  EG__J_BOOL,
  EG__J_NUMBER_INT, /* an integer: -2^63..2^64-1 */
  EG__J_NUMBER_REAL,
  EG__J_STRING,
  EG__J_ARRAY,
  EG__J_OBJECT
};

/* Parses len bytes at json (the rules of eg__json_scan(): strict UTF-8, no
 * BOM, numbers within int64/uint64/double; any top-level value; at most
 * EG__JSON_DOM_DEPTH nested containers) and calls use(root, ctx) while the
 * document is alive. Not reentrant: use() must not parse JSON again.
 * @returns use()'s result; EG_EPARSE (errbuf says why, never quoting the
 * input); EG_ENOMEM. */
int eg__json_dom(const char *json,
                 size_t len,
                 int (*use)(eg__jv_t root, void *ctx),
                 void *ctx,
                 char *errbuf,
                 size_t errbuf_len);

enum eg__jtype eg__jv_type(eg__jv_t v);

/* obj[key] into *out. @returns 1 found, 0 absent (or obj not an object),
 * -1 the key occurs more than once (which value is meant is unclear). */
int eg__jv_get(eg__jv_t obj, const char *key, eg__jv_t *out);

/* A string's bytes (not NUL-terminated; may hold NUL bytes). @returns
 * false when v is not a string. */
bool eg__jv_string(eg__jv_t v, const char **s, size_t *len);

/* An integer >= 0 (a "-0" reads as 0). @returns false for anything else. */
bool eg__jv_u64(eg__jv_t v, uint64_t *out);

/* Number of elements of an array, exact (0 for anything else). */
size_t eg__jv_array_size(eg__jv_t arr);

/* Starts walking arr: then eg__jiter_next() yields each element. @returns
 * false when arr is not an array. */
bool eg__jv_array_iter(eg__jv_t arr, eg__jiter_t *it);
bool eg__jiter_next(eg__jiter_t *it, eg__jv_t *out);

#endif /* EG_JSON_DOM_H */

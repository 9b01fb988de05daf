/* JSON field extraction over simdjson: validates a whole document and
 * copies only the fields named in a table.
 * Internal to common/ (eg__ prefix); event.c is its user. */
#ifndef EG_JSON_SCAN_H
#define EG_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits of the scanner: fields per table (one bit each in a uint64_t)
 * and nesting depth (the context stack is a fixed array). */
#define EG__JSON_MAX_FIELDS 64
#define EG__JSON_MAX_DEPTH  64

enum eg__json_kind {
  EG__JSON_OBJECT, /* a container: its own entries name it as parent */
  EG__JSON_STRING, /* copied with a NUL into char[size] at out + offset */
  EG__JSON_U64     /* a JSON integer 0..UINT64_MAX into uint64_t at offset */
};

/* The field may be null; null counts as absent (its bit stays clear). */
#define EG__JSON_NULLABLE 1u

struct eg__json_field {
  const char *name;        /* key inside the parent object */
  int parent;              /* index of an earlier EG__JSON_OBJECT; -1: root */
  enum eg__json_kind kind; /* expected JSON type */
  unsigned flags;          /* EG__JSON_NULLABLE or 0 */
  size_t offset;           /* STRING, U64: where in `out` the value goes */
  size_t size;             /* STRING: buffer size, NUL included (>= 1) */
};

/* Parses the len bytes at json as one JSON document: full grammar, strict
 * UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), every
 * \u surrogate escape paired, no comments, no byte order mark, nothing but
 * whitespace after the value, at most max_depth (<= EG__JSON_MAX_DEPTH)
 * nested arrays/objects, and the top-level value an object. Numbers must fit
 * (integers -2^63..2^64-1, others within double), as RFC 8259 section 9
 * allows a parser to require. Values at the paths in fields[] are stored into
 * out; every other value is checked for syntax only. Parsing never recurses
 * and never reads outside [json, json + len). A listed key that occurs twice
 * in the same object is an error (other duplicate keys are not tracked: their
 * values are never read). A listed field of the wrong type, a string longer
 * than size - 1 bytes or holding a NUL, and a number with sign, fraction or
 * exponent where an unsigned integer is listed are errors ("-0" reads as 0:
 * callers must refuse id 0). One such error is reported; `present` gets bit i
 * set for each fields[i] that was found with a valid value (for an object:
 * found as an object).
 * @returns EG_OK; EG_EPARSE (malformed JSON, too deep, top-level value not
 * an object); EG_EINVAL (well-formed but a listed field broke a rule: then
 * `present` and out still hold the fields that were valid); EG_ENOMEM.
 * errbuf names the field path and the rule, or the JSON problem (with the
 * byte offset for bad UTF-8 and unpaired surrogates). */
int eg__json_scan(const struct eg__json_field *fields,
                  size_t n_fields,
                  unsigned max_depth,
                  const char *json,
                  size_t len,
                  void *out,
                  uint64_t *present,
                  char *errbuf,
                  size_t errbuf_len);

#endif /* EG_JSON_SCAN_H */

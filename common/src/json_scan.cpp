/* JSON field extraction over simdjson's DOM parser: simdjson validates the
 * whole document (grammar, strict UTF-8, escapes) at a few bytes per cycle,
 * then only the listed objects are walked to copy the listed values.
 * C++ because simdjson has no C API; measured on the ingress's 8.5 KB
 * delivery it costs about a quarter of yajl's syntax-only pass
 * (docs/parsing.md). Everything crossing into C is plain data. */
#include "json_doc.h"

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

extern "C" {
#include "eg/error.h"
#include "internal.h"
#include "json_scan.h"
}

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

/* No listed field waits; also "not a listed object". */
constexpr int NONE = -1;

struct scan {
  const struct eg__json_field *fields;
  size_t n;
  char *out;
  uint64_t seen;    /* listed keys met so far (duplicate detection) */
  uint64_t present; /* listed fields stored with a valid value */
  /* Children of each listed object, as linked lists indexed by parent + 1,
   * so a key is compared only with its siblings. */
  int first[EG__JSON_MAX_FIELDS + 1];
  int next[EG__JSON_MAX_FIELDS];
  size_t name_len[EG__JSON_MAX_FIELDS];
  int err; /* EG_OK or the first field error */
  char msg[EG_ERRBUF_LEN];
};

/* Writes "a.b.c" for field f; the table's names are trusted constants. */
void path_of(const scan &s, int f, char *buf, size_t len) {
  int chain[EG__JSON_MAX_FIELDS];
  int n = 0;
  size_t used = 0;

  for (int i = f; i >= 0 && n < EG__JSON_MAX_FIELDS; i = s.fields[i].parent)
    chain[n++] = i;
  buf[0] = '\0';
  while (n-- > 0 && used < len) {
    int w = snprintf(buf + used, len - used, "%s%s", used > 0 ? "." : "",
                     s.fields[chain[n]].name);
    if (w < 0)
      break;
    used += static_cast<size_t>(w);
  }
}

/* Records the first field-level error; the walk goes on so that every
 * valid field still lands in `present`. */
__attribute__((format(printf, 3, 4))) void
field_error(scan &s, int f, const char *fmt, ...) {
  char path[96];
  char rule[128];
  va_list ap;

  if (s.err != EG_OK)
    return;
  va_start(ap, fmt);
  vsnprintf(rule, sizeof(rule), fmt, ap);
  va_end(ap);
  path_of(s, f, path, sizeof(path));
  s.err = EG_EINVAL;
  snprintf(s.msg, sizeof(s.msg), "%s: %s", path, rule);
}

const char *type_name(element_type t) {
  switch (t) {
  case element_type::ARRAY:
    return "an array";
  case element_type::OBJECT:
    return "an object";
  case element_type::INT64:
  case element_type::UINT64:
  case element_type::DOUBLE:
    return "a number";
  case element_type::STRING:
    return "a string";
  case element_type::BOOL:
    return "a boolean";
  case element_type::NULL_VALUE:
    break;
  }
  return "null";
}

void type_error(scan &s, int f, element_type got) {
  static const char *const want[] = {"an object", "a string",
                                     "an unsigned integer"};

  field_error(s, f, "expected %s, got %s", want[s.fields[f].kind],
              type_name(got));
}

/* simdjson reads integers that fit into int64 as INT64, larger ones up to
 * 2^64 - 1 as UINT64, and anything with a fraction or exponent as DOUBLE;
 * integers past 2^64 - 1 already failed the parse. "-0" reads as INT64 0,
 * so callers must treat id 0 as invalid (event.c does). */
void store_u64(scan &s, int f, element v) {
  uint64_t u;

  if (v.type() == element_type::UINT64) {
    u = v.get_uint64().value_unsafe();
  } else if (v.type() == element_type::INT64 &&
             v.get_int64().value_unsafe() >= 0) {
    u = static_cast<uint64_t>(v.get_int64().value_unsafe());
  } else {
    field_error(s, f,
                "expected an unsigned integer without sign, fraction "
                "or exponent");
    return;
  }
  memcpy(s.out + s.fields[f].offset, &u, sizeof(u));
  s.present |= UINT64_C(1) << f;
}

void store_string(scan &s, int f, element v) {
  const struct eg__json_field &fd = s.fields[f];
  std::string_view str = v.get_string().value_unsafe();

  if (str.size() >= fd.size) {
    field_error(s, f, "longer than %zu bytes", fd.size - 1);
    return;
  }
  /* "\u0000" decodes to a NUL byte, which C strings cannot carry. */
  if (memchr(str.data(), '\0', str.size()) != nullptr) {
    field_error(s, f, "contains a NUL character");
    return;
  }
  memcpy(s.out + fd.offset, str.data(), str.size());
  s.out[fd.offset + str.size()] = '\0';
  s.present |= UINT64_C(1) << f;
}

void walk(scan &s, int parent, object obj);

/* One listed value: its key occurs for the first time in its object. A
 * listed object is walked at once, so errors come in document order; the
 * recursion is as deep as the table's nesting, not the document's. */
void take(scan &s, int f, element v) {
  const struct eg__json_field &fd = s.fields[f];
  element_type t = v.type();

  if (t == element_type::NULL_VALUE) {
    if ((fd.flags & EG__JSON_NULLABLE) == 0)
      type_error(s, f, t);
    return;
  }
  switch (fd.kind) {
  case EG__JSON_OBJECT:
    if (t != element_type::OBJECT) {
      type_error(s, f, t);
      return;
    }
    s.present |= UINT64_C(1) << f;
    walk(s, f, v.get_object().value_unsafe());
    return;
  case EG__JSON_STRING:
    if (t != element_type::STRING)
      type_error(s, f, t);
    else
      store_string(s, f, v);
    return;
  case EG__JSON_U64:
    if (t != element_type::INT64 && t != element_type::UINT64 &&
        t != element_type::DOUBLE)
      type_error(s, f, t);
    else
      store_u64(s, f, v);
    return;
  }
}

/* Walks every key of one listed object (parent: its field index, -1 for
 * the root) and takes the values of its listed children. */
void walk(scan &s, int parent, object obj) {
  for (auto kv : obj) {
    std::string_view key = kv.key;

    for (int i = s.first[parent + 1]; i != NONE; i = s.next[i]) {
      uint64_t bit = UINT64_C(1) << i;

      if (s.name_len[i] != key.size() ||
          memcmp(s.fields[i].name, key.data(), key.size()) != 0)
        continue;
      if ((s.seen & bit) != 0) {
        s.present &= ~bit;
        field_error(s, i, "duplicate key");
      } else {
        s.seen |= bit;
        take(s, i, kv.value);
      }
      break;
    }
  }
}

/* Checks the table and links each listed object's children. */
int setup(scan &s) {
  for (size_t i = 0; i <= s.n; i++)
    s.first[i] = NONE;
  for (size_t i = s.n; i-- > 0;) {
    const struct eg__json_field &fd = s.fields[i];

    if (fd.name == nullptr || fd.parent < -1 ||
        fd.parent >= static_cast<int>(i) ||
        (fd.parent >= 0 && s.fields[fd.parent].kind != EG__JSON_OBJECT) ||
        (fd.kind == EG__JSON_STRING && fd.size == 0) || fd.kind > EG__JSON_U64)
      return EG_EINVAL;
    s.name_len[i] = strlen(fd.name);
    s.next[i] = s.first[fd.parent + 1];
    s.first[fd.parent + 1] = static_cast<int>(i);
  }
  return EG_OK;
}

/* The root of a parsed event: it must be an object, walked for the
 * listed fields. */
int scan_root(element root, void *ctx) {
  scan &s = *static_cast<scan *>(ctx);

  if (root.type() != element_type::OBJECT) {
    snprintf(s.msg, sizeof(s.msg), "json: top-level value is not an object");
    return EG_EPARSE;
  }
  walk(s, -1, root.get_object().value_unsafe());
  return s.err;
}

} /* namespace */

extern "C" int eg__json_scan(const struct eg__json_field *fields,
                             size_t n_fields,
                             unsigned max_depth,
                             const char *json,
                             size_t len,
                             void *out,
                             uint64_t *present,
                             char *errbuf,
                             size_t errbuf_len) {
  scan s;
  int rc;

  if (present != nullptr)
    *present = 0;
  if (fields == nullptr || n_fields == 0 || n_fields > EG__JSON_MAX_FIELDS ||
      max_depth == 0 || max_depth > EG__JSON_MAX_DEPTH || json == nullptr ||
      out == nullptr || present == nullptr)
    return EG_EINVAL;
  s.fields = fields;
  s.n = n_fields;
  s.out = static_cast<char *>(out);
  s.seen = 0;
  s.present = 0;
  s.err = EG_OK;
  s.msg[0] = '\0';
  if (setup(s) != EG_OK)
    return EG_EINVAL;

  rc = eg_json::parse(json, len, max_depth, scan_root, &s, errbuf, errbuf_len);
  /* A parse error was written by eg_json::parse; ours are in s.msg. */
  if (s.msg[0] != '\0')
    eg__seterr(errbuf, errbuf_len, "%s", s.msg);
  if (rc == EG_OK || rc == EG_EINVAL)
    *present = s.present;
  return rc;
}

/* simdjson's DOM behind a C interface: elements and array iterators are
 * copied bit for bit into plain structs (both are a document pointer and a
 * tape index in simdjson 3), so C holds no C++ object. */
#include "json_doc.h"

#include <cstring>
#include <string_view>
#include <type_traits>

extern "C" {
#include "eg/error.h"
#include "json_dom.h"
}

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;

static_assert(sizeof(element) == sizeof(eg__jv_t) &&
                  std::is_trivially_copyable<element>::value,
              "simdjson::dom::element is no longer a tape reference");
static_assert(sizeof(array::iterator) == sizeof(eg__jv_t) &&
                  std::is_trivially_copyable<array::iterator>::value,
              "simdjson::dom::array::iterator is no longer a tape reference");

template <typename T> T from_c(const eg__jv_t &v) {
  T t;
  memcpy(static_cast<void *>(&t), &v, sizeof(t));
  return t;
}

template <typename T> eg__jv_t to_c(const T &t) {
  eg__jv_t v;
  memcpy(&v, static_cast<const void *>(&t), sizeof(v));
  return v;
}

struct call {
  int (*use)(eg__jv_t, void *);
  void *ctx;
};

int use_root(element root, void *ctx) {
  call *c = static_cast<call *>(ctx);
  return c->use(to_c(root), c->ctx);
}

} /* namespace */

extern "C" int eg__json_dom(const char *json,
                            size_t len,
                            int (*use)(eg__jv_t root, void *ctx),
                            void *ctx,
                            char *errbuf,
                            size_t errbuf_len) {
  call c = {use, ctx};

  if (use == nullptr || (json == nullptr && len > 0))
    return EG_EINVAL;
  return eg_json::parse(json != nullptr ? json : "", len, EG__JSON_DOM_DEPTH,
                        use_root, &c, errbuf, errbuf_len);
}

extern "C" enum eg__jtype eg__jv_type(eg__jv_t v) {
  switch (from_c<element>(v).type()) {
  case element_type::ARRAY:
    return EG__J_ARRAY;
  case element_type::OBJECT:
    return EG__J_OBJECT;
  case element_type::INT64:
  case element_type::UINT64:
    return EG__J_NUMBER_INT;
  case element_type::DOUBLE:
    return EG__J_NUMBER_REAL;
  case element_type::STRING:
    return EG__J_STRING;
  case element_type::BOOL:
    return EG__J_BOOL;
  case element_type::NULL_VALUE:
    break;
  }
  return EG__J_NULL;
}

extern "C" int eg__jv_get(eg__jv_t obj, const char *key, eg__jv_t *out) {
  element e = from_c<element>(obj);
  std::string_view want(key);
  int found = 0;

  if (e.type() != element_type::OBJECT)
    return 0;
  /* A copy: a range-for over value_unsafe() of a temporary would dangle. */
  simdjson::dom::object o = e.get_object().value_unsafe();
  for (auto kv : o) {
    if (kv.key != want)
      continue;
    if (found++ > 0)
      return -1;
    *out = to_c(kv.value);
  }
  return found;
}

extern "C" bool eg__jv_string(eg__jv_t v, const char **s, size_t *len) {
  element e = from_c<element>(v);

  if (e.type() != element_type::STRING)
    return false;
  std::string_view str = e.get_string().value_unsafe();
  *s = str.data();
  *len = str.size();
  return true;
}

extern "C" bool eg__jv_u64(eg__jv_t v, uint64_t *out) {
  element e = from_c<element>(v);

  if (e.type() == element_type::UINT64) {
    *out = e.get_uint64().value_unsafe();
    return true;
  }
  if (e.type() == element_type::INT64 && e.get_int64().value_unsafe() >= 0) {
    *out = static_cast<uint64_t>(e.get_int64().value_unsafe());
    return true;
  }
  return false;
}

extern "C" size_t eg__jv_array_size(eg__jv_t arr) {
  element e = from_c<element>(arr);
  size_t n;

  if (e.type() != element_type::ARRAY)
    return 0;
  array a = e.get_array().value_unsafe();
  /* simdjson saturates the stored count at 0xFFFFFF; callers size buffers
   * by it, so a longer array is counted. */
  n = a.size();
  if (n == 0xFFFFFF) {
    n = 0;
    for (auto it = a.begin(); it != a.end(); ++it)
      n++;
  }
  return n;
}

extern "C" bool eg__jv_array_iter(eg__jv_t arr, eg__jiter_t *it) {
  element e = from_c<element>(arr);

  if (e.type() != element_type::ARRAY)
    return false;
  array a = e.get_array().value_unsafe();
  it->at = to_c(a.begin());
  it->end = to_c(a.end());
  return true;
}

extern "C" bool eg__jiter_next(eg__jiter_t *it, eg__jv_t *out) {
  array::iterator at = from_c<array::iterator>(it->at);

  if (at == from_c<array::iterator>(it->end))
    return false;
  *out = to_c(*at);
  ++at;
  it->at = to_c(at);
  return true;
}

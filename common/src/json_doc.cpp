/* simdjson's parse step for every JSON reader in common/: one parser per
 * thread, strict input rules, and simdjson's errors turned into ours
 * (messages never quote the input). */
#include "json_doc.h"

#include <cstdint>
#include <cstring>

extern "C" {
#include "eg/error.h"
#include "internal.h"
}

namespace {

/* Each thread keeps one parser (its buffers grow to the largest document it
 * has seen). Documents over this size get a parser of their own that is
 * freed afterwards, so a worker with hundreds of threads never holds more
 * than about 14 x this per thread (simdjson's tape and string buffers). */
constexpr size_t RETAINED_CAPACITY_MAX = 64 * 1024;
thread_local simdjson::dom::parser thread_parser(RETAINED_CAPACITY_MAX);

/* The offset of the first byte breaking Unicode table 3-7, or len. Only
 * used to say where simdjson found invalid UTF-8. */
size_t utf8_error_offset(const unsigned char *s, size_t len) {
  size_t i = 0;

  while (i < len) {
    unsigned char c = s[i];
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    size_t need;

    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      lo = c == 0xe0 ? 0xa0 : 0x80;
      hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      lo = c == 0xf0 ? 0x90 : 0x80;
      hi = c == 0xf4 ? 0x8f : 0xbf;
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

bool is_hex4(const unsigned char *p, unsigned *v) {
  *v = 0;
  for (int k = 0; k < 4; k++) {
    unsigned char c = p[k];
    unsigned d;

    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = static_cast<unsigned>(c - 'A' + 10);
    else
      return false;
    *v = (*v << 4) | d;
  }
  return true;
}

/* The offset of the first \u escape that is half of a surrogate pair
 * without its other half, or len. simdjson rejects these as a string error;
 * this only says which one, for the message. */
size_t surrogate_error_offset(const unsigned char *s, size_t len) {
  const unsigned char *p = s;
  const unsigned char *end = s + len;

  while ((p = static_cast<const unsigned char *>(
              memchr(p, '\\', static_cast<size_t>(end - p)))) != nullptr) {
    unsigned v;
    unsigned w;

    if (end - p < 2)
      return len;
    if (p[1] != 'u' || end - p < 6 || !is_hex4(p + 2, &v)) {
      p += 2;
      continue;
    }
    if (v >= 0xdc00 && v <= 0xdfff)
      return static_cast<size_t>(p - s);
    if (v >= 0xd800 && v <= 0xdbff) {
      if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !is_hex4(p + 8, &w) ||
          w < 0xdc00 || w > 0xdfff)
        return static_cast<size_t>(p - s);
      p += 12;
      continue;
    }
    p += 6;
  }
  return len;
}

/* Turns simdjson's error into ours. Messages never quote the input. */
int parse_error(simdjson::error_code e,
                const char *json,
                size_t len,
                unsigned max_depth,
                char *errbuf,
                size_t errbuf_len) {
  const unsigned char *u = reinterpret_cast<const unsigned char *>(json);
  size_t at;

  switch (e) {
  case simdjson::MEMALLOC:
    return EG_ENOMEM;
  case simdjson::EMPTY:
    eg__seterr(errbuf, errbuf_len, "json: empty document");
    break;
  case simdjson::UTF8_ERROR:
    eg__seterr(errbuf, errbuf_len, "json: invalid UTF-8 near byte %zu",
               utf8_error_offset(u, len));
    break;
  case simdjson::STRING_ERROR:
    at = surrogate_error_offset(u, len);
    if (at != len)
      eg__seterr(errbuf, errbuf_len,
                 "json: unpaired UTF-16 surrogate escape near byte %zu", at);
    else
      eg__seterr(errbuf, errbuf_len, "json: invalid string escape");
    break;
  case simdjson::UNESCAPED_CHARS:
    eg__seterr(errbuf, errbuf_len, "json: control character in a string");
    break;
  case simdjson::UNCLOSED_STRING:
    eg__seterr(errbuf, errbuf_len, "json: unclosed string");
    break;
  case simdjson::DEPTH_ERROR:
    eg__seterr(errbuf, errbuf_len, "json: nesting deeper than %u levels",
               max_depth);
    break;
  case simdjson::NUMBER_ERROR:
    eg__seterr(errbuf, errbuf_len,
               "json: malformed number, or one out of range (integers "
               "-2^63..2^64-1, floats within double)");
    break;
  case simdjson::T_ATOM_ERROR:
  case simdjson::F_ATOM_ERROR:
  case simdjson::N_ATOM_ERROR:
    eg__seterr(errbuf, errbuf_len, "json: invalid literal");
    break;
  case simdjson::CAPACITY:
    eg__seterr(errbuf, errbuf_len, "json: document too large");
    break;
  default:
    eg__seterr(errbuf, errbuf_len,
               "json: malformed (a missing or extra comma, colon, bracket "
               "or value, or text after the value)");
    break;
  }
  return EG_EPARSE;
}

int parse_with(simdjson::dom::parser &parser,
               const char *json,
               size_t len,
               unsigned max_depth,
               eg_json::use_fn use,
               void *ctx,
               char *errbuf,
               size_t errbuf_len) {
  simdjson::dom::element root;
  size_t want =
      len < RETAINED_CAPACITY_MAX / 4 ? RETAINED_CAPACITY_MAX / 4 : len;
  simdjson::error_code e;

  /* simdjson counts a scalar inside the deepest container as one more
   * level, so max_depth + 1 admits max_depth levels of containers with
   * values in them (an empty container may sit one level deeper). */
  if (parser.capacity() < want || parser.max_depth() != max_depth + 1) {
    e = parser.allocate(want, max_depth + 1);
    if (e != simdjson::SUCCESS)
      return parse_error(e, json, len, max_depth, errbuf, errbuf_len);
  }
  /* RFC 8259 lets a parser ignore a byte order mark; GitHub never sends
   * one, and a body must mean the same to every reader. */
  if (len >= 3 && memcmp(json, "\xef\xbb\xbf", 3) == 0) {
    eg__seterr(errbuf, errbuf_len, "json: byte order mark before the value");
    return EG_EPARSE;
  }
  /* The copy gives simdjson the padding it reads past the end. */
  e = parser.parse(json, len, true).get(root);
  if (e != simdjson::SUCCESS)
    return parse_error(e, json, len, max_depth, errbuf, errbuf_len);
  return use(root, ctx);
}

} /* namespace */

int eg_json::parse(const char *json,
                   size_t len,
                   unsigned max_depth,
                   use_fn use,
                   void *ctx,
                   char *errbuf,
                   size_t errbuf_len) {
  if (len <= RETAINED_CAPACITY_MAX)
    return parse_with(thread_parser, json, len, max_depth, use, ctx, errbuf,
                      errbuf_len);
  simdjson::dom::parser once;
  return parse_with(once, json, len, max_depth, use, ctx, errbuf, errbuf_len);
}

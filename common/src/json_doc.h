/* The simdjson parse step shared by the JSON readers of common/
 * (json_scan.cpp: fields of an event; json_dom.cpp: GitHub's answers).
 * C++ only, internal. */
#ifndef EG_JSON_DOC_H
#define EG_JSON_DOC_H

#include <simdjson.h>

#include <cstddef>

namespace eg_json {

/* Called with the parsed document's root while the document is alive; its
 * return value is the parse's. */
typedef int (*use_fn)(simdjson::dom::element root, void *ctx);

/* Parses the len bytes at json with this thread's parser (or, for a large
 * document, one of its own) and hands the root to use(). The document obeys
 * the rules listed at eg__json_scan() (strict UTF-8, no BOM, numbers within
 * int64/uint64/double, at most max_depth nested containers); the top-level
 * value may be of any type. Not reentrant: use() must not parse again.
 * @returns use()'s result; EG_EPARSE with a message that never quotes the
 * input; EG_ENOMEM. */
int parse(const char *json,
          size_t len,
          unsigned max_depth,
          use_fn use,
          void *ctx,
          char *errbuf,
          size_t errbuf_len);

} /* namespace eg_json */

#endif /* EG_JSON_DOC_H */

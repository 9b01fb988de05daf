/* libFuzzer target for the GitHub response-header parsers: any header line,
 * Link value, date or path must be answered without a crash, leak or read
 * out of bounds, and whatever is accepted must be valid. Build and run:
 * tools/fuzz.sh fuzz_gh_headers. */
#include "eg/error.h"
#include "eg/gh_headers.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const bases[] = {"https://api.github.com",
                                    "https://ghe.example.com/api/v3",
                                    "http://127.0.0.1:8080"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *base;
  const char *s;
  eg_gh_headers_t h;
  char path[64];
  char *z;
  int64_t t;

  if (size == 0)
    return 0;
  /* The first byte picks the base URL; the rest is the input. */
  base = bases[data[0] % 3];
  s = (const char *)data + 1;
  size--;

  eg_gh_headers_init(&h);
  eg_gh_headers_feed(&h, s, size, base);
  eg_gh_headers_finish(&h, (int64_t)size * 1000003);
  if (memchr(h.next, '\0', sizeof(h.next)) == NULL ||
      memchr(h.resource, '\0', sizeof(h.resource)) == NULL ||
      memchr(h.request_id, '\0', sizeof(h.request_id)) == NULL)
    __builtin_trap();
  if (h.has_next && !eg_gh_path_is_valid(h.next))
    __builtin_trap();
  if (h.has_retry_after && h.retry_after_s < 0)
    __builtin_trap();

  if (eg_gh_link_next(s, size, base, path, sizeof(path)) == EG_OK) {
    if (!eg_gh_path_is_valid(path))
      __builtin_trap();
  } else if (path[0] != '\0') {
    __builtin_trap();
  }
  if (eg_gh_http_date(s, size, &t) == EG_OK && (t < 0 || size != 29))
    __builtin_trap();

  z = malloc(size + 1);
  if (z == NULL)
    return 0;
  memcpy(z, s, size);
  z[size] = '\0';
  (void)eg_gh_path_is_valid(z);
  free(z);
  return 0;
}

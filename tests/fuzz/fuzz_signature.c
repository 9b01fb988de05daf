/* libFuzzer target for X-Hub-Signature-256: eg_signature_parse() on any
 * header value, and eg_signature_verify() on a fuzzed header and body. The
 * input is "<header>\n<body>" (no newline: all header, empty body).
 * Invariants: an accepted header is exactly "sha256=" and 64 lower-case hex
 * digits, and formats back to itself; verify accepts a header only when it
 * is the HMAC of the body under one of the secrets, and always accepts
 * that HMAC. Build and run: tools/fuzz.sh fuzz_signature. */
#include "eg/error.h"
#include "eg/signature.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      __builtin_trap();                                                        \
  } while (0)

static const char *const secrets[] = {"fuzz-secret-newest-0123456789abcdef",
                                      "fuzz-secret-older-0123456789abcdef"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static eg_signature_verifier_t *sv;
  unsigned char digest[EG_SIGNATURE_DIGEST_LEN];
  char expect[EG_SIGNATURE_HEADER_SIZE];
  const uint8_t *nl = memchr(data, '\n', size);
  size_t hlen = nl != NULL ? (size_t)(nl - data) : size;
  const uint8_t *body = nl != NULL ? nl + 1 : data + size;
  size_t blen = size - (size_t)(body - data);
  size_t matched = 99;
  char *header;
  int rc;

  if (sv == NULL &&
      eg_signature_verifier_new(secrets, 2, &sv, NULL, 0) != EG_OK)
    abort();
  /* The header as the HTTP server hands it over: NUL-terminated, cut at
   * the first NUL byte if it holds one. */
  header = malloc(hlen + 1);
  if (header == NULL)
    return 0;
  memcpy(header, data, hlen);
  header[hlen] = '\0';

  rc = eg_signature_parse(header, digest);
  if (rc == EG_OK) {
    static const char hex[] = "0123456789abcdef";

    CHECK(strlen(header) == EG_SIGNATURE_HEADER_LEN);
    CHECK(memcmp(header, "sha256=", 7) == 0);
    for (size_t i = 0; i < EG_SIGNATURE_DIGEST_LEN; i++)
      CHECK(header[7 + 2 * i] == hex[digest[i] >> 4] &&
            header[8 + 2 * i] == hex[digest[i] & 15]);
  } else {
    unsigned char zero[EG_SIGNATURE_DIGEST_LEN] = {0};

    CHECK(rc == EG_EINVAL);
    CHECK(memcmp(digest, zero, sizeof(zero)) == 0);
  }

  rc = eg_signature_verify(sv, header, body, blen, &matched);
  if (rc == EG_OK) {
    /* Only the real HMAC under the secret it names passes. */
    CHECK(matched < 2);
    CHECK(eg_signature_compute(secrets[matched], body, blen, expect,
                               sizeof(expect)) == EG_OK);
    CHECK(strcmp(expect, header) == 0);
  } else {
    CHECK(rc == EG_EAUTH || rc == EG_EINVAL);
    CHECK(matched == 99);
    CHECK(rc != EG_EAUTH || eg_signature_parse(header, digest) == EG_OK);
  }

  /* The right HMAC always passes, for either secret, naming it. */
  for (size_t i = 0; i < 2; i++) {
    CHECK(eg_signature_compute(secrets[i], body, blen, expect,
                               sizeof(expect)) == EG_OK);
    CHECK(eg_signature_verify(sv, expect, body, blen, &matched) == EG_OK);
    CHECK(matched == i);
  }
  free(header);
  return 0;
}

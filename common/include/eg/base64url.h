/* base64url (RFC 4648 section 5) without padding, as JWTs use it (RFC 7515).
 * Built on OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock. */
#ifndef EG_BASE64URL_H
#define EG_BASE64URL_H

#include <stddef.h>

/* Largest input either direction accepts: 16 MiB of encoded text. */
#define EG_BASE64URL_MAX_ENCODED ((size_t)16 * 1024 * 1024)

/* Length of the unpadded encoding of n bytes, without the NUL; 0 when n is
 * over the limit (n > EG_BASE64URL_MAX_ENCODED / 4 * 3). */
size_t eg_base64url_encoded_len(size_t n);

/* Exact number of bytes that in_len valid characters decode to (an upper
 * bound when in_len % 4 == 1, which is never valid). */
size_t eg_base64url_decoded_len(size_t in_len);

/* Encodes in_len bytes at in (in may be NULL when in_len is 0) into out as a
 * NUL-terminated string without '=' padding. out_len must be at least
 * eg_base64url_encoded_len(in_len) + 1. Thread-safe.
 * @returns EG_OK, EG_EINVAL (NULL argument), EG_ETOOBIG (input over the limit)
 * or EG_ERANGE (out too small; out is then left as an empty string when
 * out_len > 0). */
int eg_base64url_encode(const void *in,
                        size_t in_len,
                        char *out,
                        size_t out_len);

/* Decodes the in_len characters at in (not necessarily NUL-terminated) into
 * out, which has room for out_cap bytes, and sets *out_len to the number of
 * bytes written. Strict: only [A-Za-z0-9_-], no padding, no whitespace, and
 * the encoding must be canonical (unused low bits of the last character are
 * zero), so every byte string has exactly one accepted encoding. An empty
 * input decodes to zero bytes. Thread-safe.
 * @returns EG_OK, EG_EINVAL (NULL argument or not valid base64url),
 * EG_ETOOBIG (input over the limit) or EG_ERANGE (out_cap too small). On
 * failure *out_len is 0 and the contents of out are unspecified. */
int eg_base64url_decode(
    const char *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);

#endif /* EG_BASE64URL_H */

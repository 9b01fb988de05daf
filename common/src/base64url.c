/* base64url without padding on top of OpenSSL's standard base64 coder: the
 * alphabet is translated and padding added or dropped around the EVP calls. */
#include "eg/base64url.h"
#include "eg/error.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

/* Characters translated per EVP_DecodeBlock call; a multiple of 4 so every
 * chunk but the tail decodes to whole 3-byte groups. */
#define DECODE_CHUNK 256

size_t eg_base64url_encoded_len(size_t n) {
  if (n > EG_BASE64URL_MAX_ENCODED / 4 * 3)
    return 0;
  return n / 3 * 4 + (n % 3 != 0 ? n % 3 + 1 : 0);
}

size_t eg_base64url_decoded_len(size_t in_len) {
  return in_len / 4 * 3 + (in_len % 4 > 1 ? in_len % 4 - 1 : 0);
}

static bool is_b64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Copies n base64url characters to dst in the standard alphabet. */
static void to_std(char *dst, const char *src, size_t n) {
  for (size_t i = 0; i < n; i++)
    dst[i] = src[i] == '-' ? '+' : src[i] == '_' ? '/' : src[i];
}

int eg_base64url_encode(const void *in,
                        size_t in_len,
                        char *out,
                        size_t out_len) {
  const unsigned char *src = in;
  size_t enc, full, rem;

  if ((in == NULL && in_len > 0) || out == NULL)
    return EG_EINVAL;
  if (out_len > 0)
    out[0] = '\0';
  if (in_len > EG_BASE64URL_MAX_ENCODED / 4 * 3)
    return EG_ETOOBIG;
  enc = eg_base64url_encoded_len(in_len);
  if (out_len < enc + 1)
    return EG_ERANGE;
  /* Whole 3-byte groups encode without padding straight into out (the NUL
   * EVP_EncodeBlock appends lands at most at out[enc]). The 1- or 2-byte
   * tail goes through a small buffer so its '=' padding can be dropped. */
  full = in_len / 3 * 3;
  rem = in_len - full;
  if (full > 0)
    EVP_EncodeBlock((unsigned char *)out, src, (int)full);
  if (rem > 0) {
    unsigned char tail[5];

    EVP_EncodeBlock(tail, src + full, (int)rem);
    memcpy(out + full / 3 * 4, tail, rem + 1);
  }
  out[enc] = '\0';
  for (size_t i = 0; i < enc; i++) {
    if (out[i] == '+')
      out[i] = '-';
    else if (out[i] == '/')
      out[i] = '_';
  }
  return EG_OK;
}

int eg_base64url_decode(
    const char *in, size_t in_len, void *out, size_t out_cap, size_t *out_len) {
  unsigned char *dst = out;
  char chunk[DECODE_CHUNK];
  size_t full, rem, pos = 0, done = 0;

  if (out_len == NULL)
    return EG_EINVAL;
  *out_len = 0;
  if ((in == NULL && in_len > 0) || (out == NULL && out_cap > 0))
    return EG_EINVAL;
  if (in_len > EG_BASE64URL_MAX_ENCODED)
    return EG_ETOOBIG;
  /* EVP_DecodeBlock skips surrounding whitespace and accepts padding, so the
   * strict rules are enforced here before it sees the text. */
  if (in_len % 4 == 1)
    return EG_EINVAL;
  for (size_t i = 0; i < in_len; i++) {
    if (!is_b64url(in[i]))
      return EG_EINVAL;
  }
  if (eg_base64url_decoded_len(in_len) > out_cap)
    return EG_ERANGE;

  full = in_len - in_len % 4;
  rem = in_len % 4;
  while (pos < full) {
    size_t n = full - pos < DECODE_CHUNK ? full - pos : DECODE_CHUNK;

    to_std(chunk, in + pos, n);
    if (EVP_DecodeBlock(dst + done, (const unsigned char *)chunk, (int)n) !=
        (int)(n / 4 * 3))
      return EG_EINVAL;
    pos += n;
    done += n / 4 * 3;
  }
  if (rem > 0) {
    unsigned char group[4] = {'=', '=', '=', '='};
    unsigned char bytes[3];

    to_std((char *)group, in + pos, rem);
    if (EVP_DecodeBlock(bytes, group, 4) != 3)
      return EG_EINVAL;
    /* '=' decodes as zero bits, so bytes[rem - 1] holds exactly the unused
     * low bits of the last character: they must be zero (canonical form). */
    if (bytes[rem - 1] != 0)
      return EG_EINVAL;
    memcpy(dst + done, bytes, rem - 1);
    done += rem - 1;
  }
  *out_len = done;
  return EG_OK;
}

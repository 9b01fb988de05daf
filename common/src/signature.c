/* X-Hub-Signature-256 parsing, computation and verification with HMAC-SHA256
 * (OpenSSL 3 EVP_MAC). */
#include "eg/signature.h"
#include "eg/error.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define PREFIX     "sha256="
#define PREFIX_LEN (sizeof(PREFIX) - 1)

struct eg_signature_verifier_s {
  size_t n;
  /* One HMAC context per secret, initialised with its key and never updated:
   * the key pads are hashed once here, and each verification works on a
   * duplicate, so the templates are only ever read after creation. */
  EVP_MAC_CTX *tmpl[EG_SIGNATURE_MAX_SECRETS];
};

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

int eg_signature_parse(const char *header,
                       unsigned char digest[EG_SIGNATURE_DIGEST_LEN]) {
  const char *hex;

  if (digest == NULL)
    return EG_EINVAL;
  memset(digest, 0, EG_SIGNATURE_DIGEST_LEN);
  if (header == NULL || strncmp(header, PREFIX, PREFIX_LEN) != 0)
    return EG_EINVAL;
  hex = header + PREFIX_LEN;
  /* strnlen bounds the scan of an attacker-sized header. */
  if (strnlen(hex, 2 * EG_SIGNATURE_DIGEST_LEN + 1) !=
      2 * EG_SIGNATURE_DIGEST_LEN)
    return EG_EINVAL;
  for (size_t i = 0; i < EG_SIGNATURE_DIGEST_LEN; i++) {
    int hi = hexval(hex[2 * i]);
    int lo = hexval(hex[2 * i + 1]);

    if (hi < 0 || lo < 0) {
      memset(digest, 0, EG_SIGNATURE_DIGEST_LEN);
      return EG_EINVAL;
    }
    digest[i] = (unsigned char)(hi << 4 | lo);
  }
  return EG_OK;
}

/* Writes "sha256=<lower-case hex>" and its NUL to out (72 bytes). */
static void format_header(const unsigned char *digest, char *out) {
  static const char digits[] = "0123456789abcdef";

  memcpy(out, PREFIX, PREFIX_LEN);
  for (size_t i = 0; i < EG_SIGNATURE_DIGEST_LEN; i++) {
    out[PREFIX_LEN + 2 * i] = digits[digest[i] >> 4];
    out[PREFIX_LEN + 2 * i + 1] = digits[digest[i] & 0x0f];
  }
  out[EG_SIGNATURE_HEADER_LEN] = '\0';
}

int eg_signature_compute(const char *secret,
                         const void *body,
                         size_t body_len,
                         char *out,
                         size_t out_len) {
  unsigned char digest[EG_SIGNATURE_DIGEST_LEN];
  size_t dlen = 0;

  if (out == NULL)
    return EG_EINVAL;
  if (out_len > 0)
    out[0] = '\0';
  if (secret == NULL || secret[0] == '\0' || (body == NULL && body_len > 0))
    return EG_EINVAL;
  if (out_len < EG_SIGNATURE_HEADER_SIZE)
    return EG_ERANGE;
  if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
                body != NULL ? body : "", body_len, digest, sizeof(digest),
                &dlen) == NULL ||
      dlen != sizeof(digest)) {
    ERR_clear_error();
    return EG_ECRYPTO;
  }
  format_header(digest, out);
  OPENSSL_cleanse(digest, sizeof(digest));
  return EG_OK;
}

void eg_signature_verifier_free(eg_signature_verifier_t *sv) {
  if (sv == NULL)
    return;
  /* EVP_MAC_CTX_free clears the HMAC key copy and digest states. */
  for (size_t i = 0; i < sv->n; i++)
    EVP_MAC_CTX_free(sv->tmpl[i]);
  OPENSSL_cleanse(sv, sizeof(*sv));
  free(sv);
}

int eg_signature_verifier_new(const char *const *secrets,
                              size_t n,
                              eg_signature_verifier_t **out,
                              char *errbuf,
                              size_t errbuf_len) {
  eg_signature_verifier_t *sv = NULL;
  EVP_MAC *mac = NULL;
  OSSL_PARAM params[2];
  int rc;

  if (out == NULL) {
    eg__seterr(errbuf, errbuf_len, "signature verifier: NULL output");
    return EG_EINVAL;
  }
  *out = NULL;
  if (secrets == NULL || n == 0 || n > EG_SIGNATURE_MAX_SECRETS) {
    eg__seterr(errbuf, errbuf_len,
               "webhook secrets: need 1 to %d secrets, got %zu",
               EG_SIGNATURE_MAX_SECRETS, secrets == NULL ? 0 : n);
    return EG_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    if (secrets[i] == NULL || secrets[i][0] == '\0') {
      eg__seterr(errbuf, errbuf_len, "webhook secret %zu: empty", i + 1);
      return EG_EINVAL;
    }
  }
  sv = calloc(1, sizeof(*sv));
  if (sv == NULL) {
    eg__seterr(errbuf, errbuf_len, "signature verifier: out of memory");
    return EG_ENOMEM;
  }
  mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (mac == NULL) {
    rc = EG_ECRYPTO;
    eg__seterr(errbuf, errbuf_len, "signature verifier: HMAC unavailable");
    goto fail;
  }
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                               (char *)"SHA256", 0);
  params[1] = OSSL_PARAM_construct_end();
  for (size_t i = 0; i < n; i++) {
    sv->tmpl[i] = EVP_MAC_CTX_new(mac);
    if (sv->tmpl[i] == NULL) {
      rc = EG_ENOMEM;
      eg__seterr(errbuf, errbuf_len, "signature verifier: out of memory");
      goto fail;
    }
    sv->n = i + 1;
    if (!EVP_MAC_init(sv->tmpl[i], (const unsigned char *)secrets[i],
                      strlen(secrets[i]), params)) {
      rc = EG_ECRYPTO;
      eg__seterr(errbuf, errbuf_len,
                 "webhook secret %zu: HMAC-SHA256 setup failed", i + 1);
      goto fail;
    }
  }
  /* Each context holds its own reference to the algorithm. */
  EVP_MAC_free(mac);
  *out = sv;
  return EG_OK;
fail:
  ERR_clear_error();
  EVP_MAC_free(mac);
  eg_signature_verifier_free(sv);
  return rc;
}

/* HMACs body with a copy of one prepared template. */
static int hmac_body(const EVP_MAC_CTX *tmpl,
                     const void *body,
                     size_t body_len,
                     unsigned char *digest) {
  EVP_MAC_CTX *ctx;
  size_t dlen = 0;
  int rc = EG_OK;

  /* EVP_MAC_CTX_dup only reads its source (its prototype lacks const). */
  ctx = EVP_MAC_CTX_dup((EVP_MAC_CTX *)tmpl);
  if (ctx == NULL) {
    ERR_clear_error();
    return EG_ENOMEM;
  }
  if ((body_len > 0 && !EVP_MAC_update(ctx, body, body_len)) ||
      !EVP_MAC_final(ctx, digest, &dlen, EG_SIGNATURE_DIGEST_LEN) ||
      dlen != EG_SIGNATURE_DIGEST_LEN) {
    ERR_clear_error();
    rc = EG_ECRYPTO;
  }
  EVP_MAC_CTX_free(ctx);
  return rc;
}

int eg_signature_verify(const eg_signature_verifier_t *sv,
                        const char *header,
                        const void *body,
                        size_t body_len,
                        size_t *matched) {
  unsigned char want[EG_SIGNATURE_DIGEST_LEN];
  unsigned char got[EG_SIGNATURE_DIGEST_LEN];
  unsigned int any = 0;
  size_t first = 0;
  int rc = EG_OK;

  if (sv == NULL || header == NULL || (body == NULL && body_len > 0))
    return EG_EINVAL;
  if (eg_signature_parse(header, want) != EG_OK)
    return EG_EINVAL;
  /* Try every secret and fold the results with masks rather than branches,
   * so that neither an early exit nor the index bookkeeping reveals which
   * secret matched. A failure here is memory or OpenSSL trouble, which does
   * not depend on the secrets, so it may return at once. */
  for (size_t i = 0; i < sv->n; i++) {
    unsigned int eq;
    size_t take;

    rc = hmac_body(sv->tmpl[i], body, body_len, got);
    if (rc != EG_OK)
      break;
    eq = (unsigned int)(CRYPTO_memcmp(got, want, sizeof(got)) == 0);
    take = (size_t)0 - (size_t)(eq & (any ^ 1u));
    first = (i & take) | (first & ~take);
    any |= eq;
  }
  OPENSSL_cleanse(got, sizeof(got));
  if (rc != EG_OK)
    return rc;
  if (!any)
    return EG_EAUTH;
  if (matched != NULL)
    *matched = first;
  return EG_OK;
}

/* GitHub App JWTs: RS256 minting with a key loaded once, and verification of
 * tokens against GitHub's rules (for the simulator). */
#include "eg/jwt.h"
#include "eg/base64url.h"
#include "eg/error.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#define HEADER_JSON "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"

struct eg_jwt_signer_s {
  /* Only read after creation; OpenSSL 3 allows concurrent signing with one
   * key, guarding its internal export cache with the key's own lock. */
  EVP_PKEY *pkey;
};

static bool iss_is_valid(const char *iss, size_t len) {
  if (len == 0 || len > EG_JWT_ISS_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = iss[i];

    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* Decodes PEM text into an RSA key of an accepted size. selection is
 * EVP_PKEY_KEYPAIR to demand a private key, or 0 for any key. OpenSSL's
 * error queue is cleared rather than reported: its text is generic, and the
 * rule broken is stated here instead. No passphrase callback is set, so an
 * encrypted key fails rather than prompting. */
static int load_rsa_key(const char *pem,
                        size_t pem_len,
                        int selection,
                        const char *what,
                        EVP_PKEY **out,
                        char *errbuf,
                        size_t errbuf_len) {
  OSSL_DECODER_CTX *dctx;
  EVP_PKEY *pkey = NULL;
  const unsigned char *data = (const unsigned char *)pem;
  size_t left = pem_len;
  const char *type;
  int ok, bits;

  *out = NULL;
  if (pem_len > EG_JWT_PEM_MAX) {
    eg__seterr(errbuf, errbuf_len, "%s: PEM larger than %d bytes", what,
               EG_JWT_PEM_MAX);
    return EG_ETOOBIG;
  }
  dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, selection,
                                       NULL, NULL);
  if (dctx == NULL) {
    ERR_clear_error();
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
    return EG_ENOMEM;
  }
  ok = OSSL_DECODER_from_data(dctx, &data, &left);
  OSSL_DECODER_CTX_free(dctx);
  ERR_clear_error();
  if (!ok || pkey == NULL) {
    EVP_PKEY_free(pkey);
    eg__seterr(errbuf, errbuf_len,
               selection == EVP_PKEY_KEYPAIR
                   ? "%s: no unencrypted PKCS#1 or PKCS#8 private key in PEM"
                   : "%s: no public or unencrypted private key in PEM",
               what);
    return EG_EINVAL;
  }
  if (!EVP_PKEY_is_a(pkey, "RSA")) {
    type = EVP_PKEY_get0_type_name(pkey);
    eg__seterr(errbuf, errbuf_len, "%s: %s key, RS256 needs an RSA key", what,
               type != NULL ? type : "non-RSA");
    EVP_PKEY_free(pkey);
    return EG_EINVAL;
  }
  bits = EVP_PKEY_get_bits(pkey);
  if (bits < EG_JWT_MIN_RSA_BITS || bits > EG_JWT_MAX_RSA_BITS) {
    eg__seterr(errbuf, errbuf_len, "%s: %d-bit RSA key, need %d to %d bits",
               what, bits, EG_JWT_MIN_RSA_BITS, EG_JWT_MAX_RSA_BITS);
    EVP_PKEY_free(pkey);
    return EG_EINVAL;
  }
  *out = pkey;
  return EG_OK;
}

/* Creates a signer from PEM text; what names the source in error text. */
static int signer_new(const char *pem,
                      size_t pem_len,
                      const char *what,
                      eg_jwt_signer_t **out,
                      char *errbuf,
                      size_t errbuf_len) {
  eg_jwt_signer_t *js;
  EVP_PKEY *pkey;
  int rc;

  rc = load_rsa_key(pem, pem_len, EVP_PKEY_KEYPAIR, what, &pkey, errbuf,
                    errbuf_len);
  if (rc != EG_OK)
    return rc;
  js = calloc(1, sizeof(*js));
  if (js == NULL) {
    EVP_PKEY_free(pkey);
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", what);
    return EG_ENOMEM;
  }
  js->pkey = pkey;
  *out = js;
  return EG_OK;
}

int eg_jwt_signer_new_pem(const char *pem,
                          size_t pem_len,
                          eg_jwt_signer_t **out,
                          char *errbuf,
                          size_t errbuf_len) {
  if (out != NULL)
    *out = NULL;
  if (out == NULL || pem == NULL) {
    eg__seterr(errbuf, errbuf_len, "JWT signer: NULL argument");
    return EG_EINVAL;
  }
  return signer_new(pem, pem_len, "App private key", out, errbuf, errbuf_len);
}

int eg_jwt_signer_new_file(const char *path,
                           eg_jwt_signer_t **out,
                           char *errbuf,
                           size_t errbuf_len) {
  char *buf = NULL;
  size_t len = 0;
  int fd = -1, rc, err = 0;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || path == NULL) {
    eg__seterr(errbuf, errbuf_len, "JWT signer: NULL argument");
    return EG_EINVAL;
  }
  /* read(2) into our own buffer rather than stdio, so that no copy of the
   * key is left behind in a FILE buffer that is freed without wiping. */
  buf = malloc(EG_JWT_PEM_MAX + 1);
  if (buf == NULL) {
    eg__seterr(errbuf, errbuf_len, "%s: out of memory", path);
    return EG_ENOMEM;
  }
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    err = errno;
  while (fd >= 0 && len <= EG_JWT_PEM_MAX) {
    ssize_t n = read(fd, buf + len, EG_JWT_PEM_MAX + 1 - len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      err = errno;
      break;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  if (fd >= 0)
    close(fd);
  if (err != 0) {
    char tmp[128];

    eg__seterr(errbuf, errbuf_len, "%s: %s", path,
               strerror_r(err, tmp, sizeof(tmp)));
    rc = err == ENOENT ? EG_ENOENT : EG_EIO;
  } else if (len > EG_JWT_PEM_MAX) {
    eg__seterr(errbuf, errbuf_len, "%s: larger than %d bytes", path,
               EG_JWT_PEM_MAX);
    rc = EG_ETOOBIG;
  } else {
    rc = signer_new(buf, len, path, out, errbuf, errbuf_len);
  }
  OPENSSL_cleanse(buf, EG_JWT_PEM_MAX + 1);
  free(buf);
  return rc;
}

void eg_jwt_signer_free(eg_jwt_signer_t *js) {
  if (js == NULL)
    return;
  EVP_PKEY_free(js->pkey);
  free(js);
}

int eg_jwt_mint(const eg_jwt_signer_t *js,
                const char *iss,
                int64_t now,
                char *out,
                size_t out_len,
                char *errbuf,
                size_t errbuf_len) {
  unsigned char sig[EG_JWT_MAX_RSA_BITS / 8];
  size_t siglen = sizeof(sig);
  json_t *claims = NULL;
  char *cjson = NULL;
  EVP_MD_CTX *mctx = NULL;
  size_t need, pos;
  int rc;

  if (out == NULL || js == NULL || iss == NULL) {
    eg__seterr(errbuf, errbuf_len, "JWT mint: NULL argument");
    return EG_EINVAL;
  }
  if (out_len > 0)
    out[0] = '\0';
  if (!iss_is_valid(iss, strnlen(iss, EG_JWT_ISS_MAX + 1))) {
    eg__seterr(errbuf, errbuf_len,
               "JWT iss: need 1 to %d characters of [A-Za-z0-9._-]",
               EG_JWT_ISS_MAX);
    return EG_EINVAL;
  }
  if (now < 0 || now > EG_JWT_MAX_TIME) {
    eg__seterr(errbuf, errbuf_len, "JWT mint: now out of range");
    return EG_ERANGE;
  }
  /* jansson does the JSON escaping; it keeps keys in insertion order. */
  claims =
      json_pack("{s:I,s:I,s:s}", "iat", (json_int_t)(now - EG_JWT_IAT_BACKDATE),
                "exp", (json_int_t)(now + EG_JWT_EXP_AHEAD), "iss", iss);
  if (claims != NULL)
    cjson = json_dumps(claims, JSON_COMPACT);
  if (cjson == NULL) {
    rc = EG_ENOMEM;
    eg__seterr(errbuf, errbuf_len, "JWT mint: out of memory");
    goto fail;
  }
  need = eg_base64url_encoded_len(sizeof(HEADER_JSON) - 1) + 1 +
         eg_base64url_encoded_len(strlen(cjson)) + 1 +
         eg_base64url_encoded_len((size_t)EVP_PKEY_get_size(js->pkey));
  if (out_len < need + 1) {
    rc = EG_ERANGE;
    eg__seterr(errbuf, errbuf_len, "JWT mint: need a %zu-byte buffer",
               need + 1);
    goto fail;
  }
  /* The sizes were checked above, so these encodes cannot fail. */
  eg_base64url_encode(HEADER_JSON, sizeof(HEADER_JSON) - 1, out, out_len);
  pos = strlen(out);
  out[pos++] = '.';
  eg_base64url_encode(cjson, strlen(cjson), out + pos, out_len - pos);
  pos += strlen(out + pos);

  mctx = EVP_MD_CTX_new();
  if (mctx == NULL ||
      !EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, js->pkey,
                             NULL) ||
      !EVP_DigestSign(mctx, sig, &siglen, (const unsigned char *)out, pos)) {
    ERR_clear_error();
    rc = EG_ECRYPTO;
    eg__seterr(errbuf, errbuf_len, "JWT mint: RS256 signing failed");
    goto fail;
  }
  out[pos++] = '.';
  eg_base64url_encode(sig, siglen, out + pos, out_len - pos);
  EVP_MD_CTX_free(mctx);
  free(cjson);
  json_decref(claims);
  return EG_OK;
fail:
  EVP_MD_CTX_free(mctx);
  free(cjson);
  json_decref(claims);
  if (out_len > 0)
    out[0] = '\0';
  return rc;
}

/* True when j is a JSON string equal to s, embedded NULs included. */
static bool json_str_eq(const json_t *j, const char *s) {
  return json_is_string(j) && json_string_length(j) == strlen(s) &&
         memcmp(json_string_value(j), s, strlen(s)) == 0;
}

/* Decodes one base64url segment holding a JSON object. buf has room for
 * EG_JWT_MAX_LEN bytes, which any segment of an accepted token fits. */
static int decode_json(const char *seg,
                       size_t len,
                       const char *what,
                       unsigned char *buf,
                       json_t **out,
                       char *errbuf,
                       size_t errbuf_len) {
  json_error_t jerr;
  size_t n;

  *out = NULL;
  if (len == 0 ||
      eg_base64url_decode(seg, len, buf, EG_JWT_MAX_LEN, &n) != EG_OK) {
    eg__seterr(errbuf, errbuf_len, "JWT %s: not base64url", what);
    return EG_EINVAL;
  }
  *out = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &jerr);
  if (*out == NULL || !json_is_object(*out)) {
    json_decref(*out);
    *out = NULL;
    eg__seterr(errbuf, errbuf_len, "JWT %s: not a JSON object", what);
    return EG_EINVAL;
  }
  return EG_OK;
}

/* Checks the claims and copies them to *claims. */
static int check_claims(const json_t *body,
                        int64_t now,
                        eg_jwt_claims_t *claims,
                        char *errbuf,
                        size_t errbuf_len) {
  const json_t *iat = json_object_get(body, "iat");
  const json_t *exp = json_object_get(body, "exp");
  const json_t *iss = json_object_get(body, "iss");
  int64_t iat_v, exp_v;

  if (!json_is_integer(iat) || !json_is_integer(exp) ||
      json_integer_value(iat) < 0 || json_integer_value(exp) < 0) {
    eg__seterr(errbuf, errbuf_len,
               "JWT claims: iat and exp must be non-negative integers");
    return EG_EINVAL;
  }
  iat_v = json_integer_value(iat);
  exp_v = json_integer_value(exp);
  if (json_is_string(iss) &&
      iss_is_valid(json_string_value(iss), json_string_length(iss))) {
    memcpy(claims->iss, json_string_value(iss), json_string_length(iss) + 1);
  } else if (json_is_integer(iss) && json_integer_value(iss) >= 0) {
    snprintf(claims->iss, sizeof(claims->iss), "%" JSON_INTEGER_FORMAT,
             json_integer_value(iss));
  } else {
    eg__seterr(errbuf, errbuf_len,
               "JWT claims: iss must be a non-negative integer or 1 to %d "
               "characters of [A-Za-z0-9._-]",
               EG_JWT_ISS_MAX);
    return EG_EINVAL;
  }
  /* Both are non-negative, so exp - iat cannot overflow. */
  if (exp_v <= iat_v) {
    eg__seterr(errbuf, errbuf_len, "JWT claims: exp must be after iat");
    return EG_EAUTH;
  }
  if (exp_v - iat_v > EG_JWT_MAX_LIFETIME) {
    eg__seterr(errbuf, errbuf_len,
               "JWT claims: exp - iat is %lld s, at most %d s allowed",
               (long long)(exp_v - iat_v), EG_JWT_MAX_LIFETIME);
    return EG_EAUTH;
  }
  if (iat_v > now + EG_JWT_LEEWAY) {
    eg__seterr(errbuf, errbuf_len,
               "JWT claims: iat is %lld s in the future, at most %d s allowed",
               (long long)(iat_v - now), EG_JWT_LEEWAY);
    return EG_EAUTH;
  }
  if (exp_v <= now - EG_JWT_LEEWAY) {
    eg__seterr(errbuf, errbuf_len, "JWT claims: expired %lld s ago",
               (long long)(now - exp_v));
    return EG_EAUTH;
  }
  claims->iat = iat_v;
  claims->exp = exp_v;
  return EG_OK;
}

int eg_jwt_verify(const char *token,
                  const char *pem,
                  size_t pem_len,
                  int64_t now,
                  eg_jwt_claims_t *claims,
                  char *errbuf,
                  size_t errbuf_len) {
  unsigned char buf[EG_JWT_MAX_LEN];
  EVP_PKEY *pkey = NULL;
  EVP_MD_CTX *mctx = NULL;
  json_t *hdr = NULL, *body = NULL;
  const char *dot1, *dot2, *end;
  size_t len, siglen;
  int rc;

  if (claims != NULL)
    memset(claims, 0, sizeof(*claims));
  if (token == NULL || pem == NULL || claims == NULL) {
    eg__seterr(errbuf, errbuf_len, "JWT verify: NULL argument");
    return EG_EINVAL;
  }
  if (now < 0 || now > EG_JWT_MAX_TIME) {
    eg__seterr(errbuf, errbuf_len, "JWT verify: now out of range");
    return EG_ERANGE;
  }
  len = strnlen(token, EG_JWT_MAX_LEN + 1);
  if (len > EG_JWT_MAX_LEN) {
    eg__seterr(errbuf, errbuf_len, "JWT: longer than %d characters",
               EG_JWT_MAX_LEN);
    return EG_ETOOBIG;
  }
  rc = load_rsa_key(pem, pem_len, 0, "JWT verification key", &pkey, errbuf,
                    errbuf_len);
  if (rc != EG_OK)
    return rc;

  end = token + len;
  dot1 = memchr(token, '.', len);
  dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
  if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL ||
      dot1 == token || dot2 == dot1 + 1) {
    rc = EG_EINVAL;
    eg__seterr(errbuf, errbuf_len,
               "JWT: need three dot-separated segments, the first two "
               "non-empty");
    goto done;
  }
  rc = decode_json(token, (size_t)(dot1 - token), "header", buf, &hdr, errbuf,
                   errbuf_len);
  if (rc != EG_OK)
    goto done;
  /* Only RS256: never let the token choose "none" or an HMAC keyed with the
   * public key. */
  if (!json_str_eq(json_object_get(hdr, "alg"), "RS256")) {
    rc = EG_EAUTH;
    eg__seterr(errbuf, errbuf_len, "JWT header: alg must be RS256");
    goto done;
  }
  if (json_object_get(hdr, "typ") != NULL &&
      !json_str_eq(json_object_get(hdr, "typ"), "JWT")) {
    rc = EG_EINVAL;
    eg__seterr(errbuf, errbuf_len, "JWT header: typ must be JWT");
    goto done;
  }
  if (eg_base64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), buf, sizeof(buf),
                          &siglen) != EG_OK) {
    rc = EG_EINVAL;
    eg__seterr(errbuf, errbuf_len, "JWT signature: not base64url");
    goto done;
  }
  mctx = EVP_MD_CTX_new();
  if (mctx == NULL ||
      !EVP_DigestVerifyInit_ex(mctx, NULL, "SHA256", NULL, NULL, pkey, NULL)) {
    ERR_clear_error();
    rc = EG_ECRYPTO;
    eg__seterr(errbuf, errbuf_len, "JWT verify: RS256 setup failed");
    goto done;
  }
  if (EVP_DigestVerify(mctx, buf, siglen, (const unsigned char *)token,
                       (size_t)(dot2 - token)) != 1) {
    ERR_clear_error();
    rc = EG_EAUTH;
    eg__seterr(errbuf, errbuf_len, "JWT: signature does not verify");
    goto done;
  }
  rc = decode_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), "claims", buf, &body,
                   errbuf, errbuf_len);
  if (rc != EG_OK)
    goto done;
  rc = check_claims(body, now, claims, errbuf, errbuf_len);
  if (rc != EG_OK)
    memset(claims, 0, sizeof(*claims));
done:
  json_decref(body);
  json_decref(hdr);
  EVP_MD_CTX_free(mctx);
  EVP_PKEY_free(pkey);
  return rc;
}

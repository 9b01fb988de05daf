/* AES-256-GCM key ring for tokens at rest in Redis: key file parsing, key
 * ids, and the "e1:" sealed value format (see eg/token_crypt.h). */
#include "eg/token_crypt.h"
#include "eg/error.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define FILE_MAX   (64 * 1024)
#define NONCE_LEN  12
#define TAG_LEN    16
#define PREFIX     "e1:"
#define PREFIX_LEN 3
/* "e1:" KEYID ":" — the part of the value covered as aad. */
#define HEAD_LEN (PREFIX_LEN + EG_TOKEN_CRYPT_KEYID_LEN + 1)

struct key {
  unsigned char k[EG_TOKEN_CRYPT_KEY_LEN];
  char id[EG_TOKEN_CRYPT_KEYID_LEN + 1];
};

struct eg_token_crypt_s {
  size_t n;
  struct key keys[EG_TOKEN_CRYPT_MAX_KEYS];
};

static const char hexdigits[] = "0123456789abcdef";

static void hex_encode(const unsigned char *in, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexdigits[in[i] >> 4];
    out[2 * i + 1] = hexdigits[in[i] & 15];
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes exactly 2*n hex characters into n bytes. */
static bool hex_decode(const char *in, size_t n, unsigned char *out) {
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(in[2 * i]);
    int lo = hexval(in[2 * i + 1]);

    if (hi < 0 || lo < 0)
      return false;
    out[i] = (unsigned char)(hi * 16 + lo);
  }
  return true;
}

static int add_key(eg_token_crypt_t *tc,
                   const unsigned char *k,
                   size_t line,
                   char *errbuf,
                   size_t errbuf_len) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  struct key *key;

  if (tc->n == EG_TOKEN_CRYPT_MAX_KEYS) {
    eg__seterr(errbuf, errbuf_len, "line %zu: more than %d keys", line,
               EG_TOKEN_CRYPT_MAX_KEYS);
    return EG_ETOOBIG;
  }
  key = &tc->keys[tc->n];
  if (SHA256(k, EG_TOKEN_CRYPT_KEY_LEN, digest) == NULL) {
    eg__seterr(errbuf, errbuf_len, "line %zu: SHA-256 failed", line);
    return EG_ECRYPTO;
  }
  memcpy(key->k, k, EG_TOKEN_CRYPT_KEY_LEN);
  hex_encode(digest, EG_TOKEN_CRYPT_KEYID_LEN / 2, key->id);
  key->id[EG_TOKEN_CRYPT_KEYID_LEN] = '\0';
  OPENSSL_cleanse(digest, sizeof(digest));
  for (size_t i = 0; i < tc->n; i++) {
    if (strcmp(tc->keys[i].id, key->id) == 0) {
      eg__seterr(errbuf, errbuf_len,
                 "line %zu: same key id %s as an earlier key", line, key->id);
      OPENSSL_cleanse(key, sizeof(*key));
      return EG_EEXIST;
    }
  }
  tc->n++;
  return EG_OK;
}

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

/* Parses the text form: one 64-hex-character key per line. */
static int parse_text(eg_token_crypt_t *tc,
                      const char *s,
                      size_t len,
                      char *errbuf,
                      size_t errbuf_len) {
  size_t pos = 0;
  size_t line = 0;
  unsigned char k[EG_TOKEN_CRYPT_KEY_LEN];
  int rc;

  while (pos < len) {
    const char *nl = memchr(s + pos, '\n', len - pos);
    size_t end = nl != NULL ? (size_t)(nl - s) : len;
    size_t a = pos;
    size_t b = end;

    line++;
    pos = end + 1;
    while (a < b && is_blank(s[a]))
      a++;
    while (b > a && is_blank(s[b - 1]))
      b--;
    if (a == b || s[a] == '#')
      continue;
    if (b - a != 2 * EG_TOKEN_CRYPT_KEY_LEN ||
        !hex_decode(s + a, EG_TOKEN_CRYPT_KEY_LEN, k)) {
      OPENSSL_cleanse(k, sizeof(k));
      eg__seterr(errbuf, errbuf_len,
                 "line %zu: expected 64 hex characters (a 32-byte key)", line);
      return EG_EINVAL;
    }
    rc = add_key(tc, k, line, errbuf, errbuf_len);
    OPENSSL_cleanse(k, sizeof(k));
    if (rc != EG_OK)
      return rc;
  }
  if (tc->n == 0) {
    eg__seterr(errbuf, errbuf_len,
               "no key: need 32 raw bytes or lines of 64 hex characters");
    return EG_EINVAL;
  }
  return EG_OK;
}

int eg_token_crypt_new_mem(const void *data,
                           size_t len,
                           eg_token_crypt_t **out,
                           char *errbuf,
                           size_t errbuf_len) {
  eg_token_crypt_t *tc;
  int rc;

  if (out == NULL || (data == NULL && len > 0)) {
    eg__seterr(errbuf, errbuf_len, "token key: invalid arguments");
    return EG_EINVAL;
  }
  *out = NULL;
  if (len > FILE_MAX) {
    eg__seterr(errbuf, errbuf_len, "token key: more than %d bytes", FILE_MAX);
    return EG_ETOOBIG;
  }
  tc = calloc(1, sizeof(*tc));
  if (tc == NULL) {
    eg__seterr(errbuf, errbuf_len, "token key: out of memory");
    return EG_ENOMEM;
  }
  /* Exactly 32 bytes is a raw key: no hex text is that long (a hex key
   * takes 64 characters). */
  if (len == EG_TOKEN_CRYPT_KEY_LEN)
    rc = add_key(tc, data, 1, errbuf, errbuf_len);
  else
    rc = parse_text(tc, data, len, errbuf, errbuf_len);
  if (rc != EG_OK) {
    eg_token_crypt_free(tc);
    return rc;
  }
  *out = tc;
  return EG_OK;
}

int eg_token_crypt_new_file(const char *path,
                            eg_token_crypt_t **out,
                            char *errbuf,
                            size_t errbuf_len) {
  unsigned char *buf;
  size_t len = 0;
  int fd;
  int rc;
  char sub[EG_ERRBUF_LEN] = "";

  if (out != NULL)
    *out = NULL;
  if (path == NULL || out == NULL) {
    eg__seterr(errbuf, errbuf_len, "token key: invalid arguments");
    return EG_EINVAL;
  }
  buf = malloc(FILE_MAX + 1);
  if (buf == NULL) {
    eg__seterr(errbuf, errbuf_len, "token key: out of memory");
    return EG_ENOMEM;
  }
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    eg__seterr(errbuf, errbuf_len, "%s: cannot open (errno %d)", path, errno);
    free(buf);
    return EG_EIO;
  }
  for (;;) {
    ssize_t n = read(fd, buf + len, FILE_MAX + 1 - len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      eg__seterr(errbuf, errbuf_len, "%s: cannot read (errno %d)", path, errno);
      rc = EG_EIO;
      goto done;
    }
    if (n == 0)
      break;
    len += (size_t)n;
    if (len > FILE_MAX) {
      eg__seterr(errbuf, errbuf_len, "%s: more than %d bytes", path, FILE_MAX);
      rc = EG_ETOOBIG;
      goto done;
    }
  }
  rc = eg_token_crypt_new_mem(buf, len, out, sub, sizeof(sub));
  if (rc != EG_OK)
    eg__seterr(errbuf, errbuf_len, "%s: %s", path, sub);

done:
  close(fd);
  OPENSSL_cleanse(buf, FILE_MAX + 1);
  free(buf);
  return rc;
}

void eg_token_crypt_free(eg_token_crypt_t *tc) {
  if (tc == NULL)
    return;
  OPENSSL_cleanse(tc, sizeof(*tc));
  free(tc);
}

size_t eg_token_crypt_count(const eg_token_crypt_t *tc) {
  return tc != NULL ? tc->n : 0;
}

const char *eg_token_crypt_key_id(const eg_token_crypt_t *tc, size_t i) {
  if (tc == NULL || i >= tc->n)
    return NULL;
  return tc->keys[i].id;
}

/* One GCM pass. enc: plain -> outbuf and tag; else outbuf is plain and tag
 * is checked. The aad is head (HEAD_LEN bytes) then the caller's aad. */
static int gcm(bool enc,
               const unsigned char *key,
               const unsigned char *nonce,
               const char *head,
               const void *aad,
               size_t aad_len,
               const unsigned char *in,
               size_t in_len,
               unsigned char *outbuf,
               unsigned char *tag) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  int rc = EG_ECRYPTO;

  if (ctx == NULL)
    return EG_ENOMEM;
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
      EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
    goto done;
  if (EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)head, HEAD_LEN) !=
      1)
    goto done;
  if (aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
    goto done;
  if (EVP_CipherUpdate(ctx, outbuf, &n, in, (int)in_len) != 1 ||
      (size_t)n != in_len)
    goto done;
  if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
    goto done;
  if (EVP_CipherFinal_ex(ctx, outbuf + n, &n) != 1) {
    rc = enc ? EG_ECRYPTO : EG_EAUTH;
    goto done;
  }
  if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
    goto done;
  rc = EG_OK;

done:
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

int eg_token_crypt_seal(const eg_token_crypt_t *tc,
                        const void *aad,
                        size_t aad_len,
                        const void *plain,
                        size_t plain_len,
                        char **out,
                        size_t *out_len,
                        char *errbuf,
                        size_t errbuf_len) {
  unsigned char nonce[NONCE_LEN];
  unsigned char tag[TAG_LEN];
  unsigned char *ct = NULL;
  char *s = NULL;
  size_t total;
  size_t p;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (out_len != NULL)
    *out_len = 0;
  if (tc == NULL || tc->n == 0 || out == NULL || out_len == NULL ||
      plain == NULL || plain_len == 0 || plain_len > EG_TOKEN_CRYPT_MAX_PLAIN ||
      (aad == NULL && aad_len > 0) || aad_len > INT32_MAX) {
    eg__seterr(errbuf, errbuf_len, "token seal: invalid arguments");
    return EG_EINVAL;
  }
  /* e1:KEYID:NONCE:CT:TAG */
  total = HEAD_LEN + 2 * NONCE_LEN + 1 + 2 * plain_len + 1 + 2 * TAG_LEN;
  ct = malloc(plain_len + 16);
  s = malloc(total + 1);
  if (ct == NULL || s == NULL) {
    rc = EG_ENOMEM;
    eg__seterr(errbuf, errbuf_len, "token seal: out of memory");
    goto fail;
  }
  memcpy(s, PREFIX, PREFIX_LEN);
  memcpy(s + PREFIX_LEN, tc->keys[0].id, EG_TOKEN_CRYPT_KEYID_LEN);
  s[HEAD_LEN - 1] = ':';
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
    rc = EG_ECRYPTO;
    eg__seterr(errbuf, errbuf_len, "token seal: no random nonce");
    goto fail;
  }
  rc = gcm(true, tc->keys[0].k, nonce, s, aad, aad_len, plain, plain_len, ct,
           tag);
  if (rc != EG_OK) {
    eg__seterr(errbuf, errbuf_len, "token seal: AES-GCM failed");
    goto fail;
  }
  p = HEAD_LEN;
  hex_encode(nonce, NONCE_LEN, s + p);
  p += 2 * NONCE_LEN;
  s[p++] = ':';
  hex_encode(ct, plain_len, s + p);
  p += 2 * plain_len;
  s[p++] = ':';
  hex_encode(tag, TAG_LEN, s + p);
  p += 2 * TAG_LEN;
  s[p] = '\0';
  OPENSSL_cleanse(ct, plain_len + 16);
  free(ct);
  *out = s;
  *out_len = p;
  return EG_OK;

fail:
  if (ct != NULL)
    OPENSSL_cleanse(ct, plain_len + 16);
  free(ct);
  free(s);
  return rc;
}

int eg_token_crypt_open(const eg_token_crypt_t *tc,
                        const void *aad,
                        size_t aad_len,
                        const char *sealed,
                        size_t sealed_len,
                        char **plain,
                        size_t *plain_len,
                        char *errbuf,
                        size_t errbuf_len) {
  const struct key *key = NULL;
  unsigned char nonce[NONCE_LEN];
  unsigned char tag[TAG_LEN];
  unsigned char *ct = NULL;
  unsigned char *pt = NULL;
  const char *p;
  size_t ct_hex;
  size_t ct_len;
  int rc;

  if (plain != NULL)
    *plain = NULL;
  if (plain_len != NULL)
    *plain_len = 0;
  if (tc == NULL || sealed == NULL || plain == NULL || plain_len == NULL ||
      (aad == NULL && aad_len > 0) || aad_len > INT32_MAX) {
    eg__seterr(errbuf, errbuf_len, "token open: invalid arguments");
    return EG_EINVAL;
  }
  /* Fixed layout: head, nonce, ':', ciphertext (even hex length), ':', tag. */
  if (sealed_len < HEAD_LEN + 2 * NONCE_LEN + 1 + 2 + 1 + 2 * TAG_LEN ||
      memcmp(sealed, PREFIX, PREFIX_LEN) != 0 || sealed[HEAD_LEN - 1] != ':' ||
      sealed[HEAD_LEN + 2 * NONCE_LEN] != ':' ||
      sealed[sealed_len - 2 * TAG_LEN - 1] != ':') {
    eg__seterr(errbuf, errbuf_len, "token open: not an e1 sealed value");
    return EG_EPARSE;
  }
  ct_hex = sealed_len - HEAD_LEN - 2 * NONCE_LEN - 1 - 1 - 2 * TAG_LEN;
  ct_len = ct_hex / 2;
  if (ct_hex % 2 != 0 || ct_len > EG_TOKEN_CRYPT_MAX_PLAIN) {
    eg__seterr(errbuf, errbuf_len, "token open: bad ciphertext length");
    return EG_EPARSE;
  }
  for (size_t i = 0; i < tc->n; i++) {
    if (memcmp(tc->keys[i].id, sealed + PREFIX_LEN, EG_TOKEN_CRYPT_KEYID_LEN) ==
        0) {
      key = &tc->keys[i];
      break;
    }
  }
  if (key == NULL) {
    eg__seterr(errbuf, errbuf_len, "token open: no key with id %.8s",
               sealed + PREFIX_LEN);
    return EG_ENOENT;
  }
  ct = malloc(ct_len);
  pt = malloc(ct_len + 16 + 1);
  if (ct == NULL || pt == NULL) {
    rc = EG_ENOMEM;
    eg__seterr(errbuf, errbuf_len, "token open: out of memory");
    goto fail;
  }
  p = sealed + HEAD_LEN;
  if (!hex_decode(p, NONCE_LEN, nonce) ||
      !hex_decode(p + 2 * NONCE_LEN + 1, ct_len, ct) ||
      !hex_decode(sealed + sealed_len - 2 * TAG_LEN, TAG_LEN, tag)) {
    rc = EG_EPARSE;
    eg__seterr(errbuf, errbuf_len, "token open: bad hex");
    goto fail;
  }
  rc = gcm(false, key->k, nonce, sealed, aad, aad_len, ct, ct_len, pt, tag);
  if (rc != EG_OK) {
    eg__seterr(errbuf, errbuf_len, "token open: %s",
               rc == EG_EAUTH ? "authentication failed (wrong key, "
                                "tampered, or sealed for another key name)"
                              : "AES-GCM failed");
    goto fail;
  }
  free(ct);
  pt[ct_len] = '\0';
  *plain = (char *)pt;
  *plain_len = ct_len;
  return EG_OK;

fail:
  free(ct);
  if (pt != NULL)
    OPENSSL_cleanse(pt, ct_len + 16 + 1);
  free(pt);
  return rc;
}

void eg_token_crypt_free_plain(char *plain, size_t plain_len) {
  if (plain == NULL)
    return;
  OPENSSL_cleanse(plain, plain_len);
  free(plain);
}

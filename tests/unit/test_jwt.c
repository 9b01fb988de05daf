/* Unit tests for eg/jwt.h: key loading (PKCS#1, PKCS#8, refusals), minting
 * checked independently with OpenSSL and jansson, and verification rules.
 * Keys are generated at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "eg/base64url.h"
#include "eg/error.h"
#include "eg/jwt.h"

#define NOW    INT64_C(1700000000)
#define APP_ID "123456"

struct fixture {
  EVP_PKEY *key;   /* 2048-bit RSA: the App key */
  EVP_PKEY *other; /* 2048-bit RSA: some other key */
  EVP_PKEY *small; /* 1024-bit RSA */
  EVP_PKEY *ec;    /* P-256 */
  char *pkcs1;     /* key, "BEGIN RSA PRIVATE KEY" */
  char *pkcs8;     /* key, "BEGIN PRIVATE KEY" */
  char *spki;      /* key, "BEGIN PUBLIC KEY" */
  char *rsapub;    /* key, "BEGIN RSA PUBLIC KEY" */
  char *other_spki;
  char *small_pkcs8;
  char *small_spki;
  char *ec_pkcs8;
  char *ec_spki;
  char *encrypted; /* key, encrypted PKCS#8 */
  char dir[64];
  char pkcs1_path[128];
  char pkcs8_path[128];
};

static struct fixture fx;

/* Returns the NUL-terminated contents of a memory BIO, then frees it. */
static char *bio_text(BIO *b) {
  char *data;
  long n;
  char *s;

  assert_non_null(b);
  n = BIO_get_mem_data(b, &data);
  assert_true(n > 0);
  s = malloc((size_t)n + 1);
  assert_non_null(s);
  memcpy(s, data, (size_t)n);
  s[n] = '\0';
  BIO_free(b);
  return s;
}

static char *pem_pkcs8(EVP_PKEY *k) {
  BIO *b = BIO_new(BIO_s_mem());

  assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL),
                   1);
  return bio_text(b);
}

static char *pem_pkcs1(EVP_PKEY *k) {
  BIO *b = BIO_new(BIO_s_mem());

  assert_int_equal(
      PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL), 1);
  return bio_text(b);
}

static char *pem_spki(EVP_PKEY *k) {
  BIO *b = BIO_new(BIO_s_mem());

  assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
  return bio_text(b);
}

static char *pem_rsapub(EVP_PKEY *k) {
  BIO *b = BIO_new(BIO_s_mem());
  OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(
      k, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);

  assert_non_null(ectx);
  assert_int_equal(OSSL_ENCODER_to_bio(ectx, b), 1);
  OSSL_ENCODER_CTX_free(ectx);
  return bio_text(b);
}

static char *pem_encrypted(EVP_PKEY *k) {
  BIO *b = BIO_new(BIO_s_mem());

  assert_int_equal(PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), NULL,
                                                 0, NULL, (void *)"passw0rd"),
                   1);
  return bio_text(b);
}

static void write_file(const char *path, const char *text, size_t len) {
  FILE *fp = fopen(path, "wb");

  assert_non_null(fp);
  assert_int_equal(fwrite(text, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static int setup(void **state) {
  (void)state;
  fx.key = EVP_RSA_gen(2048);
  fx.other = EVP_RSA_gen(2048);
  fx.small = EVP_RSA_gen(1024);
  fx.ec = EVP_EC_gen("P-256");
  if (fx.key == NULL || fx.other == NULL || fx.small == NULL || fx.ec == NULL)
    return -1;
  fx.pkcs1 = pem_pkcs1(fx.key);
  fx.pkcs8 = pem_pkcs8(fx.key);
  fx.spki = pem_spki(fx.key);
  fx.rsapub = pem_rsapub(fx.key);
  fx.other_spki = pem_spki(fx.other);
  fx.small_pkcs8 = pem_pkcs8(fx.small);
  fx.small_spki = pem_spki(fx.small);
  fx.ec_pkcs8 = pem_pkcs8(fx.ec);
  fx.ec_spki = pem_spki(fx.ec);
  fx.encrypted = pem_encrypted(fx.key);
  if (strncmp(fx.pkcs1, "-----BEGIN RSA PRIVATE KEY-----", 31) != 0 ||
      strncmp(fx.pkcs8, "-----BEGIN PRIVATE KEY-----", 27) != 0 ||
      strncmp(fx.rsapub, "-----BEGIN RSA PUBLIC KEY-----", 30) != 0 ||
      strncmp(fx.encrypted, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37) != 0)
    return -1;
  snprintf(fx.dir, sizeof(fx.dir), "/tmp/eg_test_jwt_XXXXXX");
  if (mkdtemp(fx.dir) == NULL)
    return -1;
  snprintf(fx.pkcs1_path, sizeof(fx.pkcs1_path), "%s/pkcs1.pem", fx.dir);
  snprintf(fx.pkcs8_path, sizeof(fx.pkcs8_path), "%s/pkcs8.pem", fx.dir);
  write_file(fx.pkcs1_path, fx.pkcs1, strlen(fx.pkcs1));
  write_file(fx.pkcs8_path, fx.pkcs8, strlen(fx.pkcs8));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(fx.pkcs1_path);
  unlink(fx.pkcs8_path);
  rmdir(fx.dir);
  free(fx.pkcs1);
  free(fx.pkcs8);
  free(fx.spki);
  free(fx.rsapub);
  free(fx.other_spki);
  free(fx.small_pkcs8);
  free(fx.small_spki);
  free(fx.ec_pkcs8);
  free(fx.ec_spki);
  free(fx.encrypted);
  EVP_PKEY_free(fx.key);
  EVP_PKEY_free(fx.other);
  EVP_PKEY_free(fx.small);
  EVP_PKEY_free(fx.ec);
  return 0;
}

/* Error text must never carry key material: no PEM armour, and no base64
 * DER (every key's DER encoding starts "MI" in base64). */
static void assert_no_key_bytes(const char *err) {
  assert_null(strstr(err, "BEGIN"));
  assert_null(strstr(err, "MI"));
}

static eg_jwt_signer_t *signer_from(const char *pem) {
  eg_jwt_signer_t *js = NULL;
  char err[EG_ERRBUF_LEN] = "";
  int rc = eg_jwt_signer_new_pem(pem, strlen(pem), &js, err, sizeof(err));

  if (rc != EG_OK)
    fail_msg("signer: %d %s", rc, err);
  return js;
}

static int verify(const char *token,
                  const char *pem,
                  int64_t now,
                  eg_jwt_claims_t *claims,
                  char *err) {
  err[0] = '\0';
  return eg_jwt_verify(token, pem, strlen(pem), now, claims, err,
                       EG_ERRBUF_LEN);
}

/* Decodes one base64url segment of len characters into a JSON object. */
static json_t *segment_json(const char *seg, size_t len) {
  unsigned char buf[EG_JWT_SIZE];
  size_t n;
  json_error_t jerr;
  json_t *j;

  assert_int_equal(eg_base64url_decode(seg, len, buf, sizeof(buf), &n), EG_OK);
  j = json_loadb((const char *)buf, n, 0, &jerr);
  assert_non_null(j);
  return j;
}

/* Checks a minted token without eg_jwt_verify: segments, header and claims
 * through jansson, and the signature through OpenSSL directly. */
static void
check_token_independently(const char *token, const char *iss, int64_t now) {
  const char *dot1 = strchr(token, '.');
  const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
  unsigned char sig[1024];
  size_t siglen;
  json_t *hdr, *claims;
  EVP_MD_CTX *mctx;

  assert_non_null(dot2);
  assert_null(strchr(dot2 + 1, '.'));
  assert_null(strchr(token, '='));

  hdr = segment_json(token, (size_t)(dot1 - token));
  assert_int_equal(json_object_size(hdr), 2);
  assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "RS256");
  assert_string_equal(json_string_value(json_object_get(hdr, "typ")), "JWT");
  json_decref(hdr);

  claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
  assert_int_equal(json_object_size(claims), 3);
  assert_true(json_is_integer(json_object_get(claims, "iat")));
  assert_true(json_is_integer(json_object_get(claims, "exp")));
  assert_int_equal(json_integer_value(json_object_get(claims, "iat")),
                   now - 60);
  assert_int_equal(json_integer_value(json_object_get(claims, "exp")),
                   now + 540);
  assert_true(json_is_string(json_object_get(claims, "iss")));
  assert_string_equal(json_string_value(json_object_get(claims, "iss")), iss);
  json_decref(claims);

  assert_int_equal(eg_base64url_decode(dot2 + 1, strlen(dot2 + 1), sig,
                                       sizeof(sig), &siglen),
                   EG_OK);
  assert_int_equal(siglen, 256);
  mctx = EVP_MD_CTX_new();
  assert_non_null(mctx);
  assert_int_equal(EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, fx.key),
                   1);
  assert_int_equal(EVP_DigestVerify(mctx, sig, siglen,
                                    (const unsigned char *)token,
                                    (size_t)(dot2 - token)),
                   1);
  EVP_MD_CTX_free(mctx);
}

static void test_mint_pkcs1_and_pkcs8_files(void **state) {
  eg_jwt_signer_t *js1 = NULL, *js8 = NULL;
  char tok1[EG_JWT_SIZE], tok8[EG_JWT_SIZE];
  char err[EG_ERRBUF_LEN] = "";
  eg_jwt_claims_t claims;

  (void)state;
  assert_int_equal(
      eg_jwt_signer_new_file(fx.pkcs1_path, &js1, err, sizeof(err)), EG_OK);
  assert_int_equal(
      eg_jwt_signer_new_file(fx.pkcs8_path, &js8, err, sizeof(err)), EG_OK);
  assert_int_equal(
      eg_jwt_mint(js1, APP_ID, NOW, tok1, sizeof(tok1), err, sizeof(err)),
      EG_OK);
  assert_int_equal(
      eg_jwt_mint(js8, APP_ID, NOW, tok8, sizeof(tok8), err, sizeof(err)),
      EG_OK);
  /* The header is exactly GitHub's documented one. */
  assert_true(strncmp(tok1, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);
  check_token_independently(tok1, APP_ID, NOW);
  /* RSASSA-PKCS1-v1_5 is deterministic: both encodings give one token. */
  assert_string_equal(tok1, tok8);

  assert_int_equal(verify(tok1, fx.spki, NOW, &claims, err), EG_OK);
  assert_int_equal(claims.iat, NOW - 60);
  assert_int_equal(claims.exp, NOW + 540);
  assert_string_equal(claims.iss, APP_ID);
  eg_jwt_signer_free(js1);
  eg_jwt_signer_free(js8);
  eg_jwt_signer_free(NULL);
}

static void test_mint_from_memory_client_id(void **state) {
  eg_jwt_signer_t *js = signer_from(fx.pkcs8);
  const char *client_id = "Iv1.8a61f9b3a7aba766";
  char tok[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
  eg_jwt_claims_t claims;

  (void)state;
  assert_int_equal(
      eg_jwt_mint(js, client_id, NOW, tok, sizeof(tok), err, sizeof(err)),
      EG_OK);
  check_token_independently(tok, client_id, NOW);
  /* Any encoding of the public key, or the private key itself, verifies. */
  assert_int_equal(verify(tok, fx.spki, NOW, &claims, err), EG_OK);
  assert_string_equal(claims.iss, client_id);
  assert_int_equal(verify(tok, fx.rsapub, NOW, &claims, err), EG_OK);
  assert_int_equal(verify(tok, fx.pkcs1, NOW, &claims, err), EG_OK);
  assert_int_equal(verify(tok, fx.pkcs8, NOW, &claims, err), EG_OK);
  eg_jwt_signer_free(js);
}

static void test_mint_iss_rules(void **state) {
  eg_jwt_signer_t *js = signer_from(fx.pkcs1);
  char tok[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
  char longest[EG_JWT_ISS_MAX + 2];
  static const char *const bad[] = {
      "",          "with space",  "quote\"",   "back\\slash",
      "new\nline", "caf\xc3\xa9", "{\"x\":1}", "a/b"};
  eg_jwt_claims_t claims;

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    strcpy(tok, "junk");
    err[0] = '\0';
    if (eg_jwt_mint(js, bad[i], NOW, tok, sizeof(tok), err, sizeof(err)) !=
        EG_EINVAL)
      fail_msg("iss case %zu accepted", i);
    assert_string_equal(tok, "");
    assert_non_null(strstr(err, "iss"));
  }
  memset(longest, 'a', EG_JWT_ISS_MAX);
  longest[EG_JWT_ISS_MAX] = '\0';
  assert_int_equal(
      eg_jwt_mint(js, longest, NOW, tok, sizeof(tok), err, sizeof(err)), EG_OK);
  assert_int_equal(verify(tok, fx.spki, NOW, &claims, err), EG_OK);
  assert_string_equal(claims.iss, longest);
  longest[EG_JWT_ISS_MAX] = 'a';
  longest[EG_JWT_ISS_MAX + 1] = '\0';
  assert_int_equal(
      eg_jwt_mint(js, longest, NOW, tok, sizeof(tok), err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(eg_jwt_mint(js, "a-b_c.D9", NOW, tok, sizeof(tok), NULL, 0),
                   EG_OK);
  eg_jwt_signer_free(js);
}

static void test_mint_args(void **state) {
  eg_jwt_signer_t *js = signer_from(fx.pkcs1);
  char tok[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
  size_t need;

  (void)state;
  assert_int_equal(eg_jwt_mint(js, APP_ID, NOW, tok, sizeof(tok), NULL, 0),
                   EG_OK);
  need = strlen(tok) + 1;
  strcpy(tok, "junk");
  assert_int_equal(
      eg_jwt_mint(js, APP_ID, NOW, tok, need - 1, err, sizeof(err)), EG_ERANGE);
  assert_string_equal(tok, "");
  assert_int_equal(eg_jwt_mint(js, APP_ID, NOW, tok, need, err, sizeof(err)),
                   EG_OK);
  assert_int_equal(strlen(tok), need - 1);
  assert_int_equal(eg_jwt_mint(js, APP_ID, -1, tok, sizeof(tok), err, 256),
                   EG_ERANGE);
  assert_int_equal(eg_jwt_mint(js, APP_ID, EG_JWT_MAX_TIME + 1, tok,
                               sizeof(tok), err, sizeof(err)),
                   EG_ERANGE);
  assert_int_equal(eg_jwt_mint(js, APP_ID, EG_JWT_MAX_TIME, tok, sizeof(tok),
                               err, sizeof(err)),
                   EG_OK);
  assert_int_equal(eg_jwt_mint(NULL, APP_ID, NOW, tok, sizeof(tok), err, 256),
                   EG_EINVAL);
  assert_int_equal(eg_jwt_mint(js, NULL, NOW, tok, sizeof(tok), err, 256),
                   EG_EINVAL);
  assert_int_equal(eg_jwt_mint(js, APP_ID, NOW, NULL, 10, err, 256), EG_EINVAL);
  eg_jwt_signer_free(js);
}

/* Changing any one character of a token must make it fail. */
static void test_verify_tamper_every_byte(void **state) {
  eg_jwt_signer_t *js = signer_from(fx.pkcs1);
  char tok[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
  eg_jwt_claims_t claims;
  size_t len;

  (void)state;
  assert_int_equal(eg_jwt_mint(js, APP_ID, NOW, tok, sizeof(tok), NULL, 0),
                   EG_OK);
  len = strlen(tok);
  for (size_t i = 0; i < len; i++) {
    char saved = tok[i];
    int rc;

    tok[i] = saved == 'A' ? 'B' : 'A';
    rc = verify(tok, fx.spki, NOW, &claims, err);
    if (rc == EG_OK)
      fail_msg("token changed at %zu of %zu still verifies", i, len);
    assert_int_equal(claims.exp, 0);
    tok[i] = saved;
  }
  assert_int_equal(verify(tok, fx.spki, NOW, &claims, err), EG_OK);
  /* Cut short or extended. */
  tok[len - 1] = '\0';
  assert_int_not_equal(verify(tok, fx.spki, NOW, &claims, err), EG_OK);
  eg_jwt_signer_free(js);
}

static void test_verify_wrong_key(void **state) {
  eg_jwt_signer_t *js = signer_from(fx.pkcs8);
  char tok[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
  eg_jwt_claims_t claims;

  (void)state;
  assert_int_equal(eg_jwt_mint(js, APP_ID, NOW, tok, sizeof(tok), NULL, 0),
                   EG_OK);
  assert_int_equal(verify(tok, fx.other_spki, NOW, &claims, err), EG_EAUTH);
  assert_string_equal(err, "JWT: signature does not verify");
  assert_string_equal(claims.iss, "");
  eg_jwt_signer_free(js);
}

/* exp = NOW + 540 and iat = NOW - 60; the leeway is 30 s each way. */
static void test_verify_time_window(void **state) {
  eg_jwt_signer_t *js = signer_from(fx.pkcs8);
  char tok[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
  eg_jwt_claims_t claims;

  (void)state;
  assert_int_equal(eg_jwt_mint(js, APP_ID, NOW, tok, sizeof(tok), NULL, 0),
                   EG_OK);
  assert_int_equal(verify(tok, fx.spki, NOW + 540 + 29, &claims, err), EG_OK);
  assert_int_equal(verify(tok, fx.spki, NOW + 540 + 30, &claims, err),
                   EG_EAUTH);
  assert_non_null(strstr(err, "expired"));
  assert_int_equal(verify(tok, fx.spki, NOW + 3600, &claims, err), EG_EAUTH);
  /* Minted by a clock 90 s ahead: iat is 30 s in our future, allowed. */
  assert_int_equal(eg_jwt_mint(js, APP_ID, NOW + 90, tok, sizeof(tok), NULL, 0),
                   EG_OK);
  assert_int_equal(verify(tok, fx.spki, NOW, &claims, err), EG_OK);
  assert_int_equal(eg_jwt_mint(js, APP_ID, NOW + 91, tok, sizeof(tok), NULL, 0),
                   EG_OK);
  assert_int_equal(verify(tok, fx.spki, NOW, &claims, err), EG_EAUTH);
  assert_non_null(strstr(err, "future"));
  assert_int_equal(verify(tok, fx.spki, -1, &claims, err), EG_ERANGE);
  assert_int_equal(verify(tok, fx.spki, EG_JWT_MAX_TIME + 1, &claims, err),
                   EG_ERANGE);
  eg_jwt_signer_free(js);
}

/* Builds header.claims.signature from JSON texts, signed RS256 with key
 * (NULL: empty signature). */
static void craft(const char *hdr,
                  const char *claims,
                  EVP_PKEY *key,
                  char *out,
                  size_t out_len) {
  unsigned char sig[1024];
  size_t siglen = sizeof(sig), pos;
  EVP_MD_CTX *mctx;

  assert_int_equal(eg_base64url_encode(hdr, strlen(hdr), out, out_len), EG_OK);
  pos = strlen(out);
  out[pos++] = '.';
  assert_int_equal(
      eg_base64url_encode(claims, strlen(claims), out + pos, out_len - pos),
      EG_OK);
  pos += strlen(out + pos);
  if (key == NULL) {
    out[pos++] = '.';
    out[pos] = '\0';
    return;
  }
  mctx = EVP_MD_CTX_new();
  assert_non_null(mctx);
  assert_int_equal(EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, key), 1);
  assert_int_equal(
      EVP_DigestSign(mctx, sig, &siglen, (const unsigned char *)out, pos), 1);
  EVP_MD_CTX_free(mctx);
  out[pos++] = '.';
  assert_int_equal(eg_base64url_encode(sig, siglen, out + pos, out_len - pos),
                   EG_OK);
}

#define RS256_HDR   "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define GOOD_CLAIMS "{\"iat\":1699999940,\"exp\":1700000540,\"iss\":\"123456\"}"

struct crafted {
  const char *name;
  const char *hdr;
  const char *claims;
  int signed_ok; /* signed with the right key */
  int rc;
  const char *iss; /* on EG_OK */
};

static const struct crafted crafted_cases[] = {
    {"reference", RS256_HDR, GOOD_CLAIMS, 1, EG_OK, "123456"},
    {"no typ", "{\"alg\":\"RS256\"}", GOOD_CLAIMS, 1, EG_OK, "123456"},
    {"extra header field", "{\"alg\":\"RS256\",\"kid\":\"k1\"}", GOOD_CLAIMS, 1,
     EG_OK, "123456"},
    {"integer iss", RS256_HDR,
     "{\"iat\":1699999940,\"exp\":1700000540,\"iss\":123456}", 1, EG_OK,
     "123456"},
    {"lifetime exactly 600", RS256_HDR,
     "{\"iat\":1699999900,\"exp\":1700000500,\"iss\":\"1\"}", 1, EG_OK, "1"},
    {"alg none, no signature", "{\"alg\":\"none\",\"typ\":\"JWT\"}",
     GOOD_CLAIMS, 0, EG_EAUTH, NULL},
    {"alg none, RS256 signature", "{\"alg\":\"none\",\"typ\":\"JWT\"}",
     GOOD_CLAIMS, 1, EG_EAUTH, NULL},
    {"alg HS256", "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS, 1,
     EG_EAUTH, NULL},
    {"alg lower case", "{\"alg\":\"rs256\"}", GOOD_CLAIMS, 1, EG_EAUTH, NULL},
    /* jansson refuses \u0000 unless asked to allow it. */
    {"alg with NUL", "{\"alg\":\"RS256\\u0000\"}", GOOD_CLAIMS, 1, EG_EINVAL,
     NULL},
    {"alg missing", "{\"typ\":\"JWT\"}", GOOD_CLAIMS, 1, EG_EAUTH, NULL},
    {"alg not a string", "{\"alg\":256}", GOOD_CLAIMS, 1, EG_EAUTH, NULL},
    {"alg twice", "{\"alg\":\"RS256\",\"alg\":\"none\"}", GOOD_CLAIMS, 1,
     EG_EINVAL, NULL},
    {"typ wrong", "{\"alg\":\"RS256\",\"typ\":\"JWS\"}", GOOD_CLAIMS, 1,
     EG_EINVAL, NULL},
    {"header not JSON", "{alg:RS256}", GOOD_CLAIMS, 1, EG_EINVAL, NULL},
    {"header an array", "[\"RS256\"]", GOOD_CLAIMS, 1, EG_EINVAL, NULL},
    {"RS256 without signature", RS256_HDR, GOOD_CLAIMS, 0, EG_EAUTH, NULL},
    {"lifetime 601", RS256_HDR,
     "{\"iat\":1699999940,\"exp\":1700000541,\"iss\":\"1\"}", 1, EG_EAUTH,
     NULL},
    {"exp equals iat", RS256_HDR,
     "{\"iat\":1700000000,\"exp\":1700000000,\"iss\":\"1\"}", 1, EG_EAUTH,
     NULL},
    {"exp before iat", RS256_HDR,
     "{\"iat\":1700000000,\"exp\":1699999999,\"iss\":\"1\"}", 1, EG_EAUTH,
     NULL},
    {"iat real", RS256_HDR,
     "{\"iat\":1699999940.0,\"exp\":1700000540,\"iss\":\"1\"}", 1, EG_EINVAL,
     NULL},
    {"exp string", RS256_HDR,
     "{\"iat\":1699999940,\"exp\":\"1700000540\",\"iss\":\"1\"}", 1, EG_EINVAL,
     NULL},
    {"iat negative", RS256_HDR, "{\"iat\":-1,\"exp\":1700000540,\"iss\":\"1\"}",
     1, EG_EINVAL, NULL},
    {"exp huge", RS256_HDR,
     "{\"iat\":-9223372036854775807,\"exp\":9223372036854775807,"
     "\"iss\":\"1\"}",
     1, EG_EINVAL, NULL},
    {"iss missing", RS256_HDR, "{\"iat\":1699999940,\"exp\":1700000540}", 1,
     EG_EINVAL, NULL},
    {"iss empty", RS256_HDR,
     "{\"iat\":1699999940,\"exp\":1700000540,\"iss\":\"\"}", 1, EG_EINVAL,
     NULL},
    {"iss with quote", RS256_HDR,
     "{\"iat\":1699999940,\"exp\":1700000540,\"iss\":\"a\\\"b\"}", 1, EG_EINVAL,
     NULL},
    {"iss negative", RS256_HDR,
     "{\"iat\":1699999940,\"exp\":1700000540,\"iss\":-5}", 1, EG_EINVAL, NULL},
    {"iss object", RS256_HDR,
     "{\"iat\":1699999940,\"exp\":1700000540,\"iss\":{}}", 1, EG_EINVAL, NULL},
    {"claims not JSON", RS256_HDR, "iat=1", 1, EG_EINVAL, NULL},
    {"claims duplicate exp", RS256_HDR,
     "{\"iat\":1699999940,\"exp\":1700000540,\"exp\":1800000000,\"iss\":\"1\"}",
     1, EG_EINVAL, NULL},
};

static void test_verify_crafted(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(crafted_cases) / sizeof(crafted_cases[0]);
       i++) {
    const struct crafted *c = &crafted_cases[i];
    char tok[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
    eg_jwt_claims_t claims;
    int rc;

    craft(c->hdr, c->claims, c->signed_ok ? fx.key : NULL, tok, sizeof(tok));
    rc = verify(tok, fx.spki, NOW, &claims, err);
    if (rc != c->rc)
      fail_msg("case '%s': got %d (%s), want %d", c->name, rc, err, c->rc);
    if (rc == EG_OK)
      assert_string_equal(claims.iss, c->iss);
    else
      assert_true(strlen(err) > 0);
    /* The same claims signed by another key never verify. */
    craft(c->hdr, c->claims, fx.other, tok, sizeof(tok));
    assert_int_not_equal(verify(tok, fx.spki, NOW, &claims, err), EG_OK);
  }
}

/* alg HS256 keyed with the public key PEM: the classic confusion attack. */
static void test_verify_hs256_confusion(void **state) {
  char tok[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
  unsigned char mac[32];
  size_t maclen = 0, pos;
  eg_jwt_claims_t claims;

  (void)state;
  craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS, NULL, tok,
        sizeof(tok));
  pos = strlen(tok) - 1;
  assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, fx.spki,
                            strlen(fx.spki), (unsigned char *)tok, pos, mac,
                            sizeof(mac), &maclen));
  tok[pos++] = '.';
  assert_int_equal(
      eg_base64url_encode(mac, maclen, tok + pos, sizeof(tok) - pos), EG_OK);
  assert_int_equal(verify(tok, fx.spki, NOW, &claims, err), EG_EAUTH);
  assert_string_equal(err, "JWT header: alg must be RS256");
}

struct malformed {
  const char *name;
  const char *token;
  int rc;
};

static void test_verify_malformed(void **state) {
  char tok[EG_JWT_SIZE + 8], good[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
  eg_jwt_claims_t claims;
  const struct malformed cases[] = {
      {"empty", "", EG_EINVAL},
      {"one segment", "eyJhbGciOiJSUzI1NiJ9", EG_EINVAL},
      {"two segments", "eyJhbGciOiJSUzI1NiJ9.e30", EG_EINVAL},
      {"four segments", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA.AAAA", EG_EINVAL},
      {"empty header", ".e30.AAAA", EG_EINVAL},
      {"empty claims", "eyJhbGciOiJSUzI1NiJ9..AAAA", EG_EINVAL},
      {"padded header", "eyJhbGciOiJSUzI1NiJ9=.e30.AAAA", EG_EINVAL},
      {"standard base64 header", "eyJhbGciOiJSUzI1NiJ+.e30.AAAA", EG_EINVAL},
      {"space in header", "eyJhbGciOi JSUzI1NiJ9.e30.AAAA", EG_EINVAL},
      {"bad signature base64", "eyJhbGciOiJSUzI1NiJ9.e30.AA*A", EG_EINVAL},
      {"padded signature", "eyJhbGciOiJSUzI1NiJ9.e30.AA==", EG_EINVAL},
      {"signature not canonical", "eyJhbGciOiJSUzI1NiJ9.e30.AB", EG_EINVAL},
  };
  eg_jwt_signer_t *js = signer_from(fx.pkcs8);

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = verify(cases[i].token, fx.spki, NOW, &claims, err);

    if (rc != cases[i].rc)
      fail_msg("case '%s': got %d (%s), want %d", cases[i].name, rc, err,
               cases[i].rc);
  }
  /* Oversized: a valid token padded past the limit with extra claims text
   * is refused before any decoding. */
  memset(tok, 'A', sizeof(tok));
  memcpy(tok, "eyJhbGciOiJSUzI1NiJ9.", 21);
  tok[EG_JWT_MAX_LEN + 1] = '\0';
  tok[EG_JWT_MAX_LEN - 10] = '.';
  assert_int_equal(verify(tok, fx.spki, NOW, &claims, err), EG_ETOOBIG);
  tok[EG_JWT_MAX_LEN] = '\0';
  assert_int_equal(verify(tok, fx.spki, NOW, &claims, err), EG_EINVAL);

  assert_int_equal(eg_jwt_mint(js, APP_ID, NOW, good, sizeof(good), NULL, 0),
                   EG_OK);
  assert_int_equal(eg_jwt_verify(NULL, fx.spki, strlen(fx.spki), NOW, &claims,
                                 err, sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(eg_jwt_verify(good, NULL, 0, NOW, &claims, err, 256),
                   EG_EINVAL);
  assert_int_equal(eg_jwt_verify(good, fx.spki, strlen(fx.spki), NOW, NULL, err,
                                 sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(
      eg_jwt_verify(good, fx.spki, strlen(fx.spki), NOW, &claims, NULL, 0),
      EG_OK);
  eg_jwt_signer_free(js);
}

static void test_verify_key_refusals(void **state) {
  char tok[EG_JWT_SIZE], err[EG_ERRBUF_LEN];
  eg_jwt_claims_t claims;

  (void)state;
  craft(RS256_HDR, GOOD_CLAIMS, fx.small, tok, sizeof(tok));
  assert_int_equal(verify(tok, fx.small_spki, NOW, &claims, err), EG_EINVAL);
  assert_non_null(strstr(err, "1024-bit"));
  assert_int_equal(verify(tok, fx.ec_spki, NOW, &claims, err), EG_EINVAL);
  assert_non_null(strstr(err, "EC key"));
  assert_int_equal(verify(tok, "not a key", NOW, &claims, err), EG_EINVAL);
  assert_no_key_bytes(err);
  assert_int_equal(verify(tok, fx.encrypted, NOW, &claims, err), EG_EINVAL);
  assert_no_key_bytes(err);
}

struct key_case {
  const char *name;
  const char *pem;
  int rc;
  const char *needle; /* in errbuf */
};

static void test_signer_refusals(void **state) {
  char garbage[] = "-----BEGIN PRIVATE KEY-----\nnot*base64\n"
                   "-----END PRIVATE KEY-----\n";
  char truncated[512];
  const struct key_case cases[] = {
      {"EC", fx.ec_pkcs8, EG_EINVAL, "EC key, RS256 needs an RSA key"},
      {"1024-bit", fx.small_pkcs8, EG_EINVAL,
       "1024-bit RSA key, need 2048 to 8192 bits"},
      {"public key only", fx.spki, EG_EINVAL, "private key"},
      {"RSA public key only", fx.rsapub, EG_EINVAL, "private key"},
      {"encrypted", fx.encrypted, EG_EINVAL, "unencrypted"},
      {"garbage PEM", garbage, EG_EINVAL, "private key"},
      {"truncated PEM", truncated, EG_EINVAL, "private key"},
      {"empty", "", EG_EINVAL, "private key"},
  };

  (void)state;
  snprintf(truncated, sizeof(truncated), "%s", fx.pkcs8);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    eg_jwt_signer_t *js = (eg_jwt_signer_t *)&js;
    char err[EG_ERRBUF_LEN] = "";
    int rc = eg_jwt_signer_new_pem(cases[i].pem, strlen(cases[i].pem), &js, err,
                                   sizeof(err));

    if (rc != cases[i].rc || strstr(err, cases[i].needle) == NULL)
      fail_msg("case '%s': got %d '%s'", cases[i].name, rc, err);
    assert_null(js);
    assert_no_key_bytes(err);
  }
}

static void test_signer_files(void **state) {
  eg_jwt_signer_t *js = (eg_jwt_signer_t *)&js;
  char err[EG_ERRBUF_LEN] = "";
  char path[160], big_path[160];
  char *big;

  (void)state;
  snprintf(path, sizeof(path), "%s/missing.pem", fx.dir);
  assert_int_equal(eg_jwt_signer_new_file(path, &js, err, sizeof(err)),
                   EG_ENOENT);
  assert_null(js);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "No such file"));

  assert_int_equal(eg_jwt_signer_new_file(fx.dir, &js, err, sizeof(err)),
                   EG_EIO);
  assert_null(js);
  assert_non_null(strstr(err, fx.dir));

  /* The size limit holds even for a valid key followed by padding. */
  snprintf(big_path, sizeof(big_path), "%s/big.pem", fx.dir);
  big = malloc(EG_JWT_PEM_MAX + 2);
  assert_non_null(big);
  memset(big, '\n', EG_JWT_PEM_MAX + 1);
  memcpy(big, fx.pkcs8, strlen(fx.pkcs8));
  write_file(big_path, big, EG_JWT_PEM_MAX + 1);
  assert_int_equal(eg_jwt_signer_new_file(big_path, &js, err, sizeof(err)),
                   EG_ETOOBIG);
  assert_null(js);
  write_file(big_path, big, EG_JWT_PEM_MAX);
  assert_int_equal(eg_jwt_signer_new_file(big_path, &js, err, sizeof(err)),
                   EG_OK);
  eg_jwt_signer_free(js);
  assert_int_equal(
      eg_jwt_signer_new_pem(big, EG_JWT_PEM_MAX + 1, &js, err, sizeof(err)),
      EG_ETOOBIG);
  assert_null(js);
  unlink(big_path);
  free(big);

  /* A file holding a refused key names the file, not the key. */
  write_file(big_path, fx.ec_pkcs8, strlen(fx.ec_pkcs8));
  assert_int_equal(eg_jwt_signer_new_file(big_path, &js, err, sizeof(err)),
                   EG_EINVAL);
  assert_non_null(strstr(err, big_path));
  assert_non_null(strstr(err, "EC key"));
  assert_no_key_bytes(err);
  unlink(big_path);

  assert_int_equal(eg_jwt_signer_new_file(NULL, &js, err, sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(eg_jwt_signer_new_file(fx.pkcs1_path, NULL, NULL, 0),
                   EG_EINVAL);
  assert_int_equal(eg_jwt_signer_new_pem(NULL, 10, &js, err, sizeof(err)),
                   EG_EINVAL);
  assert_null(js);
}

#define THREADS    4
#define ITERATIONS 8

struct thread_arg {
  const eg_jwt_signer_t *js;
  int64_t now;
  int failures;
};

static void *mint_loop(void *p) {
  struct thread_arg *ta = p;

  for (int i = 0; i < ITERATIONS; i++) {
    char tok[EG_JWT_SIZE];
    eg_jwt_claims_t claims;
    int64_t now = ta->now + i;

    if (eg_jwt_mint(ta->js, APP_ID, now, tok, sizeof(tok), NULL, 0) != EG_OK ||
        eg_jwt_verify(tok, fx.spki, strlen(fx.spki), now, &claims, NULL, 0) !=
            EG_OK ||
        claims.iat != now - 60)
      ta->failures++;
  }
  return NULL;
}

static void test_concurrent_mint(void **state) {
  eg_jwt_signer_t *js = signer_from(fx.pkcs1);
  pthread_t tid[THREADS];
  struct thread_arg ta[THREADS];

  (void)state;
  for (int i = 0; i < THREADS; i++) {
    ta[i].js = js;
    ta[i].now = NOW + 1000 * i;
    ta[i].failures = 0;
    assert_int_equal(pthread_create(&tid[i], NULL, mint_loop, &ta[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_join(tid[i], NULL), 0);
    assert_int_equal(ta[i].failures, 0);
  }
  eg_jwt_signer_free(js);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mint_pkcs1_and_pkcs8_files),
      cmocka_unit_test(test_mint_from_memory_client_id),
      cmocka_unit_test(test_mint_iss_rules),
      cmocka_unit_test(test_mint_args),
      cmocka_unit_test(test_verify_tamper_every_byte),
      cmocka_unit_test(test_verify_wrong_key),
      cmocka_unit_test(test_verify_time_window),
      cmocka_unit_test(test_verify_crafted),
      cmocka_unit_test(test_verify_hs256_confusion),
      cmocka_unit_test(test_verify_malformed),
      cmocka_unit_test(test_verify_key_refusals),
      cmocka_unit_test(test_signer_refusals),
      cmocka_unit_test(test_signer_files),
      cmocka_unit_test(test_concurrent_mint),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}

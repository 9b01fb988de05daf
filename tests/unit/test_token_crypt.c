/* Unit tests for the token key ring and AES-256-GCM sealing: key file
 * formats, key ids, the documented value layout (checked by decrypting with
 * OpenSSL directly), aad binding, tampering, rotation and argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eg/error.h"
#include "eg/token_crypt.h"
#include "oom_inject.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* Two fixed keys, as hex. */
#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f"

static void unhex(const char *hex, unsigned char *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned v;

    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (unsigned char)v;
  }
}

static void expected_id(const char *hex, char id[9]) {
  unsigned char k[32];
  unsigned char d[SHA256_DIGEST_LENGTH];

  unhex(hex, k, 32);
  SHA256(k, 32, d);
  snprintf(id, 9, "%02x%02x%02x%02x", d[0], d[1], d[2], d[3]);
}

static eg_token_crypt_t *ring(const char *text) {
  eg_token_crypt_t *tc = NULL;
  char err[EG_ERRBUF_LEN] = "";

  if (eg_token_crypt_new_mem(text, strlen(text), &tc, err, sizeof(err)) !=
      EG_OK)
    fail_msg("key ring: %s", err);
  return tc;
}

static char *write_file(const void *data, size_t len) {
  char *path = strdup("/tmp/eg_test_keyXXXXXX");
  int fd;

  assert_non_null(path);
  fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  close(fd);
  return path;
}

static void test_key_formats(void **state) {
  static const struct {
    const char *text;
    size_t nkeys;
  } ok[] = {
      {KEY_A, 1},
      {KEY_A "\n", 1},
      {KEY_A "\r\n", 1},
      {"  " KEY_A " \t\n", 1},
      {"# rotation 2024-05\n\n" KEY_B "\n# old\n" KEY_A "\n\n", 2},
      {"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", 1},
  };
  char ida[9];
  char idb[9];

  (void)state;
  expected_id(KEY_A, ida);
  expected_id(KEY_B, idb);
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    eg_token_crypt_t *tc = ring(ok[i].text);

    assert_int_equal(eg_token_crypt_count(tc), ok[i].nkeys);
    assert_string_equal(eg_token_crypt_key_id(tc, ok[i].nkeys - 1), ida);
    if (ok[i].nkeys == 2)
      assert_string_equal(eg_token_crypt_key_id(tc, 0), idb);
    assert_null(eg_token_crypt_key_id(tc, ok[i].nkeys));
    eg_token_crypt_free(tc);
  }

  /* Exactly 32 bytes: a raw key (its bytes may be anything, '\n' too). */
  {
    unsigned char raw[32];
    eg_token_crypt_t *tc = NULL;

    unhex(KEY_A, raw, 32);
    raw[5] = '\n';
    raw[6] = '#';
    assert_int_equal(eg_token_crypt_new_mem(raw, 32, &tc, NULL, 0), EG_OK);
    assert_int_equal(eg_token_crypt_count(tc), 1);
    eg_token_crypt_free(tc);
    unhex(KEY_A, raw, 32);
    assert_int_equal(eg_token_crypt_new_mem(raw, 32, &tc, NULL, 0), EG_OK);
    assert_string_equal(eg_token_crypt_key_id(tc, 0), ida);
    eg_token_crypt_free(tc);
  }
  assert_int_equal(eg_token_crypt_count(NULL), 0);
  assert_null(eg_token_crypt_key_id(NULL, 0));
  eg_token_crypt_free(NULL);
}

static void test_key_format_errors(void **state) {
  static const struct {
    const char *text;
    int rc;
    const char *expect;
  } bad[] = {
      {"", EG_EINVAL, "no key"},
      {"# only a comment\n\n", EG_EINVAL, "no key"},
      {"0001020304050607", EG_EINVAL, "line 1: expected 64 hex"},
      {KEY_A "00\n", EG_EINVAL, "line 1: expected 64 hex"},
      {"# c\n" KEY_A "\nzz0102030405060708090a0b0c0d0e0f101112131415161718"
       "191a1b1c1d1e1f\n",
       EG_EINVAL, "line 3: expected 64 hex"},
      {KEY_A " " KEY_B, EG_EINVAL, "line 1: expected 64 hex"},
      {KEY_A "\n" KEY_A "\n", EG_EEXIST, "line 2: same key id"},
      /* 33 bytes: not raw, not hex. */
      {"0123456789abcdef0123456789abcdef\n", EG_EINVAL, "expected 64 hex"},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    eg_token_crypt_t *tc = (eg_token_crypt_t *)1;
    char err[EG_ERRBUF_LEN] = "";

    assert_int_equal(eg_token_crypt_new_mem(bad[i].text, strlen(bad[i].text),
                                            &tc, err, sizeof(err)),
                     bad[i].rc);
    assert_null(tc);
    if (strstr(err, bad[i].expect) == NULL)
      fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].expect);
    /* Key material never appears in errors. */
    assert_null(strstr(err, "0001020304"));
    assert_null(strstr(err, "f0e1d2c3"));
  }

  /* Too many keys. */
  {
    char text[17 * 66 + 1];
    eg_token_crypt_t *tc = NULL;
    char err[EG_ERRBUF_LEN] = "";

    text[0] = '\0';
    for (int i = 0; i < 17; i++) {
      char line[67];

      snprintf(line, sizeof(line), "%02x%s\n", i, &KEY_A[2]);
      strcat(text, line);
    }
    assert_int_equal(
        eg_token_crypt_new_mem(text, strlen(text), &tc, err, sizeof(err)),
        EG_ETOOBIG);
    assert_non_null(strstr(err, "line 17: more than 16 keys"));
    text[16 * 65] = '\0';
    assert_int_equal(
        eg_token_crypt_new_mem(text, strlen(text), &tc, err, sizeof(err)),
        EG_OK);
    assert_int_equal(eg_token_crypt_count(tc), 16);
    eg_token_crypt_free(tc);
  }
  {
    eg_token_crypt_t *tc = NULL;
    static char big[64 * 1024 + 1];

    memset(big, '#', sizeof(big));
    assert_int_equal(eg_token_crypt_new_mem(big, sizeof(big), &tc, NULL, 0),
                     EG_ETOOBIG);
    assert_int_equal(eg_token_crypt_new_mem(NULL, 1, &tc, NULL, 0), EG_EINVAL);
    assert_int_equal(eg_token_crypt_new_mem("x", 1, NULL, NULL, 0), EG_EINVAL);
  }
}

static void test_key_file(void **state) {
  eg_token_crypt_t *tc = NULL;
  char err[EG_ERRBUF_LEN] = "";
  unsigned char raw[32];
  char *path;
  char ida[9];

  (void)state;
  expected_id(KEY_A, ida);
  unhex(KEY_A, raw, 32);
  path = write_file(raw, 32);
  assert_int_equal(eg_token_crypt_new_file(path, &tc, err, sizeof(err)), EG_OK);
  assert_string_equal(eg_token_crypt_key_id(tc, 0), ida);
  eg_token_crypt_free(tc);
  unlink(path);
  free(path);

  path = write_file(KEY_B "\n" KEY_A "\n", 130);
  assert_int_equal(eg_token_crypt_new_file(path, &tc, err, sizeof(err)), EG_OK);
  assert_int_equal(eg_token_crypt_count(tc), 2);
  eg_token_crypt_free(tc);
  unlink(path);
  free(path);

  /* Errors name the file and the line, never the content. */
  path = write_file(KEY_A "\nnot-a-key\n", 75);
  assert_int_equal(eg_token_crypt_new_file(path, &tc, err, sizeof(err)),
                   EG_EINVAL);
  assert_null(tc);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "line 2"));
  assert_null(strstr(err, "not-a-key"));
  unlink(path);
  free(path);

  {
    static char big[64 * 1024 + 10];

    memset(big, '#', sizeof(big));
    path = write_file(big, sizeof(big));
    assert_int_equal(eg_token_crypt_new_file(path, &tc, err, sizeof(err)),
                     EG_ETOOBIG);
    unlink(path);
    free(path);
  }
  assert_int_equal(
      eg_token_crypt_new_file("/nonexistent/key", &tc, err, sizeof(err)),
      EG_EIO);
  assert_non_null(strstr(err, "/nonexistent/key: cannot open"));
  assert_int_equal(eg_token_crypt_new_file("/", &tc, err, sizeof(err)), EG_EIO);
  assert_non_null(strstr(err, "cannot read"));
  assert_int_equal(eg_token_crypt_new_file(NULL, &tc, err, sizeof(err)),
                   EG_EINVAL);
  assert_int_equal(eg_token_crypt_new_file("/x", NULL, err, sizeof(err)),
                   EG_EINVAL);
}

static char *seal(const eg_token_crypt_t *tc, const char *aad, const char *pt) {
  char *out = NULL;
  size_t len = 0;
  char err[EG_ERRBUF_LEN] = "";

  if (eg_token_crypt_seal(tc, aad, strlen(aad), pt, strlen(pt), &out, &len, err,
                          sizeof(err)) != EG_OK)
    fail_msg("seal: %s", err);
  assert_int_equal(len, strlen(out));
  return out;
}

static int open_str(const eg_token_crypt_t *tc,
                    const char *aad,
                    const char *sealed,
                    char **pt) {
  size_t len = 0;
  char err[EG_ERRBUF_LEN] = "";
  int rc = eg_token_crypt_open(tc, aad, strlen(aad), sealed, strlen(sealed), pt,
                               &len, err, sizeof(err));

  if (rc == EG_OK)
    assert_int_equal(len, strlen(*pt));
  else
    assert_null(*pt);
  return rc;
}

static void test_seal_open(void **state) {
  eg_token_crypt_t *tc = ring(KEY_A);
  const char *aad = "envgate:token:v1:1:2:abcd";
  const char *pt = "1720000000:1719996400:ghs_16C7e42F292c6912E7710c838347Ae1";
  char *s1 = seal(tc, aad, pt);
  char *s2 = seal(tc, aad, pt);
  char *back = NULL;
  char head[16];

  (void)state;
  /* "e1:" KEYID ":" nonce(24) ":" ct ":" tag(32), all lower-case hex. */
  snprintf(head, sizeof(head), "e1:%s:", eg_token_crypt_key_id(tc, 0));
  assert_memory_equal(s1, head, 12);
  assert_int_equal(strlen(s1), 12 + 24 + 1 + 2 * strlen(pt) + 1 + 32);
  assert_int_equal(s1[36], ':');
  assert_int_equal(s1[strlen(s1) - 33], ':');
  assert_null(strstr(s1, "ghs_"));
  assert_null(strstr(s1, "1720000000"));
  /* A fresh nonce per value. */
  assert_true(strcmp(s1, s2) != 0);
  assert_true(memcmp(s1 + 12, s2 + 12, 24) != 0);

  assert_int_equal(open_str(tc, aad, s1, &back), EG_OK);
  assert_string_equal(back, pt);
  eg_token_crypt_free_plain(back, strlen(back));
  assert_int_equal(open_str(tc, aad, s2, &back), EG_OK);
  eg_token_crypt_free_plain(back, strlen(back));

  /* Bound to its key name. */
  assert_int_equal(open_str(tc, "envgate:token:v1:1:3:abcd", s1, &back),
                   EG_EAUTH);
  assert_int_equal(open_str(tc, "", s1, &back), EG_EAUTH);
  free(s1);
  free(s2);
  eg_token_crypt_free_plain(NULL, 0);
  eg_token_crypt_free(tc);
}

/* The layout the header documents, decrypted with OpenSSL directly. */
static void test_layout_matches_doc(void **state) {
  eg_token_crypt_t *tc = ring(KEY_A);
  const char *aad = "some:key";
  const char *pt = "hello token";
  char *s = seal(tc, aad, pt);
  size_t n = strlen(s);
  size_t ct_len = (n - 12 - 24 - 1 - 1 - 32) / 2;
  unsigned char key[32];
  unsigned char nonce[12];
  unsigned char tag[16];
  unsigned char ct[64];
  unsigned char out[64];
  int len = 0;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

  (void)state;
  unhex(KEY_A, key, 32);
  unhex(s + 12, nonce, 12);
  unhex(s + 37, ct, ct_len);
  unhex(s + n - 32, tag, 16);
  assert_int_equal(ct_len, strlen(pt));
  assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce),
                   1);
  assert_int_equal(
      EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)s, 12),
      1); /* "e1:KEYID:" */
  assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &len,
                                     (const unsigned char *)aad, strlen(aad)),
                   1);
  assert_int_equal(EVP_DecryptUpdate(ctx, out, &len, ct, (int)ct_len), 1);
  assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag), 1);
  assert_int_equal(EVP_DecryptFinal_ex(ctx, out + len, &len), 1);
  assert_memory_equal(out, pt, strlen(pt));
  EVP_CIPHER_CTX_free(ctx);
  free(s);
  eg_token_crypt_free(tc);
}

static void test_tamper(void **state) {
  eg_token_crypt_t *tc = ring(KEY_A);
  const char *aad = "k";
  char *s = seal(tc, aad, "ghs_secret_token_value");
  size_t n = strlen(s);
  char *back = NULL;
  /* Positions in: nonce, ciphertext, tag. */
  size_t pos[] = {12, 20, 37, 40, n - 32, n - 1};

  (void)state;
  for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
    char *t = strdup(s);

    t[pos[i]] = t[pos[i]] == '0' ? '1' : '0';
    assert_int_equal(open_str(tc, aad, t, &back), EG_EAUTH);
    free(t);
  }
  {
    /* Another key id: unknown. */
    char *t = strdup(s);

    t[3] = t[3] == '0' ? '1' : '0';
    assert_int_equal(open_str(tc, aad, t, &back), EG_ENOENT);
    free(t);
  }
  {
    static const char *bad[] = {
        "",
        "p1:1:2:ghs_x",
        ("e2:00000000:000000000000000000000000:00:"
         "00000000000000000000000000000000"),
        ("e1:00000000:000000000000000000000000::"
         "00000000000000000000000000000000"),
        ("e1:00000000:000000000000000000000000:000:"
         "00000000000000000000000000000000"),
        ("e1:00000000-000000000000000000000000:00:"
         "00000000000000000000000000000000"),
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
      assert_int_equal(open_str(tc, aad, bad[i], &back), EG_EPARSE);
  }
  {
    /* Bad hex in the ciphertext, with the right key id. */
    char *t = strdup(s);

    t[37] = 'x';
    assert_int_equal(open_str(tc, aad, t, &back), EG_EPARSE);
    /* Truncated. */
    t[n - 2] = '\0';
    assert_int_equal(open_str(tc, aad, t, &back), EG_EPARSE);
    free(t);
  }
  free(s);
  eg_token_crypt_free(tc);
}

static void test_rotation(void **state) {
  eg_token_crypt_t *old_ring = ring(KEY_A);
  eg_token_crypt_t *new_ring = ring(KEY_B "\n" KEY_A "\n");
  eg_token_crypt_t *other = ring(KEY_B);
  char *old_val = seal(old_ring, "k", "old-token");
  char *new_val = seal(new_ring, "k", "new-token");
  char *back = NULL;

  (void)state;
  /* The new ring encrypts with its first key ... */
  assert_memory_equal(new_val + 3, eg_token_crypt_key_id(new_ring, 0), 8);
  /* ... and still opens values of the old key. */
  assert_int_equal(open_str(new_ring, "k", old_val, &back), EG_OK);
  assert_string_equal(back, "old-token");
  eg_token_crypt_free_plain(back, strlen(back));
  assert_int_equal(open_str(new_ring, "k", new_val, &back), EG_OK);
  eg_token_crypt_free_plain(back, strlen(back));
  /* A worker still on the old ring cannot open the new values. */
  assert_int_equal(open_str(old_ring, "k", new_val, &back), EG_ENOENT);
  /* Once the old key is removed, its values no longer open. */
  assert_int_equal(open_str(other, "k", old_val, &back), EG_ENOENT);
  free(old_val);
  free(new_val);
  eg_token_crypt_free(old_ring);
  eg_token_crypt_free(new_ring);
  eg_token_crypt_free(other);
}

static void test_args(void **state) {
  eg_token_crypt_t *tc = ring(KEY_A);
  char *out = (char *)1;
  size_t len = 1;
  static char big[EG_TOKEN_CRYPT_MAX_PLAIN + 1];
  char err[EG_ERRBUF_LEN];

  (void)state;
  assert_int_equal(
      eg_token_crypt_seal(NULL, "k", 1, "x", 1, &out, &len, err, sizeof(err)),
      EG_EINVAL);
  assert_null(out);
  assert_int_equal(len, 0);
  assert_int_equal(
      eg_token_crypt_seal(tc, "k", 1, "x", 0, &out, &len, err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(
      eg_token_crypt_seal(tc, NULL, 1, "x", 1, &out, &len, err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(
      eg_token_crypt_seal(tc, "k", 1, NULL, 1, &out, &len, err, sizeof(err)),
      EG_EINVAL);
  assert_int_equal(
      eg_token_crypt_seal(tc, "k", 1, "x", 1, NULL, &len, err, sizeof(err)),
      EG_EINVAL);
  memset(big, 'a', sizeof(big));
  assert_int_equal(eg_token_crypt_seal(tc, "k", 1, big, sizeof(big), &out, &len,
                                       err, sizeof(err)),
                   EG_EINVAL);
  /* The largest plaintext round-trips; no aad is fine. */
  assert_int_equal(eg_token_crypt_seal(tc, NULL, 0, big, sizeof(big) - 1, &out,
                                       &len, err, sizeof(err)),
                   EG_OK);
  {
    char *back = NULL;
    size_t blen = 0;

    assert_int_equal(eg_token_crypt_open(tc, NULL, 0, out, len, &back, &blen,
                                         err, sizeof(err)),
                     EG_OK);
    assert_int_equal(blen, sizeof(big) - 1);
    assert_memory_equal(back, big, blen);
    eg_token_crypt_free_plain(back, blen);
    assert_int_equal(eg_token_crypt_open(tc, NULL, 0, out, len, NULL, &blen,
                                         err, sizeof(err)),
                     EG_EINVAL);
    assert_int_equal(eg_token_crypt_open(NULL, NULL, 0, out, len, &back, &blen,
                                         err, sizeof(err)),
                     EG_EINVAL);
    assert_int_equal(eg_token_crypt_open(tc, NULL, 3, out, len, &back, &blen,
                                         err, sizeof(err)),
                     EG_EINVAL);
  }
  free(out);
  eg_token_crypt_free(tc);
}

#if OOM_INJECTION
static const char *oom_path;

static int crypt_scenario(void) {
  eg_token_crypt_t *tc = NULL;
  char *sealed = NULL;
  size_t len = 0;
  char *pt = NULL;
  size_t ptlen = 0;
  int rc = eg_token_crypt_new_file(oom_path, &tc, NULL, 0);

  if (rc != EG_OK)
    return rc;
  rc = eg_token_crypt_seal(tc, "k", 1, "token", 5, &sealed, &len, NULL, 0);
  if (rc == EG_OK) {
    rc = eg_token_crypt_open(tc, "k", 1, sealed, len, &pt, &ptlen, NULL, 0);
    if (rc == EG_OK) {
      assert_string_equal(pt, "token");
      eg_token_crypt_free_plain(pt, ptlen);
    }
    free(sealed);
  }
  eg_token_crypt_free(tc);
  return rc;
}
#endif

/* Every allocation in turn fails (OpenSSL's too): each call fails cleanly
 * with EG_ENOMEM or EG_ECRYPTO and frees what it built. */
static void test_out_of_memory(void **state) {
  (void)state;
#if OOM_INJECTION
  static const int codes[] = {EG_ENOMEM, EG_ECRYPTO};
  char *path = write_file(KEY_B "\n" KEY_A "\n", 130);

  oom_path = path;
  assert_int_equal(crypt_scenario(), EG_OK); /* OpenSSL's lazy set-up */
  oom_run(crypt_scenario, codes, 2);
  unlink(path);
  free(path);
#else
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key_formats),
      cmocka_unit_test(test_key_format_errors),
      cmocka_unit_test(test_key_file),
      cmocka_unit_test(test_seal_open),
      cmocka_unit_test(test_layout_matches_doc),
      cmocka_unit_test(test_tamper),
      cmocka_unit_test(test_rotation),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

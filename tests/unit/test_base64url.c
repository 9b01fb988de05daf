/* Unit tests for eg/base64url.h: RFC 4648 vectors in the URL alphabet,
 * round trips across chunk boundaries, and strict decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "eg/base64url.h"
#include "eg/error.h"

struct vector {
  const char *raw;
  size_t raw_len;
  const char *enc;
};

static const struct vector vectors[] = {
    {"", 0, ""},
    {"f", 1, "Zg"},
    {"fo", 2, "Zm8"},
    {"foo", 3, "Zm9v"},
    {"foob", 4, "Zm9vYg"},
    {"fooba", 5, "Zm9vYmE"},
    {"foobar", 6, "Zm9vYmFy"},
    /* Standard base64 "+/8=", "+/+/": the URL alphabet replaces + and /. */
    {"\xfb\xff", 2, "-_8"},
    {"\xfb\xff\xbf", 3, "-_-_"},
    {"\0\0\0\0", 4, "AAAAAA"},
    {"{\"alg\":\"RS256\",\"typ\":\"JWT\"}", 27,
     "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"},
};

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
    const struct vector *v = &vectors[i];
    char enc[64];
    unsigned char dec[64];
    size_t n = 99;

    assert_int_equal(eg_base64url_encoded_len(v->raw_len), strlen(v->enc));
    assert_int_equal(eg_base64url_decoded_len(strlen(v->enc)), v->raw_len);
    assert_int_equal(eg_base64url_encode(v->raw, v->raw_len, enc, sizeof(enc)),
                     EG_OK);
    assert_string_equal(enc, v->enc);
    assert_int_equal(
        eg_base64url_decode(v->enc, strlen(v->enc), dec, sizeof(dec), &n),
        EG_OK);
    assert_int_equal(n, v->raw_len);
    assert_memory_equal(dec, v->raw, v->raw_len);
  }
}

/* Every length up to well past one decode chunk (256 characters), with
 * every byte value present. */
static void test_round_trip(void **state) {
  unsigned char raw[700], dec[700];
  char enc[1000];

  (void)state;
  for (size_t i = 0; i < sizeof(raw); i++)
    raw[i] = (unsigned char)(i * 7 + (i >> 8));
  for (size_t len = 0; len <= sizeof(raw); len++) {
    size_t n = 0;
    size_t elen = eg_base64url_encoded_len(len);

    assert_int_equal(eg_base64url_encode(raw, len, enc, elen + 1), EG_OK);
    assert_int_equal(strlen(enc), elen);
    assert_null(strchr(enc, '='));
    assert_null(strchr(enc, '+'));
    assert_null(strchr(enc, '/'));
    assert_int_equal(eg_base64url_decoded_len(elen), len);
    assert_int_equal(eg_base64url_decode(enc, elen, dec, len, &n), EG_OK);
    assert_int_equal(n, len);
    assert_memory_equal(dec, raw, len);
  }
}

struct bad {
  const char *name;
  const char *in;
  size_t len;
};

static const struct bad bad_inputs[] = {
    {"padding", "Zg==", 4},
    {"padding in a full group", "Zm9=", 4},
    {"one character", "Z", 1},
    {"five characters", "Zm9vY", 5},
    {"standard alphabet +", "Zm+v", 4},
    {"standard alphabet /", "Zm/v", 4},
    {"space", "Zm9 ", 4},
    {"leading space", " Zm9v", 5},
    {"newline", "Zm9v\nYmFy", 9},
    {"NUL inside", "Zm\0v", 4},
    {"non-ASCII", "Zm9\xc3", 4},
    {"non-canonical 2-char tail", "Zh", 2},
    {"non-canonical 3-char tail", "Zm9", 3},
    {"non-canonical after a chunk",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
     "AB",
     290},
    {"bad character after a chunk",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
     "AAA.",
     292},
};

static void test_decode_rejects(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
    const struct bad *b = &bad_inputs[i];
    unsigned char out[512];
    size_t n = 99;
    int rc = eg_base64url_decode(b->in, b->len, out, sizeof(out), &n);

    if (rc != EG_EINVAL)
      fail_msg("case '%s': got %d, want EG_EINVAL", b->name, rc);
    assert_int_equal(n, 0);
  }
}

static void test_decode_limits(void **state) {
  unsigned char out[8];
  size_t n = 99;

  (void)state;
  /* "Zm9vYmE" decodes to 5 bytes: room for 4 is too little, 5 is enough. */
  assert_int_equal(eg_base64url_decode("Zm9vYmE", 7, out, 4, &n), EG_ERANGE);
  assert_int_equal(n, 0);
  assert_int_equal(eg_base64url_decode("Zm9vYmE", 7, out, 5, &n), EG_OK);
  assert_int_equal(n, 5);
  assert_memory_equal(out, "fooba", 5);
  /* Empty input needs no buffer. */
  n = 99;
  assert_int_equal(eg_base64url_decode(NULL, 0, NULL, 0, &n), EG_OK);
  assert_int_equal(n, 0);
  assert_int_equal(eg_base64url_decode("", 0, out, sizeof(out), &n), EG_OK);
  assert_int_equal(n, 0);
  /* The limit is checked before the input is read. */
  assert_int_equal(eg_base64url_decode("Zm9v", EG_BASE64URL_MAX_ENCODED + 1,
                                       out, sizeof(out), &n),
                   EG_ETOOBIG);
  assert_int_equal(eg_base64url_decode(NULL, 4, out, sizeof(out), &n),
                   EG_EINVAL);
  assert_int_equal(eg_base64url_decode("Zm9v", 4, NULL, 3, &n), EG_EINVAL);
  assert_int_equal(eg_base64url_decode("Zm9v", 4, out, sizeof(out), NULL),
                   EG_EINVAL);
}

static void test_encode_limits(void **state) {
  char out[16];

  (void)state;
  /* "fooba" needs 7 characters and a NUL. */
  memcpy(out, "junk", 5);
  assert_int_equal(eg_base64url_encode("fooba", 5, out, 7), EG_ERANGE);
  assert_string_equal(out, "");
  assert_int_equal(eg_base64url_encode("fooba", 5, out, 8), EG_OK);
  assert_string_equal(out, "Zm9vYmE");
  /* Full groups only: EVP_EncodeBlock's NUL must land inside the buffer. */
  memset(out, 'x', sizeof(out));
  assert_int_equal(eg_base64url_encode("foobar", 6, out, 9), EG_OK);
  assert_string_equal(out, "Zm9vYmFy");
  assert_int_equal(eg_base64url_encode(NULL, 0, out, 1), EG_OK);
  assert_string_equal(out, "");
  assert_int_equal(eg_base64url_encode("", 0, out, 0), EG_ERANGE);
  assert_int_equal(eg_base64url_encode(NULL, 1, out, sizeof(out)), EG_EINVAL);
  assert_int_equal(eg_base64url_encode("f", 1, NULL, 8), EG_EINVAL);
  assert_int_equal(
      eg_base64url_encode("f", EG_BASE64URL_MAX_ENCODED, out, sizeof(out)),
      EG_ETOOBIG);
  assert_int_equal(eg_base64url_encoded_len(EG_BASE64URL_MAX_ENCODED / 4 * 3),
                   EG_BASE64URL_MAX_ENCODED);
  assert_int_equal(
      eg_base64url_encoded_len(EG_BASE64URL_MAX_ENCODED / 4 * 3 + 1), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_decode_rejects),
      cmocka_unit_test(test_decode_limits),
      cmocka_unit_test(test_encode_limits),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for eg/signature.h: header parsing, GitHub's test vector,
 * secret rotation, odd bodies and concurrent use of one verifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eg/error.h"
#include "eg/signature.h"

#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY   "Hello, World!"
#define GH_SIG                                                                 \
  "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
/* Independent vectors from `printf ... | openssl dgst -sha256 -hmac`. */
#define EMPTY_SIG                                                              \
  "sha256=66a0c074deaa0f489ead6537e0d32f9a344b90bbeda705b6ed45ecd3b413fb40"
#define NUL_BODY     "a\0b\0\0c"
#define NUL_BODY_LEN 6
#define NUL_SIG                                                                \
  "sha256=7bf58d9d0f635c36267cda25a88a1079509eb294006155eaa77ed4f1b649e398"

static const char *const old_secret = "previous-secret-0123456789";
static const char *const new_secret = "current-secret-abcdefghijk";

static eg_signature_verifier_t *make(const char *const *secrets, size_t n) {
  eg_signature_verifier_t *sv = NULL;
  char err[EG_ERRBUF_LEN] = "";

  assert_int_equal(eg_signature_verifier_new(secrets, n, &sv, err, sizeof(err)),
                   EG_OK);
  assert_non_null(sv);
  return sv;
}

static void test_github_vector_compute(void **state) {
  char out[EG_SIGNATURE_HEADER_SIZE];

  (void)state;
  assert_int_equal(eg_signature_compute(GH_SECRET, GH_BODY, strlen(GH_BODY),
                                        out, sizeof(out)),
                   EG_OK);
  assert_string_equal(out, GH_SIG);
  assert_int_equal(strlen(out), EG_SIGNATURE_HEADER_LEN);
}

static void test_github_vector_verify(void **state) {
  const char *secrets[] = {GH_SECRET};
  eg_signature_verifier_t *sv = make(secrets, 1);
  size_t matched = 99;

  (void)state;
  assert_int_equal(
      eg_signature_verify(sv, GH_SIG, GH_BODY, strlen(GH_BODY), &matched),
      EG_OK);
  assert_int_equal(matched, 0);
  /* Same verifier, reused: the template must not have been consumed. */
  assert_int_equal(
      eg_signature_verify(sv, GH_SIG, GH_BODY, strlen(GH_BODY), NULL), EG_OK);
  /* One byte more or less in the body fails. */
  assert_int_equal(
      eg_signature_verify(sv, GH_SIG, GH_BODY, strlen(GH_BODY) - 1, NULL),
      EG_EAUTH);
  assert_int_equal(eg_signature_verify(sv, GH_SIG, "Hello, World!!", 14, NULL),
                   EG_EAUTH);
  eg_signature_verifier_free(sv);
}

struct parse_case {
  const char *name;
  const char *header;
  int rc;
};

static const struct parse_case parse_cases[] = {
    {"valid", GH_SIG, EG_OK},
    {"upper-case hex",
     "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17",
     EG_EINVAL},
    {"one upper-case digit",
     "sha256=757107eA0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
     EG_EINVAL},
    {"upper-case prefix",
     "SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
     EG_EINVAL},
    {"missing prefix",
     "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
     EG_EINVAL},
    {"sha1 prefix", "sha1=0123456789abcdef0123456789abcdef01234567", EG_EINVAL},
    {"prefix without '='",
     "sha256757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
     EG_EINVAL},
    {"truncated by one",
     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
     EG_EINVAL},
    {"half length", "sha256=757107ea0eb2509fc211221cce984b8a", EG_EINVAL},
    {"one digit too many",
     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e170",
     EG_EINVAL},
    {"twice",
     GH_SIG "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
     EG_EINVAL},
    {"non-hex letter",
     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g",
     EG_EINVAL},
    {"non-hex punctuation",
     "sha256=757107ea0eb2509fc211221cce984b8a:7570b6d7586c22c46f4379c8b043e17",
     EG_EINVAL},
    {"trailing space",
     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17 ",
     EG_EINVAL},
    {"leading space",
     " sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
     EG_EINVAL},
    {"space after prefix",
     "sha256= 757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
     EG_EINVAL},
    {"trailing newline",
     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1\n",
     EG_EINVAL},
    {"prefix only", "sha256=", EG_EINVAL},
    {"empty", "", EG_EINVAL},
    {"NULL", NULL, EG_EINVAL},
};

static void test_parse_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
    const struct parse_case *c = &parse_cases[i];
    unsigned char digest[EG_SIGNATURE_DIGEST_LEN];
    static const unsigned char zero[EG_SIGNATURE_DIGEST_LEN];
    int rc;

    memset(digest, 0xa5, sizeof(digest));
    rc = eg_signature_parse(c->header, digest);
    if (rc != c->rc)
      fail_msg("case '%s': got %d, want %d", c->name, rc, c->rc);
    if (c->rc != EG_OK && memcmp(digest, zero, sizeof(zero)) != 0)
      fail_msg("case '%s': digest not zeroed on failure", c->name);
  }
}

static void test_parse_digest(void **state) {
  unsigned char digest[EG_SIGNATURE_DIGEST_LEN];
  static const unsigned char want[EG_SIGNATURE_DIGEST_LEN] = {
      0x75, 0x71, 0x07, 0xea, 0x0e, 0xb2, 0x50, 0x9f, 0xc2, 0x11, 0x22,
      0x1c, 0xce, 0x98, 0x4b, 0x8a, 0x37, 0x57, 0x0b, 0x6d, 0x75, 0x86,
      0xc2, 0x2c, 0x46, 0xf4, 0x37, 0x9c, 0x8b, 0x04, 0x3e, 0x17};

  (void)state;
  assert_int_equal(eg_signature_parse(GH_SIG, digest), EG_OK);
  assert_memory_equal(digest, want, sizeof(want));
  assert_int_equal(eg_signature_parse(GH_SIG, NULL), EG_EINVAL);
}

/* A malformed header is EG_EINVAL from verify too, even when its digest
 * would match, so the caller can tell "malformed" from "wrong". */
static void test_verify_malformed_table(void **state) {
  const char *secrets[] = {GH_SECRET};
  eg_signature_verifier_t *sv = make(secrets, 1);

  (void)state;
  for (size_t i = 1; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
    const struct parse_case *c = &parse_cases[i];
    size_t matched = 42;
    int rc =
        eg_signature_verify(sv, c->header, GH_BODY, strlen(GH_BODY), &matched);

    if (rc != EG_EINVAL)
      fail_msg("case '%s': got %d, want EG_EINVAL", c->name, rc);
    assert_int_equal(matched, 42);
  }
  eg_signature_verifier_free(sv);
}

static void test_rotation(void **state) {
  const char *secrets[] = {new_secret, old_secret};
  eg_signature_verifier_t *sv = make(secrets, 2);
  char by_new[EG_SIGNATURE_HEADER_SIZE], by_old[EG_SIGNATURE_HEADER_SIZE];
  char by_other[EG_SIGNATURE_HEADER_SIZE];
  const char *body = "{\"action\":\"requested\"}";
  size_t matched;

  (void)state;
  assert_int_equal(eg_signature_compute(new_secret, body, strlen(body), by_new,
                                        sizeof(by_new)),
                   EG_OK);
  assert_int_equal(eg_signature_compute(old_secret, body, strlen(body), by_old,
                                        sizeof(by_old)),
                   EG_OK);
  assert_int_equal(eg_signature_compute(GH_SECRET, body, strlen(body), by_other,
                                        sizeof(by_other)),
                   EG_OK);
  assert_string_not_equal(by_new, by_old);

  matched = 99;
  assert_int_equal(
      eg_signature_verify(sv, by_new, body, strlen(body), &matched), EG_OK);
  assert_int_equal(matched, 0);
  matched = 99;
  assert_int_equal(
      eg_signature_verify(sv, by_old, body, strlen(body), &matched), EG_OK);
  assert_int_equal(matched, 1);
  matched = 99;
  assert_int_equal(
      eg_signature_verify(sv, by_other, body, strlen(body), &matched),
      EG_EAUTH);
  assert_int_equal(matched, 99);
  eg_signature_verifier_free(sv);
}

static void test_rotation_many_and_duplicates(void **state) {
  const char *secrets[EG_SIGNATURE_MAX_SECRETS];
  char names[EG_SIGNATURE_MAX_SECRETS][32];
  char sig[EG_SIGNATURE_HEADER_SIZE];
  eg_signature_verifier_t *sv;
  size_t matched;

  (void)state;
  for (size_t i = 0; i < EG_SIGNATURE_MAX_SECRETS; i++) {
    snprintf(names[i], sizeof(names[i]), "secret-number-%02zu", i);
    secrets[i] = names[i];
  }
  /* The last two are equal: the first match wins. */
  secrets[EG_SIGNATURE_MAX_SECRETS - 1] = secrets[EG_SIGNATURE_MAX_SECRETS - 2];
  sv = make(secrets, EG_SIGNATURE_MAX_SECRETS);
  for (size_t i = 0; i < EG_SIGNATURE_MAX_SECRETS; i++) {
    assert_int_equal(eg_signature_compute(secrets[i], "x", 1, sig, sizeof(sig)),
                     EG_OK);
    matched = 99;
    assert_int_equal(eg_signature_verify(sv, sig, "x", 1, &matched), EG_OK);
    assert_int_equal(matched, i == EG_SIGNATURE_MAX_SECRETS - 1 ? i - 1 : i);
  }
  eg_signature_verifier_free(sv);
}

static void test_empty_body(void **state) {
  const char *secrets[] = {GH_SECRET};
  eg_signature_verifier_t *sv = make(secrets, 1);
  char out[EG_SIGNATURE_HEADER_SIZE];

  (void)state;
  assert_int_equal(eg_signature_compute(GH_SECRET, NULL, 0, out, sizeof(out)),
                   EG_OK);
  assert_string_equal(out, EMPTY_SIG);
  assert_int_equal(eg_signature_compute(GH_SECRET, "", 0, out, sizeof(out)),
                   EG_OK);
  assert_string_equal(out, EMPTY_SIG);
  assert_int_equal(eg_signature_verify(sv, EMPTY_SIG, NULL, 0, NULL), EG_OK);
  assert_int_equal(eg_signature_verify(sv, EMPTY_SIG, "", 0, NULL), EG_OK);
  assert_int_equal(eg_signature_verify(sv, GH_SIG, NULL, 0, NULL), EG_EAUTH);
  eg_signature_verifier_free(sv);
}

static void test_body_with_nul_bytes(void **state) {
  const char *secrets[] = {GH_SECRET};
  eg_signature_verifier_t *sv = make(secrets, 1);
  char out[EG_SIGNATURE_HEADER_SIZE];

  (void)state;
  assert_int_equal(
      eg_signature_compute(GH_SECRET, NUL_BODY, NUL_BODY_LEN, out, sizeof(out)),
      EG_OK);
  assert_string_equal(out, NUL_SIG);
  assert_int_equal(
      eg_signature_verify(sv, NUL_SIG, NUL_BODY, NUL_BODY_LEN, NULL), EG_OK);
  /* Stopping at the first NUL (as strlen would) must not verify. */
  assert_int_equal(eg_signature_verify(sv, NUL_SIG, NUL_BODY, 1, NULL),
                   EG_EAUTH);
  eg_signature_verifier_free(sv);
}

static void test_large_body_tamper(void **state) {
  const char *secrets[] = {GH_SECRET};
  eg_signature_verifier_t *sv = make(secrets, 1);
  char sig[EG_SIGNATURE_HEADER_SIZE];
  size_t len = 64 * 1024 + 7;
  unsigned char *body = malloc(len);

  (void)state;
  assert_non_null(body);
  for (size_t i = 0; i < len; i++)
    body[i] = (unsigned char)(i * 131 + 7);
  assert_int_equal(eg_signature_compute(GH_SECRET, body, len, sig, sizeof(sig)),
                   EG_OK);
  assert_int_equal(eg_signature_verify(sv, sig, body, len, NULL), EG_OK);
  body[len / 2] ^= 0x01;
  assert_int_equal(eg_signature_verify(sv, sig, body, len, NULL), EG_EAUTH);
  body[len / 2] ^= 0x01;
  /* Change one hex digit of the header. */
  sig[EG_SIGNATURE_HEADER_LEN - 1] =
      sig[EG_SIGNATURE_HEADER_LEN - 1] == '0' ? '1' : '0';
  assert_int_equal(eg_signature_verify(sv, sig, body, len, NULL), EG_EAUTH);
  free(body);
  eg_signature_verifier_free(sv);
}

static void test_new_errors(void **state) {
  const char *ok[] = {GH_SECRET};
  const char *with_empty[] = {"first-secret-value", "", "third"};
  const char *with_null[] = {"first-secret-value", NULL};
  const char *many[EG_SIGNATURE_MAX_SECRETS + 1];
  eg_signature_verifier_t *sv = (eg_signature_verifier_t *)&sv;
  char err[EG_ERRBUF_LEN];

  (void)state;
  for (size_t i = 0; i < EG_SIGNATURE_MAX_SECRETS + 1; i++)
    many[i] = GH_SECRET;

  err[0] = '\0';
  assert_int_equal(eg_signature_verifier_new(NULL, 1, &sv, err, sizeof(err)),
                   EG_EINVAL);
  assert_null(sv);
  assert_true(strlen(err) > 0);

  sv = (eg_signature_verifier_t *)&sv;
  assert_int_equal(eg_signature_verifier_new(ok, 0, &sv, err, sizeof(err)),
                   EG_EINVAL);
  assert_null(sv);

  assert_int_equal(eg_signature_verifier_new(many, EG_SIGNATURE_MAX_SECRETS + 1,
                                             &sv, err, sizeof(err)),
                   EG_EINVAL);
  assert_null(sv);
  assert_non_null(strstr(err, "17"));
  assert_null(strstr(err, GH_SECRET));

  assert_int_equal(
      eg_signature_verifier_new(with_empty, 3, &sv, err, sizeof(err)),
      EG_EINVAL);
  assert_null(sv);
  assert_string_equal(err, "webhook secret 2: empty");

  assert_int_equal(eg_signature_verifier_new(with_null, 2, &sv, NULL, 0),
                   EG_EINVAL);
  assert_null(sv);

  assert_int_equal(eg_signature_verifier_new(ok, 1, NULL, err, sizeof(err)),
                   EG_EINVAL);
  eg_signature_verifier_free(NULL);
}

static void test_compute_errors(void **state) {
  char out[EG_SIGNATURE_HEADER_SIZE];

  (void)state;
  strcpy(out, "junk");
  assert_int_equal(eg_signature_compute(GH_SECRET, GH_BODY, 13, out,
                                        EG_SIGNATURE_HEADER_SIZE - 1),
                   EG_ERANGE);
  assert_string_equal(out, "");
  assert_int_equal(eg_signature_compute(NULL, GH_BODY, 13, out, sizeof(out)),
                   EG_EINVAL);
  assert_int_equal(eg_signature_compute("", GH_BODY, 13, out, sizeof(out)),
                   EG_EINVAL);
  assert_int_equal(eg_signature_compute(GH_SECRET, NULL, 1, out, sizeof(out)),
                   EG_EINVAL);
  assert_int_equal(eg_signature_compute(GH_SECRET, GH_BODY, 13, NULL, 72),
                   EG_EINVAL);
  assert_int_equal(eg_signature_compute(GH_SECRET, GH_BODY, 13, out, 0),
                   EG_ERANGE);
}

static void test_verify_arg_errors(void **state) {
  const char *secrets[] = {GH_SECRET};
  eg_signature_verifier_t *sv = make(secrets, 1);

  (void)state;
  assert_int_equal(eg_signature_verify(NULL, GH_SIG, GH_BODY, 13, NULL),
                   EG_EINVAL);
  assert_int_equal(eg_signature_verify(sv, NULL, GH_BODY, 13, NULL), EG_EINVAL);
  assert_int_equal(eg_signature_verify(sv, GH_SIG, NULL, 13, NULL), EG_EINVAL);
  eg_signature_verifier_free(sv);
}

struct thread_arg {
  const eg_signature_verifier_t *sv;
  int failures;
};

#define THREADS    4
#define ITERATIONS 200

static void *verify_loop(void *p) {
  struct thread_arg *ta = p;
  char body[64];

  for (int i = 0; i < ITERATIONS; i++) {
    char sig[EG_SIGNATURE_HEADER_SIZE];
    const char *secret = (i % 2) ? old_secret : new_secret;
    size_t matched = 99;
    int len = snprintf(body, sizeof(body), "{\"n\":%d}", i);

    if (eg_signature_compute(secret, body, (size_t)len, sig, sizeof(sig)) !=
            EG_OK ||
        eg_signature_verify(ta->sv, sig, body, (size_t)len, &matched) !=
            EG_OK ||
        matched != (size_t)(i % 2) ||
        eg_signature_verify(ta->sv, GH_SIG, body, (size_t)len, NULL) !=
            EG_EAUTH)
      ta->failures++;
  }
  return NULL;
}

static void test_concurrent_use(void **state) {
  const char *secrets[] = {new_secret, old_secret};
  eg_signature_verifier_t *sv = make(secrets, 2);
  pthread_t tid[THREADS];
  struct thread_arg ta[THREADS];

  (void)state;
  for (int i = 0; i < THREADS; i++) {
    ta[i].sv = sv;
    ta[i].failures = 0;
    assert_int_equal(pthread_create(&tid[i], NULL, verify_loop, &ta[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_join(tid[i], NULL), 0);
    assert_int_equal(ta[i].failures, 0);
  }
  eg_signature_verifier_free(sv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_github_vector_compute),
      cmocka_unit_test(test_github_vector_verify),
      cmocka_unit_test(test_parse_table),
      cmocka_unit_test(test_parse_digest),
      cmocka_unit_test(test_verify_malformed_table),
      cmocka_unit_test(test_rotation),
      cmocka_unit_test(test_rotation_many_and_duplicates),
      cmocka_unit_test(test_empty_body),
      cmocka_unit_test(test_body_with_nul_bytes),
      cmocka_unit_test(test_large_body_tamper),
      cmocka_unit_test(test_new_errors),
      cmocka_unit_test(test_compute_errors),
      cmocka_unit_test(test_verify_arg_errors),
      cmocka_unit_test(test_concurrent_use),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}

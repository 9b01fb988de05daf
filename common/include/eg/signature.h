/* GitHub webhook signatures: X-Hub-Signature-256 is "sha256=" followed by the
 * lower-case hex HMAC-SHA256 of the raw request body under the webhook secret.
 * Verification tries every configured secret so secrets can be rotated. */
#ifndef EG_SIGNATURE_H
#define EG_SIGNATURE_H

#include <stddef.h>

/* Length of a header value: "sha256=" plus 64 hex digits. */
#define EG_SIGNATURE_HEADER_LEN 71
/* Buffer size for a header value and its NUL. */
#define EG_SIGNATURE_HEADER_SIZE (EG_SIGNATURE_HEADER_LEN + 1)
/* Bytes in an HMAC-SHA256 digest. */
#define EG_SIGNATURE_DIGEST_LEN 32
/* Most secrets one verifier holds; each is tried on every request. */
#define EG_SIGNATURE_MAX_SECRETS 16

typedef struct eg_signature_verifier_s eg_signature_verifier_t;

/* Parses a header value "sha256=<64 hex digits>" into the 32-byte digest.
 * Strict, as GitHub sends it: the prefix is exactly "sha256=" and the hex is
 * lower case. Upper-case hex is refused: GitHub never sends it, and a single
 * spelling per signature keeps the value that ingress stores in Kafka
 * canonical for the audit. No whitespace is allowed (HTTP servers strip the
 * header's surrounding whitespace before we see it).
 * @returns EG_OK, or EG_EINVAL when header or digest is NULL or the value is
 * malformed (digest is then zeroed). */
int eg_signature_parse(const char *header,
                       unsigned char digest[EG_SIGNATURE_DIGEST_LEN]);

/* Computes the header value "sha256=<hex>" of body under one secret and
 * writes it NUL-terminated to out (out_len >= EG_SIGNATURE_HEADER_SIZE).
 * For tests, the demo sender and benchmarks; it does the full HMAC key setup
 * on each call. body may be NULL when body_len is 0. Thread-safe.
 * @returns EG_OK, EG_EINVAL (NULL argument or empty secret), EG_ERANGE (out
 * too small) or EG_ECRYPTO; out is an empty string on failure when
 * out_len > 0. */
int eg_signature_compute(const char *secret,
                         const void *body,
                         size_t body_len,
                         char *out,
                         size_t out_len);

/* Creates a verifier for n secrets (1..EG_SIGNATURE_MAX_SECRETS), each a
 * non-empty NUL-terminated string, newest first. The HMAC key state of each
 * secret is prepared once here; the verifier keeps no copy of the secret
 * strings, which stay owned by the caller. Error text never contains secret
 * bytes. On success *out is owned by the caller, freed with
 * eg_signature_verifier_free().
 * @returns EG_OK, EG_EINVAL (bad argument, empty secret, too many secrets),
 * EG_ENOMEM or EG_ECRYPTO; *out is NULL on failure. */
int eg_signature_verifier_new(const char *const *secrets,
                              size_t n,
                              eg_signature_verifier_t **out,
                              char *errbuf,
                              size_t errbuf_len);

/* Frees a verifier, wiping its key state. NULL is a no-op. */
void eg_signature_verifier_free(eg_signature_verifier_t *sv);

/* Verifies header (an X-Hub-Signature-256 value, see eg_signature_parse) for
 * the body_len bytes at body (NULL allowed when body_len is 0; the body may
 * hold NUL bytes). Every secret is tried on every call and the results are
 * combined without branching on them, so the time taken does not depend on
 * which secret, if any, matched; digests are compared with CRYPTO_memcmp.
 * When matched is not NULL it receives the index of the first matching
 * secret (for rotation metrics), and is set only on EG_OK.
 * Thread-safe: one verifier may be used from any number of threads at once
 * (each call works on its own copies of the prepared contexts).
 * @returns EG_OK, EG_EINVAL (NULL argument or malformed header), EG_EAUTH (no
 * secret matches), EG_ENOMEM or EG_ECRYPTO. */
int eg_signature_verify(const eg_signature_verifier_t *sv,
                        const char *header,
                        const void *body,
                        size_t body_len,
                        size_t *matched);

#endif /* EG_SIGNATURE_H */

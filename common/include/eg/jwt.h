/* GitHub App JSON Web Tokens (RS256): minting with the App's private key, and
 * verification as GitHub does it (used by the GitHub simulator). */
#ifndef EG_JWT_H
#define EG_JWT_H

#include <stddef.h>
#include <stdint.h>

/* Longest token minted or accepted, without the NUL. An RS256 token signed
 * with an 8192-bit key and a 128-character iss is under 1700 characters. */
#define EG_JWT_MAX_LEN 2047
/* Buffer size for a minted token and its NUL. */
#define EG_JWT_SIZE (EG_JWT_MAX_LEN + 1)
/* Longest iss (App ID or Client ID). */
#define EG_JWT_ISS_MAX 128
/* RSA key sizes accepted for signing and verification, in bits. */
#define EG_JWT_MIN_RSA_BITS 2048
#define EG_JWT_MAX_RSA_BITS 8192
/* Largest PEM text accepted, in bytes. */
#define EG_JWT_PEM_MAX (64 * 1024)
/* Minted claims: iat = now - EG_JWT_IAT_BACKDATE (GitHub recommends 60 s
 * against clock drift), exp = now + EG_JWT_EXP_AHEAD, so exp - iat is 600 s,
 * the most GitHub allows. */
#define EG_JWT_IAT_BACKDATE 60
#define EG_JWT_EXP_AHEAD    540
/* Verification: most seconds between iat and exp, and clock leeway. */
#define EG_JWT_MAX_LIFETIME 600
#define EG_JWT_LEEWAY       30
/* Largest now accepted by eg_jwt_mint and eg_jwt_verify (9999-12-31). */
#define EG_JWT_MAX_TIME INT64_C(253402300799)

typedef struct eg_jwt_signer_s eg_jwt_signer_t;

/* Claims of a verified token. iss is the iss string, or the decimal form of
 * an integer iss (GitHub accepts both). */
typedef struct eg_jwt_claims_s {
  int64_t iat;
  int64_t exp;
  char iss[EG_JWT_ISS_MAX + 1];
} eg_jwt_claims_t;

/* Loads an RSA private key from pem_len bytes of PEM text at pem: PKCS#1
 * ("BEGIN RSA PRIVATE KEY") or PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted.
 * Refuses other key types and keys outside EG_JWT_MIN_RSA_BITS ..
 * EG_JWT_MAX_RSA_BITS. The text is not kept and stays owned by the caller
 * (wipe it if it matters). Error text never contains key bytes. On success
 * *out is owned by the caller, freed with eg_jwt_signer_free().
 * @returns EG_OK, EG_EINVAL (NULL argument; no readable unencrypted private
 * key; not RSA; wrong size), EG_ETOOBIG (over EG_JWT_PEM_MAX) or EG_ENOMEM;
 * *out is NULL on failure. */
int eg_jwt_signer_new_pem(const char *pem,
                          size_t pem_len,
                          eg_jwt_signer_t **out,
                          char *errbuf,
                          size_t errbuf_len);

/* Same as eg_jwt_signer_new_pem with the PEM read from the file at path
 * (at most EG_JWT_PEM_MAX bytes). The bytes read are wiped before this
 * returns. Error text names the path.
 * @returns as eg_jwt_signer_new_pem, plus EG_ENOENT (no such file) and
 * EG_EIO (the file could not be read). */
int eg_jwt_signer_new_file(const char *path,
                           eg_jwt_signer_t **out,
                           char *errbuf,
                           size_t errbuf_len);

/* Frees a signer and its key; OpenSSL clears the private key numbers as it
 * frees them. NULL is a no-op. */
void eg_jwt_signer_free(eg_jwt_signer_t *js);

/* Mints a GitHub App JWT: header {"alg":"RS256","typ":"JWT"}, claims
 * {"iat":now-60,"exp":now+540,"iss":iss}, each part base64url without
 * padding, signed with RSASSA-PKCS1-v1_5 over SHA-256. now is Unix time in
 * seconds (0 .. EG_JWT_MAX_TIME); pass time(NULL), or a time corrected for
 * the skew between this host's clock and GitHub's. iss is the App ID or
 * Client ID: 1 to EG_JWT_ISS_MAX characters of [A-Za-z0-9._-]. Writes the
 * NUL-terminated token to out; EG_JWT_SIZE bytes always suffice.
 * Thread-safe: one signer may mint from any number of threads at once.
 * @returns EG_OK, EG_EINVAL (NULL argument or bad iss), EG_ERANGE (now out of
 * range, or out too small), EG_ENOMEM or EG_ECRYPTO; out is an empty string on
 * failure when out_len > 0. */
int eg_jwt_mint(const eg_jwt_signer_t *js,
                const char *iss,
                int64_t now,
                char *out,
                size_t out_len,
                char *errbuf,
                size_t errbuf_len);

/* Verifies a token as GitHub does for App JWTs, against the RSA key in
 * pem_len bytes of PEM at pem: a public key ("BEGIN PUBLIC KEY" or "BEGIN RSA
 * PUBLIC KEY") or a private key (its public half is used); the key rules of
 * eg_jwt_signer_new_pem apply. The token must be three base64url segments of
 * at most EG_JWT_MAX_LEN characters in all; the header's alg must be "RS256"
 * (typ, if present, "JWT"); the RS256 signature must verify; the claims must
 * hold integer iat and exp with 0 < exp - iat <= EG_JWT_MAX_LIFETIME,
 * iat <= now + EG_JWT_LEEWAY and exp > now - EG_JWT_LEEWAY, and an iss that
 * is a non-negative integer or a string as eg_jwt_mint accepts. Fills *claims
 * on EG_OK only (zeroed otherwise). Thread-safe. errbuf says which rule
 * failed; it never holds token or key bytes.
 * @returns EG_OK, EG_EINVAL (NULL argument, bad key, malformed token or
 * claims), EG_ETOOBIG (token or PEM too long), EG_ERANGE (now out of range),
 * EG_EAUTH (alg not RS256, bad signature, expired, iat in the future,
 * lifetime too long), EG_ENOMEM or EG_ECRYPTO. */
int eg_jwt_verify(const char *token,
                  const char *pem,
                  size_t pem_len,
                  int64_t now,
                  eg_jwt_claims_t *claims,
                  char *errbuf,
                  size_t errbuf_len);

#endif /* EG_JWT_H */

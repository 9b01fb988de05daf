/* AES-256-GCM sealing of small secrets (installation tokens) stored in
 * Redis, with a key ring for rotation: the first key encrypts, every key
 * decrypts. */
#ifndef EG_TOKEN_CRYPT_H
#define EG_TOKEN_CRYPT_H

#include <stddef.h>

#define EG_TOKEN_CRYPT_KEY_LEN   32 /* AES-256 */
#define EG_TOKEN_CRYPT_MAX_KEYS  16
#define EG_TOKEN_CRYPT_KEYID_LEN 8 /* hex characters */
#define EG_TOKEN_CRYPT_MAX_PLAIN 8192

/* Key file (ENVGATE_TOKEN_KEY_FILE) formats, both accepted:
 * - exactly 32 bytes: one raw key (e.g. head -c 32 /dev/urandom > f);
 * - text: one key per line as 64 hex characters (e.g. openssl rand -hex 32),
 *   up to EG_TOKEN_CRYPT_MAX_KEYS lines; blank lines and lines starting
 *   with '#' are skipped; spaces, tabs and CR around a key are ignored.
 *   The first key encrypts, all keys decrypt: to rotate, put the new key
 *   first and keep the old one below it until values sealed with it have
 *   expired (one hour for installation tokens), then remove it.
 * Each key's id is the first 8 hex characters of SHA-256(key); two keys
 * with the same id are refused.
 *
 * Sealed value (ASCII, so redis-cli shows it without harm):
 *   "e1:" KEYID ":" hex(nonce, 12 bytes) ":" hex(ciphertext) ":" hex(tag, 16)
 * with a random nonce per value. The authenticated data is the value's
 * prefix "e1:KEYID:" followed by the caller's aad (the Redis key), so a
 * value copied under another key does not open. */
typedef struct eg_token_crypt_s eg_token_crypt_t;

/* Reads a key file (at most 64 KiB) as described above.
 * @returns EG_OK, EG_EINVAL (bad format; errbuf names the path and line,
 * never key material), EG_EIO (cannot read), EG_EEXIST (duplicate key id),
 * EG_ETOOBIG, EG_ENOMEM. Free *out with eg_token_crypt_free(). */
int eg_token_crypt_new_file(const char *path,
                            eg_token_crypt_t **out,
                            char *errbuf,
                            size_t errbuf_len);

/* Same from the len bytes at data (a file's content). data is not kept. */
int eg_token_crypt_new_mem(const void *data,
                           size_t len,
                           eg_token_crypt_t **out,
                           char *errbuf,
                           size_t errbuf_len);

/* Overwrites the keys and frees tc. NULL is a no-op. */
void eg_token_crypt_free(eg_token_crypt_t *tc);

/* Number of keys in the ring (1..EG_TOKEN_CRYPT_MAX_KEYS). */
size_t eg_token_crypt_count(const eg_token_crypt_t *tc);

/* Id of key i (0 = the encrypting key): 8 hex characters, NUL-terminated,
 * valid as long as tc; NULL when i is out of range. */
const char *eg_token_crypt_key_id(const eg_token_crypt_t *tc, size_t i);

/* Seals plain (plain_len bytes, 1..EG_TOKEN_CRYPT_MAX_PLAIN) with the first
 * key, binding aad (aad_len bytes; may be NULL when 0). *out is a
 * NUL-terminated string of *out_len characters, freed by the caller with
 * free(). Thread-safe (tc is read only).
 * @returns EG_OK, EG_EINVAL, EG_ECRYPTO, EG_ENOMEM. */
int eg_token_crypt_seal(const eg_token_crypt_t *tc,
                        const void *aad,
                        size_t aad_len,
                        const void *plain,
                        size_t plain_len,
                        char **out,
                        size_t *out_len,
                        char *errbuf,
                        size_t errbuf_len);

/* Opens a sealed value (sealed_len bytes, need not be NUL-terminated) with
 * the key its id names. *plain is NUL-terminated (*plain_len bytes before
 * the NUL) and must be released with eg_token_crypt_free_plain().
 * Thread-safe.
 * @returns EG_OK, EG_EINVAL (NULL arguments), EG_EPARSE (not a sealed
 * value of a known version), EG_ENOENT (no key with that id), EG_EAUTH
 * (wrong key, tampered value or other aad), EG_ECRYPTO, EG_ENOMEM. */
int eg_token_crypt_open(const eg_token_crypt_t *tc,
                        const void *aad,
                        size_t aad_len,
                        const char *sealed,
                        size_t sealed_len,
                        char **plain,
                        size_t *plain_len,
                        char *errbuf,
                        size_t errbuf_len);

/* Overwrites and frees a plaintext from eg_token_crypt_open(). NULL is a
 * no-op. */
void eg_token_crypt_free_plain(char *plain, size_t plain_len);

#endif /* EG_TOKEN_CRYPT_H */

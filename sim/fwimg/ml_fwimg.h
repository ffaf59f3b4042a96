/**
 * @file ml_fwimg.h
 * @brief Signed Smart Connect firmware images and their Ed25519 key files, on
 * the host (libsodium). The device checks the same images with core/ed25519.
 *
 * Image = 128-byte header + payload (docs/firmware-update.md):
 *     0 magic "MLFW"   4 header version 2   8 payload length
 *    12 version (16 bytes, NUL-padded)     28 SHA-256 of the payload
 *    60 key id (first 4 bytes of the public key)
 *    64 Ed25519 signature over bytes 0..63
 * Keys are PKCS#8 / SubjectPublicKeyInfo PEM files, the formats of
 * `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
 *
 * Every function that can fail writes one line (no newline) naming the file
 * and the reason into the caller's @p err buffer. Call sodium_init() first.
 */
#ifndef SIM_FWIMG_ML_FWIMG_H
#define SIM_FWIMG_ML_FWIMG_H

#include <stddef.h>
#include <stdint.h>

#define ML_FWIMG_HDR_SIZE    128u
#define ML_FWIMG_VERSION_MAX 16u /**< version field, including the NUL */

/** Read a whole file into a malloc'd buffer. @return it, or NULL. */
uint8_t *ml_fwimg_read_file(const char *path, size_t *len, char *err, size_t cap);

/**
 * Load a secret key (PKCS#8 PEM). Sets @p warn (may be NULL) to 1 when the
 * file is readable by others. @return 0 or -1.
 */
int ml_fwkey_load_secret(const char *path, uint8_t pk[32], uint8_t sk[64], int *warn, char *err,
                         size_t cap);

/** Load a public key (SPKI PEM). @return 0 or -1. */
int ml_fwkey_load_public(const char *path, uint8_t pk[32], char *err, size_t cap);

/**
 * Make a key pair: @p out (secret, 0600) and @p pub (public, 0644). Refuses to
 * write the secret into the source tree outside build/, and to overwrite an
 * existing file unless @p force. @return 0 or -1.
 */
int ml_fwkey_generate(const char *out, const char *pub, int force, uint8_t pk[32], char *err,
                      size_t cap);

/**
 * Check a version string for the header: 1..15 printable ASCII characters, no
 * quotes or backslashes (it is printed into JSON). @return 0 or -1.
 */
int ml_fwimg_version_ok(const char *version, char *err, size_t cap);

/** Fill the 128-byte header for @p payload, signed with @p sk. */
void ml_fwimg_header(uint8_t hdr[ML_FWIMG_HDR_SIZE], const uint8_t *payload, uint32_t n,
                     const char *version, const uint8_t pk[32], const uint8_t sk[64]);

/**
 * Check a whole image against @p pk.
 * @return NULL when good, else the reason ("bad signature", ...).
 */
const char *ml_fwimg_check(const uint8_t *img, size_t n, const uint8_t pk[32]);

#endif /* SIM_FWIMG_ML_FWIMG_H */

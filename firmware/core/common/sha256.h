/**
 * @file sha256.h
 * @brief SHA-256 (FIPS 180-4), incremental, freestanding. Used to verify
 *        firmware images before they are accepted.
 *
 * Pure and reentrant: the state is caller-owned. Check value:
 * SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad.
 */
#ifndef FIRMWARE_CORE_COMMON_SHA256_H
#define FIRMWARE_CORE_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define ML_SHA256_SIZE 32u

struct ml_sha256 {
    uint32_t h[8];
    uint64_t total; /**< bytes hashed */
    uint8_t block[64];
    size_t fill;
};

void ml_sha256_init(struct ml_sha256 *s);
void ml_sha256_update(struct ml_sha256 *s, const void *data, size_t len);
/** Write the digest to @p out; @p s must be re-initialised before reuse. */
void ml_sha256_final(struct ml_sha256 *s, uint8_t out[ML_SHA256_SIZE]);

#endif /* FIRMWARE_CORE_COMMON_SHA256_H */

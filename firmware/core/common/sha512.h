/**
 * @file sha512.h
 * @brief SHA-512 (FIPS 180-4), incremental, freestanding. The hash inside
 *        Ed25519 (core/ed25519) signature checks of firmware images.
 *
 * Pure and reentrant: the state is caller-owned (about 216 bytes). Check value:
 * SHA-512("abc") = ddaf35a1 93617aba cc417349 ae204131 12e6fa4e 89a97ea2 0a9eeee6 4b55d39a
 *                  2192992a 274fc1a8 36ba3c23 a3feebbd 454d4423 643ce80e 2a9ac94f a54ca49f.
 */
#ifndef FIRMWARE_CORE_COMMON_SHA512_H
#define FIRMWARE_CORE_COMMON_SHA512_H

#include <stddef.h>
#include <stdint.h>

#define ML_SHA512_SIZE 64u

struct ml_sha512 {
    uint64_t h[8];
    uint64_t total; /**< bytes hashed (messages up to 2^61 bytes) */
    uint8_t block[128];
    size_t fill;
};

void ml_sha512_init(struct ml_sha512 *s);
void ml_sha512_update(struct ml_sha512 *s, const void *data, size_t len);
/** Write the digest to @p out; @p s must be re-initialised before reuse. */
void ml_sha512_final(struct ml_sha512 *s, uint8_t out[ML_SHA512_SIZE]);

#endif /* FIRMWARE_CORE_COMMON_SHA512_H */

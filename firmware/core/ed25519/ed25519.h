/**
 * @file ed25519.h
 * @brief Ed25519 signature verification (RFC 8032 §5.1.7), freestanding: no
 *        heap, no libc, no tables beyond a few constants. Checks firmware
 *        image signatures on the device (apps/smart_connect/sc_fw.c).
 *
 * Strictness is libsodium's crypto_sign_verify_detached() (1.0.18, default
 * build), so a signature accepted here is accepted there and vice versa
 * (tests/fuzz/fuzz_ed25519.c checks it):
 *  - S must be canonical (S < L);
 *  - R and A must not be one of the small-order encodings (the 8-torsion
 *    points, also with the sign bit set, and the non-canonical y = p, p + 1);
 *  - A must be canonical (y < p) and decode to a curve point;
 *  - the check is the cofactorless [S]B == R + [k]A, done as
 *    encode([S]B - [k]A) == R byte for byte, so a non-canonical R never
 *    verifies; k = SHA-512(R || A || M) mod L.
 *
 * Not constant-time (verification handles public data only). Variable-time,
 * no data-dependent memory indices. Stack: about 1.5 KB; time: see
 * docs/performance.md. Reentrant; no state.
 */
#ifndef FIRMWARE_CORE_ED25519_ED25519_H
#define FIRMWARE_CORE_ED25519_ED25519_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ML_ED25519_SIG_SIZE 64u /**< R (32) || S (32) */
#define ML_ED25519_PK_SIZE  32u

/**
 * Verify the Ed25519 signature @p sig over @p msg (@p len bytes, any length,
 * NULL allowed when @p len is 0) with the public key @p pk.
 * @return true when the signature is valid; false for every kind of failure
 *         (malformed key, malformed signature, wrong signature).
 */
bool ml_ed25519_verify(const uint8_t sig[ML_ED25519_SIG_SIZE], const uint8_t *msg, size_t len,
                       const uint8_t pk[ML_ED25519_PK_SIZE]);

#endif /* FIRMWARE_CORE_ED25519_ED25519_H */

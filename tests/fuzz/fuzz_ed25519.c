/*
 * Differential libFuzzer target: ml_ed25519_verify() (firmware/core/ed25519)
 * against libsodium's crypto_sign_verify_detached(). The two must agree on
 * every input, accept and reject alike. First input byte = mode:
 *
 *  mode % 4 == 0  raw: pk[32] sig[64] msg[...] as given (mostly rejects);
 *  mode % 4 == 1  signed: seed[32] msg[...]; libsodium makes the key pair from
 *                 the seed and signs msg, so the accept path runs; then no
 *                 change (mode bit 2 clear) or one fuzzer-chosen bit flipped
 *                 in pk || sig || msg (bit index: the next 2 bytes);
 *  mode % 4 == 2  signed, then a structural change chosen by mode >> 2: S + L
 *                 (same scalar, non-canonical), R or A sign bit flipped, R or
 *                 A replaced by a small-order / non-canonical encoding, R + T
 *                 for a torsion point T (via libsodium's point addition);
 *  mode % 4 == 3  signed, then msg appended / truncated by one byte.
 *
 * Additionally: a signed input must be accepted (libsodium made it).
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ed25519/ed25519.h"

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static const uint8_t L_BYTES[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

/* Small-order points and non-canonical encodings of y (0, 1, p - 1, order 8, p, p + 1, p + 2). */
static void odd_encoding(uint8_t out[32], unsigned which)
{
    static const uint8_t order8[32] = {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f,
                                       0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
                                       0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6,
                                       0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a};
    memset(out, 0, 32);
    switch (which % 7u) {
    case 0:
        break;
    case 1:
        out[0] = 1;
        break;
    case 2:
        memcpy(out, order8, 32);
        break;
    default: /* p - 1, p, p + 1, p + 2 */
        memset(out, 0xFF, 32);
        out[31] = 0x7F;
        out[0] = (uint8_t)(0xEC + (which % 7u) - 3u);
        break;
    }
    if ((which & 8u) != 0u) {
        out[31] |= 0x80;
    }
}

static void compare(const uint8_t pk[32], const uint8_t sig[64], const uint8_t *msg, size_t len,
                    int must_accept)
{
    int ours = ml_ed25519_verify(sig, msg, len, pk) ? 0 : -1;
    int theirs = crypto_sign_verify_detached(sig, msg, len, pk);
    check(ours == theirs);
    if (must_accept) {
        check(ours == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        check(sodium_init() >= 0);
        ready = 1;
    }
    if (size < 1) {
        return 0;
    }
    unsigned mode = data[0];
    data++;
    size--;
    if (mode % 4u == 0u) {
        if (size < 96) {
            return 0;
        }
        compare(data, data + 32, data + 96, size - 96, 0);
        return 0;
    }
    if (size < 34) {
        return 0;
    }
    unsigned arg = (unsigned)data[32] | ((unsigned)data[33] << 8);
    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, data);
    size_t len = size - 34;
    uint8_t *msg = malloc(len + 1);
    memcpy(msg, data + 34, len);
    msg[len] = (uint8_t)arg;
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, msg, len, sk);
    compare(pk, sig, msg, len, 1);

    switch (mode % 4u) {
    case 1:
        if ((mode & 4u) != 0u) {
            size_t bits = (64 + 32 + len) * 8;
            size_t b = arg % bits;
            uint8_t *p = b < 256 ? pk : b < 768 ? sig : msg;
            size_t off = b < 256 ? b : b < 768 ? b - 256 : b - 768;
            p[off / 8] ^= (uint8_t)(1u << (off % 8));
            compare(pk, sig, msg, len, 0);
        }
        break;
    case 2:
        switch ((mode >> 2) % 6u) {
        case 0: { /* S + L: same residue, not canonical */
            unsigned c = 0;
            for (int i = 0; i < 32; i++) {
                c += (unsigned)sig[32 + i] + L_BYTES[i];
                sig[32 + i] = (uint8_t)c;
                c >>= 8;
            }
            break;
        }
        case 1:
            sig[31] ^= 0x80;
            break;
        case 2:
            pk[31] ^= 0x80;
            break;
        case 3:
            odd_encoding(sig, arg);
            break;
        case 4:
            odd_encoding(pk, arg);
            break;
        default: { /* R + T, T a torsion point (order 2, 4 or 8) */
            uint8_t t[32];
            odd_encoding(t, 2u + (arg % 2u) * 8u); /* an order-8 point, either sign */
            if ((arg & 4u) != 0u) {
                memset(t, 0xFF, 32); /* order 2: y = p - 1 */
                t[0] = 0xEC;
                t[31] = 0x7F;
            }
            uint8_t r[32];
            if (crypto_core_ed25519_add(r, sig, t) == 0) {
                memcpy(sig, r, 32);
            }
            break;
        }
        }
        compare(pk, sig, msg, len, 0);
        break;
    default:
        compare(pk, sig, msg, len + 1, 0);
        if (len > 0) {
            compare(pk, sig, msg, len - 1, 0);
        }
        break;
    }
    free(msg);
    return 0;
}

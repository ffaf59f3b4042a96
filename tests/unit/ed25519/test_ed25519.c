/*
 * Unit tests for core/ed25519 (and core/common sha512): the RFC 8032 §7.1
 * vectors (rfc8032-7.1.txt, checked against libsodium when it was written),
 * the FIPS 180-4 SHA-512 check values, and the rejections libsodium makes
 * (crypto_sign_verify_detached): tampered signature/message/key, S >= L,
 * small-order and non-canonical R and A.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ed25519/ed25519.h"
#include "err.h"
#include "ml_test.h"
#include "sha512.h"

struct vec {
    char name[32];
    uint8_t pk[32];
    uint8_t sig[64];
    uint8_t msg[1024];
    size_t msg_len;
};

static struct vec vecs[5];
static size_t n_vecs;

static size_t unhex(uint8_t *out, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i + 1 < n && k < cap; i += 2) {
        char b[3] = {s[i], s[i + 1], 0};
        out[k++] = (uint8_t)strtoul(b, NULL, 16);
    }
    return k;
}

/* Called at the start of each case (CUnit is running, so a read failure is a failure). */
static void load_vectors(void)
{
    if (n_vecs == 5) {
        return;
    }
    n_vecs = 0;
    size_t len;
    char *t = (char *)ml_test_read_file("src:tests/unit/ed25519/rfc8032-7.1.txt", &len);
    if (t == NULL) {
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(t, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || n_vecs == 5) {
            continue;
        }
        struct vec *v = &vecs[n_vecs++];
        char *f[5];
        char *p = line;
        for (int i = 0; i < 5; i++) {
            f[i] = p;
            p = strchr(p, ':');
            if (p != NULL) {
                *p++ = '\0';
            } else {
                p = f[i] + strlen(f[i]);
            }
        }
        snprintf(v->name, sizeof v->name, "%s", f[0]);
        unhex(v->pk, 32, f[2], strlen(f[2]));
        v->msg_len = unhex(v->msg, sizeof v->msg, f[3], strlen(f[3]));
        unhex(v->sig, 64, f[4], strlen(f[4]));
    }
    free(t);
    CU_ASSERT_EQUAL(n_vecs, 5);
}

static void test_ed25519_sha512_check_values(void)
{
    /* FIPS 180-4 examples (NIST CSRC "SHA512.pdf"): "abc" and the 896-bit message */
    static const uint8_t abc[64] = {
        0xdd, 0xaf, 0x35, 0xa1, 0x93, 0x61, 0x7a, 0xba, 0xcc, 0x41, 0x73, 0x49, 0xae,
        0x20, 0x41, 0x31, 0x12, 0xe6, 0xfa, 0x4e, 0x89, 0xa9, 0x7e, 0xa2, 0x0a, 0x9e,
        0xee, 0xe6, 0x4b, 0x55, 0xd3, 0x9a, 0x21, 0x92, 0x99, 0x2a, 0x27, 0x4f, 0xc1,
        0xa8, 0x36, 0xba, 0x3c, 0x23, 0xa3, 0xfe, 0xeb, 0xbd, 0x45, 0x4d, 0x44, 0x23,
        0x64, 0x3c, 0xe8, 0x0e, 0x2a, 0x9a, 0xc9, 0x4f, 0xa5, 0x4c, 0xa4, 0x9f};
    static const uint8_t two_block[64] = {
        0x8e, 0x95, 0x9b, 0x75, 0xda, 0xe3, 0x13, 0xda, 0x8c, 0xf4, 0xf7, 0x28, 0x14,
        0xfc, 0x14, 0x3f, 0x8f, 0x77, 0x79, 0xc6, 0xeb, 0x9f, 0x7f, 0xa1, 0x72, 0x99,
        0xae, 0xad, 0xb6, 0x88, 0x90, 0x18, 0x50, 0x1d, 0x28, 0x9e, 0x49, 0x00, 0xf7,
        0xe4, 0x33, 0x1b, 0x99, 0xde, 0xc4, 0xb5, 0x43, 0x3a, 0xc7, 0xd3, 0x29, 0xee,
        0xb6, 0xdd, 0x26, 0x54, 0x5e, 0x96, 0xe5, 0x5b, 0x87, 0x4b, 0xe9, 0x09};
    static const char m2[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                             "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    uint8_t d[64];
    struct ml_sha512 s;
    ml_sha512_init(&s);
    ml_sha512_update(&s, "abc", 3);
    ml_sha512_final(&s, d);
    CU_ASSERT_EQUAL(memcmp(d, abc, 64), 0);
    ml_sha512_init(&s);
    for (size_t i = 0; i < sizeof m2 - 1; i++) { /* byte by byte: the block buffer */
        ml_sha512_update(&s, &m2[i], 1);
    }
    ml_sha512_final(&s, d);
    CU_ASSERT_EQUAL(memcmp(d, two_block, 64), 0);
}

static void test_ed25519_rfc8032_vectors_verify(void)
{
    CU_ASSERT_EQUAL_FATAL(n_vecs, 5);
    static const char *names[5] = {"TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"};
    static const size_t lens[5] = {0, 1, 2, 1023, 64};
    for (size_t i = 0; i < 5; i++) {
        CU_ASSERT_STRING_EQUAL(vecs[i].name, names[i]);
        CU_ASSERT_EQUAL(vecs[i].msg_len, lens[i]);
        CU_ASSERT_TRUE(ml_ed25519_verify(vecs[i].sig, vecs[i].msg, vecs[i].msg_len, vecs[i].pk));
    }
}

static void test_ed25519_flipped_bits_rejected(void)
{
    for (size_t i = 0; i < n_vecs; i++) {
        struct vec v = vecs[i];
        for (unsigned bit = 0; bit < 512; bit += 7) { /* signature */
            v.sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk));
            v.sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        for (unsigned bit = 0; bit < 256; bit += 5) { /* key */
            v.pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk));
            v.pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        if (v.msg_len > 0) { /* message: first and last bit */
            v.msg[0] ^= 1;
            CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk));
            v.msg[0] ^= 1;
            v.msg[v.msg_len - 1] ^= 0x80;
            CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk));
            v.msg[v.msg_len - 1] ^= 0x80;
        }
        /* one byte more or less */
        CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len + 1, v.pk));
        if (v.msg_len > 0) {
            CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len - 1, v.pk));
        }
        /* the other vectors' keys */
        for (size_t j = 0; j < n_vecs; j++) {
            if (j != i) {
                CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, vecs[j].pk));
            }
        }
        CU_ASSERT_TRUE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk));
    }
}

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian */
static const uint8_t L_BYTES[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

/* a += b (32-byte little-endian) */
static void add32(uint8_t a[32], const uint8_t b[32])
{
    unsigned c = 0;
    for (int i = 0; i < 32; i++) {
        c += (unsigned)a[i] + b[i];
        a[i] = (uint8_t)c;
        c >>= 8;
    }
}

static void test_ed25519_s_not_below_l_rejected(void)
{
    /* S + L is the same scalar mod L: the equation still holds, so only the
     * canonical-S rule rejects it (RFC 8032 §5.1.7 step 1, libsodium too) */
    for (size_t i = 0; i < n_vecs; i++) {
        struct vec v = vecs[i];
        add32(v.sig + 32, L_BYTES);
        CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk));
    }
    struct vec v = vecs[0];
    memcpy(v.sig + 32, L_BYTES, 32); /* S == L */
    CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk));
    memset(v.sig + 32, 0xFF, 32); /* S = 2^256 - 1 */
    CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk));
}

static void test_ed25519_small_order_and_non_canonical_rejected(void)
{
    /* p - 1 (order 2), y = p (non-canonical 0), y = 1 (identity), y = 0, sign bit set */
    uint8_t enc[5][32];
    memset(enc[0], 0xFF, 32);
    enc[0][0] = 0xEC;
    enc[0][31] = 0x7F;
    memcpy(enc[1], enc[0], 32);
    enc[1][0] = 0xED;
    memset(enc[2], 0, 32);
    enc[2][0] = 1;
    memset(enc[3], 0, 32);
    memcpy(enc[4], enc[2], 32);
    enc[4][31] = 0x80;
    /*
     * A = identity with S = 0 and R = identity: [0]B == R + [k]A holds for
     * every message. A verifier without the small-order rules accepts it.
     */
    uint8_t sig[64] = {0};
    sig[0] = 1;
    CU_ASSERT_FALSE(ml_ed25519_verify(sig, (const uint8_t *)"x", 1, enc[2]));
    for (int e = 0; e < 5; e++) {
        struct vec v = vecs[1];
        CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, enc[e])); /* as A */
        memcpy(v.sig, enc[e], 32);
        CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk)); /* as R */
    }
    /* non-canonical A: y + p for a y < 19 still decodes on some verifiers */
    uint8_t a[32];
    memset(a, 0xFF, 32);
    a[0] = 0xEF; /* p + 2 */
    a[31] = 0x7F;
    CU_ASSERT_FALSE(ml_ed25519_verify(vecs[0].sig, NULL, 0, a));
    /* R with the sign bit flipped (same y): a non-canonical or other point */
    struct vec v = vecs[2];
    v.sig[31] ^= 0x80;
    CU_ASSERT_FALSE(ml_ed25519_verify(v.sig, v.msg, v.msg_len, v.pk));
    /* a key that is not on the curve (y = 2 has no x) */
    memset(a, 0, 32);
    a[0] = 2;
    CU_ASSERT_FALSE(ml_ed25519_verify(vecs[0].sig, NULL, 0, a));
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_ed25519_sha512_check_values", test_ed25519_sha512_check_values},
        {"test_ed25519_rfc8032_vectors_verify", test_ed25519_rfc8032_vectors_verify},
        {"test_ed25519_flipped_bits_rejected", test_ed25519_flipped_bits_rejected},
        {"test_ed25519_s_not_below_l_rejected", test_ed25519_s_not_below_l_rejected},
        {"test_ed25519_small_order_and_non_canonical_rejected",
         test_ed25519_small_order_and_non_canonical_rejected},
    };
    return ml_test_run("ed25519", cases, ML_ARRAY_SIZE(cases), load_vectors, NULL);
}

/*
 * Ed25519 verification after RFC 8032 §5.1, written for size, not speed:
 *
 *  - field elements mod p = 2^255 - 19 in ten signed limbs of 26/25 bits
 *    (radix 2^25.5), products in 64 bits, every result carried back;
 *  - points in extended coordinates (X:Y:Z:T), one complete addition formula
 *    (RFC 8032 §5.1.4) used for doubling too;
 *  - [S]B - [k]A by plain double-and-add over both scalars at once (Straus);
 *  - inversion and square roots by square-and-multiply (exponents p - 2 and
 *    (p - 5) / 8);
 *  - k mod L by a bit-serial shift-and-subtract (512 steps, cheap next to the
 *    scalar multiplication).
 *
 * Right shifts of negative int64_t are arithmetic (true for every compiler we
 * build with: gcc, clang); left shifts of negatives are written as products.
 */
#include "ed25519.h"

#include "sha512.h"

struct fe {
    int32_t v[10];
};

struct ge {
    struct fe x, y, z, t;
};

/* d = -121665/121666, 2d, sqrt(-1), base point B (x, y): little-endian. */
static const uint8_t K_D2[32] = {0x59, 0xf1, 0xb2, 0x26, 0x94, 0x9b, 0xd6, 0xeb, 0x56, 0xb1, 0x83,
                                 0x82, 0x9a, 0x14, 0xe0, 0x00, 0x30, 0xd1, 0xf3, 0xee, 0xf2, 0x80,
                                 0x8e, 0x19, 0xe7, 0xfc, 0xdf, 0x56, 0xdc, 0xd9, 0x06, 0x24};
static const uint8_t K_D[32] = {0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41,
                                0x41, 0x4d, 0x0a, 0x70, 0x00, 0x98, 0xe8, 0x79, 0x77, 0x79, 0x40,
                                0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52};
static const uint8_t K_SQRTM1[32] = {
    0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
    0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b};
static const uint8_t K_BX[32] = {0x1a, 0xd5, 0x25, 0x8f, 0x60, 0x2d, 0x56, 0xc9, 0xb2, 0xa7, 0x25,
                                 0x95, 0x60, 0xc7, 0x2c, 0x69, 0x5c, 0xdc, 0xd6, 0xfd, 0x31, 0xe2,
                                 0xa4, 0xc0, 0xfe, 0x53, 0x6e, 0xcd, 0xd3, 0x36, 0x69, 0x21};
/* B's y = 4/5 = 0x6666...6658 */

/* L = 2^252 + 27742317777372353535851937790883648493, 32-bit limbs, little-endian */
static const uint32_t K_L[8] = {0x5cf5d3edu, 0x5812631au, 0xa2f79cd6u, 0x14def9deu,
                                0u,          0u,          0u,          0x10000000u};

/*
 * The encodings libsodium refuses as R or A (ge25519_has_small_order): the
 * points of order 1, 2, 4, 8 and the non-canonical y = p, p + 1. The sign bit
 * (bit 255) is not compared.
 */
static const uint8_t K_SMALL[7][32] = {
    {0x00}, /* y = 0 (order 4) */
    {0x01}, /* y = 1 (order 1) */
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
     0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
     0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
     0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
     0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

/* ------------------------------------------------------------------------- */
/* Field arithmetic mod p                                                    */
/* ------------------------------------------------------------------------- */

/* Limb i holds bits [ceil(25.5 i), ceil(25.5 (i + 1))): 26 bits if i is even, else 25. */
static unsigned limb_bits(unsigned i)
{
    return 26u - (i & 1u);
}

/*
 * Carry @p t (limbs up to about 2^62) into @p h: afterwards even limbs are in
 * [-2^25, 2^25], odd ones in [-2^24, 2^24] (limb 1 a little more).
 */
static void fe_carry(struct fe *h, int64_t t[10])
{
    /* limb pairs (26 bits, 25 bits): constant shifts, no 64-bit shift helper calls */
    for (unsigned i = 0; i < 10u; i += 2u) {
        int64_t c = (t[i] + ((int64_t)1 << 25)) >> 26;
        t[i] -= c * ((int64_t)1 << 26);
        t[i + 1u] += c;
        c = (t[i + 1u] + ((int64_t)1 << 24)) >> 25;
        t[i + 1u] -= c * ((int64_t)1 << 25);
        if (i < 8u) {
            t[i + 2u] += c;
        } else {
            t[0] += 19 * c; /* 2^255 = 19 mod p */
        }
    }
    int64_t c = (t[0] + ((int64_t)1 << 25)) >> 26;
    t[0] -= c * ((int64_t)1 << 26);
    t[1] += c;
    for (unsigned i = 0; i < 10u; i++) {
        h->v[i] = (int32_t)t[i];
    }
}

static void fe_set(struct fe *h, int32_t v)
{
    for (unsigned i = 0; i < 10u; i++) {
        h->v[i] = 0;
    }
    h->v[0] = v;
}

static void fe_add(struct fe *h, const struct fe *f, const struct fe *g)
{
    int64_t t[10];
    for (unsigned i = 0; i < 10u; i++) {
        t[i] = (int64_t)f->v[i] + g->v[i];
    }
    fe_carry(h, t);
}

static void fe_sub(struct fe *h, const struct fe *f, const struct fe *g)
{
    int64_t t[10];
    for (unsigned i = 0; i < 10u; i++) {
        t[i] = (int64_t)f->v[i] - g->v[i];
    }
    fe_carry(h, t);
}

/*
 * h = f * g, product scanning: t[k] = sum over i of f[i] g[k - i]. Limb
 * positions add up except when both limbs are odd (the product sits one bit
 * higher: x2; with i odd that is when k is even), and position 255 and above
 * folds back times 19 (k - i < 0: g[k - i + 10] x 19). With carried inputs
 * (|limb| <= 2^26) every sum stays below 10 * 2^27 * 19 * 2^26 < 2^61. Each
 * product is one 32 x 32 -> 64 multiply-accumulate (SMLAL on a Cortex-M4).
 * @p h may alias @p f or @p g.
 */
static void fe_mul(struct fe *h, const struct fe *f, const struct fe *g)
{
    int32_t gg[20]; /* gg[10 + d] = g[d], gg[d] = 19 g[d] */
    int32_t f2[10]; /* f with the odd limbs doubled */
    for (unsigned j = 0; j < 10u; j++) {
        gg[j] = 19 * g->v[j];
        gg[10u + j] = g->v[j];
        f2[j] = (j & 1u) != 0u ? 2 * f->v[j] : f->v[j];
    }
    int64_t t[10];
    for (unsigned k = 0; k < 10u; k++) {
        const int32_t *fa = (k & 1u) != 0u ? f->v : f2;
        int64_t acc = 0;
        for (unsigned i = 0; i < 10u; i++) {
            acc += (int64_t)fa[i] * gg[10u + k - i];
        }
        t[k] = acc;
    }
    fe_carry(h, t);
}

/* Unpack 255 bits (bit 255 ignored); the value may be >= p (not reduced). */
static void fe_frombytes(struct fe *h, const uint8_t s[32])
{
    uint64_t acc = 0;
    unsigned bits = 0, k = 0;
    for (unsigned i = 0; i < 10u; i++) {
        unsigned w = limb_bits(i);
        while (bits < w) {
            acc |= (uint64_t)s[k++] << bits;
            bits += 8u;
        }
        h->v[i] = (int32_t)(acc & (((uint64_t)1 << w) - 1u));
        acc >>= w;
        bits -= w;
    }
}

/* The canonical encoding (value reduced to [0, p)). */
static void fe_tobytes(uint8_t s[32], const struct fe *f)
{
    int64_t t[10];
    struct fe h;
    for (unsigned i = 0; i < 10u; i++) {
        t[i] = f->v[i];
    }
    fe_carry(&h, t);
    for (unsigned i = 0; i < 10u; i++) {
        t[i] = h.v[i];
    }
    /* q = floor((h + 19) / 2^255) is 0 or 1 (h in (-p, 2p)): h - q p is canonical */
    int64_t q = (19 * t[9] + ((int64_t)1 << 24)) >> 25;
    for (unsigned i = 0; i < 10u; i++) {
        q = (t[i] + q) >> limb_bits(i);
    }
    t[0] += 19 * q;
    for (unsigned i = 0; i < 10u; i++) {
        unsigned w = limb_bits(i);
        int64_t c = t[i] >> w;
        t[i] -= c * ((int64_t)1 << w);
        if (i < 9u) {
            t[i + 1u] += c; /* the carry out of limb 9 is q * 2^255: dropped */
        }
    }
    uint64_t acc = 0;
    unsigned bits = 0, k = 0;
    for (unsigned i = 0; i < 10u; i++) {
        acc |= (uint64_t)t[i] << bits;
        bits += limb_bits(i);
        while (bits >= 8u) {
            s[k++] = (uint8_t)acc;
            acc >>= 8;
            bits -= 8u;
        }
    }
    s[31] = (uint8_t)acc; /* the last 7 bits */
}

static bool fe_is_zero(const struct fe *f)
{
    uint8_t s[32];
    uint8_t acc = 0;
    fe_tobytes(s, f);
    for (unsigned i = 0; i < 32u; i++) {
        acc |= s[i];
    }
    return acc == 0u;
}

static unsigned fe_is_negative(const struct fe *f)
{
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1u;
}

/*
 * h = f^e with e = 2^n - 1 - (clear: a mask of bits 0..7 that are 0 in e):
 * p - 2 = 2^255 - 21 (n 255, bits 2 and 4 clear), (p - 5) / 8 = 2^252 - 3
 * (n 252, bit 1 clear).
 */
static void fe_pow(struct fe *h, const struct fe *f, unsigned n, unsigned clear)
{
    struct fe r;
    fe_set(&r, 1);
    for (unsigned i = n; i-- > 0u;) {
        fe_mul(&r, &r, &r);
        if (i >= 8u || ((clear >> i) & 1u) == 0u) {
            fe_mul(&r, &r, f);
        }
    }
    *h = r;
}

/* ------------------------------------------------------------------------- */
/* Points                                                                    */
/* ------------------------------------------------------------------------- */

/* r = p + q (RFC 8032 §5.1.4, complete: also for p == q and the identity). */
static void ge_add(struct ge *r, const struct ge *p, const struct ge *q, const struct fe *d2)
{
    struct fe a, b, c, d, t;
    fe_sub(&a, &p->y, &p->x);
    fe_sub(&t, &q->y, &q->x);
    fe_mul(&a, &a, &t);
    fe_add(&b, &p->y, &p->x);
    fe_add(&t, &q->y, &q->x);
    fe_mul(&b, &b, &t);
    fe_mul(&c, &p->t, &q->t);
    fe_mul(&c, &c, d2);
    fe_mul(&d, &p->z, &q->z);
    fe_add(&d, &d, &d);
    struct fe e, f, g, h;
    fe_sub(&e, &b, &a);
    fe_sub(&f, &d, &c);
    fe_add(&g, &d, &c);
    fe_add(&h, &b, &a);
    fe_mul(&r->x, &e, &f);
    fe_mul(&r->y, &g, &h);
    fe_mul(&r->t, &e, &h);
    fe_mul(&r->z, &f, &g);
}

static void ge_encode(uint8_t s[32], const struct ge *p)
{
    struct fe zi, x, y;
    fe_pow(&zi, &p->z, 255, 0x14u); /* 1/z = z^(p - 2) */
    fe_mul(&x, &p->x, &zi);
    fe_mul(&y, &p->y, &zi);
    fe_tobytes(s, &y);
    s[31] = (uint8_t)(s[31] | (fe_is_negative(&x) << 7));
}

/* RFC 8032 §5.1.3 point decoding (y already known to be < p). */
static bool ge_decode(struct ge *p, const uint8_t s[32])
{
    struct fe u, v, v3, x, t, one;
    fe_set(&one, 1);
    fe_frombytes(&p->y, s);
    fe_frombytes(&t, K_D);
    fe_mul(&u, &p->y, &p->y);
    fe_mul(&v, &u, &t);
    fe_sub(&u, &u, &one); /* u = y^2 - 1 */
    fe_add(&v, &v, &one); /* v = d y^2 + 1 */
    fe_mul(&v3, &v, &v);
    fe_mul(&v3, &v3, &v); /* v^3 */
    fe_mul(&x, &v3, &v3);
    fe_mul(&x, &x, &v);
    fe_mul(&x, &x, &u);        /* u v^7 */
    fe_pow(&x, &x, 252, 0x2u); /* (u v^7)^((p - 5) / 8) */
    fe_mul(&x, &x, &v3);
    fe_mul(&x, &x, &u); /* candidate root u v^3 (u v^7)^((p - 5) / 8) */
    fe_mul(&t, &x, &x);
    fe_mul(&t, &t, &v); /* v x^2 */
    struct fe chk;
    fe_sub(&chk, &t, &u);
    if (!fe_is_zero(&chk)) {
        fe_add(&chk, &t, &u);
        if (!fe_is_zero(&chk)) {
            return false; /* no square root: not a point */
        }
        fe_frombytes(&t, K_SQRTM1);
        fe_mul(&x, &x, &t);
    }
    unsigned sign = (unsigned)s[31] >> 7;
    if (fe_is_zero(&x) && sign != 0u) {
        return false;
    }
    if (fe_is_negative(&x) != sign) {
        fe_set(&t, 0);
        fe_sub(&x, &t, &x);
    }
    p->x = x;
    fe_set(&p->z, 1);
    fe_mul(&p->t, &p->x, &p->y);
    return true;
}

/* ------------------------------------------------------------------------- */
/* Scalars mod L                                                             */
/* ------------------------------------------------------------------------- */

/* r < L for r as eight 32-bit limbs. */
static bool sc_below_l(const uint32_t r[8])
{
    for (unsigned i = 8; i-- > 0u;) {
        if (r[i] != K_L[i]) {
            return r[i] < K_L[i];
        }
    }
    return false;
}

static void sc_load(uint32_t r[8], const uint8_t s[32])
{
    for (unsigned i = 0; i < 8u; i++) {
        r[i] = (uint32_t)s[4u * i] | ((uint32_t)s[4u * i + 1u] << 8) |
               ((uint32_t)s[4u * i + 2u] << 16) | ((uint32_t)s[4u * i + 3u] << 24);
    }
}

/* out = the 512-bit little-endian @p h mod L. */
static void sc_reduce(uint8_t out[32], const uint8_t h[64])
{
    uint32_t r[8] = {0};
    for (unsigned i = 512; i-- > 0u;) {
        /* r = 2 r + bit: r < L < 2^253, so 2 r + 1 < 2^254 fits */
        for (unsigned k = 7; k > 0u; k--) {
            r[k] = (r[k] << 1) | (r[k - 1u] >> 31);
        }
        r[0] = (r[0] << 1) | ((uint32_t)(h[i / 8u] >> (i % 8u)) & 1u);
        if (!sc_below_l(r)) {
            uint32_t borrow = 0;
            for (unsigned k = 0; k < 8u; k++) {
                uint64_t d = (uint64_t)r[k] - K_L[k] - borrow;
                r[k] = (uint32_t)d;
                borrow = (uint32_t)(d >> 63);
            }
        }
    }
    for (unsigned i = 0; i < 32u; i++) {
        out[i] = (uint8_t)(r[i / 4u] >> (8u * (i % 4u)));
    }
}

/* ------------------------------------------------------------------------- */
/* Verify                                                                    */
/* ------------------------------------------------------------------------- */

static bool has_small_order(const uint8_t s[32])
{
    for (unsigned e = 0; e < 7u; e++) {
        uint8_t diff = (uint8_t)((s[31] & 0x7Fu) ^ K_SMALL[e][31]);
        for (unsigned i = 0; i < 31u; i++) {
            diff |= (uint8_t)(s[i] ^ K_SMALL[e][i]);
        }
        if (diff == 0u) {
            return true;
        }
    }
    return false;
}

/* y (bit 255 ignored) < p? Only 2^255 - 19 .. 2^255 - 1 are not. */
static bool y_is_canonical(const uint8_t s[32])
{
    if ((s[31] & 0x7Fu) != 0x7Fu || s[0] < 0xEDu) {
        return true;
    }
    for (unsigned i = 1; i < 31u; i++) {
        if (s[i] != 0xFFu) {
            return true;
        }
    }
    return false;
}

bool ml_ed25519_verify(const uint8_t sig[ML_ED25519_SIG_SIZE], const uint8_t *msg, size_t len,
                       const uint8_t pk[ML_ED25519_PK_SIZE])
{
    uint32_t s[8];
    sc_load(s, sig + 32);
    if (!sc_below_l(s) || has_small_order(sig) || !y_is_canonical(pk) || has_small_order(pk)) {
        return false;
    }
    struct ge a;
    if (!ge_decode(&a, pk)) {
        return false;
    }
    struct fe zero;
    fe_set(&zero, 0);
    fe_sub(&a.x, &zero, &a.x); /* -A */
    fe_sub(&a.t, &zero, &a.t);

    uint8_t k[64];
    {
        struct ml_sha512 hs;
        ml_sha512_init(&hs);
        ml_sha512_update(&hs, sig, 32);
        ml_sha512_update(&hs, pk, 32);
        if (len > 0u) {
            ml_sha512_update(&hs, msg, len);
        }
        ml_sha512_final(&hs, k);
    }
    sc_reduce(k, k);

    struct ge b;
    static const uint8_t by[32] = {0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                   0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                   0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};
    fe_frombytes(&b.x, K_BX);
    fe_frombytes(&b.y, by);
    fe_set(&b.z, 1);
    fe_mul(&b.t, &b.x, &b.y);

    /*
     * r = [S]B + [k](-A), both scalars < 2^253: one doubling per bit, then one
     * addition of B, -A or B - A (Shamir's trick: where both bits are set, a
     * quarter of the bits on average, one addition instead of two).
     */
    struct fe d2;
    fe_frombytes(&d2, K_D2);
    struct ge ba;
    ge_add(&ba, &b, &a, &d2);
    const struct ge *pts[3] = {&b, &a, &ba}; /* for the bit pair (S bit, k bit) 1, 2, 3 */
    struct ge r;
    fe_set(&r.x, 0);
    fe_set(&r.y, 1);
    fe_set(&r.z, 1);
    fe_set(&r.t, 0);
    const uint8_t *sb = sig + 32;
    for (unsigned i = 253; i-- > 0u;) {
        ge_add(&r, &r, &r, &d2);
        unsigned sel = (((unsigned)sb[i / 8u] >> (i % 8u)) & 1u) |
                       ((((unsigned)k[i / 8u] >> (i % 8u)) & 1u) << 1);
        if (sel != 0u) {
            ge_add(&r, &r, pts[sel - 1u], &d2);
        }
    }
    uint8_t rc[32];
    ge_encode(rc, &r);
    uint8_t diff = 0;
    for (unsigned i = 0; i < 32u; i++) {
        diff |= (uint8_t)(rc[i] ^ sig[i]);
    }
    return diff == 0u;
}

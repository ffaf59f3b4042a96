#include "mqtt.h"

#include <stdint.h>

#include "err.h"

/* ------------------------------------------------------------------------- */
/* Bounded writer: counts what it would write so that NULL buffers size it.  */
/* ------------------------------------------------------------------------- */

struct out {
    char *buf;
    size_t cap;
    size_t n;
};

static void put_c(struct out *o, char c)
{
    if (o->buf != NULL && o->n < o->cap) {
        o->buf[o->n] = c;
    }
    o->n++;
}

/* n bytes: one bounds check when they fit (the usual case), else byte by byte. */
static void put_mem(struct out *o, const char *s, size_t n)
{
    if (o->buf != NULL && o->n < o->cap && n <= o->cap - o->n) {
        char *d = o->buf + o->n;
        for (size_t i = 0; i < n; i++) {
            d[i] = s[i];
        }
        o->n += n;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        put_c(o, s[i]);
    }
}

/*
 * n (<= BLK) bytes from @p s, which has BLK readable bytes: when the buffer has BLK bytes
 * of room, one fixed-size copy (a few word moves) instead of a byte loop; bytes after the
 * n are overwritten later or lie behind the final NUL, never past cap.
 */
#define BLK 24u
static void put_blk(struct out *o, const char *s, size_t n)
{
    if (o->buf != NULL && o->n < o->cap && o->cap - o->n >= BLK) {
        __builtin_memcpy(o->buf + o->n, s, BLK);
        o->n += n;
        return;
    }
    put_mem(o, s, n);
}

static void put_s(struct out *o, const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    put_mem(o, s, n);
}

/* Digits into the end of tmp[24] (right-aligned): returns the first. */
static char *digits(char *e, uint64_t v)
{
    while (v > 0xFFFFFFFFu) {
        *--e = (char)('0' + v % 10u);
        v /= 10u;
    }
    uint32_t w = (uint32_t)v; /* 32-bit division: no library call on a Cortex-M */
    do {
        *--e = (char)('0' + w % 10u);
        w /= 10u;
    } while (w != 0u);
    return e;
}

static void put_num(struct out *o, int64_t v, int exp10)
{
    /* Work on the magnitude as unsigned so that INT64_MIN is printable too. Digits go
     * into a small buffer first: one bounds check per number instead of per character
     * (power_instant is built for every telegram). Milli-units (almost every field) and
     * integers divide by constants. */
    uint64_t m = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    uint64_t div = 1;
    for (int e = exp10; e < 0; e++) {
        div *= 10u;
    }
    uint64_t ip, fp;
    if (div == 1000u) {
        ip = m / 1000u;
        fp = m % 1000u;
    } else if (div == 1u) {
        ip = m;
        fp = 0;
    } else {
        ip = m / div;
        fp = m % div;
    }
    char tmp[24 + BLK + 2], *e = tmp + 24, *s = digits(e, ip);
    if (v < 0) {
        *--s = '-';
    }
    if (fp != 0u && div == 1000u) {
        /* three decimals without trailing zeros */
        unsigned f = (unsigned)fp;
        e[0] = '.';
        e[1] = (char)('0' + f / 100u);
        e[2] = (char)('0' + f / 10u % 10u);
        e[3] = (char)('0' + f % 10u);
        e += f % 100u == 0u ? 2 : (f % 10u == 0u ? 3 : 4);
    } else if (fp != 0u) {
        *e++ = '.';
        for (div /= 10u; fp != 0u; div /= 10u) {
            *e++ = (char)('0' + fp / div);
            fp %= div;
        }
    }
    put_blk(o, s, (size_t)(e - s)); /* s + BLK <= tmp + 24 + BLK */
}

static int finish(struct out *o)
{
    if (o->buf == NULL) {
        return (int)o->n;
    }
    if (o->n >= o->cap) {
        if (o->cap > 0u) {
            o->buf[o->cap - 1u] = '\0';
        }
        return ML_ENOSPC;
    }
    o->buf[o->n] = '\0';
    return (int)o->n;
}

int mqtt_number_format(int64_t v, int exp10, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    put_num(&o, v, exp10 > 0 ? 0 : exp10);
    return finish(&o);
}

/* ------------------------------------------------------------------------- */
/* power_instant (products.md §1)                                            */
/* ------------------------------------------------------------------------- */

/* Each key comes with the JSON around it (`,"P":`), so that a field is one copy of its
 * key and one number (power_instant is built for every telegram). */
struct key_field {
    char key[BLK]; /**< `,"<key>":`, padded for put_blk() */
    uint8_t len;
    uint8_t field;
};
#define KF(lit, f)                                                                                 \
    {                                                                                              \
        lit, (uint8_t)(sizeof(lit) - 1u), (uint8_t)(f)                                             \
    }

_Static_assert(sizeof(",\"E_IMPORT\":") <= BLK, "keys fit their field");

static const struct key_field totals[] = {
    KF("{\"ts\":", READING_TS_UTC),      KF(",\"P\":", READING_P),
    KF(",\"P+\":", READING_P_IMP),       KF(",\"P-\":", READING_P_EXP),
    KF(",\"E_IMPORT\":", READING_E_IMP), KF(",\"E_EXPORT\":", READING_E_EXP),
    KF(",\"U12\":", READING_U12),        KF(",\"U31\":", READING_U31),
    KF(",\"U32\":", READING_U23),        KF(",\"Q\":", READING_Q),
    KF(",\"Q+\":", READING_Q_IMP),       KF(",\"Q-\":", READING_Q_EXP),
    KF(",\"EQ1\":", READING_EQ1),        KF(",\"EQ2\":", READING_EQ2),
    KF(",\"EQ3\":", READING_EQ3),        KF(",\"EQ4\":", READING_EQ4),
    KF(",\"PF\":", READING_PF),          KF(",\"S\":", READING_S),
    KF(",\"PFAIL\":", READING_PFAIL),    KF(",\"LPFAIL\":", READING_LPFAIL),
};

/* Per phase: the L1 field; L2/L3 follow it (reading.h lays phases out L1, L2, L3). */
static const struct key_field phase[] = {
    KF(",\"U\":", READING_L1_U),
    KF(",\"I\":", READING_L1_I),
    KF(",\"P\":", READING_L1_P),
    KF(",\"P+\":", READING_L1_P_IMP),
    KF(",\"P-\":", READING_L1_P_EXP),
    KF(",\"Q\":", READING_L1_Q),
    KF(",\"Q+\":", READING_L1_Q_IMP),
    KF(",\"Q-\":", READING_L1_Q_EXP),
    KF(",\"S\":", READING_L1_S),
    KF(",\"VSAGS\":", READING_L1_SAGS),
    KF(",\"VSWELLS\":", READING_L1_SWELLS),
};

static void put_field(struct out *o, const struct reading *r, const struct key_field *kf,
                      unsigned f, size_t skip)
{
    static const char null[BLK] = "null";
    if (skip == 0u) {
        put_blk(o, kf->key, kf->len);
    } else {
        put_mem(o, kf->key + skip, kf->len - skip);
    }
    if (r->present[f / 64u] >> (f % 64u) & 1u) {
        put_num(o, r->value[f], reading_field_info((enum reading_field)f)->exp10);
    } else {
        put_blk(o, null, 4);
    }
}

int mqtt_power_instant_build(const struct reading *r, char *buf, size_t cap)
{
    ML_VERIFY(r != NULL, ML_EFAULT);
    struct out o = {buf, cap, 0};
    for (size_t i = 0; i < ML_ARRAY_SIZE(totals); i++) {
        put_field(&o, r, &totals[i], totals[i].field, 0);
    }
    for (unsigned ph = 0; ph < 3u; ph++) {
        const char open[] = {',', '"', 'l', (char)('1' + ph), '"', ':', '{'};
        put_mem(&o, open, sizeof open);
        for (size_t i = 0; i < ML_ARRAY_SIZE(phase); i++) {
            put_field(&o, r, &phase[i], phase[i].field + ph, i == 0u);
        }
        put_c(&o, '}');
    }
    put_c(&o, '}');
    return finish(&o);
}

/* ------------------------------------------------------------------------- */
/* Topic                                                                     */
/* ------------------------------------------------------------------------- */

int mqtt_topic_build(const char *site, const char *serial, const char *metric, char *buf,
                     size_t cap)
{
    ML_VERIFY(serial != NULL && metric != NULL, ML_EFAULT);
    struct out o = {buf, cap, 0};
    put_s(&o, "devices/");
    put_s(&o, site != NULL && site[0] != '\0' ? site : "default");
    put_s(&o, "/smart-connect/");
    put_s(&o, serial);
    put_s(&o, "/data/");
    put_s(&o, metric);
    return finish(&o);
}

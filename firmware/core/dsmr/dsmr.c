#include "dsmr.h"

#include "crc.h"
#include "err.h"

/*
 * Design (why it looks like this):
 *  - Bytes are appended to a bounded telegram buffer with a NUL sentinel after the last
 *    byte, so the decoding loops need no length checks: every loop stops at a byte that
 *    is not what it wants, and the sentinel is such a byte. A loop that stops at the
 *    sentinel means "line incomplete": the line is decoded again when more bytes came.
 *  - A line is decoded once it is complete; then the CRC runs over it. Nothing is
 *    scanned twice except for a line split across feeds.
 *  - OBIS codes are looked up by a 32-bit key through a perfect hash
 *    (gen_obis_table.py), one multiply and two loads per line.
 *  - Everything is written into a scratch reading; it is published only when the
 *    CRC (or, without CRC, the structure) is right.
 */

/* ------------------------------------------------------------------------- */
/* OBIS table                                                                */
/* ------------------------------------------------------------------------- */

enum dsmr_kind {
    DK_NUM3 = 1, /* number, stored in milli-units (kWh -> mWh, kW -> mW) */
    DK_NUM0,     /* count */
    DK_TS,
    DK_VERSION,
    DK_EMUCS,
    DK_EQUIP,
    DK_TARIFF,
    DK_TEXT,
    DK_PFLOG,
    DK_DMAX,
    DK_DHIST,
    DK_LIMITER,
    DK_IMAX,
    DK_MB_TYPE,
    DK_MB_ID,
    DK_MB_VAL,
    DK_MB_VAL_NC,
    DK_MB_VALVE,
    DK_MB_BREAKER,
    DK_MB_PROFILE,
    DK_LDN,
    DK_KILO = 0x80, /* flag: the standard's unit has a k prefix (a bare number is k...) */
};

/* num() flags */
#define NUM_K    1u /* a unit starting with 'k' multiplies by 1000 */
#define NUM_KDEF 2u /* no unit: the object's unit is k... (DK_KILO), multiply by 1000 */

/* DSMR_HOT: forced inline for speed on the host; a size-optimised build (-Os, the
 * firmware) leaves it to the compiler (one copy; an `inline` hint there cost 48 B). */
#if defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
#define DSMR_HOT inline __attribute__((always_inline))
#else
#define DSMR_HOT
#endif

/* DSMR_WIDE: OBIS keys and hex read a word at a time (obis_key, hex8, hex16) and keys
 * looked up by hash, for speed on the host. The firmware (-Os) and ML_DSMR_SMALL builds
 * (unit.test_dsmr_small runs the unit tests on them) take byte loops and a binary search
 * instead: the same results in less flash. */
#if !defined(__OPTIMIZE_SIZE__) && !defined(ML_DSMR_SMALL)
#define DSMR_WIDE 1
#endif

#define DSMR_ACT(kind, field) (uint16_t)(((unsigned)(kind) << 8) | (unsigned)(field))
#include "dsmr_obis_table.h"

_Static_assert(READING_FIELD_COUNT <= 256, "a field id must fit the 8 bits of an action");
_Static_assert(DSMR_OBIS_COUNT < 256, "slot table holds 8-bit indexes");
_Static_assert(ML_DSMR_MAX_TELEGRAM <= 65535, "ldn_off is 16 bits");

/* ------------------------------------------------------------------------- */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------- */

static void put(struct reading *r, unsigned f, int64_t v)
{
    r->value[f] = v;
    r->present[f / 64u] |= (uint64_t)1 << (f % 64u);
}

/* Value of a hex digit, 16 when it is none. */
static unsigned hexval(unsigned c)
{
    unsigned d = c - '0';
    if (d < 10u) {
        return d;
    }
    d = (c | 0x20u) - 'a';
    if (d < 6u) {
        return d + 10u;
    }
    return 16u;
}

/*
 * Is the '/' at @p q the start of a new telegram (the old one was cut off)? Yes when it
 * starts a line, or when the identification pattern follows it: three letters (the
 * manufacturer FLAG code) and a digit (dsmr.md §3, "/XXXZ"). Otherwise it is a byte of a
 * value (plain-text messages may hold '/'). 1 = restart, 0 = not, -1 = more bytes needed.
 */
static int restart_at(const uint8_t *q, const uint8_t *end)
{
    if (q[-1] == '\n') {
        return 1;
    }
    for (int i = 1; i <= 3; i++) {
        if (q + i == end) {
            return -1;
        }
        if (((unsigned)(q[i] | 0x20u) - 'a') >= 26u) {
            return 0;
        }
    }
    if (q + 4 == end) {
        return -1;
    }
    return ((unsigned)q[4] - '0') < 10u;
}

/* Where a line ends: '\n'; where it breaks off: a restarting '/' (see restart_at);
 * or @p end (the sentinel) when the line is not complete yet. */
static const uint8_t *to_eol(const uint8_t *q, const uint8_t *end)
{
    for (;; q++) {
        unsigned c = *q;
        if (c == '\n' || (c == 0 && q == end)) {
            return q;
        }
        if (c == '/') {
            int r = restart_at(q, end);
            if (r != 0) {
                return r > 0 ? q : end;
            }
        }
    }
}

/*
 * '(' ['-'] digits ['.' digits] [['*'] unit] ')' -> value * 10^scale. With NUM_K a unit
 * starting with 'k' multiplies by 1000 (units are matched without case, dsmr.md §5); the
 * '*' may be missing (`001234.567kWh`, some Belgian meters). With NUM_KDEF a number
 * without unit is in the object's k-unit (Smarty sends kvar/kVA values bare). Returns the
 * byte after ')' or NULL when this is no number.
 */
static DSMR_HOT const uint8_t *num(struct dsmr_parser *p, const uint8_t *q, int scale,
                                   unsigned flags, int64_t *out)
{
    if (*q != '(') {
        return NULL;
    }
    q++;
    bool neg = *q == '-';
    q += neg;
    const uint8_t *start = q;
    uint64_t m = 0;
    unsigned d;
    while ((d = (unsigned)*q - '0') < 10u) {
        m = m * 10u + d;
        q++;
    }
    if (*q == '.') {
        const uint8_t *f = ++q;
        while ((d = (unsigned)*q - '0') < 10u) {
            m = m * 10u + d;
            q++;
        }
        scale -= (int)(q - f);
    }
    if (q == start) {
        return NULL;
    }
    p->unit_len = 0;
    if (*q != ')') {
        q += *q == '*';
        const uint8_t *u = q;
        if ((flags & NUM_K) && (*q | 0x20u) == 'k') {
            scale += 3;
        }
        /* A unit ends at ')'; CR, LF, '(', space ... are below it. A '/' that starts a
         * telegram (restart_at) ends the line, as it does in every other scan: no number
         * (raw() then tells the restart), whether the bytes after it came yet or not. */
        for (; *q > ')'; q++) {
            if (*q == '/' && restart_at(q, p->buf + p->len) != 0) {
                return NULL;
            }
        }
        p->unit = u;
        p->unit_len = (uint8_t)(q - u > 7 ? 7 : q - u);
        if (*q != ')' || (q == u && u[-1] != '*')) {
            return NULL;
        }
    } else if (flags & NUM_KDEF) {
        scale += 3;
    }
    if (scale == 3) { /* kWh, kW, A with their usual decimals */
        m *= 1000u;
    } else {
        for (; scale > 0; scale--) {
            m *= 10u;
        }
        for (; scale < 0; scale++) {
            m /= 10u;
        }
    }
    *out = (int64_t)(neg ? 0u - m : m);
    return q + 1;
}

/*
 * '(' YYMMDDhhmmss[S|W] ')' (dsmr.md §5). *utc = UTC epoch seconds, or -1 for the
 * placeholders (year 00 as in 000101000000W, all zeros, 70-01-01, month 25 ...) and
 * impossible dates. S/W say summer/winter time of the meter's zone: standard time is
 * UTC + p->std_offset_min (60, CET, unless set: Ireland sends GMT/IST).
 */
static DSMR_HOT const uint8_t *tst(const struct dsmr_parser *p, const uint8_t *q, int64_t *utc,
                                   int *dst)
{
    if (*q != '(') {
        return NULL;
    }
    q++;
    int v[6];
    for (int i = 0; i < 6; i++) {
        unsigned a = (unsigned)q[0] - '0';
        if (a > 9u) {
            return NULL;
        }
        unsigned b = (unsigned)q[1] - '0';
        if (b > 9u) {
            return NULL;
        }
        v[i] = (int)(a * 10u + b);
        q += 2;
    }
    int d = -1;
    unsigned c = *q | 0x20u;
    if (c == 's') {
        d = 1;
        q++;
    } else if (c == 'w') {
        d = 0;
        q++;
    }
    if (*q != ')') {
        return NULL;
    }
    int64_t t = -1;
    if (v[0] != 0 && !(v[0] == 70 && v[1] == 1 && v[2] == 1)) {
        t = reading_local_to_utc(2000 + v[0], v[1], v[2], v[3], v[4], v[5], d);
        t += t >= 0 ? 3600 - 60 * (int64_t)p->std_offset_min : 0;
    }
    *utc = t < 0 ? -1 : t;
    *dst = d;
    return q + 1;
}

/* A byte that cannot be inside a value: control bytes, '(' and a restarting '/'. */
static bool value_end(const uint8_t *q, const uint8_t *end)
{
    unsigned c = *q;
    return c < 0x20u || c == '(' || (c == '/' && restart_at(q, end) != 0);
}

/* '(' anything ')' on one line. */
static const uint8_t *skip(const struct dsmr_parser *p, const uint8_t *q)
{
    if (*q != '(') {
        return NULL;
    }
    const uint8_t *end = p->buf + p->len;
    for (q++; *q != ')'; q++) {
        if (value_end(q, end)) {
            return NULL;
        }
    }
    return q + 1;
}

#ifdef DSMR_WIDE
/*
 * Eight hex digits at @p s that give four printable bytes (the usual octet string, dsmr.md
 * §5) into *out (first byte lowest), in one word: true; false for anything else (the
 * byte-wise loop of text() takes over). buf[] has slack for the word read.
 */
static DSMR_HOT bool hex8(const uint8_t *s, uint32_t *out)
{
    const uint64_t L = 0x0101010101010101u, H = 0x8080808080808080u, M = ~H;
    uint64_t w;
    __builtin_memcpy(&w, s, 8);
    uint64_t x = w ^ (0x30u * L);                        /* '0'..'9' -> 0..9 */
    uint64_t notdigit = (((x & M) + 0x76u * L) | x) & H; /* >= 10 */
    uint64_t t = (w | 0x20u * L) ^ (0x60u * L);          /* 'A'..'F', 'a'..'f' -> 1..6 */
    uint64_t alpha = ((t & M) + 0x7Fu * L) & ~(((t & M) + 0x79u * L) | t) & H;
    if ((notdigit & ~alpha) != 0u) {
        return false;
    }
    uint64_t v = (w & 0x0Fu * L) + 9u * ((w >> 6) & L); /* nibble values */
    uint64_t b = ((v & 0x00FF00FF00FF00FFu) << 4 | (v >> 8 & 0x00FF00FF00FF00FFu));
    b = (b | b >> 8) & 0x0000FFFF0000FFFFu;
    b = (b | b >> 16) & 0xFFFFFFFFu;
    /* printable: 0x20 <= byte <= 0x7E */
    const uint32_t L4 = 0x01010101u, H4 = 0x80808080u;
    uint32_t d = (uint32_t)b;
    uint32_t ge20 = ((d & ~H4) + 0x60u * L4) & H4;
    uint32_t ge7f = (((d & ~H4) + 0x01u * L4) | d) & H4;
    if ((ge20 & ~ge7f) != H4) {
        return false;
    }
    *out = d;
    return true;
}

#ifdef __SSE2__
#include <emmintrin.h>
#define DSMR_HEX16 1
/*
 * Host only (x86-64 has SSE2 always; the firmware has hex8): sixteen hex digits at @p s
 * that give eight printable bytes, into @p out; false for anything else (hex8 and the
 * byte loop take over), so it accepts exactly what two hex8() calls accept. Reads 16
 * bytes: the caller keeps s + 16 inside buf[].
 */
static DSMR_HOT bool hex16(const uint8_t *s, uint8_t *out)
{
    const __m128i c = _mm_loadu_si128((const __m128i *)(const void *)s);
    /* c - '0' is 0..9 for a digit, and (c | 0x20) - 'a' 0..5 for a letter; any other byte
     * gives a signed byte outside the range (both wrap below 0 or stay >= 10). */
    const __m128i d = _mm_sub_epi8(c, _mm_set1_epi8('0'));
    const __m128i a = _mm_sub_epi8(_mm_or_si128(c, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    const __m128i neg1 = _mm_set1_epi8(-1);
    const __m128i isdig =
        _mm_and_si128(_mm_cmpgt_epi8(d, neg1), _mm_cmplt_epi8(d, _mm_set1_epi8(10)));
    const __m128i isalp =
        _mm_and_si128(_mm_cmpgt_epi8(a, neg1), _mm_cmplt_epi8(a, _mm_set1_epi8(6)));
    if (_mm_movemask_epi8(_mm_or_si128(isdig, isalp)) != 0xFFFF) {
        return false;
    }
    const __m128i v = _mm_or_si128(_mm_and_si128(isdig, d),
                                   _mm_andnot_si128(isdig, _mm_add_epi8(a, _mm_set1_epi8(10))));
    /* 16-bit lanes hold (high nibble, low nibble) in (low, high) byte: one byte each. */
    const __m128i w = _mm_and_si128(_mm_or_si128(_mm_slli_epi16(v, 4), _mm_srli_epi16(v, 8)),
                                    _mm_set1_epi16(0xFF));
    const __m128i b = _mm_packus_epi16(w, w);
    /* printable: 0x20 <= byte <= 0x7E (a byte >= 0x80 is negative, below 0x20) */
    const __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(b, _mm_set1_epi8(0x1F)),
                                     _mm_cmplt_epi8(b, _mm_set1_epi8(0x7F)));
    if ((_mm_movemask_epi8(ok) & 0xFF) != 0xFF) {
        return false;
    }
    _mm_storel_epi64((__m128i *)(void *)out, b);
    return true;
}
#endif /* __SSE2__ */
#endif /* DSMR_WIDE */

/*
 * A line break inside a value at @p s (a text message broken over two lines): the first
 * byte of the next line; NULL when the next line is no continuation (the footer, a new
 * telegram, an empty line); @p end when it has not arrived yet.
 */
static const uint8_t *cont(const uint8_t *s, const uint8_t *end)
{
    s += *s == '\r';
    if (s == end) {
        return end;
    }
    if (*s != '\n') {
        return NULL;
    }
    s++;
    if (s == end) {
        return end;
    }
    unsigned c = *s;
    return c == '!' || c == '/' || c == '\r' || c == '\n' ? NULL : s;
}

/*
 * '(' text ')' into dst[0..cap] (NUL-terminated): decoded when it is hex of printable
 * text (octet strings, dsmr.md §5), else kept as sent ('/' and '!' included, unless the
 * '/' starts a telegram: restart_at). A line break inside continues the value on the next
 * line (cont). Returns the length; -1 when this is no text; -2 when it is not complete yet.
 */
static int text(const struct dsmr_parser *p, const uint8_t **qp, char *dst, unsigned cap,
                bool *trunc)
{
    const uint8_t *q = *qp, *end = p->buf + p->len;
    if (*q != '(') {
        return -1;
    }
    const uint8_t *s = ++q;
    unsigned n = 0, printable = 1;
#ifdef DSMR_HEX16
    /* The 16-byte read stays in buf[] (telegram, sentinel, 7 bytes of slack) while s + 8
     * is at most the sentinel; the sentinel, being no hex digit, ends any match before
     * the bytes after it. */
    for (; n + 8u <= cap && s + 8 <= end && hex16(s, (uint8_t *)dst + n); s += 16, n += 8u) {
    }
#endif
#ifdef DSMR_WIDE
    for (uint32_t four; n + 4u <= cap && hex8(s, &four); s += 8, n += 4u) {
        __builtin_memcpy(dst + n, &four, 4);
    }
#endif
    for (;;) {
        unsigned h = hexval(s[0]);
        if (h > 15u) {
            if (s[0] == '\r' || s[0] == '\n') {
                const uint8_t *t = cont(s, end);
                if (t == end) {
                    return -2;
                }
                if (t != NULL) {
                    s = t;
                    continue;
                }
            }
            break;
        }
        unsigned l = hexval(s[1]);
        if (l > 15u) {
            break;
        }
        unsigned b = h << 4 | l;
        if ((b - 0x20u) >= 0x5Fu) {
            printable = 0; /* kept as sent: no need to decode further */
            break;
        }
        if (n < cap) {
            dst[n] = (char)b;
        }
        n++;
        s += 2;
    }
    if (*s != ')' || !printable) {
        n = 0;
        for (s = q; *s != ')'; s++) {
            unsigned c = *s;
            if (s == end) {
                return -2;
            }
            if (c == '\r' || c == '\n') {
                const uint8_t *t = cont(s, end);
                if (t == NULL || t == end) {
                    return t == NULL ? -1 : -2;
                }
                s = t - 1;
                continue;
            }
            if (c == '/') {
                int r = restart_at(s, end);
                if (r != 0) {
                    return r > 0 ? -1 : -2;
                }
            }
            if (c < 0x20u || c == '(') {
                return -1;
            }
            if (n < cap) {
                dst[n] = (char)c;
            }
            n++;
        }
    }
    *trunc = n > cap;
    if (n > cap) {
        n = cap;
    }
    dst[n] = '\0';
    *qp = s + 1;
    return (int)n;
}

/* ------------------------------------------------------------------------- */
/* Objects with structure                                                    */
/* ------------------------------------------------------------------------- */

/* 1-0:99.97.0 (z)(0-0:96.7.19)(TST)(dur*s)...; also "()" and "(0)()" (dsmr.md §5). */
static const uint8_t *pflog(struct dsmr_parser *p, const uint8_t *q)
{
    struct reading *r = &p->scratch;
    int64_t v = 0, t = -1;
    int dst;
    r->pfail_log_count = 0;
    if (q[0] == '(' && q[1] == ')') {
        return q + 2;
    }
    q = num(p, q, 0, 0, &v);
    if (q == NULL || *q != '(') {
        return q;
    }
    q = skip(p, q);
    while (q != NULL && *q == '(') {
        q = tst(p, q, &t, &dst);
        if (q == NULL) {
            return NULL;
        }
        q = num(p, q, 0, 0, &v);
        if (q != NULL && r->pfail_log_count < READING_PFAIL_LOG_MAX) {
            struct reading_pfail_event *e = &r->pfail_log[r->pfail_log_count++];
            e->end_utc = t > 0 ? t : 0;
            e->duration_s = v;
        }
    }
    return q;
}

/* 0-0:98.1.0 (n)(1-0:1.6.0)(1-0:1.6.0) then n x (month TST)(peak TST)(kW) (e-MUCS 1.7). */
static const uint8_t *dhist(struct dsmr_parser *p, const uint8_t *q)
{
    struct reading *r = &p->scratch;
    int64_t v = 0, month = -1, peak = -1;
    int dst;
    r->demand_hist_count = 0;
    q = num(p, q, 0, 0, &v);
    q = q != NULL ? skip(p, q) : NULL;
    q = q != NULL ? skip(p, q) : NULL;
    while (q != NULL && *q == '(') {
        q = tst(p, q, &month, &dst);
        q = q != NULL ? tst(p, q, &peak, &dst) : NULL;
        q = q != NULL ? num(p, q, 3, NUM_K | NUM_KDEF, &v) : NULL;
        if (q != NULL && r->demand_hist_count < READING_DEMAND_HIST_MAX) {
            struct reading_demand_month *e = &r->demand_hist[r->demand_hist_count++];
            e->month_utc = month > 0 ? month : 0;
            e->peak_utc = peak > 0 ? peak : 0;
            e->value_mw = v;
        }
    }
    return q;
}

/* M-Bus reading value: milli-units of the unit as sent (no kilo scaling). */
static void mbus_value(struct dsmr_parser *p, struct reading_mbus *m, int64_t v)
{
    m->present = true;
    m->value_milli = v;
    m->has_value = m->ts_utc > 0;
    for (unsigned i = 0; i < p->unit_len; i++) {
        m->unit[i] = (char)p->unit[i];
    }
    if (p->unit_len != 0) {
        m->unit[p->unit_len] = '\0';
    }
}

/* Leading and trailing spaces of an id are padding (dsmr.md §5 octet strings). */
static int trim(struct reading_str *d, int n)
{
    if (n > 0 && (d->s[0] == ' ' || d->s[n - 1] == ' ')) {
        int a = 0;
        while (a < n && d->s[a] == ' ') {
            a++;
        }
        while (n > a && d->s[n - 1] == ' ') {
            n--;
        }
        for (int i = a; i < n; i++) {
            d->s[i - a] = d->s[i];
        }
        n -= a;
        d->s[n] = '\0';
    }
    return n;
}

/* An id into @p d: -1 no text, -2 incomplete (see text), else its trimmed length. */
static int id(const struct dsmr_parser *p, const uint8_t **qp, struct reading_str *d)
{
    bool tr = false;
    int n = text(p, qp, d->s, READING_STR_MAX, &tr);
    d->truncated = tr;
    n = trim(d, n);
    d->len = (uint8_t)(n > 0 ? n : 0);
    return n;
}

/* What a text()-style result means for object(): the byte after, NULL, or "incomplete". */
static const uint8_t *after(const struct dsmr_parser *p, int n, const uint8_t *q)
{
    return n >= 0 ? q : (n == -2 ? p->buf + p->len : NULL);
}

/*
 * Decode the value part of a known object. Returns the byte after it, NULL when the value
 * does not fit the object, or the sentinel (p->buf + p->len) when it is not complete yet.
 * @p weak: a 1-1: register decoded as its 1-0: twin; it does not replace a 1-0: value.
 */
static const uint8_t *object(struct dsmr_parser *p, unsigned kind, unsigned f, unsigned ch,
                             const uint8_t *q, bool weak)
{
    struct reading *r = &p->scratch;
    struct reading_mbus *m = &r->mbus[(ch - 1u) & 3u];
    int64_t v = 0, t = -1;
    int dst, n;
    bool tr = false;                      /* text() leaves it unset when it rejects the value */
    unsigned kdef = kind >> 6 & NUM_KDEF; /* DK_KILO (0x80) -> NUM_KDEF (2) */
    _Static_assert((DK_KILO >> 6) == NUM_KDEF, "DK_KILO maps onto NUM_KDEF");
    switch (kind & ~(unsigned)DK_KILO) {
    case DK_NUM3:
        q = num(p, q, 3, NUM_K | kdef, &v);
        if (q != NULL && !(weak && (r->present[f / 64u] >> (f % 64u) & 1u))) {
            put(r, f, v);
        }
        return q;
    case DK_NUM0:
        q = num(p, q, 0, NUM_K | kdef, &v);
        if (q != NULL && !(weak && (r->present[f / 64u] >> (f % 64u) & 1u))) {
            put(r, f, v);
        }
        return q;
    case DK_TS:
        q = tst(p, q, &t, &dst);
        if (q != NULL && t >= 0) {
            put(r, READING_TS_UTC, t);
            if (dst >= 0) {
                put(r, READING_TS_DST, dst);
            }
        }
        return q;
    case DK_VERSION:
    case DK_EMUCS:
        q = num(p, q, 0, 0, &v);
        if (q != NULL) {
            r->version = (uint32_t)v;
            r->emucs = kind == DK_EMUCS;
        }
        return q;
    case DK_EQUIP:
        if (p->ldn_set) {
            /* 0-0:42.0.0 came first: the equipment id wins, the name goes to raw[]. */
            reading_raw_add(r, "0-0:42.0.0", 10, (const char *)p->buf + p->ldn_off, p->ldn_len);
            p->ldn_set = 0;
        }
        p->equip_set = 1;
        n = id(p, &q, &r->equipment); /* before after() reads q */
        return after(p, n, q);
    case DK_LDN: {
        /* 0-0:42.0.0 logical device name (Smarty's only id): the equipment id when the
         * telegram has no 0-0:96.1.1 / 0-0:96.1.0, else kept in raw[] as sent. */
        const uint8_t *s = q;
        q = skip(p, q);
        if (q == NULL) {
            return NULL;
        }
        if (p->equip_set) {
            reading_raw_add(r, "0-0:42.0.0", 10, (const char *)s + 1, (size_t)(q - s - 2));
            return q;
        }
        q = s;
        n = id(p, &q, &r->equipment);
        if (n >= 0) {
            p->ldn_set = 1;
            p->ldn_off = (uint16_t)(s + 1 - p->buf);
            p->ldn_len = (uint16_t)(q - s - 2);
        }
        return after(p, n, q);
    }
    case DK_TARIFF: {
        const uint8_t *s = q + 1;
        q = num(p, q, 0, 0, &v);
        if (q != NULL) {
            put(r, f, v);
            reading_str_set(&r->tariff_name, (const char *)s, (size_t)(q - 1 - s));
        }
        return q;
    }
    case DK_TEXT:
        n = text(p, &q, r->text, ML_READING_TEXT_MAX, &tr);
        r->text_len = (uint16_t)(n > 0 ? n : 0);
        r->text_truncated = tr;
        return after(p, n, q);
    case DK_PFLOG:
        return pflog(p, q);
    case DK_DMAX:
        q = tst(p, q, &t, &dst);
        q = q != NULL ? num(p, q, 3, NUM_K | NUM_KDEF, &v) : NULL;
        if (q != NULL) {
            put(r, f, v);
            if (t >= 0) {
                put(r, READING_DEMAND_MAX_TS, t);
            }
        }
        return q;
    case DK_DHIST:
        return dhist(p, q);
    case DK_LIMITER:
        /* kW (BE, NL 4.0.4), kVA (LU); a limit in A (DSMR 3.0) has no field: kept raw. */
        q = num(p, q, 3, NUM_K | kdef, &v);
        if (q == NULL || (p->unit_len == 1 && (p->unit[0] | 0x20u) == 'a')) {
            return NULL;
        }
        put(r, f, v);
        return q;
    case DK_IMAX:
        q = num(p, q, 3, NUM_K, &v);
        if (q != NULL) {
            put(r, READING_I_MAX_IMP, v);
            if (*q == '(') {
                q = num(p, q, 3, NUM_K, &v);
                if (q != NULL) {
                    put(r, READING_I_MAX_EXP, v);
                }
            }
        }
        return q;
    case DK_MB_TYPE:
    case DK_MB_VALVE:
    case DK_MB_BREAKER:
        q = num(p, q, 0, 0, &v);
        if (q != NULL) {
            m->present = true;
            if (kind == DK_MB_TYPE) {
                m->type = (uint8_t)v;
            } else if (kind == DK_MB_VALVE) {
                m->valve = (int8_t)v;
            } else {
                m->breaker = (int8_t)v;
            }
        }
        return q;
    case DK_MB_ID:
        m->present = true;
        n = id(p, &q, &m->id);
        return after(p, n, q);
    case DK_MB_VAL:
    case DK_MB_VAL_NC:
        q = tst(p, q, &t, &dst);
        q = q != NULL ? num(p, q, 3, 0, &v) : NULL;
        if (q != NULL) {
            m->ts_utc = t > 0 ? t : 0;
            m->temp_corrected = kind == DK_MB_VAL;
            mbus_value(p, m, v);
        }
        return q;
    case DK_MB_PROFILE:
        /* DSMR 2.2/3.0: (TST)(status)(period)(n)(object)(unit), value on the next line. */
        q = tst(p, q, &t, &dst);
        for (int i = 0; i < 4 && q != NULL; i++) {
            q = skip(p, q);
        }
        if (q != NULL && *q == '(') {
            const uint8_t *u = q + 1;
            q = skip(p, q);
            if (q != NULL) {
                m->present = true;
                m->temp_corrected = true;
                m->ts_utc = t > 0 ? t : 0;
                p->unit = u;
                p->unit_len = (uint8_t)(q - 1 - u > 7 ? 7 : q - 1 - u);
                mbus_value(p, m, 0);
                m->has_value = false;
                p->profile_ch = (uint8_t)ch;
            }
        }
        return q;
    default:
        return NULL;
    }
}

/* Keep an object we do not decode: id up to '(' and the value between the outer
 * parentheses. Returns where the line ends (see to_eol). */
static const uint8_t *raw(struct dsmr_parser *p, const uint8_t *s, const uint8_t *v,
                          const uint8_t *end)
{
    const uint8_t *close = NULL, *q = v;
    for (;; q++) {
        unsigned c = *q;
        if (c == '\n' || (c == 0 && q == end)) {
            break;
        }
        if (c == ')') {
            close = q;
        } else if (c == '/') {
            int r = restart_at(q, end);
            if (r != 0) {
                q = r > 0 ? q : end;
                break;
            }
        }
    }
    if (*q == '\n') {
        const uint8_t *ve = close != NULL ? close : q;
        reading_raw_add(&p->scratch, (const char *)s, (size_t)(v - s), (const char *)(v + 1),
                        ve > v ? (size_t)(ve - v - 1) : 0u);
    }
    return q;
}

/* Action of an OBIS key (see gen_obis_table.py), 0 when the table has none. */
#ifdef DSMR_WIDE
static unsigned lookup(uint32_t key)
{
    unsigned idx = dsmr_obis_slot[(uint32_t)(key * DSMR_OBIS_MUL) >> 24];
    return idx != 0u && dsmr_obis_key[idx - 1u] == key ? dsmr_obis_act[idx - 1u] : 0u;
}
#else
/* The same by binary search in the ascending keys: no 256-byte slot table. */
static unsigned lookup(uint32_t key)
{
    unsigned lo = 0, hi = DSMR_OBIS_COUNT;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2u;
        uint32_t k = dsmr_obis_key[mid];
        if (k == key) {
            return dsmr_obis_act[mid];
        }
        if (k < key) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return 0u;
}
#endif

/* Key of "C.D.E.255" in [k, q): the key of C.D.E; ~0 (no entry) for anything else. */
static uint32_t f255(const uint8_t *k, const uint8_t *q)
{
    if (q - k > 11 || q[-4] != '.' || q[-3] != '2' || q[-2] != '5' || q[-1] != '5') {
        return ~(uint32_t)0;
    }
    uint32_t key = 0;
    unsigned dots = 0, sh = 0;
    for (q -= 4; k < q; k++, sh += 4u) {
        key |= (uint32_t)(*k & 0xFu) << sh;
        dots += *k == '.';
    }
    return dots == 2u ? key : ~(uint32_t)0;
}

#ifdef DSMR_WIDE
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "obis_key reads 8 bytes as a word");

/*
 * Key of the "C.D.E" at *qp (gen_obis_table.py): the low nibbles of its characters ('.'
 * gives 0xE), the first one lowest, found 8 bytes at a time; *qp moves past it. A code
 * of 8 or more characters (value group F) goes through f255(). buf[] has 8 bytes of
 * slack after the sentinel, so the word read stays inside it.
 */
static DSMR_HOT uint32_t obis_key(const uint8_t **qp)
{
    const uint64_t L = 0x0101010101010101u, H = 0x8080808080808080u;
    const uint8_t *q = *qp;
    uint64_t w;
    __builtin_memcpy(&w, q, 8);
    uint64_t x = w ^ (0x30u * L);                         /* digits -> 0..9 */
    uint64_t notdigit = (((x & ~H) + 0x76u * L) | x) & H; /* byte >= 10 */
    uint64_t z = x ^ (0x1Eu * L);                         /* '.' -> 0 */
    uint64_t notdot = (((z & ~H) + 0x7Fu * L) | z) & H;   /* byte != 0 */
    uint64_t bad = notdigit & notdot;
    if (bad == 0u) {
        const uint8_t *k0 = q;
        while ((unsigned)*q - '0' < 10u || *q == '.') {
            q++;
        }
        *qp = q;
        return f255(k0, q);
    }
    unsigned n = (unsigned)__builtin_ctzll(bad) >> 3;
    uint64_t k = w & (0x0Fu * L) & (((uint64_t)1 << (8u * n)) - 1u);
    k = (k | k >> 4) & 0x00FF00FF00FF00FFu;
    k = (k | k >> 8) & 0x0000FFFF0000FFFFu;
    k = (k | k >> 16) & 0xFFFFFFFFu;
    *qp = q + n;
    return (uint32_t)k;
}
#else
/* The key of obis_key() above, one byte at a time. */
static uint32_t obis_key(const uint8_t **qp)
{
    const uint8_t *k = *qp, *q = k;
    while ((unsigned)*q - '0' < 10u || *q == '.') {
        q++;
    }
    *qp = q;
    if (q - k >= 8) {
        return f255(k, q);
    }
    uint32_t key = 0;
    for (unsigned sh = 0; k < q; k++, sh += 4u) {
        key |= (uint32_t)(*k & 0xFu) << sh;
    }
    return key;
}
#endif

/*
 * Decode one data line starting at @p s. Returns where it stopped: at its '\n' when the
 * line is complete, else at '/', '!' or the sentinel. *bad is set for a line that is not
 * "OBIS(...)" (nor empty, nor a DSMR 2.2/3.0 profile value line).
 */
static const uint8_t *line(struct dsmr_parser *p, const uint8_t *s, const uint8_t *end, bool *bad)
{
    const uint8_t *q = s;
    unsigned c = *q;
    if (c == '\r' || c == '\n') {
        return to_eol(q, end);
    }
    if (c == '(' && p->profile_ch != 0) {
        int64_t v;
        struct reading_mbus *m = &p->scratch.mbus[(p->profile_ch - 1u) & 3u];
        q = num(p, q, 3, 0, &v);
        if (q != NULL) {
            m->value_milli = v;
            m->has_value = m->ts_utc > 0;
            q = to_eol(q, end);
            if (*q == '\n') {
                p->profile_ch = 0;
            }
            return q;
        }
        q = s;
        goto bad_line;
    }
    /* A-B:C.D.E( with A one digit, B up to 255 (dsmr.md §3); B is one digit but for
     * rare meters. */
    unsigned a = c - '0', b = (unsigned)q[2] - '0', d;
    if (a > 9u || q[1] != '-' || b > 9u) {
        goto bad_line;
    }
    q += 3;
    while ((d = (unsigned)*q - '0') < 10u && b < 256u) {
        b = b * 10u + d;
        q++;
    }
    if (*q != ':') {
        goto bad_line;
    }
    q++;
    uint32_t key = obis_key(&q);
    if (*q != '(') {
        goto bad_line;
    }
    /* Class nibble of the key, see gen_obis_table.py. */
    unsigned cls = 15u;
    if (a == 0u) {
        cls = b == 0u ? 0u : (b <= 4u ? 1u : 15u);
    } else if (a == 1u) {
        cls = b == 0u ? 2u : (b == 1u ? 3u : (b == 3u ? 4u : 15u));
    }
    const uint8_t *r = NULL;
    if (cls != 15u) {
        unsigned act = lookup(key | (uint32_t)cls << 28);
        bool weak = false;
        if (act == 0u && cls == 3u) {
            /* 1-1:C.D.E (channel 1) without an entry of its own: its 1-0: twin. */
            act = lookup(key | 2u << 28);
            unsigned k = act >> 8 & ~(unsigned)DK_KILO;
            act = k == DK_NUM3 || k == DK_NUM0 ? act : 0u;
            weak = true;
        }
        if (act != 0u) {
            r = object(p, act >> 8, act & 0xFFu, b, q, weak);
        }
    }
    if (r == NULL) {
        return raw(p, s, q, end);
    }
    if (r[0] == '\r' && r[1] == '\n') {
        return r + 1; /* the usual end of a line: no scan */
    }
    return to_eol(r, end);

bad_line:
    *bad = true;
    return to_eol(q, end);
}

/* ------------------------------------------------------------------------- */
/* Framing                                                                   */
/* ------------------------------------------------------------------------- */

static int verdict(struct dsmr_parser *p, int v)
{
    p->in_frame = 0;
    if (v == DSMR_VERDICT_OK) {
        struct reading *r = &p->scratch;
        p->stats.telegrams_ok++;
        p->stats.no_crc_ok += !p->has_crc;
        r->protocol = READING_PROTO_DSMR;
        /* Presence bits read in place: reading_has() is a call per field. */
        const uint64_t *pr = r->present;
#define DSMR_BIT(f) (pr[(f) / 64u] >> ((f) % 64u) & 1u)
        if (DSMR_BIT(READING_L2_U) | DSMR_BIT(READING_L2_I) | DSMR_BIT(READING_L2_P_IMP) |
            DSMR_BIT(READING_L3_I)) {
            r->phases = 3;
        } else if (DSMR_BIT(READING_L1_U) | DSMR_BIT(READING_L1_I) | DSMR_BIT(READING_L1_P_IMP)) {
            r->phases = 1;
        }
#undef DSMR_BIT
        reading_derive(r);
        if (p->out != NULL) {
            *p->out = *r;
        }
    } else if (v == DSMR_VERDICT_CRC_FAIL) {
        p->stats.crc_fail++;
    } else {
        p->stats.frame_fail++;
    }
    return v;
}

/* CRC over the decoded lines up to @p s: one call per feed rather than per line. */
static uint16_t crc_to(struct dsmr_parser *p, const uint8_t *s)
{
    const uint8_t *from = p->buf + p->crc_len;
    p->crc = ml_crc16_block(p->crc, from, (size_t)(s - from));
    p->crc_len = (uint32_t)(s - p->buf);
    return p->crc;
}

/* '!' then 1..4 hex digits (any case), or none for DSMR 2.2/3.0 (dsmr.md §4). */
static int footer(struct dsmr_parser *p, const uint8_t *s, const uint8_t *end)
{
    const uint8_t *q = s + 1;
    unsigned v = 0, n = 0, h;
    while (n < 4u && (h = hexval(*q)) < 16u) {
        v = v << 4 | h;
        q++;
        n++;
    }
    if (n < 4u && q == end) {
        return DSMR_VERDICT_NONE; /* more digits or the CR may follow */
    }
    p->len = (uint32_t)(q - p->buf);
    p->has_crc = n > 0u;
    if (n > 0u) {
        uint16_t crc = ml_crc16_update(crc_to(p, s), '!');
        return verdict(p, crc == v ? DSMR_VERDICT_OK : DSMR_VERDICT_CRC_FAIL);
    }
    /* No CRC: acceptable only for a well-formed telegram of a version that has none. */
    const struct reading *r = &p->scratch;
    bool ok = (*q == '\r' || *q == '\n') && !p->bad && r->version < 40u && !r->emucs;
    return verdict(p, ok ? DSMR_VERDICT_OK : DSMR_VERDICT_FRAME_FAIL);
}

/* Decode every complete line from p->cur on; gives the verdict when the telegram ends. */
static int run(struct dsmr_parser *p)
{
    const uint8_t *b = p->buf, *end = b + p->len;
    for (;;) {
        const uint8_t *s = b + p->cur, *q;
        bool bad = false;
        if (s == end) {
            (void)crc_to(p, s);
            return DSMR_VERDICT_NONE;
        }
        if (*s == '!') {
            return footer(p, s, end);
        }
        if (p->cur == 0u) {
            q = to_eol(s + 1, end); /* identification line: opaque (dsmr.md §3) */
            if (*q == '\n') {
                size_t n = (size_t)(q - s - 1);
                n -= n > 0u && q[-1] == '\r';
                reading_str_set(&p->scratch.header, (const char *)(s + 1), n);
            }
        } else {
            q = line(p, s, end, &bad);
        }
        if (q == end) {
            (void)crc_to(p, s);
            return DSMR_VERDICT_NONE; /* incomplete: decoded again with more bytes */
        }
        if (*q == '/') {
            p->len = (uint32_t)(q - b);
            p->stats.frame_truncated++;
            return verdict(p, DSMR_VERDICT_FRAME_FAIL);
        }
        q++; /* past the '\n' */
        if (bad) {
            p->bad = 1;
            p->stats.bad_lines++;
        }
        p->cur = (uint32_t)(q - b);
    }
}

static void frame_start(struct dsmr_parser *p)
{
    p->in_frame = 1;
    p->len = 0;
    p->cur = 0;
    p->crc = ML_CRC16_P1_INIT;
    p->crc_len = 0;
    p->bad = 0;
    p->has_crc = 0;
    p->profile_ch = 0;
    p->equip_set = 0;
    p->ldn_set = 0;
    p->stats.telegrams_started++;
    reading_init(&p->scratch);
}

/* ------------------------------------------------------------------------- */
/* API                                                                       */
/* ------------------------------------------------------------------------- */

int dsmr_parser_init(struct dsmr_parser *p, struct reading *out)
{
    ML_VERIFY(p != NULL, ML_EFAULT);
    uint8_t *z = (uint8_t *)&p->stats;
    for (size_t i = 0; i < sizeof(p->stats); i++) {
        z[i] = 0;
    }
    p->out = out;
    p->in_frame = 0;
    p->len = 0;
    p->cur = 0;
    p->has_crc = 0;
    p->carry_len = 0;
    p->unit = p->buf;
    p->unit_len = 0;
    p->std_offset_min = 60;
    __builtin_memset(p->buf, 0, sizeof p->buf); /* the slack read by obis_key is defined */
    return ML_OK;
}

int dsmr_parser_set_std_offset(struct dsmr_parser *p, int minutes)
{
    ML_VERIFY(p != NULL, ML_EFAULT);
    ML_VERIFY(minutes >= -720 && minutes <= 840, ML_EINVAL);
    p->std_offset_min = (int16_t)minutes;
    return ML_OK;
}

int dsmr_parser_feed(struct dsmr_parser *p, const uint8_t *data, size_t len, size_t *used)
{
    ML_VERIFY(p != NULL && used != NULL && (data != NULL || len == 0u), ML_EFAULT);
    size_t i = 0;
    if (!p->in_frame && p->carry_len != 0u) {
        /* The start of a telegram that cut off the previous one, held back (see below). */
        frame_start(p);
        for (unsigned k = 0; k < p->carry_len; k++) {
            p->buf[k] = p->carry[k];
        }
        p->len = p->carry_len;
        p->carry_len = 0;
    }
    if (!p->in_frame) {
        while (i < len && data[i] != '/') {
            i++;
        }
        p->stats.bytes_skipped += (uint32_t)i;
        if (i == len) {
            p->stats.bytes_total += (uint32_t)len;
            *used = len;
            return DSMR_VERDICT_NONE;
        }
        frame_start(p);
    }
    size_t room = ML_DSMR_MAX_TELEGRAM - p->len;
    size_t n = len - i < room ? len - i : room;
    uint8_t *dst = p->buf + p->len;
    bool trigger = n >= 16u || p->buf[p->cur] == '!';
    /* A '/' in the last 4 bytes may wait for the bytes that tell a restart (restart_at). */
    for (uint32_t k = p->len > 4u ? p->len - 4u : 0u; !trigger && k < p->len; k++) {
        trigger = p->buf[k] == '/';
    }
    /* The one bulk copy per feed: the compiler's memcpy (which GCC and clang require of
     * every environment, freestanding included; struct copies use it too). */
    __builtin_memcpy(dst, data + i, n);
    for (size_t k = 0; !trigger && k < n; k++) {
        trigger = dst[k] == '\n' || dst[k] == '/' || dst[k] == '!';
    }
    uint32_t top = p->len + (uint32_t)n;
    p->len = top;
    p->buf[top] = 0;
    i += n;
    int v = trigger ? run(p) : DSMR_VERDICT_NONE;
    if (v == DSMR_VERDICT_NONE) {
        if (p->len == ML_DSMR_MAX_TELEGRAM) {
            p->stats.frame_oversize++;
            v = verdict(p, DSMR_VERDICT_FRAME_FAIL);
        }
    } else {
        /* Bytes after the end of the telegram were not consumed: give them back. A restart
         * is told up to 4 bytes after its '/' (restart_at), so up to 4 of them came in
         * earlier feeds: those are held in carry[] and start the next feed's telegram. */
        uint32_t extra = top - p->len, back = extra <= n ? extra : (uint32_t)n;
        ML_ASSERT(extra - back <= sizeof p->carry);
        for (uint32_t k = 0; k < extra - back; k++) {
            p->carry[k] = p->buf[p->len + k];
        }
        p->carry_len = (uint8_t)(extra - back);
        i -= back;
    }
    p->stats.bytes_total += (uint32_t)i;
    *used = i;
    return v;
}

int dsmr_parser_feed_byte(struct dsmr_parser *p, uint8_t byte)
{
    size_t used;
    int v = dsmr_parser_feed(p, &byte, 1, &used);
    if (v > 0 && used == 0u) {
        /* The byte ended a telegram without belonging to it ('/', or the CR after a
         * short CRC): it is the start of what follows. */
        (void)dsmr_parser_feed(p, &byte, 1, &used);
    }
    return v;
}

bool dsmr_parser_is_idle(const struct dsmr_parser *p)
{
    return p->in_frame == 0u && p->carry_len == 0u;
}

const struct dsmr_stats *dsmr_parser_stats(const struct dsmr_parser *p)
{
    return &p->stats;
}

bool dsmr_stats_consistent(const struct dsmr_parser *p)
{
    const struct dsmr_stats *s = &p->stats;
    return s->telegrams_started == s->telegrams_ok + s->crc_fail + s->frame_fail + p->in_frame &&
           s->frame_oversize + s->frame_truncated <= s->frame_fail &&
           s->no_crc_ok <= s->telegrams_ok && s->bytes_skipped <= s->bytes_total;
}

struct ml_span dsmr_parser_telegram(const struct dsmr_parser *p)
{
    struct ml_span s = {p->buf, p->in_frame ? 0u : p->len};
    return s;
}

bool dsmr_parser_had_crc(const struct dsmr_parser *p)
{
    return p->has_crc != 0u;
}

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
};

#define DSMR_ACT(kind, field) (uint16_t)(((unsigned)(kind) << 8) | (unsigned)(field))
#include "dsmr_obis_table.h"

_Static_assert(READING_FIELD_COUNT <= 256, "a field id must fit the 8 bits of an action");
_Static_assert(DSMR_OBIS_COUNT < 256, "slot table holds 8-bit indexes");

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

/* Where a line ends: '\n'; or where it breaks off: '/', '!', or the sentinel at @p end. */
static const uint8_t *to_eol(const uint8_t *q, const uint8_t *end)
{
    for (;; q++) {
        unsigned c = *q;
        if (c == '\n' || c == '/' || c == '!' || (c == 0 && q == end)) {
            return q;
        }
    }
}

/*
 * '(' ['-'] digits ['.' digits] ['*' unit] ')' -> value * 10^scale, where a unit
 * starting with 'k' multiplies by 1000 when @p kilo (units are matched without
 * case, dsmr.md §5). Returns the byte after ')' or NULL when this is no number.
 */
static const uint8_t *num(struct dsmr_parser *p, const uint8_t *q, int scale, bool kilo,
                          int64_t *out)
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
        q++;
        while ((d = (unsigned)*q - '0') < 10u) {
            m = m * 10u + d;
            q++;
            scale--;
        }
    }
    if (q == start) {
        return NULL;
    }
    p->unit_len = 0;
    if (*q == '*') {
        const uint8_t *u = ++q;
        if (kilo && (*q | 0x20u) == 'k') {
            scale += 3;
        }
        while (((unsigned)(*q | 0x20u) - 'a') < 26u || ((unsigned)*q - '0') < 10u) {
            q++;
        }
        p->unit = u;
        p->unit_len = (uint8_t)(q - u > 7 ? 7 : q - u);
    }
    if (*q != ')') {
        return NULL;
    }
    for (; scale > 0; scale--) {
        m *= 10u;
    }
    for (; scale < 0; scale++) {
        m /= 10u;
    }
    *out = (int64_t)(neg ? 0u - m : m);
    return q + 1;
}

/*
 * '(' YYMMDDhhmmss[S|W] ')' (dsmr.md §5). *utc = UTC epoch seconds, or -1 for the
 * placeholders (year 00, 70-01-01, month 25 ...) and impossible dates.
 */
static const uint8_t *tst(const uint8_t *q, int64_t *utc, int *dst)
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
    }
    *utc = t < 0 ? -1 : t;
    *dst = d;
    return q + 1;
}

/* '(' anything ')' without line breaks or frame characters. */
static const uint8_t *skip(const uint8_t *q)
{
    if (*q != '(') {
        return NULL;
    }
    for (q++; *q != ')'; q++) {
        unsigned c = *q;
        if (c < 0x20u || c == '(' || c == '/' || c == '!') {
            return NULL;
        }
    }
    return q + 1;
}

/*
 * '(' text ')' into dst[0..cap] (NUL-terminated): decoded when it is hex of printable
 * text (octet strings, dsmr.md §5), else kept as sent. Returns the length, or -1.
 */
static int text(const uint8_t **qp, char *dst, unsigned cap, bool *trunc)
{
    const uint8_t *q = *qp;
    if (*q != '(') {
        return -1;
    }
    const uint8_t *s = ++q;
    unsigned n = 0, printable = 1;
    for (;;) {
        unsigned h = hexval(s[0]);
        if (h > 15u) {
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
            if (c < 0x20u || c == '(' || c == '/' || c == '!') {
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
    int64_t v, t;
    int dst;
    r->pfail_log_count = 0;
    if (q[0] == '(' && q[1] == ')') {
        return q + 2;
    }
    q = num(p, q, 0, false, &v);
    if (q == NULL || *q != '(') {
        return q;
    }
    q = skip(q);
    while (q != NULL && *q == '(') {
        q = tst(q, &t, &dst);
        if (q == NULL) {
            return NULL;
        }
        q = num(p, q, 0, false, &v);
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
    int64_t v, month, peak;
    int dst;
    r->demand_hist_count = 0;
    q = num(p, q, 0, false, &v);
    q = q != NULL ? skip(q) : NULL;
    q = q != NULL ? skip(q) : NULL;
    while (q != NULL && *q == '(') {
        q = tst(q, &month, &dst);
        q = q != NULL ? tst(q, &peak, &dst) : NULL;
        q = q != NULL ? num(p, q, 3, true, &v) : NULL;
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

/* Decode the value part of a known object. Returns the byte after it, or NULL. */
static const uint8_t *object(struct dsmr_parser *p, unsigned kind, unsigned f, unsigned ch,
                             const uint8_t *q)
{
    struct reading *r = &p->scratch;
    struct reading_mbus *m = &r->mbus[(ch - 1u) & 3u];
    int64_t v, t;
    int dst, n;
    bool tr = false; /* text() leaves it unset when it rejects the value */
    switch (kind) {
    case DK_NUM3:
    case DK_NUM0:
        q = num(p, q, kind == DK_NUM3 ? 3 : 0, true, &v);
        if (q != NULL) {
            put(r, f, v);
        }
        return q;
    case DK_TS:
        q = tst(q, &t, &dst);
        if (q != NULL && t >= 0) {
            put(r, READING_TS_UTC, t);
            if (dst >= 0) {
                put(r, READING_TS_DST, dst);
            }
        }
        return q;
    case DK_VERSION:
    case DK_EMUCS:
        q = num(p, q, 0, false, &v);
        if (q != NULL) {
            r->version = (uint32_t)v;
            r->emucs = kind == DK_EMUCS;
        }
        return q;
    case DK_EQUIP:
        n = text(&q, r->equipment.s, READING_STR_MAX, &tr);
        r->equipment.len = (uint8_t)(n > 0 ? n : 0);
        r->equipment.truncated = tr;
        return n < 0 ? NULL : q;
    case DK_TARIFF: {
        const uint8_t *s = q + 1;
        q = num(p, q, 0, false, &v);
        if (q != NULL) {
            put(r, f, v);
            reading_str_set(&r->tariff_name, (const char *)s, (size_t)(q - 1 - s));
        }
        return q;
    }
    case DK_TEXT:
        n = text(&q, r->text, ML_READING_TEXT_MAX, &tr);
        r->text_len = (uint16_t)(n > 0 ? n : 0);
        r->text_truncated = tr;
        return n < 0 ? NULL : q;
    case DK_PFLOG:
        return pflog(p, q);
    case DK_DMAX:
        q = tst(q, &t, &dst);
        q = q != NULL ? num(p, q, 3, true, &v) : NULL;
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
        q = num(p, q, 3, true, &v);
        if (q == NULL || (p->unit_len == 1 && (p->unit[0] | 0x20u) == 'a')) {
            return NULL;
        }
        put(r, f, v);
        return q;
    case DK_IMAX:
        q = num(p, q, 3, true, &v);
        if (q != NULL) {
            put(r, READING_I_MAX_IMP, v);
            if (*q == '(') {
                q = num(p, q, 3, true, &v);
                if (q != NULL) {
                    put(r, READING_I_MAX_EXP, v);
                }
            }
        }
        return q;
    case DK_MB_TYPE:
    case DK_MB_VALVE:
    case DK_MB_BREAKER:
        q = num(p, q, 0, false, &v);
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
        n = text(&q, m->id.s, READING_STR_MAX, &tr);
        m->id.len = (uint8_t)(n > 0 ? n : 0);
        m->id.truncated = tr;
        return n < 0 ? NULL : q;
    case DK_MB_VAL:
    case DK_MB_VAL_NC:
        q = tst(q, &t, &dst);
        q = q != NULL ? num(p, q, 3, false, &v) : NULL;
        if (q != NULL) {
            m->ts_utc = t > 0 ? t : 0;
            m->temp_corrected = kind == DK_MB_VAL;
            mbus_value(p, m, v);
        }
        return q;
    case DK_MB_PROFILE:
        /* DSMR 2.2/3.0: (TST)(status)(period)(n)(object)(unit), value on the next line. */
        q = tst(q, &t, &dst);
        for (int i = 0; i < 4 && q != NULL; i++) {
            q = skip(q);
        }
        if (q != NULL && *q == '(') {
            const uint8_t *u = q + 1;
            q = skip(q);
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
        if (c == '\n' || c == '/' || c == '!' || (c == 0 && q == end)) {
            break;
        }
        if (c == ')') {
            close = q;
        }
    }
    if (*q == '\n') {
        const uint8_t *ve = close != NULL ? close : q;
        reading_raw_add(&p->scratch, (const char *)s, (size_t)(v - s), (const char *)(v + 1),
                        ve > v ? (size_t)(ve - v - 1) : 0u);
    }
    return q;
}

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
        q = num(p, q, 3, false, &v);
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
    /* A-B:C.D.E( with A one digit, B up to 255 (dsmr.md §3). */
    unsigned a = c - '0', b = 0, d, n = 0;
    if (a > 9u || q[1] != '-') {
        goto bad_line;
    }
    q += 2;
    while ((d = (unsigned)*q - '0') < 10u && b < 256u) {
        b = b * 10u + d;
        q++;
    }
    if (*q != ':') {
        goto bad_line;
    }
    /* C.D.E as nibbles: a digit's low nibble is its value, and '.' & 0xF is 0xE. */
    uint32_t key = 0;
    const uint8_t *k0 = ++q;
    while ((c = *q) - '0' < 10u || c == '.') {
        key = key << 4 | (c & 0xFu);
        q++;
    }
    n = (unsigned)(q - k0);
    if (c != '(') {
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
    if (n <= 7u && cls != 15u) {
        key |= (uint32_t)cls << 28;
        unsigned idx = dsmr_obis_slot[(uint32_t)(key * DSMR_OBIS_MUL) >> 24];
        if (idx != 0u && dsmr_obis_key[idx - 1u] == key) {
            unsigned act = dsmr_obis_act[idx - 1u];
            r = object(p, act >> 8, act & 0xFFu, b, q);
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
        if (*q == '\n') {
            q++;
        } else {
            bad = true; /* cut off by '!' */
        }
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
    p->unit = p->buf;
    p->unit_len = 0;
    p->buf[0] = 0;
    return ML_OK;
}

int dsmr_parser_feed(struct dsmr_parser *p, const uint8_t *data, size_t len, size_t *used)
{
    ML_VERIFY(p != NULL && used != NULL && (data != NULL || len == 0u), ML_EFAULT);
    size_t i = 0;
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
        /* Bytes after the end of the telegram were not consumed: give them back. */
        ML_ASSERT(top - p->len <= n);
        i -= top - p->len;
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
    return p->in_frame == 0u;
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

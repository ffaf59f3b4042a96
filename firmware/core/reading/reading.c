#include "reading.h"

#include "err.h"

/* ------------------------------------------------------------------------- */
/* Field table                                                               */
/* ------------------------------------------------------------------------- */

static const struct reading_field_info field_info[READING_FIELD_COUNT] = {
#define READING_X_INFO(id, key, unit, exp10, comment) [READING_##id] = {key, unit, exp10, comment},
    READING_FIELDS(READING_X_INFO)
#undef READING_X_INFO
};

/* Per-phase blocks are laid out L1, L2, L3 so "id + phase" works. */
_Static_assert(READING_L3_U == READING_L1_U + 2, "phase layout");
_Static_assert(READING_L3_SWELLS == READING_L1_SWELLS + 2, "phase layout");
/* reading_field_is_instant() takes these two runs as instantaneous */
_Static_assert(READING_I_N == READING_P + 14 && READING_L3_PF + 1 == READING_L1_SAGS,
               "instantaneous field runs");

void reading_init(struct reading *r)
{
    /* The compiler's memset (GCC and clang require memcpy/memset of every environment,
     * freestanding included; the target links newlib's): a byte loop cost the DSMR
     * parser 1,549 instructions per telegram for the 3.6 kB scratch reading. */
    __builtin_memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < READING_MBUS_MAX; i++) {
        r->mbus[i].valve = -1;
        r->mbus[i].breaker = -1;
    }
}

const struct reading_field_info *reading_field_info(enum reading_field f)
{
    if ((unsigned)f >= (unsigned)READING_FIELD_COUNT) {
        return NULL;
    }
    return &field_info[f];
}

int reading_field_by_key(const char *key, size_t key_len)
{
    for (int f = 0; f < READING_FIELD_COUNT; f++) {
        const char *k = field_info[f].key;
        size_t i = 0;
        while (i < key_len && k[i] != '\0' && k[i] == key[i]) {
            i++;
        }
        if (i == key_len && k[i] == '\0') {
            return f;
        }
    }
    return ML_ENOENT;
}

bool reading_has(const struct reading *r, enum reading_field f)
{
    if ((unsigned)f >= (unsigned)READING_FIELD_COUNT) {
        return false;
    }
    return (r->present[f / 64] >> (f % 64)) & 1u;
}

void reading_set(struct reading *r, enum reading_field f, int64_t v)
{
    if ((unsigned)f >= (unsigned)READING_FIELD_COUNT) {
        return;
    }
    r->value[f] = v;
    r->present[f / 64] |= (uint64_t)1 << (f % 64);
}

void reading_clear(struct reading *r, enum reading_field f)
{
    if ((unsigned)f >= (unsigned)READING_FIELD_COUNT) {
        return;
    }
    r->value[f] = 0;
    r->present[f / 64] &= ~((uint64_t)1 << (f % 64));
}

bool reading_get(const struct reading *r, enum reading_field f, int64_t *v)
{
    if (!reading_has(r, f)) {
        return false;
    }
    *v = r->value[f];
    return true;
}

double reading_get_si(const struct reading *r, enum reading_field f)
{
    int64_t v;
    if (!reading_get(r, f, &v)) {
        return 0.0;
    }
    double d = (double)v;
    for (int e = field_info[f].exp10; e < 0; e++) {
        d /= 10.0;
    }
    for (int e = field_info[f].exp10; e > 0; e--) {
        d *= 10.0;
    }
    return d;
}

void reading_str_set(struct reading_str *dst, const char *s, size_t n)
{
    size_t k = n > READING_STR_MAX ? READING_STR_MAX : n;
    for (size_t i = 0; i < k; i++) {
        dst->s[i] = s[i];
    }
    dst->s[k] = '\0';
    dst->len = (uint8_t)k;
    dst->truncated = n > READING_STR_MAX;
}

static void copy_trunc(char *dst, size_t cap, const char *src, size_t n, bool *truncated)
{
    size_t k = n >= cap ? cap - 1u : n;
    for (size_t i = 0; i < k; i++) {
        dst[i] = src[i];
    }
    dst[k] = '\0';
    if (n >= cap) {
        *truncated = true;
    }
}

void reading_raw_add(struct reading *r, const char *id, size_t id_len, const char *val,
                     size_t val_len)
{
    if (r->raw_count >= ML_READING_RAW_MAX) {
        r->raw_dropped++;
        return;
    }
    struct reading_raw *o = &r->raw[r->raw_count++];
    o->truncated = false;
    copy_trunc(o->id, sizeof(o->id), id, id_len, &o->truncated);
    copy_trunc(o->value, sizeof(o->value), val, val_len, &o->truncated);
}

/* ------------------------------------------------------------------------- */
/* Derived values                                                            */
/* ------------------------------------------------------------------------- */

/* a - b, saturating at the int64 range (no overflow on any input). */
static int64_t sub_sat(int64_t a, int64_t b)
{
    if (b < 0 && a > INT64_MAX + b) {
        return INT64_MAX;
    }
    if (b > 0 && a < INT64_MIN + b) {
        return INT64_MIN;
    }
    return a - b;
}

/* signed = imp - exp, or the split of a signed value into magnitudes. */
static void derive_signed(struct reading *r, enum reading_field sgn, enum reading_field imp,
                          enum reading_field exp)
{
    int64_t a, b, v;
    if (!reading_has(r, sgn) && reading_get(r, imp, &a) && reading_get(r, exp, &b)) {
        reading_set(r, sgn, sub_sat(a, b));
    } else if (reading_get(r, sgn, &v) && !reading_has(r, imp) && !reading_has(r, exp)) {
        reading_set(r, imp, v > 0 ? v : 0);
        reading_set(r, exp, v < 0 ? sub_sat(0, v) : 0);
    }
}

static void derive_sum(struct reading *r, enum reading_field total, enum reading_field first,
                       int count)
{
    if (reading_has(r, total)) {
        return;
    }
    int64_t sum = 0, v;
    bool any = false;
    for (int i = 0; i < count; i++) {
        if (reading_get(r, (enum reading_field)((int)first + i), &v)) {
            sum += v;
            any = true;
        }
    }
    if (any) {
        reading_set(r, total, sum);
    }
}

static void derive_mbus(struct reading *r, uint8_t type, enum reading_field val,
                        enum reading_field ts)
{
    if (reading_has(r, val)) {
        return;
    }
    for (size_t i = 0; i < READING_MBUS_MAX; i++) {
        const struct reading_mbus *m = &r->mbus[i];
        if (m->present && m->type == type && m->has_value) {
            reading_set(r, val, m->value_milli);
            if (m->ts_utc > 0) {
                reading_set(r, ts, m->ts_utc);
            }
            return;
        }
    }
}

/* floor(sqrt(x)), bit by bit (freestanding: no libm, no division). */
static uint64_t isqrt_u64(uint64_t x)
{
    uint64_t res = 0;
    uint64_t bit = (uint64_t)1 << 62;
    while (bit > x) {
        bit >>= 2;
    }
    while (bit != 0u) {
        if (x >= res + bit) {
            x -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}

static uint64_t mag(int64_t v)
{
    return v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
}

/* PF in milli-units from |P| and S (S > 0), both scaled down together until |P| * 1000
 * fits 64 bits; at most 1000 (a meter's S below its |P|). */
static int64_t pf_milli(uint64_t p, uint64_t s)
{
    while (p >= ((uint64_t)1 << 53) || s >= ((uint64_t)1 << 53)) {
        p >>= 1;
        s >>= 1;
    }
    if (s == 0u) {
        s = 1u;
    }
    uint64_t milli = (p * 1000u + s / 2u) / s;
    return milli > 1000u ? 1000 : (int64_t)milli;
}

/* S and PF of one set of fields (total or a phase), products.md "S and PF":
 * S absent: from P and Q, S = sqrt(P^2 + Q^2); from P alone (no reactive data), S = |P|.
 * PF absent: P / S (so sign(P) when S = |P|), 0 when S is 0, in [-1, 1].
 * sqrt(P^2 + Q^2): above 2^31 both are scaled down by a power of two first so that the
 * sum of squares fits 64 bits (relative error below 2^-30); S saturates at INT64_MAX,
 * PF is taken from the scaled values, so it stays right where S saturates. */
static void derive_s_pf(struct reading *r, enum reading_field f_p, enum reading_field f_s,
                        enum reading_field f_pf, enum reading_field f_q)
{
    int64_t p, qv, sv;
    if (!reading_get(r, f_p, &p)) {
        return;
    }
    uint64_t a = mag(p);
    uint64_t s_small = 0u; /* S >> k when derived here */
    if (!reading_has(r, f_s)) {
        uint64_t b = reading_get(r, f_q, &qv) ? mag(qv) : 0u;
        unsigned k = 0;
        while ((a | b) >= ((uint64_t)1 << 31)) {
            a >>= 1;
            b >>= 1;
            k++;
        }
        if (b == 0u) {
            s_small = a; /* sqrt(a^2) exactly: no root to take (DSMR sends no Q) */
        } else {
            uint64_t sq = a * a + b * b;
            s_small = isqrt_u64(sq);
            if (sq - s_small * s_small > s_small) { /* nearest: (s + 1/2)^2 = s^2 + s + 1/4 */
                s_small++;
            }
        }
        reading_set(r, f_s,
                    s_small > ((uint64_t)INT64_MAX >> k) ? INT64_MAX : (int64_t)(s_small << k));
    } else if (reading_get(r, f_s, &sv) && sv > 0) {
        s_small = (uint64_t)sv;
    }
    if (reading_has(r, f_pf)) {
        return;
    }
    int64_t pf = s_small == 0u ? 0 : pf_milli(a, s_small);
    reading_set(r, f_pf, p < 0 ? -pf : pf);
}

void reading_derive(struct reading *r)
{
    derive_signed(r, READING_P, READING_P_IMP, READING_P_EXP);
    derive_signed(r, READING_Q, READING_Q_IMP, READING_Q_EXP);
    for (int ph = 0; ph < 3; ph++) {
        derive_signed(r, (enum reading_field)((int)READING_L1_P + ph),
                      (enum reading_field)((int)READING_L1_P_IMP + ph),
                      (enum reading_field)((int)READING_L1_P_EXP + ph));
        derive_signed(r, (enum reading_field)((int)READING_L1_Q + ph),
                      (enum reading_field)((int)READING_L1_Q_IMP + ph),
                      (enum reading_field)((int)READING_L1_Q_EXP + ph));
    }
    derive_s_pf(r, READING_P, READING_S, READING_PF, READING_Q);
    for (int ph = 0; ph < 3; ph++) {
        derive_s_pf(r, (enum reading_field)((int)READING_L1_P + ph),
                    (enum reading_field)((int)READING_L1_S + ph),
                    (enum reading_field)((int)READING_L1_PF + ph),
                    (enum reading_field)((int)READING_L1_Q + ph));
    }
    derive_sum(r, READING_E_IMP, READING_E_IMP_T1, 10);
    derive_sum(r, READING_E_EXP, READING_E_EXP_T1, 4);
    derive_mbus(r, READING_MBUS_GAS, READING_GAS, READING_GAS_TS);
    derive_mbus(r, READING_MBUS_WATER, READING_WATER, READING_WATER_TS);
    derive_mbus(r, READING_MBUS_HEAT, READING_HEAT, READING_HEAT_TS);
}

bool reading_field_is_instant(enum reading_field f)
{
    return (f >= READING_P && f <= READING_I_N) || (f >= READING_L1_U && f <= READING_L3_PF) ||
           f == READING_DEMAND_AVG;
}

void reading_clear_instant(struct reading *r)
{
    for (int f = 0; f < READING_FIELD_COUNT; f++) {
        if (reading_field_is_instant((enum reading_field)f)) {
            reading_clear(r, (enum reading_field)f);
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Time                                                                      */
/* ------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const uint8_t dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return dim[m - 1];
}

/* Last Sunday of month m in year y, as day of month (EU DST switch days). */
static int last_sunday(int y, int m)
{
    int last = days_in_month(y, m);
    int64_t days = days_from_civil(y, m, last);
    int wd = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday (4); 0 = Sunday */
    if (wd < 0) {
        wd += 7;
    }
    return last - wd;
}

int64_t reading_local_to_utc(int year, int mon, int day, int hour, int min, int sec, int dst)
{
    ML_VERIFY(year >= 1970 && year <= 2199, ML_EINVAL);
    ML_VERIFY(mon >= 1 && mon <= 12, ML_EINVAL);
    ML_VERIFY(day >= 1 && day <= days_in_month(year, mon), ML_EINVAL);
    ML_VERIFY(hour >= 0 && hour <= 23 && min >= 0 && min <= 59, ML_EINVAL);
    ML_VERIFY(sec >= 0 && sec <= 60, ML_EINVAL);
    int64_t local = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
    if (dst < 0) {
        /* EU rule: summer time from the last Sunday of March 02:00 local (01:00 UTC) to the
         * last Sunday of October 03:00 local (01:00 UTC). */
        int64_t start = days_from_civil(year, 3, last_sunday(year, 3)) * 86400 + 2 * 3600;
        int64_t end = days_from_civil(year, 10, last_sunday(year, 10)) * 86400 + 3 * 3600;
        dst = (local >= start && local < end) ? 1 : 0;
    }
    return local - (dst ? 7200 : 3600);
}

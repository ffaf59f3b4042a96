/*
 * The meter emulator: telegrams and frames from values, and byte faults.
 * Formats follow the DSMR P1 companion standard and Enedis-NOI-CPT_54E; each width
 * below cites the format it implements.
 */
#define _GNU_SOURCE
#include "ml_meter.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc.h"
#include "ml_config.h"

/* ------------------------------------------------------------------------- */
/* Buffer                                                                    */
/* ------------------------------------------------------------------------- */

static void buf_reserve(struct ml_buf *b, size_t n)
{
    if (b->len + n <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        abort();
    }
    b->p = p;
    b->cap = cap;
}

void ml_buf_put(struct ml_buf *b, const void *data, size_t n)
{
    buf_reserve(b, n + 1);
    if (n > 0) {
        memcpy(b->p + b->len, data, n);
    }
    b->len += n;
    b->p[b->len] = 0;
}

void ml_buf_printf(struct ml_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ml_buf_free(struct ml_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------------------- */
/* Protocols                                                                 */
/* ------------------------------------------------------------------------- */

static const char *const proto_names[ML_METER_PROTO_COUNT] = {
    "dsmr22", "dsmr30", "dsmr40", "dsmr42", "dsmr50", "emucs171", "tic", "tic_historic",
};

int ml_meter_proto_find(const char *name)
{
    for (int i = 0; i < ML_METER_PROTO_COUNT; i++) {
        if (strcmp(name, proto_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *ml_meter_proto_name(enum ml_meter_proto p)
{
    return (unsigned)p < ML_METER_PROTO_COUNT ? proto_names[p] : "?";
}

bool ml_meter_proto_is_p1(enum ml_meter_proto p)
{
    return p <= ML_METER_EMUCS171;
}

bool ml_meter_proto_has_check(enum ml_meter_proto p)
{
    return p != ML_METER_DSMR22 && p != ML_METER_DSMR30;
}

struct ml_line ml_meter_proto_line(enum ml_meter_proto p)
{
    switch (p) {
    case ML_METER_DSMR22:
    case ML_METER_DSMR30:
        return (struct ml_line){9600, 7, 'E', 1}; /* dsmr.md §1 */
    case ML_METER_TIC:
        return (struct ml_line){9600, 7, 'E', 1}; /* tic.md §1 */
    case ML_METER_TIC_HISTORIC:
        return (struct ml_line){1200, 7, 'E', 1};
    default:
        return (struct ml_line){115200, 8, 'N', 1};
    }
}

int ml_line_parse_format(const char *s, struct ml_line *l)
{
    if (strlen(s) != 3 || (s[0] != '7' && s[0] != '8') ||
        (s[1] != 'N' && s[1] != 'E' && s[1] != 'O') || (s[2] != '1' && s[2] != '2')) {
        return -1;
    }
    l->data_bits = (uint8_t)(s[0] - '0');
    l->parity = s[1];
    l->stop_bits = (uint8_t)(s[2] - '0');
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Values                                                                    */
/* ------------------------------------------------------------------------- */

static const char *const field_keys[READING_FIELD_COUNT] = {
#define X_KEY(id, key, unit, exp10, comment) key,
    READING_FIELDS(X_KEY)
#undef X_KEY
};

int ml_meter_field_find(const char *key)
{
    for (int i = 0; i < READING_FIELD_COUNT; i++) {
        if (strcmp(field_keys[i], key) == 0) {
            return i;
        }
    }
    return -1;
}

static void set(struct ml_meter_values *v, enum reading_field f, double x)
{
    v->has[f] = true;
    v->v[f] = x;
}

void ml_meter_values_defaults(struct ml_meter_values *v, enum ml_meter_proto p, int phases)
{
    memset(v, 0, sizeof *v);
    set(v, READING_E_IMP_T1, 1234567.0);
    set(v, READING_E_IMP_T2, 2345678.0);
    set(v, READING_P_IMP, 1200.0);
    set(v, READING_TARIFF, 1);
    if (p == ML_METER_TIC || p == ML_METER_TIC_HISTORIC) {
        set(v, READING_L1_U, 231);
        set(v, READING_L1_I, 5);
        set(v, READING_P_MAX_REF, 9000);
        set(v, READING_P_CUT, 9000);
        if (phases == 3) {
            set(v, READING_L2_U, 232);
            set(v, READING_L3_U, 230);
            set(v, READING_L2_I, 1);
            set(v, READING_L3_I, 0);
            set(v, READING_L1_P, 800);
            set(v, READING_L2_P, 300);
            set(v, READING_L3_P, 100);
        }
        return;
    }
    set(v, READING_E_EXP_T1, 123456.0);
    set(v, READING_E_EXP_T2, 234567.0);
    set(v, READING_P_EXP, 0);
    if (p == ML_METER_DSMR22 || p == ML_METER_DSMR30) {
        set(v, READING_GAS, 1234.567);
        return;
    }
    set(v, READING_PFAIL, 3);
    set(v, READING_LPFAIL, 1);
    set(v, READING_GAS, 1234.567);
    for (int i = 0; i < (phases == 3 ? 3 : 1); i++) {
        /* 3 phases: 800 + 200 + 200 W; 1 phase: all 1200 W on L1 */
        set(v, (enum reading_field)(READING_L1_I + i), phases == 3 ? (i == 0 ? 3 : 1) : 5);
        set(v, (enum reading_field)(READING_L1_P_IMP + i),
            phases == 3 ? (i == 0 ? 800 : 200) : 1200);
        set(v, (enum reading_field)(READING_L1_P_EXP + i), 0);
        if (p == ML_METER_DSMR50 || p == ML_METER_EMUCS171) {
            set(v, (enum reading_field)(READING_L1_U + i), 230.0 + i);
        }
        if (p != ML_METER_EMUCS171) {
            set(v, (enum reading_field)(READING_L1_SAGS + i), 0);
            set(v, (enum reading_field)(READING_L1_SWELLS + i), 0);
        }
    }
    if (p == ML_METER_EMUCS171) {
        set(v, READING_DEMAND_AVG, 1100);
        set(v, READING_DEMAND_MAX, 2589);
    }
}

static double have(const struct ml_meter_values *v, enum reading_field f)
{
    return v->has[f] ? v->v[f] : 0.0;
}

void ml_meter_values_balance(struct ml_meter_values *v, const struct ml_meter_values *d,
                             const bool given[READING_FIELD_COUNT])
{
    bool total = given[READING_P] || given[READING_P_IMP] || given[READING_P_EXP];
    double dsum = 0.0;
    for (int i = 0; i < 3; i++) {
        enum reading_field fp = (enum reading_field)(READING_L1_P + i);
        enum reading_field fi = (enum reading_field)(READING_L1_P_IMP + i);
        enum reading_field fe = (enum reading_field)(READING_L1_P_EXP + i);
        if (given[fp] || given[fi] || given[fe]) {
            return; /* the scenario set the phases itself */
        }
        dsum += d->has[fp] ? d->v[fp] : have(d, fi) - have(d, fe);
    }
    if (!total || dsum <= 0.0) {
        return;
    }
    double net =
        v->has[READING_P] ? v->v[READING_P] : have(v, READING_P_IMP) - have(v, READING_P_EXP);
    for (int i = 0; i < 3; i++) {
        enum reading_field fp = (enum reading_field)(READING_L1_P + i);
        enum reading_field fi = (enum reading_field)(READING_L1_P_IMP + i);
        enum reading_field fe = (enum reading_field)(READING_L1_P_EXP + i);
        enum reading_field fc = (enum reading_field)(READING_L1_I + i);
        enum reading_field fu = (enum reading_field)(READING_L1_U + i);
        double share = d->has[fp] ? d->v[fp] : have(d, fi) - have(d, fe);
        double p = net * share / dsum;
        if (d->has[fp]) {
            /* TIC SINSTSn: apparent power, never negative */
            set(v, fp, p < 0 ? -p : p);
        } else if (d->has[fi]) {
            set(v, fi, p > 0 ? p : 0);
            set(v, fe, p < 0 ? -p : 0);
        } else {
            continue;
        }
        if (v->has[fc] && !given[fc]) {
            double u = v->has[fu] && v->v[fu] > 0 ? v->v[fu] : 230.0;
            set(v, fc, (p < 0 ? -p : p) / u);
        }
    }
}

/* "p" and "lN_p" given signed: split into the magnitudes the wire carries. */
static void split_signed(struct ml_meter_values *v)
{
    if (v->has[READING_P]) {
        set(v, READING_P_IMP, v->v[READING_P] > 0 ? v->v[READING_P] : 0);
        set(v, READING_P_EXP, v->v[READING_P] < 0 ? -v->v[READING_P] : 0);
    }
    for (int i = 0; i < 3; i++) {
        enum reading_field f = (enum reading_field)(READING_L1_P + i);
        if (v->has[f]) {
            set(v, (enum reading_field)(READING_L1_P_IMP + i), v->v[f] > 0 ? v->v[f] : 0);
            set(v, (enum reading_field)(READING_L1_P_EXP + i), v->v[f] < 0 ? -v->v[f] : 0);
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Time                                                                      */
/* ------------------------------------------------------------------------- */

/* Last Sunday of @p month (1-based) of @p year at 01:00 UTC (EU summer time rule). */
static int64_t last_sunday_0100(int year, int month)
{
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month; /* the first of the next month ... */
    tm.tm_mday = 1;
    tm.tm_hour = 1;
    time_t t = timegm(&tm) - 86400; /* ... minus one day: the last day of @p month */
    struct tm d;
    gmtime_r(&t, &d);
    return (int64_t)t - (int64_t)d.tm_wday * 86400;
}

/* Central European time: UTC+1, UTC+2 in summer (NL, BE, FR). */
static struct tm cet(int64_t utc, bool *summer)
{
    time_t t = (time_t)utc;
    struct tm u;
    gmtime_r(&t, &u);
    int y = u.tm_year + 1900;
    *summer = utc >= last_sunday_0100(y, 3) && utc < last_sunday_0100(y, 10);
    t += *summer ? 7200 : 3600;
    gmtime_r(&t, &u);
    return u;
}

/* DSMR timestamp YYMMDDhhmmssX (dsmr.md §5); DSMR 2.2/3.0 without X. */
static void tst(char *out, int64_t utc, bool with_dst)
{
    bool s;
    struct tm t = cet(utc, &s);
    snprintf(out, 32, "%02d%02d%02d%02d%02d%02d%s", t.tm_year % 100, t.tm_mon + 1, t.tm_mday,
             t.tm_hour, t.tm_min, t.tm_sec, with_dst ? (s ? "S" : "W") : "");
}

/* TIC horodate SYYMMDDhhmmss (tic.md §4). */
static void horodate(char *out, int64_t utc)
{
    bool s;
    struct tm t = cet(utc, &s);
    snprintf(out, 32, "%c%02d%02d%02d%02d%02d%02d", s ? 'E' : 'H', t.tm_year % 100, t.tm_mon + 1,
             t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
}

/* ------------------------------------------------------------------------- */
/* P1 telegrams                                                              */
/* ------------------------------------------------------------------------- */

static void hex_of(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 3 <= cap; s++) {
        n += (size_t)snprintf(out + n, cap - n, "%02X", (unsigned char)*s);
    }
    out[n] = 0;
}

static double val(const struct ml_meter_values *v, enum reading_field f)
{
    return v->v[f];
}

static long lround_nonneg(double x)
{
    return x < 0 ? 0 : lround(x);
}

static void render_p1(const struct ml_meter_cfg *cfg, const struct ml_meter_values *v, int64_t utc,
                      struct ml_buf *o)
{
    enum ml_meter_proto p = cfg->proto;
    bool old = p == ML_METER_DSMR22 || p == ML_METER_DSMR30;
    bool be = p == ML_METER_EMUCS171;
    bool v5 = p == ML_METER_DSMR50 || be;
    int nph = cfg->phases == 1 ? 1 : 3;
    size_t start = o->len;
    char ts[32], hex[200];
    static const char *const default_hdr[] = {
        "ISk5\\2MT382-1000", "ISk5\\2MT382-1004", "KFM5KAIFA-METER",
        "KFM5KAIFA-METER",   "ISk5\\2MT382-1000", "FLU5\\253769484_A",
    };
    ml_buf_printf(o, "/%s\r\n\r\n", cfg->header ? cfg->header : default_hdr[p]);
    if (p == ML_METER_DSMR40 || p == ML_METER_DSMR42 || p == ML_METER_DSMR50) {
        ml_buf_printf(o, "1-3:0.2.8(%s)\r\n",
                      p == ML_METER_DSMR40 ? "40" : (p == ML_METER_DSMR42 ? "42" : "50"));
    }
    if (be) {
        ml_buf_printf(o, "0-0:96.1.4(50217)\r\n"); /* P1 5.0.2 + e-MUCS 1.7 (dsmr.md §1) */
    }
    if (!old) {
        tst(ts, utc, true);
        ml_buf_printf(o, "0-0:1.0.0(%s)\r\n", ts);
    }
    hex_of(hex, sizeof hex, cfg->id ? cfg->id : (old ? "00000000000000" : "E0044007131650618"));
    ml_buf_printf(o, "0-0:96.1.1(%s)\r\n", old ? (cfg->id ? cfg->id : "00000000000000") : hex);
    /* Energies: F9(3,3) kWh in 4.x/5, five integer digits in 2.2/3.0 (dsmr.md §5). */
    const char *efmt = old ? "%s(%09.3f*kWh)\r\n" : "%s(%010.3f*kWh)\r\n";
    static const char *const eobis[] = {"1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.1", "1-0:2.8.2"};
    static const enum reading_field ef[] = {READING_E_IMP_T1, READING_E_IMP_T2, READING_E_EXP_T1,
                                            READING_E_EXP_T2};
    if (v->has[READING_E_IMP]) {
        ml_buf_printf(o, efmt, "1-0:1.8.0", val(v, READING_E_IMP) / 1000.0);
    }
    if (v->has[READING_E_EXP]) {
        ml_buf_printf(o, efmt, "1-0:2.8.0", val(v, READING_E_EXP) / 1000.0);
    }
    for (int i = 0; i < 4; i++) {
        if (v->has[ef[i]]) {
            ml_buf_printf(o, efmt, eobis[i], val(v, ef[i]) / 1000.0);
        }
    }
    if (v->has[READING_TARIFF]) {
        ml_buf_printf(o, "0-0:96.14.0(%04ld)\r\n", lround_nonneg(val(v, READING_TARIFF)));
    }
    if (be && v->has[READING_DEMAND_AVG]) {
        ml_buf_printf(o, "1-0:1.4.0(%06.3f*kW)\r\n", val(v, READING_DEMAND_AVG) / 1000.0);
    }
    if (be && v->has[READING_DEMAND_MAX]) {
        tst(ts, utc - 3600, true);
        ml_buf_printf(o, "1-0:1.6.0(%s)(%06.3f*kW)\r\n", ts, val(v, READING_DEMAND_MAX) / 1000.0);
    }
    /* Power: F5(3,3) kW in 4.x/5, 2 decimals in 2.2/3.0. */
    const char *pfmt = old ? "%s(%07.2f*kW)\r\n" : "%s(%06.3f*kW)\r\n";
    if (v->has[READING_P_IMP]) {
        ml_buf_printf(o, pfmt, "1-0:1.7.0", val(v, READING_P_IMP) / 1000.0);
    }
    if (v->has[READING_P_EXP]) {
        ml_buf_printf(o, pfmt, "1-0:2.7.0", val(v, READING_P_EXP) / 1000.0);
    }
    if (old) {
        ml_buf_printf(o, "0-0:17.0.0(0999.00*kW)\r\n0-0:96.3.10(1)\r\n0-0:96.13.1()\r\n"
                         "0-0:96.13.0()\r\n");
        if (v->has[READING_GAS]) {
            /* the two-line gas profile of DSMR 2.2/3.0 (dsmr.md §5) */
            tst(ts, utc - utc % 3600, false);
            ml_buf_printf(o,
                          "0-1:24.1.0(3)\r\n0-1:96.1.0(000000000000)\r\n"
                          "0-1:24.3.0(%s)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(%09.3f)\r\n"
                          "0-1:24.4.0(1)\r\n",
                          ts, val(v, READING_GAS));
        }
        ml_buf_printf(o, "!\r\n");
        return;
    }
    if (!be) {
        if (v->has[READING_PFAIL]) {
            ml_buf_printf(o, "0-0:96.7.21(%05ld)\r\n", lround_nonneg(val(v, READING_PFAIL)));
        }
        if (v->has[READING_LPFAIL]) {
            ml_buf_printf(o, "0-0:96.7.9(%05ld)\r\n", lround_nonneg(val(v, READING_LPFAIL)));
        }
        ml_buf_printf(o, "1-0:99.97.0(0)(0-0:96.7.19)\r\n");
        static const int sag[] = {32, 52, 72};
        for (int i = 0; i < nph; i++) {
            if (v->has[READING_L1_SAGS + i]) {
                ml_buf_printf(o, "1-0:%d.32.0(%05ld)\r\n", sag[i],
                              lround_nonneg(val(v, (enum reading_field)(READING_L1_SAGS + i))));
            }
        }
        for (int i = 0; i < nph; i++) {
            if (v->has[READING_L1_SWELLS + i]) {
                ml_buf_printf(o, "1-0:%d.36.0(%05ld)\r\n", sag[i],
                              lround_nonneg(val(v, (enum reading_field)(READING_L1_SWELLS + i))));
            }
        }
    }
    if (p != ML_METER_DSMR50) {
        ml_buf_printf(o, "0-0:96.13.1()\r\n");
    }
    ml_buf_printf(o, "0-0:96.13.0()\r\n");
    static const int uo[] = {32, 52, 72}, io[] = {31, 51, 71}, pio[] = {21, 41, 61};
    if (v5) {
        for (int i = 0; i < nph; i++) {
            if (v->has[READING_L1_U + i]) {
                ml_buf_printf(o, "1-0:%d.7.0(%05.1f*V)\r\n", uo[i],
                              val(v, (enum reading_field)(READING_L1_U + i)));
            }
        }
    }
    for (int i = 0; i < nph; i++) {
        if (v->has[READING_L1_I + i]) {
            double a = val(v, (enum reading_field)(READING_L1_I + i));
            if (be) {
                ml_buf_printf(o, "1-0:%d.7.0(%06.2f*A)\r\n", io[i], a); /* F5(2,2) e-MUCS */
            } else {
                ml_buf_printf(o, "1-0:%d.7.0(%03ld*A)\r\n", io[i], lround_nonneg(a));
            }
        }
    }
    for (int i = 0; i < nph; i++) {
        if (v->has[READING_L1_P_IMP + i]) {
            ml_buf_printf(o, "1-0:%d.7.0(%06.3f*kW)\r\n", pio[i],
                          val(v, (enum reading_field)(READING_L1_P_IMP + i)) / 1000.0);
        }
    }
    for (int i = 0; i < nph; i++) {
        if (v->has[READING_L1_P_EXP + i]) {
            ml_buf_printf(o, "1-0:%d.7.0(%06.3f*kW)\r\n", pio[i] + 1,
                          val(v, (enum reading_field)(READING_L1_P_EXP + i)) / 1000.0);
        }
    }
    if (be) {
        ml_buf_printf(o, "0-0:96.3.10(1)\r\n0-0:17.0.0(999.9*kW)\r\n1-0:31.4.0(999*A)\r\n");
    }
    if (v->has[READING_GAS]) {
        /* last 5-minute value (DSMR 5) / hourly value (4.x) */
        int64_t period = v5 ? 300 : 3600;
        tst(ts, utc - utc % period, true);
        hex_of(hex, sizeof hex, "G0012345678901234");
        ml_buf_printf(o, "0-1:24.1.0(003)\r\n0-1:96.1.%d(%s)\r\n", be ? 1 : 0, hex);
        ml_buf_printf(o, "0-1:24.2.%d(%s)(%09.3f*m3)\r\n", be ? 3 : 1, ts, val(v, READING_GAS));
    }
    if (v->has[READING_WATER]) {
        /* a water meter on M-Bus channel 2 (device type 007), hourly value */
        tst(ts, utc - utc % 3600, true);
        hex_of(hex, sizeof hex, "W0012345678901234");
        ml_buf_printf(o, "0-2:24.1.0(007)\r\n0-2:96.1.%d(%s)\r\n", be ? 1 : 0, hex);
        ml_buf_printf(o, "0-2:24.2.1(%s)(%09.3f*m3)\r\n", ts, val(v, READING_WATER));
    }
    ml_buf_printf(o, "!");
    /* CRC-16/ARC over '/' .. '!' inclusive (dsmr.md §4), 4 upper-case hex digits */
    uint16_t crc = ml_crc16_p1(o->p + start, o->len - start);
    ml_buf_printf(o, "%04X\r\n", crc);
}

/* ------------------------------------------------------------------------- */
/* TIC frames                                                                */
/* ------------------------------------------------------------------------- */

/* Standard group LF label HT [horodate HT] data HT checksum CR (tic.md §3, §5). */
static void tic_group(struct ml_buf *o, const char *label, const char *hd, const char *data)
{
    char body[256];
    int n = hd ? snprintf(body, sizeof body, "%s\t%s\t%s\t", label, hd, data)
               : snprintf(body, sizeof body, "%s\t%s\t", label, data);
    unsigned sum = 0;
    for (int i = 0; i < n; i++) {
        sum += (unsigned char)body[i];
    }
    ml_buf_printf(o, "\n%s%c\r", body, (char)((sum & 0x3Fu) + 0x20u));
}

/* Historic group LF label SP data SP checksum CR; the sum excludes the last SP. */
static void tic_hgroup(struct ml_buf *o, const char *label, const char *data)
{
    char body[128];
    int n = snprintf(body, sizeof body, "%s %s", label, data);
    unsigned sum = 0;
    for (int i = 0; i < n; i++) {
        sum += (unsigned char)body[i];
    }
    ml_buf_printf(o, "\n%s %c\r", body, (char)((sum & 0x3Fu) + 0x20u));
}

static void fmt_num(char *out, int width, double x)
{
    long n = lround_nonneg(x);
    long max = 1;
    for (int i = 0; i < width; i++) {
        max *= 10;
    }
    if (n >= max) {
        n = max - 1;
    }
    snprintf(out, 24, "%0*ld", width, n);
}

static void render_tic(const struct ml_meter_cfg *cfg, const struct ml_meter_values *v, int64_t utc,
                       struct ml_buf *o)
{
    bool three = cfg->phases == 3;
    char hd[32], d[128];
    horodate(hd, utc);
    ml_buf_put(o, "\x02", 1);
    if (cfg->proto == ML_METER_TIC_HISTORIC) {
        tic_hgroup(o, "ADCO", cfg->id ? cfg->id : "031976306473");
        tic_hgroup(o, "OPTARIF", "BASE");
        tic_hgroup(o, "ISOUSC", "45");
        double e = v->has[READING_E_IMP] ? val(v, READING_E_IMP) : val(v, READING_E_IMP_T1);
        fmt_num(d, 9, e);
        tic_hgroup(o, "BASE", d);
        tic_hgroup(o, "PTEC", "TH..");
        fmt_num(d, 3, val(v, READING_L1_I));
        tic_hgroup(o, "IINST", d);
        tic_hgroup(o, "IMAX", "090");
        double s = v->has[READING_S_IMP] ? val(v, READING_S_IMP) : val(v, READING_P_IMP);
        fmt_num(d, 5, round(s / 10.0) * 10.0); /* rounded to 10 VA (tic.md §9) */
        tic_hgroup(o, "PAPP", d);
        tic_hgroup(o, "HHPHC", "A");
        tic_hgroup(o, "MOTDETAT", "000000");
        ml_buf_put(o, "\x03", 1);
        return;
    }
    bool prod =
        cfg->producer || v->has[READING_E_EXP] || v->has[READING_P_EXP] || v->has[READING_S_EXP];
    double s_imp = v->has[READING_S_IMP] ? val(v, READING_S_IMP) : val(v, READING_P_IMP);
    double s_exp = v->has[READING_S_EXP] ? val(v, READING_S_EXP) : val(v, READING_P_EXP);
    if (s_imp > 0 && s_exp > 0) { /* one direction at a time (tic.md §7) */
        if (s_imp > s_exp) {
            s_imp -= s_exp;
            s_exp = 0;
        } else {
            s_exp -= s_imp;
            s_imp = 0;
        }
    }
    int tariff = v->has[READING_TARIFF] ? (int)lround_nonneg(val(v, READING_TARIFF)) : 1;
    if (tariff < 1 || tariff > 10) {
        tariff = 1;
    }
    tic_group(o, "ADSC", NULL, cfg->id ? cfg->id : (three ? "041876097512" : "021861123456"));
    tic_group(o, "VTIC", NULL, "02");
    tic_group(o, "DATE", hd, "");
    tic_group(o, "NGTF", NULL, "      BASE      ");
    tic_group(o, "LTARF", NULL, "      BASE      ");
    double east = 0;
    for (int i = 0; i < 10; i++) {
        east +=
            v->has[READING_E_IMP_T1 + i] ? val(v, (enum reading_field)(READING_E_IMP_T1 + i)) : 0;
    }
    if (v->has[READING_E_IMP]) {
        east = val(v, READING_E_IMP);
    }
    fmt_num(d, 9, east);
    tic_group(o, "EAST", NULL, d);
    for (int i = 0; i < 10; i++) {
        char l[16];
        snprintf(l, sizeof l, "EASF%02d", i + 1);
        fmt_num(d, 9, val(v, (enum reading_field)(READING_E_IMP_T1 + i)));
        tic_group(o, l, NULL, d);
    }
    for (int i = 0; i < 4; i++) {
        char l[16];
        snprintf(l, sizeof l, "EASD%02d", i + 1);
        fmt_num(d, 9, i == 0 ? east : 0);
        tic_group(o, l, NULL, d);
    }
    if (prod) {
        fmt_num(d, 9, val(v, READING_E_EXP));
        tic_group(o, "EAIT", NULL, d);
        for (int i = 0; i < 4; i++) {
            char l[16];
            snprintf(l, sizeof l, "ERQ%d", i + 1);
            fmt_num(d, 9, val(v, (enum reading_field)(READING_EQ1 + i)));
            tic_group(o, l, NULL, d);
        }
    }
    int nph = three ? 3 : 1;
    for (int i = 0; i < nph; i++) {
        char l[16];
        snprintf(l, sizeof l, "IRMS%d", i + 1);
        fmt_num(d, 3, val(v, (enum reading_field)(READING_L1_I + i)));
        tic_group(o, l, NULL, d);
    }
    for (int i = 0; i < nph; i++) {
        char l[16];
        snprintf(l, sizeof l, "URMS%d", i + 1);
        fmt_num(d, 3, val(v, (enum reading_field)(READING_L1_U + i)));
        tic_group(o, l, NULL, d);
    }
    fmt_num(d, 2, val(v, READING_P_MAX_REF) / 1000.0);
    tic_group(o, "PREF", NULL, d);
    fmt_num(d, 2, val(v, READING_P_CUT) / 1000.0);
    tic_group(o, "PCOUP", NULL, d);
    fmt_num(d, 5, s_imp);
    tic_group(o, "SINSTS", NULL, d);
    if (three) {
        for (int i = 0; i < 3; i++) {
            char l[16];
            snprintf(l, sizeof l, "SINSTS%d", i + 1);
            enum reading_field fs = (enum reading_field)(READING_L1_S + i);
            enum reading_field fp = (enum reading_field)(READING_L1_P_IMP + i);
            fmt_num(d, 5, v->has[fs] ? val(v, fs) : val(v, fp));
            tic_group(o, l, NULL, d);
        }
    }
    char hmax[32];
    horodate(hmax, utc - utc % 86400);
    fmt_num(d, 5, s_imp);
    tic_group(o, "SMAXSN", hmax, d);
    horodate(hmax, utc - utc % 86400 - 43200);
    tic_group(o, "SMAXSN-1", hmax, d);
    if (prod) {
        fmt_num(d, 5, s_exp);
        tic_group(o, "SINSTI", NULL, d);
        horodate(hmax, utc - utc % 86400);
        tic_group(o, "SMAXIN", hmax, d);
        horodate(hmax, utc - utc % 86400 - 43200);
        tic_group(o, "SMAXIN-1", hmax, d);
    }
    for (int i = 0; i < nph; i++) {
        char l[16];
        snprintf(l, sizeof l, "UMOY%d", i + 1);
        horodate(hmax, utc - utc % 600);
        fmt_num(d, 3, val(v, (enum reading_field)(READING_L1_U + i)));
        tic_group(o, l, hmax, d);
    }
    /* STGE (tic.md §8): bit 17 standard mode, 8 producer, 9 exporting, 10..13 index - 1 */
    uint32_t stge = 1u << 17 | (uint32_t)(tariff - 1) << 10;
    if (prod) {
        stge |= 1u << 8;
    }
    if (s_exp > 0) {
        stge |= 1u << 9;
    }
    snprintf(d, sizeof d, "%08X", (unsigned)stge);
    tic_group(o, "STGE", NULL, d);
    tic_group(o, "MSG1", NULL, "PAS DE          MESSAGE         ");
    tic_group(o, "PRM", NULL, "30001234567890");
    tic_group(o, "RELAIS", NULL, "000");
    snprintf(d, sizeof d, "%02d", tariff);
    tic_group(o, "NTARF", NULL, d);
    tic_group(o, "NJOURF", NULL, "00");
    tic_group(o, "NJOURF+1", NULL, "00");
    tic_group(o, "PJOURF+1", NULL,
              "00008001 NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE "
              "NONUTILE NONUTILE NONUTILE");
    ml_buf_put(o, "\x03", 1);
}

size_t ml_meter_render(const struct ml_meter_cfg *cfg, const struct ml_meter_values *v, int64_t utc,
                       struct ml_buf *out)
{
    size_t before = out->len;
    struct ml_meter_values w = *v;
    split_signed(&w);
    if (ml_meter_proto_is_p1(cfg->proto)) {
        render_p1(cfg, &w, utc, out);
    } else {
        render_tic(cfg, &w, utc, out);
    }
    return out->len - before;
}

/* ------------------------------------------------------------------------- */
/* Faults                                                                    */
/* ------------------------------------------------------------------------- */

static size_t resolve_offset(long off, size_t len)
{
    if (off == LONG_MIN) {
        return len / 2;
    }
    if (off < 0) {
        off += (long)len;
        if (off < 0) {
            off = 0;
        }
    }
    return (size_t)off > len ? len : (size_t)off;
}

static void buf_splice(struct ml_buf *t, size_t at, size_t del, const uint8_t *ins, size_t n)
{
    struct ml_buf o = {0};
    ml_buf_put(&o, t->p, at);
    ml_buf_put(&o, ins, n);
    ml_buf_put(&o, t->p + at + del, t->len - at - del);
    ml_buf_free(t);
    *t = o;
}

/* Position of the n-th TIC group's checksum (the byte before CR); SIZE_MAX if none. */
static size_t tic_checksum_pos(const struct ml_buf *t, long n)
{
    long k = 0;
    for (size_t i = 1; i < t->len; i++) {
        if (t->p[i] == '\r') {
            if (k++ == n) {
                return i - 1;
            }
        }
    }
    return SIZE_MAX;
}

int ml_fault_apply(const struct ml_fault *f, enum ml_meter_proto p, struct ml_buf *t, char *err,
                   size_t errcap)
{
    size_t at = resolve_offset(f->offset, t->len);
    switch (f->kind) {
    case ML_FAULT_BIT_FLIP:
        if (at >= t->len) {
            snprintf(err, errcap, "bit_flip offset %ld beyond the telegram (%zu bytes)", f->offset,
                     t->len);
            return -1;
        }
        t->p[at] ^= (uint8_t)(1u << (f->bit & 7));
        return 0;
    case ML_FAULT_CRC_CORRUPT:
        if (ml_meter_proto_is_p1(p)) {
            uint8_t *bang = memrchr(t->p, '!', t->len);
            if (bang == NULL || (size_t)(bang - t->p) + 5 > t->len) {
                snprintf(err, errcap, "crc_corrupt: no CRC in this telegram (%s)",
                         ml_meter_proto_name(p));
                return -1;
            }
            /* change the last hex digit to another hex digit */
            uint8_t *c = bang + 4;
            *c = *c == '0' ? '1' : '0';
            return 0;
        } else {
            size_t pos = tic_checksum_pos(t, f->offset == LONG_MIN ? 0 : f->offset);
            if (pos == SIZE_MAX) {
                snprintf(err, errcap, "crc_corrupt: no group %ld in this frame", f->offset);
                return -1;
            }
            /* another character of 0x20..0x5F */
            t->p[pos] = (uint8_t)(((t->p[pos] - 0x20u + 1u) & 0x3Fu) + 0x20u);
            return 0;
        }
    case ML_FAULT_DROP_BYTES: {
        size_t n = f->count < 0 ? 1 : (size_t)f->count;
        if (at + n > t->len) {
            n = t->len - at;
        }
        buf_splice(t, at, n, NULL, 0);
        return 0;
    }
    case ML_FAULT_DUPLICATE: {
        size_t n = f->count < 0 ? 1 : (size_t)f->count;
        if (at + n > t->len) {
            n = t->len - at;
        }
        uint8_t *copy = malloc(n + 1);
        memcpy(copy, t->p + at, n);
        buf_splice(t, at + n, 0, copy, n);
        free(copy);
        return 0;
    }
    case ML_FAULT_INSERT:
        buf_splice(t, at, 0, f->bytes, f->nbytes);
        return 0;
    case ML_FAULT_TRUNCATE: {
        size_t keep = f->count < 0 ? t->len / 2 : (size_t)f->count;
        if (keep < t->len) {
            t->len = keep;
        }
        return 0;
    }
    case ML_FAULT_OVERSIZE: {
        size_t want = f->count > 0 ? (size_t)f->count
                                   : (ml_meter_proto_is_p1(p) ? ML_DSMR_MAX_TELEGRAM + 1024
                                                              : ML_TIC_MAX_FRAME + 1024);
        struct ml_buf ins = {0};
        if (ml_meter_proto_is_p1(p)) {
            uint8_t *bang = memrchr(t->p, '!', t->len);
            if (bang == NULL) {
                snprintf(err, errcap, "oversize: no '!' in this telegram");
                return -1;
            }
            size_t at_bang = (size_t)(bang - t->p);
            while (t->len + ins.len < want) {
                /* text-message lines of 1024 hex characters (dsmr.md §5, §6) */
                ml_buf_printf(&ins, "0-0:96.13.0(");
                for (int i = 0; i < 512; i++) {
                    ml_buf_printf(&ins, "%02X", 'A' + i % 26);
                }
                ml_buf_printf(&ins, ")\r\n");
            }
            buf_splice(t, at_bang, 0, ins.p, ins.len);
            if (ml_meter_proto_has_check(p)) {
                bang = memrchr(t->p, '!', t->len);
                size_t end = (size_t)(bang - t->p) + 1;
                char crc[5];
                snprintf(crc, sizeof crc, "%04X", ml_crc16_p1(t->p, end));
                memcpy(bang + 1, crc, 4);
            }
        } else {
            uint8_t *etx = memrchr(t->p, 0x03, t->len);
            size_t at_etx = etx ? (size_t)(etx - t->p) : t->len;
            struct ml_buf g = {0};
            for (int k = 0; t->len + ins.len < want; k++) {
                g.len = 0;
                tic_group(&g, "MSG1", NULL, "PAS DE          MESSAGE         ");
                ml_buf_put(&ins, g.p, g.len);
            }
            ml_buf_free(&g);
            buf_splice(t, at_etx, 0, ins.p, ins.len);
        }
        ml_buf_free(&ins);
        return 0;
    }
    default:
        snprintf(err, errcap, "unknown fault");
        return -1;
    }
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

void ml_meter_noise(enum ml_meter_proto p, size_t n, uint32_t seed, bool raw, struct ml_buf *out)
{
    uint32_t s = seed ? seed : 1;
    bool p1 = ml_meter_proto_is_p1(p);
    for (size_t i = 0; i < n;) {
        uint8_t b = (uint8_t)(xorshift(&s) >> 24);
        if (!p1) {
            b &= 0x7F; /* 7-bit characters */
        }
        if (!raw && (p1 ? (b == '/' || b == '!')
                        : (b == 0x02 || b == 0x03 || b == 0x04 || b == '\n' || b == '\r'))) {
            continue;
        }
        ml_buf_put(out, &b, 1);
        i++;
    }
}

/* ------------------------------------------------------------------------- */
/* Wrong line settings                                                       */
/* ------------------------------------------------------------------------- */

static int parity_bit(unsigned v, char parity)
{
    int ones = __builtin_popcount(v);
    return parity == 'E' ? (ones & 1) : !(ones & 1);
}

/* Level of the transmitted line at time @p t (in tx bit times) given the char frames. */
void ml_line_mangle(const uint8_t *in, size_t n, const struct ml_line *tx, const struct ml_line *rx,
                    struct ml_buf *out)
{
    int tx_bits = 1 + tx->data_bits + (tx->parity != 'N') + tx->stop_bits;
    /* Build the waveform as a bit array at tx rate, plus 2 idle chars at the end. */
    size_t nbits = n * (size_t)tx_bits + 2u * (size_t)tx_bits;
    uint8_t *w = malloc(nbits + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = in[i] & ((1u << tx->data_bits) - 1u);
        w[k++] = 0; /* start */
        for (int b = 0; b < tx->data_bits; b++) {
            w[k++] = (uint8_t)((v >> b) & 1u);
        }
        if (tx->parity != 'N') {
            w[k++] = (uint8_t)parity_bit(v, tx->parity);
        }
        for (int b = 0; b < tx->stop_bits; b++) {
            w[k++] = 1;
        }
    }
    while (k < nbits) {
        w[k++] = 1;
    }
    /* Receiver: time in tx bit units; one rx bit lasts ratio tx bits. */
    double ratio = (double)tx->baud / (double)rx->baud;
    double total = (double)nbits;
    int rx_bits = rx->data_bits + (rx->parity != 'N');
    double t = 0;
#define LEVEL(x) ((x) >= total ? 1 : w[(size_t)(x)])
    /* sample in steps of 1/16 rx bit to find falling edges, as a UART does */
    double step = ratio / 16.0;
    int prev = 1;
    while (t < total) {
        int lv = LEVEL(t);
        if (prev == 1 && lv == 0) {
            double mid = t + ratio / 2.0; /* middle of the start bit */
            if (LEVEL(mid) != 0) {        /* glitch: false start */
                prev = lv;
                t += step;
                continue;
            }
            unsigned v = 0;
            for (int b = 0; b < rx->data_bits; b++) {
                v |= (unsigned)LEVEL(mid + ratio * (b + 1)) << b;
            }
            uint8_t byte = (uint8_t)v;
            ml_buf_put(out, &byte, 1);
            /* continue after the stop bit sample; resync on the next falling edge */
            t = mid + ratio * (rx_bits + 1);
            prev = LEVEL(t);
            continue;
        }
        prev = lv;
        t += step;
    }
#undef LEVEL
    free(w);
}

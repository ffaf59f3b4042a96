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

static void put_s(struct out *o, const char *s)
{
    while (*s != '\0') {
        put_c(o, *s++);
    }
}

static void put_num(struct out *o, int64_t v, int exp10)
{
    /* Work on the magnitude as unsigned so that INT64_MIN is printable too. */
    uint64_t m = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    uint64_t div = 1;
    for (int e = exp10; e < 0; e++) {
        div *= 10u;
    }
    uint64_t ip = m / div, fp = m % div;
    char tmp[24];
    int k = 0;
    if (v < 0) {
        put_c(o, '-');
    }
    do {
        tmp[k++] = (char)('0' + ip % 10u);
        ip /= 10u;
    } while (ip != 0u);
    while (k > 0) {
        put_c(o, tmp[--k]);
    }
    if (fp != 0u) {
        put_c(o, '.');
        for (div /= 10u; fp != 0u; div /= 10u) {
            put_c(o, (char)('0' + fp / div));
            fp %= div;
        }
    }
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

struct key_field {
    const char *key;
    uint8_t field;
};

static const struct key_field totals[] = {
    {"ts", READING_TS_UTC},      {"P", READING_P},
    {"P+", READING_P_IMP},       {"P-", READING_P_EXP},
    {"E_IMPORT", READING_E_IMP}, {"E_EXPORT", READING_E_EXP},
    {"U12", READING_U12},        {"U31", READING_U31},
    {"U32", READING_U23},        {"Q", READING_Q},
    {"Q+", READING_Q_IMP},       {"Q-", READING_Q_EXP},
    {"EQ1", READING_EQ1},        {"EQ2", READING_EQ2},
    {"EQ3", READING_EQ3},        {"EQ4", READING_EQ4},
    {"PF", READING_PF},          {"S", READING_S},
    {"PFAIL", READING_PFAIL},    {"LPFAIL", READING_LPFAIL},
};

/* Per phase: the L1 field; L2/L3 follow it (reading.h lays phases out L1, L2, L3). */
static const struct key_field phase[] = {
    {"U", READING_L1_U},
    {"I", READING_L1_I},
    {"P", READING_L1_P},
    {"P+", READING_L1_P_IMP},
    {"P-", READING_L1_P_EXP},
    {"Q", READING_L1_Q},
    {"Q+", READING_L1_Q_IMP},
    {"Q-", READING_L1_Q_EXP},
    {"S", READING_L1_S},
    {"VSAGS", READING_L1_SAGS},
    {"VSWELLS", READING_L1_SWELLS},
};

static void put_field(struct out *o, const struct reading *r, const char *key, unsigned f,
                      bool first)
{
    int64_t v;
    if (!first) {
        put_c(o, ',');
    }
    put_c(o, '"');
    put_s(o, key);
    put_s(o, "\":");
    if (reading_get(r, (enum reading_field)f, &v)) {
        put_num(o, v, reading_field_info((enum reading_field)f)->exp10);
    } else {
        put_s(o, "null");
    }
}

int mqtt_power_instant_build(const struct reading *r, char *buf, size_t cap)
{
    return mqtt_power_instant_build_ts(r, -1, buf, cap);
}

int mqtt_power_instant_build_ts(const struct reading *r, int64_t ts_now, char *buf, size_t cap)
{
    ML_VERIFY(r != NULL, ML_EFAULT);
    struct out o = {buf, cap, 0};
    put_c(&o, '{');
    for (size_t i = 0; i < ML_ARRAY_SIZE(totals); i++) {
        if (totals[i].field == READING_TS_UTC && !reading_has(r, READING_TS_UTC) && ts_now >= 0) {
            put_s(&o, i == 0u ? "\"ts\":" : ",\"ts\":"); /* no meter time: the device's clock */
            put_num(&o, ts_now, 0);
            continue;
        }
        put_field(&o, r, totals[i].key, totals[i].field, i == 0u);
    }
    for (unsigned ph = 0; ph < 3u; ph++) {
        put_s(&o, ",\"l");
        put_c(&o, (char)('1' + ph));
        put_s(&o, "\":{");
        for (size_t i = 0; i < ML_ARRAY_SIZE(phase); i++) {
            put_field(&o, r, phase[i].key, phase[i].field + ph, i == 0u);
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

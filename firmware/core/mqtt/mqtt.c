#include "mqtt.h"

#include <stdint.h>

#include "err.h"
#include "str.h"
#include "text.h"

int mqtt_number_format(int64_t v, int exp10, char *buf, size_t cap)
{
    struct ml_text o;
    ml_text_init(&o, buf, cap);
    ml_text_fixed(&o, v, exp10 > 0 ? 0 : exp10);
    return ml_text_end(&o);
}

/* ------------------------------------------------------------------------- */
/* power_instant (products.md §1)                                            */
/* ------------------------------------------------------------------------- */

/* Each key comes with the JSON around it (`,"P":`), so that a field is one copy of its
 * key and one number (power_instant is built for every telegram). */
struct key_field {
    char key[16]; /**< `,"<key>":` */
    uint8_t len;
    uint8_t field;
};
#define KF(lit, f)                                                                                 \
    {                                                                                              \
        lit, (uint8_t)(sizeof(lit) - 1u), (uint8_t)(f)                                             \
    }

_Static_assert(sizeof(",\"E_IMPORT\":") <= 16, "keys fit their field");

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

static void put_field(struct ml_text *o, const struct reading *r, const struct key_field *kf,
                      unsigned f, size_t skip)
{
    ml_text_put_n(o, kf->key + skip, kf->len - skip);
    if (r->present[f / 64u] >> (f % 64u) & 1u) {
        ml_text_fixed(o, r->value[f], reading_field_info((enum reading_field)f)->exp10);
    } else {
        ml_text_put_n(o, "null", 4);
    }
}

int mqtt_power_instant_build(const struct reading *r, char *buf, size_t cap)
{
    return mqtt_power_instant_build_ts(r, -1, buf, cap);
}

int mqtt_power_instant_build_ts(const struct reading *r, int64_t ts_now, char *buf, size_t cap)
{
    ML_VERIFY(r != NULL, ML_EFAULT);
    struct ml_text o;
    ml_text_init(&o, buf, cap);
    for (size_t i = 0; i < ML_ARRAY_SIZE(totals); i++) {
        if (totals[i].field == READING_TS_UTC && !reading_has(r, READING_TS_UTC) && ts_now >= 0) {
            /* no meter time: the device's clock (products.md) */
            ml_text_put_n(&o, totals[i].key, totals[i].len);
            ml_text_fixed(&o, ts_now, 0);
            continue;
        }
        put_field(&o, r, &totals[i], totals[i].field, 0);
    }
    for (unsigned ph = 0; ph < 3u; ph++) {
        const char open[] = {',', '"', 'l', (char)('1' + ph), '"', ':', '{'};
        ml_text_put_n(&o, open, sizeof open);
        for (size_t i = 0; i < ML_ARRAY_SIZE(phase); i++) {
            put_field(&o, r, &phase[i], phase[i].field + ph, i == 0u);
        }
        ml_text_putc(&o, '}');
    }
    ml_text_putc(&o, '}');
    return ml_text_end(&o);
}

/* ------------------------------------------------------------------------- */
/* Topic                                                                     */
/* ------------------------------------------------------------------------- */

static void put_base(struct ml_text *o, const char *site, const char *serial)
{
    ml_text_put(o, "devices/");
    ml_text_put(o, site != NULL && site[0] != '\0' ? site : "default");
    ml_text_put(o, "/smart-connect/");
    ml_text_put(o, serial);
}

int mqtt_topic_build(const char *site, const char *serial, const char *metric, char *buf,
                     size_t cap)
{
    ML_VERIFY(serial != NULL && metric != NULL, ML_EFAULT);
    struct ml_text o;
    ml_text_init(&o, buf, cap);
    put_base(&o, site, serial);
    ml_text_put(&o, "/data/");
    ml_text_put(&o, metric);
    return ml_text_end(&o);
}

bool mqtt_cmd_known(const char *name, size_t len)
{
    return name != NULL &&
           (ml_str_eq_n(name, len, MQTT_CMD_RESET) || ml_str_eq_n(name, len, MQTT_CMD_FIRMWARE));
}

int mqtt_cmd_result_build(const char *id, const char *state, const char *version,
                          const char *reason, char *buf, size_t cap)
{
    ML_VERIFY(state != NULL, ML_EFAULT);
    struct ml_text w;
    ml_text_init(&w, buf, cap);
    ml_text_put(&w, "{\"id\":");
    if (id != NULL && id[0] != '\0') {
        ml_text_json_str(&w, id, ml_str_len(id));
    } else {
        ml_text_put(&w, "null");
    }
    ml_text_put(&w, ",\"state\":");
    ml_text_json_str(&w, state, ml_str_len(state));
    if (version != NULL) {
        ml_text_put(&w, ",\"version\":");
        ml_text_json_str(&w, version, ml_str_len(version));
    }
    if (reason != NULL) {
        ml_text_put(&w, ",\"reason\":");
        ml_text_json_str(&w, reason, ml_str_len(reason));
    }
    ml_text_put(&w, "}");
    return ml_text_end(&w);
}

int mqtt_base_build(const char *site, const char *serial, char *buf, size_t cap)
{
    ML_VERIFY(serial != NULL, ML_EFAULT);
    struct ml_text o;
    ml_text_init(&o, buf, cap);
    put_base(&o, site, serial);
    return ml_text_end(&o);
}

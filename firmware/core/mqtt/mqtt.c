#include "mqtt.h"

#include <stdint.h>

#include "err.h"
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

static void put_field(struct ml_text *o, const struct reading *r, const char *key, unsigned f,
                      bool first)
{
    int64_t v;
    if (!first) {
        ml_text_putc(o, ',');
    }
    ml_text_putc(o, '"');
    ml_text_put(o, key);
    ml_text_put(o, "\":");
    if (reading_get(r, (enum reading_field)f, &v)) {
        ml_text_fixed(o, v, reading_field_info((enum reading_field)f)->exp10);
    } else {
        ml_text_put(o, "null");
    }
}

int mqtt_power_instant_build(const struct reading *r, char *buf, size_t cap)
{
    ML_VERIFY(r != NULL, ML_EFAULT);
    struct ml_text o;
    ml_text_init(&o, buf, cap);
    ml_text_putc(&o, '{');
    for (size_t i = 0; i < ML_ARRAY_SIZE(totals); i++) {
        put_field(&o, r, totals[i].key, totals[i].field, i == 0u);
    }
    for (unsigned ph = 0; ph < 3u; ph++) {
        ml_text_put(&o, ",\"l");
        ml_text_putc(&o, (char)('1' + ph));
        ml_text_put(&o, "\":{");
        for (size_t i = 0; i < ML_ARRAY_SIZE(phase); i++) {
            put_field(&o, r, phase[i].key, phase[i].field + ph, i == 0u);
        }
        ml_text_putc(&o, '}');
    }
    ml_text_putc(&o, '}');
    return ml_text_end(&o);
}

/* ------------------------------------------------------------------------- */
/* Topic                                                                     */
/* ------------------------------------------------------------------------- */

int mqtt_topic_build(const char *site, const char *serial, const char *metric, char *buf,
                     size_t cap)
{
    ML_VERIFY(serial != NULL && metric != NULL, ML_EFAULT);
    struct ml_text o;
    ml_text_init(&o, buf, cap);
    ml_text_put(&o, "devices/");
    ml_text_put(&o, site != NULL && site[0] != '\0' ? site : "default");
    ml_text_put(&o, "/smart-connect/");
    ml_text_put(&o, serial);
    ml_text_put(&o, "/data/");
    ml_text_put(&o, metric);
    return ml_text_end(&o);
}

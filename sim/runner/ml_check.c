/*
 * The runner's expectations as pure functions (ml_check.h). ml_run.c decides
 * each expectation with these; the GUI decodes its register table with the
 * same ml_check_regs_decode().
 */
#define _GNU_SOURCE
#include "ml_check.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mqtt/mqtt.h"
#include "mqtt/mqtt_counters.h"
#include "reading/reading.h"
#include "regmap/regmap.h"

unsigned ml_check_regs_words(uint8_t type)
{
    return type == REGMAP_I64 ? 4u : (type >= REGMAP_I16 && type <= REGMAP_U16 ? 1u : 2u);
}

double ml_check_regs_decode(uint8_t type, uint8_t order, const uint16_t *w)
{
    unsigned n = ml_check_regs_words(type);
    uint64_t bits = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned idx = order == REGMAP_CDAB ? i : n - 1u - i; /* significance of word i */
        bits |= (uint64_t)w[i] << (16u * idx);
    }
    switch (type) {
    case REGMAP_F32: {
        uint32_t b = (uint32_t)bits;
        float f;
        memcpy(&f, &b, sizeof f);
        return f;
    }
    case REGMAP_I32:
        return (int32_t)(uint32_t)bits;
    case REGMAP_U32:
        return (uint32_t)bits;
    case REGMAP_I16:
        return (int16_t)(uint16_t)bits;
    case REGMAP_U16:
        return (uint16_t)bits;
    default:
        return (double)(int64_t)bits;
    }
}

static const cJSON *json_path(const cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    }
    return o;
}

int ml_check_fields_match(const struct ml_scn_field *fs, size_t nf, const char *payload,
                          struct ml_buf *d)
{
    cJSON *j = cJSON_Parse(payload);
    int bad = 0;
    if (j == NULL) {
        bad = 1000;
        ml_buf_printf(d, "not JSON: %.80s", payload);
    }
    for (size_t i = 0; j && i < nf; i++) {
        const struct ml_scn_field *f = &fs[i];
        const cJSON *v = json_path(j, f->path);
        bool ok;
        char seen[96];
        if (v == NULL) {
            snprintf(seen, sizeof seen, "(missing)");
            ok = false;
        } else if (cJSON_IsNumber(v)) {
            snprintf(seen, sizeof seen, "%.10g", v->valuedouble);
            ok = f->kind == ML_FV_NUM && fabs(v->valuedouble - f->num) <= f->tol;
        } else if (cJSON_IsNull(v)) {
            snprintf(seen, sizeof seen, "null");
            ok = f->kind == ML_FV_NULL;
        } else if (cJSON_IsString(v)) {
            snprintf(seen, sizeof seen, "\"%.80s\"", v->valuestring);
            ok = f->kind == ML_FV_STR && !strcmp(v->valuestring, f->str);
        } else if (cJSON_IsBool(v)) {
            snprintf(seen, sizeof seen, cJSON_IsTrue(v) ? "true" : "false");
            ok = f->kind == ML_FV_BOOL && cJSON_IsTrue(v) == f->b;
        } else {
            snprintf(seen, sizeof seen, "(an object or list)");
            ok = false;
        }
        if (!ok) {
            bad++;
            char e[96];
            switch (f->kind) {
            case ML_FV_NUM:
                snprintf(e, sizeof e, "%.10g ± %.3g", f->num, f->tol);
                break;
            case ML_FV_NULL:
                snprintf(e, sizeof e, "null");
                break;
            case ML_FV_BOOL:
                snprintf(e, sizeof e, f->b ? "true" : "false");
                break;
            default:
                snprintf(e, sizeof e, "\"%s\"", f->str);
            }
            ml_buf_printf(d, "%s%s: expected %s, seen %s", d->len ? "; " : "", f->path, e, seen);
        }
    }
    cJSON_Delete(j);
    return bad;
}

bool ml_check_topic_matches(const char *topic, const char *serial, const char *metric)
{
    char want[256];
    /* command results sit beside data/: <base>/cmd/<name>/result */
    snprintf(want, sizeof want, strncmp(metric, "cmd/", 4) == 0 ? "/%s/%s" : "/%s/data/%s", serial,
             metric);
    size_t lt = strlen(topic), lw = strlen(want);
    return lt >= lw && strcmp(topic + lt - lw, want) == 0;
}

void ml_check_range_text(const struct ml_scn_check *ch, char *exp, size_t cap)
{
    if (ch->min == ch->max) {
        snprintf(exp, cap, "%.0f", ch->min);
    } else {
        snprintf(exp, cap, "%.0f .. %.0f", isfinite(ch->min) ? ch->min : 0,
                 isfinite(ch->max) ? ch->max : INFINITY);
    }
}

/* ---- what the device publishes ---- */

/* A payload of @p metric as the firmware builds it (every key is always present). */
static cJSON *metric_payload(const char *metric)
{
    char local[MQTT_POWER_INSTANT_MAX > MQTT_DEVICE_COUNTERS_MAX ? MQTT_POWER_INSTANT_MAX
                                                                 : MQTT_DEVICE_COUNTERS_MAX];
    int n = -1;
    if (strcmp(metric, "power_instant") == 0) {
        struct reading r;
        reading_init(&r);
        n = mqtt_power_instant_build(&r, local, sizeof local);
    } else if (strcmp(metric, "device_counters") == 0) {
        struct mqtt_device_counters c;
        memset(&c, 0, sizeof c);
        n = mqtt_device_counters_build(&c, local, sizeof local);
    } else if (strncmp(metric, "cmd/", 4) == 0) {
        /* cmd/<name>/result for a command the firmware knows, every key present */
        const char *name = metric + 4, *slash = strchr(name, '/');
        if (slash != NULL && strcmp(slash, "/result") == 0 &&
            mqtt_cmd_known(name, (size_t)(slash - name))) {
            n = mqtt_cmd_result_build("id", "state", "version", "reason", local, sizeof local);
        }
    }
    return n < 0 ? NULL : cJSON_ParseWithLength(local, (size_t)n);
}

bool ml_check_mqtt_metric_known(const char *metric)
{
    cJSON *j = metric_payload(metric);
    cJSON_Delete(j);
    return j != NULL;
}

bool ml_check_mqtt_field_known(const char *metric, const char *path)
{
    cJSON *j = metric_payload(metric);
    bool known = j != NULL && json_path(j, path) != NULL;
    cJSON_Delete(j);
    return known;
}

int ml_check_scenario(const struct ml_scenario *s, char *err, size_t cap)
{
    size_t checks = 0;
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct ml_scn_step *st = &s->steps[i];
        checks += st->nchecks;
        for (size_t c = 0; c < st->nchecks; c++) {
            const struct ml_scn_check *ch = &st->checks[c];
            if (ch->kind != ML_CHK_MQTT) {
                continue;
            }
            if (!ml_check_mqtt_metric_known(ch->name)) {
                snprintf(err, cap,
                         "%s:%d:%d: mqtt topic '%s' is not one the device publishes "
                         "(power_instant, device_counters, cmd/reset/result, "
                         "cmd/firmware/result)",
                         ch->loc.file, ch->loc.line, ch->loc.col, ch->name);
                return -1;
            }
            for (size_t f = 0; f < ch->nfields; f++) {
                if (!ml_check_mqtt_field_known(ch->name, ch->fields[f].path)) {
                    snprintf(err, cap, "%s:%d:%d: '%s' is not a field of the %s payload",
                             ch->loc.file, ch->loc.line, ch->loc.col, ch->fields[f].path, ch->name);
                    return -1;
                }
            }
        }
    }
    if (checks == 0) {
        snprintf(err, cap,
                 "%s: no expectations (a scenario that checks nothing cannot fail; add an "
                 "expect: step)",
                 s->path);
        return -1;
    }
    return 0;
}

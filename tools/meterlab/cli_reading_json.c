/* JSON output of a struct reading (host only); see cli_json.h. */
#include <ctype.h>
#include <string.h>

#include "cli_json.h"
#include "mqtt/mqtt.h"

void ml_cli_json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20 || c >= 0x7F) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

static void num(FILE *f, int64_t v, int exp10)
{
    char s[32];
    mqtt_number_format(v, exp10, s, sizeof s);
    fputs(s, f);
}

/* "p" + "W" -> "p_w"; counts and epoch seconds keep their key. */
static void key_with_unit(char *out, size_t cap, const struct reading_field_info *fi)
{
    size_t kl = strlen(fi->key);
    bool epoch = strcmp(fi->key, "ts") == 0 || (kl > 3 && strcmp(fi->key + kl - 3, "_ts") == 0);
    if (fi->unit[0] == '\0' || epoch) {
        snprintf(out, cap, "%s", fi->key);
        return;
    }
    int n = snprintf(out, cap, "%s_%s", fi->key, fi->unit);
    for (int i = (int)kl; i < n && (size_t)i < cap; i++) {
        out[i] = (char)tolower((unsigned char)out[i]);
    }
}

int ml_cli_reading_json(FILE *f, const struct reading *r)
{
    const char *sep = "";
    fputc('{', f);
    if (r->header.len) {
        fputs("\"header\":", f);
        ml_cli_json_str(f, r->header.s, r->header.len);
        sep = ",";
    }
    if (r->equipment.len) {
        fprintf(f, "%s\"equipment\":", sep);
        ml_cli_json_str(f, r->equipment.s, r->equipment.len);
        sep = ",";
    }
    if (r->tariff_name.len) {
        fprintf(f, "%s\"tariff_name\":", sep);
        ml_cli_json_str(f, r->tariff_name.s, r->tariff_name.len);
        sep = ",";
    }
    if (r->phases) {
        fprintf(f, "%s\"phases\":%u", sep, r->phases);
        sep = ",";
    }
    for (int i = 0; i < READING_FIELD_COUNT; i++) {
        int64_t v;
        if (!reading_get(r, (enum reading_field)i, &v)) {
            continue;
        }
        const struct reading_field_info *fi = reading_field_info((enum reading_field)i);
        char key[40];
        key_with_unit(key, sizeof key, fi);
        fprintf(f, "%s\"%s\":", sep, key);
        num(f, v, fi->exp10);
        sep = ",";
    }
    if (r->text_len) {
        fprintf(f, "%s\"text\":", sep);
        ml_cli_json_str(f, r->text, r->text_len);
        if (r->text_truncated) {
            fputs(",\"text_truncated\":true", f);
        }
        sep = ",";
    }
    bool any = false;
    for (int i = 0; i < READING_MBUS_MAX; i++) {
        const struct reading_mbus *m = &r->mbus[i];
        if (!m->present) {
            continue;
        }
        fprintf(f, "%s%s{\"channel\":%d,\"type\":%u", any ? "" : sep, any ? "," : "\"mbus\":[",
                i + 1, m->type);
        any = true;
        if (m->id.len) {
            fputs(",\"id\":", f);
            ml_cli_json_str(f, m->id.s, m->id.len);
        }
        if (m->has_value) {
            fputs(",\"value\":", f);
            num(f, m->value_milli, -3);
            fputs(",\"unit\":", f);
            ml_cli_json_str(f, m->unit, strlen(m->unit));
            fprintf(f, ",\"temp_corrected\":%s", m->temp_corrected ? "true" : "false");
        }
        if (m->ts_utc > 0) {
            fprintf(f, ",\"ts\":%lld", (long long)m->ts_utc);
        }
        if (m->valve >= 0) {
            fprintf(f, ",\"valve\":%d", m->valve);
        }
        if (m->breaker >= 0) {
            fprintf(f, ",\"breaker\":%d", m->breaker);
        }
        fputc('}', f);
    }
    if (any) {
        fputc(']', f);
        sep = ",";
    }
    if (r->pfail_log_count) {
        fprintf(f, "%s\"pfail_log\":[", sep);
        for (int i = 0; i < r->pfail_log_count; i++) {
            const struct reading_pfail_event *e = &r->pfail_log[i];
            fprintf(f, "%s{\"end\":%lld,\"duration_s\":%lld}", i ? "," : "", (long long)e->end_utc,
                    (long long)e->duration_s);
        }
        fputc(']', f);
        sep = ",";
    }
    if (r->demand_hist_count) {
        fprintf(f, "%s\"demand_hist\":[", sep);
        for (int i = 0; i < r->demand_hist_count; i++) {
            const struct reading_demand_month *e = &r->demand_hist[i];
            fprintf(f, "%s{\"month\":%lld,\"peak\":%lld,\"value_w\":", i ? "," : "",
                    (long long)e->month_utc, (long long)e->peak_utc);
            num(f, e->value_mw, -3);
            fputc('}', f);
        }
        fputc(']', f);
        sep = ",";
    }
    if (r->raw_count) {
        fprintf(f, "%s\"raw\":[", sep);
        for (int i = 0; i < r->raw_count; i++) {
            fprintf(f, "%s{\"id\":", i ? "," : "");
            ml_cli_json_str(f, r->raw[i].id, strlen(r->raw[i].id));
            fputs(",\"value\":", f);
            ml_cli_json_str(f, r->raw[i].value, strlen(r->raw[i].value));
            fputc('}', f);
        }
        fputc(']', f);
        if (r->raw_dropped) {
            fprintf(f, ",\"raw_dropped\":%u", r->raw_dropped);
        }
    }
    fputc('}', f);
    return ferror(f) ? -1 : 0;
}

enum ml_cli_proto ml_cli_sniff(const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '/') {
            return ML_CLI_PROTO_DSMR;
        }
        if (buf[i] == 0x02) {
            return ML_CLI_PROTO_TIC;
        }
        /* TIC group: LF, upper-case label, HT (standard) or SP (historic) separator. */
        if (buf[i] == '\n' && i + 2 < n && isupper(buf[i + 1])) {
            size_t k = i + 1;
            while (k < n && (isupper(buf[k]) || isdigit(buf[k]) || buf[k] == '_')) {
                k++;
            }
            if (k < n && k - i > 2 && (buf[k] == '\t' || buf[k] == ' ') &&
                memchr(buf + i, '(', k - i) == NULL) {
                return ML_CLI_PROTO_TIC;
            }
        }
    }
    return ML_CLI_PROTO_UNKNOWN;
}

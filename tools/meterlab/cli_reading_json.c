/* JSON output of a struct reading (host only); see cli_json.h. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "cli_json.h"

/*
 * The reading is written into one buffer and handed to stdio once (one fwrite per
 * reading rather than a printf per field: `meterlab decode` spent 89 k instructions per
 * telegram here, see docs/performance.md). The buffer bound: every part of a reading is
 * bounded (READING_* and ML_READING_* sizes), the worst case is well under 32 KiB.
 */
#define JB_CAP (64u * 1024u)

struct jb {
    char *p;
    char *end;
};

static void jb_c(struct jb *b, char c)
{
    if (b->p < b->end) {
        *b->p++ = c;
    }
}

static void jb_mem(struct jb *b, const char *s, size_t n)
{
    if (n <= (size_t)(b->end - b->p)) {
        memcpy(b->p, s, n);
        b->p += n;
    }
}

#define JB_LIT(b, lit) jb_mem((b), (lit), sizeof(lit) - 1u)

/* n <= 32 bytes from @p s, which has 32 readable bytes: one fixed-size copy when the
 * buffer has room for 32 (bytes after the n are overwritten next). */
static void jb_blk(struct jb *b, const char *s, size_t n)
{
    if (b->end - b->p >= 32) {
        memcpy(b->p, s, 32);
        b->p += n;
    } else {
        jb_mem(b, s, n);
    }
}

static void jb_str(struct jb *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if ((size_t)(b->end - b->p) < 6u * n + 2u) {
        return;
    }
    char *o = b->p;
    *o++ = '"';
    size_t i = 0;
    /* Eight bytes at a time while none needs escaping (printable ASCII but '"' and '\\'). */
    const uint64_t L = 0x0101010101010101u, H = 0x8080808080808080u;
    for (; i + 8u <= n; i += 8u) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t low = ~(((w & ~H) + 0x60u * L) | w) & H;   /* < 0x20 */
        uint64_t high = (((w & ~H) + 0x01u * L) | w) & H;   /* >= 0x7F */
        uint64_t q = w ^ (0x22u * L), bs = w ^ (0x5Cu * L); /* '"', '\\' -> 0 */
        uint64_t zq = ~(((q & ~H) + 0x7Fu * L) | q) & H;
        uint64_t zb = ~(((bs & ~H) + 0x7Fu * L) | bs) & H;
        if ((low | high | zq | zb) != 0u) {
            break;
        }
        memcpy(o, &w, 8);
        o += 8;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c >= 0x7F) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15u];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->p = o;
}

/* Two decimal digits of 0..99. */
static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* Decimal of an unsigned value, most significant digit first. */
static void jb_u(struct jb *b, uint64_t v)
{
    char tmp[24 + 32];
    char *e = tmp + 24, *o = e;
    while (v >= 100u) {
        unsigned d = (unsigned)(v % 100u);
        v /= 100u;
        o -= 2;
        memcpy(o, digits2 + 2u * d, 2);
    }
    if (v >= 10u) {
        o -= 2;
        memcpy(o, digits2 + 2u * (unsigned)v, 2);
    } else {
        *--o = (char)('0' + v);
    }
    jb_blk(b, o, (size_t)(e - o)); /* o + 32 <= tmp + 24 + 32 */
}

static void jb_i(struct jb *b, int64_t v)
{
    if (v < 0) {
        jb_c(b, '-');
    }
    jb_u(b, v < 0 ? 0u - (uint64_t)v : (uint64_t)v);
}

/* v * 10^exp10 as a plain decimal without trailing zeros (as mqtt_number_format). */
static void jb_num(struct jb *b, int64_t v, int exp10)
{
    if (exp10 >= 0) {
        jb_i(b, v);
        return;
    }
    uint64_t m = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    if (v < 0) {
        jb_c(b, '-');
    }
    if (exp10 == -3) { /* almost every field: milli-units */
        unsigned fp = (unsigned)(m % 1000u);
        jb_u(b, m / 1000u);
        if (fp != 0u) {
            char t[4] = {'.', (char)('0' + fp / 100u), digits2[2u * (fp % 100u)],
                         digits2[2u * (fp % 100u) + 1u]};
            jb_mem(b, t, fp % 100u == 0u ? 2u : (fp % 10u == 0u ? 3u : 4u));
        }
        return;
    }
    uint64_t div = 1;
    for (int e = exp10; e < 0; e++) {
        div *= 10u;
    }
    jb_u(b, m / div);
    uint64_t fp = m % div;
    if (fp != 0u) {
        char tmp[24];
        int k = 0;
        tmp[k++] = '.';
        for (div /= 10u; fp != 0u; div /= 10u) {
            tmp[k++] = (char)('0' + fp / div);
            fp %= div;
        }
        jb_mem(b, tmp, (size_t)k);
    }
}

void ml_cli_json_str(FILE *f, const char *s, size_t n)
{
    static char buf[6 * 4096 + 2];
    struct jb b = {buf, buf + sizeof buf};
    if (n > 4096u) { /* longer than any meter text: byte by byte */
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
        return;
    }
    jb_str(&b, s, n);
    fwrite(buf, 1, (size_t)(b.p - buf), f);
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

/* ,"<key_unit>": of every field, made once. */
static struct {
    uint8_t len;
    int8_t exp10;
    char s[46]; /* 32 readable bytes for jb_blk (keys are shorter than 32) */
} keys[READING_FIELD_COUNT];

static void keys_init(void)
{
    if (keys[0].len != 0u) {
        return;
    }
    for (int i = 0; i < READING_FIELD_COUNT; i++) {
        const struct reading_field_info *fi = reading_field_info((enum reading_field)i);
        char k[40];
        key_with_unit(k, sizeof k, fi);
        int n = snprintf(keys[i].s, 32, ",\"%s\":", k);
        keys[i].len = (uint8_t)n;
        keys[i].exp10 = fi->exp10;
    }
}

int ml_cli_reading_json(FILE *f, const struct reading *r)
{
    static char buf[JB_CAP];
    struct jb jb = {buf, buf + sizeof buf}, *b = &jb;
    keys_init();
    /* Every member is written with a leading ','; the first one's is replaced by '{'. */
    if (r->header.len) {
        JB_LIT(b, ",\"header\":");
        jb_str(b, r->header.s, r->header.len);
    }
    if (r->equipment.len) {
        JB_LIT(b, ",\"equipment\":");
        jb_str(b, r->equipment.s, r->equipment.len);
    }
    if (r->tariff_name.len) {
        JB_LIT(b, ",\"tariff_name\":");
        jb_str(b, r->tariff_name.s, r->tariff_name.len);
    }
    if (r->phases) {
        JB_LIT(b, ",\"phases\":");
        jb_u(b, r->phases);
    }
    for (unsigned w = 0; w < sizeof r->present / sizeof r->present[0]; w++) {
        for (uint64_t bits = r->present[w]; bits != 0u; bits &= bits - 1u) {
            unsigned i = w * 64u + (unsigned)__builtin_ctzll(bits);
            if (i >= (unsigned)READING_FIELD_COUNT) {
                break;
            }
            jb_blk(b, keys[i].s, keys[i].len);
            jb_num(b, r->value[i], keys[i].exp10);
        }
    }
    if (r->text_len) {
        JB_LIT(b, ",\"text\":");
        jb_str(b, r->text, r->text_len);
        if (r->text_truncated) {
            JB_LIT(b, ",\"text_truncated\":true");
        }
    }
    bool any = false;
    for (int i = 0; i < READING_MBUS_MAX; i++) {
        const struct reading_mbus *m = &r->mbus[i];
        if (!m->present) {
            continue;
        }
        if (any) {
            JB_LIT(b, ",{\"channel\":");
        } else {
            JB_LIT(b, ",\"mbus\":[{\"channel\":");
        }
        any = true;
        jb_u(b, (unsigned)i + 1u);
        JB_LIT(b, ",\"type\":");
        jb_u(b, m->type);
        if (m->id.len) {
            JB_LIT(b, ",\"id\":");
            jb_str(b, m->id.s, m->id.len);
        }
        if (m->has_value) {
            JB_LIT(b, ",\"value\":");
            jb_num(b, m->value_milli, -3);
            JB_LIT(b, ",\"unit\":");
            jb_str(b, m->unit, strlen(m->unit));
            if (m->temp_corrected) {
                JB_LIT(b, ",\"temp_corrected\":true");
            } else {
                JB_LIT(b, ",\"temp_corrected\":false");
            }
        }
        if (m->ts_utc > 0) {
            JB_LIT(b, ",\"ts\":");
            jb_i(b, m->ts_utc);
        }
        if (m->valve >= 0) {
            JB_LIT(b, ",\"valve\":");
            jb_i(b, m->valve);
        }
        if (m->breaker >= 0) {
            JB_LIT(b, ",\"breaker\":");
            jb_i(b, m->breaker);
        }
        jb_c(b, '}');
    }
    if (any) {
        jb_c(b, ']');
    }
    if (r->pfail_log_count) {
        JB_LIT(b, ",\"pfail_log\":[");
        for (int i = 0; i < r->pfail_log_count; i++) {
            const struct reading_pfail_event *e = &r->pfail_log[i];
            if (i) {
                jb_c(b, ',');
            }
            JB_LIT(b, "{\"end\":");
            jb_i(b, e->end_utc);
            JB_LIT(b, ",\"duration_s\":");
            jb_i(b, e->duration_s);
            jb_c(b, '}');
        }
        jb_c(b, ']');
    }
    if (r->demand_hist_count) {
        JB_LIT(b, ",\"demand_hist\":[");
        for (int i = 0; i < r->demand_hist_count; i++) {
            const struct reading_demand_month *e = &r->demand_hist[i];
            if (i) {
                jb_c(b, ',');
            }
            JB_LIT(b, "{\"month\":");
            jb_i(b, e->month_utc);
            JB_LIT(b, ",\"peak\":");
            jb_i(b, e->peak_utc);
            JB_LIT(b, ",\"value_w\":");
            jb_num(b, e->value_mw, -3);
            jb_c(b, '}');
        }
        jb_c(b, ']');
    }
    if (r->raw_count) {
        JB_LIT(b, ",\"raw\":[");
        for (int i = 0; i < r->raw_count; i++) {
            if (i) {
                jb_c(b, ',');
            }
            JB_LIT(b, "{\"id\":");
            jb_str(b, r->raw[i].id, strlen(r->raw[i].id));
            JB_LIT(b, ",\"value\":");
            jb_str(b, r->raw[i].value, strlen(r->raw[i].value));
            jb_c(b, '}');
        }
        jb_c(b, ']');
        if (r->raw_dropped) {
            JB_LIT(b, ",\"raw_dropped\":");
            jb_u(b, r->raw_dropped);
        }
    }
    if (b->p == buf) {
        jb_c(b, '{');
    } else {
        buf[0] = '{';
    }
    jb_c(b, '}');
    fwrite(buf, 1, (size_t)(b->p - buf), f);
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

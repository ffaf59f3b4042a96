/* Captures: telegrams kept through the meter input, with their times and line ends. */
#define _GNU_SOURCE
#include "ml_capture.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ml_capture_priv.h"

static const char *const verdict_names[ML_CAP_VERDICTS] = {"ok", "crc_fail", "frame_fail",
                                                           "historic"};

const char *ml_cap_verdict_name(int v)
{
    return v >= 0 && v < ML_CAP_VERDICTS ? verdict_names[v] : "?";
}

/* ------------------------------------------------------------------------- */
/* Expected values: the device's template registers for a decoded reading     */
/* ------------------------------------------------------------------------- */

static const char *field_key(int f)
{
    return reading_field_info((enum reading_field)f)->key;
}

/* Range of raw values a register of type @p type holds (double, for checks). */
static bool fits(uint8_t type, double raw)
{
    switch (type) {
    case REGMAP_F32:
        return fabs(raw) < 3e38;
    case REGMAP_I16:
        return raw >= -32768 && raw <= 32767;
    case REGMAP_U16:
        return raw >= 0 && raw <= 65535;
    case REGMAP_I32:
        return raw >= -2147483648.0 && raw <= 2147483647.0;
    case REGMAP_U32:
        return raw >= 0 && raw <= 4294967295.0;
    default:
        return fabs(raw) < 9e15;
    }
}

/*
 * The Modbus checks of one reading, written the way the scenario parser resolves
 * them: by the reading key, which must name this entry first in the FC03 space.
 */
static char *expect_of(const struct reading *r, const struct regmap_template *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        return NULL;
    }
    bool done[READING_FIELD_COUNT] = {false};
    int n = 0;
    const struct regmap_space *sp = &t->holding;
    for (uint16_t i = 0; i < sp->count; i++) {
        const struct regmap_entry *e = &sp->entries[i];
        if (e->field < 0 || e->field >= READING_FIELD_COUNT || done[e->field] ||
            !reading_has(r, (enum reading_field)e->field)) {
            continue;
        }
        done[e->field] = true;
        const char *key = field_key(e->field);
        const struct regmap_entry *first = NULL;
        for (uint16_t j = 0; j < sp->count && first == NULL; j++) {
            const struct regmap_entry *x = &sp->entries[j];
            if ((x->name && !strcmp(x->name, key)) ||
                (x->field >= 0 && !strcmp(field_key(x->field), key))) {
                first = x;
            }
        }
        if (first != e) {
            continue;
        }
        double v = reading_get_si(r, (enum reading_field)e->field);
        double raw = v / pow(10.0, e->exp10);
        if (!isfinite(v) || !fits(e->type, raw)) {
            continue;
        }
        fprintf(f, "%s%s: %.10g", n++ ? ", " : "{", key, v);
    }
    fputs(n ? "}" : "", f);
    fclose(f);
    if (n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ------------------------------------------------------------------------- */
/* Set-up                                                                    */
/* ------------------------------------------------------------------------- */

int ml_capture_open(struct ml_capture *c, const char *out_yaml, bool expect_values, char *err,
                    size_t errcap)
{
    memset(c, 0, sizeof *c);
    c->meter_proto = -1;
    size_t ol = strlen(out_yaml);
    if (ol < 6 || ol >= sizeof c->out_yaml ||
        (strcmp(out_yaml + ol - 5, ".yaml") && strcmp(out_yaml + ol - 4, ".yml"))) {
        snprintf(err, errcap, "-o must name a .yaml file, not '%s'", out_yaml);
        return -1;
    }
    snprintf(c->out_yaml, sizeof c->out_yaml, "%s", out_yaml);
    /* the telegram directory: CAPTURE.yaml -> CAPTURE/ */
    snprintf(c->dir, sizeof c->dir, "%.*s", (int)(ol - (out_yaml[ol - 4] == '.' ? 4 : 5)),
             out_yaml);
    const char *slash = strrchr(c->dir, '/');
    snprintf(c->dir_rel, sizeof c->dir_rel, "%s", slash ? slash + 1 : c->dir);
    if (mkdir(c->dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create %s/: %s", c->dir, strerror(errno));
        return -1;
    }
    c->expect_values = expect_values;
    c->tpl = regmap_template_find("PhoenixContact-EMPro", 20);
    meter_in_init_p1(&c->in_p1, &c->dp, &c->rp);
    meter_in_init_tic(&c->in_tic, &c->tp, &c->rt);
    return 0;
}

void ml_capture_free(struct ml_capture *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->tel[i].expect);
    }
    free(c->tel);
    free(c->pend);
    c->tel = NULL;
    c->pend = NULL;
    c->n = c->cap = c->pend_len = c->pend_cap = 0;
}

bool ml_capture_is_full(const struct ml_capture *c)
{
    return c->err != 0 || (c->max > 0 && c->n >= c->max);
}

bool ml_capture_wants_line_end(const struct ml_capture *c)
{
    return c->err == 0 && c->pend_tail;
}

/* ------------------------------------------------------------------------- */
/* Keeping telegrams                                                         */
/* ------------------------------------------------------------------------- */

static const char *ext(const struct ml_capture *c)
{
    return c->family == ML_CAP_TIC ? "bin" : "txt";
}

/* Write the pending telegram (the last one kept) to its file. */
static int flush_pending(struct ml_capture *c)
{
    if (c->n == 0 || c->pend == NULL || c->err) {
        return c->err ? -1 : 0;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%06zu.%s", c->dir, c->n, ext(c));
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(c->pend, 1, c->pend_len, f) != c->pend_len || fclose(f) != 0) {
        c->err = -(errno ? errno : EIO);
        return -1;
    }
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_cap = 0;
    c->pend_tail = false;
    return 0;
}

static int pend_add(struct ml_capture *c, const uint8_t *p, size_t n)
{
    if (c->pend_len + n > c->pend_cap) {
        size_t cap = c->pend_len + n + 64;
        uint8_t *np = realloc(c->pend, cap);
        if (np == NULL) {
            c->err = -ENOMEM;
            return -1;
        }
        c->pend = np;
        c->pend_cap = cap;
    }
    memcpy(c->pend + c->pend_len, p, n);
    c->pend_len += n;
    c->tel[c->n - 1].len = c->pend_len;
    return 0;
}

/* Arrival of the last byte before the newest '/' or STX in the ring: the end of a
 * telegram that this new start cut off (the parser tells the cut up to 4 bytes later). */
static double cut_off_time(const struct ml_capture *c)
{
    uint8_t start = c->is_tic ? 0x02 : '/';
    unsigned n = c->rpos < 8 ? c->rpos : 8;
    for (unsigned k = 0; k + 1 < n; k++) {
        unsigned i = (c->rpos - 1 - k) & 7;
        if (c->ring[i].b == start) {
            return c->ring[(c->rpos - 2 - k) & 7].t;
        }
    }
    return c->t_now;
}

static void on_telegram(void *ctx, const struct meter_in_telegram *t)
{
    struct ml_capture *c = ctx;
    if (ml_capture_is_full(c) ||
        (c->family != ML_CAP_ANY && (c->family == ML_CAP_TIC) != c->is_tic)) {
        return;
    }
    int verdict = t->verdict == METER_IN_OK         ? ML_CAP_OK
                  : t->verdict == METER_IN_CRC_FAIL ? ML_CAP_CRC
                  : t->verdict == METER_IN_HISTORIC ? ML_CAP_HISTORIC
                                                    : ML_CAP_FRAME;
    bool found = false;
    if (c->family == ML_CAP_ANY) {
        if (verdict != ML_CAP_OK && verdict != ML_CAP_HISTORIC) {
            return; /* not yet sure of the protocol: a bad telegram does not count */
        }
        c->family = c->is_tic ? ML_CAP_TIC : ML_CAP_P1;
        found = true;
    }
    if (c->meter_proto < 0 && (verdict == ML_CAP_OK || verdict == ML_CAP_HISTORIC)) {
        c->meter_proto = ml_capture_proto_of(c->is_tic, verdict, &c->dp, t->reading);
    }
    if (flush_pending(c) < 0) {
        return;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        struct ml_cap_tel *nt = realloc(c->tel, cap * sizeof *nt);
        if (nt == NULL) {
            c->err = -ENOMEM;
            return;
        }
        c->tel = nt;
        c->cap = cap;
    }
    double when = t->reason == METER_IN_REASON_CUT_OFF ? cut_off_time(c) : c->t_now;
    if (c->n == 0) {
        c->t_first = when;
        if (!c->imported) {
            c->utc_first = (int64_t)time(NULL);
        }
    }
    struct ml_cap_tel *tl = &c->tel[c->n++];
    memset(tl, 0, sizeof *tl);
    tl->t = when - c->t_first;
    tl->verdict = verdict;
    int64_t ts = 0;
    if (t->reading && reading_get(t->reading, READING_TS_UTC, &ts)) {
        tl->ts = ts;
    }
    if (verdict == ML_CAP_OK && c->expect_values && t->reading && c->tpl) {
        tl->expect = expect_of(t->reading, c->tpl);
    }
    c->count[verdict]++;
    if (pend_add(c, t->raw.ptr, t->raw.len) < 0) {
        return;
    }
    /* P1: the CR LF after '!' or the CRC belong to the telegram (DSMR 2.2/3.0 end on it) */
    c->pend_tail = !c->is_tic && (verdict == ML_CAP_OK || verdict == ML_CAP_CRC);
    c->ended = true;
    if (c->on_tel) {
        struct ml_capture_tel_info info = {c->n, verdict, t->raw.len, tl->t, found};
        c->on_tel(c->ctx, &info);
    }
}

int ml_capture_feed(struct ml_capture *c, const uint8_t *data, size_t len, double t)
{
    size_t before = c->n;
    c->t_now = t;
    for (size_t i = 0; i < len && (!ml_capture_is_full(c) || ml_capture_wants_line_end(c)); i++) {
        uint8_t b = data[i];
        c->ring[c->rpos & 7].b = b;
        c->ring[c->rpos & 7].t = t;
        c->rpos++;
        c->ended = false;
        /* One byte at a time: the telegram that ends is then known to end on this byte
         * (its line end and, when cut off, its last byte's time follow from it). */
        for (int which = 0; which < 2; which++) {
            c->is_tic = which == 1;
            enum ml_cap_family fam = c->is_tic ? ML_CAP_TIC : ML_CAP_P1;
            if ((c->family != ML_CAP_ANY && c->family != fam) ||
                (c->want != ML_CAP_ANY && c->want != fam)) {
                continue;
            }
            meter_in_feed(c->is_tic ? &c->in_tic : &c->in_p1, &b, 1, on_telegram, c);
        }
        if (c->pend_tail && (b == '\r' || b == '\n')) {
            if (pend_add(c, &b, 1) < 0) {
                break;
            }
            c->pend_tail = b == '\r';
        } else if (!c->ended) {
            c->pend_tail = false;
        }
    }
    return c->err ? -1 : (int)(c->n - before);
}

/* ------------------------------------------------------------------------- */
/* The scenario                                                              */
/* ------------------------------------------------------------------------- */

/* @p s as a YAML double-quoted scalar. */
static void yaml_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
        }
        fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
    }
    fputc('"', f);
}

static void write_header(const struct ml_capture *c, FILE *f)
{
    char when[64] = "at an unknown time";
    struct tm tm;
    time_t u = (time_t)c->utc_first;
    if (c->n > 0 && c->utc_first > 0 && gmtime_r(&u, &tm)) {
        strftime(when, sizeof when,
                 c->imported ? "%Y-%m-%dT%H:%M:%SZ (meter clock)" : "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    const char *proto = c->meter_proto >= 0       ? ml_meter_proto_name(c->meter_proto)
                        : c->family == ML_CAP_TIC ? "TIC"
                                                  : "P1";
    if (c->imported) {
        fprintf(f,
                "# Imported by `meterlab record --from` from %s: %s at %u %u%c%u, first "
                "telegram %s%s.\n"
                "# A raw dump has no timing: instants from the meter clocks (differences of 1 s to "
                "1 h),\n"
                "# telegrams without one evenly between, else the protocol's period (%.1f s).\n",
                c->source, proto, (unsigned)c->line.baud, c->line.data_bits, c->line.parity,
                c->line.stop_bits, when, c->parity_stripped ? ", parity bit (bit 7) cleared" : "",
                ml_capture_period(c->meter_proto));
    } else {
        fprintf(f,
                "# Recorded by `meterlab record` from %s at %u %u%c%u (%s), first telegram %s.\n",
                c->source, (unsigned)c->line.baud, c->line.data_bits, c->line.parity,
                c->line.stop_bits, proto, when);
    }
    fprintf(f, "# %zu telegrams: %u ok, %u crc_fail, %u frame_fail, %u historic.\n", c->n,
            c->count[ML_CAP_OK], c->count[ML_CAP_CRC], c->count[ML_CAP_FRAME],
            c->count[ML_CAP_HISTORIC]);
}

static void write_end_checks(const struct ml_capture *c, FILE *f, double end)
{
    fprintf(f, "  - at: %.3f\n    expect:\n", end);
    fprintf(f, "      counters: {telegrams_pass: %u, telegrams_fail: %u", c->count[ML_CAP_OK],
            c->count[ML_CAP_CRC]);
    if (c->count[ML_CAP_FRAME] == 0) {
        /* a recorded broken telegram may or may not break at the same byte on replay */
        fprintf(f, ", telegrams_frame_fail: %u", c->count[ML_CAP_HISTORIC]);
    }
    fprintf(f, "}\n");
    if (c->family != ML_CAP_TIC) {
        fprintf(f, "      p1_out: equals_input\n");
    } else {
        /* the last verdict decides whether the device reports historic mode */
        int lv = c->tel[c->n - 1].verdict;
        if (lv == ML_CAP_OK || lv == ML_CAP_HISTORIC) {
            fprintf(f, "      status: {tic_historic: %s}\n",
                    lv == ML_CAP_HISTORIC ? "true" : "false");
        }
    }
}

static int write_yaml(const struct ml_capture *c, FILE *f)
{
    const char *base = strrchr(c->out_yaml, '/');
    base = base ? base + 1 : c->out_yaml;
    char name[1024];
    snprintf(name, sizeof name, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))) {
        *dot = 0;
    }
    bool tic = c->family == ML_CAP_TIC;
    double last = c->n ? c->tel[c->n - 1].t : 0;
    write_header(c, f);
    fputs("name: ", f);
    yaml_str(f, name);
    fputc('\n', f);
    fprintf(f, "description: >\n  %s of %zu %s over %.1f s, replayed at the %s instants%s.\n",
            c->imported ? "Import" : "Capture", c->n, tic ? "TIC frames" : "P1 telegrams", last,
            c->imported ? "derived" : "recorded",
            c->expect_values ? " with the values decoded at capture time as expectations" : "");
    fprintf(f, "product: %s\n", tic ? "tic" : "p1");
    if (c->n > 0 && c->utc_first > 0) {
        fprintf(f, "device: {utc_start: %lld}\n", (long long)c->utc_first - 1);
    }
    if (c->meter_proto >= 0) {
        /* only the protocol: its line settings for `play`, no generated telegrams */
        fprintf(f, "meter: {protocol: %s}\n", ml_meter_proto_name(c->meter_proto));
    }
    double end = 1.0 + last + 1.0;
    fprintf(f, "duration: %.3f\n", end);
    fprintf(f, "steps:%s\n", c->n == 0 ? " []" : "");
    for (size_t i = 0; i < c->n; i++) {
        const struct ml_cap_tel *t = &c->tel[i];
        char file[1100];
        snprintf(file, sizeof file, "%s/%06zu.%s", c->dir_rel, i + 1, ext(c));
        fprintf(f, "  - {at: %.3f, telegram: {file: ", 1.0 + t->t);
        yaml_str(f, file);
        fprintf(f, "}}  # %s, %zu bytes\n", verdict_names[t->verdict], t->len);
        if (t->expect) {
            /* checked halfway to the next telegram (at most 0.5 s later) */
            double gap = i + 1 < c->n ? c->tel[i + 1].t - t->t : 1.0;
            double d = fmin(0.5, gap / 2);
            if (round((1.0 + t->t + d) * 1000) > round((1.0 + t->t) * 1000)) {
                fprintf(f, "  - at: %.3f\n    expect:\n      modbus: %s\n", 1.0 + t->t + d,
                        t->expect);
            }
        }
    }
    if (c->expect_values && c->n > 0) {
        write_end_checks(c, f, end);
    }
    return ferror(f) ? -1 : 0;
}

int ml_capture_finish(struct ml_capture *c, char *err, size_t errcap)
{
    if (flush_pending(c) < 0 || c->err) {
        snprintf(err, errcap, "cannot write the telegrams in %s/: %s", c->dir, strerror(-c->err));
        return -1;
    }
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", c->out_yaml);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        snprintf(err, errcap, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    int w = write_yaml(c, f);
    if (fclose(f) != 0 || w < 0 || rename(tmp, c->out_yaml) != 0) {
        snprintf(err, errcap, "cannot write %s: %s", c->out_yaml, strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

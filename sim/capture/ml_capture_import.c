/* Captures from raw dumps: what meter sent the bytes, and times for a dump that has none. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_capture.h"
#include "ml_capture_priv.h"
#include "ml_scenario.h"

int ml_capture_proto_of(bool is_tic, int verdict, const struct dsmr_parser *dp,
                        const struct reading *r)
{
    if (is_tic) {
        return verdict == ML_CAP_HISTORIC ? ML_METER_TIC_HISTORIC : ML_METER_TIC;
    }
    if (!dsmr_parser_had_crc(dp)) {
        return ML_METER_DSMR30; /* 2.2 and 3.0 look alike and share 9600 7E1 */
    }
    if (r && r->emucs) {
        return ML_METER_EMUCS171;
    }
    if (r && r->version == 40) {
        return ML_METER_DSMR40;
    }
    if (r && r->version == 42) {
        return ML_METER_DSMR42;
    }
    return ML_METER_DSMR50;
}

double ml_capture_period(int meter_proto)
{
    switch (meter_proto) {
    case ML_METER_DSMR50:
    case ML_METER_EMUCS171:
        return 1.0;
    case ML_METER_TIC:
    case ML_METER_TIC_HISTORIC:
        return 1.5;
    default:
        return 10.0;
    }
}

/* ------------------------------------------------------------------------- */
/* Detection                                                                 */
/* ------------------------------------------------------------------------- */

struct det {
    struct dsmr_parser dp;
    struct tic_parser tp;
    struct reading rp, rt;
    struct meter_in in_p1, in_tic;
    bool is_tic;
    unsigned good[2];
    int first[2]; /**< protocol of each family's first good telegram */
};

static void det_on(void *ctx, const struct meter_in_telegram *t)
{
    struct det *d = ctx;
    if (t->verdict != METER_IN_OK && t->verdict != METER_IN_HISTORIC) {
        return;
    }
    int v = t->verdict == METER_IN_OK ? ML_CAP_OK : ML_CAP_HISTORIC;
    if (d->good[d->is_tic]++ == 0) {
        d->first[d->is_tic] = ml_capture_proto_of(d->is_tic, v, &d->dp, t->reading);
    }
}

static void det_run(struct det *d, const uint8_t *data, size_t len, enum ml_cap_family want)
{
    meter_in_init_p1(&d->in_p1, &d->dp, &d->rp);
    meter_in_init_tic(&d->in_tic, &d->tp, &d->rt);
    d->good[0] = d->good[1] = 0;
    d->first[0] = d->first[1] = -1;
    for (int which = 0; which < 2; which++) {
        d->is_tic = which == 1;
        if (want == (d->is_tic ? ML_CAP_P1 : ML_CAP_TIC)) {
            continue;
        }
        meter_in_feed(d->is_tic ? &d->in_tic : &d->in_p1, data, len, det_on, d);
    }
}

int ml_capture_detect(const uint8_t *data, size_t len, enum ml_cap_family want,
                      struct ml_capture_detect *out)
{
    memset(out, 0, sizeof *out);
    out->meter_proto = -1;
    struct det *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return -1;
    }
    det_run(d, data, len, want);
    if (d->good[0] + d->good[1] == 0 && len > 0) {
        /* 7-bit data (7E1) read at 8 bits: the parity is in bit 7 of every byte */
        uint8_t *s = malloc(len);
        if (s != NULL) {
            for (size_t i = 0; i < len; i++) {
                s[i] = data[i] & 0x7f;
            }
            det_run(d, s, len, want);
            out->parity_stripped = d->good[0] + d->good[1] > 0;
            free(s);
        }
    }
    out->good_p1 = d->good[0];
    out->good_tic = d->good[1];
    if (d->good[0] + d->good[1] > 0) {
        bool tic = d->good[1] > d->good[0];
        out->family = tic ? ML_CAP_TIC : ML_CAP_P1;
        out->meter_proto = d->first[tic];
    }
    free(d);
    return out->meter_proto;
}

int ml_capture_guess_proto(const uint8_t *data, size_t len)
{
    struct ml_capture_detect d;
    return ml_capture_detect(data, len, ML_CAP_ANY, &d);
}

int ml_capture_scenario_proto(const struct ml_scenario *s)
{
    if (s->has_meter) {
        return (int)s->meter.proto;
    }
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct ml_scn_step *st = &s->steps[i];
        int p = st->kind == ML_STEP_TELEGRAM && st->telegram.bytes
                    ? ml_capture_guess_proto(st->telegram.bytes, st->telegram.len)
                    : -1;
        if (p >= 0) {
            return p;
        }
    }
    return s->product == ML_SCN_TIC ? ML_METER_TIC : ML_METER_DSMR50;
}

/* ------------------------------------------------------------------------- */
/* Import                                                                    */
/* ------------------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        uint8_t *nb = realloc(buf, cap *= 2);
        if (nb == NULL) {
            free(buf);
        }
        buf = nb;
    }
    bool bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errcap, "cannot read %s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/*
 * Times of a dump. A telegram with a meter clock is placed by the clock's difference to
 * the last telegram that had one (when 1 s to 1 h and after the telegram before it); one
 * without (a bad telegram has no reading) by the protocol's period, or, between two
 * clock-placed telegrams, evenly between them.
 */
static void derive_times(struct ml_capture *c)
{
    double period = ml_capture_period(c->meter_proto);
    double anchor_t = 0;
    int64_t anchor_ts = 0;
    size_t run = 0; /* first telegram of the current run without a clock (0: none) */
    for (size_t i = 0; i < c->n; i++) {
        struct ml_cap_tel *tl = &c->tel[i];
        double t = i == 0 ? 0 : c->tel[i - 1].t + period;
        int64_t d = tl->ts - anchor_ts;
        bool by_clock = i > 0 && tl->ts > 0 && anchor_ts > 0 && d >= 1 && d <= 3600 &&
                        anchor_t + (double)d > c->tel[i - 1].t;
        if (by_clock) {
            t = anchor_t + (double)d;
            /* spread the telegrams without clock since the anchor evenly */
            for (size_t k = run; run > 0 && k < i; k++) {
                c->tel[k].t =
                    anchor_t + (t - anchor_t) * (double)(k - run + 1) / (double)(i - run + 1);
            }
        }
        tl->t = t;
        if (tl->ts > 0) {
            anchor_t = t;
            anchor_ts = tl->ts;
            run = 0;
        } else if (run == 0 && anchor_ts > 0) {
            run = i;
        }
    }
    c->utc_first = 0;
    for (size_t i = 0; i < c->n && c->utc_first == 0; i++) {
        if (c->tel[i].ts > 0) {
            c->utc_first = c->tel[i].ts - (int64_t)c->tel[i].t;
        }
    }
}

int ml_capture_import(struct ml_capture *c, const char *in_path, const char *out_yaml,
                      bool expect_values, enum ml_cap_family want, size_t max, char *err,
                      size_t errcap)
{
    memset(c, 0, sizeof *c);
    size_t len;
    uint8_t *data = read_file(in_path, &len, err, errcap);
    if (data == NULL) {
        return -1;
    }
    struct ml_capture_detect d;
    if (ml_capture_detect(data, len, want, &d) < 0) {
        snprintf(err, errcap, "%s: no good %s in %zu bytes", in_path,
                 want == ML_CAP_P1    ? "P1 telegram"
                 : want == ML_CAP_TIC ? "TIC frame"
                                      : "P1 telegram or TIC frame",
                 len);
        free(data);
        return 1;
    }
    if (d.parity_stripped) {
        for (size_t i = 0; i < len; i++) {
            data[i] &= 0x7f;
        }
    }
    if (ml_capture_open(c, out_yaml, expect_values, err, errcap) < 0) {
        free(data);
        return -1;
    }
    c->imported = true;
    c->parity_stripped = d.parity_stripped;
    snprintf(c->source, sizeof c->source, "%s", in_path);
    c->want = c->family = d.family;
    c->meter_proto = d.meter_proto;
    c->line = ml_meter_proto_line(d.meter_proto);
    c->max = max;
    ml_capture_feed(c, data, len, 0.0);
    free(data);
    derive_times(c);
    return ml_capture_finish(c, err, errcap);
}

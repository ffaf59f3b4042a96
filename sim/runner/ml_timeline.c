/*
 * The timeline of a scenario and its meter side: which bytes the meter sends
 * at which instant, with the faults applied. `meterlab emit` writes these
 * bytes out; `meterlab run` injects them into the device.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_timeline.h"

/* ------------------------------------------------------------------------- */
/* Timeline                                                                  */
/* ------------------------------------------------------------------------- */

static uint64_t us(double s)
{
    return (uint64_t)llround(s * 1e6);
}

static void push(struct ml_timeline *tl, size_t *cap, uint64_t t, enum ml_ev_kind kind,
                 uint32_t step, uint32_t k)
{
    if (tl->n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        tl->ev = realloc(tl->ev, *cap * sizeof *tl->ev);
        if (tl->ev == NULL) {
            abort();
        }
    }
    tl->ev[tl->n] = (struct ml_ev){t, (uint32_t)tl->n, step, k, (uint8_t)kind};
    tl->n++;
}

static int ev_cmp(const void *a, const void *b)
{
    const struct ml_ev *x = a, *y = b;
    if (x->t_us != y->t_us) {
        return x->t_us < y->t_us ? -1 : 1;
    }
    if (x->kind != y->kind) {
        return x->kind < y->kind ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static bool step_has_window_checks(const struct ml_scn_step *st)
{
    for (size_t i = 0; i < st->nchecks; i++) {
        if (st->checks[i].kind == ML_CHK_MQTT || st->checks[i].kind == ML_CHK_LED_PATTERN) {
            return true;
        }
    }
    return false;
}

int ml_timeline_build(const struct ml_scenario *s, struct ml_timeline *tl)
{
    size_t cap = 0;
    tl->ev = NULL;
    tl->n = 0;
    if (s->has_meter && s->interval_s > 0) {
        uint64_t from = us(s->meter_from), to = us(s->meter_to), step = us(s->interval_s);
        uint32_t k = 0;
        for (uint64_t t = from; t <= to; t += step) {
            push(tl, &cap, t, ML_EV_METER_TICK, UINT32_MAX, k++);
        }
    }
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct ml_scn_step *st = &s->steps[i];
        static const enum ml_ev_kind by_kind[] = {ML_EV_TELEGRAM, ML_EV_METER_SET, ML_EV_FAULT,
                                                  ML_EV_ACTION, ML_EV_EXPECT};
        enum ml_ev_kind kind = by_kind[st->kind];
        if (st->window) {
            uint64_t a = us(st->w_from), b = us(st->w_to);
            push(tl, &cap, a, ML_EV_SYNC, (uint32_t)i, 0);
            bool has_state = false;
            for (size_t c = 0; c < st->nchecks; c++) {
                has_state |=
                    st->checks[c].kind != ML_CHK_MQTT && st->checks[c].kind != ML_CHK_LED_PATTERN;
            }
            if (has_state) {
                uint32_t k = 0;
                for (uint64_t t = a; t <= b; t += 100000) { /* poll every 100 ms */
                    push(tl, &cap, t, ML_EV_POLL, (uint32_t)i, k++);
                }
            }
            push(tl, &cap, b, ML_EV_WINDOW_END, (uint32_t)i, 0);
            continue;
        }
        uint64_t from = us(st->at), to = st->periodic ? us(st->to) : from;
        uint64_t every = st->periodic ? us(st->every) : 1;
        uint32_t k = 0;
        for (uint64_t t = from; t <= to; t += every) {
            if (kind == ML_EV_EXPECT && step_has_window_checks(st)) {
                push(tl, &cap, t, ML_EV_SYNC, (uint32_t)i, k);
            }
            push(tl, &cap, t, kind, (uint32_t)i, k);
            if (st->kind == ML_STEP_ACTION && st->action.kind == ML_ACT_BUTTON) {
                push(tl, &cap, t + us(st->action.hold_s), ML_EV_RELEASE, (uint32_t)i, k);
            }
            k++;
        }
    }
    qsort(tl->ev, tl->n, sizeof *tl->ev, ev_cmp);
    return 0;
}

void ml_timeline_free(struct ml_timeline *tl)
{
    free(tl->ev);
    tl->ev = NULL;
    tl->n = 0;
}

/* ------------------------------------------------------------------------- */
/* Meter side                                                                */
/* ------------------------------------------------------------------------- */

void ml_player_init(struct ml_player *p, const struct ml_scenario *s)
{
    memset(p, 0, sizeof *p);
    p->s = s;
    /* the device's UART: P1 115200 8N1, TIC 9600 7E1 (products.md) */
    p->rx_line = ml_meter_proto_line(s->product == ML_SCN_TIC ? ML_METER_TIC : ML_METER_DSMR50);
}

/* The meter's values at @p t for telegram number @p k, with the telegram
 * step @p st's own values (may be NULL); phases balanced to the total. */
static void values_at(struct ml_player *p, double t, size_t k, enum ml_meter_proto proto,
                      const struct ml_scn_step *st, struct ml_meter_values *v)
{
    const struct ml_scenario *s = p->s;
    struct ml_meter_values d;
    ml_meter_values_defaults(&d, proto, s->meter.phases);
    struct ml_meter_values given = {0}; /* has[] = what the scenario gave */
    *v = d;
    ml_scn_values_apply(&s->meter_values, t, s->meter_from, s->meter_to, k, v);
    ml_scn_values_apply(&s->meter_values, t, s->meter_from, s->meter_to, k, &given);
    for (int f = 0; f < READING_FIELD_COUNT; f++) {
        if (p->overlay.has[f]) {
            v->has[f] = p->overlay.v[f] == p->overlay.v[f]; /* NaN marks "absent" */
            v->v[f] = p->overlay.v[f];
            given.has[f] = true;
        }
    }
    if (st && st->telegram.has_values) {
        double from = st->periodic ? st->from : st->at, to = st->periodic ? st->to : st->at;
        ml_scn_values_apply(&st->telegram.values, t, from, to, k, v);
        ml_scn_values_apply(&st->telegram.values, t, from, to, k, &given);
    }
    ml_meter_values_balance(v, &d, given.has);
}

/* One telegram as the meter sends it now: rendered (or the file), faults applied. */
static int one_telegram(struct ml_player *p, const struct ml_ev *ev, struct ml_buf *out, char *err,
                        size_t errcap)
{
    const struct ml_scenario *s = p->s;
    double t = (double)ev->t_us / 1e6;
    const struct ml_scn_step *st = ev->step != UINT32_MAX ? &s->steps[ev->step] : NULL;
    bool historic = ev->t_us < p->historic_until;
    struct ml_meter_cfg cfg = s->meter;
    if (historic) {
        cfg.proto = ML_METER_TIC_HISTORIC;
    }
    struct ml_buf tel = {0};
    int copies = 1;
    for (size_t i = 0; i < p->npending; i++) {
        if (p->pending[i].f->kind == ML_SF_GLUE) {
            copies = 2;
        }
    }
    for (int c = 0; c < copies; c++) {
        if (st && st->telegram.file && !historic) {
            ml_buf_put(&tel, st->telegram.bytes, st->telegram.len);
        } else {
            struct ml_meter_values v;
            values_at(p, t, ev->k, cfg.proto, st, &v);
            ml_meter_render(&cfg, &v, s->utc_start + (int64_t)floor(t), &tel);
        }
        p->telegrams++;
    }
    /* the faults waiting for this telegram, in the order they were given */
    size_t keep = 0;
    int rc = 0;
    for (size_t i = 0; i < p->npending; i++) {
        const struct ml_scn_fault *f = p->pending[i].f;
        if (f->kind != ML_SF_GLUE && rc == 0 &&
            ml_fault_apply(&f->tf, cfg.proto, &tel, err, errcap) < 0) {
            rc = -1;
        }
        if (--p->pending[i].left > 0) {
            p->pending[keep++] = p->pending[i];
        }
    }
    p->npending = keep;
    ml_buf_put(out, tel.p, tel.len);
    ml_buf_free(&tel);
    return rc;
}

int ml_player_bytes(struct ml_player *p, const struct ml_ev *ev, struct ml_buf *out, char *err,
                    size_t errcap)
{
    const struct ml_scenario *s = p->s;
    struct ml_buf raw = {0};
    int rc = 0;
    switch (ev->kind) {
    case ML_EV_METER_SET: {
        const struct ml_scn_step *st = &s->steps[ev->step];
        struct ml_meter_values v;
        memset(&v, 0, sizeof v);
        double t = (double)ev->t_us / 1e6;
        ml_scn_values_apply(&st->meter_values, t, st->periodic ? st->from : st->at,
                            st->periodic ? st->to : st->at, ev->k, &v);
        for (size_t i = 0; i < st->meter_values.n; i++) {
            int f = st->meter_values.v[i].field;
            p->overlay.has[f] = true;
            p->overlay.v[f] = v.has[f] ? v.v[f] : NAN;
        }
        return 0;
    }
    case ML_EV_FAULT: {
        const struct ml_scn_fault *f = &s->steps[ev->step].fault;
        uint64_t end = ev->t_us + (uint64_t)llround(f->duration_s * 1e6);
        if (ml_scn_fault_is_telegram(f->kind)) {
            if (p->npending == sizeof p->pending / sizeof p->pending[0]) {
                snprintf(err, errcap, "more than 32 telegram faults waiting for a telegram");
                return -1;
            }
            p->pending[p->npending].f = f;
            p->pending[p->npending].left = f->telegrams;
            p->npending++;
            return 0;
        }
        switch (f->kind) {
        case ML_SF_SILENCE:
            p->silence_until = end;
            return 0;
        case ML_SF_TIC_HISTORIC:
            p->historic_until = end;
            return 0;
        case ML_SF_LINE:
            p->line_until = end;
            p->line = f->line;
            return 0;
        case ML_SF_NOISE:
            if (ev->t_us < p->silence_until) {
                return 0;
            }
            ml_meter_noise(s->meter.proto, (size_t)f->nbytes, f->seed + ev->k, f->raw, &raw);
            break;
        default:
            return 0; /* network and power faults are the runner's */
        }
        break;
    }
    case ML_EV_TELEGRAM:
    case ML_EV_METER_TICK:
        if (ev->t_us < p->silence_until) {
            return 0; /* unplugged */
        }
        rc = one_telegram(p, ev, &raw, err, errcap);
        break;
    default:
        return 0;
    }
    /* wrong line settings: what the device's UART makes of it */
    bool line = ev->t_us < p->line_until;
    if (line || s->has_line) {
        struct ml_line tx = line ? p->line : s->line;
        ml_line_mangle(raw.p, raw.len, &tx, &p->rx_line, out);
    } else {
        ml_buf_put(out, raw.p, raw.len);
    }
    p->bytes += raw.len;
    ml_buf_free(&raw);
    return rc;
}

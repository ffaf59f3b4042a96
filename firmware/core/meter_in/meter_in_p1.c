/* core/meter_in, P1 half: DSMR verdicts and frame-fail reasons (a separate object so that
 * an image without TIC links no TIC code, and the other way round). */
#include "meter_in.h"

#include "err.h"
#include "meter_in_priv.h"

static int p1_feed(struct meter_in *mi, const uint8_t *data, size_t len, size_t *used,
                   struct meter_in_telegram *t)
{
    struct dsmr_parser *p = mi->parser;
    int v = dsmr_parser_feed(p, data, len, used);
    if (v <= 0) {
        return v;
    }
    /* the parser tells the kind of frame failure only through its counters */
    const struct dsmr_stats *s = dsmr_parser_stats(p);
    t->verdict = (enum meter_in_verdict)v;
    t->raw = dsmr_parser_telegram(p);
    t->reading = v == DSMR_VERDICT_OK ? mi->out : NULL;
    if (v == DSMR_VERDICT_FRAME_FAIL) {
        t->reason = s->frame_oversize != mi->p1_oversize   ? METER_IN_REASON_OVERSIZE
                    : s->frame_truncated != mi->p1_cut_off ? METER_IN_REASON_CUT_OFF
                                                           : METER_IN_REASON_STRUCTURE;
    }
    mi->p1_oversize = s->frame_oversize;
    mi->p1_cut_off = s->frame_truncated;
    return v;
}

static bool p1_is_idle(const void *parser)
{
    return dsmr_parser_is_idle(parser);
}

static const struct meter_in_ops p1_ops = {p1_feed, p1_is_idle};

int meter_in_init_p1(struct meter_in *mi, struct dsmr_parser *p, struct reading *out)
{
    ML_VERIFY(mi != NULL && p != NULL, ML_EFAULT);
    int err = dsmr_parser_init(p, out);
    if (err < 0) {
        return err;
    }
    *mi = (struct meter_in){.ops = &p1_ops, .parser = p, .out = out, .proto = METER_IN_P1};
    return ML_OK;
}

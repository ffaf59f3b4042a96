/* core/meter_in, TIC half: Linky TIC verdicts and frame-fail reasons (a separate object so
 * that an image without TIC links no TIC code, and the other way round). */
#include "meter_in.h"

#include "err.h"
#include "meter_in_priv.h"

static int tic_feed(struct meter_in *mi, const uint8_t *data, size_t len, size_t *used,
                    struct meter_in_telegram *t)
{
    struct tic_parser *p = mi->parser;
    int v = tic_parser_feed(p, data, len, used);
    if (v <= 0) {
        return v;
    }
    const struct tic_frame_result *fr = tic_parser_result(p);
    t->verdict = (enum meter_in_verdict)v;
    t->raw = tic_parser_frame(p);
    /* a CRC_FAIL frame's reading holds its good groups (tic.h) */
    t->reading = v == TIC_VERDICT_OK || v == TIC_VERDICT_CRC_FAIL ? mi->out : NULL;
    if (v == TIC_VERDICT_FRAME_FAIL) {
        t->reason = fr->reason == TIC_FAIL_EOT        ? METER_IN_REASON_EOT
                    : fr->reason == TIC_FAIL_RESTART  ? METER_IN_REASON_CUT_OFF
                    : fr->reason == TIC_FAIL_OVERSIZE ? METER_IN_REASON_OVERSIZE
                                                      : METER_IN_REASON_EMPTY;
    }
    return v;
}

static bool tic_is_idle(const void *parser)
{
    return tic_parser_is_idle(parser);
}

static const struct meter_in_ops tic_ops = {tic_feed, tic_is_idle};

int meter_in_init_tic(struct meter_in *mi, struct tic_parser *p, struct reading *out)
{
    ML_VERIFY(mi != NULL && p != NULL, ML_EFAULT);
    int err = tic_parser_init(p, out);
    if (err < 0) {
        return err;
    }
    *mi = (struct meter_in){.ops = &tic_ops, .parser = p, .out = out, .proto = METER_IN_TIC};
    return ML_OK;
}

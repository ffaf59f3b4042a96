/* core/meter_in: the one feed loop; the protocol halves are meter_in_p1.c and meter_in_tic.c. */
#include "meter_in.h"

#include "err.h"
#include "meter_in_priv.h"

_Static_assert((int)METER_IN_OK == (int)DSMR_VERDICT_OK && (int)METER_IN_OK == (int)TIC_VERDICT_OK,
               "verdict values are shared");
_Static_assert((int)METER_IN_CRC_FAIL == (int)DSMR_VERDICT_CRC_FAIL &&
                   (int)METER_IN_CRC_FAIL == (int)TIC_VERDICT_CRC_FAIL,
               "verdict values are shared");
_Static_assert((int)METER_IN_FRAME_FAIL == (int)DSMR_VERDICT_FRAME_FAIL &&
                   (int)METER_IN_FRAME_FAIL == (int)TIC_VERDICT_FRAME_FAIL,
               "verdict values are shared");
_Static_assert((int)METER_IN_HISTORIC == (int)TIC_VERDICT_HISTORIC, "verdict values are shared");

/* ------------------------------------------------------------------------- */
/* Feed                                                                      */
/* ------------------------------------------------------------------------- */

static void count(struct meter_in_counters *c, int verdict)
{
    if (verdict == METER_IN_OK) {
        c->telegrams_pass++;
    } else if (verdict == METER_IN_CRC_FAIL) {
        c->telegrams_fail++;
    } else {
        c->telegrams_frame_fail++; /* FRAME_FAIL, and HISTORIC: no usable data */
    }
}

int meter_in_feed(struct meter_in *mi, const uint8_t *data, size_t len, meter_in_telegram_fn fn,
                  void *ctx)
{
    ML_VERIFY(mi != NULL && mi->ops != NULL && mi->parser != NULL, ML_EFAULT);
    ML_VERIFY(data != NULL || len == 0u, ML_EFAULT);
    ML_ASSERT(mi->busy == 0u); /* the callback fed the meter_in it was called from */
    mi->busy = 1u;
    int ended = 0;
    bool stalled = false;
    size_t off = 0;
    while (off < len) {
        size_t used = 0;
        struct meter_in_telegram t = {0};
        int v = mi->ops->feed(mi, data + off, len - off, &used, &t);
        /* The parsers' contract: arguments are valid here, no verdict means all used,
         * and a verdict with nothing used (the '/' or STX that cut a telegram off)
         * leaves the parser idle, so the next call consumes that byte. */
        ML_ASSERT(v >= 0 && used <= len - off);
        ML_ASSERT(v > 0 || used == len - off);
        ML_ASSERT(used > 0u || !stalled);
        stalled = used == 0u;
        off += used;
        if (v > 0) {
            count(&mi->counters, v);
            ended++;
            if (fn != NULL) {
                fn(ctx, &t);
            }
        }
    }
    mi->busy = 0u;
    return ended;
}

/* ------------------------------------------------------------------------- */
/* Accessors                                                                 */
/* ------------------------------------------------------------------------- */

bool meter_in_is_idle(const struct meter_in *mi)
{
    ML_ASSERT(mi != NULL && mi->ops != NULL);
    return mi->ops->is_idle(mi->parser);
}

enum meter_in_proto meter_in_protocol(const struct meter_in *mi)
{
    ML_ASSERT(mi != NULL);
    return (enum meter_in_proto)mi->proto;
}

const struct meter_in_counters *meter_in_counters(const struct meter_in *mi)
{
    ML_ASSERT(mi != NULL);
    return &mi->counters;
}

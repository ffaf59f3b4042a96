/*
 * libFuzzer target for core/meter_in. Every input is fed as a P1 stream and as a TIC
 * stream, once whole and once in chunk sizes (1..64 bytes) drawn from a seed taken
 * from the input. Invariants:
 *  - feed never fails and every byte is consumed (no telegram after the whole feed is
 *    lost: the chunked feed gives the same telegrams, in the same order, with the same
 *    verdicts, reasons, raw bytes and reading values, and leaves the parser in the same
 *    state);
 *  - exactly one counter per telegram: the counters as the callback sees them are the
 *    ones before it plus one, in the counter its verdict names;
 *  - the counters add up to the parser's own verdict counters;
 *  - raw bytes start with '/' (P1) or STX (TIC); a reading comes with OK always, and
 *    otherwise only with a TIC CRC_FAIL; a reason only with FRAME_FAIL.
 */
#include <stdint.h>
#include <stdlib.h>

#include "meter_in/meter_in.h"

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static struct dsmr_parser dp;
static struct tic_parser tp;
static struct reading rd;
static struct meter_in in;

struct run {
    uint64_t digest;
    uint32_t telegrams;
    struct meter_in_counters seen; /* the counters at the last callback */
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

static void on_telegram(void *ctx, const struct meter_in_telegram *t)
{
    struct run *r = ctx;
    bool tic = meter_in_protocol(&in) == METER_IN_TIC;
    const struct meter_in_counters *c = meter_in_counters(&in);
    struct meter_in_counters want = r->seen;
    if (t->verdict == METER_IN_OK) {
        want.telegrams_pass++;
    } else if (t->verdict == METER_IN_CRC_FAIL) {
        want.telegrams_fail++;
    } else {
        check(t->verdict == METER_IN_FRAME_FAIL || (tic && t->verdict == METER_IN_HISTORIC));
        want.telegrams_frame_fail++;
    }
    check(c->telegrams_pass == want.telegrams_pass && c->telegrams_fail == want.telegrams_fail &&
          c->telegrams_frame_fail == want.telegrams_frame_fail);
    r->seen = *c;
    check(t->raw.len > 0 && t->raw.ptr[0] == (tic ? TIC_STX : '/'));
    check((t->reason != METER_IN_REASON_NONE) == (t->verdict == METER_IN_FRAME_FAIL));
    bool reading = t->verdict == METER_IN_OK || (tic && t->verdict == METER_IN_CRC_FAIL);
    check((t->reading != NULL) == reading);
    r->telegrams++;
    r->digest = mix(r->digest, &t->verdict, sizeof t->verdict);
    r->digest = mix(r->digest, &t->reason, sizeof t->reason);
    r->digest = mix(r->digest, t->raw.ptr, t->raw.len);
    for (int f = 0; t->reading != NULL && f < READING_FIELD_COUNT; f++) {
        int64_t v = 0;
        bool has = reading_get(t->reading, (enum reading_field)f, &v);
        r->digest = mix(r->digest, &has, sizeof has);
        r->digest = mix(r->digest, &v, sizeof v);
    }
}

static void start(bool tic)
{
    check((tic ? meter_in_init_tic(&in, &tp, &rd) : meter_in_init_p1(&in, &dp, &rd)) == 0);
}

static void finish(bool tic, const struct run *r)
{
    const struct meter_in_counters *c = meter_in_counters(&in);
    check(c->telegrams_pass + c->telegrams_fail + c->telegrams_frame_fail == r->telegrams);
    if (tic) {
        const struct tic_stats *s = tic_parser_stats(&tp);
        check(c->telegrams_pass == s->frames_ok && c->telegrams_fail == s->frames_crc_fail &&
              c->telegrams_frame_fail == s->frames_fail + s->frames_historic);
    } else {
        const struct dsmr_stats *s = dsmr_parser_stats(&dp);
        check(dsmr_stats_consistent(&dp));
        check(c->telegrams_pass == s->telegrams_ok && c->telegrams_fail == s->crc_fail &&
              c->telegrams_frame_fail == s->frame_fail);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t seed = (uint32_t)mix(2166136261u, data, size < 16 ? size : 16) | 1u;
    for (int p = 0; p < 2; p++) {
        bool tic = p == 1;
        struct run whole = {1469598103934665603ull, 0, {0}};
        start(tic);
        check(meter_in_feed(&in, data, size, on_telegram, &whole) == (int)whole.telegrams);
        finish(tic, &whole);
        bool idle = meter_in_is_idle(&in);

        struct run chunked = {1469598103934665603ull, 0, {0}};
        uint32_t s = seed;
        start(tic);
        for (size_t off = 0; off < size;) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            size_t n = 1u + s % 64u;
            n = n < size - off ? n : size - off;
            check(meter_in_feed(&in, data + off, n, on_telegram, &chunked) >= 0);
            off += n;
        }
        finish(tic, &chunked);
        check(chunked.telegrams == whole.telegrams && chunked.digest == whole.digest);
        check(meter_in_is_idle(&in) == idle);
    }
    return 0;
}

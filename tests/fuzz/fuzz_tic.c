/*
 * libFuzzer target for core/tic. The whole input is fed as the TIC byte stream
 * in chunk sizes drawn from a seed taken from the input itself. Invariants
 * checked after every call:
 *  - feed never fails on valid arguments and never consumes more than given;
 *  - every frame started lands in exactly one verdict (stats invariant);
 *  - a frame's counts are consistent (bad/unknown/historic <= groups);
 *  - an OK frame has no bad group; a HISTORIC frame publishes no value;
 *  - per-phase powers are never negative; P = P_IMP - P_EXP when all present;
 *  - spans returned by the accessors lie inside the parser's frame buffer.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tic/tic.h"

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static struct tic_parser parser;
static struct reading rd;

static void check_frame(int v)
{
    const struct tic_frame_result *r = tic_parser_result(&parser);
    check(r->verdict == (enum tic_verdict)v);
    check(r->groups_bad <= r->groups && r->groups_unknown <= r->groups &&
          r->groups_historic <= r->groups);
    check(r->groups_bad + r->groups_historic <= r->groups);
    if (v == TIC_VERDICT_OK) {
        check(r->groups_bad == 0 && r->groups_historic == 0 && r->groups > 0);
    }
    if (v == TIC_VERDICT_FRAME_FAIL) {
        check(r->reason != TIC_FAIL_NONE);
        return;
    }
    struct ml_span f = tic_parser_frame(&parser);
    check(f.len >= 2 && f.len <= ML_TIC_MAX_FRAME && f.ptr[0] == TIC_STX &&
          f.ptr[f.len - 1] == TIC_ETX);
    if (v == TIC_VERDICT_HISTORIC) {
        check(rd.tic_historic);
        for (int i = 0; i < READING_FIELD_COUNT; i++) {
            check(!reading_has(&rd, (enum reading_field)i));
        }
        return;
    }
    int64_t a, b, p;
    for (int ph = 0; ph < 3; ph++) {
        if (reading_get(&rd, (enum reading_field)(READING_L1_P + ph), &a)) {
            check(a >= 0);
        }
    }
    if (reading_get(&rd, READING_P, &p) && reading_get(&rd, READING_P_IMP, &a) &&
        reading_get(&rd, READING_P_EXP, &b)) {
        check(p == a - b);
    }
    for (int l = 0; l < TIC_LABEL_COUNT; l++) {
        struct ml_span t = tic_parser_text(&parser, (enum tic_label)l);
        if (t.ptr != NULL) {
            check(t.ptr >= f.ptr && t.ptr + t.len <= f.ptr + f.len);
        }
        struct tic_horodate h;
        int e = tic_parser_horodate(&parser, (enum tic_label)l, &h);
        check(e == 0 || e == -2 || e == -22);
    }
    struct tic_stge st;
    (void)tic_parser_stge(&parser, &st);
    struct ml_span pj = tic_parser_text(&parser, TIC_L_PJOURF_1);
    struct tic_profile_slot sl[TIC_PROFILE_SLOTS];
    int n = tic_profile_decode(pj.ptr, pj.len, sl, TIC_PROFILE_SLOTS);
    check(n <= TIC_PROFILE_SLOTS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Chunk sizes come from a seed the fuzzer controls through the last and middle
     * bytes; no byte is taken away, so the corpus frames are fed from their STX. */
    uint32_t seed = 0x9E3779B9u;
    if (size > 0) {
        seed ^= (uint32_t)data[size - 1] | (uint32_t)data[size / 2] << 8 | (uint32_t)size << 16;
    }
    tic_parser_init(&parser, &rd);
    size_t off = 0;
    while (off < size) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        size_t chunk = 1u + seed % 300u;
        if (chunk > size - off) {
            chunk = size - off;
        }
        size_t end = off + chunk;
        while (off < end) {
            size_t used = 0;
            int v = tic_parser_feed(&parser, data + off, end - off, &used);
            check(v >= 0 && used <= end - off);
            off += used;
            if (v != TIC_VERDICT_NEED_MORE) {
                check_frame(v);
            } else {
                check(off == end);
            }
        }
        const struct tic_stats *s = tic_parser_stats(&parser);
        check(s->frames_started == s->frames_ok + s->frames_crc_fail + s->frames_fail +
                                       s->frames_historic +
                                       (tic_parser_is_idle(&parser) ? 0u : 1u));
    }
    check(tic_parser_stats(&parser)->bytes == (uint32_t)size);
    return 0;
}

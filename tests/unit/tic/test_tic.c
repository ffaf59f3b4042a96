/*
 * Unit tests for core/tic. Inputs are the frames of scenarios/telegrams/tic
 * (written by gen_frames.py with checksums computed in Python) and the shared
 * bench frame. Every expected number below is written by hand from the frame
 * text, never computed by the code under test. Each file is fed whole, byte by
 * byte and in random chunks; teardown checks the counter invariant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ml_test.h"
#include "tic/tic.h"

static struct tic_parser parser;
static struct reading rd;

#define MAX_FRAMES 8

struct run {
    int n; /* verdicts seen */
    int verdict[MAX_FRAMES];
    struct tic_frame_result res[MAX_FRAMES];
    struct reading r[MAX_FRAMES]; /* snapshot after each verdict */
};

static struct run run_buf;

enum chunking { WHOLE, BYTES, RANDOM };

/* Feed @p d in the given chunking; every verdict snapshots the reading. */
static void feed(const uint8_t *d, size_t n, enum chunking how, uint32_t seed, struct run *out)
{
    memset(out, 0, sizeof *out);
    size_t off = 0;
    while (off < n) {
        size_t chunk = n - off;
        if (how == BYTES) {
            chunk = 1;
        } else if (how == RANDOM) {
            size_t c = 1u + ml_test_rand(&seed) % 97u;
            chunk = c < chunk ? c : chunk;
        }
        size_t end = off + chunk;
        while (off < end) {
            size_t used = 0;
            int v = tic_parser_feed(&parser, d + off, end - off, &used);
            CU_ASSERT_FATAL(v >= 0);
            off += used;
            if (v != TIC_VERDICT_NEED_MORE && out->n < MAX_FRAMES) {
                out->verdict[out->n] = v;
                out->res[out->n] = *tic_parser_result(&parser);
                out->r[out->n] = rd;
                out->n++;
            }
        }
    }
}

static uint8_t *load(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "src:scenarios/telegrams/tic/%s", name);
    return ml_test_read_file(path, len);
}

typedef void (*check_fn)(const struct run *run);

/* Run @p check on @p name fed whole, byte by byte and in three random chunkings,
 * each on a fresh parser. */
static void each_way(const char *name, check_fn check)
{
    size_t len;
    uint8_t *d = load(name, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const enum chunking ways[] = {WHOLE, BYTES, RANDOM, RANDOM, RANDOM};
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        tic_parser_init(&parser, &rd);
        feed(d, len, ways[w], 0x1234567u + (uint32_t)w * 7919u, &run_buf);
        check(&run_buf);
    }
    free(d);
}

static int64_t get(const struct reading *r, enum reading_field f)
{
    int64_t v = -999999;
    CU_ASSERT_TRUE(reading_get(r, f, &v));
    return v;
}

/* ------------------------------------------------------------------------- */
/* Suite setup / teardown: the counter invariant                              */
/* ------------------------------------------------------------------------- */

static void setup(void)
{
    CU_ASSERT_EQUAL(tic_parser_init(&parser, &rd), ML_OK);
}

static void teardown(void)
{
    const struct tic_stats *s = tic_parser_stats(&parser);
    uint32_t done = s->frames_ok + s->frames_crc_fail + s->frames_fail + s->frames_historic;
    uint32_t open = tic_parser_is_idle(&parser) ? 0u : 1u;
    CU_ASSERT_EQUAL(s->frames_started, done + open);
    CU_ASSERT_TRUE(s->frames_eot + s->frames_oversize + s->frames_restart <= s->frames_fail);
}

/* ------------------------------------------------------------------------- */
/* Standard mode, single phase                                               */
/* ------------------------------------------------------------------------- */

static void check_std_1ph_reading(const struct reading *r)
{
    CU_ASSERT_EQUAL(r->protocol, READING_PROTO_TIC);
    CU_ASSERT_FALSE(r->tic_historic);
    CU_ASSERT_EQUAL(r->phases, 1);
    CU_ASSERT_EQUAL(get(r, READING_TS_UTC), 1718109015); /* E240611143015 = 12:30:15 UTC */
    CU_ASSERT_EQUAL(get(r, READING_TS_DST), 1);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP), 12345678000LL);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP_T1), 4000111000LL);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP_T2), 8345567000LL);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP_T10), 0);
    CU_ASSERT_FALSE(reading_has(r, READING_E_EXP));
    CU_ASSERT_EQUAL(get(r, READING_L1_I), 7000);
    CU_ASSERT_EQUAL(get(r, READING_L1_U), 236000);
    CU_ASSERT_FALSE(reading_has(r, READING_L2_U));
    CU_ASSERT_EQUAL(get(r, READING_P_MAX_REF), 6000000);
    CU_ASSERT_EQUAL(get(r, READING_P_CUT), 6000000);
    CU_ASSERT_EQUAL(get(r, READING_P), 1712000);
    CU_ASSERT_EQUAL(get(r, READING_P_IMP), 1712000);
    CU_ASSERT_FALSE(reading_has(r, READING_P_EXP)); /* consumer: export not metered */
    CU_ASSERT_EQUAL(get(r, READING_L1_P), 1712000);
    CU_ASSERT_EQUAL(get(r, READING_TARIFF), 2);
    CU_ASSERT_STRING_EQUAL(r->header.s, "022061123456");
    CU_ASSERT_STRING_EQUAL(r->tariff_name.s, " HEURE  CREUSE  ");
    CU_ASSERT_STRING_EQUAL(r->text, "PAS DE          MESSAGE         ");
    CU_ASSERT_EQUAL(r->raw_count, 0);
}

static void check_std_1ph(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_OK);
    CU_ASSERT_EQUAL(run->res[0].groups, 38);
    CU_ASSERT_EQUAL(run->res[0].groups_bad, 0);
    CU_ASSERT_EQUAL(run->res[0].values_invalid, 0);
    check_std_1ph_reading(&run->r[0]);
    CU_ASSERT_TRUE(tic_parser_is_idle(&parser));
    /* TIC-only values through the accessors. */
    int64_t v;
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_SMAXSN_1, &v));
    CU_ASSERT_EQUAL(v, 4210);
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_EASD02, &v));
    CU_ASSERT_EQUAL(v, 8345567);
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_CCASN, &v));
    CU_ASSERT_EQUAL(v, 1650);
    CU_ASSERT_FALSE(tic_parser_num(&parser, TIC_L_SINSTI, &v));
    struct tic_horodate h;
    CU_ASSERT_EQUAL(tic_parser_horodate(&parser, TIC_L_SMAXSN, &h), ML_OK);
    CU_ASSERT_EQUAL(h.season, 'E');
    CU_ASSERT_EQUAL(h.hour, 9);
    CU_ASSERT_EQUAL(h.min, 5);
    CU_ASSERT_EQUAL(h.sec, 12);
    CU_ASSERT_EQUAL(h.utc, 1718089512); /* 2024-06-11 07:05:12 UTC */
    CU_ASSERT_EQUAL(tic_parser_horodate(&parser, TIC_L_EAST, &h), ML_ENOENT);
    struct ml_span t = tic_parser_text(&parser, TIC_L_NGTF);
    CU_ASSERT_EQUAL(t.len, 16);
    CU_ASSERT_EQUAL(memcmp(t.ptr, "H PLEINE/CREUSE ", 16), 0);
    t = tic_parser_text(&parser, TIC_L_PRM);
    CU_ASSERT_EQUAL(t.len, 14);
    CU_ASSERT_EQUAL(memcmp(t.ptr, "12345678901234", 14), 0);
    struct tic_stge st;
    CU_ASSERT_TRUE(tic_parser_stge(&parser, &st));
    CU_ASSERT_EQUAL(st.raw, 0x003A0401u);
    CU_ASSERT_TRUE(st.contact_open);
    CU_ASSERT_EQUAL(st.supplier_index, 2); /* = NTARF 02 */
    CU_ASSERT_FALSE(st.producer);
    CU_ASSERT_TRUE(st.standard_mode);
    CU_ASSERT_EQUAL(st.euridis, 3);
    CU_ASSERT_EQUAL(st.cpl_status, 1);
    t = tic_parser_text(&parser, TIC_L_PJOURF_1);
    CU_ASSERT_EQUAL(t.len, 98);
    struct tic_profile_slot sl[TIC_PROFILE_SLOTS];
    CU_ASSERT_EQUAL(tic_profile_decode(t.ptr, t.len, sl, TIC_PROFILE_SLOTS), 11);
    CU_ASSERT_TRUE(sl[0].used);
    CU_ASSERT_EQUAL(sl[0].hour, 0);
    CU_ASSERT_EQUAL(sl[0].action, 0x8002);
    CU_ASSERT_EQUAL(sl[0].index, 2);
    CU_ASSERT_EQUAL(sl[0].dry, 2); /* open */
    CU_ASSERT_EQUAL(sl[1].hour, 2);
    CU_ASSERT_EQUAL(sl[1].min, 10);
    CU_ASSERT_EQUAL(sl[1].index, 1);
    CU_ASSERT_EQUAL(sl[1].dry, 3); /* close */
    CU_ASSERT_EQUAL(sl[3].hour, 14);
    CU_ASSERT_EQUAL(sl[3].min, 40);
    CU_ASSERT_FALSE(sl[5].used);
    /* The frame span is the whole file. */
    CU_ASSERT_EQUAL(tic_parser_frame(&parser).len, 865);
}

static void test_tic_std_1ph(void)
{
    each_way("std-1ph.bin", check_std_1ph);
}

static void check_textlog(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_OK);
    CU_ASSERT_EQUAL(run->res[0].groups, 38);
    CU_ASSERT_STRING_EQUAL(run->r[0].header.s, "12345678900"); /* anonymised, 11 digits */
    CU_ASSERT_EQUAL(run->r[0].phases, 1);
    CU_ASSERT_EQUAL(get(&run->r[0], READING_P), 1712000);
}

static void test_tic_textlog_shape_and_short_adsc(void)
{
    each_way("std-1ph-textlog.bin", check_textlog);
}

static void check_variants(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_OK);
    CU_ASSERT_EQUAL(run->res[0].groups, 41);
    CU_ASSERT_EQUAL(run->res[0].groups_unknown, 1);
    CU_ASSERT_TRUE(run->res[0].clock_degraded);
    const struct reading *r = &run->r[0];
    CU_ASSERT_EQUAL(r->header.len, 0); /* no ADSC */
    CU_ASSERT_EQUAL(r->phases, 1);     /* from IRMS1/URMS1 only */
    CU_ASSERT_EQUAL(get(r, READING_TS_UTC), 1718109015);
    CU_ASSERT_EQUAL(get(r, READING_TS_DST), 1);
    CU_ASSERT_EQUAL(r->raw_count, 1);
    CU_ASSERT_STRING_EQUAL(r->raw[0].id, "XYZ9");
    CU_ASSERT_STRING_EQUAL(r->raw[0].value, "123");
    struct ml_span t = tic_parser_text(&parser, TIC_L_NGTF);
    CU_ASSERT_EQUAL(t.len, 16);
    CU_ASSERT_EQUAL(memcmp(t.ptr, "base            ", 16), 0);
    t = tic_parser_text(&parser, TIC_L_MSG2);
    CU_ASSERT_EQUAL(memcmp(t.ptr, "COUPURE DEMAIN  ", 16), 0);
    struct tic_horodate h;
    CU_ASSERT_EQUAL(tic_parser_horodate(&parser, TIC_L_DPM1, &h), ML_OK);
    CU_ASSERT_EQUAL(h.season, ' ');
    CU_ASSERT_EQUAL(h.utc, 1718164800); /* 2024-06-12 06:00 local, EU summer rule */
    CU_ASSERT_EQUAL(tic_parser_horodate(&parser, TIC_L_DATE, &h), ML_OK);
    CU_ASSERT_TRUE(h.degraded);
    CU_ASSERT_EQUAL(h.season, 'e');
}

static void test_tic_label_variants(void)
{
    each_way("std-1ph-variants.bin", check_variants);
}

/* ------------------------------------------------------------------------- */
/* Producer (injection) and the sign rule                                     */
/* ------------------------------------------------------------------------- */

static void check_1ph_producer(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_OK);
    const struct reading *r = &run->r[0];
    CU_ASSERT_EQUAL(r->phases, 1);
    CU_ASSERT_EQUAL(get(r, READING_TS_UTC), 1703410200); /* H231224103000 = 09:30 UTC */
    CU_ASSERT_EQUAL(get(r, READING_TS_DST), 0);
    CU_ASSERT_EQUAL(get(r, READING_P), -1258000); /* SINSTS 0 - SINSTI 1258 */
    CU_ASSERT_EQUAL(get(r, READING_P_IMP), 0);
    CU_ASSERT_EQUAL(get(r, READING_P_EXP), 1258000);
    CU_ASSERT_EQUAL(get(r, READING_S), 1258000);
    CU_ASSERT_EQUAL(get(r, READING_S_EXP), 1258000);
    CU_ASSERT_EQUAL(get(r, READING_L1_P), 0); /* per phase never negative */
    CU_ASSERT_EQUAL(get(r, READING_E_IMP), 0);
    CU_ASSERT_EQUAL(get(r, READING_E_EXP), 4567123000LL);
    CU_ASSERT_EQUAL(get(r, READING_EQ1), 1234000);
    CU_ASSERT_EQUAL(get(r, READING_EQ2), 567000);
    CU_ASSERT_EQUAL(get(r, READING_EQ3), 89000);
    CU_ASSERT_EQUAL(get(r, READING_EQ4), 12345000);
    CU_ASSERT_EQUAL(get(r, READING_P_MAX_REF), 3000000);
    CU_ASSERT_STRING_EQUAL(r->tariff_name.s, "INDEX NON CONSO ");
    struct ml_span t = tic_parser_text(&parser, TIC_L_NGTF);
    CU_ASSERT_EQUAL(t.len, 10); /* "PRODUCTEUR", shorter than specified */
    struct tic_stge st;
    CU_ASSERT_TRUE(tic_parser_stge(&parser, &st));
    CU_ASSERT_TRUE(st.producer);
    CU_ASSERT_TRUE(st.energy_negative);
    int64_t v;
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_SMAXIN_1, &v));
    CU_ASSERT_EQUAL(v, 3010);
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_CCAIN, &v));
    CU_ASSERT_EQUAL(v, 1210);
}

static void test_tic_producer_1ph(void)
{
    each_way("std-1ph-producer.bin", check_1ph_producer);
}

static void check_3ph_producer(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_OK);
    const struct reading *r = &run->r[0];
    CU_ASSERT_EQUAL(r->phases, 3);
    CU_ASSERT_EQUAL(get(r, READING_TS_UTC), 1657970101); /* E220716131501 */
    /* tic.md §7 real case: phases 1 and 3 export, net total a small withdrawal. */
    CU_ASSERT_EQUAL(get(r, READING_P), 18000);
    CU_ASSERT_EQUAL(get(r, READING_P_EXP), 0);
    CU_ASSERT_EQUAL(get(r, READING_L1_P), 0);
    CU_ASSERT_EQUAL(get(r, READING_L2_P), 565000);
    CU_ASSERT_EQUAL(get(r, READING_L3_P), 0);
    CU_ASSERT_EQUAL(get(r, READING_L2_P_IMP), 565000);
    CU_ASSERT_FALSE(reading_has(r, READING_L1_P_EXP));
    CU_ASSERT_EQUAL(get(r, READING_L1_I), 2000);
    CU_ASSERT_EQUAL(get(r, READING_L2_I), 3000);
    CU_ASSERT_EQUAL(get(r, READING_L3_I), 1000);
    CU_ASSERT_EQUAL(get(r, READING_L1_U), 238000);
    CU_ASSERT_EQUAL(get(r, READING_L2_U), 240000);
    CU_ASSERT_EQUAL(get(r, READING_L3_U), 239000);
    CU_ASSERT_EQUAL(get(r, READING_E_EXP), 1002003000LL);
    CU_ASSERT_EQUAL(get(r, READING_EQ4), 50600000LL);
    int64_t v;
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_SMAXSN1_1, &v)); /* 9-character label */
    CU_ASSERT_EQUAL(v, 1400);
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_SMAXSN3_1, &v));
    CU_ASSERT_EQUAL(v, 1210);
    struct tic_horodate h;
    CU_ASSERT_EQUAL(tic_parser_horodate(&parser, TIC_L_SMAXSN2_1, &h), ML_OK);
    CU_ASSERT_EQUAL(h.day, 15);
    CU_ASSERT_EQUAL(h.hour, 20);
    CU_ASSERT_EQUAL(h.sec, 2);
}

static void test_tic_producer_3ph(void)
{
    each_way("std-3ph-producer.bin", check_3ph_producer);
}

static void check_3ph_producer_noisy(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_CRC_FAIL);
    CU_ASSERT_EQUAL(run->res[0].groups_bad, 1);
    const struct reading *r = &run->r[0];
    /* SINSTI lost and STGE says producer: the sign of P is unknown, so no P. */
    CU_ASSERT_FALSE(reading_has(r, READING_P));
    CU_ASSERT_FALSE(reading_has(r, READING_P_EXP));
    CU_ASSERT_EQUAL(get(r, READING_P_IMP), 18000);
    CU_ASSERT_EQUAL(get(r, READING_L2_P), 565000);
    CU_ASSERT_EQUAL(r->phases, 3);
}

static void test_tic_lost_sinsti_publishes_no_p(void)
{
    each_way("std-3ph-producer-noisy.bin", check_3ph_producer_noisy);
}

/* ------------------------------------------------------------------------- */
/* Three phase: the shared bench frame                                        */
/* ------------------------------------------------------------------------- */

static void check_std_3ph(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_OK);
    CU_ASSERT_EQUAL(run->res[0].groups, 53); /* the benchmark frame has 53 groups */
    const struct reading *r = &run->r[0];
    CU_ASSERT_EQUAL(r->phases, 3);
    CU_ASSERT_EQUAL(get(r, READING_TS_UTC), 1681552805); /* E230415120005 */
    CU_ASSERT_EQUAL(get(r, READING_E_IMP), 15234567000LL);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP_T1), 4567890000LL);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP_T2), 3278677000LL);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP_T3), 2210455000LL);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP_T4), 4432100000LL);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP_T5), 301245000LL);
    CU_ASSERT_EQUAL(get(r, READING_E_IMP_T6), 655100000LL);
    CU_ASSERT_EQUAL(get(r, READING_L1_I), 3000);
    CU_ASSERT_EQUAL(get(r, READING_L2_I), 2000);
    CU_ASSERT_EQUAL(get(r, READING_L3_I), 4000);
    CU_ASSERT_EQUAL(get(r, READING_L1_U), 232000);
    CU_ASSERT_EQUAL(get(r, READING_L2_U), 231000);
    CU_ASSERT_EQUAL(get(r, READING_L3_U), 233000);
    CU_ASSERT_EQUAL(get(r, READING_P_MAX_REF), 12000000);
    CU_ASSERT_EQUAL(get(r, READING_P_CUT), 12000000);
    CU_ASSERT_EQUAL(get(r, READING_P), 2130000);
    CU_ASSERT_EQUAL(get(r, READING_L1_P), 708000);
    CU_ASSERT_EQUAL(get(r, READING_L2_P), 512000);
    CU_ASSERT_EQUAL(get(r, READING_L3_P), 910000);
    CU_ASSERT_EQUAL(get(r, READING_TARIFF), 2);
    CU_ASSERT_STRING_EQUAL(r->header.s, "041876097147");
    CU_ASSERT_STRING_EQUAL(r->tariff_name.s, "    HP  BLEU    ");
    int64_t v;
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_SMAXSN2_1, &v));
    CU_ASSERT_EQUAL(v, 1870);
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_UMOY3, &v));
    CU_ASSERT_EQUAL(v, 232);
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_CCASN_1, &v));
    CU_ASSERT_EQUAL(v, 2016);
    /* STGE 013A4301 decoded at the spec's bit positions (tic.md §8). */
    struct tic_stge st;
    CU_ASSERT_TRUE(tic_parser_stge(&parser, &st));
    CU_ASSERT_TRUE(st.contact_open);
    CU_ASSERT_TRUE(st.producer);
    CU_ASSERT_TRUE(st.energy_negative);
    CU_ASSERT_EQUAL(st.supplier_index, 1);
    CU_ASSERT_EQUAL(st.distributor_index, 2);
    CU_ASSERT_EQUAL(st.tempo_today, 1);
    CU_ASSERT_EQUAL(st.cpl_status, 1);
}

static void test_tic_std_3ph_bench_frame(void)
{
    each_way("std-3ph.bin", check_std_3ph);
}

/* The frame cut in two at every offset: a group (or its CR LF) straddles the feeds and
 * the 64-byte copy blocks at every possible place. */
static void test_tic_every_split_point(void)
{
    size_t len;
    uint8_t *d = load("std-3ph.bin", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    for (size_t cut = 1; cut < len; cut++) {
        tic_parser_init(&parser, &rd);
        memset(&run_buf, 0, sizeof run_buf);
        size_t off = 0;
        while (off < len) {
            size_t end = off < cut ? cut : len;
            size_t used = 0;
            int v = tic_parser_feed(&parser, d + off, end - off, &used);
            CU_ASSERT_FATAL(v >= 0);
            off += used;
            if (v != TIC_VERDICT_NEED_MORE && run_buf.n < MAX_FRAMES) {
                run_buf.verdict[run_buf.n] = v;
                run_buf.res[run_buf.n] = *tic_parser_result(&parser);
                run_buf.r[run_buf.n] = rd;
                run_buf.n++;
            }
        }
        check_std_3ph(&run_buf);
    }
    free(d);
}

static void test_tic_bench_copy_is_identical(void)
{
    size_t a, b;
    uint8_t *x = ml_test_read_file("src:scenarios/telegrams/tic/std-3ph.bin", &a);
    uint8_t *y = load("std-3ph.bin", &b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_EQUAL_FATAL(a, b);
    CU_ASSERT_EQUAL(memcmp(x, y, a), 0);
    free(x);
    free(y);
}

/* ------------------------------------------------------------------------- */
/* Bad groups, broken frames                                                  */
/* ------------------------------------------------------------------------- */

static void check_1ph_noisy(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_CRC_FAIL);
    CU_ASSERT_EQUAL(run->res[0].groups, 38);
    CU_ASSERT_EQUAL(run->res[0].groups_bad, 3); /* IRMS1, E@ST, SINSTS+FF */
    const struct reading *r = &run->r[0];
    CU_ASSERT_FALSE(reading_has(r, READING_L1_I));
    CU_ASSERT_FALSE(reading_has(r, READING_P));
    CU_ASSERT_FALSE(reading_has(r, READING_P_IMP));
    CU_ASSERT_FALSE(reading_has(r, READING_L1_P));
    /* EAST lost: reading_derive sums EASF01..10 (4000111 + 8345567 Wh). */
    CU_ASSERT_EQUAL(get(r, READING_E_IMP), 12345678000LL);
    CU_ASSERT_EQUAL(get(r, READING_L1_U), 236000);
    CU_ASSERT_EQUAL(get(r, READING_TS_UTC), 1718109015);
    int64_t v;
    CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_SMAXSN, &v)); /* after the merged group */
    CU_ASSERT_EQUAL(v, 5030);
    CU_ASSERT_EQUAL(r->phases, 1); /* from ADSC type 61 */
}

static void test_tic_noisy_1ph(void)
{
    each_way("std-1ph-noisy.bin", check_1ph_noisy);
}

static void check_3ph_noisy(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_CRC_FAIL);
    CU_ASSERT_EQUAL(run->res[0].groups, 53);
    CU_ASSERT_EQUAL(run->res[0].groups_bad, 2); /* URMS2 bit flip, PREF CR->FF */
    const struct reading *r = &run->r[0];
    CU_ASSERT_FALSE(reading_has(r, READING_L2_U));
    CU_ASSERT_FALSE(reading_has(r, READING_P_MAX_REF));
    CU_ASSERT_EQUAL(get(r, READING_P_CUT), 12000000);
    CU_ASSERT_EQUAL(get(r, READING_L1_U), 232000);
    /* A group was lost and STGE has the producer bit: P stays absent. */
    CU_ASSERT_FALSE(reading_has(r, READING_P));
    CU_ASSERT_EQUAL(get(r, READING_P_IMP), 2130000);
}

static void test_tic_noisy_3ph(void)
{
    each_way("std-3ph-noisy.bin", check_3ph_noisy);
}

static void check_eot(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 2);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_FRAME_FAIL);
    CU_ASSERT_EQUAL(run->res[0].reason, TIC_FAIL_EOT);
    CU_ASSERT_EQUAL(run->verdict[1], TIC_VERDICT_OK);
    check_std_1ph_reading(&run->r[1]);
    const struct tic_stats *s = tic_parser_stats(&parser);
    CU_ASSERT_EQUAL(s->frames_started, 2);
    CU_ASSERT_EQUAL(s->frames_eot, 1);
    CU_ASSERT_EQUAL(s->frames_ok, 1);
}

static void test_tic_eot_drops_partial_frame(void)
{
    each_way("std-1ph-eot.bin", check_eot);
}

static void check_restart(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 2);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_FRAME_FAIL);
    CU_ASSERT_EQUAL(run->res[0].reason, TIC_FAIL_RESTART);
    CU_ASSERT_EQUAL(run->verdict[1], TIC_VERDICT_OK);
    check_std_1ph_reading(&run->r[1]);
}

static void test_tic_stx_inside_frame_restarts(void)
{
    each_way("std-1ph-restart.bin", check_restart);
}

static void check_stream(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 2);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_OK);
    CU_ASSERT_EQUAL(run->verdict[1], TIC_VERDICT_OK);
    check_std_1ph_reading(&run->r[0]);
    CU_ASSERT_EQUAL(get(&run->r[1], READING_TS_UTC), 1718109017);
    const struct tic_stats *s = tic_parser_stats(&parser);
    CU_ASSERT_EQUAL(s->frames_started, 3); /* the last one is still open */
    CU_ASSERT_FALSE(tic_parser_is_idle(&parser));
    CU_ASSERT_EQUAL(s->bytes_ignored, 865 - 500);
    CU_ASSERT_EQUAL(s->bytes, 2395);
}

static void test_tic_stream_partial_first_and_last(void)
{
    each_way("std-1ph-stream.bin", check_stream);
}

static void feed_str(const char *s, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t used;
        int v = tic_parser_feed(&parser, (const uint8_t *)s + off, n - off, &used);
        CU_ASSERT(v >= 0);
        off += used;
    }
}

/* Feed a string literal (its length without the NUL). */
#define FEED_LIT(s) feed_str((s), sizeof(s) - 1u)

static void test_tic_oversize_and_empty_frames(void)
{
    /* STX ETX: no group. */
    size_t used;
    CU_ASSERT_EQUAL(tic_parser_feed(&parser, (const uint8_t *)"\x02\x03", 2, &used),
                    TIC_VERDICT_FRAME_FAIL);
    CU_ASSERT_EQUAL(tic_parser_result(&parser)->reason, TIC_FAIL_EMPTY);
    /* A group that never ends overflows the frame buffer. */
    static uint8_t big[ML_TIC_MAX_FRAME + 64];
    memset(big, 'A', sizeof big);
    big[0] = TIC_STX;
    big[1] = TIC_LF;
    int v = tic_parser_feed(&parser, big, sizeof big, &used);
    CU_ASSERT_EQUAL(v, TIC_VERDICT_FRAME_FAIL);
    CU_ASSERT_EQUAL(tic_parser_result(&parser)->reason, TIC_FAIL_OVERSIZE);
    CU_ASSERT_EQUAL(used, ML_TIC_MAX_FRAME + 1); /* the byte that did not fit is dropped */
    CU_ASSERT_EQUAL(tic_parser_frame(&parser).len, ML_TIC_MAX_FRAME);
    CU_ASSERT_TRUE(tic_parser_is_idle(&parser));
    CU_ASSERT_EQUAL(tic_parser_stats(&parser)->frames_oversize, 1);
    /* The rest of the junk is ignored; a good frame afterwards parses. */
    CU_ASSERT_EQUAL(tic_parser_feed(&parser, big + used, sizeof big - used, &used),
                    TIC_VERDICT_NEED_MORE);
    FEED_LIT("\x02\nPREF\t04\tC\r\x03");
    CU_ASSERT_EQUAL(tic_parser_result(&parser)->verdict, TIC_VERDICT_OK);
    CU_ASSERT_EQUAL(get(&rd, READING_P_MAX_REF), 4000000);
    CU_ASSERT_EQUAL(tic_parser_feed(NULL, big, 1, NULL), ML_EFAULT);
    CU_ASSERT_EQUAL(tic_parser_feed(&parser, NULL, 1, NULL), ML_EFAULT);
}

static void test_tic_spec_checksum_examples(void)
{
    /* tic.md §5 worked examples, including the DATE group with its empty data. */
    CU_ASSERT_EQUAL(tic_checksum((const uint8_t *)"PREF\t04\t", 8), 'C');
    CU_ASSERT_EQUAL(tic_checksum((const uint8_t *)"DATE\tH081225223518\t\t", 20), 'H');
    CU_ASSERT_EQUAL(tic_checksum((const uint8_t *)"SINSTI\t01258\t", 13), 'L');
    CU_ASSERT_EQUAL(tic_checksum((const uint8_t *)"OPTARIF BASE", 12), '0');
    FEED_LIT("\x02\nDATE\tH081225223518\t\tH\r\nSINSTI\t01258\tL\r\x03");
    CU_ASSERT_EQUAL(tic_parser_result(&parser)->verdict, TIC_VERDICT_OK);
    CU_ASSERT_EQUAL(get(&rd, READING_TS_UTC), 1230240918); /* 2008-12-25 21:35:18 UTC */
    CU_ASSERT_EQUAL(get(&rd, READING_TS_DST), 0);
    CU_ASSERT_EQUAL(get(&rd, READING_P_EXP), 1258000);
    CU_ASSERT_FALSE(reading_has(&rd, READING_P)); /* SINSTS not in the frame */
    /* A wrong checksum: the group is skipped, the frame is a CRC fail. */
    FEED_LIT("\x02\nPREF\t04\tD\r\nPCOUP\t04\t\\\r\x03");
    CU_ASSERT_EQUAL(tic_parser_result(&parser)->verdict, TIC_VERDICT_CRC_FAIL);
    CU_ASSERT_FALSE(reading_has(&rd, READING_P_MAX_REF));
}

static void test_tic_wrong_shape_values_are_skipped(void)
{
    /* Good checksums, wrong content: EAST with a letter, IRMS1 with a horodate. */
    char g1[] = "EAST\t0123X5678\t";
    char g2[] = "IRMS1\tE240611090512\t007\t";
    char buf[128];
    int n = snprintf(buf, sizeof buf, "\x02\n%s%c\r\n%s%c\r\x03", g1,
                     tic_checksum((const uint8_t *)g1, strlen(g1)), g2,
                     tic_checksum((const uint8_t *)g2, strlen(g2)));
    feed_str(buf, (size_t)n);
    const struct tic_frame_result *res = tic_parser_result(&parser);
    CU_ASSERT_EQUAL(res->verdict, TIC_VERDICT_OK);
    CU_ASSERT_EQUAL(res->values_invalid, 2);
    CU_ASSERT_FALSE(reading_has(&rd, READING_E_IMP));
    CU_ASSERT_FALSE(reading_has(&rd, READING_L1_I));
}

/* Frame STX, one group per item (label .. last HT, NUL bytes allowed: explicit
 * lengths) with its checksum, ETX; into @p buf, returns the length. */
struct tic_item {
    const char *s;
    size_t n;
};
#define ITEM(lit)                                                                                  \
    {                                                                                              \
        (lit), sizeof(lit) - 1u                                                                    \
    }

static size_t build_frame(const struct tic_item *g, size_t count, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    buf[n++] = 0x02;
    for (size_t i = 0; i < count; i++) {
        CU_ASSERT_FATAL(n + g[i].n + 4u < cap);
        buf[n++] = '\n';
        memcpy(buf + n, g[i].s, g[i].n);
        n += g[i].n;
        buf[n++] = tic_checksum((const uint8_t *)g[i].s, g[i].n);
        buf[n++] = '\r';
    }
    buf[n++] = 0x03;
    return n;
}

static void test_tic_label_keys_are_exact(void)
{
    /* 8- and 9-character labels: only the exact label is dispatched; a different 9th
     * character (a NUL too), or the label cut to 8, is an unknown label. STGE's hex
     * digits in either case; a non-hex digit makes the value invalid. */
    static const struct tic_item g[] = {
        ITEM("SMAXSN1-1\tE240611090512\t05030\t"),
        ITEM("SMAXSN1-4\tE240611090512\t05031\t"),
        ITEM("SMAXSN1-\tE240611090512\t05032\t"),
        ITEM("SMAXSN1-\x01\tE240611090512\t05033\t"),
        ITEM("SMAXSN1-\0\tE240611090512\t05034\t"),
        ITEM("NJOURF+1\t07\t"),
        ITEM("NJOURF+2\t08\t"),
        ITEM("STGE\t013a4301\t"),
        ITEM("EAST\t015234567\t"),
    };
    static const struct tic_item bad_hex[] = {ITEM("STGE\t013A43G1\t")};
    uint8_t buf[512];
    size_t n = build_frame(g, sizeof g / sizeof g[0], buf, sizeof buf);
    const enum chunking ways[] = {WHOLE, BYTES, RANDOM};
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        tic_parser_init(&parser, &rd);
        feed(buf, n, ways[w], 77u, &run_buf);
        CU_ASSERT_EQUAL_FATAL(run_buf.n, 1);
        CU_ASSERT_EQUAL(run_buf.verdict[0], TIC_VERDICT_OK);
        CU_ASSERT_EQUAL(run_buf.res[0].groups, 9);
        CU_ASSERT_EQUAL(run_buf.res[0].groups_unknown, 5);
        CU_ASSERT_EQUAL(run_buf.res[0].values_invalid, 0);
        int64_t v = 0;
        CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_SMAXSN1_1, &v));
        CU_ASSERT_EQUAL(v, 5030);
        CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_NJOURF_1, &v));
        CU_ASSERT_EQUAL(v, 7);
        CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_STGE, &v));
        CU_ASSERT_EQUAL(v, 0x013A4301);
        CU_ASSERT_TRUE(tic_parser_num(&parser, TIC_L_EAST, &v));
        CU_ASSERT_EQUAL(v, 15234567);
        CU_ASSERT_FALSE(tic_parser_num(&parser, TIC_L_SMAXSN1, &v));
    }
    n = build_frame(bad_hex, 1, buf, sizeof buf);
    feed(buf, n, WHOLE, 1u, &run_buf);
    CU_ASSERT_EQUAL(run_buf.res[0].values_invalid, 1);
    int64_t v;
    CU_ASSERT_FALSE(tic_parser_num(&parser, TIC_L_STGE, &v));
}

/* Everything a run shows the same way (readings compared field by field). */
static void check_runs_equal(const struct run *a, const struct run *b)
{
    CU_ASSERT_EQUAL_FATAL(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const struct tic_frame_result *x = &a->res[i];
        const struct tic_frame_result *y = &b->res[i];
        CU_ASSERT_EQUAL(a->verdict[i], b->verdict[i]);
        CU_ASSERT_EQUAL(x->reason, y->reason);
        CU_ASSERT_EQUAL(x->groups, y->groups);
        CU_ASSERT_EQUAL(x->groups_bad, y->groups_bad);
        CU_ASSERT_EQUAL(x->groups_unknown, y->groups_unknown);
        CU_ASSERT_EQUAL(x->groups_historic, y->groups_historic);
        CU_ASSERT_EQUAL(x->values_invalid, y->values_invalid);
        CU_ASSERT_EQUAL(x->clock_degraded, y->clock_degraded);
        const struct reading *r = &a->r[i];
        const struct reading *q = &b->r[i];
        for (int f = 0; f < READING_FIELD_COUNT; f++) {
            int64_t u = 0;
            int64_t t = 0;
            CU_ASSERT_EQUAL(reading_get(r, (enum reading_field)f, &u),
                            reading_get(q, (enum reading_field)f, &t));
            CU_ASSERT_EQUAL(u, t);
        }
        CU_ASSERT_EQUAL(r->phases, q->phases);
        CU_ASSERT_EQUAL(r->tic_historic, q->tic_historic);
        CU_ASSERT_STRING_EQUAL(r->header.s, q->header.s);
        CU_ASSERT_STRING_EQUAL(r->tariff_name.s, q->tariff_name.s);
        CU_ASSERT_STRING_EQUAL(r->text, q->text);
        CU_ASSERT_EQUAL(r->raw_count, q->raw_count);
    }
}

static struct run run_whole;

/* The parser takes whole groups in one pass when they are in the input and plain, and
 * byte by byte otherwise (docs/tic.md): both ways must give the same results, on every
 * corpus file and on the bench frame with control bytes inserted, bits flipped and
 * bytes dropped. */
static void test_tic_fast_and_general_paths_agree(void)
{
    static const char *const files[] = {
        "std-1ph.bin",          "std-3ph.bin",
        "std-1ph-noisy.bin",    "std-3ph-noisy.bin",
        "std-1ph-eot.bin",      "std-1ph-restart.bin",
        "std-1ph-stream.bin",   "std-1ph-textlog.bin",
        "hist-1ph.bin",         "hist-3ph.bin",
        "std-1ph-variants.bin", "std-1ph-producer.bin",
        "std-3ph-producer.bin", "std-3ph-producer-noisy.bin",
    };
    static uint8_t m[4096];
    uint32_t seed = 0x5EEDu;
    for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
        size_t len;
        uint8_t *d = load(files[fi], &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        CU_ASSERT_FATAL(len + 16u < sizeof m);
        for (int round = 0; round < (fi == 1 ? 200 : 20); round++) {
            size_t n = len;
            memcpy(m, d, len);
            for (int e = round == 0 ? 0 : 1 + (int)(ml_test_rand(&seed) % 3u); e > 0; e--) {
                size_t at = ml_test_rand(&seed) % n;
                static const uint8_t ctl[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x09, 0x0A, 0x0D, 0x8D};
                switch (ml_test_rand(&seed) % 3u) {
                case 0:
                    m[at] ^= (uint8_t)(1u << (ml_test_rand(&seed) % 8u));
                    break;
                case 1:
                    memmove(m + at + 1, m + at, n - at);
                    m[at] = ctl[ml_test_rand(&seed) % sizeof ctl];
                    n++;
                    break;
                default:
                    memmove(m + at, m + at + 1, n - at - 1u);
                    n--;
                    break;
                }
            }
            tic_parser_init(&parser, &rd);
            feed(m, n, WHOLE, 1u, &run_whole);
            tic_parser_init(&parser, &rd);
            feed(m, n, BYTES, 1u, &run_buf);
            check_runs_equal(&run_whole, &run_buf);
            tic_parser_init(&parser, &rd);
            feed(m, n, RANDOM, seed, &run_buf);
            check_runs_equal(&run_whole, &run_buf);
        }
        free(d);
    }
}

/* ------------------------------------------------------------------------- */
/* Historic mode                                                              */
/* ------------------------------------------------------------------------- */

static void check_hist_1ph(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 1);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_HISTORIC);
    CU_ASSERT_TRUE(run->res[0].historic);
    CU_ASSERT_EQUAL(run->res[0].groups_historic, 11);
    CU_ASSERT_EQUAL(run->res[0].groups_bad, 0);
    const struct reading *r = &run->r[0];
    CU_ASSERT_TRUE(r->tic_historic);
    CU_ASSERT_EQUAL(r->protocol, READING_PROTO_TIC);
    for (int f = 0; f < READING_FIELD_COUNT; f++) {
        CU_ASSERT_FALSE(reading_has(r, (enum reading_field)f)); /* never values */
    }
    CU_ASSERT_EQUAL(tic_parser_stats(&parser)->frames_historic, 1);
}

static void test_tic_historic_1ph_detected(void)
{
    each_way("hist-1ph.bin", check_hist_1ph);
}

static void check_hist_3ph(const struct run *run)
{
    CU_ASSERT_EQUAL_FATAL(run->n, 2);
    CU_ASSERT_EQUAL(run->verdict[0], TIC_VERDICT_HISTORIC);
    CU_ASSERT_EQUAL(run->res[0].groups_historic, 16);
    CU_ASSERT_EQUAL(run->verdict[1], TIC_VERDICT_HISTORIC); /* short ADIR frame */
    CU_ASSERT_EQUAL(run->res[1].groups_historic, 5);
    CU_ASSERT_TRUE(run->r[1].tic_historic);
}

static void test_tic_historic_3ph_detected(void)
{
    each_way("hist-3ph.bin", check_hist_3ph);
}

static void test_tic_historic_with_ht_separator(void)
{
    /* 02E lets post-2013 meters use HT: the label tells (either checksum variant). */
    char g[] = "ADCO\t021861123456";
    char buf[64];
    /* Variant 1: last separator excluded. */
    int n = snprintf(buf, sizeof buf, "\x02\n%s\t%c\r\x03", g,
                     tic_checksum((const uint8_t *)g, strlen(g)));
    feed_str(buf, (size_t)n);
    CU_ASSERT_EQUAL(tic_parser_result(&parser)->verdict, TIC_VERDICT_HISTORIC);
    CU_ASSERT_TRUE(rd.tic_historic);
}

/* ------------------------------------------------------------------------- */
/* Labels and decoders                                                        */
/* ------------------------------------------------------------------------- */

static void test_tic_label_table(void)
{
    CU_ASSERT_EQUAL(TIC_LABEL_COUNT, 71);
    CU_ASSERT_STRING_EQUAL(tic_label_info(TIC_L_SMAXSN1_1)->name, "SMAXSN1-1");
    CU_ASSERT_STRING_EQUAL(tic_label_info(TIC_L_NJOURF_1)->name, "NJOURF+1");
    CU_ASSERT_STRING_EQUAL(tic_label_info(TIC_L_EAST)->unit, "Wh");
    CU_ASSERT_EQUAL(tic_label_info(TIC_L_PJOURF_1)->len, 98);
    CU_ASSERT_TRUE(tic_label_info(TIC_L_UMOY2)->horodate);
    CU_ASSERT_FALSE(tic_label_info(TIC_L_SINSTI)->horodate);
    CU_ASSERT_PTR_NULL(tic_label_info(TIC_LABEL_COUNT));
}

static void test_tic_stge_every_field(void)
{
    struct tic_stge s;
    /* 463A0800 (tic.md §8): index 3, today white, tomorrow blue, PM1 in progress. */
    tic_stge_decode(0x463A0800u, &s);
    CU_ASSERT_FALSE(s.contact_open);
    CU_ASSERT_EQUAL(s.supplier_index, 3);
    CU_ASSERT_EQUAL(s.tempo_today, 2);
    CU_ASSERT_EQUAL(s.tempo_tomorrow, 1);
    CU_ASSERT_EQUAL(s.peak_active, 1);
    CU_ASSERT_EQUAL(s.peak_notice, 0);
    CU_ASSERT_FALSE(s.producer);
    /* One bit at a time. */
    tic_stge_decode(0x2u * 5u, &s);
    CU_ASSERT_EQUAL(s.cutoff, 5);
    tic_stge_decode(1u << 4, &s);
    CU_ASSERT_TRUE(s.cover_open);
    tic_stge_decode(1u << 6, &s);
    CU_ASSERT_TRUE(s.overvoltage);
    tic_stge_decode(1u << 7, &s);
    CU_ASSERT_TRUE(s.pref_exceeded);
    CU_ASSERT_FALSE(s.producer);
    tic_stge_decode(3u << 14, &s);
    CU_ASSERT_EQUAL(s.distributor_index, 4);
    tic_stge_decode(1u << 16, &s);
    CU_ASSERT_TRUE(s.clock_degraded);
    tic_stge_decode(1u << 23, &s);
    CU_ASSERT_TRUE(s.cpl_synchronised);
    tic_stge_decode(2u << 28, &s);
    CU_ASSERT_EQUAL(s.peak_notice, 2);
    tic_stge_decode(3u << 30, &s);
    CU_ASSERT_EQUAL(s.peak_active, 3);
}

static void test_tic_horodate_decode(void)
{
    struct tic_horodate h;
    CU_ASSERT_EQUAL(tic_horodate_decode((const uint8_t *)"E090714074553", 13, &h), ML_OK);
    CU_ASSERT_EQUAL(h.utc, 1247550353); /* 2009-07-14 05:45:53 UTC */
    CU_ASSERT_TRUE(h.dst);
    CU_ASSERT_EQUAL(tic_horodate_decode((const uint8_t *)"h081225223518", 13, &h), ML_OK);
    CU_ASSERT_TRUE(h.degraded);
    CU_ASSERT_EQUAL(h.utc, 1230240918);
    CU_ASSERT_EQUAL(tic_horodate_decode((const uint8_t *)"X081225223518", 13, &h), ML_EINVAL);
    CU_ASSERT_EQUAL(tic_horodate_decode((const uint8_t *)"H081325223518", 13, &h), ML_EINVAL);
    CU_ASSERT_EQUAL(tic_horodate_decode((const uint8_t *)"H0812252235", 11, &h), ML_EINVAL);
    CU_ASSERT_EQUAL(tic_horodate_decode((const uint8_t *)"H08122522351A", 13, &h), ML_EINVAL);
}

static void test_tic_profile_malformed(void)
{
    struct tic_profile_slot s[TIC_PROFILE_SLOTS];
    CU_ASSERT_EQUAL(tic_profile_decode((const uint8_t *)"0000800Z", 8, s, 11), ML_EINVAL);
    CU_ASSERT_EQUAL(tic_profile_decode((const uint8_t *)"00008002 NONUT", 14, s, 11), ML_EINVAL);
    CU_ASSERT_EQUAL(tic_profile_decode((const uint8_t *)"00008002", 8, s, 11), 1);
    CU_ASSERT_EQUAL(tic_profile_decode((const uint8_t *)"25008002", 8, s, 11), ML_EINVAL);
}

static void test_tic_random_noise_keeps_invariants(void)
{
    /* Random byte corruption of the bench frame, fed in random chunks. */
    size_t len;
    uint8_t *d = ml_test_read_file("src:scenarios/telegrams/tic/std-3ph.bin", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    uint8_t *m = malloc(len);
    uint32_t seed = 0xC0FFEEu;
    for (int round = 0; round < 300; round++) {
        memcpy(m, d, len);
        int flips = 1 + (int)(ml_test_rand(&seed) % 4u);
        for (int f = 0; f < flips; f++) {
            uint32_t at = ml_test_rand(&seed) % (uint32_t)len;
            m[at] ^= (uint8_t)(1u << (ml_test_rand(&seed) % 7u));
        }
        feed(m, len, RANDOM, seed | 1u, &run_buf);
        for (int i = 0; i < run_buf.n; i++) {
            const struct tic_frame_result *r = &run_buf.res[i];
            CU_ASSERT_TRUE(r->groups <= 60);
            if (run_buf.verdict[i] == TIC_VERDICT_OK) {
                CU_ASSERT_EQUAL(r->groups_bad, 0);
            }
        }
    }
    free(m);
    free(d);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_tic_std_1ph", test_tic_std_1ph},
        {"test_tic_textlog_shape_and_short_adsc", test_tic_textlog_shape_and_short_adsc},
        {"test_tic_label_variants", test_tic_label_variants},
        {"test_tic_producer_1ph", test_tic_producer_1ph},
        {"test_tic_producer_3ph", test_tic_producer_3ph},
        {"test_tic_lost_sinsti_publishes_no_p", test_tic_lost_sinsti_publishes_no_p},
        {"test_tic_std_3ph_bench_frame", test_tic_std_3ph_bench_frame},
        {"test_tic_every_split_point", test_tic_every_split_point},
        {"test_tic_bench_copy_is_identical", test_tic_bench_copy_is_identical},
        {"test_tic_noisy_1ph", test_tic_noisy_1ph},
        {"test_tic_noisy_3ph", test_tic_noisy_3ph},
        {"test_tic_eot_drops_partial_frame", test_tic_eot_drops_partial_frame},
        {"test_tic_stx_inside_frame_restarts", test_tic_stx_inside_frame_restarts},
        {"test_tic_stream_partial_first_and_last", test_tic_stream_partial_first_and_last},
        {"test_tic_oversize_and_empty_frames", test_tic_oversize_and_empty_frames},
        {"test_tic_spec_checksum_examples", test_tic_spec_checksum_examples},
        {"test_tic_wrong_shape_values_are_skipped", test_tic_wrong_shape_values_are_skipped},
        {"test_tic_label_keys_are_exact", test_tic_label_keys_are_exact},
        {"test_tic_fast_and_general_paths_agree", test_tic_fast_and_general_paths_agree},
        {"test_tic_historic_1ph_detected", test_tic_historic_1ph_detected},
        {"test_tic_historic_3ph_detected", test_tic_historic_3ph_detected},
        {"test_tic_historic_with_ht_separator", test_tic_historic_with_ht_separator},
        {"test_tic_label_table", test_tic_label_table},
        {"test_tic_stge_every_field", test_tic_stge_every_field},
        {"test_tic_horodate_decode", test_tic_horodate_decode},
        {"test_tic_profile_malformed", test_tic_profile_malformed},
        {"test_tic_random_noise_keeps_invariants", test_tic_random_noise_keeps_invariants},
    };
    return ml_test_run("tic", cases, sizeof cases / sizeof cases[0], setup, teardown);
}

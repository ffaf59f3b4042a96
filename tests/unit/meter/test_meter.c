#define _GNU_SOURCE
/*
 * The meter emulator: every protocol renders telegrams our own parsers accept,
 * and the check values are recomputed here independently (a bit-by-bit CRC-16
 * loop, the TIC group sum written out again), so the emulator and the parsers
 * cannot agree on the same mistake.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dsmr/dsmr.h"
#include "meter_in/meter_in.h"
#include "ml_meter.h"
#include "ml_test.h"
#include "tic/tic.h"

static struct dsmr_parser dp;
static struct tic_parser tp;
static struct reading rd;

/* CRC-16/ARC bit by bit, polynomial 0x8005 reflected (dsmr.md §4), written from the spec. */
static unsigned crc_bitwise(const uint8_t *p, size_t n)
{
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < 8; b++) {
            unsigned in = (p[i] >> b) & 1u;
            unsigned top = crc & 1u;
            crc >>= 1;
            if (top ^ in) {
                crc ^= 0xA001u;
            }
        }
    }
    return crc;
}

static void test_meter_crc_reference_vector(void)
{
    CU_ASSERT_EQUAL(crc_bitwise((const uint8_t *)"123456789", 9), 0xBB3D);
}

/* The emulator's bytes through the devices' meter input (core/meter_in); the verdict
 * of the last telegram (0: none ended). The verdict values are the parsers' ones. */
static void last_verdict(void *ctx, const struct meter_in_telegram *t)
{
    *(int *)ctx = (int)t->verdict;
}

static int feed_in(const struct ml_buf *b, bool tic, size_t chunk)
{
    static struct meter_in in;
    if (tic) {
        meter_in_init_tic(&in, &tp, &rd);
    } else {
        meter_in_init_p1(&in, &dp, &rd);
    }
    int verdict = 0;
    for (size_t off = 0; off < b->len; off += chunk) {
        size_t n = b->len - off < chunk ? b->len - off : chunk;
        CU_ASSERT(meter_in_feed(&in, b->p + off, n, last_verdict, &verdict) >= 0);
    }
    return verdict;
}

/* P1 a byte at a time, as a UART gives it; TIC in one piece. */
static int feed_dsmr(const struct ml_buf *b)
{
    return feed_in(b, false, 1);
}

static int feed_tic(const struct ml_buf *b)
{
    return feed_in(b, true, b->len > 0 ? b->len : 1);
}

static void test_meter_dsmr_every_version_parses_and_crc_is_right(void)
{
    for (int p = ML_METER_DSMR22; p <= ML_METER_EMUCS171; p++) {
        for (int ph = 1; ph <= 3; ph += 2) {
            struct ml_meter_values v;
            ml_meter_values_defaults(&v, (enum ml_meter_proto)p, ph);
            struct ml_meter_cfg cfg = {.proto = (enum ml_meter_proto)p, .phases = ph};
            struct ml_buf b = {0};
            ml_meter_render(&cfg, &v, 1767225600 + 3600 * 24 * 180, &b);
            CU_ASSERT_EQUAL(b.p[0], '/');
            CU_ASSERT_EQUAL(feed_dsmr(&b), DSMR_VERDICT_OK);
            uint8_t *bang = memchr(b.p, '!', b.len);
            CU_ASSERT_PTR_NOT_NULL_FATAL(bang);
            if (ml_meter_proto_has_check((enum ml_meter_proto)p)) {
                size_t covered = (size_t)(bang - b.p) + 1;
                char want[12];
                snprintf(want, sizeof want, "%04X", crc_bitwise(b.p, covered));
                CU_ASSERT_NSTRING_EQUAL(bang + 1, want, 4);
                CU_ASSERT_EQUAL(b.len, covered + 6); /* 4 hex digits CR LF */
            } else {
                CU_ASSERT_EQUAL(bang[1], '\r'); /* DSMR 2.2/3.0: no CRC */
            }
            /* the values survive: 1.2 kW imported, tariff 1 energy */
            CU_ASSERT_DOUBLE_EQUAL(reading_get_si(&rd, READING_P_IMP), 1200.0, 1e-9);
            CU_ASSERT_DOUBLE_EQUAL(reading_get_si(&rd, READING_E_IMP_T1), 1234567.0, 1e-6);
            ml_buf_free(&b);
        }
    }
}

static void test_meter_dsmr_signed_power_splits(void)
{
    struct ml_meter_values v;
    ml_meter_values_defaults(&v, ML_METER_DSMR50, 3);
    v.has[READING_P] = true;
    v.v[READING_P] = -2345;
    v.has[READING_L1_P] = true;
    v.v[READING_L1_P] = -1000;
    struct ml_meter_cfg cfg = {.proto = ML_METER_DSMR50, .phases = 3};
    struct ml_buf b = {0};
    ml_meter_render(&cfg, &v, 1767225600, &b);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)b.p, "1-0:2.7.0(02.345*kW)"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)b.p, "1-0:22.7.0(01.000*kW)"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)b.p, "0-0:1.0.0(260101010000W)")); /* CET */
    CU_ASSERT_EQUAL(feed_dsmr(&b), DSMR_VERDICT_OK);
    CU_ASSERT_DOUBLE_EQUAL(reading_get_si(&rd, READING_P), -2345.0, 1e-9);
    ml_buf_free(&b);
}

/* A scenario that sets only the total power still gets phases that add up to
 * it (issue 17: p_imp 3000 used to leave the phases at 800 + 200 + 200 W). */
static void test_meter_phases_follow_the_total(void)
{
    static const struct {
        int phases;
        double p, l[3]; /* net total set by the scenario, phase powers wanted */
    } cases[] = {
        {3, 3000, {2000, 500, 500}},
        {3, -1500, {-1000, -250, -250}},
        {1, 2300, {2300, 0, 0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct ml_meter_values d, v;
        ml_meter_values_defaults(&d, ML_METER_DSMR50, cases[c].phases);
        v = d;
        bool given[READING_FIELD_COUNT] = {false};
        v.has[READING_P] = given[READING_P] = true;
        v.v[READING_P] = cases[c].p;
        ml_meter_values_balance(&v, &d, given);
        struct ml_meter_cfg cfg = {.proto = ML_METER_DSMR50, .phases = cases[c].phases};
        struct ml_buf b = {0};
        ml_meter_render(&cfg, &v, 1767225600, &b);
        CU_ASSERT_EQUAL(feed_dsmr(&b), DSMR_VERDICT_OK);
        double sum = 0;
        for (int i = 0; i < cases[c].phases; i++) {
            double pi = reading_get_si(&rd, (enum reading_field)(READING_L1_P + i));
            CU_ASSERT_DOUBLE_EQUAL(pi, cases[c].l[i], 0.5);
            sum += pi;
            /* the current follows P / U (whole amperes on DSMR 5) */
            double a = reading_get_si(&rd, (enum reading_field)(READING_L1_I + i));
            double u = reading_get_si(&rd, (enum reading_field)(READING_L1_U + i));
            CU_ASSERT_DOUBLE_EQUAL(a, (cases[c].l[i] < 0 ? -cases[c].l[i] : cases[c].l[i]) / u,
                                   1.0);
        }
        CU_ASSERT_DOUBLE_EQUAL(sum, reading_get_si(&rd, READING_P), 1.0);
        CU_ASSERT_DOUBLE_EQUAL(sum, cases[c].p, 1.0);
        ml_buf_free(&b);
    }
    /* a scenario that sets a phase itself keeps it */
    struct ml_meter_values d, v;
    ml_meter_values_defaults(&d, ML_METER_DSMR50, 3);
    v = d;
    bool given[READING_FIELD_COUNT] = {false};
    v.v[READING_P_IMP] = 5000;
    v.v[READING_L1_P_IMP] = 123;
    given[READING_P_IMP] = given[READING_L1_P_IMP] = true;
    ml_meter_values_balance(&v, &d, given);
    CU_ASSERT_DOUBLE_EQUAL(v.v[READING_L1_P_IMP], 123, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(v.v[READING_L2_P_IMP], 200, 1e-9);
}

/* TIC group sums recomputed from the frame bytes: S1 over label..last HT. */
static int tic_groups_checked(const struct ml_buf *b, bool historic)
{
    int groups = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->p[i] != '\n') {
            continue;
        }
        size_t cr = i + 1;
        while (cr < b->len && b->p[cr] != '\r') {
            cr++;
        }
        CU_ASSERT_FATAL(cr < b->len && cr >= i + 4);
        unsigned sum = 0;
        size_t end = historic ? cr - 2 : cr - 1; /* historic: without the last SP */
        for (size_t k = i + 1; k < end; k++) {
            sum += b->p[k];
        }
        CU_ASSERT_EQUAL(b->p[cr - 1], (sum & 0x3Fu) + 0x20u);
        CU_ASSERT_EQUAL(b->p[cr - 2], historic ? ' ' : '\t');
        groups++;
        i = cr;
    }
    return groups;
}

static void test_meter_tic_frames_parse_and_checksums_are_right(void)
{
    for (int ph = 1; ph <= 3; ph += 2) {
        for (int prod = 0; prod < 2; prod++) {
            struct ml_meter_values v;
            ml_meter_values_defaults(&v, ML_METER_TIC, ph);
            if (prod) {
                v.has[READING_P] = true;
                v.v[READING_P] = -2500;
            }
            struct ml_meter_cfg cfg = {.proto = ML_METER_TIC, .phases = ph};
            struct ml_buf b = {0};
            ml_meter_render(&cfg, &v, 1767225600 + 86400 * 190, &b); /* summer: 'E' */
            CU_ASSERT_EQUAL(b.p[0], 0x02);
            CU_ASSERT_EQUAL(b.p[b.len - 1], 0x03);
            CU_ASSERT_TRUE(tic_groups_checked(&b, false) > 20);
            CU_ASSERT_PTR_NOT_NULL(strstr((char *)b.p, "DATE\tE26"));
            CU_ASSERT_EQUAL(feed_tic(&b), TIC_VERDICT_OK);
            CU_ASSERT_DOUBLE_EQUAL(reading_get_si(&rd, READING_P), prod ? -2500.0 : 1200.0, 1e-9);
            ml_buf_free(&b);
        }
    }
}

static void test_meter_tic_historic_is_recognised(void)
{
    struct ml_meter_values v;
    ml_meter_values_defaults(&v, ML_METER_TIC_HISTORIC, 1);
    struct ml_meter_cfg cfg = {.proto = ML_METER_TIC_HISTORIC, .phases = 1};
    struct ml_buf b = {0};
    ml_meter_render(&cfg, &v, 1767225600, &b);
    CU_ASSERT_EQUAL(tic_groups_checked(&b, true), 10);
    CU_ASSERT_EQUAL(feed_tic(&b), TIC_VERDICT_HISTORIC);
    ml_buf_free(&b);
}

static void test_meter_faults_give_the_verdicts(void)
{
    struct ml_meter_values v;
    ml_meter_values_defaults(&v, ML_METER_DSMR50, 3);
    struct ml_meter_cfg cfg = {.proto = ML_METER_DSMR50, .phases = 3};
    char err[128];
    struct ml_fault crc = {ML_FAULT_CRC_CORRUPT, LONG_MIN, 0, -1, NULL, 0};
    struct ml_fault flip = {ML_FAULT_BIT_FLIP, 40, 1, -1, NULL, 0};
    struct ml_fault big = {ML_FAULT_OVERSIZE, LONG_MIN, 0, -1, NULL, 0};
    struct ml_buf b = {0};
    ml_meter_render(&cfg, &v, 1767225600, &b);
    CU_ASSERT_EQUAL(ml_fault_apply(&crc, ML_METER_DSMR50, &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(feed_dsmr(&b), DSMR_VERDICT_CRC_FAIL);
    b.len = 0;
    ml_meter_render(&cfg, &v, 1767225600, &b);
    CU_ASSERT_EQUAL(ml_fault_apply(&flip, ML_METER_DSMR50, &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(feed_dsmr(&b), DSMR_VERDICT_CRC_FAIL);
    b.len = 0;
    ml_meter_render(&cfg, &v, 1767225600, &b);
    CU_ASSERT_EQUAL(ml_fault_apply(&big, ML_METER_DSMR50, &b, err, sizeof err), 0);
    CU_ASSERT_TRUE(b.len > ML_DSMR_MAX_TELEGRAM);
    uint8_t *bang = memrchr(b.p, '!', b.len);
    char want[12];
    snprintf(want, sizeof want, "%04X", crc_bitwise(b.p, (size_t)(bang - b.p) + 1));
    CU_ASSERT_NSTRING_EQUAL(bang + 1, want, 4); /* a valid CRC, only too long */
    CU_ASSERT_EQUAL(feed_dsmr(&b), DSMR_VERDICT_FRAME_FAIL);
    /* no CRC to corrupt in DSMR 2.2 */
    struct ml_meter_cfg old = {.proto = ML_METER_DSMR22, .phases = 1};
    b.len = 0;
    ml_meter_values_defaults(&v, ML_METER_DSMR22, 1);
    ml_meter_render(&old, &v, 1767225600, &b);
    CU_ASSERT_EQUAL(ml_fault_apply(&crc, ML_METER_DSMR22, &b, err, sizeof err), -1);
    /* TIC: a wrong group checksum */
    struct ml_meter_cfg tic = {.proto = ML_METER_TIC, .phases = 1};
    b.len = 0;
    ml_meter_values_defaults(&v, ML_METER_TIC, 1);
    ml_meter_render(&tic, &v, 1767225600, &b);
    CU_ASSERT_EQUAL(ml_fault_apply(&crc, ML_METER_TIC, &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(feed_tic(&b), TIC_VERDICT_CRC_FAIL);
    ml_buf_free(&b);
}

static void test_meter_line_mangle(void)
{
    const uint8_t text[] = "/ISk5\\2MT382-1000\r\n";
    struct ml_line l8n1 = {115200, 8, 'N', 1}, l7e1 = {9600, 7, 'E', 1};
    struct ml_line h = {1200, 7, 'E', 1};
    struct ml_buf same = {0}, slow = {0}, tic = {0};
    ml_line_mangle(text, sizeof text - 1, &l8n1, &l8n1, &same);
    CU_ASSERT_EQUAL(same.len, sizeof text - 1);
    CU_ASSERT_EQUAL(memcmp(same.p, text, same.len), 0);
    /* 7E1 on the wire read at 7E1 is the identity too */
    struct ml_buf s7 = {0};
    ml_line_mangle(text, sizeof text - 1, &l7e1, &l7e1, &s7);
    CU_ASSERT_EQUAL(s7.len, sizeof text - 1);
    CU_ASSERT_EQUAL(memcmp(s7.p, text, s7.len), 0);
    /* 9600 into 115200: garbage, never the text */
    ml_line_mangle(text, sizeof text - 1, &l7e1, &l8n1, &slow);
    CU_ASSERT_TRUE(slow.len > 0);
    CU_ASSERT_PTR_NULL(memmem(slow.p, slow.len, "ISk", 3));
    /* historic 1200 baud seen at 9600: essentially NULs (tic.md §1) */
    ml_line_mangle(text, sizeof text - 1, &h, &l7e1, &tic);
    size_t nul = 0;
    for (size_t i = 0; i < tic.len; i++) {
        nul += tic.p[i] == 0;
    }
    CU_ASSERT_TRUE(tic.len > 0 && nul * 2 > tic.len);
    ml_buf_free(&same);
    ml_buf_free(&s7);
    ml_buf_free(&slow);
    ml_buf_free(&tic);
}

static void test_meter_noise_avoids_delimiters(void)
{
    struct ml_buf b = {0};
    ml_meter_noise(ML_METER_DSMR50, 4000, 7, false, &b);
    CU_ASSERT_EQUAL(b.len, 4000);
    CU_ASSERT_PTR_NULL(memchr(b.p, '/', b.len));
    CU_ASSERT_PTR_NULL(memchr(b.p, '!', b.len));
    b.len = 0;
    ml_meter_noise(ML_METER_TIC, 4000, 7, false, &b);
    CU_ASSERT_PTR_NULL(memchr(b.p, 0x02, b.len));
    CU_ASSERT_PTR_NULL(memchr(b.p, '\n', b.len));
    ml_buf_free(&b);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_meter_crc_reference_vector", test_meter_crc_reference_vector},
        {"test_meter_dsmr_every_version_parses_and_crc_is_right",
         test_meter_dsmr_every_version_parses_and_crc_is_right},
        {"test_meter_dsmr_signed_power_splits", test_meter_dsmr_signed_power_splits},
        {"test_meter_phases_follow_the_total", test_meter_phases_follow_the_total},
        {"test_meter_tic_frames_parse_and_checksums_are_right",
         test_meter_tic_frames_parse_and_checksums_are_right},
        {"test_meter_tic_historic_is_recognised", test_meter_tic_historic_is_recognised},
        {"test_meter_faults_give_the_verdicts", test_meter_faults_give_the_verdicts},
        {"test_meter_line_mangle", test_meter_line_mangle},
        {"test_meter_noise_avoids_delimiters", test_meter_noise_avoids_delimiters},
    };
    return ml_test_run("meter", cases, sizeof cases / sizeof cases[0], NULL, NULL);
}

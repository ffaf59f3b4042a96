/* Unit tests for core/common: CRCs, ring, span, string helpers, text writer, timer. */
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "err.h"
#include "ml_test.h"
#include "ring.h"
#include "span.h"
#include "str.h"
#include "text.h"
#include "timer.h"

static const char check[] = "123456789";

/* Check values are the CRC catalogue's (reveng), not computed by our code. */
static void test_common_crc16_p1_check_value(void)
{
    CU_ASSERT_EQUAL(ml_crc16_p1(check, 9), 0xBB3D);
    CU_ASSERT_EQUAL(ml_crc16_p1("", 0), 0x0000);
}

static void test_common_crc16_modbus_check_value(void)
{
    CU_ASSERT_EQUAL(ml_crc16_modbus(check, 9), 0x4B37);
    /* Read holding registers, slave 1, addr 0, count 1: 01 03 00 00 00 01 84 0A on the wire. */
    const uint8_t req[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x01};
    uint16_t crc = ml_crc16_modbus(req, sizeof req);
    CU_ASSERT_EQUAL(crc & 0xFF, 0x84);
    CU_ASSERT_EQUAL(crc >> 8, 0x0A);
}

static void test_common_crc16_incremental_equals_block(void)
{
    uint16_t a = ml_crc16_p1(check, 9);
    uint16_t b = ML_CRC16_P1_INIT;
    for (int i = 0; i < 9; i++) {
        b = ml_crc16_update(b, (uint8_t)check[i]);
    }
    CU_ASSERT_EQUAL(a, b);
    CU_ASSERT_EQUAL(ml_crc16_block(ml_crc16_block(0, check, 4), check + 4, 5), a);
}

static void test_common_crc16_p1_real_telegram(void)
{
    /* The DSMR 5.0.2 example telegram (scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt): CRC E47C. */
    size_t len;
    uint8_t *t = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    const uint8_t *bang = memchr(t, '!', len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bang);
    CU_ASSERT_EQUAL(ml_crc16_p1(t, (size_t)(bang - t) + 1u), 0xE47C);
    free(t);
}

/* CRC-16/ARC by its definition: reflected poly 0x8005 (0xA001), one bit at a time. */
static uint16_t crc16_bitwise(uint16_t c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++) {
            c = (c & 1u) ? (uint16_t)((c >> 1) ^ 0xA001u) : (uint16_t)(c >> 1);
        }
    }
    return c;
}

/* Random data of every length 0..1200 (the host's carry-less multiply path from 64 bytes,
 * the table below and for the tail), at 4 alignments, with a random initial CRC. */
static void test_common_crc16_block_equals_definition(void)
{
    static uint8_t buf[1200 + 3];
    uint32_t s = 0x2545F491u; /* xorshift32 */
    for (size_t i = 0; i < sizeof buf; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        buf[i] = (uint8_t)s;
    }
    unsigned bad = 0;
    for (size_t len = 0; len <= 1200; len++) {
        for (size_t off = 0; off < 4; off++) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            uint16_t init = (uint16_t)(len == 0 ? 0u : s);
            bad += ml_crc16_block(init, buf + off, len) != crc16_bitwise(init, buf + off, len);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* All ones and all zeros, with both standard initial values. */
    memset(buf, 0xFF, sizeof buf);
    CU_ASSERT_EQUAL(ml_crc16_modbus(buf, 1000), crc16_bitwise(0xFFFFu, buf, 1000));
    memset(buf, 0, sizeof buf);
    CU_ASSERT_EQUAL(ml_crc16_modbus(buf, 1000), crc16_bitwise(0xFFFFu, buf, 1000));
    CU_ASSERT_EQUAL(ml_crc16_p1(buf, 1000), 0);
}

static void test_common_crc32_check_value(void)
{
    CU_ASSERT_EQUAL(ml_crc32(ML_CRC32_INIT, check, 9), 0xCBF43926u);
    CU_ASSERT_EQUAL(ml_crc32(ml_crc32(ML_CRC32_INIT, check, 3), check + 3, 6), 0xCBF43926u);
}

static void test_common_ring_fifo_and_full(void)
{
    uint8_t store[8];
    struct ml_ring r;
    CU_ASSERT_EQUAL(ml_ring_init(&r, store, 6), ML_EINVAL); /* not a power of two */
    CU_ASSERT_EQUAL(ml_ring_init(&r, store, 8), ML_OK);
    CU_ASSERT_TRUE(ml_ring_is_empty(&r));
    CU_ASSERT_EQUAL(ml_ring_write(&r, "abcdefghij", 10), 8);
    CU_ASSERT_EQUAL(r.dropped, 2);
    CU_ASSERT_EQUAL(ml_ring_put(&r, 'z'), ML_ENOSPC);
    CU_ASSERT_EQUAL(r.dropped, 3);
    uint8_t b;
    CU_ASSERT_EQUAL(ml_ring_peek(&r, 7, &b), ML_OK);
    CU_ASSERT_EQUAL(b, 'h');
    char out[8];
    CU_ASSERT_EQUAL(ml_ring_read(&r, out, 5), 5);
    CU_ASSERT_EQUAL(memcmp(out, "abcde", 5), 0);
    CU_ASSERT_EQUAL(ml_ring_count(&r), 3);
    CU_ASSERT_EQUAL(ml_ring_space(&r), 5);
    CU_ASSERT_EQUAL(ml_ring_get(&r, &b), ML_OK);
    CU_ASSERT_EQUAL(b, 'f');
    ml_ring_clear(&r);
    CU_ASSERT_EQUAL(ml_ring_get(&r, &b), ML_EAGAIN);
}

static void test_common_ring_wraps_indices(void)
{
    uint8_t store[4];
    struct ml_ring r;
    ml_ring_init(&r, store, 4);
    r.head = r.tail = UINT32_MAX - 1u; /* indices about to wrap */
    CU_ASSERT_EQUAL(ml_ring_write(&r, "wxyz", 4), 4);
    CU_ASSERT_EQUAL(ml_ring_count(&r), 4);
    char out[4];
    CU_ASSERT_EQUAL(ml_ring_read(&r, out, 4), 4);
    CU_ASSERT_EQUAL(memcmp(out, "wxyz", 4), 0);
}

static void test_common_span_compare(void)
{
    struct ml_span s = ml_span_from_cstr("1-0:1.8.1");
    CU_ASSERT_EQUAL(s.len, 9);
    CU_ASSERT_TRUE(ml_span_eq_cstr(s, "1-0:1.8.1"));
    CU_ASSERT_FALSE(ml_span_eq_cstr(s, "1-0:1.8.2"));
    CU_ASSERT_TRUE(ml_span_starts_with(s, "1-0:"));
    CU_ASSERT_FALSE(ml_span_starts_with(s, "1-0:1.8.1.255"));
    CU_ASSERT_TRUE(ml_span_eq_cstr(ml_span_sub(s, 4, 100), "1.8.1"));
    CU_ASSERT_EQUAL(ml_span_sub(s, 50, 3).len, 0);
}

static void test_common_str_helpers(void)
{
    char b[6];
    CU_ASSERT_EQUAL(ml_str_len("mqtt"), 4);
    CU_ASSERT_EQUAL(ml_str_len(""), 0);
    CU_ASSERT_EQUAL(ml_str_len(NULL), 0);
    memset(b, 'x', sizeof b);
    CU_ASSERT_TRUE(ml_str_copy(b, sizeof b, "abcde"));
    CU_ASSERT_STRING_EQUAL(b, "abcde");
    CU_ASSERT_FALSE(ml_str_copy(b, sizeof b, "abcdefgh")); /* cut, still terminated */
    CU_ASSERT_STRING_EQUAL(b, "abcde");
    CU_ASSERT_TRUE(ml_str_copy(b, sizeof b, NULL));
    CU_ASSERT_STRING_EQUAL(b, "");
    CU_ASSERT_FALSE(ml_str_copy(b, 0, "a")); /* nothing written at all */
    CU_ASSERT_TRUE(ml_str_copy_n(b, sizeof b, "hostname", 4));
    CU_ASSERT_STRING_EQUAL(b, "host");
    CU_ASSERT_TRUE(ml_str_eq_n("mqtts://x", 8, "mqtts://"));
    CU_ASSERT_FALSE(ml_str_eq_n("mqtts://x", 9, "mqtts://"));
    CU_ASSERT_FALSE(ml_str_eq_n("mqtt", 4, "mqtts"));
    CU_ASSERT_TRUE(ml_str_eq_n("", 0, ""));
    CU_ASSERT_TRUE(ml_str_starts_n("OK\r\n", 4, "OK"));
    CU_ASSERT_FALSE(ml_str_starts_n("O", 1, "OK")); /* never reads past len */
    uint8_t z[4] = {1, 2, 3, 4}, c[4] = {0};
    ml_mem_copy(c, z, 3);
    CU_ASSERT_EQUAL(memcmp(c, "\x01\x02\x03\x00", 4), 0);
    ml_mem_zero(z, 2);
    CU_ASSERT_EQUAL(memcmp(z, "\x00\x00\x03\x04", 4), 0);
}

static void test_common_text_writes_and_bounds(void)
{
    char b[16];
    struct ml_text t;
    ml_text_init(&t, b, sizeof b);
    ml_text_put(&t, "{\"a\":");
    ml_text_u64(&t, 18446744073709551615u);
    CU_ASSERT_EQUAL(ml_text_end(&t), ML_ENOSPC); /* 5 + 20 > 15 */
    CU_ASSERT_TRUE(t.overflow);
    CU_ASSERT_EQUAL(t.len, 15);
    CU_ASSERT_EQUAL(t.want, 25);
    CU_ASSERT_STRING_EQUAL(b, "{\"a\":1844674407");
    ml_text_init(&t, b, sizeof b);
    ml_text_putc(&t, '[');
    ml_text_u64(&t, 0);
    ml_text_put_n(&t, ",7]xyz", 3);
    CU_ASSERT_EQUAL(ml_text_end(&t), 5);
    CU_ASSERT_STRING_EQUAL(b, "[0,7]");
    /* exactly cap - 1 bytes fit; one more does not */
    ml_text_init(&t, b, 4);
    ml_text_put(&t, "abc");
    CU_ASSERT_EQUAL(ml_text_end(&t), 3);
    ml_text_putc(&t, 'd');
    CU_ASSERT_EQUAL(ml_text_end(&t), ML_ENOSPC);
    CU_ASSERT_STRING_EQUAL(b, "abc");
    /* a NULL buffer measures */
    ml_text_init(&t, NULL, 0);
    ml_text_put(&t, "hello");
    ml_text_json_str(&t, "a\"b", 3);
    CU_ASSERT_EQUAL(ml_text_end(&t), 11);
}

static void test_common_text_fixed_point(void)
{
    static const struct {
        int64_t v;
        int exp10;
        const char *want;
    } cases[] = {
        {230100, -3, "230.1"},
        {-4023000, -3, "-4023"},
        {-500, -3, "-0.5"},
        {0, -3, "0"},
        {1, -3, "0.001"},
        {2317482647LL, 0, "2317482647"},
        {7, 2, "7"},
        {INT64_MIN, -3, "-9223372036854775.808"},
        {INT64_MAX, 0, "9223372036854775807"},
    };
    for (size_t i = 0; i < ML_ARRAY_SIZE(cases); i++) {
        char b[32];
        struct ml_text t;
        ml_text_init(&t, b, sizeof b);
        ml_text_fixed(&t, cases[i].v, cases[i].exp10);
        CU_ASSERT_TRUE(ml_text_end(&t) > 0);
        CU_ASSERT_STRING_EQUAL(b, cases[i].want);
    }
}

static void test_common_text_json_escapes(void)
{
    char b[64];
    struct ml_text t;
    ml_text_init(&t, b, sizeof b);
    ml_text_json_str(&t, "q\"b\\\n\x01\x7f\xc3\xa9", 9);
    CU_ASSERT_EQUAL(ml_text_end(&t), 28);
    CU_ASSERT_STRING_EQUAL(b, "\"q\\\"b\\\\\\u000a\\u0001\\u007f\xc3\xa9\"");
}

static void test_common_timer_periodic_no_drift(void)
{
    struct ml_timer t;
    ml_timer_start(&t, 100, 1000, 1000);
    CU_ASSERT_FALSE(ml_timer_is_due(&t, 1099));
    CU_ASSERT_TRUE(ml_timer_is_due(&t, 1100));
    CU_ASSERT_EQUAL(t.due_ms, 2100);
    CU_ASSERT_TRUE(ml_timer_is_due(&t, 4500)); /* late: skips missed periods */
    CU_ASSERT_EQUAL(t.due_ms, 5100);
    CU_ASSERT_EQUAL(ml_timer_earliest(&t, 9999), 5100);
    ml_timer_stop(&t);
    CU_ASSERT_EQUAL(ml_timer_earliest(&t, 9999), 9999);
    ml_timer_start(&t, 0, 10, 0);
    CU_ASSERT_TRUE(ml_timer_is_due(&t, 10));
    CU_ASSERT_FALSE(ml_timer_is_due(&t, 20)); /* one-shot disarmed */
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_common_crc16_p1_check_value", test_common_crc16_p1_check_value},
        {"test_common_crc16_modbus_check_value", test_common_crc16_modbus_check_value},
        {"test_common_crc16_incremental_equals_block", test_common_crc16_incremental_equals_block},
        {"test_common_crc16_p1_real_telegram", test_common_crc16_p1_real_telegram},
        {"test_common_crc16_block_equals_definition", test_common_crc16_block_equals_definition},
        {"test_common_crc32_check_value", test_common_crc32_check_value},
        {"test_common_ring_fifo_and_full", test_common_ring_fifo_and_full},
        {"test_common_ring_wraps_indices", test_common_ring_wraps_indices},
        {"test_common_span_compare", test_common_span_compare},
        {"test_common_str_helpers", test_common_str_helpers},
        {"test_common_text_writes_and_bounds", test_common_text_writes_and_bounds},
        {"test_common_text_fixed_point", test_common_text_fixed_point},
        {"test_common_text_json_escapes", test_common_text_json_escapes},
        {"test_common_timer_periodic_no_drift", test_common_timer_periodic_no_drift},
    };
    return ml_test_run("common", cases, ML_ARRAY_SIZE(cases), NULL, NULL);
}

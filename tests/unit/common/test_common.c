/* Unit tests for core/common: CRCs, ring, span, timer. */
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "err.h"
#include "ml_test.h"
#include "ring.h"
#include "span.h"
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
        {"test_common_crc32_check_value", test_common_crc32_check_value},
        {"test_common_ring_fifo_and_full", test_common_ring_fifo_and_full},
        {"test_common_ring_wraps_indices", test_common_ring_wraps_indices},
        {"test_common_span_compare", test_common_span_compare},
        {"test_common_timer_periodic_no_drift", test_common_timer_periodic_no_drift},
    };
    return ml_test_run("common", cases, ML_ARRAY_SIZE(cases), NULL, NULL);
}

/*
 * Unit tests of the Modbus slave engine: PDU exceptions, RTU framing by t3.5
 * on byte stamps (CRC, address filter, broadcast, garbage), MBAP framing
 * (segments, protocol id, length). Frames are written by hand from the Modbus
 * specifications and the captures in modbus-maps.md §0.2.
 */
#include <string.h>

#include "crc.h"
#include "err.h"
#include "ml_test.h"
#include "modbus/modbus.h"

/* ------------------------------------------------------------------------- */
/* A recording data source: register n reads n + 0x1000, writes are logged  */
/* ------------------------------------------------------------------------- */

static struct {
    int reads;
    uint8_t last_fc;
    int writes;
    uint16_t waddr;
    uint16_t wcount;
    uint16_t wvals[130];
    int zero; /* read returns zeros (for the Vestel capture) */
} rec;

static int rec_read(void *ctx, uint8_t fc, uint16_t addr, uint16_t count, uint16_t *out)
{
    (void)ctx;
    rec.reads++;
    rec.last_fc = fc;
    for (uint16_t i = 0; i < count; i++) {
        out[i] = rec.zero ? 0 : (uint16_t)(addr + i + 0x1000u);
    }
    return 0;
}

static int rec_write(void *ctx, uint16_t addr, uint16_t count, const uint16_t *vals)
{
    (void)ctx;
    if (addr == 0xDEAD) {
        return MB_EX_ILLEGAL_ADDRESS;
    }
    rec.writes++;
    rec.waddr = addr;
    rec.wcount = count;
    memcpy(rec.wvals, vals, count * sizeof vals[0]);
    return 0;
}

static struct mb_slave slave;
static struct mb_rtu rtu;
static struct mb_tcp tcp;
static uint8_t out[300];

static void setup(void)
{
    memset(&rec, 0, sizeof rec);
    mb_slave_init(&slave, rec_read, rec_write, NULL);
    mb_rtu_init(&rtu, &slave, 1, 9600, 11);
    mb_tcp_init(&tcp, &slave);
}

static void teardown(void)
{
    /* invariants: the framers are idle again after each case */
    CU_ASSERT_TRUE(mb_rtu_is_idle(&rtu));
    CU_ASSERT_EQUAL(tcp.len, 0);
}

static int pdu(const uint8_t *req, size_t len)
{
    return mb_slave_handle_pdu(&slave, req, len, out, sizeof out);
}

/* ------------------------------------------------------------------------- */
/* PDU                                                                       */
/* ------------------------------------------------------------------------- */

static void test_modbus_read_holding_and_input(void)
{
    static const uint8_t req[] = {0x03, 0x80, 0x06, 0x00, 0x02};
    CU_ASSERT_EQUAL(pdu(req, sizeof req), 6);
    static const uint8_t want[] = {0x03, 0x04, 0x90, 0x06, 0x90, 0x07};
    CU_ASSERT_EQUAL(memcmp(out, want, 6), 0);
    static const uint8_t req4[] = {0x04, 0x00, 0x00, 0x00, 0x7D}; /* 125 registers */
    CU_ASSERT_EQUAL(pdu(req4, sizeof req4), 2 + 250);
    CU_ASSERT_EQUAL(rec.last_fc, 0x04);
    CU_ASSERT_EQUAL(out[1], 250);
}

static void test_modbus_exceptions(void)
{
    static const uint8_t count0[] = {0x03, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t count126[] = {0x04, 0x00, 0x00, 0x00, 0x7E};
    static const uint8_t fc01[] = {0x01, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t fc2b[] = {0x2B, 0x0E, 0x01, 0x00};
    static const uint8_t overflow[] = {0x03, 0xFF, 0xFF, 0x00, 0x02};
    static const uint8_t edge[] = {0x03, 0xFF, 0xFF, 0x00, 0x01};
    static const uint8_t shortpdu[] = {0x03, 0x00, 0x00};
    CU_ASSERT_EQUAL(pdu(count0, 5), 2);
    CU_ASSERT_EQUAL(out[0], 0x83);
    CU_ASSERT_EQUAL(out[1], 0x03);
    CU_ASSERT_EQUAL(pdu(count126, 5), 2);
    CU_ASSERT_EQUAL(out[0], 0x84);
    CU_ASSERT_EQUAL(out[1], 0x03);
    CU_ASSERT_EQUAL(pdu(fc01, 5), 2);
    CU_ASSERT_EQUAL(out[0], 0x81);
    CU_ASSERT_EQUAL(out[1], 0x01);
    CU_ASSERT_EQUAL(pdu(fc2b, 4), 2);
    CU_ASSERT_EQUAL(out[0], 0xAB);
    CU_ASSERT_EQUAL(out[1], 0x01);
    CU_ASSERT_EQUAL(pdu(overflow, 5), 2);
    CU_ASSERT_EQUAL(out[1], 0x02);
    CU_ASSERT_EQUAL(pdu(edge, 5), 4); /* 0xFFFF itself is readable */
    CU_ASSERT_EQUAL(pdu(shortpdu, 3), 2);
    CU_ASSERT_EQUAL(out[1], 0x03);
    CU_ASSERT_EQUAL(slave.stats.exceptions, 6);
    CU_ASSERT_EQUAL(slave.stats.requests, 7);
    CU_ASSERT_EQUAL(mb_slave_handle_pdu(&slave, fc01, 0, out, sizeof out), ML_EINVAL);
    CU_ASSERT_EQUAL(mb_slave_handle_pdu(&slave, count126, 5, out, 1), ML_ENOSPC);
}

static void test_modbus_writes(void)
{
    static const uint8_t w6[] = {0x06, 0x00, 0x10, 0xAB, 0xCD};
    CU_ASSERT_EQUAL(pdu(w6, 5), 5);
    CU_ASSERT_EQUAL(memcmp(out, w6, 5), 0);
    CU_ASSERT_EQUAL(rec.waddr, 0x0010);
    CU_ASSERT_EQUAL(rec.wvals[0], 0xABCD);
    static const uint8_t w16[] = {0x10, 0x00, 0x20, 0x00, 0x02, 0x04, 0x12, 0x34, 0x56, 0x78};
    CU_ASSERT_EQUAL(pdu(w16, sizeof w16), 5);
    static const uint8_t want16[] = {0x10, 0x00, 0x20, 0x00, 0x02};
    CU_ASSERT_EQUAL(memcmp(out, want16, 5), 0);
    CU_ASSERT_EQUAL(rec.wcount, 2);
    CU_ASSERT_EQUAL(rec.wvals[1], 0x5678);
    static const uint8_t badbc[] = {0x10, 0x00, 0x20, 0x00, 0x02, 0x03, 0x12, 0x34, 0x56};
    CU_ASSERT_EQUAL(pdu(badbc, sizeof badbc), 2);
    CU_ASSERT_EQUAL(out[1], 0x03);
    static const uint8_t refused[] = {0x06, 0xDE, 0xAD, 0x00, 0x01};
    CU_ASSERT_EQUAL(pdu(refused, 5), 2);
    CU_ASSERT_EQUAL(out[0], 0x86);
    CU_ASSERT_EQUAL(out[1], 0x02);
    CU_ASSERT_EQUAL(rec.writes, 2);
    /* FC 0x10 disabled (P1MB: FC03/04/06 only) */
    slave.fc_mask = MB_FCBIT_03 | MB_FCBIT_04 | MB_FCBIT_06;
    CU_ASSERT_EQUAL(pdu(w16, sizeof w16), 2);
    CU_ASSERT_EQUAL(out[0], 0x90);
    CU_ASSERT_EQUAL(out[1], 0x01);
}

/* ------------------------------------------------------------------------- */
/* RTU                                                                       */
/* ------------------------------------------------------------------------- */

static void test_modbus_rtu_t35(void)
{
    CU_ASSERT_EQUAL(mb_rtu_t35_us(9600, 11), 4011); /* 3.5 * 11 / 9600 s = 4.0104 ms */
    CU_ASSERT_EQUAL(mb_rtu_t35_us(9600, 10), 3646); /* 8N1 */
    CU_ASSERT_EQUAL(mb_rtu_t35_us(19200, 11), 2006);
    CU_ASSERT_EQUAL(mb_rtu_t35_us(38400, 11), 1750); /* fixed above 19200 */
    CU_ASSERT_EQUAL(mb_rtu_t35_us(115200, 10), 1750);
    CU_ASSERT_EQUAL(mb_rtu_t35_us(1200, 11), 32084);
    CU_ASSERT_EQUAL(rtu.t35_us, 4011);
}

static uint32_t ts[600];

static void stamps(size_t n, uint32_t t0, uint32_t step)
{
    for (size_t i = 0; i < n; i++) {
        ts[i] = t0 + (uint32_t)i * step;
    }
}

static void test_modbus_rtu_vestel_capture(void)
{
    /* modbus-maps.md §0.2: Vestel EVC04 polls 0x500C x 6; an all-zero answer */
    static const uint8_t req[] = {0x01, 0x03, 0x50, 0x0C, 0x00, 0x06, 0x14, 0xCB};
    static const uint8_t want[] = {0x01, 0x03, 0x0C, 0, 0, 0, 0,    0,   0,
                                   0,    0,    0,    0, 0, 0, 0x93, 0x70};
    rec.zero = 1;
    size_t used;
    stamps(8, 1000, 1146); /* one 11-bit char every 1.146 ms at 9600 baud */
    CU_ASSERT_EQUAL(mb_rtu_feed(&rtu, req, ts, 8, &used, out, sizeof out), 0);
    CU_ASSERT_EQUAL(used, 8);
    uint32_t last = ts[7];
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, last + 4010, out, sizeof out), 0); /* not yet silent */
    /* deadline: last + 4011 µs, in ms rounded up */
    CU_ASSERT_EQUAL(mb_rtu_deadline_ms(&rtu, last), (last + 4011 + 999) / 1000);
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, last + 4011, out, sizeof out), (int)sizeof want);
    CU_ASSERT_EQUAL(memcmp(out, want, sizeof want), 0);
    CU_ASSERT_TRUE(mb_rtu_is_idle(&rtu));
    CU_ASSERT_EQUAL(mb_rtu_deadline_ms(&rtu, last + 5000), UINT64_MAX);
    CU_ASSERT_EQUAL(rtu.stats.frames_ok, 1);
}

static void test_modbus_rtu_gap_ends_frame_inside_one_feed(void)
{
    /* the CSMB device-code poll (modbus-maps.md §0.2) twice, 5 ms apart */
    static const uint8_t two[] = {0x01, 0x03, 0x40, 0x02, 0x00, 0x01, 0x30, 0x0A,
                                  0x01, 0x03, 0x40, 0x02, 0x00, 0x01, 0x30, 0x0A};
    stamps(8, 0, 100);
    stamps(8, 0, 100);
    for (size_t i = 8; i < 16; i++) {
        ts[i] = 5700 + (uint32_t)(i - 8) * 100;
    }
    size_t used;
    int n = mb_rtu_feed(&rtu, two, ts, 16, &used, out, sizeof out);
    CU_ASSERT_EQUAL(n, 7);
    CU_ASSERT_EQUAL(used, 8);
    /* register 0x4002 reads 0x5002 from the recording source */
    static const uint8_t want[] = {0x01, 0x03, 0x02, 0x50, 0x02};
    CU_ASSERT_EQUAL(memcmp(out, want, 5), 0);
    uint16_t crc = ml_crc16_modbus(out, 5);
    CU_ASSERT_EQUAL(out[5], crc & 0xFF);
    CU_ASSERT_EQUAL(out[6], crc >> 8);
    n = mb_rtu_feed(&rtu, two + 8, ts + 8, 8, &used, out, sizeof out);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(used, 8);
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, ts[15] + 5000, out, sizeof out), 7);
    CU_ASSERT_EQUAL(rtu.stats.frames_ok, 2);
}

static void test_modbus_rtu_crc_address_broadcast_garbage(void)
{
    size_t used;
    uint32_t t = 100000;
    /* bad CRC */
    static const uint8_t bad[] = {0x01, 0x03, 0x50, 0x0C, 0x00, 0x06, 0x14, 0xCC};
    stamps(8, t, 0);
    mb_rtu_feed(&rtu, bad, ts, 8, &used, out, sizeof out);
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, t + 10000, out, sizeof out), 0);
    CU_ASSERT_EQUAL(rtu.stats.crc_errors, 1);
    /* slave 2 (CRC of 02 03 50 0C 00 06 computed by the independent CRC in core/common) */
    uint8_t other[8] = {0x02, 0x03, 0x50, 0x0C, 0x00, 0x06};
    uint16_t c = ml_crc16_modbus(other, 6);
    other[6] = (uint8_t)c;
    other[7] = (uint8_t)(c >> 8);
    t += 20000;
    stamps(8, t, 0);
    mb_rtu_feed(&rtu, other, ts, 8, &used, out, sizeof out);
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, t + 10000, out, sizeof out), 0);
    CU_ASSERT_EQUAL(rtu.stats.wrong_address, 1);
    /* broadcast FC06: executed, no reply */
    uint8_t bc[8] = {0x00, 0x06, 0x00, 0x42, 0x12, 0x34};
    c = ml_crc16_modbus(bc, 6);
    bc[6] = (uint8_t)c;
    bc[7] = (uint8_t)(c >> 8);
    t += 20000;
    stamps(8, t, 0);
    mb_rtu_feed(&rtu, bc, ts, 8, &used, out, sizeof out);
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, t + 10000, out, sizeof out), 0);
    CU_ASSERT_EQUAL(rec.writes, 1);
    CU_ASSERT_EQUAL(rec.waddr, 0x42);
    CU_ASSERT_EQUAL(rec.wvals[0], 0x1234);
    CU_ASSERT_EQUAL(rtu.stats.broadcasts, 1);
    /* 3 stray bytes, then 300 bytes of noise: garbage */
    t += 20000;
    stamps(3, t, 0);
    mb_rtu_feed(&rtu, bad, ts, 3, &used, out, sizeof out);
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, t + 10000, out, sizeof out), 0);
    uint8_t noise[300];
    memset(noise, 0x55, sizeof noise);
    t += 20000;
    stamps(300, t, 0);
    mb_rtu_feed(&rtu, noise, ts, 300, &used, out, sizeof out);
    CU_ASSERT_EQUAL(used, 300);
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, t + 10000, out, sizeof out), 0);
    CU_ASSERT_EQUAL(rtu.stats.garbage_bytes, 303);
    CU_ASSERT_EQUAL(rtu.stats.frames_ok, 1);
    CU_ASSERT_TRUE(mb_rtu_is_idle(&rtu));
}

static void test_modbus_rtu_stamp_wrap(void)
{
    static const uint8_t req[] = {0x01, 0x03, 0x50, 0x0C, 0x00, 0x06, 0x14, 0xCB};
    size_t used;
    stamps(8, 0xFFFFF000u, 500); /* crosses the 32-bit wrap */
    mb_rtu_feed(&rtu, req, ts, 8, &used, out, sizeof out);
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, ts[7] + 100, out, sizeof out), 0);
    CU_ASSERT_EQUAL(mb_rtu_poll(&rtu, ts[7] + 4011, out, sizeof out), 17);
}

/* ------------------------------------------------------------------------- */
/* TCP                                                                       */
/* ------------------------------------------------------------------------- */

static const uint8_t tcp_req[] = {0x12, 0x34, 0x00, 0x00, 0x00, 0x06,
                                  0x07, 0x03, 0x80, 0x06, 0x00, 0x01};
static const uint8_t tcp_ans[] = {0x12, 0x34, 0x00, 0x00, 0x00, 0x05, 0x07, 0x03, 0x02, 0x90, 0x06};

static void test_modbus_tcp_two_requests_one_segment(void)
{
    uint8_t seg[24];
    memcpy(seg, tcp_req, 12);
    memcpy(seg + 12, tcp_req, 12);
    seg[13] = 0x35;
    size_t used;
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, seg, 24, &used, out, sizeof out), 11);
    CU_ASSERT_EQUAL(used, 12);
    CU_ASSERT_EQUAL(memcmp(out, tcp_ans, 11), 0);
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, seg + 12, 12, &used, out, sizeof out), 11);
    CU_ASSERT_EQUAL(out[1], 0x35);
    CU_ASSERT_EQUAL(tcp.stats.frames_ok, 2);
}

static void test_modbus_tcp_split_request(void)
{
    size_t used;
    for (size_t i = 0; i < 11; i++) {
        CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, &tcp_req[i], 1, &used, out, sizeof out), 0);
        CU_ASSERT_EQUAL(used, 1);
    }
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, &tcp_req[11], 1, &used, out, sizeof out), 11);
    CU_ASSERT_EQUAL(memcmp(out, tcp_ans, 11), 0);
    /* split 5 + 7 plus the first 3 bytes of the next request */
    uint8_t seg[15];
    memcpy(seg, tcp_req + 5, 7);
    memcpy(seg + 7, tcp_req, 8);
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, tcp_req, 5, &used, out, sizeof out), 0);
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, seg, 15, &used, out, sizeof out), 11);
    CU_ASSERT_EQUAL(used, 7);
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, seg + 7, 8, &used, out, sizeof out), 0);
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, tcp_req + 8, 4, &used, out, sizeof out), 11);
}

static void test_modbus_tcp_bad_protocol_and_length(void)
{
    size_t used;
    uint8_t r[12];
    memcpy(r, tcp_req, 12);
    r[3] = 0x01; /* protocol id 1 */
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, r, 12, &used, out, sizeof out), ML_EPROTO);
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, tcp_req, 12, &used, out, sizeof out), ML_EPROTO);
    mb_tcp_reset(&tcp);
    memcpy(r, tcp_req, 12);
    r[5] = 0x01; /* length 1: no function code */
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, r, 12, &used, out, sizeof out), ML_EPROTO);
    mb_tcp_reset(&tcp);
    r[4] = 0x00;
    r[5] = 0xFF; /* 255 > 254 */
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, r, 7, &used, out, sizeof out), ML_EPROTO);
    mb_tcp_reset(&tcp);
    /* header split: the bad length is found once the 7th byte arrives */
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, r, 4, &used, out, sizeof out), 0);
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, r + 4, 3, &used, out, sizeof out), ML_EPROTO);
    CU_ASSERT_EQUAL(tcp.stats.protocol_errors, 4);
    mb_tcp_reset(&tcp);
    /* length 2: just a function code -> exception 0x01 for FC 0x07 */
    static const uint8_t fc7[] = {0, 1, 0, 0, 0, 2, 9, 0x07};
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, fc7, 8, &used, out, sizeof out), 9);
    CU_ASSERT_EQUAL(out[7], 0x87);
    CU_ASSERT_EQUAL(out[8], 0x01);
    CU_ASSERT_EQUAL(out[6], 9);
    CU_ASSERT_EQUAL(mb_tcp_feed(&tcp, fc7, 8, &used, out, 10), ML_ENOSPC);
}

static void test_modbus_ops_tables(void)
{
    size_t used;
    CU_ASSERT_STRING_EQUAL(mb_tcp_ops.name, "tcp");
    CU_ASSERT_EQUAL(mb_tcp_ops.feed(&tcp, tcp_req, NULL, 12, &used, out, sizeof out), 11);
    CU_ASSERT_EQUAL(mb_tcp_ops.deadline_ms(&tcp, 0), UINT64_MAX);
    CU_ASSERT_EQUAL(mb_tcp_ops.poll(&tcp, 0, out, sizeof out), 0);
    static const uint8_t req[] = {0x01, 0x03, 0x50, 0x0C, 0x00, 0x06, 0x14, 0xCB};
    stamps(8, 0, 0);
    CU_ASSERT_EQUAL(mb_rtu_ops.feed(&rtu, req, ts, 8, &used, out, sizeof out), 0);
    CU_ASSERT_EQUAL(mb_rtu_ops.deadline_ms(&rtu, 0), 5);
    CU_ASSERT_EQUAL(mb_rtu_ops.poll(&rtu, 5000, out, sizeof out), 17);
    CU_ASSERT_EQUAL(mb_rtu_init(&rtu, &slave, 0, 9600, 11), ML_EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_init(&rtu, &slave, 248, 9600, 11), ML_EINVAL);
    CU_ASSERT_EQUAL(mb_rtu_init(&rtu, &slave, 247, 9600, 11), ML_OK);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_modbus_read_holding_and_input", test_modbus_read_holding_and_input},
        {"test_modbus_exceptions", test_modbus_exceptions},
        {"test_modbus_writes", test_modbus_writes},
        {"test_modbus_rtu_t35", test_modbus_rtu_t35},
        {"test_modbus_rtu_vestel_capture", test_modbus_rtu_vestel_capture},
        {"test_modbus_rtu_gap_ends_frame_inside_one_feed",
         test_modbus_rtu_gap_ends_frame_inside_one_feed},
        {"test_modbus_rtu_crc_address_broadcast_garbage",
         test_modbus_rtu_crc_address_broadcast_garbage},
        {"test_modbus_rtu_stamp_wrap", test_modbus_rtu_stamp_wrap},
        {"test_modbus_tcp_two_requests_one_segment", test_modbus_tcp_two_requests_one_segment},
        {"test_modbus_tcp_split_request", test_modbus_tcp_split_request},
        {"test_modbus_tcp_bad_protocol_and_length", test_modbus_tcp_bad_protocol_and_length},
        {"test_modbus_ops_tables", test_modbus_ops_tables},
    };
    return ml_test_run("modbus", cases, ML_ARRAY_SIZE(cases), setup, teardown);
}

/*
 * Modbus TCP integration: libmodbus (modbus_new_tcp on 127.0.0.1) as master
 * against the engine running as an app on the sim port in virtual time (the
 * socket is served while time stands still). Raw sockets check the MBAP edge
 * cases libmodbus cannot produce.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h> /* libmodbus (pkg-config adds its dir); ours is "modbus/modbus.h" */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "err.h"
#include "mb_test_common.h"
#include "ml_test.h"
#include "sim.h"

static modbus_t *mb;

static void start(const char *tpl)
{
    memset(&mb_app_cfg, 0, sizeof mb_app_cfg);
    mb_app_cfg.transport = MB_APP_TCP;
    mb_app_cfg.tpl = regmap_template_find(tpl, strlen(tpl));
    mb_test_reading(&mb_app_cfg.reading);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb_app_cfg.tpl);
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL, .utc_at_start = 1700000000};
    CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, mb_app_main), ML_OK);
    CU_ASSERT_NOT_EQUAL_FATAL(mb_app_port, 0);
    mb = modbus_new_tcp("127.0.0.1", mb_app_port);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    modbus_set_response_timeout(mb, 2, 0);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(mb), 0);
}

static void teardown(void)
{
    if (mb != NULL) {
        modbus_close(mb);
        modbus_free(mb);
        mb = NULL;
    }
    sim_stop();
}

static void check_expect(const struct mb_expect *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t regs[8] = {0xEEEE, 0xEEEE, 0xEEEE, 0xEEEE};
        int rc = e[i].fc == 4 ? modbus_read_input_registers(mb, e[i].addr, e[i].n, regs)
                              : modbus_read_registers(mb, e[i].addr, e[i].n, regs);
        CU_ASSERT_EQUAL(rc, e[i].n);
        for (uint16_t k = 0; k < e[i].n; k++) {
            if (regs[k] != e[i].words[k]) {
                fprintf(stderr, "\n  %s FC%02u 0x%04X+%u: got 0x%04X want 0x%04X\n",
                        mb_app_cfg.tpl->name, e[i].fc, e[i].addr, k, regs[k], e[i].words[k]);
                CU_FAIL("register value");
            }
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Values                                                                    */
/* ------------------------------------------------------------------------- */

static void test_mb_tcp_every_template_values(void)
{
    for (size_t i = 0; i < sizeof mb_expect_all / sizeof mb_expect_all[0]; i++) {
        start(mb_expect_all[i].tpl);
        check_expect(mb_expect_all[i].e, mb_expect_all[i].n);
        teardown();
    }
}

static void test_mb_tcp_empro_block_and_float_helpers(void)
{
    start("PhoenixContact-EMPro");
    uint16_t regs[125];
    /* OpenEMS develop reads 0x8006 x 57 in one request (modbus-maps.md §1.2) */
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x8006, 57, regs), 57);
    CU_ASSERT_DOUBLE_EQUAL(modbus_get_float_cdab(&regs[0]), 230.1, 1e-4);
    CU_ASSERT_DOUBLE_EQUAL(modbus_get_float_cdab(&regs[16]), -1234.5, 1e-9);
    for (int i = 48; i < 57; i++) {
        CU_ASSERT_EQUAL(regs[i], 0); /* 0x8036..0x803E: gaps read 0 */
    }
    CU_ASSERT_EQUAL(modbus_read_input_registers(mb, 0x9000, 125, regs), 125);
    CU_ASSERT_EQUAL(regs[0], 0);
    CU_ASSERT_EQUAL(regs[124], 0);
    teardown();
    start("Inepro-PRO380");
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x5002, 2, regs), 2);
    CU_ASSERT_DOUBLE_EQUAL(modbus_get_float_abcd(&regs[0]), 230.1, 1e-4);
}

/* ------------------------------------------------------------------------- */
/* Exceptions and writes                                                     */
/* ------------------------------------------------------------------------- */

static int raw_exchange(const uint8_t *pdu, int len)
{
    uint8_t req[16] = {1};
    memcpy(req + 1, pdu, (size_t)len);
    if (modbus_send_raw_request(mb, req, len + 1) < 0) {
        return -1000;
    }
    uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
    errno = 0;
    int rc = modbus_receive_confirmation(mb, rsp);
    /* a raw confirmation is not checked by libmodbus: decode the exception here */
    return rc < 0 ? -errno : ((rsp[7] & 0x80) ? rsp[8] : 0);
}

static void test_mb_tcp_exceptions(void)
{
    start("PhoenixContact-EMPro");
    uint8_t bits[8];
    CU_ASSERT_EQUAL(modbus_read_bits(mb, 0, 1, bits), -1);
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    static const uint8_t count0[] = {0x03, 0x80, 0x06, 0x00, 0x00};
    static const uint8_t count126[] = {0x04, 0x80, 0x06, 0x00, 0x7E};
    static const uint8_t overflow[] = {0x03, 0xFF, 0xF0, 0x00, 0x20};
    CU_ASSERT_EQUAL(raw_exchange(count0, 5), MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    CU_ASSERT_EQUAL(raw_exchange(count126, 5), MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    CU_ASSERT_EQUAL(raw_exchange(overflow, 5), MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    /* the connection is still usable */
    uint16_t r[2];
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x8006, 2, r), 2);
    CU_ASSERT_EQUAL(r[1], 0x4366);
}

static void test_mb_tcp_write_and_unit_id_ignored(void)
{
    start("Eastron-SDM630");
    modbus_set_slave(mb, 77);
    CU_ASSERT_EQUAL(modbus_write_register(mb, 0x0014, 0x1234), 1);
    uint16_t v[2] = {0xAAAA, 0x5555};
    CU_ASSERT_EQUAL(modbus_write_registers(mb, 0x0020, 2, v), 2);
    sim_wait_idle();
    CU_ASSERT_EQUAL(mb_app_writes, 2);
    CU_ASSERT_EQUAL(mb_app_waddr, 0x0020);
    CU_ASSERT_EQUAL(mb_app_wval, 0xAAAA);
    uint16_t r[1];
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0xFC02, 1, r), 1);
    CU_ASSERT_EQUAL(r[0], 0x0070);
}

/* ------------------------------------------------------------------------- */
/* MBAP edge cases over a raw socket                                         */
/* ------------------------------------------------------------------------- */

static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(mb_app_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    CU_ASSERT_EQUAL(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int recv_all(int fd, uint8_t *buf, int want)
{
    int got = 0;
    while (got < want) {
        ssize_t n = recv(fd, buf + got, (size_t)(want - got), 0);
        if (n <= 0) {
            return got > 0 ? got : (int)n;
        }
        got += (int)n;
    }
    return got;
}

/* FC03 0x800E x 2 (I1 = 16 A, CDAB) with transaction id @p tid, unit 0xFF */
static void make_req(uint8_t *r, uint8_t tid)
{
    const uint8_t req[] = {0x00, tid, 0x00, 0x00, 0x00, 0x06, 0xFF, 0x03, 0x80, 0x0E, 0x00, 0x02};
    memcpy(r, req, sizeof req);
}

static void check_ans(const uint8_t *a, uint8_t tid)
{
    const uint8_t want[] = {0x00, tid,  0x00, 0x00, 0x00, 0x07, 0xFF,
                            0x03, 0x04, 0x00, 0x00, 0x41, 0x80};
    CU_ASSERT_EQUAL(memcmp(a, want, sizeof want), 0);
}

static void test_mb_tcp_mbap_segments(void)
{
    start("PhoenixContact-EMPro");
    int fd = raw_connect();
    uint8_t seg[24];
    uint8_t ans[26];
    /* two requests in one segment */
    make_req(seg, 1);
    make_req(seg + 12, 2);
    CU_ASSERT_EQUAL(send(fd, seg, 24, 0), 24);
    CU_ASSERT_EQUAL(recv_all(fd, ans, 26), 26);
    check_ans(ans, 1);
    check_ans(ans + 13, 2);
    /* one request split over three segments, with pauses */
    make_req(seg, 3);
    send(fd, seg, 3, 0);
    usleep(20000);
    send(fd, seg + 3, 5, 0);
    usleep(20000);
    send(fd, seg + 8, 4, 0);
    CU_ASSERT_EQUAL(recv_all(fd, ans, 13), 13);
    check_ans(ans, 3);
    close(fd);
}

static void test_mb_tcp_mbap_bad_header_closes(void)
{
    start("PhoenixContact-EMPro");
    uint8_t r[12];
    uint8_t ans[16];
    /* protocol id 1 */
    int fd = raw_connect();
    make_req(r, 4);
    r[3] = 0x01;
    send(fd, r, 12, 0);
    CU_ASSERT_EQUAL(recv(fd, ans, sizeof ans, 0), 0); /* closed, no answer */
    close(fd);
    /* length 255 */
    fd = raw_connect();
    make_req(r, 5);
    r[5] = 0xFF;
    send(fd, r, 12, 0);
    CU_ASSERT_EQUAL(recv(fd, ans, sizeof ans, 0), 0);
    close(fd);
    /* length 1 (unit id only) */
    fd = raw_connect();
    make_req(r, 6);
    r[5] = 0x01;
    send(fd, r, 12, 0);
    CU_ASSERT_EQUAL(recv(fd, ans, sizeof ans, 0), 0);
    close(fd);
    sim_wait_idle();
    CU_ASSERT_EQUAL(mb_app_tcp.stats.protocol_errors, 1); /* per connection state */
    /* a good client still gets served afterwards */
    fd = raw_connect();
    make_req(r, 7);
    send(fd, r, 12, 0);
    CU_ASSERT_EQUAL(recv_all(fd, ans, 13), 13);
    check_ans(ans, 7);
    close(fd);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_mb_tcp_every_template_values", test_mb_tcp_every_template_values},
        {"test_mb_tcp_empro_block_and_float_helpers", test_mb_tcp_empro_block_and_float_helpers},
        {"test_mb_tcp_exceptions", test_mb_tcp_exceptions},
        {"test_mb_tcp_write_and_unit_id_ignored", test_mb_tcp_write_and_unit_id_ignored},
        {"test_mb_tcp_mbap_segments", test_mb_tcp_mbap_segments},
        {"test_mb_tcp_mbap_bad_header_closes", test_mb_tcp_mbap_bad_header_closes},
    };
    return ml_test_run("mb_tcp", cases, ML_ARRAY_SIZE(cases), NULL, teardown);
}

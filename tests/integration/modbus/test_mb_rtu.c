/*
 * Modbus RTU integration: libmodbus (modbus_new_rtu on a pty) as master
 * against the engine running as an app on the sim port, its HAL_UART_RS485
 * bound to the other end of the pty. Real-time mode: frames end by t3.5 of
 * real silence, as on a wire.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <modbus.h> /* libmodbus (pkg-config adds its dir); ours is "modbus/modbus.h" */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "crc.h"
#include "err.h"
#include "mb_test_common.h"
#include "ml_test.h"
#include "sim.h"

#define ADDR 16 /* P1MB default address */

static modbus_t *mb;
static int ptm = -1;

static void start(const char *tpl)
{
    memset(&mb_app_cfg, 0, sizeof mb_app_cfg);
    mb_app_cfg.transport = MB_APP_RTU;
    mb_app_cfg.tpl = regmap_template_find(tpl, strlen(tpl));
    mb_app_cfg.address = ADDR;
    mb_app_cfg.baud = 9600;
    mb_test_reading(&mb_app_cfg.reading);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb_app_cfg.tpl);

    ptm = posix_openpt(O_RDWR | O_NOCTTY);
    CU_ASSERT_TRUE_FATAL(ptm >= 0);
    CU_ASSERT_EQUAL_FATAL(grantpt(ptm), 0);
    CU_ASSERT_EQUAL_FATAL(unlockpt(ptm), 0);
    fcntl(ptm, F_SETFL, fcntl(ptm, F_GETFL) | O_NONBLOCK);
    const char *path = ptsname(ptm);

    struct sim_config cfg = {.time_mode = SIM_TIME_REAL};
    CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, mb_app_main), ML_OK);
    sim_uart_bind_fd(HAL_UART_RS485, ptm);
    mb = modbus_new_rtu(path, 9600, 'E', 8, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    modbus_set_slave(mb, ADDR);
    modbus_set_response_timeout(mb, 0, 300000);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(mb), 0);
    usleep(20000); /* let the app open the UART */
}

static void teardown(void)
{
    if (mb != NULL) {
        modbus_close(mb);
        modbus_free(mb);
        mb = NULL;
    }
    sim_uart_bind_fd(HAL_UART_RS485, -1);
    sim_stop();
    if (ptm >= 0) {
        close(ptm);
        ptm = -1;
    }
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

static void test_mb_rtu_every_template_values(void)
{
    for (size_t i = 0; i < sizeof mb_expect_all / sizeof mb_expect_all[0]; i++) {
        start(mb_expect_all[i].tpl);
        check_expect(mb_expect_all[i].e, mb_expect_all[i].n);
        teardown();
    }
}

/* Nothing comes back on the master side within @p ms. */
static bool silent_for(int ms)
{
    struct pollfd p = {.fd = modbus_get_socket(mb), .events = POLLIN};
    return poll(&p, 1, ms) == 0;
}

static void test_mb_rtu_crc_error_and_wrong_address_ignored(void)
{
    start("Inepro-PRO380");
    /* FC03 0x500C x 6 to address 16 with a broken CRC */
    uint8_t f[8] = {ADDR, 0x03, 0x50, 0x0C, 0x00, 0x06, 0x00, 0x00};
    uint16_t c = ml_crc16_modbus(f, 6);
    f[6] = (uint8_t)(c ^ 0x01);
    f[7] = (uint8_t)(c >> 8);
    CU_ASSERT_EQUAL(write(modbus_get_socket(mb), f, 8), 8);
    CU_ASSERT_TRUE(silent_for(100));
    /* wrong address via libmodbus: times out */
    modbus_set_slave(mb, 1);
    uint16_t regs[6];
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x500C, 6, regs), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    usleep(20000);
    /* the right address still works */
    modbus_set_slave(mb, ADDR);
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x500C, 6, regs), 6);
    CU_ASSERT_EQUAL(regs[0], 0x4180);
    CU_ASSERT_EQUAL(mb_app_rtu.stats.crc_errors, 1);
    CU_ASSERT_EQUAL(mb_app_rtu.stats.wrong_address, 1);
    CU_ASSERT_EQUAL(mb_app_rtu.stats.frames_ok, 1);
}

static void test_mb_rtu_broadcast_write_without_reply(void)
{
    start("Xemex");
    modbus_set_slave(mb, 0);
    modbus_write_register(mb, 0x0042, 0xBEEF); /* libmodbus does not wait on broadcast */
    CU_ASSERT_TRUE(silent_for(100));
    CU_ASSERT_EQUAL(mb_app_writes, 1);
    CU_ASSERT_EQUAL(mb_app_waddr, 0x0042);
    CU_ASSERT_EQUAL(mb_app_wval, 0xBEEF);
    CU_ASSERT_EQUAL(mb_app_rtu.stats.broadcasts, 1);
    /* a unicast write is answered */
    modbus_set_slave(mb, ADDR);
    CU_ASSERT_EQUAL(modbus_write_register(mb, 0x0043, 0x0001), 1);
    CU_ASSERT_EQUAL(mb_app_writes, 2);
}

static void test_mb_rtu_exceptions(void)
{
    start("Eastron-SDM630");
    uint8_t bits[4];
    CU_ASSERT_EQUAL(modbus_read_bits(mb, 0, 1, bits), -1);
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    uint8_t req[] = {ADDR, 0x04, 0x00, 0x00, 0x00, 0x00};
    CU_ASSERT_TRUE(modbus_send_raw_request(mb, req, 6) > 0);
    uint8_t rsp[MODBUS_RTU_MAX_ADU_LENGTH];
    CU_ASSERT_EQUAL(modbus_receive_confirmation(mb, rsp), 5); /* addr, 0x84, code, CRC */
    CU_ASSERT_EQUAL(rsp[1], 0x84);
    CU_ASSERT_EQUAL(rsp[2], MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_mb_rtu_every_template_values", test_mb_rtu_every_template_values},
        {"test_mb_rtu_crc_error_and_wrong_address_ignored",
         test_mb_rtu_crc_error_and_wrong_address_ignored},
        {"test_mb_rtu_broadcast_write_without_reply", test_mb_rtu_broadcast_write_without_reply},
        {"test_mb_rtu_exceptions", test_mb_rtu_exceptions},
    };
    return ml_test_run("mb_rtu", cases, ML_ARRAY_SIZE(cases), NULL, teardown);
}

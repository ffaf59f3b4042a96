/*
 * P1MB on the sim port, observed from outside.
 *
 * - Virtual time (fast, exact): RTU frames injected into HAL_UART_RS485 and
 *   replies drained from it; LED states from sim_led_get / sim_led_events;
 *   configuration registers, the store, reboot and power cycle.
 * - Real time over a pty pair: libmodbus as the RTU master (an independent
 *   peer) for every variant, exceptions, ignored frames, broadcast, and the
 *   real `meterlab p1mb-config` binary reconfiguring the device.
 *
 * Expected values are written by hand from scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt:
 * 32.7.0 = 220.1 V, 31.7.0 = 1 A, P = 1.193 kW - 0 = 1193 W, per phase
 * 1.111 - 4.444 = -3.333 kW, energies 123456.789 * 2 = 246913.578 kWh, no
 * frequency and no neutral current (those registers read 0).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <modbus.h> /* libmodbus (pkg-config include dir); not firmware/core/modbus */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "crc.h"
#include "err.h"
#include "ml_dev_p1mb.h"
#include "ml_test.h"

#ifndef ML_METERLAB
#error "ML_METERLAB (path of the meterlab binary) must be defined by the build"
#endif

static uint8_t *tel;
static size_t tel_len;
static uint8_t tel_bad[8192]; /* the same telegram with a wrong CRC */
static int ptm = -1;          /* pty master: the device's RS485 side */
static int pts_hold = -1;     /* a slave fd kept open (no POLLHUP spin between masters) */
static char pts_path[64];
static modbus_t *mb;

static const struct p1mb_app *app(void)
{
    return ml_dev_p1mb_app();
}

/* ------------------------------------------------------------------------- */
/* Virtual time: frames in and out of the UART rings                         */
/* ------------------------------------------------------------------------- */

static void vt_start(enum p1mb_variant v)
{
    struct p1mb_settings s = {.variant = v};
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL, .serial = "MB12345678"};
    sim_uart_bind_fd(HAL_UART_RS485, -1);
    CU_ASSERT_EQUAL_FATAL(ml_dev_p1mb_start(&s, &cfg), 0);
}

/* Send one RTU frame (address + PDU; the CRC is appended), let t3.5 pass, and
 * take what the device answered. @return reply bytes (0: no reply). */
static size_t vt_rtu(const uint8_t *frame, size_t n, uint8_t *rsp, size_t cap)
{
    uint8_t f[300];
    memcpy(f, frame, n);
    uint16_t c = ml_crc16_modbus(f, n);
    f[n] = (uint8_t)c;
    f[n + 1] = (uint8_t)(c >> 8);
    sim_uart_inject(HAL_UART_RS485, f, n + 2);
    /* step by 1 ms: a reply to the reboot write must be taken before the
     * reboot (10 ms after it) clears the UART rings */
    size_t r = 0;
    for (int ms = 0; ms < 20 && r == 0; ms++) {
        sim_advance_ms(1);
        r = sim_uart_drain(HAL_UART_RS485, rsp, cap);
    }
    if (r >= 4) {
        uint16_t rc = ml_crc16_modbus(rsp, r - 2);
        CU_ASSERT_EQUAL(rsp[r - 2], (uint8_t)rc);
        CU_ASSERT_EQUAL(rsp[r - 1], (uint8_t)(rc >> 8));
    }
    return r;
}

/* FC03 read of @p n registers at @p addr from slave @p unit into @p out. @return
 * 0 ok, the exception code, or -1 (no reply). */
static int vt_read(uint8_t unit, uint8_t fc, uint16_t addr, uint16_t n, uint16_t *out)
{
    uint8_t req[6] = {unit, fc, (uint8_t)(addr >> 8), (uint8_t)addr, (uint8_t)(n >> 8), (uint8_t)n};
    uint8_t rsp[300];
    size_t r = vt_rtu(req, 6, rsp, sizeof rsp);
    if (r == 0) {
        return -1;
    }
    if (rsp[1] & 0x80u) {
        return rsp[2];
    }
    CU_ASSERT_EQUAL_FATAL(r, 5u + 2u * n);
    for (uint16_t i = 0; i < n; i++) {
        out[i] = (uint16_t)(rsp[3 + 2 * i] << 8 | rsp[4 + 2 * i]);
    }
    return 0;
}

/* FC06. @return 0 (echo received), the exception code, or -1 (no reply). */
static int vt_write(uint8_t unit, uint16_t addr, uint16_t val)
{
    uint8_t req[6] = {unit,        0x06, (uint8_t)(addr >> 8), (uint8_t)addr, (uint8_t)(val >> 8),
                      (uint8_t)val};
    uint8_t rsp[300];
    size_t r = vt_rtu(req, 6, rsp, sizeof rsp);
    if (r == 0) {
        return -1;
    }
    if (rsp[1] & 0x80u) {
        return rsp[2];
    }
    CU_ASSERT_EQUAL(r, 8u);
    CU_ASSERT_EQUAL(memcmp(rsp, req, 6), 0);
    return 0;
}

static void inject_p1(const void *p, size_t n)
{
    sim_uart_feed(HAL_UART_P1_IN, p, n);
    sim_wait_idle();
}

/* LED colour of @p id at @p t_us from the port's LED log (last change at or before t). */
static uint32_t led_at(const struct sim_led_event *ev, size_t n, enum hal_led_id id, uint64_t t_us)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n && ev[i].t_us <= t_us; i++) {
        if (ev[i].id == id) {
            c = ev[i].rgb;
        }
    }
    return c;
}

static void test_p1mb_vt_leds(void)
{
    static struct sim_led_event ev[4096];
    vt_start(P1MB_VARIANT_SDM630);
    CU_ASSERT_TRUE(sim_data_request_get()); /* the meter is asked to send */
    CU_ASSERT_EQUAL(sim_led_get(HAL_LED_PWR), 0xFFFF00u);
    CU_ASSERT_EQUAL(sim_led_get(HAL_LED_P1), 0);
    CU_ASSERT_EQUAL(sim_led_get(HAL_LED_485), 0);

    /* P1: valid telegram -> green steady */
    sim_advance_ms(1000);
    inject_p1(tel, tel_len);
    CU_ASSERT_EQUAL(app()->counters.telegrams_pass, 1);
    CU_ASSERT_EQUAL(sim_led_get(HAL_LED_P1), 0x00FF00u);
    for (int i = 0; i < 5; i++) { /* data flows every second: stays on */
        sim_advance_ms(1000);
        inject_p1(tel, tel_len);
        CU_ASSERT_EQUAL(sim_led_get(HAL_LED_P1), 0x00FF00u);
    }
    /* CRC error -> blinking (250 ms on, 250 ms off) */
    uint64_t t_bad = sim_now_us();
    inject_p1(tel_bad, tel_len);
    CU_ASSERT_EQUAL(app()->counters.telegrams_fail, 1);
    CU_ASSERT_EQUAL(app()->status.p1_led, P1MB_P1_LED_BLINK);
    sim_advance_ms(2000);
    size_t n = sim_led_events(ev, 4096);
    CU_ASSERT_EQUAL(led_at(ev, n, HAL_LED_P1, t_bad + 100000), 0x00FF00u);
    CU_ASSERT_EQUAL(led_at(ev, n, HAL_LED_P1, t_bad + 350000), 0);
    CU_ASSERT_EQUAL(led_at(ev, n, HAL_LED_P1, t_bad + 600000), 0x00FF00u);
    CU_ASSERT_EQUAL(led_at(ev, n, HAL_LED_P1, t_bad + 850000), 0);
    /* a good telegram again: steady */
    inject_p1(tel, tel_len);
    uint64_t t_last = sim_now_us();
    CU_ASSERT_EQUAL(app()->status.p1_led, P1MB_P1_LED_ON);
    /* no data for 30 s -> off (not before) */
    sim_advance_to_us(t_last + 29900000);
    CU_ASSERT_EQUAL(sim_led_get(HAL_LED_P1), 0x00FF00u);
    sim_advance_to_us(t_last + 30100000);
    CU_ASSERT_EQUAL(sim_led_get(HAL_LED_P1), 0);
    CU_ASSERT_EQUAL(app()->status.p1_led, P1MB_P1_LED_OFF);

    /* 485: a request for us -> a 100 ms red flash */
    uint16_t w[2];
    uint64_t t_req = sim_now_us();
    CU_ASSERT_EQUAL(vt_read(16, 4, 0x0000, 2, w), 0);
    sim_advance_ms(500);
    n = sim_led_events(ev, 4096);
    CU_ASSERT_EQUAL(led_at(ev, n, HAL_LED_485, t_req + 8000), 0xFF0000u);
    CU_ASSERT_EQUAL(led_at(ev, n, HAL_LED_485, t_req + 200000), 0);
    /* a frame for another slave: not for us, no light */
    uint64_t t_other = sim_now_us();
    CU_ASSERT_EQUAL(vt_read(17, 4, 0x0000, 2, w), -1);
    sim_advance_ms(100);
    n = sim_led_events(ev, 4096);
    CU_ASSERT_EQUAL(led_at(ev, n, HAL_LED_485, t_other + 10000), 0);
    /* bytes that are no valid request (bad CRC): blinking for 2 s */
    uint64_t t_garbage = sim_now_us();
    uint8_t junk[8] = {16, 0x03, 0x00, 0x00, 0x00, 0x02, 0x12, 0x34};
    sim_uart_inject(HAL_UART_RS485, junk, sizeof junk);
    sim_advance_ms(20);
    CU_ASSERT_EQUAL(sim_uart_drain(HAL_UART_RS485, junk, sizeof junk), 0); /* no reply */
    CU_ASSERT_EQUAL(app()->status.rs485_led, P1MB_485_LED_BLINK);
    sim_advance_ms(2500);
    n = sim_led_events(ev, 4096);
    int changes = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].id == HAL_LED_485 && ev[i].t_us > t_garbage && ev[i].t_us < t_garbage + 2000000) {
            changes++;
        }
    }
    CU_ASSERT_TRUE(changes >= 15); /* 100 ms steps for ~2 s */
    CU_ASSERT_EQUAL(sim_led_get(HAL_LED_485), 0);
    CU_ASSERT_EQUAL(app()->rtu.stats.crc_errors, 1);
    CU_ASSERT_EQUAL(app()->rtu.stats.wrong_address, 1);
    CU_ASSERT_EQUAL(sim_led_get(HAL_LED_PWR), 0xFFFF00u); /* PWR never changed */
    ml_dev_p1mb_stop();
}

static void test_p1mb_vt_config_registers(void)
{
    vt_start(P1MB_VARIANT_PRO380);
    uint16_t w[0x24];
    CU_ASSERT_EQUAL_FATAL(vt_read(16, 3, 0xF000, 0x24, w), 0);
    CU_ASSERT_EQUAL(w[0], 0x5031); /* "P1" */
    CU_ASSERT_EQUAL(w[1], 0x4D42); /* "MB" */
    CU_ASSERT_EQUAL(w[2], 1);      /* layout */
    CU_ASSERT_EQUAL(w[3], 1);      /* variant code: PRO380 */
    CU_ASSERT_EQUAL(w[0x10], 96);  /* stored: 9600 */
    CU_ASSERT_EQUAL(w[0x11], 1);   /* even */
    CU_ASSERT_EQUAL(w[0x12], 16);
    CU_ASSERT_EQUAL(w[0x13], 0);
    CU_ASSERT_EQUAL(w[0x20], 96); /* active: the same */
    CU_ASSERT_EQUAL(w[0x22], 16);
    CU_ASSERT_EQUAL(w[0x04], 0); /* reserved reads 0 */
    /* FC04 returns the same block */
    uint16_t w4[4];
    CU_ASSERT_EQUAL(vt_read(16, 4, 0xF000, 4, w4), 0);
    CU_ASSERT_EQUAL(memcmp(w, w4, sizeof w4), 0);

    /* invalid values: exception 0x03 and nothing written to flash */
    uint32_t ops = sim_flash_op_count();
    CU_ASSERT_EQUAL(vt_write(16, 0xF010, 123), 3); /* 12300 baud */
    CU_ASSERT_EQUAL(vt_write(16, 0xF010, 0), 3);
    CU_ASSERT_EQUAL(vt_write(16, 0xF010, 2304), 3); /* 230400: above the range */
    CU_ASSERT_EQUAL(vt_write(16, 0xF011, 2), 3);    /* odd parity */
    CU_ASSERT_EQUAL(vt_write(16, 0xF012, 0), 3);
    CU_ASSERT_EQUAL(vt_write(16, 0xF012, 248), 3);
    CU_ASSERT_EQUAL(vt_write(16, 0xF013, 2), 3);
    CU_ASSERT_EQUAL(vt_write(16, 0xF030, 0x1234), 3); /* wrong reboot magic */
    CU_ASSERT_EQUAL(vt_write(16, 0xF031, 0x0001), 3); /* wrong factory magic */
    /* read-only and meter registers cannot be written: 0x02 */
    CU_ASSERT_EQUAL(vt_write(16, 0xF000, 1), 2);
    CU_ASSERT_EQUAL(vt_write(16, 0xF020, 192), 2);
    CU_ASSERT_EQUAL(vt_write(16, 0x5002, 1), 2);
    CU_ASSERT_EQUAL(sim_flash_op_count(), ops);
    CU_ASSERT_EQUAL(app()->cfg.stats.rejected, 12);
    CU_ASSERT_EQUAL(sim_boot_count(), 1);

    /* valid writes are stored, readable back, not active yet */
    CU_ASSERT_EQUAL(vt_write(16, 0xF010, 1152), 0); /* 115200 */
    CU_ASSERT_EQUAL(vt_write(16, 0xF011, 0), 0);    /* 8N1 */
    CU_ASSERT_EQUAL(vt_write(16, 0xF012, 42), 0);
    CU_ASSERT_EQUAL(vt_write(16, 0xF013, 1), 0);
    /* answered at once, written to flash once the master has been quiet for 1 s (a save
     * blocks the loop: up to 500 ms for the 16 KiB sector erase on the STM32F405) */
    CU_ASSERT_EQUAL(sim_flash_op_count(), ops);
    sim_advance_ms(900);
    CU_ASSERT_EQUAL(sim_flash_op_count(), ops);
    sim_advance_ms(200);
    CU_ASSERT_TRUE(sim_flash_op_count() > ops);
    CU_ASSERT_EQUAL(vt_read(16, 3, 0xF010, 4, w), 0);
    CU_ASSERT_EQUAL(w[0], 1152);
    CU_ASSERT_EQUAL(w[1], 0);
    CU_ASSERT_EQUAL(w[2], 42);
    CU_ASSERT_EQUAL(w[3], 1);
    CU_ASSERT_EQUAL(vt_read(16, 3, 0xF020, 4, w), 0);
    CU_ASSERT_EQUAL(w[0], 96);
    CU_ASSERT_EQUAL(w[2], 16);
    struct hal_uart_cfg u;
    CU_ASSERT_TRUE(sim_uart_get_cfg(HAL_UART_RS485, &u));
    CU_ASSERT_EQUAL(u.baud, 9600);

    /* reboot: the write is answered first, then the device restarts at the new settings */
    CU_ASSERT_EQUAL(vt_write(16, 0xF030, 0x5AA5), 0);
    sim_advance_ms(100);
    CU_ASSERT_EQUAL(sim_boot_count(), 2);
    CU_ASSERT_TRUE(sim_uart_get_cfg(HAL_UART_RS485, &u));
    CU_ASSERT_EQUAL(u.baud, 115200);
    CU_ASSERT_EQUAL(u.parity, HAL_UART_PARITY_NONE);
    CU_ASSERT_EQUAL(u.data_bits, 8);
    CU_ASSERT_EQUAL(u.stop_bits, 1);
    CU_ASSERT_EQUAL(vt_read(16, 3, 0xF020, 4, w), -1); /* old address: silent */
    CU_ASSERT_EQUAL(vt_read(42, 3, 0xF020, 4, w), 0);
    CU_ASSERT_EQUAL(w[0], 1152);
    CU_ASSERT_EQUAL(w[1], 0);
    CU_ASSERT_EQUAL(w[2], 42);
    CU_ASSERT_EQUAL(w[3], 1);
    CU_ASSERT_TRUE(app()->status.config_loaded);
    /* identity from boot, before any telegram */
    CU_ASSERT_EQUAL(vt_read(42, 3, 0x1010, 1, w), 0);
    CU_ASSERT_EQUAL(w[0], 0x2007);

    /* power loss keeps it */
    CU_ASSERT_EQUAL(sim_power_cycle(), 0);
    CU_ASSERT_EQUAL(vt_read(42, 3, 0xF022, 1, w), 0);
    CU_ASSERT_EQUAL(w[0], 42);

    /* broadcast writes are executed without a reply */
    CU_ASSERT_EQUAL(vt_write(0, 0xF012, 43), -1);
    CU_ASSERT_EQUAL(vt_read(42, 3, 0xF012, 1, w), 0);
    CU_ASSERT_EQUAL(w[0], 43);
    uint32_t boots = sim_boot_count();
    CU_ASSERT_EQUAL(vt_write(0, 0xF030, 0x5AA5), -1); /* broadcast reboot */
    sim_advance_ms(100);
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 1);
    CU_ASSERT_EQUAL(vt_read(43, 3, 0xF022, 1, w), 0);
    CU_ASSERT_EQUAL(w[0], 43);

    /* factory defaults: stored at once, active after the reboot */
    CU_ASSERT_EQUAL(vt_write(43, 0xF031, 0xFAC7), 0);
    CU_ASSERT_EQUAL(vt_read(43, 3, 0xF010, 4, w), 0);
    CU_ASSERT_EQUAL(w[0], 96);
    CU_ASSERT_EQUAL(w[1], 1);
    CU_ASSERT_EQUAL(w[2], 16);
    CU_ASSERT_EQUAL(w[3], 0);
    CU_ASSERT_EQUAL(vt_write(43, 0xF030, 0x5AA5), 0);
    sim_advance_ms(100);
    CU_ASSERT_EQUAL(vt_read(16, 3, 0xF020, 4, w), 0);
    CU_ASSERT_EQUAL(w[0], 96);
    CU_ASSERT_EQUAL(w[1], 1);
    CU_ASSERT_FALSE(app()->status.config_loaded);
    ml_dev_p1mb_stop();
}

/* The configuration block must not shadow any variant's meter registers. */
static void test_p1mb_config_block_free_in_every_variant(void)
{
    for (int v = 0; v < P1MB_VARIANT_COUNT; v++) {
        const struct regmap_template *t = p1mb_variant_template((enum p1mb_variant)v);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        const struct regmap_space *sp[2] = {&t->holding, &t->input};
        for (int s = 0; s < 2; s++) {
            for (uint16_t i = 0; i < sp[s]->count; i++) {
                const struct regmap_entry *e = &sp[s]->entries[i];
                CU_ASSERT_FALSE(p1mb_cfg_regs_overlaps(e->addr, regmap_entry_words(e)));
            }
        }
    }
    CU_ASSERT_PTR_NULL(p1mb_variant_template(P1MB_VARIANT_COUNT));
}

/* Every telegram ends in exactly one counter; the RTU counters add up too. */
static void test_p1mb_vt_counters(void)
{
    vt_start(P1MB_VARIANT_XEMEX);
    inject_p1(tel, tel_len);
    inject_p1(tel_bad, tel_len);
    inject_p1(tel, tel_len / 2); /* cut off by the next '/' */
    inject_p1(tel, tel_len);
    const struct p1mb_counters *k = &app()->counters;
    CU_ASSERT_EQUAL(k->telegrams_pass, 2);
    CU_ASSERT_EQUAL(k->telegrams_fail, 1);
    CU_ASSERT_EQUAL(k->telegrams_frame_fail, 1);
    CU_ASSERT_TRUE(dsmr_stats_consistent(&app()->dsmr));
    uint16_t w[4];
    CU_ASSERT_EQUAL(vt_read(16, 3, 0x0108, 4, w), 0); /* p = 1193000 mW, int64 ABCD */
    CU_ASSERT_EQUAL(w[0], 0x0000);
    CU_ASSERT_EQUAL(w[1], 0x0000);
    CU_ASSERT_EQUAL(w[2], 0x0012);
    CU_ASSERT_EQUAL(w[3], 0x3428);
    CU_ASSERT_EQUAL(k->modbus_requests, 1);
    ml_dev_p1mb_stop();
}

/* ------------------------------------------------------------------------- */
/* Real time over a pty: libmodbus as the master                             */
/* ------------------------------------------------------------------------- */

static void rt_connect(int baud, char parity, int addr)
{
    mb = modbus_new_rtu(pts_path, baud, parity, 8, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    modbus_set_slave(mb, addr);
    /* generous for a loaded machine; only the "ignored" cases wait it out */
    modbus_set_response_timeout(mb, 0, 400000);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(mb), 0);
    modbus_flush(mb);
}

static void rt_disconnect(void)
{
    if (mb != NULL) {
        modbus_close(mb);
        modbus_free(mb);
        mb = NULL;
    }
}

static void rt_start(enum p1mb_variant v)
{
    struct p1mb_settings s = {.variant = v};
    struct sim_config cfg = {.time_mode = SIM_TIME_REAL, .serial = "MB12345678"};
    sim_uart_bind_fd(HAL_UART_RS485, ptm);
    CU_ASSERT_EQUAL_FATAL(ml_dev_p1mb_start(&s, &cfg), 0);
    struct hal_uart_cfg u;
    for (int i = 0; i < 200 && !sim_uart_get_cfg(HAL_UART_RS485, &u); i++) {
        usleep(5000);
    }
    rt_connect(9600, 'E', 16);
}

static void rt_telegram(void)
{
    uint32_t before = app()->counters.telegrams_pass;
    sim_uart_feed(HAL_UART_P1_IN, tel, tel_len);
    for (int i = 0; i < 500 && app()->counters.telegrams_pass == before; i++) {
        usleep(2000);
    }
    CU_ASSERT_EQUAL_FATAL(app()->counters.telegrams_pass, before + 1);
}

static double rd_float(int fc, int addr)
{
    uint16_t r[2] = {0xDEAD, 0xBEEF};
    int rc = fc == 4 ? modbus_read_input_registers(mb, addr, 2, r)
                     : modbus_read_registers(mb, addr, 2, r);
    CU_ASSERT_EQUAL(rc, 2);
    return modbus_get_float_abcd(r);
}

static int32_t rd_i32(int addr)
{
    uint16_t r[2] = {0xDEAD, 0xBEEF};
    CU_ASSERT_EQUAL(modbus_read_registers(mb, addr, 2, r), 2);
    return (int32_t)((uint32_t)r[0] << 16 | r[1]);
}

static uint16_t rd_u16(int fc, int addr)
{
    uint16_t r = 0xDEAD;
    int rc = fc == 4 ? modbus_read_input_registers(mb, addr, 1, &r)
                     : modbus_read_registers(mb, addr, 1, &r);
    CU_ASSERT_EQUAL(rc, 1);
    return r;
}

static void check_zero(int fc, int addr, int n)
{
    uint16_t r[8];
    memset(r, 0xEE, sizeof r);
    int rc = fc == 4 ? modbus_read_input_registers(mb, addr, n, r)
                     : modbus_read_registers(mb, addr, n, r);
    CU_ASSERT_EQUAL(rc, n);
    for (int i = 0; i < n; i++) {
        if (r[i] != 0) {
            fprintf(stderr, "\n  FC%02d 0x%04X+%d: 0x%04X, want 0\n", fc, addr, i, r[i]);
            CU_FAIL("register must read 0");
        }
    }
}

static void test_p1mb_rtu_sdm630(void)
{
    rt_start(P1MB_VARIANT_SDM630);
    CU_ASSERT_EQUAL(rd_u16(3, 0xFC02), 0x0070);              /* meter code before data */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x0000), 0.0, 1e-12); /* no telegram yet */
    rt_telegram();
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x0000), 220.1, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x0002), 220.2, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x0004), 220.3, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x0006), 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x000A), 3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x000C), -3333.0, 1e-3); /* L1 P, W */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x0010), -3333.0, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x0034), 1193.0, 1e-3);     /* total P, W */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x0048), 246913.578, 0.02); /* kWh, float32 */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x004A), 246913.578, 0.02);
    uint16_t raw[2];
    CU_ASSERT_EQUAL(modbus_read_input_registers(mb, 0x0034, 2, raw), 2);
    CU_ASSERT_EQUAL(raw[0], 0x4495); /* 1193.0f, high word first */
    CU_ASSERT_EQUAL(raw[1], 0x2000);
    check_zero(4, 0x0046, 2);                               /* frequency: not in a DSMR telegram */
    check_zero(4, 0x00E0, 2);                               /* neutral current */
    check_zero(4, 0x0100, 8);                               /* no register there */
    check_zero(3, 0x0000, 2);                               /* FC03 carries identity only */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x000A), 3.0, 1e-6); /* system type 3P4W */
    CU_ASSERT_EQUAL(rd_i32(0xFC00), 1);                     /* serial */
    rt_disconnect();
    ml_dev_p1mb_stop();
}

static void test_p1mb_rtu_pro380(void)
{
    rt_start(P1MB_VARIANT_PRO380);
    CU_ASSERT_EQUAL(rd_u16(3, 0x1010), 0x2007);
    rt_telegram();
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x5002), 220.1, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x500C), 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x5012), 1.193, 1e-6);  /* kW */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x5014), -3.333, 1e-6); /* FC04 = FC03 */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x5018), -3.333, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x600C), 246913.578, 0.02);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x6018), 246913.578, 0.02);
    CU_ASSERT_EQUAL(rd_i32(0x4000), 1);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x4005), 1.18, 1e-6);
    check_zero(3, 0x5008, 2); /* frequency */
    check_zero(3, 0x7000, 4);
    /* the Vestel EVC04 poll (modbus-maps.md §0.2): 0x500C x 6 in one piece */
    uint16_t r[6];
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x500C, 6, r), 6);
    CU_ASSERT_EQUAL(r[0], 0x3F80);
    CU_ASSERT_EQUAL(r[4], 0x4040);
    rt_disconnect();
    ml_dev_p1mb_stop();
}

static void test_p1mb_rtu_acr10rh(void)
{
    rt_start(P1MB_VARIANT_ACR10RH);
    CU_ASSERT_EQUAL(rd_u16(3, 0x0003), 1); /* wiring 3P4W */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x000E), 1.0, 1e-9);
    rt_telegram();
    CU_ASSERT_EQUAL(rd_u16(3, 0x00F3), 2201); /* 0.1 V */
    CU_ASSERT_EQUAL(rd_u16(4, 0x00F5), 2203);
    CU_ASSERT_EQUAL(rd_u16(3, 0x00F9), 100); /* 0.01 A */
    CU_ASSERT_EQUAL(rd_u16(3, 0x00FB), 300);
    CU_ASSERT_EQUAL(rd_i32(0x0103), 1193);  /* W */
    CU_ASSERT_EQUAL(rd_i32(0x00FD), -3333); /* L1 */
    check_zero(3, 0x00FC, 1);               /* frequency */
    check_zero(3, 0x00F2, 1);               /* neutral */
    rt_disconnect();
    ml_dev_p1mb_stop();
}

static void test_p1mb_rtu_xemex(void)
{
    rt_start(P1MB_VARIANT_XEMEX);
    CU_ASSERT_EQUAL(rd_u16(3, 0x0000), 0x584D);
    CU_ASSERT_EQUAL(rd_u16(3, 0x4002), 20802); /* CSMB device code */
    rt_telegram();
    uint16_t r[4];
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x0108, 4, r), 4); /* p, mW, int64 */
    CU_ASSERT_TRUE(r[0] == 0 && r[1] == 0 && r[2] == 0x0012 && r[3] == 0x3428);
    CU_ASSERT_EQUAL(modbus_read_input_registers(mb, 0x0144, 4, r), 4); /* l1_u, mV */
    CU_ASSERT_TRUE(r[0] == 0 && r[1] == 0 && r[2] == 0x0003 && r[3] == 0x5BC4);
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x01D4, 4, r), 4); /* e_imp, mWh */
    CU_ASSERT_TRUE(r[0] == 0 && r[1] == 0x0039 && r[2] == 0x7D32 &&
                   r[3] == 0x3410);                              /* 246913578000 */
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x015C, 4, r), 4); /* l1_p -3333000 mW */
    CU_ASSERT_TRUE(r[0] == 0xFFFF && r[1] == 0xFFFF && r[2] == 0xFFCD && r[3] == 0x2478);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x500C), 1.0, 1e-6);
    check_zero(3, 0x0130, 4); /* frequency */
    rt_disconnect();
    ml_dev_p1mb_stop();
}

/* Nothing comes back on the master side within @p ms. */
static bool silent_for(int ms)
{
    struct pollfd p = {.fd = modbus_get_socket(mb), .events = POLLIN};
    return poll(&p, 1, ms) == 0;
}

static int raw_exception(const uint8_t *req, int n)
{
    uint8_t rsp[MODBUS_RTU_MAX_ADU_LENGTH];
    if (modbus_send_raw_request(mb, req, n) <= 0) {
        return -1;
    }
    int r = modbus_receive_confirmation(mb, rsp);
    if (r != 5 || (rsp[1] & 0x80) == 0) {
        return -1;
    }
    return rsp[2];
}

static void test_p1mb_rtu_exceptions_and_ignored(void)
{
    rt_start(P1MB_VARIANT_SDM630);
    rt_telegram();
    /* FC 0x10: the P1MB does 03/04/06 only */
    uint16_t v[2] = {1, 2};
    CU_ASSERT_EQUAL(modbus_write_registers(mb, 0xF010, 2, v), -1);
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    uint8_t bits[4];
    CU_ASSERT_EQUAL(modbus_read_bits(mb, 0, 1, bits), -1); /* FC 0x01 */
    CU_ASSERT_EQUAL(errno, EMBXILFUN);
    /* count 0 and 126: 0x03 (libmodbus refuses to send them, so raw) */
    uint8_t c0[] = {16, 0x04, 0x00, 0x00, 0x00, 0x00};
    CU_ASSERT_EQUAL(raw_exception(c0, 6), MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    uint8_t c126[] = {16, 0x03, 0x00, 0x00, 0x00, 126};
    CU_ASSERT_EQUAL(raw_exception(c126, 6), MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    /* 125 is fine */
    uint16_t big[125];
    CU_ASSERT_EQUAL(modbus_read_input_registers(mb, 0x0000, 125, big), 125);
    /* invalid configuration value: 0x03 */
    CU_ASSERT_EQUAL(modbus_write_register(mb, 0xF012, 0), -1);
    CU_ASSERT_EQUAL(errno, EMBXILVAL);
    CU_ASSERT_EQUAL(rd_u16(3, 0xF012), 16);

    /* a CRC error: ignored, no answer */
    uint8_t f[8] = {16, 0x04, 0x00, 0x00, 0x00, 0x02, 0, 0};
    uint16_t crc = ml_crc16_modbus(f, 6);
    f[6] = (uint8_t)(crc ^ 0x5A);
    f[7] = (uint8_t)(crc >> 8);
    CU_ASSERT_EQUAL(write(modbus_get_socket(mb), f, 8), 8);
    CU_ASSERT_TRUE(silent_for(150));
    /* another address: ignored (libmodbus times out) */
    modbus_set_slave(mb, 17);
    uint16_t r[2];
    CU_ASSERT_EQUAL(modbus_read_input_registers(mb, 0x0000, 2, r), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    modbus_flush(mb);
    /* broadcast write: executed, no reply */
    modbus_set_slave(mb, 0);
    modbus_write_register(mb, 0xF013, 1); /* libmodbus does not wait on broadcast */
    CU_ASSERT_TRUE(silent_for(150));
    modbus_set_slave(mb, 16);
    CU_ASSERT_EQUAL(rd_u16(3, 0xF013), 1); /* stored termination on */
    CU_ASSERT_EQUAL(rd_u16(3, 0xF023), 0); /* active still off */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(4, 0x0034), 1193.0, 1e-3);
    CU_ASSERT_EQUAL(app()->rtu.stats.crc_errors, 1);
    CU_ASSERT_EQUAL(app()->rtu.stats.wrong_address, 1);
    CU_ASSERT_EQUAL(app()->rtu.stats.broadcasts, 1);
    rt_disconnect();
    ml_dev_p1mb_stop();
}

/* Run the real CLI; @return its exit code, its stdout in @p out. */
static int run_cli(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int run_cli(char *out, size_t cap, const char *fmt, ...)
{
    char args[512], cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s p1mb-config --port %s %s 2>&1", ML_METERLAB, pts_path, args);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Every standard rate of the manual's 1200 .. 115200 (products.md decision): the
 * register path stores each one; the CLI sets 14400 and then 28800, and libmodbus is
 * answered at each after the reboot. */
static void test_p1mb_rtu_every_standard_baud(void)
{
    static const uint16_t rates[] = {12, 24, 48, 96, 144, 192, 288, 384, 576, 1152};
    char out[4096];
    vt_start(P1MB_VARIANT_SDM630);
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        uint16_t w[1] = {0};
        CU_ASSERT_EQUAL(vt_write(16, 0xF010, rates[i]), 0);
        CU_ASSERT_EQUAL(vt_read(16, 3, 0xF010, 1, w), 0);
        CU_ASSERT_EQUAL(w[0], rates[i]);
    }
    CU_ASSERT_EQUAL(vt_write(16, 0xF010, 123), 3); /* 12300: no standard rate */
    ml_dev_p1mb_stop();

    rt_start(P1MB_VARIANT_SDM630);
    rt_disconnect(); /* the CLI is the master now */
    int rc = run_cli(out, sizeof out, "--set-baud 14400 --set-parity N");
    if (rc != 0) {
        fprintf(stderr, "\n%s\n", out);
    }
    CU_ASSERT_EQUAL(rc, 0);
    struct hal_uart_cfg u;
    CU_ASSERT_TRUE(sim_uart_get_cfg(HAL_UART_RS485, &u));
    CU_ASSERT_EQUAL(u.baud, 14400);
    CU_ASSERT_EQUAL(app()->rtu.t35_us, 2431u); /* 3.5 * 10 bits / 14400, rounded up */
    rt_connect(14400, 'N', 16);
    CU_ASSERT_EQUAL(rd_u16(3, 0xF020), 144); /* active baud / 100 */
    rt_disconnect();
    rc = run_cli(out, sizeof out, "--baud 14400 --parity N --set-baud 28800");
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(sim_uart_get_cfg(HAL_UART_RS485, &u));
    CU_ASSERT_EQUAL(u.baud, 28800);
    CU_ASSERT_EQUAL(app()->rtu.t35_us, 1750u); /* fixed above 19200 */
    rt_connect(28800, 'N', 16);
    CU_ASSERT_EQUAL(rd_u16(3, 0xF020), 288);
    rt_disconnect();
    ml_dev_p1mb_stop();
}

/* The configurator cable on the P1 port (products.md "P1MB configurator cable"), in
 * virtual time: a request for 247 at 115200 8N1 on P1 is answered on the data-request
 * line (the P1 UART's transmit side), P1 is in configuration mode (telegrams are not
 * parsed, the request line is no longer held high), and 60 s without a request bring
 * the meter back. */
static void test_p1mb_vt_config_mode_on_p1(void)
{
    vt_start(P1MB_VARIANT_SDM630);
    sim_advance_ms(1);
    CU_ASSERT_TRUE(sim_data_request_get());
    inject_p1(tel, tel_len);
    sim_advance_ms(5);
    CU_ASSERT_EQUAL(app()->counters.telegrams_pass, 1);
    /* FC03 0xF000 x4 for address 247 (the test's own CRC routine) */
    uint8_t f[8] = {247, 0x03, 0xF0, 0x00, 0x00, 0x04};
    uint16_t c = ml_crc16_modbus(f, 6);
    f[6] = (uint8_t)c;
    f[7] = (uint8_t)(c >> 8);
    sim_uart_feed(HAL_UART_P1_IN, f, sizeof f);
    uint8_t rsp[64];
    size_t r = 0;
    for (int ms = 0; ms < 20 && r == 0; ms++) {
        sim_advance_ms(1);
        r = sim_uart_drain(HAL_UART_P1_IN, rsp, sizeof rsp);
    }
    CU_ASSERT_EQUAL_FATAL(r, 13u); /* 247 03 08 "P1" "MB" layout variant CRC */
    CU_ASSERT_EQUAL(rsp[0], 247);
    CU_ASSERT_EQUAL(rsp[3], 0x50);
    CU_ASSERT_EQUAL(rsp[4], 0x31);
    CU_ASSERT_EQUAL(rsp[10], 3); /* variant code: SDM630 */
    CU_ASSERT_TRUE(app()->status.p1_config_mode);
    CU_ASSERT_FALSE(sim_data_request_get());
    CU_ASSERT_EQUAL(sim_uart_drain(HAL_UART_RS485, rsp, sizeof rsp), 0u); /* not on RS485 */
    inject_p1(tel, tel_len); /* no telegram while configuring */
    sim_advance_ms(5);
    CU_ASSERT_EQUAL(app()->counters.telegrams_pass, 1);
    sim_advance_ms(60000);
    CU_ASSERT_FALSE(app()->status.p1_config_mode);
    CU_ASSERT_TRUE(sim_data_request_get());
    inject_p1(tel, tel_len);
    sim_advance_ms(5);
    CU_ASSERT_EQUAL(app()->counters.telegrams_pass, 2);
    ml_dev_p1mb_stop();
}

/* meterlab p1mb-config --via p1 through a pty on the P1 UART (the cable), real time:
 * reads the block, stores new RS485 settings, reboots, verifies over the cable; the
 * RS485 side then answers libmodbus at the new settings. */
static void test_p1mb_rtu_config_cable_with_cli(void)
{
    int p1m = posix_openpt(O_RDWR | O_NOCTTY);
    CU_ASSERT_FATAL(p1m >= 0 && grantpt(p1m) == 0 && unlockpt(p1m) == 0);
    fcntl(p1m, F_SETFL, fcntl(p1m, F_GETFL) | O_NONBLOCK);
    char p1s[128];
    snprintf(p1s, sizeof p1s, "%s", ptsname(p1m));
    int hold = open(p1s, O_RDWR | O_NOCTTY);
    struct termios t;
    if (hold >= 0 && tcgetattr(hold, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(hold, TCSANOW, &t);
    }
    sim_uart_bind_fd(HAL_UART_P1_IN, p1m);
    rt_start(P1MB_VARIANT_SDM630);
    rt_disconnect();
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s p1mb-config --port %s --via p1 --set-baud 19200 --set-address 9 2>&1", ML_METERLAB,
             p1s);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc != 0) {
        fprintf(stderr, "\n%s\n", out);
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "P1MB at"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "active   9600 8E1, address 16"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "verified"));
    CU_ASSERT_EQUAL(sim_boot_count(), 2);
    struct hal_uart_cfg u;
    CU_ASSERT_TRUE(sim_uart_get_cfg(HAL_UART_RS485, &u));
    CU_ASSERT_EQUAL(u.baud, 19200);
    CU_ASSERT_EQUAL(app()->rtu.address, 9);
    rt_connect(19200, 'E', 9);
    CU_ASSERT_EQUAL(rd_u16(3, 0xFC02), 0x0070); /* SDM630 meter code over RS485 */
    rt_disconnect();
    ml_dev_p1mb_stop();
    sim_uart_bind_fd(HAL_UART_P1_IN, -1);
    close(hold);
    close(p1m);
}

static void test_p1mb_rtu_reconfigure_with_cli(void)
{
    static char out[8192];
    rt_start(P1MB_VARIANT_PRO380);
    rt_disconnect(); /* the CLI is the master now */
    int rc = run_cli(out, sizeof out, "%s", "");
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "active   9600 8E1, address 16, termination off"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "variant  pro380"));
    /* wrong address: no answer, exit 2 */
    rc = run_cli(out, sizeof out, "--address 3 --timeout 200");
    CU_ASSERT_EQUAL(rc, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "no answer"));
    /* bad option value: exit 2 before any I/O */
    rc = run_cli(out, sizeof out, "--set-address 300");
    CU_ASSERT_EQUAL(rc, 2);

    rc = run_cli(out, sizeof out,
                 "--set-baud 19200 --set-parity N --set-address 7 --set-termination on");
    if (rc != 0) {
        fprintf(stderr, "\n%s\n", out);
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "verified: answers at"));
    CU_ASSERT_EQUAL(sim_boot_count(), 2);
    struct hal_uart_cfg u;
    CU_ASSERT_TRUE(sim_uart_get_cfg(HAL_UART_RS485, &u));
    CU_ASSERT_EQUAL(u.baud, 19200);
    CU_ASSERT_EQUAL(u.parity, HAL_UART_PARITY_NONE);
    CU_ASSERT_EQUAL(app()->rtu.address, 7);
    CU_ASSERT_EQUAL(app()->rtu.t35_us, 1823u); /* 3.5 * 10 bits / 19200, rounded up */

    /* libmodbus at the new settings: identity, then data after the next telegram */
    rt_connect(19200, 'N', 7);
    CU_ASSERT_EQUAL(rd_u16(3, 0x1010), 0x2007);
    CU_ASSERT_EQUAL(rd_u16(3, 0xF013), 1);
    rt_telegram();
    CU_ASSERT_DOUBLE_EQUAL(rd_float(3, 0x5002), 220.1, 1e-3);
    /* the old address is ignored now */
    modbus_set_slave(mb, 16);
    uint16_t r[2];
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x5002, 2, r), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    rt_disconnect();

    /* and back to the factory settings */
    rc = run_cli(out, sizeof out, "--baud 19200 --parity N --address 7 --factory-defaults");
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(sim_uart_get_cfg(HAL_UART_RS485, &u));
    CU_ASSERT_EQUAL(u.baud, 9600);
    CU_ASSERT_EQUAL(u.parity, HAL_UART_PARITY_EVEN);
    CU_ASSERT_EQUAL(app()->rtu.address, 16);
    ml_dev_p1mb_stop();
}

static void teardown(void)
{
    rt_disconnect();
    ml_dev_p1mb_stop();
    sim_uart_bind_fd(HAL_UART_RS485, -1);
}

int main(void)
{
    tel = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt", &tel_len);
    if (tel == NULL || tel_len > sizeof tel_bad) {
        return 1;
    }
    memcpy(tel_bad, tel, tel_len);
    char *bang = memchr(tel_bad, '!', tel_len);
    if (bang == NULL) {
        return 1;
    }
    memcpy(bang + 1, "0000", 4); /* the real CRC is E47C */

    ptm = posix_openpt(O_RDWR | O_NOCTTY);
    if (ptm < 0 || grantpt(ptm) != 0 || unlockpt(ptm) != 0) {
        perror("posix_openpt");
        return 1;
    }
    fcntl(ptm, F_SETFL, fcntl(ptm, F_GETFL) | O_NONBLOCK);
    snprintf(pts_path, sizeof pts_path, "%s", ptsname(ptm));
    pts_hold = open(pts_path, O_RDWR | O_NOCTTY);
    struct termios t;
    if (pts_hold >= 0 && tcgetattr(pts_hold, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(pts_hold, TCSANOW, &t);
    }

    static const struct ml_test_case cases[] = {
        {"test_p1mb_config_block_free_in_every_variant",
         test_p1mb_config_block_free_in_every_variant},
        {"test_p1mb_vt_leds", test_p1mb_vt_leds},
        {"test_p1mb_vt_config_registers", test_p1mb_vt_config_registers},
        {"test_p1mb_vt_counters", test_p1mb_vt_counters},
        {"test_p1mb_rtu_sdm630", test_p1mb_rtu_sdm630},
        {"test_p1mb_rtu_pro380", test_p1mb_rtu_pro380},
        {"test_p1mb_rtu_acr10rh", test_p1mb_rtu_acr10rh},
        {"test_p1mb_rtu_xemex", test_p1mb_rtu_xemex},
        {"test_p1mb_rtu_exceptions_and_ignored", test_p1mb_rtu_exceptions_and_ignored},
        {"test_p1mb_rtu_reconfigure_with_cli", test_p1mb_rtu_reconfigure_with_cli},
        {"test_p1mb_rtu_every_standard_baud", test_p1mb_rtu_every_standard_baud},
        {"test_p1mb_vt_config_mode_on_p1", test_p1mb_vt_config_mode_on_p1},
        {"test_p1mb_rtu_config_cable_with_cli", test_p1mb_rtu_config_cable_with_cli},
    };
    int rc = ml_test_run("p1mb", cases, ML_ARRAY_SIZE(cases), NULL, teardown);
    close(pts_hold);
    close(ptm);
    free(tel);
    return rc;
}

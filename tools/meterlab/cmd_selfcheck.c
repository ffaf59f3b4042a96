/*
 * meterlab selfcheck: boot a heartbeat firmware on the sim port in virtual
 * time and check the port's basics (clock, timers, UART loop-back, LEDs).
 * It is what `make run` shows until the scenario runner exists.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "crc.h"
#include "ml_config.h"
#include "sim.h"
#include "timer.h"

static void heartbeat_app(void)
{
    struct hal_uart_cfg cfg = {115200, 8, HAL_UART_PARITY_NONE, 1, true};
    struct ml_timer blink;
    bool on = false;
    hal_uart_open(HAL_UART_P1_IN, &cfg);
    hal_uart_open(HAL_UART_P1_OUT, &cfg);
    ml_timer_start(&blink, hal_time_ms(), 500, 500);
    while (!hal_sys_should_stop()) {
        uint8_t buf[128];
        int n = hal_uart_read(HAL_UART_P1_IN, buf, sizeof buf, NULL);
        if (n > 0) {
            hal_uart_write(HAL_UART_P1_OUT, buf, (size_t)n);
        }
        if (ml_timer_is_due(&blink, hal_time_ms())) {
            on = !on;
            hal_led_set(HAL_LED_STATUS, on ? HAL_RGB_GREEN : HAL_RGB_OFF);
        }
        hal_time_wait_until(ml_timer_earliest(&blink, HAL_TIME_FOREVER));
    }
}

static int check(int *fails, int ok, const char *what)
{
    printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
    if (!ok) {
        (*fails)++;
    }
    return ok;
}

static int run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        printf("usage: meterlab selfcheck\n\n"
               "Boots a heartbeat firmware on the simulated HAL in virtual time, runs 60\n"
               "virtual seconds, and checks timers, UART pass-through and LED output.\n"
               "Exit 0 when every check passes, 1 otherwise.\n");
        return ML_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "meterlab selfcheck: unexpected argument '%s'\n", argv[1]);
        return ML_EXIT_USAGE;
    }
    int fails = 0;
    printf("meterlab %s selfcheck\n", ML_FW_VERSION);
    check(&fails, ml_crc16_p1("123456789", 9) == 0xBB3D, "P1 CRC16 check value 0xBB3D");
    check(&fails, ml_crc16_modbus("123456789", 9) == 0x4B37, "Modbus CRC16 check value 0x4B37");

    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL, .utc_at_start = 1767225600};
    if (!check(&fails, sim_start(&cfg, heartbeat_app) == 0, "sim device boots")) {
        return ML_EXIT_FAIL;
    }
    for (int s = 10; s <= 60; s += 10) {
        sim_advance_ms(10000);
        printf("  ... virtual time %2d s\n", s);
    }
    struct sim_led_event ev[256];
    size_t n = sim_led_events(ev, 256);
    check(&fails, n == 120, "LED toggled 120 times in 60 virtual seconds (2 Hz)");
    check(&fails, n > 0 && ev[n - 1].t_us == 60000000u, "last toggle exactly at t = 60.000 s");
    const char tel[] = "/XMX5LGBBFFB231237741\r\n\r\n!\r\n";
    sim_uart_inject(HAL_UART_P1_IN, tel, sizeof tel - 1);
    sim_wait_idle();
    char out[64];
    size_t got = sim_uart_drain(HAL_UART_P1_OUT, out, sizeof out);
    check(&fails, got == sizeof tel - 1 && memcmp(out, tel, got) == 0,
          "P1 bytes passed through unchanged with time standing still");
    sim_stop();
    printf("selfcheck: %s (%d failed)\n", fails ? "FAILED" : "passed", fails);
    return fails ? ML_EXIT_FAIL : ML_EXIT_OK;
}

const struct ml_cmd ml_cmd_selfcheck = {"selfcheck", "boot the simulated firmware and check the sim port", run};

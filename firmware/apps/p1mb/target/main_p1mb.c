/*
 * P1MB target image entry (Cortex-M port): runs p1mb_app_run() on the board
 * and reports on the console UART what `meterlab device` shows for the sim:
 * a start banner once the app is set up, then status changes (telegram
 * counters, P1 LED, 485 LED). The variant is fixed at build time
 * (P1MB_VARIANT, one image per variant). `meterlab device --target qemu`
 * reads these lines (tools/meterlab/cli_device_qemu.c): keep the formats.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cm_port.h"
#include "hal.h"
#include "ml_config.h"
#include "p1mb_app.h"

#ifndef ML_BOARD_NAME
#define ML_BOARD_NAME "unknown-board"
#endif

static struct p1mb_app app;
static struct p1mb_settings settings;

static struct {
    bool banner_done;
    struct cm_telegram_counts telegrams;
    int p1_led, rs_led;
} seen;

static void banner(void)
{
    struct hal_uart_cfg con = {115200, 8, HAL_UART_PARITY_NONE, 1, false};
    (void)hal_uart_open(HAL_UART_CONSOLE, &con);
    struct hal_sys_identity id;
    hal_sys_get_identity(&id);
    const struct p1mb_config *c = &app.cfg.active;
    struct cm_line l = {.len = 0};
    cm_line_str(&l, "meterlab p1mb: variant ");
    cm_line_str(&l, p1mb_variant_name(settings.variant));
    cm_line_str(&l, " (");
    cm_line_str(&l, app.tpl != NULL ? app.tpl->name : "?");
    cm_line_str(&l, "), board " ML_BOARD_NAME ", firmware " ML_FW_VERSION);
    cm_line_send(&l);
    cm_line_str(&l, "serial ");
    cm_line_str(&l, id.serial);
    cm_line_str(&l, ", reset ");
    cm_line_str(&l, hal_sys_reset_cause_name(hal_sys_get_reset_cause()));
    cm_line_send(&l);
    cm_line_str(&l, "rs485 ");
    cm_line_u32(&l, c->baud);
    cm_line_str(&l, c->parity == P1MB_PARITY_NONE ? " 8N1" : " 8E1");
    cm_line_str(&l, ", address ");
    cm_line_u32(&l, c->address);
    cm_line_str(&l, ", termination ");
    cm_line_str(&l, c->termination ? "on" : "off");
    cm_line_send(&l);
    cm_line_str(&l, "configuration ");
    cm_line_str(&l, app.status.config_loaded ? "stored (flash)" : "factory defaults");
    cm_line_send(&l);
    cm_line_str(&l, "ready");
    cm_line_send(&l);
}

/* Once per loop turn (cm_idle_hook_set): the banner, then what changed. */
static void report(void)
{
    struct cm_line l = {.len = 0};
    if (!seen.banner_done) {
        seen.banner_done = true;
        seen.p1_led = -1;
        seen.rs_led = 0;
        banner();
    }
    const struct p1mb_counters *k = &app.counters;
    cm_line_telegrams(&seen.telegrams, k->telegrams_pass, k->telegrams_fail,
                      k->telegrams_frame_fail, "crc fail");
    if ((int)app.status.p1_led != seen.p1_led) {
        seen.p1_led = (int)app.status.p1_led;
        cm_line_str(&l, "P1 LED: ");
        cm_line_str(&l, app.status.p1_led == P1MB_P1_LED_ON      ? "on"
                        : app.status.p1_led == P1MB_P1_LED_BLINK ? "blinking (bad telegram)"
                                                                 : "off");
        cm_line_send(&l);
    }
    /* The 485 flash lasts 100 ms: report only the error blinking (as the sim does). */
    int rs = app.status.rs485_led == P1MB_485_LED_BLINK ? 1 : 0;
    if (rs != seen.rs_led) {
        seen.rs_led = rs;
        cm_line_str(&l, "485 LED: ");
        cm_line_str(&l, rs ? "blinking (bytes that are no valid request)" : "no more bad frames");
        cm_line_send(&l);
    }
}

int main(void);

int main(void)
{
    p1mb_settings_defaults(&settings);
    settings.variant = P1MB_VARIANT; /* this image's variant (-DP1MB_VARIANT=...) */
    cm_idle_hook_set(report);
    p1mb_app_run(&app, &settings);
    hal_sys_reboot(); /* not reached on the target: the app loop never stops */
    return 0;
}

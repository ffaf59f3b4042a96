/*
 * Smart Connect target image entry (Cortex-M port): runs sc_app_run() on the
 * board and reports on the console UART what `meterlab device` shows for the
 * sim: a start banner once the app is set up, then status changes (telegram
 * counters, LED state, MQTT state). The flavour is fixed at build time
 * (SC_IMAGE_FLAVOUR: one image per flavour). The network (Modbus TCP, HTTP,
 * MQTT) goes through the port's hal_net/hal_mqtt (the ESP-AT co-processor on
 * UART4); when those answer ML_ENOSYS the app runs without a network and the
 * banner says so. `meterlab device --target qemu` reads these lines
 * (tools/meterlab/cli_device_qemu.c): keep the formats.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cm_port.h"
#include "hal.h"
#include "ml_config.h"
#include "sc_app.h"
#include "ui/ui.h"
#include "mqtt/mqtt_policy.h"

#ifndef ML_BOARD_NAME
#define ML_BOARD_NAME "unknown-board"
#endif
#ifndef SC_IMAGE_FLAVOUR
#define SC_IMAGE_FLAVOUR SC_FLAVOUR_P1
#endif

static struct sc_app app;
static struct sc_settings settings;

static struct {
    bool banner_done;
    struct cm_telegram_counts telegrams;
    int led, mqtt, ip;
} seen;

static void banner(void)
{
    struct hal_uart_cfg con = {115200, 8, HAL_UART_PARITY_NONE, 1, false};
    (void)hal_uart_open(HAL_UART_CONSOLE, &con);
    struct hal_sys_identity id;
    hal_sys_get_identity(&id);
    const struct sc_settings *eff = app.set != NULL ? app.set : &settings;
    struct cm_line l = {.len = 0};
    cm_line_str(&l, "meterlab smart_connect: ");
    cm_line_str(&l, settings.flavour == SC_FLAVOUR_TIC ? "tic" : "p1");
    cm_line_str(&l, ", board " ML_BOARD_NAME ", firmware " ML_FW_VERSION);
    cm_line_send(&l);
    cm_line_str(&l, "serial ");
    cm_line_str(&l, id.serial);
    cm_line_str(&l, ", reset ");
    cm_line_str(&l, hal_sys_reset_cause_name(hal_sys_get_reset_cause()));
    cm_line_send(&l);
    cm_line_str(&l, "login ");
    cm_line_str(&l, id.label_password);
    cm_line_send(&l);
    cm_line_str(&l, "template ");
    cm_line_str(&l, eff->meter_type[0] ? eff->meter_type : "PhoenixContact-EMPro");
    cm_line_send(&l);
    cm_line_str(&l, "configuration ");
    cm_line_str(&l, app.status.config_saved ? "saved configuration (store)"
                                            : "factory defaults (store empty)");
    cm_line_send(&l);
    cm_line_str(&l, "mqtt ");
    cm_line_str(&l, eff->mqtt_enabled ? eff->mqtt_url : "off");
    if (eff->mqtt_enabled) {
        cm_line_str(&l, " (site '");
        cm_line_str(&l, eff->mqtt_site[0] ? eff->mqtt_site : "default");
        cm_line_str(&l, "')");
    }
    cm_line_send(&l);
    cm_line_str(&l, "network ");
    if (app.status.modbus_port == 0 && app.status.http_port == 0) {
        cm_line_str(&l, "none (the network HAL failed or answered ML_ENOSYS: no Modbus TCP, "
                        "HTTP or MQTT)");
    } else {
        cm_line_str(&l, "modbus ");
        cm_line_u32(&l, app.status.modbus_port);
        cm_line_str(&l, ", http ");
        cm_line_u32(&l, app.status.http_port);
        if (app.status.https_port != 0) {
            cm_line_str(&l, ", https ");
            cm_line_u32(&l, app.status.https_port);
        }
    }
    cm_line_send(&l);
    cm_line_str(&l, "ready");
    cm_line_send(&l);
}

/* Once per loop turn (cm_idle_hook_set): the banner, then what changed. */
static void report(void)
{
    struct cm_line l = {.len = 0};
    cm_net_poll(); /* URCs and received data while the app sleeps */
    if (!seen.banner_done) {
        seen.banner_done = true;
        seen.led = -1;
        seen.mqtt = -1;
        seen.ip = -1;
        banner();
    }
    const struct sc_counters *k = &app.counters;
    cm_line_telegrams(&seen.telegrams, k->telegrams_pass, k->telegrams_fail,
                      k->telegrams_frame_fail, "crc/checksum fail");
    if ((int)app.status.led != seen.led) {
        seen.led = (int)app.status.led;
        cm_line_str(&l, "LED: ");
        cm_line_str(&l, ui_led_state_name(app.status.led));
        cm_line_send(&l);
    }
    if ((int)app.status.mqtt != seen.mqtt) {
        seen.mqtt = (int)app.status.mqtt;
        cm_line_str(&l, "MQTT: ");
        cm_line_str(&l, mqtt_state_name((int)app.status.mqtt));
        cm_line_send(&l);
    }
    if ((int)app.status.has_ip != seen.ip) {
        seen.ip = (int)app.status.has_ip;
        cm_line_str(&l, app.status.has_ip ? "IP: yes" : "IP: none");
        cm_line_send(&l);
    }
}

int main(void);

int main(void)
{
    sc_settings_defaults(&settings); /* port 502, HTTP 80, EMPro, MQTT off */
    settings.flavour = SC_IMAGE_FLAVOUR;
    cm_utc_source_set(cm_net_utc);
    cm_pre_reset_set(cm_net_drain); /* the answer to POST /api/v1/reset goes out first */
    cm_idle_hook_set(report);
    sc_app_run(&app, &settings);
    hal_sys_reboot(); /* not reached on the target: the app loop never stops */
    return 0;
}

/**
 * @file sc_app.h
 * @brief Smart P1/A1 Connect and Smart TIC Connect: the device's event loop.
 *
 * Written only against the HAL and core: meter bytes in -> P1-out copy ->
 * parser -> reading -> Modbus snapshot (template by MeterType) -> one MQTT
 * power_instant per good telegram; device_counters every 60 s and after each
 * MQTT connect; network policy; LED status model; button gestures.
 *
 * The caller owns struct sc_app (large: parser buffers and two register
 * snapshots; put it in static storage) and the settings, which must stay valid
 * while sc_app_run() runs. Context: the app thread only.
 */
#ifndef FIRMWARE_APPS_SMART_CONNECT_SC_APP_H
#define FIRMWARE_APPS_SMART_CONNECT_SC_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "dsmr/dsmr.h"
#include "hal.h"
#include "modbus/modbus.h"
#include "net/net.h"
#include "reading/reading.h"
#include "regmap/regmap.h"
#include "tic/tic.h"
#include "timer.h"
#include "ui/ui.h"

enum sc_flavour {
    SC_FLAVOUR_P1 = 0, /**< DSMR 4.x/5 and e-MUCS, 115200 8N1 */
    SC_FLAVOUR_TIC,    /**< Linky TIC standard mode, 9600 7E1 */
};

#define SC_MODBUS_PORT_DEFAULT 502u
#define SC_METER_TIMEOUT_MS    30000u /**< no good telegram for this long: "no meter data" */
#define SC_CLIENT_IDLE_MS      5000u  /**< one-client rule: a silent client may be replaced */
#define SC_COUNTERS_PERIOD_MS  60000u /**< device_counters period */
#define SC_STR_MAX             128u

struct sc_settings {
    enum sc_flavour flavour;
    uint16_t modbus_port; /**< 502 on the device; any port in the sim (0: pick a free one) */
    char meter_type[40];  /**< regmap template name ("" = PhoenixContact-EMPro) */
    bool factory_default; /**< no configuration saved yet (enables the 5 s AP gesture) */
    struct net_policy_cfg net;
    bool mqtt_enabled;
    char mqtt_url[SC_STR_MAX];
    char mqtt_site[64];
    char mqtt_user[64];
    char mqtt_password[64];
    char mqtt_ca_file[SC_STR_MAX];
    char mqtt_cert_file[SC_STR_MAX];
    char mqtt_key_file[SC_STR_MAX];
    /** Called on the >10 s button gesture before the reboot (restore defaults). May be NULL. */
    void (*factory_reset)(void *ctx);
    void *factory_reset_ctx;
};

/** Counters of device_counters (products.md §1) kept by the app. */
struct sc_counters {
    uint32_t telegrams_pass;
    uint32_t telegrams_fail;       /**< CRC / checksum wrong */
    uint32_t telegrams_frame_fail; /**< framing broken (and TIC historic frames) */
    uint32_t mqtt_publish_pass;
    uint32_t mqtt_publish_fail;
    uint32_t modbus_requests;
    uint32_t modbus_clients_refused; /**< one-client rule refusals */
};

/** What the status API and the GUI show. */
struct sc_status {
    enum ui_led_state led;
    bool meter_data;
    bool tic_historic;         /**< historic TIC frames seen: "historic mode not supported" */
    uint64_t last_telegram_ms; /**< device time of the last good telegram (0 = none) */
    bool has_ip;
    enum hal_mqtt_state mqtt;
    uint16_t modbus_port; /**< the port actually listened on */
};

struct sc_app {
    const struct sc_settings *set;
    uint64_t boot_ms;
    union {
        struct dsmr_parser dsmr;
        struct tic_parser tic;
    } parser;
    struct reading scratch; /**< what the parser publishes */
    struct reading reading; /**< the last good telegram */
    struct regmap_live regs;
    struct mb_slave mb;
    struct mb_tcp mb_tcp;
    int listener;
    int client;
    uint64_t client_last_rx_ms;
    struct net_policy net;
    bool dhcp_reported, ping_reported;
    bool mqtt_started;
    int mqtt_state_prev;
    struct ml_timer counters_timer;
    struct ui_led led;
    struct ui_button button;
    bool button_ap_fb, button_factory_fb;
    struct sc_counters counters;
    struct sc_status status;
    char topic[192];
    char payload[1536]; /* > MQTT_POWER_INSTANT_MAX and MQTT_DEVICE_COUNTERS_MAX */
};

/**
 * Run the device until hal_sys_should_stop() (sim power-cycle or reboot). On
 * the target it never returns.
 */
void sc_app_run(struct sc_app *app, const struct sc_settings *set);

/** Fill @p s with defaults: P1, port 502, EMPro, DHCP on Ethernet, MQTT off. */
void sc_settings_defaults(struct sc_settings *s);

#endif /* FIRMWARE_APPS_SMART_CONNECT_SC_APP_H */

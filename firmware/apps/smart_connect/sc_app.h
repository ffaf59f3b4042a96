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
 *
 * Settings vs. configuration: struct sc_settings is the initial (compile-time /
 * command-line) part. At boot the app loads the configuration (core/config)
 * from the config store on HAL_FLASH_CONFIG_A/B; when one is saved it overrides
 * the matching settings (MeterType, network, MQTT), otherwise the settings
 * seed it. PATCH /api/v1/config saves a new configuration, which takes effect
 * after the next reboot. The >10 s button gesture erases the store.
 *
 * HTTP API and web page: see sc_http.c and docs/http-api.md. Firmware update
 * (slots FW_A/FW_B, boot record in HAL_FLASH_BOOT): see sc_fw.c.
 */
#ifndef FIRMWARE_APPS_SMART_CONNECT_SC_APP_H
#define FIRMWARE_APPS_SMART_CONNECT_SC_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "config/cfg.h"
#include "config/cfg_store.h"
#include "dsmr/dsmr.h"
#include "hal.h"
#include "http/http.h"
#include "meter_in/meter_in.h"
#include "ml_config.h"
#include "sha256.h"
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
#define SC_CLIENT_IDLE_MS      5000u  /**< one-client rule: no complete frame this long = silent */
#define SC_COUNTERS_PERIOD_MS  60000u /**< device_counters period */
#define SC_STR_MAX             128u
#define SC_HTTP_PORT_DEFAULT   80u
#define SC_HTTPS_PORT_DEFAULT  443u
#define SC_HTTP_SESSION_MS     30000u  /**< a login session ends this long after its last request */
#define SC_FW_CONFIRM_MS       60000u  /**< a trial image is confirmed after running this long */
#define SC_FW_TRIAL_MAX_MS     300000u /**< a trial still not healthy then reboots (rollback) */
#define SC_CMD_ID_MAX          13u     /**< MQTT command request id: 1..12 characters + NUL */
#define SC_CMD_DL_TIMEOUT_MS   30000u  /**< a download without progress this long fails */
#define SC_CMD_DL_PASS_MS      1000u   /**< longest a loop pass spends storing download data */
#define SC_FW_HDR_SIZE         128u    /**< signed firmware image header (see sc_fw.c) */
#define SC_FW_HDR_SIGNED       64u     /**< header bytes the Ed25519 signature covers */
#define SC_FW_HDR_VERSION      2u      /**< header format: 2 = signed */
#define SC_FW_MAGIC            0x57464C4Du /**< "MLFW" little-endian */
#define SC_FW_VERSION_MAX      16u
#define SC_TELEGRAM_MAX                                                                            \
    (ML_DSMR_MAX_TELEGRAM > ML_TIC_MAX_FRAME ? ML_DSMR_MAX_TELEGRAM : ML_TIC_MAX_FRAME)

struct sc_settings {
    enum sc_flavour flavour;
    uint16_t modbus_port; /**< 502 on the device; any port in the sim (0: pick a free one) */
    uint16_t http_port;   /**< 80 on the device; any port in the sim (0: pick a free one) */
    uint16_t https_port;  /**< 443 on the device; any port in the sim (0: pick a free one) */
    /**
     * No HTTPS server: plain HTTP serves the page and the whole API, as before
     * issue 19 #3. For test benches that talk plain HTTP (docs/security.md says
     * which) and the Cortex-M image until its ESP-AT SSL server is driven. Off
     * (the product): plain HTTP serves only the landing page.
     */
    bool plain_api;
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

/** Counters of device_counters (products.md §1) kept by the app; the telegram ones are
 *  the meter input's (core/meter_in), copied at every telegram. */
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
    uint16_t modbus_port;    /**< the port actually listened on */
    uint16_t http_port;      /**< the HTTP port actually listened on (0: none) */
    uint16_t https_port;     /**< the HTTPS port actually listened on (0: none) */
    char hostname[48];       /**< "smart-connect-<serial>" (products.md §1) */
    bool gw_reachable;       /**< last gateway ping answered ("Network" dot) */
    bool internet_reachable; /**< last internet probe answered ("Internet" dot) */
    bool config_saved;       /**< a configuration is in the store */
    bool reboot_required;    /**< a PATCH saved changes that apply after a reboot */
};

/**
 * The Ed25519 public key firmware images must be signed with (generated at
 * configure time: the build's development key or ML_FW_PUBKEY, see
 * cmake/fw_key.cmake).
 */
extern const uint8_t sc_fw_pubkey[32];

/** Firmware slots and the boot record (sc_fw.c). */
enum sc_fw_result {
    SC_FW_RES_NONE = 0,
    SC_FW_RES_PENDING,     /**< an image waits for its trial boot */
    SC_FW_RES_TRIAL,       /**< running the new image, not confirmed yet */
    SC_FW_RES_INSTALLED,   /**< the trial was confirmed */
    SC_FW_RES_ROLLED_BACK, /**< the trial image did not confirm: back to the previous one */
    SC_FW_RES_REJECTED,    /**< the last upload failed verification */
};

/** MQTT command in flight across a reboot (kept in the boot record, sc_cmd.c). */
enum sc_cmd_kind {
    SC_CMD_NONE = 0,
    SC_CMD_RESET,
    SC_CMD_FIRMWARE,
};

#define SC_FW_SLOT_FACTORY 0xFFu /**< the image the device was built with (no slot record) */

struct sc_fw {
    uint8_t active;  /**< 0 = FW_A, 1 = FW_B, SC_FW_SLOT_FACTORY */
    uint8_t prev;    /**< where a rollback goes */
    uint8_t pending; /**< slot waiting for its trial boot, or SC_FW_SLOT_FACTORY */
    bool trial;
    uint8_t tries;
    uint8_t result;                  /**< enum sc_fw_result */
    char version[SC_FW_VERSION_MAX]; /**< running version */
    uint8_t cmd_kind;                /**< enum sc_cmd_kind: MQTT command awaiting its result */
    char cmd_id[SC_CMD_ID_MAX];      /**< its request id */
    uint32_t log_off;                /**< next free record in HAL_FLASH_BOOT */
    uint32_t seq;
    /* upload in progress */
    bool up_active;
    bool up_failed;
    uint8_t up_slot;
    uint8_t up_hdr[SC_FW_HDR_SIZE];
    uint32_t up_got;    /**< image bytes received (header included) */
    uint32_t up_len;    /**< payload length from the header */
    uint32_t up_erased; /**< slot bytes erased so far (whole erase units, from 0) */
    struct ml_sha256 up_sha;
    const char *up_error;
};

/** One HTTP connection slot (sc_http.c). */
struct sc_http_conn {
    int handle; /**< -1: free */
    uint32_t peer;
    uint64_t since_ms;
    uint16_t rx_len, rx_off;
    bool tls; /**< accepted on the HTTPS listener */
    uint8_t rx[ML_HTTP_RX];
    struct http_server srv;
};

struct sc_app {
    const struct sc_settings *set;
    uint64_t boot_ms;
    struct meter_in meter; /**< the meter input on the parser of the flavour */
    union {
        struct dsmr_parser dsmr;
        struct tic_parser tic;
    } parser;
    struct reading scratch; /**< what the parser publishes */
    struct reading reading; /**< the last good telegram (instant values cleared when lost) */
    bool meter_lost;        /**< no good telegram for SC_METER_TIMEOUT_MS (products.md) */
    struct regmap_live regs;
    struct mb_slave mb;
    struct mb_tcp mb_tcp;
    int listener;
    int client;
    uint64_t client_last_frame_ms; /**< accept or last complete request (one-client rule) */
    /* Modbus TCP input taken from the socket and not fed yet, and the answer the
     * socket has not taken yet: the input waits behind an answer that is not
     * out, so answers leave whole and in order when the socket is full (a client
     * that sends several requests without waiting, a small send ring). */
    uint8_t mb_in[260];
    uint16_t mb_in_len, mb_in_off;
    uint8_t mb_out[MB_TCP_ADU_MAX];
    uint16_t mb_out_len, mb_out_off;
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
    char payload[1536]; /* > MQTT_POWER_INSTANT_MAX and MQTT_DEVICE_COUNTERS_MAX; also a received
                           command body and the download chunks (sc_cmd.c) */

    /* configuration (see the file comment) */
    struct sc_settings eff; /**< effective settings: initial ones overridden by the config */
    struct cfg cfg;         /**< the saved configuration (GET/PATCH /api/v1/config) */
    struct cfg_flash_ops cfg_ops;
    bool cfg_ops_ok;

    /* HTTP: ML_HTTP_CONNS connections served at once, one work area (sc_http.c) */
    struct http_auth http_auth;
    struct http_server_cfg http_cfg;       /**< the page and the API (HTTPS, or plain_api) */
    struct http_server_cfg http_plain_cfg; /**< plain HTTP: the landing page only */
    struct http_work http_work;
    struct sc_http_conn http_conns[ML_HTTP_CONNS];
    char http_password[9];
    int http_listener;
    int https_listener;
    int http_cur;         /**< connection being fed (owner of an upload it starts) */
    int http_fw_conn;     /**< connection streaming a firmware upload, -1: none */
    int http_reboot_conn; /**< connection whose reset answer goes out before the reboot */
    bool http_session;    /**< a user is logged in (docs/security.md) */
    uint32_t http_session_peer;
    uint64_t http_session_last_ms;
    uint32_t http_evicted; /**< connections closed to make room (statistics) */
    bool reboot_pending;

    /* last good raw telegram / frame (GET /api/v1/telegram) */
    uint8_t telegram[SC_TELEGRAM_MAX];
    size_t telegram_len;

    /* reachability from the policy's ping counters */
    uint32_t gw_pass_seen, gw_fail_seen, inet_pass_seen, inet_fail_seen;

    struct sc_fw fw;

    /* MQTT remote commands (sc_cmd.c) */
    struct sc_cmd {
        bool tls;              /**< the MQTT session is TLS: commands accepted */
        bool subscribed;       /**< <base>/cmd/+ subscribed on this connection */
        uint32_t sub_connects; /**< the port's connect count when it was subscribed */
        bool owed;      /**< the final result of the command in fw.cmd_* is still to publish */
        char base[112]; /**< devices/<site>/smart-connect/<serial> */
        char rx_topic[HAL_MQTT_RX_TOPIC_MAX]; /**< received command (body: in payload) */
        /* firmware download over HTTP */
        bool dl_active;
        int dl_conn;
        char dl_id[SC_CMD_ID_MAX];
        char dl_host[48];  /**< host[:port] for the Host header */
        char dl_path[160]; /**< path and query */
        char dl_version[SC_FW_VERSION_MAX];
        bool dl_has_sha;
        uint8_t dl_sha[32];
        char dl_line[96]; /**< one line of the response head (longer ones: skipped) */
        uint8_t dl_line_len;
        bool dl_line_long;
        uint16_t dl_lines;
        bool dl_have_len;
        bool dl_in_body;
        bool dl_hdr_checked; /**< version / sha256 of the request compared with the header */
        uint32_t dl_length;  /**< Content-Length */
        uint32_t dl_got;     /**< body bytes received */
        uint64_t dl_last_ms;
    } cmd;
};

/**
 * Run the device until hal_sys_should_stop() (sim power-cycle or reboot). On
 * the target it never returns.
 */
void sc_app_run(struct sc_app *app, const struct sc_settings *set);

/** Fill @p s with defaults: P1, port 502, HTTP 80, EMPro, DHCP on Ethernet, MQTT off. */
void sc_settings_defaults(struct sc_settings *s);

/** The configuration the initial settings @p s describe (seed for an empty store). */
void sc_cfg_from_settings(const struct sc_settings *s, struct cfg *c);

/** Override @p s with what the saved configuration @p c sets (MeterType, network, MQTT). */
void sc_settings_apply_cfg(struct sc_settings *s, const struct cfg *c);

/** True when @p name (len bytes) is a MeterType this firmware has a template for. */
bool sc_meter_type_is_known(const char *name, size_t len);

#endif /* FIRMWARE_APPS_SMART_CONNECT_SC_APP_H */

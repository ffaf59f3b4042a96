/**
 * @file p1mb_app.h
 * @brief P1MB: P1 (DSMR) in, Modbus RTU slave on RS485 out; the device's event loop.
 *
 * Written only against the HAL and core: P1 bytes -> DSMR parser -> reading ->
 * register snapshot of the variant's template (one per good telegram); RS485
 * bytes with their µs stamps -> RTU framer (t3.5) -> slave (FC 03/04/06 only)
 * -> reply; configuration registers (p1mb_config.h) in the two-slot store,
 * effective after a reboot; three LEDs (PWR, P1, 485) through core/ui patterns.
 *
 * Variant: fixed at build time on the target (compile definition
 * P1MB_VARIANT=P1MB_VARIANT_<NAME>, picked up by p1mb_settings_defaults()),
 * chosen in struct p1mb_settings in the sim.
 *
 * The caller owns struct p1mb_app (large: parser buffer and two register
 * snapshots; put it in static storage) and the settings, which must stay valid
 * while p1mb_app_run() runs. Context: the app thread only.
 */
#ifndef FIRMWARE_APPS_P1MB_P1MB_APP_H
#define FIRMWARE_APPS_P1MB_P1MB_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "dsmr/dsmr.h"
#include "hal.h"
#include "meter_in/meter_in.h"
#include "modbus/modbus.h"
#include "p1mb_config.h"
#include "reading/reading.h"
#include "regmap/regmap.h"
#include "ui/ui.h"

/** The four register maps a P1MB can be built with (products.md §3). */
enum p1mb_variant {
    P1MB_VARIANT_PRO380 = 0, /**< Inepro PRO380 (code 1) */
    P1MB_VARIANT_ACR10RH,    /**< Acrel ACR10RH (code 2) */
    P1MB_VARIANT_SDM630,     /**< Eastron SDM630 (code 3) */
    P1MB_VARIANT_XEMEX,      /**< Xemex native map (code 4) */
    P1MB_VARIANT_COUNT
};

/** The variant a target image is built as (CMake: ML_P1MB_VARIANT). */
#ifndef P1MB_VARIANT
#define P1MB_VARIANT P1MB_VARIANT_SDM630
#endif

#define P1MB_P1_TIMEOUT_MS   30000u /**< no telegram (good or bad) this long: P1 LED off */
#define P1MB_485_FLASH_MS    100u   /**< 485 LED on after each request for us */
#define P1MB_485_ERROR_MS    2000u  /**< 485 LED blinks this long after a bad frame */
#define P1MB_REBOOT_GRACE_MS 10u    /**< after the reply is on the wire, reboot */
#define P1MB_WAKE_MS         1000u  /**< a loop pass at least this often: kicks the watchdog */

/* Configurator cable on the P1 port (products.md "P1MB configurator cable"): the PC sends
 * Modbus RTU requests on the P1 data line at 115200 8N1 to this slave address; the P1MB
 * answers on its data-request line, driven as the P1 UART's transmit line. A valid
 * request enters configuration mode (no telegrams are parsed, the request line is no
 * longer held high for the meter); P1MB_P1_CFG_IDLE_MS without a request returns to
 * meter mode. The same register block as over RS485 (p1mb_config.h). */
#define P1MB_P1_CFG_ADDRESS 247u
#define P1MB_P1_CFG_IDLE_MS 60000u

struct p1mb_settings {
    enum p1mb_variant variant;
};

/** Fill @p s with the build's variant (P1MB_VARIANT). */
void p1mb_settings_defaults(struct p1mb_settings *s);

/** Register-map template of @p v (NULL when out of range). */
const struct regmap_template *p1mb_variant_template(enum p1mb_variant v);

/** Short name ("pro380", "acr10rh", "sdm630", "xemex"), NULL when out of range. */
const char *p1mb_variant_name(enum p1mb_variant v);

/** The code register 0xF003 reads for @p v (1..4). */
uint16_t p1mb_variant_code(enum p1mb_variant v);

/** What the P1 LED shows. */
enum p1mb_p1_led {
    P1MB_P1_LED_OFF = 0, /**< no telegram for P1MB_P1_TIMEOUT_MS (or never) */
    P1MB_P1_LED_ON,      /**< the last telegram was valid */
    P1MB_P1_LED_BLINK,   /**< the last telegram failed its CRC (or framing) */
};

/** What the 485 LED shows. */
enum p1mb_485_led {
    P1MB_485_LED_OFF = 0,
    P1MB_485_LED_ON,    /**< a request for us (or broadcast) in the last P1MB_485_FLASH_MS */
    P1MB_485_LED_BLINK, /**< bytes that were no valid request in the last P1MB_485_ERROR_MS */
};

/** The telegram counters are the P1 input's (core/meter_in), copied at every telegram. */
struct p1mb_counters {
    uint32_t telegrams_pass;
    uint32_t telegrams_fail;       /**< CRC wrong */
    uint32_t telegrams_frame_fail; /**< framing broken */
    uint32_t modbus_requests;      /**< frames for us or broadcast, answered or not */
    uint32_t modbus_bad_frames;    /**< CRC errors and garbage bursts */
};

struct p1mb_status {
    enum p1mb_p1_led p1_led;
    enum p1mb_485_led rs485_led;
    bool have_telegram;        /**< a telegram ended (any verdict) since boot */
    bool last_telegram_ok;     /**< its verdict was OK */
    uint64_t last_telegram_ms; /**< device time of that verdict */
    bool config_loaded;        /**< a stored configuration was found at boot */
    bool p1_config_mode;       /**< the configurator cable is talking on P1 */
};

struct p1mb_app {
    const struct p1mb_settings *set;
    const struct regmap_template *tpl;
    struct cfg_flash_ops flash;
    struct p1mb_cfg_regs cfg;
    struct meter_in p1; /**< the P1 input on dsmr */
    struct dsmr_parser dsmr;
    struct reading scratch; /**< what the parser publishes: the last good telegram */
    bool have_good;         /**< a good telegram came since boot */
    bool meter_lost;        /**< none for P1MB_P1_TIMEOUT_MS: instantaneous values cleared */
    uint64_t last_good_ms;  /**< device time of the last good telegram */
    struct regmap_live regs;
    struct mb_slave mb;
    struct mb_rtu rtu;
    struct mb_rtu p1cfg;          /**< the configurator cable's requests on P1 (115200 8N1) */
    bool p1cfg_mode;              /**< configuration mode: P1 carries the configurator */
    uint64_t p1cfg_last_ms;       /**< last configurator request */
    struct mb_rtu_stats rtu_seen; /**< stats at the last LED update */
    bool rs485_ok, rs485_bad;     /**< a request for us / a bad frame was seen since boot */
    uint64_t rs485_ok_ms;         /**< when the last request for us ended */
    uint64_t rs485_bad_ms;        /**< when the last bad frame ended */
    bool reboot_pending;          /**< the reboot register was written */
    uint64_t reboot_at_ms;        /**< when to reboot (the reply is out by then) */
    uint64_t cfg_change_ms;       /**< last configuration write (commit P1MB_CFG_COMMIT_MS later) */
    struct ui_led led_pwr, led_p1, led_485;
    struct p1mb_counters counters;
    struct p1mb_status status;
};

/**
 * Run the device until hal_sys_should_stop() (sim power cycle or reboot). On
 * the target it never returns.
 */
void p1mb_app_run(struct p1mb_app *app, const struct p1mb_settings *set);

#endif /* FIRMWARE_APPS_P1MB_P1MB_APP_H */

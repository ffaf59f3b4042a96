/**
 * @file ml_scenario.h
 * @brief Scenario files (YAML) parsed into plain C structs, strictly: unknown
 * keys, wrong types and impossible times are errors that name file:line:column.
 * The format is documented in docs/scenarios.md.
 *
 * Ownership: ml_scenario_load() allocates everything hanging off struct
 * ml_scenario; ml_scenario_free() releases it. Host only; not thread-safe.
 */
#ifndef SIM_SCENARIO_ML_SCENARIO_H
#define SIM_SCENARIO_ML_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_meter.h"

/** Where something was written: for error messages and failure reports. */
struct ml_scn_loc {
    const char *file; /**< the scenario path (owned by struct ml_scenario) */
    int line, col;    /**< 1-based */
};

enum ml_scn_product { ML_SCN_P1 = 0, ML_SCN_TIC, ML_SCN_P1MB };

/* ------------------------------------------------------------------------- */
/* Values                                                                    */
/* ------------------------------------------------------------------------- */

enum ml_scn_src_kind {
    ML_SRC_CONST = 0, /**< one number */
    ML_SRC_ABSENT,    /**< null: the field is not sent */
    ML_SRC_RAMP,      /**< linear from .. to over the step's time range */
    ML_SRC_LIST,      /**< one item per telegram, cycling */
    ML_SRC_CSV,       /**< a column of a CSV load profile (by row, or by its time column) */
};

struct ml_scn_src {
    enum ml_scn_src_kind kind;
    double c, from, to;
    double *list; /**< LIST and CSV values */
    double *t;    /**< CSV time column in s (NULL: one row per telegram) */
    size_t n;
};

struct ml_scn_value {
    int field; /**< enum reading_field */
    struct ml_scn_src src;
    struct ml_scn_loc loc;
};

struct ml_scn_values {
    struct ml_scn_value *v;
    size_t n;
};

/* ------------------------------------------------------------------------- */
/* Steps                                                                     */
/* ------------------------------------------------------------------------- */

enum ml_scn_step_kind {
    ML_STEP_TELEGRAM = 0, /**< one telegram (file bytes or values) */
    ML_STEP_METER,        /**< change the meter's values from now on */
    ML_STEP_FAULT,
    ML_STEP_ACTION,
    ML_STEP_EXPECT,
};

enum ml_scn_fault_kind {
    /* on the next telegram(s) the meter sends */
    ML_SF_BIT_FLIP = 0,
    ML_SF_CRC_CORRUPT,
    ML_SF_DROP_BYTES,
    ML_SF_DUPLICATE_BYTES,
    ML_SF_INSERT_BYTES,
    ML_SF_TRUNCATE,
    ML_SF_OVERSIZE,
    ML_SF_GLUE,
    /* on the byte stream */
    ML_SF_NOISE,
    ML_SF_SILENCE,
    ML_SF_TIC_HISTORIC,
    ML_SF_LINE,
    /* network and power */
    ML_SF_LINK_DOWN,
    ML_SF_LINK_UP,
    ML_SF_DHCP_FAILS,
    ML_SF_DHCP_OK,
    ML_SF_GATEWAY_DOWN,
    ML_SF_GATEWAY_UP,
    ML_SF_INTERNET_DOWN,
    ML_SF_INTERNET_UP,
    ML_SF_BROKER_DOWN,
    ML_SF_BROKER_UP,
    ML_SF_BROKER_REJECTS_CREDENTIALS,
    ML_SF_BROKER_ACCEPTS_CREDENTIALS,
    ML_SF_POWER_CYCLE,
    /* rig actions (steps `power: off|on`, `reset: true`, `flash: IMAGE`) */
    ML_SF_POWER_OFF,
    ML_SF_POWER_ON,
    ML_SF_RESET,
    ML_SF_FLASH,
    ML_SF_COUNT
};

/** Name of a fault kind as written in scenarios. */
const char *ml_scn_fault_name(enum ml_scn_fault_kind k);
/** True for the faults applied to telegrams (bit_flip .. glue). */
bool ml_scn_fault_is_telegram(enum ml_scn_fault_kind k);

struct ml_scn_fault {
    enum ml_scn_fault_kind kind;
    struct ml_fault tf; /**< telegram faults: the byte operation */
    long telegrams;     /**< telegram faults: how many telegrams (default 1) */
    double duration_s;  /**< silence, tic_historic, line: how long */
    long nbytes;        /**< noise bytes */
    uint32_t seed;
    bool raw;            /**< noise may contain frame delimiters */
    struct ml_line line; /**< line: what the meter sends with */
    uint8_t *insert;     /**< insert_bytes data (owned) */
    char *image; /**< flash: the image, relative paths joined to the scenario's folder (owned) */
};

/** True for the board actions power_cycle, power_off, power_on, reset, flash. */
bool ml_scn_fault_is_board(enum ml_scn_fault_kind k);

enum ml_scn_action_kind { ML_ACT_BUTTON = 0, ML_ACT_MODBUS_WRITE, ML_ACT_HTTP, ML_ACT_MQTT_CMD };

struct ml_scn_action {
    enum ml_scn_action_kind kind;
    double hold_s; /**< button */
    uint16_t address, value;
    int unit;
    int expect_exception;       /**< modbus_write: -1 none expected (must succeed), else the code */
    char *method, *path, *body; /**< unused (an http action is the step's one ML_CHK_HTTP check) */
    int http_status;
    char *cmd_name, *cmd_body; /**< mqtt_cmd: command name, JSON body sent as is */
};

enum ml_scn_check_kind {
    ML_CHK_MODBUS = 0,
    ML_CHK_MODBUS_REFUSED,
    ML_CHK_MQTT,
    ML_CHK_LED,
    ML_CHK_LED_PATTERN,
    ML_CHK_COUNTER,
    ML_CHK_STATUS,
    ML_CHK_P1_OUT,
    ML_CHK_REBOOTS,
    ML_CHK_HTTP, /**< an HTTP request's status and JSON fields (also the http action) */
};

/** P1MB LEDs in an `led:` check (index into ml_scn_check.p1mb_led). */
enum ml_scn_p1mb_led { ML_P1MB_LED_PWR = 0, ML_P1MB_LED_P1, ML_P1MB_LED_485 };
/** What a P1MB LED shows (-1 in ml_scn_check.p1mb_led: not checked). */
enum ml_scn_led_show { ML_LED_SHOW_OFF = 0, ML_LED_SHOW_ON, ML_LED_SHOW_BLINK };

/** The device's UTC at t = 0 when the scenario names no utc_start: 2026-01-01T00:00:00Z. */
#define ML_SCN_UTC_START_DEFAULT 1767225600

struct ml_scn_field {
    char *path; /**< "P", "l1.U" */
    enum { ML_FV_NUM, ML_FV_NULL, ML_FV_STR, ML_FV_BOOL } kind;
    double num, tol;
    char *str;
    bool b;
};

struct ml_scn_check {
    enum ml_scn_check_kind kind;
    struct ml_scn_loc loc;
    char *name; /**< what is checked: register label, counter, status key, topic */
    /* modbus */
    uint16_t addr;
    uint8_t fc;
    uint8_t type;  /**< enum regmap_type */
    uint8_t order; /**< enum regmap_order (resolved, never DEFAULT) */
    int8_t exp10;  /**< register unit = 10^exp10 of the SI unit */
    int client;    /**< 1..4 */
    /* numbers: modbus value, counters, reboots (min..max) */
    double value, tol, min, max;
    bool has_range;
    /* mqtt */
    struct ml_scn_field *fields;
    size_t nfields;
    long count_min, count_max;
    /* led / status */
    int led_state;
    uint32_t colours[6];
    int ncolours;
    double period_s;
    char *str;
    bool b;
    /* p1mb led: per LED (enum ml_scn_p1mb_led) an enum ml_scn_led_show, -1 unchecked */
    int p1mb_led[3];
    /* http: str = method, name = path, body (NULL: none), status (0: any 2xx), fields */
    char *body;
    int status;
};

struct ml_scn_step {
    struct ml_scn_loc loc;
    enum ml_scn_step_kind kind;
    /* timing: at, every/from/to, or within (expectations) */
    double at;
    bool periodic;
    double every, from, to;
    bool window;
    double w_from, w_to;
    /* payload */
    struct {
        char *file;
        uint8_t *bytes;
        size_t len;
        struct ml_scn_values values;
        bool has_values;
    } telegram;
    struct ml_scn_values meter_values;
    struct ml_scn_fault fault;
    struct ml_scn_action action;
    struct ml_scn_check *checks;
    size_t nchecks;
};

/* ------------------------------------------------------------------------- */
/* Scenario                                                                  */
/* ------------------------------------------------------------------------- */

struct ml_scenario {
    char *path, *dir, *name, *description;
    enum ml_scn_product product;
    int variant; /**< p1mb: 0 pro380, 1 acr10rh, 2 sdm630, 3 xemex (enum p1mb_variant order) */
    char *duts;  /**< the `# duts:` comment line's list ("sim device rig"), NULL: not marked */
    /* device */
    char *serial;
    char *meter_type; /**< regmap template ("" = default) */
    bool mqtt;
    bool mqtt_tls; /**< mqtt: tls: mutual TLS to the runner's broker (MQTT commands need it) */
    char *mqtt_site, *mqtt_user, *mqtt_password;
    bool factory_default;
    bool dhcp;
    uint32_t ip, netmask, gateway, dns; /**< static network, host order */
    int iface;                          /**< 0 ethernet, 1 wifi */
    int64_t utc_start; /**< device time at t = 0 (default ML_SCN_UTC_START_DEFAULT) */
    /* broker the runner starts */
    char *broker_user, *broker_password;
    /* meter */
    bool has_meter;
    struct ml_meter_cfg meter;
    char *meter_header, *meter_id;
    double interval_s; /**< 0: only explicit telegram steps */
    double meter_from, meter_to;
    bool has_line;
    struct ml_line line; /**< the meter sends with these settings (default: ideal bytes) */
    struct ml_scn_values meter_values;
    /* timeline */
    double duration_s;
    struct ml_scn_step *steps;
    size_t nsteps;
};

/**
 * Load and check @p path. On error returns -1 with "file:line:col: what" in
 * @p err (and nothing to free).
 */
int ml_scenario_load(const char *path, struct ml_scenario *s, char *err, size_t errcap);

/** Same, from a buffer (for the fuzzer and tests); @p name stands for the file. */
int ml_scenario_parse(const char *name, const char *text, size_t len, struct ml_scenario *s,
                      char *err, size_t errcap);

void ml_scenario_free(struct ml_scenario *s);

/** True when @p s is marked for DUT @p dut (`# duts:` line; unmarked scenarios: sim only). */
bool ml_scenario_supports_dut(const struct ml_scenario *s, const char *dut);

/** Short name of P1MB variant @p v ("pro380", ...) and its template name. */
const char *ml_scn_variant_name(int v);
const char *ml_scn_variant_template(int v);

/** Value of @p src for telegram number @p k at @p t in a range [@p from, @p to] (s). */
double ml_scn_src_eval(const struct ml_scn_src *src, double t, double from, double to, size_t k);

/** Apply @p vals (evaluated at t / k) on top of @p out. */
void ml_scn_values_apply(const struct ml_scn_values *vals, double t, double from, double to,
                         size_t k, struct ml_meter_values *out);

/** Colour by name ("red", "green", "orange", ...). @return 0 or -1. */
int ml_scn_colour_find(const char *name, uint32_t *rgb);
/** Name of a colour ("#RRGGBB" form when not one of the names); @p buf >= 8 bytes. */
const char *ml_scn_colour_name(uint32_t rgb, char *buf);

#endif /* SIM_SCENARIO_ML_SCENARIO_H */

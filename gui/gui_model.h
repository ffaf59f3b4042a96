/**
 * @file gui_model.h
 * @brief The GUI's simulation side, without SDL: the device on the sim port in
 * virtual time, the meter playing telegrams, faults, button, and an event log.
 * Private to ml_gui.
 */
#ifndef GUI_GUI_MODEL_H
#define GUI_GUI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_run.h"
#include "gui.h"
#include "ml_broker.h"
#include "mqtt/mqtt.h"
#include "p1mb_app.h"
#include "reading/reading.h"
#include "sc_app.h"

#define GUI_FRAMES_MAX 16  /**< telegrams/frames taken from one file (played in a loop) */
#define GUI_LOG_MAX    200 /**< event log lines kept */
#define GUI_LOG_TEXT   112

enum gui_log_kind {
    GUI_LOG_INFO = 0,
    GUI_LOG_OK,
    GUI_LOG_BAD,
    GUI_LOG_LED,
    GUI_LOG_BUTTON,
};

struct gui_log_line {
    uint64_t t_us;
    uint32_t repeat; /**< identical consecutive lines are folded */
    enum gui_log_kind kind;
    char text[GUI_LOG_TEXT];
};

struct gui_frames {
    uint8_t *buf; /**< the whole file (malloc'ed) */
    size_t off[GUI_FRAMES_MAX], len[GUI_FRAMES_MAX];
    size_t n;
};

/** The charger on the P1MB's RS485 line: reads one value per poll, as a wallbox does. */
struct gui_charger {
    uint8_t unit, fc;
    uint16_t addr, words;
    const struct regmap_entry *entry; /**< the register read (P total) */
    uint64_t next_us;                 /**< next poll */
    uint64_t sent_us;                 /**< last request (0: none waiting) */
    uint32_t requests, replies, no_reply, garbage;
    uint8_t req[16], rsp[64];
    size_t req_len, rsp_len;
    bool have_value;
    char value[64]; /**< the last decoded reply ("1193.0 W") */
    uint64_t value_us;
};

/** The scenario being played (meterlab gui SCENARIO): the runner (sim/runner) plays it
 * against the in-process device, exactly as `meterlab run` does; the GUI follows. */
struct gui_scn {
    bool loaded;
    struct ml_scenario s;
    struct ml_run_session *run;        /**< NULL while the device is stopped */
    struct ml_dut dut;                 /**< the sim DUT the runner plays against */
    struct ml_dut_ops ops;             /**< its ops, inject passing the GUI's line faults */
    const struct ml_dut_ops *base_ops; /**< the backend's own ops */
    struct ml_run_opts ro;
    struct ml_run_result res; /**< checks decided so far */
    long step;                /**< the step of the last event played (-1: none yet) */
    uint64_t step_us;         /**< when it was played */
    long next_step;           /**< the next step event (-1: none) */
    uint64_t next_us;         /**< its time */
    bool ended;               /**< past the scenario's duration */
    char base[64];            /**< the file's base name */
};

struct gui_model {
    struct gui_options opt;
    struct sc_settings set;
    struct p1mb_settings pset;
    const char *serial;
    char telegram_path[512];
    struct gui_frames tel, hist;
    uint64_t interval_us;
    bool running;

    /* meter */
    uint64_t next_tel_us;
    size_t next_frame;
    uint32_t sent;
    uint32_t rng;

    /* faults and button */
    bool fault[GUI_FAULT_COUNT];
    bool button_down;
    uint64_t button_since_us;
    size_t next_action;
    uint64_t release_at_us; /**< scripted release (0: none) */

    /* observation */
    uint64_t now_us;
    uint64_t act_in_us, act_out_us, act_eth_us; /**< last port activity (virtual) */
    bool act_in_bad;
    struct sc_counters cnt;
    struct sc_status st;
    struct p1mb_counters pcnt; /**< P1MB */
    struct p1mb_status pst;
    uint64_t act_485_us;
    bool act_485_bad;
    struct gui_charger ch;
    struct gui_scn scn;

    /* MQTT broker the GUI runs itself (--mqtt local, or a scenario with MQTT) */
    struct ml_broker broker;
    bool own_broker, broker_up;
    char mqtt_url[128];
    uint32_t boots;
    struct reading reading;
    bool have_reading;
    char payload[MQTT_POWER_INSTANT_MAX];
    int payload_len;

    struct gui_log_line log[GUI_LOG_MAX];
    size_t log_head, log_n; /**< ring: oldest at log_head */
};

/** Load telegrams and start the device at t = 0. @return 0, or an exit code (message printed). */
int gui_model_start(struct gui_model *m, const struct gui_options *o);

/** Stop the device (safe twice). Frees the telegram buffers. */
void gui_model_stop(struct gui_model *m);

/** Restart from t = 0 with the same options, faults off, log cleared. */
int gui_model_restart(struct gui_model *m);

/** Advance virtual time to @p t_us, playing telegrams and the script on the way. */
void gui_model_run_to(struct gui_model *m, uint64_t t_us);

/** The button, pressed or released now. */
void gui_model_button(struct gui_model *m, bool down);

/** Switch a fault on/off (power cycle: do it now). */
void gui_model_fault_set(struct gui_model *m, enum gui_fault f, bool on);

/** True when fault @p f means something for this device (historic: TIC; broker: MQTT on). */
bool gui_model_fault_available(const struct gui_model *m, enum gui_fault f);

/** Log line @p i, 0 = newest; NULL past the end. */
const struct gui_log_line *gui_model_log_at(const struct gui_model *m, size_t i);

/** Append to the log (printf style). */
void gui_model_log(struct gui_model *m, enum gui_log_kind k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Human description of an LED state ("green, steady"). */
const char *gui_led_state_text(enum ui_led_state s);

/** Name of a scenario step kind ("telegram", "fault broker_down", "expect", ...). */
void gui_model_step_text(const struct gui_model *m, long step, char *out, size_t cap);

/** The register snapshot of the running device (Smart Connect or P1MB). */
const struct regmap_snapshot *gui_model_regs(const struct gui_model *m);

/** Telegram counters of either product. */
void gui_model_tel_counts(const struct gui_model *m, uint32_t *pass, uint32_t *fail,
                          uint32_t *frame_fail);

/** Decode register words @p w of entry @p e as "1193.0 W" (the register's own unit). */
void gui_reg_value(const struct regmap_template *t, const struct regmap_entry *e, const uint16_t *w,
                   char *out, size_t cap);

/** P1MB LED states in words ("P1 LED on: valid telegrams"). */
const char *gui_p1_led_text(enum p1mb_p1_led s);
const char *gui_485_led_text(enum p1mb_485_led s);

#endif /* GUI_GUI_MODEL_H */

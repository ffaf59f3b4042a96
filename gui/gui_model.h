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

#include "gui.h"
#include "mqtt/mqtt.h"
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

struct gui_model {
    struct gui_options opt;
    struct sc_settings set;
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

/** "off", "connecting", ... */
const char *gui_mqtt_state_name(enum hal_mqtt_state s);

#endif /* GUI_GUI_MODEL_H */

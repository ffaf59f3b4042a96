/**
 * @file gui.h
 * @brief The meterlab demo GUI (library ml_gui): the simulated device drawn
 * with its LED and button, the meter side (telegrams, speed, faults) and the
 * outputs (live values, Modbus registers, MQTT payload, counters, event log).
 *
 * Host only (SDL2 + SDL2_ttf). The firmware runs in-process on the sim port in
 * virtual time: each frame advances the device by frame time x speed, so every
 * speed from 1x to 100x runs the same way, and a screenshot at virtual time T
 * is deterministic.
 *
 * One GUI per process (the sim port is one board). Not thread-safe.
 */
#ifndef GUI_GUI_H
#define GUI_GUI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gui_product {
    GUI_PRODUCT_P1 = 0, /**< Smart P1/A1 Connect */
    GUI_PRODUCT_TIC,    /**< Smart TIC Connect */
    GUI_PRODUCT_P1MB,   /**< P1MB: P1 in, Modbus RTU slave on RS485 (DIN rail) */
};

/** One-click faults of the meter side and the network (also scriptable). */
enum gui_fault {
    GUI_FAULT_UNPLUG = 0,  /**< meter unplugged: no telegrams */
    GUI_FAULT_NOISE,       /**< noisy line: random bit flips in every telegram */
    GUI_FAULT_CRC,         /**< one digit changed per telegram: CRC / checksum errors */
    GUI_FAULT_HISTORIC,    /**< TIC only: the meter sends historic-mode frames */
    GUI_FAULT_NET_DOWN,    /**< Ethernet link down */
    GUI_FAULT_BROKER_DOWN, /**< the GUI's own MQTT broker stops (needs --mqtt local) */
    GUI_FAULT_POWER_CYCLE, /**< one shot: power the device off and on */
    GUI_FAULT_BUS_GARBAGE, /**< P1MB only: the charger side sends garbage on RS485 */
    GUI_FAULT_COUNT
};

/** Short name of a fault as used on the command line ("unplug", "noise", ...). */
const char *gui_fault_name(enum gui_fault f);

/** Fault by name, or -1. */
int gui_fault_by_name(const char *name);

/** A scripted action at a virtual instant. */
enum gui_action_kind {
    GUI_ACT_PRESS = 0, /**< press the button and hold it for @c arg seconds */
    GUI_ACT_FAULT_ON,  /**< switch fault @c fault on (power cycle: do it) */
    GUI_ACT_FAULT_OFF, /**< switch fault @c fault off */
};

struct gui_action {
    double at_s;
    enum gui_action_kind kind;
    enum gui_fault fault;
    double arg;
};

/** Render the window at virtual time @c at_s into @c file (.png or .bmp). */
struct gui_shot {
    double at_s;
    const char *file;
};

#define GUI_ACTIONS_MAX 32
#define GUI_SHOTS_MAX   16

struct gui_options {
    enum gui_product product;
    const char *telegram_file; /**< NULL: the product's default telegram */
    double interval_s;         /**< meter interval; 0: 1 s (P1), the frame's wire time (TIC) */
    double speed;              /**< 1 .. 100 */
    int width, height;         /**< window size (default 1280 x 720) */
    const char *meter_type;    /**< register map template (NULL: the device default) */
    int variant;               /**< P1MB: enum p1mb_variant; -1: sdm630 (or the scenario's) */
    const char *mqtt_url;      /**< NULL: MQTT off; "local": the GUI starts its own broker */
    uint16_t modbus_port;      /**< 0: any free port */
    const char *source_dir;    /**< repository root (default telegrams); NULL: built-in path */
    bool verbose;              /**< print layout and screenshot facts on stdout */
    bool headless;             /**< screenshots: draw into memory, no video driver at all */
    bool show_help;            /**< start with the shortcuts overlay shown (F1) */
    bool product_set;          /**< --product given (overrides the scenario's) */
    const char *scenario_file; /**< play this scenario's meter side (NULL: --telegram loop) */
    struct gui_action actions[GUI_ACTIONS_MAX];
    size_t n_actions;
    struct gui_shot shots[GUI_SHOTS_MAX];
    size_t n_shots;
};

/** Defaults: P1, 1x, 1280 x 720. */
void gui_options_defaults(struct gui_options *o);

/**
 * Run the GUI: a window until closed, or (when @c n_shots > 0) render each
 * screenshot at its virtual instant and return.
 * @return a meterlab exit code: 0 ok, 2 usage or I/O error (message on stderr).
 */
int gui_run(const struct gui_options *o);

/* ------------------------------------------------------------------------- */
/* Layout: one function places everything, for drawing, hit tests and tests  */
/* ------------------------------------------------------------------------- */

struct gui_rect {
    int x, y, w, h;
};

enum gui_control {
    GUI_CTRL_PLAY = 0,
    GUI_CTRL_RESTART,
    GUI_CTRL_SLOWER,
    GUI_CTRL_FASTER,
    GUI_CTRL_COUNT
};

struct gui_layout {
    int w, h;
    float scale; /**< 1.0 at 1280 x 720 */
    struct gui_rect top;
    struct gui_rect meter_panel, meter, controls[GUI_CTRL_COUNT], faults[GUI_FAULT_COUNT];
    struct gui_rect device_panel, device, button, led, hold_bar;
    struct gui_rect port_in, port_out, port_eth, port_usb;
    struct gui_rect scn;                      /**< meter panel: scenario / telegram strip */
    struct gui_rect led_pwr, led_p1, led_485; /**< P1MB LEDs (discs in these squares) */
    struct gui_rect rail, charger;            /**< P1MB: the DIN rail, the charger polling it */
    struct gui_rect log_panel;
    struct gui_rect values_panel, regs_panel, payload_panel, counters_panel;
};

/**
 * Place every element in a window of @p w x @p h pixels. The status LED is
 * @c led: a disc inscribed in that square, drawn in exactly the colour the
 * firmware set (sim_led_get), so its centre pixel is the LED colour. For the
 * P1MB, @c led_pwr, @c led_p1 and @c led_485 are its three LEDs the same way
 * (and @c led is @c led_p1; there is no button).
 */
void gui_layout_compute(int w, int h, enum gui_product p, struct gui_layout *out);

#endif /* GUI_GUI_H */

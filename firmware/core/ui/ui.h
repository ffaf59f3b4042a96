/**
 * @file ui.h
 * @brief LED pattern engine and button gesture recogniser (pure logic).
 *
 * Both are clocked by the caller ("now" in ms, hal_time_ms() in the apps), so
 * they run unchanged in virtual time and in unit tests. Neither touches the HAL:
 * the app writes ui_led_colour() to hal_led_set() and feeds
 * hal_button_is_pressed() to ui_button_update(), and folds the
 * *_next_deadline_ms() values into its hal_time_wait_until().
 *
 * Colours are 0x00RRGGBB (the same encoding as hal_rgb_t).
 * Context: app loop; no ISR use. State is caller-owned.
 */
#ifndef FIRMWARE_CORE_UI_UI_H
#define FIRMWARE_CORE_UI_UI_H

#include <stdbool.h>
#include <stdint.h>

#define UI_RGB_OFF     0x000000u
#define UI_RGB_RED     0xFF0000u
#define UI_RGB_GREEN   0x00FF00u
#define UI_RGB_BLUE    0x0000FFu
#define UI_RGB_ORANGE  0xFF8000u
#define UI_RGB_YELLOW  0xFFFF00u
#define UI_RGB_CYAN    0x00FFFFu
#define UI_RGB_MAGENTA 0xFF00FFu

/* ------------------------------------------------------------------------- */
/* LED patterns                                                              */
/* ------------------------------------------------------------------------- */

/**
 * A pattern: a cycle of @c n colours, each shown for @c step_ms. n = 1 is
 * steady. "Alternating at 1 Hz" is two colours of 500 ms (one full cycle per
 * second); "blinking" alternates a colour with off.
 */
struct ui_pattern {
    uint32_t colours[6];
    uint8_t n;
    uint16_t step_ms;
};

/** The Smart Connect LED table (products.md §1), plus the button feedbacks. */
enum ui_led_state {
    UI_LED_BOOTING = 0,    /**< red, steady */
    UI_LED_INITIALISING,   /**< colour changes continuously */
    UI_LED_NORMAL,         /**< green, steady */
    UI_LED_AP,             /**< blue, blinking 1 Hz */
    UI_LED_NO_METER,       /**< red/green alternating 1 Hz */
    UI_LED_NO_METER_AP,    /**< blue/red alternating 1 Hz */
    UI_LED_NO_IP,          /**< green/orange alternating 1 Hz */
    UI_LED_NO_METER_NO_IP, /**< red/orange alternating 1 Hz */
    UI_LED_BUTTON_AP,      /**< button held 5 s in factory state: blue blinking */
    UI_LED_BUTTON_FACTORY, /**< button held 10 s: red fast blinking (5 Hz) */
    UI_LED_STATE_COUNT
};

/** What the status model knows; ui_led_state_from_status() maps it to the table. */
struct ui_status {
    bool booting;      /**< before the app has initialised its modules */
    bool initialising; /**< waiting for the first network/meter outcome */
    bool meter_data;   /**< a good telegram within the meter timeout */
    bool has_ip;       /**< the active interface has an address */
    bool ap_mode;      /**< the access point is on */
};

/** The pattern of @p s (never NULL for a valid state; NULL when out of range). */
const struct ui_pattern *ui_led_pattern(enum ui_led_state s);

/** Short name of @p s ("normal", "no_meter", ...), for logs and scenario files. */
const char *ui_led_state_name(enum ui_led_state s);

/**
 * Map the status to the LED table. Precedence: booting, initialising, then AP
 * mode (with or without meter data), then no IP (with or without meter data),
 * then no meter data, else normal.
 */
enum ui_led_state ui_led_state_from_status(const struct ui_status *st);

struct ui_led {
    const struct ui_pattern *pattern;
    uint64_t since_ms; /**< phase origin: when the pattern was set */
};

/** Start with @p p (phase origin @p now_ms). */
void ui_led_init(struct ui_led *led, const struct ui_pattern *p, uint64_t now_ms);

/**
 * Show pattern @p p. The phase restarts only when the pattern changes, so
 * calling it every loop with the same pattern keeps a steady rhythm.
 * @retval true the pattern changed.
 */
bool ui_led_show(struct ui_led *led, const struct ui_pattern *p, uint64_t now_ms);

/** The colour to show at @p now_ms. */
uint32_t ui_led_colour(const struct ui_led *led, uint64_t now_ms);

/** When the colour next changes (UINT64_MAX for a steady pattern). */
uint64_t ui_led_next_deadline_ms(const struct ui_led *led, uint64_t now_ms);

/* ------------------------------------------------------------------------- */
/* Button                                                                    */
/* ------------------------------------------------------------------------- */

#define UI_BUTTON_DEBOUNCE_MS  30u    /**< contact must be stable this long */
#define UI_BUTTON_SHORT_MAX_MS 2000u  /**< press shorter than this: soft reset */
#define UI_BUTTON_AP_MS        5000u  /**< held this long: AP mode (factory state only) */
#define UI_BUTTON_FACTORY_MS   10000u /**< held this long: factory reset */

enum ui_button_event {
    UI_BTN_NONE = 0,
    UI_BTN_PRESSED,          /**< debounced press began */
    UI_BTN_AP_FEEDBACK,      /**< 5 s mark reached in factory state: show blue blinking */
    UI_BTN_FACTORY_FEEDBACK, /**< 10 s mark reached: release now resets to factory */
    UI_BTN_SOFT_RESET,       /**< released before 2 s: soft reset + reconnect */
    UI_BTN_AP_MODE,          /**< released between 5 s and 10 s in factory state */
    UI_BTN_FACTORY_RESET,    /**< released after 10 s or more */
    UI_BTN_NO_ACTION,        /**< released in a window that does nothing (2-5 s, ...) */
};

struct ui_button {
    bool raw;           /**< last raw sample */
    uint64_t raw_since; /**< when the raw level last changed */
    bool pressed;       /**< debounced level */
    uint64_t pressed_at;
    bool factory_default; /**< latched at press time */
    bool ap_fb_sent;
    bool factory_fb_sent;
};

/** Start released. */
void ui_button_init(struct ui_button *b, uint64_t now_ms);

/**
 * Feed one sample of the contact (true = closed) at @p now_ms; returns at most
 * one event. @p factory_default says whether the device is in factory-default
 * state (latched when the press begins). Call it at least at every deadline
 * from ui_button_next_deadline_ms() and on every input change.
 */
enum ui_button_event ui_button_update(struct ui_button *b, bool raw_pressed, uint64_t now_ms,
                                      bool factory_default);

/** Next instant the recogniser needs a sample (debounce end, 5 s / 10 s marks). */
uint64_t ui_button_next_deadline_ms(const struct ui_button *b);

/** How long the (debounced) button has been held, 0 when released. */
uint64_t ui_button_held_ms(const struct ui_button *b, uint64_t now_ms);

/** Short name of an event ("soft_reset", ...). */
const char *ui_button_event_name(enum ui_button_event e);

#endif /* FIRMWARE_CORE_UI_UI_H */

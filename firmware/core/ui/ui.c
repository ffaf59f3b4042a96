#include "ui.h"

/* ------------------------------------------------------------------------- */
/* LED table (products.md §1 "LED")                                          */
/* ------------------------------------------------------------------------- */

/* 1 Hz alternation = two colours of 500 ms each. The initialising cycle is
 * not timed by the manual; six hues at 250 ms read as "changing continuously". */
static const struct ui_pattern patterns[UI_LED_STATE_COUNT] = {
    [UI_LED_BOOTING] = {{UI_RGB_RED}, 1, 0},
    [UI_LED_INITIALISING] = {{UI_RGB_RED, UI_RGB_YELLOW, UI_RGB_GREEN, UI_RGB_CYAN, UI_RGB_BLUE,
                              UI_RGB_MAGENTA},
                             6,
                             250},
    [UI_LED_NORMAL] = {{UI_RGB_GREEN}, 1, 0},
    [UI_LED_AP] = {{UI_RGB_BLUE, UI_RGB_OFF}, 2, 500},
    [UI_LED_NO_METER] = {{UI_RGB_RED, UI_RGB_GREEN}, 2, 500},
    [UI_LED_NO_METER_AP] = {{UI_RGB_BLUE, UI_RGB_RED}, 2, 500},
    [UI_LED_NO_IP] = {{UI_RGB_GREEN, UI_RGB_ORANGE}, 2, 500},
    [UI_LED_NO_METER_NO_IP] = {{UI_RGB_RED, UI_RGB_ORANGE}, 2, 500},
    [UI_LED_BUTTON_AP] = {{UI_RGB_BLUE, UI_RGB_OFF}, 2, 500},
    [UI_LED_BUTTON_FACTORY] = {{UI_RGB_RED, UI_RGB_OFF}, 2, 100},
};

static const char *const state_names[UI_LED_STATE_COUNT] = {
    [UI_LED_BOOTING] = "booting",     [UI_LED_INITIALISING] = "initialising",
    [UI_LED_NORMAL] = "normal",       [UI_LED_AP] = "ap",
    [UI_LED_NO_METER] = "no_meter",   [UI_LED_NO_METER_AP] = "no_meter_ap",
    [UI_LED_NO_IP] = "no_ip",         [UI_LED_NO_METER_NO_IP] = "no_meter_no_ip",
    [UI_LED_BUTTON_AP] = "button_ap", [UI_LED_BUTTON_FACTORY] = "button_factory",
};

const struct ui_pattern *ui_led_pattern(enum ui_led_state s)
{
    if ((unsigned)s >= (unsigned)UI_LED_STATE_COUNT) {
        return 0;
    }
    return &patterns[s];
}

const char *ui_led_state_name(enum ui_led_state s)
{
    if ((unsigned)s >= (unsigned)UI_LED_STATE_COUNT) {
        return "?";
    }
    return state_names[s];
}

enum ui_led_state ui_led_state_from_status(const struct ui_status *st)
{
    if (st->booting) {
        return UI_LED_BOOTING;
    }
    if (st->initialising) {
        return UI_LED_INITIALISING;
    }
    if (st->ap_mode) {
        return st->meter_data ? UI_LED_AP : UI_LED_NO_METER_AP;
    }
    if (!st->has_ip) {
        return st->meter_data ? UI_LED_NO_IP : UI_LED_NO_METER_NO_IP;
    }
    return st->meter_data ? UI_LED_NORMAL : UI_LED_NO_METER;
}

void ui_led_init(struct ui_led *led, const struct ui_pattern *p, uint64_t now_ms)
{
    led->pattern = p;
    led->since_ms = now_ms;
}

bool ui_led_show(struct ui_led *led, const struct ui_pattern *p, uint64_t now_ms)
{
    if (led->pattern == p) {
        return false;
    }
    led->pattern = p;
    led->since_ms = now_ms;
    return true;
}

uint32_t ui_led_colour(const struct ui_led *led, uint64_t now_ms)
{
    const struct ui_pattern *p = led->pattern;
    if (p == 0 || p->n == 0) {
        return UI_RGB_OFF;
    }
    if (p->n == 1 || p->step_ms == 0 || now_ms < led->since_ms) {
        return p->colours[0];
    }
    uint64_t step = (now_ms - led->since_ms) / p->step_ms;
    return p->colours[step % p->n];
}

uint64_t ui_led_next_deadline_ms(const struct ui_led *led, uint64_t now_ms)
{
    const struct ui_pattern *p = led->pattern;
    if (p == 0 || p->n <= 1 || p->step_ms == 0) {
        return UINT64_MAX;
    }
    if (now_ms < led->since_ms) {
        return led->since_ms;
    }
    uint64_t step = (now_ms - led->since_ms) / p->step_ms;
    return led->since_ms + (step + 1u) * p->step_ms;
}

/* ------------------------------------------------------------------------- */
/* Button (products.md §1 "Button"; actions on release, feedback while held)  */
/* ------------------------------------------------------------------------- */

void ui_button_init(struct ui_button *b, uint64_t now_ms)
{
    b->raw = false;
    b->raw_since = now_ms;
    b->pressed = false;
    b->pressed_at = 0;
    b->factory_default = false;
    b->ap_fb_sent = false;
    b->factory_fb_sent = false;
}

uint64_t ui_button_held_ms(const struct ui_button *b, uint64_t now_ms)
{
    if (!b->pressed || now_ms < b->pressed_at) {
        return 0;
    }
    return now_ms - b->pressed_at;
}

static enum ui_button_event release_action(const struct ui_button *b, uint64_t held)
{
    if (held < UI_BUTTON_SHORT_MAX_MS) {
        return UI_BTN_SOFT_RESET;
    }
    if (held >= UI_BUTTON_FACTORY_MS) {
        return UI_BTN_FACTORY_RESET;
    }
    if (held >= UI_BUTTON_AP_MS && b->factory_default) {
        return UI_BTN_AP_MODE;
    }
    return UI_BTN_NO_ACTION;
}

enum ui_button_event ui_button_update(struct ui_button *b, bool raw_pressed, uint64_t now_ms,
                                      bool factory_default)
{
    if (raw_pressed != b->raw) {
        b->raw = raw_pressed;
        b->raw_since = now_ms;
    }
    bool stable = now_ms - b->raw_since >= UI_BUTTON_DEBOUNCE_MS;

    if (stable && b->raw != b->pressed) {
        /* The level changed and held for the debounce time: the edge happened
         * when the raw level changed, so durations are measured from there. */
        b->pressed = b->raw;
        if (b->pressed) {
            b->pressed_at = b->raw_since;
            b->factory_default = factory_default;
            b->ap_fb_sent = false;
            b->factory_fb_sent = false;
            return UI_BTN_PRESSED;
        }
        uint64_t held = b->raw_since - b->pressed_at;
        return release_action(b, held);
    }
    if (b->pressed) {
        uint64_t held = now_ms - b->pressed_at;
        if (!b->factory_fb_sent && held >= UI_BUTTON_FACTORY_MS) {
            b->factory_fb_sent = true;
            b->ap_fb_sent = true;
            return UI_BTN_FACTORY_FEEDBACK;
        }
        if (!b->ap_fb_sent && b->factory_default && held >= UI_BUTTON_AP_MS) {
            b->ap_fb_sent = true;
            return UI_BTN_AP_FEEDBACK;
        }
    }
    return UI_BTN_NONE;
}

uint64_t ui_button_next_deadline_ms(const struct ui_button *b)
{
    uint64_t d = UINT64_MAX;
    if (b->raw != b->pressed) {
        d = b->raw_since + UI_BUTTON_DEBOUNCE_MS;
    }
    if (b->pressed) {
        uint64_t mark = UINT64_MAX;
        if (!b->ap_fb_sent && b->factory_default) {
            mark = b->pressed_at + UI_BUTTON_AP_MS;
        } else if (!b->factory_fb_sent) {
            mark = b->pressed_at + UI_BUTTON_FACTORY_MS;
        }
        if (mark < d) {
            d = mark;
        }
    }
    return d;
}

const char *ui_button_event_name(enum ui_button_event e)
{
    switch (e) {
    case UI_BTN_NONE:
        return "none";
    case UI_BTN_PRESSED:
        return "pressed";
    case UI_BTN_AP_FEEDBACK:
        return "ap_feedback";
    case UI_BTN_FACTORY_FEEDBACK:
        return "factory_feedback";
    case UI_BTN_SOFT_RESET:
        return "soft_reset";
    case UI_BTN_AP_MODE:
        return "ap_mode";
    case UI_BTN_FACTORY_RESET:
        return "factory_reset";
    case UI_BTN_NO_ACTION:
        return "no_action";
    }
    return "?";
}

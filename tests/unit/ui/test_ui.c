/*
 * core/ui in virtual time: the LED table's colours and rhythm, and the button
 * gestures driven the way an app loop drives them (samples at input changes
 * and at the recogniser's own deadlines only).
 */
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "ml_test.h"
#include "ui/ui.h"

/* ------------------------------------------------------------------------- */
/* LED                                                                       */
/* ------------------------------------------------------------------------- */

/* Colour at t for a state shown from t = 1000 ms. */
static uint32_t colour_at(enum ui_led_state s, uint64_t t)
{
    struct ui_led led;
    ui_led_init(&led, ui_led_pattern(s), 1000);
    return ui_led_colour(&led, t);
}

static void test_ui_led_table_steady_states(void)
{
    CU_ASSERT_EQUAL(colour_at(UI_LED_BOOTING, 1000), 0xFF0000u);
    CU_ASSERT_EQUAL(colour_at(UI_LED_BOOTING, 987654), 0xFF0000u);
    CU_ASSERT_EQUAL(colour_at(UI_LED_NORMAL, 1000), 0x00FF00u);
    CU_ASSERT_EQUAL(colour_at(UI_LED_NORMAL, 60000), 0x00FF00u);
    struct ui_led led;
    ui_led_init(&led, ui_led_pattern(UI_LED_NORMAL), 0);
    CU_ASSERT_EQUAL(ui_led_next_deadline_ms(&led, 5), UINT64_MAX);
}

static void test_ui_led_table_alternations_at_1hz(void)
{
    /* state, first colour, second colour: products.md LED table */
    static const struct {
        enum ui_led_state s;
        uint32_t a, b;
    } rows[] = {
        {UI_LED_AP, 0x0000FFu, 0x000000u},
        {UI_LED_NO_METER, 0xFF0000u, 0x00FF00u},
        {UI_LED_NO_METER_AP, 0x0000FFu, 0xFF0000u},
        {UI_LED_NO_IP, 0x00FF00u, 0xFF8000u},
        {UI_LED_NO_METER_NO_IP, 0xFF0000u, 0xFF8000u},
    };
    for (size_t i = 0; i < ML_ARRAY_SIZE(rows); i++) {
        CU_ASSERT_EQUAL(colour_at(rows[i].s, 1000), rows[i].a);
        CU_ASSERT_EQUAL(colour_at(rows[i].s, 1499), rows[i].a);
        CU_ASSERT_EQUAL(colour_at(rows[i].s, 1500), rows[i].b);
        CU_ASSERT_EQUAL(colour_at(rows[i].s, 1999), rows[i].b);
        CU_ASSERT_EQUAL(colour_at(rows[i].s, 2000), rows[i].a); /* period 1 s */
        CU_ASSERT_EQUAL(colour_at(rows[i].s, 11500), rows[i].b);
    }
}

static void test_ui_led_deadlines_follow_the_rhythm(void)
{
    struct ui_led led;
    ui_led_init(&led, ui_led_pattern(UI_LED_NO_METER), 100);
    uint64_t t = 100;
    int changes = 0;
    uint32_t last = ui_led_colour(&led, t);
    /* walk 10 s by deadlines only: 20 changes, each at a 500 ms boundary */
    while ((t = ui_led_next_deadline_ms(&led, t)) <= 10100) {
        uint32_t c = ui_led_colour(&led, t);
        CU_ASSERT_NOT_EQUAL(c, last);
        CU_ASSERT_EQUAL((t - 100) % 500, 0);
        last = c;
        changes++;
    }
    CU_ASSERT_EQUAL(changes, 20);
}

static void test_ui_led_initialising_changes_continuously(void)
{
    struct ui_led led;
    ui_led_init(&led, ui_led_pattern(UI_LED_INITIALISING), 0);
    uint32_t seen[8];
    for (int i = 0; i < 8; i++) {
        seen[i] = ui_led_colour(&led, (uint64_t)i * 250u);
    }
    for (int i = 1; i < 6; i++) {
        CU_ASSERT_NOT_EQUAL(seen[i], seen[i - 1]);
    }
    CU_ASSERT_EQUAL(seen[6], seen[0]);
}

static void test_ui_led_show_keeps_phase_for_same_pattern(void)
{
    struct ui_led led;
    ui_led_init(&led, ui_led_pattern(UI_LED_NO_METER), 0);
    CU_ASSERT_FALSE(ui_led_show(&led, ui_led_pattern(UI_LED_NO_METER), 700));
    CU_ASSERT_EQUAL(ui_led_colour(&led, 700), 0x00FF00u); /* still in the green half */
    CU_ASSERT_TRUE(ui_led_show(&led, ui_led_pattern(UI_LED_NO_IP), 700));
    CU_ASSERT_EQUAL(ui_led_colour(&led, 700), 0x00FF00u); /* green first */
    CU_ASSERT_EQUAL(ui_led_colour(&led, 1200), 0xFF8000u);
}

static void test_ui_led_status_mapping(void)
{
    struct ui_status st = {0};
    st.booting = true;
    CU_ASSERT_EQUAL(ui_led_state_from_status(&st), UI_LED_BOOTING);
    st.booting = false;
    st.initialising = true;
    CU_ASSERT_EQUAL(ui_led_state_from_status(&st), UI_LED_INITIALISING);
    st.initialising = false;
    st.has_ip = true;
    st.meter_data = true;
    CU_ASSERT_EQUAL(ui_led_state_from_status(&st), UI_LED_NORMAL);
    st.meter_data = false;
    CU_ASSERT_EQUAL(ui_led_state_from_status(&st), UI_LED_NO_METER);
    st.has_ip = false;
    CU_ASSERT_EQUAL(ui_led_state_from_status(&st), UI_LED_NO_METER_NO_IP);
    st.meter_data = true;
    CU_ASSERT_EQUAL(ui_led_state_from_status(&st), UI_LED_NO_IP);
    st.ap_mode = true;
    CU_ASSERT_EQUAL(ui_led_state_from_status(&st), UI_LED_AP);
    st.meter_data = false;
    CU_ASSERT_EQUAL(ui_led_state_from_status(&st), UI_LED_NO_METER_AP);
    CU_ASSERT_STRING_EQUAL(ui_led_state_name(UI_LED_NO_METER_AP), "no_meter_ap");
    CU_ASSERT_PTR_NULL(ui_led_pattern(UI_LED_STATE_COUNT));
}

/* ------------------------------------------------------------------------- */
/* Button, driven like an app loop                                           */
/* ------------------------------------------------------------------------- */

struct ev {
    enum ui_button_event e;
    uint64_t t;
};

/*
 * Press at t = 1000 for @p hold ms (raw contact), optionally with @p bounces
 * 5 ms glitches at the edges, sampling only at changes and deadlines.
 */
static int run_press(uint64_t hold, bool factory, int bounces, struct ev *out, int cap)
{
    struct ui_button b;
    ui_button_init(&b, 0);
    /* raw level changes: list of (time, level) */
    uint64_t t_ch[16];
    bool lv[16];
    int nch = 0;
    uint64_t t0 = 1000;
    for (int i = 0; i < bounces; i++) {
        t_ch[nch] = t0 + (uint64_t)i * 10u;
        lv[nch++] = true;
        t_ch[nch] = t0 + (uint64_t)i * 10u + 5u;
        lv[nch++] = false;
    }
    uint64_t press = t0 + (uint64_t)bounces * 10u;
    t_ch[nch] = press;
    lv[nch++] = true;
    t_ch[nch] = press + hold;
    lv[nch++] = false;
    int n = 0, ci = 0;
    bool raw = false;
    uint64_t t = 0;
    while (t < press + hold + 1000u) {
        uint64_t next = ui_button_next_deadline_ms(&b);
        if (ci < nch && t_ch[ci] < next) {
            next = t_ch[ci];
        }
        if (next == UINT64_MAX) {
            break;
        }
        t = next;
        while (ci < nch && t_ch[ci] <= t) {
            raw = lv[ci++];
        }
        enum ui_button_event e = ui_button_update(&b, raw, t, factory);
        if (e != UI_BTN_NONE && n < cap) {
            out[n++] = (struct ev){e, t};
        }
    }
    return n;
}

static void test_ui_button_short_press_soft_reset(void)
{
    struct ev ev[8];
    int n = run_press(300, false, 0, ev, 8);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(ev[0].e, UI_BTN_PRESSED);
    CU_ASSERT_EQUAL(ev[0].t, 1030); /* press + debounce */
    CU_ASSERT_EQUAL(ev[1].e, UI_BTN_SOFT_RESET);
    CU_ASSERT_EQUAL(ev[1].t, 1330); /* on release, after debounce */
    n = run_press(1990, true, 0, ev, 8);
    CU_ASSERT_EQUAL(ev[n - 1].e, UI_BTN_SOFT_RESET);
}

static void test_ui_button_bounces_are_filtered(void)
{
    struct ev ev[8];
    int n = run_press(500, false, 3, ev, 8);
    CU_ASSERT_EQUAL_FATAL(n, 2); /* three 5 ms glitches produce nothing */
    CU_ASSERT_EQUAL(ev[0].e, UI_BTN_PRESSED);
    CU_ASSERT_EQUAL(ev[1].e, UI_BTN_SOFT_RESET);
}

static void test_ui_button_two_to_five_seconds_does_nothing(void)
{
    struct ev ev[8];
    int n = run_press(2000, true, 0, ev, 8);
    CU_ASSERT_EQUAL(ev[n - 1].e, UI_BTN_NO_ACTION);
    n = run_press(4900, true, 0, ev, 8);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(ev[1].e, UI_BTN_NO_ACTION);
}

static void test_ui_button_five_seconds_ap_only_in_factory_state(void)
{
    struct ev ev[8];
    int n = run_press(6000, true, 0, ev, 8);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(ev[1].e, UI_BTN_AP_FEEDBACK);
    CU_ASSERT_EQUAL(ev[1].t, 6000); /* exactly at the 5 s mark, while held */
    CU_ASSERT_EQUAL(ev[2].e, UI_BTN_AP_MODE);
    n = run_press(6000, false, 0, ev, 8);
    CU_ASSERT_EQUAL_FATAL(n, 2); /* no feedback, no action outside factory state */
    CU_ASSERT_EQUAL(ev[1].e, UI_BTN_NO_ACTION);
}

static void test_ui_button_ten_seconds_factory_reset(void)
{
    struct ev ev[8];
    int n = run_press(12000, true, 0, ev, 8);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(ev[1].e, UI_BTN_AP_FEEDBACK);
    CU_ASSERT_EQUAL(ev[2].e, UI_BTN_FACTORY_FEEDBACK);
    CU_ASSERT_EQUAL(ev[2].t, 11000);
    CU_ASSERT_EQUAL(ev[3].e, UI_BTN_FACTORY_RESET);
    n = run_press(10500, false, 0, ev, 8);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(ev[1].e, UI_BTN_FACTORY_FEEDBACK);
    CU_ASSERT_EQUAL(ev[2].e, UI_BTN_FACTORY_RESET);
}

static void test_ui_button_held_ms(void)
{
    struct ui_button b;
    ui_button_init(&b, 0);
    ui_button_update(&b, true, 100, false);
    CU_ASSERT_EQUAL(ui_button_held_ms(&b, 120), 0); /* not debounced yet */
    ui_button_update(&b, true, 130, false);
    CU_ASSERT_EQUAL(ui_button_held_ms(&b, 4100), 4000);
    CU_ASSERT_STRING_EQUAL(ui_button_event_name(UI_BTN_FACTORY_RESET), "factory_reset");
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_ui_led_table_steady_states", test_ui_led_table_steady_states},
        {"test_ui_led_table_alternations_at_1hz", test_ui_led_table_alternations_at_1hz},
        {"test_ui_led_deadlines_follow_the_rhythm", test_ui_led_deadlines_follow_the_rhythm},
        {"test_ui_led_initialising_changes_continuously",
         test_ui_led_initialising_changes_continuously},
        {"test_ui_led_show_keeps_phase_for_same_pattern",
         test_ui_led_show_keeps_phase_for_same_pattern},
        {"test_ui_led_status_mapping", test_ui_led_status_mapping},
        {"test_ui_button_short_press_soft_reset", test_ui_button_short_press_soft_reset},
        {"test_ui_button_bounces_are_filtered", test_ui_button_bounces_are_filtered},
        {"test_ui_button_two_to_five_seconds_does_nothing",
         test_ui_button_two_to_five_seconds_does_nothing},
        {"test_ui_button_five_seconds_ap_only_in_factory_state",
         test_ui_button_five_seconds_ap_only_in_factory_state},
        {"test_ui_button_ten_seconds_factory_reset", test_ui_button_ten_seconds_factory_reset},
        {"test_ui_button_held_ms", test_ui_button_held_ms},
    };
    return ml_test_run("ui", cases, ML_ARRAY_SIZE(cases), NULL, NULL);
}

/* Sim GPIO: LED states with a change log, the button, data-request, termination. */
#include "hal_gpio.h"

#include "sim_priv.h"

#define LED_LOG 4096u

static struct {
    hal_rgb_t led[HAL_LED_COUNT];
    struct sim_led_event log[LED_LOG];
    uint32_t log_head, log_tail;
    volatile bool button;
    bool data_request;
    bool termination;
} G;

void sim_gpio_reset(void)
{
    sim_lock();
    for (int i = 0; i < HAL_LED_COUNT; i++) {
        G.led[i] = HAL_RGB_OFF;
    }
    G.log_head = G.log_tail = 0;
    G.data_request = false;
    G.termination = false;
    sim_unlock();
}

void hal_led_set(enum hal_led_id id, hal_rgb_t rgb)
{
    if ((int)id < 0 || id >= HAL_LED_COUNT) {
        return;
    }
    sim_lock();
    if (G.led[id] != rgb) {
        G.led[id] = rgb;
        G.log[G.log_head % LED_LOG] = (struct sim_led_event){sim_time_us(), id, rgb};
        G.log_head++;
        if (G.log_head - G.log_tail > LED_LOG) {
            G.log_tail = G.log_head - LED_LOG;
        }
    }
    sim_unlock();
}

bool hal_button_is_pressed(void)
{
    return G.button;
}

void hal_gpio_data_request_set(bool on)
{
    G.data_request = on;
}

void hal_gpio_termination_set(bool on)
{
    G.termination = on;
}

void sim_button_set(bool pressed)
{
    G.button = pressed;
    sim_wake();
}

hal_rgb_t sim_led_get(enum hal_led_id id)
{
    if ((int)id < 0 || id >= HAL_LED_COUNT) {
        return HAL_RGB_OFF;
    }
    sim_lock();
    hal_rgb_t v = G.led[id];
    sim_unlock();
    return v;
}

bool sim_data_request_get(void)
{
    return G.data_request;
}

size_t sim_led_events(struct sim_led_event *out, size_t cap)
{
    size_t n = 0;
    sim_lock();
    while (n < cap && G.log_tail != G.log_head) {
        out[n++] = G.log[G.log_tail % LED_LOG];
        G.log_tail++;
    }
    sim_unlock();
    return n;
}

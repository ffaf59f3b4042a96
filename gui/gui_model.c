/*
 * The GUI's simulation side: the Smart Connect on the sim port in virtual
 * time, a meter that plays recorded telegrams at its interval, the faults, the
 * button, and the event log. No SDL here, so the drawing code only reads this
 * state.
 */
#include "gui_model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_devices.h"
#include "sim.h"

#ifndef ML_SOURCE_DIR
#define ML_SOURCE_DIR "."
#endif

/* Sub-step of virtual time: LED and status changes are observed at least this often. */
#define GUI_STEP_US 20000u

/* ------------------------------------------------------------------------- */
/* Names                                                                     */
/* ------------------------------------------------------------------------- */

static const char *const fault_names[GUI_FAULT_COUNT] = {
    "unplug", "noise", "crc", "historic", "netdown", "brokerdown", "powercycle",
};

const char *gui_fault_name(enum gui_fault f)
{
    return (unsigned)f < GUI_FAULT_COUNT ? fault_names[f] : "?";
}

int gui_fault_by_name(const char *name)
{
    for (int i = 0; i < GUI_FAULT_COUNT; i++) {
        if (strcmp(name, fault_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *gui_led_state_text(enum ui_led_state s)
{
    switch (s) {
    case UI_LED_BOOTING:
        return "red, steady: booting";
    case UI_LED_INITIALISING:
        return "colour changing: initialising";
    case UI_LED_NORMAL:
        return "green, steady: normal operation";
    case UI_LED_AP:
        return "blue, blinking: access point mode";
    case UI_LED_NO_METER:
        return "red/green alternating: no meter data";
    case UI_LED_NO_METER_AP:
        return "blue/red alternating: no meter data, AP mode";
    case UI_LED_NO_IP:
        return "green/orange alternating: no IP address";
    case UI_LED_NO_METER_NO_IP:
        return "red/orange alternating: no meter data, no IP";
    case UI_LED_BUTTON_AP:
        return "blue, blinking: release now for AP mode";
    case UI_LED_BUTTON_FACTORY:
        return "red, fast blinking: release now for factory reset";
    case UI_LED_STATE_COUNT:
        break;
    }
    return "?";
}

const char *gui_mqtt_state_name(enum hal_mqtt_state s)
{
    switch (s) {
    case HAL_MQTT_DISABLED:
        return "off";
    case HAL_MQTT_CONNECTING:
        return "connecting";
    case HAL_MQTT_CONNECTED:
        return "connected";
    case HAL_MQTT_AUTH_FAILED:
        return "auth failed";
    }
    return "?";
}

/* ------------------------------------------------------------------------- */
/* Log                                                                       */
/* ------------------------------------------------------------------------- */

void gui_model_log(struct gui_model *m, enum gui_log_kind k, const char *fmt, ...)
{
    char text[GUI_LOG_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (m->log_n > 0) {
        struct gui_log_line *last = &m->log[(m->log_head + m->log_n - 1) % GUI_LOG_MAX];
        if (last->kind == k && strcmp(last->text, text) == 0) {
            /* "telegram ok" every second would flood the log: fold repeats */
            last->repeat++;
            last->t_us = m->now_us;
            return;
        }
    }
    struct gui_log_line *l;
    if (m->log_n < GUI_LOG_MAX) {
        l = &m->log[(m->log_head + m->log_n) % GUI_LOG_MAX];
        m->log_n++;
    } else {
        l = &m->log[m->log_head];
        m->log_head = (m->log_head + 1) % GUI_LOG_MAX;
    }
    l->t_us = m->now_us;
    l->repeat = 1;
    l->kind = k;
    memcpy(l->text, text, sizeof text);
    if (m->opt.verbose) {
        printf("log %.3f %s\n", (double)m->now_us / 1e6, text);
    }
}

const struct gui_log_line *gui_model_log_at(const struct gui_model *m, size_t i)
{
    if (i >= m->log_n) {
        return NULL;
    }
    return &m->log[(m->log_head + m->log_n - 1 - i) % GUI_LOG_MAX];
}

/* ------------------------------------------------------------------------- */
/* Telegram files                                                            */
/* ------------------------------------------------------------------------- */

static int frames_load(struct gui_frames *fr, const char *path)
{
    memset(fr, 0, sizeof *fr);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "meterlab gui: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1u << 16, len = 0;
    fr->buf = malloc(cap);
    while (fr->buf != NULL) {
        size_t n = fread(fr->buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
        if (len == cap) {
            uint8_t *b = cap < (1u << 24) ? realloc(fr->buf, cap * 2) : NULL;
            if (b == NULL) {
                free(fr->buf);
                fr->buf = NULL;
                break;
            }
            fr->buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (fr->buf == NULL || len == 0) {
        fprintf(stderr, "meterlab gui: %s is empty or too large\n", path);
        free(fr->buf);
        fr->buf = NULL;
        return -1;
    }
    const uint8_t *b = fr->buf;
    if (memchr(b, 0x02, len) != NULL) {
        /* TIC: STX .. ETX (tic.md §3) */
        for (size_t i = 0; i < len && fr->n < GUI_FRAMES_MAX; i++) {
            if (b[i] != 0x02) {
                continue;
            }
            const uint8_t *etx = memchr(b + i, 0x03, len - i);
            if (etx == NULL) {
                break;
            }
            fr->off[fr->n] = i;
            fr->len[fr->n] = (size_t)(etx - b) + 1 - i;
            fr->n++;
            i = (size_t)(etx - b);
        }
    } else {
        /* DSMR: a telegram starts with '/' at the start of a line (dsmr.md §3) */
        for (size_t i = 0; i < len && fr->n < GUI_FRAMES_MAX; i++) {
            if (b[i] == '/' && (i == 0 || b[i - 1] == '\n')) {
                if (fr->n > 0) {
                    fr->len[fr->n - 1] = i - fr->off[fr->n - 1];
                }
                fr->off[fr->n] = i;
                fr->len[fr->n] = len - i;
                fr->n++;
            }
        }
    }
    if (fr->n == 0) {
        /* not recognisable: play the file as it is (the device counts what it sees) */
        fr->off[0] = 0;
        fr->len[0] = len;
        fr->n = 1;
    }
    return 0;
}

static void frames_free(struct gui_frames *fr)
{
    free(fr->buf);
    memset(fr, 0, sizeof *fr);
}

/* ------------------------------------------------------------------------- */
/* Device                                                                    */
/* ------------------------------------------------------------------------- */

static uint32_t rng_next(struct gui_model *m)
{
    uint32_t x = m->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    m->rng = x;
    return x;
}

static int device_start(struct gui_model *m)
{
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL,
                             .utc_at_start = 1767225600, /* 2026-01-01 00:00 UTC */
                             .serial = "SC00000001",
                             .label_password = "simlabel"};
    int rc = ml_dev_sc_start(&m->set, &cfg);
    if (rc != 0) {
        fprintf(stderr, "meterlab gui: cannot start the simulated device (error %d)\n", rc);
        return 2;
    }
    m->running = true;
    m->now_us = sim_now_us();
    m->next_tel_us = 500000u; /* first telegram half a second in, then every interval */
    m->next_frame = 0;
    m->sent = 0;
    m->rng = 0x2545F491u;
    m->button_down = false;
    m->release_at_us = 0;
    m->next_action = 0;
    m->boots = sim_boot_count();
    memset(&m->cnt, 0, sizeof m->cnt);
    memset(&m->st, 0, sizeof m->st);
    m->st.led = UI_LED_BOOTING;
    m->have_reading = false;
    m->payload_len = 0;
    m->payload[0] = '\0';
    m->act_in_us = m->act_out_us = m->act_eth_us = 0;
    m->log_head = m->log_n = 0;
    gui_model_log(m, GUI_LOG_INFO, "%s started, Modbus TCP port %u",
                  m->set.flavour == SC_FLAVOUR_TIC ? "Smart TIC Connect" : "Smart P1/A1 Connect",
                  (unsigned)ml_dev_sc_app()->status.modbus_port);
    return 0;
}

int gui_model_start(struct gui_model *m, const struct gui_options *o)
{
    memset(m, 0, sizeof *m);
    m->opt = *o;
    const char *src = o->source_dir != NULL ? o->source_dir : ML_SOURCE_DIR;
    if (o->telegram_file != NULL) {
        snprintf(m->telegram_path, sizeof m->telegram_path, "%s", o->telegram_file);
    } else if (o->product == GUI_PRODUCT_TIC) {
        snprintf(m->telegram_path, sizeof m->telegram_path,
                 "%s/scenarios/telegrams/tic/std-3ph.bin", src);
    } else {
        /* the shared DSMR 5 bench telegram; the same bytes are kept in scenarios/ */
        snprintf(m->telegram_path, sizeof m->telegram_path,
                 "%s/../shared/bench/dsmr50-spec-3ph.txt", src);
        FILE *f = fopen(m->telegram_path, "rb");
        if (f == NULL) {
            snprintf(m->telegram_path, sizeof m->telegram_path,
                     "%s/scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt", src);
        } else {
            fclose(f);
        }
    }
    if (frames_load(&m->tel, m->telegram_path) != 0) {
        return 2;
    }
    if (o->product == GUI_PRODUCT_TIC) {
        char hist[600];
        snprintf(hist, sizeof hist, "%s/scenarios/telegrams/tic/hist-1ph.bin", src);
        if (frames_load(&m->hist, hist) != 0) {
            frames_free(&m->tel);
            return 2;
        }
    }
    if (o->interval_s > 0) {
        m->interval_us = (uint64_t)(o->interval_s * 1e6);
    } else if (o->product == GUI_PRODUCT_TIC) {
        /* Linky sends frames back to back: one frame's time on the wire, 9600 baud 7E1
         * = 10 bits per byte (tic.md §2), rounded up to 0.1 s */
        uint64_t bits = (uint64_t)m->tel.len[0] * 10u;
        m->interval_us = ((bits * 1000000u / 9600u) / 100000u + 1u) * 100000u;
    } else {
        m->interval_us = 1000000u; /* DSMR 5: one telegram per second (dsmr.md §2) */
    }

    sc_settings_defaults(&m->set);
    m->set.flavour = o->product == GUI_PRODUCT_TIC ? SC_FLAVOUR_TIC : SC_FLAVOUR_P1;
    m->set.modbus_port = o->modbus_port;
    if (o->meter_type != NULL) {
        snprintf(m->set.meter_type, sizeof m->set.meter_type, "%s", o->meter_type);
    }
    if (o->mqtt_url != NULL) {
        m->set.mqtt_enabled = true;
        snprintf(m->set.mqtt_url, sizeof m->set.mqtt_url, "%s", o->mqtt_url);
    }
    int rc = device_start(m);
    if (rc != 0) {
        gui_model_stop(m);
    }
    return rc;
}

void gui_model_stop(struct gui_model *m)
{
    if (m->running) {
        ml_dev_sc_stop();
        m->running = false;
    }
    frames_free(&m->tel);
    frames_free(&m->hist);
}

int gui_model_restart(struct gui_model *m)
{
    if (m->running) {
        ml_dev_sc_stop();
        m->running = false;
    }
    struct sim_net_model net;
    sim_net_get(&net);
    net.link_up[HAL_NET_ETH] = true;
    sim_net_set(&net);
    memset(m->fault, 0, sizeof m->fault);
    return device_start(m);
}

bool gui_model_fault_available(const struct gui_model *m, enum gui_fault f)
{
    switch (f) {
    case GUI_FAULT_HISTORIC:
        return m->opt.product == GUI_PRODUCT_TIC && m->hist.n > 0;
    case GUI_FAULT_BROKER_DOWN:
        /* the sim port has no broker fault yet (sim_net_model): see docs/gui.md */
        return false;
    default:
        return true;
    }
}

void gui_model_fault_set(struct gui_model *m, enum gui_fault f, bool on)
{
    if ((unsigned)f >= GUI_FAULT_COUNT || !gui_model_fault_available(m, f)) {
        return;
    }
    if (f == GUI_FAULT_POWER_CYCLE) {
        if (on) {
            gui_model_log(m, GUI_LOG_INFO, "power cycle");
            sim_power_cycle();
        }
        return;
    }
    if (m->fault[f] == on) {
        return;
    }
    m->fault[f] = on;
    static const char *const what[GUI_FAULT_COUNT] = {
        "meter unplugged", "noisy line",       "CRC errors",  "historic TIC frames",
        "network down",    "MQTT broker down", "power cycle",
    };
    gui_model_log(m, GUI_LOG_INFO, "fault %s: %s", on ? "on" : "off", what[f]);
    if (f == GUI_FAULT_NET_DOWN) {
        struct sim_net_model net;
        sim_net_get(&net);
        net.link_up[HAL_NET_ETH] = !on;
        sim_net_set(&net);
    }
}

static const char *gesture_name(uint64_t held_ms, bool factory_default)
{
    if (held_ms < UI_BUTTON_DEBOUNCE_MS) {
        return "too short (bounce)";
    }
    if (held_ms < UI_BUTTON_SHORT_MAX_MS) {
        return "soft reset";
    }
    if (held_ms >= UI_BUTTON_FACTORY_MS) {
        return "factory reset";
    }
    if (held_ms >= UI_BUTTON_AP_MS && factory_default) {
        return "AP mode";
    }
    return "no action";
}

void gui_model_button(struct gui_model *m, bool down)
{
    if (down == m->button_down) {
        return;
    }
    m->button_down = down;
    sim_button_set(down);
    if (down) {
        m->button_since_us = m->now_us;
        gui_model_log(m, GUI_LOG_BUTTON, "button pressed");
    } else {
        uint64_t held_ms = (m->now_us - m->button_since_us) / 1000u;
        gui_model_log(m, GUI_LOG_BUTTON, "button released after %.1f s: %s",
                      (double)held_ms / 1000.0, gesture_name(held_ms, m->set.factory_default));
        m->release_at_us = 0;
    }
}

/* ------------------------------------------------------------------------- */
/* Meter                                                                     */
/* ------------------------------------------------------------------------- */

static void send_telegram(struct gui_model *m)
{
    const struct gui_frames *fr = m->fault[GUI_FAULT_HISTORIC] ? &m->hist : &m->tel;
    size_t i = m->next_frame % fr->n;
    m->next_frame++;
    size_t len = fr->len[i];
    uint8_t buf[8192];
    if (len > sizeof buf) {
        len = sizeof buf;
    }
    memcpy(buf, fr->buf + fr->off[i], len);
    if (m->fault[GUI_FAULT_CRC] && len > 20) {
        /* change one digit in the middle: framing intact, CRC/checksum wrong */
        for (size_t k = len / 2; k < len - 10; k++) {
            if (buf[k] >= '0' && buf[k] <= '9') {
                buf[k] = (uint8_t)(buf[k] == '9' ? '0' : buf[k] + 1);
                break;
            }
        }
    }
    if (m->fault[GUI_FAULT_NOISE]) {
        /* 1 to 3 random bit flips anywhere, as on a bad cable */
        unsigned flips = 1u + rng_next(m) % 3u;
        for (unsigned k = 0; k < flips; k++) {
            uint32_t r = rng_next(m);
            buf[(r >> 3) % len] ^= (uint8_t)(1u << (r & 7u));
        }
    }
    struct sc_counters before = ml_dev_sc_app()->counters;
    sim_uart_inject(HAL_UART_P1_IN, buf, len);
    sim_wait_idle();
    m->sent++;
    m->act_in_us = m->now_us;
    const struct sc_app *app = ml_dev_sc_app();
    struct sc_counters after = app->counters;
    m->act_in_bad = false;
    if (after.telegrams_pass != before.telegrams_pass) {
        gui_model_log(m, GUI_LOG_OK, "telegram ok");
    } else if (after.telegrams_fail != before.telegrams_fail) {
        gui_model_log(m, GUI_LOG_BAD, "telegram failed: CRC/checksum wrong");
        m->act_in_bad = true;
    } else if (after.telegrams_frame_fail != before.telegrams_frame_fail) {
        gui_model_log(m, GUI_LOG_BAD, "telegram failed: %s",
                      app->status.tic_historic ? "historic TIC frame (not supported)"
                                               : "framing broken");
        m->act_in_bad = true;
    } else {
        /* the tail of a broken frame may wait for the next start */
        gui_model_log(m, GUI_LOG_BAD, "telegram incomplete (waiting for more bytes)");
        m->act_in_bad = true;
    }
}

/* ------------------------------------------------------------------------- */
/* Observation                                                               */
/* ------------------------------------------------------------------------- */

static void observe(struct gui_model *m)
{
    const struct sc_app *app = ml_dev_sc_app();
    uint32_t boots = sim_boot_count();
    if (boots != m->boots) {
        m->boots = boots;
        gui_model_log(m, GUI_LOG_INFO, "device restarted (boot #%u)", (unsigned)boots);
    }
    struct sc_status st = app->status;
    if (st.led != m->st.led) {
        gui_model_log(m, GUI_LOG_LED, "LED %s: %s", ui_led_state_name(st.led),
                      gui_led_state_text(st.led));
    }
    if (st.has_ip != m->st.has_ip) {
        gui_model_log(m, st.has_ip ? GUI_LOG_OK : GUI_LOG_BAD,
                      st.has_ip ? "network: IP address obtained" : "network: no IP address");
    }
    if (st.meter_data != m->st.meter_data) {
        gui_model_log(m, st.meter_data ? GUI_LOG_OK : GUI_LOG_BAD,
                      st.meter_data ? "meter data: receiving" : "meter data: none");
    }
    if (st.tic_historic && !m->st.tic_historic) {
        gui_model_log(m, GUI_LOG_BAD, "historic TIC detected: not supported");
    }
    if (st.mqtt != m->st.mqtt) {
        gui_model_log(m, GUI_LOG_INFO, "MQTT %s", gui_mqtt_state_name(st.mqtt));
    }
    struct sc_counters c = app->counters;
    if (c.modbus_requests != m->cnt.modbus_requests ||
        c.mqtt_publish_pass != m->cnt.mqtt_publish_pass) {
        m->act_eth_us = m->now_us;
    }
    if (c.telegrams_pass != m->cnt.telegrams_pass || (!m->have_reading && c.telegrams_pass)) {
        /* the loop is idle here (virtual time), so the reading is not being written */
        m->reading = app->reading;
        m->have_reading = true;
        int n = mqtt_power_instant_build(&m->reading, m->payload, sizeof m->payload);
        m->payload_len = n < 0 ? 0 : n;
        if (n < 0) {
            m->payload[0] = '\0';
        }
    }
    m->cnt = c;
    m->st = st;
    uint8_t drain[4096];
    if (sim_uart_drain(HAL_UART_P1_OUT, drain, sizeof drain) > 0) {
        while (sim_uart_drain(HAL_UART_P1_OUT, drain, sizeof drain) > 0) {
        }
        m->act_out_us = m->now_us;
    }
}

void gui_model_run_to(struct gui_model *m, uint64_t t_us)
{
    if (!m->running) {
        return;
    }
    while (m->now_us < t_us) {
        uint64_t t = m->now_us + GUI_STEP_US;
        if (t > t_us) {
            t = t_us;
        }
        if (m->next_tel_us < t) {
            t = m->next_tel_us > m->now_us ? m->next_tel_us : m->now_us;
        }
        if (m->next_action < m->opt.n_actions) {
            uint64_t a = (uint64_t)(m->opt.actions[m->next_action].at_s * 1e6);
            if (a < t) {
                t = a > m->now_us ? a : m->now_us;
            }
        }
        if (m->release_at_us != 0 && m->release_at_us < t) {
            t = m->release_at_us > m->now_us ? m->release_at_us : m->now_us;
        }
        sim_advance_to_us(t);
        m->now_us = t;
        /* the script: actions due now */
        while (m->next_action < m->opt.n_actions &&
               (uint64_t)(m->opt.actions[m->next_action].at_s * 1e6) <= m->now_us) {
            const struct gui_action *a = &m->opt.actions[m->next_action++];
            if (a->kind == GUI_ACT_PRESS) {
                gui_model_button(m, true);
                m->release_at_us = m->now_us + (uint64_t)(a->arg * 1e6);
            } else {
                gui_model_fault_set(m, a->fault, a->kind == GUI_ACT_FAULT_ON);
            }
        }
        if (m->release_at_us != 0 && m->release_at_us <= m->now_us) {
            gui_model_button(m, false);
        }
        if (m->next_tel_us <= m->now_us) {
            if (!m->fault[GUI_FAULT_UNPLUG]) {
                send_telegram(m);
            }
            m->next_tel_us += m->interval_us;
        }
        observe(m);
        if (t == m->now_us && t >= t_us) {
            break;
        }
    }
}

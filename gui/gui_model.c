/*
 * The GUI's simulation side: the Smart Connect on the sim port in virtual
 * time, a meter that plays recorded telegrams at its interval, the faults, the
 * button, and the event log. No SDL here, so the drawing code only reads this
 * state.
 */
#define _GNU_SOURCE
#include "gui_model.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crc.h"
#include "hal_mqtt.h"
#include "ml_dev_p1mb.h"
#include "ml_devices.h"
#include "sim.h"
#include "mqtt/mqtt_policy.h"

/* Sub-step of virtual time: LED and status changes are observed at least this often. */
#define GUI_STEP_US 20000u

/* ------------------------------------------------------------------------- */
/* Names                                                                     */
/* ------------------------------------------------------------------------- */

static const char *const fault_names[GUI_FAULT_COUNT] = {
    "unplug", "noise", "crc", "historic", "netdown", "brokerdown", "powercycle", "busgarbage",
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

/*
 * A data file the GUI ships (@p rel, e.g. "telegrams/tic/std-3ph.bin"): in $ML_DATA_DIR when
 * set, else in <prefix>/share/meterlab next to the program (<prefix>/bin/meterlab; the build
 * tree has the same layout). @return 0, or 2 with a message naming where it looked.
 */
static int data_path(const char *rel, char *out, size_t cap)
{
    const char *env = getenv("ML_DATA_DIR");
    char dir[PATH_MAX + 32];
    if (env != NULL && env[0] != '\0') {
        snprintf(dir, sizeof dir, "%s", env);
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        char *slash = NULL;
        if (n > 0) {
            exe[n] = '\0';
            slash = strrchr(exe, '/'); /* <prefix>/bin/meterlab */
            if (slash != NULL) {
                *slash = '\0';
                slash = strrchr(exe, '/');
            }
        }
        if (slash == NULL) {
            fprintf(stderr, "meterlab gui: cannot find where the program is installed "
                            "(/proc/self/exe); set ML_DATA_DIR to meterlab's data directory\n");
            return 2;
        }
        *slash = '\0';
        snprintf(dir, sizeof dir, "%s/share/meterlab", exe);
    }
    int k = snprintf(out, cap, "%s/%s", dir, rel);
    if (k < 0 || (size_t)k >= cap) {
        fprintf(stderr, "meterlab gui: data path too long: %s/%s\n", dir, rel);
        return 2;
    }
    if (access(out, R_OK) != 0) {
        fprintf(stderr,
                "meterlab gui: data file %s missing (%s): meterlab looks for its data in %s "
                "(%s); install it with cmake --install, or set ML_DATA_DIR\n",
                out, strerror(errno), dir,
                env != NULL && env[0] != '\0' ? "ML_DATA_DIR"
                                              : "<prefix>/share/meterlab next to "
                                                "<prefix>/bin/meterlab");
        return 2;
    }
    return 0;
}

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

static bool is_p1mb(const struct gui_model *m)
{
    return m->opt.product == GUI_PRODUCT_P1MB;
}

/* What the Smart Connect runs with: the command line (a scenario's device: block is
 * the runner's, sim/runner/ml_dut_sim.c). */
static void sc_settings_build(struct gui_model *m)
{
    const struct gui_options *o = &m->opt;
    sc_settings_defaults(&m->set);
    m->set.flavour = o->product == GUI_PRODUCT_TIC ? SC_FLAVOUR_TIC : SC_FLAVOUR_P1;
    m->set.modbus_port = o->modbus_port;
    m->set.https_port = 0; /* any free port: the demo does not show the page */
    if (o->meter_type != NULL) {
        snprintf(m->set.meter_type, sizeof m->set.meter_type, "%s", o->meter_type);
    }
    if (m->mqtt_url[0] != '\0') {
        m->set.mqtt_enabled = true;
        snprintf(m->set.mqtt_url, sizeof m->set.mqtt_url, "%s", m->mqtt_url);
    }
}

/* The charger reads the total power the way a wallbox does: the variant's P register. */
static void charger_init(struct gui_model *m)
{
    struct gui_charger *c = &m->ch;
    memset(c, 0, sizeof *c);
    c->unit = 16; /* the P1MB's factory address (p1mb.md) */
    c->next_us = 1000000u;
    const struct regmap_template *t = p1mb_variant_template(m->pset.variant);
    const struct regmap_space *sp[2] = {&t->input, &t->holding};
    for (int k = 0; k < 2 && c->entry == NULL; k++) {
        for (uint16_t i = 0; i < sp[k]->count; i++) {
            if (sp[k]->entries[i].field == READING_P) {
                c->entry = &sp[k]->entries[i];
                c->fc = k == 0 ? 0x04 : 0x03;
                break;
            }
        }
    }
    if (c->entry != NULL) {
        c->addr = c->entry->addr;
        c->words = (uint16_t)regmap_entry_words(c->entry);
    }
}

/* ------------------------------------------------------------------------- */
/* A scenario: played by the runner (sim/runner), the GUI follows and draws    */
/* ------------------------------------------------------------------------- */

/* One GUI per process (gui.h): the model the wrapped inject works for. */
static struct gui_model *gui_cur;

static void inject_log(struct gui_model *m, uint32_t p0, uint32_t f0, uint32_t x0);
static void mangle(struct gui_model *m, uint8_t *buf, size_t len);

/* The runner's meter bytes pass the GUI's one-click line faults (unplug, noise, CRC)
 * on their way into the device, and the verdict of what they completed is logged. */
static int gui_dut_inject(struct ml_dut *d, const uint8_t *p, size_t n, char *err, size_t cap)
{
    struct gui_model *m = gui_cur;
    if (m->fault[GUI_FAULT_UNPLUG] || n == 0) {
        return 0;
    }
    uint8_t *b = malloc(n);
    if (b == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    memcpy(b, p, n);
    mangle(m, b, n);
    uint32_t p0, f0, x0;
    gui_model_tel_counts(m, &p0, &f0, &x0);
    int rc = m->scn.base_ops->inject(d, b, n, err, cap);
    free(b);
    m->sent++;
    m->act_in_us = m->now_us;
    inject_log(m, p0, f0, x0);
    return rc;
}

static void button_note(struct gui_model *m, bool down);

bool gui_model_unplugged(const struct gui_model *m)
{
    return m->fault[GUI_FAULT_UNPLUG] || (m->scn.loaded && m->now_us < m->scn.silence_until);
}

/* Each timeline event, just before the runner plays it: the step strip and the log. */
static void scn_on_event(void *ctx, const struct ml_ev *ev)
{
    struct gui_model *m = ctx;
    struct gui_scn *g = &m->scn;
    const struct ml_scenario *s = &g->s;
    if (ev->t_us > m->now_us) {
        m->now_us = ev->t_us; /* the log and the port activity carry the event's instant */
    }
    const struct ml_scn_step *st = ev->step != UINT32_MAX ? &s->steps[ev->step] : NULL;
    if (st != NULL && ev->kind != ML_EV_POLL && ev->kind != ML_EV_WINDOW_END) {
        if (g->step != (long)ev->step && st->kind != ML_STEP_EXPECT) {
            char what[96];
            gui_model_step_text(m, (long)ev->step, what, sizeof what);
            gui_model_log(m, GUI_LOG_INFO, "step %u: %s (line %d)", ev->step + 1, what,
                          st->loc.line);
        }
        g->step = (long)ev->step;
        g->step_us = ev->t_us;
    }
    switch (ev->kind) {
    case ML_EV_FAULT:
        if (st->fault.kind == ML_SF_SILENCE) {
            g->silence_until = ev->t_us + (uint64_t)llround(st->fault.duration_s * 1e6);
        }
        if (st->fault.kind == ML_SF_BROKER_DOWN || st->fault.kind == ML_SF_BROKER_UP) {
            m->fault[GUI_FAULT_BROKER_DOWN] = st->fault.kind == ML_SF_BROKER_DOWN;
        }
        break;
    case ML_EV_ACTION:
        if (st->action.kind == ML_ACT_BUTTON) {
            button_note(m, true);
        } else if (st->action.kind == ML_ACT_MODBUS_WRITE) {
            gui_model_log(m, GUI_LOG_INFO, "modbus_write 0x%04X = %u (address %d)",
                          st->action.address, st->action.value, st->action.unit);
            m->act_485_us = m->now_us;
        }
        break;
    case ML_EV_RELEASE:
        button_note(m, false);
        break;
    default:
        break;
    }
}

/* Start the scenario's device through the runner (the sim DUT, as `meterlab run`). */
static int scn_open(struct gui_model *m)
{
    struct gui_scn *g = &m->scn;
    ml_dut_sim_init(&g->dut);
    g->ro = (struct ml_run_opts){.quiet = true, .on_event = scn_on_event, .ctx = m};
    g->silence_until = 0;
    gui_cur = m;
    g->run = ml_run_open(&g->dut, &g->s, &g->ro, &g->res);
    if (g->res.error || g->res.skipped) {
        ml_run_close(g->run);
        g->run = NULL;
        fprintf(stderr, "meterlab gui: %s cannot be played on the simulated device:\n%s", g->s.path,
                g->res.report ? g->res.report : "");
        free(g->res.report);
        g->res.report = NULL;
        ml_dut_free(&g->dut);
        return 2;
    }
    g->base_ops = g->dut.ops;
    g->ops = *g->dut.ops;
    g->ops.inject = gui_dut_inject;
    g->dut.ops = &g->ops;
    m->set.factory_default = g->s.factory_default;
    m->set.mqtt_enabled = g->s.mqtt;
    m->set.flavour = g->s.product == ML_SCN_TIC ? SC_FLAVOUR_TIC : SC_FLAVOUR_P1;
    return 0;
}

static void scn_close(struct gui_model *m)
{
    struct gui_scn *g = &m->scn;
    if (g->run != NULL) {
        ml_run_close(g->run);
        g->run = NULL;
        if (m->opt.verbose) {
            printf("scenario %s: %d checks, %d failed, %d skipped\n", g->s.name, g->res.checks,
                   g->res.failed, g->res.skips);
            fputs(g->res.report ? g->res.report : "", stdout);
        }
        free(g->res.report);
        g->res.report = NULL;
        ml_dut_free(&g->dut);
    }
}

static int device_start(struct gui_model *m)
{
    const struct ml_scenario *s = m->scn.loaded ? &m->scn.s : NULL;
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL,
                             .utc_at_start = ML_SCN_UTC_START_DEFAULT,
                             .serial = m->serial,
                             .label_password = "simlabel"};
    int rc;
    if (s) {
        rc = scn_open(m);
        if (rc != 0) {
            return rc;
        }
    } else if (is_p1mb(m)) {
        sim_uart_bind_fd(HAL_UART_RS485, -1);
        rc = ml_dev_p1mb_start(&m->pset, &cfg);
    } else {
        sc_settings_build(m);
        rc = ml_dev_sc_start(&m->set, &cfg);
    }
    if (!s && rc != 0) {
        fprintf(stderr, "meterlab gui: cannot start the simulated device (error %d)\n", rc);
        return 2;
    }
    m->running = true;
    m->now_us = sim_now_us();
    /* first telegram half a second in, then every interval (a scenario has its own times) */
    m->next_tel_us = s ? UINT64_MAX : 500000u;
    m->next_frame = 0;
    m->sent = 0;
    m->rng = 0x2545F491u;
    m->button_down = false;
    m->release_at_us = 0;
    m->next_action = 0;
    m->boots = sim_boot_count();
    memset(&m->cnt, 0, sizeof m->cnt);
    memset(&m->st, 0, sizeof m->st);
    memset(&m->pcnt, 0, sizeof m->pcnt);
    memset(&m->pst, 0, sizeof m->pst);
    m->st.led = UI_LED_BOOTING;
    m->have_reading = false;
    m->payload_len = 0;
    m->payload[0] = '\0';
    m->act_in_us = m->act_out_us = m->act_eth_us = m->act_485_us = 0;
    m->log_head = m->log_n = 0;
    if (s) {
        m->scn.step = -1;
        m->scn.ended = false;
    }
    if (is_p1mb(m)) {
        charger_init(m);
        gui_model_log(m, GUI_LOG_INFO, "P1MB (%s) started, RS485 9600 8E1 address 16",
                      p1mb_variant_name(m->pset.variant));
    } else {
        gui_model_log(m, GUI_LOG_INFO, "%s started, Modbus TCP port %u",
                      m->set.flavour == SC_FLAVOUR_TIC ? "Smart TIC Connect"
                                                       : "Smart P1/A1 Connect",
                      (unsigned)ml_dev_sc_app()->status.modbus_port);
    }
    if (s) {
        gui_model_log(m, GUI_LOG_INFO, "scenario %s: %zu steps, %.0f s", s->name, s->nsteps,
                      s->duration_s);
    }
    return 0;
}

static int scenario_load(struct gui_model *m)
{
    const struct gui_options *o = &m->opt;
    char err[512];
    if (ml_scenario_load(o->scenario_file, &m->scn.s, err, sizeof err) != 0) {
        fprintf(stderr, "meterlab gui: %s\n", err);
        return 2;
    }
    m->scn.loaded = true;
    const struct ml_scenario *s = &m->scn.s;
    enum gui_product p = s->product == ML_SCN_TIC    ? GUI_PRODUCT_TIC
                         : s->product == ML_SCN_P1MB ? GUI_PRODUCT_P1MB
                                                     : GUI_PRODUCT_P1;
    if (o->product_set && o->product != p) {
        fprintf(stderr,
                "meterlab gui: %s is a scenario for product %s, not the one --product "
                "asks for\n",
                o->scenario_file,
                p == GUI_PRODUCT_TIC    ? "tic"
                : p == GUI_PRODUCT_P1MB ? "p1mb"
                                        : "p1");
        return 2;
    }
    if (o->meter_type != NULL) {
        fprintf(stderr,
                "meterlab gui: --meter-type goes with the telegram loop; a scenario names its "
                "own (device: {meter_type: ...})\n");
        return 2;
    }
    m->opt.product = p;
    if (p == GUI_PRODUCT_P1MB && o->variant < 0 && s->variant >= 0 &&
        s->variant < P1MB_VARIANT_COUNT) {
        /* the scenario's device: {variant: ...} (same order as enum p1mb_variant) */
        m->pset.variant = (enum p1mb_variant)s->variant;
    }
    const char *b = strrchr(s->path, '/');
    snprintf(m->scn.base, sizeof m->scn.base, "%s", b ? b + 1 : s->path);
    if (s->serial != NULL) {
        m->serial = s->serial;
    }
    m->interval_us = s->interval_s > 0 ? (uint64_t)llround(s->interval_s * 1e6) : 1000000u;
    snprintf(m->telegram_path, sizeof m->telegram_path, "%s", s->path);
    return 0;
}

static int broker_start(struct gui_model *m, const char *user, const char *password)
{
    struct ml_broker_opts bo = {.username = user, .password = password};
    if (ml_broker_start(&m->broker, &bo) != 0) {
        fprintf(stderr, "meterlab gui: cannot start a local mosquitto broker (tools/bootstrap "
                        "installs it)\n");
        return 2;
    }
    m->own_broker = m->broker_up = true;
    snprintf(m->mqtt_url, sizeof m->mqtt_url, "%s", m->broker.url);
    return 0;
}

int gui_model_start(struct gui_model *m, const struct gui_options *o)
{
    memset(m, 0, sizeof *m);
    m->opt = *o;
    m->scn.step = m->scn.next_step = -1;
    p1mb_settings_defaults(&m->pset);
    m->pset.variant = o->variant >= 0 ? (enum p1mb_variant)o->variant : P1MB_VARIANT_SDM630;
    int rc = 0;
    if (o->scenario_file != NULL) {
        rc = scenario_load(m);
        if (rc != 0) {
            gui_model_stop(m);
            return rc;
        }
    }
    if (m->serial == NULL) {
        m->serial = m->opt.product == GUI_PRODUCT_P1MB  ? "MB00000001"
                    : m->opt.product == GUI_PRODUCT_TIC ? "TC00000001"
                                                        : "SC00000001";
    }
    if (m->scn.loaded) {
        /* the scenario's meter plays; telegram files are not used */
    } else if (o->telegram_file != NULL) {
        snprintf(m->telegram_path, sizeof m->telegram_path, "%s", o->telegram_file);
    } else {
        /* a believable household: phases add up to the total, import > export, ~230 V */
        rc =
            data_path(m->opt.product == GUI_PRODUCT_TIC ? "telegrams/tic/std-3ph.bin"
                                                        : "telegrams/dsmr/dsmr50_household_3ph.txt",
                      m->telegram_path, sizeof m->telegram_path);
        if (rc != 0) {
            gui_model_stop(m);
            return rc;
        }
    }
    if (!m->scn.loaded && frames_load(&m->tel, m->telegram_path) != 0) {
        return 2;
    }
    if (m->opt.product == GUI_PRODUCT_TIC) {
        char hist[PATH_MAX];
        rc = data_path("telegrams/tic/hist-1ph.bin", hist, sizeof hist);
        if (rc != 0) {
            gui_model_stop(m);
            return rc;
        }
        if (frames_load(&m->hist, hist) != 0) {
            gui_model_stop(m);
            return 2;
        }
    }
    if (m->scn.loaded) {
        /* set by the scenario */
    } else if (o->interval_s > 0) {
        m->interval_us = (uint64_t)(o->interval_s * 1e6);
    } else if (m->opt.product == GUI_PRODUCT_TIC) {
        /* Linky sends frames back to back: one frame's time on the wire, 9600 baud 7E1
         * = 10 bits per byte (tic.md §2), rounded up to 0.1 s */
        uint64_t bits = (uint64_t)m->tel.len[0] * 10u;
        m->interval_us = ((bits * 1000000u / 9600u) / 100000u + 1u) * 100000u;
    } else {
        m->interval_us = 1000000u; /* DSMR 5: one telegram per second (dsmr.md §2) */
    }

    /* MQTT: a broker of our own (so "broker down" can stop it), or the one given */
    if (m->opt.product != GUI_PRODUCT_P1MB) {
        if (o->mqtt_url != NULL && strcmp(o->mqtt_url, "local") != 0) {
            snprintf(m->mqtt_url, sizeof m->mqtt_url, "%s", o->mqtt_url);
        } else if (o->mqtt_url != NULL && m->scn.loaded) {
            fprintf(stderr, "meterlab gui: a scenario brings its own broker (device: {mqtt: on}); "
                            "--mqtt goes with the telegram loop\n");
            gui_model_stop(m);
            return 2;
        } else if (o->mqtt_url != NULL) {
            rc = broker_start(m, NULL, NULL);
            if (rc != 0) {
                gui_model_stop(m);
                return rc;
            }
        }
    }
    rc = device_start(m);
    if (rc != 0) {
        gui_model_stop(m);
    }
    return rc;
}

static void device_stop(struct gui_model *m)
{
    if (m->running && m->scn.loaded) {
        scn_close(m);
        m->running = false;
    } else if (m->running) {
        if (is_p1mb(m)) {
            ml_dev_p1mb_stop();
        } else {
            ml_dev_sc_stop();
        }
        m->running = false;
    }
}

void gui_model_stop(struct gui_model *m)
{
    device_stop(m);
    frames_free(&m->tel);
    frames_free(&m->hist);
    if (m->scn.loaded) {
        ml_scenario_free(&m->scn.s);
        m->scn.loaded = false;
    }
    if (m->own_broker) {
        ml_broker_destroy(&m->broker);
        m->own_broker = m->broker_up = false;
    }
}

int gui_model_restart(struct gui_model *m)
{
    device_stop(m);
    struct sim_net_model net;
    sim_net_get(&net);
    net.link_up[HAL_NET_ETH] = true;
    net.link_up[HAL_NET_WIFI] = true;
    net.dhcp_answers = net.gateway_reachable = net.internet_reachable = true;
    sim_net_set(&net);
    memset(m->fault, 0, sizeof m->fault);
    if (m->own_broker && !m->broker_up) {
        m->broker_up = ml_broker_restart(&m->broker) == 0;
    }
    return device_start(m);
}

bool gui_model_fault_available(const struct gui_model *m, enum gui_fault f)
{
    switch (f) {
    case GUI_FAULT_HISTORIC:
        return m->opt.product == GUI_PRODUCT_TIC && m->hist.n > 0;
    case GUI_FAULT_NET_DOWN:
        return !is_p1mb(m);
    case GUI_FAULT_BROKER_DOWN:
        /* only a broker we run ourselves can be stopped (a scenario's is the runner's) */
        return !is_p1mb(m) && m->own_broker;
    case GUI_FAULT_BUS_GARBAGE:
        return is_p1mb(m);
    default:
        return true;
    }
}

static void broker_set(struct gui_model *m, bool up)
{
    if (up == m->broker_up) {
        return;
    }
    if (up) {
        m->broker_up = ml_broker_restart(&m->broker) == 0;
        if (!m->broker_up) {
            gui_model_log(m, GUI_LOG_BAD, "the broker did not come back");
        }
    } else {
        ml_broker_stop(&m->broker);
        m->broker_up = false;
    }
    sim_wait_idle(); /* the device sees its socket closed (or the port open again) now */
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
        "network down",    "MQTT broker down", "power cycle", "garbage on the RS485 bus",
    };
    gui_model_log(m, GUI_LOG_INFO, "fault %s: %s", on ? "on" : "off", what[f]);
    if (f == GUI_FAULT_NET_DOWN) {
        ml_dut_sim_net_fault(on ? ML_SF_LINK_DOWN : ML_SF_LINK_UP, false);
    } else if (f == GUI_FAULT_BROKER_DOWN) {
        broker_set(m, !on);
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
    sim_button_set(down);
    button_note(m, down);
}

/* The button changed (by a click, the script or the scenario's runner): state and log. */
static void button_note(struct gui_model *m, bool down)
{
    if (down == m->button_down) {
        return;
    }
    m->button_down = down;
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

void gui_model_tel_counts(const struct gui_model *m, uint32_t *pass, uint32_t *fail,
                          uint32_t *frame_fail)
{
    if (is_p1mb(m)) {
        const struct p1mb_counters *c = &ml_dev_p1mb_app()->counters;
        *pass = c->telegrams_pass;
        *fail = c->telegrams_fail;
        *frame_fail = c->telegrams_frame_fail;
    } else {
        const struct sc_counters *c = &ml_dev_sc_app()->counters;
        *pass = c->telegrams_pass;
        *fail = c->telegrams_fail;
        *frame_fail = c->telegrams_frame_fail;
    }
}

const struct regmap_snapshot *gui_model_regs(const struct gui_model *m)
{
    return is_p1mb(m) ? regmap_live_current(&ml_dev_p1mb_app()->regs)
                      : regmap_live_current(&ml_dev_sc_app()->regs);
}

/* The one-click line faults, on whatever the meter sends. */
static void mangle(struct gui_model *m, uint8_t *buf, size_t len)
{
    /* the scenario faults' own code (sim/meter ml_fault_apply), in place: neither fault
     * changes the length */
    enum ml_meter_proto p = m->opt.product == GUI_PRODUCT_TIC ? ML_METER_TIC : ML_METER_DSMR50;
    struct ml_buf t = {buf, len, len};
    char err[128];
    if (m->fault[GUI_FAULT_CRC]) {
        /* framing intact, CRC (P1) or a group checksum (TIC) wrong; bytes without a
         * complete telegram are left as they are */
        struct ml_fault f = {.kind = ML_FAULT_CRC_CORRUPT, .offset = LONG_MIN};
        (void)ml_fault_apply(&f, p, &t, err, sizeof err);
    }
    if (m->fault[GUI_FAULT_NOISE] && len > 0) {
        /* 1 to 3 random bit flips anywhere, as on a bad cable */
        unsigned flips = 1u + rng_next(m) % 3u;
        for (unsigned k = 0; k < flips; k++) {
            uint32_t r = rng_next(m);
            struct ml_fault f = {
                .kind = ML_FAULT_BIT_FLIP, .offset = (long)((r >> 3) % len), .bit = (int)(r & 7u)};
            (void)ml_fault_apply(&f, p, &t, err, sizeof err);
        }
    }
}

/* Inject meter bytes and log the verdict of what they completed. */
static void inject_meter(struct gui_model *m, uint8_t *buf, size_t len)
{
    if (len == 0) {
        return;
    }
    mangle(m, buf, len);
    uint32_t p0, f0, x0;
    gui_model_tel_counts(m, &p0, &f0, &x0);
    sim_uart_feed(HAL_UART_P1_IN, buf, len); /* at the line's pace */
    m->sent++;
    m->act_in_us = m->now_us;
    inject_log(m, p0, f0, x0);
}

/* Log the verdict of what the last meter bytes completed (counters before: p0, f0, x0). */
static void inject_log(struct gui_model *m, uint32_t p0, uint32_t f0, uint32_t x0)
{
    uint32_t p1, f1, x1;
    gui_model_tel_counts(m, &p1, &f1, &x1);
    m->act_in_bad = false;
    bool historic = !is_p1mb(m) && ml_dev_sc_app()->status.tic_historic;
    if (p1 != p0) {
        gui_model_log(m, GUI_LOG_OK, "telegram ok");
    } else if (f1 != f0) {
        gui_model_log(m, GUI_LOG_BAD, "telegram failed: CRC/checksum wrong");
        m->act_in_bad = true;
    } else if (x1 != x0) {
        gui_model_log(m, GUI_LOG_BAD, "telegram failed: %s",
                      historic ? "historic TIC frame (not supported)" : "framing broken");
        m->act_in_bad = true;
    } else {
        /* the tail of a broken frame may wait for the next start */
        gui_model_log(m, GUI_LOG_BAD, "telegram incomplete (waiting for more bytes)");
        m->act_in_bad = true;
    }
}

static void send_telegram(struct gui_model *m)
{
    const struct gui_frames *fr = m->fault[GUI_FAULT_HISTORIC] ? &m->hist : &m->tel;
    size_t i = m->next_frame % fr->n;
    m->next_frame++;
    size_t len = fr->len[i];
    static uint8_t buf[8192];
    if (len > sizeof buf) {
        len = sizeof buf;
    }
    memcpy(buf, fr->buf + fr->off[i], len);
    inject_meter(m, buf, len);
}

/* ------------------------------------------------------------------------- */
/* The charger on RS485 (P1MB)                                               */
/* ------------------------------------------------------------------------- */

/* A scenario's P1MB: its RS485 side is the runner's pty, so the charger polls through
 * the runner's own RTU master (the one the scenario's modbus checks use). */
static void charger_poll_rtu(struct gui_model *m)
{
    struct gui_charger *c = &m->ch;
    struct gui_scn *g = &m->scn;
    m->act_485_us = m->now_us;
    if (m->fault[GUI_FAULT_BUS_GARBAGE]) {
        static const uint8_t junk[] = {0x55, 0xAA, 0x10, 0x03, 0x7F, 0x00, 0xFF, 0x31, 0x42};
        if (ml_run_modbus_send_raw(g->run, junk, sizeof junk) < 0) {
            gui_model_log(m, GUI_LOG_BAD, "charger: cannot write on %s", g->dut.rtu_path);
        }
        c->garbage++;
        m->act_485_bad = true;
        return;
    }
    if (c->entry == NULL) {
        return;
    }
    uint16_t w[4] = {0};
    char why[256];
    c->requests++;
    m->act_485_bad = false;
    if (ml_run_modbus_read(g->run, c->fc, c->addr, c->words, w, why, sizeof why) < 0) {
        c->no_reply++;
        gui_model_log(m, GUI_LOG_BAD, "charger: no reply from address %d", g->dut.rtu_slave);
        return;
    }
    c->replies++;
    gui_reg_value(p1mb_variant_template(m->pset.variant), c->entry, w, c->value, sizeof c->value);
    c->have_value = true;
    c->value_us = m->now_us;
}

static void charger_poll(struct gui_model *m)
{
    struct gui_charger *c = &m->ch;
    if (m->scn.loaded) {
        charger_poll_rtu(m);
        return;
    }
    if (m->fault[GUI_FAULT_BUS_GARBAGE]) {
        /* bytes that are no request: a wrong baud rate, a second master talking */
        static const uint8_t junk[] = {0x55, 0xAA, 0x10, 0x03, 0x7F, 0x00, 0xFF, 0x31, 0x42};
        sim_uart_inject(HAL_UART_RS485, junk, sizeof junk);
        sim_wait_idle();
        c->garbage++;
        m->act_485_us = m->now_us;
        m->act_485_bad = true;
        return;
    }
    if (c->entry == NULL) {
        return;
    }
    if (c->sent_us != 0) {
        c->no_reply++;
        gui_model_log(m, GUI_LOG_BAD, "charger: no reply from address %u", (unsigned)c->unit);
    }
    uint8_t *q = c->req;
    q[0] = c->unit;
    q[1] = c->fc;
    q[2] = (uint8_t)(c->addr >> 8);
    q[3] = (uint8_t)c->addr;
    q[4] = 0;
    q[5] = (uint8_t)c->words;
    uint16_t crc = ml_crc16_modbus(q, 6);
    q[6] = (uint8_t)crc;
    q[7] = (uint8_t)(crc >> 8);
    c->req_len = 8;
    sim_uart_inject(HAL_UART_RS485, q, 8);
    sim_wait_idle();
    c->requests++;
    c->sent_us = m->now_us;
    m->act_485_us = m->now_us;
    m->act_485_bad = false;
}

/* Decode what the P1MB answered (called every sub-step). */
static void charger_take(struct gui_model *m)
{
    struct gui_charger *c = &m->ch;
    uint8_t r[64];
    size_t n = sim_uart_drain(HAL_UART_RS485, r, sizeof r);
    if (n == 0) {
        return;
    }
    m->act_485_us = m->now_us;
    memcpy(c->rsp, r, n);
    c->rsp_len = n;
    c->sent_us = 0;
    c->replies++;
    uint16_t crc = n >= 4 ? ml_crc16_modbus(r, n - 2) : 0;
    if (n < 5 || r[n - 2] != (uint8_t)crc || r[n - 1] != (uint8_t)(crc >> 8)) {
        gui_model_log(m, GUI_LOG_BAD, "charger: bad reply (%zu bytes)", n);
        return;
    }
    if (r[1] & 0x80u) {
        gui_model_log(m, GUI_LOG_BAD, "charger: exception %u", (unsigned)r[2]);
        return;
    }
    if (r[2] != 2u * c->words || n != 5u + r[2]) {
        return;
    }
    uint16_t w[4] = {0};
    for (unsigned i = 0; i < c->words && i < 4; i++) {
        w[i] = (uint16_t)(r[3 + 2 * i] << 8 | r[4 + 2 * i]);
    }
    const struct regmap_template *t = p1mb_variant_template(m->pset.variant);
    gui_reg_value(t, c->entry, w, c->value, sizeof c->value);
    c->have_value = true;
    c->value_us = m->now_us;
}

/* ------------------------------------------------------------------------- */
/* Scenario playback                                                         */
/* ------------------------------------------------------------------------- */

void gui_model_step_text(const struct gui_model *m, long step, char *out, size_t cap)
{
    if (!m->scn.loaded || step < 0 || (size_t)step >= m->scn.s.nsteps) {
        snprintf(out, cap, "-");
        return;
    }
    const struct ml_scn_step *st = &m->scn.s.steps[step];
    switch (st->kind) {
    case ML_STEP_TELEGRAM:
        snprintf(out, cap, "telegram%s%s", st->telegram.file ? " " : "",
                 st->telegram.file ? st->telegram.file : "");
        break;
    case ML_STEP_METER:
        snprintf(out, cap, "meter values");
        break;
    case ML_STEP_FAULT:
        snprintf(out, cap, "fault %s", ml_scn_fault_name(st->fault.kind));
        break;
    case ML_STEP_ACTION:
        snprintf(out, cap, "%s",
                 st->action.kind == ML_ACT_BUTTON         ? "button"
                 : st->action.kind == ML_ACT_MODBUS_WRITE ? "modbus_write"
                                                          : "http");
        break;
    case ML_STEP_EXPECT:
        snprintf(out, cap, "expect");
        break;
    }
}

/* The next scenario step after the current event (for the strip). */
static void scn_next_step(struct gui_model *m)
{
    struct gui_scn *g = &m->scn;
    g->next_step = -1;
    size_t next = 0;
    const struct ml_timeline *tl = ml_run_timeline(g->run, &next);
    for (size_t i = next; i < tl->n; i++) {
        const struct ml_ev *ev = &tl->ev[i];
        if (ev->step != UINT32_MAX && (long)ev->step != g->step &&
            (ev->kind == ML_EV_FAULT || ev->kind == ML_EV_ACTION || ev->kind == ML_EV_EXPECT ||
             ev->kind == ML_EV_TELEGRAM || ev->kind == ML_EV_METER_SET || ev->kind == ML_EV_SYNC)) {
            g->next_step = (long)ev->step;
            g->next_us = ev->t_us;
            return;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Observation                                                               */
/* ------------------------------------------------------------------------- */

/* While the device connects to our broker, let the attempt finish in real time (as
 * `meterlab run` does), so a screenshot at T shows the same state every run. */
static void mqtt_settle(struct gui_model *m)
{
    if (!m->own_broker || !m->broker_up || !m->running || is_p1mb(m)) {
        return;
    }
    ml_dut_sim_mqtt_settle(m->broker.port);
}

const char *gui_p1_led_text(enum p1mb_p1_led s)
{
    return s == P1MB_P1_LED_ON      ? "P1 LED on: valid telegrams"
           : s == P1MB_P1_LED_BLINK ? "P1 LED blinking 2 Hz: bad telegram (CRC)"
                                    : "P1 LED off: no telegram";
}

const char *gui_485_led_text(enum p1mb_485_led s)
{
    return s == P1MB_485_LED_BLINK ? "485 LED blinking 5 Hz: no valid request"
           : s == P1MB_485_LED_ON  ? "485 LED: request received"
                                   : "485 LED off";
}

static void observe_p1mb(struct gui_model *m)
{
    const struct p1mb_app *app = ml_dev_p1mb_app();
    struct p1mb_status st = app->status;
    if (st.p1_led != m->pst.p1_led) {
        gui_model_log(m, GUI_LOG_LED, "%s", gui_p1_led_text(st.p1_led));
    }
    if (st.rs485_led != m->pst.rs485_led && st.rs485_led != P1MB_485_LED_ON &&
        !(st.rs485_led == P1MB_485_LED_OFF && m->pst.rs485_led == P1MB_485_LED_ON)) {
        /* the per-request flash would flood the log: only errors and their end */
        gui_model_log(m, GUI_LOG_LED, "%s", gui_485_led_text(st.rs485_led));
    }
    struct p1mb_counters c = app->counters;
    if (c.telegrams_pass != m->pcnt.telegrams_pass || (!m->have_reading && c.telegrams_pass)) {
        m->reading = app->scratch;
        m->have_reading = true;
    }
    m->pcnt = c;
    m->pst = st;
    if (!m->scn.loaded) {
        charger_take(m);
    }
}

static void observe(struct gui_model *m)
{
    uint32_t boots = sim_boot_count();
    if (boots != m->boots) {
        m->boots = boots;
        gui_model_log(m, GUI_LOG_INFO, "device restarted (boot #%u)", (unsigned)boots);
    }
    if (is_p1mb(m)) {
        observe_p1mb(m);
        return;
    }
    const struct sc_app *app = ml_dev_sc_app();
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
        gui_model_log(m, st.mqtt == HAL_MQTT_CONNECTED ? GUI_LOG_OK : GUI_LOG_BAD, "MQTT %s",
                      mqtt_state_name((int)st.mqtt));
    }
    struct sc_counters c = app->counters;
    if (c.modbus_requests != m->cnt.modbus_requests ||
        c.mqtt_publish_pass != m->cnt.mqtt_publish_pass) {
        m->act_eth_us = m->now_us;
    }
    if (c.mqtt_publish_fail != m->cnt.mqtt_publish_fail) {
        gui_model_log(m, GUI_LOG_BAD, "MQTT publish failed");
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

static uint64_t earlier(uint64_t t, uint64_t cand, uint64_t now)
{
    if (cand < t) {
        return cand > now ? cand : now;
    }
    return t;
}

void gui_model_run_to(struct gui_model *m, uint64_t t_us)
{
    if (!m->running) {
        return;
    }
    struct gui_scn *g = &m->scn;
    while (m->now_us < t_us) {
        uint64_t t = m->now_us + GUI_STEP_US;
        if (t > t_us) {
            t = t_us;
        }
        t = earlier(t, m->next_tel_us, m->now_us);
        if (m->next_action < m->opt.n_actions) {
            t = earlier(t, (uint64_t)(m->opt.actions[m->next_action].at_s * 1e6), m->now_us);
        }
        if (m->release_at_us != 0) {
            t = earlier(t, m->release_at_us, m->now_us);
        }
        if (g->loaded) {
            t = earlier(t, ml_run_next_event_us(g->run), m->now_us);
        }
        if (is_p1mb(m)) {
            t = earlier(t, m->ch.next_us, m->now_us);
        }
        if (g->loaded) {
            size_t before = 0, after = 0;
            ml_run_timeline(g->run, &before);
            ml_run_advance(g->run, t); /* its events up to t, then the device to t */
            ml_run_timeline(g->run, &after);
            if (after != before || g->next_step < 0) {
                scn_next_step(m);
            }
        } else {
            sim_advance_to_us(t);
            mqtt_settle(m);
        }
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
        if (g->loaded && !g->ended && m->now_us >= (uint64_t)llround(g->s.duration_s * 1e6)) {
            g->ended = true;
            gui_model_log(m, g->res.failed ? GUI_LOG_BAD : GUI_LOG_INFO,
                          "end of the scenario (%.0f s): %d checks, %d failed, %d skipped; the "
                          "device runs on",
                          g->s.duration_s, g->res.checks, g->res.failed, g->res.skips);
        }
        observe(m);
        if (is_p1mb(m) && m->ch.next_us <= m->now_us) {
            charger_poll(m);
            if (g->loaded && sim_now_us() > m->now_us) {
                m->now_us = sim_now_us(); /* the RTU exchange took device time */
                observe(m);
            }
            m->ch.next_us += 1000000u; /* a charger polls about once a second */
        }
        if (t == m->now_us && t >= t_us) {
            break;
        }
    }
}

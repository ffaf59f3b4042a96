/*
 * P1MB event loop. One pass: parse P1 bytes (each good telegram renders a new
 * register snapshot), feed RS485 bytes with their stamps to the RTU framer and
 * send replies, end frames by t3.5, reboot when asked, drive the LEDs; then
 * sleep until the earliest deadline or the next event.
 */
#include "p1mb_app.h"

#include "cfg_flash_hal.h"
#include "err.h"
#include "ml_config.h"

#define RX_CHUNK 128u
#define P1_CHUNK 32u

/* ------------------------------------------------------------------------- */
/* Variants                                                                  */
/* ------------------------------------------------------------------------- */

struct variant_info {
    const char *name;     /**< CLI / docs name */
    const char *template; /**< regmap MeterType */
    uint8_t template_len;
};

static const struct variant_info variants[P1MB_VARIANT_COUNT] = {
    [P1MB_VARIANT_PRO380] = {"pro380", "Inepro-PRO380", 13},
    [P1MB_VARIANT_ACR10RH] = {"acr10rh", "Acrel-ACR10RH", 13},
    [P1MB_VARIANT_SDM630] = {"sdm630", "Eastron-SDM630", 14},
    [P1MB_VARIANT_XEMEX] = {"xemex", "Xemex", 5},
};

void p1mb_settings_defaults(struct p1mb_settings *s)
{
    s->variant = P1MB_VARIANT;
}

const struct regmap_template *p1mb_variant_template(enum p1mb_variant v)
{
    /* short enums on the target: compare as unsigned (a negative value wraps high) */
    if ((unsigned)v >= (unsigned)P1MB_VARIANT_COUNT) {
        return 0;
    }
    return regmap_template_find(variants[v].template, variants[v].template_len);
}

const char *p1mb_variant_name(enum p1mb_variant v)
{
    if ((unsigned)v >= (unsigned)P1MB_VARIANT_COUNT) {
        return 0;
    }
    return variants[v].name;
}

uint16_t p1mb_variant_code(enum p1mb_variant v)
{
    return (uint16_t)((unsigned)v + 1u);
}

/* ------------------------------------------------------------------------- */
/* LED patterns (products.md §3, P1MB manual §2.7)                           */
/* ------------------------------------------------------------------------- */

static const struct ui_pattern pat_off = {{UI_RGB_OFF}, 1, 0};
static const struct ui_pattern pat_pwr = {{UI_RGB_YELLOW}, 1, 0};
static const struct ui_pattern pat_p1_on = {{UI_RGB_GREEN}, 1, 0};
static const struct ui_pattern pat_p1_blink = {{UI_RGB_GREEN, UI_RGB_OFF}, 2, 250};
static const struct ui_pattern pat_485_on = {{UI_RGB_RED}, 1, 0};
static const struct ui_pattern pat_485_blink = {{UI_RGB_RED, UI_RGB_OFF}, 2, 100};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ------------------------------------------------------------------------- */
/* Modbus data source: the variant's snapshot plus the configuration block   */
/* ------------------------------------------------------------------------- */

static int mb_read(void *ctx, uint8_t fc, uint16_t addr, uint16_t count, uint16_t *out)
{
    struct p1mb_app *app = ctx;
    int ex = regmap_mb_read(&app->regs, fc, addr, count, out);
    if (ex == MB_EX_NONE && p1mb_cfg_regs_overlaps(addr, count)) {
        p1mb_cfg_regs_read(&app->cfg, addr, count, out);
    }
    return ex;
}

static int mb_write(void *ctx, uint16_t addr, uint16_t count, const uint16_t *vals)
{
    struct p1mb_app *app = ctx;
    if (count != 1u) {
        return MB_EX_ILLEGAL_FUNCTION; /* FC 0x10 is masked off; never reached */
    }
    app->cfg_change_ms = hal_time_ms(); /* the flash is written once the master is quiet */
    return p1mb_cfg_regs_write(&app->cfg, addr, vals[0]);
}

static bool cfg_uncommitted(const struct p1mb_app *app)
{
    return app->cfg.dirty || app->cfg.factory_pending;
}

/* ------------------------------------------------------------------------- */
/* P1 input                                                                  */
/* ------------------------------------------------------------------------- */

struct p1_ctx {
    struct p1mb_app *app;
    uint64_t now;
};

static void on_telegram(void *ctx, const struct meter_in_telegram *t)
{
    struct p1mb_app *app = ((struct p1_ctx *)ctx)->app;
    const struct meter_in_counters *c = meter_in_counters(&app->p1);
    app->counters.telegrams_pass = c->telegrams_pass;
    app->counters.telegrams_fail = c->telegrams_fail;
    app->counters.telegrams_frame_fail = c->telegrams_frame_fail;
    if (t->verdict == METER_IN_OK) {
        /* the snapshot swap is atomic for the reader: one telegram per reply */
        uint64_t now = ((struct p1_ctx *)ctx)->now;
        regmap_live_update_at(&app->regs, &app->scratch, now, REGMAP_DATA_LIVE);
        app->have_good = true;
        app->meter_lost = false;
        app->last_good_ms = now;
    }
    app->status.have_telegram = true;
    app->status.last_telegram_ok = t->verdict == METER_IN_OK;
    app->status.last_telegram_ms = ((struct p1_ctx *)ctx)->now;
}

static void send_reply(struct p1mb_app *app, enum hal_uart_id uart, const uint8_t *out, int len,
                       uint64_t now);

/* Configurator requests among the P1 bytes: a valid one (for P1MB_P1_CFG_ADDRESS) is
 * answered on the data-request line and switches P1 to configuration mode. */
static void p1cfg_feed(struct p1mb_app *app, const uint8_t *buf, const uint32_t *ts, size_t n,
                       uint64_t now)
{
    uint8_t out[MB_RTU_ADU_MAX];
    size_t off = 0;
    while (off < n) {
        size_t used = 0;
        uint32_t ok_before = app->p1cfg.stats.frames_ok;
        int r = mb_rtu_feed(&app->p1cfg, buf + off, ts + off, n - off, &used, out, sizeof out);
        if (app->p1cfg.stats.frames_ok != ok_before) {
            if (!app->p1cfg_mode) {
                hal_gpio_data_request_set(false); /* the line is the transmit line now */
            }
            app->p1cfg_mode = true;
            app->p1cfg_last_ms = now;
        }
        send_reply(app, HAL_UART_P1_IN, out, r, now);
        if (r < 0 || used == 0) {
            break;
        }
        off += used;
    }
}

static void p1cfg_poll(struct p1mb_app *app, uint64_t now)
{
    uint8_t out[MB_RTU_ADU_MAX];
    uint32_t ok_before = app->p1cfg.stats.frames_ok;
    int r = mb_rtu_poll(&app->p1cfg, (uint32_t)hal_time_us(), out, sizeof out);
    if (app->p1cfg.stats.frames_ok != ok_before) {
        if (!app->p1cfg_mode) {
            hal_gpio_data_request_set(false);
        }
        app->p1cfg_mode = true;
        app->p1cfg_last_ms = now;
    }
    send_reply(app, HAL_UART_P1_IN, out, r, now);
    if (app->p1cfg_mode && now - app->p1cfg_last_ms >= P1MB_P1_CFG_IDLE_MS) {
        /* back to the meter: ask it to send again. The configurator's bytes never
         * reached the parser in configuration mode; a telegram the first request may
         * have seemed to start ends at the meter's next '/' (one frame fail at most). */
        app->p1cfg_mode = false;
        hal_gpio_data_request_set(true);
    }
    app->status.p1_config_mode = app->p1cfg_mode;
}

static void p1_poll(struct p1mb_app *app, uint64_t now)
{
    /* smaller reads than RS485's: the stamps for the configurator's framer cost 4 B of
     * stack per byte on the M0+ (16 KiB of RAM) */
    uint8_t buf[P1_CHUNK];
    uint32_t ts[P1_CHUNK];
    struct p1_ctx ctx = {app, now};
    for (int rounds = 0; rounds < 256; rounds++) { /* up to 8 KiB a pass, as before */
        int n = hal_uart_read(HAL_UART_P1_IN, buf, sizeof buf, ts);
        if (n <= 0) {
            break;
        }
        p1cfg_feed(app, buf, ts, (size_t)n, now);
        if (app->p1cfg_mode) {
            continue; /* the configurator's bytes are no telegram */
        }
        (void)meter_in_feed(&app->p1, buf, (size_t)n, on_telegram, &ctx);
    }
}

/* Meter loss (products.md): no good telegram for P1MB_P1_TIMEOUT_MS: instantaneous
 * values read 0x0000 from then on ("registers for which P1 data is not available"),
 * energies keep their last value. app->scratch holds the last good telegram (the
 * parser writes it only when one ends well). */
static void meter_loss_poll(struct p1mb_app *app, uint64_t now)
{
    if (!app->have_good || app->meter_lost || now - app->last_good_ms < P1MB_P1_TIMEOUT_MS) {
        return;
    }
    app->meter_lost = true;
    reading_clear_instant(&app->scratch);
    regmap_live_update_at(&app->regs, &app->scratch, app->last_good_ms, REGMAP_DATA_LOST);
}

/* ------------------------------------------------------------------------- */
/* RS485: Modbus RTU                                                         */
/* ------------------------------------------------------------------------- */

static void send_reply(struct p1mb_app *app, enum hal_uart_id uart, const uint8_t *out, int len,
                       uint64_t now)
{
    if (len <= 0) {
        return;
    }
    hal_uart_write(uart, out, (size_t)len);
    if (app->cfg.reboot_requested && !app->reboot_pending) {
        /* let the reply leave the UART before the reset cuts it off */
        uint32_t bits = (uint32_t)len * p1mb_config_bits_per_char(&app->cfg.active);
        app->reboot_at_ms = now +
                            (bits * 1000u + app->cfg.active.baud - 1u) / app->cfg.active.baud +
                            P1MB_REBOOT_GRACE_MS;
        app->reboot_pending = true;
    }
}

/* Turn framer counter changes into LED events and app counters. */
static void rtu_account(struct p1mb_app *app, uint64_t now)
{
    const struct mb_rtu_stats *s = &app->rtu.stats;
    struct mb_rtu_stats *seen = &app->rtu_seen;
    if (s->frames_ok != seen->frames_ok) {
        app->counters.modbus_requests += s->frames_ok - seen->frames_ok;
        app->rs485_ok = true;
        app->rs485_ok_ms = now;
    }
    if (s->crc_errors != seen->crc_errors || s->garbage_bytes != seen->garbage_bytes) {
        app->counters.modbus_bad_frames += s->crc_errors - seen->crc_errors;
        if (s->garbage_bytes != seen->garbage_bytes) {
            app->counters.modbus_bad_frames++;
        }
        app->rs485_bad = true;
        app->rs485_bad_ms = now;
    }
    *seen = *s;
}

static void rs485_poll(struct p1mb_app *app, uint64_t now)
{
    uint8_t in[RX_CHUNK];
    uint32_t ts[RX_CHUNK];
    uint8_t out[MB_RTU_ADU_MAX];
    for (int rounds = 0; rounds < 64; rounds++) {
        int n = hal_uart_read(HAL_UART_RS485, in, sizeof in, ts);
        if (n <= 0) {
            break;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used = 0;
            int r =
                mb_rtu_feed(&app->rtu, in + off, ts + off, (size_t)n - off, &used, out, sizeof out);
            send_reply(app, HAL_UART_RS485, out, r, now);
            if (r < 0 || used == 0) {
                break;
            }
            off += used;
        }
    }
    /* t3.5 of silence after the last byte ends the frame */
    int r = mb_rtu_poll(&app->rtu, (uint32_t)hal_time_us(), out, sizeof out);
    send_reply(app, HAL_UART_RS485, out, r, now);
    rtu_account(app, now);
    if (app->cfg.reboot_requested && !app->reboot_pending) {
        /* broadcast write: executed without reply, reboot at once */
        app->reboot_at_ms = now + P1MB_REBOOT_GRACE_MS;
        app->reboot_pending = true;
    }
}

/* ------------------------------------------------------------------------- */
/* LEDs                                                                      */
/* ------------------------------------------------------------------------- */

static void led_poll(struct p1mb_app *app, uint64_t now)
{
    struct p1mb_status *st = &app->status;
    if (!st->have_telegram || now - st->last_telegram_ms >= P1MB_P1_TIMEOUT_MS) {
        st->p1_led = P1MB_P1_LED_OFF;
    } else {
        st->p1_led = st->last_telegram_ok ? P1MB_P1_LED_ON : P1MB_P1_LED_BLINK;
    }
    if (app->rs485_bad && now - app->rs485_bad_ms < P1MB_485_ERROR_MS) {
        st->rs485_led = P1MB_485_LED_BLINK;
    } else if (app->rs485_ok && now - app->rs485_ok_ms < P1MB_485_FLASH_MS) {
        st->rs485_led = P1MB_485_LED_ON;
    } else {
        st->rs485_led = P1MB_485_LED_OFF;
    }
    static const struct ui_pattern *const p1_pat[] = {&pat_off, &pat_p1_on, &pat_p1_blink};
    static const struct ui_pattern *const rs_pat[] = {&pat_off, &pat_485_on, &pat_485_blink};
    ui_led_show(&app->led_p1, p1_pat[st->p1_led], now);
    ui_led_show(&app->led_485, rs_pat[st->rs485_led], now);
    hal_led_set(HAL_LED_PWR, ui_led_colour(&app->led_pwr, now));
    hal_led_set(HAL_LED_P1, ui_led_colour(&app->led_p1, now));
    hal_led_set(HAL_LED_485, ui_led_colour(&app->led_485, now));
}

/* ------------------------------------------------------------------------- */
/* Setup and loop                                                            */
/* ------------------------------------------------------------------------- */

static void setup(struct p1mb_app *app, const struct p1mb_settings *set)
{
    uint8_t *p = (uint8_t *)app;
    for (size_t i = 0; i < sizeof(*app); i++) {
        p[i] = 0;
    }
    app->set = set;
    uint64_t now = hal_time_ms();
    ui_led_init(&app->led_pwr, &pat_pwr, now);
    ui_led_init(&app->led_p1, &pat_off, now);
    ui_led_init(&app->led_485, &pat_off, now);
    hal_led_set(HAL_LED_PWR, UI_RGB_YELLOW);

    /* Configuration: the stored copy, or the defaults (the device always comes up). */
    struct p1mb_config conf;
    const struct cfg_flash_ops *ops = 0;
    if (cfg_flash_hal_ops(&app->flash) == ML_OK) {
        ops = &app->flash;
        app->status.config_loaded = p1mb_config_load(ops, &conf) == ML_OK;
    } else {
        p1mb_config_defaults(&conf);
    }
    enum p1mb_variant v = set->variant;
    if ((unsigned)v >= (unsigned)P1MB_VARIANT_COUNT) {
        v = P1MB_VARIANT;
    }
    p1mb_cfg_regs_init(&app->cfg, ops, &conf, p1mb_variant_code(v));

    /* P1: 115200 8N1, inverted (dsmr.md §2); ask the meter to send. */
    struct hal_uart_cfg p1 = {115200, 8, HAL_UART_PARITY_NONE, 1, true};
    hal_uart_open(HAL_UART_P1_IN, &p1);
    meter_in_init_p1(&app->p1, &app->dsmr, &app->scratch);
    hal_gpio_data_request_set(true);

    /* RS485 at the stored line settings. */
    struct hal_uart_cfg rs = {
        conf.baud, 8, conf.parity == P1MB_PARITY_NONE ? HAL_UART_PARITY_NONE : HAL_UART_PARITY_EVEN,
        1, false};
    hal_gpio_termination_set(conf.termination);
    hal_uart_open(HAL_UART_RS485, &rs);

    app->tpl = p1mb_variant_template(v);
    regmap_live_init(&app->regs, app->tpl);
    /* Render an empty reading once so the identity constants answer from boot,
     * before the first telegram (values without data read 0). */
    reading_init(&app->scratch);
    regmap_live_update_at(&app->regs, &app->scratch, now, REGMAP_DATA_NONE);
    mb_slave_init(&app->mb, mb_read, mb_write, app);
    app->mb.fc_mask = MB_FCBIT_03 | MB_FCBIT_04 | MB_FCBIT_06;
    mb_rtu_init(&app->rtu, &app->mb, conf.address, conf.baud, p1mb_config_bits_per_char(&conf));
    mb_rtu_init(&app->p1cfg, &app->mb, P1MB_P1_CFG_ADDRESS, 115200u, 10u);
}

static uint64_t next_deadline(struct p1mb_app *app, uint64_t now)
{
    /* the watchdog (4 s on the target) is kicked once per pass: an idle device without
     * a meter and without requests must still pass by */
    uint64_t d = now + P1MB_WAKE_MS;
    d = min_u64(d, mb_rtu_deadline_ms(&app->rtu, hal_time_us()));
    d = min_u64(d, mb_rtu_deadline_ms(&app->p1cfg, hal_time_us()));
    if (app->p1cfg_mode) {
        d = min_u64(d, app->p1cfg_last_ms + P1MB_P1_CFG_IDLE_MS);
    }
    d = min_u64(d, ui_led_next_deadline_ms(&app->led_p1, now));
    d = min_u64(d, ui_led_next_deadline_ms(&app->led_485, now));
    /* wake when an LED state runs out */
    if (app->status.have_telegram) {
        uint64_t t = app->status.last_telegram_ms + P1MB_P1_TIMEOUT_MS;
        d = t > now ? min_u64(d, t) : d;
    }
    if (app->have_good && !app->meter_lost) {
        d = min_u64(d, app->last_good_ms + P1MB_P1_TIMEOUT_MS); /* meter loss */
    }
    if (app->rs485_ok) {
        uint64_t t = app->rs485_ok_ms + P1MB_485_FLASH_MS;
        d = t > now ? min_u64(d, t) : d;
    }
    if (app->rs485_bad) {
        uint64_t t = app->rs485_bad_ms + P1MB_485_ERROR_MS;
        d = t > now ? min_u64(d, t) : d;
    }
    if (app->reboot_pending) {
        d = min_u64(d, app->reboot_at_ms);
    }
    if (cfg_uncommitted(app)) {
        d = min_u64(d, app->cfg_change_ms + P1MB_CFG_COMMIT_MS);
    }
    return d;
}

void p1mb_app_run(struct p1mb_app *app, const struct p1mb_settings *set)
{
    setup(app, set);
    while (!hal_sys_should_stop()) {
        uint64_t now = hal_time_ms();
        hal_sys_watchdog_kick();
        regmap_live_set_now(&app->regs, now); /* data age in the Xemex map */
        p1_poll(app, now);
        p1cfg_poll(app, now);
        meter_loss_poll(app, now);
        rs485_poll(app, now);
        if (cfg_uncommitted(app) &&
            (app->reboot_pending || now >= app->cfg_change_ms + P1MB_CFG_COMMIT_MS)) {
            /* a reboot was asked for: write the changes now (the reply is queued), and
             * reboot a grace period after the save */
            hal_sys_watchdog_kick();
            (void)p1mb_cfg_regs_commit(&app->cfg); /* a failure is counted; the registers say */
            now = hal_time_ms();
            if (app->reboot_pending && app->reboot_at_ms < now + P1MB_REBOOT_GRACE_MS) {
                app->reboot_at_ms = now + P1MB_REBOOT_GRACE_MS;
            }
        }
        if (app->reboot_pending && now >= app->reboot_at_ms) {
            hal_sys_reboot(); /* the sim returns from the loop; the target resets */
            break;
        }
        led_poll(app, now);
        /* wake to kick the watchdog even when nothing is due (a silent meter) */
        hal_time_wait_until(min_u64(next_deadline(app, now), now + ML_WATCHDOG_KICK_MS));
    }
    hal_uart_close(HAL_UART_RS485);
    hal_uart_close(HAL_UART_P1_IN);
}

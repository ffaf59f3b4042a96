/*
 * Smart Connect event loop. One pass: move meter bytes (copy to P1 out, parse),
 * serve Modbus TCP, run the network policy, drive MQTT, the button and the LED;
 * then sleep until the earliest deadline or the next event.
 */
#include "sc_app.h"

#include "cfg_flash_hal.h"
#include "err.h"
#include "ml_config.h"
#include "mqtt/mqtt.h"
#include "mqtt/mqtt_counters.h"
#include "sc_cmd.h"
#include "sc_fw.h"
#include "sc_http.h"
#include "str.h"

#define RX_CHUNK 256u

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Load the stored configuration (or seed it from the settings) and derive the
 * effective settings. A store that cannot be read or decoded counts as empty. */
static void config_load(struct sc_app *app, const struct sc_settings *set)
{
    app->eff = *set;
    app->cfg_ops_ok = cfg_flash_hal_ops(&app->cfg_ops) == ML_OK;
    uint8_t blob[CFG_BLOB_MAX];
    size_t len = 0;
    if (app->cfg_ops_ok && cfg_store_load(&app->cfg_ops, blob, sizeof blob, &len, 0) == ML_OK &&
        cfg_decode(&app->cfg, blob, len, sc_meter_type_is_known) == ML_OK) {
        app->status.config_saved = true;
        sc_settings_apply_cfg(&app->eff, &app->cfg);
    } else {
        sc_cfg_from_settings(set, &app->cfg);
    }
    app->set = &app->eff;
}

/* ------------------------------------------------------------------------- */
/* Meter input                                                               */
/* ------------------------------------------------------------------------- */

static void on_good_telegram(struct sc_app *app, uint64_t now, struct ml_span raw)
{
    struct hal_sys_identity id;
    app->reading = app->scratch;
    app->status.last_telegram_ms = now;
    /* keep the raw telegram for GET /api/v1/telegram (not while a response sends it) */
    if (!http_work_body_in_use(&app->http_work, app->telegram)) {
        size_t n = raw.len < sizeof app->telegram ? raw.len : sizeof app->telegram;
        for (size_t i = 0; i < n; i++) {
            app->telegram[i] = raw.ptr[i];
        }
        app->telegram_len = n;
    }
    app->meter_lost = false;
    if (regmap_live_update_at(&app->regs, &app->reading, now, REGMAP_DATA_LIVE) < 0) {
        return; /* a broken template was refused at init; nothing to publish */
    }
    if (!app->mqtt_started || hal_mqtt_get_state() != HAL_MQTT_CONNECTED) {
        return;
    }
    hal_sys_get_identity(&id);
    int n = mqtt_power_instant_build_ts(&app->reading, hal_time_utc(), app->payload,
                                        sizeof app->payload);
    int t = mqtt_topic_build(app->set->mqtt_site, id.serial, "power_instant", app->topic,
                             sizeof app->topic);
    if (n > 0 && t > 0 && hal_mqtt_publish(app->topic, app->payload, (size_t)n) == ML_OK) {
        app->counters.mqtt_publish_pass++;
    } else {
        app->counters.mqtt_publish_fail++;
    }
}

struct meter_ctx {
    struct sc_app *app;
    uint64_t now;
};

static void on_telegram(void *ctx, const struct meter_in_telegram *t)
{
    struct sc_app *app = ((struct meter_ctx *)ctx)->app;
    /* device_counters and the status API report the input's counters */
    const struct meter_in_counters *c = meter_in_counters(&app->meter);
    app->counters.telegrams_pass = c->telegrams_pass;
    app->counters.telegrams_fail = c->telegrams_fail;
    app->counters.telegrams_frame_fail = c->telegrams_frame_fail;
    if (t->verdict == METER_IN_OK) {
        app->status.tic_historic = false;
        on_good_telegram(app, ((struct meter_ctx *)ctx)->now, t->raw);
    } else if (t->verdict == METER_IN_HISTORIC) {
        /* historic mode is detected and reported, never parsed (products.md §2) */
        app->status.tic_historic = true;
    }
}

static void meter_feed(struct sc_app *app, const uint8_t *buf, size_t len, uint64_t now)
{
    struct meter_ctx ctx = {app, now};
    (void)meter_in_feed(&app->meter, buf, len, on_telegram, &ctx);
}

static void meter_poll(struct sc_app *app, uint64_t now)
{
    uint8_t buf[RX_CHUNK];
    for (int rounds = 0; rounds < 64; rounds++) {
        int n = hal_uart_read(HAL_UART_P1_IN, buf, sizeof buf, 0);
        if (n <= 0) {
            break;
        }
        /* P1 out is an exact copy, byte for byte as it arrives, good or bad. */
        hal_uart_write(HAL_UART_P1_OUT, buf, (size_t)n);
        meter_feed(app, buf, (size_t)n, now);
    }
}

/* Meter loss (products.md): no good telegram for SC_METER_TIMEOUT_MS (the moment the LED
 * shows "no meter data"): instantaneous values read 0 from then on, energies keep their
 * last value, the Xemex map says "lost" and how old the data is. */
static void meter_loss_poll(struct sc_app *app, uint64_t now)
{
    uint64_t last = app->status.last_telegram_ms;
    if (app->meter_lost || last == 0u || now - last < SC_METER_TIMEOUT_MS) {
        return;
    }
    app->meter_lost = true;
    reading_clear_instant(&app->reading);
    regmap_live_update_at(&app->regs, &app->reading, last, REGMAP_DATA_LOST);
}

/* ------------------------------------------------------------------------- */
/* Modbus TCP: one client at a time (products.md §1 Decision)                */
/* ------------------------------------------------------------------------- */

static void client_drop(struct sc_app *app)
{
    if (app->client >= 0) {
        hal_tcp_close(app->client);
        app->client = -1;
    }
    app->mb_in_len = app->mb_in_off = 0;
    app->mb_out_len = app->mb_out_off = 0;
}

static bool mb_out_pending(const struct sc_app *app)
{
    return app->mb_out_off < app->mb_out_len;
}

/* Send what is left of the last answer; false when the connection broke. */
static bool mb_flush(struct sc_app *app)
{
    while (mb_out_pending(app)) {
        int n = hal_tcp_send(app->client, &app->mb_out[app->mb_out_off],
                             (size_t)(app->mb_out_len - app->mb_out_off));
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            return true; /* socket full: next_deadline() brings the loop back */
        }
        app->mb_out_off = (uint16_t)(app->mb_out_off + n);
    }
    return true;
}

/* When modbus_poll() has work that no socket event announces. */
static uint64_t mb_next_deadline(const struct sc_app *app, uint64_t now)
{
    if (app->client < 0) {
        return UINT64_MAX;
    }
    if (mb_out_pending(app)) {
        return now + 1u; /* output waits for socket space */
    }
    return app->mb_in_off < app->mb_in_len ? now : UINT64_MAX; /* input already read */
}

/* Before a newcomer is judged: has the current client closed? Reads what is
 * waiting (kept for the normal path) when the input buffer is free. */
static bool mb_client_alive(struct sc_app *app)
{
    if (mb_out_pending(app) || app->mb_in_off < app->mb_in_len) {
        return true; /* input waits: the close, if any, comes after it */
    }
    int n = hal_tcp_recv(app->client, app->mb_in, sizeof app->mb_in);
    if (n > 0) {
        app->mb_in_len = (uint16_t)n;
        app->mb_in_off = 0;
        return true;
    }
    return n == ML_EAGAIN;
}

static void modbus_poll(struct sc_app *app, uint64_t now)
{
    if (app->listener < 0) {
        return;
    }
    for (;;) {
        int c = hal_tcp_accept(app->listener);
        if (c < 0) {
            break;
        }
        if (app->client >= 0 && !mb_client_alive(app)) {
            client_drop(app); /* it closed before the newcomer came: not a rival */
        }
        if (app->client >= 0 && now - app->client_last_frame_ms < SC_CLIENT_IDLE_MS) {
            /* the current client is active: refuse the newcomer (count first: the
             * peer may observe the close before this thread runs on) */
            app->counters.modbus_clients_refused++;
            hal_tcp_close(c);
            continue;
        }
        client_drop(app);
        app->client = c;
        app->client_last_frame_ms = now;
        mb_tcp_reset(&app->mb_tcp);
    }
    if (app->client < 0) {
        return;
    }
    for (int rounds = 0; rounds < 16; rounds++) { /* one answer a round */
        if (!mb_flush(app)) {
            client_drop(app);
            return;
        }
        if (mb_out_pending(app)) {
            return; /* the rest of the input waits until this answer is out */
        }
        if (app->mb_in_off == app->mb_in_len) {
            int n = hal_tcp_recv(app->client, app->mb_in, sizeof app->mb_in);
            if (n == ML_EAGAIN) {
                return;
            }
            if (n <= 0) {
                client_drop(app);
                return;
            }
            app->mb_in_len = (uint16_t)n;
            app->mb_in_off = 0;
        }
        /* feed up to the next complete request (mb_tcp keeps a partial one) */
        size_t used = 0;
        int r = mb_tcp_feed(&app->mb_tcp, &app->mb_in[app->mb_in_off],
                            (size_t)(app->mb_in_len - app->mb_in_off), &used, app->mb_out,
                            sizeof app->mb_out);
        if (r < 0) {
            client_drop(app); /* MBAP protocol error: close (Messaging on TCP/IP §4.4.1.1) */
            return;
        }
        app->mb_in_off = used > 0u ? (uint16_t)(app->mb_in_off + used) : app->mb_in_len;
        if (r > 0) {
            /* only a completed frame counts as activity: a byte now and then does not
             * keep the connection (one-client rule, products.md §1) */
            app->client_last_frame_ms = now;
            app->counters.modbus_requests++;
            app->mb_out_len = (uint16_t)r;
            app->mb_out_off = 0;
        }
    }
    if (!mb_flush(app)) { /* the last round's answer */
        client_drop(app);
    }
}

/* ------------------------------------------------------------------------- */
/* Network policy <-> HAL                                                    */
/* ------------------------------------------------------------------------- */

static enum net_result op_result(enum hal_net_op op, bool *reported)
{
    if (op == HAL_NET_OP_PENDING || op == HAL_NET_OP_IDLE) {
        *reported = false;
        return NET_RES_NONE;
    }
    if (*reported) {
        return NET_RES_NONE; /* each outcome goes to the policy once */
    }
    *reported = true;
    return op == HAL_NET_OP_OK ? NET_RES_OK : NET_RES_FAILED;
}

static void net_poll(struct sc_app *app, uint64_t now)
{
    struct hal_net_ipv4 lease = {0, 0, 0, 0};
    enum hal_net_if nif = app->set->net.iface == NET_IF_WIFI ? HAL_NET_WIFI : HAL_NET_ETH;
    struct net_inputs in;
    in.link_up = hal_net_link_is_up(nif);
    in.dhcp = op_result(hal_net_dhcp_state(&lease), &app->dhcp_reported);
    in.lease = (struct net_ipv4){lease.ip, lease.netmask, lease.gateway, lease.dns};
    in.ping = op_result(hal_net_ping_state(), &app->ping_reported);

    struct net_action act;
    for (int guard = 0; guard < 8 && net_policy_poll(&app->net, &in, now, &act); guard++) {
        in.dhcp = NET_RES_NONE;
        in.ping = NET_RES_NONE;
        struct hal_sys_identity id;
        char ssid[32];
        switch (act.kind) {
        case NET_ACT_IF_UP:
            if (nif == HAL_NET_WIFI) {
                hal_net_up(nif, app->cfg.wifi_ssid, app->cfg.wifi_password);
            } else {
                hal_net_up(nif, "", "");
            }
            break;
        case NET_ACT_DHCP_START:
            app->dhcp_reported = false;
            hal_net_dhcp_start();
            break;
        case NET_ACT_SET_IPV4: {
            struct hal_net_ipv4 a = {act.addr.ip, act.addr.netmask, act.addr.gateway, act.addr.dns};
            hal_net_set_ipv4(&a);
            break;
        }
        case NET_ACT_PING:
            app->ping_reported = false;
            hal_net_ping_start(act.addr.ip);
            break;
        case NET_ACT_AP_START:
            hal_sys_get_identity(&id);
            ml_str_copy(ssid, sizeof ssid, "SC-");
            ml_str_copy(ssid + 3, sizeof ssid - 3u, id.serial);
            hal_net_ap_start(ssid, id.label_password);
            break;
        case NET_ACT_AP_STOP:
            hal_net_ap_stop();
            break;
        case NET_ACT_NONE:
            break;
        }
    }
    app->status.has_ip = app->net.state == NET_ST_BOUND || app->net.state == NET_ST_STATIC;
    /* reachability dots: the outcome of the latest ping of each kind */
    const struct net_counters *nc = &app->net.counters;
    if (nc->gw_ping_pass != app->gw_pass_seen || nc->gw_ping_fail != app->gw_fail_seen) {
        app->status.gw_reachable = nc->gw_ping_pass != app->gw_pass_seen;
        app->gw_pass_seen = nc->gw_ping_pass;
        app->gw_fail_seen = nc->gw_ping_fail;
    }
    if (nc->internet_ping_pass != app->inet_pass_seen ||
        nc->internet_ping_fail != app->inet_fail_seen) {
        app->status.internet_reachable = nc->internet_ping_pass != app->inet_pass_seen;
        app->inet_pass_seen = nc->internet_ping_pass;
        app->inet_fail_seen = nc->internet_ping_fail;
    }
    if (!net_policy_has_ip(&app->net)) {
        app->status.gw_reachable = false;
        app->status.internet_reachable = false;
    }
}

/* ------------------------------------------------------------------------- */
/* MQTT                                                                      */
/* ------------------------------------------------------------------------- */

static void publish_counters(struct sc_app *app, uint64_t now)
{
    struct hal_sys_identity id;
    struct hal_sys_heap heap;
    struct hal_mqtt_stats ms;
    hal_sys_get_identity(&id);
    hal_sys_get_heap(&heap);
    hal_mqtt_get_stats(&ms);
    struct mqtt_device_counters c = {
        .uptime_s = (now - app->boot_ms) / 1000u,
        .gw_ping_pass = app->net.counters.gw_ping_pass,
        .gw_ping_fail = app->net.counters.gw_ping_fail,
        .internet_ping_pass = app->net.counters.internet_ping_pass,
        .internet_ping_fail = app->net.counters.internet_ping_fail,
        .telegrams_pass = app->counters.telegrams_pass,
        .telegrams_fail = app->counters.telegrams_fail,
        .telegrams_frame_fail = app->counters.telegrams_frame_fail,
        .mqtt_event_errors = ms.errors,
        .mqtt_event_connect = ms.connects,
        .mqtt_send_pass = ms.send_pass,
        .mqtt_send_fail = ms.send_fail,
        .heap_free = heap.free_bytes,
        .heap_min_free = heap.min_free_bytes,
        .heap_largest_free = heap.largest_free_block,
        .heap_failed_allocs = heap.failed_allocs,
    };
    int n = mqtt_device_counters_build(&c, app->payload, sizeof app->payload);
    int t = mqtt_topic_build(app->set->mqtt_site, id.serial, "device_counters", app->topic,
                             sizeof app->topic);
    if (n > 0 && t > 0) {
        hal_mqtt_publish(app->topic, app->payload, (size_t)n);
    }
}

static void mqtt_poll(struct sc_app *app, uint64_t now)
{
    const struct sc_settings *s = app->set;
    if (s->mqtt_enabled && !app->mqtt_started && app->status.has_ip) {
        struct hal_sys_identity id;
        hal_sys_get_identity(&id);
        struct hal_mqtt_cfg cfg = {
            .url = s->mqtt_url,
            .client_id = id.serial,
            .username = s->mqtt_user,
            .password = s->mqtt_password,
            .ca_file = s->mqtt_ca_file[0] ? s->mqtt_ca_file : 0,
            .cert_file = s->mqtt_cert_file[0] ? s->mqtt_cert_file : 0,
            .key_file = s->mqtt_key_file[0] ? s->mqtt_key_file : 0,
        };
        app->mqtt_started = hal_mqtt_start(&cfg) == ML_OK;
    }
    enum hal_mqtt_state st = app->mqtt_started ? hal_mqtt_get_state() : HAL_MQTT_DISABLED;
    if (st == HAL_MQTT_CONNECTED && app->mqtt_state_prev != HAL_MQTT_CONNECTED) {
        /* once after every connect, then every 60 s (products.md Decision) */
        publish_counters(app, now);
        ml_timer_start(&app->counters_timer, now, SC_COUNTERS_PERIOD_MS, SC_COUNTERS_PERIOD_MS);
    }
    if (st == HAL_MQTT_CONNECTED && ml_timer_is_due(&app->counters_timer, now)) {
        publish_counters(app, now);
    }
    if (st != HAL_MQTT_CONNECTED) {
        ml_timer_stop(&app->counters_timer);
    }
    app->mqtt_state_prev = (int)st;
    app->status.mqtt = st;
}

/* ------------------------------------------------------------------------- */
/* Button and LED                                                            */
/* ------------------------------------------------------------------------- */

static void button_poll(struct sc_app *app, uint64_t now)
{
    enum ui_button_event e =
        ui_button_update(&app->button, hal_button_is_pressed(), now, app->set->factory_default);
    switch (e) {
    case UI_BTN_AP_FEEDBACK:
        app->button_ap_fb = true;
        break;
    case UI_BTN_FACTORY_FEEDBACK:
        app->button_factory_fb = true;
        break;
    case UI_BTN_SOFT_RESET:
        hal_sys_reboot(); /* soft reset, reconnects to the network on the way up */
        break;
    case UI_BTN_AP_MODE:
        net_policy_request_ap(&app->net);
        break;
    case UI_BTN_FACTORY_RESET:
        if (app->cfg_ops_ok) {
            cfg_store_erase_all(&app->cfg_ops); /* back to factory defaults */
        }
        if (app->set->factory_reset != 0) {
            app->set->factory_reset(app->set->factory_reset_ctx);
        }
        hal_sys_reboot();
        break;
    case UI_BTN_NO_ACTION:
    case UI_BTN_PRESSED:
    case UI_BTN_NONE:
        break;
    }
    if (e == UI_BTN_NO_ACTION || e == UI_BTN_AP_MODE) {
        app->button_ap_fb = false;
        app->button_factory_fb = false;
    }
}

static void led_poll(struct sc_app *app, uint64_t now)
{
    struct ui_status st;
    st.booting = false;
    st.meter_data = app->status.last_telegram_ms != 0 &&
                    now - app->status.last_telegram_ms < SC_METER_TIMEOUT_MS &&
                    !app->status.tic_historic;
    st.has_ip = app->status.has_ip;
    st.ap_mode = net_policy_is_ap_on(&app->net);
    /* initialising: the first DHCP round is still running and no telegram came yet */
    st.initialising = !st.has_ip && !st.meter_data && app->status.last_telegram_ms == 0 &&
                      (app->net.state == NET_ST_DHCP || app->net.state == NET_ST_DHCP_WAIT ||
                       app->net.state == NET_ST_IF_DOWN) &&
                      app->net.counters.dhcp_failures < NET_DHCP_TRIES;
    enum ui_led_state ls = ui_led_state_from_status(&st);
    if (app->button_factory_fb) {
        ls = UI_LED_BUTTON_FACTORY;
    } else if (app->button_ap_fb) {
        ls = UI_LED_BUTTON_AP;
    }
    app->status.led = ls;
    app->status.meter_data = st.meter_data;
    ui_led_show(&app->led, ui_led_pattern(ls), now);
    hal_led_set(HAL_LED_STATUS, ui_led_colour(&app->led, now));
}

/* ------------------------------------------------------------------------- */
/* Setup and loop                                                            */
/* ------------------------------------------------------------------------- */

/* Host name smart-connect-<serial> (products.md §1), lower case, other
 * characters of the serial dropped so it stays a valid DNS label. */
static void set_hostname(struct sc_app *app)
{
    static const char prefix[] = "smart-connect-";
    struct hal_sys_identity id;
    char *h = app->status.hostname;
    size_t n = 0;
    hal_sys_get_identity(&id);
    for (; prefix[n] != '\0'; n++) {
        h[n] = prefix[n];
    }
    for (size_t i = 0; id.serial[i] != '\0' && n + 1 < sizeof app->status.hostname && n < 63; i++) {
        char c = id.serial[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
            h[n++] = c;
        }
    }
    h[n] = '\0';
    (void)hal_net_set_hostname(h); /* ML_ENOSYS on ports without a network yet */
    /* products.md: smart-connect.local (renamed -2, -3 ... beside other devices)
     * and smart-connect-<serial>.local on mDNS; DHCP host name smart-connect */
    (void)hal_net_set_mdns("smart-connect", h);
}

static void setup(struct sc_app *app, const struct sc_settings *set)
{
    ml_mem_zero(app, sizeof *app);
    app->boot_ms = hal_time_ms();
    config_load(app, set); /* app->set = the effective settings from here on */
    set = app->set;
    hal_led_set(HAL_LED_STATUS, UI_RGB_RED); /* booting */
    set_hostname(app);

    struct hal_uart_cfg ucfg;
    if (set->flavour == SC_FLAVOUR_TIC) {
        ucfg = (struct hal_uart_cfg){9600, 7, HAL_UART_PARITY_EVEN, 1, false};
        meter_in_init_tic(&app->meter, &app->parser.tic, &app->scratch);
    } else {
        ucfg = (struct hal_uart_cfg){115200, 8, HAL_UART_PARITY_NONE, 1, true};
        meter_in_init_p1(&app->meter, &app->parser.dsmr, &app->scratch);
    }
    hal_uart_open(HAL_UART_P1_IN, &ucfg);
    hal_uart_open(HAL_UART_P1_OUT, &ucfg);
    hal_gpio_data_request_set(true);

    const char *mt = set->meter_type[0] ? set->meter_type : "PhoenixContact-EMPro";
    const struct regmap_template *tpl = regmap_template_find(mt, ml_str_len(mt));
    if (tpl == 0) {
        tpl = regmap_template_find("PhoenixContact-EMPro", 20);
    }
    regmap_live_init(&app->regs, tpl);
    reading_init(&app->reading);
    /* FC03 and FC04 return the same data for every template (manual 002 §5.3) */
    mb_slave_init(&app->mb, regmap_mb_read_same, 0, &app->regs);
    mb_tcp_init(&app->mb_tcp, &app->mb);
    app->client = -1;
    app->listener = hal_tcp_listen(set->modbus_port);
    app->status.modbus_port = app->listener >= 0 ? hal_tcp_local_port(app->listener) : 0;

    net_policy_init(&app->net, &set->net, app->boot_ms);
    ui_button_init(&app->button, app->boot_ms);
    ui_led_init(&app->led, ui_led_pattern(UI_LED_BOOTING), app->boot_ms);
    app->mqtt_state_prev = HAL_MQTT_DISABLED;
    sc_fw_boot(app, app->boot_ms);
    sc_cmd_boot(app);
    sc_http_setup(app);
}

static uint64_t next_deadline(struct sc_app *app, uint64_t now)
{
    uint64_t d = ui_led_next_deadline_ms(&app->led, now);
    d = min_u64(d, ui_button_next_deadline_ms(&app->button));
    d = min_u64(d, net_policy_next_deadline_ms(&app->net));
    d = ml_timer_earliest(&app->counters_timer, d);
    if (app->status.last_telegram_ms != 0) {
        /* wake when meter data goes stale, to switch the LED */
        uint64_t stale = app->status.last_telegram_ms + SC_METER_TIMEOUT_MS;
        if (stale > now) {
            d = min_u64(d, stale);
        }
    }
    if (app->mqtt_started && app->status.mqtt != HAL_MQTT_CONNECTED) {
        d = min_u64(d, now + 1000u); /* watch the connection come up */
    }
    d = min_u64(d, sc_http_next_deadline(app, now));
    d = min_u64(d, mb_next_deadline(app, now));
    d = min_u64(d, sc_fw_next_deadline(app));
    d = min_u64(d, sc_cmd_next_deadline(app));
    return d;
}

void sc_app_run(struct sc_app *app, const struct sc_settings *set)
{
    setup(app, set);
    while (!hal_sys_should_stop()) {
        uint64_t now = hal_time_ms();
        hal_sys_watchdog_kick();
        regmap_live_set_now(&app->regs, now); /* data age in the Xemex map */
        meter_poll(app, now);
        meter_loss_poll(app, now);
        modbus_poll(app, now);
        net_poll(app, now);
        mqtt_poll(app, now);
        button_poll(app, now);
        sc_http_poll(app, now);
        sc_fw_poll(app, now);
        sc_cmd_poll(app, now); /* after sc_fw_poll: a confirmed trial's result goes out */
        led_poll(app, now);
        /* wake to kick the watchdog even when nothing is due (a silent meter) */
        hal_time_wait_until(min_u64(next_deadline(app, now), now + ML_WATCHDOG_KICK_MS));
    }
    client_drop(app);
    sc_cmd_shutdown(app);
    sc_http_shutdown(app);
    if (app->listener >= 0) {
        hal_tcp_close(app->listener);
    }
    if (app->mqtt_started) {
        hal_mqtt_stop();
    }
}

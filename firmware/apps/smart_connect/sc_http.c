/*
 * The Smart Connect HTTP API (/api/v1/...) and web page, on core/http.
 *
 * Session: one TCP connection is served at a time. Further connections are
 * accepted and held (up to SC_HTTP_WAIT_MAX, more get 503 at once); the served
 * connection yields to the next held one when it is idle between requests and
 * has completed at least one request, or has been idle SC_HTTP_PREEMPT_MS
 * without sending one. Requests are therefore strictly serialised: a PATCH
 * never interleaves with another client's request.
 */
#include "err.h"
#include "mqtt/mqtt_policy.h"
#include "sc_fw.h"
#include "sc_http.h"
#include "sc_web.h"
#include "str.h"
#include "text.h"

static const char busy_503[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    "Content-Length: 40\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    "{\"error\":\"busy: one session at a time\"}\n";

/* ------------------------------------------------------------------------- */
/* Handlers                                                                  */
/* ------------------------------------------------------------------------- */

static void bool_field(struct ml_text *w, const char *key, bool v, bool comma)
{
    if (comma) {
        ml_text_put(w, ",");
    }
    ml_text_json_str(w, key, ml_str_len(key));
    ml_text_put(w, v ? ":true" : ":false");
}

static void num_field(struct ml_text *w, const char *key, uint64_t v)
{
    ml_text_put(w, ",");
    ml_text_json_str(w, key, ml_str_len(key));
    ml_text_put(w, ":");
    ml_text_u64(w, v);
}

static void str_field(struct ml_text *w, const char *key, const char *v, bool comma)
{
    if (comma) {
        ml_text_put(w, ",");
    }
    ml_text_json_str(w, key, ml_str_len(key));
    ml_text_put(w, ":");
    ml_text_json_str(w, v, ml_str_len(v));
}

static void finish(struct http_response *rs, struct ml_text *w)
{
    if (w->overflow) {
        http_response_error(rs, 500, "response too large", 0);
        return;
    }
    rs->body = (const uint8_t *)rs->buf;
    rs->body_len = w->len;
}

static void h_status(void *ctx, const struct http_request *rq, struct http_response *rs)
{
    (void)rq;
    struct sc_app *app = ctx;
    uint64_t now = hal_time_ms();
    struct hal_sys_identity id;
    hal_sys_get_identity(&id);
    struct ml_text w;
    ml_text_init(&w, rs->buf, sizeof rs->buf);

    ml_text_put(&w, "{\"Device\":{");
    str_field(&w, "Serial", id.serial, false);
    str_field(&w, "Firmware", app->fw.version, true);
    num_field(&w, "UptimeS", (now - app->boot_ms) / 1000u);
    str_field(&w, "Led", ui_led_state_name(app->status.led), true);

    ml_text_put(&w, "},\"Meter\":{");
    const struct reading *r = &app->reading;
    bool tic = app->set->flavour == SC_FLAVOUR_TIC;
    str_field(&w, "Protocol", tic ? "TIC" : (r->emucs ? "e-MUCS" : "DSMR"), false);
    ml_text_put(&w, ",\"Version\":");
    if (app->status.last_telegram_ms != 0u && !tic) {
        ml_text_u64(&w, r->version);
    } else {
        ml_text_put(&w, "null");
    }
    bool_field(&w, "Data", app->status.meter_data, true);
    ml_text_put(&w, ",\"LastTelegramAgeS\":");
    if (app->status.last_telegram_ms != 0u) {
        ml_text_u64(&w, (now - app->status.last_telegram_ms) / 1000u);
    } else {
        ml_text_put(&w, "null");
    }
    num_field(&w, "TelegramsPass", app->counters.telegrams_pass);
    num_field(&w, "TelegramsFail", app->counters.telegrams_fail);
    num_field(&w, "TelegramsFrameFail", app->counters.telegrams_frame_fail);
    ml_text_put(&w, ",\"Error\":");
    if (app->status.tic_historic) {
        ml_text_put(&w, "\"historic mode not supported\"");
    } else {
        ml_text_put(&w, "null");
    }

    ml_text_put(&w, "},\"Network\":{");
    bool wifi = app->set->net.iface == NET_IF_WIFI;
    str_field(&w, "ActiveInterface", wifi ? "WiFi" : "Ethernet", false);
    str_field(&w, "Hostname", app->status.hostname, true);
    bool_field(&w, "Link", hal_net_link_is_up(wifi ? HAL_NET_WIFI : HAL_NET_ETH), true);
    str_field(&w, "State", net_state_name(app->net.state), true);
    struct net_ipv4 a = net_policy_address(&app->net);
    char ip[16];
    ip[0] = '\0';
    if (a.ip != 0u) {
        cfg_ipv4_format(a.ip, ip);
    }
    str_field(&w, "IpAddress", ip, true);
    bool_field(&w, "LinkLocal", app->net.state == NET_ST_LINK_LOCAL, true);
    bool_field(&w, "Network", app->status.gw_reachable, true);
    bool_field(&w, "Internet", app->status.internet_reachable, true);
    bool_field(&w, "AccessPoint", net_policy_is_ap_on(&app->net), true);
    num_field(&w, "DhcpFailures", app->net.counters.dhcp_failures);
    num_field(&w, "GwPingPass", app->net.counters.gw_ping_pass);
    num_field(&w, "GwPingFail", app->net.counters.gw_ping_fail);
    num_field(&w, "InternetPingPass", app->net.counters.internet_ping_pass);
    num_field(&w, "InternetPingFail", app->net.counters.internet_ping_fail);

    ml_text_put(&w, "},\"MQTT\":{");
    bool_field(&w, "Enabled", app->set->mqtt_enabled, false);
    str_field(&w, "State", mqtt_state_name((int)app->status.mqtt), true);
    struct mqtt_broker broker; /* TLS or not: core/mqtt's rule on the effective URL */
    bool tls = mqtt_broker_url_parse(app->set->mqtt_url, ml_str_len(app->set->mqtt_url), &broker) ==
                   ML_OK &&
               broker.tls;
    bool_field(&w, "Encrypted", tls, true);
    num_field(&w, "PublishPass", app->counters.mqtt_publish_pass);
    num_field(&w, "PublishFail", app->counters.mqtt_publish_fail);

    ml_text_put(&w, "},\"Modbus\":{\"Port\":");
    ml_text_u64(&w, app->status.modbus_port);
    str_field(&w, "MeterType", app->set->meter_type, true);
    num_field(&w, "Requests", app->counters.modbus_requests);

    ml_text_put(&w, "},\"Config\":{");
    bool_field(&w, "Saved", app->status.config_saved, false);
    bool_field(&w, "RebootRequired", app->status.reboot_required, true);
    ml_text_put(&w, "}}\n");
    finish(rs, &w);
}

static void h_config(void *ctx, const struct http_request *rq, struct http_response *rs)
{
    struct sc_app *app = ctx;
    if (rq->method == HTTP_PATCH) {
        struct cfg next = app->cfg;
        struct cfg_error err;
        int e = cfg_json_patch(&next, (const char *)rq->body, rq->body_len, sc_meter_type_is_known,
                               &err);
        if (e == ML_EMSGSIZE) {
            http_response_error(rs, 413, err.reason, err.field);
            return;
        }
        if (e < 0) {
            http_response_error(rs, 400, err.reason, err.field);
            return;
        }
        uint8_t blob[CFG_BLOB_MAX];
        int n = cfg_encode(&next, blob, sizeof blob);
        if (n < 0 || !app->cfg_ops_ok || cfg_store_save(&app->cfg_ops, blob, (size_t)n) < 0) {
            http_response_error(rs, 500, "configuration could not be saved", 0);
            return; /* the old configuration stays (power-safe store) */
        }
        app->cfg = next;
        app->status.config_saved = true;
        app->status.reboot_required = true;
    }
    int n = cfg_json_render(&app->cfg, rs->buf, sizeof rs->buf);
    if (n < 0) {
        http_response_error(rs, 500, "response too large", 0);
        return;
    }
    rs->body_len = (size_t)n;
}

static void h_reset(void *ctx, const struct http_request *rq, struct http_response *rs)
{
    (void)rq;
    struct sc_app *app = ctx;
    static const char body[] = "{\"Reset\":true}\n";
    rs->status = 202;
    rs->body = (const uint8_t *)body;
    rs->body_len = sizeof body - 1u;
    rs->close = true;
    app->reboot_pending = true; /* after the answer is out */
}

static void h_telegram(void *ctx, const struct http_request *rq, struct http_response *rs)
{
    (void)rq;
    struct sc_app *app = ctx;
    if (app->telegram_len == 0u) {
        http_response_error(rs, 404, "no telegram received yet", 0);
        return;
    }
    rs->content_type = "text/plain; charset=us-ascii";
    rs->body = app->telegram;
    rs->body_len = app->telegram_len;
}

static int s_firmware(void *ctx, const struct http_request *rq, const uint8_t *chunk, size_t len,
                      struct http_response *rs)
{
    struct sc_app *app = ctx;
    int e = sc_fw_upload(app, rq->content_length, chunk, len);
    if (e < 0) {
        uint16_t st = e == ML_EBUSY ? 409 : e == ML_EIO ? 500 : 400;
        http_response_error(rs, st, app->fw.up_error != 0 ? app->fw.up_error : "rejected", "image");
    }
    return e;
}

static void h_firmware(void *ctx, const struct http_request *rq, struct http_response *rs)
{
    struct sc_app *app = ctx;
    struct ml_text w;
    if (rq->method == HTTP_POST) {
        rs->status = 202; /* accepted: installs on the next reboot (POST /api/v1/reset) */
    }
    ml_text_init(&w, rs->buf, sizeof rs->buf);
    sc_fw_render(app, &w);
    finish(rs, &w);
}

static void h_page(void *ctx, const struct http_request *rq, struct http_response *rs)
{
    (void)ctx;
    (void)rq;
    rs->content_type = "text/html; charset=utf-8";
    rs->extra_header = "Content-Security-Policy: default-src 'self'; style-src 'unsafe-inline'; "
                       "script-src 'unsafe-inline'\r\n";
    rs->body = (const uint8_t *)sc_web_page;
    rs->body_len = sc_web_page_len;
}

static const struct http_route routes[] = {
    {"/", HTTP_M(HTTP_GET), h_page, 0, 0},
    {"/index.html", HTTP_M(HTTP_GET), h_page, 0, 0},
    {"/config", HTTP_M(HTTP_GET), h_page, 0, 0}, /* manual 002 §7 points users here */
    {"/api/v1/config", HTTP_M(HTTP_GET) | HTTP_M(HTTP_PATCH), h_config, 0, CFG_JSON_MAX_INPUT},
    {"/api/v1/status", HTTP_M(HTTP_GET), h_status, 0, 0},
    {"/api/v1/reset", HTTP_M(HTTP_POST), h_reset, 0, 0},
    {"/api/v1/telegram", HTTP_M(HTTP_GET), h_telegram, 0, 0},
    {"/api/v1/firmware", HTTP_M(HTTP_GET) | HTTP_M(HTTP_POST), h_firmware, s_firmware, 0x7FFFFFFFu},
};

/* ------------------------------------------------------------------------- */
/* Connections                                                               */
/* ------------------------------------------------------------------------- */

void sc_http_setup(struct sc_app *app)
{
    struct hal_sys_identity id;
    hal_sys_get_identity(&id);
    ml_str_copy(app->http_password, sizeof app->http_password, id.label_password);
    app->http_cfg.routes = routes;
    app->http_cfg.n_routes = ML_ARRAY_SIZE(routes);
    app->http_cfg.realm = "Smart Connect";
    app->http_cfg.user = "user";
    app->http_cfg.password = app->http_password;
    app->http_cfg.ctx = app;
    http_auth_init(&app->http_auth);
    http_server_init(&app->http, &app->http_cfg, &app->http_auth);
    app->http_conn = -1;
    app->http_nwait = 0;
    app->http_listener = hal_tcp_listen(app->set->http_port);
    app->status.http_port =
        app->http_listener >= 0 ? hal_tcp_local_port(app->http_listener) : (uint16_t)0;
}

static void conn_start(struct sc_app *app, int c, uint64_t now)
{
    app->http_conn = c;
    app->http_rx_len = 0;
    app->http_rx_off = 0;
    app->http_idle_since_ms = now;
    app->http_req_at_accept = app->http.stats.requests;
    http_server_reset(&app->http);
}

static void conn_drop(struct sc_app *app, uint64_t now)
{
    if (app->http_conn >= 0) {
        hal_tcp_close(app->http_conn);
        app->http_conn = -1;
    }
    sc_fw_upload_abort(app);
    http_server_reset(&app->http);
    if (app->http_nwait > 0u) {
        int next = app->http_wait[0];
        for (uint8_t i = 1; i < app->http_nwait; i++) {
            app->http_wait[i - 1u] = app->http_wait[i];
        }
        app->http_nwait--;
        conn_start(app, next, now);
    }
}

/* Send what the server has; @return false when the connection broke. */
static bool flush(struct sc_app *app)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        const uint8_t *p;
        size_t k = http_server_output(&app->http, &p);
        if (k == 0u) {
            return true;
        }
        int n = hal_tcp_send(app->http_conn, p, k);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            return true; /* socket full: the loop comes back (see next_deadline) */
        }
        http_server_sent(&app->http, (size_t)n);
    }
    return true;
}

void sc_http_poll(struct sc_app *app, uint64_t now)
{
    if (app->http_listener < 0) {
        return;
    }
    for (int c; (c = hal_tcp_accept(app->http_listener)) >= 0;) {
        if (app->http_conn < 0) {
            conn_start(app, c, now);
        } else if (app->http_nwait < SC_HTTP_WAIT_MAX) {
            app->http_wait[app->http_nwait++] = c;
        } else {
            hal_tcp_send(c, (const uint8_t *)busy_503, sizeof busy_503 - 1u);
            hal_tcp_close(c);
        }
    }
    for (int rounds = 0; rounds < 64 && app->http_conn >= 0; rounds++) {
        if (!flush(app)) {
            conn_drop(app, now);
            continue;
        }
        const uint8_t *p;
        bool sending = http_server_output(&app->http, &p) > 0u;
        if (!sending && app->reboot_pending) {
            app->reboot_pending = false;
            hal_sys_reboot(); /* the answer is out: soft reset */
            return;
        }
        if (!sending && http_server_wants_close(&app->http)) {
            conn_drop(app, now);
            continue;
        }
        if (sending) {
            break;
        }
        if (app->http_rx_off == app->http_rx_len) {
            int n = hal_tcp_recv(app->http_conn, app->http_rx, sizeof app->http_rx);
            if (n == ML_EAGAIN) {
                break;
            }
            if (n <= 0) {
                conn_drop(app, now);
                continue;
            }
            app->http_rx_len = (size_t)n;
            app->http_rx_off = 0;
        }
        size_t used = 0;
        http_server_input(&app->http, now, app->http_rx + app->http_rx_off,
                          app->http_rx_len - app->http_rx_off, &used);
        app->http_rx_off += used;
        app->http_idle_since_ms = now;
    }
    /* one session at a time: an idle connection yields to a waiting one */
    if (app->http_conn >= 0 && app->http_nwait > 0u && http_server_is_idle(&app->http) &&
        app->http_rx_off == app->http_rx_len) {
        bool served = app->http.stats.requests != app->http_req_at_accept;
        if (served || now - app->http_idle_since_ms >= SC_HTTP_PREEMPT_MS) {
            conn_drop(app, now);
            sc_http_poll(app, now); /* serve the promoted one now (depth 1: nwait shrank) */
        }
    }
}

uint64_t sc_http_next_deadline(const struct sc_app *app, uint64_t now)
{
    const uint8_t *p;
    if (app->http_conn >= 0 && http_server_output(&app->http, &p) > 0u) {
        return now + 1u; /* output waits for socket space */
    }
    if (app->http_conn >= 0 && app->http_nwait > 0u) {
        return app->http_idle_since_ms + SC_HTTP_PREEMPT_MS;
    }
    return UINT64_MAX;
}

void sc_http_shutdown(struct sc_app *app)
{
    if (app->http_conn >= 0) {
        hal_tcp_close(app->http_conn);
        app->http_conn = -1;
    }
    for (uint8_t i = 0; i < app->http_nwait; i++) {
        hal_tcp_close(app->http_wait[i]);
    }
    app->http_nwait = 0;
    if (app->http_listener >= 0) {
        hal_tcp_close(app->http_listener);
        app->http_listener = -1;
    }
}

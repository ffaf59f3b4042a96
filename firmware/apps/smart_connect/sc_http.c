/*
 * The Smart Connect HTTP API (/api/v1/...) and web page, on core/http.
 *
 * Connections (docs/security.md): ML_HTTP_CONNS are served at once, each with
 * core/http's deadlines (request within 5 s of its first byte, else 408; idle
 * 30 s: closed). Requests past their head take turns on the one work area, so
 * a PATCH never interleaves with another request. When every slot is taken, a
 * newcomer replaces a connection that is between requests or still sending its
 * head: one of the client address holding the most slots, one that never
 * completed a request first, the oldest first; when none can go, the newcomer
 * gets 503.
 *
 * Session: one logged-in user (client address) at a time; another address
 * that logs in within SC_HTTP_SESSION_MS of the session's last request gets
 * 409. The login back-off counts per client address (core/http).
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
    "Content-Length: 36\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    "{\"error\":\"busy: too many requests\"}\n";

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
    str_field(&w, "ResetCause", hal_sys_reset_cause_name(hal_sys_get_reset_cause()), true);
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
    app->http_reboot_conn = app->http_cur;
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
    if (app->cmd.dl_active) {
        http_response_error(rs, 409, "an MQTT firmware command is downloading an image", "image");
        return ML_EBUSY;
    }
    app->http_fw_conn = app->http_cur; /* a dropped connection aborts only its own upload */
    int e = sc_fw_upload(app, rq->content_length, chunk, len);
    if (e < 0 || len == 0u) {
        app->http_fw_conn = -1;
    }
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
    /* frame-ancestors: no other site shows the page in a frame (clickjacking) */
    rs->extra_header = "Content-Security-Policy: default-src 'self'; style-src 'unsafe-inline'; "
                       "script-src 'unsafe-inline'; frame-ancestors 'none'\r\n";
    rs->body = (const uint8_t *)sc_web_page;
    rs->body_len = sc_web_page_len;
}

static const struct http_route routes[] = {
    {"/", HTTP_M(HTTP_GET), h_page, 0, 0, 0},
    {"/index.html", HTTP_M(HTTP_GET), h_page, 0, 0, 0},
    {"/config", HTTP_M(HTTP_GET), h_page, 0, 0, 0}, /* manual 002 §7 points users here */
    {"/api/v1/config", HTTP_M(HTTP_GET) | HTTP_M(HTTP_PATCH), h_config, 0, CFG_JSON_MAX_INPUT, 0},
    {"/api/v1/status", HTTP_M(HTTP_GET), h_status, 0, 0, 0},
    {"/api/v1/reset", HTTP_M(HTTP_POST), h_reset, 0, 0, 0},
    {"/api/v1/telegram", HTTP_M(HTTP_GET), h_telegram, 0, 0, 0},
    {"/api/v1/firmware", HTTP_M(HTTP_GET) | HTTP_M(HTTP_POST), h_firmware, s_firmware, 0x7FFFFFFFu,
     "application/octet-stream"},
};

/* ------------------------------------------------------------------------- */
/* Connections                                                               */
/* ------------------------------------------------------------------------- */

/* One logged-in user at a time (core/http calls this after a good login). */
static uint16_t admit(void *ctx, uint32_t peer, uint64_t now, const char **msg)
{
    struct sc_app *app = ctx;
    if (app->http_session && app->http_session_peer != peer &&
        now - app->http_session_last_ms < SC_HTTP_SESSION_MS) {
        *msg = "another user is logged in, try again later";
        return 409;
    }
    app->http_session = true;
    app->http_session_peer = peer;
    app->http_session_last_ms = now;
    return 0;
}

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
    app->http_cfg.admit = admit;
    http_auth_init(&app->http_auth);
    http_work_init(&app->http_work);
    for (size_t i = 0; i < ML_HTTP_CONNS; i++) {
        app->http_conns[i].handle = -1;
        http_server_init(&app->http_conns[i].srv, &app->http_cfg, &app->http_auth, &app->http_work);
    }
    app->http_cur = -1;
    app->http_fw_conn = -1;
    app->http_reboot_conn = -1;
    app->http_listener = hal_tcp_listen(app->set->http_port);
    app->status.http_port =
        app->http_listener >= 0 ? hal_tcp_local_port(app->http_listener) : (uint16_t)0;
}

static void conn_drop(struct sc_app *app, int i, uint64_t now)
{
    struct sc_http_conn *c = &app->http_conns[i];
    if (c->handle >= 0) {
        hal_tcp_close(c->handle);
        c->handle = -1;
    }
    if (app->http_fw_conn == i) {
        sc_fw_upload_abort(app);
        app->http_fw_conn = -1;
    }
    if (app->http_reboot_conn == i) {
        app->http_reboot_conn = -1;
    }
    http_server_reset(&c->srv, now);
}

static void conn_start(struct sc_app *app, int i, int h, uint64_t now)
{
    struct sc_http_conn *c = &app->http_conns[i];
    c->handle = h;
    c->peer = hal_tcp_peer_ipv4(h);
    c->since_ms = now;
    c->rx_len = 0;
    c->rx_off = 0;
    http_server_reset(&c->srv, now);
    http_server_set_peer(&c->srv, c->peer);
}

/* The slot a newcomer takes when all are in use, or -1 (see the file comment). */
static int pick_victim(const struct sc_app *app)
{
    int best = -1;
    unsigned best_n = 0;
    for (int i = 0; i < (int)ML_HTTP_CONNS; i++) {
        const struct sc_http_conn *c = &app->http_conns[i];
        bool between = http_server_is_idle(&c->srv) || http_server_is_fresh(&c->srv);
        if (!between) {
            continue; /* in a request past its head, or sending: keeps its slot */
        }
        unsigned n = 0;
        for (int k = 0; k < (int)ML_HTTP_CONNS; k++) {
            n += app->http_conns[k].peer == c->peer ? 1u : 0u;
        }
        if (best < 0) {
            best = i;
            best_n = n;
            continue;
        }
        const struct sc_http_conn *b = &app->http_conns[best];
        bool fresh = c->srv.answered == 0u;
        bool b_fresh = b->srv.answered == 0u;
        if (n > best_n || (n == best_n && fresh && !b_fresh) ||
            (n == best_n && fresh == b_fresh && c->since_ms < b->since_ms)) {
            best = i;
            best_n = n;
        }
    }
    return best;
}

static void accept_new(struct sc_app *app, uint64_t now)
{
    for (int h; (h = hal_tcp_accept(app->http_listener)) >= 0;) {
        int slot = -1;
        for (int i = 0; i < (int)ML_HTTP_CONNS; i++) {
            if (app->http_conns[i].handle < 0) {
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            slot = pick_victim(app);
            if (slot >= 0) {
                conn_drop(app, slot, now);
                app->http_evicted++;
            }
        }
        if (slot < 0) {
            hal_tcp_send(h, (const uint8_t *)busy_503, sizeof busy_503 - 1u);
            hal_tcp_close(h);
            continue;
        }
        conn_start(app, slot, h, now);
    }
}

/* Send what the server has; @return false when the connection broke. */
static bool flush(struct sc_http_conn *c)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        const uint8_t *p;
        size_t k = http_server_output(&c->srv, &p);
        if (k == 0u) {
            return true;
        }
        int n = hal_tcp_send(c->handle, p, k);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            return true; /* socket full: the loop comes back (see next_deadline) */
        }
        http_server_sent(&c->srv, (size_t)n);
    }
    return true;
}

/* Serve connection @p i: deadlines, output, input. @return false after a reboot. */
static bool conn_serve(struct sc_app *app, int i, uint64_t now)
{
    struct sc_http_conn *c = &app->http_conns[i];
    app->http_cur = i;
    http_server_poll(&c->srv, now);
    for (int rounds = 0; rounds < 64 && c->handle >= 0; rounds++) {
        if (!flush(c)) {
            conn_drop(app, i, now);
            break;
        }
        const uint8_t *p;
        if (http_server_output(&c->srv, &p) > 0u) {
            break; /* the rest goes when the socket takes it */
        }
        if (app->reboot_pending && app->http_reboot_conn == i) {
            app->reboot_pending = false;
            hal_sys_reboot(); /* the answer is out: soft reset */
            return false;
        }
        if (http_server_wants_close(&c->srv)) {
            conn_drop(app, i, now);
            break;
        }
        if (c->rx_off == c->rx_len) {
            int n = hal_tcp_recv(c->handle, c->rx, sizeof c->rx);
            if (n == ML_EAGAIN) {
                break;
            }
            if (n <= 0) {
                conn_drop(app, i, now);
                break;
            }
            c->rx_len = (uint16_t)n;
            c->rx_off = 0;
        }
        size_t used = 0;
        http_server_input(&c->srv, now, c->rx + c->rx_off, (size_t)(c->rx_len - c->rx_off), &used);
        c->rx_off = (uint16_t)(c->rx_off + used);
        if (used == 0u && http_server_output(&c->srv, &p) == 0u) {
            break; /* waits for the work area */
        }
    }
    app->http_cur = -1;
    return true;
}

void sc_http_poll(struct sc_app *app, uint64_t now)
{
    if (app->http_listener < 0) {
        return;
    }
    accept_new(app, now);
    for (int i = 0; i < (int)ML_HTTP_CONNS; i++) {
        if (app->http_conns[i].handle >= 0 && !conn_serve(app, i, now)) {
            return;
        }
    }
    /* a connection that waited for the work area may go now that another gave it back */
    for (int i = 0; i < (int)ML_HTTP_CONNS; i++) {
        if (app->http_conns[i].handle >= 0 && app->http_work.owner == 0 &&
            http_server_next_deadline(&app->http_conns[i].srv) <= now && !conn_serve(app, i, now)) {
            return;
        }
    }
}

uint64_t sc_http_next_deadline(const struct sc_app *app, uint64_t now)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < ML_HTTP_CONNS; i++) {
        const struct sc_http_conn *c = &app->http_conns[i];
        if (c->handle < 0) {
            continue;
        }
        const uint8_t *p;
        if (http_server_output(&c->srv, &p) > 0u) {
            return now + 1u; /* output waits for socket space */
        }
        uint64_t t = http_server_next_deadline(&c->srv);
        d = t < d ? t : d;
    }
    return d;
}

void sc_http_shutdown(struct sc_app *app)
{
    for (int i = 0; i < (int)ML_HTTP_CONNS; i++) {
        if (app->http_conns[i].handle >= 0) {
            conn_drop(app, i, 0);
        }
    }
    if (app->http_listener >= 0) {
        hal_tcp_close(app->http_listener);
        app->http_listener = -1;
    }
}

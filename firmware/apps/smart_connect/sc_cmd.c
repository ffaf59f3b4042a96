/*
 * MQTT remote commands (docs/mqtt.md "Remote commands", decisions.md).
 *
 *   in:  <base>/cmd/<name>         {"id":"r1", ...}    base = devices/<site>/smart-connect/<serial>
 *   out: <base>/cmd/<name>/result  {"id":"r1","state":"...","version":"...","reason":"..."}
 *
 * The device subscribes to <base>/cmd/+ after every connect. Over a plain TCP
 * session every command is answered "refused" and does nothing.
 *
 * reset:    "rebooting", reboot; after the boot and the next connect "ok" with the version.
 * firmware: {"url":"http://<IPv4>[:port]/path", "version"?, "sha256"?}: "accepted",
 *           "downloading" (HTTP/1.0 GET through hal_tcp_connect(), the body streamed
 *           in chunks into sc_fw_upload(): the same header/signature/SHA-256 checks
 *           and free-slot rule as POST /api/v1/firmware), "verifying", "rebooting";
 *           after the boot, the trial image is confirmed once it has run
 *           SC_FW_CONFIRM_MS and reached the broker (sc_fw_poll): "ok" with the new
 *           version; a reset before that rolls back: "rolled_back" with the old one.
 *           Any failure: "error" with a reason; the running and the pending image
 *           are untouched.
 *
 * The command in flight across the reboot (kind and id) is kept in the boot record
 * (sc_fw_cmd_save) and cleared once its final result is published.
 */
#include "sc_cmd.h"

#include "config/cfg.h"
#include "err.h"
#include "mqtt/mqtt.h"
#include "mqtt/mqtt_policy.h"
#include "sc_fw.h"
#include "str.h"
#include "text.h"

static bool id_is_valid(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return n > 0u && n < SC_CMD_ID_MAX;
}

/* Publish a result on <base>/cmd/<name>/result (dropped when not connected: QoS 0). */
static void result(struct sc_app *app, const char *name, const char *id, const char *state,
                   const char *version, const char *reason)
{
    struct ml_text t;
    ml_text_init(&t, app->topic, sizeof app->topic);
    ml_text_put(&t, app->cmd.base);
    ml_text_put(&t, "/cmd/");
    ml_text_put(&t, name);
    ml_text_put(&t, "/result");
    if (ml_text_end(&t) < 0) {
        return;
    }
    int n = mqtt_cmd_result_build(id, state, version, reason, app->payload, sizeof app->payload);
    if (n > 0) {
        (void)hal_mqtt_publish(app->topic, app->payload, (size_t)n);
    }
}

void sc_cmd_boot(struct sc_app *app)
{
    struct sc_cmd *c = &app->cmd;
    struct hal_sys_identity id;
    hal_sys_get_identity(&id);
    if (mqtt_base_build(app->set->mqtt_site, id.serial, c->base, sizeof c->base) < 0) {
        c->base[0] = '\0';
    }
    struct mqtt_broker b;
    c->tls =
        mqtt_broker_url_parse(app->set->mqtt_url, ml_str_len(app->set->mqtt_url), &b) == ML_OK &&
        b.tls;
    c->dl_conn = -1;
    c->owed = app->fw.cmd_kind != SC_CMD_NONE;
}

/* ------------------------------------------------------------------------- */
/* Firmware download                                                         */
/* ------------------------------------------------------------------------- */

static void dl_fail(struct sc_app *app, const char *why)
{
    struct sc_cmd *c = &app->cmd;
    if (c->dl_conn >= 0) {
        hal_tcp_close(c->dl_conn);
        c->dl_conn = -1;
    }
    sc_fw_upload_abort(app); /* no-op when sc_fw_upload() already ended it */
    c->dl_active = false;
    result(app, "firmware", c->dl_id, "error", 0, why);
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* Split http://<IPv4>[:port][/path] into the download fields. @return NULL or what is wrong. */
static const char *url_parse(struct sc_cmd *c, const char *url, uint32_t *ip, uint16_t *port)
{
    size_t n = ml_str_len(url);
    if (ml_str_starts_n(url, n, "https://")) {
        return "url: only http:// (the image is signed; TLS downloads are not supported)";
    }
    if (!ml_str_starts_n(url, n, "http://")) {
        return "url: must be http://<IPv4 address>[:port]/path";
    }
    const char *h = url + 7;
    size_t hl = 0;
    while (h[hl] != '\0' && h[hl] != '/') {
        hl++;
    }
    size_t al = 0;
    while (al < hl && h[al] != ':') {
        al++;
    }
    if (al == 0u || cfg_ipv4_parse(h, al, ip) < 0) {
        return "url: the host must be an IPv4 address (no DNS)";
    }
    *port = 80;
    if (al < hl) {
        uint32_t p = 0;
        if (hl - al < 2u || hl - al > 6u) {
            return "url: bad port";
        }
        for (size_t i = al + 1u; i < hl; i++) {
            if (h[i] < '0' || h[i] > '9') {
                return "url: bad port";
            }
            p = p * 10u + (uint32_t)(h[i] - '0');
        }
        if (p == 0u || p > 65535u) {
            return "url: bad port";
        }
        *port = (uint16_t)p;
    }
    if (!ml_str_copy_n(c->dl_host, sizeof c->dl_host, h, hl)) {
        return "url: too long";
    }
    const char *path = h[hl] == '/' ? h + hl : "/";
    for (size_t i = 0; path[i] != '\0'; i++) {
        if (path[i] <= 0x20 || path[i] >= 0x7F) {
            return "url: the path must be printable ASCII without spaces";
        }
    }
    if (!ml_str_copy(c->dl_path, sizeof c->dl_path, path)) {
        return "url: too long";
    }
    return 0;
}

static bool send_all(int conn, const char *s, size_t len)
{
    for (int rounds = 0; len > 0u && rounds < 100; rounds++) {
        int n = hal_tcp_send(conn, (const uint8_t *)s, len);
        if (n < 0) {
            return false;
        }
        s += n;
        len -= (size_t)n;
    }
    return len == 0u;
}

static void firmware_start(struct sc_app *app, uint64_t now, const char *id, const char *url,
                           const char *version, const char *sha)
{
    struct sc_cmd *c = &app->cmd;
    ml_str_copy(c->dl_id, sizeof c->dl_id, id);
    if (app->fw.up_active) {
        result(app, "firmware", id, "error", 0, "busy: an image is being uploaded");
        return;
    }
    if (app->fw.trial) {
        result(app, "firmware", id, "error", 0, "a trial image runs: wait until it is confirmed");
        return;
    }
    if (url[0] == '\0') {
        result(app, "firmware", id, "error", 0, "url: required");
        return;
    }
    uint32_t ip = 0;
    uint16_t port = 0;
    const char *why = url_parse(c, url, &ip, &port);
    size_t vl = ml_str_len(version);
    if (why == 0 && vl >= SC_FW_VERSION_MAX) {
        why = "version: at most 15 characters";
    }
    c->dl_has_sha = sha[0] != '\0';
    if (why == 0 && c->dl_has_sha) {
        for (size_t i = 0; i < 64u && why == 0; i++) {
            if (hexval(sha[i]) < 0) {
                why = "sha256: must be 64 hex digits";
            }
        }
        if (why == 0 && sha[64] != '\0') {
            why = "sha256: must be 64 hex digits";
        }
        for (size_t i = 0; i < 32u && why == 0; i++) {
            c->dl_sha[i] = (uint8_t)(hexval(sha[2u * i]) << 4 | hexval(sha[2u * i + 1u]));
        }
    }
    if (why != 0) {
        result(app, "firmware", id, "error", 0, why);
        return;
    }
    ml_str_copy(c->dl_version, sizeof c->dl_version, version);
    result(app, "firmware", id, "accepted", 0, 0);
    c->dl_conn = hal_tcp_connect(ip, port);
    if (c->dl_conn < 0) {
        c->dl_conn = -1;
        result(app, "firmware", id, "error", 0, "download failed: cannot connect to the server");
        return;
    }
    struct ml_text w; /* the request, in the publish buffer (free until the next result) */
    ml_text_init(&w, app->payload, sizeof app->payload);
    ml_text_put(&w, "GET ");
    ml_text_put(&w, c->dl_path);
    ml_text_put(&w, " HTTP/1.0\r\nHost: ");
    ml_text_put(&w, c->dl_host);
    ml_text_put(&w, "\r\nConnection: close\r\n\r\n");
    int n = ml_text_end(&w);
    c->dl_active = true;
    c->dl_line_len = 0;
    c->dl_line_long = false;
    c->dl_lines = 0;
    c->dl_have_len = false;
    c->dl_in_body = false;
    c->dl_hdr_checked = false;
    c->dl_got = 0;
    c->dl_length = 0;
    c->dl_last_ms = now;
    if (n < 0 || !send_all(c->dl_conn, app->payload, (size_t)n)) {
        dl_fail(app, "download failed: cannot send the request");
        return;
    }
    result(app, "firmware", id, "downloading", 0, 0);
}

/* Case-insensitive "name:" at the start of @p line. */
static bool hdr_is(const char *line, size_t len, const char *name)
{
    size_t i = 0;
    for (; name[i] != '\0'; i++) {
        char a = i < len ? line[i] : '\0';
        if (a >= 'A' && a <= 'Z') {
            a = (char)(a - 'A' + 'a');
        }
        if (a != name[i]) {
            return false;
        }
    }
    return i < len && line[i] == ':';
}

/*
 * One line of the response head (without its CR LF; @p n bytes kept, @p cut when
 * it was longer than the line buffer): the status line must be 200, a
 * Content-Length is taken, other lines are skipped. @return NULL or what is wrong.
 */
static const char *head_line(struct sc_cmd *c, const char *s, size_t n, bool cut)
{
    if (c->dl_lines++ == 0u) {
        return n >= 12u && ml_str_starts_n(s, n, "HTTP/1.") && s[8] == ' ' &&
                       ml_str_starts_n(&s[9], 3, "200")
                   ? 0
                   : "download failed: the server did not answer 200";
    }
    if (cut || !hdr_is(s, n, "content-length")) {
        return 0;
    }
    size_t k = 15u;
    while (k < n && s[k] == ' ') {
        k++;
    }
    uint64_t v = 0;
    size_t digits = 0;
    for (; k < n && s[k] >= '0' && s[k] <= '9' && digits < 10u; k++, digits++) {
        v = v * 10u + (uint64_t)(s[k] - '0');
    }
    if (digits == 0u || v > UINT32_MAX) {
        return "download failed: bad Content-Length";
    }
    c->dl_length = (uint32_t)v;
    c->dl_have_len = true;
    return 0;
}

/*
 * Feed response-head bytes, a line at a time through the small line buffer (any
 * head length). @return the bytes taken up to and with the blank line that ends
 * the head (the rest is body), @p n when the head goes on, or -1 after a
 * dl_fail().
 */
static long head_feed(struct sc_app *app, const uint8_t *p, size_t n)
{
    struct sc_cmd *c = &app->cmd;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)p[i];
        if (ch != '\n') {
            if (c->dl_line_len < sizeof c->dl_line) {
                c->dl_line[c->dl_line_len++] = ch;
            } else {
                c->dl_line_long = true;
            }
            continue;
        }
        size_t len = c->dl_line_len;
        if (len > 0u && c->dl_line[len - 1u] == '\r' && !c->dl_line_long) {
            len--;
        }
        bool blank = len == 0u && !c->dl_line_long;
        const char *why = 0;
        if (blank && c->dl_lines > 0u) {
            if (!c->dl_have_len) {
                why = "download failed: no Content-Length";
            } else {
                c->dl_in_body = true;
                return (long)(i + 1u);
            }
        } else {
            why = head_line(c, c->dl_line, len, c->dl_line_long);
        }
        if (why != 0) {
            dl_fail(app, why);
            return -1;
        }
        c->dl_line_len = 0;
        c->dl_line_long = false;
    }
    return (long)n;
}

/* Compare the request's version and sha256 with the signed header. */
static const char *header_matches(const struct sc_app *app)
{
    const struct sc_cmd *c = &app->cmd;
    const uint8_t *h = app->fw.up_hdr;
    if (c->dl_version[0] != '\0') {
        size_t i = 0;
        for (; i < SC_FW_VERSION_MAX && c->dl_version[i] != '\0'; i++) {
            if (h[12u + i] != (uint8_t)c->dl_version[i]) {
                return "version: does not match the image";
            }
        }
        if (i < SC_FW_VERSION_MAX && h[12u + i] != 0u) {
            return "version: does not match the image";
        }
    }
    if (c->dl_has_sha) {
        for (size_t i = 0; i < 32u; i++) {
            if (h[28u + i] != c->dl_sha[i]) {
                return "sha256: does not match the image";
            }
        }
    }
    return 0;
}

/* Body bytes: into sc_fw_upload(); at the end verify, record the command, reboot. */
static void dl_feed(struct sc_app *app, const uint8_t *p, size_t n)
{
    struct sc_cmd *c = &app->cmd;
    if (n > c->dl_length - c->dl_got) {
        dl_fail(app, "download failed: more data than Content-Length");
        return;
    }
    if (n > 0u) {
        if (sc_fw_upload(app, c->dl_length, p, n) < 0) {
            dl_fail(app, app->fw.up_error != 0 ? app->fw.up_error : "image rejected");
            return;
        }
        c->dl_got += (uint32_t)n;
    }
    if (!c->dl_hdr_checked && c->dl_got >= SC_FW_HDR_SIZE) {
        c->dl_hdr_checked = true;
        const char *why = header_matches(app);
        if (why != 0) {
            dl_fail(app, why);
            return;
        }
    }
    if (c->dl_got == c->dl_length) {
        result(app, "firmware", c->dl_id, "verifying", 0, 0);
        hal_tcp_close(c->dl_conn);
        c->dl_conn = -1;
        if (sc_fw_upload(app, c->dl_length, 0, 0) < 0) {
            dl_fail(app, app->fw.up_error != 0 ? app->fw.up_error : "image rejected");
            return;
        }
        c->dl_active = false;
        sc_fw_cmd_save(app, SC_CMD_FIRMWARE, c->dl_id);
        result(app, "firmware", c->dl_id, "rebooting", 0, 0);
        hal_sys_reboot(); /* into the trial of the new image */
    }
}

static void dl_poll(struct sc_app *app, uint64_t now)
{
    struct sc_cmd *c = &app->cmd;
    /* chunks land in the publish buffer: each is handed to sc_fw_upload() before
     * anything is published again */
    uint8_t *buf = (uint8_t *)app->payload;
    /* bounded by time too: each chunk is programmed into flash (up to 100 us a byte on
     * the STM32F405), and the loop must come round to kick the watchdog */
    for (int rounds = 0; c->dl_active && rounds < 16 && hal_time_ms() - now < SC_CMD_DL_PASS_MS;
         rounds++) {
        int n = hal_tcp_recv(c->dl_conn, buf, sizeof app->payload);
        if (n == ML_EAGAIN) {
            break;
        }
        if (n <= 0) {
            dl_fail(app, "download interrupted");
            return;
        }
        c->dl_last_ms = now;
        size_t off = 0;
        if (!c->dl_in_body) {
            long k = head_feed(app, buf, (size_t)n);
            if (k < 0) {
                return;
            }
            off = (size_t)k;
        }
        if (c->dl_in_body && off < (size_t)n) {
            dl_feed(app, buf + off, (size_t)n - off);
        }
    }
    if (c->dl_active && now - c->dl_last_ms >= SC_CMD_DL_TIMEOUT_MS) {
        dl_fail(app, "download timed out");
    }
}

uint64_t sc_cmd_next_deadline(const struct sc_app *app)
{
    return app->cmd.dl_active ? app->cmd.dl_last_ms + SC_CMD_DL_TIMEOUT_MS : UINT64_MAX;
}

void sc_cmd_shutdown(struct sc_app *app)
{
    if (app->cmd.dl_active) {
        dl_fail(app, "download interrupted");
    }
}

/* ------------------------------------------------------------------------- */
/* Commands                                                                  */
/* ------------------------------------------------------------------------- */

/* The final result of the command from before the reboot, once it is known. */
static void owed_publish(struct sc_app *app)
{
    const struct sc_fw *fw = &app->fw;
    if (fw->cmd_kind == SC_CMD_RESET) {
        result(app, "reset", fw->cmd_id, "ok", fw->version, 0);
    } else if (fw->cmd_kind == SC_CMD_FIRMWARE) {
        if (fw->trial) {
            return; /* confirmed (ok) or rolled back later */
        }
        if (fw->result == SC_FW_RES_INSTALLED) {
            result(app, "firmware", fw->cmd_id, "ok", fw->version, 0);
        } else if (fw->result == SC_FW_RES_ROLLED_BACK) {
            result(app, "firmware", fw->cmd_id, "rolled_back", fw->version,
                   "the new image was reset before it confirmed itself");
        } else {
            result(app, "firmware", fw->cmd_id, "error", fw->version,
                   "the new image failed verification at boot");
        }
    }
    app->cmd.owed = false;
    sc_fw_cmd_save(app, SC_CMD_NONE, "");
}

static void handle(struct sc_app *app, uint64_t now, const char *topic, size_t len)
{
    struct sc_cmd *c = &app->cmd;
    size_t bl = ml_str_len(c->base);
    size_t tl = ml_str_len(topic);
    if (tl <= bl + 5u || !ml_str_starts_n(topic, tl, c->base) ||
        !ml_str_starts_n(&topic[bl], tl - bl, "/cmd/")) {
        return;
    }
    const char *name = &topic[bl + 5u];
    char id[SC_CMD_ID_MAX], url[208], version[SC_FW_VERSION_MAX + 1u], sha[66];
    struct cfg_json_str f[] = {
        {"id", id, sizeof id, false},
        {"url", url, sizeof url, false},
        {"version", version, sizeof version, false},
        {"sha256", sha, sizeof sha, false},
    };
    struct cfg_error err;
    /* the body is in the publish buffer: parsed into the locals before any result */
    int e = cfg_json_strings(app->payload, len, f, sizeof f / sizeof f[0], &err);
    const char *rid = e == ML_OK && id_is_valid(id) ? id : 0;
    if (!c->tls) {
        result(app, name, rid, "refused", 0,
               "commands are accepted only over TLS (mqtts:// or port 8883)");
        return;
    }
    if (e < 0) {
        char why[96];
        struct ml_text w;
        ml_text_init(&w, why, sizeof why);
        ml_text_put(&w, "bad request: ");
        if (err.field[0] != '\0') {
            ml_text_put(&w, err.field);
            ml_text_put(&w, ": ");
        }
        ml_text_put(&w, err.reason);
        if (ml_text_end(&w) < 0) {
            ml_str_copy(why, sizeof why, "bad request");
        }
        result(app, name, 0, "error", 0, why);
        return;
    }
    if (f[0].found && rid == 0) {
        result(app, name, 0, "error", 0, "id: 1 to 12 characters A-Z a-z 0-9 . _ -");
        return;
    }
    if (c->dl_active) {
        result(app, name, rid, "error", 0, "busy: a firmware command is downloading");
        return;
    }
    if (ml_str_eq_n(name, ml_str_len(name), MQTT_CMD_RESET)) {
        if (f[1].found || f[2].found || f[3].found) {
            result(app, name, rid, "error", 0, "bad request: reset takes only id");
            return;
        }
        sc_fw_cmd_save(app, SC_CMD_RESET, rid);
        result(app, name, rid, "rebooting", 0, 0);
        hal_sys_reboot();
    } else if (ml_str_eq_n(name, ml_str_len(name), MQTT_CMD_FIRMWARE)) {
        firmware_start(app, now, rid != 0 ? rid : "", url, version, sha);
    } else {
        result(app, name, rid, "error", 0, "unknown command (reset, firmware)");
    }
}

void sc_cmd_poll(struct sc_app *app, uint64_t now)
{
    struct sc_cmd *c = &app->cmd;
    if (app->mqtt_started && app->status.mqtt == HAL_MQTT_CONNECTED && c->base[0] != '\0') {
        struct hal_mqtt_stats ms;
        hal_mqtt_get_stats(&ms);
        if (!c->subscribed || c->sub_connects != ms.connects) {
            /* a new session (clean): subscribe again */
            char filter[sizeof c->base + 8u];
            struct ml_text w;
            ml_text_init(&w, filter, sizeof filter);
            ml_text_put(&w, c->base);
            ml_text_put(&w, "/cmd/+");
            c->subscribed = ml_text_end(&w) > 0 && hal_mqtt_subscribe(filter) == ML_OK;
            c->sub_connects = ms.connects;
        }
        if (c->owed) {
            owed_publish(app);
        }
        size_t len;
        for (int k = 0; k < 4; k++) {
            int e = hal_mqtt_receive(c->rx_topic, sizeof c->rx_topic, (uint8_t *)app->payload,
                                     sizeof app->payload, &len);
            if (e == ML_EAGAIN || e == ML_ENOSYS) {
                break;
            }
            if (e == ML_OK) {
                handle(app, now, c->rx_topic, len);
            }
        }
    } else {
        c->subscribed = false;
    }
    dl_poll(app, now);
}

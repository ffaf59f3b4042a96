/*
 * ESP-AT client: receive parser (lines, counted payloads, the '>' prompt),
 * one command in flight with its timeout, and the chooser that turns the
 * wanted state into the next command. See esp_at.h and docs/esp-at.md.
 */
#include "esp_at/esp_at.h"

#include "err.h"
#include "str.h"
#include "text.h"

enum kind {
    K_NONE = 0,
    K_RST,
    K_INIT,
    K_HOSTNAME,
    K_QUIT,
    K_JOIN,
    K_DHCP,
    K_QUERY,
    K_STATIC,
    K_AP,
    K_SRV_OPEN,
    K_SRV_RESET,
    K_MDNS,
    K_SNTP_TIME,
    K_CLOSE,
    K_RECV,
    K_SEND,
    K_MQTT_CLEAN,
    K_MQTT_CFG,
    K_MQTT_CONN,
    K_MQTT_PUB,
    K_MQTT_SUB,
    K_PING,
    K_CONNECT,
};

#define DATA_SLOT_SUB (-2) /* a counted payload that is an MQTT message (+MQTTSUBRECV) */

enum phase {
    P_OK = 0, /* waiting for OK / ERROR */
    P_PROMPT, /* OK seen (or not yet): waiting for '>' */
    P_DATA,   /* writing the payload */
    P_DONE,   /* payload written: waiting for SEND OK / +MQTTPUB:OK */
    P_READY,  /* AT+RST answered OK: waiting for "ready" */
};

/* The init sequence after every module reset. */
static const char *const init_cmds[] = {
    "ATE0",             /* no echo */
    "AT+SYSMSG=2",      /* bit 1: +LINK_CONN with the local port */
    "AT+CIPMUX=1",      /* multiple links (needed for servers) */
    "AT+CIPRECVMODE=1", /* passive receive: +IPD,<id>,<len>, fetched by us */
    "AT+CIPSERVERMAXCONN=5",
    "AT+CWMODE=1", /* station (AP added by AT+CWMODE=3 on demand) */
    "AT+CIPSNTPCFG=1,0,\"pool.ntp.org\"",
};
#define INIT_STEPS ((uint8_t)ML_ARRAY_SIZE(init_cmds))

/* ------------------------------------------------------------------------- */
/* Parsing helpers (no libc; string helpers: str.h)                          */
/* ------------------------------------------------------------------------- */

/* Parse an unsigned decimal at *pos; advances *pos. */
static bool parse_u32(const char *s, size_t len, size_t *pos, uint32_t *out)
{
    size_t i = *pos;
    uint32_t v = 0;
    if (i >= len || s[i] < '0' || s[i] > '9') {
        return false;
    }
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (v > 429496728u) {
            return false;
        }
        v = v * 10u + (uint32_t)(s[i] - '0');
        i++;
    }
    *pos = i;
    *out = v;
    return true;
}

static bool expect(const char *s, size_t len, size_t *pos, char c)
{
    if (*pos < len && s[*pos] == c) {
        (*pos)++;
        return true;
    }
    return false;
}

/* Dotted quad, optionally in double quotes. */
static bool parse_ip(const char *s, size_t len, size_t *pos, uint32_t *out)
{
    bool quoted = expect(s, len, pos, '"');
    uint32_t ip = 0;
    for (int k = 0; k < 4; k++) {
        uint32_t b;
        if (!parse_u32(s, len, pos, &b) || b > 255u || (k < 3 && !expect(s, len, pos, '.'))) {
            return false;
        }
        ip = (ip << 8) | b;
    }
    if (quoted && !expect(s, len, pos, '"')) {
        return false;
    }
    *out = ip;
    return true;
}

/* Commands are built over e->cmd with the text writer (text.h). */

/* An AT string parameter: quoted, with '"', ',' and '\' escaped by '\'. */
static void b_quoted_n(struct ml_text *b, const char *s, size_t n)
{
    ml_text_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == ',' || s[i] == '\\') {
            ml_text_putc(b, '\\');
        }
        ml_text_putc(b, s[i]);
    }
    ml_text_putc(b, '"');
}

static void b_quoted(struct ml_text *b, const char *s)
{
    b_quoted_n(b, s, ml_str_len(s));
}

static void b_ip(struct ml_text *b, uint32_t ip)
{
    ml_text_putc(b, '"');
    for (int k = 3; k >= 0; k--) {
        ml_text_u64(b, (ip >> (8 * k)) & 0xFFu);
        if (k > 0) {
            ml_text_putc(b, '.');
        }
    }
    ml_text_putc(b, '"');
}

/* ------------------------------------------------------------------------- */
/* Slots                                                                     */
/* ------------------------------------------------------------------------- */

static void slot_free(struct ml_esp_at_slot *s)
{
    s->link = -1;
    s->listener = -1;
    s->accepted = false;
    s->peer_closed = false;
    s->close_req = false;
    s->rx_hint = false;
    s->peer_ip = 0;
    s->outgoing = false;
    s->connecting = false;
    s->peer_port = 0;
    ml_ring_clear(&s->rx);
    ml_ring_clear(&s->tx); /* producer and consumer are both this thread */
}

static bool slot_in_use(const struct ml_esp_at_slot *s)
{
    return s->link >= 0 || s->accepted || s->peer_closed;
}

static struct ml_esp_at_slot *slot_by_link(struct ml_esp_at *e, uint32_t link)
{
    for (size_t i = 0; i < ML_ESP_AT_SLOTS; i++) {
        if (e->slots[i].link == (int8_t)link) {
            return &e->slots[i];
        }
    }
    return NULL;
}

/* The announcement of a link our AT+CIPSTART opened (not a server's newcomer). */
static bool own_link(struct ml_esp_at *e, uint32_t link)
{
    const struct ml_esp_at_slot *s = slot_by_link(e, link);
    return s != NULL && s->outgoing;
}

static void link_opened(struct ml_esp_at *e, uint32_t link, uint32_t local_port, bool have_port,
                        uint32_t peer_ip)
{
    if (link >= ML_ESP_AT_LINKS) {
        e->stats.garbage++;
        return;
    }
    struct ml_esp_at_slot *old = slot_by_link(e, link);
    if (old != NULL) {
        /* the module reuses the id: the old one must have closed */
        old->link = -1;
        old->peer_closed = true;
    }
    int li = -1;
    for (int i = 0; i < ML_ESP_AT_LISTENERS; i++) {
        const struct ml_esp_at_listener *l = &e->listeners[i];
        if (l->port != 0u && l->opened && (!have_port || l->port == local_port)) {
            li = i;
            break;
        }
    }
    for (size_t i = 0; i < ML_ESP_AT_SLOTS; i++) {
        struct ml_esp_at_slot *s = &e->slots[i];
        if (!slot_in_use(s)) {
            slot_free(s);
            s->link = (int8_t)link;
            s->listener = (int8_t)li;
            s->close_req = li < 0; /* nobody listens on that port any more */
            s->peer_ip = peer_ip;
            return;
        }
    }
    /* no slot free: the link stays unserved until the peer gives up */
    e->stats.garbage++;
}

/* ------------------------------------------------------------------------- */
/* Module reset                                                              */
/* ------------------------------------------------------------------------- */

static void mqtt_failed(struct ml_esp_at *e)
{
    e->stats.mqtt_errors++;
    e->mqtt_link = false;
    e->sub_pending = false; /* the next session subscribes again */
    e->mqtt_step = 0;
    e->mqtt_next_try = e->now + mqtt_backoff_next(&e->mqtt_backoff);
}

static void module_was_reset(struct ml_esp_at *e)
{
    e->ready = false;
    e->init_step = 0;
    e->timeouts_in_row = 0;
    for (size_t i = 0; i < ML_ESP_AT_SLOTS; i++) {
        struct ml_esp_at_slot *s = &e->slots[i];
        if (s->link >= 0) {
            s->link = -1;
            s->peer_closed = true;
            s->rx_hint = false;
            if (!s->accepted || s->close_req) {
                slot_free(s);
            }
        }
    }
    for (size_t i = 0; i < ML_ESP_AT_LISTENERS; i++) {
        e->listeners[i].opened = false;
    }
    e->servers_reset = false;
    e->wifi_connected = false;
    e->wifi_got_ip = false;
    e->eth_link = false;
    e->eth_got_ip = false;
    e->quit_pending = false;
    if (e->want_if == ML_ESP_AT_IF_WIFI) {
        e->join_pending = true;
        e->join_next = 0;
    }
    e->hostname_dirty = e->hostname[0] != '\0';
    e->mdns_dirty = e->hostname_dirty;
    e->ap_on = false;
    e->ap_dirty = e->ap_want;
    e->ap_step = 0;
    if (e->dhcp == ML_ESP_AT_OP_PENDING) {
        e->dhcp_cmd_pending = true;
        e->dhcp_query_pending = false;
    }
    if (e->mqtt_link) {
        mqtt_failed(e);
    }
    e->mqtt_link = false;
    e->mqtt_step = 0;
    e->mqtt_clean_pending = false;
    e->utc_s = 0;
    e->sntp_next_ms = 0;
}

/* ------------------------------------------------------------------------- */
/* Command completion                                                        */
/* ------------------------------------------------------------------------- */

static void pub_discard(struct ml_esp_at *e, uint32_t n)
{
    uint8_t junk[32];
    while (n > 0u) {
        uint32_t k = n < sizeof junk ? n : (uint32_t)sizeof junk;
        size_t got = ml_ring_read(&e->pub, junk, k);
        if (got == 0u) {
            break;
        }
        n -= (uint32_t)got;
    }
}

/* AT+CIPSTART answered (or timed out): connected, or the slot reports closed. */
static void connect_done(struct ml_esp_at *e, struct ml_esp_at_slot *s, bool ok)
{
    if (!s->outgoing || !s->connecting || (s->link != e->arg_link && !s->peer_closed)) {
        return; /* the slot was freed and taken by a connection not asked for yet */
    }
    s->connecting = false;
    if (ok && s->link == e->arg_link) {
        return;
    }
    s->link = -1; /* refused, timed out, or its CLOSED came first */
    s->peer_closed = true;
    ml_ring_clear(&s->tx);
    if (s->close_req) {
        slot_free(s);
    }
}

static void finish(struct ml_esp_at *e, bool ok)
{
    uint8_t kind = e->kind;
    int arg = e->arg;
    e->kind = K_NONE;
    e->phase = P_OK;
    e->busy_count = 0;
    if (!ok) {
        e->stats.errors++;
    }
    struct ml_esp_at_slot *s = (arg >= 0 && arg < ML_ESP_AT_SLOTS) ? &e->slots[arg] : NULL;
    switch (kind) {
    case K_RST:
        if (ok) {
            e->need_reset = false;
            e->stats.resets++;
            module_was_reset(e);
        }
        break;
    case K_INIT:
        /* a feature missing from the module's build must not stop the rest */
        e->init_step++;
        if (e->init_step >= INIT_STEPS) {
            e->ready = true;
        }
        break;
    case K_HOSTNAME:
        e->hostname_dirty = false;
        break;
    case K_QUIT:
        e->quit_pending = false;
        e->wifi_connected = false;
        e->wifi_got_ip = false;
        break;
    case K_JOIN:
        if (ok) {
            e->join_pending = false;
            e->wifi_connected = true;
        } else {
            e->join_next = e->now + 5000u; /* try again; the link stays down */
        }
        break;
    case K_DHCP:
        e->dhcp_cmd_pending = false;
        if (!ok) {
            e->dhcp = ML_ESP_AT_OP_FAILED;
        } else if ((e->want_if == ML_ESP_AT_IF_WIFI && e->wifi_got_ip) ||
                   (e->want_if == ML_ESP_AT_IF_ETH && e->eth_got_ip)) {
            e->dhcp_query_pending = true;
        }
        break;
    case K_QUERY:
        e->dhcp_query_pending = false;
        if (ok && e->query.ip != 0u) {
            e->addr = e->query;
            if (e->addr.dns == 0u) {
                e->addr.dns = e->addr.gateway;
            }
            e->dhcp = ML_ESP_AT_OP_OK;
            e->mdns_dirty = e->hostname[0] != '\0';
        } else if (e->dhcp == ML_ESP_AT_OP_PENDING) {
            e->dhcp = ML_ESP_AT_OP_FAILED;
        }
        break;
    case K_STATIC:
        e->static_pending = false;
        break;
    case K_AP:
        if (arg == 1) { /* AT+CWMODE=1: the AP is off */
            e->ap_on = false;
            e->ap_dirty = e->ap_want;
            e->ap_step = 0;
        } else if (!e->ap_want) {
            /* stopped while starting: ap_dirty stays, AT+CWMODE=1 goes next */
        } else if (!ok) {
            e->ap_dirty = false;
            e->ap_on = false;
        } else if (++e->ap_step >= 3u) {
            e->ap_dirty = false;
            e->ap_on = true;
        }
        break;
    case K_SRV_OPEN:
        if (ok) {
            e->listeners[arg].opened = true;
        } else {
            e->not_before = e->now + 1000u; /* retried each second */
        }
        break;
    case K_SRV_RESET:
        e->servers_reset = false;
        for (size_t i = 0; i < ML_ESP_AT_LISTENERS; i++) {
            e->listeners[i].opened = false;
        }
        break;
    case K_MDNS:
        e->mdns_dirty = false;
        break;
    case K_SNTP_TIME:
        e->sntp_next_ms = e->now + (e->utc_s != 0 ? 60000u : 2000u);
        break;
    case K_CLOSE:
        /* the peer's CLOSED may have freed the slot while the command was in flight
         * and a new link taken it: only the slot still closing that link is freed */
        if (s->close_req && (s->link < 0 || s->link == e->arg_link)) {
            slot_free(s);
        }
        break;
    case K_RECV:
        if (!ok || e->data_sent < e->data_len) {
            s->rx_hint = false; /* the module had less: all fetched */
        }
        break;
    case K_SEND:
        if (ok) {
            e->stats.tx_bytes += e->data_len;
        } else if (e->data_sent == 0u && s->link >= 0) {
            /* refused before the prompt: the module has no such link (its
             * CLOSED was lost); drop the bytes, do not repeat forever */
            ml_ring_clear(&s->tx);
            s->link = -1;
            s->peer_closed = true;
            s->rx_hint = false;
            if (!s->accepted) {
                slot_free(s);
            }
        }
        break;
    case K_MQTT_CLEAN:
        e->mqtt_clean_pending = false;
        e->mqtt_link = false;
        if (arg == (int8_t)e->mqtt_gen) {
            e->mqtt_step = 1;
        }
        break;
    case K_MQTT_CFG:
        if (arg != (int8_t)e->mqtt_gen) {
            /* started again or stopped meanwhile: the new session starts over */
        } else if (ok) {
            e->mqtt_step = 2;
        } else {
            mqtt_failed(e);
        }
        break;
    case K_MQTT_CONN:
        if (arg != (int8_t)e->mqtt_gen) {
            e->mqtt_clean_pending = ok; /* a session for an old configuration */
        } else if (ok) {
            e->mqtt_link = true;
            e->mqtt_step = 0;
            mqtt_backoff_reset(&e->mqtt_backoff);
            e->stats.mqtt_connects++;
        } else {
            mqtt_failed(e);
        }
        break;
    case K_MQTT_PUB:
        pub_discard(e, (uint32_t)(e->data_len - e->data_sent));
        if (ok) {
            e->stats.mqtt_published++;
        }
        break;
    case K_MQTT_SUB:
        e->sub_pending = false; /* sent once; an ERROR is counted, not repeated */
        break;
    case K_PING:
        e->ping_pending = false;
        e->ping = ok ? ML_ESP_AT_OP_OK : ML_ESP_AT_OP_FAILED;
        break;
    case K_CONNECT:
        connect_done(e, s, ok);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------- */
/* Receive side: lines and URCs                                              */
/* ------------------------------------------------------------------------- */

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, uint32_t m, uint32_t d)
{
    y -= m <= 2u ? 1 : 0;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (int64_t)((m + 9u) % 12u);
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "+CIPSNTPTIME:Thu Aug 04 14:48:05 2022" (asctime, UTC with timezone 0). */
static void parse_sntp(struct ml_esp_at *e, const char *l, size_t n)
{
    size_t p = 13u + 4u; /* prefix and "Thu " */
    if (n < p + 20u) {
        return;
    }
    uint32_t mon = 0;
    for (uint32_t i = 0; i < 12u; i++) {
        if (ml_str_starts_n(l + p, n - p, months[i])) {
            mon = i + 1u;
        }
    }
    p += 3u;
    while (p < n && l[p] == ' ') {
        p++;
    }
    uint32_t day, hh, mm, ss, year;
    if (mon == 0u || !parse_u32(l, n, &p, &day) || !expect(l, n, &p, ' ') ||
        !parse_u32(l, n, &p, &hh) || !expect(l, n, &p, ':') || !parse_u32(l, n, &p, &mm) ||
        !expect(l, n, &p, ':') || !parse_u32(l, n, &p, &ss) || !expect(l, n, &p, ' ') ||
        !parse_u32(l, n, &p, &year)) {
        e->stats.garbage++;
        return;
    }
    if (year < 2020u) {
        return; /* "Thu Jan 01 00:00:00 1970": not synchronised yet */
    }
    e->utc_s =
        days_from_civil((int64_t)year, mon, day) * 86400 + (int64_t)(hh * 3600u + mm * 60u + ss);
    e->utc_at_ms = e->now;
}

/* "+CIPSTA:ip:"a.b.c.d"", "+CIPETH:gateway:..." */
static void parse_addr_line(struct ml_esp_at *e, const char *l, size_t n)
{
    size_t p = 8u; /* "+CIPSTA:" and "+CIPETH:" have the same length */
    uint32_t *dst = NULL;
    if (ml_str_starts_n(l + p, n - p, "ip:")) {
        dst = &e->query.ip;
        p += 3u;
    } else if (ml_str_starts_n(l + p, n - p, "gateway:")) {
        dst = &e->query.gateway;
        p += 8u;
    } else if (ml_str_starts_n(l + p, n - p, "netmask:")) {
        dst = &e->query.netmask;
        p += 8u;
    } else {
        return; /* IPv6 lines */
    }
    if (!parse_ip(l, n, &p, dst)) {
        e->stats.garbage++;
    }
}

static void got_ip(struct ml_esp_at *e, enum ml_esp_at_if nif)
{
    if (nif == ML_ESP_AT_IF_WIFI) {
        e->wifi_got_ip = true;
    } else {
        e->eth_got_ip = true;
    }
    if (e->want_if == nif && e->dhcp == ML_ESP_AT_OP_PENDING && !e->dhcp_cmd_pending) {
        e->dhcp_query_pending = true;
    }
    e->mdns_dirty = e->hostname[0] != '\0';
}

/* "<id>,CONNECT" / "<id>,CLOSED" / "<id>,CONNECT FAIL" */
static bool link_line(struct ml_esp_at *e, const char *l, size_t n)
{
    size_t p = 0;
    uint32_t id;
    if (!parse_u32(l, n, &p, &id) || !expect(l, n, &p, ',')) {
        return false;
    }
    if (ml_str_eq_n(l + p, n - p, "CONNECT")) {
        if (!own_link(e, id)) {
            link_opened(e, id, 0, false, 0);
        }
    } else if (ml_str_eq_n(l + p, n - p, "CLOSED")) {
        struct ml_esp_at_slot *s = slot_by_link(e, id);
        if (s != NULL) {
            s->link = -1;
            s->peer_closed = true;
            s->rx_hint = false;
            if (s->close_req || (!s->accepted && ml_ring_count(&s->rx) == 0u)) {
                slot_free(s);
            }
        }
    } else if (!ml_str_eq_n(l + p, n - p, "CONNECT FAIL")) {
        return false;
    }
    return true;
}

/* "+LINK_CONN:<status>,<id>,"TCP",<c/s>,"<remote ip>",<remote port>,<local port>" */
static void link_conn(struct ml_esp_at *e, const char *l, size_t n)
{
    size_t p = 11u;
    uint32_t status, id, cs, rport, lport, rip;
    if (!parse_u32(l, n, &p, &status) || !expect(l, n, &p, ',') || !parse_u32(l, n, &p, &id) ||
        !expect(l, n, &p, ',')) {
        e->stats.garbage++;
        return;
    }
    while (p < n && l[p] != ',') { /* "TCP" */
        p++;
    }
    if (!expect(l, n, &p, ',') || !parse_u32(l, n, &p, &cs) || !expect(l, n, &p, ',') ||
        !parse_ip(l, n, &p, &rip) || !expect(l, n, &p, ',') || !parse_u32(l, n, &p, &rport) ||
        !expect(l, n, &p, ',') || !parse_u32(l, n, &p, &lport)) {
        e->stats.garbage++;
        return;
    }
    if (status == 0u && !(cs == 0u && own_link(e, id))) {
        link_opened(e, id, lport, true, rip);
    }
}

static void busy(struct ml_esp_at *e)
{
    if (e->kind == K_NONE || e->phase == P_DATA || e->phase == P_DONE) {
        return;
    }
    e->stats.busy++;
    if (++e->busy_count > ML_ESP_AT_MAX_BUSY) {
        finish(e, false);
        return;
    }
    e->cmd_sent = 0; /* send the same command again a little later */
    e->phase = P_OK;
    e->not_before = e->now + ML_ESP_AT_BUSY_RETRY_MS;
    e->deadline = e->not_before + ML_ESP_AT_TMO_CMD_MS;
}

static void handle_line(struct ml_esp_at *e, const char *l, size_t n)
{
    if (n == 0u) {
        return;
    }
    if (ml_str_eq_n(l, n, "OK")) {
        if (e->kind == K_SEND || e->kind == K_MQTT_PUB) {
            if (e->phase == P_OK) {
                e->phase = P_PROMPT;
            }
        } else if (e->kind == K_RST) {
            e->phase = P_READY;
        } else if (e->kind != K_NONE) {
            finish(e, true);
        }
    } else if (ml_str_eq_n(l, n, "ERROR") || ml_str_eq_n(l, n, "FAIL") ||
               ml_str_eq_n(l, n, "SEND FAIL") || ml_str_eq_n(l, n, "+MQTTPUB:FAIL")) {
        if (e->kind != K_NONE) {
            finish(e, false);
        }
    } else if (ml_str_eq_n(l, n, "SEND OK") || ml_str_eq_n(l, n, "+MQTTPUB:OK")) {
        if (e->kind == K_SEND || e->kind == K_MQTT_PUB) {
            finish(e, true);
        }
    } else if (ml_str_eq_n(l, n, "ready")) {
        if (e->kind == K_RST) {
            if (e->phase == P_READY) {
                finish(e, true);
            } /* else: a boot that began before our AT+RST; its own "ready" follows */
        } else {
            /* the module restarted on its own (brown-out, watchdog, EN pin) */
            if (e->kind != K_NONE) {
                finish(e, false);
            }
            e->stats.resets++;
            module_was_reset(e);
        }
    } else if (ml_str_starts_n(l, n, "busy ")) {
        busy(e);
    } else if (ml_str_starts_n(l, n, "+IPD,")) {
        size_t p = 5;
        uint32_t id, len;
        struct ml_esp_at_slot *s;
        if (parse_u32(l, n, &p, &id) && expect(l, n, &p, ',') && parse_u32(l, n, &p, &len) &&
            (s = slot_by_link(e, id)) != NULL) {
            s->rx_hint = true;
        }
    } else if (ml_str_starts_n(l, n, "+LINK_CONN:")) {
        link_conn(e, l, n);
    } else if (ml_str_eq_n(l, n, "WIFI CONNECTED")) {
        e->wifi_connected = true;
    } else if (ml_str_eq_n(l, n, "WIFI GOT IP")) {
        got_ip(e, ML_ESP_AT_IF_WIFI);
    } else if (ml_str_eq_n(l, n, "WIFI DISCONNECT")) {
        e->wifi_connected = false;
        e->wifi_got_ip = false;
        if (e->want_if == ML_ESP_AT_IF_WIFI) {
            e->join_pending = true;
            e->join_next = e->now + 1000u;
        }
    } else if (ml_str_eq_n(l, n, "+ETH_CONNECTED")) {
        e->eth_link = true;
    } else if (ml_str_eq_n(l, n, "+ETH_DISCONNECTED")) {
        e->eth_link = false;
        e->eth_got_ip = false;
    } else if (ml_str_starts_n(l, n, "+ETH_GOT_IP")) {
        got_ip(e, ML_ESP_AT_IF_ETH);
    } else if (ml_str_starts_n(l, n, "+MQTTCONNECTED:")) {
        if (e->kind != K_MQTT_CONN && e->mqtt_enabled) {
            e->mqtt_link = true; /* the module reconnected by itself */
        }
    } else if (ml_str_starts_n(l, n, "+MQTTDISCONNECTED:")) {
        if (e->mqtt_link) {
            mqtt_failed(e);
        }
    } else if (ml_str_starts_n(l, n, "+CIPSTA:") || ml_str_starts_n(l, n, "+CIPETH:")) {
        parse_addr_line(e, l, n);
    } else if (ml_str_starts_n(l, n, "+CIPSNTPTIME:")) {
        parse_sntp(e, l, n);
    } else if (ml_str_starts_n(l, n, "+PING:") || ml_str_starts_n(l, n, "+CWJAP:") ||
               ml_str_starts_n(l, n, "Recv ") || ml_str_starts_n(l, n, "+TIME_UPDATED") ||
               ml_str_starts_n(l, n, "ERR CODE") || ml_str_starts_n(l, n, "AT") ||
               ml_str_starts_n(l, n, "+STA_") || ml_str_starts_n(l, n, "+DIST_STA_IP") ||
               ml_str_starts_n(l, n, "+CIPRECVDATA")) {
        /* answers whose OK / ERROR line says all we need; our own echo */
    } else if (!link_line(e, l, n)) {
        e->stats.garbage++;
    }
}

/* Returns true when the line so far opens a counted payload (+IPD with ':', +CIPRECVDATA). */
static bool payload_start(struct ml_esp_at *e)
{
    const char *l = e->line;
    size_t n = e->line_len;
    size_t p;
    uint32_t id, len;
    if (l[n - 1u] == ':' && ml_str_starts_n(l, n, "+IPD,")) {
        p = 5;
        if (!parse_u32(l, n, &p, &id) || !expect(l, n, &p, ',') || !parse_u32(l, n, &p, &len) ||
            !expect(l, n, &p, ':') || p != n) {
            return false;
        }
        struct ml_esp_at_slot *s = slot_by_link(e, id);
        e->data_left = len;
        e->data_slot = s != NULL ? (int8_t)(s - e->slots) : -1;
        return true;
    }
    if (l[n - 1u] == ',' && ml_str_starts_n(l, n, "+MQTTSUBRECV:")) {
        /* +MQTTSUBRECV:<link>,"<topic>",<len>,<len bytes> (a ',' in the topic: later) */
        p = 13;
        if (!parse_u32(l, n, &p, &id) || !expect(l, n, &p, ',') || !expect(l, n, &p, '"')) {
            return false;
        }
        size_t t0 = p;
        while (p < n && l[p] != '"') {
            p++;
        }
        size_t tl = p - t0;
        if (!expect(l, n, &p, '"') || !expect(l, n, &p, ',') || !parse_u32(l, n, &p, &len) ||
            !expect(l, n, &p, ',') || p != n) {
            return false;
        }
        e->data_left = len;
        e->data_slot = -1; /* dropped unless it fits beside the messages waiting */
        if (tl >= 1u && tl <= ML_ESP_AT_SUB_TOPIC_MAX && len <= ML_ESP_AT_SUB_PAYLOAD_MAX &&
            e->sub_used + 3u + tl + len <= ML_MQTT_RX_BYTES) {
            uint8_t *r = &e->sub_buf[e->sub_used];
            r[0] = (uint8_t)tl;
            r[1] = (uint8_t)len;
            r[2] = (uint8_t)(len >> 8);
            ml_mem_copy(&r[3], &l[t0], tl);
            e->sub_got = 0;
            e->data_slot = DATA_SLOT_SUB;
            if (len == 0u) {
                e->sub_used = (uint16_t)(e->sub_used + 3u + tl);
            }
        } else {
            e->stats.rx_dropped += len == 0u ? 1u : 0u;
        }
        return true;
    }
    if (l[n - 1u] == ',' && ml_str_starts_n(l, n, "+CIPRECVDATA:")) {
        p = 13;
        if (!parse_u32(l, n, &p, &len) || !expect(l, n, &p, ',') || p != n) {
            return false;
        }
        e->data_left = len;
        e->data_slot = e->kind == K_RECV ? e->arg : -1;
        return true;
    }
    return false;
}

static void rx_byte(struct ml_esp_at *e, uint8_t c)
{
    if (e->data_left > 0u) {
        e->data_left--;
        if (e->data_slot == DATA_SLOT_SUB) {
            uint8_t *r = &e->sub_buf[e->sub_used];
            r[3u + r[0] + e->sub_got++] = c;
            if (e->data_left == 0u) { /* whole: it waits for ml_esp_at_mqtt_receive() */
                e->sub_used = (uint16_t)(e->sub_used + 3u + r[0] + e->sub_got);
            }
            return;
        }
        if (e->data_slot >= 0 && ml_ring_put(&e->slots[e->data_slot].rx, c) == ML_OK) {
            e->stats.rx_bytes++;
            if (e->kind == K_RECV && e->data_slot == e->arg) {
                e->data_sent++;
            }
        } else {
            e->stats.rx_dropped++;
        }
        return;
    }
    if (e->line_len == 0u && c == '>' && (e->kind == K_SEND || e->kind == K_MQTT_PUB) &&
        (e->phase == P_OK || e->phase == P_PROMPT)) {
        e->phase = P_DATA;
        return;
    }
    if (c == '\n') {
        size_t n = e->line_len;
        if (n > 0u && e->line[n - 1u] == '\r') {
            n--;
        }
        if (e->line_overflow) {
            e->stats.garbage++;
        } else {
            handle_line(e, e->line, n);
        }
        e->line_len = 0;
        e->line_overflow = false;
        return;
    }
    if (e->line_len >= ML_ESP_AT_LINE_MAX) {
        e->line_overflow = true;
        return;
    }
    e->line[e->line_len++] = (char)c;
    if ((c == ':' || c == ',') && !e->line_overflow && payload_start(e)) {
        e->line_len = 0;
    }
}

/* ------------------------------------------------------------------------- */
/* Choosing and sending the next command                                     */
/* ------------------------------------------------------------------------- */

static void issue(struct ml_esp_at *e, struct ml_text *b, uint8_t kind, int arg, uint32_t tmo)
{
    ml_text_put(b, "\r\n");
    if (b->overflow) {
        /* cannot happen with the length checks at the API; never send half a command */
        e->stats.errors++;
        return;
    }
    e->cmd_len = (uint16_t)b->len;
    e->cmd_sent = 0;
    e->kind = kind;
    e->arg = (int8_t)arg;
    e->phase = P_OK;
    e->deadline = e->now + tmo;
    e->stats.commands++;
}

static bool has_ip(const struct ml_esp_at *e)
{
    return (e->want_if == ML_ESP_AT_IF_WIFI && e->wifi_got_ip) ||
           (e->want_if == ML_ESP_AT_IF_ETH && e->eth_got_ip) || e->static_pending ||
           e->addr.ip != 0u;
}

static bool choose_link_work(struct ml_esp_at *e, struct ml_text *b)
{
    for (int i = 0; i < ML_ESP_AT_SLOTS; i++) {
        struct ml_esp_at_slot *s = &e->slots[i];
        if (s->link < 0) {
            continue;
        }
        uint32_t pending = ml_ring_count(&s->tx);
        if (pending > 0u) {
            uint32_t n = pending < ML_ESP_AT_CHUNK ? pending : ML_ESP_AT_CHUNK;
            ml_text_put(b, "AT+CIPSEND=");
            ml_text_u64(b, (uint64_t)s->link);
            ml_text_putc(b, ',');
            ml_text_u64(b, n);
            e->data_len = (uint16_t)n;
            e->data_sent = 0;
            issue(e, b, K_SEND, i, ML_ESP_AT_TMO_CMD_MS);
            return true;
        }
        if (s->close_req) {
            ml_text_put(b, "AT+CIPCLOSE=");
            ml_text_u64(b, (uint64_t)s->link);
            issue(e, b, K_CLOSE, i, ML_ESP_AT_TMO_CMD_MS);
            e->arg_link = s->link;
            return true;
        }
        uint32_t space = ml_ring_space(&s->rx);
        if (s->rx_hint && space >= 64u) {
            uint32_t n = space < ML_ESP_AT_RECV_CHUNK ? space : ML_ESP_AT_RECV_CHUNK;
            ml_text_put(b, "AT+CIPRECVDATA=");
            ml_text_u64(b, (uint64_t)s->link);
            ml_text_putc(b, ',');
            ml_text_u64(b, n);
            e->data_len = (uint16_t)n;
            e->data_sent = 0;
            issue(e, b, K_RECV, i, ML_ESP_AT_TMO_CMD_MS);
            return true;
        }
    }
    return false;
}

/* AT+CIPSTART for a connection asked with ml_esp_at_connect(): the link id is the
 * highest one no slot holds (the module gives servers' newcomers the low ones). */
static bool choose_connect(struct ml_esp_at *e, struct ml_text *b)
{
    for (int i = 0; i < ML_ESP_AT_SLOTS; i++) {
        struct ml_esp_at_slot *s = &e->slots[i];
        if (!s->outgoing || !s->connecting || s->link >= 0) {
            continue;
        }
        int link = ML_ESP_AT_LINKS - 1;
        while (link >= 0 && slot_by_link(e, (uint32_t)link) != NULL) {
            link--;
        }
        if (link < 0) {
            return false; /* every link busy: tried again when one closes */
        }
        s->link = (int8_t)link;
        ml_text_put(b, "AT+CIPSTART=");
        ml_text_u64(b, (uint64_t)link);
        ml_text_put(b, ",\"TCP\",");
        b_ip(b, s->peer_ip);
        ml_text_putc(b, ',');
        ml_text_u64(b, s->peer_port);
        issue(e, b, K_CONNECT, i, ML_ESP_AT_TMO_CONN_MS);
        e->arg_link = s->link;
        return true;
    }
    return false;
}

static bool choose_publish(struct ml_esp_at *e, struct ml_text *b)
{
    uint8_t h[4];
    if (!e->mqtt_link || ml_ring_count(&e->pub) < 4u) {
        return false;
    }
    for (uint32_t i = 0; i < 4u; i++) {
        (void)ml_ring_peek(&e->pub, i, &h[i]);
    }
    uint16_t tl = (uint16_t)(h[0] | (h[1] << 8));
    uint16_t pl = (uint16_t)(h[2] | (h[3] << 8));
    char topic[129];
    (void)ml_ring_read(&e->pub, h, 4u);
    (void)ml_ring_read(&e->pub, topic, tl);
    ml_text_put(b, "AT+MQTTPUBRAW=0,");
    b_quoted_n(b, topic, tl);
    ml_text_putc(b, ',');
    ml_text_u64(b, pl);
    ml_text_put(b, ",0,0");
    e->data_len = pl;
    e->data_sent = 0;
    issue(e, b, K_MQTT_PUB, -1, ML_ESP_AT_TMO_CMD_MS);
    return true;
}

static bool choose_subscribe(struct ml_esp_at *e, struct ml_text *b)
{
    if (!e->mqtt_link || !e->sub_pending) {
        return false;
    }
    ml_text_put(b, "AT+MQTTSUB=0,");
    b_quoted(b, e->sub_filter);
    ml_text_put(b, ",0");
    issue(e, b, K_MQTT_SUB, -1, ML_ESP_AT_TMO_CMD_MS);
    return true;
}

static bool choose_mqtt(struct ml_esp_at *e, struct ml_text *b)
{
    if (e->mqtt_clean_pending && (!e->mqtt_enabled || e->mqtt_step != 0u)) {
        ml_text_put(b, "AT+MQTTCLEAN=0");
        issue(e, b, K_MQTT_CLEAN, (int8_t)e->mqtt_gen, ML_ESP_AT_TMO_CMD_MS);
        return true;
    }
    if (!e->mqtt_enabled || e->mqtt_link || e->now < e->mqtt_next_try) {
        return false;
    }
    if (e->mqtt_step == 0u) {
        ml_text_put(b, "AT+MQTTCLEAN=0"); /* ERROR when there is no session: fine */
        issue(e, b, K_MQTT_CLEAN, (int8_t)e->mqtt_gen, ML_ESP_AT_TMO_CMD_MS);
    } else if (e->mqtt_step == 1u) {
        ml_text_put(b, "AT+MQTTUSERCFG=0,");
        ml_text_u64(b, e->mqtt_scheme);
        ml_text_putc(b, ',');
        b_quoted(b, e->mqtt_client_id);
        ml_text_putc(b, ',');
        b_quoted(b, e->mqtt_user);
        ml_text_putc(b, ',');
        b_quoted(b, e->mqtt_pass);
        ml_text_put(b, ",0,0,\"\"");
        issue(e, b, K_MQTT_CFG, (int8_t)e->mqtt_gen, ML_ESP_AT_TMO_CMD_MS);
    } else {
        ml_text_put(b, "AT+MQTTCONN=0,");
        b_quoted(b, e->mqtt_host);
        ml_text_putc(b, ',');
        ml_text_u64(b, e->mqtt_port);
        ml_text_put(b, ",0"); /* reconnect 0: the back-off is ours (hal_mqtt.h) */
        issue(e, b, K_MQTT_CONN, (int8_t)e->mqtt_gen, ML_ESP_AT_TMO_MQTT_MS);
    }
    return true;
}

static bool choose_ap(struct ml_esp_at *e, struct ml_text *b)
{
    if (!e->ap_dirty) {
        return false;
    }
    if (!e->ap_want) {
        ml_text_put(b, "AT+CWMODE=1");
    } else if (e->ap_step == 0u) {
        ml_text_put(b, "AT+CWMODE=3");
    } else if (e->ap_step == 1u) {
        ml_text_put(b, "AT+CWSAP=");
        b_quoted(b, e->ap_ssid);
        ml_text_putc(b, ',');
        b_quoted(b, e->ap_psk);
        ml_text_put(b, e->ap_psk[0] != '\0' ? ",6,3" : ",6,0"); /* channel 6, WPA2_PSK / open */
    } else {
        ml_text_put(b, "AT+CIPAP=");
        b_ip(b, 0xC0A84701u); /* 192.168.71.1/24, the module's DHCP server serves it */
        ml_text_putc(b, ',');
        b_ip(b, 0xC0A84701u);
        ml_text_putc(b, ',');
        b_ip(b, 0xFFFFFF00u);
    }
    issue(e, b, K_AP, e->ap_want ? -1 : 1, ML_ESP_AT_TMO_CMD_MS);
    return true;
}

static bool choose_net(struct ml_esp_at *e, struct ml_text *b)
{
    bool wifi = e->want_if == ML_ESP_AT_IF_WIFI;
    if (e->hostname_dirty) {
        ml_text_put(b, "AT+CWHOSTNAME=");
        b_quoted(b, e->hostname);
        issue(e, b, K_HOSTNAME, -1, ML_ESP_AT_TMO_CMD_MS);
    } else if (e->quit_pending) {
        ml_text_put(b, "AT+CWQAP");
        issue(e, b, K_QUIT, -1, ML_ESP_AT_TMO_CMD_MS);
    } else if (e->join_pending && wifi && e->now >= e->join_next) {
        ml_text_put(b, "AT+CWJAP=");
        b_quoted(b, e->ssid);
        ml_text_putc(b, ',');
        b_quoted(b, e->psk);
        issue(e, b, K_JOIN, -1, ML_ESP_AT_TMO_JOIN_MS);
    } else if (choose_ap(e, b)) {
    } else if (e->dhcp_cmd_pending) {
        ml_text_put(b,
                    wifi ? "AT+CWDHCP=1,1" : "AT+CWDHCP=1,4"); /* bit 0 station, bit 2 Ethernet */
        issue(e, b, K_DHCP, -1, ML_ESP_AT_TMO_CMD_MS);
    } else if (e->dhcp_query_pending) {
        e->query.ip = e->query.netmask = e->query.gateway = e->query.dns = 0;
        ml_text_put(b, wifi ? "AT+CIPSTA?" : "AT+CIPETH?");
        issue(e, b, K_QUERY, -1, ML_ESP_AT_TMO_CMD_MS);
    } else if (e->static_pending) {
        ml_text_put(b, wifi ? "AT+CIPSTA=" : "AT+CIPETH=");
        b_ip(b, e->addr.ip);
        ml_text_putc(b, ',');
        b_ip(b, e->addr.gateway);
        ml_text_putc(b, ',');
        b_ip(b, e->addr.netmask);
        issue(e, b, K_STATIC, -1, ML_ESP_AT_TMO_CMD_MS);
    } else {
        return false;
    }
    return true;
}

static bool choose_servers(struct ml_esp_at *e, struct ml_text *b)
{
    if (e->servers_reset) {
        ml_text_put(b, "AT+CIPSERVER=0");
        issue(e, b, K_SRV_RESET, -1, ML_ESP_AT_TMO_CMD_MS);
        return true;
    }
    for (int i = 0; i < ML_ESP_AT_LISTENERS; i++) {
        if (e->listeners[i].port != 0u && !e->listeners[i].opened) {
            ml_text_put(b, "AT+CIPSERVER=1,");
            ml_text_u64(b, e->listeners[i].port);
            if (e->listeners[i].ssl) {
                ml_text_put(b, ",\"SSL\",0"); /* the module's certificate, no client one */
            }
            issue(e, b, K_SRV_OPEN, i, ML_ESP_AT_TMO_CMD_MS);
            return true;
        }
    }
    return false;
}

static void choose(struct ml_esp_at *e)
{
    struct ml_text b;
    ml_text_init(&b, e->cmd, ML_ESP_AT_CMD_MAX);
    if (e->need_reset) {
        ml_text_put(&b, "AT+RST");
        issue(e, &b, K_RST, -1, ML_ESP_AT_TMO_READY_MS);
        return;
    }
    if (!e->ready) {
        ml_text_put(&b, init_cmds[e->init_step]);
        issue(e, &b, K_INIT, e->init_step, ML_ESP_AT_TMO_CMD_MS);
        return;
    }
    if (choose_connect(e, &b) || choose_link_work(e, &b) || choose_subscribe(e, &b) ||
        choose_publish(e, &b)) {
        return;
    }
    if (e->ping_pending) {
        ml_text_put(&b, "AT+PING=");
        b_ip(&b, e->ping_ip);
        issue(e, &b, K_PING, -1, ML_ESP_AT_TMO_PING_MS);
        return;
    }
    if (choose_net(e, &b) || choose_servers(e, &b) || choose_mqtt(e, &b)) {
        return;
    }
    if (e->mdns_dirty && has_ip(e)) {
        ml_text_put(&b, "AT+MDNS=1,");
        b_quoted(&b, e->mdns_name[0] != '\0' ? e->mdns_name : e->hostname);
        ml_text_put(&b, ",\"_http\",80");
        issue(e, &b, K_MDNS, -1, ML_ESP_AT_TMO_CMD_MS);
        return;
    }
    if (has_ip(e) && e->now >= e->sntp_next_ms) {
        ml_text_put(&b, "AT+CIPSNTPTIME?");
        issue(e, &b, K_SNTP_TIME, -1, ML_ESP_AT_TMO_CMD_MS);
    }
}

/* Write the payload of AT+CIPSEND / AT+MQTTPUBRAW after the '>' prompt. */
static void write_data(struct ml_esp_at *e)
{
    struct ml_ring *src = e->kind == K_SEND ? &e->slots[e->arg].tx : &e->pub;
    while (e->data_sent < e->data_len) {
        uint8_t chunk[64];
        uint32_t want = (uint32_t)(e->data_len - e->data_sent);
        uint32_t k = want < sizeof chunk ? want : (uint32_t)sizeof chunk;
        uint32_t have = 0;
        while (have < k && ml_ring_peek(src, have, &chunk[have]) == ML_OK) {
            have++;
        }
        if (have == 0u) {
            break; /* cannot happen: the bytes were counted before the command */
        }
        int w = e->io.write(e->io.ctx, chunk, have);
        if (w <= 0) {
            return;
        }
        (void)ml_ring_read(src, chunk, (size_t)w);
        e->data_sent = (uint16_t)(e->data_sent + (uint16_t)w);
    }
    if (e->data_sent >= e->data_len) {
        e->phase = P_DONE;
    }
}

static void tx(struct ml_esp_at *e)
{
    if (e->kind == K_NONE && e->now >= e->not_before) {
        choose(e);
    }
    if (e->kind == K_NONE || e->now < e->not_before) {
        return;
    }
    if (e->cmd_sent < e->cmd_len) {
        int w = e->io.write(e->io.ctx, (const uint8_t *)e->cmd + e->cmd_sent,
                            (size_t)(e->cmd_len - e->cmd_sent));
        if (w > 0) {
            e->cmd_sent = (uint16_t)(e->cmd_sent + (uint16_t)w);
        }
    }
    if (e->phase == P_DATA && e->cmd_sent >= e->cmd_len) {
        write_data(e);
    }
}

/* ------------------------------------------------------------------------- */
/* API: life cycle                                                           */
/* ------------------------------------------------------------------------- */

void ml_esp_at_init(struct ml_esp_at *e, const struct ml_esp_at_io *io, uint64_t now_ms)
{
    *e = (struct ml_esp_at){0};
    e->io = *io;
    e->now = now_ms;
    e->data_slot = -1;
    e->need_reset = true;
    mqtt_backoff_reset(&e->mqtt_backoff);
    (void)ml_ring_init(&e->pub, e->pub_buf, ML_ESP_AT_PUB_CAP);
    for (size_t i = 0; i < ML_ESP_AT_SLOTS; i++) {
        (void)ml_ring_init(&e->slots[i].rx, e->slots[i].rx_buf, ML_ESP_AT_RX_CAP);
        (void)ml_ring_init(&e->slots[i].tx, e->slots[i].tx_buf, ML_ESP_AT_TX_CAP);
        slot_free(&e->slots[i]);
    }
}

void ml_esp_at_poll(struct ml_esp_at *e, uint64_t now_ms)
{
    e->now = now_ms;
    for (int rounds = 0; rounds < 64; rounds++) {
        uint8_t buf[64];
        int n = e->io.read(e->io.ctx, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        for (int i = 0; i < n; i++) {
            rx_byte(e, buf[i]);
            if (e->phase == P_DATA) {
                tx(e); /* answer the prompt before the next bytes */
            }
        }
    }
    if (e->kind != K_NONE && now_ms >= e->deadline) {
        e->stats.timeouts++;
        bool was_reset = e->kind == K_RST;
        finish(e, false);
        e->line_len = 0;
        e->data_left = 0;
        if (was_reset || ++e->timeouts_in_row >= ML_ESP_AT_MAX_TIMEOUTS) {
            e->need_reset = true;
            e->timeouts_in_row = 0;
        }
    } else if (e->kind == K_NONE) {
        /* an answer arrived: the module is alive */
    }
    if (e->dhcp == ML_ESP_AT_OP_PENDING && now_ms >= e->dhcp_deadline) {
        e->dhcp = ML_ESP_AT_OP_FAILED;
        e->dhcp_cmd_pending = false;
        e->dhcp_query_pending = false;
    }
    /* a few commands per poll: each write goes to a ring, nothing blocks */
    for (int i = 0; i < 4; i++) {
        uint8_t before = e->kind;
        tx(e);
        if (e->kind == before) {
            break;
        }
    }
}

uint64_t ml_esp_at_next_deadline(const struct ml_esp_at *e)
{
    uint64_t t = UINT64_MAX;
    if (e->kind != K_NONE) {
        t = e->deadline;
        if (e->cmd_sent < e->cmd_len && e->not_before < t) {
            t = e->not_before;
        }
        return t;
    }
    if (e->not_before > e->now) {
        t = e->not_before;
    }
    if (e->dhcp == ML_ESP_AT_OP_PENDING && e->dhcp_deadline < t) {
        t = e->dhcp_deadline;
    }
    if (e->mqtt_enabled && !e->mqtt_link && e->mqtt_next_try < t) {
        t = e->mqtt_next_try;
    }
    if (e->join_pending && e->join_next < t) {
        t = e->join_next;
    }
    if (t < e->not_before) {
        /* nothing starts before the hold ends (tx()): an overdue MQTT attempt or a
         * pending module reset waits for it, and so does the loop, without spinning */
        t = e->not_before;
    }
    return t;
}

bool ml_esp_at_is_ready(const struct ml_esp_at *e)
{
    return e->ready;
}

bool ml_esp_at_output_pending(const struct ml_esp_at *e)
{
    if (!e->ready || e->need_reset) { /* a reset drops the links and their output */
        return false;
    }
    if (e->kind == K_SEND || e->kind == K_CLOSE || e->kind == K_MQTT_PUB ||
        (e->mqtt_link && ml_ring_count(&e->pub) > 0u)) {
        return true;
    }
    for (int i = 0; i < ML_ESP_AT_SLOTS; i++) {
        const struct ml_esp_at_slot *s = &e->slots[i];
        if (s->link >= 0 && (ml_ring_count(&s->tx) > 0u || s->close_req)) {
            return true;
        }
    }
    return false;
}

void ml_esp_at_reset(struct ml_esp_at *e)
{
    e->need_reset = true;
}

void ml_esp_at_get_stats(const struct ml_esp_at *e, struct ml_esp_at_stats *out)
{
    *out = e->stats;
}

/* ------------------------------------------------------------------------- */
/* API: network                                                              */
/* ------------------------------------------------------------------------- */

int ml_esp_at_net_up(struct ml_esp_at *e, enum ml_esp_at_if nif, const char *ssid, const char *psk)
{
    if (nif == ML_ESP_AT_IF_WIFI) {
        size_t n = ml_str_len(ssid);
        ML_VERIFY(n >= 1u && n <= 32u && ml_str_len(psk) <= 64u, ML_EINVAL);
        (void)ml_str_copy(e->ssid, sizeof e->ssid, ssid);
        (void)ml_str_copy(e->psk, sizeof e->psk, psk != NULL ? psk : "");
        e->join_pending = true;
        e->join_next = 0;
        e->quit_pending = false;
    } else if (nif == ML_ESP_AT_IF_ETH) {
        e->join_pending = false;
        e->quit_pending = e->want_if == ML_ESP_AT_IF_WIFI || e->wifi_connected;
    } else {
        return ML_EINVAL;
    }
    e->want_if = (uint8_t)nif;
    return ML_OK;
}

bool ml_esp_at_link_is_up(const struct ml_esp_at *e, enum ml_esp_at_if nif)
{
    return nif == ML_ESP_AT_IF_WIFI ? e->wifi_connected : nif == ML_ESP_AT_IF_ETH && e->eth_link;
}

int ml_esp_at_dhcp_start(struct ml_esp_at *e)
{
    ML_VERIFY(e->want_if != ML_ESP_AT_IF_NONE, ML_EINVAL);
    e->dhcp = ML_ESP_AT_OP_PENDING;
    e->dhcp_cmd_pending = true;
    e->dhcp_query_pending = false;
    e->static_pending = false;
    e->dhcp_deadline = e->now + ML_ESP_AT_TMO_DHCP_MS;
    return ML_OK;
}

enum ml_esp_at_op ml_esp_at_dhcp_state(const struct ml_esp_at *e, struct ml_esp_at_ipv4 *out)
{
    if (e->dhcp == ML_ESP_AT_OP_OK && out != NULL) {
        *out = e->addr;
    }
    return (enum ml_esp_at_op)e->dhcp;
}

int ml_esp_at_set_ipv4(struct ml_esp_at *e, const struct ml_esp_at_ipv4 *a)
{
    ML_VERIFY(a != NULL, ML_EINVAL);
    e->addr = *a;
    e->static_pending = a->ip != 0u && e->want_if != ML_ESP_AT_IF_NONE;
    return ML_OK;
}

void ml_esp_at_get_ipv4(const struct ml_esp_at *e, struct ml_esp_at_ipv4 *out)
{
    *out = e->addr;
}

int ml_esp_at_set_hostname(struct ml_esp_at *e, const char *name)
{
    size_t n = ml_str_len(name);
    ML_VERIFY(n >= 1u && n <= 63u, ML_EINVAL);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        ML_VERIFY((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-', ML_EINVAL);
    }
    (void)ml_str_copy(e->hostname, sizeof e->hostname, name);
    e->hostname_dirty = true;
    e->mdns_dirty = true;
    return ML_OK;
}

int ml_esp_at_set_mdns_name(struct ml_esp_at *e, const char *name)
{
    size_t n = ml_str_len(name);
    ML_VERIFY(n >= 1u && n <= 32u, ML_EINVAL); /* ESP-AT's host name limit */
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        ML_VERIFY((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-', ML_EINVAL);
    }
    (void)ml_str_copy(e->mdns_name, sizeof e->mdns_name, name);
    e->mdns_dirty = true;
    return ML_OK;
}

int ml_esp_at_ap_start(struct ml_esp_at *e, const char *ssid, const char *psk)
{
    size_t n = ml_str_len(ssid), k = ml_str_len(psk);
    ML_VERIFY(n >= 1u && n <= 32u && (k == 0u || (k >= 8u && k <= 64u)), ML_EINVAL);
    (void)ml_str_copy(e->ap_ssid, sizeof e->ap_ssid, ssid);
    (void)ml_str_copy(e->ap_psk, sizeof e->ap_psk, psk != NULL ? psk : "");
    e->ap_want = true;
    e->ap_dirty = true;
    e->ap_step = 0;
    return ML_OK;
}

void ml_esp_at_ap_stop(struct ml_esp_at *e)
{
    if (e->ap_want || e->ap_on) {
        e->ap_want = false;
        e->ap_dirty = true;
    }
}

int ml_esp_at_ping_start(struct ml_esp_at *e, uint32_t ip)
{
    ML_VERIFY(ip != 0u, ML_EINVAL);
    e->ping = ML_ESP_AT_OP_PENDING;
    e->ping_pending = true;
    e->ping_ip = ip;
    return ML_OK;
}

enum ml_esp_at_op ml_esp_at_ping_state(const struct ml_esp_at *e)
{
    return (enum ml_esp_at_op)e->ping;
}

int64_t ml_esp_at_utc(const struct ml_esp_at *e)
{
    if (e->utc_s == 0) {
        return ML_EAGAIN;
    }
    return e->utc_s + (int64_t)((e->now - e->utc_at_ms) / 1000u);
}

/* ------------------------------------------------------------------------- */
/* API: TCP servers                                                          */
/* ------------------------------------------------------------------------- */

int ml_esp_at_listen(struct ml_esp_at *e, uint16_t port)
{
    ML_VERIFY(port != 0u, ML_EINVAL);
    int free_i = -1;
    for (int i = 0; i < ML_ESP_AT_LISTENERS; i++) {
        if (e->listeners[i].port == port) {
            return ML_EBUSY;
        }
        if (e->listeners[i].port == 0u && free_i < 0) {
            free_i = i;
        }
    }
    ML_VERIFY(free_i >= 0, ML_ENOMEM);
    e->listeners[free_i].port = port;
    e->listeners[free_i].opened = false;
    e->listeners[free_i].ssl = false;
    return free_i;
}

int ml_esp_at_listen_tls(struct ml_esp_at *e, uint16_t port)
{
    int li = ml_esp_at_listen(e, port);
    if (li >= 0) {
        e->listeners[li].ssl = true;
    }
    return li;
}

uint16_t ml_esp_at_local_port(const struct ml_esp_at *e, int listener)
{
    if (listener < 0 || listener >= ML_ESP_AT_LISTENERS) {
        return 0;
    }
    return e->listeners[listener].port;
}

int ml_esp_at_accept(struct ml_esp_at *e, int listener)
{
    ML_VERIFY(listener >= 0 && listener < ML_ESP_AT_LISTENERS, ML_EBADF);
    for (int i = 0; i < ML_ESP_AT_SLOTS; i++) {
        struct ml_esp_at_slot *s = &e->slots[i];
        if (s->listener == listener && !s->accepted && !s->close_req &&
            (s->link >= 0 || s->peer_closed)) {
            s->accepted = true;
            return i;
        }
    }
    return ML_EAGAIN;
}

uint32_t ml_esp_at_peer_ipv4(const struct ml_esp_at *e, int slot)
{
    if (slot < 0 || slot >= ML_ESP_AT_SLOTS || !e->slots[slot].accepted) {
        return 0;
    }
    return e->slots[slot].peer_ip;
}

static struct ml_esp_at_slot *app_slot(struct ml_esp_at *e, int slot)
{
    if (slot < 0 || slot >= ML_ESP_AT_SLOTS || !e->slots[slot].accepted ||
        e->slots[slot].close_req) {
        return NULL;
    }
    return &e->slots[slot];
}

int ml_esp_at_recv(struct ml_esp_at *e, int slot, uint8_t *buf, size_t cap)
{
    struct ml_esp_at_slot *s = app_slot(e, slot);
    ML_VERIFY(s != NULL, ML_EBADF);
    size_t n = ml_ring_read(&s->rx, buf, cap);
    if (n > 0u) {
        return (int)n;
    }
    return s->peer_closed ? ML_ECONNREFUSED : ML_EAGAIN;
}

int ml_esp_at_send(struct ml_esp_at *e, int slot, const uint8_t *buf, size_t len)
{
    struct ml_esp_at_slot *s = app_slot(e, slot);
    ML_VERIFY(s != NULL, ML_EBADF);
    if (s->peer_closed || (s->link < 0 && !s->connecting)) {
        return ML_ECONNREFUSED;
    }
    return (int)ml_ring_write(&s->tx, buf, len);
}

int ml_esp_at_connect(struct ml_esp_at *e, uint32_t ip, uint16_t port)
{
    ML_VERIFY(ip != 0u && port != 0u, ML_EINVAL);
    for (int i = 0; i < ML_ESP_AT_SLOTS; i++) {
        struct ml_esp_at_slot *s = &e->slots[i];
        if (!slot_in_use(s)) {
            slot_free(s);
            s->accepted = true; /* the app's from now on, like an accepted one */
            s->outgoing = true;
            s->connecting = true;
            s->peer_ip = ip;
            s->peer_port = port;
            return i;
        }
    }
    return ML_ENOMEM;
}

enum ml_esp_at_op ml_esp_at_connect_state(const struct ml_esp_at *e, int slot)
{
    if (slot < 0 || slot >= ML_ESP_AT_SLOTS || !e->slots[slot].outgoing) {
        return ML_ESP_AT_OP_FAILED;
    }
    const struct ml_esp_at_slot *s = &e->slots[slot];
    if (s->connecting) {
        return ML_ESP_AT_OP_PENDING;
    }
    return s->link >= 0 && !s->peer_closed ? ML_ESP_AT_OP_OK : ML_ESP_AT_OP_FAILED;
}

void ml_esp_at_close(struct ml_esp_at *e, int slot)
{
    struct ml_esp_at_slot *s = app_slot(e, slot);
    if (s == NULL) {
        return;
    }
    if (s->link >= 0) {
        s->close_req = true; /* AT+CIPCLOSE after the queued bytes */
        s->accepted = false;
        ml_ring_clear(&s->rx);
    } else {
        slot_free(s);
    }
}

void ml_esp_at_unlisten(struct ml_esp_at *e, int listener)
{
    if (listener < 0 || listener >= ML_ESP_AT_LISTENERS || e->listeners[listener].port == 0u) {
        return;
    }
    if (e->listeners[listener].opened) {
        e->servers_reset = true; /* ESP-AT closes servers all at once; the rest reopen */
    }
    e->listeners[listener].port = 0;
    e->listeners[listener].opened = false;
    for (int i = 0; i < ML_ESP_AT_SLOTS; i++) {
        struct ml_esp_at_slot *s = &e->slots[i];
        if (s->listener == listener && !s->accepted && s->link >= 0) {
            s->close_req = true;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* API: MQTT                                                                 */
/* ------------------------------------------------------------------------- */

int ml_esp_at_mqtt_start(struct ml_esp_at *e, const struct ml_esp_at_mqtt_cfg *cfg)
{
    ML_VERIFY(cfg != NULL && ml_str_len(cfg->host) >= 1u, ML_EINVAL);
    ML_VERIFY(ml_str_len(cfg->host) < sizeof e->mqtt_host &&
                  ml_str_len(cfg->client_id) < sizeof e->mqtt_client_id &&
                  ml_str_len(cfg->username) < sizeof e->mqtt_user &&
                  ml_str_len(cfg->password) < sizeof e->mqtt_pass,
              ML_EINVAL);
    ML_VERIFY(cfg->scheme == ML_ESP_AT_MQTT_TCP ||
                  cfg->scheme == ML_ESP_AT_MQTT_TLS_VERIFY_SERVER ||
                  cfg->scheme == ML_ESP_AT_MQTT_TLS_CLIENT_CERT ||
                  cfg->scheme == ML_ESP_AT_MQTT_TLS_MUTUAL,
              ML_EINVAL);
    (void)ml_str_copy(e->mqtt_host, sizeof e->mqtt_host, cfg->host);
    (void)ml_str_copy(e->mqtt_client_id, sizeof e->mqtt_client_id,
                      cfg->client_id != NULL ? cfg->client_id : "");
    (void)ml_str_copy(e->mqtt_user, sizeof e->mqtt_user,
                      cfg->username != NULL ? cfg->username : "");
    (void)ml_str_copy(e->mqtt_pass, sizeof e->mqtt_pass,
                      cfg->password != NULL ? cfg->password : "");
    e->mqtt_gen = (uint8_t)((e->mqtt_gen + 1u) & 0x7Fu);
    e->mqtt_scheme = (uint8_t)cfg->scheme;
    e->mqtt_port = cfg->port;
    e->mqtt_enabled = true;
    e->mqtt_link = false; /* replaced: AT+MQTTCLEAN first */
    e->mqtt_step = 0;
    e->mqtt_clean_pending = false;
    e->mqtt_next_try = e->now;
    mqtt_backoff_reset(&e->mqtt_backoff);
    return ML_OK;
}

void ml_esp_at_mqtt_stop(struct ml_esp_at *e)
{
    e->mqtt_gen = (uint8_t)((e->mqtt_gen + 1u) & 0x7Fu);
    if (e->mqtt_enabled) {
        e->mqtt_clean_pending = true;
    }
    e->mqtt_enabled = false;
    e->mqtt_link = false;
    e->mqtt_step = 0;
    e->sub_pending = false;
    if (e->kind != K_MQTT_PUB) {
        ml_ring_clear(&e->pub);
    }
}

enum ml_esp_at_mqtt_state ml_esp_at_mqtt_state(const struct ml_esp_at *e)
{
    if (!e->mqtt_enabled) {
        return ML_ESP_AT_MQTT_DISABLED;
    }
    return e->mqtt_link ? ML_ESP_AT_MQTT_CONNECTED : ML_ESP_AT_MQTT_CONNECTING;
}

int ml_esp_at_mqtt_publish(struct ml_esp_at *e, const char *topic, const void *payload, size_t len)
{
    size_t tl = ml_str_len(topic);
    ML_VERIFY(tl >= 1u && tl <= 128u && (payload != NULL || len == 0u), ML_EINVAL);
    for (size_t i = 0; i < tl; i++) {
        ML_VERIFY(topic[i] != '+' && topic[i] != '#', ML_EINVAL);
    }
    ML_VERIFY(len <= 0xFFFFu && 4u + tl + len <= ML_ESP_AT_PUB_CAP, ML_EMSGSIZE);
    if (!e->mqtt_enabled || !e->mqtt_link || ml_ring_space(&e->pub) < 4u + tl + len) {
        return ML_EAGAIN;
    }
    uint8_t h[4] = {(uint8_t)tl, (uint8_t)(tl >> 8), (uint8_t)len, (uint8_t)(len >> 8)};
    (void)ml_ring_write(&e->pub, h, sizeof h);
    (void)ml_ring_write(&e->pub, topic, tl);
    (void)ml_ring_write(&e->pub, payload, len);
    return ML_OK;
}

int ml_esp_at_mqtt_subscribe(struct ml_esp_at *e, const char *filter)
{
    size_t n = filter != NULL ? ml_str_len(filter) : 0u;
    ML_VERIFY(n >= 1u && n <= ML_ESP_AT_SUB_TOPIC_MAX, ML_EINVAL);
    for (size_t i = 0; i < n; i++) {
        ML_VERIFY(filter[i] != '"', ML_EINVAL);
    }
    if (!e->mqtt_enabled || !e->mqtt_link) {
        return ML_EAGAIN;
    }
    (void)ml_str_copy(e->sub_filter, sizeof e->sub_filter, filter);
    e->sub_pending = true;
    return ML_OK;
}

int ml_esp_at_mqtt_receive(struct ml_esp_at *e, char *topic, size_t topic_cap, uint8_t *payload,
                           size_t cap, size_t *len)
{
    ML_VERIFY(topic != NULL && len != NULL && (payload != NULL || cap == 0u), ML_EINVAL);
    if (e->sub_used == 0u) {
        return ML_EAGAIN;
    }
    const uint8_t *r = e->sub_buf;
    size_t tl = r[0], pl = (size_t)r[1] | ((size_t)r[2] << 8);
    size_t rec = 3u + tl + pl;
    int rc = ML_ENOSPC;
    if (tl < topic_cap && pl <= cap) {
        ml_mem_copy(topic, &r[3], tl);
        topic[tl] = '\0';
        ml_mem_copy(payload, &r[3u + tl], pl);
        *len = pl;
        rc = ML_OK;
    }
    /* the rest moves to the front, a message still arriving (written at sub_used) too */
    for (size_t i = rec; i < ML_MQTT_RX_BYTES; i++) {
        e->sub_buf[i - rec] = e->sub_buf[i];
    }
    e->sub_used = (uint16_t)(e->sub_used - rec);
    return rc;
}

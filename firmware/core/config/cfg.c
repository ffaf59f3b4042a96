/*
 * Configuration model: defaults, validation, JSON GET/PATCH codec with its own
 * bounded tokenizer, and the binary form kept in the config store.
 */
#include "cfg.h"

#include "err.h"
#include "mqtt/mqtt_policy.h"
#include "str.h"
#include "text.h"

/* ------------------------------------------------------------------------- */
/* Value checks                                                              */
/* ------------------------------------------------------------------------- */

size_t cfg_ipv4_format(uint32_t ip, char *out)
{
    size_t n = 0;
    for (int i = 3; i >= 0; i--) {
        unsigned v = (ip >> (8 * i)) & 0xFFu;
        if (v >= 100u) {
            out[n++] = (char)('0' + v / 100u);
        }
        if (v >= 10u) {
            out[n++] = (char)('0' + v / 10u % 10u);
        }
        out[n++] = (char)('0' + v % 10u);
        if (i > 0) {
            out[n++] = '.';
        }
    }
    out[n] = '\0';
    return n;
}

int cfg_ipv4_parse(const char *s, size_t len, uint32_t *ip)
{
    uint32_t v = 0;
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            ML_VERIFY(i < len && s[i] == '.', ML_EINVAL);
            i++;
        }
        size_t start = i;
        unsigned n = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3u) {
            n = n * 10u + (unsigned)(s[i] - '0');
            i++;
        }
        ML_VERIFY(i > start && n <= 255u, ML_EINVAL);
        ML_VERIFY(!(s[start] == '0' && i - start > 1u), ML_EINVAL); /* no octal look-alikes */
        v = (v << 8) | n;
    }
    ML_VERIFY(i == len, ML_EINVAL);
    *ip = v;
    return ML_OK;
}

uint32_t cfg_prefix_to_mask(uint8_t prefix)
{
    if (prefix == 0u) {
        return 0;
    }
    if (prefix >= 32u) {
        return 0xFFFFFFFFu;
    }
    return ~((1u << (32u - prefix)) - 1u);
}

/* Netmask as the manual's prefix length ("24"), or as a contiguous dotted mask. */
static int netmask_parse(const char *s, size_t len, uint8_t *prefix)
{
    if (len >= 1u && len <= 2u && s[0] >= '0' && s[0] <= '9') {
        unsigned n = 0;
        for (size_t i = 0; i < len; i++) {
            ML_VERIFY(s[i] >= '0' && s[i] <= '9', ML_EINVAL);
            n = n * 10u + (unsigned)(s[i] - '0');
        }
        ML_VERIFY(!(s[0] == '0' && len > 1u), ML_EINVAL);
        ML_VERIFY(n >= 1u && n <= 32u, ML_EINVAL);
        *prefix = (uint8_t)n;
        return ML_OK;
    }
    uint32_t m;
    ML_VERIFY(cfg_ipv4_parse(s, len, &m) == ML_OK, ML_EINVAL);
    uint8_t p = 0;
    while (p < 32u && (m & (0x80000000u >> p)) != 0u) {
        p++;
    }
    ML_VERIFY(p >= 1u && m == cfg_prefix_to_mask(p), ML_EINVAL);
    *prefix = p;
    return ML_OK;
}

/* A unicast host address: not 0.x, not loopback, not multicast/reserved. */
static bool ip_is_host(uint32_t ip)
{
    uint32_t a = ip >> 24;
    return a != 0u && a != 127u && a < 224u;
}

static bool ch_is_name(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* The broker URL grammar is core/mqtt's (mqtt_policy.h), the one the ports use. */
static bool url_is_valid(const char *s, size_t len)
{
    return mqtt_broker_url_parse(s, len, NULL) == ML_OK;
}

/* Printable ASCII only (0x20..0x7E). */
static bool is_printable_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20u || (unsigned char)s[i] > 0x7Eu) {
            return false;
        }
    }
    return true;
}

/* No control characters (UTF-8 bytes >= 0x80 allowed). */
static bool has_no_controls(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20u || (unsigned char)s[i] == 0x7Fu) {
            return false;
        }
    }
    return true;
}

/* An MQTT topic level: no '/', '+', '#'. */
static bool site_is_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!ch_is_name(s[i])) {
            return false;
        }
    }
    return true;
}

static bool meter_name_is_valid(const char *s, size_t len, cfg_meter_type_fn meter_ok)
{
    if (len == 0u || len >= CFG_METER_TYPE_MAX || !site_is_valid(s, len)) {
        return false;
    }
    return meter_ok == 0 || meter_ok(s, len);
}

static int fail(struct cfg_error *err, const char *field, const char *reason)
{
    if (err != 0) {
        ml_str_copy(err->field, sizeof err->field, field);
        err->reason = reason;
    }
    return ML_EINVAL;
}

/* ------------------------------------------------------------------------- */
/* Defaults and whole-config validation                                      */
/* ------------------------------------------------------------------------- */

void cfg_defaults(struct cfg *c)
{
    ml_mem_zero(c, sizeof *c);
    ml_str_copy(c->meter_type, sizeof c->meter_type, CFG_DEFAULT_METER);
    c->netif = CFG_NETIF_ETHERNET;
    c->eth.mode = CFG_IP_DHCP;
    c->eth.st.prefix = 24;
    c->wifi.mode = CFG_IP_DHCP;
    c->wifi.st.prefix = 24;
    c->mqtt_enable = false;
    ml_str_copy(c->mqtt_broker, sizeof c->mqtt_broker, CFG_DEFAULT_BROKER);
}

static int iface_validate(const struct cfg_iface *f, const char *name, struct cfg_error *err)
{
    char path[40];
    size_t n = ml_str_len(name);
    ml_str_copy_n(path, sizeof path, name, n);
    if ((unsigned)f->mode >= (unsigned)CFG_IP_MODE_COUNT) {
        ml_str_copy_n(path + n, sizeof path - n, ".IpMode", 7);
        return fail(err, path, "must be \"DHCP\" or \"Static\"");
    }
    if (f->st.prefix < 1u || f->st.prefix > 32u) {
        ml_str_copy_n(path + n, sizeof path - n, ".StaticIPv4.Netmask", 19);
        return fail(err, path, "prefix length must be 1..32");
    }
    if (f->mode == CFG_IP_STATIC && !ip_is_host(f->st.ip)) {
        ml_str_copy_n(path + n, sizeof path - n, ".StaticIPv4.IpAddress", 21);
        return fail(err, path, "Static needs a unicast IpAddress");
    }
    return ML_OK;
}

int cfg_validate(const struct cfg *c, cfg_meter_type_fn meter_ok, struct cfg_error *err)
{
    size_t n = ml_str_len(c->meter_type);
    if (!meter_name_is_valid(c->meter_type, n, meter_ok)) {
        return fail(err, "MeterType", "unknown meter type");
    }
    if ((unsigned)c->netif >= (unsigned)CFG_NETIF_COUNT) {
        return fail(err, "DefaultNetIf", "must be \"Ethernet\" or \"WiFi\"");
    }
    int e = iface_validate(&c->eth, "Ethernet", err);
    if (e < 0) {
        return e;
    }
    e = iface_validate(&c->wifi, "WiFi", err);
    if (e < 0) {
        return e;
    }
    size_t ssid = ml_str_len(c->wifi_ssid);
    if (ssid >= CFG_SSID_MAX || !has_no_controls(c->wifi_ssid, ssid)) {
        return fail(err, "WiFi.ConnectionData.WiFiSSID", "invalid SSID");
    }
    if (c->netif == CFG_NETIF_WIFI && ssid == 0u) {
        return fail(err, "WiFi.ConnectionData.WiFiSSID", "DefaultNetIf WiFi needs a WiFiSSID");
    }
    size_t psk = ml_str_len(c->wifi_password);
    if (!(psk == 0u || (psk >= 8u && psk <= 63u)) || !is_printable_ascii(c->wifi_password, psk)) {
        return fail(err, "WiFi.ConnectionData.WiFiPassword", "WPA2 passphrase: 8..63 ASCII");
    }
    if (!url_is_valid(c->mqtt_broker, ml_str_len(c->mqtt_broker))) {
        return fail(err, "MQTT.Broker", "must be mqtt://host[:port] or mqtts://host[:port]");
    }
    if (!site_is_valid(c->mqtt_site, ml_str_len(c->mqtt_site))) {
        return fail(err, "MQTT.Site", "only letters, digits, '-', '_' and '.'");
    }
    if (!is_printable_ascii(c->mqtt_user, ml_str_len(c->mqtt_user))) {
        return fail(err, "MQTT.Username", "printable ASCII only");
    }
    if (!has_no_controls(c->mqtt_password, ml_str_len(c->mqtt_password))) {
        return fail(err, "MQTT.Password", "no control characters");
    }
    return ML_OK;
}

/* ------------------------------------------------------------------------- */
/* JSON writer                                                               */
/* ------------------------------------------------------------------------- */

/* jw_str: a NUL-terminated string as a JSON string. */
static void jw_str(struct ml_text *w, const char *s)
{
    ml_text_json_str(w, s, ml_str_len(s));
}

static void jw_key_str(struct ml_text *w, const char *key, const char *val)
{
    jw_str(w, key);
    ml_text_put(w, ":");
    jw_str(w, val);
}

static void jw_ip(struct ml_text *w, const char *key, uint32_t ip)
{
    char b[16];
    if (ip == 0u) {
        b[0] = '\0';
    } else {
        cfg_ipv4_format(ip, b);
    }
    jw_key_str(w, key, b);
}

static void jw_iface(struct ml_text *w, const struct cfg_iface *f)
{
    char prefix[4];
    unsigned p = f->st.prefix;
    size_t k = 0;
    if (p >= 10u) {
        prefix[k++] = (char)('0' + p / 10u);
    }
    prefix[k++] = (char)('0' + p % 10u);
    prefix[k] = '\0';
    jw_key_str(w, "IpMode", f->mode == CFG_IP_STATIC ? "Static" : "DHCP");
    ml_text_put(w, ",\"StaticIPv4\":{");
    jw_ip(w, "IpAddress", f->st.ip);
    ml_text_put(w, ",");
    jw_key_str(w, "Netmask", prefix);
    ml_text_put(w, ",");
    jw_ip(w, "Gateway", f->st.gateway);
    ml_text_put(w, ",");
    jw_ip(w, "DNS", f->st.dns);
    ml_text_put(w, "}");
}

static const char *masked(const char *pw)
{
    return pw[0] == '\0' ? "" : CFG_PASSWORD_MASK;
}

int cfg_json_render(const struct cfg *c, char *out, size_t cap)
{
    struct ml_text w;
    ml_text_init(&w, out, cap);
    ml_text_put(&w, "{");
    jw_key_str(&w, "MeterType", c->meter_type);
    ml_text_put(&w, ",");
    jw_key_str(&w, "DefaultNetIf", c->netif == CFG_NETIF_WIFI ? "WiFi" : "Ethernet");
    ml_text_put(&w, ",\"Ethernet\":{");
    jw_iface(&w, &c->eth);
    ml_text_put(&w, "},\"WiFi\":{");
    jw_iface(&w, &c->wifi);
    ml_text_put(&w, ",\"ConnectionData\":{");
    jw_key_str(&w, "WiFiSSID", c->wifi_ssid);
    ml_text_put(&w, ",");
    jw_key_str(&w, "WiFiPassword", masked(c->wifi_password));
    ml_text_put(&w, "}},\"MQTT\":{\"Enable\":");
    ml_text_put(&w, c->mqtt_enable ? "true" : "false");
    ml_text_put(&w, ",");
    jw_key_str(&w, "Broker", c->mqtt_broker);
    ml_text_put(&w, ",");
    jw_key_str(&w, "Site", c->mqtt_site);
    ml_text_put(&w, ",");
    jw_key_str(&w, "Username", c->mqtt_user);
    ml_text_put(&w, ",");
    jw_key_str(&w, "Password", masked(c->mqtt_password));
    ml_text_put(&w, "}}");
    return out == NULL ? ML_ENOSPC : ml_text_end(&w);
}

/* ------------------------------------------------------------------------- */
/* JSON tokenizer (RFC 8259), bounded: tokens in pre-order, no heap          */
/* ------------------------------------------------------------------------- */

enum jtype {
    J_OBJ = 0,
    J_ARR,
    J_STR,
    J_NUM,
    J_TRUE,
    J_FALSE,
    J_NULL,
};

struct jtok {
    uint8_t type;
    uint16_t start; /* strings: first byte after the quote */
    uint16_t end;   /* strings: the closing quote */
    uint16_t next;  /* index of the token after this subtree */
};

struct jp {
    const char *s;
    size_t len;
    size_t pos;
    struct jtok *tok;
    size_t ntok;
    size_t cap;
    bool too_big;
};

static void jp_ws(struct jp *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r')) {
        p->pos++;
    }
}

static int jp_new(struct jp *p, enum jtype t, size_t start)
{
    if (p->ntok >= p->cap) {
        p->too_big = true;
        return ML_EMSGSIZE;
    }
    struct jtok *k = &p->tok[p->ntok];
    k->type = (uint8_t)t;
    k->start = (uint16_t)start;
    k->end = (uint16_t)start;
    k->next = 0;
    return (int)p->ntok++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Validate a string body: escapes well-formed, no raw control characters. */
static int jp_string(struct jp *p)
{
    p->pos++; /* opening quote */
    int t = jp_new(p, J_STR, p->pos);
    if (t < 0) {
        return t;
    }
    while (p->pos < p->len) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->tok[t].end = (uint16_t)p->pos;
            p->pos++;
            p->tok[t].next = (uint16_t)p->ntok;
            return t;
        }
        ML_VERIFY(c >= 0x20u, ML_EINVAL);
        if (c == '\\') {
            ML_VERIFY(p->pos + 1u < p->len, ML_EINVAL);
            char e = p->s[p->pos + 1u];
            if (e == 'u') {
                ML_VERIFY(p->pos + 5u < p->len, ML_EINVAL);
                for (size_t i = 2; i < 6u; i++) {
                    ML_VERIFY(hexval(p->s[p->pos + i]) >= 0, ML_EINVAL);
                }
                p->pos += 6;
                continue;
            }
            ML_VERIFY(e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                          e == 'r' || e == 't',
                      ML_EINVAL);
            p->pos += 2;
            continue;
        }
        p->pos++;
    }
    return ML_EINVAL; /* unterminated */
}

static int jp_number(struct jp *p)
{
    size_t s = p->pos;
    int t = jp_new(p, J_NUM, s);
    if (t < 0) {
        return t;
    }
    if (p->pos < p->len && p->s[p->pos] == '-') {
        p->pos++;
    }
    size_t d0 = p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        p->pos++;
    }
    ML_VERIFY(p->pos > d0, ML_EINVAL);
    ML_VERIFY(!(p->s[d0] == '0' && p->pos - d0 > 1u), ML_EINVAL);
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        size_t f0 = p->pos;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            p->pos++;
        }
        ML_VERIFY(p->pos > f0, ML_EINVAL);
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) {
            p->pos++;
        }
        size_t e0 = p->pos;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            p->pos++;
        }
        ML_VERIFY(p->pos > e0, ML_EINVAL);
    }
    p->tok[t].end = (uint16_t)p->pos;
    p->tok[t].next = (uint16_t)p->ntok;
    return t;
}

static int jp_literal(struct jp *p, const char *lit, enum jtype type)
{
    size_t n = ml_str_len(lit);
    ML_VERIFY(p->len - p->pos >= n && ml_str_eq_n(&p->s[p->pos], n, lit), ML_EINVAL);
    int t = jp_new(p, type, p->pos);
    if (t < 0) {
        return t;
    }
    p->pos += n;
    p->tok[t].end = (uint16_t)p->pos;
    p->tok[t].next = (uint16_t)p->ntok;
    return t;
}

static int jp_value(struct jp *p, unsigned depth);

static int jp_container(struct jp *p, unsigned depth, bool is_obj)
{
    if (depth >= CFG_JSON_MAX_DEPTH) {
        p->too_big = true;
        return ML_EMSGSIZE;
    }
    int t = jp_new(p, is_obj ? J_OBJ : J_ARR, p->pos);
    if (t < 0) {
        return t;
    }
    p->pos++;
    jp_ws(p);
    char close = is_obj ? '}' : ']';
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            jp_ws(p);
            if (is_obj) {
                ML_VERIFY(p->pos < p->len && p->s[p->pos] == '"', ML_EINVAL);
                int k = jp_string(p);
                if (k < 0) {
                    return k;
                }
                jp_ws(p);
                ML_VERIFY(p->pos < p->len && p->s[p->pos] == ':', ML_EINVAL);
                p->pos++;
                jp_ws(p);
            }
            int v = jp_value(p, depth + 1u);
            if (v < 0) {
                return v;
            }
            jp_ws(p);
            ML_VERIFY(p->pos < p->len, ML_EINVAL);
            if (p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            ML_VERIFY(p->s[p->pos] == close, ML_EINVAL);
            p->pos++;
            break;
        }
    }
    p->tok[t].end = (uint16_t)p->pos;
    p->tok[t].next = (uint16_t)p->ntok;
    return t;
}

static int jp_value(struct jp *p, unsigned depth)
{
    jp_ws(p);
    ML_VERIFY(p->pos < p->len, ML_EINVAL);
    char c = p->s[p->pos];
    switch (c) {
    case '{':
        return jp_container(p, depth, true);
    case '[':
        return jp_container(p, depth, false);
    case '"':
        return jp_string(p);
    case 't':
        return jp_literal(p, "true", J_TRUE);
    case 'f':
        return jp_literal(p, "false", J_FALSE);
    case 'n':
        return jp_literal(p, "null", J_NULL);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            return jp_number(p);
        }
        return ML_EINVAL;
    }
}

/* Decode the string token @p k into @p out (cap bytes incl. NUL), UTF-8 for \u.
 * @return decoded length, ML_ENOSPC when it does not fit, ML_EINVAL for \u0000
 * or a lone surrogate. */
static int jstr_decode(const struct jp *p, const struct jtok *k, char *out, size_t cap)
{
    size_t n = 0;
    size_t i = k->start;
    while (i < k->end) {
        char c = p->s[i];
        uint32_t cp;
        if (c != '\\') {
            cp = (uint8_t)c;
            ML_VERIFY(n + 1u < cap, ML_ENOSPC);
            out[n++] = c;
            i++;
            continue;
        }
        char e = p->s[i + 1u];
        i += 2;
        switch (e) {
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            cp = 0;
            for (size_t j = 0; j < 4u; j++) {
                cp = (cp << 4) | (uint32_t)hexval(p->s[i + j]);
            }
            i += 4;
            if (cp >= 0xD800u && cp <= 0xDBFFu) {
                /* a high surrogate must be followed by \uDC00..\uDFFF */
                ML_VERIFY(i + 6u <= k->end && p->s[i] == '\\' && p->s[i + 1u] == 'u', ML_EINVAL);
                uint32_t lo = 0;
                for (size_t j = 2; j < 6u; j++) {
                    lo = (lo << 4) | (uint32_t)hexval(p->s[i + j]);
                }
                ML_VERIFY(lo >= 0xDC00u && lo <= 0xDFFFu, ML_EINVAL);
                cp = 0x10000u + ((cp - 0xD800u) << 10) + (lo - 0xDC00u);
                i += 6;
            } else {
                ML_VERIFY(!(cp >= 0xDC00u && cp <= 0xDFFFu), ML_EINVAL);
            }
            ML_VERIFY(cp != 0u, ML_EINVAL);
            break;
        default: /* '"', '\\', '/' */
            cp = (uint8_t)e;
            break;
        }
        uint8_t b[4];
        size_t m;
        if (cp < 0x80u) {
            b[0] = (uint8_t)cp;
            m = 1;
        } else if (cp < 0x800u) {
            b[0] = (uint8_t)(0xC0u | (cp >> 6));
            b[1] = (uint8_t)(0x80u | (cp & 0x3Fu));
            m = 2;
        } else if (cp < 0x10000u) {
            b[0] = (uint8_t)(0xE0u | (cp >> 12));
            b[1] = (uint8_t)(0x80u | ((cp >> 6) & 0x3Fu));
            b[2] = (uint8_t)(0x80u | (cp & 0x3Fu));
            m = 3;
        } else {
            b[0] = (uint8_t)(0xF0u | (cp >> 18));
            b[1] = (uint8_t)(0x80u | ((cp >> 12) & 0x3Fu));
            b[2] = (uint8_t)(0x80u | ((cp >> 6) & 0x3Fu));
            b[3] = (uint8_t)(0x80u | (cp & 0x3Fu));
            m = 4;
        }
        ML_VERIFY(n + m < cap, ML_ENOSPC);
        for (size_t j = 0; j < m; j++) {
            out[n++] = (char)b[j];
        }
    }
    out[n] = '\0';
    return (int)n;
}

/* ------------------------------------------------------------------------- */
/* PATCH                                                                     */
/* ------------------------------------------------------------------------- */

struct patch {
    const struct jp *p;
    struct cfg *c;
    cfg_meter_type_fn meter_ok;
    struct cfg_error *err;
    char path[48];
};

/* Append ".key" (or "key" at the root) to the path; returns the old length. */
static size_t path_push(struct patch *x, const struct jtok *key)
{
    size_t old = ml_str_len(x->path);
    size_t n = old;
    if (n > 0u && n + 1u < sizeof x->path) {
        x->path[n++] = '.';
    }
    for (size_t i = key->start; i < key->end && n + 1u < sizeof x->path; i++) {
        char ch = x->p->s[i];
        x->path[n++] = (ch >= 0x20 && ch < 0x7F && ch != '"' && ch != '\\') ? ch : '?';
    }
    x->path[n] = '\0';
    return old;
}

static void path_pop(struct patch *x, size_t old)
{
    x->path[old] = '\0';
}

static int pfail(struct patch *x, const char *reason)
{
    return fail(x->err, x->path, reason);
}

/* Decode a string value into @p dst (cap) with a type and length check. */
static int get_str(struct patch *x, size_t t, char *dst, size_t cap)
{
    const struct jtok *k = &x->p->tok[t];
    if (k->type != J_STR) {
        return pfail(x, "must be a string");
    }
    int n = jstr_decode(x->p, k, dst, cap);
    if (n == ML_ENOSPC) {
        return pfail(x, "too long");
    }
    if (n < 0) {
        return pfail(x, "invalid string escape");
    }
    return n;
}

static int set_password(struct patch *x, size_t t, char *dst, size_t cap)
{
    char buf[CFG_PASSWORD_MAX > CFG_WIFI_PSK_MAX ? CFG_PASSWORD_MAX : CFG_WIFI_PSK_MAX];
    int n = get_str(x, t, buf, cap);
    if (n < 0) {
        return n;
    }
    if (ml_str_eq_n(buf, (size_t)n, CFG_PASSWORD_MASK)) {
        return ML_OK; /* the masked value read by GET: unchanged */
    }
    ml_str_copy_n(dst, cap, buf, (size_t)n);
    return ML_OK;
}

static int set_ipv4(struct patch *x, size_t t, uint32_t *dst, bool host_required)
{
    char buf[20];
    int n = get_str(x, t, buf, sizeof buf);
    if (n == ML_EINVAL && x->p->tok[t].type == J_STR) {
        return pfail(x, "invalid IPv4 address");
    }
    if (n < 0) {
        return n;
    }
    if (n == 0) {
        *dst = 0; /* "" clears (an IpAddress is then required again by IpMode Static) */
        return ML_OK;
    }
    uint32_t ip;
    if (cfg_ipv4_parse(buf, (size_t)n, &ip) < 0 || (host_required && !ip_is_host(ip))) {
        return pfail(x, "invalid IPv4 address");
    }
    *dst = ip;
    return ML_OK;
}

typedef int (*obj_fn)(struct patch *x, const struct jtok *key, size_t val);

/* Walk the object at token @p t, calling @p fn for every member. */
static int walk_obj(struct patch *x, size_t t, obj_fn fn)
{
    const struct jtok *o = &x->p->tok[t];
    if (o->type != J_OBJ) {
        return pfail(x, "must be an object");
    }
    size_t i = t + 1u;
    while (i < o->next) {
        const struct jtok *key = &x->p->tok[i];
        size_t val = i + 1u;
        size_t old = path_push(x, key);
        int e = fn(x, key, val);
        if (e < 0) {
            return e;
        }
        path_pop(x, old);
        i = x->p->tok[val].next;
    }
    return ML_OK;
}

static const struct jtok *key_name(struct patch *x, const struct jtok *key, const char *lit)
{
    return ml_str_eq_n(&x->p->s[key->start], (size_t)(key->end - key->start), lit) ? key : 0;
}

static struct cfg_iface *cur_iface(struct patch *x)
{
    return x->path[0] == 'W' ? &x->c->wifi : &x->c->eth;
}

static int m_static(struct patch *x, const struct jtok *key, size_t val)
{
    struct cfg_iface *f = cur_iface(x);
    if (key_name(x, key, "IpAddress")) {
        return set_ipv4(x, val, &f->st.ip, true);
    }
    if (key_name(x, key, "Gateway")) {
        return set_ipv4(x, val, &f->st.gateway, false);
    }
    if (key_name(x, key, "DNS")) {
        return set_ipv4(x, val, &f->st.dns, false);
    }
    if (key_name(x, key, "Netmask")) {
        char buf[20];
        int n = get_str(x, val, buf, sizeof buf);
        if (n < 0 && x->p->tok[val].type != J_STR) {
            return n;
        }
        if (n < 0 || netmask_parse(buf, (size_t)n, &f->st.prefix) < 0) {
            return pfail(x, "prefix length 1..32 as a string (or a dotted netmask)");
        }
        return ML_OK;
    }
    return pfail(x, "unknown key");
}

static int m_conn(struct patch *x, const struct jtok *key, size_t val)
{
    if (key_name(x, key, "WiFiSSID")) {
        int n = get_str(x, val, x->c->wifi_ssid, sizeof x->c->wifi_ssid);
        if (n < 0) {
            return n;
        }
        if (!has_no_controls(x->c->wifi_ssid, (size_t)n)) {
            return pfail(x, "SSID: at most 32 bytes, no control characters");
        }
        return ML_OK;
    }
    if (key_name(x, key, "WiFiPassword")) {
        int e = set_password(x, val, x->c->wifi_password, sizeof x->c->wifi_password);
        if (e < 0) {
            return e;
        }
        size_t n = ml_str_len(x->c->wifi_password);
        if (!(n == 0u || n >= 8u) || !is_printable_ascii(x->c->wifi_password, n)) {
            return pfail(x, "WPA2 passphrase: 8..63 ASCII");
        }
        return ML_OK;
    }
    return pfail(x, "unknown key");
}

static int m_iface(struct patch *x, const struct jtok *key, size_t val)
{
    struct cfg_iface *f = cur_iface(x);
    if (key_name(x, key, "IpMode")) {
        char buf[8];
        int n = get_str(x, val, buf, sizeof buf);
        if (n < 0 && x->p->tok[val].type != J_STR) {
            return n;
        }
        if (n >= 0 && ml_str_eq_n(buf, (size_t)n, "DHCP")) {
            f->mode = CFG_IP_DHCP;
        } else if (n >= 0 && ml_str_eq_n(buf, (size_t)n, "Static")) {
            f->mode = CFG_IP_STATIC;
        } else {
            return pfail(x, "must be \"DHCP\" or \"Static\"");
        }
        return ML_OK;
    }
    if (key_name(x, key, "StaticIPv4")) {
        return walk_obj(x, val, m_static);
    }
    if (x->path[0] == 'W' && key_name(x, key, "ConnectionData")) {
        return walk_obj(x, val, m_conn);
    }
    return pfail(x, "unknown key");
}

static int m_mqtt(struct patch *x, const struct jtok *key, size_t val)
{
    struct cfg *c = x->c;
    if (key_name(x, key, "Enable")) {
        uint8_t ty = x->p->tok[val].type;
        if (ty != J_TRUE && ty != J_FALSE) {
            return pfail(x, "must be true or false");
        }
        c->mqtt_enable = ty == J_TRUE;
        return ML_OK;
    }
    if (key_name(x, key, "Broker")) {
        int n = get_str(x, val, c->mqtt_broker, sizeof c->mqtt_broker);
        if (n < 0) {
            return n;
        }
        if (!url_is_valid(c->mqtt_broker, (size_t)n)) {
            return pfail(x, "must be mqtt://host[:port] or mqtts://host[:port]");
        }
        return ML_OK;
    }
    if (key_name(x, key, "Site")) {
        int n = get_str(x, val, c->mqtt_site, sizeof c->mqtt_site);
        if (n < 0) {
            return n;
        }
        if (!site_is_valid(c->mqtt_site, (size_t)n)) {
            return pfail(x, "only letters, digits, '-', '_' and '.'");
        }
        return ML_OK;
    }
    if (key_name(x, key, "Username")) {
        int n = get_str(x, val, c->mqtt_user, sizeof c->mqtt_user);
        if (n < 0) {
            return n;
        }
        if (!is_printable_ascii(c->mqtt_user, (size_t)n)) {
            return pfail(x, "printable ASCII only");
        }
        return ML_OK;
    }
    if (key_name(x, key, "Password")) {
        int e = set_password(x, val, c->mqtt_password, sizeof c->mqtt_password);
        if (e < 0) {
            return e;
        }
        if (!has_no_controls(c->mqtt_password, ml_str_len(c->mqtt_password))) {
            return pfail(x, "no control characters");
        }
        return ML_OK;
    }
    return pfail(x, "unknown key");
}

static int m_root(struct patch *x, const struct jtok *key, size_t val)
{
    struct cfg *c = x->c;
    if (key_name(x, key, "MeterType")) {
        int n = get_str(x, val, c->meter_type, sizeof c->meter_type);
        if (n == ML_EINVAL && x->p->tok[val].type == J_STR) {
            return pfail(x, "unknown meter type");
        }
        if (n < 0) {
            return n;
        }
        if (!meter_name_is_valid(c->meter_type, (size_t)n, x->meter_ok)) {
            return pfail(x, "unknown meter type");
        }
        return ML_OK;
    }
    if (key_name(x, key, "DefaultNetIf")) {
        char buf[12];
        int n = get_str(x, val, buf, sizeof buf);
        if (n < 0 && x->p->tok[val].type != J_STR) {
            return n;
        }
        if (n >= 0 && ml_str_eq_n(buf, (size_t)n, "Ethernet")) {
            c->netif = CFG_NETIF_ETHERNET;
        } else if (n >= 0 && ml_str_eq_n(buf, (size_t)n, "WiFi")) {
            c->netif = CFG_NETIF_WIFI;
        } else {
            return pfail(x, "must be \"Ethernet\" or \"WiFi\"");
        }
        return ML_OK;
    }
    if (key_name(x, key, "Ethernet") || key_name(x, key, "WiFi")) {
        return walk_obj(x, val, m_iface);
    }
    if (key_name(x, key, "MQTT")) {
        return walk_obj(x, val, m_mqtt);
    }
    return pfail(x, "unknown key");
}

int cfg_json_patch(struct cfg *c, const char *json, size_t len, cfg_meter_type_fn meter_ok,
                   struct cfg_error *err)
{
    if (err != 0) {
        err->field[0] = '\0';
        err->reason = "";
    }
    ML_VERIFY(c != 0 && (json != 0 || len == 0u), ML_EFAULT);
    if (len > CFG_JSON_MAX_INPUT) {
        fail(err, "", "document too large");
        return ML_EMSGSIZE;
    }
    struct jtok toks[CFG_JSON_MAX_TOKENS];
    struct jp p = {json, len, 0, toks, 0, CFG_JSON_MAX_TOKENS, false};
    int root = jp_value(&p, 0);
    if (root >= 0) {
        jp_ws(&p);
        if (p.pos != len) {
            root = ML_EINVAL; /* trailing bytes after the document */
        }
    }
    if (root < 0) {
        if (p.too_big) {
            fail(err, "", "document too large or too deeply nested");
            return ML_EMSGSIZE;
        }
        fail(err, "", "malformed JSON");
        return ML_EINVAL;
    }
    if (toks[0].type != J_OBJ) {
        return fail(err, "", "must be a JSON object");
    }
    struct cfg tmp = *c;
    struct patch x;
    x.p = &p;
    x.c = &tmp;
    x.meter_ok = meter_ok;
    x.err = err;
    x.path[0] = '\0';
    int e = walk_obj(&x, 0, m_root);
    if (e < 0) {
        return e;
    }
    e = cfg_validate(&tmp, meter_ok, err);
    if (e < 0) {
        return e;
    }
    *c = tmp;
    return ML_OK;
}

int cfg_json_strings(const char *json, size_t len, struct cfg_json_str *f, size_t n,
                     struct cfg_error *err)
{
    if (err != 0) {
        err->field[0] = '\0';
        err->reason = "";
    }
    ML_VERIFY((json != 0 || len == 0u) && (f != 0 || n == 0u), ML_EFAULT);
    for (size_t i = 0; i < n; i++) {
        f[i].found = false;
        f[i].out[0] = '\0';
    }
    if (len > CFG_JSON_MAX_INPUT) {
        fail(err, "", "document too large");
        return ML_EMSGSIZE;
    }
    struct jtok toks[32];
    struct jp p = {json, len, 0, toks, 0, sizeof toks / sizeof toks[0], false};
    int root = jp_value(&p, 0);
    if (root >= 0) {
        jp_ws(&p);
        if (p.pos != len) {
            root = ML_EINVAL;
        }
    }
    if (root < 0) {
        if (p.too_big) {
            fail(err, "", "document too large or too deeply nested");
            return ML_EMSGSIZE;
        }
        return fail(err, "", "malformed JSON");
    }
    if (toks[0].type != J_OBJ) {
        return fail(err, "", "must be a JSON object");
    }
    struct patch x;
    x.p = &p;
    x.c = 0;
    x.meter_ok = 0;
    x.err = err;
    x.path[0] = '\0';
    for (size_t t = 1; t < toks[0].next;) {
        const struct jtok *key = &toks[t];
        size_t val = t + 1u;
        (void)path_push(&x, key);
        size_t i = 0;
        while (i < n &&
               !ml_str_eq_n(&json[key->start], (size_t)(key->end - key->start), f[i].key)) {
            i++;
        }
        if (i == n) {
            return pfail(&x, "unknown key");
        }
        int e = get_str(&x, val, f[i].out, f[i].cap);
        if (e < 0) {
            return ML_EINVAL;
        }
        f[i].found = true;
        x.path[0] = '\0';
        t = toks[val].next;
    }
    return ML_OK;
}

/* ------------------------------------------------------------------------- */
/* Binary form                                                               */
/* ------------------------------------------------------------------------- */

#define CFG_BLOB_VERSION 1u

struct bw {
    uint8_t *out;
    size_t cap;
    size_t n;
};

static void bw_u8(struct bw *w, uint8_t v)
{
    if (w->n < w->cap) {
        w->out[w->n] = v;
    }
    w->n++;
}

static void bw_u32(struct bw *w, uint32_t v)
{
    for (unsigned i = 0; i < 4u; i++) {
        bw_u8(w, (uint8_t)(v >> (8u * i)));
    }
}

static void bw_str(struct bw *w, const char *s)
{
    size_t n = ml_str_len(s);
    bw_u8(w, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        bw_u8(w, (uint8_t)s[i]);
    }
}

static void bw_iface(struct bw *w, const struct cfg_iface *f)
{
    bw_u8(w, (uint8_t)f->mode);
    bw_u32(w, f->st.ip);
    bw_u8(w, f->st.prefix);
    bw_u32(w, f->st.gateway);
    bw_u32(w, f->st.dns);
}

int cfg_encode(const struct cfg *c, uint8_t *out, size_t cap)
{
    struct bw w = {out, cap, 0};
    bw_u8(&w, CFG_BLOB_VERSION);
    bw_str(&w, c->meter_type);
    bw_u8(&w, (uint8_t)c->netif);
    bw_iface(&w, &c->eth);
    bw_iface(&w, &c->wifi);
    bw_str(&w, c->wifi_ssid);
    bw_str(&w, c->wifi_password);
    bw_u8(&w, c->mqtt_enable ? 1u : 0u);
    bw_str(&w, c->mqtt_broker);
    bw_str(&w, c->mqtt_site);
    bw_str(&w, c->mqtt_user);
    bw_str(&w, c->mqtt_password);
    if (w.n > cap) {
        return ML_ENOSPC;
    }
    return (int)w.n;
}

struct br {
    const uint8_t *in;
    size_t len;
    size_t n;
    bool bad;
};

static uint8_t br_u8(struct br *r)
{
    if (r->n >= r->len) {
        r->bad = true;
        return 0;
    }
    return r->in[r->n++];
}

static uint32_t br_u32(struct br *r)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 4u; i++) {
        v |= (uint32_t)br_u8(r) << (8u * i);
    }
    return v;
}

static void br_str(struct br *r, char *dst, size_t cap)
{
    size_t n = br_u8(r);
    if (n >= cap) {
        r->bad = true;
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = (char)br_u8(r);
        if (ch == '\0') {
            r->bad = true;
        }
        dst[i] = ch;
    }
    dst[n] = '\0';
}

static void br_iface(struct br *r, struct cfg_iface *f)
{
    uint8_t m = br_u8(r);
    f->mode = m == 1u ? CFG_IP_STATIC : CFG_IP_DHCP;
    r->bad = r->bad || m > 1u;
    f->st.ip = br_u32(r);
    f->st.prefix = br_u8(r);
    f->st.gateway = br_u32(r);
    f->st.dns = br_u32(r);
}

int cfg_decode(struct cfg *c, const uint8_t *in, size_t len, cfg_meter_type_fn meter_ok)
{
    ML_VERIFY(c != 0 && in != 0, ML_EFAULT);
    struct br r = {in, len, 0, false};
    struct cfg tmp;
    ml_mem_zero(&tmp, sizeof tmp);
    ML_VERIFY(br_u8(&r) == CFG_BLOB_VERSION, ML_EINVAL);
    br_str(&r, tmp.meter_type, sizeof tmp.meter_type);
    uint8_t nif = br_u8(&r);
    tmp.netif = nif == 1u ? CFG_NETIF_WIFI : CFG_NETIF_ETHERNET;
    r.bad = r.bad || nif > 1u;
    br_iface(&r, &tmp.eth);
    br_iface(&r, &tmp.wifi);
    br_str(&r, tmp.wifi_ssid, sizeof tmp.wifi_ssid);
    br_str(&r, tmp.wifi_password, sizeof tmp.wifi_password);
    uint8_t en = br_u8(&r);
    tmp.mqtt_enable = en == 1u;
    r.bad = r.bad || en > 1u;
    br_str(&r, tmp.mqtt_broker, sizeof tmp.mqtt_broker);
    br_str(&r, tmp.mqtt_site, sizeof tmp.mqtt_site);
    br_str(&r, tmp.mqtt_user, sizeof tmp.mqtt_user);
    br_str(&r, tmp.mqtt_password, sizeof tmp.mqtt_password);
    ML_VERIFY(!r.bad && r.n == len, ML_EINVAL);
    ML_VERIFY(cfg_validate(&tmp, meter_ok, 0) == ML_OK, ML_EINVAL);
    *c = tmp;
    return ML_OK;
}

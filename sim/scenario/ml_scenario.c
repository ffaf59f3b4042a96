/*
 * Scenario parser: libyaml's document API (every node keeps its line and
 * column), walked with strict helpers. The first error stops the parse and is
 * reported as file:line:column: message.
 */
#define _GNU_SOURCE
#include "ml_scenario.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "ml_yaml.h"
#include "mqtt/mqtt.h"
#include "mqtt/mqtt_policy.h"
#include "regmap/regmap.h"
#include "ui/ui.h"

/* ------------------------------------------------------------------------- */
/* Names                                                                     */
/* ------------------------------------------------------------------------- */

static const char *const fault_names[ML_SF_COUNT] = {
    "bit_flip",
    "crc_corrupt",
    "drop_bytes",
    "duplicate_bytes",
    "insert_bytes",
    "truncate",
    "oversize",
    "glue",
    "noise",
    "silence",
    "tic_historic",
    "line",
    "link_down",
    "link_up",
    "dhcp_fails",
    "dhcp_ok",
    "gateway_down",
    "gateway_up",
    "internet_down",
    "internet_up",
    "broker_down",
    "broker_up",
    "broker_rejects_credentials",
    "broker_accepts_credentials",
    "power_cycle",
    "power_off",
    "power_on",
    "reset",
    "flash",
};

bool ml_scn_fault_is_board(enum ml_scn_fault_kind k)
{
    return k >= ML_SF_POWER_CYCLE && k <= ML_SF_FLASH;
}

const char *ml_scn_fault_name(enum ml_scn_fault_kind k)
{
    return (unsigned)k < ML_SF_COUNT ? fault_names[k] : "?";
}

bool ml_scn_fault_is_telegram(enum ml_scn_fault_kind k)
{
    return k <= ML_SF_GLUE;
}

static const struct {
    const char *name;
    uint32_t rgb;
} colours[] = {
    {"off", UI_RGB_OFF},   {"red", UI_RGB_RED},         {"green", UI_RGB_GREEN},
    {"blue", UI_RGB_BLUE}, {"orange", UI_RGB_ORANGE},   {"yellow", UI_RGB_YELLOW},
    {"cyan", UI_RGB_CYAN}, {"magenta", UI_RGB_MAGENTA},
};

int ml_scn_colour_find(const char *name, uint32_t *rgb)
{
    for (size_t i = 0; i < sizeof colours / sizeof colours[0]; i++) {
        if (strcmp(colours[i].name, name) == 0) {
            *rgb = colours[i].rgb;
            return 0;
        }
    }
    return -1;
}

const char *ml_scn_colour_name(uint32_t rgb, char *buf)
{
    for (size_t i = 0; i < sizeof colours / sizeof colours[0]; i++) {
        if (colours[i].rgb == rgb) {
            return colours[i].name;
        }
    }
    snprintf(buf, 8, "#%06X", (unsigned)(rgb & 0xFFFFFFu));
    return buf;
}

/* ------------------------------------------------------------------------- */
/* Parser context and strict helpers                                         */
/* ------------------------------------------------------------------------- */

struct ctx {
    struct ml_yaml y; /* file name, document, error buffer (sim/yaml) */
    struct ml_scenario *s;
};

typedef yaml_node_t node_t;

static struct ml_scn_loc loc_of(struct ctx *c, const node_t *n)
{
    return (struct ml_scn_loc){c->s->path, (int)n->start_mark.line + 1,
                               (int)n->start_mark.column + 1};
}

/* Seconds: a number, or a string with a unit: "500ms", "90s", "15m", "24h". */
static int get_time(struct ctx *c, node_t *n, const char *what, double *out)
{
    double d;
    if (ml_yaml_get_secs(&c->y, n, what, &d) < 0) {
        return -1;
    }
    if (d > 400 * 86400.0) {
        return ml_yaml_fail(&c->y, n, "%s: %g s is more than 400 days", what, d);
    }
    *out = d;
    return 0;
}

static char *path_join(const char *dir, const char *rel)
{
    char *p;
    if (rel[0] == '/') {
        return strdup(rel);
    }
    if (asprintf(&p, "%s/%s", dir, rel) < 0) {
        abort();
    }
    return p;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    struct ml_buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        ml_buf_put(&b, tmp, n);
    }
    fclose(f);
    if (b.p == NULL) {
        ml_buf_put(&b, "", 0);
    }
    *len = b.len;
    return b.p;
}

/* ------------------------------------------------------------------------- */
/* Values                                                                    */
/* ------------------------------------------------------------------------- */

static int load_csv(struct ctx *c, node_t *at, const char *file, const char *column,
                    struct ml_scn_src *src)
{
    char *path = path_join(c->s->dir, file);
    size_t len;
    char *text = (char *)read_all(path, &len);
    if (text == NULL) {
        ml_yaml_fail(&c->y, at, "csv: cannot read '%s': %s", path, strerror(errno));
        free(path);
        return -1;
    }
    int col = -1, tcol = -1, ncols = 0, line = 0;
    size_t cap = 0;
    char *save = NULL;
    int rc = 0;
    for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        line++;
        size_t l = strlen(ln);
        if (l && ln[l - 1] == '\r') {
            ln[l - 1] = 0;
        }
        if (ln[0] == '#' || ln[0] == 0) {
            continue;
        }
        char *fs = NULL;
        int k = 0;
        if (col < 0 && ncols == 0) {
            for (char *f = strtok_r(ln, ",", &fs); f; f = strtok_r(NULL, ",", &fs), k++) {
                while (*f == ' ') {
                    f++;
                }
                if (!strcmp(f, column)) {
                    col = k;
                }
                if (!strcmp(f, "t") || !strcmp(f, "time_s")) {
                    tcol = k;
                }
            }
            ncols = k;
            if (col < 0) {
                rc = ml_yaml_fail(&c->y, at, "csv: %s has no column '%s' in its header line", path,
                                  column);
                break;
            }
            continue;
        }
        double row[64];
        for (char *f = strtok_r(ln, ",", &fs); f && k < 64; f = strtok_r(NULL, ",", &fs), k++) {
            char *end;
            row[k] = strtod(f, &end);
            while (*end == ' ') {
                end++;
            }
            if (end == f || *end) {
                rc = ml_yaml_fail(&c->y, at, "%s:%d: field %d is not a number ('%s')", path, line,
                                  k + 1, f);
                break;
            }
        }
        if (rc < 0) {
            break;
        }
        if (k != ncols) {
            rc = ml_yaml_fail(&c->y, at, "%s:%d: %d fields, the header has %d", path, line, k,
                              ncols);
            break;
        }
        if (src->n == cap) {
            cap = cap ? cap * 2 : 64;
            src->list = realloc(src->list, cap * sizeof(double));
            if (tcol >= 0) {
                src->t = realloc(src->t, cap * sizeof(double));
            }
        }
        src->list[src->n] = row[col];
        if (tcol >= 0) {
            if (src->n > 0 && row[tcol] < src->t[src->n - 1]) {
                rc = ml_yaml_fail(&c->y, at, "%s:%d: the time column goes backwards", path, line);
                break;
            }
            src->t[src->n] = row[tcol];
        }
        src->n++;
    }
    if (rc == 0 && src->n == 0) {
        rc = ml_yaml_fail(&c->y, at, "csv: %s has no data rows", path);
    }
    free(text);
    free(path);
    return rc;
}

static int parse_src(struct ctx *c, node_t *n, struct ml_scn_src *src)
{
    if (ml_yaml_is_null(n)) {
        src->kind = ML_SRC_ABSENT;
        return 0;
    }
    if (n->type == YAML_SCALAR_NODE) {
        src->kind = ML_SRC_CONST;
        return ml_yaml_get_num(&c->y, n, "a value", &src->c);
    }
    static const char *const keys[] = {"ramp", "list", "csv", "column", NULL};
    if (ml_yaml_check_keys(&c->y, n, "a value generator", keys) < 0) {
        return -1;
    }
    node_t *r = ml_yaml_get(&c->y, n, "ramp"), *l = ml_yaml_get(&c->y, n, "list"),
           *f = ml_yaml_get(&c->y, n, "csv");
    if ((r != NULL) + (l != NULL) + (f != NULL) != 1) {
        return ml_yaml_fail(&c->y, n, "a value generator needs exactly one of ramp, list, csv");
    }
    if (r) {
        static const char *const rk[] = {"from", "to", NULL};
        if (ml_yaml_check_keys(&c->y, r, "ramp", rk) < 0 || !ml_yaml_get(&c->y, r, "from") ||
            !ml_yaml_get(&c->y, r, "to")) {
            return c->y.failed ? -1 : ml_yaml_fail(&c->y, r, "ramp needs from and to");
        }
        src->kind = ML_SRC_RAMP;
        return ml_yaml_get_num(&c->y, ml_yaml_get(&c->y, r, "from"), "ramp from", &src->from) |
               ml_yaml_get_num(&c->y, ml_yaml_get(&c->y, r, "to"), "ramp to", &src->to);
    }
    if (l) {
        if (l->type != YAML_SEQUENCE_NODE ||
            l->data.sequence.items.top == l->data.sequence.items.start) {
            return ml_yaml_fail(&c->y, l, "list must be a non-empty list of numbers");
        }
        src->kind = ML_SRC_LIST;
        size_t cnt = (size_t)(l->data.sequence.items.top - l->data.sequence.items.start);
        src->list = calloc(cnt, sizeof(double));
        for (size_t i = 0; i < cnt; i++) {
            if (ml_yaml_get_num(&c->y, ml_yaml_node(&c->y, l->data.sequence.items.start[i]),
                                "list item", &src->list[i]) < 0) {
                return -1;
            }
        }
        src->n = cnt;
        return 0;
    }
    node_t *colnode = ml_yaml_get(&c->y, n, "column");
    if (colnode == NULL) {
        return ml_yaml_fail(&c->y, n, "csv needs column: the column to take");
    }
    if (ml_yaml_want_scalar(&c->y, f, "csv") < 0 ||
        ml_yaml_want_scalar(&c->y, colnode, "column") < 0) {
        return -1;
    }
    src->kind = ML_SRC_CSV;
    return load_csv(c, f, ml_yaml_sval(f), ml_yaml_sval(colnode), src);
}

static int parse_values(struct ctx *c, node_t *n, struct ml_scn_values *out)
{
    if (n->type != YAML_MAPPING_NODE) {
        return ml_yaml_fail(&c->y, n,
                            "values must be a map of reading keys (p_imp, l1_u, ...) to values");
    }
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    out->v = calloc(cnt ? cnt : 1, sizeof *out->v);
    out->n = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        node_t *k = ml_yaml_node(&c->y, p->key);
        if (k->type != YAML_SCALAR_NODE) {
            return ml_yaml_fail(&c->y, k, "value names must be reading keys");
        }
        int f = ml_meter_field_find(ml_yaml_sval(k));
        if (f < 0) {
            return ml_yaml_fail(&c->y, k,
                                "unknown value '%s' (use the reading keys of docs/scenarios.md: "
                                "p, p_imp, l1_u, e_imp_t1, ...)",
                                ml_yaml_sval(k));
        }
        for (size_t i = 0; i < out->n; i++) {
            if (out->v[i].field == f) {
                return ml_yaml_fail(&c->y, k, "value '%s' given twice", ml_yaml_sval(k));
            }
        }
        struct ml_scn_value *v = &out->v[out->n++];
        v->field = f;
        v->loc = loc_of(c, k);
        if (parse_src(c, ml_yaml_node(&c->y, p->value), &v->src) < 0) {
            return -1;
        }
    }
    return 0;
}

double ml_scn_src_eval(const struct ml_scn_src *src, double t, double from, double to, size_t k)
{
    switch (src->kind) {
    case ML_SRC_CONST:
        return src->c;
    case ML_SRC_RAMP: {
        double f = to > from ? (t - from) / (to - from) : 0;
        f = f < 0 ? 0 : (f > 1 ? 1 : f);
        return src->from + (src->to - src->from) * f;
    }
    case ML_SRC_LIST:
        return src->list[k % src->n];
    case ML_SRC_CSV:
        if (src->t == NULL) {
            return src->list[k % src->n];
        } else {
            /* the last row whose time is <= t - from (step hold) */
            double rel = t - from;
            size_t lo = 0, hi = src->n;
            while (hi - lo > 1) {
                size_t mid = (lo + hi) / 2;
                if (src->t[mid] <= rel) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            return src->list[lo];
        }
    default:
        return 0;
    }
}

void ml_scn_values_apply(const struct ml_scn_values *vals, double t, double from, double to,
                         size_t k, struct ml_meter_values *out)
{
    for (size_t i = 0; i < vals->n; i++) {
        const struct ml_scn_value *v = &vals->v[i];
        if (v->src.kind == ML_SRC_ABSENT) {
            out->has[v->field] = false;
        } else {
            out->has[v->field] = true;
            out->v[v->field] = ml_scn_src_eval(&v->src, t, from, to, k);
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Top-level sections                                                        */
/* ------------------------------------------------------------------------- */

static int parse_ipv4(struct ctx *c, node_t *n, const char *what, uint32_t *ip, uint32_t *mask)
{
    if (ml_yaml_want_scalar(&c->y, n, what) < 0) {
        return -1;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%s", ml_yaml_sval(n));
    char *slash = strchr(buf, '/');
    int prefix = 24;
    if (slash) {
        *slash = 0;
        char *end;
        prefix = (int)strtol(slash + 1, &end, 10);
        if (*end || prefix < 1 || prefix > 32 || mask == NULL) {
            return ml_yaml_fail(&c->y, n, "%s: bad prefix length in '%s'", what, ml_yaml_sval(n));
        }
    }
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1) {
        return ml_yaml_fail(&c->y, n, "%s must be an IPv4 address, not '%s'", what,
                            ml_yaml_sval(n));
    }
    *ip = ntohl(a.s_addr);
    if (mask) {
        *mask = prefix == 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> prefix);
    }
    return 0;
}

/* enum p1mb_variant order (firmware/apps/p1mb/p1mb_app.h) */
static const char *const variant_names[] = {"pro380", "acr10rh", "sdm630", "xemex"};
static const char *const variant_templates[] = {"Inepro-PRO380", "Acrel-ACR10RH", "Eastron-SDM630",
                                                "Xemex"};

static int parse_device(struct ctx *c, node_t *n)
{
    struct ml_scenario *s = c->s;
    static const char *const keys[] = {"serial",    "meter_type",    "mqtt",      "mqtt_site",
                                       "mqtt_user", "mqtt_password", "site",      "factory_default",
                                       "network",   "interface",     "utc_start", "variant",
                                       NULL};
    if (ml_yaml_check_keys(&c->y, n, "device", keys) < 0) {
        return -1;
    }
    node_t *v;
    if ((v = ml_yaml_get(&c->y, n, "variant"))) {
        if (s->product != ML_SCN_P1MB) {
            return ml_yaml_fail(&c->y, v,
                                "variant is for product p1mb (the register map it emulates)");
        }
        if (ml_yaml_want_scalar(&c->y, v, "variant") < 0) {
            return -1;
        }
        s->variant = -1;
        for (int i = 0; i < 4; i++) {
            if (!strcmp(ml_yaml_sval(v), variant_names[i])) {
                s->variant = i;
            }
        }
        if (s->variant < 0) {
            return ml_yaml_fail(&c->y, v,
                                "variant must be sdm630, pro380, acr10rh or xemex, not '%s'",
                                ml_yaml_sval(v));
        }
        free(s->meter_type);
        s->meter_type = strdup(variant_templates[s->variant]);
    }
    if (s->product == ML_SCN_P1MB && ml_yaml_get(&c->y, n, "meter_type")) {
        return ml_yaml_fail(&c->y, ml_yaml_get(&c->y, n, "meter_type"),
                            "a p1mb's registers follow its variant, not "
                            "meter_type");
    }
    if ((v = ml_yaml_get(&c->y, n, "serial")) &&
        ml_yaml_get_strdup(&c->y, v, "serial", &s->serial) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "meter_type"))) {
        if (ml_yaml_get_strdup(&c->y, v, "meter_type", &s->meter_type) < 0) {
            return -1;
        }
        if (regmap_template_find(s->meter_type, strlen(s->meter_type)) == NULL) {
            return ml_yaml_fail(&c->y, v, "unknown meter_type '%s' (see `meterlab regmap`)",
                                s->meter_type);
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "mqtt"))) {
        if (v->type == YAML_SCALAR_NODE && !strcmp(ml_yaml_sval(v), "tls")) {
            s->mqtt = s->mqtt_tls = true; /* mqtts:// with a client certificate */
        } else if (ml_yaml_get_bool(&c->y, v, "mqtt", &s->mqtt) < 0) {
            return -1;
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "mqtt_site")) &&
        ml_yaml_get_strdup(&c->y, v, "mqtt_site", &s->mqtt_site) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "site")) &&
        ml_yaml_get_strdup(&c->y, v, "site", &s->mqtt_site) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "mqtt_user")) &&
        ml_yaml_get_strdup(&c->y, v, "mqtt_user", &s->mqtt_user) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "mqtt_password")) &&
        ml_yaml_get_strdup(&c->y, v, "mqtt_password", &s->mqtt_password) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "factory_default")) &&
        ml_yaml_get_bool(&c->y, v, "factory_default", &s->factory_default) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "interface"))) {
        if (ml_yaml_want_scalar(&c->y, v, "interface") < 0) {
            return -1;
        }
        if (!strcmp(ml_yaml_sval(v), "ethernet")) {
            s->iface = 0;
        } else if (!strcmp(ml_yaml_sval(v), "wifi")) {
            s->iface = 1;
        } else {
            return ml_yaml_fail(&c->y, v, "interface must be ethernet or wifi, not '%s'",
                                ml_yaml_sval(v));
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "utc_start"))) {
        long t;
        if (ml_yaml_get_long(&c->y, v, "utc_start", 946684800L, 4102444800L, &t) < 0) {
            return -1;
        }
        s->utc_start = t;
    }
    if ((v = ml_yaml_get(&c->y, n, "network"))) {
        if (v->type == YAML_SCALAR_NODE) {
            if (!strcmp(ml_yaml_sval(v), "dhcp")) {
                s->dhcp = true;
                return 0;
            }
            return ml_yaml_fail(&c->y, v,
                                "network must be dhcp or a map {mode: static, ip: A.B.C.D/N, "
                                "gateway, dns}, not '%s'",
                                ml_yaml_sval(v));
        }
        static const char *const nk[] = {"mode", "ip", "gateway", "dns", NULL};
        if (ml_yaml_check_keys(&c->y, v, "network", nk) < 0) {
            return -1;
        }
        node_t *m = ml_yaml_get(&c->y, v, "mode");
        if (m == NULL || ml_yaml_want_scalar(&c->y, m, "mode") < 0) {
            return c->y.failed ? -1 : ml_yaml_fail(&c->y, v, "network needs mode: dhcp or static");
        }
        if (!strcmp(ml_yaml_sval(m), "dhcp")) {
            s->dhcp = true;
            if (ml_yaml_get(&c->y, v, "ip")) {
                return ml_yaml_fail(&c->y, ml_yaml_get(&c->y, v, "ip"),
                                    "ip is only for mode: static");
            }
            return 0;
        }
        if (strcmp(ml_yaml_sval(m), "static")) {
            return ml_yaml_fail(&c->y, m, "mode must be dhcp or static, not '%s'", ml_yaml_sval(m));
        }
        s->dhcp = false;
        node_t *ip = ml_yaml_get(&c->y, v, "ip");
        if (ip == NULL) {
            return ml_yaml_fail(&c->y, v, "mode: static needs ip: A.B.C.D/prefix");
        }
        if (parse_ipv4(c, ip, "ip", &s->ip, &s->netmask) < 0) {
            return -1;
        }
        if ((m = ml_yaml_get(&c->y, v, "gateway")) &&
            parse_ipv4(c, m, "gateway", &s->gateway, NULL) < 0) {
            return -1;
        }
        if ((m = ml_yaml_get(&c->y, v, "dns")) && parse_ipv4(c, m, "dns", &s->dns, NULL) < 0) {
            return -1;
        }
    }
    return 0;
}

static int parse_meter(struct ctx *c, node_t *n)
{
    struct ml_scenario *s = c->s;
    static const char *const keys[] = {"protocol", "interval_s", "from", "to",
                                       "phases",   "header",     "id",   "producer",
                                       "line",     "values",     NULL};
    if (ml_yaml_check_keys(&c->y, n, "meter", keys) < 0) {
        return -1;
    }
    node_t *v = ml_yaml_get(&c->y, n, "protocol");
    if (v == NULL) {
        return ml_yaml_fail(&c->y, n,
                            "meter needs protocol: dsmr22|dsmr30|dsmr40|dsmr42|dsmr50|emucs171|"
                            "tic|tic_historic");
    }
    if (ml_yaml_want_scalar(&c->y, v, "protocol") < 0) {
        return -1;
    }
    int p = ml_meter_proto_find(ml_yaml_sval(v));
    if (p < 0) {
        return ml_yaml_fail(&c->y, v,
                            "unknown protocol '%s' (dsmr22, dsmr30, dsmr40, dsmr42, dsmr50, "
                            "emucs171, tic, tic_historic)",
                            ml_yaml_sval(v));
    }
    s->has_meter = true;
    s->meter.proto = (enum ml_meter_proto)p;
    s->meter.phases = 3;
    if ((v = ml_yaml_get(&c->y, n, "interval_s")) &&
        get_time(c, v, "interval_s", &s->interval_s) < 0) {
        return -1;
    }
    if (ml_yaml_get(&c->y, n, "interval_s") && s->interval_s < 0.01) {
        return ml_yaml_fail(&c->y, ml_yaml_get(&c->y, n, "interval_s"),
                            "interval_s must be at least 0.01 s");
    }
    s->meter_from = 1.0;
    s->meter_to = -1;
    if ((v = ml_yaml_get(&c->y, n, "from")) && get_time(c, v, "from", &s->meter_from) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "to")) && get_time(c, v, "to", &s->meter_to) < 0) {
        return -1;
    }
    if (s->meter_to >= 0 && s->meter_to < s->meter_from) {
        return ml_yaml_fail(&c->y, v, "meter to (%g s) is before from (%g s)", s->meter_to,
                            s->meter_from);
    }
    if ((v = ml_yaml_get(&c->y, n, "phases"))) {
        long ph;
        if (ml_yaml_get_long(&c->y, v, "phases", 1, 3, &ph) < 0) {
            return -1;
        }
        if (ph == 2) {
            return ml_yaml_fail(&c->y, v, "phases must be 1 or 3");
        }
        s->meter.phases = (int)ph;
    }
    if ((v = ml_yaml_get(&c->y, n, "header")) &&
        ml_yaml_get_strdup(&c->y, v, "header", &s->meter_header) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "id")) && ml_yaml_get_strdup(&c->y, v, "id", &s->meter_id) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "producer")) &&
        ml_yaml_get_bool(&c->y, v, "producer", &s->meter.producer) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "line"))) {
        static const char *const lk[] = {"baud", "format", NULL};
        if (ml_yaml_check_keys(&c->y, v, "line", lk) < 0) {
            return -1;
        }
        s->has_line = true;
        s->line = ml_meter_proto_line(s->meter.proto);
        node_t *b = ml_yaml_get(&c->y, v, "baud"), *f = ml_yaml_get(&c->y, v, "format");
        long baud;
        if (b && ml_yaml_get_long(&c->y, b, "baud", 300, 1000000, &baud) < 0) {
            return -1;
        }
        if (b) {
            s->line.baud = (uint32_t)baud;
        }
        if (f && (ml_yaml_want_scalar(&c->y, f, "format") < 0 ||
                  ml_line_parse_format(ml_yaml_sval(f), &s->line) < 0)) {
            return c->y.failed ? -1
                               : ml_yaml_fail(&c->y, f, "format must be like 8N1 or 7E1, not '%s'",
                                              ml_yaml_sval(f));
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "values")) && parse_values(c, v, &s->meter_values) < 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Faults                                                                    */
/* ------------------------------------------------------------------------- */

static int parse_fault(struct ctx *c, node_t *n, struct ml_scn_fault *f)
{
    node_t *args = NULL, *name = n;
    if (n->type == YAML_MAPPING_NODE) {
        if (n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1) {
            return ml_yaml_fail(&c->y, n,
                                "a fault is one name, or a map with one name: {crc_corrupt: {}}");
        }
        name = ml_yaml_node(&c->y, n->data.mapping.pairs.start->key);
        args = ml_yaml_node(&c->y, n->data.mapping.pairs.start->value);
        if (ml_yaml_is_null(args)) {
            args = NULL;
        }
    }
    if (ml_yaml_want_scalar(&c->y, name, "fault") < 0) {
        return -1;
    }
    int k = -1;
    for (int i = 0; i < ML_SF_COUNT; i++) {
        if (!strcmp(fault_names[i], ml_yaml_sval(name))) {
            k = i;
        }
    }
    if (k < 0 || k > ML_SF_POWER_CYCLE) {
        return ml_yaml_fail(
            &c->y, name, "unknown fault '%s'%s", ml_yaml_sval(name),
            k > ML_SF_POWER_CYCLE ? " (a board action: a power:, reset: or flash: step)" : "");
    }
    f->kind = (enum ml_scn_fault_kind)k;
    f->telegrams = 1;
    f->tf.offset = LONG_MIN;
    f->tf.count = -1;
    f->seed = 1;
    static const char *const tel_keys[] = {"offset", "bit",  "count",     "bytes", "text",
                                           "keep",   "size", "telegrams", NULL};
    static const char *const noise_keys[] = {"bytes", "seed", "raw", NULL};
    static const char *const dur_keys[] = {"duration", NULL};
    static const char *const line_keys[] = {"baud", "format", "duration", NULL};
    static const char *const none[] = {NULL};
    const char *const *allowed = none;
    if (ml_scn_fault_is_telegram(f->kind)) {
        allowed = tel_keys;
    } else if (f->kind == ML_SF_NOISE) {
        allowed = noise_keys;
    } else if (f->kind == ML_SF_SILENCE || f->kind == ML_SF_TIC_HISTORIC) {
        allowed = dur_keys;
    } else if (f->kind == ML_SF_LINE) {
        allowed = line_keys;
    }
    if (args && ml_yaml_check_keys(&c->y, args, fault_names[k], allowed) < 0) {
        return -1;
    }
    node_t *v;
    long x;
    static const enum ml_fault_kind map[] = {
        ML_FAULT_BIT_FLIP, ML_FAULT_CRC_CORRUPT, ML_FAULT_DROP_BYTES, ML_FAULT_DUPLICATE,
        ML_FAULT_INSERT,   ML_FAULT_TRUNCATE,    ML_FAULT_OVERSIZE,
    };
    if (f->kind < ML_SF_GLUE) {
        f->tf.kind = map[f->kind];
    }
    if ((v = ml_yaml_get(&c->y, args, "offset"))) {
        if (ml_yaml_get_long(&c->y, v, "offset", -1000000, 1000000, &x) < 0) {
            return -1;
        }
        f->tf.offset = x;
    }
    if ((v = ml_yaml_get(&c->y, args, "bit"))) {
        if (ml_yaml_get_long(&c->y, v, "bit", 0, 7, &x) < 0) {
            return -1;
        }
        f->tf.bit = (int)x;
    }
    if ((v = ml_yaml_get(&c->y, args, "count")) || (v = ml_yaml_get(&c->y, args, "keep")) ||
        (v = ml_yaml_get(&c->y, args, "size"))) {
        if (ml_yaml_get_long(&c->y, v, "count", 0, 10000000, &x) < 0) {
            return -1;
        }
        f->tf.count = x;
    }
    if ((v = ml_yaml_get(&c->y, args, "telegrams"))) {
        if (ml_yaml_get_long(&c->y, v, "telegrams", 1, 100000000, &f->telegrams) < 0) {
            return -1;
        }
    }
    if (f->kind == ML_SF_INSERT_BYTES) {
        node_t *hex = ml_yaml_get(&c->y, args, "bytes"), *txt = ml_yaml_get(&c->y, args, "text");
        if ((hex != NULL) == (txt != NULL)) {
            return ml_yaml_fail(&c->y, args ? args : n,
                                "insert_bytes needs bytes: \"00 ff\" (hex) or text:");
        }
        if (txt) {
            if (ml_yaml_want_scalar(&c->y, txt, "text") < 0) {
                return -1;
            }
            f->tf.nbytes = strlen(ml_yaml_sval(txt));
            f->insert = (uint8_t *)strdup(ml_yaml_sval(txt));
        } else {
            if (ml_yaml_want_scalar(&c->y, hex, "bytes") < 0) {
                return -1;
            }
            const char *h = ml_yaml_sval(hex);
            f->insert = malloc(strlen(h) / 2 + 1);
            size_t m = 0;
            for (const char *q = h; *q;) {
                if (*q == ' ') {
                    q++;
                    continue;
                }
                unsigned b;
                if (!isxdigit((unsigned char)q[0]) || !isxdigit((unsigned char)q[1]) ||
                    sscanf(q, "%2x", &b) != 1) {
                    return ml_yaml_fail(&c->y, hex, "bytes must be hex pairs like \"0d 0a ff\"");
                }
                f->insert[m++] = (uint8_t)b;
                q += 2;
            }
            f->tf.nbytes = m;
        }
        f->tf.bytes = f->insert;
    } else if (f->kind == ML_SF_NOISE) {
        f->nbytes = 64;
        if ((v = ml_yaml_get(&c->y, args, "bytes")) &&
            ml_yaml_get_long(&c->y, v, "bytes", 1, 10000000, &f->nbytes) < 0) {
            return -1;
        }
        if ((v = ml_yaml_get(&c->y, args, "seed"))) {
            if (ml_yaml_get_long(&c->y, v, "seed", 1, 0x7FFFFFFF, &x) < 0) {
                return -1;
            }
            f->seed = (uint32_t)x;
        }
        if ((v = ml_yaml_get(&c->y, args, "raw")) &&
            ml_yaml_get_bool(&c->y, v, "raw", &f->raw) < 0) {
            return -1;
        }
    } else if (args && ml_yaml_get(&c->y, args, "bytes")) {
        return ml_yaml_fail(&c->y, ml_yaml_get(&c->y, args, "bytes"),
                            "bytes is only for insert_bytes and noise");
    }
    if (f->kind == ML_SF_SILENCE || f->kind == ML_SF_TIC_HISTORIC || f->kind == ML_SF_LINE) {
        if ((v = ml_yaml_get(&c->y, args, "duration")) == NULL) {
            return ml_yaml_fail(&c->y, n, "%s needs duration: (seconds)", fault_names[k]);
        }
        if (get_time(c, v, "duration", &f->duration_s) < 0) {
            return -1;
        }
        if (f->duration_s <= 0) {
            return ml_yaml_fail(&c->y, v, "duration must be more than 0 s");
        }
    }
    if (f->kind == ML_SF_LINE) {
        f->line = (struct ml_line){9600, 7, 'E', 1};
        if ((v = ml_yaml_get(&c->y, args, "baud"))) {
            if (ml_yaml_get_long(&c->y, v, "baud", 300, 1000000, &x) < 0) {
                return -1;
            }
            f->line.baud = (uint32_t)x;
        }
        if ((v = ml_yaml_get(&c->y, args, "format")) &&
            (ml_yaml_want_scalar(&c->y, v, "format") < 0 ||
             ml_line_parse_format(ml_yaml_sval(v), &f->line) < 0)) {
            return c->y.failed ? -1
                               : ml_yaml_fail(&c->y, v, "format must be like 8N1 or 7E1, not '%s'",
                                              ml_yaml_sval(v));
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Expectations                                                              */
/* ------------------------------------------------------------------------- */

static struct ml_scn_check *add_check(struct ml_scn_step *st, enum ml_scn_check_kind k,
                                      struct ml_scn_loc loc)
{
    st->checks = realloc(st->checks, (st->nchecks + 1) * sizeof *st->checks);
    struct ml_scn_check *ch = &st->checks[st->nchecks++];
    memset(ch, 0, sizeof *ch);
    ch->kind = k;
    ch->loc = loc;
    ch->client = 1;
    ch->min = -INFINITY;
    ch->max = INFINITY;
    return ch;
}

static const struct regmap_template *scenario_template(struct ml_scenario *s)
{
    const char *mt = s->meter_type && s->meter_type[0] ? s->meter_type : "PhoenixContact-EMPro";
    return regmap_template_find(mt, strlen(mt));
}

static const char *field_key_of(int f)
{
    static const char *const keys[READING_FIELD_COUNT] = {
#define X_KEY(id, key, unit, exp10, comment) key,
        READING_FIELDS(X_KEY)
#undef X_KEY
    };
    return f >= 0 && f < READING_FIELD_COUNT ? keys[f] : "?";
}

/* A number or {min, max} (counters, reboots, counts). */
static int parse_range(struct ctx *c, node_t *n, const char *what, double *min, double *max)
{
    if (n->type == YAML_SCALAR_NODE) {
        double d;
        if (ml_yaml_get_num(&c->y, n, what, &d) < 0) {
            return -1;
        }
        *min = *max = d;
        return 0;
    }
    static const char *const rk[] = {"min", "max", NULL};
    if (ml_yaml_check_keys(&c->y, n, what, rk) < 0) {
        return -1;
    }
    node_t *a = ml_yaml_get(&c->y, n, "min"), *b = ml_yaml_get(&c->y, n, "max");
    if (!a && !b) {
        return ml_yaml_fail(&c->y, n, "%s needs min and/or max", what);
    }
    if (a && ml_yaml_get_num(&c->y, a, "min", min) < 0) {
        return -1;
    }
    if (b && ml_yaml_get_num(&c->y, b, "max", max) < 0) {
        return -1;
    }
    if (*min > *max) {
        return ml_yaml_fail(&c->y, n, "%s: min %g is above max %g", what, *min, *max);
    }
    return 0;
}

static int parse_modbus(struct ctx *c, struct ml_scn_step *st, node_t *n)
{
    if (n->type != YAML_MAPPING_NODE) {
        return ml_yaml_fail(&c->y, n,
                            "modbus must be a map of register (name or address) to value");
    }
    const struct regmap_template *t = scenario_template(c->s);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        node_t *k = ml_yaml_node(&c->y, p->key), *v = ml_yaml_node(&c->y, p->value);
        if (k->type != YAML_SCALAR_NODE) {
            return ml_yaml_fail(&c->y, k, "register names must be scalars");
        }
        struct ml_scn_check *ch = add_check(st, ML_CHK_MODBUS, loc_of(c, k));
        ch->name = strdup(ml_yaml_sval(k));
        ch->fc = 3;
        ch->tol = -1;
        node_t *val = v, *type = NULL, *order = NULL, *scale = NULL;
        if (v->type == YAML_MAPPING_NODE) {
            static const char *const mk[] = {"value", "tolerance", "fc",     "type",
                                             "order", "scale",     "client", NULL};
            if (ml_yaml_check_keys(&c->y, v, "a register check", mk) < 0) {
                return -1;
            }
            val = ml_yaml_get(&c->y, v, "value");
            if (val == NULL) {
                return ml_yaml_fail(&c->y, v, "a register check needs value:");
            }
            node_t *x;
            if ((x = ml_yaml_get(&c->y, v, "tolerance")) &&
                ml_yaml_get_num(&c->y, x, "tolerance", &ch->tol) < 0) {
                return -1;
            }
            long l;
            if ((x = ml_yaml_get(&c->y, v, "fc"))) {
                if (ml_yaml_get_long(&c->y, x, "fc", 3, 4, &l) < 0) {
                    return -1;
                }
                ch->fc = (uint8_t)l;
            }
            if ((x = ml_yaml_get(&c->y, v, "client"))) {
                if (ml_yaml_get_long(&c->y, x, "client", 1, 4, &l) < 0) {
                    return -1;
                }
                ch->client = (int)l;
            }
            type = ml_yaml_get(&c->y, v, "type");
            order = ml_yaml_get(&c->y, v, "order");
            scale = ml_yaml_get(&c->y, v, "scale");
        }
        if (ml_yaml_get_num(&c->y, val, "register value", &ch->value) < 0) {
            return -1;
        }
        /* find the entry: by field key, by label, or by address */
        /* FC03 unless given; a name only the FC04 space has selects FC04 */
        bool fc_given = v->type == YAML_MAPPING_NODE && ml_yaml_get(&c->y, v, "fc") != NULL;
        const struct regmap_entry *e = NULL;
        char *end;
        long addr = strtol(ml_yaml_sval(k), &end, 0);
        bool by_addr = *end == 0 && ml_yaml_sval(k)[0] != 0;
        for (int pass = 0; pass < 2 && e == NULL; pass++) {
            if (pass == 1) {
                if (fc_given) {
                    break;
                }
                ch->fc = 4;
            }
            const struct regmap_space *sp = ch->fc == 4 ? &t->input : &t->holding;
            for (uint16_t i = 0; i < sp->count && e == NULL; i++) {
                const struct regmap_entry *x = &sp->entries[i];
                if (by_addr
                        ? x->addr == addr
                        : ((x->name && !strcmp(x->name, ml_yaml_sval(k))) ||
                           (x->field >= 0 && !strcmp(field_key_of(x->field), ml_yaml_sval(k))))) {
                    e = x;
                }
            }
        }
        if (e == NULL && !fc_given) {
            ch->fc = 3;
        }
        if (e) {
            ch->addr = e->addr;
            ch->type = e->type;
            ch->order = (uint8_t)regmap_entry_order(t, e);
            ch->exp10 = e->exp10;
        } else if (by_addr && addr >= 0 && addr <= 0xFFFF) {
            ch->addr = (uint16_t)addr;
            ch->type = REGMAP_U16;
            ch->order = t->order;
        } else {
            return ml_yaml_fail(&c->y, k,
                                "template %s has no register '%s' (see `meterlab regmap %s`)",
                                t->name, ml_yaml_sval(k), t->name);
        }
        if (type) {
            static const char *const tn[] = {"f32", "i32", "u32", "i16", "u16", "i64"};
            int ti = -1;
            for (int i = 0; i < 6; i++) {
                if (ml_yaml_want_scalar(&c->y, type, "type") == 0 &&
                    !strcmp(ml_yaml_sval(type), tn[i])) {
                    ti = i;
                }
            }
            if (ti < 0) {
                return c->y.failed
                           ? -1
                           : ml_yaml_fail(&c->y, type, "type must be f32|i32|u32|i16|u16|i64");
            }
            ch->type = (uint8_t)ti;
        }
        if (order) {
            if (ml_yaml_want_scalar(&c->y, order, "order") < 0) {
                return -1;
            }
            if (!strcmp(ml_yaml_sval(order), "abcd")) {
                ch->order = REGMAP_ABCD;
            } else if (!strcmp(ml_yaml_sval(order), "cdab")) {
                ch->order = REGMAP_CDAB;
            } else {
                return ml_yaml_fail(&c->y, order, "order must be abcd or cdab");
            }
        }
        if (scale) {
            long l;
            if (ml_yaml_get_long(&c->y, scale, "scale", -9, 9, &l) < 0) {
                return -1;
            }
            ch->exp10 = (int8_t)l;
        }
        if (ch->tol < 0) {
            /* float32 keeps 24 bits; integers are rounded to the register unit */
            double unit = pow(10.0, ch->exp10);
            ch->tol = ch->type == REGMAP_F32 ? fmax(1e-3, fabs(ch->value) * 1.2e-7) : unit / 2;
        }
    }
    return 0;
}

/* A map of JSON key (a.b for nested) to value (MQTT payloads, HTTP answers). */
static int parse_fields(struct ctx *c, node_t *v, double tol, struct ml_scn_check *ch)
{
    if (v->type != YAML_MAPPING_NODE) {
        return ml_yaml_fail(&c->y, v, "fields must be a map of JSON key (a.b for nested) to value");
    }
    size_t cnt = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    ch->fields = calloc(cnt ? cnt : 1, sizeof *ch->fields);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        node_t *k = ml_yaml_node(&c->y, p->key), *x = ml_yaml_node(&c->y, p->value);
        if (ml_yaml_want_scalar(&c->y, k, "field name") < 0) {
            return -1;
        }
        struct ml_scn_field *f = &ch->fields[ch->nfields++];
        f->path = strdup(ml_yaml_sval(k));
        f->tol = tol;
        if (x->type == YAML_MAPPING_NODE) {
            static const char *const fk[] = {"value", "tolerance", NULL};
            if (ml_yaml_check_keys(&c->y, x, "a field check", fk) < 0 ||
                !ml_yaml_get(&c->y, x, "value")) {
                return c->y.failed ? -1 : ml_yaml_fail(&c->y, x, "a field check needs value:");
            }
            if (ml_yaml_get(&c->y, x, "tolerance") &&
                ml_yaml_get_num(&c->y, ml_yaml_get(&c->y, x, "tolerance"), "tolerance", &f->tol) <
                    0) {
                return -1;
            }
            x = ml_yaml_get(&c->y, x, "value");
        }
        if (ml_yaml_want_scalar(&c->y, x, "field value") < 0) {
            return -1;
        }
        char *end;
        double d = strtod(ml_yaml_sval(x), &end);
        bool plain = x->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (ml_yaml_is_null(x)) {
            f->kind = ML_FV_NULL;
        } else if (plain && ml_yaml_sval(x)[0] && *end == 0) {
            f->kind = ML_FV_NUM;
            f->num = d;
        } else if (plain &&
                   (!strcmp(ml_yaml_sval(x), "true") || !strcmp(ml_yaml_sval(x), "false"))) {
            f->kind = ML_FV_BOOL;
            f->b = !strcmp(ml_yaml_sval(x), "true");
        } else {
            f->kind = ML_FV_STR;
            f->str = strdup(ml_yaml_sval(x));
        }
    }
    return 0;
}

static int parse_mqtt(struct ctx *c, struct ml_scn_step *st, node_t *n)
{
    static const char *const keys[] = {"topic", "fields", "tolerance", "count", NULL};
    if (ml_yaml_check_keys(&c->y, n, "mqtt", keys) < 0) {
        return -1;
    }
    if (!c->s->mqtt) {
        return ml_yaml_fail(&c->y, n, "an mqtt expectation needs device: {mqtt: on}");
    }
    struct ml_scn_check *ch = add_check(st, ML_CHK_MQTT, loc_of(c, n));
    node_t *v = ml_yaml_get(&c->y, n, "topic");
    if (v == NULL) {
        return ml_yaml_fail(
            &c->y, n, "mqtt needs topic: (the metric, e.g. power_instant or device_counters)");
    }
    if (ml_yaml_get_strdup(&c->y, v, "topic", &ch->name) < 0) {
        return -1;
    }
    double tol = 1e-6;
    if ((v = ml_yaml_get(&c->y, n, "tolerance")) &&
        ml_yaml_get_num(&c->y, v, "tolerance", &tol) < 0) {
        return -1;
    }
    ch->count_min = 1;
    ch->count_max = LONG_MAX;
    if ((v = ml_yaml_get(&c->y, n, "count"))) {
        double a = 1, b = INFINITY;
        if (parse_range(c, v, "count", &a, &b) < 0) {
            return -1;
        }
        ch->count_min = isfinite(a) ? (long)a : 0;
        ch->count_max = isfinite(b) ? (long)b : LONG_MAX;
    }
    if ((v = ml_yaml_get(&c->y, n, "fields")) && parse_fields(c, v, tol, ch) < 0) {
        return -1;
    }
    return 0;
}

/* http: {method, path, body, status, json: {...}} (an action or an expectation). */
static int parse_http(struct ctx *c, struct ml_scn_step *st, node_t *n)
{
    static const char *const keys[] = {"method", "path",      "body", "status",
                                       "json",   "tolerance", NULL};
    if (ml_yaml_check_keys(&c->y, n, "http", keys) < 0) {
        return -1;
    }
    if (c->s->product == ML_SCN_P1MB) {
        return ml_yaml_fail(&c->y, n, "the P1MB has no HTTP API (product p1mb)");
    }
    struct ml_scn_check *ch = add_check(st, ML_CHK_HTTP, loc_of(c, n));
    node_t *v = ml_yaml_get(&c->y, n, "path");
    if (v == NULL) {
        return ml_yaml_fail(&c->y, n, "http needs path: (e.g. /api/v1/status)");
    }
    if (ml_yaml_get_strdup(&c->y, v, "path", &ch->name) < 0) {
        return -1;
    }
    if (ch->name[0] != '/') {
        return ml_yaml_fail(&c->y, v, "path must start with '/', not '%s'", ch->name);
    }
    if ((v = ml_yaml_get(&c->y, n, "method"))) {
        if (ml_yaml_get_strdup(&c->y, v, "method", &ch->str) < 0) {
            return -1;
        }
        static const char *const ms[] = {"GET", "POST", "PATCH", "PUT", "DELETE", NULL};
        bool known = false;
        for (int i = 0; ms[i]; i++) {
            known |= !strcmp(ms[i], ch->str);
        }
        if (!known) {
            return ml_yaml_fail(
                &c->y, v, "method must be GET, POST, PATCH, PUT or DELETE, not '%s'", ch->str);
        }
    } else {
        ch->str = strdup("GET");
    }
    if ((v = ml_yaml_get(&c->y, n, "body")) &&
        ml_yaml_get_strdup(&c->y, v, "body", &ch->body) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "status"))) {
        long x;
        if (ml_yaml_get_long(&c->y, v, "status", 100, 599, &x) < 0) {
            return -1;
        }
        ch->status = (int)x;
    }
    double tol = 1e-6;
    if ((v = ml_yaml_get(&c->y, n, "tolerance")) &&
        ml_yaml_get_num(&c->y, v, "tolerance", &tol) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "json")) && parse_fields(c, v, tol, ch) < 0) {
        return -1;
    }
    return 0;
}

static int led_state_find(const char *name)
{
    for (int i = 0; i < UI_LED_STATE_COUNT; i++) {
        if (!strcmp(ui_led_state_name((enum ui_led_state)i), name)) {
            return i;
        }
    }
    return -1;
}

static const char *const counter_names[] = {
    "telegrams_pass",    "telegrams_fail",  "telegrams_frame_fail",   "mqtt_publish_pass",
    "mqtt_publish_fail", "modbus_requests", "modbus_clients_refused", NULL};
static const char *const status_names[] = {"meter_data", "tic_historic", "has_ip",
                                           "mqtt",       "ap_mode",      NULL};

static int parse_expect(struct ctx *c, struct ml_scn_step *st, node_t *n)
{
    static const char *const keys[] = {"modbus",      "modbus_refused", "mqtt",   "led",
                                       "led_pattern", "counters",       "status", "p1_out",
                                       "reboots",     "http",           NULL};
    if (ml_yaml_check_keys(&c->y, n, "expect", keys) < 0) {
        return -1;
    }
    if (n->data.mapping.pairs.top == n->data.mapping.pairs.start) {
        return ml_yaml_fail(&c->y, n, "expect is empty");
    }
    node_t *v;
    if ((v = ml_yaml_get(&c->y, n, "modbus")) && parse_modbus(c, st, v) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, n, "modbus_refused"))) {
        struct ml_scn_check *ch = add_check(st, ML_CHK_MODBUS_REFUSED, loc_of(c, v));
        long cl;
        if (ml_yaml_get_long(&c->y, v, "modbus_refused (the client number 2..4)", 2, 4, &cl) < 0) {
            return -1;
        }
        ch->client = (int)cl;
    }
    if ((v = ml_yaml_get(&c->y, n, "mqtt"))) {
        if (v->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
                 i++) {
                if (parse_mqtt(c, st, ml_yaml_node(&c->y, *i)) < 0) {
                    return -1;
                }
            }
        } else if (parse_mqtt(c, st, v) < 0) {
            return -1;
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "led")) && c->s->product == ML_SCN_P1MB) {
        /* the P1MB's three LEDs: {pwr: on, p1: on|off|blink, rs485: on|off|blink} */
        static const char *const lk[] = {"pwr", "p1", "rs485", NULL};
        static const char *const shows[] = {"off", "on", "blink", NULL};
        if (v->type != YAML_MAPPING_NODE) {
            return ml_yaml_fail(&c->y, v,
                                "a p1mb's led check is a map {pwr: on, p1: on|off|blink, "
                                "rs485: on|off|blink}");
        }
        if (ml_yaml_check_keys(&c->y, v, "led", lk) < 0) {
            return -1;
        }
        struct ml_scn_check *ch = add_check(st, ML_CHK_LED, loc_of(c, v));
        ch->led_state = -1;
        for (int l = 0; l < 3; l++) {
            ch->p1mb_led[l] = -1;
            node_t *x = ml_yaml_get(&c->y, v, lk[l]);
            if (x == NULL) {
                continue;
            }
            if (ml_yaml_want_scalar(&c->y, x, lk[l]) < 0) {
                return -1;
            }
            for (int k = 0; shows[k]; k++) {
                if (!strcmp(ml_yaml_sval(x), shows[k])) {
                    ch->p1mb_led[l] = k;
                }
            }
            if (ch->p1mb_led[l] < 0) {
                return ml_yaml_fail(&c->y, x, "%s must be off, on or blink, not '%s'", lk[l],
                                    ml_yaml_sval(x));
            }
        }
        v = NULL;
    } else if (v) {
        if (ml_yaml_want_scalar(&c->y, v, "led") < 0) {
            return -1;
        }
        struct ml_scn_check *ch = add_check(st, ML_CHK_LED, loc_of(c, v));
        ch->led_state = led_state_find(ml_yaml_sval(v));
        ch->p1mb_led[0] = ch->p1mb_led[1] = ch->p1mb_led[2] = -1;
        if (ch->led_state < 0) {
            char list[256] = "";
            size_t k = 0;
            for (int i = 0; i < UI_LED_STATE_COUNT; i++) {
                k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
                                      ui_led_state_name((enum ui_led_state)i));
            }
            return ml_yaml_fail(&c->y, v, "unknown LED state '%s' (%s)", ml_yaml_sval(v), list);
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "led_pattern"))) {
        static const char *const pk[] = {"colours", "period", NULL};
        if (ml_yaml_check_keys(&c->y, v, "led_pattern", pk) < 0) {
            return -1;
        }
        if (!st->window) {
            return ml_yaml_fail(&c->y, v, "led_pattern needs a window: within: [from, to]");
        }
        struct ml_scn_check *ch = add_check(st, ML_CHK_LED_PATTERN, loc_of(c, v));
        node_t *cl = ml_yaml_get(&c->y, v, "colours");
        if (cl == NULL || cl->type != YAML_SEQUENCE_NODE) {
            return ml_yaml_fail(&c->y, cl ? cl : v, "led_pattern needs colours: [red, green]");
        }
        for (yaml_node_item_t *i = cl->data.sequence.items.start; i < cl->data.sequence.items.top;
             i++) {
            node_t *x = ml_yaml_node(&c->y, *i);
            if (ml_yaml_want_scalar(&c->y, x, "colour") < 0) {
                return -1;
            }
            if (ch->ncolours == 6) {
                return ml_yaml_fail(&c->y, x, "at most 6 colours");
            }
            if (ml_scn_colour_find(ml_yaml_sval(x), &ch->colours[ch->ncolours]) < 0) {
                return ml_yaml_fail(&c->y, x,
                                    "unknown colour '%s' (off, red, green, blue, orange, yellow, "
                                    "cyan, magenta)",
                                    ml_yaml_sval(x));
            }
            ch->ncolours++;
        }
        if (ch->ncolours == 0) {
            return ml_yaml_fail(&c->y, cl, "colours is empty");
        }
        node_t *per = ml_yaml_get(&c->y, v, "period");
        if (per && get_time(c, per, "period", &ch->period_s) < 0) {
            return -1;
        }
        if (ch->ncolours > 1 && !per) {
            return ml_yaml_fail(&c->y, v,
                                "a pattern of several colours needs period: (s per full cycle)");
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "counters"))) {
        if (ml_yaml_check_keys(&c->y, v, "counters", counter_names) < 0) {
            return -1;
        }
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
             p++) {
            node_t *k = ml_yaml_node(&c->y, p->key);
            struct ml_scn_check *ch = add_check(st, ML_CHK_COUNTER, loc_of(c, k));
            ch->name = strdup(ml_yaml_sval(k));
            if (parse_range(c, ml_yaml_node(&c->y, p->value), ml_yaml_sval(k), &ch->min, &ch->max) <
                0) {
                return -1;
            }
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "status"))) {
        if (ml_yaml_check_keys(&c->y, v, "status", status_names) < 0) {
            return -1;
        }
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
             p++) {
            node_t *k = ml_yaml_node(&c->y, p->key), *x = ml_yaml_node(&c->y, p->value);
            struct ml_scn_check *ch = add_check(st, ML_CHK_STATUS, loc_of(c, k));
            ch->name = strdup(ml_yaml_sval(k));
            if (!strcmp(ml_yaml_sval(k), "mqtt")) {
                if (ml_yaml_want_scalar(&c->y, x, "mqtt") < 0) {
                    return -1;
                }
                ch->led_state = -1;
                for (int i = 0; i < 4; i++) {
                    if (!strcmp(mqtt_state_name(i), ml_yaml_sval(x))) {
                        ch->led_state = i;
                    }
                }
                if (ch->led_state < 0) {
                    return ml_yaml_fail(&c->y, x,
                                        "mqtt must be disabled|connecting|connected|auth_failed");
                }
                ch->str = strdup(ml_yaml_sval(x));
            } else if (ml_yaml_get_bool(&c->y, x, ml_yaml_sval(k), &ch->b) < 0) {
                return -1;
            }
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "p1_out"))) {
        if (ml_yaml_want_scalar(&c->y, v, "p1_out") < 0 ||
            strcmp(ml_yaml_sval(v), "equals_input")) {
            return c->y.failed ? -1
                               : ml_yaml_fail(&c->y, v, "p1_out: the only check is equals_input");
        }
        add_check(st, ML_CHK_P1_OUT, loc_of(c, v));
    }
    if ((v = ml_yaml_get(&c->y, n, "reboots"))) {
        struct ml_scn_check *ch = add_check(st, ML_CHK_REBOOTS, loc_of(c, v));
        if (parse_range(c, v, "reboots", &ch->min, &ch->max) < 0) {
            return -1;
        }
    }
    if ((v = ml_yaml_get(&c->y, n, "http")) && parse_http(c, st, v) < 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Steps                                                                     */
/* ------------------------------------------------------------------------- */

static int parse_action(struct ctx *c, struct ml_scn_step *st, node_t *n, struct ml_scn_action *a)
{
    static const char *const keys[] = {"button", "modbus_write", "http", "mqtt_cmd", NULL};
    if (ml_yaml_check_keys(&c->y, n, "action", keys) < 0) {
        return -1;
    }
    if (n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1) {
        return ml_yaml_fail(&c->y, n, "one action per step");
    }
    node_t *v;
    if ((v = ml_yaml_get(&c->y, n, "button"))) {
        a->kind = ML_ACT_BUTTON;
        if (v->type == YAML_SCALAR_NODE) {
            if (!strcmp(ml_yaml_sval(v), "press")) {
                a->hold_s = 0.3;
                return 0;
            }
            return ml_yaml_fail(&c->y, v, "button is press, or {hold: seconds}");
        }
        static const char *const bk[] = {"hold", NULL};
        if (ml_yaml_check_keys(&c->y, v, "button", bk) < 0 || !ml_yaml_get(&c->y, v, "hold")) {
            return c->y.failed ? -1 : ml_yaml_fail(&c->y, v, "button needs hold: (seconds)");
        }
        if (get_time(c, ml_yaml_get(&c->y, v, "hold"), "hold", &a->hold_s) < 0) {
            return -1;
        }
        if (a->hold_s < 0.05) {
            return ml_yaml_fail(&c->y, ml_yaml_get(&c->y, v, "hold"),
                                "hold must be at least 0.05 s (debounce is 30 ms)");
        }
        return 0;
    }
    if ((v = ml_yaml_get(&c->y, n, "modbus_write"))) {
        a->kind = ML_ACT_MODBUS_WRITE;
        static const char *const mk[] = {"address", "value", "unit", "exception", NULL};
        if (ml_yaml_check_keys(&c->y, v, "modbus_write", mk) < 0) {
            return -1;
        }
        node_t *ad = ml_yaml_get(&c->y, v, "address"), *va = ml_yaml_get(&c->y, v, "value");
        if (!ad || !va) {
            return ml_yaml_fail(&c->y, v, "modbus_write needs address and value");
        }
        long x;
        if (ml_yaml_get_long(&c->y, ad, "address", 0, 0xFFFF, &x) < 0) {
            return -1;
        }
        a->address = (uint16_t)x;
        if (ml_yaml_get_long(&c->y, va, "value", -32768, 0xFFFF, &x) < 0) {
            return -1;
        }
        a->value = (uint16_t)x;
        a->unit = -1; /* Modbus TCP: 1; P1MB: its address */
        if ((ad = ml_yaml_get(&c->y, v, "unit"))) {
            if (ml_yaml_get_long(&c->y, ad, "unit", 0, 255, &x) < 0) {
                return -1;
            }
            a->unit = (int)x;
        }
        a->expect_exception = -1;
        if ((ad = ml_yaml_get(&c->y, v, "exception")) && ad->type == YAML_SCALAR_NODE &&
            !strcmp(ml_yaml_sval(ad), "none")) {
            a->expect_exception = 0; /* no answer at all (RTU: a frame for another address) */
        } else if (ad) {
            if (ml_yaml_get_long(&c->y, ad, "exception", 1, 255, &x) < 0) {
                return -1;
            }
            a->expect_exception = (int)x;
        }
        return 0;
    }
    if ((v = ml_yaml_get(&c->y, n, "mqtt_cmd"))) {
        a->kind = ML_ACT_MQTT_CMD;
        static const char *const ck[] = {"name", "body", NULL};
        if (ml_yaml_check_keys(&c->y, v, "mqtt_cmd", ck) < 0) {
            return -1;
        }
        if (!c->s->mqtt || c->s->product == ML_SCN_P1MB) {
            return ml_yaml_fail(&c->y, v,
                                "mqtt_cmd needs a Smart Connect with device: {mqtt: tls} (with "
                                "mqtt: on every command is refused)");
        }
        node_t *nm = ml_yaml_get(&c->y, v, "name");
        if (nm == NULL) {
            return ml_yaml_fail(&c->y, v, "mqtt_cmd needs name: (reset or firmware)");
        }
        if (ml_yaml_get_strdup(&c->y, nm, "name", &a->cmd_name) < 0) {
            return -1;
        }
        if (!mqtt_cmd_known(a->cmd_name, strlen(a->cmd_name))) {
            return ml_yaml_fail(&c->y, nm, "unknown command '%s' (reset, firmware)", a->cmd_name);
        }
        node_t *b = ml_yaml_get(&c->y, v, "body");
        if (b != NULL) {
            if (ml_yaml_get_strdup(&c->y, b, "body", &a->cmd_body) < 0) {
                return -1;
            }
        } else {
            a->cmd_body = strdup("{}");
        }
        return 0;
    }
    a->kind = ML_ACT_HTTP; /* the request and its checks: the step's one ML_CHK_HTTP */
    return parse_http(c, st, ml_yaml_get(&c->y, n, "http"));
}

/* A board action step: `power: on|off|cycle`, `reset: true`, `flash: IMAGE`. */
static int parse_board_step(struct ctx *c, struct ml_scn_step *st, node_t *const board[3],
                            node_t *within)
{
    st->kind = ML_STEP_FAULT;
    struct ml_scn_fault *f = &st->fault;
    f->telegrams = 1;
    f->seed = 1;
    if (within) {
        return ml_yaml_fail(&c->y, within,
                            "within: is for expectations; use at: for power, "
                            "reset and flash");
    }
    if (board[0]) {
        if (ml_yaml_want_scalar(&c->y, board[0], "power") < 0) {
            return -1;
        }
        const char *v = ml_yaml_sval(board[0]);
        if (!strcmp(v, "cycle")) {
            f->kind = ML_SF_POWER_CYCLE;
        } else if (!strcmp(v, "off")) {
            f->kind = ML_SF_POWER_OFF;
        } else if (!strcmp(v, "on")) {
            f->kind = ML_SF_POWER_ON;
        } else {
            return ml_yaml_fail(&c->y, board[0], "power must be on, off or cycle, not '%s'", v);
        }
        return 0;
    }
    if (board[1]) {
        bool yes = false;
        if (ml_yaml_want_scalar(&c->y, board[1], "reset") < 0 ||
            ml_yaml_get_bool(&c->y, board[1], "reset", &yes) < 0) {
            return -1;
        }
        if (!yes) {
            return ml_yaml_fail(&c->y, board[1],
                                "reset: true resets the board (leave the step "
                                "out otherwise)");
        }
        f->kind = ML_SF_RESET;
        return 0;
    }
    if (ml_yaml_want_scalar(&c->y, board[2], "flash") < 0) {
        return -1;
    }
    if (ml_yaml_sval(board[2])[0] == 0) {
        return ml_yaml_fail(&c->y, board[2], "flash needs the image's path");
    }
    f->kind = ML_SF_FLASH;
    f->image = path_join(c->s->dir, ml_yaml_sval(board[2]));
    return 0;
}

static int parse_step(struct ctx *c, node_t *n, struct ml_scn_step *st)
{
    static const char *const keys[] = {"at",       "every", "from",  "to",     "within",
                                       "telegram", "meter", "fault", "action", "expect",
                                       "note",     "power", "reset", "flash",  NULL};
    if (ml_yaml_check_keys(&c->y, n, "a step", keys) < 0) {
        return -1;
    }
    st->loc = loc_of(c, n);
    node_t *at = ml_yaml_get(&c->y, n, "at"), *every = ml_yaml_get(&c->y, n, "every"),
           *within = ml_yaml_get(&c->y, n, "within");
    node_t *from = ml_yaml_get(&c->y, n, "from"), *to = ml_yaml_get(&c->y, n, "to");
    if ((at != NULL) + (every != NULL) + (within != NULL) != 1) {
        return ml_yaml_fail(
            &c->y, n, "a step needs exactly one of at:, every: (with from/to), within: [a, b]");
    }
    if ((from || to) && !every) {
        return ml_yaml_fail(&c->y, from ? from : to, "from/to go with every:");
    }
    if (at && get_time(c, at, "at", &st->at) < 0) {
        return -1;
    }
    if (every) {
        st->periodic = true;
        if (get_time(c, every, "every", &st->every) < 0) {
            return -1;
        }
        if (st->every < 0.001) {
            return ml_yaml_fail(&c->y, every, "every must be at least 1 ms");
        }
        st->from = 0;
        if (from && get_time(c, from, "from", &st->from) < 0) {
            return -1;
        }
        if (!to) {
            return ml_yaml_fail(&c->y, every, "every needs to: (the last time)");
        }
        if (get_time(c, to, "to", &st->to) < 0) {
            return -1;
        }
        if (st->to < st->from) {
            return ml_yaml_fail(&c->y, to, "to (%g s) is before from (%g s)", st->to, st->from);
        }
        if ((st->to - st->from) / st->every > 10e6) {
            return ml_yaml_fail(&c->y, every, "more than 10 million repetitions");
        }
        st->at = st->from;
    }
    if (within) {
        if (within->type != YAML_SEQUENCE_NODE ||
            within->data.sequence.items.top - within->data.sequence.items.start != 2) {
            return ml_yaml_fail(&c->y, within, "within must be [from, to]");
        }
        st->window = true;
        if (get_time(c, ml_yaml_node(&c->y, within->data.sequence.items.start[0]), "within from",
                     &st->w_from) < 0 ||
            get_time(c, ml_yaml_node(&c->y, within->data.sequence.items.start[1]), "within to",
                     &st->w_to) < 0) {
            return -1;
        }
        if (st->w_to < st->w_from) {
            return ml_yaml_fail(&c->y, within, "within: the end (%g s) is before the start (%g s)",
                                st->w_to, st->w_from);
        }
        st->at = st->w_from;
    }
    node_t *kinds[5] = {ml_yaml_get(&c->y, n, "telegram"), ml_yaml_get(&c->y, n, "meter"),
                        ml_yaml_get(&c->y, n, "fault"), ml_yaml_get(&c->y, n, "action"),
                        ml_yaml_get(&c->y, n, "expect")};
    node_t *board[3] = {ml_yaml_get(&c->y, n, "power"), ml_yaml_get(&c->y, n, "reset"),
                        ml_yaml_get(&c->y, n, "flash")};
    int nk = 0;
    for (int i = 0; i < 5; i++) {
        if (kinds[i]) {
            st->kind = (enum ml_scn_step_kind)i;
            nk++;
        }
    }
    nk += (board[0] != NULL) + (board[1] != NULL) + (board[2] != NULL);
    if (nk != 1) {
        return ml_yaml_fail(&c->y, n,
                            "a step does exactly one of telegram, meter, fault, action, expect, "
                            "power, reset, flash");
    }
    if (board[0] || board[1] || board[2]) {
        return parse_board_step(c, st, board, within);
    }
    if (within && st->kind != ML_STEP_EXPECT) {
        return ml_yaml_fail(&c->y, within,
                            "within: is for expectations; use every: for repeated steps");
    }
    node_t *v = kinds[st->kind];
    if (!c->s->has_meter &&
        (st->kind == ML_STEP_METER ||
         (st->kind == ML_STEP_TELEGRAM && ml_yaml_get(&c->y, v, "file") == NULL))) {
        return ml_yaml_fail(&c->y, v,
                            "telegrams from values and meter steps need a meter: section");
    }
    switch (st->kind) {
    case ML_STEP_TELEGRAM: {
        static const char *const tk[] = {"file", "values", NULL};
        if (ml_yaml_check_keys(&c->y, v, "telegram", tk) < 0) {
            return -1;
        }
        node_t *f = ml_yaml_get(&c->y, v, "file"), *vals = ml_yaml_get(&c->y, v, "values");
        if (f && vals) {
            return ml_yaml_fail(&c->y, v, "telegram takes file: or values:, not both");
        }
        if (f) {
            if (ml_yaml_want_scalar(&c->y, f, "file") < 0) {
                return -1;
            }
            st->telegram.file = path_join(c->s->dir, ml_yaml_sval(f));
            st->telegram.bytes = read_all(st->telegram.file, &st->telegram.len);
            if (st->telegram.bytes == NULL) {
                return ml_yaml_fail(&c->y, f, "cannot read '%s': %s", st->telegram.file,
                                    strerror(errno));
            }
        } else if (vals) {
            st->telegram.has_values = true;
            return parse_values(c, vals, &st->telegram.values);
        }
        return 0;
    }
    case ML_STEP_METER: {
        static const char *const mk[] = {"values", NULL};
        if (ml_yaml_check_keys(&c->y, v, "meter", mk) < 0 || !ml_yaml_get(&c->y, v, "values")) {
            return c->y.failed ? -1 : ml_yaml_fail(&c->y, v, "meter: needs values:");
        }
        return parse_values(c, ml_yaml_get(&c->y, v, "values"), &st->meter_values);
    }
    case ML_STEP_FAULT:
        if (parse_fault(c, v, &st->fault) < 0) {
            return -1;
        }
        if (!c->s->has_meter &&
            (ml_scn_fault_is_telegram(st->fault.kind) || st->fault.kind <= ML_SF_LINE)) {
            return ml_yaml_fail(&c->y, v, "fault %s needs a meter: section",
                                fault_names[st->fault.kind]);
        }
        if (st->fault.kind == ML_SF_CRC_CORRUPT && !ml_meter_proto_has_check(c->s->meter.proto)) {
            return ml_yaml_fail(&c->y, v, "crc_corrupt: %s telegrams carry no CRC",
                                ml_meter_proto_name(c->s->meter.proto));
        }
        if (st->fault.kind >= ML_SF_BROKER_DOWN &&
            st->fault.kind <= ML_SF_BROKER_ACCEPTS_CREDENTIALS && !c->s->mqtt) {
            return ml_yaml_fail(&c->y, v, "broker faults need device: {mqtt: on}");
        }
        return 0;
    case ML_STEP_ACTION:
        return parse_action(c, st, v, &st->action);
    case ML_STEP_EXPECT:
        return parse_expect(c, st, v);
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Whole file                                                                */
/* ------------------------------------------------------------------------- */

static double step_end(const struct ml_scn_step *st)
{
    double e = st->periodic ? st->to : (st->window ? st->w_to : st->at);
    if (st->kind == ML_STEP_ACTION && st->action.kind == ML_ACT_BUTTON) {
        e += st->action.hold_s;
    }
    if (st->kind == ML_STEP_FAULT) {
        e += st->fault.duration_s;
    }
    return e;
}

static int parse_root(struct ctx *c, node_t *root)
{
    struct ml_scenario *s = c->s;
    static const char *const keys[] = {"name",  "description", "product", "device", "broker",
                                       "meter", "duration",    "steps",   NULL};
    if (root == NULL) {
        return ml_yaml_fail(&c->y, NULL, "empty scenario");
    }
    if (ml_yaml_check_keys(&c->y, root, "the scenario", keys) < 0) {
        return -1;
    }
    node_t *v;
    if ((v = ml_yaml_get(&c->y, root, "name")) &&
        ml_yaml_get_strdup(&c->y, v, "name", &s->name) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(&c->y, root, "description")) &&
        ml_yaml_get_strdup(&c->y, v, "description", &s->description) < 0) {
        return -1;
    }
    v = ml_yaml_get(&c->y, root, "product");
    if (v == NULL) {
        return ml_yaml_fail(&c->y, root, "product: p1|tic|p1mb is required");
    }
    if (ml_yaml_want_scalar(&c->y, v, "product") < 0) {
        return -1;
    }
    if (!strcmp(ml_yaml_sval(v), "p1")) {
        s->product = ML_SCN_P1;
    } else if (!strcmp(ml_yaml_sval(v), "tic")) {
        s->product = ML_SCN_TIC;
    } else if (!strcmp(ml_yaml_sval(v), "p1mb")) {
        s->product = ML_SCN_P1MB;
    } else {
        return ml_yaml_fail(&c->y, v, "product must be p1, tic or p1mb, not '%s'", ml_yaml_sval(v));
    }
    node_t *pnode = v;
    s->dhcp = true;
    s->factory_default = true;
    s->utc_start = ML_SCN_UTC_START_DEFAULT;
    if ((v = ml_yaml_get(&c->y, root, "device")) && parse_device(c, v) < 0) {
        return -1;
    }
    if (s->product == ML_SCN_P1MB && s->meter_type == NULL) {
        return ml_yaml_fail(
            &c->y, ml_yaml_get(&c->y, root, "device") ? ml_yaml_get(&c->y, root, "device") : root,
            "product p1mb needs device: {variant: sdm630|pro380|acr10rh|xemex}");
    }
    if ((v = ml_yaml_get(&c->y, root, "broker"))) {
        static const char *const bk[] = {"username", "password", NULL};
        if (ml_yaml_check_keys(&c->y, v, "broker", bk) < 0) {
            return -1;
        }
        node_t *u = ml_yaml_get(&c->y, v, "username"), *p = ml_yaml_get(&c->y, v, "password");
        if (!u || !p) {
            return ml_yaml_fail(&c->y, v, "broker needs username and password");
        }
        if (ml_yaml_get_strdup(&c->y, u, "username", &s->broker_user) < 0 ||
            ml_yaml_get_strdup(&c->y, p, "password", &s->broker_password) < 0) {
            return -1;
        }
    }
    if ((v = ml_yaml_get(&c->y, root, "meter")) && parse_meter(c, v) < 0) {
        return -1;
    }
    if (s->has_meter) {
        bool p1 = ml_meter_proto_is_p1(s->meter.proto);
        if (s->product == ML_SCN_TIC && p1) {
            return ml_yaml_fail(&c->y,
                                ml_yaml_get(&c->y, ml_yaml_get(&c->y, root, "meter"), "protocol"),
                                "product tic reads TIC meters: protocol tic or tic_historic");
        }
        if (s->product != ML_SCN_TIC && !p1) {
            return ml_yaml_fail(
                &c->y, ml_yaml_get(&c->y, ml_yaml_get(&c->y, root, "meter"), "protocol"),
                "product %s reads P1 meters (dsmr*, emucs171)", ml_yaml_sval(pnode));
        }
        s->meter.header = s->meter_header;
        s->meter.id = s->meter_id;
    }
    double dur = -1;
    if ((v = ml_yaml_get(&c->y, root, "duration")) && get_time(c, v, "duration", &dur) < 0) {
        return -1;
    }
    node_t *steps = ml_yaml_get(&c->y, root, "steps");
    if (steps) {
        if (steps->type != YAML_SEQUENCE_NODE) {
            return ml_yaml_fail(&c->y, steps, "steps must be a list");
        }
        size_t cnt = (size_t)(steps->data.sequence.items.top - steps->data.sequence.items.start);
        s->steps = calloc(cnt ? cnt : 1, sizeof *s->steps);
        for (size_t i = 0; i < cnt; i++) {
            node_t *sn = ml_yaml_node(&c->y, steps->data.sequence.items.start[i]);
            s->nsteps = i + 1;
            if (parse_step(c, sn, &s->steps[i]) < 0) {
                return -1;
            }
            if (dur >= 0 && step_end(&s->steps[i]) > dur + 1e-9) {
                return ml_yaml_fail(&c->y, sn,
                                    "this step ends at %g s, after the scenario's duration (%g s)",
                                    step_end(&s->steps[i]), dur);
            }
        }
    }
    double last = 0;
    for (size_t i = 0; i < s->nsteps; i++) {
        last = fmax(last, step_end(&s->steps[i]));
    }
    if (s->meter_to >= 0) {
        last = fmax(last, s->meter_to);
    }
    if (dur >= 0 && s->meter_to > dur) {
        return ml_yaml_fail(&c->y, ml_yaml_get(&c->y, root, "duration"),
                            "the meter runs to %g s, after duration %g s", s->meter_to, dur);
    }
    s->duration_s = dur >= 0 ? dur : last + 1.0;
    if (s->has_meter && s->meter_to < 0) {
        s->meter_to = s->duration_s;
    }
    if (s->name == NULL) {
        const char *b = strrchr(s->path, '/');
        b = b ? b + 1 : s->path;
        s->name = strdup(b);
        char *dot = strrchr(s->name, '.');
        if (dot) {
            *dot = 0;
        }
    }
    if (s->serial == NULL) {
        s->serial = strdup(s->product == ML_SCN_TIC    ? "TC00000001"
                           : s->product == ML_SCN_P1MB ? "MB00000001"
                                                       : "SC00000001");
    }
    return 0;
}

int ml_scenario_parse(const char *name, const char *text, size_t len, struct ml_scenario *s,
                      char *err, size_t errcap)
{
    memset(s, 0, sizeof *s);
    s->path = strdup(name);
    const char *slash = strrchr(name, '/');
    s->dir = slash ? strndup(name, (size_t)(slash - name)) : strdup(".");
    struct ctx c = {.s = s};
    if (ml_yaml_load(&c.y, name, text, len, err, errcap) < 0) {
        ml_scenario_free(s);
        return -1;
    }
    int rc = parse_root(&c, ml_yaml_root(&c.y));
    rc = ml_yaml_close(&c.y, rc, "scenario");
    if (rc == 0) {
        /* `# duts: sim device rig qemu (reason)` (a comment line; docs/scenarios.md) */
        for (const char *l = text; l && l < text + len;) {
            const char *nl = memchr(l, '\n', (size_t)(text + len - l));
            size_t ll = nl ? (size_t)(nl - l) : (size_t)(text + len - l);
            if (ll > 8 && !strncmp(l, "# duts:", 7)) {
                /* `(...)` after the list says why the other DUTs are left out */
                const char *why = memchr(l + 7, '(', ll - 7);
                s->duts = strndup(l + 7, why != NULL ? (size_t)(why - (l + 7)) : ll - 7);
                break;
            }
            l = nl ? nl + 1 : NULL;
        }
    }
    if (rc < 0) {
        ml_scenario_free(s);
    }
    return rc;
}

bool ml_scenario_supports_dut(const struct ml_scenario *s, const char *dut)
{
    if (s->duts == NULL) {
        return !strcmp(dut, "sim");
    }
    size_t n = strlen(dut);
    for (const char *p = s->duts; (p = strstr(p, dut)) != NULL; p += n) {
        bool start = p == s->duts || p[-1] == ' ' || p[-1] == ',' || p[-1] == '\t';
        bool end = p[n] == 0 || p[n] == ' ' || p[n] == ',' || p[n] == '\t' || p[n] == '\r';
        if (start && end) {
            return true;
        }
    }
    return false;
}

const char *ml_scn_variant_name(int v)
{
    return v >= 0 && v < 4 ? variant_names[v] : "?";
}

const char *ml_scn_variant_template(int v)
{
    return v >= 0 && v < 4 ? variant_templates[v] : "?";
}

int ml_scenario_load(const char *path, struct ml_scenario *s, char *err, size_t errcap)
{
    size_t len;
    uint8_t *text = read_all(path, &len);
    if (text == NULL) {
        memset(s, 0, sizeof *s);
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = ml_scenario_parse(path, (const char *)text, len, s, err, errcap);
    free(text);
    return rc;
}

static void values_free(struct ml_scn_values *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->v[i].src.list);
        free(v->v[i].src.t);
    }
    free(v->v);
    v->v = NULL;
    v->n = 0;
}

void ml_scenario_free(struct ml_scenario *s)
{
    for (size_t i = 0; i < s->nsteps; i++) {
        struct ml_scn_step *st = &s->steps[i];
        free(st->telegram.file);
        free(st->telegram.bytes);
        values_free(&st->telegram.values);
        values_free(&st->meter_values);
        free(st->fault.insert);
        free(st->fault.image);
        free(st->action.method);
        free(st->action.path);
        free(st->action.body);
        free(st->action.cmd_name);
        free(st->action.cmd_body);
        for (size_t k = 0; k < st->nchecks; k++) {
            struct ml_scn_check *ch = &st->checks[k];
            free(ch->name);
            free(ch->str);
            free(ch->body);
            for (size_t f = 0; f < ch->nfields; f++) {
                free(ch->fields[f].path);
                free(ch->fields[f].str);
            }
            free(ch->fields);
        }
        free(st->checks);
    }
    free(s->steps);
    values_free(&s->meter_values);
    free(s->path);
    free(s->dir);
    free(s->name);
    free(s->description);
    free(s->serial);
    free(s->meter_type);
    free(s->duts);
    free(s->mqtt_site);
    free(s->mqtt_user);
    free(s->mqtt_password);
    free(s->broker_user);
    free(s->broker_password);
    free(s->meter_header);
    free(s->meter_id);
    memset(s, 0, sizeof *s);
}

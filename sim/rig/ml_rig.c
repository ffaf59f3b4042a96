/* Rig files (YAML, libyaml document API), strictly checked; see ml_rig.h and docs/hil.md. */
#define _GNU_SOURCE
#include "ml_rig.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/file.h>
#include <yaml.h>

#include "ml_p1mb_id.h"
#include "ml_serial_net.h"
#include "ml_yaml.h"

/* serial.console.banner while parse_port() runs (copied into the rig by parse_serial) */
static char rig_console_banner[64];

static const char *const role_names[ML_RIG_ROLES] = {"inject", "p1_out", "rs485", "console"};

const char *ml_rig_role_name(enum ml_rig_role r)
{
    return (unsigned)r < ML_RIG_ROLES ? role_names[r] : "?";
}

/* ------------------------------------------------------------------------- */
/* Strict helpers (sim/yaml, shared with the scenario parser)                */
/* ------------------------------------------------------------------------- */

typedef yaml_node_t node_t;

static struct ml_rig_loc loc_of(const node_t *n)
{
    return (struct ml_rig_loc){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

/* Rig timeouts: more than 0 s and at most a day. */
static int get_secs(struct ml_yaml *c, node_t *n, const char *what, double *out)
{
    double d;
    if (ml_yaml_get_secs(c, n, what, &d) < 0) {
        return -1;
    }
    if (d <= 0 || d > 86400) {
        return ml_yaml_fail(c, n, "%s must be more than 0 s and at most 1 day, not '%s'", what,
                            ml_yaml_sval(n));
    }
    *out = d;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Sections                                                                  */
/* ------------------------------------------------------------------------- */

static int parse_dut(struct ml_yaml *c, node_t *n, struct ml_rig *rig)
{
    static const char *const keys[] = {"product", "variant", "serial", "firmware", NULL};
    if (ml_yaml_check_keys(c, n, "dut", keys) < 0) {
        return -1;
    }
    node_t *v = ml_yaml_need(c, n, "product", "dut");
    if (v == NULL || ml_yaml_want_scalar(c, v, "dut.product") < 0) {
        return -1;
    }
    if (!strcmp(ml_yaml_sval(v), "p1")) {
        rig->dut.product = ML_SCN_P1;
    } else if (!strcmp(ml_yaml_sval(v), "tic")) {
        rig->dut.product = ML_SCN_TIC;
    } else if (!strcmp(ml_yaml_sval(v), "p1mb")) {
        rig->dut.product = ML_SCN_P1MB;
    } else {
        return ml_yaml_fail(c, v, "dut.product must be p1, tic or p1mb, not '%s'", ml_yaml_sval(v));
    }
    if ((v = ml_yaml_get(c, n, "variant"))) {
        if (rig->dut.product != ML_SCN_P1MB) {
            return ml_yaml_fail(c, v, "dut.variant is for a p1mb only");
        }
        if (ml_yaml_get_str(c, v, "dut.variant", rig->dut.variant, sizeof rig->dut.variant) < 0) {
            return -1;
        }
        const struct ml_p1mb_variant *pv = ml_p1mb_variant_by_name(rig->dut.variant);
        if (pv != NULL) {
            rig->dut.variant_index = pv->code - 1; /* enum p1mb_variant */
            snprintf(rig->dut.variant, sizeof rig->dut.variant, "%s", pv->name);
        }
        if (rig->dut.variant_index < 0) {
            return ml_yaml_fail(c, v,
                                "dut.variant must be pro380, acr10rh, sdm630 or xemex, not '%s'",
                                ml_yaml_sval(v));
        }
    }
    if ((v = ml_yaml_get(c, n, "firmware")) &&
        ml_yaml_get_str(c, v, "dut.firmware", rig->dut.firmware, sizeof rig->dut.firmware) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, n, "serial")) &&
        ml_yaml_get_str(c, v, "dut.serial", rig->dut.serial, sizeof rig->dut.serial) < 0) {
        return -1;
    }
    return 0;
}

static int parse_port(struct ml_yaml *c, node_t *n, enum ml_rig_role role, struct ml_rig_port *p)
{
    char what[32];
    snprintf(what, sizeof what, "serial.%s", role_names[role]);
    static const char *const keys[] = {"path", "usb", "line", NULL};
    static const char *const keys485[] = {"path", "usb", "line", "slave_id", NULL};
    static const char *const keyscon[] = {"path", "usb", "line", "banner", NULL};
    if (ml_yaml_check_keys(c, n, what,
                           role == ML_RIG_RS485     ? keys485
                           : role == ML_RIG_CONSOLE ? keyscon
                                                    : keys) < 0) {
        return -1;
    }
    p->present = true;
    p->loc = loc_of(n);
    node_t *path = ml_yaml_get(c, n, "path"), *usb = ml_yaml_get(c, n, "usb"), *v;
    if ((path == NULL) == (usb == NULL)) {
        return ml_yaml_fail(c, path ? usb : n, "%s needs exactly one of 'path' or 'usb'", what);
    }
    if (path && ml_yaml_get_str(c, path, "path", p->path, sizeof p->path) < 0) {
        return -1;
    }
    if (path && p->path[0] == 0) {
        return ml_yaml_fail(c, path, "%s.path is empty", what);
    }
    if (path && ml_serial_is_net(p->path)) {
        struct ml_serial_net_addr a;
        char why[300];
        if (ml_serial_net_parse(p->path, &a, why, sizeof why) < 0) {
            return ml_yaml_fail(c, path, "%s.path: %s", what, why);
        }
    }
    if (usb) {
        if (ml_yaml_get_str(c, usb, "usb", p->usb, sizeof p->usb) < 0) {
            return -1;
        }
        const char *u = p->usb;
        bool ok = strlen(u) >= 9 && u[4] == ':' && (u[9] == 0 || (u[9] == ':' && u[10] != 0));
        for (int i = 0; ok && i < 9; i++) {
            ok = i == 4 || isxdigit((unsigned char)u[i]);
        }
        if (!ok) {
            return ml_yaml_fail(c, usb,
                                "%s.usb must be \"VID:PID\" or \"VID:PID:SERIAL\" with 4-digit hex "
                                "ids (see `meterlab ports`), not '%s'",
                                what, p->usb);
        }
    }
    if ((v = ml_yaml_get(c, n, "line"))) {
        char msg[160];
        if (ml_yaml_want_scalar(c, v, "line") < 0) {
            return -1;
        }
        if (ml_serial_parse_cfg(ml_yaml_sval(v), &p->line, msg, sizeof msg) < 0) {
            return ml_yaml_fail(c, v, "%s.line: %s", what, msg);
        }
        p->has_line = true;
    } else if (role == ML_RIG_RS485) {
        p->line = (struct ml_serial_cfg){9600, 8, 'E', 1}; /* P1MB default (products.md §3) */
    }
    if (role == ML_RIG_CONSOLE && (v = ml_yaml_get(c, n, "banner")) != NULL) {
        if (ml_yaml_get_str(c, v, "serial.console.banner", rig_console_banner,
                            sizeof rig_console_banner) < 0) {
            return -1;
        }
        if (rig_console_banner[0] == 0) {
            return ml_yaml_fail(c, v, "serial.console.banner is empty");
        }
    }
    if (role == ML_RIG_RS485) {
        p->slave_id = 16;
        if ((v = ml_yaml_get(c, n, "slave_id")) &&
            ml_yaml_get_int(c, v, "slave_id", 1, 247, &p->slave_id) < 0) {
            return -1;
        }
    }
    return 0;
}

static int parse_serial(struct ml_yaml *c, node_t *n, struct ml_rig *rig)
{
    static const char *const keys[] = {"inject", "p1_out", "rs485", "console", NULL};
    if (ml_yaml_check_keys(c, n, "serial", keys) < 0) {
        return -1;
    }
    for (int r = 0; r < ML_RIG_ROLES; r++) {
        node_t *v = ml_yaml_get(c, n, role_names[r]);
        if (v == NULL) {
            continue;
        }
        if (r == ML_RIG_RS485 && rig->dut.product != ML_SCN_P1MB) {
            return ml_yaml_fail(c, v, "serial.rs485 is for a p1mb DUT only");
        }
        if (r == ML_RIG_P1_OUT && rig->dut.product != ML_SCN_P1) {
            return ml_yaml_fail(
                c, v, "serial.p1_out is for a p1 DUT only (the Smart Connect P1 has P1-out)");
        }
        rig_console_banner[0] = 0;
        if (parse_port(c, v, (enum ml_rig_role)r, &rig->port[r]) < 0) {
            return -1;
        }
        if (r == ML_RIG_CONSOLE && rig_console_banner[0]) {
            snprintf(rig->console_banner, sizeof rig->console_banner, "%s", rig_console_banner);
        }
    }
    if (!rig->port[ML_RIG_INJECT].present) {
        return ml_yaml_fail(
            c, n, "serial needs 'inject' (the adapter that plays the meter into the DUT)");
    }
    for (int a = 0; a < ML_RIG_ROLES; a++) {
        for (int b = a + 1; b < ML_RIG_ROLES; b++) {
            const struct ml_rig_port *pa = &rig->port[a], *pb = &rig->port[b];
            if (pa->present && pb->present &&
                ((pa->path[0] && !strcmp(pa->path, pb->path)) ||
                 (pa->usb[0] && !strcmp(pa->usb, pb->usb)))) {
                return ml_yaml_fail(c, ml_yaml_get(c, n, role_names[b]),
                                    "serial.%s uses the same adapter as serial.%s", role_names[b],
                                    role_names[a]);
            }
        }
    }
    return 0;
}

static int parse_network(struct ml_yaml *c, node_t *n, struct ml_rig *rig)
{
    static const char *const keys[] = {"host",          "modbus_port", "http_port", "http_user",
                                       "http_password", "https_ca",    NULL};
    if (ml_yaml_check_keys(c, n, "network", keys) < 0) {
        return -1;
    }
    node_t *v = ml_yaml_need(c, n, "host", "network");
    if (v == NULL ||
        ml_yaml_get_str(c, v, "network.host", rig->network.host, sizeof rig->network.host) < 0) {
        return -1;
    }
    if (rig->network.host[0] == 0) {
        return ml_yaml_fail(c, v, "network.host is empty");
    }
    rig->network.modbus_port = 502;
    rig->network.http_port = 80;
    if ((v = ml_yaml_get(c, n, "modbus_port")) &&
        ml_yaml_get_int(c, v, "network.modbus_port", 0, 65535, &rig->network.modbus_port) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, n, "http_port")) &&
        ml_yaml_get_int(c, v, "network.http_port", 0, 65535, &rig->network.http_port) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, n, "http_user")) &&
        ml_yaml_get_str(c, v, "network.http_user", rig->network.http_user,
                        sizeof rig->network.http_user) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, n, "http_password")) &&
        ml_yaml_get_str(c, v, "network.http_password", rig->network.http_password,
                        sizeof rig->network.http_password) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, n, "https_ca")) &&
        ml_yaml_get_str(c, v, "network.https_ca", rig->network.https_ca,
                        sizeof rig->network.https_ca) < 0) {
        return -1;
    }
    return 0;
}

static int parse_mqtt(struct ml_yaml *c, node_t *n, struct ml_rig *rig)
{
    static const char *const keys[] = {"url", "user", "password", "site", NULL};
    if (ml_yaml_check_keys(c, n, "mqtt", keys) < 0) {
        return -1;
    }
    node_t *v = ml_yaml_need(c, n, "url", "mqtt");
    if (v == NULL || ml_yaml_get_str(c, v, "mqtt.url", rig->mqtt.url, sizeof rig->mqtt.url) < 0) {
        return -1;
    }
    if (strncmp(rig->mqtt.url, "mqtt://", 7) != 0 && strncmp(rig->mqtt.url, "mqtts://", 8) != 0) {
        return ml_yaml_fail(c, v, "mqtt.url must start with mqtt:// or mqtts://, not '%s'",
                            rig->mqtt.url);
    }
    if ((v = ml_yaml_get(c, n, "user")) &&
        ml_yaml_get_str(c, v, "mqtt.user", rig->mqtt.user, sizeof rig->mqtt.user) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, n, "password")) &&
        ml_yaml_get_str(c, v, "mqtt.password", rig->mqtt.password, sizeof rig->mqtt.password) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, n, "site")) &&
        ml_yaml_get_str(c, v, "mqtt.site", rig->mqtt.site, sizeof rig->mqtt.site) < 0) {
        return -1;
    }
    return 0;
}

static int parse_commands(struct ml_yaml *c, node_t *n, struct ml_rig *rig)
{
    static const char *const keys[] = {"power_off", "power_on", "button_press", "button_release",
                                       "reset",     "flash",    "timeout_s",    NULL};
    if (ml_yaml_check_keys(c, n, "commands", keys) < 0) {
        return -1;
    }
    char *dst[] = {rig->commands.power_off,      rig->commands.power_on, rig->commands.button_press,
                   rig->commands.button_release, rig->commands.reset,    rig->commands.flash};
    node_t *t = ml_yaml_get(c, n, "timeout_s");
    if (t && get_secs(c, t, "commands.timeout_s", &rig->commands.timeout_s) < 0) {
        return -1;
    }
    for (int i = 0; i < 6; i++) {
        node_t *v = ml_yaml_get(c, n, keys[i]);
        char what[40];
        snprintf(what, sizeof what, "commands.%s", keys[i]);
        if (v && ml_yaml_get_str(c, v, what, dst[i], sizeof rig->commands.power_off) < 0) {
            return -1;
        }
        if (v && dst[i][0] == 0) {
            return ml_yaml_fail(c, v, "%s is empty (leave the key out when the rig cannot do it)",
                                what);
        }
        /* the placeholders are checked now, not when the bench is half-way */
        char x[1024], why[200];
        if (v &&
            ml_rig_expand(rig, dst[i], i == 5 ? "IMAGE" : NULL, x, sizeof x, why, sizeof why) < 0) {
            return ml_yaml_fail(c, v, "%s: %s", what, why);
        }
    }
    /* a capability needs both halves */
    for (int i = 0; i < 4; i += 2) {
        if ((dst[i][0] == 0) != (dst[i + 1][0] == 0)) {
            int have = dst[i][0] ? i : i + 1;
            return ml_yaml_fail(c, ml_yaml_get_key(c, n, keys[have]),
                                "commands.%s needs commands.%s too", keys[have], keys[have ^ 1]);
        }
    }
    return 0;
}

static int parse_timeouts(struct ml_yaml *c, node_t *n, struct ml_rig *rig)
{
    static const char *const keys[] = {"boot_s", "modbus_s", "http_s", "mqtt_s", NULL};
    if (ml_yaml_check_keys(c, n, "timeouts", keys) < 0) {
        return -1;
    }
    double *dst[] = {&rig->timeouts.boot_s, &rig->timeouts.modbus_s, &rig->timeouts.http_s,
                     &rig->timeouts.mqtt_s};
    for (int i = 0; i < 4; i++) {
        node_t *v = ml_yaml_get(c, n, keys[i]);
        char what[40];
        snprintf(what, sizeof what, "timeouts.%s", keys[i]);
        if (v && get_secs(c, v, what, dst[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

/* A path of the rig file, relative to its folder. */
static void rig_relative(const struct ml_rig *rig, const char *in, char *out, size_t cap)
{
    const char *slash = strrchr(rig->path, '/');
    if (in[0] == '/' || slash == NULL) {
        snprintf(out, cap, "%s", in);
    } else {
        snprintf(out, cap, "%.*s/%s", (int)(slash - rig->path), rig->path, in);
    }
}

static int parse_qemu(struct ml_yaml *c, node_t *drv, node_t *n, struct ml_rig *rig)
{
    if (ml_yaml_want_scalar(c, drv, "driver") < 0) {
        return -1;
    }
    if (strcmp(ml_yaml_sval(drv), "qemu") != 0) {
        return ml_yaml_fail(c, drv,
                            "driver must be qemu (the only built-in driver), not '%s'; leave it "
                            "out to drive the board through commands",
                            ml_yaml_sval(drv));
    }
    if (n == NULL) {
        return ml_yaml_fail(c, drv, "driver: qemu needs a 'qemu' section (image, ports)");
    }
    static const char *const keys[] = {"image", "machine", "ports", NULL};
    if (ml_yaml_check_keys(c, n, "qemu", keys) < 0) {
        return -1;
    }
    char tmp[512];
    node_t *v = ml_yaml_need(c, n, "image", "qemu");
    if (v == NULL || ml_yaml_get_str(c, v, "qemu.image", tmp, sizeof tmp) < 0) {
        return -1;
    }
    if (tmp[0] == 0) {
        return ml_yaml_fail(c, v, "qemu.image is empty");
    }
    rig_relative(rig, tmp, rig->qemu.image, sizeof rig->qemu.image);
    if ((v = ml_yaml_need(c, n, "ports", "qemu")) == NULL ||
        ml_yaml_get_str(c, v, "qemu.ports", tmp, sizeof tmp) < 0) {
        return -1;
    }
    if (tmp[0] == 0) {
        return ml_yaml_fail(c, v, "qemu.ports is empty");
    }
    rig_relative(rig, tmp, rig->qemu.ports, sizeof rig->qemu.ports);
    snprintf(rig->qemu.machine, sizeof rig->qemu.machine, "mps2-an386");
    if ((v = ml_yaml_get(c, n, "machine")) &&
        ml_yaml_get_str(c, v, "qemu.machine", rig->qemu.machine, sizeof rig->qemu.machine) < 0) {
        return -1;
    }
    /* the driver does what these commands would */
    const char *cmd[] = {rig->commands.power_on, rig->commands.power_off, rig->commands.reset,
                         rig->commands.flash};
    const char *names[] = {"power_on", "power_off", "reset", "flash"};
    for (int i = 0; i < 4; i++) {
        if (cmd[i][0]) {
            return ml_yaml_fail(c, drv,
                                "driver: qemu powers, resets and flashes the board itself: leave "
                                "out commands.%s",
                                names[i]);
        }
    }
    rig->qemu.on = true;
    return 0;
}

static int parse_root(struct ml_yaml *c, node_t *root, struct ml_rig *rig)
{
    if (root == NULL) {
        return ml_yaml_fail(c, NULL, "empty rig file (see docs/hil.md)");
    }
    static const char *const keys[] = {"name", "dut",      "serial",     "network",
                                       "mqtt", "commands", "lock",       "driver",
                                       "qemu", "timeouts", "led_sensor", NULL};
    if (ml_yaml_check_keys(c, root, "the rig", keys) < 0) {
        return -1;
    }
    node_t *v;
    if ((v = ml_yaml_need(c, root, "name", "the rig")) == NULL ||
        ml_yaml_get_str(c, v, "name", rig->name, sizeof rig->name) < 0) {
        return -1;
    }
    if ((v = ml_yaml_need(c, root, "dut", "the rig")) == NULL || parse_dut(c, v, rig) < 0) {
        return -1;
    }
    if ((v = ml_yaml_need(c, root, "serial", "the rig")) == NULL || parse_serial(c, v, rig) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, root, "lock")) &&
        ml_yaml_get_str(c, v, "lock", rig->lock, sizeof rig->lock) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, root, "network")) && parse_network(c, v, rig) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, root, "mqtt")) && parse_mqtt(c, v, rig) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, root, "commands")) && parse_commands(c, v, rig) < 0) {
        return -1;
    }
    if ((v = ml_yaml_get(c, root, "driver"))) {
        if (parse_qemu(c, v, ml_yaml_get(c, root, "qemu"), rig) < 0) {
            return -1;
        }
    } else if ((v = ml_yaml_get(c, root, "qemu"))) {
        return ml_yaml_fail(c, v, "a 'qemu' section needs 'driver: qemu'");
    }
    if ((v = ml_yaml_get(c, root, "led_sensor"))) {
        return ml_yaml_fail(c, v,
                            "led_sensor: no LED sensor is supported yet; leave the key out "
                            "(LED expectations are reported as skipped, see docs/hil.md)");
    }
    if ((v = ml_yaml_get(c, root, "timeouts")) && parse_timeouts(c, v, rig) < 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* API                                                                       */
/* ------------------------------------------------------------------------- */

int ml_rig_parse(const char *name, const char *text, size_t len, struct ml_rig *rig, char *err,
                 size_t errcap)
{
    memset(rig, 0, sizeof *rig);
    snprintf(rig->path, sizeof rig->path, "%s", name);
    rig->dut.variant_index = -1;
    rig->timeouts.boot_s = 30;
    rig->timeouts.modbus_s = 2;
    rig->timeouts.http_s = 5;
    rig->timeouts.mqtt_s = 10;
    rig->commands.timeout_s = 60;
    snprintf(rig->console_banner, sizeof rig->console_banner, "meterlab ");
    struct ml_yaml c;
    if (ml_yaml_load(&c, name, text, len, err, errcap) < 0) {
        return -1;
    }
    int rc = parse_root(&c, ml_yaml_root(&c), rig);
    rc = ml_yaml_close(&c, rc, "rig");
    return rc;
}

int ml_rig_load(const char *path, struct ml_rig *rig, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        memset(rig, 0, sizeof *rig);
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(text, cap);
            if (t == NULL) {
                free(text);
                fclose(f);
                snprintf(err, errcap, "%s: out of memory", path);
                return -1;
            }
            text = t;
        }
        size_t k = fread(text + len, 1, cap - len, f);
        len += k;
        if (k == 0) {
            break;
        }
        if (len > (1u << 20)) {
            free(text);
            fclose(f);
            snprintf(err, errcap, "%s: larger than 1 MiB, not a rig file", path);
            return -1;
        }
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) {
        free(text);
        snprintf(err, errcap, "%s: read error", path);
        return -1;
    }
    int rc = ml_rig_parse(path, text, len, rig, err, errcap);
    free(text);
    return rc;
}

int ml_rig_find_usb(const char *spec, char *path, size_t cap, char *err, size_t errcap)
{
    int rc = ml_serial_find_usb(spec, path, cap);
    if (rc == 0) {
        return 0;
    }
    size_t k = (size_t)snprintf(err, errcap, "%s USB adapter %s",
                                rc == -EEXIST ? "more than one" : "no", spec);
    if (rc == -EEXIST && k < errcap) {
        k += (size_t)snprintf(err + k, errcap - k, " (add its serial number: VID:PID:SERIAL)");
    } else if (rc == -EINVAL && k < errcap) {
        k += (size_t)snprintf(err + k, errcap - k,
                              " (write it as VID:PID or VID:PID:SERIAL in hex)");
    } else if (rc != -ENOENT && k < errcap) {
        k += (size_t)snprintf(err + k, errcap - k, " (%s)", strerror(-rc));
    }
    struct ml_serial_port_info info[32];
    int n = ml_serial_list(info, 32);
    int usb = 0;
    for (int i = 0; i < n && i < 32 && k < errcap; i++) {
        if (!info[i].usb) {
            continue;
        }
        k += (size_t)snprintf(err + k, errcap - k, "%s %s %04x:%04x%s%s \"%s\"",
                              usb ? ";" : "; USB serial ports present:", info[i].name, info[i].vid,
                              info[i].pid, info[i].usb_serial[0] ? ":" : "", info[i].usb_serial,
                              info[i].description);
        usb++;
    }
    if (usb == 0 && k < errcap) {
        snprintf(err + k, errcap - k, "; no USB serial ports present (see `meterlab ports`)");
    }
    return rc;
}

int ml_rig_resolve(struct ml_rig *rig, char *err, size_t errcap)
{
    for (int r = 0; r < ML_RIG_ROLES; r++) {
        struct ml_rig_port *p = &rig->port[r];
        if (!p->present || p->usb[0] == 0) {
            continue;
        }
        char path[sizeof p->path], msg[768];
        if (ml_rig_find_usb(p->usb, path, sizeof path, msg, sizeof msg) == 0) {
            snprintf(p->path, sizeof p->path, "%s", path);
            continue;
        }
        snprintf(err, errcap, "%s:%d:%d: serial.%s: %s", rig->path, p->loc.line, p->loc.col,
                 role_names[r], msg);
        return -1;
    }
    return 0;
}

bool ml_rig_has(const struct ml_rig *rig, enum ml_rig_cap cap)
{
    switch (cap) {
    case ML_RIG_CAP_POWER:
        return rig->qemu.on || (rig->commands.power_off[0] && rig->commands.power_on[0]);
    case ML_RIG_CAP_BUTTON:
        return rig->commands.button_press[0] && rig->commands.button_release[0];
    case ML_RIG_CAP_LED:
        return false;
    case ML_RIG_CAP_P1_OUT:
        return rig->port[ML_RIG_P1_OUT].present;
    case ML_RIG_CAP_RS485:
        return rig->port[ML_RIG_RS485].present;
    case ML_RIG_CAP_MODBUS_TCP:
        return rig->network.host[0] && rig->network.modbus_port > 0;
    case ML_RIG_CAP_HTTP:
        return rig->network.host[0] && rig->network.http_port > 0;
    case ML_RIG_CAP_MQTT:
        return rig->mqtt.url[0] != 0;
    case ML_RIG_CAP_RESET:
        return rig->qemu.on || rig->commands.reset[0] != 0;
    case ML_RIG_CAP_FLASH:
        return rig->qemu.on || rig->commands.flash[0] != 0;
    case ML_RIG_CAP_CONSOLE:
        return rig->port[ML_RIG_CONSOLE].present;
    default:
        return false;
    }
}

const char *ml_rig_missing_reason(enum ml_rig_cap cap)
{
    switch (cap) {
    case ML_RIG_CAP_POWER:
        return "the rig has no commands.power_off/power_on (no power relay)";
    case ML_RIG_CAP_BUTTON:
        return "the rig has no commands.button_press/button_release (no button relay)";
    case ML_RIG_CAP_LED:
        return "the rig has no LED sensor";
    case ML_RIG_CAP_P1_OUT:
        return "the rig has no serial.p1_out adapter";
    case ML_RIG_CAP_RS485:
        return "the rig has no serial.rs485 adapter";
    case ML_RIG_CAP_MODBUS_TCP:
        return "the rig has no network.host/modbus_port";
    case ML_RIG_CAP_HTTP:
        return "the rig has no network.host/http_port";
    case ML_RIG_CAP_MQTT:
        return "the rig has no mqtt.url (no broker to observe)";
    case ML_RIG_CAP_RESET:
        return "the rig has no commands.reset (no reset line or debug probe)";
    case ML_RIG_CAP_FLASH:
        return "the rig has no commands.flash (no flashing tool)";
    case ML_RIG_CAP_CONSOLE:
        return "the rig has no serial.console adapter";
    default:
        return "unknown capability";
    }
}

/* ------------------------------------------------------------------------- */
/* Lock                                                                      */
/* ------------------------------------------------------------------------- */

int ml_rig_lock(const struct ml_rig *rig, bool wait, const char *who, char *err, size_t errcap)
{
    if (rig->lock[0] == '\0') {
        return -ENOENT;
    }
    char path[800];
    if (rig->lock[0] == '/' || strchr(rig->path, '/') == NULL) {
        snprintf(path, sizeof path, "%s", rig->lock);
    } else {
        int dir = (int)(strrchr(rig->path, '/') - rig->path);
        snprintf(path, sizeof path, "%.*s/%s", dir, rig->path, rig->lock);
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, errcap, "%s: lock %s: %s", rig->path, path, strerror(errno));
        return -EIO;
    }
    while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        int e = errno;
        if (e == EINTR) {
            snprintf(err, errcap, "%s: interrupted while waiting for the lock %s", rig->path, path);
            close(fd);
            return -EINTR;
        }
        if (e == EWOULDBLOCK) {
            char holder[300] = "";
            ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
            holder[n > 0 ? n : 0] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
            snprintf(err, errcap, "%s: rig '%s' is in use (lock %s held by %s); --wait to queue",
                     rig->path, rig->name, path, holder[0] ? holder : "another process");
            close(fd);
            return -EBUSY;
        }
        snprintf(err, errcap, "%s: lock %s: %s", rig->path, path, strerror(e));
        close(fd);
        return -EIO;
    }
    char host[128] = "?";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    char line[400];
    int n = snprintf(line, sizeof line, "pid %ld on %s: %s\n", (long)getpid(), host,
                     who != NULL ? who : "meterlab");
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        /* the lock holds; only the holder's description is missing */
    }
    return fd;
}

void ml_rig_unlock(int fd)
{
    if (fd >= 0) {
        if (ftruncate(fd, 0) != 0) {
            /* nothing to do: the lock is released by close */
        }
        close(fd);
    }
}

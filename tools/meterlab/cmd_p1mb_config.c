/*
 * meterlab p1mb-config: the P1MB configurator. Talks Modbus RTU (libmodbus,
 * an independent master) to a P1MB, real or simulated: reads the
 * configuration block (0xF000, docs/p1mb.md), writes new line settings /
 * address / termination, reboots the device through its reboot register, and
 * verifies that it answers at the new settings.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <modbus.h> /* libmodbus (pkg-config include dir); not firmware/core/modbus */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ml_p1mb_id.h"

/* The configuration block (docs/p1mb.md): the bench's one copy, sim/rig/ml_p1mb_id.h. */
#define REG_SIG       ML_P1MB_REG_SIG
#define REG_STORED    ML_P1MB_REG_STORED
#define REG_ACTIVE    ML_P1MB_REG_ACTIVE
#define REG_REBOOT    ML_P1MB_REG_REBOOT
#define REG_FACTORY   ML_P1MB_REG_FACTORY
#define SIG_P1        ML_P1MB_SIG_P1
#define SIG_MB        ML_P1MB_SIG_MB
#define REBOOT_MAGIC  ML_P1MB_REBOOT_MAGIC
#define FACTORY_MAGIC ML_P1MB_FACTORY_MAGIC
#define PARITY_NONE   0
#define PARITY_EVEN   1

static const char *const prog = "meterlab p1mb-config";

struct line {
    int baud;
    char parity; /* 'N' or 'E' */
    int address;
};

struct p1mb_cfg {
    int baud;
    char parity;
    int address;
    int termination;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: meterlab p1mb-config --port PATH [connection] [changes] [--reboot]\n\n"
            "Reads and changes the configuration of a P1MB over Modbus RTU: prints the\n"
            "configuration, writes the changes (stored, effective after a reboot), reboots the\n"
            "device and verifies that it answers at its new settings.\n\n"
            "connection (how the device answers now; defaults are the factory settings):\n"
            "  --port PATH            serial port: USB-RS485 adapter or a pty (required)\n"
            "  --via rs485|p1         rs485 (default): the Modbus bus; p1: the configurator\n"
            "                         cable on the P1 port (115200 8N1, address 247, verified\n"
            "                         over the same cable after the reboot)\n"
            "  --baud N               1200 .. 115200 (default 9600)\n"
            "  --parity E|N           8E1 or 8N1 (default E)\n"
            "  --address A            slave address 1..247 (default 16)\n"
            "  --timeout MS           response timeout (default 500)\n"
            "changes:\n"
            "  --set-baud N           1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400,\n"
            "                         57600 or 115200\n"
            "  --set-parity E|N\n"
            "  --set-address A        1..247\n"
            "  --set-termination on|off\n"
            "  --factory-defaults     restore 9600 8E1, address 16, termination off\n"
            "  --reboot               reboot and verify (implied by any change)\n"
            "  --no-reboot            store the changes only (effective at the next reboot)\n"
            "  -h, --help             this text\n\n"
            "exit codes: 0 ok, 1 verification failed, 2 usage or I/O error\n\n"
            "example:\n"
            "  meterlab p1mb-config --port /dev/ttyUSB0 --set-baud 19200 --set-address 5\n");
}

static bool baud_ok(long b)
{
    static const long ok[] = {1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400, 57600, 115200};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (ok[i] == b) {
            return true;
        }
    }
    return false;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: %s '%s': must be a number %ld..%ld\n", prog, opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_parity(const char *opt, const char *s, char *out)
{
    if ((s[0] == 'E' || s[0] == 'e' || s[0] == 'N' || s[0] == 'n') && s[1] == '\0') {
        *out = (s[0] == 'e' || s[0] == 'E') ? 'E' : 'N';
        return 0;
    }
    fprintf(stderr, "%s: %s '%s': must be E (8E1) or N (8N1)\n", prog, opt, s);
    return -1;
}

static modbus_t *open_line(const char *port, const struct line *l, int timeout_ms)
{
    modbus_t *mb = modbus_new_rtu(port, l->baud, l->parity, 8, 1);
    if (mb == NULL) {
        fprintf(stderr, "%s: cannot set up Modbus RTU on %s: %s\n", prog, port,
                modbus_strerror(errno));
        return NULL;
    }
    modbus_set_slave(mb, l->address);
    modbus_set_response_timeout(mb, (uint32_t)(timeout_ms / 1000),
                                (uint32_t)(timeout_ms % 1000) * 1000u);
    if (modbus_connect(mb) != 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, port, modbus_strerror(errno));
        modbus_free(mb);
        return NULL;
    }
    return mb;
}

static void close_line(modbus_t *mb)
{
    if (mb != NULL) {
        modbus_close(mb);
        modbus_free(mb);
    }
}

static struct p1mb_cfg cfg_of(const uint16_t *w)
{
    struct p1mb_cfg c = {(int)w[0] * 100,
                         w[1] == PARITY_NONE   ? 'N'
                         : w[1] == PARITY_EVEN ? 'E'
                                               : '?',
                         w[2], w[3]};
    return c;
}

static void print_cfg(const char *label, const struct p1mb_cfg *c)
{
    printf("  %-8s %d 8%c1, address %d, termination %s\n", label, c->baud, c->parity, c->address,
           c->termination ? "on" : "off");
}

static bool cfg_equal(const struct p1mb_cfg *a, const struct p1mb_cfg *b)
{
    return a->baud == b->baud && a->parity == b->parity && a->address == b->address &&
           a->termination == b->termination;
}

struct device_view {
    uint16_t variant;
    uint16_t layout;
    struct p1mb_cfg stored, active;
};

/* Read the configuration block; @return 0, -1 (no/garbled answer, message printed
 * when @p loud), -2 (answers but is no P1MB). */
static int read_block(modbus_t *mb, struct device_view *v, bool loud, const char *where)
{
    uint16_t id[4], st[4], ac[4];
    if (modbus_read_registers(mb, REG_SIG, 4, id) != 4 ||
        modbus_read_registers(mb, REG_STORED, 4, st) != 4 ||
        modbus_read_registers(mb, REG_ACTIVE, 4, ac) != 4) {
        if (loud) {
            fprintf(stderr, "%s: no answer from %s: %s\n", prog, where, modbus_strerror(errno));
        }
        return -1;
    }
    if (id[0] != SIG_P1 || id[1] != SIG_MB) {
        if (loud) {
            fprintf(stderr,
                    "%s: %s answers, but register 0x%04X reads 0x%04X 0x%04X, not \"P1\" \"MB\": "
                    "not a P1MB\n",
                    prog, where, REG_SIG, id[0], id[1]);
        }
        return -2;
    }
    v->layout = id[2];
    v->variant = id[3];
    v->stored = cfg_of(st);
    v->active = cfg_of(ac);
    return 0;
}

static const struct ml_p1mb_variant *variant_of(uint16_t code)
{
    return ml_p1mb_variant_by_code(code);
}

static int write_reg(modbus_t *mb, int addr, int value, const char *what)
{
    if (modbus_write_register(mb, addr, (uint16_t)value) == 1) {
        return 0;
    }
    fprintf(stderr, "%s: writing %s (register 0x%04X = %d) failed: %s\n", prog, what, addr, value,
            modbus_strerror(errno));
    return -1;
}

static int run(int argc, char **argv)
{
    enum {
        O_PORT = 256,
        O_BAUD,
        O_PARITY,
        O_ADDR,
        O_TIMEOUT,
        O_SBAUD,
        O_SPARITY,
        O_SADDR,
        O_STERM,
        O_FACTORY,
        O_REBOOT,
        O_NOREBOOT,
        O_VIA
    };
    static const struct option opts[] = {
        {"port", required_argument, 0, O_PORT},
        {"baud", required_argument, 0, O_BAUD},
        {"parity", required_argument, 0, O_PARITY},
        {"address", required_argument, 0, O_ADDR},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"set-baud", required_argument, 0, O_SBAUD},
        {"set-parity", required_argument, 0, O_SPARITY},
        {"set-address", required_argument, 0, O_SADDR},
        {"set-termination", required_argument, 0, O_STERM},
        {"factory-defaults", no_argument, 0, O_FACTORY},
        {"reboot", no_argument, 0, O_REBOOT},
        {"no-reboot", no_argument, 0, O_NOREBOOT},
        {"via", required_argument, 0, O_VIA},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *port = NULL;
    struct line now = {9600, 'E', 16};
    long timeout_ms = 500, v;
    long set_baud = -1, set_addr = -1, set_term = -1;
    char set_parity = 0;
    bool factory = false, reboot = false, no_reboot = false, via_p1 = false, line_given = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return ML_EXIT_OK;
        case O_PORT:
            port = optarg;
            break;
        case O_BAUD:
        case O_SBAUD:
            if (parse_int(c == O_BAUD ? "--baud" : "--set-baud", optarg, 1200, 115200, &v) != 0) {
                return ML_EXIT_USAGE;
            }
            if (!baud_ok(v)) {
                fprintf(stderr,
                        "%s: %s %ld: not a supported rate (1200, 2400, 4800, 9600, 14400, "
                        "19200, 28800, 38400, 57600, 115200)\n",
                        prog, c == O_BAUD ? "--baud" : "--set-baud", v);
                return ML_EXIT_USAGE;
            }
            if (c == O_BAUD) {
                line_given = true;
                now.baud = (int)v;
            } else {
                set_baud = v;
            }
            break;
        case O_PARITY:
            if (parse_parity("--parity", optarg, &now.parity) != 0) {
                return ML_EXIT_USAGE;
            }
            line_given = true;
            break;
        case O_SPARITY:
            if (parse_parity("--set-parity", optarg, &set_parity) != 0) {
                return ML_EXIT_USAGE;
            }
            break;
        case O_ADDR:
        case O_SADDR:
            if (parse_int(c == O_ADDR ? "--address" : "--set-address", optarg, 1, 247, &v) != 0) {
                return ML_EXIT_USAGE;
            }
            if (c == O_ADDR) {
                line_given = true;
                now.address = (int)v;
            } else {
                set_addr = v;
            }
            break;
        case O_TIMEOUT:
            if (parse_int("--timeout", optarg, 10, 60000, &timeout_ms) != 0) {
                return ML_EXIT_USAGE;
            }
            break;
        case O_STERM:
            if (strcmp(optarg, "on") == 0) {
                set_term = 1;
            } else if (strcmp(optarg, "off") == 0) {
                set_term = 0;
            } else {
                fprintf(stderr, "%s: --set-termination '%s': must be on or off\n", prog, optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case O_FACTORY:
            factory = true;
            break;
        case O_REBOOT:
            reboot = true;
            break;
        case O_NOREBOOT:
            no_reboot = true;
            break;
        case O_VIA:
            if (strcmp(optarg, "p1") == 0 || strcmp(optarg, "rs485") == 0) {
                via_p1 = optarg[0] == 'p';
            } else {
                fprintf(stderr, "%s: --via '%s': must be rs485 or p1\n", prog, optarg);
                return ML_EXIT_USAGE;
            }
            break;
        default:
            fprintf(stderr, "%s: unknown or incomplete option '%s' (see --help)\n", prog,
                    argv[optind - 1]);
            return ML_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        return ML_EXIT_USAGE;
    }
    if (port == NULL) {
        fprintf(stderr, "%s: --port PATH is required (see --help)\n", prog);
        return ML_EXIT_USAGE;
    }
    bool changes = set_baud >= 0 || set_parity != 0 || set_addr >= 0 || set_term >= 0;
    if (factory && changes) {
        fprintf(stderr, "%s: --factory-defaults cannot be combined with --set-*\n", prog);
        return ML_EXIT_USAGE;
    }
    if (reboot && no_reboot) {
        fprintf(stderr, "%s: --reboot and --no-reboot contradict each other\n", prog);
        return ML_EXIT_USAGE;
    }
    bool do_reboot = !no_reboot && (reboot || changes || factory);
    if (via_p1 && line_given) {
        fprintf(stderr,
                "%s: --via p1 talks at 115200 8N1 to address 247: no --baud, --parity "
                "or --address\n",
                prog);
        return ML_EXIT_USAGE;
    }
    if (via_p1) {
        now = (struct line){115200, 'N', 247}; /* the configurator cable (docs/p1mb.md) */
    }

    char where[512];
    snprintf(where, sizeof where, "%s (%d 8%c1, address %d)", port, now.baud, now.parity,
             now.address);
    modbus_t *mb = open_line(port, &now, (int)timeout_ms);
    if (mb == NULL) {
        return ML_EXIT_USAGE;
    }
    struct device_view dv;
    /* three tries: a request lost on the line (noise, a frame split by a late byte) is
     * not yet a device that does not answer */
    int rc = -1;
    for (int tries = 0; tries < 3 && rc == -1; tries++) {
        if (tries > 0) {
            modbus_flush(mb);
            usleep(100000);
        }
        rc = read_block(mb, &dv, tries == 2, where);
    }
    if (rc != 0) {
        close_line(mb);
        return ML_EXIT_USAGE;
    }
    const struct ml_p1mb_variant *vid = variant_of(dv.variant);
    printf("P1MB at %s\n", where);
    printf("  variant  %s (code %u), configuration layout %u\n", vid ? vid->name : "unknown",
           dv.variant, dv.layout);
    print_cfg("active", &dv.active);
    print_cfg("stored", &dv.stored);

    /* Changes go to the stored copy; the device keeps running at the active one. */
    struct p1mb_cfg want = dv.stored;
    if (factory) {
        if (write_reg(mb, REG_FACTORY, FACTORY_MAGIC, "factory defaults") != 0) {
            close_line(mb);
            return ML_EXIT_USAGE;
        }
        want = (struct p1mb_cfg){9600, 'E', 16, 0};
    }
    if (set_term >= 0 && write_reg(mb, REG_STORED + 3, (int)set_term, "termination") != 0) {
        close_line(mb);
        return ML_EXIT_USAGE;
    }
    if (set_parity != 0 &&
        write_reg(mb, REG_STORED + 1, set_parity == 'N' ? PARITY_NONE : PARITY_EVEN, "parity") !=
            0) {
        close_line(mb);
        return ML_EXIT_USAGE;
    }
    if (set_baud >= 0 && write_reg(mb, REG_STORED, (int)(set_baud / 100), "baud rate") != 0) {
        close_line(mb);
        return ML_EXIT_USAGE;
    }
    if (set_addr >= 0 && write_reg(mb, REG_STORED + 2, (int)set_addr, "address") != 0) {
        close_line(mb);
        return ML_EXIT_USAGE;
    }
    want.baud = set_baud >= 0 ? (int)set_baud : want.baud;
    want.parity = set_parity != 0 ? set_parity : want.parity;
    want.address = set_addr >= 0 ? (int)set_addr : want.address;
    want.termination = set_term >= 0 ? (int)set_term : want.termination;
    if (changes || factory) {
        struct device_view after;
        if (read_block(mb, &after, true, where) != 0) {
            close_line(mb);
            return ML_EXIT_FAIL;
        }
        if (!cfg_equal(&after.stored, &want)) {
            fprintf(stderr, "%s: the device stored something else than was written:\n", prog);
            print_cfg("stored", &after.stored);
            close_line(mb);
            return ML_EXIT_FAIL;
        }
        print_cfg("written", &want);
    }
    if (!do_reboot) {
        if (changes) {
            printf("stored; effective after the next reboot (--reboot) or power cycle\n");
        }
        close_line(mb);
        return ML_EXIT_OK;
    }

    /* The device answers the reboot write, then resets (the reply may be lost
     * on a real bus when the reset is quick: that is not an error). */
    if (modbus_write_register(mb, REG_REBOOT, REBOOT_MAGIC) != 1) {
        if (errno != ETIMEDOUT) {
            fprintf(stderr, "%s: reboot request failed: %s\n", prog, modbus_strerror(errno));
            close_line(mb);
            return ML_EXIT_USAGE;
        }
        printf("reboot requested (no answer: the device reset first)\n");
    } else {
        printf("reboot requested\n");
    }
    close_line(mb);

    struct line next = {want.baud, want.parity, want.address};
    if (via_p1) {
        next = now; /* the cable again: the device runs its new RS485 settings */
    }
    snprintf(where, sizeof where, "%s (%d 8%c1, address %d)", port, next.baud, next.parity,
             next.address);
    /* Boot takes well under a second; try for up to 5 s. */
    usleep(200000);
    mb = open_line(port, &next, (int)timeout_ms);
    if (mb == NULL) {
        return ML_EXIT_USAGE;
    }
    struct device_view nv;
    rc = -1;
    for (int tries = 0; tries < 10 && rc != 0; tries++) {
        rc = read_block(mb, &nv, false, where);
        if (rc == -2) {
            break;
        }
        if (rc != 0) {
            modbus_flush(mb);
            usleep(200000);
        }
    }
    if (rc != 0) {
        read_block(mb, &nv, true, where);
        fprintf(stderr, "%s: verification failed: the device does not answer at %s\n", prog, where);
        close_line(mb);
        return ML_EXIT_FAIL;
    }
    if (!cfg_equal(&nv.active, &want)) {
        fprintf(stderr, "%s: verification failed: the device runs with other settings:\n", prog);
        print_cfg("active", &nv.active);
        print_cfg("expected", &want);
        close_line(mb);
        return ML_EXIT_FAIL;
    }
    /* The meter identity the variant's map carries (what a master checks first). */
    const struct ml_p1mb_variant *id = variant_of(nv.variant);
    if (id != NULL) {
        uint16_t w = 0;
        if (modbus_read_registers(mb, id->id_addr, 1, &w) != 1 || w != id->id_value) {
            fprintf(stderr,
                    "%s: verification failed: %s identity register 0x%04X reads 0x%04X, want "
                    "0x%04X\n",
                    prog, id->meter, id->id_addr, w, id->id_value);
            close_line(mb);
            return ML_EXIT_FAIL;
        }
        printf("verified: answers at %s as %s (register 0x%04X = 0x%04X)\n", where, id->meter,
               id->id_addr, w);
    } else {
        printf("verified: answers at %s (unknown variant code %u)\n", where, nv.variant);
    }
    print_cfg("active", &nv.active);
    close_line(mb);
    return ML_EXIT_OK;
}

const struct ml_cmd ml_cmd_p1mb_config = {
    "p1mb-config", "read and change a P1MB's RS485 settings over Modbus RTU, reboot, verify", run};

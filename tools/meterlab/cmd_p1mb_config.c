/*
 * meterlab p1mb-config: the P1MB configurator. Talks Modbus RTU (libmodbus,
 * an independent master) to a P1MB, real or simulated: reads the
 * configuration block (0xF000, docs/p1mb.md), writes new line settings /
 * address / termination, reboots the device through its reboot register, and
 * verifies that it answers at the new settings. Options and printing; the
 * block's registers and their reading and writing: sim/rig/ml_p1mb_cfg.h.
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
#include "ml_p1mb_cfg.h"
#include "ml_p1mb_id.h"

static const char *const prog = "meterlab p1mb-config";

struct line {
    int baud;
    char parity; /* 'N' or 'E' */
    int address;
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

static void print_cfg(const char *label, const struct ml_p1mb_line *c)
{
    printf("  %-8s %d 8%c1, address %d, termination %s\n", label, c->baud, c->parity, c->address,
           c->termination ? "on" : "off");
}

static modbus_t *open_line(const char *port, const struct line *l, int timeout_ms)
{
    char why[512];
    modbus_t *mb = ml_p1mb_open(port, l->baud, l->parity, l->address, timeout_ms, why, sizeof why);
    if (mb == NULL) {
        fprintf(stderr, "%s: %s\n", prog, why);
    }
    return mb;
}

/* Read the block; @return as ml_p1mb_read_block(), the reason printed when @p loud. */
static int read_block(modbus_t *mb, struct ml_p1mb_block *v, bool loud, const char *where)
{
    char why[512];
    int rc = ml_p1mb_read_block(mb, v, why, sizeof why);
    if (rc != 0 && loud) {
        fprintf(stderr, "%s: %s: %s\n", prog, where, why);
    }
    return rc;
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
            if (!ml_p1mb_baud_ok(v)) {
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
    struct ml_p1mb_block dv;
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
        ml_p1mb_close(mb);
        return ML_EXIT_USAGE;
    }
    const struct ml_p1mb_variant *vid = ml_p1mb_variant_by_code(dv.variant);
    printf("P1MB at %s\n", where);
    printf("  variant  %s (code %u), configuration layout %u\n", vid ? vid->name : "unknown",
           dv.variant, dv.layout);
    print_cfg("active", &dv.active);
    print_cfg("stored", &dv.stored);

    /* Changes go to the stored copy; the device keeps running at the active one. */
    struct ml_p1mb_line want = dv.stored;
    if (changes || factory) {
        struct ml_p1mb_changes ch = {factory, set_baud, set_addr, set_term, set_parity};
        struct ml_p1mb_block after;
        char why[512];
        int st = ml_p1mb_store(mb, &dv, &ch, &want, &after, why, sizeof why);
        if (st != 0) {
            fprintf(stderr, "%s: %s: %s\n", prog, where, why);
            if (st == -2) {
                print_cfg("stored", &after.stored);
            }
            ml_p1mb_close(mb);
            return st == -2 ? ML_EXIT_FAIL : ML_EXIT_USAGE;
        }
        print_cfg("written", &want);
    }
    if (!do_reboot) {
        if (changes) {
            printf("stored; effective after the next reboot (--reboot) or power cycle\n");
        }
        ml_p1mb_close(mb);
        return ML_EXIT_OK;
    }

    /* The device answers the reboot write, then resets (the reply may be lost
     * on a real bus when the reset is quick: that is not an error). */
    if (modbus_write_register(mb, ML_P1MB_REG_REBOOT, ML_P1MB_REBOOT_MAGIC) != 1) {
        if (errno != ETIMEDOUT) {
            fprintf(stderr, "%s: reboot request failed: %s\n", prog, modbus_strerror(errno));
            ml_p1mb_close(mb);
            return ML_EXIT_USAGE;
        }
        printf("reboot requested (no answer: the device reset first)\n");
    } else {
        printf("reboot requested\n");
    }
    ml_p1mb_close(mb);

    struct line next = {want.baud, want.parity, want.address};
    if (via_p1) {
        next = now; /* the cable again: the device runs its new RS485 settings */
    }
    snprintf(where, sizeof where, "%s (%d 8%c1, address %d)", port, next.baud, next.parity,
             next.address);
    /* The device saves to flash, then reboots (a sector erase takes up to 0.5 s on the
     * STM32F405), and boots in well under a second: until it answers with the new
     * settings, try for up to 5 s (it may still answer with the old ones meanwhile). */
    usleep(200000);
    mb = open_line(port, &next, (int)timeout_ms);
    if (mb == NULL) {
        return ML_EXIT_USAGE;
    }
    struct ml_p1mb_block nv;
    rc = -1;
    for (int tries = 0; tries < 24; tries++) {
        rc = read_block(mb, &nv, false, where);
        if (rc == -2 || (rc == 0 && ml_p1mb_line_equal(&nv.active, &want))) {
            break;
        }
        modbus_flush(mb);
        usleep(200000);
    }
    if (rc != 0) {
        read_block(mb, &nv, true, where);
        fprintf(stderr, "%s: verification failed: the device does not answer at %s\n", prog, where);
        ml_p1mb_close(mb);
        return ML_EXIT_FAIL;
    }
    if (!ml_p1mb_line_equal(&nv.active, &want)) {
        fprintf(stderr, "%s: verification failed: the device runs with other settings:\n", prog);
        print_cfg("active", &nv.active);
        print_cfg("expected", &want);
        ml_p1mb_close(mb);
        return ML_EXIT_FAIL;
    }
    /* The meter identity the variant's map carries (what a master checks first). */
    const struct ml_p1mb_variant *id = ml_p1mb_variant_by_code(nv.variant);
    if (id != NULL) {
        uint16_t w = 0;
        if (modbus_read_registers(mb, id->id_addr, 1, &w) != 1 || w != id->id_value) {
            fprintf(stderr,
                    "%s: verification failed: %s identity register 0x%04X reads 0x%04X, want "
                    "0x%04X\n",
                    prog, id->meter, id->id_addr, w, id->id_value);
            ml_p1mb_close(mb);
            return ML_EXIT_FAIL;
        }
        printf("verified: answers at %s as %s (register 0x%04X = 0x%04X)\n", where, id->meter,
               id->id_addr, w);
    } else {
        printf("verified: answers at %s (unknown variant code %u)\n", where, nv.variant);
    }
    print_cfg("active", &nv.active);
    ml_p1mb_close(mb);
    return ML_EXIT_OK;
}

const struct ml_cmd ml_cmd_p1mb_config = {
    "p1mb-config", "read and change a P1MB's RS485 settings over Modbus RTU, reboot, verify", run};

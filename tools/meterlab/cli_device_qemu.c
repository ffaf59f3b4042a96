/*
 * meterlab device --target qemu: the device's real target image booted in
 * qemu-system-arm -M mps2-an386 by sim/qemu (ml_qemu.h: QEMU, its UARTs on
 * ptys, the banner, the ESP-AT emulator on the co-processor's pty). This file
 * parses the options and prints: the same start banner and `[t s] ...` lines
 * as the simulated device, so `meterlab run --dut qemu` reads both alike.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_device_common.h"
#include "ml_config.h"
#include "ml_qemu.h"
#include "ml_serial.h"

int ml_cli_device_qemu(int argc, char **argv);

static void usage(FILE *out)
{
    fprintf(out,
            "usage: meterlab device --target qemu --product p1mb --variant V [options]\n"
            "       meterlab device --target qemu --product p1|tic [options]\n\n"
            "Boots the device's target image (Cortex-M, MPS2-AN386) in qemu-system-arm with its\n"
            "UARTs on ptys and prints the same banner and status lines as the simulated device.\n"
            "Stop it with Ctrl-C (SIGINT) or SIGTERM: QEMU is stopped with it.\n\n"
            "options:\n"
            "  --target qemu          run the target image (without it: the simulated device)\n"
            "  --product p1mb|p1|tic  which device (required)\n"
            "  --variant NAME         P1MB register map: sdm630, pro380, acr10rh, xemex (p1mb)\n"
            "  --board NAME           QEMU machine: mps2-an386 (default, or $ML_QEMU_BOARD)\n"
            "                         or netduinoplus2 (STM32F405, images <name>_netduinoplus2)\n"
            "  --image FILE           the image (.elf); default: <name>.elf in the target build\n"
            "                         beside this meterlab's build (build/target/bin), or\n"
            "                         $ML_TARGET_BIN; images: p1mb_<variant>.elf,\n"
            "                         smart_connect_p1.elf, smart_connect_tic.elf\n"
            "  --p1-in pty            meter input (the only choice: a QEMU pty)\n"
            "  --p1-out pty|none      P1 pass-through output (p1|tic; default pty)\n"
            "  --rs485 pty            Modbus RTU side (p1mb; a QEMU pty)\n"
            "  --modbus-port N        host port for the device's Modbus TCP server (p1|tic;\n"
            "                         default 1502, 0 = any free)\n"
            "  --http-port N          host port for the device's plain HTTP server: the landing\n"
            "                         page only (default 8080, 0 = any)\n"
            "  --https-port N         host port for its HTTPS server, the page and the API\n"
            "                         (default 8443, 0 = any); the module's key and certificate\n"
            "                         are made at its first start in a directory of this run\n"
            "  --bind ADDR            address the host ports bind to (default 127.0.0.1)\n"
            "  --mdns                 the co-processor emulator answers the image's AT+MDNS on\n"
            "                         224.0.0.251:5353 with the --bind address (default: off)\n"
            "  --mqtt URL             MQTT on, to this broker (mqtt[s]://host:port); the\n"
            "                         co-processor's MQTT connections go there\n"
            "  --meter-type NAME --mqtt-site S --mqtt-user U --mqtt-password P\n"
            "                         as for the sim: with --mqtt these seed the image's empty\n"
            "                         configuration (meterlab sends PATCH /api/v1/config, then\n"
            "                         POST /api/v1/reset, before it prints the banner)\n"
            "  --mqtt-ca FILE --mqtt-cert FILE --mqtt-key FILE   the co-processor's TLS files\n"
            "  --icount VALUE         QEMU's -icount (e.g. shift=0,sleep=off,align=off: the\n"
            "                         guest clock counts instructions and skips idle time, so\n"
            "                         the image runs ahead of the wall clock unless a QMP\n"
            "                         client holds it: meterlab run --dut qemu --vtime does)\n"
            "  --qmp PATH             QEMU's QMP on this unix socket (stop/cont, clock reads)\n"
            "  --control PATH         bench control: a unix socket at PATH taking one command a\n"
            "                         line, answered 'ok' or 'error: ...': 'button press',\n"
            "                         'button release' (the image reads console bytes B/b as its\n"
            "                         button: QEMU cannot press the board's), 'fault link_down',\n"
            "                         'fault link_up' (the co-processor emulator reports the link\n"
            "                         lost / back as an ESP-AT module does; p1|tic)\n"
            "  --quiet                print only the start banner and errors\n"
            "  -h, --help             this text\n\n"
            "environment: QEMU (the qemu-system-arm to run), ML_TARGET_BIN (image directory).\n"
            "Build the images with `make target` (cmake --preset target && cmake --build --preset\n"
            "target). The emulated flash (configuration) lives in QEMU's RAM: it survives a\n"
            "reboot of the firmware, not a restart of this command.\n\n"
            "example:\n"
            "  meterlab device --target qemu --product p1mb --variant sdm630\n");
}

/* ------------------------------------------------------------------------- */
/* --control: the button stand-in and the co-processor's link (ml_qemu.h)     */
/* ------------------------------------------------------------------------- */

static int control_button(void *ctx, bool pressed, char *err, size_t cap)
{
    struct ml_qemu *q = ctx;
    if (ml_qemu_button(q, pressed, err, cap) != 0) {
        return -1;
    }
    printf("[%8.1f s] control: button %s\n", (double)ml_qemu_uptime_ms(q) / 1e3,
           pressed ? "pressed" : "released");
    fflush(stdout);
    return 0;
}

static int control_fault(void *ctx, const char *name, char *err, size_t cap)
{
    struct ml_qemu *q = ctx;
    bool down = strcmp(name, "link_down") == 0;
    if (!down && strcmp(name, "link_up") != 0) {
        snprintf(err, cap,
                 "fault '%s': the target image's network is the co-processor emulator, which "
                 "models link loss only (link_down, link_up)",
                 name);
        return -1;
    }
    if (ml_qemu_link(q, !down, err, cap) != 0) {
        return -1;
    }
    printf("[%8.1f s] control: fault %s\n", (double)ml_qemu_uptime_ms(q) / 1e3, name);
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------------- */

int ml_cli_device_qemu(int argc, char **argv)
{
    enum {
        O_TARGET = ML_CLI_O_NEXT,
        O_VARIANT,
        O_IMAGE,
        O_RS485,
        O_REALTIME,
        O_ICOUNT,
        O_QMP,
        O_UNSUPPORTED,
        O_HTTPS,
        O_CONTROL,
        O_MDNS,
        O_BOARD
    };
    static const struct option opts[] = {
        ML_CLI_DEVICE_OPTIONS,
        {"target", required_argument, 0, O_TARGET},
        {"variant", required_argument, 0, O_VARIANT},
        {"image", required_argument, 0, O_IMAGE},
        {"rs485", required_argument, 0, O_RS485},
        {"realtime", no_argument, 0, O_REALTIME},
        {"icount", required_argument, 0, O_ICOUNT},
        {"qmp", required_argument, 0, O_QMP},
        {"https-port", required_argument, 0, O_HTTPS},
        {"control", required_argument, 0, O_CONTROL},
        {"mdns", no_argument, 0, O_MDNS},
        {"board", required_argument, 0, O_BOARD},
        /* the sim's options that seed its configuration: the image has its own store */
        {"serial", required_argument, 0, O_UNSUPPORTED},
        {"state-dir", required_argument, 0, O_UNSUPPORTED},
        {0, 0, 0, 0},
    };
    const char *product = NULL, *variant = NULL, *image_arg = NULL, *bind = "127.0.0.1";
    const char *mqtt = NULL, *ca = NULL, *cert = NULL, *key = NULL, *control = NULL;
    bool mdns = false;
    const char *icount = NULL, *qmp = NULL;
    /* --board, else $ML_QEMU_BOARD (so `meterlab run --dut qemu` can pick it), else MPS2 */
    const char *qboard = getenv("ML_QEMU_BOARD");
    if (qboard == NULL || qboard[0] == '\0') {
        qboard = "mps2-an386";
    }
    bool quiet = false, p1out = true;
    struct ml_qemu_seed seed = {NULL, NULL, NULL, NULL, NULL};
    uint16_t modbus_port = 1502, http_port = 8080, https_port = 8443;
    int c, longindex = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &longindex)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return ML_EXIT_OK;
        case O_TARGET:
            if (strcmp(optarg, "qemu") != 0) {
                fprintf(stderr,
                        "meterlab device: --target '%s': must be qemu (or leave it out "
                        "for the simulated device)\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case ML_CLI_O_PRODUCT:
            product = optarg;
            break;
        case O_VARIANT:
            variant = optarg;
            break;
        case O_IMAGE:
            image_arg = optarg;
            break;
        case ML_CLI_O_P1IN:
        case O_RS485:
            if (strcmp(optarg, "pty") != 0) {
                fprintf(stderr,
                        "meterlab device: --%s '%s': with --target qemu only 'pty' is supported\n",
                        opts[longindex].name, optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case ML_CLI_O_P1OUT:
            if (strcmp(optarg, "none") == 0) {
                p1out = false;
            } else if (strcmp(optarg, "pty") != 0) {
                fprintf(stderr, "meterlab device: --p1-out '%s': with --target qemu: pty or none\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case ML_CLI_O_PORT:
        case ML_CLI_O_HTTP:
            if (!ml_cli_port_opt(c == ML_CLI_O_PORT ? "--modbus-port" : "--http-port", optarg,
                                 c == ML_CLI_O_PORT ? &modbus_port : &http_port)) {
                return ML_EXIT_USAGE;
            }
            break;
        case O_HTTPS:
            if (!ml_cli_port_opt("--https-port", optarg, &https_port)) {
                return ML_EXIT_USAGE;
            }
            break;
        case ML_CLI_O_BIND:
            bind = optarg;
            break;
        case ML_CLI_O_MQTT:
            if (!ml_cli_mqtt_url_ok(optarg)) {
                return ML_EXIT_USAGE;
            }
            mqtt = optarg;
            seed.mqtt_url = optarg;
            break;
        case ML_CLI_O_CA:
            ca = optarg;
            break;
        case ML_CLI_O_CERT:
            cert = optarg;
            break;
        case ML_CLI_O_KEY:
            key = optarg;
            break;
        case ML_CLI_O_QUIET:
            quiet = true;
            break;
        case ML_CLI_O_MTYPE:
            seed.meter_type = optarg;
            break;
        case ML_CLI_O_SITE:
            seed.site = optarg;
            break;
        case ML_CLI_O_USER:
            seed.user = optarg;
            break;
        case ML_CLI_O_PASS:
            seed.password = optarg;
            break;
        case O_BOARD:
            qboard = optarg;
            break;
        case O_CONTROL:
            control = optarg;
            break;
        case O_MDNS:
            mdns = true;
            break;
        case O_REALTIME:
            break; /* --realtime: without --icount QEMU runs against the wall clock */
        case O_ICOUNT:
            icount = optarg;
            break;
        case O_QMP:
            qmp = optarg;
            break;
        case O_UNSUPPORTED:
            fprintf(stderr,
                    "meterlab device: --%s is not supported with --target qemu (the image has "
                    "its own identity and configuration store; configure it through its "
                    "interfaces)\n",
                    opts[longindex].name);
            return ML_EXIT_USAGE;
        default:
            fprintf(stderr,
                    "meterlab device: unknown or incomplete option '%s' for --target qemu (see "
                    "--target qemu --help)\n",
                    argv[optind - 1]);
            return ML_EXIT_USAGE;
        }
    }
    if (!ml_cli_device_args_ok(argc, argv, product, "p1mb|p1|tic") ||
        !ml_cli_mqtt_tls_ok(ca, cert, key)) {
        return ML_EXIT_USAGE;
    }
    bool is_p1mb = strcmp(product, "p1mb") == 0;
    bool is_tic = strcmp(product, "tic") == 0;
    if (!is_p1mb && !is_tic && strcmp(product, "p1") != 0) {
        fprintf(stderr, "meterlab device: --product '%s': must be p1, tic or p1mb\n", product);
        return ML_EXIT_USAGE;
    }
    /* The images of a board other than the MPS2 carry its name: p1mb_sdm630_netduinoplus2.elf */
    const char *suffix;
    if (strcmp(qboard, "mps2-an386") == 0) {
        suffix = "";
    } else if (strcmp(qboard, "netduinoplus2") == 0) {
        suffix = "_netduinoplus2";
    } else {
        fprintf(stderr,
                "meterlab device: --board '%s': must be mps2-an386 (the Cortex-M port) or "
                "netduinoplus2 (the STM32F405 port)\n",
                qboard);
        return ML_EXIT_USAGE;
    }
    char name[64];
    if (is_p1mb) {
        static const char *const known[] = {"sdm630", "pro380", "acr10rh", "xemex"};
        bool ok = false;
        for (size_t i = 0; variant != NULL && i < sizeof known / sizeof known[0]; i++) {
            ok = ok || strcmp(variant, known[i]) == 0;
        }
        if (!ok) {
            fprintf(stderr,
                    "meterlab device: --variant %s%s%s: must be sdm630, pro380, acr10rh or "
                    "xemex for --product p1mb\n",
                    variant ? "'" : "", variant ? variant : "is required", variant ? "'" : "");
            return ML_EXIT_USAGE;
        }
        snprintf(name, sizeof name, "p1mb_%s%s.elf", variant, suffix);
    } else {
        if (variant != NULL) {
            fprintf(stderr, "meterlab device: --variant is for --product p1mb\n");
            return ML_EXIT_USAGE;
        }
        snprintf(name, sizeof name, "smart_connect_%s%s.elf", is_tic ? "tic" : "p1", suffix);
    }

    /* QEMU and the image, with an error that says how to get them. */
    const char *qemu_name = getenv("QEMU");
    if (qemu_name == NULL || qemu_name[0] == '\0') {
        qemu_name = "qemu-system-arm";
    }
    char qemu_bin[PATH_MAX];
    if (!ml_qemu_find_program(qemu_name, qemu_bin, sizeof qemu_bin)) {
        fprintf(stderr,
                "meterlab device: %s not found: install QEMU's Arm system emulator (Debian: "
                "apt-get install qemu-system-arm, or tools/bootstrap) or set QEMU=/path\n",
                qemu_name);
        return ML_EXIT_USAGE;
    }
    char image[PATH_MAX], tried[3 * PATH_MAX];
    if (image_arg != NULL) {
        snprintf(image, sizeof image, "%s", image_arg);
        if (access(image, R_OK) != 0) {
            fprintf(stderr, "meterlab device: --image %s: %s\n", image, strerror(errno));
            return ML_EXIT_USAGE;
        }
    } else if (!ml_qemu_find_image(name, image, sizeof image, tried, sizeof tried)) {
        fprintf(stderr,
                "meterlab device: no target image %s (looked in %s): build it with `make "
                "target` (preset 'target': cmake --preset target && cmake --build --preset "
                "target), or give --image FILE\n",
                name, tried);
        return ML_EXIT_USAGE;
    }
    bool seeding = seed.meter_type != NULL || seed.mqtt_url != NULL || seed.site != NULL ||
                   seed.user != NULL || seed.password != NULL;
    if (seeding && is_p1mb) {
        fprintf(stderr, "meterlab device: --meter-type/--mqtt... are for --product p1|tic\n");
        return ML_EXIT_USAGE;
    }

    struct ml_qemu_opts qo = {
        .qemu = qemu_bin,
        .image = image,
        .machine = qboard,
        .p1mb = is_p1mb,
        .p1_out = p1out,
        .bind = bind,
        .modbus_port = modbus_port,
        .http_port = http_port,
        .https_port = https_port,
        .mqtt_url = mqtt,
        .ca = ca,
        .cert = cert,
        .key = key,
        .seed = seed,
        .icount = icount,
        .qmp = qmp,
        .mdns = mdns,
        .stop = ml_cli_stop_requested,
    };
    ml_cli_catch_stop_signals();
    struct ml_qemu *q = NULL;
    struct ml_qemu_banner b;
    char err[2048];
    if (ml_qemu_start(&q, &qo, &b, err, sizeof err) != 0) {
        if (!ml_cli_stop_requested()) {
            fprintf(stderr, "meterlab device: %s\n", err);
        }
        return ML_EXIT_USAGE;
    }
    int rc = ML_EXIT_USAGE;

    if (is_p1mb) {
        /* "meterlab p1mb: variant sdm630 (Eastron-SDM630), board B, firmware F" */
        const char *v = strstr(b.title, "variant ");
        const char *fw = strstr(b.title, "firmware ");
        const char *board = strstr(b.title, "board ");
        int vlen = 0;
        if (v != NULL && board != NULL && board > v + 10) {
            vlen = (int)(board - v - 8 - 2); /* up to ", board" */
        }
        printf("meterlab device: P1MB, variant %.*s, qemu %.*s, firmware %s\n", vlen,
               v != NULL ? v + 8 : "", board != NULL ? (int)strcspn(board + 6, ",") : 0,
               board != NULL ? board + 6 : "", fw != NULL ? fw + 9 : "?");
        printf("  serial number  %s\n", b.serial);
        printf("  P1 in          %s (115200 8N1)\n", ml_qemu_pty(q, ML_QEMU_P1_IN));
        printf("  RS485          %s (%s)\n", ml_qemu_pty(q, ML_QEMU_RS485), b.rs485);
        printf("  configuration  %s\n", b.config);
    } else {
        const char *fw = strstr(b.title, "firmware ");
        printf("meterlab device: %s (qemu, firmware %s)\n",
               is_tic ? "Smart TIC Connect" : "Smart P1/A1 Connect", fw != NULL ? fw + 9 : "?");
        const char *pw = ml_qemu_banner_get(&b, "login");
        printf("  serial number  %s\n", b.serial);
        printf("  login          user / %s\n", pw != NULL ? pw : "?");
        const struct ml_serial_cfg *line = is_tic ? &ml_serial_tic_std : &ml_serial_p1_v4;
        printf("  %-14s %s (%u %u%c%u)\n", is_tic ? "TIC in" : "P1 in",
               ml_qemu_pty(q, ML_QEMU_P1_IN), line->baud, line->data_bits, line->parity,
               line->stop_bits);
        printf("  P1 out         %s\n",
               ml_qemu_pty(q, ML_QEMU_P1_OUT)[0] ? ml_qemu_pty(q, ML_QEMU_P1_OUT) : "none");
        const char *tpl = ml_qemu_banner_get(&b, "template");
        uint16_t mb = ml_qemu_host_port(q, 502), http = ml_qemu_host_port(q, 80);
        printf("  Modbus TCP     port %u, template %s\n", mb, tpl != NULL ? tpl : "?");
        printf("  HTTPS          https://user:%s@127.0.0.1:%u/ (API /api/v1/...)\n",
               pw != NULL ? pw : "?", ml_qemu_host_port(q, 443));
        printf("  certificate    %s\n", ml_qemu_cert(q));
        printf("  HTTP           http://127.0.0.1:%u/ (landing page only)\n", http);
        printf("  config         %s\n", b.config[0] ? b.config : "?");
        const char *m = ml_qemu_banner_get(&b, "mqtt");
        printf("  MQTT           %s\n", m != NULL ? m : "off");
    }
    printf("  image          %s\n", image);
    struct ml_cli_control *ctl = NULL;
    if (control != NULL) {
        const struct ml_cli_control_ops ops = {control_button, control_fault, q};
        ctl = ml_cli_control_start(control, &ops);
        if (ctl == NULL) {
            goto out;
        }
        printf("  control        %s\n", control);
    }
    printf("  stop with Ctrl-C\n");
    fflush(stdout);

    /* Console lines: status changes as "[t s] ...", a reboot's banner condensed. */
    char line[512];
    bool in_banner = false;
    struct ml_qemu_banner rb;
    while (!ml_cli_stop_requested()) {
        int r = ml_qemu_line(q, line, sizeof line, 200);
        if (r < 0 || !ml_qemu_alive(q)) {
            if (ml_cli_stop_requested()) {
                break;
            }
            fprintf(stderr, "meterlab device: QEMU exited unexpectedly\n");
            rc = ML_EXIT_FAIL;
            goto out;
        }
        if (r == 0 || line[0] == '\0') {
            continue;
        }
        double t = (double)ml_qemu_uptime_ms(q) / 1e3;
        if (strncmp(line, "meterlab ", 9) == 0) {
            in_banner = true; /* the image rebooted */
            memset(&rb, 0, sizeof rb);
        }
        if (in_banner) {
            if (strcmp(line, "ready") == 0) {
                in_banner = false;
                if (!quiet) {
                    printf("[%8.1f s] rebooted (reset %s)%s%s\n", t, rb.reset,
                           rb.rs485[0] ? ": RS485 " : "", rb.rs485);
                }
                /* as the sim: the line settings ("9600 8E1") when a reboot changed them */
                size_t ln = strcspn(rb.rs485, ",");
                if (rb.rs485[0] &&
                    (ln != strcspn(b.rs485, ",") || strncmp(rb.rs485, b.rs485, ln))) {
                    printf("[%8.1f s] RS485 line settings now %.*s\n", t, (int)ln, rb.rs485);
                }
                if (rb.rs485[0]) {
                    snprintf(b.rs485, sizeof b.rs485, "%s", rb.rs485);
                }
            } else {
                ml_qemu_banner_take(&rb, line);
            }
        } else if (!quiet || strncmp(line, "ASSERT", 6) == 0 || strncmp(line, "FAULT", 5) == 0 ||
                   strncmp(line, "WATCHDOG", 8) == 0) {
            printf("[%8.1f s] %s\n", t, line);
        }
        fflush(stdout);
    }
    printf("meterlab device: stopping\n");
    fflush(stdout);
    rc = ML_EXIT_OK;
out:
    ml_cli_control_stop(ctl);
    ml_qemu_stop(q);
    return rc;
}

/*
 * meterlab device: the stand-alone simulated device. The firmware runs on the
 * sim port in real time; its meter input/output are ptys or real serial ports,
 * its Modbus TCP server and MQTT client use the host's network (loopback by
 * default).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_device_common.h"
#include "cli_identity.h"
#include "ml_config.h"
#include "ml_devices.h"
#include "ml_run.h"
#include "ml_serial.h"
#include "mqtt/mqtt_policy.h"

/* meterlab device --product p1mb ...: defined in cli_device_p1mb.c. */
int ml_cli_device_p1mb(int argc, char **argv);
/* meterlab device --target qemu ...: defined in cli_device_qemu.c. */
int ml_cli_device_qemu(int argc, char **argv);

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: meterlab device --product p1|tic [options]\n"
        "       meterlab device --product p1mb --variant V --rs485 pty|PATH [options]"
        " (see --product p1mb --help)\n"
        "       meterlab device --target qemu [--board mps2-an386|netduinoplus2] --product "
        "p1mb|p1|tic\n"
        "                       [options] (the target image in QEMU; see --target qemu --help)\n\n"
        "Runs the simulated Smart P1/A1 Connect (p1) or Smart TIC Connect (tic) in real time.\n"
        "Meter bytes written into its P1 input reach the firmware; its outputs are Modbus TCP,\n"
        "MQTT and the P1-out copy. Stop it with Ctrl-C (SIGINT) or SIGTERM.\n\n"
        "options:\n"
        "  --product p1|tic       which device (required)\n"
        "  --serial SN            serial number (default: from the state dir, made once)\n"
        "  --state-dir DIR        keeps identity and flash across runs (default: none, all in "
        "memory)\n"
        "  --p1-in pty|PATH       meter input: 'pty' creates one and prints its path (default),\n"
        "                         or a tty / USB serial adapter opened at the protocol's settings\n"
        "  --p1-out pty|PATH|none P1 pass-through output (default: pty)\n"
        "  --modbus-port N        Modbus TCP port (default 502 as root, else 1502; 0 = any free)\n"
        "  --http-port N          plain HTTP port (default 80 as root, else 8080; 0 = any free):\n"
        "                         only the landing page (link to https, status dots)\n"
        "  --https-port N         HTTPS port of the web page and the API (default 443 as root,\n"
        "                         else 8443; 0 = any free); login: user / the label password\n"
        "                         printed below; key and certificate: made at the first start,\n"
        "                         kept in the state dir (https_key.pem 0600, https_cert.pem)\n"
        "  --plain-api            test benches only: no HTTPS, the page and the API on plain\n"
        "                         HTTP (the password travels in clear; docs/security.md)\n"
        "  --bind ADDR            address for the TCP servers (default 127.0.0.1)\n"
        "  --mdns                 answer mDNS (smart-connect.local, renamed -2, -3 ... beside\n"
        "                         other devices, and smart-connect-<serial>.local) on\n"
        "                         224.0.0.251:5353 with the --bind address (default: off)\n"
        "  --meter-type NAME      register map template (see 'meterlab regmap'; default "
        "PhoenixContact-EMPro)\n"
        "  --mqtt URL             enable MQTT: mqtt://host:port or mqtts://host:port\n"
        "                         (mqtts:// or port 8883 is TLS; other mqtt:// plain TCP)\n"
        "  --mqtt-site NAME       topic site (default: 'default')\n"
        "  --mqtt-user U --mqtt-password P   broker credentials\n"
        "  --mqtt-ca FILE --mqtt-cert FILE --mqtt-key FILE   TLS trust anchor / mutual TLS\n"
        "                         (PEM; checked at start, exit 2 when not usable)\n"
        "  --realtime             run against the wall clock (the default for this command)\n"
        "  --control PATH         bench control: a unix socket at PATH taking one command a\n"
        "                         line, answered 'ok' or 'error: ...': 'button press',\n"
        "                         'button release' (the device's button), 'fault NAME' with\n"
        "                         a scenario network fault: link_down, link_up, dhcp_fails,\n"
        "                         dhcp_ok, gateway_down, gateway_up, internet_down, internet_up\n"
        "  --quiet                print only the start banner and errors\n"
        "\nThe meter type, MQTT and network options seed the device configuration while its\n"
        "config store is empty (a new --state-dir, or none); once a configuration was saved\n"
        "(PATCH /api/v1/config or the web page) the saved one wins on every later start.\n"
        "  -h, --help             this text\n\n"
        "example:\n"
        "  meterlab device --product p1 --modbus-port 1502 --mqtt mqtt://127.0.0.1:1883\n");
}

/* ------------------------------------------------------------------------- */
/* --control: where the in-process scenario backend acts (ml_dut_sim.c)        */
/* ------------------------------------------------------------------------- */

static int control_button(void *ctx, bool pressed, char *err, size_t cap)
{
    (void)ctx;
    (void)err;
    (void)cap;
    ml_dut_sim_button(pressed);
    printf("[%8.1f s] control: button %s\n", (double)sim_now_us() / 1e6,
           pressed ? "pressed" : "released");
    fflush(stdout);
    return 0;
}

static int control_fault(void *ctx, const char *name, char *err, size_t cap)
{
    (void)ctx;
    for (int k = ML_SF_LINK_DOWN; k <= ML_SF_INTERNET_UP; k++) {
        if (strcmp(name, ml_scn_fault_name((enum ml_scn_fault_kind)k)) == 0) {
            /* the stand-alone device has the Ethernet interface only */
            ml_dut_sim_net_fault((enum ml_scn_fault_kind)k, false);
            printf("[%8.1f s] control: fault %s\n", (double)sim_now_us() / 1e6, name);
            fflush(stdout);
            return 0;
        }
    }
    snprintf(err, cap,
             "fault '%s': not a network fault of the simulated device (link_down, link_up, "
             "dhcp_fails, dhcp_ok, gateway_down, gateway_up, internet_down, internet_up)",
             name);
    return -1;
}

/* ------------------------------------------------------------------------- */

static int run(int argc, char **argv)
{
    enum { O_SERIAL = ML_CLI_O_NEXT, O_STATE, O_REALTIME, O_HTTPS, O_PLAIN_API, O_CONTROL, O_MDNS };
    static const struct option opts[] = {
        ML_CLI_DEVICE_OPTIONS,
        {"serial", required_argument, 0, O_SERIAL},
        {"state-dir", required_argument, 0, O_STATE},
        {"realtime", no_argument, 0, O_REALTIME},
        {"https-port", required_argument, 0, O_HTTPS},
        {"plain-api", no_argument, 0, O_PLAIN_API},
        {"control", required_argument, 0, O_CONTROL},
        {"mdns", no_argument, 0, O_MDNS},
        {0, 0, 0, 0},
    };
    /* The target image in QEMU (any product): cli_device_qemu.c. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--target") == 0 || strncmp(argv[i], "--target=", 9) == 0) {
            return ml_cli_device_qemu(argc, argv);
        }
    }
    /* The P1MB has its own options (RS485 side, variant): cli_device_p1mb.c. */
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--product") == 0 && i + 1 < argc &&
             strcmp(argv[i + 1], "p1mb") == 0) ||
            strcmp(argv[i], "--product=p1mb") == 0) {
            return ml_cli_device_p1mb(argc, argv);
        }
    }
    struct sc_settings set;
    sc_settings_defaults(&set);
    set.modbus_port = geteuid() == 0 ? 502 : 1502;
    set.http_port = geteuid() == 0 ? 80 : 8080;
    set.https_port = geteuid() == 0 ? 443 : 8443;
    set.mqtt_enabled = false;
    const char *product = NULL, *state_dir = NULL, *p1in = "pty", *p1out = "pty";
    const char *control = NULL;
    char serial[24] = "", password[9] = "";
    bool quiet = false, mdns_on = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return ML_EXIT_OK;
        case ML_CLI_O_PRODUCT:
            product = optarg;
            break;
        case O_SERIAL:
            if (!ml_cli_serial_opt(optarg, serial, sizeof serial)) {
                return ML_EXIT_USAGE;
            }
            break;
        case O_STATE:
            state_dir = optarg;
            break;
        case ML_CLI_O_P1IN:
            p1in = optarg;
            break;
        case ML_CLI_O_P1OUT:
            p1out = optarg;
            break;
        case ML_CLI_O_PORT:
        case ML_CLI_O_HTTP:
            if (!ml_cli_port_opt(c == ML_CLI_O_PORT ? "--modbus-port" : "--http-port", optarg,
                                 c == ML_CLI_O_PORT ? &set.modbus_port : &set.http_port)) {
                return ML_EXIT_USAGE;
            }
            break;
        case O_HTTPS:
            if (!ml_cli_port_opt("--https-port", optarg, &set.https_port)) {
                return ML_EXIT_USAGE;
            }
            break;
        case O_PLAIN_API:
            set.plain_api = true;
            break;
        case O_MDNS:
            sim_net_mdns_enable(true);
            mdns_on = true;
            break;
        case ML_CLI_O_BIND:
            sim_net_set_bind_addr(optarg);
            break;
        case ML_CLI_O_MTYPE:
            if (regmap_template_find(optarg, strlen(optarg)) == NULL) {
                fprintf(stderr,
                        "meterlab device: --meter-type '%s': unknown template (see 'meterlab "
                        "regmap')\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            snprintf(set.meter_type, sizeof set.meter_type, "%s", optarg);
            break;
        case ML_CLI_O_MQTT:
            if (!ml_cli_mqtt_url_ok(optarg)) {
                return ML_EXIT_USAGE;
            }
            set.mqtt_enabled = true;
            snprintf(set.mqtt_url, sizeof set.mqtt_url, "%s", optarg);
            break;
        case ML_CLI_O_SITE:
            snprintf(set.mqtt_site, sizeof set.mqtt_site, "%s", optarg);
            break;
        case ML_CLI_O_USER:
            snprintf(set.mqtt_user, sizeof set.mqtt_user, "%s", optarg);
            break;
        case ML_CLI_O_PASS:
            snprintf(set.mqtt_password, sizeof set.mqtt_password, "%s", optarg);
            break;
        case ML_CLI_O_CA:
            snprintf(set.mqtt_ca_file, sizeof set.mqtt_ca_file, "%s", optarg);
            break;
        case ML_CLI_O_CERT:
            snprintf(set.mqtt_cert_file, sizeof set.mqtt_cert_file, "%s", optarg);
            break;
        case ML_CLI_O_KEY:
            snprintf(set.mqtt_key_file, sizeof set.mqtt_key_file, "%s", optarg);
            break;
        case O_REALTIME:
            break;
        case O_CONTROL:
            control = optarg;
            break;
        case ML_CLI_O_QUIET:
            quiet = true;
            break;
        default:
            fprintf(stderr, "meterlab device: unknown or incomplete option '%s' (see --help)\n",
                    argv[optind - 1]);
            return ML_EXIT_USAGE;
        }
    }
    if (!ml_cli_device_args_ok(argc, argv, product, "p1|tic") ||
        !ml_cli_mqtt_tls_ok(set.mqtt_ca_file, set.mqtt_cert_file, set.mqtt_key_file)) {
        return ML_EXIT_USAGE;
    }
    if (strcmp(product, "p1") == 0) {
        set.flavour = SC_FLAVOUR_P1;
    } else if (strcmp(product, "tic") == 0) {
        set.flavour = SC_FLAVOUR_TIC;
    } else {
        fprintf(stderr, "meterlab device: --product '%s': must be p1, tic or p1mb\n", product);
        return ML_EXIT_USAGE;
    }

    char flash[4096] = "";
    if (state_dir != NULL) {
        if (ml_cli_state_dir_prepare(state_dir, "SC", serial, sizeof serial, password,
                                     sizeof password, flash, sizeof flash) != 0) {
            return ML_EXIT_USAGE;
        }
    } else {
        if (serial[0] == '\0') {
            snprintf(serial, sizeof serial, "SC00000001");
        }
        snprintf(password, sizeof password, "simlabel");
    }

    const struct ml_serial_cfg *line =
        set.flavour == SC_FLAVOUR_TIC ? &ml_serial_tic_std : &ml_serial_p1_v4;
    char in_path[256], out_path[256] = "none";
    int in_fd = ml_cli_open_port("P1 in", p1in, line, in_path, sizeof in_path, NULL);
    if (in_fd < 0) {
        return ML_EXIT_USAGE;
    }
    int out_fd = -1;
    if (strcmp(p1out, "none") != 0) {
        out_fd = ml_cli_open_port("P1 out", p1out, line, out_path, sizeof out_path, NULL);
        if (out_fd < 0) {
            close(in_fd);
            return ML_EXIT_USAGE;
        }
    }

    struct sim_config cfg = {.time_mode = SIM_TIME_REAL,
                             .serial = serial,
                             .label_password = password,
                             .flash_file = flash[0] ? flash : NULL,
                             .tls_dir = state_dir};
    sim_uart_bind_fd(HAL_UART_P1_IN, in_fd);
    if (out_fd >= 0) {
        sim_uart_bind_fd(HAL_UART_P1_OUT, out_fd);
    }
    int rc = ml_dev_sc_start(&set, &cfg);
    if (rc != 0) {
        fprintf(stderr, "meterlab device: cannot start the simulated device (error %d)\n", rc);
        return ML_EXIT_USAGE;
    }
    const struct sc_app *app = ml_dev_sc_app();
    for (int i = 0; i < 100 && app->status.modbus_port == 0; i++) {
        usleep(10000);
    }
    if (app->status.modbus_port == 0) {
        fprintf(stderr,
                "meterlab device: cannot listen on Modbus TCP port %u (in use, or 502 "
                "without privileges?)\n",
                set.modbus_port);
        ml_dev_sc_stop();
        return ML_EXIT_USAGE;
    }
    printf("meterlab device: %s (simulated, firmware %s)\n",
           set.flavour == SC_FLAVOUR_TIC ? "Smart TIC Connect" : "Smart P1/A1 Connect",
           ML_FW_VERSION);
    printf("  serial number  %s\n", serial);
    printf("  login          user / %s\n", password);
    printf("  %-14s %s (%u %u%c%u)\n", set.flavour == SC_FLAVOUR_TIC ? "TIC in" : "P1 in", in_path,
           line->baud, line->data_bits, line->parity, line->stop_bits);
    printf("  P1 out         %s\n", out_path);
    /* what runs: the saved configuration overrides the options (see --help) */
    const struct sc_settings *eff = app->set != NULL ? app->set : &set;
    printf("  Modbus TCP     port %u, template %s\n", app->status.modbus_port, eff->meter_type);
    if (app->status.https_port != 0) {
        char cert[600] = "in memory (no --state-dir)";
        (void)sim_tls_cert_path(cert, sizeof cert);
        printf("  HTTPS          https://user:%s@127.0.0.1:%u/ (API /api/v1/...)\n", password,
               app->status.https_port);
        printf("  certificate    %s\n", cert);
    } else if (!set.plain_api) {
        printf("  HTTPS          off (cannot listen on port %u or make the key)\n", set.https_port);
    }
    if (app->status.http_port != 0 && set.plain_api) {
        printf("  HTTP           http://user:%s@127.0.0.1:%u/ (API /api/v1/... in clear: "
               "--plain-api, test benches only)\n",
               password, app->status.http_port);
    } else if (app->status.http_port != 0) {
        printf("  HTTP           http://127.0.0.1:%u/ (landing page only)\n",
               app->status.http_port);
    } else {
        printf("  HTTP           off (cannot listen on port %u)\n", set.http_port);
    }
    printf("  config         %s\n", app->status.config_saved ? "saved configuration (store)"
                                                             : "from the options (store empty)");
    printf("  MQTT           %s", eff->mqtt_enabled ? eff->mqtt_url : "off");
    if (eff->mqtt_enabled) {
        printf(" (site '%s')", eff->mqtt_site[0] ? eff->mqtt_site : "default");
    }
    printf("\n");
    struct ml_cli_control *ctl = NULL;
    if (control != NULL) {
        static const struct ml_cli_control_ops ops = {control_button, control_fault, NULL};
        ctl = ml_cli_control_start(control, &ops);
        if (ctl == NULL) {
            ml_dev_sc_stop();
            return ML_EXIT_USAGE;
        }
        printf("  control        %s\n", control);
    }
    struct sim_net_names names;
    sim_net_get_names(&names);
    printf("  DHCP host name %s\n", names.dhcp[0] != '\0' ? names.dhcp : "(none)");
    printf("  mDNS           %s\n", mdns_on ? "on, 224.0.0.251:5353" : "off (--mdns)");
    printf("  stop with Ctrl-C\n");
    fflush(stdout);

    ml_cli_catch_stop_signals();
    uint32_t last_pass = 0, last_fail = 0, last_frame = 0;
    int last_led = -1, last_mqtt = -1, last_ip = -1;
    char last_names[160] = "";
    while (!ml_cli_stop_requested()) {
        usleep(100000);
        if (quiet) {
            continue;
        }
        const struct sc_counters *k = &app->counters;
        double t = (double)sim_now_us() / 1e6;
        if (k->telegrams_pass != last_pass || k->telegrams_fail != last_fail ||
            k->telegrams_frame_fail != last_frame) {
            printf("[%8.1f s] telegrams: %u ok, %u crc/checksum fail, %u frame fail\n", t,
                   k->telegrams_pass, k->telegrams_fail, k->telegrams_frame_fail);
            last_pass = k->telegrams_pass;
            last_fail = k->telegrams_fail;
            last_frame = k->telegrams_frame_fail;
        }
        if ((int)app->status.led != last_led) {
            last_led = (int)app->status.led;
            printf("[%8.1f s] LED: %s\n", t, ui_led_state_name(app->status.led));
        }
        if ((int)app->status.mqtt != last_mqtt) {
            last_mqtt = (int)app->status.mqtt;
            printf("[%8.1f s] MQTT: %s\n", t, mqtt_state_name((int)app->status.mqtt));
        }
        if ((int)app->status.has_ip != last_ip) {
            last_ip = (int)app->status.has_ip;
            printf("[%8.1f s] IP: %s\n", t, app->status.has_ip ? "yes" : "none");
        }
        sim_net_get_names(&names);
        char now_names[160];
        snprintf(now_names, sizeof now_names, "%s.local%s%s%s", names.mdns[0],
                 names.mdns[1][0] != '\0' ? ", " : "", names.mdns[1],
                 names.mdns[1][0] != '\0' ? ".local" : "");
        if (mdns_on && names.claimed && strcmp(now_names, last_names) != 0) {
            snprintf(last_names, sizeof last_names, "%s", now_names);
            printf("[%8.1f s] mDNS: %s (%u conflicts)\n", t, now_names, names.conflicts);
        }
        fflush(stdout);
    }
    printf("meterlab device: stopping\n");
    ml_cli_control_stop(ctl);
    ml_dev_sc_stop();
    close(in_fd);
    if (out_fd >= 0) {
        close(out_fd);
    }
    return ML_EXIT_OK;
}

const struct ml_cmd ml_cmd_device = {"device",
                                     "run a simulated device (Smart Connect) in real time", run};

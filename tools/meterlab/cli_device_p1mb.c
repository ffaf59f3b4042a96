/*
 * meterlab device --product p1mb: the stand-alone simulated P1MB. The firmware
 * runs on the sim port in real time; its P1 input is a pty or a serial port,
 * its RS485 side (Modbus RTU slave) a pty or a real USB-RS485 adapter. The
 * adapter is opened at the line settings the firmware runs with and re-set
 * whenever the firmware re-opens the UART with other settings (after a reboot
 * through the configuration registers).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include "ml_dev_p1mb.h"
#include "ml_serial.h"

int ml_cli_device_p1mb(int argc, char **argv);

static void usage(FILE *out)
{
    fprintf(out,
            "usage: meterlab device --product p1mb --variant NAME [options]\n\n"
            "Runs the simulated P1MB (P1 to Modbus RTU) in real time. Meter telegrams written\n"
            "into its P1 input update the registers; a Modbus RTU master on the RS485 side reads\n"
            "them (default 9600 8E1, address 16). Stop it with Ctrl-C (SIGINT) or SIGTERM.\n\n"
            "options:\n"
            "  --product p1mb         this device (required)\n"
            "  --variant NAME         register map: sdm630, pro380, acr10rh or xemex (required)\n"
            "  --rs485 pty|PATH       Modbus side: 'pty' creates one and prints its path "
            "(default),\n"
            "                         or a USB-RS485 adapter, opened at the device's line "
            "settings\n"
            "                         and re-set when a reboot changes them\n"
            "  --p1-in pty|PATH       meter input (default pty; a PATH is opened 115200 8N1)\n"
            "  --state-dir DIR        keeps the serial number and the flash (configuration)\n"
            "                         across runs (default: none, all in memory)\n"
            "  --serial SN            serial number (default: from the state dir, made once)\n"
            "  --quiet                print only the start banner and errors\n"
            "  -h, --help             this text\n\n"
            "example:\n"
            "  meterlab device --product p1mb --variant sdm630\n"
            "  mbpoll -m rtu -b 9600 -P even -a 16 -t 3:float -r 1 -c 2 /dev/pts/N\n");
}

/* A pty master whose slave side nobody holds open reports POLLHUP without end,
 * and the sim port's poll loop then spins at full CPU between clients. Holding
 * one slave fd open ourselves keeps the master quiet; the fds are kept until exit. */

static struct ml_serial_cfg line_of(const struct hal_uart_cfg *h)
{
    struct ml_serial_cfg c = {h->baud, h->data_bits,
                              h->parity == HAL_UART_PARITY_EVEN  ? 'E'
                              : h->parity == HAL_UART_PARITY_ODD ? 'O'
                                                                 : 'N',
                              h->stop_bits};
    return c;
}

static const char *p1_led_name(enum p1mb_p1_led s)
{
    return s == P1MB_P1_LED_ON ? "on" : s == P1MB_P1_LED_BLINK ? "blinking (bad telegram)" : "off";
}

static const char *rs_led_name(enum p1mb_485_led s)
{
    return s == P1MB_485_LED_ON      ? "on"
           : s == P1MB_485_LED_BLINK ? "blinking (bytes that are no valid request)"
                                     : "off";
}

int ml_cli_device_p1mb(int argc, char **argv)
{
    enum { O_PRODUCT = 256, O_VARIANT, O_RS485, O_P1IN, O_STATE, O_SERIAL, O_QUIET };
    static const struct option opts[] = {
        {"product", required_argument, 0, O_PRODUCT},
        {"variant", required_argument, 0, O_VARIANT},
        {"rs485", required_argument, 0, O_RS485},
        {"p1-in", required_argument, 0, O_P1IN},
        {"state-dir", required_argument, 0, O_STATE},
        {"serial", required_argument, 0, O_SERIAL},
        {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct p1mb_settings set;
    p1mb_settings_defaults(&set);
    bool have_variant = false, quiet = false;
    const char *rs485 = "pty", *p1in = "pty", *state_dir = NULL;
    char serial[24] = "",
         password[9] = ""; /* the P1MB has no label login; kept for one identity format */
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return ML_EXIT_OK;
        case O_PRODUCT:
            if (strcmp(optarg, "p1mb") != 0) {
                fprintf(stderr, "meterlab device: --product '%s' with P1MB options\n", optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case O_VARIANT:
            if (ml_dev_p1mb_variant_parse(optarg, &set.variant) != 0) {
                fprintf(stderr,
                        "meterlab device: --variant '%s': must be sdm630, pro380, acr10rh or "
                        "xemex\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            have_variant = true;
            break;
        case O_RS485:
            rs485 = optarg;
            break;
        case O_P1IN:
            p1in = optarg;
            break;
        case O_STATE:
            state_dir = optarg;
            break;
        case O_SERIAL:
            if (!ml_cli_serial_opt(optarg, serial, sizeof serial)) {
                return ML_EXIT_USAGE;
            }
            break;
        case O_QUIET:
            quiet = true;
            break;
        default:
            fprintf(stderr,
                    "meterlab device: unknown or incomplete option '%s' for --product p1mb "
                    "(see --product p1mb --help)\n",
                    argv[optind - 1]);
            return ML_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "meterlab device: unexpected argument '%s'\n", argv[optind]);
        return ML_EXIT_USAGE;
    }
    if (!have_variant) {
        fprintf(stderr, "meterlab device: --variant sdm630|pro380|acr10rh|xemex is required "
                        "for --product p1mb\n");
        return ML_EXIT_USAGE;
    }

    char flash[4096] = "";
    if (state_dir != NULL) {
        if (ml_cli_state_dir_prepare(state_dir, "MB", serial, sizeof serial, password,
                                     sizeof password, flash, sizeof flash) != 0) {
            return ML_EXIT_USAGE;
        }
    } else if (serial[0] == '\0') {
        snprintf(serial, sizeof serial, "MB00000001");
    }

    /* The RS485 side opens at the defaults; the watcher below follows the firmware. */
    struct ml_serial_cfg rs_line = {P1MB_DEFAULT_BAUD, 8, 'E', 1};
    char rs_path[256], p1_path[256];
    bool rs_pty, p1_pty;
    int rs_fd = ml_cli_open_port("RS485", rs485, &rs_line, rs_path, sizeof rs_path, &rs_pty);
    if (rs_fd < 0) {
        return ML_EXIT_USAGE;
    }
    int p1_fd = ml_cli_open_port("P1 in", p1in, &ml_serial_p1_v4, p1_path, sizeof p1_path, &p1_pty);
    if (p1_fd < 0) {
        close(rs_fd);
        return ML_EXIT_USAGE;
    }

    struct sim_config cfg = {
        .time_mode = SIM_TIME_REAL, .serial = serial, .flash_file = flash[0] ? flash : NULL};
    sim_uart_bind_fd(HAL_UART_P1_IN, p1_fd);
    sim_uart_bind_fd(HAL_UART_RS485, rs_fd);
    int rc = ml_dev_p1mb_start(&set, &cfg);
    if (rc != 0) {
        fprintf(stderr, "meterlab device: cannot start the simulated P1MB (error %d)\n", rc);
        close(rs_fd);
        close(p1_fd);
        return ML_EXIT_USAGE;
    }
    const struct p1mb_app *app = ml_dev_p1mb_app();
    struct hal_uart_cfg hcfg;
    for (int i = 0; i < 100 && !sim_uart_get_cfg(HAL_UART_RS485, &hcfg); i++) {
        usleep(10000);
    }
    struct hal_uart_cfg applied = {0, 0, HAL_UART_PARITY_NONE, 0, false};
    if (sim_uart_get_cfg(HAL_UART_RS485, &hcfg)) {
        rs_line = line_of(&hcfg);
        int err = rs_pty ? 0 : ml_serial_set_cfg(rs_fd, &rs_line);
        if (err != 0) {
            fprintf(stderr, "meterlab device: cannot set %s to %u %u%c%u: %s\n", rs_path,
                    rs_line.baud, rs_line.data_bits, rs_line.parity, rs_line.stop_bits,
                    strerror(-err));
        }
        applied = hcfg;
    }
    printf("meterlab device: P1MB, variant %s (%s), simulated, firmware %s\n",
           p1mb_variant_name(set.variant), app->tpl != NULL ? app->tpl->name : "?", ML_FW_VERSION);
    printf("  serial number  %s\n", serial);
    printf("  P1 in          %s (115200 8N1)\n", p1_path);
    printf("  RS485          %s (%u %u%c%u, address %u, termination %s)%s\n", rs_path, rs_line.baud,
           rs_line.data_bits, rs_line.parity, rs_line.stop_bits, app->cfg.active.address,
           app->cfg.active.termination ? "on" : "off", rs_pty ? "" : " [adapter]");
    printf("  configuration  %s\n",
           app->status.config_loaded ? "stored (flash)" : "factory defaults");
    printf("  stop with Ctrl-C\n");
    fflush(stdout);

    ml_cli_catch_stop_signals();
    uint32_t last_pass = 0, last_fail = 0, last_frame = 0, boots = sim_boot_count();
    int last_p1 = -1, last_rs = -1;
    while (!ml_cli_stop_requested()) {
        usleep(50000);
        double t = (double)sim_now_us() / 1e6;
        /* After a reboot the firmware re-opens the UART; follow its settings. */
        if (sim_uart_get_cfg(HAL_UART_RS485, &hcfg) &&
            (hcfg.baud != applied.baud || hcfg.parity != applied.parity ||
             hcfg.stop_bits != applied.stop_bits || hcfg.data_bits != applied.data_bits)) {
            rs_line = line_of(&hcfg);
            int err = rs_pty ? 0 : ml_serial_set_cfg(rs_fd, &rs_line);
            if (err != 0) {
                fprintf(stderr, "meterlab device: cannot set %s to %u %u%c%u: %s\n", rs_path,
                        rs_line.baud, rs_line.data_bits, rs_line.parity, rs_line.stop_bits,
                        strerror(-err));
                fprintf(stderr, "meterlab device: the adapter stays at its previous settings; the "
                                "firmware runs on (a master at the new settings will not get "
                                "through)\n");
            }
            applied = hcfg;
            printf("[%8.1f s] RS485 line settings now %u %u%c%u\n", t, rs_line.baud,
                   rs_line.data_bits, rs_line.parity, rs_line.stop_bits);
        }
        if (quiet) {
            continue;
        }
        if (sim_boot_count() != boots) {
            boots = sim_boot_count();
            last_pass = last_fail = last_frame = 0;
            printf("[%8.1f s] rebooted: address %u, termination %s\n", t, app->cfg.active.address,
                   app->cfg.active.termination ? "on" : "off");
        }
        const struct p1mb_counters *k = &app->counters;
        if (k->telegrams_pass != last_pass || k->telegrams_fail != last_fail ||
            k->telegrams_frame_fail != last_frame) {
            printf("[%8.1f s] telegrams: %u ok, %u crc fail, %u frame fail\n", t, k->telegrams_pass,
                   k->telegrams_fail, k->telegrams_frame_fail);
            last_pass = k->telegrams_pass;
            last_fail = k->telegrams_fail;
            last_frame = k->telegrams_frame_fail;
        }
        if ((int)app->status.p1_led != last_p1) {
            last_p1 = (int)app->status.p1_led;
            printf("[%8.1f s] P1 LED: %s\n", t, p1_led_name(app->status.p1_led));
        }
        /* The 485 flash lasts 100 ms: report only the error blinking, not every request. */
        int rs = app->status.rs485_led == P1MB_485_LED_BLINK ? 1 : 0;
        if (rs != last_rs) {
            if (last_rs >= 0 || rs) {
                printf("[%8.1f s] 485 LED: %s\n", t,
                       rs ? rs_led_name(P1MB_485_LED_BLINK) : "no more bad frames");
            }
            last_rs = rs;
        }
        fflush(stdout);
    }
    printf("meterlab device: stopping\n");
    fflush(stdout);
    ml_dev_p1mb_stop();
    sim_uart_bind_fd(HAL_UART_RS485, -1);
    sim_uart_bind_fd(HAL_UART_P1_IN, -1);
    close(rs_fd);
    close(p1_fd);
    return ML_EXIT_OK;
}

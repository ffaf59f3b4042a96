/* meterlab at-emu: the ESP-AT co-processor emulator on its own, on a pty or a tty. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_device_common.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: meterlab at-emu [--port PATH] [options]\n\n"
        "Runs the ESP32 / ESP-AT network co-processor emulator (docs/esp-at.md) until\n"
        "Ctrl-C: AT commands arriving on the serial line are carried out with host\n"
        "sockets (TCP servers on loopback) and libmosquitto (MQTT, TLS). Without --port\n"
        "it creates a pty and prints its path, e.g. for `qemu-system-arm ... -serial\n"
        "/dev/pts/N` or a terminal (`picocom /dev/pts/N`, type AT commands).\n\n"
        "options:\n"
        "  -p, --port PATH       serve the AT stream on this tty or pty\n"
        "  -m, --modbus-port N   host port for the device's Modbus TCP port 502 (default: free)\n"
        "  -w, --http-port N     host port for the device's HTTP port 80 (default: free)\n"
        "  -b, --bind ADDR       address the servers bind to (default 127.0.0.1)\n"
        "  -B, --broker HOST[:PORT]  send MQTT connects here instead of the device's host\n"
        "      --ca FILE, --cert FILE, --key FILE\n"
        "                        the module's provisioned TLS CA, client certificate, key\n"
        "      --no-eth          no Ethernet carrier (Wi-Fi only)\n"
        "      --mdns            AT+MDNS answers on 224.0.0.251:5353 (the --bind address as\n"
        "                        the A record; renamed -2, -3 ... on a conflict)\n"
        "  -q, --quiet           do not print the AT traffic\n"
        "  -h, --help            this text\n\n"
        "Exit: 0 stopped by a signal, 1 emulator error, 2 usage.\n");
}

#ifdef HAVE_AT_EMU
static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
    fflush(stdout);
}

/* A port number 0..65535, not empty. */
static bool port_arg(const char *s, uint16_t *out)
{
    return *s != '\0' && ml_cli_port_number(s, out);
}
#endif

static int at_emu_run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
#ifndef HAVE_AT_EMU
    (void)argc;
    (void)argv;
    fprintf(stderr, "meterlab at-emu: this build has no ESP-AT emulator (sim/at_emu)\n");
    return ML_EXIT_FAIL;
#else
    enum { OPT_CA = 256, OPT_CERT, OPT_KEY, OPT_NO_ETH, OPT_MDNS };
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"modbus-port", required_argument, NULL, 'm'},
                                         {"http-port", required_argument, NULL, 'w'},
                                         {"bind", required_argument, NULL, 'b'},
                                         {"broker", required_argument, NULL, 'B'},
                                         {"ca", required_argument, NULL, OPT_CA},
                                         {"cert", required_argument, NULL, OPT_CERT},
                                         {"key", required_argument, NULL, OPT_KEY},
                                         {"no-eth", no_argument, NULL, OPT_NO_ETH},
                                         {"mdns", no_argument, NULL, OPT_MDNS},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL;
    struct ml_at_emu_opts o;
    memset(&o, 0, sizeof o);
    o.eth_link = true;
    o.n_ports = 2;
    o.ports[0].device_port = 502;
    o.ports[1].device_port = 80;
    static char broker[256];
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:m:w:b:B:q", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            path = optarg;
            break;
        case 'm':
        case 'w':
            if (!port_arg(optarg, &o.ports[c == 'm' ? 0 : 1].host_port)) {
                fprintf(stderr, "meterlab at-emu: bad port '%s' (0..65535)\n", optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case 'b':
            o.bind_addr = optarg;
            break;
        case 'B': {
            snprintf(broker, sizeof broker, "%s", optarg);
            char *colon = strrchr(broker, ':');
            if (colon != NULL) {
                *colon = '\0';
                if (!port_arg(colon + 1, &o.broker_port) || o.broker_port == 0) {
                    fprintf(stderr, "meterlab at-emu: bad broker port in '%s'\n", optarg);
                    return ML_EXIT_USAGE;
                }
            }
            if (broker[0] == '\0') {
                fprintf(stderr, "meterlab at-emu: --broker needs a host\n");
                return ML_EXIT_USAGE;
            }
            o.broker_host = broker;
            break;
        }
        case OPT_CA:
            o.ca_file = optarg;
            break;
        case OPT_CERT:
            o.cert_file = optarg;
            break;
        case OPT_KEY:
            o.key_file = optarg;
            break;
        case OPT_MDNS:
            o.mdns = true;
            break;
        case OPT_NO_ETH:
            o.eth_link = false;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            usage(stderr);
            return ML_EXIT_USAGE;
        }
    }
    if (!ml_cli_no_extra_args("at-emu", "", argc, argv)) {
        return ML_EXIT_USAGE;
    }
    if ((o.cert_file != NULL) != (o.key_file != NULL)) {
        fprintf(stderr, "meterlab at-emu: --cert and --key go together\n");
        return ML_EXIT_USAGE;
    }
    int fd;
    if (path != NULL) {
        fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "meterlab at-emu: cannot open %s: %s\n", path, strerror(errno));
            return ML_EXIT_FAIL;
        }
    } else {
        fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 || grantpt(fd) != 0 || unlockpt(fd) != 0) {
            fprintf(stderr, "meterlab at-emu: cannot create a pty: %s\n", strerror(errno));
            return ML_EXIT_FAIL;
        }
    }
    o.log = quiet ? NULL : log_line;
    struct ml_at_emu *emu;
    if (ml_at_emu_start(&emu, fd, &o) != 0) {
        close(fd);
        return ML_EXIT_FAIL;
    }
    printf("ESP-AT emulator on %s\n", path != NULL ? path : ptsname(fd));
    printf("  Modbus TCP  device port 502 -> %s:%u\n", o.bind_addr ? o.bind_addr : "127.0.0.1",
           ml_at_emu_host_port(emu, 502));
    printf("  HTTP        device port 80  -> %s:%u\n", o.bind_addr ? o.bind_addr : "127.0.0.1",
           ml_at_emu_host_port(emu, 80));
    printf("Ctrl-C stops.\n");
    fflush(stdout);
    ml_cli_catch_stop_signals();
    while (!ml_cli_stop_requested()) {
        pause();
    }
    ml_at_emu_stop(emu);
    close(fd);
    return ML_EXIT_OK;
#endif
}

const struct ml_cmd ml_cmd_at_emu = {
    .name = "at-emu",
    .summary = "ESP-AT network co-processor emulator on a pty or tty",
    .run = at_emu_run,
};

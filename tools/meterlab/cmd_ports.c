/* meterlab ports: list serial ports with their USB ids (libserialport). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ml_serial.h"

static int run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        printf("usage: meterlab ports\n\n"
               "Lists the machine's serial ports: path, USB VID:PID, USB serial number and\n"
               "description. Use 'VID:PID[:SERIAL]' with --usb in record/play and in rig files\n"
               "to find an adapter wherever it is plugged in.\n");
        return ML_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "meterlab ports: unexpected argument '%s'\n", argv[1]);
        return ML_EXIT_USAGE;
    }
    struct ml_serial_port_info p[64];
    int n = ml_serial_list(p, 64);
    if (n < 0) {
        fprintf(stderr, "meterlab ports: cannot list serial ports\n");
        return ML_EXIT_USAGE;
    }
    if (n == 0) {
        printf("no serial ports found\n");
        return ML_EXIT_OK;
    }
    printf("%-24s %-9s %-20s %s\n", "PORT", "USB ID", "USB SERIAL", "DESCRIPTION");
    for (int i = 0; i < n && i < 64; i++) {
        char id[16] = "-";
        if (p[i].usb) {
            snprintf(id, sizeof id, "%04x:%04x", p[i].vid, p[i].pid);
        }
        printf("%-24s %-9s %-20s %s\n", p[i].name, id, p[i].usb ? p[i].usb_serial : "-",
               p[i].description);
    }
    return ML_EXIT_OK;
}

const struct ml_cmd ml_cmd_ports = {"ports", "list serial ports and their USB ids", run};

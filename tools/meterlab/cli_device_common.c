/* Shared by the `meterlab device` products: ports and clean stop. */
#include "cli_device_common.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void ml_cli_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool ml_cli_stop_requested(void)
{
    return stop_flag != 0;
}

int ml_cli_open_port(const char *what, const char *arg, const struct ml_serial_cfg *cfg, char *path,
                     size_t cap, bool *is_pty)
{
    char err[512];
    bool pty = strcmp(arg, "pty") == 0;
    if (is_pty != NULL) {
        *is_pty = pty;
    }
    if (pty) {
        /* ml_serial_open_pty keeps a slave fd open: no hang-up spin while nobody
         * has the pty open */
        int fd = ml_serial_open_pty(path, cap);
        if (fd < 0) {
            fprintf(stderr, "meterlab device: cannot create a pty for %s: %s\n", what,
                    strerror(-fd));
        }
        return fd;
    }
    snprintf(path, cap, "%s", arg);
    int fd = ml_serial_open(arg, cfg, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "meterlab device: %s (%s)\n", err, what);
    }
    return fd;
}

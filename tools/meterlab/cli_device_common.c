/* Shared by the `meterlab device` products (and at-emu, record, play): ports,
 * options and clean stop. */
#include "cli_device_common.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mqtt/mqtt_policy.h"
#include "sim.h"

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
    sigemptyset(&sa.sa_mask);
    stop_flag = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool ml_cli_stop_requested(void)
{
    return stop_flag != 0;
}

void ml_cli_request_stop(void)
{
    stop_flag = 1;
}

bool ml_cli_no_extra_args(const char *cmd, const char *hint, int argc, char **argv)
{
    if (optind < argc) {
        fprintf(stderr, "meterlab %s: unexpected argument '%s'%s\n", cmd, argv[optind], hint);
        return false;
    }
    return true;
}

bool ml_cli_device_args_ok(int argc, char **argv, const char *product, const char *products)
{
    if (!ml_cli_no_extra_args("device", "", argc, argv)) {
        return false;
    }
    if (product == NULL) {
        fprintf(stderr, "meterlab device: --product %s is required (see --help)\n", products);
        return false;
    }
    return true;
}

bool ml_cli_mqtt_url_ok(const char *arg)
{
    if (mqtt_broker_url_parse(arg, strlen(arg), NULL) != ML_OK) {
        fprintf(stderr,
                "meterlab device: --mqtt '%s': not a broker URL (mqtt://host[:port] or "
                "mqtts://host[:port]; host a name, IPv4 or [IPv6]; no user, path or query)\n",
                arg);
        return false;
    }
    return true;
}

static const char *opt_file(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

bool ml_cli_mqtt_tls_ok(const char *ca, const char *cert, const char *key)
{
    ca = opt_file(ca);
    cert = opt_file(cert);
    key = opt_file(key);
    if (ca == NULL && cert == NULL && key == NULL) {
        return true;
    }
    char why[512];
    if (sim_mqtt_tls_check(ca, cert, key, why, sizeof why) != ML_OK) {
        fprintf(stderr, "meterlab device: MQTT TLS (--mqtt-ca/--mqtt-cert/--mqtt-key): %s\n", why);
        return false;
    }
    return true;
}

bool ml_cli_port_number(const char *s, uint16_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 65535) {
        return false;
    }
    *out = (uint16_t)v;
    return true;
}

bool ml_cli_port_opt(const char *opt, const char *arg, uint16_t *out)
{
    if (!ml_cli_port_number(arg, out)) {
        fprintf(stderr, "meterlab device: %s '%s': not a port number 0..65535\n", opt, arg);
        return false;
    }
    return true;
}

bool ml_cli_serial_opt(const char *arg, char *out, size_t cap)
{
    if (arg[0] == '\0' || strlen(arg) >= cap) {
        fprintf(stderr, "meterlab device: --serial must be 1..%zu characters\n", cap - 1);
        return false;
    }
    snprintf(out, cap, "%s", arg);
    return true;
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

/*
 * MQTT broker outage, measured: the Smart Connect firmware on the sim port in
 * SIM_TIME_REAL, connected to a real mosquitto (mutual TLS with
 * openssl-generated certificates, or plain with --plain); the broker is
 * stopped for --outage-s seconds of real time, then started again on the same
 * port. Prints the process CPU time over the outage (the device's loop is the
 * only thing running in this process), the failed attempts counted, and how
 * long after the broker's return the device is connected again, next to the
 * back-off step that was due. Usage: see usage() / --help. Exit 0 measured,
 * 1 the device never (re)connected, 2 usage or set-up error.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ml_broker.h"
#include "ml_devices.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Wait (real time, at most @p max_s) for the device to be connected. */
static bool wait_connected(double max_s)
{
    double end = now_s() + max_s;
    while (now_s() < end) {
        if (ml_dev_sc_app()->status.mqtt == HAL_MQTT_CONNECTED) {
            return true;
        }
        usleep(20000);
    }
    return false;
}

/* Copy a path into a settings field; false when it does not fit. */
static bool set_path(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        fprintf(stderr, "bench_mqtt_outage: path too long: %s\n", src);
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_mqtt_outage [--outage-s N] [--plain]\n"
               "  --outage-s N   seconds the broker stays down (default 60, 1..600)\n"
               "  --plain        plain MQTT instead of mutual TLS\n");
}

int main(int argc, char **argv)
{
    int outage = 60;
    bool plain = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--plain") == 0) {
            plain = true;
        } else if (strcmp(argv[i], "--outage-s") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 600) {
                fprintf(stderr, "bench_mqtt_outage: --outage-s '%s': want 1..600\n", argv[i]);
                return 2;
            }
            outage = (int)v;
        } else {
            fprintf(stderr, "bench_mqtt_outage: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    struct ml_broker b;
    struct ml_broker_opts o = {.require_cert = !plain, .client_cn = "SC00000042"};
    if (ml_broker_start(&b, &o) != 0) {
        fprintf(stderr, "bench_mqtt_outage: cannot start the broker\n");
        return 2;
    }
    struct sc_settings s;
    sc_settings_defaults(&s);
    s.modbus_port = 0;
    s.http_port = 0;
    s.https_port = 0;
    s.mqtt_enabled = true;
    snprintf(s.mqtt_url, sizeof s.mqtt_url, "%s", b.url);
    if (!plain && !(set_path(s.mqtt_ca_file, sizeof s.mqtt_ca_file, b.ca_file) &&
                    set_path(s.mqtt_cert_file, sizeof s.mqtt_cert_file, b.client_cert) &&
                    set_path(s.mqtt_key_file, sizeof s.mqtt_key_file, b.client_key))) {
        ml_broker_destroy(&b);
        return 2;
    }
    struct sim_config cfg = {.time_mode = SIM_TIME_REAL,
                             .utc_at_start = 1767225600,
                             .serial = "SC00000042",
                             .label_password = "abcd2345"};
    int rc = 1;
    if (ml_dev_sc_start(&s, &cfg) != 0) {
        fprintf(stderr, "bench_mqtt_outage: cannot start the device\n");
        ml_broker_destroy(&b);
        return 2;
    }
    if (!wait_connected(30)) {
        fprintf(stderr, "bench_mqtt_outage: the device did not connect (see %s)\n", b.log_file);
        goto out;
    }
    struct hal_mqtt_stats st0, st1;
    hal_mqtt_get_stats(&st0);
    ml_broker_stop(&b);
    double t0 = now_s(), c0 = cpu_s();
    sleep((unsigned)outage);
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    hal_mqtt_get_stats(&st1);
    if (ml_broker_restart(&b) != 0) {
        fprintf(stderr, "bench_mqtt_outage: cannot restart the broker\n");
        rc = 2;
        goto out;
    }
    double t1 = now_s();
    bool back = wait_connected(130);
    double delay = now_s() - t1;
    /* the k-th failure is followed by a wait of 2^(k-1) s (capped at 60 s): the
     * last wait before the successful attempt is the step the reconnect took */
    struct hal_mqtt_stats st2;
    hal_mqtt_get_stats(&st2);
    unsigned fails = st1.errors - st0.errors, total = st2.errors - st0.errors;
    unsigned step = total <= 1u ? 1u : (total - 1u >= 6u ? 60u : 1u << (total - 1u));
    printf("transport            %s\n", plain ? "plain TCP" : "mutual TLS");
    printf("outage               %.1f s real\n", wall);
    printf("process CPU          %.3f s (%.2f %% of one core)\n", cpu, 100.0 * cpu / wall);
    printf("failed attempts      %u (the drop included)\n", fails);
    if (back) {
        printf("reconnected after    %.1f s (at the end of a %u s back-off step, %u attempts "
               "failed in all)\n",
               delay, step, total);
        rc = 0;
    } else {
        printf("reconnected after    never within 130 s\n");
    }
out:
    ml_dev_sc_stop();
    ml_broker_destroy(&b);
    return rc;
}

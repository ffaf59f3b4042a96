/**
 * @file cli_device_common.h
 * @brief What `meterlab device` shares between its products and targets:
 * opening the meter/RS485 ports (a new pty or a tty/adapter), the options all
 * targets take, port numbers, and a clean stop on SIGINT/SIGTERM (also used by
 * at-emu, record and play). Host only.
 */
#ifndef TOOLS_METERLAB_CLI_DEVICE_COMMON_H
#define TOOLS_METERLAB_CLI_DEVICE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_serial.h"

/* HAVE_AT_EMU: this build has the ESP-AT emulator (sim/at_emu). */
#if defined(__has_include)
#if __has_include("ml_at_emu.h")
#include "ml_at_emu.h"
#define HAVE_AT_EMU 1
#endif
#endif

/** getopt_long values of the options every `meterlab device` target takes
 * (ML_CLI_DEVICE_OPTIONS); a target's own values start at ML_CLI_O_NEXT. */
enum {
    ML_CLI_O_PRODUCT = 256,
    ML_CLI_O_P1IN,
    ML_CLI_O_P1OUT,
    ML_CLI_O_PORT,
    ML_CLI_O_HTTP,
    ML_CLI_O_BIND,
    ML_CLI_O_MTYPE,
    ML_CLI_O_MQTT,
    ML_CLI_O_SITE,
    ML_CLI_O_USER,
    ML_CLI_O_PASS,
    ML_CLI_O_CA,
    ML_CLI_O_CERT,
    ML_CLI_O_KEY,
    ML_CLI_O_QUIET,
    ML_CLI_O_NEXT
};

/** Their getopt_long entries (and --help as 'h'), for a target's table. */
#define ML_CLI_DEVICE_OPTIONS                                                                      \
    {"product", required_argument, 0, ML_CLI_O_PRODUCT},                                           \
        {"p1-in", required_argument, 0, ML_CLI_O_P1IN},                                            \
        {"p1-out", required_argument, 0, ML_CLI_O_P1OUT},                                          \
        {"modbus-port", required_argument, 0, ML_CLI_O_PORT},                                      \
        {"http-port", required_argument, 0, ML_CLI_O_HTTP},                                        \
        {"bind", required_argument, 0, ML_CLI_O_BIND},                                             \
        {"meter-type", required_argument, 0, ML_CLI_O_MTYPE},                                      \
        {"mqtt", required_argument, 0, ML_CLI_O_MQTT},                                             \
        {"mqtt-site", required_argument, 0, ML_CLI_O_SITE},                                        \
        {"mqtt-user", required_argument, 0, ML_CLI_O_USER},                                        \
        {"mqtt-password", required_argument, 0, ML_CLI_O_PASS},                                    \
        {"mqtt-ca", required_argument, 0, ML_CLI_O_CA},                                            \
        {"mqtt-cert", required_argument, 0, ML_CLI_O_CERT},                                        \
        {"mqtt-key", required_argument, 0, ML_CLI_O_KEY},                                          \
        {"quiet", no_argument, 0, ML_CLI_O_QUIET},                                                 \
    {                                                                                              \
        "help", no_argument, 0, 'h'                                                                \
    }

/** After getopt_long: true when no argument is left (optind == @p argc);
 * else "meterlab @p cmd: unexpected argument 'ARG'@p hint" on stderr. */
bool ml_cli_no_extra_args(const char *cmd, const char *hint, int argc, char **argv);

/** After a device target's getopt_long: no argument left and --product given
 * (@p products, e.g. "p1|tic", for the error). False when not, said on stderr. */
bool ml_cli_device_args_ok(int argc, char **argv, const char *product, const char *products);

/** True when @p arg (a --mqtt value) is a broker URL (core/mqtt's grammar,
 * mqtt_policy.h); else said on stderr. */
bool ml_cli_mqtt_url_ok(const char *arg);

/** When any of the --mqtt-ca/--mqtt-cert/--mqtt-key files is given (NULL or
 * "" when not), check them (sim_mqtt_tls_check: readable PEM, the key matching
 * the certificate, both or neither of cert/key); false with the reason on
 * stderr, so that bad TLS material fails at start (exit 2). */
bool ml_cli_mqtt_tls_ok(const char *ca, const char *cert, const char *key);

/** A port number 0..65535 (digits only; "" is 0) from @p s into @p out. */
bool ml_cli_port_number(const char *s, uint16_t *out);

/** ml_cli_port_number() for option @p opt ("--modbus-port"), saying on stderr
 * when @p arg is none. */
bool ml_cli_port_opt(const char *opt, const char *arg, uint16_t *out);

/** --serial @p arg into @p out (1..cap-1 characters), saying on stderr when not. */
bool ml_cli_serial_opt(const char *arg, char *out, size_t cap);

/**
 * Open the port for role @p what ("P1 in", "RS485", ...): @p arg "pty" creates
 * a pty (its path goes to @p path), anything else is opened as a serial port
 * at @p cfg. Errors are printed on stderr naming the role.
 * @param is_pty may be NULL; set to whether a pty was created.
 * @return the fd (owned by the caller), or < 0.
 */
int ml_cli_open_port(const char *what, const char *arg, const struct ml_serial_cfg *cfg, char *path,
                     size_t cap, bool *is_pty);

/** Catch SIGINT and SIGTERM; ml_cli_stop_requested() becomes true on either
 * (it is false again from here). */
void ml_cli_catch_stop_signals(void);

/** True once SIGINT or SIGTERM arrived (or ml_cli_request_stop() was called). */
bool ml_cli_stop_requested(void);

/** Make ml_cli_stop_requested() true, as a signal would. */
void ml_cli_request_stop(void);

/**
 * The bench control socket of `meterlab device --control PATH` (sim and
 * --target qemu): a unix stream socket at PATH, one command per line, one
 * answer line each ("ok" or "error: <why>"):
 *   button press | button release     the button's contact closed / open
 *   fault <name>                      a scenario network fault by its name
 *                                     (link_down, link_up, dhcp_fails, ...)
 * `meterlab run --dut device|qemu` drives the device through it.
 */
struct ml_cli_control_ops {
    /** Close (@p pressed) or open the button contact. 0, or -1 with @p err. */
    int (*button)(void *ctx, bool pressed, char *err, size_t cap);
    /** Fault @p name (a scenario fault name). 0, or -1 with @p err. */
    int (*fault)(void *ctx, const char *name, char *err, size_t cap);
    void *ctx;
};

struct ml_cli_control;

/**
 * Listen on @p path (an old socket there is replaced; any other file is an
 * error) and serve commands in a thread until ml_cli_control_stop(). Commands
 * are carried out one at a time, in order, from that thread.
 * @return the server, or NULL with the reason on stderr.
 */
struct ml_cli_control *ml_cli_control_start(const char *path, const struct ml_cli_control_ops *ops);

/** Stop the thread, close and remove the socket, free. NULL: nothing. */
void ml_cli_control_stop(struct ml_cli_control *c);

#endif /* TOOLS_METERLAB_CLI_DEVICE_COMMON_H */

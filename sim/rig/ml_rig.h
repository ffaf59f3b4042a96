/**
 * @file ml_rig.h
 * @brief Rig files (YAML): what a hardware-in-the-loop bench is made of - the
 * board under test, its serial adapters by role, its network addresses, the
 * MQTT broker to observe, the shell commands of the rig's relay/GPIO tool and
 * the timeouts. Parsed strictly like scenarios: unknown keys, wrong types and
 * missing required keys are errors "file:line:column: message". The format is
 * documented in docs/hil.md; rigs/example-bench.yaml is a complete example.
 *
 * Everything is fixed-size (no allocation, nothing to free). Host only.
 *
 * Use:
 * @code
 *   struct ml_rig rig;
 *   char err[512];
 *   if (ml_rig_load("bench.yaml", &rig, err, sizeof err) < 0 ||
 *       ml_rig_resolve(&rig, err, sizeof err) < 0) { fprintf(stderr, "%s\n", err); ... }
 *   const struct ml_rig_port *in = &rig.port[ML_RIG_INJECT];   // in->path is set
 *   if (!ml_rig_has(&rig, ML_RIG_CAP_BUTTON)) -> skip button expectations
 * @endcode
 */
#ifndef SIM_RIG_ML_RIG_H
#define SIM_RIG_ML_RIG_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_scenario.h" /* enum ml_scn_product */
#include "ml_serial.h"   /* struct ml_serial_cfg */

/** Where a key was written in the rig file (1-based; 0 when defaulted). */
struct ml_rig_loc {
    int line, col;
};

/** Serial adapter roles (the keys under `serial:`). */
enum ml_rig_role {
    ML_RIG_INJECT = 0, /**< plays the meter into the DUT's P1/TIC input */
    ML_RIG_P1_OUT,     /**< captures the DUT's P1-out (Smart Connect P1) */
    ML_RIG_RS485,      /**< Modbus RTU master to a P1MB */
    ML_RIG_CONSOLE,    /**< the DUT's debug console (optional, logged only) */
    ML_RIG_ROLES
};

/** Name of a role as written in rig files ("inject", "p1_out", "rs485", "console"). */
const char *ml_rig_role_name(enum ml_rig_role r);

struct ml_rig_port {
    bool present; /**< the role is in the file */
    char
        path[256]; /**< `path:` as written, or (after ml_rig_resolve) the adapter found by `usb:` */
    char usb[96];  /**< `usb: "VID:PID[:SERIAL]"` as written ("" when given by path) */
    bool has_line; /**< `line:` given; otherwise use the protocol's (meter, or P1MB 9600 8E1) */
    struct ml_serial_cfg line;
    int slave_id;          /**< rs485 only: the P1MB's Modbus address (1..247, default 16) */
    struct ml_rig_loc loc; /**< of the role's map */
};

/** Capabilities a scenario may need that not every rig has. */
enum ml_rig_cap {
    ML_RIG_CAP_POWER = 0,  /**< commands.power_off and commands.power_on */
    ML_RIG_CAP_BUTTON,     /**< commands.button_press and commands.button_release */
    ML_RIG_CAP_LED,        /**< an LED sensor (none today: always false) */
    ML_RIG_CAP_P1_OUT,     /**< serial.p1_out present */
    ML_RIG_CAP_RS485,      /**< serial.rs485 present */
    ML_RIG_CAP_MODBUS_TCP, /**< network.host and network.modbus_port */
    ML_RIG_CAP_HTTP,       /**< network.host and network.http_port */
    ML_RIG_CAP_MQTT,       /**< mqtt.url */
    ML_RIG_CAP_RESET,      /**< commands.reset */
    ML_RIG_CAP_FLASH,      /**< commands.flash */
    ML_RIG_CAP_CONSOLE,    /**< serial.console present */
    ML_RIG_CAP_COUNT
};

struct ml_rig {
    char path[512]; /**< the rig file as given to ml_rig_load */
    char name[128]; /**< `name:` (required) */

    struct {
        enum ml_scn_product product; /**< `product: p1|tic|p1mb` (required) */
        char variant[32];  /**< p1mb: pro380|acr10rh|sdm630|xemex (lower case; "" = not said) */
        int variant_index; /**< same order as enum p1mb_variant; -1 when not given */
        char serial[64];   /**< the board's serial number ("" = not said) */
        char firmware[32]; /**< the firmware version the board must report ("" = any) */
    } dut;

    /** `lock:` the file a run holds (flock) while it uses the rig ("" = not locked). */
    char lock[256];

    struct ml_rig_port port[ML_RIG_ROLES]; /**< indexed by enum ml_rig_role */

    struct {
        char host[128];  /**< IP or name of the DUT ("" = no network access) */
        int modbus_port; /**< Modbus TCP (default 502 when host is given; 0 = none) */
        int http_port;   /**< HTTP API (default 80 when host is given; 0 = none) */
        char http_user[64], http_password[64];
        /** The device's certificate (PEM, `https_ca:`): the API is HTTPS on http_port,
         *  trusting only it ("" = plain HTTP) */
        char https_ca[512];
    } network;

    struct {
        char url[256]; /**< "mqtt://host:1883" (mqtts:// too); "" = no broker observed */
        char user[64], password[64];
        char site[64]; /**< the site name the DUT publishes under ("" = from the scenario) */
    } mqtt;

    /** Shell command templates (run with /bin/sh -c after ml_rig_expand); "" =
     * capability missing. */
    struct {
        char power_off[512], power_on[512];
        char button_press[512], button_release[512];
        char reset[512];  /**< reset the board (debug probe, reset line) */
        char flash[512];  /**< write {image} into the board */
        double timeout_s; /**< each command is killed after this (default 60) */
    } commands;

    /** `driver: qemu` and its `qemu:` section: the board is a QEMU machine the run
     * drives itself (ml_rig_driver_start): power on = QEMU started with the image,
     * power off = QMP quit, reset = QMP system_reset, flash = the image of the next
     * start (the board restarted with it). Its UARTs are links in `ports`. */
    struct {
        bool on;
        char image[512];  /**< `qemu.image` (relative: to the rig file's folder) */
        char machine[64]; /**< `qemu.machine` (default mps2-an386) */
        char ports[512];  /**< `qemu.ports`: the folder of the links console, inject,
                               p1_out, rs485 (relative: to the rig file's folder) */
    } qemu;

    /** `serial.console.banner`: a console line starting with it is a boot (default
     * "meterlab ", the first line every image prints, firmware/apps/<app>/target). */
    char console_banner[64];

    /** Timeouts in seconds (defaults: boot 30, modbus 2, http 5, mqtt 10). */
    struct {
        double boot_s, modbus_s, http_s, mqtt_s;
    } timeouts;
};

/**
 * Load and check the rig file @p path into @p rig (fully overwritten).
 * @return 0, or -1 with "file:line:column: message" in @p err.
 */
int ml_rig_load(const char *path, struct ml_rig *rig, char *err, size_t errcap);

/** Same from a buffer (tests); @p name stands for the file in messages. */
int ml_rig_parse(const char *name, const char *text, size_t len, struct ml_rig *rig, char *err,
                 size_t errcap);

/**
 * Turn every `usb:` adapter into a path (libserialport listing via
 * ml_serial_find_usb). Ports given by `path:` are left as they are (not
 * opened). Idempotent.
 * @return 0, or -1 with a message naming the rig file, the role and the
 * VID:PID[:SERIAL] that is missing (or ambiguous), followed by the USB serial
 * ports that are present.
 */
int ml_rig_resolve(struct ml_rig *rig, char *err, size_t errcap);

/**
 * Find a USB serial adapter by "VID:PID[:SERIAL]" (for --usb options too).
 * @return 0 with its path in @p path, or -ENOENT / -EEXIST / -EINVAL with a
 * message in @p err that lists the USB serial ports present.
 */
int ml_rig_find_usb(const char *spec, char *path, size_t cap, char *err, size_t errcap);

/** True when the rig has capability @p cap. */
bool ml_rig_has(const struct ml_rig *rig, enum ml_rig_cap cap);

/** Short human reason a capability is missing ("no commands.button_press in the rig"). */
const char *ml_rig_missing_reason(enum ml_rig_cap cap);

/**
 * Hold the rig: an exclusive flock() on its `lock:` file (a relative path is
 * relative to the rig file's folder; created when missing), in which the
 * holder is written ("pid N on HOST: @p who"). @p wait: block until the lock
 * is free (a signal interrupts it); else fail at once naming the holder.
 * @return the lock's fd (>= 0, release with ml_rig_unlock; the lock also ends
 * with the process), -ENOENT when the rig has no `lock:`, -EBUSY (held, the
 * holder in @p err), -EINTR or -EIO (message in @p err).
 */
int ml_rig_lock(const struct ml_rig *rig, bool wait, const char *who, char *err, size_t errcap);

/** Release a lock from ml_rig_lock (fd < 0: nothing). */
void ml_rig_unlock(int fd);

/** The placeholders a command template may name, "{image}" only in commands.flash:
 * {image} the image to flash, {port} the console adapter (else inject), {inject},
 * {p1_out}, {rs485}, {console} the adapters' paths, {host} network.host, {serial}
 * dut.serial, {name} the rig's name, {rig_dir} the rig file's folder. Shell text
 * such as ${VAR} is left alone. Values are inserted as they are (not quoted). */
#define ML_RIG_PLACEHOLDERS                                                                        \
    "image, port, inject, p1_out, rs485, console, host, serial, name, rig_dir"

/**
 * Expand the placeholders of template @p tmpl for @p rig (@p image: the value of
 * {image}, NULL = not allowed) into @p out.
 * @return 0, or -1 with "unknown placeholder {x} (known: ...)" (or too long) in @p err.
 */
int ml_rig_expand(const struct ml_rig *rig, const char *tmpl, const char *image, char *out,
                  size_t cap, char *err, size_t errcap);

/**
 * Run rig command @p what ("power_on", "flash", ...; its template @p tmpl) expanded
 * with @p image: /bin/sh -c in its own process group, killed (the whole group) after
 * commands.timeout_s or as soon as *@p stop != 0 (may be NULL). Its output is kept
 * (the tail goes into the error message). On a rig with a driver (`driver: qemu`),
 * "power_on", "power_off", "reset" and "flash" go to ml_rig_driver_action() instead.
 * @return 0 (exit status 0), or -1 with what happened (exit status, timeout, the
 * command line and the tail of its output) in @p err.
 */
int ml_rig_command(const struct ml_rig *rig, const char *what, const char *tmpl, const char *image,
                   const volatile sig_atomic_t *stop, char *err, size_t errcap);

/**
 * Start the rig's built-in driver (`driver: qemu`; other rigs: 0, nothing done):
 * a helper process that makes the board's ports (links in qemu.ports) and
 * powers the board on, until its console shows the banner (timeouts.boot_s) or
 * *@p stop. Once per rig and process tree: processes forked later use the same
 * driver. It ends with ml_rig_driver_stop() or the exit() of the process that
 * started it (QEMU stopped, links removed), or when every process holding it is
 * gone.
 * @return 0, or -1 with the reason in @p err.
 */
int ml_rig_driver_start(const struct ml_rig *rig, const volatile sig_atomic_t *stop, char *err,
                        size_t errcap);

/** Stop the rig's driver (started by this process), or let go of it (a forked one). */
void ml_rig_driver_stop(const struct ml_rig *rig);

/**
 * Action @p what ("power_on", "power_off", "reset", "flash" with @p image) through
 * the rig's driver (started when it is not); ml_rig_command() comes here for a
 * rig with a driver. Power on and flash return once the console shows the banner.
 * @return 0, or -1 with the reason in @p err.
 */
int ml_rig_driver_action(const struct ml_rig *rig, const char *what, const char *image,
                         const volatile sig_atomic_t *stop, char *err, size_t errcap);

#endif /* SIM_RIG_ML_RIG_H */

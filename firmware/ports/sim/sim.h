/**
 * @file sim.h
 * @brief The sim port's control API: how the host (scenario runner, GUI,
 * stand-alone device, tests) drives the firmware running on the simulated HAL.
 *
 * Model
 * -----
 * The firmware's app loop runs in its own thread (sim_start()). It talks to
 * the world only through the firmware/hal headers, implemented here on Linux. The host
 * calls the functions below from any one thread (not from several at once).
 *
 * Time
 * ----
 * - SIM_TIME_VIRTUAL: the clock moves only when the host advances it
 *   (sim_advance_to_us()). Advancing runs the firmware up to each of its own
 *   deadlines on the way (timers fire at the exact virtual instants) and then
 *   waits until the loop is idle again. While time stands still, the firmware
 *   still serves sockets and UART ptys: a real client (libmodbus, mosquitto)
 *   gets answers at the current virtual instant.
 * - SIM_TIME_REAL: the clock follows CLOCK_MONOTONIC from sim_start().
 *
 * Idle: the loop is idle when it waits in hal_time_wait_until() and no event
 * (injected byte, button edge, wake-up) is pending for it.
 */
#ifndef FIRMWARE_PORTS_SIM_SIM_H
#define FIRMWARE_PORTS_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal.h"

enum sim_time_mode {
    SIM_TIME_VIRTUAL = 0,
    SIM_TIME_REAL,
};

/** The app entry: runs the loop until hal_sys_should_stop() is true, then returns. */
typedef void (*sim_app_main_fn)(void);

struct sim_config {
    enum sim_time_mode time_mode;
    int64_t utc_at_start;       /**< virtual UTC epoch s at t = 0 (0: host clock at start) */
    const char *serial;         /**< device serial number (NULL: "SIM0000001") */
    const char *label_password; /**< 8 characters (NULL: "simlabel") */
    const char *flash_file;     /**< back the flash with this file (NULL: memory only) */
    /**
     * Directory of the device's HTTPS key and certificate (hal_tcp_listen_tls()):
     * https_key.pem (0600) and https_cert.pem, made there at the first start and
     * read back later. NULL: made in memory, kept for this process.
     */
    const char *tls_dir;
    /**
     * SIM_TIME_REAL only: after the loop served a socket or pty, poll (without
     * blocking, yielding the CPU in between) for up to this many µs for the next
     * event before it sleeps, adapting the window to the traffic like Linux's
     * SO_BUSY_POLL / KVM halt polling. 0: the port's default (50 µs); < 0: never.
     * Ignored in virtual time. Costs CPU: see docs/performance.md, Modbus TCP.
     */
    int32_t busy_poll_us;
};

/* ------------------------------------------------------------------------- */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------- */

/**
 * Start the firmware: reset the port state, start the app thread running
 * @p app, and (virtual time) wait until it is idle.
 * @retval 0 ok  @retval ML_EBUSY already running  @retval ML_EINVAL bad config
 */
int sim_start(const struct sim_config *cfg, sim_app_main_fn app);

/** Stop the firmware (asks the loop to return, joins the thread). Safe when not running. */
void sim_stop(void);

/**
 * Power-cycle: stop the loop, lose volatile state (UART rings, LEDs, sockets),
 * keep the flash, start the app again (reset cause POWER_ON), wait until idle.
 */
int sim_power_cycle(void);

/** Number of times the app has been (re)started since sim_start(), reboots included. */
uint32_t sim_boot_count(void);

/**
 * Watchdog: as on the target, the first hal_sys_watchdog_kick() arms it with
 * ML_WATCHDOG_TIMEOUT_MS (ml_config.h); when the loop does not kick again
 * within that much device time (it waits past it, or a pass runs that long in
 * real time) the port resets it: the app returns and starts again, flash kept,
 * hal_sys_get_reset_cause() = HAL_SYS_RESET_WATCHDOG. The loop's wait ends at
 * the expiry, so virtual time stops there too. Resets by the watchdog since
 * sim_start():
 */
uint32_t sim_watchdog_resets(void);

/** The reset cause of the app's current start (what hal_sys_get_reset_cause() says). */
enum hal_sys_reset_cause sim_reset_cause(void);

/* ------------------------------------------------------------------------- */
/* Time                                                                      */
/* ------------------------------------------------------------------------- */

/** Current time of the device, microseconds since sim_start(). */
uint64_t sim_now_us(void);

/**
 * Virtual time: advance to @p t_us, firing every firmware deadline on the way
 * at its own instant, then wait until idle. No-op when @p t_us <= now.
 * Real time: sleep until @p t_us.
 */
void sim_advance_to_us(uint64_t t_us);

/** sim_advance_to_us(now + @p ms * 1000). */
void sim_advance_ms(uint64_t ms);

/**
 * Run the loop once more and wait until it is idle again (virtual time does
 * not move). Everything that was pending when this was called (injected bytes,
 * readable sockets and ptys, button edges) has been handled on return.
 */
void sim_wait_idle(void);

/** The loop's next deadline in µs (UINT64_MAX when none), valid while idle. */
uint64_t sim_next_deadline_us(void);

/** Set the UTC wall clock so that now reads @p epoch_s. */
void sim_set_utc(int64_t epoch_s);

/* ------------------------------------------------------------------------- */
/* UARTs                                                                     */
/* ------------------------------------------------------------------------- */

/**
 * Deliver @p len bytes to UART @p id's receiver as if they arrived now, and
 * wake the loop. Bytes that do not fit the RX ring count as overruns.
 * @return bytes accepted.
 */
size_t sim_uart_inject(enum hal_uart_id id, const void *data, size_t len);

/**
 * Deliver @p len bytes to UART @p id's receiver the way the line does: a
 * quarter of the RX ring at a time, virtual time advanced by the slice's time
 * on the wire at the UART's settings (115200 8N1 before it is opened) between
 * slices, the loop running at its own deadlines meanwhile. Bytes the app did
 * not read in time overrun the ring (same size as the target's) and are lost.
 * Virtual time only. Returns with the loop idle. @return bytes accepted.
 */
size_t sim_uart_feed(enum hal_uart_id id, const void *data, size_t len);

/** Bytes UART @p id has received since start (kept or overrun; wraps at 2^32). */
uint32_t sim_uart_rx_total(enum hal_uart_id id);

/** Take up to @p cap bytes the firmware wrote to UART @p id. @return bytes copied. */
size_t sim_uart_drain(enum hal_uart_id id, void *out, size_t cap);

/**
 * Bind UART @p id to a file descriptor (pty, tty): the port reads from it into
 * the RX ring and writes TX bytes to it. -1 unbinds. The fd stays owned by the
 * caller.
 */
void sim_uart_bind_fd(enum hal_uart_id id, int fd);

/** The line settings the firmware last opened UART @p id with (false when closed). */
bool sim_uart_get_cfg(enum hal_uart_id id, struct hal_uart_cfg *out);

/* ------------------------------------------------------------------------- */
/* GPIO                                                                      */
/* ------------------------------------------------------------------------- */

void sim_button_set(bool pressed);
hal_rgb_t sim_led_get(enum hal_led_id id);
bool sim_data_request_get(void);

/** One LED change, as recorded by the port. */
struct sim_led_event {
    uint64_t t_us;
    enum hal_led_id id;
    hal_rgb_t rgb;
};

/**
 * Take up to @p cap LED change events in order (oldest first). The log holds
 * the last 4096 changes; older ones are overwritten.
 * @return events copied.
 */
size_t sim_led_events(struct sim_led_event *out, size_t cap);

/* ------------------------------------------------------------------------- */
/* Network model and flash                                                   */
/* ------------------------------------------------------------------------- */

struct sim_net_model {
    bool link_up[HAL_NET_IF_COUNT]; /**< carrier per interface (default: Ethernet up) */
    bool dhcp_answers;              /**< a DHCP server answers (default true) */
    uint32_t dhcp_delay_ms;         /**< virtual time to answer/fail (default 500) */
    bool gateway_reachable;         /**< default true */
    bool internet_reachable;        /**< default true */
};

/** Read / change the network model; changes wake the loop. */
void sim_net_get(struct sim_net_model *out);
void sim_net_set(const struct sim_net_model *m);

/** The host name the firmware set with hal_net_set_hostname() ("" when none). */
void sim_net_get_hostname(char *out, size_t cap);

/**
 * Path of the device's HTTPS certificate (PEM) in sim_config.tls_dir.
 * @retval 0 ok  @retval ML_ENOENT no TLS directory (key and certificate in memory)
 */
int sim_tls_cert_path(char *out, size_t cap);

/**
 * mDNS (hal_net_set_mdns()): off by default, so tests and benches that never
 * asked for it send nothing to 224.0.0.251. When on, the port answers for the
 * firmware's names on a UDP socket bound to 0.0.0.0:5353 (SO_REUSEPORT,
 * group joined and multicast sent on the interface of the bind address), with
 * the bind address as the A record (127.0.0.1 for 0.0.0.0), while the
 * device is online. Call before sim_start(). Runs firmware/core/mdns.
 */
void sim_net_mdns_enable(bool on);

/** What the firmware asked for and what mDNS holds now ("" when none), any thread. */
struct sim_net_names {
    char dhcp[64];      /**< DHCP host name (option 12) the device sends */
    char mdns[2][64];   /**< names answered, without ".local" (after any rename) */
    bool claimed;       /**< probing done, names announced */
    uint32_t conflicts; /**< renames / re-probes after a conflict */
};
void sim_net_get_names(struct sim_net_names *out);

/** Bind address for TCP listeners (default "127.0.0.1"). Call before sim_start(). */
void sim_net_set_bind_addr(const char *addr);

/**
 * Socket send buffer of the TCP connections the firmware accepts from now on,
 * in bytes (0, the default: the OS's, which grows to megabytes on loopback).
 * The product's is small (the ESP-AT client's send ring and the module's
 * window), so hal_tcp_send() takes part of a write there; a test sets a small
 * one to see that here. Set it back to 0 after.
 */
void sim_net_set_tcp_sndbuf(int bytes);

/**
 * Flash power-cut: after @p writes more successful hal_flash_write/erase
 * calls the next one fails half-done (it programs a prefix) and every later
 * one fails, as if power went away. 0 disables.
 */
void sim_flash_cut_after(uint32_t writes);

/**
 * Worn flash: while @p worn, erases and programs leave every bit as it was;
 * the port's blank check / read-back reports ML_EIO to the caller (as a flash
 * driver's verify does). Off again at sim_start().
 */
void sim_flash_set_worn(bool worn);

/** Count of hal_flash_write/erase calls since start (for the power-cut tests). */
uint32_t sim_flash_op_count(void);

/**
 * Check MQTT TLS material as the sim port will use it for a TLS broker:
 * @p ca_file (NULL: the host's store) holds at least one PEM certificate;
 * @p cert_file and @p key_file (both or neither) are a PEM certificate and
 * the PEM private key that matches it. hal_mqtt_start() refuses material
 * that fails (ML_EINVAL); `meterlab device` checks it at start (exit 2).
 * Any thread.
 * @param why  when not NULL, a reason naming the file ("CA file 'x': ...")
 * @retval 0 usable  @retval ML_EINVAL not usable (reason in @p why)
 */
int sim_mqtt_tls_check(const char *ca_file, const char *cert_file, const char *key_file, char *why,
                       size_t cap);

#endif /* FIRMWARE_PORTS_SIM_SIM_H */

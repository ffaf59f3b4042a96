/**
 * @file sim_priv.h
 * @brief Shared only by the sim port's own files.
 */
#ifndef FIRMWARE_PORTS_SIM_SIM_PRIV_H
#define FIRMWARE_PORTS_SIM_SIM_PRIV_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

/** Callback for a registered fd, run on the firmware thread when it is ready. */
typedef void (*sim_poll_fn)(int fd, short revents, void *ctx);

/** The big port lock: protects time, idle state, the poll registry, LEDs, net model. */
void sim_lock(void);
void sim_unlock(void);

/** Wake the firmware loop (an event for it is pending). Call with the lock held. */
void sim_wake_locked(void);

/** Wake the firmware loop; takes the lock. */
void sim_wake(void);

/** Current device time in µs; with or without the lock. */
uint64_t sim_time_us(void);

/** Register @p fd (POLLIN) in the loop's poll set. @p cb may be NULL (wake only). */
int sim_poll_add(int fd, sim_poll_fn cb, void *ctx);
void sim_poll_remove(int fd);

/**
 * HTTPS material (sim_tls.c): the directory that holds the device's key and
 * certificate (NULL: made in memory, kept for the process). Called by sim_start().
 */
void sim_tls_set_dir(const char *dir);

/**
 * The server context of hal_tcp_listen_tls(): loads the key and certificate,
 * or makes them on first use (CN @p host, SAN @p host, @p host.local, IP @p ip)
 * and stores them. Later calls return the same context. NULL on failure.
 */
struct ssl_ctx_st *sim_tls_server_ctx(const char *host, const char *ip);

/** True while a TLS connection holds decrypted bytes poll() cannot report. */
bool sim_net_tls_pending(void);

/** Per-area state reset at start and at power-cycle (flash excepted). */
void sim_uart_reset(void);
void sim_gpio_reset(void);
void sim_net_reset(void);
/** Back to the default network model (a new device in a new world: sim_start). */
void sim_net_world_reset(void);
void sim_mqtt_reset(void);
void sim_flash_open(const char *file);
void sim_flash_close(void);
void sim_sys_reset(const struct sim_config *cfg, int reset_cause);

/**
 * The device can reach the network: the active interface has carrier and an
 * address (true too while the app never called hal_net_up(): test apps that
 * only listen). MQTT connects and publishes only then. Any thread.
 */
bool sim_net_online(void);

/**
 * Firmware thread, after each wait: without link, or after the address was
 * lost (not before the first lease), and no soft-AP, every open TCP
 * connection is torn down (the peer sees it closed; the app's
 * hal_tcp_recv() ML_ECONNREFUSED, hal_tcp_send() ML_EIO), as the ESP-AT
 * module closes its links on WIFI DISCONNECT / +ETH_DISCONNECTED; connections
 * that arrive meanwhile are closed unserved.
 */
void sim_net_check(void);

/** Firmware thread, after each wait: without network (sim_net_online()) the
 * MQTT session is dropped (state connecting, one error counted, reconnect
 * after the back-off; attempts fail until the network is back). */
void sim_mqtt_net_check(void);

/** mDNS (sim_mdns.c), firmware thread: answer what came, send what is due;
 * its next due time (µs, UINT64_MAX none); closed at reset. */
void sim_mdns_service(void);
uint64_t sim_mdns_next_event_us(void);
void sim_mdns_reset(void);
/** The bind address of sim_net_set_bind_addr(). */
void sim_net_bind_addr_get(char *out, size_t cap);

/** Earliest internal port deadline (DHCP answer, ping reply), µs, UINT64_MAX when none. */
uint64_t sim_net_next_event_us(void);

/**
 * MQTT's port deadline: starts a reconnect attempt whose back-off has run out,
 * then returns the next attempt's time in µs (UINT64_MAX when none). Firmware
 * thread only (called from hal_time_wait_until()).
 */
uint64_t sim_mqtt_next_event_us(void);

/**
 * Busy-poll read-ahead (firmware thread only): recv() without blocking on the
 * TCP connection the app read from last, keeping what it gets (bytes or the end
 * of stream) for the app's next hal_tcp_recv() on it, which then needs no
 * system call. @return true when it took something.
 */
bool sim_net_read_ahead(void);
/** A connection to read ahead on exists and nothing is staged yet. */
bool sim_net_read_ahead_possible(void);
/** Read-ahead bytes (or an end of stream) wait for the app: the loop must not sleep. */
bool sim_net_has_staged(void);

/** Busy-poll counters since sim_start() (see sim_config.busy_poll_us). */
struct sim_busy_poll_stats {
    uint64_t windows;     /**< busy-poll windows opened */
    uint64_t hits;        /**< windows that found an event (no sleep needed) */
    uint64_t polls;       /**< non-blocking tries in windows (poll() or read-ahead recv()) */
    uint64_t read_aheads; /**< windows ended by a read-ahead (no poll, no later recv) */
    uint64_t preempted;   /**< windows that overran (the CPU was busy elsewhere) */
    uint64_t spin_us;     /**< time spent polling without blocking */
    uint32_t window_us;   /**< the current adaptive window (0: not polling) */
};

/** Read the busy-poll counters (any thread; approximate while the loop runs). */
void sim_busy_poll_get_stats(struct sim_busy_poll_stats *out);

/** The reset cause of a pending reboot (hal_sys_reboot(): SOFT, the watchdog:
 * WATCHDOG), cleared; -1 when none is pending. */
int sim_sys_take_reboot_request(void);

/** Firmware thread: the loop is blocked for @p us (a flash erase or program, as long
 * as on the target): real time sleeps; virtual time jumps on by @p us (the host's
 * events of that span reach the loop after it). The watchdog fires when it expires
 * within: the clock stops there and the loop is being reset. Other threads (the
 * host's own flash calls) return at once. */
void sim_busy_us(uint64_t us);

/** sim_start(): zero the per-run counters of hal_sys.c. */
void sim_sys_start(void);

/** When the armed watchdog expires (last kick + ML_WATCHDOG_TIMEOUT_MS), µs;
 * UINT64_MAX when not armed. Firmware thread only: the loop's wait ends there. */
uint64_t sim_sys_watchdog_due_us(void);

/** Firmware thread, after a wait: an expired watchdog resets the loop (the app
 * loop returns, the port restarts it with reset cause WATCHDOG). */
void sim_sys_watchdog_check(void);

#endif /* FIRMWARE_PORTS_SIM_SIM_PRIV_H */

/**
 * @file ml_at_emu.h
 * @brief An emulated ESP32 network co-processor running Espressif's ESP-AT
 * firmware (command set of ESP-AT v3.x, compatible with v2.2+), for the host.
 *
 * The emulator serves AT commands that arrive on a byte stream (a QEMU pty,
 * a pty pair or a socketpair) in its own thread and carries them out with
 * real host resources:
 *
 * - TCP servers (AT+CIPSERVER) listen on real host sockets; a device port
 *   (Modbus 502, HTTP 80) maps to a host port (given, or a free one picked at
 *   start), queryable with ml_at_emu_host_port(). Accepted connections become
 *   links 0..4 ("+LINK_CONN:..." or "<id>,CONNECT"), their data arrives as
 *   "+IPD" (active or passive receive mode) and leaves with AT+CIPSEND.
 * - Client connections (AT+CIPSTART=<link>,"TCP",...) go to real host sockets,
 *   loopback addresses (127.0.0.0/8) only; their data takes the same paths.
 * - MQTT (AT+MQTTUSERCFG / AT+MQTTCONN / AT+MQTTPUB / AT+MQTTPUBRAW /
 *   AT+MQTTSUB / AT+MQTTCLEAN) runs on libmosquitto against a real broker,
 *   TLS and mutual TLS included; the CA, client certificate and key that a
 *   real module keeps in its manufacturing partition (CA_ID 0, cert_key_ID 0)
 *   are host PEM files given in the options.
 * - SNTP time is the host clock; AT+PING answers for the loopback network and
 *   the emulated gateway; Wi-Fi join, DHCP, the soft-AP and mDNS are modelled
 *   (accepted, with the URCs a real module prints) - see docs/esp-at.md.
 *
 * Thread safety: every function may be called from any thread while the
 * emulator runs (the emulator has its own lock).
 */
#ifndef SIM_AT_EMU_ML_AT_EMU_H
#define SIM_AT_EMU_ML_AT_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Port map entries in the options. */
#define ML_AT_EMU_MAX_PORTS 8

struct ml_at_emu;

/** One device TCP port and the host port that carries it. */
struct ml_at_emu_port {
    uint16_t device_port; /**< the port the firmware listens on (AT+CIPSERVER=1,<port>) */
    uint16_t host_port;   /**< host port to bind; 0: a free one, picked at start */
};

/** Log callback: one line without the line end (commands, URCs, faults). */
typedef void (*ml_at_emu_log_fn)(void *ctx, const char *line);

struct ml_at_emu_opts {
    /** Host address the TCP servers bind to (NULL: "127.0.0.1"). */
    const char *bind_addr;
    /** Device ports bound at start (so their host ports are known before the
     *  firmware opens its servers). A device port not listed here is bound to
     *  a free host port when the firmware opens it. */
    struct ml_at_emu_port ports[ML_AT_EMU_MAX_PORTS];
    size_t n_ports;
    /** Non-NULL: MQTT connects go to this host instead of the one in
     *  AT+MQTTCONN (e.g. the test broker on 127.0.0.1). */
    const char *broker_host;
    /** Non-zero: and to this port. */
    uint16_t broker_port;
    /** The module's provisioned TLS material (PEM files; NULL: none). CA_ID 0
     *  verifies the broker (schemes 3, 5); cert_key_ID 0 is the client
     *  certificate and key (schemes 4, 5). */
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    /** The module's storage for its SSL server (AT+CIPSERVER=1,<port>,"SSL"): the
     *  directory holding https_key.pem and https_cert.pem, made there at the first
     *  SSL server (CN = the AT+CWHOSTNAME name) and read back later. NULL: made in
     *  memory for this emulator. */
    const char *tls_dir;
    /** Emulate an Ethernet PHY with carrier (ETH link up at start). */
    bool eth_link;
    /** Optional log of every command and URC, for banners and test failures. */
    ml_at_emu_log_fn log;
    void *log_ctx;
    /** AT+MDNS=1 answers on the host network: firmware/core/mdns (probing,
     *  renaming <name>-2 ... on a conflict, as ESP-IDF's mdns does) on
     *  224.0.0.251:5353 with bind_addr as the A record. false: recorded only. */
    bool mdns;
    /** Firmware version string in AT+GMR (NULL: a v3.x-like default). */
    const char *version;
};

/** Fault switches for tests (ml_at_emu_set_fault). */
enum ml_at_emu_fault {
    /** Wi-Fi/Ethernet link down: "WIFI DISCONNECT", links and MQTT closed,
     *  joins fail (+CWJAP:3 FAIL) until switched off again. */
    ML_AT_EMU_LINK_DOWN = 0,
    /** The broker is unreachable: AT+MQTTCONN fails, a connected session
     *  drops with "+MQTTDISCONNECTED:0". */
    ML_AT_EMU_BROKER_DOWN,
    /** The module is hung: it reads and drops every byte and answers nothing
     *  (command timeouts on the client). */
    ML_AT_EMU_MUTE,
    ML_AT_EMU_FAULT_COUNT
};

/** Counters and state for tests and the device banner. */
struct ml_at_emu_status {
    uint32_t commands;   /**< AT command lines handled */
    uint32_t errors;     /**< commands answered with ERROR */
    uint32_t resets;     /**< AT+RST and ml_at_emu_reset() */
    uint32_t accepts;    /**< TCP connections accepted */
    uint32_t connects;   /**< client connections made (AT+CIPSTART) */
    uint32_t publishes;  /**< MQTT messages published */
    uint8_t links_open;  /**< TCP links open */
    bool wifi_connected; /**< station joined (AT+CWJAP) */
    bool ap_on;          /**< soft-AP running (AT+CWSAP with mode 2/3) */
    bool mqtt_connected; /**< MQTT session up */
    bool mdns_on;        /**< AT+MDNS=1 accepted */
    char hostname[64];   /**< last AT+CWHOSTNAME */
    char mdns_name[64];  /**< the mDNS name answered now (opts.mdns; after any rename) */
};

/**
 * Start serving AT commands on @p fd in a new thread. The emulator does not
 * own @p fd (the caller closes it after ml_at_emu_stop()); a tty is switched
 * to raw mode. The module prints "ready" at start, as after power-on. The
 * strings in @p o are copied; @p o may be NULL (defaults above).
 * @retval 0 running  @retval -1 failed (a port taken, no thread; reason on stderr)
 */
int ml_at_emu_start(struct ml_at_emu **out, int fd, const struct ml_at_emu_opts *o);

/** Stop the thread, close every socket and MQTT session, free. NULL is a no-op. */
void ml_at_emu_stop(struct ml_at_emu *e);

/**
 * Host port carrying device TCP port @p device_port: known from start for
 * ports in the options, otherwise once the firmware has opened the server.
 * @return the host port, or 0 when not known (yet).
 */
uint16_t ml_at_emu_host_port(struct ml_at_emu *e, uint16_t device_port);

/** Switch fault @p f on or off. */
void ml_at_emu_set_fault(struct ml_at_emu *e, enum ml_at_emu_fault f, bool on);

/** Reset the module as a power cycle would: links, servers, MQTT closed; "ready" printed. */
void ml_at_emu_reset(struct ml_at_emu *e);

/** Copy the counters and state. */
void ml_at_emu_get_status(struct ml_at_emu *e, struct ml_at_emu_status *out);

#endif /* SIM_AT_EMU_ML_AT_EMU_H */

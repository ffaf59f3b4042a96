/**
 * @file esp_at.h
 * @brief Client for an ESP32 network co-processor running Espressif's ESP-AT
 * firmware (v3.x command set, v2.2+ compatible) on a UART.
 *
 * Portable and freestanding: no heap, no stdio, no HAL calls. The caller owns
 * the state (struct ml_esp_at), moves bytes with the small I/O interface
 * (@ref ml_esp_at_io: non-blocking read and write of the UART) and calls
 * ml_esp_at_poll() from its loop with the time in milliseconds. The Cortex-M
 * port's hal_net.c / hal_mqtt.c sit on top of it; host tests drive it with
 * scripted replies or the AT emulator (sim/at_emu).
 *
 * Model: the client keeps the *wanted* state (interface, Wi-Fi credentials,
 * host name, soft-AP, TCP servers, MQTT session) and the pending work
 * (received data to fetch, bytes to send, publishes, closes, a ping) and,
 * whenever no command is in flight, issues the most urgent AT command for
 * it. One command is in flight at a time, built in one fixed buffer; the
 * wanted state is the queue. After a module reset ("ready" without our
 * AT+RST) everything wanted is applied again. See docs/esp-at.md.
 *
 * Receive uses ESP-AT's passive mode (AT+CIPRECVMODE=1): the module keeps the
 * TCP data and announces it with "+IPD,<link>,<len>"; the client fetches at
 * most what fits its per-connection ring (AT+CIPRECVDATA), so TCP flow control
 * reaches the peer and nothing is lost. Active-mode "+IPD,<link>,<len>:<data>"
 * is understood too.
 */
#ifndef FIRMWARE_CORE_ESP_AT_ESP_AT_H
#define FIRMWARE_CORE_ESP_AT_ESP_AT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_config.h"
#include "mqtt/mqtt_policy.h"
#include "ring.h"

/** Connection slots (ESP-AT allows 5 links by default; handles are slot numbers). */
#ifndef ML_ESP_AT_SLOTS
#define ML_ESP_AT_SLOTS 6
#endif
/** ESP-AT link ids 0..ML_ESP_AT_LINKS-1 (AT+CIPSERVERMAXCONN). */
#ifndef ML_ESP_AT_LINKS
#define ML_ESP_AT_LINKS 5
#endif
/** TCP servers (listeners). */
#ifndef ML_ESP_AT_LISTENERS
#define ML_ESP_AT_LISTENERS 4
#endif
/* Per-connection receive and send rings and the MQTT publish queue (records of
 * topic + payload + 4 bytes), powers of two: ML_ESP_AT_RX_CAP, ML_ESP_AT_TX_CAP,
 * ML_ESP_AT_PUB_CAP in ml_config.h (the same on every build). */
/** A received MQTT message (+MQTTSUBRECV): longest topic (NUL excluded) and payload kept.
 * One message arrives in one burst into the UART's receive ring: well below it. */
#define ML_ESP_AT_SUB_TOPIC_MAX   127
#define ML_ESP_AT_SUB_PAYLOAD_MAX 512
/** Longest response line kept (longer lines are dropped as garbage). */
#ifndef ML_ESP_AT_LINE_MAX
#define ML_ESP_AT_LINE_MAX 160
#endif
/** Command buffer: ESP-AT accepts command lines up to 256 bytes. */
#define ML_ESP_AT_CMD_MAX 260
/** Largest AT+CIPSEND payload. */
#define ML_ESP_AT_CHUNK   1024
/**
 * Largest AT+CIPRECVDATA request. The answer arrives in one burst into the
 * UART's receive ring (1 KiB on the MPS2 board) before the client reads it,
 * so it must stay well below that ring.
 */
#ifndef ML_ESP_AT_RECV_CHUNK
#define ML_ESP_AT_RECV_CHUNK 256
#endif
/** Timeouts (ms). */
#define ML_ESP_AT_TMO_CMD_MS    3000u
#define ML_ESP_AT_TMO_CONN_MS   10000u /**< AT+CIPSTART (a TCP connect in the module) */
#define ML_ESP_AT_TMO_JOIN_MS   20000u
#define ML_ESP_AT_TMO_MQTT_MS   15000u
#define ML_ESP_AT_TMO_READY_MS  5000u
#define ML_ESP_AT_TMO_DHCP_MS   15000u
#define ML_ESP_AT_TMO_PING_MS   6000u
/** Consecutive timeouts before the module is reset (AT+RST). */
#define ML_ESP_AT_MAX_TIMEOUTS  3u
/** "busy p..." answers before a command is given up. */
#define ML_ESP_AT_MAX_BUSY      20u
#define ML_ESP_AT_BUSY_RETRY_MS 50u

/** Non-blocking byte I/O to the module (the co-processor UART). */
struct ml_esp_at_io {
    /** Take up to @p cap received bytes; @return count (0: none), < 0 error. */
    int (*read)(void *ctx, uint8_t *buf, size_t cap);
    /** Queue up to @p len bytes; @return count accepted (may be < len), < 0 error. */
    int (*write)(void *ctx, const uint8_t *buf, size_t len);
    void *ctx;
};

enum ml_esp_at_if { ML_ESP_AT_IF_NONE = 0, ML_ESP_AT_IF_ETH, ML_ESP_AT_IF_WIFI };

/** Asynchronous operation state (same meaning as enum hal_net_op). */
enum ml_esp_at_op {
    ML_ESP_AT_OP_IDLE = 0,
    ML_ESP_AT_OP_PENDING,
    ML_ESP_AT_OP_OK,
    ML_ESP_AT_OP_FAILED
};

/** MQTT session state (same meaning as enum hal_mqtt_state). */
enum ml_esp_at_mqtt_state {
    ML_ESP_AT_MQTT_DISABLED = 0,
    ML_ESP_AT_MQTT_CONNECTING,
    ML_ESP_AT_MQTT_CONNECTED,
};

/** ESP-AT MQTT scheme numbers (AT+MQTTUSERCFG). */
enum ml_esp_at_mqtt_scheme {
    ML_ESP_AT_MQTT_TCP = 1,
    ML_ESP_AT_MQTT_TLS_VERIFY_SERVER = 3,
    ML_ESP_AT_MQTT_TLS_CLIENT_CERT = 4,
    ML_ESP_AT_MQTT_TLS_MUTUAL = 5,
};

struct ml_esp_at_ipv4 {
    uint32_t ip, netmask, gateway, dns; /* host byte order */
};

/** Counters (zeroed by ml_esp_at_init). */
struct ml_esp_at_stats {
    uint32_t commands;   /**< commands sent */
    uint32_t errors;     /**< ERROR / FAIL answers */
    uint32_t timeouts;   /**< commands without an answer in time */
    uint32_t busy;       /**< "busy" answers (the command was repeated) */
    uint32_t resets;     /**< module resets seen ("ready") */
    uint32_t garbage;    /**< lines not understood or too long */
    uint32_t rx_bytes;   /**< TCP bytes received */
    uint32_t tx_bytes;   /**< TCP bytes sent */
    uint32_t rx_dropped; /**< TCP bytes dropped (active-mode +IPD into a full ring) */
    uint32_t mqtt_connects;
    uint32_t mqtt_errors; /**< failed attempts and lost sessions */
    uint32_t mqtt_published;
};

/* -------------------------------------------------------------------------- */
/* State (caller-owned; treat as opaque)                                      */
/* -------------------------------------------------------------------------- */

struct ml_esp_at_slot {
    int8_t link;      /**< ESP-AT link id, -1: slot free */
    int8_t listener;  /**< listener that accepted it */
    bool accepted;    /**< handed out by ml_esp_at_accept() */
    bool peer_closed; /**< "<id>,CLOSED" seen (or module reset) */
    bool close_req;   /**< the app closed it: AT+CIPCLOSE pending */
    bool rx_hint;     /**< the module announced data (+IPD) not fetched yet */
    uint32_t peer_ip; /**< remote IPv4 (host order) from +LINK_CONN, 0: not reported */
    /* a client connection (ml_esp_at_connect): AT+CIPSTART=<link>,"TCP",... */
    bool outgoing;      /**< opened by us, not accepted from a listener */
    bool connecting;    /**< AT+CIPSTART not answered yet (link < 0: not sent yet) */
    uint16_t peer_port; /**< outgoing: the server's port (peer_ip its address) */
    struct ml_ring rx, tx;
    uint8_t rx_buf[ML_ESP_AT_RX_CAP];
    uint8_t tx_buf[ML_ESP_AT_TX_CAP];
};

struct ml_esp_at_listener {
    uint16_t port; /**< 0: free */
    bool opened;   /**< the module has the server */
    bool ssl;      /**< an SSL server: AT+CIPSERVER=1,<port>,"SSL",0 */
};

struct ml_esp_at {
    struct ml_esp_at_io io;
    uint64_t now;

    /* receive parser */
    char line[ML_ESP_AT_LINE_MAX];
    uint16_t line_len;
    bool line_overflow;
    uint32_t data_left; /**< bytes of a counted payload still to come */
    int8_t data_slot;   /**< where they go (-1: dropped) */

    /* the command in flight */
    char cmd[ML_ESP_AT_CMD_MAX];
    uint16_t cmd_len, cmd_sent;
    uint8_t kind; /**< enum in esp_at.c; 0: none */
    uint8_t phase;
    int8_t arg;        /**< slot / listener / init step */
    int8_t arg_link;   /**< AT+CIPCLOSE: the link it closes (the slot may be reused meanwhile) */
    uint16_t data_len; /**< CIPSEND / MQTTPUBRAW payload length */
    uint16_t data_sent;
    uint64_t deadline;
    uint64_t not_before; /**< no new command before (busy back-off) */
    uint8_t busy_count;
    uint8_t timeouts_in_row;
    struct ml_esp_at_ipv4 query; /**< address lines of AT+CIPSTA? / AT+CIPETH? */

    /* module */
    bool need_reset; /**< send AT+RST */
    bool ready;      /**< init sequence done */
    uint8_t init_step;

    /* network */
    uint8_t want_if; /**< enum ml_esp_at_if */
    bool join_pending, quit_pending;
    uint64_t join_next;
    bool wifi_connected, wifi_got_ip, eth_link, eth_got_ip;
    char ssid[33], psk[65];
    char hostname[64];
    char mdns_name[64]; /**< AT+MDNS host name when set (else hostname) */
    bool hostname_dirty, mdns_dirty;
    uint8_t dhcp; /**< enum ml_esp_at_op */
    bool dhcp_cmd_pending, dhcp_query_pending;
    uint64_t dhcp_deadline;
    bool static_pending;
    struct ml_esp_at_ipv4 addr;
    bool ap_want, ap_on, ap_dirty;
    uint8_t ap_step;
    char ap_ssid[33], ap_psk[65];
    uint8_t ping; /**< enum ml_esp_at_op */
    bool ping_pending;
    uint32_t ping_ip;
    int64_t utc_s; /**< SNTP time at utc_at_ms (0: unknown) */
    uint64_t utc_at_ms, sntp_next_ms;

    struct ml_esp_at_slot slots[ML_ESP_AT_SLOTS];
    struct ml_esp_at_listener listeners[ML_ESP_AT_LISTENERS];
    bool servers_reset; /**< AT+CIPSERVER=0 pending (a listener was closed) */

    /* MQTT */
    bool mqtt_enabled, mqtt_link; /**< wanted / session up in the module */
    bool mqtt_clean_pending;      /**< AT+MQTTCLEAN after a stop */
    uint8_t mqtt_scheme;
    uint8_t mqtt_step; /**< 0 clean, 1 usercfg, 2 conn */
    uint8_t mqtt_gen;  /**< bumped by start/stop: answers to older attempts are stale */
    uint16_t mqtt_port;
    char mqtt_host[64], mqtt_client_id[64], mqtt_user[64], mqtt_pass[64];
    uint64_t mqtt_next_try;
    struct mqtt_backoff mqtt_backoff; /**< core/mqtt policy: 1 s, 2 s ... 60 s */
    struct ml_ring pub;
    uint8_t pub_buf[ML_ESP_AT_PUB_CAP];
    /* subscription (AT+MQTTSUB) and the received messages kept (+MQTTSUBRECV): a FIFO
     * of records [topic length, payload length (2 B, LE), topic, payload] in sub_buf,
     * oldest at 0; the one being received is written at sub_used */
    bool sub_pending;
    char sub_filter[ML_ESP_AT_SUB_TOPIC_MAX + 1];
    uint16_t sub_used; /**< bytes of whole messages waiting for ml_esp_at_mqtt_receive() */
    uint16_t sub_got;  /**< payload bytes of the one being received */
    uint8_t sub_buf[ML_MQTT_RX_BYTES];

    struct ml_esp_at_stats stats;
};

/* -------------------------------------------------------------------------- */
/* Life cycle                                                                 */
/* -------------------------------------------------------------------------- */

/** Set up @p e over @p io. The first poll resets the module (AT+RST). */
void ml_esp_at_init(struct ml_esp_at *e, const struct ml_esp_at_io *io, uint64_t now_ms);

/**
 * Read what the module sent, handle it, time out the command in flight and
 * issue the next command. Call often (every loop pass) with the time.
 */
void ml_esp_at_poll(struct ml_esp_at *e, uint64_t now_ms);

/** Earliest time at which ml_esp_at_poll() has timer work (UINT64_MAX: only on input);
 * while the client holds back (a busy module, a failed server retried) not before
 * the hold ends, even with work overdue (an MQTT attempt, a module reset). */
uint64_t ml_esp_at_next_deadline(const struct ml_esp_at *e);

/** True after the init sequence completed (cleared by a module reset). */
bool ml_esp_at_is_ready(const struct ml_esp_at *e);

/**
 * True while output the app handed over is not through the module yet: bytes
 * in a connection's send ring, a close not done, AT+CIPSEND / AT+CIPCLOSE
 * in flight, or MQTT publishes queued on a live session (AT+MQTTPUBRAW). False when the module is
 * not ready or a module reset is asked for (nothing could drain then). A firmware that resets on
 * purpose polls until this is false (bounded), so an answer it already "sent" (POST /api/v1/reset,
 * the MQTT reset command's "rebooting") reaches the client.
 */
bool ml_esp_at_output_pending(const struct ml_esp_at *e);

/** Ask for a module reset (AT+RST and the init sequence). */
void ml_esp_at_reset(struct ml_esp_at *e);

/** Copy the counters. */
void ml_esp_at_get_stats(const struct ml_esp_at *e, struct ml_esp_at_stats *out);

/* -------------------------------------------------------------------------- */
/* Network                                                                    */
/* -------------------------------------------------------------------------- */

/** Make @p nif the wanted interface (Wi-Fi: join @p ssid / @p psk, copied). */
int ml_esp_at_net_up(struct ml_esp_at *e, enum ml_esp_at_if nif, const char *ssid, const char *psk);
bool ml_esp_at_link_is_up(const struct ml_esp_at *e, enum ml_esp_at_if nif);
/** Start DHCP on the wanted interface; poll ml_esp_at_dhcp_state(). */
int ml_esp_at_dhcp_start(struct ml_esp_at *e);
enum ml_esp_at_op ml_esp_at_dhcp_state(const struct ml_esp_at *e, struct ml_esp_at_ipv4 *out);
/** Configure a static address (AT+CIPSTA / AT+CIPETH). */
int ml_esp_at_set_ipv4(struct ml_esp_at *e, const struct ml_esp_at_ipv4 *a);
void ml_esp_at_get_ipv4(const struct ml_esp_at *e, struct ml_esp_at_ipv4 *out);
/** Host name for DHCP and mDNS (RFC 1123 label, checked). */
int ml_esp_at_set_hostname(struct ml_esp_at *e, const char *name);
/**
 * The name the module announces on mDNS instead of the host name
 * (AT+MDNS=1,"<name>","_http",80; the module probes it and, on a conflict,
 * renames it <name>-2, -3 ...: ESP-IDF's mdns component). Applied once the
 * module has an address, and again after a module reset.
 * @retval 0 ok  @retval ML_EINVAL not an RFC 1123 label of 1..32 characters
 */
int ml_esp_at_set_mdns_name(struct ml_esp_at *e, const char *name);
int ml_esp_at_ap_start(struct ml_esp_at *e, const char *ssid, const char *psk);
void ml_esp_at_ap_stop(struct ml_esp_at *e);
int ml_esp_at_ping_start(struct ml_esp_at *e, uint32_t ip);
enum ml_esp_at_op ml_esp_at_ping_state(const struct ml_esp_at *e);
/** UTC seconds from the module's SNTP client, or ML_EAGAIN when not synchronised. */
int64_t ml_esp_at_utc(const struct ml_esp_at *e);

/* -------------------------------------------------------------------------- */
/* TCP servers                                                                */
/* -------------------------------------------------------------------------- */

/** @return listener index >= 0, ML_EBUSY (port taken), ML_ENOMEM, ML_EINVAL (port 0). */
int ml_esp_at_listen(struct ml_esp_at *e, uint16_t port);
/**
 * The same, as the module's SSL server (`AT+CIPSERVER=1,<port>,"SSL",0`: TLS
 * terminated by the module with its own server certificate and key, no client
 * certificate asked for); its connections carry plaintext over the UART.
 */
int ml_esp_at_listen_tls(struct ml_esp_at *e, uint16_t port);
uint16_t ml_esp_at_local_port(const struct ml_esp_at *e, int listener);
/** @return connection slot >= 0, or ML_EAGAIN. */
int ml_esp_at_accept(struct ml_esp_at *e, int listener);
/** Remote IPv4 (host order) of an accepted connection, from +LINK_CONN; 0 when unknown. */
uint32_t ml_esp_at_peer_ipv4(const struct ml_esp_at *e, int slot);
/** @return bytes, ML_EAGAIN, ML_ECONNREFUSED (peer closed, nothing left), ML_EBADF. */
int ml_esp_at_recv(struct ml_esp_at *e, int slot, uint8_t *buf, size_t cap);
/** @return bytes queued (may be < len; 0 when the ring is full), < 0 when broken. */
int ml_esp_at_send(struct ml_esp_at *e, int slot, const uint8_t *buf, size_t len);
/**
 * Open a TCP connection to @p ip (host order) : @p port as a client: the module
 * gets `AT+CIPSTART=<link>,"TCP","<ip>",<port>` (multi-connection mode; the link id
 * is the highest one no slot holds, chosen when the command goes out). Returns at
 * once; the slot is used like an accepted one (recv/send/close; bytes sent before
 * the connection is up wait in its send ring). Follow ml_esp_at_connect_state().
 * @return connection slot >= 0; ML_EINVAL (ip or port 0), ML_ENOMEM (no slot free)
 */
int ml_esp_at_connect(struct ml_esp_at *e, uint32_t ip, uint16_t port);
/** A connection from ml_esp_at_connect(): PENDING until the module answered
 * AT+CIPSTART, OK while connected, FAILED when refused, timed out or closed
 * (also for a slot that is not such a connection). */
enum ml_esp_at_op ml_esp_at_connect_state(const struct ml_esp_at *e, int slot);
/** Close a connection slot (queued bytes are still sent first). */
void ml_esp_at_close(struct ml_esp_at *e, int slot);
void ml_esp_at_unlisten(struct ml_esp_at *e, int listener);

/* -------------------------------------------------------------------------- */
/* MQTT (ESP-AT's MQTT client, link 0)                                        */
/* -------------------------------------------------------------------------- */

struct ml_esp_at_mqtt_cfg {
    enum ml_esp_at_mqtt_scheme scheme;
    const char *host;
    uint16_t port;
    const char *client_id, *username, *password; /* NULL or "" for none */
};

/** Start (or restart) the session; back-off 1, 2, 4 .. 60 s between attempts. */
int ml_esp_at_mqtt_start(struct ml_esp_at *e, const struct ml_esp_at_mqtt_cfg *cfg);
void ml_esp_at_mqtt_stop(struct ml_esp_at *e);
enum ml_esp_at_mqtt_state ml_esp_at_mqtt_state(const struct ml_esp_at *e);
/**
 * Queue a QoS 0 publish (copied). @retval 0 queued @retval ML_EAGAIN not
 * connected or queue full @retval ML_EMSGSIZE larger than the queue
 * @retval ML_EINVAL empty topic or wildcards
 */
int ml_esp_at_mqtt_publish(struct ml_esp_at *e, const char *topic, const void *payload, size_t len);

/**
 * Subscribe to @p filter (QoS 0) on the current session: AT+MQTTSUB is sent next
 * (the session is clean: subscribe again after every connect).
 * @retval 0 queued; ML_EAGAIN not connected; ML_EINVAL empty or longer than
 *         ML_ESP_AT_SUB_TOPIC_MAX, or a '"' in it
 */
int ml_esp_at_mqtt_subscribe(struct ml_esp_at *e, const char *filter);

/**
 * Take the oldest received message (+MQTTSUBRECV): they are kept in arrival order in
 * ML_MQTT_RX_BYTES (ml_config.h; 3 + topic + payload bytes each); one that does not
 * fit beside those waiting, or larger than ML_ESP_AT_SUB_PAYLOAD_MAX, is dropped
 * (counted in stats.rx_dropped).
 * @retval 0 copied (@p topic NUL-terminated, @p len payload bytes)
 * @retval ML_EAGAIN none; ML_ENOSPC a buffer too small (the message is dropped)
 */
int ml_esp_at_mqtt_receive(struct ml_esp_at *e, char *topic, size_t topic_cap, uint8_t *payload,
                           size_t cap, size_t *len);

#endif /* FIRMWARE_CORE_ESP_AT_ESP_AT_H */

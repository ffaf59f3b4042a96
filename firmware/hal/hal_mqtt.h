/**
 * @file hal_mqtt.h
 * @brief MQTT client: connect, publish, state.
 *
 * One client per device. The port owns the transport (TLS, sockets) and the
 * reconnect back-off; the app decides what to publish. Thread context: call
 * from the app loop only (not from an ISR). hal_mqtt_get_state() and
 * hal_mqtt_get_stats() may also be called from another thread (the sim
 * port's host, a status task).
 *
 * Connection life cycle (start-then-poll: the app never blocks on the network):
 *
 *     DISABLED --start--> CONNECTING --CONNACK 0--> CONNECTED
 *                          ^   |  CONNACK 4/5             | connection lost
 *                          |   v                          v
 *                          |  AUTH_FAILED          errors++, CONNECTING
 *                          +---- next attempt after the back-off ----+
 *
 * Every failed attempt and every lost connection (TCP, TLS or MQTT alike)
 * counts one error and sets the next attempt after a back-off of 1 s, 2 s,
 * 4 s ... capped at 60 s (struct mqtt_backoff, core/mqtt/mqtt_policy.h), in
 * device time (hal_time_ms()); a successful connect resets it to 1 s.
 * AUTH_FAILED (the broker refused user name/password or authorisation) stays
 * while the refused attempts repeat, until a connect succeeds or an attempt
 * fails otherwise. A TLS handshake failure (untrusted server, client
 * certificate missing or refused) is a plain error: the state is CONNECTING.
 */
#ifndef FIRMWARE_HAL_HAL_MQTT_H
#define FIRMWARE_HAL_HAL_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hal_mqtt_state {
    HAL_MQTT_DISABLED = 0, /**< not configured / stopped */
    HAL_MQTT_CONNECTING,   /**< attempt in progress or waiting for back-off */
    HAL_MQTT_CONNECTED,
    HAL_MQTT_AUTH_FAILED, /**< broker refused the credentials; retried with back-off */
};
/* Names of the states: mqtt_state_name() in core/mqtt/mqtt_policy.h (by these values). */

/**
 * Connection settings. All strings are copied or consumed by hal_mqtt_start();
 * they need not outlive the call.
 */
struct hal_mqtt_cfg {
    /** mqtt://host[:port][/] (default port 1883) or mqtts://host[:port][/] (default
     *  port 8883), parsed by mqtt_broker_url_parse() (core/mqtt/mqtt_policy.h):
     *  mqtts:// or port 8883 is TLS, anything else plain TCP. */
    const char *url;
    const char *client_id; /**< the device serial number (NULL or "": port picks one) */
    const char *username;  /**< NULL or "" for none */
    const char *password;  /**< with username; NULL for none */
    /** TLS trust anchor, mqtts only. Sim port: a PEM file path (NULL: the host's
     *  /etc/ssl/certs). The server's name or IP is verified against its certificate. */
    const char *ca_file;
    const char *cert_file; /**< device certificate for mutual TLS (CN = serial), or NULL */
    const char *key_file;  /**< its private key; required with cert_file */
};

/** Event counters kept by the port; zeroed at power-on, kept across start/stop. */
struct hal_mqtt_stats {
    uint32_t connects;  /**< successful connects (mqtt_event_connect) */
    uint32_t errors;    /**< connection errors and drops (mqtt_event_errors) */
    uint32_t send_pass; /**< publishes accepted for sending */
    uint32_t send_fail; /**< publishes refused (not connected, too large) */
};

/**
 * Start connecting with @p cfg (strings are copied). Replaces any previous
 * session; the first attempt starts at once (its result shows later in
 * hal_mqtt_get_state()). The URL is checked before anything else: a bad one
 * leaves a running session untouched.
 * @retval 0 started
 * @retval ML_EINVAL bad URL, or TLS material that cannot be used (a file not
 *         readable, a certificate without its key); the state is DISABLED
 * @retval ML_ENOMEM no resources for the client
 * @retval ML_ENOSYS no MQTT in this port
 */
int hal_mqtt_start(const struct hal_mqtt_cfg *cfg);

/** Disconnect and stop retrying; the state becomes DISABLED. Safe when not started. */
void hal_mqtt_stop(void);

/** Current state. */
enum hal_mqtt_state hal_mqtt_get_state(void);

/**
 * Publish @p len bytes on @p topic (QoS 0, not retained). Both are copied
 * before the call returns. Counts send_pass when accepted, send_fail otherwise
 * (so send_pass + send_fail = publishes attempted).
 * @retval 0 queued (handed to the transport; QoS 0 has no delivery proof)
 * @retval ML_EAGAIN not connected
 * @retval ML_EMSGSIZE too large for the port (sim: 64 KiB)
 * @retval ML_EINVAL NULL or invalid topic (wildcards, bad UTF-8)
 */
int hal_mqtt_publish(const char *topic, const void *payload, size_t len);

/** Copy the port's counters into @p out. */
void hal_mqtt_get_stats(struct hal_mqtt_stats *out);

#define HAL_MQTT_RX_TOPIC_MAX                                                                      \
    128u                             /**< received topics longer than this (NUL incl.) are dropped \
                                      */
#define HAL_MQTT_RX_PAYLOAD_MAX 512u /**< received payloads longer than this are dropped */

/**
 * Subscribe to @p filter (QoS 0) on the current session. The session is a
 * clean one: a subscription ends with the connection, so the app subscribes
 * again after every connect (the CONNECTED edge of hal_mqtt_get_state()).
 * @retval 0 SUBSCRIBE sent
 * @retval ML_EAGAIN not connected
 * @retval ML_EINVAL NULL or invalid filter
 * @retval ML_ENOSYS no subscriptions in this port
 */
int hal_mqtt_subscribe(const char *filter);

/**
 * Take the oldest received message (every port keeps ML_MQTT_RX_BYTES, ml_config.h,
 * of 3 + topic + payload bytes each; one that does not fit beside those waiting, or whose topic or
 * payload is larger than HAL_MQTT_RX_TOPIC_MAX / HAL_MQTT_RX_PAYLOAD_MAX, is dropped). The loop
 * wakes when one arrives. @p topic gets the NUL-terminated topic, @p payload the bytes (not
 * terminated), @p len their number.
 * @retval 0 a message was copied out
 * @retval ML_EAGAIN none waiting
 * @retval ML_ENOSPC @p topic_cap or @p cap too small (the message is dropped)
 * @retval ML_ENOSYS no subscriptions in this port
 */
int hal_mqtt_receive(char *topic, size_t topic_cap, uint8_t *payload, size_t cap, size_t *len);

#endif /* FIRMWARE_HAL_HAL_MQTT_H */

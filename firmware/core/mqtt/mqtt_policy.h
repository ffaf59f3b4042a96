/**
 * @file mqtt_policy.h
 * @brief MQTT connection policy shared by every port and the configuration:
 *        which broker URLs are accepted and what they mean (host, port, TLS),
 *        the reconnect back-off, and the names of the connection states.
 *
 * Broker URL (the one grammar; the config API, the CLI and both ports use it):
 *
 *     mqtt://host[:port][/]    default port 1883
 *     mqtts://host[:port][/]   default port 8883
 *
 * host: a DNS name or IPv4 address (letters, digits, '-', '_', '.'; not
 * starting with '.' or '-', not ending with '.'), or an IPv6 literal in
 * brackets. port: 1..65535 in decimal, no leading zero. No user info, path or
 * query: credentials travel in the MQTT CONNECT, never in the URL.
 *
 * TLS rule (decisions.md): mqtts:// or port 8883 means TLS, whatever the
 * scheme says, so credentials are never sent in plain TCP to port 8883;
 * mqtt:// on any other port is plain TCP (local brokers) and is shown as
 * "not encrypted".
 *
 * No state beyond the caller's structs; any context.
 */
#ifndef FIRMWARE_CORE_MQTT_MQTT_POLICY_H
#define FIRMWARE_CORE_MQTT_MQTT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQTT_PORT_PLAIN     1883u
#define MQTT_PORT_TLS       8883u
#define MQTT_HOST_MAX       128u   /**< host bytes incl. NUL (an IPv6 host without brackets) */
#define MQTT_BACKOFF_MIN_MS 1000u  /**< first reconnect delay */
#define MQTT_BACKOFF_MAX_MS 60000u /**< reconnect delay cap */

/** What a broker URL says. */
struct mqtt_broker {
    char host[MQTT_HOST_MAX];
    uint16_t port;
    bool tls; /**< mqtts:// or port 8883 */
};

/**
 * Parse the @p len bytes at @p url (no NUL needed) as a broker URL.
 * @param out filled on success; may be NULL to only check the URL
 * @retval 0 accepted
 * @retval ML_EINVAL not a broker URL of the grammar above (out unchanged)
 */
int mqtt_broker_url_parse(const char *url, size_t len, struct mqtt_broker *out);

/** Reconnect back-off: 1 s, 2 s, 4 s ... capped at 60 s; reset by a connect. */
struct mqtt_backoff {
    uint32_t delay_ms; /**< the delay after the next failure */
};

/** Start over at MQTT_BACKOFF_MIN_MS (at start and after a successful connect). */
void mqtt_backoff_reset(struct mqtt_backoff *b);

/**
 * An attempt failed or a connection was lost (TCP, TLS or MQTT alike):
 * @return how long to wait before the next attempt, in ms; the delay after
 *         that one doubles, up to MQTT_BACKOFF_MAX_MS.
 */
uint32_t mqtt_backoff_next(struct mqtt_backoff *b);

/**
 * Name of a connection state by its value in enum hal_mqtt_state (0 disabled,
 * 1 connecting, 2 connected, 3 auth failed): "disabled", "connecting",
 * "connected", "auth_failed" (the status API's values); "?" for others.
 */
const char *mqtt_state_name(int state);

#endif /* FIRMWARE_CORE_MQTT_MQTT_POLICY_H */

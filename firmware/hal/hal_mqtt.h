/**
 * @file hal_mqtt.h
 * @brief MQTT client: connect, publish, state.
 *
 * One client per device. The port owns the transport (TLS, sockets) and the
 * reconnect back-off; the app decides what to publish. Thread context.
 */
#ifndef FIRMWARE_HAL_HAL_MQTT_H
#define FIRMWARE_HAL_HAL_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hal_mqtt_state {
    HAL_MQTT_DISABLED = 0,  /**< not configured / stopped */
    HAL_MQTT_CONNECTING,    /**< attempt in progress or waiting for back-off */
    HAL_MQTT_CONNECTED,
    HAL_MQTT_AUTH_FAILED,   /**< broker refused the credentials; retried with back-off */
};

struct hal_mqtt_cfg {
    const char *url;       /**< mqtt://host:port or mqtts://host:port */
    const char *client_id; /**< the device serial number */
    const char *username;  /**< NULL or "" for none */
    const char *password;
    const char *ca_file;   /**< TLS trust anchor (port-specific meaning) */
    const char *cert_file; /**< device certificate for mutual TLS, or NULL */
    const char *key_file;
};

/** Event counters kept by the port. */
struct hal_mqtt_stats {
    uint32_t connects;  /**< successful connects (mqtt_event_connect) */
    uint32_t errors;    /**< connection errors and drops (mqtt_event_errors) */
    uint32_t send_pass; /**< publishes accepted for sending */
    uint32_t send_fail; /**< publishes refused (not connected, too large) */
};

/**
 * Start connecting with @p cfg (strings are copied). Replaces any previous
 * session. @retval 0 started @retval ML_EINVAL bad URL @retval ML_ENOSYS no MQTT here
 */
int hal_mqtt_start(const struct hal_mqtt_cfg *cfg);

/** Disconnect and stop retrying. */
void hal_mqtt_stop(void);

/** Current state. */
enum hal_mqtt_state hal_mqtt_get_state(void);

/**
 * Publish @p len bytes on @p topic (QoS 0, not retained).
 * @retval 0 queued  @retval ML_EAGAIN not connected  @retval ML_EMSGSIZE too large
 */
int hal_mqtt_publish(const char *topic, const void *payload, size_t len);

/** Copy the port's counters into @p out. */
void hal_mqtt_get_stats(struct hal_mqtt_stats *out);

#endif /* FIRMWARE_HAL_HAL_MQTT_H */

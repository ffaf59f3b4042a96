/**
 * @file ml_mqtt_sub.h
 * @brief An MQTT subscriber for tests: the independent peer that checks what
 * the firmware publishes (libmosquitto, with its own network thread).
 *
 * It subscribes to one topic filter (QoS 0) and keeps the messages in a
 * bounded list, in arrival order; messages beyond ML_MQTT_SUB_MAX are counted
 * in @ref ml_mqtt_sub_dropped() and not kept. Waits are bounded in real time.
 * The host test thread calls these functions; the list is guarded internally.
 */
#ifndef TESTS_SUPPORT_ML_MQTT_SUB_H
#define TESTS_SUPPORT_ML_MQTT_SUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ML_MQTT_SUB_MAX         64   /**< messages kept */
#define ML_MQTT_SUB_TOPIC_MAX   256  /**< topic bytes kept, NUL included */
#define ML_MQTT_SUB_PAYLOAD_MAX 4096 /**< payload bytes kept (longer ones are cut) */

/** One received message (payload also NUL-terminated, for string compares). */
struct ml_mqtt_msg {
    char topic[ML_MQTT_SUB_TOPIC_MAX];
    char payload[ML_MQTT_SUB_PAYLOAD_MAX + 1];
    size_t len; /**< payload length as received (may exceed what was kept) */
};

/** Opaque subscriber (allocated by ml_mqtt_sub_start). */
struct ml_mqtt_sub;

/**
 * Connect (plain, anonymous) to 127.0.0.1:@p port, subscribe to @p filter,
 * and wait for the SUBACK, so nothing published afterwards is missed.
 * @p timeout_ms bounds the wait in real time.
 * @return the subscriber, or NULL (reason on stderr) when it could not
 * connect or subscribe in time.
 */
struct ml_mqtt_sub *ml_mqtt_sub_start(uint16_t port, const char *filter, unsigned timeout_ms);

/**
 * Wait until at least @p n messages have arrived (counted since start or the
 * last clear), at most @p timeout_ms of real time.
 * @return true when they did.
 */
bool ml_mqtt_sub_wait(struct ml_mqtt_sub *s, size_t n, unsigned timeout_ms);

/** Messages received so far (kept or dropped). */
size_t ml_mqtt_sub_count(struct ml_mqtt_sub *s);

/** Messages that did not fit the list. */
size_t ml_mqtt_sub_dropped(struct ml_mqtt_sub *s);

/**
 * Copy message @p i (0 = oldest) into @p out.
 * @return false when there is no such kept message.
 */
bool ml_mqtt_sub_get(struct ml_mqtt_sub *s, size_t i, struct ml_mqtt_msg *out);

/** Forget every message received so far. */
void ml_mqtt_sub_clear(struct ml_mqtt_sub *s);

/** Disconnect, stop its thread and free it. NULL is fine. */
void ml_mqtt_sub_stop(struct ml_mqtt_sub *s);

#endif /* TESTS_SUPPORT_ML_MQTT_SUB_H */

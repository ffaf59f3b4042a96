/**
 * @file mqtt_counters.h
 * @brief The device_counters MQTT payload (products.md §1).
 */
#ifndef FIRMWARE_CORE_MQTT_MQTT_COUNTERS_H
#define FIRMWARE_CORE_MQTT_MQTT_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

/** Largest device_counters payload (16 keys with 20-digit values fit). */
#define MQTT_DEVICE_COUNTERS_MAX 640

struct mqtt_device_counters {
    uint64_t uptime_s;
    uint32_t gw_ping_pass, gw_ping_fail;
    uint32_t internet_ping_pass, internet_ping_fail;
    uint32_t telegrams_pass, telegrams_fail, telegrams_frame_fail;
    uint32_t mqtt_event_errors, mqtt_event_connect;
    uint32_t mqtt_send_pass, mqtt_send_fail;
    uint32_t heap_free, heap_min_free, heap_largest_free, heap_failed_allocs;
};

/**
 * Write the device_counters JSON object for @p c into @p buf: keys uptime,
 * gw_ping_pass, gw_ping_fail, internet_ping_pass, internet_ping_fail,
 * telegrams_pass, telegrams_fail, telegrams_frame_fail, mqtt_event_errors,
 * mqtt_event_connect, mqtt_send_pass, mqtt_send_fail, heap_free,
 * heap_min_free, heap_largest_free, heap_failed_allocs (integers).
 * @param buf NULL to get the size needed
 * @return bytes written (no NUL counted; a NUL follows when it fits)
 * @retval ML_ENOSPC @p cap too small (nothing useful in @p buf)
 */
int mqtt_device_counters_build(const struct mqtt_device_counters *c, char *buf, size_t cap);

#endif /* FIRMWARE_CORE_MQTT_MQTT_COUNTERS_H */

/*
 * MQTT on the MPS2-AN386 port: not yet (it needs the network, which arrives
 * with the AT co-processor client). Starting reports ML_ENOSYS; the state
 * stays HAL_MQTT_DISABLED and publishes are refused and counted.
 */
#include "hal_mqtt.h"

#include "err.h"

static struct hal_mqtt_stats S;

int hal_mqtt_start(const struct hal_mqtt_cfg *cfg)
{
    (void)cfg;
    return ML_ENOSYS;
}

void hal_mqtt_stop(void)
{
}

enum hal_mqtt_state hal_mqtt_get_state(void)
{
    return HAL_MQTT_DISABLED;
}

int hal_mqtt_publish(const char *topic, const void *payload, size_t len)
{
    (void)topic;
    (void)payload;
    (void)len;
    S.send_fail++;
    return ML_EAGAIN;
}

void hal_mqtt_get_stats(struct hal_mqtt_stats *out)
{
    *out = S;
}

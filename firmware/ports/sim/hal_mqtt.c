/*
 * Sim MQTT: placeholder until the Smart Connect issue brings the libmosquitto
 * transport. Every call reports "not supported", honestly.
 */
#include "hal_mqtt.h"

#include <string.h>

#include "err.h"
#include "sim_priv.h"

static struct hal_mqtt_stats stats;

void sim_mqtt_reset(void)
{
    memset(&stats, 0, sizeof stats);
}

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
    stats.send_fail++;
    return ML_EAGAIN;
}

void hal_mqtt_get_stats(struct hal_mqtt_stats *out)
{
    *out = stats;
}

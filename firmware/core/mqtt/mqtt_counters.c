#include "mqtt_counters.h"

#include "err.h"
#include "text.h"

static void field(struct ml_text *o, const char *key, uint64_t v, int first)
{
    ml_text_put(o, first ? "{\"" : ",\"");
    ml_text_put(o, key);
    ml_text_put(o, "\":");
    ml_text_u64(o, v);
}

int mqtt_device_counters_build(const struct mqtt_device_counters *c, char *buf, size_t cap)
{
    struct ml_text o;
    ml_text_init(&o, buf, cap);
    field(&o, "uptime", c->uptime_s, 1);
    field(&o, "gw_ping_pass", c->gw_ping_pass, 0);
    field(&o, "gw_ping_fail", c->gw_ping_fail, 0);
    field(&o, "internet_ping_pass", c->internet_ping_pass, 0);
    field(&o, "internet_ping_fail", c->internet_ping_fail, 0);
    field(&o, "telegrams_pass", c->telegrams_pass, 0);
    field(&o, "telegrams_fail", c->telegrams_fail, 0);
    field(&o, "telegrams_frame_fail", c->telegrams_frame_fail, 0);
    field(&o, "mqtt_event_errors", c->mqtt_event_errors, 0);
    field(&o, "mqtt_event_connect", c->mqtt_event_connect, 0);
    field(&o, "mqtt_send_pass", c->mqtt_send_pass, 0);
    field(&o, "mqtt_send_fail", c->mqtt_send_fail, 0);
    field(&o, "heap_free", c->heap_free, 0);
    field(&o, "heap_min_free", c->heap_min_free, 0);
    field(&o, "heap_largest_free", c->heap_largest_free, 0);
    field(&o, "heap_failed_allocs", c->heap_failed_allocs, 0);
    ml_text_put(&o, "}");
    return ml_text_end(&o);
}

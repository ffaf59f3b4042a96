#include "mqtt_counters.h"

#include "err.h"

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *s)
{
    for (; *s != '\0'; s++) {
        if (o->buf != NULL && o->len < o->cap) {
            o->buf[o->len] = *s;
        }
        o->len++;
    }
}

static void put_u64(struct out *o, uint64_t v)
{
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    char s[22];
    for (int i = 0; i < n; i++) {
        s[i] = tmp[n - 1 - i];
    }
    s[n] = '\0';
    put(o, s);
}

static void field(struct out *o, const char *key, uint64_t v, int first)
{
    put(o, first ? "{\"" : ",\"");
    put(o, key);
    put(o, "\":");
    put_u64(o, v);
}

int mqtt_device_counters_build(const struct mqtt_device_counters *c, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
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
    put(&o, "}");
    if (buf == NULL) {
        return (int)o.len;
    }
    if (o.len >= cap) {
        return ML_ENOSPC;
    }
    buf[o.len] = '\0';
    return (int)o.len;
}

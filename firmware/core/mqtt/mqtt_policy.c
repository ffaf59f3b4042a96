#include "mqtt_policy.h"

#include "err.h"
#include "str.h"

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static bool is_ipv6_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
}

int mqtt_broker_url_parse(const char *url, size_t len, struct mqtt_broker *out)
{
    ML_VERIFY(url != NULL, ML_EINVAL);
    size_t i;
    bool tls;
    uint32_t port;
    if (ml_str_starts_n(url, len, "mqtts://")) {
        i = 8;
        tls = true;
        port = MQTT_PORT_TLS;
    } else if (ml_str_starts_n(url, len, "mqtt://")) {
        i = 7;
        tls = false;
        port = MQTT_PORT_PLAIN;
    } else {
        return ML_EINVAL;
    }
    size_t h0, h1; /* the host is url[h0, h1) */
    if (i < len && url[i] == '[') {
        h0 = ++i;
        while (i < len && is_ipv6_char(url[i])) {
            i++;
        }
        h1 = i;
        ML_VERIFY(i < len && url[i] == ']' && h1 > h0, ML_EINVAL);
        i++;
    } else {
        h0 = i;
        while (i < len && is_name_char(url[i])) {
            i++;
        }
        h1 = i;
        ML_VERIFY(h1 > h0 && url[h0] != '.' && url[h0] != '-' && url[h1 - 1u] != '.', ML_EINVAL);
    }
    ML_VERIFY(h1 - h0 < MQTT_HOST_MAX, ML_EINVAL);
    if (i < len && url[i] == ':') {
        size_t p0 = ++i;
        port = 0;
        while (i < len && url[i] >= '0' && url[i] <= '9' && i - p0 < 5u) {
            port = port * 10u + (uint32_t)(url[i] - '0');
            i++;
        }
        ML_VERIFY(i > p0 && url[p0] != '0' && port <= 65535u, ML_EINVAL);
    }
    if (i < len && url[i] == '/') {
        i++;
    }
    ML_VERIFY(i == len, ML_EINVAL);
    if (out != NULL) {
        (void)ml_str_copy_n(out->host, sizeof out->host, url + h0, h1 - h0);
        out->port = (uint16_t)port;
        out->tls = tls || port == MQTT_PORT_TLS;
    }
    return ML_OK;
}

void mqtt_backoff_reset(struct mqtt_backoff *b)
{
    b->delay_ms = MQTT_BACKOFF_MIN_MS;
}

uint32_t mqtt_backoff_next(struct mqtt_backoff *b)
{
    uint32_t d = b->delay_ms < MQTT_BACKOFF_MIN_MS ? MQTT_BACKOFF_MIN_MS : b->delay_ms;
    b->delay_ms = d >= MQTT_BACKOFF_MAX_MS / 2u ? MQTT_BACKOFF_MAX_MS : d * 2u;
    return d;
}

const char *mqtt_state_name(int state)
{
    static const char *const names[] = {"disabled", "connecting", "connected", "auth_failed"};
    return state >= 0 && state < 4 ? names[state] : "?";
}

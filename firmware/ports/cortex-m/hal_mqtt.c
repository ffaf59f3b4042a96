/*
 * MQTT on the MPS2-AN386 port: ESP-AT's MQTT client on the network
 * co-processor (AT+MQTTUSERCFG / AT+MQTTCONN / AT+MQTTPUBRAW), driven by
 * core/esp_at (the client instance lives in hal_net.c).
 *
 * TLS material: a device keeps its CA, client certificate and key in the
 * co-processor's manufacturing partition (ESP-AT CA_ID 0, cert_key_ID 0,
 * written at production with AT+SYSMFG), not in files. The paths in
 * hal_mqtt_cfg therefore only select the scheme: mqtts with cert_file (and
 * key_file) is mutual TLS (scheme 5), mqtts without it verifies the broker
 * (scheme 3), mqtt is plain TCP (scheme 1). The AT emulator maps the
 * partition to host PEM files (ml_at_emu_opts).
 *
 * Limit: ESP-AT reports a refused CONNECT like any other failed connect, so
 * this port never shows HAL_MQTT_AUTH_FAILED; refused credentials stay in
 * CONNECTING with errors counted (docs/esp-at.md).
 */
#include "hal_mqtt.h"

#include "err.h"
#include "esp_at/esp_at.h"

/* Port internal from hal_net.c. */
struct ml_esp_at *cm_net_at(void);

static uint32_t send_pass, send_fail;

static bool set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static bool prefix(const char *s, const char *p, size_t *n)
{
    size_t i = 0;
    for (; p[i] != '\0'; i++) {
        if (s[i] != p[i]) {
            return false;
        }
    }
    *n = i;
    return true;
}

/* mqtt://host[:port][/] or mqtts://...; host a name, IPv4 or [IPv6]. */
static int url_parse(const char *url, char *host, size_t cap, uint16_t *port, bool *tls)
{
    size_t i;
    ML_VERIFY(url != NULL, ML_EINVAL);
    if (prefix(url, "mqtts://", &i)) {
        *tls = true;
        *port = 8883u;
    } else if (prefix(url, "mqtt://", &i)) {
        *tls = false;
        *port = 1883u;
    } else {
        return ML_EINVAL;
    }
    size_t h = 0;
    if (url[i] == '[') {
        i++;
        while (url[i] != ']' && url[i] != '\0') {
            ML_VERIFY(h + 1u < cap, ML_EINVAL);
            host[h++] = url[i++];
        }
        ML_VERIFY(url[i] == ']', ML_EINVAL);
        i++;
    } else {
        while (url[i] != ':' && url[i] != '/' && url[i] != '\0') {
            char c = url[i];
            ML_VERIFY(c > ' ' && c != '"' && c != '@' && c != '?', ML_EINVAL);
            ML_VERIFY(h + 1u < cap, ML_EINVAL);
            host[h++] = url[i++];
        }
    }
    ML_VERIFY(h > 0u, ML_EINVAL);
    host[h] = '\0';
    if (url[i] == ':') {
        uint32_t p = 0;
        i++;
        ML_VERIFY(url[i] >= '0' && url[i] <= '9', ML_EINVAL);
        while (url[i] >= '0' && url[i] <= '9') {
            p = p * 10u + (uint32_t)(url[i++] - '0');
            ML_VERIFY(p <= 65535u, ML_EINVAL);
        }
        ML_VERIFY(p > 0u, ML_EINVAL);
        *port = (uint16_t)p;
    }
    if (url[i] == '/') {
        i++;
    }
    ML_VERIFY(url[i] == '\0', ML_EINVAL);
    return ML_OK;
}

int hal_mqtt_start(const struct hal_mqtt_cfg *cfg)
{
    char host[64];
    uint16_t port;
    bool tls;
    ML_VERIFY(cfg != NULL, ML_EINVAL);
    int err = url_parse(cfg->url, host, sizeof host, &port, &tls);
    if (err < 0) {
        return err;
    }
    ML_VERIFY(!set(cfg->cert_file) || set(cfg->key_file), ML_EINVAL);
    enum ml_esp_at_mqtt_scheme scheme = ML_ESP_AT_MQTT_TCP;
    if (tls) {
        scheme = set(cfg->cert_file) ? ML_ESP_AT_MQTT_TLS_MUTUAL : ML_ESP_AT_MQTT_TLS_VERIFY_SERVER;
    }
    struct ml_esp_at_mqtt_cfg c = {scheme,         host,          port,
                                   cfg->client_id, cfg->username, cfg->password};
    return ml_esp_at_mqtt_start(cm_net_at(), &c);
}

void hal_mqtt_stop(void)
{
    ml_esp_at_mqtt_stop(cm_net_at());
}

enum hal_mqtt_state hal_mqtt_get_state(void)
{
    switch (ml_esp_at_mqtt_state(cm_net_at())) {
    case ML_ESP_AT_MQTT_CONNECTING:
        return HAL_MQTT_CONNECTING;
    case ML_ESP_AT_MQTT_CONNECTED:
        return HAL_MQTT_CONNECTED;
    default:
        return HAL_MQTT_DISABLED;
    }
}

int hal_mqtt_publish(const char *topic, const void *payload, size_t len)
{
    int rc = topic == NULL ? ML_EINVAL : ml_esp_at_mqtt_publish(cm_net_at(), topic, payload, len);
    if (rc == ML_OK) {
        send_pass++;
    } else {
        send_fail++;
    }
    return rc;
}

void hal_mqtt_get_stats(struct hal_mqtt_stats *out)
{
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(cm_net_at(), &s);
    out->connects = s.mqtt_connects;
    out->errors = s.mqtt_errors;
    out->send_pass = send_pass;
    out->send_fail = send_fail;
}

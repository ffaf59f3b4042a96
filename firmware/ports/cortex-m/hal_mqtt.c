/*
 * MQTT on the MPS2-AN386 port: ESP-AT's MQTT client on the network
 * co-processor (AT+MQTTUSERCFG / AT+MQTTCONN / AT+MQTTPUBRAW), driven by
 * core/esp_at (the client instance lives in hal_net.c).
 *
 * TLS material: a device keeps its CA, client certificate and key in the
 * co-processor's manufacturing partition (ESP-AT CA_ID 0, cert_key_ID 0,
 * written at production with AT+SYSMFG), not in files. The paths in
 * hal_mqtt_cfg therefore only select the scheme: a TLS broker (mqtts:// or
 * port 8883, core/mqtt's rule) with cert_file (and key_file) is mutual TLS
 * (scheme 5), without it the broker is verified (scheme 3); any other broker
 * is plain TCP (scheme 1). The AT emulator maps the
 * partition to host PEM files (ml_at_emu_opts).
 *
 * Limit: ESP-AT reports a refused CONNECT like any other failed connect, so
 * this port never shows HAL_MQTT_AUTH_FAILED; refused credentials stay in
 * CONNECTING with errors counted (docs/esp-at.md).
 */
#include "hal_mqtt.h"

#include "err.h"
#include "esp_at/esp_at.h"
#include "mqtt/mqtt_policy.h"
#include "str.h"

/* Port internal from hal_net.c. */
struct ml_esp_at *cm_net_at(void);

static uint32_t send_pass, send_fail;

static bool set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int hal_mqtt_start(const struct hal_mqtt_cfg *cfg)
{
    struct mqtt_broker b;
    ML_VERIFY(cfg != NULL && cfg->url != NULL, ML_EINVAL);
    int err = mqtt_broker_url_parse(cfg->url, ml_str_len(cfg->url), &b);
    if (err < 0) {
        return err;
    }
    ML_VERIFY(!set(cfg->cert_file) || set(cfg->key_file), ML_EINVAL);
    enum ml_esp_at_mqtt_scheme scheme = ML_ESP_AT_MQTT_TCP;
    if (b.tls) {
        scheme = set(cfg->cert_file) ? ML_ESP_AT_MQTT_TLS_MUTUAL : ML_ESP_AT_MQTT_TLS_VERIFY_SERVER;
    }
    struct ml_esp_at_mqtt_cfg c = {scheme,         b.host,        b.port,
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

/* AT+MQTTSUB / +MQTTSUBRECV through core/esp_at: the client keeps received messages
 * (ML_MQTT_RX_BYTES) until taken, like the sim port (docs/esp-at.md). */
int hal_mqtt_subscribe(const char *filter)
{
    ML_VERIFY(filter != NULL, ML_EINVAL);
    return ml_esp_at_mqtt_subscribe(cm_net_at(), filter);
}

int hal_mqtt_receive(char *topic, size_t topic_cap, uint8_t *payload, size_t cap, size_t *len)
{
    return ml_esp_at_mqtt_receive(cm_net_at(), topic, topic_cap, payload, cap, len);
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

/*
 * The Smart Connect's MQTT over TLS: server certificate checked against the
 * test CA, mutual TLS with a device certificate whose CN is the serial number
 * (products.md §1), and refusal without a client certificate. A real broker
 * with openssl-generated certificates; a plain observer port for the check.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml_broker.h"
#include "ml_devices.h"
#include "ml_mqtt_sub.h"
#include "ml_test.h"

#define SERIAL "SC87654321"

static struct ml_broker broker;
static uint8_t *tel;
static size_t tel_len;

/* Copy a path into a settings field; a path that does not fit fails the test. */
static void set_path(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    CU_ASSERT_FATAL(n < cap);
    memcpy(dst, src, n + 1);
}

static void start(bool with_client_cert)
{
    struct sc_settings s;
    sc_settings_defaults(&s);
    s.modbus_port = 0;
    s.mqtt_enabled = true;
    set_path(s.mqtt_url, sizeof s.mqtt_url, broker.url);
    set_path(s.mqtt_ca_file, sizeof s.mqtt_ca_file, broker.ca_file);
    if (with_client_cert) {
        set_path(s.mqtt_cert_file, sizeof s.mqtt_cert_file, broker.client_cert);
        set_path(s.mqtt_key_file, sizeof s.mqtt_key_file, broker.client_key);
    }
    snprintf(s.mqtt_site, sizeof s.mqtt_site, "lab");
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL,
                             .utc_at_start = 1767225600,
                             .serial = SERIAL,
                             .label_password = "abcd2345"};
    CU_ASSERT_EQUAL_FATAL(ml_dev_sc_start(&s, &cfg), 0);
    sim_advance_ms(1000); /* DHCP lease, then the MQTT connect starts */
}

/* The TLS handshake runs over real loopback while virtual time stands still. */
static enum hal_mqtt_state wait_state(enum hal_mqtt_state want)
{
    enum hal_mqtt_state st = HAL_MQTT_DISABLED;
    for (int i = 0; i < 1000; i++) {
        sim_wait_idle();
        st = ml_dev_sc_app()->status.mqtt;
        if (st == want) {
            break;
        }
        usleep(10000);
        if (i % 100 == 99) {
            sim_advance_ms(1000); /* let a back-off retry come due */
        }
    }
    return st;
}

static void test_sc_tls_mutual_tls_publishes(void)
{
    struct ml_mqtt_sub *sub = ml_mqtt_sub_start(broker.obs_port, "devices/lab/#", 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sub);
    start(true);
    CU_ASSERT_EQUAL_FATAL(wait_state(HAL_MQTT_CONNECTED), HAL_MQTT_CONNECTED);
    sim_uart_inject(HAL_UART_P1_IN, tel, tel_len);
    sim_wait_idle();
    /* device_counters after the connect, then power_instant for the telegram */
    CU_ASSERT_TRUE(ml_mqtt_sub_wait(sub, 2, 10000));
    bool seen = false;
    for (size_t i = 0; i < ml_mqtt_sub_count(sub); i++) {
        struct ml_mqtt_msg m;
        ml_mqtt_sub_get(sub, i, &m);
        if (strcmp(m.topic, "devices/lab/smart-connect/" SERIAL "/data/power_instant") == 0) {
            cJSON *o = cJSON_Parse(m.payload);
            CU_ASSERT_PTR_NOT_NULL_FATAL(o);
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "P");
            CU_ASSERT_TRUE(cJSON_IsNumber(p) && p->valuedouble == 1193.0);
            cJSON_Delete(o);
            seen = true;
        }
    }
    CU_ASSERT_TRUE(seen);
    ml_mqtt_sub_stop(sub);
    ml_dev_sc_stop();
    /* the broker authenticated the device by its certificate: CN = serial */
    FILE *f = fopen(broker.log_file, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[512];
    bool cn = false;
    while (fgets(line, sizeof line, f) != NULL) {
        cn |= strstr(line, "u'" SERIAL "'") != NULL || strstr(line, "u '" SERIAL "'") != NULL ||
              (strstr(line, SERIAL) != NULL && strstr(line, "New client connected") != NULL);
    }
    fclose(f);
    CU_ASSERT_TRUE(cn);
}

static void test_sc_tls_refused_without_client_certificate(void)
{
    start(false);
    /* wait (bounded, real time) until the broker's refusal has been counted */
    struct hal_mqtt_stats ms = {0, 0, 0, 0};
    for (int i = 0; i < 1000 && ms.errors == 0; i++) {
        sim_wait_idle();
        hal_mqtt_get_stats(&ms);
        usleep(10000);
    }
    CU_ASSERT_TRUE(ms.errors >= 1);
    CU_ASSERT_EQUAL(ms.connects, 0);
    CU_ASSERT_NOT_EQUAL(ml_dev_sc_app()->status.mqtt, HAL_MQTT_CONNECTED);
    ml_dev_sc_stop();
}

int main(void)
{
    tel = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt", &tel_len);
    struct ml_broker_opts opts = {.tls = true, .require_cert = true, .client_cn = SERIAL};
    if (tel == NULL || ml_broker_start(&broker, &opts) != 0) {
        fprintf(stderr, "cannot start the TLS broker\n");
        return 1;
    }
    static const struct ml_test_case cases[] = {
        {"test_sc_tls_mutual_tls_publishes", test_sc_tls_mutual_tls_publishes},
        {"test_sc_tls_refused_without_client_certificate",
         test_sc_tls_refused_without_client_certificate},
    };
    int rc = ml_test_run("smart_connect_tls", cases, sizeof cases / sizeof cases[0], NULL, NULL);
    ml_broker_destroy(&broker);
    free(tel);
    return rc;
}

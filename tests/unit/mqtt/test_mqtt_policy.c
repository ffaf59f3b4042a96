/*
 * Unit tests for core/mqtt's connection policy: the broker URL grammar and its
 * TLS rule (port 8883 or mqtts:// is TLS), the reconnect back-off, the state
 * names. Expected values are written out from the rules in mqtt_policy.h.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "ml_test.h"
#include "mqtt/mqtt_policy.h"

static int parse(const char *url, struct mqtt_broker *b)
{
    memset(b, 0x5A, sizeof *b);
    return mqtt_broker_url_parse(url, strlen(url), b);
}

static void test_mqtt_policy_tls_rule(void)
{
    static const struct {
        const char *url;
        const char *host;
        uint16_t port;
        bool tls;
    } ok[] = {
        {"mqtt://127.0.0.1", "127.0.0.1", 1883, false},
        {"mqtt://broker.lan:1884/", "broker.lan", 1884, false},
        /* the manual's own default form: port 8883 is TLS even as mqtt:// */
        {"mqtt://broker.xemex-cloud.eu:8883", "broker.xemex-cloud.eu", 8883, true},
        {"mqtts://broker.xemex-cloud.eu:8883", "broker.xemex-cloud.eu", 8883, true},
        {"mqtts://b", "b", 8883, true},
        {"mqtts://b:1883", "b", 1883, true}, /* mqtts:// is TLS on any port */
        {"mqtt://[::1]:8883", "::1", 8883, true},
        {"mqtt://[fe80::1]", "fe80::1", 1883, false},
        {"mqtt://my_host-1:65535", "my_host-1", 65535, false},
    };
    for (size_t i = 0; i < ML_ARRAY_SIZE(ok); i++) {
        struct mqtt_broker b;
        CU_ASSERT_EQUAL(parse(ok[i].url, &b), ML_OK);
        CU_ASSERT_STRING_EQUAL(b.host, ok[i].host);
        CU_ASSERT_EQUAL(b.port, ok[i].port);
        CU_ASSERT_EQUAL(b.tls, ok[i].tls);
    }
}

static void test_mqtt_policy_bad_urls_refused(void)
{
    static const char *const bad[] = {
        "",
        "mqtt://",
        "http://broker:1883",
        "MQTT://broker",
        "tcp://broker:1883",
        "mqtt:/broker",
        "mqtt://user:pw@broker",
        "mqtt://broker/topic",
        "mqtt://broker?x=1",
        "mqtt://broker:",
        "mqtt://broker:0",
        "mqtt://broker:01883",
        "mqtt://broker:65536",
        "mqtt://broker:123456",
        "mqtt://broker:1883x",
        "mqtt://.broker",
        "mqtt://-broker",
        "mqtt://broker.",
        "mqtt://bro ker",
        "mqtt://[::1",
        "mqtt://[]",
        "mqtt://[::g]",
        "mqtt://broker//",
    };
    for (size_t i = 0; i < ML_ARRAY_SIZE(bad); i++) {
        struct mqtt_broker b;
        int rc = parse(bad[i], &b);
        if (rc != ML_EINVAL) {
            fprintf(stderr, "accepted: '%s'\n", bad[i]);
        }
        CU_ASSERT_EQUAL(rc, ML_EINVAL);
    }
    /* a host that does not fit is refused, not cut */
    char url[8 + MQTT_HOST_MAX + 1];
    memcpy(url, "mqtt://", 7);
    memset(url + 7, 'a', MQTT_HOST_MAX);
    url[7 + MQTT_HOST_MAX] = '\0';
    struct mqtt_broker b;
    CU_ASSERT_EQUAL(parse(url, &b), ML_EINVAL);
    url[7 + MQTT_HOST_MAX - 1] = '\0';
    CU_ASSERT_EQUAL(parse(url, &b), ML_OK);
    /* only len bytes are read; NULL out only checks */
    CU_ASSERT_EQUAL(mqtt_broker_url_parse("mqtt://a:1883junk", 13, NULL), ML_OK);
    CU_ASSERT_EQUAL(mqtt_broker_url_parse(NULL, 0, NULL), ML_EINVAL);
}

static void test_mqtt_policy_backoff_doubles_to_60s_and_resets(void)
{
    static const uint32_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    struct mqtt_backoff b;
    mqtt_backoff_reset(&b);
    for (size_t i = 0; i < ML_ARRAY_SIZE(want); i++) {
        CU_ASSERT_EQUAL(mqtt_backoff_next(&b), want[i]);
    }
    mqtt_backoff_reset(&b);
    CU_ASSERT_EQUAL(mqtt_backoff_next(&b), 1000);
}

static void test_mqtt_policy_state_names(void)
{
    CU_ASSERT_STRING_EQUAL(mqtt_state_name(0), "disabled");
    CU_ASSERT_STRING_EQUAL(mqtt_state_name(1), "connecting");
    CU_ASSERT_STRING_EQUAL(mqtt_state_name(2), "connected");
    CU_ASSERT_STRING_EQUAL(mqtt_state_name(3), "auth_failed");
    CU_ASSERT_STRING_EQUAL(mqtt_state_name(4), "?");
    CU_ASSERT_STRING_EQUAL(mqtt_state_name(-1), "?");
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_mqtt_policy_tls_rule", test_mqtt_policy_tls_rule},
        {"test_mqtt_policy_bad_urls_refused", test_mqtt_policy_bad_urls_refused},
        {"test_mqtt_policy_backoff_doubles_to_60s_and_resets",
         test_mqtt_policy_backoff_doubles_to_60s_and_resets},
        {"test_mqtt_policy_state_names", test_mqtt_policy_state_names},
    };
    return ml_test_run("mqtt_policy", cases, ML_ARRAY_SIZE(cases), NULL, NULL);
}

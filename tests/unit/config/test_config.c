/*
 * Tests of the configuration model: defaults, GET rendering, PATCH (partial,
 * strict, all-or-nothing), the binary form, and hostile JSON.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "config/cfg.h"
#include "err.h"
#include "ml_test.h"

/* Field-wise equality through the canonical binary form (padding bytes of
 * struct cfg are not copied by struct assignment, so memcmp would lie). */
static int same_cfg(const struct cfg *a, const struct cfg *b)
{
    uint8_t ba[CFG_BLOB_MAX];
    uint8_t bb[CFG_BLOB_MAX];
    int na = cfg_encode(a, ba, sizeof ba);
    int nb = cfg_encode(b, bb, sizeof bb);
    return na > 0 && na == nb && memcmp(ba, bb, (size_t)na) == 0;
}

static bool meter_ok(const char *name, size_t len)
{
    static const char *const known[] = {"PhoenixContact-EMPro", "Eastron-SDM630"};
    for (size_t i = 0; i < ML_ARRAY_SIZE(known); i++) {
        if (strlen(known[i]) == len && memcmp(known[i], name, len) == 0) {
            return true;
        }
    }
    return false;
}

static struct cfg cfg;
static struct cfg_error err;

static void setup(void)
{
    cfg_defaults(&cfg);
    memset(&err, 0, sizeof err);
}

static void teardown(void)
{
    /* invariant: whatever happened, the configuration is valid */
    CU_ASSERT_EQUAL(cfg_validate(&cfg, meter_ok, NULL), 0);
}

static int patch(const char *json)
{
    return cfg_json_patch(&cfg, json, strlen(json), meter_ok, &err);
}

/* Every rejected patch leaves the configuration bit-for-bit unchanged. */
static void expect_reject(const char *json, const char *field)
{
    struct cfg before = cfg;
    int rc = patch(json);
    CU_ASSERT(rc == ML_EINVAL || rc == ML_EMSGSIZE);
    CU_ASSERT(same_cfg(&before, &cfg));
    if (field != NULL && strcmp(err.field, field) != 0) {
        fprintf(stderr, "\n  %s -> field '%s' (%s), expected '%s'\n", json, err.field, err.reason,
                field);
        CU_FAIL("wrong field");
    }
}

static void test_config_defaults_render_as_manual_keys(void)
{
    char out[1024];
    int n = cfg_json_render(&cfg, out, sizeof out);
    CU_ASSERT_FATAL(n > 0);
    cJSON *j = cJSON_Parse(out);
    CU_ASSERT_FATAL(j != NULL);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "MeterType")->valuestring,
                           "PhoenixContact-EMPro");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "DefaultNetIf")->valuestring, "Ethernet");
    cJSON *eth = cJSON_GetObjectItem(j, "Ethernet");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(eth, "IpMode")->valuestring, "DHCP");
    cJSON *st = cJSON_GetObjectItem(eth, "StaticIPv4");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(st, "Netmask")->valuestring, "24");
    cJSON *mq = cJSON_GetObjectItem(j, "MQTT");
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(mq, "Enable")));
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(mq, "Broker")->valuestring, CFG_DEFAULT_BROKER);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(mq, "Password")->valuestring, "");
    cJSON_Delete(j);
    /* too small a buffer */
    CU_ASSERT_EQUAL(cfg_json_render(&cfg, out, 10), ML_ENOSPC);
    CU_ASSERT_EQUAL(cfg_json_render(&cfg, out, (size_t)n), ML_ENOSPC);
    CU_ASSERT_EQUAL(cfg_json_render(&cfg, out, (size_t)n + 1), n);
}

static void test_config_manual_examples_apply(void)
{
    CU_ASSERT_EQUAL(patch("{\"MQTT\":{\"Broker\":\"mqtt://broker.xemex-cloud.eu:8883\","
                          "\"Site\":\"site-new\",\"Username\":\"user-new\","
                          "\"Password\":\"newpassword\"}}"),
                    0);
    CU_ASSERT_STRING_EQUAL(cfg.mqtt_site, "site-new");
    CU_ASSERT_STRING_EQUAL(cfg.mqtt_password, "newpassword");
    CU_ASSERT_EQUAL(patch("{\n  \"DefaultNetIf\": \"WiFi\",\n  \"WiFi\": {\n"
                          "    \"ConnectionData\": {\"WiFiSSID\": \"XemexTesting\",\n"
                          "      \"WiFiPassword\": \"Xem3x123\"},\n    \"IpMode\": \"DHCP\"\n"
                          "  }\n}"),
                    0);
    CU_ASSERT_EQUAL(cfg.netif, CFG_NETIF_WIFI);
    CU_ASSERT_STRING_EQUAL(cfg.wifi_ssid, "XemexTesting");
    CU_ASSERT_EQUAL(patch("{\"MeterType\":\"PhoenixContact-EMPro\",\"Ethernet\":{\"IpMode\":"
                          "\"Static\",\"StaticIPv4\":{\"IpAddress\":\"192.168.10.101\","
                          "\"Netmask\":\"24\",\"Gateway\":\"192.168.10.1\",\"DNS\":"
                          "\"192.168.10.1\"}}}"),
                    0);
    CU_ASSERT_EQUAL(cfg.eth.mode, CFG_IP_STATIC);
    CU_ASSERT_EQUAL(cfg.eth.st.ip, 0xC0A80A65u);
    CU_ASSERT_EQUAL(cfg.eth.st.prefix, 24);
    CU_ASSERT_EQUAL(cfg.eth.st.gateway, 0xC0A80A01u);
    /* the rest stayed */
    CU_ASSERT_STRING_EQUAL(cfg.mqtt_site, "site-new");
    CU_ASSERT_EQUAL(cfg.netif, CFG_NETIF_WIFI);
}

static void test_config_passwords_masked_and_round_trip(void)
{
    CU_ASSERT_EQUAL(patch("{\"MQTT\":{\"Password\":\"s3cret\"},\"WiFi\":{\"ConnectionData\":"
                          "{\"WiFiSSID\":\"x\",\"WiFiPassword\":\"longenough\"}}}"),
                    0);
    char out[1024];
    CU_ASSERT(cfg_json_render(&cfg, out, sizeof out) > 0);
    CU_ASSERT(strstr(out, "s3cret") == NULL);
    CU_ASSERT(strstr(out, "longenough") == NULL);
    CU_ASSERT(strstr(out, "\"Password\":\"********\"") != NULL);
    /* PATCHing back what GET returned changes nothing */
    struct cfg before = cfg;
    CU_ASSERT_EQUAL(patch(out), 0);
    CU_ASSERT(same_cfg(&before, &cfg));
    /* "" clears */
    CU_ASSERT_EQUAL(patch("{\"MQTT\":{\"Password\":\"\"}}"), 0);
    CU_ASSERT_STRING_EQUAL(cfg.mqtt_password, "");
}

static void test_config_bad_json_names_nothing_changes(void)
{
    expect_reject("", "");
    expect_reject("{", "");
    expect_reject("{\"MQTT\":}", "");
    expect_reject("{\"MQTT\":{\"Site\":\"a\"}} x", "");
    expect_reject("{\"MQTT\":{\"Site\":\"a\",}}", "");
    expect_reject("{'MQTT':1}", "");
    expect_reject("[1,2]", "");
    expect_reject("\"str\"", "");
    expect_reject("{\"MQTT\":{\"Site\":\"a\001\"}}", ""); /* raw control char */
    expect_reject("{\"MQTT\":{\"Site\":\"\\x\"}}", "");
    expect_reject("{\"a\":01}", "");
    expect_reject("{\"a\":[[[[[[[[[[1]]]]]]]]]]}", "");
}

static void test_config_unknown_keys_and_wrong_types(void)
{
    expect_reject("{\"Foo\":1}", "Foo");
    expect_reject("{\"MQTT\":{\"Brokr\":\"mqtt://a\"}}", "MQTT.Brokr");
    expect_reject("{\"Ethernet\":{\"ConnectionData\":{}}}", "Ethernet.ConnectionData");
    expect_reject("{\"MQTT\":{\"Site\":\"ok\",\"Foo\":1}}", "MQTT.Foo");
    expect_reject("{\"MQTT\":\"x\"}", "MQTT");
    expect_reject("{\"MQTT\":{\"Enable\":\"true\"}}", "MQTT.Enable");
    expect_reject("{\"MQTT\":{\"Site\":5}}", "MQTT.Site");
    expect_reject("{\"MeterType\":null}", "MeterType");
    expect_reject("{\"Ethernet\":{\"StaticIPv4\":{\"Netmask\":24}}}",
                  "Ethernet.StaticIPv4.Netmask");
    /* a good field before a bad one is not applied either */
    expect_reject("{\"MQTT\":{\"Site\":\"changed\",\"Broker\":\"http://x\"}}", "MQTT.Broker");
    CU_ASSERT_STRING_EQUAL(cfg.mqtt_site, "");
}

static void test_config_value_validation(void)
{
    const char *bad_ip[] = {"1.2.3",   "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ",
                            "a.b.c.d", "0.0.0.0",   "224.0.0.1", "127.0.0.1"};
    for (size_t i = 0; i < ML_ARRAY_SIZE(bad_ip); i++) {
        char j[160];
        snprintf(j, sizeof j, "{\"WiFi\":{\"StaticIPv4\":{\"IpAddress\":\"%s\"}}}", bad_ip[i]);
        expect_reject(j, "WiFi.StaticIPv4.IpAddress");
    }
    const char *bad_mask[] = {"0", "33", "024", "255.0.255.0", "x", "", "-1"};
    for (size_t i = 0; i < ML_ARRAY_SIZE(bad_mask); i++) {
        char j[160];
        snprintf(j, sizeof j, "{\"Ethernet\":{\"StaticIPv4\":{\"Netmask\":\"%s\"}}}", bad_mask[i]);
        expect_reject(j, "Ethernet.StaticIPv4.Netmask");
    }
    CU_ASSERT_EQUAL(patch("{\"Ethernet\":{\"StaticIPv4\":{\"Netmask\":\"255.255.240.0\"}}}"), 0);
    CU_ASSERT_EQUAL(cfg.eth.st.prefix, 20);
    const char *bad_url[] = {
        "http://a",   "mqtt://",    "mqtt://a:0", "mqtt://a:65536",
        "mqtt://a b", "mqtt://a/x", "mqtt://-a",  "mqttp://broker.example.com:8883"};
    for (size_t i = 0; i < ML_ARRAY_SIZE(bad_url); i++) {
        char j[160];
        snprintf(j, sizeof j, "{\"MQTT\":{\"Broker\":\"%s\"}}", bad_url[i]);
        expect_reject(j, "MQTT.Broker");
    }
    CU_ASSERT_EQUAL(patch("{\"MQTT\":{\"Broker\":\"mqtt://10.0.0.2:1883/\"}}"), 0);
    expect_reject("{\"MeterType\":\"NoSuchMeter\"}", "MeterType");
    expect_reject("{\"MeterType\":\"\"}", "MeterType");
    expect_reject("{\"DefaultNetIf\":\"ethernet\"}", "DefaultNetIf");
    expect_reject("{\"Ethernet\":{\"IpMode\":\"static\"}}", "Ethernet.IpMode");
    expect_reject("{\"MQTT\":{\"Site\":\"a/b\"}}", "MQTT.Site");
    expect_reject("{\"MQTT\":{\"Site\":\"#\"}}", "MQTT.Site");
    expect_reject("{\"WiFi\":{\"ConnectionData\":{\"WiFiPassword\":\"short\"}}}",
                  "WiFi.ConnectionData.WiFiPassword");
    expect_reject("{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"a\\u0007\"}}}",
                  "WiFi.ConnectionData.WiFiSSID");
    /* the defaults' GET output PATCHes back unchanged (empty SSID, empty IpAddress) */
    char out[1024];
    CU_ASSERT(cfg_json_render(&cfg, out, sizeof out) > 0);
    CU_ASSERT_EQUAL(patch(out), 0);
    /* cross-field rules */
    expect_reject("{\"DefaultNetIf\":\"WiFi\"}", "WiFi.ConnectionData.WiFiSSID");
    expect_reject("{\"Ethernet\":{\"IpMode\":\"Static\"}}", "Ethernet.StaticIPv4.IpAddress");
    expect_reject("{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"\"}}}",
                  "Ethernet.StaticIPv4.IpAddress");
    CU_ASSERT_EQUAL(patch("{\"MeterType\":\"Eastron-SDM630\"}"), 0);
}

static void test_config_overlong_strings(void)
{
    char j[400];
    char s[200];
    memset(s, 'a', sizeof s);
    s[64] = '\0';
    snprintf(j, sizeof j, "{\"MQTT\":{\"Username\":\"%s\"}}", s);
    expect_reject(j, "MQTT.Username");
    s[63] = '\0';
    snprintf(j, sizeof j, "{\"MQTT\":{\"Username\":\"%s\"}}", s);
    CU_ASSERT_EQUAL(patch(j), 0);
    s[33] = '\0';
    snprintf(j, sizeof j, "{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"%s\"}}}", s);
    expect_reject(j, "WiFi.ConnectionData.WiFiSSID");
    memset(s, 'a', sizeof s);
    s[CFG_URL_MAX] = '\0';
    memcpy(s, "mqtt://", 7);
    snprintf(j, sizeof j, "{\"MQTT\":{\"Broker\":\"%s\"}}", s);
    expect_reject(j, "MQTT.Broker");
    /* a document over the input limit or the token limit */
    static char big[CFG_JSON_MAX_INPUT + 10];
    memset(big, ' ', sizeof big);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    CU_ASSERT_EQUAL(patch(big), ML_EMSGSIZE);
    char many[2048] = "{\"MQTT\":{";
    for (int i = 0; i < 100; i++) {
        strcat(many, "\"Site\":\"a\",");
    }
    strcat(many, "\"Site\":\"b\"}}");
    CU_ASSERT_EQUAL(patch(many), ML_EMSGSIZE);
}

static void test_config_escapes_and_unicode(void)
{
    CU_ASSERT_EQUAL(patch("{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"caf\\u00e9 \\\"x\\\" "
                          "\\ud83d\\ude00\"}}}"),
                    0);
    CU_ASSERT_STRING_EQUAL(cfg.wifi_ssid, "caf\xc3\xa9 \"x\" \xf0\x9f\x98\x80");
    char out[1024];
    CU_ASSERT(cfg_json_render(&cfg, out, sizeof out) > 0);
    cJSON *j = cJSON_Parse(out);
    CU_ASSERT_FATAL(j != NULL);
    cJSON *cd = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "WiFi"), "ConnectionData");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(cd, "WiFiSSID")->valuestring, cfg.wifi_ssid);
    cJSON_Delete(j);
    expect_reject("{\"MQTT\":{\"Password\":\"a\\u0000b\"}}", "MQTT.Password");
    expect_reject("{\"MQTT\":{\"Password\":\"\\ud83d\"}}", "MQTT.Password");
    expect_reject("{\"MQTT\":{\"Password\":\"a\\nb\"}}", "MQTT.Password");
    CU_ASSERT_EQUAL(patch("{\"MQTT\":{\"Password\":\"p\\/w\"}}"), 0);
    CU_ASSERT_STRING_EQUAL(cfg.mqtt_password, "p/w");
}

static void test_config_binary_round_trip(void)
{
    CU_ASSERT_EQUAL(patch("{\"DefaultNetIf\":\"WiFi\",\"WiFi\":{\"IpMode\":\"Static\","
                          "\"StaticIPv4\":{\"IpAddress\":\"10.1.2.3\",\"Netmask\":\"8\"},"
                          "\"ConnectionData\":{\"WiFiSSID\":\"net\",\"WiFiPassword\":"
                          "\"12345678\"}},\"MQTT\":{\"Enable\":true,\"Site\":\"s\"}}"),
                    0);
    uint8_t blob[CFG_BLOB_MAX];
    int n = cfg_encode(&cfg, blob, sizeof blob);
    CU_ASSERT_FATAL(n > 0);
    struct cfg back;
    CU_ASSERT_EQUAL(cfg_decode(&back, blob, (size_t)n, meter_ok), 0);
    CU_ASSERT(same_cfg(&back, &cfg));
    CU_ASSERT_EQUAL(cfg_encode(&cfg, blob, 10), ML_ENOSPC);
    /* truncated, extended, wrong version, flipped enum */
    CU_ASSERT_EQUAL(cfg_decode(&back, blob, (size_t)n - 1, meter_ok), ML_EINVAL);
    CU_ASSERT_EQUAL(cfg_decode(&back, blob, (size_t)n + 1, meter_ok), ML_EINVAL);
    blob[0] = 9;
    CU_ASSERT_EQUAL(cfg_decode(&back, blob, (size_t)n, meter_ok), ML_EINVAL);
    /* worst case fits CFG_BLOB_MAX */
    struct cfg big;
    memset(&big, 'a', sizeof big);
    big.mqtt_enable = true; /* a real bool: 'a' is not a valid _Bool (UBSan) */
    big.netif = CFG_NETIF_WIFI;
    big.meter_type[CFG_METER_TYPE_MAX - 1] = 0;
    big.wifi_ssid[CFG_SSID_MAX - 1] = 0;
    big.wifi_password[CFG_WIFI_PSK_MAX - 1] = 0;
    big.mqtt_broker[CFG_URL_MAX - 1] = 0;
    big.mqtt_site[CFG_SITE_MAX - 1] = 0;
    big.mqtt_user[CFG_USER_MAX - 1] = 0;
    big.mqtt_password[CFG_PASSWORD_MAX - 1] = 0;
    CU_ASSERT(cfg_encode(&big, NULL, 0) == ML_ENOSPC);
    uint8_t bb[CFG_BLOB_MAX];
    CU_ASSERT(cfg_encode(&big, bb, sizeof bb) > 0);
}

static void test_config_ipv4_helpers(void)
{
    char b[16];
    uint32_t ip;
    CU_ASSERT_EQUAL(cfg_ipv4_format(0xC0A80001u, b), 11);
    CU_ASSERT_STRING_EQUAL(b, "192.168.0.1");
    CU_ASSERT_EQUAL(cfg_ipv4_parse("255.255.255.255", 15, &ip), 0);
    CU_ASSERT_EQUAL(ip, 0xFFFFFFFFu);
    CU_ASSERT_EQUAL(cfg_prefix_to_mask(24), 0xFFFFFF00u);
    CU_ASSERT_EQUAL(cfg_prefix_to_mask(32), 0xFFFFFFFFu);
    CU_ASSERT_EQUAL(cfg_prefix_to_mask(0), 0);
}

/* A flat object of string members (the MQTT command bodies), with the PATCH tokenizer. */
static void test_config_json_strings(void)
{
    char id[13], url[32];
    struct cfg_json_str f[] = {{"id", id, sizeof id, false}, {"url", url, sizeof url, false}};
    struct cfg_error e;
    const char *ok = " {\"url\":\"http://a\\/b\",\"id\":\"x\\u0041\"} ";
    CU_ASSERT_EQUAL(cfg_json_strings(ok, strlen(ok), f, 2, &e), ML_OK);
    CU_ASSERT_STRING_EQUAL(id, "xA");
    CU_ASSERT_STRING_EQUAL(url, "http://a/b");
    CU_ASSERT_TRUE(f[0].found && f[1].found);
    CU_ASSERT_EQUAL(cfg_json_strings("{}", 2, f, 2, &e), ML_OK);
    CU_ASSERT_TRUE(!f[0].found && !f[1].found && id[0] == '\0' && url[0] == '\0');

    static const struct {
        const char *json, *field, *reason;
    } bad[] = {
        {"{\"uri\":\"x\"}", "uri", "unknown key"},
        {"{\"id\":1}", "id", "must be a string"},
        {"{\"id\":\"0123456789abc\"}", "id", "too long"},
        {"{\"id\":\"a\"", "", "malformed JSON"},
        {"[\"id\"]", "", "must be a JSON object"},
        {"{\"id\":\"a\"} x", "", "malformed JSON"},
        {"{\"id\":\"\\u0000\"}", "id", "invalid string escape"},
    };
    for (size_t i = 0; i < ML_ARRAY_SIZE(bad); i++) {
        CU_ASSERT_EQUAL(cfg_json_strings(bad[i].json, strlen(bad[i].json), f, 2, &e), ML_EINVAL);
        CU_ASSERT_STRING_EQUAL(e.field, bad[i].field);
        CU_ASSERT_STRING_EQUAL(e.reason, bad[i].reason);
    }
    char big[200];
    memset(big, ' ', sizeof big);
    big[0] = '[';
    for (size_t i = 1; i < 100; i++) {
        big[i] = i % 2 ? '1' : ',';
    }
    big[99] = ']';
    CU_ASSERT_EQUAL(cfg_json_strings(big, 100, f, 2, &e), ML_EMSGSIZE); /* 50 tokens > 32 */
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_config_json_strings", test_config_json_strings},
        {"test_config_defaults_render_as_manual_keys", test_config_defaults_render_as_manual_keys},
        {"test_config_manual_examples_apply", test_config_manual_examples_apply},
        {"test_config_passwords_masked_and_round_trip",
         test_config_passwords_masked_and_round_trip},
        {"test_config_bad_json_names_nothing_changes", test_config_bad_json_names_nothing_changes},
        {"test_config_unknown_keys_and_wrong_types", test_config_unknown_keys_and_wrong_types},
        {"test_config_value_validation", test_config_value_validation},
        {"test_config_overlong_strings", test_config_overlong_strings},
        {"test_config_escapes_and_unicode", test_config_escapes_and_unicode},
        {"test_config_binary_round_trip", test_config_binary_round_trip},
        {"test_config_ipv4_helpers", test_config_ipv4_helpers},
    };
    return ml_test_run("config", cases, ML_ARRAY_SIZE(cases), setup, teardown);
}

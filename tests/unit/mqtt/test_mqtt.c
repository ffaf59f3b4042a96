/*
 * Unit tests for core/mqtt: the power_instant field set of products.md §1 (checked
 * with an independent little JSON scanner and against hand-written expected text),
 * number formatting, buffer capacity handling, and the topic.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ml_test.h"
#include "mqtt/mqtt.h"

static char buf[2048];

/* ------------------------------------------------------------------------- */
/* A minimal JSON scanner: flat "key": value pairs, one level of nested objects. */
/* ------------------------------------------------------------------------- */

struct kv {
    char key[24];
    char val[32];
};

/* Collects "outer.inner" keys with their raw values; returns the count or -1. */
static int scan(const char *s, struct kv *kv, int max)
{
    int n = 0;
    char prefix[8] = "";
    if (*s++ != '{') {
        return -1;
    }
    while (*s != '\0') {
        if (*s == '}') {
            if (prefix[0] == '\0') {
                return s[1] == '\0' ? n : -1;
            }
            prefix[0] = '\0';
            s++;
            continue;
        }
        if (*s == ',') {
            s++;
        }
        if (*s++ != '"') {
            return -1;
        }
        const char *k = s;
        while (*s != '"' && *s != '\0') {
            s++;
        }
        int klen = (int)(s - k);
        s++;
        if (*s++ != ':') {
            return -1;
        }
        if (*s == '{') {
            snprintf(prefix, sizeof prefix, "%.*s.", klen, k);
            s++;
            continue;
        }
        const char *v = s;
        while (*s != ',' && *s != '}' && *s != '\0') {
            s++;
        }
        if (n >= max) {
            return -1;
        }
        snprintf(kv[n].key, sizeof kv[n].key, "%s%.*s", prefix, klen, k);
        snprintf(kv[n].val, sizeof kv[n].val, "%.*s", (int)(s - v), v);
        n++;
    }
    return -1;
}

static const char *const expected_keys[] = {
    "ts",       "P",          "P+",    "P-",       "E_IMPORT",   "E_EXPORT", "U12",        "U31",
    "U32",      "Q",          "Q+",    "Q-",       "EQ1",        "EQ2",      "EQ3",        "EQ4",
    "PF",       "S",          "PFAIL", "LPFAIL",   "l1.U",       "l1.I",     "l1.P",       "l1.P+",
    "l1.P-",    "l1.Q",       "l1.Q+", "l1.Q-",    "l1.S",       "l1.VSAGS", "l1.VSWELLS", "l2.U",
    "l2.I",     "l2.P",       "l2.P+", "l2.P-",    "l2.Q",       "l2.Q+",    "l2.Q-",      "l2.S",
    "l2.VSAGS", "l2.VSWELLS", "l3.U",  "l3.I",     "l3.P",       "l3.P+",    "l3.P-",      "l3.Q",
    "l3.Q+",    "l3.Q-",      "l3.S",  "l3.VSAGS", "l3.VSWELLS",
};
#define NKEYS (int)(sizeof expected_keys / sizeof expected_keys[0])

static const char *value_of(const struct kv *kv, int n, const char *key)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(kv[i].key, key) == 0) {
            return kv[i].val;
        }
    }
    return "(missing)";
}

/* ------------------------------------------------------------------------- */

static void test_mqtt_empty_reading_all_null(void)
{
    struct reading r;
    reading_init(&r);
    int n = mqtt_power_instant_build(&r, buf, sizeof buf);
    CU_ASSERT_TRUE_FATAL(n > 0);
    CU_ASSERT_EQUAL((size_t)n, strlen(buf));
    struct kv kv[64];
    int k = scan(buf, kv, 64);
    CU_ASSERT_EQUAL_FATAL(k, NKEYS);
    for (int i = 0; i < NKEYS; i++) {
        CU_ASSERT_STRING_EQUAL(kv[i].key, expected_keys[i]);
        CU_ASSERT_STRING_EQUAL(kv[i].val, "null");
    }
}

/* Values of the DSMR 5.0.2 spec telegram (bench file), set by hand in fixed point. */
static void test_mqtt_power_instant_values(void)
{
    struct reading r;
    reading_init(&r);
    reading_set(&r, READING_TS_UTC, 1291890620);
    reading_set(&r, READING_P_IMP, 1193000);
    reading_set(&r, READING_P_EXP, 0);
    reading_set(&r, READING_E_IMP_T1, 123456789000LL);
    reading_set(&r, READING_E_IMP_T2, 123456789000LL);
    reading_set(&r, READING_PFAIL, 4);
    reading_set(&r, READING_LPFAIL, 2);
    reading_set(&r, READING_L1_U, 220100);
    reading_set(&r, READING_L1_I, 1000);
    reading_set(&r, READING_L1_P_IMP, 1111000);
    reading_set(&r, READING_L1_P_EXP, 4444000);
    reading_set(&r, READING_L1_SAGS, 2);
    reading_set(&r, READING_L2_SWELLS, 3);
    reading_set(&r, READING_PF, -5);
    reading_set(&r, READING_U23, 400050);
    reading_derive(&r);
    int n = mqtt_power_instant_build(&r, buf, sizeof buf);
    CU_ASSERT_TRUE_FATAL(n > 0);
    struct kv kv[64];
    int k = scan(buf, kv, 64);
    CU_ASSERT_EQUAL_FATAL(k, NKEYS);
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "ts"), "1291890620");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "P"), "1193");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "P+"), "1193");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "P-"), "0");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "E_IMPORT"), "246913578");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "E_EXPORT"), "null");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "U32"), "400.05");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "PF"), "-0.005");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "PFAIL"), "4");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "l1.U"), "220.1");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "l1.I"), "1");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "l1.P"), "-3333");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "l1.VSAGS"), "2");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "l2.VSWELLS"), "3");
    CU_ASSERT_STRING_EQUAL(value_of(kv, k, "l3.U"), "null");
    /* The start of the payload, written by hand. */
    const char *head = "{\"ts\":1291890620,\"P\":1193,\"P+\":1193,\"P-\":0,\"E_IMPORT\":246913578,"
                       "\"E_EXPORT\":null,\"U12\":null,\"U31\":null,\"U32\":400.05,";
    CU_ASSERT_EQUAL(strncmp(buf, head, strlen(head)), 0);
}

static void test_mqtt_capacity(void)
{
    struct reading r;
    reading_init(&r);
    reading_set(&r, READING_P, -4023000);
    int need = mqtt_power_instant_build(&r, NULL, 0);
    CU_ASSERT_TRUE_FATAL(need > 0 && need < MQTT_POWER_INSTANT_MAX);
    for (int cap = 0; cap <= need; cap++) {
        memset(buf, 'X', sizeof buf);
        CU_ASSERT_EQUAL(mqtt_power_instant_build(&r, buf, (size_t)cap), ML_ENOSPC);
        CU_ASSERT_EQUAL(buf[cap], 'X'); /* never writes past cap */
    }
    CU_ASSERT_EQUAL(mqtt_power_instant_build(&r, buf, (size_t)need + 1), need);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"P\":-4023,"));
    CU_ASSERT_EQUAL(mqtt_power_instant_build(NULL, buf, sizeof buf), ML_EFAULT);
}

static void test_mqtt_number_format(void)
{
    char s[32];
    CU_ASSERT_EQUAL(mqtt_number_format(230100, -3, s, sizeof s), 5);
    CU_ASSERT_STRING_EQUAL(s, "230.1");
    mqtt_number_format(-4023000, -3, s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "-4023");
    mqtt_number_format(-500, -3, s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "-0.5");
    mqtt_number_format(0, -3, s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "0");
    mqtt_number_format(2317482647LL, 0, s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "2317482647");
    mqtt_number_format(INT64_MIN, -3, s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "-9223372036854775.808");
    CU_ASSERT_EQUAL(mqtt_number_format(12345, 0, s, 5), ML_ENOSPC);
}

static void test_mqtt_topic(void)
{
    char t[128];
    int n = mqtt_topic_build("home", "SC123", "power_instant", t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "devices/home/smart-connect/SC123/data/power_instant");
    CU_ASSERT_EQUAL((size_t)n, strlen(t));
    mqtt_topic_build("", "SC123", "device_counters", t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "devices/default/smart-connect/SC123/data/device_counters");
    mqtt_topic_build(NULL, "S", "m", t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "devices/default/smart-connect/S/data/m");
    CU_ASSERT_EQUAL(mqtt_topic_build("a", "b", "c", NULL, 0), 32); /* 8 + 1 + 15 + 1 + 6 + 1 */
    CU_ASSERT_EQUAL(mqtt_topic_build("a", "b", "c", t, 32), ML_ENOSPC);
    CU_ASSERT_EQUAL(mqtt_topic_build("a", NULL, "c", t, sizeof t), ML_EFAULT);
}

/* The remote commands' topic base and result payload (docs/mqtt.md "Remote commands"). */
static void test_mqtt_cmd_base_and_result(void)
{
    char t[128];
    CU_ASSERT_EQUAL(mqtt_base_build("lab", "SC1", t, sizeof t), 29);
    CU_ASSERT_STRING_EQUAL(t, "devices/lab/smart-connect/SC1");
    mqtt_base_build("", "SC1", t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "devices/default/smart-connect/SC1");
    CU_ASSERT_EQUAL(mqtt_base_build("lab", "SC1", t, 29), ML_ENOSPC);
    CU_ASSERT_EQUAL(mqtt_base_build("lab", NULL, t, sizeof t), ML_EFAULT);

    char p[256];
    int n = mqtt_cmd_result_build("r-1", "ok", "1.2.0", NULL, p, sizeof p);
    CU_ASSERT_STRING_EQUAL(p, "{\"id\":\"r-1\",\"state\":\"ok\",\"version\":\"1.2.0\"}");
    CU_ASSERT_EQUAL((size_t)n, strlen(p));
    mqtt_cmd_result_build(NULL, "error", NULL, "bad \"x\"", p, sizeof p);
    CU_ASSERT_STRING_EQUAL(p, "{\"id\":null,\"state\":\"error\",\"reason\":\"bad \\\"x\\\"\"}");
    mqtt_cmd_result_build("", "refused", NULL, NULL, p, sizeof p);
    CU_ASSERT_STRING_EQUAL(p, "{\"id\":null,\"state\":\"refused\"}");
    CU_ASSERT_EQUAL(mqtt_cmd_result_build("a", "ok", NULL, NULL, p, 10), ML_ENOSPC);
    CU_ASSERT_EQUAL(mqtt_cmd_result_build("a", NULL, NULL, NULL, p, sizeof p), ML_EFAULT);

    CU_ASSERT_TRUE(mqtt_cmd_known("reset", 5));
    CU_ASSERT_TRUE(mqtt_cmd_known("firmware", 8));
    CU_ASSERT_FALSE(mqtt_cmd_known("resetx", 6));
    CU_ASSERT_FALSE(mqtt_cmd_known("rese", 4));
    CU_ASSERT_FALSE(mqtt_cmd_known("probe", 5));
    CU_ASSERT_FALSE(mqtt_cmd_known(NULL, 0));
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_mqtt_cmd_base_and_result", test_mqtt_cmd_base_and_result},
        {"test_mqtt_empty_reading_all_null", test_mqtt_empty_reading_all_null},
        {"test_mqtt_power_instant_values", test_mqtt_power_instant_values},
        {"test_mqtt_capacity", test_mqtt_capacity},
        {"test_mqtt_number_format", test_mqtt_number_format},
        {"test_mqtt_topic", test_mqtt_topic},
    };
    return ml_test_run("mqtt", cases, sizeof cases / sizeof cases[0], NULL, NULL);
}

/*
 * The runner's expectations as pure functions (sim/runner/ml_check.h): register
 * decoding against IEEE/two's-complement constants, payload field matching, the
 * topics and payload keys the device publishes, and the load-time rules that keep
 * a scenario from passing having checked nothing.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_check.h"
#include "ml_test.h"
#include "regmap/regmap.h"

static struct ml_scenario s;
static char err[1024];

static int load(const char *text)
{
    ml_scenario_free(&s);
    int rc = ml_scenario_parse("t.yaml", text, strlen(text), &s, err, sizeof err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    err[0] = 0;
    return ml_check_scenario(&s, err, sizeof err);
}

static void test_runner_regs_decode(void)
{
    const uint16_t f230[2] = {0x4366, 0x0000}; /* 230.0f, ABCD */
    CU_ASSERT_DOUBLE_EQUAL(ml_check_regs_decode(REGMAP_F32, REGMAP_ABCD, f230), 230.0, 1e-9);
    const uint16_t f230_cdab[2] = {0x0000, 0x4366};
    CU_ASSERT_DOUBLE_EQUAL(ml_check_regs_decode(REGMAP_F32, REGMAP_CDAB, f230_cdab), 230.0, 1e-9);
    const uint16_t m1[2] = {0xFFFF, 0xFFFF};
    CU_ASSERT_DOUBLE_EQUAL(ml_check_regs_decode(REGMAP_I32, REGMAP_ABCD, m1), -1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(ml_check_regs_decode(REGMAP_U32, REGMAP_ABCD, m1), 4294967295.0, 0);
    const uint16_t w16[1] = {0xFF38}; /* -200 */
    CU_ASSERT_DOUBLE_EQUAL(ml_check_regs_decode(REGMAP_I16, REGMAP_ABCD, w16), -200.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(ml_check_regs_decode(REGMAP_U16, REGMAP_ABCD, w16), 65336.0, 0);
    const uint16_t w64[4] = {0x0000, 0x0000, 0x0001, 0x0002}; /* 65538 */
    CU_ASSERT_DOUBLE_EQUAL(ml_check_regs_decode(REGMAP_I64, REGMAP_ABCD, w64), 65538.0, 0);
    CU_ASSERT_EQUAL(ml_check_regs_words(REGMAP_I64), 4);
    CU_ASSERT_EQUAL(ml_check_regs_words(REGMAP_U16), 1);
    CU_ASSERT_EQUAL(ml_check_regs_words(REGMAP_F32), 2);
}

static void test_runner_fields_match(void)
{
    struct ml_scn_field f[2] = {{.path = "P", .kind = ML_FV_NUM, .num = 325, .tol = 1},
                                {.path = "l1.U", .kind = ML_FV_NULL}};
    struct ml_buf d = {0};
    CU_ASSERT_EQUAL(ml_check_fields_match(f, 2, "{\"P\":325.5,\"l1\":{\"U\":null}}", &d), 0);
    CU_ASSERT_EQUAL(d.len, 0);
    CU_ASSERT_EQUAL(ml_check_fields_match(f, 2, "{\"P\":300,\"l1\":{}}", &d), 2);
    ml_buf_put(&d, "", 1);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)d.p, "P: expected 325 ± 1, seen 300"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)d.p, "l1.U: expected null, seen (missing)"));
    d.len = 0;
    CU_ASSERT_EQUAL(ml_check_fields_match(f, 2, "P=325", &d), 1000);
    ml_buf_free(&d);
}

static void test_runner_topic_matches(void)
{
    const char *t = "devices/demo/smart-connect/SC1/data/power_instant";
    CU_ASSERT_TRUE(ml_check_topic_matches(t, "SC1", "power_instant"));
    CU_ASSERT_FALSE(ml_check_topic_matches(t, "SC2", "power_instant"));
    CU_ASSERT_FALSE(ml_check_topic_matches(t, "SC1", "device_counters"));
    CU_ASSERT_FALSE(ml_check_topic_matches("instant", "SC1", "power_instant"));
}

/* The keys products.md §1 names for the two payloads. */
static void test_runner_known_topics_and_fields(void)
{
    CU_ASSERT_TRUE(ml_check_mqtt_metric_known("power_instant"));
    CU_ASSERT_TRUE(ml_check_mqtt_metric_known("device_counters"));
    CU_ASSERT_FALSE(ml_check_mqtt_metric_known("power_instan"));
    CU_ASSERT_TRUE(ml_check_mqtt_field_known("power_instant", "P"));
    CU_ASSERT_TRUE(ml_check_mqtt_field_known("power_instant", "E_IMPORT"));
    CU_ASSERT_TRUE(ml_check_mqtt_field_known("power_instant", "l3.VSWELLS"));
    CU_ASSERT_FALSE(ml_check_mqtt_field_known("power_instant", "p"));
    CU_ASSERT_FALSE(ml_check_mqtt_field_known("power_instant", "l4.U"));
    CU_ASSERT_TRUE(ml_check_mqtt_field_known("device_counters", "telegrams_pass"));
    CU_ASSERT_FALSE(ml_check_mqtt_field_known("device_counters", "P"));
    CU_ASSERT_FALSE(ml_check_mqtt_field_known("nothing", "P"));
}

static void test_runner_scenario_rules(void)
{
    const char *head = "name: t\nproduct: p1\ndevice: {mqtt: on}\nmeter: {protocol: dsmr50}\n";
    char y[1024];
    snprintf(y, sizeof y, "%ssteps:\n  - at: 1\n    expect: {led: normal}\n", head);
    CU_ASSERT_EQUAL(load(y), 0);
    /* nothing checked */
    snprintf(y, sizeof y, "%ssteps:\n  - at: 1\n    fault: {crc_corrupt: {}}\n", head);
    CU_ASSERT_EQUAL(load(y), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml: no expectations"));
    /* a misspelt topic with count 0 would always pass */
    snprintf(y, sizeof y,
             "%ssteps:\n  - within: [0, 5]\n    expect:\n      mqtt: {topic: power_instnt, "
             "count: 0}\n",
             head);
    CU_ASSERT_EQUAL(load(y), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:8:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "power_instnt"));
    /* a misspelt field */
    snprintf(y, sizeof y,
             "%ssteps:\n  - within: [0, 5]\n    expect:\n      mqtt: {topic: power_instant, "
             "fields: {Pimp: 3}}\n",
             head);
    CU_ASSERT_EQUAL(load(y), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:8:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'Pimp' is not a field of the power_instant payload"));
}

/* Every demo scenario checks something and names only topics and fields the device has. */
static void test_runner_every_scenario_passes_the_load_rules(void)
{
    const char *root = getenv("ML_SOURCE_DIR");
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/scenarios/*.yaml", root);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        ml_scenario_free(&s);
        CU_ASSERT_EQUAL_FATAL(ml_scenario_load(line, &s, err, sizeof err), 0);
        if (ml_check_scenario(&s, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            CU_FAIL("a scenario breaks a load rule");
        }
        n++;
    }
    pclose(p);
    CU_ASSERT_TRUE(n > 0);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_runner_regs_decode", test_runner_regs_decode},
        {"test_runner_fields_match", test_runner_fields_match},
        {"test_runner_topic_matches", test_runner_topic_matches},
        {"test_runner_known_topics_and_fields", test_runner_known_topics_and_fields},
        {"test_runner_scenario_rules", test_runner_scenario_rules},
        {"test_runner_every_scenario_passes_the_load_rules",
         test_runner_every_scenario_passes_the_load_rules},
    };
    int rc = ml_test_run("runner", cases, sizeof cases / sizeof cases[0], NULL, NULL);
    ml_scenario_free(&s);
    return rc;
}

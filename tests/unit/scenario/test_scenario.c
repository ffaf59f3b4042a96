#define _GNU_SOURCE
/*
 * Scenario parser: a full file becomes the expected structs; every kind of
 * mistake is an error naming file:line:column.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_scenario.h"
#include "ml_test.h"

static struct ml_scenario s;
static char err[1024];

static int parse(const char *text)
{
    return ml_scenario_parse("t.yaml", text, strlen(text), &s, err, sizeof err);
}

static void test_scenario_full_file(void)
{
    const char *y = "name: demo\n"
                    "product: p1\n"
                    "device: {serial: SC1, mqtt: on, site: home, network: {mode: static, ip: "
                    "192.168.1.50/24, gateway: 192.168.1.1}}\n"
                    "meter:\n"
                    "  protocol: dsmr50\n"
                    "  interval_s: 1\n"
                    "  values: {p: {ramp: {from: -100, to: 100}}, l1_u: {list: [230, 231]}, "
                    "gas: ~}\n"
                    "steps:\n"
                    "  - at: 1.5\n"
                    "    fault: {crc_corrupt: {}}\n"
                    "  - every: 10s\n"
                    "    from: 0\n"
                    "    to: 1m\n"
                    "    expect:\n"
                    "      modbus: {p: 0, l1_u: {value: 230, tolerance: 1}, 0x8016: 5}\n"
                    "      counters: {telegrams_fail: {max: 1}}\n"
                    "  - within: [2, 4]\n"
                    "    expect: {mqtt: {topic: power_instant, fields: {P: 1, l1.U: null}, "
                    "count: 2}, led: normal}\n"
                    "  - at: 70\n"
                    "    action: {button: {hold: 5.5}}\n";
    CU_ASSERT_EQUAL_FATAL(parse(y), 0);
    CU_ASSERT_STRING_EQUAL(s.name, "demo");
    CU_ASSERT_TRUE(s.mqtt);
    CU_ASSERT_STRING_EQUAL(s.mqtt_site, "home");
    CU_ASSERT_FALSE(s.dhcp);
    CU_ASSERT_EQUAL(s.ip, 0xC0A80132u);
    CU_ASSERT_EQUAL(s.netmask, 0xFFFFFF00u);
    CU_ASSERT_EQUAL(s.meter.proto, ML_METER_DSMR50);
    CU_ASSERT_EQUAL(s.meter_values.n, 3);
    CU_ASSERT_EQUAL(s.meter_values.v[0].src.kind, ML_SRC_RAMP);
    CU_ASSERT_EQUAL(s.meter_values.v[2].src.kind, ML_SRC_ABSENT);
    CU_ASSERT_DOUBLE_EQUAL(ml_scn_src_eval(&s.meter_values.v[0].src, 5, 0, 10, 0), 0.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(ml_scn_src_eval(&s.meter_values.v[1].src, 0, 0, 0, 3), 231.0, 1e-9);
    CU_ASSERT_EQUAL(s.nsteps, 4);
    CU_ASSERT_EQUAL(s.steps[1].nchecks, 4);
    CU_ASSERT_DOUBLE_EQUAL(s.steps[1].to, 60.0, 1e-9);
    CU_ASSERT_EQUAL(s.steps[1].checks[2].addr, 0x8016);
    CU_ASSERT_EQUAL(s.steps[1].checks[0].addr, 0x8016); /* p */
    CU_ASSERT_TRUE(s.steps[2].window);
    CU_ASSERT_EQUAL(s.steps[2].checks[0].count_min, 2);
    CU_ASSERT_EQUAL(s.steps[2].checks[0].fields[1].kind, ML_FV_NULL);
    CU_ASSERT_DOUBLE_EQUAL(s.duration_s, 76.5, 1e-9); /* last step end + 1 s */
    ml_scenario_free(&s);
}

struct bad {
    const char *text, *where, *what;
};

static void test_scenario_errors_name_the_place(void)
{
    static const struct bad cases[] = {
        {"product: p1\nbogus: 1\n", "t.yaml:2:1:", "unknown key 'bogus'"},
        {"product: p2\n", "t.yaml:1:10:", "product must be"},
        {"product: p1\nmeter: {protocol: dsmr99}\n", "t.yaml:2:19:", "unknown protocol"},
        {"product: tic\nmeter: {protocol: dsmr50}\n", "t.yaml:2:19:", "product tic"},
        {"product: p1\nsteps:\n  - at: -1\n    expect: {led: normal}\n",
         "t.yaml:3:9:", "must not be negative"},
        {"product: p1\nsteps:\n  - every: 1\n    from: 10\n    to: 5\n    expect: {led: normal}\n",
         "t.yaml:5:9:", "before from"},
        {"product: p1\nsteps:\n  - within: [5, 2]\n    expect: {led: normal}\n",
         "t.yaml:3:13:", "before the start"},
        {"product: p1\nduration: 10\nsteps:\n  - at: 20\n    expect: {led: normal}\n",
         "t.yaml:4:5:", "after the scenario's duration"},
        {"product: p1\nsteps:\n  - at: 1\n    expect: {led: purple}\n",
         "t.yaml:4:19:", "unknown LED state"},
        {"product: p1\nsteps:\n  - at: 1\n    expect: {modbus: {nope: 1}}\n",
         "t.yaml:4:23:", "has no register 'nope'"},
        {"product: p1\nsteps:\n  - at: 1\n    expect: {modbus: {p: abc}}\n",
         "t.yaml:4:26:", "must be a number"},
        {"product: p1\nsteps:\n  - at: 1\n    expect: {mqtt: {topic: x}}\n",
         "t.yaml:4:20:", "needs device: {mqtt: on}"},
        {"product: p1\nmeter: {protocol: dsmr22}\nsteps:\n  - at: 1\n    fault: crc_corrupt\n",
         "t.yaml:5:12:", "carry no CRC"},
        {"product: p1\nmeter: {protocol: dsmr50, values: {p_inp: 1}}\n",
         "t.yaml:2:36:", "unknown value 'p_inp'"},
        {"product: p1\nsteps:\n  - at: 1\n    fault: {silence: {duration: 5}}\n",
         "t.yaml:4:12:", "needs a meter"},
        {"product: p1\nmeter: {protocol: dsmr50}\nsteps:\n  - at: 1\n    fault: silence\n",
         "t.yaml:5:12:", "needs duration"},
        {"product: p1\nsteps:\n  - at: 1\n    at: 2\n    expect: {led: normal}\n",
         "t.yaml:4:5:", "given twice"},
        {"product: p1\nsteps: [\n", "t.yaml:", "YAML"},
        {"product: p1\nsteps:\n  - at: 1\n    expect: {reboots: {min: 3, max: 1}}\n",
         "t.yaml:4:23:", "min 3 is above max 1"},
        {"product: p1mb\n", "t.yaml:1:1:", "needs device: {variant"},
        {"product: p1mb\ndevice: {variant: sdm640}\n", "t.yaml:2:19:", "variant must be"},
        {"product: p1\ndevice: {variant: sdm630}\n", "t.yaml:2:19:", "variant is for product p1mb"},
        {"product: p1mb\ndevice: {variant: xemex, meter_type: Xemex}\n",
         "t.yaml:2:38:", "follow its variant"},
        {"product: p1mb\ndevice: {variant: xemex}\nsteps:\n  - at: 1\n    expect: {led: normal}\n",
         "t.yaml:5:19:", "p1mb's led check is a map"},
        {"product: p1mb\ndevice: {variant: xemex}\nsteps:\n  - at: 1\n    expect: {led: {p1: "
         "dim}}\n",
         "t.yaml:5:24:", "p1 must be off, on or blink"},
        {"product: p1mb\ndevice: {variant: xemex}\nsteps:\n  - at: 1\n    expect: {http: {path: "
         "/}}\n",
         "t.yaml:5:20:", "no HTTP API"},
        {"product: p1\nsteps:\n  - at: 1\n    action: {http: {method: GET}}\n",
         "t.yaml:4:20:", "http needs path"},
        {"product: p1\nsteps:\n  - at: 1\n    action: {http: {path: x}}\n",
         "t.yaml:4:27:", "must start with '/'"},
        {"product: p1\nsteps:\n  - at: 1\n    action: {http: {path: /, method: FETCH}}\n",
         "t.yaml:4:38:", "method must be"},
        {"product: p1\nsteps:\n  - at: 1\n    action: {http: {path: /, status: 42}}\n",
         "t.yaml:4:38:", "status must be between"},
        {"product: p1\nsteps:\n  - at: 1\n    expect: {http: {path: /, jsn: {}}}\n",
         "t.yaml:4:30:", "unknown key 'jsn'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].text);
        CU_ASSERT_EQUAL(rc, -1);
        if (rc == 0) {
            ml_scenario_free(&s);
            fprintf(stderr, "case %zu parsed\n", i);
            continue;
        }
        if (strncmp(err, cases[i].where, strlen(cases[i].where)) != 0 ||
            strstr(err, cases[i].what) == NULL) {
            fprintf(stderr, "case %zu: got '%s', want '%s ... %s'\n", i, err, cases[i].where,
                    cases[i].what);
            CU_FAIL("error text");
        }
    }
}

static void test_scenario_http_p1mb_and_duts(void)
{
    const char *y = "# duts: sim device rig\n"
                    "product: p1\n"
                    "steps:\n"
                    "  - at: 1\n"
                    "    action:\n"
                    "      http: {method: PATCH, path: /api/v1/config, body: '{\"A\":1}', status: "
                    "200, json: {MeterType: Xemex, Config.Saved: true, n: 3}}\n"
                    "  - at: 2\n"
                    "    expect: {http: {path: /api/v1/status}}\n"
                    "  - at: 3\n"
                    "    action: {modbus_write: {address: 1, value: 2}}\n";
    CU_ASSERT_EQUAL_FATAL(parse(y), 0);
    CU_ASSERT_TRUE(ml_scenario_supports_dut(&s, "device"));
    CU_ASSERT_TRUE(ml_scenario_supports_dut(&s, "rig"));
    CU_ASSERT_FALSE(ml_scenario_supports_dut(&s, "qemu"));
    CU_ASSERT_FALSE(ml_scenario_supports_dut(&s, "dev"));
    const struct ml_scn_step *st = &s.steps[0];
    CU_ASSERT_EQUAL(st->action.kind, ML_ACT_HTTP);
    CU_ASSERT_EQUAL_FATAL(st->nchecks, 1);
    CU_ASSERT_EQUAL(st->checks[0].kind, ML_CHK_HTTP);
    CU_ASSERT_STRING_EQUAL(st->checks[0].str, "PATCH");
    CU_ASSERT_STRING_EQUAL(st->checks[0].name, "/api/v1/config");
    CU_ASSERT_STRING_EQUAL(st->checks[0].body, "{\"A\":1}");
    CU_ASSERT_EQUAL(st->checks[0].status, 200);
    CU_ASSERT_EQUAL_FATAL(st->checks[0].nfields, 3);
    CU_ASSERT_EQUAL(st->checks[0].fields[0].kind, ML_FV_STR);
    CU_ASSERT_EQUAL(st->checks[0].fields[1].kind, ML_FV_BOOL);
    CU_ASSERT_EQUAL(st->checks[0].fields[2].kind, ML_FV_NUM);
    CU_ASSERT_STRING_EQUAL(s.steps[1].checks[0].str, "GET"); /* the default */
    CU_ASSERT_EQUAL(s.steps[1].checks[0].status, 0);         /* any 2xx */
    CU_ASSERT_EQUAL(s.steps[2].action.unit, -1);             /* the device's own */
    CU_ASSERT_EQUAL(s.steps[2].action.expect_exception, -1);
    ml_scenario_free(&s);

    const char *m = "product: p1mb\n"
                    "device: {variant: pro380}\n"
                    "steps:\n"
                    "  - at: 1\n"
                    "    expect: {led: {pwr: on, p1: blink}, modbus: {p: 5}}\n"
                    "  - at: 2\n"
                    "    action: {modbus_write: {address: 0xF013, value: 1, unit: 7, exception: "
                    "none}}\n";
    CU_ASSERT_EQUAL_FATAL(parse(m), 0);
    CU_ASSERT_EQUAL(s.product, ML_SCN_P1MB);
    CU_ASSERT_EQUAL(s.variant, 0);
    CU_ASSERT_STRING_EQUAL(s.meter_type, "Inepro-PRO380");
    CU_ASSERT_STRING_EQUAL(s.serial, "MB00000001");
    CU_ASSERT_PTR_NULL(s.duts);
    CU_ASSERT_TRUE(ml_scenario_supports_dut(&s, "sim"));
    CU_ASSERT_FALSE(ml_scenario_supports_dut(&s, "device"));
    const struct ml_scn_check *led = NULL, *mb = NULL;
    for (size_t i = 0; i < s.steps[0].nchecks; i++) {
        if (s.steps[0].checks[i].kind == ML_CHK_LED) {
            led = &s.steps[0].checks[i];
        } else if (s.steps[0].checks[i].kind == ML_CHK_MODBUS) {
            mb = &s.steps[0].checks[i];
        }
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(led);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    CU_ASSERT_EQUAL(led->led_state, -1);
    CU_ASSERT_EQUAL(led->p1mb_led[ML_P1MB_LED_PWR], ML_LED_SHOW_ON);
    CU_ASSERT_EQUAL(led->p1mb_led[ML_P1MB_LED_P1], ML_LED_SHOW_BLINK);
    CU_ASSERT_EQUAL(led->p1mb_led[ML_P1MB_LED_485], -1);
    CU_ASSERT_EQUAL(mb->addr, 0x5012); /* PRO380 total power, FC03 */
    CU_ASSERT_EQUAL(s.steps[1].action.unit, 7);
    CU_ASSERT_EQUAL(s.steps[1].action.expect_exception, 0);
    ml_scenario_free(&s);
}

static void test_scenario_every_file_in_scenarios_loads(void)
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
        if (ml_scenario_load(line, &s, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            CU_FAIL("a scenario does not load");
            continue;
        }
        ml_scenario_free(&s);
        n++;
    }
    pclose(p);
    CU_ASSERT_TRUE(n > 0);
}

/* Board actions: power on/off/cycle, reset, flash IMAGE (relative to the scenario). */
static void test_scenario_board_steps(void)
{
    static const char text[] = "product: p1\n"
                               "duration: 20\n"
                               "steps:\n"
                               "  - {at: 1, power: off}\n"
                               "  - {at: 2, power: on}\n"
                               "  - {at: 3, power: cycle}\n"
                               "  - {at: 4, reset: true}\n"
                               "  - {at: 5, flash: build/fw.elf}\n"
                               "  - {at: 19, expect: {reboots: 3}}\n";
    int rc = ml_scenario_parse("/s/t.yaml", text, strlen(text), &s, err, sizeof err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL_FATAL(s.nsteps, 6);
    static const enum ml_scn_fault_kind want[] = {ML_SF_POWER_OFF, ML_SF_POWER_ON,
                                                  ML_SF_POWER_CYCLE, ML_SF_RESET, ML_SF_FLASH};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(s.steps[i].kind, ML_STEP_FAULT);
        CU_ASSERT_EQUAL(s.steps[i].fault.kind, want[i]);
        CU_ASSERT_TRUE(ml_scn_fault_is_board(s.steps[i].fault.kind));
    }
    CU_ASSERT_STRING_EQUAL(s.steps[4].fault.image, "/s/build/fw.elf");
    CU_ASSERT_STRING_EQUAL(ml_scn_fault_name(ML_SF_FLASH), "flash");
    ml_scenario_free(&s);
    static const struct {
        const char *text, *where, *what;
    } bad[] = {
        {"product: p1\nsteps:\n  - {at: 1, power: toggle}\n",
         "t.yaml:3:20:", "power must be on, off or cycle"},
        {"product: p1\nsteps:\n  - {at: 1, reset: false}\n", "t.yaml:3:20:", "reset: true"},
        {"product: p1\nsteps:\n  - {at: 1, flash: \"\"}\n", "t.yaml:3:20:", "image's path"},
        {"product: p1\nsteps:\n  - {at: 1, power: off, reset: true}\n",
         "t.yaml:3:5:", "exactly one of"},
        {"product: p1\nsteps:\n  - {at: 1, fault: reset}\n",
         "t.yaml:3:20:", "a board action: a power:, reset: or flash: step"},
        {"product: p1\nsteps:\n  - {within: [1, 2], power: off}\n",
         "t.yaml:3:14:", "within: is for expectations"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CU_ASSERT_EQUAL(parse(bad[i].text), -1);
        if (strncmp(err, bad[i].where, strlen(bad[i].where)) || !strstr(err, bad[i].what)) {
            fprintf(stderr, "\n  want '%s ... %s'\n  got  '%s'\n", bad[i].where, bad[i].what, err);
            CU_FAIL("error message");
        }
        ml_scenario_free(&s);
    }
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_scenario_full_file", test_scenario_full_file},
        {"test_scenario_errors_name_the_place", test_scenario_errors_name_the_place},
        {"test_scenario_http_p1mb_and_duts", test_scenario_http_p1mb_and_duts},
        {"test_scenario_board_steps", test_scenario_board_steps},
        {"test_scenario_every_file_in_scenarios_loads",
         test_scenario_every_file_in_scenarios_loads},
    };
    return ml_test_run("scenario", cases, sizeof cases / sizeof cases[0], NULL, NULL);
}

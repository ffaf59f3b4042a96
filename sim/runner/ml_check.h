/**
 * @file ml_check.h
 * @brief The runner's expectations as pure functions (library ml_runner): what a
 * Modbus register holds, whether an MQTT payload has the expected fields, which
 * topics and payload keys a device publishes, and the text of a verdict. No I/O,
 * no globals; every function may be called from any thread. Unit tests:
 * tests/unit/runner/test_runner.c.
 */
#ifndef SIM_RUNNER_ML_CHECK_H
#define SIM_RUNNER_ML_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_scenario.h"

/** Registers a value of regmap type @p type (enum regmap_type) takes: 1, 2 or 4. */
unsigned ml_check_regs_words(uint8_t type);

/**
 * The value of registers @p w (ml_check_regs_words(@p type) of them, as read from
 * the wire) of regmap type @p type in word order @p order (enum regmap_order:
 * ABCD = first word most significant, CDAB = last word most significant), in the
 * register's own unit (no exp10 scaling).
 */
double ml_check_regs_decode(uint8_t type, uint8_t order, const uint16_t *w);

/**
 * How many of the @p nf expected fields @p fs the JSON text @p payload misses
 * (a missing key or another value counts one each; 1000 when @p payload is not
 * JSON). A field path is dot separated ("l1.U"). What differs is appended to
 * @p diff ("P: expected 325 ± 1, seen 300"; "; " between fields).
 */
int ml_check_fields_match(const struct ml_scn_field *fs, size_t nf, const char *payload,
                          struct ml_buf *diff);

/** True when @p topic ends in "/<serial>/data/<metric>" (any site before it). */
bool ml_check_topic_matches(const char *topic, const char *serial, const char *metric);

/** "5" or "1 .. inf": the min..max of a counter or reboots check, into @p out. */
void ml_check_range_text(const struct ml_scn_check *ch, char *out, size_t cap);

/**
 * Whether a Smart Connect publishes @p metric (the last topic level: "power_instant",
 * "device_counters"). The payload keys come from the firmware's own builders
 * (core/mqtt), so the set cannot drift from what the device sends.
 */
bool ml_check_mqtt_metric_known(const char *metric);

/**
 * Whether @p path ("P", "l1.U", "telegrams_pass") is a key of the @p metric payload.
 * False for an unknown metric.
 */
bool ml_check_mqtt_field_known(const char *metric, const char *path);

/**
 * What would let scenario @p s pass having checked nothing, found before it runs:
 * no expectation at all, or an MQTT expectation naming a topic or payload field
 * the device never publishes. @return 0, or -1 with "file:line:column: what" in
 * @p err (the first problem).
 */
int ml_check_scenario(const struct ml_scenario *s, char *err, size_t cap);

#endif /* SIM_RUNNER_ML_CHECK_H */

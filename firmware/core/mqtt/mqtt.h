/**
 * @file mqtt.h
 * @brief MQTT topic and JSON payload builders (products.md §1, Smart P1/A1 Connect).
 *
 * Pure formatting into caller buffers (STYLE rule 13): each builder returns the bytes
 * written (without the terminating NUL, which is always written), ML_ENOSPC when @p cap
 * is too small (the buffer then holds an unspecified prefix), or the size needed
 * (without NUL) when @p buf is NULL. No heap, no libc, reentrant, not for ISRs.
 */
#ifndef FIRMWARE_CORE_MQTT_MQTT_H
#define FIRMWARE_CORE_MQTT_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "reading/reading.h"

/** Longest power_instant payload + NUL: every field present at its widest (INT64_MIN in
 * milli-units) needs 1476 bytes; the fuzz target checks the bound. */
#define MQTT_POWER_INSTANT_MAX 1536

/**
 * Build the power_instant JSON object: ts (UTC epoch s), P, P+, P-, E_IMPORT, E_EXPORT
 * (Wh), U12, U31, U32 (V), Q, Q+, Q- (var), EQ1..EQ4 (varh), PF, S (VA), PFAIL, LPFAIL,
 * and l1, l2, l3 objects with U, I, P, P+, P-, Q, Q+, Q-, S, VSAGS, VSWELLS. Every key is
 * always present; a value the reading does not carry is null. Numbers are plain
 * decimals in SI units (e.g. -4023, 230.1), never with an exponent.
 * @retval >=0 bytes written (or needed when @p buf is NULL).
 * @retval ML_ENOSPC @p cap too small.
 * @retval ML_EFAULT @p r is NULL.
 */
int mqtt_power_instant_build(const struct reading *r, char *buf, size_t cap);

/**
 * As mqtt_power_instant_build(), with @p ts_now (UTC epoch s, the device's clock) as
 * `ts` when the reading carries no meter time; a negative @p ts_now (no valid time)
 * leaves `ts` null then. A meter time always wins.
 */
int mqtt_power_instant_build_ts(const struct reading *r, int64_t ts_now, char *buf, size_t cap);

/**
 * Build "devices/<site>/smart-connect/<serial>/data/<metric>"; a NULL or empty @p site
 * is published as "default" (products.md §1 decision).
 * @retval >=0 bytes written (or needed when @p buf is NULL).
 * @retval ML_ENOSPC @p cap too small.
 * @retval ML_EFAULT @p serial or @p metric is NULL.
 */
int mqtt_topic_build(const char *site, const char *serial, const char *metric, char *buf,
                     size_t cap);

/**
 * Build the device's topic base "devices/<site>/smart-connect/<serial>" (the same
 * site rule as mqtt_topic_build()); the MQTT commands live under <base>/cmd/.
 * @retval >=0 bytes written; ML_ENOSPC; ML_EFAULT @p serial NULL.
 */
int mqtt_base_build(const char *site, const char *serial, char *buf, size_t cap);

/** The remote commands a Smart Connect obeys (docs/mqtt.md "Remote commands"). */
#define MQTT_CMD_RESET    "reset"
#define MQTT_CMD_FIRMWARE "firmware"

/** True when the @p len bytes at @p name are a command the device knows. */
bool mqtt_cmd_known(const char *name, size_t len);

/**
 * Build a command result {"id":..,"state":..[,"version":..][,"reason":..]}: @p id
 * NULL or "" gives null; @p version and @p reason NULL are left out.
 * @retval >=0 bytes written; ML_ENOSPC; ML_EFAULT @p state NULL.
 */
int mqtt_cmd_result_build(const char *id, const char *state, const char *version,
                          const char *reason, char *buf, size_t cap);

/**
 * Format fixed-point @p v * 10^@p exp10 (exp10 <= 0) as a JSON number without exponent
 * and without trailing fractional zeros ("230.1", "-4023", "0.005").
 * @retval >=0 bytes written (or needed when @p buf is NULL); ML_ENOSPC when too small.
 */
int mqtt_number_format(int64_t v, int exp10, char *buf, size_t cap);

#endif /* FIRMWARE_CORE_MQTT_MQTT_H */

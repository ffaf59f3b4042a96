/**
 * @file ml_dev_p1mb.h
 * @brief The simulated P1MB, in-process (the sim port + p1mb_app). One device
 * per process at a time (the sim port is one board; a Smart Connect started
 * with ml_devices.h shares it). Used by `meterlab device --product p1mb` and
 * the integration tests.
 */
#ifndef SIM_DEVICES_ML_DEV_P1MB_H
#define SIM_DEVICES_ML_DEV_P1MB_H

#include "p1mb_app.h"
#include "sim.h"

/**
 * Start the P1MB firmware on the sim port with @p set (copied) and the port
 * configuration @p cfg. Bind the UARTs (sim_uart_bind_fd) before or after.
 * @return 0, or a negative ml_err (ML_EBUSY when a device already runs).
 */
int ml_dev_p1mb_start(const struct p1mb_settings *set, const struct sim_config *cfg);

/** Stop the running device (safe when none runs). */
void ml_dev_p1mb_stop(void);

/** The running P1MB's state, for observers (read-only; racy reads are fine for display). */
const struct p1mb_app *ml_dev_p1mb_app(void);

/** The settings the device runs with (copy held by this module). */
struct p1mb_settings *ml_dev_p1mb_settings(void);

/**
 * Parse a variant name as typed on the command line ("sdm630", "pro380",
 * "acr10rh", "xemex", case-insensitive).
 * @return 0 and @p out set, or ML_EINVAL.
 */
int ml_dev_p1mb_variant_parse(const char *name, enum p1mb_variant *out);

#endif /* SIM_DEVICES_ML_DEV_P1MB_H */

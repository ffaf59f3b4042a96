/**
 * @file ml_devices.h
 * @brief The simulated devices, in-process: one device per process at a time
 * (the sim port is one board). Used by `meterlab device`, the scenario runner,
 * the GUI and the integration tests.
 */
#ifndef SIM_DEVICES_ML_DEVICES_H
#define SIM_DEVICES_ML_DEVICES_H

#include "sc_app.h"
#include "sim.h"

/**
 * Start the Smart Connect firmware on the sim port with @p set (copied) and
 * the port configuration @p cfg.
 * @return 0, or a negative ml_err (ML_EBUSY when a device already runs).
 */
int ml_dev_sc_start(const struct sc_settings *set, const struct sim_config *cfg);

/** Stop the running device (safe when none runs). */
void ml_dev_sc_stop(void);

/** The running Smart Connect's state, for observers (read-only, racy reads are fine for display).
 */
const struct sc_app *ml_dev_sc_app(void);

/** The settings the device runs with (copy held by this module). */
struct sc_settings *ml_dev_sc_settings(void);

#endif /* SIM_DEVICES_ML_DEVICES_H */

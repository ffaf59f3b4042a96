/**
 * @file hal_sys.h
 * @brief Reboot, device identity, heap figures, watchdog, faults.
 */
#ifndef FIRMWARE_HAL_HAL_SYS_H
#define FIRMWARE_HAL_HAL_SYS_H

#include <stdbool.h>
#include <stdint.h>

/** Identity printed on the device label. */
struct hal_sys_identity {
    char serial[24];        /**< serial number, NUL-terminated */
    char label_password[9]; /**< 8-character login of the label, NUL-terminated */
};

/** Heap figures as the device reports them (device_counters). */
struct hal_sys_heap {
    uint32_t free_bytes;
    uint32_t min_free_bytes;
    uint32_t largest_free_block;
    uint32_t failed_allocs;
};

/** Why the device last started. */
enum hal_sys_reset_cause {
    HAL_SYS_RESET_POWER_ON = 0,
    HAL_SYS_RESET_SOFT,
    HAL_SYS_RESET_WATCHDOG,
    HAL_SYS_RESET_FAULT,
};

/** Reboot now (soft reset). Does not return on the target; in the sim the loop restarts. */
void hal_sys_reboot(void);

/** Fill @p out with the device identity. */
void hal_sys_get_identity(struct hal_sys_identity *out);

/** Fill @p out with heap figures (zeros where the port has no heap). */
void hal_sys_get_heap(struct hal_sys_heap *out);

/** Cause of the last reset. */
enum hal_sys_reset_cause hal_sys_get_reset_cause(void);

/** Short name of a reset cause for logs ("power-on", "soft", "watchdog", "fault"). */
static inline const char *hal_sys_reset_cause_name(enum hal_sys_reset_cause c)
{
    switch (c) {
    case HAL_SYS_RESET_POWER_ON:
        return "power-on";
    case HAL_SYS_RESET_SOFT:
        return "soft";
    case HAL_SYS_RESET_WATCHDOG:
        return "watchdog";
    case HAL_SYS_RESET_FAULT:
        return "fault";
    }
    return "unknown";
}

/**
 * Feed the watchdog; the app loop calls it every iteration. ISR-safe. The
 * first kick arms it with ML_WATCHDOG_TIMEOUT_MS (ml_config.h, the same on
 * every port); without a kick within that time the device resets with
 * HAL_SYS_RESET_WATCHDOG. So a loop never waits longer than
 * ML_WATCHDOG_KICK_MS, even when nothing is due.
 */
void hal_sys_watchdog_kick(void);

/** Our own bug: break (debugger) and reset on the target, abort() in the sim. Never returns. */
void hal_sys_fault(const char *file, int line);

/** True when the port asks the app loop to return (sim power-cycle / shutdown). */
bool hal_sys_should_stop(void);

#endif /* FIRMWARE_HAL_HAL_SYS_H */

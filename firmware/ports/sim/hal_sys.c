/* Sim system services: identity, heap figures, reboot, the watchdog, faults. */
#define _GNU_SOURCE
#include "hal_sys.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_config.h"
#include "sim_priv.h"

void sim_core_request_stop(void);

static struct {
    struct hal_sys_identity id;
    enum hal_sys_reset_cause cause;
    volatile bool reboot_req;
    enum hal_sys_reset_cause reboot_cause; /* of the pending reboot */
    /* Watchdog (firmware thread only): armed by the first kick, as on the target. */
    bool wdog_armed;
    bool wdog_fired;      /* expired: the loop is being reset, kicks no longer count */
    uint64_t wdog_due_us; /* last kick + ML_WATCHDOG_TIMEOUT_MS */
    uint32_t wdog_resets; /* since sim_start() */
} Y;

void sim_sys_reset(const struct sim_config *cfg, int reset_cause)
{
    snprintf(Y.id.serial, sizeof Y.id.serial, "%s", cfg->serial ? cfg->serial : "SIM0000001");
    snprintf(Y.id.label_password, sizeof Y.id.label_password, "%s",
             cfg->label_password ? cfg->label_password : "simlabel");
    Y.cause = (enum hal_sys_reset_cause)reset_cause;
    Y.reboot_req = false;
    Y.reboot_cause = HAL_SYS_RESET_SOFT;
    Y.wdog_armed = false;
    Y.wdog_fired = false;
    Y.wdog_due_us = UINT64_MAX;
}

void sim_sys_start(void)
{
    __atomic_store_n(&Y.wdog_resets, 0u, __ATOMIC_SEQ_CST);
}

int sim_sys_take_reboot_request(void)
{
    int r = Y.reboot_req ? (int)Y.reboot_cause : -1;
    Y.reboot_req = false;
    return r;
}

static void reset_with(enum hal_sys_reset_cause cause)
{
    Y.reboot_cause = cause;
    Y.reboot_req = true;
    sim_core_request_stop();
}

void hal_sys_reboot(void)
{
    reset_with(HAL_SYS_RESET_SOFT);
}

void hal_sys_get_identity(struct hal_sys_identity *out)
{
    *out = Y.id;
}

void hal_sys_get_heap(struct hal_sys_heap *out)
{
    /* The firmware has no heap; report the host process's allocator so the
     * device_counters fields carry real numbers in the sim. */
    struct mallinfo2 mi = mallinfo2();
    memset(out, 0, sizeof *out);
    out->free_bytes = (uint32_t)(mi.fordblks > UINT32_MAX ? UINT32_MAX : mi.fordblks);
    out->min_free_bytes = out->free_bytes;
    out->largest_free_block = (uint32_t)(mi.fordblks > UINT32_MAX ? UINT32_MAX : mi.fordblks);
}

enum hal_sys_reset_cause hal_sys_get_reset_cause(void)
{
    return Y.cause;
}

/* The watchdog expired: reset the loop as the target's NMI handler does. */
static void wdog_fire(void)
{
    Y.wdog_fired = true;
    __atomic_store_n(&Y.wdog_resets, Y.wdog_resets + 1u, __ATOMIC_SEQ_CST);
    reset_with(HAL_SYS_RESET_WATCHDOG);
}

void hal_sys_watchdog_kick(void)
{
    if (Y.wdog_fired) {
        return; /* too late: the reset is under way */
    }
    uint64_t now = sim_time_us();
    if (Y.wdog_armed && now >= Y.wdog_due_us) {
        wdog_fire(); /* a pass ran longer than the timeout (real time) */
        return;
    }
    Y.wdog_armed = true;
    Y.wdog_due_us = now + (uint64_t)ML_WATCHDOG_TIMEOUT_MS * 1000u;
}

uint64_t sim_sys_watchdog_due_us(void)
{
    return Y.wdog_armed && !Y.wdog_fired ? Y.wdog_due_us : UINT64_MAX;
}

void sim_sys_watchdog_check(void)
{
    if (Y.wdog_armed && !Y.wdog_fired && sim_time_us() >= Y.wdog_due_us) {
        wdog_fire();
    }
}

uint32_t sim_watchdog_resets(void)
{
    return __atomic_load_n(&Y.wdog_resets, __ATOMIC_SEQ_CST);
}

enum hal_sys_reset_cause sim_reset_cause(void)
{
    return Y.cause;
}

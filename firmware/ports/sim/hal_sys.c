/* Sim system services: identity, heap figures, reboot, faults. */
#define _GNU_SOURCE
#include "hal_sys.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_priv.h"

void sim_core_request_stop(void);

static struct {
    struct hal_sys_identity id;
    enum hal_sys_reset_cause cause;
    volatile bool reboot_req;
} Y;

void sim_sys_reset(const struct sim_config *cfg, int reset_cause)
{
    snprintf(Y.id.serial, sizeof Y.id.serial, "%s", cfg->serial ? cfg->serial : "SIM0000001");
    snprintf(Y.id.label_password, sizeof Y.id.label_password, "%s",
             cfg->label_password ? cfg->label_password : "simlabel");
    Y.cause = (enum hal_sys_reset_cause)reset_cause;
    Y.reboot_req = false;
}

bool sim_sys_take_reboot_request(void)
{
    bool r = Y.reboot_req;
    Y.reboot_req = false;
    return r;
}

void hal_sys_reboot(void)
{
    Y.reboot_req = true;
    sim_core_request_stop();
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

void hal_sys_watchdog_kick(void)
{
}

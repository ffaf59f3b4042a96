/*
 * The reset half of hal_sys, the same on every Cortex-M port (MPS2-AN386,
 * STM32F405, STM32L072): SYSRESETREQ with the cause noted in .noinit RAM (neither
 * loaded nor zeroed, so it survives a core reset), the pre-reset hook, the cause of
 * this start, identity and heap figures. Each port's cm_sys_init() passes what its
 * own hardware says of a reset without a note to cm_reset_cause_init().
 */
#include "hal_sys.h"

#include "cm.h"
#include "cm_port.h"

#define CAUSE_MAGIC 0x52535421u /* "RST!" */

static struct {
    uint32_t magic;
    uint32_t cause;
} reset_note __attribute__((section(".noinit")));

static enum hal_sys_reset_cause start_cause;
static void (*pre_reset)(void);

void cm_reset_cause_init(enum hal_sys_reset_cause without_note)
{
    start_cause =
        reset_note.magic == CAUSE_MAGIC ? (enum hal_sys_reset_cause)reset_note.cause : without_note;
    reset_note.magic = 0;
}

void cm_sys_reset(enum hal_sys_reset_cause cause)
{
    __asm volatile("cpsid i" : : : "memory");
    reset_note.cause = (uint32_t)cause;
    reset_note.magic = CAUSE_MAGIC;
    __asm volatile("dsb" : : : "memory");
    CM_SCB_AIRCR = CM_SCB_AIRCR_VECTKEY | CM_SCB_AIRCR_SYSRESETREQ;
    __asm volatile("dsb" : : : "memory");
    for (;;) {
        /* the reset takes a few cycles */
    }
}

void cm_pre_reset_set(void (*fn)(void))
{
    pre_reset = fn;
}

void hal_sys_reboot(void)
{
    if (pre_reset != NULL) {
        pre_reset();
    }
    cm_sys_reset(HAL_SYS_RESET_SOFT);
}

void hal_sys_get_identity(struct hal_sys_identity *out)
{
    *out = board_identity;
}

void hal_sys_get_heap(struct hal_sys_heap *out)
{
    /* The firmware has no heap on the target. */
    out->free_bytes = 0;
    out->min_free_bytes = 0;
    out->largest_free_block = 0;
    out->failed_allocs = 0;
}

enum hal_sys_reset_cause hal_sys_get_reset_cause(void)
{
    return start_cause;
}

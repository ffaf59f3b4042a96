/*
 * System services on the MPS2-AN386: reset (SYSRESETREQ), the reset cause
 * kept across resets in .noinit RAM, the CMSDK watchdog, faults, identity.
 */
#include "hal_sys.h"

#include "board_mps2_an386.h"
#include "cm.h"
#include "cm_port.h"

static struct {
    bool wdog_armed;
} S;

void cm_sys_init(void)
{
    /* No note: power-on (or a reset from outside, e.g. QEMU's system_reset). */
    cm_reset_cause_init(HAL_SYS_RESET_POWER_ON);
    S.wdog_armed = false;
}

/* ------------------------------------------------------------------------- */
/* Watchdog                                                                  */
/* ------------------------------------------------------------------------- */

#define WDOG(off) CM_REG(BOARD_WDOG_BASE + (off))

/*
 * The CMSDK watchdog raises its interrupt (wired to NMI) when the counter
 * reaches zero; cm_isr_nmi resets with HAL_SYS_RESET_WATCHDOG. RESEN also
 * lets the hardware reset on the second expiry should NMI handling fail.
 * It is armed by the first kick, so an app that never kicks is never reset.
 */
void hal_sys_watchdog_kick(void)
{
    uint32_t key = cm_irq_save();
    WDOG(CMSDK_WDOG_LOCK) = CMSDK_WDOG_UNLOCK_KEY;
    if (!S.wdog_armed) {
        WDOG(CMSDK_WDOG_LOAD) = BOARD_WDOG_CLK_HZ / 1000u * BOARD_WDOG_TIMEOUT_MS;
        WDOG(CMSDK_WDOG_CTRL) = CMSDK_WDOG_CTRL_INTEN | CMSDK_WDOG_CTRL_RESEN;
        S.wdog_armed = true;
    } else {
        WDOG(CMSDK_WDOG_INTCLR) = 1u; /* clears the interrupt and reloads the counter */
    }
    WDOG(CMSDK_WDOG_LOCK) = 0u;
    cm_irq_restore(key);
}

/* ------------------------------------------------------------------------- */
/* Faults                                                                    */
/* ------------------------------------------------------------------------- */

static void put_dec(char *buf, size_t cap, int v)
{
    char tmp[12];
    size_t n = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do {
        tmp[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u != 0u && n < sizeof tmp);
    size_t o = 0;
    if (v < 0 && o + 1u < cap) {
        buf[o++] = '-';
    }
    while (n > 0u && o + 1u < cap) {
        buf[o++] = tmp[--n];
    }
    buf[o] = '\0';
}

static void stop_here(void)
{
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
    /* BKPT with no debugger attached escalates to HardFault: only with one. */
    if ((CM_DHCSR & CM_DHCSR_C_DEBUGEN) != 0u) {
        __asm volatile("bkpt #0");
    }
#endif /* ARMv7-M; on ARMv6-M software cannot read DHCSR, so no breakpoint */
}

void cm_sys_panic(const char *what)
{
    __asm volatile("cpsid i" : : : "memory");
    cm_console_write_polled("\r\nFAULT: ");
    cm_console_write_polled(what);
    cm_console_write_polled(", resetting\r\n");
    stop_here();
    cm_sys_reset(HAL_SYS_RESET_FAULT);
}

void hal_sys_fault(const char *file, int line)
{
    char num[12];
    __asm volatile("cpsid i" : : : "memory");
    put_dec(num, sizeof num, line);
    cm_console_write_polled("\r\nASSERT: ");
    cm_console_write_polled(file != NULL ? file : "?");
    cm_console_write_polled(":");
    cm_console_write_polled(num);
    cm_console_write_polled(", resetting\r\n");
    stop_here();
    cm_sys_reset(HAL_SYS_RESET_FAULT);
}

bool hal_sys_should_stop(void)
{
    return false; /* the target's app loop runs until reset */
}

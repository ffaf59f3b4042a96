/*
 * System services on the STM32F405: reset (SYSRESETREQ), the reset cause
 * (a note kept across resets in .noinit RAM for the resets the firmware asks
 * for, else RCC_CSR's flags, RM0090 §7.3.21), the independent watchdog
 * (RM0090 §21), faults, identity.
 *
 * QEMU build: QEMU 7.2 does not model the IWDG (nor the RCC: RCC_CSR reads 0,
 * so a reset from outside reads as power-on). The watchdog's stand-in is a
 * millisecond countdown run by the 1 kHz tick (hal_time.c): at zero it resets
 * with HAL_SYS_RESET_WATCHDOG, as the MPS2 images' CMSDK watchdog does.
 */
#include "hal_sys.h"

#include "stm32_board.h"
#include "cm.h"
#include "cm_port.h"

static struct {
    bool wdog_armed;
#ifdef ML_STM32_QEMU
    volatile uint32_t wdog_left_ms;
#endif
} S;

void cm_sys_init(void)
{
    uint32_t csr = RCC_CSR;
    RCC_CSR = csr | RCC_CSR_RMVF; /* the flags of this reset are read: clear them */
    /* without the firmware's note (cm_reset.c), the reset flags say */
    if ((csr & (RCC_CSR_IWDGRSTF | RCC_CSR_WWDGRSTF)) != 0u) {
        cm_reset_cause_init(HAL_SYS_RESET_WATCHDOG);
    } else if ((csr & RCC_CSR_SFTRSTF) != 0u) {
        cm_reset_cause_init(HAL_SYS_RESET_SOFT); /* SYSRESETREQ without our note (a debugger) */
    } else {
        cm_reset_cause_init(HAL_SYS_RESET_POWER_ON); /* POR/BOR, the reset pin, or QEMU */
    }
    S.wdog_armed = false;
}

/* ------------------------------------------------------------------------- */
/* Watchdog: armed by the first kick, as on the other ports                  */
/* ------------------------------------------------------------------------- */

#ifndef ML_STM32_QEMU
#define IWDG(off) STM32_REG(STM32_IWDG_BASE + (off))

/* Prescaler /64 (PR 4): 2 ms per count at 32 kHz, 12-bit reload up to 8.2 s. */
#define IWDG_PR_DIV64 4u
#define IWDG_RELOAD                                                                                \
    ((BOARD_WDOG_TIMEOUT_MS * (IWDG_LSI_HZ / 1000u) / 64u) > 0xFFFu                                \
         ? 0xFFFu                                                                                  \
         : (BOARD_WDOG_TIMEOUT_MS * (IWDG_LSI_HZ / 1000u) / 64u))

void hal_sys_watchdog_kick(void)
{
    if (!S.wdog_armed) {
        IWDG(IWDG_KR) = IWDG_KEY_ACCESS;
        IWDG(IWDG_PR) = IWDG_PR_DIV64;
        IWDG(IWDG_RLR) = IWDG_RELOAD;
        while ((IWDG(IWDG_SR) & 3u) != 0u) {
            /* PVU/RVU: the values cross into the LSI domain */
        }
        IWDG(IWDG_KR) = IWDG_KEY_START; /* starts the LSI too */
        S.wdog_armed = true;
    }
    IWDG(IWDG_KR) = IWDG_KEY_RELOAD;
}
#else
void hal_sys_watchdog_kick(void)
{
    S.wdog_left_ms = BOARD_WDOG_TIMEOUT_MS;
    S.wdog_armed = true;
}

void stm32_wdog_standin_tick(void)
{
    if (S.wdog_armed && S.wdog_left_ms > 0u && --S.wdog_left_ms == 0u) {
        cm_console_write_polled("\r\nWATCHDOG: not kicked, resetting\r\n");
        cm_sys_reset(HAL_SYS_RESET_WATCHDOG);
    }
}
#endif

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
    if ((CM_DHCSR & CM_DHCSR_C_DEBUGEN) != 0u) {
        __asm volatile("bkpt #0");
    }
#endif /* ARMv6-M software cannot read DHCSR: no breakpoint */
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
    return false;
}

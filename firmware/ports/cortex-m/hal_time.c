/*
 * Time on Cortex-M: the clock is CMSDK APB TIMER0, free-running down from
 * 0xFFFFFFFF at the 25 MHz APB clock; every read adds the counts since the
 * previous read (modulo 2^32) to a 64-bit (ms, µs, counts) clock. SysTick
 * interrupts at 1 kHz wake the WFI sleep and read the clock, so no 171 s wrap
 * is ever missed. Counting SysTick interrupts instead would lose milliseconds
 * whenever interrupts are delayed (under QEMU: when the host starves the vCPU,
 * a pending SysTick is set again before it was taken); the timer's counter
 * stays right (QEMU derives it from its virtual clock on every read).
 */
#include "hal_time.h"

#include <stdbool.h>
#include <stddef.h>

#include "board_mps2_an386.h"
#include "cm.h"
#include "cm_port.h"
#include "err.h"

#define TICK_HZ       1000u
#define TICK_RELOAD   (BOARD_SYSCLK_HZ / TICK_HZ - 1u)
#define COUNTS_PER_US (BOARD_SYSCLK_HZ / 1000000u)

_Static_assert(BOARD_SYSCLK_HZ % TICK_HZ == 0, "SysTick must divide into whole milliseconds");
_Static_assert(TICK_RELOAD <= 0x00FFFFFFu, "SysTick reload is 24 bits");
_Static_assert(BOARD_SYSCLK_HZ % 1000000u == 0, "whole timer counts per microsecond");

#define TIMER_REG(off) CM_REG(BOARD_TIMER0_BASE + (off))

static struct {
    uint32_t last_raw;   /* TIMER0 VALUE at the last read */
    uint32_t rem_counts; /* counts not yet a whole µs (< COUNTS_PER_US) */
    uint32_t us_in_ms;   /* 0..999 */
    uint64_t ms;         /* milliseconds since cm_time_init() */
    volatile bool event; /* an ISR brought work (cm_event_signal) */
} T;

void cm_time_init(void)
{
    T.last_raw = 0xFFFFFFFFu;
    T.rem_counts = 0;
    T.us_in_ms = 0;
    T.ms = 0;
    T.event = false;
    TIMER_REG(CMSDK_TIMER_CTRL) = 0u;
    TIMER_REG(CMSDK_TIMER_RELOAD) = 0xFFFFFFFFu;
    TIMER_REG(CMSDK_TIMER_VALUE) = 0xFFFFFFFFu;
    TIMER_REG(CMSDK_TIMER_CTRL) = CMSDK_TIMER_CTRL_EN; /* no interrupt: read only */
    CM_SYST_CSR = 0;
    CM_SYST_RVR = TICK_RELOAD;
    CM_SYST_CVR = 0;
    CM_SYST_CSR = CM_SYST_CSR_CLKSRC | CM_SYST_CSR_TICKINT | CM_SYST_CSR_ENABLE;
}

/*
 * Bring the clock up to the timer and return the milliseconds; *us_in_ms gets
 * the microseconds inside. 32-bit arithmetic only (ARMv6-M has no divider):
 * between two reads at most one SysTick period passes, far below 2^32 counts.
 */
static uint64_t now_ms_us(uint32_t *us_in_ms)
{
    uint32_t key = cm_irq_save();
    uint32_t raw = TIMER_REG(CMSDK_TIMER_VALUE);
    uint32_t c = T.rem_counts + (T.last_raw - raw); /* down counter, modulo 2^32 */
    T.last_raw = raw;
    T.rem_counts = c % COUNTS_PER_US;
    uint32_t us = T.us_in_ms + c / COUNTS_PER_US;
    if (us >= 1000u) {
        T.ms += us / 1000u;
        us %= 1000u;
    }
    T.us_in_ms = us;
    uint64_t ms = T.ms;
    cm_irq_restore(key);
    *us_in_ms = us;
    return ms;
}

void cm_isr_systick(void);
void cm_isr_systick(void)
{
    uint32_t us;
    (void)now_ms_us(&us); /* keeps the clock's 32-bit window short */
}

void cm_event_signal(void)
{
    T.event = true;
}

uint64_t hal_time_ms(void)
{
    uint32_t us;
    return now_ms_us(&us);
}

uint64_t hal_time_us(void)
{
    uint32_t us;
    uint64_t ms = now_ms_us(&us);
    return ms * 1000u + us;
}

static int64_t (*utc_source)(void);

void cm_utc_source_set(int64_t (*fn)(void))
{
    utc_source = fn;
}

int64_t hal_time_utc(void)
{
    /* No RTC on the board: UTC comes from the image's source (SNTP), if any. */
    return utc_source != NULL ? utc_source() : ML_EAGAIN;
}

/*
 * Race-free sleep: with PRIMASK set, check the condition, then WFI. An
 * interrupt that became pending after the check still wakes WFI (PRIMASK only
 * delays taking it), and is taken as soon as PRIMASK clears. SysTick wakes
 * us every millisecond, so the deadline is seen within 1 ms.
 */
static void (*idle_hook)(void);

void cm_idle_hook_set(void (*fn)(void))
{
    idle_hook = fn;
}

void hal_time_wait_until(uint64_t deadline_ms)
{
    if (idle_hook != NULL) {
        idle_hook();
    }
    for (;;) {
        uint32_t key = cm_irq_save();
        if (T.event) {
            T.event = false;
            cm_irq_restore(key);
            return;
        }
        if (hal_time_ms() >= deadline_ms) {
            cm_irq_restore(key);
            return;
        }
        __asm volatile("dsb\n\twfi" : : : "memory");
        cm_irq_restore(key);
    }
}

/*
 * Time on Cortex-M: SysTick interrupts at 1 kHz and counts milliseconds; the
 * current SysTick value gives the microseconds inside the millisecond. The
 * app loop sleeps in WFI between deadlines.
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

static struct {
    volatile uint64_t ms; /* SysTick interrupts taken since boot */
    volatile bool event;  /* an ISR brought work (cm_event_signal) */
} T;

void cm_time_init(void)
{
    T.ms = 0;
    T.event = false;
    CM_SYST_CSR = 0;
    CM_SYST_RVR = TICK_RELOAD;
    CM_SYST_CVR = 0;
    CM_SYST_CSR = CM_SYST_CSR_CLKSRC | CM_SYST_CSR_TICKINT | CM_SYST_CSR_ENABLE;
}

void cm_isr_systick(void);
void cm_isr_systick(void)
{
    T.ms = T.ms + 1u;
}

void cm_event_signal(void)
{
    T.event = true;
}

/*
 * A consistent (milliseconds, counts into the millisecond) pair. With
 * interrupts masked the tick cannot advance under us, but SysTick may have
 * wrapped without its interrupt having run yet (PENDSTSET): then count that
 * millisecond and re-read the counter, which is now past the wrap. This also
 * holds inside a higher-priority ISR or with PRIMASK set by the caller.
 */
static uint64_t now_counts(uint32_t *counts)
{
    uint32_t key = cm_irq_save();
    uint64_t ms = T.ms;
    uint32_t val = CM_SYST_CVR;
    if ((CM_SCB_ICSR & CM_SCB_ICSR_PENDSTSET) != 0u) {
        val = CM_SYST_CVR;
        ms++;
    }
    cm_irq_restore(key);
    *counts = TICK_RELOAD - val;
    return ms;
}

uint64_t hal_time_ms(void)
{
    uint32_t counts;
    return now_counts(&counts);
}

uint64_t hal_time_us(void)
{
    uint32_t counts;
    uint64_t ms = now_counts(&counts);
    return ms * 1000u + counts / COUNTS_PER_US;
}

int64_t hal_time_utc(void)
{
    /* No RTC on the board and no SNTP until the co-processor client exists. */
    return ML_EAGAIN;
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

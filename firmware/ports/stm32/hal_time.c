/*
 * Time on the STM32 boards: the clock is TIM2 counting up at 1 MHz,
 * free-running; every read adds the counts since the previous read (modulo the
 * counter's width, BOARD_TIM2_MASK: 32 bits on the F405, 16 on the L072) to a
 * 64-bit (ms, µs) clock. SysTick interrupts at 1 kHz (processor clock) wake
 * the WFI sleep and read the clock, so no wrap (71 minutes; 65 ms on the L072)
 * is missed while interrupts run. Counting SysTick interrupts instead would lose milliseconds
 * whenever interrupts are delayed (under QEMU, when the host starves the vCPU); the timer's counter
 * stays right.
 *
 * QEMU 7.2 (hw/timer/stm32f2xx_timer.c) derives CNT from its virtual clock at
 * 48 MHz / (PSC + 1), but its update interrupt misfires once ARR is written:
 * the QEMU build never writes ARR (nor enables the interrupt). On the chip,
 * TIM2 runs at 84 MHz (APB1 x2) and ARR is set to its reset value 0xFFFFFFFF.
 */
#include "hal_time.h"

#include <stdbool.h>
#include <stddef.h>

#include "stm32_board.h"
#include "cm.h"
#include "cm_port.h"
#include "err.h"
#include "stm32_port.h"

#define TICK_HZ     1000u
#define TICK_RELOAD (BOARD_SYSCLK_HZ / TICK_HZ - 1u)

_Static_assert(BOARD_SYSCLK_HZ % TICK_HZ == 0, "SysTick must divide into whole milliseconds");
_Static_assert(TICK_RELOAD <= 0x00FFFFFFu, "SysTick reload is 24 bits");

static struct {
    uint32_t last_raw;   /* TIM2 CNT at the last read */
    uint32_t us_in_ms;   /* 0..999 */
    uint64_t ms;         /* milliseconds since cm_time_init() */
    volatile bool event; /* an ISR brought work (cm_event_signal) */
} T;

void cm_time_init(void)
{
    T.us_in_ms = 0;
    T.ms = 0;
    T.event = false;
    TIM2_REG(TIM_CR1) = 0u;
    TIM2_REG(TIM_PSC) = BOARD_TIM2_PSC;
#ifndef ML_STM32_QEMU
    TIM2_REG(TIM_ARR) = BOARD_TIM2_MASK; /* its reset value: the full count */
#endif
    TIM2_REG(TIM_EGR) = TIM_EGR_UG;  /* load PSC (preloaded) and zero the counter */
    TIM2_REG(TIM_CR1) = TIM_CR1_CEN; /* no interrupt: read only */
    T.last_raw = TIM2_REG(TIM_CNT);
    CM_SYST_CSR = 0;
    CM_SYST_RVR = TICK_RELOAD;
    CM_SYST_CVR = 0;
    CM_SYST_CSR = CM_SYST_CSR_CLKSRC | CM_SYST_CSR_TICKINT | CM_SYST_CSR_ENABLE;
}

static uint64_t now_ms_us(uint32_t *us_in_ms)
{
    uint32_t key = cm_irq_save();
    uint32_t raw = TIM2_REG(TIM_CNT);
    uint32_t us = T.us_in_ms + ((raw - T.last_raw) & BOARD_TIM2_MASK); /* up counter, wraps */
    T.last_raw = raw;
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
#ifdef ML_STM32_QEMU
    stm32_wdog_standin_tick();
#endif
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
    /* The RTC is not used: UTC comes from the image's source (SNTP), if any. */
    return utc_source != NULL ? utc_source() : ML_EAGAIN;
}

static void (*idle_hook)(void);

void cm_idle_hook_set(void (*fn)(void))
{
    idle_hook = fn;
}

/* Race-free sleep as on the MPS2 port: check with PRIMASK set, then WFI. */
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

/*
 * Start-up for Cortex-M (C only): the vector table, the reset handler that
 * copies .data and zeroes .bss, and the default exception handlers.
 *
 * The vector table sits in its own .isr_vector section which the linker
 * script places at address 0 (VTOR's reset value), and EXTERN()s so that it is
 * pulled out of the port's static library.
 */
#include <stdint.h>

#include "board_mps2_an386.h"
#include "cm.h"

/* Symbols from the linker script (mps2_an386.ld). */
extern uint32_t cm_ld_sidata[]; /* .data load address (code RAM) */
extern uint32_t cm_ld_sdata[];
extern uint32_t cm_ld_edata[];
extern uint32_t cm_ld_sbss[];
extern uint32_t cm_ld_ebss[];
extern uint32_t cm_ld_estack[];

int main(void);

typedef void (*cm_vector_fn)(void);

void cm_isr_reset(void);
void cm_isr_nmi(void);
void cm_isr_hardfault(void);
void cm_isr_default(void);
void cm_isr_systick(void);

/* ------------------------------------------------------------------------- */
/* Reset                                                                     */
/* ------------------------------------------------------------------------- */

/*
 * Runs on the initial stack from vector 0 before .data/.bss exist: it must not
 * touch a global until the copy and the zeroing are done. The word loops are
 * volatile so that GCC does not turn them into memcpy/memset calls (which
 * could use the FPU before it is enabled).
 */
void cm_isr_reset(void)
{
#if defined(__ARM_FP)
    /* Hard-float code may touch s0..s31 anywhere: grant CP10/CP11 first. */
    CM_SCB_CPACR |= (0xFu << 20);
    __asm volatile("dsb\n\tisb" : : : "memory");
#endif
    volatile uint32_t *src = cm_ld_sidata;
    volatile uint32_t *dst = cm_ld_sdata;
    while (dst < cm_ld_edata) {
        *dst++ = *src++;
    }
    for (dst = cm_ld_sbss; dst < cm_ld_ebss;) {
        *dst++ = 0u;
    }

    cm_sys_init();
    cm_uart_init();
    cm_time_init();
    __asm volatile("cpsie i" : : : "memory");

    (void)main();
    /* An app loop that returns on the target is a bug: restart cleanly. */
    cm_sys_panic("main returned");
}

/* ------------------------------------------------------------------------- */
/* Exceptions                                                                */
/* ------------------------------------------------------------------------- */

/* NMI: on this board the CMSDK watchdog's interrupt (the app stopped kicking). */
void cm_isr_nmi(void)
{
    cm_console_write_polled("\r\nWATCHDOG: not kicked, resetting\r\n");
    cm_sys_reset(HAL_SYS_RESET_WATCHDOG);
}

void cm_isr_hardfault(void)
{
    cm_sys_panic("hard fault");
}

/* Any exception or interrupt we did not expect to enable. */
void cm_isr_default(void)
{
    cm_sys_panic("unexpected interrupt");
}

/* ------------------------------------------------------------------------- */
/* UART interrupts: one small entry per line, so handlers need not decode    */
/* IPSR. Indices are hardware UARTs (board_uart_hw).                          */
/* ------------------------------------------------------------------------- */

#define UART_ISRS(n)                                                                               \
    static void uart##n##_rx_isr(void)                                                             \
    {                                                                                              \
        cm_uart_rx_isr(n);                                                                         \
    }                                                                                              \
    static void uart##n##_tx_isr(void)                                                             \
    {                                                                                              \
        cm_uart_tx_isr(n);                                                                         \
    }

UART_ISRS(0)
UART_ISRS(1)
UART_ISRS(2)
UART_ISRS(3)
UART_ISRS(4)

/* ------------------------------------------------------------------------- */
/* The vector table                                                          */
/* ------------------------------------------------------------------------- */

#define CM_IRQ(n) (16u + (n))

__attribute__((section(".isr_vector"), used))
const cm_vector_fn cm_vector_table[16u + BOARD_IRQ_COUNT] = {
    [0] = (cm_vector_fn)(uintptr_t)cm_ld_estack, /* initial MSP */
    [1] = cm_isr_reset,
    [2] = cm_isr_nmi,
    [3] = cm_isr_hardfault,
    [4] = cm_isr_hardfault, /* MemManage (ARMv7-M) */
    [5] = cm_isr_hardfault, /* BusFault (ARMv7-M) */
    [6] = cm_isr_hardfault, /* UsageFault (ARMv7-M) */
    [11] = cm_isr_default,  /* SVCall: unused */
    [12] = cm_isr_default,  /* DebugMonitor: unused */
    [14] = cm_isr_default,  /* PendSV: unused */
    [15] = cm_isr_systick,
    [CM_IRQ(0)] = uart0_rx_isr,
    [CM_IRQ(1)] = uart0_tx_isr,
    [CM_IRQ(2)] = uart1_rx_isr,
    [CM_IRQ(3)] = uart1_tx_isr,
    [CM_IRQ(4)] = uart2_rx_isr,
    [CM_IRQ(5)] = uart2_tx_isr,
    [CM_IRQ(18)] = uart3_rx_isr,
    [CM_IRQ(19)] = uart3_tx_isr,
    [CM_IRQ(20)] = uart4_rx_isr,
    [CM_IRQ(21)] = uart4_tx_isr,
    /* Every other IRQ line is never enabled; cm_isr_default is filled in below. */
    [CM_IRQ(6)... CM_IRQ(17)] = cm_isr_default,
    [CM_IRQ(22)... CM_IRQ(BOARD_IRQ_COUNT - 1u)] = cm_isr_default,
};

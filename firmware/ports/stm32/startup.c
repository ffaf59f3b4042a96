/*
 * Start-up of the STM32F405 port: the vector table (16 system exceptions and
 * the 82 interrupts of RM0090 table 62), the reset handler and the default
 * handlers. The table sits at 0x08000000 (flash sector 0), which the chip
 * aliases at 0 when it boots from main flash (QEMU does the same).
 */
#include <stdint.h>

#include "board_stm32f405.h"
#include "cm.h"
#include "stm32_port.h"

extern uint32_t cm_ld_sidata[];
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

void cm_isr_reset(void)
{
#if defined(__ARM_FP)
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

    stm32_clock_init();
    cm_sys_init();
    stm32_uart_init();
    cm_time_init();
    __asm volatile("cpsie i" : : : "memory");

    (void)main();
    cm_sys_panic("main returned");
}

void cm_isr_nmi(void)
{
    cm_sys_panic("NMI");
}

void cm_isr_hardfault(void)
{
    cm_sys_panic("hard fault");
}

void cm_isr_default(void)
{
    cm_sys_panic("unexpected interrupt");
}

#define UART_ISR(n)                                                                                \
    static void uart##n##_isr(void)                                                                \
    {                                                                                              \
        stm32_uart_isr(n);                                                                         \
    }
UART_ISR(0)
UART_ISR(1)
UART_ISR(2)
UART_ISR(3)
UART_ISR(4)

#define IRQ(n) (16u + (n))

__attribute__((section(".isr_vector"), used))
const cm_vector_fn cm_vector_table[16u + STM32_IRQ_COUNT] = {
    [0] = (cm_vector_fn)(uintptr_t)cm_ld_estack,
    [1] = cm_isr_reset,
    [2] = cm_isr_nmi,
    [3] = cm_isr_hardfault,
    [4] = cm_isr_hardfault, /* MemManage */
    [5] = cm_isr_hardfault, /* BusFault */
    [6] = cm_isr_hardfault, /* UsageFault */
    [11] = cm_isr_default,
    [12] = cm_isr_default,
    [14] = cm_isr_default,
    [15] = cm_isr_systick,
    [IRQ(STM32_IRQ_USART1)] = uart0_isr,
    [IRQ(STM32_IRQ_USART2)] = uart1_isr,
    [IRQ(STM32_IRQ_USART3)] = uart2_isr,
    [IRQ(STM32_IRQ_UART4)] = uart3_isr,
    [IRQ(STM32_IRQ_UART5)] = uart4_isr,
    /* every other line is never enabled */
    [IRQ(0)... IRQ(36)] = cm_isr_default,
    [IRQ(40)... IRQ(51)] = cm_isr_default,
    [IRQ(54)... IRQ(STM32_IRQ_COUNT - 1u)] = cm_isr_default,
};
_Static_assert(STM32_IRQ_USART1 == 37u && STM32_IRQ_USART3 == 39u && STM32_IRQ_UART4 == 52u &&
                   STM32_IRQ_UART5 == 53u,
               "the default ranges above skip exactly the lines in use");

/*
 * Start-up of the STM32L072 build: the vector table (16 system exceptions and
 * the 32 interrupts of RM0376 table 56), the reset handler and the default
 * handlers. USART4 and USART5 share interrupt 14.
 */
#include <stdint.h>

#include "board_stm32l072.h"
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

static void usart1_isr(void)
{
    stm32_uart_isr(0);
}

static void usart2_isr(void)
{
    stm32_uart_isr(1);
}

static void usart4_5_isr(void)
{
    stm32_uart_isr(2);
    stm32_uart_isr(3);
}

#define IRQ(n) (16u + (n))

__attribute__((section(".isr_vector"), used))
const cm_vector_fn cm_vector_table[16u + STM32_IRQ_COUNT] = {
    [0] = (cm_vector_fn)(uintptr_t)cm_ld_estack,
    [1] = cm_isr_reset,
    [2] = cm_isr_nmi,
    [3] = cm_isr_hardfault,
    [11] = cm_isr_default, /* SVCall */
    [14] = cm_isr_default, /* PendSV */
    [15] = cm_isr_systick,
    [IRQ(STM32_IRQ_USART4_5)] = usart4_5_isr,
    [IRQ(STM32_IRQ_USART1)] = usart1_isr,
    [IRQ(STM32_IRQ_USART2)] = usart2_isr,
    [IRQ(0)... IRQ(13)] = cm_isr_default,
    [IRQ(15)... IRQ(26)] = cm_isr_default,
    [IRQ(29)... IRQ(STM32_IRQ_COUNT - 1u)] = cm_isr_default,
};
_Static_assert(STM32_IRQ_USART4_5 == 14u && STM32_IRQ_USART1 == 27u && STM32_IRQ_USART2 == 28u,
               "the default ranges above skip exactly the lines in use");

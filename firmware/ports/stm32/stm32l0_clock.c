/*
 * Clocks of the STM32L072 (RM0376 §6.1.5, §7.2, §3.3.4): voltage range 1,
 * one flash wait state, HSI16 -> PLL x4 /2 -> 32 MHz, then the switch; and the
 * clock enables of the peripherals the port uses.
 */
#include "board_stm32l072.h"

void stm32_clock_init(void)
{
    RCC_APB1ENR |= RCC_APB1ENR_PWR;
    PWR_CR = (PWR_CR & ~PWR_CR_VOS_M) | PWR_CR_VOS_R1;
    while ((PWR_CSR & PWR_CSR_VOSF) != 0u) {
    }
    FLASH_ACR = FLASH_ACR_LATENCY | FLASH_ACR_PRFTEN;
    RCC_CR |= RCC_CR_HSI16ON;
    while ((RCC_CR & RCC_CR_HSI16RDYF) == 0u) {
    }
    RCC_CFGR = RCC_CFGR_PLLSRC_HSI16 | RCC_CFGR_PLLMUL4 | RCC_CFGR_PLLDIV2;
    RCC_CR |= RCC_CR_PLLON;
    while ((RCC_CR & RCC_CR_PLLRDY) == 0u) {
    }
    RCC_CFGR |= RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_M) != RCC_CFGR_SWS_PLL) {
    }
    uint32_t apb1 = RCC_APB1ENR_TIM2 | RCC_APB1ENR_PWR;
    uint32_t apb2 = 0u;
    for (unsigned i = 0; i < BOARD_UART_HW_COUNT; i++) {
        apb1 |= board_uart_hw[i].rcc_apb1;
        apb2 |= board_uart_hw[i].rcc_apb2;
    }
    RCC_IOPENR |= 0x8Fu; /* GPIOA..E, H */
    RCC_APB1ENR |= apb1;
    RCC_APB2ENR |= apb2;
    (void)RCC_APB2ENR;
}

/*
 * Clocks of the STM32F405 (RM0090 §6.3, §3.5.1): HSE 8 MHz -> PLL -> 168 MHz,
 * flash wait states first, then the bus prescalers, then the switch; and the
 * clock enables of the peripherals the port uses. Hardware build only: QEMU
 * 7.2 does not model the RCC (its reads return 0, so HSERDY never rises), and
 * its netduinoplus2 runs at 168 MHz from the start (board_stm32f405.h).
 */
#include "board_stm32f405.h"

#ifndef ML_STM32_QEMU
void stm32_clock_init(void)
{
    RCC_CR |= RCC_CR_HSEON;
    while ((RCC_CR & RCC_CR_HSERDY) == 0u) {
    }
    /* 8 MHz / M 8 = 1 MHz VCO input; x N 336 = 336 MHz; / P 2 = 168 MHz; / Q 7 = 48 MHz */
    RCC_PLLCFGR = RCC_PLLCFGR_M(8u) | RCC_PLLCFGR_N(336u) | RCC_PLLCFGR_P(2u) |
                  RCC_PLLCFGR_SRC_HSE | RCC_PLLCFGR_Q(7u);
    RCC_CR |= RCC_CR_PLLON;
    while ((RCC_CR & RCC_CR_PLLRDY) == 0u) {
    }
    /* 168 MHz at 2.7..3.6 V: 5 wait states (RM0090 §3.5.1, table 10) */
    FLASH_ACR = FLASH_ACR_LATENCY(5u) | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    RCC_CFGR = RCC_CFGR_HPRE_DIV1 | RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2 | RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_M) != RCC_CFGR_SWS_PLL) {
    }
    uint32_t apb1 = RCC_APB1ENR_TIM2 | RCC_APB1ENR_PWR;
    uint32_t apb2 = 0u;
    for (unsigned i = 0; i < BOARD_UART_HW_COUNT; i++) {
        apb1 |= board_uart_hw[i].rcc_apb1;
        apb2 |= board_uart_hw[i].rcc_apb2;
    }
    RCC_AHB1ENR |= 0x1FFu; /* GPIOA..GPIOI */
    RCC_APB1ENR |= apb1;
    RCC_APB2ENR |= apb2;
    (void)RCC_APB2ENR; /* a read-back: the enables take effect before the first access */
}
#else
void stm32_clock_init(void)
{
    /* QEMU: no RCC; the machine's clocks are fixed at the numbers above. */
}
#endif

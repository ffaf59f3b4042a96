/**
 * @file stm32l0.h
 * @brief STM32L072 registers this port uses, written from the reference
 * manual RM0376 (STM32L0x2) and the STM32L072xx datasheet: memory map (RM0376
 * §2.2), RCC (§7.3), PWR (§6.4), flash and data EEPROM interface (§3.7), and
 * the interrupt numbers (§13.3, table 56). GPIO, IWDG and TIM2 are laid out
 * as on the F4 (stm32_common.h); the USART is STM32_USART_V2 (stm32_usart.h).
 * No vendor header is used. Only the files of firmware/ports/stm32 include it.
 */
#ifndef FIRMWARE_PORTS_STM32_STM32L0_H
#define FIRMWARE_PORTS_STM32_STM32L0_H

#include <stdint.h>

#include "stm32_common.h"

#define STM32_FLASH_BASE  0x08000000u /* program memory, 192 KiB on the L072CZ */
#define STM32_EEPROM_BASE 0x08080000u /* data EEPROM, 6 KiB on the L072 */
#define STM32_SRAM_BASE   0x20000000u /* 20 KiB */
#define STM32_USART2      0x40004400u
#define STM32_USART4      0x40004C00u
#define STM32_USART5      0x40005000u
#define STM32_PWR_BASE    0x40007000u
#define STM32_USART1      0x40013800u
#define STM32_RCC_BASE    0x40021000u
#define STM32_FLASH_IF    0x40022000u
#define STM32_GPIO_BASE   0x50000000u /* IOPORT: GPIOA; port n at + 0x400 * n */

#define STM32_IRQ_USART4_5 14u
#define STM32_IRQ_USART1   27u
#define STM32_IRQ_USART2   28u
#define STM32_IRQ_COUNT    32u

/* RCC (§7.3) */
#define RCC_CR                STM32_REG(STM32_RCC_BASE + 0x00u)
#define RCC_CR_HSI16ON        (1u << 0)
#define RCC_CR_HSI16RDYF      (1u << 2)
#define RCC_CR_PLLON          (1u << 24)
#define RCC_CR_PLLRDY         (1u << 25)
#define RCC_CFGR              STM32_REG(STM32_RCC_BASE + 0x0Cu)
#define RCC_CFGR_SW_PLL       (3u << 0)
#define RCC_CFGR_SWS_M        (3u << 2)
#define RCC_CFGR_SWS_PLL      (3u << 2)
#define RCC_CFGR_PLLSRC_HSI16 (0u << 16)
#define RCC_CFGR_PLLMUL4      (1u << 18)                        /* PLLMUL[21:18] 0001: x4 */
#define RCC_CFGR_PLLDIV2      (1u << 22)                        /* PLLDIV[23:22] 01: /2 */
#define RCC_IOPENR            STM32_REG(STM32_RCC_BASE + 0x2Cu) /* bit n: GPIO port n */
#define RCC_APB2ENR           STM32_REG(STM32_RCC_BASE + 0x34u)
#define RCC_APB2ENR_USART1    (1u << 14)
#define RCC_APB1ENR           STM32_REG(STM32_RCC_BASE + 0x38u)
#define RCC_APB1ENR_TIM2      (1u << 0)
#define RCC_APB1ENR_USART2    (1u << 17)
#define RCC_APB1ENR_USART4    (1u << 19)
#define RCC_APB1ENR_USART5    (1u << 20)
#define RCC_APB1ENR_PWR       (1u << 28)
#define RCC_CSR               STM32_REG(STM32_RCC_BASE + 0x50u)
#define RCC_CSR_RMVF          (1u << 23)
#define RCC_CSR_PINRSTF       (1u << 26)
#define RCC_CSR_PORRSTF       (1u << 27)
#define RCC_CSR_SFTRSTF       (1u << 28)
#define RCC_CSR_IWDGRSTF      (1u << 29)
#define RCC_CSR_WWDGRSTF      (1u << 30)

/* PWR (§6.4): the core voltage range; 32 MHz needs range 1 */
#define PWR_CR        STM32_REG(STM32_PWR_BASE + 0x00u)
#define PWR_CR_VOS_M  (3u << 11)
#define PWR_CR_VOS_R1 (1u << 11)
#define PWR_CSR       STM32_REG(STM32_PWR_BASE + 0x04u)
#define PWR_CSR_VOSF  (1u << 4)

/* Flash and data EEPROM interface (§3.7) */
#define FLASH_ACR           STM32_REG(STM32_FLASH_IF + 0x00u)
#define FLASH_ACR_LATENCY   (1u << 0) /* one wait state */
#define FLASH_ACR_PRFTEN    (1u << 1)
#define FLASH_PECR          STM32_REG(STM32_FLASH_IF + 0x04u)
#define FLASH_PECR_PELOCK   (1u << 0)
#define FLASH_PECR_FIX      (1u << 8) /* 0: a write erases first when needed (automatic) */
#define FLASH_PEKEYR        STM32_REG(STM32_FLASH_IF + 0x0Cu)
#define FLASH_PEKEY1        0x89ABCDEFu
#define FLASH_PEKEY2        0x02030405u
#define FLASH_SR            STM32_REG(STM32_FLASH_IF + 0x18u)
#define FLASH_SR_BSY        (1u << 0)
#define FLASH_SR_EOP        (1u << 1)
#define FLASH_SR_WRPERR     (1u << 8)
#define FLASH_SR_PGAERR     (1u << 9)
#define FLASH_SR_SIZERR     (1u << 10)
#define FLASH_SR_NOTZEROERR (1u << 16)
#define FLASH_SR_FWWERR     (1u << 17)
#define FLASH_SR_ERRORS                                                                            \
    (FLASH_SR_WRPERR | FLASH_SR_PGAERR | FLASH_SR_SIZERR | FLASH_SR_NOTZEROERR | FLASH_SR_FWWERR)

/* The IWDG's clock (LSI, RM0376 §7.2.5: 37 kHz typical) */
#define IWDG_LSI_HZ 37000u

#endif /* FIRMWARE_PORTS_STM32_STM32L0_H */

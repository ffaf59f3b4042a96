/**
 * @file stm32f4.h
 * @brief STM32F405 registers this port uses, written from the reference
 * manual RM0090 (rev. 19) and the STM32F405xx datasheet (DS8626): memory map
 * (RM0090 §2.3), RCC (§7.3), GPIO (§8.4), flash interface (§3.8)
 * and the interrupt numbers (§12.2, table 62). No vendor
 * header is used. The USART registers are in stm32_usart.h (§30.6).
 *
 * Only the files of firmware/ports/stm32 include this header.
 */
#ifndef FIRMWARE_PORTS_STM32_STM32F4_H
#define FIRMWARE_PORTS_STM32_STM32F4_H

#include <stdint.h>

#include "stm32_common.h"

/* ------------------------------------------------------------------------- */
/* Memory map (RM0090 §2.3, table 1)                                         */
/* ------------------------------------------------------------------------- */

#define STM32_FLASH_BASE 0x08000000u /* main memory, sectors 0..11 (§3.3, table 5) */
#define STM32_SRAM_BASE  0x20000000u /* SRAM1 112 KiB + SRAM2 16 KiB */
#define STM32_USART2     0x40004400u
#define STM32_USART3     0x40004800u
#define STM32_UART4      0x40004C00u
#define STM32_UART5      0x40005000u
#define STM32_USART1     0x40011000u
#define STM32_USART6     0x40011400u
#define STM32_GPIO_BASE  0x40020000u /* GPIOA; port n at + 0x400 * n (A..I) */
#define STM32_RCC_BASE   0x40023800u
#define STM32_FLASH_IF   0x40023C00u /* flash interface registers */

/* ------------------------------------------------------------------------- */
/* Interrupt numbers (§12.2, table 62: position in the vector table - 16)     */
/* ------------------------------------------------------------------------- */

#define STM32_IRQ_USART1 37u
#define STM32_IRQ_USART2 38u
#define STM32_IRQ_USART3 39u
#define STM32_IRQ_UART4  52u
#define STM32_IRQ_UART5  53u
#define STM32_IRQ_USART6 71u
#define STM32_IRQ_COUNT  82u /* 0..81 (FPU = 81) */

/* ------------------------------------------------------------------------- */
/* RCC (§7.3)                                                                */
/* ------------------------------------------------------------------------- */

#define RCC_CR              STM32_REG(STM32_RCC_BASE + 0x00u)
#define RCC_CR_HSEON        (1u << 16)
#define RCC_CR_HSERDY       (1u << 17)
#define RCC_CR_PLLON        (1u << 24)
#define RCC_CR_PLLRDY       (1u << 25)
#define RCC_PLLCFGR         STM32_REG(STM32_RCC_BASE + 0x04u)
#define RCC_PLLCFGR_M(m)    ((uint32_t)(m) << 0)              /* PLLM[5:0] 2..63 */
#define RCC_PLLCFGR_N(n)    ((uint32_t)(n) << 6)              /* PLLN[14:6] 50..432 */
#define RCC_PLLCFGR_P(p)    ((uint32_t)((p) / 2u - 1u) << 16) /* PLLP[17:16]: 2,4,6,8 */
#define RCC_PLLCFGR_SRC_HSE (1u << 22)
#define RCC_PLLCFGR_Q(q)    ((uint32_t)(q) << 24) /* PLLQ[27:24] 2..15 */
#define RCC_CFGR            STM32_REG(STM32_RCC_BASE + 0x08u)
#define RCC_CFGR_SW_PLL     (2u << 0)
#define RCC_CFGR_SWS_M      (3u << 2)
#define RCC_CFGR_SWS_PLL    (2u << 2)
#define RCC_CFGR_HPRE_DIV1  (0u << 4)
#define RCC_CFGR_PPRE1_DIV4 (5u << 10)
#define RCC_CFGR_PPRE2_DIV2 (4u << 13)
#define RCC_AHB1ENR         STM32_REG(STM32_RCC_BASE + 0x30u) /* bit n: GPIO port n */
#define RCC_APB1ENR         STM32_REG(STM32_RCC_BASE + 0x40u)
#define RCC_APB1ENR_TIM2    (1u << 0)
#define RCC_APB1ENR_USART2  (1u << 17)
#define RCC_APB1ENR_USART3  (1u << 18)
#define RCC_APB1ENR_UART4   (1u << 19)
#define RCC_APB1ENR_UART5   (1u << 20)
#define RCC_APB1ENR_PWR     (1u << 28)
#define RCC_APB2ENR         STM32_REG(STM32_RCC_BASE + 0x44u)
#define RCC_APB2ENR_USART1  (1u << 4)
#define RCC_APB2ENR_USART6  (1u << 5)
#define RCC_CSR             STM32_REG(STM32_RCC_BASE + 0x74u)
#define RCC_CSR_LSION       (1u << 0)
#define RCC_CSR_LSIRDY      (1u << 1)
#define RCC_CSR_RMVF        (1u << 24)
#define RCC_CSR_BORRSTF     (1u << 25)
#define RCC_CSR_PINRSTF     (1u << 26)
#define RCC_CSR_PORRSTF     (1u << 27)
#define RCC_CSR_SFTRSTF     (1u << 28)
#define RCC_CSR_IWDGRSTF    (1u << 29)
#define RCC_CSR_WWDGRSTF    (1u << 30)
#define RCC_CSR_LPWRRSTF    (1u << 31)

/* ------------------------------------------------------------------------- */
/* Flash interface (§3.8)                                                    */
/* ------------------------------------------------------------------------- */

#define FLASH_ACR             STM32_REG(STM32_FLASH_IF + 0x00u)
#define FLASH_ACR_LATENCY(ws) ((uint32_t)(ws) << 0)
#define FLASH_ACR_PRFTEN      (1u << 8)
#define FLASH_ACR_ICEN        (1u << 9)
#define FLASH_ACR_DCEN        (1u << 10)
#define FLASH_KEYR            STM32_REG(STM32_FLASH_IF + 0x04u)
#define FLASH_KEY1            0x45670123u
#define FLASH_KEY2            0xCDEF89ABu
#define FLASH_SR              STM32_REG(STM32_FLASH_IF + 0x0Cu)
#define FLASH_SR_EOP          (1u << 0)
#define FLASH_SR_OPERR        (1u << 1)
#define FLASH_SR_WRPERR       (1u << 4)
#define FLASH_SR_PGAERR       (1u << 5)
#define FLASH_SR_PGPERR       (1u << 6)
#define FLASH_SR_PGSERR       (1u << 7)
#define FLASH_SR_BSY          (1u << 16)
#define FLASH_SR_ERRORS                                                                            \
    (FLASH_SR_OPERR | FLASH_SR_WRPERR | FLASH_SR_PGAERR | FLASH_SR_PGPERR | FLASH_SR_PGSERR)
#define FLASH_CR           STM32_REG(STM32_FLASH_IF + 0x10u)
#define FLASH_CR_PG        (1u << 0)
#define FLASH_CR_SER       (1u << 1)
#define FLASH_CR_SNB(n)    ((uint32_t)(n) << 3) /* SNB[6:3] */
#define FLASH_CR_PSIZE_X8  (0u << 8)            /* byte programming: any supply voltage */
#define FLASH_CR_PSIZE_X32 (2u << 8)            /* word: 2.7..3.6 V, what the erase uses */
#define FLASH_CR_STRT      (1u << 16)
#define FLASH_CR_LOCK      (1u << 31)

/* The IWDG's clock (LSI, RM0090 §6.2.5: 32 kHz typical) */
#define IWDG_LSI_HZ 32000u

#endif /* FIRMWARE_PORTS_STM32_STM32F4_H */

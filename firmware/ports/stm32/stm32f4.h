/**
 * @file stm32f4.h
 * @brief STM32F405 registers this port uses, written from the reference
 * manual RM0090 (rev. 19) and the STM32F405xx datasheet (DS8626): memory map
 * (RM0090 §2.3), RCC (§7.3), GPIO (§8.4), flash interface (§3.8), IWDG
 * (§21.4), TIM2 (§18.4) and the interrupt numbers (§12.2, table 62). No vendor
 * header is used. The USART registers are in stm32_usart.h (§30.6).
 *
 * Only the files of firmware/ports/stm32 include this header.
 */
#ifndef FIRMWARE_PORTS_STM32_STM32F4_H
#define FIRMWARE_PORTS_STM32_STM32F4_H

#include <stdint.h>

#define STM32_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* ------------------------------------------------------------------------- */
/* Memory map (RM0090 §2.3, table 1)                                         */
/* ------------------------------------------------------------------------- */

#define STM32_FLASH_BASE 0x08000000u /* main memory, sectors 0..11 (§3.3, table 5) */
#define STM32_SRAM_BASE  0x20000000u /* SRAM1 112 KiB + SRAM2 16 KiB */
#define STM32_TIM2_BASE  0x40000000u
#define STM32_IWDG_BASE  0x40003000u
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
/* GPIO (§8.4): one block per port                                           */
/* ------------------------------------------------------------------------- */

struct stm32_gpio_regs {
    volatile uint32_t MODER;   /* 0x00: 2 bits per pin, 00 in, 01 out, 10 AF */
    volatile uint32_t OTYPER;  /* 0x04 */
    volatile uint32_t OSPEEDR; /* 0x08 */
    volatile uint32_t PUPDR;   /* 0x0C: 01 pull-up */
    volatile uint32_t IDR;     /* 0x10 */
    volatile uint32_t ODR;     /* 0x14 */
    volatile uint32_t BSRR;    /* 0x18: bit n sets pin n, bit n+16 resets it */
    volatile uint32_t LCKR;    /* 0x1C */
    volatile uint32_t AFR[2];  /* 0x20 AFRL (pins 0..7), 0x24 AFRH (8..15): 4 bits per pin */
};
#define GPIO_MODE_IN  0u
#define GPIO_MODE_OUT 1u
#define GPIO_MODE_AF  2u
#define GPIO_PULL_UP  1u

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

/* ------------------------------------------------------------------------- */
/* Independent watchdog (§21.4), clocked by the LSI (~32 kHz)                */
/* ------------------------------------------------------------------------- */

#define IWDG_KR         0x00u
#define IWDG_PR         0x04u /* PR[2:0]: prescaler 4 << PR */
#define IWDG_RLR        0x08u /* RL[11:0] */
#define IWDG_SR         0x0Cu /* PVU bit 0, RVU bit 1: an update is in progress */
#define IWDG_KEY_ACCESS 0x5555u
#define IWDG_KEY_RELOAD 0xAAAAu
#define IWDG_KEY_START  0xCCCCu
#define IWDG_LSI_HZ     32000u

/* ------------------------------------------------------------------------- */
/* TIM2 (§18.4): the free-running 1 MHz clock of hal_time                    */
/* ------------------------------------------------------------------------- */

#define TIM2_REG(off) STM32_REG(STM32_TIM2_BASE + (off))
#define TIM_CR1       0x00u
#define TIM_CR1_CEN   (1u << 0)
#define TIM_DIER      0x0Cu
#define TIM_DIER_UIE  (1u << 0)
#define TIM_SR        0x10u
#define TIM_SR_UIF    (1u << 0) /* rc_w0 */
#define TIM_EGR       0x14u
#define TIM_EGR_UG    (1u << 0)
#define TIM_CNT       0x24u
#define TIM_PSC       0x28u
#define TIM_ARR       0x2Cu

#endif /* FIRMWARE_PORTS_STM32_STM32F4_H */

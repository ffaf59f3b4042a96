/**
 * @file stm32_common.h
 * @brief Registers that the STM32F4 (RM0090) and STM32L0 (RM0376) lay out
 * alike and at the same addresses where a base is given: GPIO ports (RM0090
 * §8.4, RM0376 §9.4), the independent watchdog at 0x40003000 (RM0090 §21.4,
 * RM0376 §24.4) and the general-purpose timer TIM2 at 0x40000000 (RM0090 §18.4,
 * RM0376 §21.4; 32 bits on the F4, 16 on the L0). Included by stm32f4.h and
 * stm32l0.h only.
 */
#ifndef FIRMWARE_PORTS_STM32_STM32_COMMON_H
#define FIRMWARE_PORTS_STM32_STM32_COMMON_H

#include <stdint.h>

#define STM32_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#define STM32_TIM2_BASE 0x40000000u
#define STM32_IWDG_BASE 0x40003000u

/* ------------------------------------------------------------------------- */
/* GPIO: one block per port                                                */
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
/* Independent watchdog, clocked by the LSI (IWDG_LSI_HZ: the chip header) */
/* ------------------------------------------------------------------------- */

#define IWDG_KR         0x00u
#define IWDG_PR         0x04u /* PR[2:0]: prescaler 4 << PR */
#define IWDG_RLR        0x08u /* RL[11:0] */
#define IWDG_SR         0x0Cu /* PVU bit 0, RVU bit 1: an update is in progress */
#define IWDG_KEY_ACCESS 0x5555u
#define IWDG_KEY_RELOAD 0xAAAAu
#define IWDG_KEY_START  0xCCCCu

/* ------------------------------------------------------------------------- */
/* TIM2: the free-running 1 MHz clock of hal_time                          */
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

#endif /* FIRMWARE_PORTS_STM32_STM32_COMMON_H */

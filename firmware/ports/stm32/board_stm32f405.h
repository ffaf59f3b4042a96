/**
 * @file board_stm32f405.h
 * @brief The STM32F405 board of this port: clocks, which USART serves each HAL
 * role, the pins (LEDs, button, RS485 driver enable, P1 data request, RS485
 * termination) and the flash layout. docs/target.md has the tables.
 *
 * Two builds (firmware/ports/stm32/CMakeLists.txt): the hardware build, and
 * the QEMU build (ML_STM32_QEMU, `qemu-system-arm -M netduinoplus2`), where
 * what QEMU 7.2 does not model (RCC, GPIO, IWDG, the flash interface) is
 * replaced by RAM-backed stand-ins.
 */
#ifndef FIRMWARE_PORTS_STM32_BOARD_STM32F405_H
#define FIRMWARE_PORTS_STM32_BOARD_STM32F405_H

#include <stdint.h>

#include "hal_gpio.h"
#include "hal_sys.h"
#include "hal_uart.h"
#include "ml_config.h"
#include "stm32f4.h"

/*
 * Clocks (RM0090 §6): HSE 8 MHz crystal -> PLL (M 8, N 336, P 2, Q 7) ->
 * SYSCLK = HCLK 168 MHz, APB1 42 MHz (USART2/3, UART4/5; timers x2 = 84 MHz),
 * APB2 84 MHz (USART1/6). SysTick runs on HCLK/8 = 21 MHz (RM0090 §6.2).
 * QEMU's netduinoplus2 fixes SYSCLK at 168 MHz and SysTick's reference clock
 * at SYSCLK/8: the same numbers without the RCC.
 */
#define BOARD_HSE_HZ     8000000u
#define BOARD_SYSCLK_HZ  168000000u
#define BOARD_APB1_HZ    42000000u
#define BOARD_APB2_HZ    84000000u
#define BOARD_SYSTICK_HZ (BOARD_SYSCLK_HZ / 8u)

/*
 * TIM2 counts at 1 MHz. Chip: 84 MHz (APB1 timers x2) / (PSC 83 + 1). QEMU
 * 7.2 counts at 1 GHz / (PSC + 1) (its stm32f405_soc.c sets the
 * timers' clock-frequency to 1000000000): PSC 999.
 */
#ifdef ML_STM32_QEMU
#define BOARD_TIM2_PSC 999u
#else
#define BOARD_TIM2_PSC 83u
#endif
#define BOARD_TIM2_MASK 0xFFFFFFFFu /* TIM2 is 32 bits on the F4 */

/* ------------------------------------------------------------------------- */
/* USARTs                                                                    */
/* ------------------------------------------------------------------------- */

#define BOARD_UART_HW_COUNT 5u

/** A GPIO pin: port (0 = A) and number. */
struct board_pin {
    uint8_t port, pin;
};

struct board_uart_hw {
    uintptr_t base;
    uint8_t irq;
    uint32_t pclk_hz;
    struct board_pin tx, rx;
    uint8_t af;                  /**< alternate function of the TX/RX pins (DS8626 table 9) */
    uint32_t rcc_apb1, rcc_apb2; /**< clock enable bits */
};

/** The five USARTs in QEMU's -serial order (serial_hd(i) -> usart[i]). */
extern const struct board_uart_hw board_uart_hw[BOARD_UART_HW_COUNT];

/** HAL role -> board_uart_hw index (CONSOLE=USART1, P1_IN=USART2, ...). */
extern const uint8_t board_uart_of_role[HAL_UART_COUNT];

/* Ring sizes per hardware USART, as on the MPS2 board (same roles, same order). */
#define BOARD_UART0_RX_CAP ML_UART_CONSOLE_RX_CAP
#define BOARD_UART0_TX_CAP ML_UART_CONSOLE_TX_CAP
#define BOARD_UART1_RX_CAP ML_UART_P1_IN_RX_CAP
#define BOARD_UART1_TX_CAP ML_UART_P1_IN_TX_CAP
#define BOARD_UART2_RX_CAP ML_UART_P1_OUT_RX_CAP
#define BOARD_UART2_TX_CAP ML_UART_P1_OUT_TX_CAP
#define BOARD_UART3_RX_CAP ML_UART_RS485_RX_CAP
#define BOARD_UART3_TX_CAP ML_UART_RS485_TX_CAP
#define BOARD_UART4_RX_CAP ML_UART_COPROC_RX_CAP
#define BOARD_UART4_TX_CAP ML_UART_COPROC_TX_CAP
/** 1: a µs stamp per RX byte (RS485: the RTU t3.5 gap); 0: the last RX interrupt's. */
#define BOARD_UART0_STAMPS 0
#define BOARD_UART1_STAMPS 0
#define BOARD_UART2_STAMPS 0
#define BOARD_UART3_STAMPS 1
#define BOARD_UART4_STAMPS 0

#define BOARD_CONSOLE_BAUD 115200u

/** RS485 driver enable (to the transceiver's DE and /RE): PA4, high = driving. */
extern const struct board_pin board_rs485_de;

/* ------------------------------------------------------------------------- */
/* Other pins                                                                */
/* ------------------------------------------------------------------------- */

/** HAL LED role -> pin (high = lit). */
extern const struct board_pin board_led_pin[HAL_LED_COUNT];
/** The button: PC13, pull-up, pressed = low. */
extern const struct board_pin board_button;
/** P1 data request (high = request), RS485 120 Ω termination switch (high = on). */
extern const struct board_pin board_data_request, board_termination;

/** GPIO port registers (the hardware, or the QEMU build's RAM stand-in). */
struct stm32_gpio_regs *board_gpio(unsigned port);

/** Configure @p p: GPIO_MODE_* and, for GPIO_MODE_AF, @p af. */
void board_pin_mode(struct board_pin p, unsigned mode, unsigned af);
void board_pin_write(struct board_pin p, bool high);
bool board_pin_read(struct board_pin p);

/* ------------------------------------------------------------------------- */
/* Watchdog, identity                                                        */
/* ------------------------------------------------------------------------- */

#define BOARD_WDOG_TIMEOUT_MS ((uint32_t)ML_WATCHDOG_TIMEOUT_MS)

extern const struct hal_sys_identity board_identity;

/** Clocks (RCC) and the peripheral clock enables; hardware build only (stm32_clock.c). */
void stm32_clock_init(void);

/** QEMU build: the IWDG stand-in counts down one millisecond (TIM2 tick, hal_sys.c). */
void stm32_wdog_standin_tick(void);

#endif /* FIRMWARE_PORTS_STM32_BOARD_STM32F405_H */

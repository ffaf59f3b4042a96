/**
 * @file board_stm32l072.h
 * @brief The STM32L072 (Cortex-M0+, 192 KiB flash, 20 KiB SRAM, 6 KiB data
 * EEPROM) board of the P1MB's small build (`target-m0`): clocks, USARTs, pins,
 * configuration in the data EEPROM. Built and size-checked; QEMU has no such
 * machine. docs/target.md has the tables, docs/decisions.md (29) why this part.
 */
#ifndef FIRMWARE_PORTS_STM32_BOARD_STM32L072_H
#define FIRMWARE_PORTS_STM32_BOARD_STM32L072_H

#include <stdbool.h>
#include <stdint.h>

#include "hal_gpio.h"
#include "hal_sys.h"
#include "hal_uart.h"
#include "ml_config.h"
#include "stm32l0.h"

/* HSI16 x 4 / 2 = 32 MHz SYSCLK = HCLK = PCLK1 = PCLK2 (voltage range 1, one
 * flash wait state; RM0376 §3.3.4, §6.1.5). */
#define BOARD_SYSCLK_HZ 32000000u
#define BOARD_APB_HZ    32000000u

/* TIM2 (16 bits on the L0) at 32 MHz / (PSC 31 + 1) = 1 MHz. */
#define BOARD_TIM2_PSC  31u
#define BOARD_TIM2_MASK 0xFFFFu

#define BOARD_UART_HW_COUNT 4u

struct board_pin {
    uint8_t port, pin;
};

struct board_uart_hw {
    uintptr_t base;
    uint8_t irq;
    uint32_t pclk_hz;
    struct board_pin tx, rx;
    uint8_t af;
    uint32_t rcc_apb1, rcc_apb2;
};

/** USART1, USART2, USART4, USART5 (USART4 and USART5 share interrupt 14). */
extern const struct board_uart_hw board_uart_hw[BOARD_UART_HW_COUNT];
/** CONSOLE=USART1, P1_IN=USART2, RS485=USART4, P1_OUT and COPROC=USART5 (no
 *  co-processor on this board: the P1MB has none). */
extern const uint8_t board_uart_of_role[HAL_UART_COUNT];

#define BOARD_UART0_RX_CAP ML_UART_CONSOLE_RX_CAP
#define BOARD_UART0_TX_CAP ML_UART_CONSOLE_TX_CAP
#define BOARD_UART1_RX_CAP ML_UART_P1_IN_RX_CAP
#define BOARD_UART1_TX_CAP ML_UART_P1_IN_TX_CAP
#define BOARD_UART2_RX_CAP ML_UART_RS485_RX_CAP
#define BOARD_UART2_TX_CAP ML_UART_RS485_TX_CAP
#define BOARD_UART3_RX_CAP ML_UART_P1_OUT_RX_CAP
#define BOARD_UART3_TX_CAP ML_UART_P1_OUT_TX_CAP
#define BOARD_UART0_STAMPS 0
#define BOARD_UART1_STAMPS 0
#define BOARD_UART2_STAMPS 1 /* RS485: the RTU t3.5 gap */
#define BOARD_UART3_STAMPS 0

#define BOARD_CONSOLE_BAUD 115200u

extern const struct board_pin board_rs485_de;
extern const struct board_pin board_led_pin[HAL_LED_COUNT];
extern const struct board_pin board_button;
extern const struct board_pin board_data_request, board_termination;

struct stm32_gpio_regs *board_gpio(unsigned port);
void board_pin_mode(struct board_pin p, unsigned mode, unsigned af);
void board_pin_write(struct board_pin p, bool high);
bool board_pin_read(struct board_pin p);

#define BOARD_WDOG_TIMEOUT_MS ((uint32_t)ML_WATCHDOG_TIMEOUT_MS)

extern const struct hal_sys_identity board_identity;

/** Clocks (RCC, PWR, flash latency) and the peripheral clock enables (stm32l0_clock.c). */
void stm32_clock_init(void);

#endif /* FIRMWARE_PORTS_STM32_BOARD_STM32L072_H */

/**
 * @file stm32_port.h
 * @brief STM32F405 port internals shared by its files (beyond cortex-m/cm.h,
 * whose core-register helpers and cm_* services this port implements too).
 */
#ifndef FIRMWARE_PORTS_STM32_STM32_PORT_H
#define FIRMWARE_PORTS_STM32_STM32_PORT_H

/** Bind the USART drivers to their rings (hal_uart.c). Reset handler only. */
void stm32_uart_init(void);

/** The interrupt of board_uart_hw[@p hw]. */
void stm32_uart_isr(unsigned hw);

#endif /* FIRMWARE_PORTS_STM32_STM32_PORT_H */

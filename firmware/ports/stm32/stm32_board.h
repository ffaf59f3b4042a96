/**
 * @file stm32_board.h
 * @brief The board header of this build: the STM32L072 board (ML_STM32_L0,
 * Cortex-M0+ build) or the STM32F405 board. The files shared by both
 * (hal_time.c, hal_gpio.c, hal_sys.c, hal_uart.c) include this one.
 */
#ifndef FIRMWARE_PORTS_STM32_STM32_BOARD_H
#define FIRMWARE_PORTS_STM32_STM32_BOARD_H

#ifdef ML_STM32_L0
#include "board_stm32l072.h"
#else
#include "board_stm32f405.h"
#endif

#endif /* FIRMWARE_PORTS_STM32_STM32_BOARD_H */

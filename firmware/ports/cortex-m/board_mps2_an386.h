/**
 * @file board_mps2_an386.h
 * @brief Arm MPS2 board with the AN386 FPGA image (Cortex-M4), as emulated by
 * `qemu-system-arm -M mps2-an386`.
 *
 * Addresses and interrupt numbers follow Arm AN386 (same peripheral map as
 * AN385) and were checked against QEMU 7.2 (`info mtree`, `info qtree`, and
 * hw/arm/mps2.c). docs/target.md has the full memory map and role table.
 */
#ifndef FIRMWARE_PORTS_CORTEX_M_BOARD_MPS2_AN386_H
#define FIRMWARE_PORTS_CORTEX_M_BOARD_MPS2_AN386_H

#include <stdint.h>

#include "hal_gpio.h"
#include "hal_sys.h"
#include "hal_uart.h"
#include "ml_config.h"

#define BOARD_NAME "mps2-an386"

/** Main clock (CPU, SysTick processor clock, APB peripherals): 25 MHz. */
#define BOARD_SYSCLK_HZ 25000000u

/** Interrupt lines the vector table provides (QEMU's armv7m num-irq for mps2-an386). */
#define BOARD_IRQ_COUNT 48u

/* ------------------------------------------------------------------------- */
/* CMSDK APB UART (Cortex-M System Design Kit TRM, APB UART chapter)         */
/* ------------------------------------------------------------------------- */

#define BOARD_UART_HW_COUNT 5u

struct board_uart_hw {
    uintptr_t base; /**< register block */
    uint8_t rx_irq; /**< RX interrupt line */
    uint8_t tx_irq; /**< TX interrupt line */
};

/* Register offsets and bits */
#define CMSDK_UART_DATA         0x00u
#define CMSDK_UART_STATE        0x04u
#define CMSDK_UART_CTRL         0x08u
#define CMSDK_UART_INTSTATUS    0x0Cu /* read: status; write 1: clear */
#define CMSDK_UART_BAUDDIV      0x10u
#define CMSDK_UART_STATE_TXFULL (1u << 0)
#define CMSDK_UART_STATE_RXFULL (1u << 1)
#define CMSDK_UART_STATE_TXOVR  (1u << 2)
#define CMSDK_UART_STATE_RXOVR  (1u << 3)
#define CMSDK_UART_CTRL_TXEN    (1u << 0)
#define CMSDK_UART_CTRL_RXEN    (1u << 1)
#define CMSDK_UART_CTRL_TXIE    (1u << 2)
#define CMSDK_UART_CTRL_RXIE    (1u << 3)
#define CMSDK_UART_INT_TX       (1u << 0)
#define CMSDK_UART_INT_RX       (1u << 1)
#define CMSDK_UART_BAUDDIV_MIN  16u

/** UART0..UART4 (AN386: 0x40004000, 0x40005000, 0x40006000, 0x40007000, 0x40009000). */
extern const struct board_uart_hw board_uart_hw[BOARD_UART_HW_COUNT];

/** HAL role -> hardware UART index (CONSOLE=UART0, P1_IN=UART1, P1_OUT=UART2, ...). */
extern const uint8_t board_uart_of_role[HAL_UART_COUNT];

/*
 * Ring sizes per hardware UART: the role's numbers from ml_config.h (the sim
 * port uses the same), through the role map above (CONSOLE=UART0,
 * P1_IN=UART1, P1_OUT=UART2, RS485=UART3, COPROC=UART4). BOARD_UARTn_STAMPS:
 * 1 keeps a 32-bit µs arrival stamp per RX byte (4 more bytes of RAM per ring
 * byte), needed where timing matters (RS485: the RTU t3.5 gap); 0 stamps every
 * byte of one read with the time of the last RX interrupt.
 */
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
#define BOARD_UART0_STAMPS 0
#define BOARD_UART1_STAMPS 0
#define BOARD_UART2_STAMPS 0
#define BOARD_UART3_STAMPS 1
#define BOARD_UART4_STAMPS 0

/** Baud rate of the console before hal_uart_open() (fault messages). */
#define BOARD_CONSOLE_BAUD 115200u

/* ------------------------------------------------------------------------- */
/* CMSDK APB timer 0 (0x40000000): the clock of hal_time (free-running)       */
/* ------------------------------------------------------------------------- */

#define BOARD_TIMER0_BASE   0x40000000u
#define CMSDK_TIMER_CTRL    0x00u
#define CMSDK_TIMER_VALUE   0x04u
#define CMSDK_TIMER_RELOAD  0x08u
#define CMSDK_TIMER_CTRL_EN (1u << 0)

/* ------------------------------------------------------------------------- */
/* FPGA I/O (AN386 "FPGA system control and I/O", 0x40028000)               */
/* ------------------------------------------------------------------------- */

#define BOARD_FPGAIO_BASE   0x40028000u
#define BOARD_FPGAIO_LED0   0x00u /* bits 0..1: user LEDs */
#define BOARD_FPGAIO_BUTTON 0x08u /* bits 0..1: user push buttons */

/** HAL LED role -> FPGAIO LED0 bit mask (0 = no LED for that role). */
extern const uint32_t board_led_mask[HAL_LED_COUNT];

/** FPGAIO BUTTON bit used as the device's button. */
#define BOARD_BUTTON_MASK (1u << 0)

/* ------------------------------------------------------------------------- */
/* CMSDK APB watchdog (0x40008000, WDOGCLK = 25 MHz, interrupt on NMI)       */
/* ------------------------------------------------------------------------- */

#define BOARD_WDOG_BASE       0x40008000u
#define CMSDK_WDOG_LOAD       0x000u
#define CMSDK_WDOG_CTRL       0x008u
#define CMSDK_WDOG_INTCLR     0x00Cu
#define CMSDK_WDOG_LOCK       0xC00u
#define CMSDK_WDOG_CTRL_INTEN (1u << 0)
#define CMSDK_WDOG_CTRL_RESEN (1u << 1)
#define CMSDK_WDOG_UNLOCK_KEY 0x1ACCE551u
#define BOARD_WDOG_CLK_HZ     25000000u
/** The first hal_sys_watchdog_kick() arms the watchdog with this timeout
 * (ml_config.h: the sim port uses the same). */
#define BOARD_WDOG_TIMEOUT_MS ((uint32_t)ML_WATCHDOG_TIMEOUT_MS)

/* ------------------------------------------------------------------------- */
/* Identity                                                                  */
/* ------------------------------------------------------------------------- */

/** The fixed identity this board reports (there is no OTP on the MPS2). */
extern const struct hal_sys_identity board_identity;

#endif /* FIRMWARE_PORTS_CORTEX_M_BOARD_MPS2_AN386_H */

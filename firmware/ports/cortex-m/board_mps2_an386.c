/*
 * Board file for the MPS2-AN386 (QEMU mps2-an386): which hardware serves each
 * HAL role. Changing a role's UART or LED is an edit of these tables only.
 */
#include "board_mps2_an386.h"

/* RX line numbers from AN386 / QEMU hw/arm/mps2.c; TX is always RX + 1. */
const struct board_uart_hw board_uart_hw[BOARD_UART_HW_COUNT] = {
    {0x40004000u, 0u, 1u},   /* UART0 */
    {0x40005000u, 2u, 3u},   /* UART1 */
    {0x40006000u, 4u, 5u},   /* UART2 */
    {0x40007000u, 18u, 19u}, /* UART3 */
    {0x40009000u, 20u, 21u}, /* UART4 */
};

const uint8_t board_uart_of_role[HAL_UART_COUNT] = {
    [HAL_UART_CONSOLE] = 0u, /* QEMU: -serial stdio (the first -serial) */
    [HAL_UART_P1_IN] = 1u,   /* second -serial */
    [HAL_UART_P1_OUT] = 2u,  /* third -serial */
    [HAL_UART_RS485] = 3u,   /* fourth -serial */
    [HAL_UART_COPROC] = 4u,  /* fifth -serial */
};

/*
 * The board has two user LEDs. Smart Connect uses STATUS only (LED0); on the
 * P1MB roles PWR shares LED1 and P1/485 share LED0/LED1 with them.
 */
const uint32_t board_led_mask[HAL_LED_COUNT] = {
    [HAL_LED_STATUS] = 1u << 0,
    [HAL_LED_PWR] = 1u << 1,
    [HAL_LED_P1] = 1u << 0,
    [HAL_LED_485] = 1u << 1,
};

const struct hal_sys_identity board_identity = {
    .serial = "MPS2AN386-000001",
    .label_password = "qemu0001",
};

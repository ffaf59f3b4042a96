/*
 * Board file of the STM32F405 port: which USART and pin serves each HAL role.
 * Alternate functions from the STM32F405xx datasheet (DS8626, table 9):
 * AF7 = USART1..3, AF8 = UART4/5, USART6.
 */
#include "board_stm32f405.h"

#include <stdbool.h>

/* In QEMU's -serial order: serial_hd(0..4) are USART1, USART2, USART3, UART4,
 * UART5 (QEMU 7.2 hw/arm/stm32f405_soc.c, usart_addr[]). */
const struct board_uart_hw board_uart_hw[BOARD_UART_HW_COUNT] = {
    {STM32_USART1, STM32_IRQ_USART1, BOARD_APB2_HZ, {0, 9}, {0, 10}, 7, 0, RCC_APB2ENR_USART1},
    {STM32_USART2, STM32_IRQ_USART2, BOARD_APB1_HZ, {0, 2}, {0, 3}, 7, RCC_APB1ENR_USART2, 0},
    {STM32_USART3, STM32_IRQ_USART3, BOARD_APB1_HZ, {1, 10}, {1, 11}, 7, RCC_APB1ENR_USART3, 0},
    {STM32_UART4, STM32_IRQ_UART4, BOARD_APB1_HZ, {0, 0}, {0, 1}, 8, RCC_APB1ENR_UART4, 0},
    {STM32_UART5, STM32_IRQ_UART5, BOARD_APB1_HZ, {2, 12}, {3, 2}, 8, RCC_APB1ENR_UART5, 0},
};

const uint8_t board_uart_of_role[HAL_UART_COUNT] = {
    [HAL_UART_CONSOLE] = 0u, /* USART1 PA9/PA10; QEMU: the first -serial */
    [HAL_UART_P1_IN] = 1u,   /* USART2 PA2/PA3 */
    [HAL_UART_P1_OUT] = 2u,  /* USART3 PB10/PB11 */
    [HAL_UART_RS485] = 3u,   /* UART4 PA0/PA1, DE on PA4 */
    [HAL_UART_COPROC] = 4u,  /* UART5 PC12/PD2 */
};

const struct board_pin board_rs485_de = {0, 4};

const struct board_pin board_led_pin[HAL_LED_COUNT] = {
    [HAL_LED_STATUS] = {1, 5},
    [HAL_LED_PWR] = {1, 6},
    [HAL_LED_P1] = {1, 7},
    [HAL_LED_485] = {1, 8},
};
const struct board_pin board_button = {2, 13};
const struct board_pin board_data_request = {1, 12};
const struct board_pin board_termination = {1, 13};

const struct hal_sys_identity board_identity = {
    .serial = "STM32F405-000001",
    .label_password = "stm32f01",
};

/* ------------------------------------------------------------------------- */
/* GPIO                                                                      */
/* ------------------------------------------------------------------------- */

#define GPIO_PORTS 9u /* A..I */

#ifdef ML_STM32_QEMU
/* QEMU 7.2 maps GPIOA..I as unimplemented devices (reads 0, writes dropped):
 * the same code drives RAM copies of the port registers. BSRR is applied to
 * ODR here, as the hardware does; IDR reads the button released (high). */
static struct stm32_gpio_regs gpio_standin[GPIO_PORTS];
#endif

struct stm32_gpio_regs *board_gpio(unsigned port)
{
#ifdef ML_STM32_QEMU
    return &gpio_standin[port % GPIO_PORTS];
#else
    return (struct stm32_gpio_regs *)(uintptr_t)(STM32_GPIO_BASE + 0x400u * (port % GPIO_PORTS));
#endif
}

void board_pin_mode(struct board_pin p, unsigned mode, unsigned af)
{
    struct stm32_gpio_regs *g = board_gpio(p.port);
    unsigned s2 = 2u * p.pin;
    g->MODER = (g->MODER & ~(3u << s2)) | ((uint32_t)mode << s2);
    if (mode == GPIO_MODE_AF) {
        unsigned s4 = 4u * (p.pin % 8u);
        g->AFR[p.pin / 8u] = (g->AFR[p.pin / 8u] & ~(0xFu << s4)) | ((uint32_t)af << s4);
    }
    if (mode == GPIO_MODE_IN) {
        g->PUPDR = (g->PUPDR & ~(3u << s2)) | ((uint32_t)GPIO_PULL_UP << s2);
    }
}

void board_pin_write(struct board_pin p, bool high)
{
    struct stm32_gpio_regs *g = board_gpio(p.port);
    g->BSRR = high ? (1u << p.pin) : (1u << (p.pin + 16u));
#ifdef ML_STM32_QEMU
    g->ODR = high ? (g->ODR | (1u << p.pin)) : (g->ODR & ~(1u << p.pin));
#endif
}

bool board_pin_read(struct board_pin p)
{
#ifdef ML_STM32_QEMU
    if (p.port == board_button.port && p.pin == board_button.pin) {
        return true; /* the pull-up: released */
    }
#endif
    return (board_gpio(p.port)->IDR & (1u << p.pin)) != 0u;
}

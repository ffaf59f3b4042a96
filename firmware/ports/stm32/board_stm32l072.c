/*
 * Board file of the STM32L072 build. Alternate functions from the
 * STM32L072xx datasheet (pin definitions): USART1 PA9/PA10 and USART2
 * PA2/PA3 on AF4, USART4 PA0/PA1 and USART5 PB3/PB4 on AF6.
 */
#include "board_stm32l072.h"

const struct board_uart_hw board_uart_hw[BOARD_UART_HW_COUNT] = {
    {STM32_USART1, STM32_IRQ_USART1, BOARD_APB_HZ, {0, 9}, {0, 10}, 4, 0, RCC_APB2ENR_USART1},
    {STM32_USART2, STM32_IRQ_USART2, BOARD_APB_HZ, {0, 2}, {0, 3}, 4, RCC_APB1ENR_USART2, 0},
    {STM32_USART4, STM32_IRQ_USART4_5, BOARD_APB_HZ, {0, 0}, {0, 1}, 6, RCC_APB1ENR_USART4, 0},
    {STM32_USART5, STM32_IRQ_USART4_5, BOARD_APB_HZ, {1, 3}, {1, 4}, 6, RCC_APB1ENR_USART5, 0},
};

const uint8_t board_uart_of_role[HAL_UART_COUNT] = {
    [HAL_UART_CONSOLE] = 0u, [HAL_UART_P1_IN] = 1u,  [HAL_UART_RS485] = 2u,
    [HAL_UART_P1_OUT] = 3u,  [HAL_UART_COPROC] = 3u,
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
    .serial = "STM32L072-000001",
    .label_password = "stm32l01",
};

struct stm32_gpio_regs *board_gpio(unsigned port)
{
    return (struct stm32_gpio_regs *)(uintptr_t)(STM32_GPIO_BASE + 0x400u * (port % 8u));
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
    board_gpio(p.port)->BSRR = high ? (1u << p.pin) : (1u << (p.pin + 16u));
}

bool board_pin_read(struct board_pin p)
{
    return (board_gpio(p.port)->IDR & (1u << p.pin)) != 0u;
}

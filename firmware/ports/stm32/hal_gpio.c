/*
 * GPIO on the STM32F405 board: LEDs, the button, the P1 data request and the
 * RS485 termination on the pins of board_stm32f405.c. In the QEMU build the
 * port registers are RAM stand-ins (QEMU 7.2 does not model GPIO), and, as on
 * the MPS2 images, the console's receive line stands in for the button:
 * byte 'B' closes it, 'b' opens it (`meterlab device --target qemu --control`).
 */
#include "hal_gpio.h"

#include "stm32_board.h"
#include "cm.h"
#ifdef ML_STM32_QEMU
#include "hal_uart.h"
#endif

static struct {
    bool pins_set;
#ifdef ML_STM32_QEMU
    bool console_pressed;
#endif
} G;

static void pins_once(void)
{
    if (G.pins_set) {
        return;
    }
    G.pins_set = true;
    for (unsigned i = 0; i < HAL_LED_COUNT; i++) {
        board_pin_mode(board_led_pin[i], GPIO_MODE_OUT, 0);
    }
    board_pin_mode(board_data_request, GPIO_MODE_OUT, 0);
    board_pin_mode(board_termination, GPIO_MODE_OUT, 0);
    board_pin_mode(board_button, GPIO_MODE_IN, 0);
}

void hal_led_set(enum hal_led_id id, hal_rgb_t rgb)
{
    if ((unsigned)id >= (unsigned)HAL_LED_COUNT) {
        return;
    }
    uint32_t key = cm_irq_save();
    pins_once();
    board_pin_write(board_led_pin[id], rgb != HAL_RGB_OFF);
    cm_irq_restore(key);
}

bool hal_button_is_pressed(void)
{
    pins_once();
#ifdef ML_STM32_QEMU
    uint8_t b[16];
    int n;
    while ((n = hal_uart_read(HAL_UART_CONSOLE, b, sizeof b, NULL)) > 0) {
        for (int i = 0; i < n; i++) {
            if (b[i] == (uint8_t)'B' || b[i] == (uint8_t)'b') {
                G.console_pressed = b[i] == (uint8_t)'B';
            }
        }
    }
    if (G.console_pressed) {
        return true;
    }
#endif
    return !board_pin_read(board_button); /* pull-up: pressed reads low */
}

void hal_gpio_data_request_set(bool on)
{
    pins_once();
    board_pin_write(board_data_request, on);
}

void hal_gpio_termination_set(bool on)
{
    pins_once();
    board_pin_write(board_termination, on);
}

/*
 * GPIO on the MPS2-AN386: the two user LEDs and push buttons of the FPGA I/O
 * block. The P1 data-request line and the RS485 termination have no hardware
 * on this board: their state is only remembered (docs/target.md).
 *
 * QEMU 7.2 reads the FPGA I/O BUTTON register as 0 and offers no monitor or
 * QMP way to set it, so with ML_CM_CONSOLE_BUTTON (CMake option, on by
 * default: the images run in QEMU) the console's receive line stands in for the
 * contact: byte 'B' closes it, 'b' opens it (`meterlab device --target qemu
 * --control`). The button reads pressed while either says so. Other console
 * bytes are dropped (the images read nothing else there).
 */
#include "hal_gpio.h"

#include "board_mps2_an386.h"
#include "cm.h"
#ifdef ML_CM_CONSOLE_BUTTON
#include "hal_uart.h"
#endif

static struct {
    uint32_t on_roles; /* bit per enum hal_led_id that is lit */
    bool data_request;
    bool termination;
#ifdef ML_CM_CONSOLE_BUTTON
    bool console_pressed;
#endif
} G;

void hal_led_set(enum hal_led_id id, hal_rgb_t rgb)
{
    if ((unsigned)id >= (unsigned)HAL_LED_COUNT) {
        return;
    }
    uint32_t key = cm_irq_save();
    if (rgb != HAL_RGB_OFF) {
        G.on_roles |= 1u << id;
    } else {
        G.on_roles &= ~(1u << id);
    }
    /* Roles may share a board LED: it is lit while any of its roles is. */
    uint32_t leds = 0;
    for (unsigned i = 0; i < HAL_LED_COUNT; i++) {
        if ((G.on_roles & (1u << i)) != 0u) {
            leds |= board_led_mask[i];
        }
    }
    CM_REG(BOARD_FPGAIO_BASE + BOARD_FPGAIO_LED0) = leds;
    cm_irq_restore(key);
}

bool hal_button_is_pressed(void)
{
#ifdef ML_CM_CONSOLE_BUTTON
    uint8_t b[16];
    int n;
    /* the last 'B'/'b' wins; an RX interrupt already woke the loop that calls this */
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
    return (CM_REG(BOARD_FPGAIO_BASE + BOARD_FPGAIO_BUTTON) & BOARD_BUTTON_MASK) != 0u;
}

void hal_gpio_data_request_set(bool on)
{
    G.data_request = on;
}

void hal_gpio_termination_set(bool on)
{
    G.termination = on;
}

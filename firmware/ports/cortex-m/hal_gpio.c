/*
 * GPIO on the MPS2-AN386: the two user LEDs and push buttons of the FPGA I/O
 * block. The P1 data-request line and the RS485 termination have no hardware
 * on this board: their state is only remembered (docs/target.md).
 */
#include "hal_gpio.h"

#include "board_mps2_an386.h"
#include "cm.h"

static struct {
    uint32_t on_roles; /* bit per enum hal_led_id that is lit */
    bool data_request;
    bool termination;
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

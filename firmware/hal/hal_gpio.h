/**
 * @file hal_gpio.h
 * @brief LEDs by role, the button, the P1 data-request line, RS485 termination.
 *
 * All functions are thread context and cheap; LED writes take effect at once
 * (patterns such as blinking are computed by core/ui and written as states).
 */
#ifndef FIRMWARE_HAL_HAL_GPIO_H
#define FIRMWARE_HAL_HAL_GPIO_H

#include <stdbool.h>
#include <stdint.h>

enum hal_led_id {
    HAL_LED_STATUS = 0, /**< Smart Connect RGB status LED */
    HAL_LED_PWR,        /**< P1MB PWR (yellow) */
    HAL_LED_P1,         /**< P1MB P1 (green) */
    HAL_LED_485,        /**< P1MB 485 (red) */
    HAL_LED_COUNT
};

/** 0x00RRGGBB. Single-colour LEDs treat any non-zero value as on. */
typedef uint32_t hal_rgb_t;

#define HAL_RGB_OFF 0x000000u
#define HAL_RGB_RED 0xFF0000u
#define HAL_RGB_GREEN 0x00FF00u
#define HAL_RGB_BLUE 0x0000FFu
#define HAL_RGB_ORANGE 0xFF8000u
#define HAL_RGB_YELLOW 0xFFFF00u

/** Set LED @p id to colour @p rgb. Unknown ids are ignored. */
void hal_led_set(enum hal_led_id id, hal_rgb_t rgb);

/** True while the (debounced by hardware or not) button contact is closed. */
bool hal_button_is_pressed(void);

/** Drive the P1 data-request line: true = request data (+5 V), false = high impedance. */
void hal_gpio_data_request_set(bool on);

/** RS485 bus termination resistor on/off (P1MB). */
void hal_gpio_termination_set(bool on);

#endif /* FIRMWARE_HAL_HAL_GPIO_H */

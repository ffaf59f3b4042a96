/**
 * @file hal.h
 * @brief The whole HAL contract. Each port implements every function; a
 * missing one is a link error (no weak defaults).
 */
#ifndef FIRMWARE_HAL_HAL_H
#define FIRMWARE_HAL_HAL_H

#include "hal_flash.h"
#include "hal_gpio.h"
#include "hal_mqtt.h"
#include "hal_net.h"
#include "hal_sys.h"
#include "hal_time.h"
#include "hal_uart.h"

#endif /* FIRMWARE_HAL_HAL_H */

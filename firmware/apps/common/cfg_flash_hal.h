/**
 * @file cfg_flash_hal.h
 * @brief cfg_store flash ops on the HAL's HAL_FLASH_CONFIG_A/B regions.
 *
 * Slot 0 is HAL_FLASH_CONFIG_A, slot 1 HAL_FLASH_CONFIG_B. Writes are split into
 * program units of the region's write_unit. Thread context (app loop).
 */
#ifndef FIRMWARE_APPS_COMMON_CFG_FLASH_HAL_H
#define FIRMWARE_APPS_COMMON_CFG_FLASH_HAL_H

#include "config/cfg_store.h"

/**
 * Fill @p ops with the HAL-backed operations (ctx unused, NULL).
 * @retval 0 ok  @retval ML_EBADF the board has no config regions
 */
int cfg_flash_hal_ops(struct cfg_flash_ops *ops);

#endif /* FIRMWARE_APPS_COMMON_CFG_FLASH_HAL_H */

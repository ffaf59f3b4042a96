/**
 * @file hal_flash.h
 * @brief Flash regions: configuration sectors and firmware slots.
 *
 * NOR semantics: erase sets every byte of an erase unit to 0xFF; a write can
 * only clear bits. A power cut can interrupt any erase or write; the sim port
 * can cut power after N writes to test that (hal-level atomicity is one
 * program unit: one write call of at most @c write_unit bytes).
 * Thread context; calls block until done.
 */
#ifndef FIRMWARE_HAL_HAL_FLASH_H
#define FIRMWARE_HAL_HAL_FLASH_H

#include <stddef.h>
#include <stdint.h>

enum hal_flash_region {
    HAL_FLASH_CONFIG_A = 0, /**< config store slot A */
    HAL_FLASH_CONFIG_B,     /**< config store slot B */
    HAL_FLASH_FW_A,         /**< firmware slot A */
    HAL_FLASH_FW_B,         /**< firmware slot B */
    HAL_FLASH_BOOT,         /**< boot state (active slot, trial flag) */
    HAL_FLASH_REGION_COUNT
};

struct hal_flash_info {
    uint32_t size;       /**< bytes */
    uint32_t erase_unit; /**< bytes erased at once */
    uint32_t write_unit; /**< largest atomic write */
};

/** @retval 0 ok  @retval ML_EBADF no such region on this board */
int hal_flash_get_info(enum hal_flash_region r, struct hal_flash_info *info);

/** Read @p len bytes at @p off. @retval 0 ok @retval ML_EINVAL out of range @retval ML_EIO */
int hal_flash_read(enum hal_flash_region r, uint32_t off, void *buf, size_t len);

/** Erase the erase units covering [off, off+len).
 * @retval 0 ok @retval ML_EINVAL @retval ML_EIO failed (a port that can fail blank-checks) */
int hal_flash_erase(enum hal_flash_region r, uint32_t off, size_t len);

/** Program @p len bytes at @p off (bits 1->0 only).
 * @retval 0 ok @retval ML_EINVAL
 * @retval ML_EIO a bit asked to be 0 reads back 1 (worn, power cut) */
int hal_flash_write(enum hal_flash_region r, uint32_t off, const void *buf, size_t len);

#endif /* FIRMWARE_HAL_HAL_FLASH_H */

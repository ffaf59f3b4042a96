/*
 * Glue between the pure config store and the HAL flash regions.
 */
#include "cfg_flash_hal.h"

#include "err.h"
#include "hal_flash.h"

static enum hal_flash_region region_of(unsigned slot)
{
    return slot == 0 ? HAL_FLASH_CONFIG_A : HAL_FLASH_CONFIG_B;
}

static int op_read(void *ctx, unsigned slot, uint32_t off, void *buf, size_t len)
{
    (void)ctx;
    ML_VERIFY(slot < 2u, ML_EINVAL);
    return hal_flash_read(region_of(slot), off, buf, len);
}

static int op_erase(void *ctx, unsigned slot)
{
    (void)ctx;
    ML_VERIFY(slot < 2u, ML_EINVAL);
    struct hal_flash_info info;
    int err = hal_flash_get_info(region_of(slot), &info);
    if (err < 0) {
        return err;
    }
    return hal_flash_erase(region_of(slot), 0, info.size);
}

static int op_write(void *ctx, unsigned slot, uint32_t off, const void *buf, size_t len)
{
    (void)ctx;
    ML_VERIFY(slot < 2u, ML_EINVAL);
    struct hal_flash_info info;
    int err = hal_flash_get_info(region_of(slot), &info);
    if (err < 0) {
        return err;
    }
    uint32_t unit = info.write_unit == 0 ? 256u : info.write_unit;
    const uint8_t *p = buf;
    while (len > 0) {
        /* Stay inside one program unit (page) per call. */
        size_t n = unit - off % unit;
        if (n > len) {
            n = len;
        }
        err = hal_flash_write(region_of(slot), off, p, n);
        if (err < 0) {
            return err;
        }
        p += n;
        off += (uint32_t)n;
        len -= n;
    }
    return ML_OK;
}

int cfg_flash_hal_ops(struct cfg_flash_ops *ops)
{
    ML_VERIFY(ops != NULL, ML_EFAULT);
    struct hal_flash_info a;
    struct hal_flash_info b;
    int err = hal_flash_get_info(HAL_FLASH_CONFIG_A, &a);
    if (err < 0) {
        return err;
    }
    err = hal_flash_get_info(HAL_FLASH_CONFIG_B, &b);
    if (err < 0) {
        return err;
    }
    ops->read = op_read;
    ops->erase = op_erase;
    ops->write = op_write;
    ops->slot_size = a.size < b.size ? a.size : b.size;
    ops->ctx = NULL;
    return ML_OK;
}

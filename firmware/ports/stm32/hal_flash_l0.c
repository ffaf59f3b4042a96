/*
 * Flash on the STM32L072: the configuration and boot regions are in the data
 * EEPROM (RM0376 §3.3.4): CONFIG_A 0x08080000 and CONFIG_B 0x08080800 (2 KiB
 * each), BOOT 0x08081000 (1 KiB). The EEPROM takes byte and word writes with
 * an automatic erase (PECR.FIX 0), so the HAL's NOR semantics are written
 * directly: an erase writes 0xFF words (only where a word is not 0xFF already:
 * each write takes a few ms), a write stores old & new per byte and reads it
 * back. The firmware slots do not exist on this board (ML_EBADF): the P1MB
 * has no firmware upload. Why the EEPROM rather than the program flash (whose
 * 64-bit ECC words can be programmed only once after an erase, where the
 * config store writes the same 8 bytes twice): docs/decisions.md (29).
 */
#include "hal_flash.h"

#include <string.h>

#include "board_stm32l072.h"
#include "err.h"

#define KIB 1024u

struct region {
    uint32_t addr; /* 0: no such region */
    struct hal_flash_info info;
};

static const struct region R[HAL_FLASH_REGION_COUNT] = {
    [HAL_FLASH_CONFIG_A] = {STM32_EEPROM_BASE, {2 * KIB, 2 * KIB, 256}},
    [HAL_FLASH_CONFIG_B] = {STM32_EEPROM_BASE + 2 * KIB, {2 * KIB, 2 * KIB, 256}},
    [HAL_FLASH_BOOT] = {STM32_EEPROM_BASE + 4 * KIB, {1 * KIB, 1 * KIB, 256}},
    [HAL_FLASH_FW_A] = {0u, {0u, 0u, 0u}},
    [HAL_FLASH_FW_B] = {0u, {0u, 0u, 0u}},
};

static int check(enum hal_flash_region r, uint32_t off, size_t len)
{
    ML_VERIFY((unsigned)r < (unsigned)HAL_FLASH_REGION_COUNT && R[r].addr != 0u, ML_EBADF);
    ML_VERIFY(off <= R[r].info.size && len <= R[r].info.size - off, ML_EINVAL);
    return ML_OK;
}

static void unlock(void)
{
    while ((FLASH_SR & FLASH_SR_BSY) != 0u) {
    }
    if ((FLASH_PECR & FLASH_PECR_PELOCK) != 0u) {
        FLASH_PEKEYR = FLASH_PEKEY1;
        FLASH_PEKEYR = FLASH_PEKEY2;
    }
    FLASH_PECR &= ~FLASH_PECR_FIX;
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP; /* rc_w1 */
}

static void lock(void)
{
    FLASH_PECR |= FLASH_PECR_PELOCK;
}

static int done(void)
{
    while ((FLASH_SR & FLASH_SR_BSY) != 0u) {
    }
    return (FLASH_SR & FLASH_SR_ERRORS) != 0u ? ML_EIO : ML_OK;
}

int hal_flash_get_info(enum hal_flash_region r, struct hal_flash_info *out)
{
    ML_VERIFY((unsigned)r < (unsigned)HAL_FLASH_REGION_COUNT && R[r].addr != 0u, ML_EBADF);
    *out = R[r].info;
    return ML_OK;
}

int hal_flash_read(enum hal_flash_region r, uint32_t off, void *buf, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    memcpy(buf, (const void *)(uintptr_t)(R[r].addr + off), len);
    return ML_OK;
}

int hal_flash_erase(enum hal_flash_region r, uint32_t off, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    (void)off;
    (void)len; /* one erase unit per region: the whole region */
    volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)R[r].addr;
    unlock();
    for (uint32_t i = 0; err == ML_OK && i < R[r].info.size / 4u; i++) {
        if (w[i] != 0xFFFFFFFFu) {
            w[i] = 0xFFFFFFFFu;
            err = done();
            if (err == ML_OK && w[i] != 0xFFFFFFFFu) {
                err = ML_EIO;
            }
        }
    }
    lock();
    return err;
}

int hal_flash_write(enum hal_flash_region r, uint32_t off, const void *buf, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    const uint8_t *p = buf;
    volatile uint8_t *m = (volatile uint8_t *)(uintptr_t)(R[r].addr + off);
    unlock();
    for (size_t i = 0; err == ML_OK && i < len; i++) {
        uint8_t v = (uint8_t)(m[i] & p[i]); /* NOR: programming clears bits only */
        if (v != m[i]) {
            m[i] = v;
            err = done();
        }
        if (err == ML_OK && m[i] != v) {
            err = ML_EIO;
        }
    }
    lock();
    return err;
}

/*
 * Flash on the MPS2-AN386: the board (and QEMU) has no programmable flash, so
 * the regions live in a reserved RAM area (.flash_emu, the top of SSRAM2/3,
 * see mps2_an386.ld) with NOR semantics: erase sets 0xFF, a write only clears
 * bits. The area is NOLOAD: QEMU does not reload it on a soft reset, so the
 * config store survives hal_sys_reboot() but not a restart of QEMU.
 *
 * The geometry matches the sim port (4 KiB erase unit, 256-byte program unit).
 */
#include "hal_flash.h"

#include <string.h>

#include "err.h"

#define KIB        1024u
#define EMU_MAGIC  0x4D4C4645u /* "MLFE" */
#define EMU_LAYOUT 1u

static const struct hal_flash_info info[HAL_FLASH_REGION_COUNT] = {
    [HAL_FLASH_CONFIG_A] = {4 * KIB, 4 * KIB, 256}, [HAL_FLASH_CONFIG_B] = {4 * KIB, 4 * KIB, 256},
    [HAL_FLASH_FW_A] = {256 * KIB, 4 * KIB, 256},   [HAL_FLASH_FW_B] = {256 * KIB, 4 * KIB, 256},
    [HAL_FLASH_BOOT] = {4 * KIB, 4 * KIB, 256},
};

static const uint32_t base[HAL_FLASH_REGION_COUNT] = {
    [HAL_FLASH_CONFIG_A] = 0,
    [HAL_FLASH_CONFIG_B] = 4 * KIB,
    [HAL_FLASH_FW_A] = 8 * KIB,
    [HAL_FLASH_FW_B] = 8 * KIB + 256 * KIB,
    [HAL_FLASH_BOOT] = 8 * KIB + 512 * KIB,
};

#define EMU_SIZE (12u * KIB + 512u * KIB)

/* The emulated part plus a header saying it has been formatted (all 0xFF). */
static struct {
    uint32_t magic;
    uint32_t layout;
    uint8_t mem[EMU_SIZE];
} flash_emu __attribute__((section(".flash_emu"), aligned(4)));

/* Power-on RAM holds no erased flash: format once, keep it across soft resets. */
static void ensure_formatted(void)
{
    if (flash_emu.magic != EMU_MAGIC || flash_emu.layout != EMU_LAYOUT) {
        memset(flash_emu.mem, 0xFF, sizeof flash_emu.mem);
        flash_emu.layout = EMU_LAYOUT;
        flash_emu.magic = EMU_MAGIC;
    }
}

static int check(enum hal_flash_region r, uint32_t off, size_t len)
{
    ML_VERIFY((unsigned)r < (unsigned)HAL_FLASH_REGION_COUNT, ML_EBADF);
    ML_VERIFY(off <= info[r].size && len <= info[r].size - off, ML_EINVAL);
    ensure_formatted();
    return ML_OK;
}

int hal_flash_get_info(enum hal_flash_region r, struct hal_flash_info *out)
{
    ML_VERIFY((unsigned)r < (unsigned)HAL_FLASH_REGION_COUNT, ML_EBADF);
    *out = info[r];
    return ML_OK;
}

int hal_flash_read(enum hal_flash_region r, uint32_t off, void *buf, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    memcpy(buf, &flash_emu.mem[base[r] + off], len);
    return ML_OK;
}

int hal_flash_erase(enum hal_flash_region r, uint32_t off, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    uint32_t eu = info[r].erase_unit;
    uint32_t start = off - off % eu;
    uint32_t end = (uint32_t)((off + len + eu - 1u) / eu * eu);
    if (end > info[r].size) {
        end = info[r].size;
    }
    memset(&flash_emu.mem[base[r] + start], 0xFF, end - start);
    return ML_OK;
}

int hal_flash_write(enum hal_flash_region r, uint32_t off, const void *buf, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    const uint8_t *p = buf;
    uint8_t *m = &flash_emu.mem[base[r] + off];
    for (size_t i = 0; i < len; i++) {
        m[i] &= p[i]; /* NOR: programming clears bits only */
    }
    return ML_OK;
}

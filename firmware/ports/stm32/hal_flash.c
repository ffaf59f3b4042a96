/*
 * Flash on the STM32F405 (RM0090 §3): the regions are whole sectors of the
 * main memory, erased by sector (CR.SER, SNB, STRT) and programmed by byte
 * (CR.PG, PSIZE x8), with the flash interface unlocked for each operation and
 * locked again. Reads are plain memory reads. The code runs from the same
 * flash bank: the CPU stalls on instruction fetch while an erase is under way
 * (§3.5.4), which is why hal_flash calls block.
 *
 *   sector  1 (16 KiB)  0x08004000  CONFIG_A
 *   sector  2 (16 KiB)  0x08008000  CONFIG_B
 *   sector  3 (16 KiB)  0x0800C000  BOOT
 *   sectors 7..8        0x08060000  FW_A (256 KiB)
 *   sectors 9..10       0x080A0000  FW_B (256 KiB)
 * (sector 0: the vector table; sectors 4..6: the running image; stm32f405.ld)
 *
 * QEMU build: QEMU 7.2 maps the flash as ROM and does not model the flash
 * interface, so the regions live in RAM that QEMU's netduinoplus2 has beyond
 * the chip's 128 KiB (0x20020000, .flash_emu) with NOR semantics, as on the
 * MPS2 images. The firmware slots are 4 KiB there (64 KiB in all): an image
 * upload does not fit (docs/target.md).
 */
#include "hal_flash.h"

#include <string.h>

#include "board_stm32f405.h"
#include "cm.h"
#include "err.h"

#define KIB 1024u

#ifndef ML_STM32_QEMU

struct region {
    uint32_t addr;
    uint8_t first_sector;
    struct hal_flash_info info;
};

static const struct region R[HAL_FLASH_REGION_COUNT] = {
    [HAL_FLASH_CONFIG_A] = {0x08004000u, 1u, {16 * KIB, 16 * KIB, 256}},
    [HAL_FLASH_CONFIG_B] = {0x08008000u, 2u, {16 * KIB, 16 * KIB, 256}},
    [HAL_FLASH_BOOT] = {0x0800C000u, 3u, {16 * KIB, 16 * KIB, 256}},
    [HAL_FLASH_FW_A] = {0x08060000u, 7u, {256 * KIB, 128 * KIB, 256}},
    [HAL_FLASH_FW_B] = {0x080A0000u, 9u, {256 * KIB, 128 * KIB, 256}},
};

static void wait_idle(void)
{
    while ((FLASH_SR & FLASH_SR_BSY) != 0u) {
    }
}

static void unlock(void)
{
    wait_idle();
    if ((FLASH_CR & FLASH_CR_LOCK) != 0u) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP; /* rc_w1: clear what an earlier operation left */
}

static void lock(void)
{
    FLASH_CR = FLASH_CR_LOCK;
}

static uint8_t *mem(enum hal_flash_region r, uint32_t off)
{
    return (uint8_t *)(uintptr_t)(R[r].addr + off);
}

static int erase_sector(unsigned snb)
{
    FLASH_CR = FLASH_CR_PSIZE_X32 | FLASH_CR_SER | FLASH_CR_SNB(snb);
    FLASH_CR |= FLASH_CR_STRT;
    wait_idle();
    return (FLASH_SR & FLASH_SR_ERRORS) != 0u ? ML_EIO : ML_OK;
}

static int program_bytes(volatile uint8_t *dst, const uint8_t *src, size_t len)
{
    FLASH_CR = FLASH_CR_PSIZE_X8 | FLASH_CR_PG;
    for (size_t i = 0; i < len; i++) {
        dst[i] = src[i];
        __asm volatile("dsb" : : : "memory");
        wait_idle();
        if ((FLASH_SR & FLASH_SR_ERRORS) != 0u) {
            return ML_EIO;
        }
    }
    return ML_OK;
}

#else /* ML_STM32_QEMU: the RAM stand-in */

struct region {
    uint32_t emu_off;
    struct hal_flash_info info;
};

static const struct region R[HAL_FLASH_REGION_COUNT] = {
    [HAL_FLASH_CONFIG_A] = {0u, {16 * KIB, 16 * KIB, 256}},
    [HAL_FLASH_CONFIG_B] = {16 * KIB, {16 * KIB, 16 * KIB, 256}},
    [HAL_FLASH_BOOT] = {32 * KIB, {16 * KIB, 16 * KIB, 256}},
    [HAL_FLASH_FW_A] = {48 * KIB, {4 * KIB, 4 * KIB, 256}},
    [HAL_FLASH_FW_B] = {52 * KIB, {4 * KIB, 4 * KIB, 256}},
};

#define EMU_SIZE   (56u * KIB)
#define EMU_MAGIC  0x4D4C4645u /* "MLFE" */
#define EMU_LAYOUT 0xF405u

static struct {
    uint32_t magic;
    uint32_t layout;
    uint8_t mem[EMU_SIZE];
} flash_emu __attribute__((section(".flash_emu"), aligned(4)));

static uint8_t *mem(enum hal_flash_region r, uint32_t off)
{
    if (flash_emu.magic != EMU_MAGIC || flash_emu.layout != EMU_LAYOUT) {
        memset(flash_emu.mem, 0xFF, sizeof flash_emu.mem); /* power-on RAM: format once */
        flash_emu.layout = EMU_LAYOUT;
        flash_emu.magic = EMU_MAGIC;
    }
    return &flash_emu.mem[R[r].emu_off + off];
}

#endif

static int check(enum hal_flash_region r, uint32_t off, size_t len)
{
    ML_VERIFY((unsigned)r < (unsigned)HAL_FLASH_REGION_COUNT, ML_EBADF);
    ML_VERIFY(off <= R[r].info.size && len <= R[r].info.size - off, ML_EINVAL);
    return ML_OK;
}

int hal_flash_get_info(enum hal_flash_region r, struct hal_flash_info *out)
{
    ML_VERIFY((unsigned)r < (unsigned)HAL_FLASH_REGION_COUNT, ML_EBADF);
    *out = R[r].info;
    return ML_OK;
}

int hal_flash_read(enum hal_flash_region r, uint32_t off, void *buf, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    memcpy(buf, mem(r, off), len);
    return ML_OK;
}

int hal_flash_erase(enum hal_flash_region r, uint32_t off, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    uint32_t eu = R[r].info.erase_unit;
    uint32_t start = off - off % eu;
    uint32_t end = (uint32_t)((off + len + eu - 1u) / eu * eu);
    if (end > R[r].info.size) {
        end = R[r].info.size;
    }
#ifndef ML_STM32_QEMU
    unlock();
    for (uint32_t at = start; at < end && err == ML_OK; at += eu) {
        err = erase_sector(R[r].first_sector + at / eu);
    }
    lock();
    /* blank check: an interrupted or refused erase shows here */
    const uint8_t *m = mem(r, start);
    for (uint32_t i = 0; err == ML_OK && i < end - start; i++) {
        if (m[i] != 0xFFu) {
            err = ML_EIO;
        }
    }
    return err;
#else
    memset(mem(r, start), 0xFF, end - start);
    return ML_OK;
#endif
}

int hal_flash_write(enum hal_flash_region r, uint32_t off, const void *buf, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    const uint8_t *p = buf;
    uint8_t *m = mem(r, off);
#ifndef ML_STM32_QEMU
    unlock();
    err = program_bytes(m, p, len);
    lock();
    for (size_t i = 0; err == ML_OK && i < len; i++) {
        if ((m[i] & (uint8_t)~p[i]) != 0u) {
            err = ML_EIO; /* a bit asked to be 0 reads back 1 */
        }
    }
    return err;
#else
    for (size_t i = 0; i < len; i++) {
        m[i] &= p[i]; /* NOR: programming clears bits only */
    }
    return ML_OK;
#endif
}

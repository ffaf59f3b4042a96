/*
 * Sim flash: NOR semantics in memory (erase -> 0xFF, write clears bits), with
 * an optional backing file, a power-cut switch for the config-store tests and
 * a worn-flash switch. Like a flash driver, every erase is blank-checked and
 * every program read back (each 0 bit asked for must read 0; a 1 leaves the
 * bit as it was, NOR): what did not take is ML_EIO to the caller.
 *
 * Geometry and timing are the production part's (ml_config.h, ML_FLASH_*): each
 * erase and program blocks the loop as long as on the STM32F405 (sim_busy_us());
 * a watchdog reset within interrupts it, which leaves it half done (ML_EIO).
 */
#define _GNU_SOURCE
#include "hal_flash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "hal_sys.h"
#include "ml_config.h"
#include "sim_priv.h"

#define SMALL ML_FLASH_SMALL_SECTOR
#define LARGE ML_FLASH_LARGE_SECTOR

static const struct hal_flash_info info[HAL_FLASH_REGION_COUNT] = {
    [HAL_FLASH_CONFIG_A] = {SMALL, SMALL, 256}, [HAL_FLASH_CONFIG_B] = {SMALL, SMALL, 256},
    [HAL_FLASH_FW_A] = {2 * LARGE, LARGE, 256}, [HAL_FLASH_FW_B] = {2 * LARGE, LARGE, 256},
    [HAL_FLASH_BOOT] = {SMALL, SMALL, 256},
};

static struct {
    uint8_t mem[3 * SMALL + 4 * LARGE];
    uint32_t base[HAL_FLASH_REGION_COUNT];
    int fd;
    uint32_t ops;
    uint32_t cut_after; /* 0 = off */
    bool dead;          /* power is gone: everything fails */
    bool worn;          /* erase and program leave the bits as they are */
} F = {.fd = -1};

static int check(enum hal_flash_region r, uint32_t off, size_t len)
{
    ML_VERIFY((int)r >= 0 && r < HAL_FLASH_REGION_COUNT, ML_EBADF);
    ML_VERIFY(off <= info[r].size && len <= info[r].size - off, ML_EINVAL);
    return ML_OK;
}

static void persist(uint32_t at, size_t len)
{
    if (F.fd >= 0 && pwrite(F.fd, &F.mem[at], len, at) != (ssize_t)len) {
        perror("sim flash: write to backing file");
    }
}

void sim_flash_open(const char *file)
{
    uint32_t at = 0;
    for (int r = 0; r < HAL_FLASH_REGION_COUNT; r++) {
        F.base[r] = at;
        at += info[r].size;
    }
    memset(F.mem, 0xFF, sizeof F.mem);
    F.ops = 0;
    F.cut_after = 0;
    F.dead = false;
    F.worn = false;
    if (F.fd >= 0) {
        close(F.fd);
        F.fd = -1;
    }
    if (file != NULL && file[0] != '\0') {
        /* holds the stored Wi-Fi and MQTT passwords: owner only, also when an
         * older run left it readable (docs/security.md) */
        F.fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (F.fd < 0) {
            perror(file);
            return;
        }
        struct stat st;
        if (fstat(F.fd, &st) == 0 && (st.st_mode & 077) != 0 && fchmod(F.fd, 0600) != 0) {
            perror(file);
        }
        ssize_t n = pread(F.fd, F.mem, sizeof F.mem, 0);
        if (n < (ssize_t)sizeof F.mem) {
            persist(0, sizeof F.mem); /* new or short file: extend with erased bytes */
        }
    }
}

void sim_flash_close(void)
{
    if (F.fd >= 0) {
        close(F.fd);
        F.fd = -1;
    }
}

void sim_flash_cut_after(uint32_t writes)
{
    F.cut_after = writes == 0 ? 0 : F.ops + writes;
    F.dead = false;
}

void sim_flash_set_worn(bool worn)
{
    F.worn = worn;
}

uint32_t sim_flash_op_count(void)
{
    return F.ops;
}

/* True when this operation is the one the power cut interrupts (or later). */
static bool power_cut(void)
{
    if (F.dead) {
        return true;
    }
    if (F.cut_after != 0 && F.ops >= F.cut_after) {
        F.dead = true;
        return true;
    }
    return false;
}

int hal_flash_get_info(enum hal_flash_region r, struct hal_flash_info *out)
{
    ML_VERIFY((int)r >= 0 && r < HAL_FLASH_REGION_COUNT, ML_EBADF);
    *out = info[r];
    return ML_OK;
}

int hal_flash_read(enum hal_flash_region r, uint32_t off, void *buf, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    memcpy(buf, &F.mem[F.base[r] + off], len);
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
    uint32_t end = (uint32_t)(off + len + eu - 1u) / eu * eu;
    if (end > info[r].size) {
        end = info[r].size;
    }
    bool cut = power_cut();
    if (!cut) {
        sim_busy_us((uint64_t)((end - start) / eu) *
                    (eu >= LARGE ? ML_FLASH_ERASE_LARGE_US : ML_FLASH_ERASE_SMALL_US));
        cut = hal_sys_should_stop(); /* a reset (the watchdog) came first */
    }
    if (cut) {
        /* an interrupted erase leaves the first half erased, the rest as it was */
        memset(&F.mem[F.base[r] + start], 0xFF, (end - start) / 2u);
        persist(F.base[r] + start, end - start);
        return ML_EIO;
    }
    F.ops++;
    uint8_t *m = &F.mem[F.base[r] + start];
    if (!F.worn) {
        memset(m, 0xFF, end - start);
        persist(F.base[r] + start, end - start);
    }
    for (uint32_t i = 0; i < end - start; i++) {
        if (m[i] != 0xFFu) {
            return ML_EIO; /* blank check: the erase did not take */
        }
    }
    return ML_OK;
}

int hal_flash_write(enum hal_flash_region r, uint32_t off, const void *buf, size_t len)
{
    int err = check(r, off, len);
    if (err < 0) {
        return err;
    }
    const uint8_t *p = buf;
    uint8_t *m = &F.mem[F.base[r] + off];
    size_t n = len;
    bool cut = power_cut();
    if (!cut) {
        sim_busy_us((uint64_t)len * ML_FLASH_PROGRAM_BYTE_US);
        cut = hal_sys_should_stop(); /* a reset (the watchdog) came first */
    }
    if (cut) {
        n = len / 2u; /* an interrupted program writes a prefix */
        err = ML_EIO;
    } else {
        F.ops++;
    }
    for (size_t i = 0; i < n && !F.worn; i++) {
        m[i] &= p[i];
    }
    persist(F.base[r] + off, len);
    for (size_t i = 0; i < n && err == ML_OK; i++) {
        if ((m[i] & (uint8_t)~p[i]) != 0u) {
            err = ML_EIO; /* read back: a bit to clear is still set (worn) */
        }
    }
    return err;
}

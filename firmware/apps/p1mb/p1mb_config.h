/**
 * @file p1mb_config.h
 * @brief P1MB configuration: the RS485 line settings and slave address, their
 *        persistent copy in the two-slot config store, and the Modbus
 *        configuration register block (docs/p1mb.md "Configuration registers").
 *
 * Model
 * -----
 * - "stored" is what the config store holds (what the next boot will use);
 *   FC 0x06 writes change it and save it at once.
 * - "active" is what the device runs with since boot; it never changes until
 *   the reboot register (or a power cycle) restarts the app.
 *
 * Register block (0xF000..0xF03F, FC03 and FC04 alike; no variant's map uses
 * these addresses, and the block starts with the signature "P1" "MB" so a
 * master cannot mistake it for meter data):
 *
 *   0xF000 R  0x5031 "P1"          0xF010 RW baud / 100 (12 .. 1152, standard rates)
 *   0xF001 R  0x4D42 "MB"          0xF011 RW parity: 0 = none (8N1), 1 = even (8E1)
 *   0xF002 R  layout version (1)   0xF012 RW slave address 1 .. 247
 *   0xF003 R  variant code         0xF013 RW termination: 0 = off, 1 = on
 *   0xF020..0xF023 R  the same four, as active now
 *   0xF030 W  reboot: write 0x5AA5   0xF031 W  factory defaults: write 0xFAC7
 *
 * Writes outside the writable registers answer exception 0x02, invalid values
 * 0x03 (nothing stored), a failing flash 0x04 (the old copy stays valid).
 *
 * Ownership: every struct is caller-owned; @c ops must outlive the register
 * block. Context: the app loop (flash calls block). No heap, no statics.
 */
#ifndef FIRMWARE_APPS_P1MB_P1MB_CONFIG_H
#define FIRMWARE_APPS_P1MB_P1MB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfg_store.h"

/* ------------------------------------------------------------------------- */
/* Settings                                                                  */
/* ------------------------------------------------------------------------- */

/** Factory defaults (P1MB manual §5.1.2, §5.1.3). */
#define P1MB_DEFAULT_BAUD    9600u
#define P1MB_DEFAULT_PARITY  P1MB_PARITY_EVEN
#define P1MB_DEFAULT_ADDRESS 16u
#define P1MB_DEFAULT_TERM    false

/** Parity values as they appear in the parity register. */
#define P1MB_PARITY_NONE 0u /**< 8N1 */
#define P1MB_PARITY_EVEN 1u /**< 8E1 */

struct p1mb_config {
    uint32_t baud;    /**< 1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400, 57600 or 115200 */
    uint8_t parity;   /**< P1MB_PARITY_NONE or P1MB_PARITY_EVEN */
    uint8_t address;  /**< 1 .. 247 */
    bool termination; /**< 120 Ohm bus termination */
};

/** Fill @p c with the factory defaults (9600 8E1, address 16, termination off). */
void p1mb_config_defaults(struct p1mb_config *c);

/** True for the standard rates 1200 .. 115200 the device supports. */
bool p1mb_baud_is_valid(uint32_t baud);

/** True when every field of @p c is in range. */
bool p1mb_config_is_valid(const struct p1mb_config *c);

/** True when @p a and @p b hold the same settings. */
bool p1mb_config_equal(const struct p1mb_config *a, const struct p1mb_config *b);

/** Bits per character on the wire: 11 for 8E1, 10 for 8N1 (for t3.5). */
uint8_t p1mb_config_bits_per_char(const struct p1mb_config *c);

/** Bytes of the stored form. */
#define P1MB_CONFIG_BLOB_LEN 8u

/**
 * Serialise @p c (layout version 1: version, parity, address, termination,
 * baud as 32-bit little endian) into @p buf.
 * @return P1MB_CONFIG_BLOB_LEN
 * @retval ML_ENOSPC @p cap < P1MB_CONFIG_BLOB_LEN
 */
int p1mb_config_encode(const struct p1mb_config *c, uint8_t *buf, size_t cap);

/**
 * Parse a stored form into @p c (untouched on error).
 * @retval 0 ok
 * @retval ML_EINVAL wrong length or version, or a field out of range
 */
int p1mb_config_decode(const uint8_t *buf, size_t len, struct p1mb_config *c);

/**
 * Load the stored configuration; @p c gets the defaults when there is none or
 * it cannot be used (the device must come up in every case).
 * @retval 0 loaded
 * @retval ML_ENOENT nothing stored (factory state): defaults
 * @retval ML_EINVAL stored copy unusable: defaults
 * @retval <0 a flash error: defaults
 */
int p1mb_config_load(const struct cfg_flash_ops *ops, struct p1mb_config *c);

/**
 * Store @p c (power-safe: the previous copy stays valid until this one is complete).
 * @retval 0 ok  @retval ML_EINVAL @p c invalid (nothing written)  @retval <0 flash error
 */
int p1mb_config_save(const struct cfg_flash_ops *ops, const struct p1mb_config *c);

/* ------------------------------------------------------------------------- */
/* Configuration register block                                              */
/* ------------------------------------------------------------------------- */

#define P1MB_REG_BLOCK_START 0xF000u /**< first address of the block */
#define P1MB_REG_BLOCK_END   0xF040u /**< one past the last; unused addresses read 0 */

#define P1MB_REG_SIG_P1        0xF000u
#define P1MB_REG_SIG_MB        0xF001u
#define P1MB_REG_LAYOUT        0xF002u
#define P1MB_REG_VARIANT       0xF003u
#define P1MB_REG_BAUD          0xF010u
#define P1MB_REG_PARITY        0xF011u
#define P1MB_REG_ADDRESS       0xF012u
#define P1MB_REG_TERMINATION   0xF013u
#define P1MB_REG_ACTIVE_BAUD   0xF020u
#define P1MB_REG_ACTIVE_PARITY 0xF021u
#define P1MB_REG_ACTIVE_ADDR   0xF022u
#define P1MB_REG_ACTIVE_TERM   0xF023u
#define P1MB_REG_REBOOT        0xF030u
#define P1MB_REG_FACTORY       0xF031u

#define P1MB_SIG_P1         0x5031u /**< "P1" */
#define P1MB_SIG_MB         0x4D42u /**< "MB" */
#define P1MB_LAYOUT_VERSION 1u
#define P1MB_REBOOT_MAGIC   0x5AA5u /**< value that reboots */
#define P1MB_FACTORY_MAGIC  0xFAC7u /**< value that restores the defaults (after reboot) */

struct p1mb_cfg_stats {
    uint32_t saves;       /**< successful stores */
    uint32_t save_errors; /**< flash failures (answered 0x04) */
    uint32_t rejected;    /**< writes answered 0x02 or 0x03 */
};

struct p1mb_cfg_regs {
    const struct cfg_flash_ops *ops; /**< NULL: no flash, writes answer 0x04 */
    struct p1mb_config active;       /**< in use since boot */
    struct p1mb_config stored;       /**< in the store (effective after reboot) */
    uint16_t variant_code;           /**< register 0xF003 */
    bool reboot_requested;           /**< set by a write of P1MB_REBOOT_MAGIC */
    bool dirty;                      /**< stored is not in flash yet (commit writes it) */
    bool factory_pending;            /**< the store is to be erased first (commit) */
    struct p1mb_cfg_stats stats;
};

/**
 * A write is answered at once and kept in RAM (the stored registers read it back); the
 * flash is written by p1mb_cfg_regs_commit(), which the app calls once the master has
 * been quiet for this long after the last change, and before any reboot. A save blocks
 * the loop (a 16 KiB sector erase takes up to 500 ms on the STM32F405): done inside
 * the write, every answer came after a master's usual 500 ms timeout.
 */
#define P1MB_CFG_COMMIT_MS 1000u

/**
 * Set up the block: @p active is the configuration the device booted with
 * (and the one found in the store).
 */
void p1mb_cfg_regs_init(struct p1mb_cfg_regs *r, const struct cfg_flash_ops *ops,
                        const struct p1mb_config *active, uint16_t variant_code);

/** True when [@p addr, @p addr + @p count) overlaps the block. */
bool p1mb_cfg_regs_overlaps(uint32_t addr, uint32_t count);

/**
 * Write the block's registers that fall in [@p addr, @p addr + @p count) into
 * @p out (out[0] is register @p addr); other words are left as they are.
 */
void p1mb_cfg_regs_read(const struct p1mb_cfg_regs *r, uint32_t addr, uint32_t count,
                        uint16_t *out);

/**
 * Write what p1mb_cfg_regs_write() changed to flash: the factory erase, then the stored
 * configuration. Blocks for the flash operations. A failure is counted in
 * stats.save_errors and the stored registers read the flash's configuration again.
 * @retval 0 nothing to do or written  @retval <0 flash error
 */
int p1mb_cfg_regs_commit(struct p1mb_cfg_regs *r);

/**
 * FC 0x06 on register @p addr with @p value.
 * @return MB_EX_NONE (stored / reboot requested), MB_EX_ILLEGAL_ADDRESS (not a
 *         writable register), MB_EX_ILLEGAL_VALUE (out of range, wrong magic;
 *         nothing stored), MB_EX_DEVICE_FAILURE (flash failed; old copy kept)
 */
int p1mb_cfg_regs_write(struct p1mb_cfg_regs *r, uint16_t addr, uint16_t value);

#endif /* FIRMWARE_APPS_P1MB_P1MB_CONFIG_H */

/**
 * @file cfg_store.h
 * @brief Two-slot, power-safe blob store on NOR flash (pure: flash access goes
 *        through caller-supplied ops, so core never calls the HAL).
 *
 * Layout of each slot (little-endian words):
 *
 *     off 0   magic   CFG_STORE_MAGIC, written LAST (the commit marker)
 *     off 4   seq     sequence number, newest = highest (wrap-aware)
 *     off 8   len     payload bytes
 *     off 12  crc     ml_crc32 over seq, len and the payload
 *     off 16  payload
 *
 * A save erases the slot that does *not* hold the newest valid copy, programs the
 * payload, then seq/len/crc, and finally the magic. Until the magic is fully
 * programmed the slot is invalid, so a power cut at any point leaves the
 * previous copy the newest valid one (the CRC also rejects a half-programmed
 * magic or bit rot). A load therefore returns either the old or the new blob,
 * never a mix.
 *
 * All functions run in thread context, block for the flash operations, keep no
 * state of their own (reentrant for different ops) and never allocate.
 */
#ifndef FIRMWARE_CORE_CONFIG_CFG_STORE_H
#define FIRMWARE_CORE_CONFIG_CFG_STORE_H

#include <stddef.h>
#include <stdint.h>

/** "MLCF" — marks a committed slot. */
#define CFG_STORE_MAGIC    0x46434C4Du
/** Header bytes before the payload. */
#define CFG_STORE_HDR_SIZE 16u

/** Flash access for the two slots (slot 0 and 1). Each op returns 0 or < 0. */
struct cfg_flash_ops {
    /** Read @p len bytes at @p off of @p slot. */
    int (*read)(void *ctx, unsigned slot, uint32_t off, void *buf, size_t len);
    /** Erase the whole slot (every byte 0xFF). */
    int (*erase)(void *ctx, unsigned slot);
    /** Program @p len bytes at @p off (NOR: bits 1 -> 0 only). */
    int (*write)(void *ctx, unsigned slot, uint32_t off, const void *buf, size_t len);
    uint32_t slot_size; /**< bytes per slot (header included) */
    void *ctx;          /**< passed to every op */
};

/**
 * Load the newest valid slot into @p blob.
 * @param ops   flash access (not NULL)
 * @param blob  caller buffer of @p cap bytes; untouched unless 0 is returned
 * @param len   out: payload bytes (may be NULL)
 * @param seq   out: sequence number of the loaded copy (may be NULL)
 * @retval 0 ok
 * @retval ML_ENOENT no valid copy (fresh or erased flash)
 * @retval ML_ENOSPC the newest valid copy is larger than @p cap
 * @retval ML_EFAULT NULL argument
 * @retval <0 an error returned by ops->read
 * When the newest copy fails its CRC, the other slot is used (bit-rot fallback).
 */
int cfg_store_load(const struct cfg_flash_ops *ops, void *blob, size_t cap, size_t *len,
                   uint32_t *seq);

/**
 * Save @p len bytes as the new newest copy (sequence = newest + 1, or 1).
 * @retval 0 ok
 * @retval ML_EMSGSIZE @p len does not fit a slot
 * @retval ML_EFAULT NULL argument
 * @retval <0 an error of an op (e.g. ML_EIO on power loss); the previous copy
 *         is still the one cfg_store_load() returns
 */
int cfg_store_save(const struct cfg_flash_ops *ops, const void *blob, size_t len);

/**
 * Factory reset: erase both slots, the older first, so that a power cut leaves
 * either the newest copy or nothing (never an older copy resurfacing).
 * @retval 0 ok  @retval <0 an error of ops->erase
 */
int cfg_store_erase_all(const struct cfg_flash_ops *ops);

#endif /* FIRMWARE_CORE_CONFIG_CFG_STORE_H */

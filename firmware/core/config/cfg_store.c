/*
 * Two-slot power-safe blob store. See cfg_store.h for the slot layout and the
 * power-cut argument.
 */
#include "cfg_store.h"

#include <stdbool.h>

#include "crc.h"
#include "err.h"

/* ------------------------------------------------------------------------- */
/* Header encoding (explicit little-endian, independent of the host)         */
/* ------------------------------------------------------------------------- */

struct slot_hdr {
    uint32_t magic;
    uint32_t seq;
    uint32_t len;
    uint32_t crc;
};

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* True when sequence @p a is newer than @p b (wrap-aware, as TCP sequence numbers). */
static bool seq_is_newer(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/* ------------------------------------------------------------------------- */
/* Slot validation                                                           */
/* ------------------------------------------------------------------------- */

/* Check slot @p slot completely (magic, length, CRC over the payload read in chunks).
 * Returns 1 valid, 0 invalid, < 0 read error. */
static int slot_check(const struct cfg_flash_ops *ops, unsigned slot, struct slot_hdr *h)
{
    uint8_t raw[CFG_STORE_HDR_SIZE];
    int err = ops->read(ops->ctx, slot, 0, raw, sizeof raw);
    if (err < 0) {
        return err;
    }
    h->magic = get_le32(&raw[0]);
    h->seq = get_le32(&raw[4]);
    h->len = get_le32(&raw[8]);
    h->crc = get_le32(&raw[12]);
    if (h->magic != CFG_STORE_MAGIC || h->len > ops->slot_size - CFG_STORE_HDR_SIZE) {
        return 0;
    }
    uint32_t crc = ml_crc32(ML_CRC32_INIT, &raw[4], 8);
    uint8_t chunk[64];
    uint32_t off = 0;
    while (off < h->len) {
        uint32_t n = h->len - off;
        if (n > sizeof chunk) {
            n = sizeof chunk;
        }
        err = ops->read(ops->ctx, slot, CFG_STORE_HDR_SIZE + off, chunk, n);
        if (err < 0) {
            return err;
        }
        crc = ml_crc32(crc, chunk, n);
        off += n;
    }
    return crc == h->crc ? 1 : 0;
}

/* Find the valid slots: *newest = slot index of the newest valid copy or -1, *other
 * likewise for the second one (valid but older) or -1. */
static int scan(const struct cfg_flash_ops *ops, int *newest, int *other, struct slot_hdr hdr[2])
{
    int ok[2];
    for (unsigned s = 0; s < 2; s++) {
        ok[s] = slot_check(ops, s, &hdr[s]);
        if (ok[s] < 0) {
            return ok[s];
        }
    }
    *newest = -1;
    *other = -1;
    if (ok[0] && ok[1]) {
        *newest = seq_is_newer(hdr[1].seq, hdr[0].seq) ? 1 : 0;
        *other = 1 - *newest;
    } else if (ok[0]) {
        *newest = 0;
    } else if (ok[1]) {
        *newest = 1;
    }
    return ML_OK;
}

static bool ops_are_usable(const struct cfg_flash_ops *ops)
{
    return ops != NULL && ops->read != NULL && ops->erase != NULL && ops->write != NULL &&
           ops->slot_size > CFG_STORE_HDR_SIZE;
}

/* ------------------------------------------------------------------------- */
/* API                                                                       */
/* ------------------------------------------------------------------------- */

int cfg_store_load(const struct cfg_flash_ops *ops, void *blob, size_t cap, size_t *len,
                   uint32_t *seq)
{
    ML_VERIFY(ops_are_usable(ops), ML_EFAULT);
    ML_VERIFY(blob != NULL || cap == 0, ML_EFAULT);
    struct slot_hdr hdr[2];
    int newest;
    int other;
    int err = scan(ops, &newest, &other, hdr);
    if (err < 0) {
        return err;
    }
    if (newest < 0) {
        return ML_ENOENT;
    }
    const struct slot_hdr *h = &hdr[newest];
    if (h->len > cap) {
        return ML_ENOSPC;
    }
    err = ops->read(ops->ctx, (unsigned)newest, CFG_STORE_HDR_SIZE, blob, h->len);
    if (err < 0) {
        return err;
    }
    /* The flash could change between the check and this read only through a
     * concurrent writer, which the contract excludes; re-check the CRC anyway
     * so the caller never sees unverified bytes. */
    uint8_t raw[8];
    put_le32(&raw[0], h->seq);
    put_le32(&raw[4], h->len);
    uint32_t crc = ml_crc32(ml_crc32(ML_CRC32_INIT, raw, sizeof raw), blob, h->len);
    if (crc != h->crc) {
        return ML_EIO;
    }
    if (len != NULL) {
        *len = h->len;
    }
    if (seq != NULL) {
        *seq = h->seq;
    }
    return ML_OK;
}

int cfg_store_save(const struct cfg_flash_ops *ops, const void *blob, size_t len)
{
    ML_VERIFY(ops_are_usable(ops), ML_EFAULT);
    ML_VERIFY(blob != NULL || len == 0, ML_EFAULT);
    ML_VERIFY(len <= ops->slot_size - CFG_STORE_HDR_SIZE, ML_EMSGSIZE);
    struct slot_hdr hdr[2];
    int newest;
    int other;
    int err = scan(ops, &newest, &other, hdr);
    if (err < 0) {
        return err;
    }
    unsigned target = newest < 0 ? 0u : (unsigned)(1 - newest);
    uint32_t seq = newest < 0 ? 1u : hdr[newest].seq + 1u;

    err = ops->erase(ops->ctx, target);
    if (err < 0) {
        return err;
    }
    if (len > 0) {
        err = ops->write(ops->ctx, target, CFG_STORE_HDR_SIZE, blob, len);
        if (err < 0) {
            return err;
        }
    }
    uint8_t tail[12];
    put_le32(&tail[0], seq);
    put_le32(&tail[4], (uint32_t)len);
    uint32_t crc = ml_crc32(ml_crc32(ML_CRC32_INIT, tail, 8), blob, len);
    put_le32(&tail[8], crc);
    err = ops->write(ops->ctx, target, 4, tail, sizeof tail);
    if (err < 0) {
        return err;
    }
    /* Commit: the magic goes last. */
    uint8_t magic[4];
    put_le32(magic, CFG_STORE_MAGIC);
    return ops->write(ops->ctx, target, 0, magic, sizeof magic);
}

int cfg_store_erase_all(const struct cfg_flash_ops *ops)
{
    ML_VERIFY(ops_are_usable(ops), ML_EFAULT);
    struct slot_hdr hdr[2];
    int newest;
    int other;
    int err = scan(ops, &newest, &other, hdr);
    if (err < 0) {
        return err;
    }
    /* Older (or invalid) slot first, newest last. */
    unsigned first = newest == 0 ? 1u : 0u;
    err = ops->erase(ops->ctx, first);
    if (err < 0) {
        return err;
    }
    return ops->erase(ops->ctx, 1u - first);
}

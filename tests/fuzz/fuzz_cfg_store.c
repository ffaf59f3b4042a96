/*
 * libFuzzer target for core/config's flash store (cfg_store.c) and the binary
 * configuration it holds (cfg_decode), fed a whole flash image of both slots.
 *
 * Input: byte 0 = flags, the rest = the image (slot 0 then slot 1, SLOT bytes
 * each; missing bytes are erased 0xFF).
 *   flags bit 0: before loading, give every slot whose length field fits a
 *                valid magic and CRC, so the payload reaches cfg_decode() (a
 *                fuzzer rarely guesses a CRC-32);
 *   flags bits 1..7: k; when k > 0 the save below loses power at its k-th
 *                flash operation (that operation is half done).
 * Invariants:
 *  - cfg_store_load() returns 0 or ML_ENOENT (cap = a slot, ops never fail),
 *    and on 0 the bytes are the payload of a slot whose header says so;
 *  - cfg_decode() of those bytes returns 0 or ML_EINVAL; on 0 the result
 *    validates, and encode -> decode gives the same bytes again;
 *  - a save of a new blob over any image, then a load, returns the new blob;
 *    with a power cut during the save, the load returns the new blob or what
 *    the load before the save returned (nothing else, never a mix).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "config/cfg_store.h"
#include "crc.h"
#include "err.h"

#define SLOT 1024u

struct flash {
    uint8_t mem[2][SLOT];
    unsigned ops;    /* operations so far */
    unsigned cut_at; /* 0: no cut; else the operation that loses power */
};

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

/* True when this operation is cut (and every later one fails). */
static int cut(struct flash *f)
{
    f->ops++;
    return f->cut_at != 0u && f->ops >= f->cut_at;
}

static int op_read(void *ctx, unsigned slot, uint32_t off, void *buf, size_t len)
{
    struct flash *f = ctx;
    check(slot < 2u && off <= SLOT && len <= SLOT - off);
    memcpy(buf, &f->mem[slot][off], len);
    return 0;
}

static int op_erase(void *ctx, unsigned slot)
{
    struct flash *f = ctx;
    check(slot < 2u);
    int dead = cut(f);
    size_t n = dead && f->ops == f->cut_at ? SLOT / 2u : (dead ? 0u : SLOT);
    memset(f->mem[slot], 0xFF, n);
    return dead ? ML_EIO : 0;
}

static int op_write(void *ctx, unsigned slot, uint32_t off, const void *buf, size_t len)
{
    struct flash *f = ctx;
    check(slot < 2u && off <= SLOT && len <= SLOT - off);
    int dead = cut(f);
    size_t n = dead && f->ops == f->cut_at ? len / 2u : (dead ? 0u : len);
    const uint8_t *b = buf;
    for (size_t i = 0; i < n; i++) {
        f->mem[slot][off + i] &= b[i]; /* NOR: bits 1 -> 0 only */
    }
    return dead ? ML_EIO : 0;
}

static uint32_t le32(const uint8_t *p)
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

/* Give slot @p s a valid magic and CRC when its length field fits. */
static void make_valid(uint8_t *s)
{
    uint32_t len = le32(&s[8]);
    if (len > SLOT - CFG_STORE_HDR_SIZE) {
        return;
    }
    put_le32(&s[0], CFG_STORE_MAGIC);
    uint32_t crc = ml_crc32(ML_CRC32_INIT, &s[4], 8);
    put_le32(&s[12], ml_crc32(crc, &s[CFG_STORE_HDR_SIZE], len));
}

/* True when @p blob (@p len bytes) is the payload of a slot whose header says so. */
static int is_slot_payload(const struct flash *f, const uint8_t *blob, size_t len)
{
    for (unsigned s = 0; s < 2u; s++) {
        const uint8_t *m = f->mem[s];
        if (le32(&m[0]) == CFG_STORE_MAGIC && le32(&m[8]) == len &&
            memcmp(&m[CFG_STORE_HDR_SIZE], blob, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static void check_decode(const uint8_t *blob, size_t len)
{
    struct cfg c;
    int rc = cfg_decode(&c, blob, len, NULL);
    check(rc == 0 || rc == ML_EINVAL);
    if (rc != 0) {
        return;
    }
    check(cfg_validate(&c, NULL, NULL) == 0);
    uint8_t a[CFG_BLOB_MAX], b[CFG_BLOB_MAX];
    int na = cfg_encode(&c, a, sizeof a);
    check(na > 0);
    struct cfg again;
    check(cfg_decode(&again, a, (size_t)na, NULL) == 0);
    int nb = cfg_encode(&again, b, sizeof b);
    check(na == nb && memcmp(a, b, (size_t)na) == 0);
    static char json[2048];
    check(cfg_json_render(&c, json, sizeof json) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct flash f;
    static uint8_t before[SLOT], after[SLOT];
    if (size == 0u) {
        return 0;
    }
    uint8_t flags = data[0];
    memset(&f, 0, sizeof f);
    memset(f.mem, 0xFF, sizeof f.mem);
    size_t n = size - 1u < sizeof f.mem ? size - 1u : sizeof f.mem;
    memcpy(f.mem, data + 1, n);
    if ((flags & 1u) != 0u) {
        make_valid(f.mem[0]);
        make_valid(f.mem[1]);
    }
    struct cfg_flash_ops ops = {op_read, op_erase, op_write, SLOT, &f};

    size_t blen = 0;
    int rc = cfg_store_load(&ops, before, sizeof before, &blen, NULL);
    check(rc == 0 || rc == ML_ENOENT);
    if (rc == 0) {
        check(blen <= SLOT - CFG_STORE_HDR_SIZE);
        check(is_slot_payload(&f, before, blen));
        check_decode(before, blen);
    }

    /* a new configuration saved over this image */
    struct cfg c;
    cfg_defaults(&c);
    memcpy(c.mqtt_site, "fuzz", 5);
    uint8_t blob[CFG_BLOB_MAX];
    int bl = cfg_encode(&c, blob, sizeof blob);
    check(bl > 0);
    f.ops = 0;
    f.cut_at = flags >> 1;
    int sv = cfg_store_save(&ops, blob, (size_t)bl);
    check(f.cut_at != 0u || sv == 0);
    f.cut_at = 0; /* power is back */
    size_t alen = 0;
    int rc2 = cfg_store_load(&ops, after, sizeof after, &alen, NULL);
    int is_new = rc2 == 0 && alen == (size_t)bl && memcmp(after, blob, alen) == 0;
    int is_old = rc2 == rc && (rc != 0 || (alen == blen && memcmp(after, before, alen) == 0));
    check(is_new || (sv != 0 && is_old));
    return 0;
}

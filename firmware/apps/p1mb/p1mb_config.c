/*
 * P1MB configuration: validation, stored form, and the 0xF000 register block.
 * The register layout and its rationale are in p1mb_config.h and docs/p1mb.md.
 */
#include "p1mb_config.h"

#include "err.h"
#include "modbus/modbus.h"

/* ------------------------------------------------------------------------- */
/* Settings                                                                  */
/* ------------------------------------------------------------------------- */

/* Every standard rate of the manual's range 1200 .. 115200 (products.md decision:
 * 14400 and 28800 included); anything else is refused. */
static const uint32_t bauds[] = {1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400, 57600, 115200};

void p1mb_config_defaults(struct p1mb_config *c)
{
    c->baud = P1MB_DEFAULT_BAUD;
    c->parity = P1MB_DEFAULT_PARITY;
    c->address = P1MB_DEFAULT_ADDRESS;
    c->termination = P1MB_DEFAULT_TERM;
}

bool p1mb_baud_is_valid(uint32_t baud)
{
    for (size_t i = 0; i < ML_ARRAY_SIZE(bauds); i++) {
        if (bauds[i] == baud) {
            return true;
        }
    }
    return false;
}

bool p1mb_config_is_valid(const struct p1mb_config *c)
{
    return p1mb_baud_is_valid(c->baud) &&
           (c->parity == P1MB_PARITY_NONE || c->parity == P1MB_PARITY_EVEN) && c->address >= 1u &&
           c->address <= 247u;
}

bool p1mb_config_equal(const struct p1mb_config *a, const struct p1mb_config *b)
{
    return a->baud == b->baud && a->parity == b->parity && a->address == b->address &&
           a->termination == b->termination;
}

uint8_t p1mb_config_bits_per_char(const struct p1mb_config *c)
{
    return c->parity == P1MB_PARITY_NONE ? 10u : 11u;
}

int p1mb_config_encode(const struct p1mb_config *c, uint8_t *buf, size_t cap)
{
    ML_VERIFY(cap >= P1MB_CONFIG_BLOB_LEN, ML_ENOSPC);
    buf[0] = P1MB_LAYOUT_VERSION;
    buf[1] = c->parity;
    buf[2] = c->address;
    buf[3] = c->termination ? 1u : 0u;
    for (unsigned i = 0; i < 4u; i++) {
        buf[4u + i] = (uint8_t)(c->baud >> (8u * i));
    }
    return (int)P1MB_CONFIG_BLOB_LEN;
}

int p1mb_config_decode(const uint8_t *buf, size_t len, struct p1mb_config *c)
{
    ML_VERIFY(len == P1MB_CONFIG_BLOB_LEN && buf[0] == P1MB_LAYOUT_VERSION, ML_EINVAL);
    ML_VERIFY(buf[3] <= 1u, ML_EINVAL);
    struct p1mb_config t;
    t.parity = buf[1];
    t.address = buf[2];
    t.termination = buf[3] != 0u;
    t.baud = 0;
    for (unsigned i = 0; i < 4u; i++) {
        t.baud |= (uint32_t)buf[4u + i] << (8u * i);
    }
    ML_VERIFY(p1mb_config_is_valid(&t), ML_EINVAL);
    *c = t;
    return ML_OK;
}

int p1mb_config_load(const struct cfg_flash_ops *ops, struct p1mb_config *c)
{
    p1mb_config_defaults(c);
    ML_VERIFY(ops != NULL, ML_EFAULT);
    uint8_t blob[P1MB_CONFIG_BLOB_LEN + 8u];
    size_t len = 0;
    int err = cfg_store_load(ops, blob, sizeof blob, &len, NULL);
    if (err < 0) {
        return err == ML_ENOSPC ? ML_EINVAL : err;
    }
    return p1mb_config_decode(blob, len, c);
}

int p1mb_config_save(const struct cfg_flash_ops *ops, const struct p1mb_config *c)
{
    ML_VERIFY(ops != NULL && c != NULL, ML_EFAULT);
    ML_VERIFY(p1mb_config_is_valid(c), ML_EINVAL);
    uint8_t blob[P1MB_CONFIG_BLOB_LEN];
    int n = p1mb_config_encode(c, blob, sizeof blob);
    if (n < 0) {
        return n;
    }
    return cfg_store_save(ops, blob, (size_t)n);
}

/* ------------------------------------------------------------------------- */
/* Register block                                                            */
/* ------------------------------------------------------------------------- */

void p1mb_cfg_regs_init(struct p1mb_cfg_regs *r, const struct cfg_flash_ops *ops,
                        const struct p1mb_config *active, uint16_t variant_code)
{
    r->ops = ops;
    r->active = *active;
    r->stored = *active;
    r->variant_code = variant_code;
    r->reboot_requested = false;
    r->dirty = false;
    r->factory_pending = false;
    r->stats.saves = 0;
    r->stats.save_errors = 0;
    r->stats.rejected = 0;
}

bool p1mb_cfg_regs_overlaps(uint32_t addr, uint32_t count)
{
    return addr < P1MB_REG_BLOCK_END && addr + count > P1MB_REG_BLOCK_START;
}

/* The four settings as registers, in the order baud, parity, address, termination. */
static uint16_t setting_word(const struct p1mb_config *c, unsigned i)
{
    switch (i) {
    case 0:
        return (uint16_t)(c->baud / 100u);
    case 1:
        return c->parity;
    case 2:
        return c->address;
    default:
        return c->termination ? 1u : 0u;
    }
}

static uint16_t reg_value(const struct p1mb_cfg_regs *r, uint32_t a)
{
    if (a >= P1MB_REG_BAUD && a <= P1MB_REG_TERMINATION) {
        return setting_word(&r->stored, (unsigned)(a - P1MB_REG_BAUD));
    }
    if (a >= P1MB_REG_ACTIVE_BAUD && a <= P1MB_REG_ACTIVE_TERM) {
        return setting_word(&r->active, (unsigned)(a - P1MB_REG_ACTIVE_BAUD));
    }
    switch (a) {
    case P1MB_REG_SIG_P1:
        return P1MB_SIG_P1;
    case P1MB_REG_SIG_MB:
        return P1MB_SIG_MB;
    case P1MB_REG_LAYOUT:
        return P1MB_LAYOUT_VERSION;
    case P1MB_REG_VARIANT:
        return r->variant_code;
    default:
        return 0; /* reserved, reboot and factory registers read 0 */
    }
}

void p1mb_cfg_regs_read(const struct p1mb_cfg_regs *r, uint32_t addr, uint32_t count, uint16_t *out)
{
    for (uint32_t i = 0; i < count; i++) {
        uint32_t a = addr + i;
        if (a >= P1MB_REG_BLOCK_START && a < P1MB_REG_BLOCK_END) {
            out[i] = reg_value(r, a);
        }
    }
}

static int store(struct p1mb_cfg_regs *r, const struct p1mb_config *next)
{
    if (p1mb_config_equal(next, &r->stored)) {
        return MB_EX_NONE; /* nothing changes: spare the flash */
    }
    if (r->ops == NULL) {
        r->stats.save_errors++;
        return MB_EX_DEVICE_FAILURE;
    }
    r->stored = *next;
    r->dirty = true; /* written by p1mb_cfg_regs_commit() */
    return MB_EX_NONE;
}

int p1mb_cfg_regs_commit(struct p1mb_cfg_regs *r)
{
    int err = ML_OK;
    if (r->factory_pending) {
        r->factory_pending = false;
        err = cfg_store_erase_all(r->ops);
        if (err == ML_OK) {
            r->stats.saves++;
        }
    }
    if (err == ML_OK && r->dirty) {
        err = p1mb_config_save(r->ops, &r->stored);
        if (err == ML_OK) {
            r->stats.saves++;
        }
    }
    r->dirty = false;
    if (err < 0) {
        r->stats.save_errors++;
        (void)p1mb_config_load(r->ops, &r->stored); /* the registers tell what flash holds */
    }
    return err;
}

static int reject(struct p1mb_cfg_regs *r, int ex)
{
    r->stats.rejected++;
    return ex;
}

int p1mb_cfg_regs_write(struct p1mb_cfg_regs *r, uint16_t addr, uint16_t value)
{
    struct p1mb_config next = r->stored;
    switch (addr) {
    case P1MB_REG_BAUD:
        /* value * 100 cannot overflow 32 bits; the rate list is the range check */
        next.baud = (uint32_t)value * 100u;
        break;
    case P1MB_REG_PARITY:
        if (value > 0xFFu) {
            return reject(r, MB_EX_ILLEGAL_VALUE);
        }
        next.parity = (uint8_t)value;
        break;
    case P1MB_REG_ADDRESS:
        if (value > 0xFFu) {
            return reject(r, MB_EX_ILLEGAL_VALUE);
        }
        next.address = (uint8_t)value;
        break;
    case P1MB_REG_TERMINATION:
        if (value > 1u) {
            return reject(r, MB_EX_ILLEGAL_VALUE);
        }
        next.termination = value == 1u;
        break;
    case P1MB_REG_REBOOT:
        if (value != P1MB_REBOOT_MAGIC) {
            return reject(r, MB_EX_ILLEGAL_VALUE);
        }
        r->reboot_requested = true;
        return MB_EX_NONE;
    case P1MB_REG_FACTORY:
        if (value != P1MB_FACTORY_MAGIC) {
            return reject(r, MB_EX_ILLEGAL_VALUE);
        }
        if (r->ops == NULL) {
            r->stats.save_errors++;
            return MB_EX_DEVICE_FAILURE;
        }
        p1mb_config_defaults(&r->stored);
        r->factory_pending = true; /* p1mb_cfg_regs_commit() erases the store */
        r->dirty = false;
        return MB_EX_NONE;
    default:
        return reject(r, MB_EX_ILLEGAL_ADDRESS);
    }
    if (!p1mb_config_is_valid(&next)) {
        return reject(r, MB_EX_ILLEGAL_VALUE);
    }
    return store(r, &next);
}

/*
 * Modbus PDU layer: FC 0x03/0x04/0x06/0x10 against a caller data source.
 * Lengths are checked before any field is read (libmodbus issues #105, #612).
 */
#include "modbus.h"

#include "err.h"

/* ------------------------------------------------------------------------- */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------- */

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)(p[0] << 8) | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static int exception(struct mb_slave *s, uint8_t fc, int code, uint8_t *out, size_t cap)
{
    ML_VERIFY(cap >= 2u, ML_ENOSPC);
    s->stats.exceptions++;
    if (code < MB_EX_ILLEGAL_FUNCTION || code > 0xFF) {
        code = MB_EX_DEVICE_FAILURE; /* a callback returned something that is not a code */
    }
    out[0] = (uint8_t)(fc | 0x80u);
    out[1] = (uint8_t)code;
    return 2;
}

static uint8_t fc_bit(uint8_t fc)
{
    switch (fc) {
    case MB_FC_READ_HOLDING:
        return MB_FCBIT_03;
    case MB_FC_READ_INPUT:
        return MB_FCBIT_04;
    case MB_FC_WRITE_SINGLE:
        return MB_FCBIT_06;
    case MB_FC_WRITE_MULTI:
        return MB_FCBIT_10;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------------- */
/* Function codes                                                            */
/* ------------------------------------------------------------------------- */

static int do_read(struct mb_slave *s, uint8_t fc, const uint8_t *req, size_t len, uint8_t *out,
                   size_t cap)
{
    if (len != 5u) {
        return exception(s, fc, MB_EX_ILLEGAL_VALUE, out, cap);
    }
    uint16_t addr = get_be16(&req[1]);
    uint16_t count = get_be16(&req[3]);
    if (count == 0u || count > MB_READ_MAX) {
        return exception(s, fc, MB_EX_ILLEGAL_VALUE, out, cap);
    }
    if ((uint32_t)addr + count > 0x10000u) {
        return exception(s, fc, MB_EX_ILLEGAL_ADDRESS, out, cap);
    }
    size_t need = 2u + 2u * (size_t)count;
    ML_VERIFY(cap >= need, ML_ENOSPC);
    uint16_t regs[MB_READ_MAX];
    for (uint16_t i = 0; i < count; i++) {
        regs[i] = 0;
    }
    int ex = s->read(s->ctx, fc, addr, count, regs);
    if (ex != MB_EX_NONE) {
        return exception(s, fc, ex, out, cap);
    }
    out[0] = fc;
    out[1] = (uint8_t)(2u * count);
    for (uint16_t i = 0; i < count; i++) {
        put_be16(&out[2u + 2u * i], regs[i]);
    }
    return (int)need;
}

static int do_write_single(struct mb_slave *s, const uint8_t *req, size_t len, uint8_t *out,
                           size_t cap)
{
    if (len != 5u) {
        return exception(s, MB_FC_WRITE_SINGLE, MB_EX_ILLEGAL_VALUE, out, cap);
    }
    uint16_t v = get_be16(&req[3]);
    int ex = s->write(s->ctx, get_be16(&req[1]), 1, &v);
    if (ex != MB_EX_NONE) {
        return exception(s, MB_FC_WRITE_SINGLE, ex, out, cap);
    }
    s->stats.writes++;
    ML_VERIFY(cap >= 5u, ML_ENOSPC);
    for (size_t i = 0; i < 5u; i++) {
        out[i] = req[i]; /* §6.6: the reply echoes the request */
    }
    return 5;
}

static int do_write_multi(struct mb_slave *s, const uint8_t *req, size_t len, uint8_t *out,
                          size_t cap)
{
    if (len < 6u) {
        return exception(s, MB_FC_WRITE_MULTI, MB_EX_ILLEGAL_VALUE, out, cap);
    }
    uint16_t addr = get_be16(&req[1]);
    uint16_t count = get_be16(&req[3]);
    uint8_t bytes = req[5];
    if (count == 0u || count > MB_WRITE_MAX || bytes != 2u * count || len != 6u + bytes) {
        return exception(s, MB_FC_WRITE_MULTI, MB_EX_ILLEGAL_VALUE, out, cap);
    }
    if ((uint32_t)addr + count > 0x10000u) {
        return exception(s, MB_FC_WRITE_MULTI, MB_EX_ILLEGAL_ADDRESS, out, cap);
    }
    uint16_t regs[MB_WRITE_MAX];
    for (uint16_t i = 0; i < count; i++) {
        regs[i] = get_be16(&req[6u + 2u * i]);
    }
    int ex = s->write(s->ctx, addr, count, regs);
    if (ex != MB_EX_NONE) {
        return exception(s, MB_FC_WRITE_MULTI, ex, out, cap);
    }
    s->stats.writes++;
    ML_VERIFY(cap >= 5u, ML_ENOSPC);
    for (size_t i = 0; i < 5u; i++) {
        out[i] = req[i];
    }
    return 5;
}

/* ------------------------------------------------------------------------- */
/* Public                                                                    */
/* ------------------------------------------------------------------------- */

void mb_slave_init(struct mb_slave *s, mb_read_fn read, mb_write_fn write, void *ctx)
{
    s->read = read;
    s->write = write;
    s->ctx = ctx;
    s->fc_mask = MB_FCBIT_ALL;
    s->stats = (struct mb_pdu_stats){0};
}

int mb_slave_handle_pdu(struct mb_slave *s, const uint8_t *req, size_t req_len, uint8_t *out,
                        size_t cap)
{
    ML_VERIFY(req_len >= 1u, ML_EINVAL);
    uint8_t fc = req[0];
    s->stats.requests++;
    uint8_t bit = fc_bit(fc);
    bool is_write = fc == MB_FC_WRITE_SINGLE || fc == MB_FC_WRITE_MULTI;
    if (bit == 0u || (s->fc_mask & bit) == 0u || (is_write && s->write == NULL) ||
        (!is_write && s->read == NULL)) {
        return exception(s, fc, MB_EX_ILLEGAL_FUNCTION, out, cap);
    }
    switch (fc) {
    case MB_FC_READ_HOLDING:
    case MB_FC_READ_INPUT:
        return do_read(s, fc, req, req_len, out, cap);
    case MB_FC_WRITE_SINGLE:
        return do_write_single(s, req, req_len, out, cap);
    default:
        return do_write_multi(s, req, req_len, out, cap);
    }
}

/*
 * Modbus RTU framing (Modbus over serial line V1.02 §2.5): a frame ends after
 * t3.5 of silence, measured on the per-byte receive stamps from the HAL. The
 * t1.5 inter-character rule is not enforced: USB adapters and RTOS UART
 * drivers routinely break it, and the CRC catches torn frames anyway.
 */
#include "modbus.h"

#include "crc.h"
#include "err.h"

/* ------------------------------------------------------------------------- */
/* Timing                                                                    */
/* ------------------------------------------------------------------------- */

uint32_t mb_rtu_t35_us(uint32_t baud, uint8_t bits_per_char)
{
    /* §2.5.1.1: above 19200 baud use fixed 1.750 ms for t3.5 */
    if (baud > 19200u) {
        return 1750u;
    }
    if (baud == 0u) {
        baud = 1u;
    }
    uint32_t bits = bits_per_char < 7u ? 7u : (bits_per_char > 12u ? 12u : bits_per_char);
    /* 3.5 chars * bits * 1e6 / baud, rounded up; 35 * 12 * 1e6 fits in 32 bits */
    uint32_t num = 35u * bits * 100000u;
    return (num + baud - 1u) / baud;
}

/* Elapsed µs from @p from to @p to on the wrapping 32-bit stamp clock; a stamp
 * slightly in the future (taken on another thread) counts as no time. */
static uint32_t elapsed(uint32_t from, uint32_t to)
{
    int32_t d = (int32_t)(to - from);
    return d < 0 ? 0u : (uint32_t)d;
}

/* ------------------------------------------------------------------------- */
/* Frame end                                                                 */
/* ------------------------------------------------------------------------- */

static void restart(struct mb_rtu *r)
{
    r->active = false;
    r->overflow = false;
    r->len = 0;
    r->dropped = 0;
}

/* The frame in buf is complete: check it and build the reply (if any). */
static int finish(struct mb_rtu *r, uint8_t *out, size_t cap)
{
    size_t len = r->len;
    if (r->overflow) {
        r->stats.garbage_bytes += (uint32_t)len + r->dropped;
        restart(r);
        return 0;
    }
    restart(r);
    if (len < 4u) { /* address + FC + CRC at least (§2.5.1) */
        r->stats.garbage_bytes += (uint32_t)len;
        return 0;
    }
    uint16_t crc = (uint16_t)(r->buf[len - 2u] | (uint16_t)(r->buf[len - 1u] << 8));
    if (ml_crc16_modbus(r->buf, len - 2u) != crc) {
        r->stats.crc_errors++;
        return 0;
    }
    uint8_t addr = r->buf[0];
    if (addr != r->address && addr != MB_BROADCAST) {
        r->stats.wrong_address++;
        return 0;
    }
    r->stats.frames_ok++;
    int n = mb_slave_handle_pdu(r->slave, &r->buf[1], len - 3u, &out[1], cap - 3u);
    if (addr == MB_BROADCAST) {
        /* §2.2: broadcast requests are executed, never answered */
        r->stats.broadcasts++;
        return 0;
    }
    if (n <= 0) {
        return n;
    }
    out[0] = r->address;
    uint16_t c = ml_crc16_modbus(out, (size_t)n + 1u);
    out[n + 1] = (uint8_t)c; /* CRC low byte first (§2.5.1.2) */
    out[n + 2] = (uint8_t)(c >> 8);
    return n + 3;
}

/* ------------------------------------------------------------------------- */
/* Public                                                                    */
/* ------------------------------------------------------------------------- */

int mb_rtu_init(struct mb_rtu *r, struct mb_slave *slave, uint8_t address, uint32_t baud,
                uint8_t bits_per_char)
{
    ML_VERIFY(slave != NULL && address >= 1u && address <= 247u, ML_EINVAL);
    r->slave = slave;
    r->address = address;
    r->t35_us = mb_rtu_t35_us(baud, bits_per_char);
    r->last_us = 0;
    r->stats = (struct mb_rtu_stats){0};
    restart(r);
    return ML_OK;
}

int mb_rtu_feed(struct mb_rtu *r, const uint8_t *data, const uint32_t *ts_us, size_t len,
                size_t *consumed, uint8_t *out, size_t cap)
{
    *consumed = 0;
    ML_VERIFY(cap >= MB_RTU_ADU_MAX, ML_ENOSPC);
    for (size_t i = 0; i < len; i++) {
        uint32_t ts = ts_us != NULL ? ts_us[i] : r->last_us;
        if (r->active && elapsed(r->last_us, ts) >= r->t35_us) {
            int n = finish(r, out, cap);
            if (n != 0) {
                *consumed = i;
                return n;
            }
        }
        if (r->len < MB_RTU_ADU_MAX) {
            r->buf[r->len++] = data[i];
        } else {
            r->overflow = true;
            r->dropped++;
        }
        r->active = true;
        r->last_us = ts;
    }
    *consumed = len;
    return 0;
}

int mb_rtu_poll(struct mb_rtu *r, uint32_t now_us, uint8_t *out, size_t cap)
{
    ML_VERIFY(cap >= MB_RTU_ADU_MAX, ML_ENOSPC);
    if (r->active && elapsed(r->last_us, now_us) >= r->t35_us) {
        return finish(r, out, cap);
    }
    return 0;
}

uint64_t mb_rtu_deadline_ms(const struct mb_rtu *r, uint64_t now_us)
{
    if (!r->active) {
        return UINT64_MAX;
    }
    uint32_t e = elapsed(r->last_us, (uint32_t)now_us);
    uint64_t left = e >= r->t35_us ? 0u : (uint64_t)(r->t35_us - e);
    return (now_us + left + 999u) / 1000u;
}

bool mb_rtu_is_idle(const struct mb_rtu *r)
{
    return !r->active;
}

/* ------------------------------------------------------------------------- */
/* Ops                                                                       */
/* ------------------------------------------------------------------------- */

static int rtu_feed(void *f, const uint8_t *data, const uint32_t *ts_us, size_t len,
                    size_t *consumed, uint8_t *out, size_t cap)
{
    return mb_rtu_feed(f, data, ts_us, len, consumed, out, cap);
}

static int rtu_poll(void *f, uint32_t now_us, uint8_t *out, size_t cap)
{
    return mb_rtu_poll(f, now_us, out, cap);
}

static uint64_t rtu_deadline(const void *f, uint64_t now_us)
{
    return mb_rtu_deadline_ms(f, now_us);
}

const struct mb_framing_ops mb_rtu_ops = {"rtu", rtu_feed, rtu_poll, rtu_deadline};

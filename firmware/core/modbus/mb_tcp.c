/*
 * Modbus TCP framing (Modbus Messaging on TCP/IP Implementation Guide V1.0b
 * §3.1.3): MBAP = transaction id (2), protocol id (2, must be 0), length (2,
 * counts unit id + PDU), unit id (1). The unit id is echoed and not checked
 * (products.md: the Smart Connect answers any unit id).
 */
#include "modbus.h"

#include "err.h"

#define MBAP_LEN_MIN 2u   /* unit id + function code */
#define MBAP_LEN_MAX 254u /* unit id + 253-byte PDU */

static int fail(struct mb_tcp *t)
{
    t->failed = true;
    t->len = 0;
    t->stats.protocol_errors++;
    return ML_EPROTO;
}

/* Header check on 7 bytes; returns the whole ADU length or ML_EPROTO. */
static int adu_len(struct mb_tcp *t, const uint8_t *h)
{
    uint16_t pid = (uint16_t)((uint16_t)(h[2] << 8) | h[3]);
    uint16_t len = (uint16_t)((uint16_t)(h[4] << 8) | h[5]);
    if (pid != 0u || len < MBAP_LEN_MIN || len > MBAP_LEN_MAX) {
        return fail(t);
    }
    return 6 + (int)len;
}

/* One complete ADU of @p n bytes at @p adu: answer it. */
static int answer(struct mb_tcp *t, const uint8_t *adu, size_t n, uint8_t *out, size_t cap)
{
    int r = mb_slave_handle_pdu(t->slave, &adu[MB_TCP_MBAP_LEN], n - MB_TCP_MBAP_LEN,
                                &out[MB_TCP_MBAP_LEN], cap - MB_TCP_MBAP_LEN);
    if (r <= 0) {
        return r;
    }
    uint16_t l = (uint16_t)(r + 1);
    out[0] = adu[0];
    out[1] = adu[1];
    out[2] = 0;
    out[3] = 0;
    out[4] = (uint8_t)(l >> 8);
    out[5] = (uint8_t)l;
    out[6] = adu[6];
    t->stats.frames_ok++;
    return r + (int)MB_TCP_MBAP_LEN;
}

void mb_tcp_init(struct mb_tcp *t, struct mb_slave *slave)
{
    t->slave = slave;
    t->stats = (struct mb_tcp_stats){0};
    mb_tcp_reset(t);
}

void mb_tcp_reset(struct mb_tcp *t)
{
    t->len = 0;
    t->failed = false;
}

int mb_tcp_feed(struct mb_tcp *t, const uint8_t *data, size_t len, size_t *consumed, uint8_t *out,
                size_t cap)
{
    *consumed = 0;
    ML_VERIFY(cap >= MB_TCP_ADU_MAX, ML_ENOSPC);
    if (t->failed) {
        return ML_EPROTO;
    }
    /* Fast path: a whole request at the start of the segment, nothing buffered. */
    if (t->len == 0u && len >= MB_TCP_MBAP_LEN) {
        int n = adu_len(t, data);
        if (n < 0) {
            return n;
        }
        if (len >= (size_t)n) {
            *consumed = (size_t)n;
            return answer(t, data, (size_t)n, out, cap);
        }
    }
    /* Slow path: gather the header, then the rest, across segments. */
    size_t i = 0;
    while (i < len) {
        size_t want = MB_TCP_MBAP_LEN;
        if (t->len >= MB_TCP_MBAP_LEN) {
            int n = adu_len(t, t->buf);
            if (n < 0) {
                *consumed = i;
                return n;
            }
            want = (size_t)n;
        }
        while (i < len && t->len < want) {
            t->buf[t->len++] = data[i++];
        }
        if (t->len == want && want > MB_TCP_MBAP_LEN) {
            t->len = 0;
            *consumed = i;
            return answer(t, t->buf, want, out, cap);
        }
    }
    /* A complete header may have arrived last: check it now, so bad frames fail early. */
    if (t->len == MB_TCP_MBAP_LEN) {
        int n = adu_len(t, t->buf);
        if (n < 0) {
            *consumed = i;
            return n;
        }
    }
    *consumed = i;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Ops                                                                       */
/* ------------------------------------------------------------------------- */

static int tcp_feed(void *f, const uint8_t *data, const uint32_t *ts_us, size_t len,
                    size_t *consumed, uint8_t *out, size_t cap)
{
    (void)ts_us;
    return mb_tcp_feed(f, data, len, consumed, out, cap);
}

static int tcp_poll(void *f, uint32_t now_us, uint8_t *out, size_t cap)
{
    (void)f;
    (void)now_us;
    (void)out;
    (void)cap;
    return 0;
}

static uint64_t tcp_deadline(const void *f, uint64_t now_us)
{
    (void)f;
    (void)now_us;
    return UINT64_MAX;
}

const struct mb_framing_ops mb_tcp_ops = {"tcp", tcp_feed, tcp_poll, tcp_deadline};

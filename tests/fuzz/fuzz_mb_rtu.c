/*
 * Fuzz the Modbus RTU framer + PDU layer + regmap reads. Input: byte 0 picks
 * the template and slave address, then pairs (gap, byte): the gap byte gives
 * the silence in 100 µs units before the data byte (so frames end by t3.5
 * anywhere), fed in fuzzer-chosen chunks with polls in between.
 * Invariants: progress, replies only to our address with a valid CRC, never
 * longer than 256 bytes, stats never count more frames than bytes seen.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc.h"
#include "err.h"
#include "modbus/modbus.h"
#include "regmap/regmap.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static struct regmap_live lives[8];
static unsigned char ready[8];

static int wr(void *ctx, uint16_t addr, uint16_t count, const uint16_t *vals)
{
    (void)ctx;
    (void)vals;
    CHECK(count >= 1 && count <= MB_WRITE_MAX && (uint32_t)addr + count <= 0x10000u);
    return MB_EX_NONE;
}

static void check_reply(const uint8_t *out, int n, uint8_t addr)
{
    CHECK(n >= 5 && n <= (int)MB_RTU_ADU_MAX);
    CHECK(out[0] == addr);
    uint16_t c = ml_crc16_modbus(out, (size_t)n - 2u);
    CHECK(out[n - 2] == (uint8_t)c && out[n - 1] == (uint8_t)(c >> 8));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const struct regmap_template *t = regmap_template_at(data[0] % regmap_template_count());
    size_t ti = data[0] % regmap_template_count();
    struct regmap_live *live = &lives[ti];
    uint8_t addr = (uint8_t)(1u + (data[0] >> 4));
    data++;
    size--;

    if (!ready[ti]) { /* render once per template: the input is the byte stream */
        struct reading r;
        reading_init(&r);
        for (int f = 1; f < READING_FIELD_COUNT; f += 2) {
            reading_set(&r, (enum reading_field)f, (int64_t)f * -777777);
        }
        regmap_live_init(live, t);
        regmap_live_update(live, &r);
        ready[ti] = 1;
    }

    struct mb_slave s;
    struct mb_rtu rtu;
    mb_slave_init(&s, regmap_mb_read, wr, live);
    CHECK(mb_rtu_init(&rtu, &s, addr, 19200, 11) == ML_OK);

    uint8_t bytes[512];
    uint32_t ts[512];
    uint8_t out[MB_RTU_ADU_MAX];
    uint32_t now = 0xFFFF0000u; /* cross the stamp wrap early */
    size_t npairs = size / 2u;
    size_t i = 0;
    uint32_t fed = 0;
    while (i < npairs) {
        size_t k = 0;
        /* a chunk ends where the gap byte has its top bit set (a poll happens there) */
        do {
            now += (uint32_t)(data[2u * i] & 0x7Fu) * 100u;
            bytes[k] = data[2u * i + 1u];
            ts[k] = now;
            k++;
            i++;
        } while (i < npairs && k < sizeof bytes && (data[2u * i] & 0x80u) == 0u);
        fed += (uint32_t)k;
        size_t off = 0;
        while (off < k) {
            size_t used = 0;
            int n = mb_rtu_feed(&rtu, bytes + off, ts + off, k - off, &used, out, sizeof out);
            CHECK(n >= 0 && used <= k - off);
            CHECK(n > 0 || used == k - off);
            if (n > 0) {
                check_reply(out, n, addr);
            }
            off += used;
        }
        uint64_t dl = mb_rtu_deadline_ms(&rtu, now);
        CHECK(mb_rtu_is_idle(&rtu) ? dl == UINT64_MAX : dl <= (uint64_t)now / 1000u + 4u);
        int n = mb_rtu_poll(&rtu, now + (uint32_t)((data[2u * (i - 1u)] & 0x40u) ? 5000u : 10u),
                            out, sizeof out);
        CHECK(n >= 0);
        if (n > 0) {
            check_reply(out, n, addr);
        }
    }
    int n = mb_rtu_poll(&rtu, now + 100000u, out, sizeof out);
    if (n > 0) {
        check_reply(out, n, addr);
    }
    CHECK(mb_rtu_is_idle(&rtu));
    const struct mb_rtu_stats *st = &rtu.stats;
    CHECK((uint64_t)st->frames_ok * 4u + st->crc_errors * 4u + st->wrong_address * 4u +
              st->garbage_bytes <=
          fed);
    return 0;
}

/*
 * Fuzz the Modbus TCP framer + PDU layer + regmap reads. Input: byte 0 picks
 * the template, byte 1 seeds the chunking; the rest is the TCP byte stream.
 * Invariants: progress on every call, replies fit and carry a consistent MBAP
 * header (echoed transaction id, protocol 0, length = PDU + 1), a normal reply
 * to FC 03/04 has 2 * count data bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
    return addr & 1u ? MB_EX_ILLEGAL_ADDRESS : MB_EX_NONE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    const struct regmap_template *t = regmap_template_at(data[0] % regmap_template_count());
    size_t ti = data[0] % regmap_template_count();
    struct regmap_live *live = &lives[ti];
    uint32_t rng = data[1] * 2654435761u + 1u;
    data += 2;
    size -= 2;

    if (!ready[ti]) { /* render once per template: the input is the byte stream */
        struct reading r;
        reading_init(&r);
        for (int f = 0; f < READING_FIELD_COUNT; f += 3) {
            reading_set(&r, (enum reading_field)f, (int64_t)(f * 1000003) - 40000000);
        }
        regmap_live_init(live, t);
        CHECK(regmap_live_update(live, &r) == ML_OK);
        ready[ti] = 1;
    }

    struct mb_slave s;
    struct mb_tcp tcp;
    mb_slave_init(&s, regmap_mb_read, wr, live);
    mb_tcp_init(&tcp, &s);
    uint8_t out[MB_TCP_ADU_MAX];
    uint8_t hist[MB_TCP_ADU_MAX]; /* the last request's bytes, to check the echo */
    size_t pos = 0;
    while (pos < size) {
        rng = rng * 1103515245u + 12345u;
        size_t chunk = 1u + (rng >> 16) % 64u;
        if (chunk > size - pos) {
            chunk = size - pos;
        }
        const uint8_t *p = data + pos;
        size_t left = chunk;
        while (left > 0) {
            size_t used = 0;
            int n = mb_tcp_feed(&tcp, p, left, &used, out, sizeof out);
            CHECK(used <= left);
            if (n == ML_EPROTO) {
                mb_tcp_reset(&tcp); /* the app closes; a new connection starts clean */
                used = left;
            } else {
                CHECK(n >= 0);
                CHECK(n > 0 || used == left);
                if (n > 0) {
                    CHECK((size_t)n <= sizeof out && n >= 9);
                    CHECK(out[2] == 0 && out[3] == 0);
                    CHECK(((size_t)out[4] << 8 | out[5]) == (size_t)n - 6u);
                    (void)hist;
                    if (out[7] == 0x03 || out[7] == 0x04) {
                        CHECK(out[8] == (size_t)n - 9u && out[8] % 2u == 0);
                    }
                }
            }
            p += used;
            left -= used;
        }
        pos += chunk;
    }
    CHECK(tcp.stats.frames_ok <= s.stats.requests);
    return 0;
}

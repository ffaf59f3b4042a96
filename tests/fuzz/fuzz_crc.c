/*
 * libFuzzer target for core/common crc: ml_crc16_block() (table, or carry-less multiply
 * folding on an x86-64 host) against the CRC-16/ARC definition computed bit by bit.
 * Input: 2 bytes of initial CRC, 1 byte of split point, then the data. Invariants:
 *  - one call over the data == the bitwise CRC with that initial value;
 *  - two calls split anywhere == one call (the incremental use of the P1 parser);
 *  - ml_crc16_update() byte by byte == the same.
 */
#include <stdint.h>
#include <stdlib.h>

#include "crc.h"

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static uint16_t bitwise(uint16_t c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++) {
            c = (c & 1u) ? (uint16_t)((c >> 1) ^ 0xA001u) : (uint16_t)(c >> 1);
        }
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3u) {
        return 0;
    }
    uint16_t init = (uint16_t)(data[0] | data[1] << 8);
    size_t n = size - 3u, split = n == 0u ? 0u : data[2] * n / 255u;
    const uint8_t *p = data + 3;
    uint16_t want = bitwise(init, p, n);
    check(ml_crc16_block(init, p, n) == want);
    check(ml_crc16_block(ml_crc16_block(init, p, split), p + split, n - split) == want);
    uint16_t c = init;
    for (size_t i = 0; i < n; i++) {
        c = ml_crc16_update(c, p[i]);
    }
    check(c == want);
    return 0;
}

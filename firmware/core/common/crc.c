#include "crc.h"

/* ------------------------------------------------------------------------- */
/* CRC-16, reflected 0xA001: a 256-entry table costs 512 B of flash and makes  */
/* the P1 CRC (run on every telegram byte) about 6x cheaper than bitwise.     */
/* ------------------------------------------------------------------------- */

static const uint16_t crc16_table[256] = {
    0x0000, 0xC0C1, 0xC181, 0x0140, 0xC301, 0x03C0, 0x0280, 0xC241, 0xC601, 0x06C0, 0x0780, 0xC741,
    0x0500, 0xC5C1, 0xC481, 0x0440, 0xCC01, 0x0CC0, 0x0D80, 0xCD41, 0x0F00, 0xCFC1, 0xCE81, 0x0E40,
    0x0A00, 0xCAC1, 0xCB81, 0x0B40, 0xC901, 0x09C0, 0x0880, 0xC841, 0xD801, 0x18C0, 0x1980, 0xD941,
    0x1B00, 0xDBC1, 0xDA81, 0x1A40, 0x1E00, 0xDEC1, 0xDF81, 0x1F40, 0xDD01, 0x1DC0, 0x1C80, 0xDC41,
    0x1400, 0xD4C1, 0xD581, 0x1540, 0xD701, 0x17C0, 0x1680, 0xD641, 0xD201, 0x12C0, 0x1380, 0xD341,
    0x1100, 0xD1C1, 0xD081, 0x1040, 0xF001, 0x30C0, 0x3180, 0xF141, 0x3300, 0xF3C1, 0xF281, 0x3240,
    0x3600, 0xF6C1, 0xF781, 0x3740, 0xF501, 0x35C0, 0x3480, 0xF441, 0x3C00, 0xFCC1, 0xFD81, 0x3D40,
    0xFF01, 0x3FC0, 0x3E80, 0xFE41, 0xFA01, 0x3AC0, 0x3B80, 0xFB41, 0x3900, 0xF9C1, 0xF881, 0x3840,
    0x2800, 0xE8C1, 0xE981, 0x2940, 0xEB01, 0x2BC0, 0x2A80, 0xEA41, 0xEE01, 0x2EC0, 0x2F80, 0xEF41,
    0x2D00, 0xEDC1, 0xEC81, 0x2C40, 0xE401, 0x24C0, 0x2580, 0xE541, 0x2700, 0xE7C1, 0xE681, 0x2640,
    0x2200, 0xE2C1, 0xE381, 0x2340, 0xE101, 0x21C0, 0x2080, 0xE041, 0xA001, 0x60C0, 0x6180, 0xA141,
    0x6300, 0xA3C1, 0xA281, 0x6240, 0x6600, 0xA6C1, 0xA781, 0x6740, 0xA501, 0x65C0, 0x6480, 0xA441,
    0x6C00, 0xACC1, 0xAD81, 0x6D40, 0xAF01, 0x6FC0, 0x6E80, 0xAE41, 0xAA01, 0x6AC0, 0x6B80, 0xAB41,
    0x6900, 0xA9C1, 0xA881, 0x6840, 0x7800, 0xB8C1, 0xB981, 0x7940, 0xBB01, 0x7BC0, 0x7A80, 0xBA41,
    0xBE01, 0x7EC0, 0x7F80, 0xBF41, 0x7D00, 0xBDC1, 0xBC81, 0x7C40, 0xB401, 0x74C0, 0x7580, 0xB541,
    0x7700, 0xB7C1, 0xB681, 0x7640, 0x7200, 0xB2C1, 0xB381, 0x7340, 0xB101, 0x71C0, 0x7080, 0xB041,
    0x5000, 0x90C1, 0x9181, 0x5140, 0x9301, 0x53C0, 0x5280, 0x9241, 0x9601, 0x56C0, 0x5780, 0x9741,
    0x5500, 0x95C1, 0x9481, 0x5440, 0x9C01, 0x5CC0, 0x5D80, 0x9D41, 0x5F00, 0x9FC1, 0x9E81, 0x5E40,
    0x5A00, 0x9AC1, 0x9B81, 0x5B40, 0x9901, 0x59C0, 0x5880, 0x9841, 0x8801, 0x48C0, 0x4980, 0x8941,
    0x4B00, 0x8BC1, 0x8A81, 0x4A40, 0x4E00, 0x8EC1, 0x8F81, 0x4F40, 0x8D01, 0x4DC0, 0x4C80, 0x8C41,
    0x4400, 0x84C1, 0x8581, 0x4540, 0x8701, 0x47C0, 0x4680, 0x8641, 0x8201, 0x42C0, 0x4380, 0x8341,
    0x4100, 0x81C1, 0x8081, 0x4040,
};

uint16_t ml_crc16_update(uint16_t crc, uint8_t byte)
{
    return (uint16_t)((crc >> 8) ^ crc16_table[(crc ^ byte) & 0xFFu]);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ML_CRC16_NO_CLMUL)
#include <wmmintrin.h>

#define CRC16_CLMUL_MIN 64u /* below this the table is as cheap */

/*
 * Host only (x86-64 with PCLMULQDQ, checked at run time): the CRC by carry-less multiply
 * folding (Intel, "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ"), ~0.5
 * instructions per byte instead of ~6.7 with the table; the firmware keeps the table.
 * A 16-byte block, loaded little-endian, is the bit-reflected polynomial of its 128 bits
 * (bit j = coefficient of x^(127-j)). Folding it over the next block multiplies its two
 * halves by x^192 and x^128; modulo P(x) = x^16 + x^15 + x^2 + 1 those are products
 * with constants of 16 bits, so the fold stays a 128-bit value congruent to the data.
 * The constants are reflected and pre-multiplied by x^-1 (a reflected carry-less product
 * is one bit short): x^191 mod P = 0xB33 and x^127 mod P = 0x83, bit-reversed into the
 * top 16 bits of a 64-bit word. The last 128-bit value has the CRC of the data, so the
 * table finishes it as 16 bytes. An initial CRC c is the same as c XORed into the first
 * two bytes with init 0 (reflected CRC, no final XOR).
 */
__attribute__((target("pclmul"))) static uint16_t crc16_clmul(uint16_t c, const uint8_t *p,
                                                              size_t len)
{
    const __m128i k = _mm_set_epi64x((long long)0xC100000000000000u,  /* x^127 mod P */
                                     (long long)0xCCD0000000000000u); /* x^191 mod P */
    __m128i x =
        _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)p), _mm_cvtsi32_si128((int)c));
    const uint8_t *end = p + (len & ~(size_t)15);
    for (p += 16; p != end; p += 16) {
        __m128i lo = _mm_clmulepi64_si128(x, k, 0x00); /* first 8 bytes: x^192 */
        __m128i hi = _mm_clmulepi64_si128(x, k, 0x11); /* last 8 bytes: x^128 */
        x = _mm_xor_si128(_mm_xor_si128(lo, hi), _mm_loadu_si128((const __m128i *)(const void *)p));
    }
    uint8_t rest[16];
    _mm_storeu_si128((__m128i *)(void *)rest, x);
    c = ml_crc16_block(0, rest, sizeof rest); /* below CRC16_CLMUL_MIN: the table */
    return ml_crc16_block(c, end, len & 15u);
}
#endif

uint16_t ml_crc16_block(uint16_t crc, const void *data, size_t len)
{
#ifdef CRC16_CLMUL_MIN
    if (len >= CRC16_CLMUL_MIN && __builtin_cpu_supports("pclmul")) {
        return crc16_clmul(crc, data, len);
    }
#endif
    /* Four bytes per round: the P1 CRC runs over every telegram byte, and the loop
     * overhead was a quarter of its instructions. 32-bit state: no 16-bit truncations. */
    const uint8_t *p = data, *end = p + (len & ~(size_t)3), *tail = p + len;
    uint32_t c = crc;
    for (; p != end; p += 4) {
        c = (c >> 8) ^ crc16_table[(c ^ p[0]) & 0xFFu];
        c = (c >> 8) ^ crc16_table[(c ^ p[1]) & 0xFFu];
        c = (c >> 8) ^ crc16_table[(c ^ p[2]) & 0xFFu];
        c = (c >> 8) ^ crc16_table[(c ^ p[3]) & 0xFFu];
    }
    for (; p != tail; p++) {
        c = (c >> 8) ^ crc16_table[(c ^ *p) & 0xFFu];
    }
    return (uint16_t)c;
}

uint16_t ml_crc16_p1(const void *data, size_t len)
{
    return ml_crc16_block(ML_CRC16_P1_INIT, data, len);
}

uint16_t ml_crc16_modbus(const void *data, size_t len)
{
    return ml_crc16_block(ML_CRC16_MODBUS_INIT, data, len);
}

/* ------------------------------------------------------------------------- */
/* CRC-32: nibble table (64 B); it only runs on config saves.                 */
/* ------------------------------------------------------------------------- */

static const uint32_t crc32_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t ml_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc = (crc >> 4) ^ crc32_nibble[(crc ^ p[i]) & 0x0Fu];
        crc = (crc >> 4) ^ crc32_nibble[(crc ^ ((uint32_t)p[i] >> 4)) & 0x0Fu];
    }
    return ~crc;
}

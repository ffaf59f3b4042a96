/**
 * @file crc.h
 * @brief The CRCs of the meter and Modbus wires, table-free and table-driven.
 *
 * - P1 (DSMR 4+/e-MUCS, dsmr.md §4): CRC-16/ARC, poly 0x8005 reflected (0xA001),
 *   init 0x0000, no final XOR. Check: "123456789" -> 0xBB3D.
 * - Modbus RTU (Modbus over serial line V1.02 §6.2.2): CRC-16/MODBUS, the same
 *   reflected polynomial with init 0xFFFF. Check: "123456789" -> 0x4B37. The CRC is
 *   sent low byte first.
 * - CRC-32 (IEEE 802.3, reflected 0xEDB88320, init/xorout 0xFFFFFFFF) for the
 *   config store. Check: "123456789" -> 0xCBF43926.
 *
 * All functions are pure, reentrant and ISR-safe. Incremental use: pass the
 * previous return value as @p crc.
 */
#ifndef FIRMWARE_CORE_COMMON_CRC_H
#define FIRMWARE_CORE_COMMON_CRC_H

#include <stddef.h>
#include <stdint.h>

#define ML_CRC16_P1_INIT     0x0000u
#define ML_CRC16_MODBUS_INIT 0xFFFFu
#define ML_CRC32_INIT        0x00000000u

/** Update the CRC-16 (reflected poly 0xA001) with one byte. */
uint16_t ml_crc16_update(uint16_t crc, uint8_t byte);

/** Update the CRC-16 (reflected poly 0xA001) with @p len bytes. The table does it on the
 *  firmware; an x86-64 host with PCLMULQDQ folds 64 bytes or more by carry-less multiply
 *  (the same result, ~10x fewer instructions). */
uint16_t ml_crc16_block(uint16_t crc, const void *data, size_t len);

/** P1 CRC over a whole buffer (init 0). */
uint16_t ml_crc16_p1(const void *data, size_t len);

/** Modbus RTU CRC over a whole buffer (init 0xFFFF). */
uint16_t ml_crc16_modbus(const void *data, size_t len);

/**
 * CRC-32/IEEE, incremental: start with ML_CRC32_INIT, pass the previous result.
 * The pre/post inversion is handled inside, so chained calls give the same
 * result as one call over the concatenation.
 */
uint32_t ml_crc32(uint32_t crc, const void *data, size_t len);

#endif /* FIRMWARE_CORE_COMMON_CRC_H */

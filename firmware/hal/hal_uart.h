/**
 * @file hal_uart.h
 * @brief UARTs by role.
 *
 * Receive is interrupt-driven into a per-port ring (the ISR only moves bytes,
 * stamping each with the monotonic microsecond clock); the app loop drains it
 * with hal_uart_read(). Transmit copies into a TX ring and returns at once.
 * The board file of each port maps roles to hardware.
 */
#ifndef FIRMWARE_HAL_HAL_UART_H
#define FIRMWARE_HAL_HAL_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hal_uart_id {
    HAL_UART_P1_IN = 0, /**< meter input: P1 (DSMR) or TIC, read-only */
    HAL_UART_P1_OUT,    /**< P1 pass-through ("P1 ext"), write-only */
    HAL_UART_RS485,     /**< P1MB Modbus RTU line (half duplex, driver enable by the port) */
    HAL_UART_CONSOLE,   /**< debug console */
    HAL_UART_COPROC,    /**< network co-processor link (AT commands) */
    HAL_UART_COUNT
};

enum hal_uart_parity {
    HAL_UART_PARITY_NONE = 0,
    HAL_UART_PARITY_EVEN,
    HAL_UART_PARITY_ODD,
};

struct hal_uart_cfg {
    uint32_t baud;               /**< 1200 .. 115200 */
    uint8_t data_bits;           /**< 7 or 8 */
    enum hal_uart_parity parity;
    uint8_t stop_bits;           /**< 1 or 2 */
    bool rx_invert;              /**< P1 data is inverted on the wire (dsmr.md §2) */
};

/**
 * Open (or re-open with new settings) UART @p id. Any bytes pending in the
 * RX ring are discarded. Thread context, not ISR-safe.
 * @retval 0 ok
 * @retval ML_EINVAL unsupported settings
 * @retval ML_EBADF @p id has no hardware on this board
 */
int hal_uart_open(enum hal_uart_id id, const struct hal_uart_cfg *cfg);

/** Close UART @p id; later reads return 0 and writes ML_EBADF. Thread context. */
void hal_uart_close(enum hal_uart_id id);

/**
 * Take up to @p cap received bytes. Non-blocking. Thread context.
 * @param ts_us optional (may be NULL): receives the arrival time of each byte,
 *              monotonic microseconds (hal_time_us() low 32 bits, wraps).
 * @return number of bytes copied (0 when none), or ML_EBADF when not open.
 */
int hal_uart_read(enum hal_uart_id id, uint8_t *buf, size_t cap, uint32_t *ts_us);

/**
 * Queue @p len bytes for transmission. Non-blocking: bytes that do not fit in
 * the TX ring are not queued. Thread context.
 * @return bytes queued (< len when the ring is full), or ML_EBADF.
 */
int hal_uart_write(enum hal_uart_id id, const uint8_t *buf, size_t len);

/** RX bytes lost because the RX ring was full, since open. ISR-safe. */
uint32_t hal_uart_rx_overruns(enum hal_uart_id id);

#endif /* FIRMWARE_HAL_HAL_UART_H */

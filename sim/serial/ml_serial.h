/**
 * @file ml_serial.h
 * @brief The bench's one serial module: ptys and real adapters alike (host only).
 *
 * Every port is opened by path with termios (so ptys, /dev/ttyUSB*, /dev/ttyACM*
 * and symlinks all work the same way). libserialport is used only where it
 * adds something: listing ports with their USB ids and finding an adapter by
 * VID:PID[:SERIAL] (libserialport 0.1.1 cannot open ptys, see ARCHITECTURE.md).
 *
 * Errors are returned as negative errno values with a message in the caller's
 * buffer where one is given.
 */
#ifndef SIM_SERIAL_ML_SERIAL_H
#define SIM_SERIAL_ML_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ml_serial_cfg {
    uint32_t baud;     /**< 1200 .. 921600 (standard rates only) */
    uint8_t data_bits; /**< 7 or 8 */
    char parity;       /**< 'N', 'E' or 'O' */
    uint8_t stop_bits; /**< 1 or 2 */
};

/** Line settings of the meter protocols (dsmr.md §1, tic.md §1). */
extern const struct ml_serial_cfg ml_serial_p1_v4;    /**< 115200 8N1 (DSMR 4/5, e-MUCS) */
extern const struct ml_serial_cfg ml_serial_p1_v2;    /**< 9600 7E1 (DSMR 2.2/3.0) */
extern const struct ml_serial_cfg ml_serial_tic_std;  /**< 9600 7E1 (TIC standard) */
extern const struct ml_serial_cfg ml_serial_tic_hist; /**< 1200 7E1 (TIC historic) */

/**
 * Parse "115200", "9600,7E1", "9600:8N1" or "1200 7e1" into @p out (8N1 when no
 * format is given).
 * @return 0, or -EINVAL with a message in @p err (may be NULL).
 */
int ml_serial_parse_cfg(const char *s, struct ml_serial_cfg *out, char *err, size_t errcap);

/**
 * Open @p path non-blocking in raw mode at @p cfg. @p path may also be a
 * remote port, `rfc2217://HOST:PORT` or `tcp://HOST:PORT` (ml_serial_net.h).
 * @return the fd, or -errno with a message naming the path in @p err.
 */
int ml_serial_open(const char *path, const struct ml_serial_cfg *cfg, char *err, size_t errcap);

/** Change the line settings of an open fd (a tty, or an RFC 2217 remote port; a raw
 * tcp:// port keeps its exporter's settings). @return 0 or -errno. */
int ml_serial_set_cfg(int fd, const struct ml_serial_cfg *cfg);

/**
 * Create a pty pair for a simulated device: returns the master fd (raw,
 * non-blocking, kept by the device) and writes the slave path (what a user or
 * another program opens) to @p path. The slave is set raw too, so bytes pass
 * unchanged, and one slave fd stays open in this process so that the master
 * never reports a hang-up while nobody has the pty open. @return fd or -errno.
 */
int ml_serial_open_pty(char *path, size_t cap);

/** One serial port as listed by libserialport. */
struct ml_serial_port_info {
    char name[128];
    char description[128];
    bool usb;
    uint16_t vid, pid;
    char usb_serial[64];
    char manufacturer[64];
    char product[64];
};

/**
 * List the machine's serial ports into @p out (at most @p cap).
 * @return the number found (may exceed @p cap), or -errno.
 */
int ml_serial_list(struct ml_serial_port_info *out, size_t cap);

/**
 * Find a USB adapter by "VID:PID" or "VID:PID:SERIAL" (hex ids) and write its
 * path into @p path. @return 0, -ENOENT (none), -EINVAL (bad spec), -EEXIST
 * (several match and no serial was given).
 */
int ml_serial_find_usb(const char *spec, char *path, size_t cap);

#endif /* SIM_SERIAL_ML_SERIAL_H */

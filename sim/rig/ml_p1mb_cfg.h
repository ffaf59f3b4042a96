/**
 * @file ml_p1mb_cfg.h
 * @brief A P1MB's configuration block over Modbus RTU (libmodbus, host only):
 * open a line, read the block (signature, variant, stored and active line
 * settings), store changes, verify. `meterlab p1mb-config` is a thin command
 * over it. Registers: ml_p1mb_id.h (docs/p1mb.md).
 *
 * Functions that can fail write one line naming the port and the reason into
 * the caller's @p why buffer.
 */
#ifndef SIM_RIG_ML_P1MB_CFG_H
#define SIM_RIG_ML_P1MB_CFG_H

#include <modbus.h> /* libmodbus (pkg-config include dir) */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Line settings and termination as the block holds them. */
struct ml_p1mb_line {
    int baud;
    char parity; /**< 'N' (8N1), 'E' (8E1), '?' (a value the block should not hold) */
    int address;
    int termination; /**< 0 off, 1 on */
};

/** The configuration block. */
struct ml_p1mb_block {
    uint16_t layout, variant;
    struct ml_p1mb_line stored, active;
};

/** Changes to store (-1 / 0: leave as is). */
struct ml_p1mb_changes {
    bool factory; /**< restore 9600 8E1, address 16, termination off first */
    long baud, address, termination;
    char parity;
};

/** True for the baud rates the P1MB takes (1200 ... 115200, docs/p1mb.md). */
bool ml_p1mb_baud_ok(long baud);

/** Open @p port as an RTU master for slave @p address. @return it, or NULL. */
modbus_t *ml_p1mb_open(const char *port, int baud, char parity, int address, int timeout_ms,
                       char *why, size_t cap);

/** Close and free (NULL is fine). */
void ml_p1mb_close(modbus_t *mb);

/** Equal line settings and termination. */
bool ml_p1mb_line_equal(const struct ml_p1mb_line *a, const struct ml_p1mb_line *b);

/**
 * Read the block. @return 0, -1 no (or a garbled) answer, -2 an answer that is no
 * P1MB (the signature registers differ).
 */
int ml_p1mb_read_block(modbus_t *mb, struct ml_p1mb_block *b, char *why, size_t cap);

/**
 * Store @p c into the block's stored copy (the device keeps running at the active
 * one), read it back and compare. @p want gets what should now be stored.
 * @return 0, -1 a write failed (I/O), -2 the device stored something else.
 */
int ml_p1mb_store(modbus_t *mb, const struct ml_p1mb_block *now, const struct ml_p1mb_changes *c,
                  struct ml_p1mb_line *want, struct ml_p1mb_block *after, char *why, size_t cap);

#endif /* SIM_RIG_ML_P1MB_CFG_H */

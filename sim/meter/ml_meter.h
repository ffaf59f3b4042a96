/**
 * @file ml_meter.h
 * @brief The meter emulator: renders P1 telegrams (DSMR 2.2 .. 5.0, e-MUCS) and
 * TIC frames (Linky standard and historic mode) from values, and applies faults
 * to the byte stream a meter sends (host only).
 *
 * Values are named by the reading field keys of firmware/core/reading/reading.h
 * ("p_imp", "l1_u", "e_imp_t1", ...) and given in the field's SI unit as a
 * double (W, V, A, Wh, VA, m3, counts). docs/scenarios.md has the table of
 * which OBIS code or TIC label each key becomes per protocol.
 *
 * Ownership: struct ml_buf owns its heap block (ml_buf_free()); everything else
 * is plain values owned by the caller. Not thread-safe; no statics are mutated.
 */
#ifndef SIM_METER_ML_METER_H
#define SIM_METER_ML_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reading/reading.h"

/* ------------------------------------------------------------------------- */
/* Byte buffer                                                               */
/* ------------------------------------------------------------------------- */

struct ml_buf {
    uint8_t *p;
    size_t len, cap;
};

/** Append @p n bytes (grows the block; aborts on out of memory). */
void ml_buf_put(struct ml_buf *b, const void *data, size_t n);
/** Append a formatted string. */
void ml_buf_printf(struct ml_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ml_buf_free(struct ml_buf *b);

/* ------------------------------------------------------------------------- */
/* Protocols and line settings                                               */
/* ------------------------------------------------------------------------- */

enum ml_meter_proto {
    ML_METER_DSMR22 = 0,
    ML_METER_DSMR30,
    ML_METER_DSMR40,
    ML_METER_DSMR42,
    ML_METER_DSMR50,
    ML_METER_EMUCS171,
    ML_METER_TIC,          /**< Linky standard mode */
    ML_METER_TIC_HISTORIC, /**< Linky historic mode (labels ADCO, PAPP, ...) */
    ML_METER_PROTO_COUNT
};

/** Protocol by scenario name ("dsmr50", "tic", ...). @return -1 when unknown. */
int ml_meter_proto_find(const char *name);
const char *ml_meter_proto_name(enum ml_meter_proto p);
/** True for the DSMR/e-MUCS family (P1), false for TIC. */
bool ml_meter_proto_is_p1(enum ml_meter_proto p);
/** True when the protocol carries a CRC (DSMR >= 4, e-MUCS) or group checksums (TIC). */
bool ml_meter_proto_has_check(enum ml_meter_proto p);

/** UART character format. */
struct ml_line {
    uint32_t baud;
    uint8_t data_bits; /**< 7 or 8 */
    char parity;       /**< 'N', 'E', 'O' */
    uint8_t stop_bits; /**< 1 or 2 */
};

/** The protocol's own line settings (dsmr.md §1, tic.md §1). */
struct ml_line ml_meter_proto_line(enum ml_meter_proto p);
/** Parse "7E1"/"8N1"/... into @p l (baud untouched). @return 0 or -1. */
int ml_line_parse_format(const char *s, struct ml_line *l);

/* ------------------------------------------------------------------------- */
/* Values and rendering                                                      */
/* ------------------------------------------------------------------------- */

/** Values of one telegram: reading fields in SI units, each present or not. */
struct ml_meter_values {
    bool has[READING_FIELD_COUNT];
    double v[READING_FIELD_COUNT];
};

/** Reading field by key ("p_imp"). @return the field, or -1 when unknown. */
int ml_meter_field_find(const char *key);

/** Plausible values of a running meter of protocol @p p with @p phases (1 or 3). */
void ml_meter_values_defaults(struct ml_meter_values *v, enum ml_meter_proto p, int phases);

/**
 * Keep a household believable after a scenario set some of the values in
 * @p v, which started as @p defaults (from ml_meter_values_defaults());
 * @p given marks the fields the scenario gave (set or removed). When it gave a
 * total power and no phase power, the phase powers are the new net
 * total split in the defaults' proportions (signed: a phase exports when the
 * total does), and each phase current not set by the scenario follows
 * |P| / U. The phases then add up to the total the scenario gave.
 */
void ml_meter_values_balance(struct ml_meter_values *v, const struct ml_meter_values *defaults,
                             const bool given[READING_FIELD_COUNT]);

struct ml_meter_cfg {
    enum ml_meter_proto proto;
    int phases;         /**< 1 or 3 */
    const char *header; /**< DSMR identification after '/' (NULL: per protocol) */
    const char *id;     /**< equipment id / TIC ADSC / ADCO (NULL: per protocol) */
    bool producer;      /**< TIC: producer mode even without export values */
};

/**
 * Append one complete telegram (P1) or frame (TIC) for @p v at meter time
 * @p utc (UTC epoch s; shown in local time, NL/BE/FR daylight rules) to @p out.
 * "p" and "lN_p" (signed) are split into import/export magnitudes when given.
 * @return bytes appended.
 */
size_t ml_meter_render(const struct ml_meter_cfg *cfg, const struct ml_meter_values *v, int64_t utc,
                       struct ml_buf *out);

/* ------------------------------------------------------------------------- */
/* Faults                                                                    */
/* ------------------------------------------------------------------------- */

enum ml_fault_kind {
    ML_FAULT_BIT_FLIP = 0, /**< flip bit @c bit of the byte at @c offset */
    ML_FAULT_CRC_CORRUPT,  /**< wrong CRC (P1) / wrong checksum of group @c offset (TIC) */
    ML_FAULT_DROP_BYTES,   /**< remove @c count bytes at @c offset */
    ML_FAULT_DUPLICATE,    /**< repeat @c count bytes at @c offset */
    ML_FAULT_INSERT,       /**< insert @c bytes at @c offset */
    ML_FAULT_TRUNCATE,     /**< keep only @c count bytes (-1: half) */
    ML_FAULT_OVERSIZE,     /**< grow to at least @c count bytes, still a valid CRC */
    ML_FAULT_KIND_COUNT
};

struct ml_fault {
    enum ml_fault_kind kind;
    long offset; /**< byte offset; negative counts from the end; LONG_MIN = middle */
    int bit;     /**< 0..7 */
    long count;
    const uint8_t *bytes;
    size_t nbytes;
};

/**
 * Apply @p f to telegram @p t (protocol @p p) in place.
 * @return 0, or -1 when the fault does not apply (message in @p err).
 */
int ml_fault_apply(const struct ml_fault *f, enum ml_meter_proto p, struct ml_buf *t, char *err,
                   size_t errcap);

/**
 * Append @p n bytes of line noise (xorshift from @p seed). Unless @p raw, the
 * bytes avoid the protocol's frame delimiters ('/' and '!' for P1; STX, ETX,
 * EOT, LF, CR for TIC), so they stay between telegrams.
 */
void ml_meter_noise(enum ml_meter_proto p, size_t n, uint32_t seed, bool raw, struct ml_buf *out);

/**
 * What a receiver set to @p rx sees when @p in is sent back to back with @p tx
 * (waveform model: mark idle, LSB first, mid-bit sampling, a framing error
 * still delivers its byte, resync on the next falling edge). Appends to @p out.
 */
void ml_line_mangle(const uint8_t *in, size_t n, const struct ml_line *tx, const struct ml_line *rx,
                    struct ml_buf *out);

#endif /* SIM_METER_ML_METER_H */

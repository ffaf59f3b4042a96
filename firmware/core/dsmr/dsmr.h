/**
 * @file dsmr.h
 * @brief Streaming P1 framer and OBIS parser: DSMR 2.2 .. 5.0.x, e-MUCS (BE), Smarty (LU).
 *
 * Bytes go in as they arrive (one at a time from a UART ring, or in chunks); every
 * telegram that was started ('/' seen) ends in exactly one verdict:
 *  - DSMR_VERDICT_OK: CRC matched (DSMR 4+/e-MUCS/Smarty plaintext), or, for telegrams
 *    without CRC (DSMR 2.2/3.0, '!' CR LF), every line had a valid structure;
 *  - DSMR_VERDICT_CRC_FAIL: the CRC after '!' (1 to 4 hex digits, any case, dsmr.md §4)
 *    does not match the bytes from '/' to '!';
 *  - DSMR_VERDICT_FRAME_FAIL: oversize (more than ML_DSMR_MAX_TELEGRAM bytes), cut off
 *    by a new telegram, garbage after '!', a missing CRC on a telegram that declares
 *    DSMR 4+, or a malformed line in a telegram without CRC.
 * Bytes outside telegrams are skipped (counted in stats.bytes_skipped); there a '/'
 * starts a telegram. Inside one, a '/' starts a new telegram (cutting off the current
 * one) when it starts a line or is followed by three letters and a digit ("/XXX5", the
 * identification); otherwise it is a byte of a value (plain-text messages). '!' ends a
 * telegram only at the start of a line. So the parser resynchronises on the next good
 * telegram. The restart is told up to 4 bytes after its '/': those bytes may have come in
 * an earlier feed, the parser then holds them (carry) and starts the next feed with them.
 *
 * Lines are decoded as they complete (the CRC runs over the decoded lines once per feed) into a
 * scratch reading inside the parser. Only a telegram with verdict OK is published:
 * reading_derive() runs and the scratch is copied into the caller's reading given to
 * dsmr_parser_init(). On CRC or frame failure the caller's reading is untouched.
 * Unknown OBIS objects are kept with reading_raw_add(); they are never an error. What
 * real meters send beyond the standards (value group F, units without '*', bare values,
 * text over two lines, 1-1: registers, 0-0:42.0.0): docs/decode.md "Real meters".
 *
 * Ownership: struct dsmr_parser is caller-owned (no heap, no statics); it is large
 * (ML_DSMR_MAX_TELEGRAM + about 3.5 kB), so place it statically or in a big stack.
 * Context: not ISR-safe; call from the app loop (the ISR only fills a ring).
 */
#ifndef FIRMWARE_CORE_DSMR_DSMR_H
#define FIRMWARE_CORE_DSMR_DSMR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_config.h"
#include "reading/reading.h"
#include "span.h"

/** What feeding bytes gave (values >= 0; errors are < 0, enum ml_err). */
enum dsmr_verdict {
    DSMR_VERDICT_NONE = 0,       /**< no telegram ended in the bytes consumed */
    DSMR_VERDICT_OK = 1,         /**< telegram complete and valid; reading published */
    DSMR_VERDICT_CRC_FAIL = 2,   /**< telegram complete, CRC mismatch */
    DSMR_VERDICT_FRAME_FAIL = 3, /**< telegram broken (see file comment) */
};

/** Counters (lwIP style). Invariant, checked by dsmr_stats_consistent():
 *  telegrams_started == telegrams_ok + crc_fail + frame_fail + (1 when in a telegram). */
struct dsmr_stats {
    uint32_t telegrams_started; /**< '/' seen */
    uint32_t telegrams_ok;
    uint32_t crc_fail;
    uint32_t frame_fail;
    uint32_t frame_oversize;  /**< of frame_fail: longer than ML_DSMR_MAX_TELEGRAM */
    uint32_t frame_truncated; /**< of frame_fail: cut off by a new '/' */
    uint32_t no_crc_ok;       /**< of telegrams_ok: DSMR 2.2/3.0 without CRC */
    uint32_t bad_lines;       /**< lines that are not OBIS(...) (kept out of the reading) */
    uint32_t bytes_total;     /**< bytes consumed by dsmr_parser_feed() */
    uint32_t bytes_skipped;   /**< bytes outside any telegram (noise, CR LF after CRC) */
};

/** The parser. Treat the members as private; use the functions below. */
struct dsmr_parser {
    struct reading *out; /**< published reading (caller's), may be NULL */
    struct dsmr_stats stats;
    uint32_t len;       /**< bytes of the current/last telegram in buf */
    uint32_t cur;       /**< start of the first line not decoded yet */
    uint32_t crc_len;   /**< bytes of buf the CRC covers (<= cur) */
    uint16_t crc;       /**< CRC-16/ARC over buf[0..crc_len) */
    uint8_t in_frame;   /**< 1 between '/' and the verdict */
    uint8_t profile_ch; /**< DSMR 2.2/3.0 gas profile: channel (1..4) awaiting its value */
    uint8_t bad;        /**< a malformed line was seen in this telegram */
    uint8_t has_crc;    /**< the last telegram carried a CRC */
    uint8_t equip_set;  /**< 0-0:96.1.1 / 96.1.0 seen in this telegram */
    uint8_t ldn_set;    /**< the equipment id came from 0-0:42.0.0 (at ldn_off, ldn_len) */
    uint16_t ldn_off;
    uint16_t ldn_len;
    int16_t std_offset_min; /**< the meter's standard time, minutes east of UTC (60 = CET) */
    uint8_t carry_len;      /**< bytes of the next telegram held in carry[] */
    uint8_t carry[4];
    const uint8_t *unit; /**< unit of the last number parsed (points into buf) */
    uint8_t unit_len;
    struct reading scratch;                /**< telegram being decoded */
    uint8_t buf[ML_DSMR_MAX_TELEGRAM + 8]; /**< telegram bytes + a NUL sentinel + 7 slack */
};

/**
 * Set up @p p; @p out (may be NULL) receives each telegram with verdict OK.
 * @retval ML_OK
 * @retval ML_EFAULT @p p is NULL.
 */
int dsmr_parser_init(struct dsmr_parser *p, struct reading *out);

/**
 * The meter's time zone for the S/W timestamps: standard (winter, 'W') time is UTC +
 * @p minutes, summer time ('S') one hour more. Default 60 (CET: NL, BE, LU); 0 for meters
 * on GMT/IST (Ireland). Timestamps without S/W (DSMR 2.2/3.0) follow the EU rule in CET.
 * @retval ML_OK
 * @retval ML_EFAULT @p p is NULL.
 * @retval ML_EINVAL @p minutes outside -720..840.
 */
int dsmr_parser_set_std_offset(struct dsmr_parser *p, int minutes);

/**
 * Feed up to @p len bytes. Stops right after the first telegram that ends, so that
 * the caller sees every verdict: call again with data + *used until all is consumed.
 * @param used set to the bytes consumed (== len when the result is DSMR_VERDICT_NONE).
 * @return an enum dsmr_verdict (>= 0).
 * @retval ML_EFAULT @p p or @p used is NULL, or @p data is NULL with len > 0.
 */
int dsmr_parser_feed(struct dsmr_parser *p, const uint8_t *data, size_t len, size_t *used);

/** Feed one byte (UART style). @return an enum dsmr_verdict, or ML_EFAULT. */
int dsmr_parser_feed_byte(struct dsmr_parser *p, uint8_t byte);

/** True when no telegram is in progress (between a verdict and the next '/', and no
 *  bytes of a telegram that cut off the previous one are held for the next feed). */
bool dsmr_parser_is_idle(const struct dsmr_parser *p);

/** Counters since init. */
const struct dsmr_stats *dsmr_parser_stats(const struct dsmr_parser *p);

/** True when the counters satisfy the invariant in struct dsmr_stats. */
bool dsmr_stats_consistent(const struct dsmr_parser *p);

/**
 * Bytes of the telegram that got the last verdict ('/' up to the CRC or the point where
 * it broke off). Valid until the next feed; empty while a telegram is in progress.
 */
struct ml_span dsmr_parser_telegram(const struct dsmr_parser *p);

/** True when the telegram that got the last verdict carried a CRC after '!'. */
bool dsmr_parser_had_crc(const struct dsmr_parser *p);

#endif /* FIRMWARE_CORE_DSMR_DSMR_H */

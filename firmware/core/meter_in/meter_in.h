/**
 * @file meter_in.h
 * @brief One meter input: the feed loop, the verdict and the three product counters.
 *
 * Every reader of meter bytes (the Smart Connect and P1MB apps, `meterlab decode` and
 * `record`, the emulator's tests) feeds them through here instead of writing its own
 * loop around dsmr_parser_feed() / tic_parser_feed(). The protocol is chosen at run
 * time by the init function called: meter_in_init_p1() (DSMR P1, e-MUCS, Smarty) or
 * meter_in_init_tic() (Linky TIC, standard mode; historic frames are detected).
 * The two are separate objects of the library, so an image that calls only one of
 * them links only that parser.
 *
 * meter_in_feed() consumes every byte it is given, whatever the chunking: a telegram
 * cut off by a new '/' or STX gets its verdict before that byte is consumed (the
 * parser returns it with nothing used); the loop here goes on with the same byte, so
 * the next telegram is never lost. Feeding a stream whole or in any chunks gives the
 * same telegrams with the same verdicts, raw bytes, readings and counters
 * (tests/unit/meter_in).
 *
 * Every telegram that ends (the parsers' "exactly one verdict per telegram started")
 * bumps exactly one of the counters of products.md §1 device_counters, then the
 * caller's callback runs once with its verdict:
 *  - METER_IN_OK          -> telegrams_pass
 *  - METER_IN_CRC_FAIL    -> telegrams_fail       (DSMR CRC / TIC group checksum wrong)
 *  - METER_IN_FRAME_FAIL  -> telegrams_frame_fail (framing broken)
 *  - METER_IN_HISTORIC    -> telegrams_frame_fail (TIC historic mode: no usable data)
 * A telegram still open when the input ends has no verdict and counts nowhere
 * (meter_in_is_idle() tells).
 *
 * Ownership: struct meter_in, the parser and the reading are caller-owned (no heap,
 * no statics); they must outlive the meter_in. The parser is large (see dsmr.h, tic.h):
 * the caller places it (a union of both in a device that switches at run time).
 * Context: not ISR-safe; call from the app loop (the ISR only fills a ring). Not
 * reentrant: the callback must not feed the same meter_in.
 */
#ifndef FIRMWARE_CORE_METER_IN_METER_IN_H
#define FIRMWARE_CORE_METER_IN_METER_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dsmr/dsmr.h"
#include "reading/reading.h"
#include "span.h"
#include "tic/tic.h"

/** The meter protocol of an input. */
enum meter_in_proto {
    METER_IN_P1 = 0,  /**< DSMR 2.2 .. 5.0.x P1, e-MUCS, Smarty plaintext (core/dsmr) */
    METER_IN_TIC = 1, /**< Linky TIC standard mode (core/tic) */
};

/** How a telegram ended (same values as enum dsmr_verdict / enum tic_verdict). */
enum meter_in_verdict {
    METER_IN_OK = 1,         /**< complete and valid */
    METER_IN_CRC_FAIL = 2,   /**< complete, CRC (P1) or some group checksums (TIC) wrong */
    METER_IN_FRAME_FAIL = 3, /**< framing broken; see enum meter_in_reason */
    METER_IN_HISTORIC = 4,   /**< TIC historic-mode frame: detected, not parsed */
};

/** Why a telegram got METER_IN_FRAME_FAIL (METER_IN_REASON_NONE for other verdicts). */
enum meter_in_reason {
    METER_IN_REASON_NONE = 0,
    METER_IN_REASON_STRUCTURE = 1, /**< P1: garbage after '!', missing CRC on DSMR 4+, bad line */
    METER_IN_REASON_OVERSIZE = 2,  /**< longer than ML_DSMR_MAX_TELEGRAM / ML_TIC_MAX_FRAME */
    METER_IN_REASON_CUT_OFF = 3,   /**< a new '/' (P1) or STX (TIC) before the end */
    METER_IN_REASON_EOT = 4,       /**< TIC: EOT inside the frame */
    METER_IN_REASON_EMPTY = 5,     /**< TIC: STX ETX without any group */
};

/** The three telegram counters of device_counters (products.md §1). They wrap. */
struct meter_in_counters {
    uint32_t telegrams_pass;       /**< METER_IN_OK */
    uint32_t telegrams_fail;       /**< METER_IN_CRC_FAIL */
    uint32_t telegrams_frame_fail; /**< METER_IN_FRAME_FAIL and METER_IN_HISTORIC */
};

/** One telegram that ended, as given to the callback. Valid only during the callback. */
struct meter_in_telegram {
    enum meter_in_verdict verdict;
    enum meter_in_reason reason;
    /** Its bytes ('/' .. CRC, STX .. ETX; up to the break for FRAME_FAIL): a view into
     *  the parser's buffer, valid until the callback returns. */
    struct ml_span raw;
    /** The reading given to init, when it holds this telegram's values: always for
     *  METER_IN_OK; for a TIC METER_IN_CRC_FAIL the good groups' values (a value of a
     *  bad group is absent; devices do not publish these); NULL otherwise and when
     *  init got no reading. Rewritten by the next telegram: copy what must last. */
    const struct reading *reading;
};

/** Called once per telegram that ends, in stream order; @p ctx as given to the feed.
 *  The counters already include @p t when it runs. */
typedef void (*meter_in_telegram_fn)(void *ctx, const struct meter_in_telegram *t);

struct meter_in_ops; /* one per protocol, private (meter_in_priv.h) */

/** A meter input. Treat the members as private; use the functions below. */
struct meter_in {
    const struct meter_in_ops *ops;
    void *parser;        /**< the caller's struct dsmr_parser or struct tic_parser */
    struct reading *out; /**< the caller's reading (may be NULL) */
    struct meter_in_counters counters;
    uint32_t p1_oversize; /**< P1: dsmr_stats.frame_oversize at the last verdict */
    uint32_t p1_cut_off;  /**< P1: dsmr_stats.frame_truncated at the last verdict */
    uint8_t proto;        /**< enum meter_in_proto */
    uint8_t busy;         /**< inside meter_in_feed() (reentrancy check) */
};

/**
 * Set up @p mi for P1 on the caller's parser @p p, which it (re)initialises with
 * @p out (may be NULL: then no reading is given to the callback). Counters start at 0.
 * @retval ML_OK
 * @retval ML_EFAULT @p mi or @p p is NULL; nothing changed.
 */
int meter_in_init_p1(struct meter_in *mi, struct dsmr_parser *p, struct reading *out);

/**
 * Set up @p mi for Linky TIC on the caller's parser @p p, which it (re)initialises with
 * @p out (may be NULL). Counters start at 0.
 * @retval ML_OK
 * @retval ML_EFAULT @p mi or @p p is NULL; nothing changed.
 */
int meter_in_init_tic(struct meter_in *mi, struct tic_parser *p, struct reading *out);

/**
 * Feed all @p len bytes of @p data. For every telegram that ends in them, in order:
 * the matching counter is bumped, then @p fn (may be NULL) is called with @p ctx.
 * A telegram left open continues with the next feed.
 * @return the number of telegrams that ended (>= 0).
 * @retval ML_EFAULT @p mi not set up by an init, or @p data NULL with @p len > 0;
 *                   nothing consumed.
 */
int meter_in_feed(struct meter_in *mi, const uint8_t *data, size_t len, meter_in_telegram_fn fn,
                  void *ctx);

/** True when no telegram is in progress (between a verdict and the next '/' or STX). */
bool meter_in_is_idle(const struct meter_in *mi);

/** The protocol given by the init. */
enum meter_in_proto meter_in_protocol(const struct meter_in *mi);

/** The counters since init (a view; valid as long as @p mi). */
const struct meter_in_counters *meter_in_counters(const struct meter_in *mi);

#endif /* FIRMWARE_CORE_METER_IN_METER_IN_H */

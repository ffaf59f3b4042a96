/**
 * @file tic.h
 * @brief Linky TIC (Télé-Information Client) streaming framer and label parser.
 *
 * Standard mode (Enedis-NOI-CPT_54E v3, 9600 baud 7E1) is parsed into a
 * struct reading; historic mode (1200 baud, SP separator, ADCO/PAPP labels) is
 * recognised and reported, never parsed into values (products.md §2).
 *
 * Wire format (54E v3 §5.3.6, shared/spec/tic.md §2-§5):
 *   frame = STX group* ETX          STX 0x02, ETX 0x03, EOT 0x04 aborts a frame
 *   group = LF label HT [horodate HT] data HT checksum CR
 *   checksum = (sum of label .. last HT inclusive) & 0x3F) + 0x20
 *
 * Usage:
 * @code
 *   struct tic_parser p;            // caller-owned, ~6 KiB with the default knobs
 *   struct reading r;
 *   tic_parser_init(&p, &r);
 *   while (len > 0) {
 *       size_t used;
 *       int v = tic_parser_feed(&p, buf, len, &used);
 *       buf += used; len -= used;
 *       if (v == TIC_VERDICT_OK || v == TIC_VERDICT_CRC_FAIL) publish(&r);
 *   }
 * @endcode
 *
 * Verdicts: every frame started (STX seen) ends in exactly one verdict:
 *  - TIC_VERDICT_OK: STX..ETX intact, every group's checksum right.
 *  - TIC_VERDICT_CRC_FAIL: framing intact but at least one group was bad
 *    (checksum wrong, separators wrong, CR lost so two groups merged). The bad
 *    groups are skipped; the good groups still fill the reading, and a value
 *    that depends on a bad group is left absent (see docs/tic.md). Counts as
 *    products.md "telegrams_fail" (CRC/checksum wrong).
 *  - TIC_VERDICT_FRAME_FAIL: framing broken: EOT, a new STX before ETX, a frame
 *    longer than ML_TIC_MAX_FRAME, or STX ETX with no group. The reading holds
 *    partial data and must not be published ("telegrams_frame_fail").
 *  - TIC_VERDICT_HISTORIC: a well-framed historic-mode frame (its groups pass
 *    the historic checksum or carry historic labels, none is a valid
 *    standard-mode group). reading.tic_historic is set and nothing else; the
 *    device reports "historic mode not supported" and counts the frame as
 *    telegrams_frame_fail (no usable data).
 * Stats invariant (checked by the tests and the fuzzer):
 *   frames_started == frames_ok + frames_crc_fail + frames_fail + frames_historic
 *                     + (tic_parser_is_idle(p) ? 0 : 1)
 *
 * Ownership and lifetime: the parser and the reading are caller-owned; the
 * parser keeps a pointer to the reading given to tic_parser_init() and
 * rewrites it from the STX of each frame (reading_init) to its verdict. After
 * an OK or CRC_FAIL verdict the reading is complete (reading_derive() done)
 * and stays untouched until the next STX is fed, so copy it before feeding
 * more if it must outlive the next frame. Spans returned by the accessors
 * point into the parser's frame buffer and stay valid until the next call of
 * tic_parser_feed().
 *
 * Context: no heap, no libc, no statics; one parser per stream; not ISR-safe
 * (feed it from the app loop with bytes an ISR put into a ring).
 */
#ifndef FIRMWARE_CORE_TIC_TIC_H
#define FIRMWARE_CORE_TIC_TIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_config.h"
#include "reading/reading.h"
#include "span.h"

/* ------------------------------------------------------------------------- */
/* Wire constants (54E v3 §5.3.6)                                            */
/* ------------------------------------------------------------------------- */

#define TIC_STX 0x02u /**< start of frame */
#define TIC_ETX 0x03u /**< end of frame */
#define TIC_EOT 0x04u /**< frame interrupted (02E; tic.md §2) */
#define TIC_LF  0x0Au /**< start of group */
#define TIC_CR  0x0Du /**< end of group */
#define TIC_HT  0x09u /**< separator, standard mode */
#define TIC_SP  0x20u /**< separator, historic mode */

/** Longest label we dispatch on (tic.md §3: SMAXSN1-1 has 9 characters). */
#define TIC_LABEL_MAX 10

/* ------------------------------------------------------------------------- */
/* Labels                                                                    */
/* ------------------------------------------------------------------------- */

/** How a label's data field is read. */
enum tic_kind {
    TIC_KIND_NUM = 0,  /**< decimal digits -> int64 */
    TIC_KIND_TEXT = 1, /**< text kept as sent (spaces included) */
    TIC_KIND_HEX = 2,  /**< hex digits -> uint32 (STGE) */
    TIC_KIND_NONE = 3, /**< empty data, value in the horodate (DATE) */
};

/**
 * X-macro of the standard-mode labels (54E v3 §6.2, tic.md §6):
 * X(id, "LABEL", kind, length, horodate, "unit")
 * length is the specified data length; the parser accepts other lengths
 * (real meters send NGTF "PRODUCTEUR", 11-digit anonymised ADSC).
 */
#define TIC_LABELS(X)                                                                              \
    X(ADSC, "ADSC", TEXT, 12, 0, "")                                                               \
    X(VTIC, "VTIC", NUM, 2, 0, "")                                                                 \
    X(DATE, "DATE", NONE, 0, 1, "")                                                                \
    X(NGTF, "NGTF", TEXT, 16, 0, "")                                                               \
    X(LTARF, "LTARF", TEXT, 16, 0, "")                                                             \
    X(EAST, "EAST", NUM, 9, 0, "Wh")                                                               \
    X(EASF01, "EASF01", NUM, 9, 0, "Wh")                                                           \
    X(EASF02, "EASF02", NUM, 9, 0, "Wh")                                                           \
    X(EASF03, "EASF03", NUM, 9, 0, "Wh")                                                           \
    X(EASF04, "EASF04", NUM, 9, 0, "Wh")                                                           \
    X(EASF05, "EASF05", NUM, 9, 0, "Wh")                                                           \
    X(EASF06, "EASF06", NUM, 9, 0, "Wh")                                                           \
    X(EASF07, "EASF07", NUM, 9, 0, "Wh")                                                           \
    X(EASF08, "EASF08", NUM, 9, 0, "Wh")                                                           \
    X(EASF09, "EASF09", NUM, 9, 0, "Wh")                                                           \
    X(EASF10, "EASF10", NUM, 9, 0, "Wh")                                                           \
    X(EASD01, "EASD01", NUM, 9, 0, "Wh")                                                           \
    X(EASD02, "EASD02", NUM, 9, 0, "Wh")                                                           \
    X(EASD03, "EASD03", NUM, 9, 0, "Wh")                                                           \
    X(EASD04, "EASD04", NUM, 9, 0, "Wh")                                                           \
    X(EAIT, "EAIT", NUM, 9, 0, "Wh")                                                               \
    X(ERQ1, "ERQ1", NUM, 9, 0, "varh")                                                             \
    X(ERQ2, "ERQ2", NUM, 9, 0, "varh")                                                             \
    X(ERQ3, "ERQ3", NUM, 9, 0, "varh")                                                             \
    X(ERQ4, "ERQ4", NUM, 9, 0, "varh")                                                             \
    X(IRMS1, "IRMS1", NUM, 3, 0, "A")                                                              \
    X(IRMS2, "IRMS2", NUM, 3, 0, "A")                                                              \
    X(IRMS3, "IRMS3", NUM, 3, 0, "A")                                                              \
    X(URMS1, "URMS1", NUM, 3, 0, "V")                                                              \
    X(URMS2, "URMS2", NUM, 3, 0, "V")                                                              \
    X(URMS3, "URMS3", NUM, 3, 0, "V")                                                              \
    X(PREF, "PREF", NUM, 2, 0, "kVA")                                                              \
    X(PCOUP, "PCOUP", NUM, 2, 0, "kVA")                                                            \
    X(SINSTS, "SINSTS", NUM, 5, 0, "VA")                                                           \
    X(SINSTS1, "SINSTS1", NUM, 5, 0, "VA")                                                         \
    X(SINSTS2, "SINSTS2", NUM, 5, 0, "VA")                                                         \
    X(SINSTS3, "SINSTS3", NUM, 5, 0, "VA")                                                         \
    X(SMAXSN, "SMAXSN", NUM, 5, 1, "VA")                                                           \
    X(SMAXSN1, "SMAXSN1", NUM, 5, 1, "VA")                                                         \
    X(SMAXSN2, "SMAXSN2", NUM, 5, 1, "VA")                                                         \
    X(SMAXSN3, "SMAXSN3", NUM, 5, 1, "VA")                                                         \
    X(SMAXSN_1, "SMAXSN-1", NUM, 5, 1, "VA")                                                       \
    X(SMAXSN1_1, "SMAXSN1-1", NUM, 5, 1, "VA")                                                     \
    X(SMAXSN2_1, "SMAXSN2-1", NUM, 5, 1, "VA")                                                     \
    X(SMAXSN3_1, "SMAXSN3-1", NUM, 5, 1, "VA")                                                     \
    X(SINSTI, "SINSTI", NUM, 5, 0, "VA")                                                           \
    X(SMAXIN, "SMAXIN", NUM, 5, 1, "VA")                                                           \
    X(SMAXIN_1, "SMAXIN-1", NUM, 5, 1, "VA")                                                       \
    X(CCASN, "CCASN", NUM, 5, 1, "W")                                                              \
    X(CCASN_1, "CCASN-1", NUM, 5, 1, "W")                                                          \
    X(CCAIN, "CCAIN", NUM, 5, 1, "W")                                                              \
    X(CCAIN_1, "CCAIN-1", NUM, 5, 1, "W")                                                          \
    X(UMOY1, "UMOY1", NUM, 3, 1, "V")                                                              \
    X(UMOY2, "UMOY2", NUM, 3, 1, "V")                                                              \
    X(UMOY3, "UMOY3", NUM, 3, 1, "V")                                                              \
    X(STGE, "STGE", HEX, 8, 0, "")                                                                 \
    X(DPM1, "DPM1", NUM, 2, 1, "")                                                                 \
    X(DPM2, "DPM2", NUM, 2, 1, "")                                                                 \
    X(DPM3, "DPM3", NUM, 2, 1, "")                                                                 \
    X(FPM1, "FPM1", NUM, 2, 1, "")                                                                 \
    X(FPM2, "FPM2", NUM, 2, 1, "")                                                                 \
    X(FPM3, "FPM3", NUM, 2, 1, "")                                                                 \
    X(MSG1, "MSG1", TEXT, 32, 0, "")                                                               \
    X(MSG2, "MSG2", TEXT, 16, 0, "")                                                               \
    X(PRM, "PRM", TEXT, 14, 0, "")                                                                 \
    X(RELAIS, "RELAIS", NUM, 3, 0, "")                                                             \
    X(NTARF, "NTARF", NUM, 2, 0, "")                                                               \
    X(NJOURF, "NJOURF", NUM, 2, 0, "")                                                             \
    X(NJOURF_1, "NJOURF+1", NUM, 2, 0, "")                                                         \
    X(PJOURF_1, "PJOURF+1", TEXT, 98, 0, "")                                                       \
    X(PPOINTE, "PPOINTE", TEXT, 98, 0, "")

/** Standard-mode labels: TIC_L_EAST, TIC_L_SMAXSN1_1 ("SMAXSN1-1"), ... */
enum tic_label {
#define TIC_X_ENUM(id, name, kind, len, hd, unit) TIC_L_##id,
    TIC_LABELS(TIC_X_ENUM)
#undef TIC_X_ENUM
        TIC_LABEL_COUNT
};

/** Static description of a label. */
struct tic_label_info {
    const char *name; /**< label as on the wire, e.g. "SMAXSN1-1" */
    const char *unit; /**< implicit unit ("" for none) */
    enum tic_kind kind;
    uint8_t len;   /**< specified data length in characters */
    bool horodate; /**< the group carries a horodate */
};

/** Description of @p l, or NULL when out of range. */
const struct tic_label_info *tic_label_info(enum tic_label l);

/* ------------------------------------------------------------------------- */
/* Decoded helpers                                                           */
/* ------------------------------------------------------------------------- */

/** STGE status register decoded bit by bit (54E v3 §6.2.3.14, tic.md §8). */
struct tic_stge {
    uint32_t raw;
    bool contact_open;         /**< bit 0: dry contact open */
    uint8_t cutoff;            /**< bits 1..3: 0 closed, 1 overpower, ... 6 overheat < Imax */
    bool cover_open;           /**< bit 4: distributor terminal cover open */
    bool overvoltage;          /**< bit 6 */
    bool pref_exceeded;        /**< bit 7: reference power exceeded now */
    bool producer;             /**< bit 8: 1 producer mode */
    bool energy_negative;      /**< bit 9: active energy direction negative (exporting) */
    uint8_t supplier_index;    /**< bits 10..13, plus 1: supplier tariff index 1..16 (=NTARF) */
    uint8_t distributor_index; /**< bits 14..15, plus 1: distributor index 1..4 */
    bool clock_degraded;       /**< bit 16 */
    bool standard_mode;        /**< bit 17: 1 standard TIC, 0 historic */
    uint8_t euridis;           /**< bits 19..20: 0 off, 1 on without security, 3 secure */
    uint8_t cpl_status;        /**< bits 21..22: 0 New/Unlock, 1 New/Lock, 2 Registered */
    bool cpl_synchronised;     /**< bit 23 */
    uint8_t tempo_today;       /**< bits 24..25: 0 none, 1 blue, 2 white, 3 red */
    uint8_t tempo_tomorrow;    /**< bits 26..27 */
    uint8_t peak_notice;       /**< bits 28..29: 0 none, 1..3 notice of PM1..PM3 */
    uint8_t peak_active;       /**< bits 30..31: 0 none, 1..3 PM1..PM3 in progress */
};

/** Decode the 32-bit STGE value @p raw into @p out (every field written). */
void tic_stge_decode(uint32_t raw, struct tic_stge *out);

/** A horodate SYYMMDDhhmmss decoded (tic.md §4). */
struct tic_horodate {
    char season;   /**< 'H', 'E', 'h', 'e' or ' ' as sent */
    bool dst;      /**< summer time (E/e) */
    bool degraded; /**< lower-case season: meter clock in degraded mode */
    uint16_t year; /**< 2000 + YY */
    uint8_t month, day, hour, min, sec;
    int64_t utc; /**< UTC epoch seconds (EU rules when the season is ' ') */
};

/**
 * Decode a 13-character horodate.
 * @retval ML_OK       @p out filled.
 * @retval ML_EINVAL   not 13 characters, unknown season, non-digit, or not a real date;
 *                     @p out partly written.
 */
int tic_horodate_decode(const uint8_t *s, size_t n, struct tic_horodate *out);

/** One slot of a PJOURF+1 / PPOINTE day profile (tic.md §6). */
struct tic_profile_slot {
    bool used;         /**< false for "NONUTILE" */
    uint8_t hour, min; /**< slot start */
    uint16_t action;   /**< SSSS as sent (hex) */
    uint8_t index;     /**< bits 0..3: supplier index 1..10 to switch to, 0 = no change */
    uint8_t contacts;  /**< bits 4..10: virtual contacts 1..7 (bit 0 = contact 1) */
    uint8_t dry;       /**< bits 14..15: 0 none, 1 per Tempo, 2 open, 3 close */
};

#define TIC_PROFILE_SLOTS 11

/**
 * Decode a day profile (11 blocks "HHMMSSSS" or "NONUTILE" separated by spaces).
 * @retval >= 0      number of slots decoded (blocks beyond @p cap are not read).
 * @retval ML_EINVAL a block is malformed; slots before it are valid.
 */
int tic_profile_decode(const uint8_t *s, size_t n, struct tic_profile_slot *out, size_t cap);

/**
 * Standard-mode checksum of @p n bytes (label through the last HT inclusive):
 * ((sum & 0x3F) + 0x20). Also the historic one when given label..data.
 */
uint8_t tic_checksum(const uint8_t *bytes, size_t n);

/* ------------------------------------------------------------------------- */
/* Parser                                                                    */
/* ------------------------------------------------------------------------- */

/** Return values of tic_parser_feed() (>= 0); errors are < 0. */
enum tic_verdict {
    TIC_VERDICT_NEED_MORE = 0,  /**< all bytes used, no frame completed */
    TIC_VERDICT_OK = 1,         /**< frame complete, every group good */
    TIC_VERDICT_CRC_FAIL = 2,   /**< frame complete, some groups bad (skipped) */
    TIC_VERDICT_FRAME_FAIL = 3, /**< framing broken: EOT, STX inside a frame, oversize, empty */
    TIC_VERDICT_HISTORIC = 4,   /**< historic-mode frame: detected, not parsed */
};

/** Why a frame failed (TIC_VERDICT_FRAME_FAIL only). */
enum tic_fail_reason {
    TIC_FAIL_NONE = 0,
    TIC_FAIL_EOT = 1,      /**< EOT inside the frame */
    TIC_FAIL_RESTART = 2,  /**< STX before ETX */
    TIC_FAIL_OVERSIZE = 3, /**< longer than ML_TIC_MAX_FRAME */
    TIC_FAIL_EMPTY = 4,    /**< STX ETX without any group */
};

/** What happened to the last frame (valid after a verdict). */
struct tic_frame_result {
    enum tic_verdict verdict;
    enum tic_fail_reason reason;
    uint16_t groups;          /**< groups seen, good or bad */
    uint16_t groups_bad;      /**< checksum wrong or malformed: skipped */
    uint16_t groups_unknown;  /**< good groups with an unknown label (kept as raw) */
    uint16_t groups_historic; /**< groups recognised as historic mode */
    uint16_t values_invalid;  /**< good checksum but data not as the label requires: skipped */
    bool historic;            /**< historic mode recognised (verdict HISTORIC) */
    bool clock_degraded;      /**< DATE season character in lower case */
};

/** Counters since tic_parser_init() (lwIP *_STATS style); they wrap. */
struct tic_stats {
    uint32_t bytes;          /**< bytes fed */
    uint32_t bytes_ignored;  /**< bytes outside frames (before STX, after ETX) */
    uint32_t frames_started; /**< STX seen */
    uint32_t frames_ok;
    uint32_t frames_crc_fail;
    uint32_t frames_fail; /**< includes the three below */
    uint32_t frames_eot;
    uint32_t frames_oversize;
    uint32_t frames_restart;
    uint32_t frames_historic;
    uint32_t groups_ok; /**< standard-mode groups with a right checksum */
    uint32_t groups_bad;
    uint32_t groups_unknown;
    uint32_t values_invalid;
};

/** One stored label value of the current/last frame. Private: use the accessors. */
struct tic_value {
    int64_t num;       /**< NUM and HEX kinds */
    uint16_t data_off; /**< data offset in the frame buffer */
    uint16_t hd_off;   /**< horodate offset, 0 when none */
    uint8_t data_len;
};

#define TIC_HASH_SLOTS 256u

/** Caller-owned parser state. Fields are private: use the functions below. */
struct tic_parser {
    struct reading *out;
    uint8_t state;
    uint8_t nsep;
    bool gbad;         /* current group already known bad (junk, merged) */
    uint16_t pos;      /* bytes in frame[] */
    uint16_t gstart;   /* offset of the first byte after LF */
    uint16_t sep0;     /* first HT of the open group, relative to gstart */
    uint16_t std_good; /* standard groups good in this frame */
    struct tic_frame_result cur;
    struct tic_frame_result last;
    struct tic_stats stats;
    uint64_t present[(TIC_LABEL_COUNT + 63) / 64];
    struct tic_value val[TIC_LABEL_COUNT];
    uint64_t keys[TIC_LABEL_COUNT + 48]; /* 0, then label keys: standard, historic */
    uint8_t slot[TIC_HASH_SLOTS];        /* label hash -> index + 1 into keys (0 = empty) */
    uint8_t frame[ML_TIC_MAX_FRAME + 8]; /* + 8: words are read up to 7 bytes past a field */
};

/**
 * Set up @p p; the frames it parses are written into @p out (may be NULL:
 * then only the accessors below give values).
 * @retval ML_OK
 * @retval ML_EFAULT @p p is NULL.
 */
int tic_parser_init(struct tic_parser *p, struct reading *out);

/** Forget any partial frame (counted nowhere) and wait for the next STX. Stats are kept. */
void tic_parser_reset(struct tic_parser *p);

/**
 * Feed @p len bytes. Stops right after the byte that completes a frame's
 * verdict (for a restart, before the new STX, so the old frame's bytes are
 * still available from tic_parser_frame()).
 * Bit 7 of every byte is ignored (it is the parity bit when the UART runs 8N1
 * on a 7E1 line; tic.md §1).
 * @param used  set to the number of bytes consumed (may be NULL).
 * @retval TIC_VERDICT_NEED_MORE all bytes consumed, no verdict.
 * @retval TIC_VERDICT_*          a frame completed; details in tic_parser_result().
 * @retval ML_EFAULT              @p p NULL, or @p data NULL with @p len > 0.
 */
int tic_parser_feed(struct tic_parser *p, const uint8_t *data, size_t len, size_t *used);

/** True when no frame is in progress (waiting for STX). */
bool tic_parser_is_idle(const struct tic_parser *p);

/** The last frame's result (verdict NEED_MORE before the first). */
const struct tic_frame_result *tic_parser_result(const struct tic_parser *p);

/** Counters since init. */
const struct tic_stats *tic_parser_stats(const struct tic_parser *p);

/**
 * Bytes of the last frame that got a verdict, STX..ETX (up to the failure for
 * FRAME_FAIL; ML_TIC_MAX_FRAME bytes for an oversize frame). Valid until the next feed.
 */
struct ml_span tic_parser_frame(const struct tic_parser *p);

/**
 * Numeric value of label @p l in the last frame (NUM kinds: the integer as
 * sent, in the label's unit; STGE: the 32-bit register).
 * @retval true  @p *v set.
 * @retval false absent, bad checksum or invalid data; @p *v untouched.
 */
bool tic_parser_num(const struct tic_parser *p, enum tic_label l, int64_t *v);

/** Data field of @p l as sent (spaces kept); {NULL, 0} when absent. Valid until next feed. */
struct ml_span tic_parser_text(const struct tic_parser *p, enum tic_label l);

/**
 * Horodate of @p l decoded.
 * @retval ML_OK     @p out filled.
 * @retval ML_ENOENT label absent or without horodate.
 * @retval ML_EINVAL horodate malformed.
 */
int tic_parser_horodate(const struct tic_parser *p, enum tic_label l, struct tic_horodate *out);

/**
 * STGE of the last frame decoded.
 * @retval true  @p out filled.
 * @retval false no valid STGE in the frame.
 */
bool tic_parser_stge(const struct tic_parser *p, struct tic_stge *out);

#endif /* FIRMWARE_CORE_TIC_TIC_H */

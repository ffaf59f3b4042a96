/**
 * @file ml_capture.h
 * @brief Captures: meter bytes (live from a port, or a raw dump) turned into a scenario
 * that replays them (`meterlab record`, docs/hil.md).
 *
 * A capture is CAPTURE.yaml plus one raw file per telegram in CAPTURE/ (000001.txt for
 * P1, 000001.bin for TIC). The bytes go through the firmware's one meter input
 * (firmware/core/meter_in: the P1 and the TIC parser, both while the protocol is not
 * known), so every telegram keeps the verdict the device gives it. A P1 telegram keeps
 * the line end that follows its '!' or CRC (CR LF as sent), so a DSMR 2.2/3.0 telegram
 * (no CRC) ends on replay exactly as recorded.
 *
 * Times: the caller gives the arrival time of every chunk it feeds; a telegram's time is
 * that of its last byte (for a telegram cut off by the next one, the last byte before
 * the new '/' or STX, not the byte that told the cut). Raw dumps have no times:
 * ml_capture_import() derives them (see there).
 *
 * Ownership: struct ml_capture is caller-owned (large: two parsers; make it static),
 * set up by ml_capture_open(), released by ml_capture_free(); ml_capture_finish()
 * writes the scenario. Host only; not thread-safe.
 */
#ifndef SIM_CAPTURE_ML_CAPTURE_H
#define SIM_CAPTURE_ML_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dsmr/dsmr.h"
#include "meter_in/meter_in.h"
#include "ml_meter.h"
#include "reading/reading.h"
#include "regmap/regmap.h"
#include "tic/tic.h"

/** Verdicts as counted in a capture. */
enum ml_cap_verdict { ML_CAP_OK = 0, ML_CAP_CRC, ML_CAP_FRAME, ML_CAP_HISTORIC, ML_CAP_VERDICTS };

/** "ok", "crc_fail", "frame_fail", "historic". */
const char *ml_cap_verdict_name(int v);

/** Meter family: which input listens (ML_CAP_ANY: both, until a good telegram decides). */
enum ml_cap_family { ML_CAP_ANY = 0, ML_CAP_P1, ML_CAP_TIC };

/** One kept telegram. */
struct ml_cap_tel {
    double t;     /**< s since the first telegram */
    int verdict;  /**< enum ml_cap_verdict */
    size_t len;   /**< bytes kept (telegram, plus its line end for P1) */
    int64_t ts;   /**< the meter's own time (UTC epoch s), 0 when the telegram has none */
    char *expect; /**< "{k: v, ...}" of the decoded values (good telegrams, expect_values) */
};

struct ml_capture_tel_info {
    size_t n;          /**< telegrams kept so far */
    int verdict;       /**< of this one */
    size_t len;        /**< its bytes */
    double t;          /**< its time (s since the first) */
    bool family_found; /**< this telegram decided the protocol */
};

/** Called after each kept telegram (live status). */
typedef void (*ml_capture_fn)(void *ctx, const struct ml_capture_tel_info *info);

struct ml_capture {
    /* output (ml_capture_open) */
    char out_yaml[1024], dir[1024], dir_rel[1024];
    bool expect_values;
    /* what the header comment says about the source ("/dev/ttyUSB0", "dump.txt") */
    char source[512];
    bool imported;        /**< times derived from the dump (ml_capture_import), not measured */
    bool parity_stripped; /**< import: bit 7 of every byte cleared (7E1 data read at 8N1) */
    /* the protocol */
    enum ml_cap_family want;   /**< inputs that listen (set before feeding; ANY: both) */
    enum ml_cap_family family; /**< found (ANY: nothing good yet, unless set by the caller) */
    int meter_proto;           /**< enum ml_meter_proto of the first good telegram, -1 none */
    struct ml_line line;       /**< line settings the bytes came at (header comment) */
    /* kept telegrams */
    struct ml_cap_tel *tel;
    size_t n, cap;
    unsigned count[ML_CAP_VERDICTS];
    size_t max;        /**< keep no more than this many (0: no limit) */
    int64_t utc_first; /**< UTC of the first telegram (0: unknown) */
    ml_capture_fn on_tel;
    void *ctx;
    int err; /**< first write error (negative errno); nothing more is kept after it */
    /* private: the meter inputs and the feed state */
    struct dsmr_parser dp;
    struct tic_parser tp;
    struct reading rp, rt;
    struct meter_in in_p1, in_tic;
    const struct regmap_template *tpl;
    bool is_tic;    /**< the input calling back */
    double t_now;   /**< arrival of the byte being fed */
    double t_first; /**< time of the first kept telegram */
    bool ended;     /**< a telegram ended on the byte being fed */
    uint8_t *pend;  /**< the last kept telegram's bytes, written with its line end */
    size_t pend_len, pend_cap;
    bool pend_tail; /**< P1: CR/LF may still follow it */
    struct {
        uint8_t b;
        double t;
    } ring[8]; /**< the last bytes fed, with their arrival times (cut-off telegrams) */
    unsigned rpos;
};

/**
 * Set up @p c for a capture into @p out_yaml (must end in .yaml or .yml; the telegram
 * directory is the same path without the extension, created when missing).
 * @return 0, or -1 with the reason in @p err (nothing to free).
 */
int ml_capture_open(struct ml_capture *c, const char *out_yaml, bool expect_values, char *err,
                    size_t errcap);

/**
 * Feed @p len bytes that arrived at @p t (any clock, s). Every telegram that ends is kept
 * (when the protocol is known or the telegram is good) and its file written.
 * @return the telegrams kept by this call (>= 0), or -1 after a write error (c->err).
 */
int ml_capture_feed(struct ml_capture *c, const uint8_t *data, size_t len, double t);

/** True when c->max telegrams are kept or a write failed. */
bool ml_capture_is_full(const struct ml_capture *c);

/** True when the last kept P1 telegram may still get its line end (CR LF) from the next
 *  bytes: a caller that stops at c->max feeds on until false (or briefly). */
bool ml_capture_wants_line_end(const struct ml_capture *c);

/**
 * Write the last telegram and CAPTURE.yaml (atomically, via CAPTURE.yaml.tmp).
 * @return 0, or -1 with the reason in @p err.
 */
int ml_capture_finish(struct ml_capture *c, char *err, size_t errcap);

/** Release what @p c holds (safe after a failed open, and twice). */
void ml_capture_free(struct ml_capture *c);

/** What ml_capture_detect() found in a dump. */
struct ml_capture_detect {
    enum ml_cap_family family;  /**< ML_CAP_ANY: no good telegram of either kind */
    int meter_proto;            /**< enum ml_meter_proto, -1 when nothing was found */
    unsigned good_p1, good_tic; /**< good telegrams (TIC: also historic frames) of each */
    bool parity_stripped;       /**< 7-bit data read as 8 bits: bit 7 (parity) was cleared */
};

/**
 * Which meter sent @p data, from its content alone: DSMR/e-MUCS telegrams ('/' header,
 * CRC or none) against TIC frames (STX/ETX, standard groups with HT, historic with SP),
 * each counted by the firmware parsers; the family with more good telegrams wins (@p want
 * other than ML_CAP_ANY: only that one). The protocol is that of the first good telegram
 * of the winner: no CRC -> dsmr30 (2.2 and 3.0 look alike, both 9600 7E1), version 4.0 /
 * 4.2 -> dsmr40 / dsmr42, e-MUCS -> emucs171, other CRC telegrams -> dsmr50, TIC standard
 * -> tic, TIC historic -> tic_historic. When nothing is good as read but clearing bit 7 of
 * every byte gives good telegrams (7E1 data read at 8N1: the parity in bit 7), that is used
 * and d->parity_stripped set.
 * @return d->meter_proto.
 */
int ml_capture_detect(const uint8_t *data, size_t len, enum ml_cap_family want,
                      struct ml_capture_detect *d);

/**
 * The period a meter of @p proto sends at (s): DSMR 2.2 .. 4.2 10, DSMR 5 and e-MUCS 1,
 * TIC standard 1.5 (a ~800-byte frame at 9600 baud, back to back), historic 1.5.
 */
double ml_capture_period(int meter_proto);

/**
 * Turn the raw dump @p in_path (bytes as read from the port, no timing) into the capture
 * @p out_yaml: the protocol and line settings by ml_capture_detect(), the telegrams kept
 * as by a live capture (at most @p max, 0: all). A dump has no arrival times, so the n-th
 * telegram with a meter clock (`0-0:1.0.0`, TIC `DATE`) is placed by its difference to the
 * last telegram that had one, when that is 1 s to 1 h and keeps the order; telegrams
 * without a clock (bad ones carry no reading) between two such are spread evenly between
 * them; every other telegram follows the one before by ml_capture_period(). The first
 * one is at t = 1 s of the scenario, as in a live capture; the device's utc_start is
 * then set from the meter clock when there is one.
 * @p c is left open for the caller to read (counts, protocol); free it after.
 * @return 0, or -1 with the reason in @p err.
 */
int ml_capture_import(struct ml_capture *c, const char *in_path, const char *out_yaml,
                      bool expect_values, enum ml_cap_family want, size_t max, char *err,
                      size_t errcap);

/**
 * The meter protocol of recorded bytes @p data (a telegram file), by ml_capture_detect();
 * for scenarios without a meter: section (`meterlab play`, `emit`).
 * @return enum ml_meter_proto, or -1 when no telegram in @p data is good.
 */
int ml_capture_guess_proto(const uint8_t *data, size_t len);

struct ml_scenario;

/**
 * The meter protocol a scenario's bytes are sent with: its meter: protocol, else (a
 * capture or recorded files without meter: section) ml_capture_guess_proto() of its first
 * recorded telegram that tells, else the product's default (dsmr50, tic).
 */
int ml_capture_scenario_proto(const struct ml_scenario *s);

#endif /* SIM_CAPTURE_ML_CAPTURE_H */

/**
 * @file cli_json.h
 * @brief Host-side JSON output of a struct reading, shared by `meterlab decode` (DSMR
 *        and, later, TIC) and other tools. Host only (stdio).
 */
#ifndef TOOLS_METERLAB_CLI_JSON_H
#define TOOLS_METERLAB_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reading/reading.h"

/** Write @p n bytes of @p s as a JSON string (quoted, escaped; bytes >= 0x80 as \u00XX). */
void ml_cli_json_str(FILE *f, const char *s, size_t n);

/**
 * Write @p r as one JSON object: every present numeric field under "<key>_<unit>"
 * (e.g. "p_w", "e_imp_wh", "l1_u_v"; unit-less counts and epoch seconds keep their
 * key), plus header, equipment, tariff_name, text, mbus, pfail_log, demand_hist and
 * raw when they carry something. See docs/decode.md for the units table.
 * @return 0, or -1 on a write error.
 */
int ml_cli_reading_json(FILE *f, const struct reading *r);

/** What the first bytes of a meter stream look like (autodetection hook). */
enum ml_cli_proto {
    ML_CLI_PROTO_UNKNOWN = 0,
    ML_CLI_PROTO_DSMR,
    ML_CLI_PROTO_TIC,
};

/**
 * Sniff @p n bytes: the first '/' (P1 telegram start) gives DSMR; STX (0x02) or a
 * LF, label, HT group (TIC standard/historic mode) gives TIC. The earliest marker wins.
 */
enum ml_cli_proto ml_cli_sniff(const uint8_t *buf, size_t n);

#endif /* TOOLS_METERLAB_CLI_JSON_H */

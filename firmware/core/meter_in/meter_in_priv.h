/**
 * @file meter_in_priv.h
 * @brief Shared by the files of core/meter_in only: the per-protocol operations.
 */
#ifndef FIRMWARE_CORE_METER_IN_METER_IN_PRIV_H
#define FIRMWARE_CORE_METER_IN_METER_IN_PRIV_H

#include "meter_in.h"

/** What a protocol provides (a const ops struct: the protocol is a run-time choice). */
struct meter_in_ops {
    /**
     * Feed the parser like *_parser_feed() (stops after the first verdict, which may
     * come with nothing used). On a verdict (> 0) fill @p t.
     * @return 0 none, an enum meter_in_verdict, or < 0 (enum ml_err).
     */
    int (*feed)(struct meter_in *mi, const uint8_t *data, size_t len, size_t *used,
                struct meter_in_telegram *t);
    bool (*is_idle)(const void *parser);
};

#endif /* FIRMWARE_CORE_METER_IN_METER_IN_PRIV_H */

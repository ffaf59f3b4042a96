/*
 * libFuzzer target for core/dsmr (+ the MQTT payload builder on what it publishes).
 * The first input byte seeds the chunk sizes; the rest is fed in those chunks, half
 * of the time byte by byte. Invariants (docs: dsmr.h):
 *  - every feed consumes at least one byte or gives a verdict; used <= len;
 *  - the counters always satisfy dsmr_stats_consistent();
 *  - verdicts seen == ok + crc_fail + frame_fail counters;
 *  - the power_instant JSON of any published reading fits MQTT_POWER_INSTANT_MAX and
 *    the builder never writes past its capacity.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsmr/dsmr.h"
#include "mqtt/mqtt.h"

static struct dsmr_parser parser;
static struct reading out;
static char json[MQTT_POWER_INSTANT_MAX + 16];

static void check_json(void)
{
    int need = mqtt_power_instant_build(&out, NULL, 0);
    if (need <= 0 || need >= MQTT_POWER_INSTANT_MAX) {
        abort();
    }
    memset(json, 'Z', sizeof json);
    if (mqtt_power_instant_build(&out, json, (size_t)need + 1) != need || json[need] != '\0' ||
        json[need + 1] != 'Z') {
        abort();
    }
    memset(json, 'Z', sizeof json);
    if (mqtt_power_instant_build(&out, json, (size_t)need / 2) != -28 || json[need / 2] != 'Z') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint32_t seed = data[0] * 2654435761u + 1u;
    bool bytewise = data[0] & 1u;
    data++;
    size--;
    reading_init(&out);
    dsmr_parser_init(&parser, &out);
    uint32_t verdicts = 0;
    size_t off = 0;
    while (off < size) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        size_t n = bytewise ? 1u : 1u + seed % 300u;
        if (n > size - off) {
            n = size - off;
        }
        size_t used = 0;
        int v = dsmr_parser_feed(&parser, data + off, n, &used);
        if (v < 0 || v > 3 || used > n || (used == 0 && v == 0)) {
            abort();
        }
        if (v > 0) {
            verdicts++;
            if (v == DSMR_VERDICT_OK) {
                check_json();
            }
        }
        if (!dsmr_stats_consistent(&parser)) {
            abort();
        }
        off += used;
    }
    const struct dsmr_stats *s = dsmr_parser_stats(&parser);
    if (verdicts != s->telegrams_ok + s->crc_fail + s->frame_fail || s->bytes_total != size) {
        abort();
    }
    return 0;
}

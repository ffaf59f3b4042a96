/**
 * @file replay.h
 * @brief Core replay: the scenario corpus through the parsers and the Modbus
 * engine, printed as text, on any CPU.
 *
 * The same program is built for the host and for the Cortex-M target; the
 * test (tests/target/core_replay.sh) runs both and compares their outputs line
 * by line, so every difference a 32-bit CPU, alignment, short enums or newlib
 * makes in the parsers (DSMR, TIC), the reading, the register templates or the
 * Modbus RTU/TCP framing shows as a diff. The values themselves are asserted
 * against the specifications by the host unit tests; this program shows the
 * target computes the same.
 *
 * Freestanding: no heap, no stdio. Output goes through @p out in pieces; a line
 * ends with "\n".
 */
#ifndef TESTS_REPLAY_REPLAY_H
#define TESTS_REPLAY_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/** One corpus file, embedded by the build (replay_corpus.c, generated). */
struct replay_file {
    const char *name;    /**< e.g. "dsmr/dsmr50_spec_3ph.txt" */
    uint8_t tic;         /**< 1: a TIC stream, 0: a P1 (DSMR) stream */
    const uint8_t *data; /**< the file's bytes */
    uint32_t len;
};

extern const struct replay_file replay_corpus[];
extern const uint32_t replay_corpus_count;

/** Output sink: @p n bytes of text. */
typedef void (*replay_out_fn)(const char *s, size_t n, void *ctx);

/**
 * Replay the whole corpus and the Modbus vectors, printing every verdict, every
 * field of every good telegram, every counter and every Modbus answer; the
 * last line is "replay end: N lines".
 * @return the number of lines printed (> 0)
 */
uint32_t replay_run(replay_out_fn out, void *ctx);

#endif /* TESTS_REPLAY_REPLAY_H */

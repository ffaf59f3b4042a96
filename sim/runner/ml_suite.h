/**
 * @file ml_suite.h
 * @brief A list of scenarios played on devices under test (library ml_runner,
 * host only): the verdict lines `meterlab run` prints, the JUnit XML it writes
 * (one testsuite per DUT), and a run spread over several rigs at once (one
 * child process per rig, their results gathered by the parent).
 */
#ifndef SIM_RUNNER_ML_SUITE_H
#define SIM_RUNNER_ML_SUITE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "ml_run.h"

/** One scenario's outcome. */
struct ml_suite_case {
    char *name, *path;      /**< owned */
    bool error;             /**< parse error or run error */
    char *parse_err;        /**< owned, NULL unless the file did not load */
    struct ml_run_result r; /**< its report and console are owned here */
};

/** The scenarios played on one DUT. */
struct ml_suite {
    char name[160];          /**< testsuite name ("meterlab.scenarios", "rig.NAME") */
    char dut[16];            /**< "sim", "device", "qemu", "rig": the testcase classname's tail */
    struct ml_suite_case *c; /**< owned, n of them */
    size_t n, ran;
    size_t passed, failed, errors, skipped;
    double wall_s;
};

/** How a suite runs and prints. */
struct ml_suite_opts {
    const struct ml_run_opts *ro;
    bool allow_skips;
    const char *prefix; /**< before each printed line ("" or "rig-a: ") */
    /** The run stops before the next scenario once *stop != 0 (also handed to the runner
     * as ro->stop). */
    const volatile sig_atomic_t *stop;
};

/**
 * Play @p files (n) on @p d one after the other, print a line per scenario (and its
 * report) to stdout, fill @p su (zeroed first; name and dut are set by the caller
 * after). Stops early when *o->stop.
 */
void ml_suite_run(struct ml_suite *su, struct ml_dut *d, char *const *files, size_t n,
                  const struct ml_suite_opts *o);

/**
 * Write JUnit XML: one testsuite per element of @p su (n), a testcase per scenario
 * that ran (classname "scenario.<dut>"), the board's console in its system-out.
 * @return 0, or -1 (message on stderr naming @p path).
 */
int ml_suite_write_junit(const char *path, const struct ml_suite *su, size_t n, double wall_s);

/** Free what @p su owns (not @p su). */
void ml_suite_free(struct ml_suite *su);

/**
 * Spread @p files over @p n rigs (@p rigs, already loaded, resolved, locked and
 * preflighted): scenario i goes to the next rig (round robin) whose dut.product is the
 * scenario's product (read from the file; the first rig, which skips it with the
 * reason, when none has that product; any rig when the file does not load). One child process per
 * rig plays its share (ml_suite_run with the rig's name as prefix, its results passed back through
 * a temp file under $TMPDIR (else /tmp), removed); @p out[k] gets rig k's suite ("rig.NAME"). When
 * *o->stop becomes set (a signal) the same signal number is sent to every child, which stops as a
 * single run does; all children are waited for.
 * @return 0, or -1 with the reason in @p err (fork, temp dir).
 */
int ml_suite_run_rigs(struct ml_suite *out, const struct ml_rig *rigs, size_t n, char *const *files,
                      size_t nfiles, const struct ml_suite_opts *o, char *err, size_t cap);

#endif /* SIM_RUNNER_ML_SUITE_H */

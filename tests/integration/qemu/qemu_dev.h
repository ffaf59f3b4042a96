/*
 * What the QEMU test programs share: `meterlab device --target qemu` started
 * as a child with its stdout+stderr on a pipe, its start banner read and
 * searched, and the clean stop (SIGTERM -> "meterlab device: stopping", exit
 * 0). One device at a time.
 */
#ifndef TESTS_INTEGRATION_QEMU_QEMU_DEV_H
#define TESTS_INTEGRATION_QEMU_QEMU_DEV_H

#include <stddef.h>
#include <sys/types.h>

#define QD_SKIP 77

/** Monotonic seconds. */
double qd_now_s(void);

/**
 * Take the image directory from ML_QEMU_IMAGE_DIR (default build/target/bin)
 * and check that @p image is in it.
 * @return 0 when it is; else what main() returns: 1 when ML_QEMU_REQUIRED=1,
 * else QD_SKIP (both said on stderr, naming the test @p name).
 */
int qd_init(const char *name, const char *image);

/** Run @p argv with ML_TARGET_BIN set to the image directory and its
 * stdout+stderr on a pipe (its read end to @p out). @return the pid, or -1. */
pid_t qd_spawn(char *const argv[], int *out);

/** Start the device (@p argv: meterlab device ...), forgetting what the last
 * one printed, and read until its banner ends ("stop with Ctrl-C") for up to
 * @p secs. A failed start is a fatal CUnit failure (what meterlab printed goes
 * to stderr), unless meterlab printed @p unless (may be NULL).
 * @return 1 when up, 0 when not (only when @p unless was printed). */
int qd_start(char *const argv[], double secs, const char *unless);

/** Read what meterlab prints for up to @p secs; true once @p text appeared
 * after the last match (the search then continues behind it). */
int qd_wait_for(const char *text, double secs);

/** Everything meterlab printed so far. */
const char *qd_seen(void);

/** The word after @p label in what meterlab printed (up to a blank, comma or
 * newline) into @p out; "" when @p label is not there. */
void qd_after(const char *label, char *out, size_t cap);

/** SIGTERM to the device: it says it stops and exits 0 (CUnit checks). */
void qd_stop(void);

/** When a CUnit check failed so far: what meterlab printed, on stderr. */
void qd_dump_on_failure(void);

/** On the way out: a device still running is stopped and reaped. */
void qd_cleanup(void);

#endif /* TESTS_INTEGRATION_QEMU_QEMU_DEV_H */

/**
 * @file ml_test.h
 * @brief Small helpers shared by the CUnit tests.
 */
#ifndef TESTS_SUPPORT_ML_TEST_H
#define TESTS_SUPPORT_ML_TEST_H

#include <CUnit/Basic.h>
#include <stddef.h>
#include <stdint.h>

struct ml_test_case {
    const char *name;
    CU_TestFunc fn;
};

/**
 * Run one suite of @p cases with optional setup/teardown (run around every
 * case, where invariants are asserted), print CUnit's summary, and return the
 * process exit code (0 when every assertion passed).
 * The test binary's command line selects cases: `--case NAME` (repeatable;
 * a trailing '*' matches a prefix), `--list`, `--help`. A --case that matches
 * no case exits 2, so a misspelt name never reads as a pass.
 */
int ml_test_run(const char *suite, const struct ml_test_case *cases, size_t n,
                CU_SetUpFunc setup, CU_TearDownFunc teardown);

/**
 * Read a whole file into a malloc'ed buffer (NUL-terminated, len without it).
 * Paths starting with "src:" are relative to the source tree (ML_SOURCE_DIR, else
 * the tree the test was built from),
 * others as given. Returns NULL (and CU_FAIL) when it cannot be read.
 */
uint8_t *ml_test_read_file(const char *path, size_t *len);

/** Deterministic PRNG (xorshift32) for chunking and noise; seed != 0. */
uint32_t ml_test_rand(uint32_t *state);

#endif /* TESTS_SUPPORT_ML_TEST_H */

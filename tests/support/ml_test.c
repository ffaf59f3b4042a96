#include "ml_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ml_test_run(const char *suite, const struct ml_test_case *cases, size_t n,
                CU_SetUpFunc setup, CU_TearDownFunc teardown)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite_with_setup_and_teardown(suite, NULL, NULL, setup, teardown);
    for (size_t i = 0; i < n; i++) {
        CU_add_test(s, cases[i].name, cases[i].fn);
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run == 0) {
        fprintf(stderr, "%s: no test ran\n", suite);
        return 1;
    }
    return failed == 0 ? 0 : 1;
}

uint8_t *ml_test_read_file(const char *path, size_t *len)
{
    char full[4096];
    const char *src = getenv("ML_SOURCE_DIR");
    if (strncmp(path, "src:", 4) == 0) {
        snprintf(full, sizeof full, "%s/%s", src ? src : ".", path + 4);
    } else {
        snprintf(full, sizeof full, "%s", path);
    }
    FILE *f = fopen(full, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", full);
        CU_FAIL("test input file missing");
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)sz + 1u);
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    buf[got] = 0;
    *len = got;
    return buf;
}

uint32_t ml_test_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

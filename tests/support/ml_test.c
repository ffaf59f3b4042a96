#include "ml_test.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The test binaries' mains take no arguments; glibc passes (argc, argv, envp)
 * to the functions in .init_array, so the case selection is read here once
 * and every test binary gets --case and --list without touching its main.
 */
static int g_argc;
static char **g_argv;

static void ml_test_args(int argc, char **argv, char **envp)
{
    (void)envp;
    g_argc = argc;
    g_argv = argv;
}
__attribute__((section(".init_array"), used)) static void (*const ml_test_args_init)(
    int, char **, char **) = ml_test_args;

static void usage(const char *suite, FILE *to)
{
    fprintf(to,
            "usage: %s [--case NAME]... [--list] [--help]\n"
            "  runs the CUnit suite '%s'; --case runs only the named case(s)\n"
            "  (exact name, or a prefix ending in '*'), --list prints the case names.\n"
            "  Exit: 0 all passed, 1 a case failed, 2 usage error or unknown case.\n",
            g_argc > 0 ? g_argv[0] : "test", suite);
}

static bool case_matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*') {
        return strncmp(pattern, name, n - 1) == 0;
    }
    return strcmp(pattern, name) == 0;
}

int ml_test_run(const char *suite, const struct ml_test_case *cases, size_t n,
                CU_SetUpFunc setup, CU_TearDownFunc teardown)
{
    const char *only[64];
    size_t n_only = 0;
    for (int i = 1; i < g_argc; i++) {
        if (strcmp(g_argv[i], "--list") == 0) {
            for (size_t c = 0; c < n; c++) {
                printf("%s\n", cases[c].name);
            }
            return 0;
        } else if (strcmp(g_argv[i], "--help") == 0) {
            usage(suite, stdout);
            return 0;
        } else if (strcmp(g_argv[i], "--case") == 0) {
            if (i + 1 == g_argc || n_only == sizeof only / sizeof only[0]) {
                fprintf(stderr, "%s: --case needs a NAME (at most 64)\n", suite);
                usage(suite, stderr);
                return 2;
            }
            only[n_only++] = g_argv[++i];
        }
        /* other arguments belong to the test's own main (paths, a case it picked) */
    }
    /* A --case that names nothing is an error, never an empty pass. */
    for (size_t k = 0; k < n_only; k++) {
        bool found = false;
        for (size_t c = 0; c < n && !found; c++) {
            found = case_matches(only[k], cases[c].name);
        }
        if (!found) {
            fprintf(stderr, "%s: no case matches '%s' (--list shows them)\n", suite, only[k]);
            return 2;
        }
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite_with_setup_and_teardown(suite, NULL, NULL, setup, teardown);
    for (size_t i = 0; i < n; i++) {
        bool wanted = n_only == 0;
        for (size_t k = 0; k < n_only && !wanted; k++) {
            wanted = case_matches(only[k], cases[i].name);
        }
        if (wanted) {
            CU_add_test(s, cases[i].name, cases[i].fn);
        }
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
        snprintf(full, sizeof full, "%s/%s", src ? src : ML_TEST_SOURCE_DIR, path + 4);
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

/*
 * DSMR parser benchmark: telegrams/s and MB/s (median of 5 runs) on one telegram file,
 * or `--iterations N` for callgrind (instructions per telegram =
 * (Ir(N=1000) - Ir(N=0)) / 1000, see run.sh). Every iteration feeds the whole telegram
 * (framing, CRC, decoding, publishing the reading) and checks the verdict.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsmr/dsmr.h"

static struct dsmr_parser parser;
static struct reading out;

static int parse_n(const uint8_t *t, size_t len, long n)
{
    for (long i = 0; i < n; i++) {
        size_t used;
        if (dsmr_parser_feed(&parser, t, len, &used) != DSMR_VERDICT_OK) {
            fprintf(stderr, "bench_dsmr: telegram not OK at iteration %ld\n", i);
            return 1;
        }
    }
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    long iterations = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            iterations = atol(argv[++i]);
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_dsmr [--iterations N] TELEGRAM_FILE\n");
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (path == NULL) {
        fprintf(stderr, "usage: bench_dsmr [--iterations N] TELEGRAM_FILE\n");
        return 2;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    static uint8_t t[65536];
    size_t len = fread(t, 1, sizeof t, f);
    fclose(f);
    dsmr_parser_init(&parser, &out);
    if (iterations >= 0) {
        return parse_n(t, len, iterations);
    }
    const long n = 100000;
    double runs[5];
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        if (parse_n(t, len, n)) {
            return 1;
        }
        runs[r] = now() - t0;
    }
    qsort(runs, 5, sizeof runs[0], cmp);
    double tps = (double)n / runs[2];
    printf("telegram: %s (%zu bytes)\n", path, len);
    printf("median of 5 runs x %ld telegrams: %.0f telegrams/s, %.1f MB/s\n", n, tps,
           tps * (double)len / 1e6);
    return 0;
}

/*
 * TIC parser benchmark on scenarios/telegrams/tic/std-3ph.bin (53 groups, 1214 bytes).
 * One frame = the whole STX..ETX fed in one call, checksums, label dispatch,
 * every value stored and mapped into struct reading (reading_derive included),
 * as the peers in docs/performance.md are measured.
 *
 *   bench_tic [FILE]                    frames/s, median of 5 runs
 *   bench_tic --iterations N [FILE]     parse N times, no timing (for callgrind)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tic/tic.h"

static struct tic_parser parser;
static struct reading rd;

static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bench_tic: cannot open %s\n", path);
        exit(2);
    }
    static uint8_t buf[ML_TIC_MAX_FRAME * 2];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

static int parse_n(const uint8_t *d, size_t len, long n)
{
    int ok = 0;
    for (long i = 0; i < n; i++) {
        size_t used;
        int v = tic_parser_feed(&parser, d, len, &used);
        ok += v == TIC_VERDICT_OK;
    }
    return ok;
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
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long iterations = -1;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            iterations = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: bench_tic [--iterations N] [FILE]\n");
            return 0;
        } else {
            path = argv[i];
        }
    }
    char def[4096];
    if (path == NULL) {
        const char *src = getenv("ML_SOURCE_DIR");
        snprintf(def, sizeof def, "%s/scenarios/telegrams/tic/std-3ph.bin", src ? src : ".");
        path = def;
    }
    size_t len;
    const uint8_t *d = load(path, &len);
    tic_parser_init(&parser, &rd);
    if (iterations >= 0) {
        int ok = parse_n(d, len, iterations);
        printf("%d of %ld frames ok\n", ok, iterations);
        return ok == iterations ? 0 : 1;
    }
    if (parse_n(d, len, 1) != 1) {
        fprintf(stderr, "bench_tic: %s does not parse as one good frame\n", path);
        return 1;
    }
    const long n = 200000;
    double rate[5];
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        parse_n(d, len, n);
        rate[r] = (double)n / (now() - t0);
    }
    qsort(rate, 5, sizeof rate[0], cmp);
    printf("tic: %zu bytes/frame, %.0f frames/s (median of 5, min %.0f, max %.0f), %.1f MB/s\n",
           len, rate[2], rate[0], rate[4], rate[2] * (double)len / 1e6);
    return 0;
}

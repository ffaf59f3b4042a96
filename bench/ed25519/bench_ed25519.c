/*
 * Ed25519 verification benchmark: verifications/s of ml_ed25519_verify()
 * (firmware/core/ed25519) and of libsodium's crypto_sign_verify_detached() on
 * the same signature (RFC 8032 "TEST SHA(abc)": a 64-byte message, the size of
 * a firmware header's signed part), median of 5 runs; or `--iterations N
 * [--sodium]` for callgrind (instructions per verify = (Ir(N=100) - Ir(N=0)) / 100).
 * Every iteration checks that the signature verifies.
 */
#define _POSIX_C_SOURCE 200809L
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ed25519/ed25519.h"

static uint8_t pk[32], sig[64], msg[64];

static void unhex(uint8_t *out, const char *s)
{
    for (size_t i = 0; s[2 * i] != '\0'; i++) {
        char b[3] = {s[2 * i], s[2 * i + 1], 0};
        out[i] = (uint8_t)strtoul(b, NULL, 16);
    }
}

static int run(long n, int sodium)
{
    for (long i = 0; i < n; i++) {
        int ok = sodium ? crypto_sign_verify_detached(sig, msg, sizeof msg, pk) == 0
                        : ml_ed25519_verify(sig, msg, sizeof msg, pk);
        if (!ok) {
            fprintf(stderr, "bench_ed25519: the signature did not verify\n");
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

static double rate(long n, int sodium)
{
    double r[5];
    for (int k = 0; k < 5; k++) {
        double t0 = now();
        if (run(n, sodium) != 0) {
            exit(1);
        }
        r[k] = (double)n / (now() - t0);
    }
    qsort(r, 5, sizeof r[0], cmp);
    return r[2];
}

int main(int argc, char **argv)
{
    long iterations = -1, n = 200;
    int sodium = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            iterations = atol(argv[++i]);
        } else if (strcmp(argv[i], "--sodium") == 0) {
            sodium = 1;
        } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n = atol(argv[++i]);
        } else {
            fprintf(stderr,
                    "usage: bench_ed25519 [-n N] | --iterations N [--sodium]\n"
                    "  verifications/s (median of 5 x N, default 200) of core/ed25519\n"
                    "  and libsodium; --iterations: run N verifications only (callgrind)\n");
            return strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ? 0 : 2;
        }
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "bench_ed25519: libsodium failed to initialise\n");
        return 2;
    }
    unhex(pk, "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf");
    unhex(msg, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
               "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    unhex(sig, "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
               "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704");
    if (iterations >= 0) {
        return run(iterations, sodium);
    }
    printf("core/ed25519  %10.0f verifications/s\n", rate(n, 0));
    printf("libsodium     %10.0f verifications/s\n", rate(n, 1));
    return 0;
}

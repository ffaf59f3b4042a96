/*
 * meterlab fw-sign: Ed25519 keys and signed firmware images. Argument parsing
 * and printing; the image format and key files are sim/fwimg (ml_fwimg).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ml_fwimg.h"

#define ERR_CAP 512

static void usage(FILE *out)
{
    fprintf(out,
            "usage: meterlab fw-sign keygen --out KEY.pem [--force]\n"
            "       meterlab fw-sign sign --key KEY.pem --fw-version V [--out IMAGE] PAYLOAD\n"
            "       meterlab fw-sign pubkey (--key KEY.pem | --pub KEY.pub.pem)\n"
            "       meterlab fw-sign verify (--key KEY.pem | --pub KEY.pub.pem) IMAGE\n\n"
            "Ed25519 (RFC 8032) keys and signed Smart Connect firmware images (libsodium).\n\n"
            "  keygen   new key pair: KEY.pem (secret, mode 0600) and KEY.pub.pem; prints the\n"
            "           public key in hex. Refuses to write into the source tree (outside\n"
            "           build/) and to overwrite an existing file without --force.\n"
            "  sign     build an image from the raw PAYLOAD: 128-byte header (magic, version,\n"
            "           length, SHA-256 of the payload, key id, signature over the first 64\n"
            "           header bytes) + PAYLOAD; writes IMAGE (default PAYLOAD.img).\n"
            "  pubkey   print the public key as 64 hex digits (the value of the CMake\n"
            "           cache variable ML_FW_PUBKEY for a production build).\n"
            "  verify   check an image's header, SHA-256 and signature against a key.\n\n"
            "Keys are PEM files as written by 'openssl genpkey -algorithm ed25519'.\n"
            "The build makes a development key pair: <build dir>/fw-dev-key.pem.\n"
            "Exit codes: 0 ok, 1 verify found the image bad, 2 usage or I/O error.\n");
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    printf("\n");
}

static int fail(const char *err)
{
    fprintf(stderr, "meterlab fw-sign: %s\n", err);
    return ML_EXIT_USAGE;
}

static int do_keygen(const char *out, int force)
{
    char pub[PATH_MAX], err[ERR_CAP];
    size_t n = strlen(out);
    if (n > 4 && strcmp(out + n - 4, ".pem") == 0) {
        snprintf(pub, sizeof pub, "%.*s.pub.pem", (int)(n - 4), out);
    } else {
        snprintf(pub, sizeof pub, "%s.pub.pem", out);
    }
    uint8_t pk[32];
    if (ml_fwkey_generate(out, pub, force, pk, err, sizeof err) < 0) {
        return fail(err);
    }
    print_hex(pk, 32);
    return ML_EXIT_OK;
}

static int load_secret(const char *path, uint8_t pk[32], uint8_t sk[64])
{
    char err[ERR_CAP];
    int warn = 0;
    if (ml_fwkey_load_secret(path, pk, sk, &warn, err, sizeof err) < 0) {
        fail(err);
        return -1;
    }
    if (warn) {
        fprintf(stderr, "meterlab fw-sign: warning: '%s' is readable by others\n", path);
    }
    return 0;
}

static int do_sign(const char *key, const char *version, const char *in, const char *out)
{
    char err[ERR_CAP];
    if (ml_fwimg_version_ok(version, err, sizeof err) < 0) {
        fprintf(stderr, "meterlab fw-sign: --fw-version: %s\n", err);
        return ML_EXIT_USAGE;
    }
    uint8_t pk[32], sk[64];
    if (load_secret(key, pk, sk) < 0) {
        return ML_EXIT_USAGE;
    }
    size_t n;
    uint8_t *payload = ml_fwimg_read_file(in, &n, err, sizeof err);
    if (payload == NULL) {
        sodium_memzero(sk, sizeof sk);
        return fail(err);
    }
    if (n == 0 || n > UINT32_MAX - ML_FWIMG_HDR_SIZE) {
        fprintf(stderr, "meterlab fw-sign: '%s': payload size %zu out of range\n", in, n);
        free(payload);
        sodium_memzero(sk, sizeof sk);
        return ML_EXIT_USAGE;
    }
    uint8_t hdr[ML_FWIMG_HDR_SIZE];
    ml_fwimg_header(hdr, payload, (uint32_t)n, version, pk, sk);
    sodium_memzero(sk, sizeof sk);
    char def[PATH_MAX];
    if (out == NULL) {
        snprintf(def, sizeof def, "%s.img", in);
        out = def;
    }
    FILE *f = fopen(out, "wb");
    int ok =
        f != NULL && fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr && fwrite(payload, 1, n, f) == n;
    if (f != NULL && fclose(f) != 0) {
        ok = 0;
    }
    free(payload);
    if (!ok) {
        fprintf(stderr, "meterlab fw-sign: cannot write '%s'\n", out);
        return ML_EXIT_USAGE;
    }
    printf("%s: version %s, %zu payload bytes, signed by key ", out, version, n);
    print_hex(pk, 32);
    return ML_EXIT_OK;
}

static int do_verify(const uint8_t pk[32], const char *path)
{
    char err[ERR_CAP];
    size_t n;
    uint8_t *img = ml_fwimg_read_file(path, &n, err, sizeof err);
    if (img == NULL) {
        return fail(err);
    }
    const char *why = ml_fwimg_check(img, n, pk);
    if (why != NULL) {
        printf("%s: BAD: %s\n", path, why);
        free(img);
        return ML_EXIT_FAIL;
    }
    printf("%s: ok: version %.16s, %zu payload bytes\n", path, (const char *)img + 12,
           n - ML_FWIMG_HDR_SIZE);
    free(img);
    return ML_EXIT_OK;
}

static int run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    if (argc < 2) {
        usage(stderr);
        return ML_EXIT_USAGE;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "meterlab fw-sign: libsodium failed to initialise\n");
        return ML_EXIT_USAGE;
    }
    const char *sub = argv[1];
    const char *key = NULL, *pub = NULL, *out = NULL, *version = NULL, *file = NULL;
    int force = 0;
    for (int i = 2; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "--key") == 0) {
            dst = &key;
        } else if (strcmp(argv[i], "--pub") == 0) {
            dst = &pub;
        } else if (strcmp(argv[i], "--out") == 0) {
            dst = &out;
        } else if (strcmp(argv[i], "--fw-version") == 0) {
            dst = &version;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
            continue;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "meterlab fw-sign: unknown option '%s' (see --help)\n", argv[i]);
            return ML_EXIT_USAGE;
        } else if (file == NULL) {
            file = argv[i];
            continue;
        } else {
            fprintf(stderr, "meterlab fw-sign: unexpected argument '%s'\n", argv[i]);
            return ML_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "meterlab fw-sign: %s needs a value\n", argv[i]);
            return ML_EXIT_USAGE;
        }
        *dst = argv[++i];
    }
    if (strcmp(sub, "keygen") == 0) {
        if (out == NULL || file != NULL) {
            fprintf(stderr, "meterlab fw-sign keygen: needs --out KEY.pem and nothing else\n");
            return ML_EXIT_USAGE;
        }
        return do_keygen(out, force);
    }
    if (strcmp(sub, "sign") == 0) {
        if (key == NULL || version == NULL || file == NULL) {
            fprintf(stderr,
                    "meterlab fw-sign sign: needs --key KEY.pem, --fw-version V and PAYLOAD\n");
            return ML_EXIT_USAGE;
        }
        return do_sign(key, version, file, out);
    }
    if (strcmp(sub, "pubkey") == 0 || strcmp(sub, "verify") == 0) {
        int verify = sub[0] == 'v';
        if ((key == NULL) == (pub == NULL) || (verify ? file == NULL : file != NULL)) {
            fprintf(stderr, "meterlab fw-sign %s: needs one of --key/--pub%s\n", sub,
                    verify ? " and IMAGE" : " and nothing else");
            return ML_EXIT_USAGE;
        }
        uint8_t pk[32], sk[64] = {0};
        char err[ERR_CAP];
        if (key != NULL) {
            if (load_secret(key, pk, sk) < 0) {
                return ML_EXIT_USAGE;
            }
        } else if (ml_fwkey_load_public(pub, pk, err, sizeof err) < 0) {
            return fail(err);
        }
        sodium_memzero(sk, sizeof sk);
        if (!verify) {
            print_hex(pk, 32);
            return ML_EXIT_OK;
        }
        return do_verify(pk, file);
    }
    fprintf(stderr, "meterlab fw-sign: unknown subcommand '%s' (keygen, sign, pubkey, verify)\n",
            sub);
    return ML_EXIT_USAGE;
}

const struct ml_cmd ml_cmd_fw_sign = {"fw-sign", "Ed25519 keys and signed firmware images", run};

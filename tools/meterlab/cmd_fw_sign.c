/*
 * meterlab fw-sign: Ed25519 keys and signed firmware images (libsodium).
 *
 * Image = 128-byte header + payload (docs/firmware-update.md):
 *     0 magic "MLFW"   4 header version 2   8 payload length
 *    12 version (16 bytes, NUL-padded)     28 SHA-256 of the payload
 *    60 key id (first 4 bytes of the public key)
 *    64 Ed25519 signature over bytes 0..63
 * Keys are PKCS#8 / SubjectPublicKeyInfo PEM files, the formats of
 * `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define HDR_SIZE    128u
#define HDR_SIGNED  64u
#define VERSION_MAX 16u
#define FW_MAGIC    0x57464C4Du

/* DER prefixes of the two PEM bodies (RFC 8410) */
static const uint8_t PKCS8_PREFIX[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                         0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
static const uint8_t SPKI_PREFIX[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                        0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

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

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "meterlab fw-sign: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) {
            break;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "meterlab fw-sign: cannot read '%s'\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Decode the base64 body between "-----BEGIN <label>-----" and "-----END <label>-----". */
static int pem_decode(const char *path, const char *label, uint8_t *out, size_t cap, size_t *len)
{
    size_t n;
    uint8_t *t = read_file(path, &n);
    if (t == NULL) {
        return -1;
    }
    t = realloc(t, n + 1);
    t[n] = '\0';
    char begin[64], end[64];
    snprintf(begin, sizeof begin, "-----BEGIN %s-----", label);
    snprintf(end, sizeof end, "-----END %s-----", label);
    char *b = strstr((char *)t, begin);
    char *e = b != NULL ? strstr(b, end) : NULL;
    int rc = -1;
    if (b == NULL || e == NULL) {
        fprintf(stderr, "meterlab fw-sign: '%s' is not a PEM file with a %s\n", path, label);
    } else {
        b += strlen(begin);
        if (sodium_base642bin(out, cap, b, (size_t)(e - b), " \t\r\n", len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            fprintf(stderr, "meterlab fw-sign: '%s': bad base64 in the %s\n", path, label);
        } else {
            rc = 0;
        }
    }
    free(t);
    return rc;
}

static int load_secret(const char *path, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t der[64];
    size_t n;
    if (pem_decode(path, "PRIVATE KEY", der, sizeof der, &n) < 0) {
        return -1;
    }
    if (n != 48 || memcmp(der, PKCS8_PREFIX, sizeof PKCS8_PREFIX) != 0) {
        fprintf(stderr, "meterlab fw-sign: '%s' is not an Ed25519 private key (PKCS#8)\n", path);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
        fprintf(stderr, "meterlab fw-sign: warning: '%s' is readable by others (mode %03o)\n", path,
                (unsigned)(st.st_mode & 0777));
    }
    crypto_sign_seed_keypair(pk, sk, der + 16);
    sodium_memzero(der, sizeof der);
    return 0;
}

static int load_public(const char *path, uint8_t pk[32])
{
    uint8_t der[64];
    size_t n;
    if (pem_decode(path, "PUBLIC KEY", der, sizeof der, &n) < 0) {
        return -1;
    }
    if (n != 44 || memcmp(der, SPKI_PREFIX, sizeof SPKI_PREFIX) != 0) {
        fprintf(stderr, "meterlab fw-sign: '%s' is not an Ed25519 public key\n", path);
        return -1;
    }
    memcpy(pk, der + 12, 32);
    return 0;
}

static int write_pem(const char *path, const char *label, const uint8_t *der, size_t n, mode_t mode,
                     int force)
{
    char b64[128];
    sodium_bin2base64(b64, sizeof b64, der, n, sodium_base64_VARIANT_ORIGINAL);
    int flags = O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0) {
        fprintf(stderr, "meterlab fw-sign: cannot create '%s': %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (--force overwrites)" : "");
        return -1;
    }
    if (fchmod(fd, mode) != 0) { /* an existing file keeps its mode otherwise */
        fprintf(stderr, "meterlab fw-sign: cannot chmod '%s': %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    fprintf(f, "-----BEGIN %s-----\n%s\n-----END %s-----\n", label, b64, label);
    if (fclose(f) != 0) {
        fprintf(stderr, "meterlab fw-sign: cannot write '%s'\n", path);
        return -1;
    }
    return 0;
}

/* Is @p path (a file to create) inside the source tree but not under its build/? */
static int in_source_tree(const char *path)
{
    char dir[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    if (realpath(dir, real) == NULL || realpath(ML_SOURCE_DIR, root) == NULL) {
        return 0;
    }
    size_t n = strlen(root);
    if (strncmp(real, root, n) != 0 || (real[n] != '\0' && real[n] != '/')) {
        return 0;
    }
    /* below <root>/build (ignored by git) is fine */
    const char *rest = real + n;
    return !(strncmp(rest, "/build", 6) == 0 && (rest[6] == '\0' || rest[6] == '/'));
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    printf("\n");
}

static int do_keygen(const char *out, int force)
{
    if (in_source_tree(out)) {
        fprintf(stderr,
                "meterlab fw-sign: refusing to write a secret key into the source tree "
                "('%s'); use a path outside it (or under build/)\n",
                out);
        return ML_EXIT_USAGE;
    }
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    uint8_t der[48];
    memcpy(der, PKCS8_PREFIX, 16);
    memcpy(der + 16, sk, 32); /* libsodium's sk = seed || pk */
    int rc = write_pem(out, "PRIVATE KEY", der, sizeof der, 0600, force);
    sodium_memzero(der, sizeof der);
    sodium_memzero(sk, sizeof sk);
    if (rc < 0) {
        return ML_EXIT_USAGE;
    }
    char pub[PATH_MAX];
    size_t n = strlen(out);
    if (n > 4 && strcmp(out + n - 4, ".pem") == 0) {
        snprintf(pub, sizeof pub, "%.*s.pub.pem", (int)(n - 4), out);
    } else {
        snprintf(pub, sizeof pub, "%s.pub.pem", out);
    }
    uint8_t spki[44];
    memcpy(spki, SPKI_PREFIX, 12);
    memcpy(spki + 12, pk, 32);
    if (write_pem(pub, "PUBLIC KEY", spki, sizeof spki, 0644, force) < 0) {
        return ML_EXIT_USAGE;
    }
    print_hex(pk, 32);
    return ML_EXIT_OK;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int do_sign(const char *key, const char *version, const char *in, const char *out)
{
    size_t vl = strlen(version);
    if (vl == 0 || vl >= VERSION_MAX) {
        fprintf(stderr, "meterlab fw-sign: --fw-version must have 1..%u characters\n",
                VERSION_MAX - 1);
        return ML_EXIT_USAGE;
    }
    for (size_t i = 0; i < vl; i++) {
        if (version[i] < 0x20 || version[i] > 0x7E || version[i] == '"' || version[i] == '\\') {
            fprintf(stderr,
                    "meterlab fw-sign: --fw-version: character %zu is not printable ASCII "
                    "(quotes and backslashes are not allowed either)\n",
                    i + 1);
            return ML_EXIT_USAGE;
        }
    }
    uint8_t pk[32], sk[64];
    if (load_secret(key, pk, sk) < 0) {
        return ML_EXIT_USAGE;
    }
    size_t n;
    uint8_t *payload = read_file(in, &n);
    if (payload == NULL) {
        sodium_memzero(sk, sizeof sk);
        return ML_EXIT_USAGE;
    }
    if (n == 0 || n > UINT32_MAX - HDR_SIZE) {
        fprintf(stderr, "meterlab fw-sign: '%s': payload size %zu out of range\n", in, n);
        free(payload);
        sodium_memzero(sk, sizeof sk);
        return ML_EXIT_USAGE;
    }
    uint8_t hdr[HDR_SIZE] = {0};
    put32(hdr, FW_MAGIC);
    put32(hdr + 4, 2);
    put32(hdr + 8, (uint32_t)n);
    memcpy(hdr + 12, version, vl);
    crypto_hash_sha256(hdr + 28, payload, n);
    memcpy(hdr + 60, pk, 4);
    crypto_sign_detached(hdr + HDR_SIGNED, NULL, hdr, HDR_SIGNED, sk);
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
        fprintf(stderr, "meterlab fw-sign: cannot write '%s': %s\n", out, strerror(errno));
        return ML_EXIT_USAGE;
    }
    printf("%s: version %s, %zu payload bytes, signed by key ", out, version, n);
    print_hex(pk, 32);
    return ML_EXIT_OK;
}

static int do_verify(const uint8_t pk[32], const char *path)
{
    size_t n;
    uint8_t *img = read_file(path, &n);
    if (img == NULL) {
        return ML_EXIT_USAGE;
    }
    const char *why = NULL;
    if (n < HDR_SIZE || get32(img) != FW_MAGIC) {
        why = "not a firmware image (no MLFW header)";
    } else if (get32(img + 4) == 1) {
        why = "unsigned image (header version 1)";
    } else if (get32(img + 4) != 2) {
        why = "unknown header version";
    } else if (get32(img + 8) != n - HDR_SIZE) {
        why = "payload length does not match the header";
    } else if (memcmp(img + 60, pk, 4) != 0) {
        why = "signed by another key (key id differs)";
    } else if (crypto_sign_verify_detached(img + HDR_SIGNED, img, HDR_SIGNED, pk) != 0) {
        why = "bad signature";
    } else {
        uint8_t d[32];
        crypto_hash_sha256(d, img + HDR_SIZE, n - HDR_SIZE);
        if (memcmp(d, img + 28, 32) != 0) {
            why = "sha256 mismatch";
        }
    }
    if (why != NULL) {
        printf("%s: BAD: %s\n", path, why);
        free(img);
        return ML_EXIT_FAIL;
    }
    printf("%s: ok: version %.16s, %zu payload bytes\n", path, (const char *)img + 12,
           n - HDR_SIZE);
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
        uint8_t pk[32], sk[64];
        if (key != NULL ? load_secret(key, pk, sk) : load_public(pub, pk)) {
            return ML_EXIT_USAGE;
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

/* Signed firmware images and Ed25519 key files on the host: see ml_fwimg.h. */
#define _GNU_SOURCE
#include "ml_fwimg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_SIGNED 64u
#define FW_MAGIC   0x57464C4Du

/* DER prefixes of the two PEM bodies (RFC 8410) */
static const uint8_t PKCS8_PREFIX[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                         0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
static const uint8_t SPKI_PREFIX[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                        0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

uint8_t *ml_fwimg_read_file(const char *path, size_t *len, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, cap, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t size = 4096, n = 0;
    uint8_t *buf = malloc(size + 1);
    while (buf != NULL) {
        if (n == size) {
            size *= 2;
            uint8_t *b = realloc(buf, size + 1);
            if (b == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
        }
        size_t k = fread(buf + n, 1, size - n, f);
        n += k;
        if (k == 0) {
            break;
        }
    }
    int bad = ferror(f) || buf == NULL;
    fclose(f);
    if (bad) {
        snprintf(err, cap, "cannot read '%s'%s", path, buf == NULL ? ": out of memory" : "");
        free(buf);
        return NULL;
    }
    buf[n] = '\0'; /* one spare byte: PEM text can be searched as a string */
    *len = n;
    return buf;
}

/* Decode the base64 body between "-----BEGIN <label>-----" and "-----END <label>-----". */
static int pem_decode(const char *path, const char *label, uint8_t *out, size_t outcap, size_t *len,
                      char *err, size_t cap)
{
    size_t n;
    uint8_t *t = ml_fwimg_read_file(path, &n, err, cap);
    if (t == NULL) {
        return -1;
    }
    char begin[64], end[64];
    snprintf(begin, sizeof begin, "-----BEGIN %s-----", label);
    snprintf(end, sizeof end, "-----END %s-----", label);
    char *b = strstr((char *)t, begin);
    char *e = b != NULL ? strstr(b, end) : NULL;
    int rc = -1;
    if (b == NULL || e == NULL) {
        snprintf(err, cap, "'%s' is not a PEM file with a %s", path, label);
    } else {
        b += strlen(begin);
        if (sodium_base642bin(out, outcap, b, (size_t)(e - b), " \t\r\n", len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            snprintf(err, cap, "'%s': bad base64 in the %s", path, label);
        } else {
            rc = 0;
        }
    }
    free(t);
    return rc;
}

int ml_fwkey_load_secret(const char *path, uint8_t pk[32], uint8_t sk[64], int *warn, char *err,
                         size_t cap)
{
    uint8_t der[64];
    size_t n;
    if (pem_decode(path, "PRIVATE KEY", der, sizeof der, &n, err, cap) < 0) {
        return -1;
    }
    if (n != 48 || memcmp(der, PKCS8_PREFIX, sizeof PKCS8_PREFIX) != 0) {
        snprintf(err, cap, "'%s' is not an Ed25519 private key (PKCS#8)", path);
        sodium_memzero(der, sizeof der);
        return -1;
    }
    struct stat st;
    if (warn != NULL) {
        *warn = stat(path, &st) == 0 && (st.st_mode & 077) != 0;
    }
    crypto_sign_seed_keypair(pk, sk, der + 16);
    sodium_memzero(der, sizeof der);
    return 0;
}

int ml_fwkey_load_public(const char *path, uint8_t pk[32], char *err, size_t cap)
{
    uint8_t der[64];
    size_t n;
    if (pem_decode(path, "PUBLIC KEY", der, sizeof der, &n, err, cap) < 0) {
        return -1;
    }
    if (n != 44 || memcmp(der, SPKI_PREFIX, sizeof SPKI_PREFIX) != 0) {
        snprintf(err, cap, "'%s' is not an Ed25519 public key", path);
        return -1;
    }
    memcpy(pk, der + 12, 32);
    return 0;
}

static int write_pem(const char *path, const char *label, const uint8_t *der, size_t n, mode_t mode,
                     int force, char *err, size_t cap)
{
    char b64[128];
    sodium_bin2base64(b64, sizeof b64, der, n, sodium_base64_VARIANT_ORIGINAL);
    int flags = O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0) {
        snprintf(err, cap, "cannot create '%s': %s%s", path, strerror(errno),
                 errno == EEXIST ? " (--force overwrites)" : "");
        return -1;
    }
    if (fchmod(fd, mode) != 0) { /* an existing file keeps its mode otherwise */
        snprintf(err, cap, "cannot chmod '%s': %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        snprintf(err, cap, "cannot write '%s': %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    fprintf(f, "-----BEGIN %s-----\n%s\n-----END %s-----\n", label, b64, label);
    if (fclose(f) != 0) {
        snprintf(err, cap, "cannot write '%s'", path);
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

int ml_fwkey_generate(const char *out, const char *pub, int force, uint8_t pk[32], char *err,
                      size_t cap)
{
    if (in_source_tree(out)) {
        snprintf(err, cap,
                 "refusing to write a secret key into the source tree ('%s'); use a path "
                 "outside it (or under build/)",
                 out);
        return -1;
    }
    uint8_t sk[64];
    crypto_sign_keypair(pk, sk);
    uint8_t der[48];
    memcpy(der, PKCS8_PREFIX, 16);
    memcpy(der + 16, sk, 32); /* libsodium's sk = seed || pk */
    int rc = write_pem(out, "PRIVATE KEY", der, sizeof der, 0600, force, err, cap);
    sodium_memzero(der, sizeof der);
    sodium_memzero(sk, sizeof sk);
    if (rc < 0) {
        return -1;
    }
    uint8_t spki[44];
    memcpy(spki, SPKI_PREFIX, 12);
    memcpy(spki + 12, pk, 32);
    return write_pem(pub, "PUBLIC KEY", spki, sizeof spki, 0644, force, err, cap);
}

int ml_fwimg_version_ok(const char *version, char *err, size_t cap)
{
    size_t vl = strlen(version);
    if (vl == 0 || vl >= ML_FWIMG_VERSION_MAX) {
        snprintf(err, cap, "the version must have 1..%u characters", ML_FWIMG_VERSION_MAX - 1);
        return -1;
    }
    for (size_t i = 0; i < vl; i++) {
        if (version[i] < 0x20 || version[i] > 0x7E || version[i] == '"' || version[i] == '\\') {
            snprintf(err, cap,
                     "version character %zu is not printable ASCII (quotes and backslashes "
                     "are not allowed either)",
                     i + 1);
            return -1;
        }
    }
    return 0;
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

void ml_fwimg_header(uint8_t hdr[ML_FWIMG_HDR_SIZE], const uint8_t *payload, uint32_t n,
                     const char *version, const uint8_t pk[32], const uint8_t sk[64])
{
    memset(hdr, 0, ML_FWIMG_HDR_SIZE);
    put32(hdr, FW_MAGIC);
    put32(hdr + 4, 2);
    put32(hdr + 8, n);
    memcpy(hdr + 12, version, strnlen(version, ML_FWIMG_VERSION_MAX - 1));
    crypto_hash_sha256(hdr + 28, payload, n);
    memcpy(hdr + 60, pk, 4);
    crypto_sign_detached(hdr + HDR_SIGNED, NULL, hdr, HDR_SIGNED, sk);
}

const char *ml_fwimg_check(const uint8_t *img, size_t n, const uint8_t pk[32])
{
    if (n < ML_FWIMG_HDR_SIZE || get32(img) != FW_MAGIC) {
        return "not a firmware image (no MLFW header)";
    }
    if (get32(img + 4) == 1) {
        return "unsigned image (header version 1)";
    }
    if (get32(img + 4) != 2) {
        return "unknown header version";
    }
    if (get32(img + 8) != n - ML_FWIMG_HDR_SIZE) {
        return "payload length does not match the header";
    }
    if (memcmp(img + 60, pk, 4) != 0) {
        return "signed by another key (key id differs)";
    }
    if (crypto_sign_verify_detached(img + HDR_SIGNED, img, HDR_SIGNED, pk) != 0) {
        return "bad signature";
    }
    uint8_t d[32];
    crypto_hash_sha256(d, img + ML_FWIMG_HDR_SIZE, n - ML_FWIMG_HDR_SIZE);
    if (memcmp(d, img + 28, 32) != 0) {
        return "sha256 mismatch";
    }
    return NULL;
}

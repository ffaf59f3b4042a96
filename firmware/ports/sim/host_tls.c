/*
 * The HTTPS identity of a simulated device (host only, OpenSSL): a P-256 key and
 * a self-signed server certificate, made once and kept in a directory. Shared by
 * the sim port (sim_tls.c) and the ESP-AT emulator's SSL server (sim/at_emu), so
 * both make the same kind of certificate (docs/decisions.md 21).
 */
#define _GNU_SOURCE
#include "host_tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

#define TLS_VALID_DAYS (20 * 365)

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ex == NULL) {
        return ML_EIO;
    }
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok ? ML_OK : ML_EIO;
}

/* A new P-256 key and a certificate for @p host (SAN: host, host.local, @p ip). */
static int make(const char *host, const char *ip, EVP_PKEY **key_out, X509 **cert_out)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    int rc = ML_EIO;
    unsigned char serial[16];
    if (key == NULL || cert == NULL || RAND_bytes(serial, sizeof serial) != 1) {
        goto out;
    }
    serial[0] &= 0x7F; /* positive */
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    ASN1_INTEGER *sn = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    BN_free(bn);
    if (sn == NULL) {
        goto out;
    }
    X509_set_serialNumber(cert, sn);
    ASN1_INTEGER_free(sn);
    X509_set_version(cert, 2);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), (long)TLS_VALID_DAYS * 86400);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Smart Connect", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0);
    X509_set_issuer_name(cert, name); /* self-signed */
    char san[256];
    snprintf(san, sizeof san, "DNS:%s,DNS:%s.local,IP:%s", host, host, ip);
    if (add_ext(cert, NID_subject_alt_name, san) < 0 ||
        add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(cert, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
        add_ext(cert, NID_subject_key_identifier, "hash") < 0 ||
        X509_sign(cert, key, EVP_sha256()) == 0) {
        goto out;
    }
    *key_out = key;
    *cert_out = cert;
    key = NULL;
    cert = NULL;
    rc = ML_OK;
out:
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        return ML_EIO;
    }
    fchmod(fd, mode);
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return ML_EIO;
    }
    int ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                         : PEM_write_X509(f, cert);
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    fclose(f);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return ML_EIO;
    }
    return ML_OK;
}

int ml_tls_identity(const char *dir, const char *host, const char *ip, EVP_PKEY **key, X509 **cert)
{
    *key = NULL;
    *cert = NULL;
    if (dir == NULL || dir[0] == '\0') {
        return make(host, ip, key, cert);
    }
    char kp[600], cp[600];
    snprintf(kp, sizeof kp, "%s/https_key.pem", dir);
    snprintf(cp, sizeof cp, "%s/https_cert.pem", dir);
    FILE *kf = fopen(kp, "re");
    FILE *cf = fopen(cp, "re");
    *key = kf != NULL ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    *cert = cf != NULL ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
    if (kf != NULL) {
        fchmod(fileno(kf), 0600); /* found readable by others: private again */
        fclose(kf);
    }
    if (cf != NULL) {
        fclose(cf);
    }
    if (*key != NULL && *cert != NULL && X509_check_private_key(*cert, *key) == 1) {
        return ML_OK;
    }
    bool found = kf != NULL || cf != NULL;
    EVP_PKEY_free(*key);
    X509_free(*cert);
    *key = NULL;
    *cert = NULL;
    if (found) {
        return ML_EIO; /* there but unreadable or not a pair: never silently replaced */
    }
    if (make(host, ip, key, cert) < 0) {
        return ML_EIO;
    }
    if (write_pem(kp, 0600, *key, NULL) < 0 || write_pem(cp, 0644, NULL, *cert) < 0) {
        EVP_PKEY_free(*key);
        X509_free(*cert);
        *key = NULL;
        *cert = NULL;
        return ML_EIO;
    }
    return ML_OK;
}

void ml_tls_ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        signal(SIGPIPE, SIG_IGN);
    }
}

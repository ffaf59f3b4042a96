/*
 * Sim HTTPS material: the device's server key and self-signed certificate
 * (OpenSSL), made once and kept in the TLS directory (sim_config.tls_dir:
 * https_key.pem 0600, https_cert.pem 0644), or in memory for the process when
 * there is none; and the server SSL_CTX hal_tcp_listen_tls() connections use.
 * See docs/decisions.md (HTTPS) for why the key lives there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "host_tls.h"
#include "sim_priv.h"

static struct {
    char dir[512];
    bool have_dir;
    SSL_CTX *ctx;
    EVP_PKEY *key; /* kept for the process when there is no directory */
    X509 *cert;
} T;

void sim_tls_set_dir(const char *dir)
{
    T.have_dir = dir != NULL && dir[0] != '\0';
    snprintf(T.dir, sizeof T.dir, "%s", T.have_dir ? dir : "");
    if (T.ctx != NULL) { /* another device: its own material */
        SSL_CTX_free(T.ctx);
        T.ctx = NULL;
    }
    EVP_PKEY_free(T.key);
    X509_free(T.cert);
    T.key = NULL;
    T.cert = NULL;
}

int sim_tls_cert_path(char *out, size_t cap)
{
    if (!T.have_dir) {
        return ML_ENOENT;
    }
    snprintf(out, cap, "%s/https_cert.pem", T.dir);
    return ML_OK;
}

/* The directory's key and certificate (kept for the process when there is none). */
static int load_or_make(const char *host, const char *ip, EVP_PKEY **key, X509 **cert)
{
    if (T.have_dir) {
        return ml_tls_identity(T.dir, host, ip, key, cert);
    }
    if (T.key == NULL && ml_tls_identity(NULL, host, ip, &T.key, &T.cert) < 0) {
        return ML_EIO;
    }
    EVP_PKEY_up_ref(T.key);
    X509_up_ref(T.cert);
    *key = T.key;
    *cert = T.cert;
    return ML_OK;
}

SSL_CTX *sim_tls_server_ctx(const char *host, const char *ip)
{
    if (T.ctx != NULL) {
        return T.ctx;
    }
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    if (load_or_make(host[0] != '\0' ? host : "smart-connect", ip, &key, &cert) < 0) {
        return NULL;
    }
    ml_tls_ignore_sigpipe();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    } else {
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    T.ctx = ctx;
    return ctx;
}

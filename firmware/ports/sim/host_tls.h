/**
 * @file host_tls.h
 * @brief A simulated device's HTTPS key and certificate (host only, OpenSSL;
 *        library ml_host_tls): the sim port and the ESP-AT emulator use it.
 */
#ifndef FIRMWARE_PORTS_SIM_HOST_TLS_H
#define FIRMWARE_PORTS_SIM_HOST_TLS_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/**
 * Load @p dir's https_key.pem and https_cert.pem, or (first start: neither
 * exists) make a P-256 key and a self-signed certificate - CN @p host, SAN
 * DNS:@p host, DNS:@p host.local, IP:@p ip, serverAuth, 20 years - and store
 * them there (key 0600, made 0600 again when found readable; certificate 0644).
 * @p dir NULL or "": made in memory, stored nowhere. The caller frees both.
 * @retval 0 ok  @retval ML_EIO cannot make or store them, or a file is there but
 *         unreadable (never silently replaced)
 */
int ml_tls_identity(const char *dir, const char *host, const char *ip, EVP_PKEY **key, X509 **cert);

/**
 * OpenSSL writes to sockets with write(): a peer that vanishes must not kill the
 * process with SIGPIPE. Ignores it unless the host installed a handler.
 */
void ml_tls_ignore_sigpipe(void);

#endif /* FIRMWARE_PORTS_SIM_HOST_TLS_H */

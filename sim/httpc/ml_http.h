/**
 * @file ml_http.h
 * @brief The bench's HTTP/1.1 client (library ml_http_client, host only): one
 * request per connection, Basic auth, a Content-Length body, plain or HTTPS. The
 * runner's HTTP steps and checks, the real-time DUTs' status reads, the
 * device-settings check and ml_qemu's configuration seeding use it.
 */
#ifndef SIM_HTTPC_ML_HTTP_H
#define SIM_HTTPC_ML_HTTP_H

#include <stddef.h>

/* ------------------------------------------------------------------------- */
/* A small HTTP/1.1 client (ml_http.c): Basic auth, Content-Length    */
/* ------------------------------------------------------------------------- */

struct ml_http_resp {
    int status; /**< 0: no answer */
    char *body; /**< NUL-terminated (malloc'ed), NULL when none */
    size_t len;
};

/** One request (Connection: close). @return 0, or -1 with @p err set (no answer). */
int ml_http_request(const char *host, int port, const char *user, const char *password,
                    const char *method, const char *path, const char *body, double timeout_s,
                    struct ml_http_resp *resp, char *err, size_t errcap);
/**
 * The same over HTTPS when @p ca_file is set (NULL or "": plain HTTP): TLS 1.2+,
 * trusting only the certificate(s) in @p ca_file (the device's own), the name or
 * address @p host checked against it. A failed handshake is -1 with @p err set.
 */
int ml_http_request_tls(const char *ca_file, const char *host, int port, const char *user,
                        const char *password, const char *method, const char *path,
                        const char *body, double timeout_s, struct ml_http_resp *resp, char *err,
                        size_t errcap);
void ml_http_resp_free(struct ml_http_resp *r);

#endif /* SIM_HTTPC_ML_HTTP_H */

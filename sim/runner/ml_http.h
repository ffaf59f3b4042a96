/**
 * @file ml_http.h
 * @brief The runner's HTTP/1.1 client (library ml_runner, host only): one request
 * per connection, Basic auth, a Content-Length body. HTTP steps and checks, the
 * real-time DUTs' status reads and the device-settings check use it.
 */
#ifndef SIM_RUNNER_ML_HTTP_H
#define SIM_RUNNER_ML_HTTP_H

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
void ml_http_resp_free(struct ml_http_resp *r);

#endif /* SIM_RUNNER_ML_HTTP_H */

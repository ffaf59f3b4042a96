/*
 * A small HTTP/1.1 client for the scenario runner: one request per connection
 * (Connection: close), Basic authentication, a Content-Length body. Enough for
 * the device API (docs/http-api.md) without a libcurl dependency.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ml_http.h"

static void b64(const char *in, char *out, size_t cap)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n) {
            v |= (unsigned char)in[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= (unsigned char)in[i + 2];
        }
        out[k++] = t[(v >> 18) & 63];
        out[k++] = t[(v >> 12) & 63];
        out[k++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[k++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[k] = 0;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(const char *host, int port, double deadline, char *err, size_t cap)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc != 0) {
        snprintf(err, cap, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            break;
        }
        if (errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int ms = (int)((deadline - mono()) * 1000);
            int e = 0;
            socklen_t el = sizeof e;
            if (ms > 0 && poll(&p, 1, ms) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0) {
                break;
            }
            errno = e ? e : ETIMEDOUT;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, cap, "cannot connect to %s:%d: %s", host, port, strerror(errno));
    }
    return fd;
}

/* One connection, plain or TLS; every wait bounded by the deadline. */
struct conn {
    int fd;
    SSL *ssl;
    SSL_CTX *ctx;
    double deadline;
};

/* Wait until @p fd is ready for @p ev (POLLIN/POLLOUT) or the deadline. */
static bool wait_fd(const struct conn *c, short ev)
{
    int ms = (int)((c->deadline - mono()) * 1000);
    struct pollfd p = {c->fd, ev, 0};
    return ms > 0 && poll(&p, 1, ms) == 1;
}

/* TLS over c->fd, trusting only @p ca_file and checking the server's name (or
 * address) @p host against its certificate. */
static int tls_start(struct conn *c, const char *ca_file, const char *host, char *err, size_t cap)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL || SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1) {
        snprintf(err, cap, "https: cannot load the device certificate %s", ca_file);
        return -1;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_set1_host(c->ssl, host) != 1) {
        snprintf(err, cap, "https: cannot set up TLS to %s", host);
        return -1;
    }
    SSL_set_tlsext_host_name(c->ssl, host);
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1) {
            return 0;
        }
        int e = SSL_get_error(c->ssl, r);
        if ((e == SSL_ERROR_WANT_READ && wait_fd(c, POLLIN)) ||
            (e == SSL_ERROR_WANT_WRITE && wait_fd(c, POLLOUT))) {
            continue;
        }
        long v = SSL_get_verify_result(c->ssl);
        snprintf(err, cap, "https: TLS handshake with %s failed%s%s", host,
                 v != X509_V_OK ? ": " : "",
                 v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
        return -1;
    }
}

/* Send all of @p buf. */
static bool conn_send(struct conn *c, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (c->ssl != NULL) {
            ERR_clear_error();
            int w = SSL_write(c->ssl, buf + off, (int)(len - off));
            if (w > 0) {
                off += (size_t)w;
                continue;
            }
            int e = SSL_get_error(c->ssl, w);
            if ((e == SSL_ERROR_WANT_WRITE && wait_fd(c, POLLOUT)) ||
                (e == SSL_ERROR_WANT_READ && wait_fd(c, POLLIN))) {
                continue;
            }
            return false;
        }
        ssize_t w = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (!(w < 0 && errno == EAGAIN && wait_fd(c, POLLOUT))) {
            return false;
        }
    }
    return true;
}

/* Receive up to @p cap bytes: > 0 bytes, 0 the end (closed, error, deadline). */
static ssize_t conn_recv(struct conn *c, char *buf, size_t cap)
{
    for (;;) {
        if (c->ssl != NULL) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, buf, (int)cap);
            if (r > 0) {
                return r;
            }
            int e = SSL_get_error(c->ssl, r);
            if ((e == SSL_ERROR_WANT_READ && wait_fd(c, POLLIN)) ||
                (e == SSL_ERROR_WANT_WRITE && wait_fd(c, POLLOUT))) {
                continue;
            }
            return 0;
        }
        if (!wait_fd(c, POLLIN)) {
            return 0;
        }
        ssize_t r = recv(c->fd, buf, cap, 0);
        return r > 0 ? r : 0;
    }
}

static void conn_close(struct conn *c)
{
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0) {
        close(c->fd);
    }
}

int ml_http_request(const char *host, int port, const char *user, const char *password,
                    const char *method, const char *path, const char *body, double timeout_s,
                    struct ml_http_resp *resp, char *err, size_t errcap)
{
    return ml_http_request_tls(NULL, host, port, user, password, method, path, body, timeout_s,
                               resp, err, errcap);
}

int ml_http_request_tls(const char *ca_file, const char *host, int port, const char *user,
                        const char *password, const char *method, const char *path,
                        const char *body, double timeout_s, struct ml_http_resp *resp, char *err,
                        size_t errcap)
{
    memset(resp, 0, sizeof *resp);
    double deadline = mono() + (timeout_s > 0 ? timeout_s : 5);
    int fd = connect_to(host, port, deadline, err, errcap);
    if (fd < 0) {
        return -1;
    }
    struct conn cn = {.fd = fd, .deadline = deadline};
    if (ca_file != NULL && ca_file[0] != '\0' && tls_start(&cn, ca_file, host, err, errcap) < 0) {
        conn_close(&cn);
        return -1;
    }
    char cred[160], auth[256] = "";
    if (user != NULL) {
        snprintf(cred, sizeof cred, "%s:%s", user, password ? password : "");
        char enc[230];
        b64(cred, enc, sizeof enc);
        snprintf(auth, sizeof auth, "Authorization: Basic %s\r\n", enc);
    }
    size_t blen = body ? strlen(body) : 0;
    char *req = NULL;
    int rlen = asprintf(&req,
                        "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%sConnection: close\r\n%s"
                        "Content-Length: %zu\r\n\r\n%s",
                        method, path, host, port, auth,
                        /* the device wants the type on every state change, body or not */
                        strcmp(method, "GET") != 0 ? "Content-Type: application/json\r\n" : "",
                        blen, body ? body : "");
    if (rlen < 0) {
        conn_close(&cn);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    (void)conn_send(&cn, req, (size_t)rlen); /* a short send shows as no answer */
    free(req);
    /* read until the peer closes or Content-Length is complete */
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    enum { CLOSE_WAIT_S = 1 };
    long want = -1;
    size_t hdr_end = 0;
    for (;;) {
        if (hdr_end && want >= 0 && n >= hdr_end + (size_t)want) {
            /* Complete. We asked for "Connection: close": let the server close first
             * (at most CLOSE_WAIT_S). Closing ourselves races the server's own close on
             * an ESP-AT device: the module frees the link id at our close, gives it to
             * our next connection, and the firmware's AT+CIPCLOSE for the old one, already
             * on the wire, closes the new one (seen: every second status check of a
             * scenario on --dut qemu got 0 bytes). */
            double until = mono() + CLOSE_WAIT_S;
            char drain[256];
            struct pollfd p = {fd, POLLIN, 0};
            int ms;
            while ((ms = (int)((until - mono()) * 1000)) > 0 && poll(&p, 1, ms) == 1 &&
                   recv(fd, drain, sizeof drain, 0) > 0) {
            }
            break;
        }
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = conn_recv(&cn, buf + n, cap - n);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        buf[n] = 0;
        if (!hdr_end) {
            char *e = strstr(buf, "\r\n\r\n");
            if (e) {
                hdr_end = (size_t)(e - buf) + 4;
                for (char *l = buf; l && l < e;
                     l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL) {
                    if (!strncasecmp(l, "Content-Length:", 15)) {
                        want = atol(l + 15);
                    }
                }
            }
        }
    }
    conn_close(&cn);
    buf[n] = 0;
    int st = 0;
    if (n < 12 || sscanf(buf, "HTTP/1.%*d %d", &st) != 1) {
        snprintf(err, errcap, "no HTTP answer from %s:%d within %.1f s (%zu bytes)", host, port,
                 timeout_s, n);
        free(buf);
        return -1;
    }
    resp->status = st;
    if (hdr_end) {
        resp->len = n - hdr_end;
        resp->body = strndup(buf + hdr_end, resp->len);
    }
    free(buf);
    return 0;
}

void ml_http_resp_free(struct ml_http_resp *r)
{
    free(r->body);
    r->body = NULL;
}

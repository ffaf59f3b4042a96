/*
 * A small HTTP/1.1 client for the scenario runner: one request per connection
 * (Connection: close), Basic authentication, a Content-Length body. Enough for
 * the device API (docs/http-api.md) without a libcurl dependency.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
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

int ml_http_request(const char *host, int port, const char *user, const char *password,
                    const char *method, const char *path, const char *body, double timeout_s,
                    struct ml_http_resp *resp, char *err, size_t errcap)
{
    memset(resp, 0, sizeof *resp);
    double deadline = mono() + (timeout_s > 0 ? timeout_s : 5);
    int fd = connect_to(host, port, deadline, err, errcap);
    if (fd < 0) {
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
        close(fd);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    size_t off = 0;
    while (off < (size_t)rlen) {
        ssize_t w = send(fd, req + off, (size_t)rlen - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {fd, POLLOUT, 0};
            int ms = (int)((deadline - mono()) * 1000);
            if (ms > 0 && poll(&p, 1, ms) == 1) {
                continue;
            }
        }
        break;
    }
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
        int ms = (int)((deadline - mono()) * 1000);
        struct pollfd p = {fd, POLLIN, 0};
        if (ms <= 0 || poll(&p, 1, ms) != 1) {
            break;
        }
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = recv(fd, buf + n, cap - n, 0);
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
    close(fd);
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

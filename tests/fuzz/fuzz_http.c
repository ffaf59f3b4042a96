/*
 * libFuzzer target for core/http. The input is a byte stream on one
 * connection, fed in chunk sizes drawn from its first byte; output is drained
 * in partial sends. Invariants:
 *  - http_server_input() never fails on valid arguments, never consumes more
 *    than offered, and makes progress unless a response waits or it closed;
 *  - every response starts with "HTTP/1.1 " and a 3-digit status, and its
 *    Content-Length matches the bytes that follow the head;
 *  - after a close the server consumes nothing more;
 *  - the auth state never exceeds HTTP_AUTH_MAX_FAILS.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http/http.h"

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void h_ok(void *ctx, const struct http_request *rq, struct http_response *rs)
{
    (void)ctx;
    check(rq->body_len <= HTTP_MAX_BODY);
    check(rq->path.len > 0 && rq->path.ptr[0] == '/');
    rs->body_len = 0;
}

static int h_stream(void *ctx, const struct http_request *rq, const uint8_t *c, size_t len,
                    struct http_response *rs)
{
    (void)ctx;
    (void)rq;
    if (len > 0 && c[0] == '!') {
        http_response_error(rs, 400, "bang", "x");
        return ML_EINVAL;
    }
    return 0;
}

static const struct http_route routes[] = {
    {"/", HTTP_M(HTTP_GET), h_ok, NULL, 0, NULL},
    {"/api/v1/config", HTTP_M(HTTP_GET) | HTTP_M(HTTP_PATCH), h_ok, NULL, 0, NULL},
    {"/api/v1/firmware", HTTP_M(HTTP_GET) | HTTP_M(HTTP_POST), h_ok, h_stream, 1u << 20,
     "application/octet-stream"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Check one complete response in buf[0..n) (possibly several back to back). */
static void check_responses(const uint8_t *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        check(n - off >= 12 && memcmp(buf + off, "HTTP/1.1 ", 9) == 0);
        const uint8_t *end = NULL;
        for (size_t i = off; i + 3 < n; i++) {
            if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
                end = buf + i + 4;
                break;
            }
        }
        check(end != NULL);
        const char *cl = strstr((const char *)buf + off, "Content-Length: ");
        check(cl != NULL && (const uint8_t *)cl < end);
        size_t len = (size_t)strtoul(cl + 16, NULL, 10);
        size_t body_at = (size_t)(end - buf);
        /* A HEAD answer carries the Content-Length of the GET but no body: the
         * next response (or the end) is either after the body or right here. */
        bool after_body = body_at + len == n || (body_at + len + 9 <= n &&
                                                 memcmp(buf + body_at + len, "HTTP/1.1 ", 9) == 0);
        bool no_body =
            body_at == n || (body_at + 9 <= n && memcmp(buf + body_at, "HTTP/1.1 ", 9) == 0);
        check(after_body || no_body);
        if (!after_body) {
            len = 0;
        }
        off = body_at + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_server srv;
    static uint8_t out[1 << 16];
    static const struct http_server_cfg cfg = {routes, 3,    "r",  "user", "simlabel", NULL,
                                               NULL,   NULL, NULL, NULL,   NULL};
    struct http_auth auth;
    static struct http_work work;
    if (size < 1) {
        return 0;
    }
    size_t chunk = (size_t)(data[0] % 64u) + 1u;
    data++;
    size--;
    http_auth_init(&auth);
    http_work_init(&work);
    http_server_init(&srv, &cfg, &auth, &work);
    size_t off = 0;
    size_t out_len = 0;
    uint64_t now = 0;
    while (off < size && !http_server_wants_close(&srv)) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t used = 0;
        check(http_server_input(&srv, now, data + off, n, &used) == 0);
        check(used <= n);
        off += used;
        http_server_poll(&srv, now); /* deadlines: 408 after 5 s of a request */
        const uint8_t *p;
        size_t k;
        bool sent = false;
        while ((k = http_server_output(&srv, &p)) > 0) {
            size_t take = k > 3 ? k / 2 : k;
            if (out_len + take <= sizeof out) {
                memcpy(out + out_len, p, take);
                out_len += take;
            }
            http_server_sent(&srv, take);
            sent = true;
        }
        check(used > 0 || sent || http_server_wants_close(&srv));
        check(auth.peers[0].fails < HTTP_AUTH_MAX_FAILS);
        now += 1000;
    }
    if (http_server_wants_close(&srv)) {
        size_t used = 1;
        uint8_t b = 'G';
        check(http_server_input(&srv, now, &b, 1, &used) == 0 && used == 0);
    }
    if (out_len < sizeof out) {
        check_responses(out, out_len);
    }
    return 0;
}

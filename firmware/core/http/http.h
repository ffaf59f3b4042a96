/**
 * @file http.h
 * @brief A small HTTP/1.1 server core: request parser, Basic authentication
 *        with back-off, routing, responses with JSON error bodies.
 *
 * Pure: no sockets. The app owns one struct http_server per served connection
 * (the Smart Connect serves one connection at a time, see docs/config.md
 * "session"), passes received bytes to http_server_input() and sends what
 * http_server_output() hands out. Everything is bounded at compile time:
 *
 * - request line + headers: HTTP_MAX_HEAD bytes (more: 431, or 414 when the
 *   request line alone does not fit), at most HTTP_MAX_HEADERS header lines;
 * - buffered bodies: at most the route's max_body (<= HTTP_MAX_BODY), else 413;
 *   streamed routes (firmware upload) get the body in chunks as it arrives;
 * - Transfer-Encoding (chunked) is not supported: 501; no Content-Length means
 *   an empty body (RFC 9112 §6.3); malformed syntax: 400; HTTP/2+ or 0.9: 505;
 * - unknown path: 404; known path, other method: 405 with Allow.
 *
 * Authentication (when cfg->password is set): Basic, user cfg->user, compared
 * in constant time. After HTTP_AUTH_MAX_FAILS consecutive failures every
 * request is answered 429 (Retry-After) for HTTP_AUTH_LOCKOUT_MS, correct
 * credentials included; a success resets the count. The auth state lives in
 * struct http_auth, owned by the app and shared by every connection.
 *
 * An early answer (401, 404, 405, 413, 429, a refused stream) to a request
 * whose body has not been read is held until the rest of the body (at most
 * HTTP_DISCARD_MAX bytes) was read and dropped, so the client receives it
 * instead of a reset; with more than that left it is sent at once and the
 * connection closed. Syntax errors (400, 414, 431, 501, 505) always close.
 *
 * Context: the app loop. No heap, no libc, no statics.
 */
#ifndef FIRMWARE_CORE_HTTP_HTTP_H
#define FIRMWARE_CORE_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span.h"

#define HTTP_MAX_HEAD        2048u          /**< request line + headers */
#define HTTP_MAX_HEADERS     32u            /**< header lines */
#define HTTP_MAX_BODY        4096u          /**< largest buffered body */
#define HTTP_RESP_BUF        2048u          /**< dynamic response bodies */
#define HTTP_RESP_HEAD       512u           /**< status line + headers we send */
#define HTTP_DISCARD_MAX     (512u * 1024u) /**< unread body skipped before an early answer */
#define HTTP_AUTH_MAX_FAILS  5u             /**< consecutive failures before the lockout */
#define HTTP_AUTH_LOCKOUT_MS 30000u         /**< lockout length */

enum http_method {
    HTTP_GET = 0,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_METHOD_OTHER,
};

/** Method bit for route masks. */
#define HTTP_M(m) (1u << (unsigned)(m))

/** A parsed request. Spans point into the server's head buffer; valid until the next request. */
struct http_request {
    enum http_method method;
    struct ml_span target; /**< path?query as sent */
    struct ml_span path;
    struct ml_span query; /**< without '?' (len 0 when none) */
    struct ml_span authorization;
    struct ml_span content_type;
    bool has_length;
    uint32_t content_length;
    bool keep_alive;
    const uint8_t *body; /**< buffered body (NULL for streamed routes) */
    size_t body_len;
};

/** What a handler fills in. */
struct http_response {
    uint16_t status;
    const char *content_type; /**< default "application/json" */
    const char *extra_header; /**< one full line incl. CRLF, or NULL */
    /** Body: either external bytes (valid until sent) or the buffer below. */
    const uint8_t *body;
    size_t body_len;
    bool close; /**< close the connection after sending */
    char buf[HTTP_RESP_BUF];
};

/** Per-request handler: fill @p rs (status 200 and an empty JSON body are preset). */
typedef void (*http_handler_fn)(void *ctx, const struct http_request *rq, struct http_response *rs);

/**
 * Streamed body: called with each chunk as it arrives (@p len > 0), then once
 * with @p len == 0 when the whole Content-Length arrived. Return < 0 to abort:
 * the handler's response (filled in @p rs) is sent at once and the connection
 * closed.
 */
typedef int (*http_stream_fn)(void *ctx, const struct http_request *rq, const uint8_t *chunk,
                              size_t len, struct http_response *rs);

struct http_route {
    const char *path;        /**< exact path, e.g. "/api/v1/config" */
    uint32_t methods;        /**< HTTP_M(HTTP_GET) | ... */
    http_handler_fn handler; /**< called with the complete request */
    http_stream_fn stream;   /**< non-NULL: body streamed (methods with a body) */
    uint32_t max_body;       /**< largest Content-Length accepted (0: HTTP_MAX_BODY) */
};

struct http_auth {
    uint8_t fails;
    uint64_t lockout_until_ms;
    uint32_t total_fails; /**< statistics */
    uint32_t lockouts;
};

struct http_server_cfg {
    const struct http_route *routes;
    size_t n_routes;
    const char *realm;    /**< WWW-Authenticate realm */
    const char *user;     /**< NULL: no authentication */
    const char *password; /**< NUL-terminated */
    void *ctx;            /**< passed to handlers */
};

enum http_conn_state {
    HTTP_ST_HEAD = 0, /**< reading request line + headers */
    HTTP_ST_BODY,     /**< reading a buffered body */
    HTTP_ST_STREAM,   /**< passing a body to a stream handler */
    HTTP_ST_DISCARD,  /**< dropping the rest of a body before an early answer */
    HTTP_ST_SEND,     /**< a response is waiting to be sent */
    HTTP_ST_CLOSED,   /**< done: the app closes the connection */
};

struct http_stats {
    uint32_t requests;
    uint32_t errors_4xx;
    uint32_t errors_5xx;
};

struct http_server {
    const struct http_server_cfg *cfg;
    struct http_auth *auth;
    enum http_conn_state state;
    const struct http_route *route;
    struct http_request rq;
    uint8_t head[HTTP_MAX_HEAD];
    size_t head_len;
    size_t line_start;
    uint8_t body[HTTP_MAX_BODY];
    uint32_t body_got;
    uint32_t discard_left;
    struct http_response rs;
    char out_head[HTTP_RESP_HEAD];
    size_t out_head_len;
    size_t out_sent; /**< bytes of head + body sent */
    bool close_after;
    struct http_stats stats;
};

/** Reset @p a (no failures, no lockout). */
void http_auth_init(struct http_auth *a);

/** True while the lockout is active at @p now_ms. */
bool http_auth_is_locked(const struct http_auth *a, uint64_t now_ms);

/**
 * Check an Authorization header value ("Basic base64(user:password)") against
 * @p user / @p password in constant time (independent of where they differ).
 */
bool http_basic_auth_matches(struct ml_span header, const char *user, const char *password);

/** Bind @p s to @p cfg and @p auth (both must outlive it) and start a new connection. */
void http_server_init(struct http_server *s, const struct http_server_cfg *cfg,
                      struct http_auth *auth);

/** Start over for a new connection (keeps cfg, auth and stats). */
void http_server_reset(struct http_server *s);

/**
 * Consume received bytes. Stops consuming while a response waits to be sent.
 * @param used out: bytes consumed (the rest must be offered again later)
 * @retval 0 ok  @retval ML_EFAULT NULL argument
 */
int http_server_input(struct http_server *s, uint64_t now_ms, const uint8_t *data, size_t len,
                      size_t *used);

/**
 * The next bytes to send: head first, then body. @return bytes available at
 * *@p out (0 when nothing is waiting).
 */
size_t http_server_output(const struct http_server *s, const uint8_t **out);

/** @p n bytes of what http_server_output() returned were sent. */
void http_server_sent(struct http_server *s, size_t n);

/** True when the connection must be closed (after an error, Connection: close, ...). */
bool http_server_wants_close(const struct http_server *s);

/** True between requests: nothing buffered, nothing to send (keep-alive idle). */
bool http_server_is_idle(const struct http_server *s);

/** True while a response references @p p as its external body. */
bool http_server_body_in_use(const struct http_server *s, const void *p);

/**
 * Fill @p rs with a JSON error {"error": @p msg, "field": @p field} (field
 * omitted when NULL or "") and @p status.
 */
void http_response_error(struct http_response *rs, uint16_t status, const char *msg,
                         const char *field);

/** Reason phrase of @p status ("OK", "Not Found", ...). */
const char *http_status_text(uint16_t status);

#endif /* FIRMWARE_CORE_HTTP_HTTP_H */

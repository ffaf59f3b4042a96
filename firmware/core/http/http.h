/**
 * @file http.h
 * @brief A small HTTP/1.1 server core: request parser, Basic authentication
 *        with back-off, routing, responses with JSON error bodies.
 *
 * Pure: no sockets. The app owns one struct http_server per open connection
 * and one struct http_work shared by all of them, passes received bytes to
 * http_server_input(), calls http_server_poll() for the deadlines and sends
 * what http_server_output() hands out. Everything is bounded at compile time:
 *
 * - request line + headers: HTTP_MAX_HEAD bytes (more: 431, or 414 when the
 *   request line alone does not fit), at most HTTP_MAX_HEADERS header lines;
 * - buffered bodies: at most the route's max_body (<= HTTP_MAX_BODY), else 413;
 *   streamed routes (firmware upload) get the body in chunks as it arrives;
 * - Transfer-Encoding (chunked) is not supported: 501; no Content-Length means
 *   an empty body (RFC 9112 §6.3); malformed syntax: 400; HTTP/2+ or 0.9: 505;
 * - unknown path: 404 (or cfg->fallback's answer); known path, other method:
 *   405 with Allow.
 *
 * Authentication (when cfg->password is set): Basic, user cfg->user, compared
 * in constant time. Failures count per client address (http_server_set_peer(),
 * HTTP_AUTH_PEERS addresses tracked): after HTTP_AUTH_MAX_FAILS consecutive
 * failures from one address every request from that address is answered 429
 * (Retry-After) for HTTP_AUTH_LOCKOUT_MS, correct credentials included; a
 * success from it resets its count. Other addresses are not affected. The auth
 * state lives in struct http_auth, owned by the app and shared by every
 * connection. After a successful login cfg->admit (when set) may refuse the
 * request with its own status (the Smart Connect: 409, another user's session).
 *
 * Cross-site requests (docs/security.md): a request with a method other than
 * GET, HEAD and OPTIONS must carry Content-Type route->body_type (NULL:
 * application/json; parameters after ';' ignored), else 415; when it carries
 * an Origin, that must be cfg->origin_scheme ("http://" when NULL) + its
 * Host, and a Referer (without Origin) must start with that + "/", else 403. A GET or HEAD never
 * reaches a stream handler: a body sent with it is read and dropped.
 *
 * Deadlines (http_server_poll()): a request's head and body must arrive within
 * HTTP_REQ_TIMEOUT_MS of its first byte (a streamed body: no gap of that
 * length), else 408 and close; a connection idle between requests, or whose
 * answer the client does not take, for HTTP_IDLE_TIMEOUT_MS is closed.
 *
 * Shared work area: the buffered body and the response live in struct
 * http_work, which one connection holds from the end of a request head until
 * its answer is sent. A connection whose head is complete while another holds
 * it waits (consumes nothing more); its deadline keeps running (then 503 and
 * close). Answers to
 * unauthenticated requests that still have a body to come close the
 * connection instead of waiting for that body, so no unauthenticated client
 * holds the work area longer than it takes to send a short error.
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
#define HTTP_AUTH_PEERS      8u             /**< client addresses whose failures are tracked */
#define HTTP_REQ_TIMEOUT_MS  5000u          /**< head + body after the first byte */
#define HTTP_IDLE_TIMEOUT_MS 30000u         /**< idle keep-alive / answer not taken */

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
    struct ml_span host;
    struct ml_span origin;  /**< len 0: none sent */
    struct ml_span referer; /**< len 0: none sent */
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
    const char *body_type;   /**< Content-Type of state changes (NULL: application/json) */
};

struct http_auth_peer {
    uint32_t peer; /**< client address */
    bool used;
    uint8_t fails;
    uint64_t lockout_until_ms;
    uint64_t last_fail_ms;
};

struct http_auth {
    struct http_auth_peer peers[HTTP_AUTH_PEERS];
    uint32_t total_fails; /**< statistics */
    uint32_t lockouts;
};

/**
 * Called after a successful login (may be NULL): @return 0 to go on, or a
 * status (>= 400) to answer with @p msg instead. @p peer: client address.
 */
typedef uint16_t (*http_admit_fn)(void *ctx, uint32_t peer, uint64_t now_ms, const char **msg);

struct http_server_cfg {
    const struct http_route *routes;
    size_t n_routes;
    const char *realm;    /**< WWW-Authenticate realm */
    const char *user;     /**< NULL: no authentication */
    const char *password; /**< NUL-terminated */
    void *ctx;            /**< passed to handlers */
    http_admit_fn admit;  /**< NULL: every logged-in request is admitted */
    /** Scheme of the device's own origin in the Origin / Referer check ("https://" on
     *  the TLS port); NULL: "http://". */
    const char *origin_scheme;
    /** Called for a path no route names (any method, after the login when there is
     *  one), answered like an early error; NULL: 404. */
    http_handler_fn fallback;
    /** The Host header (port included as sent) names this server: false answers
     *  421 before the login is looked at (no password asked for under a foreign
     *  name: DNS rebinding). NULL: any Host. */
    bool (*host_ok)(void *ctx, struct ml_span host);
    /** One header line (with CRLF) added to every answer (the TLS server:
     *  Strict-Transport-Security), or NULL. */
    const char *always_header;
};

enum http_conn_state {
    HTTP_ST_HEAD = 0, /**< reading request line + headers */
    HTTP_ST_BODY,     /**< reading a buffered body */
    HTTP_ST_STREAM,   /**< passing a body to a stream handler */
    HTTP_ST_DISCARD,  /**< dropping the rest of a body before an early answer */
    HTTP_ST_WAIT,     /**< head complete, waiting for the shared work area */
    HTTP_ST_SEND,     /**< a response is waiting to be sent */
    HTTP_ST_CLOSED,   /**< done: the app closes the connection */
};

struct http_stats {
    uint32_t requests;
    uint32_t errors_4xx;
    uint32_t errors_5xx;
};

/** The buffered body and the response: one per app, shared by its connections. */
struct http_work {
    const void *owner; /**< the struct http_server holding it, NULL: free */
    uint8_t body[HTTP_MAX_BODY];
    struct http_response rs;
};

struct http_server {
    const struct http_server_cfg *cfg;
    struct http_auth *auth;
    struct http_work *work;
    struct http_response *rs; /**< &work->rs while held */
    enum http_conn_state state;
    const struct http_route *route;
    struct http_request rq;
    uint8_t head[HTTP_MAX_HEAD];
    size_t head_len;
    size_t line_start;
    uint32_t body_got;
    uint32_t discard_left;
    char out_head[HTTP_RESP_HEAD];
    size_t out_head_len;
    size_t out_sent; /**< bytes of head + body sent */
    size_t out_seen; /**< out_sent at the last poll (progress) */
    bool close_after;
    bool canned;       /**< the answer is all in out_head (no work area) */
    bool started;      /**< the current request's first byte arrived */
    uint32_t peer;     /**< client address (0: unknown) */
    uint32_t answered; /**< answers sent completely on this connection */
    uint64_t req_start_ms;
    uint64_t last_ms; /**< last byte in or out */
    struct http_stats stats;
};

/** Reset @p a (no failures, no lockout). */
void http_auth_init(struct http_auth *a);

/** True while the lockout of client address @p peer is active at @p now_ms. */
bool http_auth_is_locked(const struct http_auth *a, uint32_t peer, uint64_t now_ms);

/**
 * Check an Authorization header value ("Basic base64(user:password)") against
 * @p user / @p password in constant time (independent of where they differ).
 */
bool http_basic_auth_matches(struct ml_span header, const char *user, const char *password);

/** Work area @p w: nobody holds it. */
void http_work_init(struct http_work *w);

/** True while an answer ready or being sent from @p w references @p p as its external body. */
bool http_work_body_in_use(const struct http_work *w, const void *p);

/**
 * Bind @p s to @p cfg, @p auth and @p work (all must outlive it) and start a
 * new connection.
 */
void http_server_init(struct http_server *s, const struct http_server_cfg *cfg,
                      struct http_auth *auth, struct http_work *work);

/**
 * Start over for a new connection at @p now_ms (keeps cfg, auth, work and
 * stats; gives the work area back if it held it; peer 0).
 */
void http_server_reset(struct http_server *s, uint64_t now_ms);

/** The client address of the connection (for the per-address login back-off). */
void http_server_set_peer(struct http_server *s, uint32_t peer);

/**
 * Deadlines and waiting: answers 408 (and closes) a request not complete in
 * time, closes an idle connection, starts a waiting request when the work
 * area is free. Call on every pass of the app loop.
 */
void http_server_poll(struct http_server *s, uint64_t now_ms);

/** When http_server_poll() has something to do next (UINT64_MAX: nothing). */
uint64_t http_server_next_deadline(const struct http_server *s);

/** True when the connection has completed no request and is not in one past its head. */
bool http_server_is_fresh(const struct http_server *s);

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

/**
 * Fill @p rs with a JSON error {"error": @p msg, "field": @p field} (field
 * omitted when NULL or "") and @p status.
 */
void http_response_error(struct http_response *rs, uint16_t status, const char *msg,
                         const char *field);

/** Reason phrase of @p status ("OK", "Not Found", ...). */
const char *http_status_text(uint16_t status);

#endif /* FIRMWARE_CORE_HTTP_HTTP_H */

/*
 * HTTP/1.1 server core (RFC 9112 message syntax, RFC 7617 Basic auth).
 * Bounded buffers, no heap; see http.h for the limits and status codes.
 */
#include "http.h"

#include "err.h"
#include "str.h"
#include "text.h"

/* ------------------------------------------------------------------------- */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------- */

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive equality of a span with a lower-case literal. */
static bool span_ieq(struct ml_span s, const char *lit)
{
    size_t n = ml_str_len(lit);
    if (s.len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower((char)s.ptr[i]) != lit[i]) {
            return false;
        }
    }
    return true;
}

/* True when the comma-separated list @p s holds the token @p tok (case-insensitive). */
static bool list_has_token(struct ml_span s, const char *tok)
{
    size_t i = 0;
    while (i < s.len) {
        while (i < s.len && (s.ptr[i] == ' ' || s.ptr[i] == '\t' || s.ptr[i] == ',')) {
            i++;
        }
        size_t st = i;
        while (i < s.len && s.ptr[i] != ',') {
            i++;
        }
        size_t en = i;
        while (en > st && (s.ptr[en - 1u] == ' ' || s.ptr[en - 1u] == '\t')) {
            en--;
        }
        struct ml_span t = {s.ptr + st, en - st};
        if (span_ieq(t, tok)) {
            return true;
        }
    }
    return false;
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

/* ------------------------------------------------------------------------- */
/* Writer                                                                    */
/* ------------------------------------------------------------------------- */

const char *http_status_text(uint16_t status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 421:
        return "Misdirected Request";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

void http_response_error(struct http_response *rs, uint16_t status, const char *msg,
                         const char *field)
{
    struct ml_text w;
    ml_text_init(&w, rs->buf, sizeof rs->buf);
    ml_text_put(&w, "{\"error\":");
    ml_text_json_str(&w, msg, ml_str_len(msg));
    if (field != 0 && field[0] != '\0') {
        ml_text_put(&w, ",\"field\":");
        ml_text_json_str(&w, field, ml_str_len(field));
    }
    ml_text_put(&w, "}\n");
    rs->status = status;
    rs->content_type = "application/json";
    rs->body = (const uint8_t *)rs->buf;
    rs->body_len = w.len;
}

/* ------------------------------------------------------------------------- */
/* Basic authentication                                                      */
/* ------------------------------------------------------------------------- */

void http_auth_init(struct http_auth *a)
{
    for (size_t i = 0; i < HTTP_AUTH_PEERS; i++) {
        a->peers[i].used = false;
        a->peers[i].peer = 0;
        a->peers[i].fails = 0;
        a->peers[i].lockout_until_ms = 0;
        a->peers[i].last_fail_ms = 0;
    }
    a->total_fails = 0;
    a->lockouts = 0;
}

static struct http_auth_peer *auth_find(struct http_auth *a, uint32_t peer)
{
    for (size_t i = 0; i < HTTP_AUTH_PEERS; i++) {
        if (a->peers[i].used && a->peers[i].peer == peer) {
            return &a->peers[i];
        }
    }
    return 0;
}

bool http_auth_is_locked(const struct http_auth *a, uint32_t peer, uint64_t now_ms)
{
    for (size_t i = 0; i < HTTP_AUTH_PEERS; i++) {
        const struct http_auth_peer *e = &a->peers[i];
        if (e->used && e->peer == peer) {
            return now_ms < e->lockout_until_ms;
        }
    }
    return false;
}

/* A failed login from @p peer: its entry (a free one, else the one whose last
 * failure is oldest, preferring one not locked out) counts it. */
static void auth_fail(struct http_auth *a, uint32_t peer, uint64_t now_ms)
{
    a->total_fails++;
    struct http_auth_peer *e = auth_find(a, peer);
    if (e == 0) {
        for (size_t i = 0; i < HTTP_AUTH_PEERS; i++) {
            struct http_auth_peer *c = &a->peers[i];
            if (!c->used) {
                e = c;
                break;
            }
            bool c_locked = now_ms < c->lockout_until_ms;
            bool e_locked = e != 0 && now_ms < e->lockout_until_ms;
            if (e == 0 || (e_locked && !c_locked) ||
                (e_locked == c_locked && c->last_fail_ms < e->last_fail_ms)) {
                e = c;
            }
        }
        e->used = true;
        e->peer = peer;
        e->fails = 0;
        e->lockout_until_ms = 0;
    }
    e->last_fail_ms = now_ms;
    if (++e->fails >= HTTP_AUTH_MAX_FAILS) {
        e->fails = 0;
        a->lockouts++;
        e->lockout_until_ms = now_ms + HTTP_AUTH_LOCKOUT_MS;
    }
}

static void auth_ok(struct http_auth *a, uint32_t peer)
{
    struct http_auth_peer *e = auth_find(a, peer);
    if (e != 0) {
        e->used = false;
        e->fails = 0;
        e->lockout_until_ms = 0;
    }
}

static int b64_val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/* Decode standard base64 (padding optional). @return bytes, or -1. */
static int b64_decode(struct ml_span in, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    size_t i = 0;
    for (; i < in.len && in.ptr[i] != '='; i++) {
        int v = b64_val(in.ptr[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6u;
        if (bits >= 8u) {
            bits -= 8u;
            if (n >= cap) {
                return -1;
            }
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    for (; i < in.len; i++) {
        if (in.ptr[i] != '=') {
            return -1;
        }
    }
    return (int)n;
}

bool http_basic_auth_matches(struct ml_span header, const char *user, const char *password)
{
    /* "Basic" 1*SP token68 (RFC 7617 §2); the scheme is case-insensitive */
    if (header.len < 6u || !span_ieq((struct ml_span){header.ptr, 5}, "basic") ||
        header.ptr[5] != ' ') {
        return false;
    }
    size_t i = 5;
    while (i < header.len && header.ptr[i] == ' ') {
        i++;
    }
    uint8_t dec[128];
    int n = b64_decode((struct ml_span){header.ptr + i, header.len - i}, dec, sizeof dec);
    if (n < 0) {
        return false;
    }
    /* Build "user:password" and compare every byte of the longer of the two, so
     * the time does not depend on where (or whether) they differ. */
    size_t ul = ml_str_len(user);
    size_t pl = ml_str_len(password);
    size_t el = ul + 1u + pl;
    size_t len = (size_t)n;
    uint8_t diff = (uint8_t)(len != el);
    size_t m = len > el ? len : el;
    for (size_t k = 0; k < m; k++) {
        uint8_t want = 0;
        if (k < ul) {
            want = (uint8_t)user[k];
        } else if (k == ul) {
            want = ':';
        } else if (k < el) {
            want = (uint8_t)password[k - ul - 1u];
        }
        uint8_t got = k < len ? dec[k] : 0u;
        diff |= (uint8_t)(want ^ got);
    }
    return diff == 0u;
}

/* ------------------------------------------------------------------------- */
/* Connection state                                                          */
/* ------------------------------------------------------------------------- */

void http_work_init(struct http_work *w)
{
    w->owner = 0;
    w->rs.body = 0;
    w->rs.body_len = 0;
}

bool http_work_body_in_use(const struct http_work *w, const void *p)
{
    const struct http_server *o = w->owner;
    /* DISCARD: the answer is ready and goes out once the body was dropped */
    return o != 0 && (o->state == HTTP_ST_SEND || o->state == HTTP_ST_DISCARD) && !o->canned &&
           (const void *)w->rs.body == p;
}

static bool work_acquire(struct http_server *s)
{
    if (s->work->owner != 0 && s->work->owner != s) {
        return false;
    }
    s->work->owner = s;
    s->rs = &s->work->rs;
    return true;
}

static void work_release(struct http_server *s)
{
    if (s->work->owner == s) {
        s->work->owner = 0;
    }
}

/* Ready for the next request on this connection: everything of the last one goes
 * (the connection's peer, answer count and clocks stay). */
static void request_clear(struct http_server *s)
{
    s->state = HTTP_ST_HEAD;
    s->route = 0;
    s->head_len = 0;
    s->line_start = 0;
    s->body_got = 0;
    s->discard_left = 0;
    s->out_head_len = 0;
    s->out_sent = 0;
    s->out_seen = 0;
    s->close_after = false;
    s->canned = false;
    s->started = false;
}

void http_server_reset(struct http_server *s, uint64_t now_ms)
{
    work_release(s);
    request_clear(s);
    s->peer = 0;
    s->answered = 0;
    s->req_start_ms = now_ms;
    s->last_ms = now_ms;
    s->rs = &s->work->rs;
}

void http_server_set_peer(struct http_server *s, uint32_t peer)
{
    s->peer = peer;
}

void http_server_init(struct http_server *s, const struct http_server_cfg *cfg,
                      struct http_auth *auth, struct http_work *work)
{
    s->cfg = cfg;
    s->auth = auth;
    s->work = work;
    s->stats.requests = 0;
    s->stats.errors_4xx = 0;
    s->stats.errors_5xx = 0;
    http_server_reset(s, 0);
}

static void response_preset(struct http_response *rs)
{
    rs->status = 200;
    rs->content_type = "application/json";
    rs->extra_header = 0;
    rs->buf[0] = '\0';
    rs->body = (const uint8_t *)rs->buf;
    rs->body_len = 0;
    rs->close = false;
}

static void head_done(struct http_server *s, uint64_t now_ms);

/* Build the status line and headers and switch to sending (work area held). */
static void respond(struct http_server *s, bool close)
{
    struct http_response *rs = s->rs;
    ML_ASSERT(s->work->owner == s);
    if (rs->status >= 500u) {
        s->stats.errors_5xx++;
    } else if (rs->status >= 400u) {
        s->stats.errors_4xx++;
    }
    s->close_after = close || rs->close || !s->rq.keep_alive;
    struct ml_text w;
    ml_text_init(&w, s->out_head, sizeof s->out_head);
    ml_text_put(&w, "HTTP/1.1 ");
    ml_text_u64(&w, rs->status);
    ml_text_put(&w, " ");
    ml_text_put(&w, http_status_text(rs->status));
    ml_text_put(&w, "\r\nContent-Type: ");
    ml_text_put(&w, rs->content_type != 0 ? rs->content_type : "application/json");
    ml_text_put(&w, "\r\nContent-Length: ");
    ml_text_u64(&w, rs->body_len);
    ml_text_put(&w, "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
    if (s->cfg->always_header != 0) {
        ml_text_put(&w, s->cfg->always_header);
    }
    if (rs->status == 401u) {
        ml_text_put(&w, "WWW-Authenticate: Basic realm=\"");
        ml_text_put(&w, s->cfg->realm != 0 ? s->cfg->realm : "device");
        ml_text_put(&w, "\", charset=\"UTF-8\"\r\n");
    }
    if (rs->extra_header != 0) {
        ml_text_put(&w, rs->extra_header);
    }
    ml_text_put(&w,
                s->close_after ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
    ML_ASSERT(!w.overflow); /* our own headers must fit */
    s->out_head_len = w.len;
    s->out_sent = 0;
    s->out_seen = 0;
    s->canned = false;
    if (s->rq.method == HTTP_HEAD) {
        rs->body_len = 0; /* HEAD: the headers of a GET, no body */
    }
    s->state = HTTP_ST_SEND;
}

/* An answer given before @p remaining body bytes were read: drop them first
 * (bounded), so the client reads the answer rather than a reset. */
static void respond_early(struct http_server *s, uint32_t remaining, bool close)
{
    if (remaining == 0u) {
        respond(s, close);
        return;
    }
    if (remaining > HTTP_DISCARD_MAX) {
        respond(s, true);
        return;
    }
    respond(s, close);
    s->discard_left = remaining;
    s->state = HTTP_ST_DISCARD;
}

/* A syntax error: answer and close (the framing cannot be trusted). */
static void respond_error(struct http_server *s, uint16_t status, const char *msg)
{
    response_preset(s->rs);
    http_response_error(s->rs, status, msg, 0);
    respond(s, true);
}

/* An answer that fits out_head entirely (no work area needed), then close. */
static void respond_canned(struct http_server *s, uint16_t status, const char *msg)
{
    char body[96];
    struct ml_text b;
    ml_text_init(&b, body, sizeof body);
    ml_text_put(&b, "{\"error\":");
    ml_text_json_str(&b, msg, ml_str_len(msg));
    ml_text_put(&b, "}\n");
    struct ml_text w;
    ml_text_init(&w, s->out_head, sizeof s->out_head);
    ml_text_put(&w, "HTTP/1.1 ");
    ml_text_u64(&w, status);
    ml_text_put(&w, " ");
    ml_text_put(&w, http_status_text(status));
    ml_text_put(&w, "\r\nContent-Type: application/json\r\nContent-Length: ");
    ml_text_u64(&w, b.len);
    ml_text_put(&w, "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
    ml_text_put_n(&w, body, b.len);
    ML_ASSERT(!w.overflow && !b.overflow);
    if (status >= 500u) {
        s->stats.errors_5xx++;
    } else {
        s->stats.errors_4xx++;
    }
    work_release(s);
    s->out_head_len = w.len;
    s->out_sent = 0;
    s->out_seen = 0;
    s->canned = true;
    s->close_after = true;
    s->discard_left = 0;
    s->state = HTTP_ST_SEND;
}

size_t http_server_output(const struct http_server *s, const uint8_t **out)
{
    if (s->state != HTTP_ST_SEND) {
        *out = 0;
        return 0;
    }
    if (s->out_sent < s->out_head_len) {
        *out = (const uint8_t *)s->out_head + s->out_sent;
        return s->out_head_len - s->out_sent;
    }
    if (s->canned) {
        *out = 0;
        return 0;
    }
    size_t off = s->out_sent - s->out_head_len;
    *out = s->rs->body + off;
    return s->rs->body_len - off;
}

/* The answer is out: close, or get ready for the next request. */
static void answer_done(struct http_server *s)
{
    s->answered++;
    work_release(s);
    if (s->close_after) {
        s->state = HTTP_ST_CLOSED;
        return;
    }
    request_clear(s); /* keep-alive: ready for the next request */
}

void http_server_sent(struct http_server *s, size_t n)
{
    if (s->state != HTTP_ST_SEND) {
        return;
    }
    s->out_sent += n;
    if (s->out_sent >= s->out_head_len + (s->canned ? 0u : s->rs->body_len)) {
        answer_done(s);
    }
}

bool http_server_wants_close(const struct http_server *s)
{
    return s->state == HTTP_ST_CLOSED;
}

bool http_server_is_idle(const struct http_server *s)
{
    return s->state == HTTP_ST_HEAD && s->head_len == 0u && !s->started;
}

bool http_server_is_fresh(const struct http_server *s)
{
    return s->answered == 0u && (s->state == HTTP_ST_HEAD || s->state == HTTP_ST_WAIT);
}

void http_server_poll(struct http_server *s, uint64_t now_ms)
{
    if (s->out_sent != s->out_seen) {
        s->out_seen = s->out_sent;
        s->last_ms = now_ms; /* the client takes the answer */
    }
    switch (s->state) {
    case HTTP_ST_HEAD:
        if (!s->started) {
            if (now_ms - s->last_ms >= HTTP_IDLE_TIMEOUT_MS) {
                s->state = HTTP_ST_CLOSED; /* idle keep-alive: close quietly */
            }
            return;
        }
        /* fall through */
    case HTTP_ST_WAIT:
    case HTTP_ST_BODY:
        if (s->state == HTTP_ST_WAIT && work_acquire(s)) {
            head_done(s, now_ms);
            return;
        }
        if (now_ms - s->req_start_ms >= HTTP_REQ_TIMEOUT_MS) {
            if (s->state == HTTP_ST_WAIT) {
                respond_canned(s, 503, "busy with another request, try again");
            } else {
                respond_canned(s, 408, "request not complete within 5 s");
            }
        }
        return;
    case HTTP_ST_STREAM:
        if (now_ms - s->last_ms >= HTTP_REQ_TIMEOUT_MS) {
            respond_canned(s, 408, "upload stalled for 5 s");
        }
        return;
    case HTTP_ST_DISCARD:
        if (now_ms - s->req_start_ms >= HTTP_REQ_TIMEOUT_MS) {
            s->close_after = true; /* the answer goes out, the rest of the body is not waited for */
            s->state = HTTP_ST_SEND;
        }
        return;
    case HTTP_ST_SEND:
        if (now_ms - s->last_ms >= HTTP_IDLE_TIMEOUT_MS) {
            work_release(s);
            s->state = HTTP_ST_CLOSED; /* the client does not take its answer */
        }
        return;
    case HTTP_ST_CLOSED:
        return;
    }
}

uint64_t http_server_next_deadline(const struct http_server *s)
{
    switch (s->state) {
    case HTTP_ST_HEAD:
        return s->started ? s->req_start_ms + HTTP_REQ_TIMEOUT_MS
                          : s->last_ms + HTTP_IDLE_TIMEOUT_MS;
    case HTTP_ST_WAIT:
        if (s->work->owner == 0) {
            return s->req_start_ms; /* now: the work area is free */
        }
        return s->req_start_ms + HTTP_REQ_TIMEOUT_MS;
    case HTTP_ST_BODY:
    case HTTP_ST_DISCARD:
        return s->req_start_ms + HTTP_REQ_TIMEOUT_MS;
    case HTTP_ST_STREAM:
        return s->last_ms + HTTP_REQ_TIMEOUT_MS;
    case HTTP_ST_SEND:
        return s->last_ms + HTTP_IDLE_TIMEOUT_MS;
    case HTTP_ST_CLOSED:
        return UINT64_MAX;
    }
    return UINT64_MAX;
}

/* ------------------------------------------------------------------------- */
/* Request head parsing                                                      */
/* ------------------------------------------------------------------------- */

static enum http_method method_of(struct ml_span m)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < ML_ARRAY_SIZE(names); i++) {
        if (ml_span_eq_cstr(m, names[i])) {
            return (enum http_method)i;
        }
    }
    return HTTP_METHOD_OTHER;
}

/* Parse the head in s->head[0..head_len). @return 0 or an HTTP status to answer. */
static uint16_t parse_head(struct http_server *s)
{
    struct http_request *rq = &s->rq;
    const uint8_t *h = s->head;
    size_t n = s->head_len;
    size_t i = 0;
    rq->authorization = (struct ml_span){0, 0};
    rq->content_type = (struct ml_span){0, 0};
    rq->host = (struct ml_span){0, 0};
    rq->origin = (struct ml_span){0, 0};
    rq->referer = (struct ml_span){0, 0};
    rq->has_length = false;
    rq->content_length = 0;
    rq->body = 0;
    rq->body_len = 0;

    /* skip empty lines before the request line (RFC 9112 §2.2) */
    while (i < n && (h[i] == '\r' || h[i] == '\n')) {
        i++;
    }
    /* method SP request-target SP HTTP-version CRLF */
    size_t m0 = i;
    while (i < n && is_tchar(h[i])) {
        i++;
    }
    if (i == m0 || i >= n || h[i] != ' ') {
        return 400;
    }
    struct ml_span mtok = {h + m0, i - m0};
    rq->method = method_of(mtok);
    i++;
    size_t t0 = i;
    while (i < n && h[i] > 0x20u && h[i] < 0x7Fu) {
        i++;
    }
    if (i == t0 || i >= n || h[i] != ' ' || h[t0] != '/') {
        return 400; /* origin-form only */
    }
    rq->target = (struct ml_span){h + t0, i - t0};
    size_t q = t0;
    while (q < i && h[q] != '?') {
        q++;
    }
    rq->path = (struct ml_span){h + t0, q - t0};
    rq->query = q < i ? (struct ml_span){h + q + 1u, i - q - 1u} : (struct ml_span){h + i, 0};
    for (size_t k = 0; k < rq->path.len; k++) {
        if (rq->path.ptr[k] == '#') {
            return 400;
        }
    }
    i++;
    size_t v0 = i;
    while (i < n && h[i] != '\r' && h[i] != '\n') {
        i++;
    }
    struct ml_span ver = {h + v0, i - v0};
    bool http11;
    if (ml_span_eq_cstr(ver, "HTTP/1.1")) {
        http11 = true;
    } else if (ml_span_eq_cstr(ver, "HTTP/1.0")) {
        http11 = false;
    } else if (ver.len == 8u && ml_span_starts_with(ver, "HTTP/") && ver.ptr[6] == '.') {
        return 505;
    } else {
        return 400;
    }
    rq->keep_alive = http11;
    if (i < n && h[i] == '\r') {
        i++;
    }
    if (i >= n || h[i] != '\n') {
        return 400;
    }
    i++;

    bool host = false;
    bool te = false;
    unsigned count = 0;
    struct ml_span conn = {0, 0};
    while (i < n) {
        /* one header line, or the empty line that ends the head */
        size_t l0 = i;
        while (i < n && h[i] != '\n') {
            i++;
        }
        size_t l1 = i; /* at '\n' */
        if (i < n) {
            i++;
        }
        if (l1 > l0 && h[l1 - 1u] == '\r') {
            l1--;
        }
        if (l1 == l0) {
            break; /* end of head */
        }
        if (++count > HTTP_MAX_HEADERS) {
            return 431;
        }
        if (h[l0] == ' ' || h[l0] == '\t') {
            return 400; /* obsolete line folding (RFC 9112 §5.2) */
        }
        size_t c = l0;
        while (c < l1 && is_tchar(h[c])) {
            c++;
        }
        if (c == l0 || c >= l1 || h[c] != ':') {
            return 400; /* includes whitespace before the colon (§5.1) */
        }
        struct ml_span name = {h + l0, c - l0};
        size_t v = c + 1u;
        while (v < l1 && (h[v] == ' ' || h[v] == '\t')) {
            v++;
        }
        size_t e = l1;
        while (e > v && (h[e - 1u] == ' ' || h[e - 1u] == '\t')) {
            e--;
        }
        for (size_t k = v; k < e; k++) {
            if ((h[k] < 0x20u && h[k] != '\t') || h[k] == 0x7Fu || h[k] == '\r') {
                return 400;
            }
        }
        struct ml_span val = {h + v, e - v};
        if (span_ieq(name, "content-length")) {
            if (val.len == 0u || val.len > 9u) {
                return val.len > 9u ? 413 : 400;
            }
            uint32_t cl = 0;
            for (size_t k = 0; k < val.len; k++) {
                if (val.ptr[k] < '0' || val.ptr[k] > '9') {
                    return 400;
                }
                cl = cl * 10u + (uint32_t)(val.ptr[k] - '0');
            }
            if (rq->has_length && rq->content_length != cl) {
                return 400; /* conflicting lengths (§6.3) */
            }
            rq->has_length = true;
            rq->content_length = cl;
        } else if (span_ieq(name, "transfer-encoding")) {
            te = true;
        } else if (span_ieq(name, "authorization")) {
            rq->authorization = val;
        } else if (span_ieq(name, "content-type")) {
            rq->content_type = val;
        } else if (span_ieq(name, "connection")) {
            conn = val;
        } else if (span_ieq(name, "host")) {
            host = true;
            rq->host = val;
        } else if (span_ieq(name, "origin")) {
            rq->origin = val;
        } else if (span_ieq(name, "referer")) {
            rq->referer = val;
        }
    }
    if (te) {
        return 501; /* chunked bodies are not supported */
    }
    if (http11 && !host) {
        return 400; /* RFC 9112 §3.2 */
    }
    if (conn.len > 0u) {
        if (list_has_token(conn, "close")) {
            rq->keep_alive = false;
        } else if (list_has_token(conn, "keep-alive")) {
            rq->keep_alive = true;
        }
    }
    /* no Content-Length (and no Transfer-Encoding): the body is empty (RFC 9112 §6.3 rule 7),
     * which is what curl -X POST without data sends */
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Dispatch                                                                  */
/* ------------------------------------------------------------------------- */

static const struct http_route *route_find(const struct http_server *s, struct ml_span path)
{
    for (size_t i = 0; i < s->cfg->n_routes; i++) {
        if (ml_span_eq_cstr(path, s->cfg->routes[i].path)) {
            return &s->cfg->routes[i];
        }
    }
    return 0;
}

static void allow_header(struct http_server *s, uint32_t methods)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    /* kept in out_head's tail until respond() copies it: use the body buffer end instead */
    struct ml_text w;
    char *dst = s->rs->buf + HTTP_RESP_BUF / 2u;
    ml_text_init(&w, dst, HTTP_RESP_BUF / 2u);
    ml_text_put(&w, "Allow: ");
    bool first = true;
    for (size_t i = 0; i < ML_ARRAY_SIZE(names); i++) {
        if ((methods & HTTP_M(i)) != 0u || (i == HTTP_HEAD && (methods & HTTP_M(HTTP_GET)))) {
            if (!first) {
                ml_text_put(&w, ", ");
            }
            ml_text_put(&w, names[i]);
            first = false;
        }
    }
    ml_text_put(&w, "\r\n");
    s->rs->extra_header = dst;
}

/* Content-Type @p ct names media type @p want (case-insensitive, parameters ignored). */
static bool media_type_is(struct ml_span ct, const char *want)
{
    size_t n = 0;
    while (n < ct.len && ct.ptr[n] != ';') {
        n++;
    }
    while (n > 0u && (ct.ptr[n - 1u] == ' ' || ct.ptr[n - 1u] == '\t')) {
        n--;
    }
    return span_ieq((struct ml_span){ct.ptr, n}, want);
}

/* Origin / Referer, when sent, name the origin the request was sent to: @p scheme + Host. */
static bool origin_ok(const struct http_request *rq, const char *scheme)
{
    if (scheme == 0) {
        scheme = "http://";
    }
    const size_t sl = ml_str_len(scheme);
    struct ml_span v = rq->origin.len > 0u ? rq->origin : rq->referer;
    if (v.len == 0u) {
        return true; /* not a browser, or one that sends neither: curl, scripts */
    }
    if (rq->host.len == 0u || v.len < sl + rq->host.len) {
        return false;
    }
    for (size_t i = 0; i < sl; i++) {
        if (lower((char)v.ptr[i]) != scheme[i]) {
            return false;
        }
    }
    for (size_t i = 0; i < rq->host.len; i++) {
        if (lower((char)v.ptr[sl + i]) != lower((char)rq->host.ptr[i])) {
            return false;
        }
    }
    size_t end = sl + rq->host.len;
    if (rq->origin.len > 0u) {
        return v.len == end; /* an Origin is exactly scheme://host[:port] */
    }
    return v.len > end && v.ptr[end] == '/'; /* a Referer: that origin, then its path */
}

static void call_handler(struct http_server *s)
{
    response_preset(s->rs);
    s->route->handler(s->cfg->ctx, &s->rq, s->rs);
    respond(s, false);
}

/* The head is complete: authenticate, route, decide how to read the body. */
static void head_done(struct http_server *s, uint64_t now_ms)
{
    s->stats.requests++;
    uint16_t st = parse_head(s);
    if (st != 0u) {
        respond_error(s, st,
                      st == 431   ? "headers too large"
                      : st == 411 ? "Content-Length required"
                      : st == 501 ? "Transfer-Encoding not supported"
                      : st == 505 ? "HTTP version not supported"
                      : st == 413 ? "body too large"
                                  : "malformed request");
        return;
    }
    struct http_request *rq = &s->rq;
    bool has_body = rq->has_length && rq->content_length > 0u;
    /* Refusals before the login succeeded close the connection when a body is
     * still to come: no unauthenticated client holds the work area while it
     * trickles a body (see http.h, shared work area). */
    bool close_unread = rq->content_length > 0u;
    if (s->cfg->host_ok != 0 && !s->cfg->host_ok(s->cfg->ctx, rq->host)) {
        response_preset(s->rs);
        http_response_error(s->rs, 421, "unknown host name", 0);
        respond(s, close_unread);
        return;
    }
    if (s->cfg->user != 0) {
        if (http_auth_is_locked(s->auth, s->peer, now_ms)) {
            response_preset(s->rs);
            http_response_error(s->rs, 429, "too many failed logins, retry later", 0);
            s->rs->extra_header = "Retry-After: 30\r\n";
            respond(s, close_unread);
            return;
        }
        if (!http_basic_auth_matches(rq->authorization, s->cfg->user, s->cfg->password)) {
            if (rq->authorization.len > 0u) {
                /* only presented credentials count; a browser's first probe has none */
                auth_fail(s->auth, s->peer, now_ms);
            }
            response_preset(s->rs);
            http_response_error(s->rs, 401, "authentication required", 0);
            respond(s, close_unread);
            return;
        }
        auth_ok(s->auth, s->peer);
        const char *why = "refused";
        uint16_t refuse =
            s->cfg->admit != 0 ? s->cfg->admit(s->cfg->ctx, s->peer, now_ms, &why) : 0u;
        if (refuse != 0u) {
            response_preset(s->rs);
            http_response_error(s->rs, refuse, why, 0);
            respond(s, close_unread);
            return;
        }
    }
    const struct http_route *r = route_find(s, rq->path);
    if (r == 0) {
        response_preset(s->rs);
        if (s->cfg->fallback != 0) {
            s->cfg->fallback(s->cfg->ctx, rq, s->rs);
        } else {
            http_response_error(s->rs, 404, "not found", 0);
        }
        respond_early(s, rq->content_length, false);
        return;
    }
    uint32_t allowed = r->methods | ((r->methods & HTTP_M(HTTP_GET)) ? HTTP_M(HTTP_HEAD) : 0u);
    if ((allowed & HTTP_M(rq->method)) == 0u) {
        response_preset(s->rs);
        http_response_error(s->rs, 405, "method not allowed", 0);
        allow_header(s, r->methods);
        respond_early(s, rq->content_length, false);
        return;
    }
    uint32_t max = r->max_body != 0u ? r->max_body : HTTP_MAX_BODY;
    if (r->stream == 0 && max > HTTP_MAX_BODY) {
        max = HTTP_MAX_BODY;
    }
    if (rq->content_length > max) {
        response_preset(s->rs);
        http_response_error(s->rs, 413, "body too large", 0);
        respond_early(s, rq->content_length, true);
        return;
    }
    bool safe = rq->method == HTTP_GET || rq->method == HTTP_HEAD || rq->method == HTTP_OPTIONS;
    if (!safe) {
        /* a state change: only from the device's own page or a non-browser client */
        if (!origin_ok(rq, s->cfg->origin_scheme)) {
            response_preset(s->rs);
            http_response_error(s->rs, 403, "cross-origin request refused", 0);
            respond_early(s, rq->content_length, false);
            return;
        }
        const char *want = r->body_type != 0 ? r->body_type : "application/json";
        if (!media_type_is(rq->content_type, want)) {
            char msg[80];
            struct ml_text m;
            ml_text_init(&m, msg, sizeof msg);
            ml_text_put(&m, "Content-Type must be ");
            ml_text_put(&m, want);
            response_preset(s->rs);
            http_response_error(s->rs, 415, msg, 0);
            respond_early(s, rq->content_length, false);
            return;
        }
    }
    s->route = r;
    s->body_got = 0;
    if (safe && has_body) {
        /* a GET or HEAD never changes anything, whatever its body: answer as
         * without one, after the body was read and dropped */
        response_preset(s->rs);
        r->handler(s->cfg->ctx, rq, s->rs);
        respond_early(s, rq->content_length, false);
        return;
    }
    if (!has_body) {
        rq->body = s->work->body;
        rq->body_len = 0;
        if (r->stream != 0 && rq->method != HTTP_GET && rq->method != HTTP_HEAD) {
            response_preset(s->rs);
            if (r->stream(s->cfg->ctx, rq, 0, 0, s->rs) < 0) {
                respond(s, true);
                return;
            }
        }
        call_handler(s);
        return;
    }
    s->state = r->stream != 0 ? HTTP_ST_STREAM : HTTP_ST_BODY;
    response_preset(s->rs);
}

/* ------------------------------------------------------------------------- */
/* Input                                                                     */
/* ------------------------------------------------------------------------- */

int http_server_input(struct http_server *s, uint64_t now_ms, const uint8_t *data, size_t len,
                      size_t *used)
{
    ML_VERIFY(s != 0 && used != 0 && (data != 0 || len == 0u), ML_EFAULT);
    size_t i = 0;
    if (len > 0u) {
        s->last_ms = now_ms;
    }
    while (i < len) {
        if (s->state == HTTP_ST_SEND || s->state == HTTP_ST_CLOSED || s->state == HTTP_ST_WAIT) {
            break; /* one request at a time: the rest waits */
        }
        if (s->state == HTTP_ST_HEAD) {
            uint8_t c = data[i++];
            if (!s->started) {
                s->started = true; /* any byte starts the request's deadline */
                s->req_start_ms = now_ms;
            }
            if (s->head_len >= HTTP_MAX_HEAD) {
                bool in_request_line = true;
                for (size_t k = 0; k < s->head_len; k++) {
                    if (s->head[k] == '\n' && k + 1u < s->head_len) {
                        in_request_line = false;
                        break;
                    }
                }
                respond_canned(s, in_request_line ? 414 : 431,
                               in_request_line ? "request line too long" : "headers too large");
                break;
            }
            if (s->head_len == 0u && (c == '\r' || c == '\n')) {
                continue; /* stray CRLF between requests (RFC 9112 §2.2) */
            }
            s->head[s->head_len++] = c;
            if (c == '\n') {
                size_t ll = s->head_len - s->line_start; /* line incl. '\n' */
                bool empty = ll == 1u || (ll == 2u && s->head[s->line_start] == '\r');
                s->line_start = s->head_len;
                if (empty) {
                    if (work_acquire(s)) {
                        head_done(s, now_ms);
                    } else {
                        s->state = HTTP_ST_WAIT; /* another connection's answer is in the work */
                    }
                }
            }
            continue;
        }
        if (s->state == HTTP_ST_DISCARD) {
            size_t d = len - i < s->discard_left ? len - i : s->discard_left;
            i += d;
            s->discard_left -= (uint32_t)d;
            if (s->discard_left == 0u) {
                s->state = HTTP_ST_SEND;
            }
            continue;
        }
        size_t want = s->rq.content_length - s->body_got;
        size_t n = len - i < want ? len - i : want;
        if (s->state == HTTP_ST_BODY) {
            for (size_t k = 0; k < n; k++) {
                s->work->body[s->body_got + k] = data[i + k];
            }
        } else if (s->route->stream(s->cfg->ctx, &s->rq, data + i, n, s->rs) < 0) {
            i += n;
            respond_early(s, s->rq.content_length - s->body_got - (uint32_t)n, true);
            continue;
        }
        i += n;
        s->body_got += (uint32_t)n;
        if (s->body_got == s->rq.content_length) {
            s->rq.body = s->state == HTTP_ST_BODY ? s->work->body : 0;
            s->rq.body_len = s->state == HTTP_ST_BODY ? s->body_got : 0u;
            if (s->state == HTTP_ST_STREAM &&
                s->route->stream(s->cfg->ctx, &s->rq, 0, 0, s->rs) < 0) {
                respond(s, true);
                break;
            }
            call_handler(s);
        }
    }
    *used = i;
    return ML_OK;
}

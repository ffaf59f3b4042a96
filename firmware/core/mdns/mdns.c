/*
 * Multicast DNS responder (RFC 6762): probing, announcing, answering A/ANY
 * queries for a few ".local" host names. Contract in mdns.h.
 */
#include "mdns.h"

#include "err.h"
#include "str.h"

#define TYPE_A      1u
#define TYPE_ANY    255u
#define CLASS_IN    1u
#define CLASS_ANY   255u
#define CLASS_TOP   0x8000u /* QU in a question, cache-flush in a record */
#define FLAG_QR     0x8000u
#define FLAG_AA     0x0400u
#define HDR_LEN     12u
#define PROBES      3u
#define PROBE_MS    250u
#define ANNOUNCES   2u
#define ANNOUNCE_MS 1000u
#define TIE_LOST_MS 1000u
#define RATE_MS     5000u /* §8.1: after 15 conflicts in 10 s */
#define RATE_WIN_MS 10000u
#define RATE_LIMIT  15u
#define LEGACY_TTL  10u
#define NAME_TEXT   256u /* a decoded name, dotted */

/* ------------------------------------------------------------------------- */
/* small helpers                                                             */
/* ------------------------------------------------------------------------- */

static uint32_t rnd(struct mdns *m)
{
    uint32_t x = m->rng; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    m->rng = x;
    return x;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool label_ok(const char *s)
{
    size_t n = ml_str_len(s);
    if (n < 1u || n > MDNS_BASE_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = lower(s[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Offset just past the (possibly compressed) name at @p off, or 0 when bad. */
static size_t skip_name(const uint8_t *pkt, size_t len, size_t off)
{
    while (off < len) {
        uint8_t c = pkt[off];
        if (c == 0u) {
            return off + 1u;
        }
        if ((c & 0xC0u) == 0xC0u) {
            return off + 2u <= len ? off + 2u : 0u;
        }
        if ((c & 0xC0u) != 0u) {
            return 0u;
        }
        off += 1u + c;
    }
    return 0u;
}

/* Decode the name at @p off into dotted lower-case text (a '.' inside a label
 * becomes 0x01, so it never matches). False when malformed or too long. */
static bool read_name(const uint8_t *pkt, size_t len, size_t off, char *out)
{
    size_t n = 0;
    unsigned hops = 0;
    while (off < len) {
        uint8_t c = pkt[off];
        if (c == 0u) {
            out[n] = '\0';
            return true;
        }
        if ((c & 0xC0u) == 0xC0u) {
            if (off + 1u >= len || ++hops > 16u) {
                return false;
            }
            off = (size_t)(c & 0x3Fu) << 8 | pkt[off + 1u];
            continue;
        }
        if ((c & 0xC0u) != 0u || off + 1u + c > len || n + c + 2u > NAME_TEXT) {
            return false;
        }
        if (n > 0u) {
            out[n++] = '.';
        }
        for (size_t i = 0; i < c; i++) {
            char ch = lower((char)pkt[off + 1u + i]);
            out[n++] = (ch == '.' || ch == '\0') ? '\x01' : ch;
        }
        off += 1u + c;
    }
    return false;
}

/* Which of our names the name at @p off is (-1: none or malformed). */
static int name_index(const struct mdns *m, const uint8_t *pkt, size_t len, size_t off)
{
    char text[NAME_TEXT];
    if (!read_name(pkt, len, off, text)) {
        return -1;
    }
    for (size_t i = 0; i < m->count; i++) {
        const char *l = m->names[i].label;
        size_t k = 0;
        while (l[k] != '\0' && lower(l[k]) == text[k]) {
            k++;
        }
        if (l[k] == '\0' && ml_str_eq_n(&text[k], ml_str_len(&text[k]), ".local")) {
            return (int)i;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------- */
/* packet writer                                                             */
/* ------------------------------------------------------------------------- */

struct wr {
    uint8_t *p;
    size_t cap;
    size_t len;
    bool ovf;
};

static void w8(struct wr *w, uint32_t v)
{
    if (w->len < w->cap) {
        w->p[w->len++] = (uint8_t)v;
    } else {
        w->ovf = true;
    }
}

static void w16(struct wr *w, uint32_t v)
{
    w8(w, v >> 8);
    w8(w, v);
}

static void w32(struct wr *w, uint32_t v)
{
    w16(w, v >> 16);
    w16(w, v);
}

static void wname(struct wr *w, const char *label)
{
    size_t n = ml_str_len(label);
    w8(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        w8(w, (uint8_t)label[i]);
    }
    w8(w, 5u);
    for (const char *s = "local"; *s != '\0'; s++) {
        w8(w, (uint8_t)*s);
    }
    w8(w, 0u);
}

static void wheader(struct wr *w, uint32_t id, uint32_t flags, uint32_t qd, uint32_t an,
                    uint32_t ns)
{
    w16(w, id);
    w16(w, flags);
    w16(w, qd);
    w16(w, an);
    w16(w, ns);
    w16(w, 0u);
}

static void wrecord_a(struct wr *w, const char *label, uint32_t cls, uint32_t ttl, uint32_t ip)
{
    wname(w, label);
    w16(w, TYPE_A);
    w16(w, cls);
    w32(w, ttl);
    w16(w, 4u);
    w32(w, ip);
}

static int wdone(const struct wr *w)
{
    return w->ovf ? ML_ENOSPC : (int)w->len;
}

/* ------------------------------------------------------------------------- */
/* state                                                                     */
/* ------------------------------------------------------------------------- */

static void set_label(struct mdns_name *n)
{
    size_t b = ml_str_len(n->base);
    ml_mem_copy(n->label, n->base, b);
    if (n->suffix != 0u) {
        char digits[12];
        size_t k = 0;
        uint32_t v = n->suffix;
        do {
            digits[k++] = (char)('0' + v % 10u);
            v /= 10u;
        } while (v != 0u);
        n->label[b++] = '-';
        while (k > 0u) {
            n->label[b++] = digits[--k];
        }
    }
    n->label[b] = '\0';
}

static void start_probing(struct mdns *m, uint64_t now_ms, uint64_t delay_ms)
{
    m->phase = MDNS_PROBING;
    m->step = 0;
    m->next_ms = now_ms + delay_ms;
    for (size_t i = 0; i < m->count; i++) {
        m->names[i].mc = false;
    }
}

int mdns_init(struct mdns *m, const char *const *names, size_t count, uint32_t seed)
{
    ML_VERIFY(m != NULL && names != NULL && count >= 1u && count <= MDNS_NAMES, ML_EINVAL);
    for (size_t i = 0; i < count; i++) {
        ML_VERIFY(label_ok(names[i]), ML_EINVAL);
    }
    ml_mem_zero(m, sizeof *m);
    for (size_t i = 0; i < count; i++) {
        (void)ml_str_copy(m->names[i].base, sizeof m->names[i].base, names[i]);
        set_label(&m->names[i]);
    }
    m->count = (uint8_t)count;
    m->phase = MDNS_OFF;
    m->next_ms = UINT64_MAX;
    m->rng = seed != 0u ? seed : 0x6D646E73u;
    return ML_OK;
}

void mdns_set_ipv4(struct mdns *m, uint32_t ip, uint64_t now_ms)
{
    if (ip == m->ip) {
        return;
    }
    m->ip = ip;
    if (ip == 0u) {
        m->phase = MDNS_OFF;
        m->next_ms = UINT64_MAX;
        return;
    }
    start_probing(m, now_ms, rnd(m) % (PROBE_MS + 1u)); /* §8.1: 0-250 ms first */
}

/* A conflict: @p rename (bit per name) get the next suffix; probe again. */
static void conflict(struct mdns *m, uint64_t now_ms, uint32_t rename)
{
    for (size_t i = 0; i < m->count; i++) {
        if ((rename & (1u << i)) != 0u) {
            struct mdns_name *n = &m->names[i];
            n->suffix = (n->suffix == 0u || n->suffix >= 99999u) ? 2u : n->suffix + 1u;
            set_label(n);
        }
    }
    m->stats.conflicts++;
    if (now_ms - m->conflict_window_ms >= RATE_WIN_MS || now_ms < m->conflict_window_ms) {
        m->conflict_window_ms = now_ms;
        m->conflicts_in_window = 0;
    }
    m->conflicts_in_window++;
    uint64_t delay = m->conflicts_in_window > RATE_LIMIT ? RATE_MS : rnd(m) % (PROBE_MS + 1u);
    start_probing(m, now_ms, delay);
}

/* ------------------------------------------------------------------------- */
/* outgoing                                                                  */
/* ------------------------------------------------------------------------- */

static int build_probe(const struct mdns *m, uint8_t *out, size_t cap)
{
    struct wr w = {out, cap, 0, false};
    wheader(&w, 0u, 0u, m->count, 0u, m->count);
    for (size_t i = 0; i < m->count; i++) {
        wname(&w, m->names[i].label);
        w16(&w, TYPE_ANY);
        w16(&w, CLASS_IN); /* QM: see mdns.h on unicast answers */
    }
    for (size_t i = 0; i < m->count; i++) {
        wrecord_a(&w, m->names[i].label, CLASS_IN, MDNS_TTL_S, m->ip);
    }
    return wdone(&w);
}

static int build_announce(struct mdns *m, uint64_t now_ms, uint8_t *out, size_t cap)
{
    struct wr w = {out, cap, 0, false};
    wheader(&w, 0u, FLAG_QR | FLAG_AA, 0u, m->count, 0u);
    for (size_t i = 0; i < m->count; i++) {
        wrecord_a(&w, m->names[i].label, CLASS_IN | CLASS_TOP, MDNS_TTL_S, m->ip);
        m->names[i].mc = true;
        m->names[i].last_mc_ms = now_ms;
    }
    return wdone(&w);
}

int mdns_poll(struct mdns *m, uint64_t now_ms, uint8_t *out, size_t cap, struct mdns_dest *dst)
{
    ML_VERIFY(m != NULL && out != NULL && dst != NULL, ML_EINVAL);
    ML_VERIFY(cap >= MDNS_PACKET_MAX, ML_ENOSPC);
    if (m->phase == MDNS_OFF || m->phase == MDNS_READY || now_ms < m->next_ms) {
        return 0;
    }
    *dst = (struct mdns_dest){MDNS_GROUP_IPV4, MDNS_PORT};
    if (m->phase == MDNS_PROBING) {
        if (m->step < PROBES) {
            m->step++;
            m->next_ms = now_ms + PROBE_MS;
            m->stats.probes++;
            return build_probe(m, out, cap);
        }
        /* 250 ms after the third probe without a conflict: the names are ours */
        m->phase = MDNS_ANNOUNCING;
        m->step = 0;
    }
    m->step++;
    m->stats.announces++;
    if (m->step >= ANNOUNCES) {
        m->phase = MDNS_READY;
        m->next_ms = UINT64_MAX;
    } else {
        m->next_ms = now_ms + ANNOUNCE_MS;
    }
    return build_announce(m, now_ms, out, cap);
}

uint64_t mdns_next_ms(const struct mdns *m)
{
    return (m->phase == MDNS_PROBING || m->phase == MDNS_ANNOUNCING) ? m->next_ms : UINT64_MAX;
}

const char *mdns_label(const struct mdns *m, size_t i)
{
    return i < m->count ? m->names[i].label : "";
}

bool mdns_is_claimed(const struct mdns *m)
{
    return m->phase == MDNS_ANNOUNCING || m->phase == MDNS_READY;
}

/* ------------------------------------------------------------------------- */
/* incoming                                                                  */
/* ------------------------------------------------------------------------- */

struct rr {
    int idx; /* our name, or -1 */
    uint16_t type;
    uint16_t cls; /* top bit cleared */
    uint32_t ttl;
    uint16_t rdlen;
    size_t rdata; /* offset */
};

/* Parse the record at *off; false when malformed. */
static bool read_rr(const struct mdns *m, const uint8_t *pkt, size_t len, size_t *off, struct rr *r)
{
    size_t p = skip_name(pkt, len, *off);
    if (p == 0u || p + 10u > len) {
        return false;
    }
    r->idx = name_index(m, pkt, len, *off);
    r->type = rd16(&pkt[p]);
    r->cls = (uint16_t)(rd16(&pkt[p + 2u]) & 0x7FFFu);
    r->ttl = rd32(&pkt[p + 4u]);
    r->rdlen = rd16(&pkt[p + 8u]);
    r->rdata = p + 10u;
    if (r->rdata + r->rdlen > len) {
        return false;
    }
    *off = r->rdata + r->rdlen;
    return true;
}

static bool is_ours(const struct mdns *m, const uint8_t *pkt, const struct rr *r)
{
    return r->type == TYPE_A && r->cls == CLASS_IN && r->rdlen == 4u &&
           rd32(&pkt[r->rdata]) == m->ip;
}

/* §8.2: compare our A record with theirs (class, type, then rdata bytes as
 * unsigned). < 0: ours is earlier (we lose), 0 identical, > 0 we win. */
static int tie_compare(const struct mdns *m, const uint8_t *pkt, const struct rr *r)
{
    if (r->cls != CLASS_IN) {
        return CLASS_IN < r->cls ? -1 : 1;
    }
    if (r->type != TYPE_A) {
        return TYPE_A < r->type ? -1 : 1;
    }
    uint8_t ours[4] = {(uint8_t)(m->ip >> 24), (uint8_t)(m->ip >> 16), (uint8_t)(m->ip >> 8),
                       (uint8_t)m->ip};
    for (size_t i = 0; i < 4u && i < r->rdlen; i++) {
        if (ours[i] != pkt[r->rdata + i]) {
            return ours[i] < pkt[r->rdata + i] ? -1 : 1;
        }
    }
    return r->rdlen == 4u ? 0 : (r->rdlen > 4u ? -1 : 1);
}

/* A response from another responder: conflicts with our names. */
static int take_response(struct mdns *m, uint64_t now_ms, const uint8_t *pkt, size_t len,
                         uint16_t qd, uint32_t nrec, uint16_t src_port)
{
    size_t off = HDR_LEN;
    for (uint32_t i = 0; i < qd; i++) {
        off = skip_name(pkt, len, off);
        if (off == 0u || off + 4u > len) {
            goto bad;
        }
        off += 4u;
    }
    if (src_port != MDNS_PORT) {
        return 0; /* §6: responses not from port 5353 are ignored */
    }
    uint32_t clash = 0;
    for (uint32_t i = 0; i < nrec; i++) {
        struct rr r;
        if (!read_rr(m, pkt, len, &off, &r)) {
            goto bad;
        }
        if (r.idx < 0 || r.ttl == 0u || is_ours(m, pkt, &r)) {
            continue; /* not our name, a goodbye, or our own (looped back) record */
        }
        if (m->phase == MDNS_PROBING) {
            clash |= 1u << r.idx; /* §8.1: a record of any type with the name */
        } else if (r.type == TYPE_A && r.cls == CLASS_IN) {
            clash |= 1u << r.idx; /* §9: same name, type, class; other data */
        }
    }
    if (clash != 0u) {
        if (m->phase == MDNS_PROBING) {
            conflict(m, now_ms, clash);
        } else {
            conflict(m, now_ms, 0u); /* §9: probe again; that finds who keeps the name */
        }
    }
    return 0;
bad:
    m->stats.bad++;
    return ML_EPROTO;
}

int mdns_input(struct mdns *m, uint64_t now_ms, const uint8_t *pkt, size_t len, uint32_t src_ip,
               uint16_t src_port, uint8_t *out, size_t cap, struct mdns_dest *dst)
{
    ML_VERIFY(m != NULL && pkt != NULL && out != NULL && dst != NULL, ML_EINVAL);
    if (len < HDR_LEN) {
        m->stats.bad++;
        return ML_EPROTO;
    }
    if (m->phase == MDNS_OFF) {
        return 0;
    }
    uint16_t id = rd16(pkt), flags = rd16(&pkt[2]), qd = rd16(&pkt[4]);
    uint16_t an = rd16(&pkt[6]), ns = rd16(&pkt[8]), ar = rd16(&pkt[10]);
    if (((flags >> 11) & 0xFu) != 0u) {
        return 0; /* §18.3: other opcodes are ignored */
    }
    if ((flags & FLAG_QR) != 0u) {
        return take_response(m, now_ms, pkt, len, qd, (uint32_t)an + ns + ar, src_port);
    }

    /* questions */
    size_t off = HDR_LEN;
    uint32_t want = 0, qu_only = (1u << MDNS_NAMES) - 1u, suppress = 0;
    uint16_t qtype[MDNS_NAMES] = {0};
    for (uint32_t i = 0; i < qd; i++) {
        size_t p = skip_name(pkt, len, off);
        if (p == 0u || p + 4u > len) {
            goto bad;
        }
        int idx = name_index(m, pkt, len, off);
        uint16_t t = rd16(&pkt[p]), c = rd16(&pkt[p + 2u]);
        uint16_t cls = (uint16_t)(c & 0x7FFFu);
        if (idx >= 0 && (t == TYPE_A || t == TYPE_ANY) && (cls == CLASS_IN || cls == CLASS_ANY)) {
            if ((want & (1u << idx)) == 0u) {
                qtype[idx] = t;
            }
            want |= 1u << idx;
            if ((c & CLASS_TOP) == 0u) {
                qu_only &= ~(1u << idx);
            }
        }
        off = p + 4u;
    }
    /* known answers (§7.1) */
    for (uint32_t i = 0; i < an; i++) {
        struct rr r;
        if (!read_rr(m, pkt, len, &off, &r)) {
            goto bad;
        }
        if (r.idx >= 0 && is_ours(m, pkt, &r) && r.ttl >= MDNS_TTL_S / 2u) {
            suppress |= 1u << r.idx;
        }
    }
    /* authority: a probe; while we probe the same name, §8.2 tie-break */
    bool probe = false, lost = false;
    for (uint32_t i = 0; i < ns; i++) {
        struct rr r;
        if (!read_rr(m, pkt, len, &off, &r)) {
            goto bad;
        }
        if (r.idx < 0) {
            continue;
        }
        probe = true;
        if (m->phase == MDNS_PROBING && tie_compare(m, pkt, &r) < 0) {
            lost = true;
        }
    }
    if (lost) {
        m->stats.tie_lost++;
        start_probing(m, now_ms, TIE_LOST_MS); /* §8.2: defer 1 s, then probe again */
        return 0;
    }
    want &= ~suppress;
    if (want == 0u || !mdns_is_claimed(m)) {
        return 0; /* §8.1: a name being probed is not answered yet */
    }
    ML_VERIFY(cap >= MDNS_PACKET_MAX, ML_ENOSPC);

    struct wr w = {out, cap, 0, false};
    uint32_t n = 0;
    for (size_t i = 0; i < m->count; i++) {
        n += (want >> i) & 1u;
    }
    if (src_port != MDNS_PORT) {
        /* §6.7 legacy unicast: its id, its questions, short TTL, no flush bit */
        *dst = (struct mdns_dest){src_ip, src_port};
        wheader(&w, id, FLAG_QR | FLAG_AA, n, n, 0u);
        for (size_t i = 0; i < m->count; i++) {
            if ((want & (1u << i)) != 0u) {
                wname(&w, m->names[i].label);
                w16(&w, qtype[i]);
                w16(&w, CLASS_IN);
            }
        }
        for (size_t i = 0; i < m->count; i++) {
            if ((want & (1u << i)) != 0u) {
                wrecord_a(&w, m->names[i].label, CLASS_IN, LEGACY_TTL, m->ip);
            }
        }
        m->stats.answers++;
        return wdone(&w);
    }
    bool unicast = !probe && (want & qu_only) == want;
    for (size_t i = 0; unicast && i < m->count; i++) {
        const struct mdns_name *nm = &m->names[i];
        if ((want & (1u << i)) != 0u &&
            (!nm->mc || now_ms - nm->last_mc_ms > (uint64_t)MDNS_TTL_S * 1000u / 4u)) {
            unicast = false; /* §5.4: not multicast within a quarter TTL: multicast now */
        }
    }
    *dst = unicast ? (struct mdns_dest){src_ip, src_port}
                   : (struct mdns_dest){MDNS_GROUP_IPV4, MDNS_PORT};
    wheader(&w, 0u, FLAG_QR | FLAG_AA, 0u, n, 0u);
    for (size_t i = 0; i < m->count; i++) {
        if ((want & (1u << i)) != 0u) {
            wrecord_a(&w, m->names[i].label, CLASS_IN | CLASS_TOP, MDNS_TTL_S, m->ip);
            if (!unicast) {
                m->names[i].mc = true;
                m->names[i].last_mc_ms = now_ms;
            }
        }
    }
    m->stats.answers++;
    return wdone(&w);
bad:
    m->stats.bad++;
    return ML_EPROTO;
}

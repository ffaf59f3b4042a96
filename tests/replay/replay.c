/*
 * Core replay (replay.h): parsers, reading, templates and Modbus framing over
 * the corpus, printed in a form that two CPUs can be compared on.
 */
#include "replay.h"

#include <stdbool.h>

#include "crc.h"
#include "dsmr/dsmr.h"
#include "modbus/modbus.h"
#include "reading/reading.h"
#include "regmap/regmap.h"
#include "tic/tic.h"

/* ------------------------------------------------------------------------- */
/* Output                                                                    */
/* ------------------------------------------------------------------------- */

struct pr {
    replay_out_fn out;
    void *ctx;
    uint32_t lines;
};

static void put(struct pr *p, const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    p->out(s, n, p->ctx);
}

static void put_n(struct pr *p, const char *s, size_t n)
{
    p->out(s, n, p->ctx);
}

static void put_u64(struct pr *p, uint64_t v)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    put_n(p, tmp + sizeof tmp - n, n);
}

static void put_i64(struct pr *p, int64_t v)
{
    if (v < 0) {
        put(p, "-");
        put_u64(p, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(p, (uint64_t)v);
    }
}

static void put_hex(struct pr *p, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char h[2] = {digits[b[i] >> 4], digits[b[i] & 15u]};
        put_n(p, h, 2);
    }
}

static void kv(struct pr *p, const char *key, int64_t v)
{
    put(p, " ");
    put(p, key);
    put(p, "=");
    put_i64(p, v);
}

static void eol(struct pr *p)
{
    put(p, "\n");
    p->lines++;
}

/* ------------------------------------------------------------------------- */
/* Readings                                                                  */
/* ------------------------------------------------------------------------- */

static void put_str(struct pr *p, const char *key, const struct reading_str *s)
{
    put(p, " ");
    put(p, key);
    put(p, "='");
    put_n(p, s->s, s->len);
    put(p, s->truncated ? "'+" : "'");
}

static void print_reading(struct pr *p, const struct reading *r)
{
    put(p, "  reading");
    kv(p, "protocol", r->protocol);
    kv(p, "version", r->version);
    kv(p, "emucs", r->emucs);
    kv(p, "historic", r->tic_historic);
    kv(p, "phases", r->phases);
    put_str(p, "header", &r->header);
    put_str(p, "equipment", &r->equipment);
    put_str(p, "tariff", &r->tariff_name);
    kv(p, "text_len", r->text_len);
    kv(p, "pfail_log", r->pfail_log_count);
    kv(p, "demand_hist", r->demand_hist_count);
    kv(p, "raw", r->raw_count);
    kv(p, "raw_dropped", r->raw_dropped);
    eol(p);
    for (int f = 0; f < READING_FIELD_COUNT; f++) {
        int64_t v;
        if (reading_get(r, (enum reading_field)f, &v)) {
            put(p, "   ");
            kv(p, reading_field_info((enum reading_field)f)->key, v);
            eol(p);
        }
    }
    for (int i = 0; i < READING_MBUS_MAX; i++) {
        const struct reading_mbus *m = &r->mbus[i];
        if (m->present) {
            put(p, "    mbus");
            kv(p, "ch", i + 1);
            kv(p, "type", m->type);
            kv(p, "value_milli", m->has_value ? m->value_milli : -1);
            kv(p, "ts", m->ts_utc);
            put(p, " unit=");
            put(p, m->unit);
            kv(p, "valve", m->valve);
            put_str(p, "id", &m->id);
            eol(p);
        }
    }
    for (uint8_t i = 0; i < r->raw_count; i++) {
        put(p, "    raw ");
        put(p, r->raw[i].id);
        put(p, "=");
        put(p, r->raw[i].value);
        eol(p);
    }
}

/* ------------------------------------------------------------------------- */
/* Parsers                                                                   */
/* ------------------------------------------------------------------------- */

/* Parser state is large (telegram buffers): one static instance of each. */
static struct dsmr_parser g_dsmr;
static struct tic_parser g_tic;
static struct reading g_reading;
static struct reading g_last_good; /* for the Modbus part */

static const char *const dsmr_verdicts[] = {"none", "ok", "crc_fail", "frame_fail"};
static const char *const tic_verdicts[] = {"need_more", "ok", "crc_fail", "frame_fail", "historic"};

static void replay_stream(struct pr *p, const struct replay_file *f, uint32_t chunk)
{
    uint32_t off = 0;
    uint32_t n = 0;
    reading_init(&g_reading);
    if (f->tic) {
        tic_parser_init(&g_tic, &g_reading);
    } else {
        dsmr_parser_init(&g_dsmr, &g_reading);
    }
    while (off < f->len) {
        uint32_t take = chunk == 0u || f->len - off < chunk ? f->len - off : chunk;
        size_t used = 0;
        int v = f->tic ? tic_parser_feed(&g_tic, f->data + off, take, &used)
                       : dsmr_parser_feed(&g_dsmr, f->data + off, take, &used);
        off += (uint32_t)used;
        if (v < 0) {
            put(p, " error ");
            put_i64(p, v);
            eol(p);
            return;
        }
        if (v == 0) {
            continue;
        }
        n++;
        put(p, f->name);
        kv(p, "chunk", chunk);
        kv(p, "telegram", n);
        kv(p, "at", off);
        put(p, " verdict=");
        put(p, f->tic ? tic_verdicts[v] : dsmr_verdicts[v]);
        if (f->tic) {
            const struct tic_frame_result *res = tic_parser_result(&g_tic);
            kv(p, "reason", res->reason);
            kv(p, "groups", res->groups);
            kv(p, "bad", res->groups_bad);
            kv(p, "unknown", res->groups_unknown);
            kv(p, "invalid", res->values_invalid);
            kv(p, "degraded", res->clock_degraded);
        } else {
            struct ml_span t = dsmr_parser_telegram(&g_dsmr);
            kv(p, "bytes", (int64_t)t.len);
            kv(p, "crc16", ml_crc16_p1(t.ptr, t.len));
        }
        eol(p);
        if (v == 1 && chunk == 0u) {
            print_reading(p, &g_reading);
            g_last_good = g_reading;
        }
    }
    put(p, f->name);
    kv(p, "chunk", chunk);
    if (f->tic) {
        const struct tic_stats *s = tic_parser_stats(&g_tic);
        kv(p, "bytes", s->bytes);
        kv(p, "ignored", s->bytes_ignored);
        kv(p, "started", s->frames_started);
        kv(p, "ok", s->frames_ok);
        kv(p, "crc_fail", s->frames_crc_fail);
        kv(p, "fail", s->frames_fail);
        kv(p, "historic", s->frames_historic);
        kv(p, "groups_ok", s->groups_ok);
        kv(p, "groups_bad", s->groups_bad);
    } else {
        const struct dsmr_stats *s = dsmr_parser_stats(&g_dsmr);
        kv(p, "started", s->telegrams_started);
        kv(p, "ok", s->telegrams_ok);
        kv(p, "crc_fail", s->crc_fail);
        kv(p, "frame_fail", s->frame_fail);
        kv(p, "truncated", s->frame_truncated);
        kv(p, "no_crc_ok", s->no_crc_ok);
        kv(p, "bad_lines", s->bad_lines);
        kv(p, "bytes", s->bytes_total);
        kv(p, "skipped", s->bytes_skipped);
    }
    eol(p);
}

/* ------------------------------------------------------------------------- */
/* Modbus: every template over RTU and TCP                                   */
/* ------------------------------------------------------------------------- */

static struct regmap_live g_live;

static void mb_answer(struct pr *p, const char *what, const uint8_t *b, int n)
{
    put(p, "   ");
    put(p, what);
    put(p, " ");
    if (n < 0) {
        put(p, "error ");
        put_i64(p, n);
    } else {
        put_hex(p, b, (size_t)n);
    }
    eol(p);
}

static void replay_template(struct pr *p, const struct regmap_template *t, const struct reading *r)
{
    static struct mb_slave slave;
    static struct mb_rtu rtu;
    static struct mb_tcp tcp;
    uint8_t out[MB_TCP_ADU_MAX];
    regmap_live_init(&g_live, t);
    put(p, " template ");
    put(p, t->name);
    kv(p, "update", regmap_live_update(&g_live, r));
    eol(p);
    mb_slave_init(&slave, regmap_mb_read, 0, &g_live);
    mb_rtu_init(&rtu, &slave, 16, 9600, 11);
    mb_tcp_init(&tcp, &slave);
    const struct regmap_space *spaces[2] = {&t->holding, &t->input};
    static const uint8_t widths[] = {2, 2, 2, 1, 1, 4}; /* enum regmap_type */
    uint16_t tid = 0;
    for (int s = 0; s < 2; s++) {
        const struct regmap_space *sp = spaces[s];
        uint8_t fc = s == 0 ? 3u : 4u;
        /* every entry on its own over TCP: the encoding of each value */
        for (uint16_t i = 0; i < sp->count; i++) {
            const struct regmap_entry *e = &sp->entries[i];
            uint16_t cnt = widths[e->type];
            uint8_t req[12] = {
                (uint8_t)(tid >> 8),     (uint8_t)tid,     0, 0,           0, 6, 1, fc,
                (uint8_t)(e->addr >> 8), (uint8_t)e->addr, 0, (uint8_t)cnt};
            tid++;
            size_t used = 0;
            int n = mb_tcp_feed(&tcp, req, sizeof req, &used, out, sizeof out);
            put(p, "  fc");
            put_u64(p, fc);
            kv(p, "addr", e->addr);
            put(p, " ");
            put(p, e->name != 0
                       ? e->name
                       : (e->field >= 0 ? reading_field_info((enum reading_field)e->field)->key
                                        : "const"));
            put(p, " tcp ");
            put_hex(p, out + 9, n > 9 ? (size_t)n - 9u : 0u);
            eol(p);
        }
        if (sp->count == 0u) {
            continue;
        }
        /* the first 125 registers over RTU: framing, CRC, one big answer */
        uint16_t a = sp->entries[0].addr;
        uint8_t rreq[8] = {16, fc, (uint8_t)(a >> 8), (uint8_t)a, 0, 125, 0, 0};
        uint16_t crc = ml_crc16_modbus(rreq, 6);
        rreq[6] = (uint8_t)crc;
        rreq[7] = (uint8_t)(crc >> 8);
        uint32_t ts[8];
        for (int i = 0; i < 8; i++) {
            ts[i] = 1000000u + (uint32_t)i * 1000u;
        }
        size_t rused = 0;
        int n = mb_rtu_feed(&rtu, rreq, ts, sizeof rreq, &rused, out, sizeof out);
        if (n == 0) {
            n = mb_rtu_poll(&rtu, 1100000u, out, sizeof out);
        }
        mb_answer(p, "rtu", out, n);
        (void)mb_rtu_poll(&rtu, 1200000u, out, sizeof out);
    }
    /* exceptions: count 0, count 126, an unknown function code */
    static const uint8_t bad[][5] = {
        {3, 0x80, 0x06, 0, 0}, {4, 0x80, 0x06, 0, 126}, {0x2b, 0x0e, 1, 0, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int n = mb_slave_handle_pdu(&slave, bad[i], sizeof bad[i], out, sizeof out);
        mb_answer(p, "pdu", out, n);
    }
}

/* ------------------------------------------------------------------------- */

/* The Modbus part runs on the last good reading of these (one of each kind). */
static bool wants_modbus(const char *name)
{
    static const char *const files[] = {"dsmr/dsmr50_spec_3ph.txt", "dsmr/emucs171_fluvius_3ph.txt",
                                        "dsmr/dsmr42_kaifa_3ph.txt", "tic/std-3ph.bin",
                                        "tic/std-3ph-producer.bin"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *a = files[i];
        const char *b = name;
        while (*a != '\0' && *a == *b) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            return true;
        }
    }
    return false;
}

uint32_t replay_run(replay_out_fn out, void *ctx)
{
    struct pr p = {out, ctx, 0};
    static const uint32_t chunks[] = {0, 1, 7, 64};
    reading_init(&g_last_good);
    for (uint32_t i = 0; i < replay_corpus_count; i++) {
        const struct replay_file *f = &replay_corpus[i];
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            replay_stream(&p, f, chunks[c]);
        }
        if (g_last_good.protocol != READING_PROTO_NONE && wants_modbus(f->name)) {
            put(&p, f->name);
            put(&p, " modbus");
            eol(&p);
            for (size_t t = 0; t < regmap_template_count(); t++) {
                replay_template(&p, regmap_template_at(t), &g_last_good);
            }
        }
        reading_init(&g_last_good);
    }
    put(&p, "replay end: ");
    put_u64(&p, p.lines + 1u);
    put(&p, " lines");
    eol(&p);
    return p.lines;
}

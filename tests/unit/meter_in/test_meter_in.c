#define _POSIX_C_SOURCE 200809L
/*
 * Unit tests for core/meter_in: every corpus stream of scenarios/telegrams (P1 and TIC,
 * good and faulty, alone and run together, with telegrams cut off by a new start) fed
 * whole gives the same telegrams (verdict, reason, raw bytes, reading) and counters as
 * fed in every chunk size and with a single chunk boundary at every byte offset. The
 * verdict sequences and counters of the streams are written by hand from the files
 * (what each contains: see scenarios/telegrams/tic/gen_frames.py), never computed by
 * the code under test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "meter_in/meter_in.h"
#include "ml_test.h"

#define DSMR_DIR "src:scenarios/telegrams/dsmr/"
#define TIC_DIR  "src:scenarios/telegrams/tic/"

static struct dsmr_parser dp;
static struct tic_parser tp;
static struct reading out;
static struct meter_in mi;

/* ------------------------------------------------------------------------- */
/* Recording what a feed gives                                               */
/* ------------------------------------------------------------------------- */

#define TELS_MAX 64

struct tel {
    int verdict;
    int reason;
    size_t raw_len;
    uint64_t raw_hash;
    bool has_reading;
    uint64_t reading_hash;
    struct meter_in_counters after; /* the counters as the callback saw them */
};

struct rec {
    int n;
    struct tel t[TELS_MAX];
    struct meter_in_counters end;
    bool idle;
};

static uint64_t fnv(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

/* Bytes after the NUL of a bounded string are unspecified (a P1 line split across feeds
 * is decoded twice, tests/unit/dsmr); clear them so that readings compare bytewise. */
static void zero_after(char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    memset(s + n, 0, cap - n);
}

static uint64_t reading_hash(const struct reading *r)
{
    static struct reading c;
    memcpy(&c, r, sizeof c);
    zero_after(c.header.s, sizeof c.header.s);
    zero_after(c.equipment.s, sizeof c.equipment.s);
    zero_after(c.tariff_name.s, sizeof c.tariff_name.s);
    memset(c.text + c.text_len, 0, sizeof c.text - c.text_len);
    for (int i = 0; i < READING_MBUS_MAX; i++) {
        zero_after(c.mbus[i].id.s, sizeof c.mbus[i].id.s);
        zero_after(c.mbus[i].unit, sizeof c.mbus[i].unit);
    }
    for (int i = 0; i < ML_READING_RAW_MAX; i++) {
        zero_after(c.raw[i].id, sizeof c.raw[i].id);
        zero_after(c.raw[i].value, sizeof c.raw[i].value);
    }
    return fnv(&c, sizeof c);
}

static void on_telegram(void *ctx, const struct meter_in_telegram *t)
{
    struct rec *r = ctx;
    CU_ASSERT_FATAL(r->n < TELS_MAX);
    struct tel *e = &r->t[r->n++];
    e->verdict = (int)t->verdict;
    e->reason = (int)t->reason;
    e->raw_len = t->raw.len;
    e->raw_hash = fnv(t->raw.ptr, t->raw.len);
    e->has_reading = t->reading != NULL;
    e->reading_hash = t->reading != NULL ? reading_hash(t->reading) : 0;
    e->after = *meter_in_counters(&mi);
}

static void start(bool tic)
{
    int err = tic ? meter_in_init_tic(&mi, &tp, &out) : meter_in_init_p1(&mi, &dp, &out);
    CU_ASSERT_EQUAL_FATAL(err, ML_OK);
}

/* Feed @p data in the chunks ending at the offsets cuts[0..ncuts) (ascending), then the rest. */
static void feed_cuts(bool tic, const uint8_t *data, size_t len, const size_t *cuts, size_t ncuts,
                      struct rec *r)
{
    memset(r, 0, sizeof *r);
    start(tic);
    size_t off = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        int n = meter_in_feed(&mi, data + off, end - off, on_telegram, r);
        CU_ASSERT_FATAL(n >= 0);
        off = end;
    }
    r->end = *meter_in_counters(&mi);
    r->idle = meter_in_is_idle(&mi);
}

/* Feed in chunks of @p chunk bytes (0: whole). */
static void feed_chunked(bool tic, const uint8_t *data, size_t len, size_t chunk, struct rec *r)
{
    memset(r, 0, sizeof *r);
    start(tic);
    size_t off = 0;
    do {
        size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
        CU_ASSERT_FATAL(meter_in_feed(&mi, data + off, n, on_telegram, r) >= 0);
        off += n;
    } while (off < len);
    r->end = *meter_in_counters(&mi);
    r->idle = meter_in_is_idle(&mi);
}

static bool rec_equal(const struct rec *a, const struct rec *b)
{
    if (a->n != b->n || a->idle != b->idle || memcmp(&a->end, &b->end, sizeof a->end) != 0) {
        return false;
    }
    for (int i = 0; i < a->n; i++) {
        const struct tel *x = &a->t[i], *y = &b->t[i];
        if (x->verdict != y->verdict || x->reason != y->reason || x->raw_len != y->raw_len ||
            x->raw_hash != y->raw_hash || x->has_reading != y->has_reading ||
            x->reading_hash != y->reading_hash ||
            memcmp(&x->after, &y->after, sizeof x->after) != 0) {
            return false;
        }
    }
    return true;
}

/* The one-counter-per-telegram rule, and the counters against the parser's own. */
static void check_counters(bool tic, const struct rec *r)
{
    struct meter_in_counters c = {0};
    for (int i = 0; i < r->n; i++) {
        int v = r->t[i].verdict;
        c.telegrams_pass += v == METER_IN_OK;
        c.telegrams_fail += v == METER_IN_CRC_FAIL;
        c.telegrams_frame_fail += v == METER_IN_FRAME_FAIL || v == METER_IN_HISTORIC;
        CU_ASSERT_EQUAL(memcmp(&c, &r->t[i].after, sizeof c), 0);
    }
    CU_ASSERT_EQUAL(memcmp(&c, &r->end, sizeof c), 0);
    if (tic) {
        const struct tic_stats *s = tic_parser_stats(&tp);
        CU_ASSERT_EQUAL(c.telegrams_pass, s->frames_ok);
        CU_ASSERT_EQUAL(c.telegrams_fail, s->frames_crc_fail);
        CU_ASSERT_EQUAL(c.telegrams_frame_fail, s->frames_fail + s->frames_historic);
    } else {
        const struct dsmr_stats *s = dsmr_parser_stats(&dp);
        CU_ASSERT_EQUAL(c.telegrams_pass, s->telegrams_ok);
        CU_ASSERT_EQUAL(c.telegrams_fail, s->crc_fail);
        CU_ASSERT_EQUAL(c.telegrams_frame_fail, s->frame_fail);
    }
}

/* Whole vs every chunk size 1..len and a single boundary at every offset 1..len-1
 * (@p exhaustive), or vs chunk sizes 1..97 and boundaries within 3 bytes of every
 * telegram start and end of the whole feed (long streams). */
static void check_every_chunking(const char *name, bool tic, const uint8_t *data, size_t len,
                                 bool exhaustive)
{
    static struct rec whole, other;
    feed_chunked(tic, data, len, 0, &whole);
    check_counters(tic, &whole);
    int bad = 0;
    size_t max_chunk = exhaustive ? len : 97u;
    for (size_t c = 1; c <= max_chunk && bad < 3; c++) {
        feed_chunked(tic, data, len, c, &other);
        if (!rec_equal(&whole, &other)) {
            fprintf(stderr, "\n%s: chunks of %zu differ from whole (%d vs %d telegrams)\n", name, c,
                    other.n, whole.n);
            bad++;
        }
        check_counters(tic, &other);
    }
    for (size_t cut = 1; cut < len && bad < 3; cut++) {
        if (!exhaustive) {
            /* near a telegram boundary of the whole feed: where a start may be cut off */
            bool near = false;
            const uint8_t start_byte = tic ? TIC_STX : '/';
            for (size_t d = cut >= 3 ? cut - 3 : 0; d <= cut + 3 && d < len; d++) {
                near = near || data[d] == start_byte || (tic && data[d] == TIC_ETX) ||
                       (!tic && data[d] == '!');
            }
            if (!near) {
                continue;
            }
        }
        feed_cuts(tic, data, len, &cut, 1, &other);
        if (!rec_equal(&whole, &other)) {
            fprintf(stderr, "\n%s: a boundary at offset %zu changes the result (%d vs %d)\n", name,
                    cut, other.n, whole.n);
            bad++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* ------------------------------------------------------------------------- */
/* The corpus                                                                */
/* ------------------------------------------------------------------------- */

struct stream {
    const char *file;
    bool tic;
    const char *verdicts; /* by hand: o ok, c crc_fail, f frame_fail, h historic */
    bool open_at_end;     /* ends inside a telegram */
};

/* What each file holds (scenarios/telegrams/tic/gen_frames.py writes the TIC ones). */
static const struct stream corpus[] = {
    {"dsmr22_iskra_mt382.txt", false, "o", false},
    {"dsmr30_iskra_mt382.txt", false, "o", false},
    {"dsmr42_kaifa_1ph_placeholder.txt", false, "o", false},
    {"dsmr42_kaifa_3ph.txt", false, "o", false},
    {"dsmr50_iskra_3ph.txt", false, "o", false},
    {"dsmr50_iskra_3ph_lowercase_crc.txt", false, "o", false},
    {"dsmr50_iskra_am550_empty_mbus.txt", false, "o", false},
    {"dsmr50_spec_3ph.txt", false, "o", false},
    {"emucs16_fluvius_1ph.txt", false, "o", false},
    {"emucs171_fluvius_3ph.txt", false, "o", false},
    {"nwa_warmtelink_crc3.txt", false, "o", false},
    {"smarty_plaintext.txt", false, "o", false},
    {"hist-1ph.bin", true, "h", false},
    {"hist-3ph.bin", true, "hh", false},
    {"std-1ph-eot.bin", true, "fo", false},
    {"std-1ph-noisy.bin", true, "c", false},
    {"std-1ph-producer.bin", true, "o", false},
    {"std-1ph-restart.bin", true, "fo", false},
    {"std-1ph-stream.bin", true, "oo", true}, /* tail, 2 frames, head */
    {"std-1ph-textlog.bin", true, "o", false},
    {"std-1ph-variants.bin", true, "o", false},
    {"std-1ph.bin", true, "o", false},
    {"std-3ph-noisy.bin", true, "c", false},
    {"std-3ph-producer-noisy.bin", true, "c", false},
    {"std-3ph-producer.bin", true, "o", false},
    {"std-3ph.bin", true, "o", false},
};
#define CORPUS_N (sizeof corpus / sizeof corpus[0])

static uint8_t *load(const struct stream *s, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s", s->tic ? TIC_DIR : DSMR_DIR, s->file);
    uint8_t *b = ml_test_read_file(path, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    return b;
}

static void verdict_string(const struct rec *r, char *s)
{
    static const char letters[] = "?ocfh";
    for (int i = 0; i < r->n; i++) {
        s[i] = r->t[i].verdict >= 1 && r->t[i].verdict <= 4 ? letters[r->t[i].verdict] : '?';
    }
    s[r->n] = '\0';
}

/* Each corpus file: the verdicts written above, then every chunking. */
static void test_meter_in_corpus_every_chunking(void)
{
    for (size_t i = 0; i < CORPUS_N; i++) {
        size_t len;
        uint8_t *b = load(&corpus[i], &len);
        static struct rec r;
        char got[TELS_MAX + 1];
        feed_chunked(corpus[i].tic, b, len, 0, &r);
        verdict_string(&r, got);
        if (strcmp(got, corpus[i].verdicts) != 0) {
            fprintf(stderr, "\n%s: verdicts %s, want %s\n", corpus[i].file, got,
                    corpus[i].verdicts);
        }
        CU_ASSERT_STRING_EQUAL(got, corpus[i].verdicts);
        CU_ASSERT_EQUAL(r.idle, !corpus[i].open_at_end);
        check_every_chunking(corpus[i].file, corpus[i].tic, b, len, true);
        free(b);
    }
}

/* Appends @p n bytes to a growing stream buffer. */
struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2u;
        b->p = realloc(b->p, b->cap);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* All files of one protocol run together, with line noise after some, and each one
 * followed by the first half of a telegram that the next file's start cuts off: faulty
 * streams as a meter line gives them. The files' own verdicts, one cut-off frame_fail
 * between each two, and the last half telegram left open. */
static void check_protocol_stream(bool tic)
{
    static const uint8_t noise[] = "\r\n\x7f noise \r\n"; /* no '/', STX or EOT */
    const struct stream half = {tic ? "std-1ph.bin" : "dsmr50_spec_3ph.txt", tic, "", false};
    size_t half_len;
    uint8_t *h = load(&half, &half_len);
    /* The half telegram ends at a line end: a P1 '/' restarts a telegram only at a line
     * start or before a "XXX5" identification (docs/decode.md), and one corpus meter
     * (nwa_warmtelink) identifies as "/NWA-..."; a mid-line cut is in the chunk tests. */
    size_t cut = half_len / 2u;
    while (!tic && cut < half_len && h[cut - 1u] != '\n') {
        cut++;
    }
    struct buf s = {0};
    char want[TELS_MAX + 1] = "";
    int cuts = 0;
    for (size_t i = 0; i < CORPUS_N; i++) {
        if (corpus[i].tic != tic || corpus[i].open_at_end) {
            continue; /* the one stream that starts and ends mid-frame is tested alone */
        }
        size_t len;
        uint8_t *b = load(&corpus[i], &len);
        if (cuts > 0) {
            strcat(want, "f"); /* the half telegram before this file */
        }
        put(&s, b, len);
        strcat(want, corpus[i].verdicts);
        if (i % 3u == 0u) {
            put(&s, noise, sizeof noise - 1u);
        }
        put(&s, h, cut);
        cuts++;
        free(b);
    }
    static struct rec r;
    char got[TELS_MAX + 1];
    feed_chunked(tic, s.p, s.len, 0, &r);
    verdict_string(&r, got);
    CU_ASSERT_STRING_EQUAL(got, want);
    CU_ASSERT_FALSE(r.idle);
    int cut_offs = 0;
    for (int i = 0; i < r.n; i++) {
        cut_offs += r.t[i].reason == METER_IN_REASON_CUT_OFF && r.t[i].raw_len == cut;
    }
    CU_ASSERT_EQUAL(cut_offs, cuts - 1);
    check_every_chunking(tic ? "all TIC files" : "all P1 files", tic, s.p, s.len, false);
    free(s.p);
    free(h);
}

static void test_meter_in_p1_stream_every_chunking(void)
{
    check_protocol_stream(false);
}

static void test_meter_in_tic_stream_every_chunking(void)
{
    check_protocol_stream(true);
}

/* ------------------------------------------------------------------------- */
/* The boundary bug of issue 17                                              */
/* ------------------------------------------------------------------------- */

/* A telegram cut off by a new start that is the first byte of a chunk: the parser gives
 * the cut-off verdict with nothing consumed; the good telegrams after it all come out. */
static void check_cut_off_at_chunk_start(bool tic, const char *file)
{
    const struct stream s = {file, tic, "", false};
    size_t len;
    uint8_t *b = load(&s, &len);
    struct buf st = {0};
    put(&st, b, len / 2u); /* half a telegram */
    size_t cut = st.len;   /* the next start is the first byte of the second chunk */
    for (int i = 0; i < 7; i++) {
        put(&st, b, len);
    }
    static struct rec r;
    feed_cuts(tic, st.p, st.len, &cut, 1, &r);
    CU_ASSERT_EQUAL_FATAL(r.n, 8);
    CU_ASSERT_EQUAL(r.t[0].verdict, METER_IN_FRAME_FAIL);
    CU_ASSERT_EQUAL(r.t[0].reason, METER_IN_REASON_CUT_OFF);
    CU_ASSERT_EQUAL(r.t[0].raw_len, len / 2u);
    CU_ASSERT_FALSE(r.t[0].has_reading);
    for (int i = 1; i < 8; i++) {
        CU_ASSERT_EQUAL(r.t[i].verdict, METER_IN_OK);
        CU_ASSERT_EQUAL(r.t[i].raw_len, len - (tic ? 0u : 2u)); /* P1: CR LF after the CRC */
        CU_ASSERT_TRUE(r.t[i].has_reading);
    }
    CU_ASSERT_EQUAL(r.end.telegrams_pass, 7);
    CU_ASSERT_EQUAL(r.end.telegrams_fail, 0);
    CU_ASSERT_EQUAL(r.end.telegrams_frame_fail, 1);
    CU_ASSERT_TRUE(r.idle);
    free(st.p);
    free(b);
}

static void test_meter_in_tic_cut_off_at_chunk_start(void)
{
    check_cut_off_at_chunk_start(true, "std-1ph.bin");
}

static void test_meter_in_p1_cut_off_at_chunk_start(void)
{
    check_cut_off_at_chunk_start(false, "dsmr50_spec_3ph.txt");
}

/* ------------------------------------------------------------------------- */
/* What the callback gets                                                    */
/* ------------------------------------------------------------------------- */

struct seen {
    int n;
    struct meter_in_telegram t[8];
    int64_t east;
};

static void keep(void *ctx, const struct meter_in_telegram *t)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        s->t[s->n++] = *t;
    }
    if (t->reading != NULL) {
        reading_get(t->reading, READING_E_IMP, &s->east);
    }
}

/* TIC reasons and readings: EOT, then a good frame whose EAST reaches the callback
 * (gen_frames.py std_1ph); historic frames give no reading. */
static void test_meter_in_tic_reasons_and_reading(void)
{
    const struct stream s = {"std-1ph-eot.bin", true, "", false};
    size_t len;
    uint8_t *b = load(&s, &len);
    struct seen seen = {0};
    start(true);
    CU_ASSERT_EQUAL(meter_in_feed(&mi, b, len, keep, &seen), 2);
    free(b);
    CU_ASSERT_EQUAL_FATAL(seen.n, 2);
    CU_ASSERT_EQUAL(seen.t[0].verdict, METER_IN_FRAME_FAIL);
    CU_ASSERT_EQUAL(seen.t[0].reason, METER_IN_REASON_EOT);
    CU_ASSERT_PTR_NULL(seen.t[0].reading);
    CU_ASSERT_EQUAL(seen.t[1].verdict, METER_IN_OK);
    CU_ASSERT_EQUAL(seen.t[1].reason, METER_IN_REASON_NONE);
    CU_ASSERT_PTR_EQUAL(seen.t[1].reading, &out);
    CU_ASSERT_EQUAL(seen.east, 12345678000LL); /* EAST 012345678 (Wh), in mWh */
    CU_ASSERT_EQUAL(meter_in_protocol(&mi), METER_IN_TIC);

    const struct stream h = {"hist-1ph.bin", true, "", false};
    b = load(&h, &len);
    struct seen hs = {0};
    CU_ASSERT_EQUAL(meter_in_feed(&mi, b, len, keep, &hs), 1);
    free(b);
    CU_ASSERT_EQUAL(hs.t[0].verdict, METER_IN_HISTORIC);
    CU_ASSERT_PTR_NULL(hs.t[0].reading);
    CU_ASSERT_EQUAL(meter_in_counters(&mi)->telegrams_frame_fail, 2);
    CU_ASSERT_EQUAL(meter_in_counters(&mi)->telegrams_pass, 1);
}

/* P1: a CRC failure gives no reading, a telegram cut off by '/' or too long says why,
 * and a NULL callback still counts. */
static void test_meter_in_p1_verdicts(void)
{
    const struct stream s = {"dsmr50_spec_3ph.txt", false, "", false};
    size_t len;
    uint8_t *b = load(&s, &len);
    struct buf st = {0};
    put(&st, b, len);
    st.p[40] ^= 0x01; /* a flipped bit inside the first telegram: CRC fail */
    put(&st, b, 100); /* cut off by the next '/' */
    put(&st, b, len);
    struct seen seen = {0};
    start(false);
    CU_ASSERT_EQUAL(meter_in_feed(&mi, st.p, st.len, keep, &seen), 3);
    CU_ASSERT_EQUAL_FATAL(seen.n, 3);
    CU_ASSERT_EQUAL(seen.t[0].verdict, METER_IN_CRC_FAIL);
    CU_ASSERT_PTR_NULL(seen.t[0].reading);
    CU_ASSERT_EQUAL(seen.t[1].verdict, METER_IN_FRAME_FAIL);
    CU_ASSERT_EQUAL(seen.t[1].reason, METER_IN_REASON_CUT_OFF);
    CU_ASSERT_EQUAL(seen.t[1].raw.len, 100);
    CU_ASSERT_EQUAL(seen.t[2].verdict, METER_IN_OK);
    CU_ASSERT_PTR_EQUAL(seen.t[2].reading, &out);
    CU_ASSERT_EQUAL(meter_in_protocol(&mi), METER_IN_P1);

    /* a telegram without an end: oversize once ML_DSMR_MAX_TELEGRAM bytes are in */
    uint8_t big[ML_DSMR_MAX_TELEGRAM + 64];
    memset(big, 'x', sizeof big);
    big[0] = '/';
    CU_ASSERT_EQUAL(meter_in_feed(&mi, big, sizeof big, NULL, NULL), 1);
    CU_ASSERT_EQUAL(meter_in_feed(&mi, b, len, keep, &seen), 1);
    CU_ASSERT_EQUAL(seen.t[3].verdict, METER_IN_OK);
    const struct meter_in_counters *c = meter_in_counters(&mi);
    CU_ASSERT_EQUAL(c->telegrams_pass, 2);
    CU_ASSERT_EQUAL(c->telegrams_fail, 1);
    CU_ASSERT_EQUAL(c->telegrams_frame_fail, 2);

    /* a telegram left open: no verdict, counted nowhere */
    CU_ASSERT_EQUAL(meter_in_feed(&mi, b, 50, NULL, NULL), 0);
    CU_ASSERT_FALSE(meter_in_is_idle(&mi));
    CU_ASSERT_EQUAL(c->telegrams_frame_fail, 2);
    CU_ASSERT_EQUAL(meter_in_feed(&mi, b + 50, len - 50, NULL, NULL), 1);
    CU_ASSERT_EQUAL(c->telegrams_pass, 3);
    free(st.p);
    free(b);
}

static void test_meter_in_oversize_reason(void)
{
    uint8_t big[ML_DSMR_MAX_TELEGRAM + 64];
    memset(big, 'x', sizeof big);
    big[0] = '/';
    struct seen seen = {0};
    start(false);
    CU_ASSERT_EQUAL(meter_in_feed(&mi, big, sizeof big, keep, &seen), 1);
    CU_ASSERT_EQUAL(seen.t[0].reason, METER_IN_REASON_OVERSIZE);
}

static void test_meter_in_bad_args(void)
{
    struct meter_in z = {0};
    uint8_t x = '/';
    CU_ASSERT_EQUAL(meter_in_init_p1(NULL, &dp, &out), ML_EFAULT);
    CU_ASSERT_EQUAL(meter_in_init_p1(&mi, NULL, &out), ML_EFAULT);
    CU_ASSERT_EQUAL(meter_in_init_tic(NULL, &tp, &out), ML_EFAULT);
    CU_ASSERT_EQUAL(meter_in_init_tic(&mi, NULL, &out), ML_EFAULT);
    CU_ASSERT_EQUAL(meter_in_feed(NULL, &x, 1, NULL, NULL), ML_EFAULT);
    CU_ASSERT_EQUAL(meter_in_feed(&z, &x, 1, NULL, NULL), ML_EFAULT); /* never initialised */
    start(false);
    CU_ASSERT_EQUAL(meter_in_feed(&mi, NULL, 1, NULL, NULL), ML_EFAULT);
    CU_ASSERT_TRUE(meter_in_is_idle(&mi)); /* nothing consumed */
    CU_ASSERT_EQUAL(meter_in_feed(&mi, NULL, 0, NULL, NULL), 0);
    /* a NULL reading: the callback gets none */
    CU_ASSERT_EQUAL(meter_in_init_tic(&mi, &tp, NULL), ML_OK);
    const struct stream s = {"std-1ph.bin", true, "", false};
    size_t len;
    uint8_t *b = load(&s, &len);
    struct seen seen = {0};
    CU_ASSERT_EQUAL(meter_in_feed(&mi, b, len, keep, &seen), 1);
    CU_ASSERT_EQUAL(seen.t[0].verdict, METER_IN_OK);
    CU_ASSERT_PTR_NULL(seen.t[0].reading);
    free(b);
}

/* ------------------------------------------------------------------------- */

static void setup(void)
{
    reading_init(&out);
    CU_ASSERT_EQUAL(meter_in_init_p1(&mi, &dp, &out), ML_OK);
}

static void teardown(void)
{
    /* the parser under the input is consistent, and the counters add up to its own */
    if (meter_in_protocol(&mi) == METER_IN_TIC) {
        const struct tic_stats *s = tic_parser_stats(&tp);
        const struct meter_in_counters *c = meter_in_counters(&mi);
        CU_ASSERT_EQUAL(c->telegrams_pass + c->telegrams_fail + c->telegrams_frame_fail,
                        s->frames_ok + s->frames_crc_fail + s->frames_fail + s->frames_historic);
    } else {
        CU_ASSERT_TRUE(dsmr_stats_consistent(&dp));
        const struct dsmr_stats *s = dsmr_parser_stats(&dp);
        const struct meter_in_counters *c = meter_in_counters(&mi);
        CU_ASSERT_EQUAL(c->telegrams_pass + c->telegrams_fail + c->telegrams_frame_fail,
                        s->telegrams_ok + s->crc_fail + s->frame_fail);
    }
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_meter_in_corpus_every_chunking", test_meter_in_corpus_every_chunking},
        {"test_meter_in_p1_stream_every_chunking", test_meter_in_p1_stream_every_chunking},
        {"test_meter_in_tic_stream_every_chunking", test_meter_in_tic_stream_every_chunking},
        {"test_meter_in_tic_cut_off_at_chunk_start", test_meter_in_tic_cut_off_at_chunk_start},
        {"test_meter_in_p1_cut_off_at_chunk_start", test_meter_in_p1_cut_off_at_chunk_start},
        {"test_meter_in_tic_reasons_and_reading", test_meter_in_tic_reasons_and_reading},
        {"test_meter_in_p1_verdicts", test_meter_in_p1_verdicts},
        {"test_meter_in_oversize_reason", test_meter_in_oversize_reason},
        {"test_meter_in_bad_args", test_meter_in_bad_args},
    };
    return ml_test_run("meter_in", cases, sizeof cases / sizeof cases[0], setup, teardown);
}

/*
 * TIC streaming framer + label parser (standard mode), historic-mode detector.
 * Facts: shared/spec/tic.md (Enedis-NOI-CPT_54E v3). Design notes: docs/tic.md.
 *
 * Speed (docs/tic.md "Framing"): whole plain groups in the input take a fast path,
 * groups_fast(): one pass over each group's words copies them into the frame buffer,
 * finds the control bytes and sums the words (SWAR, modulo 64); a good standard
 * group is checked and stored right at its CR. Everything else (groups split across
 * feeds, noise, EOT, ...) takes the general path, frame_scan(): the bytes are copied
 * 64 at a time with a bitmap of their control bytes, only those are visited one by
 * one, a group is summed at its CR. Labels are dispatched by an exact 64-bit key
 * through a small hash table built by tic_parser_init() inside the caller's struct
 * (no mutable statics).
 */
#include "tic.h"

#include "err.h"
#include "str.h"

/* TIC_NOINLINE: kept out of line so that the loops keep their state in registers.
 * TIC_INLINE: the hot path's helpers, forced inline for speed; a size-optimised build
 * (-Os, the firmware) leaves it to the compiler, which keeps one copy of each. */
#if defined(__GNUC__)
#define TIC_NOINLINE __attribute__((noinline))
#if defined(__OPTIMIZE_SIZE__)
#define TIC_INLINE inline
#else
#define TIC_INLINE inline __attribute__((always_inline))
#endif
#else
#define TIC_NOINLINE
#define TIC_INLINE inline
#endif

/* A byte value repeated in the 8 bytes of a word (SWAR helpers). */
#define W8(b) ((uint64_t)(b)*0x0101010101010101u)

/* ------------------------------------------------------------------------- */
/* Label tables                                                              */
/* ------------------------------------------------------------------------- */

static const struct tic_label_info label_info[TIC_LABEL_COUNT] = {
#define TIC_X_INFO(id, name, kind, len, hd, unit)                                                  \
    [TIC_L_##id] = {name, unit, TIC_KIND_##kind, len, hd},
    TIC_LABELS(TIC_X_INFO)
#undef TIC_X_INFO
};

/* Historic-mode labels (54E v3 §6.1, Enedis-NOI-CPT_02E; tic.md §9). Disjoint from the
 * standard set; used to recognise historic groups sent with HT separators (02E, post-2013). */
static const char *const historic_labels[] = {
    "ADCO",    "OPTARIF", "ISOUSC",  "BASE",    "HCHC",     "HCHP",   "EJPHN",  "EJPHPM", "BBRHCJB",
    "BBRHPJB", "BBRHCJW", "BBRHPJW", "BBRHCJR", "BBRHPJR",  "PEJP",   "PTEC",   "DEMAIN", "IINST",
    "ADPS",    "IMAX",    "PAPP",    "HHPHC",   "MOTDETAT", "IINST1", "IINST2", "IINST3", "IMAX1",
    "IMAX2",   "IMAX3",   "PMAX",    "PPOT",    "ADIR1",    "ADIR2",  "ADIR3",  "GAZ",    "AUTRE",
};

#define TIC_HISTORIC_COUNT (sizeof(historic_labels) / sizeof(historic_labels[0]))

_Static_assert(1 + TIC_LABEL_COUNT + TIC_HISTORIC_COUNT <= 48 + TIC_LABEL_COUNT,
               "keys[] too small");
_Static_assert(TIC_LABEL_COUNT + TIC_HISTORIC_COUNT < TIC_HASH_SLOTS / 2, "hash too full");
_Static_assert(TIC_LABEL_COUNT + TIC_HISTORIC_COUNT < 255, "slot[] holds index + 1 in a byte");
_Static_assert(ML_TIC_MAX_FRAME >= 128 && ML_TIC_MAX_FRAME <= 65535, "offsets are uint16_t");

const struct tic_label_info *tic_label_info(enum tic_label l)
{
    if ((unsigned)l >= (unsigned)TIC_LABEL_COUNT) {
        return NULL;
    }
    return &label_info[l];
}

/* Label keys, exact (no string compare after the hash lookup), from the 7-bit bytes:
 *  - 1..7 characters: the bytes as a little-endian word, zero padded, length in byte 7;
 *  - 8 characters: the 8 bytes, bit 63 set;
 *  - 9 characters: the first 8 as for 8, the 7 bits of the 9th in bits 7, 15, .. 55
 *    (bit 7 of each byte: free), which are not all 0 (a 9th character NUL gives 0);
 *  - anything else: 0 (no label has it, so it is "unknown").
 * label_key() for any bytes, frame_key() (inline) for the 7-bit bytes in frame[]. */
#define TIC_KEY_SPREAD 0x0002040810204080u /* c * this: bit i of c at bit 7i + 7 + i */

static uint64_t label_key(const uint8_t *s, size_t n)
{
    if (n - 1u >= 9u) {
        return 0;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < n && i < 8u; i++) {
        k |= (uint64_t)(s[i] & 0x7Fu) << (8u * i);
    }
    if (n < 8u) {
        return k | (uint64_t)n << 56;
    }
    k |= (uint64_t)1 << 63;
    if (n == 9u) {
        uint64_t c = s[8] & 0x7Fu;
        k = c != 0 ? k | ((c * TIC_KEY_SPREAD) & W8(0x80)) : 0u;
    }
    return k;
}

/* Multiplicative hash; the multiplier was searched so that the 71 standard labels
 * land in 71 different slots (inserted first, each is found at the first probe);
 * historic and unknown labels may probe further. */
static uint32_t key_hash(uint64_t k)
{
    return (uint32_t)((k * 0x2DD447E56A4781D7u) >> 56) & (TIC_HASH_SLOTS - 1u);
}

static uint64_t cstr_key(const char *s)
{
    return label_key((const uint8_t *)s, ml_str_len(s));
}

/* keys[0] is 0, the key no label has: slot[] holds index + 1 into keys[], 0 when empty,
 * so a lookup ends on a match, the label's or (empty slot, or key 0) keys[0]'s. */
static void hash_insert(struct tic_parser *p, size_t idx, uint64_t key)
{
    ML_ASSERT(key != 0);
    p->keys[idx + 1u] = key;
    uint32_t h = key_hash(key);
    while (p->slot[h] != 0) {
        ML_ASSERT(p->keys[p->slot[h]] != key); /* duplicate label in the tables */
        h = (h + 1u) & (TIC_HASH_SLOTS - 1u);
    }
    p->slot[h] = (uint8_t)(idx + 1u);
}

/* Index of the label: < TIC_LABEL_COUNT standard, >= historic, -1 unknown. */
static int label_lookup(const struct tic_parser *p, uint64_t key)
{
    uint32_t h = key_hash(key);
    for (;;) {
        uint32_t s = p->slot[h];
        if (p->keys[s] == key || s == 0) {
            return (int)s - 1;
        }
        h = (h + 1u) & (TIC_HASH_SLOTS - 1u);
    }
}

/* ------------------------------------------------------------------------- */
/* Small decoders                                                            */
/* ------------------------------------------------------------------------- */

uint8_t tic_checksum(const uint8_t *bytes, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++) {
        s += bytes[i];
    }
    return (uint8_t)((s & 0x3Fu) + 0x20u);
}

/* Decimal digits only, 1..18 of them (no sign, no overflow). */
static bool parse_dec(const uint8_t *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 18) {
        return false;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t d = (uint32_t)s[i] - '0';
        if (d > 9u) {
            return false;
        }
        v = v * 10 + (int64_t)d;
    }
    *out = v;
    return true;
}

/* parse_dec() for the frame buffer, where 8 bytes at @p s may be read when
 * @p read8: up to 8 digits at once (SWAR), one more digit in front for the
 * 9-digit energies. */
static TIC_INLINE bool parse_dec_frame(const uint8_t *s, size_t n, bool read8, int64_t *out)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (read8 && n - 1u < 9u) {
        int64_t head = 0;
        if (n == 9u) {
            uint32_t d = (uint32_t)s[0] - '0';
            if (d > 9u) {
                return false;
            }
            head = (int64_t)d * 100000000;
            s++;
            n = 8;
        }
        uint64_t x;
        __builtin_memcpy(&x, s, 8);
        x ^= W8(0x30); /* digits become 0..9, bytes are 7-bit (framer) */
        if (n < 8u) {
            x <<= 8u * (8u - n); /* leading zeros; the first digit is the low byte */
        }
        if ((((x + W8(0x76)) | x) & W8(0x80)) != 0) {
            return false; /* a byte above 9: not a digit */
        }
        x = (x * 2561u) >> 8;
        x = ((x & 0x00FF00FF00FF00FFu) * 6553601u) >> 16;
        x = ((x & 0x0000FFFF0000FFFFu) * 42949672960001u) >> 32;
        *out = head + (int64_t)x;
        return true;
    }
#endif /* little endian */
    (void)read8;
    return parse_dec(s, n, out);
}

static bool parse_hex(const uint8_t *s, size_t n, uint32_t *out)
{
    if (n == 0 || n > 8) {
        return false;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10u;
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10u;
        } else {
            return false;
        }
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

/* parse_hex() of exactly 8 digits in the frame buffer (7-bit bytes, 8 readable), all
 * at once (SWAR): each byte checked to be 0-9, A-F or a-f, the nibbles then packed. */
static TIC_INLINE bool parse_hex8_frame(const uint8_t *s, uint32_t *out)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t x;
    __builtin_memcpy(&x, s, 8);
    /* Per byte, bit 7 of x + (0x80 - c) is set when x >= c (no carries: x < 0x80). */
    uint64_t digit = (x + W8(0x50)) & ~(x + W8(0x46));      /* 0x30 <= x < 0x3A */
    uint64_t letter = ((x + W8(0x3F)) & ~(x + W8(0x39)))    /* 0x41 <= x < 0x47 */
                      | ((x + W8(0x1F)) & ~(x + W8(0x19))); /* 0x61 <= x < 0x67 */
    if (((digit | letter) & W8(0x80)) != W8(0x80)) {
        return false;
    }
    x = (x & W8(0x0F)) + ((letter & W8(0x80)) >> 7) * 9u; /* nibbles, the first in byte 0 */
    x = ((x << 4) | (x >> 8)) & 0x00FF00FF00FF00FFu;
    x = ((x << 8) | (x >> 16)) & 0x0000FFFF0000FFFFu;
    *out = (uint32_t)((x << 16) | (x >> 32));
    return true;
#else
    return parse_hex(s, 8, out);
#endif /* little endian */
}

static int two(const uint8_t *s)
{
    uint32_t a = (uint32_t)s[0] - '0';
    uint32_t b = (uint32_t)s[1] - '0';
    if (a > 9u || b > 9u) {
        return -1;
    }
    return (int)(a * 10u + b);
}

int tic_horodate_decode(const uint8_t *s, size_t n, struct tic_horodate *out)
{
    ML_VERIFY(s != NULL && out != NULL, ML_EINVAL);
    ML_VERIFY(n == 13, ML_EINVAL);
    char season = (char)s[0];
    int dst;
    switch (season) {
    case 'H':
    case 'h':
        dst = 0;
        break;
    case 'E':
    case 'e':
        dst = 1;
        break;
    case ' ':
        dst = -1; /* DPMx/FPMx: season not applicable, apply the EU rules */
        break;
    default:
        return ML_EINVAL;
    }
    int f[6]; /* YY MM DD hh mm ss */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The 12 digits as two words, s[1..8] and s[5..12], checked and paired at once (SWAR). */
    uint64_t a;
    uint64_t b;
    __builtin_memcpy(&a, s + 1, 8);
    __builtin_memcpy(&b, s + 5, 8);
    a ^= W8(0x30);
    b ^= W8(0x30);
    ML_VERIFY(((((a + W8(0x76)) | a) | ((b + W8(0x76)) | b)) & W8(0x80)) == 0, ML_EINVAL);
    a = (a * 10u + (a >> 8)) & 0x00FF00FF00FF00FFu; /* 16-bit lanes: the pairs' values */
    b = (b * 10u + (b >> 8)) & 0x00FF00FF00FF00FFu;
    for (int i = 0; i < 4; i++) {
        f[i] = (int)((a >> (16 * i)) & 0xFFu);
    }
    f[4] = (int)((b >> 32) & 0xFFu);
    f[5] = (int)(b >> 48);
#else
    for (int i = 0; i < 6; i++) {
        f[i] = two(s + 1 + 2 * i);
        ML_VERIFY(f[i] >= 0, ML_EINVAL);
    }
#endif /* little endian */
    int64_t utc = reading_local_to_utc(2000 + f[0], f[1], f[2], f[3], f[4], f[5], dst);
    ML_VERIFY(utc >= 0, ML_EINVAL);
    out->season = season;
    out->dst = dst == 1;
    out->degraded = season == 'h' || season == 'e';
    out->year = (uint16_t)(2000 + f[0]);
    out->month = (uint8_t)f[1];
    out->day = (uint8_t)f[2];
    out->hour = (uint8_t)f[3];
    out->min = (uint8_t)f[4];
    out->sec = (uint8_t)f[5];
    out->utc = utc;
    return ML_OK;
}

void tic_stge_decode(uint32_t raw, struct tic_stge *out)
{
    /* Bit positions: 54E v3 §6.2.3.14 as tabulated in tic.md §8. */
    out->raw = raw;
    out->contact_open = (raw & 1u) != 0;
    out->cutoff = (uint8_t)((raw >> 1) & 7u);
    out->cover_open = ((raw >> 4) & 1u) != 0;
    out->overvoltage = ((raw >> 6) & 1u) != 0;
    out->pref_exceeded = ((raw >> 7) & 1u) != 0;
    out->producer = ((raw >> 8) & 1u) != 0;
    out->energy_negative = ((raw >> 9) & 1u) != 0;
    out->supplier_index = (uint8_t)(((raw >> 10) & 15u) + 1u);
    out->distributor_index = (uint8_t)(((raw >> 14) & 3u) + 1u);
    out->clock_degraded = ((raw >> 16) & 1u) != 0;
    out->standard_mode = ((raw >> 17) & 1u) != 0;
    out->euridis = (uint8_t)((raw >> 19) & 3u);
    out->cpl_status = (uint8_t)((raw >> 21) & 3u);
    out->cpl_synchronised = ((raw >> 23) & 1u) != 0;
    out->tempo_today = (uint8_t)((raw >> 24) & 3u);
    out->tempo_tomorrow = (uint8_t)((raw >> 26) & 3u);
    out->peak_notice = (uint8_t)((raw >> 28) & 3u);
    out->peak_active = (uint8_t)((raw >> 30) & 3u);
}

int tic_profile_decode(const uint8_t *s, size_t n, struct tic_profile_slot *out, size_t cap)
{
    ML_VERIFY(s != NULL || n == 0, ML_EINVAL);
    ML_VERIFY(out != NULL || cap == 0, ML_EINVAL);
    size_t count = 0;
    size_t i = 0;
    while (i < n && count < cap) {
        ML_VERIFY(n - i >= 8, ML_EINVAL);
        const uint8_t *b = s + i;
        struct tic_profile_slot *o = &out[count];
        static const char nonutile[8] = {'N', 'O', 'N', 'U', 'T', 'I', 'L', 'E'};
        bool unused = true;
        for (size_t k = 0; k < 8; k++) {
            if (b[k] != (uint8_t)nonutile[k]) {
                unused = false;
                break;
            }
        }
        if (unused) {
            o->used = false;
            o->hour = o->min = o->index = o->contacts = o->dry = 0;
            o->action = 0;
        } else {
            int hh = two(b);
            int mm = two(b + 2);
            uint32_t act;
            ML_VERIFY(hh >= 0 && hh <= 23 && mm >= 0 && mm <= 59, ML_EINVAL);
            ML_VERIFY(parse_hex(b + 4, 4, &act), ML_EINVAL);
            o->used = true;
            o->hour = (uint8_t)hh;
            o->min = (uint8_t)mm;
            o->action = (uint16_t)act;
            o->index = (uint8_t)(act & 15u);
            if (o->index > 10u) {
                o->index = 0; /* 11..15 = no change (tic.md §6) */
            }
            o->contacts = (uint8_t)((act >> 4) & 0x7Fu);
            o->dry = (uint8_t)((act >> 14) & 3u);
        }
        count++;
        i += 8;
        if (i < n) {
            ML_VERIFY(s[i] == ' ', ML_EINVAL);
            i++;
        }
    }
    return (int)count;
}

/* ------------------------------------------------------------------------- */
/* Parser state                                                              */
/* ------------------------------------------------------------------------- */

enum {
    ST_IDLE = 0,    /* waiting for STX */
    ST_BETWEEN = 1, /* in a frame, between groups: LF or ETX expected */
    ST_GROUP = 2,   /* in a group: collecting until CR */
};

int tic_parser_init(struct tic_parser *p, struct reading *out)
{
    ML_VERIFY(p != NULL, ML_EFAULT);
    uint8_t *b = (uint8_t *)p;
    /* Clear everything but the frame buffer (written before it is read). */
    for (size_t i = 0; i < offsetof(struct tic_parser, frame); i++) {
        b[i] = 0;
    }
    for (size_t i = ML_TIC_MAX_FRAME; i < sizeof p->frame; i++) {
        p->frame[i] = 0; /* the slack is read (and masked off), never written */
    }
    p->out = out;
    for (size_t i = 0; i < TIC_LABEL_COUNT; i++) {
        hash_insert(p, i, cstr_key(label_info[i].name));
    }
    for (size_t i = 0; i < TIC_HISTORIC_COUNT; i++) {
        hash_insert(p, TIC_LABEL_COUNT + i, cstr_key(historic_labels[i]));
    }
    return ML_OK;
}

void tic_parser_reset(struct tic_parser *p)
{
    if (p != NULL) {
        p->state = ST_IDLE;
    }
}

bool tic_parser_is_idle(const struct tic_parser *p)
{
    return p->state == ST_IDLE;
}

const struct tic_frame_result *tic_parser_result(const struct tic_parser *p)
{
    return &p->last;
}

const struct tic_stats *tic_parser_stats(const struct tic_parser *p)
{
    return &p->stats;
}

struct ml_span tic_parser_frame(const struct tic_parser *p)
{
    struct ml_span s = {p->frame, p->pos};
    return s;
}

static bool has(const struct tic_parser *p, enum tic_label l)
{
    return ((p->present[(unsigned)l / 64u] >> ((unsigned)l % 64u)) & 1u) != 0;
}

bool tic_parser_num(const struct tic_parser *p, enum tic_label l, int64_t *v)
{
    if ((unsigned)l >= (unsigned)TIC_LABEL_COUNT || !has(p, l)) {
        return false;
    }
    enum tic_kind k = label_info[l].kind;
    if (k != TIC_KIND_NUM && k != TIC_KIND_HEX) {
        return false;
    }
    *v = p->val[l].num;
    return true;
}

struct ml_span tic_parser_text(const struct tic_parser *p, enum tic_label l)
{
    struct ml_span s = {NULL, 0};
    if ((unsigned)l < (unsigned)TIC_LABEL_COUNT && has(p, l)) {
        s.ptr = p->frame + p->val[l].data_off;
        s.len = p->val[l].data_len;
    }
    return s;
}

int tic_parser_horodate(const struct tic_parser *p, enum tic_label l, struct tic_horodate *out)
{
    ML_VERIFY(out != NULL, ML_EINVAL);
    if ((unsigned)l >= (unsigned)TIC_LABEL_COUNT || !has(p, l) || p->val[l].hd_off == 0) {
        return ML_ENOENT;
    }
    return tic_horodate_decode(p->frame + p->val[l].hd_off, 13, out);
}

bool tic_parser_stge(const struct tic_parser *p, struct tic_stge *out)
{
    int64_t v;
    if (!tic_parser_num(p, TIC_L_STGE, &v)) {
        return false;
    }
    tic_stge_decode((uint32_t)v, out);
    return true;
}

/* ------------------------------------------------------------------------- */
/* Groups                                                                    */
/* ------------------------------------------------------------------------- */

/* 8 bytes as a little-endian word (byte i in bits 8i..8i+7). */
static TIC_INLINE uint64_t ld64(const uint8_t *s)
{
    uint64_t x;
    __builtin_memcpy(&x, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

/* Stores ld64()'s word back (byte i from bits 8i..8i+7). */
static TIC_INLINE void st64(uint8_t *d, uint64_t x)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    __builtin_memcpy(d, &x, 8);
}

/* Sum of the 7-bit bytes s[0..n) modulo 64 (all the checksums need). Reads up to 7
 * bytes past s + n (the frame buffer has TIC_FRAME_SLACK bytes after its end). Byte
 * lanes are reduced mod 64 before each add, so they never carry into each other. */
static TIC_INLINE uint32_t sum64(const uint8_t *s, uint32_t n)
{
    uint64_t acc = 0;
    for (; n > 8u; n -= 8u, s += 8) {
        acc = (acc & W8(0x3F)) + ld64(s);
    }
    if (n != 0) {
        acc = (acc & W8(0x3F)) + (ld64(s) << (8u * (8u - n)));
    }
    acc &= W8(0x3F);
    acc += acc >> 32;
    acc += acc >> 16;
    acc += acc >> 8;
    return (uint32_t)acc & 0x3Fu;
}

/* label_key() of a label in the frame buffer (7-bit bytes, 8 readable at @p s). */
static TIC_INLINE uint64_t frame_key(const uint8_t *s, uint32_t n)
{
    uint64_t w = ld64(s);
    if (n - 1u < 7u) {
        return (w & (((uint64_t)1 << (8u * n)) - 1u)) | (uint64_t)n << 56;
    }
    w |= (uint64_t)1 << 63;
    if (n == 8u) {
        return w;
    }
    if (n == 9u && s[8] != 0u) {
        return w | ((s[8] * TIC_KEY_SPREAD) & W8(0x80));
    }
    return 0;
}

static void group_bad(struct tic_parser *p)
{
    p->cur.groups_bad++;
    p->stats.groups_bad++;
}

static void value_invalid(struct tic_parser *p)
{
    p->cur.values_invalid++;
    p->stats.values_invalid++;
}

/* Per label: kind (bits 0..1) and the number of HTs its groups have (bits 2..3: 3 with
 * a horodate, else 2), a compact copy of label_info for the hot path. */
static const uint8_t label_shape[TIC_LABEL_COUNT] = {
#define TIC_X_SHAPE(id, name, kind, len, hd, unit) [TIC_L_##id] = TIC_KIND_##kind | (2 + (hd)) << 2,
    TIC_LABELS(TIC_X_SHAPE)
#undef TIC_X_SHAPE
};

/* A group with a right checksum and a known standard label: check the shape the
 * label requires (horodate or not, data syntax) and store it. The group is
 * frame[g0, g0 + n): label HT [horodate HT] data HT checksum, first HT at @p sep0. */
static TIC_INLINE void group_store(struct tic_parser *p, uint32_t idx, uint32_t g0, uint32_t n,
                                   uint32_t nsep, uint32_t sep0)
{
    const uint8_t *b = p->frame + g0;
    uint32_t shape = label_shape[idx];
    uint32_t hd_off = 0;
    uint32_t d0 = sep0 + 1u;
    if (nsep != shape >> 2) {
        value_invalid(p); /* horodate missing or unexpected */
        return;
    }
    if (nsep == 3u) {
        /* The middle HT must close a 13-character horodate SYYMMDDhhmmss. */
        hd_off = g0 + d0;
        d0 += 14u;
        if (d0 > n - 2u || b[d0 - 1u] != TIC_HT) {
            value_invalid(p);
            return;
        }
    }
    uint32_t dlen = n - 2u - d0;
    if (dlen > 255u) {
        value_invalid(p);
        return;
    }
    struct tic_value *v = &p->val[idx];
    const uint8_t *d = b + d0;
    uint32_t kind = shape & 3u;
    if (kind == TIC_KIND_NUM) {
        if (!parse_dec_frame(d, dlen, true, &v->num)) {
            value_invalid(p);
            return;
        }
    } else if (kind == TIC_KIND_HEX) {
        uint32_t h;
        if (!(dlen == 8u ? parse_hex8_frame(d, &h) : parse_hex(d, dlen, &h))) {
            value_invalid(p);
            return;
        }
        v->num = h;
    }
    v->data_off = (uint16_t)(g0 + d0);
    v->data_len = (uint8_t)dlen;
    v->hd_off = (uint16_t)hd_off;
    p->present[idx / 64u] |= (uint64_t)1 << (idx % 64u);
}

/* CR seen: the group body is frame[g0, g0 + n), with @p nsep HTs, the first at
 * offset @p sep0 (when nsep > 0); @p s is the sum of its bytes but the last (label ..
 * last separator) modulo 64, when n >= 3. */
TIC_NOINLINE static void group_end(struct tic_parser *p, uint32_t g0, uint32_t n, uint32_t nsep,
                                   uint32_t sep0, uint32_t s)
{
    const uint8_t *b = p->frame + g0;
    p->cur.groups++;
    if (n < 3u) {
        group_bad(p);
        return;
    }
    uint32_t cs = b[n - 1u];
    if (nsep - 2u < 2u) {
        /* 54E v3 §5.3.6: the checksum follows the last HT directly; the scan kept
         * only the first HT's place. */
        if (b[n - 2u] != TIC_HT || sep0 >= n - 2u) {
            group_bad(p);
            return;
        }
        bool std_ok = s + 0x20u == cs;
        int idx = label_lookup(p, frame_key(b, sep0));
        if (idx >= (int)TIC_LABEL_COUNT) {
            /* Historic label with HT separators (02E): either checksum variant. */
            if (std_ok || (((s - TIC_HT) & 0x3Fu) + 0x20u) == cs) {
                p->cur.groups_historic++;
            } else {
                group_bad(p);
            }
            return;
        }
        if (!std_ok) {
            group_bad(p);
            return;
        }
        p->std_good++;
        p->stats.groups_ok++;
        if (idx >= 0) {
            group_store(p, (uint32_t)idx, g0, n, nsep, sep0);
        } else if (sep0 == 0u) {
            value_invalid(p); /* empty label */
        } else {
            p->cur.groups_unknown++;
            p->stats.groups_unknown++;
            if (p->out != NULL) {
                /* Value as sent, from after the label to the last HT (horodate HT data). */
                uint32_t v0 = sep0 + 1u;
                reading_raw_add(p->out, (const char *)b, sep0, (const char *)(b + v0), n - 2u - v0);
            }
        }
        return;
    }
    if (nsep == 0u && n >= 4u && b[n - 2u] == TIC_SP) {
        /* Historic (tic.md §5): the sum excludes the SP before the checksum; 02E's
         * post-2013 variant includes it. */
        if ((((s - TIC_SP) & 0x3Fu) + 0x20u) == cs || s + 0x20u == cs) {
            p->cur.groups_historic++;
            return;
        }
    }
    group_bad(p);
}

/* ------------------------------------------------------------------------- */
/* Mapping into the reading (docs/tic.md "Mapping")                          */
/* ------------------------------------------------------------------------- */

static void set_num(struct reading *r, const struct tic_parser *p, enum tic_label l,
                    enum reading_field f, int64_t scale)
{
    if (has(p, l)) {
        reading_set(r, f, p->val[l].num * scale);
    }
}

static void set_str(struct reading_str *dst, const struct tic_parser *p, enum tic_label l)
{
    if (has(p, l)) {
        reading_str_set(dst, (const char *)p->frame + p->val[l].data_off, p->val[l].data_len);
    }
}

/* ADSC digits 5..6 are the device type (tic.md §6): 1 or 3 phases, 0 unknown. */
static uint8_t adsc_phases(const struct tic_parser *p)
{
    if (!has(p, TIC_L_ADSC) || p->val[TIC_L_ADSC].data_len != 12u) {
        return 0;
    }
    int t = two(p->frame + p->val[TIC_L_ADSC].data_off + 4);
    switch (t) {
    case 61:
    case 62:
    case 64:
    case 70:
    case 75:
        return 1;
    case 63:
    case 71:
    case 76:
        return 3;
    default:
        return 0;
    }
}

static void map_reading(struct tic_parser *p)
{
    struct reading *r = p->out;
    const int64_t k = 1000; /* unit -> milli-unit (reading.h exponents) */
    r->protocol = READING_PROTO_TIC;

    set_num(r, p, TIC_L_EAST, READING_E_IMP, k);
    set_num(r, p, TIC_L_EAIT, READING_E_EXP, k);
    for (int i = 0; i < 10; i++) {
        set_num(r, p, (enum tic_label)(TIC_L_EASF01 + i),
                (enum reading_field)(READING_E_IMP_T1 + i), k);
    }
    for (int i = 0; i < 4; i++) {
        set_num(r, p, (enum tic_label)(TIC_L_ERQ1 + i), (enum reading_field)(READING_EQ1 + i), k);
    }
    for (int i = 0; i < 3; i++) {
        set_num(r, p, (enum tic_label)(TIC_L_IRMS1 + i), (enum reading_field)(READING_L1_I + i), k);
        set_num(r, p, (enum tic_label)(TIC_L_URMS1 + i), (enum reading_field)(READING_L1_U + i), k);
    }
    set_num(r, p, TIC_L_PREF, READING_P_MAX_REF, k * k); /* kVA -> mVA */
    set_num(r, p, TIC_L_PCOUP, READING_P_CUT, k * k);
    set_num(r, p, TIC_L_NTARF, READING_TARIFF, 1);

    if (has(p, TIC_L_DATE)) {
        struct tic_horodate h;
        if (tic_horodate_decode(p->frame + p->val[TIC_L_DATE].hd_off, 13, &h) == ML_OK) {
            reading_set(r, READING_TS_UTC, h.utc);
            reading_set(r, READING_TS_DST, h.dst ? 1 : 0);
            p->cur.clock_degraded = h.degraded;
        } else {
            value_invalid(p);
        }
    }

    /* Phases: a phase-2/3 group or a three-phase ADSC type says 3; a single-phase ADSC
     * type, or phase-1 groups in a frame where no group was lost, says 1. */
    bool lost = p->cur.groups_bad != 0 || p->cur.groups_historic != 0;
    uint8_t ph = adsc_phases(p);
    if (has(p, TIC_L_IRMS2) || has(p, TIC_L_IRMS3) || has(p, TIC_L_URMS2) || has(p, TIC_L_URMS3) ||
        has(p, TIC_L_SINSTS1) || has(p, TIC_L_SINSTS2) || has(p, TIC_L_SINSTS3)) {
        ph = 3;
    } else if (ph == 0 && !lost && (has(p, TIC_L_IRMS1) || has(p, TIC_L_URMS1))) {
        ph = 1;
    }
    r->phases = ph;

    /* Powers (tic.md §7): the TIC only has unsigned apparent powers; SINSTS holds the
     * total while withdrawing, SINSTI while injecting (producer meters only). */
    bool has_s = has(p, TIC_L_SINSTS);
    bool has_i = has(p, TIC_L_SINSTI);
    int64_t s = p->val[TIC_L_SINSTS].num;
    int64_t si = p->val[TIC_L_SINSTI].num;
    if (has_s) {
        reading_set(r, READING_P_IMP, s * k);
        reading_set(r, READING_S_IMP, s * k);
    }
    if (has_i) {
        reading_set(r, READING_P_EXP, si * k);
        reading_set(r, READING_S_EXP, si * k);
    }
    if (has_s && has_i) {
        reading_set(r, READING_P, (s - si) * k);
        reading_set(r, READING_S, (s + si) * k); /* one of the two is 0 */
    } else if (has_s) {
        /* Without SINSTI, P = SINSTS only when the meter is known not to report injection:
         * a complete frame without SINSTI (a producer meter always sends it, tic.md §7),
         * or, when a group was lost (it could have been SINSTI), a valid STGE whose bit 8
         * (producer) is clear. */
        bool consumer = !lost;
        if (lost && has(p, TIC_L_STGE)) {
            consumer = ((p->val[TIC_L_STGE].num >> 8) & 1) == 0;
        }
        if (consumer) {
            reading_set(r, READING_P, s * k);
            reading_set(r, READING_S, s * k); /* SINSTS is the apparent power */
        }
    }
    /* Per phase: withdrawal only, never negative, 0 on an exporting phase. */
    for (int i = 0; i < 3; i++) {
        enum tic_label l = (enum tic_label)(TIC_L_SINSTS1 + i);
        if (has(p, l)) {
            reading_set(r, (enum reading_field)(READING_L1_P + i), p->val[l].num * k);
            reading_set(r, (enum reading_field)(READING_L1_P_IMP + i), p->val[l].num * k);
            reading_set(r, (enum reading_field)(READING_L1_S + i), p->val[l].num * k);
        }
    }
    if (ph == 1 && has_s && !has(p, TIC_L_SINSTS1)) {
        reading_set(r, READING_L1_P, s * k);
        reading_set(r, READING_L1_P_IMP, s * k);
        reading_set(r, READING_L1_S, s * k);
    }

    set_str(&r->header, p, TIC_L_ADSC);
    r->equipment = r->header; /* the same ADSC */
    set_str(&r->tariff_name, p, TIC_L_LTARF);
    if (has(p, TIC_L_MSG1)) {
        const uint8_t *m = p->frame + p->val[TIC_L_MSG1].data_off;
        size_t n = p->val[TIC_L_MSG1].data_len;
        size_t c = n > ML_READING_TEXT_MAX ? ML_READING_TEXT_MAX : n;
        /* 8 bytes at a time (frame[] has the slack to read, text[] the room to write), the
         * bytes past the message zero as reading_init() left them. */
        for (size_t i = 0; i < c; i += 8u) {
            uint64_t x = ld64(m + i);
            if (c - i < 8u) {
                x &= ((uint64_t)1 << (8u * (c - i))) - 1u;
            }
            st64((uint8_t *)r->text + i, x);
        }
        r->text[c] = '\0';
        r->text_len = (uint16_t)c;
        r->text_truncated = c < n;
    }
    reading_derive(r);
}

/* ------------------------------------------------------------------------- */
/* Frames                                                                    */
/* ------------------------------------------------------------------------- */

static void frame_start(struct tic_parser *p)
{
    p->stats.frames_started++;
    p->cur = (struct tic_frame_result){0};
    p->std_good = 0;
    for (size_t i = 0; i < ML_ARRAY_SIZE(p->present); i++) {
        p->present[i] = 0;
    }
    p->pos = 0;
    p->frame[p->pos++] = TIC_STX;
    p->state = ST_BETWEEN;
    if (p->out != NULL) {
        reading_init(p->out);
        p->out->protocol = READING_PROTO_TIC;
    }
}

static int frame_done(struct tic_parser *p, enum tic_verdict v)
{
    p->cur.verdict = v;
    p->last = p->cur;
    p->state = ST_IDLE;
    return (int)v;
}

TIC_NOINLINE static int frame_fail(struct tic_parser *p, enum tic_fail_reason why)
{
    p->stats.frames_fail++;
    if (why == TIC_FAIL_EOT) {
        p->stats.frames_eot++;
    } else if (why == TIC_FAIL_OVERSIZE) {
        p->stats.frames_oversize++;
    } else if (why == TIC_FAIL_RESTART) {
        p->stats.frames_restart++;
    }
    p->cur.reason = why;
    return frame_done(p, TIC_VERDICT_FRAME_FAIL);
}

TIC_NOINLINE static int frame_end(struct tic_parser *p)
{
    if (p->cur.groups == 0) {
        return frame_fail(p, TIC_FAIL_EMPTY);
    }
    if (p->cur.groups_historic != 0 && p->std_good == 0) {
        p->cur.historic = true;
        p->stats.frames_historic++;
        if (p->out != NULL) {
            p->out->tic_historic = true;
        }
        return frame_done(p, TIC_VERDICT_HISTORIC);
    }
    if (p->out != NULL) {
        map_reading(p);
    }
    if (p->cur.groups_bad != 0 || p->cur.groups_historic != 0) {
        p->stats.frames_crc_fail++;
        return frame_done(p, TIC_VERDICT_CRC_FAIL);
    }
    p->stats.frames_ok++;
    return frame_done(p, TIC_VERDICT_OK);
}

/* Input bytes [from, min(n, from + 64)) into frame[] (dst = the frame offset of
 * src[0]) with bit 7 stripped; returns their control bytes (< 0x20) as a bitmap
 * (bit i = byte from + i). Found 8 at a time (SWAR), the last partial word with 8
 * non-control bytes written after it (frame[] has 8 bytes of slack). */
TIC_NOINLINE static uint64_t scan_block(const uint8_t *src, uint8_t *dst, uint32_t from, uint32_t n)
{
    uint32_t to = n - from > 64u ? from + 64u : n;
    uint64_t bm = 0;
    uint32_t k = from;
    for (; to - k >= 8u; k += 8u) {
        uint64_t w;
        __builtin_memcpy(&w, src + k, 8);
        w &= W8(0x7F);
        __builtin_memcpy(dst + k, &w, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        uint64_t m = ~((w | W8(0x80)) - W8(0x20)) & W8(0x80);       /* per byte: < 0x20 */
        bm |= ((m >> 7) * 0x0102040810204080u) >> 56 << (k - from); /* lanes -> bits */
    }
    if (k < to) {
        for (uint32_t i = k; i < to; i++) {
            dst[i] = src[i] & 0x7Fu;
        }
        const uint64_t pad = W8(0x20);
        __builtin_memcpy(dst + to, &pad, 8);
        uint64_t m = ~((ld64(dst + k) | W8(0x80)) - W8(0x20)) & W8(0x80);
        bm |= ((m >> 7) * 0x0102040810204080u) >> 56 << (k - from);
    }
    return bm;
}

/* Index of the lowest set bit of @p m (m != 0). */
static TIC_INLINE uint32_t first_bit(uint64_t m)
{
#if UINTPTR_MAX > 0xFFFFFFFFu
    return (uint32_t)__builtin_ctzll(m);
#else
    uint32_t lo = (uint32_t)m;
    return lo != 0 ? (uint32_t)__builtin_ctz(lo)
                   : 32u + (uint32_t)__builtin_ctz((uint32_t)(m >> 32));
#endif
}

/* A group as the fast path found it: frame[g0, g0 + n), then CR (offsets from dst). */
struct tic_fast_group {
    uint32_t n;
    uint32_t nsep;
    uint32_t sep0; /* first HT, from g0 */
    uint32_t sum;  /* frame[g0, g0 + n - 1) modulo 64 (n >= 1) */
};

/* Scans the group whose first byte (after LF) is at src[g0] (offsets relative to dst,
 * as in frame_scan()), in one pass over its words: copies them into frame[] with bit
 * 7 stripped, finds the control bytes (SWAR), sums the words modulo 64. Fewer than 8
 * bytes left (none when g0 == n) are taken one by one into a word. False when the
 * group is not plain (a control byte other than HT before CR) or the input ends
 * before its CR: the general way takes it then. */
static TIC_INLINE bool group_scan(const uint8_t *src, uint8_t *dst, uint32_t g0, uint32_t n,
                                  struct tic_fast_group *g)
{
    uint32_t nsep = 0;
    uint32_t sep0 = 0;
    uint64_t acc = 0; /* byte lanes, reduced modulo 64 before each add */
    for (uint32_t k = g0;; k += 8u) {
        uint64_t w;
        uint64_t m;
        if (n - k >= 8u) {
            w = ld64(src + k) & W8(0x7F);
            st64(dst + k, w);
            m = ~(w + W8(0x60)) & W8(0x80); /* per byte: < 0x20 (bytes are 7-bit) */
        } else {
            /* The input ends in this word: its bytes one by one, the rest zero and
             * not looked at. */
            uint32_t r = n - k;
            w = 0;
            for (uint32_t i = 0; i < r; i++) {
                dst[k + i] = src[k + i] & 0x7Fu;
                w |= (uint64_t)dst[k + i] << (8u * i);
            }
            m = ~(w + W8(0x60)) & W8(0x80) & (((uint64_t)1 << (8u * r)) - 1u); /* r < 8 */
            if ((~((w ^ W8(TIC_CR)) + W8(0x7F)) & m) == 0) {
                return false; /* no CR in it: the loop below returns in this word */
            }
        }
        for (; m != 0; m &= m - 1u) {
            uint32_t lane = first_bit(m) >> 3;
            uint32_t q = k + lane;
            uint32_t c = dst[q];
            if (c == TIC_HT) {
                sep0 = nsep == 0u ? q - g0 : sep0;
                nsep++;
                continue;
            }
            if (c != TIC_CR) {
                return false;
            }
            acc = (acc & W8(0x3F)) + (w & (((uint64_t)1 << (8u * lane)) - 1u));
            acc &= W8(0x3F);
            acc += acc >> 32;
            acc += acc >> 16;
            acc += acc >> 8;
            g->n = q - g0;
            g->nsep = nsep;
            g->sep0 = sep0;
            /* The sum covers the checksum byte too (it may lie in the word before). */
            g->sum = ((uint32_t)acc - dst[q - 1u]) & 0x3Fu;
            return true;
        }
        acc = (acc & W8(0x3F)) + w;
    }
}

/* The fast path: plain groups one after the other from src[next] (an LF), each
 * scanned in one pass (group_scan()) and, in the common case (standard label,
 * right checksum), checked and stored here; other groups go to group_end(). Returns
 * where it stopped: the LF of a group it did not take, or a byte that is not LF. */
TIC_NOINLINE static uint32_t groups_fast(struct tic_parser *p, const uint8_t *src, uint8_t *dst,
                                         uint32_t base, uint32_t next, uint32_t n)
{
    uint32_t good = 0; /* groups stored here, counted at the end */
    while (next < n && (src[next] & 0x7Fu) == TIC_LF) {
        const uint32_t g0 = next + 1u;
        struct tic_fast_group g;
        if (!group_scan(src, dst, g0, n, &g)) {
            break;
        }
        dst[next] = TIC_LF;
        next = g0 + g.n + 1u;
        const uint8_t *b = dst + g0;
        /* group_end()'s tests for a good standard group; its n >= 3 and sep0 < n - 2
         * follow here: 2 or 3 HTs before the CR, one at n - 2, none at n - 1 (the
         * checksum character is 0x20..0x5F). */
        if (g.nsep - 2u < 2u && b[g.n - 2u] == TIC_HT && g.sum + 0x20u == b[g.n - 1u]) {
            int idx = label_lookup(p, frame_key(b, g.sep0));
            if ((unsigned)idx < (unsigned)TIC_LABEL_COUNT) {
                good++;
                group_store(p, (uint32_t)idx, base + g0, g.n, g.nsep, g.sep0);
                continue;
            }
        }
        group_end(p, base + g0, g.n, g.nsep, g.sep0, g.sum);
    }
    p->cur.groups = (uint16_t)(p->cur.groups + good);
    p->std_good = (uint16_t)(p->std_good + good);
    p->stats.groups_ok += good;
    return next;
}

/* nsep of a group known bad (noise where LF belongs): not 0, 2 or 3 for group_end(),
 * and no count of HTs reaches it. */
#define TIC_GBAD 0x40000000u

/* Bytes of a frame in progress (ST_BETWEEN or ST_GROUP), at most the room left in
 * frame[]. They are copied into frame[] with bit 7 stripped, 64 at a time, with a
 * bitmap of their control bytes (< 0x20, SWAR); only those are looked at one by one,
 * by a state machine whose state is where the code is (between groups, in a group).
 * A group is checked when its CR comes (group_end() sums it from frame[]). Returns a
 * verdict, with *used stopping right after the byte that completed it (before an
 * STX), or NEED_MORE with *used = bytes taken (all of @p len unless frame[] is full).
 * Offsets in the loop are relative to dst (the frame offset of src[0]), modulo 2^32. */
static int frame_scan(struct tic_parser *p, const uint8_t *src, size_t len, size_t *used)
{
    const uint32_t base = p->pos;
    uint32_t n = (uint32_t)ML_TIC_MAX_FRAME - base;
    if (len < n) {
        n = (uint32_t)len;
    }
    uint8_t *const dst = p->frame + base;
    uint32_t g0 = p->gstart - base; /* in a group: its first byte after LF */
    uint32_t nsep = p->nsep;        /* in a group: HTs so far, | TIC_GBAD when known bad */
    uint32_t sep0 = p->sep0;        /* in a group: first HT, relative to g0 */
    uint32_t next = 0;              /* between groups: where the next control byte is due */
    uint32_t k = 0;                 /* the current block of 64 bytes */
    uint32_t q;                     /* the control byte at hand */
    uint32_t c;                     /* and its value */
    uint64_t bm;
    if (p->state == ST_GROUP) {
        if (p->gbad) {
            nsep |= TIC_GBAD;
        }
        bm = scan_block(src, dst, 0, n);
        goto group;
    }
    /* Between groups: plain groups the fast way while they come, then the general way. */
    next = groups_fast(p, src, dst, base, 0, n);
    if (next < n && (src[next] & 0x7Fu) == TIC_ETX) {
        dst[next] = TIC_ETX; /* as frame_ctl below, not in a group */
        p->pos = (uint16_t)(base + next + 1u);
        *used = next + 1u;
        return frame_end(p);
    }
    k = next;
    bm = scan_block(src, dst, k, n);

/* The next control byte into q, c; to @p eof when the input is used up. */
#define TIC_NEXT(eof)                                                                              \
    do {                                                                                           \
        while (bm == 0) {                                                                          \
            k += 64u;                                                                              \
            if (k >= n) {                                                                          \
                goto eof;                                                                          \
            }                                                                                      \
            bm = scan_block(src, dst, k, n);                                                       \
        }                                                                                          \
        q = k + first_bit(bm);                                                                     \
        bm &= bm - 1u;                                                                             \
        c = dst[q];                                                                                \
    } while (0)

between:
    TIC_NEXT(eof_between);
    if (q != next) {
        /* Noise where LF belongs (at next): collect it as a group already bad, this
         * control byte included. */
        g0 = next + 1u;
        nsep = TIC_GBAD;
        goto group_byte;
    }
    if (c == TIC_LF) {
        g0 = q + 1u;
        nsep = 0;
        goto group;
    }
    if (c == TIC_CR) {
        next = q + 1u; /* a stray CR between groups is harmless (text logs) */
        goto between;
    }
    if (c == TIC_ETX || c == TIC_STX || c == TIC_EOT) {
        nsep = 0;
        g0 = q; /* not in a group: no group to count as bad at ETX */
        goto frame_ctl;
    }
    g0 = q + 1u; /* another control byte where LF belongs: a group already bad */
    nsep = TIC_GBAD;
    goto group;

group:
    TIC_NEXT(eof_group);
group_byte:
    if (c == TIC_HT) {
        if (nsep == 0u) {
            sep0 = q - g0;
        }
        nsep++;
        goto group;
    }
    if (c == TIC_CR) {
        group_end(p, base + g0, q - g0, nsep, sep0,
                  q - g0 >= 3u ? sum64(p->frame + (base + g0), q - g0 - 1u) : 0u);
        next = q + 1u;
        goto between;
    }
    if (c == TIC_LF) {
        /* CR lost (e.g. read as FF, tic.md §10): the open group is bad, a new one starts. */
        if (q != g0 || nsep >= TIC_GBAD) {
            p->cur.groups++;
            group_bad(p);
        }
        g0 = q + 1u;
        nsep = 0;
        goto group;
    }
    if (c != TIC_ETX && c != TIC_STX && c != TIC_EOT) {
        goto group; /* another control byte inside a group: data */
    }

frame_ctl:
    if (c == TIC_ETX) {
        if (q != g0 || nsep >= TIC_GBAD) {
            p->cur.groups++;
            group_bad(p);
        }
        p->pos = (uint16_t)(base + q + 1u);
        *used = q + 1u;
        return frame_end(p);
    }
    p->pos = (uint16_t)(base + q);
    if (c == TIC_STX) {
        *used = q; /* not consumed: it starts the next frame */
        return frame_fail(p, TIC_FAIL_RESTART);
    }
    *used = q + 1u;
    return frame_fail(p, TIC_FAIL_EOT);

eof_between:
    if (next < n) {
        /* Noise where LF belongs, up to the end of the input. */
        g0 = next + 1u;
        nsep = TIC_GBAD;
        goto eof_group;
    }
    p->state = ST_BETWEEN;
    goto eof;
eof_group:
    p->state = ST_GROUP;
    p->gstart = (uint16_t)(base + g0);
    p->gbad = nsep >= TIC_GBAD;
    nsep &= ~TIC_GBAD;
    p->nsep = (uint8_t)(nsep > 255u ? 255u : nsep);
    p->sep0 = (uint16_t)sep0;
eof:
    p->pos = (uint16_t)(base + n);
    *used = n;
    return TIC_VERDICT_NEED_MORE;
#undef TIC_NEXT
}

/* One byte outside frame_scan(): waiting for STX, or in a frame whose buffer is full.
 * *consumed is false only for an STX that ends the current frame: it is fed again to
 * start the next one. */
static int step(struct tic_parser *p, uint32_t c, bool *consumed)
{
    *consumed = true;
    if (p->state == ST_IDLE) {
        if (c == TIC_STX) {
            frame_start(p);
        } else {
            p->stats.bytes_ignored++;
        }
        return TIC_VERDICT_NEED_MORE;
    }
    if (c == TIC_STX) {
        *consumed = false;
        return frame_fail(p, TIC_FAIL_RESTART);
    }
    if (c == TIC_EOT) {
        return frame_fail(p, TIC_FAIL_EOT);
    }
    return frame_fail(p, TIC_FAIL_OVERSIZE);
}

int tic_parser_feed(struct tic_parser *p, const uint8_t *data, size_t len, size_t *used)
{
    ML_VERIFY(p != NULL, ML_EFAULT);
    ML_VERIFY(data != NULL || len == 0, ML_EFAULT);
    size_t i = 0;
    int v = TIC_VERDICT_NEED_MORE;
    while (i < len) {
        if (p->state != ST_IDLE && p->pos < (uint32_t)ML_TIC_MAX_FRAME) {
            size_t u;
            v = frame_scan(p, data + i, len - i, &u);
            i += u;
            if (v != TIC_VERDICT_NEED_MORE || i == len) {
                break;
            }
        }
        bool consumed;
        v = step(p, data[i] & 0x7Fu, &consumed);
        if (consumed) {
            i++;
        }
        if (v != TIC_VERDICT_NEED_MORE) {
            break;
        }
    }
    p->stats.bytes += (uint32_t)i;
    if (used != NULL) {
        *used = i;
    }
    return v;
}

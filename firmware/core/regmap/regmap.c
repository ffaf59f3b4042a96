/*
 * Register-map rendering: reading fields -> register words, per template.
 */
#include "regmap.h"

#include "err.h"

/* ------------------------------------------------------------------------- */
/* Entries                                                                   */
/* ------------------------------------------------------------------------- */

unsigned regmap_entry_words(const struct regmap_entry *e)
{
    switch (e->type) {
    case REGMAP_I16:
    case REGMAP_U16:
        return 1u;
    case REGMAP_I64:
        return 4u;
    default:
        return 2u;
    }
}

enum regmap_order regmap_entry_order(const struct regmap_template *t, const struct regmap_entry *e)
{
    if (e->order != REGMAP_ORDER_DEFAULT) {
        return (enum regmap_order)e->order;
    }
    return t->order == REGMAP_CDAB ? REGMAP_CDAB : REGMAP_ABCD;
}

static bool input_is_holding(const struct regmap_template *t)
{
    return t->input.entries == t->holding.entries;
}

static int check_space(const struct regmap_space *s)
{
    uint32_t next = 0;
    for (uint16_t i = 0; i < s->count; i++) {
        const struct regmap_entry *e = &s->entries[i];
        ML_VERIFY(e->addr >= next, ML_EINVAL);
        ML_VERIFY(e->type <= REGMAP_I64 && e->order <= REGMAP_CDAB, ML_EINVAL);
        ML_VERIFY(e->field >= REGMAP_SRC_STATE && e->field < (int)READING_FIELD_COUNT, ML_EINVAL);
        ML_VERIFY((e->field != REGMAP_SRC_AGE && e->field != REGMAP_SRC_STATE) ||
                      (e->type != REGMAP_F32 && e->type != REGMAP_I64),
                  ML_EINVAL);
        next = (uint32_t)e->addr + regmap_entry_words(e);
        ML_VERIFY(next <= 0x10000u, ML_EINVAL);
    }
    return ML_OK;
}

static uint32_t space_words(const struct regmap_space *s)
{
    uint32_t n = 0;
    for (uint16_t i = 0; i < s->count; i++) {
        n += regmap_entry_words(&s->entries[i]);
    }
    return n;
}

int regmap_template_check(const struct regmap_template *t)
{
    ML_VERIFY(t != NULL && t->name != NULL, ML_EINVAL);
    ML_VERIFY(t->order == REGMAP_ABCD || t->order == REGMAP_CDAB, ML_EINVAL);
    ML_VERIFY(check_space(&t->holding) == ML_OK, ML_EINVAL);
    uint32_t entries = t->holding.count;
    uint32_t words = space_words(&t->holding);
    if (!input_is_holding(t)) {
        ML_VERIFY(check_space(&t->input) == ML_OK, ML_EINVAL);
        entries += t->input.count;
        words += space_words(&t->input);
    } else {
        ML_VERIFY(t->input.count == t->holding.count, ML_EINVAL);
    }
    ML_VERIFY(entries <= REGMAP_MAX_ENTRIES && words <= REGMAP_MAX_WORDS, ML_EINVAL);
    return ML_OK;
}

/* ------------------------------------------------------------------------- */
/* Scaling and encoding                                                      */
/* ------------------------------------------------------------------------- */

static double pow10d(int k)
{
    double p = 1.0;
    for (int i = 0; i < k; i++) {
        p *= 10.0;
    }
    return p;
}

/* v * 10^k, rounded half away from zero, saturating at the int64 range. */
static int64_t scale_int(int64_t v, int k)
{
    if (k > 18) {
        k = 18;
    }
    if (k < -19) {
        return 0;
    }
    for (; k > 0; k--) {
        if (v > INT64_MAX / 10) {
            return INT64_MAX;
        }
        if (v < INT64_MIN / 10) {
            return INT64_MIN;
        }
        v *= 10;
    }
    if (k < 0) {
        int64_t d = 1;
        for (int i = 0; i < -k && i < 18; i++) {
            d *= 10;
        }
        if (k < -18) { /* 10^19 does not fit: anything below it rounds to 0 */
            return 0;
        }
        int64_t q = v / d;
        int64_t rem = v % d;
        if (rem < 0) {
            rem = -rem;
        }
        if (rem >= d - rem) { /* 2 * rem >= d without overflow */
            q += v < 0 ? -1 : 1;
        }
        v = q;
    }
    return v;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static void put_words(uint64_t bits, unsigned n, enum regmap_order order, uint16_t *out)
{
    for (unsigned i = 0; i < n; i++) {
        /* ABCD: most significant word first; CDAB: least significant first */
        unsigned w = order == REGMAP_CDAB ? i : n - 1u - i;
        out[i] = (uint16_t)(bits >> (16u * w));
    }
}

void regmap_encode(const struct regmap_template *t, const struct regmap_entry *e,
                   const struct reading *r, uint16_t *out)
{
    unsigned n = regmap_entry_words(e);
    int64_t v = 0;
    int k = 0; /* raw = v * 10^k */
    if (e->field == REGMAP_SRC_AGE || e->field == REGMAP_SRC_STATE) {
        put_words(0, n, regmap_entry_order(t, e), out); /* computed at read time */
        return;
    } else if (e->field == REGMAP_SRC_CONST) {
        v = e->konst;
        k = e->exp10;
    } else if (e->field == REGMAP_SRC_PRESENT) {
        uint32_t w = (uint32_t)e->konst;
        uint64_t bits = 0;
        if (w / 4u < ML_ARRAY_SIZE(r->present)) {
            bits = (r->present[w / 4u] >> (16u * (w % 4u))) & 0xFFFFu;
        }
        put_words(bits, n, regmap_entry_order(t, e), out);
        return;
    } else {
        const struct reading_field_info *fi = reading_field_info((enum reading_field)e->field);
        if (fi == NULL || !reading_get(r, (enum reading_field)e->field, &v)) {
            v = 0;
        }
        k = fi != NULL ? fi->exp10 - e->exp10 : 0;
    }

    uint64_t bits;
    switch (e->type) {
    case REGMAP_F32: {
        double d = (double)v;
        d = k >= 0 ? d * pow10d(k) : d / pow10d(-k);
        union {
            float f;
            uint32_t u;
        } fu;
        fu.f = (float)d;
        bits = fu.u;
        break;
    }
    case REGMAP_I32:
        bits = (uint32_t)(int32_t)clamp(scale_int(v, k), INT32_MIN, INT32_MAX);
        break;
    case REGMAP_U32:
        bits = (uint32_t)clamp(scale_int(v, k), 0, UINT32_MAX);
        break;
    case REGMAP_I16:
        bits = (uint16_t)(int16_t)clamp(scale_int(v, k), INT16_MIN, INT16_MAX);
        break;
    case REGMAP_U16:
        bits = (uint16_t)clamp(scale_int(v, k), 0, UINT16_MAX);
        break;
    default:
        bits = (uint64_t)scale_int(v, k);
        break;
    }
    put_words(bits, n, regmap_entry_order(t, e), out);
}

/* ------------------------------------------------------------------------- */
/* Snapshots                                                                 */
/* ------------------------------------------------------------------------- */

static uint16_t render_space(const struct regmap_template *t, const struct regmap_space *s,
                             const struct reading *r, struct regmap_snapshot *snap, uint16_t first,
                             uint16_t word)
{
    for (uint16_t i = 0; i < s->count; i++) {
        const struct regmap_entry *e = &s->entries[i];
        snap->off[first + i] = word;
        regmap_encode(t, e, r, &snap->words[word]);
        word = (uint16_t)(word + regmap_entry_words(e));
    }
    return word;
}

int regmap_render(const struct regmap_template *t, const struct reading *r,
                  struct regmap_snapshot *snap)
{
    ML_VERIFY(regmap_template_check(t) == ML_OK, ML_EINVAL);
    snap->tpl = t;
    uint16_t w = render_space(t, &t->holding, r, snap, 0, 0);
    if (!input_is_holding(t)) {
        render_space(t, &t->input, r, snap, t->holding.count, w);
    }
    return ML_OK;
}

/* Index of the first entry of @p s that ends after @p addr (entries are sorted, not
 * overlapping), s->count when none. */
static uint16_t first_after(const struct regmap_space *s, uint32_t addr)
{
    uint16_t lo = 0;
    uint16_t hi = s->count;
    while (lo < hi) {
        uint16_t mid = (uint16_t)((lo + hi) / 2u);
        const struct regmap_entry *e = &s->entries[mid];
        if ((uint32_t)e->addr + regmap_entry_words(e) <= addr) {
            lo = (uint16_t)(mid + 1u);
        } else {
            hi = mid;
        }
    }
    return lo;
}

static bool space_covers(const struct regmap_space *s, uint32_t addr)
{
    uint16_t i = first_after(s, addr);
    return i < s->count && s->entries[i].addr <= addr;
}

/* The words of a REGMAP_SRC_AGE / REGMAP_SRC_STATE entry at device time @p now_ms. */
static void dynamic_words(const struct regmap_snapshot *snap, const struct regmap_entry *e,
                          uint64_t now_ms, uint16_t *w)
{
    uint64_t v = snap->state;
    if (e->field == REGMAP_SRC_AGE) {
        v = 0xFFFFFFFFu;
        if (snap->state != REGMAP_DATA_NONE) {
            v = now_ms > snap->data_ms ? (now_ms - snap->data_ms) / 1000u : 0u;
            v = v > 0xFFFFFFFEu ? 0xFFFFFFFEu : v;
        }
    }
    unsigned n = regmap_entry_words(e);
    if (n == 1u && v > 0xFFFFu) {
        v = 0xFFFFu;
    }
    put_words(v, n, regmap_entry_order(snap->tpl, e), w);
}

/* Copy the words of space @p s (entry i's words at snap->off[first + i]) that fall in
 * [addr, addr + count) to @p out; with @p under, only addresses that space leaves free. */
static void read_space(const struct regmap_snapshot *snap, const struct regmap_space *s,
                       uint16_t first, uint16_t addr, uint16_t count, uint16_t *out,
                       const struct regmap_space *under, uint64_t now_ms)
{
    uint32_t end = (uint32_t)addr + count;
    for (uint16_t i = first_after(s, addr); i < s->count && s->entries[i].addr < end; i++) {
        const struct regmap_entry *e = &s->entries[i];
        const uint16_t *w = &snap->words[snap->off[first + i]];
        uint16_t dyn[4];
        if (e->field == REGMAP_SRC_AGE || e->field == REGMAP_SRC_STATE) {
            dynamic_words(snap, e, now_ms, dyn);
            w = dyn;
        }
        unsigned n = regmap_entry_words(e);
        for (unsigned j = 0; j < n; j++) {
            uint32_t a = (uint32_t)e->addr + j;
            if (a >= addr && a < end && (under == NULL || !space_covers(under, a))) {
                out[a - addr] = w[j];
            }
        }
    }
}

int regmap_snapshot_read(const struct regmap_snapshot *snap, uint8_t fc, uint16_t addr,
                         uint16_t count, uint16_t *out)
{
    return regmap_snapshot_read_at(snap, fc, addr, count, out, snap->data_ms);
}

int regmap_snapshot_read_at(const struct regmap_snapshot *snap, uint8_t fc, uint16_t addr,
                            uint16_t count, uint16_t *out, uint64_t now_ms)
{
    for (uint16_t i = 0; i < count; i++) {
        out[i] = 0;
    }
    const struct regmap_template *t = snap->tpl;
    if (t == NULL) {
        return 0;
    }
    if (fc == 0x04u && !input_is_holding(t)) {
        read_space(snap, &t->input, t->holding.count, addr, count, out, NULL, now_ms);
    } else {
        read_space(snap, &t->holding, 0, addr, count, out, NULL, now_ms);
    }
    return 0;
}

int regmap_snapshot_read_same(const struct regmap_snapshot *snap, uint16_t addr, uint16_t count,
                              uint16_t *out, uint64_t now_ms)
{
    const struct regmap_template *t = snap->tpl;
    if (t == NULL || input_is_holding(t)) {
        return regmap_snapshot_read_at(snap, 0x03u, addr, count, out, now_ms);
    }
    regmap_snapshot_read_at(snap, 0x04u, addr, count, out, now_ms);
    read_space(snap, &t->holding, 0, addr, count, out, &t->input, now_ms);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Live double buffer                                                        */
/* ------------------------------------------------------------------------- */

void regmap_live_init(struct regmap_live *live, const struct regmap_template *t)
{
    for (int i = 0; i < 2; i++) {
        live->snap[i].tpl = t;
        live->snap[i].seq = 0;
        live->snap[i].data_ms = 0;
        live->snap[i].state = REGMAP_DATA_NONE;
        for (size_t j = 0; j < REGMAP_MAX_ENTRIES; j++) {
            live->snap[i].off[j] = 0;
        }
        for (size_t j = 0; j < REGMAP_MAX_WORDS; j++) {
            live->snap[i].words[j] = 0;
        }
    }
    live->cur = 0;
    live->seq = 0;
    live->now_ms = 0;
}

const struct regmap_snapshot *regmap_live_current(const struct regmap_live *live)
{
    return &live->snap[live->cur & 1u];
}

struct regmap_snapshot *regmap_live_spare(struct regmap_live *live)
{
    return &live->snap[(live->cur & 1u) ^ 1u];
}

void regmap_live_swap(struct regmap_live *live)
{
    live->cur = (uint8_t)((live->cur & 1u) ^ 1u);
}

int regmap_live_update(struct regmap_live *live, const struct reading *r)
{
    return regmap_live_update_at(live, r, live->now_ms, REGMAP_DATA_LIVE);
}

int regmap_live_update_at(struct regmap_live *live, const struct reading *r, uint64_t data_ms,
                          enum regmap_data_state state)
{
    struct regmap_snapshot *spare = regmap_live_spare(live);
    int err = regmap_render(live->snap[0].tpl, r, spare);
    if (err < 0) {
        return err;
    }
    spare->data_ms = data_ms;
    spare->state = (uint8_t)state;
    spare->seq = ++live->seq;
    regmap_live_swap(live);
    return ML_OK;
}

void regmap_live_set_now(struct regmap_live *live, uint64_t now_ms)
{
    live->now_ms = now_ms;
}

int regmap_mb_read(void *ctx, uint8_t fc, uint16_t addr, uint16_t count, uint16_t *out)
{
    const struct regmap_live *live = ctx;
    return regmap_snapshot_read_at(regmap_live_current(live), fc, addr, count, out, live->now_ms);
}

int regmap_mb_read_same(void *ctx, uint8_t fc, uint16_t addr, uint16_t count, uint16_t *out)
{
    const struct regmap_live *live = ctx;
    (void)fc;
    return regmap_snapshot_read_same(regmap_live_current(live), addr, count, out, live->now_ms);
}

#include "text.h"

#include "err.h"
#include "str.h"

void ml_text_init(struct ml_text *t, char *buf, size_t cap)
{
    t->buf = buf;
    t->cap = buf != NULL ? cap : 0u;
    t->len = 0;
    t->want = 0;
    t->overflow = false;
    if (t->cap > 0u) {
        buf[0] = '\0';
    }
}

void ml_text_put_n(struct ml_text *t, const char *s, size_t len)
{
    /* the usual case, everything fits: one bounds check (power_instant is built for
     * every telegram, piece by piece) */
    if (t->len + len < t->cap && !t->overflow) {
        char *d = t->buf + t->len;
        for (size_t i = 0; i < len; i++) {
            d[i] = s[i];
        }
        t->len += len;
        t->want += len;
        t->buf[t->len] = '\0';
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (t->len + 1u < t->cap) {
            t->buf[t->len++] = s[i];
        } else {
            t->overflow = true;
        }
    }
    t->want += len;
    if (t->cap > 0u) {
        t->buf[t->len] = '\0';
    }
}

void ml_text_put(struct ml_text *t, const char *s)
{
    ml_text_put_n(t, s, ml_str_len(s));
}

void ml_text_putc(struct ml_text *t, char c)
{
    ml_text_put_n(t, &c, 1);
}

/* Digits of @p v right-aligned before @p e; returns the first. 32-bit division once
 * the value fits (no 64-bit library division per digit on a Cortex-M). */
static char *digits(char *e, uint64_t v)
{
    while (v > 0xFFFFFFFFu) {
        *--e = (char)('0' + v % 10u);
        v /= 10u;
    }
    uint32_t w = (uint32_t)v;
    do {
        *--e = (char)('0' + w % 10u);
        w /= 10u;
    } while (w != 0u);
    return e;
}

void ml_text_u64(struct ml_text *t, uint64_t v)
{
    char d[20];
    char *s = digits(d + sizeof d, v);
    ml_text_put_n(t, s, (size_t)(d + sizeof d - s));
}

void ml_text_fixed(struct ml_text *t, int64_t v, int exp10)
{
    /* the magnitude as unsigned, so that INT64_MIN is printable too */
    uint64_t m = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    if (exp10 == -3) {
        /* milli-units, almost every reading field: one piece, no trailing zeros */
        char tmp[26], *e = tmp + 21;
        char *s = digits(e, m / 1000u);
        if (v < 0) {
            *--s = '-';
        }
        unsigned f = (unsigned)(m % 1000u);
        if (f != 0u) {
            e[0] = '.';
            e[1] = (char)('0' + f / 100u);
            e[2] = (char)('0' + f / 10u % 10u);
            e[3] = (char)('0' + f % 10u);
            e += f % 100u == 0u ? 2 : (f % 10u == 0u ? 3 : 4);
        }
        ml_text_put_n(t, s, (size_t)(e - s));
        return;
    }
    uint64_t div = 1;
    for (int e = exp10; e < 0 && div <= UINT64_MAX / 10u; e++) {
        div *= 10u;
    }
    if (v < 0) {
        ml_text_putc(t, '-');
    }
    ml_text_u64(t, m / div);
    uint64_t fp = m % div;
    if (fp != 0u) {
        ml_text_putc(t, '.');
        for (div /= 10u; fp != 0u; div /= 10u) {
            ml_text_putc(t, (char)('0' + fp / div));
            fp %= div;
        }
    }
}

void ml_text_json_str(struct ml_text *t, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    ml_text_putc(t, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            ml_text_put_n(t, e, 2);
        } else if (c < 0x20u || c == 0x7Fu) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15u]};
            ml_text_put_n(t, e, 6);
        } else {
            ml_text_putc(t, (char)c);
        }
    }
    ml_text_putc(t, '"');
}

int ml_text_end(const struct ml_text *t)
{
    if (t->buf == NULL) {
        return t->want > (size_t)INT32_MAX ? ML_ENOSPC : (int)t->want;
    }
    return t->overflow ? ML_ENOSPC : (int)t->len;
}

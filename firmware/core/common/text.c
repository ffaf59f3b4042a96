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

/* Digits of @p v, most significant first, into @p d (20 bytes); returns the count. */
static size_t digits(uint64_t v, char *d)
{
    char r[20];
    size_t n = 0;
    do {
        r[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    for (size_t i = 0; i < n; i++) {
        d[i] = r[n - 1u - i];
    }
    return n;
}

void ml_text_u64(struct ml_text *t, uint64_t v)
{
    char d[20];
    ml_text_put_n(t, d, digits(v, d));
}

void ml_text_fixed(struct ml_text *t, int64_t v, int exp10)
{
    /* the magnitude as unsigned, so that INT64_MIN is printable too */
    uint64_t m = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
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

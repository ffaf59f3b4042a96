#include "span.h"

struct ml_span ml_span_from_cstr(const char *s)
{
    struct ml_span r = {(const uint8_t *)s, 0};
    if (s != NULL) {
        while (s[r.len] != '\0') {
            r.len++;
        }
    }
    return r;
}

bool ml_span_eq(struct ml_span a, struct ml_span b)
{
    if (a.len != b.len) {
        return false;
    }
    for (size_t i = 0; i < a.len; i++) {
        if (a.ptr[i] != b.ptr[i]) {
            return false;
        }
    }
    return true;
}

bool ml_span_eq_cstr(struct ml_span s, const char *c)
{
    return ml_span_eq(s, ml_span_from_cstr(c));
}

bool ml_span_starts_with(struct ml_span s, const char *prefix)
{
    struct ml_span p = ml_span_from_cstr(prefix);
    return p.len <= s.len && ml_span_eq(ml_span_sub(s, 0, p.len), p);
}

struct ml_span ml_span_sub(struct ml_span s, size_t off, size_t len)
{
    struct ml_span r = {s.ptr, 0};
    if (off > s.len) {
        off = s.len;
    }
    r.ptr = s.ptr + off;
    r.len = (len > s.len - off) ? s.len - off : len;
    return r;
}

#include "str.h"

#include <stdint.h>

size_t ml_str_len(const char *s)
{
    size_t n = 0;
    while (s != NULL && s[n] != '\0') {
        n++;
    }
    return n;
}

bool ml_str_copy_n(char *dst, size_t cap, const char *src, size_t len)
{
    if (cap == 0u) {
        return len == 0u;
    }
    size_t i = 0;
    for (; i < len && i + 1u < cap; i++) {
        dst[i] = src[i];
    }
    dst[i] = '\0';
    return i == len;
}

bool ml_str_copy(char *dst, size_t cap, const char *src)
{
    return ml_str_copy_n(dst, cap, src, ml_str_len(src));
}

bool ml_str_starts_n(const char *s, size_t len, const char *prefix)
{
    for (size_t i = 0; prefix[i] != '\0'; i++) {
        if (i >= len || s[i] != prefix[i]) {
            return false;
        }
    }
    return true;
}

bool ml_str_eq_n(const char *s, size_t len, const char *lit)
{
    size_t i = 0;
    for (; i < len; i++) {
        if (lit[i] == '\0' || lit[i] != s[i]) {
            return false;
        }
    }
    return lit[i] == '\0';
}

void ml_mem_zero(void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        b[i] = 0;
    }
}

void ml_mem_copy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) {
        d[i] = s[i];
    }
}

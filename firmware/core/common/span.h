/**
 * @file span.h
 * @brief Non-owning views of bytes (Mongoose mg_str style).
 *
 * A span never owns its bytes: whoever returns one says how long they stay
 * valid (for parser outputs: until the next feed).
 */
#ifndef FIRMWARE_CORE_COMMON_SPAN_H
#define FIRMWARE_CORE_COMMON_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ml_span {
    const uint8_t *ptr;
    size_t len;
};

/** Span over a NUL-terminated C string literal or buffer (length without NUL). */
struct ml_span ml_span_from_cstr(const char *s);

/** True when both spans hold the same bytes. */
bool ml_span_eq(struct ml_span a, struct ml_span b);

/** True when @p s equals the C string @p c. */
bool ml_span_eq_cstr(struct ml_span s, const char *c);

/** True when @p s starts with the C string @p prefix. */
bool ml_span_starts_with(struct ml_span s, const char *prefix);

/** Sub-span [off, off+len) clamped to @p s. */
struct ml_span ml_span_sub(struct ml_span s, size_t off, size_t len);

#endif /* FIRMWARE_CORE_COMMON_SPAN_H */

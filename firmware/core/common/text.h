/**
 * @file text.h
 * @brief Bounded text writer: append text, numbers and JSON strings to a
 *        caller's buffer without ever writing past it.
 *
 * The one writer core and apps share (MQTT payloads, HTTP bodies and headers,
 * configuration JSON, ESP-AT commands). The caller owns both the writer and
 * the buffer; the writer keeps no other state. What does not fit is dropped
 * and sets @c overflow; @c want keeps counting, so a writer over a NULL
 * buffer (cap 0) measures the text. The buffer stays NUL-terminated after
 * every call when cap > 0 (the text is cut to cap - 1 bytes).
 */
#ifndef FIRMWARE_CORE_COMMON_TEXT_H
#define FIRMWARE_CORE_COMMON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ml_text {
    char *buf;
    size_t cap;
    size_t len;    /**< bytes in buf (without the NUL) */
    size_t want;   /**< bytes appended so far, written or not */
    bool overflow; /**< something did not fit (want > len) */
};

/** Start writing into @p buf of @p cap bytes (NULL with cap 0: measure only). */
void ml_text_init(struct ml_text *t, char *buf, size_t cap);

/** Append @p len bytes at @p s as they are. */
void ml_text_put_n(struct ml_text *t, const char *s, size_t len);

/** Append the NUL-terminated @p s. */
void ml_text_put(struct ml_text *t, const char *s);

/** Append one character. */
void ml_text_putc(struct ml_text *t, char c);

/** Append @p v in decimal. */
void ml_text_u64(struct ml_text *t, uint64_t v);

/**
 * Append the fixed-point value @p v x 10^exp10 in decimal with no exponent
 * and no trailing zeros after the point ("-1.5", "230", "0.001"); exp10 > 0
 * is taken as 0. INT64_MIN is printed too.
 */
void ml_text_fixed(struct ml_text *t, int64_t v, int exp10);

/**
 * Append the @p len bytes at @p s as a JSON string: in double quotes, with
 * '"' and '\' escaped and control characters (and DEL) as \u00XX.
 */
void ml_text_json_str(struct ml_text *t, const char *s, size_t len);

/**
 * End the text: @return its length, or ML_ENOSPC when it did not fit (the
 * buffer then holds the part that did, NUL-terminated). A measuring writer
 * (NULL buffer) returns the length needed.
 */
int ml_text_end(const struct ml_text *t);

#endif /* FIRMWARE_CORE_COMMON_TEXT_H */

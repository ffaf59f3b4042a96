/**
 * @file str.h
 * @brief C-string and byte helpers for freestanding code (core, apps).
 *
 * Core and apps use no libc string functions (house rule); these are the one
 * set they share. None allocates; none keeps a pointer. Any context (no state).
 */
#ifndef FIRMWARE_CORE_COMMON_STR_H
#define FIRMWARE_CORE_COMMON_STR_H

#include <stdbool.h>
#include <stddef.h>

/** Length of the NUL-terminated @p s; 0 for NULL. */
size_t ml_str_len(const char *s);

/**
 * Copy the NUL-terminated @p src (NULL counts as "") into @p dst of @p cap
 * bytes, cut to cap - 1 bytes, always NUL-terminated when cap > 0.
 * @return true when all of @p src fit.
 */
bool ml_str_copy(char *dst, size_t cap, const char *src);

/** As ml_str_copy() for the @p len bytes at @p src (no NUL needed there). */
bool ml_str_copy_n(char *dst, size_t cap, const char *src, size_t len);

/** True when the @p len bytes at @p s equal the NUL-terminated @p lit. */
bool ml_str_eq_n(const char *s, size_t len, const char *lit);

/** True when the @p len bytes at @p s start with the NUL-terminated @p prefix. */
bool ml_str_starts_n(const char *s, size_t len, const char *prefix);

/** Set @p n bytes at @p p to zero. */
void ml_mem_zero(void *p, size_t n);

/** Copy @p n bytes from @p src to @p dst (the areas must not overlap). */
void ml_mem_copy(void *dst, const void *src, size_t n);

#endif /* FIRMWARE_CORE_COMMON_STR_H */

/**
 * @file ring.h
 * @brief Single-producer single-consumer byte ring over caller storage.
 *
 * One side (typically a UART ISR) calls ml_ring_put*, the other (the app loop)
 * calls ml_ring_get*. With exactly one producer and one consumer no lock is
 * needed: each index is written by one side only. On the target the indices
 * are 32-bit and naturally atomic; ML_RING_BARRIER orders the data write before
 * the index publish.
 *
 * Capacity must be a power of two; the ring holds up to @c cap bytes (indices
 * run freely and wrap modulo 2^32).
 */
#ifndef FIRMWARE_CORE_COMMON_RING_H
#define FIRMWARE_CORE_COMMON_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef ML_RING_BARRIER
#define ML_RING_BARRIER() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

struct ml_ring {
    uint8_t *buf;              /**< caller storage, @c cap bytes, lives as long as the ring */
    uint32_t cap;              /**< power of two */
    volatile uint32_t head;    /**< written by the producer only */
    volatile uint32_t tail;    /**< written by the consumer only */
    volatile uint32_t dropped; /**< bytes refused because the ring was full (producer) */
};

/**
 * Set up a ring over @p storage.
 * @retval ML_OK
 * @retval ML_EINVAL @p cap is 0 or not a power of two, or @p storage is NULL.
 */
int ml_ring_init(struct ml_ring *r, uint8_t *storage, uint32_t cap);

/** Bytes waiting to be read. Either side, ISR-safe. */
uint32_t ml_ring_count(const struct ml_ring *r);

/** Free space. Either side, ISR-safe. */
uint32_t ml_ring_space(const struct ml_ring *r);

/** True when nothing is waiting. */
bool ml_ring_is_empty(const struct ml_ring *r);

/**
 * Producer: append one byte. ISR-safe.
 * @retval ML_OK
 * @retval ML_ENOSPC full; the byte is dropped and counted in @c dropped.
 */
int ml_ring_put(struct ml_ring *r, uint8_t byte);

/**
 * Producer: append up to @p len bytes. ISR-safe.
 * @return bytes stored (< len when full; the rest count as dropped).
 */
size_t ml_ring_write(struct ml_ring *r, const void *data, size_t len);

/**
 * Consumer: take one byte.
 * @retval ML_OK @p *byte set.
 * @retval ML_EAGAIN empty.
 */
int ml_ring_get(struct ml_ring *r, uint8_t *byte);

/** Consumer: take up to @p len bytes. @return bytes copied. */
size_t ml_ring_read(struct ml_ring *r, void *out, size_t len);

/** Consumer: look at byte @p idx (0 = oldest) without taking it. @retval ML_EAGAIN past end. */
int ml_ring_peek(const struct ml_ring *r, uint32_t idx, uint8_t *byte);

/** Consumer: discard everything waiting. */
void ml_ring_clear(struct ml_ring *r);

#endif /* FIRMWARE_CORE_COMMON_RING_H */

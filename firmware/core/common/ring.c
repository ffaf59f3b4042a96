#include "ring.h"

#include "err.h"

int ml_ring_init(struct ml_ring *r, uint8_t *storage, uint32_t cap)
{
    ML_VERIFY(r != NULL && storage != NULL, ML_EINVAL);
    ML_VERIFY(cap != 0 && (cap & (cap - 1u)) == 0, ML_EINVAL);
    r->buf = storage;
    r->cap = cap;
    r->head = 0;
    r->tail = 0;
    r->dropped = 0;
    return ML_OK;
}

uint32_t ml_ring_count(const struct ml_ring *r)
{
    return r->head - r->tail;
}

uint32_t ml_ring_space(const struct ml_ring *r)
{
    return r->cap - ml_ring_count(r);
}

bool ml_ring_is_empty(const struct ml_ring *r)
{
    return r->head == r->tail;
}

int ml_ring_put(struct ml_ring *r, uint8_t byte)
{
    uint32_t head = r->head;
    if (head - r->tail >= r->cap) {
        r->dropped++;
        return ML_ENOSPC;
    }
    r->buf[head & (r->cap - 1u)] = byte;
    ML_RING_BARRIER();
    r->head = head + 1u;
    return ML_OK;
}

size_t ml_ring_write(struct ml_ring *r, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t n = 0;
    while (n < len && ml_ring_put(r, p[n]) == ML_OK) {
        n++;
    }
    if (n < len) {
        /* ml_ring_put counted the first refused byte; count the rest too. */
        r->dropped += (uint32_t)(len - n - 1u);
    }
    return n;
}

int ml_ring_get(struct ml_ring *r, uint8_t *byte)
{
    uint32_t tail = r->tail;
    if (r->head == tail) {
        return ML_EAGAIN;
    }
    *byte = r->buf[tail & (r->cap - 1u)];
    ML_RING_BARRIER();
    r->tail = tail + 1u;
    return ML_OK;
}

size_t ml_ring_read(struct ml_ring *r, void *out, size_t len)
{
    uint8_t *p = out;
    size_t n = 0;
    while (n < len && ml_ring_get(r, &p[n]) == ML_OK) {
        n++;
    }
    return n;
}

int ml_ring_peek(const struct ml_ring *r, uint32_t idx, uint8_t *byte)
{
    if (idx >= ml_ring_count(r)) {
        return ML_EAGAIN;
    }
    *byte = r->buf[(r->tail + idx) & (r->cap - 1u)];
    return ML_OK;
}

void ml_ring_clear(struct ml_ring *r)
{
    r->tail = r->head;
}

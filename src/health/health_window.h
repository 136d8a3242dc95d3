/*
 * health_window.h - the index arithmetic of a window of the last `cap`
 * samples. The samples live in the stage's own arrays; the ring says which
 * slot holds the i-th oldest. Not locked: one round at a time uses it.
 */
#ifndef NR_HEALTH_WINDOW_H
#define NR_HEALTH_WINDOW_H

#include <assert.h>
#include <stddef.h>

typedef struct nr__ring {
    size_t cap;   /* slots, > 0 */
    size_t head;  /* slot of the oldest sample */
    size_t count; /* samples held, <= cap */
} nr__ring;

static inline void nr__ring_init(nr__ring *r, size_t cap)
{
    assert(cap > 0);
    r->cap = cap;
    r->head = 0;
    r->count = 0;
}

/* Slot of the i-th oldest sample (i < count). */
static inline size_t nr__ring_at(const nr__ring *r, size_t i)
{
    assert(i < r->count);
    return (r->head + i) % r->cap;
}

/* Slot for a new sample: the next free one, or the oldest's when full (that
 * sample is dropped). */
static inline size_t nr__ring_push(nr__ring *r)
{
    if (r->count == r->cap) {
        size_t slot = r->head;
        r->head = (r->head + 1) % r->cap;
        return slot;
    }
    return (r->head + r->count++) % r->cap;
}

static inline void nr__ring_drop_oldest(nr__ring *r)
{
    assert(r->count > 0);
    r->head = (r->head + 1) % r->cap;
    r->count--;
}

#endif

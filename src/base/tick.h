/*
 * tick.h - the coarse clock for the pool's hot path, read as one load.
 *
 * Reading CLOCK_MONOTONIC_COARSE costs about 10 ns on a virtual machine,
 * which is a fifth of an uncontended acquire plus release. While the clock
 * is read often, a ticker thread (one per process, started on first need)
 * stores the coarse time in a shared cell every millisecond, and readers
 * load the cell. When nobody has read it for a while the ticker clears the
 * cell and sleeps; readers then read the clock themselves, and wake the
 * ticker again once reads come close together.
 *
 * What a reader gets is never later than CLOCK_MONOTONIC_COARSE read at the
 * same moment, and lags it by at most one tick (1 ms) plus however long the
 * ticker waits for a CPU. Values from the cell and from nr_now_coarse_ns()
 * mix: a stamp taken here is never ahead of a later coarse read.
 *
 * After fork() the child starts without a ticker: the cell is cleared and
 * the first close reads start one. Any thread may call nr__tick_ns().
 */
#ifndef NR_BASE_TICK_H
#define NR_BASE_TICK_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct nr__tick_cell {
    _Alignas(64) _Atomic int64_t now_ns; /* the last tick's coarse time; 0 when not ticking */
    _Atomic int used;                    /* a reader used the cell since the last tick */
} nr__tick_cell;

extern nr__tick_cell nr__tick;

/* The coarse time, read the slow way (and the ticker woken when due). */
int64_t nr__tick_slow_ns(void);

/* The cell's time, marked used; 0 when the ticker is not ticking (the
 * caller then takes a path that calls nr__tick_ns). No call: a fast path
 * that reads the clock this way needs no stack frame for it. */
static inline int64_t nr__tick_cell_ns(void)
{
    int64_t t = atomic_load_explicit(&nr__tick.now_ns, memory_order_relaxed);
    if (t && !atomic_load_explicit(&nr__tick.used, memory_order_relaxed))
        atomic_store_explicit(&nr__tick.used, 1, memory_order_relaxed);
    return t;
}

static inline int64_t nr__tick_ns(void)
{
    int64_t t = nr__tick_cell_ns();
    if (__builtin_expect(t == 0, 0))
        return nr__tick_slow_ns();
    return t;
}

#endif

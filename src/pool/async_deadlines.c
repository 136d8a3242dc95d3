/*
 * async_deadlines.c - the deadlines of an async worker's waiting requests
 * (see pool_async.h), all under the pool's mu.
 */
#include <assert.h>
#include <string.h>

#include "nebula/alloc.h"
#include "pool/pool_async.h"

/* ---- deadlines ([mu]) ------------------------------------------------------------------
 * Most callers use one timeout, so deadlines mostly arrive in order: those
 * go on a list kept sorted by appending (O(1) to add and to remove); one
 * earlier than the list's last goes on a heap instead (O(log n)). The
 * earliest of both is the next to expire. */

static int64_t due(const struct nr_async_op *op)
{
    return op->deadline.at_ns;
}

static void heap_set(nr__async *a, size_t i, struct nr_async_op *op)
{
    a->heap[i] = op;
    op->heap_i = i;
}

static void heap_up(nr__async *a, size_t i)
{
    struct nr_async_op *op = a->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (due(a->heap[parent]) <= due(op))
            break;
        heap_set(a, i, a->heap[parent]);
        i = parent;
    }
    heap_set(a, i, op);
}

static void heap_down(nr__async *a, size_t i)
{
    struct nr_async_op *op = a->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= a->heap_n)
            break;
        if (c + 1 < a->heap_n && due(a->heap[c + 1]) < due(a->heap[c]))
            c++;
        if (due(op) <= due(a->heap[c]))
            break;
        heap_set(a, i, a->heap[c]);
        i = c;
    }
    heap_set(a, i, op);
}

/* 0, or NR_ENOMEM when the heap cannot grow. */
static int heap_push(nr__async *a, struct nr_async_op *op)
{
    if (a->heap_n == a->heap_cap) {
        size_t cap = a->heap_cap ? a->heap_cap * 2 : 64;
        struct nr_async_op **h = nr_calloc(cap, sizeof(*h));
        if (!h)
            return NR_ENOMEM;
        if (a->heap_n)
            memcpy(h, a->heap, a->heap_n * sizeof(*h));
        nr_free(a->heap);
        a->heap = h;
        a->heap_cap = cap;
    }
    a->heap[a->heap_n] = op;
    op->heap_i = a->heap_n++;
    heap_up(a, op->heap_i);
    return NR_OK;
}

static void heap_remove(nr__async *a, struct nr_async_op *op)
{
    size_t i = op->heap_i;
    if (i == SIZE_MAX)
        return;
    assert(i < a->heap_n && a->heap[i] == op);
    op->heap_i = SIZE_MAX;
    struct nr_async_op *last = a->heap[--a->heap_n];
    if (last == op)
        return;
    heap_set(a, i, last);
    heap_up(a, i);
    heap_down(a, last->heap_i);
}

int nr__timer_add(nr__async *a, struct nr_async_op *op)
{
    if (a->dl_tail && due(op) < due(a->dl_tail))
        return heap_push(a, op);
    op->in_list = 1;
    op->dl_next = NULL;
    op->dl_prev = a->dl_tail;
    if (a->dl_tail)
        a->dl_tail->dl_next = op;
    else
        a->dl_head = op;
    a->dl_tail = op;
    return NR_OK;
}

void nr__timer_remove(nr__async *a, struct nr_async_op *op)
{
    if (!op->in_list) {
        heap_remove(a, op);
        return;
    }
    if (op->dl_prev)
        op->dl_prev->dl_next = op->dl_next;
    else
        a->dl_head = op->dl_next;
    if (op->dl_next)
        op->dl_next->dl_prev = op->dl_prev;
    else
        a->dl_tail = op->dl_prev;
    op->dl_prev = op->dl_next = NULL;
    op->in_list = 0;
}

/* The request whose deadline comes first, NULL when none has one. */
struct nr_async_op *nr__timer_first(const nr__async *a)
{
    struct nr_async_op *h = a->heap_n ? a->heap[0] : NULL, *l = a->dl_head;
    if (!h)
        return l;
    if (!l)
        return h;
    return due(h) <= due(l) ? h : l;
}

/*
 * pool_waitq.c - the pool's FIFO wait queue: joining it, leaving it, a
 * waiter's condition variable, and the error of a caller that ran out of
 * time. Every function here but nr__waiter_init and nr__waiter_cancel_wake
 * runs under the pool's mu.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* [mu] Remove w from anywhere in the queue (it gave up). */
void nr__waiter_unlink_locked(nr_pool *p, nr__waiter *w)
{
    NR__ASSERT_LOCKED(p);
    if (!w->queued)
        return; /* already popped by a giver */
    if (w->prev)
        w->prev->next = w->next;
    else
        p->wait_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->wait_tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = 0;
    p->waiters--;
    if (p->waiters == 0)
        nr__gate_update_locked(p);
}

/* A cancel token's wake-up of a blocking waiter (ud: the waiter). */
void nr__waiter_cancel_wake(void *ud)
{
    nr__waiter *w = ud;
    nr__pool_lock(w->pool);
    pthread_cond_signal(&w->cv);
    nr__pool_unlock(w->pool);
}

/* A blocking waiter with its condition variable on CLOCK_MONOTONIC. */
void nr__waiter_init(nr__waiter *w, nr_pool *p)
{
    memset(w, 0, sizeof(*w));
    w->pool = p;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
}

void nr__waiter_append_locked(nr_pool *p, nr__waiter *w)
{
    NR__ASSERT_LOCKED(p);
    w->inst = NULL;
    w->next = NULL;
    w->prev = p->wait_tail;
    w->queued = 1;
    if (p->wait_tail)
        p->wait_tail->next = w;
    else
        p->wait_head = w;
    p->wait_tail = w;
    p->waiters++;
    p->waits++;
    nr__gate_update_locked(p);
    nr__settle_locked(p);
}

int nr__timeout_error_locked(nr_pool *p, nr_error *err)
{
    NR__ASSERT_LOCKED(p);
    uint32_t in_use = p->in_use, waiting = p->waiters;
    if (p->failures > 0) { /* creates are failing now */
        const nr_error *c = &p->last_create_err;
        return nr_error_set_cause(err, NR_ETIMEDOUT, c->cause ? c->cause : c->code, c->driver_code,
                                  p->id,
                                  "pool '%s': no instance became free in time (max_size %" PRId64
                                  ", %u in use, %u waiting); the last create failed: %s",
                                  p->id, p->cfg.max_size, in_use, waiting, c->message);
    }
    return nr_error_set(err, NR_ETIMEDOUT, p->id,
                        "pool '%s': no instance became free in time (max_size %" PRId64
                        ", %u in use, %u waiting)",
                        p->id, p->cfg.max_size, in_use, waiting);
}

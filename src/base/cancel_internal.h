/*
 * cancel_internal.h - how library waits learn that a token was set.
 *
 * A waiter registers a wake function before it blocks and removes it after it
 * stops blocking. The wake function runs on the thread that calls
 * nr_cancel_trigger, while the cancel registry lock is held: it may take only
 * leaf locks (a pool mutex, to signal a condition variable) and must never
 * call user code or cancel functions.
 *
 * Lock order: the cancel registry lock comes before any lock a wake
 * function takes. So never call subscribe or unsubscribe while holding such
 * a lock (the pool subscribes and unsubscribes with its mutex released).
 */
#ifndef NR_CANCEL_INTERNAL_H
#define NR_CANCEL_INTERNAL_H

#include "nebula/cancel.h"

typedef struct nr__cancel_waiter {
    void (*wake)(void *ud);
    void *ud;
    struct nr__cancel_waiter *prev, *next; /* owned by the token's list */
} nr__cancel_waiter;

/* Register w on token (non-NULL). Returns NR_ECANCELED, without registering,
 * when the token is already set. */
int nr__cancel_subscribe(const nr_cancel *token, nr__cancel_waiter *w);

/* Remove w. After this returns, w->wake is not running and will not run.
 * Removing a waiter that subscribe refused, or one already removed, is harmless. */
void nr__cancel_unsubscribe(const nr_cancel *token, nr__cancel_waiter *w);

#endif

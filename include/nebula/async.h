/*
 * nebula/async.h - acquiring without blocking, for event loops.
 *
 * An event-loop thread must never sleep on a pool. nr_pool_acquire_async
 * (and nr_manager_acquire_async, by resource id) returns at once: with a
 * lease when an instance is free, else with NR_PENDING, and the request is
 * completed later through a completion queue the caller owns:
 *
 *   - a queue made by nr_async_queue_create has a pollable fd (an eventfd):
 *     register it for reading with the loop (uv_poll_t, event_new, epoll);
 *     when it is readable, call nr_async_queue_dispatch on the loop thread,
 *     which runs the completions' callbacks there;
 *   - a queue made by nr_async_queue_create_on runs each callback as a job
 *     on the executor it was given (it has no fd).
 *
 * Model. A pending request joins the pool's one FIFO queue of waiters,
 * behind and ahead of blocking nr_pool_acquire callers alike: an instance
 * given back or newly created goes to the oldest waiter of either kind. A
 * request carries a deadline and a cancel token (ctx, as for a blocking
 * acquire) and can be cancelled by its handle. Its callback runs exactly
 * once, with NR_OK and the lease, or with the error a blocking acquire
 * would have returned (NR_ETIMEDOUT with the last create's error as cause
 * while creates fail, NR_ECANCELED, NR_ESHUTDOWN when the pool closes,
 * ...). No driver callback runs on the caller's thread or the dispatching
 * thread: creates run on the pool's creator, and an instance that needs a
 * validate (or turns out expired or stale) is vetted on the pool's async
 * worker, which each pool starts at its first pending request and joins in
 * nr_pool_destroy: a timer thread, which times deadlines, plans creates
 * while they back off and delivers, and runs no driver or hook code (so a
 * deadline is kept however long a validate or recycle takes), and up to 4
 * work threads for the vetting, the deferred give-backs and the hooks.
 * Give leases back from the loop with nr_guard_release_async, which defers
 * recycle (and destroy) to that worker: it takes the pool's lock briefly
 * and never runs driver code.
 *
 * Acquire hooks (nebula/hooks.h) run on the worker too, since a before may
 * block: on a pool with acquire hooks every async acquire is pending (its
 * callback runs even when an instance was idle, or a before refused it);
 * the worker runs the befores (a refusal completes the request with the
 * hook's error), then the acquire, and the afters with the outcome just
 * before the completion is queued. The hooks see the caller's scope and
 * tag, copied. Traces record no span for an async acquire; events,
 * metrics and the acquire histogram do count it.
 *
 * Ownership: the library allocates each pending request and frees it after
 * its callback has returned. The nr_async_op handle is valid from the call
 * that returned it until its callback begins. The guard passed to the
 * callback is the callback's to keep (copy *guard) and give back.
 *
 * Thread safety: nr_pool_acquire_async and nr_guard_release_async may be
 * called from any thread. A queue's dispatch must be called by one thread
 * at a time (the loop's). nr_async_cancel may be called from any thread
 * while the handle is valid; for an fd queue, call it from the dispatching
 * thread (there the handle is valid until dispatch has run the callback).
 * For an executor queue, prefer a cancel token: the handle may be freed on
 * the executor at any moment once the request has completed.
 */
#ifndef NEBULA_ASYNC_H
#define NEBULA_ASYNC_H

#include <stddef.h>

#include "nebula/ctx.h"
#include "nebula/error.h"
#include "nebula/export.h"
#include "nebula/manager.h"
#include "nebula/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returned by the async acquires: the request is queued; its callback
 * will run exactly once. (Positive: never an error code.) */
#define NR_PENDING 1

/* What a non-blocking operation on a socket waits for (the drivers' async
 * query helpers report it; the loop adapters poll for it). */
#define NR_IO_READ  1
#define NR_IO_WRITE 2

typedef struct nr_async_queue nr_async_queue;
typedef struct nr_async_op nr_async_op;

/*
 * A completion. rc is NR_OK with *guard holding the lease (the callback
 * owns it from now on: copy the guard and give it back later) and err
 * NULL, or an error code with err describing it and *guard empty. Runs on the dispatching
 * thread (fd queue) or on the queue's executor.
 */
typedef void (*nr_async_fn)(void *ud, int rc, nr_guard *guard, const nr_error *err);

/* A queue with a pollable fd. NR_ENOMEM, or NR_EINIT when no eventfd (or
 * pipe) can be made. */
NR_API int nr_async_queue_create(nr_async_queue **out, nr_error *err);

/* A queue that runs each callback as a job on ex (copied; ex->submit must
 * be set). A job the executor refuses runs on the pool's async worker. */
NR_API int nr_async_queue_create_on(nr_async_queue **out, const nr_executor *ex, nr_error *err);

/* The fd to poll for reading (non-blocking, close-on-exec, owned by the
 * queue); -1 for an executor queue. */
NR_API int nr_async_queue_fd(const nr_async_queue *q);

/*
 * Run up to max completions (0 = every one queued when the call began) on
 * the calling thread, and clear the fd's readiness when the queue is left
 * empty. Returns how many ran. Callbacks may start new async acquires and
 * give leases back; a completion queued meanwhile makes the fd readable
 * again. 0 for an executor queue.
 */
NR_API size_t nr_async_queue_dispatch(nr_async_queue *q, size_t max);

/* Completions queued and not yet dispatched. */
NR_API size_t nr_async_queue_pending(nr_async_queue *q);

/*
 * Free the queue. Every request that used it must have completed (its pool
 * closed or destroyed, or each request done): completions still queued are
 * dropped without their callbacks, and their leases are given back. NULL
 * is a no-op.
 */
NR_API void nr_async_queue_destroy(nr_async_queue *q);

/*
 * Lease an instance without blocking. Returns:
 *   NR_OK       *out holds a lease now; fn will not be called (*op is NULL)
 *   NR_PENDING  the request is queued; fn(ud, ...) will run exactly once
 *               through q, and *op (when op is not NULL) is its handle
 *   an error    at once, as nr_pool_acquire would return it without waiting
 *               (NR_EUNAVAIL for an open breaker, NR_EEXHAUSTED for
 *               max_waiters or a deadline that allows no wait, NR_ESHUTDOWN,
 *               NR_ESCOPE, NR_ECANCELED, NR_ENOMEM, NR_EINVAL for NULL
 *               arguments); fn is not called
 * (With acquire hooks it is NR_PENDING but for the argument checks, and
 * the outcome comes through fn.)
 * The deadline is ctx->deadline, or now + acquire_timeout_ms when unset.
 */
NR_API int nr_pool_acquire_async(nr_pool *pool, const nr_ctx *ctx, nr_async_queue *q,
                                 nr_async_fn fn, void *ud, nr_guard *out, nr_async_op **op,
                                 nr_error *err);

/*
 * The same through a manager, by resource id, with nr_manager_acquire's
 * checks (scope, state, health, quarantine, dependencies). A pending
 * request holds the resource until its callback has run; one whose pool is
 * replaced by a reload is moved to the new pool, as a blocking acquire
 * would be.
 */
NR_API int nr_manager_acquire_async(nr_manager *m, const char *id, const nr_ctx *ctx,
                                    nr_async_queue *q, nr_async_fn fn, void *ud, nr_guard *out,
                                    nr_async_op **op, nr_error *err);

/*
 * Cancel a pending request: it leaves the queue and its callback runs with
 * NR_ECANCELED. NR_OK when it was still waiting (or its acquire hooks were
 * still running); NR_ESTATE when it had already been given an instance or
 * an error (its callback will run with that). NR_EINVAL for NULL.
 */
NR_API int nr_async_cancel(nr_async_op *op);

/*
 * Give the instance back without running driver code on this thread: the
 * guard is emptied at once. A give-back that needs nothing but the pool's
 * lock (no recycle configured, no release hooks, the instance neither
 * expired nor stale, the pool neither closed nor shrinking) is done here,
 * handing the instance to the oldest waiter; any other is deferred to the
 * pool's async worker (started when first needed), where recycle, the
 * hooks and any destroy run. Two exceptions run here after all: a close or
 * a shrinking resize that begins at the very moment of the give-back (the
 * check above is made without the lock) destroys the instance here, and
 * when no worker thread can be started the whole give-back runs here.
 * Same rules as nr_guard_release for empty and stale guards; a second
 * give-back of the same lease fails with NR_ESTATE even while the first is
 * still deferred.
 */
NR_API int nr_guard_release_async(nr_guard *g);

/* nr_guard_taint without blocking: the destroy runs on the async worker. */
NR_API int nr_guard_taint_async(nr_guard *g);

#ifdef __cplusplus
}
#endif
#endif

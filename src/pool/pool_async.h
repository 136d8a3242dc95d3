/*
 * pool_async.h - the async acquire's request, its pool's worker and its
 * completion queue (pool_async.c, async_queue.c), as the files of
 * src/pool share them.
 *
 * A request's life (its state is [mu] of its pool):
 *
 *   NEW      made by an acquire that must wait or vet; not in the queue
 *   WAITING  in the pool's FIFO queue (its waiter, w), and in the worker's
 *            deadline heap when it has a deadline
 *   VETTING  holds an instance the worker must vet (expiry, generation,
 *            validate) before it can be delivered; a failed vet puts it
 *            back at the head of the queue, WAITING
 *   DONE     has its outcome; owned by whoever delivers it: the worker (on
 *            its done list), then the completion queue, then the
 *            dispatcher, which runs the callback and frees it
 *
 * A request with a cancel subscription is always delivered by the worker,
 * which unsubscribes it first (outside mu, as the cancel lock order wants):
 * so no wake function can run on a request, or touch its pool, once the
 * worker has let it go, and the worker is joined before the pool is freed.
 * A request without one, handed an instance that needs no vetting, for an
 * fd queue, is delivered straight from nr__place_locked.
 */
#ifndef NR_POOL_ASYNC_H
#define NR_POOL_ASYNC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cancel_internal.h"
#include "hooks/hooks_internal.h"
#include "nebula/async.h"
#include "pool/pool_internal.h"

typedef enum { NR__OP_NEW, NR__OP_WAITING, NR__OP_VETTING, NR__OP_DONE } nr__op_state;

struct nr_async_op {
    nr__waiter w;      /* w.op == this; in the pool's queue while WAITING */
    nr_pool *p;        /* constant */
    nr_async_queue *q; /* constant */
    nr_async_fn fn;    /* constant */
    void *ud;          /* constant */
    const nr_cancel *cancel;
    nr__cancel_waiter cw; /* wake = the request's cancel */
    int subscribed;       /* cw is registered on cancel (set before it is queued) */
    nr__op_state state;   /* [mu] */
    nr_deadline deadline; /* set when it is queued */
    size_t heap_i;        /* [mu] its place in the worker's deadline heap; SIZE_MAX = none */
    int in_list;          /* [mu] on the worker's sorted deadline list instead */
    struct nr_async_op *dl_prev, *dl_next; /* [mu] that list's links */
    int64_t t0;                            /* nr_now_ns when it began to wait */
    int at_max;                            /* it found the pool at max_size */
    struct nr__instance *inst;             /* VETTING: the instance to vet */
    uint32_t *bucket;                      /* VETTING: where inst is counted */
    int rc;                                /* DONE: the outcome, with guard or err */
    nr_guard guard;
    nr_error err;
    int64_t waited;           /* DONE: how long it waited (ns) */
    int observe;              /* DONE: events and metrics are still to be recorded by the
                                 dispatcher (a lease, which keeps the pool alive) */
    struct nr_async_op *next; /* on the worker's lists, then on the completion queue */
    /* a pool with acquire hooks: the worker runs the befores, then the
     * acquire; the afters run when the outcome is delivered */
    struct nr__op_hooks *hk; /* NULL = no hooks (kept apart: the request stays small) */
    int cancel_asked;        /* [mu] nr_async_cancel while the befores ran */
};

/* What a hooked request carries for its hooks (allocated apart). */
typedef struct nr__op_hooks {
    nr__hook_run run;
    nr_hook_call call;
    nr_scope scope; /* the caller's, copied for the hooks */
    char *caller;   /* the caller's tag, copied (nr_free), or NULL */
} nr__op_hooks;

/* At most this many work threads per pool (pool_async.c). */
#define NR__ASYNC_WORKERS 4

/* A pool's async worker ([mu] of its pool, except the thread ids): a timer
 * thread and up to NR__ASYNC_WORKERS work threads. */
typedef struct nr__async {
    pthread_t tid; /* the timer thread */
    pthread_t work_tids[NR__ASYNC_WORKERS];
    uint32_t nwork;         /* work threads started */
    uint32_t work_idle;     /* of those, waiting for work */
    uint32_t work_busy;     /* of those, working outside mu */
    int stop;               /* nr__async_stop: exit once nothing is left */
    int busy;               /* the timer thread is delivering or planning outside mu */
    pthread_cond_t work_cv; /* work threads sleep here */
    pthread_cond_t cv;      /* the timer thread sleeps here (monotonic clock) */
    pthread_cond_t empty;   /* signalled when it holds nothing (nr__async_flush) */
    struct nr_async_op *hook_head, *hook_tail;     /* NEW, hooked: befores, then acquire */
    struct nr_async_op *handed_head, *handed_tail; /* VETTING, to vet and deliver */
    struct nr_async_op *done_head, *done_tail;     /* DONE, to deliver */
    struct nr__instance *rel_head, *rel_tail;      /* deferred give-backs */
    struct nr_async_op *dl_head, *dl_tail;         /* WAITING ones with a deadline, */
    struct nr_async_op **heap;                     /* on the list or the heap */
    size_t heap_n, heap_cap;
    uint32_t waiting; /* async requests in the pool's queue */
} nr__async;

/* A new request (NEW), its worker started if it was not: NULL with err
 * set (NR_ENOMEM, NR_EINIT) when either fails. No lock held. */
struct nr_async_op *nr__async_op_new(nr_pool *p, nr_async_queue *q, nr_async_fn fn, void *ud,
                                     const nr_cancel *cancel, nr_error *err);
/* Free a request that was never queued (unsubscribing it). No lock held. */
void nr__async_op_discard(struct nr_async_op *op);

/* [mu held on entry, released on return] Queue op (NEW) at the tail of the
 * pool's FIFO queue with its deadline, and start the creates the queue
 * needs. NR_PENDING, or an error (the token was set meanwhile: NR_ECANCELED)
 * with op still NEW and not queued. */
int nr__async_enqueue_unlock(struct nr_async_op *op, nr_deadline deadline, int at_max,
                             nr_error *err);

/* op (NEW, hooked, its deadline set; no lock held): the worker runs the
 * acquire hooks' befores, then the acquire. */
void nr__async_hook_later(struct nr_async_op *op);
/* The acquire of a hooked request whose befores passed, on the worker (no
 * lock held): NR_OK with *out leased, NR_PENDING (queued or vetting), or an
 * error in op->err. pool_acquire.c */
int nr__acquire_async_prepared(struct nr_async_op *op, nr_guard *out);

/* op (NEW, no lock held) took inst, which needs vetting: the worker vets
 * it. */
void nr__async_vet_later(struct nr_async_op *op, struct nr__instance *inst, uint32_t *bucket,
                         nr_deadline deadline);

/* Run a delivered request's callback (recording its events first when
 * due), then free it. The dispatching thread, no lock held. */
void nr__async_op_run(struct nr_async_op *op);
/* Drop a delivered request without its callback (its lease given back). */
void nr__async_op_drop(struct nr_async_op *op);

/* ---- deadlines (async_deadlines.c), [mu] ---- */

/* Time op (WAITING, its deadline set): 0, or NR_ENOMEM. */
int nr__timer_add(nr__async *a, struct nr_async_op *op);
/* Stop timing op (harmless when it is not timed). */
void nr__timer_remove(nr__async *a, struct nr_async_op *op);
/* The timed request whose deadline comes first, NULL when none. */
struct nr_async_op *nr__timer_first(const nr__async *a);

/* ---- the completion queue (async_queue.c) ---- */

/* Queue a DONE request for dispatch (fd queues; a leaf lock, any thread,
 * the pool's mu may be held). */
void nr__async_queue_push(nr_async_queue *q, struct nr_async_op *op);
/* The executor of an executor queue, NULL for an fd queue. */
const nr_executor *nr__async_queue_executor(const nr_async_queue *q);

/* ---- from pool_acquire.c ---- */

/* Whether acquiring inst needs vetting off the caller (expired, stale, or a
 * validate due). */
int nr__vet_needed(nr_pool *p, const struct nr__instance *inst);
/* Expiry, generation and validate (no lock held): 1 = good; 0 = it was
 * discarded from *bucket. */
int nr__vet(nr_pool *p, struct nr__instance *inst, uint32_t *bucket);
/* Stamp a lease of inst into out (the holder, no lock held). */
void nr__lease_stamp(nr_pool *p, struct nr__instance *inst, nr_guard *out, const char *file,
                     int line, const char *func);
/* An acquire's probe, histogram and events (no lock held; waited -1 when
 * it never waited). */
void nr__acquire_observe(nr_pool *p, int rc, uint64_t instance_id, int64_t waited, int at_max);

#endif

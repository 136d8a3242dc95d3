/*
 * pool_async.c - async requests in the pool's queue, and the pool's async
 * worker: it times their deadlines, plans creates for them while creates
 * back off, vets the instances they are handed, delivers what must not be
 * delivered under the pool's lock, and runs deferred give-backs.
 * (The acquire itself is in pool_acquire.c; the request's life is told in
 * pool_async.h.)
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_async.h"

#include <assert.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "nebula/alloc.h"

/* ---- lists ([mu]) ---------------------------------------------------------------------- */

static void op_append(struct nr_async_op **head, struct nr_async_op **tail, struct nr_async_op *op)
{
    op->next = NULL;
    if (*tail)
        (*tail)->next = op;
    else
        *head = op;
    *tail = op;
}

static struct nr_async_op *op_pop(struct nr_async_op **head, struct nr_async_op **tail)
{
    struct nr_async_op *op = *head;
    if (op) {
        *head = op->next;
        if (!*head)
            *tail = NULL;
        op->next = NULL;
    }
    return op;
}

static int worker_holds_locked(const nr__async *a)
{
    return a->hook_head || a->handed_head || a->done_head || a->rel_head || a->busy || a->work_busy;
}

/* [mu] op leaves the queue and the heap (it is no longer WAITING). */
static void leave_queue_locked(nr_pool *p, struct nr_async_op *op)
{
    nr__waiter_unlink_locked(p, &op->w);
    nr__timer_remove(p->async, op);
    p->async->waiting--;
}

/* [mu] The time op waited, counted in the pool's wait totals. */
static void count_wait_locked(nr_pool *p, struct nr_async_op *op)
{
    int64_t waited = nr_now_ns() - op->t0;
    op->waited = waited;
    p->wait_ns_total += waited;
    if (waited > p->wait_ns_max)
        p->wait_ns_max = waited;
}

/* [mu] op (WAITING) fails with rc: off the queue, to the worker's done list. */
static void fail_waiting_locked(nr_pool *p, struct nr_async_op *op, int rc)
{
    leave_queue_locked(p, op);
    count_wait_locked(p, op);
    op->state = NR__OP_DONE;
    op->rc = rc;
    if (rc == NR_ETIMEDOUT) {
        p->timeouts++;
        nr__timeout_error_locked(p, &op->err);
    } else if (rc == NR_ECANCELED) {
        p->cancels++;
        nr_error_set(&op->err, rc, p->id, "pool '%s': acquire canceled", p->id);
    } else {
        nr_error_set(&op->err, rc, p->id, "pool '%s' is shut down", p->id);
    }
    op_append(&p->async->done_head, &p->async->done_tail, op);
    pthread_cond_signal(&p->async->cv);
}

/* ---- delivery -------------------------------------------------------------------------- */

static void run_job(void *arg)
{
    nr__async_op_run(arg);
}

/* Deliver a DONE request (no lock held): unsubscribe it, record its events
 * (the pool is alive: this is the worker, or an acquiring caller), and
 * queue it or run it on its executor. */
static void deliver(struct nr_async_op *op)
{
    if (op->subscribed) {
        nr__cancel_unsubscribe(op->cancel, &op->cw);
        op->subscribed = 0;
    }
    if (op->hk) { /* the afters, with the outcome (nothing when a before refused) */
        op->hk->call.instance_id = op->rc == NR_OK ? op->guard.inst->id : 0;
        op->hk->call.wait_ns = op->waited > 0 ? op->waited : 0;
        nr__pool_hooks_after(op->p, &op->hk->run, &op->hk->call, op->rc, &op->err);
    }
    nr__acquire_observe(op->p, op->rc, op->rc == NR_OK ? op->guard.inst->id : 0, op->waited,
                        op->at_max);
    op->observe = 0;
    const nr_executor *ex = nr__async_queue_executor(op->q);
    if (!ex) {
        nr__async_queue_push(op->q, op);
        return;
    }
    if (ex->submit(ex->ud, run_job, op) != 0)
        nr__async_op_run(op); /* refused: here, on the worker */
}

/* ---- the worker ------------------------------------------------------------------------ */

static void timespec_at(struct timespec *ts, int64_t ns)
{
    ts->tv_sec = (time_t)(ns / NR_NS_PER_S);
    ts->tv_nsec = (long)(ns % NR_NS_PER_S);
}

/* A handed request's instance, vetted (no lock held): delivered, or, when
 * the vet discarded it, the request goes back to the head of the queue. */
static void vet_and_deliver(nr_pool *p, struct nr_async_op *op)
{
    struct nr__instance *inst = op->inst;
    op->inst = NULL;
    if (nr__vet(p, inst, op->bucket)) {
        nr__lease_stamp(p, inst, &op->guard, NULL, 0, NULL);
        nr__pool_lock(p);
        count_wait_locked(p, op);
        op->state = NR__OP_DONE;
        int asked = op->cancel_asked;
        if (asked)
            p->cancels++;
        nr__pool_unlock(p);
        op->rc = NR_OK;
        if (asked) { /* cancelled while its hooks ran: the lease goes back */
            nr_guard_release(&op->guard);
            op->guard = (nr_guard)NR_GUARD_INIT;
            op->rc =
                nr_error_set(&op->err, NR_ECANCELED, p->id, "pool '%s': acquire canceled", p->id);
        }
        deliver(op);
        return;
    }
    nr__pool_lock(p);
    if (atomic_load_explicit(&p->refusing, memory_order_relaxed)) {
        count_wait_locked(p, op);
        op->state = NR__OP_DONE;
        nr__pool_unlock(p);
        op->rc = nr_error_set(&op->err, NR_ESHUTDOWN, p->id, "pool '%s' is shut down", p->id);
        deliver(op);
        return;
    }
    if (op->cancel && nr_cancel_is_set(op->cancel)) { /* (set while it was vetting) */
        count_wait_locked(p, op);
        op->state = NR__OP_DONE;
        p->cancels++;
        nr__pool_unlock(p);
        op->rc = nr_error_set(&op->err, NR_ECANCELED, p->id, "pool '%s': acquire canceled", p->id);
        deliver(op);
        return;
    }
    /* Back where it was: first in line (it was, when it was handed). */
    op->state = NR__OP_WAITING;
    op->w.inst = NULL;
    op->w.prev = NULL;
    op->w.next = p->wait_head;
    op->w.queued = 1;
    if (p->wait_head)
        p->wait_head->prev = &op->w;
    else
        p->wait_tail = &op->w;
    p->wait_head = &op->w;
    p->waiters++;
    p->async->waiting++;
    nr__gate_update_locked(p);
    if (nr_deadline_is_set(op->deadline) && op->deadline.at_ns != NR_DEADLINE_NEVER &&
        nr__timer_add(p->async, op) != NR_OK) {
        /* (no room to time it: it fails now rather than wait unbounded) */
        fail_waiting_locked(p, op, NR_ETIMEDOUT);
    } else {
        nr__settle_locked(p);
        pthread_cond_signal(&p->async->cv); /* plan the create it may need */
    }
    nr__pool_unlock(p);
}

/* A hooked request (no lock held): the befores, then the acquire; an
 * outcome known now is delivered here, a pending one later. */
static void hook_and_acquire(nr_pool *p, struct nr_async_op *op)
{
    nr_hook_call *call = &op->hk->call;
    const nr_scope *caller_scope = call->caller_scope;
    nr__pool_hook_call(p, NR_HOOK_ACQUIRE, 0, call);
    call->caller_scope = caller_scope;
    call->caller = op->hk->caller;
    int rc = nr__hooks_before(p->hooks, &op->hk->run, call, &op->err);
    if (rc == NR_OK) {
        nr__pool_lock(p);
        int asked = op->cancel_asked;
        nr__pool_unlock(p);
        if (asked || (op->cancel && nr_cancel_is_set(op->cancel))) {
            rc = NR_ECANCELED;
        } else {
            nr_guard g = NR_GUARD_INIT;
            rc = nr__acquire_async_prepared(op, &g);
            if (rc == NR_PENDING)
                return; /* queued or vetting: delivered from there */
            if (rc == NR_OK) {
                nr__pool_lock(p);
                asked = op->cancel_asked;
                nr__pool_unlock(p);
                if (asked) {
                    nr_guard_release(&g);
                    rc = NR_ECANCELED;
                } else {
                    op->guard = g;
                }
            }
        }
        if (rc == NR_ECANCELED) {
            nr__pool_lock(p);
            p->cancels++;
            nr__pool_unlock(p);
            nr_error_set(&op->err, rc, p->id, "pool '%s': acquire canceled", p->id);
        }
    }
    nr__pool_lock(p);
    op->state = NR__OP_DONE;
    nr__pool_unlock(p);
    op->rc = rc;
    deliver(op);
}

/* A deferred give-back (no lock held). */
static void give_back_deferred(struct nr__instance *inst)
{
    nr_guard g = {inst, inst->async_lease};
    if (inst->async_taint)
        nr_guard_taint(&g);
    else
        nr_guard_release(&g);
}

/* ---- the worker's threads ------------------------------------------------------------
 * The timer thread delivers what must not be delivered under mu, times the
 * deadlines and plans creates while they back off: it never runs driver
 * or hook code, so a deadline is kept however long a validate, a recycle
 * or a hook takes. That slow work (the hooks' befores, vetting, deferred
 * give-backs) runs on work threads, started as work finds them all busy,
 * at most NR__ASYNC_WORKERS. */

static void *work_main(void *arg);

/* [mu] Start one more work thread when none is free. */
static void work_wake_locked(nr_pool *p)
{
    nr__async *a = p->async;
    if (a->work_idle > 0 || a->nwork >= NR__ASYNC_WORKERS) {
        pthread_cond_signal(&a->work_cv);
        return;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(&a->work_tids[a->nwork], &attr, work_main, p) == 0)
        a->nwork++;
    pthread_attr_destroy(&attr);
    pthread_cond_signal(&a->work_cv); /* (none started: a busy one takes it next) */
}

static void *work_main(void *arg)
{
    nr_pool *p = arg;
    nr__pool_lock(p);
    nr__async *a = p->async;
    for (;;) {
        struct nr_async_op *op;
        struct nr__instance *inst = NULL;
        if ((op = op_pop(&a->hook_head, &a->hook_tail)) == NULL &&
            (op = op_pop(&a->handed_head, &a->handed_tail)) == NULL && a->rel_head) {
            inst = a->rel_head;
            a->rel_head = inst->async_next;
            if (!a->rel_head)
                a->rel_tail = NULL;
            inst->async_next = NULL;
        }
        if (op || inst) {
            a->work_busy++;
            nr__pool_unlock(p);
            if (inst)
                give_back_deferred(inst);
            else if (op->state == NR__OP_VETTING)
                vet_and_deliver(p, op);
            else
                hook_and_acquire(p, op);
            nr__pool_lock(p);
            a->work_busy--;
            continue;
        }
        if (!worker_holds_locked(a))
            pthread_cond_broadcast(&a->empty);
        if (a->stop)
            break;
        a->work_idle++;
        pthread_cond_wait(&a->work_cv, &p->mu);
        nr__pool_note_owner(p);
        a->work_idle--;
    }
    nr__pool_unlock(p);
    return NULL;
}

static void *worker_main(void *arg)
{
    nr_pool *p = arg;
    nr__pool_lock(p);
    nr__async *a = p->async;
    for (;;) {
        struct nr_async_op *op;
        if ((op = op_pop(&a->done_head, &a->done_tail)) != NULL) {
            a->busy = 1;
            nr__pool_unlock(p);
            deliver(op);
            nr__pool_lock(p);
            a->busy = 0;
            continue;
        }
        if (!worker_holds_locked(a))
            pthread_cond_broadcast(&a->empty);
        int64_t now = nr_now_ns();
        int expired = 0;
        struct nr_async_op *first;
        while ((first = nr__timer_first(a)) != NULL && first->deadline.at_ns <= now) {
            fail_waiting_locked(p, first, NR_ETIMEDOUT);
            expired = 1;
        }
        if (expired)
            continue;
        if (a->waiting > 0) {
            uint32_t n = nr__creator_plan_locked(p, 0);
            if (n) {
                a->busy = 1;
                nr__pool_unlock(p);
                nr__creator_start(p, n);
                nr__pool_lock(p);
                a->busy = 0;
                continue;
            }
        }
        if (a->stop)
            break;
        first = nr__timer_first(a);
        int64_t wake = first ? first->deadline.at_ns : INT64_MAX;
        if (a->waiting > 0 && p->failures > 0 && p->next_create_ns > now &&
            p->next_create_ns < wake)
            wake = p->next_create_ns;
        if (wake == INT64_MAX) {
            pthread_cond_wait(&a->cv, &p->mu);
        } else {
            struct timespec ts;
            timespec_at(&ts, wake);
            pthread_cond_timedwait(&a->cv, &p->mu, &ts);
        }
        nr__pool_note_owner(p);
    }
    nr__pool_unlock(p);
    return NULL;
}

static void async_free(nr__async *a)
{
    pthread_cond_destroy(&a->cv);
    pthread_cond_destroy(&a->work_cv);
    pthread_cond_destroy(&a->empty);
    nr_free(a->heap);
    nr_free(a);
}

/* Make and start the pool's worker (its timer thread and a first work
 * thread) if it has none (no lock held). */
static int worker_ensure(nr_pool *p, nr_error *err)
{
    if (atomic_load_explicit(&p->async_made, memory_order_acquire))
        return NR_OK; /* (it stays until nr_pool_destroy) */
    nr__async *a = nr_calloc(1, sizeof(*a));
    if (!a)
        return nr_error_set(err, NR_ENOMEM, p->id, "pool '%s': out of memory", p->id);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&a->work_cv, NULL);
    pthread_cond_init(&a->empty, NULL);
    nr__pool_lock(p);
    if (p->async) { /* another caller made it meanwhile */
        nr__pool_unlock(p);
        async_free(a);
        return NR_OK;
    }
    p->async = a;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = pthread_create(&a->tid, &attr, worker_main, p);
    if (rc == 0 && pthread_create(&a->work_tids[0], &attr, work_main, p) == 0) {
        a->nwork = 1;
    } else if (rc == 0) { /* no work thread: stop the timer thread again */
        a->stop = 1;
        pthread_cond_signal(&a->cv);
        nr__pool_unlock(p);
        pthread_join(a->tid, NULL);
        nr__pool_lock(p);
        rc = -1;
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        p->async = NULL;
        nr__pool_unlock(p);
        async_free(a);
        return nr_error_set(err, NR_EINIT, p->id, "pool '%s': cannot start its async worker",
                            p->id);
    }
    atomic_store_explicit(&p->async_made, 1, memory_order_release);
    nr__pool_unlock(p);
    return NR_OK;
}

void nr__async_flush(nr_pool *p)
{
    nr__pool_lock(p);
    nr__async *a = p->async;
    if (a) {
        pthread_cond_signal(&a->cv);
        while (worker_holds_locked(a)) {
            pthread_cond_wait(&a->empty, &p->mu);
            nr__pool_note_owner(p);
        }
    }
    nr__pool_unlock(p);
}

void nr__async_stop(nr_pool *p)
{
    nr__pool_lock(p);
    nr__async *a = p->async;
    if (!a) {
        nr__pool_unlock(p);
        return;
    }
    a->stop = 1;
    pthread_cond_signal(&a->cv);
    pthread_cond_broadcast(&a->work_cv);
    uint32_t nwork = a->nwork;
    nr__pool_unlock(p);
    pthread_join(a->tid, NULL);
    for (uint32_t i = 0; i < nwork; i++)
        pthread_join(a->work_tids[i], NULL);
    nr__pool_lock(p);
    p->async = NULL;
    atomic_store_explicit(&p->async_made, 0, memory_order_relaxed);
    nr__pool_unlock(p);
    assert(!nr__timer_first(a) && a->waiting == 0);
    async_free(a);
}

/* ---- called by the pool ---------------------------------------------------------------- */

void nr__async_handed_locked(nr_pool *p, struct nr_async_op *op, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    nr__async *a = p->async;
    assert(op->state == NR__OP_WAITING);
    nr__timer_remove(a, op); /* (it was popped from the queue by the giver) */
    a->waiting--;
    op->w.inst = NULL;
    if (!op->subscribed && !op->hk && !nr__async_queue_executor(op->q) &&
        !nr__vet_needed(p, inst)) {
        /* Straight to its queue: nothing to vet, nothing to unsubscribe. */
        nr__lease_stamp(p, inst, &op->guard, NULL, 0, NULL);
        count_wait_locked(p, op);
        op->state = NR__OP_DONE;
        op->rc = NR_OK;
        op->observe = 1; /* by the dispatcher: events may not run under mu */
        nr__async_queue_push(op->q, op);
        return;
    }
    op->state = NR__OP_VETTING;
    op->inst = inst;
    op->bucket = &p->in_use;
    op_append(&a->handed_head, &a->handed_tail, op);
    work_wake_locked(p);
}

void nr__async_fail_waiting_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    if (!p->async || p->async->waiting == 0)
        return;
    for (nr__waiter *w = p->wait_head, *next; w; w = next) {
        next = w->next;
        if (w->op)
            fail_waiting_locked(p, w->op, NR_ESHUTDOWN);
    }
}

void nr__async_poke_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    if (p->async && p->async->waiting > 0)
        pthread_cond_signal(&p->async->cv);
}

/* The wake function of a request's cancel subscription: runs under the
 * cancel registry lock, takes only the pool's. */
static void cancel_wake(void *ud)
{
    struct nr_async_op *op = ud;
    nr_pool *p = op->p;
    nr__pool_lock(p);
    if (op->state == NR__OP_WAITING)
        fail_waiting_locked(p, op, NR_ECANCELED);
    nr__pool_unlock(p);
}

/* ---- the request ----------------------------------------------------------------------- */

struct nr_async_op *nr__async_op_new(nr_pool *p, nr_async_queue *q, nr_async_fn fn, void *ud,
                                     const nr_cancel *cancel, nr_error *err)
{
    if (worker_ensure(p, err) != NR_OK)
        return NULL;
    /* (not zeroed: err is written only with a failure, and read only then) */
    struct nr_async_op *op = nr_malloc(sizeof(*op));
    if (!op) {
        nr_error_set(err, NR_ENOMEM, p->id, "pool '%s': out of memory", p->id);
        return NULL;
    }
    memset(op, 0, offsetof(struct nr_async_op, err));
    memset(&op->err + 1, 0, sizeof(*op) - offsetof(struct nr_async_op, err) - sizeof(op->err));
    op->w.pool = p;
    op->w.op = op;
    op->p = p;
    op->q = q;
    op->fn = fn;
    op->ud = ud;
    op->cancel = cancel;
    op->cw.wake = cancel_wake;
    op->cw.ud = op;
    op->heap_i = SIZE_MAX;
    op->state = NR__OP_NEW;
    op->waited = -1;
    op->err.code = NR_OK;
    return op;
}

static void op_free(struct nr_async_op *op)
{
    if (op->hk)
        nr_free(op->hk->caller);
    nr_free(op->hk);
    nr_free(op);
}

void nr__async_op_discard(struct nr_async_op *op)
{
    if (op->subscribed)
        nr__cancel_unsubscribe(op->cancel, &op->cw);
    op_free(op);
}

int nr__async_enqueue_unlock(struct nr_async_op *op, nr_deadline deadline, int at_max,
                             nr_error *err)
{
    nr_pool *p = op->p;
    NR__ASSERT_LOCKED(p);
    nr__async *a = p->async;
    if ((op->cancel && nr_cancel_is_set(op->cancel)) || op->cancel_asked) {
        /* set after the loop looked, before the subscription could see it queued */
        p->cancels++;
        nr__pool_unlock(p);
        return nr_error_set(err, NR_ECANCELED, p->id, "pool '%s': acquire canceled", p->id);
    }
    op->deadline = deadline;
    op->at_max = at_max;
    op->t0 = nr_now_ns();
    if (deadline.at_ns != NR_DEADLINE_NEVER && nr__timer_add(a, op) != NR_OK) {
        nr__pool_unlock(p);
        return nr_error_set(err, NR_ENOMEM, p->id, "pool '%s': out of memory", p->id);
    }
    op->state = NR__OP_WAITING;
    a->waiting++;
    if (deadline.at_ns != NR_DEADLINE_NEVER && nr__timer_first(a) == op)
        pthread_cond_signal(&a->cv); /* the earliest deadline now */
    /* Settles: it may be handed an instance, delivered and run at once, so
     * op is not touched after this. */
    nr__waiter_append_locked(p, &op->w);
    uint32_t n = nr__creator_plan_locked(p, 0);
    nr__pool_unlock(p);
    if (n)
        nr__creator_start(p, n);
    return NR_PENDING;
}

void nr__async_hook_later(struct nr_async_op *op)
{
    nr_pool *p = op->p;
    nr__pool_lock(p);
    op->t0 = nr_now_ns();
    op_append(&p->async->hook_head, &p->async->hook_tail, op);
    work_wake_locked(p);
    nr__pool_unlock(p);
}

void nr__async_vet_later(struct nr_async_op *op, struct nr__instance *inst, uint32_t *bucket,
                         nr_deadline deadline)
{
    nr_pool *p = op->p;
    nr__pool_lock(p);
    op->deadline = deadline;
    op->t0 = nr_now_ns();
    op->state = NR__OP_VETTING;
    op->inst = inst;
    op->bucket = bucket;
    op_append(&p->async->handed_head, &p->async->handed_tail, op);
    work_wake_locked(p);
    nr__pool_unlock(p);
}

void nr__async_op_run(struct nr_async_op *op)
{
    if (op->observe) {
        nr__acquire_observe(op->p, op->rc, op->rc == NR_OK ? op->guard.inst->id : 0, op->waited,
                            op->at_max);
        op->observe = 0;
    }
    nr_guard g = op->guard;
    op->fn(op->ud, op->rc, &g, op->rc == NR_OK ? NULL : &op->err);
    op_free(op);
}

void nr__async_op_drop(struct nr_async_op *op)
{
    if (op->rc == NR_OK)
        nr_guard_release(&op->guard);
    op_free(op);
}

/* ---- the public calls ------------------------------------------------------------------ */

int nr_async_cancel(nr_async_op *op)
{
    if (!op)
        return NR_EINVAL;
    nr_pool *p = op->p;
    nr__pool_lock(p);
    int rc = NR_ESTATE;
    if (op->state == NR__OP_WAITING) {
        fail_waiting_locked(p, op, NR_ECANCELED);
        rc = NR_OK;
    } else if (op->hk && op->state != NR__OP_DONE && !op->cancel_asked) {
        op->cancel_asked = 1; /* its hooks run: the worker ends it */
        rc = NR_OK;
    }
    nr__pool_unlock(p);
    return rc;
}

/* Whether a give-back of inst must run driver code (recycle, or a destroy
 * of an instance the pool will not keep). A racy look: a close or a shrink
 * that starts meanwhile may still make the inline give-back destroy it. */
static int give_back_blocks(nr_pool *p, const struct nr__instance *inst, int taint)
{
    if (taint || (p->can_recycle && NR__CFG(p, recycle_on_release)) ||
        NR__POOL_HOOKS(p, NR_HOOK_RELEASE))
        return 1;
    if (atomic_load_explicit(&p->closed, memory_order_relaxed) ||
        atomic_load_explicit(&p->shrinking, memory_order_relaxed))
        return 1;
    return nr__expired(p, inst, nr__tick_ns()) || nr__stale(p, inst);
}

static int release_async(nr_guard *g, int taint)
{
    if (!g || !g->inst)
        return NR_OK;
    struct nr__instance *inst = g->inst;
    nr_pool *p = inst->pool;
    if (atomic_load_explicit(&inst->lease, memory_order_acquire) != g->lease)
        return NR_ESTATE;
    if (!give_back_blocks(p, inst, taint))
        return taint ? nr_guard_taint(g) : nr_guard_release(g);
    if (worker_ensure(p, NULL) != NR_OK) /* (no thread: it runs here after all) */
        return taint ? nr_guard_taint(g) : nr_guard_release(g);
    /* Claim the lease now, so that a second give-back of it (a copy of the
     * guard) fails here, not silently on the worker: the lease becomes its
     * "being given back" twin, which only the worker's give-back ends. */
    uint64_t expect = g->lease;
    if (!atomic_compare_exchange_strong_explicit(&inst->bag, &expect, g->lease | NR__OWN_DEFERRED,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return NR_ESTATE;
    atomic_store_explicit(&inst->lease, g->lease | NR__OWN_DEFERRED, memory_order_relaxed);
    inst->async_lease = g->lease | NR__OWN_DEFERRED;
    inst->async_taint = taint;
    g->inst = NULL;
    g->lease = 0;
    nr__pool_lock(p);
    nr__async *a = p->async;
    inst->async_next = NULL;
    if (a->rel_tail)
        a->rel_tail->async_next = inst;
    else
        a->rel_head = inst;
    a->rel_tail = inst;
    work_wake_locked(p);
    nr__pool_unlock(p);
    return NR_OK;
}

int nr_guard_release_async(nr_guard *g)
{
    return release_async(g, 0);
}

int nr_guard_taint_async(nr_guard *g)
{
    return release_async(g, 1);
}

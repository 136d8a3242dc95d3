/*
 * pool_acquire.c - handing out a lease, in named steps.
 *
 *   nr_pool_acquire
 *     check_args          the guard, the pool, the caller's scope
 *     loop:
 *       take_fast         a Free instance from the bag, no lock
 *       take_locked       under mu: an idle instance (a degraded one only
 *                         when no healthy one is idle), or the reason there
 *                         is none (closed, breaker open, no wait allowed, too
 *                         many waiters, a yield worth trying, or a wait)
 *       wait_locked       join the FIFO queue, ask the creator for what the
 *                         queue needs, sleep until an instance is handed
 *                         over or the deadline, cancel or close ends it
 *       vet               expiry, generation and validate (outside mu); a
 *                         failure destroys the instance and the loop goes on
 *     lease               stamp the lease id the guard will carry
 *
 * An acquire never runs create(): the creator does (pool_create.c), and the
 * new instance reaches the oldest waiter as a released one would.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_bag.h"
#include "pool/pool_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/abi.h"
#include "nebula/alloc.h"
#include "base/cancel_internal.h"
#include "observe/probes.h"
#include "observe/span.h"
#include "pool/pool_async.h"
#include "pool/pool_vet.h"

/* How many times an acquire that finds nothing free yields before queueing
 * (and for at most SPIN_MAX_NS). With 4, one object shared by as many
 * threads as cores fell to one futex wake-up per acquire (about 80 k ops/s
 * at 2 threads); 16 keeps the running threads passing it (about 15 M). */
static const int spin_yields = 16;
#define SPIN_MAX_NS (200 * NR_NS_PER_US)

/* One acquire's state, shared by its steps. */
typedef struct acq {
    nr_pool *p;
    const nr_cancel *cancel;
    nr_deadline deadline; /* made on first use (the fast path reads no clock) */
    int zero_wait;
    nr__waiter *w; /* the caller's, set up only when it must wait (w_ready) */
    int w_ready;
    nr__cancel_waiter *cw; /* the caller's, filled only when it subscribes */
    int subscribed;
    int spins;
    int64_t spin_t0; /* when this acquire began to look again (counts as waiting) */
    int64_t waited;  /* -1 until it has to wait */
    int at_max;      /* it found nothing idle while the pool was at max_size */
    struct nr__instance *inst;
    uint32_t *bucket; /* where inst is counted: &p->in_use or &p->bagged */
    nr_error *err;
    /* an async acquire (nr_pool_acquire_async): it never sleeps or yields,
     * and where a blocking one would wait, it queues op (made when it must
     * wait) and returns NR_PENDING */
    int async;
    struct nr_async_op *op;
    nr_async_queue *q;
    nr_async_fn fn;
    void *fn_ud;
} acq;
/* acquire_loop sets each field by hand: a new field must be set there too */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(acq) == 152, "acq changed: update acquire_loop's field-by-field set-up");
#endif

static nr_deadline deadline_of(acq *a)
{
    if (!nr_deadline_is_set(a->deadline))
        a->deadline = a->zero_wait ? nr_deadline_in_ns(0)
                                   : nr_deadline_in_ms(NR__CFG(a->p, acquire_timeout_ms));
    return a->deadline;
}

static void timespec_from_ns(struct timespec *ts, int64_t ns)
{
    ts->tv_sec = (time_t)(ns / NR_NS_PER_S);
    ts->tv_nsec = (long)(ns % NR_NS_PER_S);
}

/* Set up what waiting needs (outside mu): a blocking caller's condition
 * variable, or an async caller's request. NR_OK, or an error with a->err. */
static int prepare_wait(acq *a)
{
    if (a->async) {
        a->op = nr__async_op_new(a->p, a->q, a->fn, a->fn_ud, a->cancel, a->err);
        if (!a->op)
            return a->err ? a->err->code : NR_ENOMEM;
        a->w = &a->op->w;
        a->cw = &a->op->cw;
    } else {
        nr__waiter_init(a->w, a->p);
        a->cw->wake = nr__waiter_cancel_wake;
        a->cw->ud = a->w;
    }
    a->w_ready = 1;
    return NR_OK;
}

/* [mu] Start the creates the queue needs; mu is released around the start
 * (then 1 comes back, 0 when nothing was started and mu stayed held). */
static int plan_and_start_locked(nr_pool *p, uint32_t extra)
{
    uint32_t n = nr__creator_plan_locked(p, extra);
    if (!n)
        return 0;
    nr__pool_unlock(p);
    nr__creator_start(p, n);
    nr__pool_lock(p);
    return 1;
}

/*
 * [mu] Wait in the FIFO queue until an instance is handed over (a.inst set,
 * already counted in in_use). Returns NR_OK or an error code with err
 * filled.
 */
static int wait_locked(acq *a)
{
    nr_pool *p = a->p;
    NR__ASSERT_LOCKED(p);
    nr__waiter *w = a->w;
    nr_deadline deadline = deadline_of(a);
    nr__waiter_append_locked(p, w);

    int rc = NR_OK;
    int64_t start = a->spin_t0 ? a->spin_t0 : nr_now_ns();
    int never = deadline.at_ns == NR_DEADLINE_NEVER;
    for (;;) {
        if (w->inst)
            break;
        if (atomic_load_explicit(&p->refusing, memory_order_relaxed)) {
            rc = NR_ESHUTDOWN;
            break;
        }
        if (a->cancel && nr_cancel_is_set(a->cancel)) {
            rc = NR_ECANCELED;
            break;
        }
        int64_t now = nr_now_ns();
        if (!never && now >= deadline.at_ns) {
            rc = NR_ETIMEDOUT;
            break;
        }
        /* Ask for the creates the queue needs (none while enough run). */
        if (plan_and_start_locked(p, 0))
            continue; /* mu was released: look again */
        /* While creates fail, wake when the backoff ends to plan again. */
        int64_t wake = never ? INT64_MAX : deadline.at_ns;
        if (p->failures > 0 && p->next_create_ns > now && p->next_create_ns < wake)
            wake = p->next_create_ns;
        if (wake == INT64_MAX) {
            pthread_cond_wait(&w->cv, &p->mu);
        } else {
            struct timespec ts;
            timespec_from_ns(&ts, wake);
            pthread_cond_timedwait(&w->cv, &p->mu, &ts);
        }
        nr__pool_note_owner(p);
    }
    if (rc != NR_OK)
        nr__waiter_unlink_locked(p, w);
    int64_t waited = nr_now_ns() - start;
    a->waited += waited;
    p->wait_ns_total += waited;
    if (waited > p->wait_ns_max)
        p->wait_ns_max = waited;
    if (rc == NR_ETIMEDOUT) {
        p->timeouts++;
        nr__timeout_error_locked(p, a->err);
    } else if (rc == NR_ECANCELED) {
        p->cancels++;
        nr_error_set(a->err, rc, p->id, "pool '%s': acquire canceled", p->id);
    } else if (rc == NR_ESHUTDOWN) {
        nr_error_set(a->err, rc, p->id, "pool '%s' is shut down", p->id);
    } else {
        a->inst = w->inst;
        a->bucket = &p->in_use;
    }
    return rc;
}

/* ---- the steps ------------------------------------------------------------------------- */

void nr__bag_unclaim(nr_pool *p, struct nr__instance *inst)
{
    nr__pool_lock(p);
    if (atomic_load_explicit(&p->closed, memory_order_relaxed)) {
        nr__pool_unlock(p);
        nr__discard(p, inst, &p->bagged, NR__DISCARD_CLOSED);
        return;
    }
    nr__bag_remove_locked(p, inst);
    nr__place_locked(p, inst);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
}

/* A bag instance just claimed: back to the pool with NR_ESHUTDOWN (-1) when
 * the pool refuses, else marked in use with its lease start stamped (0). */
__attribute__((always_inline)) static inline int claimed_step(nr_pool *p, nr_error *err,
                                                              struct nr__instance *inst)
{
    if (atomic_load_explicit(&p->refusing, memory_order_seq_cst)) {
        nr__bag_unclaim(p, inst);
        nr_error_set(err, NR_ESHUTDOWN, p->id, "pool '%s' is shut down", p->id);
        return -1;
    }
    nr__inst_transition(inst, NR_LC_IN_USE);
    atomic_store_explicit(&inst->lease_start_ns, nr__tick_ns(), memory_order_relaxed);
    return 0;
}

/* The fast path: a Free instance from the bag. 1 = got one (a.inst), 0 =
 * none, -1 = error (the pool refuses). */
/* (always inlined: the blocking and the async loop each keep a copy, so the
 * blocking fast path stays one function with no call in it) */
__attribute__((always_inline)) static inline int take_fast(acq *a)
{
    struct nr__instance *inst = nr__bag_claim(a->p);
    if (!inst)
        return 0;
    if (claimed_step(a->p, a->err, inst) < 0)
        return -1;
    a->inst = inst;
    a->bucket = &a->p->bagged;
    return 1;
}

typedef enum { TAKE_GOT, TAKE_AGAIN, TAKE_FAILED, TAKE_PENDING } take_result;

/* [mu held on entry, released on return] One look under the lock. */
__attribute__((always_inline)) static inline take_result take_locked(acq *a, int *rc)
{
    nr_pool *p = a->p;
    NR__ASSERT_LOCKED(p);
    nr__pool_assert_locked_invariants(p);
    if (atomic_load_explicit(&p->refusing, memory_order_relaxed)) {
        nr__pool_unlock(p);
        *rc = nr_error_set(a->err, NR_ESHUTDOWN, p->id, "pool '%s' is shut down", p->id);
        return TAKE_FAILED;
    }
    if (!p->suspended && !p->wait_head && (p->idle_head || p->deg_head)) {
        /* a healthy idle instance, else a degraded one (pool_degraded.c) */
        struct nr__instance *inst = nr__idle_take_locked(p);
        nr__inst_transition(inst, NR_LC_IN_USE);
        nr__lease_on_locked(p, inst);
        nr__pool_unlock(p);
        a->inst = inst;
        a->bucket = &p->in_use;
        return TAKE_GOT;
    }
    /* Nothing idle for this caller. */
    if (p->breaker_open && !p->suspended) {
        const nr_error *c = &p->last_create_err;
        uint32_t failures = p->failures;
        nr_error e = *c;
        uint32_t n = nr__creator_plan_locked(p, 1); /* the trial, when its step has come */
        nr__pool_unlock(p);
        if (n)
            nr__creator_start(p, n);
        *rc = nr_error_set_cause(a->err, NR_EUNAVAIL, e.cause ? e.cause : e.code, e.driver_code,
                                 p->id,
                                 "pool '%s': unavailable: %u creates failed in a row (the "
                                 "breaker is open); the last: %s",
                                 p->id, failures, e.message);
        return TAKE_FAILED;
    }
    int room = !p->suspended && p->total < (uint64_t)p->cfg.max_size;
    if (p->total >= (uint64_t)p->cfg.max_size)
        a->at_max = 1;
    if (a->zero_wait || (!a->spins && nr_deadline_expired(deadline_of(a)))) {
        p->exhausted++;
        uint32_t in_use = p->in_use, waiting = p->waiters;
        int64_t max = p->cfg.max_size; /* [mu]: a resize may change it */
        uint32_t n = room ? nr__creator_plan_locked(p, 1) : 0;
        nr__pool_unlock(p);
        if (n)
            nr__creator_start(p, n);
        if (room)
            *rc = nr_error_set(a->err, NR_EEXHAUSTED, p->id,
                               "pool '%s': no instance is idle and the deadline allows no wait "
                               "(%u in use; a new one is being created)",
                               p->id, in_use);
        else
            *rc = nr_error_set(a->err, NR_EEXHAUSTED, p->id,
                               "pool '%s' is exhausted: all %" PRId64
                               " instance(s) taken (%u in use), %u waiting, and the deadline "
                               "allows no wait",
                               p->id, max, in_use, waiting);
        return TAKE_FAILED;
    }
    if (NR__CFG(p, max_waiters) > 0 && p->waiters >= (uint64_t)NR__CFG(p, max_waiters)) {
        p->exhausted++;
        uint32_t waiting = p->waiters;
        nr__pool_unlock(p);
        *rc = nr_error_set(a->err, NR_EEXHAUSTED, p->id,
                           "pool '%s': %u caller(s) already waiting, the most max_waiters "
                           "allows",
                           p->id, waiting);
        return TAKE_FAILED;
    }
    if (!room && !p->suspended && !a->async && a->spins < spin_yields &&
        (!a->spins || nr_now_ns() - a->spin_t0 < SPIN_MAX_NS)) {
        /* Nothing free and no room: the holders are most likely threads the
         * scheduler has set aside on a busy machine. Give them the CPU a
         * few times and look again before queueing, as a queue, once
         * formed, hands every instance to a sleeper. (Queued callers keep
         * their place: the gate stops this caller from taking an instance
         * past them.) */
        nr__pool_unlock(p);
        if (!a->spins++)
            a->spin_t0 = nr_now_ns();
        sched_yield();
        return TAKE_AGAIN;
    }
    if (!a->w_ready || (a->cancel && !a->subscribed)) {
        /* Prepare to wait outside the lock. The cancel registry lock comes
         * before the pool lock, so subscribe unlocked, then look again. */
        nr__pool_unlock(p);
        if (!a->w_ready && (*rc = prepare_wait(a)) != NR_OK)
            return TAKE_FAILED;
        if (a->cancel && !a->subscribed) {
            if (nr__cancel_subscribe(a->cancel, a->cw) == NR_OK)
                a->subscribed = 1; /* else already set: the loop's check reports it */
            if (a->op)
                a->op->subscribed = a->subscribed;
        }
        return TAKE_AGAIN;
    }
    if (a->async) {
        /* (mu is released by the enqueue) */
        *rc = nr__async_enqueue_unlock(a->op, deadline_of(a), a->at_max, a->err);
        return *rc == NR_PENDING ? TAKE_PENDING : TAKE_FAILED;
    }
    if (a->waited < 0)
        a->waited = 0;
    *rc = wait_locked(a);
    nr__pool_unlock(p);
    return *rc == NR_OK ? TAKE_GOT : TAKE_FAILED;
}

/* Expiry, generation and validate, outside mu. 1 = good; 0 = it was
 * destroyed and the caller looks again. */
__attribute__((always_inline)) static inline int vet(acq *a)
{
    return vet_inline(a->p, a->inst, a->bucket);
}

__attribute__((always_inline)) static inline void lease(acq *a, nr_guard *out, const char *file,
                                                        int line, const char *func)
{
    lease_inline(a->p, a->inst, out, file, line, func);
}

static int check_args(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_acquire: out must not be NULL");
    out->inst = NULL;
    out->lease = 0;
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_acquire: pool must not be NULL");
    assert(p->magic == NR_POOL_MAGIC);
    if (ctx && ctx->scope && !nr_scope_contains(&p->scope, ctx->scope)) {
        char have[NR_SCOPE_TEXT_MAX], want[NR_SCOPE_TEXT_MAX];
        nr_scope_format(ctx->scope, have, sizeof(have));
        nr_scope_format(&p->scope, want, sizeof(want));
        return nr_error_set(err, NR_ESCOPE, p->id,
                            "pool '%s' belongs to scope %s; caller's scope %s is not inside it",
                            p->id, want, have);
    }
    return NR_OK;
}

/* The acquire proper, after the arguments were checked. Inlined into the
 * acquire without hooks, so that path is what it was before hooks existed.
 * bag_tried: the caller has just found nothing Free in the bag, so the first
 * look goes straight to the lock. */
__attribute__((always_inline)) static inline int
acquire_loop(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err, int64_t *waited,
             int *at_max, const char *file, int line, const char *func, int bag_tried)
{
    int rc = NR_OK;
    nr__waiter w;         /* set up only when the caller must wait */
    nr__cancel_waiter cw; /* filled only when it subscribes */
    /* Field by field, not "acq a = {...}": an aggregate initializer zeroes
     * the whole struct first, which gcc does with a rep stos whose start-up
     * cost was a sixth of an uncontended acquire + release. Every field is
     * set here (the static assertion after the typedef is the reminder). */
    acq a;
    a.p = p;
    a.cancel = ctx ? ctx->cancel : NULL;
    a.deadline = (nr_deadline){0};
    a.zero_wait = 0;
    a.w = &w;
    a.w_ready = 0;
    a.cw = &cw;
    a.subscribed = 0;
    a.spins = 0;
    a.spin_t0 = 0;
    a.waited = -1;
    a.at_max = 0;
    a.inst = NULL;
    a.bucket = NULL;
    a.err = err;
    a.async = 0;
    a.op = NULL;
    a.q = NULL;
    a.fn = NULL;
    a.fn_ud = NULL;
    if (ctx && nr_deadline_is_set(ctx->deadline))
        a.deadline = ctx->deadline;
    else if (NR__CFG(p, acquire_timeout_ms) == 0)
        a.zero_wait = 1;

    for (;;) {
        if (a.cancel && nr_cancel_is_set(a.cancel)) {
            nr__pool_lock(p);
            p->cancels++;
            nr__pool_unlock(p);
            rc = nr_error_set(err, NR_ECANCELED, p->id, "pool '%s': acquire canceled", p->id);
            break;
        }
        int fast = bag_tried ? 0 : take_fast(&a);
        bag_tried = 0;
        if (fast < 0) {
            rc = NR_ESHUTDOWN;
            break;
        }
        if (!fast) {
            nr__pool_lock(p);
            take_result t = take_locked(&a, &rc);
            if (t == TAKE_AGAIN)
                continue;
            if (t == TAKE_FAILED)
                break;
        }
        if (!vet(&a))
            continue;
        lease(&a, out, file, line, func);
        rc = NR_OK;
        break;
    }
    if (a.subscribed)
        nr__cancel_unsubscribe(a.cancel, a.cw);
    if (a.w_ready)
        pthread_cond_destroy(&w.cv);
    *waited = a.waited;
    *at_max = a.at_max;
    return rc;
}

/* An acquire with hooks, before: build the call and run the befores (a
 * refusal leases nothing). Out of line, so the acquire without hooks keeps
 * one inlined copy of the loop. */
__attribute__((noinline)) static int acquire_hooks_before(nr_pool *p, const nr_ctx *ctx,
                                                          nr__hook_run *run, nr_hook_call *call,
                                                          nr_error *err, const char *file, int line,
                                                          const char *func)
{
    *run = (nr__hook_run){0};
    nr__pool_hook_call(p, NR_HOOK_ACQUIRE, 0, call);
    if (ctx) {
        call->caller_scope = ctx->scope;
        call->caller = ctx->caller;
    }
    call->site_file = file;
    call->site_line = line;
    call->site_func = func;
    return nr__hooks_before(p->hooks, run, call, err);
}

/* And after: the afters with the outcome. */
__attribute__((noinline)) static void acquire_hooks_after(nr_pool *p, nr__hook_run *run,
                                                          nr_hook_call *call, int rc,
                                                          const nr_guard *out, int64_t waited,
                                                          nr_error *err)
{
    call->instance_id = rc == NR_OK ? out->inst->id : 0;
    call->wait_ns = waited > 0 ? waited : 0;
    nr__pool_hooks_after(p, run, call, rc, err);
}

static int acquire_impl(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err,
                        int64_t *waited, int *at_max, const char *file, int line, const char *func,
                        int bag_tried)
{
    *at_max = 0;
    int rc = check_args(p, ctx, out, err);
    if (rc != NR_OK)
        return rc;
    /* one call of the loop, so it is inlined once, as it was before hooks */
    const bool hooked = NR__POOL_HOOKS(p, NR_HOOK_ACQUIRE);
    nr_error local; /* the afters are shown the failure even when the caller wants none */
    nr__hook_run run;
    nr_hook_call call;
    if (__builtin_expect(hooked, 0)) {
        if (!err) {
            nr__error_reset(&local);
            err = &local;
        }
        rc = acquire_hooks_before(p, ctx, &run, &call, err, file, line, func);
        if (rc != NR_OK)
            return rc;
    }
    rc = acquire_loop(p, ctx, out, err, waited, at_max, file, line, func, bag_tried);
    if (__builtin_expect(hooked, 0))
        acquire_hooks_after(p, &run, &call, rc, out, *waited, err);
    return rc;
}

/* max_size as it is now (a resize may change it under mu). */
static int64_t max_size_now(nr_pool *p)
{
    nr__pool_lock(p);
    int64_t m = p->cfg.max_size;
    nr__pool_unlock(p);
    return m;
}

__attribute__((always_inline)) static inline void
observe_inline(nr_pool *p, int rc, uint64_t instance_id, int64_t waited, int at_max)
{
    NR_PROBE_ACQUIRE(p->id, waited > 0 ? waited : 0, rc);
    if (waited >= 0 && p->wait_hist)
        nr_histogram_observe(p->wait_hist, (double)waited / 1e9);
    if (p->events) {
        if (rc == NR_OK)
            nr__pool_event(p, NR_EV_ACQUIRED, instance_id, waited > 0 ? waited : 0, 0, NR_OK, NULL);
        else if (rc == NR_ETIMEDOUT)
            nr__pool_event(p, NR_EV_TIMEOUT, 0, waited > 0 ? waited : 0, 0, rc, NULL);
        /* exhausted: nothing idle and no room to create, whether it then got
           one (a wait, handed one back), timed out or was refused */
        if (at_max && rc != NR_ESHUTDOWN)
            nr__pool_event(p, NR_EV_POOL_EXHAUSTED, 0, waited > 0 ? waited : 0, max_size_now(p), rc,
                           NULL);
    }
}

void nr__acquire_observe(nr_pool *p, int rc, uint64_t instance_id, int64_t waited, int at_max)
{
    observe_inline(p, rc, instance_id, waited, at_max);
}

int nr__acquire_full(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err, const char *file,
                     int line, const char *func, int bag_tried)
{
    nr_ctx sized;
    if (nr__ctx_in(&ctx, &sized, err) != NR_OK) { /* one compare when the size is ours */
        if (out)
            *out = (nr_guard)NR_GUARD_INIT;
        return NR_EINVAL;
    }
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "acquire", p ? p->id : NULL, p ? &p->scope : NULL,
                   ctx);
    int64_t waited = -1; /* -1: never had to wait */
    int at_max = 0;      /* found nothing idle while at max_size */
    int rc = acquire_impl(p, ctx, out, err, &waited, &at_max, file, line, func, bag_tried);
    if (p)
        observe_inline(p, rc, rc == NR_OK ? out->inst->id : 0, waited, at_max);
    if (nr__span_active(&span)) {
        nr_pool_stats st = NR_POOL_STATS_INIT;
        if (p)
            nr_pool_stats_get(p, &st);
        nr__span_end_err(&span, rc, err, p ? &st : NULL);
    }
    return rc;
}

int nr__acquire_claimed(nr_pool *p, struct nr__instance *inst, const nr_ctx *ctx, nr_guard *out,
                        nr_error *err, const char *file, int line, const char *func)
{
    if (claimed_step(p, err, inst) < 0) {
        *out = (nr_guard)NR_GUARD_INIT;
        observe_inline(p, NR_ESHUTDOWN, 0, -1, 0);
        return NR_ESHUTDOWN;
    }
    if (vet_inline(p, inst, &p->bagged)) {
        lease_inline(p, inst, out, file, line, func);
        observe_inline(p, NR_OK, inst->id, -1, 0);
        return NR_OK;
    }
    /* it failed its checks and was destroyed: look again */
    return nr__acquire_full(p, ctx, out, err, file, line, func, 0);
}

/* ---- without blocking (nebula/async.h) -------------------------------------------------- */

/* The async acquire's loop: the blocking one's steps, except that it
 * never sleeps or yields. Where it would wait it queues its request, and an
 * instance that needs vetting goes to the pool's async worker. */
static int acquire_async_loop(acq *a, nr_guard *out)
{
    nr_pool *p = a->p;
    int rc = NR_OK;
    for (;;) {
        if (a->cancel && nr_cancel_is_set(a->cancel)) {
            nr__pool_lock(p);
            p->cancels++;
            nr__pool_unlock(p);
            rc = nr_error_set(a->err, NR_ECANCELED, p->id, "pool '%s': acquire canceled", p->id);
            break;
        }
        int fast = take_fast(a);
        if (fast < 0) {
            rc = NR_ESHUTDOWN;
            break;
        }
        if (!fast) {
            /* Nothing free without the lock: most likely it must queue, so
             * make the request first rather than lock twice. */
            if (!a->w_ready && !a->cancel && (rc = prepare_wait(a)) != NR_OK)
                break;
            nr__pool_lock(p);
            take_result t = take_locked(a, &rc);
            if (t == TAKE_AGAIN)
                continue;
            if (t != TAKE_GOT)
                break;
        }
        if (nr__vet_needed(p, a->inst)) {
            /* vet on the worker, not here (it may run validate or destroy) */
            if (!a->w_ready && (rc = prepare_wait(a)) != NR_OK) {
                nr__discard(p, a->inst, a->bucket, NR__DISCARD_CLOSED);
                break;
            }
            if (a->cancel && !a->subscribed) {
                if (nr__cancel_subscribe(a->cancel, a->cw) == NR_OK)
                    a->subscribed = 1;
                a->op->subscribed = a->subscribed;
            }
            nr__async_vet_later(a->op, a->inst, a->bucket, deadline_of(a));
            rc = NR_PENDING;
            break;
        }
        lease(a, out, NULL, 0, NULL);
        rc = NR_OK;
        break;
    }
    return rc;
}

/* With acquire hooks: the worker runs the befores (they may block) and then
 * the acquire; the request is pending from the start. */
static int acquire_async_hooked(nr_pool *p, const nr_ctx *ctx, nr_async_queue *q, nr_async_fn fn,
                                void *ud, nr_async_op **opp, nr_error *err)
{
    const nr_cancel *cancel = ctx ? ctx->cancel : NULL;
    struct nr_async_op *op = nr__async_op_new(p, q, fn, ud, cancel, err);
    if (!op)
        return err ? err->code : NR_ENOMEM;
    op->hk = nr_calloc(1, sizeof(*op->hk));
    if (!op->hk) {
        nr__async_op_discard(op);
        return nr_error_set(err, NR_ENOMEM, p->id, "pool '%s': out of memory", p->id);
    }
    if (ctx && ctx->scope) {
        op->hk->scope = *ctx->scope;
        op->hk->call.caller_scope = &op->hk->scope;
    }
    if (ctx && ctx->caller) {
        size_t n = strlen(ctx->caller) + 1;
        op->hk->caller = nr_malloc(n);
        if (!op->hk->caller) {
            nr__async_op_discard(op);
            return nr_error_set(err, NR_ENOMEM, p->id, "pool '%s': out of memory", p->id);
        }
        memcpy(op->hk->caller, ctx->caller, n);
    }
    if (ctx && nr_deadline_is_set(ctx->deadline))
        op->deadline = ctx->deadline;
    else
        op->deadline = NR__CFG(p, acquire_timeout_ms) == 0
                           ? nr_deadline_in_ns(0)
                           : nr_deadline_in_ms(NR__CFG(p, acquire_timeout_ms));
    if (cancel) {
        if (nr__cancel_subscribe(cancel, &op->cw) != NR_OK) {
            nr__async_op_discard(op);
            nr__pool_lock(p);
            p->cancels++;
            nr__pool_unlock(p);
            return nr_error_set(err, NR_ECANCELED, p->id, "pool '%s': acquire canceled", p->id);
        }
        op->subscribed = 1;
    }
    if (opp)
        *opp = op;
    nr__async_hook_later(op); /* (op is not touched after this) */
    return NR_PENDING;
}

int nr__acquire_async_prepared(struct nr_async_op *op, nr_guard *out)
{
    acq a = {.p = op->p,
             .err = &op->err,
             .waited = -1,
             .cancel = op->cancel,
             .deadline = op->deadline,
             .async = 1,
             .q = op->q,
             .fn = op->fn,
             .fn_ud = op->ud,
             .op = op,
             .w = &op->w,
             .cw = &op->cw,
             .w_ready = 1,
             .subscribed = op->subscribed};
    *out = (nr_guard)NR_GUARD_INIT;
    return acquire_async_loop(&a, out);
}

int nr_pool_acquire_async(nr_pool *p, const nr_ctx *ctx, nr_async_queue *q, nr_async_fn fn,
                          void *ud, nr_guard *out, nr_async_op **op, nr_error *err)
{
    if (op)
        *op = NULL;
    nr_ctx sized;
    if (nr__ctx_in(&ctx, &sized, err) != NR_OK) {
        if (out)
            *out = (nr_guard)NR_GUARD_INIT;
        return NR_EINVAL;
    }
    int rc = check_args(p, ctx, out, err);
    if (rc != NR_OK)
        return rc;
    if (!q || !fn)
        return nr_error_set(err, NR_EINVAL, p->id,
                            "pool '%s': nr_pool_acquire_async: queue and callback must not be NULL",
                            p->id);
    if (NR__POOL_HOOKS(p, NR_HOOK_ACQUIRE))
        return acquire_async_hooked(p, ctx, q, fn, ud, op, err);
    acq a = {.p = p,
             .err = err,
             .waited = -1,
             .cancel = ctx ? ctx->cancel : NULL,
             .async = 1,
             .q = q,
             .fn = fn,
             .fn_ud = ud};
    if (ctx && nr_deadline_is_set(ctx->deadline))
        a.deadline = ctx->deadline;
    else if (NR__CFG(p, acquire_timeout_ms) == 0)
        a.zero_wait = 1;
    rc = acquire_async_loop(&a, out);
    if (rc == NR_PENDING) {
        if (op)
            *op = a.op;
        return NR_PENDING;
    }
    if (a.op) /* prepared, then not needed: it was never queued */
        nr__async_op_discard(a.op);
    nr__acquire_observe(p, rc, rc == NR_OK ? out->inst->id : 0, -1, a.at_max);
    return rc;
}

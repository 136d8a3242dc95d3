/*
 * pool_express.c - the acquire's entry points, and its express path.
 *
 * Most acquires find a Free bag instance that needs nothing done to it. The
 * express path serves those with no call and a small stack frame: claim it
 * (one CAS), check it without side effects (refusing, expiry, generation,
 * whether validate is due), stamp the lease. It runs only when nothing
 * traces acquires or hooks them (an event bus gets its acquired event) and
 * the caller has no cancel token or scope; otherwise, or when no instance is
 * Free, the whole acquire (nr__acquire_full, pool_acquire.c) runs, with the
 * same contract, told when the bag was just found empty. An instance
 * claimed but not fit for the express path is finished by
 * nr__acquire_claimed, with the whole acquire's own steps.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_bag.h"

#include "observe/probes.h"
#include "observe/span.h"
#include "pool/pool_async.h"
#include "pool/pool_vet.h"

/* Whether this acquire may take the express path. */
__attribute__((always_inline)) static inline int express_allowed(nr_pool *p, const nr_ctx *ctx,
                                                                 const nr_guard *out)
{
    return p && out && (!ctx || (ctx->size == sizeof(nr_ctx) && !ctx->cancel && !ctx->scope)) &&
           !nr__trace_enabled(NR_TRACE_LEVEL_DEBUG) && !NR__POOL_HOOKS(p, NR_HOOK_ACQUIRE);
}

/* 1 = leased; 0 = not (*claimed: the instance it claimed and left, or NULL). */
__attribute__((always_inline)) static inline int express(nr_pool *p, nr_guard *out,
                                                         const char *file, int line,
                                                         const char *func,
                                                         struct nr__instance **claimed)
{
    struct nr__instance *inst = nr__bag_claim(p);
    *claimed = inst;
    if (!inst || atomic_load_explicit(&p->refusing, memory_order_seq_cst))
        return 0;
    int64_t now = nr__tick_ns();
    if ((NR__CFG(p, max_lifetime_ms) > 0 && nr__expired(p, inst, now)) || nr__stale(p, inst) ||
        validate_due(p, inst, now))
        return 0;
    nr__inst_transition(inst, NR_LC_IN_USE);
    atomic_store_explicit(&inst->lease_start_ns, now, memory_order_relaxed);
    lease_inline(p, inst, out, file, line, func);
    if (__builtin_expect(p->events != NULL, 0))
        nr__acquire_observe(p, NR_OK, inst->id, -1, 0); /* the probe and the event */
    else
        NR_PROBE_ACQUIRE(p->id, 0, NR_OK);
    return 1;
}

__attribute__((always_inline)) static inline int acquire(nr_pool *p, const nr_ctx *ctx,
                                                         nr_guard *out, nr_error *err,
                                                         const char *file, int line,
                                                         const char *func)
{
    if (__builtin_expect(express_allowed(p, ctx, out), 1)) {
        struct nr__instance *inst;
        if (__builtin_expect(express(p, out, file, line, func, &inst), 1))
            return NR_OK;
        if (inst) /* claimed, but it needs more than the express path does */
            return nr__acquire_claimed(p, inst, ctx, out, err, file, line, func);
        return nr__acquire_full(p, ctx, out, err, file, line, func, 1);
    }
    return nr__acquire_full(p, ctx, out, err, file, line, func, 0);
}

int nr_pool_acquire_at(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err,
                       const char *file, int line, const char *func)
{
    return acquire(p, ctx, out, err, file, line, func);
}

int nr_pool_acquire(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err)
{
    return acquire(p, ctx, out, err, NULL, 0, NULL);
}

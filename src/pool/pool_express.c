/*
 * pool_express.c - the acquire's entry points, and its express path.
 *
 * Most acquires find a Free bag instance that needs nothing done to it. The
 * express path serves those with no call: claim it (one CAS), check it
 * without side effects (refusing, the tick clock, lifecycle state, leak
 * sites, expiry, generation, whether validate is due), stamp the lease. It
 * runs only when nothing traces acquires or hooks them (an event bus gets
 * its acquired event) and the caller has no cancel token or scope;
 * otherwise, or when no instance is Free, the whole acquire
 * (nr__acquire_full, pool_acquire.c) runs, with the same contract, told
 * when the bag was just found empty. An instance claimed but not fit for
 * the express path is finished by nr__acquire_claimed, with the whole
 * acquire's own steps.
 *
 * In nr_pool_acquire every way off the express path is a tail call of a
 * function taking at most six arguments (the no-site continuations below),
 * so the express path itself saves no register and sets up no frame.
 * nr_pool_acquire_at passes its call site on, which takes the stack, and
 * keeps a frame.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_bag.h"

#include "observe/probes.h"
#include "observe/span.h"
#include "pool/pool_async.h"
#include "pool/pool_vet.h"

/* ---- the continuations of an acquire without a call site ------------------------------- */

__attribute__((noinline)) static int full_nosite(nr_pool *p, const nr_ctx *ctx, nr_guard *out,
                                                 nr_error *err, int bag_tried)
{
    return nr__acquire_full(p, ctx, out, err, NULL, 0, NULL, bag_tried);
}

__attribute__((noinline)) static int claimed_nosite(nr_pool *p, struct nr__instance *inst,
                                                    const nr_ctx *ctx, nr_guard *out, nr_error *err)
{
    return nr__acquire_claimed(p, inst, ctx, out, err, NULL, 0, NULL);
}

/* The acquired event and probe of an express lease (the pool has a bus). */
__attribute__((noinline)) static int observed(nr_pool *p, uint64_t instance_id)
{
    nr__acquire_observe(p, NR_OK, instance_id, -1, 0);
    return NR_OK;
}

/* ---- the express path ------------------------------------------------------------------ */

/* Whether this acquire may take the express path. */
__attribute__((always_inline)) static inline int express_allowed(nr_pool *p, const nr_ctx *ctx,
                                                                 const nr_guard *out)
{
    return p && out && (!ctx || (ctx->size == sizeof(nr_ctx) && !ctx->cancel && !ctx->scope)) &&
           !nr__trace_enabled(NR_TRACE_LEVEL_DEBUG) && !NR__POOL_HOOKS(p, NR_HOOK_ACQUIRE);
}

/* The continuations, with the call site (site = 1) or without (0: tail
 * calls with every argument in a register). */
#define FULL(bag_tried)                                                                            \
    (site ? nr__acquire_full(p, ctx, out, err, file, line, func, (bag_tried))                      \
          : full_nosite(p, ctx, out, err, (bag_tried)))
#define CLAIMED(inst)                                                                              \
    (site ? nr__acquire_claimed(p, (inst), ctx, out, err, file, line, func)                        \
          : claimed_nosite(p, (inst), ctx, out, err))

/* inst was just claimed (Free -> Used, its lease numbered): lease it, or
 * hand it to the whole acquire's steps when it needs more than this. */
__attribute__((always_inline)) static inline int
express_lease(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err, const char *file,
              int line, const char *func, int site, struct nr__instance *inst)
{
    int64_t now = nr__tick_cell_ns();
    if (__builtin_expect(atomic_load_explicit(&p->refusing, memory_order_seq_cst) || !now ||
                             inst->state != NR_LC_IDLE || NR__CFG(p, leak_threshold_ms) > 0 ||
                             (NR__CFG(p, max_lifetime_ms) > 0 && nr__expired(p, inst, now)) ||
                             nr__stale(p, inst) || validate_due(p, inst, now),
                         0))
        return CLAIMED(inst);
    inst->state = NR_LC_IN_USE;
    atomic_store_explicit(&inst->lease_start_ns, now, memory_order_relaxed);
    inst->use_count++;
    lease_stamp(inst, out, 1); /* lease_inline without the leak sites: the threshold is off */
    if (__builtin_expect(p->events != NULL, 0))
        return observed(p, inst->id); /* the probe and the event */
    NR_PROBE_ACQUIRE(p->id, 0, NR_OK);
    return NR_OK;
}

/* A Free instance other than this thread's last one, or the whole acquire. */
__attribute__((noinline)) static int scan_nosite(nr_pool *p, const nr_ctx *ctx, nr_guard *out,
                                                 nr_error *err)
{
    struct nr__instance *inst = nr__bag_scan(p);
    if (!inst)
        return full_nosite(p, ctx, out, err, 1);
    return express_lease(p, ctx, out, err, NULL, 0, NULL, 0, inst);
}

__attribute__((always_inline)) static inline int acquire(nr_pool *p, const nr_ctx *ctx,
                                                         nr_guard *out, nr_error *err,
                                                         const char *file, int line,
                                                         const char *func, int site)
{
    if (__builtin_expect(!express_allowed(p, ctx, out), 0))
        return FULL(0);
    if (atomic_load_explicit(&p->gate, memory_order_acquire))
        return FULL(1); /* callers wait: nothing is taken past them */
    /* nr__bag_claim, with the scan out of line */
    nr__hint *h = &nr__tl_hints[p->uid & (NR__HINTS - 1)];
    struct nr__instance *inst = h->inst;
    if (__builtin_expect(h->uid != p->uid || !inst || !nr__bag_try_take(inst), 0)) {
        if (!site)
            return scan_nosite(p, ctx, out, err);
        if (!(inst = nr__bag_scan(p)))
            return FULL(1);
    }
    return express_lease(p, ctx, out, err, file, line, func, site, inst);
}

int nr_pool_acquire_at(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err,
                       const char *file, int line, const char *func)
{
    return acquire(p, ctx, out, err, file, line, func, 1);
}

int nr_pool_acquire(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err)
{
    return acquire(p, ctx, out, err, NULL, 0, NULL, 0);
}

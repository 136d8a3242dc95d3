/*
 * pool_vet.h - what an acquire does to an instance it took, outside mu:
 * vet it (expiry, generation, validate) and stamp the lease the guard will
 * carry. Inline, so that the blocking acquire's fast path has no call in
 * it; pool_vet.c holds out-of-line copies for the async worker.
 */
#ifndef NR_POOL_VET_H
#define NR_POOL_VET_H

#include <pthread.h>

#include "pool/pool_bag.h"
#include "pool/pool_internal.h"

/* Whether acquiring inst must run validate (now: the tick clock's time, or
 * 0 when not read yet). */
__attribute__((always_inline)) static inline int
validate_due(nr_pool *p, const struct nr__instance *inst, int64_t now)
{
    if (!p->can_validate || !NR__CFG(p, validate_on_acquire) || inst->use_count == 0)
        return 0; /* (a new instance is known good) */
    if (NR__CFG(p, validate_bypass_ms) > 0) {
        if (!now)
            now = nr__tick_ns();
        if (now - inst->last_used_ns < NR__CFG(p, validate_bypass_ms) * NR_NS_PER_MS)
            return 0; /* given back moments ago: known good */
    }
    return 1;
}

/* The vet, inlined into the blocking acquire (nr__vet, pool_vet.c, is it
 * for the async worker). */
__attribute__((always_inline)) static inline int vet_inline(nr_pool *p, struct nr__instance *inst,
                                                            uint32_t *bucket)
{
    int64_t now = 0;
    if (NR__CFG(p, max_lifetime_ms) > 0) {
        now = nr__tick_ns();
        if (nr__expired(p, inst, now)) {
            nr__discard(p, inst, bucket, NR__DISCARD_LIFETIME);
            return 0;
        }
    }
    int stale = nr__stale(p, inst);
    if (stale) {
        nr__discard(p, inst, bucket, (nr__discard_reason)stale);
        return 0;
    }
    if (!validate_due(p, inst, now))
        return 1;
    nr_error ve;
    nr_error_clear(&ve);
    int64_t t0 = nr_now_ns();
    int rc = p->type->validate(inst->handle, p->type_ud, &ve);
    if (rc == NR_OK && nr_now_ns() - t0 > NR__CFG(p, validate_timeout_ms) * NR_NS_PER_MS)
        rc = NR_ETIMEDOUT;
    if (rc != NR_OK) {
        atomic_fetch_add_explicit(&p->validate_failures, 1, memory_order_relaxed);
        nr__discard(p, inst, bucket, NR__DISCARD_VALIDATE);
        return 0;
    }
    return 1;
}

/* Number the lease (when a bag claim has not), publish it and fill the
 * guard: what every lease does after its leak sites. claimed: the caller
 * knows a bag claim numbered it (the check compiles away). */
__attribute__((always_inline)) static inline void lease_stamp(struct nr__instance *inst,
                                                              nr_guard *out, int claimed)
{
    /* A bag claim numbered the lease already (Used); one taken under mu is
     * numbered here, its holder the only writer of the word until it gives
     * it back (release: the writes before this come before that CAS). */
    uint64_t id = atomic_load_explicit(&inst->bag, memory_order_relaxed);
    if (!claimed && nr__own_state(id) != NR__BAG_USED) {
        id = nr__own_next(id, NR__BAG_HELD);
        atomic_store_explicit(&inst->bag, id, memory_order_release);
    }
    /* published for the readers that own nothing (the leak scan), after
     * what they read with it */
    atomic_store_explicit(&inst->lease, id, memory_order_release);
    atomic_store_explicit(&inst->n_acquires,
                          atomic_load_explicit(&inst->n_acquires, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    nr__guard_store(out, inst, id);
}

/* Stamp the lease the guard will carry, with its call site when leaks are
 * watched. */
__attribute__((always_inline)) static inline void lease_inline(nr_pool *p,
                                                               struct nr__instance *inst,
                                                               nr_guard *out, const char *file,
                                                               int line, const char *func)
{
    inst->use_count++;
    if (NR__CFG(p, leak_threshold_ms) > 0) {
        atomic_store_explicit(&inst->site_file, file, memory_order_relaxed);
        atomic_store_explicit(&inst->site_func, func, memory_order_relaxed);
        atomic_store_explicit(&inst->site_line, line, memory_order_relaxed);
        atomic_store_explicit(&inst->site_thread, (unsigned long)pthread_self(),
                              memory_order_relaxed);
    }
    lease_stamp(inst, out, 0);
}

#endif

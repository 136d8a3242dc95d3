/*
 * pool_bag.h - the two steps of the bag's fast path (pool_bag.c has the
 * protocol), inline so that an acquire and a release make no call for them:
 * claiming a Free instance and giving a bag lease back, and filling a guard.
 *
 * Any thread may call them, without the pool's lock.
 */
#ifndef NR_POOL_BAG_H
#define NR_POOL_BAG_H

#include "pool/pool_internal.h"

#define NR__HINTS 8 /* power of two */

/* Fill a guard with two plain 8-byte stores, never one vector store. Its
 * next reads are 8-byte loads: the guard's instance for nr_guard_handle and
 * the give-back, or nr_guard_move's copy. On the benchmark's x86-64 machine
 * a general-purpose load served from a vector store was slower on this
 * path (which every acquire and give-back depends on) than one served from
 * a plain store: with one 16-byte store here, one thread's acquire + move +
 * release cycle in the benchmark ran about 0.87x as fast as with these two
 * (58 M against 66 M cycles a second; docs/PERFORMANCE.md). */
__attribute__((always_inline)) static inline void
nr__guard_store(nr_guard *out, struct nr__instance *inst, uint64_t lease)
{
    out->inst = inst;
    out->lease = lease;
}

/* Per thread and pool: the instance this thread gave back to it last. */
typedef struct nr__hint {
    uint64_t uid;
    struct nr__instance *inst;
} nr__hint;

extern _Thread_local nr__hint nr__tl_hints[NR__HINTS];

/* Remember inst as this thread's last give-back to p. */
__attribute__((always_inline)) static inline void nr__bag_hint(nr_pool *p,
                                                               struct nr__instance *inst)
{
    nr__hint *h = &nr__tl_hints[p->uid & (NR__HINTS - 1)];
    h->uid = p->uid;
    h->inst = inst;
}

/* Free -> Used, numbering the lease, if inst is Free. */
__attribute__((always_inline)) static inline int nr__bag_try_take(struct nr__instance *inst)
{
    uint64_t w = atomic_load_explicit(&inst->bag, memory_order_relaxed);
    if (nr__own_state(w) != NR__BAG_FREE)
        return 0;
    return atomic_compare_exchange_strong_explicit(&inst->bag, &w, nr__own_next(w, NR__BAG_USED),
                                                   memory_order_seq_cst, memory_order_relaxed);
}

/* Look through the slots for a Free instance (pool_bag.c). */
struct nr__instance *nr__bag_scan(nr_pool *p);

/* Claim a Free bag instance for the caller (Free -> Used, its lease
 * numbered), preferring the one this thread gave back last. NULL when the
 * gate is closed or nothing is Free. */
__attribute__((always_inline)) static inline struct nr__instance *nr__bag_claim(nr_pool *p)
{
    if (atomic_load_explicit(&p->gate, memory_order_acquire))
        return NULL;
    nr__hint *h = &nr__tl_hints[p->uid & (NR__HINTS - 1)];
    /* The hint's record belongs to this pool when the ids match (records
     * live as long as their pool, and ids are never reused). */
    if (h->uid == p->uid && h->inst && nr__bag_try_take(h->inst))
        return h->inst;
    return nr__bag_scan(p);
}

/* After its holder made inst Free (word free_w): whether it stays in the
 * bag. 1 = yes (or a flush or an acquirer took it from there: then it is
 * theirs); 0 = the gate had closed, and the holder took it back (word
 * back_w) to hand it over under mu. The Free store or CAS before this, and
 * the gate's read here, are sequentially consistent (see pool_bag.c). */
__attribute__((always_inline)) static inline int
nr__bag_freed(nr_pool *p, struct nr__instance *inst, uint64_t free_w, uint64_t back_w)
{
    nr__bag_hint(p, inst);
    if (!atomic_load_explicit(&p->gate, memory_order_seq_cst))
        return 1;
    return !atomic_compare_exchange_strong_explicit(&inst->bag, &free_w, back_w,
                                                    memory_order_seq_cst, memory_order_relaxed);
}

/* The holder of a bag lease whose guard carries w gives it back without mu:
 * one CAS ends the lease and makes it Free. 1 = Free again (or already
 * taken from there by a flush or an acquirer); 0 = the gate closed
 * meanwhile and the caller took it back for the slow path (state None,
 * still counted in bagged; the caller then calls nr__bag_remove_locked);
 * -1 = w is not its lease any more (nothing changed). */
__attribute__((always_inline)) static inline int
nr__bag_give_back(nr_pool *p, struct nr__instance *inst, uint64_t w)
{
    uint64_t free_w = nr__own_with(w, NR__BAG_FREE);
    if (!atomic_compare_exchange_strong_explicit(&inst->bag, &w, free_w, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return -1;
    return nr__bag_freed(p, inst, free_w, nr__own_with(w, NR__BAG_NONE));
}

#endif

/*
 * pool_bag.c - the pool's lock-free fast path.
 *
 * The bag is an array of max_size slots holding the instances that are idle
 * or leased through the fast path. Each instance carries an ownership word
 * (pool_internal.h: its state and its latest lease number), and in the bag:
 *
 *     Free  --CAS by an acquirer-->  Used  --CAS by its holder-->  Free
 *
 * The acquirer's CAS also numbers the lease; the holder's CAS ends that
 * lease (it expects the exact word its guard carries, so a second give-back
 * fails) and frees the instance in one instruction. So an uncontended
 * acquire plus release is two locked instructions, no pool lock and no
 * shared counter. Each thread remembers, per pool, the instance it gave
 * back last (a small direct-mapped thread-local table keyed by the pool's
 * unique id) and tries that one first: threads that share a pool then keep
 * to their own instances and their caches never fight over a line.
 *
 * Slots are written only under the pool's mutex (an instance joins the bag
 * when it is given back with the gate open, and leaves it when a maintenance
 * walk, a close or a waiter flushes Free instances to the idle list, or when
 * its holder gives it back with the gate closed). Readers scan them without
 * the lock; records live until the pool is destroyed, so a stale pointer is
 * harmless: its state CAS simply fails.
 *
 * The gate keeps first-come-first-served: it is set (under mu) while any
 * caller waits in the queue and once the pool refuses new leases. A releaser
 * makes it Free and then reads the gate; a waiter sets the gate and then
 * flushes the bag. Both are sequentially consistent, so at least one of them
 * sees the other: either the releaser notices the gate and takes its
 * instance back (by CAS) to the slow path, which hands it to the oldest
 * waiter, or the waiter's flush finds it Free.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_bag.h"

#include <assert.h>
#include <stdlib.h>

#include "nebula/alloc.h"

_Thread_local nr__hint nr__tl_hints[NR__HINTS];
static _Thread_local uint32_t tl_scan_start; /* where this thread starts a scan */

static _Atomic uint64_t next_uid = 1;

int nr__bag_init(nr_pool *p)
{
    uint32_t n = (uint32_t)p->cfg.max_size;
    p->bag_slots = nr_calloc(n, sizeof(*p->bag_slots));
    p->bag_free_slots = nr_calloc(n, sizeof(*p->bag_free_slots));
    if (!p->bag_slots || !p->bag_free_slots) {
        nr_free(p->bag_slots);
        nr_free(p->bag_free_slots);
        p->bag_slots = NULL;
        p->bag_free_slots = NULL;
        return NR_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        atomic_init(&p->bag_slots[i], NULL);
        p->bag_free_slots[i] = n - 1 - i; /* pop gives 0, 1, 2, ... */
    }
    p->bag_nfree = n;
    atomic_init(&p->bag_hi, 0);
    atomic_init(&p->gate, 0);
    p->uid = atomic_fetch_add_explicit(&next_uid, 1, memory_order_relaxed);
    return NR_OK;
}

void nr__bag_fini(nr_pool *p)
{
    nr_free(p->bag_slots);
    nr_free(p->bag_free_slots);
    p->bag_slots = NULL;
    p->bag_free_slots = NULL;
}

void nr__gate_update_locked(nr_pool *p)
{
    int g = p->waiters > 0 || p->watchers > 0 || p->suspended ||
            atomic_load_explicit(&p->refusing, memory_order_relaxed);
    if (atomic_load_explicit(&p->gate, memory_order_relaxed) != g)
        atomic_store_explicit(&p->gate, g, memory_order_seq_cst);
}

struct nr__instance *nr__bag_scan(nr_pool *p)
{
    uint32_t hi = atomic_load_explicit(&p->bag_hi, memory_order_acquire);
    if (hi == 0)
        return NULL;
    uint32_t start = tl_scan_start % hi;
    for (uint32_t k = 0; k < hi; k++) {
        uint32_t i = start + k;
        if (i >= hi)
            i -= hi;
        struct nr__instance *inst = atomic_load_explicit(&p->bag_slots[i], memory_order_acquire);
        if (inst && nr__bag_try_take(inst)) {
            tl_scan_start = i + 1;
            nr__bag_hint(p, inst);
            return inst;
        }
    }
    return NULL;
}

int nr__bag_put(nr_pool *p, struct nr__instance *inst)
{
    uint64_t w = atomic_load_explicit(&inst->bag, memory_order_relaxed);
    assert(nr__own_state(w) == NR__BAG_NONE);
    if (atomic_load_explicit(&p->gate, memory_order_seq_cst))
        return 0;
    uint64_t free_w = nr__own_with(w, NR__BAG_FREE);
    atomic_store_explicit(&inst->bag, free_w, memory_order_seq_cst);
    return nr__bag_freed(p, inst, free_w, w);
}

void nr__bag_add_locked(nr_pool *p, struct nr__instance *inst)
{
    assert(p->bag_nfree > 0);
    assert(!inst->degraded); /* degraded ones live on their own list */
    uint32_t slot = p->bag_free_slots[--p->bag_nfree];
    inst->bag_slot = slot;
    uint64_t w = atomic_load_explicit(&inst->bag, memory_order_relaxed);
    atomic_store_explicit(&inst->bag, nr__own_with(w, NR__BAG_FREE), memory_order_seq_cst);
    atomic_store_explicit(&p->bag_slots[slot], inst, memory_order_release);
    if (slot >= atomic_load_explicit(&p->bag_hi, memory_order_relaxed))
        atomic_store_explicit(&p->bag_hi, slot + 1, memory_order_release);
    p->bagged++;
}

void nr__bag_remove_locked(nr_pool *p, struct nr__instance *inst)
{
    uint32_t slot = inst->bag_slot;
    assert(atomic_load_explicit(&p->bag_slots[slot], memory_order_relaxed) == inst);
    atomic_store_explicit(&p->bag_slots[slot], NULL, memory_order_release);
    uint64_t w = atomic_load_explicit(&inst->bag, memory_order_relaxed);
    atomic_store_explicit(&inst->bag, nr__own_with(w, NR__BAG_NONE), memory_order_relaxed);
    p->bag_free_slots[p->bag_nfree++] = slot;
    p->bagged--;
}

static int by_last_used(const void *a, const void *b)
{
    const struct nr__instance *x = *(struct nr__instance *const *)a;
    const struct nr__instance *y = *(struct nr__instance *const *)b;
    return (x->last_used_ns > y->last_used_ns) - (x->last_used_ns < y->last_used_ns);
}

void nr__bag_flush_locked(nr_pool *p)
{
    if (p->bagged == 0)
        return;
    uint32_t hi = atomic_load_explicit(&p->bag_hi, memory_order_relaxed);
    struct nr__instance *small[64];
    struct nr__instance **taken = small;
    if (p->bagged > 64) {
        taken = nr_malloc(sizeof(*taken) * p->bagged);
        if (!taken)
            taken = small; /* no room to sort: push in slot order instead */
    }
    uint32_t cap = taken == small ? 64 : p->bagged, n = 0;
    for (uint32_t i = 0; i < hi; i++) {
        struct nr__instance *inst = atomic_load_explicit(&p->bag_slots[i], memory_order_relaxed);
        if (!inst)
            continue;
        uint64_t w = atomic_load_explicit(&inst->bag, memory_order_relaxed);
        if (nr__own_state(w) != NR__BAG_FREE ||
            !atomic_compare_exchange_strong_explicit(&inst->bag, &w, nr__own_with(w, NR__BAG_NONE),
                                                     memory_order_seq_cst, memory_order_relaxed))
            continue; /* leased: its holder brings it back */
        nr__bag_remove_locked(p, inst);
        if (n == cap) {
            /* Out of sorting room: this one goes straight to the list. */
            nr__idle_push_head(p, inst);
            continue;
        }
        taken[n++] = inst;
    }
    /* Oldest first onto the head, so the most recently used ends at the head
     * and the longest idle at the tail, as the idle list keeps them. */
    qsort(taken, n, sizeof(*taken), by_last_used);
    for (uint32_t i = 0; i < n; i++)
        nr__idle_push_head(p, taken[i]);
    if (taken != small)
        nr_free(taken);
}

uint32_t nr__bag_used_locked(const nr_pool *p)
{
    uint32_t used = 0, hi = atomic_load_explicit(&p->bag_hi, memory_order_relaxed);
    for (uint32_t i = 0; i < hi && used < p->bagged; i++) {
        struct nr__instance *inst = atomic_load_explicit(&p->bag_slots[i], memory_order_relaxed);
        if (inst && nr__bag_state(inst) == NR__BAG_USED)
            used++;
    }
    return used;
}

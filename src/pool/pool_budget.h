/*
 * pool_budget.h - places shared by several pools: a cap on the instances
 * they hold together, handed out fairly (pool_budget.c).
 *
 * A pool in a budget holds one place for each instance it has, is making
 * or is destroying (total + destroying). A create needs a place first:
 * while places are free it takes them; when none is, a pool with callers
 * waiting queues for the next one (pools round-robin, one place per turn),
 * and members that hold more than their fair share (the cap divided by the
 * members that hold or want places) are asked to give one up: their idle
 * instances go at once, and their give-backs are destroyed instead of
 * reused until the queue is served. A freed place goes to the pool at the
 * head of the queue, and a job on that pool's executor starts its create.
 *
 * Locking: the budget's mutex is taken inside a pool's mutex (pool, then
 * budget), never the other way round; the jobs it starts take the pool's
 * mutex with nothing held.
 * Used by the manager for a tenant-partitioned resource's max_total; the
 * pools must have an executor.
 */
#ifndef NR_POOL_BUDGET_H
#define NR_POOL_BUDGET_H

#include <stdint.h>

#include "nebula/error.h"
#include "nebula/pool.h"

typedef struct nr__budget nr__budget;
typedef struct nr__budget_member nr__budget_member;

/* The cap that is none (nr__budget_set_cap). */
#define NR__BUDGET_NO_CAP UINT32_MAX

/* A budget of limit places (0: no cap; places are still counted). NULL
 * when memory ran out. */
nr__budget *nr__budget_new(uint32_t limit);
/* Free b, which no pool is in any more. */
void nr__budget_free(nr__budget *b);
/* Change the cap. Raised: the free places go to the pools queued. Lowered:
 * members keep what they hold, and no place is handed out until the held
 * ones are below it. [any thread, no pool lock held] */
void nr__budget_set_limit(nr__budget *b, uint32_t limit);
/* Set the cap exactly: 0 places, or NR__BUDGET_NO_CAP for none; as
 * nr__budget_set_limit otherwise. [any thread, no pool lock held] */
void nr__budget_set_cap(nr__budget *b, uint32_t cap);
/* Lower the cap to cap or, when more are held, to the places held (never
 * raised); returns the cap now. After it no place is handed out beyond the
 * returned cap. [any thread, no pool lock held] */
uint32_t nr__budget_lower_to(nr__budget *b, uint32_t cap);
/* on: places held above the cap are given up (idle instances at once,
 * give-backs destroyed until none is above); off (the default): members
 * keep what they hold. [any thread, no pool lock held] */
void nr__budget_set_shed(nr__budget *b, int on);
/* Places held, and pools queued for one. */
void nr__budget_counts(nr__budget *b, uint32_t *held, uint32_t *queued);

typedef struct nr__budget_counts_t {
    uint32_t limit;     /* NR__BUDGET_NO_CAP: none */
    uint32_t held;      /* places held */
    uint32_t queued;    /* pools queued */
    uint32_t wanted;    /* places the queued pools still want */
    uint32_t members;   /* pools in it */
    uint64_t queue_gen; /* times a pool queued, so far */
} nr__budget_counts_t;
/* All the counts at one instant. [any thread, no pool lock held] */
void nr__budget_counts_full(nr__budget *b, nr__budget_counts_t *out);
/* Wait until a pool queues after the queuing numbered seen (a queue_gen),
 * nr__budget_wake is called, or timeout_ns passes; returns queue_gen.
 * [any thread, no pool lock held] */
uint64_t nr__budget_wait_queued(nr__budget *b, uint64_t seen, int64_t timeout_ns);
/* End the current (or next) nr__budget_wait_queued at once. */
void nr__budget_wake(nr__budget *b);

/* The budget behind a public one (nebula/budget.h); NULL for NULL or a
 * stale handle. */
struct nr_budget;
nr__budget *nr__budget_of(struct nr_budget *b);

/* Put p (just created, not yet used by anyone) in b. NR_ENOMEM. */
int nr__pool_budget_join(nr_pool *p, nr__budget *b, nr_error *err);

/* ---- for the pool (src/pool) ---- */

/* [p->mu] Up to n places for creates of p (places granted to it first).
 * Short of n and `queue` set: p queues for the rest and over-share members
 * are asked to give places up. */
uint32_t nr__budget_take_locked(nr_pool *p, uint32_t n, int queue);
/* [p->mu] Give back the places p no longer needs: those beyond total +
 * destroying, and (when nobody waits in p) the ones granted but unused. */
void nr__budget_sync_locked(nr_pool *p);
/* [p->mu] Whether an instance of p being given back must be destroyed to
 * make room for a queued pool (then one such request is used up). */
int nr__budget_shed_locked(nr_pool *p);
/* Whether p still has requests to give places up. [p->mu] */
int nr__budget_shedding_locked(nr_pool *p);
/* nr_pool_destroy: take p out of its budget, after its last job. [no lock] */
void nr__budget_leave(nr_pool *p);

#endif

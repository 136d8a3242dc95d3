/*
 * nebula/budget.h - places shared by several pools of one process: a cap on
 * the instances they hold together, handed out fairly between them.
 *
 * A pool in a budget holds one place for each instance it has, is making or
 * is destroying. A create needs a place first: while places are free the
 * pool takes them; when none is, a pool with callers waiting queues for the
 * next one (pools round-robin, one place per turn; callers FIFO within a
 * pool), and members holding more than their fair share give idle instances
 * up. Callers that find no place wait up to their acquire timeout and then
 * fail with NR_ETIMEDOUT, as they do when a pool is at max_size.
 *
 * Lowering the limit never destroys an instance in use. By default the
 * pools keep what they hold, and no place is handed out until the places
 * held are below the limit again; with nr_budget_set_shed on, the places
 * held above the limit are also given up: idle instances at once, leased
 * ones when they are given back (destroyed instead of reused).
 *
 * The fleet library (nebula/fleet.h) keeps such a budget's limit equal to
 * the leases this process holds in a fleet-wide budget; a program may also
 * use one on its own.
 *
 * Ownership: nr_budget_create gives the caller one budget, freed by
 * nr_budget_destroy once no pool is in it. A pool leaves its budget when it
 * is destroyed (nr_pool_destroy); a manager resource's pools when it is
 * unregistered or the manager destroyed.
 *
 * Thread safety: every function may be called from any thread, at any time
 * between nr_budget_create and nr_budget_destroy, with no library lock held
 * (not from a resource type's callback).
 */
#ifndef NEBULA_BUDGET_H
#define NEBULA_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "nebula/error.h"
#include "nebula/export.h"
#include "nebula/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_budget nr_budget;

/* A limit that is no cap: places are counted, never refused. */
#define NR_BUDGET_UNLIMITED UINT32_MAX

/* Create a budget of limit places (0: no place may be taken;
 * NR_BUDGET_UNLIMITED: no cap). NR_EINVAL (out NULL), NR_ENOMEM. On failure
 * *out is NULL. */
NR_API int nr_budget_create(nr_budget **out, uint32_t limit, nr_error *err);

/* Free b. NR_EBUSY (nothing freed) while a pool is still in it; NULL is a
 * no-op. */
NR_API int nr_budget_destroy(nr_budget *b, nr_error *err);

/* Set the limit (0, any number, or NR_BUDGET_UNLIMITED). Raised: the free
 * places go to the pools queued. Lowered: see above. */
NR_API void nr_budget_set_limit(nr_budget *b, uint32_t limit);

/* Lower the limit to limit or, when more places are held, to the places
 * held (it is never raised here). Returns the limit now: from the return
 * on, the pools in b never hold more places than that (unless the limit is
 * raised again). */
NR_API uint32_t nr_budget_lower_to(nr_budget *b, uint32_t limit);

/* Whether places held above the limit are given up (see above); off when
 * created. */
NR_API void nr_budget_set_shed(nr_budget *b, bool on);

typedef struct nr_budget_counts {
    size_t size;        /* sizeof(nr_budget_counts) as the caller was built: the caller sets
                           it; the library writes up to it (NR_BUDGET_COUNTS_INIT) */
    uint32_t limit;     /* NR_BUDGET_UNLIMITED: no cap */
    uint32_t held;      /* places the pools hold (instances, making and destroying) */
    uint32_t queued;    /* pools queued for a place */
    uint32_t wanted;    /* places those pools still want */
    uint32_t pools;     /* pools in the budget */
    uint64_t queue_gen; /* times a pool queued, so far (for nr_budget_wait_queued) */
} nr_budget_counts;

#define NR_BUDGET_COUNTS_INIT                                                                      \
    {                                                                                              \
        .size = sizeof(nr_budget_counts)                                                           \
    }

/* All the counts of b at one instant, written up to out->size. NR_EINVAL
 * (nothing written) when out->size is not one this library knows. */
NR_API int nr_budget_get_counts(nr_budget *b, nr_budget_counts *out);

/* Block until a pool queues for a place after the queuing numbered seen
 * (a queue_gen from nr_budget_get_counts or an earlier return), until
 * nr_budget_wake, or for timeout_ns at most. Returns queue_gen now. */
NR_API uint64_t nr_budget_wait_queued(nr_budget *b, uint64_t seen, int64_t timeout_ns);

/* Make the current (or next) nr_budget_wait_queued on b return at once. */
NR_API void nr_budget_wake(nr_budget *b);

/* Put pool in b. The pool must be new (no acquire, fill or prime yet) and
 * have an executor (nr_pool_options.executor: the budget starts the creates
 * of a pool it hands a place to there). It leaves b in nr_pool_destroy,
 * which must come before nr_budget_destroy. NR_EINVAL (NULL, no executor,
 * already in a budget, in use), NR_ENOMEM. */
NR_API int nr_budget_add_pool(nr_budget *b, nr_pool *pool, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif

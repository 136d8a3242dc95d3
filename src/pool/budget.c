/*
 * budget.c - the public budget (nebula/budget.h) over the places shared by
 * pools (pool_budget.c). The public limit 0 means no place; the internal
 * cap NR__BUDGET_NO_CAP, the public NR_BUDGET_UNLIMITED, means none.
 */
#include "nebula/budget.h"

#include "base/abi.h"
#include "nebula/alloc.h"
#include "pool/pool_budget.h"
#include "pool/pool_internal.h"

#define BUDGET_MAGIC 0x42756467u /* "Budg" */

struct nr_budget {
    uint32_t magic;
    nr__budget *b;
};

_Static_assert(NR_BUDGET_UNLIMITED == NR__BUDGET_NO_CAP, "one value for no cap");

nr__budget *nr__budget_of(nr_budget *b)
{
    return b && b->magic == BUDGET_MAGIC ? b->b : NULL;
}

int nr_budget_create(nr_budget **out, uint32_t limit, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_budget_create: out must not be NULL");
    *out = NULL;
    nr_budget *b = nr_calloc(1, sizeof(*b));
    if (!b || !(b->b = nr__budget_new(1))) {
        nr_free(b);
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_budget_create: out of memory");
    }
    nr__budget_set_cap(b->b, limit);
    b->magic = BUDGET_MAGIC;
    *out = b;
    return NR_OK;
}

int nr_budget_destroy(nr_budget *b, nr_error *err)
{
    if (!b)
        return NR_OK;
    nr__budget_counts_t c;
    nr__budget_counts_full(b->b, &c);
    if (c.members)
        return nr_error_set(err, NR_EBUSY, NULL,
                            "budget: %u pool(s) still in it (destroy them first)", c.members);
    nr__budget_free(b->b);
    b->magic = 0;
    nr_free(b);
    return NR_OK;
}

void nr_budget_set_limit(nr_budget *b, uint32_t limit)
{
    nr__budget_set_cap(b->b, limit);
}

void nr_budget_set_shed(nr_budget *b, bool on)
{
    nr__budget_set_shed(b->b, on ? 1 : 0);
}

uint32_t nr_budget_lower_to(nr_budget *b, uint32_t limit)
{
    return nr__budget_lower_to(b->b, limit);
}

int nr_budget_get_counts(nr_budget *b, nr_budget_counts *out)
{
    if (!out || NR__ABI_OUT_CHECK(out, nr_budget_counts, NR_BUDGET_COUNTS_INIT, NULL) != NR_OK)
        return NR_EINVAL;
    nr__budget_counts_t c;
    nr__budget_counts_full(b->b, &c);
    nr_budget_counts full = {.size = sizeof(full),
                             .limit = c.limit,
                             .held = c.held,
                             .queued = c.queued,
                             .wanted = c.wanted,
                             .pools = c.members,
                             .queue_gen = c.queue_gen};
    nr__abi_out(out, &full, sizeof(full));
    return NR_OK;
}

uint64_t nr_budget_wait_queued(nr_budget *b, uint64_t seen, int64_t timeout_ns)
{
    return nr__budget_wait_queued(b->b, seen, timeout_ns);
}

void nr_budget_wake(nr_budget *b)
{
    nr__budget_wake(b->b);
}

int nr_budget_add_pool(nr_budget *b, nr_pool *pool, nr_error *err)
{
    if (!b || b->magic != BUDGET_MAGIC || !pool)
        return nr_error_set(err, NR_EINVAL, pool ? pool->id : NULL,
                            "nr_budget_add_pool: budget and pool must not be NULL");
    if (!pool->executor.submit)
        return nr_error_set(err, NR_EINVAL, pool->id,
                            "pool '%s': executor: a pool in a budget needs one (the budget "
                            "starts its creates there)",
                            pool->id);
    nr__pool_lock(pool);
    int busy = pool->bm != NULL || pool->total + pool->destroying > 0;
    nr__pool_unlock(pool);
    if (busy)
        return nr_error_set(err, NR_EINVAL, pool->id,
                            "pool '%s': only a new pool, in no budget yet, may join one", pool->id);
    return nr__pool_budget_join(pool, b->b, err);
}

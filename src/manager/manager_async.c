/*
 * manager_async.c - nr_manager_acquire_async: the manager's checks, then
 * the pool's async acquire. A pending request keeps a reference to its
 * entry until its callback has run; one that a reload's closing of the old
 * pool fails with NR_ESHUTDOWN is sent on to the entry's new pool, as a
 * blocking acquire would be.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <string.h>

#include "base/abi.h"
#include "manager/manager_internal.h"
#include "nebula/alloc.h"
#include "nebula/async.h"

/* How many times a request follows its entry to a new pool. */
#define MAX_MOVES 8

typedef struct mreq {
    nr_manager *m;
    nr__entry *e;   /* referenced */
    nr_scope scope; /* the caller's, copied: the request outlives the call */
    nr_ctx ctx;     /* the caller's, with scope pointing at the copy above */
    nr_async_queue *q;
    nr_async_fn fn;
    void *ud;
    uint64_t gen; /* the entry's generation when its pool was chosen */
    int moves;
} mreq;

static void mreq_free(mreq *r)
{
    nr__entry_put(r->e);
    nr_free(r);
}

static void on_done(void *ud, int rc, nr_guard *guard, const nr_error *err);

/* Acquire from the entry's pool now. */
static int issue(mreq *r, nr_guard *out, nr_async_op **op, nr_error *err)
{
    int rc = NR_OK;
    r->gen = atomic_load_explicit(&r->e->generation, memory_order_acquire);
    nr_pool *p = nr__manager_pool_for(r->m, r->e, &r->scope, &rc, err);
    if (!p)
        return rc;
    return nr_pool_acquire_async(p, &r->ctx, r->q, on_done, r, out, op, err);
}

static void on_done(void *ud, int rc, nr_guard *guard, const nr_error *err)
{
    mreq *r = ud;
    if (rc == NR_ESHUTDOWN && r->moves < MAX_MOVES &&
        atomic_load_explicit(&r->e->generation, memory_order_acquire) != r->gen) {
        /* a reload replaced the pool: on to the new one */
        r->moves++;
        nr_guard g = NR_GUARD_INIT;
        nr_error e2;
        nr_error_clear(&e2);
        int rc2 = issue(r, &g, NULL, &e2);
        if (rc2 == NR_PENDING)
            return; /* on_done runs again */
        r->fn(r->ud, rc2, &g, rc2 == NR_OK ? NULL : &e2);
        mreq_free(r);
        return;
    }
    r->fn(r->ud, rc, guard, err);
    mreq_free(r);
}

int nr_manager_acquire_async(nr_manager *m, const char *id, const nr_ctx *ctx, nr_async_queue *q,
                             nr_async_fn fn, void *ud, nr_guard *out, nr_async_op **op,
                             nr_error *err)
{
    if (op)
        *op = NULL;
    if (out)
        *out = (nr_guard)NR_GUARD_INIT;
    nr_ctx sized;
    if (nr__ctx_in(&ctx, &sized, err) != NR_OK)
        return NR_EINVAL;
    if (!m || !id || !out || !q || !fn)
        return nr_error_set(err, NR_EINVAL, id,
                            "nr_manager_acquire_async: arguments must not be NULL");
    nr__entry *e;
    const nr_scope *caller;
    nr_scope global;
    int rc = nr__manager_admit(m, id, ctx, &e, &caller, &global, err);
    if (rc != NR_OK)
        return rc;
    mreq *r = nr_calloc(1, sizeof(*r));
    if (!r) {
        nr__entry_put(e);
        return nr_error_set(err, NR_ENOMEM, id, "resource '%s': out of memory", id);
    }
    r->m = m;
    r->e = e;
    r->scope = *caller;
    r->ctx = ctx ? *ctx : (nr_ctx)NR_CTX_INIT;
    r->ctx.size = sizeof(nr_ctx);
    r->ctx.scope = &r->scope;
    r->q = q;
    r->fn = fn;
    r->ud = ud;
    rc = issue(r, out, op, err);
    if (rc != NR_PENDING)
        mreq_free(r); /* done now: on_done will not run */
    return rc;
}

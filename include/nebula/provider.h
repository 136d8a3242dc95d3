/*
 * nebula/provider.h - the narrow port an engine's actions see.
 *
 * An action asks for a resource by id within its execution context and gives
 * the lease back with nr_guard_release (or nr_guard_taint). It needs nothing
 * else: write actions against this port, and hand them the manager's
 * provider (nr_manager_provider) in production and a fake in tests.
 *
 * Thread safety: as the implementation says; the manager's provider may be
 * used from any thread.
 */
#ifndef NEBULA_PROVIDER_H
#define NEBULA_PROVIDER_H

#include "nebula/error.h"
#include "nebula/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_provider {
    /* Lease the resource `id` for a caller in ctx (ctx->scope is the
     * execution's scope). Same return codes as nr_manager_acquire. */
    int (*acquire)(void *self, const char *id, const nr_ctx *ctx, nr_guard *out, nr_error *err);
    void *self;
} nr_provider;

static inline int nr_provider_acquire(const nr_provider *p, const char *id, const nr_ctx *ctx,
                                      nr_guard *out, nr_error *err)
{
    return p->acquire(p->self, id, ctx, out, err);
}

#ifdef __cplusplus
}
#endif
#endif

/*
 * headers.cpp - every public header compiled as C++ (the C headers' extern
 * "C" guards and inline functions, the C++ layer and the drivers' C++
 * headers), and the C API's inline parts used from C++: NR_GUARD_SCOPED,
 * nr_guard_held, nr_deadline_is_set and nr_provider_acquire.
 */
#include "nebula/admin.h"
#include "nebula/alloc.h"
#include "nebula/cancel.h"
#include "nebula/config.h"
#include "nebula/config_file.h"
#include "nebula/credential.h"
#include "nebula/credential_sources.h"
#include "nebula/ctx.h"
#include "nebula/error.h"
#include "nebula/events.h"
#include "nebula/health.h"
#include "nebula/health_pipeline.h"
#include "nebula/hooks.h"
#include "nebula/hooks_builtin.h"
#include "nebula/lifecycle.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"
#include "nebula/pool.h"
#include "nebula/pool_stats.h"
#include "nebula/provider.h"
#include "nebula/resource.h"
#include "nebula/resource_type.h"
#include "nebula/scope.h"
#include "nebula/secret.h"
#include "nebula/time.h"
#include "nebula/trace.h"
#include "nebula/version.h"

#include "nebula/config.hpp"
#include "nebula/error.hpp"
#include "nebula/manager.hpp"
#include "nebula/pool.hpp"
#include "nebula/resource.hpp"
#include "nebula/time.hpp"
#ifdef NR_CPP_WITH_SQLITE
#include "nebula/sqlite.hpp"
#endif
#ifdef NR_CPP_WITH_POSTGRES
#include "nebula/postgres.hpp"
#endif
#ifdef NR_CPP_WITH_REDIS
#include "nebula/redis.hpp"
#endif

#include "headers.hpp"

/* Lease from the pool in a block with NR_GUARD_SCOPED, as C code does:
 * whether the lease was held inside (it is given back when the block ends). */
bool nr_cpp_scoped_lease(nr_pool *pool)
{
    bool held = false;
    {
        NR_GUARD_SCOPED g = NR_GUARD_INIT;
        nr_ctx ctx = nebula::sized<nr_ctx>();
        ctx.deadline = nr_deadline_in_ms(1000);
        held = nr_deadline_is_set(ctx.deadline) &&
               nr_pool_acquire(pool, &ctx, &g, nullptr) == NR_OK && nr_guard_held(&g);
    }
    return held;
}

/* Lease `id` through the manager's provider port and give it back. */
int nr_cpp_provider_lease(nr_manager *m, const char *id)
{
    nr_provider p = nr_manager_provider(m);
    nr_guard g = NR_GUARD_INIT;
    nr_error err{};
    int rc = nr_provider_acquire(&p, id, nullptr, &g, &err);
    if (rc == NR_OK)
        rc = nr_guard_release(&g);
    return rc;
}

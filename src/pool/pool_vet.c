/* pool_vet.c - the vet and the lease stamp of pool_vet.h, out of line for
 * the async worker (pool_async.c). */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_vet.h"

#include "pool/pool_async.h"

int nr__vet_needed(nr_pool *p, const struct nr__instance *inst)
{
    int64_t now = 0;
    if (NR__CFG(p, max_lifetime_ms) > 0) {
        now = nr__tick_ns();
        if (nr__expired(p, inst, now))
            return 1;
    }
    return nr__stale(p, inst) || validate_due(p, inst, now);
}

int nr__vet(nr_pool *p, struct nr__instance *inst, uint32_t *bucket)
{
    return vet_inline(p, inst, bucket);
}

void nr__lease_stamp(nr_pool *p, struct nr__instance *inst, nr_guard *out, const char *file,
                     int line, const char *func)
{
    lease_inline(p, inst, out, file, line, func);
}

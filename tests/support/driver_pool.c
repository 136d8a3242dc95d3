/* driver_pool.c - the pool helpers every driver's tests share (driver_pool.h). */
#include "driver_pool.h"

#include "nebula/testing.h"
#include "testutil.h"

void nr_dt_pool_config(nr_pool_config *pc, int64_t max_size, int64_t min_idle)
{
    nr_test_pool_config(pc, min_idle, max_size);
}

nr_pool *nr_dt_pool(const char *id, const nr_resource_type *type, const void *config,
                    const nr_pool_config *pc, const nr_secret *cred)
{
    nr_pool *p = NULL;
    nr_error err = {0};
    int rc = nr_test_pool_of(&p, id, type, NULL, config, pc, cred, &err);
    if (rc != NR_OK)
        fail_msg("pool create: %s: %s", nr_err_name(rc), err.message);
    return p;
}

void nr_dt_acquire_ok(nr_pool *p, nr_guard *g)
{
    nr_error err = {0};
    int rc = nr_test_acquire(p, g, 60000, &err);
    if (rc != NR_OK)
        fail_msg("%s: %s", nr_err_name(rc), err.message);
}

void nr_dt_pool_done(nr_pool *p)
{
    nr_error err = {0};
    int rc = nr_test_pool_done(p, 60000, &err);
    if (rc != NR_OK)
        fail_msg("pool end: %s: %s", nr_err_name(rc), err.message);
}

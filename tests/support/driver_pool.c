/* driver_pool.c - the pool helpers every driver's tests share (driver_pool.h). */
#include "driver_pool.h"

#include "testutil.h"

void nr_dt_pool_config(nr_pool_config *pc, int64_t max_size, int64_t min_idle)
{
    nr_pool_config_default(pc);
    pc->max_size = max_size;
    pc->min_idle = min_idle;
}

nr_pool *nr_dt_pool(const char *id, const nr_resource_type *type, const void *config,
                    const nr_pool_config *pc, const nr_secret *cred)
{
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = id, .type = type, .config = config, .pool = pc, .credential = cred);
    nr_pool *p = NULL;
    nr_error err = {0};
    int rc = nr_pool_create(&p, &o, &err);
    if (rc != NR_OK)
        fail_msg("pool create: %s: %s", nr_err_name(rc), err.message);
    return p;
}

void nr_dt_acquire_ok(nr_pool *p, nr_guard *g)
{
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(60000));
    nr_error err = {0};
    int rc = nr_pool_acquire(p, &ctx, g, &err);
    if (rc != NR_OK)
        fail_msg("acquire: %s: %s", nr_err_name(rc), err.message);
}

void nr_dt_pool_done(nr_pool *p)
{
    nr_error err = {0};
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(p, &st);
    assert_int_equal(st.in_use, 0);
    int rc = nr_pool_drain(p, nr_deadline_in_ms(60000), &err);
    if (rc != NR_OK)
        fail_msg("drain: %s: %s", nr_err_name(rc), err.message);
    assert_int_equal(nr_pool_destroy(p, &err), NR_OK);
}

/* test_helpers.c - pools and managers of the mock for tests, with the
 * checks a test makes at their end (nebula/testing.h). */
#include "nebula/testing.h"

void nr_test_pool_config(nr_pool_config *pc, int64_t min_idle, int64_t max_size)
{
    nr_pool_config_default(pc);
    pc->min_idle = min_idle;
    pc->max_size = max_size;
}

int nr_test_pool_of(nr_pool **out, const char *id, const nr_resource_type *type, void *type_ud,
                    const void *config, const nr_pool_config *pc, const nr_secret *credential,
                    nr_error *err)
{
    nr_pool_options o = NR_POOL_OPTIONS(.id = id, .type = type, .type_ud = type_ud,
                                        .config = config, .pool = pc, .credential = credential);
    return nr_pool_create(out, &o, err);
}

int nr_test_pool_create(nr_pool **out, const char *id, nr_mock *m, int64_t min_idle,
                        int64_t max_size, nr_error *err)
{
    if (!m)
        return nr_error_set(err, NR_EINVAL, id, "nr_test_pool_create: m: must not be NULL");
    nr_pool_config pc;
    nr_test_pool_config(&pc, min_idle, max_size);
    return nr_test_pool_of(out, id, &nr_mock_type, m, nr_mock_config_defaults(), &pc, NULL, err);
}

int nr_test_manager_create(nr_manager **out, const char *id, nr_mock *m, const nr_pool_config *pc,
                           nr_error *err)
{
    if (!out || !m)
        return nr_error_set(err, NR_EINVAL, id, "nr_test_manager_create: %s: must not be NULL",
                            out ? "m" : "out");
    *out = NULL;
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.workers = 2;
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    nr_manager *mgr = NULL;
    int rc = nr_manager_create(&mgr, &mo, err);
    if (rc != NR_OK)
        return rc;
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = id, .type = &nr_mock_type, .type_ud = m,
                                             .config = nr_mock_config_defaults(), .pool = pc);
    rc = nr_manager_register(mgr, &spec, err);
    if (rc == NR_OK)
        rc = nr_manager_start(mgr, nr_deadline_in_ms(60000), err);
    if (rc != NR_OK) {
        nr_manager_destroy(mgr, NULL);
        return rc;
    }
    *out = mgr;
    return NR_OK;
}

int nr_test_acquire(nr_pool *p, nr_guard *g, int64_t within_ms, nr_error *err)
{
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(within_ms));
    int rc = nr_pool_acquire(p, &ctx, g, err);
    if (rc != NR_OK)
        nr_error_prefix(err, "acquire within %lld ms", (long long)within_ms);
    return rc;
}

int nr_test_manager_acquire(nr_manager *m, const char *id, nr_guard *g, int64_t within_ms,
                            nr_error *err)
{
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(within_ms));
    int rc = nr_manager_acquire(m, id, &ctx, g, err);
    if (rc != NR_OK)
        nr_error_prefix(err, "acquire within %lld ms", (long long)within_ms);
    return rc;
}

int nr_test_pool_done(nr_pool *p, int64_t within_ms, nr_error *err)
{
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_test_pool_done: p: must not be NULL");
    nr_pool_stats st = NR_POOL_STATS_INIT;
    int rc = nr_pool_stats_get(p, &st);
    if (rc != NR_OK)
        return nr_error_set(err, rc, nr_pool_id(p), "pool stats");
    if (st.in_use != 0)
        return nr_error_set(err, NR_EBUSY, nr_pool_id(p), "pool '%s': %u leases still out",
                            nr_pool_id(p), st.in_use);
    rc = nr_pool_drain(p, nr_deadline_in_ms(within_ms), err);
    if (rc != NR_OK)
        return rc;
    return nr_pool_destroy(p, err);
}

int nr_test_pool_end(nr_pool *p, nr_mock *m, nr_error *err)
{
    int rc = nr_test_pool_done(p, 60000, err);
    if (rc != NR_OK)
        return rc;
    return nr_mock_check_clean(m, err);
}

int nr_test_manager_end(nr_manager *mgr, nr_mock *m, int64_t within_ms, nr_error *err)
{
    if (!mgr)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_test_manager_end: mgr: must not be NULL");
    nr_shutdown_options so =
        NR_SHUTDOWN_OPTIONS(.drain_timeout_ms = within_ms, .cleanup_timeout_ms = 60000);
    /* a drain that times out leaves the leases to the destroy's answer */
    (void)nr_manager_shutdown(mgr, &so, NULL, NULL);
    int rc = nr_manager_destroy(mgr, err);
    if (rc != NR_OK)
        return rc;
    return nr_mock_check_clean(m, err);
}

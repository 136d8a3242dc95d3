/*
 * test_manager_pipeline.c - the manager runs each resource's health pipeline,
 * one round per nr_manager_tick: slow checks make the performance stage turn
 * a resource degraded and it recovers once they leave the window; a saturated
 * pool makes the utilization stage turn it degraded; a custom stage's
 * unhealthy verdict makes it unhealthy after failure_threshold rounds; the
 * default pipeline is connectivity alone; a bad health config is refused at
 * register, naming the resource, the field and the rule.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

typedef struct world {
    nr_mock fake;
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_manager_options mo;
    nr_health_config hc;
    atomic_int lag_state; /* what the "lag" stage reports */
    atomic_int lag_calls;
    nr_manager *m;
} world;

static int lag_stage(void *ud, const nr_health_stage_ctx *ctx, nr_health_report *rep, nr_error *err)
{
    (void)err;
    world *w = ud;
    atomic_fetch_add(&w->lag_calls, 1);
    assert_string_equal(ctx->resource_id, "db");
    assert_non_null(ctx->stats); /* the pool's statistics */
    rep->state = (nr_health_state)atomic_load(&w->lag_state);
    if (rep->state != NR_HEALTH_HEALTHY)
        snprintf(rep->reason, sizeof(rep->reason), "replica far behind");
    return NR_OK;
}

static int setup(void **state)
{
    world *w = calloc(1, sizeof(*w));
    nr_mock_init(&w->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &w->cfg, NULL), NR_OK);
    nr_pool_config_default(&w->pcfg);
    w->pcfg.max_size = 2;
    w->pcfg.min_idle = 1; /* one idle instance for every round to check */
    nr_manager_options_default(&w->mo);
    w->mo.maintain_interval_ms = 0; /* the rounds run only when the test ticks */
    w->mo.health_interval_ms = 0;
    w->mo.workers = 2;
    w->mo.failure_threshold = 3;
    w->mo.recovery_threshold = 2;
    w->mo.health_timeout_ms = 5000;
    nr_health_config_default(&w->hc);
    atomic_init(&w->lag_state, NR_HEALTH_HEALTHY);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    if (w->m) {
        nr_error err = {0};
        if (nr_manager_destroy(w->m, &err) != NR_OK)
            fail_msg("nr_manager_destroy: %s", err.message);
    }
    assert_int_equal(atomic_load(&w->fake.creates), atomic_load(&w->fake.destroys));
    assert_int_equal(atomic_load(&w->fake.live), 0);
    nr_config_free(&nr_mock_config_schema, &w->cfg);
    free(w);
    return 0;
}

static void set_stages(nr_health_config *hc, const char *a, const char *b)
{
    hc->nstages = b ? 2 : 1;
    snprintf(hc->stages[0], sizeof(hc->stages[0]), "%s", a);
    if (b)
        snprintf(hc->stages[1], sizeof(hc->stages[1]), "%s", b);
}

static int do_register(world *w, const nr_health_config *hc, nr_error *err)
{
    if (!w->m)
        assert_int_equal(nr_manager_create(&w->m, &w->mo, NULL), NR_OK);
    nr_health_stage_def lag = NR_HEALTH_STAGE_DEF(.name = "lag", .fn = lag_stage, .ud = w);
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &w->fake,
                                          .config = &w->cfg, .pool = &w->pcfg, .health = hc,
                                          .health_stages = &lag, .nhealth_stages = 1);
    return nr_manager_register(w->m, &s, err);
}

static void start(world *w, const nr_health_config *hc)
{
    nr_error err = {0};
    if (do_register(w, hc, &err) != NR_OK ||
        nr_manager_start(w->m, nr_deadline_in_ms(5000), &err) != NR_OK)
        fail_msg("db: %s", err.message);
}

static nr_resource_info info(world *w)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(w->m, "db", &i, &err) != NR_OK)
        fail_msg("info: %s", err.message);
    return i;
}

static nr_health_round_result stages(world *w)
{
    nr_health_round_result r;
    nr_error err = {0};
    if (nr_manager_health_stages(w->m, "db", &r, &err) != NR_OK)
        fail_msg("stages: %s", err.message);
    return r;
}

/* Tick once and return the resource's own health. */
static nr_health_state tick(world *w)
{
    nr_manager_tick(w->m);
    return info(w).own_health;
}

/* ---- the default pipeline ---- */

static void test_default_is_connectivity(void **state)
{
    world *w = *state;
    start(w, NULL);
    nr_health_round_result r = stages(w);
    assert_int_equal(r.round, 0);
    assert_int_equal(r.nstages, 1);
    assert_string_equal(r.stages[0].name, "connectivity");
    assert_false(r.stages[0].ran);

    long checks = atomic_load(&w->fake.health_checks);
    assert_int_equal(tick(w), NR_HEALTH_HEALTHY);
    assert_true(atomic_load(&w->fake.health_checks) > checks); /* the idle instance */
    r = stages(w);
    assert_int_equal(r.round, 1);
    assert_true(r.stages[0].ran);
    assert_int_equal(r.stages[0].state, NR_HEALTH_HEALTHY);
    assert_int_equal(r.state, NR_HEALTH_HEALTHY);

    /* a degraded check: degraded at once, with the check's reason */
    atomic_store(&w->fake.health, NR_HEALTH_DEGRADED);
    assert_int_equal(tick(w), NR_HEALTH_DEGRADED);
    r = stages(w);
    assert_int_equal(r.round, 2);
    assert_int_equal(r.state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.stage, "connectivity");
    assert_string_equal(info(w).health_reason, r.reason);
}

/* ---- performance ---- */

static void test_slow_checks_degrade_and_recover(void **state)
{
    world *w = *state;
    set_stages(&w->hc, "connectivity", "performance");
    w->hc.performance.degraded_ms = 50;
    w->hc.performance.unhealthy_ms = 0;
    w->hc.performance.window = 3;
    w->hc.performance.min_samples = 1;
    start(w, &w->hc);
    assert_int_equal(tick(w), NR_HEALTH_HEALTHY);

    /* one slow check: the window's p90 (its slowest of 3) is past degraded_ms */
    atomic_store(&w->fake.health_delay_ns, 150 * NR_NS_PER_MS);
    assert_int_equal(tick(w), NR_HEALTH_DEGRADED);
    nr_health_round_result r = stages(w);
    assert_int_equal(r.nstages, 2);
    assert_int_equal(r.stages[0].state, NR_HEALTH_HEALTHY);
    assert_string_equal(r.stages[1].name, "performance");
    assert_int_equal(r.stages[1].state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.stage, "performance");
    assert_true(nr_test_msg_has(info(w).health_reason, "latency"));

    /* fast again: degraded while the slow sample is in the window (two more
     * rounds), then good rounds up to recovery_threshold */
    atomic_store(&w->fake.health_delay_ns, 0);
    assert_int_equal(tick(w), NR_HEALTH_DEGRADED);
    assert_int_equal(tick(w), NR_HEALTH_DEGRADED);
    assert_int_equal(stages(w).stages[1].state, NR_HEALTH_DEGRADED);
    assert_int_equal(tick(w), NR_HEALTH_DEGRADED); /* first good round */
    assert_int_equal(stages(w).stages[1].state, NR_HEALTH_HEALTHY);
    assert_int_equal(info(w).consecutive_successes, 1);
    assert_int_equal(tick(w), NR_HEALTH_HEALTHY);
    assert_string_equal(info(w).health_reason, "");
}

/* ---- utilization ---- */

static void test_saturated_pool_degrades(void **state)
{
    world *w = *state;
    set_stages(&w->hc, "connectivity", "utilization");
    w->hc.utilization.degraded_in_use = 0.9;
    w->hc.utilization.degraded_waiters = 0;
    w->hc.utilization.degraded_wait_ratio = 0;
    w->hc.utilization.window = 1;
    w->hc.utilization.min_samples = 1;
    /* a degraded resource with nothing idle is probed; the probe waits this
     * long for a lease of the full pool, then gives no verdict */
    w->mo.health_timeout_ms = 200;
    start(w, &w->hc);
    assert_int_equal(tick(w), NR_HEALTH_HEALTHY);

    /* every instance leased: nothing idle to check (no verdict from
     * connectivity), and the pool is at max_size */
    nr_guard g[2] = {NR_GUARD_INIT, NR_GUARD_INIT};
    nr_error err = {0};
    for (int k = 0; k < 2; k++) {
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
        if (nr_manager_acquire(w->m, "db", &ctx, &g[k], &err) != NR_OK)
            fail_msg("acquire: %s", err.message);
    }
    assert_int_equal(tick(w), NR_HEALTH_DEGRADED);
    nr_health_round_result r = stages(w);
    assert_int_equal(r.stages[0].state, NR_HEALTH_UNKNOWN);
    assert_int_equal(r.stages[1].state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.stage, "utilization");
    assert_true(nr_test_msg_has(info(w).health_reason, "in use 100%"));
    assert_int_equal(tick(w), NR_HEALTH_DEGRADED); /* still saturated */

    /* the leases come back: good rounds up to recovery_threshold */
    for (int k = 0; k < 2; k++)
        assert_int_equal(nr_guard_release(&g[k]), NR_OK);
    assert_int_equal(tick(w), NR_HEALTH_DEGRADED);
    assert_int_equal(stages(w).stages[1].state, NR_HEALTH_HEALTHY);
    assert_int_equal(tick(w), NR_HEALTH_HEALTHY);
}

/* ---- a custom stage ---- */

static void test_custom_stage_unhealthy_after_threshold(void **state)
{
    world *w = *state;
    set_stages(&w->hc, "connectivity", "lag");
    start(w, &w->hc);
    assert_int_equal(tick(w), NR_HEALTH_HEALTHY);
    assert_int_equal(atomic_load(&w->lag_calls), 1);

    atomic_store(&w->lag_state, NR_HEALTH_UNHEALTHY);
    assert_int_equal(tick(w), NR_HEALTH_HEALTHY); /* bad round 1 of 3 */
    assert_int_equal(info(w).consecutive_failures, 1);
    assert_int_equal(tick(w), NR_HEALTH_HEALTHY);
    assert_int_equal(tick(w), NR_HEALTH_UNHEALTHY);
    assert_int_equal(atomic_load(&w->lag_calls), 4); /* once a round */
    nr_resource_info i = info(w);
    assert_true(nr_test_msg_has(i.health_reason, "replica far behind"));
    nr_health_round_result r = stages(w);
    assert_string_equal(r.stage, "lag");
    assert_int_equal(r.stages[0].state, NR_HEALTH_HEALTHY);
    assert_int_equal(r.stages[1].state, NR_HEALTH_UNHEALTHY);

    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
    assert_int_equal(nr_manager_acquire(w->m, "db", &ctx, &g, &err), NR_EUNAVAIL);

    atomic_store(&w->lag_state, NR_HEALTH_HEALTHY);
    assert_int_equal(tick(w), NR_HEALTH_UNHEALTHY);
    assert_int_equal(tick(w), NR_HEALTH_HEALTHY);
}

static void test_unhealthy_connectivity_skips_later_stages(void **state)
{
    world *w = *state;
    w->mo.failure_threshold = 1;
    set_stages(&w->hc, "connectivity", "lag");
    start(w, &w->hc);
    atomic_store(&w->fake.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(tick(w), NR_HEALTH_UNHEALTHY);
    assert_int_equal(atomic_load(&w->lag_calls), 0);
    nr_health_round_result r = stages(w);
    assert_string_equal(r.stage, "connectivity");
    assert_false(r.stages[1].ran);
}

/* ---- register ---- */

static void test_bad_health_config_refused(void **state)
{
    world *w = *state;
    nr_error err = {0};
    set_stages(&w->hc, "connectivity", "performance");
    w->hc.performance.window = 0;
    assert_int_equal(do_register(w, &w->hc, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "resource 'db': $.health.performance.window: must be between");

    nr_health_config_default(&w->hc);
    set_stages(&w->hc, "connectivity", "lagg");
    assert_int_equal(do_register(w, &w->hc, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "resource 'db': $.health.stages[1]: unknown stage");
    assert_int_equal(nr_manager_count(w->m), 0);

    /* the program's own stages: a NULL array, one without a callback */
    nr_health_config_default(&w->hc);
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &w->fake,
                                          .config = &w->cfg, .pool = &w->pcfg, .nhealth_stages = 1);
    assert_int_equal(nr_manager_register(w->m, &s, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource 'db': health_stages is NULL");
    nr_health_stage_def nofn = NR_HEALTH_STAGE_DEF(.name = "lag");
    s.health_stages = &nofn;
    assert_int_equal(nr_manager_register(w->m, &s, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource 'db'");
    assert_int_equal(nr_manager_count(w->m), 0);

    /* the config is copied: changing it after register changes nothing */
    set_stages(&w->hc, "connectivity", "lag");
    assert_int_equal(do_register(w, &w->hc, &err), NR_OK);
    set_stages(&w->hc, "connectivity", NULL);
    assert_int_equal(stages(w).nstages, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_is_connectivity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_checks_degrade_and_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_saturated_pool_degrades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_stage_unhealthy_after_threshold, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unhealthy_connectivity_skips_later_stages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_health_config_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_manager_health.c - health rounds judged one at a time, driven with
 * nr_manager_tick: a tenant-partitioned resource that went unhealthy is
 * probed through its tenant pools and heals once its backend is back, and a
 * check that reports Unknown is no verdict (it neither heals an unhealthy
 * resource nor fails a healthy one); a probe runs the driver's check on
 * the instance it leased.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

typedef struct world {
    nr_mock fake;
    atomic_int toggle; /* when set, every check flips the mock between Unknown and Healthy */
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_manager_options mo;
    nr_manager *m;
} world;

/* Runs at the start of every fake callback, before the check reads fake.health. */
static void on_call(const char *what, void *arg)
{
    world *w = arg;
    if (strcmp(what, "health") == 0 && atomic_load(&w->toggle))
        atomic_store(&w->fake.health, atomic_load(&w->fake.health) == NR_HEALTH_UNKNOWN
                                          ? NR_HEALTH_HEALTHY
                                          : NR_HEALTH_UNKNOWN);
}

static int setup(void **state)
{
    world *w = calloc(1, sizeof(*w));
    nr_mock_init(&w->fake);
    w->fake.on_call = on_call;
    w->fake.on_call_arg = w;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &w->cfg, NULL), NR_OK);
    nr_pool_config_default(&w->pcfg);
    w->pcfg.max_size = 2;
    /* a failed create is retried at once and never opens the breaker, so a
     * probe after the fault clears is served by the next create */
    w->pcfg.create_backoff_ms = 1;
    w->pcfg.create_backoff_max_ms = 2;
    w->pcfg.breaker_failures = 0;
    nr_manager_options_default(&w->mo);
    w->mo.maintain_interval_ms = 0; /* the rounds run only when the test ticks */
    w->mo.health_interval_ms = 0;
    w->mo.workers = 2;
    w->mo.failure_threshold = 1;
    w->mo.recovery_threshold = 2;
    w->mo.health_timeout_ms = 1000; /* also how long a probe waits while creates fail */
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

static void start(world *w, const char *id, nr_partition partition)
{
    assert_int_equal(nr_manager_create(&w->m, &w->mo, NULL), NR_OK);
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = id, .type = &nr_mock_type, .type_ud = &w->fake, .config = &w->cfg,
                         .pool = &w->pcfg, .partition = partition);
    nr_error err = {0};
    if (nr_manager_register(w->m, &s, &err) != NR_OK ||
        nr_manager_start(w->m, nr_deadline_in_ms(5000), &err) != NR_OK)
        fail_msg("%s: %s", id, err.message);
}

static nr_resource_info info(world *w, const char *id)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(w->m, id, &i, &err) != NR_OK)
        fail_msg("info %s: %s", id, err.message);
    return i;
}

/* Acquire and give back once as a caller of tenant t (NULL: Global). */
static int use(world *w, const char *id, const char *tenant, nr_error *err)
{
    nr_scope s;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
    if (tenant) {
        nr_scope_make(&s, tenant, NULL, NULL, NULL, NULL);
        ctx.scope = &s;
    }
    nr_guard g = NR_GUARD_INIT;
    int rc = nr_manager_acquire(w->m, id, &ctx, &g, err);
    if (rc == NR_OK)
        assert_int_equal(nr_guard_release(&g), NR_OK);
    return rc;
}

/* ---- a tenant-partitioned resource heals ---- */

static void test_partitioned_min_idle_0_recovers(void **state)
{
    world *w = *state;
    w->pcfg.min_idle = 0;
    start(w, "cache", NR_PARTITION_TENANT);
    nr_error err = {0};
    assert_int_equal(use(w, "cache", "acme", &err), NR_OK); /* acme's pool: one idle */

    /* the backend goes away: the check of that idle instance fails, and the
     * instance is destroyed, so acme's pool is empty */
    atomic_store(&w->fake.health, NR_HEALTH_UNHEALTHY);
    atomic_store(&w->fake.fail_create, 1);
    nr_manager_tick(w->m);
    nr_resource_info i = info(w, "cache");
    assert_int_equal(i.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(i.pools, 1);
    assert_int_equal(i.stats.idle, 0);
    long calls = atomic_load(&w->fake.create_calls);
    assert_int_equal(use(w, "cache", "acme", &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "resource 'cache' is unhealthy");
    assert_int_equal(use(w, "cache", "globex", &err), NR_EUNAVAIL); /* a new tenant too */
    assert_int_equal(atomic_load(&w->fake.create_calls), calls);    /* failed fast */

    /* while it is still down, the round's probe fails: still unhealthy */
    nr_manager_tick(w->m);
    i = info(w, "cache");
    assert_int_equal(i.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(i.consecutive_successes, 0);
    assert_true(atomic_load(&w->fake.create_calls) > calls); /* a probe ran */

    /* the backend comes back: a probe through acme's pool is the first good
     * round, and the instance it made is checked in the next one */
    atomic_store(&w->fake.health, NR_HEALTH_HEALTHY);
    atomic_store(&w->fake.fail_create, 0);
    nr_manager_tick(w->m);
    i = info(w, "cache");
    assert_int_equal(i.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(i.consecutive_successes, 1);
    nr_manager_tick(w->m);
    i = info(w, "cache");
    assert_int_equal(i.health, NR_HEALTH_HEALTHY);
    assert_string_equal(i.health_reason, "");
    assert_int_equal(i.pools, 1); /* the probe made no pool of its own */
    assert_int_equal(use(w, "cache", "acme", &err), NR_OK);
    assert_int_equal(use(w, "cache", "globex", &err), NR_OK);
    assert_int_equal(info(w, "cache").pools, 2);
}

static void test_partitioned_healthy_is_not_probed(void **state)
{
    world *w = *state;
    start(w, "cache", NR_PARTITION_TENANT);
    nr_error err = {0};
    /* a tenant whose instance is out: nothing idle to check, and no probe
     * for a healthy resource */
    nr_scope s;
    nr_scope_make(&s, "acme", NULL, NULL, NULL, NULL);
    nr_ctx ctx = NR_CTX(.scope = &s);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(w->m, "cache", &ctx, &g, &err), NR_OK);
    long calls = atomic_load(&w->fake.create_calls);
    nr_manager_tick(w->m);
    nr_manager_tick(w->m);
    assert_int_equal(atomic_load(&w->fake.create_calls), calls);
    assert_int_equal(info(w, "cache").stats.acquires, 1);
    assert_int_equal(info(w, "cache").health, NR_HEALTH_HEALTHY);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

/* ---- a probe checks what it leased ---- */

static void test_probe_checks_its_instance(void **state)
{
    world *w = *state;
    w->pcfg.min_idle = 0;
    start(w, "db", NR_PARTITION_NONE);
    nr_error err = {0};
    assert_int_equal(use(w, "db", NULL, &err), NR_OK); /* one idle */
    /* the backend cannot serve, yet connections still open (a SQLite file
     * whose write lock another process holds): the check of the idle one
     * fails and it is destroyed */
    atomic_store(&w->fake.health, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(w->m);
    assert_int_equal(info(w, "db").health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(info(w, "db").stats.idle, 0);
    /* each later round probes with a fresh instance that opens fine: its
     * check fails, so the round is bad and the instance is not kept */
    for (int round = 0; round < 3; round++) {
        long checks = atomic_load(&w->fake.health_checks);
        long creates = atomic_load(&w->fake.creates);
        nr_manager_tick(w->m);
        nr_resource_info i = info(w, "db");
        assert_int_equal(i.health, NR_HEALTH_UNHEALTHY);
        assert_int_equal(i.consecutive_successes, 0);
        assert_int_equal(atomic_load(&w->fake.creates), creates + 1);      /* the probe's */
        assert_int_equal(atomic_load(&w->fake.health_checks), checks + 1); /* checked */
        assert_int_equal(i.stats.idle, 0);                                 /* and discarded */
    }
    /* serving again: the probe's check passes, and the next round's check too */
    atomic_store(&w->fake.health, NR_HEALTH_HEALTHY);
    nr_manager_tick(w->m);
    assert_int_equal(info(w, "db").consecutive_successes, 1);
    nr_manager_tick(w->m);
    assert_int_equal(info(w, "db").health, NR_HEALTH_HEALTHY);
}

/* ---- Unknown is no verdict ---- */

static void test_unknown_does_not_heal(void **state)
{
    world *w = *state;
    w->pcfg.min_idle = 1;
    start(w, "db", NR_PARTITION_NONE);
    nr_error err = {0};
    atomic_store(&w->fake.health, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(w->m);
    nr_resource_info i = info(w, "db");
    assert_int_equal(i.health, NR_HEALTH_UNHEALTHY);
    assert_true(nr_test_msg_has(i.health_reason, "mock says so"));

    /* the checks can tell nothing now: maintenance keeps an instance idle,
     * every round checks it and hears Unknown */
    atomic_store(&w->fake.health, NR_HEALTH_UNKNOWN);
    long checks = atomic_load(&w->fake.health_checks);
    for (int k = 0; k < 5; k++)
        nr_manager_tick(w->m);
    assert_int_equal(atomic_load(&w->fake.health_checks), checks + 5);
    i = info(w, "db");
    assert_int_equal(i.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(i.consecutive_successes, 0);
    assert_int_equal(i.consecutive_failures, 1); /* as the last bad round left it */
    assert_true(nr_test_msg_has(i.health_reason, "mock says so"));
    assert_int_equal(use(w, "db", NULL, &err), NR_EUNAVAIL);

    /* a real verdict heals it as before */
    atomic_store(&w->fake.health, NR_HEALTH_HEALTHY);
    nr_manager_tick(w->m);
    assert_int_equal(info(w, "db").consecutive_successes, 1);
    nr_manager_tick(w->m);
    assert_int_equal(info(w, "db").health, NR_HEALTH_HEALTHY);
    assert_int_equal(use(w, "db", NULL, &err), NR_OK);
}

static void test_unknown_does_not_fail(void **state)
{
    world *w = *state;
    w->mo.failure_threshold = 2;
    w->pcfg.min_idle = 2;
    start(w, "db", NR_PARTITION_NONE);
    nr_error err = {0};
    atomic_store(&w->fake.health, NR_HEALTH_UNKNOWN);
    long checks = atomic_load(&w->fake.health_checks);
    for (int k = 0; k < 5; k++)
        nr_manager_tick(w->m);
    assert_int_equal(atomic_load(&w->fake.health_checks), checks + 10);
    nr_resource_info i = info(w, "db");
    assert_int_equal(i.health, NR_HEALTH_HEALTHY);
    assert_int_equal(i.consecutive_failures, 0);
    assert_int_equal(i.stats.idle, 2); /* an instance that says Unknown is kept */
    assert_int_equal(use(w, "db", NULL, &err), NR_OK);

    /* Unknown neither breaks nor extends a streak of failed rounds */
    atomic_store(&w->fake.health, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(w->m);
    i = info(w, "db");
    assert_int_equal(i.health, NR_HEALTH_HEALTHY);
    assert_int_equal(i.consecutive_failures, 1);
    atomic_store(&w->fake.health, NR_HEALTH_UNKNOWN);
    nr_manager_tick(w->m); /* maintenance replaced both; they say Unknown */
    i = info(w, "db");
    assert_int_equal(i.health, NR_HEALTH_HEALTHY);
    assert_int_equal(i.consecutive_failures, 1);
    atomic_store(&w->fake.health, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(w->m);
    i = info(w, "db");
    assert_int_equal(i.consecutive_failures, 2);
    assert_int_equal(i.health, NR_HEALTH_UNHEALTHY);
}

static void test_unknown_beside_a_verdict(void **state)
{
    world *w = *state;
    w->pcfg.min_idle = 1;
    start(w, "cache", NR_PARTITION_TENANT);
    nr_error err = {0};
    assert_int_equal(use(w, "cache", "acme", &err), NR_OK);
    assert_int_equal(use(w, "cache", "globex", &err), NR_OK);
    atomic_store(&w->fake.health, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(w->m);
    assert_int_equal(info(w, "cache").health, NR_HEALTH_UNHEALTHY);
    /* two tenant pools, one instance each (maintenance replaces them): with
     * every check saying Unknown the rounds tell nothing ... */
    atomic_store(&w->fake.health, NR_HEALTH_UNKNOWN);
    long checks = atomic_load(&w->fake.health_checks);
    nr_manager_tick(w->m);
    nr_manager_tick(w->m);
    assert_int_equal(atomic_load(&w->fake.health_checks), checks + 4);
    assert_int_equal(info(w, "cache").consecutive_successes, 0);
    assert_int_equal(info(w, "cache").health, NR_HEALTH_UNHEALTHY);
    /* ... and a round where one check says Healthy and the other Unknown is
     * judged by the one verdict: good */
    atomic_store(&w->toggle, 1);
    nr_manager_tick(w->m);
    assert_int_equal(info(w, "cache").consecutive_successes, 1);
    nr_manager_tick(w->m);
    atomic_store(&w->toggle, 0);
    assert_int_equal(atomic_load(&w->fake.health_checks), checks + 8);
    assert_int_equal(info(w, "cache").health, NR_HEALTH_HEALTHY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partitioned_min_idle_0_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partitioned_healthy_is_not_probed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_checks_its_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_does_not_heal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_does_not_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_beside_a_verdict, setup, teardown),
    };
    return cmocka_run_group_tests_name("manager_health", tests, NULL, NULL);
}

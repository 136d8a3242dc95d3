/*
 * test_manager_cancel.c - stopping the manager's own work early: a health
 * round (nr_manager_tick or a background one) that shutdown begins under
 * stops at its next step and records nothing.
 *
 * The fake's on_call hook holds one chosen callback (a check of one given
 * instance) until the test lets it go, so that the test knows which step the
 * work is in when it acts; the assertions are about which callbacks ran and
 * in what order, never about how long anything took.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fake_type.h"
#include "nebula/manager.h"
#include "testutil.h"

/* A bound on every wait of this file (10 s in 1 ms steps): a lost wake-up
 * fails the test instead of hanging it. */
#define WAIT_STEPS 10000

typedef struct world {
    nr_fake fake;
    nr_fake_config cfg;
    nr_pool_config pcfg;
    nr_manager_options mo;
    nr_manager *m;
    /* the gate in on_call */
    atomic_ullong hold_serial; /* hold the check of this instance (0: none) */
    atomic_int held;           /* that check has begun */
    atomic_int after;          /* checks begun after it */
    atomic_int open;           /* let it go */
} world;

static void on_call(const char *what, void *arg)
{
    world *w = arg;
    if (strcmp(what, "health") != 0)
        return;
    if (atomic_load(&w->held)) {
        atomic_fetch_add(&w->after, 1);
        return;
    }
    unsigned long long want = atomic_load(&w->hold_serial);
    if (!want || atomic_load(&w->fake.health_serial) != want)
        return;
    atomic_store(&w->held, 1);
    for (int i = 0; i < WAIT_STEPS && !atomic_load(&w->open); i++)
        nr_sleep_ns(NR_NS_PER_MS);
}

static void wait_flag(atomic_int *flag)
{
    for (int i = 0; i < WAIT_STEPS && !atomic_load(flag); i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_true(atomic_load(flag));
}

static int setup(void **state)
{
    world *w = calloc(1, sizeof(*w));
    nr_fake_init(&w->fake);
    w->fake.on_call = on_call;
    w->fake.on_call_arg = w;
    assert_int_equal(nr_config_init(&nr_fake_config_schema, &w->cfg, NULL), NR_OK);
    nr_pool_config_default(&w->pcfg);
    w->pcfg.max_size = 1; /* one instance per tenant pool: one check per pool */
    nr_manager_options_default(&w->mo);
    w->mo.maintain_interval_ms = 0;
    w->mo.health_interval_ms = 0;
    w->mo.workers = 2;
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
    nr_config_free(&nr_fake_config_schema, &w->cfg);
    free(w);
    return 0;
}

static void start_partitioned(world *w)
{
    assert_int_equal(nr_manager_create(&w->m, &w->mo, NULL), NR_OK);
    nr_resource_spec s = {.id = "cache",
                          .type = &nr_fake_type,
                          .type_ud = &w->fake,
                          .config = &w->cfg,
                          .pool = &w->pcfg,
                          .partition = NR_PARTITION_TENANT};
    nr_error err = {0};
    if (nr_manager_register(w->m, &s, &err) != NR_OK ||
        nr_manager_start(w->m, nr_deadline_in_ms(5000), &err) != NR_OK)
        fail_msg("start: %s", err.message);
}

/* Lease an instance of "cache" as tenant t. */
static void lease(world *w, const char *tenant, nr_guard *g)
{
    nr_scope s;
    nr_scope_make(&s, tenant, NULL, NULL, NULL, NULL);
    nr_ctx ctx = {.scope = &s, .deadline = nr_deadline_in_ms(5000)};
    nr_error err = {0};
    if (nr_manager_acquire(w->m, "cache", &ctx, g, &err) != NR_OK)
        fail_msg("acquire as %s: %s", tenant, err.message);
}

/* Give tenants a, b and c one idle instance each; their pools are checked
 * newest first, so a round checks c's first. Returns the serial of c's. */
static unsigned long long three_idle_tenants(world *w)
{
    const char *tenants[] = {"a", "b", "c"};
    unsigned long long serial = 0;
    for (int i = 0; i < 3; i++) {
        nr_guard g = NR_GUARD_INIT;
        lease(w, tenants[i], &g);
        serial = ((nr_fake_handle *)nr_guard_handle(&g))->serial;
        assert_int_equal(nr_guard_release(&g), NR_OK);
    }
    return serial;
}

/* Wait until the manager refuses acquires for shutdown (it sets its token
 * before it says so). */
static void wait_shutdown_began(world *w)
{
    nr_error err = {0};
    nr_guard g = NR_GUARD_INIT;
    int rc = NR_OK;
    for (int i = 0; i < WAIT_STEPS; i++) {
        rc = nr_manager_acquire(w->m, "cache", NULL, &g, &err); /* NR_ESCOPE until then */
        if (rc == NR_ESHUTDOWN)
            break;
        nr_sleep_ns(NR_NS_PER_MS);
    }
    assert_int_equal(rc, NR_ESHUTDOWN);
}

typedef struct shutdown_call {
    world *w;
    pthread_t th;
    int rc;
    nr_error err;
} shutdown_call;

static void *shutdown_thread(void *arg)
{
    shutdown_call *c = arg;
    c->rc = nr_manager_shutdown(c->w->m, NULL, NULL, &c->err);
    return NULL;
}

static void *tick_thread(void *arg)
{
    world *w = arg;
    nr_manager_tick(w->m);
    return NULL;
}

/* ---- health rounds at shutdown ---- */

static void test_tick_stops_at_shutdown(void **state)
{
    world *w = *state;
    start_partitioned(w);
    /* tenant d keeps a lease, so that shutdown's drain waits for it: the
     * pools are not closed under the round while the test watches it */
    nr_guard d = NR_GUARD_INIT;
    lease(w, "d", &d);
    atomic_store(&w->hold_serial, three_idle_tenants(w));
    long checks = atomic_load(&w->fake.health_checks);

    pthread_t tick;
    assert_int_equal(pthread_create(&tick, NULL, tick_thread, w), 0);
    wait_flag(&w->held); /* the round is in the check of c's instance */
    shutdown_call sc = {.w = w};
    assert_int_equal(pthread_create(&sc.th, NULL, shutdown_thread, &sc), 0);
    wait_shutdown_began(w);
    atomic_store(&w->open, 1);
    assert_int_equal(pthread_join(tick, NULL), 0);

    /* the round stopped after the check in progress: b's and a's instances
     * were not checked, and the cut round was not judged */
    assert_int_equal(atomic_load(&w->after), 0);
    assert_int_equal(atomic_load(&w->fake.health_checks), checks + 1);
    nr_resource_info i;
    assert_int_equal(nr_manager_resource_info(w->m, "cache", &i, NULL), NR_OK);
    assert_int_equal(i.consecutive_successes, 0);
    assert_int_equal(i.health, NR_HEALTH_HEALTHY);

    assert_int_equal(nr_guard_release(&d), NR_OK);
    assert_int_equal(pthread_join(sc.th, NULL), 0);
    if (sc.rc != NR_OK)
        fail_msg("shutdown: %s", sc.err.message);
}

static void test_background_round_stops_at_shutdown(void **state)
{
    world *w = *state;
    w->mo.health_interval_ms = 1;
    start_partitioned(w);
    atomic_store(&w->hold_serial, three_idle_tenants(w));
    wait_flag(&w->held); /* a background round is in the check of c's instance */

    /* shutdown waits for the running round; the round stops after the check
     * in progress instead of going on with b's and a's instances */
    shutdown_call sc = {.w = w};
    assert_int_equal(pthread_create(&sc.th, NULL, shutdown_thread, &sc), 0);
    wait_shutdown_began(w);
    atomic_store(&w->open, 1);
    assert_int_equal(pthread_join(sc.th, NULL), 0);
    if (sc.rc != NR_OK)
        fail_msg("shutdown: %s", sc.err.message);
    assert_int_equal(atomic_load(&w->after), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tick_stops_at_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_round_stops_at_shutdown, setup, teardown),
    };
    return cmocka_run_group_tests_name("manager_cancel", tests, NULL, NULL);
}

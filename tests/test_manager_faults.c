/*
 * test_manager_faults.c - the manager under faults, with its background
 * rounds running: creates that fail sometimes or always, health that flaps,
 * a dependency that dies while the program runs. The pools must recover when
 * the fault clears, and nothing may leak (ASan) or race (TSan).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

typedef struct world {
    nr_mock db, app;
    nr_mock_config cfg;
    nr_manager *m;
    atomic_int stop;
    atomic_long ok, failed, double_handouts, unexpected;
    uint64_t seed;
} world;

static void world_start(world *w, int64_t interval_ms)
{
    memset(w, 0, sizeof(*w));
    nr_mock_init(&w->db);
    nr_mock_init(&w->app);
    w->seed = nr_test_seed("manager_faults");
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &w->cfg, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.workers = 3;
    mo.maintain_interval_ms = interval_ms;
    mo.health_interval_ms = interval_ms;
    mo.health_timeout_ms = 50;
    mo.failure_threshold = 2;
    mo.recovery_threshold = 2;
    assert_int_equal(nr_manager_create(&w->m, &mo, NULL), NR_OK);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 3;
    pc.min_idle = 2;
    pc.acquire_timeout_ms = 200;
    nr_resource_spec db = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &w->db,
                                           .config = &w->cfg, .pool = &pc);
    const char *deps[] = {"db"};
    nr_resource_spec app =
        NR_RESOURCE_SPEC(.id = "app", .type = &nr_mock_type, .type_ud = &w->app, .config = &w->cfg,
                         .pool = &pc, .depends_on = deps, .ndepends = 1);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(w->m, &app, &err), NR_OK);
    assert_int_equal(nr_manager_register(w->m, &db, &err), NR_OK);
    assert_int_equal(nr_manager_start(w->m, nr_deadline_in_ms(5000), &err), NR_OK);
}

static void world_end(world *w)
{
    nr_error err = {0};
    assert_int_equal(nr_manager_shutdown(w->m, NULL, NULL, &err), NR_OK);
    assert_int_equal(nr_manager_destroy(w->m, &err), NR_OK);
    assert_int_equal(atomic_load(&w->db.creates), atomic_load(&w->db.destroys));
    assert_int_equal(atomic_load(&w->app.creates), atomic_load(&w->app.destroys));
    assert_int_equal(atomic_load(&w->db.live), 0);
    assert_int_equal(atomic_load(&w->app.live), 0);
    assert_int_equal(atomic_load(&w->double_handouts), 0);
    assert_int_equal(atomic_load(&w->unexpected), 0);
    nr_config_free(&nr_mock_config_schema, &w->cfg);
}

typedef struct client {
    world *w;
    int index;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    world *w = c->w;
    nr_rng rng;
    nr_rng_seed(&rng, w->seed + (uint64_t)c->index);
    while (!atomic_load(&w->stop)) {
        const char *id = nr_rng_chance(&rng, 1, 2) ? "db" : "app";
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(50));
        int rc = nr_manager_acquire(w->m, id, &ctx, &g, &err);
        if (rc == NR_OK) {
            nr_mock_handle *h = nr_guard_handle(&g);
            if (h->magic != NR_MOCK_MAGIC || atomic_fetch_add(&h->holders, 1) != 0)
                atomic_fetch_add(&w->double_handouts, 1);
            nr_sleep_ns((int64_t)nr_rng_below(&rng, 200) * NR_NS_PER_US);
            atomic_fetch_sub(&h->holders, 1);
            if (nr_rng_chance(&rng, 1, 10))
                nr_guard_taint(&g);
            else
                nr_guard_release(&g);
            atomic_fetch_add(&w->ok, 1);
        } else if (rc == NR_EUNAVAIL || rc == NR_ETIMEDOUT) {
            /* a failing create or an unhealthy resource: both name the resource */
            if (strstr(err.message, id) == NULL)
                atomic_fetch_add(&w->unexpected, 1);
            atomic_fetch_add(&w->failed, 1);
        } else {
            atomic_fetch_add(&w->unexpected, 1);
        }
    }
    return NULL;
}

enum { CLIENTS = 6 };

static void run_clients(world *w, pthread_t *t, client *c)
{
    atomic_store(&w->stop, 0);
    for (int i = 0; i < CLIENTS; i++) {
        c[i] = (client){w, i};
        pthread_create(&t[i], NULL, client_main, &c[i]);
    }
}

static void stop_clients(world *w, pthread_t *t)
{
    atomic_store(&w->stop, 1);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
}

static nr_health_state health_of(world *w, const char *id)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(w->m, id, &i, NULL), NR_OK);
    return i.health;
}

static void wait_health(world *w, const char *id, nr_health_state want)
{
    for (int i = 0; i < 5000 && health_of(w, id) != want; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(health_of(w, id), want);
}

static void test_creates_failing_sometimes(void **state)
{
    (void)state;
    world w;
    world_start(&w, 2);
    atomic_store(&w.db.fault[NR_MOCK_CREATE].every, 3);
    pthread_t t[CLIENTS];
    client c[CLIENTS];
    run_clients(&w, t, c);
    nr_sleep_ns(300 * NR_NS_PER_MS);
    stop_clients(&w, t);
    atomic_store(&w.db.fault[NR_MOCK_CREATE].every, 0);
    assert_true(atomic_load(&w.ok) > 0);
    world_end(&w);
}

static void test_dependency_dies_and_comes_back(void **state)
{
    (void)state;
    world w;
    world_start(&w, 2);
    pthread_t t[CLIENTS];
    client c[CLIENTS];
    run_clients(&w, t, c);
    nr_sleep_ns(50 * NR_NS_PER_MS);
    /* the database dies while the program runs */
    atomic_store(&w.db.fail_create, 1);
    atomic_store(&w.db.health, NR_HEALTH_UNHEALTHY);
    wait_health(&w, "db", NR_HEALTH_UNHEALTHY);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_manager_acquire(w.m, "db", NULL, &g, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "resource 'db' is unhealthy");
    /* the application resource keeps working on its own pool */
    assert_int_equal(nr_manager_acquire(w.m, "app", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    /* it comes back: the manager heals it without a restart */
    atomic_store(&w.db.fail_create, 0);
    atomic_store(&w.db.health, NR_HEALTH_HEALTHY);
    wait_health(&w, "db", NR_HEALTH_HEALTHY);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(2000));
    assert_int_equal(nr_manager_acquire(w.m, "db", &ctx, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    stop_clients(&w, t);
    world_end(&w);
}

static void test_health_flapping(void **state)
{
    (void)state;
    world w;
    world_start(&w, 1);
    pthread_t t[CLIENTS];
    client c[CLIENTS];
    run_clients(&w, t, c);
    nr_rng rng;
    nr_rng_seed(&rng, w.seed ^ 0xF1A9ULL);
    for (int i = 0; i < 200; i++) {
        atomic_store(&w.db.health, (int)(1 + nr_rng_below(&rng, 3)));
        atomic_store(&w.app.fail_create, (int)nr_rng_chance(&rng, 1, 4));
        nr_sleep_ns((int64_t)(200 + nr_rng_below(&rng, 1000)) * NR_NS_PER_US);
    }
    /* the fault clears: both end healthy and usable */
    atomic_store(&w.db.health, NR_HEALTH_HEALTHY);
    atomic_store(&w.app.fail_create, 0);
    wait_health(&w, "db", NR_HEALTH_HEALTHY);
    wait_health(&w, "app", NR_HEALTH_HEALTHY);
    stop_clients(&w, t);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(2000));
    assert_int_equal(nr_manager_acquire(w.m, "db", &ctx, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    world_end(&w);
}

static void test_creates_failing_always_then_recovering(void **state)
{
    (void)state;
    world w;
    world_start(&w, 2);
    atomic_store(&w.app.fail_create, 1);
    atomic_store(&w.app.health, NR_HEALTH_UNHEALTHY);
    wait_health(&w, "app", NR_HEALTH_UNHEALTHY);
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(w.m, "app", &i, NULL), NR_OK);
    assert_int_equal(i.stats.total, 0); /* every instance went away */
    atomic_store(&w.app.fail_create, 0);
    atomic_store(&w.app.health, NR_HEALTH_HEALTHY);
    wait_health(&w, "app", NR_HEALTH_HEALTHY);
    for (int k = 0; k < 5000; k++) {
        assert_int_equal(nr_manager_resource_info(w.m, "app", &i, NULL), NR_OK);
        if (i.stats.idle >= 2)
            break;
        nr_sleep_ns(NR_NS_PER_MS);
    }
    assert_true(i.stats.idle >= 2); /* refilled to min_idle in the background */
    world_end(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_creates_failing_sometimes),
        cmocka_unit_test(test_dependency_dies_and_comes_back),
        cmocka_unit_test(test_health_flapping),
        cmocka_unit_test(test_creates_failing_always_then_recovering),
    };
    return cmocka_run_group_tests_name("manager_faults", tests, NULL, NULL);
}

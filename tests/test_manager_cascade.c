/*
 * test_manager_cascade.c - health along the dependency graph: an unhealthy
 * resource degrades everything that depends on it, through three levels,
 * naming itself as the root; acquires keep working or fail with
 * NR_EDEPFAIL as each resource's policy says; one CascadeDetected names the
 * root and what it degrades; all recover with the root.
 *
 *   db <- cache <- app        reports -> db (policy: fail)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "testutil.h"

enum { DB, CACHE, APP, REPORTS, N };
static const char *const ids[N] = {"db", "cache", "app", "reports"};

typedef struct fixture {
    nr_mock fake[N];
    nr_mock_config cfg;
    nr_event_bus *bus;
    nr_event_sub *sub;
    nr_manager *m;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    for (int i = 0; i < N; i++)
        nr_mock_init(&f->fake[i]);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    assert_int_equal(nr_event_bus_create(&f->bus, 256, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(f->bus, &f->sub, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.failure_threshold = 1;
    mo.recovery_threshold = 1;
    mo.events = f->bus;
    assert_int_equal(nr_manager_create(&f->m, &mo, NULL), NR_OK);
    const char *on_db[] = {"db"}, *on_cache[] = {"cache"};
    const char *const *deps[N] = {NULL, on_db, on_cache, on_db};
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = 1;
    pc.create_backoff_ms = 1; /* a backend back is usable at the next round */
    pc.create_backoff_max_ms = 1;
    pc.breaker_failures = 0;
    for (int i = 0; i < N; i++) {
        nr_resource_spec s =
            NR_RESOURCE_SPEC(.id = ids[i], .type = &nr_mock_type, .type_ud = &f->fake[i],
                             .config = &f->cfg, .pool = &pc, .depends_on = deps[i],
                             .ndepends = deps[i] ? 1 : 0,
                             .on_dependency_failure = i == REPORTS ? NR_DEP_FAIL : NR_DEP_SERVE);
        nr_error err = {0};
        if (nr_manager_register(f->m, &s, &err) != NR_OK)
            fail_msg("register %s: %s", ids[i], err.message);
    }
    nr_error err = {0};
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    if (nr_manager_destroy(f->m, &err) != NR_OK)
        fail_msg("nr_manager_destroy: %s", err.message);
    for (int i = 0; i < N; i++)
        assert_int_equal(atomic_load(&f->fake[i].creates), atomic_load(&f->fake[i].destroys));
    nr_event_unsubscribe(f->sub);
    nr_event_bus_destroy(f->bus);
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
    return 0;
}

static nr_resource_info info(fixture *f, const char *id)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, id, &i, NULL), NR_OK);
    return i;
}

static void backend(fixture *f, int which, bool up)
{
    atomic_store(&f->fake[which].health, up ? NR_HEALTH_HEALTHY : NR_HEALTH_UNHEALTHY);
    atomic_store(&f->fake[which].fail_create, up ? 0 : 1);
}

/* The events published since the last call, of one type, into v (at most cap). */
static size_t take(fixture *f, nr_event_type type, nr_event *v, size_t cap)
{
    size_t n = 0;
    nr_event ev;
    uint64_t missed = 0;
    while (nr_event_next(f->sub, &ev, &missed, nr_deadline_in_ns(0)) == NR_OK)
        if (ev.type == type && n < cap)
            v[n++] = ev;
    assert_int_equal(missed, 0);
    return n;
}

static void test_cascade_through_three_levels(void **state)
{
    fixture *f = *state;
    nr_event ev[16];
    nr_manager_tick(f->m);
    take(f, NR_EV_HEALTH_CHANGED, ev, 16); /* unknown -> healthy at the first round */
    for (int i = 0; i < N; i++)
        assert_int_equal(info(f, ids[i]).health, NR_HEALTH_HEALTHY);

    backend(f, DB, false);
    nr_manager_tick(f->m);
    nr_resource_info db = info(f, "db");
    assert_int_equal(db.health, NR_HEALTH_UNHEALTHY);
    assert_string_equal(db.root_cause, "");
    for (int i = CACHE; i < N; i++) {
        nr_resource_info r = info(f, ids[i]);
        assert_int_equal(r.health, NR_HEALTH_DEGRADED);
        assert_int_equal(r.own_health, NR_HEALTH_HEALTHY); /* its own checks pass */
        assert_string_equal(r.root_cause, "db");
        char want[NR_HEALTH_REASON_MAX + 64];
        snprintf(want, sizeof(want), "depends on db (unhealthy: %s", db.health_reason);
        assert_true(strncmp(r.health_reason, want, strlen(want) < 100 ? strlen(want) : 100) == 0);
    }
    /* HealthChanged: db's own, then each dependent's; one CascadeDetected naming all three */
    nr_event hc[16];
    size_t nhc = 0;
    nr_event all[32];
    size_t nall = 0;
    {
        nr_event e;
        uint64_t missed = 0;
        while (nr_event_next(f->sub, &e, &missed, nr_deadline_in_ns(0)) == NR_OK && nall < 32)
            all[nall++] = e;
    }
    size_t ncascade = 0;
    for (size_t i = 0; i < nall; i++) {
        if (all[i].type == NR_EV_HEALTH_CHANGED)
            hc[nhc++] = all[i];
        if (all[i].type == NR_EV_CASCADE_DETECTED) {
            ncascade++;
            assert_string_equal(all[i].resource_id, "db");
            assert_int_equal(all[i].count, 3);
            assert_true(strncmp(all[i].text, "degrades cache, app, reports; unhealthy: ", 41) == 0);
        }
    }
    assert_int_equal(ncascade, 1);
    assert_int_equal(nhc, 4);
    assert_string_equal(hc[0].resource_id, "db");
    assert_int_equal(hc[0].health_new, NR_HEALTH_UNHEALTHY);
    for (size_t i = 1; i < 4; i++) {
        assert_int_equal(hc[i].health_old, NR_HEALTH_HEALTHY);
        assert_int_equal(hc[i].health_new, NR_HEALTH_DEGRADED);
        assert_true(strncmp(hc[i].text, "depends on db (unhealthy: ", 26) == 0);
    }

    /* acquires: serve by default, fail for the policy that says so */
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_manager_acquire(f->m, "app", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_manager_acquire(f->m, "reports", NULL, &g, &err), NR_EDEPFAIL);
    NR_ASSERT_ERR(err, NR_EDEPFAIL, "resource 'reports' depends on db (unhealthy: ");
    assert_string_equal(err.resource_id, "reports");

    /* still down: no second CascadeDetected, no new HealthChanged */
    nr_manager_tick(f->m);
    assert_int_equal(take(f, NR_EV_CASCADE_DETECTED, ev, 16), 0);

    /* the root comes back: every dependent recovers with it */
    backend(f, DB, true);
    nr_manager_tick(f->m);
    for (int i = 0; i < N; i++) {
        nr_resource_info r = info(f, ids[i]);
        assert_int_equal(r.health, NR_HEALTH_HEALTHY);
        assert_string_equal(r.root_cause, "");
    }
    assert_int_equal(nr_manager_acquire(f->m, "reports", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_nearest_root_and_own_health_first(void **state)
{
    fixture *f = *state;
    nr_manager_tick(f->m);
    backend(f, DB, false);
    backend(f, CACHE, false);
    nr_manager_tick(f->m);
    /* cache is unhealthy itself (worse than degraded); app names the nearest root */
    nr_resource_info cache = info(f, "cache");
    assert_int_equal(cache.health, NR_HEALTH_UNHEALTHY);
    assert_string_equal(cache.root_cause, "db");
    nr_resource_info app = info(f, "app");
    assert_int_equal(app.health, NR_HEALTH_DEGRADED);
    assert_string_equal(app.root_cause, "cache");
    assert_string_equal(info(f, "reports").root_cause, "db");
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_manager_acquire(f->m, "cache", NULL, &g, &err), NR_EUNAVAIL);
    /* db back, cache still down: app still degraded by cache, reports healthy */
    backend(f, DB, true);
    nr_manager_tick(f->m);
    assert_string_equal(info(f, "app").root_cause, "cache");
    assert_int_equal(info(f, "reports").health, NR_HEALTH_HEALTHY);
    backend(f, CACHE, true);
    nr_manager_tick(f->m);
    for (int i = 0; i < N; i++)
        assert_int_equal(info(f, ids[i]).health, NR_HEALTH_HEALTHY);
}

static void test_bad_policy_refused(void **state)
{
    fixture *f = *state;
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "odd", .type = &nr_mock_type, .type_ud = &f->fake[0],
                         .config = &f->cfg, .on_dependency_failure = (nr_dep_policy)7);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource 'odd': on_dependency_failure 7 is not known");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cascade_through_three_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nearest_root_and_own_health_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_policy_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

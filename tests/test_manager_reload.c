/*
 * test_manager_reload.c - nr_manager_reload: in place, with a new pool that
 * takes over while the old one drains, refused changes, a failed new pool
 * that leaves the old one, and reloads in a loop under load that lose no
 * acquire and hand nothing out twice.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "testutil.h"

enum { NFAKES = 3 };

typedef struct fixture {
    nr_mock fake[NFAKES];
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_manager_options mo;
    nr_manager *m;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    for (int i = 0; i < NFAKES; i++)
        nr_mock_init(&f->fake[i]);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    f->cfg.weight = 1;
    nr_pool_config_default(&f->pcfg);
    f->pcfg.max_size = 3;
    nr_manager_options_default(&f->mo);
    f->mo.maintain_interval_ms = 0; /* the tests drive the rounds with nr_manager_tick */
    f->mo.health_interval_ms = 0;
    f->mo.workers = 2;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->m) {
        nr_error err = {0};
        if (nr_manager_destroy(f->m, &err) != NR_OK)
            fail_msg("nr_manager_destroy: %s", err.message);
    }
    for (int i = 0; i < NFAKES; i++)
        assert_int_equal(atomic_load(&f->fake[i].creates), atomic_load(&f->fake[i].destroys));
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
    return 0;
}

static nr_resource_spec spec_of(fixture *f, const char *id, int fake)
{
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = id, .type = &nr_mock_type, .type_ud = &f->fake[fake],
                         .config = &f->cfg, .pool = &f->pcfg);
    return s;
}

static void up(fixture *f, const char *id)
{
    nr_error err = {0};
    if (nr_manager_create(&f->m, &f->mo, &err) != NR_OK)
        fail_msg("create: %s", err.message);
    nr_resource_spec s = spec_of(f, id, 0);
    if (nr_manager_register(f->m, &s, &err) != NR_OK)
        fail_msg("register: %s", err.message);
    if (nr_manager_start(f->m, nr_deadline_in_ms(5000), &err) != NR_OK)
        fail_msg("start: %s", err.message);
}

static int reload(fixture *f, const char *id, nr_reload_report *rep, nr_error *err)
{
    nr_resource_spec s = spec_of(f, id, 0);
    return nr_manager_reload(f->m, &s, rep, err);
}

static nr_resource_info info(fixture *f, const char *id)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(f->m, id, &i, &err) != NR_OK)
        fail_msg("info %s: %s", id, err.message);
    return i;
}

static int64_t weight_of(nr_guard *g)
{
    return ((nr_mock_handle *)nr_guard_handle(g))->weight;
}

/* The same spec: nothing to do. Sizes only: applied to the running pool,
 * which keeps its instances. */
static void test_unchanged_and_in_place(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 1;
    up(f, "db");
    nr_reload_report rep;
    nr_error err = {0};
    assert_int_equal(reload(f, "db", &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_UNCHANGED);
    f->pcfg.max_size = 5;
    f->pcfg.min_idle = 2;
    assert_int_equal(reload(f, "db", &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_IN_PLACE);
    assert_string_equal(rep.changes, "pool.min_idle 1 -> 2, pool.max_size 3 -> 5");
    nr_resource_info i = info(f, "db");
    assert_int_equal(i.stats.max_size, 5);
    assert_int_equal(i.stats.destroys, 0); /* nothing was replaced */
    nr_manager_tick(f->m);                 /* min_idle 2 now */
    assert_int_equal(info(f, "db").stats.idle, 2);
}

/* A config change: a new pool takes over at once; a lease held across the
 * reload stays the caller's and its instance is destroyed when given back;
 * the old pool is freed by the next round. */
static void test_new_pool_takes_over_and_old_drains(void **state)
{
    fixture *f = *state;
    nr_event_bus *bus = NULL;
    assert_int_equal(nr_event_bus_create(&bus, 256, NULL), NR_OK);
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_subscribe(bus, &sub, NULL), NR_OK);
    f->mo.events = bus;
    up(f, "db");
    nr_guard held = NR_GUARD_INIT, g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &held, &err), NR_OK);
    assert_int_equal(weight_of(&held), 1);
    f->cfg.weight = 2;
    f->pcfg.idle_timeout_ms = 12345;
    nr_reload_report rep;
    assert_int_equal(reload(f, "db", &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_NEW_POOL);
    assert_string_equal(rep.changes, "config, pool.idle_timeout_ms");
    assert_int_equal(rep.drained_pools, 1);
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(weight_of(&g), 2);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    /* the lease from before is still good, and goes with its pool */
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&held))->magic, NR_MOCK_MAGIC);
    long live = atomic_load(&f->fake[0].live);
    assert_int_equal(nr_guard_release(&held), NR_OK);
    assert_int_equal(atomic_load(&f->fake[0].live), live - 1);
    nr_manager_tick(f->m);
    /* only the new pool is counted */
    nr_resource_info i = info(f, "db");
    assert_int_equal(i.pools, 1);
    assert_int_equal(i.stats.in_use, 0);
    int reloaded = 0;
    nr_event ev;
    while (nr_event_next(sub, &ev, NULL, nr_deadline_in_ns(0)) == NR_OK)
        if (ev.type == NR_EV_RELOADED) {
            reloaded++;
            assert_string_equal(ev.resource_id, "db");
            assert_int_equal(ev.count, NR_RELOAD_NEW_POOL);
            assert_string_equal(ev.text, "new pool: config, pool.idle_timeout_ms");
        }
    assert_int_equal(reloaded, 1);
    assert_int_equal(nr_manager_destroy(f->m, &err), NR_OK);
    f->m = NULL;
    nr_event_unsubscribe(sub);
    nr_event_bus_destroy(bus);
}

/* The new pool cannot be made: the old one stays and serves, and the error
 * is the create's own. */
static void test_failed_new_pool_keeps_the_old(void **state)
{
    fixture *f = *state;
    up(f, "db");
    atomic_store(&f->fake[0].fail_create, 1);
    f->cfg.weight = 7;
    nr_reload_report rep;
    nr_error err = {0};
    assert_int_equal(reload(f, "db", &rep, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "reload failed, the old pool stays");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "mock create refused");
    assert_int_equal(rep.kind, NR_RELOAD_UNCHANGED);
    atomic_store(&f->fake[0].fail_create, 0);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(weight_of(&g), 1); /* the old config */
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

/* What cannot change by reload is refused by name; bad values as register
 * refuses them; the resource is left as it was. */
static void test_refused_changes(void **state)
{
    fixture *f = *state;
    up(f, "db");
    nr_error err = {0};
    nr_resource_spec s = spec_of(f, "db", 1);
    assert_int_equal(nr_manager_reload(f->m, &s, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource 'db': type_ud cannot change by reload");
    s = spec_of(f, "db", 0);
    s.credential_ref = "db/pw";
    assert_int_equal(nr_manager_reload(f->m, &s, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "credential_ref cannot change by reload");
    NR_ASSERT_ERR(err, NR_EINVAL, "rotate the credential");
    s = spec_of(f, "db", 0);
    const char *deps[] = {"other"};
    s.depends_on = deps;
    s.ndepends = 1;
    assert_int_equal(nr_manager_reload(f->m, &s, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "depends_on cannot change by reload");
    s = spec_of(f, "db", 0);
    s.partition = NR_PARTITION_TENANT;
    assert_int_equal(nr_manager_reload(f->m, &s, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "partition cannot change by reload");
    f->pcfg.max_size = 0;
    assert_int_equal(reload(f, "db", NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.pool.max_size");
    f->pcfg.max_size = 3;
    s = spec_of(f, "nope", 0);
    assert_int_equal(nr_manager_reload(f->m, &s, NULL, &err), NR_ENOTFOUND);
    assert_int_equal(info(f, "db").stats.max_size, 3);
}

/* Before the start, a reload replaces what is recorded. */
static void test_reload_before_start_is_recorded(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    assert_int_equal(nr_manager_create(&f->m, &f->mo, &err), NR_OK);
    nr_resource_spec s = spec_of(f, "db", 0);
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    f->cfg.weight = 9;
    nr_reload_report rep;
    assert_int_equal(reload(f, "db", &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_RECORDED);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(weight_of(&g), 9);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

/* ---- under load ---- */

typedef struct load {
    fixture *f;
    atomic_int stop;
    atomic_long ok, failed;
    char first_error[NR_ERROR_MESSAGE_MAX];
    pthread_mutex_t mu;
} load;

static void *worker(void *arg)
{
    load *l = arg;
    while (!atomic_load(&l->stop)) {
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
        if (nr_manager_acquire(l->f->m, "db", &ctx, &g, &err) != NR_OK) {
            pthread_mutex_lock(&l->mu);
            if (!l->first_error[0])
                snprintf(l->first_error, sizeof(l->first_error), "%s", err.message);
            pthread_mutex_unlock(&l->mu);
            atomic_fetch_add(&l->failed, 1);
            continue;
        }
        nr_mock_handle *h = nr_guard_handle(&g);
        if (h->magic != NR_MOCK_MAGIC || atomic_fetch_add(&h->holders, 1) != 0)
            atomic_fetch_add(&l->failed, 1000000); /* handed out twice, or dead */
        atomic_fetch_sub(&h->holders, 1);
        nr_guard_release(&g);
        atomic_fetch_add(&l->ok, 1);
    }
    return NULL;
}

/* Four threads acquire and release while the resource is reloaded again and
 * again, alternately with a new config (a new pool) and new sizes (in place),
 * with maintenance rounds between: no acquire fails, no instance is handed
 * out twice, and every create is matched by a destroy at the end. */
static void test_reloads_under_load_lose_nothing(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 1;
    f->pcfg.max_size = 2;
    up(f, "db");
    load l = {.f = f};
    pthread_mutex_init(&l.mu, NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &l), 0);
    int rounds = nr_test_iterations(60);
    int fresh = 0;
    for (int r = 0; r < rounds; r++) {
        nr_reload_report rep;
        nr_error err = {0};
        if (r % 2 == 0) {
            f->cfg.weight = r + 2;
        } else if (r % 4 == 1) {
            f->pcfg.max_size = f->pcfg.max_size == 2 ? 3 : 2;
        } else { /* timeouts and checks, in place while the workers read them */
            f->pcfg.acquire_timeout_ms = f->pcfg.acquire_timeout_ms == 30000 ? 20000 : 30000;
            f->pcfg.validate_on_acquire = !f->pcfg.validate_on_acquire;
            f->pcfg.validate_bypass_ms = f->pcfg.validate_bypass_ms ? 0 : 500;
            f->pcfg.leak_threshold_ms = f->pcfg.leak_threshold_ms ? 0 : 600000;
        }
        int rc = reload(f, "db", &rep, &err);
        if (rc != NR_OK)
            fail_msg("reload %d: %s", r, err.message);
        fresh += rep.kind == NR_RELOAD_NEW_POOL;
        nr_manager_tick(f->m);
        nr_sleep_ns(NR_NS_PER_MS);
    }
    atomic_store(&l.stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    if (atomic_load(&l.failed))
        fail_msg("%ld failed acquire(s) during reloads; the first: %s", atomic_load(&l.failed),
                 l.first_error);
    assert_true(atomic_load(&l.ok) > 0);
    assert_int_equal(fresh, (rounds + 1) / 2);
    nr_manager_tick(f->m); /* quiet now: the old pools are freed */
    nr_error err = {0};
    assert_int_equal(nr_manager_shutdown(f->m, NULL, NULL, &err), NR_OK);
    pthread_mutex_destroy(&l.mu);
}

/* Timeouts and checks change in place: the running pool keeps its
 * instances and acts on the new values at once. */
static void test_timeouts_change_in_place(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    f->pcfg.acquire_timeout_ms = 0; /* no waiting: NR_EEXHAUSTED at once */
    up(f, "db");
    nr_guard g = NR_GUARD_INIT, h = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX_INIT; /* no deadline of its own: the pool's acquire_timeout_ms */
    assert_int_equal(nr_manager_acquire(f->m, "db", &ctx, &g, &err), NR_OK);
    assert_int_equal(nr_manager_acquire(f->m, "db", &ctx, &h, &err), NR_EEXHAUSTED);
    long creates = atomic_load(&f->fake[0].creates);
    f->pcfg.acquire_timeout_ms = 50;
    f->pcfg.validate_on_acquire = false;
    f->pcfg.create_timeout_ms = 1000;
    nr_reload_report rep;
    assert_int_equal(reload(f, "db", &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_IN_PLACE);
    assert_non_null(strstr(rep.changes, "pool.acquire_timeout_ms"));
    assert_non_null(strstr(rep.changes, "pool.validate_on_acquire"));
    assert_non_null(strstr(rep.changes, "pool.create_timeout_ms"));
    assert_int_equal(rep.drained_pools, 0);
    /* now it waits (50 ms) before it gives up */
    assert_int_equal(nr_manager_acquire(f->m, "db", &ctx, &h, &err), NR_ETIMEDOUT);
    nr_guard_release(&g);
    long validates = atomic_load(&f->fake[0].validates);
    assert_int_equal(nr_manager_acquire(f->m, "db", &ctx, &g, &err), NR_OK);
    assert_int_equal(atomic_load(&f->fake[0].validates), validates); /* validate is off now */
    nr_guard_release(&g);
    assert_int_equal(atomic_load(&f->fake[0].creates), creates); /* the same instance */
    /* max_connecting sizes the creator: that one needs a new pool */
    f->pcfg.max_connecting = 3;
    assert_int_equal(reload(f, "db", &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_NEW_POOL);
    assert_non_null(strstr(rep.changes, "pool.max_connecting"));
}

/* Health settings change in place: a new pipeline judges the next round. */
static void test_health_changes_in_place(void **state)
{
    fixture *f = *state;
    up(f, "db");
    nr_health_config hc;
    nr_health_config_default(&hc);
    hc.nstages = 2;
    snprintf(hc.stages[1], sizeof(hc.stages[1]), "utilization");
    nr_resource_spec s = spec_of(f, "db", 0);
    s.health = &hc;
    nr_reload_report rep;
    nr_error err = {0};
    long creates = atomic_load(&f->fake[0].creates);
    if (nr_manager_reload(f->m, &s, &rep, &err) != NR_OK)
        fail_msg("reload: %s", err.message);
    assert_int_equal(rep.kind, NR_RELOAD_IN_PLACE);
    assert_non_null(strstr(rep.changes, "health"));
    nr_manager_tick(f->m); /* a round of the new pipeline */
    nr_health_round_result res;
    assert_int_equal(nr_manager_health_stages(f->m, "db", &res, &err), NR_OK);
    assert_int_equal(res.nstages, 2);
    assert_string_equal(res.stages[1].name, "utilization");
    assert_int_equal(atomic_load(&f->fake[0].creates), creates);
    /* the same again: nothing to do */
    assert_int_equal(nr_manager_reload(f->m, &s, &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_UNCHANGED);
    /* a bad one is refused by field, and nothing changes */
    snprintf(hc.stages[1], sizeof(hc.stages[1]), "no-such-stage");
    assert_int_equal(nr_manager_reload(f->m, &s, &rep, &err), NR_ECONFIG);
    assert_non_null(strstr(err.message, "$.health"));
    assert_int_equal(nr_manager_health_stages(f->m, "db", &res, &err), NR_OK);
    assert_string_equal(res.stages[1].name, "utilization");
    nr_manager_tick(f->m); /* quiet: the old pipeline is freed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unchanged_and_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_pool_takes_over_and_old_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_new_pool_keeps_the_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_before_start_is_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reloads_under_load_lose_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts_change_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_changes_in_place, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

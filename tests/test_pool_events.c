/*
 * test_pool_events.c - the pool's Destroyed, Timeout and PoolExhausted
 * events, made to happen one at a time and read back from an event bus with
 * every field nebula/events.h documents for them: type, resource id, scope
 * text, instance id, count, wait and error code, and the order they come in.
 *
 * Waits are checked against the pool's own statistics and against the
 * duration the test measured around the call (an upper bound), never
 * against a wall-clock expectation.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "nebula/pool.h"
#include "testutil.h"

#define EVS_MAX 256

typedef struct evs {
    nr_event ev[EVS_MAX];
    size_t n;
} evs;

typedef struct world {
    nr_mock fake;
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_event_bus *bus;
    nr_event_sub *sub;
    nr_pool *pool;
    evs got;
} world;

static int setup(void **state)
{
    world *w = calloc(1, sizeof(*w));
    nr_mock_init(&w->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &w->cfg, NULL), NR_OK);
    nr_pool_config_default(&w->pcfg);
    assert_int_equal(nr_event_bus_create(&w->bus, 1024, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(w->bus, &w->sub, NULL), NR_OK);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    if (w->pool)
        assert_int_equal(nr_pool_destroy(w->pool, NULL), NR_OK);
    nr_event_unsubscribe(w->sub);
    assert_int_equal(nr_event_bus_destroy(w->bus), NR_OK);
    assert_int_equal(atomic_load(&w->fake.creates), atomic_load(&w->fake.destroys));
    assert_int_equal(atomic_load(&w->fake.live), 0);
    nr_config_free(&nr_mock_config_schema, &w->cfg);
    free(w);
    return 0;
}

/* A pool "db" at tenant:acme publishing into the bus. */
static void make_pool(world *w)
{
    nr_scope acme;
    nr_scope_make(&acme, "acme", NULL, NULL, NULL, NULL);
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = "db", .type = &nr_mock_type, .type_ud = &w->fake, .config = &w->cfg,
                        .pool = &w->pcfg, .scope = &acme, .events = w->bus);
    nr_error err = {0};
    if (nr_pool_create(&w->pool, &o, &err) != NR_OK)
        fail_msg("nr_pool_create: %s", err.message);
}

/* Append every event published so far (a publisher's events are in the ring
 * once its call returned) to w->got; none may be lost. Returns the index of
 * the first one appended. */
static size_t collect(world *w)
{
    size_t first = w->got.n;
    for (;;) {
        nr_event ev;
        uint64_t missed = 0;
        int rc = nr_event_next(w->sub, &ev, &missed, nr_deadline_in_ns(0));
        assert_int_equal(missed, 0);
        if (rc != NR_OK)
            break;
        assert_true(w->got.n < EVS_MAX);
        w->got.ev[w->got.n++] = ev;
    }
    return first;
}

/* The events of type t in got[from..], how many, and the first one's index. */
static size_t count_of(const world *w, size_t from, nr_event_type t, size_t *first)
{
    size_t n = 0;
    for (size_t i = from; i < w->got.n; i++)
        if (w->got.ev[i].type == t && n++ == 0 && first)
            *first = i;
    return n;
}

static void assert_pool_fields(const nr_event *ev, nr_event_type type)
{
    assert_int_equal(ev->type, type);
    assert_string_equal(ev->resource_id, "db");
    assert_string_equal(ev->scope, "tenant:acme");
    assert_int_equal(ev->flags, 0);
}

static nr_guard lease(world *w)
{
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
    nr_error err = {0};
    if (nr_pool_acquire(w->pool, &ctx, &g, &err) != NR_OK)
        fail_msg("acquire: %s", err.message);
    return g;
}

static uint64_t instance_of(const nr_guard *g)
{
    nr_instance_info ii;
    assert_int_equal(nr_guard_info(g, &ii), NR_OK);
    return ii.id;
}

/* ---- PoolExhausted ---- */

/* Below max_size nothing is exhausted: an acquire that finds nothing idle
 * waits on the creator (or, with no time to wait, is refused while one is
 * made), and publishes no PoolExhausted. */
static void test_not_exhausted_below_max(void **state)
{
    world *w = *state;
    w->pcfg.max_size = 2;
    w->pcfg.min_idle = 0;
    make_pool(w);
    nr_guard a = lease(w); /* waited for the creator */
    nr_guard b = NR_GUARD_INIT;
    nr_ctx now = NR_CTX(.deadline = nr_deadline_in_ns(0));
    nr_error err = {0};
    int rc = nr_pool_acquire(w->pool, &now, &b, &err); /* nothing idle, room for one */
    if (rc == NR_OK)
        assert_int_equal(nr_guard_release(&b), NR_OK); /* the creator was quick */
    else
        assert_int_equal(rc, NR_EEXHAUSTED);
    collect(w);
    assert_int_equal(count_of(w, 0, NR_EV_POOL_EXHAUSTED, NULL), 0);
    assert_true(count_of(w, 0, NR_EV_ACQUIRED, NULL) >= 1);
    assert_int_equal(nr_guard_release(&a), NR_OK);
}

static void test_exhausted_at_max_without_waiting(void **state)
{
    world *w = *state;
    w->pcfg.max_size = 1;
    w->pcfg.acquire_timeout_ms = 0; /* no wait: NR_EEXHAUSTED at once */
    make_pool(w);
    assert_int_equal(nr_pool_prime(w->pool, 1, nr_deadline_in_ms(5000), NULL), NR_OK);
    nr_guard a = lease(w);
    size_t from = collect(w);
    assert_int_equal(count_of(w, from, NR_EV_POOL_EXHAUSTED, NULL), 0); /* one was idle */

    nr_guard b = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(w->pool, NULL, &b, &err), NR_EEXHAUSTED);
    from = collect(w);
    assert_int_equal(w->got.n - from, 1); /* that failed acquire published one event */
    const nr_event *ev = &w->got.ev[from];
    assert_pool_fields(ev, NR_EV_POOL_EXHAUSTED);
    assert_int_equal(ev->count, 1); /* max_size */
    assert_int_equal(ev->wait_ns, 0);
    assert_int_equal(ev->error_code, NR_EEXHAUSTED);
    assert_int_equal(ev->instance_id, 0);
    assert_string_equal(ev->text, "");

    /* count is max_size as it is now: grow the pool, fill it, ask again */
    assert_int_equal(nr_pool_resize(w->pool, 0, 2, NULL), NR_OK);
    assert_int_equal(nr_pool_prime(w->pool, 1, nr_deadline_in_ms(5000), NULL), NR_OK);
    nr_guard c = lease(w);
    collect(w);
    assert_int_equal(nr_pool_acquire(w->pool, NULL, &b, &err), NR_EEXHAUSTED);
    from = collect(w);
    assert_int_equal(w->got.n - from, 1);
    assert_pool_fields(&w->got.ev[from], NR_EV_POOL_EXHAUSTED);
    assert_int_equal(w->got.ev[from].count, 2);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(w->pool, &st);
    assert_int_equal(st.exhausted, 2);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(nr_guard_release(&c), NR_OK);
}

/* ---- Timeout (and the PoolExhausted that follows it) ---- */

static void test_timeout_after_waiting_at_max(void **state)
{
    world *w = *state;
    w->pcfg.max_size = 1;
    make_pool(w);
    assert_int_equal(nr_pool_prime(w->pool, 1, nr_deadline_in_ms(5000), NULL), NR_OK);
    nr_guard a = lease(w); /* idle: no wait */
    uint64_t held = instance_of(&a);
    collect(w);

    nr_guard b = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(20));
    int64_t t0 = nr_now_ns();
    assert_int_equal(nr_pool_acquire(w->pool, &ctx, &b, &err), NR_ETIMEDOUT);
    int64_t took = nr_now_ns() - t0;
    size_t from = collect(w);

    /* Timeout first, then PoolExhausted, both from this call and nothing else */
    assert_int_equal(w->got.n - from, 2);
    const nr_event *to = &w->got.ev[from], *ex = &w->got.ev[from + 1];
    assert_pool_fields(to, NR_EV_TIMEOUT);
    assert_true(to->seq < ex->seq);
    assert_int_equal(to->instance_id, 0);
    assert_int_equal(to->count, 0);
    assert_int_equal(to->error_code, NR_ETIMEDOUT);
    assert_true(to->wait_ns > 0);
    assert_true(to->wait_ns <= took);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(w->pool, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.waits, 1);
    assert_int_equal(to->wait_ns, st.wait_ns_total); /* the pool's only wait */

    assert_pool_fields(ex, NR_EV_POOL_EXHAUSTED);
    assert_int_equal(ex->count, 1);
    assert_int_equal(ex->wait_ns, to->wait_ns);
    assert_int_equal(ex->error_code, NR_ETIMEDOUT);
    assert_int_equal(ex->instance_id, 0);

    /* the lease that was in the way is untouched */
    assert_int_equal(instance_of(&a), held);
    assert_int_equal(nr_guard_release(&a), NR_OK);
}

/* ---- Destroyed ---- */

static void test_destroyed_for_every_way_out(void **state)
{
    world *w = *state;
    w->pcfg.max_size = 4;
    make_pool(w);
    assert_int_equal(nr_pool_prime(w->pool, 3, nr_deadline_in_ms(5000), NULL), NR_OK);

    /* tainted: Released ("tainted"), then Destroyed, on the releasing thread */
    nr_guard g = lease(w);
    uint64_t tainted = instance_of(&g);
    collect(w);
    assert_int_equal(nr_guard_taint(&g), NR_OK);
    size_t from = collect(w);
    assert_int_equal(w->got.n - from, 2);
    assert_pool_fields(&w->got.ev[from], NR_EV_RELEASED);
    assert_string_equal(w->got.ev[from].text, "tainted");
    const nr_event *ev = &w->got.ev[from + 1];
    assert_pool_fields(ev, NR_EV_DESTROYED);
    assert_int_equal(ev->instance_id, tainted);
    assert_int_equal(ev->count, 0);
    assert_int_equal(ev->wait_ns, 0);
    assert_int_equal(ev->error_code, NR_OK);
    assert_string_equal(ev->text, "");

    /* detached: Destroyed with text "detached" (gone from the pool; the
     * caller destroys the handle) */
    g = lease(w);
    uint64_t detached = instance_of(&g);
    collect(w);
    void *handle = NULL;
    assert_int_equal(nr_guard_detach(&g, &handle), NR_OK);
    from = collect(w);
    size_t at = 0;
    assert_int_equal(count_of(w, from, NR_EV_DESTROYED, &at), 1);
    assert_pool_fields(&w->got.ev[at], NR_EV_DESTROYED);
    assert_int_equal(w->got.ev[at].instance_id, detached);
    assert_string_equal(w->got.ev[at].text, "detached");
    nr_mock_type.destroy(handle, &w->fake);

    /* failed its health check: Destroyed, then CleanedUp naming it */
    atomic_store(&w->fake.health, NR_HEALTH_UNHEALTHY);
    nr_pool_health_report rep;
    assert_int_equal(nr_pool_check_health(w->pool, 5 * NR_NS_PER_S, &rep, NULL), NR_OK);
    assert_int_equal(rep.discarded, 1);
    atomic_store(&w->fake.health, NR_HEALTH_HEALTHY);
    from = collect(w);
    assert_int_equal(w->got.n - from, 2);
    ev = &w->got.ev[from];
    assert_pool_fields(ev, NR_EV_DESTROYED);
    uint64_t unhealthy = ev->instance_id;
    assert_true(unhealthy != 0 && unhealthy != tainted && unhealthy != detached);
    assert_pool_fields(&w->got.ev[from + 1], NR_EV_CLEANED_UP);
    assert_int_equal(w->got.ev[from + 1].instance_id, unhealthy);
    assert_int_equal(w->got.ev[from + 1].count, 1);
    assert_int_equal(w->got.ev[from + 1].error_code, NR_EHEALTH);

    /* closed: one Destroyed per idle instance */
    assert_int_equal(nr_pool_prime(w->pool, 2, nr_deadline_in_ms(5000), NULL), NR_OK);
    collect(w);
    nr_pool_close(w->pool);
    assert_int_equal(nr_pool_drain(w->pool, nr_deadline_in_ms(5000), NULL), NR_OK);
    from = collect(w);
    assert_int_equal(count_of(w, from, NR_EV_DESTROYED, NULL), 2);
    assert_int_equal(w->got.n - from, 2);

    /* every instance created was destroyed once, and told so once */
    size_t created = 0;
    for (size_t i = 0; i < w->got.n; i++) {
        if (w->got.ev[i].type != NR_EV_CREATED)
            continue;
        created++;
        size_t told = 0;
        for (size_t k = 0; k < w->got.n; k++)
            if (w->got.ev[k].type == NR_EV_DESTROYED &&
                w->got.ev[k].instance_id == w->got.ev[i].instance_id) {
                assert_true(k > i);
                told++;
            }
        assert_int_equal(told, 1);
    }
    assert_int_equal(created, 5);
    assert_int_equal(count_of(w, 0, NR_EV_DESTROYED, NULL), 5);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(w->pool, &st);
    assert_int_equal(st.destroys + st.detached, 5);
}

/* ---- through the manager: a tenant pool's events name the resource ---- */

static void test_manager_tenant_pool_events(void **state)
{
    world *w = *state;
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = mo.health_interval_ms = 0;
    mo.events = w->bus;
    nr_manager *m;
    assert_int_equal(nr_manager_create(&m, &mo, NULL), NR_OK);
    w->pcfg.max_size = 1;
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &w->fake, .config = &w->cfg,
                         .pool = &w->pcfg, .partition = NR_PARTITION_TENANT);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_scope acme_run;
    nr_scope_make(&acme_run, "acme", "billing", NULL, NULL, NULL);
    nr_ctx ctx = NR_CTX(.scope = &acme_run, .deadline = nr_deadline_in_ms(5000));
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(m, "db", &ctx, &a, &err), NR_OK);
    uint64_t held = instance_of(&a);
    collect(w);

    /* acme's pool is at its max: a caller that may not wait, then one that waits */
    ctx.deadline = nr_deadline_in_ns(0);
    assert_int_equal(nr_manager_acquire(m, "db", &ctx, &b, &err), NR_EEXHAUSTED);
    ctx.deadline = nr_deadline_in_ms(10);
    assert_int_equal(nr_manager_acquire(m, "db", &ctx, &b, &err), NR_ETIMEDOUT);
    assert_int_equal(nr_guard_taint(&a), NR_OK);
    size_t from = collect(w);
    nr_event_type want[] = {NR_EV_POOL_EXHAUSTED, NR_EV_TIMEOUT, NR_EV_POOL_EXHAUSTED,
                            NR_EV_RELEASED, NR_EV_DESTROYED};
    assert_int_equal(w->got.n - from, 5);
    for (size_t i = 0; i < 5; i++) {
        const nr_event *ev = &w->got.ev[from + i];
        assert_int_equal(ev->type, want[i]);
        assert_string_equal(ev->resource_id, "db");
        assert_string_equal(ev->scope, "tenant:acme"); /* the tenant pool's scope */
    }
    assert_int_equal(w->got.ev[from].count, 1);
    assert_int_equal(w->got.ev[from].error_code, NR_EEXHAUSTED);
    assert_true(w->got.ev[from + 1].wait_ns > 0);
    assert_int_equal(w->got.ev[from + 2].wait_ns, w->got.ev[from + 1].wait_ns);
    assert_int_equal(w->got.ev[from + 4].instance_id, held);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_exhausted_below_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_at_max_without_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_after_waiting_at_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroyed_for_every_way_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manager_tenant_pool_events, setup, teardown),
    };
    return cmocka_run_group_tests_name("pool_events", tests, NULL, NULL);
}

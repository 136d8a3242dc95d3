/*
 * test_manager_cancel.c - stopping the manager's work early: a start given
 * a cancel token (nr_manager_start_ctx) that is set while a create runs
 * stops, undoes what it did and says NR_ECANCELED; a health round
 * (nr_manager_tick or a background one) that shutdown begins under stops at
 * its next step and records nothing.
 *
 * The fake's on_call hook holds one chosen callback (the first create, or a
 * check of one given instance) until the test lets it go, so that the test knows which step the
 * work is in when it acts; the assertions are about which callbacks ran and
 * in what order, never about how long anything took.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

/* A bound on every wait of this file (10 s in 1 ms steps): a lost wake-up
 * fails the test instead of hanging it. */
#define WAIT_STEPS 10000

typedef struct world {
    nr_mock fake;  /* every test's first resource */
    nr_mock other; /* a second one, for "app" */
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_manager_options mo;
    nr_manager *m;
    /* the gate in on_call */
    atomic_ullong hold_serial; /* hold the check of this instance (0: none) */
    atomic_int held;           /* that check has begun */
    atomic_int after;          /* checks begun after it */
    atomic_int open;           /* let it go */
    atomic_int hold_create;    /* hold the first create from now on */
    atomic_int create_held;    /* it has begun */
} world;

static void hold(world *w)
{
    for (int i = 0; i < WAIT_STEPS && !atomic_load(&w->open); i++)
        nr_sleep_ns(NR_NS_PER_MS);
}

static void on_call(const char *what, void *arg)
{
    world *w = arg;
    if (strcmp(what, "create") == 0 && atomic_load(&w->hold_create) &&
        !atomic_exchange(&w->create_held, 1))
        hold(w);
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
    hold(w);
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
    nr_mock_init(&w->fake);
    nr_mock_init(&w->other);
    w->fake.on_call = on_call;
    w->fake.on_call_arg = w;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &w->cfg, NULL), NR_OK);
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
    assert_int_equal(atomic_load(&w->other.creates), atomic_load(&w->other.destroys));
    assert_int_equal(atomic_load(&w->other.live), 0);
    nr_config_free(&nr_mock_config_schema, &w->cfg);
    free(w);
    return 0;
}

static void start_partitioned(world *w)
{
    assert_int_equal(nr_manager_create(&w->m, &w->mo, NULL), NR_OK);
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "cache", .type = &nr_mock_type, .type_ud = &w->fake,
                         .config = &w->cfg, .pool = &w->pcfg, .partition = NR_PARTITION_TENANT);
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
    nr_ctx ctx = NR_CTX(.scope = &s, .deadline = nr_deadline_in_ms(5000));
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
        serial = ((nr_mock_handle *)nr_guard_handle(&g))->serial;
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

/* ---- a start with a cancel token ---- */

static nr_resource_info info(world *w, const char *id)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(w->m, id, &i, &err) != NR_OK)
        fail_msg("info %s: %s", id, err.message);
    return i;
}

/* "db" on w->fake with min_idle, and "app" on w->other, which needs db. */
static void register_db_and_app(world *w, int64_t min_idle)
{
    assert_int_equal(nr_manager_create(&w->m, &w->mo, NULL), NR_OK);
    nr_pool_config db_pool = w->pcfg;
    db_pool.max_size = 3;
    db_pool.min_idle = min_idle;
    const char *needs_db[] = {"db"};
    nr_resource_spec db = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &w->fake,
                                           .config = &w->cfg, .pool = &db_pool);
    nr_resource_spec app =
        NR_RESOURCE_SPEC(.id = "app", .type = &nr_mock_type, .type_ud = &w->other,
                         .config = &w->cfg, .pool = &w->pcfg, .depends_on = needs_db,
                         .ndepends = 1);
    assert_int_equal(nr_manager_register(w->m, &db, NULL), NR_OK);
    assert_int_equal(nr_manager_register(w->m, &app, NULL), NR_OK);
}

typedef struct start_call {
    world *w;
    pthread_t th;
    nr_ctx ctx;
    int rc;
    nr_error err;
} start_call;

static void *start_thread(void *arg)
{
    start_call *c = arg;
    c->rc = nr_manager_start_ctx(c->w->m, &c->ctx, &c->err);
    return NULL;
}

/* Run a start with token tok; set tok while the first create is held. */
static void start_canceled_in_first_create(world *w, nr_cancel *tok, start_call *c)
{
    atomic_store(&w->hold_create, 1);
    c->w = w;
    c->ctx = (nr_ctx)NR_CTX(.deadline = nr_deadline_in_ms(30000), .cancel = tok);
    assert_int_equal(pthread_create(&c->th, NULL, start_thread, c), 0);
    wait_flag(&w->create_held);
    nr_cancel_trigger(tok);
    atomic_store(&w->open, 1);
    assert_int_equal(pthread_join(c->th, NULL), 0);
}

static void test_start_canceled_between_creates(void **state)
{
    world *w = *state;
    register_db_and_app(w, 3);
    nr_cancel *tok;
    assert_int_equal(nr_cancel_create(&tok, NULL, NULL), NR_OK);
    start_call c;
    start_canceled_in_first_create(w, tok, &c);

    NR_ASSERT_ERR(c.err, NR_ECANCELED, "manager start canceled");
    assert_int_equal(c.rc, NR_ECANCELED);
    /* db's first create ran to its end; its other two never began; what it
     * made was destroyed before the start returned; app was never reached */
    assert_int_equal(atomic_load(&w->fake.create_calls), 1);
    assert_int_equal(atomic_load(&w->fake.creates), 1);
    assert_int_equal(atomic_load(&w->fake.destroys), 1);
    assert_int_equal(atomic_load(&w->fake.live), 0);
    assert_int_equal(atomic_load(&w->other.create_calls), 0);
    nr_resource_info i = info(w, "db");
    assert_int_equal(i.state, NR_RS_REGISTERED);
    assert_int_equal(i.pools, 0);
    NR_ASSERT_ERR(i.last_error, NR_ECANCELED, "start canceled (1 of 3 instance(s) created");
    assert_int_equal(info(w, "app").state, NR_RS_REGISTERED);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_manager_acquire(w->m, "app", NULL, &g, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "not running");
    nr_manager_tick(w->m); /* nothing runs: no round touches a resource not started */
    assert_int_equal(atomic_load(&w->fake.create_calls), 1);

    /* nothing was left started: a later start begins from scratch */
    atomic_store(&w->hold_create, 0);
    assert_int_equal(nr_manager_start_ctx(w->m, NULL, &err), NR_OK);
    assert_int_equal(info(w, "db").stats.idle, 3);
    assert_int_equal(nr_manager_acquire(w->m, "app", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_cancel_trigger(tok); /* after the start: changes nothing */
    assert_int_equal(info(w, "db").state, NR_RS_RUNNING);
    nr_cancel_destroy(tok);
}

static void test_start_canceled_in_its_last_create(void **state)
{
    world *w = *state;
    register_db_and_app(w, 0);
    w->other.on_call = on_call; /* app's create is the one held, the start's last */
    w->other.on_call_arg = w;
    w->fake.on_call = NULL;
    nr_cancel *tok;
    assert_int_equal(nr_cancel_create(&tok, NULL, NULL), NR_OK);
    start_call c;
    start_canceled_in_first_create(w, tok, &c);

    /* every create had run, yet the token was set before the start was
     * over: everything is stopped again and NR_ECANCELED comes back */
    NR_ASSERT_ERR(c.err, NR_ECANCELED, "2 started resource(s) stopped again, 0 not started");
    assert_int_equal(atomic_load(&w->fake.create_calls), 1);
    assert_int_equal(atomic_load(&w->other.create_calls), 1);
    assert_int_equal(atomic_load(&w->fake.live), 0);
    assert_int_equal(atomic_load(&w->other.live), 0);
    assert_int_equal(atomic_load(&w->other.destroys), 1);
    nr_resource_info i = info(w, "db");
    assert_int_equal(i.state, NR_RS_STOPPED);
    assert_int_equal(i.pools, 0); /* nothing is left of it */
    assert_int_equal(info(w, "app").state, NR_RS_STOPPED);
    assert_int_equal(info(w, "app").pools, 0);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(w->m, "db", NULL, &g, NULL), NR_ESHUTDOWN);

    /* so a later start begins afresh */
    atomic_store(&w->hold_create, 0);
    nr_error err = {0};
    assert_int_equal(nr_manager_start_ctx(w->m, NULL, &err), NR_OK);
    assert_int_equal(info(w, "db").pools, 1);
    assert_int_equal(nr_manager_acquire(w->m, "app", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_cancel_destroy(tok);
}

static void test_start_with_token_already_set(void **state)
{
    world *w = *state;
    register_db_and_app(w, 1);
    nr_cancel *tok;
    assert_int_equal(nr_cancel_create(&tok, NULL, NULL), NR_OK);
    nr_cancel_trigger(tok);
    nr_ctx ctx = NR_CTX(.cancel = tok);
    nr_error err = {0};
    assert_int_equal(nr_manager_start_ctx(w->m, &ctx, &err), NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, "0 started resource(s) stopped again, 2 not started");
    assert_int_equal(atomic_load(&w->fake.create_calls), 0);
    assert_int_equal(atomic_load(&w->other.create_calls), 0);
    assert_int_equal(info(w, "db").state, NR_RS_REGISTERED);
    /* a graph error is still found first */
    nr_resource_spec ghost =
        NR_RESOURCE_SPEC(.id = "ghost-user", .type = &nr_mock_type, .type_ud = &w->other,
                         .config = &w->cfg, .depends_on = (const char *const[]){"ghost"},
                         .ndepends = 1);
    assert_int_equal(nr_manager_register(w->m, &ghost, NULL), NR_OK);
    assert_int_equal(nr_manager_start_ctx(w->m, &ctx, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "'ghost', which is not registered");
    nr_cancel_destroy(tok);
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
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
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
        cmocka_unit_test_setup_teardown(test_start_canceled_between_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_canceled_in_its_last_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_with_token_already_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_stops_at_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_round_stops_at_shutdown, setup, teardown),
    };
    return cmocka_run_group_tests_name("manager_cancel", tests, NULL, NULL);
}

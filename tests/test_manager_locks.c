/*
 * test_manager_locks.c - the manager never holds its lock across a driver
 * callback, a failed start never waits for a caller's lease, and nothing a
 * start, an unregister or a shutdown leaves behind is kept for good.
 *
 * The driver callbacks are stopped at a gate the test opens, so "another
 * call goes on meanwhile" is a fact the test observes, not a timing. The
 * waits below are bounds for a call that should finish at once (10 s), not
 * measurements: each fails the test only when the call never comes back.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"
#include "testutil.h"

enum { NFAKES = 4, BOUND_MS = 10000 };

/* ---- a gate that stops a callback until the test opens it ---- */

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *what; /* the callback it stops: "create", "destroy" */
    int armed;        /* how many more calls it stops */
    int entered;      /* calls stopped so far */
    int open;
} gate;

static void gate_on_call(const char *what, void *arg);

static void gate_init(gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

/* Stop the next `armed` calls of the callback `what` of fake. */
static void gate_arm(gate *g, nr_mock *fake, const char *what, int armed)
{
    pthread_mutex_lock(&g->mu);
    g->what = what;
    g->armed = armed;
    g->entered = 0;
    g->open = 0;
    pthread_mutex_unlock(&g->mu);
    fake->on_call_arg = g;
    fake->on_call = gate_on_call;
}

static void gate_on_call(const char *what, void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->mu);
    if (g->armed > 0 && strcmp(what, g->what) == 0) {
        g->armed--;
        g->entered++;
        pthread_cond_broadcast(&g->cv);
        while (!g->open)
            pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

/* Whether n calls stopped at the gate within BOUND_MS. */
static int gate_reached(gate *g, int n)
{
    nr_deadline dl = nr_deadline_in_ms(BOUND_MS);
    pthread_mutex_lock(&g->mu);
    while (g->entered < n && !nr_deadline_expired(dl)) {
        pthread_mutex_unlock(&g->mu);
        nr_sleep_ns(NR_NS_PER_MS);
        pthread_mutex_lock(&g->mu);
    }
    int ok = g->entered >= n;
    pthread_mutex_unlock(&g->mu);
    return ok;
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

/* ---- a call on a thread of its own ---- */

typedef struct call {
    pthread_t t;
    int (*fn)(struct call *);
    nr_manager *m;
    const char *id;
    void *arg;
    nr_error err;
    int rc;
    atomic_int done;
} call;

static void *call_main(void *arg)
{
    call *c = arg;
    c->rc = c->fn(c);
    atomic_store(&c->done, 1);
    return NULL;
}

static void call_start(call *c, int (*fn)(call *), nr_manager *m, const char *id, void *arg)
{
    memset(c, 0, sizeof(*c));
    c->fn = fn;
    c->m = m;
    c->id = id;
    c->arg = arg;
    assert_int_equal(pthread_create(&c->t, NULL, call_main, c), 0);
}

/* Whether the call came back within BOUND_MS. */
static int call_returned(call *c)
{
    nr_deadline dl = nr_deadline_in_ms(BOUND_MS);
    while (!atomic_load(&c->done) && !nr_deadline_expired(dl))
        nr_sleep_ns(NR_NS_PER_MS);
    return atomic_load(&c->done);
}

static void call_join(call *c)
{
    pthread_join(c->t, NULL);
}

/* ---- the fixture ---- */

typedef struct fixture {
    nr_mock fake[NFAKES];
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_manager_options mo;
    nr_manager *m;
    gate gate; /* outlives the manager: a destroy at teardown may pass it */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    for (int i = 0; i < NFAKES; i++)
        nr_mock_init(&f->fake[i]);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    nr_pool_config_default(&f->pcfg);
    f->pcfg.max_size = 3;
    nr_manager_options_default(&f->mo);
    f->mo.maintain_interval_ms = 0; /* the tests drive the rounds with nr_manager_tick */
    f->mo.health_interval_ms = 0;
    f->mo.workers = 2;
    gate_init(&f->gate);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gate_open(&f->gate);
    if (f->m) {
        nr_error err = {0};
        if (nr_manager_destroy(f->m, &err) != NR_OK)
            fail_msg("nr_manager_destroy: %s", err.message);
    }
    for (int i = 0; i < NFAKES; i++)
        assert_int_equal(atomic_load(&f->fake[i].creates), atomic_load(&f->fake[i].destroys));
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    nr_set_allocator(NULL);
    gate_destroy(&f->gate);
    free(f);
    return 0;
}

static void make(fixture *f)
{
    nr_error err = {0};
    if (nr_manager_create(&f->m, &f->mo, &err) != NR_OK)
        fail_msg("nr_manager_create: %s", err.message);
}

static int reg_in(fixture *f, nr_manager *m, const char *id, int fake, const char *const *deps,
                  size_t ndeps, const char *cred, nr_error *err)
{
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = id, .type = &nr_mock_type, .type_ud = &f->fake[fake],
                         .config = &f->cfg, .pool = &f->pcfg, .depends_on = deps, .ndepends = ndeps,
                         .credential_ref = cred);
    return nr_manager_register(m, &s, err);
}

static int reg(fixture *f, const char *id, int fake, const char *const *deps, size_t ndeps)
{
    nr_error err = {0};
    int rc = reg_in(f, f->m, id, fake, deps, ndeps, NULL, &err);
    if (rc != NR_OK)
        fail_msg("register %s: %s", id, err.message);
    return rc;
}

static nr_resource_state state_of(fixture *f, const char *id)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(f->m, id, &i, &err) != NR_OK)
        fail_msg("info %s: %s", id, err.message);
    return i.state;
}

static int do_start(call *c)
{
    return nr_manager_start(c->m, nr_deadline_in_ms(30000), &c->err);
}

static int do_shutdown(call *c)
{
    nr_shutdown_options o = NR_SHUTDOWN_OPTIONS_INIT;
    nr_shutdown_options_default(&o);
    o.drain_timeout_ms = 1000;
    o.cleanup_timeout_ms = 1000;
    return nr_manager_shutdown(c->m, &o, NULL, &c->err);
}

static int do_register(call *c)
{
    fixture *f = c->arg;
    int fake = c->id[0] == 'b' ? 1 : 2;
    return reg_in(f, c->m, c->id, fake, NULL, 0, NULL, &c->err);
}

static int do_unregister(call *c)
{
    return nr_manager_unregister(c->m, c->id, nr_deadline_in_ms(BOUND_MS), &c->err);
}

static int do_rotate(call *c)
{
    return nr_manager_rotate_credential(c->m, c->id, &c->err);
}

/* ---- a start and a shutdown ---- */

/* A shutdown called while a start's create runs does not wait for the whole
 * start: it begins at once (new acquires fail with NR_ESHUTDOWN while the
 * create is still stopped), and the start stops at its next step, so the
 * creates that would have followed never run. */
static void test_shutdown_cuts_a_start_short(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 3; /* a start warms three, one after the other */
    gate *g = &f->gate;
    gate_arm(g, &f->fake[0], "create", 1);
    make(f);
    reg(f, "a", 0, NULL, 0);
    call start, stop;
    call_start(&start, do_start, f->m, NULL, NULL);
    assert_true(gate_reached(g, 1));
    call_start(&stop, do_shutdown, f->m, NULL, NULL);
    /* the shutdown has begun while the create is still stopped */
    int began = 0;
    nr_deadline dl = nr_deadline_in_ms(BOUND_MS);
    while (!began && !nr_deadline_expired(dl)) {
        nr_guard x = NR_GUARD_INIT;
        began = nr_manager_acquire(f->m, "a", NULL, &x, NULL) == NR_ESHUTDOWN;
        nr_sleep_ns(NR_NS_PER_MS);
    }
    gate_open(g);
    call_join(&start);
    call_join(&stop);
    assert_true(began);
    assert_int_equal(start.rc, NR_ESHUTDOWN);
    NR_ASSERT_ERR(start.err, NR_ESHUTDOWN, "shutting down");
    assert_int_equal(stop.rc, NR_OK);
    assert_int_equal(atomic_load(&f->fake[0].create_calls), 1);
}

/* ---- register, unregister and rotation around a driver callback ---- */

/* Registering after the start runs the new resource's first create; another
 * register and an unregister go on meanwhile. */
static void test_register_does_not_wait_for_another_create(void **state)
{
    fixture *f = *state;
    gate *g = &f->gate;
    gate_arm(g, &f->fake[1], "create", 1);
    make(f);
    reg(f, "a", 0, NULL, 0);
    nr_error err = {0};
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    call b, c, u;
    call_start(&b, do_register, f->m, "b", f);
    assert_true(gate_reached(g, 1));
    call_start(&c, do_register, f->m, "c", f);
    int c_back = call_returned(&c);
    call_start(&u, do_unregister, f->m, "a", NULL);
    int u_back = call_returned(&u);
    gate_open(g);
    call_join(&b);
    call_join(&c);
    call_join(&u);
    assert_true(c_back);
    assert_true(u_back);
    assert_int_equal(c.rc, NR_OK);
    assert_int_equal(u.rc, NR_OK);
    assert_int_equal(b.rc, NR_OK);
    assert_int_equal(state_of(f, "b"), NR_RS_RUNNING);
    assert_int_equal(state_of(f, "c"), NR_RS_RUNNING);
}

typedef struct vault {
    atomic_int version;
} vault;

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    vault *v = ud;
    (void)ref;
    return nr_secret_from_str(out, atomic_load(&v->version) == 1 ? "pw-1" : "pw-22", err);
}

/* A rotation destroys the idle instances the old secret made; a register
 * goes on while such a destroy runs. */
static void test_rotation_destroys_outside_the_lock(void **state)
{
    fixture *f = *state;
    vault v;
    atomic_init(&v.version, 1);
    nr_credential_provider cp = {.fetch = vault_fetch, .ud = &v};
    f->mo.credentials = &cp;
    f->pcfg.min_idle = 1;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg_in(f, f->m, "a", 0, NULL, 0, "a/pw", &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    gate *g = &f->gate;
    gate_arm(g, &f->fake[0], "destroy", 1);
    atomic_store(&v.version, 2);
    call rot, c;
    call_start(&rot, do_rotate, f->m, "a/pw", NULL);
    assert_true(gate_reached(g, 1));
    call_start(&c, do_register, f->m, "c", f);
    int c_back = call_returned(&c);
    gate_open(g);
    call_join(&rot);
    call_join(&c);
    assert_true(c_back);
    assert_int_equal(c.rc, NR_OK);
    assert_int_equal(rot.rc, NR_OK);
}

/* ---- a failed start and a caller's lease ---- */

/* b depends on a. While b's create is stopped, a caller leases from a, which
 * is running; then b's create fails. The start comes back at once with b's
 * error, a is stopped (its pool closed, the lease still the caller's), and
 * the instance is destroyed when it is given back. A second start, with b
 * working, starts both and leaks nothing of the first. */
static void test_failed_start_does_not_wait_for_a_lease(void **state)
{
    fixture *f = *state;
    gate *g = &f->gate;
    gate_arm(g, &f->fake[1], "create", 1);
    make(f);
    const char *deps[] = {"a"};
    reg(f, "a", 0, NULL, 0);
    reg(f, "b", 1, deps, 1);
    call start;
    call_start(&start, do_start, f->m, NULL, NULL);
    assert_true(gate_reached(g, 1));
    nr_guard lease = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_manager_acquire(f->m, "a", NULL, &lease, &err), NR_OK);
    atomic_store(&f->fake[1].fail_create, 1);
    gate_open(g);
    int back = call_returned(&start);
    if (!back) { /* unwind, then fail */
        nr_guard_release(&lease);
        call_join(&start);
        fail_msg("the start did not come back while a caller held a lease");
    }
    call_join(&start);
    assert_int_not_equal(start.rc, NR_OK);
    NR_ASSERT_ERR(start.err, start.rc, "resource 'b'");
    assert_int_equal(state_of(f, "a"), NR_RS_STOPPED);
    nr_guard x = NR_GUARD_INIT;
    assert_int_not_equal(nr_manager_acquire(f->m, "a", NULL, &x, NULL), NR_OK);
    /* the caller's instance is still its own, and goes when given back */
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&lease))->magic, NR_MOCK_MAGIC);
    assert_int_equal(nr_guard_release(&lease), NR_OK);
    assert_int_equal(atomic_load(&f->fake[0].live), 0);
    nr_manager_tick(f->m); /* frees the closed pool */

    atomic_store(&f->fake[1].fail_create, 0);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(nr_manager_acquire(f->m, "b", NULL, &x, &err), NR_OK);
    assert_int_equal(nr_guard_release(&x), NR_OK);
    assert_int_equal(state_of(f, "a"), NR_RS_RUNNING);
}

/* Out of memory at each allocation of a start, then a start that works, a
 * shutdown and a destroy: every allocation is given back and every create
 * matched by a destroy, whatever the first start left behind. */
static void test_retried_start_leaks_nothing(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 1;
    nr_test_alloc_install();
    const char *deps[] = {"a"};
    int finished = 0;
    for (long k = 0; !finished && k < 100000; k++) {
        long live0 = nr_test_alloc_live();
        make(f);
        reg(f, "a", 0, NULL, 0);
        reg(f, "b", 1, deps, 1);
        nr_error err = {0};
        nr_test_alloc_fail_after(k);
        int rc = nr_manager_start(f->m, nr_deadline_in_ms(5000), &err);
        nr_test_alloc_reset();
        if (rc == NR_OK) {
            finished = 1;
        } else {
            rc = nr_manager_start(f->m, nr_deadline_in_ms(5000), &err);
            if (rc != NR_OK)
                fail_msg("start after out of memory at allocation %ld: %s", k, err.message);
        }
        assert_int_equal(nr_manager_shutdown(f->m, NULL, NULL, &err), NR_OK);
        assert_int_equal(nr_manager_destroy(f->m, &err), NR_OK);
        f->m = NULL;
        for (int i = 0; i < 2; i++)
            if (atomic_load(&f->fake[i].creates) != atomic_load(&f->fake[i].destroys))
                fail_msg("out of memory at allocation %ld: %ld create(s), %ld destroy(s)", k,
                         atomic_load(&f->fake[i].creates), atomic_load(&f->fake[i].destroys));
        if (nr_test_alloc_live() != live0)
            fail_msg("out of memory at allocation %ld: %ld block(s) not freed", k,
                     nr_test_alloc_live() - live0);
    }
    assert_true(finished);
}

/* ---- what an unregister leaves ---- */

static long cycle(fixture *f, const char *id, int fake, int hold)
{
    reg(f, id, fake, NULL, 0);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_manager_acquire(f->m, id, NULL, &g, &err), NR_OK);
    if (hold) {
        assert_int_equal(nr_manager_unregister(f->m, id, nr_deadline_in_ms(5), &err), NR_ETIMEDOUT);
        assert_int_equal(nr_guard_release(&g), NR_OK);
    } else {
        assert_int_equal(nr_guard_release(&g), NR_OK);
        assert_int_equal(nr_manager_unregister(f->m, id, nr_deadline_in_ms(5000), &err), NR_OK);
    }
    nr_manager_tick(f->m);
    return nr_test_alloc_live();
}

/* A resource unregistered while a lease was out is freed once the lease is
 * back (by the next round), not kept until the manager is destroyed: memory
 * does not grow with every such unregister. */
static void test_timed_out_unregister_is_reclaimed(void **state)
{
    fixture *f = *state;
    nr_test_alloc_install();
    make(f);
    reg(f, "base", 3, NULL, 0);
    nr_error err = {0};
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    long clean = cycle(f, "x", 0, 0);
    long held = cycle(f, "y", 1, 1);
    long again = cycle(f, "z", 2, 1);
    assert_int_equal(held, clean);
    assert_int_equal(again, clean);
    assert_int_equal(atomic_load(&f->fake[1].live), 0);
}

/* An unregistered resource's series leave the exposition. */
static void test_unregister_removes_metric_series(void **state)
{
    fixture *f = *state;
    nr_metrics *reg_m = NULL;
    assert_int_equal(nr_metrics_create(&reg_m, NULL), NR_OK);
    f->mo.metrics = reg_m;
    make(f);
    reg(f, "gone", 0, NULL, 0);
    reg(f, "kept", 1, NULL, 0);
    nr_error err = {0};
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "gone", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(nr_metrics_format(reg_m, &text, &len, &err), NR_OK);
    assert_non_null(strstr(text, "resource=\"gone\""));
    nr_free(text);
    assert_int_equal(nr_manager_unregister(f->m, "gone", nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(nr_metrics_format(reg_m, &text, &len, &err), NR_OK);
    if (strstr(text, "resource=\"gone\""))
        fail_msg("a series of 'gone' is still exported:\n%s", text);
    assert_non_null(strstr(text, "nr_pool_instances{resource=\"kept\""));
    nr_free(text);
    assert_int_equal(nr_manager_destroy(f->m, &err), NR_OK);
    f->m = NULL;
    nr_metrics_destroy(reg_m);
}

/* ---- the manager's own events ---- */

static void test_lifecycle_events(void **state)
{
    fixture *f = *state;
    nr_event_bus *bus = NULL;
    assert_int_equal(nr_event_bus_create(&bus, 256, NULL), NR_OK);
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_subscribe(bus, &sub, NULL), NR_OK);
    f->mo.events = bus;
    make(f);
    reg(f, "a", 0, NULL, 0);
    reg(f, "b", 1, NULL, 0);
    nr_error err = {0};
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(nr_manager_unregister(f->m, "b", nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(nr_manager_shutdown(f->m, NULL, NULL, &err), NR_OK);
    /* the manager's own events, in order; pool events in between are skipped */
    const char *want[] = {"registered a",           "registered b",
                          "unregistered b",         "shutdown_phase drain",
                          "shutdown_phase cleanup", "shutdown_phase terminate",
                          "shutdown_phase stopped"};
    size_t nwant = sizeof(want) / sizeof(want[0]), got = 0;
    nr_event ev;
    while (got < nwant && nr_event_next(sub, &ev, NULL, nr_deadline_in_ms(1000)) == NR_OK) {
        char seen[160];
        const char *what = ev.type == NR_EV_SHUTDOWN_PHASE ? ev.text : ev.resource_id;
        if (ev.type != NR_EV_REGISTERED && ev.type != NR_EV_UNREGISTERED &&
            ev.type != NR_EV_SHUTDOWN_PHASE)
            continue;
        snprintf(seen, sizeof(seen), "%s %s", nr_event_type_name(ev.type), what);
        if (strncmp(seen, want[got], strlen(want[got])) != 0)
            fail_msg("event %zu: want \"%s\", got \"%s\"", got, want[got], seen);
        got++;
    }
    assert_int_equal(got, nwant);
    assert_int_equal(nr_manager_destroy(f->m, &err), NR_OK);
    f->m = NULL;
    nr_event_unsubscribe(sub);
    nr_event_bus_destroy(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shutdown_cuts_a_start_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_does_not_wait_for_another_create, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rotation_destroys_outside_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_start_does_not_wait_for_a_lease, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retried_start_leaks_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timed_out_unregister_is_reclaimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unregister_removes_metric_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_events, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

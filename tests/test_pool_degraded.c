/*
 * test_pool_degraded.c - instances whose last health check said degraded:
 * handed out only when no healthy one is idle, given back to their own list
 * (or to the oldest waiter), moved back by a healthy check, retired first by
 * a shrink and by idle_timeout, and replaced by maintenance (a create first,
 * the destroy after it). The mock type's scripted health says which
 * instance is degraded; the tests count instances and callbacks, never time.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pool_fixture.h"
#include "testutil.h"

typedef nr_pool_fixture fixture;

static nr_pool_stats stats(fixture *f)
{
    return nr_pool_fixture_stats(f);
}

static uint64_t serial_of(const nr_guard *g)
{
    const nr_mock_handle *h = nr_guard_handle(g);
    return h->serial;
}

static void prime(fixture *f, uint32_t n)
{
    nr_error err = {0};
    assert_int_equal(nr_pool_prime(f->pool, n, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(stats(f).idle, n);
}

static nr_pool_health_report check(fixture *f)
{
    nr_pool_health_report rep;
    nr_error err = {0};
    assert_int_equal(nr_pool_check_health(f->pool, NR_NS_PER_S, &rep, &err), NR_OK);
    return rep;
}

static nr_guard take(fixture *f)
{
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
    nr_error err = {0};
    if (nr_pool_acquire(f->pool, &ctx, &g, &err) != NR_OK)
        fail_msg("acquire: %s", err.message);
    return g;
}

/* Take two instances at once and give them back; their serials, smaller first. */
static void take_two(fixture *f, uint64_t *a, uint64_t *b)
{
    nr_guard g1 = take(f), g2 = take(f);
    uint64_t x = serial_of(&g1), y = serial_of(&g2);
    *a = x < y ? x : y;
    *b = x < y ? y : x;
    assert_int_equal(nr_guard_release(&g1), NR_OK);
    assert_int_equal(nr_guard_release(&g2), NR_OK);
}

static void test_degraded_only_when_no_healthy_idle(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "deg");
    prime(f, 2); /* serial 2 is the most recently used: a plain acquire takes it first */
    nr_mock_script(&f->fake, 2, NR_HEALTH_DEGRADED);
    nr_pool_health_report rep = check(f);
    assert_int_equal(rep.checked, 2);
    assert_int_equal(rep.healthy, 1);
    assert_int_equal(rep.degraded, 1);
    assert_int_equal(rep.worst, NR_HEALTH_DEGRADED);
    assert_string_equal(rep.reason, "mock says so");
    nr_pool_stats s = stats(f);
    assert_int_equal(s.idle, 2);
    assert_int_equal(s.degraded_idle, 1);

    /* the healthy one first, then the degraded one rather than a create */
    nr_guard g1 = take(f);
    assert_int_equal(serial_of(&g1), 1);
    nr_guard g2 = take(f);
    assert_int_equal(serial_of(&g2), 2);
    s = stats(f);
    assert_int_equal(s.creating, 0);
    assert_int_equal(s.degraded_idle, 0);
    assert_int_equal(atomic_load(&f->fake.create_calls), 2);

    /* given back, it is still degraded (only a check changes that) */
    assert_int_equal(nr_guard_release(&g2), NR_OK);
    assert_int_equal(stats(f).degraded_idle, 1);
    assert_int_equal(nr_guard_release(&g1), NR_OK);
    for (int i = 0; i < 20; i++) {
        nr_guard g = take(f);
        assert_int_equal(serial_of(&g), 1);
        assert_int_equal(nr_guard_release(&g), NR_OK);
    }
    s = stats(f);
    assert_int_equal(s.degraded_idle, 1);
    assert_int_equal(s.idle, 2);
    assert_int_equal(s.creates, 2);
}

typedef struct waiter_arg {
    fixture *f;
    uint64_t serial;
    int rc;
} waiter_arg;

static void *waiter_main(void *arg)
{
    waiter_arg *w = arg;
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    w->rc = nr_pool_acquire(w->f->pool, &ctx, &g, NULL);
    if (w->rc == NR_OK) {
        w->serial = serial_of(&g);
        nr_guard_release(&g);
    }
    return NULL;
}

static void test_degraded_given_back_to_waiter(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 2;
    nr_pool_fixture_make(f, "deg");
    prime(f, 2);
    nr_mock_script(&f->fake, 2, NR_HEALTH_DEGRADED);
    check(f);
    nr_guard g1 = take(f), g2 = take(f);
    assert_int_equal(serial_of(&g2), 2);

    waiter_arg w = {.f = f};
    pthread_t t;
    pthread_create(&t, NULL, waiter_main, &w);
    for (int i = 0; i < 20000 && stats(f).waiters < 1; i++)
        nr_sleep_ns(100 * NR_NS_PER_US);
    assert_int_equal(stats(f).waiters, 1);
    assert_int_equal(nr_guard_release(&g2), NR_OK); /* the degraded one */
    pthread_join(t, NULL);
    assert_int_equal(w.rc, NR_OK);
    assert_int_equal(w.serial, 2);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.handoffs, 1);
    assert_int_equal(s.degraded_idle, 1); /* the waiter gave it back to its list */
    assert_int_equal(nr_guard_release(&g1), NR_OK);
}

static void test_healthy_check_moves_it_back(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "deg");
    prime(f, 2);
    nr_mock_script(&f->fake, 2, NR_HEALTH_DEGRADED);
    check(f);
    assert_int_equal(stats(f).degraded_idle, 1);

    /* serial 2 heals, serial 1 turns degraded: 2 is now the one preferred */
    nr_mock_script(&f->fake, 2, NR_HEALTH_HEALTHY);
    nr_mock_script(&f->fake, 1, NR_HEALTH_DEGRADED);
    nr_pool_health_report rep = check(f);
    assert_int_equal(rep.healthy, 1);
    assert_int_equal(rep.degraded, 1);
    assert_int_equal(stats(f).degraded_idle, 1);
    for (int i = 0; i < 5; i++) {
        nr_guard g = take(f);
        assert_int_equal(serial_of(&g), 2);
        assert_int_equal(nr_guard_release(&g), NR_OK);
    }

    /* both healthy again: nothing degraded is left */
    nr_mock_script_clear(&f->fake);
    rep = check(f);
    assert_int_equal(rep.healthy, 2);
    assert_int_equal(stats(f).degraded_idle, 0);
    uint64_t a, b;
    take_two(f, &a, &b);
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
}

static void test_shrink_retires_degraded_first(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "deg");
    prime(f, 3); /* idle list: 3 (head), 2, 1 (the longest idle, retired first otherwise) */
    nr_mock_script(&f->fake, 3, NR_HEALTH_DEGRADED);
    check(f);
    nr_error err = {0};
    assert_int_equal(nr_pool_resize(f->pool, 0, 2, &err), NR_OK);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.evicted_resize, 1);
    assert_int_equal(s.degraded_idle, 0);
    assert_int_equal(s.total, 2);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
    uint64_t a, b;
    take_two(f, &a, &b);
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
}

typedef struct shrink_hook {
    fixture *f;
    uint64_t serial; /* resize while this one is being checked */
    int done;
} shrink_hook;

static void shrink_during_check(const char *what, void *arg)
{
    shrink_hook *h = arg;
    if (strcmp(what, "health") == 0 && !h->done &&
        atomic_load(&h->f->fake.health_serial) == h->serial) {
        h->done = 1;
        assert_int_equal(nr_pool_resize(h->f->pool, 0, 1, NULL), NR_OK);
    }
}

static void test_shrink_on_give_back_retires_degraded_idle(void **state)
{
    fixture *f = *state;
    f->pcfg.replace_degraded = false;
    nr_pool_fixture_make(f, "deg");
    prime(f, 3);
    nr_guard g1 = take(f), g2 = take(f); /* 3 and 2; serial 1 stays idle */
    assert_int_equal(serial_of(&g1), 3);
    /* a shrink to 1 while 1 is out for its check: nothing idle to retire
     * then, and 1 comes back degraded with the pool still over max_size */
    nr_mock_script(&f->fake, 1, NR_HEALTH_DEGRADED);
    shrink_hook h = {.f = f, .serial = 1};
    f->fake.on_call_arg = &h;
    f->fake.on_call = shrink_during_check;
    check(f);
    f->fake.on_call = NULL;
    assert_true(h.done);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.total, 3);
    assert_int_equal(s.degraded_idle, 1);
    /* a healthy give-back: the degraded idle one goes in its place */
    assert_int_equal(nr_guard_release(&g1), NR_OK);
    s = stats(f);
    assert_int_equal(s.total, 2);
    assert_int_equal(s.degraded_idle, 0);
    assert_int_equal(s.idle, 1);
    assert_int_equal(s.evicted_resize, 1);
    /* nothing degraded left: the next give-back itself goes */
    assert_int_equal(nr_guard_release(&g2), NR_OK);
    s = stats(f);
    assert_int_equal(s.total, 1);
    assert_int_equal(s.evicted_resize, 2);
    nr_guard g = take(f);
    assert_int_equal(serial_of(&g), 3);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_idle_timeout_retires_degraded_first(void **state)
{
    fixture *f = *state;
    f->pcfg.idle_timeout_ms = 1;
    f->pcfg.min_idle = 1;
    f->pcfg.max_lifetime_ms = 0;
    f->pcfg.replace_degraded = false;
    nr_pool_fixture_make(f, "deg");
    prime(f, 2); /* serial 1 idle the longest: the one idle_timeout would take */
    nr_mock_script(&f->fake, 2, NR_HEALTH_DEGRADED);
    check(f);
    nr_test_sleep_past_ms(1); /* both are past idle_timeout; min_idle keeps one */
    nr_pool_maintain_report rep;
    nr_error err = {0};
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_OK);
    assert_int_equal(rep.evicted_idle, 1);
    assert_int_equal(rep.created, 0);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.idle, 1);
    assert_int_equal(s.degraded_idle, 0);
    nr_guard g = take(f);
    assert_int_equal(serial_of(&g), 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

typedef struct call_log {
    char what[16][12];
    int n;
} call_log;

static void log_call(const char *what, void *arg)
{
    call_log *l = arg;
    if (l->n < 16)
        snprintf(l->what[l->n++], sizeof(l->what[0]), "%s", what);
}

static void test_replacement_created_before_degraded_destroyed(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "deg");
    prime(f, 2);
    nr_mock_script(&f->fake, 1, NR_HEALTH_DEGRADED);
    check(f);

    call_log log = {0};
    f->fake.on_call_arg = &log;
    f->fake.on_call = log_call;
    nr_pool_maintain_report rep;
    nr_error err = {0};
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_OK);
    f->fake.on_call = NULL;
    assert_int_equal(rep.replaced_degraded, 1);
    assert_int_equal(rep.created, 0);
    assert_int_equal(log.n, 2);
    assert_string_equal(log.what[0], "create");
    assert_string_equal(log.what[1], "destroy");
    assert_int_equal(atomic_load(&f->fake.creates), 3);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.degraded_replaced, 1);
    assert_int_equal(s.degraded_idle, 0);
    assert_int_equal(s.idle, 2);
    uint64_t a, b;
    take_two(f, &a, &b);
    assert_int_equal(a, 2);
    assert_int_equal(b, 3);

    /* nothing degraded left: the next step replaces nothing */
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_OK);
    assert_int_equal(rep.replaced_degraded, 0);
    assert_int_equal(atomic_load(&f->fake.creates), 3);
}

static void test_replacement_only_when_it_can_be_made(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 3;
    nr_pool_fixture_make(f, "deg");
    prime(f, 3);
    nr_mock_script(&f->fake, 1, NR_HEALTH_DEGRADED);
    check(f);
    nr_pool_maintain_report rep;
    nr_error err = {0};
    /* at max_size: no room for a replacement, and the degraded one stays */
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_OK);
    assert_int_equal(rep.replaced_degraded, 0);
    assert_int_equal(atomic_load(&f->fake.create_calls), 3);
    assert_int_equal(stats(f).degraded_idle, 1);

    /* room, but creates fail: the degraded one is never destroyed first */
    assert_int_equal(nr_pool_resize(f->pool, 0, 4, &err), NR_OK);
    atomic_store(&f->fake.fail_create, 1);
    nr_error_clear(&err);
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "mock create refused");
    assert_int_equal(rep.replaced_degraded, 0);
    assert_int_equal(rep.create_failures, 1);
    assert_int_equal(atomic_load(&f->fake.destroys), 0);
    assert_int_equal(stats(f).degraded_idle, 1);
    /* and while creation is failing (no success since), no further try */
    atomic_store(&f->fake.fail_create, 0);
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_OK);
    assert_int_equal(rep.replaced_degraded, 0);
    assert_int_equal(atomic_load(&f->fake.create_calls), 4);
    assert_int_equal(stats(f).degraded_idle, 1);
}

static void test_replacement_off(void **state)
{
    fixture *f = *state;
    f->pcfg.replace_degraded = false;
    nr_pool_fixture_make(f, "deg");
    prime(f, 2);
    nr_mock_script(&f->fake, 1, NR_HEALTH_DEGRADED);
    check(f);
    nr_pool_maintain_report rep;
    nr_error err = {0};
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_OK);
    assert_int_equal(rep.replaced_degraded, 0);
    assert_int_equal(atomic_load(&f->fake.create_calls), 2);
    assert_int_equal(stats(f).degraded_idle, 1);
}

static void test_degraded_in_stats_sum_and_close(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "deg");
    prime(f, 3);
    nr_mock_script(&f->fake, 1, NR_HEALTH_DEGRADED);
    nr_mock_script(&f->fake, 3, NR_HEALTH_DEGRADED);
    check(f);
    nr_pool_stats s = stats(f), sum = NR_POOL_STATS_INIT;
    nr_pool_stats_add(&sum, &s);
    nr_pool_stats_add(&sum, &s);
    assert_int_equal(sum.degraded_idle, 4);
    /* evict-all and close take the degraded list too */
    assert_int_equal(nr_pool_evict_all(f->pool), 3);
    s = stats(f);
    assert_int_equal(s.degraded_idle, 0);
    assert_int_equal(s.total, 0);
    prime(f, 2);
    nr_mock_script(&f->fake, 4, NR_HEALTH_DEGRADED);
    check(f);
    assert_int_equal(stats(f).degraded_idle, 1);
    nr_pool_close(f->pool);
    s = stats(f);
    assert_int_equal(s.total, 0);
    assert_int_equal(s.degraded_idle, 0);
    assert_int_equal(atomic_load(&f->fake.live), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_degraded_only_when_no_healthy_idle,
                                        nr_pool_fixture_setup, nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_degraded_given_back_to_waiter, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_healthy_check_moves_it_back, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_shrink_retires_degraded_first, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_shrink_on_give_back_retires_degraded_idle,
                                        nr_pool_fixture_setup, nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout_retires_degraded_first,
                                        nr_pool_fixture_setup, nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_replacement_created_before_degraded_destroyed,
                                        nr_pool_fixture_setup, nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_replacement_only_when_it_can_be_made,
                                        nr_pool_fixture_setup, nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_replacement_off, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_degraded_in_stats_sum_and_close, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
    };
    return cmocka_run_group_tests_name("pool_degraded", tests, NULL, NULL);
}

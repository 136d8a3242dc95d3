/*
 * test_pool_bag.c - the pool's lock-free fast path (the bag) and its gate:
 * per-thread affinity, statistics of bag leases, nr_pool_wait_returned and
 * the oldest-lease report without quiesce, first-come-first-served hand-over
 * once a caller queues, and maintenance seeing instances the bag holds.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pool_fixture.h"
#include "testutil.h"

typedef nr_pool_fixture fixture;
#define setup    nr_pool_fixture_setup
#define teardown nr_pool_fixture_teardown

static void make_pool(fixture *f)
{
    nr_pool_fixture_make(f, "bag");
}

static nr_pool_stats stats(fixture *f)
{
    return nr_pool_fixture_stats(f);
}

static uint64_t instance_id(const nr_guard *g)
{
    nr_instance_info info;
    assert_int_equal(nr_guard_info(g, &info), NR_OK);
    return info.id;
}

/* A thread that takes the same instance again after giving it back, while
 * others are idle: the per-thread hint. */
static void test_same_thread_gets_its_instance_back(void **state)
{
    fixture *f = *state;
    make_pool(f);
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(1000), NULL), NR_OK);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    uint64_t second = instance_id(&b);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(nr_guard_release(&b), NR_OK); /* the last one this thread gave back */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
        assert_int_equal(instance_id(&a), second);
        assert_int_equal(nr_guard_release(&a), NR_OK);
    }
    nr_pool_stats s = stats(f);
    assert_int_equal(s.acquires, 102);
    assert_int_equal(s.releases, 102);
    assert_int_equal(s.creates, 2); /* nothing made beyond the first two leases */
}

/* Leases taken through the bag count as in use; given back, as idle; the
 * gauges always add up. A second release of a bag lease is refused. */
static void test_stats_of_bag_leases(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard g[3] = {NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT};
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3; i++)
            assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[i], NULL), NR_OK);
        nr_pool_stats s = stats(f);
        assert_int_equal(s.in_use, 3);
        assert_int_equal(s.idle, 0);
        assert_int_equal(s.total, 3);
        nr_guard copy = g[0];
        for (int i = 0; i < 3; i++)
            assert_int_equal(nr_guard_release(&g[i]), NR_OK);
        assert_int_equal(nr_guard_release(&copy), NR_ESTATE); /* stale copy: refused */
        s = stats(f);
        assert_int_equal(s.in_use, 0);
        assert_int_equal(s.idle, 3);
        assert_int_equal(s.total, s.idle + s.in_use + s.creating);
        assert_int_equal(s.acquires, (uint64_t)(round + 1) * 3);
        assert_int_equal(s.releases, s.acquires);
    }
}

typedef struct holder {
    fixture *f;
    int64_t hold_ms;
    int rc;
} holder;

static void *hold_and_release(void *arg)
{
    holder *h = arg;
    nr_guard g = NR_GUARD_INIT;
    h->rc = nr_pool_acquire(h->f->pool, NULL, &g, NULL);
    if (h->rc == NR_OK) {
        nr_test_sleep_past_ms(h->hold_ms);
        h->rc = nr_guard_release(&g);
    }
    return NULL;
}

/* nr_pool_wait_returned without a quiesce: the lease is taken and given back
 * through the bag by another thread, and the wait still ends at once. */
static void test_wait_returned_sees_bag_release(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK); /* now in the bag */
    holder h = {.f = f, .hold_ms = 50};
    pthread_t t;
    pthread_create(&t, NULL, hold_and_release, &h);
    /* wait until the other thread holds it */
    for (int i = 0; i < 5000 && stats(f).in_use == 0; i++)
        nr_sleep_ns(NR_NS_PER_MS / 10);
    assert_int_equal(stats(f).in_use, 1);
    nr_error err = {0};
    assert_int_equal(nr_pool_wait_returned(f->pool, nr_deadline_in_ms(10000), &err), NR_OK);
    pthread_join(t, NULL);
    assert_int_equal(h.rc, NR_OK);
    assert_int_equal(stats(f).in_use, 0);
    /* the fast path is open again afterwards */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(stats(f).creates, 1);
}

/* The oldest-lease report covers leases taken through the bag. */
static void test_oldest_lease_of_bag_lease(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK); /* from the bag */
    nr_test_sleep_past_ms(20);
    assert_true(stats(f).oldest_lease_ns >= 20 * NR_NS_PER_MS);
    nr_error err = {0};
    assert_int_equal(nr_pool_wait_returned(f->pool, nr_deadline_in_ms(5), &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "1 lease(s) still out (the oldest held for");
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(stats(f).oldest_lease_ns, 0);
}

typedef struct waiter {
    fixture *f;
    int order;
    _Atomic int *next_order;
    int got_order;
    int rc;
} waiter;

static void *wait_for_one(void *arg)
{
    waiter *w = arg;
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(20000));
    w->rc = nr_pool_acquire(w->f->pool, &ctx, &g, NULL);
    if (w->rc == NR_OK) {
        w->got_order = atomic_fetch_add(w->next_order, 1);
        w->rc = nr_guard_release(&g);
    }
    return NULL;
}

/* Once callers queue, a holder that took its instance through the bag hands
 * it to them oldest first, and the bag does not let the releasing thread take
 * it back past them. */
static void test_queue_served_in_order_after_bag_use(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    make_pool(f);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK); /* a bag lease */
    enum { N = 4 };
    _Atomic int next = 0;
    waiter ws[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        ws[i] = (waiter){.f = f, .order = i, .next_order = &next};
        pthread_create(&t[i], NULL, wait_for_one, &ws[i]);
        while (stats(f).waiters < (uint32_t)(i + 1))
            nr_sleep_ns(NR_NS_PER_MS / 10);
    }
    assert_int_equal(nr_guard_release(&g), NR_OK);
    /* this thread comes back at once: it must queue behind the four */
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(20000));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, NULL), NR_OK);
    int mine = atomic_fetch_add(&next, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(ws[i].rc, NR_OK);
        assert_int_equal(ws[i].got_order, i);
    }
    assert_int_equal(mine, N);
    assert_true(stats(f).handoffs >= N);
}

/* A bag lease given back while a caller sleeps in the queue goes to that
 * caller, with no later acquire or release to push it along. */
static void test_bag_release_wakes_sleeping_waiter(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    make_pool(f);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK); /* a bag lease */
    _Atomic int next = 0;
    waiter w = {.f = f, .next_order = &next};
    pthread_t t;
    pthread_create(&t, NULL, wait_for_one, &w);
    while (stats(f).waiters < 1)
        nr_sleep_ns(NR_NS_PER_MS / 10);
    nr_test_sleep_past_ms(5); /* let it fall asleep */
    assert_int_equal(nr_guard_release(&g), NR_OK);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, NR_OK); /* not NR_ETIMEDOUT after 20 s */
    nr_pool_stats s = stats(f);
    assert_int_equal(s.handoffs, 2); /* the first from the creator */
    assert_int_equal(s.timeouts, 0);
}

/* Idle eviction and health checks see instances that sit in the bag. */
static void test_maintenance_sees_bag_instances(void **state)
{
    fixture *f = *state;
    f->pcfg.idle_timeout_ms = 10;
    f->pcfg.min_idle = 1;
    make_pool(f);
    nr_guard g[3] = {NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT};
    for (int i = 0; i < 3; i++)
        assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[i], NULL), NR_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(nr_guard_release(&g[i]), NR_OK);
    nr_pool_health_report hr;
    assert_int_equal(nr_pool_check_health(f->pool, 100 * NR_NS_PER_MS, &hr, NULL), NR_OK);
    assert_int_equal(hr.checked, 3);
    nr_test_sleep_past_ms(10);
    nr_pool_maintain_report mr;
    assert_int_equal(nr_pool_maintain(f->pool, &mr, NULL), NR_OK);
    assert_int_equal(mr.evicted_idle, 2); /* min_idle keeps one */
    nr_pool_stats s = stats(f);
    assert_int_equal(s.total, 1);
    assert_int_equal(s.idle, 1);
    /* and the one kept is handed out again */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[0], NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g[0]), NR_OK);
    assert_int_equal(stats(f).creates, 3);
}

/* Close while a bag lease is out: the late release destroys the instance. */
static void test_close_with_bag_lease_out(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(nr_guard_release(&b), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK); /* from the bag */
    nr_pool_close(f->pool);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.idle, 0);
    assert_int_equal(s.in_use, 1);
    assert_int_equal(s.destroys, 1); /* the idle one, at close */
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, &err), NR_ESHUTDOWN);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(nr_pool_drain(f->pool, nr_deadline_in_ms(1000), &err), NR_OK);
    assert_int_equal(stats(f).destroys, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_thread_gets_its_instance_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_of_bag_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_returned_sees_bag_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oldest_lease_of_bag_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_served_in_order_after_bag_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bag_release_wakes_sleeping_waiter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintenance_sees_bag_instances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_bag_lease_out, setup, teardown),
    };
    return cmocka_run_group_tests_name("pool_bag", tests, NULL, NULL);
}

/*
 * test_pool_guard_beside.c - a guard kept beside its instance, in storage
 * that every holder of that instance reuses (as an application does when it
 * hangs the guard off the connection object it wraps). A give-back must be
 * done with the guard before the instance can reach its next holder, who
 * writes its own guard into the same place: many threads on a small pool
 * (with fewer instances than threads, most acquires wait or yield), then
 * nothing lost, nothing handed out twice, every create matched by one
 * destroy. Every other lease is put there with nr_guard_move, the others
 * with a struct copy. A guard written over by a late give-back shows as an
 * empty guard at release, or as an instance lost for good (an acquire
 * times out).
 *
 * Those stress cases only catch a late write when an interrupt lands in the
 * few nanoseconds after the give-back's CAS. The hand-over case catches it
 * every time under ThreadSanitizer (the CI's TSan suite): one thread gives
 * an instance back and only then raises a relaxed flag, so nothing but the
 * pool orders its writes before the next holder's; the next holder then
 * writes its guard where the first one's was. A give-back that touched the
 * guard after its CAS is a data race on that storage, reported as one.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "nebula/testing.h"
#include "testutil.h"

enum { THREADS = 8, SLOTS = 64 };

typedef struct shared {
    nr_pool *pool;
    nr_mock fake;
    pthread_barrier_t start;
    int iterations;
    nr_guard beside[SLOTS]; /* by the handle's serial: the current holder's guard */
    atomic_long ok, double_handouts, empty_at_release, bad_release, other_errors;
} shared;

static void *worker_main(void *arg)
{
    shared *sh = arg;
    pthread_barrier_wait(&sh->start);
    for (int i = 0; i < sh->iterations; i++) {
        nr_guard g = NR_GUARD_INIT;
        int rc = nr_pool_acquire(sh->pool, NULL, &g, NULL); /* waits up to 5 s */
        if (rc != NR_OK) {
            atomic_fetch_add(&sh->other_errors, 1);
            continue;
        }
        atomic_fetch_add(&sh->ok, 1);
        nr_mock_handle *h = nr_guard_handle(&g);
        if (h->serial >= SLOTS) {
            atomic_fetch_add(&sh->other_errors, 1);
            nr_guard_release(&g);
            continue;
        }
        if (atomic_fetch_add(&h->holders, 1) != 0)
            atomic_fetch_add(&sh->double_handouts, 1);
        nr_guard *slot = &sh->beside[h->serial];
        /* from here on the guard lives beside the instance: copied or moved */
        if (i % 2 == 0) {
            *slot = g;
        } else if (nr_guard_move(slot, &g) != NR_OK || nr_guard_held(&g)) {
            atomic_fetch_add(&sh->other_errors, 1); /* the slot held a lease, or g kept it */
        }
        atomic_fetch_sub(&h->holders, 1);
        if (!nr_guard_held(slot))
            atomic_fetch_add(&sh->empty_at_release, 1); /* a give-back wrote over it */
        if (nr_guard_release(slot) != NR_OK)
            atomic_fetch_add(&sh->bad_release, 1);
    }
    return NULL;
}

/* A pool of max_size mock instances, all created, that never expire. */
static shared *make(uint32_t max_size, nr_mock_config *cfg)
{
    shared *sh = calloc(1, sizeof(*sh));
    assert_non_null(sh);
    nr_mock_init(&sh->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, cfg, NULL), NR_OK);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max_size;
    pc.min_idle = max_size;
    pc.max_lifetime_ms = 0; /* the same instances throughout: serials stay small */
    pc.idle_timeout_ms = 0;
    pc.acquire_timeout_ms = 5000;
    /* Nothing to do on acquire or give-back, so both take their express way
     * (the mock type has validate and recycle). */
    pc.validate_on_acquire = false;
    pc.recycle_on_release = false;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "beside", .type = &nr_mock_type, .type_ud = &sh->fake,
                                        .config = cfg, .pool = &pc);
    nr_error err = {0};
    assert_int_equal(nr_pool_create(&sh->pool, &o, &err), NR_OK);
    assert_int_equal(nr_pool_fill(sh->pool, nr_deadline_in_ms(5000), &err), NR_OK);
    return sh;
}

/* Nothing lost (all max_size idle again), then destroy: every create matched
 * by one destroy. */
static void finish(shared *sh, uint32_t max_size, nr_mock_config *cfg)
{
    nr_pool_stats s = NR_POOL_STATS_INIT;
    nr_pool_stats_get(sh->pool, &s);
    assert_int_equal(s.in_use, 0);
    assert_int_equal(s.releases, s.acquires);
    assert_int_equal(s.total, max_size);
    assert_int_equal(s.idle, max_size);
    nr_error err = {0};
    assert_int_equal(nr_pool_destroy(sh->pool, &err), NR_OK);
    assert_int_equal(atomic_load(&sh->fake.creates), atomic_load(&sh->fake.destroys));
    assert_int_equal(atomic_load(&sh->fake.live), 0);
    nr_config_free(&nr_mock_config_schema, cfg);
    free(sh);
}

static void run(uint32_t max_size)
{
    nr_mock_config cfg;
    shared *sh = make(max_size, &cfg);
    sh->iterations = nr_test_iterations(100000);

    pthread_t t[THREADS];
    pthread_barrier_init(&sh->start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, sh), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    assert_int_equal(atomic_load(&sh->other_errors), 0);
    assert_int_equal(atomic_load(&sh->double_handouts), 0);
    assert_int_equal(atomic_load(&sh->empty_at_release), 0);
    assert_int_equal(atomic_load(&sh->bad_release), 0);
    assert_int_equal(atomic_load(&sh->ok), (long)THREADS * sh->iterations);
    pthread_barrier_destroy(&sh->start);
    finish(sh, max_size, &cfg);
}

typedef struct handover {
    shared *sh;
    atomic_int given_back; /* relaxed on purpose: it orders nothing */
    int rc_acquire, rc_release, held_after_write;
} handover;

static void *next_holder(void *arg)
{
    handover *h = arg;
    while (!atomic_load_explicit(&h->given_back, memory_order_relaxed))
        sched_yield();
    nr_guard g = NR_GUARD_INIT;
    h->rc_acquire = nr_pool_acquire(h->sh->pool, NULL, &g, NULL);
    if (h->rc_acquire != NR_OK)
        return NULL;
    nr_guard *slot = &h->sh->beside[0];
    *slot = g; /* where the first holder's guard was */
    h->held_after_write = nr_guard_held(slot);
    h->rc_release = nr_guard_release(slot);
    return NULL;
}

static void test_guard_beside_handed_over(void **state)
{
    (void)state;
    nr_mock_config cfg;
    shared *sh = make(1, &cfg);
    for (int round = 0; round < 20; round++) {
        handover h = {.sh = sh, .rc_acquire = -1, .rc_release = -1};
        pthread_t t;
        /* started first, so thread creation orders nothing after this */
        assert_int_equal(pthread_create(&t, NULL, next_holder, &h), 0);
        nr_guard *slot = &sh->beside[0];
        assert_int_equal(nr_pool_acquire(sh->pool, NULL, slot, NULL), NR_OK);
        /* (nothing here reads the slot again before the join: that read
         * would itself be unordered with the next holder's write) */
        assert_int_equal(nr_guard_release(slot), NR_OK);
        atomic_store_explicit(&h.given_back, 1, memory_order_relaxed);
        pthread_join(t, NULL);
        assert_int_equal(h.rc_acquire, NR_OK);
        assert_true(h.held_after_write);
        assert_int_equal(h.rc_release, NR_OK);
    }
    finish(sh, 1, &cfg);
}

/* nr_guard_move's rules, one by one. */
static void test_guard_move_rules(void **state)
{
    (void)state;
    nr_mock_config cfg;
    shared *sh = make(2, &cfg);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT, c = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(sh->pool, NULL, &a, NULL), NR_OK);
    void *handle = nr_guard_handle(&a);
    assert_non_null(handle);

    /* into an empty guard: the lease moves, the source is empty */
    assert_int_equal(nr_guard_move(&b, &a), NR_OK);
    assert_false(nr_guard_held(&a));
    assert_true(nr_guard_held(&b));
    assert_ptr_equal(nr_guard_handle(&b), handle);
    assert_int_equal(nr_guard_release(&a), NR_OK); /* empty: a no-op */
    nr_pool_stats s = NR_POOL_STATS_INIT;
    nr_pool_stats_get(sh->pool, &s);
    assert_int_equal(s.in_use, 1);

    /* onto a guard that holds a lease: NR_EBUSY, neither changes */
    assert_int_equal(nr_pool_acquire(sh->pool, NULL, &c, NULL), NR_OK);
    nr_guard b_before = b, c_before = c;
    assert_int_equal(nr_guard_move(&b, &c), NR_EBUSY);
    assert_ptr_equal(b.inst, b_before.inst);
    assert_true(b.lease == b_before.lease);
    assert_ptr_equal(c.inst, c_before.inst);
    assert_true(c.lease == c_before.lease);

    /* onto a copy of the same lease: refused all the same */
    nr_guard copy = b;
    assert_int_equal(nr_guard_move(&copy, &b), NR_EBUSY);
    assert_true(nr_guard_held(&b));

    /* onto itself: nothing changes */
    assert_int_equal(nr_guard_move(&b, &b), NR_OK);
    assert_ptr_equal(b.inst, b_before.inst);
    assert_true(b.lease == b_before.lease);

    /* NULL on either side */
    assert_int_equal(nr_guard_move(NULL, &b), NR_EINVAL);
    assert_int_equal(nr_guard_move(&a, NULL), NR_EINVAL);
    assert_true(nr_guard_held(&b));

    /* an empty source makes an empty destination */
    nr_guard empty = NR_GUARD_INIT;
    assert_int_equal(nr_guard_move(&a, &empty), NR_OK);
    assert_false(nr_guard_held(&a));

    /* a stale copy of a moved lease is refused at give-back, as any copy is */
    assert_int_equal(nr_guard_release(&b), NR_OK);
    assert_int_equal(nr_guard_release(&b_before), NR_ESTATE);
    assert_int_equal(nr_guard_release(&c), NR_OK);
    finish(sh, 2, &cfg);
}

static void test_guard_beside_one_instance(void **state)
{
    (void)state;
    run(1);
}

static void test_guard_beside_fewer_instances_than_threads(void **state)
{
    (void)state;
    run(4);
}

static void test_guard_beside_more_instances_than_threads(void **state)
{
    (void)state;
    run(16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_beside_one_instance),
        cmocka_unit_test(test_guard_beside_fewer_instances_than_threads),
        cmocka_unit_test(test_guard_beside_more_instances_than_threads),
        cmocka_unit_test(test_guard_beside_handed_over),
        cmocka_unit_test(test_guard_move_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_pool_guard_beside.c - a guard kept beside its instance, in storage
 * that every holder of that instance reuses (as an application does when it
 * hangs the guard off the connection object it wraps). A give-back must be
 * done with the guard before the instance can reach its next holder, who
 * writes its own guard into the same place: many threads on a small pool
 * (with fewer instances than threads, most acquires wait or yield), then
 * nothing lost, nothing handed out twice, every create matched by one
 * destroy. A guard written over by a late give-back shows as an empty guard
 * at release, or as an instance lost for good (an acquire times out).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
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
        *slot = g; /* from here on the guard lives beside the instance */
        atomic_fetch_sub(&h->holders, 1);
        if (!nr_guard_held(slot))
            atomic_fetch_add(&sh->empty_at_release, 1); /* a give-back wrote over it */
        if (nr_guard_release(slot) != NR_OK)
            atomic_fetch_add(&sh->bad_release, 1);
    }
    return NULL;
}

static void run(uint32_t max_size)
{
    shared *sh = calloc(1, sizeof(*sh));
    assert_non_null(sh);
    nr_mock_init(&sh->fake);
    sh->iterations = nr_test_iterations(100000);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max_size;
    pc.min_idle = max_size;
    pc.max_lifetime_ms = 0; /* the same instances throughout: serials stay small */
    pc.idle_timeout_ms = 0;
    pc.acquire_timeout_ms = 5000;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "beside", .type = &nr_mock_type, .type_ud = &sh->fake,
                                        .config = &cfg, .pool = &pc);
    nr_error err = {0};
    assert_int_equal(nr_pool_create(&sh->pool, &o, &err), NR_OK);
    assert_int_equal(nr_pool_fill(sh->pool, nr_deadline_in_ms(5000), &err), NR_OK);

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
    nr_pool_stats s = NR_POOL_STATS_INIT;
    nr_pool_stats_get(sh->pool, &s);
    assert_int_equal(s.in_use, 0);
    assert_int_equal(s.releases, s.acquires);
    assert_int_equal(s.total, max_size);
    assert_int_equal(s.idle, max_size); /* nothing lost: all of them idle again */

    assert_int_equal(nr_pool_destroy(sh->pool, &err), NR_OK);
    assert_int_equal(atomic_load(&sh->fake.creates), atomic_load(&sh->fake.destroys));
    assert_int_equal(atomic_load(&sh->fake.live), 0);
    pthread_barrier_destroy(&sh->start);
    nr_config_free(&nr_mock_config_schema, &cfg);
    free(sh);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

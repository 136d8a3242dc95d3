/*
 * test_pool_stress.c - many threads on a tiny pool, with random deadlines,
 * cancels, taints, failing creates and validates, and maintenance running
 * beside them; in some cases also the operator controls (resize, suspend and
 * resume, evict-all, detach), and health checks whose scripted results make
 * instances degraded (handed out last, replaced by maintenance) or
 * unhealthy (quarantined, probed, released or destroyed). At the end:
 * nothing lost, nothing handed out twice, no instance checked while held,
 * the pool never above max_size, every create matched by exactly one
 * destroy.
 *
 * Threads start on a barrier. Each lease is stamped on the handle while it is
 * held, so a double hand-out is caught at once.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "testutil.h"

enum { THREADS = 12 };

typedef struct shared {
    nr_pool *pool;
    nr_mock fake;
    pthread_barrier_t start;
    atomic_int stop;
    atomic_long double_handouts, oversize, ok, timeouts, cancels, exhausted, create_errors,
        other_errors;
    atomic_long detached;
    uint64_t seed;
    int iterations;
    uint32_t max_size;
    int controls; /* run the operator controls too */
    int health;   /* scripted degraded and unhealthy checks, instance quarantine on */
    atomic_long bad_gauges;
} shared;

typedef struct worker {
    shared *sh;
    int index;
    nr_cancel *cancel;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    nr_rng rng;
    nr_rng_seed(&rng, sh->seed + (uint64_t)w->index * 7919);
    pthread_barrier_wait(&sh->start);
    for (int i = 0; i < sh->iterations; i++) {
        nr_ctx ctx = NR_CTX_INIT;
        uint64_t r = nr_rng_below(&rng, 100);
        if (r < 10)
            ctx.deadline = nr_deadline_in_ns(0); /* no wait at all */
        else if (r < 60)
            ctx.deadline = nr_deadline_in_ns((int64_t)nr_rng_below(&rng, 2000) * NR_NS_PER_US);
        else
            ctx.deadline = nr_deadline_in_ms(2000);
        if (nr_rng_chance(&rng, 1, 5))
            ctx.cancel = w->cancel;
        nr_guard g = NR_GUARD_INIT;
        nr_error err;
        nr_error_clear(&err);
        int rc = nr_pool_acquire(sh->pool, &ctx, &g, &err);
        switch (rc) {
        case NR_OK: {
            atomic_fetch_add(&sh->ok, 1);
            nr_mock_handle *h = nr_guard_handle(&g);
            if (atomic_fetch_add(&h->holders, 1) != 0)
                atomic_fetch_add(&sh->double_handouts, 1);
            nr_pool_stats s = NR_POOL_STATS_INIT;
            if (nr_rng_chance(&rng, 1, 16)) {
                nr_pool_stats_get(sh->pool, &s);
                if (s.total > sh->max_size)
                    atomic_fetch_add(&sh->oversize, 1);
                if (s.degraded_idle > s.idle || s.quarantined + s.idle + s.in_use > s.total)
                    atomic_fetch_add(&sh->bad_gauges, 1);
            }
            if (nr_rng_chance(&rng, 1, 4))
                nr_sleep_ns((int64_t)nr_rng_below(&rng, 50) * NR_NS_PER_US);
            atomic_fetch_sub(&h->holders, 1);
            if (sh->controls && nr_rng_chance(&rng, 1, 50)) {
                void *handle = NULL;
                rc = nr_guard_detach(&g, &handle);
                if (rc == NR_OK) {
                    atomic_fetch_add(&sh->detached, 1);
                    nr_mock_type.destroy(handle, &sh->fake); /* it is ours now */
                }
            } else if (nr_rng_chance(&rng, 1, 20)) {
                rc = nr_guard_taint(&g);
            } else {
                rc = nr_guard_release(&g);
            }
            if (rc != NR_OK)
                atomic_fetch_add(&sh->other_errors, 1);
            break;
        }
        case NR_ETIMEDOUT:
            atomic_fetch_add(&sh->timeouts, 1);
            break;
        case NR_ECANCELED:
            atomic_fetch_add(&sh->cancels, 1);
            break;
        case NR_EEXHAUSTED:
            atomic_fetch_add(&sh->exhausted, 1);
            break;
        case NR_EUNAVAIL: /* the mock's create refused */
            atomic_fetch_add(&sh->create_errors, 1);
            if (strstr(err.message, "pool 'stress'") == NULL)
                atomic_fetch_add(&sh->other_errors, 1);
            break;
        default:
            atomic_fetch_add(&sh->other_errors, 1);
            break;
        }
        if (nr_guard_held(&g))
            atomic_fetch_add(&sh->other_errors, 1);
        if (sh->health && nr_rng_chance(&rng, 1, 2)) /* leave instances idle to be checked */
            nr_sleep_ns((int64_t)nr_rng_below(&rng, 200) * NR_NS_PER_US);
    }
    return NULL;
}

/* Scripts instances healthy, degraded or unhealthy and runs health rounds
 * and maintenance (which replaces degraded instances) back to back. */
static void *health_main(void *arg)
{
    shared *sh = arg;
    nr_rng rng;
    nr_rng_seed(&rng, sh->seed ^ 0x4EA17ULL);
    pthread_barrier_wait(&sh->start);
    while (!atomic_load(&sh->stop)) {
        for (int k = 0; k < 2; k++) {
            uint64_t q = nr_rng_below(&rng, 4);
            nr_mock_script(&sh->fake, nr_rng_below(&rng, NR_MOCK_SCRIPTED),
                           q < 2   ? NR_HEALTH_HEALTHY
                           : q < 3 ? NR_HEALTH_DEGRADED
                                   : NR_HEALTH_UNHEALTHY);
        }
        nr_pool_health_report rep;
        if (nr_pool_check_health(sh->pool, 10 * NR_NS_PER_MS, &rep, NULL) != NR_OK ||
            rep.unhealthy != rep.discarded + rep.quarantined + rep.kept)
            atomic_fetch_add(&sh->bad_gauges, 1);
        if (nr_rng_chance(&rng, 1, 3))
            nr_pool_maintain(sh->pool, NULL, NULL);
        nr_sleep_ns((int64_t)(50 + nr_rng_below(&rng, 200)) * NR_NS_PER_US);
    }
    nr_mock_script_clear(&sh->fake);
    return NULL;
}

/* Cancels workers' tokens now and then (each token once), runs maintenance
 * and health checks, and toggles validate failures. */
static void *chaos_main(void *arg)
{
    worker *ws = arg;
    shared *sh = ws[0].sh;
    nr_rng rng;
    nr_rng_seed(&rng, sh->seed ^ 0xC4A05ULL);
    pthread_barrier_wait(&sh->start);
    int canceled = 0;
    while (!atomic_load(&sh->stop)) {
        nr_sleep_ns((int64_t)(200 + nr_rng_below(&rng, 800)) * NR_NS_PER_US);
        uint64_t r = nr_rng_below(&rng, 10);
        if (r < 2 && canceled < THREADS) {
            nr_cancel_trigger(ws[canceled++].cancel);
        } else if (r < 5) {
            nr_pool_maintain(sh->pool, NULL, NULL);
        } else if (r < 7) {
            nr_pool_check_health(sh->pool, 10 * NR_NS_PER_MS, NULL, NULL);
        } else if (r < 8) {
            nr_secret *cred = NULL;
            char text[32];
            snprintf(text, sizeof(text), "rotated-%llu", (unsigned long long)nr_rng_next(&rng));
            if (nr_secret_from_str(&cred, text, NULL) == NR_OK)
                nr_pool_set_credential(sh->pool, cred, NULL);
            nr_secret_free(cred);
        } else {
            atomic_store(&sh->fake.fail_validate, (int)nr_rng_below(&rng, 2));
        }
    }
    atomic_store(&sh->fake.fail_validate, 0);
    return NULL;
}

/* Resizes within [1, max_size], suspends for a moment and resumes, and
 * starts new generations, while the workers run. */
static void *controls_main(void *arg)
{
    shared *sh = arg;
    nr_rng rng;
    nr_rng_seed(&rng, sh->seed ^ 0xC0A7ULL);
    pthread_barrier_wait(&sh->start);
    while (!atomic_load(&sh->stop)) {
        nr_sleep_ns((int64_t)(100 + nr_rng_below(&rng, 500)) * NR_NS_PER_US);
        uint64_t r = nr_rng_below(&rng, 3);
        if (r == 0) {
            int64_t max = 1 + (int64_t)nr_rng_below(&rng, sh->max_size);
            if (nr_pool_resize(sh->pool, 0, max, NULL) != NR_OK)
                atomic_fetch_add(&sh->other_errors, 1);
        } else if (r == 1) {
            nr_pool_suspend(sh->pool);
            nr_sleep_ns((int64_t)nr_rng_below(&rng, 300) * NR_NS_PER_US);
            nr_pool_resume(sh->pool);
        } else {
            nr_pool_evict_all(sh->pool);
        }
    }
    nr_pool_resume(sh->pool);
    if (nr_pool_resize(sh->pool, 0, sh->max_size, NULL) != NR_OK)
        atomic_fetch_add(&sh->other_errors, 1);
    return NULL;
}

/* recycle: recycle_on_release as by default (on: every give-back takes the
 * locked way to call it); off, most give-backs take the lock-free one. */
static void run_stress(uint32_t max_size, uint32_t min_idle, int create_fail_every, int controls,
                       int health, int recycle)
{
    shared *sh = calloc(1, sizeof(*sh));
    nr_mock_init(&sh->fake);
    atomic_store(&sh->fake.fault[NR_MOCK_CREATE].every, create_fail_every);
    sh->seed = nr_test_seed("pool_stress");
    sh->iterations = nr_test_iterations(3000);
    sh->max_size = max_size;
    sh->controls = controls;
    sh->health = health;
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max_size;
    pc.min_idle = min_idle;
    pc.recycle_on_release = recycle;
    pc.max_lifetime_ms = 5; /* retire often */
    if (health) {
        pc.max_lifetime_ms = 50; /* long enough for a quarantine to run its course */
        pc.instance_quarantine_after = 2;
        pc.instance_quarantine_base_ms = 1;
        pc.instance_quarantine_max_ms = 4;
        pc.instance_quarantine_max_attempts = 3;
    }
    nr_pool_options o = NR_POOL_OPTIONS(.id = "stress", .type = &nr_mock_type, .type_ud = &sh->fake,
                                        .config = &cfg, .pool = &pc);
    nr_error err = {0};
    assert_int_equal(nr_pool_create(&sh->pool, &o, &err), NR_OK);

    worker ws[THREADS];
    pthread_t t[THREADS + 3];
    pthread_barrier_init(&sh->start, NULL, THREADS + 1 + (controls ? 1 : 0) + (health ? 1 : 0));
    for (int i = 0; i < THREADS; i++) {
        ws[i] = (worker){.sh = sh, .index = i};
        assert_int_equal(nr_cancel_create(&ws[i].cancel, NULL, NULL), NR_OK);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker_main, &ws[i]);
    pthread_create(&t[THREADS], NULL, chaos_main, ws);
    if (controls)
        pthread_create(&t[THREADS + 1], NULL, controls_main, sh);
    if (health)
        pthread_create(&t[THREADS + 2], NULL, health_main, sh);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&sh->stop, 1);
    pthread_join(t[THREADS], NULL);
    if (controls)
        pthread_join(t[THREADS + 1], NULL);
    if (health)
        pthread_join(t[THREADS + 2], NULL);

    nr_pool_stats s = NR_POOL_STATS_INIT;
    nr_pool_stats_get(sh->pool, &s);
    long attempts = (long)THREADS * sh->iterations;
    long outcomes = atomic_load(&sh->ok) + atomic_load(&sh->timeouts) + atomic_load(&sh->cancels) +
                    atomic_load(&sh->exhausted) + atomic_load(&sh->create_errors) +
                    atomic_load(&sh->other_errors);
    print_message("ok=%ld timeouts=%ld cancels=%ld exhausted=%ld create_errors=%ld creates=%llu "
                  "destroys=%llu handoffs=%llu detached=%llu resized_away=%llu "
                  "evicted_generation=%llu degraded_replaced=%llu quarantines=%llu "
                  "releases=%llu quarantine_discards=%llu health_checks=%ld health_discards=%llu\n",
                  atomic_load(&sh->ok), atomic_load(&sh->timeouts), atomic_load(&sh->cancels),
                  atomic_load(&sh->exhausted), atomic_load(&sh->create_errors),
                  (unsigned long long)s.creates, (unsigned long long)s.destroys,
                  (unsigned long long)s.handoffs, (unsigned long long)s.detached,
                  (unsigned long long)s.evicted_resize, (unsigned long long)s.evicted_generation,
                  (unsigned long long)s.degraded_replaced, (unsigned long long)s.quarantines,
                  (unsigned long long)s.quarantine_releases,
                  (unsigned long long)s.quarantine_discards, atomic_load(&sh->fake.health_checks),
                  (unsigned long long)s.health_discards);
    assert_int_equal(atomic_load(&sh->other_errors), 0);
    assert_int_equal(atomic_load(&sh->double_handouts), 0);
    assert_int_equal(atomic_load(&sh->oversize), 0);
    assert_int_equal(atomic_load(&sh->bad_gauges), 0);
    assert_int_equal(atomic_load(&sh->fake.check_overlaps), 0); /* never checked while held */
    assert_int_equal(outcomes, attempts);
    assert_true(atomic_load(&sh->ok) > 0);
    /* exact accounting */
    assert_int_equal(s.acquires, (uint64_t)atomic_load(&sh->ok));
    assert_int_equal(s.releases, s.acquires);
    assert_int_equal(s.in_use, 0);
    assert_int_equal(s.waiters, 0);
    assert_int_equal(s.creating, 0);
    assert_true(s.total <= max_size);
    assert_int_equal(s.total, s.idle + s.quarantined);
    assert_true(s.degraded_idle <= s.idle);
    if (!health) {
        assert_int_equal(s.quarantines, 0);
        assert_int_equal(s.degraded_idle, 0);
    }
    assert_true(s.quarantine_releases + s.quarantine_discards <= s.quarantines);
    assert_true(s.quarantine_discards <= s.health_discards);
    assert_int_equal(s.detached, (uint64_t)atomic_load(&sh->detached));
    assert_int_equal(s.creates - s.destroys - s.detached, s.total);
    assert_int_equal(s.timeouts, (uint64_t)atomic_load(&sh->timeouts));
    assert_int_equal(s.exhausted, (uint64_t)atomic_load(&sh->exhausted));
    assert_int_equal(s.cancels, (uint64_t)atomic_load(&sh->cancels));
    assert_int_equal((long)s.creates, atomic_load(&sh->fake.creates));

    /* every instance still idle is distinct: take them all at once. An idle
     * one may pass its 5 ms lifetime meanwhile and be replaced by a create,
     * which must not fail here: this part checks distinctness only. */
    atomic_store(&sh->fake.fault[NR_MOCK_CREATE].every, 0);
    nr_guard all[64];
    assert_true(s.idle <= 64);
    nr_ctx quick = NR_CTX(.deadline = nr_deadline_in_ms(1000));
    for (uint32_t i = 0; i < s.idle; i++) {
        assert_int_equal(nr_pool_acquire(sh->pool, &quick, &all[i], NULL), NR_OK);
        nr_mock_handle *h = nr_guard_handle(&all[i]);
        assert_int_equal(atomic_fetch_add(&h->holders, 1), 0);
    }
    for (uint32_t i = 0; i < s.idle; i++) {
        nr_mock_handle *h = nr_guard_handle(&all[i]);
        atomic_fetch_sub(&h->holders, 1);
        assert_int_equal(nr_guard_release(&all[i]), NR_OK);
    }

    assert_int_equal(nr_pool_drain(sh->pool, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(nr_pool_destroy(sh->pool, &err), NR_OK);
    /* every create matched by exactly one destroy (the mock aborts on a second
     * one), the detached ones' by the worker that took them */
    assert_int_equal(atomic_load(&sh->fake.creates), atomic_load(&sh->fake.destroys));
    assert_int_equal(atomic_load(&sh->fake.live), 0);
    for (int i = 0; i < THREADS; i++)
        nr_cancel_destroy(ws[i].cancel);
    pthread_barrier_destroy(&sh->start);
    nr_config_free(&nr_mock_config_schema, &cfg);
    free(sh);
}

static void test_stress_tiny_pool(void **state)
{
    (void)state;
    run_stress(2, 0, 0, 0, 0, 1);
}

static void test_stress_with_min_idle_and_failing_creates(void **state)
{
    (void)state;
    run_stress(4, 2, 7, 0, 0, 1);
}

static void test_stress_single_instance(void **state)
{
    (void)state;
    run_stress(1, 1, 0, 0, 0, 1);
}

static void test_stress_with_operator_controls(void **state)
{
    (void)state;
    run_stress(4, 1, 11, 1, 0, 1);
}

static void test_stress_with_degraded_and_quarantined(void **state)
{
    (void)state;
    run_stress(6, 1, 0, 0, 1, 1);
}

static void test_stress_with_health_and_controls(void **state)
{
    (void)state;
    run_stress(6, 2, 11, 1, 1, 1);
}

static void test_stress_lock_free_give_back(void **state)
{
    (void)state;
    run_stress(2, 0, 0, 0, 0, 0);
}

static void test_stress_lock_free_give_back_with_controls(void **state)
{
    (void)state;
    run_stress(4, 1, 11, 1, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress_tiny_pool),
        cmocka_unit_test(test_stress_with_min_idle_and_failing_creates),
        cmocka_unit_test(test_stress_single_instance),
        cmocka_unit_test(test_stress_with_operator_controls),
        cmocka_unit_test(test_stress_with_degraded_and_quarantined),
        cmocka_unit_test(test_stress_with_health_and_controls),
        cmocka_unit_test(test_stress_lock_free_give_back),
        cmocka_unit_test(test_stress_lock_free_give_back_with_controls),
    };
    return cmocka_run_group_tests_name("pool_stress", tests, NULL, NULL);
}

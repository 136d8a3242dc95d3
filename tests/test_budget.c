/*
 * test_budget.c - the public budget (nebula/budget.h): a limit of 0 that
 * refuses every place, raising and lowering it, shedding the places above
 * it (never an instance in use), the wait for a pool to queue, who may
 * join, and a manager resource in a budget.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nebula/alloc.h"
#include "nebula/budget.h"
#include "nebula/manager.h"
#include "testutil.h"

static atomic_int alive; /* instances created and not yet destroyed */

static const nr_config_schema schema = {.name = "budget_test", .struct_size = sizeof(int)};

static int t_create(void **h, const void *cfg, const nr_create_ctx *ctx, void *ud, nr_error *err)
{
    (void)cfg;
    (void)ctx;
    (void)ud;
    *h = nr_malloc(8);
    if (!*h)
        return nr_error_set(err, NR_ENOMEM, NULL, "out of memory");
    atomic_fetch_add(&alive, 1);
    return NR_OK;
}

static void t_destroy(void *h, void *ud)
{
    (void)ud;
    atomic_fetch_sub(&alive, 1);
    nr_free(h);
}

static const nr_resource_type type = {.version = NR_RESOURCE_TYPE_VERSION,
                                      .name = "budget_test",
                                      .config_schema = &schema,
                                      .create = t_create,
                                      .destroy = t_destroy};
static int cfg;

/* A started manager with resource "db" (max_size 10, acquire timeout 200 ms) in b. */
static nr_manager *manager_in(nr_budget *b)
{
    nr_manager_options o = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&o);
    o.maintain_interval_ms = 0;
    o.health_interval_ms = 0;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &o, NULL), NR_OK);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 10;
    pc.acquire_timeout_ms = 200;
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "db", .type = &type, .config = &cfg, .pool = &pc, .budget = b);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK);
    return m;
}

static int take(nr_manager *m, nr_guard *g, int n, nr_error *last)
{
    int k = 0;
    while (k < n) {
        nr_error_clear(last);
        if (nr_manager_acquire(m, "db", NULL, &g[k], last) != NR_OK)
            break;
        k++;
    }
    return k;
}

/* Wait (at most 2 s) until alive == n; its value then. */
static int alive_becomes(int n)
{
    for (int i = 0; i < 400 && atomic_load(&alive) != n; i++)
        usleep(5000);
    return atomic_load(&alive);
}

static nr_budget_counts counts(nr_budget *b)
{
    nr_budget_counts c = NR_BUDGET_COUNTS_INIT;
    nr_budget_get_counts(b, &c);
    return c;
}

/* Limit 0: no place at all (the caller times out naming the resource);
 * raised, the places go to the pool; lower_to never goes below what is
 * held, and is never a raise. */
static void test_limit_zero_raise_lower(void **state)
{
    (void)state;
    nr_budget *b = NULL;
    assert_int_equal(nr_budget_create(&b, 0, NULL), NR_OK);
    nr_manager *m = manager_in(b);
    nr_guard g[10];
    nr_error err;
    assert_int_equal(take(m, g, 1, &err), 0);
    assert_int_equal(err.code, NR_ETIMEDOUT);
    assert_non_null(strstr(err.message, "'db'"));
    assert_int_equal(atomic_load(&alive), 0);

    nr_budget_set_limit(b, 3);
    int n = take(m, g, 10, &err);
    assert_int_equal(n, 3);
    assert_int_equal(err.code, NR_ETIMEDOUT);
    nr_budget_counts c = counts(b);
    assert_int_equal(c.limit, 3);
    assert_int_equal(c.held, 3);
    assert_int_equal(c.pools, 1);

    assert_int_equal(nr_budget_lower_to(b, 1), 3); /* 3 are held */
    assert_int_equal(nr_budget_lower_to(b, 5), 3); /* never raised */
    nr_guard_release(&g[2]);
    uint32_t evicted = 0;
    assert_int_equal(nr_manager_evict_all(m, "db", &evicted, NULL), NR_OK);
    assert_int_equal(evicted, 1);
    for (int i = 0; i < 400 && counts(b).held != 2; i++) /* the destroy's accounting */
        usleep(5000);
    assert_int_equal(nr_budget_lower_to(b, 1), 2);
    assert_int_equal(take(m, g + 2, 1, &err), 0); /* limit 2, 2 held */
    nr_guard_release(&g[0]);
    nr_guard_release(&g[1]);
    nr_budget_set_limit(b, NR_BUDGET_UNLIMITED);
    assert_int_equal(take(m, g, 10, &err), 10); /* max_size, no cap */
    for (int i = 0; i < 10; i++)
        nr_guard_release(&g[i]);
    assert_int_equal(nr_budget_destroy(b, &err), NR_EBUSY); /* the resource's pool is in it */
    assert_non_null(strstr(err.message, "1 pool(s) still in it"));
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(nr_budget_destroy(b, NULL), NR_OK);
    assert_int_equal(alive_becomes(0), 0);
}

/* Shedding on, limit below what is held: nothing in use is destroyed;
 * idle instances go at once, give-backs until no place is above it. */
static void test_shed_above_limit(void **state)
{
    (void)state;
    nr_budget *b = NULL;
    assert_int_equal(nr_budget_create(&b, 4, NULL), NR_OK);
    nr_manager *m = manager_in(b);
    nr_guard g[4];
    nr_error err;
    assert_int_equal(take(m, g, 4, &err), 4);
    nr_guard_release(&g[3]); /* one idle */
    nr_budget_set_shed(b, true);
    nr_budget_set_limit(b, 1);
    assert_int_equal(alive_becomes(3), 3); /* the idle one went, the three leased stay */
    nr_guard_release(&g[0]);
    assert_int_equal(alive_becomes(2), 2); /* destroyed, not reused */
    nr_guard_release(&g[1]);
    assert_int_equal(alive_becomes(1), 1);
    nr_guard_release(&g[2]); /* at the limit: kept */
    usleep(50000);
    assert_int_equal(atomic_load(&alive), 1);
    for (int i = 0; i < 400 && counts(b).held != 1; i++)
        usleep(5000);
    assert_int_equal(counts(b).held, 1);
    assert_int_equal(take(m, g, 1, &err), 1);
    nr_guard_release(&g[0]);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(nr_budget_destroy(b, NULL), NR_OK);
}

/* Shedding off (the default): a lowered limit keeps what is held. */
static void test_no_shed_keeps(void **state)
{
    (void)state;
    nr_budget *b = NULL;
    assert_int_equal(nr_budget_create(&b, 3, NULL), NR_OK);
    nr_manager *m = manager_in(b);
    nr_guard g[3];
    nr_error err;
    assert_int_equal(take(m, g, 3, &err), 3);
    nr_budget_set_limit(b, 0);
    for (int i = 0; i < 3; i++)
        nr_guard_release(&g[i]);
    assert_int_equal(atomic_load(&alive), 3);
    assert_int_equal(take(m, g, 3, &err), 3); /* the idle ones are reused */
    for (int i = 0; i < 3; i++)
        nr_guard_release(&g[i]);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(nr_budget_destroy(b, NULL), NR_OK);
}

typedef struct waiter {
    nr_budget *b;
    uint64_t seen, got;
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;
    w->got = nr_budget_wait_queued(w->b, w->seen, 10 * NR_NS_PER_S);
    return NULL;
}

/* A pool that queues ends nr_budget_wait_queued; nr_budget_wake does too. */
static void test_wait_queued(void **state)
{
    (void)state;
    nr_budget *b = NULL;
    assert_int_equal(nr_budget_create(&b, 0, NULL), NR_OK);
    nr_manager *m = manager_in(b);
    waiter w = {b, counts(b).queue_gen, 0};
    pthread_t th;
    pthread_create(&th, NULL, wait_thread, &w);
    nr_guard g;
    nr_error err;
    assert_int_equal(take(m, &g, 1, &err), 0);
    pthread_join(th, NULL);
    assert_true(w.got > w.seen);
    w.seen = w.got;
    pthread_create(&th, NULL, wait_thread, &w);
    nr_budget_wake(b);
    pthread_join(th, NULL);
    assert_int_equal(w.got, w.seen); /* woken, nobody queued */
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(nr_budget_destroy(b, NULL), NR_OK);
}

/* Who may join: a pool with an executor, new, in no budget; a tenant
 * resource may not have one. */
static void test_join_rules(void **state)
{
    (void)state;
    nr_budget *b = NULL;
    nr_error err = {0};
    assert_int_equal(nr_budget_create(NULL, 1, &err), NR_EINVAL);
    assert_int_equal(nr_budget_create(&b, 1, NULL), NR_OK);
    nr_pool_options po = NR_POOL_OPTIONS(.id = "solo", .type = &type, .config = &cfg);
    nr_pool *p = NULL;
    assert_int_equal(nr_pool_create(&p, &po, NULL), NR_OK);
    assert_int_equal(nr_budget_add_pool(b, p, &err), NR_EINVAL);
    assert_non_null(strstr(err.message, "pool 'solo': executor"));
    assert_int_equal(nr_budget_add_pool(b, NULL, &err), NR_EINVAL);
    nr_budget_counts unsized = {0}; /* size 0: refused, nothing written */
    assert_int_equal(nr_budget_get_counts(b, &unsized), NR_EINVAL);
    assert_int_equal(unsized.limit, 0);
    assert_int_equal(nr_pool_destroy(p, NULL), NR_OK);

    nr_manager_options o = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&o);
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &o, NULL), NR_OK);
    nr_scope sc;
    nr_scope_global(&sc);
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "tenanted", .type = &type, .config = &cfg, .scope = &sc,
                         .partition = NR_PARTITION_TENANT, .budget = b);
    assert_int_equal(nr_manager_register(m, &s, &err), NR_ECONFIG);
    assert_non_null(strstr(err.message, "resource 'tenanted': budget: not for a tenant"));
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(nr_budget_destroy(b, NULL), NR_OK);
    assert_int_equal(nr_budget_destroy(NULL, NULL), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_zero_raise_lower),
        cmocka_unit_test(test_shed_above_limit),
        cmocka_unit_test(test_no_shed_keeps),
        cmocka_unit_test(test_wait_queued),
        cmocka_unit_test(test_join_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_hooks_stress.c - adding and removing hooks while pools run
 * operations through the registry.
 *
 *   - nr_hooks_remove waits for a callback of the hook that is running: a
 *     callback blocks until the test lets it go, and the remove on another
 *     thread must not have returned before that (an atomic flag, no timing);
 *   - many threads acquire and release through a pool with hooks while
 *     another thread adds and removes hooks in a loop; each hook's ud is
 *     poisoned and freed as soon as remove returns, and the callbacks check
 *     its magic, so a callback after remove shows (under ASan as a
 *     use-after-free, under TSan as a race); every lease is stamped by its
 *     holder so a double hand-out is caught, and creates == destroys.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "hook_probe.h"
#include "pool_fixture.h"
#include "testutil.h"

/* ---- remove waits for a running callback ----------------------------------------------- */

typedef struct gate {
    atomic_int entered, let_go, removed;
    nr_hooks *h;
    uint64_t id;
    nr_pool *pool;
    int acquire_rc;
} gate;

static int blocking_before(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)call;
    (void)err;
    gate *g = ud;
    atomic_store(&g->entered, 1);
    while (!atomic_load(&g->let_go))
        nr_sleep_ns(100 * NR_NS_PER_US);
    return NR_OK;
}

static void *acquirer(void *arg)
{
    gate *g = arg;
    nr_guard guard = NR_GUARD_INIT;
    g->acquire_rc = nr_pool_acquire(g->pool, NULL, &guard, NULL);
    if (g->acquire_rc == NR_OK)
        nr_guard_release(&guard);
    return NULL;
}

static void *remover(void *arg)
{
    gate *g = arg;
    assert_int_equal(nr_hooks_remove(g->h, g->id, NULL), NR_OK);
    atomic_store(&g->removed, 1);
    return NULL;
}

static void test_remove_waits_for_a_running_callback(void **state)
{
    nr_pool_fixture *f = *state;
    gate g = {0};
    assert_int_equal(nr_hooks_create(&g.h, NULL, NULL), NR_OK);
    f->hooks = g.h;
    nr_pool_fixture_make(f, "p");
    g.pool = f->pool;
    nr_hook_def def = NR_HOOK_DEF(.name = "blocker", .before = blocking_before, .ud = &g,
                                  .ops = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE));
    assert_int_equal(nr_hooks_add(g.h, &def, &g.id, NULL), NR_OK);

    pthread_t ta, tr;
    assert_int_equal(pthread_create(&ta, NULL, acquirer, &g), 0);
    while (!atomic_load(&g.entered))
        nr_sleep_ns(100 * NR_NS_PER_US);
    assert_int_equal(pthread_create(&tr, NULL, remover, &g), 0);
    /* The callback is still running: remove cannot have returned, however
     * long it is given. */
    for (int i = 0; i < 50; i++) {
        nr_sleep_ns(NR_NS_PER_MS);
        assert_int_equal(atomic_load(&g.removed), 0);
    }
    /* meanwhile other operations go on (readers never wait for the writer) */
    nr_guard other = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &other, NULL), NR_OK);
    assert_int_equal(atomic_load(&g.removed), 0);
    assert_int_equal(nr_guard_release(&other), NR_OK);
    atomic_store(&g.let_go, 1);
    pthread_join(tr, NULL);
    assert_int_equal(atomic_load(&g.removed), 1);
    pthread_join(ta, NULL);
    assert_int_equal(g.acquire_rc, NR_OK);
    assert_int_equal(nr_hooks_count(g.h), 0);
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    assert_int_equal(nr_hooks_destroy(g.h, NULL), NR_OK);
}

/* ---- add and remove under load ------------------------------------------------------------ */

#define UD_MAGIC   0x600DC0DEu
#define UD_POISON  0xDEADBEEFu
#define WORKERS    4
#define OPS_EACH   4000 /* at least; and until the churner has gone round MIN_CHURNS times */
#define MIN_CHURNS 300

typedef struct hook_ud {
    _Atomic unsigned magic;
    atomic_long calls;
} hook_ud;

static atomic_long bad_magic;

static int check_ud(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)call;
    (void)err;
    hook_ud *u = ud;
    if (atomic_load_explicit(&u->magic, memory_order_relaxed) != UD_MAGIC)
        atomic_fetch_add(&bad_magic, 1);
    atomic_fetch_add_explicit(&u->calls, 1, memory_order_relaxed);
    return NR_OK;
}

typedef struct load {
    nr_pool *pool;
    nr_hooks *h;
    pthread_barrier_t start;
    atomic_int stop;
    atomic_long double_handouts, failures, churns, ops;
} load;

static void *worker(void *arg)
{
    load *l = arg;
    pthread_barrier_wait(&l->start);
    for (int i = 0; i < OPS_EACH || atomic_load(&l->churns) < MIN_CHURNS; i++) {
        atomic_fetch_add(&l->ops, 1);
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        if (nr_pool_acquire(l->pool, NULL, &g, &err) != NR_OK) {
            atomic_fetch_add(&l->failures, 1);
            continue;
        }
        nr_mock_handle *fh = nr_guard_handle(&g);
        if (atomic_fetch_add(&fh->holders, 1) != 0)
            atomic_fetch_add(&l->double_handouts, 1);
        atomic_fetch_sub(&fh->holders, 1);
        if (i % 97 == 0)
            nr_guard_taint(&g); /* destroys and creates too */
        else
            nr_guard_release(&g);
    }
    return NULL;
}

static void *churner(void *arg)
{
    load *l = arg;
    pthread_barrier_wait(&l->start);
    uint32_t ops[] = {NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE) | NR_HOOK_OP_BIT(NR_HOOK_RELEASE),
                      NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE), 0};
    int k = 0;
    while (!atomic_load(&l->stop)) {
        hook_ud *u = malloc(sizeof(*u));
        atomic_init(&u->magic, UD_MAGIC);
        atomic_init(&u->calls, 0);
        nr_hook_def def =
            NR_HOOK_DEF(.name = "churn", .priority = k % 3, .before = k % 2 ? check_ud : NULL,
                        .after = check_ud, .ud = u, .ops = ops[k % 3]);
        uint64_t id;
        assert_int_equal(nr_hooks_add(l->h, &def, &id, NULL), NR_OK);
        nr_sleep_ns(50 * NR_NS_PER_US);
        assert_int_equal(nr_hooks_remove(l->h, id, NULL), NR_OK);
        /* no callback of it runs now, and none will start */
        atomic_store_explicit(&u->magic, UD_POISON, memory_order_relaxed);
        free(u);
        atomic_fetch_add(&l->churns, 1);
        k++;
    }
    return NULL;
}

static void test_add_and_remove_under_load(void **state)
{
    nr_pool_fixture *f = *state;
    load l = {0};
    atomic_store(&bad_magic, 0);
    assert_int_equal(nr_hooks_create(&l.h, NULL, NULL), NR_OK);
    /* one hook that stays, so that the pool always runs through the registry */
    nr_hook_probe steady = {.count_only = 1};
    nr_hook_probe_add(l.h, &steady, "steady", 0, 5);
    f->hooks = l.h;
    f->pcfg.max_size = 3;
    f->pcfg.acquire_timeout_ms = 30000;
    nr_pool_fixture_make(f, "stress");
    l.pool = f->pool;
    assert_int_equal(pthread_barrier_init(&l.start, NULL, WORKERS + 1), 0);
    pthread_t w[WORKERS], c;
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&w[i], NULL, worker, &l), 0);
    assert_int_equal(pthread_create(&c, NULL, churner, &l), 0);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i], NULL);
    atomic_store(&l.stop, 1);
    pthread_join(c, NULL);
    pthread_barrier_destroy(&l.start);

    assert_int_equal(atomic_load(&bad_magic), 0);
    assert_int_equal(atomic_load(&l.double_handouts), 0);
    assert_int_equal(atomic_load(&l.failures), 0);
    assert_true(atomic_load(&l.churns) >= MIN_CHURNS);
    long ops = atomic_load(&l.ops);
    assert_true(ops >= WORKERS * OPS_EACH);
    nr_pool_stats s = nr_pool_fixture_stats(f);
    assert_int_equal(s.acquires, (uint64_t)ops);
    assert_int_equal(s.acquires, s.releases);
    assert_int_equal(s.in_use, 0);
    /* the steady hook saw every operation once, before and after */
    assert_int_equal(atomic_load(&steady.befores[NR_HOOK_ACQUIRE]), ops);
    assert_int_equal(atomic_load(&steady.afters[NR_HOOK_ACQUIRE]), ops);
    assert_int_equal(atomic_load(&steady.afters[NR_HOOK_RELEASE]), ops);
    assert_int_equal(atomic_load(&steady.befores[NR_HOOK_CREATE]),
                     atomic_load(&f->fake.create_calls));
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    /* creates == destroys (also checked by the fixture's teardown) */
    assert_int_equal(atomic_load(&f->fake.creates), atomic_load(&f->fake.destroys));
    assert_int_equal(atomic_load(&steady.afters[NR_HOOK_DESTROY]), atomic_load(&f->fake.destroys));
    assert_int_equal(nr_hooks_destroy(l.h, NULL), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_remove_waits_for_a_running_callback,
                                        nr_pool_fixture_setup, nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_add_and_remove_under_load, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
    };
    return cmocka_run_group_tests_name("hooks_stress", tests, NULL, NULL);
}

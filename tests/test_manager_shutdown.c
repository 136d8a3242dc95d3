/*
 * test_manager_shutdown.c - the manager's phased shutdown: parallel cleanup,
 * leases still out at terminate, shutdown under load, calls after shutdown,
 * and dependents destroyed before their dependencies.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

typedef struct fixture {
    nr_mock fake[3];
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_manager_options mo;
    nr_manager *m;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    for (int i = 0; i < 3; i++)
        nr_mock_init(&f->fake[i]);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    nr_pool_config_default(&f->pcfg);
    nr_manager_options_default(&f->mo);
    f->mo.maintain_interval_ms = 0;
    f->mo.health_interval_ms = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->m) {
        nr_error err = {0};
        if (nr_manager_destroy(f->m, &err) != NR_OK)
            fail_msg("nr_manager_destroy: %s", err.message);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&f->fake[i].creates), atomic_load(&f->fake[i].destroys));
        assert_int_equal(atomic_load(&f->fake[i].live), 0);
    }
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
    return 0;
}

static void make(fixture *f)
{
    nr_error err = {0};
    if (nr_manager_create(&f->m, &f->mo, &err) != NR_OK)
        fail_msg("nr_manager_create: %s", err.message);
}

static int reg(fixture *f, const char *id, int fake, const char *const *deps, size_t ndeps,
               nr_error *err)
{
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = id, .type = &nr_mock_type,
                                          .type_ud = &f->fake[fake], .config = &f->cfg,
                                          .pool = &f->pcfg, .depends_on = deps, .ndepends = ndeps);
    return nr_manager_register(f->m, &s, err);
}

static void start(fixture *f)
{
    nr_error err = {0};
    if (nr_manager_start(f->m, nr_deadline_in_ms(60000), &err) != NR_OK)
        fail_msg("nr_manager_start: %s", err.message);
}

static nr_resource_info info(fixture *f, const char *id)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(f->m, id, &i, &err) != NR_OK)
        fail_msg("info %s: %s", id, err.message);
    return i;
}

/* ---- 1. many slow destroys run in parallel ------------------------------------------- */

static void test_parallel_cleanup(void **state)
{
    fixture *f = *state;
    f->mo.workers = 4;
    f->pcfg.min_idle = 100;
    f->pcfg.max_size = 100;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "slow", 0, NULL, 0, &err), NR_OK);
    start(f);
    assert_int_equal(info(f, "slow").stats.idle, 100);
    assert_int_equal(atomic_load(&f->fake[0].creates), 100);

    atomic_store(&f->fake[0].destroy_delay_ns, 10 * NR_NS_PER_MS);
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    int rc = nr_manager_shutdown(f->m, NULL, &rep, &err);
    if (rc != NR_OK)
        fail_msg("shutdown: %s", err.message);
    assert_int_equal(rep.destroyed, 100);
    assert_int_equal(atomic_load(&f->fake[0].destroys), 100);
    assert_int_equal(atomic_load(&f->fake[0].live), 0);
    assert_int_equal(rep.nleftovers, 0);
    assert_false(rep.drain_timed_out);
    assert_false(rep.cleanup_timed_out);
    /* at least two 10 ms destroys overlapped */
    assert_true(atomic_load(&f->fake[0].destroying_max) >= 2);
    assert_true(rep.total_ns >= rep.cleanup_ns);
    print_message("100 destroys of 10 ms on 4 workers: cleanup %lld ms, total %lld ms, "
                  "peak %d at once\n",
                  (long long)(rep.cleanup_ns / NR_NS_PER_MS),
                  (long long)(rep.total_ns / NR_NS_PER_MS),
                  atomic_load(&f->fake[0].destroying_max));
}

/* ---- 1b. a cleanup timeout shorter than the destroys ---------------------------------- */

/* Shutdown gives up waiting at cleanup_timeout_ms and says so, but the
 * destroys it handed to the background workers still run, every one
 * exactly once: the manager's destroy waits for them, succeeds, and the
 * type saw as many destroys as creates (no connection left open). */
static void test_cleanup_timeout_loses_no_destroy(void **state)
{
    fixture *f = *state;
    f->mo.workers = 2;
    f->pcfg.min_idle = 20;
    f->pcfg.max_size = 20;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "slow", 0, NULL, 0, &err), NR_OK);
    start(f);
    assert_int_equal(info(f, "slow").stats.idle, 20);
    atomic_store(&f->fake[0].destroy_delay_ns, 20 * NR_NS_PER_MS);
    nr_shutdown_options so = NR_SHUTDOWN_OPTIONS(.drain_timeout_ms = 1000, .cleanup_timeout_ms = 1);
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    assert_int_equal(nr_manager_shutdown(f->m, &so, &rep, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "cleanup did not finish within 1 ms");
    assert_true(rep.cleanup_timed_out);
    assert_true(atomic_load(&f->fake[0].destroys) < 20); /* 20 x 20 ms on 2 workers: not yet */
    assert_int_equal(nr_manager_destroy(f->m, &err), NR_OK);
    f->m = NULL;
    assert_int_equal(atomic_load(&f->fake[0].destroys), 20);
    assert_int_equal(atomic_load(&f->fake[0].live), 0);
}

/* ---- 2. a lease still out at shutdown ------------------------------------------------- */

static void test_lease_out_at_shutdown(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 2;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "kept", 0, NULL, 0, &err), NR_OK);
    assert_int_equal(reg(f, "free", 1, NULL, 0, &err), NR_OK);
    start(f);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "kept", NULL, &g, &err), NR_OK);

    nr_shutdown_options so = NR_SHUTDOWN_OPTIONS_INIT;
    nr_shutdown_options_default(&so);
    so.drain_timeout_ms = 20;
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    assert_int_equal(nr_manager_shutdown(f->m, &so, &rep, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "'kept'");
    assert_true(rep.drain_timed_out);
    assert_true(rep.drain_ns >= 20 * NR_NS_PER_MS); /* waited the whole drain */
    assert_int_equal(rep.nleftovers, 1);
    assert_string_equal(rep.leftovers[0].id, "kept");
    assert_int_equal(rep.leftovers[0].leases, 1);
    assert_true(rep.leftovers[0].oldest_lease_ns > 0);
    /* what was idle is gone; the lease is still good */
    assert_int_equal(atomic_load(&f->fake[1].live), 0);
    nr_mock_handle *h = nr_guard_handle(&g);
    assert_true(h->magic == NR_MOCK_MAGIC);
    assert_int_equal(atomic_load(&f->fake[0].live), 1);

    /* nothing is freed while the lease is out */
    assert_int_equal(nr_manager_destroy(f->m, &err), NR_EBUSY);
    NR_ASSERT_ERR(err, NR_EBUSY, NULL);
    assert_true(h->magic == NR_MOCK_MAGIC);
    assert_int_equal(atomic_load(&f->fake[0].live), 1);

    /* given back after shutdown: destroyed at once */
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(atomic_load(&f->fake[0].live), 0);
    assert_int_equal(atomic_load(&f->fake[0].creates), atomic_load(&f->fake[0].destroys));
    assert_int_equal(nr_manager_destroy(f->m, &err), NR_OK);
    f->m = NULL;
}

/* ---- 3. shutdown under load -------------------------------------------------------------- */

enum { LOAD_THREADS = 8 };

static const char *const load_ids[3] = {"base", "app", "side"};

typedef struct load {
    fixture *f;
    pthread_barrier_t go;
    atomic_int shutdown_done; /* set once nr_manager_shutdown has returned NR_OK */
    atomic_long ok, shutdowns, double_handouts, dead_handles, bad_codes, held_across;
    atomic_int bad_code;
    uint64_t seed;
} load;

typedef struct loader {
    load *ld;
    int index;
} loader;

static void *loader_main(void *arg)
{
    loader *me = arg;
    load *ld = me->ld;
    nr_rng r;
    nr_rng_seed(&r, ld->seed + (uint64_t)me->index * 7919);
    pthread_barrier_wait(&ld->go);
    for (;;) {
        const char *id = load_ids[nr_rng_below(&r, 3)];
        int after = atomic_load(&ld->shutdown_done);
        nr_guard g = NR_GUARD_INIT;
        nr_error err;
        nr_error_clear(&err);
        int rc = nr_manager_acquire(ld->f->m, id, NULL, &g, &err);
        if (rc == NR_ESHUTDOWN) {
            if (nr_guard_held(&g))
                atomic_fetch_add(&ld->bad_codes, 1);
            atomic_fetch_add(&ld->shutdowns, 1);
            break;
        }
        if (rc != NR_OK || after) {
            /* anything but a lease or NR_ESHUTDOWN, or a lease after shutdown returned */
            atomic_fetch_add(&ld->bad_codes, 1);
            atomic_store(&ld->bad_code, rc == NR_OK ? 1 : rc);
            if (rc == NR_OK)
                nr_guard_release(&g);
            break;
        }
        atomic_fetch_add(&ld->ok, 1);
        nr_mock_handle *h = nr_guard_handle(&g);
        if (h->magic != NR_MOCK_MAGIC)
            atomic_fetch_add(&ld->dead_handles, 1);
        if (atomic_fetch_add(&h->holders, 1) != 0)
            atomic_fetch_add(&ld->double_handouts, 1);
        if (nr_rng_chance(&r, 1, 2))
            nr_sleep_ns((int64_t)nr_rng_below(&r, 300) * NR_NS_PER_US);
        /* a successful shutdown must have waited for this lease */
        if (atomic_load(&ld->shutdown_done))
            atomic_fetch_add(&ld->held_across, 1);
        if (h->magic != NR_MOCK_MAGIC)
            atomic_fetch_add(&ld->dead_handles, 1);
        atomic_fetch_sub(&h->holders, 1);
        if (nr_guard_release(&g) != NR_OK)
            atomic_fetch_add(&ld->bad_codes, 1);
    }
    return NULL;
}

static void test_shutdown_under_load(void **state)
{
    fixture *f = *state;
    f->mo.workers = 4;
    f->pcfg.min_idle = 1;
    f->pcfg.max_size = 3; /* fewer than the threads: some wait, and wake at shutdown */
    f->pcfg.acquire_timeout_ms = 30000;
    make(f);
    nr_error err = {0};
    const char *on_base[] = {"base"};
    assert_int_equal(reg(f, "app", 1, on_base, 1, &err), NR_OK);
    assert_int_equal(reg(f, "base", 0, NULL, 0, &err), NR_OK);
    assert_int_equal(reg(f, "side", 2, NULL, 0, &err), NR_OK);
    start(f);

    load *ld = calloc(1, sizeof(*ld));
    assert_non_null(ld);
    ld->f = f;
    ld->seed = nr_test_seed("shutdown_under_load");
    pthread_barrier_init(&ld->go, NULL, LOAD_THREADS + 1);
    pthread_t th[LOAD_THREADS];
    loader args[LOAD_THREADS];
    for (int i = 0; i < LOAD_THREADS; i++) {
        args[i] = (loader){ld, i};
        assert_int_equal(pthread_create(&th[i], NULL, loader_main, &args[i]), 0);
    }
    pthread_barrier_wait(&ld->go);
    nr_sleep_ns(50 * NR_NS_PER_MS);
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    int rc = nr_manager_shutdown(f->m, NULL, &rep, &err);
    if (rc == NR_OK)
        atomic_store(&ld->shutdown_done, 1);
    for (int i = 0; i < LOAD_THREADS; i++)
        pthread_join(th[i], NULL);
    if (rc != NR_OK)
        fail_msg("shutdown under load: %s", err.message);
    assert_int_equal(rep.nleftovers, 0);

    print_message("%ld leases before shutdown, %ld threads told NR_ESHUTDOWN\n",
                  atomic_load(&ld->ok), atomic_load(&ld->shutdowns));
    if (atomic_load(&ld->bad_codes))
        fail_msg("%ld acquires gave something other than a lease or NR_ESHUTDOWN (last %d)",
                 atomic_load(&ld->bad_codes), atomic_load(&ld->bad_code));
    assert_int_equal(atomic_load(&ld->shutdowns), LOAD_THREADS);
    assert_int_equal(atomic_load(&ld->double_handouts), 0);
    assert_int_equal(atomic_load(&ld->dead_handles), 0);
    assert_int_equal(atomic_load(&ld->held_across), 0);
    assert_true(atomic_load(&ld->ok) > 0);

    assert_int_equal(nr_manager_destroy(f->m, &err), NR_OK);
    f->m = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&f->fake[i].creates), atomic_load(&f->fake[i].destroys));
        assert_int_equal(atomic_load(&f->fake[i].live), 0);
    }
    pthread_barrier_destroy(&ld->go);
    free(ld);
}

/* ---- 4. calls after shutdown ------------------------------------------------------------ */

static void test_calls_after_shutdown(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 1;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "db", 0, NULL, 0, &err), NR_OK);
    start(f);
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    assert_int_equal(nr_manager_shutdown(f->m, NULL, &rep, &err), NR_OK);
    assert_int_equal(rep.destroyed, 1);
    assert_int_equal(atomic_load(&f->fake[0].live), 0);

    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_ESHUTDOWN);
    NR_ASSERT_ERR(err, NR_ESHUTDOWN, "'db'");
    assert_false(nr_guard_held(&g));

    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "late", .type = &nr_mock_type,
                                          .type_ud = &f->fake[1], .config = &f->cfg);
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_ESHUTDOWN);
    NR_ASSERT_ERR(err, NR_ESHUTDOWN, "'late'");
    assert_int_equal(nr_manager_count(f->m), 1);
    assert_int_equal(atomic_load(&f->fake[1].create_calls), 0);

    /* a second shutdown has nothing left to do */
    long creates = atomic_load(&f->fake[0].creates), destroys = atomic_load(&f->fake[0].destroys);
    memset(&rep, 0xff, sizeof(rep));
    rep.size = sizeof(rep);
    assert_int_equal(nr_manager_shutdown(f->m, NULL, &rep, &err), NR_OK);
    assert_int_equal(rep.destroyed, 0);
    assert_int_equal(rep.nleftovers, 0);
    assert_false(rep.drain_timed_out);
    assert_false(rep.cleanup_timed_out);
    assert_int_equal(atomic_load(&f->fake[0].creates), creates);
    assert_int_equal(atomic_load(&f->fake[0].destroys), destroys);
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_ESHUTDOWN);
}

/* ---- 5. dependents first ------------------------------------------------------------------- */

static atomic_long order_seq;

typedef struct destroy_stamps {
    atomic_long first, last, count;
} destroy_stamps;

static void on_call_order(const char *what, void *arg)
{
    if (strcmp(what, "destroy") != 0)
        return;
    destroy_stamps *st = arg;
    long s = atomic_fetch_add(&order_seq, 1) + 1;
    long cur = atomic_load(&st->first);
    while ((cur == 0 || s < cur) && !atomic_compare_exchange_weak(&st->first, &cur, s)) {
    }
    cur = atomic_load(&st->last);
    while (s > cur && !atomic_compare_exchange_weak(&st->last, &cur, s)) {
    }
    atomic_fetch_add(&st->count, 1);
}

static void test_dependents_destroyed_first(void **state)
{
    fixture *f = *state;
    f->mo.workers = 4;
    f->pcfg.min_idle = 3;
    f->pcfg.max_size = 4;
    static destroy_stamps st[3];
    memset(st, 0, sizeof(st));
    for (int i = 0; i < 3; i++) {
        f->fake[i].on_call = on_call_order;
        f->fake[i].on_call_arg = &st[i];
        /* slow enough that an early destroy of A would overlap B's */
        atomic_store(&f->fake[i].destroy_delay_ns, 2 * NR_NS_PER_MS);
    }
    make(f);
    nr_error err = {0};
    const char *on_a[] = {"A"}, *on_b[] = {"B"};
    /* registered dependents first, so registration order cannot explain the result */
    assert_int_equal(reg(f, "C", 2, on_b, 1, &err), NR_OK);
    assert_int_equal(reg(f, "B", 1, on_a, 1, &err), NR_OK);
    assert_int_equal(reg(f, "A", 0, NULL, 0, &err), NR_OK);
    start(f);
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    assert_int_equal(nr_manager_shutdown(f->m, NULL, &rep, &err), NR_OK);
    assert_int_equal(rep.destroyed, 9);
    for (int i = 0; i < 3; i++)
        assert_int_equal(atomic_load(&st[i].count), 3);
    /* C (on B) before B, B (on A) before A */
    if (!(atomic_load(&st[2].last) < atomic_load(&st[1].first)))
        fail_msg("C's last destroy (%ld) is not before B's first (%ld)", atomic_load(&st[2].last),
                 atomic_load(&st[1].first));
    if (!(atomic_load(&st[1].last) < atomic_load(&st[0].first)))
        fail_msg("B's last destroy (%ld) is not before A's first (%ld)", atomic_load(&st[1].last),
                 atomic_load(&st[0].first));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parallel_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_timeout_loses_no_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_out_at_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_calls_after_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dependents_destroyed_first, setup, teardown),
    };
    return cmocka_run_group_tests_name("manager_shutdown", tests, NULL, NULL);
}

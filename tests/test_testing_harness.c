/*
 * test_testing_harness.c - the testing library's harness
 * (nebula/testing_harness.h): a run under load and every fault passes on a
 * real pool and on a manager's resource, the seed is the one asked for and
 * replays what it promises, bad options are refused naming the field, and
 * each invariant check fires on a scenario built to break it (a type that
 * hands the same handle out twice, one that hands out a destroyed handle, a
 * body that keeps a lease, a lease the workers did not see, a type that
 * loses a destroy, an acquire that returns past its deadline), the report
 * naming the invariant and the seed.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing_harness.h"

static nr_pool *mock_pool(nr_mock *m, int64_t min_idle, int64_t max_size)
{
    nr_pool *p = NULL;
    nr_error err = {0};
    if (nr_test_pool_create(&p, "h", m, min_idle, max_size, &err) != NR_OK)
        fail_msg("pool: %s", err.message);
    return p;
}

static void fill(nr_pool *p)
{
    nr_error err = {0};
    if (nr_pool_fill(p, nr_deadline_in_ms(60000), &err) != NR_OK)
        fail_msg("fill: %s", err.message);
}

static void assert_report_names(const nr_harness_report *r, const char *inv)
{
    char line[512];
    nr_harness_report_format(r, line, sizeof(line));
    char want[64];
    snprintf(want, sizeof(want), "invariant %s broken", inv);
    if (!strstr(line, want) || !strstr(line, "seed="))
        fail_msg("report \"%s\" lacks \"%s\" or the seed", line, want);
    assert_string_equal(nr_invariant_name(r->broken), inv);
    assert_true(r->violations[r->broken] >= 1);
    assert_true(r->first[0] != '\0');
}

/* ---- clean runs ---------------------------------------------------------------------- */

static nr_harness_options loaded(nr_mock *m)
{
    nr_harness_options o =
        NR_HARNESS_OPTIONS(.mock = m, .threads = 4, .ops = 150, .hold_max_us = 500,
                           .deadline_ms = 300, .cancel_permille = 100, .taint_permille = 50,
                           .faults = {.create_fail_permille = 50,
                                      .validate_fail_permille = 50,
                                      .recycle_fail_permille = 50,
                                      .create_delay_us = 200,
                                      .destroy_delay_us = 100,
                                      .health_flip_permille = 100},
                           .resize = true, .evict_all = true, .suspend = true, .destroy = true);
    return o;
}

static void assert_clean(int rc, const nr_harness_report *r, const nr_error *err,
                         const nr_harness_options *o)
{
    if (rc != NR_OK)
        fail_msg("%s: %s", nr_err_name(rc), err->message);
    assert_int_equal(r->broken, NR_INV_NONE);
    for (int i = 0; i < NR_INV_COUNT; i++)
        assert_int_equal(r->violations[i], 0);
    assert_int_equal(r->acquires, (uint64_t)o->threads * o->ops);
    assert_true(r->acquired > 0);
    assert_int_equal(r->released + r->tainted, r->acquired);
    assert_int_equal(r->acquired + r->timedout + r->canceled + r->exhausted + r->unavailable +
                         r->unhealthy + r->other_errors,
                     r->acquires);
    assert_int_equal(r->other_errors, 0);
    assert_true(r->destroyed);
    char line[512];
    nr_harness_report_format(r, line, sizeof(line));
    assert_non_null(strstr(line, "seed="));
    assert_non_null(strstr(line, ": passed ("));
}

static void test_clean_run_on_a_pool(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_pool *p = mock_pool(&m, 1, 3);
    nr_harness_options o = loaded(&m);
    o.pool = p;
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    int rc = nr_harness_run(&o, &r, &err);
    assert_clean(rc, &r, &err, &o);
    assert_true(r.controls > 0);
    assert_int_equal(nr_mock_check_clean(&m, NULL), NR_OK);
    /* the harness put the mock back: no fault left scripted */
    assert_int_equal(atomic_load(&m.fault[NR_MOCK_CREATE].permille), 0);
    assert_int_equal(atomic_load(&m.create_delay_ns), 0);
    assert_int_equal(atomic_load(&m.health), NR_HEALTH_HEALTHY);
}

static void test_clean_run_on_a_manager(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_pool_config pc;
    nr_test_pool_config(&pc, 0, 4);
    nr_manager *mgr = NULL;
    nr_error err = {0};
    if (nr_test_manager_create(&mgr, "db", &m, &pc, &err) != NR_OK)
        fail_msg("manager: %s", err.message);
    nr_harness_options o = loaded(&m);
    o.manager = mgr;
    o.resource_id = "db";
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    int rc = nr_harness_run(&o, &r, &err);
    assert_clean(rc, &r, &err, &o);
    assert_int_equal(nr_mock_check_clean(&m, NULL), NR_OK);
}

static void test_the_tests_own_script_is_left(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    atomic_store(&m.destroy_delay_ns, 1000);
    nr_mock_fail_every(&m, NR_MOCK_VALIDATE, 1000);
    nr_pool *p = mock_pool(&m, 0, 2);
    nr_harness_options o = NR_HARNESS_OPTIONS(.pool = p, .mock = &m, .threads = 2, .ops = 10,
                                              .deadline_ms = 60000, .destroy = true);
    o.faults.create_delay_us = 10; /* the harness's own: cleared at the end */
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    int rc = nr_harness_run(&o, &r, &err);
    assert_clean(rc, &r, &err, &o);
    assert_int_equal(atomic_load(&m.create_delay_ns), 0);
    assert_int_equal(atomic_load(&m.destroy_delay_ns), 1000);
    assert_int_equal(atomic_load(&m.fault[NR_MOCK_VALIDATE].every), 1000);
}

/* ---- the seed ---------------------------------------------------------------------- */

typedef struct script_probe {
    nr_mock *m;
    char fails[101];
} script_probe;

static nr_harness_verdict probe_script(void *ud, nr_guard *g, uint32_t thread, uint32_t op)
{
    (void)g;
    script_probe *sp = ud;
    if (thread == 0 && op == 0) {
        for (int k = 0; k < 100; k++)
            sp->fails[k] = nr_mock_would_fail(sp->m, NR_MOCK_VALIDATE, k + 1) ? '1' : '0';
        sp->fails[100] = '\0';
    }
    return NR_HARNESS_RELEASE;
}

/* One quiet run (every acquire succeeds): its tainted count comes from the
 * workers' draws alone, and the probe reads the validate script. */
static nr_harness_report seeded_run(uint64_t seed, script_probe *sp)
{
    nr_mock m;
    nr_mock_init(&m);
    sp->m = &m;
    nr_pool *p = mock_pool(&m, 2, 2);
    /* a validate rate for the probe to read (a validate failure only
     * replaces the instance: every acquire still succeeds) */
    nr_harness_options o =
        NR_HARNESS_OPTIONS(.pool = p, .mock = &m, .threads = 2, .ops = 60, .deadline_ms = 60000,
                           .taint_permille = 300, .seed = seed, .body = probe_script, .body_ud = sp,
                           .destroy = true);
    o.faults.validate_fail_permille = 300;
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    int rc = nr_harness_run(&o, &r, &err);
    if (rc != NR_OK)
        fail_msg("%s: %s", nr_err_name(rc), err.message);
    assert_int_equal(r.acquired, 120);
    return r;
}

static void test_seed_is_reported_and_replays(void **state)
{
    (void)state;
    script_probe a, b, c;
    nr_harness_report ra = seeded_run(1234, &a), rb = seeded_run(1234, &b),
                      rc = seeded_run(4321, &c);
    assert_int_equal(ra.seed, 1234);
    assert_int_equal(rc.seed, 4321);
    /* the same seed: the same taints (the workers' draws) and the same script */
    assert_int_equal(ra.tainted, rb.tainted);
    assert_string_equal(a.fails, b.fails);
    assert_string_not_equal(a.fails, c.fails);
    assert_true(ra.tainted > 0 && ra.tainted < 120);

    /* NR_TEST_SEED when the options leave it 0; drawn (never 0) without it */
    assert_int_equal(setenv("NR_TEST_SEED", "777", 1), 0);
    assert_int_equal(nr_harness_seed(0), 777);
    assert_int_equal(nr_harness_seed(5), 5);
    assert_int_equal(setenv("NR_TEST_SEED", "0x10", 1), 0);
    assert_int_equal(nr_harness_seed(0), 16);
    assert_int_equal(unsetenv("NR_TEST_SEED"), 0);
    assert_true(nr_harness_seed(0) != 0);
}

/* ---- bad options --------------------------------------------------------------------- */

static void test_bad_options_name_the_field(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_pool *p = mock_pool(&m, 0, 2);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    /* without a mock nothing can be scripted */
    nr_harness_options o = NR_HARNESS_OPTIONS(.pool = p, .faults = {.destroy_delay_us = 10});
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL,
                  "nr_harness_options.faults.destroy_delay_us: needs a mock (opts.mock is NULL)");
    o.faults.destroy_delay_us = 0;
    o.mock = &m;
    o.manager = (nr_manager *)p; /* never used: refused first */
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "nr_harness_options.pool: give a pool or a manager, not both");
    o.manager = NULL;
    o.threads = 300;
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL,
                  "nr_harness_options.threads: must be between 1 and 256 (got 300)");
    o.threads = 1;
    o.faults.create_fail_permille = -1;
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "faults.create_fail_permille: must be between 0 and 1000");
    o.faults.create_fail_permille = 0;
    o.size = 0;
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "nr_harness_options.size");
    assert_int_equal(nr_harness_run(&o, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "report: must not be NULL");
    o.size = sizeof(o);
    nr_harness_report unsized = {0};
    assert_int_equal(nr_harness_run(&o, &unsized, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "nr_harness_report.size: must be set by NR_HARNESS_REPORT_INIT");
    assert_int_equal(nr_harness_run(NULL, &r, &err), NR_EINVAL);
    assert_int_equal(atomic_load(&m.create_calls), 0); /* nothing ran */
    assert_int_equal(nr_test_pool_end(p, &m, &err), NR_OK);
}

/* ---- each invariant fires --------------------------------------------------------------
 * A type over the mock with one fault of its own. */

typedef struct broken {
    nr_mock m;
    pthread_mutex_t mu;
    nr_mock_handle *shared; /* twin: the one handle every create returns */
    int refs;
    nr_mock_handle *kept; /* leaky: the handle whose destroy was lost */
    atomic_int active, active_max;
} broken;

static void broken_init(broken *b)
{
    memset(b, 0, sizeof(*b));
    nr_mock_init(&b->m);
    pthread_mutex_init(&b->mu, NULL);
}

/* twin: every create after the first returns the first's handle */
static int twin_create(void **out, const void *config, const nr_create_ctx *ctx, void *ud,
                       nr_error *err)
{
    broken *b = ud;
    pthread_mutex_lock(&b->mu);
    int rc = NR_OK;
    if (!b->shared) {
        void *h = NULL;
        rc = nr_mock_type.create(&h, config, ctx, &b->m, err);
        b->shared = h;
    }
    if (rc == NR_OK) {
        b->refs++;
        *out = b->shared;
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static void twin_destroy(void *handle, void *ud)
{
    broken *b = ud;
    pthread_mutex_lock(&b->mu);
    if (--b->refs == 0) {
        nr_mock_type.destroy(handle, &b->m);
        b->shared = NULL;
    }
    pthread_mutex_unlock(&b->mu);
}

/* zombie: hands out a handle already marked destroyed */
static int zombie_create(void **out, const void *config, const nr_create_ctx *ctx, void *ud,
                         nr_error *err)
{
    (void)config, (void)ctx, (void)ud, (void)err;
    nr_mock_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return NR_ENOMEM;
    h->magic = NR_MOCK_DEAD;
    *out = h;
    return NR_OK;
}

static void zombie_destroy(void *handle, void *ud)
{
    (void)ud;
    free(handle);
}

/* leaky: the first destroy never reaches the mock */
static int leaky_create(void **out, const void *config, const nr_create_ctx *ctx, void *ud,
                        nr_error *err)
{
    broken *b = ud;
    return nr_mock_type.create(out, config, ctx, &b->m, err);
}

static void leaky_destroy(void *handle, void *ud)
{
    broken *b = ud;
    pthread_mutex_lock(&b->mu);
    bool lose = b->kept == NULL;
    if (lose)
        b->kept = handle;
    pthread_mutex_unlock(&b->mu);
    if (!lose)
        nr_mock_type.destroy(handle, &b->m);
}

static nr_resource_type broken_type(int (*create)(void **, const void *, const nr_create_ctx *,
                                                  void *, nr_error *),
                                    void (*destroy)(void *, void *))
{
    nr_resource_type t = {.version = NR_RESOURCE_TYPE_VERSION,
                          .name = "broken",
                          .config_schema = &nr_mock_config_schema,
                          .create = create,
                          .destroy = destroy};
    return t;
}

static nr_pool *broken_pool(const nr_resource_type *t, broken *b, int64_t min_idle,
                            int64_t max_size)
{
    nr_pool_config pc;
    nr_test_pool_config(&pc, min_idle, max_size);
    nr_pool *p = NULL;
    nr_error err = {0};
    if (nr_test_pool_of(&p, "broken", t, b, nr_mock_config_defaults(), &pc, NULL, &err) != NR_OK)
        fail_msg("pool: %s", err.message);
    return p;
}

/* Holds on until two bodies have run at once (60 s at most). */
static nr_harness_verdict overlap(void *ud, nr_guard *g, uint32_t thread, uint32_t op)
{
    (void)g, (void)thread, (void)op;
    broken *b = ud;
    int now = atomic_fetch_add(&b->active, 1) + 1;
    for (int peak = atomic_load(&b->active_max);
         now > peak && !atomic_compare_exchange_weak(&b->active_max, &peak, now);) {
    }
    nr_deadline d = nr_deadline_in_ms(60000);
    while (atomic_load(&b->active_max) < 2 && !nr_deadline_expired(d))
        nr_sleep_ns(NR_NS_PER_MS);
    atomic_fetch_sub(&b->active, 1);
    return NR_HARNESS_RELEASE;
}

static void test_double_handout_is_caught(void **state)
{
    (void)state;
    broken b;
    broken_init(&b);
    nr_resource_type t = broken_type(twin_create, twin_destroy);
    nr_pool *p = broken_pool(&t, &b, 2, 2);
    fill(p); /* two pool instances, one handle */
    nr_harness_options o =
        NR_HARNESS_OPTIONS(.pool = p, .mock = &b.m, .threads = 2, .ops = 5, .deadline_ms = 60000,
                           .seed = 99, .body = overlap, .body_ud = &b, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_ESTATE);
    assert_int_equal(r.broken, NR_INV_DOUBLE_HANDOUT);
    assert_report_names(&r, "double_handout");
    NR_ASSERT_ERR(err, NR_ESTATE, "harness seed=99: invariant double_handout broken");
    assert_non_null(strstr(r.first, "while 1 other lease(s) held it"));
    assert_int_equal(r.violations[NR_INV_LOST], 0);
    assert_true(r.destroyed);
    assert_int_equal(nr_mock_check_clean(&b.m, NULL), NR_OK);
}

/* Without a mock (a driver's real type): the harness tracks the leased
 * handles itself, so a handle handed out twice is still caught. */
static void test_any_type_double_handout_is_caught(void **state)
{
    (void)state;
    broken b;
    broken_init(&b);
    nr_resource_type t = broken_type(twin_create, twin_destroy);
    nr_pool *p = broken_pool(&t, &b, 2, 2);
    fill(p);
    nr_harness_options o =
        NR_HARNESS_OPTIONS(.pool = p, .threads = 2, .ops = 5, .deadline_ms = 60000, .seed = 98,
                           .body = overlap, .body_ud = &b, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_ESTATE);
    assert_report_names(&r, "double_handout");
    assert_non_null(strstr(r.first, "while another lease held it"));
    assert_true(r.destroyed);
    assert_int_equal(nr_mock_check_clean(&b.m, NULL), NR_OK);
}

/* ... and a clean run of a pool watched without its mock passes. */
static void test_any_type_clean_run(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_pool *p = mock_pool(&m, 1, 3);
    nr_harness_options o =
        NR_HARNESS_OPTIONS(.pool = p, .threads = 4, .ops = 150, .hold_max_us = 500,
                           .deadline_ms = 300, .cancel_permille = 100, .taint_permille = 50,
                           .resize = true, .evict_all = true, .suspend = true, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    int rc = nr_harness_run(&o, &r, &err);
    assert_clean(rc, &r, &err, &o);
    assert_int_equal(nr_mock_check_clean(&m, NULL), NR_OK); /* the test's own check */
}

static void test_stale_handle_is_caught(void **state)
{
    (void)state;
    broken b;
    broken_init(&b);
    nr_resource_type t = broken_type(zombie_create, zombie_destroy);
    nr_pool *p = broken_pool(&t, &b, 0, 2);
    nr_harness_options o = NR_HARNESS_OPTIONS(.pool = p, .mock = &b.m, .threads = 2, .ops = 10,
                                              .deadline_ms = 60000, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_ESTATE);
    assert_int_equal(r.broken, NR_INV_STALE_HANDLE);
    assert_report_names(&r, "stale_handle");
    assert_int_equal(r.violations[NR_INV_STALE_HANDLE], 20); /* every lease */
    assert_non_null(strstr(r.first, "which is not a live mock handle"));
    assert_true(r.destroyed);
}

typedef struct keeper {
    nr_guard kept;
} keeper;

/* Takes the lease of thread 0's op 3 out of its guard and keeps it. */
static nr_harness_verdict keep_one(void *ud, nr_guard *g, uint32_t thread, uint32_t op)
{
    keeper *k = ud;
    if (thread == 0 && op == 3) {
        k->kept = *g;
        *g = (nr_guard)NR_GUARD_INIT;
    }
    return NR_HARNESS_RELEASE;
}

static void test_kept_lease_is_lost_and_left(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_pool *p = mock_pool(&m, 0, 4);
    keeper k = {NR_GUARD_INIT};
    nr_harness_options o =
        NR_HARNESS_OPTIONS(.pool = p, .mock = &m, .threads = 2, .ops = 10, .deadline_ms = 60000,
                           .body = keep_one, .body_ud = &k, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_ESTATE);
    assert_int_equal(r.broken, NR_INV_LOST); /* seen during the run, before the end's check */
    assert_report_names(&r, "lost");
    assert_non_null(strstr(r.first, "thread 0 op 3: the lease left its guard"));
    assert_int_equal(r.violations[NR_INV_LOST], 1);
    assert_int_equal(r.violations[NR_INV_LEASE_LEFT], 1);
    assert_false(r.destroyed); /* a lease is out: the pool is still the test's */
    assert_int_equal(r.released, 19);
    assert_true(nr_guard_held(&k.kept));
    assert_int_equal(nr_guard_release(&k.kept), NR_OK);
    assert_int_equal(nr_test_pool_end(p, &m, &err), NR_OK);
}

/* Takes every lease out of its guard (thread t's op o into slot t * 10 + o). */
static nr_harness_verdict keep_all(void *ud, nr_guard *g, uint32_t thread, uint32_t op)
{
    nr_guard *kept = ud;
    kept[thread * 10 + op] = *g;
    *g = (nr_guard)NR_GUARD_INIT;
    return NR_HARNESS_RELEASE;
}

/* Without a mock, more leases taken out than there are workers: each is
 * lost, and the harness's own set of leased handles (one slot a worker)
 * does not overflow. */
static void test_any_type_many_kept_leases(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_pool *p = mock_pool(&m, 0, 20);
    nr_guard kept[20];
    for (int i = 0; i < 20; i++)
        kept[i] = (nr_guard)NR_GUARD_INIT;
    nr_harness_options o =
        NR_HARNESS_OPTIONS(.pool = p, .threads = 2, .ops = 10, .deadline_ms = 60000,
                           .body = keep_all, .body_ud = kept, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_ESTATE);
    assert_report_names(&r, "lost");
    assert_true(r.violations[NR_INV_LOST] >= 20); /* every lease, and the pool's counts */
    assert_int_equal(r.violations[NR_INV_DOUBLE_HANDOUT], 0);
    assert_false(r.destroyed);
    for (int i = 0; i < 20; i++) {
        assert_true(nr_guard_held(&kept[i]));
        assert_int_equal(nr_guard_release(&kept[i]), NR_OK);
    }
    assert_int_equal(nr_test_pool_end(p, &m, &err), NR_OK);
}

/* Leases a second instance behind the harness's back (and gives it back). */
static nr_harness_verdict side_lease(void *ud, nr_guard *g, uint32_t thread, uint32_t op)
{
    (void)g, (void)thread;
    if (op == 0) {
        nr_guard other = NR_GUARD_INIT;
        if (nr_test_acquire(ud, &other, 60000, NULL) == NR_OK)
            (void)nr_guard_release(&other);
    }
    return NR_HARNESS_RELEASE;
}

static void test_lease_the_workers_did_not_see_is_lost(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_pool *p = mock_pool(&m, 0, 4);
    nr_harness_options o =
        NR_HARNESS_OPTIONS(.pool = p, .mock = &m, .threads = 1, .ops = 10, .deadline_ms = 60000,
                           .body = side_lease, .body_ud = p, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_ESTATE);
    assert_report_names(&r, "lost");
    assert_string_equal(r.first, "the pool counted 11 acquires, the workers got 10 leases");
    assert_int_equal(r.violations[NR_INV_LOST], 2); /* the acquires and the give-backs */
    assert_true(r.destroyed);
    assert_int_equal(nr_mock_check_clean(&m, NULL), NR_OK);
}

static void test_lost_destroy_is_unbalanced(void **state)
{
    (void)state;
    broken b;
    broken_init(&b);
    nr_resource_type t = broken_type(leaky_create, leaky_destroy);
    nr_pool *p = broken_pool(&t, &b, 0, 2);
    nr_harness_options o = NR_HARNESS_OPTIONS(.pool = p, .mock = &b.m, .threads = 2, .ops = 10,
                                              .deadline_ms = 60000, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_ESTATE);
    assert_int_equal(r.broken, NR_INV_UNBALANCED);
    assert_report_names(&r, "unbalanced");
    assert_non_null(strstr(r.first, "after destroy: mock: "));
    assert_non_null(strstr(r.first, "1 live"));
    assert_true(r.destroyed);
    assert_non_null(b.kept);
    nr_mock_type.destroy(b.kept, &b.m);
    assert_int_equal(nr_mock_check_clean(&b.m, NULL), NR_OK);
}

static void slow_validate(const char *what, void *arg)
{
    (void)arg;
    if (strcmp(what, "validate") == 0)
        nr_sleep_ns(60 * NR_NS_PER_MS);
}

static void test_late_acquire_breaks_the_deadline(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    m.on_call = slow_validate; /* the acquire validates past its deadline */
    nr_pool_config pc;
    nr_test_pool_config(&pc, 1, 1);
    pc.validate_bypass_ms = 0; /* every acquire validates */
    nr_pool *p = NULL;
    nr_error perr = {0};
    if (nr_test_pool_of(&p, "late", &nr_mock_type, &m, nr_mock_config_defaults(), &pc, NULL,
                        &perr) != NR_OK)
        fail_msg("pool: %s", perr.message);
    fill(p);
    nr_harness_options o = NR_HARNESS_OPTIONS(.pool = p, .mock = &m, .threads = 1, .ops = 3,
                                              .deadline_ms = 5, .slack_ms = -1, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    nr_error err = {0};
    assert_int_equal(nr_harness_run(&o, &r, &err), NR_ESTATE);
    assert_int_equal(r.broken, NR_INV_DEADLINE);
    assert_report_names(&r, "deadline");
    assert_non_null(strstr(r.first, "after its 5 ms deadline (slack 0 ms)"));
    assert_true(r.latest_ns >= 50 * NR_NS_PER_MS);
    assert_true(r.destroyed);
    assert_int_equal(nr_mock_check_clean(&m, NULL), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_run_on_a_pool),
        cmocka_unit_test(test_clean_run_on_a_manager),
        cmocka_unit_test(test_the_tests_own_script_is_left),
        cmocka_unit_test(test_seed_is_reported_and_replays),
        cmocka_unit_test(test_bad_options_name_the_field),
        cmocka_unit_test(test_double_handout_is_caught),
        cmocka_unit_test(test_any_type_double_handout_is_caught),
        cmocka_unit_test(test_any_type_clean_run),
        cmocka_unit_test(test_stale_handle_is_caught),
        cmocka_unit_test(test_kept_lease_is_lost_and_left),
        cmocka_unit_test(test_any_type_many_kept_leases),
        cmocka_unit_test(test_lease_the_workers_did_not_see_is_lost),
        cmocka_unit_test(test_lost_destroy_is_unbalanced),
        cmocka_unit_test(test_late_acquire_breaks_the_deadline),
    };
    return cmocka_run_group_tests_name("testing_harness", tests, NULL, NULL);
}

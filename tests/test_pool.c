/* test_pool.c - unit tests of the pool and its guards, on the mock resource type. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pool_fixture.h"
#include "pool/pool_internal.h"
#include "testutil.h"

typedef nr_pool_fixture fixture;
#define setup    nr_pool_fixture_setup
#define teardown nr_pool_fixture_teardown

static void make_pool(fixture *f)
{
    nr_pool_fixture_make(f, "db");
}

static nr_pool_stats stats(fixture *f)
{
    return nr_pool_fixture_stats(f);
}

/* ---- creation errors ---- */

static void test_create_rejects_bad_options(void **state)
{
    fixture *f = *state;
    nr_pool *p = (nr_pool *)0x1;
    nr_error err = {0};
    assert_int_equal(nr_pool_create(&p, NULL, &err), NR_EINVAL);
    assert_null(p);

    nr_pool_options o =
        NR_POOL_OPTIONS(.id = NULL, .type = &nr_mock_type, .type_ud = &f->fake, .config = &f->cfg);
    NR_ASSERT_ERR(err, NR_EINVAL, NULL);
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "id is required");

    o.id = "bad/id";
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "pool options: id has invalid character '/' at offset 3");

    char longid[80];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    o.id = longid;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "pool options: id is 79 bytes long; at most 63 are allowed");

    o.id = "db";
    o.type = NULL;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "pool 'db'");

    nr_resource_type broken = nr_mock_type;
    broken.destroy = NULL;
    o.type = &broken;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "destroy is required");

    o.type = &nr_mock_type;
    o.config = NULL;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "config is required");
    assert_null(p);
}

static void test_create_rejects_bad_pool_config(void **state)
{
    fixture *f = *state;
    nr_pool *p = NULL;
    nr_error err = {0};
    nr_pool_options o = NR_POOL_OPTIONS(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                        .config = &f->cfg, .pool = &f->pcfg);
    f->pcfg.max_size = 0;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.pool.max_size");
    assert_string_equal(err.resource_id, "db");

    f->pcfg.max_size = 2;
    f->pcfg.min_idle = 3;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "min_idle must not exceed max_size");

    f->pcfg.min_idle = 0;
    f->cfg.weight = 500;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.config.weight");
    assert_null(p);
}

static void test_create_out_of_memory_at_every_point(void **state)
{
    fixture *f = *state;
    nr_test_alloc_install();
    nr_secret *cred = NULL;
    assert_int_equal(nr_secret_from_str(&cred, "s3cret", NULL), NR_OK);
    nr_pool_options o = NR_POOL_OPTIONS(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                        .config = &f->cfg, .pool = &f->pcfg, .credential = cred);
    int ok = 0;
    for (long k = 0; k < 64 && !ok; k++) {
        nr_pool *p = NULL;
        nr_error err = {0};
        nr_test_alloc_fail_after(k);
        int rc = nr_pool_create(&p, &o, &err);
        nr_test_alloc_reset();
        if (rc == NR_OK) {
            ok = 1;
            assert_int_equal(nr_pool_destroy(p, NULL), NR_OK);
        } else {
            assert_int_equal(rc, NR_ENOMEM);
            assert_null(p);
        }
    }
    assert_true(ok);
    /* A create whose instance record cannot be allocated fails cleanly: the
     * waiter runs out of time with the allocation failure as the cause. */
    make_pool(f);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(300));
    nr_test_alloc_fail_after(0);
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_ETIMEDOUT);
    nr_test_alloc_reset();
    NR_ASSERT_ERR(err, NR_ETIMEDOUT,
                  "the last create failed: out of memory for an instance record");
    assert_int_equal(err.cause, NR_ENOMEM);
    assert_int_equal(stats(f).total, 0);
    assert_true(stats(f).create_failures >= 1);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_secret_free(cred);
    nr_set_allocator(NULL);
}

/* ---- acquire and release ---- */

static void test_acquire_release_reuses_instance(void **state)
{
    fixture *f = *state;
    f->pcfg.validate_bypass_ms = 0; /* validate every reuse */
    make_pool(f);
    nr_guard g = NR_GUARD_INIT;
    assert_false(nr_guard_held(&g));
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_true(nr_guard_held(&g));
    nr_mock_handle *h1 = nr_guard_handle(&g);
    assert_non_null(h1);
    assert_int_equal(h1->magic, NR_MOCK_MAGIC);
    nr_instance_info info;
    assert_int_equal(nr_guard_info(&g, &info), NR_OK);
    assert_int_equal(info.id, 1);
    assert_int_equal(info.state, NR_LC_IN_USE);
    assert_int_equal(info.use_count, 1);
    assert_true(info.created_ns > 0 && info.last_used_ns == info.created_ns);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_false(nr_guard_held(&g));
    assert_null(nr_guard_handle(&g));

    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_ptr_equal(nr_guard_handle(&g), h1);
    assert_int_equal(nr_guard_info(&g, &info), NR_OK);
    assert_int_equal(info.use_count, 2);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_pool_stats s = stats(f);
    assert_int_equal(s.acquires, 2);
    assert_int_equal(s.releases, 2);
    assert_int_equal(s.creates, 1);
    assert_int_equal(s.total, 1);
    assert_int_equal(s.idle, 1);
    assert_int_equal(s.in_use, 0);
    assert_int_equal(atomic_load(&f->fake.validates), 1); /* only the reused one */
    assert_int_equal(atomic_load(&f->fake.recycles), 2);
}

static void test_double_release_is_refused(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard g = NR_GUARD_INIT, copy;
    assert_int_equal(nr_guard_release(&g), NR_OK); /* empty guard: no-op */
    assert_int_equal(nr_guard_release(NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    copy = g;
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_guard_release(&copy), NR_ESTATE);
    /* The stale copy must not release someone else's lease either. */
    nr_guard g2 = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g2, NULL), NR_OK);
    assert_ptr_equal(g2.inst, copy.inst);
    assert_int_equal(nr_guard_taint(&copy), NR_ESTATE);
    nr_instance_info info;
    assert_int_equal(nr_guard_info(&copy, &info), NR_EINVAL);
    assert_int_equal(stats(f).in_use, 1);
    assert_int_equal(nr_guard_release(&g2), NR_OK);
    assert_int_equal(stats(f).releases, 2);
}

static void test_taint_discards(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    void *h1 = nr_guard_handle(&g);
    assert_int_equal(nr_guard_taint(&g), NR_OK);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.taints, 1);
    assert_int_equal(s.total, 0);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    nr_mock_handle *h2 = nr_guard_handle(&g);
    assert_int_equal(h2->serial, 2);
    (void)h1;
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_validate_failure_replaces_instance(void **state)
{
    fixture *f = *state;
    f->pcfg.validate_bypass_ms = 0;
    make_pool(f);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    atomic_store(&f->fake.fail_validate, 1);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    nr_mock_handle *h = nr_guard_handle(&g);
    assert_int_equal(h->serial, 2); /* the idle one was discarded, a new one created */
    assert_int_equal(stats(f).validate_failures, 1);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
    atomic_store(&f->fake.fail_validate, 0);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* validate_on_acquire off: never called */
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    f->pcfg.validate_on_acquire = false;
    make_pool(f);
    long before = atomic_load(&f->fake.validates);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
        assert_int_equal(nr_guard_release(&g), NR_OK);
    }
    assert_int_equal(atomic_load(&f->fake.validates), before);
}

static void test_recycle_failure_discards(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    nr_mock_handle *h = nr_guard_handle(&g);
    atomic_store(&h->dirty, 1);
    atomic_store(&f->fake.fail_recycle, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.recycle_failures, 1);
    assert_int_equal(s.total, 0);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
    atomic_store(&f->fake.fail_recycle, 0);

    /* recycle clears the dirty flag; with recycle_on_release off it stays */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    h = nr_guard_handle(&g);
    atomic_store(&h->dirty, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(atomic_load(&h->dirty), 0);
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    f->pcfg.recycle_on_release = false;
    make_pool(f);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    h = nr_guard_handle(&g);
    atomic_store(&h->dirty, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(atomic_load(&h->dirty), 1);
}

static void test_create_failure_reaches_acquirer(void **state)
{
    fixture *f = *state;
    make_pool(f);
    atomic_store(&f->fake.fail_create, 1);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    /* The caller waits on the pool, not on the create: it runs out of time,
     * and the failed create is the cause, with the driver's code. */
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(250));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT,
                  "no instance became free in time (max_size 4, 0 in use, 0 waiting); the last "
                  "create failed: mock create refused");
    assert_string_equal(err.resource_id, "db");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_int_equal(err.driver_code, 42);
    assert_false(nr_guard_held(&g));
    nr_pool_stats s = stats(f);
    assert_int_equal(s.total, 0);
    assert_int_equal(s.creating, 0);
    assert_true(s.create_failures >= 1);
    assert_int_equal(s.create_failures, s.consecutive_failures);
    /* the fault clears: the pool works again after its backoff */
    atomic_store(&f->fake.fail_create, 0);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    assert_int_equal(stats(f).consecutive_failures, 0);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_credential_reaches_create(void **state)
{
    fixture *f = *state;
    nr_secret *cred = NULL;
    assert_int_equal(nr_secret_from_str(&cred, "hunter22", NULL), NR_OK);
    nr_pool_options o = NR_POOL_OPTIONS(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                        .config = &f->cfg, .pool = &f->pcfg, .credential = cred);
    assert_int_equal(nr_pool_create(&f->pool, &o, NULL), NR_OK);
    nr_secret_free(cred); /* the pool keeps its own copy */
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    nr_mock_handle *h = nr_guard_handle(&g);
    assert_int_equal(h->credential_len, 8);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

/* ---- waiting ---- */

static void test_exhausted_without_wait(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    f->pcfg.acquire_timeout_ms = 0;
    make_pool(f);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT;
    nr_error err = {0};
    /* Nothing idle and no wait allowed: it fails at once, and the create
     * it started lands in the pool for the next caller. */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, &err), NR_EEXHAUSTED);
    NR_ASSERT_ERR(err, NR_EEXHAUSTED, "a new one is being created");
    for (int i = 0; i < 2000 && stats(f).idle == 0; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(stats(f).idle, 1);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, &err), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, &err), NR_EEXHAUSTED);
    NR_ASSERT_ERR(err, NR_EEXHAUSTED, "pool 'db' is exhausted");
    assert_int_equal(stats(f).exhausted, 2);
    assert_int_equal(stats(f).creates, 1);
    assert_int_equal(nr_guard_release(&a), NR_OK);
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    make_pool(f);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, &err), NR_OK);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(20));
    int64_t t0 = nr_now_ns();
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &b, &err), NR_ETIMEDOUT);
    assert_true(nr_now_ns() - t0 >= 20 * NR_NS_PER_MS); /* it did wait until the deadline */
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "no instance became free in time");
    nr_pool_stats s = stats(f);
    assert_int_equal(s.timeouts, 1);
    assert_int_equal(s.waits, 2); /* the first waited for its create */
    assert_int_equal(s.waiters, 0);
    assert_true(s.wait_ns_max >= 20 * NR_NS_PER_MS);
    assert_int_equal(nr_guard_release(&a), NR_OK);
}

typedef struct waiter_arg {
    fixture *f;
    nr_ctx ctx;
    int rc;
    nr_error err;
    int order;
} waiter_arg;

static atomic_int order_counter;

static void *waiter_thread(void *p)
{
    waiter_arg *w = p;
    nr_guard g = NR_GUARD_INIT;
    w->rc = nr_pool_acquire(w->f->pool, &w->ctx, &g, &w->err);
    if (w->rc == NR_OK) {
        w->order = atomic_fetch_add(&order_counter, 1);
        nr_guard_release(&g);
    }
    return NULL;
}

static void wait_for_waiters(fixture *f, uint32_t n)
{
    for (int i = 0; i < 20000 && stats(f).waiters < n; i++)
        nr_sleep_ns(100 * NR_NS_PER_US);
    assert_int_equal(stats(f).waiters, n);
}

static void test_cancel_wakes_waiter(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    make_pool(f);
    nr_cancel *parent = NULL, *child = NULL;
    assert_int_equal(nr_cancel_create(&parent, NULL, NULL), NR_OK);
    assert_int_equal(nr_cancel_create(&child, parent, NULL), NR_OK);
    nr_guard a = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);

    waiter_arg w = {.f = f, .ctx = NR_CTX(.cancel = child, .deadline = nr_deadline_never())};
    pthread_t t;
    pthread_create(&t, NULL, waiter_thread, &w);
    wait_for_waiters(f, 1);
    nr_cancel_trigger(parent); /* the parent's cancel reaches the child's waiter */
    pthread_join(t, NULL);
    assert_int_equal(w.rc, NR_ECANCELED);
    NR_ASSERT_ERR(w.err, NR_ECANCELED, "acquire canceled");
    nr_pool_stats s = stats(f);
    assert_int_equal(s.cancels, 1);
    assert_int_equal(s.waiters, 0);

    /* an already-set token fails at once, even with an idle instance free */
    assert_int_equal(nr_guard_release(&a), NR_OK);
    nr_ctx ctx = NR_CTX(.cancel = child);
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &a, &err), NR_ECANCELED);
    nr_cancel_destroy(child);
    nr_cancel_destroy(parent);
}

static void test_fifo_handoff(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    make_pool(f);
    atomic_store(&order_counter, 0);
    nr_guard a = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    enum { N = 5 };
    waiter_arg w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (waiter_arg){.f = f, .ctx = NR_CTX_INIT};
        pthread_create(&t[i], NULL, waiter_thread, &w[i]);
        wait_for_waiters(f, (uint32_t)i + 1); /* arrival order is known */
    }
    assert_int_equal(nr_guard_release(&a), NR_OK);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(w[i].rc, NR_OK);
        assert_int_equal(w[i].order, i); /* served first come, first served */
    }
    nr_pool_stats s = stats(f);
    assert_int_equal(s.handoffs, N + 1); /* the first came from the creator */
    assert_int_equal(s.creates, 1);
    assert_int_equal(s.acquires, N + 1);
}

static void test_close_wakes_waiters_and_destroys_late_returns(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 2;
    make_pool(f);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&b), NR_OK); /* one idle, one out */
    /* fill the pool so a waiter queues */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    waiter_arg w = {.f = f, .ctx = NR_CTX(.deadline = nr_deadline_never())};
    pthread_t t;
    pthread_create(&t, NULL, waiter_thread, &w);
    wait_for_waiters(f, 1);
    assert_int_equal(nr_guard_release(&b), NR_OK); /* handed to the waiter */
    pthread_join(t, NULL);
    assert_int_equal(w.rc, NR_OK);

    w = (waiter_arg){.f = f, .ctx = NR_CTX(.deadline = nr_deadline_never())};
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    pthread_create(&t, NULL, waiter_thread, &w);
    wait_for_waiters(f, 1);
    nr_error err = {0};
    assert_int_equal(nr_pool_destroy(f->pool, &err), NR_EBUSY); /* closes, frees nothing */
    NR_ASSERT_ERR(err, NR_EBUSY, "still out");
    pthread_join(t, NULL);
    assert_int_equal(w.rc, NR_ESHUTDOWN);
    nr_guard c = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &c, &err), NR_ESHUTDOWN);
    NR_ASSERT_ERR(err, NR_ESHUTDOWN, "shut down");
    long destroyed = atomic_load(&f->fake.destroys);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(atomic_load(&f->fake.destroys), destroyed + 1);
    assert_int_equal(nr_guard_release(&b), NR_OK);
    assert_int_equal(atomic_load(&f->fake.live), 0);
    assert_int_equal(nr_pool_destroy(f->pool, &err), NR_OK);
    f->pool = NULL;
}

static void test_drain(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard a = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    nr_error err = {0};
    assert_int_equal(nr_pool_drain(f->pool, nr_deadline_in_ms(10), &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "1 instance(s) still in use");
    assert_true(stats(f).closed);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(nr_pool_drain(f->pool, nr_deadline_in_ms(1000), &err), NR_OK);
    assert_int_equal(stats(f).total, 0);
}

/* ---- lifetimes, maintenance, health ---- */

static void test_max_lifetime(void **state)
{
    fixture *f = *state;
    f->pcfg.max_lifetime_ms = 1;
    make_pool(f);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&b), NR_OK);
    nr_test_sleep_past_ms(1);
    /* retired when given back */
    assert_int_equal(nr_guard_release(&a), NR_OK);
    /* the idle one is retired on acquire, and a fresh one comes out (on a
     * slow machine the fresh one may itself outlive 1 ms before it is handed
     * out and be replaced again, so only "neither of the first two" holds) */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    nr_mock_handle *h = nr_guard_handle(&a);
    uint64_t serial = h->serial;
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_true(serial >= 3);
    nr_pool_stats s = stats(f);
    assert_true(s.evicted_lifetime >= 2);
    assert_int_equal(atomic_load(&f->fake.destroys), atomic_load(&f->fake.creates) - s.total);
}

static void test_maintain_evicts_idle_and_fills(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 1;
    f->pcfg.idle_timeout_ms = 1;
    make_pool(f);
    nr_error err = {0};
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(stats(f).idle, 1);
    nr_guard g[3] = {NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT};
    for (int i = 0; i < 3; i++)
        assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[i], NULL), NR_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(nr_guard_release(&g[i]), NR_OK);
    assert_int_equal(stats(f).idle, 3);
    nr_test_sleep_past_ms(1);
    nr_pool_maintain_report rep;
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_OK);
    assert_int_equal(rep.evicted_idle, 2); /* min_idle stays */
    assert_int_equal(rep.created, 0);
    assert_int_equal(stats(f).idle, 1);
    /* a lost instance is replaced by the next step */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[0], NULL), NR_OK);
    assert_int_equal(nr_guard_taint(&g[0]), NR_OK);
    assert_int_equal(stats(f).total, 0);
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_OK);
    assert_int_equal(rep.created, 1);
    assert_int_equal(stats(f).idle, 1);
    /* a failing create is reported and leaves the pool consistent */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[0], NULL), NR_OK);
    assert_int_equal(nr_guard_taint(&g[0]), NR_OK);
    atomic_store(&f->fake.fail_create, 1);
    assert_int_equal(nr_pool_maintain(f->pool, &rep, &err), NR_EUNAVAIL);
    assert_int_equal(rep.create_failures, 1);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "pool 'db': create failed");
    nr_pool_stats s = stats(f);
    assert_int_equal(s.total, 0);
    assert_int_equal(s.creating, 0);
    atomic_store(&f->fake.fail_create, 0);
}

static void test_fill_respects_max_and_deadline(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 3;
    f->pcfg.max_size = 3;
    make_pool(f);
    nr_error err = {0};
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ns(-1), &err), NR_ETIMEDOUT);
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.idle, 3);
    assert_int_equal(s.creates, 3);
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(stats(f).creates, 3);
}

static void test_health_check(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard g[3] = {NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT};
    for (int i = 0; i < 3; i++)
        assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[i], NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g[0]), NR_OK);
    assert_int_equal(nr_guard_release(&g[1]), NR_OK);
    nr_pool_health_report rep;
    nr_error err = {0};
    assert_int_equal(nr_pool_check_health(f->pool, 0, &rep, &err), NR_EINVAL);
    assert_int_equal(nr_pool_check_health(f->pool, NR_NS_PER_S, &rep, &err), NR_OK);
    assert_int_equal(rep.checked, 2); /* only idle ones */
    assert_int_equal(rep.healthy, 2);
    assert_int_equal(rep.worst, NR_HEALTH_HEALTHY);
    assert_int_equal(stats(f).idle, 2);

    atomic_store(&f->fake.health, NR_HEALTH_DEGRADED);
    assert_int_equal(nr_pool_check_health(f->pool, NR_NS_PER_S, &rep, &err), NR_OK);
    assert_int_equal(rep.degraded, 2);
    assert_int_equal(rep.discarded, 0);
    assert_int_equal(rep.worst, NR_HEALTH_DEGRADED);

    atomic_store(&f->fake.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(nr_pool_check_health(f->pool, NR_NS_PER_S, &rep, &err), NR_OK);
    assert_int_equal(rep.unhealthy, 2);
    assert_int_equal(rep.discarded, 2);
    assert_string_equal(rep.reason, "mock says so");
    nr_pool_stats s = stats(f);
    assert_int_equal(s.idle, 0);
    assert_int_equal(s.total, 1);
    assert_int_equal(s.health_discards, 2);

    /* a check that overruns its timeout counts as unhealthy */
    atomic_store(&f->fake.health, NR_HEALTH_HEALTHY);
    assert_int_equal(nr_guard_release(&g[2]), NR_OK);
    atomic_store(&f->fake.health_delay_ns, 50 * NR_NS_PER_MS);
    assert_int_equal(nr_pool_check_health(f->pool, 5 * NR_NS_PER_MS, &rep, &err), NR_OK);
    assert_int_equal(rep.unhealthy, 1);
    assert_non_null(strstr(rep.reason, "timed out"));
    atomic_store(&f->fake.health_delay_ns, 0);
}

static void test_scope_isolation(void **state)
{
    fixture *f = *state;
    nr_scope acme, globex, acme_wf;
    assert_int_equal(nr_scope_make(&acme, "acme", NULL, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_scope_make(&globex, "globex", NULL, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_scope_make(&acme_wf, "acme", "billing", NULL, NULL, NULL), NR_OK);
    nr_pool_options o = NR_POOL_OPTIONS(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                        .config = &f->cfg, .pool = &f->pcfg, .scope = &acme);
    assert_int_equal(nr_pool_create(&f->pool, &o, NULL), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.scope = &globex);
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_ESCOPE);
    NR_ASSERT_ERR(err, NR_ESCOPE, "tenant:globex is not inside it");
    assert_int_equal(atomic_load(&f->fake.create_calls), 0);
    ctx.scope = &acme_wf;
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_true(nr_scope_equal(nr_pool_scope(f->pool), &acme));
    assert_string_equal(nr_pool_id(f->pool), "db");
}

static int scoped_release_helper(fixture *f)
{
    NR_GUARD_SCOPED g = NR_GUARD_INIT;
    if (nr_pool_acquire(f->pool, NULL, &g, NULL) != NR_OK)
        return -1;
    return (int)stats(f).in_use;
}

static void test_scoped_guard_releases(void **state)
{
    fixture *f = *state;
    make_pool(f);
    assert_int_equal(scoped_release_helper(f), 1);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.in_use, 0);
    assert_int_equal(s.releases, 1);
}

/* No callback may run with the pool lock held: each callback checks that
 * the lock is free (this test is single-threaded, so trylock is exact). */
static nr_pool *lock_probe_pool;
static atomic_int lock_probe_violations, lock_probe_calls;

static void lock_probe(const char *what, void *arg)
{
    (void)what;
    (void)arg;
    atomic_fetch_add(&lock_probe_calls, 1);
    if (!lock_probe_pool)
        return;
#ifndef NDEBUG
    /* Creates run on the creator thread while this one may hold the lock:
     * what matters is that the thread running the callback holds none. */
    if (atomic_load(&lock_probe_pool->mu_owner) == nr__thread_tag())
        atomic_fetch_add(&lock_probe_violations, 1);
#else
    if (pthread_mutex_trylock(&lock_probe_pool->mu) != 0)
        atomic_fetch_add(&lock_probe_violations, 1);
    else
        pthread_mutex_unlock(&lock_probe_pool->mu);
#endif
}

static void test_no_callback_under_lock(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 2;
    f->pcfg.max_lifetime_ms = 0;
    f->pcfg.validate_bypass_ms = 0;
    f->fake.on_call = lock_probe;
    make_pool(f);
    lock_probe_pool = f->pool;
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(1000), NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK); /* validate */
    assert_int_equal(nr_guard_release(&g), NR_OK);                     /* recycle */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_taint(&g), NR_OK); /* destroy */
    assert_int_equal(nr_pool_check_health(f->pool, NR_NS_PER_S, NULL, NULL), NR_OK);
    assert_int_equal(nr_pool_maintain(f->pool, NULL, NULL), NR_OK); /* create */
    atomic_store(&f->fake.fail_validate, 1);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    atomic_store(&f->fake.fail_validate, 0);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_pool_close(f->pool); /* destroy of idle ones */
    lock_probe_pool = NULL;
    assert_true(atomic_load(&lock_probe_calls) >= 10);
    assert_int_equal(atomic_load(&lock_probe_violations), 0);
}

static void test_stats_match_scripted_workload(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 3;
    make_pool(f);
    nr_guard g[3] = {NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT};
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 3; i++)
            assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[i], NULL), NR_OK);
        assert_int_equal(nr_guard_release(&g[0]), NR_OK);
        assert_int_equal(nr_guard_release(&g[1]), NR_OK);
        if (round % 2)
            assert_int_equal(nr_guard_taint(&g[2]), NR_OK);
        else
            assert_int_equal(nr_guard_release(&g[2]), NR_OK);
    }
    nr_pool_stats s = stats(f);
    assert_int_equal(s.acquires, 30);
    assert_int_equal(s.releases, 30);
    assert_int_equal(s.taints, 5);
    /* each taint but the last one is replaced by a create in the next round */
    assert_int_equal(s.creates, 3 + 4);
    assert_int_equal(s.destroys, 5);
    assert_int_equal(s.total, 2);
    assert_int_equal(s.idle, 2);
    assert_int_equal(s.max_size, 3);
    assert_int_equal(s.waits, 3 + 4); /* each caller that needed a create waited for it */
}

static void test_quiesce_then_wait_returned(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 2;
    make_pool(f);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    waiter_arg w = {.f = f, .ctx = NR_CTX(.deadline = nr_deadline_never())};
    pthread_t t;
    pthread_create(&t, NULL, waiter_thread, &w);
    wait_for_waiters(f, 1);
    assert_int_equal(nr_guard_release(&b), NR_OK); /* handed to the waiter, which releases */
    pthread_join(t, NULL);
    assert_int_equal(w.rc, NR_OK);
    w = (waiter_arg){.f = f, .ctx = NR_CTX(.deadline = nr_deadline_never())};
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    pthread_create(&t, NULL, waiter_thread, &w);
    wait_for_waiters(f, 1);
    nr_test_sleep_past_ms(2);
    nr_pool_quiesce(f->pool);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, NR_ESHUTDOWN); /* waiters wake */
    nr_guard c = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &c, &err), NR_ESHUTDOWN);
    nr_pool_stats s = stats(f);
    assert_true(s.oldest_lease_ns >= 2 * NR_NS_PER_MS);
    assert_int_equal(nr_pool_wait_returned(f->pool, nr_deadline_in_ms(5), &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "2 lease(s) still out (the oldest held for");
    /* given back while quiesced: kept idle, not destroyed */
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(nr_guard_release(&b), NR_OK);
    assert_int_equal(nr_pool_wait_returned(f->pool, nr_deadline_in_ms(1000), &err), NR_OK);
    s = stats(f);
    assert_int_equal(s.idle, 2);
    assert_int_equal(s.destroys, 0);
    assert_int_equal(s.oldest_lease_ns, 0);
    /* maintenance creates nothing while quiesced */
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(100), &err), NR_OK);
    assert_int_equal(stats(f).creates, 2);
    nr_pool_close(f->pool);
    assert_int_equal(stats(f).destroys, 2);
}

typedef struct job_list {
    void (*fn[16])(void *);
    void *arg[16];
    int n, refuse_after;
} job_list;

static int collect_job(void *ud, void (*fn)(void *), void *arg)
{
    job_list *j = ud;
    if (j->n >= j->refuse_after)
        return -1;
    j->fn[j->n] = fn;
    j->arg[j->n++] = arg;
    return 0;
}

typedef struct job_run {
    void (*fn)(void *);
    void *arg;
} job_run;

static void *run_job(void *p)
{
    job_run *r = p;
    r->fn(r->arg);
    return NULL;
}

static void test_close_on_executor(void **state)
{
    fixture *f = *state;
    make_pool(f);
    nr_guard g[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[i], NULL), NR_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(nr_guard_release(&g[i]), NR_OK);
    job_list jobs = {.refuse_after = 3}; /* the fourth job is refused: runs inline */
    nr_executor ex = {collect_job, &jobs};
    nr_pool_close_on(f->pool, &ex);
    assert_int_equal(jobs.n, 3);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
    nr_error err = {0};
    assert_int_equal(nr_pool_destroy(f->pool, &err), NR_EBUSY); /* jobs still pending */
    pthread_t t[3];
    job_run r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (job_run){jobs.fn[i], jobs.arg[i]};
        pthread_create(&t[i], NULL, run_job, &r[i]);
    }
    assert_int_equal(nr_pool_drain(f->pool, nr_deadline_in_ms(5000), &err), NR_OK);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&f->fake.destroys), 4);
    assert_int_equal(stats(f).destroys, 4);
}

static void test_credential_rotation(void **state)
{
    fixture *f = *state;
    nr_secret *old = NULL, *newer = NULL;
    assert_int_equal(nr_secret_from_str(&old, "old", NULL), NR_OK);
    assert_int_equal(nr_secret_from_str(&newer, "newer-secret", NULL), NR_OK);
    nr_pool_options o = NR_POOL_OPTIONS(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                        .config = &f->cfg, .pool = &f->pcfg, .credential = old);
    assert_int_equal(nr_pool_create(&f->pool, &o, NULL), NR_OK);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&a))->credential_len, 3);
    assert_int_equal(nr_guard_release(&b), NR_OK);
    nr_error err = {0};
    assert_int_equal(nr_pool_set_credential(f->pool, newer, &err), NR_OK);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.credential_retired, 1); /* the idle one, at once */
    assert_int_equal(s.idle, 0);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    s = stats(f);
    assert_int_equal(s.credential_retired, 2); /* the leased one, when given back */
    assert_int_equal(s.total, 0);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&a))->credential_len, 12);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(nr_pool_set_credential(f->pool, NULL, &err), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&a))->credential_len, -1);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    /* out of memory keeps the current credential */
    nr_test_alloc_install();
    nr_test_alloc_fail_after(0);
    assert_int_equal(nr_pool_set_credential(f->pool, newer, &err), NR_ENOMEM);
    nr_test_alloc_reset();
    nr_set_allocator(NULL);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &a, NULL), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&a))->credential_len, -1);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    nr_secret_free(old);
    nr_secret_free(newer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_rejects_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_rejects_bad_pool_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_out_of_memory_at_every_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acquire_release_reuses_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_release_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_taint_discards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_failure_replaces_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recycle_failure_discards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_failure_reaches_acquirer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential_reaches_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_without_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_wakes_waiter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_handoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_wakes_waiters_and_destroys_late_returns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_lifetime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintain_evicts_idle_and_fills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_respects_max_and_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scoped_guard_releases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_callback_under_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_match_scripted_workload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiesce_then_wait_returned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_on_executor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential_rotation, setup, teardown),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}

/*
 * test_pool_async.c - the async acquire (nebula/async.h): immediate, queued,
 * deadline, cancel (by handle and by token), shutdown while pending, FIFO
 * order across async and blocking waiters, no driver code on the caller's
 * thread, the executor queue, the manager by id, and a stress run with its
 * invariants. Behaviour only: no timing assertions.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/async.h"
#include "pool_fixture.h"
#include "testutil.h"

typedef nr_pool_fixture fixture;

/* ---- helpers ----------------------------------------------------------------------- */

typedef struct done {
    atomic_int calls; /* how many times the callback ran */
    int rc;
    nr_guard g;
    nr_error err;
    pthread_t thread;
} done;

static void on_done(void *ud, int rc, nr_guard *guard, const nr_error *err)
{
    done *d = ud;
    d->rc = rc;
    d->g = *guard;
    if (err)
        d->err = *err;
    d->thread = pthread_self();
    atomic_fetch_add(&d->calls, 1);
}

/* Whether the queue's fd is readable within ms. */
static int readable(nr_async_queue *q, int ms)
{
    struct pollfd pfd = {.fd = nr_async_queue_fd(q), .events = POLLIN};
    return poll(&pfd, 1, ms) == 1;
}

/* Dispatch until d's callback ran (bounded: fails the test after 10 s). */
static void run_until(nr_async_queue *q, done *d)
{
    for (int i = 0; i < 1000 && atomic_load(&d->calls) == 0; i++) {
        if (readable(q, 10))
            nr_async_queue_dispatch(q, 0);
    }
    assert_int_equal(atomic_load(&d->calls), 1);
}

static nr_async_queue *queue(void)
{
    nr_async_queue *q = NULL;
    nr_error err;
    assert_int_equal(nr_async_queue_create(&q, &err), NR_OK);
    assert_true(nr_async_queue_fd(q) >= 0);
    return q;
}

static void hold(fixture *f, nr_guard *g)
{
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, g, NULL), NR_OK);
}

static nr_ctx within(int64_t ms)
{
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(ms));
    return ctx;
}

static void wait_waiters(fixture *f, uint32_t n)
{
    for (int i = 0; i < 10000 && nr_pool_fixture_stats(f).waiters != n; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(nr_pool_fixture_stats(f).waiters, n);
}

/* ---- immediate and queued ------------------------------------------------------------ */

static void test_immediate_when_idle(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 1;
    nr_pool_fixture_make(f, "async");
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(5000), NULL), NR_OK);
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_async_op *op = (nr_async_op *)&d; /* must be reset to NULL */
    nr_error err;
    nr_ctx ctx = within(5000);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, &op, &err), NR_OK);
    assert_true(nr_guard_held(&g));
    assert_null(op);
    assert_false(readable(q, 0));
    assert_int_equal(nr_async_queue_dispatch(q, 0), 0);
    assert_int_equal(atomic_load(&d.calls), 0); /* an immediate lease runs no callback */
    assert_int_equal(nr_guard_release_async(&g), NR_OK);
    assert_false(nr_guard_held(&g));
    nr_async_queue_destroy(q);
}

static void test_queued_then_given_back(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    nr_pool_fixture_make(f, "async");
    nr_guard held = NR_GUARD_INIT;
    hold(f, &held);
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_async_op *op = NULL;
    nr_ctx ctx = within(10000);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, &op, NULL),
                     NR_PENDING);
    assert_non_null(op);
    assert_false(nr_guard_held(&g));
    assert_int_equal(nr_pool_fixture_stats(f).waiters, 1);
    assert_false(readable(q, 0)); /* nothing yet */
    void *h = nr_guard_handle(&held);
    assert_int_equal(nr_guard_release(&held), NR_OK);
    assert_true(readable(q, 5000));
    assert_int_equal(nr_async_queue_pending(q), 1);
    assert_int_equal(nr_async_queue_dispatch(q, 0), 1);
    assert_int_equal(atomic_load(&d.calls), 1);
    assert_int_equal(d.rc, NR_OK);
    assert_ptr_equal(nr_guard_handle(&d.g), h); /* the one given back */
    assert_false(readable(q, 0));               /* cleared by the dispatch */
    assert_int_equal(nr_pool_fixture_stats(f).waiters, 0);
    assert_int_equal(nr_guard_release_async(&d.g), NR_OK);
    nr_async_queue_destroy(q);
}

static void test_queued_served_by_a_create(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 2;
    nr_pool_fixture_make(f, "async");
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(10000);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL),
                     NR_PENDING);
    run_until(q, &d);
    assert_int_equal(d.rc, NR_OK);
    assert_int_equal(atomic_load(&f->fake.creates), 1);
    assert_int_equal(nr_guard_release(&d.g), NR_OK);
    nr_async_queue_destroy(q);
}

/* ---- deadline, cancel, shutdown ------------------------------------------------------ */

static void test_deadline_times_out_once(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    nr_pool_fixture_make(f, "async");
    nr_guard held = NR_GUARD_INIT;
    hold(f, &held);
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(30);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL),
                     NR_PENDING);
    run_until(q, &d);
    assert_int_equal(d.rc, NR_ETIMEDOUT);
    assert_int_equal(d.err.code, NR_ETIMEDOUT);
    assert_string_equal(d.err.resource_id, "async");
    assert_false(nr_guard_held(&d.g));
    nr_pool_stats st = nr_pool_fixture_stats(f);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.waiters, 0);
    /* given back now, it goes idle: nobody waits any more */
    assert_int_equal(nr_guard_release(&held), NR_OK);
    assert_false(readable(q, 50));
    assert_int_equal(atomic_load(&d.calls), 1);
    nr_async_queue_destroy(q);
}

static void test_deadline_names_failing_creates(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    f->pcfg.breaker_failures = 1000;
    atomic_store(&f->fake.fail_create, 1);
    nr_pool_fixture_make(f, "async");
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(300);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL),
                     NR_PENDING);
    run_until(q, &d);
    assert_int_equal(d.rc, NR_ETIMEDOUT);
    assert_int_equal(d.err.cause, NR_EUNAVAIL);
    assert_non_null(strstr(d.err.message, "mock create refused"));
    /* the worker planned retries while the request waited */
    assert_true(atomic_load(&f->fake.create_calls) >= 2);
    atomic_store(&f->fake.fail_create, 0);
    nr_async_queue_destroy(q);
}

static void test_cancel_by_handle(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    nr_pool_fixture_make(f, "async");
    nr_guard held = NR_GUARD_INIT;
    hold(f, &held);
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_async_op *op = NULL;
    nr_ctx ctx = within(60000);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, &op, NULL),
                     NR_PENDING);
    assert_int_equal(nr_async_cancel(op), NR_OK);
    run_until(q, &d);
    assert_int_equal(d.rc, NR_ECANCELED);
    assert_int_equal(nr_pool_fixture_stats(f).waiters, 0);
    assert_int_equal(nr_pool_fixture_stats(f).cancels, 1);
    assert_int_equal(nr_async_cancel(NULL), NR_EINVAL);

    /* too late: handed an instance already, the cancel changes nothing */
    done d2 = {0};
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d2, &g, &op, NULL),
                     NR_PENDING);
    assert_int_equal(nr_guard_release(&held), NR_OK);
    assert_true(readable(q, 5000));
    assert_int_equal(nr_async_cancel(op), NR_ESTATE);
    run_until(q, &d2);
    assert_int_equal(d2.rc, NR_OK);
    assert_int_equal(nr_guard_release(&d2.g), NR_OK);
    nr_async_queue_destroy(q);
}

static void test_cancel_by_token(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    nr_pool_fixture_make(f, "async");
    nr_guard held = NR_GUARD_INIT;
    hold(f, &held);
    nr_cancel *tok = NULL;
    assert_int_equal(nr_cancel_create(&tok, NULL, NULL), NR_OK);
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(60000), .cancel = tok);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL),
                     NR_PENDING);
    nr_cancel_trigger(tok);
    run_until(q, &d);
    assert_int_equal(d.rc, NR_ECANCELED);
    /* a token already set fails at once, with no callback */
    done d2 = {0};
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d2, &g, NULL, NULL),
                     NR_ECANCELED);
    assert_false(readable(q, 20));
    assert_int_equal(atomic_load(&d2.calls), 0);
    assert_int_equal(nr_guard_release(&held), NR_OK);
    nr_async_queue_destroy(q);
    nr_cancel_destroy(tok);
}

static void test_shutdown_completes_each_pending_once(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    nr_pool_fixture_make(f, "async");
    nr_guard held = NR_GUARD_INIT;
    hold(f, &held);
    nr_async_queue *q = queue();
    enum { N = 16 };
    done d[N];
    memset(d, 0, sizeof(d));
    nr_ctx ctx = within(60000);
    for (int i = 0; i < N; i++) {
        nr_guard g = NR_GUARD_INIT;
        assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d[i], &g, NULL, NULL),
                         NR_PENDING);
    }
    wait_waiters(f, N);
    nr_pool_close(f->pool);
    size_t ran = 0;
    for (int i = 0; i < 1000 && ran < N; i++)
        if (readable(q, 10))
            ran += nr_async_queue_dispatch(q, 0);
    assert_int_equal(ran, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&d[i].calls), 1);
        assert_int_equal(d[i].rc, NR_ESHUTDOWN);
    }
    nr_guard g = NR_GUARD_INIT;
    done late = {0};
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &late, &g, NULL, NULL),
                     NR_ESHUTDOWN);
    assert_int_equal(nr_guard_release(&held), NR_OK);
    assert_false(readable(q, 20));
    nr_async_queue_destroy(q);
}

/* ---- FIFO across async and blocking waiters ---------------------------------------- */

typedef struct fifo {
    fixture *f;
    atomic_int seq;
    int order[4]; /* order[k] = which waiter was k-th served */
} fifo;

typedef struct blocker {
    fifo *fi;
    int who;
    pthread_t t;
} blocker;

static void *blocking_waiter(void *arg)
{
    blocker *b = arg;
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(20000);
    if (nr_pool_acquire(b->fi->f->pool, &ctx, &g, NULL) == NR_OK) {
        b->fi->order[atomic_fetch_add(&b->fi->seq, 1)] = b->who;
        nr_guard_release(&g);
    }
    return NULL;
}

typedef struct served {
    fifo *fi;
    int who;
    atomic_int calls;
} served;

static void on_served(void *ud, int rc, nr_guard *guard, const nr_error *err)
{
    (void)err;
    served *s = ud;
    if (rc == NR_OK) {
        s->fi->order[atomic_fetch_add(&s->fi->seq, 1)] = s->who;
        nr_guard_release_async(guard);
    }
    atomic_fetch_add(&s->calls, 1);
}

static void test_fifo_across_async_and_blocking(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    nr_pool_fixture_make(f, "async");
    nr_guard held = NR_GUARD_INIT;
    hold(f, &held);
    nr_async_queue *q = queue();
    fifo fi = {.f = f};
    blocker b1 = {.fi = &fi, .who = 1}, b3 = {.fi = &fi, .who = 3};
    served a2 = {.fi = &fi, .who = 2}, a4 = {.fi = &fi, .who = 4};
    nr_ctx ctx = within(20000);
    nr_guard g = NR_GUARD_INIT;
    pthread_create(&b1.t, NULL, blocking_waiter, &b1);
    wait_waiters(f, 1);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_served, &a2, &g, NULL, NULL),
                     NR_PENDING);
    pthread_create(&b3.t, NULL, blocking_waiter, &b3);
    wait_waiters(f, 3);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_served, &a4, &g, NULL, NULL),
                     NR_PENDING);
    wait_waiters(f, 4);
    assert_int_equal(nr_guard_release(&held), NR_OK);
    for (int i = 0; i < 2000 && atomic_load(&fi.seq) < 4; i++)
        if (readable(q, 10))
            nr_async_queue_dispatch(q, 0);
    pthread_join(b1.t, NULL);
    pthread_join(b3.t, NULL);
    assert_int_equal(atomic_load(&fi.seq), 4);
    for (int k = 0; k < 4; k++)
        assert_int_equal(fi.order[k], k + 1);
    assert_int_equal(atomic_load(&a2.calls), 1);
    assert_int_equal(atomic_load(&a4.calls), 1);
    nr_async_queue_destroy(q);
}

/* ---- no driver code on the caller's thread ----------------------------------------- */

static pthread_t caller;
static atomic_int on_caller; /* validate, recycle or destroy calls on the caller's thread */

static void watch_caller(const char *what, void *arg)
{
    (void)arg;
    if (strcmp(what, "create") != 0 && pthread_equal(pthread_self(), caller))
        atomic_fetch_add(&on_caller, 1);
}

static void test_validate_and_recycle_run_off_the_caller(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 1;
    f->pcfg.validate_on_acquire = true;
    f->pcfg.validate_bypass_ms = 0;
    f->pcfg.recycle_on_release = true;
    f->fake.on_call = watch_caller;
    nr_pool_fixture_make(f, "async");
    caller = pthread_self();
    atomic_store(&on_caller, 0);
    nr_async_queue *q = queue();
    for (int round = 0; round < 3; round++) {
        done d = {0};
        nr_guard g = NR_GUARD_INIT;
        nr_ctx ctx = within(10000);
        int rc = nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL);
        if (rc == NR_PENDING) {
            run_until(q, &d);
            assert_int_equal(d.rc, NR_OK);
            g = d.g;
        } else {
            /* only a new instance, which needs no validate, comes at once */
            assert_int_equal(rc, NR_OK);
            assert_int_equal(round, 0);
        }
        assert_int_equal(nr_guard_release_async(&g), NR_OK);
        /* the recycle runs on the worker; wait for it before the next round */
        for (int i = 0; i < 5000 && atomic_load(&f->fake.recycles) < round + 1; i++)
            nr_sleep_ns(NR_NS_PER_MS);
        assert_int_equal(atomic_load(&f->fake.recycles), round + 1);
    }
    assert_true(atomic_load(&f->fake.validates) >= 2);
    /* a taint's destroy also runs off the caller */
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(10000);
    int rc = nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL);
    if (rc == NR_PENDING) {
        run_until(q, &d);
        g = d.g;
    }
    assert_int_equal(nr_guard_taint_async(&g), NR_OK);
    for (int i = 0; i < 5000 && atomic_load(&f->fake.destroys) < 1; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
    assert_int_equal(atomic_load(&on_caller), 0);
    nr_async_queue_destroy(q);
}

static atomic_int hang_recycle, in_recycle;

static void slow_recycle(const char *what, void *arg)
{
    (void)arg;
    if (strcmp(what, "recycle") != 0)
        return;
    atomic_store(&in_recycle, 1);
    for (int i = 0; i < 10000 && atomic_load(&hang_recycle); i++)
        nr_sleep_ns(NR_NS_PER_MS);
    atomic_store(&in_recycle, 0);
}

/* A recycle that hangs on the worker does not hold up another request's
 * deadline: the timer thread runs no driver code. */
static void test_deadline_kept_while_a_recycle_hangs(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 2;
    f->pcfg.recycle_on_release = true;
    f->fake.on_call = slow_recycle;
    nr_pool_fixture_make(f, "async");
    nr_guard g1 = NR_GUARD_INIT, g2 = NR_GUARD_INIT;
    hold(f, &g1);
    hold(f, &g2);
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(100);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL),
                     NR_PENDING);
    atomic_store(&hang_recycle, 1);
    assert_int_equal(nr_guard_release_async(&g1), NR_OK);
    for (int i = 0; i < 5000 && !atomic_load(&in_recycle); i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_true(atomic_load(&in_recycle)); /* the recycle runs, and hangs */
    run_until(q, &d);
    assert_int_equal(d.rc, NR_ETIMEDOUT);
    assert_true(atomic_load(&in_recycle)); /* still hanging when the deadline was answered */
    atomic_store(&hang_recycle, 0);
    assert_int_equal(nr_guard_release_async(&g2), NR_OK);
    nr_async_queue_destroy(q);
    /* destroy waits for the deferred give-back (which, the pool being closed
     * by then, may destroy the instance rather than recycle it) */
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    assert_true(atomic_load(&f->fake.recycles) >= 1);
}

static void test_release_async_of_a_stale_guard(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "async");
    nr_guard g = NR_GUARD_INIT;
    hold(f, &g);
    nr_guard copy = g;
    assert_int_equal(nr_guard_release_async(&g), NR_OK);
    assert_int_equal(nr_guard_release_async(&copy), NR_ESTATE);
    assert_int_equal(nr_guard_release_async(&g), NR_OK); /* empty: a no-op */
}

/* ---- the executor queue ------------------------------------------------------------ */

typedef struct job {
    void (*fn)(void *);
    void *arg;
} job;

static void *job_main(void *arg)
{
    job *j = arg;
    j->fn(j->arg);
    free(j);
    return NULL;
}

static atomic_int jobs;

static int thread_submit(void *ud, void (*fn)(void *), void *arg)
{
    (void)ud;
    job *j = malloc(sizeof(*j));
    if (!j)
        return -1;
    j->fn = fn;
    j->arg = arg;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, job_main, j);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        free(j);
        return -1;
    }
    atomic_fetch_add(&jobs, 1);
    return 0;
}

static void test_executor_queue(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    nr_pool_fixture_make(f, "async");
    nr_executor ex = {.submit = thread_submit};
    nr_async_queue *q = NULL;
    assert_int_equal(nr_async_queue_create_on(&q, &ex, NULL), NR_OK);
    assert_int_equal(nr_async_queue_fd(q), -1);
    nr_executor none = {0};
    nr_async_queue *bad = NULL;
    nr_error err;
    assert_int_equal(nr_async_queue_create_on(&bad, &none, &err), NR_EINVAL);
    assert_null(bad);
    nr_guard held = NR_GUARD_INIT;
    hold(f, &held);
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(10000);
    atomic_store(&jobs, 0);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL),
                     NR_PENDING);
    assert_int_equal(nr_guard_release(&held), NR_OK);
    for (int i = 0; i < 10000 && atomic_load(&d.calls) == 0; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(atomic_load(&d.calls), 1);
    assert_int_equal(d.rc, NR_OK);
    assert_int_equal(atomic_load(&jobs), 1);
    assert_false(pthread_equal(d.thread, pthread_self()));
    assert_int_equal(nr_guard_release(&d.g), NR_OK);
    assert_int_equal(nr_async_queue_dispatch(q, 0), 0);
    nr_async_queue_destroy(q);
}

/* ---- refusals --------------------------------------------------------------------- */

static void test_refusals(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    f->pcfg.max_waiters = 1;
    nr_pool_fixture_make(f, "async");
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_error err;
    nr_ctx ctx = within(10000);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, NULL, on_done, &d, &g, NULL, &err),
                     NR_EINVAL);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, NULL, &d, &g, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_pool_acquire_async(NULL, &ctx, q, on_done, &d, &g, NULL, &err), NR_EINVAL);
    nr_guard held = NR_GUARD_INIT;
    hold(f, &held);
    /* a deadline that allows no wait */
    nr_ctx now = NR_CTX(.deadline = nr_deadline_in_ns(0));
    assert_int_equal(nr_pool_acquire_async(f->pool, &now, q, on_done, &d, &g, NULL, &err),
                     NR_EEXHAUSTED);
    /* max_waiters */
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, &err),
                     NR_PENDING);
    done d2 = {0};
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d2, &g, NULL, &err),
                     NR_EEXHAUSTED);
    assert_non_null(strstr(err.message, "max_waiters"));
    assert_int_equal(nr_guard_release(&held), NR_OK);
    run_until(q, &d);
    assert_int_equal(nr_guard_release(&d.g), NR_OK);
    assert_int_equal(atomic_load(&d2.calls), 0);
    nr_async_queue_destroy(q);
}

typedef struct hookrec {
    atomic_int befores, afters, on_caller;
    atomic_int refuse; /* the before refuses while set */
    int after_rc;
    uint64_t after_instance;
    char caller[32];
    int scoped;
} hookrec;

static int rec_before(void *ud, const nr_hook_call *call, nr_error *err)
{
    hookrec *h = ud;
    atomic_fetch_add(&h->befores, 1);
    if (pthread_equal(pthread_self(), caller))
        atomic_fetch_add(&h->on_caller, 1);
    if (call->caller)
        snprintf(h->caller, sizeof(h->caller), "%s", call->caller);
    h->scoped = call->caller_scope != NULL;
    if (atomic_load(&h->refuse))
        return nr_error_set(err, NR_EPERM, call->resource_id, "refused by the test hook");
    return NR_OK;
}

static int rec_after(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)err;
    hookrec *h = ud;
    h->after_rc = call->rc;
    h->after_instance = call->instance_id;
    if (pthread_equal(pthread_self(), caller))
        atomic_fetch_add(&h->on_caller, 1);
    atomic_fetch_add(&h->afters, 1);
    return NR_OK;
}

/* Acquire hooks run on the worker: the befores before the request queues
 * (a refusal completes it with the hook's error), the afters with the
 * outcome before the callback. */
static void test_acquire_hooks_run_off_the_caller(void **state)
{
    fixture *f = *state;
    hookrec h = {0};
    nr_hooks *hooks = NULL;
    assert_int_equal(nr_hooks_create(&hooks, NULL, NULL), NR_OK);
    nr_hook_def def = NR_HOOK_DEF(.name = "rec", .before = rec_before, .after = rec_after, .ud = &h,
                                  .ops = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE));
    assert_int_equal(nr_hooks_add(hooks, &def, NULL, NULL), NR_OK);
    f->hooks = hooks;
    f->pcfg.max_size = 1;
    f->pcfg.min_idle = 1;
    nr_pool_fixture_make(f, "async");
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(5000), NULL), NR_OK);
    caller = pthread_self();
    nr_async_queue *q = queue();
    nr_scope sc;
    nr_scope_global(&sc);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000), .caller = "loop-7", .scope = &sc);

    /* an idle instance: still pending, since the befores run on the worker */
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL),
                     NR_PENDING);
    assert_false(nr_guard_held(&g));
    run_until(q, &d);
    assert_int_equal(d.rc, NR_OK);
    assert_int_equal(atomic_load(&h.befores), 1);
    assert_int_equal(atomic_load(&h.afters), 1); /* before the callback */
    assert_int_equal(h.after_rc, NR_OK);
    assert_true(h.after_instance > 0);
    assert_string_equal(h.caller, "loop-7");
    assert_true(h.scoped);

    /* queued behind the lease, served when it is given back */
    done d2 = {0};
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d2, &g, NULL, NULL),
                     NR_PENDING);
    wait_waiters(f, 1);
    assert_int_equal(nr_guard_release(&d.g), NR_OK);
    run_until(q, &d2);
    assert_int_equal(d2.rc, NR_OK);
    assert_int_equal(atomic_load(&h.afters), 2);

    /* a refusal completes the request with the hook's error, and no after */
    atomic_store(&h.refuse, 1);
    done d3 = {0};
    nr_error err;
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d3, &g, NULL, &err),
                     NR_PENDING);
    run_until(q, &d3);
    assert_int_equal(d3.rc, NR_EPERM);
    assert_non_null(strstr(d3.err.message, "refused by the test hook"));
    assert_int_equal(atomic_load(&h.afters), 2);
    atomic_store(&h.refuse, 0);

    /* cancelled by its handle while pending behind the lease */
    done d4 = {0};
    nr_async_op *op = NULL;
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d4, &g, &op, NULL),
                     NR_PENDING);
    assert_int_equal(nr_async_cancel(op), NR_OK);
    run_until(q, &d4);
    assert_int_equal(d4.rc, NR_ECANCELED);
    assert_int_equal(h.after_rc, NR_ECANCELED);

    assert_int_equal(atomic_load(&h.on_caller), 0);
    assert_int_equal(nr_guard_release(&d2.g), NR_OK);
    nr_async_queue_destroy(q);
    f->hooks = NULL;
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    nr_hooks_destroy(hooks, NULL);
}

static void test_queue_destroy_gives_leases_back(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    nr_pool_fixture_make(f, "async");
    nr_guard held = NR_GUARD_INIT;
    hold(f, &held);
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(10000);
    assert_int_equal(nr_pool_acquire_async(f->pool, &ctx, q, on_done, &d, &g, NULL, NULL),
                     NR_PENDING);
    assert_int_equal(nr_guard_release(&held), NR_OK);
    assert_true(readable(q, 5000));
    nr_async_queue_destroy(q); /* the lease inside goes back, no callback */
    assert_int_equal(atomic_load(&d.calls), 0);
    nr_pool_stats st = nr_pool_fixture_stats(f);
    assert_int_equal(st.in_use, 0);
}

/* ---- stress: one loop thread and blocking threads share the pool ------------------- */

enum { LOOP_REQS = 2000, BLOCKERS = 3, BLOCKER_OPS = 300 };

typedef struct stress {
    fixture *f;
    nr_async_queue *q;
    atomic_int answered, ok, failed, twice, outstanding;
    atomic_int calls[LOOP_REQS];
} stress;

typedef struct sreq {
    stress *s;
    int i;
} sreq;

static void on_stress(void *ud, int rc, nr_guard *guard, const nr_error *err)
{
    (void)err;
    sreq *r = ud;
    stress *s = r->s;
    if (atomic_fetch_add(&s->calls[r->i], 1) != 0)
        atomic_fetch_add(&s->twice, 1);
    atomic_fetch_add(&s->answered, 1);
    if (rc == NR_OK) {
        nr_mock_handle *h = nr_guard_handle(guard);
        if (nr_mock_hold(h) != NR_OK) /* held by someone else: handed out twice */
            atomic_fetch_add(&s->twice, 1);
        nr_mock_unhold(h);
        atomic_fetch_add(&s->ok, 1);
        if (r->i % 7 == 0)
            nr_guard_taint_async(guard);
        else
            nr_guard_release_async(guard);
    } else {
        atomic_fetch_add(&s->failed, 1);
    }
}

static void *stress_blocker(void *arg)
{
    stress *s = arg;
    for (int i = 0; i < BLOCKER_OPS; i++) {
        nr_guard g = NR_GUARD_INIT;
        nr_ctx ctx = within(20000);
        if (nr_pool_acquire(s->f->pool, &ctx, &g, NULL) == NR_OK) {
            nr_mock_handle *h = nr_guard_handle(&g);
            if (nr_mock_hold(h) != NR_OK)
                atomic_fetch_add(&s->twice, 1);
            nr_mock_unhold(h);
            nr_guard_release(&g);
        }
    }
    return NULL;
}

static void test_stress_loop_and_blocking(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 4;
    f->pcfg.validate_on_acquire = true;
    f->pcfg.validate_bypass_ms = 0;
    f->pcfg.recycle_on_release = true;
    nr_pool_fixture_make(f, "async");
    nr_mock_fail_every(&f->fake, NR_MOCK_VALIDATE, 11);
    stress *s = calloc(1, sizeof(*s));
    sreq *reqs = calloc(LOOP_REQS, sizeof(*reqs));
    assert_non_null(s);
    assert_non_null(reqs);
    s->f = f;
    s->q = queue();
    pthread_t t[BLOCKERS];
    for (int i = 0; i < BLOCKERS; i++)
        pthread_create(&t[i], NULL, stress_blocker, s);
    nr_cancel *tok = NULL;
    assert_int_equal(nr_cancel_create(&tok, NULL, NULL), NR_OK);
    int issued = 0, immediate = 0;
    while (issued < LOOP_REQS || atomic_load(&s->answered) + immediate < LOOP_REQS) {
        /* keep up to 200 requests in flight on the loop */
        while (issued < LOOP_REQS && issued - atomic_load(&s->answered) - immediate < 200) {
            reqs[issued] = (sreq){s, issued};
            nr_guard g = NR_GUARD_INIT;
            nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(issued % 50 == 0 ? 1 : 20000),
                                .cancel = issued % 97 == 0 ? tok : NULL);
            nr_async_op *op = NULL;
            int rc =
                nr_pool_acquire_async(f->pool, &ctx, s->q, on_stress, &reqs[issued], &g, &op, NULL);
            if (rc == NR_OK) {
                immediate++;
                nr_guard_release_async(&g);
            } else if (rc == NR_PENDING) {
                if (issued % 31 == 0)
                    nr_async_cancel(op);
            } else {
                immediate++; /* refused at once: no callback */
            }
            issued++;
        }
        if (readable(s->q, 100))
            nr_async_queue_dispatch(s->q, 64);
    }
    for (int i = 0; i < BLOCKERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&s->twice), 0);
    assert_int_equal(atomic_load(&s->answered) + immediate, LOOP_REQS);
    for (int i = 0; i < LOOP_REQS; i++)
        assert_true(atomic_load(&s->calls[i]) <= 1);
    assert_true(atomic_load(&s->ok) > 0);
    nr_async_queue_destroy(s->q);
    nr_cancel_destroy(tok);
    free(reqs);
    free(s);
    /* teardown: the pool is destroyed and every create matched by a destroy */
}

/* ---- the manager ------------------------------------------------------------------- */

static void test_manager_by_id(void **state)
{
    (void)state;
    nr_mock mk;
    nr_mock_init(&mk);
    nr_pool_config pc;
    nr_test_pool_config(&pc, 0, 1);
    nr_manager *m = NULL;
    nr_error err;
    assert_int_equal(nr_test_manager_create(&m, "db", &mk, &pc, &err), NR_OK);
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(10000);
    int rc = nr_manager_acquire_async(m, "db", &ctx, q, on_done, &d, &g, NULL, &err);
    if (rc == NR_PENDING) {
        run_until(q, &d);
        assert_int_equal(d.rc, NR_OK);
        g = d.g;
    } else {
        assert_int_equal(rc, NR_OK);
    }
    done d2 = {0};
    nr_guard g2 = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire_async(m, "db", &ctx, q, on_done, &d2, &g2, NULL, &err),
                     NR_PENDING);
    assert_int_equal(nr_guard_release_async(&g), NR_OK);
    run_until(q, &d2);
    assert_int_equal(d2.rc, NR_OK);
    assert_int_equal(nr_guard_release(&d2.g), NR_OK);
    assert_int_equal(nr_manager_acquire_async(m, "nope", &ctx, q, on_done, &d2, &g2, NULL, &err),
                     NR_ENOTFOUND);
    assert_int_equal(nr_manager_acquire_async(m, "db", &ctx, NULL, on_done, &d2, &g2, NULL, &err),
                     NR_EINVAL);
    nr_async_queue_destroy(q);
    assert_int_equal(nr_test_manager_end(m, &mk, 5000, &err), NR_OK);
}

/* A request pending on a pool that a reload replaces moves to the new pool
 * and is served there, as a blocking acquire would be. */
static void test_manager_request_moves_on_reload(void **state)
{
    (void)state;
    nr_mock mk;
    nr_mock_init(&mk);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    nr_pool_config pc;
    nr_test_pool_config(&pc, 0, 1);
    nr_manager_options mo;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.workers = 2;
    nr_manager *m = NULL;
    nr_error err;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &mk,
                                          .config = &cfg, .pool = &pc);
    assert_int_equal(nr_manager_register(m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_guard held = NR_GUARD_INIT;
    assert_int_equal(nr_test_manager_acquire(m, "db", &held, 5000, &err), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&held))->weight, 1);
    nr_async_queue *q = queue();
    done d = {0};
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = within(20000);
    assert_int_equal(nr_manager_acquire_async(m, "db", &ctx, q, on_done, &d, &g, NULL, &err),
                     NR_PENDING);
    cfg.weight = 2; /* a driver config change: a new pool */
    nr_reload_report rep;
    assert_int_equal(nr_manager_reload(m, &s, &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_NEW_POOL);
    run_until(q, &d);
    assert_int_equal(d.rc, NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&d.g))->weight, 2); /* the new pool's */
    assert_int_equal(nr_guard_release(&d.g), NR_OK);
    assert_int_equal(nr_guard_release(&held), NR_OK);
    nr_async_queue_destroy(q);
    assert_int_equal(nr_test_manager_end(m, &mk, 5000, &err), NR_OK);
    nr_config_free(&nr_mock_config_schema, &cfg);
}

#define T(name)                                                                                    \
    cmocka_unit_test_setup_teardown(name, nr_pool_fixture_setup, nr_pool_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_immediate_when_idle),
        T(test_queued_then_given_back),
        T(test_queued_served_by_a_create),
        T(test_deadline_times_out_once),
        T(test_deadline_names_failing_creates),
        T(test_cancel_by_handle),
        T(test_cancel_by_token),
        T(test_shutdown_completes_each_pending_once),
        T(test_fifo_across_async_and_blocking),
        T(test_validate_and_recycle_run_off_the_caller),
        T(test_deadline_kept_while_a_recycle_hangs),
        T(test_release_async_of_a_stale_guard),
        T(test_executor_queue),
        T(test_refusals),
        T(test_acquire_hooks_run_off_the_caller),
        T(test_queue_destroy_gives_leases_back),
        T(test_stress_loop_and_blocking),
        cmocka_unit_test(test_manager_by_id),
        cmocka_unit_test(test_manager_request_moves_on_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

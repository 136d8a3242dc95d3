/*
 * test_pool_control.c - the creator (creates off the caller, max_connecting,
 * the spike), honest failure (backoff, the breaker, the cause of a timeout)
 * and the operator controls (resize, suspend/resume, evict-all, detach,
 * max_waiters, leak reports). Behaviour only: counts, never timings.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/trace.h"
#include "pool/pool_internal.h"
#include "pool_fixture.h"
#include "testutil.h"

typedef nr_pool_fixture fixture;

static nr_pool_stats stats(fixture *f)
{
    return nr_pool_fixture_stats(f);
}

static void wait_idle(fixture *f, uint32_t n)
{
    for (int i = 0; i < 5000 && stats(f).idle < n; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_true(stats(f).idle >= n);
}

/* ---- the creator ------------------------------------------------------------------ */

/* Records whether a create ever ran on a caller's thread. */
static pthread_t caller_threads[64];
static atomic_int ncallers, create_on_caller;

static void track_create(const char *what, void *arg)
{
    (void)arg;
    if (strcmp(what, "create") != 0)
        return;
    pthread_t self = pthread_self();
    int n = atomic_load(&ncallers);
    for (int i = 0; i < n; i++)
        if (pthread_equal(caller_threads[i], self))
            atomic_fetch_add(&create_on_caller, 1);
}

/* Samples the creates running at once while the spike runs. */
typedef struct sampler {
    fixture *f;
    atomic_int stop;
    uint32_t peak;
} sampler;

static void *sample_creating(void *arg)
{
    sampler *s = arg;
    while (!atomic_load(&s->stop)) {
        uint32_t c = nr_pool_fixture_stats(s->f).creating;
        if (c > s->peak)
            s->peak = c;
        nr_sleep_ns(NR_NS_PER_MS / 2);
    }
    return NULL;
}

typedef struct spike_arg {
    fixture *f;
    pthread_barrier_t *bar;
    int rc;
} spike_arg;

static void *spike_caller(void *arg)
{
    spike_arg *a = arg;
    pthread_barrier_wait(a->bar);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(30000));
    a->rc = nr_pool_acquire(a->f->pool, &ctx, &g, NULL);
    if (a->rc == NR_OK) {
        nr_sleep_ns(2 * NR_NS_PER_MS);
        nr_guard_release(&g);
    }
    return NULL;
}

/* HikariCP's spike: slow creates, 5 warm, 50 callers at once. The callers
 * are served by the warm instances; the creates they caused are few, run at
 * most max_connecting at a time, never on a caller, and land in the pool. */
static void test_spike_creates_near_demand(void **state)
{
    fixture *f = *state;
    enum { N = 50 };
    f->pcfg.max_size = N;
    f->pcfg.min_idle = 5;
    f->fake.on_call = track_create;
    atomic_store(&create_on_caller, 0);
    nr_pool_fixture_make(f, "spike");
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(5000), NULL), NR_OK);
    assert_int_equal(stats(f).idle, 5);
    atomic_store(&f->fake.create_delay_ns, 150 * NR_NS_PER_MS);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N + 1);
    spike_arg a[N];
    pthread_t t[N];
    atomic_store(&ncallers, 0);
    for (int i = 0; i < N; i++) {
        a[i] = (spike_arg){.f = f, .bar = &bar};
        pthread_create(&t[i], NULL, spike_caller, &a[i]);
        caller_threads[i] = t[i];
    }
    atomic_store(&ncallers, N);
    sampler smp = {.f = f};
    pthread_t st;
    pthread_create(&st, NULL, sample_creating, &smp);
    pthread_barrier_wait(&bar);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].rc, NR_OK);
    }
    /* the creates the spike caused finish and land in the pool */
    nr_pool_stats s = NR_POOL_STATS_INIT;
    for (int i = 0; i < 5000 && (s = stats(f)).creating > 0; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    atomic_store(&smp.stop, 1);
    pthread_join(st, NULL);
    s = stats(f);
    atomic_store(&ncallers, 0);
    assert_int_equal(s.creating, 0);
    assert_int_equal(atomic_load(&create_on_caller), 0);
    assert_true(smp.peak <= 2); /* max_connecting */
    /* 5 warm + a few rounds of 2: nowhere near one per caller (50) */
    assert_true(s.creates >= 5 && s.creates <= 5 + 2 * 4);
    assert_int_equal(s.total, s.creates);
    assert_int_equal(s.idle, s.total);
    assert_int_equal(s.acquires, N);
}

/* ---- honest failure ---------------------------------------------------------------- */

static void test_breaker_opens_then_trial_closes_it(void **state)
{
    fixture *f = *state;
    f->pcfg.breaker_failures = 3;
    f->pcfg.create_backoff_ms = 5;
    f->pcfg.create_backoff_max_ms = 20;
    nr_pool_fixture_make(f, "db");
    atomic_store(&f->fake.fail_create, 1);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(2000));
    /* the wait retries with backoff until the breaker opens: then it fails */
    int rc;
    for (int i = 0; i < 100 && (rc = nr_pool_acquire(f->pool, &ctx, &g, &err)) != NR_EUNAVAIL; i++)
        ctx.deadline = nr_deadline_in_ms(200);
    assert_int_equal(rc, NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "creates failed in a row (the breaker is open)");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "mock create refused");
    assert_int_equal(err.driver_code, 42);
    nr_pool_stats s = stats(f);
    assert_true(s.breaker_open);
    assert_int_equal(s.breaker_opens, 1);
    assert_true(s.consecutive_failures >= 3);
    assert_int_equal(s.create_failures, s.consecutive_failures);
    /* open: a caller fails at once, without waiting */
    ctx.deadline = nr_deadline_never();
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_EUNAVAIL);
    /* the backend returns: a trial create closes the breaker */
    atomic_store(&f->fake.fail_create, 0);
    for (int i = 0; i < 2000 && nr_pool_acquire(f->pool, &ctx, &g, &err) != NR_OK; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_true(nr_guard_held(&g));
    s = stats(f);
    assert_false(s.breaker_open);
    assert_int_equal(s.consecutive_failures, 0);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_backoff_spaces_retries(void **state)
{
    fixture *f = *state;
    f->pcfg.breaker_failures = 0; /* never opens */
    f->pcfg.create_backoff_ms = 100;
    f->pcfg.create_backoff_factor = 1.0;
    nr_pool_fixture_make(f, "db");
    atomic_store(&f->fake.fail_create, 1);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(300));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_ETIMEDOUT);
    assert_int_equal(err.cause, NR_EUNAVAIL);
    /* 300 ms with a 50..100 ms delay between tries: a handful, not a storm */
    long calls = atomic_load(&f->fake.create_calls);
    assert_true(calls >= 2 && calls <= 8);
    assert_false(stats(f).breaker_open);
    atomic_store(&f->fake.fail_create, 0);
}

/* ---- controls ------------------------------------------------------------------------- */

static void test_resize_grows_and_shrinks(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 2;
    f->pcfg.min_idle = 2;
    nr_pool_fixture_make(f, "db");
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(2000), NULL), NR_OK);
    nr_error err = {0};
    assert_int_equal(nr_pool_resize(f->pool, 5, 3, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "min_idle");
    assert_int_equal(nr_pool_resize(f->pool, 0, 0, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "max_size");
    nr_guard g[4] = {NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT};
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[0], NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[1], NULL), NR_OK);
    nr_ctx zero = NR_CTX(.deadline = nr_deadline_in_ns(0));
    assert_int_equal(nr_pool_acquire(f->pool, &zero, &g[2], NULL), NR_EEXHAUSTED);
    /* grow: a caller gets a new instance */
    assert_int_equal(nr_pool_resize(f->pool, 0, 4, &err), NR_OK);
    assert_int_equal(stats(f).max_size, 4);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[2], NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[3], NULL), NR_OK);
    assert_int_equal(stats(f).total, 4);
    /* shrink below what is out: nothing is taken away, give-backs retire */
    assert_int_equal(nr_pool_resize(f->pool, 0, 1, &err), NR_OK);
    assert_int_equal(stats(f).in_use, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(nr_guard_release(&g[i]), NR_OK);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.total, 1);
    assert_int_equal(s.evicted_resize, 3);
    /* shrink with idle instances: they go now */
    assert_int_equal(nr_pool_resize(f->pool, 0, 3, &err), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[0], NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g[1], NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g[0]), NR_OK);
    assert_int_equal(nr_guard_release(&g[1]), NR_OK);
    assert_int_equal(stats(f).idle, 2);
    assert_int_equal(nr_pool_resize(f->pool, 0, 1, &err), NR_OK);
    assert_int_equal(stats(f).total, 1);
}

typedef struct waiter {
    fixture *f;
    int rc;
} waiter;

static void *acquire_one(void *arg)
{
    waiter *w = arg;
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    w->rc = nr_pool_acquire(w->f->pool, &ctx, &g, NULL);
    if (w->rc == NR_OK)
        nr_guard_release(&g);
    return NULL;
}

static void test_suspend_holds_callers_until_resume(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 1;
    nr_pool_fixture_make(f, "db");
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(2000), NULL), NR_OK);
    nr_guard b = NR_GUARD_INIT; /* once more, so that it rests in the lock-free bag */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &b, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&b), NR_OK);
    nr_pool_suspend(f->pool);
    assert_true(stats(f).suspended);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx brief = NR_CTX(.deadline = nr_deadline_in_ms(30));
    /* idle instances are not handed out, and nothing is created */
    assert_int_equal(nr_pool_acquire(f->pool, &brief, &g, NULL), NR_ETIMEDOUT);
    assert_int_equal(stats(f).creates, 1);
    waiter w = {.f = f};
    pthread_t t;
    pthread_create(&t, NULL, acquire_one, &w);
    for (int i = 0; i < 5000 && stats(f).waiters < 1; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(stats(f).waiters, 1);
    nr_pool_resume(f->pool);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, NR_OK);
    assert_false(stats(f).suspended);
    assert_int_equal(stats(f).creates, 1); /* served by the idle one */
}

static void test_evict_all_new_generation(void **state)
{
    fixture *f = *state;
    f->pcfg.min_idle = 2;
    nr_pool_fixture_make(f, "db");
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(2000), NULL), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    nr_mock_handle *old = nr_guard_handle(&g);
    uint64_t old_serial = old->serial;
    assert_int_equal(nr_pool_evict_all(f->pool), 1); /* the idle one goes now */
    assert_int_equal(nr_guard_release(&g), NR_OK);   /* the leased one on return */
    nr_pool_stats s = stats(f);
    assert_int_equal(s.evicted_generation, 2);
    assert_int_equal(s.total, 0);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    nr_mock_handle *h = nr_guard_handle(&g);
    assert_true(h->serial > old_serial); /* a new instance */
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_detach_hands_over_ownership(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    nr_pool_fixture_make(f, "db");
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    nr_guard copy = g;
    void *handle = NULL;
    assert_int_equal(nr_guard_detach(&g, NULL), NR_EINVAL);
    assert_int_equal(nr_guard_detach(&g, &handle), NR_OK);
    assert_non_null(handle);
    assert_false(nr_guard_held(&g));
    assert_int_equal(nr_guard_release(&copy), NR_ESTATE); /* the lease is gone */
    nr_pool_stats s = stats(f);
    assert_int_equal(s.detached, 1);
    assert_int_equal(s.total, 0);
    /* the pool may replace it: its slot is free again */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    assert_true(nr_guard_handle(&g) != handle);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    /* the caller owns the detached one: destroy it as the type does */
    nr_mock_type.destroy(handle, &f->fake);
}

static void test_max_waiters_bounds_the_queue(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 1;
    f->pcfg.max_waiters = 1;
    nr_pool_fixture_make(f, "db");
    nr_guard g = NR_GUARD_INIT, h = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    waiter w = {.f = f};
    pthread_t t;
    pthread_create(&t, NULL, acquire_one, &w);
    for (int i = 0; i < 5000 && stats(f).waiters < 1; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &h, &err), NR_EEXHAUSTED);
    NR_ASSERT_ERR(err, NR_EEXHAUSTED, "the most max_waiters allows");
    assert_int_equal(nr_guard_release(&g), NR_OK);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, NR_OK);
}

static atomic_int leak_events, leak_closed;

static void test_leak_reported_once_and_closed(void **state)
{
    fixture *f = *state;
    f->pcfg.leak_threshold_ms = 20;
    nr_event_bus *bus = NULL;
    assert_int_equal(nr_event_bus_create(&bus, 64, NULL), NR_OK);
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_subscribe(bus, &sub, NULL), NR_OK);
    nr_pool_options o = NR_POOL_OPTIONS(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                        .config = &f->cfg, .pool = &f->pcfg, .events = bus);
    assert_int_equal(nr_pool_create(&f->pool, &o, NULL), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(NR_POOL_ACQUIRE(f->pool, NULL, &g, NULL), NR_OK);
    nr_test_sleep_past_ms(40);
    assert_int_equal(nr_pool_maintain(f->pool, NULL, NULL), NR_OK);
    assert_int_equal(nr_pool_maintain(f->pool, NULL, NULL), NR_OK); /* once, not twice */
    nr_pool_stats s = stats(f);
    assert_int_equal(s.leaks, 1);
    assert_int_equal(s.leaks_open, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(stats(f).leaks_open, 0);
    nr_event ev;
    uint64_t missed = 0;
    atomic_store(&leak_events, 0);
    atomic_store(&leak_closed, 0);
    while (nr_event_next(sub, &ev, &missed, nr_deadline_in_ns(0)) == NR_OK) {
        if (ev.type == NR_EV_LEAK_SUSPECTED) {
            atomic_fetch_add(&leak_events, 1);
            /* the site of the acquire: this file and function */
            assert_non_null(strstr(ev.text, "test_pool_control.c"));
            assert_true(ev.wait_ns >= 20 * NR_NS_PER_MS);
        }
        if (ev.type == NR_EV_LEAK_CLOSED)
            atomic_fetch_add(&leak_closed, 1);
    }
    assert_int_equal(atomic_load(&leak_events), 1);
    assert_int_equal(atomic_load(&leak_closed), 1);
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    nr_event_unsubscribe(sub);
    nr_event_bus_destroy(bus);
}

/* nr_pool_destroy that finds a lease out closes the pool all the same. */
static void test_busy_destroy_closes(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "db");
    nr_guard g = NR_GUARD_INIT, h = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);
    nr_error err = {0};
    assert_int_equal(nr_pool_destroy(f->pool, &err), NR_EBUSY);
    NR_ASSERT_ERR(err, NR_EBUSY, "1 instance(s) still out");
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &h, &err), NR_ESHUTDOWN);
    assert_true(stats(f).closed);
    assert_int_equal(nr_guard_release(&g), NR_OK); /* destroyed on return */
    assert_int_equal(stats(f).total, 0);
}

static void test_lifetime_jitter_staggers_expiry(void **state)
{
    fixture *f = *state;
    enum { N = 32 };
    f->pcfg.max_size = N;
    f->pcfg.min_idle = N;
    f->pcfg.max_lifetime_ms = 100000;
    f->pcfg.max_lifetime_jitter = 0.5;
    nr_pool_fixture_make(f, "db");
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(5000), NULL), NR_OK);
    nr__pool_lock(f->pool);
    int64_t lo = INT64_MAX, hi = 0;
    for (struct nr__instance *r = f->pool->all_records; r; r = r->all_next) {
        int64_t life = r->expires_ns - r->created_ns;
        assert_true(life <= 100000 * NR_NS_PER_MS && life >= 50000 * NR_NS_PER_MS);
        lo = life < lo ? life : lo;
        hi = life > hi ? life : hi;
    }
    nr__pool_unlock(f->pool);
    assert_true(hi - lo > 1000 * NR_NS_PER_MS); /* not all the same */
    wait_idle(f, N);
}

/* A failing create's thread can be slowed (here by a slow trace sink)
 * between telling the waiters and giving its slot back; the waiter must
 * still start the next try once the slot is back. */
static void slow_sink(void *ud, const nr_trace_record *r)
{
    (void)ud;
    (void)r;
    nr_sleep_ns(30 * NR_NS_PER_MS);
}

static void test_retries_go_on_past_a_slow_failure(void **state)
{
    fixture *f = *state;
    f->pcfg.breaker_failures = 0;
    f->pcfg.create_backoff_ms = 5;
    f->pcfg.create_backoff_max_ms = 5;
    nr_pool_fixture_make(f, "db");
    atomic_store(&f->fake.fail_create, 1);
    nr_trace_sink sink = {slow_sink, NULL};
    assert_int_equal(nr_trace_set_sink(&sink, NR_TRACE_LEVEL_WARN), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(1000));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, NULL), NR_ETIMEDOUT);
    assert_int_equal(nr_pool_drain(f->pool, nr_deadline_in_ms(5000), NULL), NR_OK);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_WARN), NR_OK);
    /* about 30 tries of 35 ms in the second; stalling after one is the bug */
    assert_true(atomic_load(&f->fake.create_calls) >= 5);
    atomic_store(&f->fake.fail_create, 0);
}

typedef struct brief_caller {
    fixture *f;
    int rc;
} brief_caller;

static void *acquire_briefly(void *arg)
{
    brief_caller *b = arg;
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(20));
    b->rc = nr_pool_acquire(b->f->pool, &ctx, &g, NULL);
    return NULL;
}

/* nr_pool_prime proves reachability with a create of its own: one of the
 * creator's still in flight does not count. */
static void test_prime_does_not_count_the_creators_create(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "db");
    atomic_store(&f->fake.fail_create, 1);
    atomic_store(&f->fake.create_delay_ns, 300 * NR_NS_PER_MS);
    brief_caller b = {.f = f};
    pthread_t t;
    pthread_create(&t, NULL, acquire_briefly, &b);
    for (int i = 0; i < 5000 && stats(f).creating == 0; i++)
        nr_sleep_ns(NR_NS_PER_MS / 4);
    assert_int_equal(stats(f).creating, 1); /* the creator's, slow and doomed */
    atomic_store(&f->fake.create_delay_ns, 0);
    nr_error err = {0};
    assert_int_equal(nr_pool_prime(f->pool, 1, nr_deadline_in_ms(2000), &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "pool 'db': create failed: mock create refused");
    pthread_join(t, NULL);
    assert_int_equal(b.rc, NR_ETIMEDOUT);
    assert_int_equal(nr_pool_drain(f->pool, nr_deadline_in_ms(5000), NULL), NR_OK);
    atomic_store(&f->fake.fail_create, 0);
}

/* Destroy cancels the creator's create still running and waits for it,
 * instead of answering NR_EBUSY for the pool's own work. */
static void test_destroy_cancels_and_waits_for_creates(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "db");
    atomic_store(&f->fake.create_delay_ns, 10 * NR_NS_PER_S);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(20));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, NULL), NR_ETIMEDOUT);
    assert_int_equal(stats(f).creating, 1); /* the create it caused still runs */
    nr_error err = {0};
    assert_int_equal(nr_pool_destroy(f->pool, &err), NR_OK);
    f->pool = NULL;
    assert_int_equal(atomic_load(&f->fake.create_canceled), 1);
    assert_int_equal(atomic_load(&f->fake.live), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name)                                                                                    \
    cmocka_unit_test_setup_teardown(name, nr_pool_fixture_setup, nr_pool_fixture_teardown)
        T(test_spike_creates_near_demand),
        T(test_breaker_opens_then_trial_closes_it),
        T(test_backoff_spaces_retries),
        T(test_resize_grows_and_shrinks),
        T(test_suspend_holds_callers_until_resume),
        T(test_evict_all_new_generation),
        T(test_detach_hands_over_ownership),
        T(test_max_waiters_bounds_the_queue),
        T(test_leak_reported_once_and_closed),
        T(test_busy_destroy_closes),
        T(test_lifetime_jitter_staggers_expiry),
        T(test_retries_go_on_past_a_slow_failure),
        T(test_prime_does_not_count_the_creators_create),
        T(test_destroy_cancels_and_waits_for_creates),
#undef T
    };
    return cmocka_run_group_tests_name("pool_control", tests, NULL, NULL);
}

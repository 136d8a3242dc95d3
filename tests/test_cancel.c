/* test_cancel.c - cancel tokens, propagation and the internal waiter API. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cancel_internal.h"

static nr_cancel *make(nr_cancel *parent)
{
    nr_cancel *t = NULL;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_cancel_create(&t, parent, &err), NR_OK);
    assert_non_null(t);
    assert_int_equal(err.code, NR_OK);
    return t;
}

/* A waiter whose wake only counts; no lock needed, the count is atomic. */
typedef struct counter {
    nr__cancel_waiter w;
    atomic_int wakes;
} counter;

static void count_wake(void *ud)
{
    atomic_fetch_add(&((counter *)ud)->wakes, 1);
}

static void counter_init(counter *c)
{
    memset(c, 0, sizeof(*c));
    atomic_init(&c->wakes, 0);
    c->w.wake = count_wake;
    c->w.ud = c;
}

static void test_set_and_is_set(void **state)
{
    (void)state;
    nr_cancel *t = make(NULL);
    assert_false(nr_cancel_is_set(t));
    nr_cancel_trigger(t);
    assert_true(nr_cancel_is_set(t));
    nr_cancel_destroy(t);

    assert_false(nr_cancel_is_set(NULL));
    nr_cancel_trigger(NULL);
    nr_cancel_destroy(NULL);
}

static void test_trigger_is_idempotent(void **state)
{
    (void)state;
    nr_cancel *t = make(NULL);
    counter c;
    counter_init(&c);
    assert_int_equal(nr__cancel_subscribe(t, &c.w), NR_OK);
    assert_int_equal(atomic_load(&c.wakes), 0);
    nr_cancel_trigger(t);
    nr_cancel_trigger(t);
    nr_cancel_trigger(t);
    assert_true(nr_cancel_is_set(t));
    assert_int_equal(atomic_load(&c.wakes), 1);
    nr__cancel_unsubscribe(t, &c.w);
    nr_cancel_destroy(t);
}

static void test_propagation_down_not_up(void **state)
{
    (void)state;
    nr_cancel *root = make(NULL);
    nr_cancel *a = make(root);
    nr_cancel *b = make(root);
    nr_cancel *a1 = make(a);
    nr_cancel *a2 = make(a);
    nr_cancel *a1x = make(a1);

    nr_cancel_trigger(a);
    assert_true(nr_cancel_is_set(a));
    assert_true(nr_cancel_is_set(a1));
    assert_true(nr_cancel_is_set(a2));
    assert_true(nr_cancel_is_set(a1x));
    assert_false(nr_cancel_is_set(root));
    assert_false(nr_cancel_is_set(b));

    nr_cancel_trigger(root);
    assert_true(nr_cancel_is_set(root));
    assert_true(nr_cancel_is_set(b));

    nr_cancel_destroy(a1x);
    nr_cancel_destroy(a1);
    nr_cancel_destroy(a2);
    nr_cancel_destroy(a);
    nr_cancel_destroy(b);
    nr_cancel_destroy(root);
}

static void test_every_waiter_in_subtree_woken_once(void **state)
{
    (void)state;
    enum { N = 7 };
    /* root -> {t1, t2}; t1 -> {t3, t4}; t2 -> {t5}; t5 -> {t6} */
    nr_cancel *t[N];
    t[0] = make(NULL);
    t[1] = make(t[0]);
    t[2] = make(t[0]);
    t[3] = make(t[1]);
    t[4] = make(t[1]);
    t[5] = make(t[2]);
    t[6] = make(t[5]);
    counter c[N];
    for (int i = 0; i < N; i++) {
        counter_init(&c[i]);
        assert_int_equal(nr__cancel_subscribe(t[i], &c[i].w), NR_OK);
    }
    nr_cancel_trigger(t[2]); /* sets t2, t5, t6 */
    for (int i = 0; i < N; i++)
        assert_int_equal(atomic_load(&c[i].wakes), (i == 2 || i == 5 || i == 6) ? 1 : 0);
    nr_cancel_trigger(t[0]); /* sets the rest; t2's subtree is not woken again */
    for (int i = 0; i < N; i++) {
        assert_true(nr_cancel_is_set(t[i]));
        assert_int_equal(atomic_load(&c[i].wakes), 1);
    }
    for (int i = 0; i < N; i++)
        nr__cancel_unsubscribe(t[i], &c[i].w);
    for (int i = N - 1; i >= 0; i--)
        nr_cancel_destroy(t[i]);
}

static void test_several_waiters_on_one_token(void **state)
{
    (void)state;
    nr_cancel *t = make(NULL);
    counter c[3];
    for (int i = 0; i < 3; i++) {
        counter_init(&c[i]);
        assert_int_equal(nr__cancel_subscribe(t, &c[i].w), NR_OK);
    }
    /* Removing the middle one leaves the others registered. */
    nr__cancel_unsubscribe(t, &c[1].w);
    nr_cancel_trigger(t);
    assert_int_equal(atomic_load(&c[0].wakes), 1);
    assert_int_equal(atomic_load(&c[1].wakes), 0);
    assert_int_equal(atomic_load(&c[2].wakes), 1);
    nr__cancel_unsubscribe(t, &c[0].w);
    nr__cancel_unsubscribe(t, &c[2].w);
    nr__cancel_unsubscribe(t, &c[2].w); /* a second unsubscribe is harmless */
    nr_cancel_destroy(t);
}

static void test_child_of_set_parent_starts_set(void **state)
{
    (void)state;
    nr_cancel *p = make(NULL);
    nr_cancel_trigger(p);
    nr_cancel *c = make(p);
    assert_true(nr_cancel_is_set(c));
    nr_cancel *g = make(c);
    assert_true(nr_cancel_is_set(g));
    nr_cancel_destroy(g);
    nr_cancel_destroy(c);
    nr_cancel_destroy(p);
}

static void test_parent_destroyed_first(void **state)
{
    (void)state;
    nr_cancel *p = make(NULL);
    nr_cancel *c1 = make(p);
    nr_cancel *c2 = make(p);
    nr_cancel *g = make(c1);
    nr_cancel_trigger(c2);
    nr_cancel_destroy(p);

    /* The children keep their state. */
    assert_false(nr_cancel_is_set(c1));
    assert_true(nr_cancel_is_set(c2));
    assert_false(nr_cancel_is_set(g));

    /* The detached child still works as a root of its own subtree. */
    nr_cancel_trigger(c1);
    assert_true(nr_cancel_is_set(c1));
    assert_true(nr_cancel_is_set(g));
    nr_cancel_destroy(g);
    nr_cancel_destroy(c1);
    nr_cancel_destroy(c2);
}

static void test_destroyed_middle_detaches(void **state)
{
    (void)state;
    nr_cancel *root = make(NULL);
    nr_cancel *mid = make(root);
    nr_cancel *leaf = make(mid);
    nr_cancel *other = make(root);
    nr_cancel_destroy(mid);
    nr_cancel_trigger(root);
    assert_true(nr_cancel_is_set(other));
    assert_false(nr_cancel_is_set(leaf)); /* no longer under root */
    nr_cancel_destroy(leaf);
    nr_cancel_destroy(other);
    nr_cancel_destroy(root);
}

static void test_destroying_children_keeps_siblings_linked(void **state)
{
    (void)state;
    enum { N = 5 };
    nr_cancel *root = make(NULL);
    nr_cancel *k[N];
    for (int i = 0; i < N; i++)
        k[i] = make(root);
    /* Remove first, last and middle of the sibling list. */
    nr_cancel_destroy(k[0]);
    nr_cancel_destroy(k[N - 1]);
    nr_cancel_destroy(k[2]);
    nr_cancel_trigger(root);
    assert_true(nr_cancel_is_set(k[1]));
    assert_true(nr_cancel_is_set(k[3]));
    nr_cancel_destroy(k[1]);
    nr_cancel_destroy(k[3]);
    nr_cancel_destroy(root);
}

static void test_deep_and_wide_trees(void **state)
{
    (void)state;
    enum { DEPTH = 20000, WIDTH = 2000 };
    nr_cancel **chain = malloc(sizeof(*chain) * DEPTH);
    assert_non_null(chain);
    chain[0] = make(NULL);
    for (int i = 1; i < DEPTH; i++)
        chain[i] = make(chain[i - 1]);
    nr_cancel **wide = malloc(sizeof(*wide) * WIDTH);
    assert_non_null(wide);
    for (int i = 0; i < WIDTH; i++)
        wide[i] = make(chain[DEPTH / 2]);
    nr_cancel_trigger(chain[0]);
    for (int i = 0; i < DEPTH; i++)
        assert_true(nr_cancel_is_set(chain[i]));
    for (int i = 0; i < WIDTH; i++)
        assert_true(nr_cancel_is_set(wide[i]));
    for (int i = 0; i < WIDTH; i++)
        nr_cancel_destroy(wide[i]);
    for (int i = 0; i < DEPTH; i++)
        nr_cancel_destroy(chain[i]);
    free(wide);
    free(chain);
}

static void test_subscribe_on_set_token(void **state)
{
    (void)state;
    nr_cancel *t = make(NULL);
    nr_cancel_trigger(t);
    counter c;
    counter_init(&c);
    assert_int_equal(nr__cancel_subscribe(t, &c.w), NR_ECANCELED);
    nr_cancel_trigger(t);
    assert_int_equal(atomic_load(&c.wakes), 0);
    nr__cancel_unsubscribe(t, &c.w); /* harmless on a refused waiter */
    nr_cancel_destroy(t);
}

static void test_unsubscribe_prevents_wake(void **state)
{
    (void)state;
    nr_cancel *p = make(NULL);
    nr_cancel *t = make(p);
    counter c;
    counter_init(&c);
    assert_int_equal(nr__cancel_subscribe(t, &c.w), NR_OK);
    nr__cancel_unsubscribe(t, &c.w);
    nr_cancel_trigger(p);
    assert_true(nr_cancel_is_set(t));
    assert_int_equal(atomic_load(&c.wakes), 0);
    nr_cancel_destroy(t);
    nr_cancel_destroy(p);
}

/* ---- a thread blocked on a condition variable --------------------------- */

typedef struct sleeper {
    nr_cancel *token;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woken;   /* guarded by mu; set only by sleeper_wake */
    bool blocked; /* guarded by mu; the sleeper is subscribed and waiting */
    int result;   /* NR_ECANCELED when woken or refused, NR_ETIMEDOUT otherwise */
    nr__cancel_waiter w;
} sleeper;

static void sleeper_wake(void *ud)
{
    sleeper *s = ud;
    pthread_mutex_lock(&s->mu);
    s->woken = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* The library's waiting pattern: subscribe outside the leaf lock, wait on the
 * condition variable until the wake function says so, unsubscribe outside the
 * lock. Only the wake function ends the wait; a generous time limit turns a
 * missed wake into a failure instead of a hang. */
static void *sleeper_main(void *arg)
{
    sleeper *s = arg;
    s->w.wake = sleeper_wake;
    s->w.ud = s;
    if (nr__cancel_subscribe(s->token, &s->w) != NR_OK) {
        s->result = NR_ECANCELED;
        return NULL;
    }
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += 60;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    s->blocked = true;
    while (!s->woken && rc == 0)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &limit);
    s->result = s->woken ? NR_ECANCELED : NR_ETIMEDOUT;
    pthread_mutex_unlock(&s->mu);
    nr__cancel_unsubscribe(s->token, &s->w);
    return NULL;
}

static void sleeper_init(sleeper *s, nr_cancel *token)
{
    memset(s, 0, sizeof(*s));
    s->token = token;
    s->result = NR_OK;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void sleeper_fini(sleeper *s)
{
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

static void *trigger_main(void *arg)
{
    nr_cancel_trigger(arg);
    return NULL;
}

static void test_blocked_thread_woken_by_trigger(void **state)
{
    (void)state;
    nr_cancel *root = make(NULL);
    nr_cancel *leaf = make(root);
    sleeper s;
    sleeper_init(&s, leaf);
    pthread_t waiter, trig;
    assert_int_equal(pthread_create(&waiter, NULL, sleeper_main, &s), 0);
    /* Trigger only once the waiter is subscribed and inside its wait. */
    for (bool blocked = false; !blocked;) {
        pthread_mutex_lock(&s.mu);
        blocked = s.blocked;
        pthread_mutex_unlock(&s.mu);
        if (!blocked)
            nr_sleep_ns(100 * NR_NS_PER_US);
    }
    assert_int_equal(pthread_create(&trig, NULL, trigger_main, root), 0);
    assert_int_equal(pthread_join(trig, NULL), 0);
    assert_int_equal(pthread_join(waiter, NULL), 0);
    assert_int_equal(s.result, NR_ECANCELED);
    assert_true(s.woken);
    assert_true(nr_cancel_is_set(leaf));
    sleeper_fini(&s);
    nr_cancel_destroy(leaf);
    nr_cancel_destroy(root);
}

/* ---- unsubscribe waits for a wake that is running ------------------------ */

typedef struct slow {
    nr__cancel_waiter w;
    atomic_int in_wake;
    atomic_int wakes;
} slow;

static void slow_wake(void *ud)
{
    slow *s = ud;
    atomic_store(&s->in_wake, 1);
    nr_sleep_ns(20 * NR_NS_PER_MS);
    atomic_fetch_add(&s->wakes, 1);
    atomic_store(&s->in_wake, 0);
}

static void test_unsubscribe_waits_for_running_wake(void **state)
{
    (void)state;
    nr_cancel *t = make(NULL);
    slow s;
    memset(&s, 0, sizeof(s));
    atomic_init(&s.in_wake, 0);
    atomic_init(&s.wakes, 0);
    s.w.wake = slow_wake;
    s.w.ud = &s;
    assert_int_equal(nr__cancel_subscribe(t, &s.w), NR_OK);
    pthread_t trig;
    assert_int_equal(pthread_create(&trig, NULL, trigger_main, t), 0);
    while (atomic_load(&s.in_wake) == 0 && atomic_load(&s.wakes) == 0)
        nr_sleep_ns(100 * NR_NS_PER_US);
    nr__cancel_unsubscribe(t, &s.w);
    /* The wake that was running has finished, and no other will start. */
    assert_int_equal(atomic_load(&s.in_wake), 0);
    assert_int_equal(atomic_load(&s.wakes), 1);
    assert_int_equal(pthread_join(trig, NULL), 0);
    nr_cancel_trigger(t);
    assert_int_equal(atomic_load(&s.wakes), 1);
    nr_cancel_destroy(t);
}

/* ---- many threads at once (meant for ThreadSanitizer) -------------------- */

enum { STRESS_ROUNDS = 20, STRESS_SLEEPERS = 16, STRESS_TRIGGERS = 4 };

typedef struct stress_trigger {
    nr_cancel *targets[STRESS_SLEEPERS + 1];
    int count;
    unsigned offset;
} stress_trigger;

static void *stress_trigger_main(void *arg)
{
    stress_trigger *st = arg;
    for (int i = 0; i < st->count; i++)
        nr_cancel_trigger(st->targets[(i + st->offset) % (unsigned)st->count]);
    return NULL;
}

static void test_many_threads(void **state)
{
    (void)state;
    uint64_t seed = nr_test_seed("cancel many_threads");
    nr_rng rng;
    nr_rng_seed(&rng, seed);
    for (int round = 0; round < STRESS_ROUNDS; round++) {
        nr_cancel *root = make(NULL);
        nr_cancel *mid[4];
        for (int i = 0; i < 4; i++)
            mid[i] = make(root);
        sleeper s[STRESS_SLEEPERS];
        nr_cancel *leaves[STRESS_SLEEPERS];
        pthread_t th[STRESS_SLEEPERS];
        for (int i = 0; i < STRESS_SLEEPERS; i++) {
            leaves[i] = make(mid[nr_rng_below(&rng, 4)]);
            sleeper_init(&s[i], leaves[i]);
            assert_int_equal(pthread_create(&th[i], NULL, sleeper_main, &s[i]), 0);
        }
        /* Triggers race with the sleepers subscribing: some leaves and mids
         * get triggered directly, and the root always, so every sleeper ends. */
        stress_trigger st[STRESS_TRIGGERS];
        pthread_t tt[STRESS_TRIGGERS];
        for (int k = 0; k < STRESS_TRIGGERS; k++) {
            st[k].count = 0;
            st[k].offset = (unsigned)nr_rng_below(&rng, 8);
            for (int i = 0; i < STRESS_SLEEPERS; i++) {
                if (nr_rng_chance(&rng, 1, 4))
                    st[k].targets[st[k].count++] = leaves[i];
            }
            st[k].targets[st[k].count++] = (k % 2) ? root : mid[k % 4];
        }
        st[0].targets[st[0].count - 1] = root;
        for (int k = 0; k < STRESS_TRIGGERS; k++)
            assert_int_equal(pthread_create(&tt[k], NULL, stress_trigger_main, &st[k]), 0);
        for (int k = 0; k < STRESS_TRIGGERS; k++)
            assert_int_equal(pthread_join(tt[k], NULL), 0);
        for (int i = 0; i < STRESS_SLEEPERS; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            assert_int_equal(s[i].result, NR_ECANCELED);
            assert_true(nr_cancel_is_set(leaves[i]));
            sleeper_fini(&s[i]);
        }
        for (int i = 0; i < STRESS_SLEEPERS; i++)
            nr_cancel_destroy(leaves[i]);
        /* Destroy the root before its children this time. */
        nr_cancel_destroy(root);
        for (int i = 0; i < 4; i++)
            nr_cancel_destroy(mid[i]);
    }
}

typedef struct churn {
    nr_cancel *parent;
    int iterations;
    int created;
} churn;

/* Create, subscribe, unsubscribe and destroy children while others trigger. */
static void *churn_main(void *arg)
{
    churn *c = arg;
    for (int i = 0; i < c->iterations; i++) {
        nr_cancel *t = NULL;
        if (nr_cancel_create(&t, c->parent, NULL) != NR_OK)
            continue;
        c->created++;
        counter k;
        counter_init(&k);
        if (nr__cancel_subscribe(t, &k.w) == NR_OK)
            nr__cancel_unsubscribe(t, &k.w);
        if (i % 3 == 0)
            nr_cancel_trigger(t);
        (void)nr_cancel_is_set(t);
        nr_cancel_destroy(t);
    }
    return NULL;
}

static void test_concurrent_create_destroy_trigger(void **state)
{
    (void)state;
    enum { THREADS = 6 };
    nr_cancel *parents[2] = {make(NULL), NULL};
    parents[1] = make(parents[0]);
    churn c[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i].parent = parents[i % 2];
        c[i].iterations = 2000;
        c[i].created = 0;
        assert_int_equal(pthread_create(&th[i], NULL, churn_main, &c[i]), 0);
    }
    nr_sleep_ns(NR_NS_PER_MS);
    nr_cancel_trigger(parents[1]);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(c[i].created, 2000);
    }
    assert_true(nr_cancel_is_set(parents[1]));
    assert_false(nr_cancel_is_set(parents[0]));
    /* The root was never triggered: a new child under it starts unset. */
    nr_cancel *fresh = make(parents[0]);
    assert_false(nr_cancel_is_set(fresh));
    nr_cancel_destroy(fresh);
    nr_cancel_destroy(parents[1]);
    nr_cancel_destroy(parents[0]);
}

/* ---- out of memory --------------------------------------------------------- */

static int restore_allocator(void **state)
{
    (void)state;
    nr_set_allocator(NULL);
    return 0;
}

static void test_create_out_of_memory(void **state)
{
    (void)state;
    nr_cancel *parent = make(NULL);
    nr_test_alloc_install();
    nr_test_alloc_fail_after(0);
    nr_cancel *t = (nr_cancel *)(uintptr_t)0x1;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_cancel_create(&t, parent, &err), NR_ENOMEM);
    NR_ASSERT_ERR(err, NR_ENOMEM, "out of memory");
    assert_ptr_equal(t, (nr_cancel *)(uintptr_t)0x1); /* untouched */
    assert_int_equal(nr_cancel_create(&t, NULL, NULL), NR_ENOMEM);
    nr_test_alloc_reset();

    /* The parent is intact: a new child works and is set by the parent. */
    nr_cancel *c = make(parent);
    nr_cancel_trigger(parent);
    assert_true(nr_cancel_is_set(c));
    nr_cancel_destroy(c);
    nr_cancel_destroy(parent);
}

static void test_create_null_out(void **state)
{
    (void)state;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_cancel_create(NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_is_set),
        cmocka_unit_test(test_trigger_is_idempotent),
        cmocka_unit_test(test_propagation_down_not_up),
        cmocka_unit_test(test_every_waiter_in_subtree_woken_once),
        cmocka_unit_test(test_several_waiters_on_one_token),
        cmocka_unit_test(test_child_of_set_parent_starts_set),
        cmocka_unit_test(test_parent_destroyed_first),
        cmocka_unit_test(test_destroyed_middle_detaches),
        cmocka_unit_test(test_destroying_children_keeps_siblings_linked),
        cmocka_unit_test(test_deep_and_wide_trees),
        cmocka_unit_test(test_subscribe_on_set_token),
        cmocka_unit_test(test_unsubscribe_prevents_wake),
        cmocka_unit_test(test_blocked_thread_woken_by_trigger),
        cmocka_unit_test(test_unsubscribe_waits_for_running_wake),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_concurrent_create_destroy_trigger),
        cmocka_unit_test_teardown(test_create_out_of_memory, restore_allocator),
        cmocka_unit_test(test_create_null_out),
    };
    return cmocka_run_group_tests_name("cancel", tests, NULL, NULL);
}

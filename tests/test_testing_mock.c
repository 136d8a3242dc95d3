/*
 * test_testing_mock.c - the testing library's mock type and helpers
 * (nebula/testing.h): every scripted behaviour happens exactly where it is
 * scripted (the n-th call, every n-th, the seeded sequence, the hang that a
 * cancel or the deadline ends, the health sequence and script, the
 * latencies), the counts are exact, the stamps catch a second holder, and
 * the helpers make, lease and end pools and managers and say what is left.
 * Latencies are checked as lower bounds only.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"

/* ---- calling the type directly ----------------------------------------------------- */

static int create(nr_mock *m, nr_mock_handle **h, const nr_create_ctx *ctx, nr_error *err)
{
    nr_create_ctx plain = {.resource_id = "m", .deadline = nr_deadline_in_ms(60000)};
    void *out = NULL;
    int rc = nr_mock_type.create(&out, nr_mock_config_defaults(), ctx ? ctx : &plain, m, err);
    *h = out;
    return rc;
}

static nr_mock_handle *create_ok(nr_mock *m)
{
    nr_mock_handle *h = NULL;
    nr_error err = {0};
    assert_int_equal(create(m, &h, NULL, &err), NR_OK);
    assert_true(nr_mock_handle_alive(h));
    return h;
}

static nr_health_state check(nr_mock *m, nr_mock_handle *h)
{
    nr_health_report rep = {0};
    nr_error err = {0};
    assert_int_equal(nr_mock_type.health_check(h, m, nr_deadline_in_ms(60000), &rep, &err), NR_OK);
    return rep.state;
}

static void test_counts_are_exact(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_mock_handle *h[3];
    for (int i = 0; i < 3; i++) {
        h[i] = create_ok(&m);
        assert_int_equal(h[i]->serial, (uint64_t)i + 1);
    }
    assert_int_equal(nr_mock_type.validate(h[0], &m, NULL), NR_OK);
    assert_int_equal(nr_mock_type.validate(h[1], &m, NULL), NR_OK);
    atomic_store(&h[2]->dirty, 1);
    assert_int_equal(nr_mock_type.recycle(h[2], &m, NULL), NR_OK);
    assert_int_equal(atomic_load(&h[2]->dirty), 0);
    assert_int_equal(check(&m, h[1]), NR_HEALTH_HEALTHY);
    assert_int_equal(atomic_load(&m.creates), 3);
    assert_int_equal(atomic_load(&m.create_calls), 3);
    assert_int_equal(atomic_load(&m.live), 3);
    assert_int_equal(atomic_load(&m.validates), 2);
    assert_int_equal(atomic_load(&m.recycles), 1);
    assert_int_equal(atomic_load(&m.health_checks), 1);
    assert_int_equal(atomic_load(&m.check_log_n), 1);
    assert_int_equal(atomic_load(&m.check_log[0]), 2);
    assert_int_equal(atomic_load(&m.health_serial), 2);

    nr_error err = {0};
    assert_int_equal(nr_mock_check_clean(&m, &err), NR_ESTATE);
    assert_string_equal(err.message, "mock: 3 created, 0 destroyed, 3 live");
    for (int i = 0; i < 3; i++)
        nr_mock_type.destroy(h[i], &m);
    assert_int_equal(atomic_load(&m.destroys), 3);
    assert_int_equal(atomic_load(&m.live), 0);
    assert_int_equal(nr_mock_check_clean(&m, &err), NR_OK);
}

/* ---- failures ------------------------------------------------------------------------- */

static void test_nth_create_fails_exactly_there(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_mock_fail_nth(&m, NR_MOCK_CREATE, 3);
    nr_mock_handle *h[4];
    int n = 0;
    for (long call = 1; call <= 5; call++) {
        nr_mock_handle *x = NULL;
        nr_error err = {0};
        int rc = create(&m, &x, NULL, &err);
        if (call == 3) {
            NR_ASSERT_ERR(err, NR_EUNAVAIL, "mock create refused (call 3)");
            assert_int_equal(err.driver_code, 42);
            assert_null(x);
        } else {
            assert_int_equal(rc, NR_OK);
            h[n++] = x;
        }
    }
    assert_int_equal(n, 4);
    assert_int_equal(atomic_load(&m.create_calls), 5);
    assert_int_equal(atomic_load(&m.creates), 4);
    for (int i = 0; i < n; i++)
        nr_mock_type.destroy(h[i], &m);
}

static void test_nth_and_every_validate_and_recycle(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_mock_handle *h = create_ok(&m);
    nr_mock_fail_nth(&m, NR_MOCK_VALIDATE, 2);
    nr_mock_fail_every(&m, NR_MOCK_RECYCLE, 3);
    for (long call = 1; call <= 6; call++) {
        nr_error err = {0};
        int rc = nr_mock_type.validate(h, &m, &err);
        if (call == 2)
            NR_ASSERT_ERR(err, NR_EUNAVAIL, "mock validate refused");
        else
            assert_int_equal(rc, NR_OK);
        nr_error_clear(&err);
        rc = nr_mock_type.recycle(h, &m, &err);
        if (call % 3 == 0)
            NR_ASSERT_ERR(err, NR_EUNAVAIL, "mock recycle refused");
        else
            assert_int_equal(rc, NR_OK);
    }
    /* the flags fail every call */
    atomic_store(&m.fail_validate, 1);
    atomic_store(&m.fail_recycle, 1);
    assert_int_equal(nr_mock_type.validate(h, &m, NULL), NR_EUNAVAIL);
    assert_int_equal(nr_mock_type.recycle(h, &m, NULL), NR_EUNAVAIL);
    nr_mock_type.destroy(h, &m);
}

/* The outcomes of n creates under a seeded rate: '1' failed, '0' made. */
static void seeded_outcomes(uint64_t seed, char *out, int n)
{
    nr_mock m;
    nr_mock_init(&m);
    assert_int_equal(nr_mock_fail_rate(&m, NR_MOCK_CREATE, 300, seed, NULL), NR_OK);
    for (int i = 0; i < n; i++) {
        nr_mock_handle *h = NULL;
        int rc = create(&m, &h, NULL, NULL);
        out[i] = rc == NR_OK ? '0' : '1';
        assert_int_equal(nr_mock_would_fail(&m, NR_MOCK_CREATE, i + 1), rc != NR_OK);
        if (rc == NR_OK)
            nr_mock_type.destroy(h, &m);
        else
            assert_int_equal(rc, NR_EUNAVAIL);
    }
    out[n] = '\0';
    assert_int_equal(nr_mock_check_clean(&m, NULL), NR_OK);
}

static void test_seeded_rate_repeats_per_seed(void **state)
{
    (void)state;
    char a[201], b[201], c[201];
    seeded_outcomes(42, a, 200);
    seeded_outcomes(42, b, 200);
    seeded_outcomes(43, c, 200);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* a rate, not a constant: some of each */
    assert_non_null(strchr(a, '0'));
    assert_non_null(strchr(a, '1'));
}

static void test_bad_scripts_are_refused(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_error err = {0};
    assert_int_equal(nr_mock_fail_rate(&m, NR_MOCK_CREATE, 1001, 1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "permille: must be between 0 and 1000 (got 1001)");
    assert_int_equal(nr_mock_fail_rate(&m, NR_MOCK_OPS, 10, 1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "op: must be an nr_mock_op");
    assert_int_equal(nr_mock_fail_rate(NULL, NR_MOCK_CREATE, 10, 1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "m: must not be NULL");
    assert_int_equal(nr_mock_health_sequence(&m, NULL, NR_MOCK_SEQ_MAX + 1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "n: must be between 0 and 64 (got 65)");
    assert_int_equal(nr_mock_health_sequence(&m, NULL, 2, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "states: must not be NULL when n > 0");
    nr_health_state bad[] = {NR_HEALTH_HEALTHY, (nr_health_state)9};
    assert_int_equal(nr_mock_health_sequence(&m, bad, 2, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "states[1]: not an nr_health_state");
    assert_int_equal(nr_mock_check_clean(NULL, &err), NR_EINVAL);
}

/* ---- hangs and latencies ------------------------------------------------------------- */

typedef struct hung {
    nr_mock *m;
    nr_cancel *token;
    int64_t deadline_ms;
    int rc;
    nr_error err;
    nr_mock_handle *h;
} hung;

static void *hung_main(void *arg)
{
    hung *c = arg;
    nr_create_ctx ctx = {
        .resource_id = "m", .deadline = nr_deadline_in_ms(c->deadline_ms), .cancel = c->token};
    c->rc = create(c->m, &c->h, &ctx, &c->err);
    return NULL;
}

/* Wait (60 s at most) until the mock has seen `calls` create calls. */
static void wait_calls(nr_mock *m, long calls)
{
    nr_deadline d = nr_deadline_in_ms(60000);
    while (atomic_load(&m->create_calls) < calls && !nr_deadline_expired(d))
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(atomic_load(&m->create_calls), calls);
}

static void test_hanging_create_ends_on_cancel(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    atomic_store(&m.create_hang, 1);
    hung c = {.m = &m, .deadline_ms = 60000};
    assert_int_equal(nr_cancel_create(&c.token, NULL, NULL), NR_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hung_main, &c), 0);
    wait_calls(&m, 1);
    nr_sleep_ns(20 * NR_NS_PER_MS); /* it hangs: no result while the token is clear */
    assert_int_equal(atomic_load(&m.create_canceled), 0);
    nr_cancel_trigger(c.token);
    pthread_join(t, NULL);
    NR_ASSERT_ERR(c.err, NR_ECANCELED, "mock create canceled");
    assert_int_equal(c.rc, NR_ECANCELED);
    assert_int_equal(atomic_load(&m.create_canceled), 1);
    assert_int_equal(atomic_load(&m.creates), 0);
    nr_cancel_destroy(c.token);
}

static void test_hanging_create_ends_at_deadline_or_when_let_go(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    atomic_store(&m.create_hang, 1);
    hung c = {.m = &m, .deadline_ms = 30};
    int64_t t0 = nr_now_ns();
    hung_main(&c);
    assert_true(nr_now_ns() - t0 >= 30 * NR_NS_PER_MS);
    NR_ASSERT_ERR(c.err, NR_ETIMEDOUT, "mock create hung until its deadline");
    assert_int_equal(atomic_load(&m.create_timedout), 1);

    /* cleared: the hung create goes on and makes its instance */
    hung d = {.m = &m, .deadline_ms = 60000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hung_main, &d), 0);
    wait_calls(&m, 2);
    atomic_store(&m.create_hang, 0);
    pthread_join(t, NULL);
    assert_int_equal(d.rc, NR_OK);
    assert_true(nr_mock_handle_alive(d.h));
    nr_mock_type.destroy(d.h, &m);
    assert_int_equal(nr_mock_check_clean(&m, NULL), NR_OK);
}

/* In a pool: the acquire that asked for the hung create times out, and the
 * pool's destroy cancels the create (its token) and waits for it. */
static void test_hanging_create_in_a_pool_is_cancelled_by_destroy(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    atomic_store(&m.create_hang, 1);
    nr_pool *p = NULL;
    nr_error err = {0};
    assert_int_equal(nr_test_pool_create(&p, "hung", &m, 0, 1, &err), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_test_acquire(p, &g, 20, &err), NR_ETIMEDOUT);
    wait_calls(&m, 1);
    assert_int_equal(nr_pool_destroy(p, &err), NR_OK);
    assert_int_equal(atomic_load(&m.create_canceled), 1);
    assert_int_equal(atomic_load(&m.creates), 0);
    assert_int_equal(nr_mock_check_clean(&m, NULL), NR_OK);
}

static void test_latencies_are_observed(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    atomic_store(&m.create_delay_ns, 20 * NR_NS_PER_MS);
    atomic_store(&m.destroy_delay_ns, 30 * NR_NS_PER_MS);
    int64_t t0 = nr_now_ns();
    nr_mock_handle *h = create_ok(&m);
    assert_true(nr_now_ns() - t0 >= 20 * NR_NS_PER_MS);
    t0 = nr_now_ns();
    nr_mock_type.destroy(h, &m);
    assert_true(nr_now_ns() - t0 >= 30 * NR_NS_PER_MS);
    assert_int_equal(atomic_load(&m.destroying_max), 1);
    assert_int_equal(atomic_load(&m.destroying_now), 0);

    /* a create asleep in its latency gives up on cancel */
    atomic_store(&m.create_delay_ns, 60 * NR_NS_PER_S);
    hung c = {.m = &m, .deadline_ms = 120000};
    assert_int_equal(nr_cancel_create(&c.token, NULL, NULL), NR_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hung_main, &c), 0);
    wait_calls(&m, 2);
    nr_cancel_trigger(c.token);
    pthread_join(t, NULL);
    assert_int_equal(c.rc, NR_ECANCELED);
    assert_int_equal(atomic_load(&m.create_canceled), 1);
    nr_cancel_destroy(c.token);

    /* a check slower than its deadline times out */
    atomic_store(&m.create_delay_ns, 0);
    h = create_ok(&m);
    atomic_store(&m.health_delay_ns, 60 * NR_NS_PER_S);
    nr_health_report rep = {0};
    nr_error err = {0};
    assert_int_equal(nr_mock_type.health_check(h, &m, nr_deadline_in_ms(10), &rep, &err),
                     NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "mock health check timed out");
    assert_int_equal(atomic_load(&h->holders), 0);
    nr_mock_type.destroy(h, &m);
}

/* ---- health -------------------------------------------------------------------------- */

static void test_health_sequence_per_call_then_script_then_default(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_mock_handle *a = create_ok(&m), *b = create_ok(&m);
    assert_int_equal(check(&m, a), NR_HEALTH_HEALTHY); /* one check before the sequence */
    nr_mock_script(&m, b->serial, NR_HEALTH_UNHEALTHY);
    assert_int_equal(check(&m, a), NR_HEALTH_HEALTHY);
    assert_int_equal(check(&m, b), NR_HEALTH_UNHEALTHY);

    const nr_health_state seq[] = {NR_HEALTH_DEGRADED, NR_HEALTH_UNKNOWN, NR_HEALTH_HEALTHY,
                                   NR_HEALTH_UNHEALTHY};
    assert_int_equal(nr_mock_health_sequence(&m, seq, 4, NULL), NR_OK);
    /* the sequence is per call, whatever the instance (it wins over b's script) */
    assert_int_equal(check(&m, b), NR_HEALTH_DEGRADED);
    assert_int_equal(check(&m, a), NR_HEALTH_UNKNOWN);
    assert_int_equal(check(&m, b), NR_HEALTH_HEALTHY);
    assert_int_equal(check(&m, a), NR_HEALTH_UNHEALTHY);
    /* then the script and the default again */
    assert_int_equal(check(&m, b), NR_HEALTH_UNHEALTHY);
    assert_int_equal(check(&m, a), NR_HEALTH_HEALTHY);
    atomic_store(&m.health, NR_HEALTH_DEGRADED);
    assert_int_equal(check(&m, a), NR_HEALTH_DEGRADED);
    nr_mock_script_clear(&m);
    assert_int_equal(check(&m, b), NR_HEALTH_DEGRADED);

    nr_health_report rep = {0};
    atomic_store(&m.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(nr_mock_type.health_check(a, &m, nr_deadline_in_ms(1000), &rep, NULL), NR_OK);
    assert_string_equal(rep.reason, "mock says so");
    assert_int_equal(atomic_load(&m.health_checks), 12);
    nr_mock_type.destroy(a, &m);
    nr_mock_type.destroy(b, &m);
}

/* ---- stamps, credential, config, on_call --------------------------------------------- */

static void test_stamps_catch_a_second_holder_and_stale_handles(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_mock_handle *h = create_ok(&m);
    assert_int_equal(nr_mock_hold(h), 0);
    assert_int_equal(nr_mock_hold(h), 1); /* a second holder sees the first */
    /* a check on a held instance is counted as an overlap */
    assert_int_equal(check(&m, h), NR_HEALTH_HEALTHY);
    assert_int_equal(atomic_load(&m.check_overlaps), 1);
    assert_int_equal(nr_mock_unhold(h), 2);
    assert_int_equal(nr_mock_unhold(h), 1);
    assert_false(nr_mock_handle_alive(NULL));
    nr_mock_handle dead = {.magic = NR_MOCK_DEAD};
    assert_false(nr_mock_handle_alive(&dead));
    nr_mock_type.destroy(h, &m);
    assert_int_equal(nr_mock_check_clean(&m, NULL), NR_OK);

    /* a handle that is not live: counted, refused, never touched */
    nr_error err = {0};
    assert_int_equal(nr_mock_type.validate(&dead, &m, &err), NR_ESTATE);
    NR_ASSERT_ERR(err, NR_ESTATE, "mock validate: not a live mock handle");
    assert_int_equal(nr_mock_type.recycle(&dead, &m, &err), NR_ESTATE);
    NR_ASSERT_ERR(err, NR_ESTATE, "mock recycle: not a live mock handle");
    nr_health_report rep = {0};
    assert_int_equal(nr_mock_type.health_check(&dead, &m, nr_deadline_in_ms(1000), &rep, &err),
                     NR_ESTATE);
    NR_ASSERT_ERR(err, NR_ESTATE, "mock health: not a live mock handle");
    nr_mock_type.destroy(&dead, &m);
    assert_int_equal(dead.magic, NR_MOCK_DEAD);
    assert_int_equal(atomic_load(&m.stale_calls), 4);
    assert_int_equal(atomic_load(&m.destroys), 1);
    assert_int_equal(atomic_load(&m.validates), 0);
    assert_int_equal(nr_mock_check_clean(&m, &err), NR_ESTATE);
    assert_string_equal(err.message,
                        "mock: 1 created, 1 destroyed, 0 live, 4 calls on stale handles");
}

static void test_credential_weight_and_config(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_secret *pw = NULL;
    assert_int_equal(nr_secret_from_str(&pw, "hunter2", NULL), NR_OK);
    nr_mock_config cfg;
    const char *text = "{\"weight\": 7}";
    assert_int_equal(nr_config_parse(&nr_mock_config_schema, text, strlen(text), &cfg, NULL, NULL),
                     NR_OK);
    assert_string_equal(cfg.label, "mock");
    nr_create_ctx ctx = {.resource_id = "m", .deadline = nr_deadline_in_ms(1000), .credential = pw};
    void *out = NULL;
    assert_int_equal(nr_mock_type.create(&out, &cfg, &ctx, &m, NULL), NR_OK);
    nr_mock_handle *h = out;
    assert_int_equal(h->weight, 7);
    assert_int_equal(h->credential_len, 7);
    assert_string_equal(h->credential, "hunter2");
    nr_mock_handle *plain = create_ok(&m);
    assert_int_equal(plain->credential_len, -1);
    assert_string_equal(plain->credential, "");
    assert_int_equal(plain->weight, 1);
    nr_mock_type.destroy(h, &m);
    nr_mock_type.destroy(plain, &m);
    nr_config_free(&nr_mock_config_schema, &cfg);
    nr_secret_free(pw);
    /* the static defaults pass the schema */
    assert_int_equal(
        nr_config_validate(&nr_mock_config_schema, nr_mock_config_defaults(), "$", NULL, NULL),
        NR_OK);
    assert_int_equal(nr_resource_type_check(&nr_mock_type, NULL), NR_OK);
    assert_string_equal(nr_mock_type.name, "mock");
}

typedef struct calls {
    char seen[128];
} calls;

static void record(const char *what, void *arg)
{
    calls *c = arg;
    strcat(c->seen, what);
    strcat(c->seen, " ");
}

static void test_on_call_sees_every_callback(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    calls c = {{0}};
    m.on_call = record;
    m.on_call_arg = &c;
    nr_mock_handle *h = create_ok(&m);
    assert_int_equal(nr_mock_type.validate(h, &m, NULL), NR_OK);
    assert_int_equal(nr_mock_type.recycle(h, &m, NULL), NR_OK);
    (void)check(&m, h);
    nr_mock_type.destroy(h, &m);
    assert_string_equal(c.seen, "create validate recycle health destroy ");
}

/* ---- helpers ------------------------------------------------------------------------- */

static void test_pool_helpers(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_pool *p = NULL;
    nr_error err = {0};
    assert_int_equal(nr_test_pool_create(&p, "helped", &m, 0, 2, &err), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_test_acquire(p, &g, 60000, &err), NR_OK);
    nr_mock_handle *h = nr_guard_handle(&g);
    assert_true(nr_mock_handle_alive(h));
    /* a lease out: the end refuses and touches nothing */
    assert_int_equal(nr_test_pool_done(p, 1000, &err), NR_EBUSY);
    NR_ASSERT_ERR(err, NR_EBUSY, "pool 'helped': 1 leases still out");
    assert_int_equal(nr_guard_release(&g), NR_OK);
    /* an acquire that cannot succeed says so, prefixed */
    assert_int_equal(nr_pool_resize(p, 0, 1, NULL), NR_OK);
    nr_guard g1 = NR_GUARD_INIT, g2 = NR_GUARD_INIT;
    assert_int_equal(nr_test_acquire(p, &g1, 60000, &err), NR_OK);
    assert_int_equal(nr_test_acquire(p, &g2, 10, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "acquire within 10 ms: ");
    assert_int_equal(nr_guard_release(&g1), NR_OK);
    assert_int_equal(nr_test_pool_end(p, &m, &err), NR_OK);
    assert_int_equal(atomic_load(&m.live), 0);

    /* an instance the pool does not know about: the end says the mock is not clean */
    assert_int_equal(nr_test_pool_create(&p, "helped", &m, 0, 2, &err), NR_OK);
    nr_mock_handle *stray = create_ok(&m);
    assert_int_equal(nr_test_pool_end(p, &m, &err), NR_ESTATE);
    NR_ASSERT_ERR(err, NR_ESTATE, "destroyed, 1 live");
    nr_mock_type.destroy(stray, &m);

    assert_int_equal(nr_test_pool_create(&p, "helped", NULL, 0, 2, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "m: must not be NULL");
    assert_int_equal(nr_test_pool_create(&p, "bad id!", &m, 0, 2, &err), NR_EINVAL);
    assert_int_equal(nr_test_pool_create(&p, "helped", &m, 3, 2, &err), NR_ECONFIG);
}

static void test_manager_helpers(void **state)
{
    (void)state;
    nr_mock m;
    nr_mock_init(&m);
    nr_manager *mgr = NULL;
    nr_error err = {0};
    assert_int_equal(nr_test_manager_create(&mgr, "db", &m, NULL, &err), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_test_manager_acquire(mgr, "db", &g, 60000, &err), NR_OK);
    assert_true(nr_mock_handle_alive(nr_guard_handle(&g)));
    nr_guard other = NR_GUARD_INIT;
    assert_int_equal(nr_test_manager_acquire(mgr, "nope", &other, 60000, &err), NR_ENOTFOUND);
    assert_int_equal(nr_test_manager_end(mgr, &m, 20, &err), NR_EBUSY);
    NR_ASSERT_ERR(err, NR_EBUSY, "leases are still out");
    assert_int_equal(nr_guard_release(&g), NR_OK);
    int rc = nr_test_manager_end(mgr, &m, 60000, &err);
    if (rc != NR_OK)
        fail_msg("%s: %s", nr_err_name(rc), err.message);
    assert_true(atomic_load(&m.creates) >= 1);

    nr_pool_config pc;
    nr_test_pool_config(&pc, 5, 2); /* min_idle above max_size: refused, nothing left */
    assert_int_equal(nr_test_manager_create(&mgr, "db", &m, &pc, &err), NR_ECONFIG);
    assert_null(mgr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_are_exact),
        cmocka_unit_test(test_nth_create_fails_exactly_there),
        cmocka_unit_test(test_nth_and_every_validate_and_recycle),
        cmocka_unit_test(test_seeded_rate_repeats_per_seed),
        cmocka_unit_test(test_bad_scripts_are_refused),
        cmocka_unit_test(test_hanging_create_ends_on_cancel),
        cmocka_unit_test(test_hanging_create_ends_at_deadline_or_when_let_go),
        cmocka_unit_test(test_hanging_create_in_a_pool_is_cancelled_by_destroy),
        cmocka_unit_test(test_latencies_are_observed),
        cmocka_unit_test(test_health_sequence_per_call_then_script_then_default),
        cmocka_unit_test(test_stamps_catch_a_second_holder_and_stale_handles),
        cmocka_unit_test(test_credential_weight_and_config),
        cmocka_unit_test(test_on_call_sees_every_callback),
        cmocka_unit_test(test_pool_helpers),
        cmocka_unit_test(test_manager_helpers),
    };
    return cmocka_run_group_tests_name("testing_mock", tests, NULL, NULL);
}

/*
 * test_redis_pool.c - the Redis driver through the real pool, against a
 * real redis-server (started by with-redis.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include "redis_testenv.h"

#include <pthread.h>
#include <stdatomic.h>
#include "driver_pool.h"

#define ID "cache-pool"

typedef struct fixture {
    nr_redis_config cfg;
    nr_secret *cred;
    nr_pool *pool;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    rt_config(&f->cfg);
    f->cred = rt_secret(rt_env("NR_TEST_REDIS_PASSWORD"));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    if (f->pool) {
        nr_error err = {0};
        nr_pool_stats st = NR_POOL_STATS_INIT;
        nr_pool_stats_get(f->pool, &st);
        /* Creates run on the pool's creator and outlive the acquire that
         * asked for them (a failing or slow one included): wait for them
         * before destroying. A lease still out is a test failure. */
        if (st.in_use != 0) {
            fprintf(stderr, "teardown: %u lease(s) still out\n", (unsigned)st.in_use);
            rc = -1;
        } else if (nr_pool_drain(f->pool, nr_deadline_in_ms(60000), &err) != NR_OK ||
                   nr_pool_destroy(f->pool, &err) != NR_OK) {
            fprintf(stderr, "teardown: pool still busy: %s\n", err.message);
            rc = -1;
        }
    }
    nr_secret_free(f->cred);
    nr_config_free(&nr_redis_config_schema, &f->cfg);
    free(f);
    return rc;
}

static void make_pool_with(fixture *f, const nr_pool_config *pc)
{
    f->pool = nr_dt_pool(ID, &nr_redis_type, &f->cfg, pc, f->cred);
}

static void make_pool(fixture *f, int64_t max_size, int64_t min_idle)
{
    nr_pool_config pc;
    nr_dt_pool_config(&pc, max_size, min_idle);
    make_pool_with(f, &pc);
}

static redisReply *cmd_ok(void *h, const char *fmt, const char *arg)
{
    redisReply *r = NULL;
    nr_error err = {0};
    int rc = arg ? nr_redis_command(h, &r, &err, fmt, arg) : nr_redis_command(h, &r, &err, fmt);
    if (rc != NR_OK)
        fail_msg("'%s': %s: %s", fmt, nr_err_name(rc), err.message);
    return r;
}

static uint64_t instance_id(const nr_guard *g)
{
    nr_instance_info info;
    assert_int_equal(nr_guard_info(g, &info), NR_OK);
    return info.id;
}

/* ---- commands from many threads ---------------------------------------------------------- */

#define THREADS    4
#define ITERATIONS 50

typedef struct worker {
    fixture *f;
    pthread_barrier_t *start;
    int failures;
    char message[NR_ERROR_MESSAGE_MAX];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < ITERATIONS; i++) {
        nr_guard g = NR_GUARD_INIT;
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(60000));
        nr_error err = {0};
        if (nr_pool_acquire(w->f->pool, &ctx, &g, &err) != NR_OK ||
            nr_redis_command(nr_guard_handle(&g), NULL, &err, "INCR pool:counter") != NR_OK) {
            w->failures++;
            snprintf(w->message, sizeof(w->message), "%.200s", err.message);
        }
        if (nr_guard_release(&g) != NR_OK)
            w->failures++;
    }
    return NULL;
}

static void test_commands_from_threads(void **state)
{
    fixture *f = *state;
    f->cfg.db = 1;
    make_pool(f, 3, 0);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.f = f, .start = &start};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++)
        if (w[i].failures)
            fail_msg("thread %d: %d failures, last: %s", i, w[i].failures, w[i].message);

    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    redisReply *r = cmd_ok(nr_guard_handle(&g), "GET pool:counter", NULL);
    char want[16];
    snprintf(want, sizeof(want), "%d", THREADS * ITERATIONS);
    rt_expect_str(r, want);
    freeReplyObject(r);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_true(st.total <= 3);
    assert_int_equal(st.create_failures, 0);
    assert_int_equal(st.recycle_failures, 0);
    assert_int_equal(st.validate_failures, 0);
}

/* ---- SELECT ------------------------------------------------------------------------------ */

static void test_select_db_honoured(void **state)
{
    fixture *f = *state;
    f->cfg.db = 3;
    make_pool(f, 2, 0);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    freeReplyObject(cmd_ok(nr_guard_handle(&g), "SET pool:only-in-3 yes", NULL));
    assert_int_equal(nr_guard_release(&g), NR_OK);

    redisContext *admin = rt_admin(); /* db 0 */
    redisReply *r = redisCommand(admin, "GET pool:only-in-3");
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    freeReplyObject(redisCommand(admin, "SELECT 3"));
    r = redisCommand(admin, "GET pool:only-in-3");
    rt_expect_str(r, "yes");
    freeReplyObject(r);
    redisFree(admin);
}

/* ---- recycle on release ------------------------------------------------------------------- */

static void test_release_resets_session_state(void **state)
{
    fixture *f = *state;
    f->cfg.db = 3;
    make_pool(f, 1, 0);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    void *h = nr_guard_handle(&g);
    freeReplyObject(cmd_ok(h, "SET pool:k in-3", NULL));
    /* MULTI without EXEC */
    freeReplyObject(cmd_ok(h, "MULTI", NULL));
    freeReplyObject(cmd_ok(h, "SET pool:k changed", NULL));
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_dt_acquire_ok(f->pool, &g);
    assert_ptr_equal(nr_guard_handle(&g), h); /* max_size 1: the same instance, clean */
    redisReply *r = cmd_ok(h, "GET pool:k", NULL);
    rt_expect_str(r, "in-3"); /* not "QUEUED", not "changed" */
    freeReplyObject(r);
    /* WATCH, then SELECT of another database */
    freeReplyObject(cmd_ok(h, "WATCH pool:k", NULL));
    freeReplyObject(cmd_ok(h, "SELECT 0", NULL));
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_dt_acquire_ok(f->pool, &g);
    assert_ptr_equal(nr_guard_handle(&g), h);
    r = cmd_ok(h, "GET pool:k", NULL);
    rt_expect_str(r, "in-3"); /* back in db 3 */
    freeReplyObject(r);
    redisContext *admin = rt_admin();
    freeReplyObject(redisCommand(admin, "SELECT 3"));
    freeReplyObject(redisCommand(admin, "SET pool:k by-admin"));
    redisFree(admin);
    freeReplyObject(cmd_ok(h, "MULTI", NULL));
    freeReplyObject(cmd_ok(h, "SET pool:k by-lease", NULL));
    r = cmd_ok(h, "EXEC", NULL);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY); /* the WATCH is gone: not aborted */
    freeReplyObject(r);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 0);
    assert_int_equal(st.destroys, 0);
    assert_int_equal(st.creates, 1);
}

static void test_subscribed_connection_retired(void **state)
{
    fixture *f = *state;
    make_pool(f, 1, 0);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    uint64_t first = instance_id(&g);
    redisReply *r = cmd_ok(nr_guard_handle(&g), "SUBSCRIBE pool:news", NULL);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 1);
    assert_int_equal(st.destroys, 1);
    assert_int_equal(st.total, 0);

    nr_dt_acquire_ok(f->pool, &g);
    assert_int_not_equal(instance_id(&g), first);
    r = cmd_ok(nr_guard_handle(&g), "PING", NULL);
    rt_expect_str(r, "PONG");
    freeReplyObject(r);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_killed_connection_replaced(void **state)
{
    fixture *f = *state;
    nr_pool_config pc;
    nr_dt_pool_config(&pc, 1, 0);
    pc.validate_bypass_ms = 0; /* validate on every reuse, however soon after the release */
    make_pool_with(f, &pc);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    uint64_t first = instance_id(&g);
    void *h = nr_guard_handle(&g);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    rt_kill_client(h); /* while it sits idle in the pool */

    nr_dt_acquire_ok(f->pool, &g); /* validate sees the close; a new one is made */
    assert_int_not_equal(instance_id(&g), first);
    redisReply *r = cmd_ok(nr_guard_handle(&g), "PING", NULL);
    rt_expect_str(r, "PONG");
    freeReplyObject(r);

    /* killed while leased: the command fails, the release retires it */
    rt_kill_client(nr_guard_handle(&g));
    nr_error err = {0};
    assert_int_equal(nr_redis_command(nr_guard_handle(&g), NULL, &err, "PING"), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.validate_failures, 1);
    assert_int_equal(st.recycle_failures, 1);
    assert_int_equal(st.total, 0);
    nr_dt_acquire_ok(f->pool, &g);
    assert_int_equal(nr_redis_command(nr_guard_handle(&g), NULL, &err, "PING"), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

/* ---- health --------------------------------------------------------------------------------- */

static void test_check_health(void **state)
{
    fixture *f = *state;
    f->cfg.health_timeout_ms = 300;
    make_pool(f, 4, 2);
    nr_error err = {0};
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(60000), &err), NR_OK);
    nr_pool_health_report rep;
    memset(&rep, 0, sizeof(rep));
    assert_int_equal(nr_pool_check_health(f->pool, 10 * NR_NS_PER_S, &rep, &err), NR_OK);
    assert_int_equal(rep.checked, 2);
    assert_int_equal(rep.healthy, 2);
    assert_int_equal(rep.worst, NR_HEALTH_HEALTHY);

    /* a server that hangs: the PINGs time out, the instances are discarded */
    rt_ctl("pause");
    memset(&rep, 0, sizeof(rep));
    int rc = nr_pool_check_health(f->pool, 10 * NR_NS_PER_S, &rep, &err);
    rt_ctl("resume");
    (void)rc;
    assert_int_equal(rep.checked, 2);
    assert_int_equal(rep.healthy, 0);
    assert_int_equal(rep.discarded, 2);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.health_discards, 2);
    assert_int_equal(st.total, 0);
}

/* ---- failures reaching the acquirer ---------------------------------------------------------- */

static void test_acquire_deadline_on_hung_server(void **state)
{
    fixture *f = *state;
    make_pool(f, 2, 0);
    rt_ctl("pause");
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(300));
    nr_error err = {0};
    int rc = nr_pool_acquire(f->pool, &ctx, &g, &err);
    rt_ctl("resume");
    assert_int_equal(rc, NR_ETIMEDOUT);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, ID);
    /* and once it answers again, the pool works */
    nr_dt_acquire_ok(f->pool, &g);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

/* An acquire while every create fails: nothing was created before it, so
 * the creator's create is the one failing. It waits out its deadline,
 * and the timeout carries the last create's error (its code as cause, the
 * driver's code, its message after the pool's). */
static nr_error acquire_times_out(fixture *f, int cause, long driver_code)
{
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(2000));
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_ETIMEDOUT);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "pool '" ID "': no instance became free in time");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "the last create failed: redis '" ID "'");
    assert_int_equal(err.cause, cause);
    assert_int_equal(err.driver_code, driver_code);
    assert_string_equal(err.resource_id, ID);
    return err;
}

/* The create's own error, on the calling thread: nr_pool_prime. A create
 * the acquires above left running on the creator counts toward the prime's
 * one instance (it would return NR_OK without a create of its own): wait
 * for it first. */
static nr_error prime_fails(fixture *f, int code, long driver_code)
{
    nr_error err = {0};
    int rc = nr_pool_wait_returned(f->pool, nr_deadline_in_ms(60000), &err);
    if (rc != NR_OK)
        fail_msg("wait_returned: %s: %s", nr_err_name(rc), err.message);
    assert_int_equal(nr_pool_prime(f->pool, 1, nr_deadline_in_ms(60000), &err), code);
    NR_ASSERT_ERR(err, code, "pool '" ID "': create failed: redis '" ID "'");
    assert_int_equal(err.cause, code);
    assert_int_equal(err.driver_code, driver_code);
    assert_string_equal(err.resource_id, ID);
    return err;
}

static void test_wrong_password_reaches_acquirer(void **state)
{
    fixture *f = *state;
    const char *wrong = "Pool-Wrong-Secret-99";
    nr_secret_free(f->cred);
    f->cred = rt_secret(wrong);
    rt_set_str(&f->cfg.user, rt_env("NR_TEST_REDIS_USER"));
    make_pool(f, 2, 0);

    nr_error err = acquire_times_out(f, NR_ECRED, REDIS_REPLY_ERROR);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "user 'appuser'");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "WRONGPASS");
    assert_null(strstr(err.message, wrong));
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_true(st.create_failures >= 1);
    assert_int_equal(st.creates, 0);

    err = prime_fails(f, NR_ECRED, REDIS_REPLY_ERROR);
    NR_ASSERT_ERR(err, NR_ECRED, "user 'appuser'");
    NR_ASSERT_ERR(err, NR_ECRED, "WRONGPASS");
    assert_null(strstr(err.message, wrong));
}

static void test_refused_reaches_acquirer(void **state)
{
    fixture *f = *state;
    rt_set_str(&f->cfg.unix_socket, "/nonexistent/redis.sock");
    nr_pool_config pc;
    nr_dt_pool_config(&pc, 2, 0);
    pc.breaker_failures = 3;
    make_pool_with(f, &pc);

    nr_error err = acquire_times_out(f, NR_EUNAVAIL, REDIS_ERR_IO);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "connecting to unix:/nonexistent/redis.sock failed");

    /* The create's own error on this thread; with these, breaker_failures
     * creates have failed in a row whatever the creator managed meanwhile. */
    for (int i = 0; i < 3; i++) {
        err = prime_fails(f, NR_EUNAVAIL, REDIS_ERR_IO);
        NR_ASSERT_ERR(err, NR_EUNAVAIL, "connecting to unix:/nonexistent/redis.sock failed");
    }

    /* The breaker is open: an acquire fails at once (not at its deadline)
     * with the create's reason. */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(60000));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_EUNAVAIL);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "pool '" ID "': unavailable: ");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "(the breaker is open); the last: redis '" ID "'");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "connecting to unix:/nonexistent/redis.sock failed");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_int_equal(err.driver_code, REDIS_ERR_IO);
    assert_string_equal(err.resource_id, ID);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_commands_from_threads),           T(test_select_db_honoured),
        T(test_release_resets_session_state),    T(test_subscribed_connection_retired),
        T(test_killed_connection_replaced),      T(test_check_health),
        T(test_acquire_deadline_on_hung_server), T(test_wrong_password_reaches_acquirer),
        T(test_refused_reaches_acquirer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

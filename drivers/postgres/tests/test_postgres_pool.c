/*
 * test_postgres_pool.c - the PostgreSQL driver under the real pool, against
 * a real server (tests/with-postgres.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_pool.h"
#include "pg_testlib.h"

#define ID        "orders-db"
#define THREADS   4
#define ITERS     25
#define LONG_WAIT nr_deadline_in_ms(30000)

typedef struct fixture {
    nr_postgres_config cfg;
    nr_secret *pw;
    nr_pool_config pc;
    nr_pool *pool;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    pgt_config(&f->cfg);
    f->pw = pgt_password();
    nr_pool_config_default(&f->pc);
    f->pc.max_size = THREADS;
    f->pc.acquire_timeout_ms = 30000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pgt_ctl("sigcont");
    int rc = 0;
    if (f->pool) {
        nr_error err = {0};
        if (nr_pool_destroy(f->pool, &err) != NR_OK) {
            fprintf(stderr, "teardown: pool still busy: %s\n", err.message);
            rc = -1;
        }
    }
    nr_secret_free(f->pw);
    nr_config_free(&nr_postgres_config_schema, &f->cfg);
    free(f);
    return rc;
}

static int lease_pid(nr_guard *g)
{
    return PQbackendPID(nr_postgres_conn(nr_guard_handle(g)));
}

static void exec_ok(nr_guard *g, const char *sql)
{
    nr_error err = {0};
    if (nr_postgres_exec(nr_guard_handle(g), sql, &err) != NR_OK)
        fail_msg("%s: %s", sql, err.message);
}

/* ---- CRUD from several threads ---- */

typedef struct worker {
    fixture *f;
    int n;
    int failures;
} worker;

static void *crud_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < ITERS; i++) {
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        nr_ctx ctx = NR_CTX(.deadline = LONG_WAIT);
        if (nr_pool_acquire(w->f->pool, &ctx, &g, &err) != NR_OK) {
            w->failures++;
            continue;
        }
        PGconn *pg = nr_postgres_conn(nr_guard_handle(&g));
        char who[16], n[16];
        snprintf(who, sizeof(who), "t%d", w->n);
        snprintf(n, sizeof(n), "%d", i);
        const char *params[2] = {who, n};
        PGresult *r = PQexecParams(pg, "INSERT INTO orders(who, n) VALUES ($1, $2) RETURNING id", 2,
                                   NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            w->failures++;
        PQclear(r);
        /* read it back inside a transaction left for recycle to close */
        r = PQexec(pg, "BEGIN");
        PQclear(r);
        r = PQexecParams(pg, "SELECT count(*) FROM orders WHERE who = $1", 1, NULL, params, NULL,
                         NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || atoi(PQgetvalue(r, 0, 0)) != i + 1)
            w->failures++;
        PQclear(r);
        if (nr_guard_release(&g) != NR_OK)
            w->failures++;
    }
    return NULL;
}

static void test_crud_threads(void **state)
{
    fixture *f = *state;
    f->pool = nr_dt_pool(ID, &nr_postgres_type, &f->cfg, &f->pc, f->pw);
    {
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
        exec_ok(&g, "DROP TABLE IF EXISTS orders; "
                    "CREATE TABLE orders(id serial PRIMARY KEY, who text NOT NULL, n int NOT NULL, "
                    "done bool NOT NULL DEFAULT false)");
        assert_int_equal(nr_guard_release(&g), NR_OK);
    }
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.f = f, .n = i};
        assert_int_equal(pthread_create(&t[i], NULL, crud_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    PGconn *pg = nr_postgres_conn(nr_guard_handle(&g));
    assert_int_equal(pgt_query_long(pg, "SELECT count(*) FROM orders"), THREADS * ITERS);
    exec_ok(&g, "UPDATE orders SET done = true WHERE n % 2 = 0");
    assert_int_equal(pgt_query_long(pg, "SELECT count(*) FROM orders WHERE done"),
                     THREADS * ((ITERS + 1) / 2));
    exec_ok(&g, "DELETE FROM orders WHERE done");
    assert_int_equal(pgt_query_long(pg, "SELECT count(*) FROM orders"), THREADS * (ITERS / 2));
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_true(st.creates >= 1 && st.creates <= THREADS);
    assert_int_equal(st.recycle_failures, 0);
    assert_int_equal(st.validate_failures, 0);
    assert_int_equal(st.in_use, 0);
}

/* ---- the next lease sees a clean session ---- */

static void test_clean_session_between_leases(void **state)
{
    fixture *f = *state;
    f->pc.max_size = 1;
    f->pool = nr_dt_pool(ID, &nr_postgres_type, &f->cfg, &f->pc, f->pw);
    nr_error err = {0};
    nr_guard g = NR_GUARD_INIT;

    /* lease 1: session state, then a transaction left open */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    int pid = lease_pid(&g);
    exec_ok(&g, "CREATE TEMP TABLE scratch(x int)");
    exec_ok(&g, "SET search_path = pg_catalog");
    exec_ok(&g, "LISTEN some_channel");
    exec_ok(&g, "BEGIN; INSERT INTO scratch VALUES (1)");
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* lease 2: the same backend, clean */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    assert_int_equal(lease_pid(&g), pid);
    PGconn *pg = nr_postgres_conn(nr_guard_handle(&g));
    assert_int_equal(PQtransactionStatus(pg), PQTRANS_IDLE);
    assert_int_equal(pgt_query_long(pg, "SELECT count(*) FROM pg_class WHERE relname = 'scratch' "
                                        "AND relpersistence = 't'"),
                     0);
    char buf[128];
    pgt_query_text(pg, "SHOW search_path", buf, sizeof(buf));
    assert_string_equal(buf, "\"$user\", public");
    assert_int_equal(pgt_query_long(pg, "SELECT count(*) FROM pg_listening_channels()"), 0);

    /* ... then an aborted transaction */
    exec_ok(&g, "BEGIN");
    assert_int_equal(nr_postgres_exec(nr_guard_handle(&g), "SELECT * FROM missing", &err),
                     NR_EINVAL);
    assert_int_equal(PQtransactionStatus(pg), PQTRANS_INERROR);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    assert_int_equal(lease_pid(&g), pid);
    assert_int_equal(PQtransactionStatus(nr_postgres_conn(nr_guard_handle(&g))), PQTRANS_IDLE);
    assert_int_equal(pgt_query_long(nr_postgres_conn(nr_guard_handle(&g)), "SELECT 7"), 7);

    /* ... then a query still running at release: that connection is retired */
    assert_true(PQsendQuery(nr_postgres_conn(nr_guard_handle(&g)), "SELECT pg_sleep(0.05)"));
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    assert_int_not_equal(lease_pid(&g), pid);
    assert_int_equal(PQtransactionStatus(nr_postgres_conn(nr_guard_handle(&g))), PQTRANS_IDLE);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 1);
    assert_int_equal(st.creates, 2);
}

/* ---- a connection the server killed is replaced ---- */

static void terminate(int pid)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
    pgt_admin_exec(sql);
    assert_true(pgt_wait_pid_gone(pid));
}

static void test_terminated_connection_replaced(void **state)
{
    fixture *f = *state;
    f->pc.max_size = 1;
    f->pc.validate_bypass_ms = 0; /* validate on every reuse: it finds the killed backend */
    f->pool = nr_dt_pool(ID, &nr_postgres_type, &f->cfg, &f->pc, f->pw);
    nr_error err = {0};
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    int pid = lease_pid(&g);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* found by validate on the next acquire */
    terminate(pid);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    int pid2 = lease_pid(&g);
    assert_int_not_equal(pid2, pid);
    assert_int_equal(pgt_query_long(nr_postgres_conn(nr_guard_handle(&g)), "SELECT 1"), 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.validate_failures, 1);

    /* found by a health check */
    terminate(pid2);
    nr_pool_health_report hr;
    assert_int_equal(nr_pool_check_health(f->pool, 5000 * NR_NS_PER_MS, &hr, &err), NR_OK);
    assert_int_equal(hr.checked, 1);
    assert_int_equal(hr.discarded, 1);
    assert_int_equal(hr.worst, NR_HEALTH_UNHEALTHY);
    assert_true(strlen(hr.reason) > 0);

    /* killed while leased: the user's query fails, the lease is tainted */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    int pid3 = lease_pid(&g);
    assert_true(pid3 != pid2 && pid3 != pid);
    terminate(pid3);
    assert_int_equal(nr_postgres_exec(nr_guard_handle(&g), "SELECT 1", &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "postgres '" ID "'");
    assert_int_equal(nr_guard_taint(&g), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    assert_int_equal(pgt_query_long(nr_postgres_conn(nr_guard_handle(&g)), "SELECT 2"), 2);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* a healthy pool */
    assert_int_equal(nr_pool_check_health(f->pool, 5000 * NR_NS_PER_MS, &hr, &err), NR_OK);
    assert_int_equal(hr.worst, NR_HEALTH_HEALTHY);
    assert_int_equal(hr.discarded, 0);
}

/* ---- failures through the pool ---- */

/* Prime until breaker_failures creates have failed in a row; the breaker
 * is then open and every prime gave the create's own code. */
static void open_breaker(fixture *f, int code)
{
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    for (int64_t i = 0; i < f->pc.breaker_failures && !st.breaker_open; i++) {
        nr_error err = {0};
        assert_int_equal(nr_pool_prime(f->pool, 1, LONG_WAIT, &err), code);
        nr_pool_stats_get(f->pool, &st);
    }
    assert_true(st.breaker_open);
    assert_true(st.consecutive_failures >= (uint32_t)f->pc.breaker_failures);
}

/* An acquire with the breaker open fails at once (well before its deadline). */
static void acquire_breaker_open(fixture *f, nr_guard *g, nr_error *err)
{
    nr_ctx ctx = NR_CTX(.deadline = LONG_WAIT);
    int64_t t0 = nr_now_ns();
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, g, err), NR_EUNAVAIL);
    int64_t took = nr_now_ns() - t0;
    assert_false(nr_guard_held(g));
    assert_true(took < 5000 * NR_NS_PER_MS);
}

static void test_acquire_failures(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    nr_guard g = NR_GUARD_INIT;
    const char *real = pgt_env("NR_TEST_PG_PASSWORD");
    char sqlstate[6];

    /* wrong password: the acquirer times out with the create's error as the cause */
    nr_secret *bad = pgt_secret("not-the-password-77");
    f->pool = nr_dt_pool(ID, &nr_postgres_type, &f->cfg, &f->pc, bad);
    nr_secret_free(bad);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(1500));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "pool '" ID "': no instance became free in time");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "the last create failed: postgres '" ID "'");
    assert_int_equal(err.cause, NR_ECRED);
    assert_string_equal(nr_postgres_sqlstate(err.driver_code, sqlstate), "28P01");
    assert_string_equal(err.resource_id, ID);
    assert_non_null(strstr(err.message, "user 'app'"));
    assert_null(strstr(err.message, "not-the-password-77"));
    assert_null(strstr(err.message, real));
    assert_false(nr_guard_held(&g));
    /* ... a create on the calling thread gives its own error */
    assert_int_equal(nr_pool_prime(f->pool, 1, LONG_WAIT, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "pool '" ID "': create failed: postgres '" ID "'");
    assert_int_equal(err.cause, NR_ECRED);
    assert_string_equal(nr_postgres_sqlstate(err.driver_code, sqlstate), "28P01");
    assert_non_null(strstr(err.message, "user 'app'"));
    assert_null(strstr(err.message, "not-the-password-77"));
    assert_null(strstr(err.message, real));
    /* ... and once the breaker is open, acquires fail at once with it */
    open_breaker(f, NR_ECRED);
    acquire_breaker_open(f, &g, &err);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "pool '" ID "': unavailable: ");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "(the breaker is open); the last: postgres '" ID "'");
    assert_int_equal(err.cause, NR_ECRED);
    assert_string_equal(nr_postgres_sqlstate(err.driver_code, sqlstate), "28P01");
    assert_non_null(strstr(err.message, "user 'app'"));
    assert_null(strstr(err.message, "not-the-password-77"));
    assert_null(strstr(err.message, real));
    nr_dt_pool_done(f->pool);
    f->pool = NULL;

    /* nothing listens */
    f->cfg.port = atol(pgt_env("NR_TEST_PG_CLOSED_PORT"));
    f->pool = nr_dt_pool(ID, &nr_postgres_type, &f->cfg, &f->pc, f->pw);
    ctx = (nr_ctx)NR_CTX(.deadline = nr_deadline_in_ms(1500));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "pool '" ID "': no instance became free in time");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "the last create failed: postgres '" ID "': cannot connect");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_null(strstr(err.message, real));
    assert_false(nr_guard_held(&g));
    assert_int_equal(nr_pool_prime(f->pool, 1, LONG_WAIT, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL,
                  "pool '" ID "': create failed: postgres '" ID "': cannot connect");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_null(strstr(err.message, real));
    open_breaker(f, NR_EUNAVAIL);
    acquire_breaker_open(f, &g, &err);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "the last: postgres '" ID "': cannot connect");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    nr_dt_pool_done(f->pool);
    f->pool = NULL;

    /* a frozen server: the acquire's deadline holds, and so does its cancel token */
    f->cfg.port = atol(pgt_env("NR_TEST_PG_PORT"));
    f->pool = nr_dt_pool(ID, &nr_postgres_type, &f->cfg, &f->pc, f->pw);
    pgt_ctl("sigstop");
    ctx = (nr_ctx)NR_CTX(.deadline = nr_deadline_in_ms(300));
    int rc = nr_pool_acquire(f->pool, &ctx, &g, &err);
    nr_cancel *token = NULL;
    nr_error cerr = {0};
    assert_int_equal(nr_cancel_create(&token, NULL, &cerr), NR_OK);
    nr_cancel_trigger(token);
    nr_ctx cctx = NR_CTX(.deadline = LONG_WAIT, .cancel = token);
    int crc = nr_pool_acquire(f->pool, &cctx, &g, &cerr);
    pgt_ctl("sigcont");
    nr_cancel_destroy(token);
    assert_int_equal(rc, NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "pool '" ID "': no instance became free in time");
    /* the create is slow, not failing: no create error to quote */
    assert_int_equal(err.cause, NR_OK);
    assert_null(strstr(err.message, "create failed"));
    assert_int_equal(crc, NR_ECANCELED);
    /* thawed: the create still running lands in the pool, and it works */
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    assert_int_equal(pgt_query_long(nr_postgres_conn(nr_guard_handle(&g)), "SELECT 3"), 3);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crud_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_session_between_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminated_connection_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acquire_failures, setup, teardown),
    };
    return cmocka_run_group_tests_name("postgres_pool", tests, NULL, NULL);
}

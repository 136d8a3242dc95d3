/*
 * test_sqlite_pool.c - the SQLite driver through the real pool.
 */
#define _XOPEN_SOURCE 700
#include "driver_pool.h"
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nebula/sqlite.h"

#define ID "app-db"

typedef struct fixture {
    char dir[64];
    char path[256];
    nr_sqlite_config cfg; /* owns its strings (nr_config_init) */
    nr_pool *pool;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/nr-sqlite-pool-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/app.db", f->dir);
    nr_error err = {0};
    if (nr_config_init(&nr_sqlite_config_schema, &f->cfg, &err) != NR_OK)
        return -1;
    nr_free(f->cfg.path);
    f->cfg.path = nr_strdup(f->path);
    f->cfg.wal = true;
    f->cfg.busy_timeout_ms = 30000;
    *state = f;
    return f->cfg.path ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    if (f->pool) {
        nr_error err = {0};
        nr_pool_stats st = NR_POOL_STATS_INIT;
        nr_pool_stats_get(f->pool, &st);
        if (st.in_use != 0 || nr_pool_destroy(f->pool, &err) != NR_OK) {
            fprintf(stderr, "teardown: pool still busy: %s\n", err.message);
            rc = -1;
        }
    }
    nr_config_free(&nr_sqlite_config_schema, &f->cfg);
    nr_test_remove_dir(f->dir);
    free(f);
    return rc;
}

static void make_pool(fixture *f, int64_t max_size, int64_t min_idle)
{
    nr_pool_config pc;
    nr_dt_pool_config(&pc, max_size, min_idle);
    f->pool = nr_dt_pool(ID, &nr_sqlite_type, &f->cfg, &pc, NULL);
}

static void exec_ok(void *h, const char *sql)
{
    nr_error err = {0};
    int rc = nr_sqlite_exec(h, sql, &err);
    if (rc != NR_OK)
        fail_msg("exec '%s': %s: %s", sql, nr_err_name(rc), err.message);
}

static int count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* ---- many threads, one file ------------------------------------------------------- */

#define THREADS    6
#define ITERATIONS 40

typedef struct worker {
    fixture *f;
    int index;
    pthread_barrier_t *start;
    atomic_int *holders; /* per pool instance id: leases held right now */
    int failures;
    char message[NR_ERROR_MESSAGE_MAX];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < ITERATIONS; i++) {
        nr_guard g = NR_GUARD_INIT;
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(60000), .caller = "worker");
        nr_error err = {0};
        if (nr_pool_acquire(w->f->pool, &ctx, &g, &err) != NR_OK) {
            w->failures++;
            snprintf(w->message, sizeof(w->message), "acquire: %.200s", err.message);
            continue;
        }
        nr_instance_info info;
        int stamp = -1;
        if (nr_guard_info(&g, &info) == NR_OK && info.id < 64) {
            stamp = (int)info.id;
            /* a second holder of the same instance is a double hand-out */
            if (atomic_fetch_add(&w->holders[stamp], 1) != 0)
                w->failures++;
        }
        sqlite3 *db = nr_sqlite_db(nr_guard_handle(&g));
        sqlite3_stmt *st = NULL;
        int rc =
            sqlite3_prepare_v2(db, "INSERT INTO rows(thread, seq) VALUES (?, ?)", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int(st, 1, w->index);
            sqlite3_bind_int(st, 2, i);
            rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_OK) {
            w->failures++;
            snprintf(w->message, sizeof(w->message), "insert: %s", sqlite3_errstr(rc));
        }
        if (stamp >= 0)
            atomic_fetch_sub(&w->holders[stamp], 1);
        if (nr_guard_release(&g) != NR_OK)
            w->failures++;
    }
    return NULL;
}

static void test_threads_share_a_wal_file(void **state)
{
    fixture *f = *state;
    make_pool(f, 3, 0);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    exec_ok(nr_guard_handle(&g), "CREATE TABLE rows(thread INTEGER, seq INTEGER,"
                                 " PRIMARY KEY (thread, seq))");
    assert_int_equal(nr_guard_release(&g), NR_OK);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    atomic_int holders[64];
    for (int i = 0; i < 64; i++)
        atomic_init(&holders[i], 0);
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.f = f, .index = i, .start = &start, .holders = holders};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++)
        if (w[i].failures)
            fail_msg("thread %d: %d failures, last: %s", i, w[i].failures, w[i].message);

    nr_dt_acquire_ok(f->pool, &g);
    sqlite3 *db = nr_sqlite_db(nr_guard_handle(&g));
    assert_int_equal(count_rows(db, "SELECT count(*) FROM rows"), THREADS * ITERATIONS);
    assert_int_equal(count_rows(db, "SELECT count(DISTINCT thread) FROM rows"), THREADS);
    assert_int_equal(
        count_rows(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_true(st.total <= 3);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.create_failures, 0);
    assert_int_equal(st.recycle_failures, 0);
    assert_int_equal(st.acquires, THREADS * ITERATIONS + 2);
}

/* ---- recycle on release ---------------------------------------------------------------------- */

static void test_release_rolls_back_open_transaction(void **state)
{
    fixture *f = *state;
    make_pool(f, 1, 0);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    void *h = nr_guard_handle(&g);
    exec_ok(h, "CREATE TABLE t(x)");
    /* the user leaves a transaction open */
    exec_ok(h, "BEGIN; INSERT INTO t VALUES (1)");
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* max_size 1: the same instance comes back, clean */
    nr_dt_acquire_ok(f->pool, &g);
    assert_ptr_equal(nr_guard_handle(&g), h);
    sqlite3 *db = nr_sqlite_db(nr_guard_handle(&g));
    assert_int_not_equal(sqlite3_get_autocommit(db), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM t"), 0);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 0);
    assert_int_equal(st.destroys, 0);
}

/* ---- health ------------------------------------------------------------------------------------
 */

static void test_check_health_reports_healthy(void **state)
{
    fixture *f = *state;
    make_pool(f, 4, 2);
    nr_error err = {0};
    assert_int_equal(nr_pool_fill(f->pool, nr_deadline_in_ms(60000), &err), NR_OK);
    nr_pool_health_report rep;
    memset(&rep, 0, sizeof(rep));
    assert_int_equal(nr_pool_check_health(f->pool, 10 * NR_NS_PER_S, &rep, &err), NR_OK);
    assert_int_equal(rep.checked, 2);
    assert_int_equal(rep.healthy, 2);
    assert_int_equal(rep.unhealthy, 0);
    assert_int_equal(rep.discarded, 0);
    assert_int_equal(rep.worst, NR_HEALTH_HEALTHY);
}

/* ---- taint --------------------------------------------------------------------------------------
 */

static void test_taint_discards(void **state)
{
    fixture *f = *state;
    make_pool(f, 1, 0);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    nr_instance_info first;
    assert_int_equal(nr_guard_info(&g, &first), NR_OK);
    exec_ok(nr_guard_handle(&g), "CREATE TABLE t(x); INSERT INTO t VALUES (1)");
    assert_int_equal(nr_guard_taint(&g), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.taints, 1);
    assert_int_equal(st.destroys, 1);
    assert_int_equal(st.total, 0);

    /* a new instance, on the same file: the committed row is still there */
    nr_dt_acquire_ok(f->pool, &g);
    nr_instance_info second;
    assert_int_equal(nr_guard_info(&g, &second), NR_OK);
    assert_int_not_equal(second.id, first.id);
    assert_int_equal(count_rows(nr_sqlite_db(nr_guard_handle(&g)), "SELECT count(*) FROM t"), 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

/* ---- failures through the pool
 * ------------------------------------------------------------------- */

static void test_bad_config_refused_by_pool(void **state)
{
    fixture *f = *state;
    f->cfg.read_only = true; /* with wal: refused by the schema's rule */
    nr_pool_options o = NR_POOL_OPTIONS(.id = ID, .type = &nr_sqlite_type, .config = &f->cfg);
    nr_error err = {0};
    assert_int_equal(nr_pool_create(&f->pool, &o, &err), NR_ECONFIG);
    assert_null(f->pool);
    NR_ASSERT_ERR(err, NR_ECONFIG, "wal");
}

static void test_create_failure_reaches_acquirer(void **state)
{
    fixture *f = *state;
    char bad[300];
    snprintf(bad, sizeof(bad), "%s/missing/app.db", f->dir);
    nr_free(f->cfg.path);
    f->cfg.path = nr_strdup(bad);
    assert_non_null(f->cfg.path);
    make_pool(f, 2, 0);

    /* the acquirer waits out its deadline; the create's error is the cause */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(1000));
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_ETIMEDOUT);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "pool '" ID "': no instance became free in time");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "the last create failed: sqlite '" ID "'");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, bad);
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_string_equal(err.resource_id, ID);
    assert_int_equal(err.driver_code & 0xff, SQLITE_CANTOPEN);

    /* a create on the calling thread gives its own error */
    nr_error_clear(&err);
    assert_int_equal(nr_pool_prime(f->pool, 1, nr_deadline_in_ms(60000), &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "pool '" ID "': create failed: sqlite '" ID "'");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, bad);
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_string_equal(err.resource_id, ID);
    assert_int_equal(err.driver_code & 0xff, SQLITE_CANTOPEN);

    /* breaker_failures in a row open the breaker: acquires fail at once */
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    for (int i = 0; i < 5 && !st.breaker_open; i++) {
        assert_int_equal(nr_pool_prime(f->pool, 1, nr_deadline_in_ms(60000), &err), NR_EUNAVAIL);
        nr_pool_stats_get(f->pool, &st);
    }
    assert_true(st.breaker_open);
    assert_true(st.consecutive_failures >= 5);
    nr_error_clear(&err);
    ctx.deadline = nr_deadline_in_ms(60000);
    int64_t t0 = nr_now_ns();
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_EUNAVAIL);
    assert_true(nr_now_ns() - t0 < 5 * NR_NS_PER_S);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "pool '" ID "': unavailable: ");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "(the breaker is open); the last: sqlite '" ID "'");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_int_equal(err.driver_code & 0xff, SQLITE_CANTOPEN);

    /* a trial create may still run on the creator: wait for it */
    assert_int_equal(nr_pool_drain(f->pool, nr_deadline_in_ms(60000), &err), NR_OK);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_threads_share_a_wal_file),     T(test_release_rolls_back_open_transaction),
        T(test_check_health_reports_healthy), T(test_taint_discards),
        T(test_bad_config_refused_by_pool),   T(test_create_failure_reaches_acquirer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

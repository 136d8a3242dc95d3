/*
 * test_postgres_async.c - nr_pg_async (nebula/postgres_async.h) on
 * connections leased from a real pool, against a real server
 * (tests/with-postgres.sh): queries on several connections at once driven
 * by one poll() loop on one thread, a deadline, a cancel token, server
 * errors, the connection given back in blocking mode, and the server
 * killed while queries run.
 *
 * Every query the loop runs has a deadline (at most LONG_MS), so a query
 * that never finishes shows up as NR_ETIMEDOUT, not as a hang.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_pool.h"
#include "nebula/async.h"
#include "nebula/postgres_async.h"
#include "pg_testlib.h"

#define ID      "async-db"
#define CONNS   4
#define QUERIES 200
#define LONG_MS 60000

typedef struct fixture {
    nr_postgres_config cfg;
    nr_secret *pw;
    nr_pool *pool;
    nr_guard g[CONNS];
    int frozen_pid; /* a backend stopped with SIGSTOP, 0 when none */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    pgt_config(&f->cfg);
    f->pw = pgt_password();
    nr_pool_config pc;
    nr_dt_pool_config(&pc, CONNS, 0);
    f->pool = nr_dt_pool(ID, &nr_postgres_type, &f->cfg, &pc, f->pw);
    for (int i = 0; i < CONNS; i++)
        f->g[i] = (nr_guard)NR_GUARD_INIT;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->frozen_pid)
        (void)kill(f->frozen_pid, SIGCONT);
    for (int i = 0; i < CONNS; i++) {
        if (nr_guard_held(&f->g[i])) /* a lease a failed test left out */
            (void)nr_guard_taint(&f->g[i]);
    }
    nr_dt_pool_done(f->pool);
    nr_secret_free(f->pw);
    nr_config_free(&nr_postgres_config_schema, &f->cfg);
    free(f);
    return 0;
}

static PGconn *conn_of(fixture *f, int i)
{
    return nr_postgres_conn(nr_guard_handle(&f->g[i]));
}

static void lease_all(fixture *f)
{
    for (int i = 0; i < CONNS; i++)
        nr_dt_acquire_ok(f->pool, &f->g[i]);
}

static nr_pg_async *start_ok(PGconn *pg, const char *sql, int nparams, const char *const *values,
                             nr_deadline dl, const nr_cancel *cancel)
{
    nr_pg_async *q = NULL;
    nr_error err = {0};
    int rc = nr_pg_async_start(&q, pg, sql, nparams, values, dl, cancel, &err);
    if (rc != NR_OK)
        fail_msg("start '%s': %s: %s", sql, nr_err_name(rc), err.message);
    assert_non_null(q);
    return q;
}

/* ---- the loop: what an event-loop adapter does, with poll() ---------------------------- */

/* Called when the query in slot i finished with rc (err describes a
 * failure); it may take the result. Returns the query to run next in that
 * slot (NULL: none). The loop frees the finished one. */
typedef nr_pg_async *(*done_fn)(void *ud, int slot, nr_pg_async *q, int rc, const nr_error *err);

typedef struct loop_stats {
    int steps;
    int write_waits; /* polls that asked for NR_IO_WRITE */
} loop_stats;

static int timeout_ms(int64_t at_ns)
{
    if (at_ns == NR_DEADLINE_NEVER)
        return LONG_MS;
    int64_t left = at_ns - nr_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + NR_NS_PER_MS - 1) / NR_NS_PER_MS;
    return ms > LONG_MS ? LONG_MS : (int)ms;
}

/* Step q until it has finished, polling its fd for what it wants, at most
 * until its deadline, between steps. */
static int run_to_end(nr_pg_async *q, nr_error *err)
{
    int rc;
    while ((rc = nr_pg_async_step(q, err)) == NR_PENDING) {
        int w = nr_pg_async_wants(q);
        struct pollfd p = {
            .fd = nr_pg_async_fd(q),
            .events = (short)(((w & NR_IO_READ) ? POLLIN : 0) | ((w & NR_IO_WRITE) ? POLLOUT : 0))};
        (void)poll(&p, 1, timeout_ms(nr_pg_async_deadline_ns(q)));
    }
    return rc;
}

/* Drive the queries in q[0..n) (NULL slots are empty) until every slot is
 * empty, on this thread, with one poll() per round over every fd. */
static void drive(nr_pg_async **q, int n, done_fn fn, void *ud, loop_stats *ls)
{
    for (;;) {
        struct pollfd p[CONNS];
        int slot[CONNS];
        int np = 0;
        int64_t next = NR_DEADLINE_NEVER;
        for (int i = 0; i < n; i++) {
            if (!q[i])
                continue;
            int w = nr_pg_async_wants(q[i]);
            assert_true(w != 0);
            assert_true(nr_pg_async_fd(q[i]) >= 0);
            p[np] = (struct pollfd){.fd = nr_pg_async_fd(q[i]),
                                    .events = (short)(((w & NR_IO_READ) ? POLLIN : 0) |
                                                      ((w & NR_IO_WRITE) ? POLLOUT : 0))};
            if (ls && (w & NR_IO_WRITE))
                ls->write_waits++;
            slot[np++] = i;
            int64_t d = nr_pg_async_deadline_ns(q[i]);
            if (d < next)
                next = d;
        }
        if (np == 0)
            return;
        int r = poll(p, (nfds_t)np, timeout_ms(next));
        if (r < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        int64_t now = nr_now_ns();
        for (int k = 0; k < np; k++) {
            int i = slot[k];
            if (p[k].revents == 0 && now < nr_pg_async_deadline_ns(q[i]))
                continue; /* neither ready nor due */
            nr_error err = {0};
            int rc = nr_pg_async_step(q[i], &err);
            if (ls)
                ls->steps++;
            if (rc == NR_PENDING)
                continue;
            nr_pg_async *next_q = fn(ud, i, q[i], rc, &err);
            nr_pg_async_free(q[i]);
            q[i] = next_q;
        }
    }
}

/* One outcome per slot, no follow-up query. */
typedef struct outcome {
    int rc[CONNS];
    nr_error err[CONNS];
    PGresult *res[CONNS];
} outcome;

static nr_pg_async *record(void *ud, int slot, nr_pg_async *q, int rc, const nr_error *err)
{
    outcome *o = ud;
    o->rc[slot] = rc;
    o->err[slot] = *err;
    o->res[slot] = nr_pg_async_result(q);
    if (rc == NR_OK)
        assert_non_null(o->res[slot]);
    else
        assert_null(o->res[slot]);
    /* taken once */
    assert_null(nr_pg_async_result(q));
    /* finished: the same outcome again, nothing left to wait for */
    nr_error again = {0};
    assert_int_equal(nr_pg_async_step(q, &again), rc);
    assert_int_equal(again.code, err->code);
    assert_int_equal(nr_pg_async_wants(q), 0);
    return NULL;
}

/* A blocking query on the connection works: it is reusable. */
static void blocking_ok(PGconn *pg)
{
    assert_int_equal(PQisnonblocking(pg), 0);
    assert_int_equal(PQtransactionStatus(pg), PQTRANS_IDLE);
    assert_int_equal(pgt_query_long(pg, "SELECT 41 + 1"), 42);
}

/* ---- one query, start to end: the README's example ------------------------------------ */

static void test_one_query(void **state)
{
    fixture *f = *state;
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_guard *g = &f->g[0];
    long got = 0;

    PGconn *pg = nr_postgres_conn(nr_guard_handle(g));
    const char *values[1] = {"41"};
    nr_pg_async *q = NULL;
    nr_error err = {0};
    int rc = nr_pg_async_start(&q, pg, "SELECT $1::int + 1", 1, values, nr_deadline_in_ms(2000),
                               NULL, &err);
    if (rc == NR_OK) {
        rc = run_to_end(q, &err);
        PGresult *r = nr_pg_async_result(q); /* NULL unless rc == NR_OK */
        if (r)
            got = atol(PQgetvalue(r, 0, 0));
        PQclear(r);
        nr_pg_async_free(q);
    }
    if (rc == NR_OK || err.driver_code != 0) /* done, or the server said no: in a known state */
        (void)nr_guard_release(g);
    else
        (void)nr_guard_taint(g); /* in doubt: the query may still run on it */

    assert_int_equal(rc, NR_OK);
    assert_int_equal(got, 42);
    assert_false(nr_guard_held(g));
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 0);
    assert_int_equal(st.idle, 1);
}

/* ---- 200 queries over 4 connections, one thread -------------------------------------- */

typedef struct many {
    fixture *f;
    int next; /* the next query number to start */
    int answered[QUERIES];
    int failures;
    char text[CONNS][16]; /* each slot's parameter */
} many;

static nr_pg_async *start_next(many *m, int slot)
{
    if (m->next >= QUERIES)
        return NULL;
    int k = m->next++;
    snprintf(m->text[slot], sizeof(m->text[slot]), "%d", k);
    const char *values[2] = {m->text[slot], NULL};
    return start_ok(conn_of(m->f, slot),
                    "SELECT $1::int * 3 + 1, pg_backend_pid(), $2::text IS NULL", 2, values,
                    nr_deadline_in_ms(LONG_MS), NULL);
}

static nr_pg_async *many_done(void *ud, int slot, nr_pg_async *q, int rc, const nr_error *err)
{
    many *m = ud;
    if (rc != NR_OK)
        fail_msg("slot %d: %s: %s", slot, nr_err_name(rc), err->message);
    PGresult *r = nr_pg_async_result(q);
    assert_non_null(r);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    long v = atol(PQgetvalue(r, 0, 0));
    /* the answer came on this slot's own connection */
    assert_int_equal(atol(PQgetvalue(r, 0, 1)), PQbackendPID(conn_of(m->f, slot)));
    assert_string_equal(PQgetvalue(r, 0, 2), "t");
    PQclear(r);
    assert_int_equal((v - 1) % 3, 0);
    long k = (v - 1) / 3;
    assert_true(k >= 0 && k < QUERIES);
    /* the query this slot last sent, answered once */
    assert_int_equal(k, atol(m->text[slot]));
    m->answered[k]++;
    assert_int_equal(m->answered[k], 1);
    return start_next(m, slot);
}

static void test_many_queries_one_thread(void **state)
{
    fixture *f = *state;
    lease_all(f);
    many *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->f = f;
    nr_pg_async *q[CONNS];
    for (int i = 0; i < CONNS; i++)
        q[i] = start_next(m, i);
    loop_stats ls = {0};
    drive(q, CONNS, many_done, m, &ls);
    assert_int_equal(m->next, QUERIES);
    for (int k = 0; k < QUERIES; k++)
        assert_int_equal(m->answered[k], 1);
    assert_true(ls.steps >= QUERIES);
    free(m);
    /* every connection is back in blocking mode, idle, and takes a blocking query */
    for (int i = 0; i < CONNS; i++) {
        blocking_ok(conn_of(f, i));
        assert_int_equal(nr_guard_release(&f->g[i]), NR_OK);
    }
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 0);
    assert_int_equal(st.creates, CONNS);
}

/* ---- a query larger than the socket takes at once: NR_IO_WRITE ------------------------- */

/* What every connection sends; the first sends HUGE_BYTES, more than a
 * socket's send and receive buffers hold together even when tuned. */
#define BIG_BYTES  (16 * 1024 * 1024)
#define HUGE_BYTES (64 * 1024 * 1024)

static void test_large_query_waits_for_write(void **state)
{
    fixture *f = *state;
    lease_all(f);
    char *huge = malloc(HUGE_BYTES + 1);
    assert_non_null(huge);
    memset(huge, 'x', HUGE_BYTES);
    huge[HUGE_BYTES] = '\0';
    const char *values_huge[1] = {huge};
    const char *values_big[1] = {huge + (HUGE_BYTES - BIG_BYTES)};
    /* the first connection's backend frozen: what the socket buffers do not
     * take waits in libpq, and the query waits for write */
    f->frozen_pid = PQbackendPID(conn_of(f, 0));
    assert_int_equal(kill(f->frozen_pid, SIGSTOP), 0);
    nr_pg_async *q[CONNS];
    for (int i = 0; i < CONNS; i++)
        q[i] = start_ok(conn_of(f, i), "SELECT length($1::text)", 1,
                        i == 0 ? values_huge : values_big, nr_deadline_in_ms(LONG_MS), NULL);
    nr_error err = {0};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(nr_pg_async_wants(q[0]), NR_IO_READ | NR_IO_WRITE);
        assert_int_equal(nr_pg_async_step(q[0], &err), NR_PENDING);
    }
    assert_int_equal(kill(f->frozen_pid, SIGCONT), 0);
    f->frozen_pid = 0;
    outcome o = {0};
    loop_stats ls = {0};
    drive(q, CONNS, record, &o, &ls);
    free(huge);
    assert_true(ls.write_waits > 0);
    for (int i = 0; i < CONNS; i++) {
        if (o.rc[i] != NR_OK)
            fail_msg("slot %d: %s", i, o.err[i].message);
        assert_int_equal(atol(PQgetvalue(o.res[i], 0, 0)), i == 0 ? HUGE_BYTES : BIG_BYTES);
        PQclear(o.res[i]);
        blocking_ok(conn_of(f, i));
        assert_int_equal(nr_guard_release(&f->g[i]), NR_OK);
    }
}

/* ---- a deadline that expires ------------------------------------------------------------ */

static void test_deadline_expires(void **state)
{
    fixture *f = *state;
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_dt_acquire_ok(f->pool, &f->g[1]);
    nr_pg_async *q[CONNS] = {0};
    nr_deadline dl = nr_deadline_in_ms(200);
    q[0] = start_ok(conn_of(f, 0), "SELECT pg_sleep(5)", 0, NULL, dl, NULL);
    /* a quick query beside it finishes normally */
    q[1] = start_ok(conn_of(f, 1), "SELECT 5", 0, NULL, nr_deadline_in_ms(LONG_MS), NULL);
    assert_int_equal(nr_pg_async_deadline_ns(q[0]), dl.at_ns);
    assert_int_equal(nr_pg_async_wants(q[0]), NR_IO_READ);
    /* stepped before anything arrived: still pending */
    nr_error err = {0};
    assert_int_equal(nr_pg_async_step(q[0], &err), NR_PENDING);
    outcome o = {0};
    drive(q, 2, record, &o, NULL);
    NR_ASSERT_ERR(o.err[0], NR_ETIMEDOUT, "the deadline passed before the last result");
    assert_int_equal(o.rc[0], NR_ETIMEDOUT);
    assert_int_equal(o.err[0].driver_code, 0);
    assert_non_null(strstr(o.err[0].message, "taint"));
    assert_int_equal(o.rc[1], NR_OK);
    assert_int_equal(atol(PQgetvalue(o.res[1], 0, 0)), 5);
    PQclear(o.res[1]);
    /* the timed-out query still runs: the connection is busy, left non-blocking */
    assert_int_equal(PQtransactionStatus(conn_of(f, 0)), PQTRANS_ACTIVE);
    assert_int_equal(nr_guard_taint(&f->g[0]), NR_OK);
    assert_int_equal(nr_guard_release(&f->g[1]), NR_OK);

    /* no wait at all: a deadline already passed sends nothing */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_pg_async *none = NULL;
    assert_int_equal(nr_pg_async_start(&none, conn_of(f, 0), "SELECT 1", 0, NULL,
                                       nr_deadline_in_ns(-1), NULL, &err),
                     NR_ETIMEDOUT);
    assert_null(none);
    blocking_ok(conn_of(f, 0));
    assert_int_equal(nr_guard_release(&f->g[0]), NR_OK);

    /* no deadline: NR_DEADLINE_NEVER */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_pg_async *nq[CONNS] = {0};
    nq[0] = start_ok(conn_of(f, 0), "SELECT 6", 0, NULL, (nr_deadline){0}, NULL);
    assert_true(nr_pg_async_deadline_ns(nq[0]) == NR_DEADLINE_NEVER);
    outcome o2 = {0};
    drive(nq, 1, record, &o2, NULL);
    assert_int_equal(o2.rc[0], NR_OK);
    PQclear(o2.res[0]);
    assert_int_equal(nr_guard_release(&f->g[0]), NR_OK);
}

/* ---- a cancel token ------------------------------------------------------------------------ */

static void test_cancel_token(void **state)
{
    fixture *f = *state;
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_cancel *token = NULL;
    nr_error err = {0};
    assert_int_equal(nr_cancel_create(&token, NULL, &err), NR_OK);

    nr_pg_async *q[CONNS] = {0};
    q[0] =
        start_ok(conn_of(f, 0), "SELECT pg_sleep(30)", 0, NULL, nr_deadline_in_ms(LONG_MS), token);
    assert_int_equal(nr_pg_async_step(q[0], &err), NR_PENDING);
    nr_cancel_trigger(token);
    /* the loop learns of the token at its next step, readiness or not */
    assert_int_equal(nr_pg_async_step(q[0], &err), NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, "canceled");
    assert_int_equal(nr_pg_async_wants(q[0]), 0);
    assert_null(nr_pg_async_result(q[0]));
    nr_pg_async_free(q[0]);
    assert_int_equal(nr_guard_taint(&f->g[0]), NR_OK);

    /* a token already set: nothing is sent, the connection is as it was */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_pg_async *none = NULL;
    assert_int_equal(nr_pg_async_start(&none, conn_of(f, 0), "SELECT 1", 0, NULL,
                                       nr_deadline_in_ms(LONG_MS), token, &err),
                     NR_ECANCELED);
    assert_null(none);
    blocking_ok(conn_of(f, 0));
    assert_int_equal(nr_guard_release(&f->g[0]), NR_OK);
    nr_cancel_destroy(token);
}

/* ---- errors the server reports, and bad arguments ----------------------------------------- */

static void test_server_error(void **state)
{
    fixture *f = *state;
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_dt_acquire_ok(f->pool, &f->g[1]);
    nr_pg_async *q[CONNS] = {0};
    q[0] = start_ok(conn_of(f, 0), "SELECT * FROM no_such_table", 0, NULL,
                    nr_deadline_in_ms(LONG_MS), NULL);
    const char *zero[1] = {"0"};
    q[1] = start_ok(conn_of(f, 1), "SELECT 1 / $1::int", 1, zero, nr_deadline_in_ms(LONG_MS), NULL);
    outcome o = {0};
    drive(q, 2, record, &o, NULL);
    char state_text[6];
    NR_ASSERT_ERR(o.err[0], NR_EINVAL, "42P01");
    assert_non_null(strstr(o.err[0].message, "no_such_table"));
    assert_string_equal(nr_postgres_sqlstate(o.err[0].driver_code, state_text), "42P01");
    NR_ASSERT_ERR(o.err[1], NR_EINVAL, "22012: ERROR:  division by zero");
    assert_string_equal(nr_postgres_sqlstate(o.err[1].driver_code, state_text), "22012");
    /* the server answered: the connections are idle, blocking, reusable */
    for (int i = 0; i < 2; i++) {
        blocking_ok(conn_of(f, i));
        assert_int_equal(nr_guard_release(&f->g[i]), NR_OK);
    }

    /* a failed transaction: the error, then recycle rolls it back */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_error err = {0};
    assert_int_equal(nr_postgres_exec(nr_guard_handle(&f->g[0]), "BEGIN", &err), NR_OK);
    q[0] = start_ok(conn_of(f, 0), "SELECT nope", 0, NULL, nr_deadline_in_ms(LONG_MS), NULL);
    outcome o2 = {0};
    drive(q, 1, record, &o2, NULL);
    NR_ASSERT_ERR(o2.err[0], NR_EINVAL, "42703");
    assert_int_equal(PQtransactionStatus(conn_of(f, 0)), PQTRANS_INERROR);
    assert_int_equal(PQisnonblocking(conn_of(f, 0)), 0);
    assert_int_equal(nr_guard_release(&f->g[0]), NR_OK);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 0);

    /* bad arguments and a busy connection, refused without touching it */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    PGconn *pg = conn_of(f, 0);
    nr_pg_async *none = NULL;
    nr_deadline dl = nr_deadline_in_ms(LONG_MS);
    assert_int_equal(nr_pg_async_start(NULL, pg, "SELECT 1", 0, NULL, dl, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_pg_async_start(&none, NULL, "SELECT 1", 0, NULL, dl, NULL, &err),
                     NR_EINVAL);
    assert_int_equal(nr_pg_async_start(&none, pg, NULL, 0, NULL, dl, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_pg_async_start(&none, pg, "SELECT $1", 1, NULL, dl, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_pg_async_start(&none, pg, "SELECT 1", -1, NULL, dl, NULL, &err), NR_EINVAL);
    assert_null(none);
    q[0] = start_ok(pg, "SELECT 8", 0, NULL, dl, NULL);
    assert_int_equal(nr_pg_async_start(&none, pg, "SELECT 9", 0, NULL, dl, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "another query is still in progress");
    outcome o3 = {0};
    drive(q, 1, record, &o3, NULL);
    assert_int_equal(o3.rc[0], NR_OK);
    assert_int_equal(atol(PQgetvalue(o3.res[0], 0, 0)), 8);
    PQclear(o3.res[0]);
    blocking_ok(pg);
    assert_int_equal(nr_guard_release(&f->g[0]), NR_OK);

    /* NULL everywhere */
    assert_int_equal(nr_pg_async_fd(NULL), -1);
    assert_int_equal(nr_pg_async_wants(NULL), 0);
    assert_true(nr_pg_async_deadline_ns(NULL) == NR_DEADLINE_NEVER);
    assert_int_equal(nr_pg_async_step(NULL, &err), NR_EINVAL);
    assert_null(nr_pg_async_result(NULL));
    nr_pg_async_free(NULL);
}

/* ---- the whole path on one loop thread: acquire, query, give back, none blocking ---------- */

#define E2E_REQUESTS 40
#define E2E_POOL     2
#define E2E_BAD_SQL  5 /* this request's query fails on the server: released as usual */
#define E2E_TIMEOUT  9 /* this one's deadline passes: tainted */

typedef enum e2e_state { E2E_LEASING = 0, E2E_QUERYING, E2E_DONE } e2e_state;

typedef struct e2e_req {
    int n;
    e2e_state state;
    nr_guard g;
    nr_pg_async *q;
    char text[16];
} e2e_req;

static void e2e_query(e2e_req *r)
{
    snprintf(r->text, sizeof(r->text), "%d", r->n);
    const char *values[1] = {r->text};
    const char *sql = r->n == E2E_BAD_SQL   ? "SELECT $1::int / 0"
                      : r->n == E2E_TIMEOUT ? "SELECT pg_sleep(5), $1::int"
                                            : "SELECT $1::int * 7";
    nr_deadline dl = nr_deadline_in_ms(r->n == E2E_TIMEOUT ? 100 : LONG_MS);
    r->q = start_ok(nr_postgres_conn(nr_guard_handle(&r->g)), sql, 1, values, dl, NULL);
    r->state = E2E_QUERYING;
}

/* The lease came through the completion queue, on the loop thread. */
static void e2e_leased(void *ud, int rc, nr_guard *guard, const nr_error *err)
{
    e2e_req *r = ud;
    if (rc != NR_OK)
        fail_msg("request %d: acquire: %s: %s", r->n, nr_err_name(rc), err ? err->message : "");
    r->g = *guard;
    e2e_query(r);
}

/* The query's end: check it, give the lease back without blocking. */
static void e2e_finished(e2e_req *r, int rc, const nr_error *err)
{
    PGresult *res = nr_pg_async_result(r->q);
    nr_pg_async_free(r->q);
    r->q = NULL;
    if (r->n == E2E_BAD_SQL) {
        NR_ASSERT_ERR(*err, NR_EINVAL, "22012");
        assert_int_not_equal(err->driver_code, 0);
    } else if (r->n == E2E_TIMEOUT) {
        NR_ASSERT_ERR(*err, NR_ETIMEDOUT, "taint");
    } else {
        if (rc != NR_OK)
            fail_msg("request %d: %s: %s", r->n, nr_err_name(rc), err->message);
        assert_int_equal(atol(PQgetvalue(res, 0, 0)), 7L * r->n);
    }
    PQclear(res);
    if (rc == NR_OK || err->driver_code != 0)
        assert_int_equal(nr_guard_release_async(&r->g), NR_OK);
    else
        assert_int_equal(nr_guard_taint_async(&r->g), NR_OK);
    assert_false(nr_guard_held(&r->g));
    r->state = E2E_DONE;
}

static void test_event_loop_end_to_end(void **state)
{
    fixture *f = *state;
    nr_pool_config pc;
    nr_dt_pool_config(&pc, E2E_POOL, 0);
    nr_pool *pool = nr_dt_pool(ID "-loop", &nr_postgres_type, &f->cfg, &pc, f->pw);
    nr_async_queue *cq = NULL;
    nr_error err = {0};
    assert_int_equal(nr_async_queue_create(&cq, &err), NR_OK);
    e2e_req *req = calloc(E2E_REQUESTS, sizeof(*req));
    assert_non_null(req);
    for (int i = 0; i < E2E_REQUESTS; i++) {
        req[i].n = i;
        req[i].g = (nr_guard)NR_GUARD_INIT;
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(LONG_MS));
        int rc = nr_pool_acquire_async(pool, &ctx, cq, e2e_leased, &req[i], &req[i].g, NULL, &err);
        if (rc == NR_OK)
            e2e_query(&req[i]);
        else if (rc != NR_PENDING)
            fail_msg("request %d: acquire: %s: %s", i, nr_err_name(rc), err.message);
    }
    int done = 0;
    while (done < E2E_REQUESTS) {
        struct pollfd p[E2E_REQUESTS + 1];
        int who[E2E_REQUESTS + 1];
        int np = 0;
        int64_t next = NR_DEADLINE_NEVER;
        p[np] = (struct pollfd){.fd = nr_async_queue_fd(cq), .events = POLLIN};
        who[np++] = -1;
        for (int i = 0; i < E2E_REQUESTS; i++) {
            if (req[i].state != E2E_QUERYING)
                continue;
            int w = nr_pg_async_wants(req[i].q);
            p[np] = (struct pollfd){.fd = nr_pg_async_fd(req[i].q),
                                    .events = (short)(((w & NR_IO_READ) ? POLLIN : 0) |
                                                      ((w & NR_IO_WRITE) ? POLLOUT : 0))};
            who[np++] = i;
            int64_t d = nr_pg_async_deadline_ns(req[i].q);
            if (d < next)
                next = d;
        }
        int r = poll(p, (nfds_t)np, timeout_ms(next));
        if (r < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        int64_t now = nr_now_ns();
        for (int k = 0; k < np; k++) {
            if (who[k] < 0) {
                if (p[k].revents)
                    (void)nr_async_queue_dispatch(cq, 0); /* leases: their queries start */
                continue;
            }
            e2e_req *rq = &req[who[k]];
            if (rq->state != E2E_QUERYING ||
                (p[k].revents == 0 && now < nr_pg_async_deadline_ns(rq->q)))
                continue;
            nr_error qerr = {0};
            int rc = nr_pg_async_step(rq->q, &qerr);
            if (rc == NR_PENDING)
                continue;
            e2e_finished(rq, rc, &qerr);
            done++;
        }
    }
    for (int i = 0; i < E2E_REQUESTS; i++)
        assert_int_equal(req[i].state, E2E_DONE);
    free(req);
    /* the give-backs run on the pool's async worker: wait until every lease is in */
    nr_pool_stats st = NR_POOL_STATS_INIT;
    for (int i = 0; i < 6000; i++) {
        nr_pool_stats_get(pool, &st);
        if (st.in_use == 0)
            break;
        nr_sleep_ns(10 * NR_NS_PER_MS);
    }
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.recycle_failures, 0);
    nr_async_queue_destroy(cq);
    nr_dt_pool_done(pool);
}

/* ---- the server killed while queries run -------------------------------------------------- */

static void test_server_killed(void **state)
{
    fixture *f = *state;
    lease_all(f);
    nr_pg_async *q[CONNS];
    for (int i = 0; i < CONNS; i++)
        q[i] = start_ok(conn_of(f, i), "SELECT pg_sleep(30)", 0, NULL, nr_deadline_in_ms(LONG_MS),
                        NULL);
    for (int i = 0; i < CONNS; i++) {
        nr_error err = {0};
        assert_int_equal(nr_pg_async_step(q[i], &err), NR_PENDING);
    }
    pgt_ctl("stop");
    outcome o = {0};
    drive(q, CONNS, record, &o, NULL);
    pgt_ctl("start");
    for (int i = 0; i < CONNS; i++) {
        if (o.rc[i] != NR_EUNAVAIL)
            fail_msg("slot %d: %s: %s", i, nr_err_name(o.rc[i]), o.err[i].message);
        NR_ASSERT_ERR(o.err[i], NR_EUNAVAIL, "connection lost");
        assert_int_equal(o.err[i].driver_code, 0);
    }
    /* a query on a broken connection is refused at start */
    nr_pg_async *none = NULL;
    nr_error err = {0};
    assert_int_equal(nr_pg_async_start(&none, conn_of(f, 0), "SELECT 1", 0, NULL,
                                       nr_deadline_in_ms(LONG_MS), NULL, &err),
                     NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "the connection is broken");
    assert_null(none);
    for (int i = 0; i < CONNS; i++)
        assert_int_equal(nr_guard_taint(&f->g[i]), NR_OK);
    /* the pool makes new connections to the restarted server */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    q[0] = start_ok(conn_of(f, 0), "SELECT 11", 0, NULL, nr_deadline_in_ms(LONG_MS), NULL);
    outcome o2 = {0};
    drive(q, 1, record, &o2, NULL);
    assert_int_equal(o2.rc[0], NR_OK);
    assert_int_equal(atol(PQgetvalue(o2.res[0], 0, 0)), 11);
    PQclear(o2.res[0]);
    blocking_ok(conn_of(f, 0));
    assert_int_equal(nr_guard_release(&f->g[0]), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_queries_one_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_query_waits_for_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_loop_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_killed, setup, teardown),
    };
    return cmocka_run_group_tests_name("postgres_async", tests, NULL, NULL);
}

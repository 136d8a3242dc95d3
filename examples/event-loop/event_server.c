/*
 * event_server.c - a single-threaded server on libevent that answers every
 * request with a PostgreSQL query from a pool, without ever blocking its
 * loop.
 *
 *     NR_PG_PASSWORD=... event_server \
 *         '{"host": "127.0.0.1", "port": 5432, "user": "app", "dbname": "appdb"}' [requests]
 *
 * One thread runs the event_base. Requests "arrive" from a persistent
 * timer event, 50 every millisecond while fewer than 256 are in flight,
 * until `requests` (default 1000) have come: many more than the pool's 4
 * connections, so most of them wait in the pool's FIFO queue. Each one
 * leases a connection with nr_pool_acquire_async (its completion reaches
 * the loop through the queue's fd: nr_event_queue_attach), runs
 * `SELECT count(*) FROM generate_series(1, $1)` with nr_pg_async driven by
 * nr_event_run_start, checks the answer, and gives the lease back with
 * nr_guard_release_async (or taints it when the connection is in doubt).
 * Creates, validates and recycles run on the pool's own threads.
 *
 * Shutdown: once every request has come (or at SIGINT/SIGTERM), no new one
 * is taken; when the last one in flight is answered, the queue is detached
 * and the timer and signal events are deleted, so event_base_dispatch
 * returns. Then, off the loop, the queue is destroyed, the pool, the base.
 * Exits 0 when every request that came was answered with the right count.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/loop_event.h"
#include "nebula/postgres.h"
#include "nebula/postgres_async.h"
#include "nebula/resource.h"

#include "pg_machine.h"

#define PER_TICK      50
#define MAX_IN_FLIGHT 256 /* the server takes no more at once: backpressure */

typedef struct server {
    struct event_base *base;
    nr_pool *pool;
    nr_async_queue *q;
    nr_event_queue *qa;
    struct event *arrivals, *sigint, *sigterm;
    int total, came, in_flight, answered, failed;
    bool stopping;
} server;

typedef struct request {
    server *s;
    int n;
    char arg[16];
    nr_guard lease;
    nr_pg_async *pq;
} request;

/* Nothing in flight and nothing more to take: let the dispatch return. */
static void maybe_finish(server *s)
{
    if (!s->stopping || s->in_flight > 0 || s->qa == NULL)
        return;
    nr_event_queue_detach(s->qa); /* may be inside its dispatch: then freed after it */
    s->qa = NULL;
    event_del(s->arrivals);
    event_del(s->sigint);
    event_del(s->sigterm);
}

static void answered(request *r, bool ok)
{
    server *s = r->s;
    s->in_flight--;
    if (ok)
        s->answered++;
    else
        s->failed++;
    free(r);
    maybe_finish(s);
}

static void warn(const char *what, int rc, const nr_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", what, nr_err_name(rc), err ? err->message : "");
}

static void query_done(void *ud, int rc, const nr_error *err)
{
    request *r = ud;
    bool ok = false;
    if (rc == NR_OK) {
        PGresult *res = nr_pg_async_result(r->pq);
        ok = res != NULL && PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) == r->n + 1;
        PQclear(res);
    } else {
        warn("query", rc, err);
    }
    nr_pg_async_free(r->pq);
    /* clean after NR_OK or an error the server sent; in doubt otherwise */
    if (rc == NR_OK || (err != NULL && err->driver_code != 0))
        (void)nr_guard_release_async(&r->lease);
    else
        (void)nr_guard_taint_async(&r->lease);
    answered(r, ok);
}

static void leased(request *r)
{
    nr_error err = {0};
    const char *values[1] = {r->arg};
    PGconn *conn = nr_postgres_conn(nr_guard_handle(&r->lease));
    int rc = nr_pg_async_start(&r->pq, conn, "SELECT count(*) FROM generate_series(1, $1::int)", 1,
                               values, nr_deadline_in_ms(5000), NULL, &err);
    if (rc == NR_OK) {
        rc = nr_event_run_start(NULL, r->s->base, &pg_machine, r->pq, query_done, r, &err);
        if (rc != NR_OK)
            nr_pg_async_free(r->pq);
    }
    if (rc != NR_OK) {
        warn("query start", rc, &err);
        (void)nr_guard_taint_async(&r->lease);
        answered(r, false);
    }
}

static void acquired(void *ud, int rc, nr_guard *g, const nr_error *err)
{
    request *r = ud;
    if (rc != NR_OK) {
        warn("acquire", rc, err);
        answered(r, false);
        return;
    }
    r->lease = *g; /* the lease is ours now */
    leased(r);
}

static void take_request(server *s)
{
    request *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        s->failed++;
        return;
    }
    r->s = s;
    r->n = s->came++;
    r->lease = (nr_guard)NR_GUARD_INIT;
    snprintf(r->arg, sizeof(r->arg), "%d", r->n + 1);
    s->in_flight++;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000), .caller = "event_server");
    /* NR_OK: leased now; NR_PENDING: acquired() runs later through the
     * queue; anything else: an error now, and acquired() never runs. */
    int rc = nr_pool_acquire_async(s->pool, &ctx, s->q, acquired, r, &r->lease, NULL, &err);
    if (rc == NR_OK)
        leased(r);
    else if (rc != NR_PENDING) {
        warn("acquire", rc, &err);
        answered(r, false);
    }
}

static void stop_taking(server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    maybe_finish(s);
    event_del(s->arrivals);
}

static void arrivals_cb(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
    (void)fd;
    (void)what;
    for (int i = 0; i < PER_TICK && s->came < s->total && s->in_flight < MAX_IN_FLIGHT; i++)
        take_request(s);
    if (s->came == s->total)
        stop_taking(s);
}

static void signal_cb(evutil_socket_t signum, short what, void *arg)
{
    (void)what;
    fprintf(stderr, "signal %d: answering what is in flight, then stopping\n", (int)signum);
    stop_taking(arg);
}

int main(int argc, char **argv)
{
    const char *json = argc > 1 ? argv[1] : "{}";
    server s = {.total = argc > 2 ? atoi(argv[2]) : 1000};
    nr_error err = {0};
    nr_postgres_config cfg;
    nr_config_report rep;
    if (nr_config_parse(&nr_postgres_config_schema, json, strlen(json), &cfg, &rep, &err) !=
        NR_OK) {
        nr_config_report_print(&rep, stderr);
        nr_config_free(&nr_postgres_config_schema, &cfg);
        return 1;
    }
    nr_secret *password = NULL;
    const char *pw = getenv("NR_PG_PASSWORD");
    int status = 1;
    if (s.total <= 0 || (pw && nr_secret_from_str(&password, pw, &err) != NR_OK))
        goto out_config;

    /* The pool: at most 4 connections, one kept ready. */
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    nr_pool_options opts = NR_POOL_OPTIONS(.id = "event-server-pg", .type = &nr_postgres_type,
                                           .config = &cfg, .pool = &pc, .credential = password);
    if (nr_pool_create(&s.pool, &opts, &err) != NR_OK) {
        warn("pool", err.code, &err);
        goto out_config;
    }

    /* The loop: the completion queue on it, the arrivals, the signals. */
    s.base = event_base_new();
    if (s.base == NULL || nr_async_queue_create(&s.q, &err) != NR_OK ||
        nr_event_queue_attach(&s.qa, s.base, s.q, &err) != NR_OK) {
        warn("loop", err.code, &err);
        goto out_loop;
    }
    s.arrivals = event_new(s.base, -1, EV_PERSIST, arrivals_cb, &s);
    s.sigint = evsignal_new(s.base, SIGINT, signal_cb, &s);
    s.sigterm = evsignal_new(s.base, SIGTERM, signal_cb, &s);
    struct timeval tick = {0, 1000};
    if (s.arrivals == NULL || s.sigint == NULL || s.sigterm == NULL ||
        event_add(s.arrivals, &tick) != 0 || event_add(s.sigint, NULL) != 0 ||
        event_add(s.sigterm, NULL) != 0) {
        fprintf(stderr, "libevent: cannot add the server's events\n");
        goto out_loop;
    }

    printf("serving on one thread\n");
    fflush(stdout);
    event_base_dispatch(s.base); /* until no event is left */

    printf("%d requests: %d answered, %d failed\n", s.came, s.answered, s.failed);
    status = s.answered == s.came && s.failed == 0 ? 0 : 1;

out_loop:
    nr_event_queue_detach(s.qa); /* NULL after a normal end */
    if (s.arrivals)
        event_free(s.arrivals);
    if (s.sigint)
        event_free(s.sigint);
    if (s.sigterm)
        event_free(s.sigterm);
    nr_async_queue_destroy(s.q);
    /* Every lease has been given back; the pool's worker may still be
     * recycling the last ones: destroy waits for them. */
    if (nr_pool_destroy(s.pool, &err) != NR_OK) {
        warn("pool destroy", err.code, &err);
        status = 1;
    }
    if (s.base)
        event_base_free(s.base);
out_config:
    nr_secret_free(password);
    nr_config_free(&nr_postgres_config_schema, &cfg);
    return status;
}

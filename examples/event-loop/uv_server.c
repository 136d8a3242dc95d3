/*
 * uv_server.c - a single-threaded server on libuv that serves every request
 * with a PostgreSQL query and a Redis command, through a manager, without
 * ever blocking its loop.
 *
 *     APP_ORDERS_DB_PASSWORD=... APP_SESSIONS_PASSWORD=... \
 *         uv_server '{"host": "127.0.0.1", "port": 5432, "user": "app", "dbname": "appdb"}' \
 *                   '{"host": "127.0.0.1", "port": 6379}' [requests]
 *
 * One thread runs the loop. Requests "arrive" from a timer, 50 every
 * millisecond while fewer than 256 are in flight, until `requests`
 * (default 1000) have come. Each one, at once and side by side:
 *   - leases a connection of "orders-db" with nr_manager_acquire_async and
 *     runs `SELECT $1::int * 2` with nr_pg_async on it (nebula/loop_uv.h's
 *     nr_uv_run_start drives the query);
 *   - leases one of "sessions" and runs `INCR hits` with nr_redis_async;
 * and is answered when both are done, its leases given back with
 * nr_guard_release_async. The completions of the acquires reach the loop
 * through the queue's fd (nr_uv_queue_attach). Creates, validates and
 * recycles never run on the loop: the pools' own threads do them.
 *
 * Shutdown: once every request has come (or at SIGINT/SIGTERM), no new one
 * is taken; when the last one in flight is answered, the queue is detached
 * and the timers and signal handles are closed, so uv_run returns. Then the
 * queue is destroyed and the manager shut down and destroyed, off the loop.
 * Exits 0 when every request that came was answered with the right values.
 */
#define _DEFAULT_SOURCE /* uv.h */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/credential_sources.h"
#include "nebula/loop_uv.h"
#include "nebula/postgres.h"
#include "nebula/postgres_async.h"
#include "nebula/redis.h"
#include "nebula/redis_async.h"
#include "nebula/resource.h"

#include "pg_machine.h"
#include "redis_machine.h"

#define PER_TICK      50
#define MAX_IN_FLIGHT 256 /* the server takes no more at once: backpressure */

typedef struct server {
    uv_loop_t *loop;
    nr_manager *m;
    nr_async_queue *q;
    nr_uv_queue *qa;
    uv_timer_t arrivals;
    uv_signal_t sigint, sigterm;
    int total, came, in_flight, answered, failed;
    long hits_seen; /* the highest INCR answer: every command counted once */
    bool stopping;
} server;

typedef struct request {
    server *s;
    int n;
    char arg[16];
    int parts_left; /* the query and the command */
    bool ok;
    nr_guard pg_lease, redis_lease;
    nr_pg_async *pq;
    nr_redis_async *rq;
} request;

static void closed_cb(uv_handle_t *h)
{
    (void)h;
}

/* Nothing in flight and nothing more to take: let uv_run return. */
static void maybe_finish(server *s)
{
    if (!s->stopping || s->in_flight > 0 || s->qa == NULL)
        return;
    nr_uv_queue_detach(s->qa, NULL, NULL);
    s->qa = NULL;
    uv_close((uv_handle_t *)&s->arrivals, closed_cb);
    uv_close((uv_handle_t *)&s->sigint, closed_cb);
    uv_close((uv_handle_t *)&s->sigterm, closed_cb);
}

static void part_done(request *r, bool ok)
{
    if (!ok)
        r->ok = false;
    if (--r->parts_left > 0)
        return;
    server *s = r->s;
    s->in_flight--;
    if (r->ok)
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

/* ---- the PostgreSQL half ------------------------------------------------------ */

static void pg_done(void *ud, int rc, const nr_error *err)
{
    request *r = ud;
    bool ok = false;
    if (rc == NR_OK) {
        PGresult *res = nr_pg_async_result(r->pq);
        ok = res != NULL && PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) == 2 * r->n;
        PQclear(res);
    } else {
        warn("query", rc, err);
    }
    nr_pg_async_free(r->pq);
    /* clean after NR_OK or an error the server sent; in doubt otherwise */
    if (rc == NR_OK || (err != NULL && err->driver_code != 0))
        (void)nr_guard_release_async(&r->pg_lease);
    else
        (void)nr_guard_taint_async(&r->pg_lease);
    part_done(r, ok);
}

static void pg_leased(request *r)
{
    nr_error err = {0};
    const char *values[1] = {r->arg};
    PGconn *conn = nr_postgres_conn(nr_guard_handle(&r->pg_lease));
    int rc = nr_pg_async_start(&r->pq, conn, "SELECT $1::int * 2", 1, values,
                               nr_deadline_in_ms(5000), NULL, &err);
    if (rc == NR_OK) {
        rc = nr_uv_run_start(NULL, r->s->loop, &pg_machine, r->pq, pg_done, r, &err);
        if (rc != NR_OK)
            nr_pg_async_free(r->pq);
    }
    if (rc != NR_OK) {
        warn("query start", rc, &err);
        (void)nr_guard_taint_async(&r->pg_lease);
        part_done(r, false);
    }
}

static void pg_acquired(void *ud, int rc, nr_guard *g, const nr_error *err)
{
    request *r = ud;
    if (rc != NR_OK) {
        warn("acquire orders-db", rc, err);
        part_done(r, false);
        return;
    }
    r->pg_lease = *g; /* the lease is ours now */
    pg_leased(r);
}

/* ---- the Redis half ---------------------------------------------------------------- */

static void redis_done(void *ud, int rc, const nr_error *err)
{
    request *r = ud;
    bool ok = false;
    if (rc == NR_OK) {
        redisReply *rep = nr_redis_async_reply(r->rq);
        ok = rep != NULL && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
        if (ok && rep->integer > r->s->hits_seen)
            r->s->hits_seen = (long)rep->integer;
        freeReplyObject(rep);
    } else {
        warn("command", rc, err);
    }
    nr_redis_async_free(r->rq);
    if (rc == NR_OK || (err != NULL && err->driver_code == REDIS_REPLY_ERROR))
        (void)nr_guard_release_async(&r->redis_lease);
    else
        (void)nr_guard_taint_async(&r->redis_lease);
    part_done(r, ok);
}

static void redis_leased(request *r)
{
    nr_error err = {0};
    const char *argv[2] = {"INCR", "uv_server:hits"};
    int rc = nr_redis_async_start(&r->rq, nr_guard_handle(&r->redis_lease), 2, argv, NULL,
                                  nr_deadline_in_ms(5000), NULL, &err);
    if (rc == NR_OK) {
        rc = nr_uv_run_start(NULL, r->s->loop, &redis_machine, r->rq, redis_done, r, &err);
        if (rc != NR_OK)
            nr_redis_async_free(r->rq);
    }
    if (rc != NR_OK) {
        warn("command start", rc, &err);
        (void)nr_guard_taint_async(&r->redis_lease);
        part_done(r, false);
    }
}

static void redis_acquired(void *ud, int rc, nr_guard *g, const nr_error *err)
{
    request *r = ud;
    if (rc != NR_OK) {
        warn("acquire sessions", rc, err);
        part_done(r, false);
        return;
    }
    r->redis_lease = *g;
    redis_leased(r);
}

/* ---- requests coming in -------------------------------------------------------------- */

/* Lease without blocking: NR_OK leases now, NR_PENDING calls back through
 * the queue, anything else is an error at once (the callback never runs). */
static void acquire(request *r, const char *id, nr_guard *lease, nr_async_fn fn,
                    void (*leased)(request *))
{
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000), .caller = "uv_server");
    int rc = nr_manager_acquire_async(r->s->m, id, &ctx, r->s->q, fn, r, lease, NULL, &err);
    if (rc == NR_OK)
        leased(r);
    else if (rc != NR_PENDING) {
        warn(id, rc, &err);
        part_done(r, false);
    }
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
    r->ok = true;
    r->parts_left = 2;
    r->pg_lease = (nr_guard)NR_GUARD_INIT;
    r->redis_lease = (nr_guard)NR_GUARD_INIT;
    snprintf(r->arg, sizeof(r->arg), "%d", r->n);
    s->in_flight++;
    acquire(r, "orders-db", &r->pg_lease, pg_acquired, pg_leased);
    acquire(r, "sessions", &r->redis_lease, redis_acquired, redis_leased);
}

static void stop_taking(server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    uv_timer_stop(&s->arrivals);
    maybe_finish(s);
}

static void arrivals_cb(uv_timer_t *t)
{
    server *s = t->data;
    for (int i = 0; i < PER_TICK && s->came < s->total && s->in_flight < MAX_IN_FLIGHT; i++)
        take_request(s);
    if (s->came == s->total)
        stop_taking(s);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    server *s = h->data;
    fprintf(stderr, "signal %d: answering what is in flight, then stopping\n", signum);
    stop_taking(s);
}

/* ---- setting up and tearing down, off the loop ---------------------------------------- */

static int parse(const nr_config_schema *schema, const char *json, void *cfg)
{
    nr_config_report rep;
    nr_error err = {0};
    if (nr_config_parse(schema, json, strlen(json), cfg, &rep, &err) != NR_OK) {
        nr_config_report_print(&rep, stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: uv_server POSTGRES_JSON REDIS_JSON [requests]\n");
        return 2;
    }
    nr_postgres_config pg;
    nr_redis_config redis;
    int pg_ok = parse(&nr_postgres_config_schema, argv[1], &pg);
    int redis_ok = parse(&nr_redis_config_schema, argv[2], &redis);
    int status = 1;
    server s = {.total = argc > 3 ? atoi(argv[3]) : 1000};
    nr_error err = {0};
    if (pg_ok != 0 || redis_ok != 0 || s.total <= 0)
        goto out_config;

    /* The manager: two resources of at most 4 connections, passwords from
     * APP_ORDERS_DB_PASSWORD and APP_SESSIONS_PASSWORD. */
    nr_credential_provider creds = nr_credential_env_provider("APP_");
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.credentials = &creds;
    if (nr_manager_create(&s.m, &mo, &err) != NR_OK) {
        warn("manager", err.code, &err);
        goto out_config;
    }
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    nr_resource_spec db =
        NR_RESOURCE_SPEC(.id = "orders-db", .type = &nr_postgres_type, .config = &pg, .pool = &pc,
                         .credential_ref = "orders-db/password");
    nr_resource_spec cache =
        NR_RESOURCE_SPEC(.id = "sessions", .type = &nr_redis_type, .config = &redis, .pool = &pc,
                         .credential_ref = "sessions/password");
    if (nr_manager_register(s.m, &db, &err) != NR_OK ||
        nr_manager_register(s.m, &cache, &err) != NR_OK ||
        nr_manager_start(s.m, nr_deadline_in_ms(10000), &err) != NR_OK) {
        warn("start", err.code, &err);
        goto out_manager;
    }

    /* The loop: the completion queue on it, the arrivals, the signals. */
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        goto out_manager;
    s.loop = &loop;
    if (nr_async_queue_create(&s.q, &err) != NR_OK ||
        nr_uv_queue_attach(&s.qa, &loop, s.q, &err) != NR_OK) {
        warn("queue", err.code, &err);
        nr_async_queue_destroy(s.q);
        uv_loop_close(&loop);
        goto out_manager;
    }
    uv_timer_init(&loop, &s.arrivals);
    s.arrivals.data = &s;
    uv_timer_start(&s.arrivals, arrivals_cb, 0, 1);
    uv_signal_init(&loop, &s.sigint);
    uv_signal_init(&loop, &s.sigterm);
    s.sigint.data = s.sigterm.data = &s;
    uv_signal_start(&s.sigint, signal_cb, SIGINT);
    uv_signal_start(&s.sigterm, signal_cb, SIGTERM);

    printf("serving on one thread\n");
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT); /* until every handle is closed */

    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "uv_loop_close: handles left\n");
    nr_async_queue_destroy(s.q);
    printf("%d requests: %d answered, %d failed; hits counted up to %ld\n", s.came, s.answered,
           s.failed, s.hits_seen);
    status = s.answered == s.came && s.failed == 0 ? 0 : 1;

out_manager:;
    /* Every lease is back (or on its way back through the pools' workers):
     * the shutdown drains them, then destroys the connections. */
    nr_shutdown_options so = NR_SHUTDOWN_OPTIONS_INIT;
    nr_shutdown_options_default(&so);
    so.drain_timeout_ms = 5000;
    if (nr_manager_shutdown(s.m, &so, NULL, &err) != NR_OK) {
        warn("shutdown", err.code, &err);
        status = 1;
    }
    if (nr_manager_destroy(s.m, &err) != NR_OK) {
        warn("destroy", err.code, &err);
        status = 1;
    }
out_config:
    nr_config_free(&nr_postgres_config_schema, &pg);
    nr_config_free(&nr_redis_config_schema, &redis);
    return status;
}

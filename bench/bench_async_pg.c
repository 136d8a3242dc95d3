/*
 * bench_async_pg.c - one event-loop thread, many requests over a few real
 * PostgreSQL connections: each request acquires a connection without
 * blocking, runs one query with the non-blocking helper (nr_pg_async) on
 * the loop, and gives the connection back. Beside it, in the same run, the
 * same requests over the same number of connections kept by hand (a FIFO
 * of requests and a stack of idle PGconn, on the loop thread only).
 *
 *   drivers/postgres/tests/with-postgres.sh build/me/bench/bench_async_pg \
 *       [--impl nebula|plain] [--requests 10000] [--size 4] [--seconds 3]
 *
 * The server comes from NR_TEST_PG_HOST, _PORT, _USER, _PASSWORD and _DB
 * (the wrapper sets them). One JSON line: queries per second, the time
 * from a request's start to its connection (p50, p99, max, in
 * microseconds: with `requests` in flight, mostly time queued) and to its
 * answer, and the longest single call into the pool on the loop thread
 * (every dispatch without the callbacks' own time, and every acquire and
 * give-back).
 */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "nebula/async.h"
#include "nebula/postgres.h"
#include "nebula/postgres_async.h"

static int use_plain;
static int requests = 10000, size = 4, seconds = 3;

typedef struct req {
    int64_t t0, t_conn;
    nr_guard g;   /* nebula: the lease */
    PGconn *conn; /* the connection it runs on */
    nr_pg_async *q;
    char arg[16];
    int idx;
    struct req *next; /* plain: the FIFO of waiting requests */
} req;

static nr_pool *pool;
static nr_async_queue *queue;
static int ep;
static int64_t *lat_conn, *lat_done;
static size_t nlat, cap_lat;
static uint64_t done_n;
static int64_t worst_call;
static int stopping;
static long busy;     /* requests started and not answered */
static int64_t cb_ns; /* time in callbacks during the current dispatch */

/* plain: idle connections and waiting requests */
static PGconn *idle[64];
static int nidle;
static req *wait_head, *wait_tail;

static void timed(int64_t t0)
{
    int64_t d = nr_now_ns() - t0;
    if (d > worst_call)
        worst_call = d;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_async_pg: %s: %s\n", what, msg);
    exit(1);
}

static void start(req *r);

/* The request has its connection: send the query and watch the socket. */
static void run_query(req *r)
{
    r->t_conn = nr_now_ns();
    nr_error err;
    snprintf(r->arg, sizeof(r->arg), "%d", r->idx);
    const char *vals[1] = {r->arg};
    if (nr_pg_async_start(&r->q, r->conn, "SELECT $1::int", 1, vals, nr_deadline_in_ms(30000), NULL,
                          &err) != NR_OK)
        die("query start", err.message);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = r};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, nr_pg_async_fd(r->q), &ev) != 0)
        die("epoll_ctl", "add");
}

static void give_back(req *r)
{
    int64_t c0 = nr_now_ns();
    if (use_plain) {
        req *w = wait_head;
        if (w) {
            wait_head = w->next;
            if (!wait_head)
                wait_tail = NULL;
            w->conn = r->conn;
            run_query(w);
        } else {
            idle[nidle++] = r->conn;
        }
    } else {
        nr_guard_release_async(&r->g);
    }
    timed(c0);
}

static void on_lease(void *ud, int rc, nr_guard *g, const nr_error *err)
{
    int64_t t0 = nr_now_ns();
    req *r = ud;
    if (rc != NR_OK)
        die("acquire", err ? err->message : "?");
    r->g = *g;
    r->conn = nr_postgres_conn(nr_guard_handle(g));
    run_query(r);
    cb_ns += nr_now_ns() - t0;
}

static void start(req *r)
{
    r->t0 = nr_now_ns();
    busy++;
    int64_t c0 = r->t0;
    if (use_plain) {
        if (nidle > 0 && !wait_head) {
            r->conn = idle[--nidle];
            timed(c0);
            run_query(r);
            return;
        }
        r->next = NULL;
        if (wait_tail)
            wait_tail->next = r;
        else
            wait_head = r;
        wait_tail = r;
        timed(c0);
        return;
    }
    nr_error err;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(600000));
    r->g = (nr_guard)NR_GUARD_INIT;
    int rc = nr_pool_acquire_async(pool, &ctx, queue, on_lease, r, &r->g, NULL, &err);
    timed(c0);
    if (rc == NR_OK) {
        r->conn = nr_postgres_conn(nr_guard_handle(&r->g));
        run_query(r);
    } else if (rc != NR_PENDING) {
        die("acquire", err.message);
    }
}

/* The socket of r's query is ready. */
static void step(req *r)
{
    nr_error err;
    int rc = nr_pg_async_step(r->q, &err);
    if (rc == NR_PENDING) {
        struct epoll_event ev = {.events = (nr_pg_async_wants(r->q) & NR_IO_WRITE)
                                               ? (uint32_t)(EPOLLIN | EPOLLOUT)
                                               : (uint32_t)EPOLLIN,
                                 .data.ptr = r};
        epoll_ctl(ep, EPOLL_CTL_MOD, nr_pg_async_fd(r->q), &ev);
        return;
    }
    if (rc != NR_OK)
        die("query", err.message);
    epoll_ctl(ep, EPOLL_CTL_DEL, nr_pg_async_fd(r->q), NULL);
    PGresult *res = nr_pg_async_result(r->q);
    if (!res || PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), r->arg) != 0)
        die("query", "wrong answer");
    PQclear(res);
    nr_pg_async_free(r->q);
    r->q = NULL;
    int64_t now = nr_now_ns();
    if (nlat < cap_lat) {
        lat_conn[nlat] = r->t_conn - r->t0;
        lat_done[nlat] = now - r->t0;
        nlat++;
    }
    done_n++;
    busy--;
    give_back(r);
    if (!stopping)
        start(r);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static const char *env(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static void setup(void)
{
    nr_error err;
    if (use_plain) {
        char ci[512];
        snprintf(ci, sizeof(ci), "host=%s port=%s user=%s password=%s dbname=%s",
                 env("NR_TEST_PG_HOST", "127.0.0.1"), env("NR_TEST_PG_PORT", "5432"),
                 env("NR_TEST_PG_USER", "postgres"), env("NR_TEST_PG_PASSWORD", ""),
                 env("NR_TEST_PG_DB", "postgres"));
        for (int i = 0; i < size; i++) {
            PGconn *c = PQconnectdb(ci);
            if (PQstatus(c) != CONNECTION_OK)
                die("connect", PQerrorMessage(c));
            idle[nidle++] = c;
        }
        return;
    }
    static nr_postgres_config cfg;
    if (nr_config_init(&nr_postgres_config_schema, &cfg, &err) != NR_OK)
        die("config", err.message);
    nr_config_set_str(&nr_postgres_config_schema, &cfg, "host", env("NR_TEST_PG_HOST", "127.0.0.1"),
                      NULL);
    cfg.port = atoi(env("NR_TEST_PG_PORT", "5432"));
    nr_config_set_str(&nr_postgres_config_schema, &cfg, "user", env("NR_TEST_PG_USER", "postgres"),
                      NULL);
    nr_config_set_str(&nr_postgres_config_schema, &cfg, "dbname", env("NR_TEST_PG_DB", "postgres"),
                      NULL);
    nr_secret *pw = NULL;
    const char *p = env("NR_TEST_PG_PASSWORD", "");
    if (nr_secret_create(&pw, p, strlen(p), &err) != NR_OK)
        die("secret", err.message);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = size;
    pc.min_idle = size;
    pc.acquire_timeout_ms = 600000;
    pc.recycle_on_release = false; /* as the plain side: no reset between requests */
    nr_pool_options o = NR_POOL_OPTIONS_INIT;
    o.id = "db";
    o.type = &nr_postgres_type;
    o.config = &cfg;
    o.pool = &pc;
    o.credential = pw;
    if (nr_pool_create(&pool, &o, &err) != NR_OK ||
        nr_pool_fill(pool, nr_deadline_in_ms(20000), &err) != NR_OK)
        die("pool", err.message);
    nr_secret_free(pw);
    if (nr_async_queue_create(&queue, &err) != NR_OK)
        die("queue", err.message);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, nr_async_queue_fd(queue), &ev);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--impl"))
            use_plain = !strcmp(argv[i + 1], "plain");
        else if (!strcmp(argv[i], "--requests"))
            requests = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size"))
            size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atoi(argv[i + 1]);
    }
    if (requests < 1 || size < 1 || size > 64 || seconds < 1) {
        fprintf(stderr, "bench_async_pg: bad arguments\n");
        return 2;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    setup();
    req *reqs = calloc((size_t)requests, sizeof(*reqs));
    cap_lat = 4u * 1000 * 1000;
    lat_conn = malloc(cap_lat * sizeof(int64_t));
    lat_done = malloc(cap_lat * sizeof(int64_t));
    if (!reqs || !lat_conn || !lat_done)
        return 1;
    for (int i = 0; i < requests; i++) {
        reqs[i].idx = i;
        start(&reqs[i]);
    }
    int64_t t_start = nr_now_ns(), t_end = t_start + (int64_t)seconds * NR_NS_PER_S;
    nlat = 0;
    done_n = 0;
    uint64_t done_at_end = 0;
    int64_t elapsed = 0;
    struct epoll_event evs[64];
    while (!stopping || busy > 0) {
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) { /* the completion queue */
                cb_ns = 0;
                int64_t c0 = nr_now_ns();
                nr_async_queue_dispatch(queue, 0);
                int64_t own = nr_now_ns() - c0 - cb_ns; /* without on_lease's query send */
                if (own > worst_call)
                    worst_call = own;
                continue;
            }
            step(evs[i].data.ptr);
        }
        int64_t now = nr_now_ns();
        if (!stopping && now >= t_end) {
            stopping = 1;
            done_at_end = done_n;
            elapsed = now - t_start;
        }
    }
    qsort(lat_conn, nlat, sizeof(int64_t), cmp64);
    qsort(lat_done, nlat, sizeof(int64_t), cmp64);
    double secs = (double)elapsed / 1e9;
    printf("{\"impl\":\"%s\",\"requests\":%d,\"size\":%d,\"queries_per_s\":%.0f,"
           "\"to_conn_p50_us\":%.1f,\"to_conn_p99_us\":%.1f,\"to_answer_p99_us\":%.1f,"
           "\"max_us\":%.1f,\"longest_call_us\":%.1f}\n",
           use_plain ? "plain" : "nebula", requests, size, (double)done_at_end / secs,
           (double)lat_conn[nlat / 2] / 1e3, (double)lat_conn[nlat * 99 / 100] / 1e3,
           (double)lat_done[nlat * 99 / 100] / 1e3, (double)lat_done[nlat - 1] / 1e3,
           (double)worst_call / 1e3);
    if (!use_plain) {
        nr_async_queue_destroy(queue);
        nr_pool_destroy(pool, NULL);
    } else {
        while (nidle > 0)
            PQfinish(idle[--nidle]);
    }
    free(reqs);
    return 0;
}

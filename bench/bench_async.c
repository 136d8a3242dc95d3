/*
 * bench_async.c - one event-loop thread keeps many async acquires in flight
 * over a few instances of the in-memory type: the pure cost of the async
 * path, beside a plain async pool measured in the same run.
 *
 *   bench_async [--impl nebula|manager|plain] [--requests 10000] [--size 4]
 *               [--seconds 3] [--blocking-threads 0]
 *
 * The loop (epoll on the completion queue's fd) starts `requests` acquires
 * at once; each completion gives its lease back and starts the next
 * acquire, so `requests` stay in flight. With --blocking-threads N, N
 * threads also acquire and give back through the blocking call on the same
 * pool, all in the one FIFO queue.
 *
 * impl: nebula   nr_pool_acquire_async, nr_guard_release_async, dispatch
 *       manager  the same through nr_manager_acquire_async by id
 *       plain    what a program would write without the library: a mutex,
 *                a stack of idle objects, a FIFO of pending callbacks and
 *                an eventfd (no deadlines, no cancel, no health)
 *
 * One JSON line: completions per second on the loop, acquire-to-callback
 * latency (p50, p99, max, in microseconds: with `requests` in flight this
 * is mostly the time spent queued), the longest single call into the pool
 * on the loop thread (every dispatch, counted without the callbacks' own
 * time, and one acquire and one give-back in 16), and the blocking
 * threads' leases per second and mean wait beside the loop's.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench_type.h"
#include "nebula/async.h"
#include "nebula/manager.h"

typedef enum { IMPL_NEBULA, IMPL_MANAGER, IMPL_PLAIN } impl_kind;

static impl_kind impl = IMPL_NEBULA;
static int requests = 10000, size = 4, seconds = 3, blockers = 0;

/* ---- the plain async pool ------------------------------------------------------------ */

typedef void (*plain_fn)(void *ud, void *obj);

typedef struct plain_req {
    plain_fn fn;
    void *ud;
    void *obj;
    struct plain_req *next;
} plain_req;

typedef struct plain_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* blocking callers */
    void **idle;
    int nidle;
    plain_req *head, *tail;           /* pending */
    plain_req *done_head, *done_tail; /* handed, to dispatch */
    int nblocked;                     /* blocking callers waiting */
    int fd;
} plain_pool;

static plain_pool plain;

static void plain_init(int n)
{
    pthread_mutex_init(&plain.mu, NULL);
    pthread_cond_init(&plain.cv, NULL);
    plain.idle = calloc((size_t)n, sizeof(void *));
    for (int i = 0; i < n; i++)
        plain.idle[plain.nidle++] = calloc(1, 64);
    plain.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/* 1 = got obj now; 0 = queued (fn runs at dispatch). */
static int plain_acquire(plain_req *r, void **obj)
{
    pthread_mutex_lock(&plain.mu);
    if (plain.nidle > 0 && !plain.head) {
        *obj = plain.idle[--plain.nidle];
        pthread_mutex_unlock(&plain.mu);
        return 1;
    }
    r->next = NULL;
    if (plain.tail)
        plain.tail->next = r;
    else
        plain.head = r;
    plain.tail = r;
    pthread_mutex_unlock(&plain.mu);
    return 0;
}

static void plain_release(void *obj)
{
    pthread_mutex_lock(&plain.mu);
    plain_req *r = plain.head;
    if (r) {
        plain.head = r->next;
        if (!plain.head)
            plain.tail = NULL;
        r->obj = obj;
        r->next = NULL;
        int was_empty = !plain.done_head;
        if (plain.done_tail)
            plain.done_tail->next = r;
        else
            plain.done_head = r;
        plain.done_tail = r;
        pthread_mutex_unlock(&plain.mu);
        if (was_empty) {
            uint64_t one = 1;
            ssize_t w = write(plain.fd, &one, sizeof(one));
            (void)w;
        }
        return;
    }
    plain.idle[plain.nidle++] = obj;
    if (plain.nblocked)
        pthread_cond_signal(&plain.cv);
    pthread_mutex_unlock(&plain.mu);
}

static void *plain_block_acquire(void)
{
    pthread_mutex_lock(&plain.mu);
    plain.nblocked++;
    while (plain.nidle == 0 || plain.head)
        pthread_cond_wait(&plain.cv, &plain.mu);
    plain.nblocked--;
    void *obj = plain.idle[--plain.nidle];
    pthread_mutex_unlock(&plain.mu);
    return obj;
}

static size_t plain_dispatch(void)
{
    uint64_t v;
    ssize_t rd = read(plain.fd, &v, sizeof(v));
    (void)rd;
    pthread_mutex_lock(&plain.mu);
    plain_req *r = plain.done_head;
    plain.done_head = plain.done_tail = NULL;
    pthread_mutex_unlock(&plain.mu);
    size_t n = 0;
    while (r) {
        plain_req *next = r->next;
        r->fn(r->ud, r->obj);
        r = next;
        n++;
    }
    return n;
}

/* ---- the run ----------------------------------------------------------------------- */

typedef struct req {
    int64_t t0;
    plain_req pr;
    nr_guard g; /* held until the loop's next turn */
    void *obj;  /* the same for the plain pool */
    struct req *next_held;
} req;

static nr_pool *pool;
static nr_manager *mgr;
static nr_async_queue *queue;
static req *reqs;
static int64_t *lat; /* acquire-to-callback samples, ns */
static size_t nlat, cap_lat;
static uint64_t completions;
static int64_t worst_call; /* the longest call into the pool on the loop */
static int64_t cb_ns;      /* time spent in callbacks during the current dispatch */
static int stopping;
static req *held;     /* leases held until the loop's next turn (a query in flight) */
static long inflight; /* requests queued whose callback has not run */
static atomic_int stop_blockers;
static atomic_ullong blocked_leases, blocked_wait_ns;

static void timed(int64_t t0)
{
    int64_t d = nr_now_ns() - t0;
    if (d > worst_call)
        worst_call = d;
}

/* Whether to time this acquire or give-back: one in 16 (a clock read costs
 * as much as a fair part of the call). */
static int sample(void)
{
    static unsigned n;
    return (n++ & 15) == 0;
}

static void start(req *r);

static void record(req *r)
{
    int64_t now = nr_now_ns();
    if (nlat < cap_lat)
        lat[nlat++] = now - r->t0;
    completions++;
}

static void on_done(void *ud, int rc, nr_guard *g, const nr_error *err)
{
    int64_t t0 = nr_now_ns();
    req *r = ud;
    inflight--;
    if (rc != NR_OK) {
        fprintf(stderr, "bench_async: acquire failed: %s\n", err ? err->message : "?");
        exit(1);
    }
    record(r);
    r->g = *g;
    r->next_held = held;
    held = r;
    cb_ns += nr_now_ns() - t0;
}

static void on_plain(void *ud, void *obj)
{
    int64_t t0 = nr_now_ns();
    req *r = (req *)((char *)ud - offsetof(req, pr));
    inflight--;
    record(r);
    r->obj = obj;
    r->next_held = held;
    held = r;
    cb_ns += nr_now_ns() - t0;
}

/* Start r's acquire: queued (its callback holds the lease), or got at
 * once (held now). */
static void start(req *r)
{
    r->t0 = nr_now_ns();
    int64_t c0 = r->t0;
    if (impl == IMPL_PLAIN) {
        r->pr.fn = on_plain;
        r->pr.ud = &r->pr;
        int got = plain_acquire(&r->pr, &r->obj);
        if (sample())
            timed(c0);
        if (!got) {
            inflight++;
            return;
        }
    } else {
        nr_error err;
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(600000));
        r->g = (nr_guard)NR_GUARD_INIT;
        int rc =
            impl == IMPL_MANAGER
                ? nr_manager_acquire_async(mgr, "db", &ctx, queue, on_done, r, &r->g, NULL, &err)
                : nr_pool_acquire_async(pool, &ctx, queue, on_done, r, &r->g, NULL, &err);
        if (sample())
            timed(c0);
        if (rc == NR_PENDING) {
            inflight++;
            return;
        }
        if (rc != NR_OK) {
            fprintf(stderr, "bench_async: acquire refused: %s\n", err.message);
            exit(1);
        }
    }
    record(r);
    r->next_held = held;
    held = r;
}

/* The loop's turn: give back what was held since the last one, and start
 * those requests again. */
static void turn(void)
{
    req *list = held;
    held = NULL;
    while (list) {
        req *r = list;
        list = r->next_held;
        int t = sample();
        int64_t c0 = t ? nr_now_ns() : 0;
        if (impl == IMPL_PLAIN)
            plain_release(r->obj);
        else
            nr_guard_release_async(&r->g);
        if (t)
            timed(c0);
        if (!stopping)
            start(r);
    }
}

static void *blocker_main(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop_blockers, memory_order_relaxed)) {
        int64_t t0 = nr_now_ns();
        if (impl == IMPL_PLAIN) {
            void *obj = plain_block_acquire();
            plain_release(obj);
        } else {
            nr_guard g = NR_GUARD_INIT;
            nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(600000));
            int rc = impl == IMPL_MANAGER ? nr_manager_acquire(mgr, "db", &ctx, &g, NULL)
                                          : nr_pool_acquire(pool, &ctx, &g, NULL);
            if (rc != NR_OK)
                continue;
            atomic_fetch_add_explicit(&blocked_wait_ns, (uint64_t)(nr_now_ns() - t0),
                                      memory_order_relaxed);
            nr_guard_release(&g);
            atomic_fetch_add_explicit(&blocked_leases, 1, memory_order_relaxed);
            continue;
        }
        atomic_fetch_add_explicit(&blocked_wait_ns, (uint64_t)(nr_now_ns() - t0),
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&blocked_leases, 1, memory_order_relaxed);
    }
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void setup(void)
{
    static nr_bench_config cfg;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = size;
    pc.min_idle = size;
    pc.max_waiters = 0;
    pc.acquire_timeout_ms = 600000;
    nr_error err;
    if (impl == IMPL_PLAIN) {
        plain_init(size);
        return;
    }
    if (impl == IMPL_NEBULA) {
        nr_pool_options o = NR_POOL_OPTIONS_INIT;
        o.id = "db";
        o.type = &nr_bench_type;
        o.config = &cfg;
        o.pool = &pc;
        if (nr_pool_create(&pool, &o, &err) != NR_OK ||
            nr_pool_fill(pool, nr_deadline_in_ms(10000), &err) != NR_OK) {
            fprintf(stderr, "bench_async: %s\n", err.message);
            exit(1);
        }
    } else {
        nr_manager_options mo;
        nr_manager_options_default(&mo);
        mo.maintain_interval_ms = 0;
        nr_resource_spec s = NR_RESOURCE_SPEC_INIT;
        s.id = "db";
        s.type = &nr_bench_type;
        s.config = &cfg;
        s.pool = &pc;
        if (nr_manager_create(&mgr, &mo, &err) != NR_OK ||
            nr_manager_register(mgr, &s, &err) != NR_OK ||
            nr_manager_start(mgr, nr_deadline_in_ms(10000), &err) != NR_OK) {
            fprintf(stderr, "bench_async: %s\n", err.message);
            exit(1);
        }
    }
    if (nr_async_queue_create(&queue, &err) != NR_OK) {
        fprintf(stderr, "bench_async: %s\n", err.message);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--impl"))
            impl = !strcmp(argv[i + 1], "plain")     ? IMPL_PLAIN
                   : !strcmp(argv[i + 1], "manager") ? IMPL_MANAGER
                                                     : IMPL_NEBULA;
        else if (!strcmp(argv[i], "--requests"))
            requests = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size"))
            size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--blocking-threads"))
            blockers = atoi(argv[i + 1]);
    }
    if (requests < 1 || size < 1 || seconds < 1 || blockers < 0 || blockers > 64) {
        fprintf(stderr, "bench_async: bad arguments\n");
        return 2;
    }
    setup();
    reqs = calloc((size_t)requests, sizeof(*reqs));
    cap_lat = 20u * 1000 * 1000;
    lat = malloc(cap_lat * sizeof(*lat));
    if (!reqs || !lat)
        return 1;
    int fd = impl == IMPL_PLAIN ? plain.fd : nr_async_queue_fd(queue);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);

    /* All requests in flight first, then the blocking threads join the
     * queue behind them, then the clock starts. */
    for (int i = 0; i < requests; i++)
        start(&reqs[i]);
    pthread_t bt[64];
    for (int i = 0; i < blockers; i++)
        pthread_create(&bt[i], NULL, blocker_main, NULL);
    int64_t t_start = nr_now_ns();
    nlat = 0;
    completions = 0;
    int64_t t_end = t_start + (int64_t)seconds * NR_NS_PER_S;
    uint64_t c_at_end = 0;
    int64_t elapsed = 0;
    uint64_t b_at_end = 0;
    for (;;) {
        struct epoll_event got;
        int n = epoll_wait(ep, &got, 1, held ? 0 : 100);
        if (n == 1) {
            cb_ns = 0;
            int64_t c0 = nr_now_ns();
            if (impl == IMPL_PLAIN)
                plain_dispatch();
            else
                nr_async_queue_dispatch(queue, 256);
            int64_t own = nr_now_ns() - c0 - cb_ns;
            if (own > worst_call)
                worst_call = own;
        }
        turn();
        int64_t now = nr_now_ns();
        if (!stopping && now >= t_end) {
            stopping = 1;
            c_at_end = completions;
            elapsed = now - t_start;
            b_at_end = atomic_load(&blocked_leases);
        }
        if (stopping && inflight == 0 && !held)
            break; /* every request in flight has completed */
    }
    atomic_store(&stop_blockers, 1);
    for (int i = 0; i < blockers; i++)
        pthread_join(bt[i], NULL);
    double mean = 0;
    for (size_t i = 0; i < nlat; i++)
        mean += (double)lat[i];
    mean = nlat ? mean / (double)nlat : 0;
    uint64_t bl = atomic_load(&blocked_leases);
    double bmean = bl ? (double)atomic_load(&blocked_wait_ns) / (double)bl : 0;
    qsort(lat, nlat, sizeof(*lat), cmp64);
    double secs = (double)elapsed / 1e9;
    const char *names[] = {"nebula", "manager", "plain"};
    printf("{\"impl\":\"%s\",\"requests\":%d,\"size\":%d,\"blocking_threads\":%d,"
           "\"loop_ops_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
           "\"longest_call_us\":%.1f,\"blocking_ops_per_s\":%.0f,\"mean_wait_us\":%.1f,"
           "\"blocking_mean_wait_us\":%.1f}\n",
           names[impl], requests, size, blockers, (double)c_at_end / secs,
           nlat ? (double)lat[nlat / 2] / 1e3 : 0, nlat ? (double)lat[nlat * 99 / 100] / 1e3 : 0,
           nlat ? (double)lat[nlat - 1] / 1e3 : 0, (double)worst_call / 1e3,
           (double)b_at_end / secs, mean / 1e3, bmean / 1e3);
    if (impl == IMPL_NEBULA) {
        nr_async_queue_destroy(queue);
        nr_pool_destroy(pool, NULL);
    } else if (impl == IMPL_MANAGER) {
        nr_async_queue_destroy(queue);
        nr_manager_destroy(mgr, NULL);
    }
    return 0;
}

/*
 * bench_spike.c - HikariCP's spike test (java/SpikeHikari.java in the peers
 * harness) against a bare pool or a manager.
 *
 *   bench_spike [--mode pool|manager] [--create-ms 150] [--hold-ms 2] [--max 50]
 *               [--min-idle 5] [--threads 50] [--timeout-ms 30000]
 *
 * Every create sleeps create-ms. The pool (max_size max, min_idle min-idle) is
 * warmed to min-idle idle instances first: nr_pool_fill for a bare pool; for
 * the manager, nr_manager_start and then a wait until min-idle are idle. Then
 * `threads` threads meet at a barrier and each makes one request: acquire
 * (deadline timeout-ms, 30 s by default), hold hold-ms, release. One JSON line, in SpikeHikari's
 * shape plus three fields:
 *   warm               creates before the spike
 *   connections_after  instances alive (stats total) 1 s after the last
 *                      caller was served
 *   creates            every successful create, the warm ones included
 *   spike_ms           from the barrier until the last caller was served
 *   max_wait_ms        the longest single acquire
 *   served, failed     requests that got an instance, and those that did not
 * The exit status is 1 when any acquire failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/manager.h"
#include "nebula/resource.h"

#define SPIKE_ID "spike"

typedef struct spike_config {
    int unused;
} spike_config;

typedef struct spike_type_ud {
    int64_t create_ns;
    atomic_uint_fast64_t creates;
} spike_type_ud;

static const nr_config_schema spike_schema = {.name = "spike", .struct_size = sizeof(spike_config)};

static int slow_create(void **out, const void *cfg, const nr_create_ctx *ctx, void *ud,
                       nr_error *err)
{
    (void)cfg;
    spike_type_ud *t = ud;
    nr_sleep_ns(t->create_ns);
    *out = calloc(1, 64);
    if (!*out)
        return nr_error_set(err, NR_ENOMEM, ctx->resource_id, "spike object");
    atomic_fetch_add(&t->creates, 1);
    return NR_OK;
}

static void slow_destroy(void *h, void *ud)
{
    (void)ud;
    free(h);
}

static const nr_resource_type spike_type = {.version = NR_RESOURCE_TYPE_VERSION,
                                            .name = "spike",
                                            .config_schema = &spike_schema,
                                            .create = slow_create,
                                            .destroy = slow_destroy};

typedef struct spike_run {
    nr_pool *pool;   /* --mode pool */
    nr_manager *mgr; /* --mode manager */
    pthread_barrier_t start;
    int64_t t0_ns; /* written before the barrier, read after it */
    int64_t hold_ns;
    int64_t timeout_ms;
    atomic_int_fast64_t last_served_ns; /* since t0 */
    atomic_int_fast64_t max_wait_ns;
    atomic_uint served, failed;
    pthread_mutex_t err_lock;
    nr_error first_err; /* the first failed acquire's detail */
} spike_run;

static void atomic_max(atomic_int_fast64_t *a, int64_t v)
{
    int_fast64_t cur = atomic_load(a);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

static void *caller(void *arg)
{
    spike_run *r = arg;
    pthread_barrier_wait(&r->start);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(r->timeout_ms));
    nr_guard g;
    nr_error err = {0};
    int64_t a0 = nr_now_ns();
    int rc = r->pool ? nr_pool_acquire(r->pool, &ctx, &g, &err)
                     : nr_manager_acquire(r->mgr, SPIKE_ID, &ctx, &g, &err);
    int64_t a1 = nr_now_ns();
    atomic_max(&r->max_wait_ns, a1 - a0);
    if (rc != NR_OK) {
        pthread_mutex_lock(&r->err_lock);
        if (atomic_fetch_add(&r->failed, 1) == 0)
            r->first_err = err;
        pthread_mutex_unlock(&r->err_lock);
        return NULL;
    }
    nr_sleep_ns(r->hold_ns);
    nr_guard_release(&g);
    atomic_max(&r->last_served_ns, nr_now_ns() - r->t0_ns);
    atomic_fetch_add(&r->served, 1);
    return NULL;
}

static void read_stats(spike_run *r, nr_pool_stats *out)
{
    if (r->pool) {
        nr_pool_stats_get(r->pool, out);
        return;
    }
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    if (nr_manager_resource_info(r->mgr, SPIKE_ID, &info, NULL) == NR_OK)
        *out = info.stats;
    else
        memset(out, 0, sizeof(*out));
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < lo || x > hi) {
        fprintf(stderr, "bench_spike: %s wants an integer in %ld..%ld, got '%s'\n", flag, lo, hi,
                v);
        return -1;
    }
    *out = x;
    return 0;
}

int main(int argc, char **argv)
{
    long create_ms = 150, hold_ms = 2, max = 50, min_idle = 5, threads = 50, timeout_ms = 30000;
    int manager = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!v)
            bad = 1;
        else if (!strcmp(f, "--mode") && (!strcmp(v, "pool") || !strcmp(v, "manager")))
            manager = !strcmp(v, "manager");
        else if (!strcmp(f, "--create-ms"))
            bad = parse_int(f, v, 0, 600000, &create_ms);
        else if (!strcmp(f, "--hold-ms"))
            bad = parse_int(f, v, 0, 600000, &hold_ms);
        else if (!strcmp(f, "--max"))
            bad = parse_int(f, v, 1, 1000000, &max);
        else if (!strcmp(f, "--min-idle"))
            bad = parse_int(f, v, 0, 1000000, &min_idle);
        else if (!strcmp(f, "--threads"))
            bad = parse_int(f, v, 1, 100000, &threads);
        else if (!strcmp(f, "--timeout-ms"))
            bad = parse_int(f, v, 1, 3600000, &timeout_ms);
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "usage: bench_spike [--mode pool|manager] [--create-ms N] "
                            "[--hold-ms N] [--max N] [--min-idle N] [--threads N] "
                            "[--timeout-ms N]\n");
            return 2;
        }
    }
    if (min_idle > max) {
        fprintf(stderr, "bench_spike: --min-idle must not exceed --max\n");
        return 2;
    }

    static spike_type_ud tud;
    tud.create_ns = create_ms * NR_NS_PER_MS;
    atomic_init(&tud.creates, 0);
    spike_config cfg = {0};
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max;
    pc.min_idle = min_idle;
    pc.acquire_timeout_ms = timeout_ms;
    /* room for min_idle sequential creates, whoever makes them */
    nr_deadline warm_by = nr_deadline_in_ms(10000 + min_idle * create_ms);

    static spike_run r;
    nr_error err = {0};
    if (!manager) {
        nr_pool_options o = NR_POOL_OPTIONS(.id = SPIKE_ID, .type = &spike_type, .type_ud = &tud,
                                            .config = &cfg, .pool = &pc);
        if (nr_pool_create(&r.pool, &o, &err) != NR_OK ||
            nr_pool_fill(r.pool, warm_by, &err) != NR_OK) {
            fprintf(stderr, "bench_spike: warm-up: %s\n", err.message);
            return 1;
        }
    } else {
        nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
        nr_manager_options_default(&mo);
        nr_resource_spec s = NR_RESOURCE_SPEC(.id = SPIKE_ID, .type = &spike_type, .type_ud = &tud,
                                              .config = &cfg, .pool = &pc);
        if (nr_manager_create(&r.mgr, &mo, &err) != NR_OK ||
            nr_manager_register(r.mgr, &s, &err) != NR_OK ||
            nr_manager_start(r.mgr, warm_by, &err) != NR_OK) {
            fprintf(stderr, "bench_spike: warm-up: %s\n", err.message);
            return 1;
        }
    }
    for (;;) {
        nr_pool_stats st = NR_POOL_STATS_INIT;
        read_stats(&r, &st);
        if (st.idle >= (uint32_t)min_idle)
            break;
        if (nr_deadline_expired(warm_by)) {
            fprintf(stderr, "bench_spike: warm-up: %u of %ld idle in time\n", st.idle, min_idle);
            return 1;
        }
        nr_sleep_ns(10 * NR_NS_PER_MS);
    }
    uint64_t warm = atomic_load(&tud.creates);

    r.hold_ns = hold_ms * NR_NS_PER_MS;
    r.timeout_ms = timeout_ms;
    pthread_mutex_init(&r.err_lock, NULL);
    pthread_barrier_init(&r.start, NULL, (unsigned)threads + 1);
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    if (!th) {
        fprintf(stderr, "bench_spike: out of memory\n");
        return 1;
    }
    for (long i = 0; i < threads; i++) {
        if (pthread_create(&th[i], NULL, caller, &r) != 0) {
            fprintf(stderr, "bench_spike: could not start thread %ld of %ld\n", i + 1, threads);
            return 1;
        }
    }
    r.t0_ns = nr_now_ns();
    pthread_barrier_wait(&r.start);
    for (long i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    nr_sleep_ns(NR_NS_PER_S);
    nr_pool_stats after = NR_POOL_STATS_INIT;
    read_stats(&r, &after);
    uint64_t creates = atomic_load(&tud.creates);
    unsigned failed = atomic_load(&r.failed);

    printf("{\"peer\":\"nebula-%s\",\"warm\":%llu,\"connections_after\":%u,\"creates\":%llu,"
           "\"spike_ms\":%.1f,\"max_wait_ms\":%.1f,\"served\":%u,\"failed\":%u}\n",
           manager ? "manager" : "pool", (unsigned long long)warm, after.total,
           (unsigned long long)creates, (double)atomic_load(&r.last_served_ns) / 1e6,
           (double)atomic_load(&r.max_wait_ns) / 1e6, atomic_load(&r.served), failed);
    fflush(stdout);
    if (failed)
        fprintf(stderr, "bench_spike: %u of %ld acquires failed; the first: %s (%s)\n", failed,
                threads, r.first_err.message, nr_err_name(r.first_err.code));

    int rc = failed ? 1 : 0;
    if (r.pool) {
        if (nr_pool_drain(r.pool, nr_deadline_in_ms(30000), &err) != NR_OK ||
            nr_pool_destroy(r.pool, &err) != NR_OK) {
            fprintf(stderr, "bench_spike: %s\n", err.message);
            rc = 1;
        }
    } else {
        nr_manager_shutdown(r.mgr, NULL, NULL, NULL);
        if (nr_manager_destroy(r.mgr, &err) != NR_OK) {
            fprintf(stderr, "bench_spike: %s\n", err.message);
            rc = 1;
        }
    }
    free(th);
    pthread_barrier_destroy(&r.start);
    pthread_mutex_destroy(&r.err_lock);
    return rc;
}

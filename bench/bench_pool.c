/*
 * bench_pool.c - acquire/release throughput, acquire latency percentiles and
 * per-thread fairness of one pool, on an in-memory resource type.
 *
 *   bench_pool [--threads T] [--size M] [--seconds S] [--hold-us H]
 *              [--hooks none|empty|after] [--per-thread 1]
 *
 * T threads meet at a barrier, then loop acquire -> (spin H us) -> release for
 * S seconds. Every 64th acquire is timed (every one when H > 0). Prints one
 * line: ops/s, p50/p99/p99.9 acquire latency, fairness = min/max ops per thread.
 * --per-thread 1 adds a line per thread: its ops, the CPU time it got and its
 * ops per CPU millisecond, which tells a pool that shares objects unevenly
 * from a scheduler that shares the CPUs unevenly.
 *
 * --hooks (bench/ab-hooks.sh compares them): none = the pool has no hook
 * registry (the default); empty = a registry with no hooks; after = a
 * registry with one after hook on acquire and release that counts the calls
 * (per thread, so the count itself shares no cache line).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_type.h"
#include "nebula/resource.h"

enum { MAX_SAMPLES = 1 << 20 };

static _Thread_local uint64_t hook_calls_here;
static atomic_ullong hook_calls;

static int count_after(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)ud;
    (void)call;
    (void)err;
    hook_calls_here++;
    return NR_OK;
}

typedef struct thread_state {
    pthread_t t;
    nr_pool *pool;
    pthread_barrier_t *start;
    atomic_bool *stop;
    int64_t hold_ns;
    uint64_t ops, errors;
    int64_t cpu_ns; /* the thread's CPU time over the run */
    int64_t *samples;
    size_t nsamples;
} thread_state;

static void *run(void *arg)
{
    thread_state *ts = arg;
    int every = ts->hold_ns ? 1 : 64;
    pthread_barrier_wait(ts->start);
    while (!atomic_load_explicit(ts->stop, memory_order_relaxed)) {
        int sample = (ts->ops % (uint64_t)every) == 0 && ts->nsamples < MAX_SAMPLES;
        int64_t t0 = sample ? nr_now_ns() : 0;
        nr_guard g;
        if (nr_pool_acquire(ts->pool, NULL, &g, NULL) != NR_OK) {
            ts->errors++;
            continue;
        }
        if (sample)
            ts->samples[ts->nsamples++] = nr_now_ns() - t0;
        (*(volatile uint64_t *)nr_guard_handle(&g))++;
        if (ts->hold_ns) {
            int64_t until = nr_now_ns() + ts->hold_ns;
            while (nr_now_ns() < until) {
            }
        }
        nr_guard_release(&g);
        ts->ops++;
    }
    atomic_fetch_add(&hook_calls, hook_calls_here);
    struct timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    ts->cpu_ns = (int64_t)cpu.tv_sec * 1000000000 + cpu.tv_nsec;
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = 1, size = 8;
    double seconds = 3, hold_us = 0;
    const char *hooks_mode = "none";
    int per_thread = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size"))
            size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--hold-us"))
            hold_us = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--hooks"))
            hooks_mode = argv[i + 1];
        else if (!strcmp(argv[i], "--per-thread"))
            per_thread = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_pool: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1 || size < 1 || seconds <= 0 || hold_us < 0) {
        fprintf(stderr, "bench_pool: threads, size and seconds must be positive\n");
        return 2;
    }
    int with_hooks = strcmp(hooks_mode, "none") != 0;
    if (with_hooks && strcmp(hooks_mode, "empty") != 0 && strcmp(hooks_mode, "after") != 0) {
        fprintf(stderr, "bench_pool: --hooks must be none, empty or after (got %s)\n", hooks_mode);
        return 2;
    }
    nr_hooks *hooks = NULL;
    if (with_hooks) {
        nr_error herr = {0};
        nr_hook_def def =
            NR_HOOK_DEF(.name = "count", .after = count_after,
                        .ops = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE) | NR_HOOK_OP_BIT(NR_HOOK_RELEASE));
        if (nr_hooks_create(&hooks, NULL, &herr) != NR_OK ||
            (!strcmp(hooks_mode, "after") && nr_hooks_add(hooks, &def, NULL, &herr) != NR_OK)) {
            fprintf(stderr, "bench_pool: %s\n", herr.message);
            return 1;
        }
    }
    nr_bench_config cfg = {0};
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = pc.min_idle = size;
    pc.max_lifetime_ms = pc.idle_timeout_ms = 0;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "bench", .type = &nr_bench_type, .config = &cfg,
                                        .pool = &pc, .hooks = hooks);
    nr_pool *pool;
    nr_error err = {0};
    if (nr_pool_create(&pool, &o, &err) != NR_OK ||
        nr_pool_fill(pool, nr_deadline_in_ms(10000), &err) != NR_OK) {
        fprintf(stderr, "bench_pool: %s\n", err.message);
        return 1;
    }
    thread_state *ts = calloc((size_t)threads, sizeof(*ts));
    pthread_barrier_t start;
    atomic_bool stop = false;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        ts[i] = (thread_state){
            .pool = pool, .start = &start, .stop = &stop, .hold_ns = (int64_t)(hold_us * 1e3)};
        ts[i].samples = malloc(MAX_SAMPLES * sizeof(int64_t));
        pthread_create(&ts[i].t, NULL, run, &ts[i]);
    }
    pthread_barrier_wait(&start);
    int64_t t0 = nr_now_ns();
    nr_sleep_ns((int64_t)(seconds * 1e9));
    atomic_store(&stop, true);
    uint64_t ops = 0, errors = 0, mn = UINT64_MAX, mx = 0;
    size_t n = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ts[i].t, NULL);
        n += ts[i].nsamples;
    }
    int64_t t1 = nr_now_ns();
    int64_t *all = malloc((n ? n : 1) * sizeof(int64_t));
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        ops += ts[i].ops;
        errors += ts[i].errors;
        mn = ts[i].ops < mn ? ts[i].ops : mn;
        mx = ts[i].ops > mx ? ts[i].ops : mx;
        memcpy(all + k, ts[i].samples, ts[i].nsamples * sizeof(int64_t));
        k += ts[i].nsamples;
        free(ts[i].samples);
    }
    qsort(all, n, sizeof(int64_t), cmp64);
#define PCT(q) (n ? all[(size_t)((double)(n - 1) * (q))] : 0)
    printf("threads=%d size=%d hold_us=%g hooks=%s: %.2f M ops/s  p50 %lld ns  p99 %lld ns  "
           "p99.9 %lld ns  fairness %.3f  errors %llu  hook_calls %llu\n",
           threads, size, hold_us, hooks_mode, (double)ops / ((double)(t1 - t0) / 1e9) / 1e6,
           (long long)PCT(0.5), (long long)PCT(0.99), (long long)PCT(0.999),
           mx ? (double)mn / (double)mx : 0.0, (unsigned long long)errors,
           (unsigned long long)atomic_load(&hook_calls));
    for (int i = 0; per_thread && i < threads; i++)
        printf("  thread %d: %llu ops, %.1f ms CPU, %.1f ops per CPU ms\n", i,
               (unsigned long long)ts[i].ops, (double)ts[i].cpu_ns / 1e6,
               ts[i].cpu_ns ? (double)ts[i].ops / ((double)ts[i].cpu_ns / 1e6) : 0.0);
    free(all);
    free(ts);
    pthread_barrier_destroy(&start);
    if (nr_pool_destroy(pool, &err) != NR_OK) {
        fprintf(stderr, "bench_pool: %s\n", err.message);
        return 1;
    }
    nr_hooks_destroy(hooks, NULL);
    return errors ? 1 : 0;
}

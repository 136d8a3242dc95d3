/*
 * cmd_bench.c - `nebula-resource bench CONFIG --resource ID`: threads that
 * acquire and release one configured resource as fast as they can, with the
 * throughput and the acquire latency percentiles at the end.
 *
 * Latencies go into a log-linear histogram per thread (32 steps per power
 * of two, so a percentile is within about 3% of the true value); the
 * maximum is exact.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "config_file.h"
#include "signals.h"

#define SUB     32 /* steps per power of two */
#define SUBBITS 5
#define NBUCKET (64 * SUB)

typedef struct bench_opts {
    const char *file, *id;
    int64_t threads, seconds, hold_us;
} bench_opts;

typedef struct bench {
    bench_opts o;
    nr_manager *m;
    nr_scope scope;
    bool use_scope;
    atomic_bool stop;
    atomic_bool go; /* threads start together */
} bench;

typedef struct bthread {
    bench *b;
    pthread_t th;
    uint64_t ok, errors[32]; /* errors by -code */
    int64_t max_ns;
    nr_error first;
    uint64_t hist[NBUCKET];
} bthread;

static int bucket_of(uint64_t ns)
{
    if (ns < SUB)
        return (int)ns;
    int msb = 63 - __builtin_clzll(ns);
    int shift = msb - SUBBITS;
    return (shift + 1) * SUB + (int)((ns >> shift) & (SUB - 1));
}

static uint64_t bucket_top(int b)
{
    if (b < SUB)
        return (uint64_t)b;
    int shift = b / SUB - 1;
    uint64_t mant = (uint64_t)(b % SUB) + SUB;
    return ((mant + 1) << shift) - 1;
}

static void *bench_main(void *arg)
{
    bthread *t = arg;
    bench *b = t->b;
    nr_ctx ctx = {.scope = b->use_scope ? &b->scope : NULL, .caller = "bench"};
    while (!atomic_load(&b->go))
        nr_sleep_ns(100 * NR_NS_PER_US);
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        ctx.deadline = nr_deadline_in_ms(5000);
        int64_t t0 = nr_now_ns();
        int rc = nr_manager_acquire(b->m, b->o.id, &ctx, &g, &err);
        int64_t dt = nr_now_ns() - t0;
        if (rc != NR_OK) {
            int k = -rc < 32 ? -rc : 31;
            if (t->ok + t->errors[k] == 0 || !t->first.code)
                t->first = err;
            t->errors[k]++;
            nr_sleep_ns(NR_NS_PER_MS); /* do not spin on a failing resource */
            continue;
        }
        t->ok++;
        t->hist[bucket_of((uint64_t)dt)]++;
        if (dt > t->max_ns)
            t->max_ns = dt;
        if (b->o.hold_us)
            nr_sleep_ns(b->o.hold_us * NR_NS_PER_US);
        nr_guard_release(&g);
    }
    return NULL;
}

static int parse(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.threads = 4, .seconds = 5, .hold_us = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            nr_cli_help("bench", stdout);
            return 1;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (o->file) {
                fprintf(stderr, "nebula-resource bench: one CONFIG only (got '%s' and '%s')\n",
                        o->file, a);
                return -1;
            }
            o->file = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "nebula-resource bench: unknown option or missing value: '%s'\n", a);
            return -1;
        }
        const char *v = argv[++i];
        bool ok = true;
        if (!strcmp(a, "--resource"))
            o->id = v;
        else if (!strcmp(a, "--threads"))
            ok = nr_cli_parse_int("--threads", v, 1, 1024, &o->threads);
        else if (!strcmp(a, "--seconds"))
            ok = nr_cli_parse_int("--seconds", v, 1, 3600, &o->seconds);
        else if (!strcmp(a, "--hold-us"))
            ok = nr_cli_parse_int("--hold-us", v, 0, 10000000, &o->hold_us);
        else {
            fprintf(stderr, "nebula-resource bench: unknown option '%s'\n", a);
            ok = false;
        }
        if (!ok)
            return -1;
    }
    if (!o->file || !o->id) {
        fprintf(stderr,
                "nebula-resource bench: %s is missing\n"
                "Usage: nebula-resource bench CONFIG --resource ID [--threads N] "
                "[--seconds S] [--hold-us H]\n",
                o->file ? "--resource ID" : "CONFIG");
        return -1;
    }
    return 0;
}

static uint64_t percentile(const uint64_t *h, uint64_t total, double q)
{
    uint64_t rank = (uint64_t)(q * (double)total + 0.5), seen = 0;
    if (rank < 1)
        rank = 1;
    for (int i = 0; i < NBUCKET; i++) {
        seen += h[i];
        if (seen >= rank)
            return bucket_top(i);
    }
    return 0;
}

static int report(bench *b, bthread *ts, double secs)
{
    uint64_t *h = calloc(NBUCKET, sizeof(uint64_t));
    if (!h)
        return 1;
    uint64_t ok = 0, errors[32] = {0}, nerr = 0;
    int64_t max = 0;
    const nr_error *first = NULL;
    for (int i = 0; i < b->o.threads; i++) {
        ok += ts[i].ok;
        for (int k = 0; k < NBUCKET; k++)
            h[k] += ts[i].hist[k];
        for (int k = 0; k < 32; k++) {
            errors[k] += ts[i].errors[k];
            nerr += ts[i].errors[k];
        }
        if (ts[i].max_ns > max)
            max = ts[i].max_ns;
        if (!first && ts[i].first.code)
            first = &ts[i].first;
    }
    char p50[32], p99[32], p999[32], mx[32];
    cli_fmt_ns(p50, sizeof(p50), (int64_t)percentile(h, ok, 0.50));
    cli_fmt_ns(p99, sizeof(p99), (int64_t)percentile(h, ok, 0.99));
    cli_fmt_ns(p999, sizeof(p999), (int64_t)percentile(h, ok, 0.999));
    cli_fmt_ns(mx, sizeof(mx), max);
    printf("\nresults for %s (%lld threads, %.2f s, hold %lld us):\n", b->o.id,
           (long long)b->o.threads, secs, (long long)b->o.hold_us);
    printf("  acquires       %llu (%.0f/s)\n", (unsigned long long)ok,
           secs > 0 ? (double)ok / secs : 0.0);
    printf("  latency        p50 %s, p99 %s, p99.9 %s, max %s\n", ok ? p50 : "-", ok ? p99 : "-",
           ok ? p999 : "-", ok ? mx : "-");
    printf("  errors         %llu", (unsigned long long)nerr);
    for (int k = 0; k < 32; k++)
        if (errors[k])
            printf("%s %s %llu", k == 0 ? "" : ",", nr_err_name(-k), (unsigned long long)errors[k]);
    printf("\n");
    if (first)
        printf("  first error    %s\n", first->message);
    nr_resource_info ri;
    if (nr_manager_resource_info(b->m, b->o.id, &ri, NULL) == NR_OK)
        printf("  pool           max %u, created %llu, waits %llu, handoffs %llu, timeouts "
               "%llu\n",
               ri.stats.max_size, (unsigned long long)ri.stats.creates,
               (unsigned long long)ri.stats.waits, (unsigned long long)ri.stats.handoffs,
               (unsigned long long)ri.stats.timeouts);
    free(h);
    return nerr ? 1 : 0;
}

int nr_cli_bench(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof(b));
    int prc = parse(argc, argv, &b.o);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    cli_config cfg;
    cli_issues iss;
    if (cli_config_load(b.o.file, true, &cfg, &iss) != 0) {
        cli_issues_print(&iss, b.o.file, stderr);
        fprintf(stderr, "%s: invalid: %zu problem%s\n", b.o.file, iss.n, iss.n == 1 ? "" : "s");
        cli_issues_free(&iss);
        cli_config_free(&cfg);
        return 1;
    }
    cli_issues_free(&iss);
    const cli_resource *r = cli_config_resource(&cfg, b.o.id);
    if (!r) {
        fprintf(stderr, "nebula-resource bench: %s has no resource '%s'\n", b.o.file, b.o.id);
        cli_config_free(&cfg);
        return 2;
    }
    b.scope = r->scope;
    b.use_scope = r->scope.level > NR_SCOPE_GLOBAL;
    if (r->partition == NR_PARTITION_TENANT && r->scope.level == NR_SCOPE_GLOBAL) {
        nr_scope_make(&b.scope, "bench", NULL, NULL, NULL, NULL);
        b.use_scope = true;
    }
    cli_signals_block();
    cli_signals sig;
    cli_signals_start(&sig, "nebula-resource");
    cli_app app;
    nr_error err = {0};
    int status = 1;
    if (cli_app_create(&app, &cfg, false, &err) != NR_OK ||
        cli_app_start(&app, stdout, NULL, NULL, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource bench: %s\n", err.message);
        goto out;
    }
    b.m = app.m;
    atomic_init(&b.stop, false);
    bthread *ts = calloc((size_t)b.o.threads, sizeof(*ts));
    if (!ts) {
        fprintf(stderr, "nebula-resource bench: out of memory\n");
        goto out;
    }
    atomic_init(&b.go, false);
    printf("bench %s: %lld threads for %lld s, holding each lease %lld us\n", b.o.id,
           (long long)b.o.threads, (long long)b.o.seconds, (long long)b.o.hold_us);
    fflush(stdout);
    int started = 0;
    for (int i = 0; i < b.o.threads; i++) {
        ts[i].b = &b;
        if (pthread_create(&ts[i].th, NULL, bench_main, &ts[i]) != 0)
            break;
        started++;
    }
    if (started < b.o.threads) {
        fprintf(stderr, "nebula-resource bench: could start only %d threads\n", started);
        b.o.threads = started;
    }
    atomic_store(&b.go, true);
    int64_t t0 = nr_now_ns();
    if (cli_signals_wait(&sig, 1, b.o.seconds * 1000) > 0)
        printf("stopped early by %s\n", cli_signals_last_name(&sig));
    atomic_store(&b.stop, true);
    for (int i = 0; i < started; i++)
        pthread_join(ts[i].th, NULL);
    double secs = (double)(nr_now_ns() - t0) / 1e9;
    status = report(&b, ts, secs);
    free(ts);
    nr_shutdown_report rep;
    if (nr_manager_shutdown(app.m, NULL, &rep, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource bench: shutdown: %s\n", err.message);
        status = 1;
    }
out:
    cli_app_destroy(&app);
    cli_signals_stop(&sig);
    cli_config_free(&cfg);
    return status;
}

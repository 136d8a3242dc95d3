/*
 * cmd_bench.c - `nebula-resource bench CONFIG --resource ID`: threads that
 * acquire and release one configured resource as fast as they can, with the
 * throughput and the acquire latency percentiles at the end.
 *
 * Each acquire waits as the resource's pool config says (no deadline of its
 * own: the pool's acquire_timeout_ms; 0 = never wait). At the end a cancel
 * token wakes the acquires still waiting, so a long timeout does not hold
 * the end up; those are not counted. Latencies go into a
 * log-linear histogram per thread (32 steps per power of two, so a
 * percentile is within about 3% of the true value), one for the acquires
 * that succeeded and one for those that failed (how long a caller waited to
 * be refused); the maxima are exact.
 *
 * While the threads run, the main thread reloads the file on SIGHUP (and
 * every --reload-every ms) with the code `run` uses (cli_app_reload_print),
 * then prints how many acquires succeeded and failed so far; the report
 * adds the reloads up by kind.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "signals.h"

#define SUB     32 /* steps per power of two */
#define SUBBITS 5
#define NBUCKET (64 * SUB)

typedef struct bench_opts {
    const char *file, *id;
    int64_t threads, seconds, hold_us;
    int64_t reload_every_ms; /* 0: only on SIGHUP */
} bench_opts;

typedef struct bench {
    bench_opts o;
    nr_manager *m;
    nr_scope scope;
    bool use_scope;
    atomic_bool stop;
    atomic_bool go;        /* threads start together */
    nr_cancel *stop_token; /* set at the end: wakes the acquires still waiting */
    /* the reloads (main thread only) */
    cli_reload_tally tally;
    uint64_t ok_at_reload, failed_at_reload; /* the counts when the last one ended */
    int64_t last_reload_ns;                  /* since the start */
} bench;

/* The latencies of one kind of acquire (succeeded or failed). */
typedef struct lat {
    uint64_t n;
    int64_t max_ns;
    uint64_t hist[NBUCKET];
} lat;

typedef struct bthread {
    bench *b;
    pthread_t th;
    uint64_t errors[32]; /* errors by -code */
    nr_error first;
    lat ok, failed;
    /* ok.n and failed.n again, for the main thread to read while this one
     * runs: written by this thread only, relaxed (a count, nothing else is
     * published through them) */
    atomic_uint_fast64_t nok, nfailed;
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

static void lat_add(lat *l, int64_t ns)
{
    l->n++;
    l->hist[bucket_of((uint64_t)(ns > 0 ? ns : 0))]++;
    if (ns > l->max_ns)
        l->max_ns = ns;
}

static void *bench_main(void *arg)
{
    bthread *t = arg;
    bench *b = t->b;
    /* deadline unset: the pool's acquire_timeout_ms */
    nr_ctx ctx = NR_CTX(.scope = b->use_scope ? &b->scope : NULL, .cancel = b->stop_token,
                        .caller = "bench");
    while (!atomic_load(&b->go))
        nr_sleep_ns(100 * NR_NS_PER_US);
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        int64_t t0 = nr_now_ns();
        int rc = nr_manager_acquire(b->m, b->o.id, &ctx, &g, &err);
        int64_t dt = nr_now_ns() - t0;
        if (rc == NR_ECANCELED && atomic_load(&b->stop))
            break; /* woken by the end of the bench, not a failure */
        if (rc != NR_OK) {
            int k = -rc < 32 ? -rc : 31;
            if (!t->first.code)
                t->first = err;
            t->errors[k]++;
            lat_add(&t->failed, dt);
            atomic_fetch_add_explicit(&t->nfailed, 1, memory_order_relaxed);
            nr_sleep_ns(NR_NS_PER_MS); /* do not spin on a failing resource */
            continue;
        }
        lat_add(&t->ok, dt);
        atomic_fetch_add_explicit(&t->nok, 1, memory_order_relaxed);
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
        else if (!strcmp(a, "--reload-every"))
            ok = nr_cli_parse_int("--reload-every", v, 1, 3600000, &o->reload_every_ms);
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
                "[--seconds S] [--hold-us H] [--reload-every MS]\n",
                o->file ? "--resource ID" : "CONFIG");
        return -1;
    }
    return 0;
}

/* The top of the bucket holding rank q, but never above the exact maximum. */
static int64_t percentile(const lat *l, double q)
{
    uint64_t rank = (uint64_t)(q * (double)l->n + 0.5), seen = 0;
    if (rank < 1)
        rank = 1;
    for (int i = 0; i < NBUCKET; i++) {
        seen += l->hist[i];
        if (seen >= rank) {
            uint64_t top = bucket_top(i);
            return top < (uint64_t)l->max_ns ? (int64_t)top : l->max_ns;
        }
    }
    return 0;
}

static void lat_merge(lat *into, const lat *l)
{
    into->n += l->n;
    for (int k = 0; k < NBUCKET; k++)
        into->hist[k] += l->hist[k];
    if (l->max_ns > into->max_ns)
        into->max_ns = l->max_ns;
}

/* "  <label>p50 ..., p99 ..., p99.9 ..., max ..." ("-" each when none). */
static void lat_print(const char *label, const lat *l)
{
    char p50[32] = "-", p99[32] = "-", p999[32] = "-", mx[32] = "-";
    if (l->n) {
        cli_fmt_ns(p50, sizeof(p50), percentile(l, 0.50));
        cli_fmt_ns(p99, sizeof(p99), percentile(l, 0.99));
        cli_fmt_ns(p999, sizeof(p999), percentile(l, 0.999));
        cli_fmt_ns(mx, sizeof(mx), l->max_ns);
    }
    printf("  %-15sp50 %s, p99 %s, p99.9 %s, max %s\n", label, p50, p99, p999, mx);
}

static int report(bench *b, bthread *ts, double secs)
{
    lat *ok = calloc(1, sizeof(lat)), *failed = calloc(1, sizeof(lat));
    if (!ok || !failed) {
        free(ok);
        free(failed);
        return 1;
    }
    uint64_t errors[32] = {0};
    const nr_error *first = NULL;
    for (int i = 0; i < b->o.threads; i++) {
        lat_merge(ok, &ts[i].ok);
        lat_merge(failed, &ts[i].failed);
        for (int k = 0; k < 32; k++)
            errors[k] += ts[i].errors[k];
        if (!first && ts[i].first.code)
            first = &ts[i].first;
    }
    uint64_t nerr = failed->n;
    printf("\nresults for %s (%lld threads, %.2f s, hold %lld us):\n", b->o.id,
           (long long)b->o.threads, secs, (long long)b->o.hold_us);
    printf("  acquires       %llu (%.0f/s)\n", (unsigned long long)ok->n,
           secs > 0 ? (double)ok->n / secs : 0.0);
    lat_print("latency", ok);
    printf("  errors         %llu", (unsigned long long)nerr);
    for (int k = 0; k < 32; k++)
        if (errors[k])
            printf("%s %s %llu", k == 0 ? "" : ",", nr_err_name(-k), (unsigned long long)errors[k]);
    printf("\n");
    if (nerr)
        lat_print("error latency", failed);
    if (first)
        printf("  first error    %s\n", first->message);
    char tally[400];
    cli_reload_tally_format(&b->tally, tally, sizeof(tally));
    printf("  reloads        %s\n", tally);
    if (b->tally.reloads)
        printf("  after reloads  %llu acquires, %llu failed since the last reload (at %.2f s)\n",
               (unsigned long long)(ok->n - b->ok_at_reload),
               (unsigned long long)(nerr - b->failed_at_reload), (double)b->last_reload_ns / 1e9);
    nr_resource_info ri = NR_RESOURCE_INFO_INIT;
    if (nr_manager_resource_info(b->m, b->o.id, &ri, NULL) == NR_OK)
        printf("  pool           max %u, created %llu, waits %llu, handoffs %llu, timeouts "
               "%llu\n",
               ri.stats.max_size, (unsigned long long)ri.stats.creates,
               (unsigned long long)ri.stats.waits, (unsigned long long)ri.stats.handoffs,
               (unsigned long long)ri.stats.timeouts);
    free(ok);
    free(failed);
    return nerr ? 1 : 0;
}

/* The acquires that succeeded and failed so far, while the threads run. */
static void counts_so_far(const bthread *ts, int n, uint64_t *ok, uint64_t *failed)
{
    *ok = *failed = 0;
    for (int i = 0; i < n; i++) {
        *ok += atomic_load_explicit(&ts[i].nok, memory_order_relaxed);
        *failed += atomic_load_explicit(&ts[i].nfailed, memory_order_relaxed);
    }
}

/* One reload of the file, printed as `run` prints it, then a line with the
 * acquires so far. */
static void reload_once(bench *b, cli_app *app, const bthread *ts, int n, const char *why,
                        int64_t t0)
{
    cli_reload_summary *sum = malloc(sizeof(*sum));
    if (!sum) {
        printf("reload: %s: out of memory; nothing changed\n", why);
        return;
    }
    nr_error err = {0};
    cli_app_reload_print(app, b->o.file, why, stdout, sum, &err);
    cli_reload_tally_add(&b->tally, sum);
    free(sum);
    b->last_reload_ns = nr_now_ns() - t0;
    counts_so_far(ts, n, &b->ok_at_reload, &b->failed_at_reload);
    printf("bench: reload %zu at %.2f s: %llu acquires, %llu failed so far\n", b->tally.reloads,
           (double)b->last_reload_ns / 1e9, (unsigned long long)b->ok_at_reload,
           (unsigned long long)b->failed_at_reload);
    fflush(stdout);
}

/* Until the time is up or a stop signal: reload on SIGHUP and every
 * --reload-every ms. Returns true when stopped early. */
static bool run_and_reload(bench *b, cli_app *app, cli_signals *sig, const bthread *ts, int n,
                           int64_t t0)
{
    int64_t end = t0 + b->o.seconds * NR_NS_PER_S;
    int64_t every = b->o.reload_every_ms * NR_NS_PER_MS;
    int64_t next = every ? t0 + every : end;
    char why[64];
    snprintf(why, sizeof(why), "every %lld ms", (long long)b->o.reload_every_ms);
    int seen = 0;
    for (;;) {
        int64_t now = nr_now_ns();
        if (now >= end)
            return false;
        int64_t until = next < end ? next : end;
        int64_t wait_ms = (until - now + NR_NS_PER_MS - 1) / NR_NS_PER_MS;
        int w = cli_signals_wait_stop_or_reload(sig, &seen, wait_ms);
        if (w == 1)
            return true;
        if (w == 0) {
            reload_once(b, app, ts, n, "SIGHUP", t0);
        } else if (every && nr_now_ns() >= next && next < end) {
            reload_once(b, app, ts, n, why, t0);
            next = nr_now_ns() + every; /* from the end of this one: never back to back */
        }
    }
}

int nr_cli_bench(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof(b));
    int prc = parse(argc, argv, &b.o);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    nr_config_file *cf = cli_config_load(b.o.file, true, stderr, "");
    if (!cf)
        return 1;
    nr_resource_spec spec = NR_RESOURCE_SPEC_INIT;
    const nr_resource_spec *r = NULL;
    for (size_t i = 0; i < nr_config_file_resource_count(cf) && !r; i++)
        if (nr_config_file_resource(cf, i, &spec, NULL) == NR_OK && !strcmp(spec.id, b.o.id))
            r = &spec;
    if (!r) {
        fprintf(stderr, "nebula-resource bench: %s has no resource '%s'\n", b.o.file, b.o.id);
        nr_config_file_free(cf);
        return 2;
    }
    b.scope = *r->scope;
    b.use_scope = r->scope->level > NR_SCOPE_GLOBAL;
    if (r->partition == NR_PARTITION_TENANT && r->scope->level == NR_SCOPE_GLOBAL) {
        nr_scope_make(&b.scope, "bench", NULL, NULL, NULL, NULL);
        b.use_scope = true;
    }
    cli_signals_block();
    cli_signals sig;
    cli_signals_start(&sig, "nebula-resource");
    cli_app app;
    nr_error err = {0};
    int status = 1;
    if (cli_app_create(&app, cf, false, &err) != NR_OK ||
        cli_app_start(&app, stdout, NULL, NULL, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource bench: %s\n", err.message);
        goto out;
    }
    b.m = app.m;
    atomic_init(&b.stop, false);
    if (nr_cancel_create(&b.stop_token, NULL, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource bench: %s\n", err.message);
        goto out;
    }
    bthread *ts = calloc((size_t)b.o.threads, sizeof(*ts));
    if (!ts) {
        fprintf(stderr, "nebula-resource bench: out of memory\n");
        goto out;
    }
    atomic_init(&b.go, false);
    printf("bench %s: %lld threads for %lld s, holding each lease %lld us, acquire timeout "
           "%lld ms (pool.acquire_timeout_ms%s)\n",
           b.o.id, (long long)b.o.threads, (long long)b.o.seconds, (long long)b.o.hold_us,
           (long long)r->pool->acquire_timeout_ms,
           r->pool->acquire_timeout_ms == 0 ? ": never wait" : "");
    if (b.o.reload_every_ms)
        printf("reloading %s on SIGHUP and every %lld ms\n", b.o.file,
               (long long)b.o.reload_every_ms);
    else
        printf("SIGHUP to reload %s\n", b.o.file);
    fflush(stdout);
    int started = 0;
    for (int i = 0; i < b.o.threads; i++) {
        ts[i].b = &b;
        atomic_init(&ts[i].nok, 0);
        atomic_init(&ts[i].nfailed, 0);
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
    if (run_and_reload(&b, &app, &sig, ts, started, t0))
        printf("stopped early by %s\n", cli_signals_last_name(&sig));
    atomic_store(&b.stop, true);
    nr_cancel_trigger(b.stop_token);
    for (int i = 0; i < started; i++)
        pthread_join(ts[i].th, NULL);
    double secs = (double)(nr_now_ns() - t0) / 1e9;
    status = report(&b, ts, secs);
    free(ts);
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    if (nr_manager_shutdown(app.m, NULL, &rep, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource bench: shutdown: %s\n", err.message);
        status = 1;
    }
out:
    nr_cancel_destroy(b.stop_token);
    cli_app_destroy(&app);
    cli_signals_stop(&sig);
    nr_config_file_free(cf);
    return status;
}

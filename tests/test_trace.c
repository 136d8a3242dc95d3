/*
 * test_trace.c - the trace sink, the JSON-lines sink, the span helpers and
 * the probes' self-test hook.
 *
 * Atomics in this file use the default sequentially consistent ordering:
 * counters are read by the test thread while emitters write them, and
 * seq_cst keeps the reasoning simple. No assertion bounds how long anything
 * takes; the only time check is a lower bound on a span's duration.
 *
 * In a build with NR_WITH_TRACING=OFF only test_not_built runs: it checks
 * that nothing can be installed and nothing is ever emitted.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nebula/alloc.h"
#include "nebula/pool.h"
#include "nebula/scope.h"
#include "nebula/time.h"
#include "nebula/trace.h"
#include "observe/probes.h"
#include "observe/span.h"
#include "testutil.h"

/* ---- a capturing sink ---------------------------------------------------------- */

#define CAP_MAX 64

typedef struct captured {
    nr_trace_record r; /* strings and stats point into the fields below, or are NULL */
    char op[64];
    char message[1024];
    char resource[128];
    char scope[NR_SCOPE_TEXT_MAX];
    nr_pool_stats stats;
} captured;

typedef struct capture {
    pthread_mutex_t mu;
    captured recs[CAP_MAX];
    int n;     /* kept records */
    int total; /* every call */
} capture;

static const char *keep(char *dst, size_t cap, const char *src)
{
    if (!src)
        return NULL;
    snprintf(dst, cap, "%s", src);
    return dst;
}

static void capture_emit(void *ud, const nr_trace_record *r)
{
    capture *c = ud;
    pthread_mutex_lock(&c->mu);
    c->total++;
    if (c->n < CAP_MAX) {
        captured *k = &c->recs[c->n++];
        k->r = *r;
        k->r.op = keep(k->op, sizeof k->op, r->op);
        k->r.message = keep(k->message, sizeof k->message, r->message);
        k->r.resource_id = keep(k->resource, sizeof k->resource, r->resource_id);
        k->r.scope = keep(k->scope, sizeof k->scope, r->scope);
        if (r->stats) {
            k->stats = *r->stats;
            k->r.stats = &k->stats;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

static capture *capture_new(void)
{
    capture *c = calloc(1, sizeof *c);
    assert_non_null(c);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void capture_free(capture *c)
{
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void install_capture(capture *c, nr_trace_level min)
{
    nr_trace_sink s = {capture_emit, c};
    assert_int_equal(nr_trace_set_sink(&s, min), NR_OK);
}

static int64_t wall_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NR_NS_PER_S + ts.tv_nsec;
}

/* Every test ends with no sink installed and tracing off again. */
static int teardown(void **state)
{
    (void)state;
    nr_test_alloc_reset();
    if (nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE) != NR_OK)
        return -1;
    for (int l = NR_TRACE_LEVEL_TRACE; l <= NR_TRACE_LEVEL_ERROR; l++)
        if (nr__trace_enabled((nr_trace_level)l))
            return -1;
    return 0;
}

/* ---- sink, levels, records ---------------------------------------------------- */

static void test_level_names(void **state)
{
    (void)state;
    assert_string_equal(nr_trace_level_name(NR_TRACE_LEVEL_TRACE), "trace");
    assert_string_equal(nr_trace_level_name(NR_TRACE_LEVEL_DEBUG), "debug");
    assert_string_equal(nr_trace_level_name(NR_TRACE_LEVEL_INFO), "info");
    assert_string_equal(nr_trace_level_name(NR_TRACE_LEVEL_WARN), "warn");
    assert_string_equal(nr_trace_level_name(NR_TRACE_LEVEL_ERROR), "error");
    assert_string_equal(nr_trace_level_name((nr_trace_level)5), "invalid");
    assert_string_equal(nr_trace_level_name((nr_trace_level)-1), "invalid");
}

static void test_set_sink_rejects_bad_arguments(void **state)
{
    (void)state;
    capture *c = capture_new();
    install_capture(c, NR_TRACE_LEVEL_INFO);

    nr_trace_sink no_emit = {NULL, c};
    nr_trace_sink ok = {capture_emit, c};
    assert_int_equal(nr_trace_set_sink(&no_emit, NR_TRACE_LEVEL_INFO), NR_EINVAL);
    assert_int_equal(nr_trace_set_sink(&ok, (nr_trace_level)5), NR_EINVAL);
    assert_int_equal(nr_trace_set_sink(&ok, (nr_trace_level)-1), NR_EINVAL);

    /* A refused call changes nothing: the old sink and level stay. */
    assert_true(nr__trace_enabled(NR_TRACE_LEVEL_INFO));
    assert_false(nr__trace_enabled(NR_TRACE_LEVEL_DEBUG));
    nr__trace_log(NR_TRACE_LEVEL_INFO, "op", NULL, 0, "still here");
    assert_int_equal(c->total, 1);

    /* An invalid level in a record is ignored. */
    nr_trace_record bad = {.level = (nr_trace_level)9, .duration_ns = -1};
    nr_trace_emit(&bad);
    nr_trace_emit(NULL);
    assert_int_equal(c->total, 1);

    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    capture_free(c);
}

static void test_record_reaches_sink_with_every_field(void **state)
{
    (void)state;
    capture *c = capture_new();
    install_capture(c, NR_TRACE_LEVEL_TRACE);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    st.total = 3;
    st.idle = 1;
    st.in_use = 2;
    st.acquires = 77;
    char msg[] = "pool \"db\" waited";
    nr_trace_record r = {
        .level = NR_TRACE_LEVEL_WARN,
        .op = "acquire",
        .message = msg,
        .resource_id = "db-main",
        .scope = "tenant:acme/workflow:billing",
        .ts_ns = 0,
        .duration_ns = 1234,
        .trace_id_hi = 0x0123456789abcdefULL,
        .trace_id_lo = 0xfedcba9876543210ULL,
        .span_id = 0x1111222233334444ULL,
        .parent_span_id = 0x5555666677778888ULL,
        .stats = &st,
        .code = NR_ETIMEDOUT,
    };
    int64_t before = wall_now_ns();
    nr_trace_emit(&r);
    int64_t after = wall_now_ns();

    assert_int_equal(c->total, 1);
    const nr_trace_record *g = &c->recs[0].r;
    assert_int_equal(g->level, NR_TRACE_LEVEL_WARN);
    assert_string_equal(g->op, "acquire");
    assert_string_equal(g->message, "pool \"db\" waited");
    assert_string_equal(g->resource_id, "db-main");
    assert_string_equal(g->scope, "tenant:acme/workflow:billing");
    assert_true(g->ts_ns >= before && g->ts_ns <= after);
    assert_int_equal(g->duration_ns, 1234);
    assert_true(g->trace_id_hi == 0x0123456789abcdefULL);
    assert_true(g->trace_id_lo == 0xfedcba9876543210ULL);
    assert_true(g->span_id == 0x1111222233334444ULL);
    assert_true(g->parent_span_id == 0x5555666677778888ULL);
    assert_non_null(g->stats);
    assert_int_equal(g->stats->total, 3);
    assert_int_equal(g->stats->idle, 1);
    assert_int_equal(g->stats->in_use, 2);
    assert_int_equal(g->stats->acquires, 77);
    assert_int_equal(g->code, NR_ETIMEDOUT);
    /* The caller's record is left as it was. */
    assert_int_equal(r.ts_ns, 0);

    /* A timestamp given is kept; NULL strings and stats stay NULL. */
    nr_trace_record r2 = {.level = NR_TRACE_LEVEL_TRACE, .ts_ns = 42, .duration_ns = -1};
    nr_trace_emit(&r2);
    assert_int_equal(c->total, 2);
    g = &c->recs[1].r;
    assert_int_equal(g->ts_ns, 42);
    assert_null(g->op);
    assert_null(g->message);
    assert_null(g->resource_id);
    assert_null(g->scope);
    assert_null(g->stats);
    assert_int_equal(g->duration_ns, -1);
    assert_int_equal(g->code, 0);

    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    capture_free(c);
}

static void test_min_level_filters(void **state)
{
    (void)state;
    capture *c = capture_new();
    install_capture(c, NR_TRACE_LEVEL_WARN);

    for (int l = NR_TRACE_LEVEL_TRACE; l <= NR_TRACE_LEVEL_ERROR; l++) {
        assert_int_equal(nr__trace_enabled((nr_trace_level)l), l >= NR_TRACE_LEVEL_WARN);
        nr_trace_record r = {.level = (nr_trace_level)l, .op = "x", .duration_ns = -1};
        nr_trace_emit(&r);
    }
    assert_int_equal(c->total, 2);
    assert_int_equal(c->recs[0].r.level, NR_TRACE_LEVEL_WARN);
    assert_int_equal(c->recs[1].r.level, NR_TRACE_LEVEL_ERROR);

    /* Lowering the level on the same sink lets everything through. */
    install_capture(c, NR_TRACE_LEVEL_TRACE);
    for (int l = NR_TRACE_LEVEL_TRACE; l <= NR_TRACE_LEVEL_ERROR; l++) {
        assert_true(nr__trace_enabled((nr_trace_level)l));
        nr__trace_log((nr_trace_level)l, "x", NULL, 0, NULL);
    }
    assert_int_equal(c->total, 7);

    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    capture_free(c);
}

static void test_no_sink_never_calls(void **state)
{
    (void)state;
    capture *c = capture_new();
    install_capture(c, NR_TRACE_LEVEL_TRACE);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_error err;
    nr_error_set(&err, NR_EUNAVAIL, "db", "down");
    for (int l = NR_TRACE_LEVEL_TRACE; l <= NR_TRACE_LEVEL_ERROR; l++) {
        nr_trace_level lv = (nr_trace_level)l;
        assert_false(nr__trace_enabled(lv));
        nr_trace_record r = {.level = lv, .op = "x", .duration_ns = -1};
        nr_trace_emit(&r);
        nr__trace_log(lv, "x", "db", 0, "m");
        nr__trace_err(lv, "x", &err);
        nr__span sp;
        assert_true(nr__span_begin(&sp, lv, "acquire", "db", NULL, NULL) == 0);
        assert_false(nr__span_active(&sp));
        nr__span_end(&sp, NR_OK, &st);
        nr__span_end_err(&sp, NR_EUNAVAIL, &err, &st);
    }
    assert_int_equal(c->total, 0);
    capture_free(c);
}

/* ---- recursion from inside a sink ------------------------------------------------ */

typedef struct reentrant {
    atomic_int calls;
    atomic_int set_rc;
} reentrant;

static void reentrant_emit(void *ud, const nr_trace_record *r)
{
    reentrant *re = ud;
    atomic_fetch_add(&re->calls, 1);
    /* Both would otherwise recurse or deadlock. */
    nr_trace_emit(r);
    nr__trace_log(NR_TRACE_LEVEL_ERROR, "inner", NULL, 0, NULL);
    atomic_store(&re->set_rc, nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE));
}

static void test_sink_cannot_recurse_or_replace_itself(void **state)
{
    (void)state;
    reentrant re = {0};
    nr_trace_sink s = {reentrant_emit, &re};
    assert_int_equal(nr_trace_set_sink(&s, NR_TRACE_LEVEL_TRACE), NR_OK);
    nr__trace_log(NR_TRACE_LEVEL_INFO, "outer", NULL, 0, NULL);
    assert_int_equal(atomic_load(&re.calls), 1);
    assert_int_equal(atomic_load(&re.set_rc), NR_EBUSY);
    /* Still installed. */
    nr__trace_log(NR_TRACE_LEVEL_INFO, "outer", NULL, 0, NULL);
    assert_int_equal(atomic_load(&re.calls), 2);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
}

/* ---- replacing the sink while threads emit ------------------------------------- */

#define REPLACE_THREADS 4
#define SINK_LIVE       0x4C495645u /* "LIVE" */
#define SINK_DEAD       0x44454144u /* "DEAD" */

typedef struct counting_sink {
    unsigned magic; /* written by the test thread only after the sink is replaced */
    atomic_long count;
} counting_sink;

static atomic_long dead_calls;

static void counting_emit(void *ud, const nr_trace_record *r)
{
    counting_sink *cs = ud;
    (void)r;
    if (cs->magic != SINK_LIVE)
        atomic_fetch_add(&dead_calls, 1);
    atomic_fetch_add(&cs->count, 1);
}

typedef struct emitter {
    pthread_barrier_t *start;
    long records;
    atomic_int *running;
} emitter;

static void *emitter_main(void *arg)
{
    emitter *e = arg;
    pthread_barrier_wait(e->start);
    for (long i = 0; i < e->records; i++) {
        nr_trace_record r = {.level = NR_TRACE_LEVEL_INFO, .op = "emit", .duration_ns = -1};
        nr_trace_emit(&r);
    }
    atomic_fetch_sub(e->running, 1);
    return NULL;
}

static counting_sink *counting_new(void)
{
    counting_sink *cs = malloc(sizeof *cs);
    assert_non_null(cs);
    cs->magic = SINK_LIVE;
    atomic_init(&cs->count, 0);
    return cs;
}

/* The old sink is poisoned and freed as soon as the replacing call returns:
 * a call into it afterwards shows up as dead_calls, as a use after free
 * under ASan, or as a race under TSan. Every record reaches exactly one of
 * the sinks, since one is installed at every moment. */
static void test_replace_sink_while_emitting(void **state)
{
    (void)state;
    const long per_thread = nr_test_iterations(20000);
    atomic_store(&dead_calls, 0);
    atomic_int running = REPLACE_THREADS;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, REPLACE_THREADS + 1);

    counting_sink *cur = counting_new();
    nr_trace_sink s = {counting_emit, cur};
    assert_int_equal(nr_trace_set_sink(&s, NR_TRACE_LEVEL_INFO), NR_OK);

    pthread_t th[REPLACE_THREADS];
    emitter em = {&start, per_thread, &running};
    for (int i = 0; i < REPLACE_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, emitter_main, &em), 0);
    pthread_barrier_wait(&start);

    long delivered = 0, replacements = 0;
    while (atomic_load(&running) > 0 || replacements < 50) {
        counting_sink *next = counting_new();
        nr_trace_sink ns = {counting_emit, next};
        /* Alternate between two levels that both let INFO through. */
        nr_trace_level lv = (replacements & 1) ? NR_TRACE_LEVEL_DEBUG : NR_TRACE_LEVEL_INFO;
        assert_int_equal(nr_trace_set_sink(&ns, lv), NR_OK);
        delivered += atomic_load(&cur->count);
        cur->magic = SINK_DEAD;
        free(cur);
        cur = next;
        replacements++;
    }
    for (int i = 0; i < REPLACE_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    delivered += atomic_load(&cur->count);
    free(cur);
    pthread_barrier_destroy(&start);

    assert_int_equal(atomic_load(&dead_calls), 0);
    assert_int_equal(delivered, per_thread * REPLACE_THREADS);
    assert_true(replacements >= 50);
}

/* ---- spans ------------------------------------------------------------------------ */

static void test_span_records_ids_duration_and_stats(void **state)
{
    (void)state;
    capture *c = capture_new();
    install_capture(c, NR_TRACE_LEVEL_TRACE);

    nr_scope sc;
    assert_int_equal(nr_scope_make(&sc, "acme", "billing", NULL, NULL, NULL), NR_OK);
    nr_ctx ctx = NR_CTX_INIT;
    ctx.trace_id_hi = 0xAAAAULL;
    ctx.trace_id_lo = 0xBBBBULL;
    ctx.span_id = 0xCCCCULL;

    nr__span sp;
    uint64_t id = nr__span_begin(&sp, NR_TRACE_LEVEL_DEBUG, "acquire", "db", &sc, &ctx);
    assert_true(id != 0);
    assert_true(sp.span_id == id);
    assert_true(nr__span_active(&sp));
    assert_true(sp.trace_id_hi == 0xAAAAULL && sp.trace_id_lo == 0xBBBBULL);
    assert_true(sp.parent_span_id == 0xCCCCULL);
    nr_sleep_ns(2 * NR_NS_PER_MS);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    st.total = 5;
    st.waiters = 2;
    nr__span_end(&sp, NR_ETIMEDOUT, &st);
    assert_false(nr__span_active(&sp));
    nr__span_end(&sp, NR_OK, NULL); /* ended already: nothing */

    assert_int_equal(c->total, 1);
    const nr_trace_record *g = &c->recs[0].r;
    assert_int_equal(g->level, NR_TRACE_LEVEL_DEBUG);
    assert_string_equal(g->op, "acquire");
    assert_string_equal(g->resource_id, "db");
    assert_string_equal(g->scope, "tenant:acme/workflow:billing");
    assert_null(g->message);
    assert_true(g->duration_ns >= 2 * NR_NS_PER_MS); /* a lower bound only */
    assert_true(g->trace_id_hi == 0xAAAAULL && g->trace_id_lo == 0xBBBBULL);
    assert_true(g->span_id == id);
    assert_true(g->parent_span_id == 0xCCCCULL);
    assert_non_null(g->stats);
    assert_int_equal(g->stats->total, 5);
    assert_int_equal(g->stats->waiters, 2);
    assert_int_equal(g->code, NR_ETIMEDOUT);
    assert_true(g->ts_ns > 0);

    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    capture_free(c);
}

static void test_span_root_child_and_error_message(void **state)
{
    (void)state;
    capture *c = capture_new();
    install_capture(c, NR_TRACE_LEVEL_TRACE);

    /* No context: a new trace, no parent. */
    nr__span root;
    uint64_t rid = nr__span_begin(&root, NR_TRACE_LEVEL_TRACE, "start", "mgr", NULL, NULL);
    assert_true(rid != 0);
    assert_true(root.trace_id_hi != 0 || root.trace_id_lo != 0);
    assert_true(root.parent_span_id == 0);

    /* A child through the context helper keeps the trace and names the parent. */
    nr_ctx child_ctx = NR_CTX_INIT;
    child_ctx.caller = "kept";
    nr__span_child_ctx(&root, &child_ctx);
    assert_string_equal(child_ctx.caller, "kept");
    nr__span child;
    uint64_t cid = nr__span_begin(&child, NR_TRACE_LEVEL_TRACE, "create", "db", NULL, &child_ctx);
    assert_true(cid != 0 && cid != rid);

    nr_error err;
    nr_error_set(&err, NR_EINIT, "db", "create failed: disk full");
    nr__span_end_err(&child, NR_EINIT, &err, NULL);
    nr__span_end_err(&root, NR_OK, &err, NULL); /* success: no message */

    assert_int_equal(c->total, 2);
    const nr_trace_record *gc = &c->recs[0].r, *gr = &c->recs[1].r;
    assert_true(gc->trace_id_hi == gr->trace_id_hi && gc->trace_id_lo == gr->trace_id_lo);
    assert_true(gc->parent_span_id == rid);
    assert_true(gc->span_id == cid);
    assert_string_equal(gc->message, "create failed: disk full");
    assert_int_equal(gc->code, NR_EINIT);
    assert_null(gc->stats);
    assert_null(gc->scope);
    assert_true(gc->duration_ns >= 0);
    assert_true(gr->span_id == rid);
    assert_true(gr->parent_span_id == 0);
    assert_null(gr->message);
    assert_int_equal(gr->code, NR_OK);
    assert_true(gr->duration_ns >= gc->duration_ns);

    /* A context with a trace id and no span: same trace, root of it. */
    nr_ctx only_trace = NR_CTX_INIT;
    only_trace.trace_id_lo = 7;
    nr__span t;
    assert_true(nr__span_begin(&t, NR_TRACE_LEVEL_TRACE, "x", NULL, NULL, &only_trace) != 0);
    assert_true(t.trace_id_hi == 0 && t.trace_id_lo == 7 && t.parent_span_id == 0);
    nr__span_end(&t, NR_OK, NULL);
    assert_int_equal(c->total, 3);

    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    capture_free(c);
}

static void test_span_follows_sink_changes(void **state)
{
    (void)state;
    capture *c = capture_new();

    /* Below the sink's level: inactive, nothing at end. */
    install_capture(c, NR_TRACE_LEVEL_INFO);
    nr__span a;
    assert_true(nr__span_begin(&a, NR_TRACE_LEVEL_DEBUG, "x", NULL, NULL, NULL) == 0);
    assert_false(nr__span_active(&a));
    nr__span_end(&a, NR_OK, NULL);

    /* Begun without a sink, ended with one: nothing (no start time). */
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    nr__span b;
    assert_true(nr__span_begin(&b, NR_TRACE_LEVEL_ERROR, "x", NULL, NULL, NULL) == 0);
    install_capture(c, NR_TRACE_LEVEL_TRACE);
    nr__span_end(&b, NR_OK, NULL);

    /* Begun with a sink, ended after it went: nothing, and no crash. */
    nr__span d;
    assert_true(nr__span_begin(&d, NR_TRACE_LEVEL_INFO, "x", NULL, NULL, NULL) != 0);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    nr__span_end(&d, NR_OK, NULL);
    assert_false(nr__span_active(&d));

    assert_int_equal(c->total, 0);
    capture_free(c);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

#define ID_THREADS 4
#define ID_PER     20000

static void *ids_main(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < ID_PER; i++)
        out[i] = nr__trace_random_id();
    return NULL;
}

static void test_random_ids_nonzero_and_distinct(void **state)
{
    (void)state;
    uint64_t *ids = malloc(sizeof *ids * ID_THREADS * ID_PER);
    assert_non_null(ids);
    pthread_t th[ID_THREADS];
    for (int i = 0; i < ID_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, ids_main, ids + i * ID_PER), 0);
    for (int i = 0; i < ID_THREADS; i++)
        pthread_join(th[i], NULL);
    qsort(ids, ID_THREADS * ID_PER, sizeof *ids, cmp_u64);
    assert_true(ids[0] != 0);
    for (int i = 1; i < ID_THREADS * ID_PER; i++)
        if (ids[i] == ids[i - 1])
            fail_msg("id %llx drawn twice", (unsigned long long)ids[i]);
    free(ids);
}

static void test_log_helpers(void **state)
{
    (void)state;
    capture *c = capture_new();
    install_capture(c, NR_TRACE_LEVEL_TRACE);

    nr__trace_log(NR_TRACE_LEVEL_INFO, "register", "db", NR_OK, "registered");
    nr_error err;
    nr_error_set(&err, NR_EHEALTH, "cache", "health check failed: ping timed out");
    nr__trace_err(NR_TRACE_LEVEL_WARN, "health", &err);
    nr_error none;
    nr_error_clear(&none);
    nr__trace_err(NR_TRACE_LEVEL_WARN, "health", &none); /* no resource id: NULL */
    nr__trace_err(NR_TRACE_LEVEL_WARN, "health", NULL);  /* nothing */

    assert_int_equal(c->total, 3);
    const nr_trace_record *a = &c->recs[0].r, *b = &c->recs[1].r, *n = &c->recs[2].r;
    assert_int_equal(a->level, NR_TRACE_LEVEL_INFO);
    assert_string_equal(a->op, "register");
    assert_string_equal(a->resource_id, "db");
    assert_string_equal(a->message, "registered");
    assert_int_equal(a->code, NR_OK);
    assert_int_equal(a->duration_ns, -1);
    assert_true(a->span_id == 0 && a->parent_span_id == 0);
    assert_true(a->trace_id_hi == 0 && a->trace_id_lo == 0);
    assert_null(a->scope);
    assert_null(a->stats);
    assert_int_equal(b->level, NR_TRACE_LEVEL_WARN);
    assert_string_equal(b->op, "health");
    assert_string_equal(b->resource_id, "cache");
    assert_string_equal(b->message, "health check failed: ping timed out");
    assert_int_equal(b->code, NR_EHEALTH);
    assert_null(n->resource_id);
    assert_string_equal(n->message, "");

    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    capture_free(c);
}

/* ---- JSON formatting ------------------------------------------------------------ */

static json_t *parse_line(const char *line)
{
    json_error_t jerr;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        fail_msg("line does not parse (%s at %d): %s", jerr.text, jerr.position, line);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        fail_msg("key %s is not a string", k);
    return json_string_value(v);
}

static long long jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("key %s is not an integer", k);
    return json_integer_value(v);
}

static void assert_jnull(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_null(v))
        fail_msg("key %s is not null", k);
}

/* Everything the stream holds, as one NUL-terminated string. */
static char *slurp(FILE *fp)
{
    fflush(fp);
    long end = ftell(fp);
    assert_true(end >= 0);
    char *s = malloc((size_t)end + 1);
    assert_non_null(s);
    rewind(fp);
    size_t n = fread(s, 1, (size_t)end, fp);
    assert_int_equal(n, (size_t)end);
    s[n] = '\0';
    return s;
}

static void test_format_json_fields(void **state)
{
    (void)state;
    nr_pool_stats st = NR_POOL_STATS_INIT;
    st.total = 4;
    st.idle = 1;
    st.in_use = 3;
    st.creating = 0;
    st.waiters = 2;
    st.max_size = 4;
    st.min_idle = 1;
    st.closed = true;
    st.acquires = 100;
    st.releases = 97;
    st.timeouts = 5;
    st.exhausted = 1;
    st.creates = 6;
    st.create_failures = 2;
    st.destroys = 2;
    st.wait_ns_max = 123456789;
    nr_trace_record r = {
        .level = NR_TRACE_LEVEL_WARN,
        .op = "acquire",
        .message = "timed out after 30000 ms",
        .resource_id = "db-main",
        .scope = "tenant:acme",
        .ts_ns = 1700000000123456789LL,
        .duration_ns = 30000000000LL,
        .trace_id_hi = 0x0123456789abcdefULL,
        .trace_id_lo = 0xfedcba9876543210ULL,
        .span_id = 0x00000000000000ffULL,
        .parent_span_id = 0xffffffffffffffffULL,
        .stats = &st,
        .code = NR_ETIMEDOUT,
    };
    char buf[2048];
    size_t n = nr_trace_format_json(&r, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    assert_null(strchr(buf, '\n'));

    json_t *o = parse_line(buf);
    assert_int_equal(json_object_size(o), 13);
    assert_true(jint(o, "ts_ns") == 1700000000123456789LL);
    assert_string_equal(jstr(o, "level"), "warn");
    assert_string_equal(jstr(o, "op"), "acquire");
    assert_string_equal(jstr(o, "message"), "timed out after 30000 ms");
    assert_string_equal(jstr(o, "resource"), "db-main");
    assert_string_equal(jstr(o, "scope"), "tenant:acme");
    assert_true(jint(o, "duration_ns") == 30000000000LL);
    assert_string_equal(jstr(o, "trace_id"), "0123456789abcdeffedcba9876543210");
    assert_string_equal(jstr(o, "span_id"), "00000000000000ff");
    assert_string_equal(jstr(o, "parent_span_id"), "ffffffffffffffff");
    assert_int_equal(jint(o, "code"), NR_ETIMEDOUT);
    assert_string_equal(jstr(o, "error"), "NR_ETIMEDOUT");
    json_t *p = json_object_get(o, "pool");
    assert_true(json_is_object(p));
    assert_int_equal(json_object_size(p), 16);
    assert_int_equal(jint(p, "total"), 4);
    assert_int_equal(jint(p, "idle"), 1);
    assert_int_equal(jint(p, "in_use"), 3);
    assert_int_equal(jint(p, "creating"), 0);
    assert_int_equal(jint(p, "waiters"), 2);
    assert_int_equal(jint(p, "max_size"), 4);
    assert_int_equal(jint(p, "min_idle"), 1);
    assert_true(json_is_true(json_object_get(p, "closed")));
    assert_int_equal(jint(p, "acquires"), 100);
    assert_int_equal(jint(p, "releases"), 97);
    assert_int_equal(jint(p, "timeouts"), 5);
    assert_int_equal(jint(p, "exhausted"), 1);
    assert_int_equal(jint(p, "creates"), 6);
    assert_int_equal(jint(p, "create_failures"), 2);
    assert_int_equal(jint(p, "destroys"), 2);
    assert_int_equal(jint(p, "wait_ns_max"), 123456789);
    json_decref(o);

    /* The empty record: nulls, no pool object. */
    nr_trace_record e = {.level = NR_TRACE_LEVEL_TRACE, .ts_ns = 1, .duration_ns = -1};
    n = nr_trace_format_json(&e, buf, sizeof buf);
    assert_string_equal(buf, "{\"ts_ns\":1,\"level\":\"trace\",\"op\":null,\"message\":null,"
                             "\"resource\":null,\"scope\":null,\"duration_ns\":null,"
                             "\"trace_id\":null,\"span_id\":null,\"parent_span_id\":null,"
                             "\"code\":0,\"error\":null}");
    assert_int_equal(n, strlen(buf));
    o = parse_line(buf);
    assert_int_equal(json_object_size(o), 12);
    assert_null(json_object_get(o, "pool"));
    json_decref(o);

    /* A zero-length span is 0, not null; a trace id with hi == 0 keeps its zeros. */
    e.duration_ns = 0;
    e.trace_id_lo = 1;
    nr_trace_format_json(&e, buf, sizeof buf);
    o = parse_line(buf);
    assert_int_equal(jint(o, "duration_ns"), 0);
    assert_string_equal(jstr(o, "trace_id"), "00000000000000000000000000000001");
    json_decref(o);
}

static void test_format_json_is_bounded_like_snprintf(void **state)
{
    (void)state;
    nr_trace_record r = {.level = NR_TRACE_LEVEL_INFO,
                         .op = "release",
                         .message = "a \"quoted\"\nmessage",
                         .ts_ns = 99,
                         .duration_ns = 5};
    char full[1024];
    size_t n = nr_trace_format_json(&r, full, sizeof full);
    assert_true(n > 40 && n < sizeof full);

    assert_int_equal(nr_trace_format_json(&r, NULL, 0), n);
    for (size_t len = 1; len <= n + 1; len++) {
        char small[1024];
        memset(small, 'Z', sizeof small);
        assert_int_equal(nr_trace_format_json(&r, small, len), n);
        assert_int_equal(strlen(small), len - 1);
        assert_memory_equal(small, full, len - 1);
        assert_int_equal(small[len], 'Z'); /* nothing written past len */
    }
}

static void test_format_json_escapes(void **state)
{
    (void)state;
    /* quote, backslash, newline, tab, CR, BS, FF, other control characters,
     * DEL, valid 2-, 3- and 4-byte UTF-8, then invalid bytes: a stray
     * 0xFF, a lone continuation byte, an overlong '/', a surrogate, a
     * sequence cut by the end of the string. */
    const char *msg = "q\"b\\s\nt\tr\rb\bf\f c\x01\x1f d\x7f "
                      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
                      "\xff|\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82";
    const char *want = "q\"b\\s\nt\tr\rb\bf\f c\x01\x1f d\x7f "
                       "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
                       "\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd";
    nr_trace_record r = {.level = NR_TRACE_LEVEL_ERROR,
                         .op = "op\"x",
                         .message = msg,
                         .resource_id = "res\\1",
                         .scope = "line1\nline2",
                         .ts_ns = 1,
                         .duration_ns = -1};
    char buf[2048];
    nr_trace_format_json(&r, buf, sizeof buf);
    for (const unsigned char *p = (const unsigned char *)buf; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            fail_msg("raw control byte 0x%02x in output: %s", *p, buf);
    assert_non_null(strstr(buf, "\\u0001"));
    assert_non_null(strstr(buf, "\\u001f"));
    assert_non_null(strstr(buf, "\\u007f"));
    assert_non_null(strstr(buf, "\\n"));

    json_t *o = parse_line(buf);
    assert_string_equal(jstr(o, "message"), want);
    assert_string_equal(jstr(o, "op"), "op\"x");
    assert_string_equal(jstr(o, "resource"), "res\\1");
    assert_string_equal(jstr(o, "scope"), "line1\nline2");
    json_decref(o);
}

/* ---- the JSON-lines sink ---------------------------------------------------------- */

static void test_jsonl_writes_one_line_per_record(void **state)
{
    (void)state;
    FILE *fp = tmpfile();
    assert_non_null(fp);
    nr_trace_jsonl *j = NULL;
    assert_int_equal(nr_trace_jsonl_create(&j, fp, 0, NULL), NR_OK);
    nr_trace_sink s;
    nr_trace_jsonl_sink(j, &s);
    assert_int_equal(nr_trace_set_sink(&s, NR_TRACE_LEVEL_DEBUG), NR_OK);

    nr_scope sc;
    assert_int_equal(nr_scope_make(&sc, "acme", NULL, NULL, NULL, NULL), NR_OK);
    nr_ctx ctx = NR_CTX_INIT;
    ctx.trace_id_hi = 1;
    ctx.trace_id_lo = 2;
    ctx.span_id = 3;
    nr__span sp;
    uint64_t id = nr__span_begin(&sp, NR_TRACE_LEVEL_DEBUG, "acquire", "db", &sc, &ctx);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    st.in_use = 1;
    nr__span_end(&sp, NR_OK, &st);
    nr__trace_log(NR_TRACE_LEVEL_TRACE, "filtered", NULL, 0, NULL);
    nr__trace_log(NR_TRACE_LEVEL_ERROR, "health", "db", NR_EHEALTH, "said \"no\"\n");

    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    nr_trace_jsonl_stats js;
    nr_trace_jsonl_stats_get(j, &js);
    assert_int_equal(js.lines, 2);
    assert_int_equal(js.dropped, 0);
    assert_int_equal(js.write_errors, 0);

    char *text = slurp(fp);
    char *save = NULL;
    char *l1 = strtok_r(text, "\n", &save);
    char *l2 = strtok_r(NULL, "\n", &save);
    assert_non_null(l1);
    assert_non_null(l2);
    assert_null(strtok_r(NULL, "\n", &save));

    json_t *a = parse_line(l1);
    char want_span[17];
    snprintf(want_span, sizeof want_span, "%016llx", (unsigned long long)id);
    assert_string_equal(jstr(a, "level"), "debug");
    assert_string_equal(jstr(a, "op"), "acquire");
    assert_string_equal(jstr(a, "resource"), "db");
    assert_string_equal(jstr(a, "scope"), "tenant:acme");
    assert_true(jint(a, "duration_ns") >= 0);
    assert_true(jint(a, "ts_ns") > 0);
    assert_string_equal(jstr(a, "trace_id"), "00000000000000010000000000000002");
    assert_string_equal(jstr(a, "span_id"), want_span);
    assert_string_equal(jstr(a, "parent_span_id"), "0000000000000003");
    assert_int_equal(jint(a, "code"), 0);
    assert_jnull(a, "error");
    assert_jnull(a, "message");
    assert_int_equal(jint(json_object_get(a, "pool"), "in_use"), 1);
    json_decref(a);

    json_t *b = parse_line(l2);
    assert_string_equal(jstr(b, "level"), "error");
    assert_string_equal(jstr(b, "message"), "said \"no\"\n");
    assert_int_equal(jint(b, "code"), NR_EHEALTH);
    assert_string_equal(jstr(b, "error"), "NR_EHEALTH");
    assert_jnull(b, "duration_ns");
    assert_jnull(b, "span_id");
    assert_null(json_object_get(b, "pool"));
    json_decref(b);

    free(text);
    assert_int_equal(nr_trace_jsonl_destroy(j), NR_OK);
    fclose(fp);
}

#define JL_THREADS 4
#define JL_PAD     5000 /* some lines exceed the sink's stack buffer */

typedef struct jl_worker {
    pthread_barrier_t *start;
    int index;
    int records;
} jl_worker;

static void *jl_main(void *arg)
{
    jl_worker *w = arg;
    char *msg = malloc(64 + JL_PAD);
    assert_non_null(msg);
    pthread_barrier_wait(w->start);
    for (int i = 0; i < w->records; i++) {
        int pad = (i % 7) * (JL_PAD / 6); /* 0 .. JL_PAD */
        int n = snprintf(msg, 64, "t%d s%d p%d ", w->index, i, pad);
        memset(msg + n, 'a' + (i % 26), (size_t)pad);
        msg[n + pad] = '\0';
        nr__trace_log(NR_TRACE_LEVEL_INFO, "emit", "db", 0, msg);
    }
    free(msg);
    return NULL;
}

static void test_jsonl_lines_never_interleave(void **state)
{
    (void)state;
    const int per = nr_test_iterations(500);
    FILE *fp = tmpfile();
    assert_non_null(fp);
    nr_trace_jsonl *j = NULL;
    assert_int_equal(nr_trace_jsonl_create(&j, fp, 0, NULL), NR_OK);
    nr_trace_sink s;
    nr_trace_jsonl_sink(j, &s);
    assert_int_equal(nr_trace_set_sink(&s, NR_TRACE_LEVEL_INFO), NR_OK);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, JL_THREADS);
    pthread_t th[JL_THREADS];
    jl_worker w[JL_THREADS];
    for (int i = 0; i < JL_THREADS; i++) {
        w[i] = (jl_worker){&start, i, per};
        assert_int_equal(pthread_create(&th[i], NULL, jl_main, &w[i]), 0);
    }
    for (int i = 0; i < JL_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);

    nr_trace_jsonl_stats js;
    nr_trace_jsonl_stats_get(j, &js);
    assert_int_equal(js.lines, (uint64_t)(JL_THREADS * per));
    assert_int_equal(js.dropped, 0);

    unsigned char *seen = calloc((size_t)(JL_THREADS * per), 1);
    assert_non_null(seen);
    char *text = slurp(fp);
    int lines = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_t *o = parse_line(l);
        const char *m = jstr(o, "message");
        int t, i, pad, used;
        if (sscanf(m, "t%d s%d p%d %n", &t, &i, &pad, &used) != 3 || t < 0 || t >= JL_THREADS ||
            i < 0 || i >= per)
            fail_msg("unexpected message: %.80s", m);
        assert_int_equal(strlen(m + used), (size_t)pad);
        for (int k = 0; k < pad; k++)
            if (m[used + k] != 'a' + (i % 26))
                fail_msg("line %d of thread %d is mixed with another", i, t);
        if (seen[t * per + i]++)
            fail_msg("line %d of thread %d written twice", i, t);
        json_decref(o);
        lines++;
    }
    assert_int_equal(lines, JL_THREADS * per);
    free(seen);
    free(text);
    assert_int_equal(nr_trace_jsonl_destroy(j), NR_OK);
    fclose(fp);
}

static void test_jsonl_flush_flag(void **state)
{
    (void)state;
    for (int flush = 0; flush <= 1; flush++) {
        char path[] = "/tmp/nr-trace-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        FILE *fp = fdopen(fd, "w");
        assert_non_null(fp);
        static char big[1 << 16];
        setvbuf(fp, big, _IOFBF, sizeof big); /* nothing reaches the file by itself */

        nr_trace_jsonl *j = NULL;
        assert_int_equal(nr_trace_jsonl_create(&j, fp, flush ? NR_TRACE_JSONL_FLUSH : 0, NULL),
                         NR_OK);
        nr_trace_sink s;
        nr_trace_jsonl_sink(j, &s);
        assert_int_equal(nr_trace_set_sink(&s, NR_TRACE_LEVEL_TRACE), NR_OK);
        nr__trace_log(NR_TRACE_LEVEL_INFO, "x", NULL, 0, "flush me");
        assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);

        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        if (flush)
            assert_true(sb.st_size > 0);
        else
            assert_int_equal(sb.st_size, 0);

        assert_int_equal(nr_trace_jsonl_destroy(j), NR_OK);
        fclose(fp);
        unlink(path);
    }
}

static void test_jsonl_write_errors_counted(void **state)
{
    (void)state;
    FILE *fp = fopen("/dev/null", "r"); /* every write fails */
    assert_non_null(fp);
    nr_trace_jsonl *j = NULL;
    assert_int_equal(nr_trace_jsonl_create(&j, fp, 0, NULL), NR_OK);
    nr_trace_sink s;
    nr_trace_jsonl_sink(j, &s);
    assert_int_equal(nr_trace_set_sink(&s, NR_TRACE_LEVEL_TRACE), NR_OK);
    nr__trace_log(NR_TRACE_LEVEL_INFO, "x", NULL, 0, "lost");
    nr__trace_log(NR_TRACE_LEVEL_INFO, "x", NULL, 0, "lost too");
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);

    nr_trace_jsonl_stats js;
    nr_trace_jsonl_stats_get(j, &js);
    assert_int_equal(js.lines, 0);
    assert_int_equal(js.write_errors, 2);
    assert_int_equal(js.dropped, 0);
    assert_int_equal(nr_trace_jsonl_destroy(j), NR_OK);
    fclose(fp);
}

static void test_jsonl_arguments_and_busy_destroy(void **state)
{
    (void)state;
    nr_error err;
    nr_trace_jsonl *j = (nr_trace_jsonl *)&err; /* must be cleared on failure */
    assert_int_equal(nr_trace_jsonl_create(NULL, stderr, 0, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "out");
    assert_int_equal(nr_trace_jsonl_create(&j, NULL, 0, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "fp");
    assert_null(j);
    assert_int_equal(nr_trace_jsonl_create(&j, stderr, 0x6, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "flags 0x6");
    assert_null(j);
    assert_int_equal(nr_trace_jsonl_destroy(NULL), NR_OK);

    FILE *fp = tmpfile();
    assert_non_null(fp);
    assert_int_equal(nr_trace_jsonl_create(&j, fp, NR_TRACE_JSONL_FLUSH, &err), NR_OK);
    nr_trace_sink s;
    nr_trace_jsonl_sink(j, &s);
    assert_int_equal(nr_trace_set_sink(&s, NR_TRACE_LEVEL_TRACE), NR_OK);
    assert_int_equal(nr_trace_jsonl_destroy(j), NR_EBUSY); /* installed: kept */
    nr__trace_log(NR_TRACE_LEVEL_INFO, "x", NULL, 0, "still writing");

    /* Replaced by another sink: no longer busy. */
    capture *c = capture_new();
    install_capture(c, NR_TRACE_LEVEL_TRACE);
    nr_trace_jsonl_stats js;
    nr_trace_jsonl_stats_get(j, &js);
    assert_int_equal(js.lines, 1);
    assert_int_equal(nr_trace_jsonl_destroy(j), NR_OK);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    capture_free(c);
    fclose(fp);
}

static void test_jsonl_out_of_memory(void **state)
{
    (void)state;
    nr_test_alloc_install();

    /* Create at every allocation failure point. */
    nr_trace_jsonl *j = NULL;
    FILE *fp = tmpfile();
    assert_non_null(fp);
    int rc = NR_ENOMEM;
    for (long k = 0; rc == NR_ENOMEM; k++) {
        nr_error err;
        nr_test_alloc_fail_after(k);
        rc = nr_trace_jsonl_create(&j, fp, 0, &err);
        if (rc == NR_ENOMEM) {
            NR_ASSERT_ERR(err, NR_ENOMEM, "out of memory");
            assert_null(j);
        }
        assert_true(k < 10);
    }
    assert_int_equal(rc, NR_OK);
    nr_test_alloc_reset();

    nr_trace_sink s;
    nr_trace_jsonl_sink(j, &s);
    assert_int_equal(nr_trace_set_sink(&s, NR_TRACE_LEVEL_TRACE), NR_OK);

    /* A short line needs no allocation; a long one needs its buffer. */
    char *long_msg = malloc(8192);
    assert_non_null(long_msg);
    memset(long_msg, 'x', 8191);
    long_msg[8191] = '\0';
    nr_test_alloc_fail_after(0);
    nr__trace_log(NR_TRACE_LEVEL_INFO, "x", NULL, 0, "short");
    nr__trace_log(NR_TRACE_LEVEL_INFO, "x", NULL, 0, long_msg);
    nr_test_alloc_reset();
    nr__trace_log(NR_TRACE_LEVEL_INFO, "x", NULL, 0, long_msg);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);

    nr_trace_jsonl_stats js;
    nr_trace_jsonl_stats_get(j, &js);
    assert_int_equal(js.lines, 2);
    assert_int_equal(js.dropped, 1);
    assert_int_equal(js.write_errors, 0);

    char *text = slurp(fp);
    char *save = NULL;
    char *l1 = strtok_r(text, "\n", &save);
    char *l2 = strtok_r(NULL, "\n", &save);
    assert_non_null(l1);
    assert_non_null(l2);
    assert_null(strtok_r(NULL, "\n", &save));
    json_t *a = parse_line(l1), *b = parse_line(l2);
    assert_string_equal(jstr(a, "message"), "short");
    assert_string_equal(jstr(b, "message"), long_msg);
    json_decref(a);
    json_decref(b);
    free(text);
    free(long_msg);

    assert_int_equal(nr_trace_jsonl_destroy(j), NR_OK);
    fclose(fp);
    nr_set_allocator(NULL);
}

/* ---- probes ------------------------------------------------------------------------ */

static int evaluated; /* arguments a probe macro evaluated */

static int64_t counted(int64_t v)
{
    evaluated++;
    return v;
}

static void test_probe_selftest_runs(void **state)
{
    (void)state;
    /* Fires every probe once (a nop unless a tracer is attached); twice
     * must be as harmless as once. */
    nr__probe_selftest();
    nr__probe_selftest();

    /* The macros accept what the call sites pass, and evaluate each
     * argument exactly once with the probes built in, none without (so a
     * value computed only for a probe costs nothing when they are off). */
    const char *id = "db";
    int rc = NR_OK;
    evaluated = 0;
    NR_PROBE_ACQUIRE(id, counted(5), (int)counted(rc));
    NR_PROBE_RELEASE(id, (uint64_t)counted(2));
    NR_PROBE_CREATE(id, (uint64_t)counted(2), (int)counted(rc));
    NR_PROBE_DESTROY(id, (uint64_t)counted(2));
    NR_PROBE_HEALTH(id, (int)counted(0), (int)counted(1));
    char pool_id[NR_ERROR_ID_MAX] = "db"; /* a pool's id is an array: passed as a pointer */
    NR_PROBE_ACQUIRE(pool_id, counted(5), NR_EINIT);
#ifdef NR_HAVE_USDT
    assert_int_equal(evaluated, 9);
#else
    assert_int_equal(evaluated, 0);
#endif
}

/* ---- a build without tracing -------------------------------------------------------- */

static void test_not_built(void **state)
{
    (void)state;
    capture *c = capture_new();
    nr_trace_sink s = {capture_emit, c};
    assert_int_equal(nr_trace_set_sink(&s, NR_TRACE_LEVEL_TRACE), NR_EUNAVAIL);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    nr_trace_sink bad = {NULL, NULL};
    assert_int_equal(nr_trace_set_sink(&bad, NR_TRACE_LEVEL_TRACE), NR_EINVAL);
    for (int l = NR_TRACE_LEVEL_TRACE; l <= NR_TRACE_LEVEL_ERROR; l++)
        assert_false(nr__trace_enabled((nr_trace_level)l));
    nr_trace_record r = {.level = NR_TRACE_LEVEL_ERROR, .duration_ns = -1};
    nr_trace_emit(&r);
    nr__span sp;
    assert_true(nr__span_begin(&sp, NR_TRACE_LEVEL_ERROR, "x", NULL, NULL, NULL) == 0);
    nr__span_end(&sp, NR_OK, NULL);
    assert_int_equal(c->total, 0);
    capture_free(c);
    nr__probe_selftest();
}

int main(void)
{
    /* Whether this build has tracing: installing a sink says so. */
    nr_trace_sink probe = {capture_emit, NULL};
    int rc = nr_trace_set_sink(&probe, NR_TRACE_LEVEL_ERROR);
    (void)nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE);
    if (rc == NR_EUNAVAIL) {
        const struct CMUnitTest off[] = {cmocka_unit_test(test_not_built)};
        return cmocka_run_group_tests(off, NULL, NULL);
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_level_names, teardown),
        cmocka_unit_test_teardown(test_set_sink_rejects_bad_arguments, teardown),
        cmocka_unit_test_teardown(test_record_reaches_sink_with_every_field, teardown),
        cmocka_unit_test_teardown(test_min_level_filters, teardown),
        cmocka_unit_test_teardown(test_no_sink_never_calls, teardown),
        cmocka_unit_test_teardown(test_sink_cannot_recurse_or_replace_itself, teardown),
        cmocka_unit_test_teardown(test_replace_sink_while_emitting, teardown),
        cmocka_unit_test_teardown(test_span_records_ids_duration_and_stats, teardown),
        cmocka_unit_test_teardown(test_span_root_child_and_error_message, teardown),
        cmocka_unit_test_teardown(test_span_follows_sink_changes, teardown),
        cmocka_unit_test_teardown(test_random_ids_nonzero_and_distinct, teardown),
        cmocka_unit_test_teardown(test_log_helpers, teardown),
        cmocka_unit_test_teardown(test_format_json_fields, teardown),
        cmocka_unit_test_teardown(test_format_json_is_bounded_like_snprintf, teardown),
        cmocka_unit_test_teardown(test_format_json_escapes, teardown),
        cmocka_unit_test_teardown(test_jsonl_writes_one_line_per_record, teardown),
        cmocka_unit_test_teardown(test_jsonl_lines_never_interleave, teardown),
        cmocka_unit_test_teardown(test_jsonl_flush_flag, teardown),
        cmocka_unit_test_teardown(test_jsonl_write_errors_counted, teardown),
        cmocka_unit_test_teardown(test_jsonl_arguments_and_busy_destroy, teardown),
        cmocka_unit_test_teardown(test_jsonl_out_of_memory, teardown),
        cmocka_unit_test_teardown(test_probe_selftest_runs, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

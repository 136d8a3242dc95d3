/*
 * test_trace_ops.c - the operations docs/tracing.md lists are exactly the
 * ones the library emits: a workload that goes through every traced call of
 * a pool and a manager is captured at TRACE level; each op in the table
 * between the "<!-- ops -->" markers must be among the captured ones, and
 * every captured op must be in the table. And the spans of register, a
 * manager's acquire and a release carry what spans carry.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "nebula/trace.h"
#include "testutil.h"

#ifndef NR_DOCS_DIR
#error "NR_DOCS_DIR must name the docs directory"
#endif

#define MAXOPS 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char seen[MAXOPS][32];
static int nseen;

static void capture(void *ud, const nr_trace_record *r)
{
    (void)ud;
    if (!r->op)
        return;
    pthread_mutex_lock(&mu);
    int known = 0;
    for (int i = 0; i < nseen && !known; i++)
        known = strcmp(seen[i], r->op) == 0;
    if (!known && nseen < MAXOPS)
        snprintf(seen[nseen++], sizeof(seen[0]), "%s", r->op);
    pthread_mutex_unlock(&mu);
}

static int was_seen(const char *op)
{
    for (int i = 0; i < nseen; i++)
        if (strcmp(seen[i], op) == 0)
            return 1;
    return 0;
}

/* The ops of the table in docs/tracing.md: rows "| `op` | ..." between the
 * markers. */
static int listed_ops(char ops[][32], int max)
{
    FILE *f = fopen(NR_DOCS_DIR "/tracing.md", "r");
    assert_non_null(f);
    char line[512];
    int in = 0, n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "<!-- ops -->", 12) == 0)
            in = 1;
        else if (strncmp(line, "<!-- /ops -->", 13) == 0)
            in = 0;
        else if (in && strncmp(line, "| `", 3) == 0 && n < max) {
            const char *end = strchr(line + 3, '`');
            assert_non_null(end);
            snprintf(ops[n++], 32, "%.*s", (int)(end - line - 3), line + 3);
        }
    }
    fclose(f);
    return n;
}

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    (void)ref;
    return nr_secret_from_str(out, "pw", err);
}

/* Every traced call of a pool. */
static void pool_workload(nr_mock *fake, nr_mock_config *cfg)
{
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = 0;
    pc.max_size = 4;
    pc.leak_threshold_ms = 1;
    pc.breaker_failures = 1;
    pc.instance_quarantine_after = 1;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "ops", .type = &nr_mock_type, .type_ud = fake,
                                        .config = cfg, .pool = &pc);
    nr_pool *p = NULL;
    nr_error err = {0};
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_OK);
    assert_int_equal(nr_pool_prime(p, 1, nr_deadline_in_ms(5000), &err), NR_OK); /* fill */
    assert_int_equal(nr_pool_fill(p, nr_deadline_in_ms(5000), &err), NR_OK);     /* fill */
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(p, NULL, &g, &err), NR_OK); /* acquire */
    /* past leak_threshold_ms on the pool's coarse clock (its tick may be
     * 10 ms): maintain until the lease is reported, at most 2 s */
    nr_pool_stats st = NR_POOL_STATS_INIT;
    for (int i = 0; i < 200 && st.leaks == 0; i++) {
        nr_sleep_ns(10 * NR_NS_PER_MS);
        assert_int_equal(nr_pool_maintain(p, NULL, &err), NR_OK); /* maintain; leak (suspected) */
        nr_pool_stats_get(p, &st);
    }
    assert_int_equal(st.leaks, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK); /* release; leak (closed) */
    assert_int_equal(nr_pool_acquire(p, NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_taint(&g), NR_OK); /* taint */
    assert_int_equal(nr_pool_prime(p, 1, nr_deadline_in_ms(5000), &err), NR_OK);
    atomic_store(&fake->health, NR_HEALTH_UNHEALTHY);
    nr_pool_health_report hr;
    assert_int_equal(nr_pool_check_health(p, 1000 * NR_NS_PER_MS, &hr, &err),
                     NR_OK);             /* check_health */
    assert_int_equal(hr.quarantined, 1); /* quarantine */
    atomic_store(&fake->health, NR_HEALTH_HEALTHY);
    atomic_store(&fake->fail_create, 1);
    nr_ctx brief = NR_CTX(.deadline = nr_deadline_in_ms(100));
    assert_int_not_equal(nr_pool_acquire(p, &brief, &g, &err), NR_OK); /* create; breaker */
    atomic_store(&fake->fail_create, 0);
    assert_int_equal(nr_pool_wait_returned(p, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(nr_pool_drain(p, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(nr_pool_destroy(p, &err), NR_OK);
}

/* Every traced call of a manager. */
static void manager_workload(nr_mock *fake, nr_mock_config *cfg)
{
    nr_credential_provider cp = {.fetch = vault_fetch};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = mo.health_interval_ms = 0;
    mo.failure_threshold = 1;
    mo.credentials = &cp;
    nr_manager *m = NULL;
    nr_error err = {0};
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "ops-db", .type = &nr_mock_type, .type_ud = fake,
                                          .config = cfg, .credential_ref = "pw");
    assert_int_equal(nr_manager_register(m, &s, &err), NR_OK);                   /* register */
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK); /* start */
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(m, "ops-db", NULL, &g, &err), NR_OK); /* manager_acquire */
    assert_int_equal(nr_guard_release(&g), NR_OK);
    atomic_store(&fake->health, NR_HEALTH_UNHEALTHY);
    atomic_store(&fake->fail_create, 1);
    nr_manager_tick(m); /* health */
    atomic_store(&fake->fail_create, 0);
    atomic_store(&fake->health, NR_HEALTH_HEALTHY);
    nr_resource_info ri = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(m, "ops-db", &ri, &err), NR_OK);
    assert_int_equal(ri.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(nr_manager_rotate_credential(m, "pw", &err), NR_OK); /* rotate_credential */
    assert_int_equal(nr_manager_unregister(m, "ops-db", nr_deadline_in_ms(5000), &err),
                     NR_OK);                                           /* unregister */
    assert_int_equal(nr_manager_shutdown(m, NULL, NULL, &err), NR_OK); /* shutdown */
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
}

static void test_listed_ops_are_the_emitted_ones(void **state)
{
    (void)state;
    nr_trace_sink sink = {capture, NULL};
    assert_int_equal(nr_trace_set_sink(&sink, NR_TRACE_LEVEL_TRACE), NR_OK);
    nr_mock fake;
    nr_mock_init(&fake);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    pool_workload(&fake, &cfg);
    manager_workload(&fake, &cfg);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    nr_config_free(&nr_mock_config_schema, &cfg);
    assert_int_equal(atomic_load(&fake.creates), atomic_load(&fake.destroys));

    char ops[MAXOPS][32];
    int n = listed_ops(ops, MAXOPS);
    assert_true(n > 0);
    for (int i = 0; i < n; i++)
        if (!was_seen(ops[i]))
            fail_msg("docs/tracing.md lists op '%s', which the workload never emitted", ops[i]);
    for (int i = 0; i < nseen; i++) {
        int listed = 0;
        for (int k = 0; k < n && !listed; k++)
            listed = strcmp(ops[k], seen[i]) == 0;
        if (!listed)
            fail_msg("op '%s' was emitted but docs/tracing.md does not list it", seen[i]);
    }
}

/* The new spans carry what the others do: the resource, a duration, ids;
 * the pool's acquire is the manager acquire's child. */
typedef struct span_rec {
    char op[32], resource[64];
    int64_t duration_ns;
    uint64_t span_id, parent_span_id, trace_lo;
    int code;
} span_rec;

static span_rec spans[64];
static int nspans;

static void capture_spans(void *ud, const nr_trace_record *r)
{
    (void)ud;
    pthread_mutex_lock(&mu);
    if (nspans < 64 && r->op) {
        span_rec *c = &spans[nspans++];
        snprintf(c->op, sizeof(c->op), "%s", r->op);
        snprintf(c->resource, sizeof(c->resource), "%s", r->resource_id ? r->resource_id : "");
        c->duration_ns = r->duration_ns;
        c->span_id = r->span_id;
        c->parent_span_id = r->parent_span_id;
        c->trace_lo = r->trace_id_lo;
        c->code = r->code;
    }
    pthread_mutex_unlock(&mu);
}

static const span_rec *span_of(const char *op, const char *resource)
{
    for (int i = 0; i < nspans; i++)
        if (!strcmp(spans[i].op, op) && !strcmp(spans[i].resource, resource))
            return &spans[i];
    return NULL;
}

static void test_register_acquire_release_spans(void **state)
{
    (void)state;
    nspans = 0;
    nr_mock fake;
    nr_mock_init(&fake);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = mo.health_interval_ms = 0;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, NULL), NR_OK);
    nr_trace_sink sink = {capture_spans, NULL};
    assert_int_equal(nr_trace_set_sink(&sink, NR_TRACE_LEVEL_DEBUG), NR_OK);
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "spanned", .type = &nr_mock_type, .type_ud = &fake, .config = &cfg);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_register(m, &s, &err), NR_EEXIST);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_ctx ctx = NR_CTX(.trace_id_hi = 7, .trace_id_lo = 99, .span_id = 5);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(m, "spanned", &ctx, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_manager_acquire(m, "nowhere", NULL, &g, &err), NR_ENOTFOUND);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_DEBUG), NR_OK);

    const span_rec *reg = span_of("register", "spanned");
    assert_non_null(reg);
    assert_int_equal(reg->code, NR_OK);
    assert_true(reg->duration_ns >= 0 && reg->span_id != 0);
    int refused = 0;
    for (int i = 0; i < nspans; i++)
        refused += !strcmp(spans[i].op, "register") && spans[i].code == NR_EEXIST;
    assert_int_equal(refused, 1);
    const span_rec *ma = span_of("manager_acquire", "spanned");
    assert_non_null(ma);
    assert_int_equal(ma->trace_lo, 99);
    assert_int_equal(ma->parent_span_id, 5);
    const span_rec *pa = span_of("acquire", "spanned");
    assert_non_null(pa);
    assert_int_equal(pa->trace_lo, 99);
    assert_int_equal(pa->parent_span_id, ma->span_id); /* the pool's acquire is its child */
    const span_rec *rel = span_of("release", "spanned");
    assert_non_null(rel);
    assert_int_equal(rel->code, NR_OK);
    assert_true(rel->duration_ns >= 0 && rel->span_id != 0);
    const span_rec *miss = span_of("manager_acquire", "nowhere");
    assert_non_null(miss);
    assert_int_equal(miss->code, NR_ENOTFOUND);

    /* with no sink nothing is recorded */
    int before = nspans;
    assert_int_equal(nr_manager_acquire(m, "spanned", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nspans, before);
    assert_int_equal(nr_manager_shutdown(m, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    nr_config_free(&nr_mock_config_schema, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed_ops_are_the_emitted_ones),
        cmocka_unit_test(test_register_acquire_release_spans),
    };
    return cmocka_run_group_tests_name("trace_ops", tests, NULL, NULL);
}

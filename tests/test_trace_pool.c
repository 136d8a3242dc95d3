/*
 * test_trace_pool.c - the pool and the manager emit trace records: a span
 * around every acquire (with the pool's stats), a warning when a create
 * fails, a record when a resource's health changes; and a workload that uses
 * a known secret never lets it into a trace line.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "nebula/trace.h"
#include "testutil.h"

#define MAXREC 256

typedef struct rec {
    nr_trace_level level;
    char op[32], resource[64], message[256];
    int64_t duration_ns;
    uint64_t span_id, trace_lo;
    int code;
    int had_stats;
    uint32_t stats_in_use;
} rec;

static pthread_mutex_t cap_mu = PTHREAD_MUTEX_INITIALIZER;
static rec cap[MAXREC];
static int ncap;

static void capture(void *ud, const nr_trace_record *r)
{
    (void)ud;
    pthread_mutex_lock(&cap_mu);
    if (ncap < MAXREC) {
        rec *c = &cap[ncap++];
        memset(c, 0, sizeof(*c));
        c->level = r->level;
        snprintf(c->op, sizeof(c->op), "%s", r->op ? r->op : "");
        snprintf(c->resource, sizeof(c->resource), "%s", r->resource_id ? r->resource_id : "");
        snprintf(c->message, sizeof(c->message), "%s", r->message ? r->message : "");
        c->duration_ns = r->duration_ns;
        c->span_id = r->span_id;
        c->trace_lo = r->trace_id_lo;
        c->code = r->code;
        c->had_stats = r->stats != NULL;
        c->stats_in_use = r->stats ? r->stats->in_use : 0;
    }
    pthread_mutex_unlock(&cap_mu);
}

static const rec *find(const char *op, int code)
{
    for (int i = 0; i < ncap; i++)
        if (!strcmp(cap[i].op, op) && (code == 1 || cap[i].code == code))
            return &cap[i];
    return NULL;
}

static void test_acquire_span_and_create_warning(void **state)
{
    (void)state;
    ncap = 0;
    nr_trace_sink sink = {capture, NULL};
    assert_int_equal(nr_trace_set_sink(&sink, NR_TRACE_LEVEL_DEBUG), NR_OK);
    nr_mock fake;
    nr_mock_init(&fake);
    nr_mock_config cfg;
    nr_config_init(&nr_mock_config_schema, &cfg, NULL);
    nr_pool *p = NULL;
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = "traced", .type = &nr_mock_type, .type_ud = &fake, .config = &cfg);
    assert_int_equal(nr_pool_create(&p, &o, NULL), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.trace_id_hi = 7, .trace_id_lo = 99, .span_id = 5);
    assert_int_equal(nr_pool_acquire(p, &ctx, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    atomic_store(&fake.fail_create, 1);
    assert_int_equal(nr_guard_taint(&g), NR_OK); /* empty guard: no-op */
    nr_guard g2 = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(p, NULL, &g2, NULL), NR_OK); /* the idle one */
    nr_guard g3 = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx brief = NR_CTX(.deadline = nr_deadline_in_ms(200));
    /* needs a create, which fails: the wait runs out with that as the cause */
    assert_int_equal(nr_pool_acquire(p, &brief, &g3, &err), NR_ETIMEDOUT);
    assert_int_equal(nr_guard_release(&g2), NR_OK);
    /* a NULL pool is an argument error, traced without stats, not a crash */
    assert_int_equal(nr_pool_acquire(NULL, NULL, &g3, &err), NR_EINVAL);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_DEBUG), NR_OK);

    const rec *a = find("acquire", NR_OK);
    assert_non_null(a);
    assert_string_equal(a->resource, "traced");
    assert_true(a->duration_ns >= 0);
    assert_true(a->span_id != 0);
    assert_int_equal(a->trace_lo, 99); /* carried from the context */
    assert_true(a->had_stats);
    assert_int_equal(a->stats_in_use, 1);
    const rec *failed = find("acquire", NR_ETIMEDOUT);
    assert_non_null(failed);
    assert_non_null(strstr(failed->message, "the last create failed"));
    const rec *warn = find("create", NR_EUNAVAIL);
    assert_non_null(warn);
    assert_int_equal(warn->level, NR_TRACE_LEVEL_WARN);
    assert_string_equal(warn->resource, "traced");

    /* with no sink nothing is recorded */
    int before = ncap;
    assert_int_equal(nr_pool_acquire(p, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(ncap, before);
    assert_int_equal(nr_pool_destroy(p, NULL), NR_OK);
    nr_config_free(&nr_mock_config_schema, &cfg);
}

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    (void)ref;
    return nr_secret_from_str(out, "S3CRET-correct-horse", err);
}

static void test_health_change_traced_and_secret_never_written(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    assert_non_null(mem);
    nr_trace_jsonl *j = NULL;
    assert_int_equal(nr_trace_jsonl_create(&j, mem, 0, NULL), NR_OK);
    nr_trace_sink sink;
    nr_trace_jsonl_sink(j, &sink);
    assert_int_equal(nr_trace_set_sink(&sink, NR_TRACE_LEVEL_TRACE), NR_OK);

    nr_mock fake;
    nr_mock_init(&fake);
    nr_mock_config cfg;
    nr_config_init(&nr_mock_config_schema, &cfg, NULL);
    assert_int_equal(nr_secret_from_str(&cfg.token, "S3CRET-correct-horse", NULL), NR_OK);
    nr_credential_provider cp = {.fetch = vault_fetch, .ud = NULL};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = mo.health_interval_ms = 0;
    mo.failure_threshold = 1;
    mo.credentials = &cp;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, NULL), NR_OK);
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "vaulted", .type = &nr_mock_type, .type_ud = &fake,
                                          .config = &cfg, .credential_ref = "vaulted/pw");
    assert_int_equal(nr_manager_register(m, &s, NULL), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), NULL), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(m, "vaulted", NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    atomic_store(&fake.health, NR_HEALTH_UNHEALTHY);
    atomic_store(&fake.fail_create, 1);
    nr_manager_tick(m);
    nr_error err = {0};
    assert_int_equal(nr_manager_acquire(m, "vaulted", NULL, &g, &err), NR_EUNAVAIL);
    assert_int_equal(nr_manager_rotate_credential(m, "vaulted/pw", NULL), NR_OK);
    assert_int_equal(nr_manager_shutdown(m, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    assert_int_equal(nr_trace_jsonl_destroy(j), NR_OK);
    fclose(mem);

    assert_non_null(strstr(buf, "\"op\":\"health\""));
    assert_non_null(strstr(buf, "healthy -> unhealthy"));
    assert_non_null(strstr(buf, "\"op\":\"start\""));
    assert_non_null(strstr(buf, "\"op\":\"shutdown\""));
    assert_null(strstr(buf, "S3CRET")); /* the secret never reaches a trace line */
    assert_null(strstr(err.message, "S3CRET"));
    free(buf);
    nr_config_free(&nr_mock_config_schema, &cfg);
    assert_int_equal(atomic_load(&fake.creates), atomic_load(&fake.destroys));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acquire_span_and_create_warning),
        cmocka_unit_test(test_health_change_traced_and_secret_never_written),
    };
    return cmocka_run_group_tests_name("trace_pool", tests, NULL, NULL);
}

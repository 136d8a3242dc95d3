/*
 * test_abi.c - the size rule of the structs that can grow (docs/ABI.md): a
 * size of 0 or one larger than the library's is refused naming the struct
 * and both sizes; an older (smaller) size is accepted with the fields it
 * lacks read as 0; structs the library fills are written only up to the
 * caller's size; an array of definitions has one size per element, and a
 * bad one is named by its index.
 */
#define _DEFAULT_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "nebula/health_pipeline.h"
#include "nebula/hooks_builtin.h"
#include "nebula/manager.h"
#ifdef NR_TEST_ABI_ADMIN
#include "nebula/config_file.h"
#endif
#include "pool_fixture.h"
#include "testutil.h"

typedef nr_pool_fixture fixture;
#define GUARD 0xAB

/* "T: size N is not a size this library knows (this library's is M)" */
static void assert_refused(const nr_error *err, const char *type, size_t n, size_t known,
                           const char *init)
{
    char want[256];
    snprintf(want, sizeof(want),
             "%s: size %zu is not a size this library knows (this library's is %zu): "
             "initialise it with %s",
             type, n, known, init);
    assert_int_equal(err->code, NR_EINVAL);
    assert_string_equal(err->message, want);
}

/* A pointer that must never be followed: a field beyond the caller's size. */
#define POISON ((void *)(uintptr_t)0x1)

static int64_t poison_clock(void *ud)
{
    (void)ud;
    fail_msg("a field beyond the caller's size was read");
    return 0;
}

static nr_pool_options pool_options(fixture *f, const char *id)
{
    nr_pool_options o = NR_POOL_OPTIONS(.id = id, .type = &nr_mock_type, .type_ud = &f->fake,
                                        .config = &f->cfg, .pool = &f->pcfg);
    return o;
}

/* ---- inputs ------------------------------------------------------------------------------ */

static void test_pool_options_sizes(void **state)
{
    fixture *f = *state;
    nr_pool *p = NULL;
    nr_error err = {0};
    nr_pool_options o = pool_options(f, "abi");
    o.size = 0;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_EINVAL);
    assert_null(p);
    assert_refused(&err, "nr_pool_options", 0, sizeof(nr_pool_options), "NR_POOL_OPTIONS_INIT");

    /* a caller built against a newer header: its struct is larger */
    struct {
        nr_pool_options o;
        char more[32];
    } newer;
    memset(&newer, 0, sizeof(newer));
    newer.o = pool_options(f, "abi");
    newer.o.size = sizeof(newer);
    assert_int_equal(nr_pool_create(&p, &newer.o, &err), NR_EINVAL);
    assert_refused(&err, "nr_pool_options", sizeof(newer), sizeof(nr_pool_options),
                   "NR_POOL_OPTIONS_INIT");

    /* an older caller, whose struct ends before executor: what follows is not read */
    o = pool_options(f, "abi");
    o.size = offsetof(nr_pool_options, executor);
    o.executor = POISON;
    o.clock = poison_clock;
    o.hooks = POISON;
    assert_int_equal(nr_pool_create(&f->pool, &o, &err), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_pool_check_health(f->pool, 1000000000, NULL, NULL), NR_OK);
}

static void test_ctx_sizes(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "abi");
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx c = NR_CTX(.deadline = nr_deadline_in_ms(1000));
    c.size = 0;
    assert_int_equal(nr_pool_acquire(f->pool, &c, &g, &err), NR_EINVAL);
    assert_null(g.inst);
    assert_refused(&err, "nr_ctx", 0, sizeof(nr_ctx), "NR_CTX_INIT");
    c.size = sizeof(nr_ctx) + 8;
    assert_int_equal(nr_pool_acquire(f->pool, &c, &g, &err), NR_EINVAL);
    assert_refused(&err, "nr_ctx", sizeof(nr_ctx) + 8, sizeof(nr_ctx), "NR_CTX_INIT");

    /* older: ends before scope, which holds a pointer that must not be followed */
    c = (nr_ctx)NR_CTX(.deadline = nr_deadline_in_ms(1000), .scope = POISON);
    c.size = offsetof(nr_ctx, scope);
    assert_int_equal(nr_pool_acquire(f->pool, &c, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    /* this library's own size: used as it is (the scope is then checked) */
    nr_scope acme;
    assert_int_equal(nr_scope_parse(&acme, "tenant:acme", NULL), NR_OK);
    c = (nr_ctx)NR_CTX(.scope = &acme);
    assert_int_equal(nr_pool_acquire(f->pool, &c, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_hooks_and_pipeline_options(void **state)
{
    (void)state;
    nr_error err = {0};
    nr_hooks *h = NULL;
    nr_hooks_options ho = NR_HOOKS_OPTIONS(.max_hooks = 8);
    ho.size = 0;
    assert_int_equal(nr_hooks_create(&h, &ho, &err), NR_EINVAL);
    assert_refused(&err, "nr_hooks_options", 0, sizeof(ho), "NR_HOOKS_OPTIONS_INIT");
    /* older: only events known, max_hooks read as 0 = the default */
    ho.size = offsetof(nr_hooks_options, max_hooks);
    ho.max_hooks = 100000; /* would be refused if it were read */
    assert_int_equal(nr_hooks_create(&h, &ho, &err), NR_OK);
    assert_int_equal(nr_hooks_destroy(h, NULL), NR_OK);

    nr_health_pipeline *p = NULL;
    nr_health_pipeline_options po = NR_HEALTH_PIPELINE_OPTIONS(.resource_id = "db");
    po.size = sizeof(po) + 1;
    assert_int_equal(nr_health_pipeline_create(&p, NULL, &po, &err), NR_EINVAL);
    assert_null(p);
    assert_refused(&err, "nr_health_pipeline_options", sizeof(po) + 1, sizeof(po),
                   "NR_HEALTH_PIPELINE_OPTIONS_INIT");
    po.size = offsetof(nr_health_pipeline_options, clock);
    po.clock = poison_clock;
    assert_int_equal(nr_health_pipeline_create(&p, NULL, &po, &err), NR_OK);
    assert_int_equal(nr_health_pipeline_destroy(p, NULL), NR_OK);
}

static nr_manager *manager(void);

static void audit_sink(void *ud, const char *line, size_t len)
{
    (void)ud;
    (void)line;
    (void)len;
}

static void test_builtin_hook_options(void **state)
{
    (void)state;
    nr_error err = {0};
    nr_audit *a = NULL;
    nr_audit_options ao = NR_AUDIT_OPTIONS(.sink = audit_sink);
    ao.size = 0;
    assert_int_equal(nr_audit_create(&a, &ao, &err), NR_EINVAL);
    assert_null(a);
    assert_refused(&err, "nr_audit_options", 0, sizeof(ao), "NR_AUDIT_OPTIONS_INIT");
    ao.size = sizeof(ao) + 8;
    assert_int_equal(nr_audit_create(&a, &ao, &err), NR_EINVAL);
    assert_refused(&err, "nr_audit_options", sizeof(ao) + 8, sizeof(ao), "NR_AUDIT_OPTIONS_INIT");
    /* older: ends before queue_lines, which would be refused if it were read */
    ao.size = offsetof(nr_audit_options, queue_lines);
    ao.queue_lines = 100000000;
    assert_int_equal(nr_audit_create(&a, &ao, &err), NR_OK);

    /* the stats: size 0 refused and nothing written; an older size written up to it */
    nr_audit_stats st = NR_AUDIT_STATS_INIT;
    st.size = 0;
    st.queued = 77;
    assert_int_equal(nr_audit_stats_get(a, &st), NR_EINVAL);
    assert_int_equal(st.queued, 77);
    unsigned char buf[sizeof(nr_audit_stats) + 16];
    memset(buf, GUARD, sizeof(buf));
    size_t older = offsetof(nr_audit_stats, written);
    memcpy(buf, &older, sizeof(older));
    assert_int_equal(nr_audit_stats_get(a, (nr_audit_stats *)(void *)buf), NR_OK);
    for (size_t i = older; i < sizeof(buf); i++)
        assert_int_equal(buf[i], GUARD);
    memcpy(&st, buf, older);
    assert_int_equal(st.size, older);
    assert_int_equal(st.queued, 0);
    st = (nr_audit_stats)NR_AUDIT_STATS_INIT;
    assert_int_equal(nr_audit_stats_get(a, &st), NR_OK);
    assert_int_equal(st.size, sizeof(st));
    nr_audit_destroy(a);

    nr_slow_acquire *s = NULL;
    nr_slow_acquire_options so = NR_SLOW_ACQUIRE_OPTIONS(.threshold_ms = 10);
    so.size = 0;
    assert_int_equal(nr_slow_acquire_create(&s, &so, &err), NR_EINVAL);
    assert_null(s);
    assert_refused(&err, "nr_slow_acquire_options", 0, sizeof(so), "NR_SLOW_ACQUIRE_OPTIONS_INIT");
    /* older: ends before metrics, a pointer that must not be followed */
    so.size = offsetof(nr_slow_acquire_options, metrics);
    so.metrics = POISON;
    assert_int_equal(nr_slow_acquire_create(&s, &so, &err), NR_OK);

    /* a hook's fill writes the def only up to its size */
    unsigned char dbuf[sizeof(nr_hook_def) + 16];
    memset(dbuf, GUARD, sizeof(dbuf));
    size_t dolder = offsetof(nr_hook_def, type_name);
    memcpy(dbuf, &dolder, sizeof(dolder));
    nr_slow_acquire_hook(s, (nr_hook_def *)(void *)dbuf);
    for (size_t i = dolder; i < sizeof(dbuf); i++)
        assert_int_equal(dbuf[i], GUARD);
    nr_hook_def d;
    memcpy(&d, dbuf, dolder);
    assert_int_equal(d.size, dolder);
    assert_string_equal(d.name, "slow-acquire");
    assert_ptr_equal(d.ud, s);
    nr_slow_acquire_destroy(s);

    nr_manager *m = manager();
    nr_credential_refresh *cr = NULL;
    nr_credential_refresh_options ro = NR_CREDENTIAL_REFRESH_OPTIONS(.window_ms = 1000);
    ro.size = 0;
    assert_int_equal(nr_credential_refresh_create(&cr, m, &ro, &err), NR_EINVAL);
    assert_null(cr);
    assert_refused(&err, "nr_credential_refresh_options", 0, sizeof(ro),
                   "NR_CREDENTIAL_REFRESH_OPTIONS_INIT");
    /* older: only the size, window_ms read as 0 (it would be refused if it were read) */
    ro.size = sizeof(size_t);
    ro.window_ms = -5;
    assert_int_equal(nr_credential_refresh_create(&cr, m, &ro, &err), NR_OK);
    nr_credential_refresh_destroy(cr);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
}

static int nop_after(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)ud;
    (void)call;
    (void)err;
    return NR_OK;
}

static void test_hook_def_sizes(void **state)
{
    (void)state;
    nr_error err = {0};
    nr_hooks *h = NULL;
    assert_int_equal(nr_hooks_create(&h, NULL, &err), NR_OK);
    nr_hook_def d = NR_HOOK_DEF(.name = "abi", .after = nop_after);
    d.size = 0;
    assert_int_equal(nr_hooks_add(h, &d, NULL, &err), NR_EINVAL);
    assert_refused(&err, "nr_hook_def", 0, sizeof(d), "NR_HOOK_DEF_INIT");
    d.size = sizeof(d) + 1;
    assert_int_equal(nr_hooks_add(h, &d, NULL, &err), NR_EINVAL);
    assert_refused(&err, "nr_hook_def", sizeof(d) + 1, sizeof(d), "NR_HOOK_DEF_INIT");
    assert_int_equal(nr_hooks_count(h), 0);
    /* older: ends before the filters, pointers that must not be followed */
    d.size = offsetof(nr_hook_def, type_name);
    d.type_name = POISON;
    d.resource = POISON;
    d.scope = POISON;
    uint64_t id = 0;
    assert_int_equal(nr_hooks_add(h, &d, &id, &err), NR_OK);
    assert_int_equal(nr_hooks_count(h), 1);
    assert_int_equal(nr_hooks_remove(h, id, &err), NR_OK);
    assert_int_equal(nr_hooks_destroy(h, NULL), NR_OK);
}

static int stage_fn(void *ud, const nr_health_stage_ctx *ctx, nr_health_report *report,
                    nr_error *err)
{
    (void)ud;
    (void)ctx;
    (void)err;
    report->state = NR_HEALTH_HEALTHY;
    return NR_OK;
}

/* nr_health_stage_def as an older caller has it: without ud. */
typedef struct older_stage_def {
    size_t size;
    const char *name;
    nr_health_stage_fn fn;
} older_stage_def;

static void test_health_stage_def_arrays(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    nr_health_pipeline *p = NULL;
    nr_health_stage_def defs[2] = {NR_HEALTH_STAGE_DEF(.name = "lag", .fn = stage_fn),
                                   NR_HEALTH_STAGE_DEF(.name = "disk", .fn = stage_fn)};
    nr_health_pipeline_options po =
        NR_HEALTH_PIPELINE_OPTIONS(.resource_id = "db", .custom = defs, .ncustom = 2);
    defs[1].size = 0;
    assert_int_equal(nr_health_pipeline_create(&p, NULL, &po, &err), NR_EINVAL);
    assert_null(p);
    char want[256];
    snprintf(want, sizeof(want),
             "resource 'db': custom[1]: nr_health_stage_def: size 0 is not a size this library "
             "knows (this library's is %zu): initialise it with NR_HEALTH_STAGE_DEF_INIT",
             sizeof(nr_health_stage_def));
    assert_string_equal(err.message, want);
    /* an element of another size than the first's (the array's stride) */
    defs[1].size = sizeof(size_t);
    assert_int_equal(nr_health_pipeline_create(&p, NULL, &po, &err), NR_EINVAL);
    assert_non_null(strstr(err.message, "custom[1]: nr_health_stage_def: size 8 differs from "
                                        "custom[0]'s"));
    defs[1].size = sizeof(nr_health_stage_def);
    assert_int_equal(nr_health_pipeline_create(&p, NULL, &po, &err), NR_OK);
    assert_int_equal(nr_health_pipeline_destroy(p, NULL), NR_OK);

    /* an older array: its stride is its element's size; ud, which it lacks, reads as NULL */
    older_stage_def old[2] = {{offsetof(nr_health_stage_def, ud), "lag", stage_fn},
                              {offsetof(nr_health_stage_def, ud), "disk", stage_fn}};
    assert_int_equal(sizeof(old[0]), offsetof(nr_health_stage_def, ud));
    po.custom = (const nr_health_stage_def *)(const void *)old;
    assert_int_equal(nr_health_pipeline_create(&p, NULL, &po, &err), NR_OK);
    assert_int_equal(nr_health_pipeline_destroy(p, NULL), NR_OK);
    old[1].name = "lag"; /* read at the right stride: the duplicate is seen */
    assert_int_equal(nr_health_pipeline_create(&p, NULL, &po, &err), NR_EINVAL);
    assert_non_null(strstr(err.message, "defined twice (custom[0] and [1])"));

    /* a resource's health_stages: the bad element named with the resource */
    nr_manager *m = manager();
    defs[1].size = 0;
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake, .config = &f->cfg,
                         .health_stages = defs, .nhealth_stages = 2);
    assert_int_equal(nr_manager_register(m, &s, &err), NR_EINVAL);
    snprintf(want, sizeof(want),
             "resource 'db': health_stages[1]: nr_health_stage_def: size 0 is not a size this "
             "library knows (this library's is %zu): initialise it with "
             "NR_HEALTH_STAGE_DEF_INIT",
             sizeof(nr_health_stage_def));
    assert_string_equal(err.message, want);
    assert_string_equal(err.resource_id, "db");
    /* older elements register */
    s.health_stages = (const nr_health_stage_def *)(const void *)old;
    old[1].name = "disk";
    assert_int_equal(nr_manager_register(m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_count(m), 1);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
}

#ifdef NR_TEST_ABI_ADMIN
static void test_config_load_options_sizes(void **state)
{
    (void)state;
    char path[] = "/tmp/nr-abi.XXXXXX"; /* mkstemp's template: it writes the name */
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "{\"resources\": []}\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    nr_error err = {0};
    nr_config_file *cf = NULL;
    nr_config_load_options lo = NR_CONFIG_LOAD_OPTIONS_INIT;
    nr_config_load_options_default(&lo);
    lo.size = 0;
    assert_int_equal(nr_config_file_load(&cf, path, &lo, &err), NR_EINVAL);
    assert_null(cf);
    assert_refused(&err, "nr_config_load_options", 0, sizeof(lo), "NR_CONFIG_LOAD_OPTIONS_INIT");

    /* _default writes only up to the caller's size */
    unsigned char buf[sizeof(nr_config_load_options) + 16];
    memset(buf, GUARD, sizeof(buf));
    size_t older = offsetof(nr_config_load_options, health_stages);
    memcpy(buf, &older, sizeof(older));
    nr_config_load_options_default((nr_config_load_options *)(void *)buf);
    for (size_t i = older; i < sizeof(buf); i++)
        assert_int_equal(buf[i], GUARD);

    /* older: ends before health_stages, which must not be followed */
    lo.size = older;
    lo.health_stages = POISON;
    lo.nhealth_stages = 1;
    if (nr_config_file_load(&cf, path, &lo, &err) != NR_OK)
        fail_msg("load: %s", err.message);
    nr_config_file_free(cf);
    cf = NULL;

    /* a bad element of health_stages is named by its index */
    nr_health_stage_def defs[2] = {NR_HEALTH_STAGE_DEF(.name = "lag", .fn = stage_fn),
                                   NR_HEALTH_STAGE_DEF(.name = "disk", .fn = stage_fn)};
    defs[1].size = sizeof(defs[1]) * 2;
    lo.size = sizeof(lo);
    lo.health_stages = defs;
    lo.nhealth_stages = 2;
    assert_int_equal(nr_config_file_load(&cf, path, &lo, &err), NR_EINVAL);
    assert_null(cf);
    char want[256];
    snprintf(want, sizeof(want),
             "config: health_stages[1]: nr_health_stage_def: size %zu is not a size this library "
             "knows (this library's is %zu): initialise it with NR_HEALTH_STAGE_DEF_INIT",
             sizeof(defs[1]) * 2, sizeof(defs[1]));
    assert_string_equal(err.message, want);
    unlink(path);
}
#endif

/* ---- the manager's ------------------------------------------------------------------------ */

static nr_manager *manager(void)
{
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.workers = 1;
    mo.creators = 1;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, NULL), NR_OK);
    return m;
}

static void test_manager_options_sizes(void **state)
{
    (void)state;
    nr_error err = {0};
    nr_manager *m = NULL;
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.size = 0;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_EINVAL);
    assert_null(m);
    assert_refused(&err, "nr_manager_options", 0, sizeof(mo), "NR_MANAGER_OPTIONS_INIT");

    /* _default writes only up to the caller's size */
    unsigned char buf[sizeof(nr_manager_options) + 16];
    memset(buf, GUARD, sizeof(buf));
    size_t older = offsetof(nr_manager_options, clock);
    memcpy(buf, &older, sizeof(older));
    nr_manager_options_default((nr_manager_options *)(void *)buf);
    for (size_t i = older; i < sizeof(buf); i++)
        assert_int_equal(buf[i], GUARD);
    nr_manager_options got;
    memcpy(&got, buf, sizeof(got));
    assert_int_equal(got.size, older);
    assert_int_equal(got.workers, 4);

    /* older: the clock beyond its size is not called */
    mo.size = older;
    mo.clock = poison_clock;
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
}

static void test_spec_info_and_shutdown(void **state)
{
    fixture *f = *state;
    nr_manager *m = manager();
    nr_error err = {0};
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake, .config = &f->cfg);
    s.size = 0;
    assert_int_equal(nr_manager_register(m, &s, &err), NR_EINVAL);
    assert_refused(&err, "nr_resource_spec", 0, sizeof(s), "NR_RESOURCE_SPEC_INIT");
    assert_int_equal(nr_manager_reload(m, &s, NULL, &err), NR_EINVAL);
    assert_refused(&err, "nr_resource_spec", 0, sizeof(s), "NR_RESOURCE_SPEC_INIT");
    /* older: autoscale beyond its size is not read */
    s.size = offsetof(nr_resource_spec, autoscale);
    s.autoscale = POISON;
    assert_int_equal(nr_manager_register(m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK);

    nr_ctx c = NR_CTX_INIT;
    c.size = 0;
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(m, "db", &c, &g, &err), NR_EINVAL);
    assert_refused(&err, "nr_ctx", 0, sizeof(c), "NR_CTX_INIT");
    assert_int_equal(nr_manager_acquire(m, "db", NULL, &g, &err), NR_OK);

    /* resource info: size 0 refused; a short struct written only up to its size */
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    info.size = 0;
    assert_int_equal(nr_manager_resource_info(m, "db", &info, &err), NR_EINVAL);
    assert_refused(&err, "nr_resource_info", 0, sizeof(info), "NR_RESOURCE_INFO_INIT");
    unsigned char buf[sizeof(nr_resource_info) + 16];
    memset(buf, GUARD, sizeof(buf));
    size_t older = offsetof(nr_resource_info, stats) + offsetof(nr_pool_stats, acquires);
    memcpy(buf, &older, sizeof(older));
    assert_int_equal(nr_manager_resource_info(m, "db", (nr_resource_info *)(void *)buf, &err),
                     NR_OK);
    for (size_t i = older; i < sizeof(buf); i++)
        assert_int_equal(buf[i], GUARD);
    memcpy(&info, buf, older);
    assert_int_equal(info.size, older);
    assert_string_equal(info.id, "db");
    assert_int_equal(info.stats.size, offsetof(nr_pool_stats, acquires));
    assert_int_equal(info.stats.in_use, 1);
    /* the full one */
    info = (nr_resource_info)NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(m, "db", &info, &err), NR_OK);
    assert_int_equal(info.stats.size, sizeof(nr_pool_stats));
    assert_int_equal(info.stats.acquires, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_group_spec gs = NR_GROUP_SPEC_INIT;
    nr_group_spec_default(&gs);
    const char *members[] = {"db"};
    gs.name = "all";
    gs.members = members;
    gs.nmembers = 1;
    gs.size = 0;
    assert_int_equal(nr_manager_register_group(m, &gs, &err), NR_EINVAL);
    assert_refused(&err, "nr_group_spec", 0, sizeof(gs), "NR_GROUP_SPEC_INIT");
    gs.size = sizeof(gs);
    assert_int_equal(nr_manager_register_group(m, &gs, &err), NR_OK);

    nr_shutdown_options so = NR_SHUTDOWN_OPTIONS_INIT;
    nr_shutdown_options_default(&so);
    so.size = sizeof(so) * 2;
    assert_int_equal(nr_manager_shutdown(m, &so, NULL, &err), NR_EINVAL);
    assert_refused(&err, "nr_shutdown_options", sizeof(so) * 2, sizeof(so),
                   "NR_SHUTDOWN_OPTIONS_INIT");
    so.size = sizeof(so);

    /* the report: size 0 refused before anything is shut down, nothing written */
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    rep.size = 0;
    rep.destroyed = 77;
    assert_int_equal(nr_manager_shutdown(m, &so, &rep, &err), NR_EINVAL);
    assert_refused(&err, "nr_shutdown_report", 0, sizeof(rep), "NR_SHUTDOWN_REPORT_INIT");
    assert_int_equal(rep.destroyed, 77);
    assert_int_equal(nr_manager_acquire(m, "db", NULL, &g, &err), NR_OK); /* still running */
    assert_int_equal(nr_guard_release(&g), NR_OK);
    /* an older size: written up to it */
    unsigned char rbuf[sizeof(nr_shutdown_report) + 16];
    memset(rbuf, GUARD, sizeof(rbuf));
    size_t rolder = offsetof(nr_shutdown_report, nleftovers);
    memcpy(rbuf, &rolder, sizeof(rolder));
    assert_int_equal(nr_manager_shutdown(m, &so, (nr_shutdown_report *)(void *)rbuf, &err), NR_OK);
    for (size_t i = rolder; i < sizeof(rbuf); i++)
        assert_int_equal(rbuf[i], GUARD);
    memcpy(&rep, rbuf, rolder);
    assert_int_equal(rep.size, rolder);
    assert_int_equal(rep.destroyed, 1);
    assert_false(rep.drain_timed_out);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
}

/* ---- outputs ------------------------------------------------------------------------------ */

static void test_stats_written_up_to_size(void **state)
{
    fixture *f = *state;
    nr_pool_fixture_make(f, "abi");
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(f->pool, NULL, &g, NULL), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    st.size = 0;
    st.in_use = 77;
    assert_int_equal(nr_pool_stats_get(f->pool, &st), NR_EINVAL);
    assert_int_equal(st.in_use, 77); /* nothing written */
    st.size = sizeof(st) + 8;
    assert_int_equal(nr_pool_stats_get(f->pool, &st), NR_EINVAL);

    unsigned char buf[sizeof(nr_pool_stats) + 16];
    memset(buf, GUARD, sizeof(buf));
    size_t older = offsetof(nr_pool_stats, acquires);
    memcpy(buf, &older, sizeof(older));
    assert_int_equal(nr_pool_stats_get(f->pool, (nr_pool_stats *)(void *)buf), NR_OK);
    for (size_t i = older; i < sizeof(buf); i++)
        assert_int_equal(buf[i], GUARD);
    memcpy(&st, buf, older);
    assert_int_equal(st.size, older);
    assert_int_equal(st.in_use, 1);
    assert_int_equal(st.total, 1);

    /* a sum of an older size: written up to it; an older s: its missing fields add 0 */
    nr_pool_stats full = NR_POOL_STATS_INIT;
    assert_int_equal(nr_pool_stats_get(f->pool, &full), NR_OK);
    memset(buf, GUARD, sizeof(buf));
    memset(buf, 0, older);
    memcpy(buf, &older, sizeof(older));
    nr_pool_stats_add((nr_pool_stats *)(void *)buf, &full);
    nr_pool_stats_add((nr_pool_stats *)(void *)buf, &full);
    for (size_t i = older; i < sizeof(buf); i++)
        assert_int_equal(buf[i], GUARD);
    memcpy(&st, buf, older);
    assert_int_equal(st.in_use, 2);
    nr_pool_stats sum = NR_POOL_STATS_INIT;
    nr_pool_stats part = full;
    part.size = offsetof(nr_pool_stats, acquires);
    nr_pool_stats_add(&sum, &part);
    assert_int_equal(sum.in_use, 1);
    assert_int_equal(sum.acquires, 0);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_options_sizes, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctx_sizes, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
        cmocka_unit_test(test_hooks_and_pipeline_options),
        cmocka_unit_test(test_builtin_hook_options),
        cmocka_unit_test(test_hook_def_sizes),
        cmocka_unit_test_setup_teardown(test_health_stage_def_arrays, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
#ifdef NR_TEST_ABI_ADMIN
        cmocka_unit_test(test_config_load_options_sizes),
#endif
        cmocka_unit_test(test_manager_options_sizes),
        cmocka_unit_test_setup_teardown(test_spec_info_and_shutdown, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stats_written_up_to_size, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

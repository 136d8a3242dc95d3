/*
 * test_abi.c - the size rule of the structs that can grow (docs/ABI.md): a
 * size of 0 or one larger than the library's is refused naming the struct
 * and both sizes; an older (smaller) size is accepted with the fields it
 * lacks read as 0; structs the library fills are written only up to the
 * caller's size.
 */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/health_pipeline.h"
#include "nebula/manager.h"
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
    nr_pool_options o = NR_POOL_OPTIONS(.id = id, .type = &nr_fake_type, .type_ud = &f->fake,
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
        NR_RESOURCE_SPEC(.id = "db", .type = &nr_fake_type, .type_ud = &f->fake, .config = &f->cfg);
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
    assert_int_equal(nr_manager_shutdown(m, &so, NULL, &err), NR_OK);
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
        cmocka_unit_test(test_manager_options_sizes),
        cmocka_unit_test_setup_teardown(test_spec_info_and_shutdown, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stats_written_up_to_size, nr_pool_fixture_setup,
                                        nr_pool_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_manager_control.c - the pool controls by resource id: resize,
 * suspend/resume and evict-all through the manager, on a plain resource and
 * on a tenant-partitioned one (pools made later inherit them), and their
 * errors (unknown id, a size that breaks a rule).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

typedef struct fixture {
    nr_mock fake;
    nr_mock_config cfg;
    nr_manager *m;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    nr_mock_init(&f->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    assert_int_equal(nr_manager_create(&f->m, &mo, NULL), NR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    if (nr_manager_destroy(f->m, &err) != NR_OK)
        fail_msg("nr_manager_destroy: %s", err.message);
    assert_int_equal(atomic_load(&f->fake.creates), atomic_load(&f->fake.destroys));
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
    return 0;
}

static void start(fixture *f, nr_partition partition, int64_t min_idle)
{
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 2;
    pc.min_idle = min_idle;
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                          .config = &f->cfg, .pool = &pc, .partition = partition);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
}

static nr_pool_stats stats(fixture *f)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "db", &i, NULL), NR_OK);
    return i.stats;
}

static void test_errors_name_the_resource_and_field(void **state)
{
    fixture *f = *state;
    start(f, NR_PARTITION_NONE, 0);
    nr_error err = {0};
    assert_int_equal(nr_manager_resize(f->m, "nope", 0, 4, &err), NR_ENOTFOUND);
    NR_ASSERT_ERR(err, NR_ENOTFOUND, "resource 'nope' is not registered");
    assert_int_equal(nr_manager_suspend(f->m, "nope", &err), NR_ENOTFOUND);
    assert_int_equal(nr_manager_resume(f->m, "nope", &err), NR_ENOTFOUND);
    assert_int_equal(nr_manager_evict_all(f->m, "nope", NULL, &err), NR_ENOTFOUND);
    assert_int_equal(nr_manager_resize(f->m, "db", 5, 4, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "resource 'db': $.pool.min_idle");
    assert_int_equal(nr_manager_resize(f->m, "db", 0, 0, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.pool.max_size");
    assert_int_equal(stats(f).max_size, 2); /* nothing changed */
}

static void test_resize_suspend_evict_by_id(void **state)
{
    fixture *f = *state;
    start(f, NR_PARTITION_NONE, 1);
    nr_error err = {0};
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT, c = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &a, &err), NR_OK);
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &b, &err), NR_OK);
    nr_ctx zero = NR_CTX(.deadline = nr_deadline_in_ns(0));
    assert_int_equal(nr_manager_acquire(f->m, "db", &zero, &c, &err), NR_EEXHAUSTED);
    assert_int_equal(nr_manager_resize(f->m, "db", 0, 3, &err), NR_OK);
    assert_int_equal(stats(f).max_size, 3);
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &c, &err), NR_OK);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(nr_guard_release(&b), NR_OK);
    assert_int_equal(nr_guard_release(&c), NR_OK);
    /* suspended: an idle instance is not handed out */
    assert_int_equal(nr_manager_suspend(f->m, "db", &err), NR_OK);
    assert_true(stats(f).suspended);
    nr_ctx brief = NR_CTX(.deadline = nr_deadline_in_ms(30));
    assert_int_equal(nr_manager_acquire(f->m, "db", &brief, &a, &err), NR_ETIMEDOUT);
    assert_int_equal(nr_manager_resume(f->m, "db", &err), NR_OK);
    assert_false(stats(f).suspended);
    brief.deadline = nr_deadline_in_ms(5000);
    assert_int_equal(nr_manager_acquire(f->m, "db", &brief, &a, &err), NR_OK);
    assert_int_equal(nr_guard_release(&a), NR_OK);
    /* evict all: the idle ones go now */
    uint32_t idle = stats(f).idle, gone = 0;
    assert_true(idle > 0);
    assert_int_equal(nr_manager_evict_all(f->m, "db", &gone, &err), NR_OK);
    assert_int_equal(gone, idle);
    assert_int_equal(stats(f).evicted_generation, idle);
}

static void test_tenant_pools_inherit_controls(void **state)
{
    fixture *f = *state;
    start(f, NR_PARTITION_TENANT, 0);
    nr_error err = {0};
    nr_scope t1, t2;
    nr_scope_make(&t1, "t1", NULL, NULL, NULL, NULL);
    nr_scope_make(&t2, "t2", NULL, NULL, NULL, NULL);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx c1 = NR_CTX(.scope = &t1);
    assert_int_equal(nr_manager_acquire(f->m, "db", &c1, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_manager_resize(f->m, "db", 0, 5, &err), NR_OK);
    assert_int_equal(nr_manager_suspend(f->m, "db", &err), NR_OK);
    /* a tenant pool made now starts resized and suspended */
    nr_ctx c2 = NR_CTX(.scope = &t2, .deadline = nr_deadline_in_ms(30));
    assert_int_equal(nr_manager_acquire(f->m, "db", &c2, &g, &err), NR_ETIMEDOUT);
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "db", &i, NULL), NR_OK);
    assert_int_equal(i.pools, 2);
    assert_int_equal(i.stats.max_size, 5 + 5); /* summed over both tenants' pools */
    assert_true(i.stats.suspended);
    assert_int_equal(nr_manager_resume(f->m, "db", &err), NR_OK);
    c2.deadline = nr_deadline_in_ms(5000);
    assert_int_equal(nr_manager_acquire(f->m, "db", &c2, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_errors_name_the_resource_and_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize_suspend_evict_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_pools_inherit_controls, setup, teardown),
    };
    return cmocka_run_group_tests_name("manager_control", tests, NULL, NULL);
}

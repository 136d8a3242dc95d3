/*
 * test_admin_tenants.c - a partitioned resource's tenants in /status
 * (src/admin/admin_tenants.c): the busiest ADMIN_TOP_TENANTS by in-use
 * then acquires, ties in first-seen order, the rest summed; and the same
 * through a running admin server and manager.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

static nr_pool_stats stats_of(uint32_t in_use, uint64_t acquires, int64_t wait_ns_max)
{
    nr_pool_stats s = NR_POOL_STATS_INIT;
    s.in_use = in_use;
    s.total = in_use + 1;
    s.max_size = 4;
    s.acquires = acquires;
    s.wait_ns_max = wait_ns_max;
    return s;
}

static void test_ranking(void **state)
{
    (void)state;
    admin_tenants t;
    memset(&t, 0, sizeof(t));
    /* t0..t14: in use k % 4, acquires 100 - k; t3 and t7 and t11 have 3 in use */
    for (int k = 0; k < 15; k++) {
        char id[16];
        snprintf(id, sizeof(id), "t%d", k);
        nr_pool_stats s = stats_of((uint32_t)(k % 4), (uint64_t)(100 - k), k);
        admin_tenants_add(&t, id, &s);
    }
    const char *want[] = {"t3", "t7", "t11", "t2", "t6", "t10", "t14", "t1", "t5", "t9"};
    assert_int_equal(t.ntop, ADMIN_TOP_TENANTS);
    for (size_t i = 0; i < ADMIN_TOP_TENANTS; i++)
        assert_string_equal(t.top[i].id, want[i]);
    /* the rest: t13 (1 in use), t0, t4, t8, t12 (0 in use) */
    assert_int_equal(t.others, 5);
    assert_int_equal(t.rest.in_use, 1);
    assert_int_equal(t.rest.acquires, 87 + 100 + 96 + 92 + 88);
    assert_int_equal(t.rest.total, 1 + 5);
    assert_int_equal(t.rest.max_size, 5 * 4);
    assert_int_equal(t.rest.wait_ns_max, 13);
}

static void test_ties_keep_first_seen_order(void **state)
{
    (void)state;
    admin_tenants t;
    memset(&t, 0, sizeof(t));
    nr_pool_stats s = stats_of(1, 5, 0);
    admin_tenants_add(&t, "early", &s);
    admin_tenants_add(&t, "late", &s);
    nr_pool_stats more = stats_of(1, 6, 0); /* the same in use, more acquires */
    admin_tenants_add(&t, "busier", &more);
    assert_int_equal(t.ntop, 3);
    assert_string_equal(t.top[0].id, "busier");
    assert_string_equal(t.top[1].id, "early");
    assert_string_equal(t.top[2].id, "late");
    assert_int_equal(t.others, 0);
    assert_false(admin_tenant_before(&s, &s));
}

/* A long tenant id is kept whole (they are at most NR_SCOPE_ID_MAX - 1). */
static void test_long_tenant_id(void **state)
{
    (void)state;
    admin_tenants t;
    memset(&t, 0, sizeof(t));
    char id[NR_SCOPE_ID_MAX];
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    nr_pool_stats s = stats_of(0, 0, 0);
    admin_tenants_add(&t, id, &s);
    assert_string_equal(t.top[0].id, id);
}

/* ---- through the server ----------------------------------------------------------- */

static void test_status_of_a_partitioned_resource(void **state)
{
    (void)state;
    nr_mock fake;
    nr_mock_init(&fake);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, NULL), NR_OK);
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "per-tenant", .type = &nr_mock_type, .type_ud = &fake,
                         .config = &cfg, .partition = NR_PARTITION_TENANT);
    assert_int_equal(nr_manager_register(m, &s, NULL), NR_OK);
    nr_resource_spec plain =
        NR_RESOURCE_SPEC(.id = "plain", .type = &nr_mock_type, .type_ud = &fake, .config = &cfg);
    assert_int_equal(nr_manager_register(m, &plain, NULL), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), NULL), NR_OK);
    nr_admin *a = NULL;
    assert_int_equal(nr_admin_start(&a, m, NULL, NULL), NR_OK);

    /* 13 tenants; tenant k acquires k + 1 times; t4 and t9 keep a lease */
    enum { TENANTS = 13 };
    nr_guard kept[2] = {NR_GUARD_INIT, NR_GUARD_INIT};
    for (int k = 0; k < TENANTS; k++) {
        char id[16];
        snprintf(id, sizeof(id), "t%d", k);
        nr_scope sc;
        assert_int_equal(nr_scope_make(&sc, id, NULL, NULL, NULL, NULL), NR_OK);
        nr_ctx ctx = NR_CTX(.scope = &sc);
        for (int n = 0; n <= k; n++) {
            nr_guard g = NR_GUARD_INIT;
            assert_int_equal(nr_manager_acquire(m, "per-tenant", &ctx, &g, NULL), NR_OK);
            if (n == 0 && (k == 4 || k == 9))
                kept[k == 9] = g;
            else
                assert_int_equal(nr_guard_release(&g), NR_OK);
        }
    }
    char *text = admin_status_json(a, 0);
    assert_non_null(text);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    json_t *res = json_object_get(doc, "resources"), *pt = NULL, *pl = NULL;
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *r = json_array_get(res, i);
        const char *rid = json_string_value(json_object_get(r, "id"));
        if (!strcmp(rid, "per-tenant"))
            pt = r;
        else if (!strcmp(rid, "plain"))
            pl = r;
    }
    assert_non_null(pt);
    assert_non_null(pl);
    assert_null(json_object_get(pl, "tenants")); /* only for partitioned resources */
    json_t *top = json_object_get(pt, "tenants");
    assert_int_equal(json_array_size(top), ADMIN_TOP_TENANTS);
    /* the two holding a lease, then by acquires: t12, t11, ... t5 (t9 and t4 are above) */
    const char *want[] = {"t9", "t4", "t12", "t11", "t10", "t8", "t7", "t6", "t5", "t3"};
    for (size_t i = 0; i < ADMIN_TOP_TENANTS; i++) {
        json_t *e = json_array_get(top, i);
        assert_string_equal(json_string_value(json_object_get(e, "tenant")), want[i]);
        assert_non_null(json_object_get(json_object_get(e, "pool"), "acquires"));
    }
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_array_get(top, 0), "pool"), "in_use")),
                     1);
    json_t *other = json_object_get(pt, "tenants_other");
    assert_int_equal(json_integer_value(json_object_get(other, "count")), 3); /* t0, t1, t2 */
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(other, "pool"), "acquires")), 1 + 2 + 3);
    json_decref(doc);

    for (int i = 0; i < 2; i++)
        assert_int_equal(nr_guard_release(&kept[i]), NR_OK);
    nr_admin_stop(a);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(atomic_load(&fake.creates), atomic_load(&fake.destroys));
    nr_config_free(&nr_mock_config_schema, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_ties_keep_first_seen_order),
        cmocka_unit_test(test_long_tenant_id),
        cmocka_unit_test(test_status_of_a_partitioned_resource),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

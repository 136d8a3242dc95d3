/*
 * test_graph_check.c - nr_graph_check (nebula/graph.h): start levels of a
 * good graph, and each refusal with its message: an id twice, an unknown
 * dependency, a cycle (and the dependency that closes it), a bad id.
 */
#include <string.h>

#include "nebula/graph.h"
#include "testutil.h"

static void test_levels(void **state)
{
    (void)state;
    const char *ids[] = {"app", "db", "cache", "audit"};
    const char *app[] = {"db", "cache"}, *cache[] = {"db"}, *audit[] = {"app"};
    const char *const *deps[] = {app, NULL, cache, audit};
    size_t ndeps[] = {2, 0, 1, 1};
    uint32_t level[4];
    nr_error err = {0};
    assert_int_equal(nr_graph_check(4, ids, deps, ndeps, level, NULL, NULL, &err), NR_OK);
    assert_int_equal(level[1], 0); /* db */
    assert_int_equal(level[2], 1); /* cache, after db */
    assert_int_equal(level[0], 2); /* app, after both */
    assert_int_equal(level[3], 3); /* audit, after app */
    assert_int_equal(nr_graph_check(0, NULL, NULL, NULL, NULL, NULL, NULL, &err), NR_OK);
}

static void test_refusals(void **state)
{
    (void)state;
    nr_error err = {0};
    const char *twice[] = {"a", "b", "a"};
    assert_int_equal(nr_graph_check(3, twice, NULL, NULL, NULL, NULL, NULL, &err), NR_EEXIST);
    NR_ASSERT_ERR(err, NR_EEXIST, "resource 'a' is given twice (nodes 0 and 2)");

    const char *ids[] = {"a", "b", "c"};
    const char *a[] = {"b"}, *b[] = {"zz"};
    const char *const *unknown[] = {a, b, NULL};
    size_t nd[] = {1, 1, 0};
    assert_int_equal(nr_graph_check(3, ids, unknown, nd, NULL, NULL, NULL, &err), NR_ENOTFOUND);
    NR_ASSERT_ERR(err, NR_ENOTFOUND, "resource 'b' depends on 'zz', which is not one of the");

    const char *b2[] = {"x", "c"}, *c2[] = {"a"};
    const char *x_id[] = {"a", "b", "c", "x"};
    const char *const *cyc[] = {a, b2, c2, NULL};
    size_t nc[] = {1, 2, 1, 0};
    size_t at = 99, dep = 99;
    assert_int_equal(nr_graph_check(4, x_id, cyc, nc, NULL, &at, &dep, &err), NR_ECYCLE);
    NR_ASSERT_ERR(err, NR_ECYCLE, "circular dependency: a -> b -> c -> a");
    assert_string_equal(err.resource_id, "a");
    assert_int_equal(at, 2); /* c's depends_on[0] closes it */
    assert_int_equal(dep, 0);

    const char *self_ids[] = {"ok", "me"}, *me[] = {"me"};
    const char *const *self[] = {NULL, me};
    size_t ns[] = {0, 1};
    assert_int_equal(nr_graph_check(2, self_ids, self, ns, NULL, &at, &dep, &err), NR_ECYCLE);
    NR_ASSERT_ERR(err, NR_ECYCLE, "circular dependency: me -> me");
    assert_int_equal(at, 1);

    const char *bad[] = {"a/b"};
    assert_int_equal(nr_graph_check(1, bad, NULL, NULL, NULL, NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "node 0's id has invalid character '/'");
    const char *one[] = {"a"}, *const * nodeps[] = {NULL};
    size_t n1[] = {1};
    assert_int_equal(nr_graph_check(1, one, nodeps, n1, NULL, NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "has 1 dependencies but no array");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

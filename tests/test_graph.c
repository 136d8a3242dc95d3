/*
 * test_graph.c - the dependency graph: start-up order and levels, cycles and
 * their messages, dependents, bad input, out of memory, large graphs, and
 * property tests against independent checks.
 *
 * Property tests print their seed; replay a failure with NR_TEST_SEED=<seed>
 * (and NR_TEST_ITERATIONS=<n> to run longer).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager/graph.h"
#include "nebula/alloc.h"

/* ---- a test graph: owns its arrays, hands out a view ------------------------------- */

typedef struct tg {
    uint32_t n;
    char **owned_names;
    const char **names;
    uint32_t **deps;
    uint32_t *ndeps;
    uint32_t *cap;
} tg;

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    assert_non_null(p);
    return p;
}

/* n nodes without edges, named names[i] or, when names is NULL, "n<i>". */
static void tg_init(tg *g, uint32_t n, const char *const *names)
{
    g->n = n;
    g->owned_names = xcalloc(n, sizeof(char *));
    g->names = xcalloc(n, sizeof(char *));
    g->deps = xcalloc(n, sizeof(uint32_t *));
    g->ndeps = xcalloc(n, sizeof(uint32_t));
    g->cap = xcalloc(n, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) {
        if (names) {
            g->names[i] = names[i];
        } else {
            g->owned_names[i] = xcalloc(16, 1);
            snprintf(g->owned_names[i], 16, "n%u", (unsigned)i);
            g->names[i] = g->owned_names[i];
        }
    }
}

/* from depends on to. */
static void tg_edge(tg *g, uint32_t from, uint32_t to)
{
    if (g->ndeps[from] == g->cap[from]) {
        g->cap[from] = g->cap[from] ? 2 * g->cap[from] : 2;
        g->deps[from] = realloc(g->deps[from], g->cap[from] * sizeof(uint32_t));
        assert_non_null(g->deps[from]);
    }
    g->deps[from][g->ndeps[from]++] = to;
}

static int tg_has_edge(const tg *g, uint32_t from, uint32_t to)
{
    for (uint32_t k = 0; k < g->ndeps[from]; k++)
        if (g->deps[from][k] == to)
            return 1;
    return 0;
}

static nr__dag_view tg_view(const tg *g)
{
    nr__dag_view v = {g->n, g->names, (const uint32_t *const *)g->deps, g->ndeps};
    return v;
}

static void tg_free(tg *g)
{
    for (uint32_t i = 0; i < g->n; i++) {
        free(g->owned_names[i]);
        free(g->deps[i]);
    }
    free(g->owned_names);
    free(g->names);
    free(g->deps);
    free(g->ndeps);
    free(g->cap);
    memset(g, 0, sizeof(*g));
}

/* ---- checks ------------------------------------------------------------------------ */

/*
 * order is a permutation; each dependency comes before its dependent; level
 * is exactly 0 without dependencies, else 1 + the highest dependency level;
 * order is sorted by (level, index); order read backwards is a valid shutdown
 * order (every dependent before what it depends on).
 */
static void check_order(const tg *g, const uint32_t *order, const uint32_t *level)
{
    uint32_t n = g->n;
    uint32_t *pos = xcalloc(n, sizeof(uint32_t));
    uint32_t *shutdown_pos = xcalloc(n, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        pos[i] = UINT32_MAX;
    for (uint32_t t = 0; t < n; t++) {
        if (order[t] >= n || pos[order[t]] != UINT32_MAX)
            fail_msg("order[%u] = %u is out of range or repeated", (unsigned)t, (unsigned)order[t]);
        pos[order[t]] = t;
    }
    for (uint32_t t = 0; t < n; t++)
        shutdown_pos[order[n - 1 - t]] = t;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t want = 0;
        for (uint32_t k = 0; k < g->ndeps[i]; k++) {
            uint32_t d = g->deps[i][k];
            if (pos[d] >= pos[i])
                fail_msg("node %u starts at %u, before its dependency %u at %u", (unsigned)i,
                         (unsigned)pos[i], (unsigned)d, (unsigned)pos[d]);
            if (shutdown_pos[i] >= shutdown_pos[d])
                fail_msg("shutdown stops %u before its dependent %u", (unsigned)d, (unsigned)i);
            if (level[d] >= level[i])
                fail_msg("level[%u] = %u is not below level[%u] = %u", (unsigned)d,
                         (unsigned)level[d], (unsigned)i, (unsigned)level[i]);
            if (level[d] + 1 > want)
                want = level[d] + 1;
        }
        if (level[i] != want)
            fail_msg("level[%u] = %u, want %u", (unsigned)i, (unsigned)level[i], (unsigned)want);
    }
    for (uint32_t t = 1; t < n; t++) {
        uint32_t a = order[t - 1], b = order[t];
        if (level[a] > level[b] || (level[a] == level[b] && a > b))
            fail_msg("order[%u] = %u (level %u) before order[%u] = %u (level %u)",
                     (unsigned)(t - 1), (unsigned)a, (unsigned)level[a], (unsigned)t, (unsigned)b,
                     (unsigned)level[b]);
    }
    free(pos);
    free(shutdown_pos);
}

/* Order g, expecting success; checks the result, and that level == NULL gives
 * the same order. Fills order/level when given. */
static void order_ok(const tg *g, uint32_t *order_out, uint32_t *level_out)
{
    nr__dag_view v = tg_view(g);
    uint32_t *order = xcalloc(g->n, sizeof(uint32_t));
    uint32_t *order2 = xcalloc(g->n, sizeof(uint32_t));
    uint32_t *level = xcalloc(g->n, sizeof(uint32_t));
    nr_error err;
    nr_error_clear(&err);
    int rc = nr__dag_order(&v, order, level, &err);
    if (rc != NR_OK)
        fail_msg("nr__dag_order: %s: %s", nr_err_name(rc), err.message);
    assert_int_equal(err.code, NR_OK); /* untouched on success */
    check_order(g, order, level);
    assert_int_equal(nr__dag_order(&v, order2, NULL, NULL), NR_OK);
    if (g->n > 0)
        assert_memory_equal(order, order2, g->n * sizeof(uint32_t));
    if (order_out)
        memcpy(order_out, order, g->n * sizeof(uint32_t));
    if (level_out)
        memcpy(level_out, level, g->n * sizeof(uint32_t));
    free(order);
    free(order2);
    free(level);
}

/* The message nr__dag_order gives for cycle[0..len-1] (first repeated at the end). */
static char *cycle_text(const tg *g, const uint32_t *cycle, uint32_t len)
{
    size_t size = 32;
    for (uint32_t t = 0; t < len; t++)
        size += strlen(g->names[cycle[t]]) + 4;
    char *s = xcalloc(size, 1);
    strcpy(s, "circular dependency: ");
    for (uint32_t t = 0; t < len; t++) {
        if (t > 0)
            strcat(s, " -> ");
        strcat(s, g->names[cycle[t]]);
    }
    return s;
}

/* message is full_text, or, when that does not fit, its cut form ending in "...". */
static void assert_message_is(const nr_error *err, const char *full_text)
{
    size_t len = strlen(full_text);
    if (len < NR_ERROR_MESSAGE_MAX) {
        assert_string_equal(err->message, full_text);
        return;
    }
    assert_int_equal(err->truncated, 1);
    assert_int_equal(strlen(err->message), NR_ERROR_MESSAGE_MAX - 1);
    assert_memory_equal(err->message, full_text, NR_ERROR_MESSAGE_MAX - 4);
    assert_string_equal(err->message + NR_ERROR_MESSAGE_MAX - 4, "...");
}

/* cycle[0..len-1] is a real simple cycle: first == last, every consecutive
 * pair an edge, no other repeats, the lowest index first. */
static void check_real_cycle(const tg *g, const uint32_t *cycle, uint32_t len)
{
    if (len < 2 || cycle[0] != cycle[len - 1])
        fail_msg("cycle of %u entries does not end where it starts", (unsigned)len);
    unsigned char *seen = xcalloc(g->n, 1);
    for (uint32_t t = 0; t + 1 < len; t++) {
        assert_true(cycle[t] < g->n);
        if (seen[cycle[t]]++)
            fail_msg("node %u repeats inside the cycle", (unsigned)cycle[t]);
        if (!tg_has_edge(g, cycle[t], cycle[t + 1]))
            fail_msg("cycle step %u -> %u is not an edge", (unsigned)cycle[t],
                     (unsigned)cycle[t + 1]);
        if (cycle[t] < cycle[0])
            fail_msg("cycle starts at %u, not at its lowest node %u", (unsigned)cycle[0],
                     (unsigned)cycle[t]);
    }
    free(seen);
}

/* nr__dag_order fails with NR_ECYCLE and the message spells exactly want. */
static void expect_cycle_message(const tg *g, const char *want, const char *want_id)
{
    nr__dag_view v = tg_view(g);
    uint32_t *order = xcalloc(g->n, sizeof(uint32_t));
    uint32_t *level = xcalloc(g->n, sizeof(uint32_t));
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr__dag_order(&v, order, level, &err), NR_ECYCLE);
    assert_int_equal(err.code, NR_ECYCLE);
    assert_string_equal(err.message, want);
    assert_string_equal(err.resource_id, want_id);
    assert_int_equal(err.truncated, 0);
    /* Without a level buffer and without err: the same outcome. */
    assert_int_equal(nr__dag_order(&v, order, NULL, NULL), NR_ECYCLE);
    free(order);
    free(level);
}

/* ---- basic shapes ------------------------------------------------------------------ */

static void test_empty_graph(void **state)
{
    (void)state;
    nr__dag_view v = {0, NULL, NULL, NULL};
    nr_error err;
    nr_error_clear(&err);
    err.code = NR_EBUSY; /* a success leaves err untouched */
    assert_int_equal(nr__dag_order(&v, NULL, NULL, &err), NR_OK);
    assert_int_equal(err.code, NR_EBUSY);
    uint32_t order[1] = {7}, level[1] = {7}, cycle[1] = {7}, len = 7;
    assert_int_equal(nr__dag_order(&v, order, level, NULL), NR_OK);
    assert_int_equal(order[0], 7); /* nothing written */
    assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), 0);
    assert_int_equal(len, 0);
    unsigned char mark[1];
    assert_int_equal(nr__dag_dependents(&v, 0, mark), NR_EINVAL); /* no node 0 */
}

static void test_single_node(void **state)
{
    (void)state;
    static const char *const names[] = {"db"};
    tg g;
    tg_init(&g, 1, names);
    uint32_t order[1], level[1], cycle[2], len;
    order_ok(&g, order, level);
    assert_int_equal(order[0], 0);
    assert_int_equal(level[0], 0);
    nr__dag_view v = tg_view(&g);
    assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), 0);
    assert_int_equal(len, 0);
    unsigned char mark[1] = {1};
    assert_int_equal(nr__dag_dependents(&v, 0, mark), NR_OK);
    assert_int_equal(mark[0], 0);
    tg_free(&g);
}

static void test_chain_orders_dependencies_first(void **state)
{
    (void)state;
    /* Node i depends on node i + 1: the start-up order runs against the index. */
    tg g;
    tg_init(&g, 5, NULL);
    for (uint32_t i = 0; i + 1 < 5; i++)
        tg_edge(&g, i, i + 1);
    uint32_t order[5], level[5];
    order_ok(&g, order, level);
    for (uint32_t t = 0; t < 5; t++) {
        assert_int_equal(order[t], 4 - t);
        assert_int_equal(level[t], 4 - t);
    }
    /* Everything above node 4 depends on it; nothing depends on node 0. */
    nr__dag_view v = tg_view(&g);
    unsigned char mark[5];
    assert_int_equal(nr__dag_dependents(&v, 4, mark), NR_OK);
    assert_memory_equal(mark, ((unsigned char[]){1, 1, 1, 1, 0}), 5);
    assert_int_equal(nr__dag_dependents(&v, 0, mark), NR_OK);
    assert_memory_equal(mark, ((unsigned char[]){0, 0, 0, 0, 0}), 5);
    assert_int_equal(nr__dag_dependents(&v, 2, mark), NR_OK);
    assert_memory_equal(mark, ((unsigned char[]){1, 1, 0, 0, 0}), 5);
    tg_free(&g);
}

static void test_diamond(void **state)
{
    (void)state;
    /* app depends on cache and api; both depend on db. Indices put db last. */
    static const char *const names[] = {"app", "cache", "api", "db"};
    tg g;
    tg_init(&g, 4, names);
    tg_edge(&g, 0, 1);
    tg_edge(&g, 0, 2);
    tg_edge(&g, 1, 3);
    tg_edge(&g, 2, 3);
    uint32_t order[4], level[4];
    order_ok(&g, order, level);
    assert_memory_equal(order, ((uint32_t[]){3, 1, 2, 0}), sizeof(order));
    assert_memory_equal(level, ((uint32_t[]){2, 1, 1, 0}), sizeof(level));
    nr__dag_view v = tg_view(&g);
    unsigned char mark[4];
    assert_int_equal(nr__dag_dependents(&v, 3, mark), NR_OK);
    assert_memory_equal(mark, ((unsigned char[]){1, 1, 1, 0}), 4);
    assert_int_equal(nr__dag_dependents(&v, 1, mark), NR_OK);
    assert_memory_equal(mark, ((unsigned char[]){1, 0, 0, 0}), 4);
    assert_int_equal(nr__dag_dependents(&v, 0, mark), NR_OK);
    assert_memory_equal(mark, ((unsigned char[]){0, 0, 0, 0}), 4);
    tg_free(&g);
}

static void test_levels_follow_longest_dependency_path(void **state)
{
    (void)state;
    /*
     * 0 and 4 have no deps (level 0); 1 depends on 0 (1); 2 depends on 1 (2);
     * 3 depends on 0 and 2: level 3 from the long path, not 1 from the short
     * one; 5 depends on 4 (1); 6 depends on 3 and 5 (4).
     */
    tg g;
    tg_init(&g, 7, NULL);
    tg_edge(&g, 1, 0);
    tg_edge(&g, 2, 1);
    tg_edge(&g, 3, 0);
    tg_edge(&g, 3, 2);
    tg_edge(&g, 5, 4);
    tg_edge(&g, 6, 3);
    tg_edge(&g, 6, 5);
    uint32_t order[7], level[7];
    order_ok(&g, order, level);
    assert_memory_equal(level, ((uint32_t[]){0, 1, 2, 3, 0, 1, 4}), sizeof(level));
    /* Batches: {0, 4}, {1, 5}, {2}, {3}, {6}. */
    assert_memory_equal(order, ((uint32_t[]){0, 4, 1, 5, 2, 3, 6}), sizeof(order));
    tg_free(&g);
}

static void test_duplicate_edges_are_one_dependency(void **state)
{
    (void)state;
    tg g;
    tg_init(&g, 3, NULL);
    tg_edge(&g, 0, 1);
    tg_edge(&g, 0, 1);
    tg_edge(&g, 0, 2);
    tg_edge(&g, 1, 2);
    tg_edge(&g, 1, 2);
    tg_edge(&g, 1, 2);
    uint32_t order[3], level[3];
    order_ok(&g, order, level);
    assert_memory_equal(order, ((uint32_t[]){2, 1, 0}), sizeof(order));
    assert_memory_equal(level, ((uint32_t[]){2, 1, 0}), sizeof(level));
    nr__dag_view v = tg_view(&g);
    unsigned char mark[3];
    assert_int_equal(nr__dag_dependents(&v, 2, mark), NR_OK);
    assert_memory_equal(mark, ((unsigned char[]){1, 1, 0}), 3);
    tg_free(&g);
}

/* ---- cycles ------------------------------------------------------------------------ */

static void test_self_dependency_is_a_cycle(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b"};
    tg g;
    tg_init(&g, 2, names);
    tg_edge(&g, 0, 1);
    tg_edge(&g, 1, 1);
    expect_cycle_message(&g, "circular dependency: b -> b", "b");
    nr__dag_view v = tg_view(&g);
    uint32_t cycle[3], len;
    assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), 1);
    assert_int_equal(len, 2);
    assert_int_equal(cycle[0], 1);
    assert_int_equal(cycle[1], 1);
    /* Dependents still work, and root stays unmarked on its own cycle. */
    unsigned char mark[2];
    assert_int_equal(nr__dag_dependents(&v, 1, mark), NR_OK);
    assert_memory_equal(mark, ((unsigned char[]){1, 0}), 2);
    tg_free(&g);
}

static void test_two_cycle(void **state)
{
    (void)state;
    static const char *const names[] = {"root", "a", "b"};
    tg g;
    tg_init(&g, 3, names);
    tg_edge(&g, 0, 2); /* root is not on the cycle, only above it */
    tg_edge(&g, 1, 2);
    tg_edge(&g, 2, 1);
    expect_cycle_message(&g, "circular dependency: a -> b -> a", "a");
    nr__dag_view v = tg_view(&g);
    uint32_t cycle[4], len;
    assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), 1);
    assert_int_equal(len, 3);
    assert_memory_equal(cycle, ((uint32_t[]){1, 2, 1}), 3 * sizeof(uint32_t));
    tg_free(&g);
}

static void test_three_cycle_message_exact(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b", "c"};
    tg g;
    tg_init(&g, 3, names);
    tg_edge(&g, 0, 1);
    tg_edge(&g, 1, 2);
    tg_edge(&g, 2, 0);
    expect_cycle_message(&g, "circular dependency: a -> b -> c -> a", "a");
    tg_free(&g);
}

static void test_cycle_message_starts_at_lowest_index(void **state)
{
    (void)state;
    /* The search enters the cycle at b (through start), but the message
     * starts at a, the cycle's lowest index. */
    static const char *const names[] = {"start", "a", "b", "c"};
    tg g;
    tg_init(&g, 4, names);
    tg_edge(&g, 0, 2);
    tg_edge(&g, 1, 2);
    tg_edge(&g, 2, 3);
    tg_edge(&g, 3, 1);
    expect_cycle_message(&g, "circular dependency: a -> b -> c -> a", "a");
    nr__dag_view v = tg_view(&g);
    uint32_t cycle[5], len;
    assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), 1);
    assert_int_equal(len, 4);
    assert_memory_equal(cycle, ((uint32_t[]){1, 2, 3, 1}), 4 * sizeof(uint32_t));
    tg_free(&g);
}

static void test_unnamed_nodes_are_numbered(void **state)
{
    (void)state;
    tg g;
    tg_init(&g, 3, NULL);
    tg_edge(&g, 1, 2);
    tg_edge(&g, 2, 1);
    nr__dag_view v = tg_view(&g);
    v.names = NULL;
    uint32_t order[3];
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr__dag_order(&v, order, NULL, &err), NR_ECYCLE);
    assert_string_equal(err.message, "circular dependency: #1 -> #2 -> #1");
    assert_string_equal(err.resource_id, "#1");
    tg_free(&g);
}

static void test_cycle_message_that_just_fits_is_whole(void **state)
{
    (void)state;
    /* "circular dependency: " (21) + A (10) + " -> " + B + " -> " + A (10):
     * 255 characters with a 206-character B, the most the buffer holds. */
    assert_int_equal(NR_ERROR_MESSAGE_MAX, 256);
    for (size_t blen = 206; blen <= 207; blen++) {
        char a[11], b[208];
        memset(a, 'a', 10);
        a[10] = '\0';
        memset(b, 'b', blen);
        b[blen] = '\0';
        const char *names[] = {a, b};
        tg g;
        tg_init(&g, 2, names);
        tg_edge(&g, 0, 1);
        tg_edge(&g, 1, 0);
        uint32_t cycle[] = {0, 1, 0};
        char *want = cycle_text(&g, cycle, 3);
        assert_int_equal(strlen(want), 49 + blen);
        nr__dag_view v = tg_view(&g);
        uint32_t order[2];
        nr_error err;
        nr_error_clear(&err);
        assert_int_equal(nr__dag_order(&v, order, NULL, &err), NR_ECYCLE);
        if (blen == 206) {
            assert_string_equal(err.message, want);
            assert_int_equal(err.truncated, 0);
        } else {
            assert_message_is(&err, want); /* cut, with "..." */
            assert_int_equal(err.truncated, 1);
        }
        free(want);
        tg_free(&g);
    }
}

static void test_long_cycle_message_is_cut_with_dots(void **state)
{
    (void)state;
    enum { N = 40 };
    char names_buf[N][16];
    const char *names[N];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(names_buf[i], sizeof(names_buf[i]), "resource-%02u", (unsigned)i);
        names[i] = names_buf[i];
    }
    tg g;
    tg_init(&g, N, names);
    for (uint32_t i = 0; i < N; i++)
        tg_edge(&g, i, (i + 1) % N);
    uint32_t cycle[N + 1];
    for (uint32_t i = 0; i <= N; i++)
        cycle[i] = i % N;
    char *want = cycle_text(&g, cycle, N + 1);
    assert_true(strlen(want) >= NR_ERROR_MESSAGE_MAX);
    nr__dag_view v = tg_view(&g);
    uint32_t order[N];
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr__dag_order(&v, order, NULL, &err), NR_ECYCLE);
    assert_message_is(&err, want);
    assert_int_equal(err.truncated, 1);
    assert_string_equal(err.resource_id, "resource-00");
    free(want);
    tg_free(&g);
}

/* ---- bad input --------------------------------------------------------------------- */

static void test_bad_index_names_node_and_index(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b", "c"};
    tg g;
    tg_init(&g, 3, names);
    tg_edge(&g, 0, 1);
    tg_edge(&g, 1, 2);
    tg_edge(&g, 1, 7);
    tg_edge(&g, 2, 0); /* a cycle too: the bad index is reported first */
    nr__dag_view v = tg_view(&g);
    uint32_t order[3], cycle[4], len;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr__dag_order(&v, order, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "'b' (node 1) depends on node 7, which does not exist");
    NR_ASSERT_ERR(err, NR_EINVAL, "(3 nodes)");
    assert_string_equal(err.resource_id, "b");
    assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), NR_EINVAL);
    unsigned char mark[3];
    assert_int_equal(nr__dag_dependents(&v, 0, mark), NR_EINVAL);

    /* Exactly n is already out of range. */
    g.deps[1][1] = 3;
    nr_error_clear(&err);
    assert_int_equal(nr__dag_order(&v, order, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "depends on node 3");
    tg_free(&g);
}

static void test_null_arguments(void **state)
{
    (void)state;
    tg g;
    tg_init(&g, 2, NULL);
    tg_edge(&g, 0, 1);
    nr__dag_view v = tg_view(&g);
    uint32_t buf[3], len;
    unsigned char mark[2];
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr__dag_order(NULL, buf, NULL, &err), NR_EINVAL);
    assert_int_equal(err.code, NR_EINVAL);
    assert_int_equal(nr__dag_order(&v, NULL, NULL, &err), NR_EINVAL);
    assert_int_equal(nr__dag_find_cycle(NULL, buf, &len), NR_EINVAL);
    assert_int_equal(nr__dag_find_cycle(&v, NULL, &len), NR_EINVAL);
    assert_int_equal(nr__dag_find_cycle(&v, buf, NULL), NR_EINVAL);
    assert_int_equal(nr__dag_dependents(NULL, 0, mark), NR_EINVAL);
    assert_int_equal(nr__dag_dependents(&v, 0, NULL), NR_EINVAL);
    assert_int_equal(nr__dag_dependents(&v, 2, mark), NR_EINVAL);
    nr__dag_view no_edges = {2, NULL, NULL, NULL};
    assert_int_equal(nr__dag_order(&no_edges, buf, NULL, NULL), NR_EINVAL);
    tg_free(&g);
}

/* ---- memory ------------------------------------------------------------------------ */

enum call_kind { CALL_ORDER, CALL_ORDER_NO_LEVEL, CALL_FIND_CYCLE, CALL_DEPENDENTS };

typedef struct call {
    enum call_kind kind;
    const tg *g;
    uint32_t buf[16], level[16], len;
    unsigned char mark[16];
    nr_error err;
} call;

static int run_call(call *c)
{
    nr__dag_view v = tg_view(c->g);
    nr_error_clear(&c->err);
    switch (c->kind) {
    case CALL_ORDER:
        return nr__dag_order(&v, c->buf, c->level, &c->err);
    case CALL_ORDER_NO_LEVEL:
        return nr__dag_order(&v, c->buf, NULL, &c->err);
    case CALL_FIND_CYCLE:
        return nr__dag_find_cycle(&v, c->buf, &c->len);
    case CALL_DEPENDENTS:
        return nr__dag_dependents(&v, 0, c->mark);
    }
    return NR_EINTERNAL;
}

/* Fail each allocation the call makes, one at a time: each attempt returns
 * NR_ENOMEM, then with no failure left it returns want. Returns the number
 * of allocation points. */
static long fail_every_allocation(call *c, int want)
{
    nr_test_alloc_install();
    assert_int_equal(run_call(c), want);
    long points = nr_test_alloc_count();
    for (long k = 0; k < points; k++) {
        nr_test_alloc_fail_after(k);
        int rc = run_call(c);
        nr_test_alloc_reset();
        if (rc != NR_ENOMEM)
            fail_msg("kind %d with allocation %ld failing: %s", (int)c->kind, k, nr_err_name(rc));
        if (c->kind == CALL_ORDER || c->kind == CALL_ORDER_NO_LEVEL)
            assert_int_equal(c->err.code, NR_ENOMEM);
    }
    nr_test_alloc_fail_after(points);
    assert_int_equal(run_call(c), want);
    nr_test_alloc_reset();
    nr_set_allocator(NULL);
    return points;
}

static void test_out_of_memory_at_every_allocation(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b", "c", "d", "e"};
    tg dag, cyc;
    tg_init(&dag, 5, names);
    tg_edge(&dag, 0, 1);
    tg_edge(&dag, 0, 2);
    tg_edge(&dag, 1, 3);
    tg_edge(&dag, 2, 3);
    tg_init(&cyc, 5, names);
    tg_edge(&cyc, 4, 0);
    tg_edge(&cyc, 0, 1);
    tg_edge(&cyc, 1, 2);
    tg_edge(&cyc, 2, 0);

    call c;
    memset(&c, 0, sizeof(c));
    c.g = &dag;
    for (int kind = CALL_ORDER; kind <= CALL_DEPENDENTS; kind++) {
        c.kind = (enum call_kind)kind;
        long points = fail_every_allocation(&c, kind == CALL_FIND_CYCLE ? 0 : NR_OK);
        assert_true(points >= 1);
    }
    check_order(&dag, c.buf, c.level);

    c.g = &cyc;
    for (int kind = CALL_ORDER; kind <= CALL_DEPENDENTS; kind++) {
        c.kind = (enum call_kind)kind;
        int want = kind == CALL_FIND_CYCLE ? 1 : kind == CALL_DEPENDENTS ? NR_OK : NR_ECYCLE;
        long points = fail_every_allocation(&c, want);
        assert_true(points >= 1);
        if (want == NR_ECYCLE)
            assert_string_equal(c.err.message, "circular dependency: a -> b -> c -> a");
    }
    /* Tracing the cycle is one more allocation than ordering a DAG. */
    c.kind = CALL_ORDER;
    c.g = &dag;
    long dag_points = fail_every_allocation(&c, NR_OK);
    c.g = &cyc;
    assert_true(fail_every_allocation(&c, NR_ECYCLE) > dag_points);
    tg_free(&dag);
    tg_free(&cyc);
}

/* Counts live blocks, to show that every outcome frees its scratch memory. */
static long live_blocks;

static void *count_malloc(size_t size, void *ud)
{
    (void)ud;
    void *p = malloc(size);
    if (p)
        live_blocks++;
    return p;
}

static void *count_realloc(void *p, size_t size, void *ud)
{
    (void)ud;
    void *q = realloc(p, size);
    if (q && !p)
        live_blocks++;
    return q;
}

static void count_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        live_blocks--;
    free(p);
}

static void test_every_outcome_frees_its_memory(void **state)
{
    (void)state;
    static const nr_allocator counting = {count_malloc, count_realloc, count_free, NULL};
    tg dag, cyc, bad;
    tg_init(&dag, 4, NULL);
    tg_edge(&dag, 0, 1);
    tg_edge(&dag, 1, 2);
    tg_init(&cyc, 4, NULL);
    tg_edge(&cyc, 0, 1);
    tg_edge(&cyc, 1, 0);
    tg_init(&bad, 4, NULL);
    tg_edge(&bad, 3, 9);
    const tg *graphs[] = {&dag, &cyc, &bad};
    nr_set_allocator(&counting);
    for (size_t i = 0; i < 3; i++) {
        call c;
        memset(&c, 0, sizeof(c));
        c.g = graphs[i];
        for (int kind = CALL_ORDER; kind <= CALL_DEPENDENTS; kind++) {
            c.kind = (enum call_kind)kind;
            live_blocks = 0;
            (void)run_call(&c);
            if (live_blocks != 0)
                fail_msg("graph %zu, kind %d leaves %ld blocks", i, kind, live_blocks);
        }
    }
    nr_set_allocator(NULL);
    tg_free(&dag);
    tg_free(&cyc);
    tg_free(&bad);
}

/* ---- large graphs ------------------------------------------------------------------ */

enum { BIG = 20000 };

static void test_long_chain(void **state)
{
    (void)state;
    /* Node i depends on node i + 1: one path 20,000 nodes deep. */
    tg g;
    tg_init(&g, BIG, NULL);
    for (uint32_t i = 0; i + 1 < BIG; i++)
        tg_edge(&g, i, i + 1);
    uint32_t *order = xcalloc(BIG, sizeof(uint32_t));
    uint32_t *level = xcalloc(BIG, sizeof(uint32_t));
    order_ok(&g, order, level);
    for (uint32_t t = 0; t < BIG; t++) {
        assert_int_equal(order[t], BIG - 1 - t);
        assert_int_equal(level[t], BIG - 1 - t);
    }
    nr__dag_view v = tg_view(&g);
    uint32_t *cycle = xcalloc(BIG + 1, sizeof(uint32_t));
    uint32_t len = 99;
    assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), 0);
    assert_int_equal(len, 0);
    unsigned char *mark = xcalloc(BIG, 1);
    assert_int_equal(nr__dag_dependents(&v, BIG - 1, mark), NR_OK);
    for (uint32_t i = 0; i + 1 < BIG; i++)
        assert_int_equal(mark[i], 1);
    assert_int_equal(mark[BIG - 1], 0);

    /* Close it into one 20,000-node cycle. */
    tg_edge(&g, BIG - 1, 0);
    v = tg_view(&g);
    assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), 1);
    assert_int_equal(len, BIG + 1);
    for (uint32_t t = 0; t <= BIG; t++)
        assert_int_equal(cycle[t], t % BIG);
    char *want = cycle_text(&g, cycle, len);
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr__dag_order(&v, order, level, &err), NR_ECYCLE);
    assert_message_is(&err, want);
    assert_true(nr_test_msg_has(err.message, "circular dependency: n0 -> n1 -> n2 -> n3"));
    assert_int_equal(err.truncated, 1);
    assert_int_equal(nr__dag_dependents(&v, 0, mark), NR_OK);
    for (uint32_t i = 1; i < BIG; i++)
        assert_int_equal(mark[i], 1);
    assert_int_equal(mark[0], 0);
    free(want);
    free(order);
    free(level);
    free(cycle);
    free(mark);
    tg_free(&g);
}

static void test_wide_graph(void **state)
{
    (void)state;
    /* Node 0 at the bottom, BIG - 2 nodes on it, the last node on all of them. */
    tg g;
    tg_init(&g, BIG, NULL);
    for (uint32_t i = 1; i + 1 < BIG; i++) {
        tg_edge(&g, i, 0);
        tg_edge(&g, BIG - 1, i);
    }
    uint32_t *order = xcalloc(BIG, sizeof(uint32_t));
    uint32_t *level = xcalloc(BIG, sizeof(uint32_t));
    order_ok(&g, order, level);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[BIG - 1], BIG - 1);
    assert_int_equal(level[0], 0);
    assert_int_equal(level[BIG - 1], 2);
    for (uint32_t i = 1; i + 1 < BIG; i++) {
        assert_int_equal(order[i], i);
        assert_int_equal(level[i], 1);
    }
    free(order);
    free(level);
    tg_free(&g);
}

/* ---- properties -------------------------------------------------------------------- */

/* A random DAG: with nodes in a random permutation, each node depends only
 * on nodes earlier in it (sometimes twice on the same one). */
static void random_dag(nr_rng *r, tg *g, uint32_t n)
{
    tg_init(g, n, NULL);
    uint32_t *perm = xcalloc(n, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)nr_rng_below(r, i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    uint32_t max_deps = (uint32_t)nr_rng_below(r, 6);
    for (uint32_t p = 1; p < n; p++) {
        uint32_t k = (uint32_t)nr_rng_below(r, max_deps + 1);
        for (uint32_t e = 0; e < k; e++)
            tg_edge(g, perm[p], perm[nr_rng_below(r, p)]);
    }
    free(perm);
}

static uint32_t random_size(nr_rng *r)
{
    return nr_rng_chance(r, 1, 10) ? (uint32_t)nr_rng_below(r, 400) : (uint32_t)nr_rng_below(r, 48);
}

static void test_prop_random_dags_order_and_levels(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("graph_prop dag_order"));
    int iters = nr_test_iterations(300);
    for (int it = 0; it < iters; it++) {
        tg g;
        random_dag(&r, &g, random_size(&r));
        order_ok(&g, NULL, NULL); /* every edge, level and the shutdown order */
        nr__dag_view v = tg_view(&g);
        uint32_t *cycle = xcalloc(g.n + 1, sizeof(uint32_t));
        uint32_t len;
        assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), 0);
        free(cycle);
        tg_free(&g);
    }
}

/* The names in a message "circular dependency: nA -> nB -> ...", as indices. */
static uint32_t parse_cycle_message(const char *message, uint32_t *out, uint32_t cap)
{
    const char *prefix = "circular dependency: ";
    assert_memory_equal(message, prefix, strlen(prefix));
    const char *s = message + strlen(prefix);
    uint32_t len = 0;
    for (;;) {
        assert_true(len < cap);
        assert_int_equal(s[0], 'n');
        char *end;
        out[len++] = (uint32_t)strtoul(s + 1, &end, 10);
        assert_true(end > s + 1);
        if (*end == '\0')
            return len;
        assert_memory_equal(end, " -> ", 4);
        s = end + 4;
    }
}

static void test_prop_planted_cycle_is_reported(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("graph_prop planted_cycle"));
    int iters = nr_test_iterations(300);
    int whole_messages = 0;
    for (int it = 0; it < iters; it++) {
        tg g;
        uint32_t n = 1 + random_size(&r);
        random_dag(&r, &g, n);
        /* Plant c[0] -> c[1] -> ... -> c[k-1] -> c[0] over k distinct nodes. */
        uint32_t *pick = xcalloc(n, sizeof(uint32_t));
        for (uint32_t i = 0; i < n; i++)
            pick[i] = i;
        uint32_t k = 1 + (uint32_t)nr_rng_below(&r, n < 8 ? n : 8);
        for (uint32_t i = 0; i < k; i++) {
            uint32_t j = i + (uint32_t)nr_rng_below(&r, n - i);
            uint32_t t = pick[i];
            pick[i] = pick[j];
            pick[j] = t;
        }
        for (uint32_t i = 0; i < k; i++)
            tg_edge(&g, pick[i], pick[(i + 1) % k]);
        free(pick);

        nr__dag_view v = tg_view(&g);
        uint32_t *order = xcalloc(n, sizeof(uint32_t));
        uint32_t *cycle = xcalloc(n + 1, sizeof(uint32_t));
        uint32_t *parsed = xcalloc(n + 2, sizeof(uint32_t));
        uint32_t len;
        nr_error err;
        nr_error_clear(&err);
        int rc = nr__dag_order(&v, order, NULL, &err);
        if (rc != NR_ECYCLE)
            fail_msg("graph of %u nodes with a planted %u-cycle: %s", (unsigned)n, (unsigned)k,
                     nr_err_name(rc));
        assert_int_equal(nr__dag_find_cycle(&v, cycle, &len), 1);
        check_real_cycle(&g, cycle, len);
        /* The message spells that same cycle... */
        char *want = cycle_text(&g, cycle, len);
        assert_message_is(&err, want);
        assert_string_equal(err.resource_id, g.names[cycle[0]]);
        /* ...and, read back on its own, is a real cycle. */
        if (!err.truncated) {
            uint32_t plen = parse_cycle_message(err.message, parsed, n + 2);
            check_real_cycle(&g, parsed, plen);
            whole_messages++;
        }
        free(want);
        free(order);
        free(cycle);
        free(parsed);
        tg_free(&g);
    }
    assert_true(whole_messages > 0);
}

static void test_prop_dependents_match_closure(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("graph_prop dependents"));
    int iters = nr_test_iterations(300);
    enum { MAXN = 40 };
    for (int it = 0; it < iters; it++) {
        /* Any graph: cycles and self-dependencies included, sometimes a DAG. */
        uint32_t n = 1 + (uint32_t)nr_rng_below(&r, MAXN);
        tg g;
        if (nr_rng_chance(&r, 1, 3)) {
            random_dag(&r, &g, n);
        } else {
            tg_init(&g, n, NULL);
            uint32_t edges = (uint32_t)nr_rng_below(&r, 2 * n + 1);
            for (uint32_t e = 0; e < edges; e++)
                tg_edge(&g, (uint32_t)nr_rng_below(&r, n), (uint32_t)nr_rng_below(&r, n));
        }
        /* reach[i][j]: i depends on j through one or more edges (Warshall). */
        static unsigned char reach[MAXN][MAXN];
        memset(reach, 0, sizeof(reach));
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t k = 0; k < g.ndeps[i]; k++)
                reach[i][g.deps[i][k]] = 1;
        for (uint32_t m = 0; m < n; m++)
            for (uint32_t i = 0; i < n; i++)
                if (reach[i][m])
                    for (uint32_t j = 0; j < n; j++)
                        reach[i][j] |= reach[m][j];
        nr__dag_view v = tg_view(&g);
        unsigned char mark[MAXN];
        for (uint32_t root = 0; root < n; root++) {
            memset(mark, 0xAA, sizeof(mark));
            assert_int_equal(nr__dag_dependents(&v, root, mark), NR_OK);
            for (uint32_t i = 0; i < n; i++) {
                unsigned char want = i != root && reach[i][root];
                if (mark[i] != want)
                    fail_msg("n=%u root=%u: mark[%u] = %u, closure says %u", (unsigned)n,
                             (unsigned)root, (unsigned)i, (unsigned)mark[i], (unsigned)want);
            }
        }
        tg_free(&g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_graph),
        cmocka_unit_test(test_single_node),
        cmocka_unit_test(test_chain_orders_dependencies_first),
        cmocka_unit_test(test_diamond),
        cmocka_unit_test(test_levels_follow_longest_dependency_path),
        cmocka_unit_test(test_duplicate_edges_are_one_dependency),
        cmocka_unit_test(test_self_dependency_is_a_cycle),
        cmocka_unit_test(test_two_cycle),
        cmocka_unit_test(test_three_cycle_message_exact),
        cmocka_unit_test(test_cycle_message_starts_at_lowest_index),
        cmocka_unit_test(test_unnamed_nodes_are_numbered),
        cmocka_unit_test(test_cycle_message_that_just_fits_is_whole),
        cmocka_unit_test(test_long_cycle_message_is_cut_with_dots),
        cmocka_unit_test(test_bad_index_names_node_and_index),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_out_of_memory_at_every_allocation),
        cmocka_unit_test(test_every_outcome_frees_its_memory),
        cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_wide_graph),
        cmocka_unit_test(test_prop_random_dags_order_and_levels),
        cmocka_unit_test(test_prop_planted_cycle_is_reported),
        cmocka_unit_test(test_prop_dependents_match_closure),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}

/*
 * test_manager_prop.c - property tests of the manager on random resource
 * graphs and random scopes:
 *   - random DAGs start dependencies first and shut down dependents first,
 *   - a planted cycle is refused with a message naming a real cycle, before
 *     anything is created,
 *   - a failing resource fails exactly its transitive dependents and leaves
 *     nothing running,
 *   - scopes and tenant partitions isolate callers.
 *
 * Each test prints its seed; replay with NR_TEST_SEED=<seed>, run longer with
 * NR_TEST_ITERATIONS=<n>.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

enum { MAXN = 14 };

/* ---- random graphs of fake resources ----------------------------------------------- */

/* Global order of callback starts, stamped by every fake's on_call hook. */
static atomic_long g_seq;

typedef struct node {
    char id[16];
    nr_mock fake;
    nr_pool_config pcfg;
    const char *dep_ids[MAXN];
    size_t ndeps;
    /* sequence numbers of callback starts; 0 = never */
    atomic_long first_create, last_create, first_destroy, last_destroy;
} node;

typedef struct world {
    int n;
    node nodes[MAXN];
    unsigned char adj[MAXN][MAXN]; /* adj[i][j]: node i depends on node j */
    nr_mock_config cfg;
    nr_manager *m;
} world;

static void stamp_min(atomic_long *slot, long v)
{
    long cur = atomic_load(slot);
    while ((cur == 0 || v < cur) && !atomic_compare_exchange_weak(slot, &cur, v)) {
    }
}

static void stamp_max(atomic_long *slot, long v)
{
    long cur = atomic_load(slot);
    while (v > cur && !atomic_compare_exchange_weak(slot, &cur, v)) {
    }
}

static void on_call_stamp(const char *what, void *arg)
{
    node *nd = arg;
    long s = atomic_fetch_add(&g_seq, 1) + 1;
    if (strcmp(what, "create") == 0) {
        stamp_min(&nd->first_create, s);
        stamp_max(&nd->last_create, s);
    } else if (strcmp(what, "destroy") == 0) {
        stamp_min(&nd->first_destroy, s);
        stamp_max(&nd->last_destroy, s);
    }
}

static void shuffle(nr_rng *r, int *a, int n)
{
    for (int i = 0; i < n; i++)
        a[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)nr_rng_below(r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* n fake resources "r0".."r<n-1>", each with its own fake and pool config. */
static world *world_new(nr_rng *r, int n)
{
    world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->n = n;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &w->cfg, NULL), NR_OK);
    for (int i = 0; i < n; i++) {
        node *nd = &w->nodes[i];
        snprintf(nd->id, sizeof(nd->id), "r%d", i);
        nr_mock_init(&nd->fake);
        nd->fake.on_call = on_call_stamp;
        nd->fake.on_call_arg = nd;
        nr_pool_config_default(&nd->pcfg);
        nd->pcfg.min_idle = 1 + (int64_t)nr_rng_below(r, 2);
        nd->pcfg.max_size = 4;
        nd->pcfg.acquire_timeout_ms = 5000;
        atomic_store(&nd->first_create, 0);
        atomic_store(&nd->last_create, 0);
        atomic_store(&nd->first_destroy, 0);
        atomic_store(&nd->last_destroy, 0);
    }
    return w;
}

static void world_free(world *w)
{
    nr_config_free(&nr_mock_config_schema, &w->cfg);
    free(w);
}

/* Random edges, each only toward a node earlier in a random permutation. */
static void random_dag(world *w, nr_rng *r)
{
    int perm[MAXN];
    shuffle(r, perm, w->n);
    unsigned density = 1 + (unsigned)nr_rng_below(r, 5); /* out of 8 */
    for (int k = 1; k < w->n; k++)
        for (int j = 0; j < k; j++)
            if (nr_rng_chance(r, density, 8))
                w->adj[perm[k]][perm[j]] = 1;
}

/* The dependency id lists, from adj, each in a random order. */
static void finish_deps(world *w, nr_rng *r)
{
    for (int i = 0; i < w->n; i++) {
        node *nd = &w->nodes[i];
        int perm[MAXN];
        shuffle(r, perm, w->n);
        nd->ndeps = 0;
        for (int k = 0; k < w->n; k++)
            if (w->adj[i][perm[k]])
                nd->dep_ids[nd->ndeps++] = w->nodes[perm[k]].id;
    }
}

static void manager_make(world *w, nr_rng *r)
{
    nr_manager_options o = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&o);
    o.workers = 1 + (uint32_t)nr_rng_below(r, 4);
    o.maintain_interval_ms = 0;
    o.health_interval_ms = 0;
    nr_error err;
    nr_error_clear(&err);
    if (nr_manager_create(&w->m, &o, &err) != NR_OK)
        fail_msg("nr_manager_create: %s", err.message);
}

/* Register every node, in a random order. */
static void register_all(world *w, nr_rng *r)
{
    int order[MAXN];
    shuffle(r, order, w->n);
    for (int k = 0; k < w->n; k++) {
        node *nd = &w->nodes[order[k]];
        nr_resource_spec s =
            NR_RESOURCE_SPEC(.id = nd->id, .type = &nr_mock_type, .type_ud = &nd->fake,
                             .config = &w->cfg, .pool = &nd->pcfg, .depends_on = nd->dep_ids,
                             .ndepends = nd->ndeps);
        nr_error err;
        nr_error_clear(&err);
        if (nr_manager_register(w->m, &s, &err) != NR_OK)
            fail_msg("register %s: %s", nd->id, err.message);
    }
}

static nr_resource_info info_of(world *w, int i)
{
    nr_resource_info in = NR_RESOURCE_INFO_INIT;
    nr_error err;
    nr_error_clear(&err);
    if (nr_manager_resource_info(w->m, w->nodes[i].id, &in, &err) != NR_OK)
        fail_msg("info %s: %s", w->nodes[i].id, err.message);
    return in;
}

static void destroy_manager(world *w)
{
    nr_error err;
    nr_error_clear(&err);
    if (nr_manager_destroy(w->m, &err) != NR_OK)
        fail_msg("nr_manager_destroy: %s", err.message);
    w->m = NULL;
}

static void assert_balanced(world *w)
{
    for (int i = 0; i < w->n; i++) {
        nr_mock *f = &w->nodes[i].fake;
        if (atomic_load(&f->creates) != atomic_load(&f->destroys) || atomic_load(&f->live) != 0)
            fail_msg("%s: %ld creates, %ld destroys, %ld live", w->nodes[i].id,
                     atomic_load(&f->creates), atomic_load(&f->destroys), atomic_load(&f->live));
    }
}

/* ---- 1. random DAGs: start order and shutdown order -------------------------------- */

static void test_random_dag_order(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("random_dag_order"));
    int iterations = nr_test_iterations(40);
    for (int it = 0; it < iterations; it++) {
        world *w = world_new(&r, 2 + (int)nr_rng_below(&r, 13));
        random_dag(w, &r);
        finish_deps(w, &r);
        manager_make(w, &r);
        register_all(w, &r);

        nr_error err;
        nr_error_clear(&err);
        if (nr_manager_start(w->m, nr_deadline_in_ms(30000), &err) != NR_OK)
            fail_msg("iteration %d: start: %s", it, err.message);
        uint32_t expected = 0;
        for (int i = 0; i < w->n; i++) {
            node *nd = &w->nodes[i];
            nr_resource_info in = info_of(w, i);
            assert_int_equal(in.state, NR_RS_RUNNING);
            assert_int_equal(in.stats.idle, (uint32_t)nd->pcfg.min_idle);
            assert_int_equal(atomic_load(&nd->fake.creates), nd->pcfg.min_idle);
            expected += (uint32_t)nd->pcfg.min_idle;
        }
        /* dependencies are up (every instance made) before a dependent's first create */
        for (int i = 0; i < w->n; i++)
            for (int j = 0; j < w->n; j++) {
                if (!w->adj[i][j])
                    continue;
                long dep_first = atomic_load(&w->nodes[j].first_create);
                long dep_last = atomic_load(&w->nodes[j].last_create);
                long me_first = atomic_load(&w->nodes[i].first_create);
                if (!(dep_first > 0 && dep_first < me_first && dep_last < me_first))
                    fail_msg("iteration %d: %s depends on %s, but created at %ld while %s was "
                             "created at %ld..%ld",
                             it, w->nodes[i].id, w->nodes[j].id, me_first, w->nodes[j].id,
                             dep_first, dep_last);
            }

        nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
        if (nr_manager_shutdown(w->m, NULL, &rep, &err) != NR_OK)
            fail_msg("iteration %d: shutdown: %s", it, err.message);
        assert_int_equal(rep.destroyed, expected);
        assert_int_equal(rep.nleftovers, 0);
        assert_false(rep.drain_timed_out);
        assert_false(rep.cleanup_timed_out);
        for (int i = 0; i < w->n; i++) {
            node *nd = &w->nodes[i];
            assert_int_equal(atomic_load(&nd->fake.destroys), nd->pcfg.min_idle);
            assert_true(atomic_load(&nd->first_destroy) > 0);
        }
        /* dependents are gone before anything they depend on is touched */
        for (int i = 0; i < w->n; i++)
            for (int j = 0; j < w->n; j++) {
                if (!w->adj[i][j])
                    continue;
                long me_last = atomic_load(&w->nodes[i].last_destroy);
                long dep_first = atomic_load(&w->nodes[j].first_destroy);
                if (!(me_last < dep_first))
                    fail_msg("iteration %d: %s depends on %s, but was destroyed at %ld, after "
                             "%s's first destroy at %ld",
                             it, w->nodes[i].id, w->nodes[j].id, me_last, w->nodes[j].id,
                             dep_first);
            }
        destroy_manager(w);
        assert_balanced(w);
        world_free(w);
    }
}

/* ---- 2. a planted cycle --------------------------------------------------------------- */

/* Index of "r<k>" among w's nodes, or -1. */
static int node_index(const world *w, const char *name, size_t len)
{
    if (len < 2 || len > 3 || name[0] != 'r')
        return -1;
    int k = 0;
    for (size_t i = 1; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        k = k * 10 + (name[i] - '0');
    }
    char back[16];
    snprintf(back, sizeof(back), "r%d", k);
    if (k >= w->n || strlen(back) != len)
        return -1;
    return k;
}

/* Check that msg is "circular dependency: a -> b -> ... -> a" naming a real
 * cycle of w: every name depends on the next, no node twice before the end. */
static void assert_real_cycle(const world *w, const char *msg, int it)
{
    static const char prefix[] = "circular dependency: ";
    if (strncmp(msg, prefix, sizeof(prefix) - 1) != 0)
        fail_msg("iteration %d: message \"%s\" does not start with \"%s\"", it, msg, prefix);
    int names[MAXN + 2], k = 0;
    const char *p = msg + sizeof(prefix) - 1;
    for (;;) {
        const char *arrow = strstr(p, " -> ");
        size_t len = arrow ? (size_t)(arrow - p) : strlen(p);
        int idx = node_index(w, p, len);
        if (idx < 0 || k == MAXN + 2)
            fail_msg("iteration %d: cannot read the cycle in \"%s\"", it, msg);
        names[k++] = idx;
        if (!arrow)
            break;
        p = arrow + 4;
    }
    if (k < 3 || names[0] != names[k - 1])
        fail_msg("iteration %d: \"%s\" is not a closed cycle of two or more", it, msg);
    for (int a = 0; a + 1 < k; a++) {
        if (!w->adj[names[a]][names[a + 1]])
            fail_msg("iteration %d: \"%s\": r%d does not depend on r%d", it, msg, names[a],
                     names[a + 1]);
        for (int b = a + 1; b + 1 < k; b++)
            if (names[a] == names[b])
                fail_msg("iteration %d: \"%s\" passes r%d twice", it, msg, names[a]);
    }
}

static void test_planted_cycle(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("planted_cycle"));
    int iterations = nr_test_iterations(40);
    for (int it = 0; it < iterations; it++) {
        world *w = world_new(&r, 2 + (int)nr_rng_below(&r, 13));
        random_dag(w, &r);
        /* plant c0 -> c1 -> ... -> c(L-1) -> c0 over L distinct nodes */
        int perm[MAXN];
        shuffle(&r, perm, w->n);
        int len = 2 + (int)nr_rng_below(&r, (uint64_t)w->n - 1);
        for (int t = 0; t < len; t++)
            w->adj[perm[t]][perm[(t + 1) % len]] = 1;
        finish_deps(w, &r);
        manager_make(w, &r);
        register_all(w, &r);

        nr_error err;
        nr_error_clear(&err);
        int rc = nr_manager_start(w->m, nr_deadline_in_ms(30000), &err);
        if (rc != NR_ECYCLE)
            fail_msg("iteration %d: start returned %d (%s), not NR_ECYCLE", it, rc, err.message);
        assert_int_equal(err.code, NR_ECYCLE);
        assert_real_cycle(w, err.message, it);
        for (int i = 0; i < w->n; i++) {
            assert_int_equal(atomic_load(&w->nodes[i].fake.create_calls), 0);
            assert_int_equal(atomic_load(&w->nodes[i].fake.creates), 0);
            assert_int_not_equal(info_of(w, i).state, NR_RS_RUNNING);
        }
        destroy_manager(w);
        assert_balanced(w);
        world_free(w);
    }
}

/* ---- 3. a failing resource ------------------------------------------------------------ */

/* mark[i] = 1 for every node that depends on root directly or transitively. */
static void dependents_of(const world *w, int root, unsigned char *mark)
{
    memset(mark, 0, MAXN);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < w->n; i++) {
            if (mark[i] || i == root)
                continue;
            for (int j = 0; j < w->n; j++) {
                if (w->adj[i][j] && (j == root || mark[j])) {
                    mark[i] = 1;
                    changed = 1;
                    break;
                }
            }
        }
    }
}

static void test_start_failure(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("start_failure"));
    int iterations = nr_test_iterations(40);
    for (int it = 0; it < iterations; it++) {
        world *w = world_new(&r, 2 + (int)nr_rng_below(&r, 13));
        random_dag(w, &r);
        finish_deps(w, &r);
        int bad = (int)nr_rng_below(&r, (uint64_t)w->n);
        atomic_store(&w->nodes[bad].fake.fail_create, 1);
        manager_make(w, &r);
        register_all(w, &r);

        char quoted[24];
        snprintf(quoted, sizeof(quoted), "'%s'", w->nodes[bad].id);
        nr_error err;
        nr_error_clear(&err);
        int rc = nr_manager_start(w->m, nr_deadline_in_ms(30000), &err);
        if (rc == NR_OK)
            fail_msg("iteration %d: start succeeded although %s cannot be created", it,
                     w->nodes[bad].id);
        if (!strstr(err.message, quoted))
            fail_msg("iteration %d: start error \"%s\" does not name %s", it, err.message, quoted);

        unsigned char mark[MAXN];
        dependents_of(w, bad, mark);
        for (int i = 0; i < w->n; i++) {
            nr_resource_info in = info_of(w, i);
            if (in.state == NR_RS_RUNNING)
                fail_msg("iteration %d: %s is still running", it, w->nodes[i].id);
            if (i == bad) {
                assert_int_equal(in.state, NR_RS_FAILED);
                assert_int_not_equal(in.last_error.code, NR_OK);
            } else if (mark[i]) {
                if (in.state != NR_RS_DEPENDENCY_FAILED)
                    fail_msg("iteration %d: %s depends on %s but is %s", it, w->nodes[i].id,
                             w->nodes[bad].id, nr_resource_state_name(in.state));
                assert_int_equal(in.last_error.code, NR_EDEPFAIL);
                if (!strstr(in.last_error.message, quoted))
                    fail_msg("iteration %d: %s: \"%s\" does not name %s", it, w->nodes[i].id,
                             in.last_error.message, quoted);
                nr_guard g = NR_GUARD_INIT;
                assert_int_equal(nr_manager_acquire(w->m, w->nodes[i].id, NULL, &g, NULL),
                                 NR_EDEPFAIL);
                assert_false(nr_guard_held(&g));
            } else if (in.state != NR_RS_REGISTERED && in.state != NR_RS_STOPPED) {
                fail_msg("iteration %d: %s does not depend on %s but is %s", it, w->nodes[i].id,
                         w->nodes[bad].id, nr_resource_state_name(in.state));
            }
        }
        /* whatever had started was stopped again */
        assert_balanced(w);
        destroy_manager(w);
        assert_balanced(w);
        world_free(w);
    }
}

/* ---- 4. scopes and tenant partitions ---------------------------------------------------- */

/*
 * A fake type whose create records which pool made each handle: the pool's
 * id and scope (a tenant partition's pool lives at its tenant's scope), so
 * that every grant can be traced back to where it came from.
 */
enum { SIDE_MAX = 2048 };

typedef struct side_row {
    const void *handle;
    char resource[NR_ERROR_ID_MAX];
    nr_scope scope;
} side_row;

static pthread_mutex_t side_mu = PTHREAD_MUTEX_INITIALIZER;
static side_row side[SIDE_MAX];
static int nside;
static nr_resource_type traced_type;

static int traced_create(void **out, const void *config, const nr_create_ctx *ctx, void *ud,
                         nr_error *err)
{
    int rc = nr_mock_type.create(out, config, ctx, ud, err);
    if (rc != NR_OK)
        return rc;
    pthread_mutex_lock(&side_mu);
    if (nside < SIDE_MAX) {
        side_row *row = &side[nside++];
        row->handle = *out;
        snprintf(row->resource, sizeof(row->resource), "%s", ctx->resource_id);
        if (ctx->scope)
            row->scope = *ctx->scope;
        else
            nr_scope_global(&row->scope);
    }
    pthread_mutex_unlock(&side_mu);
    return NR_OK;
}

static void traced_destroy(void *handle, void *ud)
{
    pthread_mutex_lock(&side_mu);
    for (int i = 0; i < nside; i++) {
        if (side[i].handle == handle) {
            side[i] = side[--nside];
            break;
        }
    }
    pthread_mutex_unlock(&side_mu);
    nr_mock_type.destroy(handle, ud);
}

static int side_find(const void *handle, side_row *out)
{
    int found = 0;
    pthread_mutex_lock(&side_mu);
    for (int i = 0; i < nside && !found; i++) {
        if (side[i].handle == handle) {
            *out = side[i];
            found = 1;
        }
    }
    pthread_mutex_unlock(&side_mu);
    return found;
}

enum { TENANTS = 3, HOLD_MAX = 4 };

typedef struct scoped_res {
    char id[16];
    nr_mock fake;
    nr_scope scope;
    nr_partition partition;
    unsigned tenants_granted; /* bit k: a caller in tenant tk got an instance */
} scoped_res;

static void make_scope(nr_scope *s, int level, int t, int wf, int ex, int ac)
{
    char tb[16], wb[16], eb[16], ab[16];
    snprintf(tb, sizeof(tb), "t%d", t);
    snprintf(wb, sizeof(wb), "w%d", wf);
    snprintf(eb, sizeof(eb), "e%d", ex);
    snprintf(ab, sizeof(ab), "a%d", ac);
    if (level == 0) {
        nr_scope_global(s);
        return;
    }
    int rc = nr_scope_make(s, tb, level >= 2 ? wb : NULL, level >= 3 ? eb : NULL,
                           level >= 4 ? ab : NULL, NULL);
    assert_int_equal(rc, NR_OK);
}

static void test_tenant_isolation(void **state)
{
    (void)state;
    traced_type = nr_mock_type;
    traced_type.name = "traced";
    traced_type.create = traced_create;
    traced_type.destroy = traced_destroy;

    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("tenant_isolation"));
    int iterations = nr_test_iterations(30);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    nr_pool_config pcfg;
    nr_pool_config_default(&pcfg);
    pcfg.max_size = HOLD_MAX + 1;
    pcfg.acquire_timeout_ms = 5000;
    nr_manager_options o = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&o);
    o.workers = 2;
    o.maintain_interval_ms = 0;
    o.health_interval_ms = 0;

    for (int it = 0; it < iterations; it++) {
        int n = 3 + (int)nr_rng_below(&r, 8);
        scoped_res *res = calloc((size_t)n, sizeof(*res));
        assert_non_null(res);
        nr_manager *m = NULL;
        assert_int_equal(nr_manager_create(&m, &o, NULL), NR_OK);
        for (int i = 0; i < n; i++) {
            scoped_res *x = &res[i];
            snprintf(x->id, sizeof(x->id), "r%d", i);
            nr_mock_init(&x->fake);
            int level = (int)nr_rng_below(&r, 3); /* Global, Tenant or Workflow */
            make_scope(&x->scope, level, (int)nr_rng_below(&r, TENANTS), (int)nr_rng_below(&r, 2),
                       0, 0);
            x->partition = level <= NR_SCOPE_TENANT && nr_rng_chance(&r, 1, 2) ? NR_PARTITION_TENANT
                                                                               : NR_PARTITION_NONE;
            nr_resource_spec s =
                NR_RESOURCE_SPEC(.id = x->id, .type = &traced_type, .type_ud = &x->fake,
                                 .config = &cfg, .pool = &pcfg, .scope = &x->scope,
                                 .partition = x->partition);
            nr_error err;
            nr_error_clear(&err);
            if (nr_manager_register(m, &s, &err) != NR_OK)
                fail_msg("iteration %d: register %s: %s", it, x->id, err.message);
        }
        nr_error err;
        nr_error_clear(&err);
        if (nr_manager_start(m, nr_deadline_in_ms(30000), &err) != NR_OK)
            fail_msg("iteration %d: start: %s", it, err.message);

        nr_guard held[HOLD_MAX];
        int nheld = 0;
        for (int op = 0; op < 300; op++) {
            if (nheld == HOLD_MAX || (nheld > 0 && nr_rng_chance(&r, 1, 2))) {
                int k = (int)nr_rng_below(&r, (uint64_t)nheld);
                nr_mock_handle *h = nr_guard_handle(&held[k]);
                atomic_fetch_sub(&h->holders, 1);
                assert_int_equal(nr_guard_release(&held[k]), NR_OK);
                held[k] = held[--nheld];
                continue;
            }
            scoped_res *x = &res[nr_rng_below(&r, (uint64_t)n)];
            nr_scope caller;
            int tenant = (int)nr_rng_below(&r, TENANTS + 1); /* t3 has no resource of its own */
            make_scope(&caller, (int)nr_rng_below(&r, NR_SCOPE_LEVELS), tenant,
                       (int)nr_rng_below(&r, 3), (int)nr_rng_below(&r, 2),
                       (int)nr_rng_below(&r, 2));
            bool allowed = nr_scope_contains(&x->scope, &caller) &&
                           (x->partition == NR_PARTITION_NONE || caller.level >= NR_SCOPE_TENANT);
            char where[NR_SCOPE_TEXT_MAX];
            nr_scope_format(&caller, where, sizeof(where));
            nr_ctx ctx = NR_CTX(.scope = &caller);
            nr_guard g = NR_GUARD_INIT;
            nr_error_clear(&err);
            int rc = nr_manager_acquire(m, x->id, &ctx, &g, &err);
            if (!allowed) {
                if (rc != NR_ESCOPE)
                    fail_msg("iteration %d: %s from %s: got %d (%s), not NR_ESCOPE", it, x->id,
                             where, rc, err.message);
                assert_false(nr_guard_held(&g));
                char quoted[24];
                snprintf(quoted, sizeof(quoted), "'%s'", x->id);
                NR_ASSERT_ERR(err, NR_ESCOPE, quoted);
                continue;
            }
            if (rc != NR_OK)
                fail_msg("iteration %d: %s from %s: %s", it, x->id, where, err.message);
            nr_mock_handle *h = nr_guard_handle(&g);
            assert_non_null(h);
            assert_true(h->magic == NR_MOCK_MAGIC);
            if (atomic_fetch_add(&h->holders, 1) != 0)
                fail_msg("iteration %d: %s handed out twice", it, x->id);
            side_row row;
            if (!side_find(h, &row))
                fail_msg("iteration %d: %s: the handle was not made by any pool", it, x->id);
            if (strcmp(row.resource, x->id) != 0)
                fail_msg("iteration %d: asked %s, got an instance of %s", it, x->id, row.resource);
            char from[NR_SCOPE_TEXT_MAX];
            nr_scope_format(&row.scope, from, sizeof(from));
            if (!nr_scope_contains(&row.scope, &caller))
                fail_msg("iteration %d: %s from %s: instance of a pool at %s", it, x->id, where,
                         from);
            if (x->partition == NR_PARTITION_TENANT) {
                if (row.scope.level != NR_SCOPE_TENANT ||
                    strcmp(row.scope.ids[NR_SCOPE_TENANT], caller.ids[NR_SCOPE_TENANT]) != 0)
                    fail_msg("iteration %d: %s from %s: instance of the partition at %s", it, x->id,
                             where, from);
                x->tenants_granted |= 1u << tenant;
            } else if (!nr_scope_equal(&row.scope, &x->scope)) {
                fail_msg("iteration %d: %s from %s: instance of a pool at %s", it, x->id, where,
                         from);
            }
            held[nheld++] = g;
        }
        for (int k = 0; k < nheld; k++) {
            nr_mock_handle *h = nr_guard_handle(&held[k]);
            atomic_fetch_sub(&h->holders, 1);
            assert_int_equal(nr_guard_release(&held[k]), NR_OK);
        }
        /* one pool per tenant that used a partitioned resource */
        for (int i = 0; i < n; i++) {
            if (res[i].partition != NR_PARTITION_TENANT)
                continue;
            nr_resource_info in = NR_RESOURCE_INFO_INIT;
            assert_int_equal(nr_manager_resource_info(m, res[i].id, &in, NULL), NR_OK);
            assert_int_equal(in.pools, (uint32_t)__builtin_popcount(res[i].tenants_granted));
        }
        if (nr_manager_destroy(m, &err) != NR_OK)
            fail_msg("iteration %d: destroy: %s", it, err.message);
        for (int i = 0; i < n; i++) {
            assert_int_equal(atomic_load(&res[i].fake.creates), atomic_load(&res[i].fake.destroys));
            assert_int_equal(atomic_load(&res[i].fake.live), 0);
        }
        pthread_mutex_lock(&side_mu);
        assert_int_equal(nside, 0);
        pthread_mutex_unlock(&side_mu);
        free(res);
    }
    nr_config_free(&nr_mock_config_schema, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_dag_order),
        cmocka_unit_test(test_planted_cycle),
        cmocka_unit_test(test_start_failure),
        cmocka_unit_test(test_tenant_isolation),
    };
    return cmocka_run_group_tests_name("manager_prop", tests, NULL, NULL);
}

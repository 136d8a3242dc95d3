/*
 * test_manager_list.c - enumerating a manager: every resource's description
 * in registration order (type, dependencies, scope, partition, credential
 * reference), the tenant pools of a partitioned resource with their
 * statistics, stopping a walk by the callback's return value, the errors,
 * callbacks that call back into the manager (no lock is held), running out
 * of memory, and a walk racing registrations, unregistrations and new
 * tenants.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

typedef struct fixture {
    nr_mock fake;
    nr_mock_config cfg;
    nr_credential_provider vault;
    nr_manager *m;
} fixture;

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    (void)ref;
    return nr_secret_from_str(out, "s3cret", err);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    nr_mock_init(&f->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    f->vault = (nr_credential_provider){.fetch = vault_fetch, .ud = NULL};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.credentials = &f->vault;
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

static void reg(fixture *f, const char *id, const nr_scope *scope, nr_partition partition,
                const char *const *deps, size_t ndeps, const char *cred)
{
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = id, .type = &nr_mock_type, .type_ud = &f->fake, .config = &f->cfg,
                         .scope = scope, .partition = partition, .depends_on = deps,
                         .ndepends = ndeps, .credential_ref = cred);
    nr_error err = {0};
    if (nr_manager_register(f->m, &s, &err) != NR_OK)
        fail_msg("register %s: %s", id, err.message);
}

static nr_ctx tenant_ctx(nr_scope *sc, const char *tenant)
{
    assert_int_equal(nr_scope_make(sc, tenant, NULL, NULL, NULL, NULL), NR_OK);
    return (nr_ctx)NR_CTX(.scope = sc);
}

/* ---- what a walk saw, copied out of the callbacks ---- */

enum { SEEN_MAX = 16 };

typedef struct seen_res {
    nr_resource_desc d;
    char deps[4][NR_ERROR_ID_MAX];
    char cred[64];
} seen_res;

typedef struct seen {
    seen_res res[SEEN_MAX];
    size_t n;
    int stop_at; /* return stop_ret from this call (1-based); 0 = never */
    int stop_ret;
} seen;

static int collect_res(void *ud, const nr_resource_desc *d)
{
    seen *s = ud;
    assert_true(s->n < SEEN_MAX);
    seen_res *r = &s->res[s->n++];
    r->d = *d;
    assert_true(d->ndeps <= 4);
    for (size_t k = 0; k < d->ndeps; k++)
        snprintf(r->deps[k], sizeof(r->deps[k]), "%s", d->deps[k]);
    snprintf(r->cred, sizeof(r->cred), "%s", d->credential_ref ? d->credential_ref : "");
    return s->stop_at && (int)s->n == s->stop_at ? s->stop_ret : 0;
}

typedef struct seen_tenant {
    char tenant[NR_SCOPE_ID_MAX];
    nr_pool_stats st;
} seen_tenant;

typedef struct seen_tenants {
    seen_tenant rows[SEEN_MAX];
    size_t n;
    int stop_at, stop_ret;
} seen_tenants;

static int collect_tenant(void *ud, const char *tenant, const nr_pool_stats *st)
{
    seen_tenants *s = ud;
    assert_true(s->n < SEEN_MAX);
    seen_tenant *r = &s->rows[s->n++];
    snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
    r->st = *st;
    return s->stop_at && (int)s->n == s->stop_at ? s->stop_ret : 0;
}

/* ---- resources ---- */

/* Registered out of dependency order at three scopes: the walk gives
 * registration order and every field as registered. */
static void test_each_resource_order_and_fields(void **state)
{
    fixture *f = *state;
    seen s = {0};
    assert_int_equal(nr_manager_each_resource(f->m, collect_res, &s, NULL), NR_OK);
    assert_int_equal(s.n, 0); /* nothing registered: never called */

    nr_scope acme, billing;
    assert_int_equal(nr_scope_make(&acme, "acme", NULL, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_scope_make(&billing, "acme", "billing", NULL, NULL, NULL), NR_OK);
    const char *web_deps[] = {"db", "cache"};
    const char *cache_deps[] = {"db"};
    reg(f, "web", &billing, NR_PARTITION_NONE, web_deps, 2, NULL);
    reg(f, "cache", &acme, NR_PARTITION_TENANT, cache_deps, 1, NULL);
    reg(f, "db", NULL, NR_PARTITION_NONE, NULL, 0, "db/password");

    memset(&s, 0, sizeof(s));
    assert_int_equal(nr_manager_each_resource(f->m, collect_res, &s, NULL), NR_OK);
    assert_int_equal(s.n, 3);
    const nr_resource_desc *web = &s.res[0].d, *cache = &s.res[1].d, *db = &s.res[2].d;
    assert_string_equal(web->id, "web");
    assert_string_equal(cache->id, "cache");
    assert_string_equal(db->id, "db");
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(s.res[i].d.type, "mock");

    assert_int_equal(web->ndeps, 2);
    assert_string_equal(s.res[0].deps[0], "db");
    assert_string_equal(s.res[0].deps[1], "cache");
    assert_int_equal(cache->ndeps, 1);
    assert_string_equal(s.res[1].deps[0], "db");
    assert_int_equal(db->ndeps, 0);
    assert_null(db->deps);

    assert_string_equal(web->scope_text, "tenant:acme/workflow:billing");
    assert_true(nr_scope_equal(&web->scope, &billing));
    assert_string_equal(cache->scope_text, "tenant:acme");
    assert_true(nr_scope_equal(&cache->scope, &acme));
    assert_string_equal(db->scope_text, "global");
    assert_int_equal(db->scope.level, NR_SCOPE_GLOBAL);

    assert_int_equal(web->partition, NR_PARTITION_NONE);
    assert_int_equal(cache->partition, NR_PARTITION_TENANT);
    assert_int_equal(db->partition, NR_PARTITION_NONE);

    assert_false(web->has_credential);
    assert_null(web->credential_ref);
    assert_true(db->has_credential);
    assert_string_equal(s.res[2].cred, "db/password"); /* the reference, not the secret */

    /* started, then one gone: the rest keep their order */
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), NULL), NR_OK);
    assert_int_equal(nr_manager_unregister(f->m, "web", nr_deadline_in_ms(5000), NULL), NR_OK);
    memset(&s, 0, sizeof(s));
    assert_int_equal(nr_manager_each_resource(f->m, collect_res, &s, NULL), NR_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.res[0].d.id, "cache");
    assert_string_equal(s.res[1].d.id, "db");
}

/* A non-zero return stops the walk and comes back as it is. */
static void test_each_resource_stops(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof(id), "r%d", i);
        reg(f, id, NULL, NR_PARTITION_NONE, NULL, 0, NULL);
    }
    seen s = {.stop_at = 3, .stop_ret = 7};
    assert_int_equal(nr_manager_each_resource(f->m, collect_res, &s, NULL), 7);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.res[2].d.id, "r2");
    seen first = {.stop_at = 1, .stop_ret = -42};
    assert_int_equal(nr_manager_each_resource(f->m, collect_res, &first, NULL), -42);
    assert_int_equal(first.n, 1);

    nr_error err = {0};
    assert_int_equal(nr_manager_each_resource(NULL, collect_res, &s, &err), NR_EINVAL);
    assert_int_equal(nr_manager_each_resource(f->m, NULL, &s, &err), NR_EINVAL);
}

typedef struct reentry {
    fixture *f;
    int calls;
} reentry;

/* Calls that take the registry lock for writing and the entry's mutex: with
 * either held by the walk they would deadlock (and the test time out). */
static int reenter_res(void *ud, const nr_resource_desc *d)
{
    reentry *r = ud;
    r->calls++;
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(r->f->m, d->id, &info, &err) != NR_OK)
        fail_msg("resource_info %s: %s", d->id, err.message);
    assert_string_equal(info.id, d->id);
    char extra[NR_ERROR_ID_MAX + 8];
    snprintf(extra, sizeof(extra), "%s-extra", d->id);
    reg(r->f, extra, NULL, NR_PARTITION_NONE, NULL, 0, NULL);
    /* the resource being described goes away under the walk */
    if (nr_manager_unregister(r->f->m, d->id, nr_deadline_in_ms(5000), &err) != NR_OK)
        fail_msg("unregister %s: %s", d->id, err.message);
    return 0;
}

static void test_each_resource_callback_reenters(void **state)
{
    fixture *f = *state;
    reg(f, "a", NULL, NR_PARTITION_NONE, NULL, 0, NULL);
    reg(f, "b", NULL, NR_PARTITION_NONE, NULL, 0, NULL);
    reentry r = {f, 0};
    assert_int_equal(nr_manager_each_resource(f->m, reenter_res, &r, NULL), NR_OK);
    assert_int_equal(r.calls, 2); /* the walk is a snapshot: the new ones are not in it */
    seen s = {0};
    assert_int_equal(nr_manager_each_resource(f->m, collect_res, &s, NULL), NR_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.res[0].d.id, "a-extra");
    assert_string_equal(s.res[1].d.id, "b-extra");
}

/* Out of memory at each allocation of the snapshot: NR_ENOMEM and no call. */
static void test_each_resource_out_of_memory(void **state)
{
    fixture *f = *state;
    const char *deps[] = {"a"};
    reg(f, "a", NULL, NR_PARTITION_NONE, NULL, 0, "a/password");
    reg(f, "b", NULL, NR_PARTITION_NONE, deps, 1, NULL);
    int failures = 0;
    for (long k = 0;; k++) {
        seen s = {0};
        nr_error err = {0};
        nr_test_alloc_fail_after(k);
        int rc = nr_manager_each_resource(f->m, collect_res, &s, &err);
        nr_test_alloc_reset();
        if (rc == NR_OK) {
            assert_int_equal(s.n, 2);
            break;
        }
        NR_ASSERT_ERR(err, NR_ENOMEM, "out of memory");
        assert_int_equal(s.n, 0);
        failures++;
    }
    assert_int_equal(failures, 3); /* descriptions, dependency pointers, strings */
}

/* ---- tenants ---- */

static void test_each_tenant_rows(void **state)
{
    fixture *f = *state;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 3;
    nr_resource_spec sp =
        NR_RESOURCE_SPEC(.id = "pt", .type = &nr_mock_type, .type_ud = &f->fake, .config = &f->cfg,
                         .pool = &pc, .partition = NR_PARTITION_TENANT);
    assert_int_equal(nr_manager_register(f->m, &sp, NULL), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), NULL), NR_OK);

    seen_tenants s = {0};
    assert_int_equal(nr_manager_each_tenant(f->m, "pt", collect_tenant, &s, NULL), NR_OK);
    assert_int_equal(s.n, 0); /* no tenant yet */

    /* acme: two leases, one kept; zeta: one given back; beta: one kept */
    nr_scope sa, sz, sb;
    nr_ctx acme = tenant_ctx(&sa, "acme"), zeta = tenant_ctx(&sz, "zeta"),
           beta = tenant_ctx(&sb, "beta");
    nr_guard a1 = NR_GUARD_INIT, a2 = NR_GUARD_INIT, z1 = NR_GUARD_INIT, b1 = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "pt", &acme, &a1, NULL), NR_OK);
    assert_int_equal(nr_manager_acquire(f->m, "pt", &zeta, &z1, NULL), NR_OK);
    assert_int_equal(nr_manager_acquire(f->m, "pt", &acme, &a2, NULL), NR_OK);
    assert_int_equal(nr_manager_acquire(f->m, "pt", &beta, &b1, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&a2), NR_OK);
    assert_int_equal(nr_guard_release(&z1), NR_OK);

    assert_int_equal(nr_manager_each_tenant(f->m, "pt", collect_tenant, &s, NULL), NR_OK);
    assert_int_equal(s.n, 3);
    /* in the order the tenants first acquired */
    assert_string_equal(s.rows[0].tenant, "acme");
    assert_string_equal(s.rows[1].tenant, "zeta");
    assert_string_equal(s.rows[2].tenant, "beta");
    assert_int_equal(s.rows[0].st.acquires, 2);
    assert_int_equal(s.rows[0].st.in_use, 1);
    assert_int_equal(s.rows[1].st.acquires, 1);
    assert_int_equal(s.rows[1].st.in_use, 0);
    assert_int_equal(s.rows[2].st.acquires, 1);
    assert_int_equal(s.rows[2].st.in_use, 1);
    uint64_t acquires = 0;
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.rows[i].st.max_size, 3); /* each with the full limits */
        acquires += s.rows[i].st.acquires;
    }
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "pt", &info, NULL), NR_OK);
    assert_int_equal(info.pools, 3);
    assert_int_equal(info.stats.acquires, acquires);

    seen_tenants one = {.stop_at = 2, .stop_ret = 5};
    assert_int_equal(nr_manager_each_tenant(f->m, "pt", collect_tenant, &one, NULL), 5);
    assert_int_equal(one.n, 2);

    assert_int_equal(nr_guard_release(&a1), NR_OK);
    assert_int_equal(nr_guard_release(&b1), NR_OK);
    /* after shutdown, until destroy: the same rows, closed */
    assert_int_equal(nr_manager_shutdown(f->m, NULL, NULL, NULL), NR_OK);
    memset(&s, 0, sizeof(s));
    assert_int_equal(nr_manager_each_tenant(f->m, "pt", collect_tenant, &s, NULL), NR_OK);
    assert_int_equal(s.n, 3);
    for (size_t i = 0; i < s.n; i++)
        assert_true(s.rows[i].st.closed);
}

static void test_each_tenant_errors(void **state)
{
    fixture *f = *state;
    reg(f, "db", NULL, NR_PARTITION_NONE, NULL, 0, NULL);
    seen_tenants s = {0};
    nr_error err = {0};
    assert_int_equal(nr_manager_each_tenant(f->m, "ghost", collect_tenant, &s, &err), NR_ENOTFOUND);
    NR_ASSERT_ERR(err, NR_ENOTFOUND, "'ghost' is not registered");
    assert_int_equal(nr_manager_each_tenant(f->m, "db", collect_tenant, &s, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource 'db' is not tenant-partitioned");
    assert_string_equal(err.resource_id, "db");
    assert_int_equal(nr_manager_each_tenant(f->m, NULL, collect_tenant, &s, &err), NR_EINVAL);
    assert_int_equal(nr_manager_each_tenant(f->m, "db", NULL, &s, &err), NR_EINVAL);
    assert_int_equal(nr_manager_each_tenant(NULL, "db", collect_tenant, &s, &err), NR_EINVAL);
    assert_int_equal(s.n, 0);
}

typedef struct tenant_reentry {
    nr_manager *m;
    int calls;
} tenant_reentry;

/* resource_info takes the entry's mutex, a new tenant's acquire creates a
 * pool under it, and unregister waits for every reference on the entry. */
static int reenter_tenant(void *ud, const char *tenant, const nr_pool_stats *st)
{
    tenant_reentry *r = ud;
    (void)st;
    r->calls++;
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(r->m, "pt", &info, &err) != NR_OK)
        fail_msg("resource_info: %s", err.message);
    if (r->calls == 1) {
        char id[NR_SCOPE_ID_MAX];
        snprintf(id, sizeof(id), "%s-new", tenant);
        nr_scope sc;
        nr_ctx ctx = tenant_ctx(&sc, id);
        nr_guard g = NR_GUARD_INIT;
        if (nr_manager_acquire(r->m, "pt", &ctx, &g, &err) != NR_OK)
            fail_msg("acquire: %s", err.message);
        assert_int_equal(nr_guard_release(&g), NR_OK);
    } else {
        if (nr_manager_unregister(r->m, "pt", nr_deadline_in_ms(5000), &err) != NR_OK)
            fail_msg("unregister: %s", err.message);
    }
    return 0;
}

static void test_each_tenant_callback_reenters(void **state)
{
    fixture *f = *state;
    reg(f, "pt", NULL, NR_PARTITION_TENANT, NULL, 0, NULL);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), NULL), NR_OK);
    const char *tenants[] = {"t1", "t2"};
    for (size_t i = 0; i < 2; i++) {
        nr_scope sc;
        nr_ctx ctx = tenant_ctx(&sc, tenants[i]);
        nr_guard g = NR_GUARD_INIT;
        assert_int_equal(nr_manager_acquire(f->m, "pt", &ctx, &g, NULL), NR_OK);
        assert_int_equal(nr_guard_release(&g), NR_OK);
    }
    tenant_reentry r = {f->m, 0};
    assert_int_equal(nr_manager_each_tenant(f->m, "pt", reenter_tenant, &r, NULL), NR_OK);
    assert_int_equal(r.calls, 2); /* the tenant made in the walk is not in it */
    assert_int_equal(nr_manager_count(f->m), 0);
}

/* ---- concurrency ---- */

enum { DYN_TENANTS = 3 };

typedef struct race {
    fixture *f;
    pthread_barrier_t go;
    atomic_int stop;
    atomic_long walks, descs, rows, bad;
    int rounds;
} race;

static void bad(race *r, const char *what, const char *id)
{
    print_message("walk: %s (%s)\n", what, id);
    atomic_fetch_add(&r->bad, 1);
}

static int count_row(void *ud, const char *tenant, const nr_pool_stats *st)
{
    race *r = ud;
    if (!tenant[0] || st->max_size == 0)
        bad(r, "empty tenant row", tenant);
    atomic_fetch_add(&r->rows, 1);
    return 0;
}

typedef struct walk {
    race *r;
    size_t n;
} walk;

/* Check a description against how the writers register, then call back. */
static int check_desc(void *ud, const nr_resource_desc *d)
{
    walk *w = ud;
    race *r = w->r;
    size_t i = w->n++;
    if (i == 0 && strcmp(d->id, "base") != 0)
        bad(r, "first is not base", d->id);
    if (i == 1 && strcmp(d->id, "stable") != 0)
        bad(r, "second is not stable", d->id);
    if (strcmp(d->type, "mock") != 0)
        bad(r, "type", d->type);
    int dyn = strncmp(d->id, "dyn", 3) == 0;
    if (dyn && (d->ndeps != 1 || strcmp(d->deps[0], "base") != 0 ||
                d->partition != NR_PARTITION_TENANT || strcmp(d->scope_text, "global") != 0))
        bad(r, "dynamic resource fields", d->id);
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    int rc = nr_manager_resource_info(r->f->m, d->id, &info, NULL);
    if (rc != NR_OK && rc != NR_ENOTFOUND)
        bad(r, "resource_info", d->id);
    if (d->partition == NR_PARTITION_TENANT) {
        rc = nr_manager_each_tenant(r->f->m, d->id, count_row, r, NULL);
        if (rc != NR_OK && !(dyn && rc == NR_ENOTFOUND))
            bad(r, "each_tenant", d->id);
    }
    atomic_fetch_add(&r->descs, 1);
    return 0;
}

static void *walker(void *p)
{
    race *r = p;
    pthread_barrier_wait(&r->go);
    while (!atomic_load(&r->stop)) {
        walk w = {r, 0};
        if (nr_manager_each_resource(r->f->m, check_desc, &w, NULL) != NR_OK)
            bad(r, "each_resource", "");
        if (w.n < 2)
            bad(r, "base or stable missing", "");
        atomic_fetch_add(&r->walks, 1);
    }
    return NULL;
}

static void acquire_in(race *r, const char *id, const char *tenant)
{
    nr_scope sc;
    nr_ctx ctx = tenant_ctx(&sc, tenant);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    if (nr_manager_acquire(r->f->m, id, &ctx, &g, &err) != NR_OK) {
        print_message("acquire %s in %s: %s\n", id, tenant, err.message);
        atomic_fetch_add(&r->bad, 1);
        return;
    }
    nr_guard_release(&g);
}

/* Registers a dependent partitioned resource, uses it in new tenants, and
 * unregisters it again. */
static void *churner(void *p)
{
    race *r = p;
    const char *deps[] = {"base"};
    pthread_barrier_wait(&r->go);
    for (int k = 0; k < r->rounds; k++) {
        char id[32];
        snprintf(id, sizeof(id), "dyn%d", k);
        nr_resource_spec s =
            NR_RESOURCE_SPEC(.id = id, .type = &nr_mock_type, .type_ud = &r->f->fake,
                             .config = &r->f->cfg, .partition = NR_PARTITION_TENANT,
                             .depends_on = deps, .ndepends = 1);
        nr_error err = {0};
        if (nr_manager_register(r->f->m, &s, &err) != NR_OK) {
            print_message("register %s: %s\n", id, err.message);
            atomic_fetch_add(&r->bad, 1);
            continue;
        }
        for (int t = 0; t < DYN_TENANTS; t++) {
            char tenant[32];
            snprintf(tenant, sizeof(tenant), "d%dt%d", k, t);
            acquire_in(r, id, tenant);
        }
        if (nr_manager_unregister(r->f->m, id, nr_deadline_in_ms(5000), &err) != NR_OK) {
            print_message("unregister %s: %s\n", id, err.message);
            atomic_fetch_add(&r->bad, 1);
        }
    }
    return NULL;
}

/* New tenants of the resource that stays. */
static void *tenant_maker(void *p)
{
    race *r = p;
    pthread_barrier_wait(&r->go);
    for (int k = 0; k < r->rounds * DYN_TENANTS; k++) {
        char tenant[32];
        snprintf(tenant, sizeof(tenant), "s%d", k);
        acquire_in(r, "stable", tenant);
    }
    return NULL;
}

static void test_walk_races_changes(void **state)
{
    fixture *f = *state;
    reg(f, "base", NULL, NR_PARTITION_NONE, NULL, 0, NULL);
    reg(f, "stable", NULL, NR_PARTITION_TENANT, NULL, 0, NULL);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), NULL), NR_OK);
    race r = {.f = f, .rounds = nr_test_iterations(100)};
    enum { WALKERS = 2 };
    pthread_barrier_init(&r.go, NULL, WALKERS + 3);
    pthread_t walkers[WALKERS], churn, maker;
    for (int i = 0; i < WALKERS; i++)
        pthread_create(&walkers[i], NULL, walker, &r);
    pthread_create(&churn, NULL, churner, &r);
    pthread_create(&maker, NULL, tenant_maker, &r);
    pthread_barrier_wait(&r.go);
    pthread_join(churn, NULL);
    pthread_join(maker, NULL);
    atomic_store(&r.stop, 1);
    for (int i = 0; i < WALKERS; i++)
        pthread_join(walkers[i], NULL);
    pthread_barrier_destroy(&r.go);
    print_message("%ld walks, %ld descriptions, %ld tenant rows, %ld bad\n", atomic_load(&r.walks),
                  atomic_load(&r.descs), atomic_load(&r.rows), atomic_load(&r.bad));
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.walks) > 0);

    /* what is left: base and stable, with one tenant row per tenant made */
    seen s = {0};
    assert_int_equal(nr_manager_each_resource(f->m, collect_res, &s, NULL), NR_OK);
    assert_int_equal(s.n, 2);
    race counter = {0};
    assert_int_equal(nr_manager_each_tenant(f->m, "stable", count_row, &counter, NULL), NR_OK);
    assert_int_equal(atomic_load(&counter.rows), r.rounds * DYN_TENANTS);
}

int main(void)
{
    nr_test_alloc_install(); /* counts, and fails only when a test asks */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_resource_order_and_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_resource_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_resource_callback_reenters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_resource_out_of_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_tenant_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_tenant_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_tenant_callback_reenters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_races_changes, setup, teardown),
    };
    return cmocka_run_group_tests_name("manager_list", tests, NULL, NULL);
}

/* test_manager.c - unit tests of the manager on the mock resource type. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

enum { NFAKES = 6 };

typedef struct fixture {
    nr_mock fake[NFAKES];
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_manager_options mo;
    nr_manager *m;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    for (int i = 0; i < NFAKES; i++)
        nr_mock_init(&f->fake[i]);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    nr_pool_config_default(&f->pcfg);
    f->pcfg.max_size = 3;
    nr_manager_options_default(&f->mo);
    f->mo.maintain_interval_ms = 0; /* the tests drive the rounds with nr_manager_tick */
    f->mo.health_interval_ms = 0;
    f->mo.workers = 2;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->m) {
        nr_error err = {0};
        int rc = nr_manager_destroy(f->m, &err);
        if (rc != NR_OK)
            fail_msg("nr_manager_destroy: %s", err.message);
    }
    for (int i = 0; i < NFAKES; i++)
        assert_int_equal(atomic_load(&f->fake[i].creates), atomic_load(&f->fake[i].destroys));
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
    return 0;
}

static void make(fixture *f)
{
    assert_int_equal(nr_manager_create(&f->m, &f->mo, NULL), NR_OK);
}

static int reg(fixture *f, const char *id, int fake, const char *const *deps, size_t ndeps,
               nr_error *err)
{
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = id, .type = &nr_mock_type,
                                          .type_ud = &f->fake[fake], .config = &f->cfg,
                                          .pool = &f->pcfg, .depends_on = deps, .ndepends = ndeps);
    return nr_manager_register(f->m, &s, err);
}

static nr_resource_info info(fixture *f, const char *id)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(f->m, id, &i, &err) != NR_OK)
        fail_msg("info %s: %s", id, err.message);
    return i;
}

static void test_create_options(void **state)
{
    fixture *f = *state;
    nr_manager *m = NULL;
    nr_error err = {0};
    f->mo.workers = 0;
    assert_int_equal(nr_manager_create(&m, &f->mo, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "workers must be between 1 and 64");
    f->mo.workers = 2;
    f->mo.failure_threshold = 0;
    assert_int_equal(nr_manager_create(&m, &f->mo, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "failure_threshold");
    assert_null(m);
    assert_int_equal(nr_manager_create(&m, NULL, &err), NR_OK); /* defaults */
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    assert_int_equal(nr_manager_destroy(NULL, &err), NR_OK);
}

static void test_register_errors(void **state)
{
    fixture *f = *state;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "db", 0, NULL, 0, &err), NR_OK);
    assert_int_equal(reg(f, "db", 0, NULL, 0, &err), NR_EEXIST);
    NR_ASSERT_ERR(err, NR_EEXIST, "resource 'db' is already registered");
    assert_int_equal(reg(f, "bad id", 0, NULL, 0, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource id has invalid character ' ' at offset 3");
    const char *self[] = {"me"};
    assert_int_equal(reg(f, "me", 0, self, 1, &err), NR_ECYCLE);
    NR_ASSERT_ERR(err, NR_ECYCLE, "circular dependency: me -> me");
    f->cfg.weight = 1000;
    assert_int_equal(reg(f, "heavy", 0, NULL, 0, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "resource 'heavy': $.config.weight");
    f->cfg.weight = 1;
    f->pcfg.max_size = 0;
    assert_int_equal(reg(f, "empty", 0, NULL, 0, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.pool.max_size");
    f->pcfg.max_size = 3;
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "notype", .config = &f->cfg);
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource 'notype'");
    assert_int_equal(nr_manager_count(f->m), 1);
    /* a missing dependency is named at start */
    const char *ghost[] = {"ghost"};
    assert_int_equal(reg(f, "app", 1, ghost, 1, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource 'app' depends on 'ghost', which is not registered");
    assert_int_equal(info(f, "app").state, NR_RS_FAILED);
    assert_int_equal(atomic_load(&f->fake[0].creates), 0); /* nothing half-started */
}

static void test_config_is_copied(void **state)
{
    fixture *f = *state;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "db", 0, NULL, 0, &err), NR_OK);
    /* the caller's config may change or go away after registration */
    f->cfg.weight = 555;
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(info(f, "db").state, NR_RS_RUNNING);
}

static void test_cycle_is_spelled_out(void **state)
{
    fixture *f = *state;
    make(f);
    nr_error err = {0};
    const char *a[] = {"b"}, *b[] = {"c"}, *c[] = {"a"};
    assert_int_equal(reg(f, "a", 0, a, 1, &err), NR_OK);
    assert_int_equal(reg(f, "b", 1, b, 1, &err), NR_OK);
    assert_int_equal(reg(f, "c", 2, c, 1, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_ECYCLE);
    assert_string_equal(err.message, "circular dependency: a -> b -> c -> a");
    for (int i = 0; i < 3; i++)
        assert_int_equal(atomic_load(&f->fake[i].create_calls), 0);
}

static atomic_long seq;
static long first_create[NFAKES];

static void stamp(const char *what, void *arg)
{
    long *slot = arg;
    if (!strcmp(what, "create") && *slot == 0)
        *slot = atomic_fetch_add(&seq, 1) + 1;
}

static void test_start_order_and_acquire(void **state)
{
    fixture *f = *state;
    make(f);
    atomic_store(&seq, 0);
    for (int i = 0; i < 4; i++) {
        first_create[i] = 0;
        f->fake[i].on_call = stamp;
        f->fake[i].on_call_arg = &first_create[i];
    }
    nr_error err = {0};
    /* registered in an order that is not the start order */
    const char *app[] = {"cache", "db"}, *cache[] = {"db"};
    assert_int_equal(reg(f, "app", 0, app, 2, &err), NR_OK);
    assert_int_equal(reg(f, "cache", 1, cache, 1, &err), NR_OK);
    assert_int_equal(reg(f, "db", 2, NULL, 0, &err), NR_OK);
    assert_int_equal(reg(f, "metrics", 3, NULL, 0, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_true(first_create[2] < first_create[1]); /* db before cache */
    assert_true(first_create[1] < first_create[0]); /* cache before app */
    assert_int_equal(nr_manager_count(f->m), 4);
    nr_resource_info i = info(f, "app");
    assert_int_equal(i.state, NR_RS_RUNNING);
    assert_int_equal(i.health, NR_HEALTH_HEALTHY);
    assert_string_equal(i.type, "mock");
    assert_int_equal(i.pools, 1);

    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "nope", NULL, &g, &err), NR_ENOTFOUND);
    NR_ASSERT_ERR(err, NR_ENOTFOUND, "resource 'nope' is not registered");
    assert_int_equal(nr_manager_acquire(f->m, "cache", NULL, &g, &err), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&g))->magic, NR_MOCK_MAGIC);
    assert_int_equal(info(f, "cache").stats.in_use, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_ESTATE);
}

static void test_start_failure_rolls_back(void **state)
{
    fixture *f = *state;
    make(f);
    nr_error err = {0};
    const char *app[] = {"db"}, *web[] = {"app"};
    assert_int_equal(reg(f, "db", 0, NULL, 0, &err), NR_OK);
    assert_int_equal(reg(f, "app", 1, app, 1, &err), NR_OK);
    assert_int_equal(reg(f, "web", 2, web, 1, &err), NR_OK);
    assert_int_equal(reg(f, "other", 3, NULL, 0, &err), NR_OK);
    atomic_store(&f->fake[0].fail_create, 1);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "start failed: resource 'db'");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "2 dependent(s) not started");
    assert_string_equal(err.resource_id, "db");
    assert_int_equal(err.driver_code, 42);
    assert_int_equal(info(f, "db").state, NR_RS_FAILED);
    nr_resource_info w = info(f, "web");
    assert_int_equal(w.state, NR_RS_DEPENDENCY_FAILED);
    NR_ASSERT_ERR(w.last_error, NR_EDEPFAIL, "which failed: pool 'db': create failed");
    assert_int_equal(info(f, "app").state, NR_RS_DEPENDENCY_FAILED);
    /* the independent one had started and was stopped again, its pool freed */
    assert_int_equal(info(f, "other").state, NR_RS_STOPPED);
    assert_int_equal(info(f, "other").pools, 0);
    assert_int_equal(atomic_load(&f->fake[3].live), 0);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "web", NULL, &g, &err), NR_EDEPFAIL);
    /* the root cause is named, not only the direct dependency */
    NR_ASSERT_ERR(err, NR_EDEPFAIL, "resource 'web' not started: it depends on 'db', which failed");
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "failed to start");

    /* nothing was left started: once db can be reached, a second start works */
    atomic_store(&f->fake[0].fail_create, 0);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(info(f, "other").pools, 1);
    assert_int_equal(nr_manager_acquire(f->m, "web", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_scope_isolation(void **state)
{
    fixture *f = *state;
    make(f);
    nr_scope acme, globex, acme_run;
    nr_scope_make(&acme, "acme", NULL, NULL, NULL, NULL);
    nr_scope_make(&globex, "globex", NULL, NULL, NULL, NULL);
    nr_scope_make(&acme_run, "acme", "billing", "run-7", NULL, NULL);
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "acme-db", .type = &nr_mock_type, .type_ud = &f->fake[0],
                         .config = &f->cfg, .pool = &f->pcfg, .scope = &acme);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    long creates = atomic_load(&f->fake[0].create_calls);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.scope = &globex);
    assert_int_equal(nr_manager_acquire(f->m, "acme-db", &ctx, &g, &err), NR_ESCOPE);
    NR_ASSERT_ERR(err, NR_ESCOPE, "caller's scope tenant:globex is not inside it");
    assert_int_equal(nr_manager_acquire(f->m, "acme-db", NULL, &g, &err), NR_ESCOPE);
    assert_int_equal(atomic_load(&f->fake[0].create_calls), creates);
    ctx.scope = &acme_run;
    assert_int_equal(nr_manager_acquire(f->m, "acme-db", &ctx, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_tenant_partition(void **state)
{
    fixture *f = *state;
    make(f);
    f->pcfg.max_size = 1;
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "shared", .type = &nr_mock_type, .type_ud = &f->fake[0],
                         .config = &f->cfg, .pool = &f->pcfg, .partition = NR_PARTITION_TENANT);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_scope acme, globex;
    nr_scope_make(&acme, "acme", "wf", NULL, NULL, NULL);
    nr_scope_make(&globex, "globex", NULL, NULL, NULL, NULL);
    nr_ctx ca = NR_CTX(.scope = &acme), cg = NR_CTX(.scope = &globex);
    nr_guard a = NR_GUARD_INIT, a2 = NR_GUARD_INIT, g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "shared", &ca, &a, &err), NR_OK);
    /* acme's pool is full; globex still gets its own */
    ca.deadline = nr_deadline_in_ms(10);
    assert_int_equal(nr_manager_acquire(f->m, "shared", &ca, &a2, &err), NR_ETIMEDOUT);
    assert_int_equal(nr_manager_acquire(f->m, "shared", &cg, &g, &err), NR_OK);
    assert_ptr_not_equal(nr_guard_handle(&a), nr_guard_handle(&g));
    nr_resource_info i = info(f, "shared");
    assert_int_equal(i.pools, 2);
    assert_int_equal(i.stats.in_use, 2);
    assert_int_equal(nr_manager_acquire(f->m, "shared", NULL, &a2, &err), NR_ESCOPE);
    NR_ASSERT_ERR(err, NR_ESCOPE, "one pool per tenant");
    assert_int_equal(nr_guard_release(&a), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    /* a partitioned resource must live at Global or Tenant scope */
    s.id = "deep";
    s.scope = &acme;
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_EINVAL);
}

static void test_health_thresholds_and_recovery(void **state)
{
    fixture *f = *state;
    f->mo.failure_threshold = 2;
    f->mo.recovery_threshold = 2;
    f->pcfg.min_idle = 1;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "db", 0, NULL, 0, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(info(f, "db").health, NR_HEALTH_HEALTHY);

    /* the backend goes away: checks fail and creates fail */
    atomic_store(&f->fake[0].health, NR_HEALTH_UNHEALTHY);
    atomic_store(&f->fake[0].fail_create, 1);
    nr_manager_tick(f->m);
    nr_resource_info i = info(f, "db");
    assert_int_equal(i.health, NR_HEALTH_HEALTHY); /* one bad round is below the threshold */
    assert_int_equal(i.consecutive_failures, 1);
    nr_manager_tick(f->m);
    i = info(f, "db");
    assert_int_equal(i.health, NR_HEALTH_UNHEALTHY);
    assert_true(strlen(i.health_reason) > 0);
    nr_guard g = NR_GUARD_INIT;
    long calls = atomic_load(&f->fake[0].create_calls);
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "resource 'db' is unhealthy");
    assert_int_equal(atomic_load(&f->fake[0].create_calls), calls); /* failed fast */

    /* the backend comes back: the rounds probe and heal it */
    atomic_store(&f->fake[0].health, NR_HEALTH_HEALTHY);
    atomic_store(&f->fake[0].fail_create, 0);
    nr_manager_tick(f->m);
    i = info(f, "db");
    assert_int_equal(i.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(i.consecutive_successes, 1);
    nr_manager_tick(f->m);
    assert_int_equal(info(f, "db").health, NR_HEALTH_HEALTHY);
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* degraded is reported at once and does not block acquires */
    atomic_store(&f->fake[0].health, NR_HEALTH_DEGRADED);
    nr_manager_tick(f->m);
    assert_int_equal(info(f, "db").health, NR_HEALTH_DEGRADED);
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_background_rounds_heal(void **state)
{
    fixture *f = *state;
    f->mo.maintain_interval_ms = 5;
    f->mo.health_interval_ms = 5;
    f->mo.failure_threshold = 1;
    f->mo.recovery_threshold = 1;
    f->pcfg.min_idle = 2;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "db", 0, NULL, 0, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    /* a lost instance is replaced in the background */
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_taint(&g), NR_OK);
    for (int i = 0; i < 2000 && info(f, "db").stats.idle < 2; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(info(f, "db").stats.idle, 2);
    /* an unhealthy backend is noticed, and its return too */
    atomic_store(&f->fake[0].health, NR_HEALTH_UNHEALTHY);
    atomic_store(&f->fake[0].fail_create, 1);
    for (int i = 0; i < 2000 && info(f, "db").health != NR_HEALTH_UNHEALTHY; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(info(f, "db").health, NR_HEALTH_UNHEALTHY);
    atomic_store(&f->fake[0].health, NR_HEALTH_HEALTHY);
    atomic_store(&f->fake[0].fail_create, 0);
    for (int i = 0; i < 2000 && info(f, "db").health != NR_HEALTH_HEALTHY; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(info(f, "db").health, NR_HEALTH_HEALTHY);
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

/* ---- credentials ---- */

typedef struct vault {
    atomic_int version;
    atomic_int fail;
    atomic_int fetches;
} vault;

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    vault *v = ud;
    atomic_fetch_add(&v->fetches, 1);
    if (atomic_load(&v->fail))
        return nr_error_set(err, NR_ECRED, NULL, "vault sealed for '%s'", ref);
    if (strcmp(ref, "db/password") != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "no secret named '%s'", ref);
    /* version 1: "pw-1"; version 2: "password-two" */
    return nr_secret_from_str(out, atomic_load(&v->version) == 1 ? "pw-1" : "password-two", err);
}

static void test_credentials_and_rotation(void **state)
{
    fixture *f = *state;
    vault v = {0};
    atomic_store(&v.version, 1);
    nr_credential_provider cp = {.fetch = vault_fetch, .ud = &v};
    f->mo.credentials = &cp;
    make(f);
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake[0],
                         .config = &f->cfg, .pool = &f->pcfg, .credential_ref = "db/password");
    nr_error err = {0};
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_guard old = NR_GUARD_INIT, g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &old, &err), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&old))->credential_len, 4);

    atomic_store(&v.version, 2);
    assert_int_equal(nr_manager_rotate_credential(f->m, "db/password", &err), NR_OK);
    assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&g))->credential_len, 12);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_guard_release(&old), NR_OK); /* built with the old secret: retired */
    nr_resource_info i = info(f, "db");
    assert_int_equal(i.stats.credential_retired, 1);

    assert_int_equal(nr_manager_rotate_credential(f->m, "other", &err), NR_ENOTFOUND);
    atomic_store(&v.fail, 1);
    assert_int_equal(nr_manager_rotate_credential(f->m, "db/password", &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "vault sealed");
    /* no secret value in anything the manager reports */
    i = info(f, "db");
    assert_null(strstr(err.message, "password-two"));
    assert_null(strstr(i.last_error.message, "password-two"));
    assert_null(strstr(i.health_reason, "password-two"));
}

static void test_credential_failure_at_start(void **state)
{
    fixture *f = *state;
    vault v = {0};
    atomic_store(&v.fail, 1);
    nr_credential_provider cp = {.fetch = vault_fetch, .ud = &v};
    f->mo.credentials = &cp;
    make(f);
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake[0],
                         .config = &f->cfg, .pool = &f->pcfg, .credential_ref = "db/password");
    nr_error err = {0};
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "credential 'db/password': vault sealed");
    assert_int_equal(atomic_load(&f->fake[0].create_calls), 0);
}

/* ---- the provider port ---- */

/* An "action" written against the port alone. */
static int count_action(const nr_provider *p, const nr_scope *execution, int *out)
{
    nr_ctx ctx = NR_CTX(.scope = execution, .deadline = nr_deadline_in_ms(1000));
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    int rc = nr_provider_acquire(p, "db", &ctx, &g, &err);
    if (rc != NR_OK)
        return rc;
    nr_mock_handle *h = nr_guard_handle(&g);
    *out = (int)h->serial;
    return nr_guard_release(&g);
}

/* A fake provider: one pool of its own, whatever the id. */
static int fake_provider_acquire(void *self, const char *id, const nr_ctx *ctx, nr_guard *out,
                                 nr_error *err)
{
    (void)id;
    return nr_pool_acquire(self, ctx, out, err);
}

static void test_provider_port(void **state)
{
    fixture *f = *state;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "db", 0, NULL, 0, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_scope exec;
    nr_scope_make(&exec, "acme", "wf", "run-1", NULL, NULL);
    nr_provider real = nr_manager_provider(f->m);
    int serial = 0;
    assert_int_equal(count_action(&real, &exec, &serial), NR_OK);
    assert_true(serial >= 1);

    nr_pool *pool = NULL;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "fake-db", .type = &nr_mock_type,
                                        .type_ud = &f->fake[1], .config = &f->cfg);
    assert_int_equal(nr_pool_create(&pool, &o, &err), NR_OK);
    nr_provider fake = {fake_provider_acquire, pool};
    serial = 0;
    assert_int_equal(count_action(&fake, &exec, &serial), NR_OK);
    assert_int_equal(serial, 1);
    assert_int_equal(atomic_load(&f->fake[1].creates), 1);
    assert_int_equal(nr_pool_destroy(pool, &err), NR_OK);
}

/* ---- registry ---- */

static void test_register_after_start_and_unregister(void **state)
{
    fixture *f = *state;
    make(f);
    nr_error err = {0};
    assert_int_equal(reg(f, "db", 0, NULL, 0, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    const char *deps[] = {"db"}, *ghost[] = {"ghost"};
    assert_int_equal(reg(f, "cache", 1, deps, 1, &err), NR_OK); /* starts at once */
    assert_int_equal(info(f, "cache").state, NR_RS_RUNNING);
    assert_int_equal(reg(f, "late", 2, ghost, 1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "depends on 'ghost', which is not registered");

    assert_int_equal(nr_manager_unregister(f->m, "db", nr_deadline_in_ms(100), &err), NR_EBUSY);
    NR_ASSERT_ERR(err, NR_EBUSY, "1 resource(s) depend on it ('cache')");
    assert_int_equal(nr_manager_unregister(f->m, "nope", nr_deadline_in_ms(100), &err),
                     NR_ENOTFOUND);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "cache", NULL, &g, &err), NR_OK);
    /* a lease still out when the deadline comes */
    assert_int_equal(nr_manager_unregister(f->m, "cache", nr_deadline_in_ms(10), &err),
                     NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "1 lease(s) still out");
    assert_int_equal(nr_manager_count(f->m), 1);
    nr_guard g2 = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "cache", NULL, &g2, &err), NR_ENOTFOUND);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_manager_unregister(f->m, "db", nr_deadline_in_ms(1000), &err), NR_OK);
    assert_int_equal(nr_manager_count(f->m), 0);
    assert_int_equal(atomic_load(&f->fake[0].live), 0);
}

static void test_many_resources(void **state)
{
    fixture *f = *state;
    make(f);
    nr_error err = {0};
    char id[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof(id), "res-%d", i);
        assert_int_equal(reg(f, id, 0, NULL, 0, &err), NR_OK);
    }
    assert_int_equal(nr_manager_count(f->m), 2000);
    /* unregister every third one, so the map deletes inside probe runs */
    for (int i = 0; i < 2000; i += 3) {
        snprintf(id, sizeof(id), "res-%d", i);
        assert_int_equal(nr_manager_unregister(f->m, id, nr_deadline_in_ms(100), &err), NR_OK);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof(id), "res-%d", i);
        nr_resource_info ri = NR_RESOURCE_INFO_INIT;
        int rc = nr_manager_resource_info(f->m, id, &ri, &err);
        assert_int_equal(rc, i % 3 == 0 ? NR_ENOTFOUND : NR_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_is_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle_is_spelled_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_order_and_acquire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_thresholds_and_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_rounds_heal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials_and_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential_failure_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provider_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_after_start_and_unregister, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_resources, setup, teardown),
    };
    return cmocka_run_group_tests_name("manager", tests, NULL, NULL);
}

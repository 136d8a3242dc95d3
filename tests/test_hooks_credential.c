/*
 * test_hooks_credential.c - the credential refresh hook: a secret that
 * expires within the window is fetched again before the create, one outside
 * it is not; a failed refresh keeps a still valid secret (an ERROR event
 * without the value) and refuses the create once it has expired; concurrent
 * creates of one resource fetch once. The provider is the test's own, its
 * expiry far in the past or future of nr_wall_ms(), so nothing depends on
 * timing.
 *
 * Most tests call the hook's before callback with a hand-made nr_hook_call
 * (what a pool passes before a create) and see what it gave the resource
 * through the creates that follow; the last ones add the hook to a manager's
 * registry, so the create that finds the secret due is the one that uses the
 * new secret.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "manager/manager_credential.h"
#include "nebula/hooks_builtin.h"
#include "nebula/manager.h"
#include "testutil.h"

#define ID      "db"
#define REF     "db/token"
#define HOUR_MS (3600 * 1000LL)

/* The test's provider: one ref, its value and its time to live (relative to
 * the moment the manager asks for the expiry; 0: never expires). */
typedef struct vault {
    pthread_mutex_t mu;
    char value[64];  /* [mu] */
    int64_t ttl_ms;  /* [mu] */
    atomic_int fail; /* fetch fails while set */
    atomic_int fetches;
} vault;

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    vault *v = ud;
    if (strcmp(ref, REF) != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "credential '%s': unknown", ref);
    atomic_fetch_add(&v->fetches, 1);
    if (atomic_load(&v->fail))
        return nr_error_set(err, NR_ECRED, NULL, "credential '%s': vault sealed", ref);
    pthread_mutex_lock(&v->mu);
    int rc = nr_secret_from_str(out, v->value, err);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

static int vault_expiry(void *ud, const char *ref, int64_t *expires_ms, nr_error *err)
{
    (void)err;
    (void)ref;
    vault *v = ud;
    pthread_mutex_lock(&v->mu);
    *expires_ms = v->ttl_ms ? nr_wall_ms() + v->ttl_ms : 0;
    pthread_mutex_unlock(&v->mu);
    return NR_OK;
}

static void vault_set(vault *v, const char *value, int64_t ttl_ms)
{
    pthread_mutex_lock(&v->mu);
    snprintf(v->value, sizeof(v->value), "%s", value);
    v->ttl_ms = ttl_ms;
    pthread_mutex_unlock(&v->mu);
}

typedef struct fixture {
    vault v;
    nr_credential_provider cp;
    nr_mock fake;
    nr_mock_config cfg;
    nr_event_bus *bus;
    nr_event_sub *sub;
    nr_manager *m;
    nr_credential_refresh *cr;
    nr_hook_def def;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pthread_mutex_init(&f->v.mu, NULL);
    f->cp = (nr_credential_provider){.fetch = vault_fetch, .ud = &f->v, .expiry = vault_expiry};
    nr_mock_init(&f->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    assert_int_equal(nr_event_bus_create(&f->bus, 256, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(f->bus, &f->sub, NULL), NR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nr_credential_refresh_destroy(f->cr);
    if (f->m) {
        assert_int_equal(nr_manager_shutdown(f->m, NULL, NULL, NULL), NR_OK);
        assert_int_equal(nr_manager_destroy(f->m, NULL), NR_OK);
    }
    assert_int_equal(atomic_load(&f->fake.creates), atomic_load(&f->fake.destroys));
    nr_event_unsubscribe(f->sub);
    nr_event_bus_destroy(f->bus);
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    pthread_mutex_destroy(&f->v.mu);
    free(f);
    return 0;
}

/* A started manager with resource ID holding `value` (ttl_ms as the vault
 * says), and the hook made over it with a window of one minute. */
static void start(fixture *f, const char *value, int64_t ttl_ms)
{
    vault_set(&f->v, value, ttl_ms);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = mo.health_interval_ms = 0;
    mo.credentials = &f->cp;
    mo.events = f->bus;
    assert_int_equal(nr_manager_create(&f->m, &mo, NULL), NR_OK);
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = ID, .type = &nr_mock_type, .type_ud = &f->fake,
                                          .config = &f->cfg, .credential_ref = REF);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_credential_refresh_options o = NR_CREDENTIAL_REFRESH_OPTIONS_INIT;
    nr_credential_refresh_options_default(&o);
    assert_int_equal(o.window_ms, 60000);
    assert_int_equal(nr_credential_refresh_create(&f->cr, f->m, &o, &err), NR_OK);
    nr_credential_refresh_hook(f->cr, &f->def);
    atomic_store(&f->v.fetches, 0);
}

/* What a pool tells the hook before one of its creates. */
static int before_create(fixture *f, nr_error *err)
{
    nr_hook_call call = {.op = NR_HOOK_CREATE, .resource_id = ID, .type_name = "fake"};
    return f->def.before(f->def.ud, &call, err);
}

/* The credential a fresh create of ID gets: every idle instance is evicted
 * first, so the acquire creates. */
static void want_create_with(fixture *f, const char *want)
{
    nr_error err = {0};
    assert_int_equal(nr_manager_evict_all(f->m, ID, NULL, &err), NR_OK);
    long before = atomic_load(&f->fake.creates);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, ID, NULL, &g, &err), NR_OK);
    assert_int_equal(atomic_load(&f->fake.creates), before + 1);
    assert_string_equal(((nr_mock_handle *)nr_guard_handle(&g))->credential, want);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_hook_definition(void **state)
{
    fixture *f = *state;
    start(f, "tok-1", HOUR_MS);
    assert_string_equal(f->def.name, "credential-refresh");
    assert_int_equal(f->def.ops, NR_HOOK_OP_BIT(NR_HOOK_CREATE));
    assert_non_null(f->def.before);
    assert_null(f->def.after);
    assert_ptr_equal(f->def.ud, f->cr);

    nr_credential_refresh *bad = NULL;
    nr_credential_refresh_options o = NR_CREDENTIAL_REFRESH_OPTIONS(.window_ms = -1);
    nr_error err = {0};
    assert_int_equal(nr_credential_refresh_create(&bad, f->m, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "window_ms must be 0..86400000 (got -1)");
    o.window_ms = 86400001;
    assert_int_equal(nr_credential_refresh_create(&bad, f->m, &o, &err), NR_EINVAL);
    assert_int_equal(nr_credential_refresh_create(&bad, NULL, NULL, &err), NR_EINVAL);
    assert_null(bad);
}

static void test_due_secret_refreshed_before_the_create(void **state)
{
    fixture *f = *state;
    start(f, "tok-old", 30 * 1000LL); /* expires in 30 s: inside the 60 s window */
    vault_set(&f->v, "tok-new", HOUR_MS);
    nr_error err = {0};
    assert_int_equal(before_create(f, &err), NR_OK);
    assert_int_equal(atomic_load(&f->v.fetches), 1);
    /* the create that follows gets the new secret ... */
    nr_guard held = NR_GUARD_INIT; /* the instance start made, with the old one */
    assert_int_equal(nr_manager_acquire(f->m, ID, NULL, &held, &err), NR_OK);
    assert_string_equal(((nr_mock_handle *)nr_guard_handle(&held))->credential, "tok-old");
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, ID, NULL, &g, &err), NR_OK);
    assert_string_equal(((nr_mock_handle *)nr_guard_handle(&g))->credential, "tok-new");
    assert_int_equal(nr_guard_release(&g), NR_OK);
    /* ... and the old instance was not retired: a refresh is not a rotation */
    assert_int_equal(nr_guard_release(&held), NR_OK);
    nr_resource_info ri = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, ID, &ri, NULL), NR_OK);
    assert_int_equal(ri.stats.credential_retired, 0);
    assert_int_equal(ri.stats.total, 2);
    /* the new one expires in an hour: the next create fetches nothing */
    assert_int_equal(before_create(f, &err), NR_OK);
    assert_int_equal(atomic_load(&f->v.fetches), 1);
}

static void test_secret_outside_the_window_not_refreshed(void **state)
{
    fixture *f = *state;
    start(f, "tok-1", HOUR_MS);
    vault_set(&f->v, "tok-2", HOUR_MS);
    nr_error err = {0};
    assert_int_equal(before_create(f, &err), NR_OK);
    assert_int_equal(atomic_load(&f->v.fetches), 0);
    want_create_with(f, "tok-1");
}

static void test_never_expiring_secret_not_refreshed(void **state)
{
    fixture *f = *state;
    start(f, "tok-1", 0);
    vault_set(&f->v, "tok-2", 0);
    nr_error err = {0};
    assert_int_equal(before_create(f, &err), NR_OK);
    assert_int_equal(atomic_load(&f->v.fetches), 0);
    /* a pool that is not the manager's (an unknown id) is let through */
    nr_hook_call call = {.op = NR_HOOK_CREATE, .resource_id = "elsewhere"};
    assert_int_equal(f->def.before(f->def.ud, &call, &err), NR_OK);
    assert_int_equal(atomic_load(&f->v.fetches), 0);
}

static void test_failed_refresh_keeps_a_valid_secret(void **state)
{
    fixture *f = *state;
    start(f, "tok-Valid-Secret-77", 30 * 1000LL);
    nr_event ev;
    while (nr_event_next(f->sub, &ev, NULL, nr_deadline_in_ms(0)) == NR_OK)
        ; /* what the start published */
    atomic_store(&f->v.fail, 1);
    nr_error err = {0};
    assert_int_equal(before_create(f, &err), NR_OK); /* the create goes on */
    assert_int_equal(atomic_load(&f->v.fetches), 1);
    atomic_store(&f->v.fail, 0);
    want_create_with(f, "tok-Valid-Secret-77");

    int errors = 0;
    while (nr_event_next(f->sub, &ev, NULL, nr_deadline_in_ms(0)) == NR_OK) {
        assert_null(strstr(ev.text, "Valid-Secret"));
        if (ev.type != NR_EV_ERROR)
            continue;
        errors++;
        assert_string_equal(ev.resource_id, ID);
        assert_int_equal(ev.error_code, NR_ECRED);
        assert_non_null(strstr(ev.text, "credential 'db/token': refresh failed"));
        assert_non_null(strstr(ev.text, "vault sealed"));
    }
    assert_int_equal(errors, 1);
}

static void test_failed_refresh_after_expiry_refuses(void **state)
{
    fixture *f = *state;
    start(f, "tok-Expired-Secret-9", 20); /* valid for 20 ms after the start's fetch */
    nr__cred_info ci;
    assert_int_equal(nr__credential_info(f->m, ID, &ci, NULL), NR_OK);
    assert_true(ci.has && ci.expires_ms > 0);
    while (nr_wall_ms() < ci.expires_ms)
        nr_sleep_ns(NR_NS_PER_MS); /* until it has expired: no assertion on how long */
    atomic_store(&f->v.fail, 1);
    nr_error err = {0};
    assert_int_equal(before_create(f, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "resource 'db': credential 'db/token' expired");
    assert_non_null(strstr(err.message, "vault sealed"));
    assert_null(strstr(err.message, "Expired-Secret"));
    assert_string_equal(err.resource_id, ID);
    /* once the vault answers again the refresh succeeds and the create goes on */
    atomic_store(&f->v.fail, 0);
    vault_set(&f->v, "tok-fresh", HOUR_MS);
    assert_int_equal(before_create(f, &err), NR_OK);
    want_create_with(f, "tok-fresh");
}

/* Many creates at once, all finding the secret due: one fetch. */
typedef struct racer {
    fixture *f;
    pthread_barrier_t *go;
    int rc;
} racer;

static void *race_create(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->go);
    nr_error err = {0};
    r->rc = before_create(r->f, &err);
    return NULL;
}

static void test_concurrent_creates_fetch_once(void **state)
{
    fixture *f = *state;
    start(f, "tok-old", 30 * 1000LL);
    vault_set(&f->v, "tok-new", HOUR_MS);
    enum { N = 8 };
    pthread_t t[N];
    racer r[N];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.f = f, .go = &go, .rc = -1};
        assert_int_equal(pthread_create(&t[i], NULL, race_create, &r[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, NR_OK);
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(atomic_load(&f->v.fetches), 1);
    want_create_with(f, "tok-new");
}

/* The same when the refresh fails: the creates that waited for it take its
 * outcome instead of fetching again, and one ERROR event is published. */
static void test_concurrent_failing_refresh_fetches_once(void **state)
{
    fixture *f = *state;
    start(f, "tok-old", 30 * 1000LL);
    atomic_store(&f->v.fail, 1);
    enum { N = 8 };
    pthread_t t[N];
    racer r[N];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.f = f, .go = &go, .rc = -1};
        assert_int_equal(pthread_create(&t[i], NULL, race_create, &r[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, NR_OK); /* still valid: every create goes on */
    }
    pthread_barrier_destroy(&go);
    /* a create that read the state while the failed refresh ran takes its
     * outcome; one that read it afterwards tries once more itself: how many
     * fetches that makes depends on the scheduling, but each fetch that
     * failed is one event, never one per create */
    int fetches = atomic_load(&f->v.fetches);
    assert_true(fetches >= 1);
    int errors = 0;
    nr_event ev;
    while (nr_event_next(f->sub, &ev, NULL, nr_deadline_in_ms(0)) == NR_OK)
        errors += ev.type == NR_EV_ERROR;
    assert_int_equal(errors, fetches); /* one event per fetch that failed, not per create */
}

/* ---- through a manager's hook registry ------------------------------------------------- */

/* A started manager whose pools run the hook from a registry. */
static void start_hooked(fixture *f, nr_hooks **h, const char *value, int64_t ttl_ms)
{
    vault_set(&f->v, value, ttl_ms);
    nr_hooks_options ho = NR_HOOKS_OPTIONS_INIT;
    nr_hooks_options_default(&ho);
    ho.events = f->bus;
    assert_int_equal(nr_hooks_create(h, &ho, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = mo.health_interval_ms = 0;
    mo.credentials = &f->cp;
    mo.events = f->bus;
    mo.hooks = *h;
    assert_int_equal(nr_manager_create(&f->m, &mo, NULL), NR_OK);
    nr_error err = {0};
    assert_int_equal(nr_credential_refresh_create(&f->cr, f->m, NULL, &err), NR_OK);
    nr_credential_refresh_hook(f->cr, &f->def);
    uint64_t id = 0;
    assert_int_equal(nr_hooks_add(*h, &f->def, &id, &err), NR_OK);
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = ID, .type = &nr_mock_type, .type_ud = &f->fake,
                                          .config = &f->cfg, .credential_ref = REF);
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    atomic_store(&f->v.fetches, 0);
}

static void stop_hooked(fixture *f, nr_hooks *h)
{
    assert_int_equal(nr_manager_shutdown(f->m, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_manager_destroy(f->m, NULL), NR_OK);
    f->m = NULL;
    assert_int_equal(nr_hooks_destroy(h, NULL), NR_OK);
}

static void test_hooked_create_uses_the_refreshed_secret(void **state)
{
    fixture *f = *state;
    nr_hooks *h = NULL;
    start_hooked(f, &h, "tok-old", 30 * 1000LL);
    vault_set(&f->v, "tok-new", HOUR_MS);
    /* the create that finds the secret due refreshes it and uses the new one */
    want_create_with(f, "tok-new");
    assert_int_equal(atomic_load(&f->v.fetches), 1);
    /* now an hour away: the next create fetches nothing */
    want_create_with(f, "tok-new");
    assert_int_equal(atomic_load(&f->v.fetches), 1);
    stop_hooked(f, h);
}

static void test_hooked_create_refused_once_expired(void **state)
{
    fixture *f = *state;
    nr_hooks *h = NULL;
    start_hooked(f, &h, "tok-Gone-Secret", 20);
    nr__cred_info ci;
    assert_int_equal(nr__credential_info(f->m, ID, &ci, NULL), NR_OK);
    while (nr_wall_ms() < ci.expires_ms)
        nr_sleep_ns(NR_NS_PER_MS);
    atomic_store(&f->v.fail, 1);
    nr_error err = {0};
    assert_int_equal(nr_manager_evict_all(f->m, ID, NULL, &err), NR_OK);
    long creates = atomic_load(&f->fake.creates);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx brief = NR_CTX(.deadline = nr_deadline_in_ms(300));
    assert_int_not_equal(nr_manager_acquire(f->m, ID, &brief, &g, &err), NR_OK);
    assert_null(strstr(err.message, "Gone-Secret"));
    assert_int_equal(atomic_load(&f->fake.creates), creates); /* the driver was never asked */
    int refused = 0;
    nr_event ev;
    while (nr_event_next(f->sub, &ev, NULL, nr_deadline_in_ms(0)) == NR_OK) {
        assert_null(strstr(ev.text, "Gone-Secret"));
        if (ev.type == NR_EV_HOOK_REFUSED && ev.error_code == NR_ECRED)
            refused++;
    }
    assert_true(refused >= 1);
    /* the vault is back: the next create refreshes and goes on */
    atomic_store(&f->v.fail, 0);
    vault_set(&f->v, "tok-back", HOUR_MS);
    nr_ctx patient = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    assert_int_equal(nr_manager_acquire(f->m, ID, &patient, &g, &err), NR_OK);
    assert_string_equal(((nr_mock_handle *)nr_guard_handle(&g))->credential, "tok-back");
    assert_int_equal(nr_guard_release(&g), NR_OK);
    stop_hooked(f, h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hook_definition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_secret_refreshed_before_the_create, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_secret_outside_the_window_not_refreshed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_never_expiring_secret_not_refreshed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_refresh_keeps_a_valid_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_refresh_after_expiry_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_creates_fetch_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_failing_refresh_fetches_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hooked_create_uses_the_refreshed_secret, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hooked_create_refused_once_expired, setup, teardown),
    };
    return cmocka_run_group_tests_name("hooks_credential", tests, NULL, NULL);
}

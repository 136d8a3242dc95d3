/*
 * test_postgres_credential_refresh.c - a PostgreSQL resource whose password
 * expires, under a manager with the credential refresh hook, against a real
 * server (tests/with-postgres.sh). While workers acquire and query, the
 * test changes the role's password (ALTER ROLE through the superuser
 * connection) and makes the provider hand out the new one with a new
 * expiry; evict-all forces new connections. The hook refreshes the password
 * before each of those creates, so not one create fails authentication,
 * not one acquire fails, the connections opened before the change keep
 * serving until they are evicted, and no event holds a password.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/hooks_builtin.h"
#include "nebula/manager.h"
#include "pg_testlib.h"

#define ID      "billing-db"
#define REF     "billing-db/password"
#define WORKERS 3
#define SIZE    3 /* min_idle = max_size: maintenance keeps the pool full */

/* The provider: one ref, the password and when it expires, as the test says. */
typedef struct vault {
    pthread_mutex_t mu;
    char password[64];  /* [mu] */
    int64_t expires_ms; /* [mu] */
    atomic_int fetches;
} vault;

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    vault *v = ud;
    if (strcmp(ref, REF) != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "credential '%s': unknown", ref);
    atomic_fetch_add(&v->fetches, 1);
    pthread_mutex_lock(&v->mu);
    int rc = nr_secret_from_str(out, v->password, err);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

static int vault_expiry(void *ud, const char *ref, int64_t *expires_ms, nr_error *err)
{
    (void)ref;
    (void)err;
    vault *v = ud;
    pthread_mutex_lock(&v->mu);
    *expires_ms = v->expires_ms;
    pthread_mutex_unlock(&v->mu);
    return NR_OK;
}

static void vault_set(vault *v, const char *password, int64_t expires_ms)
{
    pthread_mutex_lock(&v->mu);
    snprintf(v->password, sizeof(v->password), "%s", password);
    v->expires_ms = expires_ms;
    pthread_mutex_unlock(&v->mu);
}

typedef struct worker {
    nr_manager *m;
    atomic_bool *stop;
    atomic_long ops, failures;
    char last_error[256]; /* read after join */
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    while (!atomic_load(w->stop)) {
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(15000));
        int rc = nr_manager_acquire(w->m, ID, &ctx, &g, &err);
        if (rc == NR_OK) {
            rc = nr_postgres_exec(nr_guard_handle(&g), "SELECT pg_sleep(0.002)", &err);
            if (rc == NR_OK)
                nr_guard_release(&g);
            else
                nr_guard_taint(&g);
        }
        if (rc != NR_OK) {
            atomic_fetch_add(&w->failures, 1);
            snprintf(w->last_error, sizeof(w->last_error), "%s", err.message);
        }
        atomic_fetch_add(&w->ops, 1);
    }
    return NULL;
}

static long total_ops(worker *w)
{
    long n = 0;
    for (int i = 0; i < WORKERS; i++)
        n += atomic_load(&w[i].ops);
    return n;
}

/* Wait (at most 60 s) until the workers did `more` operations beyond now. */
static void wait_ops(worker *w, long more)
{
    long want = total_ops(w) + more;
    for (int i = 0; i < 6000 && total_ops(w) < want; i++)
        nr_sleep_ns(10 * NR_NS_PER_MS);
    assert_true(total_ops(w) >= want);
}

static nr_pool_stats stats(nr_manager *m)
{
    nr_resource_info ri = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    assert_int_equal(nr_manager_resource_info(m, ID, &ri, &err), NR_OK);
    return ri.stats;
}

/* Wait (at most 30 s) until the pool is full and creates nothing: no create
 * can then be caught between the server's change and the provider's. */
static void wait_steady(nr_manager *m, uint32_t size)
{
    for (int i = 0; i < 3000; i++) {
        nr_pool_stats st = stats(m);
        if (st.total == size && st.creating == 0)
            return;
        nr_sleep_ns(10 * NR_NS_PER_MS);
    }
    fail_msg("the pool did not fill to %u", size);
}

/* Change the role's password on the server, then hand the new one out with
 * an expiry an hour away; evict every connection so that new ones are
 * made, and wait until none of the app's connections predates the change.
 * The change is made while the pool is suspended and no create runs, as an
 * operator would: between the server's change and the provider's, a create
 * would otherwise log in with a password the server no longer takes
 * (instances retired by a rotation are replaced at any time). */
static void change_password(nr_manager *m, vault *v, worker *w, const char *password)
{
    wait_steady(m, SIZE);
    nr_error serr = {0};
    assert_int_equal(nr_manager_suspend(m, ID, &serr), NR_OK);
    for (int i = 0; i < 3000 && stats(m).creating > 0; i++)
        nr_sleep_ns(10 * NR_NS_PER_MS);
    assert_int_equal(stats(m).creating, 0);
    char sql[256];
    PGconn *admin = pgt_admin();
    char before[64];
    pgt_query_text(admin, "SELECT clock_timestamp()", before, sizeof(before));
    PQfinish(admin);
    snprintf(sql, sizeof(sql), "ALTER ROLE app PASSWORD '%s'", password);
    pgt_admin_exec(sql);
    vault_set(v, password, nr_wall_ms() + 3600 * 1000LL);
    assert_int_equal(nr_manager_resume(m, ID, &serr), NR_OK);
    long creates = (long)stats(m).creates;
    uint32_t evicted = 0;
    nr_error err = {0};
    assert_int_equal(nr_manager_evict_all(m, ID, &evicted, &err), NR_OK);
    wait_ops(w, 50);
    assert_true((long)stats(m).creates > creates); /* new connections were made */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND backend_start < "
             "'%s'",
             before);
    assert_true(pgt_wait_admin_long(sql, 0)); /* the old connections are gone */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND backend_start >= "
             "'%s'",
             before);
    assert_true(pgt_admin_long(sql) >= 1); /* and new ones, opened with the new password, serve */
}

static void test_password_changed_while_running(void **state)
{
    (void)state;
    vault v = {.fetches = 0};
    pthread_mutex_init(&v.mu, NULL);
    /* the first password expires in 30 s: inside the 60 s window, so every
     * create refreshes it (and gets the same one) until it changes */
    vault_set(&v, pgt_env("NR_TEST_PG_PASSWORD"), nr_wall_ms() + 30 * 1000LL);
    nr_credential_provider cp = {.fetch = vault_fetch, .ud = &v, .expiry = vault_expiry};
    nr_error err = {0};
    nr_event_bus *bus = NULL;
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_bus_create(&bus, 8192, &err), NR_OK);
    assert_int_equal(nr_event_subscribe(bus, &sub, &err), NR_OK);
    nr_hooks_options ho = NR_HOOKS_OPTIONS_INIT;
    nr_hooks_options_default(&ho);
    ho.events = bus;
    nr_hooks *hooks = NULL;
    assert_int_equal(nr_hooks_create(&hooks, &ho, &err), NR_OK);

    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.workers = 2;
    mo.maintain_interval_ms = 50; /* fills the pool again after an evict-all */
    mo.health_interval_ms = 0;    /* no health rounds: only the workers judge */
    mo.credentials = &cp;
    mo.events = bus;
    mo.hooks = hooks;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    nr_credential_refresh *cr = NULL;
    assert_int_equal(nr_credential_refresh_create(&cr, m, NULL, &err), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_credential_refresh_hook(cr, &def);
    uint64_t hook_id = 0;
    assert_int_equal(nr_hooks_add(hooks, &def, &hook_id, &err), NR_OK);

    nr_postgres_config cfg;
    pgt_config(&cfg);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = SIZE;
    pc.min_idle = SIZE;
    pc.acquire_timeout_ms = 15000;
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = ID, .type = &nr_postgres_type, .config = &cfg,
                                             .pool = &pc, .credential_ref = REF);
    assert_int_equal(nr_manager_register(m, &spec, &err), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(30000), &err), NR_OK);

    atomic_bool stop = false;
    worker w[WORKERS];
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].m = m;
        w[i].stop = &stop;
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    wait_ops(w, 50);
    int before = atomic_load(&v.fetches);
    change_password(m, &v, w, "Rotated-Pw-One-41");
    assert_true(atomic_load(&v.fetches) > before); /* the creates refreshed it */
    /* once more: the new password is an hour away from its expiry now, so a
     * second change needs a due one again */
    vault_set(&v, "Rotated-Pw-One-41", nr_wall_ms() + 20 * 1000LL);
    assert_int_equal(nr_manager_rotate_credential(m, REF, &err), NR_OK); /* holds it, due */
    change_password(m, &v, w, "Rotated-Pw-Two-42");
    atomic_store(&stop, true);
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        if (atomic_load(&w[i].failures) != 0)
            fail_msg("worker %d: %ld failures, the last: %s", i, atomic_load(&w[i].failures),
                     w[i].last_error);
    }
    /* a create that failed for another reason than its password (a connect
     * that timed out on a loaded machine) is retried and is no failure of
     * the refresh: the events below tell the two apart */
    uint64_t create_failures = stats(m).create_failures;

    nr_shutdown_options so =
        NR_SHUTDOWN_OPTIONS(.drain_timeout_ms = 5000, .cleanup_timeout_ms = 5000);
    assert_int_equal(nr_manager_shutdown(m, &so, NULL, &err), NR_OK);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    assert_int_equal(nr_hooks_remove(hooks, hook_id, &err), NR_OK);
    nr_credential_refresh_destroy(cr);
    assert_int_equal(nr_hooks_destroy(hooks, &err), NR_OK);
    nr_event ev;
    const char *first = pgt_env("NR_TEST_PG_PASSWORD");
    while (nr_event_next(sub, &ev, NULL, nr_deadline_in_ms(0)) == NR_OK) {
        if (strstr(ev.text, first) || strstr(ev.text, "Rotated-Pw"))
            fail_msg("event %s carries a password: %s", nr_event_type_name(ev.type), ev.text);
        if (ev.type == NR_EV_HOOK_REFUSED ||
            (ev.type == NR_EV_ERROR && ev.error_code == NR_ECRED) ||
            strstr(ev.text, "authentication failed"))
            fail_msg("event %s: %s", nr_event_type_name(ev.type), ev.text);
        if (ev.type == NR_EV_ERROR)
            print_message("note: event %s: %s\n", nr_event_type_name(ev.type), ev.text);
    }
    if (create_failures)
        print_message("note: %llu create(s) failed, none with a stale password\n",
                      (unsigned long long)create_failures);
    nr_event_unsubscribe(sub);
    nr_event_bus_destroy(bus);
    nr_config_free(&nr_postgres_config_schema, &cfg);
    pthread_mutex_destroy(&v.mu);
    /* the role gets its first password back for whatever runs next */
    char sql[256];
    snprintf(sql, sizeof(sql), "ALTER ROLE app PASSWORD '%s'", first);
    pgt_admin_exec(sql);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_changed_while_running),
    };
    return cmocka_run_group_tests_name("postgres_credential_refresh", tests, NULL, NULL);
}

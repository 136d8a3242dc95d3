/*
 * test_postgres_manager.c - the PostgreSQL driver under a manager, with the
 * password from a credential provider, against a real server that is killed
 * and started again mid-run (tests/with-postgres.sh ctl stop|start).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/alloc.h"
#include "nebula/manager.h"
#include "pg_testlib.h"

#define ID  "ledger-db"
#define REF "ledger-db/password"

/* A credential provider: one ref, whatever value the test sets. */
typedef struct vault {
    const char *value;
    int fetches;
} vault;

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    vault *v = ud;
    if (strcmp(ref, REF) != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "credential '%s': unknown", ref);
    v->fetches++;
    return nr_secret_from_str(out, v->value, err);
}

typedef struct fixture {
    nr_postgres_config cfg;
    vault v;
    nr_credential_provider cp;
    nr_event_bus *bus;
    nr_event_sub *sub;
    nr_manager *m;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    pgt_config(&f->cfg);
    f->cfg.health_timeout_ms = 5000;
    f->v.value = pgt_env("NR_TEST_PG_PASSWORD");
    f->cp = (nr_credential_provider){.fetch = vault_fetch, .ud = &f->v};
    nr_error err = {0};
    if (nr_event_bus_create(&f->bus, 4096, &err) != NR_OK ||
        nr_event_subscribe(f->bus, &f->sub, &err) != NR_OK)
        return -1;
    *state = f;
    return 0;
}

/* No event text may hold the password. */
static void check_events(fixture *f)
{
    nr_event ev;
    const char *pw = pgt_env("NR_TEST_PG_PASSWORD");
    while (nr_event_next(f->sub, &ev, NULL, nr_deadline_in_ms(0)) == NR_OK) {
        if (strstr(ev.text, pw) || strstr(ev.text, "Bad-Secret-123"))
            fail_msg("event %s carries the password: %s", nr_event_type_name(ev.type), ev.text);
    }
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    if (f->m) {
        nr_error err = {0};
        nr_shutdown_options so =
            NR_SHUTDOWN_OPTIONS(.drain_timeout_ms = 5000, .cleanup_timeout_ms = 5000);
        nr_manager_shutdown(f->m, &so, NULL, &err);
        if (nr_manager_destroy(f->m, &err) != NR_OK) {
            fprintf(stderr, "teardown: %s\n", err.message);
            rc = -1;
        }
    }
    check_events(f);
    nr_event_unsubscribe(f->sub);
    nr_event_bus_destroy(f->bus);
    nr_config_free(&nr_postgres_config_schema, &f->cfg);
    free(f);
    return rc;
}

static void make_manager(fixture *f)
{
    nr_error err = {0};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.workers = 2;
    mo.health_interval_ms = 100;
    mo.maintain_interval_ms = 100;
    mo.health_timeout_ms = 5000;
    mo.failure_threshold = 1;
    mo.recovery_threshold = 1;
    mo.credentials = &f->cp;
    mo.events = f->bus;
    assert_int_equal(nr_manager_create(&f->m, &mo, &err), NR_OK);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 3;
    pc.min_idle = 1;
    pc.acquire_timeout_ms = 5000;
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = ID, .type = &nr_postgres_type, .config = &f->cfg,
                                             .pool = &pc, .credential_ref = REF);
    assert_int_equal(nr_manager_register(f->m, &spec, &err), NR_OK);
}

static nr_health_state health(fixture *f, nr_resource_info *info)
{
    nr_error err = {0};
    assert_int_equal(nr_manager_resource_info(f->m, ID, info, &err), NR_OK);
    return info->health;
}

/* Wait (at most 30 s) until the resource's health is want. */
static bool wait_health(fixture *f, nr_health_state want, nr_resource_info *info)
{
    for (int i = 0; i < 600; i++) {
        if (health(f, info) == want)
            return true;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    return false;
}

static int exec_on(nr_manager *m, const char *sql, nr_error *err)
{
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    int rc = nr_manager_acquire(m, ID, &ctx, &g, err);
    if (rc != NR_OK)
        return rc;
    rc = nr_postgres_exec(nr_guard_handle(&g), sql, err);
    if (rc == NR_OK)
        nr_guard_release(&g);
    else
        nr_guard_taint(&g);
    return rc;
}

static long count_rows(nr_manager *m)
{
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    if (nr_manager_acquire(m, ID, &ctx, &g, &err) != NR_OK)
        fail_msg("acquire: %s", err.message);
    long n = pgt_query_long(nr_postgres_conn(nr_guard_handle(&g)), "SELECT count(*) FROM ledger");
    nr_guard_release(&g);
    return n;
}

static void test_server_killed_and_restarted(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    make_manager(f);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(30000), &err), NR_OK);
    assert_int_equal(f->v.fetches, 1);
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_true(wait_health(f, NR_HEALTH_HEALTHY, &info));

    assert_int_equal(
        exec_on(f->m,
                "CREATE TABLE IF NOT EXISTS ledger(id serial PRIMARY KEY, amount int); "
                "INSERT INTO ledger(amount) VALUES (10), (20)",
                &err),
        NR_OK);
    assert_int_equal(count_rows(f->m), 2);

    /* the server dies */
    pgt_ctl("stop");
    assert_true(wait_health(f, NR_HEALTH_UNHEALTHY, &info));
    assert_true(strlen(info.health_reason) > 0);
    assert_null(strstr(info.health_reason, pgt_env("NR_TEST_PG_PASSWORD")));

    /* acquires fail fast with a clear error (not a wait until the deadline) */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(20000));
    assert_int_equal(nr_manager_acquire(f->m, ID, &ctx, &g, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);
    assert_non_null(strstr(err.message, "unhealthy"));
    assert_null(strstr(err.message, pgt_env("NR_TEST_PG_PASSWORD")));
    assert_false(nr_guard_held(&g));

    /* it comes back: the manager heals by itself */
    pgt_ctl("start");
    assert_true(wait_health(f, NR_HEALTH_HEALTHY, &info));
    assert_int_equal(count_rows(f->m), 2);
    assert_int_equal(exec_on(f->m, "INSERT INTO ledger(amount) VALUES (30)", &err), NR_OK);
    assert_int_equal(count_rows(f->m), 3);
    assert_int_equal(info.stats.in_use, 0);

    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    nr_shutdown_options so =
        NR_SHUTDOWN_OPTIONS(.drain_timeout_ms = 5000, .cleanup_timeout_ms = 5000);
    assert_int_equal(nr_manager_shutdown(f->m, &so, &rep, &err), NR_OK);
    assert_int_equal(rep.nleftovers, 0);
}

static void test_wrong_password_at_start(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    f->v.value = "Bad-Secret-123";
    make_manager(f);
    int rc = nr_manager_start(f->m, nr_deadline_in_ms(30000), &err);
    assert_int_not_equal(rc, NR_OK);
    assert_non_null(strstr(err.message, ID));
    assert_null(strstr(err.message, "Bad-Secret-123"));
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, ID, &info, &err), NR_OK);
    assert_int_equal(info.state, NR_RS_FAILED);
    assert_int_equal(info.last_error.code, NR_ECRED);
    assert_non_null(strstr(info.last_error.message, "authentication failed"));
    assert_non_null(strstr(info.last_error.message, "user 'app'"));
    assert_null(strstr(info.last_error.message, "Bad-Secret-123"));

    /* an acquire names the resource and why */
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, ID, NULL, &g, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);
    assert_null(strstr(err.message, "Bad-Secret-123"));
}

static void test_rotation_to_the_right_password(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    make_manager(f);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(30000), &err), NR_OK);
    /* the role's password changes on the server, then in the vault */
    pgt_admin_exec("ALTER ROLE app PASSWORD 'Rotated-Pw-456'");
    f->v.value = "Rotated-Pw-456";
    assert_int_equal(nr_manager_rotate_credential(f->m, REF, &err), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    assert_int_equal(nr_manager_acquire(f->m, ID, &ctx, &g, &err), NR_OK);
    assert_int_equal(pgt_query_long(nr_postgres_conn(nr_guard_handle(&g)), "SELECT 5"), 5);
    nr_guard_release(&g);
    /* put it back for the other tests */
    char sql[200];
    snprintf(sql, sizeof(sql), "ALTER ROLE app PASSWORD '%s'", pgt_env("NR_TEST_PG_PASSWORD"));
    pgt_admin_exec(sql);
}

static int backend_pid(nr_guard *g)
{
    return (int)pgt_query_long(nr_postgres_conn(nr_guard_handle(g)), "SELECT pg_backend_pid()");
}

static long backends_with(int pid)
{
    char sql[120];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
    return pgt_admin_long(sql);
}

/* A running resource reloaded three ways against the real server: a larger
 * pool in place (the connections stay), a changed driver config (a new
 * pool: new connections carry the new application_name, a connection
 * leased across the reload keeps working and is closed when given back),
 * and a new password (the role's password changes on the server and in
 * the vault; re-reading the credential gives the new pool's next
 * connections the new one and retires the old ones). */
static void test_reload_size_config_and_password(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    make_manager(f);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(30000), &err), NR_OK);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 3;
    pc.min_idle = 1;
    pc.acquire_timeout_ms = 5000;
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = ID, .type = &nr_postgres_type, .config = &f->cfg,
                                             .pool = &pc, .credential_ref = REF);
    nr_guard held = NR_GUARD_INIT, g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    assert_int_equal(nr_manager_acquire(f->m, ID, &ctx, &held, &err), NR_OK);
    int held_pid = backend_pid(&held);

    /* 1. the size, in place */
    pc.max_size = 6;
    nr_reload_report rep;
    assert_int_equal(nr_manager_reload(f->m, &spec, &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_IN_PLACE);
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, ID, &info, &err), NR_OK);
    assert_int_equal(info.stats.max_size, 6);
    assert_int_equal(backend_pid(&held), held_pid); /* the same connection */

    /* 2. the driver config: a new pool */
    nr_postgres_config next;
    assert_int_equal(nr_config_copy(&nr_postgres_config_schema, &next, &f->cfg, &err), NR_OK);
    nr_free(next.application_name);
    next.application_name = nr_strdup("ledger-after-reload");
    spec.config = &next;
    assert_int_equal(nr_manager_reload(f->m, &spec, &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_NEW_POOL);
    assert_string_equal(rep.changes, "config");
    assert_int_equal(nr_manager_acquire(f->m, ID, &ctx, &g, &err), NR_OK);
    char app_name[80];
    pgt_query_text(nr_postgres_conn(nr_guard_handle(&g)), "SHOW application_name", app_name,
                   sizeof(app_name));
    assert_string_equal(app_name, "ledger-after-reload");
    int new_pid = backend_pid(&g);
    assert_int_not_equal(new_pid, held_pid);
    nr_guard_release(&g);
    assert_int_equal(pgt_query_long(nr_postgres_conn(nr_guard_handle(&held)), "SELECT 7"), 7);
    nr_guard_release(&held); /* its pool is closed: the connection goes */
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) {
        gone = backends_with(held_pid) == 0;
        if (!gone)
            nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    assert_true(gone);

    /* 3. the password */
    pgt_admin_exec("ALTER ROLE app PASSWORD 'Reloaded-Pw-789'");
    f->v.value = "Reloaded-Pw-789";
    uint32_t changed = 0;
    assert_int_equal(nr_manager_reread_credential(f->m, REF, &changed, &err), NR_OK);
    assert_int_equal(changed, 1);
    /* again: the same value now, nothing to rotate */
    assert_int_equal(nr_manager_reread_credential(f->m, REF, &changed, &err), NR_OK);
    assert_int_equal(changed, 0);
    for (int i = 0; i < 4; i++) { /* more than the idle ones: a fresh login is needed */
        nr_guard gs[4] = {NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT};
        for (int k = 0; k <= i; k++)
            assert_int_equal(nr_manager_acquire(f->m, ID, &ctx, &gs[k], &err), NR_OK);
        for (int k = 0; k <= i; k++)
            nr_guard_release(&gs[k]);
    }
    assert_int_equal(nr_manager_resource_info(f->m, ID, &info, &err), NR_OK);
    assert_true(info.stats.credential_retired >= 1); /* the old password's connections */
    nr_config_free(&nr_postgres_config_schema, &next);
    char sql[200];
    snprintf(sql, sizeof(sql), "ALTER ROLE app PASSWORD '%s'", pgt_env("NR_TEST_PG_PASSWORD"));
    pgt_admin_exec(sql);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_killed_and_restarted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_to_the_right_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_size_config_and_password, setup, teardown),
    };
    return cmocka_run_group_tests_name("postgres_manager", tests, NULL, NULL);
}

/*
 * test_http_manager.c - the HTTP driver under a manager, against a real
 * httpbin: the credential fetched by reference, and a server killed in the
 * middle of the run (unhealthy, acquires fail fast) and started again on the
 * same port (healthy again, without restarting anything here).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "nebula/manager.h"

#include "http_test_env.h"

#define ID    "orders-api"
#define TOKEN "m4nager-t0ken-2718"

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    if (strcmp(ref, "orders-api/token") != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "vault: no secret '%s'", ref);
    return nr_secret_from_str(out, TOKEN, err);
}

static nr_manager *start_manager(nr_http_config *c, int64_t min_idle)
{
    static const nr_credential_provider vault = {.fetch = vault_fetch, .ud = NULL};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.workers = 2;
    mo.maintain_interval_ms = 100;
    mo.health_interval_ms = 100;
    mo.health_timeout_ms = 5000;
    mo.failure_threshold = 1;
    mo.recovery_threshold = 1;
    mo.credentials = &vault;
    nr_manager *m = NULL;
    nr_error err = {0};
    int rc = nr_manager_create(&m, &mo, &err);
    if (rc != NR_OK)
        fail_msg("manager: %s", err.message);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 2;
    pc.min_idle = min_idle;
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = ID, .type = &nr_http_type, .config = c,
                                             .pool = &pc, .credential_ref = "orders-api/token");
    rc = nr_manager_register(m, &spec, &err);
    if (rc != NR_OK)
        fail_msg("register: %s", err.message);
    rc = nr_manager_start(m, nr_deadline_in_ms(30000), &err);
    if (rc != NR_OK)
        fail_msg("start: %s", err.message);
    return m;
}

static void stop_manager(nr_manager *m)
{
    nr_error err = {0};
    assert_int_equal(nr_manager_shutdown(m, NULL, NULL, &err), NR_OK);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
}

/* Poll until the resource's health is want (60 s at most: a failure bound only). */
static nr_resource_info wait_health(nr_manager *m, nr_health_state want)
{
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    for (int i = 0; i < 1200; i++) {
        assert_int_equal(nr_manager_resource_info(m, ID, &info, &err), NR_OK);
        if (info.health == want)
            return info;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    fail_msg("health stayed %s (reason: %s), wanted %s", nr_health_name(info.health),
             info.health_reason, nr_health_name(want));
    return info;
}

static void test_manager_credential(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    nr_manager *m = start_manager(&c, 0);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(30000));
    assert_int_equal(nr_manager_acquire(m, ID, &ctx, &g, &err), NR_OK);
    nr_http_response rs;
    http_do_ok(nr_guard_handle(&g), "GET", "/bearer", &rs);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"authenticated\":true"));
    nr_http_response_free(&rs);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(m, ID, &info, &err), NR_OK);
    assert_string_equal(info.type, "http");
    assert_int_equal(info.state, NR_RS_RUNNING);
    stop_manager(m);
    nr_config_free(&nr_http_config_schema, &c);
}

static void test_server_killed_and_restarted(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    http_cfg_set(&c.health_path, "/status/200");
    c.connect_on_create = true; /* a replacement must reach the server */
    c.health_timeout_ms = 2000;
    nr_manager *m = start_manager(&c, 1);
    wait_health(m, NR_HEALTH_HEALTHY);

    http_ctl("stop");
    nr_resource_info info = wait_health(m, NR_HEALTH_UNHEALTHY);
    assert_null(strstr(info.health_reason, TOKEN));
    assert_true(info.health_reason[0] != '\0');

    /* acquires fail fast while it is unhealthy, saying why */
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(30000));
    int rc = nr_manager_acquire(m, ID, &ctx, &g, &err);
    if (rc == NR_OK) {
        /* it may have been seen healthy in between: only a fail-fast is wanted */
        nr_guard_release(&g);
        wait_health(m, NR_HEALTH_UNHEALTHY);
        rc = nr_manager_acquire(m, ID, &ctx, &g, &err);
    }
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);
    assert_int_equal(rc, NR_EUNAVAIL);
    assert_null(strstr(err.message, TOKEN));

    /* the same port again: the manager heals without a restart here */
    http_ctl("start");
    wait_health(m, NR_HEALTH_HEALTHY);
    assert_int_equal(nr_manager_acquire(m, ID, &ctx, &g, &err), NR_OK);
    nr_http_response rs;
    http_do_ok(nr_guard_handle(&g), "GET", "/bearer", &rs);
    assert_int_equal(rs.status, 200);
    nr_http_response_free(&rs);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    stop_manager(m);
    nr_config_free(&nr_http_config_schema, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manager_credential),
        cmocka_unit_test(test_server_killed_and_restarted),
    };
    return cmocka_run_group_tests_name("http_manager", tests, NULL, NULL);
}

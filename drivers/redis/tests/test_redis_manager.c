/*
 * test_redis_manager.c - the Redis driver under a manager: credentials from
 * a provider, the server killed mid-run (the resource turns unhealthy,
 * acquires fail fast) and started again on the same port (it heals without
 * restarting anything here).
 */
#define _POSIX_C_SOURCE 200809L
#include "redis_testenv.h"

#include "nebula/manager.h"

#define ID  "sessions"
#define REF "sessions/password"

/* Hands out one password for REF. */
static int fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    if (strcmp(ref, REF) != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "no secret named '%s'", ref);
    return nr_secret_from_str(out, ud, err);
}

static nr_manager *make_manager(const nr_credential_provider *prov)
{
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.workers = 2;
    mo.maintain_interval_ms = 100;
    mo.health_interval_ms = 100;
    mo.health_timeout_ms = 1000;
    mo.failure_threshold = 1;
    mo.recovery_threshold = 1;
    mo.credentials = prov;
    nr_manager *m = NULL;
    nr_error err = {0};
    if (nr_manager_create(&m, &mo, &err) != NR_OK)
        fail_msg("manager: %s", err.message);
    return m;
}

static void register_redis(nr_manager *m, nr_redis_config *cfg)
{
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = ID, .type = &nr_redis_type, .config = cfg,
                                             .pool = &pc, .credential_ref = REF);
    nr_error err = {0};
    if (nr_manager_register(m, &spec, &err) != NR_OK)
        fail_msg("register: %s", err.message);
}

static nr_health_state wait_health(nr_manager *m, nr_health_state want, nr_resource_info *info)
{
    /* a generous bound, not a timing assertion */
    for (int i = 0; i < 600; i++) {
        nr_error err = {0};
        assert_int_equal(nr_manager_resource_info(m, ID, info, &err), NR_OK);
        if (info->health == want)
            return want;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    return info->health;
}

static void use_once(nr_manager *m)
{
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(30000));
    nr_error err = {0};
    int rc = nr_manager_acquire(m, ID, &ctx, &g, &err);
    if (rc != NR_OK)
        fail_msg("acquire: %s: %s", nr_err_name(rc), err.message);
    redisReply *r = NULL;
    rc = nr_redis_command(nr_guard_handle(&g), &r, &err, "INCR mgr:uses");
    if (rc != NR_OK)
        fail_msg("INCR: %s", err.message);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void assert_no_secret_in_info(const nr_resource_info *info, const char *secret)
{
    assert_null(strstr(info->health_reason, secret));
    assert_null(strstr(info->last_error.message, secret));
}

static void test_server_killed_and_restarted(void **state)
{
    (void)state;
    const char *password = rt_env("NR_TEST_REDIS_PASSWORD");
    nr_credential_provider prov = {.fetch = fetch, .ud = (void *)password};
    nr_redis_config cfg;
    rt_config(&cfg);
    cfg.db = 5;
    cfg.health_timeout_ms = 1000;
    nr_manager *m = make_manager(&prov);
    register_redis(m, &cfg);
    nr_error err = {0};
    if (nr_manager_start(m, nr_deadline_in_ms(30000), &err) != NR_OK)
        fail_msg("start: %s", err.message);
    use_once(m);
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(wait_health(m, NR_HEALTH_HEALTHY, &info), NR_HEALTH_HEALTHY);

    rt_ctl("stop"); /* kill -9 */
    assert_int_equal(wait_health(m, NR_HEALTH_UNHEALTHY, &info), NR_HEALTH_UNHEALTHY);
    assert_no_secret_in_info(&info, password);

    /* acquires fail fast with a clear error, the deadline is not waited for */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(120000));
    assert_int_equal(nr_manager_acquire(m, ID, &ctx, &g, &err), NR_EUNAVAIL);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "unhealthy");
    assert_null(strstr(err.message, password));

    rt_ctl("start"); /* same port; the program keeps running */
    assert_int_equal(wait_health(m, NR_HEALTH_HEALTHY, &info), NR_HEALTH_HEALTHY);
    use_once(m);
    assert_int_equal(info.state, NR_RS_RUNNING);

    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    assert_int_equal(nr_manager_shutdown(m, NULL, &rep, &err), NR_OK);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_config_free(&nr_redis_config_schema, &cfg);
}

static void test_start_with_wrong_password(void **state)
{
    (void)state;
    const char *wrong = "Manager-Wrong-Secret-7";
    nr_credential_provider prov = {.fetch = fetch, .ud = (void *)wrong};
    nr_redis_config cfg;
    rt_config(&cfg);
    nr_manager *m = make_manager(&prov);
    register_redis(m, &cfg);
    nr_error err = {0};
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(30000), &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, ID);
    NR_ASSERT_ERR(err, NR_ECRED, "WRONGPASS");
    assert_null(strstr(err.message, wrong));
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(m, ID, &info, &err), NR_OK);
    assert_int_equal(info.state, NR_RS_FAILED);
    assert_no_secret_in_info(&info, wrong);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_config_free(&nr_redis_config_schema, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_killed_and_restarted),
        cmocka_unit_test(test_start_with_wrong_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

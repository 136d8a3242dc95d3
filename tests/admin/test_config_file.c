/*
 * test_config_file.c - loading a config file into a manager through the
 * public API (nebula/config_file.h): a valid file's specs in start order,
 * its manager, admin and shutdown options, its credentials as a provider,
 * nr_manager_load_config; an invalid file's problems, sorted and located,
 * and the error that names the first; drivers not built in; the program's
 * own health stages named by a file; a resource's "fleet" section as
 * nr_fleet_options.
 */
#define _DEFAULT_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_text.h"
#include "nebula/testing.h"
#include "nebula/config_file.h"
#include "testutil.h"

static nr_mock fake;
static const nr_config_driver drivers[] = {{"fake", &nr_mock_type, &fake},
                                           {"postgres", NULL, NULL}};

static int load(const char *text, nr_config_file **cf, nr_error *err)
{
    return cfg_text_load(text, drivers, 2, cf, err);
}

static void test_valid_file_into_a_manager(void **state)
{
    (void)state;
    nr_mock_init(&fake);
    setenv("NR_TEST_CF_PW", "pw-from-env", 1);
    const char *text = "{\n"
                       " \"manager\": {\"workers\": 2, \"health_interval_ms\": 0},\n"
                       " \"http\": {\"listen\": \"127.0.0.1\", \"port\": 0, \"admin_token\": "
                       "\"admin\"},\n"
                       " \"shutdown\": {\"grace_ms\": 50, \"drain_timeout_ms\": 700},\n"
                       " \"credentials\": {\"pw\": {\"env\": \"NR_TEST_CF_PW\"}, \"admin\": "
                       "{\"env\": \"NR_TEST_CF_PW\"}},\n"
                       " \"resources\": [\n"
                       "  {\"id\": \"app\", \"driver\": \"fake\", \"depends_on\": [\"db\"]},\n"
                       "  {\"id\": \"db\", \"driver\": \"fake\", \"credential\": \"pw\",\n"
                       "   \"config\": {\"label\": \"main\"}, \"pool\": {\"max_size\": 3},\n"
                       "   \"health\": {\"stages\": [\"connectivity\", \"performance\"],\n"
                       "              \"performance\": {\"degraded_ms\": 200}}}\n"
                       " ]\n"
                       "}\n";
    nr_config_file *cf = NULL;
    nr_error err = {0};
    if (load(text, &cf, &err) != NR_OK)
        fail_msg("load: %s", err.message);
    assert_int_equal(nr_config_file_problems(cf, NULL), 0);
    assert_int_equal(nr_config_file_resource_count(cf), 2);
    nr_resource_spec spec = NR_RESOURCE_SPEC_INIT;
    const char *driver = NULL;
    assert_int_equal(nr_config_file_resource(cf, 0, &spec, &driver), NR_OK);
    assert_string_equal(spec.id, "db"); /* start order: what app needs first */
    assert_string_equal(driver, "fake");
    assert_ptr_equal(spec.type, &nr_mock_type);
    assert_int_equal(spec.pool->max_size, 3);
    assert_string_equal(spec.credential_ref, "pw");
    assert_string_equal(((const nr_mock_config *)spec.config)->label, "main");
    assert_non_null(spec.health);
    assert_int_equal(spec.health->nstages, 2);
    assert_string_equal(spec.health->stages[1], "performance");
    assert_int_equal(spec.health->performance.degraded_ms, 200);
    assert_int_equal(nr_config_file_resource(cf, 1, &spec, NULL), NR_OK);
    assert_string_equal(spec.id, "app");
    assert_null(spec.health); /* none in the file: the default pipeline */
    assert_int_equal(spec.ndepends, 1);
    assert_string_equal(spec.depends_on[0], "db");
    assert_int_equal(nr_config_file_resource(cf, 2, &spec, NULL), NR_EINVAL);

    nr_admin_options ao = NR_ADMIN_OPTIONS_INIT;
    nr_admin_options_default(&ao);
    nr_config_file_admin_options(cf, &ao);
    assert_string_equal(ao.listen, "127.0.0.1");
    assert_int_equal(ao.port, 0);
    assert_string_equal(ao.token_ref, "admin");
    assert_non_null(ao.credentials);
    nr_shutdown_options so = NR_SHUTDOWN_OPTIONS_INIT;
    int64_t grace = 0;
    nr_config_file_shutdown_options(cf, &so, &grace);
    assert_int_equal(grace, 50);
    assert_int_equal(so.drain_timeout_ms, 700);
    assert_int_equal(so.cleanup_timeout_ms, 10000);

    nr_credential_provider cp = nr_config_file_credentials(cf);
    nr_secret *s = NULL;
    assert_int_equal(cp.fetch(cp.ud, "pw", &s, &err), NR_OK);
    assert_string_equal(nr_secret_reveal(s, NULL), "pw-from-env");
    nr_secret_free(s);

    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_config_file_manager_options(cf, &mo);
    assert_int_equal(mo.workers, 2);
    assert_int_equal(mo.health_interval_ms, 0);
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    /* one by one, as a program that reports each resource does */
    for (size_t i = 0; i < nr_config_file_resource_count(cf); i++) {
        assert_int_equal(nr_config_file_resource(cf, i, &spec, NULL), NR_OK);
        assert_ptr_equal(spec.type_ud, &fake); /* the driver table's */
        assert_int_equal(nr_manager_register(m, &spec, &err), NR_OK);
    }
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_health_round_result hr;
    assert_int_equal(nr_manager_health_stages(m, "db", &hr, &err), NR_OK);
    assert_int_equal(hr.nstages, 2); /* the file's pipeline */
    assert_string_equal(hr.stages[1].name, "performance");
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(m, "db", NULL, &g, &err), NR_OK);
    /* the credential came from the file's credentials section */
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&g))->credential_len, 11);
    nr_guard_release(&g);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    /* nr_manager_load_config registers the same specs */
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    assert_int_equal(nr_manager_load_config(m, cf, &err), NR_OK);
    assert_int_equal(nr_manager_count(m), 2);
    assert_int_equal(nr_manager_load_config(m, cf, &err), NR_EEXIST);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_config_file_free(cf);
}

static void test_invalid_file(void **state)
{
    (void)state;
    const char *text = "{\n"
                       " \"resources\": [\n"
                       "  {\"id\": \"a\", \"driver\": \"postgres\"},\n"
                       "  {\"id\": \"b\", \"driver\": \"fak\", \"pool\": {\"max_size\": 1.0}},\n"
                       "  {\"id\": \"c\", \"driver\": \"fake\", \"depends_on\": [\"bb\"]}\n"
                       " ],\n"
                       " \"htp\": {}\n"
                       "}\n";
    nr_config_file *cf = NULL;
    nr_error err = {0};
    assert_int_equal(load(text, &cf, &err), NR_ECONFIG);
    assert_non_null(cf);
    const nr_config_problem *p = NULL;
    size_t n = nr_config_file_problems(cf, &p);
    assert_int_equal(n, 5);
    /* sorted by position */
    for (size_t i = 1; i < n; i++)
        assert_true(p[i - 1].line < p[i].line ||
                    (p[i - 1].line == p[i].line && p[i - 1].col <= p[i].col));
    assert_string_equal(p[0].path, "resources[0].driver");
    assert_string_equal(p[0].rule, "driver is not built into this program (built in: fake)");
    assert_int_equal(p[0].line, 3);
    assert_string_equal(p[1].path, "resources[1].driver");
    assert_non_null(strstr(p[1].rule, "did you mean \"fake\"?"));
    assert_string_equal(p[2].path, "resources[1].pool.max_size");
    assert_string_equal(p[2].value, "1.0"); /* as written */
    assert_non_null(strstr(p[3].rule, "did you mean \"b\"?"));
    assert_string_equal(p[4].path, "htp");
    assert_non_null(strstr(p[4].rule, "did you mean \"http\"?"));
    NR_ASSERT_ERR(err, NR_ECONFIG, "invalid: 5 problems; the first: ");
    NR_ASSERT_ERR(err, NR_ECONFIG, ":3:");
    NR_ASSERT_ERR(err, NR_ECONFIG, "resources[0].driver: driver is not built into this program");
    assert_int_equal(nr_config_file_resource_count(cf), 0);
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, NULL, &err), NR_OK);
    assert_int_equal(nr_manager_load_config(m, cf, &err), NR_EINVAL);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    /* the problems as the program prints them */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    nr_config_file_write_problems(cf, mem);
    fclose(mem);
    assert_non_null(strstr(buf, ":4:"));
    assert_non_null(strstr(buf, "resources[1].pool.max_size: must be an integer"));
    free(buf);
    nr_config_file_free(cf);

    /* a file that cannot be read is one problem at "$" */
    nr_config_load_options o = NR_CONFIG_LOAD_OPTIONS_INIT;
    nr_config_load_options_default(&o);
    o.drivers = drivers;
    o.ndrivers = 2;
    assert_int_equal(nr_config_file_load(&cf, "/nonexistent/x.json", &o, &err), NR_ECONFIG);
    n = nr_config_file_problems(cf, &p);
    assert_int_equal(n, 1);
    assert_string_equal(p[0].path, "$");
    nr_config_file_free(cf);
    assert_int_equal(nr_config_file_load(&cf, "/x.json", NULL, &err), NR_EINVAL);
    assert_null(cf);
}

static atomic_int stage_calls;

static int disk_stage(void *ud, const nr_health_stage_ctx *ctx, nr_health_report *report,
                      nr_error *err)
{
    (void)ud;
    (void)err;
    atomic_fetch_add(&stage_calls, 1);
    report->state = NR_HEALTH_DEGRADED;
    snprintf(report->reason, sizeof(report->reason), "%s: disk 91%% full", ctx->resource_id);
    return NR_OK;
}

static void test_program_stage_named_by_a_file(void **state)
{
    (void)state;
    nr_mock_init(&fake);
    const char *text = "{\"manager\": {\"health_interval_ms\": 0},\n"
                       " \"resources\": [{\"id\": \"db\", \"driver\": \"fake\",\n"
                       "   \"health\": {\"stages\": [\"connectivity\", \"disk\"]}}]}\n";
    /* without the program's stage: a problem naming the resource and the stage */
    nr_config_file *cf = NULL;
    nr_error err = {0};
    assert_int_equal(load(text, &cf, &err), NR_ECONFIG);
    const nr_config_problem *p = NULL;
    assert_int_equal(nr_config_file_problems(cf, &p), 1);
    assert_string_equal(p[0].path, "resources[0].health.stages[1]");
    assert_non_null(strstr(p[0].value, "disk"));
    nr_config_file_free(cf);

    /* with it: the spec carries the stage and the manager runs it */
    const nr_health_stage_def stages[] = {
        NR_HEALTH_STAGE_DEF(.name = "disk", .fn = disk_stage, .ud = NULL)};
    char *path = cfg_text_write(text);
    nr_config_load_options o = NR_CONFIG_LOAD_OPTIONS_INIT;
    nr_config_load_options_default(&o);
    o.drivers = drivers;
    o.ndrivers = 2;
    o.health_stages = stages;
    o.nhealth_stages = 1;
    if (nr_config_file_load(&cf, path, &o, &err) != NR_OK)
        fail_msg("load: %s", err.message);
    nr_resource_spec spec = NR_RESOURCE_SPEC_INIT;
    assert_int_equal(nr_config_file_resource(cf, 0, &spec, NULL), NR_OK);
    assert_int_equal(spec.nhealth_stages, 1);
    /* the file's copy of the stages, at this library's size */
    assert_ptr_not_equal(spec.health_stages, stages);
    assert_int_equal(spec.health_stages[0].size, sizeof(nr_health_stage_def));
    assert_string_equal(spec.health_stages[0].name, "disk");
    assert_true(spec.health_stages[0].fn == disk_stage);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_config_file_manager_options(cf, &mo);
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    assert_int_equal(nr_manager_load_config(m, cf, &err), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_manager_tick(m);
    assert_true(atomic_load(&stage_calls) >= 1);
    nr_health_round_result hr;
    assert_int_equal(nr_manager_health_stages(m, "db", &hr, &err), NR_OK);
    assert_string_equal(hr.stages[1].name, "disk");
    assert_int_equal(hr.stages[1].state, NR_HEALTH_DEGRADED);
    assert_string_equal(hr.stages[1].reason, "db: disk 91% full");
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_config_file_free(cf);

    /* bad options are refused before the file is read */
    o.health_stages = NULL;
    assert_int_equal(nr_config_file_load(&cf, path, &o, &err), NR_EINVAL);
    assert_null(cf);
    assert_non_null(strstr(err.message, "health_stages is NULL"));
    o.health_stages = stages;
    o.nhealth_stages = NR_RESOURCE_HEALTH_STAGES_MAX + 1;
    assert_int_equal(nr_config_file_load(&cf, path, &o, &err), NR_EINVAL);
    assert_null(cf);
    unlink(path);
    free(path);
}

static void test_fleet_section_as_options(void **state)
{
    (void)state;
    nr_mock_init(&fake);
    setenv("NR_TEST_CF_PW", "pw-from-env", 1);
    const char *text =
        "{\"credentials\": {\"redis-pw\": {\"env\": \"NR_TEST_CF_PW\"}},\n"
        " \"resources\": [\n"
        "  {\"id\": \"a\", \"driver\": \"fake\"},\n"
        "  {\"id\": \"b\", \"driver\": \"fake\", \"fleet\": {\"budget\": 30, \"redis_port\": 6380,"
        " \"credential_ref\": \"redis-pw\", \"on_redis_down\": \"fail_open\", \"min_per_process\": "
        "2,"
        " \"lease_ttl_ms\": 8000, \"release_after_ms\": -1, \"prefix\": \"p\"}}]}\n";
    nr_config_file *cf = NULL;
    nr_error err = {0};
    if (load(text, &cf, &err) != NR_OK)
        fail_msg("%s", err.message);
    nr_fleet_options fo = NR_FLEET_OPTIONS_INIT;
    assert_int_equal(nr_config_file_fleet(cf, 0, &fo), NR_ENOTFOUND);
    assert_int_equal(nr_config_file_fleet(cf, 1, &fo), NR_OK);
    assert_int_equal(fo.size, sizeof(fo));
    assert_string_equal(fo.resource, "b");
    assert_int_equal(fo.budget, 30);
    assert_int_equal(fo.min_per_process, 2);
    assert_string_equal(fo.prefix, "p");
    assert_string_equal(fo.redis_host, "127.0.0.1");
    assert_int_equal(fo.redis_port, 6380);
    assert_null(fo.redis_socket);
    assert_null(fo.redis_password);
    assert_string_equal(fo.credential_ref, "redis-pw");
    assert_non_null(fo.credentials);
    nr_secret *sec = NULL;
    assert_int_equal(fo.credentials->fetch(fo.credentials->ud, "redis-pw", &sec, &err), NR_OK);
    size_t slen = 0;
    const char *sval = nr_secret_reveal(sec, &slen);
    assert_int_equal(slen, 11);
    assert_memory_equal(sval, "pw-from-env", 11);
    nr_secret_free(sec);
    assert_int_equal(fo.lease_ttl_ms, 8000);
    assert_int_equal(fo.release_after_ms, -1);
    assert_int_equal(fo.redis_timeout_ms, 500);
    assert_int_equal(fo.on_redis_down, NR_FLEET_FAIL_OPEN);
    assert_int_equal(nr_config_file_fleet(cf, 2, &fo), NR_EINVAL);
    assert_int_equal(nr_config_file_fleet(cf, 1, NULL), NR_EINVAL);
    nr_config_file_free(cf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_file_into_a_manager),
        cmocka_unit_test(test_invalid_file),
        cmocka_unit_test(test_program_stage_named_by_a_file),
        cmocka_unit_test(test_fleet_section_as_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

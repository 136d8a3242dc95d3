/* test_health_config.c - the health pipeline's config: defaults, the JSON
 * shape, every rule with its exact message, serialize and print. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/alloc.h"
#include "nebula/health_pipeline.h"

static int parse(const char *text, nr_health_config *c, nr_config_report *r, nr_error *err)
{
    return nr_health_config_parse(text, strlen(text), NULL, 0, c, r, err);
}

/* text has exactly one issue: path, value and rule as given. */
static void expect_issue(const char *text, const char *path, const char *value, const char *rule)
{
    nr_health_config c;
    nr_config_report r;
    nr_error err = {0};
    int rc = parse(text, &c, &r, &err);
    if (rc != NR_ECONFIG || r.count != 1) {
        nr_config_report_print(&r, stderr);
        fail_msg("%s: rc %d, %zu issues", text, rc, r.count);
    }
    assert_string_equal(r.items[0].path, path);
    assert_string_equal(r.items[0].value, value);
    assert_string_equal(r.items[0].rule, rule);
    /* a failed parse leaves the defaults */
    nr_health_config d;
    nr_health_config_default(&d);
    assert_memory_equal(&c, &d, sizeof(c));
}

static void test_defaults(void **state)
{
    (void)state;
    nr_health_config c;
    nr_health_config_default(&c);
    assert_int_equal(c.nstages, 1);
    assert_string_equal(c.stages[0], "connectivity");
    assert_int_equal(c.performance.degraded_ms, 1000);
    assert_int_equal(c.performance.unhealthy_ms, 5000);
    assert_true(c.performance.percentile == 90.0);
    assert_int_equal(c.performance.window, 10);
    assert_int_equal(c.performance.window_ms, 0);
    assert_int_equal(c.performance.min_samples, 3);
    assert_true(c.utilization.degraded_in_use == 0.9);
    assert_true(c.utilization.unhealthy_in_use == 0.0);
    assert_true(c.utilization.degraded_waiters == 1.0);
    assert_true(c.utilization.unhealthy_waiters == 0.0);
    assert_true(c.utilization.degraded_wait_ratio == 0.25);
    assert_true(c.utilization.unhealthy_wait_ratio == 0.0);
    assert_int_equal(c.utilization.window, 10);
    assert_int_equal(c.utilization.min_samples, 3);
    nr_error err = {0};
    assert_int_equal(nr_health_config_validate(&c, NULL, NULL, 0, NULL, &err), NR_OK);

    /* an empty object is the defaults too */
    nr_health_config p;
    assert_int_equal(parse("{}", &p, NULL, &err), NR_OK);
    assert_memory_equal(&p, &c, sizeof(c));
}

static void test_parse_full(void **state)
{
    (void)state;
    const char *text = "{\"stages\": [\"connectivity\", \"performance\", \"utilization\"],"
                       " \"performance\": {\"degraded_ms\": 200, \"unhealthy_ms\": 2000,"
                       " \"window\": 10, \"window_ms\": 60000, \"percentile\": 95,"
                       " \"min_samples\": 5},"
                       " \"utilization\": {\"degraded_in_use\": 0.8, \"unhealthy_in_use\": 1,"
                       " \"degraded_waiters\": 2, \"unhealthy_waiters\": 20,"
                       " \"degraded_wait_ratio\": 0.1, \"unhealthy_wait_ratio\": 0.5,"
                       " \"window\": 6, \"window_ms\": 0, \"min_samples\": 2}}";
    nr_health_config c;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(parse(text, &c, &r, &err), NR_OK);
    assert_int_equal(r.count, 0);
    assert_int_equal(c.nstages, 3);
    assert_string_equal(c.stages[0], "connectivity");
    assert_string_equal(c.stages[1], "performance");
    assert_string_equal(c.stages[2], "utilization");
    assert_int_equal(c.performance.degraded_ms, 200);
    assert_int_equal(c.performance.unhealthy_ms, 2000);
    assert_int_equal(c.performance.window, 10);
    assert_int_equal(c.performance.window_ms, 60000);
    assert_true(c.performance.percentile == 95.0);
    assert_int_equal(c.performance.min_samples, 5);
    assert_true(c.utilization.degraded_in_use == 0.8);
    assert_true(c.utilization.unhealthy_in_use == 1.0);
    assert_true(c.utilization.degraded_waiters == 2.0);
    assert_true(c.utilization.unhealthy_waiters == 20.0);
    assert_true(c.utilization.degraded_wait_ratio == 0.1);
    assert_true(c.utilization.unhealthy_wait_ratio == 0.5);
    assert_int_equal(c.utilization.window, 6);
    assert_int_equal(c.utilization.min_samples, 2);

    /* a section left out keeps its defaults */
    assert_int_equal(
        parse("{\"stages\": [\"performance\"], \"performance\": {\"window\": 4}}", &c, &r, &err),
        NR_OK);
    assert_int_equal(c.nstages, 1);
    assert_int_equal(c.performance.window, 4);
    assert_int_equal(c.performance.degraded_ms, 1000);
    assert_true(c.utilization.degraded_in_use == 0.9);
}

static void test_syntax_error(void **state)
{
    (void)state;
    nr_health_config c;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(parse("{\n  \"stages\": [\"connectivity\",]\n}", &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$");
    assert_int_equal(r.items[0].line, 2);
    assert_true(r.items[0].column > 0);
    assert_true(strncmp(err.message, "health config: 1 problem; first: $: ", 36) == 0);
}

static void test_shape_errors(void **state)
{
    (void)state;
    expect_issue("[]", "$", "[]", "must be a JSON object");
    expect_issue("{\"stage\": []}", "$.stage", "", "unknown field; did you mean \"stages\"?");
    expect_issue("{\"checks\": 1}", "$.checks", "", "unknown field");
    expect_issue("{\"stages\": \"connectivity\"}", "$.stages", "\"connectivity\"",
                 "must be an array of stage names");
    expect_issue("{\"stages\": []}", "$.stages", "[]", "must hold between 1 and 8 stages");
    expect_issue("{\"stages\": [\"connectivity\",\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]}",
                 "$.stages", "[\"connectivity\",\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]",
                 "must hold between 1 and 8 stages");
    expect_issue("{\"stages\": [\"connectivity\", 3]}", "$.stages[1]", "3", "must be a string");
    expect_issue("{\"performance\": {}}", "$.performance", "",
                 "is set but \"performance\" is not in stages (connectivity)");
}

static void test_stage_name_errors(void **state)
{
    (void)state;
    expect_issue("{\"stages\": [\"connectivity\", \"perfomance\"]}", "$.stages[1]",
                 "\"perfomance\"",
                 "unknown stage; did you mean \"performance\"? (known: connectivity, "
                 "performance, utilization)");
    expect_issue("{\"stages\": [\"ping\"]}", "$.stages[0]", "\"ping\"",
                 "unknown stage (known: connectivity, performance, utilization)");
    expect_issue("{\"stages\": [\"my stage\"]}", "$.stages[0]", "\"my stage\"",
                 "must hold only letters, digits and _.-");
    expect_issue("{\"stages\": [\"\"]}", "$.stages[0]", "\"\"", "must not be empty");
    expect_issue("{\"stages\": [\"abcdefghijklmnopqrstuvwxyz012345\"]}", "$.stages[0]",
                 "\"abcdefghijklmnopqrstuvwxyz012345\"", "must be at most 31 bytes");
    expect_issue("{\"stages\": [\"connectivity\", \"performance\", \"connectivity\"]}",
                 "$.stages[2]", "\"connectivity\"", "must not repeat a stage (also stages[0])");

    /* the program's own stages are known when it names them */
    const char *const custom[] = {"replication_lag", "disk"};
    nr_health_config c;
    nr_config_report r;
    nr_error err = {0};
    const char *ok = "{\"stages\": [\"connectivity\", \"replication_lag\"]}";
    assert_int_equal(nr_health_config_parse(ok, strlen(ok), custom, 2, &c, &r, &err), NR_OK);
    assert_int_equal(c.nstages, 2);
    assert_string_equal(c.stages[1], "replication_lag");
    const char *typo = "{\"stages\": [\"replication_lagg\"]}";
    assert_int_equal(nr_health_config_parse(typo, strlen(typo), custom, 2, &c, &r, &err),
                     NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].rule,
                        "unknown stage; did you mean \"replication_lag\"? (known: connectivity, "
                        "performance, utilization, replication_lag, disk)");
}

static void test_section_errors(void **state)
{
    (void)state;
    expect_issue("{\"stages\": [\"performance\"], \"performance\": {\"window\": 0}}",
                 "$.performance.window", "0", "must be between 1 and 1000");
    expect_issue("{\"stages\": [\"performance\"], \"performance\": {\"window\": \"10\"}}",
                 "$.performance.window", "\"10\"", "must be an integer");
    expect_issue("{\"stages\": [\"performance\"], \"performance\": {\"windw\": 5}}",
                 "$.performance.windw", "", "unknown field; did you mean \"window\"?");
    expect_issue("{\"stages\": [\"performance\"], \"performance\": {\"percentile\": 0}}",
                 "$.performance.percentile", "0", "must be between 1 and 100");
    expect_issue("{\"stages\": [\"performance\"],"
                 " \"performance\": {\"degraded_ms\": 2000, \"unhealthy_ms\": 2000}}",
                 "$.performance.degraded_ms", "2000", "must be less than unhealthy_ms (2000)");
    expect_issue("{\"stages\": [\"performance\"],"
                 " \"performance\": {\"window\": 5, \"min_samples\": 6}}",
                 "$.performance.min_samples", "6", "must not exceed window (5)");
    /* a threshold at 0 is off: no ordering rule with it */
    nr_health_config c;
    nr_error err = {0};
    assert_int_equal(parse("{\"stages\": [\"performance\"],"
                           " \"performance\": {\"degraded_ms\": 9000, \"unhealthy_ms\": 0}}",
                           &c, NULL, &err),
                     NR_OK);

    expect_issue("{\"stages\": [\"utilization\"], \"utilization\": {\"degraded_in_use\": 1.5}}",
                 "$.utilization.degraded_in_use", "1.5", "must be between 0 and 1");
    expect_issue("{\"stages\": [\"utilization\"],"
                 " \"utilization\": {\"degraded_in_use\": 0.9, \"unhealthy_in_use\": 0.8}}",
                 "$.utilization.degraded_in_use", "0.9",
                 "must be less than unhealthy_in_use (0.8)");
    expect_issue("{\"stages\": [\"utilization\"],"
                 " \"utilization\": {\"degraded_waiters\": 5, \"unhealthy_waiters\": 5}}",
                 "$.utilization.degraded_waiters", "5", "must be less than unhealthy_waiters (5)");
    expect_issue("{\"stages\": [\"utilization\"],"
                 " \"utilization\": {\"degraded_wait_ratio\": 0.5, \"unhealthy_wait_ratio\": 0.2}}",
                 "$.utilization.degraded_wait_ratio", "0.5",
                 "must be less than unhealthy_wait_ratio (0.2)");
    expect_issue("{\"stages\": [\"utilization\"], \"utilization\": {\"min_samples\": 11}}",
                 "$.utilization.min_samples", "11", "must not exceed window (10)");
    expect_issue("{\"stages\": [\"utilization\"], \"utilization\": true}", "$.utilization", "true",
                 "must be a JSON object");
}

static void test_every_issue_and_error_message(void **state)
{
    (void)state;
    const char *text = "{\"stages\": [\"connectivity\", \"latency\"],"
                       " \"performance\": {\"window\": 0},"
                       " \"utilization\": {\"window\": 2000}, \"extra\": 1}";
    nr_health_config c;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(parse(text, &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 4);
    assert_string_equal(r.items[0].path, "$.extra");
    assert_string_equal(r.items[1].path, "$.stages[1]");
    /* the stage list was wrong, so whether a section is listed is not judged */
    assert_string_equal(r.items[2].path, "$.performance.window");
    assert_string_equal(r.items[3].path, "$.utilization.window");
    assert_string_equal(r.items[3].rule, "must be between 1 and 1000");
    assert_int_equal(err.code, NR_ECONFIG);
    assert_string_equal(err.message, "health config: 4 problems; first: $.extra: unknown field");

    char buf[2048];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    nr_config_report_print(&r, f);
    fclose(f);
    assert_string_equal(buf, "$.extra: unknown field\n"
                             "$.stages[1]: unknown stage (known: connectivity, performance, "
                             "utilization) (got \"latency\")\n"
                             "$.performance.window: must be between 1 and 1000 (got 0)\n"
                             "$.utilization.window: must be between 1 and 1000 (got 2000)\n");
}

static void test_from_json_prefix(void **state)
{
    (void)state;
    json_t *root = json_loads("{\"resources\": [{\"health\": {\"stages\": [\"performance\"],"
                              " \"performance\": {\"window\": 0}}}]}",
                              0, NULL);
    assert_non_null(root);
    json_t *h = json_object_get(json_array_get(json_object_get(root, "resources"), 0), "health");
    nr_health_config c;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_health_config_from_json(h, "$.resources[0].health", NULL, 0, &c, &r, &err),
                     NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$.resources[0].health.performance.window");
    assert_string_equal(err.message, "health config: 1 problem; first: "
                                     "$.resources[0].health.performance.window: must be between 1 "
                                     "and 1000 (got 0)");
    json_decref(root);

    assert_int_equal(nr_health_config_from_json(NULL, "$", NULL, 0, &c, &r, &err), NR_EINVAL);
    assert_int_equal(nr_health_config_parse("{}", 2, NULL, 1, &c, &r, &err), NR_EINVAL);
}

static void test_validate_struct(void **state)
{
    (void)state;
    nr_health_config c;
    nr_config_report r;
    nr_error err = {0};

    nr_health_config_default(&c);
    c.nstages = 0;
    assert_int_equal(nr_health_config_validate(&c, "$.health", NULL, 0, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$.health.stages");
    assert_string_equal(r.items[0].value, "0");
    assert_string_equal(r.items[0].rule, "must hold between 1 and 8 stages");

    nr_health_config_default(&c);
    c.nstages = 3;
    snprintf(c.stages[1], sizeof(c.stages[1]), "custom");
    memset(c.stages[2], 'x', sizeof(c.stages[2])); /* no terminator */
    c.performance.window = 0;
    c.utilization.degraded_in_use = 0.5;
    c.utilization.unhealthy_in_use = 0.4;
    assert_int_equal(nr_health_config_validate(&c, NULL, NULL, 0, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 4);
    assert_string_equal(r.items[0].path, "$.stages[1]");
    assert_string_equal(r.items[0].rule,
                        "unknown stage (known: connectivity, performance, utilization)");
    assert_string_equal(r.items[1].path, "$.stages[2]");
    assert_string_equal(r.items[1].rule, "must be at most 31 bytes");
    assert_string_equal(r.items[2].path, "$.performance.window");
    assert_string_equal(r.items[3].path, "$.utilization.degraded_in_use");
    assert_string_equal(r.items[3].rule, "must be less than unhealthy_in_use (0.4)");

    const char *const custom[] = {"custom"};
    snprintf(c.stages[2], sizeof(c.stages[2]), "custom");
    c.performance.window = 10;
    c.utilization.unhealthy_in_use = 0;
    assert_int_equal(nr_health_config_validate(&c, NULL, custom, 1, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$.stages[2]");
    assert_string_equal(r.items[0].rule, "must not repeat a stage (also stages[1])");
    snprintf(c.stages[2], sizeof(c.stages[2]), "utilization");
    assert_int_equal(nr_health_config_validate(&c, NULL, custom, 1, &r, &err), NR_OK);
    assert_int_equal(nr_health_config_validate(NULL, NULL, NULL, 0, &r, &err), NR_EINVAL);
}

static void test_serialize_round_trip(void **state)
{
    (void)state;
    nr_health_config c;
    nr_health_config_default(&c);
    c.nstages = 2;
    snprintf(c.stages[1], sizeof(c.stages[1]), "performance");
    c.performance.degraded_ms = 200;
    c.performance.percentile = 99.9;
    nr_error err = {0};
    char *text = nr_health_config_serialize(&c, &err);
    assert_non_null(text);
    /* the utilization section is left out: its stage is not listed */
    assert_string_equal(text, "{\"stages\":[\"connectivity\",\"performance\"],\"performance\":"
                              "{\"degraded_ms\":200,\"unhealthy_ms\":5000,\"percentile\":99.9,"
                              "\"window\":10,\"window_ms\":0,\"min_samples\":3}}");
    nr_health_config back;
    assert_int_equal(parse(text, &back, NULL, &err), NR_OK);
    assert_memory_equal(&back, &c, sizeof(c));
    nr_free(text);

    c.nstages = 3;
    snprintf(c.stages[2], sizeof(c.stages[2]), "utilization");
    c.utilization.degraded_in_use = 0.7;
    assert_non_null(text = nr_health_config_serialize(&c, &err));
    assert_int_equal(parse(text, &back, NULL, &err), NR_OK);
    assert_memory_equal(&back, &c, sizeof(c));
    nr_free(text);

    c.nstages = 0;
    assert_null(nr_health_config_serialize(&c, &err));
    NR_ASSERT_ERR(err, NR_EINVAL, "stages must hold between 1 and 8 stages (holds 0)");
    assert_null(nr_health_config_serialize(NULL, &err));
    NR_ASSERT_ERR(err, NR_EINVAL, "no struct");
}

static void test_print(void **state)
{
    (void)state;
    nr_health_config c;
    nr_health_config_default(&c);
    c.nstages = 2;
    snprintf(c.stages[1], sizeof(c.stages[1]), "utilization");
    c.utilization.degraded_in_use = 0.75;
    char buf[2048];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    nr_health_config_print(&c, f);
    fclose(f);
    assert_string_equal(buf, "health.stages = connectivity, utilization\n"
                             "health.utilization.degraded_in_use = 0.75\n"
                             "health.utilization.unhealthy_in_use = 0\n"
                             "health.utilization.degraded_waiters = 1\n"
                             "health.utilization.unhealthy_waiters = 0\n"
                             "health.utilization.degraded_wait_ratio = 0.25\n"
                             "health.utilization.unhealthy_wait_ratio = 0\n"
                             "health.utilization.window = 10\n"
                             "health.utilization.window_ms = 0\n"
                             "health.utilization.min_samples = 3\n");
}

static void test_oom_serialize(void **state)
{
    (void)state;
    nr_health_config c;
    nr_health_config_default(&c);
    nr_test_alloc_install();
    nr_error err = {0};
    nr_test_alloc_fail_after(0);
    assert_null(nr_health_config_serialize(&c, &err));
    NR_ASSERT_ERR(err, NR_ENOMEM, "health config: out of memory");
    nr_test_alloc_reset();
    char *text = nr_health_config_serialize(&c, &err);
    assert_non_null(text);
    nr_free(text);
    nr_set_allocator(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_stage_name_errors),
        cmocka_unit_test(test_section_errors),
        cmocka_unit_test(test_every_issue_and_error_message),
        cmocka_unit_test(test_from_json_prefix),
        cmocka_unit_test(test_validate_struct),
        cmocka_unit_test(test_serialize_round_trip),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_oom_serialize),
    };
    return cmocka_run_group_tests_name("health_config", tests, NULL, NULL);
}

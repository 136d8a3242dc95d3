/*
 * test_config_hooks.c - the "hooks" key of a config file through the public
 * API: each hook's type, common keys and own keys with their defaults, in
 * file order; a file with problems hands out no hooks. (The rules and their
 * messages are checked case by case in tools/nebula-resource/tests/check.)
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_text.h"
#include "nebula/testing.h"
#include "nebula/config_file.h"
#include "nebula/hooks.h"
#include "testutil.h"

static nr_mock fake;
static const nr_config_driver drivers[] = {{"fake", &nr_mock_type, &fake}};

static int load(const char *text, nr_config_file **cf, nr_error *err)
{
    return cfg_text_load(text, drivers, 1, cf, err);
}

#define RESOURCES                                                                                  \
    " \"resources\": [{\"id\": \"orders-db\", \"driver\": \"fake\"},\n"                            \
    "               {\"id\": \"users-db\", \"driver\": \"fake\"}],\n"

static void test_hooks_loaded(void **state)
{
    (void)state;
    nr_mock_init(&fake);
    const char *text =
        "{\n" RESOURCES " \"hooks\": [\n"
        "  {\"type\": \"audit\", \"path\": \"/tmp/a.jsonl\", \"resource\": \"orders-*\"},\n"
        "  {\"type\": \"metrics\", \"priority\": -5, \"ops\": [\"release\", \"acquire\"]},\n"
        "  {\"type\": \"slow_acquire\", \"threshold_ms\": 250, \"type_name\": \"fake\"},\n"
        "  {\"type\": \"credential_refresh\"}\n ]\n}\n";
    nr_config_file *cf = NULL;
    nr_error err = {0};
    if (load(text, &cf, &err) != NR_OK)
        fail_msg("load: %s", err.message);
    assert_int_equal(nr_config_file_hook_count(cf), 4);
    nr_config_hook h;
    assert_int_equal(nr_config_file_hook(cf, 0, &h), NR_OK);
    assert_int_equal(h.type, NR_CONFIG_HOOK_AUDIT);
    assert_string_equal(h.type_text, "audit");
    assert_int_equal(h.priority, 0);
    assert_int_equal(h.ops, 0);
    assert_string_equal(h.resource, "orders-*");
    assert_null(h.type_name);
    assert_string_equal(h.path, "/tmp/a.jsonl");
    assert_int_equal(h.queue_lines, 4096);
    assert_int_equal(nr_config_file_hook(cf, 1, &h), NR_OK);
    assert_int_equal(h.type, NR_CONFIG_HOOK_METRICS);
    assert_int_equal(h.priority, -5);
    assert_int_equal(h.ops, NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE) | NR_HOOK_OP_BIT(NR_HOOK_RELEASE));
    assert_null(h.resource);
    assert_null(h.path);
    assert_int_equal(nr_config_file_hook(cf, 2, &h), NR_OK);
    assert_int_equal(h.type, NR_CONFIG_HOOK_SLOW_ACQUIRE);
    assert_int_equal(h.threshold_ms, 250);
    assert_string_equal(h.type_name, "fake");
    assert_int_equal(nr_config_file_hook(cf, 3, &h), NR_OK);
    assert_int_equal(h.type, NR_CONFIG_HOOK_CREDENTIAL_REFRESH);
    assert_string_equal(h.type_text, "credential_refresh");
    assert_int_equal(h.window_ms, 60000);
    assert_int_equal(nr_config_file_hook(cf, 4, &h), NR_EINVAL);
    nr_config_file_free(cf);
}

static void test_hooks_problems(void **state)
{
    (void)state;
    const char *text =
        "{\n" RESOURCES " \"hooks\": [{\"type\": \"audit\"}, {\"type\": \"metrics\"}]\n}\n";
    nr_config_file *cf = NULL;
    nr_error err = {0};
    assert_int_equal(load(text, &cf, &err), NR_ECONFIG);
    const nr_config_problem *p = NULL;
    assert_int_equal(nr_config_file_problems(cf, &p), 1);
    assert_string_equal(p[0].path, "hooks[0].path");
    assert_string_equal(p[0].rule, "is required");
    assert_int_equal(nr_config_file_hook_count(cf), 0);
    nr_config_hook h;
    assert_int_equal(nr_config_file_hook(cf, 0, &h), NR_EINVAL);
    nr_config_file_free(cf);
    assert_int_equal(nr_config_file_hook_count(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_loaded),
        cmocka_unit_test(test_hooks_problems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

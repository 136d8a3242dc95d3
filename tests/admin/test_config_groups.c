/*
 * test_config_groups.c - the "groups" key of a config file: a valid file's
 * groups as specs, registered by nr_manager_load_config after the
 * resources; every rule broken is a problem with its path, rule, value and
 * position (unknown member with a did-you-mean, duplicate member, duplicate
 * group, a name that is a resource id, the percent out of range, wrong
 * types).
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_text.h"
#include "nebula/testing.h"
#include "nebula/config_file.h"
#include "testutil.h"

static nr_mock fake;
static const nr_config_driver drivers[] = {{"fake", &nr_mock_type, &fake}};

static int load(const char *text, nr_config_file **cf, nr_error *err)
{
    return cfg_text_load(text, drivers, 1, cf, err);
}

#define RESOURCES                                                                                  \
    " \"resources\": [{\"id\": \"replica-a\", \"driver\": \"fake\"},\n"                            \
    "               {\"id\": \"replica-b\", \"driver\": \"fake\"}],\n"

static void test_groups_loaded_and_registered(void **state)
{
    (void)state;
    nr_mock_init(&fake);
    const char *text = "{\n \"manager\": {\"health_interval_ms\": 0},\n" RESOURCES
                       " \"groups\": [{\"name\": \"replicas\", \"members\": [\"replica-b\", "
                       "\"replica-a\"], \"max_quarantine_percent\": 50},\n"
                       "            {\"name\": \"one\", \"members\": [\"replica-a\"]}]\n}\n";
    nr_config_file *cf = NULL;
    nr_error err = {0};
    if (load(text, &cf, &err) != NR_OK)
        fail_msg("load: %s", err.message);
    assert_int_equal(nr_config_file_group_count(cf), 2);
    nr_group_spec g = NR_GROUP_SPEC_INIT;
    assert_int_equal(nr_config_file_group(cf, 0, &g), NR_OK);
    assert_string_equal(g.name, "replicas");
    assert_int_equal(g.nmembers, 2);
    assert_string_equal(g.members[0], "replica-b");
    assert_string_equal(g.members[1], "replica-a");
    assert_int_equal(g.max_quarantine_percent, 50);
    assert_int_equal(nr_config_file_group(cf, 1, &g), NR_OK);
    assert_int_equal(g.max_quarantine_percent, NR_GROUP_MAX_QUARANTINE_PERCENT_DEFAULT);
    assert_int_equal(nr_config_file_group(cf, 2, &g), NR_EINVAL);

    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_config_file_manager_options(cf, &mo);
    nr_manager *m;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    if (nr_manager_load_config(m, cf, &err) != NR_OK)
        fail_msg("load_config: %s", err.message);
    assert_int_equal(nr_manager_group_count(m), 2);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_group_info gi;
    assert_int_equal(nr_manager_group_info(m, "replicas", &gi, &err), NR_OK);
    assert_int_equal(gi.nmembers, 2);
    assert_string_equal(gi.members[0].id, "replica-b");
    assert_int_equal(gi.max_quarantine_percent, 50);
    nr_guard guard = NR_GUARD_INIT;
    nr_group_choice c;
    assert_int_equal(nr_manager_acquire_group(m, "replicas", NULL, &guard, &c, &err), NR_OK);
    assert_string_equal(c.member, "replica-b"); /* the file's order */
    assert_int_equal(nr_guard_release(&guard), NR_OK);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_config_file_free(cf);
}

typedef struct want {
    const char *path, *rule, *value;
    int line;
} want;

static void expect_problems(const char *text, const want *w, size_t n)
{
    nr_config_file *cf = NULL;
    nr_error err = {0};
    assert_int_equal(load(text, &cf, &err), NR_ECONFIG);
    const nr_config_problem *p;
    size_t got = nr_config_file_problems(cf, &p);
    for (size_t i = 0; i < got && i < n; i++) {
        if (strcmp(p[i].path, w[i].path) || strcmp(p[i].rule, w[i].rule) ||
            strcmp(p[i].value, w[i].value) || p[i].line != w[i].line)
            fail_msg("problem %zu: %d %s: %s (got %s); want %d %s: %s (got %s)", i, p[i].line,
                     p[i].path, p[i].rule, p[i].value, w[i].line, w[i].path, w[i].rule, w[i].value);
    }
    assert_int_equal(got, n);
    assert_int_equal(nr_config_file_group_count(cf), 0);
    nr_config_file_free(cf);
}

static void test_every_rule(void **state)
{
    (void)state;
    const char *text =
        "{\n" RESOURCES " \"groups\": [\n"
        "  {\"name\": \"g\", \"members\": [\"replica-a\", \"replcia-b\", \"replica-a\", 3]},\n"
        "  {\"name\": \"g\", \"members\": [\"replica-b\"], \"max_quarantine_percent\": -1},\n"
        "  {\"name\": \"replica-b\", \"members\": \"replica-a\"},\n"
        "  {\"name\": \"bad name\", \"members\": []},\n"
        "  {\"members\": [\"replica-a\"], \"max_quarantine_percent\": 101}\n"
        " ]\n}\n";
    const want w[] = {
        {"groups[0].members[1]",
         "unknown resource id; did you mean \"replica-b\"? (defined: replica-a, replica-b)",
         "\"replcia-b\"", 5},
        {"groups[0].members[2]", "is listed twice (also members[0])", "\"replica-a\"", 5},
        {"groups[0].members[3]", "must be a resource id (a string)", "3", 5},
        {"groups[1].name", "duplicate group name (first used by groups[0])", "\"g\"", 6},
        {"groups[1].max_quarantine_percent", "must be between 0 and 100", "-1", 6},
        {"groups[2].name", "is the id of resources[1]; a group needs a name of its own",
         "\"replica-b\"", 7},
        {"groups[2].members", "must be an array of resource ids", "\"replica-a\"", 7},
        {"groups[3].name", "must hold only letters, digits and _-.:@", "\"bad name\"", 8},
        {"groups[3].members", "must hold between 1 and 32 resource ids", "[]", 8},
        {"groups[4].name", "is required", "", 9},
        {"groups[4].max_quarantine_percent", "must be between 0 and 100", "101", 9},
    };
    expect_problems(text, w, sizeof(w) / sizeof(w[0]));
    const want w2[] = {{"groups", "must be an array of groups", "{}", 4}};
    expect_problems("{\n" RESOURCES " \"groups\": {}\n}\n", w2, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_loaded_and_registered),
        cmocka_unit_test(test_every_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

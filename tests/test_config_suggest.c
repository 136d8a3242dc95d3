/*
 * test_config_suggest.c - the "did you mean" hint: the edit distance, the
 * rule for a close name, nr_config_suggest, and the hint an unknown key gets
 * from the config parser.
 */
#include "testutil.h"

#include <string.h>

#include "base/suggest.h"

static size_t dist(const char *a, const char *b)
{
    return nr__edit_distance(a, strlen(a), b, strlen(b), 100);
}

static void test_distance(void **state)
{
    (void)state;
    assert_int_equal(dist("", ""), 0);
    assert_int_equal(dist("port", "port"), 0);
    assert_int_equal(dist("", "abc"), 3);
    assert_int_equal(dist("abc", ""), 3);
    assert_int_equal(dist("kitten", "sitting"), 3);
    assert_int_equal(dist("prot", "port"), 1);   /* a swap of neighbours is one edit */
    assert_int_equal(dist("ab", "ba"), 1);       /* the same at the ends */
    assert_int_equal(dist("ca", "abc"), 3);      /* optimal string alignment: no edit twice */
    assert_int_equal(dist("Count", "count"), 1); /* bytes: case counts */
    assert_int_equal(dist("htp", "http"), 1);    /* an insertion */
    assert_int_equal(dist("pooll", "pool"), 1);  /* a deletion */
    assert_int_equal(dist("workers", "wrokesr"), 2);
}

static void test_distance_limit(void **state)
{
    (void)state;
    /* beyond the limit: limit + 1, also when only the lengths tell */
    assert_int_equal(nr__edit_distance("kitten", 6, "sitting", 7, 2), 3);
    assert_int_equal(nr__edit_distance("a", 1, "abcdef", 6, 2), 3);
    assert_int_equal(nr__edit_distance("kitten", 6, "sitting", 7, 3), 3);
    /* a name longer than the rows is never close */
    char longname[NR__SUGGEST_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(nr__edit_distance(longname, strlen(longname), longname, strlen(longname), 5),
                     6);
    longname[NR__SUGGEST_NAME_MAX] = '\0';
    assert_int_equal(nr__edit_distance(longname, strlen(longname), longname, strlen(longname), 5),
                     0);
}

static const char *const pool_keys[] = {"min_idle", "max_size", "acquire_timeout_ms",
                                        "max_lifetime_ms", "idle_timeout_ms"};
#define NPOOL (sizeof(pool_keys) / sizeof(pool_keys[0]))

static void test_suggest_close_names(void **state)
{
    (void)state;
    assert_string_equal(nr_config_suggest("max_szie", pool_keys, NPOOL), "max_size");
    assert_string_equal(nr_config_suggest("maxsize", pool_keys, NPOOL), "max_size");
    assert_string_equal(nr_config_suggest("acquire_timeout", pool_keys, NPOOL),
                        "acquire_timeout_ms"); /* 15 bytes: 5 edits allowed, 3 needed */
    assert_string_equal(nr_config_suggest("idle_timeout_ms", pool_keys, NPOOL), "idle_timeout_ms");
    /* the closest wins over an earlier, farther one */
    static const char *const ab[] = {"abcx", "abc"};
    assert_string_equal(nr_config_suggest("abc", ab, 2), "abc");
    /* of equally close names, the first */
    static const char *const two[] = {"cat", "bat"};
    assert_string_equal(nr_config_suggest("hat", two, 2), "cat");
    /* NULL entries are skipped */
    static const char *const holes[] = {NULL, "sqlite", NULL};
    assert_string_equal(nr_config_suggest("sqlit", holes, 3), "sqlite");
}

static void test_suggest_nothing_close(void **state)
{
    (void)state;
    /* max(1, len / 3) edits: 7 bytes allow 2 */
    assert_null(nr_config_suggest("threads", pool_keys, NPOOL));
    static const char *const drivers[] = {"sqlite", "postgres", "redis", "http"};
    assert_null(nr_config_suggest("rabbitmq", drivers, 4));
    assert_string_equal(nr_config_suggest("postgrse", drivers, 4), "postgres");
    assert_string_equal(nr_config_suggest("postgers", drivers, 4), "postgres");
    assert_null(nr_config_suggest("pgsql", drivers, 4));
    /* a word is never wholly replaced: one byte gets no hint, two bytes one edit */
    static const char *const short_names[] = {"a", "id", "ab"};
    assert_null(nr_config_suggest("b", short_names, 3));
    assert_string_equal(nr_config_suggest("a", short_names, 3), "a");
    assert_string_equal(nr_config_suggest("ib", short_names, 3), "id");
    assert_null(nr_config_suggest("xy", short_names, 3));
    /* nothing to compare */
    assert_null(nr_config_suggest(NULL, pool_keys, NPOOL));
    assert_null(nr_config_suggest("", pool_keys, NPOOL));
    assert_null(nr_config_suggest("max_size", NULL, 3));
    assert_null(nr_config_suggest("max_size", pool_keys, 0));
}

/* ---- through the parser --------------------------------------------------------- */

typedef struct scfg {
    int64_t port;
    char *host;
    nr_secret *password;
} scfg;

static const nr_field s_fields[] = {
    {.name = "port", .type = NR_FT_INT, .offset = offsetof(scfg, port), .def_int = 1},
    {.name = "host", .type = NR_FT_STRING, .offset = offsetof(scfg, host)},
    {.name = "password", .type = NR_FT_SECRET, .offset = offsetof(scfg, password)},
};

static const nr_config_schema s_schema = {
    .name = "s",
    .struct_size = sizeof(scfg),
    .fields = s_fields,
    .nfields = sizeof(s_fields) / sizeof(s_fields[0]),
};

/* The rule of the one issue parsing text gives. */
static void assert_rule(const char *text, const char *path, const char *rule)
{
    scfg c;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_config_parse(&s_schema, text, strlen(text), &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, path);
    assert_string_equal(r.items[0].rule, rule);
    assert_string_equal(r.items[0].value, "");
    assert_non_null(strstr(err.message, rule));
    nr_config_free(&s_schema, &c);
}

static void test_parser_hint(void **state)
{
    (void)state;
    assert_rule("{\"prot\": 5}", "$.prot", "unknown field; did you mean \"port\"?");
    assert_rule("{\"hots\": \"x\"}", "$.hots", "unknown field; did you mean \"host\"?");
    /* the value of a misspelt secret is not shown, only the field's name */
    assert_rule("{\"pasword\": \"hunter2\"}", "$.pasword",
                "unknown field; did you mean \"password\"?");
    assert_rule("{\"colour\": 1}", "$.colour", "unknown field");
    /* (a key holding a NUL byte gets none: test_config.c, from a jansson object) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_distance_limit),
        cmocka_unit_test(test_suggest_close_names),
        cmocka_unit_test(test_suggest_nothing_close),
        cmocka_unit_test(test_parser_hint),
    };
    return cmocka_run_group_tests_name("config_suggest", tests, NULL, NULL);
}

/*
 * test_config_syntax_pos.c - where a JSON syntax error is: line and column
 * are 1-based everywhere, also for an empty text and at the end of a text
 * that ends in a newline (jansson says column 0 there).
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

typedef struct pcfg {
    int64_t count;
} pcfg;

static const nr_field p_fields[] = {
    {.name = "count", .type = NR_FT_INT, .offset = offsetof(pcfg, count)},
};

static const nr_config_schema p_schema = {
    .name = "pos",
    .struct_size = sizeof(pcfg),
    .fields = p_fields,
    .nfields = 1,
};

/* Parse text (len bytes), which is not JSON: one issue at line, column. */
static void assert_at(const char *text, size_t len, int line, int column)
{
    pcfg c;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_config_parse(&p_schema, text, len, &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$");
    assert_int_equal(r.items[0].line, line);
    assert_int_equal(r.items[0].column, column);
    char where[64];
    snprintf(where, sizeof(where), "[line %d, column %d]", line, column);
    assert_non_null(strstr(err.message, where));
    nr_config_free(&p_schema, &c);
}

static void test_empty_text(void **state)
{
    (void)state;
    assert_at("", 0, 1, 1);
    assert_at(NULL, 0, 1, 1);
    assert_at("   ", 3, 1, 3);
}

static void test_end_after_a_newline(void **state)
{
    (void)state;
    assert_at("\n\n", 2, 3, 1);
    assert_at("{\n", 2, 2, 1);
    assert_at("{\"count\": 1,\n", 13, 2, 1);
}

static void test_inside_a_line(void **state)
{
    (void)state;
    assert_at("{", 1, 1, 1);
    assert_at("{\n  oops\n}", 10, 2, 6); /* jansson: the end of the token */
    assert_at("{\"count\": x}", 12, 1, 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_text),
        cmocka_unit_test(test_end_after_a_newline),
        cmocka_unit_test(test_inside_a_line),
    };
    return cmocka_run_group_tests_name("config_syntax_pos", tests, NULL, NULL);
}

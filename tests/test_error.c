/* test_error.c - error names, descriptions and the nr_error detail struct. */
#include "testutil.h"

#include <string.h>

typedef struct code_row {
    int code;
    const char *name;
    const char *text;
} code_row;

static const code_row rows[] = {
#define ROW(name, value, text) {value, "NR_" #name, text},
    NR_ERRNO_MAP(ROW)
#undef ROW
};
#define ROW_COUNT (sizeof(rows) / sizeof(rows[0]))

static void test_every_code_has_name_and_text(void **state)
{
    (void)state;
    assert_int_equal(ROW_COUNT, 1 - NR_ERR_MIN);
    for (size_t i = 0; i < ROW_COUNT; i++) {
        assert_string_equal(nr_err_name(rows[i].code), rows[i].name);
        assert_string_equal(nr_strerror(rows[i].code), rows[i].text);
        assert_string_not_equal(nr_strerror(rows[i].code), "unknown error");
    }
}

static void test_codes_are_dense_and_distinct(void **state)
{
    (void)state;
    /* Every value from NR_ERR_MIN to 0 is used exactly once. */
    for (int c = NR_ERR_MIN; c <= 0; c++) {
        int seen = 0;
        for (size_t i = 0; i < ROW_COUNT; i++)
            seen += rows[i].code == c;
        assert_int_equal(seen, 1);
    }
    assert_int_equal(NR_OK, 0);
    assert_string_equal(nr_err_name(NR_ETIMEDOUT), "NR_ETIMEDOUT");
    assert_string_equal(nr_strerror(NR_ETIMEDOUT), "timed out");
    assert_string_equal(nr_err_name(NR_EINTERNAL), "NR_EINTERNAL");
}

static void test_unknown_codes(void **state)
{
    (void)state;
    const int unknown[] = {1, 7, NR_ERR_MIN - 1, -1000, 1000};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_string_equal(nr_strerror(unknown[i]), "unknown error");
        assert_string_equal(nr_err_name(unknown[i]), "NR_E?");
    }
}

static void test_set_fills_everything(void **state)
{
    (void)state;
    nr_error err;
    memset(&err, 0x5a, sizeof(err));
    int rc = nr_error_set(&err, NR_EUNAVAIL, "db-1", "host %s port %d", "db", 5432);
    assert_int_equal(rc, NR_EUNAVAIL);
    assert_int_equal(err.code, NR_EUNAVAIL);
    assert_int_equal(err.cause, NR_OK);
    assert_int_equal(err.driver_code, 0);
    assert_string_equal(err.resource_id, "db-1");
    assert_string_equal(err.message, "host db port 5432");
    assert_int_equal(err.truncated, 0);

    rc = nr_error_set(&err, NR_EINVAL, NULL, "plain");
    assert_int_equal(rc, NR_EINVAL);
    assert_string_equal(err.resource_id, "");
    assert_string_equal(err.message, "plain");
}

static void test_set_null_err_returns_code(void **state)
{
    (void)state;
    assert_int_equal(nr_error_set(NULL, NR_ECONFIG, "x", "%s", "y"), NR_ECONFIG);
    assert_int_equal(nr_error_set_cause(NULL, NR_EINIT, NR_ETIMEDOUT, 5, NULL, "z"), NR_EINIT);
    nr_error_prefix(NULL, "ignored");
    nr_error_clear(NULL);
}

static void test_message_truncation_marked(void **state)
{
    (void)state;
    char longtext[NR_ERROR_MESSAGE_MAX * 2];
    memset(longtext, 'm', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    nr_error err;
    nr_error_clear(&err);
    nr_error_set(&err, NR_EINIT, NULL, "%s", longtext);
    assert_int_equal(err.truncated, 1);
    size_t len = strlen(err.message);
    assert_int_equal(len, NR_ERROR_MESSAGE_MAX - 1);
    assert_string_equal(err.message + len - 3, "...");
    assert_int_equal(err.message[0], 'm');

    /* Exactly fitting is not truncation. */
    longtext[NR_ERROR_MESSAGE_MAX - 1] = '\0';
    nr_error_set(&err, NR_EINIT, NULL, "%s", longtext);
    assert_int_equal(err.truncated, 0);
    assert_int_equal(strlen(err.message), NR_ERROR_MESSAGE_MAX - 1);
    assert_int_equal(err.message[NR_ERROR_MESSAGE_MAX - 2], 'm');
}

static void test_resource_id_truncation_marked(void **state)
{
    (void)state;
    char id[NR_ERROR_ID_MAX + 10];
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    nr_error err;
    nr_error_clear(&err);
    nr_error_set(&err, NR_EINIT, id, "short");
    assert_int_equal(err.truncated, 1);
    assert_int_equal(strlen(err.resource_id), NR_ERROR_ID_MAX - 1);
    assert_string_equal(err.resource_id + NR_ERROR_ID_MAX - 4, "...");
    assert_string_equal(err.message, "short");

    /* A later call that fits clears the flag again. */
    nr_error_set(&err, NR_EINIT, "ok", "short");
    assert_int_equal(err.truncated, 0);
    assert_string_equal(err.resource_id, "ok");
}

static void test_set_cause(void **state)
{
    (void)state;
    nr_error err;
    nr_error_clear(&err);
    int rc = nr_error_set_cause(&err, NR_EINIT, NR_ECRED, 19, "pg", "login failed for %s", "app");
    assert_int_equal(rc, NR_EINIT);
    assert_int_equal(err.code, NR_EINIT);
    assert_int_equal(err.cause, NR_ECRED);
    assert_int_equal(err.driver_code, 19);
    assert_string_equal(err.resource_id, "pg");
    assert_string_equal(err.message, "login failed for app");

    /* A plain set afterwards resets cause and driver code. */
    nr_error_set(&err, NR_EBUSY, NULL, "busy");
    assert_int_equal(err.cause, NR_OK);
    assert_int_equal(err.driver_code, 0);
}

static void test_prefix(void **state)
{
    (void)state;
    nr_error err;
    nr_error_clear(&err);
    nr_error_set_cause(&err, NR_EINIT, NR_ETIMEDOUT, 3, "r1", "connect failed");
    nr_error_prefix(&err, "pool %s", "main");
    assert_string_equal(err.message, "pool main: connect failed");
    assert_int_equal(err.code, NR_EINIT);
    assert_int_equal(err.cause, NR_ETIMEDOUT);
    assert_int_equal(err.driver_code, 3);
    assert_string_equal(err.resource_id, "r1");
    assert_int_equal(err.truncated, 0);
}

static void test_prefix_truncation_marked(void **state)
{
    (void)state;
    char body[NR_ERROR_MESSAGE_MAX - 10];
    memset(body, 'b', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    nr_error err;
    nr_error_clear(&err);
    nr_error_set(&err, NR_EINIT, NULL, "%s", body);
    assert_int_equal(err.truncated, 0);
    nr_error_prefix(&err, "a long prefix");
    assert_int_equal(err.truncated, 1);
    assert_int_equal(strlen(err.message), NR_ERROR_MESSAGE_MAX - 1);
    assert_true(strncmp(err.message, "a long prefix: bbb", 18) == 0);
    assert_string_equal(err.message + NR_ERROR_MESSAGE_MAX - 4, "...");
}

static void test_clear(void **state)
{
    (void)state;
    nr_error err;
    nr_error_set_cause(&err, NR_EINIT, NR_ECRED, 1, "x", "y");
    nr_error_clear(&err);
    assert_int_equal(err.code, NR_OK);
    assert_int_equal(err.cause, NR_OK);
    assert_int_equal(err.driver_code, 0);
    assert_int_equal(err.truncated, 0);
    assert_string_equal(err.message, "");
    assert_string_equal(err.resource_id, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_name_and_text),
        cmocka_unit_test(test_codes_are_dense_and_distinct),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_set_fills_everything),
        cmocka_unit_test(test_set_null_err_returns_code),
        cmocka_unit_test(test_message_truncation_marked),
        cmocka_unit_test(test_resource_id_truncation_marked),
        cmocka_unit_test(test_set_cause),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_prefix_truncation_marked),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}

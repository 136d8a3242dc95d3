/*
 * test_id.c - the one id rule (nebula/id.h): what passes, each way to fail
 * with its message, and the character set byte by byte.
 */
#include <string.h>

#include "nebula/id.h"
#include "testutil.h"

static void test_valid_ids(void **state)
{
    (void)state;
    const char *ok[] = {"a", "orders-db", "tenant:acme", "a.b_c@d-e", "Z9"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(nr_id_check(ok[i], "resource id", NULL), NR_OK);
    char longest[NR_ID_MAX + 1];
    memset(longest, 'x', NR_ID_MAX);
    longest[NR_ID_MAX] = '\0';
    assert_int_equal(nr_id_check(longest, NULL, NULL), NR_OK);
    /* n bytes, no NUL needed */
    assert_int_equal(nr_id_check_n("abc/def", 3, "tenant scope id", NULL), NR_OK);
}

static void test_each_failure_names_the_rule(void **state)
{
    (void)state;
    nr_error err = {0};
    assert_int_equal(nr_id_check(NULL, "resource id", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource id is required");
    assert_int_equal(nr_id_check("", "resource id", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "resource id is empty");
    char too_long[NR_ID_MAX + 2];
    memset(too_long, 'x', NR_ID_MAX + 1);
    too_long[NR_ID_MAX + 1] = '\0';
    assert_int_equal(nr_id_check(too_long, "pool options: id", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "pool options: id is 64 bytes long; at most 63 are allowed");
    assert_int_equal(nr_id_check("a/b", NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL,
                  "id has invalid character '/' at offset 1 (allowed: A-Z a-z 0-9 _ . : @ -)");
    assert_int_equal(nr_id_check("\xc3\xa9t\xc3\xa9", "tenant scope id", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "tenant scope id has invalid byte 0xc3 at offset 0");
    assert_string_equal(err.resource_id, "");
}

static void test_character_set(void **state)
{
    (void)state;
    int n = 0;
    for (int c = 0; c < 256; c++) {
        bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '@' || c == '-';
        assert_int_equal(nr_id_char_ok((char)c), want);
        char one[2] = {(char)c, '\0'};
        if (c != 0)
            assert_int_equal(nr_id_check(one, NULL, NULL) == NR_OK, want);
        n += want;
    }
    assert_int_equal(n, 26 + 26 + 10 + 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_ids),
        cmocka_unit_test(test_each_failure_names_the_rule),
        cmocka_unit_test(test_character_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

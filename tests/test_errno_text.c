/*
 * test_errno_text.c - nr_errno_text: strerror's text, and for EMFILE and
 * ENFILE the code and the limit that was hit (the soft limit is lowered
 * here and put back).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static void test_plain_errno(void **state)
{
    (void)state;
    char buf[256];
    assert_ptr_equal(nr_errno_text(ENOENT, buf, sizeof(buf)), buf);
    assert_string_equal(buf, strerror(ENOENT));
    nr_errno_text(EACCES, buf, sizeof(buf));
    assert_string_equal(buf, strerror(EACCES));
    nr_errno_text(-12345, buf, sizeof(buf));
    assert_true(strlen(buf) > 0);
}

static void test_emfile_names_the_limit(void **state)
{
    (void)state;
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit low = {.rlim_cur = 37, .rlim_max = old.rlim_max};
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < 37)
        low.rlim_cur = old.rlim_cur;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    char buf[256], want[200];
    nr_errno_text(EMFILE, buf, sizeof(buf));
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    snprintf(want, sizeof(want),
             "%s (EMFILE: the RLIMIT_NOFILE limit of this process is %llu open files, hard limit ",
             strerror(EMFILE), (unsigned long long)low.rlim_cur);
    assert_non_null(strstr(buf, want));
    assert_int_equal(buf[strlen(buf) - 1], ')');
}

static void test_enfile_names_the_system_limit(void **state)
{
    (void)state;
    char buf[256], want[200];
    nr_errno_text(ENFILE, buf, sizeof(buf));
    snprintf(want, sizeof(want), "%s (ENFILE: the system-wide limit on open files was reached)",
             strerror(ENFILE));
    assert_string_equal(buf, want);
}

static void test_small_buffer(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    nr_errno_text(EMFILE, buf, sizeof(buf));
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    assert_null(nr_errno_text(EMFILE, NULL, 10));
    nr_errno_text(EMFILE, buf, 0); /* writes nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_errno),
        cmocka_unit_test(test_emfile_names_the_limit),
        cmocka_unit_test(test_enfile_names_the_system_limit),
        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests_name("errno_text", tests, NULL, NULL);
}

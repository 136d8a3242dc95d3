/* test_alloc.c - the replaceable allocator and its helpers. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* A custom allocator that counts what goes through it. */
typedef struct counting {
    int mallocs, reallocs, frees;
} counting;

static void *c_malloc(size_t size, void *ud)
{
    ((counting *)ud)->mallocs++;
    return malloc(size);
}

static void *c_realloc(void *p, size_t size, void *ud)
{
    ((counting *)ud)->reallocs++;
    return realloc(p, size);
}

static void c_free(void *p, void *ud)
{
    ((counting *)ud)->frees++;
    free(p);
}

static int restore_default(void **state)
{
    (void)state;
    nr_set_allocator(NULL);
    return 0;
}

static void test_calloc_zeroes(void **state)
{
    (void)state;
    unsigned char *p = nr_calloc(16, 8);
    assert_non_null(p);
    for (int i = 0; i < 128; i++)
        assert_int_equal(p[i], 0);
    nr_free(p);
}

static void test_calloc_overflow_is_null(void **state)
{
    (void)state;
    assert_null(nr_calloc(SIZE_MAX, 2));
    assert_null(nr_calloc(2, SIZE_MAX));
    assert_null(nr_calloc(SIZE_MAX / 2 + 1, 2));
    assert_null(nr_calloc((size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4)));
}

static void test_zero_sizes_give_freeable_pointers(void **state)
{
    (void)state;
    void *a = nr_malloc(0);
    void *b = nr_calloc(0, 8);
    void *c = nr_calloc(8, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    nr_free(a);
    nr_free(b);
    nr_free(c);
    nr_free(NULL);
}

static void test_realloc_keeps_contents(void **state)
{
    (void)state;
    char *p = nr_malloc(4);
    assert_non_null(p);
    memcpy(p, "abc", 4);
    p = nr_realloc(p, 4096);
    assert_non_null(p);
    assert_string_equal(p, "abc");
    nr_free(p);
}

static void test_strdup(void **state)
{
    (void)state;
    const char *src = "nebula resource";
    char *d = nr_strdup(src);
    assert_non_null(d);
    assert_ptr_not_equal(d, src);
    assert_string_equal(d, src);
    nr_free(d);

    char *e = nr_strdup("");
    assert_non_null(e);
    assert_string_equal(e, "");
    nr_free(e);

    assert_null(nr_strdup(NULL));
}

static void test_custom_allocator_receives_every_call(void **state)
{
    (void)state;
    counting c = {0, 0, 0};
    nr_allocator a = {c_malloc, c_realloc, c_free, &c};
    nr_set_allocator(&a);
    void *p = nr_malloc(10);
    p = nr_realloc(p, 20);
    void *q = nr_calloc(3, 3);
    char *s = nr_strdup("x");
    nr_free(p);
    nr_free(q);
    nr_free(s);
    nr_free(NULL);
    nr_set_allocator(NULL);
    assert_int_equal(c.mallocs, 3);
    assert_int_equal(c.reallocs, 1);
    assert_int_equal(c.frees, 3);

    /* After restoring, the custom allocator sees nothing more. */
    void *r = nr_malloc(8);
    nr_free(r);
    assert_int_equal(c.mallocs, 3);
    assert_int_equal(c.frees, 3);
}

static void test_fault_injection(void **state)
{
    (void)state;
    nr_test_alloc_install();
    void *a = nr_malloc(8);
    assert_non_null(a);
    assert_int_equal(nr_test_alloc_count(), 1);

    nr_test_alloc_fail_after(1);
    void *b = nr_malloc(8); /* allocation 0: succeeds */
    assert_non_null(b);
    assert_null(nr_malloc(8)); /* allocation 1: fails */
    assert_null(nr_calloc(2, 2));
    assert_null(nr_strdup("abc"));
    void *c = nr_realloc(b, 64);
    assert_null(c); /* b stays valid after a failed realloc */
    assert_int_equal(nr_test_alloc_count(), 5);

    nr_test_alloc_reset();
    void *d = nr_malloc(8);
    assert_non_null(d);
    nr_free(a);
    nr_free(b);
    nr_free(d);
    nr_set_allocator(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calloc_zeroes),
        cmocka_unit_test(test_calloc_overflow_is_null),
        cmocka_unit_test(test_zero_sizes_give_freeable_pointers),
        cmocka_unit_test(test_realloc_keeps_contents),
        cmocka_unit_test(test_strdup),
        cmocka_unit_test_teardown(test_custom_allocator_receives_every_call, restore_default),
        cmocka_unit_test_teardown(test_fault_injection, restore_default),
    };
    return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}

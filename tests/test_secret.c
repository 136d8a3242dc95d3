/* test_secret.c - nr_secret: copies, comparison, zeroing and out-of-memory paths. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_create_copies_bytes(void **state)
{
    (void)state;
    char src[] = {'p', 'w', '\0', 'x'};
    nr_secret *s = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_create(&s, src, sizeof(src), &err), NR_OK);
    assert_int_equal(err.code, NR_OK);
    src[0] = 'Q'; /* the secret holds its own copy */
    size_t len = 99;
    const char *p = nr_secret_reveal(s, &len);
    assert_int_equal(len, 4);
    assert_int_equal(nr_secret_len(s), 4);
    assert_memory_equal(p, "pw\0x", 4);
    assert_int_equal(p[4], '\0'); /* a NUL is kept after the bytes */
    nr_secret_free(s);
}

static void test_create_empty(void **state)
{
    (void)state;
    nr_secret *s = NULL;
    assert_int_equal(nr_secret_create(&s, NULL, 0, NULL), NR_OK);
    assert_non_null(s);
    size_t len = 7;
    assert_string_equal(nr_secret_reveal(s, &len), "");
    assert_int_equal(len, 0);
    nr_secret_free(s);
}

static void test_create_invalid(void **state)
{
    (void)state;
    nr_error err = {0};
    assert_int_equal(nr_secret_create(NULL, "x", 1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no output pointer");
    nr_secret *s = (nr_secret *)(uintptr_t)1;
    assert_int_equal(nr_secret_create(&s, NULL, 3, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no data");
    assert_null(s);
    assert_int_equal(nr_secret_create(&s, "x", SIZE_MAX, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "too long");
    assert_null(s);
}

static void test_from_str(void **state)
{
    (void)state;
    nr_secret *s = NULL;
    assert_int_equal(nr_secret_from_str(&s, "hunter2", NULL), NR_OK);
    size_t len;
    assert_string_equal(nr_secret_reveal(s, &len), "hunter2");
    assert_int_equal(len, 7);
    nr_secret_free(s);

    nr_error err = {0};
    s = (nr_secret *)(uintptr_t)1;
    assert_int_equal(nr_secret_from_str(&s, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no string");
    assert_null(s);
    assert_int_equal(nr_secret_from_str(NULL, NULL, &err), NR_EINVAL);
}

static void test_dup(void **state)
{
    (void)state;
    nr_secret *a = NULL, *b = NULL;
    assert_int_equal(nr_secret_create(&a, "k\0ey", 4, NULL), NR_OK);
    assert_int_equal(nr_secret_dup(&b, a, NULL), NR_OK);
    assert_ptr_not_equal(a, b);
    assert_ptr_not_equal(nr_secret_reveal(a, NULL), nr_secret_reveal(b, NULL));
    assert_int_equal(nr_secret_len(b), 4);
    assert_memory_equal(nr_secret_reveal(b, NULL), "k\0ey", 5);
    assert_true(nr_secret_equal(a, b));
    nr_secret_free(a);
    nr_secret_free(b);

    b = (nr_secret *)(uintptr_t)1;
    assert_int_equal(nr_secret_dup(&b, NULL, NULL), NR_OK);
    assert_null(b);

    nr_error err = {0};
    assert_int_equal(nr_secret_dup(NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no output pointer");
}

static void test_null_secret(void **state)
{
    (void)state;
    nr_secret_free(NULL);
    size_t len = 5;
    assert_null(nr_secret_reveal(NULL, &len));
    assert_int_equal(len, 0);
    assert_null(nr_secret_reveal(NULL, NULL));
    assert_int_equal(nr_secret_len(NULL), 0);
}

static nr_secret *mk(const char *bytes, size_t len)
{
    nr_secret *s = NULL;
    assert_int_equal(nr_secret_create(&s, bytes, len, NULL), NR_OK);
    return s;
}

static void test_equal(void **state)
{
    (void)state;
    nr_secret *abc = mk("abc", 3), *abc2 = mk("abc", 3), *abd = mk("abd", 3);
    nr_secret *ab = mk("ab", 2), *abcd = mk("abcd", 4), *e1 = mk("", 0), *e2 = mk("", 0);
    nr_secret *n1 = mk("a\0b", 3), *n2 = mk("a\0c", 3), *n3 = mk("a\0b", 3);
    nr_secret *ab0 = mk("ab\0", 3);
    assert_true(nr_secret_equal(abc, abc));
    assert_true(nr_secret_equal(abc, abc2));
    assert_false(nr_secret_equal(abc, abd));
    assert_false(nr_secret_equal(abc, ab));
    assert_false(nr_secret_equal(ab, abc));
    assert_false(nr_secret_equal(abc, abcd));
    assert_true(nr_secret_equal(e1, e2));
    assert_false(nr_secret_equal(e1, ab));
    assert_false(nr_secret_equal(n1, n2));
    assert_true(nr_secret_equal(n1, n3));
    /* "ab" + NUL differs from "ab" even though the stored bytes match */
    assert_false(nr_secret_equal(ab0, ab));
    assert_false(nr_secret_equal(ab, ab0));
    assert_true(nr_secret_equal(NULL, NULL));
    assert_false(nr_secret_equal(abc, NULL));
    assert_false(nr_secret_equal(NULL, abc));
    nr_secret *all[] = {abc, abc2, abd, ab, abcd, e1, e2, n1, n2, n3, ab0};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        nr_secret_free(all[i]);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    nr_test_alloc_install();
    nr_error err = {0};
    nr_secret *s = (nr_secret *)(uintptr_t)1;
    nr_test_alloc_fail_after(0);
    assert_int_equal(nr_secret_create(&s, "opensesame", 10, &err), NR_ENOMEM);
    NR_ASSERT_ERR(err, NR_ENOMEM, "out of memory");
    assert_null(strstr(err.message, "opensesame"));
    assert_null(s);

    nr_test_alloc_reset();
    nr_secret *src = mk("opensesame", 10);
    nr_test_alloc_fail_after(0);
    assert_int_equal(nr_secret_dup(&s, src, &err), NR_ENOMEM);
    assert_null(s);
    assert_int_equal(nr_secret_from_str(&s, "opensesame", &err), NR_ENOMEM);
    NR_ASSERT_ERR(err, NR_ENOMEM, "out of memory");
    assert_null(s);
    nr_test_alloc_reset();
    nr_secret_free(src);
    nr_set_allocator(NULL);
}

/* An allocator that remembers block sizes and checks, at free time, that
 * every byte of the block was zeroed. */
static long freed_blocks, dirty_blocks;

static void *z_malloc(size_t size, void *ud)
{
    (void)ud;
    size_t *p = malloc(sizeof(size_t) + size);
    if (!p)
        return NULL;
    *p = size;
    return p + 1;
}

static void *z_realloc(void *ptr, size_t size, void *ud)
{
    (void)ud;
    size_t *p = ptr ? (size_t *)ptr - 1 : NULL;
    p = realloc(p, sizeof(size_t) + size);
    if (!p)
        return NULL;
    *p = size;
    return p + 1;
}

static void z_free(void *ptr, void *ud)
{
    (void)ud;
    size_t *p = (size_t *)ptr - 1;
    const unsigned char *b = ptr;
    int dirty = 0;
    for (size_t i = 0; i < *p; i++)
        dirty |= b[i] != 0;
    freed_blocks++;
    dirty_blocks += dirty;
    free(p);
}

static void test_zeroed_before_free(void **state)
{
    (void)state;
    static const nr_allocator za = {z_malloc, z_realloc, z_free, NULL};
    nr_set_allocator(&za);
    freed_blocks = dirty_blocks = 0;
    nr_secret *a = mk("correct horse battery staple", 28);
    nr_secret *b = NULL;
    assert_int_equal(nr_secret_dup(&b, a, NULL), NR_OK);
    nr_secret_free(a);
    nr_secret_free(b);
    nr_set_allocator(NULL);
    assert_int_equal(freed_blocks, 2);
    assert_int_equal(dirty_blocks, 0);
}

struct reader_arg {
    const nr_secret *a, *b;
    int ok;
};

static void *reader(void *p)
{
    struct reader_arg *r = p;
    r->ok = 1;
    for (int i = 0; i < 2000; i++) {
        size_t len;
        const char *s = nr_secret_reveal(r->a, &len);
        if (len != 6 || memcmp(s, "shared", 6) != 0 || !nr_secret_equal(r->a, r->b))
            r->ok = 0;
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    nr_secret *a = mk("shared", 6), *b = NULL;
    assert_int_equal(nr_secret_dup(&b, a, NULL), NR_OK);
    pthread_t t[4];
    struct reader_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct reader_arg){a, b, 0};
        assert_int_equal(pthread_create(&t[i], NULL, reader, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(args[i].ok);
    }
    nr_secret_free(a);
    nr_secret_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_copies_bytes),
        cmocka_unit_test(test_create_empty),
        cmocka_unit_test(test_create_invalid),
        cmocka_unit_test(test_from_str),
        cmocka_unit_test(test_dup),
        cmocka_unit_test(test_null_secret),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_zeroed_before_free),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}

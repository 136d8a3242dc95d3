/* alloc.c - the replaceable allocator every library allocation goes through. */
#include "nebula/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *libc_malloc(size_t size, void *ud)
{
    (void)ud;
    return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *ud)
{
    (void)ud;
    return realloc(ptr, size);
}

static void libc_free(void *ptr, void *ud)
{
    (void)ud;
    free(ptr);
}

static const nr_allocator libc_allocator = {libc_malloc, libc_realloc, libc_free, NULL};

/* Written only while quiescent (see alloc.h), read by every thread after. */
static nr_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

void nr_set_allocator(const nr_allocator *a)
{
    current = a ? *a : libc_allocator;
}

void *nr_malloc(size_t size)
{
    return current.malloc_fn(size ? size : 1, current.ud);
}

void *nr_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = nr_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *nr_realloc(void *ptr, size_t size)
{
    return current.realloc_fn(ptr, size ? size : 1, current.ud);
}

void nr_free(void *ptr)
{
    if (ptr)
        current.free_fn(ptr, current.ud);
}

char *nr_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = nr_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

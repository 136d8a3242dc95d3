/*
 * nebula/alloc.h - the replaceable allocator.
 *
 * Every allocation the library makes goes through these functions (jansson's
 * own allocations excepted). Replacing them is also how tests fail the k-th
 * allocation to prove every out-of-memory path returns NR_ENOMEM cleanly.
 *
 * Thread safety: nr_set_allocator only while no other library call runs
 * (before the first one, or when quiescent). The functions given must be
 * callable from any thread.
 */
#ifndef NEBULA_ALLOC_H
#define NEBULA_ALLOC_H

#include <stddef.h>
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_allocator {
    void *(*malloc_fn)(size_t size, void *ud);
    void *(*realloc_fn)(void *ptr, size_t size, void *ud);
    void (*free_fn)(void *ptr, void *ud);
    void *ud;
} nr_allocator;

/* Install a; NULL restores the C library's malloc/realloc/free. */
NR_API void nr_set_allocator(const nr_allocator *a);

NR_API void *nr_malloc(size_t size);
NR_API void *nr_calloc(size_t n, size_t size); /* NULL on overflow */
NR_API void *nr_realloc(void *ptr, size_t size);
NR_API void nr_free(void *ptr);
NR_API char *nr_strdup(const char *s);

#ifdef __cplusplus
}
#endif
#endif

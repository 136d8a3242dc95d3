/*
 * admin_abi.h - the size rule of docs/ABI.md for the structs of
 * nebula-resource-admin, as the core's src/base/abi.h has it: this library
 * links the core's public symbols only, so it keeps its own copy of the
 * check (the messages are the same).
 *
 * Thread safety: these touch only their arguments.
 */
#ifndef NR_ADMIN_ABI_H
#define NR_ADMIN_ABI_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "nebula/error.h"

static inline size_t nr__admin_abi_size(const void *s)
{
    size_t n;
    memcpy(&n, s, sizeof(n));
    return n;
}

static inline int nr__admin_abi_refuse(size_t n, size_t known, const char *name, const char *init,
                                       nr_error *err)
{
    return nr_error_set(err, NR_EINVAL, NULL,
                        "%s: size %zu is not a size this library knows (this library's is %zu): "
                        "initialise it with %s",
                        name, n, known, init);
}

/* Copy in (its size the caller's) into local (known bytes): the fields in
 * lacks read as 0. NR_OK, or NR_EINVAL naming `name` (local untouched). */
static inline int nr__admin_abi_in(void *local, size_t known, const void *in, const char *name,
                                   const char *init, nr_error *err)
{
    size_t n = nr__admin_abi_size(in);
    if (n < sizeof(size_t) || n > known)
        return nr__admin_abi_refuse(n, known, name, init, err);
    memset(local, 0, known);
    memcpy(local, in, n);
    memcpy(local, &known, sizeof(known));
    return NR_OK;
}

/* n definitions at in, each of the size of in[0] (the stride), into
 * local[0..n) at known bytes each; NR_EINVAL names the bad element
 * ("what[i]: name: ..."). */
static inline int nr__admin_abi_array_in(void *local, size_t known, const void *in, size_t n,
                                         const char *what, const char *name, const char *init,
                                         nr_error *err)
{
    if (n == 0)
        return NR_OK;
    size_t stride = nr__admin_abi_size(in);
    for (size_t i = 0; i < n; i++) {
        const char *el = (const char *)in + i * stride;
        size_t sz = nr__admin_abi_size(el);
        if (sz < sizeof(size_t) || sz > known) {
            char which[96];
            snprintf(which, sizeof(which), "%s[%zu]: %s", what, i, name);
            return nr__admin_abi_refuse(sz, known, which, init, err);
        }
        if (sz != stride)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "%s[%zu]: %s: size %zu differs from %s[0]'s %zu: every element "
                                "of the array has the same size (initialise each with %s)",
                                what, i, name, sz, what, stride, init);
        char *dst = (char *)local + i * known;
        memset(dst, 0, known);
        memcpy(dst, el, sz);
        memcpy(dst, &known, sizeof(known));
    }
    return NR_OK;
}

/* What a _default function writes: full into o up to o's size; all of it
 * when o's size is 0 or larger than known. */
static inline void nr__admin_abi_default(void *o, const void *full, size_t known)
{
    size_t n = nr__admin_abi_size(o);
    if (n == 0 || n > known) {
        memcpy(o, full, known);
        return;
    }
    if (n > sizeof(size_t))
        memcpy((char *)o + sizeof(size_t), (const char *)full + sizeof(size_t), n - sizeof(size_t));
}

#endif

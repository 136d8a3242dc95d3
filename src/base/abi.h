/*
 * abi.h - the size rule of the public structs that can grow (docs/ABI.md).
 *
 * A sized struct starts with `size_t size`, set by the caller (the
 * NR_*_INIT macros set it to the sizeof the caller was compiled with). On
 * entry the library copies what the caller's size covers into a zeroed local
 * of its own size, so fields the caller does not know read as 0; a size of
 * 0, one too small to hold the size itself, or one larger than this
 * library's is refused with NR_EINVAL naming the struct and both sizes.
 * Structs the library fills are written only up to the caller's size.
 *
 * Every helper is static inline, so any of the project's libraries (the
 * admin library links the core's public symbols only) uses this one copy.
 *
 * Thread safety: these touch only their arguments.
 */
#ifndef NR_BASE_ABI_H
#define NR_BASE_ABI_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "nebula/ctx.h"
#include "nebula/error.h"

/* The size a sized struct says it has (its leading size_t). */
static inline size_t nr__abi_size(const void *s)
{
    size_t n;
    memcpy(&n, s, sizeof(n));
    return n;
}

/* Whether n is a size of a struct whose size here is `known`. */
static inline int nr__abi_size_ok(size_t n, size_t known)
{
    return n >= sizeof(size_t) && n <= known;
}

static inline int nr__abi_refuse(size_t n, size_t known, const char *name, const char *init,
                                 nr_error *err)
{
    return nr_error_set(err, NR_EINVAL, NULL,
                        "%s: size %zu is not a size this library knows (this library's is %zu): "
                        "initialise it with %s",
                        name, n, known, init);
}

/*
 * Copy the caller's struct `in` into `local` (`known` bytes, this library's
 * sizeof): zero it, copy min(in's size, known) bytes, set local's size to
 * known. NR_OK; NR_EINVAL (the size is refused; local untouched) with err
 * naming `name` and `init`, the macro that sets the size.
 */
static inline int nr__abi_in(void *local, size_t known, const void *in, const char *name,
                             const char *init, nr_error *err)
{
    size_t n = nr__abi_size(in);
    if (!nr__abi_size_ok(n, known))
        return nr__abi_refuse(n, known, name, init, err);
    memset(local, 0, known);
    memcpy(local, in, n);
    memcpy(local, &known, sizeof(known));
    return NR_OK;
}

/* NR_OK when out's size is one this library can write, NR_EINVAL otherwise
 * (err as nr__abi_in says). */
static inline int nr__abi_out_check(const void *out, size_t known, const char *name,
                                    const char *init, nr_error *err)
{
    size_t n = nr__abi_size(out);
    return nr__abi_size_ok(n, known) ? NR_OK : nr__abi_refuse(n, known, name, init, err);
}

/* Copy `full` (known bytes, its size field set to known) into out up to
 * out's size, keeping out's size. out's size must have passed
 * nr__abi_out_check. */
static inline void nr__abi_out(void *out, const void *full, size_t known)
{
    size_t n = nr__abi_size(out);
    if (n > known)
        n = known;
    /* everything after the size field, up to the caller's size */
    memcpy((char *)out + sizeof(size_t), (const char *)full + sizeof(size_t), n - sizeof(size_t));
}

/* What a _default function writes: full (known bytes) into o up to o's size
 * when that is a size this library knows; all of it (size = known) when o's
 * size is 0 (a zeroed struct) or larger than known. */
static inline void nr__abi_default(void *o, const void *full, size_t known)
{
    size_t n = nr__abi_size(o);
    if (n == 0 || n > known) {
        memcpy(o, full, known);
        return;
    }
    if (n > sizeof(size_t))
        memcpy((char *)o + sizeof(size_t), (const char *)full + sizeof(size_t), n - sizeof(size_t));
}

/*
 * An array of n sized definitions at `in` (`what` names it in errors, e.g.
 * "custom"): its stride is the size of element 0, and every element must
 * have that size. Copy each into local[0..n) (n * known bytes) as
 * nr__abi_in does. NR_OK (n 0: nothing read); NR_EINVAL (local untouched
 * past the elements before the bad one) naming the element, e.g.
 * "custom[1]: nr_health_stage_def: size 0 is not a size ...", or saying
 * that its size differs from element 0's.
 */
static inline int nr__abi_array_in(void *local, size_t known, const void *in, size_t n,
                                   const char *what, const char *name, const char *init,
                                   nr_error *err)
{
    if (n == 0)
        return NR_OK;
    size_t stride = nr__abi_size(in);
    for (size_t i = 0; i < n; i++) {
        const char *el = (const char *)in + i * stride;
        size_t sz = nr__abi_size(el);
        if (!nr__abi_size_ok(sz, known)) {
            char which[96];
            snprintf(which, sizeof(which), "%s[%zu]: %s", what, i, name);
            return nr__abi_refuse(sz, known, which, init, err);
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

#define NR__ABI_IN(local, in, type, init, err)                                                     \
    nr__abi_in((local), sizeof(type), (in), #type, #init, (err))
#define NR__ABI_ARRAY_IN(local, in, n, what, type, init, err)                                      \
    nr__abi_array_in((local), sizeof(type), (in), (n), (what), #type, #init, (err))
#define NR__ABI_OUT_CHECK(out, type, init, err)                                                    \
    nr__abi_out_check((out), sizeof(type), #type, #init, (err))

/*
 * The acquire's ctx, with one compare on the hot path: a ctx of this
 * library's size (or NULL) is used as it is; another is checked and copied
 * into *local, and *ctx then points to it. NR_OK or NR_EINVAL.
 */
int nr__ctx_in_slow(const nr_ctx **ctx, nr_ctx *local, nr_error *err);
static inline int nr__ctx_in(const nr_ctx **ctx, nr_ctx *local, nr_error *err)
{
    if (!*ctx || (*ctx)->size == sizeof(nr_ctx))
        return NR_OK;
    return nr__ctx_in_slow(ctx, local, err);
}

#endif

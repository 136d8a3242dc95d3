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
 * Thread safety: these touch only their arguments.
 */
#ifndef NR_BASE_ABI_H
#define NR_BASE_ABI_H

#include <stddef.h>
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

/*
 * Copy the caller's struct `in` into `local` (`known` bytes, this library's
 * sizeof): zero it, copy min(in's size, known) bytes, set local's size to
 * known. NR_OK; NR_EINVAL (the size is refused; local untouched) with err
 * naming `name` and `init`, the macro that sets the size.
 */
int nr__abi_in(void *local, size_t known, const void *in, const char *name, const char *init,
               nr_error *err);

/* NR_OK when out's size is one this library can write, NR_EINVAL otherwise
 * (err as nr__abi_in says). */
int nr__abi_out_check(const void *out, size_t known, const char *name, const char *init,
                      nr_error *err);

/* Copy `full` (known bytes, its size field set to known) into out up to
 * out's size, keeping out's size. out's size must have passed
 * nr__abi_out_check. */
void nr__abi_out(void *out, const void *full, size_t known);

/* What a _default function writes: full (known bytes) into o up to o's size
 * when that is a size this library knows; all of it (size = known) when o's
 * size is 0 (a zeroed struct) or larger than known. */
void nr__abi_default(void *o, const void *full, size_t known);

/*
 * An array of n sized definitions at `in` (`what` names it in errors, e.g.
 * "custom"): its stride is the size of element 0, and every element must
 * have that size. Copy each into local[0..n) (n * known bytes) as
 * nr__abi_in does. NR_OK (n 0: nothing read); NR_EINVAL (local untouched
 * past the elements before the bad one) naming the element, e.g.
 * "custom[1]: nr_health_stage_def: size 0 is not a size ...", or saying
 * that its size differs from element 0's.
 */
int nr__abi_array_in(void *local, size_t known, const void *in, size_t n, const char *what,
                     const char *name, const char *init, nr_error *err);

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

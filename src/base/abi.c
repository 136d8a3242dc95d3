/*
 * abi.c - the size rule of the public structs that can grow (abi.h).
 */
#include "base/abi.h"

#include <stdio.h>

static int refuse(size_t n, size_t known, const char *name, const char *init, nr_error *err)
{
    return nr_error_set(err, NR_EINVAL, NULL,
                        "%s: size %zu is not a size this library knows (this library's is %zu): "
                        "initialise it with %s",
                        name, n, known, init);
}

int nr__abi_in(void *local, size_t known, const void *in, const char *name, const char *init,
               nr_error *err)
{
    size_t n = nr__abi_size(in);
    if (!nr__abi_size_ok(n, known))
        return refuse(n, known, name, init, err);
    memset(local, 0, known);
    memcpy(local, in, n);
    memcpy(local, &known, sizeof(known));
    return NR_OK;
}

int nr__abi_array_in(void *local, size_t known, const void *in, size_t n, const char *what,
                     const char *name, const char *init, nr_error *err)
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
            return refuse(sz, known, which, init, err);
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

int nr__abi_out_check(const void *out, size_t known, const char *name, const char *init,
                      nr_error *err)
{
    size_t n = nr__abi_size(out);
    if (!nr__abi_size_ok(n, known))
        return refuse(n, known, name, init, err);
    return NR_OK;
}

void nr__abi_out(void *out, const void *full, size_t known)
{
    size_t n = nr__abi_size(out);
    if (n > known)
        n = known;
    /* everything after the size field, up to the caller's size */
    memcpy((char *)out + sizeof(size_t), (const char *)full + sizeof(size_t), n - sizeof(size_t));
}

void nr__abi_default(void *o, const void *full, size_t known)
{
    size_t n = nr__abi_size(o);
    if (n == 0 || n > known) {
        memcpy(o, full, known);
        return;
    }
    if (n > sizeof(size_t))
        memcpy((char *)o + sizeof(size_t), (const char *)full + sizeof(size_t), n - sizeof(size_t));
}

int nr__ctx_in_slow(const nr_ctx **ctx, nr_ctx *local, nr_error *err)
{
    int rc = NR__ABI_IN(local, *ctx, nr_ctx, NR_CTX_INIT, err);
    if (rc == NR_OK)
        *ctx = local;
    return rc;
}

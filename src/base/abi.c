/*
 * abi.c - the size rule of the public structs that can grow (abi.h).
 */
#include "base/abi.h"

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

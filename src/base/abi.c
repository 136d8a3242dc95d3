/*
 * abi.c - the acquire's slow path of the size rule (abi.h): a ctx of
 * another size, checked and copied.
 */
#include "base/abi.h"

int nr__ctx_in_slow(const nr_ctx **ctx, nr_ctx *local, nr_error *err)
{
    int rc = NR__ABI_IN(local, *ctx, nr_ctx, NR_CTX_INIT, err);
    if (rc == NR_OK)
        *ctx = local;
    return rc;
}

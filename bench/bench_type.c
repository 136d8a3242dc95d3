/* bench_type.c - the in-memory resource type the benchmarks pool. */
#define _POSIX_C_SOURCE 200809L
#include "bench_type.h"

#include <stdlib.h>

static const nr_config_schema bench_schema = {.name = "bench",
                                              .struct_size = sizeof(nr_bench_config)};

static int obj_create(void **out, const void *cfg, const nr_create_ctx *ctx, void *ud,
                      nr_error *err)
{
    (void)cfg;
    (void)ud;
    *out = calloc(1, NR_BENCH_OBJ_SIZE);
    return *out ? NR_OK : nr_error_set(err, NR_ENOMEM, ctx->resource_id, "object");
}

static void obj_destroy(void *h, void *ud)
{
    const nr_bench_opts *o = ud;
    if (o && o->destroy_ns > 0)
        nr_sleep_ns(o->destroy_ns);
    free(h);
}

const nr_resource_type nr_bench_type = {.version = NR_RESOURCE_TYPE_VERSION,
                                        .name = "bench",
                                        .config_schema = &bench_schema,
                                        .create = obj_create,
                                        .destroy = obj_destroy};

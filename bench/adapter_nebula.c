/*
 * adapter_nebula.c - Nebula Resource's pool as one column of the side-by-side
 * pool benchmark (the peers harness): a resource type whose instances are the
 * harness's bench_obj_t, and the four calls the harness makes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "nebula/resource.h"

/* The instance's guard lives beside it: one holder at a time. */
typedef struct side {
    nr_guard g;
} side;

typedef struct empty_config {
    int unused;
} empty_config;

static const nr_config_schema empty_schema = {
    .name = "bench", .struct_size = sizeof(empty_config), .fields = NULL, .nfields = 0};

static int obj_create(void **out, const void *cfg, const nr_create_ctx *ctx, void *ud,
                      nr_error *err)
{
    (void)cfg;
    (void)ud;
    bench_obj_t *o = bench_obj_new();
    side *s = calloc(1, sizeof(*s));
    if (!o || !s) {
        free(s);
        if (o)
            bench_obj_free(o);
        return nr_error_set(err, NR_ENOMEM, ctx->resource_id, "bench object");
    }
    o->adapter_data = s;
    *out = o;
    return NR_OK;
}

static void obj_destroy(void *h, void *ud)
{
    (void)ud;
    bench_obj_t *o = h;
    free(o->adapter_data);
    bench_obj_free(o);
}

static const nr_resource_type bench_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "bench",
    .config_schema = &empty_schema,
    .create = obj_create,
    .destroy = obj_destroy,
};

static empty_config config;

static void *nb_create(int max_size, int64_t acquire_timeout_ns, const char *opts)
{
    (void)opts;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max_size;
    pc.min_idle = max_size;
    pc.acquire_timeout_ms = acquire_timeout_ns / NR_NS_PER_MS;
    pc.max_lifetime_ms = 0;
    pc.idle_timeout_ms = 0;
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = "bench", .type = &bench_type, .config = &config, .pool = &pc);
    nr_pool *p = NULL;
    nr_error err = {0};
    if (nr_pool_create(&p, &o, &err) != NR_OK ||
        nr_pool_fill(p, nr_deadline_in_ms(10000), &err) != NR_OK) {
        fprintf(stderr, "nebula: %s\n", err.message);
        nr_pool_destroy(p, NULL);
        return NULL;
    }
    return p;
}

static int nb_acquire(void *pool, bench_obj_t **out, int64_t timeout_ns)
{
    /* The pool's acquire_timeout_ms was set from the harness's timeout in
     * nb_create (run.sh passes the same value to both), so no per-call
     * deadline is needed: the pool makes one only when it has to wait. */
    (void)timeout_ns;
    nr_guard g;
    if (nr_pool_acquire(pool, NULL, &g, NULL) != NR_OK)
        return -1;
    bench_obj_t *o = nr_guard_handle(&g);
    /* The object's side was emptied by its last give-back, so the move
     * cannot find a lease there. */
    nr_guard_move(&((side *)o->adapter_data)->g, &g);
    *out = o;
    return 0;
}

static void nb_release(void *pool, bench_obj_t *obj)
{
    (void)pool;
    nr_guard_release(&((side *)obj->adapter_data)->g);
}

static void nb_destroy(void *pool)
{
    nr_error err = {0};
    if (nr_pool_destroy(pool, &err) != NR_OK)
        fprintf(stderr, "nebula: %s\n", err.message);
}

const bench_adapter_t bench_adapter = {
    .name = "nebula",
    .version = "nebula-resource " NR_VERSION_STRING,
    .create = nb_create,
    .acquire = nb_acquire,
    .release = nb_release,
    .destroy = nb_destroy,
};

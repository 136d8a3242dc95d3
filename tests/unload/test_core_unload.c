/*
 * test_core_unload.c - the core library stays mapped after dlclose(): its
 * pools' fast path keeps a process-wide ticker thread (src/base/tick.c)
 * running until the process ends, and that thread's code must still be
 * there after the last dlclose(). The program dlopens the shared library,
 * runs a pool hard enough to start the ticker, destroys it, dlcloses the
 * library and lives on for a while: were the library unmapped, the ticker
 * would fault on its next tick.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nebula/resource.h"

#ifndef NR_CORE_SO
#error "NR_CORE_SO must name the core shared library"
#endif

typedef struct cfg {
    int unused;
} cfg;

static const nr_config_schema schema = {
    .name = "unload", .struct_size = sizeof(cfg), .fields = NULL, .nfields = 0};
static int live;

static int obj_create(void **out, const void *c, const nr_create_ctx *ctx, void *ud, nr_error *err)
{
    (void)c;
    (void)ctx;
    (void)ud;
    (void)err;
    live++;
    *out = &live;
    return NR_OK;
}

static void obj_destroy(void *h, void *ud)
{
    (void)h;
    (void)ud;
    live--;
}

static const nr_resource_type type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "unload",
    .config_schema = &schema,
    .create = obj_create,
    .destroy = obj_destroy,
};

/* var = the library's name, through memcpy (ISO C has no cast from an
 * object pointer to a function pointer; POSIX guarantees they convert). */
#define SYM(lib, name, var)                                                                        \
    __typeof__(&name) var;                                                                         \
    do {                                                                                           \
        void *sym_ = must(dlsym(lib, #name), #name);                                               \
        memcpy(&var, &sym_, sizeof(var));                                                          \
    } while (0)

static void *must(void *p, const char *what)
{
    if (!p) {
        fprintf(stderr, "FAIL: %s: %s\n", what, dlerror());
        exit(1);
    }
    return p;
}

int main(void)
{
    void *lib = must(dlopen(NR_CORE_SO, RTLD_NOW | RTLD_LOCAL), NR_CORE_SO);
    SYM(lib, nr_pool_config_default, config_default);
    SYM(lib, nr_pool_create, create);
    SYM(lib, nr_pool_acquire, acquire);
    SYM(lib, nr_guard_release, release);
    SYM(lib, nr_pool_destroy, destroy);
    nr_pool_config pc;
    config_default(&pc);
    pc.max_size = 2;
    pc.min_idle = 0;
    static cfg config;
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = "unload", .type = &type, .config = &config, .pool = &pc);
    nr_pool *p = NULL;
    nr_error err;
    memset(&err, 0, sizeof(err));
    if (create(&p, &o, &err) != NR_OK) {
        fprintf(stderr, "FAIL: create: %s\n", err.message);
        return 1;
    }
    /* Acquires close together start the ticker. */
    for (int i = 0; i < 200000; i++) {
        nr_guard g = NR_GUARD_INIT;
        if (acquire(p, NULL, &g, &err) != NR_OK || release(&g) != NR_OK) {
            fprintf(stderr, "FAIL: acquire/release: %s\n", err.message);
            return 1;
        }
    }
    if (destroy(p, &err) != NR_OK) {
        fprintf(stderr, "FAIL: destroy: %s\n", err.message);
        return 1;
    }
    if (live != 0) {
        fprintf(stderr, "FAIL: %d instance(s) not destroyed\n", live);
        return 1;
    }
    if (dlclose(lib) != 0) {
        fprintf(stderr, "FAIL: dlclose: %s\n", dlerror());
        return 1;
    }
    /* Many ticks later: the ticker, if it ran, ran on mapped code. */
    struct timespec t = {0, 300 * 1000 * 1000};
    nanosleep(&t, NULL);
    puts("ok");
    return 0;
}

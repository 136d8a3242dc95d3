/*
 * bench_scale.c - how cost grows with work.
 *
 *   pools of 10 .. 10,000 objects: ns per acquire + release (one thread) and
 *   heap bytes per pooled object beyond the object itself;
 *   managers of 1 .. 10,000 resources: ns to register one, ns per
 *   acquire-by-id + release of a random resource, heap bytes per resource.
 *
 * Heap use is read with mallinfo2() (glibc) before and after.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/manager.h"
#include "bench_type.h"
#include "nebula/resource.h"

static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int pool_case(long n)
{
    nr_bench_config cfg = {0};
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = pc.min_idle = n;
    pc.max_lifetime_ms = pc.idle_timeout_ms = 0;
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = "scale", .type = &nr_bench_type, .config = &cfg, .pool = &pc);
    nr_pool *p;
    nr_error err = {0};
    size_t before = heap_used();
    if (nr_pool_create(&p, &o, &err) != NR_OK ||
        nr_pool_fill(p, nr_deadline_in_ms(60000), &err) != NR_OK) {
        fprintf(stderr, "bench_scale: %s\n", err.message);
        return 1;
    }
    size_t after = heap_used();
    /* hold half of the objects so the loop works in a pool of that size */
    long held = n / 2;
    nr_guard *hold = calloc((size_t)(held ? held : 1), sizeof(*hold));
    for (long i = 0; i < held; i++)
        nr_pool_acquire(p, NULL, &hold[i], NULL);
    long ops = 0;
    int64_t t0 = nr_now_ns(), end = t0 + 500 * NR_NS_PER_MS;
    while (nr_now_ns() < end) {
        for (int k = 0; k < 1000; k++) {
            nr_guard g;
            nr_pool_acquire(p, NULL, &g, NULL);
            nr_guard_release(&g);
        }
        ops += 1000;
    }
    double ns = (double)(nr_now_ns() - t0) / (double)ops;
    for (long i = 0; i < held; i++)
        nr_guard_release(&hold[i]);
    free(hold);
    printf("pool of %6ld objects: %6.1f ns per acquire+release, %6.1f heap bytes per object "
           "beyond its own %d\n",
           n, ns, (double)(after - before) / (double)n - NR_BENCH_OBJ_SIZE, NR_BENCH_OBJ_SIZE);
    return nr_pool_destroy(p, &err) == NR_OK ? 0 : 1;
}

static int manager_case(long n)
{
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = mo.health_interval_ms = 0;
    nr_manager *m;
    nr_error err = {0};
    if (nr_manager_create(&m, &mo, &err) != NR_OK) {
        fprintf(stderr, "bench_scale: %s\n", err.message);
        return 1;
    }
    nr_bench_config cfg = {0};
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 2;
    char id[32];
    size_t before = heap_used();
    int64_t t0 = nr_now_ns();
    for (long i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "resource-%ld", i);
        nr_resource_spec s =
            NR_RESOURCE_SPEC(.id = id, .type = &nr_bench_type, .config = &cfg, .pool = &pc);
        if (nr_manager_register(m, &s, &err) != NR_OK) {
            fprintf(stderr, "bench_scale: %s\n", err.message);
            return 1;
        }
    }
    double reg_ns = (double)(nr_now_ns() - t0) / (double)n;
    if (nr_manager_start(m, nr_deadline_in_ms(600000), &err) != NR_OK) {
        fprintf(stderr, "bench_scale: %s\n", err.message);
        return 1;
    }
    size_t after = heap_used();
    /* ids chosen at random each time, formatted before the clock runs */
    enum { IDS = 4096 };
    static char ids[IDS][32];
    for (int i = 0; i < IDS; i++)
        snprintf(ids[i], sizeof(ids[i]), "resource-%ld", (long)(next_rand() % (uint64_t)n));
    long ops = 0;
    t0 = nr_now_ns();
    int64_t end = t0 + 500 * NR_NS_PER_MS;
    while (nr_now_ns() < end) {
        for (int k = 0; k < IDS; k++) {
            nr_guard g;
            if (nr_manager_acquire(m, ids[k], NULL, &g, &err) != NR_OK) {
                fprintf(stderr, "bench_scale: %s\n", err.message);
                return 1;
            }
            nr_guard_release(&g);
        }
        ops += IDS;
    }
    double acq_ns = (double)(nr_now_ns() - t0) / (double)ops;

    /* One more resource added to the running manager of n (started at once,
     * as a running manager does), then acquired by id again and again: the
     * cost of growing, and of using what was added, at this size. */
    enum { EXTRA = 64 };
    int64_t add_total = 0;
    for (int i = 0; i < EXTRA; i++) {
        snprintf(id, sizeof(id), "extra-%d", i);
        nr_resource_spec s =
            NR_RESOURCE_SPEC(.id = id, .type = &nr_bench_type, .config = &cfg, .pool = &pc);
        int64_t a0 = nr_now_ns();
        if (nr_manager_register(m, &s, &err) != NR_OK) {
            fprintf(stderr, "bench_scale: %s\n", err.message);
            return 1;
        }
        add_total += nr_now_ns() - a0;
    }
    long one_ops = 0;
    t0 = nr_now_ns();
    end = t0 + 300 * NR_NS_PER_MS;
    while (nr_now_ns() < end) {
        for (int k = 0; k < 1000; k++) {
            nr_guard g;
            if (nr_manager_acquire(m, id, NULL, &g, &err) != NR_OK) {
                fprintf(stderr, "bench_scale: %s\n", err.message);
                return 1;
            }
            nr_guard_release(&g);
        }
        one_ops += 1000;
    }
    double one_ns = (double)(nr_now_ns() - t0) / (double)one_ops;
    printf("manager of %6ld resources: %7.1f ns to register one (average while growing), "
           "%6.1f ns per acquire-by-id + release (random ids), %8.0f heap bytes per resource "
           "(with its pool and one instance)\n",
           n, reg_ns, acq_ns, (double)(after - before) / (double)n);
    printf("manager of %6ld resources: %7.1f ns to add and start one more, %6.1f ns per "
           "acquire-by-id + release of that one\n",
           n, (double)add_total / EXTRA, one_ns);
    nr_manager_shutdown(m, NULL, NULL, NULL);
    return nr_manager_destroy(m, &err) == NR_OK ? 0 : 1;
}

int main(void)
{
    int rc = 0;
    const long pools[] = {10, 100, 1000, 10000};
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++)
        rc |= pool_case(pools[i]);
    const long managers[] = {1, 10, 100, 1000, 10000};
    for (size_t i = 0; i < sizeof(managers) / sizeof(managers[0]); i++)
        rc |= manager_case(managers[i]);
    return rc;
}

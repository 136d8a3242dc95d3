/*
 * bench_tenants.c - a tenant-partitioned resource after 1k .. 200k distinct
 * tenants: heap in use, tenant pools alive, metric series, and the cost of
 * an acquire + release for a new tenant (a pool made, one create) and for
 * a tenant seen a moment ago (a look-up).
 *
 * Tenant i arrives at i ms of the manager's clock (a fake one); with
 * eviction on (idle_timeout_ms 1000 by default), a maintenance round every
 * 100 tenants removes the pools unused for a second, so about 1,000 are
 * alive at any time. --idle-ms 0 turns eviction off, for the contrast.
 *
 *   bench_tenants [--tenants N] [--idle-ms MS]
 *
 * Heap use is read with mallinfo2() (glibc).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_type.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"
#include "nebula/resource.h"

static _Atomic int64_t clock_ns;

static int64_t fake_clock(void *ud)
{
    (void)ud;
    return clock_ns;
}

static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static int acquire_release(nr_manager *m, long tenant, nr_error *err)
{
    char id[32];
    snprintf(id, sizeof(id), "t%ld", tenant);
    nr_scope s;
    nr_scope_make(&s, id, NULL, NULL, NULL, NULL);
    nr_ctx ctx = NR_CTX(.scope = &s, .deadline = nr_deadline_in_ms(10000));
    nr_guard g = NR_GUARD_INIT;
    int rc = nr_manager_acquire(m, "cache", &ctx, &g, err);
    if (rc == NR_OK)
        nr_guard_release(&g);
    return rc;
}

static size_t series_count(nr_metrics *reg)
{
    char *text = NULL;
    size_t len = 0, n = 0;
    if (nr_metrics_format(reg, &text, &len, NULL) != NR_OK)
        return 0;
    for (char *line = text; line && *line;) {
        if (*line != '#')
            n++;
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    nr_free(text);
    return n;
}

int main(int argc, char **argv)
{
    long tenants = 200000, idle_ms = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tenants") == 0 && i + 1 < argc)
            tenants = atol(argv[++i]);
        else if (strcmp(argv[i], "--idle-ms") == 0 && i + 1 < argc)
            idle_ms = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_tenants [--tenants N] [--idle-ms MS]\n");
            return 2;
        }
    }
    nr_metrics *reg = NULL;
    nr_error err = {0};
    if (nr_metrics_create(&reg, &err) != NR_OK) {
        fprintf(stderr, "bench_tenants: %s\n", err.message);
        return 1;
    }
    nr_manager_options mo;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0; /* rounds driven by nr_manager_tick */
    mo.health_interval_ms = 0;
    mo.clock = fake_clock;
    mo.metrics = reg;
    nr_manager *m = NULL;
    nr_bench_config cfg = {0};
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = 0;
    pc.max_size = 2;
    nr_tenant_policy tp;
    nr_tenant_policy_default(&tp);
    tp.idle_timeout_ms = idle_ms;
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = "cache", .type = &nr_bench_type, .config = &cfg, .pool = &pc,
                         .partition = NR_PARTITION_TENANT, .tenants = &tp);
    if (nr_manager_create(&m, &mo, &err) != NR_OK || nr_manager_register(m, &spec, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(10000), &err) != NR_OK) {
        fprintf(stderr, "bench_tenants: %s\n", err.message);
        return 1;
    }
    size_t base = heap_used();
    printf("tenant-partitioned resource, max_size 2, idle_timeout_ms %ld (%s), one tenant per "
           "ms of the manager's clock, a maintenance round every 100 tenants\n\n",
           idle_ms, idle_ms ? "eviction on" : "eviction off");
    printf("| tenants seen | pools alive | heap above start | metric series | new tenant ns "
           "| known tenant ns |\n|---:|---:|---:|---:|---:|---:|\n");
    long next_mark = 1000;
    int64_t new_ns = 0, known_ns = 0;
    long new_n = 0, known_n = 0;
    for (long i = 0; i < tenants; i++) {
        clock_ns = (i + 1) * NR_NS_PER_MS;
        int64_t t0 = nr_now_ns();
        if (acquire_release(m, i, &err) != NR_OK) {
            fprintf(stderr, "bench_tenants: tenant %ld: %s\n", i, err.message);
            return 1;
        }
        int64_t t1 = nr_now_ns();
        /* one seen a moment ago (alive whatever the timeout) */
        if (acquire_release(m, i > 50 ? i - 50 : 0, &err) != NR_OK) {
            fprintf(stderr, "bench_tenants: tenant %ld again: %s\n", i - 50, err.message);
            return 1;
        }
        int64_t t2 = nr_now_ns();
        /* averaged over the last 1,000 before each mark */
        if (i + 1 > next_mark - 1000) {
            new_ns += t1 - t0;
            known_ns += t2 - t1;
            new_n++;
            known_n++;
        }
        if ((i + 1) % 100 == 0)
            nr_manager_tick(m);
        if (i + 1 == next_mark || i + 1 == tenants) {
            nr_resource_info ri = NR_RESOURCE_INFO_INIT;
            nr_manager_resource_info(m, "cache", &ri, NULL);
            size_t heap = heap_used();
            printf("| %ld | %u | %.1f MiB | %zu | %lld | %lld |\n", i + 1, ri.pools,
                   (double)(heap > base ? heap - base : 0) / (1024.0 * 1024.0), series_count(reg),
                   (long long)(new_n ? new_ns / new_n : 0),
                   (long long)(known_n ? known_ns / known_n : 0));
            fflush(stdout);
            new_ns = known_ns = 0;
            new_n = known_n = 0;
            next_mark = next_mark < 10000 ? 10000 : next_mark < 100000 ? 100000 : 200000;
            if (next_mark <= i + 1)
                next_mark = tenants + 1;
        }
    }
    if (nr_manager_destroy(m, &err) != NR_OK) {
        fprintf(stderr, "bench_tenants: %s\n", err.message);
        return 1;
    }
    nr_metrics_destroy(reg);
    return 0;
}

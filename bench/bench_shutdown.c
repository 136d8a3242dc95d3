/*
 * bench_shutdown.c - time of a graceful manager shutdown of N idle pooled
 * instances whose destroy takes D microseconds.
 *
 *   bench_shutdown [--instances N] [--destroy-us D] [--workers W]
 *
 * Prints the drain, cleanup and total times from the shutdown report.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/manager.h"
#include "bench_type.h"
#include "nebula/resource.h"

int main(int argc, char **argv)
{
    long n = 100, workers = 4;
    double destroy_us = 10000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--instances"))
            n = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--destroy-us"))
            destroy_us = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers"))
            workers = atol(argv[i + 1]);
        else {
            fprintf(stderr, "bench_shutdown: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (n < 1 || n > 1000000 || workers < 1 || workers > 64 || destroy_us < 0) {
        fprintf(stderr, "bench_shutdown: bad arguments\n");
        return 2;
    }
    nr_bench_opts bo = {.destroy_ns = (int64_t)(destroy_us * 1e3)};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.workers = (uint32_t)workers;
    mo.maintain_interval_ms = mo.health_interval_ms = 0;
    nr_manager *m;
    nr_error err = {0};
    nr_bench_config cfg = {0};
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = pc.min_idle = n;
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "bench", .type = &nr_bench_type, .type_ud = &bo,
                                          .config = &cfg, .pool = &pc);
    if (nr_manager_create(&m, &mo, &err) != NR_OK || nr_manager_register(m, &s, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(600000), &err) != NR_OK) {
        fprintf(stderr, "bench_shutdown: %s\n", err.message);
        return 1;
    }
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    int rc = nr_manager_shutdown(m, NULL, &rep, &err);
    printf("shutdown of %ld idle instances, destroy %.0f us each, %ld workers: total %.1f ms "
           "(drain %.2f ms, cleanup %.1f ms), %u destroyed%s%s\n",
           n, destroy_us, workers, (double)rep.total_ns / 1e6, (double)rep.drain_ns / 1e6,
           (double)rep.cleanup_ns / 1e6, rep.destroyed, rc ? ": " : "", rc ? err.message : "");
    if (nr_manager_destroy(m, &err) != NR_OK)
        return 1;
    return rc == NR_OK && rep.destroyed == (uint32_t)n ? 0 : 1;
}

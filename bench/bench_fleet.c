/*
 * bench_fleet.c - what a fleet budget (nebula/fleet.h) adds to each create:
 * the same manager resource with and without a fleet budget, each round
 * making `size` instances one after another from an empty pool (so that
 * every create needs a place the process does not yet hold: with the fleet,
 * one Redis script and a wake of the agent each), then evicting them and
 * waiting (untimed) until the leases are back in Redis.
 *
 *   with-redis.sh bench_fleet [--rounds N] [--size N] [--create-us US]
 *
 * --create-us makes each create sleep that long (a real connection's
 * handshake takes milliseconds); the ratio is printed for it. Needs the
 * NR_TEST_REDIS_* variables drivers/redis/tests/with-redis.sh exports.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nebula/alloc.h"
#include "nebula/fleet.h"
#include "nebula/manager.h"

static long create_us;

static const nr_config_schema schema = {.name = "bench_fleet", .struct_size = sizeof(int)};

static int b_create(void **h, const void *cfg, const nr_create_ctx *ctx, void *ud, nr_error *err)
{
    (void)cfg;
    (void)ctx;
    (void)ud;
    if (create_us)
        usleep((useconds_t)create_us);
    *h = nr_malloc(8);
    return *h ? NR_OK : nr_error_set(err, NR_ENOMEM, NULL, "out of memory");
}

static void b_destroy(void *h, void *ud)
{
    (void)ud;
    nr_free(h);
}

static const nr_resource_type type = {.version = NR_RESOURCE_TYPE_VERSION,
                                      .name = "bench_fleet",
                                      .config_schema = &schema,
                                      .create = b_create,
                                      .destroy = b_destroy};

static int fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    (void)ref;
    return nr_secret_from_str(out, getenv("NR_TEST_REDIS_PASSWORD"), err);
}

static const nr_credential_provider creds = {fetch, NULL, NULL};

static void die(const char *what, const nr_error *err)
{
    fprintf(stderr, "bench_fleet: %s: %s\n", what, err->message);
    exit(1);
}

/* ns per create over rounds of size creates of resource id. */
static double run(nr_manager *m, const char *id, nr_fleet *f, int wait_back, int rounds, int size)
{
    nr_guard *g = calloc((size_t)size, sizeof(*g));
    int64_t total = 0;
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = nr_now_ns();
        for (int i = 0; i < size; i++) {
            nr_error err = {0};
            if (nr_manager_acquire(m, id, NULL, &g[i], &err) != NR_OK)
                die("acquire", &err);
        }
        total += nr_now_ns() - t0;
        for (int i = 0; i < size; i++)
            nr_guard_release(&g[i]);
        uint32_t evicted = 0;
        nr_manager_evict_all(m, id, &evicted, NULL);
        nr_fleet_stats st = NR_FLEET_STATS_INIT;
        if (f && wait_back)
            do { /* untimed: every lease back in Redis before the next round */
                usleep(1000);
                nr_fleet_get_stats(f, &st);
            } while (st.leases > 0 || st.local_held > 0);
    }
    free(g);
    return (double)total / ((double)rounds * size);
}

int main(int argc, char **argv)
{
    int rounds = 50, size = 10;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = atoi(argv[++i]);
        else if (strcmp(argv[i], "--create-us") == 0 && i + 1 < argc)
            create_us = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_fleet [--rounds N] [--size N] [--create-us US]\n");
            return 2;
        }
    }
    if (!getenv("NR_TEST_REDIS_PORT")) {
        fprintf(stderr, "bench_fleet: run through drivers/redis/tests/with-redis.sh\n");
        return 2;
    }
    nr_error err = {0};
    nr_fleet_options fo =
        NR_FLEET_OPTIONS(.resource = "bench", .budget = 1000,
                         .redis_host = getenv("NR_TEST_REDIS_HOST"),
                         .redis_port = atoi(getenv("NR_TEST_REDIS_PORT")), .credentials = &creds,
                         .credential_ref = "redis", .renew_interval_ms = 20, .release_after_ms = -1,
                         .redis_timeout_ms = 10);
    nr_fleet *f = NULL, *kept = NULL;
    if (nr_fleet_create(&f, &fo, &err) != NR_OK)
        die("fleet", &err);
    fo.resource = "bench-kept"; /* leases kept: creates find them held */
    fo.release_after_ms = 3600000;
    if (nr_fleet_create(&kept, &fo, &err) != NR_OK)
        die("fleet", &err);
    nr_manager_options mo;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    nr_manager *m = NULL;
    int cfg = 0;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = size;
    pc.validate_on_acquire = false;
    nr_resource_spec plain =
        NR_RESOURCE_SPEC(.id = "plain", .type = &type, .config = &cfg, .pool = &pc);
    nr_resource_spec fleet = NR_RESOURCE_SPEC(.id = "fleet", .type = &type, .config = &cfg,
                                              .pool = &pc, .budget = nr_fleet_budget(f));
    nr_resource_spec held = NR_RESOURCE_SPEC(.id = "held", .type = &type, .config = &cfg,
                                             .pool = &pc, .budget = nr_fleet_budget(kept));
    if (nr_manager_create(&m, &mo, &err) || nr_manager_register(m, &plain, &err) ||
        nr_manager_register(m, &fleet, &err) || nr_manager_register(m, &held, &err) ||
        nr_manager_start(m, nr_deadline_in_ms(10000), &err))
        die("manager", &err);
    run(m, "plain", NULL, 0, 2, size); /* warm up: threads, allocator, caches */
    double a = run(m, "plain", NULL, 0, rounds, size);
    double b = run(m, "fleet", f, 1, rounds, size);
    run(m, "held", kept, 0, 1, size); /* the leases once */
    double c = run(m, "held", kept, 0, rounds, size);
    printf("create_us=%ld rounds=%d size=%d: without fleet %.1f us/create; with fleet, a new "
           "lease each: %.1f us/create, ratio %.2f (+%.1f us); leases already held: %.1f "
           "us/create, ratio %.2f\n",
           create_us, rounds, size, a / 1000, b / 1000, b / a, (b - a) / 1000, c / 1000, c / a);
    nr_manager_destroy(m, NULL);
    if (nr_fleet_destroy(kept, &err) != NR_OK)
        die("fleet destroy", &err);
    if (nr_fleet_destroy(f, &err) != NR_OK)
        die("fleet destroy", &err);
    return 0;
}

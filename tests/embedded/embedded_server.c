/*
 * embedded_server.c - a program that embeds the library the way an
 * application does: its resources from a config file (nr_config_file_load),
 * a manager, the admin server (nr_admin_start), and load of its own on a
 * real PostgreSQL ("orders-db": SELECT 1) and a real Redis ("sessions",
 * one pool per tenant: PING from five tenants, one of them busier).
 *
 *     embedded_server CONFIG PORTFILE
 *
 * It writes the admin server's port to PORTFILE once everything runs, and
 * stops on SIGTERM or SIGINT: exit 0 when no operation failed, else 1.
 * SIGUSR1 says an outage is on purpose (a test stops a server): failures
 * are counted apart until SIGUSR2 says it is over. An acquire that comes
 * back more than a second past its deadline fails the run, outage or not.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nebula/admin.h"
#include "nebula/config_file.h"
#include "nebula/manager.h"
#include "nebula/postgres.h"
#include "nebula/redis.h"

#define WORKERS 6

static atomic_bool stop;
static atomic_long failures;
static atomic_bool outage; /* between SIGUSR1 and SIGUSR2 */
static atomic_long outage_failures;
static atomic_long overruns; /* acquires that returned well past their deadline */

#define DEADLINE_MS 2000
#define OVERRUN_MS  1000 /* what past the deadline counts as hanging */

/* Acquire id with a deadline; an acquire that comes back long after it
 * counts as an overrun, whatever its result. */
static int acquire(nr_manager *m, const char *id, const nr_scope *sc, nr_guard *g, nr_error *err)
{
    nr_ctx ctx = NR_CTX(.scope = sc, .deadline = nr_deadline_in_ms(DEADLINE_MS));
    int64_t t0 = nr_now_ns();
    int rc = nr_manager_acquire(m, id, &ctx, g, err);
    if (nr_now_ns() - t0 > (DEADLINE_MS + OVERRUN_MS) * NR_NS_PER_MS)
        atomic_fetch_add(&overruns, 1);
    return rc;
}

typedef struct worker {
    nr_manager *m;
    int index;
} worker;

/* Count a failed operation; the first one is printed. */
static void failed(const nr_error *err)
{
    if (atomic_load(&outage)) {
        atomic_fetch_add(&outage_failures, 1);
        return;
    }
    if (atomic_fetch_add(&failures, 1) == 0)
        fprintf(stderr, "embedded_server: first failure: %s: %s\n", nr_err_name(err->code),
                err->message);
}

static void pause_ms(long ms)
{
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

static void *work(void *arg)
{
    worker *w = arg;
    static const char *const tenants[] = {"acme",    "acme",     "acme", "globex",
                                          "initech", "umbrella", "hooli"};
    unsigned n = (unsigned)w->index * 7919u;
    while (!atomic_load(&stop)) {
        nr_error err = {0};
        nr_guard g = NR_GUARD_INIT;
        n++;
        if (w->index % 2 == 0) {
            if (acquire(w->m, "orders-db", NULL, &g, &err) == NR_OK) {
                if (nr_postgres_exec(nr_guard_handle(&g), "SELECT pg_sleep(0.002)", &err) != NR_OK)
                    failed(&err);
                nr_guard_release(&g);
            } else {
                failed(&err);
            }
        } else {
            nr_scope sc;
            nr_scope_make(&sc, tenants[n % 7], NULL, NULL, NULL, NULL);
            if (acquire(w->m, "sessions", &sc, &g, &err) == NR_OK) {
                redisReply *r = NULL;
                if (nr_redis_command(nr_guard_handle(&g), &r, &err, "PING") != NR_OK)
                    failed(&err);
                freeReplyObject(r);
                pause_ms(1);
                nr_guard_release(&g);
            } else {
                failed(&err);
            }
        }
        /* bursts: the sparklines must move, not stay flat */
        if (n % 200 == 0)
            pause_ms(300 + (long)(n % 700));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: embedded_server CONFIG PORTFILE\n");
        return 2;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* every thread inherits it */

    /* 1. the config file, with the drivers this program has */
    static const nr_config_driver drivers[] = {{.name = "postgres", .type = &nr_postgres_type},
                                               {.name = "redis", .type = &nr_redis_type}};
    nr_config_load_options lo = NR_CONFIG_LOAD_OPTIONS_INIT;
    nr_config_load_options_default(&lo);
    lo.drivers = drivers;
    lo.ndrivers = 2;
    nr_config_file *cf = NULL;
    nr_error err = {0};
    if (nr_config_file_load(&cf, argv[1], &lo, &err) != NR_OK) {
        if (cf)
            nr_config_file_write_problems(cf, stderr);
        fprintf(stderr, "embedded_server: %s\n", err.message);
        nr_config_file_free(cf);
        return 1;
    }
    /* 2. a manager with events and metrics, its resources from the file */
    nr_event_bus *bus = NULL;
    nr_metrics *metrics = NULL;
    nr_manager *m = NULL;
    nr_admin *admin = NULL;
    int status = 1;
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_config_file_manager_options(cf, &mo);
    if (nr_event_bus_create(&bus, 1024, &err) != NR_OK ||
        nr_metrics_create(&metrics, &err) != NR_OK)
        goto out;
    mo.events = bus;
    mo.metrics = metrics;
    if (nr_manager_create(&m, &mo, &err) != NR_OK || nr_manager_load_config(m, cf, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(20000), &err) != NR_OK)
        goto out;
    /* 3. the admin server: address, port and token from the file's http section */
    nr_admin_options ao = NR_ADMIN_OPTIONS_INIT;
    nr_admin_options_default(&ao);
    nr_config_file_admin_options(cf, &ao);
    ao.program = "embedded_server";
    ao.metrics = metrics;
    ao.events = bus;
    ao.sample_interval_ms = 250;
    if (nr_admin_start(&admin, m, &ao, &err) != NR_OK)
        goto out;

    pthread_t t[WORKERS];
    worker w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (worker){.m = m, .index = i};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    FILE *pf = fopen(argv[2], "w");
    if (pf) {
        fprintf(pf, "%d\n", nr_admin_port(admin));
        fclose(pf);
    }
    printf("embedded_server: admin on http://127.0.0.1:%d/\n", nr_admin_port(admin));
    fflush(stdout);
    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && (sig == SIGUSR1 || sig == SIGUSR2)) {
        atomic_store(&outage, sig == SIGUSR1);
        printf("embedded_server: outage %s\n", sig == SIGUSR1 ? "begins" : "ends");
        fflush(stdout);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    status = atomic_load(&failures) == 0 && atomic_load(&overruns) == 0 ? 0 : 1;
    printf("embedded_server: %ld acquires came back more than %d ms past their deadline\n",
           atomic_load(&overruns), OVERRUN_MS);
    printf("embedded_server: %ld operations failed during the outage\n",
           atomic_load(&outage_failures));
    if (status)
        fprintf(stderr, "embedded_server: %ld failed operations\n", atomic_load(&failures));
out:
    if (status && err.code)
        fprintf(stderr, "embedded_server: %s: %s\n", nr_err_name(err.code), err.message);
    nr_admin_stop(admin);
    if (m && nr_manager_destroy(m, &err) != NR_OK) {
        fprintf(stderr, "embedded_server: %s\n", err.message);
        status = 1;
    }
    nr_metrics_destroy(metrics);
    if (bus)
        nr_event_bus_destroy(bus);
    nr_config_file_free(cf);
    return status;
}

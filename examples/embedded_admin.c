/*
 * embedded_admin.c - what an application adds to get its resources from a
 * config file and the status page, /metrics, /healthz, /readyz, /status and
 * the admin actions: link nebula-resource-admin and add the lines marked
 * [admin] below.
 *
 *     embedded_admin CONFIG [SECONDS]     (SECONDS 0 or none: until Ctrl-C)
 *
 * examples/embedded_admin.json is a config to try it with.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nebula/admin.h"
#include "nebula/config_file.h"
#include "nebula/manager.h"
#include "nebula/sqlite.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int fail(const char *what, const nr_error *err)
{
    fprintf(stderr, "embedded_admin: %s: %s: %s\n", what, nr_err_name(err->code), err->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: embedded_admin CONFIG [SECONDS]\n");
        return 2;
    }
    int seconds = argc > 2 ? atoi(argv[2]) : 0;
    nr_error err = {0};

    /* [admin] 1. the config file, with the drivers this program has */
    static const nr_config_driver drivers[] = {{.name = "sqlite", .type = &nr_sqlite_type}};
    nr_config_load_options lo = NR_CONFIG_LOAD_OPTIONS_INIT;
    nr_config_load_options_default(&lo);
    lo.drivers = drivers;
    lo.ndrivers = 1;
    nr_config_file *cf = NULL;
    if (nr_config_file_load(&cf, argv[1], &lo, &err) != NR_OK) {
        nr_config_file_write_problems(cf, stderr); /* FILE:LINE:COL: PATH: RULE (got VALUE) */
        nr_config_file_free(cf);
        return fail("config", &err);
    }

    /* 2. the manager, with an event bus and a metrics registry for the page */
    nr_event_bus *bus = NULL;
    nr_metrics *metrics = NULL;
    if (nr_event_bus_create(&bus, 1024, &err) != NR_OK ||
        nr_metrics_create(&metrics, &err) != NR_OK)
        return fail("observability", &err);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_config_file_manager_options(cf,
                                   &mo); /* [admin] the file's manager section and credentials */
    mo.events = bus;
    mo.metrics = metrics;
    nr_manager *m = NULL;
    if (nr_manager_create(&m, &mo, &err) != NR_OK || nr_manager_load_config(m, cf, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(10000), &err) != NR_OK)
        return fail("start", &err);

    /* [admin] 3. the admin server, where the file's http section says */
    nr_admin_options ao = NR_ADMIN_OPTIONS_INIT;
    nr_admin_options_default(&ao);
    nr_config_file_admin_options(cf, &ao);
    ao.metrics = metrics;
    ao.events = bus;
    nr_admin *admin = NULL;
    if (nr_admin_start(&admin, m, &ao, &err) != NR_OK)
        return fail("admin", &err);
    printf("status page: http://%s:%d/\n", ao.listen, nr_admin_port(admin));
    fflush(stdout);

    /* 4. the application's own work: here, leases of "app-db" */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    long done = 0;
    time_t end = time(NULL) + seconds;
    while (!stop && (seconds == 0 || time(NULL) < end)) {
        nr_guard g = NR_GUARD_INIT;
        if (nr_manager_acquire(m, "app-db", NULL, &g, &err) != NR_OK)
            return fail("acquire", &err);
        nr_guard_release(&g);
        done++;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    printf("%ld leases\n", done);

    /* [admin] 5. stop the server before the manager it shows */
    nr_admin_stop(admin);
    int rc = nr_manager_destroy(m, &err) == NR_OK ? 0 : fail("destroy", &err);
    nr_metrics_destroy(metrics);
    nr_event_bus_destroy(bus);
    nr_config_file_free(cf);
    return rc;
}

/*
 * cmd_run.c - `nebula-resource run CONFIG`: start the resources of a config
 * file, serve their status over HTTP, reload the file on SIGHUP or on the
 * admin server's reload action, and shut down in phases on SIGINT or
 * SIGTERM.
 *
 *   starting -> running -> shutting down: lame duck -> drain -> cleanup ->
 *   terminate -> stopped
 *
 * A second signal during the lame duck phase ends it and shuts down with no
 * time for the drain; during the drain or cleanup (one blocking call of the
 * manager) the signal thread exits the process at once. Both exit with
 * 128 + the signal number.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "nebula/admin.h"
#include "nebula/version.h"
#include "signals.h"

typedef struct run_opts {
    const char *file;
    const char *listen;
    int64_t port; /* -1: the config's */
} run_opts;

static int parse(int argc, char **argv, run_opts *o)
{
    o->file = NULL;
    o->listen = NULL;
    o->port = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            nr_cli_help("run", stdout);
            return 1;
        }
        if (!strcmp(a, "--port") || !strcmp(a, "--listen")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nebula-resource run: %s needs a value\n", a);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--port")) {
                if (!nr_cli_parse_int("--port", v, 0, 65535, &o->port))
                    return -1;
            } else {
                o->listen = v;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "nebula-resource run: unknown option '%s'\n", a);
            return -1;
        } else if (o->file) {
            fprintf(stderr, "nebula-resource run: one CONFIG only (got '%s' and '%s')\n", o->file,
                    a);
            return -1;
        } else {
            o->file = a;
        }
    }
    if (!o->file) {
        fprintf(stderr, "nebula-resource run: CONFIG is missing\n"
                        "Usage: nebula-resource run CONFIG [--port N] [--listen ADDR]\n");
        return -1;
    }
    return 0;
}

static bool signalled(void *ud)
{
    return cli_signals_count(ud) > 0;
}

typedef struct run_ctx {
    cli_app *app;
    const char *file;
} run_ctx;

/* Reload the file and print what it did; from the main thread (SIGHUP) or
 * the admin server's (its reload action). */
static int reload_now(run_ctx *rc_, const char *why, char *summary, size_t len, nr_error *err)
{
    cli_reload_summary *sum = malloc(sizeof(*sum));
    if (!sum)
        return nr_error_set(err, NR_ENOMEM, NULL, "reload: out of memory");
    int rc = cli_app_reload_print(rc_->app, rc_->file, why, stdout, sum, err);
    if (summary && len)
        snprintf(summary, len, "%s", sum->text);
    free(sum);
    return rc;
}

static int admin_reload(void *ud, char *summary, size_t len, nr_error *err)
{
    return reload_now(ud, "admin action", summary, len, err);
}

static void print_report(const nr_shutdown_report *rep, int rc, const nr_error *err)
{
    char d[32], c[32];
    cli_fmt_ns(d, sizeof(d), rep->drain_ns);
    cli_fmt_ns(c, sizeof(c), rep->cleanup_ns);
    printf("shutdown phase 2/4 drain: %s in %s\n",
           rep->drain_timed_out ? "TIMED OUT (leases still out)" : "every lease given back", d);
    printf("shutdown phase 3/4 cleanup: %u instance%s closed, dependents first, in %s%s\n",
           rep->destroyed, rep->destroyed == 1 ? "" : "s", c,
           rep->cleanup_timed_out ? " (TIMED OUT)" : "");
    if (rep->nleftovers == 0) {
        printf("shutdown phase 4/4 terminate: nothing left out\n");
    } else {
        printf("shutdown phase 4/4 terminate: %zu resource%s with leases still out:\n",
               rep->nleftovers, rep->nleftovers == 1 ? "" : "s");
        for (size_t i = 0; i < rep->nleftovers && i < NR_SHUTDOWN_LEFTOVERS_MAX; i++) {
            char held[32];
            cli_fmt_ns(held, sizeof(held), rep->leftovers[i].oldest_lease_ns);
            printf("    %s: %u lease%s, the oldest held %s\n", rep->leftovers[i].id,
                   rep->leftovers[i].leases, rep->leftovers[i].leases == 1 ? "" : "s", held);
        }
    }
    if (rc != NR_OK)
        printf("shutdown: %s: %s\n", nr_err_name(rc), err->message);
}

/* The phases after the first signal (or a failed start). Returns the exit
 * status. */
static int shut_down(cli_app *app, cli_signals *sig, nr_admin **admin, bool failed_start)
{
    int64_t t0 = nr_now_ns();
    nr_admin_set_phase(*admin, NR_ADMIN_SHUTTING_DOWN);
    nr_shutdown_options so = NR_SHUTDOWN_OPTIONS_INIT;
    int64_t grace_ms = 0;
    nr_config_file_shutdown_options(app->cf, &so, &grace_ms);
    bool forced = false;
    if (!failed_start) {
        printf("shutdown phase 1/4 lame duck: /readyz answers 503; waiting %lld ms\n",
               (long long)grace_ms);
        fflush(stdout);
        if (grace_ms > 0 && cli_signals_wait(sig, 2, grace_ms) >= 2) {
            forced = true;
            printf("shutdown: second %s: forcing the shutdown: no drain, 1 s for the cleanup\n",
                   cli_signals_last_name(sig));
            so.drain_timeout_ms = 0;
            so.cleanup_timeout_ms = 1000;
        }
    }
    printf("shutdown phase 2/4 drain: refusing new acquires, waiting up to %lld ms for "
           "leases\n",
           (long long)so.drain_timeout_ms);
    fflush(stdout);
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    nr_error err = {0};
    if (!forced)
        cli_signals_arm_force(sig, true);
    if (!forced && cli_signals_count(sig) >= 2) {
        /* the second signal came before the arming */
        forced = true;
        so.drain_timeout_ms = 0;
        so.cleanup_timeout_ms = 1000;
    }
    int rc = nr_manager_shutdown(app->m, &so, &rep, &err);
    cli_signals_arm_force(sig, false);
    print_report(&rep, rc, &err);
    nr_admin_set_phase(*admin, NR_ADMIN_STOPPED);
    nr_admin_stop(*admin);
    *admin = NULL;
    char total[32];
    cli_fmt_ns(total, sizeof(total), nr_now_ns() - t0);
    if (forced) {
        printf("shutdown forced by a second signal after %s\n", total);
        fflush(stdout);
        return 128 + atomic_load(&sig->last);
    }
    if (rc != NR_OK) {
        printf("shutdown finished with problems after %s\n", total);
        return 1;
    }
    printf("shutdown complete in %s%s\n", total, failed_start ? " (after a failed start)" : "");
    fflush(stdout);
    return failed_start ? 1 : 0;
}

int nr_cli_run(int argc, char **argv)
{
    run_opts o;
    int prc = parse(argc, argv, &o);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    nr_config_file *cf = cli_config_load(o.file, true, stderr, "; nothing started");
    if (!cf)
        return 1;
    size_t nres = nr_config_file_resource_count(cf);
    nr_admin_options ao = NR_ADMIN_OPTIONS_INIT;
    nr_admin_options_default(&ao);
    nr_config_file_admin_options(cf, &ao); /* listen, port, the admin token */
    if (o.listen)
        ao.listen = o.listen;
    if (o.port >= 0)
        ao.port = (int)o.port;
    const char *listen = ao.listen;

    /* before any thread exists, so that every thread inherits the mask */
    cli_signals_block();
    cli_signals sig;
    int status = 1;
    if (cli_signals_start(&sig, "nebula-resource") != 0) {
        fprintf(stderr, "nebula-resource run: cannot start the signal thread\n");
        cli_signals_stop(&sig);
        nr_config_file_free(cf);
        return 1;
    }
    printf("nebula-resource %s run: %s, %zu resource%s\n", nr_version(), o.file, nres,
           nres == 1 ? "" : "s");
    cli_app app;
    nr_admin *admin = NULL;
    nr_error err = {0};
    if (cli_app_create(&app, cf, true, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource run: %s\n", err.message);
        goto out;
    }
    ao.mode = "run";
    ao.phase = NR_ADMIN_STARTING;
    ao.metrics = app.metrics;
    ao.events = app.bus;
    run_ctx rctx = {.app = &app, .file = o.file};
    ao.reload = admin_reload;
    ao.reload_ud = &rctx;
    ao.fleet_stats = cli_app_fleet_stats;
    ao.fleet_stats_ud = &app;
    if (nr_admin_start(&admin, app.m, &ao, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource run: %s\n", err.message);
        goto out;
    }
    printf("listening on http://%s%s%s:%d/ (status page; also /status /metrics /healthz "
           "/readyz)\n",
           strchr(listen, ':') ? "[" : "", listen, strchr(listen, ':') ? "]" : "",
           nr_admin_port(admin));
    fflush(stdout);
    int rc = cli_app_start(&app, stdout, signalled, &sig, &err);
    if (rc != NR_OK) {
        if (rc == NR_ECANCELED)
            printf("start interrupted by %s\n", cli_signals_last_name(&sig));
        else
            fprintf(stderr, "nebula-resource run: start failed: %s\n", err.message);
        status = shut_down(&app, &sig, &admin, rc != NR_ECANCELED);
        if (rc == NR_ECANCELED && status == 0)
            status = 1;
        goto out;
    }
    nr_admin_set_phase(admin, NR_ADMIN_RUNNING);
    printf("ready: %zu resource%s running; SIGHUP to reload %s, SIGINT or SIGTERM to stop\n", nres,
           nres == 1 ? "" : "s", o.file);
    fflush(stdout);
    int reloads = 0;
    while (!cli_signals_wait_stop_or_reload(&sig, &reloads, -1)) {
        nr_error rerr = {0};
        reload_now(&rctx, "SIGHUP", NULL, 0, &rerr);
    }
    printf("shutdown: %s received; shutting down in phases (send another signal to force)\n",
           cli_signals_last_name(&sig));
    fflush(stdout);
    status = shut_down(&app, &sig, &admin, false);
out:
    nr_admin_stop(admin);
    cli_app_destroy(&app);
    cli_signals_stop(&sig);
    nr_config_file_free(cf);
    fflush(stdout);
    return status;
}

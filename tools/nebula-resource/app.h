/*
 * app.h - a manager built from a loaded config file (nebula/config_file.h):
 * its event bus and metrics registry, and starting the resources in
 * dependency order with a line per resource. Used by `run` and `bench`.
 *
 * Ownership: cli_app_create fills an app that cli_app_destroy frees (also
 * after a failed create). The config file is borrowed and must outlive the
 * app (the manager uses its credential provider).
 *
 * Thread safety: create, start and destroy from one thread; the manager
 * may be used from any thread in between.
 */
#ifndef NR_CLI_APP_H
#define NR_CLI_APP_H

#include <stdbool.h>
#include <stdio.h>

#include "app_hooks.h"
#include "nebula/config_file.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"

typedef struct cli_app {
    nr_config_file *cf;
    nr_event_bus *bus;
    nr_metrics *metrics;
    cli_hooks hooks; /* the file's "hooks"; the manager borrows hooks.reg */
    nr_manager *m;
} cli_app;

/* Load file with the program's drivers. On problems, write each and then
 * "FILE: invalid: N problems<suffix>" to out, and return NULL. */
nr_config_file *cli_config_load(const char *file, bool check_credentials, FILE *out,
                                const char *suffix);

/* Create the manager (and, with observe, an event bus and a metrics
 * registry for the admin server), with the file's hooks (a metrics hook
 * gets a registry of its own when there is none to serve). */
int cli_app_create(cli_app *app, nr_config_file *cf, bool observe, nr_error *err);

/* Start every resource, dependencies first, writing one line per resource
 * to out (NULL: silent). stop (may be NULL) is asked between resources:
 * true ends the start with NR_ECANCELED. NR_OK, or the first failure (err
 * names the resource); what started stays started until shutdown. */
int cli_app_start(cli_app *app, FILE *out, bool (*stop)(void *ud), void *ud, nr_error *err);

/* Shut the manager down and free everything (an admin server serving it
 * must be stopped first). */
void cli_app_destroy(cli_app *app);

#endif

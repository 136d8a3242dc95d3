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

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "app_hooks.h"
#include "nebula/config_file.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"

typedef struct cli_app {
    nr_config_file *cf; /* the file the app was made from (hooks, admin, shutdown) */
    nr_event_bus *bus;
    nr_metrics *metrics;
    cli_hooks hooks; /* the file's "hooks"; the manager borrows hooks.reg */
    nr_manager *m;
    /* The manager's credential provider: the "credentials" section of the
     * file loaded last (cf, or the one a reload loaded), under cred_mu. */
    nr_credential_provider creds;
    pthread_mutex_t cred_mu;
    nr_config_file *cur;       /* [cred_mu] the file loaded last; owned when not cf */
    pthread_mutex_t reload_mu; /* one reload at a time (app_reload.c) */
    /* One fleet budget per resource with a "fleet" section (NULL for the
     * others), indexed by the resource's id; created before the resource
     * is registered, destroyed after the manager. */
    struct cli_fleet *fleets;
    size_t nfleets;
    pthread_mutex_t fleet_mu; /* fleets, against /status and reload */
} cli_app;

/* One resource's fleet budget. */
typedef struct cli_fleet {
    char *id;           /* the resource's id */
    nr_fleet *f;        /* owned */
    uint32_t budget;    /* the budget the file gave it */
    nr_fleet_mode mode; /* its on_redis_down */
} cli_fleet;

/* nr_admin_options.fleet_stats over the app's fleet budgets (ud: the app). */
bool cli_app_fleet_stats(void *ud, const char *id, nr_fleet_stats *stats, const char **mode);

/* The fleet budget of resource id, or NULL. Under fleet_mu. */
nr_fleet *cli_app_fleet(cli_app *app, const char *id);

/* When the i-th resource of cf (start order) has a "fleet" section: create
 * its fleet budget (credentials, events and metrics the app's) and set
 * spec->budget to its local budget. NR_OK with nothing done when it has
 * none; NR_ECONFIG when the program was built without the fleet library. */
int cli_app_fleet_create(cli_app *app, nr_config_file *cf, size_t i, nr_resource_spec *spec,
                         nr_error *err);

/* Destroy resource id's fleet budget (its resource gone): NR_OK (also when
 * it has none), or nr_fleet_destroy's failure (a pool still in it: it then
 * stays, no longer under id, and is destroyed with the app). */
int cli_app_fleet_destroy(cli_app *app, const char *id, nr_error *err);

/* Whether this program can create fleet budgets (it was built with the fleet library). */
bool cli_have_fleet(void);

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

/* What a reload did (app_reload.c). */
typedef struct cli_reload_summary {
    size_t added, removed, reloaded, unchanged, failed, credentials_rotated;
    size_t recorded, in_place, new_pool; /* the kinds of the reloaded ones */
    bool refused;    /* the file had problems or a fixed section changed: nothing changed */
    char text[2048]; /* one line per step, then the totals; cut with "..." */
} cli_reload_summary;

/*
 * Reload the app from file (the path it was started with): load and check
 * it (a file with problems changes nothing: NR_ECONFIG, the problems in
 * sum->text); refuse (NR_EINVAL, nothing changed) changes to what cannot
 * change while running: the "manager", "http", "shutdown", "hooks" and
 * "groups" sections. Otherwise remove the resources no longer in the file
 * (dependents first, each drained for the shutdown section's drain time),
 * add the new ones (started at once), nr_manager_reload the others (each
 * says unchanged, in place or new pool), switch to the file's credentials
 * and rotate every credential whose value changed. NR_OK when every step
 * worked; else the first failure's code, with the other steps done. Any
 * thread; one reload at a time.
 */
int cli_app_reload(cli_app *app, const char *file, cli_reload_summary *sum, nr_error *err);

/*
 * cli_app_reload, printed to out as `run` prints it: "reload: WHY:
 * re-reading FILE", the summary's lines, then "reload: done" or "reload:
 * CODE: message". sum (caller-owned) receives the summary. Returns what
 * cli_app_reload returned.
 */
int cli_app_reload_print(cli_app *app, const char *file, const char *why, FILE *out,
                         cli_reload_summary *sum, nr_error *err);

/* Reloads added up (bench's final report). */
typedef struct cli_reload_tally {
    size_t reloads, refused, with_failures; /* refused: the file or a fixed section */
    size_t added, removed, unchanged, recorded, in_place, new_pool, failed, credentials_rotated;
} cli_reload_tally;

/* Add one reload's summary to t. */
void cli_reload_tally_add(cli_reload_tally *t, const cli_reload_summary *sum);

/* "N (A applied, R refused): I in place, P new pool, ..." into buf. */
void cli_reload_tally_format(const cli_reload_tally *t, char *buf, size_t len);

#endif

/*
 * app.c - a manager built from a config file. See app.h.
 */
#define _DEFAULT_SOURCE
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

nr_config_file *cli_config_load(const char *file, bool check_credentials, FILE *out,
                                const char *suffix)
{
    nr_config_load_options lo = NR_CONFIG_LOAD_OPTIONS_INIT;
    nr_config_load_options_default(&lo);
    lo.drivers = cli_drivers(&lo.ndrivers);
    lo.check_credentials = check_credentials;
    nr_config_file *cf = NULL;
    nr_error err = {0};
    int rc = nr_config_file_load(&cf, file, &lo, &err);
    if (rc == NR_OK)
        return cf;
    if (rc == NR_ECONFIG && cf) {
        size_t n = nr_config_file_problems(cf, NULL);
        nr_config_file_write_problems(cf, out);
        fprintf(out, "%s: invalid: %zu problem%s%s\n", file, n, n == 1 ? "" : "s", suffix);
    } else {
        fprintf(out, "%s: %s\n", file, err.message);
    }
    nr_config_file_free(cf);
    return NULL;
}

/* The manager's provider: the credentials of the file loaded last. */
static int app_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    cli_app *app = ud;
    pthread_mutex_lock(&app->cred_mu);
    nr_credential_provider p = nr_config_file_credentials(app->cur);
    int rc = p.fetch ? p.fetch(p.ud, ref, out, err)
                     : nr_error_set(err, NR_ECRED, NULL,
                                    "credential '%s': the config file has no \"credentials\" "
                                    "section",
                                    ref);
    pthread_mutex_unlock(&app->cred_mu);
    return rc;
}

static int app_expiry(void *ud, const char *ref, int64_t *expires_ms, nr_error *err)
{
    cli_app *app = ud;
    pthread_mutex_lock(&app->cred_mu);
    nr_credential_provider p = nr_config_file_credentials(app->cur);
    int rc = NR_OK;
    *expires_ms = 0;
    if (p.expiry)
        rc = p.expiry(p.ud, ref, expires_ms, err);
    pthread_mutex_unlock(&app->cred_mu);
    return rc;
}

/* ---- fleet budgets ---- */

bool cli_have_fleet(void)
{
#ifdef NR_CLI_WITH_FLEET
    return true;
#else
    return false;
#endif
}

nr_fleet *cli_app_fleet(cli_app *app, const char *id)
{
    for (size_t k = 0; k < app->nfleets; k++)
        if (app->fleets[k].id && strcmp(app->fleets[k].id, id) == 0)
            return app->fleets[k].f;
    return NULL;
}

int cli_app_fleet_create(cli_app *app, nr_config_file *cf, size_t i, nr_resource_spec *spec,
                         nr_error *err)
{
    nr_fleet_options fo = NR_FLEET_OPTIONS_INIT;
    if (nr_config_file_fleet(cf, i, &fo) != NR_OK)
        return NR_OK; /* no fleet section */
#ifdef NR_CLI_WITH_FLEET
    if (fo.credential_ref)
        fo.credentials = &app->creds; /* the file loaded last, as for the resources */
    fo.events = app->bus;
    fo.metrics = app->metrics;
    char *id = strdup(spec->id);
    if (!id)
        return nr_error_set(err, NR_ENOMEM, spec->id, "out of memory");
    nr_fleet *f = NULL;
    int rc = nr_fleet_create(&f, &fo, err);
    if (rc != NR_OK) {
        free(id);
        return rc;
    }
    pthread_mutex_lock(&app->fleet_mu);
    cli_fleet *v = realloc(app->fleets, (app->nfleets + 1) * sizeof(*v));
    if (v) {
        app->fleets = v;
        v[app->nfleets++] =
            (cli_fleet){.id = id, .f = f, .budget = fo.budget, .mode = fo.on_redis_down};
    }
    pthread_mutex_unlock(&app->fleet_mu);
    if (!v) {
        nr_fleet_destroy(f, NULL);
        free(id);
        return nr_error_set(err, NR_ENOMEM, spec->id, "out of memory");
    }
    spec->budget = nr_fleet_budget(f);
    return NR_OK;
#else
    (void)app;
    return nr_error_set(err, NR_ECONFIG, spec->id,
                        "resource '%s': a \"fleet\" section needs the fleet library (hiredis), "
                        "which this program was built without",
                        spec->id);
#endif
}

bool cli_app_fleet_stats(void *ud, const char *id, nr_fleet_stats *stats, const char **mode)
{
    cli_app *app = ud;
    bool found = false;
    pthread_mutex_lock(&app->fleet_mu);
    for (size_t k = 0; k < app->nfleets && !found; k++) {
        cli_fleet *e = &app->fleets[k];
        if (!e->id || strcmp(e->id, id) != 0)
            continue;
#ifdef NR_CLI_WITH_FLEET
        found = nr_fleet_get_stats(e->f, stats) == NR_OK;
        *mode = nr_fleet_mode_name(e->mode);
#else
        (void)stats;
        (void)mode;
#endif
    }
    pthread_mutex_unlock(&app->fleet_mu);
    return found;
}

int cli_app_fleet_destroy(cli_app *app, const char *id, nr_error *err)
{
    for (size_t k = 0; k < app->nfleets; k++) {
        cli_fleet *e = &app->fleets[k];
        if (!e->id || strcmp(e->id, id) != 0)
            continue;
        pthread_mutex_lock(&app->fleet_mu); /* not while /status reads it */
#ifdef NR_CLI_WITH_FLEET
        int rc = nr_fleet_destroy(e->f, err);
        if (rc != NR_OK) { /* a pool still in it: kept, nameless, until the app is destroyed */
            free(e->id);
            e->id = NULL;
            pthread_mutex_unlock(&app->fleet_mu);
            return rc;
        }
#endif
        free(e->id);
        e->id = NULL;
        e->f = NULL;
        pthread_mutex_unlock(&app->fleet_mu);
        return NR_OK;
    }
    return NR_OK;
}

int cli_app_create(cli_app *app, nr_config_file *cf, bool observe, nr_error *err)
{
    memset(app, 0, sizeof(*app));
    app->cf = cf;
    app->cur = cf;
    pthread_mutex_init(&app->cred_mu, NULL);
    pthread_mutex_init(&app->fleet_mu, NULL);
    pthread_mutex_init(&app->reload_mu, NULL);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_config_file_manager_options(cf, &mo);
    if (mo.credentials) {
        app->creds = (nr_credential_provider){.fetch = app_fetch, .ud = app, .expiry = app_expiry};
        mo.credentials = &app->creds;
    }
    int rc;
    if (observe) {
        if ((rc = nr_event_bus_create(&app->bus, 1024, err)) != NR_OK ||
            (rc = nr_metrics_create(&app->metrics, err)) != NR_OK)
            return rc;
        mo.events = app->bus;
        mo.metrics = app->metrics;
    }
    bool metrics_hook = false;
    for (size_t i = 0; i < nr_config_file_hook_count(cf); i++) {
        nr_config_hook h;
        nr_config_file_hook(cf, i, &h);
        metrics_hook = metrics_hook || h.type == NR_CONFIG_HOOK_METRICS;
    }
    if (metrics_hook && !app->metrics && (rc = nr_metrics_create(&app->metrics, err)) != NR_OK)
        return rc;
    if ((rc = cli_hooks_create(&app->hooks, cf, app->bus, err)) != NR_OK)
        return rc;
    mo.hooks = app->hooks.reg;
    if ((rc = nr_manager_create(&app->m, &mo, err)) != NR_OK)
        return rc;
    /* before any resource is registered, so every operation sees them */
    return cli_hooks_add(&app->hooks, cf, app->m, app->bus, app->metrics, err);
}

int cli_app_start(cli_app *app, FILE *out, bool (*stop)(void *ud), void *ud, nr_error *err)
{
    size_t nres = nr_config_file_resource_count(app->cf);
    int rc = nr_manager_start(app->m, nr_deadline_in_ms(10000), err);
    if (rc != NR_OK)
        return rc;
    if (out) {
        fprintf(out, "starting %zu resource%s in dependency order\n", nres, nres == 1 ? "" : "s");
        fflush(out);
    }
    /* Registered one by one on the started manager: each starts at once,
     * after everything it depends on. */
    for (size_t n = 0; n < nres; n++) {
        nr_resource_spec spec = NR_RESOURCE_SPEC_INIT;
        const char *driver = NULL;
        nr_config_file_resource(app->cf, n, &spec, &driver);
        const nr_resource_spec *r = &spec;
        if (stop && stop(ud))
            return nr_error_set(err, NR_ECANCELED, r->id, "start interrupted before resource '%s'",
                                r->id);
        int64_t t0 = nr_now_ns();
        rc = cli_app_fleet_create(app, app->cf, n, &spec, err);
        if (rc == NR_OK)
            rc = nr_manager_register(app->m, &spec, err);
        char took[32];
        cli_fmt_ns(took, sizeof(took), nr_now_ns() - t0);
        if (out) {
            fprintf(out, "  [%zu/%zu] %-20s %-8s ", n + 1, nres, r->id, driver);
            if (rc != NR_OK) {
                fprintf(out, "FAILED after %s: %s: %s\n", took, nr_err_name(rc), err->message);
            } else {
                nr_resource_info ri = NR_RESOURCE_INFO_INIT;
                nr_manager_resource_info(app->m, r->id, &ri, NULL);
                fprintf(out, "%s in %s", nr_resource_state_name(ri.state), took);
                if (r->partition == NR_PARTITION_TENANT)
                    fprintf(out, " (one pool per tenant)");
                else
                    fprintf(out, " (%u ready, max %u)", ri.stats.idle, ri.stats.max_size);
                if (r->budget)
                    fprintf(out, ", fleet budget");
                if (r->ndepends) {
                    fprintf(out, ", after");
                    for (size_t k = 0; k < r->ndepends; k++)
                        fprintf(out, "%s %s", k ? "," : "", r->depends_on[k]);
                }
                fputc('\n', out);
            }
            fflush(out);
        }
        if (rc != NR_OK)
            return rc;
    }
    return NR_OK;
}

void cli_app_destroy(cli_app *app)
{
    if (app->m) {
        nr_error err = {0};
        if (nr_manager_destroy(app->m, &err) != NR_OK)
            fprintf(stderr, "nebula-resource: %s\n", err.message);
        app->m = NULL;
    }
    /* after the manager: its pools were in them; their leases go back to Redis */
    for (size_t k = 0; k < app->nfleets; k++) {
#ifdef NR_CLI_WITH_FLEET
        nr_error err = {0};
        if (app->fleets[k].f && nr_fleet_destroy(app->fleets[k].f, &err) != NR_OK)
            fprintf(stderr, "nebula-resource: %s\n", err.message);
#endif
        free(app->fleets[k].id);
    }
    free(app->fleets);
    app->fleets = NULL;
    app->nfleets = 0;
    cli_hooks_destroy(&app->hooks); /* after the manager, which borrows the registry */
    nr_metrics_destroy(app->metrics);
    app->metrics = NULL;
    if (app->bus)
        nr_event_bus_destroy(app->bus);
    app->bus = NULL;
    if (app->cur && app->cur != app->cf)
        nr_config_file_free(app->cur);
    app->cur = NULL;
    if (app->cf) { /* made by cli_app_create */
        pthread_mutex_destroy(&app->cred_mu);
        pthread_mutex_destroy(&app->reload_mu);
        pthread_mutex_destroy(&app->fleet_mu);
    }
}

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

int cli_app_create(cli_app *app, nr_config_file *cf, bool observe, nr_error *err)
{
    memset(app, 0, sizeof(*app));
    app->cf = cf;
    app->cur = cf;
    pthread_mutex_init(&app->cred_mu, NULL);
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
    }
}

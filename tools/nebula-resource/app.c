/*
 * app.c - a manager built from a config file. See app.h.
 */
#define _DEFAULT_SOURCE
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "nebula/credential_sources.h"

int cli_app_create(cli_app *app, const cli_config *cfg, bool observe, nr_error *err)
{
    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    /* the config's "credentials" section: each ref from its variable or file */
    nr_credential_source *src = calloc(cfg->ncreds ? cfg->ncreds : 1, sizeof(*src));
    if (!src)
        return nr_error_set(err, NR_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < cfg->ncreds; i++)
        src[i] = (nr_credential_source){
            .ref = cfg->creds[i].ref, .env = cfg->creds[i].env, .file = cfg->creds[i].file};
    int rc = nr_credential_table_create(&app->table, src, cfg->ncreds, err);
    free(src);
    if (rc != NR_OK)
        return rc;
    app->creds = nr_credential_table_provider(app->table);
    nr_manager_options mo = cfg->manager;
    mo.credentials = &app->creds;
    if (observe) {
        if ((rc = nr_event_bus_create(&app->bus, 1024, err)) != NR_OK ||
            (rc = nr_metrics_create(&app->metrics, err)) != NR_OK)
            return rc;
        mo.events = app->bus;
        mo.metrics = app->metrics;
    }
    if ((rc = nr_manager_create(&app->m, &mo, err)) != NR_OK)
        return rc;
    return NR_OK;
}

int cli_app_start(cli_app *app, FILE *out, bool (*stop)(void *ud), void *ud, nr_error *err)
{
    const cli_config *cfg = app->cfg;
    int rc = nr_manager_start(app->m, nr_deadline_in_ms(10000), err);
    if (rc != NR_OK)
        return rc;
    if (out) {
        fprintf(out, "starting %zu resource%s in dependency order\n", cfg->nres,
                cfg->nres == 1 ? "" : "s");
        fflush(out);
    }
    /* Registered one by one on the started manager: each starts at once,
     * after everything it depends on. */
    for (size_t n = 0; n < cfg->nres; n++) {
        const cli_resource *r = &cfg->res[cfg->order[n]];
        if (stop && stop(ud))
            return nr_error_set(err, NR_ECANCELED, r->id, "start interrupted before resource '%s'",
                                r->id);
        nr_resource_spec spec = {.id = r->id,
                                 .type = r->driver->type,
                                 .config = r->config,
                                 .pool = &r->pool,
                                 .scope = &r->scope,
                                 .partition = r->partition,
                                 .depends_on = (const char *const *)r->deps,
                                 .ndepends = r->ndeps,
                                 .credential_ref = r->credential};
        int64_t t0 = nr_now_ns();
        rc = nr_manager_register(app->m, &spec, err);
        char took[32];
        cli_fmt_ns(took, sizeof(took), nr_now_ns() - t0);
        if (out) {
            fprintf(out, "  [%zu/%zu] %-20s %-8s ", n + 1, cfg->nres, r->id, r->driver_name);
            if (rc != NR_OK) {
                fprintf(out, "FAILED after %s: %s: %s\n", took, nr_err_name(rc), err->message);
            } else {
                nr_resource_info ri;
                nr_manager_resource_info(app->m, r->id, &ri, NULL);
                fprintf(out, "%s in %s", nr_resource_state_name(ri.state), took);
                if (r->partition == NR_PARTITION_TENANT)
                    fprintf(out, " (one pool per tenant)");
                else
                    fprintf(out, " (%u ready, max %u)", ri.stats.idle, ri.stats.max_size);
                if (r->ndeps) {
                    fprintf(out, ", after");
                    for (size_t k = 0; k < r->ndeps; k++)
                        fprintf(out, "%s %s", k ? "," : "", r->deps[k]);
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
    nr_metrics_destroy(app->metrics);
    app->metrics = NULL;
    nr_credential_table_destroy(app->table);
    app->table = NULL;
    if (app->bus)
        nr_event_bus_destroy(app->bus);
    app->bus = NULL;
}

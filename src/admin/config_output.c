/*
 * config_output.c - what is done with a loaded config file: look-ups,
 * printing it (secrets redacted, as every schema printer does), printing
 * the problems a load found, and freeing both.
 */
#define _DEFAULT_SOURCE
#include "cfg_internal.h"
#include "config_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_schema.h"
#include "nebula/config.h"

void cf_config_free(cf_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nres; i++) {
        cf_resource *r = &cfg->res[i];
        if (r->config && r->driver) {
            nr_config_free(r->driver->type->config_schema, r->config);
            free(r->config);
        }
        for (size_t k = 0; k < r->ndeps; k++)
            free(r->deps[k]);
        free(r->deps);
        free(r->id);
        free(r->driver_name);
        free(r->credential);
        if (r->has_fleet)
            nr_config_free(&cf_fleet_schema, &r->fleet);
    }
    free(cfg->res);
    for (size_t i = 0; i < cfg->ncreds; i++) {
        free(cfg->creds[i].ref);
        free(cfg->creds[i].env);
        free(cfg->creds[i].file);
    }
    free(cfg->creds);
    free(cfg->order);
    for (size_t i = 0; i < cfg->ngroups; i++) {
        for (size_t k = 0; k < cfg->groups[i].nmembers; k++)
            free(cfg->groups[i].members[k]);
        free(cfg->groups[i].members);
        free(cfg->groups[i].name);
    }
    free(cfg->groups);
    for (size_t i = 0; i < cfg->nhooks; i++) {
        free(cfg->hooks[i].resource);
        free(cfg->hooks[i].type_name);
        free(cfg->hooks[i].path);
    }
    free(cfg->hooks);
    free(cfg->listen);
    free(cfg->admin_token);
    memset(cfg, 0, sizeof(*cfg));
}

const cf_credential *cf_config_credential(const cf_config *cfg, const char *ref)
{
    for (size_t i = 0; i < cfg->ncreds; i++)
        if (cfg->creds[i].ref && strcmp(cfg->creds[i].ref, ref) == 0)
            return &cfg->creds[i];
    return NULL;
}

/* The library's redacting printer, each line indented by two spaces. */
static void print_indented(const nr_config_schema *s, const void *cfg, const nr_health_config *hc,
                           FILE *out)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        s ? nr_config_print(s, cfg, out) : nr_health_config_print(hc, out);
        return;
    }
    s ? nr_config_print(s, cfg, mem) : nr_health_config_print(hc, mem);
    fclose(mem);
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        fprintf(out, "  %.*s\n", (int)(nl ? nl - line : (long)strlen(line)), line);
    }
    free(text);
}

void cf_config_print(const cf_config *cfg, FILE *out)
{
    const nr_manager_options *m = &cfg->manager;
    fprintf(out,
            "manager.workers = %u\nmanager.maintain_interval_ms = %lld\n"
            "manager.health_interval_ms = %lld\nmanager.health_timeout_ms = %lld\n"
            "manager.failure_threshold = %u\nmanager.recovery_threshold = %u\n",
            m->workers, (long long)m->maintain_interval_ms, (long long)m->health_interval_ms,
            (long long)m->health_timeout_ms, m->failure_threshold, m->recovery_threshold);
    fprintf(out,
            "manager.quarantine_after = %u\nmanager.quarantine_base_ms = %lld\n"
            "manager.quarantine_factor = %g\nmanager.quarantine_max_ms = %lld\n"
            "manager.quarantine_jitter = %g\nmanager.quarantine_max_attempts = %u\n"
            "manager.quarantine_trials = %u\n",
            m->quarantine_after, (long long)m->quarantine_base_ms, m->quarantine_factor,
            (long long)m->quarantine_max_ms, m->quarantine_jitter, m->quarantine_max_attempts,
            m->quarantine_trials);
    fprintf(out, "http.listen = \"%s\"\nhttp.port = %d\n", cfg->listen, cfg->port);
    if (cfg->admin_token)
        fprintf(out, "http.admin_token = credential %s\n", cfg->admin_token);
    fprintf(out,
            "shutdown.grace_ms = %lld\nshutdown.drain_timeout_ms = %lld\n"
            "shutdown.cleanup_timeout_ms = %lld\n",
            (long long)cfg->grace_ms, (long long)cfg->drain_timeout_ms,
            (long long)cfg->cleanup_timeout_ms);
    for (size_t i = 0; i < cfg->ncreds; i++) {
        const cf_credential *c = &cfg->creds[i];
        /* where the secret comes from, never the secret */
        if (c->env)
            fprintf(out, "credentials.%s = env %s (value %s)\n", c->ref, c->env,
                    NR_SECRET_REDACTED);
        else
            fprintf(out, "credentials.%s = file %s (value %s)\n", c->ref, c->file,
                    NR_SECRET_REDACTED);
    }
    for (size_t n = 0; n < cfg->nres; n++) {
        const cf_resource *r = &cfg->res[cfg->order ? cfg->order[n] : n];
        fprintf(out, "\nresource %s\n", r->id ? r->id : "?");
        fprintf(out, "  driver = %s\n  scope = %s\n  partition = %s\n  level = %d\n",
                r->driver_name ? r->driver_name : "?", r->scope_text,
                r->partition == NR_PARTITION_TENANT ? "tenant" : "none", r->level);
        fprintf(out, "  depends_on =");
        for (size_t k = 0; k < r->ndeps; k++)
            fprintf(out, " %s", r->deps[k]);
        fprintf(out, "%s\n  on_dependency_failure = %s\n  credential = %s\n",
                r->ndeps ? "" : " (none)", r->dep_policy == NR_DEP_FAIL ? "fail" : "serve",
                r->credential ? r->credential : "(none)");
        if (r->config && r->driver)
            print_indented(r->driver->type->config_schema, r->config, NULL, out);
        print_indented(&nr_pool_config_schema, &r->pool, NULL, out);
        print_indented(NULL, NULL, &r->health, out);
        if (r->autoscale.enabled)
            print_indented(&nr_autoscale_schema, &r->autoscale, NULL, out);
        if (r->partition == NR_PARTITION_TENANT)
            print_indented(&nr_tenant_schema, &r->tenants, NULL, out);
        if (r->has_fleet) /* the Redis password is a credential ref: never its value */
            print_indented(&cf_fleet_schema, &r->fleet, NULL, out);
    }
    for (size_t i = 0; i < cfg->ngroups; i++) {
        const cf_group *g = &cfg->groups[i];
        fprintf(out, "\ngroup %s\n  members =", g->name ? g->name : "?");
        for (size_t k = 0; k < g->nmembers; k++)
            fprintf(out, "%s %s", k ? "," : "", g->members[k]);
        fprintf(out, "\n  max_quarantine_percent = %u\n", g->max_quarantine_percent);
    }
    for (size_t i = 0; i < cfg->nhooks; i++)
        cf_hook_print(&cfg->hooks[i], out);
}

static int by_position(const void *a, const void *b)
{
    const cf_issue *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return 0;
}

void cf_issues_sort(cf_issues *iss)
{
    /* insertion sort: stable, so equal positions keep the order they were found in */
    for (size_t i = 1; i < iss->n; i++) {
        cf_issue t = iss->v[i];
        size_t j = i;
        while (j > 0 && by_position(&iss->v[j - 1], &t) > 0) {
            iss->v[j] = iss->v[j - 1];
            j--;
        }
        iss->v[j] = t;
    }
}

void cf_issues_print(const cf_issues *iss, const char *file, FILE *out)
{
    for (size_t i = 0; i < iss->n; i++) {
        const cf_issue *it = &iss->v[i];
        if (it->line > 0)
            fprintf(out, "%s:%d:%d: ", file, it->line, it->col);
        else
            fprintf(out, "%s: ", file);
        fprintf(out, "%s: %s", it->path, it->rule);
        if (it->value[0])
            fprintf(out, " (got %s)", it->value);
        fputc('\n', out);
    }
}

void cf_issues_free(cf_issues *iss)
{
    for (size_t i = 0; i < iss->n; i++) {
        free(iss->v[i].path);
        free(iss->v[i].rule);
        free(iss->v[i].value);
    }
    free(iss->v);
    memset(iss, 0, sizeof(*iss));
}

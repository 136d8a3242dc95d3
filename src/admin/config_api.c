/*
 * config_api.c - nebula/config_file.h over the loader (cfg_internal.h).
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/abi.h"
#include "cfg_internal.h"
#include "config_loader.h"
#include "nebula/credential_sources.h"

struct nr_config_file {
    char *file;
    nr_health_stage_def stages[NR_RESOURCE_HEALTH_STAGES_MAX]; /* the load options' own, copied
                                                                   at this library's size */
    cf_config cfg;
    cf_issues iss;
    nr_config_problem *problems; /* views of iss */
    nr_credential_table *table;  /* the credentials section */
    nr_credential_provider creds;
};

void nr_config_load_options_default(nr_config_load_options *o)
{
    if (!o)
        return;
    nr_config_load_options d = NR_CONFIG_LOAD_OPTIONS(.check_credentials = true);
    nr__abi_default(o, &d, sizeof(d));
}

void nr_config_file_free(nr_config_file *cf)
{
    if (!cf)
        return;
    cf_config_free(&cf->cfg);
    cf_issues_free(&cf->iss);
    free(cf->problems);
    nr_credential_table_destroy(cf->table);
    free(cf->file);
    free(cf);
}

static int make_table(nr_config_file *cf, nr_error *err)
{
    nr_credential_source *src = calloc(cf->cfg.ncreds ? cf->cfg.ncreds : 1, sizeof(*src));
    if (!src)
        return nr_error_set(err, NR_ENOMEM, NULL, "config: out of memory");
    for (size_t i = 0; i < cf->cfg.ncreds; i++)
        src[i] = (nr_credential_source){.ref = cf->cfg.creds[i].ref,
                                        .env = cf->cfg.creds[i].env,
                                        .file = cf->cfg.creds[i].file};
    int rc = nr_credential_table_create(&cf->table, src, cf->cfg.ncreds, err);
    free(src);
    if (rc == NR_OK)
        cf->creds = nr_credential_table_provider(cf->table);
    return rc;
}

int nr_config_file_load(nr_config_file **out, const char *file, const nr_config_load_options *opts,
                        nr_error *err)
{
    *out = NULL;
    if (!file || !opts)
        return nr_error_set(err, NR_EINVAL, NULL, "config: no file or no load options");
    nr_config_load_options o;
    int rc = nr__abi_in(&o, sizeof(o), opts, "nr_config_load_options",
                        "NR_CONFIG_LOAD_OPTIONS_INIT", err);
    if (rc != NR_OK)
        return rc;
    opts = &o;
    if (!opts->drivers && opts->ndrivers)
        return nr_error_set(err, NR_EINVAL, NULL, "config: no file or no load options");
    if (opts->nhealth_stages > NR_RESOURCE_HEALTH_STAGES_MAX)
        return nr_error_set(err, NR_EINVAL, NULL, "config: %zu health stages given, at most %d",
                            opts->nhealth_stages, NR_RESOURCE_HEALTH_STAGES_MAX);
    if (!opts->health_stages && opts->nhealth_stages)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "config: health_stages is NULL but nhealth_stages is %zu",
                            opts->nhealth_stages);
    nr_health_stage_def stages[NR_RESOURCE_HEALTH_STAGES_MAX];
    rc = nr__abi_array_in(stages, sizeof(stages[0]), opts->health_stages,
                          opts->health_stages ? opts->nhealth_stages : 0, "health_stages",
                          "nr_health_stage_def", "NR_HEALTH_STAGE_DEF_INIT", err);
    if (rc != NR_OK) {
        nr_error_prefix(err, "config");
        return rc;
    }
    for (size_t k = 0; k < opts->nhealth_stages; k++)
        if (!stages[k].name)
            return nr_error_set(err, NR_EINVAL, NULL, "config: health_stages[%zu] has no name", k);
    nr_config_file *cf = calloc(1, sizeof(*cf));
    if (!cf || !(cf->file = strdup(file))) {
        free(cf);
        return nr_error_set(err, NR_ENOMEM, NULL, "config: out of memory");
    }
    memcpy(cf->stages, stages, opts->nhealth_stages * sizeof(stages[0]));
    o.health_stages = opts->nhealth_stages ? cf->stages : NULL;
    int bad = cf_config_load(file, opts, &cf->cfg, &cf->iss);
    cf->problems = calloc(cf->iss.n ? cf->iss.n : 1, sizeof(*cf->problems));
    if (!cf->problems) {
        nr_config_file_free(cf);
        return nr_error_set(err, NR_ENOMEM, NULL, "config: out of memory");
    }
    for (size_t i = 0; i < cf->iss.n; i++)
        cf->problems[i] = (nr_config_problem){.path = cf->iss.v[i].path,
                                              .rule = cf->iss.v[i].rule,
                                              .value = cf->iss.v[i].value,
                                              .line = cf->iss.v[i].line,
                                              .col = cf->iss.v[i].col};
    *out = cf;
    if (bad) {
        const cf_issue *first = &cf->iss.v[0];
        char where[32] = "";
        if (first->line > 0)
            snprintf(where, sizeof(where), ":%d:%d", first->line, first->col);
        return nr_error_set(err, NR_ECONFIG, NULL,
                            "%s: invalid: %zu problem%s; the first: %s%s: %s: %s", file, cf->iss.n,
                            cf->iss.n == 1 ? "" : "s", file, where, first->path, first->rule);
    }
    rc = make_table(cf, err);
    if (rc != NR_OK) {
        nr_config_file_free(cf);
        *out = NULL;
    }
    return rc;
}

size_t nr_config_file_problems(const nr_config_file *cf, const nr_config_problem **out)
{
    if (out)
        *out = cf ? cf->problems : NULL;
    return cf ? cf->iss.n : 0;
}

void nr_config_file_write_problems(const nr_config_file *cf, FILE *out)
{
    if (cf)
        cf_issues_print(&cf->iss, cf->file, out);
}

void nr_config_file_print(const nr_config_file *cf, FILE *out)
{
    cf_config_print(&cf->cfg, out);
}

nr_credential_provider nr_config_file_credentials(nr_config_file *cf)
{
    return cf->creds;
}

void nr_config_file_manager_options(nr_config_file *cf, nr_manager_options *out)
{
    *out = cf->cfg.manager;
    out->credentials = cf->table ? &cf->creds : NULL;
    out->events = NULL;
    out->metrics = NULL;
}

void nr_config_file_admin_options(nr_config_file *cf, nr_admin_options *out)
{
    out->listen = cf->cfg.listen;
    out->port = cf->cfg.port;
    if (cf->cfg.admin_token && cf->table) {
        out->token_ref = cf->cfg.admin_token;
        out->credentials = &cf->creds;
    }
}

void nr_config_file_shutdown_options(const nr_config_file *cf, nr_shutdown_options *out,
                                     int64_t *grace_ms)
{
    nr_shutdown_options_default(out);
    out->drain_timeout_ms = cf->cfg.drain_timeout_ms;
    out->cleanup_timeout_ms = cf->cfg.cleanup_timeout_ms;
    if (grace_ms)
        *grace_ms = cf->cfg.grace_ms;
}

size_t nr_config_file_resource_count(const nr_config_file *cf)
{
    return cf && !cf->iss.n ? cf->cfg.nres : 0;
}

int nr_config_file_resource(const nr_config_file *cf, size_t i, nr_resource_spec *spec,
                            const char **driver)
{
    if (i >= nr_config_file_resource_count(cf))
        return NR_EINVAL;
    const cf_resource *r = &cf->cfg.res[cf->cfg.order[i]];
    *spec = (nr_resource_spec)NR_RESOURCE_SPEC(
            .id = r->id, .type = r->driver->type, .type_ud = r->driver->type_ud,
            .config = r->config, .pool = &r->pool, .scope = &r->scope, .partition = r->partition,
            .depends_on = (const char *const *)r->deps, .ndepends = r->ndeps,
            .credential_ref = r->credential, .on_dependency_failure = r->dep_policy,
            .health = r->has_health ? &r->health : NULL, .health_stages = cf->cfg.stages,
            .nhealth_stages = cf->cfg.nstages, .autoscale = &r->autoscale,
            .tenants = r->partition == NR_PARTITION_TENANT ? &r->tenants : NULL);
    if (driver)
        *driver = r->driver_name;
    return NR_OK;
}

int nr_config_file_fleet(nr_config_file *cf, size_t i, nr_fleet_options *out)
{
    if (!out || i >= nr_config_file_resource_count(cf))
        return NR_EINVAL;
    const cf_resource *r = &cf->cfg.res[cf->cfg.order[i]];
    if (!r->has_fleet)
        return NR_ENOTFOUND;
    const fleet_cfg *f = &r->fleet;
    *out = (nr_fleet_options)NR_FLEET_OPTIONS(
            .resource = r->id, .prefix = f->prefix, .process_id = f->process_id,
            .budget = (uint32_t)f->budget, .min_per_process = (uint32_t)f->min_per_process,
            .redis_host = f->redis_host, .redis_port = (int)f->redis_port,
            .redis_socket = f->redis_socket, .redis_user = f->redis_user,
            .credential_ref = f->credential_ref,
            .credentials = f->credential_ref && cf->table ? &cf->creds : NULL,
            .lease_ttl_ms = f->lease_ttl_ms, .renew_interval_ms = f->renew_interval_ms,
            .release_after_ms = f->release_after_ms, .redis_timeout_ms = f->redis_timeout_ms,
            .on_redis_down = f->on_redis_down == 1 ? NR_FLEET_FAIL_OPEN : NR_FLEET_FAIL_CLOSED);
    return NR_OK;
}

size_t nr_config_file_group_count(const nr_config_file *cf)
{
    return cf && !cf->iss.n ? cf->cfg.ngroups : 0;
}

int nr_config_file_group(const nr_config_file *cf, size_t i, nr_group_spec *spec)
{
    if (i >= nr_config_file_group_count(cf))
        return NR_EINVAL;
    const cf_group *g = &cf->cfg.groups[i];
    nr_group_spec_default(spec);
    spec->name = g->name;
    spec->members = (const char *const *)g->members;
    spec->nmembers = g->nmembers;
    spec->max_quarantine_percent = g->max_quarantine_percent;
    return NR_OK;
}

size_t nr_config_file_hook_count(const nr_config_file *cf)
{
    return cf && !cf->iss.n ? cf->cfg.nhooks : 0;
}

int nr_config_file_hook(const nr_config_file *cf, size_t i, nr_config_hook *out)
{
    if (i >= nr_config_file_hook_count(cf) || !out)
        return NR_EINVAL;
    const cf_hook *h = &cf->cfg.hooks[i];
    memset(out, 0, sizeof(*out));
    out->type = (nr_config_hook_type)h->type;
    out->type_text = cf_hook_type_name(h->type);
    out->priority = h->priority;
    out->ops = h->ops;
    out->resource = h->resource;
    out->type_name = h->type_name;
    out->path = h->path;
    out->queue_lines = h->queue_lines;
    out->threshold_ms = h->threshold_ms;
    out->window_ms = h->window_ms;
    return NR_OK;
}

int nr_manager_load_config(nr_manager *m, const nr_config_file *cf, nr_error *err)
{
    if (!cf || cf->iss.n)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "config: the file was not loaded without problems");
    for (size_t i = 0; i < nr_config_file_resource_count(cf); i++) {
        nr_resource_spec spec = NR_RESOURCE_SPEC_INIT;
        nr_config_file_resource(cf, i, &spec, NULL);
        int rc = nr_manager_register(m, &spec, err);
        if (rc != NR_OK)
            return rc;
    }
    for (size_t i = 0; i < nr_config_file_group_count(cf); i++) {
        nr_group_spec spec = NR_GROUP_SPEC_INIT;
        nr_config_file_group(cf, i, &spec);
        int rc = nr_manager_register_group(m, &spec, err);
        if (rc != NR_OK)
            return rc;
    }
    return NR_OK;
}

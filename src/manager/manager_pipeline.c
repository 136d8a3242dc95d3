/*
 * manager_pipeline.c - each resource's health pipeline (docs/health.md):
 * checked and made at register, freed with the entry (nr__entry_free), run
 * by the health rounds (manager_health.c), read by nr_manager_health_stages.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "manager/manager_internal.h"
#include "nebula/alloc.h"

/* Check spec->health (NULL: the default) against the built-in stages and
 * the spec's own: NR_ECONFIG naming the resource, the field and the rule. */
int nr__health_spec_check(const nr_resource_spec *spec, nr_config_report *rep, nr_error *err)
{
    const char *id = spec->id;
    if (spec->nhealth_stages && !spec->health_stages)
        return nr_error_set(err, NR_EINVAL, id, "resource '%s': health_stages is NULL", id);
    if (spec->nhealth_stages > NR_RESOURCE_HEALTH_STAGES_MAX)
        return nr_error_set(err, NR_EINVAL, id, "resource '%s': at most %d health_stages (got %zu)",
                            id, NR_RESOURCE_HEALTH_STAGES_MAX, spec->nhealth_stages);
    if (!spec->health)
        return NR_OK;
    const char *names[NR_RESOURCE_HEALTH_STAGES_MAX];
    for (size_t i = 0; i < spec->nhealth_stages; i++)
        names[i] = spec->health_stages[i].name ? spec->health_stages[i].name : "";
    nr_config_report_clear(rep);
    if (nr_health_config_validate(spec->health, "$.health", names, spec->nhealth_stages, rep,
                                  NULL) != NR_OK)
        return nr_error_set(err, NR_ECONFIG, id, "resource '%s': %s: %s (got %s)", id,
                            rep->items[0].path, rep->items[0].rule, rep->items[0].value);
    return NR_OK;
}

typedef struct nr__old_pipeline {
    nr_health_pipeline *pl;
    struct nr__old_pipeline *next;
} nr__old_pipeline;

int nr__pipeline_make(const nr_resource_spec *spec, const nr__entry *e, nr_health_pipeline **out,
                      nr_error *err)
{
    nr_health_pipeline_options po = NR_HEALTH_PIPELINE_OPTIONS_INIT;
    nr_health_pipeline_options_default(&po);
    po.resource_id = e->id;
    po.custom = spec->health_stages;
    po.ncustom = spec->nhealth_stages;
    int rc = nr_health_pipeline_create(out, spec->health, &po, err);
    if (rc != NR_OK && err)
        snprintf(err->resource_id, sizeof(err->resource_id), "%s", e->id);
    return rc;
}

/* e's pipeline from spec->health (copied) and spec's own stages. */
int nr__entry_pipeline_make(const nr_resource_spec *spec, nr__entry *e, nr_error *err)
{
    return nr__pipeline_make(spec, e, &e->pipeline, err);
}

void nr__entry_stages_keep(nr__entry *e, const nr_resource_spec *spec)
{
    e->nhealth_stages = spec->nhealth_stages;
    for (size_t i = 0; i < spec->nhealth_stages && i < NR_RESOURCE_HEALTH_STAGES_MAX; i++) {
        const nr_health_stage_def *d = &spec->health_stages[i];
        snprintf(e->health_stages[i].name, sizeof(e->health_stages[i].name), "%s",
                 d->name ? d->name : "");
        e->health_stages[i].fn = d->fn;
        e->health_stages[i].ud = d->ud;
    }
}

bool nr__entry_stages_same(const nr__entry *e, const nr_resource_spec *spec)
{
    if (spec->nhealth_stages != e->nhealth_stages)
        return false;
    for (size_t i = 0; i < spec->nhealth_stages; i++) {
        const nr_health_stage_def *d = &spec->health_stages[i];
        if (strcmp(d->name ? d->name : "", e->health_stages[i].name) != 0 ||
            d->fn != e->health_stages[i].fn || d->ud != e->health_stages[i].ud)
            return false;
    }
    return true;
}

nr_health_pipeline *nr__entry_pipeline(nr__entry *e)
{
    pthread_mutex_lock(&e->mu);
    nr_health_pipeline *pl = e->pipeline;
    pthread_mutex_unlock(&e->mu);
    return pl;
}

void nr__entry_pipeline_swap_locked(nr__entry *e, nr_health_pipeline *pl)
{
    nr__old_pipeline *o = nr_malloc(sizeof(*o));
    if (!o) {
        /* no room to keep the old one: it stays, and the new one goes */
        (void)nr_health_pipeline_destroy(pl, NULL);
        return;
    }
    o->pl = e->pipeline;
    o->next = e->old_pipelines;
    e->old_pipelines = o;
    e->pipeline = pl;
}

void nr__entry_old_pipelines_free_locked(nr__entry *e)
{
    for (nr__old_pipeline *o = e->old_pipelines, *next; o; o = next) {
        next = o->next;
        (void)nr_health_pipeline_destroy(o->pl, NULL);
        nr_free(o);
    }
    e->old_pipelines = NULL;
}

int nr_manager_health_stages(nr_manager *m, const char *id, nr_health_round_result *out,
                             nr_error *err)
{
    if (!m || !id || !out)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_health_stages: arguments must not be NULL");
    nr__entry *e = nr__entry_find_ref(m, id, err);
    if (!e)
        return NR_ENOTFOUND;
    int rc = nr_health_pipeline_last(nr__entry_pipeline(e), out, err);
    nr__entry_put(e);
    return rc;
}

/*
 * manager_pipeline.c - each resource's health pipeline (docs/health.md):
 * checked and made at register, freed with the entry (nr__entry_free), run
 * by the health rounds (manager_health.c), read by nr_manager_health_stages.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "manager/manager_internal.h"

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

/* e's pipeline from spec->health (copied) and spec's own stages. */
int nr__entry_pipeline_make(const nr_resource_spec *spec, nr__entry *e, nr_error *err)
{
    nr_health_pipeline_options po = NR_HEALTH_PIPELINE_OPTIONS_INIT;
    nr_health_pipeline_options_default(&po);
    po.resource_id = e->id;
    po.custom = spec->health_stages;
    po.ncustom = spec->nhealth_stages;
    int rc = nr_health_pipeline_create(&e->pipeline, spec->health, &po, err);
    if (rc != NR_OK && err)
        snprintf(err->resource_id, sizeof(err->resource_id), "%s", e->id);
    return rc;
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
    int rc = nr_health_pipeline_last(e->pipeline, out, err);
    nr__entry_put(e);
    return rc;
}

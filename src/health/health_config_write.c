/*
 * health_config_write.c - a pipeline config as JSON text and as printed
 * lines: the stage list, then the section of each listed stage that has one.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include <jansson.h>
#include <string.h>

#include "base/config_internal.h"
#include "health/health_internal.h"
#include "nebula/alloc.h"

typedef struct section {
    const char *stage;
    const nr_config_schema *schema;
    size_t offset; /* of the section inside nr_health_config */
} section;

static const section sections[] = {
    {NR_HEALTH_STAGE_PERFORMANCE, &nr_health_performance_schema,
     offsetof(nr_health_config, performance)},
    {NR_HEALTH_STAGE_UTILIZATION, &nr_health_utilization_schema,
     offsetof(nr_health_config, utilization)},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

static const void *section_of(const nr_health_config *cfg, const section *s)
{
    return (const char *)cfg + s->offset;
}

static bool listed(const nr_health_config *cfg, const char *stage)
{
    for (size_t i = 0; i < cfg->nstages; i++)
        if (strncmp(cfg->stages[i], stage, NR_HEALTH_STAGE_NAME_MAX) == 0)
            return true;
    return false;
}

/* NR_OK when the list can be written: 1..MAX well-formed names. */
static int check_list(const nr_health_config *cfg, nr_error *err)
{
    if (cfg->nstages == 0 || cfg->nstages > NR_HEALTH_STAGES_MAX)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "health config: stages must hold between 1 and %d stages (holds %zu)",
                            NR_HEALTH_STAGES_MAX, cfg->nstages);
    for (size_t i = 0; i < cfg->nstages; i++) {
        size_t len = strnlen(cfg->stages[i], NR_HEALTH_STAGE_NAME_MAX);
        const char *rule = nr__health_name_rule(cfg->stages[i], len);
        if (rule)
            return nr_error_set(err, NR_EINVAL, NULL, "health config: stages[%zu] %s", i, rule);
    }
    return NR_OK;
}

/* The precision at which every double of the written sections reads back. */
static int real_precision(const nr_health_config *cfg)
{
    int p = 1;
    for (size_t k = 0; k < NSECTIONS; k++) {
        const nr_config_schema *sc = sections[k].schema;
        for (size_t i = 0; i < sc->nfields; i++) {
            const nr_field *f = &sc->fields[i];
            if (f->type != NR_FT_DOUBLE)
                continue;
            int q = nr__config_double_precision(
                *NR__CONFIG_CAT(section_of(cfg, &sections[k]), f, double));
            p = q > p ? q : p;
        }
    }
    return p;
}

static json_t *to_json(const nr_health_config *cfg, nr_error *err)
{
    json_t *obj = json_object(), *list = json_array();
    if (!obj || !list || json_object_set(obj, "stages", list) != 0)
        goto oom;
    for (size_t i = 0; i < cfg->nstages; i++)
        if (json_array_append_new(list, json_string(cfg->stages[i])) != 0)
            goto oom;
    for (size_t k = 0; k < NSECTIONS; k++) {
        if (!listed(cfg, sections[k].stage))
            continue;
        json_t *s = nr_config_to_json(sections[k].schema, section_of(cfg, &sections[k]),
                                      NR_CONFIG_SECRETS_OMIT, err);
        if (!s) {
            json_decref(list);
            json_decref(obj);
            return NULL;
        }
        if (json_object_set_new(obj, sections[k].stage, s) != 0)
            goto oom;
    }
    json_decref(list);
    return obj;
oom:
    json_decref(list);
    json_decref(obj);
    nr_error_set(err, NR_ENOMEM, NULL, "health config: out of memory");
    return NULL;
}

char *nr_health_config_serialize(const nr_health_config *cfg, nr_error *err)
{
    if (!cfg) {
        nr_error_set(err, NR_EINVAL, NULL, "health config: no struct");
        return NULL;
    }
    if (check_list(cfg, err) != NR_OK)
        return NULL;
    json_t *obj = to_json(cfg, err);
    if (!obj)
        return NULL;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                     JSON_REAL_PRECISION(real_precision(cfg)));
    json_decref(obj);
    char *out = NULL;
    if (text) {
        size_t len = strlen(text);
        if ((out = nr_malloc(len + 1)))
            memcpy(out, text, len + 1);
        json_free_t jfree;
        json_get_alloc_funcs(NULL, &jfree);
        jfree(text);
    }
    if (!out)
        nr_error_set(err, NR_ENOMEM, NULL, "health config: out of memory");
    return out;
}

void nr_health_config_print(const nr_health_config *cfg, FILE *out)
{
    if (!cfg || !out || cfg->nstages > NR_HEALTH_STAGES_MAX)
        return;
    fputs("health.stages = ", out);
    for (size_t i = 0; i < cfg->nstages; i++)
        fprintf(out, "%s%.*s", i ? ", " : "", NR_HEALTH_STAGE_NAME_MAX - 1, cfg->stages[i]);
    fputc('\n', out);
    for (size_t k = 0; k < NSECTIONS; k++)
        if (listed(cfg, sections[k].stage))
            nr_config_print(sections[k].schema, section_of(cfg, &sections[k]), out);
}

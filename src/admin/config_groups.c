/*
 * config_groups.c - the "groups" key of a config file: resource groups
 * (nr_manager_register_group), each with its name, members and
 * max_quarantine_percent. The plain keys go through their schema
 * (cf_group_schema); the members and what spans the file (member ids, names
 * that repeat or clash with a resource id) are checked here, every problem
 * an issue with its path, rule and value.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_loader.h"
#include "config_names.h"
#include "config_schema.h"

static const char *const group_extra[] = {"members", NULL};

static long resource_index(const cf_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->nres; i++)
        if (cfg->res[i].id && strcmp(cfg->res[i].id, id) == 0)
            return (long)i;
    return -1;
}

/* The resources' ids, each once, as a list for a hint and as text. */
typedef struct id_list {
    const char **v;
    size_t n;
    char text[400];
} id_list;

static void ids_make(cf_loader *ld, id_list *l)
{
    const cf_config *cfg = ld->cfg;
    l->v = calloc(cfg->nres + 1, sizeof(*l->v));
    l->n = 0;
    l->text[0] = '\0';
    if (!l->v) {
        ld->oom = true;
        return;
    }
    size_t used = 0;
    for (size_t i = 0; i < cfg->nres; i++) {
        const char *id = cfg->res[i].id;
        if (!id || resource_index(cfg, id) != (long)i)
            continue;
        l->v[l->n++] = id;
        if (used < sizeof(l->text)) {
            int w = snprintf(l->text + used, sizeof(l->text) - used, "%s%s", used ? ", " : "", id);
            used += w > 0 ? (size_t)w : 0;
        }
    }
}

static void load_members(cf_loader *ld, cf_group *g, const json_t *members, const char *prefix,
                         const id_list *ids)
{
    char path[300];
    snprintf(path, sizeof(path), "%s.members", prefix);
    if (!members) {
        cf_add_issue(ld, path, false, "", "is required (an array of resource ids)");
        return;
    }
    char v[100];
    cf_json_text(v, sizeof(v), members);
    if (!json_is_array(members)) {
        cf_add_issue(ld, path, false, v, "must be an array of resource ids");
        return;
    }
    size_t n = json_array_size(members);
    if (n < 1 || n > NR_GROUP_MEMBERS_MAX) {
        cf_add_issue(ld, path, false, v, "must hold between 1 and %d resource ids",
                     NR_GROUP_MEMBERS_MAX);
        return;
    }
    g->members = calloc(n, sizeof(char *));
    if (!g->members) {
        ld->oom = true;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        const json_t *m = json_array_get(members, k);
        char ipath[320];
        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, k);
        cf_json_text(v, sizeof(v), m);
        if (!json_is_string(m)) {
            cf_add_issue(ld, ipath, false, v, "must be a resource id (a string)");
            continue;
        }
        const char *id = json_string_value(m);
        long twice = -1;
        for (size_t j = 0; j < k && twice < 0; j++) {
            const json_t *o = json_array_get(members, j);
            if (json_is_string(o) && strcmp(json_string_value(o), id) == 0)
                twice = (long)j;
        }
        if (twice >= 0) {
            cf_add_issue(ld, ipath, false, v, "is listed twice (also members[%ld])", twice);
            continue;
        }
        if (resource_index(ld->cfg, id) < 0) {
            char mean[100] = "";
            if (ids->v)
                cf_hint(mean, sizeof(mean), id, ids->v, ids->n);
            cf_add_issue(ld, ipath, false, v, "unknown resource id%s (defined: %s)", mean,
                         ids->n ? ids->text : "none");
            continue;
        }
        if (!(g->members[g->nmembers] = strdup(id)))
            ld->oom = true;
        else
            g->nmembers++;
    }
}

/* The group's name: an id's characters, not repeated, not a resource's id. */
static void check_name(cf_loader *ld, size_t idx, const char *name, const char *prefix)
{
    const cf_config *cfg = ld->cfg;
    char path[300], v[100];
    snprintf(path, sizeof(path), "%s.name", prefix);
    snprintf(v, sizeof(v), "\"%.63s\"", name);
    if (!cf_id_ok(name)) {
        cf_add_issue(ld, path, false, v, "must hold only letters, digits and _-.:@");
        return;
    }
    for (size_t j = 0; j < idx; j++) {
        if (cfg->groups[j].name && strcmp(cfg->groups[j].name, name) == 0) {
            cf_add_issue(ld, path, false, v, "duplicate group name (first used by groups[%zu])", j);
            return;
        }
    }
    long r = resource_index(cfg, name);
    if (r >= 0)
        cf_add_issue(ld, path, false, v,
                     "is the id of resources[%ld]; a group needs a name of its own", r);
}

static void load_group(cf_loader *ld, size_t idx, const json_t *obj, const id_list *ids)
{
    cf_group *g = &ld->cfg->groups[idx];
    g->max_quarantine_percent = NR_GROUP_MAX_QUARANTINE_PERCENT_DEFAULT;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "$.groups[%zu]", idx);
    if (!json_is_object(obj)) {
        char v[64];
        cf_json_text(v, sizeof(v), obj);
        cf_add_issue(ld, prefix, false, v, "must be a group object");
        return;
    }
    json_t *scalars = json_deep_copy(obj);
    if (!scalars) {
        ld->oom = true;
        return;
    }
    json_object_del(scalars, "members");
    group_cfg gc;
    if (cf_section(ld, &cf_group_schema, scalars, prefix, &gc, group_extra))
        g->max_quarantine_percent = (uint32_t)gc.max_quarantine_percent;
    nr_config_free(&cf_group_schema, &gc);
    json_decref(scalars);
    const json_t *name = json_object_get(obj, "name");
    if (json_is_string(name) && json_string_length(name) >= 1 && json_string_length(name) <= 63 &&
        strlen(json_string_value(name)) == json_string_length(name)) {
        check_name(ld, idx, json_string_value(name), prefix);
        if (!(g->name = strdup(json_string_value(name))))
            ld->oom = true;
    }
    load_members(ld, g, json_object_get(obj, "members"), prefix, ids);
}

void cf_load_groups(cf_loader *ld, const json_t *obj)
{
    if (!obj)
        return;
    if (!json_is_array(obj)) {
        char v[64];
        cf_json_text(v, sizeof(v), obj);
        cf_add_issue(ld, "$.groups", false, v, "must be an array of groups");
        return;
    }
    size_t n = json_array_size(obj);
    ld->cfg->groups = calloc(n ? n : 1, sizeof(cf_group));
    if (!ld->cfg->groups) {
        ld->oom = true;
        return;
    }
    ld->cfg->ngroups = n;
    id_list ids;
    ids_make(ld, &ids);
    for (size_t i = 0; i < n; i++)
        load_group(ld, i, json_array_get(obj, i), &ids);
    free(ids.v);
}

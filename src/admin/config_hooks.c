/*
 * config_hooks.c - the "hooks" key of a config file: the built-in hooks
 * (nebula/hooks_builtin.h) a program adds to its manager's registry, each
 * with its type, its own keys and the keys every hook has (priority, ops,
 * resource, type_name). The loader only parses and checks: the program
 * builds the hooks (nebula-resource run: tools/nebula-resource/app.c).
 *
 * Each type has a schema of its own, the common keys included, so a key of
 * another type is an unknown key with a did-you-mean among this type's.
 * "type" and "ops" are checked here; so are what spans the file: a resource
 * filter naming no resource, a type filter naming no driver.
 */
#define _DEFAULT_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_loader.h"
#include "config_names.h"
#include "nebula/hooks.h"

typedef struct hook_cfg {
    int64_t priority;
    char *resource;
    char *type_name;
    char *path;
    int64_t queue_lines;
    int64_t threshold_ms;
    int64_t window_ms;
} hook_cfg;

#define HOOK_COMMON_FIELDS                                                                         \
    {.name = "priority",                                                                           \
     .type = NR_FT_INT,                                                                            \
     .offset = offsetof(hook_cfg, priority),                                                       \
     .min = INT32_MIN,                                                                             \
     .max = INT32_MAX,                                                                             \
     .def_int = 0,                                                                                 \
     .doc = "lower runs first; equal: file order"},                                                \
        {.name = "resource",                                                                       \
         .type = NR_FT_STRING,                                                                     \
         .offset = offsetof(hook_cfg, resource),                                                   \
         .min = 1,                                                                                 \
         .max = 63,                                                                                \
         .doc = "only this resource, or (ending in '*') the ids that start so"},                   \
    {                                                                                              \
        .name = "type_name", .type = NR_FT_STRING, .offset = offsetof(hook_cfg, type_name),        \
        .min = 1, .max = 63, .doc = "only resources of this driver"                                \
    }

static const nr_field audit_fields[] = {
    HOOK_COMMON_FIELDS,
    {.name = "path",
     .type = NR_FT_STRING,
     .offset = offsetof(hook_cfg, path),
     .required = true,
     .min = 1,
     .max = 4096,
     .doc = "the file the lines are appended to (created 0600)"},
    {.name = "queue_lines",
     .type = NR_FT_INT,
     .offset = offsetof(hook_cfg, queue_lines),
     .min = 1,
     .max = 1048576,
     .def_int = 4096,
     .doc = "lines queued at most; more are dropped and counted"},
};

static const nr_field metrics_fields[] = {HOOK_COMMON_FIELDS};

static const nr_field slow_fields[] = {
    HOOK_COMMON_FIELDS,
    {.name = "threshold_ms",
     .type = NR_FT_INT,
     .offset = offsetof(hook_cfg, threshold_ms),
     .min = 1,
     .max = 86400000,
     .def_int = 100,
     .doc = "an acquire that waited longer is reported"},
};

static const nr_field cred_fields[] = {
    HOOK_COMMON_FIELDS,
    {.name = "window_ms",
     .type = NR_FT_INT,
     .offset = offsetof(hook_cfg, window_ms),
     .min = 0,
     .max = 86400000,
     .def_int = 60000,
     .doc = "refresh a credential that expires within this time"},
};

#define SCHEMA(n, f)                                                                               \
    {                                                                                              \
        .name = n, .struct_size = sizeof(hook_cfg), .fields = f,                                   \
        .nfields = sizeof(f) / sizeof(f[0])                                                        \
    }

/* Indexed by nr_config_hook_type - 1. */
static const struct hook_kind {
    const char *name;
    nr_config_schema schema;
    uint32_t ops; /* the operations the built-in sees */
} kinds[] = {
    {"audit", SCHEMA("audit hook", audit_fields), NR_HOOK_OPS_ALL},
    {"metrics", SCHEMA("metrics hook", metrics_fields), NR_HOOK_OPS_ALL},
    {"slow_acquire", SCHEMA("slow_acquire hook", slow_fields), NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE)},
    {"credential_refresh", SCHEMA("credential_refresh hook", cred_fields),
     NR_HOOK_OP_BIT(NR_HOOK_CREATE)},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static const char *const kind_names[] = {"audit", "metrics", "slow_acquire", "credential_refresh",
                                         NULL};
static const char *const hook_extra[] = {"type", "ops", NULL};

const char *cf_hook_type_name(int type)
{
    return type >= 1 && (size_t)type <= NKINDS ? kinds[type - 1].name : "unknown";
}

/* ---- type -------------------------------------------------------------------------------- */

static int load_type(cf_loader *ld, const json_t *obj, const char *prefix)
{
    char path[300], v[100];
    snprintf(path, sizeof(path), "%s.type", prefix);
    const json_t *t = json_object_get(obj, "type");
    if (!t) {
        cf_add_issue(ld, path, false, "",
                     "is required (one of audit, metrics, slow_acquire, credential_refresh)");
        return 0;
    }
    cf_json_text(v, sizeof(v), t);
    if (!json_is_string(t)) {
        cf_add_issue(ld, path, false, v,
                     "must be a string: audit, metrics, slow_acquire or credential_refresh");
        return 0;
    }
    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(json_string_value(t), kinds[i].name) == 0)
            return (int)i + 1;
    char mean[100];
    cf_hint(mean, sizeof(mean), json_string_value(t), kind_names, NKINDS);
    cf_add_issue(ld, path, false, v,
                 "unknown hook type%s (known: audit, metrics, slow_acquire, credential_refresh)",
                 mean);
    return 0;
}

/* ---- ops ---------------------------------------------------------------------------------- */

static int op_of(const char *name)
{
    for (int op = 0; op < NR_HOOK_OP_COUNT; op++)
        if (strcmp(nr_hook_op_name((nr_hook_op)op), name) == 0)
            return op;
    return -1;
}

/* "create, acquire" of the ops in mask. */
static void ops_text(char *buf, size_t len, uint32_t mask)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int op = 0; op < NR_HOOK_OP_COUNT && used < len; op++) {
        if (!(mask & NR_HOOK_OP_BIT(op)))
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                         nr_hook_op_name((nr_hook_op)op));
        used += w > 0 ? (size_t)w : 0;
    }
}

static uint32_t load_ops(cf_loader *ld, const json_t *ops, const char *prefix, int type)
{
    char path[96], v[100], known[200];
    snprintf(path, sizeof(path), "%s.ops", prefix);
    uint32_t allowed = type ? kinds[type - 1].ops : NR_HOOK_OPS_ALL;
    ops_text(known, sizeof(known), allowed);
    cf_json_text(v, sizeof(v), ops);
    if (!json_is_array(ops) || json_array_size(ops) == 0) {
        cf_add_issue(ld, path, false, v, "must be a non-empty array of operation names (%s)",
                     known);
        return 0;
    }
    const char *names[NR_HOOK_OP_COUNT];
    for (int op = 0; op < NR_HOOK_OP_COUNT; op++)
        names[op] = nr_hook_op_name((nr_hook_op)op);
    uint32_t mask = 0;
    for (size_t k = 0; k < json_array_size(ops); k++) {
        const json_t *o = json_array_get(ops, k);
        char ipath[128];
        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, k);
        cf_json_text(v, sizeof(v), o);
        if (!json_is_string(o)) {
            cf_add_issue(ld, ipath, false, v, "must be an operation name (a string)");
            continue;
        }
        int op = op_of(json_string_value(o));
        if (op < 0) {
            char mean[100];
            cf_hint(mean, sizeof(mean), json_string_value(o), names, NR_HOOK_OP_COUNT);
            cf_add_issue(ld, ipath, false, v, "unknown operation%s (known: %s)", mean, known);
        } else if (!(allowed & NR_HOOK_OP_BIT(op))) {
            cf_add_issue(ld, ipath, false, v, "a %s hook sees only %s", kinds[type - 1].name,
                         known);
        } else if (mask & NR_HOOK_OP_BIT(op)) {
            cf_add_issue(ld, ipath, false, v, "is listed twice");
        } else {
            mask |= NR_HOOK_OP_BIT(op);
        }
    }
    return mask;
}

/* ---- filters ------------------------------------------------------------------------------ */

/* The resource filter: an id, or the start of ids followed by one '*' at the
 * end; it must match a resource of the file. */
static void check_resource(cf_loader *ld, const char *filter, const char *prefix)
{
    char path[300], v[100], base[64];
    snprintf(path, sizeof(path), "%s.resource", prefix);
    snprintf(v, sizeof(v), "\"%.63s\"", filter);
    size_t n = strlen(filter);
    bool star = n > 0 && filter[n - 1] == '*';
    snprintf(base, sizeof(base), "%.*s", (int)(star ? n - 1 : n), filter);
    if (!cf_id_ok(base)) {
        cf_add_issue(ld, path, false, v,
                     "must be a resource id, or the start of ids followed by '*' (letters, "
                     "digits and _-.:@)");
        return;
    }
    const cf_config *cfg = ld->cfg;
    const char **ids = calloc(cfg->nres + 1, sizeof(*ids));
    if (!ids) {
        ld->oom = true;
        return;
    }
    size_t nids = 0;
    for (size_t i = 0; i < cfg->nres; i++) {
        const char *id = cfg->res[i].id;
        if (!id)
            continue;
        if (star ? strncmp(id, base, strlen(base)) == 0 : strcmp(id, base) == 0) {
            free(ids);
            return;
        }
        ids[nids++] = id;
    }
    char mean[100] = "";
    if (!star)
        cf_hint(mean, sizeof(mean), filter, ids, nids);
    cf_add_issue(ld, path, false, v, "%s%s",
                 star ? "matches no resource of this file" : "names no resource of this file",
                 mean);
    free(ids);
}

/* The type filter: the name of a driver this program knows. */
static void check_type_name(cf_loader *ld, const char *name, const char *prefix)
{
    char path[300], v[100];
    snprintf(path, sizeof(path), "%s.type_name", prefix);
    snprintf(v, sizeof(v), "\"%.63s\"", name);
    const char **names = calloc(ld->ndrivers + 1, sizeof(*names));
    if (!names) {
        ld->oom = true;
        return;
    }
    char known[300] = "";
    size_t used = 0;
    for (size_t i = 0; i < ld->ndrivers; i++) {
        names[i] = ld->drivers[i].name;
        if (strcmp(names[i], name) == 0) {
            free(names);
            return;
        }
        if (used < sizeof(known)) {
            int w =
                snprintf(known + used, sizeof(known) - used, "%s%s", used ? ", " : "", names[i]);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    char mean[100];
    cf_hint(mean, sizeof(mean), name, names, ld->ndrivers);
    cf_add_issue(ld, path, false, v, "unknown driver%s (known: %s)", mean, known);
    free(names);
}

/* ---- printing ----------------------------------------------------------------------------- */

void cf_hook_print(const cf_hook *h, FILE *out)
{
    char ops[200];
    uint32_t mask = h->ops ? h->ops : (h->type ? kinds[h->type - 1].ops : 0);
    ops_text(ops, sizeof(ops), mask);
    fprintf(out, "\nhook %s\n  priority = %d\n  ops = %s\n", cf_hook_type_name(h->type),
            (int)h->priority, ops);
    fprintf(out, "  resource = %s\n  type_name = %s\n", h->resource ? h->resource : "(any)",
            h->type_name ? h->type_name : "(any)");
    switch (h->type) {
    case NR_CONFIG_HOOK_AUDIT:
        fprintf(out, "  path = \"%s\"\n  queue_lines = %zu\n", h->path ? h->path : "",
                h->queue_lines);
        break;
    case NR_CONFIG_HOOK_SLOW_ACQUIRE:
        fprintf(out, "  threshold_ms = %lld\n", (long long)h->threshold_ms);
        break;
    case NR_CONFIG_HOOK_CREDENTIAL_REFRESH:
        fprintf(out, "  window_ms = %lld\n", (long long)h->window_ms);
        break;
    default:
        break;
    }
}

/* ---- one hook, all hooks ------------------------------------------------------------------ */

/* A copy of the schema's string (which nr_config_free frees), or NULL. */
static char *take(cf_loader *ld, const char *s)
{
    if (!s)
        return NULL;
    char *t = strdup(s);
    if (!t)
        ld->oom = true;
    return t;
}

static void load_hook(cf_loader *ld, size_t idx, const json_t *obj)
{
    cf_hook *h = &ld->cfg->hooks[idx];
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "$.hooks[%zu]", idx);
    if (!json_is_object(obj)) {
        char v[64];
        cf_json_text(v, sizeof(v), obj);
        cf_add_issue(ld, prefix, false, v, "must be a hook object");
        return;
    }
    h->type = load_type(ld, obj, prefix);
    const json_t *ops = json_object_get(obj, "ops");
    if (ops)
        h->ops = load_ops(ld, ops, prefix, h->type);
    if (!h->type)
        return; /* its keys depend on its type */
    json_t *scalars = json_deep_copy(obj);
    if (!scalars) {
        ld->oom = true;
        return;
    }
    json_object_del(scalars, "type");
    json_object_del(scalars, "ops");
    hook_cfg hc;
    memset(&hc, 0, sizeof(hc));
    const struct hook_kind *k = &kinds[h->type - 1];
    bool ok = cf_section(ld, &k->schema, scalars, prefix, &hc, hook_extra);
    /* the filters that passed their schema are checked against the file
     * also when another key broke a rule */
    if (hc.resource)
        check_resource(ld, hc.resource, prefix);
    if (hc.type_name)
        check_type_name(ld, hc.type_name, prefix);
    if (ok) {
        h->priority = (int32_t)hc.priority;
        h->queue_lines = (size_t)hc.queue_lines;
        h->threshold_ms = hc.threshold_ms;
        h->window_ms = hc.window_ms;
        h->resource = take(ld, hc.resource);
        h->type_name = take(ld, hc.type_name);
        h->path = take(ld, hc.path);
    }
    nr_config_free(&k->schema, &hc);
    json_decref(scalars);
}

void cf_load_hooks(cf_loader *ld, const json_t *obj)
{
    if (!obj)
        return;
    if (!json_is_array(obj)) {
        char v[64];
        cf_json_text(v, sizeof(v), obj);
        cf_add_issue(ld, "$.hooks", false, v, "must be an array of hooks");
        return;
    }
    size_t n = json_array_size(obj);
    ld->cfg->hooks = calloc(n ? n : 1, sizeof(cf_hook));
    if (!ld->cfg->hooks) {
        ld->oom = true;
        return;
    }
    ld->cfg->nhooks = n;
    for (size_t i = 0; i < n; i++)
        load_hook(ld, i, json_array_get(obj, i));
}

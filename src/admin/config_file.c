/*
 * config_file.c - load and check a nebula-resource config file.
 *
 * Every section is described by a config schema (nebula/config.h), so its
 * rules and messages are the library's own: the manager, http and shutdown
 * sections and each credential by the schemas below, each resource's pool
 * by nr_pool_config_schema and its "config" by the driver's schema. What
 * spans sections (ids, drivers, dependencies, credential refs, scopes) is
 * checked here. Nothing stops at the first problem: every one is collected,
 * and json_pos gives each its line and column.
 */
#define _DEFAULT_SOURCE
#include "cfg_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_loader.h"
#include "config_names.h"
#include "config_read.h"
#include "config_schema.h"
#include "json_pos.h"
#include "nebula/alloc.h"
#include "nebula/config.h"
#include "nebula/health_pipeline.h"

static const char *const top_keys[] = {"manager",   "http",   "shutdown", "credentials",
                                       "resources", "groups", "hooks",    NULL};

/* ---- issues ---------------------------------------------------------------- */

typedef cf_loader loader;

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A number as the file writes it (jansson's double prints 1.0 as 1): the
 * text of the value at p when value is a number and so is that text. */
static bool as_written(const loader *ld, const cf_pos_entry *p, const char *value, char *out,
                       size_t cap)
{
    bool number = value[0] == '-' || (value[0] >= '0' && value[0] <= '9');
    const char *t = ld->text ? ld->text + p->start : NULL;
    size_t n = p->end - p->start;
    if (!number || !t || n == 0 || !(t[0] == '-' || (t[0] >= '0' && t[0] <= '9')))
        return false;
    if (n >= cap && cap > 4) {
        memcpy(out, t, cap - 4);
        memcpy(out + cap - 4, "...", 4);
    } else {
        memcpy(out, t, n);
        out[n] = '\0';
    }
    return true;
}

/* Add an issue at JSON path raw ("$..." form). at_key: point at the key of
 * the member rather than its value. */
void cf_add_issue(loader *ld, const char *raw, bool at_key, const char *value, const char *fmt, ...)
{
    cf_issues *iss = ld->iss;
    if (iss->n == iss->cap) {
        size_t cap = iss->cap ? iss->cap * 2 : 16;
        cf_issue *v = realloc(iss->v, cap * sizeof(*v));
        if (!v) {
            ld->oom = true;
            return;
        }
        iss->v = v;
        iss->cap = cap;
    }
    const cf_pos_entry *p = cf_pos_find(&ld->pos, raw);
    bool exact = p && strcmp(p->path, raw) == 0;
    char written[100];
    if (exact && as_written(ld, p, value, written, sizeof(written)))
        value = written;
    char rule[1400]; /* a known-field list of up to 1024 bytes, and the rest */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof(rule), fmt, ap);
    va_end(ap);
    const char *disp = raw;
    if (disp[0] == '$' && disp[1] == '.')
        disp += 2;
    else if (disp[0] == '$' && disp[1] == '[')
        disp += 1;
    cf_issue *i = &iss->v[iss->n];
    *i = (cf_issue){.path = xstrdup(disp), .rule = xstrdup(rule), .value = xstrdup(value)};
    if (!i->path || !i->rule || !i->value) {
        free(i->path);
        free(i->rule);
        free(i->value);
        ld->oom = true;
        return;
    }
    if (p) {
        i->line = exact && at_key ? p->kline : p->line;
        i->col = exact && at_key ? p->kcol : p->col;
    }
    iss->n++;
}

/* Move a library report on obj into the issue list. An unknown field gets
 * the closest known one (among the extra keys too) and the list of known
 * ones; a section of more than NR_CONFIG_MAX_ISSUES problems says how many
 * were left out. */
static void take_report(loader *ld, const nr_config_report *r, const json_t *obj,
                        const nr_config_schema *s, const char *const *extra, const char *prefix)
{
    for (size_t k = 0; k < r->count; k++) {
        const nr_config_issue *it = &r->items[k];
        if (strncmp(it->rule, "unknown field", 13) == 0) {
            char known[1024], mean[200];
            cf_field_list(known, sizeof(known), s, extra);
            if (cf_key_hint(mean, sizeof(mean), obj, prefix, it->path, s, extra))
                cf_add_issue(ld, it->path, true, "", "unknown field%s (known: %s)", mean, known);
            else
                cf_add_issue(ld, it->path, true, "", "%s (known: %s)", it->rule, known);
        } else {
            cf_add_issue(ld, it->path, false, it->value, "%s", it->rule);
        }
    }
    if (r->dropped)
        cf_add_issue(ld, prefix, false, "", "%zu more problems in this section not shown",
                     r->dropped);
}

/* Parse section obj (NULL: absent, defaults) with schema s under prefix. */
bool cf_section(loader *ld, const nr_config_schema *s, const json_t *obj, const char *prefix,
                void *out, const char *const *extra)
{
    json_t *empty = NULL;
    if (!obj)
        obj = empty = json_object();
    nr_config_report rep;
    nr_error err = {0};
    int rc = nr_config_from_json(s, obj, prefix, out, &rep, &err);
    if (rc == NR_ENOMEM || rc == NR_EINVAL) {
        json_decref(empty);
        ld->oom = rc == NR_ENOMEM;
        cf_add_issue(ld, prefix, false, "", "%s", err.message);
        return false;
    }
    take_report(ld, &rep, obj, s, extra, prefix);
    json_decref(empty);
    return rc == NR_OK;
}

/* ---- sections --------------------------------------------------------------- */

static void load_manager(loader *ld, const json_t *obj)
{
    mgr_cfg m;
    nr_manager_options_default(&ld->cfg->manager);
    if (cf_section(ld, &cf_mgr_schema, obj, "$.manager", &m, NULL)) {
        nr_manager_options *o = &ld->cfg->manager;
        o->workers = (uint32_t)m.workers;
        o->maintain_interval_ms = m.maintain_interval_ms;
        o->health_interval_ms = m.health_interval_ms;
        o->health_timeout_ms = m.health_timeout_ms;
        o->failure_threshold = (uint32_t)m.failure_threshold;
        o->recovery_threshold = (uint32_t)m.recovery_threshold;
        o->quarantine_after = (uint32_t)m.quarantine_after;
        o->quarantine_base_ms = m.quarantine_base_ms;
        o->quarantine_factor = m.quarantine_factor;
        o->quarantine_max_ms = m.quarantine_max_ms;
        o->quarantine_jitter = m.quarantine_jitter;
        o->quarantine_max_attempts = (uint32_t)m.quarantine_max_attempts;
        o->quarantine_trials = (uint32_t)m.quarantine_trials;
        if (o->quarantine_after && o->quarantine_max_ms < o->quarantine_base_ms)
            cf_add_issue(ld, "$.manager.quarantine_max_ms", false, "",
                         "must be at least quarantine_base_ms (%lld)",
                         (long long)o->quarantine_base_ms);
    }
    nr_config_free(&cf_mgr_schema, &m);
}

/* An issue at path unless ref is a credential of the file. */
static void check_ref(loader *ld, const char *path, const char *ref, const json_t *value)
{
    if (cf_config_credential(ld->cfg, ref))
        return;
    char val[100];
    cf_json_text(val, sizeof(val), value);
    char list[300] = "", mean[200] = "";
    size_t used = 0;
    const char **refs = calloc(ld->cfg->ncreds + 1, sizeof(*refs));
    if (!refs)
        ld->oom = true;
    for (size_t k = 0; k < ld->cfg->ncreds; k++) {
        if (refs)
            refs[k] = ld->cfg->creds[k].ref;
        if (used >= sizeof(list))
            continue;
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "",
                         ld->cfg->creds[k].ref);
        used += w > 0 ? (size_t)w : 0;
    }
    if (refs)
        cf_hint(mean, sizeof(mean), ref, refs, ld->cfg->ncreds);
    free(refs);
    cf_add_issue(ld, path, false, val, "unknown credential ref%s (defined: %s)", mean,
                 ld->cfg->ncreds ? list : "none");
}

static void load_http(loader *ld, const json_t *obj)
{
    http_cfg h;
    if (cf_section(ld, &cf_http_schema, obj, "$.http", &h, NULL)) {
        free(ld->cfg->listen);
        ld->cfg->listen = xstrdup(h.listen);
        ld->cfg->port = (int)h.port;
        ld->cfg->admin_token = xstrdup(h.admin_token);
    }
    nr_config_free(&cf_http_schema, &h);
}

static void load_shutdown(loader *ld, const json_t *obj)
{
    shutdown_cfg s;
    if (cf_section(ld, &cf_shutdown_schema, obj, "$.shutdown", &s, NULL)) {
        ld->cfg->grace_ms = s.grace_ms;
        ld->cfg->drain_timeout_ms = s.drain_timeout_ms;
        ld->cfg->cleanup_timeout_ms = s.cleanup_timeout_ms;
    }
    nr_config_free(&cf_shutdown_schema, &s);
}

static void load_credentials(loader *ld, const json_t *obj, bool check_secrets)
{
    if (!obj)
        return;
    if (!json_is_object(obj)) {
        char v[64];
        cf_json_text(v, sizeof(v), obj);
        cf_add_issue(ld, "$.credentials", false, v, "must be an object of credential refs");
        return;
    }
    size_t n = json_object_size(obj);
    ld->cfg->creds = calloc(n ? n : 1, sizeof(cf_credential));
    if (!ld->cfg->creds) {
        ld->oom = true;
        return;
    }
    const char *ref;
    json_t *v;
    json_object_foreach((json_t *)obj, ref, v)
    {
        char path[512];
        cf_member_path(path, sizeof(path), "$.credentials", ref);
        if (!cf_ref_ok(ref))
            cf_add_issue(ld, path, true, "",
                         "credential ref must be 1 to 127 letters, digits or _-.:@/");
        cred_cfg c;
        cf_credential *cc = &ld->cfg->creds[ld->cfg->ncreds++];
        if (!(cc->ref = xstrdup(ref)))
            ld->oom = true;
        if (cf_section(ld, &cf_cred_schema, v, path, &c, NULL)) {
            char fpath[600];
            if (check_secrets && c.env && !getenv(c.env)) {
                snprintf(fpath, sizeof(fpath), "%s.env", path);
                cf_add_issue(ld, fpath, false, "", "environment variable %s is not set", c.env);
            } else if (check_secrets && c.file && access(c.file, R_OK) != 0) {
                snprintf(fpath, sizeof(fpath), "%s.file", path);
                cf_add_issue(ld, fpath, false, "", "cannot read %s: %s", c.file, strerror(errno));
            }
            cc->env = xstrdup(c.env);
            cc->file = xstrdup(c.file);
            if ((c.env && !cc->env) || (c.file && !cc->file))
                ld->oom = true;
        }
        nr_config_free(&cf_cred_schema, &c);
    }
}

static void load_deps(loader *ld, cf_resource *r, const json_t *deps, const char *prefix)
{
    char path[256];
    snprintf(path, sizeof(path), "%s.depends_on", prefix);
    if (!deps)
        return;
    if (!json_is_array(deps)) {
        char v[64];
        cf_json_text(v, sizeof(v), deps);
        cf_add_issue(ld, path, false, v, "must be an array of resource ids");
        return;
    }
    size_t n = json_array_size(deps);
    r->deps = calloc(n ? n : 1, sizeof(char *));
    if (!r->deps) {
        ld->oom = true;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        const json_t *d = json_array_get(deps, k);
        char ipath[300], v[64];
        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, k);
        cf_json_text(v, sizeof(v), d);
        if (!json_is_string(d)) {
            cf_add_issue(ld, ipath, false, v, "must be a resource id (a string)");
            continue;
        }
        const char *s = json_string_value(d);
        bool dup = false;
        for (size_t j = 0; j < r->ndeps; j++)
            dup = dup || strcmp(r->deps[j], s) == 0;
        if (dup) {
            cf_add_issue(ld, ipath, false, v, "is listed twice");
            continue;
        }
        if (!(r->deps[r->ndeps] = xstrdup(s)))
            ld->oom = true;
        else
            r->ndeps++;
    }
}

/* The string value of key when it is one of 1..max bytes without NUL, else NULL. */
static const char *scalar(const json_t *obj, const char *key, size_t max)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    return n >= 1 && n <= max && strlen(s) == n ? s : NULL;
}

static const char *const res_extra[] = {"config",    "pool",    "depends_on", "health",
                                        "autoscale", "tenants", "fleet",      NULL};

/* A resource's "health" section, by the pipeline's own reader: each issue
 * keeps its path (under prefix), so json_pos locates it like the others. */
static void load_health(loader *ld, cf_resource *r, const json_t *obj, const char *prefix)
{
    nr_health_config_default(&r->health);
    if (!obj)
        return;
    char path[300];
    snprintf(path, sizeof(path), "%s.health", prefix);
    if (!json_is_object(obj)) {
        char v[64];
        cf_json_text(v, sizeof(v), obj);
        cf_add_issue(ld, path, false, v, "must be an object (the health pipeline's section)");
        return;
    }
    nr_config_report rep;
    nr_error err = {0};
    int rc = nr_health_config_from_json(obj, path, ld->stages, ld->nstages, &r->health, &rep, &err);
    if (rc == NR_ENOMEM || rc == NR_EINVAL) {
        ld->oom = rc == NR_ENOMEM;
        cf_add_issue(ld, path, false, "", "%s", err.message);
        return;
    }
    for (size_t k = 0; k < rep.count; k++) {
        const nr_config_issue *it = &rep.items[k];
        cf_add_issue(ld, it->path, strncmp(it->rule, "unknown field", 13) == 0, it->value, "%s",
                     it->rule);
    }
    if (rep.dropped)
        cf_add_issue(ld, path, false, "", "%zu more problems in this section not shown",
                     rep.dropped);
    r->has_health = rc == NR_OK;
}

/* A resource's "fleet" section (a budget shared by a fleet of processes,
 * nebula/fleet.h): its schema, its credential ref, and no tenant partition
 * (the manager refuses a budget on one). */
static void load_fleet(loader *ld, cf_resource *r, const json_t *obj, const char *prefix)
{
    if (!obj)
        return;
    char path[300];
    snprintf(path, sizeof(path), "%s.fleet", prefix);
    if (!json_is_object(obj)) {
        char v[64];
        cf_json_text(v, sizeof(v), obj);
        cf_add_issue(ld, path, false, v, "must be an object (the resource's fleet budget)");
        return;
    }
    fleet_cfg f;
    if (cf_section(ld, &cf_fleet_schema, obj, path, &f, NULL)) {
        r->fleet = f;
        r->has_fleet = true;
    } else {
        nr_config_free(&cf_fleet_schema, &f);
    }
    const char *ref = scalar(obj, "credential_ref", 127); /* also when another field failed */
    if (ref) {
        char cpath[320];
        snprintf(cpath, sizeof(cpath), "%s.credential_ref", path);
        check_ref(ld, cpath, ref, json_object_get(obj, "credential_ref"));
    }
    if (r->partition == NR_PARTITION_TENANT)
        cf_add_issue(ld, path, false, "{...}",
                     "a tenant-partitioned resource cannot have a fleet budget (one budget "
                     "cannot bound a pool per tenant; use a resource without \"partition\")");
}

static void load_resource(loader *ld, size_t idx, const json_t *obj)
{
    cf_resource *r = &ld->cfg->res[idx];
    nr_pool_config_default(&r->pool);
    nr_health_config_default(&r->health);
    nr_scope_global(&r->scope);
    snprintf(r->scope_text, sizeof(r->scope_text), "global");
    r->level = -1;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "$.resources[%zu]", idx);
    if (!json_is_object(obj)) {
        char v[64];
        cf_json_text(v, sizeof(v), obj);
        cf_add_issue(ld, prefix, false, v, "must be a resource object");
        return;
    }
    /* the scalar keys through their schema; the others by hand */
    json_t *scalars = json_object();
    if (!scalars) {
        ld->oom = true;
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (strcmp(key, "config") && strcmp(key, "pool") && strcmp(key, "depends_on") &&
            strcmp(key, "health") && strcmp(key, "autoscale") && strcmp(key, "tenants") &&
            strcmp(key, "fleet"))
            json_object_set(scalars, key, v);
    }
    res_cfg rcfg;
    char path[300];
    if (cf_section(ld, &cf_res_schema, scalars, prefix, &rcfg, res_extra))
        r->dep_policy = rcfg.on_dependency_failure == 1 ? NR_DEP_FAIL : NR_DEP_SERVE;
    nr_config_free(&cf_res_schema, &rcfg);
    json_decref(scalars);
    /* A failed section is left at its defaults: take each key that passed its
     * own rule from the JSON (the schema has reported the others). */
    const char *id = scalar(obj, "id", 63);
    const char *driver = scalar(obj, "driver", 63);
    const char *scope = scalar(obj, "scope", NR_SCOPE_TEXT_MAX - 1);
    const char *cred = scalar(obj, "credential", 255);
    const char *part = scalar(obj, "partition", 16);
    if (id) {
        snprintf(path, sizeof(path), "%s.id", prefix);
        if (!cf_id_ok(id)) {
            char val[100];
            cf_json_text(val, sizeof(val), json_object_get(obj, "id"));
            cf_add_issue(ld, path, false, val, "must hold only letters, digits and _-.:@");
        } else {
            r->id = xstrdup(id);
        }
    }
    if (driver) {
        r->driver_name = xstrdup(driver);
        r->driver = NULL;
        bool known = false;
        for (size_t k = 0; k < ld->ndrivers; k++)
            if (strcmp(ld->drivers[k].name, driver) == 0) {
                known = true;
                r->driver = ld->drivers[k].type ? &ld->drivers[k] : NULL;
            }
        if (!r->driver) {
            char list[256] = "", val[100], mean[100];
            size_t used = 0, nbuilt = 0;
            const char **names = calloc(ld->ndrivers + 1, sizeof(*names));
            if (!names)
                ld->oom = true;
            for (size_t k = 0; k < ld->ndrivers; k++) {
                if (names)
                    names[k] = ld->drivers[k].name;
                if (!ld->drivers[k].type || used >= sizeof(list))
                    continue;
                int w = snprintf(list + used, sizeof(list) - used, "%s%s", nbuilt++ ? ", " : "",
                                 ld->drivers[k].name);
                used += w > 0 ? (size_t)w : 0;
            }
            cf_json_text(val, sizeof(val), json_object_get(obj, "driver"));
            snprintf(path, sizeof(path), "%s.driver", prefix);
            mean[0] = '\0';
            if (names)
                cf_hint(mean, sizeof(mean), driver, names, ld->ndrivers);
            free(names);
            if (known)
                cf_add_issue(ld, path, false, val,
                             "driver is not built into this program (built in: %s)", list);
            else
                cf_add_issue(ld, path, false, val, "unknown driver%s (built in: %s)", mean, list);
        }
    }
    if (scope) {
        nr_error err = {0};
        snprintf(path, sizeof(path), "%s.scope", prefix);
        if (nr_scope_parse(&r->scope, scope, &err) != NR_OK) {
            char val[100];
            cf_json_text(val, sizeof(val), json_object_get(obj, "scope"));
            cf_add_issue(ld, path, false, val, "%s", err.message);
            nr_scope_global(&r->scope);
        } else {
            nr_scope_format(&r->scope, r->scope_text, sizeof(r->scope_text));
        }
    }
    r->partition = part && strcmp(part, "tenant") == 0 ? NR_PARTITION_TENANT : NR_PARTITION_NONE;
    if (r->partition == NR_PARTITION_TENANT && r->scope.level > NR_SCOPE_TENANT) {
        snprintf(path, sizeof(path), "%s.partition", prefix);
        cf_add_issue(ld, path, false, "\"tenant\"",
                     "a tenant-partitioned resource must have a global or tenant scope (scope is "
                     "%s)",
                     r->scope_text);
    }
    if (cred) {
        snprintf(path, sizeof(path), "%s.credential", prefix);
        r->credential = xstrdup(cred);
        check_ref(ld, path, cred, json_object_get(obj, "credential"));
    }

    snprintf(path, sizeof(path), "%s.pool", prefix);
    nr_pool_config pc;
    if (cf_section(ld, &nr_pool_config_schema, json_object_get(obj, "pool"), path, &pc, NULL))
        r->pool = pc;
    nr_config_free(&nr_pool_config_schema, &pc);

    snprintf(path, sizeof(path), "%s.autoscale", prefix);
    nr_autoscale_policy_default(&r->autoscale);
    nr_autoscale_policy as;
    if (cf_section(ld, &nr_autoscale_schema, json_object_get(obj, "autoscale"), path, &as, NULL))
        r->autoscale = as;
    nr_config_free(&nr_autoscale_schema, &as);

    snprintf(path, sizeof(path), "%s.tenants", prefix);
    nr_tenant_policy_default(&r->tenants);
    const json_t *tenants = json_object_get(obj, "tenants");
    nr_tenant_policy tp;
    if (cf_section(ld, &nr_tenant_schema, tenants, path, &tp, NULL))
        r->tenants = tp;
    nr_config_free(&nr_tenant_schema, &tp);
    if (tenants && r->partition != NR_PARTITION_TENANT)
        cf_add_issue(ld, path, false, "{...}",
                     "only a tenant-partitioned resource (\"partition\": \"tenant\") has a "
                     "tenants section");

    load_fleet(ld, r, json_object_get(obj, "fleet"), prefix);

    if (r->driver) {
        const nr_config_schema *s = r->driver->type->config_schema;
        snprintf(path, sizeof(path), "%s.config", prefix);
        void *dc = calloc(1, s->struct_size);
        if (!dc) {
            ld->oom = true;
        } else if (cf_section(ld, s, json_object_get(obj, "config"), path, dc, NULL)) {
            r->config = dc;
        } else {
            nr_config_free(s, dc);
            free(dc);
        }
    }
    load_deps(ld, r, json_object_get(obj, "depends_on"), prefix);
    load_health(ld, r, json_object_get(obj, "health"), prefix);
}

int cf_config_load(const char *file, const nr_config_load_options *opts, cf_config *cfg,
                   cf_issues *issues)
{
    memset(cfg, 0, sizeof(*cfg));
    memset(issues, 0, sizeof(*issues));
    nr_manager_options_default(&cfg->manager);
    cfg->listen = xstrdup("127.0.0.1");
    cfg->port = 9464;
    cfg->drain_timeout_ms = 30000;
    cfg->cleanup_timeout_ms = 10000;
    bool check_secrets = opts->check_credentials;
    loader ld = {.cfg = cfg, .iss = issues, .drivers = opts->drivers, .ndrivers = opts->ndrivers};
    const char *stage_names[NR_RESOURCE_HEALTH_STAGES_MAX];
    cfg->stages = opts->health_stages;
    cfg->nstages = opts->nhealth_stages;
    for (size_t k = 0; k < opts->nhealth_stages; k++)
        stage_names[k] = opts->health_stages[k].name;
    ld.stages = stage_names;
    ld.nstages = opts->nhealth_stages;

    size_t len = 0;
    char why[400];
    char *text = cf_config_read(file, &len, why, sizeof(why));
    if (!text) {
        cf_add_issue(&ld, "$", false, "", "%s", why);
        return 1;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) {
        cf_add_issue(&ld, "$", false, "", "invalid JSON: %s", je.text);
        if (issues->n) { /* 1-based, as in the library: jansson may say 0 */
            issues->v[issues->n - 1].line = je.line > 0 ? je.line : 1;
            issues->v[issues->n - 1].col = je.column > 0 ? je.column : 1;
        }
        free(text);
        return 1;
    }
    if (cf_pos_scan(&ld.pos, text, len) != 0)
        ld.oom = true;
    ld.text = text;

    if (!json_is_object(root)) {
        char v[64];
        cf_json_text(v, sizeof(v), root);
        cf_add_issue(&ld, "$", false, v, "must be a JSON object");
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
        {
            bool known = false;
            for (size_t i = 0; top_keys[i]; i++)
                known = known || strcmp(top_keys[i], key) == 0;
            if (!known) {
                char path[512], mean[100];
                cf_member_path(path, sizeof(path), "$", key);
                cf_hint(mean, sizeof(mean), key, top_keys, sizeof(top_keys) / sizeof(top_keys[0]));
                cf_add_issue(
                    &ld, path, true, "",
                    "unknown key%s (known: manager, http, shutdown, credentials, resources, "
                    "groups, hooks)",
                    mean);
            }
        }
        load_manager(&ld, json_object_get(root, "manager"));
        load_http(&ld, json_object_get(root, "http"));
        load_shutdown(&ld, json_object_get(root, "shutdown"));
        load_credentials(&ld, json_object_get(root, "credentials"), check_secrets);
        if (cfg->admin_token)
            check_ref(&ld, "$.http.admin_token", cfg->admin_token,
                      json_object_get(json_object_get(root, "http"), "admin_token"));
        const json_t *res = json_object_get(root, "resources");
        if (!res) {
            cf_add_issue(&ld, "$.resources", false, "", "is required (an array of resources)");
        } else if (!json_is_array(res)) {
            char v2[64];
            cf_json_text(v2, sizeof(v2), res);
            cf_add_issue(&ld, "$.resources", false, v2, "must be an array of resources");
        } else {
            size_t n = json_array_size(res);
            cfg->res = calloc(n ? n : 1, sizeof(cf_resource));
            if (!cfg->res) {
                ld.oom = true;
            } else {
                cfg->nres = n;
                for (size_t i = 0; i < n; i++)
                    load_resource(&ld, i, json_array_get(res, i));
                cf_check_graph(&ld);
            }
        }
        cf_load_groups(&ld, json_object_get(root, "groups"));
        cf_load_hooks(&ld, json_object_get(root, "hooks"));
    }
    json_decref(root);
    cf_pos_free(&ld.pos);
    ld.text = NULL;
    free(text);
    if (ld.oom)
        cf_add_issue(&ld, "$", false, "", "out of memory while checking the file");
    cf_issues_sort(issues);
    return issues->n ? 1 : 0;
}

const cf_resource *cf_config_resource(const cf_config *cfg, const char *id)
{
    long i = cf_find_resource(cfg, id);
    return i < 0 ? NULL : &cfg->res[i];
}

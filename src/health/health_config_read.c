/*
 * health_config_read.c - a pipeline config from JSON, and its rules.
 *
 * The section object of a resource ("health") holds a stage list and one
 * object per configurable stage. nr_field has no list type, so the stage
 * list is read and checked here; each stage's section goes through its
 * schema (nr_health_performance_schema, nr_health_utilization_schema), and
 * every issue, from here or from a schema, lands in one report with the
 * path of the field and the rule.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/config_internal.h"
#include "base/suggest.h"
#include "health/health_internal.h"

/* For nr__config_report_fail's "health config: N problems; first: ..." */
static const nr_config_schema health_named = {.name = "health"};

static const char *const section_keys[] = {"stages", NR_HEALTH_STAGE_PERFORMANCE,
                                           NR_HEALTH_STAGE_UTILIZATION, NULL};

/* Copy the issues of src after those of dst. */
static void merge(nr_config_report *dst, const nr_config_report *src)
{
    for (size_t k = 0; k < src->count; k++) {
        const nr_config_issue *i = &src->items[k];
        nr_config_report_add(dst, i->path, i->value, i->line, i->column, "%s", i->rule);
    }
    dst->dropped += src->dropped;
}

/* "connectivity, performance, utilization, <custom...>" (cut with "..."). */
static void known_list(char *out, size_t cap, const char *const *custom, size_t ncustom)
{
    size_t used = 0;
    out[0] = '\0';
    size_t total = 3 + ncustom;
    for (size_t k = 0; k < total && used < cap; k++) {
        const char *n = k < 3 ? nr__health_builtin[k] : custom[k - 3];
        if (!n)
            continue;
        int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", n);
        if (w < 0 || (size_t)w >= cap - used) {
            if (cap > 4)
                memcpy(out + cap - 4, "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

static bool is_known(const char *name, const char *const *custom, size_t ncustom)
{
    if (nr__health_is_builtin(name))
        return true;
    for (size_t k = 0; k < ncustom; k++)
        if (custom[k] && strcmp(custom[k], name) == 0)
            return true;
    return false;
}

/*
 * The rules of each name of a stage list: names[i] (lens[i] bytes) is a
 * stage, or NULL when its entry was already reported. A name must be well
 * formed, known, and not listed before.
 */
static void check_names(const char *const *names, const size_t *lens, size_t n, const char *prefix,
                        const char *const *custom, size_t ncustom, nr_config_report *r)
{
    char path[NR__CONFIG_PATH_BUF], value[NR__CONFIG_TEXT_MAX];
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            continue;
        snprintf(path, sizeof(path), "%s.stages[%zu]", nr__config_prefix(prefix), i);
        nr__config_quote(value, sizeof(value), names[i], lens[i]);
        const char *rule = nr__health_name_rule(names[i], lens[i]);
        if (rule) {
            nr_config_report_add(r, path, value, 0, 0, "%s", rule);
            continue;
        }
        if (!is_known(names[i], custom, ncustom)) {
            char known[NR_CONFIG_RULE_MAX];
            known_list(known, sizeof(known), custom, ncustom);
            nr__suggest s;
            nr__suggest_init(&s, names[i], lens[i]);
            for (size_t k = 0; nr__health_builtin[k]; k++)
                nr__suggest_offer(&s, nr__health_builtin[k]);
            for (size_t k = 0; k < ncustom; k++)
                nr__suggest_offer(&s, custom[k]);
            if (s.best)
                nr_config_report_add(r, path, value, 0, 0,
                                     "unknown stage; did you mean \"%s\"? (known: %s)", s.best,
                                     known);
            else
                nr_config_report_add(r, path, value, 0, 0, "unknown stage (known: %s)", known);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (names[j] && lens[j] == lens[i] && memcmp(names[j], names[i], lens[i]) == 0) {
                nr_config_report_add(r, path, value, 0, 0,
                                     "must not repeat a stage (also stages[%zu])", j);
                break;
            }
        }
    }
}

static void count_issue(const char *prefix, const char *value, nr_config_report *r)
{
    char path[NR__CONFIG_PATH_BUF];
    snprintf(path, sizeof(path), "%s.stages", nr__config_prefix(prefix));
    nr_config_report_add(r, path, value, 0, 0, "must hold between 1 and %d stages",
                         NR_HEALTH_STAGES_MAX);
}

/* The rules of cfg, issues appended to r (nothing cleared). */
static void check_config(const nr_health_config *cfg, const char *prefix, const char *const *custom,
                         size_t ncustom, nr_config_report *r)
{
    if (cfg->nstages == 0 || cfg->nstages > NR_HEALTH_STAGES_MAX) {
        char value[32];
        snprintf(value, sizeof(value), "%zu", cfg->nstages);
        count_issue(prefix, value, r);
    } else {
        const char *names[NR_HEALTH_STAGES_MAX];
        size_t lens[NR_HEALTH_STAGES_MAX];
        for (size_t i = 0; i < cfg->nstages; i++) {
            names[i] = cfg->stages[i];
            lens[i] = strnlen(cfg->stages[i], NR_HEALTH_STAGE_NAME_MAX);
        }
        check_names(names, lens, cfg->nstages, prefix, custom, ncustom, r);
    }
    char path[NR__CONFIG_PATH_BUF];
    nr_config_report sub;
    nr__config_path(path, sizeof(path), prefix, NR_HEALTH_STAGE_PERFORMANCE,
                    strlen(NR_HEALTH_STAGE_PERFORMANCE));
    if (nr_config_validate(&nr_health_performance_schema, &cfg->performance, path, &sub, NULL) !=
        NR_OK)
        merge(r, &sub);
    nr__config_path(path, sizeof(path), prefix, NR_HEALTH_STAGE_UTILIZATION,
                    strlen(NR_HEALTH_STAGE_UTILIZATION));
    if (nr_config_validate(&nr_health_utilization_schema, &cfg->utilization, path, &sub, NULL) !=
        NR_OK)
        merge(r, &sub);
}

int nr_health_config_validate(const nr_health_config *cfg, const char *path_prefix,
                              const char *const *custom, size_t ncustom, nr_config_report *report,
                              nr_error *err)
{
    if (!cfg || (!custom && ncustom > 0))
        return nr_error_set(err, NR_EINVAL, NULL, "health config: no struct or no custom names");
    nr_config_report local;
    nr_config_report *r = report ? report : &local;
    nr_config_report_clear(r);
    check_config(cfg, path_prefix, custom, ncustom, r);
    if (nr__config_report_total(r) > 0)
        return nr__config_report_fail(&health_named, r, err);
    return NR_OK;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void json_text(char *out, size_t cap, const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    snprintf(out, cap, "%s", t ? t : "?");
    if (t) {
        json_free_t jfree;
        json_get_alloc_funcs(NULL, &jfree);
        jfree(t);
    }
}

/* The "stages" array into cfg; issues to r. */
static void read_stages(const json_t *v, const char *prefix, const char *const *custom,
                        size_t ncustom, nr_health_config *cfg, nr_config_report *r)
{
    char value[NR__CONFIG_TEXT_MAX], path[NR__CONFIG_PATH_BUF];
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v)) {
        json_text(value, sizeof(value), v);
        snprintf(path, sizeof(path), "%s.stages", nr__config_prefix(prefix));
        nr_config_report_add(r, path, value, 0, 0, "must be an array of stage names");
        return;
    }
    if (n == 0 || n > NR_HEALTH_STAGES_MAX) {
        json_text(value, sizeof(value), v);
        count_issue(prefix, value, r);
        return;
    }
    const char *names[NR_HEALTH_STAGES_MAX];
    size_t lens[NR_HEALTH_STAGES_MAX];
    size_t before = nr__config_report_total(r);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        names[i] = json_is_string(e) ? json_string_value(e) : NULL;
        lens[i] = names[i] ? json_string_length(e) : 0;
        if (!names[i]) {
            json_text(value, sizeof(value), e);
            snprintf(path, sizeof(path), "%s.stages[%zu]", nr__config_prefix(prefix), i);
            nr_config_report_add(r, path, value, 0, 0, "must be a string");
        }
    }
    check_names(names, lens, n, prefix, custom, ncustom, r);
    if (nr__config_report_total(r) != before)
        return;
    cfg->nstages = n;
    for (size_t i = 0; i < n; i++)
        memcpy(cfg->stages[i], names[i], lens[i] + 1);
}

static bool listed(const nr_health_config *cfg, const char *stage)
{
    for (size_t i = 0; i < cfg->nstages; i++)
        if (strcmp(cfg->stages[i], stage) == 0)
            return true;
    return false;
}

/* The section of stage key (if present) through schema into out. NR_OK or NR_ENOMEM. */
static int read_section(const json_t *obj, const char *prefix, const char *key,
                        const nr_config_schema *schema, void *out, const nr_health_config *cfg,
                        bool stages_ok, nr_config_report *r)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return NR_OK;
    char path[NR__CONFIG_PATH_BUF];
    nr__config_path(path, sizeof(path), prefix, key, strlen(key));
    if (stages_ok && !listed(cfg, key)) {
        char list[NR_CONFIG_RULE_MAX] = "";
        size_t used = 0;
        for (size_t i = 0; i < cfg->nstages && used < sizeof(list); i++) {
            int w =
                snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", cfg->stages[i]);
            used += w > 0 ? (size_t)w : 0;
        }
        nr_config_report_add(r, path, NULL, 0, 0, "is set but \"%s\" is not in stages (%s)", key,
                             list);
    }
    nr_config_report sub;
    nr_error e;
    nr_error_clear(&e);
    int rc = nr_config_from_json(schema, v, path, out, &sub, &e);
    if (rc == NR_ENOMEM)
        return rc;
    merge(r, &sub);
    return NR_OK;
}

/* Fill cfg (at its defaults) from obj; NR_OK or NR_ENOMEM, issues in r. */
static int fill(const json_t *obj, const char *prefix, const char *const *custom, size_t ncustom,
                nr_health_config *cfg, nr_config_report *r)
{
    char path[NR__CONFIG_PATH_BUF];
    if (!json_is_object(obj)) {
        char value[NR__CONFIG_TEXT_MAX];
        json_text(value, sizeof(value), obj);
        nr_config_report_add(r, nr__config_prefix(prefix), value, 0, 0, "must be a JSON object");
        return NR_OK;
    }
    const char *key;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, key, klen, v)
    {
        bool known = false;
        for (size_t k = 0; section_keys[k]; k++)
            known |= klen == strlen(section_keys[k]) && memcmp(key, section_keys[k], klen) == 0;
        if (known)
            continue;
        nr__config_path(path, sizeof(path), prefix, key, klen);
        const char *hint = klen == strlen(key) ? nr_config_suggest(key, section_keys, 3) : NULL;
        if (hint)
            nr_config_report_add(r, path, NULL, 0, 0, "unknown field; did you mean \"%s\"?", hint);
        else
            nr_config_report_add(r, path, NULL, 0, 0, "unknown field");
    }
    size_t before = nr__config_report_total(r);
    const json_t *stages = json_object_get(obj, "stages");
    if (stages)
        read_stages(stages, prefix, custom, ncustom, cfg, r);
    bool stages_ok = nr__config_report_total(r) == before;
    if (read_section(obj, prefix, NR_HEALTH_STAGE_PERFORMANCE, &nr_health_performance_schema,
                     &cfg->performance, cfg, stages_ok, r) != NR_OK ||
        read_section(obj, prefix, NR_HEALTH_STAGE_UTILIZATION, &nr_health_utilization_schema,
                     &cfg->utilization, cfg, stages_ok, r) != NR_OK)
        return NR_ENOMEM;
    return NR_OK;
}

/* On any failure cfg ends at its defaults. */
static int finish(nr_health_config *cfg, int rc, const nr_config_report *r, nr_error *err)
{
    if (rc == NR_OK && nr__config_report_total(r) == 0)
        return NR_OK;
    nr_health_config_default(cfg);
    if (rc == NR_ENOMEM)
        return nr_error_set(err, NR_ENOMEM, NULL, "health config: out of memory");
    return nr__config_report_fail(&health_named, r, err);
}

int nr_health_config_from_json(const void *json_object, const char *path_prefix,
                               const char *const *custom, size_t ncustom, nr_health_config *cfg,
                               nr_config_report *report, nr_error *err)
{
    if (!cfg || !json_object || (!custom && ncustom > 0))
        return nr_error_set(err, NR_EINVAL, NULL, "health config: no struct or no JSON value");
    nr_config_report local;
    nr_config_report *r = report ? report : &local;
    nr_config_report_clear(r);
    nr_health_config_default(cfg);
    int rc = fill(json_object, path_prefix, custom, ncustom, cfg, r);
    return finish(cfg, rc, r, err);
}

int nr_health_config_parse(const char *text, size_t len, const char *const *custom, size_t ncustom,
                           nr_health_config *cfg, nr_config_report *report, nr_error *err)
{
    if (!cfg || (!text && len > 0) || (!custom && ncustom > 0))
        return nr_error_set(err, NR_EINVAL, NULL, "health config: no struct or no text");
    nr_config_report local;
    nr_config_report *r = report ? report : &local;
    nr_config_report_clear(r);
    nr_health_config_default(cfg);
    json_error_t je;
    size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    json_t *root = json_loadb(text ? text : "", len, flags, &je);
    if (!root) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return finish(cfg, NR_ENOMEM, r, err);
        nr_config_report_add(r, "$", NULL, je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1,
                             "%s", je.text);
        return finish(cfg, NR_OK, r, err);
    }
    int rc = fill(root, "$", custom, ncustom, cfg, r);
    json_decref(root);
    return finish(cfg, rc, r, err);
}

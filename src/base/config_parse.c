/* config_parse.c - JSON text or a jansson object into a config struct. */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <jansson.h>
#include <string.h>

#include "base/config_internal.h"
#include "base/suggest.h"
#include "nebula/alloc.h"

/* The value as JSON text for an issue ("<redacted>" on a secret field). */
static void value_text(char *out, size_t cap, const nr_field *f, const json_t *v)
{
    if (f && f->type == NR_FT_SECRET) {
        snprintf(out, cap, "%s", NR_SECRET_REDACTED);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        nr__config_quote(out, cap, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    case JSON_REAL:
        /* a real stays one: 1.0 is "1.0", not the integer "1" */
        nr__config_double_text(out, cap, json_real_value(v));
        if (!strpbrk(out, ".eEn") && strlen(out) + 2 < cap)
            strcat(out, ".0");
        return;
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
        return;
    case JSON_OBJECT:
    case JSON_ARRAY:
        break;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!text) {
        snprintf(out, cap, "%s", json_is_array(v) ? "[...]" : "{...}");
        return;
    }
    snprintf(out, cap, "%s", text);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(text);
}

static void type_issue(nr_config_report *r, const char *path, const nr_field *f, const json_t *v,
                       const char *rule)
{
    char value[NR__CONFIG_TEXT_MAX];
    value_text(value, sizeof(value), f, v);
    nr_config_report_add(r, path, value, 0, 0, "%s", rule);
}

static void enum_issue(nr_config_report *r, const char *path, const nr_field *f, const json_t *v)
{
    char names[NR_CONFIG_RULE_MAX], value[NR__CONFIG_TEXT_MAX];
    nr__config_enum_list(names, sizeof(names), f);
    value_text(value, sizeof(value), f, v);
    nr_config_report_add(r, path, value, 0, 0, "must be one of: %s", names);
}

/* Index of the enum name equal to the JSON string v, or -1. */
static int enum_index(const nr_field *f, const json_t *v)
{
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    for (int i = 0; f->enum_names[i]; i++)
        if (strlen(f->enum_names[i]) == len && memcmp(f->enum_names[i], s, len) == 0)
            return i;
    return -1;
}

/* Store a JSON string or null into a string or secret field; NR_ENOMEM or NR_OK. */
static int set_text(const nr_field *f, const json_t *v, void *cfg)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t len = s ? json_string_length(v) : 0;
    if (f->type == NR_FT_SECRET) {
        nr_secret *sec = NULL;
        if (s && nr_secret_create(&sec, s, len, NULL) != NR_OK)
            return NR_ENOMEM;
        nr_secret_free(*NR__CONFIG_AT(cfg, f, nr_secret *));
        *NR__CONFIG_AT(cfg, f, nr_secret *) = sec;
        return NR_OK;
    }
    char *copy = NULL;
    if (s) {
        if (!(copy = nr_malloc(len + 1)))
            return NR_ENOMEM;
        memcpy(copy, s, len + 1);
    }
    nr_free(*NR__CONFIG_AT(cfg, f, char *));
    *NR__CONFIG_AT(cfg, f, char *) = copy;
    return NR_OK;
}

/* Convert v into field f of cfg; a wrong type is an issue, the stored value
 * is then checked against the field's rules. NR_OK or NR_ENOMEM. */
static int set_field(const nr_config_schema *schema, const nr_field *f, const json_t *v, void *cfg,
                     const char *prefix, const char *path, nr_config_report *r)
{
    switch (f->type) {
    case NR_FT_BOOL:
        if (!json_is_boolean(v)) {
            type_issue(r, path, f, v, "must be true or false");
            return NR_OK;
        }
        *NR__CONFIG_AT(cfg, f, bool) = json_is_true(v);
        break;
    case NR_FT_INT:
        if (!json_is_integer(v)) {
            type_issue(r, path, f, v, "must be an integer");
            return NR_OK;
        }
        *NR__CONFIG_AT(cfg, f, int64_t) = (int64_t)json_integer_value(v);
        break;
    case NR_FT_DOUBLE:
        if (!json_is_number(v)) {
            type_issue(r, path, f, v, "must be a number");
            return NR_OK;
        }
        *NR__CONFIG_AT(cfg, f, double) = json_number_value(v);
        break;
    case NR_FT_ENUM: {
        int idx = enum_index(f, v);
        if (idx < 0) {
            enum_issue(r, path, f, v);
            return NR_OK;
        }
        *NR__CONFIG_AT(cfg, f, int) = idx;
        break;
    }
    case NR_FT_STRING:
    case NR_FT_SECRET:
        if (!json_is_string(v) && !(json_is_null(v) && !f->required)) {
            type_issue(r, path, f, v, "must be a string");
            return NR_OK;
        }
        if (json_is_string(v) && json_string_length(v) != strlen(json_string_value(v))) {
            type_issue(r, path, f, v, "must not contain NUL bytes");
            return NR_OK;
        }
        if (set_text(f, v, cfg) != NR_OK)
            return NR_ENOMEM;
        break;
    }
    nr__config_check_field(schema, f, cfg, prefix, r);
    return NR_OK;
}

/* The field name closest to an unknown key (klen bytes), or NULL. A key
 * holding a NUL byte gets none. */
static const char *field_hint(const nr_config_schema *schema, const char *key, size_t klen)
{
    if (klen != strlen(key))
        return NULL;
    nr__suggest s;
    nr__suggest_init(&s, key, klen);
    for (size_t i = 0; i < schema->nfields; i++)
        nr__suggest_offer(&s, schema->fields[i].name);
    return s.best;
}

/* Fill cfg (already initialised) from obj; NR_OK or NR_ENOMEM, issues in r. */
static int fill(const nr_config_schema *schema, const json_t *obj, const char *prefix, void *cfg,
                nr_config_report *r)
{
    char path[NR__CONFIG_PATH_BUF];
    if (!json_is_object(obj)) {
        char value[NR__CONFIG_TEXT_MAX];
        value_text(value, sizeof(value), NULL, obj);
        nr_config_report_add(r, prefix, value, 0, 0, "must be a JSON object");
        return NR_OK;
    }
    for (size_t i = 0; i < schema->nfields; i++) {
        const nr_field *f = &schema->fields[i];
        const json_t *v = json_object_get(obj, f->name);
        nr__config_path(path, sizeof(path), prefix, f->name, strlen(f->name));
        if (!v && f->required)
            nr_config_report_add(r, path, NULL, 0, 0, "is required");
        else if (!v)
            nr__config_check_field(schema, f, cfg, prefix, r); /* the default */
        else if (set_field(schema, f, v, cfg, prefix, path, r) != NR_OK)
            return NR_ENOMEM;
    }
    const char *key;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, key, klen, v)
    {
        if (klen != strlen(key) || !nr_config_field(schema, key)) {
            nr__config_path(path, sizeof(path), prefix, key, klen);
            const char *hint = field_hint(schema, key, klen);
            if (hint)
                nr_config_report_add(r, path, NULL, 0, 0, "unknown field; did you mean \"%s\"?",
                                     hint);
            else
                nr_config_report_add(r, path, NULL, 0, 0, "unknown field");
        }
    }
    nr__config_run_check(schema, cfg, prefix, r, 0);
    return NR_OK;
}

/* On any failure cfg ends freed and holding the defaults again. */
static int finish(const nr_config_schema *schema, void *cfg, int rc, nr_config_report *r,
                  nr_error *err)
{
    if (rc == NR_OK && nr__config_report_total(r) == 0)
        return NR_OK;
    nr_config_free(schema, cfg);
    if (nr_config_init(schema, cfg, err) != NR_OK || rc == NR_ENOMEM)
        return nr_error_set(err, NR_ENOMEM, NULL, "%s config: out of memory",
                            schema->name ? schema->name : "unnamed");
    return nr__config_report_fail(schema, r, err);
}

int nr_config_from_json(const nr_config_schema *schema, const void *json_object,
                        const char *path_prefix, void *cfg, nr_config_report *report, nr_error *err)
{
    int rc = nr__config_schema_check(schema, err);
    if (rc != NR_OK)
        return rc;
    if (!cfg || !json_object)
        return nr_error_set(err, NR_EINVAL, NULL, "config: no struct or no JSON value");
    nr_config_report local;
    nr_config_report *r = report ? report : &local;
    nr_config_report_clear(r);
    if ((rc = nr_config_init(schema, cfg, err)) != NR_OK)
        return rc;
    rc = fill(schema, json_object, nr__config_prefix(path_prefix), cfg, r);
    return finish(schema, cfg, rc, r, err);
}

/* Zero the secret strings jansson holds before they are released. */
static void scrub_secrets(const nr_config_schema *schema, json_t *root)
{
    if (!json_is_object(root))
        return;
    for (size_t i = 0; i < schema->nfields; i++) {
        if (schema->fields[i].type != NR_FT_SECRET)
            continue;
        json_t *v = json_object_get(root, schema->fields[i].name);
        if (json_is_string(v))
            explicit_bzero((char *)json_string_value(v), json_string_length(v));
    }
}

int nr_config_parse(const nr_config_schema *schema, const char *text, size_t len, void *cfg,
                    nr_config_report *report, nr_error *err)
{
    int rc = nr__config_schema_check(schema, err);
    if (rc != NR_OK)
        return rc;
    if (!cfg || (!text && len > 0))
        return nr_error_set(err, NR_EINVAL, NULL, "config: no struct or no text");
    nr_config_report local;
    nr_config_report *r = report ? report : &local;
    nr_config_report_clear(r);
    if ((rc = nr_config_init(schema, cfg, err)) != NR_OK)
        return rc;
    json_error_t je;
    size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    json_t *root = json_loadb(text ? text : "", len, flags, &je);
    if (!root) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return finish(schema, cfg, NR_ENOMEM, r, err);
        /* Positions are 1-based: jansson says column 0 (and line 1 for an
         * empty text) when the error is at the start of a line, past the
         * last byte read; that is column 1 of that line. */
        nr_config_report_add(r, "$", NULL, je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1,
                             "%s", je.text);
        return finish(schema, cfg, NR_OK, r, err);
    }
    rc = fill(schema, root, "$", cfg, r);
    scrub_secrets(schema, root);
    json_decref(root);
    return finish(schema, cfg, rc, r, err);
}

/* config_serialize.c - a config struct as a jansson object or compact JSON text. */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "base/config_internal.h"
#include "nebula/alloc.h"

static const char *sname(const nr_config_schema *schema)
{
    return schema->name ? schema->name : "unnamed";
}

/* A JSON string of s (len bytes), or NR_EINVAL when it is not valid UTF-8. */
static int text_value(json_t **out, const char *s, size_t len)
{
    if (!nr__config_utf8_valid(s, len))
        return NR_EINVAL;
    *out = json_stringn(s, len);
    return NR_OK;
}

/* The JSON value of field f; *out stays NULL when the key is left out. */
static int field_value(const nr_config_schema *schema, const nr_field *f, const void *cfg,
                       nr_config_secrets secrets, json_t **out, nr_error *err)
{
    *out = NULL;
    switch (f->type) {
    case NR_FT_BOOL:
        *out = json_boolean(*NR__CONFIG_CAT(cfg, f, bool));
        return NR_OK;
    case NR_FT_INT:
        *out = json_integer((json_int_t)*NR__CONFIG_CAT(cfg, f, int64_t));
        break;
    case NR_FT_DOUBLE: {
        double d = *NR__CONFIG_CAT(cfg, f, double);
        if (!isfinite(d))
            return nr_error_set(err, NR_EINVAL, NULL, "%s config: %s must be a finite number",
                                sname(schema), f->name);
        *out = json_real(d);
        break;
    }
    case NR_FT_ENUM: {
        int idx = *NR__CONFIG_CAT(cfg, f, int);
        if (idx < 0 || idx >= nr__config_enum_count(f))
            return nr_error_set(err, NR_EINVAL, NULL, "%s config: %s holds no valid name (%d)",
                                sname(schema), f->name, idx);
        *out = json_string(f->enum_names[idx]);
        break;
    }
    case NR_FT_STRING: {
        const char *s = *NR__CONFIG_CAT(cfg, f, char *);
        if (!s) {
            *out = json_null();
            return NR_OK;
        }
        if (text_value(out, s, strlen(s)) != NR_OK)
            return nr_error_set(err, NR_EINVAL, NULL, "%s config: %s must be valid UTF-8",
                                sname(schema), f->name);
        break;
    }
    case NR_FT_SECRET: {
        const nr_secret *sec = *NR__CONFIG_CAT(cfg, f, nr_secret *);
        if (secrets == NR_CONFIG_SECRETS_OMIT)
            return NR_OK;
        if (!sec) {
            *out = json_null();
            return NR_OK;
        }
        if (secrets == NR_CONFIG_SECRETS_REDACT) {
            *out = json_string(NR_SECRET_REDACTED);
            break;
        }
        size_t len;
        const char *s = nr_secret_reveal(sec, &len);
        if (text_value(out, s, len) != NR_OK)
            return nr_error_set(err, NR_EINVAL, NULL, "%s config: %s must be valid UTF-8",
                                sname(schema), f->name);
        break;
    }
    }
    if (!*out)
        return nr_error_set(err, NR_ENOMEM, NULL, "%s config: out of memory", sname(schema));
    return NR_OK;
}

/* Zero the revealed secret strings in obj before it is released. */
static void scrub_secrets(const nr_config_schema *schema, json_t *obj)
{
    for (size_t i = 0; i < schema->nfields; i++) {
        if (schema->fields[i].type != NR_FT_SECRET)
            continue;
        json_t *v = json_object_get(obj, schema->fields[i].name);
        if (json_is_string(v))
            explicit_bzero((char *)json_string_value(v), json_string_length(v));
    }
}

void *nr_config_to_json(const nr_config_schema *schema, const void *cfg, nr_config_secrets secrets,
                        nr_error *err)
{
    if (nr__config_schema_check(schema, err) != NR_OK)
        return NULL;
    if (!cfg) {
        nr_error_set(err, NR_EINVAL, NULL, "config: no struct");
        return NULL;
    }
    if (secrets != NR_CONFIG_SECRETS_REDACT && secrets != NR_CONFIG_SECRETS_OMIT &&
        secrets != NR_CONFIG_SECRETS_REVEAL) {
        nr_error_set(err, NR_EINVAL, NULL, "%s config: unknown secrets mode %d", sname(schema),
                     (int)secrets);
        return NULL;
    }
    json_t *obj = json_object();
    if (!obj) {
        nr_error_set(err, NR_ENOMEM, NULL, "%s config: out of memory", sname(schema));
        return NULL;
    }
    for (size_t i = 0; i < schema->nfields; i++) {
        const nr_field *f = &schema->fields[i];
        json_t *v;
        if (field_value(schema, f, cfg, secrets, &v, err) != NR_OK)
            goto fail;
        if (v && json_object_set_new(obj, f->name, v) != 0) {
            nr_error_set(err, NR_ENOMEM, NULL, "%s config: out of memory", sname(schema));
            goto fail;
        }
    }
    return obj;
fail:
    scrub_secrets(schema, obj);
    json_decref(obj);
    return NULL;
}

/* The precision at which every double of cfg reads back unchanged. */
static int real_precision(const nr_config_schema *schema, const void *cfg)
{
    int p = 1;
    for (size_t i = 0; i < schema->nfields; i++) {
        const nr_field *f = &schema->fields[i];
        if (f->type == NR_FT_DOUBLE) {
            int q = nr__config_double_precision(*NR__CONFIG_CAT(cfg, f, double));
            p = q > p ? q : p;
        }
    }
    return p;
}

char *nr_config_serialize(const nr_config_schema *schema, const void *cfg,
                          nr_config_secrets secrets, nr_error *err)
{
    json_t *obj = nr_config_to_json(schema, cfg, secrets, err);
    if (!obj)
        return NULL;
    size_t flags =
        JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(real_precision(schema, cfg));
    char *text = json_dumps(obj, flags);
    scrub_secrets(schema, obj);
    json_decref(obj);
    char *out = NULL;
    if (text) {
        size_t len = strlen(text);
        if ((out = nr_malloc(len + 1)))
            memcpy(out, text, len + 1);
        explicit_bzero(text, len);
        json_free_t jfree;
        json_get_alloc_funcs(NULL, &jfree);
        jfree(text);
    }
    if (!out)
        nr_error_set(err, NR_ENOMEM, NULL, "%s config: out of memory", sname(schema));
    return out;
}

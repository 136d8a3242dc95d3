/* config_core.c - defaults, release, copy, comparison and lookup of config structs. */
#include <math.h>
#include <string.h>

#include "base/config_internal.h"
#include "nebula/alloc.h"

int nr__config_schema_check(const nr_config_schema *schema, nr_error *err)
{
    if (!schema || (!schema->fields && schema->nfields > 0))
        return nr_error_set(err, NR_EINVAL, NULL, "config: no schema");
    for (size_t i = 0; i < schema->nfields; i++) {
        const nr_field *f = &schema->fields[i];
        bool ok = f->name && f->type >= NR_FT_BOOL && f->type <= NR_FT_SECRET;
        if (ok && f->type == NR_FT_ENUM)
            ok = nr__config_enum_count(f) > 0;
        if (!ok)
            return nr_error_set(err, NR_EINVAL, NULL, "%s config: field %zu is malformed",
                                schema->name ? schema->name : "unnamed", i);
    }
    return NR_OK;
}

int nr_config_init(const nr_config_schema *schema, void *cfg, nr_error *err)
{
    int rc = nr__config_schema_check(schema, err);
    if (rc != NR_OK)
        return rc;
    if (!cfg)
        return nr_error_set(err, NR_EINVAL, NULL, "config: no struct");
    memset(cfg, 0, schema->struct_size);
    for (size_t i = 0; i < schema->nfields; i++) {
        const nr_field *f = &schema->fields[i];
        switch (f->type) {
        case NR_FT_BOOL:
            *NR__CONFIG_AT(cfg, f, bool) = f->def_int != 0;
            break;
        case NR_FT_INT:
            *NR__CONFIG_AT(cfg, f, int64_t) = f->def_int;
            break;
        case NR_FT_DOUBLE:
            *NR__CONFIG_AT(cfg, f, double) = f->def_double;
            break;
        case NR_FT_ENUM:
            *NR__CONFIG_AT(cfg, f, int) = (int)f->def_int;
            break;
        case NR_FT_STRING:
            if (f->def_str && !(*NR__CONFIG_AT(cfg, f, char *) = nr_strdup(f->def_str))) {
                nr_config_free(schema, cfg);
                return nr_error_set(err, NR_ENOMEM, NULL, "%s config: out of memory",
                                    schema->name ? schema->name : "unnamed");
            }
            break;
        case NR_FT_SECRET:
            break;
        }
    }
    return NR_OK;
}

void nr_config_free(const nr_config_schema *schema, void *cfg)
{
    if (!schema || !cfg || (!schema->fields && schema->nfields > 0))
        return;
    for (size_t i = 0; i < schema->nfields; i++) {
        const nr_field *f = &schema->fields[i];
        if (f->type == NR_FT_STRING)
            nr_free(*NR__CONFIG_AT(cfg, f, char *));
        else if (f->type == NR_FT_SECRET)
            nr_secret_free(*NR__CONFIG_AT(cfg, f, nr_secret *));
    }
    memset(cfg, 0, schema->struct_size);
}

int nr_config_copy(const nr_config_schema *schema, void *dst, const void *src, nr_error *err)
{
    int rc = nr__config_schema_check(schema, err);
    if (rc != NR_OK)
        return rc;
    if (!dst || !src)
        return nr_error_set(err, NR_EINVAL, NULL, "config: no struct");
    if (dst == src)
        return NR_OK;
    memcpy(dst, src, schema->struct_size);
    /* dst owns nothing yet: clear its owned pointers before filling them. */
    for (size_t i = 0; i < schema->nfields; i++) {
        const nr_field *f = &schema->fields[i];
        if (f->type == NR_FT_STRING)
            *NR__CONFIG_AT(dst, f, char *) = NULL;
        else if (f->type == NR_FT_SECRET)
            *NR__CONFIG_AT(dst, f, nr_secret *) = NULL;
    }
    for (size_t i = 0; i < schema->nfields && rc == NR_OK; i++) {
        const nr_field *f = &schema->fields[i];
        if (f->type == NR_FT_STRING) {
            const char *s = *NR__CONFIG_CAT(src, f, char *);
            if (s && !(*NR__CONFIG_AT(dst, f, char *) = nr_strdup(s)))
                rc = NR_ENOMEM;
        } else if (f->type == NR_FT_SECRET) {
            rc = nr_secret_dup(NR__CONFIG_AT(dst, f, nr_secret *),
                               *NR__CONFIG_CAT(src, f, nr_secret *), NULL);
        }
    }
    if (rc != NR_OK) {
        nr_config_free(schema, dst);
        return nr_error_set(err, NR_ENOMEM, NULL, "%s config: out of memory",
                            schema->name ? schema->name : "unnamed");
    }
    return NR_OK;
}

static bool field_equal(const nr_field *f, const void *a, const void *b)
{
    switch (f->type) {
    case NR_FT_BOOL:
        return *NR__CONFIG_CAT(a, f, bool) == *NR__CONFIG_CAT(b, f, bool);
    case NR_FT_INT:
        return *NR__CONFIG_CAT(a, f, int64_t) == *NR__CONFIG_CAT(b, f, int64_t);
    case NR_FT_DOUBLE: {
        double x = *NR__CONFIG_CAT(a, f, double), y = *NR__CONFIG_CAT(b, f, double);
        return x == y || (isnan(x) && isnan(y));
    }
    case NR_FT_ENUM:
        return *NR__CONFIG_CAT(a, f, int) == *NR__CONFIG_CAT(b, f, int);
    case NR_FT_STRING: {
        const char *x = *NR__CONFIG_CAT(a, f, char *), *y = *NR__CONFIG_CAT(b, f, char *);
        return (!x || !y) ? x == y : strcmp(x, y) == 0;
    }
    case NR_FT_SECRET:
        return nr_secret_equal(*NR__CONFIG_CAT(a, f, nr_secret *),
                               *NR__CONFIG_CAT(b, f, nr_secret *));
    }
    return true;
}

bool nr_config_equal(const nr_config_schema *schema, const void *a, const void *b)
{
    if (!schema || !a || !b)
        return a == b;
    bool eq = true;
    /* No early exit: secrets are compared whatever the other fields hold. */
    for (size_t i = 0; i < schema->nfields; i++)
        eq &= field_equal(&schema->fields[i], a, b);
    return eq;
}

const nr_field *nr_config_field(const nr_config_schema *schema, const char *name)
{
    if (!schema || !name || !schema->fields)
        return NULL;
    for (size_t i = 0; i < schema->nfields; i++)
        if (schema->fields[i].name && strcmp(schema->fields[i].name, name) == 0)
            return &schema->fields[i];
    return NULL;
}

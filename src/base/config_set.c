/* config_set.c - typed setters: one field of a config struct by name, checked and copied. */
#include <string.h>

#include "base/config_internal.h"
#include "base/suggest.h"
#include "nebula/alloc.h"

/* What a field's value is, as the messages say it, and the setter that takes it. */
static const char *type_noun(nr_field_type t)
{
    switch (t) {
    case NR_FT_BOOL:
        return "a boolean";
    case NR_FT_INT:
        return "an integer";
    case NR_FT_DOUBLE:
        return "a number";
    case NR_FT_STRING:
        return "a string";
    case NR_FT_ENUM:
        return "an enum";
    case NR_FT_SECRET:
        return "a secret";
    }
    return "an unknown";
}

static const char *setter_of(nr_field_type t)
{
    switch (t) {
    case NR_FT_BOOL:
        return "nr_config_set_bool";
    case NR_FT_INT:
        return "nr_config_set_int";
    case NR_FT_DOUBLE:
        return "nr_config_set_double";
    case NR_FT_STRING:
        return "nr_config_set_str";
    case NR_FT_ENUM:
        return "nr_config_set_enum";
    case NR_FT_SECRET:
        return "nr_config_set_secret";
    }
    return "nothing";
}

static const char *sname(const nr_config_schema *schema)
{
    return schema->name ? schema->name : "unnamed";
}

/* name as a JSON string literal in out (cap bytes), cut with "..." when long. */
static void quote_short(char *out, size_t cap, const char *name)
{
    char full[NR__CONFIG_TEXT_MAX];
    nr__config_quote(full, sizeof(full), name, strlen(name));
    size_t len = strlen(full);
    if (len < cap) {
        memcpy(out, full, len + 1);
        return;
    }
    size_t cut = cap - 4;
    while (cut > 0 && ((unsigned char)full[cut] & 0xC0) == 0x80)
        cut--; /* never split a UTF-8 sequence */
    memcpy(out, full, cut);
    memcpy(out + cut, "...", 4);
}

/* *out = the field called name when it has type `want` (NR_FT_INT also
 * finds a double field); NR_OK, or the error with err filled. */
static int find(const nr_config_schema *schema, const void *cfg, const char *name,
                nr_field_type want, const nr_field **out, nr_error *err)
{
    *out = NULL;
    int rc = nr__config_schema_check(schema, err);
    if (rc != NR_OK)
        return rc;
    if (!cfg || !name)
        return nr_error_set(err, NR_EINVAL, NULL, "%s config: no struct or no field name",
                            sname(schema));
    const nr_field *f = nr_config_field(schema, name);
    if (!f) {
        char quoted[72];
        quote_short(quoted, sizeof(quoted), name);
        nr__suggest s;
        nr__suggest_init(&s, name, strlen(name));
        for (size_t i = 0; i < schema->nfields; i++)
            nr__suggest_offer(&s, schema->fields[i].name);
        if (s.best)
            return nr_error_set(err, NR_ECONFIG, NULL,
                                "%s config: no field %s; did you mean \"%s\"?", sname(schema),
                                quoted, s.best);
        return nr_error_set(err, NR_ECONFIG, NULL, "%s config: no field %s", sname(schema), quoted);
    }
    if (f->type != want && !(want == NR_FT_INT && f->type == NR_FT_DOUBLE))
        return nr_error_set(err, NR_ECONFIG, NULL, "%s config: %s is %s field, not %s (use %s)",
                            sname(schema), f->name, type_noun(f->type), type_noun(want),
                            setter_of(f->type));
    *out = f;
    return NR_OK;
}

/* Check a candidate value (stored at *value, laid out as field f stores it)
 * against f's rules, with the messages validation gives. */
static int check(const nr_config_schema *schema, const nr_field *f, const void *value,
                 nr_error *err)
{
    nr_field at_zero = *f;
    at_zero.offset = 0;
    nr_config_report r;
    nr_config_report_clear(&r);
    nr__config_check_field(schema, &at_zero, value, "$", &r);
    if (r.count == 0)
        return NR_OK;
    const nr_config_issue *i = &r.items[0];
    if (i->value[0])
        return nr_error_set(err, NR_ECONFIG, NULL, "%s config: %s: %s (got %s)", sname(schema),
                            f->name, i->rule, i->value);
    return nr_error_set(err, NR_ECONFIG, NULL, "%s config: %s: %s", sname(schema), f->name,
                        i->rule);
}

int nr_config_set_str(const nr_config_schema *schema, void *cfg, const char *field,
                      const char *value, nr_error *err)
{
    const nr_field *f;
    int rc = find(schema, cfg, field, NR_FT_STRING, &f, err);
    if (rc == NR_OK)
        rc = check(schema, f, &value, err);
    if (rc != NR_OK)
        return rc;
    char *copy = NULL;
    if (value && !(copy = nr_strdup(value)))
        return nr_error_set(err, NR_ENOMEM, NULL, "%s config: %s: out of memory", sname(schema),
                            f->name);
    nr_free(*NR__CONFIG_AT(cfg, f, char *));
    *NR__CONFIG_AT(cfg, f, char *) = copy;
    return NR_OK;
}

int nr_config_set_secret(const nr_config_schema *schema, void *cfg, const char *field,
                         const char *value, nr_error *err)
{
    const nr_field *f;
    int rc = find(schema, cfg, field, NR_FT_SECRET, &f, err);
    if (rc != NR_OK)
        return rc;
    nr_secret *sec = NULL;
    if (value && nr_secret_from_str(&sec, value, NULL) != NR_OK)
        return nr_error_set(err, NR_ENOMEM, NULL, "%s config: %s: out of memory", sname(schema),
                            f->name);
    rc = check(schema, f, &sec, err);
    if (rc != NR_OK) {
        nr_secret_free(sec);
        return rc;
    }
    nr_secret_free(*NR__CONFIG_AT(cfg, f, nr_secret *));
    *NR__CONFIG_AT(cfg, f, nr_secret *) = sec;
    return NR_OK;
}

int nr_config_set_int(const nr_config_schema *schema, void *cfg, const char *field, int64_t value,
                      nr_error *err)
{
    const nr_field *f;
    int rc = find(schema, cfg, field, NR_FT_INT, &f, err);
    if (rc != NR_OK)
        return rc;
    if (f->type == NR_FT_DOUBLE)
        return nr_config_set_double(schema, cfg, field, (double)value, err);
    rc = check(schema, f, &value, err);
    if (rc == NR_OK)
        *NR__CONFIG_AT(cfg, f, int64_t) = value;
    return rc;
}

int nr_config_set_bool(const nr_config_schema *schema, void *cfg, const char *field, bool value,
                       nr_error *err)
{
    const nr_field *f;
    int rc = find(schema, cfg, field, NR_FT_BOOL, &f, err);
    if (rc != NR_OK)
        return rc;
    *NR__CONFIG_AT(cfg, f, bool) = value;
    return NR_OK;
}

int nr_config_set_double(const nr_config_schema *schema, void *cfg, const char *field, double value,
                         nr_error *err)
{
    const nr_field *f;
    int rc = find(schema, cfg, field, NR_FT_DOUBLE, &f, err);
    if (rc != NR_OK)
        return rc;
    rc = check(schema, f, &value, err);
    if (rc == NR_OK)
        *NR__CONFIG_AT(cfg, f, double) = value;
    return rc;
}

int nr_config_set_enum(const nr_config_schema *schema, void *cfg, const char *field,
                       const char *name, nr_error *err)
{
    const nr_field *f;
    int rc = find(schema, cfg, field, NR_FT_ENUM, &f, err);
    if (rc != NR_OK)
        return rc;
    for (int i = 0; name && f->enum_names[i]; i++) {
        if (strcmp(f->enum_names[i], name) == 0) {
            *NR__CONFIG_AT(cfg, f, int) = i;
            return NR_OK;
        }
    }
    char names[NR_CONFIG_RULE_MAX], value[72];
    nr__config_enum_list(names, sizeof(names), f);
    if (!name)
        return nr_error_set(err, NR_ECONFIG, NULL, "%s config: %s: must be one of: %s",
                            sname(schema), f->name, names);
    quote_short(value, sizeof(value), name);
    return nr_error_set(err, NR_ECONFIG, NULL, "%s config: %s: must be one of: %s (got %s)",
                        sname(schema), f->name, names, value);
}

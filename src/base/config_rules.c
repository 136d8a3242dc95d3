/* config_rules.c - the rules of each field type, and nr_config_validate. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/config_internal.h"

static void check_int(const nr_field *f, int64_t v, const char *path, nr_config_report *r)
{
    bool ranged = f->min != 0 || f->max != 0;
    if (ranged && (v < f->min || v > f->max)) {
        char value[32];
        snprintf(value, sizeof(value), "%" PRId64, v);
        nr_config_report_add(r, path, value, 0, 0, "must be between %" PRId64 " and %" PRId64,
                             f->min, f->max);
    }
}

static void check_double(const nr_field *f, double v, const char *path, nr_config_report *r)
{
    char value[40];
    nr__config_double_text(value, sizeof(value), v);
    if (!isfinite(v)) {
        nr_config_report_add(r, path, value, 0, 0, "must be a finite number");
        return;
    }
    bool ranged = f->dmin != 0 || f->dmax != 0;
    if (ranged && (v < f->dmin || v > f->dmax)) {
        char lo[40], hi[40];
        nr__config_double_text(lo, sizeof(lo), f->dmin);
        nr__config_double_text(hi, sizeof(hi), f->dmax);
        nr_config_report_add(r, path, value, 0, 0, "must be between %s and %s", lo, hi);
    }
}

static void check_enum(const nr_field *f, int v, const char *path, nr_config_report *r)
{
    if (v < 0 || v >= nr__config_enum_count(f)) {
        char value[16], names[NR_CONFIG_RULE_MAX];
        snprintf(value, sizeof(value), "%d", v);
        nr__config_enum_list(names, sizeof(names), f);
        nr_config_report_add(r, path, value, 0, 0, "must be one of: %s", names);
    }
}

/* Text rules shared by strings and secrets; value is what the issue shows. */
static void check_text(const nr_field *f, const char *s, size_t len, const char *value,
                       const char *path, nr_config_report *r)
{
    if (memchr(s, '\0', len))
        nr_config_report_add(r, path, value, 0, 0, "must not contain NUL bytes");
    else if (!nr__config_utf8_valid(s, len))
        nr_config_report_add(r, path, f->type == NR_FT_SECRET ? value : "", 0, 0,
                             "must be valid UTF-8");
    else if (f->min > 0 && len < (uint64_t)f->min)
        nr_config_report_add(r, path, value, 0, 0, "must be at least %" PRId64 " bytes", f->min);
    else if (f->max > 0 && len > (uint64_t)f->max)
        nr_config_report_add(r, path, value, 0, 0, "must be at most %" PRId64 " bytes", f->max);
}

void nr__config_check_field(const nr_config_schema *schema, const nr_field *f, const void *cfg,
                            const char *prefix, nr_config_report *report)
{
    (void)schema;
    char path[NR__CONFIG_PATH_BUF];
    nr__config_path(path, sizeof(path), prefix, f->name, strlen(f->name));
    switch (f->type) {
    case NR_FT_BOOL:
        break;
    case NR_FT_INT:
        check_int(f, *NR__CONFIG_CAT(cfg, f, int64_t), path, report);
        break;
    case NR_FT_DOUBLE:
        check_double(f, *NR__CONFIG_CAT(cfg, f, double), path, report);
        break;
    case NR_FT_ENUM:
        check_enum(f, *NR__CONFIG_CAT(cfg, f, int), path, report);
        break;
    case NR_FT_STRING: {
        const char *s = *NR__CONFIG_CAT(cfg, f, char *);
        if (!s) {
            if (f->required)
                nr_config_report_add(report, path, NULL, 0, 0, "is required");
            break;
        }
        char value[NR__CONFIG_TEXT_MAX];
        nr__config_quote(value, sizeof(value), s, strlen(s));
        check_text(f, s, strlen(s), value, path, report);
        break;
    }
    case NR_FT_SECRET: {
        const nr_secret *sec = *NR__CONFIG_CAT(cfg, f, nr_secret *);
        if (!sec) {
            if (f->required)
                nr_config_report_add(report, path, NULL, 0, 0, "is required");
            break;
        }
        size_t len;
        const char *s = nr_secret_reveal(sec, &len);
        check_text(f, s, len, NR_SECRET_REDACTED, path, report);
        break;
    }
    }
}

void nr__config_run_check(const nr_config_schema *schema, const void *cfg, const char *prefix,
                          nr_config_report *report, size_t before)
{
    if (schema->check && nr__config_report_total(report) == before)
        schema->check(cfg, nr__config_prefix(prefix), report);
}

int nr_config_validate(const nr_config_schema *schema, const void *cfg, const char *path_prefix,
                       nr_config_report *report, nr_error *err)
{
    int rc = nr__config_schema_check(schema, err);
    if (rc != NR_OK)
        return rc;
    if (!cfg)
        return nr_error_set(err, NR_EINVAL, NULL, "config: no struct");
    nr_config_report local;
    nr_config_report *r = report ? report : &local;
    nr_config_report_clear(r);
    for (size_t i = 0; i < schema->nfields; i++)
        nr__config_check_field(schema, &schema->fields[i], cfg, path_prefix, r);
    nr__config_run_check(schema, cfg, path_prefix, r, 0);
    if (nr__config_report_total(r) > 0)
        return nr__config_report_fail(schema, r, err);
    return NR_OK;
}

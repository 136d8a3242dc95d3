/* config_print.c - "name.field = value" lines, secrets redacted. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/config_internal.h"

static void print_value(const nr_field *f, const void *cfg, FILE *out)
{
    char buf[40];
    switch (f->type) {
    case NR_FT_BOOL:
        fputs(*NR__CONFIG_CAT(cfg, f, bool) ? "true" : "false", out);
        break;
    case NR_FT_INT:
        fprintf(out, "%" PRId64, *NR__CONFIG_CAT(cfg, f, int64_t));
        break;
    case NR_FT_DOUBLE:
        nr__config_double_text(buf, sizeof(buf), *NR__CONFIG_CAT(cfg, f, double));
        fputs(buf, out);
        break;
    case NR_FT_ENUM: {
        int idx = *NR__CONFIG_CAT(cfg, f, int);
        if (idx >= 0 && idx < nr__config_enum_count(f))
            fputs(f->enum_names[idx], out);
        else
            fprintf(out, "(invalid: %d)", idx);
        break;
    }
    case NR_FT_STRING: {
        const char *s = *NR__CONFIG_CAT(cfg, f, char *);
        if (s)
            nr__config_quote_file(out, s, strlen(s));
        else
            fputs("(unset)", out);
        break;
    }
    case NR_FT_SECRET:
        fputs(*NR__CONFIG_CAT(cfg, f, nr_secret *) ? NR_SECRET_REDACTED : "(unset)", out);
        break;
    }
}

void nr_config_print(const nr_config_schema *schema, const void *cfg, FILE *out)
{
    if (!out || !cfg || nr__config_schema_check(schema, NULL) != NR_OK)
        return;
    const char *name = schema->name ? schema->name : "unnamed";
    for (size_t i = 0; i < schema->nfields; i++) {
        const nr_field *f = &schema->fields[i];
        fprintf(out, "%s.%s = ", name, f->name);
        print_value(f, cfg, out);
        fputc('\n', out);
    }
}

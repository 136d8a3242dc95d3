/* config_report.c - the list of issues a parse or a validation found. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/config_internal.h"

void nr_config_report_clear(nr_config_report *r)
{
    if (r)
        memset(r, 0, sizeof(*r));
}

/* Copy src into dst (size n); a copy that does not fit ends in "...". */
static void copy_marked(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len < n) {
        memcpy(dst, src, len + 1);
        return;
    }
    size_t cut = n - 4;
    while (cut > 0 && ((unsigned char)src[cut] & 0xC0) == 0x80)
        cut--; /* never split a UTF-8 sequence */
    memcpy(dst, src, cut);
    memcpy(dst + cut, "...", 4);
}

void nr_config_report_add(nr_config_report *r, const char *path, const char *value, int line,
                          int column, const char *rule_fmt, ...)
{
    if (!r)
        return;
    if (r->count >= NR_CONFIG_MAX_ISSUES) {
        r->dropped++;
        return;
    }
    nr_config_issue *i = &r->items[r->count++];
    copy_marked(i->path, sizeof(i->path), path ? path : "$");
    copy_marked(i->value, sizeof(i->value), value ? value : "");
    i->line = line > 0 ? line : 0;
    i->column = column > 0 ? column : 0;
    i->rule[0] = '\0';
    if (!rule_fmt)
        return;
    va_list ap;
    va_start(ap, rule_fmt);
    int n = vsnprintf(i->rule, sizeof(i->rule), rule_fmt, ap);
    va_end(ap);
    if (n < 0)
        i->rule[0] = '\0';
    else if ((size_t)n >= sizeof(i->rule))
        memcpy(i->rule + sizeof(i->rule) - 4, "...", 4);
}

/* One issue as "<path>: <rule> (got <value>) [line L, column C]". */
static int issue_text(char *out, size_t cap, const nr_config_issue *i)
{
    int n = snprintf(out, cap, "%s: %s", i->path, i->rule);
    if (n >= 0 && (size_t)n < cap && i->value[0])
        n += snprintf(out + n, cap - (size_t)n, " (got %s)", i->value);
    if (n >= 0 && (size_t)n < cap && i->line > 0)
        n += snprintf(out + n, cap - (size_t)n, " [line %d, column %d]", i->line, i->column);
    return n;
}

void nr_config_report_print(const nr_config_report *r, FILE *out)
{
    if (!r || !out)
        return;
    char line[NR_CONFIG_PATH_MAX + NR_CONFIG_VALUE_MAX + NR_CONFIG_RULE_MAX + 64];
    for (size_t k = 0; k < r->count && k < NR_CONFIG_MAX_ISSUES; k++) {
        issue_text(line, sizeof(line), &r->items[k]);
        fprintf(out, "%s\n", line);
    }
    if (r->dropped)
        fprintf(out, "(%zu more not shown)\n", r->dropped);
}

size_t nr__config_report_total(const nr_config_report *r)
{
    return r->count + r->dropped;
}

int nr__config_report_fail(const nr_config_schema *schema, const nr_config_report *r, nr_error *err)
{
    size_t total = nr__config_report_total(r);
    const char *name = schema->name ? schema->name : "unnamed";
    if (r->count == 0)
        return nr_error_set(err, NR_ECONFIG, NULL, "%s config: %zu problem%s", name, total,
                            total == 1 ? "" : "s");
    char first[NR_CONFIG_PATH_MAX + NR_CONFIG_VALUE_MAX + NR_CONFIG_RULE_MAX + 64];
    issue_text(first, sizeof(first), &r->items[0]);
    return nr_error_set(err, NR_ECONFIG, NULL, "%s config: %zu problem%s; first: %s", name, total,
                        total == 1 ? "" : "s", first);
}

/*
 * config_doc.c - print the markdown table of a config schema, so that the
 * READMEs' config tables are made from the schema (the one source) and the
 * test run can check that they are (scripts/config-doc.sh, docs/config.md).
 *
 *   config_doc --list              the schemas built in, one name a line
 *   config_doc NAME                the table of NAME's fields
 *   config_doc NAME and OTHER      NAME's fields that OTHER also has
 *   config_doc NAME minus OTHER    NAME's fields that OTHER does not have
 *
 * Columns: field, type, default, range / values, meaning (the field's doc).
 * A required field's default says "required"; a secret's type is "secret".
 * Exit status: 0, 2 for bad arguments or an unknown name, 3 for a schema
 * whose driver this build leaves out (the script skips its tables).
 *
 * Built in the tree, never installed. Thread safety: one thread.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/autoscale.h"
#include "nebula/config.h"
#include "nebula/health_pipeline.h"
#include "nebula/pool.h"
#include "nebula/tenants.h"
#ifdef NR_DOC_WITH_POSTGRES
#include "nebula/postgres.h"
#endif
#ifdef NR_DOC_WITH_REDIS
#include "nebula/redis.h"
#endif
#ifdef NR_DOC_WITH_HTTP
#include "nebula/http.h"
#endif
#ifdef NR_DOC_WITH_KAFKA
#include "nebula/kafka.h"
#endif
#ifdef NR_DOC_WITH_MONGO
#include "nebula/mongo.h"
#endif
#ifdef NR_DOC_WITH_SQLITE
#include "nebula/sqlite.h"
#endif
#ifdef NR_DOC_WITH_MEMCACHED
#include "memcached_type.h" /* the driver of docs/writing-a-driver.md */
#endif

/* Every schema name, with its schema when this build has it (NULL: the
 * driver was left out, so its tables cannot be checked here). */
typedef struct known {
    const char *name;
    const nr_config_schema *schema;
} known;

#define HAVE(x) &(x)
static const known schemas[] = {
    {"pool", HAVE(nr_pool_config_schema)},
    {"tenants", HAVE(nr_tenant_schema)},
    {"autoscale", HAVE(nr_autoscale_schema)},
    {"health.performance", HAVE(nr_health_performance_schema)},
    {"health.utilization", HAVE(nr_health_utilization_schema)},
#ifdef NR_DOC_WITH_POSTGRES
    {"postgres", HAVE(nr_postgres_config_schema)},
#else
    {"postgres", NULL},
#endif
#ifdef NR_DOC_WITH_REDIS
    {"redis", HAVE(nr_redis_config_schema)},
#else
    {"redis", NULL},
#endif
#ifdef NR_DOC_WITH_HTTP
    {"http", HAVE(nr_http_config_schema)},
#else
    {"http", NULL},
#endif
#ifdef NR_DOC_WITH_KAFKA
    {"kafka-producer", HAVE(nr_kafka_producer_config_schema)},
    {"kafka-consumer", HAVE(nr_kafka_consumer_config_schema)},
#else
    {"kafka-producer", NULL},
    {"kafka-consumer", NULL},
#endif
#ifdef NR_DOC_WITH_MONGO
    {"mongo", HAVE(nr_mongo_config_schema)},
#else
    {"mongo", NULL},
#endif
#ifdef NR_DOC_WITH_SQLITE
    {"sqlite", HAVE(nr_sqlite_config_schema)},
#else
    {"sqlite", NULL},
#endif
#ifdef NR_DOC_WITH_MEMCACHED
    {"memcached", HAVE(mc_config_schema)},
#else
    {"memcached", NULL},
#endif
};
#define NSCHEMAS (sizeof(schemas) / sizeof(schemas[0]))

enum { COLS = 5, CELL_MAX = 2048 };

/* The shortest text that reads back as v (an integer below a million
 * written out), exponent without '+' or leading
 * zeros ("1e8"); with point_zero, ".0" on an integral value, so that a
 * number field's default does not look like an integer's. */
static void number_text(char *buf, size_t n, double v, bool point_zero)
{
    if (v == floor(v) && fabs(v) < 1e6) {
        snprintf(buf, n, "%.0f", v); /* 90, not 9e1 */
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, n, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
    char *e = strchr(buf, 'e');
    if (e) {
        char *d = e + 1, *src = e + 1;
        if (*src == '-')
            *d++ = *src++;
        else if (*src == '+')
            src++;
        while (*src == '0' && src[1])
            src++;
        memmove(d, src, strlen(src) + 1);
    }
    if (point_zero && isfinite(v) && !strpbrk(buf, ".e"))
        strncat(buf, ".0", n - strlen(buf) - 1);
}

static const char *type_name(nr_field_type t)
{
    switch (t) {
    case NR_FT_BOOL:
        return "bool";
    case NR_FT_INT:
        return "int";
    case NR_FT_DOUBLE:
        return "number";
    case NR_FT_STRING:
        return "string";
    case NR_FT_ENUM:
        return "enum";
    case NR_FT_SECRET:
        return "secret";
    }
    return "?";
}

static void default_text(char *buf, size_t n, const nr_field *f)
{
    char num[64];
    if (f->required) {
        snprintf(buf, n, "required");
        return;
    }
    switch (f->type) {
    case NR_FT_BOOL:
        snprintf(buf, n, "`%s`", f->def_int ? "true" : "false");
        break;
    case NR_FT_INT:
        snprintf(buf, n, "`%lld`", (long long)f->def_int);
        break;
    case NR_FT_DOUBLE:
        number_text(num, sizeof(num), f->def_double, true);
        snprintf(buf, n, "`%s`", num);
        break;
    case NR_FT_ENUM:
        snprintf(buf, n, "`%s`", f->enum_names[f->def_int]);
        break;
    case NR_FT_STRING:
        if (!f->def_str)
            snprintf(buf, n, "unset");
        else if (!f->def_str[0])
            snprintf(buf, n, "`\"\"`");
        else
            snprintf(buf, n, "`%s`", f->def_str);
        break;
    case NR_FT_SECRET:
        snprintf(buf, n, "unset");
        break;
    }
}

static void range_text(char *buf, size_t n, const nr_field *f)
{
    char lo[64], hi[64];
    buf[0] = '\0';
    switch (f->type) {
    case NR_FT_BOOL:
        break;
    case NR_FT_INT:
        if (f->min != 0 || f->max != 0)
            snprintf(buf, n, "%lld..%lld", (long long)f->min, (long long)f->max);
        break;
    case NR_FT_DOUBLE:
        if (f->dmin != 0 || f->dmax != 0) {
            number_text(lo, sizeof(lo), f->dmin, false);
            number_text(hi, sizeof(hi), f->dmax, false);
            snprintf(buf, n, "%s..%s", lo, hi);
        }
        break;
    case NR_FT_STRING:
    case NR_FT_SECRET:
        if (f->min > 0 && f->max > 0)
            snprintf(buf, n, "%lld..%lld bytes", (long long)f->min, (long long)f->max);
        else if (f->max > 0)
            snprintf(buf, n, "at most %lld bytes", (long long)f->max);
        else if (f->min > 0)
            snprintf(buf, n, "at least %lld bytes", (long long)f->min);
        break;
    case NR_FT_ENUM:
        for (size_t i = 0; f->enum_names[i]; i++) {
            size_t len = strlen(buf);
            snprintf(buf + len, n - len, "%s`%s`", i ? ", " : "", f->enum_names[i]);
        }
        break;
    }
}

/* A cell's text as markdown keeps it: '|' escaped, line breaks as spaces. */
static void cell_text(char *dst, size_t n, const char *src)
{
    size_t k = 0;
    for (; src && *src && k + 2 < n; src++) {
        if (*src == '|')
            dst[k++] = '\\';
        dst[k++] = (*src == '\n' || *src == '\r') ? ' ' : *src;
    }
    dst[k] = '\0';
}

typedef struct row {
    char cell[COLS][CELL_MAX];
} row;

static void fill_row(row *r, const nr_field *f)
{
    char raw[CELL_MAX];
    snprintf(raw, sizeof(raw), "`%s`", f->name);
    cell_text(r->cell[0], CELL_MAX, raw);
    cell_text(r->cell[1], CELL_MAX, type_name(f->type));
    default_text(raw, sizeof(raw), f);
    cell_text(r->cell[2], CELL_MAX, raw);
    range_text(raw, sizeof(raw), f);
    cell_text(r->cell[3], CELL_MAX, raw);
    cell_text(r->cell[4], CELL_MAX, f->doc ? f->doc : "");
}

/* Write the rows as a table whose first four columns line up in the text
 * (the meaning column is left ragged: it is long). */
static void print_table(const row *rows, size_t nrows)
{
    static const row head = {{"field", "type", "default", "range / values", "meaning"}};
    size_t width[COLS] = {0};
    for (size_t c = 0; c < COLS - 1; c++) {
        width[c] = strlen(head.cell[c]);
        for (size_t i = 0; i < nrows; i++)
            if (strlen(rows[i].cell[c]) > width[c])
                width[c] = strlen(rows[i].cell[c]);
    }
    for (size_t i = 0; i < nrows + 2; i++) {
        const row *r = i == 0 ? &head : &rows[i - 2];
        for (size_t c = 0; c < COLS; c++) {
            if (i == 1) {
                size_t w = width[c] ? width[c] : 3;
                printf("| ");
                for (size_t k = 0; k < w; k++)
                    putchar('-');
                printf(c + 1 < COLS ? " " : " |\n");
                continue;
            }
            if (c + 1 < COLS)
                printf("| %-*s ", (int)width[c], r->cell[c]);
            else
                printf("| %s |\n", r->cell[c]);
        }
    }
}

static int find(const char *name, const nr_config_schema **out)
{
    for (size_t i = 0; i < NSCHEMAS; i++) {
        if (strcmp(schemas[i].name, name) == 0) {
            *out = schemas[i].schema;
            if (!*out) {
                fprintf(stderr, "config_doc: %s: its driver is not in this build\n", name);
                return 3;
            }
            return 0;
        }
    }
    fprintf(stderr, "config_doc: no schema named \"%s\" (see --list)\n", name);
    return 2;
}

static int usage(void)
{
    fprintf(stderr, "usage: config_doc --list | NAME [and|minus OTHER]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < NSCHEMAS; i++)
            if (schemas[i].schema)
                printf("%s\n", schemas[i].name);
        return 0;
    }
    if (argc != 2 && argc != 4)
        return usage();
    const nr_config_schema *s = NULL, *other = NULL;
    int rc = find(argv[1], &s);
    bool keep_common = true;
    if (rc == 0 && argc == 4) {
        if (strcmp(argv[2], "and") != 0 && strcmp(argv[2], "minus") != 0)
            return usage();
        keep_common = strcmp(argv[2], "and") == 0;
        rc = find(argv[3], &other);
    }
    if (rc != 0)
        return rc;

    row *rows = calloc(s->nfields ? s->nfields : 1, sizeof(*rows));
    if (!rows) {
        fprintf(stderr, "config_doc: out of memory\n");
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        const nr_field *f = &s->fields[i];
        if (other && (nr_config_field(other, f->name) != NULL) != keep_common)
            continue;
        fill_row(&rows[n++], f);
    }
    print_table(rows, n);
    free(rows);
    return 0;
}

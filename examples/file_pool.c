/*
 * file_pool.c - writing a resource type of your own: a pool of append-only
 * log files. Shows the config schema table, the five callbacks, a pool with
 * maintenance, the scoped guard and error handling.
 *
 *     example_file_pool [DIR]      (default: a new folder under /tmp)
 */
#define _DEFAULT_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nebula/resource.h"

/* 1. The config struct and its schema: defaults, rules, JSON, printing. */
typedef struct log_config {
    char *path;      /* file to append to */
    int64_t max_kib; /* an instance whose file grew past this is unhealthy */
} log_config;

static const nr_field log_fields[] = {
    {.name = "path",
     .type = NR_FT_STRING,
     .offset = offsetof(log_config, path),
     .required = true,
     .min = 1,
     .max = 4096,
     .doc = "file to append to"},
    {.name = "max_kib",
     .type = NR_FT_INT,
     .offset = offsetof(log_config, max_kib),
     .min = 1,
     .max = 1 << 20,
     .def_int = 1024,
     .doc = "largest healthy file size in KiB"},
};

static const nr_config_schema log_schema = {
    .name = "logfile",
    .struct_size = sizeof(log_config),
    .fields = log_fields,
    .nfields = sizeof(log_fields) / sizeof(log_fields[0]),
};

/* 2. The callbacks. They run with no library lock held. */
static int log_create(void **out, const void *cfg, const nr_create_ctx *ctx, void *ud,
                      nr_error *err)
{
    (void)ud;
    const log_config *c = cfg;
    FILE *f = fopen(c->path, "a");
    if (!f)
        return nr_error_set(err, NR_EUNAVAIL, ctx->resource_id, "cannot open '%s' for append",
                            c->path);
    *out = f;
    return NR_OK;
}

static void log_destroy(void *h, void *ud)
{
    (void)ud;
    fclose(h);
}

static int log_validate(void *h, void *ud, nr_error *err)
{
    (void)ud;
    return ferror((FILE *)h) ? nr_error_set(err, NR_EUNAVAIL, NULL, "stream in error") : NR_OK;
}

static int log_recycle(void *h, void *ud, nr_error *err)
{
    (void)ud;
    return fflush(h) == 0 ? NR_OK : nr_error_set(err, NR_ECLEANUP, NULL, "flush failed");
}

static int log_health(void *h, void *ud, nr_deadline dl, nr_health_report *r, nr_error *err)
{
    (void)dl;
    (void)err;
    const log_config *c = ud;
    long size = ftell(h);
    r->state = size >= 0 && size < c->max_kib * 1024 ? NR_HEALTH_HEALTHY : NR_HEALTH_DEGRADED;
    if (r->state != NR_HEALTH_HEALTHY)
        snprintf(r->reason, sizeof(r->reason), "file is %ld bytes", size);
    return NR_OK;
}

static const nr_resource_type log_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "logfile",
    .config_schema = &log_schema,
    .create = log_create,
    .destroy = log_destroy,
    .validate = log_validate,
    .recycle = log_recycle,
    .health_check = log_health,
};

static int write_line(nr_pool *pool, const char *text)
{
    nr_error err = {0};
    NR_GUARD_SCOPED g = NR_GUARD_INIT; /* released when this function returns */
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(1000));
    if (nr_pool_acquire(pool, &ctx, &g, &err) != NR_OK) {
        fprintf(stderr, "acquire: %s\n", err.message);
        return -1;
    }
    return fprintf(nr_guard_handle(&g), "%s\n", text) > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/nebula-example.XXXXXX";
    const char *where = argc > 1 ? argv[1] : mkdtemp(dir);
    if (!where)
        return 1;
    char path[4200], json[4400];
    snprintf(path, sizeof(path), "%s/app.log", where);

    /* 3. Configs usually come from JSON; errors name the field and the rule. */
    log_config cfg;
    nr_config_report rep;
    nr_error err = {0};
    if (nr_config_parse(&log_schema, "{\"max_kib\": 0}", 14, &cfg, &rep, &err) != NR_OK)
        printf("rejected as expected: %s\n", err.message);
    nr_config_free(&log_schema, &cfg);
    snprintf(json, sizeof(json), "{\"path\": \"%s\", \"max_kib\": 64}", path);
    if (nr_config_parse(&log_schema, json, strlen(json), &cfg, &rep, &err) != NR_OK) {
        nr_config_report_print(&rep, stderr);
        return 1;
    }
    nr_config_print(&log_schema, &cfg, stdout);

    /* 4. A pool of at most 2 open files, one kept ready. */
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 2;
    pc.min_idle = 1;
    nr_pool *pool = NULL;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "app-log", .type = &log_type, .type_ud = &cfg,
                                        .config = &cfg, .pool = &pc);
    if (nr_pool_create(&pool, &o, &err) != NR_OK) {
        fprintf(stderr, "pool: %s\n", err.message);
        return 1;
    }
    nr_pool_maintain(pool, NULL, NULL); /* warms the pool to min_idle */
    int status = 0;
    for (int i = 0; i < 10 && status == 0; i++) {
        char line[64];
        snprintf(line, sizeof(line), "event %d", i);
        status = write_line(pool, line);
    }
    nr_pool_health_report hr;
    nr_pool_check_health(pool, NR_NS_PER_S, &hr, NULL);
    nr_pool_stats s = NR_POOL_STATS_INIT;
    nr_pool_stats_get(pool, &s);
    printf("wrote 10 lines through %llu open file(s); health %s\n", (unsigned long long)s.creates,
           nr_health_name(hr.worst));
    if (nr_pool_destroy(pool, &err) != NR_OK) {
        fprintf(stderr, "destroy: %s\n", err.message);
        status = 1;
    }

    /* The file holds exactly the ten lines. */
    FILE *f = fopen(path, "r");
    int lines = 0;
    for (int c; f && (c = fgetc(f)) != EOF;)
        lines += c == '\n';
    if (f)
        fclose(f);
    printf("%s has %d lines\n", path, lines);
    if (lines != 10)
        status = 1;
    nr_config_free(&log_schema, &cfg);
    if (argc <= 1) {
        unlink(path);
        rmdir(where);
    }
    return status;
}

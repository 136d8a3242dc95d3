/*
 * basic.c - one resource, no pool: a resource type of your own (a "counter"
 * connection), its config read from JSON and checked by its schema, one
 * instance made, checked and destroyed through the type's callbacks. What
 * a pool does for you later is exactly this, many times over.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/resource.h"

typedef struct counter_config {
    char *name;
    int64_t limit; /* an instance that counted past this is unhealthy */
} counter_config;

static const nr_field counter_fields[] = {
    {.name = "name",
     .type = NR_FT_STRING,
     .offset = offsetof(counter_config, name),
     .required = true,
     .min = 1,
     .max = 64,
     .doc = "what it counts"},
    {.name = "limit",
     .type = NR_FT_INT,
     .offset = offsetof(counter_config, limit),
     .min = 1,
     .max = 1000000,
     .def_int = 3,
     .doc = "healthy up to this count"},
};
static const nr_config_schema counter_schema = {.name = "counter",
                                                .struct_size = sizeof(counter_config),
                                                .fields = counter_fields,
                                                .nfields = sizeof(counter_fields) /
                                                           sizeof(counter_fields[0])};

typedef struct counter {
    int64_t n, limit;
} counter;

static int counter_create(void **out, const void *cfg, const nr_create_ctx *ctx, void *ud,
                          nr_error *err)
{
    (void)ud;
    counter *c = calloc(1, sizeof(*c));
    if (!c)
        return nr_error_set(err, NR_ENOMEM, ctx->resource_id, "out of memory");
    c->limit = ((const counter_config *)cfg)->limit;
    *out = c;
    return NR_OK;
}

static void counter_destroy(void *h, void *ud)
{
    (void)ud;
    free(h);
}

static int counter_check(void *h, void *ud, nr_deadline deadline, nr_health_report *r,
                         nr_error *err)
{
    (void)ud;
    (void)deadline;
    (void)err;
    const counter *c = h;
    r->state = c->n <= c->limit ? NR_HEALTH_HEALTHY : NR_HEALTH_UNHEALTHY;
    snprintf(r->reason, sizeof(r->reason), "count %lld of %lld", (long long)c->n,
             (long long)c->limit);
    return NR_OK;
}

static const nr_resource_type counter_type = {.version = NR_RESOURCE_TYPE_VERSION,
                                              .name = "counter",
                                              .config_schema = &counter_schema,
                                              .create = counter_create,
                                              .destroy = counter_destroy,
                                              .health_check = counter_check};

int main(void)
{
    const char *json = "{\"name\": \"visits\", \"limit\": 2}";
    counter_config cfg;
    nr_config_report rep;
    nr_error err = {0};
    if (nr_resource_type_check(&counter_type, &err) != NR_OK ||
        nr_config_parse(&counter_schema, json, strlen(json), &cfg, &rep, &err) != NR_OK) {
        fprintf(stderr, "config: %s\n", err.message);
        return 1;
    }
    nr_config_print(&counter_schema, &cfg, stdout); /* secrets would print as <redacted> */
    nr_create_ctx ctx = {.resource_id = "visits", .deadline = nr_deadline_in_ms(1000)};
    void *h = NULL;
    if (counter_type.create(&h, &cfg, &ctx, NULL, &err) != NR_OK) {
        fprintf(stderr, "create: %s\n", err.message);
        return 1;
    }
    nr_health_report hr = {0};
    for (int i = 0; i < 3; i++) {
        ((counter *)h)->n++;
        counter_type.health_check(h, NULL, nr_deadline_in_ms(100), &hr, &err);
        printf("after %d: %s (%s)\n", i + 1, nr_health_name(hr.state), hr.reason);
    }
    counter_type.destroy(h, NULL);
    /* a bad config is refused by field, with the rule */
    const char *bad = "{\"name\": \"visits\", \"limit\": 0}";
    counter_config other;
    if (nr_config_parse(&counter_schema, bad, strlen(bad), &other, &rep, &err) == NR_OK)
        return 1;
    printf("refused: %s\n", err.message);
    nr_config_free(&counter_schema, &cfg);
    return hr.state == NR_HEALTH_UNHEALTHY ? 0 : 1;
}

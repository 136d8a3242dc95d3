/*
 * fuzz_config.c - libFuzzer target: the input is JSON text for a schema with
 * every field type. A parse that succeeds must give a config that validates,
 * serializes and parses back to an equal config, and whose redacted text and
 * printout do not depend on (or show) its secrets. A parse that fails must
 * fail with NR_ECONFIG, name at least one issue and leave the defaults.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/resource.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const colors[] = {"red", "green", "blue", NULL};

typedef struct fcfg {
    bool on;
    int64_t port;
    int64_t offset;
    double ratio;
    double weight;
    char *name;
    char *note;
    int color;
    nr_secret *password;
    nr_secret *token;
} fcfg;

static const nr_field fields[] = {
    {.name = "on", .type = NR_FT_BOOL, .offset = offsetof(fcfg, on), .def_int = 1},
    {.name = "port",
     .type = NR_FT_INT,
     .offset = offsetof(fcfg, port),
     .min = 1,
     .max = 65535,
     .def_int = 5432},
    {.name = "offset", .type = NR_FT_INT, .offset = offsetof(fcfg, offset)},
    {.name = "ratio",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(fcfg, ratio),
     .dmin = 0,
     .dmax = 1,
     .def_double = 0.5},
    {.name = "weight", .type = NR_FT_DOUBLE, .offset = offsetof(fcfg, weight)},
    {.name = "name",
     .type = NR_FT_STRING,
     .offset = offsetof(fcfg, name),
     .required = true,
     .min = 1,
     .max = 32},
    {.name = "note",
     .type = NR_FT_STRING,
     .offset = offsetof(fcfg, note),
     .max = 256,
     .def_str = "none"},
    {.name = "color", .type = NR_FT_ENUM, .offset = offsetof(fcfg, color), .enum_names = colors},
    {.name = "password", .type = NR_FT_SECRET, .offset = offsetof(fcfg, password), .max = 64},
    {.name = "token", .type = NR_FT_SECRET, .offset = offsetof(fcfg, token), .min = 4},
};

static void check(const void *cfg, const char *path, nr_config_report *report)
{
    const fcfg *c = cfg;
    if (!c->on && c->color == 0)
        nr_config_report_add(report, path, NULL, 0, 0, "red needs on");
}

static const nr_config_schema schema = {
    .name = "fuzz",
    .struct_size = sizeof(fcfg),
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .check = check,
};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant broken at line %d: %s\n", __LINE__, #cond);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char *print_text(const fcfg *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    nr_config_print(&schema, c, f);
    fclose(f);
    return buf;
}

/* A copy of c whose secrets hold other bytes of the same length. */
static void flip_secrets(const fcfg *c, fcfg *out)
{
    CHECK(nr_config_copy(&schema, out, c, NULL) == NR_OK);
    nr_secret **slots[] = {&out->password, &out->token};
    for (size_t i = 0; i < 2; i++) {
        if (!*slots[i])
            continue;
        size_t len;
        const char *s = nr_secret_reveal(*slots[i], &len);
        char *x = malloc(len + 1);
        CHECK(x != NULL);
        for (size_t k = 0; k < len; k++)
            x[k] = (char)(s[k] ^ 0x01);
        nr_secret_free(*slots[i]);
        CHECK(nr_secret_create(slots[i], x, len, NULL) == NR_OK);
        free(x);
    }
}

/* The secret shows up in text only where the flipped config's text has the
 * same bytes (a coincidence with another field), never because of itself. */
static void check_hidden(const nr_secret *s, const char *text, const char *text_flipped)
{
    if (nr_secret_len(s) < 4)
        return;
    const char *v = nr_secret_reveal(s, NULL);
    if (strstr(text, v))
        CHECK(strstr(text_flipped, v) != NULL);
}

static void check_secrets(const fcfg *c)
{
    fcfg o;
    flip_secrets(c, &o);
    char *red = nr_config_serialize(&schema, c, NR_CONFIG_SECRETS_REDACT, NULL);
    char *red_o = nr_config_serialize(&schema, &o, NR_CONFIG_SECRETS_REDACT, NULL);
    char *pr = print_text(c), *pr_o = print_text(&o);
    CHECK(red && red_o && pr && pr_o);
    CHECK(strcmp(red, red_o) == 0);
    CHECK(strcmp(pr, pr_o) == 0);
    check_hidden(c->password, red, red_o);
    check_hidden(c->token, red, red_o);
    check_hidden(c->password, pr, pr_o);
    check_hidden(c->token, pr, pr_o);
    nr_free(red);
    nr_free(red_o);
    free(pr);
    free(pr_o);
    nr_config_free(&schema, &o);
}

static void check_failure(const fcfg *c, const nr_config_report *r, const nr_error *err)
{
    fcfg def;
    CHECK(nr_config_init(&schema, &def, NULL) == NR_OK);
    CHECK(nr_config_equal(&schema, c, &def));
    nr_config_free(&schema, &def);
    CHECK(r->count > 0);
    CHECK(strncmp(err->message, "fuzz config: ", 13) == 0);
    for (size_t i = 0; i < r->count; i++) {
        const nr_config_issue *is = &r->items[i];
        if (strcmp(is->path, "$.password") == 0 || strcmp(is->path, "$.token") == 0)
            CHECK(is->value[0] == '\0' || strcmp(is->value, NR_SECRET_REDACTED) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fcfg c, back;
    nr_config_report r;
    nr_error err = {0};
    int rc = nr_config_parse(&schema, (const char *)data, size, &c, &r, &err);
    if (rc != NR_OK) {
        CHECK(rc == NR_ECONFIG);
        check_failure(&c, &r, &err);
        nr_config_free(&schema, &c);
        return 0;
    }
    CHECK(nr_config_validate(&schema, &c, "$", &r, &err) == NR_OK);

    char *text = nr_config_serialize(&schema, &c, NR_CONFIG_SECRETS_REVEAL, &err);
    CHECK(text != NULL);
    CHECK(nr_config_parse(&schema, text, strlen(text), &back, &r, &err) == NR_OK);
    CHECK(nr_config_equal(&schema, &c, &back));
    char *again = nr_config_serialize(&schema, &back, NR_CONFIG_SECRETS_REVEAL, &err);
    CHECK(again != NULL && strcmp(text, again) == 0);

    check_secrets(&c);

    nr_free(again);
    nr_free(text);
    nr_config_free(&schema, &back);
    nr_config_free(&schema, &c);
    return 0;
}

/* test_config_fields.c - the X-macro lists of nebula/config_fields.h: the
 * struct a list makes is the hand-written one (member types, offsets, size),
 * the schema it makes holds every kind's type, bounds, default, flags, enum
 * names and doc, a shared sub-list and a RAW member behave as documented, and
 * the generic functions work on it (parse, serialize, parse again; secrets
 * redacted in print; a missing required field named). */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a list of every kind, with a shared sub-list and a RAW member ------------------ */

enum { SPEED_SLOW, SPEED_FAST, SPEED_WARP };
static const char *const speed_names[] = {"slow", "fast", "warp", NULL};

#define LIMITS_FIELDS(X, T)                                                                        \
    X(T, INT, retries, 0, 10, 3, 0, "retries after a failure")                                     \
    X(T, DOUBLE, factor, 1.0, 10.0, 2.0, 0, "growth of the delay")

#define DEMO_FIELDS(X, T)                                                                          \
    X(T, STRING, host, 1, 64, "localhost", 0, "server name")                                       \
    X(T, INT, port, 1, 65535, 5432, NR_CF_REQUIRED, "server port")                                 \
    LIMITS_FIELDS(X, T)                                                                            \
    X(T, BOOL, verbose, 0, 1, 1, 0, "talk a lot")                                                  \
    X(T, RAW, cache, void *, 0, 0, 0, "not a field: the owner's pointer")                          \
    X(T, ENUM, speed, speed_names, 0, SPEED_FAST, 0, "`slow`, `fast` or `warp`")                   \
    X(T, SECRET, token, 0, 4096, NULL, 0, "API token")                                             \
    X(T, STRING, note, 0, 0, NULL, 0, "free text")

NR_CONFIG_STRUCT(demo_config, DEMO_FIELDS)
/* a schema has external linkage, as the headers declare them */
extern const nr_config_schema demo_schema;
NR_CONFIG_SCHEMA(demo_schema, "demo", demo_config, DEMO_FIELDS, NULL);

/* What the list must make, written by hand. */
struct demo_twin {
    char *host;
    int64_t port;
    int64_t retries;
    double factor;
    bool verbose;
    void *cache;
    int speed;
    nr_secret *token;
    char *note;
};

#define SAME_MEMBER(m)                                                                             \
    _Static_assert(offsetof(demo_config, m) == offsetof(struct demo_twin, m), #m " offset");       \
    _Static_assert(sizeof(((demo_config *)0)->m) == sizeof(((struct demo_twin *)0)->m), #m " siz"  \
                                                                                           "e")
SAME_MEMBER(host);
SAME_MEMBER(port);
SAME_MEMBER(retries);
SAME_MEMBER(factor);
SAME_MEMBER(verbose);
SAME_MEMBER(cache);
SAME_MEMBER(speed);
SAME_MEMBER(token);
SAME_MEMBER(note);
_Static_assert(sizeof(demo_config) == sizeof(struct demo_twin), "struct size");
_Static_assert(alignof(demo_config) == alignof(struct demo_twin), "struct alignment");

/* The C types, not only their sizes: a pointer of the wrong type does not
 * convert without a cast, so these initialisations fail to compile then. */
static void member_types(demo_config *c)
{
    char **host = &c->host;
    int64_t *port = &c->port;
    int64_t *retries = &c->retries;
    double *factor = &c->factor;
    bool *verbose = &c->verbose;
    void **cache = &c->cache;
    int *speed = &c->speed;
    nr_secret **token = &c->token;
    char **note = &c->note;
    (void)host, (void)port, (void)retries, (void)factor, (void)verbose, (void)cache;
    (void)speed, (void)token, (void)note;
}

/* RAW members alone make a struct (a schema needs one field at least: C has
 * no empty array). */
#define ONLY_RAW_FIELDS(X, T) X(T, RAW, opaque, int, 0, 0, 0, "not a field")
NR_CONFIG_STRUCT(only_raw_config, ONLY_RAW_FIELDS)

/* ---- the schema ------------------------------------------------------------------- */

static const nr_field *field(const char *name)
{
    const nr_field *f = nr_config_field(&demo_schema, name);
    assert_non_null(f);
    return f;
}

static void test_schema_fields(void **state)
{
    (void)state;
    member_types(&(demo_config){0});
    assert_string_equal(demo_schema.name, "demo");
    assert_int_equal(demo_schema.struct_size, sizeof(demo_config));
    assert_null(demo_schema.check);
    /* the RAW member is no field; the rest are in list order */
    assert_int_equal(demo_schema.nfields, 8);
    static const char *const order[] = {"host",    "port",  "retries", "factor",
                                        "verbose", "speed", "token",   "note"};
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(demo_schema.fields[i].name, order[i]);
    assert_null(nr_config_field(&demo_schema, "cache"));

    const nr_field *f = field("host");
    assert_int_equal(f->type, NR_FT_STRING);
    assert_int_equal(f->offset, offsetof(demo_config, host));
    assert_int_equal(f->min, 1);
    assert_int_equal(f->max, 64);
    assert_string_equal(f->def_str, "localhost");
    assert_false(f->required);
    assert_string_equal(f->doc, "server name");

    f = field("port");
    assert_int_equal(f->type, NR_FT_INT);
    assert_int_equal(f->offset, offsetof(demo_config, port));
    assert_int_equal(f->min, 1);
    assert_int_equal(f->max, 65535);
    assert_int_equal(f->def_int, 5432);
    assert_true(f->required);

    f = field("retries"); /* from the sub-list */
    assert_int_equal(f->type, NR_FT_INT);
    assert_int_equal(f->offset, offsetof(demo_config, retries));
    assert_int_equal(f->max, 10);
    assert_int_equal(f->def_int, 3);

    f = field("factor");
    assert_int_equal(f->type, NR_FT_DOUBLE);
    assert_true(f->dmin == 1.0 && f->dmax == 10.0 && f->def_double == 2.0);
    assert_int_equal(f->min, 0);
    assert_int_equal(f->max, 0);

    f = field("verbose");
    assert_int_equal(f->type, NR_FT_BOOL);
    assert_int_equal(f->def_int, 1);
    assert_int_equal(f->min, 0); /* a bool's bounds are not a range */
    assert_int_equal(f->max, 0);

    f = field("speed");
    assert_int_equal(f->type, NR_FT_ENUM);
    assert_int_equal(f->offset, offsetof(demo_config, speed));
    assert_ptr_equal(f->enum_names, speed_names);
    assert_int_equal(f->def_int, SPEED_FAST);
    assert_int_equal(f->max, 0);

    f = field("token");
    assert_int_equal(f->type, NR_FT_SECRET);
    assert_int_equal(f->offset, offsetof(demo_config, token));
    assert_int_equal(f->max, 4096);
    assert_null(f->def_str);

    f = field("note");
    assert_int_equal(f->type, NR_FT_STRING);
    assert_int_equal(f->min, 0);
    assert_int_equal(f->max, 0);
    assert_null(f->def_str);
}

/* ---- the generic functions on it ------------------------------------------------------- */

static void test_defaults_and_raw(void **state)
{
    (void)state;
    demo_config c;
    memset(&c, 0x5a, sizeof(c));
    assert_int_equal(nr_config_init(&demo_schema, &c, NULL), NR_OK);
    assert_string_equal(c.host, "localhost");
    assert_int_equal(c.port, 5432);
    assert_int_equal(c.retries, 3);
    assert_true(c.factor == 2.0);
    assert_true(c.verbose);
    assert_null(c.cache); /* zeroed by init */
    assert_int_equal(c.speed, SPEED_FAST);
    assert_null(c.token);
    assert_null(c.note);

    /* copy takes a RAW member's bytes as they are */
    int owner_data = 7;
    c.cache = &owner_data;
    demo_config d;
    assert_int_equal(nr_config_copy(&demo_schema, &d, &c, NULL), NR_OK);
    assert_ptr_equal(d.cache, &owner_data);
    assert_ptr_not_equal(d.host, c.host);
    assert_true(nr_config_equal(&demo_schema, &c, &d));
    d.cache = NULL; /* equal ignores it */
    assert_true(nr_config_equal(&demo_schema, &c, &d));
    nr_config_free(&demo_schema, &d);
    assert_null(d.cache); /* zeroed by free */
    nr_config_free(&demo_schema, &c);

    only_raw_config r = {.opaque = 3};
    (void)r;
}

static const char *const full =
    "{\"host\":\"db.example\",\"port\":6543,\"retries\":0,\"factor\":1.5,\"verbose\":false,"
    "\"speed\":\"warp\",\"token\":\"s3cr3t-t0ken\",\"note\":\"hello\"}";

static void test_round_trip(void **state)
{
    (void)state;
    demo_config a, b;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_config_parse(&demo_schema, full, strlen(full), &a, &r, &err), NR_OK);
    assert_string_equal(a.host, "db.example");
    assert_int_equal(a.port, 6543);
    assert_int_equal(a.retries, 0);
    assert_true(a.factor == 1.5);
    assert_false(a.verbose);
    assert_int_equal(a.speed, SPEED_WARP);
    assert_string_equal(nr_secret_reveal(a.token, NULL), "s3cr3t-t0ken");
    assert_string_equal(a.note, "hello");

    char *text = nr_config_serialize(&demo_schema, &a, NR_CONFIG_SECRETS_REVEAL, &err);
    assert_non_null(text);
    assert_string_equal(text, full); /* keys in list order, values as given */
    assert_int_equal(nr_config_parse(&demo_schema, text, strlen(text), &b, &r, &err), NR_OK);
    assert_true(nr_config_equal(&demo_schema, &a, &b));
    nr_free(text);

    /* a redacted serialization never holds the secret */
    text = nr_config_serialize(&demo_schema, &a, NR_CONFIG_SECRETS_REDACT, &err);
    assert_non_null(text);
    assert_null(strstr(text, "s3cr3t"));
    assert_non_null(strstr(text, "\"token\":\"<redacted>\""));
    nr_free(text);
    nr_config_free(&demo_schema, &a);
    nr_config_free(&demo_schema, &b);
}

static void test_print_redacts(void **state)
{
    (void)state;
    demo_config c;
    assert_int_equal(nr_config_parse(&demo_schema, full, strlen(full), &c, NULL, NULL), NR_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    nr_config_print(&demo_schema, &c, out);
    fclose(out);
    assert_string_equal(buf, "demo.host = \"db.example\"\n"
                             "demo.port = 6543\n"
                             "demo.retries = 0\n"
                             "demo.factor = 1.5\n"
                             "demo.verbose = false\n"
                             "demo.speed = warp\n"
                             "demo.token = <redacted>\n"
                             "demo.note = \"hello\"\n");
    assert_null(strstr(buf, "s3cr3t"));
    free(buf);
    nr_config_free(&demo_schema, &c);
}

static void test_required_and_rules(void **state)
{
    (void)state;
    demo_config c;
    nr_config_report r;
    nr_error err = {0};
    const char *text = "{\"host\":\"h\"}";
    assert_int_equal(nr_config_parse(&demo_schema, text, strlen(text), &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$.port");
    assert_string_equal(r.items[0].rule, "is required");
    assert_string_equal(err.message, "demo config: 1 problem; first: $.port: is required");
    nr_config_free(&demo_schema, &c);

    /* the bounds from the list are the rules */
    text = "{\"port\":70000,\"retries\":11,\"factor\":0.5,\"host\":\"\",\"speed\":\"hyper\"}";
    assert_int_equal(nr_config_parse(&demo_schema, text, strlen(text), &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 5);
    assert_string_equal(r.items[0].path, "$.host");
    assert_string_equal(r.items[1].path, "$.port");
    assert_string_equal(r.items[1].rule, "must be between 1 and 65535");
    assert_string_equal(r.items[2].path, "$.retries");
    assert_string_equal(r.items[3].path, "$.factor");
    assert_string_equal(r.items[4].path, "$.speed");
    nr_config_free(&demo_schema, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_fields),      cmocka_unit_test(test_defaults_and_raw),
        cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_print_redacts),
        cmocka_unit_test(test_required_and_rules),
    };
    return cmocka_run_group_tests_name("config_fields", tests, NULL, NULL);
}

/* test_config.c - config schemas: report, defaults, rules, JSON parse and
 * serialize, printer, copy, comparison and out-of-memory paths. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"

/* ---- the test schema: one field of every type ---------------------------- */

enum { MODE_FAST, MODE_SAFE, MODE_OFF };
static const char *const mode_names[] = {"fast", "safe", "off", NULL};

typedef struct tcfg {
    bool enabled;
    int64_t count;
    int64_t delta;
    double ratio;
    double scale;
    char *name;
    char *note;
    char *host;
    int mode;
    nr_secret *password;
    nr_secret *token;
} tcfg;

static const nr_field t_fields[] = {
    {.name = "enabled", .type = NR_FT_BOOL, .offset = offsetof(tcfg, enabled), .def_int = 1},
    {.name = "count",
     .type = NR_FT_INT,
     .offset = offsetof(tcfg, count),
     .required = true,
     .min = 1,
     .max = 1000000,
     .def_int = 10},
    {.name = "delta", .type = NR_FT_INT, .offset = offsetof(tcfg, delta), .def_int = -5},
    {.name = "ratio",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(tcfg, ratio),
     .dmin = 0,
     .dmax = 1,
     .def_double = 0.25},
    {.name = "scale", .type = NR_FT_DOUBLE, .offset = offsetof(tcfg, scale), .def_double = 1.5},
    {.name = "name",
     .type = NR_FT_STRING,
     .offset = offsetof(tcfg, name),
     .required = true,
     .min = 1,
     .max = 16},
    {.name = "note", .type = NR_FT_STRING, .offset = offsetof(tcfg, note), .max = 64},
    {.name = "host",
     .type = NR_FT_STRING,
     .offset = offsetof(tcfg, host),
     .max = 253,
     .def_str = "localhost"},
    {.name = "mode",
     .type = NR_FT_ENUM,
     .offset = offsetof(tcfg, mode),
     .def_int = MODE_SAFE,
     .enum_names = mode_names},
    {.name = "password", .type = NR_FT_SECRET, .offset = offsetof(tcfg, password), .max = 32},
    {.name = "token", .type = NR_FT_SECRET, .offset = offsetof(tcfg, token), .min = 4},
};

/* Cross-field rule: mode "off" contradicts enabled. */
static void t_check(const void *cfg, const char *path, nr_config_report *report)
{
    const tcfg *c = cfg;
    if (c->enabled && c->mode == MODE_OFF) {
        char p[NR_CONFIG_PATH_MAX];
        snprintf(p, sizeof(p), "%s.mode", path);
        nr_config_report_add(report, p, "\"off\"", 0, 0, "must not be off while enabled");
    }
}

static const nr_config_schema t_schema = {
    .name = "test",
    .struct_size = sizeof(tcfg),
    .fields = t_fields,
    .nfields = sizeof(t_fields) / sizeof(t_fields[0]),
    .check = t_check,
};

#define SECRET_PW  "s3cr3t-pa55w0rd"
#define SECRET_TOK "tok-9f8e7d6c"

static const char full_json[] =
    "{\"enabled\":false,\"count\":42,\"delta\":-7,\"ratio\":0.5,"
    "\"scale\":-2.75,\"name\":\"alpha\",\"note\":\"n\",\"host\":\"db\","
    "\"mode\":\"fast\",\"password\":\"" SECRET_PW "\",\"token\":\"" SECRET_TOK "\"}";

static int parse(const char *text, tcfg *c, nr_config_report *r, nr_error *err)
{
    return nr_config_parse(&t_schema, text, strlen(text), c, r, err);
}

/* Parse text that must fail with exactly one issue; returns that issue. */
static nr_config_issue one_issue(const char *text)
{
    tcfg c;
    nr_config_report r;
    nr_error err = {0};
    int rc = parse(text, &c, &r, &err);
    if (rc != NR_ECONFIG || r.count != 1) {
        nr_config_report_print(&r, stderr);
        fail_msg("expected one issue for %s, rc %d, %zu issues", text, rc, r.count);
    }
    NR_ASSERT_ERR(err, NR_ECONFIG, "test config: 1 problem; first: ");
    nr_config_free(&t_schema, &c);
    return r.items[0];
}

static void assert_issue(const char *text, const char *path, const char *value, const char *rule)
{
    nr_config_issue i = one_issue(text);
    assert_string_equal(i.path, path);
    assert_string_equal(i.value, value);
    assert_string_equal(i.rule, rule);
    assert_int_equal(i.line, 0);
    assert_int_equal(i.column, 0);
}

/* Does the issue list hold an issue with this path and rule? */
static bool has_issue(const nr_config_report *r, const char *path, const char *rule)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->items[i].path, path) == 0 && strcmp(r->items[i].rule, rule) == 0)
            return true;
    return false;
}

static void assert_no_text(const nr_config_report *r, const nr_error *err, const char *needle)
{
    for (size_t i = 0; i < r->count; i++) {
        assert_null(strstr(r->items[i].path, needle));
        assert_null(strstr(r->items[i].value, needle));
        assert_null(strstr(r->items[i].rule, needle));
    }
    assert_null(strstr(err->message, needle));
}

static nr_secret *mksecret(const char *s)
{
    nr_secret *x = NULL;
    assert_int_equal(nr_secret_from_str(&x, s, NULL), NR_OK);
    return x;
}

/* A config that passes validation. */
static void make_valid(tcfg *c)
{
    assert_int_equal(nr_config_init(&t_schema, c, NULL), NR_OK);
    c->name = strcpy(nr_malloc(6), "alpha");
}

static char *print_to_string(const nr_config_schema *s, const void *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    nr_config_print(s, cfg, f);
    fclose(f);
    return buf;
}

/* ---- report --------------------------------------------------------------- */

static void test_report_add_and_clear(void **state)
{
    (void)state;
    nr_config_report r;
    memset(&r, 0xAB, sizeof(r));
    nr_config_report_clear(&r);
    assert_int_equal(r.count, 0);
    assert_int_equal(r.dropped, 0);
    nr_config_report_add(&r, "$.a", "12", 3, 9, "must be at most %d", 10);
    nr_config_report_add(&r, NULL, NULL, -1, -2, "plain");
    assert_int_equal(r.count, 2);
    assert_string_equal(r.items[0].path, "$.a");
    assert_string_equal(r.items[0].value, "12");
    assert_string_equal(r.items[0].rule, "must be at most 10");
    assert_int_equal(r.items[0].line, 3);
    assert_int_equal(r.items[0].column, 9);
    assert_string_equal(r.items[1].path, "$");
    assert_string_equal(r.items[1].value, "");
    assert_int_equal(r.items[1].line, 0);
    assert_int_equal(r.items[1].column, 0);
    nr_config_report_add(NULL, "$", "x", 0, 0, "ignored"); /* no report: no-op */
    nr_config_report_clear(&r);
    assert_int_equal(r.count, 0);
    nr_config_report_clear(NULL);
}

static void test_report_cuts_long_text(void **state)
{
    (void)state;
    char longtext[400];
    memset(longtext, 'v', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    nr_config_report r;
    nr_config_report_clear(&r);
    nr_config_report_add(&r, longtext, longtext, 0, 0, "%s", longtext);
    const nr_config_issue *i = &r.items[0];
    assert_int_equal(strlen(i->path), NR_CONFIG_PATH_MAX - 1);
    assert_int_equal(strlen(i->value), NR_CONFIG_VALUE_MAX - 1);
    assert_int_equal(strlen(i->rule), NR_CONFIG_RULE_MAX - 1);
    assert_string_equal(i->path + NR_CONFIG_PATH_MAX - 4, "...");
    assert_string_equal(i->value + NR_CONFIG_VALUE_MAX - 4, "...");
    assert_string_equal(i->rule + NR_CONFIG_RULE_MAX - 4, "...");

    /* a value that just fits is kept whole */
    longtext[NR_CONFIG_VALUE_MAX - 1] = '\0';
    nr_config_report_add(&r, "$", longtext, 0, 0, "r");
    assert_string_equal(r.items[1].value, longtext);

    /* a cut never splits a UTF-8 sequence: "é" is 2 bytes */
    char accents[200] = "";
    for (int k = 0; k < 60; k++)
        strcat(accents, "\xc3\xa9");
    nr_config_report_add(&r, "$", accents, 0, 0, "r");
    const char *v = r.items[2].value;
    size_t n = strlen(v);
    assert_string_equal(v + n - 3, "...");
    assert_true(n - 3 <= NR_CONFIG_VALUE_MAX - 4);
    assert_int_equal((n - 3) % 2, 0);
    for (size_t k = 0; k < n - 3; k += 2)
        assert_memory_equal(v + k, "\xc3\xa9", 2);
}

static void test_report_drops_beyond_max(void **state)
{
    (void)state;
    nr_config_report r;
    nr_config_report_clear(&r);
    for (int k = 0; k < NR_CONFIG_MAX_ISSUES + 5; k++)
        nr_config_report_add(&r, "$.x", NULL, 0, 0, "issue %d", k);
    assert_int_equal(r.count, NR_CONFIG_MAX_ISSUES);
    assert_int_equal(r.dropped, 5);
    assert_string_equal(r.items[NR_CONFIG_MAX_ISSUES - 1].rule, "issue 31");
}

static void test_report_print(void **state)
{
    (void)state;
    nr_config_report r;
    nr_config_report_clear(&r);
    nr_config_report_add(&r, "$.a", "0", 0, 0, "must be between 1 and 2");
    nr_config_report_add(&r, "$", NULL, 2, 5, "unexpected token");
    nr_config_report_add(&r, "$.b", NULL, 0, 0, "is required");
    r.dropped = 4;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nr_config_report_print(&r, f);
    nr_config_report_print(NULL, f);
    nr_config_report_print(&r, NULL);
    fclose(f);
    assert_string_equal(buf, "$.a: must be between 1 and 2 (got 0)\n"
                             "$: unexpected token [line 2, column 5]\n"
                             "$.b: is required\n"
                             "(4 more not shown)\n");
    free(buf);
}

/* ---- init, free, copy, equal, field ---------------------------------------- */

static void test_init_defaults(void **state)
{
    (void)state;
    tcfg c;
    memset(&c, 0x5A, sizeof(c));
    nr_error err = {0};
    assert_int_equal(nr_config_init(&t_schema, &c, &err), NR_OK);
    assert_int_equal(err.code, NR_OK);
    assert_true(c.enabled);
    assert_int_equal(c.count, 10);
    assert_int_equal(c.delta, -5);
    assert_true(c.ratio == 0.25);
    assert_true(c.scale == 1.5);
    assert_null(c.name);
    assert_null(c.note);
    assert_string_equal(c.host, "localhost");
    assert_ptr_not_equal(c.host, t_fields[7].def_str); /* owned copy */
    assert_int_equal(c.mode, MODE_SAFE);
    assert_null(c.password);
    assert_null(c.token);
    nr_config_free(&t_schema, &c);
}

static void test_init_invalid(void **state)
{
    (void)state;
    tcfg c;
    nr_error err = {0};
    assert_int_equal(nr_config_init(NULL, &c, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no schema");
    assert_int_equal(nr_config_init(&t_schema, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no struct");

    nr_field bad[] = {{.name = "m", .type = NR_FT_ENUM, .offset = 0}};
    nr_config_schema s = {.name = "bad", .struct_size = sizeof(int), .fields = bad, .nfields = 1};
    int x;
    assert_int_equal(nr_config_init(&s, &x, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "bad config: field 0 is malformed");
    bad[0].type = (nr_field_type)99;
    assert_int_equal(nr_config_init(&s, &x, &err), NR_EINVAL);
    bad[0].type = NR_FT_INT;
    bad[0].name = NULL;
    assert_int_equal(nr_config_init(&s, &x, &err), NR_EINVAL);
    assert_int_equal(nr_config_validate(&s, &x, "$", NULL, &err), NR_EINVAL);
    assert_int_equal(nr_config_parse(&s, "{}", 2, &x, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_config_copy(&s, &x, &x, &err), NR_EINVAL);
    assert_null(nr_config_serialize(&s, &x, NR_CONFIG_SECRETS_REDACT, &err));
    NR_ASSERT_ERR(err, NR_EINVAL, "malformed");
}

static void test_free_zeroes_and_tolerates_null(void **state)
{
    (void)state;
    tcfg c;
    make_valid(&c);
    c.password = mksecret(SECRET_PW);
    nr_config_free(&t_schema, &c);
    tcfg zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&c, &zero, sizeof(c));
    nr_config_free(&t_schema, &c); /* freeing twice is harmless once zeroed */
    nr_config_free(NULL, &c);
    nr_config_free(&t_schema, NULL);
}

static void test_copy_is_deep(void **state)
{
    (void)state;
    tcfg a, b;
    make_valid(&a);
    a.password = mksecret(SECRET_PW);
    a.note = NULL;
    nr_error err = {0};
    memset(&b, 0x77, sizeof(b)); /* overwritten, not freed */
    assert_int_equal(nr_config_copy(&t_schema, &b, &a, &err), NR_OK);
    assert_true(nr_config_equal(&t_schema, &a, &b));
    assert_ptr_not_equal(a.name, b.name);
    assert_ptr_not_equal(a.host, b.host);
    assert_ptr_not_equal(a.password, b.password);
    assert_null(b.note);
    assert_null(b.token);
    /* the copy lives on after the original is freed */
    nr_config_free(&t_schema, &a);
    assert_string_equal(b.name, "alpha");
    assert_string_equal(nr_secret_reveal(b.password, NULL), SECRET_PW);
    assert_int_equal(nr_config_copy(&t_schema, &b, &b, &err), NR_OK);
    assert_int_equal(nr_config_copy(&t_schema, NULL, &b, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no struct");
    nr_config_free(&t_schema, &b);
}

static void test_equal_each_field(void **state)
{
    (void)state;
    tcfg a, b;
    make_valid(&a);
    a.password = mksecret(SECRET_PW);
    assert_int_equal(nr_config_copy(&t_schema, &b, &a, NULL), NR_OK);
    assert_true(nr_config_equal(&t_schema, &a, &b));
    assert_true(nr_config_equal(&t_schema, &a, &a));

    b.enabled = !b.enabled;
    assert_false(nr_config_equal(&t_schema, &a, &b));
    b.enabled = a.enabled;
    b.count++;
    assert_false(nr_config_equal(&t_schema, &a, &b));
    b.count = a.count;
    b.delta = 1;
    assert_false(nr_config_equal(&t_schema, &a, &b));
    b.delta = a.delta;
    b.ratio = 0.5;
    assert_false(nr_config_equal(&t_schema, &a, &b));
    b.ratio = a.ratio;
    b.scale = NAN;
    assert_false(nr_config_equal(&t_schema, &a, &b));
    a.scale = NAN; /* NaN equals NaN here: a struct equals its copy */
    assert_true(nr_config_equal(&t_schema, &a, &b));
    a.scale = b.scale = 1.5;
    b.mode = MODE_OFF;
    assert_false(nr_config_equal(&t_schema, &a, &b));
    b.mode = a.mode;
    b.name[0] = 'A';
    assert_false(nr_config_equal(&t_schema, &a, &b));
    b.name[0] = 'a';
    nr_free(b.host);
    b.host = NULL;
    assert_false(nr_config_equal(&t_schema, &a, &b));
    assert_false(nr_config_equal(&t_schema, &b, &a));
    b.host = nr_strdup("localhost");
    assert_true(nr_config_equal(&t_schema, &a, &b));
    nr_secret_free(b.password);
    b.password = mksecret("s3cr3t-pa55w0rD");
    assert_false(nr_config_equal(&t_schema, &a, &b));
    nr_secret_free(b.password);
    b.password = NULL;
    assert_false(nr_config_equal(&t_schema, &a, &b));
    assert_false(nr_config_equal(&t_schema, &a, NULL));
    assert_true(nr_config_equal(&t_schema, NULL, NULL));
    nr_config_free(&t_schema, &a);
    nr_config_free(&t_schema, &b);
}

static void test_field_lookup(void **state)
{
    (void)state;
    const nr_field *f = nr_config_field(&t_schema, "mode");
    assert_ptr_equal(f, &t_fields[8]);
    assert_null(nr_config_field(&t_schema, "Mode"));
    assert_null(nr_config_field(&t_schema, ""));
    assert_null(nr_config_field(&t_schema, NULL));
    assert_null(nr_config_field(NULL, "mode"));
}

/* ---- validate --------------------------------------------------------------- */

static void test_validate_ok(void **state)
{
    (void)state;
    tcfg c;
    make_valid(&c);
    nr_config_report r;
    nr_error err = {0};
    memset(&r, 0x11, sizeof(r)); /* cleared by the call */
    assert_int_equal(nr_config_validate(&t_schema, &c, "$", &r, &err), NR_OK);
    assert_int_equal(r.count, 0);
    assert_int_equal(r.dropped, 0);
    assert_int_equal(err.code, NR_OK);
    assert_int_equal(nr_config_validate(&t_schema, &c, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_config_validate(&t_schema, NULL, NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no struct");
    nr_config_free(&t_schema, &c);
}

/* Validate c (which must fail with one issue) and check it. */
static void assert_invalid(tcfg *c, const char *path, const char *value, const char *rule)
{
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_config_validate(&t_schema, c, "$.cfg", &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, path);
    assert_string_equal(r.items[0].value, value);
    assert_string_equal(r.items[0].rule, rule);
    NR_ASSERT_ERR(err, NR_ECONFIG, "test config: 1 problem; first: ");
    NR_ASSERT_ERR(err, NR_ECONFIG, path);
    NR_ASSERT_ERR(err, NR_ECONFIG, rule);
}

static void test_validate_each_rule(void **state)
{
    (void)state;
    tcfg c;
    make_valid(&c);
    c.count = 0;
    assert_invalid(&c, "$.cfg.count", "0", "must be between 1 and 1000000");
    c.count = 1000001;
    assert_invalid(&c, "$.cfg.count", "1000001", "must be between 1 and 1000000");
    c.count = 1000000;
    c.delta = INT64_MIN; /* no range: anything goes */
    assert_int_equal(nr_config_validate(&t_schema, &c, NULL, NULL, NULL), NR_OK);
    c.ratio = 1.5;
    assert_invalid(&c, "$.cfg.ratio", "1.5", "must be between 0 and 1");
    c.ratio = -0.1;
    assert_invalid(&c, "$.cfg.ratio", "-0.1", "must be between 0 and 1");
    c.ratio = 1;
    c.scale = NAN;
    assert_invalid(&c, "$.cfg.scale", "nan", "must be a finite number");
    c.scale = -INFINITY;
    assert_invalid(&c, "$.cfg.scale", "-inf", "must be a finite number");
    c.scale = -1e308; /* no range */
    c.mode = 3;
    assert_invalid(&c, "$.cfg.mode", "3", "must be one of: fast, safe, off");
    c.mode = -1;
    assert_invalid(&c, "$.cfg.mode", "-1", "must be one of: fast, safe, off");
    c.mode = MODE_FAST;
    nr_free(c.name);
    c.name = NULL;
    assert_invalid(&c, "$.cfg.name", "", "is required");
    c.name = nr_strdup("");
    assert_invalid(&c, "$.cfg.name", "\"\"", "must be at least 1 bytes");
    nr_free(c.name);
    c.name = nr_strdup("seventeen-bytes!!");
    assert_invalid(&c, "$.cfg.name", "\"seventeen-bytes!!\"", "must be at most 16 bytes");
    nr_free(c.name);
    c.name = nr_strdup("sixteen-bytes-ok");
    assert_int_equal(nr_config_validate(&t_schema, &c, NULL, NULL, NULL), NR_OK);
    nr_free(c.note);
    c.note = nr_strdup("bad \xff byte");
    assert_invalid(&c, "$.cfg.note", "", "must be valid UTF-8");
    nr_free(c.note);
    c.note = nr_strdup("\xed\xa0\x80"); /* a surrogate */
    assert_invalid(&c, "$.cfg.note", "", "must be valid UTF-8");
    nr_free(c.note);
    c.note = nr_strdup("\xc0\xaf"); /* overlong */
    assert_invalid(&c, "$.cfg.note", "", "must be valid UTF-8");
    nr_free(c.note);
    c.note = nr_strdup("tab\there \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_int_equal(nr_config_validate(&t_schema, &c, NULL, NULL, NULL), NR_OK);
    nr_config_free(&t_schema, &c);
}

static void test_validate_secret_rules(void **state)
{
    (void)state;
    tcfg c;
    make_valid(&c);
    c.password = mksecret("0123456789abcdef0123456789abcdefX"); /* 33 bytes > 32 */
    assert_invalid(&c, "$.cfg.password", "<redacted>", "must be at most 32 bytes");
    nr_secret_free(c.password);
    c.password = NULL;
    c.token = mksecret("abc");
    assert_invalid(&c, "$.cfg.token", "<redacted>", "must be at least 4 bytes");
    nr_secret_free(c.token);
    assert_int_equal(nr_secret_create(&c.token, "ab\0cd", 5, NULL), NR_OK);
    assert_invalid(&c, "$.cfg.token", "<redacted>", "must not contain NUL bytes");
    nr_secret_free(c.token);
    c.token = mksecret("abc\xff");
    assert_invalid(&c, "$.cfg.token", "<redacted>", "must be valid UTF-8");
    nr_secret_free(c.token);
    c.token = mksecret("abcd");
    assert_int_equal(nr_config_validate(&t_schema, &c, NULL, NULL, NULL), NR_OK);
    nr_config_free(&t_schema, &c);

    /* a required secret must be set */
    static const nr_field f[] = {
        {.name = "key", .type = NR_FT_SECRET, .offset = 0, .required = true}};
    static const nr_config_schema s = {"req", sizeof(nr_secret *), f, 1, NULL};
    nr_secret *key = NULL;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_config_validate(&s, &key, "$", &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$.key");
    assert_string_equal(r.items[0].rule, "is required");
    assert_string_equal(err.message, "req config: 1 problem; first: $.key: is required");
}

static void test_validate_collects_all_and_check_runs_last(void **state)
{
    (void)state;
    tcfg c;
    make_valid(&c);
    c.count = 0;
    c.ratio = 2;
    c.mode = MODE_OFF; /* the check's rule, but field issues come first */
    c.token = mksecret("x");
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_config_validate(&t_schema, &c, "$", &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 3);
    assert_string_equal(r.items[0].path, "$.count");
    assert_string_equal(r.items[1].path, "$.ratio");
    assert_string_equal(r.items[2].path, "$.token");
    assert_false(has_issue(&r, "$.mode", "must not be off while enabled"));
    assert_string_equal(err.message, "test config: 3 problems; first: $.count: must be between 1 "
                                     "and 1000000 (got 0)");
    c.count = 1;
    c.ratio = 0;
    nr_secret_free(c.token);
    c.token = NULL;
    /* fields pass: now the check runs, with the prefix it was given */
    assert_int_equal(nr_config_validate(&t_schema, &c, "$.pool", &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_true(has_issue(&r, "$.pool.mode", "must not be off while enabled"));
    assert_string_equal(err.message, "test config: 1 problem; first: $.pool.mode: must not be off "
                                     "while enabled (got \"off\")");
    /* an empty prefix means "$" */
    assert_int_equal(nr_config_validate(&t_schema, &c, "", &r, NULL), NR_ECONFIG);
    assert_string_equal(r.items[0].path, "$.mode");
    nr_config_free(&t_schema, &c);
}

static void test_validate_long_value_is_cut(void **state)
{
    (void)state;
    tcfg c;
    make_valid(&c);
    nr_free(c.note);
    c.note = nr_malloc(201);
    memset(c.note, 'n', 200);
    c.note[200] = '\0';
    nr_config_report r;
    assert_int_equal(nr_config_validate(&t_schema, &c, "$", &r, NULL), NR_ECONFIG);
    assert_string_equal(r.items[0].rule, "must be at most 64 bytes");
    assert_int_equal(strlen(r.items[0].value), NR_CONFIG_VALUE_MAX - 1);
    assert_memory_equal(r.items[0].value, "\"nnnn", 5);
    assert_string_equal(r.items[0].value + NR_CONFIG_VALUE_MAX - 4, "...");
    nr_config_free(&t_schema, &c);
}

typedef struct many {
    int64_t v[40];
} many;

static void test_validate_drops_beyond_max(void **state)
{
    (void)state;
    nr_field f[40];
    char names[40][8];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "v%d", i);
        f[i] = (nr_field){.name = names[i],
                          .type = NR_FT_INT,
                          .offset = offsetof(many, v) + (size_t)i * sizeof(int64_t),
                          .min = 1,
                          .max = 2};
    }
    nr_config_schema s = {.name = "many", .struct_size = sizeof(many), .fields = f, .nfields = 40};
    many m;
    memset(&m, 0, sizeof(m));
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_config_validate(&s, &m, "$", &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, NR_CONFIG_MAX_ISSUES);
    assert_int_equal(r.dropped, 40 - NR_CONFIG_MAX_ISSUES);
    NR_ASSERT_ERR(err, NR_ECONFIG,
                  "many config: 40 problems; first: $.v0: must be between 1 and 2");
}

/* ---- parse -------------------------------------------------------------------- */

static void test_parse_full(void **state)
{
    (void)state;
    tcfg c;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(parse(full_json, &c, &r, &err), NR_OK);
    assert_int_equal(r.count, 0);
    assert_int_equal(err.code, NR_OK);
    assert_false(c.enabled);
    assert_int_equal(c.count, 42);
    assert_int_equal(c.delta, -7);
    assert_true(c.ratio == 0.5);
    assert_true(c.scale == -2.75);
    assert_string_equal(c.name, "alpha");
    assert_string_equal(c.note, "n");
    assert_string_equal(c.host, "db");
    assert_int_equal(c.mode, MODE_FAST);
    assert_string_equal(nr_secret_reveal(c.password, NULL), SECRET_PW);
    assert_string_equal(nr_secret_reveal(c.token, NULL), SECRET_TOK);
    nr_config_free(&t_schema, &c);
}

static void test_parse_defaults_for_absent_keys(void **state)
{
    (void)state;
    tcfg c, d;
    assert_int_equal(parse("{\"count\": 3, \"name\": \"x\"}", &c, NULL, NULL), NR_OK);
    assert_int_equal(nr_config_init(&t_schema, &d, NULL), NR_OK);
    d.count = 3;
    d.name = nr_strdup("x");
    assert_true(nr_config_equal(&t_schema, &c, &d));
    nr_config_free(&t_schema, &c);
    nr_config_free(&t_schema, &d);
}

static void test_parse_syntax_errors(void **state)
{
    (void)state;
    tcfg c;
    nr_config_report r;
    nr_error err = {0};
    const char *text = "{\n  \"count\": 1,\n  oops\n}";
    assert_int_equal(parse(text, &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$");
    assert_string_equal(r.items[0].value, "");
    assert_string_equal(r.items[0].rule, "string or '}' expected near 'oops'");
    assert_int_equal(r.items[0].line, 3);
    assert_int_equal(r.items[0].column, 6);
    assert_string_equal(err.message, "test config: 1 problem; first: $: string or '}' expected "
                                     "near 'oops' [line 3, column 6]");
    nr_config_free(&t_schema, &c);

    assert_int_equal(parse("{\"count\": 1, \"count\": 2}", &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].rule, "duplicate object key near '\"count\"'");
    assert_int_equal(r.items[0].line, 1);
    nr_config_free(&t_schema, &c);

    assert_int_equal(parse("", &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].rule, "unexpected token near end of file");
    nr_config_free(&t_schema, &c);
    assert_int_equal(nr_config_parse(&t_schema, NULL, 0, &c, &r, &err), NR_ECONFIG);
    assert_string_equal(r.items[0].rule, "unexpected token near end of file");
    nr_config_free(&t_schema, &c);

    assert_int_equal(parse("{\"count\": 99999999999999999999}", &c, &r, &err), NR_ECONFIG);
    assert_string_equal(r.items[0].rule, "too big integer near '99999999999999999999'");
    /* the struct holds the defaults after a failure */
    assert_string_equal(c.host, "localhost");
    nr_config_free(&t_schema, &c);
}

static void test_parse_not_an_object(void **state)
{
    (void)state;
    nr_config_issue i = one_issue("[1, 2]");
    assert_string_equal(i.path, "$");
    assert_string_equal(i.value, "[1,2]");
    assert_string_equal(i.rule, "must be a JSON object");
    i = one_issue("\"text\"");
    assert_string_equal(i.value, "\"text\"");
    assert_string_equal(i.rule, "must be a JSON object");
    i = one_issue("null");
    assert_string_equal(i.value, "null");
}

static void test_parse_unknown_field(void **state)
{
    (void)state;
    assert_issue("{\"count\":1,\"name\":\"a\",\"colour\":\"red\"}", "$.colour", "",
                 "unknown field");
    assert_issue("{\"count\":1,\"name\":\"a\",\"passwd\":\"" SECRET_PW "\"}", "$.passwd", "",
                 "unknown field; did you mean \"password\"?");
    assert_issue("{\"count\":1,\"name\":\"a\",\"a b\":1}", "$[\"a b\"]", "", "unknown field");
    assert_issue("{\"count\":1,\"name\":\"a\",\"q\\\"\\n\":1}", "$[\"q\\\"\\n\"]", "",
                 "unknown field");
    assert_issue("{\"count\":1,\"name\":\"a\",\"\":1}", "$[\"\"]", "", "unknown field");
    assert_issue("{\"count\":1,\"name\":\"a\",\"Count\":1}", "$.Count", "",
                 "unknown field; did you mean \"count\"?");
}

static void test_parse_wrong_types(void **state)
{
    (void)state;
#define BASE "{\"count\":1,\"name\":\"a\","
    assert_issue(BASE "\"enabled\":1}", "$.enabled", "1", "must be true or false");
    assert_issue(BASE "\"enabled\":\"true\"}", "$.enabled", "\"true\"", "must be true or false");
    assert_issue(BASE "\"delta\":\"10\"}", "$.delta", "\"10\"", "must be an integer");
    assert_issue(BASE "\"delta\":1.5}", "$.delta", "1.5", "must be an integer");
    assert_issue(BASE "\"delta\":2.0}", "$.delta", "2.0", "must be an integer");
    assert_issue(BASE "\"delta\":null}", "$.delta", "null", "must be an integer");
    assert_issue(BASE "\"scale\":\"x\"}", "$.scale", "\"x\"", "must be a number");
    assert_issue(BASE "\"scale\":true}", "$.scale", "true", "must be a number");
    assert_issue(BASE "\"note\":5}", "$.note", "5", "must be a string");
    assert_issue(BASE "\"note\":[\"a\",{\"b\":false}]}", "$.note", "[\"a\",{\"b\":false}]",
                 "must be a string");
    assert_issue(BASE "\"mode\":\"turbo\"}", "$.mode", "\"turbo\"",
                 "must be one of: fast, safe, off");
    assert_issue(BASE "\"mode\":\"FAST\"}", "$.mode", "\"FAST\"",
                 "must be one of: fast, safe, off");
    assert_issue(BASE "\"mode\":1}", "$.mode", "1", "must be one of: fast, safe, off");
    assert_issue(BASE "\"mode\":\"fast\\u0000\"}", "$.mode", "\"fast\\u0000\"",
                 "must be one of: fast, safe, off");
    assert_issue(BASE "\"password\":12345678}", "$.password", "<redacted>", "must be a string");
    assert_issue(BASE "\"token\":{\"k\":\"" SECRET_TOK "\"}}", "$.token", "<redacted>",
                 "must be a string");
    assert_issue("{\"count\":\"1\",\"name\":\"a\"}", "$.count", "\"1\"", "must be an integer");
    assert_issue("{\"count\":1,\"name\":null}", "$.name", "null", "must be a string");
}

static void test_parse_ranges_and_lengths(void **state)
{
    (void)state;
    assert_issue("{\"count\":0,\"name\":\"a\"}", "$.count", "0", "must be between 1 and 1000000");
    assert_issue("{\"count\":-9223372036854775808,\"name\":\"a\"}", "$.count",
                 "-9223372036854775808", "must be between 1 and 1000000");
    assert_issue(BASE "\"ratio\":1.0000001}", "$.ratio", "1.0000001", "must be between 0 and 1");
    assert_issue(BASE "\"ratio\":-1}", "$.ratio", "-1", "must be between 0 and 1");
    assert_issue("{\"count\":1,\"name\":\"\"}", "$.name", "\"\"", "must be at least 1 bytes");
    assert_issue("{\"count\":1,\"name\":\"0123456789abcdefg\"}", "$.name", "\"0123456789abcdefg\"",
                 "must be at most 16 bytes");
    /* length counts bytes: 6 two-byte characters = 12 bytes fits, 9 = 18 does not */
    tcfg c;
    assert_int_equal(
        parse("{\"count\":1,\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &c,
              NULL, NULL),
        NR_OK);
    nr_config_free(&t_schema, &c);
    assert_issue("{\"count\":1,\"name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                 "\\u00e9\"}",
                 "$.name",
                 "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"",
                 "must be at most 16 bytes");
    assert_issue(BASE "\"password\":\"0123456789abcdef0123456789abcdefX\"}", "$.password",
                 "<redacted>", "must be at most 32 bytes");
    assert_issue(BASE "\"token\":\"abc\"}", "$.token", "<redacted>", "must be at least 4 bytes");
    assert_issue(BASE "\"note\":\"a\\u0000b\"}", "$.note", "\"a\\u0000b\"",
                 "must not contain NUL bytes");
    assert_issue(BASE "\"token\":\"abcd\\u0000efgh\"}", "$.token", "<redacted>",
                 "must not contain NUL bytes");
}

static void test_parse_required(void **state)
{
    (void)state;
    tcfg c;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(parse("{}", &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 2);
    assert_string_equal(r.items[0].path, "$.count");
    assert_string_equal(r.items[0].value, "");
    assert_string_equal(r.items[0].rule, "is required");
    assert_string_equal(r.items[1].path, "$.name");
    assert_string_equal(r.items[1].rule, "is required");
    assert_string_equal(err.message, "test config: 2 problems; first: $.count: is required");
    nr_config_free(&t_schema, &c);
}

static void test_parse_null_strings_and_secrets(void **state)
{
    (void)state;
    tcfg c;
    assert_int_equal(
        parse("{\"count\":1,\"name\":\"a\",\"host\":null,\"password\":null,\"token\":null}", &c,
              NULL, NULL),
        NR_OK);
    assert_null(c.host);
    assert_null(c.password);
    assert_null(c.token);
    nr_config_free(&t_schema, &c);
}

static void test_parse_accepts_integer_for_double(void **state)
{
    (void)state;
    tcfg c;
    assert_int_equal(parse(BASE "\"scale\":7,\"ratio\":1}", &c, NULL, NULL), NR_OK);
    assert_true(c.scale == 7.0);
    assert_true(c.ratio == 1.0);
    nr_config_free(&t_schema, &c);
    assert_int_equal(parse(BASE "\"scale\":-1e300,\"ratio\":0.0}", &c, NULL, NULL), NR_OK);
    assert_true(c.scale == -1e300);
    assert_true(c.ratio == 0.0);
    nr_config_free(&t_schema, &c);
}

static void test_parse_collects_every_issue(void **state)
{
    (void)state;
    tcfg c;
    nr_config_report r;
    nr_error err = {0};
    const char *text =
        "{\"zzz\":1,\"enabled\":\"no\",\"count\":0,\"ratio\":9,\"mode\":\"x\","
        "\"token\":\"" SECRET_TOK "\",\"password\":\"" SECRET_PW SECRET_PW SECRET_PW "\"}";
    assert_int_equal(parse(text, &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 7);
    /* schema order first, then the unknown keys */
    assert_true(has_issue(&r, "$.enabled", "must be true or false"));
    assert_true(has_issue(&r, "$.count", "must be between 1 and 1000000"));
    assert_true(has_issue(&r, "$.ratio", "must be between 0 and 1"));
    assert_true(has_issue(&r, "$.name", "is required"));
    assert_true(has_issue(&r, "$.mode", "must be one of: fast, safe, off"));
    assert_true(has_issue(&r, "$.password", "must be at most 32 bytes"));
    assert_true(has_issue(&r, "$.zzz", "unknown field"));
    assert_string_equal(r.items[0].path, "$.enabled");
    assert_string_equal(r.items[6].path, "$.zzz");
    assert_string_equal(err.message, "test config: 7 problems; first: $.enabled: must be true or "
                                     "false (got \"no\")");
    assert_no_text(&r, &err, SECRET_PW);
    assert_no_text(&r, &err, SECRET_TOK);
    nr_config_free(&t_schema, &c);
}

static void test_parse_check_runs_after_fields(void **state)
{
    (void)state;
    assert_issue("{\"count\":1,\"name\":\"a\",\"mode\":\"off\"}", "$.mode", "\"off\"",
                 "must not be off while enabled");
    /* with a field issue the check is not run */
    tcfg c;
    nr_config_report r;
    assert_int_equal(parse("{\"count\":0,\"name\":\"a\",\"mode\":\"off\"}", &c, &r, NULL),
                     NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$.count");
    nr_config_free(&t_schema, &c);
    assert_int_equal(
        parse("{\"count\":1,\"name\":\"a\",\"mode\":\"off\",\"enabled\":false}", &c, &r, NULL),
        NR_OK);
    nr_config_free(&t_schema, &c);
}

static void test_parse_failure_leaves_defaults(void **state)
{
    (void)state;
    tcfg c, d;
    assert_int_equal(nr_config_init(&t_schema, &d, NULL), NR_OK);
    /* fields that were set before the bad one are undone */
    const char *text = "{\"count\":5,\"name\":\"abc\",\"password\":\"" SECRET_PW "\",\"mode\":7}";
    assert_int_equal(parse(text, &c, NULL, NULL), NR_ECONFIG);
    assert_true(nr_config_equal(&t_schema, &c, &d));
    assert_null(c.name);
    assert_null(c.password);
    nr_config_free(&t_schema, &c);
    nr_config_free(&t_schema, &d);
}

static void test_parse_long_value_is_cut(void **state)
{
    (void)state;
    char text[600];
    char big[301];
    memset(big, 'x', 300);
    big[300] = '\0';
    snprintf(text, sizeof(text), BASE "\"note\":{\"k\":\"%s\"}}", big);
    nr_config_issue i = one_issue(text);
    assert_string_equal(i.rule, "must be a string");
    assert_int_equal(strlen(i.value), NR_CONFIG_VALUE_MAX - 1);
    assert_memory_equal(i.value, "{\"k\":\"xxx", 9);
    assert_string_equal(i.value + NR_CONFIG_VALUE_MAX - 4, "...");

    snprintf(text, sizeof(text), BASE "\"note\":\"%s\"}", big);
    i = one_issue(text);
    assert_string_equal(i.rule, "must be at most 64 bytes");
    assert_string_equal(i.value + NR_CONFIG_VALUE_MAX - 4, "...");

    /* a long unknown key is cut in the path */
    snprintf(text, sizeof(text), BASE "\"%s\":1}", big);
    i = one_issue(text);
    assert_string_equal(i.rule, "unknown field");
    assert_int_equal(strlen(i.path), NR_CONFIG_PATH_MAX - 1);
    assert_memory_equal(i.path, "$.xxx", 5);
    assert_string_equal(i.path + NR_CONFIG_PATH_MAX - 4, "...");
}

static void test_parse_defaults_are_checked(void **state)
{
    (void)state;
    typedef struct {
        int64_t n;
        char *s;
    } bad;
    static const nr_field f[] = {
        {.name = "n",
         .type = NR_FT_INT,
         .offset = offsetof(bad, n),
         .min = 1,
         .max = 5,
         .def_int = 9},
        {.name = "s",
         .type = NR_FT_STRING,
         .offset = offsetof(bad, s),
         .max = 2,
         .def_str = "long"},
    };
    static const nr_config_schema s = {"baddef", sizeof(bad), f, 2, NULL};
    bad b;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_config_parse(&s, "{}", 2, &b, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 2);
    assert_true(has_issue(&r, "$.n", "must be between 1 and 5"));
    assert_true(has_issue(&r, "$.s", "must be at most 2 bytes"));
    assert_string_equal(r.items[0].value, "9");
    assert_string_equal(r.items[1].value, "\"long\"");
    /* the defaults are back in place: safe to free */
    assert_int_equal(b.n, 9);
    assert_string_equal(b.s, "long");
    nr_config_free(&s, &b);
    assert_int_equal(nr_config_parse(&s, "{\"n\":2,\"s\":\"ok\"}", 16, &b, &r, &err), NR_OK);
    nr_config_free(&s, &b);
}

static void test_parse_invalid_arguments(void **state)
{
    (void)state;
    tcfg c;
    nr_error err = {0};
    assert_int_equal(nr_config_parse(&t_schema, NULL, 3, &c, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no text");
    assert_int_equal(nr_config_parse(&t_schema, "{}", 2, NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no struct");
    assert_int_equal(nr_config_parse(NULL, "{}", 2, &c, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no schema");
}

static void test_parse_uses_len(void **state)
{
    (void)state;
    tcfg c;
    const char *text = "{\"count\":2,\"name\":\"b\"} trailing garbage";
    assert_int_equal(nr_config_parse(&t_schema, text, 22, &c, NULL, NULL), NR_OK);
    assert_int_equal(c.count, 2);
    nr_config_free(&t_schema, &c);
    nr_config_report r;
    assert_int_equal(nr_config_parse(&t_schema, text, strlen(text), &c, &r, NULL), NR_ECONFIG);
    assert_int_equal(r.items[0].line, 1);
    assert_true(r.items[0].column > 22);
    nr_config_free(&t_schema, &c);
}

static void test_parse_fake_schema(void **state)
{
    (void)state;
    nr_mock_config fc;
    const char *text = "{\"label\":\"L\",\"weight\":100,\"token\":\"t\"}";
    assert_int_equal(nr_config_parse(&nr_mock_config_schema, text, strlen(text), &fc, NULL, NULL),
                     NR_OK);
    assert_string_equal(fc.label, "L");
    assert_int_equal(fc.weight, 100);
    assert_string_equal(nr_secret_reveal(fc.token, NULL), "t");
    nr_config_free(&nr_mock_config_schema, &fc);
    nr_error err = {0};
    text = "{\"weight\":101}";
    assert_int_equal(nr_config_parse(&nr_mock_config_schema, text, strlen(text), &fc, NULL, &err),
                     NR_ECONFIG);
    assert_string_equal(err.message, "mock config: 1 problem; first: $.weight: must be between 0 "
                                     "and 100 (got 101)");
    nr_config_free(&nr_mock_config_schema, &fc);
}

/* ---- from_json ------------------------------------------------------------------ */

static void test_from_json(void **state)
{
    (void)state;
    json_t *root = json_pack("{s:i, s:s, s:s}", "count", 3, "name", "jj", "mode", "off");
    tcfg c;
    nr_config_report r;
    nr_error err = {0};
    assert_int_equal(nr_config_from_json(&t_schema, root, "$.resources[2].config", &c, &r, &err),
                     NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$.resources[2].config.mode");
    assert_int_equal(r.items[0].line, 0);
    assert_int_equal(r.items[0].column, 0);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.resources[2].config.mode: must not be off while enabled");
    nr_config_free(&t_schema, &c);
    json_object_set_new(root, "enabled", json_false());
    assert_int_equal(nr_config_from_json(&t_schema, root, NULL, &c, &r, &err), NR_OK);
    assert_int_equal(c.mode, MODE_OFF);
    assert_string_equal(c.name, "jj");
    nr_config_free(&t_schema, &c);

    /* a key holding a NUL byte is no field */
    json_object_setn_new(root, "count\0x", 7, json_integer(1));
    assert_int_equal(nr_config_from_json(&t_schema, root, "$", &c, &r, &err), NR_ECONFIG);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.items[0].path, "$[\"count\\u0000x\"]");
    assert_string_equal(r.items[0].rule, "unknown field");
    nr_config_free(&t_schema, &c);
    json_decref(root);

    json_t *arr = json_array();
    assert_int_equal(nr_config_from_json(&t_schema, arr, "$.x", &c, &r, &err), NR_ECONFIG);
    assert_string_equal(r.items[0].path, "$.x");
    assert_string_equal(r.items[0].rule, "must be a JSON object");
    json_decref(arr);
    nr_config_free(&t_schema, &c);
    assert_int_equal(nr_config_from_json(&t_schema, NULL, "$", &c, &r, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "no JSON value");
}

/* ---- serialize and to_json -------------------------------------------------------- */

static void test_serialize_modes(void **state)
{
    (void)state;
    tcfg c;
    nr_error err = {0};
    assert_int_equal(parse(full_json, &c, NULL, NULL), NR_OK);
    char *s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REVEAL, &err);
    assert_string_equal(s, full_json);
    nr_free(s);
    s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REDACT, &err);
    assert_string_equal(s,
                        "{\"enabled\":false,\"count\":42,\"delta\":-7,\"ratio\":0.5,"
                        "\"scale\":-2.75,\"name\":\"alpha\",\"note\":\"n\",\"host\":\"db\","
                        "\"mode\":\"fast\",\"password\":\"<redacted>\",\"token\":\"<redacted>\"}");
    nr_free(s);
    s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_OMIT, &err);
    assert_string_equal(s, "{\"enabled\":false,\"count\":42,\"delta\":-7,\"ratio\":0.5,"
                           "\"scale\":-2.75,\"name\":\"alpha\",\"note\":\"n\",\"host\":\"db\","
                           "\"mode\":\"fast\"}");
    nr_free(s);
    assert_null(nr_config_serialize(&t_schema, &c, (nr_config_secrets)9, &err));
    NR_ASSERT_ERR(err, NR_EINVAL, "unknown secrets mode 9");
    nr_config_free(&t_schema, &c);
}

static void test_serialize_nulls(void **state)
{
    (void)state;
    tcfg c;
    make_valid(&c);
    char *s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REDACT, NULL);
    assert_string_equal(s, "{\"enabled\":true,\"count\":10,\"delta\":-5,\"ratio\":0.25,"
                           "\"scale\":1.5,\"name\":\"alpha\",\"note\":null,\"host\":\"localhost\","
                           "\"mode\":\"safe\",\"password\":null,\"token\":null}");
    nr_free(s);
    s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REVEAL, NULL);
    tcfg back;
    assert_int_equal(parse(s, &back, NULL, NULL), NR_OK);
    assert_true(nr_config_equal(&t_schema, &c, &back));
    nr_free(s);
    nr_config_free(&t_schema, &back);
    nr_config_free(&t_schema, &c);
}

static void test_serialize_doubles_round_trip(void **state)
{
    (void)state;
    const double values[] = {0.1,
                             0.1 + 0.2,
                             1.0,
                             -0.0,
                             1e20,
                             1e300,
                             -1e-300,
                             DBL_MAX,
                             -DBL_MAX,
                             DBL_MIN,
                             5e-324,
                             3.0,
                             1 / 3.0,
                             123456789012345678.0,
                             9007199254740993.0};
    tcfg c;
    make_valid(&c);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        c.scale = values[i];
        char *s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REVEAL, NULL);
        assert_non_null(s);
        tcfg back;
        assert_int_equal(parse(s, &back, NULL, NULL), NR_OK);
        assert_true(back.scale == c.scale);
        assert_int_equal(signbit(back.scale), signbit(c.scale));
        assert_true(nr_config_equal(&t_schema, &c, &back));
        nr_free(s);
        nr_config_free(&t_schema, &back);
    }
    /* the shortest text that reads back: 0.1 is written "0.1"; integral doubles keep ".0" */
    c.scale = 0.1;
    char *s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_OMIT, NULL);
    assert_non_null(strstr(s, "\"scale\":0.1,"));
    nr_free(s);
    c.scale = 3.0;
    s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_OMIT, NULL);
    assert_non_null(strstr(s, "\"scale\":3.0,"));
    nr_free(s);
    c.scale = 100.0;
    s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_OMIT, NULL);
    assert_non_null(strstr(s, "\"scale\":100.0,"));
    nr_free(s);
    c.scale = 1e20;
    s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_OMIT, NULL);
    assert_non_null(strstr(s, "\"scale\":1e20,"));
    nr_free(s);
    nr_config_free(&t_schema, &c);
}

static void test_serialize_rejects_unwritable(void **state)
{
    (void)state;
    tcfg c;
    nr_error err = {0};
    make_valid(&c);
    c.scale = INFINITY;
    assert_null(nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REDACT, &err));
    NR_ASSERT_ERR(err, NR_EINVAL, "test config: scale must be a finite number");
    c.scale = 1;
    c.mode = 5;
    assert_null(nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REDACT, &err));
    NR_ASSERT_ERR(err, NR_EINVAL, "test config: mode holds no valid name (5)");
    c.mode = 0;
    c.note = nr_strdup("\xfe");
    assert_null(nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REDACT, &err));
    NR_ASSERT_ERR(err, NR_EINVAL, "test config: note must be valid UTF-8");
    nr_free(c.note);
    c.note = NULL;
    c.password = mksecret("pw\xff" SECRET_PW);
    assert_null(nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REVEAL, &err));
    NR_ASSERT_ERR(err, NR_EINVAL, "test config: password must be valid UTF-8");
    assert_null(strstr(err.message, SECRET_PW));
    /* redacted, the bytes do not matter */
    char *s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REDACT, &err);
    assert_non_null(s);
    nr_free(s);
    assert_null(nr_config_serialize(&t_schema, NULL, NR_CONFIG_SECRETS_REDACT, &err));
    NR_ASSERT_ERR(err, NR_EINVAL, "no struct");
    nr_config_free(&t_schema, &c);
}

static void test_to_json(void **state)
{
    (void)state;
    tcfg c;
    assert_int_equal(parse(full_json, &c, NULL, NULL), NR_OK);
    json_t *j = nr_config_to_json(&t_schema, &c, NR_CONFIG_SECRETS_REDACT, NULL);
    assert_non_null(j);
    assert_true(json_is_object(j));
    assert_int_equal(json_object_size(j), t_schema.nfields);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 42);
    assert_string_equal(json_string_value(json_object_get(j, "password")), "<redacted>");
    assert_string_equal(json_string_value(json_object_get(j, "mode")), "fast");
    assert_true(json_is_false(json_object_get(j, "enabled")));
    /* keys in schema order */
    const char *key;
    json_t *v;
    size_t k = 0;
    json_object_foreach(j, key, v)
    {
        assert_string_equal(key, t_fields[k].name);
        k++;
    }
    json_decref(j);
    j = nr_config_to_json(&t_schema, &c, NR_CONFIG_SECRETS_OMIT, NULL);
    assert_null(json_object_get(j, "password"));
    assert_null(json_object_get(j, "token"));
    json_decref(j);
    j = nr_config_to_json(&t_schema, &c, NR_CONFIG_SECRETS_REVEAL, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "token")), SECRET_TOK);
    tcfg back;
    assert_int_equal(nr_config_from_json(&t_schema, j, "$", &back, NULL, NULL), NR_OK);
    assert_true(nr_config_equal(&t_schema, &c, &back));
    json_decref(j);
    nr_config_free(&t_schema, &back);
    nr_config_free(&t_schema, &c);
}

/* ---- print ------------------------------------------------------------------------- */

static void test_print(void **state)
{
    (void)state;
    tcfg c;
    assert_int_equal(parse(full_json, &c, NULL, NULL), NR_OK);
    nr_free(c.note);
    c.note = nr_strdup("say \"hi\"\n\tnow \x01");
    nr_free(c.host);
    c.host = NULL;
    nr_secret_free(c.token);
    c.token = NULL;
    char *out = print_to_string(&t_schema, &c);
    assert_string_equal(out, "test.enabled = false\n"
                             "test.count = 42\n"
                             "test.delta = -7\n"
                             "test.ratio = 0.5\n"
                             "test.scale = -2.75\n"
                             "test.name = \"alpha\"\n"
                             "test.note = \"say \\\"hi\\\"\\n\\tnow \\u0001\"\n"
                             "test.host = (unset)\n"
                             "test.mode = fast\n"
                             "test.password = <redacted>\n"
                             "test.token = (unset)\n");
    assert_null(strstr(out, SECRET_PW));
    free(out);
    c.mode = 9;
    c.scale = 0.1;
    out = print_to_string(&t_schema, &c);
    assert_non_null(strstr(out, "test.mode = (invalid: 9)\n"));
    assert_non_null(strstr(out, "test.scale = 0.1\n"));
    free(out);
    c.scale = 12500;
    out = print_to_string(&t_schema, &c);
    assert_non_null(strstr(out, "test.scale = 12500\n"));
    free(out);
    nr_config_print(&t_schema, &c, NULL); /* no stream: nothing */
    out = print_to_string(&t_schema, NULL);
    assert_string_equal(out, "");
    free(out);
    nr_config_free(&t_schema, &c);
}

/* ---- out of memory ---------------------------------------------------------------- */

/* Run op with the k-th allocation failing, for k = 0, 1, ... until it succeeds. */
#define FOR_EACH_FAULT(k, rc, op, on_fail, on_ok)                                                  \
    do {                                                                                           \
        nr_test_alloc_install();                                                                   \
        for (long k = 0;; k++) {                                                                   \
            nr_test_alloc_fail_after(k);                                                           \
            int rc = (op);                                                                         \
            nr_test_alloc_reset();                                                                 \
            if (rc == NR_OK) {                                                                     \
                on_ok;                                                                             \
                break;                                                                             \
            }                                                                                      \
            on_fail;                                                                               \
            assert_true(k < 1000);                                                                 \
        }                                                                                          \
        nr_set_allocator(NULL);                                                                    \
    } while (0)

static void test_oom_init_copy(void **state)
{
    (void)state;
    tcfg c, src;
    nr_error err;
    long faults = 0;
    FOR_EACH_FAULT(
        k, rc, nr_config_init(&t_schema, &c, &err),
        {
            assert_int_equal(rc, NR_ENOMEM);
            NR_ASSERT_ERR(err, NR_ENOMEM, "test config: out of memory");
            assert_null(c.host);
            faults++;
        },
        nr_config_free(&t_schema, &c));
    assert_int_equal(faults, 1);

    assert_int_equal(parse(full_json, &src, NULL, NULL), NR_OK);
    faults = 0;
    FOR_EACH_FAULT(
        k, rc, nr_config_copy(&t_schema, &c, &src, &err),
        {
            assert_int_equal(rc, NR_ENOMEM);
            NR_ASSERT_ERR(err, NR_ENOMEM, "out of memory");
            nr_config_free(&t_schema, &c); /* safe after a failure */
            faults++;
        },
        {
            assert_true(nr_config_equal(&t_schema, &c, &src));
            nr_config_free(&t_schema, &c);
        });
    assert_int_equal(faults, 5); /* name, note, host, password, token */
    nr_config_free(&t_schema, &src);
}

static void test_oom_parse(void **state)
{
    (void)state;
    tcfg c, want;
    nr_error err;
    assert_int_equal(parse(full_json, &want, NULL, NULL), NR_OK);
    long faults = 0;
    FOR_EACH_FAULT(
        k, rc, parse(full_json, &c, NULL, &err),
        {
            assert_int_equal(rc, NR_ENOMEM);
            NR_ASSERT_ERR(err, NR_ENOMEM, "out of memory");
            nr_config_free(&t_schema, &c);
            faults++;
        },
        {
            assert_true(nr_config_equal(&t_schema, &c, &want));
            nr_config_free(&t_schema, &c);
        });
    assert_true(faults >= 6);
    /* a text that fails also fails cleanly when memory runs out */
    const char *bad = "{\"count\":0,\"name\":\"abc\",\"host\":\"h\",\"password\":\"pw\"}";
    nr_test_alloc_install();
    for (long k = 0; k < 8; k++) {
        nr_test_alloc_fail_after(k);
        int rc = parse(bad, &c, NULL, &err);
        nr_test_alloc_reset();
        assert_true(rc == NR_ENOMEM || rc == NR_ECONFIG);
        assert_int_equal(err.code, rc);
        nr_config_free(&t_schema, &c);
    }
    nr_set_allocator(NULL);
    nr_config_free(&t_schema, &want);
}

static void test_oom_serialize(void **state)
{
    (void)state;
    tcfg c;
    nr_error err;
    assert_int_equal(parse(full_json, &c, NULL, NULL), NR_OK);
    char *s = NULL;
    long faults = 0;
    FOR_EACH_FAULT(
        k, rc,
        (s = nr_config_serialize(&t_schema, &c, NR_CONFIG_SECRETS_REVEAL, &err)) ? NR_OK : err.code,
        {
            assert_int_equal(rc, NR_ENOMEM);
            NR_ASSERT_ERR(err, NR_ENOMEM, "test config: out of memory");
            faults++;
        },
        {
            assert_string_equal(s, full_json);
            nr_free(s);
        });
    assert_int_equal(faults, 1);
    nr_config_free(&t_schema, &c);
}

static void test_oom_validate_allocates_nothing(void **state)
{
    (void)state;
    tcfg c;
    make_valid(&c);
    nr_test_alloc_install();
    nr_test_alloc_fail_after(0);
    assert_int_equal(nr_config_validate(&t_schema, &c, "$", NULL, NULL), NR_OK);
    nr_config_report r;
    c.count = 0;
    assert_int_equal(nr_config_validate(&t_schema, &c, "$", &r, NULL), NR_ECONFIG);
    assert_int_equal(nr_test_alloc_count(), 0);
    nr_test_alloc_reset();
    nr_set_allocator(NULL);
    nr_config_free(&t_schema, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_add_and_clear),
        cmocka_unit_test(test_report_cuts_long_text),
        cmocka_unit_test(test_report_drops_beyond_max),
        cmocka_unit_test(test_report_print),
        cmocka_unit_test(test_init_defaults),
        cmocka_unit_test(test_init_invalid),
        cmocka_unit_test(test_free_zeroes_and_tolerates_null),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_equal_each_field),
        cmocka_unit_test(test_field_lookup),
        cmocka_unit_test(test_validate_ok),
        cmocka_unit_test(test_validate_each_rule),
        cmocka_unit_test(test_validate_secret_rules),
        cmocka_unit_test(test_validate_collects_all_and_check_runs_last),
        cmocka_unit_test(test_validate_long_value_is_cut),
        cmocka_unit_test(test_validate_drops_beyond_max),
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_parse_defaults_for_absent_keys),
        cmocka_unit_test(test_parse_syntax_errors),
        cmocka_unit_test(test_parse_not_an_object),
        cmocka_unit_test(test_parse_unknown_field),
        cmocka_unit_test(test_parse_wrong_types),
        cmocka_unit_test(test_parse_ranges_and_lengths),
        cmocka_unit_test(test_parse_required),
        cmocka_unit_test(test_parse_null_strings_and_secrets),
        cmocka_unit_test(test_parse_accepts_integer_for_double),
        cmocka_unit_test(test_parse_collects_every_issue),
        cmocka_unit_test(test_parse_check_runs_after_fields),
        cmocka_unit_test(test_parse_failure_leaves_defaults),
        cmocka_unit_test(test_parse_long_value_is_cut),
        cmocka_unit_test(test_parse_defaults_are_checked),
        cmocka_unit_test(test_parse_invalid_arguments),
        cmocka_unit_test(test_parse_uses_len),
        cmocka_unit_test(test_parse_fake_schema),
        cmocka_unit_test(test_from_json),
        cmocka_unit_test(test_serialize_modes),
        cmocka_unit_test(test_serialize_nulls),
        cmocka_unit_test(test_serialize_doubles_round_trip),
        cmocka_unit_test(test_serialize_rejects_unwritable),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_oom_init_copy),
        cmocka_unit_test(test_oom_parse),
        cmocka_unit_test(test_oom_serialize),
        cmocka_unit_test(test_oom_validate_allocates_nothing),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

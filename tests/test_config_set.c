/* test_config_set.c - the typed config setters: the obvious C lines are safe
 * (set, overwrite, free), and a wrong field, a wrong type or a value that
 * breaks a rule is refused with a message naming the schema, the field and
 * the rule, never a secret, and leaves the field as it was. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- a schema with one field of every type ------------------------------------- */

static const char *const level_names[] = {"low", "mid", "high", NULL};

typedef struct scfg {
    char *host;          /* default "localhost", 1..32 bytes */
    char *note;          /* no default, at most 8 bytes */
    char *required;      /* required, 1.. bytes */
    int64_t port;        /* 1..65535, default 5432 */
    int64_t delta;       /* no range */
    double ratio;        /* 0..1, default 0.5 */
    bool keepalive;      /* default true */
    int level;           /* enum, default "mid" */
    nr_secret *password; /* at most 16 bytes */
} scfg;

static const nr_field s_fields[] = {
    {.name = "host",
     .type = NR_FT_STRING,
     .offset = offsetof(scfg, host),
     .min = 1,
     .max = 32,
     .def_str = "localhost"},
    {.name = "note", .type = NR_FT_STRING, .offset = offsetof(scfg, note), .max = 8},
    {.name = "required",
     .type = NR_FT_STRING,
     .offset = offsetof(scfg, required),
     .required = true,
     .min = 1,
     .def_str = "set"},
    {.name = "port",
     .type = NR_FT_INT,
     .offset = offsetof(scfg, port),
     .min = 1,
     .max = 65535,
     .def_int = 5432},
    {.name = "delta", .type = NR_FT_INT, .offset = offsetof(scfg, delta)},
    {.name = "ratio",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(scfg, ratio),
     .dmin = 0,
     .dmax = 1,
     .def_double = 0.5},
    {.name = "keepalive", .type = NR_FT_BOOL, .offset = offsetof(scfg, keepalive), .def_int = 1},
    {.name = "level",
     .type = NR_FT_ENUM,
     .offset = offsetof(scfg, level),
     .def_int = 1,
     .enum_names = level_names},
    {.name = "password", .type = NR_FT_SECRET, .offset = offsetof(scfg, password), .max = 16},
};

/* A cross-field rule the setters leave to nr_config_validate. */
static void s_check(const void *cfg, const char *path, nr_config_report *report)
{
    const scfg *c = cfg;
    if (c->level == 2 && !c->keepalive) {
        char p[NR_CONFIG_PATH_MAX];
        snprintf(p, sizeof(p), "%s.level", path);
        nr_config_report_add(report, p, "\"high\"", 0, 0, "needs keepalive");
    }
}

static const nr_config_schema s_schema = {
    .name = "svc",
    .struct_size = sizeof(scfg),
    .fields = s_fields,
    .nfields = sizeof(s_fields) / sizeof(s_fields[0]),
    .check = s_check,
};

static void init(scfg *c)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&s_schema, c, &err), NR_OK);
}

/* ---- what used to be a bug: cfg.host = "db"; ------------------------------------- */

static void test_set_overwrite_free(void **state)
{
    (void)state;
    scfg c;
    init(&c);
    nr_error err = {0};
    const char *old = c.host;
    assert_int_equal(nr_config_set_str(&s_schema, &c, "host", "db", &err), NR_OK);
    assert_string_equal(c.host, "db");
    assert_ptr_not_equal(c.host, "db"); /* a copy the struct owns ... */
    assert_ptr_not_equal(c.host, old);  /* ... and the default was freed (ASan: no leak) */
    /* overwrite: the first copy is freed */
    assert_int_equal(nr_config_set_str(&s_schema, &c, "host", "db2.internal", &err), NR_OK);
    assert_string_equal(c.host, "db2.internal");
    /* the caller's buffer stays the caller's */
    char buf[16];
    strcpy(buf, "db3");
    assert_int_equal(nr_config_set_str(&s_schema, &c, "host", buf, &err), NR_OK);
    buf[0] = 'X';
    assert_string_equal(c.host, "db3");
    /* a value taken from the field itself */
    assert_int_equal(nr_config_set_str(&s_schema, &c, "host", c.host, &err), NR_OK);
    assert_string_equal(c.host, "db3");
    /* unset an optional string, set it again */
    assert_int_equal(nr_config_set_str(&s_schema, &c, "note", "n", &err), NR_OK);
    assert_int_equal(nr_config_set_str(&s_schema, &c, "note", NULL, &err), NR_OK);
    assert_null(c.note);
    assert_int_equal(nr_config_set_str(&s_schema, &c, "note", "again", &err), NR_OK);
    /* the struct still validates and frees everything it owns */
    assert_int_equal(nr_config_validate(&s_schema, &c, "$", NULL, &err), NR_OK);
    nr_config_free(&s_schema, &c);
    assert_null(c.host);
    /* a zeroed struct is a valid target too */
    scfg z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(nr_config_set_str(&s_schema, &z, "host", "h", &err), NR_OK);
    nr_config_free(&s_schema, &z);
}

static void test_every_type(void **state)
{
    (void)state;
    scfg c;
    init(&c);
    nr_error err = {0};
    assert_int_equal(nr_config_set_int(&s_schema, &c, "port", 6379, &err), NR_OK);
    assert_int_equal(c.port, 6379);
    assert_int_equal(nr_config_set_int(&s_schema, &c, "delta", INT64_MIN, &err), NR_OK);
    assert_true(c.delta == INT64_MIN); /* no range: any value */
    assert_int_equal(nr_config_set_int(&s_schema, &c, "delta", -42, &err), NR_OK);
    assert_int_equal(nr_config_set_double(&s_schema, &c, "ratio", 0.25, &err), NR_OK);
    assert_true(c.ratio == 0.25);
    assert_int_equal(nr_config_set_int(&s_schema, &c, "ratio", 1, &err), NR_OK); /* as JSON */
    assert_true(c.ratio == 1.0);
    assert_int_equal(nr_config_set_bool(&s_schema, &c, "keepalive", false, &err), NR_OK);
    assert_false(c.keepalive);
    assert_int_equal(nr_config_set_enum(&s_schema, &c, "level", "low", &err), NR_OK);
    assert_int_equal(c.level, 0);
    assert_int_equal(nr_config_set_secret(&s_schema, &c, "password", "hunter2", &err), NR_OK);
    size_t len;
    assert_string_equal(nr_secret_reveal(c.password, &len), "hunter2");
    assert_int_equal(len, 7);
    assert_int_equal(nr_config_set_secret(&s_schema, &c, "password", "s3cond", &err), NR_OK);
    assert_string_equal(nr_secret_reveal(c.password, NULL), "s3cond");
    /* the same struct as the JSON text would give */
    const char *json = "{\"required\": \"set\", \"port\": 6379, \"delta\": -42, \"ratio\": 1,"
                       " \"keepalive\": false, \"level\": \"low\", \"password\": \"s3cond\"}";
    scfg p;
    assert_int_equal(nr_config_parse(&s_schema, json, strlen(json), &p, NULL, &err), NR_OK);
    assert_true(nr_config_equal(&s_schema, &c, &p));
    nr_config_free(&s_schema, &p);
    assert_int_equal(nr_config_set_secret(&s_schema, &c, "password", NULL, &err), NR_OK);
    assert_null(c.password);
    nr_config_free(&s_schema, &c);
}

/* ---- refusals: the field keeps its value, the message says why ------------------------ */

static void test_unknown_field(void **state)
{
    (void)state;
    scfg c;
    init(&c);
    nr_error err = {0};
    assert_int_equal(nr_config_set_str(&s_schema, &c, "hots", "db", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "svc config: no field \"hots\"; did you mean \"host\"?");
    assert_string_equal(c.host, "localhost");
    nr_error_clear(&err);
    assert_int_equal(nr_config_set_int(&s_schema, &c, "colour", 3, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "svc config: no field \"colour\"");
    assert_null(strstr(err.message, "did you mean"));
    /* the value given for an unknown field is never shown (it may be a secret) */
    nr_error_clear(&err);
    assert_int_equal(nr_config_set_str(&s_schema, &c, "passwrd", "topsecret", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "did you mean \"password\"?");
    assert_null(strstr(err.message, "topsecret"));
    /* a long or odd name is quoted and cut */
    char longname[300];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    nr_error_clear(&err);
    assert_int_equal(nr_config_set_bool(&s_schema, &c, longname, true, &err), NR_ECONFIG);
    /* the 299-byte name is cut, and the cut is marked: x's, then "..." */
    NR_ASSERT_ERR(err, NR_ECONFIG, "xxxxxxxx...");
    assert_null(strstr(err.message, longname));
    assert_int_equal(nr_config_set_bool(&s_schema, &c, "a\"b\n", true, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "no field \"a\\\"b\\n\"");
    nr_config_free(&s_schema, &c);
}

static void test_wrong_type(void **state)
{
    (void)state;
    scfg c;
    init(&c);
    nr_error err = {0};
    assert_int_equal(nr_config_set_int(&s_schema, &c, "host", 1, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG,
                  "svc config: host is a string field, not an integer (use nr_config_set_str)");
    assert_int_equal(nr_config_set_str(&s_schema, &c, "port", "80", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG,
                  "port is an integer field, not a string (use nr_config_set_int)");
    assert_int_equal(c.port, 5432);
    assert_int_equal(nr_config_set_str(&s_schema, &c, "level", "low", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "level is an enum field, not a string (use nr_config_set_enum)");
    assert_int_equal(nr_config_set_str(&s_schema, &c, "password", "pw", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "(use nr_config_set_secret)");
    assert_null(c.password);
    assert_int_equal(nr_config_set_secret(&s_schema, &c, "host", "pw", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "host is a string field, not a secret");
    assert_int_equal(nr_config_set_double(&s_schema, &c, "port", 1.0, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "not a number (use nr_config_set_int)");
    assert_int_equal(nr_config_set_bool(&s_schema, &c, "port", true, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "not a boolean");
    assert_int_equal(nr_config_set_enum(&s_schema, &c, "keepalive", "low", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "keepalive is a boolean field, not an enum");
    assert_string_equal(c.host, "localhost");
    assert_true(c.keepalive);
    nr_config_free(&s_schema, &c);
}

static void test_rules(void **state)
{
    (void)state;
    scfg c;
    init(&c);
    nr_error err = {0};
    assert_int_equal(nr_config_set_int(&s_schema, &c, "port", 0, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "svc config: port: must be between 1 and 65535 (got 0)");
    assert_int_equal(nr_config_set_int(&s_schema, &c, "port", 65536, &err), NR_ECONFIG);
    assert_int_equal(c.port, 5432);
    assert_int_equal(nr_config_set_double(&s_schema, &c, "ratio", 1.5, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "svc config: ratio: must be between 0 and 1 (got 1.5)");
    assert_int_equal(nr_config_set_int(&s_schema, &c, "ratio", 2, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "ratio: must be between 0 and 1 (got 2)");
    assert_int_equal(nr_config_set_double(&s_schema, &c, "ratio", NAN, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "ratio: must be a finite number");
    assert_int_equal(nr_config_set_double(&s_schema, &c, "ratio", INFINITY, &err), NR_ECONFIG);
    assert_true(c.ratio == 0.5);
    assert_int_equal(nr_config_set_str(&s_schema, &c, "host", "", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "svc config: host: must be at least 1 bytes (got \"\")");
    assert_int_equal(nr_config_set_str(&s_schema, &c, "note", "123456789", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "note: must be at most 8 bytes (got \"123456789\")");
    assert_int_equal(nr_config_set_str(&s_schema, &c, "host", "caf\xc3", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "host: must be valid UTF-8");
    assert_int_equal(nr_config_set_str(&s_schema, &c, "required", NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "svc config: required: is required");
    assert_string_equal(c.required, "set");
    assert_int_equal(nr_config_set_enum(&s_schema, &c, "level", "HIGH", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG,
                  "svc config: level: must be one of: low, mid, high (got \"HIGH\")");
    assert_int_equal(nr_config_set_enum(&s_schema, &c, "level", NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "level: must be one of: low, mid, high");
    assert_int_equal(c.level, 1);
    assert_string_equal(c.host, "localhost");
    assert_null(c.note);
    /* a cross-field rule is nr_config_validate's: each field alone is fine */
    assert_int_equal(nr_config_set_enum(&s_schema, &c, "level", "high", &err), NR_OK);
    assert_int_equal(nr_config_set_bool(&s_schema, &c, "keepalive", false, &err), NR_OK);
    assert_int_equal(nr_config_validate(&s_schema, &c, "$", NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.level: needs keepalive");
    nr_config_free(&s_schema, &c);
}

static void test_secret_never_shown(void **state)
{
    (void)state;
    scfg c;
    init(&c);
    nr_error err = {0};
    const char *pw = "correct-horse-battery-staple";
    assert_int_equal(nr_config_set_secret(&s_schema, &c, "password", pw, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG,
                  "svc config: password: must be at most 16 bytes (got <redacted>)");
    assert_null(strstr(err.message, "horse"));
    assert_null(c.password);
    assert_int_equal(nr_config_set_secret(&s_schema, &c, "password", "ok-pw", &err), NR_OK);
    assert_int_equal(nr_config_set_secret(&s_schema, &c, "password", "caf\xc3", &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "password: must be valid UTF-8 (got <redacted>)");
    assert_string_equal(nr_secret_reveal(c.password, NULL), "ok-pw"); /* kept */
    nr_config_free(&s_schema, &c);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    scfg c;
    init(&c);
    nr_error err = {0};
    assert_int_equal(nr_config_set_str(NULL, &c, "host", "h", &err), NR_EINVAL);
    assert_int_equal(nr_config_set_str(&s_schema, NULL, "host", "h", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "svc config: no struct or no field name");
    assert_int_equal(nr_config_set_int(&s_schema, &c, NULL, 1, &err), NR_EINVAL);
    /* err may be NULL: the code still says what happened */
    assert_int_equal(nr_config_set_int(&s_schema, &c, "port", 0, NULL), NR_ECONFIG);
    assert_int_equal(nr_config_set_int(&s_schema, &c, "nope", 1, NULL), NR_ECONFIG);
    assert_int_equal(nr_config_set_int(NULL, &c, "port", 1, NULL), NR_EINVAL);
    assert_int_equal(nr_config_set_int(&s_schema, &c, "port", 1, NULL), NR_OK);
    /* success leaves err untouched */
    nr_error_set(&err, NR_EBUSY, NULL, "earlier");
    assert_int_equal(nr_config_set_int(&s_schema, &c, "port", 2, &err), NR_OK);
    NR_ASSERT_ERR(err, NR_EBUSY, "earlier");
    nr_config_free(&s_schema, &c);
}

static void test_out_of_memory_keeps_old_value(void **state)
{
    (void)state;
    scfg c;
    init(&c);
    nr_error err = {0};
    assert_int_equal(nr_config_set_secret(&s_schema, &c, "password", "old", &err), NR_OK);
    nr_test_alloc_install();
    nr_test_alloc_fail_after(0);
    int rs = nr_config_set_str(&s_schema, &c, "host", "db", &err);
    int rp = nr_config_set_secret(&s_schema, &c, "password", "new", &err);
    nr_test_alloc_reset();
    assert_int_equal(rs, NR_ENOMEM);
    assert_int_equal(rp, NR_ENOMEM);
    NR_ASSERT_ERR(err, NR_ENOMEM, "svc config: password: out of memory");
    assert_string_equal(c.host, "localhost");
    assert_string_equal(nr_secret_reveal(c.password, NULL), "old");
    nr_config_free(&s_schema, &c);
}

/* ---- the library's own schema ---------------------------------------------------------- */

static void test_pool_config(void **state)
{
    (void)state;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    nr_error err = {0};
    assert_int_equal(nr_config_set_int(&nr_pool_config_schema, &pc, "max_size", 4, &err), NR_OK);
    assert_int_equal(pc.max_size, 4);
    assert_int_equal(nr_config_set_int(&nr_pool_config_schema, &pc, "max_size", 0, &err),
                     NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "pool config: max_size: must be between 1 and 1000000 (got 0)");
    assert_int_equal(pc.max_size, 4);
    assert_int_equal(
        nr_config_set_double(&nr_pool_config_schema, &pc, "create_backoff_factor", 3, &err), NR_OK);
    assert_true(pc.create_backoff_factor == 3.0);
    assert_int_equal(
        nr_config_set_bool(&nr_pool_config_schema, &pc, "validate_on_acquire", false, &err), NR_OK);
    assert_false(pc.validate_on_acquire);
    assert_int_equal(nr_config_set_int(&nr_pool_config_schema, &pc, "max_sise", 4, &err),
                     NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "did you mean \"max_size\"?");
    assert_int_equal(nr_config_validate(&nr_pool_config_schema, &pc, "$", NULL, &err), NR_OK);
    nr_config_free(&nr_pool_config_schema, &pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_overwrite_free),
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_secret_never_shown),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_out_of_memory_keeps_old_value),
        cmocka_unit_test(test_pool_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

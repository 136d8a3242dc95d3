/* test_config_prop.c - property tests of config schemas: random valid configs
 * round-trip through JSON; random single mutations are rejected and named.
 * Replay a failure with NR_TEST_SEED=<seed printed on stderr>. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LV_DEBUG, LV_INFO, LV_WARN, LV_ERROR, LV_COUNT };
static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};

typedef struct pcfg {
    bool flag;
    int64_t small;
    int64_t wide;
    double frac;
    double any;
    char *label;
    char *comment;
    int level;
    nr_secret *key;
    nr_secret *pin;
} pcfg;

static const nr_field p_fields[] = {
    {.name = "flag", .type = NR_FT_BOOL, .offset = offsetof(pcfg, flag)},
    {.name = "small", .type = NR_FT_INT, .offset = offsetof(pcfg, small), .min = -100, .max = 100},
    {.name = "wide", .type = NR_FT_INT, .offset = offsetof(pcfg, wide)},
    {.name = "frac", .type = NR_FT_DOUBLE, .offset = offsetof(pcfg, frac), .dmin = -1, .dmax = 1},
    {.name = "any", .type = NR_FT_DOUBLE, .offset = offsetof(pcfg, any)},
    {.name = "label",
     .type = NR_FT_STRING,
     .offset = offsetof(pcfg, label),
     .required = true,
     .min = 2,
     .max = 24},
    {.name = "comment", .type = NR_FT_STRING, .offset = offsetof(pcfg, comment), .max = 200},
    {.name = "level",
     .type = NR_FT_ENUM,
     .offset = offsetof(pcfg, level),
     .def_int = LV_INFO,
     .enum_names = level_names},
    {.name = "key", .type = NR_FT_SECRET, .offset = offsetof(pcfg, key), .min = 4, .max = 40},
    {.name = "pin",
     .type = NR_FT_SECRET,
     .offset = offsetof(pcfg, pin),
     .required = true,
     .max = 8},
};
#define NFIELDS (sizeof(p_fields) / sizeof(p_fields[0]))

/* Level "error" needs the flag set. */
static void p_check(const void *cfg, const char *path, nr_config_report *report)
{
    const pcfg *c = cfg;
    if (c->level == LV_ERROR && !c->flag) {
        char p[NR_CONFIG_PATH_MAX];
        snprintf(p, sizeof(p), "%s.flag", path);
        nr_config_report_add(report, p, "false", 0, 0, "must be true when level is error");
    }
}

static const nr_config_schema p_schema = {
    .name = "prop",
    .struct_size = sizeof(pcfg),
    .fields = p_fields,
    .nfields = NFIELDS,
    .check = p_check,
};

/* ---- random values ---------------------------------------------------------- */

static int64_t rand_int(nr_rng *r, int64_t lo, int64_t hi)
{
    switch (nr_rng_below(r, 6)) {
    case 0:
        return lo;
    case 1:
        return hi;
    case 2:
        return lo <= 0 && hi >= 0 ? 0 : lo;
    default:
        if (lo == INT64_MIN && hi == INT64_MAX)
            return (int64_t)nr_rng_next(r);
        return lo + (int64_t)nr_rng_below(r, (uint64_t)(hi - lo) + 1);
    }
}

static double rand_double_bits(nr_rng *r)
{
    for (;;) {
        uint64_t bits = nr_rng_next(r);
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (isfinite(d))
            return d;
    }
}

static double rand_any_double(nr_rng *r)
{
    static const double special[] = {0.0,     -0.0,    1.0,    -1.0,     0.1,     1e20, 1e-20,
                                     DBL_MAX, DBL_MIN, 5e-324, -DBL_MAX, 1 / 3.0, 2.5};
    if (nr_rng_chance(r, 1, 3))
        return special[nr_rng_below(r, sizeof(special) / sizeof(special[0]))];
    if (nr_rng_chance(r, 1, 2))
        return (double)(int64_t)nr_rng_next(r) / (double)(1 + nr_rng_below(r, 1000));
    return rand_double_bits(r);
}

static double rand_frac(nr_rng *r)
{
    static const double special[] = {-1.0, 1.0, 0.0, -0.0, 0.5, 5e-324, -1e-300};
    if (nr_rng_chance(r, 1, 4))
        return special[nr_rng_below(r, sizeof(special) / sizeof(special[0]))];
    double u = (double)(nr_rng_next(r) >> 11) * 0x1.0p-53; /* [0, 1) */
    return nr_rng_chance(r, 1, 2) ? u : -u;
}

/* One random character as UTF-8 (no NUL); returns its length. */
static size_t rand_char(nr_rng *r, char out[4])
{
    static const char *const pool[] = {"\"",
                                       "\\",
                                       "/",
                                       "\n",
                                       "\t",
                                       "\x01",
                                       "\x1f",
                                       "\x7f",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xef\xbf\xbf",
                                       "\xf0\x9f\x98\x80",
                                       "\xf4\x8f\xbf\xbf",
                                       "<",
                                       "}"};
    if (nr_rng_chance(r, 2, 3)) {
        out[0] = (char)(' ' + nr_rng_below(r, 95));
        return 1;
    }
    const char *s = pool[nr_rng_below(r, sizeof(pool) / sizeof(pool[0]))];
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

/* A random valid UTF-8 text of min..max bytes (max > 0). */
static char *rand_text(nr_rng *r, size_t min, size_t max, size_t *len_out)
{
    size_t target = min + (size_t)nr_rng_below(r, max - min + 1);
    char *s = nr_malloc(max + 1);
    size_t n = 0;
    while (n < target) {
        char c[4];
        size_t k = rand_char(r, c);
        if (n + k > max)
            k = 0;
        if (k == 0) {
            c[0] = 'a'; /* fill the last bytes with ASCII */
            k = 1;
        }
        memcpy(s + n, c, k);
        n += k;
    }
    s[n] = '\0';
    *len_out = n;
    return s;
}

static nr_secret *rand_secret(nr_rng *r, size_t min, size_t max)
{
    size_t len;
    char *t = rand_text(r, min, max, &len);
    nr_secret *s = NULL;
    assert_int_equal(nr_secret_create(&s, t, len, NULL), NR_OK);
    nr_free(t);
    return s;
}

static void rand_config(nr_rng *r, pcfg *c)
{
    size_t len;
    assert_int_equal(nr_config_init(&p_schema, c, NULL), NR_OK);
    c->flag = nr_rng_chance(r, 1, 2);
    c->small = rand_int(r, -100, 100);
    c->wide = rand_int(r, INT64_MIN, INT64_MAX);
    c->frac = rand_frac(r);
    c->any = rand_any_double(r);
    c->label = rand_text(r, 2, 24, &len);
    c->comment = nr_rng_chance(r, 1, 4) ? NULL : rand_text(r, 0, 200, &len);
    c->level = (int)nr_rng_below(r, LV_COUNT);
    if (c->level == LV_ERROR)
        c->flag = true;
    c->key = nr_rng_chance(r, 1, 4) ? NULL : rand_secret(r, 4, 40);
    c->pin = rand_secret(r, 0, 8);
}

/* ---- properties --------------------------------------------------------------- */

/* c with every secret replaced by other bytes of the same length. */
static void other_secrets(const pcfg *c, pcfg *out)
{
    assert_int_equal(nr_config_copy(&p_schema, out, c, NULL), NR_OK);
    nr_secret **sl[] = {&out->key, &out->pin};
    for (size_t i = 0; i < 2; i++) {
        if (!*sl[i])
            continue;
        size_t len;
        const char *s = nr_secret_reveal(*sl[i], &len);
        char *flipped = nr_malloc(len + 1);
        for (size_t k = 0; k < len; k++)
            flipped[k] = (char)(s[k] ^ 0x01);
        nr_secret_free(*sl[i]);
        assert_int_equal(nr_secret_create(sl[i], flipped, len, NULL), NR_OK);
        nr_free(flipped);
    }
}

static char *print_to_string(const pcfg *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    nr_config_print(&p_schema, c, f);
    fclose(f);
    return buf;
}

/* Redacted text and print do not depend on a secret's value. */
static void assert_secrets_hidden(const pcfg *c)
{
    pcfg o;
    other_secrets(c, &o);
    char *red = nr_config_serialize(&p_schema, c, NR_CONFIG_SECRETS_REDACT, NULL);
    char *red_o = nr_config_serialize(&p_schema, &o, NR_CONFIG_SECRETS_REDACT, NULL);
    char *pr = print_to_string(c);
    char *pr_o = print_to_string(&o);
    assert_non_null(red);
    assert_string_equal(red, red_o);
    assert_string_equal(pr, pr_o);
    if (nr_secret_len(c->key) >= 4) {
        const char *k = nr_secret_reveal(c->key, NULL);
        /* the key may show up only where the config without it has the same bytes */
        if (strstr(red, k))
            assert_non_null(strstr(red_o, k));
        if (strstr(pr, k))
            assert_non_null(strstr(pr_o, k));
    }
    nr_free(red);
    nr_free(red_o);
    free(pr);
    free(pr_o);
    nr_config_free(&p_schema, &o);
}

static void test_random_valid_configs_round_trip(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("config_prop_round_trip"));
    int n = nr_test_iterations(2000);
    for (int it = 0; it < n; it++) {
        pcfg c, back, copy;
        rand_config(&r, &c);
        nr_config_report rep;
        nr_error err = {0};
        if (nr_config_validate(&p_schema, &c, "$", &rep, &err) != NR_OK) {
            nr_config_report_print(&rep, stderr);
            fail_msg("iteration %d: a generated config does not validate: %s", it, err.message);
        }
        char *text = nr_config_serialize(&p_schema, &c, NR_CONFIG_SECRETS_REVEAL, &err);
        assert_non_null(text);
        if (nr_config_parse(&p_schema, text, strlen(text), &back, &rep, &err) != NR_OK) {
            nr_config_report_print(&rep, stderr);
            fail_msg("iteration %d: %s does not parse back: %s", it, text, err.message);
        }
        if (!nr_config_equal(&p_schema, &c, &back))
            fail_msg("iteration %d: %s parses back to a different config", it, text);
        nr_config_free(&p_schema, &back);

        json_t *j = nr_config_to_json(&p_schema, &c, NR_CONFIG_SECRETS_REVEAL, &err);
        assert_non_null(j);
        assert_int_equal(nr_config_from_json(&p_schema, j, "$", &back, NULL, &err), NR_OK);
        assert_true(nr_config_equal(&p_schema, &c, &back));
        json_decref(j);

        assert_int_equal(nr_config_copy(&p_schema, &copy, &c, &err), NR_OK);
        assert_true(nr_config_equal(&p_schema, &c, &copy));
        assert_secrets_hidden(&c);

        nr_free(text);
        nr_config_free(&p_schema, &back);
        nr_config_free(&p_schema, &copy);
        nr_config_free(&p_schema, &c);
    }
}

/* ---- mutations -------------------------------------------------------------------- */

typedef struct mutation {
    const char *field; /* the key the issue must name */
    char rule[NR_CONFIG_RULE_MAX];
} mutation;

static const char *wrong_type_rule(nr_field_type t)
{
    switch (t) {
    case NR_FT_BOOL:
        return "must be true or false";
    case NR_FT_INT:
        return "must be an integer";
    case NR_FT_DOUBLE:
        return "must be a number";
    case NR_FT_ENUM:
        return "must be one of: debug, info, warn, error";
    default:
        return "must be a string";
    }
}

/* A JSON value of a type field type t rejects. */
static json_t *wrong_type_value(nr_rng *r, nr_field_type t)
{
    json_t *choices[] = {json_true(),      json_integer(7), json_real(0.5),
                         json_string("s"), json_array(),    json_object()};
    json_t *pick = NULL;
    while (!pick) {
        size_t i = nr_rng_below(r, 6);
        bool ok = (t == NR_FT_BOOL && i != 0) || (t == NR_FT_INT && i != 1) ||
                  (t == NR_FT_DOUBLE && i != 1 && i != 2) ||
                  ((t == NR_FT_STRING || t == NR_FT_SECRET) && i != 3) || (t == NR_FT_ENUM);
        if (ok)
            pick = json_incref(choices[i]);
    }
    for (size_t i = 0; i < 6; i++)
        json_decref(choices[i]);
    return pick;
}

static json_t *long_string(size_t n)
{
    char *s = nr_malloc(n + 1);
    memset(s, 'z', n);
    s[n] = '\0';
    json_t *j = json_string(s);
    nr_free(s);
    return j;
}

/* Break exactly one thing in obj; describe what the issue must say. */
static void mutate(nr_rng *r, json_t *obj, mutation *m)
{
    switch (nr_rng_below(r, 9)) {
    case 0:
        m->field = "small";
        json_object_set_new(obj, "small", json_integer(nr_rng_chance(r, 1, 2) ? 101 : -101));
        snprintf(m->rule, sizeof(m->rule), "must be between -100 and 100");
        return;
    case 1: {
        const nr_field *f = &p_fields[nr_rng_below(r, NFIELDS)];
        m->field = f->name;
        json_object_set_new(obj, f->name, wrong_type_value(r, f->type));
        snprintf(m->rule, sizeof(m->rule), "%s", wrong_type_rule(f->type));
        return;
    }
    case 2: {
        static char key[32];
        snprintf(key, sizeof(key), "x_%u", (unsigned)nr_rng_below(r, 100000));
        m->field = key;
        json_object_set_new(obj, key, json_integer(1));
        snprintf(m->rule, sizeof(m->rule), "unknown field");
        return;
    }
    case 3:
        m->field = "level";
        json_object_set_new(obj, "level", json_string(nr_rng_chance(r, 1, 2) ? "Info" : "trace"));
        snprintf(m->rule, sizeof(m->rule), "must be one of: debug, info, warn, error");
        return;
    case 4:
        m->field = "label";
        json_object_set_new(obj, "label", long_string(25 + nr_rng_below(r, 100)));
        snprintf(m->rule, sizeof(m->rule), "must be at most 24 bytes");
        return;
    case 5:
        m->field = "key";
        json_object_set_new(obj, "key", long_string(nr_rng_chance(r, 1, 2) ? 41 : 3));
        snprintf(m->rule, sizeof(m->rule), "%s",
                 json_string_length(json_object_get(obj, "key")) == 41
                     ? "must be at most 40 bytes"
                     : "must be at least 4 bytes");
        return;
    case 6:
        m->field = "wide";
        json_object_set_new(obj, "wide", json_real(1.5));
        snprintf(m->rule, sizeof(m->rule), "must be an integer");
        return;
    case 7:
        m->field = nr_rng_chance(r, 1, 2) ? "label" : "pin";
        json_object_del(obj, m->field);
        snprintf(m->rule, sizeof(m->rule), "is required");
        return;
    default:
        m->field = "frac";
        json_object_set_new(obj, "frac", json_real(nr_rng_chance(r, 1, 2) ? 1.25 : -7.0));
        snprintf(m->rule, sizeof(m->rule), "must be between -1 and 1");
        return;
    }
}

static void test_random_invalid_configs_rejected(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("config_prop_invalid"));
    int n = nr_test_iterations(2000);
    for (int it = 0; it < n; it++) {
        pcfg c, out;
        rand_config(&r, &c);
        json_t *obj = nr_config_to_json(&p_schema, &c, NR_CONFIG_SECRETS_REVEAL, NULL);
        assert_non_null(obj);
        mutation m;
        mutate(&r, obj, &m);
        char *text = json_dumps(obj, JSON_COMPACT);
        assert_non_null(text);
        nr_config_report rep;
        nr_error err = {0};
        int rc = nr_config_parse(&p_schema, text, strlen(text), &out, &rep, &err);
        char want[NR_CONFIG_PATH_MAX];
        snprintf(want, sizeof(want), "$.%s", m.field);
        if (rc != NR_ECONFIG || rep.count != 1 || strcmp(rep.items[0].path, want) != 0 ||
            strcmp(rep.items[0].rule, m.rule) != 0) {
            nr_config_report_print(&rep, stderr);
            fail_msg("iteration %d: %s: expected one issue \"%s: %s\", rc %d", it, text, want,
                     m.rule, rc);
        }
        NR_ASSERT_ERR(err, NR_ECONFIG, want);
        if (strcmp(m.field, "key") == 0 || strcmp(m.field, "pin") == 0)
            assert_true(rep.items[0].value[0] == '\0' ||
                        strcmp(rep.items[0].value, NR_SECRET_REDACTED) == 0);
        /* the failed parse left the defaults */
        pcfg def;
        assert_int_equal(nr_config_init(&p_schema, &def, NULL), NR_OK);
        assert_true(nr_config_equal(&p_schema, &out, &def));
        nr_config_free(&p_schema, &def);
        nr_config_free(&p_schema, &out);
        free(text);
        json_decref(obj);
        nr_config_free(&p_schema, &c);
    }
}

/* Damaged text: parse either fails cleanly or yields a config that validates
 * and round-trips. */
static void test_random_damaged_text(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("config_prop_damaged"));
    int n = nr_test_iterations(2000);
    int parsed = 0;
    for (int it = 0; it < n; it++) {
        pcfg c, out;
        rand_config(&r, &c);
        char *text = nr_config_serialize(&p_schema, &c, NR_CONFIG_SECRETS_REVEAL, NULL);
        assert_non_null(text);
        size_t len = strlen(text);
        for (int k = 0, hits = 1 + (int)nr_rng_below(&r, 3); k < hits; k++) {
            size_t at = nr_rng_below(&r, len);
            text[at] = nr_rng_chance(&r, 1, 2) ? (char)nr_rng_below(&r, 256)
                                               : "{}[]\",:0a \\"[nr_rng_below(&r, 11)];
        }
        nr_config_report rep;
        nr_error err = {0};
        int rc = nr_config_parse(&p_schema, text, len, &out, &rep, &err);
        assert_true(rc == NR_OK || rc == NR_ECONFIG);
        if (rc == NR_OK) {
            parsed++;
            assert_int_equal(nr_config_validate(&p_schema, &out, "$", NULL, NULL), NR_OK);
            char *again = nr_config_serialize(&p_schema, &out, NR_CONFIG_SECRETS_REVEAL, NULL);
            pcfg back;
            assert_int_equal(nr_config_parse(&p_schema, again, strlen(again), &back, NULL, NULL),
                             NR_OK);
            assert_true(nr_config_equal(&p_schema, &out, &back));
            nr_config_free(&p_schema, &back);
            nr_free(again);
        } else {
            assert_true(rep.count > 0);
            NR_ASSERT_ERR(err, NR_ECONFIG, "prop config: ");
        }
        nr_config_free(&p_schema, &out);
        nr_free(text);
        nr_config_free(&p_schema, &c);
    }
    fprintf(stderr, "[info] %d of %d damaged texts still parsed\n", parsed, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_valid_configs_round_trip),
        cmocka_unit_test(test_random_invalid_configs_rejected),
        cmocka_unit_test(test_random_damaged_text),
    };
    return cmocka_run_group_tests_name("config_prop", tests, NULL, NULL);
}

/* test_scope.c - unit tests of scope values, their text form and errors. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static nr_scope make4(const char *t, const char *w, const char *e, const char *a)
{
    nr_scope s;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_scope_make(&s, t, w, e, a, &err), NR_OK);
    return s;
}

static void assert_formats_as(const nr_scope *s, const char *want)
{
    char buf[NR_SCOPE_TEXT_MAX];
    size_t n = nr_scope_format(s, buf, sizeof(buf));
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

/* A string of n copies of c. */
static const char *repeat(char c, size_t n)
{
    static char buf[256];
    assert_true(n < sizeof(buf));
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void test_global(void **state)
{
    (void)state;
    nr_scope g;
    memset(&g, 0x7f, sizeof(g));
    nr_scope_global(&g);
    assert_int_equal(g.level, NR_SCOPE_GLOBAL);
    for (int i = 0; i < NR_SCOPE_LEVELS; i++)
        assert_string_equal(g.ids[i], "");
    assert_string_equal(nr_scope_id(&g), "");
    assert_formats_as(&g, "global");
}

static void test_child_chain(void **state)
{
    (void)state;
    nr_error err;
    nr_error_clear(&err);
    nr_scope g, t, w, e, a;
    nr_scope_global(&g);
    assert_int_equal(nr_scope_child(&t, &g, "acme", &err), NR_OK);
    assert_int_equal(nr_scope_child(&w, &t, "billing", &err), NR_OK);
    assert_int_equal(nr_scope_child(&e, &w, "42", &err), NR_OK);
    assert_int_equal(nr_scope_child(&a, &e, "a1", &err), NR_OK);
    assert_int_equal(err.code, NR_OK);

    assert_int_equal(t.level, NR_SCOPE_TENANT);
    assert_int_equal(w.level, NR_SCOPE_WORKFLOW);
    assert_int_equal(e.level, NR_SCOPE_EXECUTION);
    assert_int_equal(a.level, NR_SCOPE_ACTION);
    assert_string_equal(nr_scope_id(&t), "acme");
    assert_string_equal(nr_scope_id(&w), "billing");
    assert_string_equal(nr_scope_id(&e), "42");
    assert_string_equal(nr_scope_id(&a), "a1");
    assert_string_equal(a.ids[0], "");
    assert_string_equal(a.ids[1], "acme");
    assert_string_equal(a.ids[2], "billing");
    assert_string_equal(a.ids[3], "42");
    assert_string_equal(w.ids[3], "");
    assert_string_equal(w.ids[4], "");
    assert_formats_as(&t, "tenant:acme");
    assert_formats_as(&a, "tenant:acme/workflow:billing/execution:42/action:a1");
    assert_true(nr_scope_equal(&a, &(nr_scope){0}) == false);

    nr_scope made = make4("acme", "billing", "42", "a1");
    assert_true(nr_scope_equal(&made, &a));
}

static void test_child_in_place(void **state)
{
    (void)state;
    nr_scope s;
    nr_scope_global(&s);
    assert_int_equal(nr_scope_child(&s, &s, "acme", NULL), NR_OK);
    assert_int_equal(nr_scope_child(&s, &s, "wf", NULL), NR_OK);
    assert_formats_as(&s, "tenant:acme/workflow:wf");
}

static void test_id_rules(void **state)
{
    (void)state;
    nr_scope g, out;
    nr_scope_global(&g);
    nr_error err;

    /* Every allowed character, and the longest allowed id. */
    const char *ok[] = {"a", "Z", "0", "_", ".", ":", "@", "-", "az_AZ.09:@-", repeat('x', 63)};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        nr_error_clear(&err);
        assert_int_equal(nr_scope_child(&out, &g, ok[i], &err), NR_OK);
        assert_string_equal(nr_scope_id(&out), ok[i]);
    }

    nr_error_clear(&err);
    assert_int_equal(nr_scope_child(&out, &g, "", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "empty");

    nr_error_clear(&err);
    assert_int_equal(nr_scope_child(&out, &g, repeat('x', 64), &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "at most 63");

    nr_error_clear(&err);
    assert_int_equal(nr_scope_child(&out, &g, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "missing");

    const char *bad[] = {"a/b", "a b", "a\tb", "ä", "a*", "a,b", "a#", "%", "a\\b", "\"q\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nr_error_clear(&err);
        assert_int_equal(nr_scope_child(&out, &g, bad[i], &err), NR_EINVAL);
        NR_ASSERT_ERR(err, NR_EINVAL, "invalid");
        assert_non_null(strstr(err.message, "allowed"));
    }
    nr_error_clear(&err);
    nr_scope_child(&out, &g, "a/b", &err);
    NR_ASSERT_ERR(err, NR_EINVAL, "'/' at offset 1");
    nr_error_clear(&err);
    nr_scope_child(&out, &g, "ab\x01", &err);
    NR_ASSERT_ERR(err, NR_EINVAL, "0x01 at offset 2");
}

static void test_failed_child_leaves_out_unchanged(void **state)
{
    (void)state;
    nr_scope before = make4("t", "w", NULL, NULL);
    nr_scope out = before;
    nr_scope g;
    nr_scope_global(&g);
    assert_int_equal(nr_scope_child(&out, &g, "bad/id", NULL), NR_EINVAL);
    assert_memory_equal(&out, &before, sizeof(out));
    assert_int_equal(nr_scope_make(&out, "ok", "b a d", NULL, NULL, NULL), NR_EINVAL);
    assert_memory_equal(&out, &before, sizeof(out));
}

static void test_no_child_of_action(void **state)
{
    (void)state;
    nr_scope a = make4("t", "w", "e", "a");
    nr_scope out;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_scope_child(&out, &a, "x", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "action");
    assert_non_null(strstr(err.message, "no child"));
}

static void test_make(void **state)
{
    (void)state;
    nr_error err;
    nr_scope s;
    nr_error_clear(&err);
    assert_int_equal(nr_scope_make(&s, NULL, NULL, NULL, NULL, &err), NR_OK);
    assert_int_equal(s.level, NR_SCOPE_GLOBAL);
    assert_int_equal(nr_scope_make(&s, "acme", NULL, NULL, NULL, &err), NR_OK);
    assert_int_equal(s.level, NR_SCOPE_TENANT);
    assert_int_equal(nr_scope_make(&s, "acme", "billing", NULL, NULL, &err), NR_OK);
    assert_int_equal(s.level, NR_SCOPE_WORKFLOW);
    assert_formats_as(&s, "tenant:acme/workflow:billing");
    assert_int_equal(nr_scope_make(&s, "acme", "billing", "42", NULL, &err), NR_OK);
    assert_int_equal(s.level, NR_SCOPE_EXECUTION);

    /* A gap in the chain is refused. */
    nr_error_clear(&err);
    assert_int_equal(nr_scope_make(&s, NULL, "billing", NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "workflow scope id given, but no tenant scope id");
    nr_error_clear(&err);
    assert_int_equal(nr_scope_make(&s, "acme", "billing", NULL, "a1", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "action scope id given, but no execution scope id");

    /* A bad id at any level names that level. */
    nr_error_clear(&err);
    assert_int_equal(nr_scope_make(&s, "acme", "", NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "workflow scope id is empty");
    nr_error_clear(&err);
    assert_int_equal(nr_scope_make(&s, "acme", "b", "c", "d/e", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "action scope id has invalid character '/'");
}

static void test_parent(void **state)
{
    (void)state;
    nr_scope a = make4("acme", "billing", "42", "a1");
    nr_scope p;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_scope_parent(&p, &a, &err), NR_OK);
    nr_scope e = make4("acme", "billing", "42", NULL);
    assert_true(nr_scope_equal(&p, &e));
    assert_string_equal(p.ids[4], "");
    assert_int_equal(nr_scope_parent(&p, &p, &err), NR_OK);
    assert_int_equal(nr_scope_parent(&p, &p, &err), NR_OK);
    assert_int_equal(nr_scope_parent(&p, &p, &err), NR_OK);
    assert_int_equal(p.level, NR_SCOPE_GLOBAL);
    assert_formats_as(&p, "global");
    for (int i = 0; i < NR_SCOPE_LEVELS; i++)
        assert_string_equal(p.ids[i], "");

    nr_error_clear(&err);
    assert_int_equal(nr_scope_parent(&p, &p, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "global");
    assert_non_null(strstr(err.message, "no parent"));
}

static void test_contains_and_equal(void **state)
{
    (void)state;
    nr_scope g;
    nr_scope_global(&g);
    nr_scope t = make4("acme", NULL, NULL, NULL);
    nr_scope t2 = make4("other", NULL, NULL, NULL);
    nr_scope w = make4("acme", "billing", NULL, NULL);
    nr_scope w2 = make4("acme", "shipping", NULL, NULL);
    nr_scope w3 = make4("other", "billing", NULL, NULL);
    nr_scope a = make4("acme", "billing", "42", "a1");

    assert_true(nr_scope_contains(&g, &g));
    assert_true(nr_scope_contains(&g, &a));
    assert_true(nr_scope_contains(&t, &w));
    assert_true(nr_scope_contains(&t, &a));
    assert_true(nr_scope_contains(&w, &a));
    assert_true(nr_scope_contains(&a, &a));
    assert_false(nr_scope_contains(&a, &w));
    assert_false(nr_scope_contains(&w, &t));
    assert_false(nr_scope_contains(&t, &g));
    assert_false(nr_scope_contains(&t2, &w));
    assert_false(nr_scope_contains(&w2, &a));
    assert_false(nr_scope_contains(&w, &w2));
    assert_false(nr_scope_contains(&w, &w3));
    assert_false(nr_scope_contains(&w3, &w));
    assert_false(nr_scope_contains(NULL, &g));
    assert_false(nr_scope_contains(&g, NULL));

    nr_scope w_copy = make4("acme", "billing", NULL, NULL);
    assert_true(nr_scope_equal(&w, &w_copy));
    assert_false(nr_scope_equal(&w, &w2));
    assert_false(nr_scope_equal(&w, &t));
    assert_false(nr_scope_equal(&w, NULL));

    /* Bytes past a scope's own level do not take part. */
    nr_scope junk = w;
    memset(junk.ids[3], 'z', sizeof(junk.ids[3]));
    assert_true(nr_scope_equal(&w, &junk));
    assert_true(nr_scope_contains(&junk, &w));
}

static void test_invalid_level_values(void **state)
{
    (void)state;
    nr_scope bad;
    nr_scope_global(&bad);
    bad.level = (nr_scope_level)7;
    nr_scope g, out;
    nr_scope_global(&g);
    nr_error err;
    assert_false(nr_scope_contains(&bad, &g));
    assert_false(nr_scope_contains(&g, &bad));
    assert_false(nr_scope_equal(&bad, &bad));
    assert_string_equal(nr_scope_id(&bad), "");
    assert_formats_as(&bad, "invalid");
    nr_error_clear(&err);
    assert_int_equal(nr_scope_child(&out, &bad, "x", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "invalid level 7");
    nr_error_clear(&err);
    assert_int_equal(nr_scope_parent(&out, &bad, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "invalid level 7");
}

static void test_level_names(void **state)
{
    (void)state;
    assert_string_equal(nr_scope_level_name(NR_SCOPE_GLOBAL), "global");
    assert_string_equal(nr_scope_level_name(NR_SCOPE_TENANT), "tenant");
    assert_string_equal(nr_scope_level_name(NR_SCOPE_WORKFLOW), "workflow");
    assert_string_equal(nr_scope_level_name(NR_SCOPE_EXECUTION), "execution");
    assert_string_equal(nr_scope_level_name(NR_SCOPE_ACTION), "action");
    assert_string_equal(nr_scope_level_name((nr_scope_level)5), "invalid");
    assert_string_equal(nr_scope_level_name((nr_scope_level)-1), "invalid");
}

static void test_format_small_buffers(void **state)
{
    (void)state;
    nr_scope w = make4("acme", "billing", NULL, NULL);
    const char *full = "tenant:acme/workflow:billing";
    size_t need = strlen(full);
    assert_int_equal(nr_scope_format(&w, NULL, 0), need);

    char buf[64];
    memset(buf, '#', sizeof(buf));
    assert_int_equal(nr_scope_format(&w, buf, 0), need);
    assert_int_equal(buf[0], '#'); /* len 0: nothing written */

    assert_int_equal(nr_scope_format(&w, buf, 1), need);
    assert_string_equal(buf, "");

    assert_int_equal(nr_scope_format(&w, buf, 10), need);
    assert_string_equal(buf, "tenant:ac");

    assert_int_equal(nr_scope_format(&w, buf, need), need);
    assert_int_equal(strlen(buf), need - 1);
    assert_true(strncmp(buf, full, need - 1) == 0);

    assert_int_equal(nr_scope_format(&w, buf, need + 1), need);
    assert_string_equal(buf, full);

    nr_scope g;
    nr_scope_global(&g);
    assert_int_equal(nr_scope_format(&g, buf, 4), 6);
    assert_string_equal(buf, "glo");
}

static void test_longest_text_fits(void **state)
{
    (void)state;
    char id[NR_SCOPE_ID_MAX];
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    nr_scope s = make4(id, id, id, id);
    size_t n = nr_scope_format(&s, NULL, 0);
    assert_true(n + 1 <= NR_SCOPE_TEXT_MAX);
    char buf[NR_SCOPE_TEXT_MAX];
    assert_int_equal(nr_scope_format(&s, buf, sizeof(buf)), n);
    nr_scope back;
    assert_int_equal(nr_scope_parse(&back, buf, NULL), NR_OK);
    assert_true(nr_scope_equal(&s, &back));
}

static void test_parse_valid(void **state)
{
    (void)state;
    nr_scope s;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_scope_parse(&s, "global", &err), NR_OK);
    assert_int_equal(s.level, NR_SCOPE_GLOBAL);

    assert_int_equal(nr_scope_parse(&s, "tenant:acme", &err), NR_OK);
    nr_scope want = make4("acme", NULL, NULL, NULL);
    assert_true(nr_scope_equal(&s, &want));

    assert_int_equal(
        nr_scope_parse(&s, "tenant:acme/workflow:billing/execution:42/action:a1", &err), NR_OK);
    want = make4("acme", "billing", "42", "a1");
    assert_true(nr_scope_equal(&s, &want));
    assert_memory_equal(&s, &want, sizeof(s));

    /* ':' inside an id, including ids that look like level names. */
    assert_int_equal(nr_scope_parse(&s, "tenant:a:b/workflow:tenant:x", &err), NR_OK);
    assert_string_equal(s.ids[1], "a:b");
    assert_string_equal(s.ids[2], "tenant:x");
    assert_int_equal(s.level, NR_SCOPE_WORKFLOW);
    assert_int_equal(err.code, NR_OK);
}

typedef struct bad_text {
    const char *text;
    const char *needle;
} bad_text;

static void test_parse_errors(void **state)
{
    (void)state;
    const bad_text cases[] = {
        {"", "empty"},
        {"Global", "segment 1 must be \"tenant:<id>\""},
        {"global/tenant:a", "segment 1 must be \"tenant:<id>\""},
        {" global", "segment 1"},
        {"tenant", "segment 1 must be \"tenant:<id>\""},
        {"tenant:", "segment 1: tenant scope id is empty"},
        {"tenant:a b", "segment 1: tenant scope id has invalid character ' '"},
        {"workflow:b", "segment 1 must be \"tenant:<id>\""},
        {"tenant:a/execution:b", "segment 2 must be \"workflow:<id>\""},
        {"tenant:a/workflow:b/action:c", "segment 3 must be \"execution:<id>\""},
        {"tenant:a//workflow:b", "empty segment 2"},
        {"tenant:a/", "empty segment 2"},
        {"/tenant:a", "empty segment 1"},
        {"tenant:a/workflow:", "segment 2: workflow scope id is empty"},
        {"tenant:a/workflow:b/execution:c/action:d/x:e", "more than 4 segments"},
        {"tenant:a/workflow:b/execution:c/action:d/", "more than 4 segments"},
        {"tenant:a/Workflow:b", "segment 2 must be \"workflow:<id>\""},
        {"tenant:a\n", "invalid byte 0x0a"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nr_scope s = make4("keep", NULL, NULL, NULL);
        nr_scope before = s;
        nr_error err;
        nr_error_clear(&err);
        int rc = nr_scope_parse(&s, cases[i].text, &err);
        if (rc != NR_EINVAL)
            fail_msg("parse \"%s\": rc %d, want NR_EINVAL", cases[i].text, rc);
        NR_ASSERT_ERR(err, NR_EINVAL, cases[i].needle);
        assert_memory_equal(&s, &before, sizeof(s));
    }

    /* An id too long inside the text. */
    char text[300];
    snprintf(text, sizeof(text), "tenant:%s", repeat('y', 64));
    nr_scope s;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_scope_parse(&s, text, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "at most 63");

    nr_error_clear(&err);
    assert_int_equal(nr_scope_parse(&s, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global),
        cmocka_unit_test(test_child_chain),
        cmocka_unit_test(test_child_in_place),
        cmocka_unit_test(test_id_rules),
        cmocka_unit_test(test_failed_child_leaves_out_unchanged),
        cmocka_unit_test(test_no_child_of_action),
        cmocka_unit_test(test_make),
        cmocka_unit_test(test_parent),
        cmocka_unit_test(test_contains_and_equal),
        cmocka_unit_test(test_invalid_level_values),
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_format_small_buffers),
        cmocka_unit_test(test_longest_text_fits),
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests_name("scope", tests, NULL, NULL);
}

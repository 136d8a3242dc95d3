/*
 * test_scope_prop.c - property tests of scope containment and the text form.
 *
 * Random scopes use a tiny id alphabet so that equal chains, shared prefixes
 * and siblings come up often. The seed is printed; replay a failure with
 * NR_TEST_SEED=<seed> (and NR_TEST_ITERATIONS=<n> to run longer).
 */
#include "testutil.h"

#include <string.h>

static const char *const small_ids[] = {"a", "b", "a:b"};
#define SMALL_IDS (sizeof(small_ids) / sizeof(small_ids[0]))

static const char id_chars[] = "ABCXYZabcxyz0189_.:@-";

/* A random id: usually from the tiny alphabet, sometimes long and varied. */
static void random_id(nr_rng *r, char *buf)
{
    if (!nr_rng_chance(r, 1, 8)) {
        strcpy(buf, small_ids[nr_rng_below(r, SMALL_IDS)]);
        return;
    }
    size_t n = 1 + (size_t)nr_rng_below(r, NR_SCOPE_ID_MAX - 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = id_chars[nr_rng_below(r, sizeof(id_chars) - 1)];
    buf[n] = '\0';
}

/* Extend s by `extra` random levels (as far as Action). */
static void extend(nr_rng *r, nr_scope *s, int extra)
{
    for (int i = 0; i < extra && s->level < NR_SCOPE_ACTION; i++) {
        char id[NR_SCOPE_ID_MAX];
        random_id(r, id);
        assert_int_equal(nr_scope_child(s, s, id, NULL), NR_OK);
    }
}

static nr_scope random_scope(nr_rng *r)
{
    nr_scope s;
    nr_scope_global(&s);
    extend(r, &s, (int)nr_rng_below(r, NR_SCOPE_LEVELS));
    return s;
}

/* A scope related to s: an ancestor of s, extended again at random. */
static nr_scope relative_of(nr_rng *r, const nr_scope *s)
{
    nr_scope t = *s;
    int up = (int)nr_rng_below(r, (uint64_t)s->level + 1);
    for (int i = 0; i < up; i++)
        assert_int_equal(nr_scope_parent(&t, &t, NULL), NR_OK);
    extend(r, &t, (int)nr_rng_below(r, NR_SCOPE_LEVELS));
    return t;
}

typedef struct text {
    char s[NR_SCOPE_TEXT_MAX];
} text;

static text fmt(const nr_scope *s)
{
    text t;
    size_t n = nr_scope_format(s, t.s, sizeof(t.s));
    assert_true(n < sizeof(t.s));
    return t;
}

/* Containment computed independently from the text form: ids cannot hold
 * '/', so a contains b exactly when a is global or b's text is a's text or
 * starts with a's text followed by '/'. */
static bool oracle_contains(const nr_scope *a, const nr_scope *b)
{
    if (a->level == NR_SCOPE_GLOBAL)
        return true;
    text ta = fmt(a), tb = fmt(b);
    size_t n = strlen(ta.s);
    return strncmp(ta.s, tb.s, n) == 0 && (tb.s[n] == '\0' || tb.s[n] == '/');
}

static void test_reflexive_and_oracle(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("scope_prop reflexive_and_oracle"));
    int iters = nr_test_iterations(3000);
    int related = 0;
    for (int i = 0; i < iters; i++) {
        nr_scope a = random_scope(&r);
        nr_scope b = nr_rng_chance(&r, 1, 2) ? relative_of(&r, &a) : random_scope(&r);
        if (!nr_scope_contains(&a, &a))
            fail_msg("not reflexive: %s", fmt(&a).s);
        if (!nr_scope_equal(&a, &a))
            fail_msg("not equal to itself: %s", fmt(&a).s);
        bool got = nr_scope_contains(&a, &b);
        if (got != oracle_contains(&a, &b))
            fail_msg("contains(%s, %s) = %d, text prefix says %d", fmt(&a).s, fmt(&b).s, got, !got);
        related += got && !nr_scope_equal(&a, &b);
    }
    /* The generator must actually produce strict containment. */
    assert_true(related > iters / 20);
}

static void test_antisymmetric(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("scope_prop antisymmetric"));
    int iters = nr_test_iterations(3000);
    int both = 0;
    for (int i = 0; i < iters; i++) {
        nr_scope a = random_scope(&r);
        nr_scope b = nr_rng_chance(&r, 1, 2) ? relative_of(&r, &a) : random_scope(&r);
        bool ab = nr_scope_contains(&a, &b), ba = nr_scope_contains(&b, &a);
        if (ab && ba) {
            both++;
            if (!nr_scope_equal(&a, &b))
                fail_msg("%s and %s contain each other but differ", fmt(&a).s, fmt(&b).s);
            assert_string_equal(fmt(&a).s, fmt(&b).s);
        }
        if (nr_scope_equal(&a, &b) && !(ab && ba))
            fail_msg("equal %s and %s do not contain each other", fmt(&a).s, fmt(&b).s);
    }
    assert_true(both > 0);
}

static void test_transitive(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("scope_prop transitive"));
    int iters = nr_test_iterations(3000);
    int chains = 0;
    for (int i = 0; i < iters; i++) {
        nr_scope a = random_scope(&r);
        nr_scope b = relative_of(&r, &a);
        nr_scope c = nr_rng_chance(&r, 3, 4) ? relative_of(&r, &b) : random_scope(&r);
        if (nr_scope_contains(&a, &b) && nr_scope_contains(&b, &c)) {
            chains++;
            if (!nr_scope_contains(&a, &c))
                fail_msg("%s > %s > %s but not %s > %s", fmt(&a).s, fmt(&b).s, fmt(&c).s, fmt(&a).s,
                         fmt(&c).s);
        }
    }
    assert_true(chains > iters / 20);
}

static void test_siblings_never_contain(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("scope_prop siblings"));
    int iters = nr_test_iterations(3000);
    int siblings = 0;
    for (int i = 0; i < iters; i++) {
        nr_scope a = random_scope(&r);
        nr_scope b = relative_of(&r, &a);
        /* Bring b to a's level: cut it down or extend it. */
        while (b.level > a.level)
            assert_int_equal(nr_scope_parent(&b, &b, NULL), NR_OK);
        extend(&r, &b, (int)a.level - (int)b.level);
        assert_int_equal(a.level, b.level);
        if (nr_scope_equal(&a, &b))
            continue;
        siblings++;
        if (nr_scope_contains(&a, &b) || nr_scope_contains(&b, &a))
            fail_msg("same-level scopes %s and %s see each other", fmt(&a).s, fmt(&b).s);
    }
    assert_true(siblings > iters / 10);
}

static void test_parent_contains_child(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("scope_prop parent_child"));
    int iters = nr_test_iterations(3000);
    for (int i = 0; i < iters; i++) {
        nr_scope s = random_scope(&r);
        if (s.level > NR_SCOPE_GLOBAL) {
            nr_scope p;
            assert_int_equal(nr_scope_parent(&p, &s, NULL), NR_OK);
            assert_int_equal(p.level, s.level - 1);
            if (!nr_scope_contains(&p, &s) || nr_scope_contains(&s, &p))
                fail_msg("parent %s of %s", fmt(&p).s, fmt(&s).s);
        }
        if (s.level < NR_SCOPE_ACTION) {
            char id[NR_SCOPE_ID_MAX];
            random_id(&r, id);
            nr_scope c, back;
            assert_int_equal(nr_scope_child(&c, &s, id, NULL), NR_OK);
            assert_string_equal(nr_scope_id(&c), id);
            if (!nr_scope_contains(&s, &c) || nr_scope_contains(&c, &s))
                fail_msg("child %s of %s", fmt(&c).s, fmt(&s).s);
            assert_int_equal(nr_scope_parent(&back, &c, NULL), NR_OK);
            assert_true(nr_scope_equal(&back, &s));
        }
    }
}

static void test_format_parse_roundtrip(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("scope_prop roundtrip"));
    int iters = nr_test_iterations(3000);
    for (int i = 0; i < iters; i++) {
        nr_scope s = random_scope(&r);
        text t = fmt(&s);
        nr_scope back;
        nr_error err;
        nr_error_clear(&err);
        if (nr_scope_parse(&back, t.s, &err) != NR_OK)
            fail_msg("parse(\"%s\"): %s", t.s, err.message);
        if (!nr_scope_equal(&s, &back))
            fail_msg("parse(format(%s)) differs", t.s);
        /* Byte for byte, including the unused ids. */
        assert_memory_equal(&s, &back, sizeof(s));
        assert_string_equal(fmt(&back).s, t.s);
        assert_int_equal(nr_scope_format(&s, NULL, 0), strlen(t.s));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reflexive_and_oracle),
        cmocka_unit_test(test_antisymmetric),
        cmocka_unit_test(test_transitive),
        cmocka_unit_test(test_siblings_never_contain),
        cmocka_unit_test(test_parent_contains_child),
        cmocka_unit_test(test_format_parse_roundtrip),
    };
    return cmocka_run_group_tests_name("scope_prop", tests, NULL, NULL);
}

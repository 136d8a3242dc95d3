/* test_lifecycle.c - the lifecycle transition table, names and errors. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#define C  NR_LC_CREATED
#define IN NR_LC_INITIALIZING
#define R  NR_LC_READY
#define U  NR_LC_IN_USE
#define I  NR_LC_IDLE
#define M  NR_LC_MAINTENANCE
#define D  NR_LC_DRAINING
#define CL NR_LC_CLEANUP
#define T  NR_LC_TERMINATED
#define F  NR_LC_FAILED

/* The allowed transitions, written out as a list independent of the table
 * in the library. */
// clang-format off
static const nr_lifecycle allowed[][2] = {
    {C, IN},  {C, F},                                  /* Created */
    {IN, R},  {IN, F},                                 /* Initializing */
    {R, U},   {R, I},  {R, M},  {R, D},  {R, CL}, {R, F}, /* Ready */
    {U, I},   {U, M},  {U, D},  {U, CL}, {U, F},          /* InUse */
    {I, U},   {I, M},  {I, D},  {I, CL}, {I, F},          /* Idle */
    {M, R},   {M, I},  {M, U},  {M, D},  {M, CL}, {M, F}, /* Maintenance */
    {D, CL},  {D, F},                                  /* Draining */
    {CL, T},  {CL, F},                                 /* Cleanup */
};
// clang-format on
#define ALLOWED_COUNT (sizeof(allowed) / sizeof(allowed[0]))

static bool listed(nr_lifecycle from, nr_lifecycle to)
{
    for (size_t i = 0; i < ALLOWED_COUNT; i++) {
        if (allowed[i][0] == from && allowed[i][1] == to)
            return true;
    }
    return false;
}

static const char *const expected_names[NR_LC_COUNT] = {
    "Created",     "Initializing", "Ready",   "InUse",      "Idle",
    "Maintenance", "Draining",     "Cleanup", "Terminated", "Failed",
};

static void test_names(void **state)
{
    (void)state;
    for (int s = 0; s < NR_LC_COUNT; s++)
        assert_string_equal(nr_lifecycle_name((nr_lifecycle)s), expected_names[s]);
    assert_string_equal(nr_lifecycle_name((nr_lifecycle)NR_LC_COUNT), "Invalid");
    assert_string_equal(nr_lifecycle_name((nr_lifecycle)-1), "Invalid");
    assert_string_equal(nr_lifecycle_name((nr_lifecycle)1000), "Invalid");
}

static void test_table_matches_list(void **state)
{
    (void)state;
    assert_int_equal(ALLOWED_COUNT, 30);
    int count = 0;
    for (int from = 0; from < NR_LC_COUNT; from++) {
        for (int to = 0; to < NR_LC_COUNT; to++) {
            bool can = nr_lifecycle_can((nr_lifecycle)from, (nr_lifecycle)to);
            if (can != listed((nr_lifecycle)from, (nr_lifecycle)to))
                fail_msg("can(%s, %s) = %d", expected_names[from], expected_names[to], can);
            count += can;
        }
    }
    assert_int_equal(count, ALLOWED_COUNT);
}

static void test_every_allowed_transition_succeeds(void **state)
{
    (void)state;
    for (size_t i = 0; i < ALLOWED_COUNT; i++) {
        nr_lifecycle s = allowed[i][0];
        nr_error err;
        nr_error_clear(&err);
        assert_int_equal(nr_lifecycle_transition(&s, allowed[i][1], "r1", &err), NR_OK);
        assert_int_equal(s, allowed[i][1]);
        assert_int_equal(err.code, NR_OK); /* success leaves err untouched */
        assert_string_equal(err.message, "");
    }
}

static void test_every_other_transition_refused(void **state)
{
    (void)state;
    int refused = 0;
    for (int from = 0; from < NR_LC_COUNT; from++) {
        for (int to = 0; to < NR_LC_COUNT; to++) {
            if (listed((nr_lifecycle)from, (nr_lifecycle)to))
                continue;
            nr_lifecycle s = (nr_lifecycle)from;
            nr_error err;
            nr_error_clear(&err);
            int rc = nr_lifecycle_transition(&s, (nr_lifecycle)to, "pool/7", &err);
            assert_int_equal(rc, NR_ESTATE);
            assert_int_equal(s, from);
            char want[128];
            snprintf(want, sizeof(want), "invalid state transition: %s -> %s", expected_names[from],
                     expected_names[to]);
            assert_string_equal(err.message, want);
            assert_string_equal(err.resource_id, "pool/7");
            refused++;
        }
    }
    assert_int_equal(refused, NR_LC_COUNT * NR_LC_COUNT - (int)ALLOWED_COUNT);
}

static void test_refusal_with_null_err_and_id(void **state)
{
    (void)state;
    nr_lifecycle s = NR_LC_TERMINATED;
    assert_int_equal(nr_lifecycle_transition(&s, NR_LC_READY, NULL, NULL), NR_ESTATE);
    assert_int_equal(s, NR_LC_TERMINATED);
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_lifecycle_transition(&s, NR_LC_READY, NULL, &err), NR_ESTATE);
    assert_string_equal(err.message, "invalid state transition: Terminated -> Ready");
    assert_string_equal(err.resource_id, "");
}

static void test_terminal_and_available(void **state)
{
    (void)state;
    for (int s = 0; s < NR_LC_COUNT; s++) {
        bool terminal = s == NR_LC_TERMINATED || s == NR_LC_FAILED;
        bool available = s == NR_LC_READY || s == NR_LC_IDLE;
        assert_int_equal(nr_lifecycle_is_terminal((nr_lifecycle)s), terminal);
        assert_int_equal(nr_lifecycle_is_available((nr_lifecycle)s), available);
        /* Terminal exactly when no transition leaves the state. */
        bool any = false;
        for (int to = 0; to < NR_LC_COUNT; to++)
            any = any || nr_lifecycle_can((nr_lifecycle)s, (nr_lifecycle)to);
        assert_int_equal(!any, terminal);
    }
}

static void test_out_of_range(void **state)
{
    (void)state;
    const int bad[] = {-1, NR_LC_COUNT, 99};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nr_lifecycle b = (nr_lifecycle)bad[i];
        assert_false(nr_lifecycle_is_terminal(b));
        assert_false(nr_lifecycle_is_available(b));
        for (int s = 0; s < NR_LC_COUNT; s++) {
            assert_false(nr_lifecycle_can(b, (nr_lifecycle)s));
            assert_false(nr_lifecycle_can((nr_lifecycle)s, b));
        }

        char want[128];
        nr_error err;
        nr_lifecycle s = NR_LC_READY;
        nr_error_clear(&err);
        assert_int_equal(nr_lifecycle_transition(&s, b, NULL, &err), NR_ESTATE);
        assert_int_equal(s, NR_LC_READY);
        snprintf(want, sizeof(want), "invalid state transition: Ready -> Invalid(%d)", bad[i]);
        assert_string_equal(err.message, want);

        s = b;
        nr_error_clear(&err);
        assert_int_equal(nr_lifecycle_transition(&s, NR_LC_FAILED, NULL, &err), NR_ESTATE);
        assert_int_equal((int)s, bad[i]);
        snprintf(want, sizeof(want), "invalid state transition: Invalid(%d) -> Failed", bad[i]);
        assert_string_equal(err.message, want);
    }
}

static void test_null_state(void **state)
{
    (void)state;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_lifecycle_transition(NULL, NR_LC_READY, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "NULL");
}

static void test_happy_path(void **state)
{
    (void)state;
    const nr_lifecycle path[] = {IN, R, U, I, U, M, R, I, D, CL, T};
    nr_lifecycle s = NR_LC_CREATED;
    for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
        assert_int_equal(nr_lifecycle_transition(&s, path[i], NULL, NULL), NR_OK);
        assert_int_equal(s, path[i]);
    }
    assert_true(nr_lifecycle_is_terminal(s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_table_matches_list),
        cmocka_unit_test(test_every_allowed_transition_succeeds),
        cmocka_unit_test(test_every_other_transition_refused),
        cmocka_unit_test(test_refusal_with_null_err_and_id),
        cmocka_unit_test(test_terminal_and_available),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_null_state),
        cmocka_unit_test(test_happy_path),
    };
    return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}

/* test_time.c - monotonic clock and deadline arithmetic. Only lower bounds on
 * elapsed time are asserted, so a slow machine cannot make a test fail. */
#include "testutil.h"

static void test_now_is_monotonic_and_positive(void **state)
{
    (void)state;
    int64_t prev = nr_now_ns();
    assert_true(prev > 0);
    for (int i = 0; i < 1000; i++) {
        int64_t t = nr_now_ns();
        assert_true(t >= prev);
        prev = t;
    }
}

static void test_sleep_lasts_at_least_requested(void **state)
{
    (void)state;
    int64_t t0 = nr_now_ns();
    nr_sleep_ns(2 * NR_NS_PER_MS);
    assert_true(nr_now_ns() - t0 >= 2 * NR_NS_PER_MS);

    /* Zero and negative durations return without sleeping forever. */
    nr_sleep_ns(0);
    nr_sleep_ns(-5);
}

static void test_deadline_in_future(void **state)
{
    (void)state;
    int64_t before = nr_now_ns();
    nr_deadline d = nr_deadline_in_ns(10 * NR_NS_PER_S);
    int64_t after = nr_now_ns();
    assert_true(nr_deadline_is_set(d));
    assert_true(d.at_ns >= before + 10 * NR_NS_PER_S);
    assert_true(d.at_ns <= after + 10 * NR_NS_PER_S);
    assert_false(nr_deadline_expired(d));
    int64_t left = nr_deadline_remaining_ns(d);
    assert_true(left > 0);
    assert_true(left <= 10 * NR_NS_PER_S);
}

static void test_deadline_in_ms_scales(void **state)
{
    (void)state;
    int64_t before = nr_now_ns();
    nr_deadline d = nr_deadline_in_ms(5000);
    int64_t after = nr_now_ns();
    assert_true(d.at_ns >= before + 5000 * NR_NS_PER_MS);
    assert_true(d.at_ns <= after + 5000 * NR_NS_PER_MS);
}

static void test_deadline_expires_after_sleep(void **state)
{
    (void)state;
    nr_deadline d = nr_deadline_in_ms(1);
    nr_sleep_ns(2 * NR_NS_PER_MS);
    assert_true(nr_deadline_expired(d));
    assert_int_equal(nr_deadline_remaining_ns(d), 0);
}

static void test_zero_and_negative_are_expired(void **state)
{
    (void)state;
    nr_deadline zero = nr_deadline_in_ns(0);
    assert_true(nr_deadline_is_set(zero));
    assert_true(nr_deadline_expired(zero));
    assert_int_equal(nr_deadline_remaining_ns(zero), 0);

    nr_deadline neg = nr_deadline_in_ms(-1000);
    assert_true(nr_deadline_is_set(neg));
    assert_true(nr_deadline_expired(neg));
    assert_int_equal(nr_deadline_remaining_ns(neg), 0);

    /* Far in the past still gives a set, expired deadline (never "unset"). */
    nr_deadline far = nr_deadline_in_ns(INT64_MIN);
    assert_true(nr_deadline_is_set(far));
    assert_true(nr_deadline_expired(far));
    nr_deadline far_ms = nr_deadline_in_ms(INT64_MIN);
    assert_true(nr_deadline_is_set(far_ms));
    assert_true(nr_deadline_expired(far_ms));
}

static void test_saturation(void **state)
{
    (void)state;
    assert_true(nr_deadline_in_ns(INT64_MAX).at_ns == NR_DEADLINE_NEVER);
    assert_true(nr_deadline_in_ns(INT64_MAX - 1).at_ns == NR_DEADLINE_NEVER);
    assert_true(nr_deadline_in_ms(INT64_MAX).at_ns == NR_DEADLINE_NEVER);
    assert_true(nr_deadline_in_ms(INT64_MAX / NR_NS_PER_MS + 1).at_ns == NR_DEADLINE_NEVER);
    /* Large but not overflowing values are added exactly. */
    int64_t before = nr_now_ns();
    nr_deadline d = nr_deadline_in_ns(INT64_MAX / 4);
    assert_true(d.at_ns >= before + INT64_MAX / 4);
    assert_true(d.at_ns < NR_DEADLINE_NEVER);
}

static void test_never(void **state)
{
    (void)state;
    nr_deadline n = nr_deadline_never();
    assert_true(n.at_ns == NR_DEADLINE_NEVER);
    assert_true(nr_deadline_is_set(n));
    assert_false(nr_deadline_expired(n));
    assert_true(nr_deadline_remaining_ns(n) == INT64_MAX);
}

static void test_unset(void **state)
{
    (void)state;
    nr_deadline u = {0};
    assert_false(nr_deadline_is_set(u));
    assert_false(nr_deadline_expired(u));
    assert_true(nr_deadline_remaining_ns(u) == INT64_MAX);
}

static void test_min(void **state)
{
    (void)state;
    nr_deadline a = {100};
    nr_deadline b = {200};
    nr_deadline u = {0};
    nr_deadline n = nr_deadline_never();
    assert_true(nr_deadline_min(a, b).at_ns == 100);
    assert_true(nr_deadline_min(b, a).at_ns == 100);
    assert_true(nr_deadline_min(a, u).at_ns == 100);
    assert_true(nr_deadline_min(u, b).at_ns == 200);
    assert_true(nr_deadline_min(n, b).at_ns == 200);
    assert_true(nr_deadline_min(a, n).at_ns == 100);
    /* Unset counts as never. */
    assert_true(nr_deadline_min(u, u).at_ns == NR_DEADLINE_NEVER);
    assert_true(nr_deadline_min(u, n).at_ns == NR_DEADLINE_NEVER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_now_is_monotonic_and_positive),
        cmocka_unit_test(test_sleep_lasts_at_least_requested),
        cmocka_unit_test(test_deadline_in_future),
        cmocka_unit_test(test_deadline_in_ms_scales),
        cmocka_unit_test(test_deadline_expires_after_sleep),
        cmocka_unit_test(test_zero_and_negative_are_expired),
        cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_never),
        cmocka_unit_test(test_unset),
        cmocka_unit_test(test_min),
    };
    return cmocka_run_group_tests_name("time", tests, NULL, NULL);
}

/* test_health_stages.c - the built-in judging stages of the health
 * pipeline: performance (a latency percentile over a window) and
 * utilization (pool saturation from statistics snapshots): thresholds
 * crossed both ways, windows by count and by age, minimum samples, counter
 * deltas and resets. Time is a fake clock. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "health_fixture.h"

/* ---- the performance stage ----------------------------------------------------------------- */

static nr_health_round_result latency_round(nr_hf *f, int64_t ms, int64_t step_ms)
{
    f->chk.latency_ms = ms;
    return nr_hf_round(f, NULL, step_ms);
}

static void test_performance_thresholds_both_ways(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "performance", NULL};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.cfg.performance = (nr_health_performance_config){
        .degraded_ms = 200, .unhealthy_ms = 1000, .percentile = 50, .window = 3, .min_samples = 2};
    nr_hf_create(&f);
    struct {
        int64_t ms;
        nr_health_state want;
        const char *reason;
    } steps[] = {
        {100, NR_HEALTH_UNKNOWN, "1 of 2 samples needed before judging"},
        {300, NR_HEALTH_HEALTHY, "p50 latency 100 ms over 2 samples"},
        {300, NR_HEALTH_DEGRADED, "p50 latency 300 ms over 3 samples (degraded at 200 ms)"},
        {1500, NR_HEALTH_DEGRADED, "p50 latency 300 ms over 3 samples (degraded at 200 ms)"},
        {1500, NR_HEALTH_UNHEALTHY, "p50 latency 1500 ms over 3 samples (unhealthy at 1000 ms)"},
        {50, NR_HEALTH_UNHEALTHY, "p50 latency 1500 ms over 3 samples (unhealthy at 1000 ms)"},
        {50, NR_HEALTH_HEALTHY, "p50 latency 50 ms over 3 samples"},
        {250, NR_HEALTH_HEALTHY, "p50 latency 50 ms over 3 samples"},
        {250, NR_HEALTH_DEGRADED, "p50 latency 250 ms over 3 samples (degraded at 200 ms)"},
        {10, NR_HEALTH_DEGRADED, "p50 latency 250 ms over 3 samples (degraded at 200 ms)"},
        {10, NR_HEALTH_HEALTHY, "p50 latency 10 ms over 3 samples"},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        nr_health_round_result r = latency_round(&f, steps[i].ms, 1000);
        if (r.stages[1].state != steps[i].want || strcmp(r.stages[1].reason, steps[i].reason))
            fail_msg("round %zu: %s \"%s\"", i + 1, nr_health_name(r.stages[1].state),
                     r.stages[1].reason);
        /* the round follows the stage, connectivity being healthy */
        nr_health_state round_state =
            steps[i].want == NR_HEALTH_UNKNOWN ? NR_HEALTH_HEALTHY : steps[i].want;
        assert_int_equal(r.state, round_state);
        if (round_state != NR_HEALTH_HEALTHY)
            assert_string_equal(r.reason, steps[i].reason);
    }
    nr_hf_destroy(&f);
}

static void test_performance_percentile(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "performance", NULL};
    double pcts[] = {90, 100, 1, 95};
    int64_t want_ms[] = {9, 10, 1, 10};
    for (size_t k = 0; k < 4; k++) {
        nr_hf f;
        nr_hf_init(&f, stages);
        f.cfg.performance = (nr_health_performance_config){.degraded_ms = 0,
                                                           .unhealthy_ms = 0,
                                                           .percentile = pcts[k],
                                                           .window = 10,
                                                           .min_samples = 10};
        nr_hf_create(&f);
        nr_health_round_result r;
        for (int64_t ms = 10; ms >= 1; ms--) /* out of order on purpose */
            r = latency_round(&f, ms, 1000);
        char want[64];
        snprintf(want, sizeof(want), "p%g latency %lld ms over 10 samples", pcts[k],
                 (long long)want_ms[k]);
        assert_string_equal(r.stages[1].reason, want);
        /* thresholds at 0 are off: never degraded */
        assert_int_equal(r.stages[1].state, NR_HEALTH_HEALTHY);
        nr_hf_destroy(&f);
    }
}

static void test_performance_window_ms(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "performance", NULL};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.cfg.performance = (nr_health_performance_config){.degraded_ms = 200,
                                                       .unhealthy_ms = 0,
                                                       .percentile = 90,
                                                       .window = 10,
                                                       .window_ms = 25000,
                                                       .min_samples = 1};
    nr_hf_create(&f);
    /* one round every 10 s: the slow first sample counts until it is 25 s old */
    assert_int_equal(latency_round(&f, 500, 10000).stages[1].state, NR_HEALTH_DEGRADED);
    assert_int_equal(latency_round(&f, 10, 10000).stages[1].state, NR_HEALTH_DEGRADED);
    nr_health_round_result r = latency_round(&f, 10, 10000);
    assert_string_equal(r.stages[1].reason,
                        "p90 latency 500 ms over 3 samples (degraded at 200 ms)");
    r = latency_round(&f, 10, 10000);
    assert_int_equal(r.stages[1].state, NR_HEALTH_HEALTHY);
    assert_string_equal(r.stages[1].reason, "p90 latency 10 ms over 3 samples");

    /* after a long pause only the new sample is in the window */
    f.clk.now += 60 * NR_NS_PER_S;
    r = latency_round(&f, 10, 1000);
    assert_string_equal(r.stages[1].reason, "p90 latency 10 ms over 1 sample");
    nr_hf_destroy(&f);
}

static void test_performance_min_samples(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "performance", NULL};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.cfg.performance.degraded_ms = 5;
    nr_hf_create(&f); /* min_samples 3 */
    f.chk.latency_ms = 100;
    /* rounds where connectivity checked nothing give no sample */
    f.chk.state = NR_HEALTH_UNKNOWN;
    nr_health_round_result r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_UNKNOWN);
    assert_string_equal(r.stages[1].reason, "0 of 3 samples needed before judging");
    f.chk.state = NR_HEALTH_HEALTHY;
    assert_string_equal(nr_hf_round(&f, NULL, 1000).stages[1].reason,
                        "1 of 3 samples needed before judging");
    assert_string_equal(nr_hf_round(&f, NULL, 1000).stages[1].reason,
                        "2 of 3 samples needed before judging");
    /* connectivity degraded still gives its latency */
    f.chk.state = NR_HEALTH_DEGRADED;
    r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.stages[1].state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.stages[1].reason, "p90 latency 100 ms over 3 samples (degraded at 5 ms)");
    assert_int_equal(f.chk.calls, 4); /* performance used connectivity's check */
    nr_hf_destroy(&f);
}

static void test_performance_times_its_own_check(void **state)
{
    (void)state;
    static const char *const stages[] = {"performance", NULL};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.cfg.performance = (nr_health_performance_config){
        .degraded_ms = 200, .unhealthy_ms = 2000, .percentile = 90, .window = 5, .min_samples = 1};
    nr_hf_create(&f);
    f.chk.latency_ms = -1;
    f.chk.advance_ms = 250;
    nr_health_round_result r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(f.chk.calls, 1);
    assert_int_equal(r.state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.reason, "p90 latency 250 ms over 1 sample (degraded at 200 ms)");
    assert_int_equal(r.stages[0].latency_ns, 250 * MS);

    /* a failed check of its own: unhealthy, and no sample */
    f.chk.rc = NR_EHEALTH;
    f.chk.reason = "connection reset";
    r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(r.reason, "health check failed: connection reset");
    f.chk.rc = NR_OK;
    f.chk.advance_ms = 0;
    f.chk.latency_ms = 20;
    r = nr_hf_round(&f, NULL, 1000);
    assert_string_equal(r.stages[0].reason,
                        "p90 latency 250 ms over 2 samples (degraded at 200 ms)");
    nr_hf_destroy(&f);
}

/* ---- the utilization stage ----------------------------------------------------------------- */

static const char *const util_only[] = {"utilization", NULL};

/* Every utilization threshold off but the ones a test sets. */
static void util_cfg(nr_hf *f, int64_t window, int64_t min_samples)
{
    f->cfg.utilization =
        (nr_health_utilization_config){.window = window, .min_samples = min_samples};
}

static void expect_util(nr_hf *f, const nr_pool_stats *st, nr_health_state want, const char *reason)
{
    nr_health_round_result r = nr_hf_round(f, st, 1000);
    if (r.stages[0].state != want || strcmp(r.stages[0].reason, reason) != 0)
        fail_msg("round %llu: %s \"%s\", wanted %s \"%s\"", (unsigned long long)r.round,
                 nr_health_name(r.stages[0].state), r.stages[0].reason, nr_health_name(want),
                 reason);
    assert_int_equal(r.state, want); /* the only stage */
}

static void test_utilization_in_use_both_ways(void **state)
{
    (void)state;
    nr_hf f;
    nr_hf_init(&f, util_only);
    util_cfg(&f, 3, 2);
    f.cfg.utilization.degraded_in_use = 0.5;
    f.cfg.utilization.unhealthy_in_use = 0.9;
    nr_hf_create(&f);
    nr_pool_stats st = NR_POOL_STATS(.max_size = 10, .in_use = 5);
    expect_util(&f, &st, NR_HEALTH_UNKNOWN, "1 of 2 rounds needed before judging");
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "in use 50% of max_size over 2 rounds (degraded at 50%)");
    st.in_use = 9;
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "in use 63.3% of max_size over 3 rounds (degraded at 50%)");
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "in use 76.7% of max_size over 3 rounds (degraded at 50%)");
    expect_util(&f, &st, NR_HEALTH_UNHEALTHY,
                "in use 90% of max_size over 3 rounds (unhealthy at 90%)");
    st.in_use = 1;
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "in use 63.3% of max_size over 3 rounds (degraded at 50%)");
    expect_util(&f, &st, NR_HEALTH_HEALTHY,
                "in use 36.7%, waiters 0, 0% of acquires waited, over 3 rounds");
    nr_hf_destroy(&f);

    /* a pool without a size (closed) is not in use at all */
    nr_hf_init(&f, util_only);
    util_cfg(&f, 1, 1);
    f.cfg.utilization.degraded_in_use = 0.5;
    nr_hf_create(&f);
    st = (nr_pool_stats)NR_POOL_STATS(.closed = true);
    expect_util(&f, &st, NR_HEALTH_HEALTHY,
                "in use 0%, waiters 0, 0% of acquires waited, over 1 round");
    nr_hf_destroy(&f);
}

static void test_utilization_waiters(void **state)
{
    (void)state;
    nr_hf f;
    nr_hf_init(&f, util_only);
    util_cfg(&f, 2, 1);
    f.cfg.utilization.degraded_waiters = 2;
    f.cfg.utilization.unhealthy_waiters = 5;
    nr_hf_create(&f);
    nr_pool_stats st = NR_POOL_STATS(.max_size = 10, .waiters = 1);
    expect_util(&f, &st, NR_HEALTH_HEALTHY,
                "in use 0%, waiters 1, 0% of acquires waited, over 1 round");
    st.waiters = 3;
    expect_util(&f, &st, NR_HEALTH_DEGRADED, "2 waiters on average over 2 rounds (degraded at 2)");
    st.waiters = 7;
    expect_util(&f, &st, NR_HEALTH_UNHEALTHY,
                "5 waiters on average over 2 rounds (unhealthy at 5)");
    st.waiters = 0;
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "3.5 waiters on average over 2 rounds (degraded at 2)");
    expect_util(&f, &st, NR_HEALTH_HEALTHY,
                "in use 0%, waiters 0, 0% of acquires waited, over 2 rounds");
    nr_hf_destroy(&f);
}

static void test_utilization_wait_deltas_and_reset(void **state)
{
    (void)state;
    nr_hf f;
    nr_hf_init(&f, util_only);
    util_cfg(&f, 3, 1);
    f.cfg.utilization.degraded_wait_ratio = 0.25;
    f.cfg.utilization.unhealthy_wait_ratio = 0.9;
    nr_hf_create(&f);
    /* the counters' history before the first round does not count: only growth */
    nr_pool_stats st = NR_POOL_STATS(.max_size = 10, .acquires = 1000, .waits = 900);
    expect_util(&f, &st, NR_HEALTH_HEALTHY,
                "in use 0%, waiters 0, 0% of acquires waited, over 1 round");
    st.acquires = 1100, st.waits = 910; /* +100, +10 */
    expect_util(&f, &st, NR_HEALTH_HEALTHY,
                "in use 0%, waiters 0, 10% of acquires waited, over 2 rounds");
    st.acquires = 1200, st.waits = 960; /* +100, +50: 60 of 200 */
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "30% of acquires waited over 3 rounds (degraded at 25%)");
    /* the pool was made again: its counters restarted, 20 and 20 are growth */
    st.acquires = 20, st.waits = 20; /* 80 of 220 */
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "36.4% of acquires waited over 3 rounds (degraded at 25%)");
    /* waits that ended without an acquire (timeouts) */
    st.waits = 40; /* +0, +20: (50 + 20 + 20) of (100 + 20 + 0) */
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "75% of acquires waited over 3 rounds (degraded at 25%)");
    st.waits = 140; /* 140 waits for 20 acquires: capped at all of them */
    expect_util(&f, &st, NR_HEALTH_UNHEALTHY,
                "100% of acquires waited over 3 rounds (unhealthy at 90%)");
    for (int i = 0; i < 2; i++) {
        st.acquires += 100;
        expect_util(&f, &st, i == 0 ? NR_HEALTH_UNHEALTHY : NR_HEALTH_DEGRADED,
                    i == 0 ? "100% of acquires waited over 3 rounds (unhealthy at 90%)"
                           : "50% of acquires waited over 3 rounds (degraded at 25%)");
    }
    st.acquires += 100;
    expect_util(&f, &st, NR_HEALTH_HEALTHY,
                "in use 0%, waiters 0, 0% of acquires waited, over 3 rounds");
    /* a round without statistics adds nothing */
    expect_util(&f, NULL, NR_HEALTH_HEALTHY,
                "in use 0%, waiters 0, 0% of acquires waited, over 3 rounds");
    nr_hf_destroy(&f);
}

static void test_utilization_window_ms_and_min_samples(void **state)
{
    (void)state;
    nr_hf f;
    nr_hf_init(&f, util_only);
    util_cfg(&f, 10, 2);
    f.cfg.utilization.window_ms = 15000;
    f.cfg.utilization.degraded_in_use = 0.5;
    nr_hf_create(&f);
    nr_pool_stats st = NR_POOL_STATS(.max_size = 4, .in_use = 4);
    expect_util(&f, NULL, NR_HEALTH_UNKNOWN, "0 of 2 rounds needed before judging");
    f.clk.now += 9000 * MS; /* rounds every 10 s from here */
    expect_util(&f, &st, NR_HEALTH_UNKNOWN, "1 of 2 rounds needed before judging");
    f.clk.now += 9000 * MS;
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "in use 100% of max_size over 2 rounds (degraded at 50%)");
    f.clk.now += 9000 * MS; /* the first is 20 s old: out */
    expect_util(&f, &st, NR_HEALTH_DEGRADED,
                "in use 100% of max_size over 2 rounds (degraded at 50%)");
    f.clk.now += 60000 * MS; /* a long pause: only the new one */
    expect_util(&f, &st, NR_HEALTH_UNKNOWN, "1 of 2 rounds needed before judging");
    nr_hf_destroy(&f);
}

/* ---- all three --------------------------------------------------------------------------- */

static void test_three_stages_together(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "performance", "utilization", NULL};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.cfg.performance.min_samples = 1;
    f.cfg.utilization.min_samples = 1;
    f.cfg.utilization.window = 1;
    nr_hf_create(&f); /* otherwise the defaults */
    nr_pool_stats st = NR_POOL_STATS(.max_size = 10, .in_use = 2);
    nr_health_round_result r = nr_hf_round(&f, &st, 10000);
    assert_int_equal(r.state, NR_HEALTH_HEALTHY);
    assert_string_equal(r.stages[0].reason, "");
    assert_string_equal(r.stages[1].reason, "p90 latency 10 ms over 1 sample");
    assert_string_equal(r.stages[2].reason,
                        "in use 20%, waiters 0, 0% of acquires waited, over 1 round");
    /* saturated: the round is degraded by utilization */
    st.in_use = 10;
    r = nr_hf_round(&f, &st, 10000);
    assert_int_equal(r.state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.stage, "utilization");
    assert_string_equal(r.reason, "in use 100% of max_size over 1 round (degraded at 90%)");
    /* slow as well: performance comes first */
    f.chk.latency_ms = 1500;
    r = nr_hf_round(&f, &st, 10000);
    assert_int_equal(r.state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.stage, "performance");
    assert_string_equal(r.reason, "p90 latency 1500 ms over 3 samples (degraded at 1000 ms)");
    assert_int_equal(r.stages[2].state, NR_HEALTH_DEGRADED);
    /* the backend is down: nothing after connectivity runs */
    f.chk.rc = NR_EHEALTH;
    f.chk.reason = "connection refused";
    r = nr_hf_round(&f, &st, 10000);
    assert_int_equal(r.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(r.stage, "connectivity");
    assert_false(r.stages[1].ran);
    assert_false(r.stages[2].ran);
    assert_int_equal(f.chk.calls, 4);
    nr_hf_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_performance_thresholds_both_ways, nr_hf_setup,
                                        nr_hf_teardown),
        cmocka_unit_test_setup_teardown(test_performance_percentile, nr_hf_setup, nr_hf_teardown),
        cmocka_unit_test_setup_teardown(test_performance_window_ms, nr_hf_setup, nr_hf_teardown),
        cmocka_unit_test_setup_teardown(test_performance_min_samples, nr_hf_setup, nr_hf_teardown),
        cmocka_unit_test_setup_teardown(test_performance_times_its_own_check, nr_hf_setup,
                                        nr_hf_teardown),
        cmocka_unit_test_setup_teardown(test_utilization_in_use_both_ways, nr_hf_setup,
                                        nr_hf_teardown),
        cmocka_unit_test_setup_teardown(test_utilization_waiters, nr_hf_setup, nr_hf_teardown),
        cmocka_unit_test_setup_teardown(test_utilization_wait_deltas_and_reset, nr_hf_setup,
                                        nr_hf_teardown),
        cmocka_unit_test_setup_teardown(test_utilization_window_ms_and_min_samples, nr_hf_setup,
                                        nr_hf_teardown),
        cmocka_unit_test_setup_teardown(test_three_stages_together, nr_hf_setup, nr_hf_teardown),
    };
    return cmocka_run_group_tests_name("health_stages", tests, NULL, NULL);
}

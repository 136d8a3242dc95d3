/*
 * test_lifecycle_prop.c - random event sequences against the lifecycle.
 *
 * Each walk starts at Created and applies random requested transitions
 * (sometimes an allowed one, sometimes any value, out-of-range ones
 * included) until it reaches a terminal state or runs out of steps. The seed
 * is printed; replay with NR_TEST_SEED=<seed>.
 */
#include "testutil.h"

#include <string.h>

/* Allowed targets of each state as a bit mask, written independently of the
 * library's table. */
#define B(s) (1u << (s))
static const unsigned allowed_mask[NR_LC_COUNT] = {
    [NR_LC_CREATED] = B(NR_LC_INITIALIZING) | B(NR_LC_FAILED),
    [NR_LC_INITIALIZING] = B(NR_LC_READY) | B(NR_LC_FAILED),
    [NR_LC_READY] = B(NR_LC_IN_USE) | B(NR_LC_IDLE) | B(NR_LC_MAINTENANCE) | B(NR_LC_DRAINING) |
                    B(NR_LC_CLEANUP) | B(NR_LC_FAILED),
    [NR_LC_IN_USE] = B(NR_LC_IDLE) | B(NR_LC_MAINTENANCE) | B(NR_LC_DRAINING) | B(NR_LC_CLEANUP) |
                     B(NR_LC_FAILED),
    [NR_LC_IDLE] = B(NR_LC_IN_USE) | B(NR_LC_MAINTENANCE) | B(NR_LC_DRAINING) | B(NR_LC_CLEANUP) |
                   B(NR_LC_FAILED),
    [NR_LC_MAINTENANCE] = B(NR_LC_READY) | B(NR_LC_IDLE) | B(NR_LC_IN_USE) | B(NR_LC_DRAINING) |
                          B(NR_LC_CLEANUP) | B(NR_LC_FAILED),
    [NR_LC_DRAINING] = B(NR_LC_CLEANUP) | B(NR_LC_FAILED),
    [NR_LC_CLEANUP] = B(NR_LC_TERMINATED) | B(NR_LC_FAILED),
    [NR_LC_TERMINATED] = 0,
    [NR_LC_FAILED] = 0,
};
#undef B

static bool in_range(int s)
{
    return s >= 0 && s < NR_LC_COUNT;
}

static bool allowed(int from, int to)
{
    return in_range(from) && in_range(to) && (allowed_mask[from] >> to & 1u);
}

/* A requested target: half the time an allowed one (when there is one),
 * otherwise any value in [-2, NR_LC_COUNT + 2). */
static int pick_target(nr_rng *r, int from)
{
    if (in_range(from) && allowed_mask[from] && nr_rng_chance(r, 1, 2)) {
        for (;;) {
            int to = (int)nr_rng_below(r, NR_LC_COUNT);
            if (allowed(from, to))
                return to;
        }
    }
    return (int)nr_rng_below(r, NR_LC_COUNT + 4) - 2;
}

static void test_random_walks(void **state)
{
    (void)state;
    nr_rng r;
    nr_rng_seed(&r, nr_test_seed("lifecycle_prop random_walks"));
    int walks = nr_test_iterations(2000);
    long visits[NR_LC_COUNT];
    long applied = 0, refused = 0;
    memset(visits, 0, sizeof(visits));
    for (int w = 0; w < walks; w++) {
        nr_lifecycle s = NR_LC_CREATED;
        visits[s]++;
        bool was_terminal = false;
        for (int step = 0; step < 64; step++) {
            int from = (int)s;
            int to = pick_target(&r, from);
            nr_error err;
            nr_error_clear(&err);
            int rc = nr_lifecycle_transition(&s, (nr_lifecycle)to, "walk", &err);
            if (!in_range((int)s))
                fail_msg("walk %d step %d: state left the valid range (%d)", w, step, (int)s);
            if (allowed(from, to)) {
                if (rc != NR_OK || (int)s != to)
                    fail_msg("walk %d step %d: %s -> %d refused (rc %d)", w, step,
                             nr_lifecycle_name((nr_lifecycle)from), to, rc);
                applied++;
                visits[s]++;
            } else {
                if (rc != NR_ESTATE || (int)s != from)
                    fail_msg("walk %d step %d: %s -> %d applied (rc %d)", w, step,
                             nr_lifecycle_name((nr_lifecycle)from), to, rc);
                NR_ASSERT_ERR(err, NR_ESTATE, "invalid state transition: ");
                refused++;
            }
            if (was_terminal && (int)s != from)
                fail_msg("walk %d step %d: left terminal state %s", w, step,
                         nr_lifecycle_name((nr_lifecycle)from));
            was_terminal = nr_lifecycle_is_terminal(s);
            /* Keep going a few steps after terminal to check it holds. */
            if (was_terminal && nr_rng_chance(&r, 1, 4))
                break;
        }
    }
    assert_true(applied > 0);
    assert_true(refused > 0);
    for (int s = 0; s < NR_LC_COUNT; s++) {
        if (visits[s] == 0)
            fail_msg("state %s never visited in %d walks", nr_lifecycle_name((nr_lifecycle)s),
                     walks);
    }
}

/* Breadth-first search over nr_lifecycle_can from Created: every state is
 * reachable, and Terminated or Failed is reachable from every state. */
static void test_every_state_reachable(void **state)
{
    (void)state;
    bool seen[NR_LC_COUNT] = {false};
    int queue[NR_LC_COUNT], head = 0, tail = 0;
    seen[NR_LC_CREATED] = true;
    queue[tail++] = NR_LC_CREATED;
    while (head < tail) {
        int from = queue[head++];
        for (int to = 0; to < NR_LC_COUNT; to++) {
            if (nr_lifecycle_can((nr_lifecycle)from, (nr_lifecycle)to) && !seen[to]) {
                seen[to] = true;
                queue[tail++] = to;
            }
        }
    }
    assert_int_equal(tail, NR_LC_COUNT);
    for (int s = 0; s < NR_LC_COUNT; s++)
        assert_true(seen[s]);

    /* No state is a dead end short of a terminal state. */
    for (int s = 0; s < NR_LC_COUNT; s++) {
        if (nr_lifecycle_is_terminal((nr_lifecycle)s))
            continue;
        assert_true(nr_lifecycle_can((nr_lifecycle)s, NR_LC_FAILED));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_walks),
        cmocka_unit_test(test_every_state_reachable),
    };
    return cmocka_run_group_tests_name("lifecycle_prop", tests, NULL, NULL);
}

/* test_tick.c - the pool's cached coarse clock (src/base/tick.h): never ahead
 * of CLOCK_MONOTONIC_COARSE, served from the cell while it is read often,
 * given up when nobody reads it, and restarted in a forked child. Only
 * eventual conditions are waited for (with generous limits), so a slow
 * machine cannot make a test fail. */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/tick.h"

#if defined(__SANITIZE_THREAD__)
#define CHILD_MAY_START_THREADS 0 /* TSan stops a forked child that does */
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHILD_MAY_START_THREADS 0
#endif
#endif
#ifndef CHILD_MAY_START_THREADS
#define CHILD_MAY_START_THREADS 1
#endif

static int cell_set(void)
{
    return atomic_load(&nr__tick.now_ns) != 0;
}

/* Read the tick clock in a tight loop until the cell serves it, for at
 * most limit_ns. 1 once it does. */
static int read_until_ticking(int64_t limit_ns)
{
    int64_t end = nr_now_ns() + limit_ns;
    while (nr_now_ns() < end) {
        for (int i = 0; i < 1000; i++)
            (void)nr__tick_ns();
        if (cell_set())
            return 1;
    }
    return 0;
}

static void *reader(void *arg)
{
    int *bad = arg;
    int64_t end = nr_now_ns() + 300 * NR_NS_PER_MS;
    while (nr_now_ns() < end) {
        int64_t t = nr__tick_ns();
        int64_t c = nr_now_coarse_ns();
        if (t <= 0 || t > c)
            (*bad)++;
    }
    return NULL;
}

static void test_never_ahead_of_the_coarse_clock(void **state)
{
    (void)state;
    pthread_t th[3];
    int bad[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &bad[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(bad[i], 0);
    }
}

static void test_served_from_the_cell_while_busy(void **state)
{
    (void)state;
    assert_true(read_until_ticking(10 * NR_NS_PER_S));
    /* What the cell holds is what a reader gets, and it moves on. */
    int64_t first = nr__tick_ns();
    int64_t end = nr_now_ns() + 10 * NR_NS_PER_S;
    while (nr__tick_ns() == first && nr_now_ns() < end)
        ;
    assert_true(nr__tick_ns() > first);
}

static void test_given_up_when_idle(void **state)
{
    (void)state;
    assert_true(read_until_ticking(10 * NR_NS_PER_S));
    /* Nobody reads: the ticker clears the cell and sleeps. */
    int64_t end = nr_now_ns() + 20 * NR_NS_PER_S;
    while (cell_set() && nr_now_ns() < end)
        nr_sleep_ns(10 * NR_NS_PER_MS);
    assert_false(cell_set());
    /* A single read now is a clock read, and still a good one. */
    int64_t t = nr__tick_ns();
    assert_true(t > 0 && t <= nr_now_coarse_ns());
    /* Reads close together wake it again. */
    assert_true(read_until_ticking(10 * NR_NS_PER_S));
}

static void test_forked_child_starts_its_own(void **state)
{
    (void)state;
    assert_true(read_until_ticking(10 * NR_NS_PER_S));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The parent's ticker did not come along: no stale cell here. */
        if (cell_set())
            _exit(2);
        int64_t t = nr__tick_ns();
        if (t <= 0 || t > nr_now_coarse_ns())
            _exit(3);
        if (CHILD_MAY_START_THREADS && !read_until_ticking(10 * NR_NS_PER_S))
            _exit(4);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_ahead_of_the_coarse_clock),
        cmocka_unit_test(test_served_from_the_cell_while_busy),
        cmocka_unit_test(test_given_up_when_idle),
        cmocka_unit_test(test_forked_child_starts_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* testing_consumer.c - the testing library as installed: a pool of the mock
 * type made, leased and ended with the helpers, then a short harness run
 * with faults whose report must say it passed. No test framework. */
#include <nebula/testing_harness.h>
#include <stdio.h>

int main(void)
{
    nr_mock m;
    nr_mock_init(&m);
    nr_pool *p = NULL;
    nr_error err = {0};
    nr_guard g = NR_GUARD_INIT;
    if (nr_test_pool_create(&p, "consumer", &m, 0, 2, &err) != NR_OK ||
        nr_test_acquire(p, &g, 60000, &err) != NR_OK) {
        fprintf(stderr, "testing consumer: %s\n", err.message);
        return 1;
    }
    if (nr_guard_release(&g) != NR_OK)
        return 1;
    nr_harness_options o = NR_HARNESS_OPTIONS(.pool = p, .mock = &m, .threads = 2, .ops = 20,
                                              .deadline_ms = 60000, .destroy = true);
    o.faults.validate_fail_permille = 100;
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    int rc = nr_harness_run(&o, &r, &err);
    char line[512];
    nr_harness_report_format(&r, line, sizeof(line));
    if (rc != NR_OK || !r.destroyed || nr_mock_check_clean(&m, &err) != NR_OK) {
        fprintf(stderr, "testing consumer: %s\n", line);
        return 1;
    }
    return 0;
}

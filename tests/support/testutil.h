/*
 * testutil.h - helpers shared by the tests (cmocka based).
 *
 * Property tests take their seed from NR_TEST_SEED (decimal) when set, or
 * from the clock; the seed is always printed, so a failing run is replayed
 * with NR_TEST_SEED=<seed>.
 */
#ifndef NR_TESTUTIL_H
#define NR_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
/* cmocka.h needs the three headers above first. */
#include <cmocka.h>

#include "nebula/resource.h"

/* The seed for this run (printed once, to stderr, with the test name). */
uint64_t nr_test_seed(const char *test_name);

/* A small, fast, seedable PRNG (splitmix64 + xoshiro256**). */
typedef struct nr_rng {
    uint64_t s[4];
} nr_rng;
void nr_rng_seed(nr_rng *r, uint64_t seed);
uint64_t nr_rng_next(nr_rng *r);
/* Uniform in [0, n) (n > 0). */
uint64_t nr_rng_below(nr_rng *r, uint64_t n);
/* true with probability num/den. */
int nr_rng_chance(nr_rng *r, unsigned num, unsigned den);

/* Sleep long enough that ms milliseconds have passed on the coarse clock
 * the pool stamps instances with (ms plus two of its ticks). */
void nr_test_sleep_past_ms(int64_t ms);

/* Number of property-test iterations: NR_TEST_ITERATIONS or the default. */
int nr_test_iterations(int default_count);

/* Remove the files in dir (one level, no subdirectories), then dir itself.
 * For the temp dirs tests make with mkdtemp; errors are ignored. */
void nr_test_remove_dir(const char *dir);

/*
 * Allocation fault injection: after nr_test_alloc_fail_after(k), the k-th
 * allocation from now (0-based) and every later one fail until
 * nr_test_alloc_reset(). nr_test_alloc_count() tells how many allocations ran
 * since the last reset, to size a loop over every fault point.
 */
void nr_test_alloc_install(void);
void nr_test_alloc_fail_after(long k);
void nr_test_alloc_reset(void);
long nr_test_alloc_count(void);
/* Blocks allocated through the installed allocator and not yet freed (a
 * block allocated before nr_test_alloc_install and freed after it counts -1). */
long nr_test_alloc_live(void);

/* Whether an error message contains needle (NULL needle: always). */
static inline int nr_test_msg_has(const char *message, const char *needle)
{
    return needle == NULL || strstr(message, needle) != NULL;
}

/* Assert that an nr_error carries code and that its message contains needle. */
#define NR_ASSERT_ERR(err, expect_code, needle)                                                    \
    do {                                                                                           \
        assert_int_equal((err).code, (expect_code));                                               \
        if (!nr_test_msg_has((err).message, (needle)))                                             \
            fail_msg("error message \"%s\" lacks \"%s\"", (err).message, (const char *)(needle));  \
    } while (0)

#endif

#define _GNU_SOURCE
#include "testutil.h"

#include <time.h>

#include <dirent.h>
#include <unistd.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/alloc.h"
#include "nebula/time.h"

uint64_t nr_test_seed(const char *test_name)
{
    const char *env = getenv("NR_TEST_SEED");
    uint64_t seed;
    if (env && *env)
        seed = strtoull(env, NULL, 10);
    else
        seed = (uint64_t)nr_now_ns() ^ ((uint64_t)rand() << 32);
    fprintf(stderr, "[seed] %s: NR_TEST_SEED=%llu\n", test_name, (unsigned long long)seed);
    return seed;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void nr_rng_seed(nr_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t nr_rng_next(nr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t nr_rng_below(nr_rng *r, uint64_t n)
{
    return n ? nr_rng_next(r) % n : 0;
}

int nr_rng_chance(nr_rng *r, unsigned num, unsigned den)
{
    return nr_rng_below(r, den) < num;
}

int nr_test_iterations(int default_count)
{
    const char *env = getenv("NR_TEST_ITERATIONS");
    if (env && *env) {
        int n = atoi(env);
        if (n > 0)
            return n;
    }
    return default_count;
}

static atomic_long alloc_count;
static atomic_long alloc_fail_at = -1;
static atomic_long alloc_live; /* blocks allocated and not yet freed */

static int should_fail(void)
{
    long n = atomic_fetch_add(&alloc_count, 1);
    long at = atomic_load(&alloc_fail_at);
    return at >= 0 && n >= at;
}

static void *t_malloc(size_t size, void *ud)
{
    (void)ud;
    void *p = should_fail() ? NULL : malloc(size);
    if (p)
        atomic_fetch_add(&alloc_live, 1);
    return p;
}

static void *t_realloc(void *p, size_t size, void *ud)
{
    (void)ud;
    void *q = should_fail() ? NULL : realloc(p, size);
    if (q && !p)
        atomic_fetch_add(&alloc_live, 1);
    return q;
}

static void t_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        atomic_fetch_sub(&alloc_live, 1);
    free(p);
}

void nr_test_alloc_install(void)
{
    static const nr_allocator a = {t_malloc, t_realloc, t_free, NULL};
    nr_set_allocator(&a);
    nr_test_alloc_reset();
}

void nr_test_alloc_fail_after(long k)
{
    atomic_store(&alloc_count, 0);
    atomic_store(&alloc_fail_at, k);
}

void nr_test_alloc_reset(void)
{
    atomic_store(&alloc_fail_at, -1);
    atomic_store(&alloc_count, 0);
}

long nr_test_alloc_count(void)
{
    return atomic_load(&alloc_count);
}

long nr_test_alloc_live(void)
{
    return atomic_load(&alloc_live);
}

void nr_test_sleep_past_ms(int64_t ms)
{
    struct timespec res = {0, 10 * 1000 * 1000};
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    int64_t tick = (int64_t)res.tv_sec * NR_NS_PER_S + res.tv_nsec;
    nr_sleep_ns(ms * NR_NS_PER_MS + 2 * tick);
}

void nr_test_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}
